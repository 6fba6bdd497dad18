//! The OpenID Connect code flow end to end over real TLS, without a browser: authorize on the
//! web listener, the certificate sign-in with the test PKI's leaf, "continue as", the code
//! redeemed with PKCE, then the ID token and userinfo checked for the claims each scope
//! releases. The `email` scope must release the user's mail (it was granted but never sent).

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use certgate_core::clock::{Clock, FixedClock};
use certgate_core::directory::{add_user, UserDraft};
use certgate_oidc::{ClientId, ClientKind, ConsentPrompt, NewClient, ScopeSet, TokenLifetimes};
use certgate_pki::UnixTime;
use certgate_server::app::{start, RunningServer};
use certgate_store::SqlStore;
use certgate_testpki::{TestPki, VALIDATION_TIME};
use common::{Backend, TestDatabase, TestServer, TrustedPki};
use serde_json::Value;

const ORIGIN: &str = "https://idp.test";
const REDIRECT_URI: &str = "https://app.test/callback";
const MAIL: &str = "alice.smith@corp.example";

struct Fixture {
    server: RunningServer<SqlStore>,
    server_certificate: Vec<u8>,
    pki: TestPki,
    _database: TestDatabase,
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
        add_user(
            &*store,
            UserDraft {
                mail: Some(MAIL.into()),
                display_name: Some("Alice Smith".into()),
                ..UserDraft::new("alice@corp.example")
            },
            now,
            "test",
        )
        .await
        .expect("user");
        certgate_oidc::register_client(
            &*store,
            NewClient {
                client_id: ClientId::parse("mail-app").expect("client id"),
                display_name: "Mail app".into(),
                kind: ClientKind::Public,
                redirect_uris: vec![REDIRECT_URI.into()],
                post_logout_redirect_uris: vec![],
                consent: ConsentPrompt::Skip,
                allowed_scopes: ScopeSet::parse("openid profile email").expect("scopes"),
                lifetimes: TokenLifetimes::default(),
                require_domain_password: false,
            },
            Duration::from_secs(3600),
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
                .web(ORIGIN, b"test passphrase", false)
                .config(),
        )
        .await
        .expect("server starts");
        Fixture {
            server,
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

    /// `https://localhost:<port>` of a listener: the URLs certgate writes name the public
    /// origin, so only their path and query are followed.
    fn url(&self, address: std::net::SocketAddr, location: &str) -> String {
        let path = location
            .strip_prefix(ORIGIN)
            .or_else(|| location.find("/certauth").map(|at| &location[at..]))
            .unwrap_or(location);
        format!("https://localhost:{}{path}", address.port())
    }

    /// Runs the code flow for `scope` and returns the token response and the userinfo.
    async fn sign_in(&self, scope: &str) -> (Value, Value) {
        let web = self.server.web_addr.expect("web listener");
        let certauth = self.server.certauth_addr.expect("certificate listener");
        let mut jar = Cookies::default();
        let verifier = "a-verifier-that-is-long-enough-for-rfc-7636-section-4-1-xyz";
        let challenge =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
        let authorize = format!(
            "/oauth2/authorize?response_type=code&client_id=mail-app&redirect_uri={}&scope={}&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
            encode(REDIRECT_URI),
            encode(scope)
        );
        let response = jar
            .send(self.client(false).get(self.url(web, &authorize)))
            .await;
        assert_eq!(response.status().as_u16(), 200);
        let body = response.text().await.expect("start page");
        let to_certauth = between(&body, "href=\"", "\"")
            .replace("&amp;", "&")
            .replace("&#38;", "&");
        let response = jar
            .send(
                self.client(true)
                    .get(self.url(certauth, &to_certauth))
                    .header("accept", "text/html"),
            )
            .await;
        assert_eq!(response.status().as_u16(), 303);
        let mut location = header(&response, "location");
        // The continue page, then "continue as" (shown or skipped), until the redirect to the
        // application carries the code.
        for _ in 0..4 {
            if location.starts_with(REDIRECT_URI) {
                break;
            }
            let response = jar
                .send(self.client(false).get(self.url(web, &location)))
                .await;
            if response.status().as_u16() == 303 {
                location = header(&response, "location");
                continue;
            }
            let page = response.text().await.expect("page");
            assert!(page.contains("/signin/confirm"), "{page}");
            let flow = between(&page, "name=\"flow\" value=\"", "\"").to_owned();
            let response = jar
                .send(
                    self.client(false)
                        .post(self.url(web, "/signin/confirm"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(format!("flow={}&decision=continue", encode(&flow))),
                )
                .await;
            assert_eq!(response.status().as_u16(), 303);
            location = header(&response, "location");
        }
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        let code = query(&location)["code"].clone();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", "mail-app"),
            ("code_verifier", verifier),
        ]
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&");
        let tokens = self
            .client(false)
            .post(self.url(web, "/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("token request")
            .text()
            .await
            .expect("token response");
        let tokens: Value = serde_json::from_str(&tokens).expect("token JSON");
        let access_token = tokens["access_token"].as_str().expect("access token");
        let userinfo = self
            .client(false)
            .get(self.url(web, "/oauth2/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("userinfo request")
            .text()
            .await
            .expect("userinfo");
        let userinfo: Value = serde_json::from_str(&userinfo).expect("userinfo JSON");
        (tokens, userinfo)
    }
}

/// The cookies the server set, sent back on every request (the flow's browser binding may
/// change at each step).
#[derive(Default)]
struct Cookies(HashMap<String, String>);

impl Cookies {
    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> reqwest::Response {
        if !self.0.is_empty() {
            let header: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", header.join("; "));
        }
        let response = request.send().await.expect("request");
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().expect("cookie");
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.0.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        response
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name]
        .to_str()
        .expect("header")
        .to_owned()
}

fn query(url: &str) -> HashMap<String, String> {
    let parsed = reqwest::Url::parse(url).expect("url");
    parsed.query_pairs().into_owned().collect()
}

fn encode(text: &str) -> String {
    reqwest::Url::parse_with_params("https://x.test/", [("v", text)])
        .expect("url")
        .query()
        .expect("query")
        .trim_start_matches("v=")
        .to_owned()
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {text}"))
        + start.len();
    let to = text[from..].find(end).expect("end") + from;
    &text[from..to]
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn id_token_claims(tokens: &Value) -> Value {
    let id_token = tokens["id_token"].as_str().expect("id token");
    let payload = id_token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

async fn email_scope_releases_the_mail(backend: Backend) {
    let fixture = Fixture::new(backend).await;
    let (tokens, userinfo) = fixture.sign_in("openid email").await;
    let claims = id_token_claims(&tokens);
    assert_eq!(claims["email"], MAIL, "{claims}");
    assert_eq!(userinfo["email"], MAIL, "{userinfo}");
    // Without the scope, no mail.
    let (tokens, userinfo) = fixture.sign_in("openid profile").await;
    let claims = id_token_claims(&tokens);
    assert!(claims.get("email").is_none(), "{claims}");
    assert!(userinfo.get("email").is_none(), "{userinfo}");
    assert_eq!(claims["name"], "Alice Smith", "{claims}");
}

#[tokio::test]
async fn email_scope_releases_the_mail_sqlite() {
    email_scope_releases_the_mail(Backend::Sqlite).await;
}

#[tokio::test]
async fn email_scope_releases_the_mail_postgres() {
    email_scope_releases_the_mail(Backend::Postgres).await;
}
