//! Browser binding and browser hardening over real TLS, without a browser (e2e/tests/
//! hardening.test.js drives chromium):
//!
//! - sign-in fixation: a flow's cookie planted in a victim's browser before the certificate
//!   step (or before the one-time code) is worthless after it, because each authentication
//!   step binds the flow to a new secret in the browser that took it;
//! - the flow cookie is `__Host-` prefixed, Secure, HttpOnly, SameSite=Lax, Path=/;
//! - every listener's answers carry Content-Security-Policy (no script, no framing),
//!   X-Frame-Options, nosniff, Referrer-Policy and, on HTTPS, HSTS and `no-store`;
//! - the auto-posting federation form runs certgate's static script, not an inline one.

mod common;

use std::sync::Arc;
use std::time::Duration;

use certgate_core::clock::{Clock, FixedClock};
use certgate_core::directory::{add_user, UserDraft, UserStore};
use certgate_core::federation::{add_relying_party, microsoft365, Protocol};
use certgate_core::totp::{code_at, TotpService, TotpSettings, WhenEnrolled};
use certgate_oidc::{
    register_client, ClientId, ClientKind, ConsentPrompt, NewClient, ScopeSet, TokenLifetimes,
    OPENID,
};
use certgate_pki::UnixTime;
use certgate_server::app::{start, RunningServer};
use certgate_store::SqlStore;
use certgate_testpki::{TestPki, VALIDATION_TIME};
use common::{Backend, TestDatabase, TestServer, TrustedPki};

const IDP_ORIGIN: &str = "https://idp.test";
const REDIRECT_URI: &str = "https://app.test/callback";
const PASSPHRASE: &[u8] = b"test passphrase";
const WSFED_START: &str =
    "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wfresh=0";

struct Fixture {
    server: RunningServer<SqlStore>,
    store: Arc<SqlStore>,
    clock: Arc<FixedClock>,
    server_certificate: Vec<u8>,
    pki: TestPki,
    _database: TestDatabase,
}

/// One HTTP answer: status, headers, body.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Set-Cookie` header (certgate sets at most one).
    fn set_cookie(&self) -> Option<&str> {
        self.header("set-cookie")
    }

    /// `name=value` of the `Set-Cookie` header, as the browser sends it back.
    fn cookie(&self) -> String {
        self.set_cookie()
            .unwrap_or_else(|| panic!("a Set-Cookie ({}): {}", self.status, self.body))
            .split(';')
            .next()
            .expect("pair")
            .to_owned()
    }

    /// The path and query of the `Location` header.
    fn location_path(&self) -> String {
        let location = self.header("location").expect("location");
        let rest = location
            .split_once("://")
            .map_or(location, |(_, rest)| rest);
        rest[rest.find('/').expect("path")..].to_owned()
    }
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        let TrustedPki {
            pki,
            store,
            database,
            ..
        } = TrustedPki::new(backend, "mallory@corp.example", |_| true).await;
        let now = UnixTime(VALIDATION_TIME);
        add_user(&*store, UserDraft::new("alice@corp.example"), now, "test")
            .await
            .expect("user");
        add_relying_party(
            &*store,
            microsoft365(Protocol::WsFed, Some("urn:certgate:corp".into())),
            now,
            "test",
        )
        .await
        .expect("Microsoft 365");
        register_client(
            &*store,
            NewClient {
                client_id: ClientId::parse("app").expect("id"),
                display_name: "App".into(),
                kind: ClientKind::Confidential,
                redirect_uris: vec![REDIRECT_URI.into()],
                post_logout_redirect_uris: vec![],
                // "Continue as" is shown: the sign-in waits there, in the victim's browser.
                consent: ConsentPrompt::Show,
                allowed_scopes: ScopeSet::of(&[OPENID]),
                lifetimes: TokenLifetimes::default(),
                require_domain_password: false,
            },
            Duration::from_secs(86_400),
            now,
            "test",
        )
        .await
        .expect("client");

        let (identity, server_certificate) = common::localhost_identity();
        let clock = Arc::new(FixedClock::at(VALIDATION_TIME));
        let server = start(
            Arc::clone(&store),
            Arc::clone(&clock) as Arc<dyn Clock>,
            TestServer::new()
                .certauth(identity)
                .web(IDP_ORIGIN, PASSPHRASE, true)
                .config(),
        )
        .await
        .expect("server starts");
        Fixture {
            server,
            store,
            clock,
            server_certificate,
            pki,
            _database: database,
        }
    }

    fn client(&self, with_certificate: bool) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_only([reqwest::Certificate::from_der(&self.server_certificate)
                .expect("server certificate")]);
        if with_certificate {
            let mut identity = pem("PRIVATE KEY", &self.pki.leaf.key_pkcs8_der);
            identity.push_str(&pem("CERTIFICATE", &self.pki.leaf.der));
            identity.push_str(&pem("CERTIFICATE", &self.pki.intermediate.der));
            builder = builder
                .identity(reqwest::Identity::from_pem(identity.as_bytes()).expect("identity"));
        }
        builder.build().expect("client")
    }

    fn web(&self, path_and_query: &str) -> String {
        let addr = self.server.web_addr.expect("web listener");
        format!("https://localhost:{}{path_and_query}", addr.port())
    }

    fn certauth(&self, path_and_query: &str) -> String {
        let addr = self.server.certauth_addr.expect("certificate listener");
        format!("https://localhost:{}{path_and_query}", addr.port())
    }

    async fn send(request: reqwest::RequestBuilder, cookie: Option<&str>) -> Answer {
        let request = match cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request
            .header("accept", "text/html")
            .send()
            .await
            .expect("request");
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        }
    }

    async fn get(&self, url: &str, cookie: Option<&str>, with_certificate: bool) -> Answer {
        Fixture::send(self.client(with_certificate).get(url), cookie).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)], cookie: &str) -> Answer {
        let body = form
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .client(false)
            .post(self.web(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        Fixture::send(request, Some(cookie)).await
    }

    /// An OpenID Connect sign-in started by someone (the attacker): the start page, and the
    /// flow ID from its link to the certificate sign-in listener.
    async fn start_oidc(&self, extra: &str) -> (Answer, String) {
        let started = self
            .get(
                &self.web(&format!(
                    "/oauth2/authorize?response_type=code&client_id=app&redirect_uri={}&scope=openid&state=s1&nonce=n1{extra}",
                    encode(REDIRECT_URI)
                )),
                None,
                false,
            )
            .await;
        assert_eq!(started.status, 200, "{}", started.body);
        let flow = between(&started.body, "certauth?flow=", "\"").to_owned();
        (started, flow)
    }

    /// The certificate step in the browser holding `cookie` (alice's certificate).
    async fn certificate_step(&self, flow: &str, cookie: &str) -> Answer {
        let answer = self
            .get(
                &self.certauth(&format!("/certauth?flow={flow}")),
                Some(cookie),
                true,
            )
            .await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        answer
    }

    async fn enroll_alice(&self) -> certgate_core::totp::TotpSecret {
        let user = self
            .store
            .user_by_upn("alice@corp.example")
            .await
            .expect("store")
            .expect("alice");
        let settings = TotpSettings::new(
            "Corp",
            common::store_sealing(&*self.store, PASSPHRASE).await,
        );
        let clock: Arc<dyn Clock> = Arc::clone(&self.clock) as Arc<dyn Clock>;
        let service = TotpService::new(&*self.store, &clock, &settings, "test");
        let enrollment = service
            .begin_enrollment(user.id.as_str(), "alice@corp.example", WhenEnrolled::Refuse)
            .await
            .expect("enrollment");
        service
            .confirm_enrollment(user.id.as_str(), &code_at(&enrollment.secret, clock.now()))
            .await
            .expect("confirmed");
        // A code is accepted once: the sign-in uses the next time step.
        self.clock.advance(30);
        enrollment.secret
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {text}"))
        + start.len();
    let to = text[from..].find(end).expect("end") + from;
    &text[from..to]
}

fn encode(text: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("v", text)])
        .expect("url")
        .query()
        .expect("query")
        .trim_start_matches("v=")
        .to_owned()
}

fn assert_refused_as_another_browser(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 403, "{what}: {}", answer.body);
    assert!(
        answer.body.contains("flow-not-this-browser"),
        "{what}: {}",
        answer.body
    );
}

/// `__Host-` (RFC 6265bis §4.1.3.2): Secure, Path=/, no Domain; and HttpOnly, SameSite=Lax.
fn assert_locked_down_flow_cookie(set_cookie: &str) {
    assert!(
        set_cookie.starts_with("__Host-certgate_flow_"),
        "{set_cookie}"
    );
    let attributes: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["path=/", "secure", "httponly", "samesite=lax"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} in {set_cookie}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "{set_cookie}"
    );
}

/// The attacker starts a sign-in and plants its cookie in the victim's browser; the victim
/// presents a certificate. The attacker's cookie then continues nothing: the certificate step
/// bound the flow to a new secret, which only the victim's browser received.
async fn a_cookie_planted_before_the_certificate_step_is_worthless_after_it(backend: Backend) {
    let fixture = Fixture::new(backend).await;
    let (started, flow) = fixture.start_oidc("").await;
    let planted = started.cookie();

    let signed_in = fixture.certificate_step(&flow, &planted).await;
    let rotated = signed_in.cookie();
    assert_locked_down_flow_cookie(signed_in.set_cookie().expect("cookie"));
    assert_eq!(
        rotated.split_once('=').map(|(name, _)| name),
        planted.split_once('=').map(|(name, _)| name),
        "the same cookie, with a new value"
    );
    assert_ne!(rotated, planted);
    let continue_path = signed_in.location_path();

    // The attacker, with the cookie from before the certificate step.
    let attacker = fixture
        .get(&fixture.web(&continue_path), Some(&planted), false)
        .await;
    assert_refused_as_another_browser(&attacker, "continue with the planted cookie");
    let attacker = fixture
        .post(
            "/signin/confirm",
            &[("flow", &flow), ("decision", "continue")],
            &planted,
        )
        .await;
    assert_refused_as_another_browser(&attacker, "confirm with the planted cookie");

    // The victim's browser goes on, and finishes.
    let victim = fixture
        .get(&fixture.web(&continue_path), Some(&rotated), false)
        .await;
    assert_eq!(victim.status, 200, "{}", victim.body);
    assert!(victim.body.contains("Continue as"), "{}", victim.body);
    let finished = fixture
        .post(
            "/signin/confirm",
            &[("flow", &flow), ("decision", "continue")],
            &rotated,
        )
        .await;
    assert_eq!(finished.status, 303, "{}", finished.body);
    assert!(finished
        .header("location")
        .expect("location")
        .starts_with(&format!("{REDIRECT_URI}?code=")));
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_cookie_planted_before_the_certificate_step_is_worthless_after_it() {
    a_cookie_planted_before_the_certificate_step_is_worthless_after_it(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_cookie_planted_before_the_certificate_step_is_worthless_after_it() {
    a_cookie_planted_before_the_certificate_step_is_worthless_after_it(Backend::Postgres).await;
}

/// The one-time code is an authentication step too: the cookie that carried the flow to the
/// code page is worthless once the code is in.
async fn a_cookie_from_before_the_one_time_code_is_worthless_after_it(backend: Backend) {
    let fixture = Fixture::new(backend).await;
    let secret = fixture.enroll_alice().await;
    let (started, flow) = fixture
        .start_oidc(&format!("&acr_values={}", encode(certgate_oidc::ACR_MFA)))
        .await;
    let signed_in = fixture.certificate_step(&flow, &started.cookie()).await;
    let before_code = signed_in.cookie();
    let code_page = fixture
        .get(
            &fixture.web(&signed_in.location_path()),
            Some(&before_code),
            false,
        )
        .await;
    assert_eq!(code_page.status, 200, "{}", code_page.body);
    assert!(
        code_page.body.contains("action=\"/signin/totp\""),
        "{}",
        code_page.body
    );

    let code = code_at(&secret, fixture.clock.now());
    let verified = fixture
        .post(
            "/signin/totp",
            &[("flow", &flow), ("code", &code)],
            &before_code,
        )
        .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(verified.body.contains("Continue as"), "{}", verified.body);
    assert_locked_down_flow_cookie(verified.set_cookie().expect("a new cookie after the code"));
    let after_code = verified.cookie();
    assert_ne!(after_code, before_code);

    let stale = fixture
        .post(
            "/signin/confirm",
            &[("flow", &flow), ("decision", "continue")],
            &before_code,
        )
        .await;
    assert_refused_as_another_browser(&stale, "confirm with the cookie from before the code");
    let finished = fixture
        .post(
            "/signin/confirm",
            &[("flow", &flow), ("decision", "continue")],
            &after_code,
        )
        .await;
    assert_eq!(finished.status, 303, "{}", finished.body);
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_cookie_from_before_the_one_time_code_is_worthless_after_it() {
    a_cookie_from_before_the_one_time_code_is_worthless_after_it(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_cookie_from_before_the_one_time_code_is_worthless_after_it() {
    a_cookie_from_before_the_one_time_code_is_worthless_after_it(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_cookie_is_host_prefixed_secure_http_only_and_lax() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let (started, _) = fixture.start_oidc("").await;
    assert_locked_down_flow_cookie(started.set_cookie().expect("cookie"));
    let federation = fixture.get(&fixture.web(WSFED_START), None, false).await;
    assert_eq!(federation.status, 200, "{}", federation.body);
    assert_locked_down_flow_cookie(federation.set_cookie().expect("cookie"));
    fixture.server.stop().await;
}

/// The headers of a page certgate writes on an HTTPS listener.
fn assert_hardened_page(answer: &Answer, what: &str) {
    let policy = answer
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    assert!(policy.contains("default-src 'none'"), "{what}: {policy}");
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{what}: {policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{what}: {policy}");
    assert!(!policy.contains("script-src"), "{what}: {policy}");
    assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        answer.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        answer.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(
        answer.header("strict-transport-security"),
        Some("max-age=31536000"),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listener_sends_the_browser_headers() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    // The web listener: the start page, an error page, the code and "continue as" pages.
    let (started, flow) = fixture.start_oidc("").await;
    assert_hardened_page(&started, "start page");
    let missing = fixture
        .get(&fixture.web("/signin/continue"), None, false)
        .await;
    assert_eq!(missing.status, 400);
    assert_hardened_page(&missing, "error page");
    let signed_in = fixture.certificate_step(&flow, &started.cookie()).await;
    assert_hardened_page(&signed_in, "certificate step's redirect");
    let confirm = fixture
        .get(
            &fixture.web(&signed_in.location_path()),
            Some(&signed_in.cookie()),
            false,
        )
        .await;
    assert_eq!(confirm.status, 200);
    assert_hardened_page(&confirm, "continue-as page");

    // What the handler says about caching stays (the JWKS), the rest is added.
    let jwks = fixture.get(&fixture.web("/oauth2/jwks"), None, false).await;
    assert_eq!(jwks.header("cache-control"), Some("max-age=300"));
    assert_eq!(jwks.header("x-content-type-options"), Some("nosniff"));
    assert!(jwks.header("strict-transport-security").is_some());

    // The certificate sign-in listener: the sign-in page without a certificate, the device
    // page.
    let refused = fixture
        .get(&fixture.certauth("/certauth"), None, false)
        .await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert_hardened_page(&refused, "certificate sign-in page");
    let device = fixture
        .get(&fixture.certauth("/my/device"), None, true)
        .await;
    assert_hardened_page(&device, "device page");

    // The plain HTTP listener: no HSTS over HTTP (RFC 6797 §8.1), the rest.
    let health = reqwest::get(format!("http://{}/healthz", fixture.server.local_addr))
        .await
        .expect("healthz");
    let headers = health.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"]
        .to_str()
        .expect("policy")
        .contains("frame-ancestors 'none'"));
    assert!(headers.get("strict-transport-security").is_none());
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auto_posting_form_runs_certgate_s_static_script_and_no_inline_one() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let started = fixture.get(&fixture.web(WSFED_START), None, false).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let flow = between(&started.body, "certauth?flow=", "\"").to_owned();
    let signed_in = fixture.certificate_step(&flow, &started.cookie()).await;
    let posted = fixture
        .get(
            &fixture.web(&signed_in.location_path()),
            Some(&signed_in.cookie()),
            false,
        )
        .await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert!(posted.body.contains("name=\"wresult\""), "{}", posted.body);
    // No event handler attribute, and the only script is certgate's file.
    assert!(!posted.body.contains("onload"), "{}", posted.body);
    assert_eq!(posted.body.matches("<script").count(), 1, "{}", posted.body);
    assert!(
        posted
            .body
            .contains("<script src=\"/static/autopost.js\"></script>"),
        "{}",
        posted.body
    );
    assert!(posted.body.contains("<button type=\"submit\""));
    let policy = posted.header("content-security-policy").expect("policy");
    assert!(policy.ends_with("script-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(posted.header("cache-control"), Some("no-store"));

    let script = fixture
        .get(&fixture.web("/static/autopost.js"), None, false)
        .await;
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .expect("type")
        .starts_with("text/javascript"));
    assert!(script
        .body
        .contains("getElementById(\"autopost\").submit()"));
    assert!(posted.body.contains("id=\"autopost\""));
    fixture.server.stop().await;
}
