//! Device provisioning through the running server, over real TLS: the self-service page
//! `/my/device` on the certificate sign-in listener (a rustls client-certificate handshake
//! per request, as `/certauth`), and `POST /api/v1/users/{idOrUpn}/deviceProfiles`. certgate's
//! own CA (initialised in the store, trusted, its CRLs cached) issues both the person's
//! sign-in certificate and the device certificates.
//!
//! Checked by real peers: the signed .mobileconfig verified by `openssl smime -verify` against
//! certgate's root and read back by Python's `plistlib`; the PKCS#12 opened by `openssl
//! pkcs12`. Refusals: no certificate, a cross-site submission (`Sec-Fetch-Site`, `Origin`), two
//! different passwords, a revoked certificate (no profile, the sign-in failure page), and a
//! person with an authenticator app who sends no code, a wrong one or a used one.

mod common;

use certgate_core::audit::AuditLog;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use certgate_core::admin_token::create_admin_token;
use certgate_core::authority::{
    BaseCrl, BuiltInCa, InitRequest, IssueRequest, OwnCaStore, PkiSettings, PublicationUrls,
    Revocation,
};
use certgate_core::clock::{Clock, FixedClock};
use certgate_core::crl_cache::{CachedCrl, CrlCacheStore, CrlFetchStatus, CrlKind};
use certgate_core::directory::{add_user, UserDraft};
use certgate_core::signin::{SignInLog, SignInQuery};
use certgate_core::trusted_ca::{add_cas, AuthorityType, CaSettings, TrustedCaStore};
use certgate_pki::{Crl, UnixTime};
use certgate_server::app::{start, RunningServer};
use certgate_server::crl_refresh::CrlSettings;
use certgate_store::SqlStore;
use common::{Backend, TestDatabase, TestServer};
use serde_json::Value;

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const ALICE: &str = "alice@contoso.example";
const ALICE_MAIL: &str = "alice.smith@contoso.example";
const HOST: &str = "mail.contoso.example";
const PASSWORD: &str = "phone password";

const PLIST_TO_JSON: &str = r#"
import base64, json, plistlib, sys
def conv(v):
    if isinstance(v, bytes):
        return {"$data": base64.b64encode(v).decode()}
    if isinstance(v, dict):
        return {k: conv(x) for k, x in v.items()}
    if isinstance(v, list):
        return [conv(x) for x in v]
    return v
with open(sys.argv[1], "rb") as f:
    print(json.dumps(conv(plistlib.load(f))))
"#;

struct Fixture {
    server: RunningServer<SqlStore>,
    store: Arc<SqlStore>,
    clock: Arc<FixedClock>,
    settings: PkiSettings,
    server_certificate: Vec<u8>,
    root_der: Vec<u8>,
    /// Alice's sign-in certificate: PEM key + certificate + issuing CA, and its serial.
    alice: (String, Vec<u8>),
    token: String,
    dir: tempfile::TempDir,
    _database: TestDatabase,
}

fn pem(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("base64"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Copies certgate's latest published base CRLs into the CRL cache, as a successful download
/// of them would.
async fn cache_published_crls(store: &SqlStore, now: UnixTime) {
    let cas = store.list_cas().await.expect("trusted CAs");
    for authority in store.authorities().await.expect("authorities") {
        let published = store
            .latest_published_crl(authority.id, CrlKind::Base)
            .await
            .expect("published CRL")
            .expect("a base CRL");
        let ca = cas
            .iter()
            .find(|ca| ca.certificate_der == authority.certificate_der)
            .expect("trusted");
        let crl = Crl::from_der(published.der.clone()).expect("CRL");
        store
            .put_cached_crl(
                &CachedCrl {
                    ca_id: ca.id,
                    kind: CrlKind::Base,
                    url: "http://pki.test/".into(),
                    crl_number: crl.crl_number().expect("number").to_vec(),
                    this_update: crl.this_update(),
                    next_update: crl.next_update().expect("next update"),
                    entry_count: crl.entry_count() as i64,
                    der: published.der,
                    etag: None,
                    last_modified: None,
                    fetched_at: now,
                }
                .to_cache(),
                &CrlFetchStatus {
                    ca_id: ca.id,
                    kind: CrlKind::Base,
                    last_attempt_at: now,
                    last_success_at: Some(now),
                    last_error: None,
                    consecutive_failures: 0,
                    next_attempt_at: UnixTime(now.0 + 3600),
                },
            )
            .await
            .expect("cache CRL");
    }
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        Fixture::with_settings(backend, |_| {}).await
    }

    /// The fixture with its CA settings changed by `adjust`.
    async fn with_settings(backend: Backend, adjust: impl FnOnce(&mut PkiSettings)) -> Fixture {
        let database = TestDatabase::new(backend);
        let store = Arc::new(SqlStore::connect(&database.url).await.expect("store"));
        let clock = Arc::new(FixedClock::at(NOW));
        let now = UnixTime(NOW);
        let mut settings = PkiSettings::new(
            PublicationUrls::new("http://pki.test"),
            Some(zeroize::Zeroizing::new(b"device test passphrase".to_vec())),
        );
        adjust(&mut settings);
        let ca = BuiltInCa::new(&*store, &*clock, &settings, "test");
        let [root, issuing] = ca
            .init(&InitRequest {
                organization: "Contoso".into(),
                key_algorithm: certgate_ca::KeyAlgorithm::EcdsaP256,
                root_validity_days: 3650,
                issuing_validity_days: 1825,
            })
            .await
            .expect("CA");
        add_cas(
            &*store,
            vec![
                root.certificate_der.clone(),
                issuing.certificate_der.clone(),
            ],
            |certificate| CaSettings {
                display_name: String::new(),
                authority_type: if certificate.is_self_issued() {
                    AuthorityType::Root
                } else {
                    AuthorityType::Intermediate
                },
                crl_url: None,
                delta_crl_url: None,
                exempt_from_crl_validation: false,
                send_as_issuer_hint: true,
            },
            now,
            "test",
        )
        .await
        .expect("trust");
        cache_published_crls(&store, now).await;
        for (upn, mail) in [(ALICE, Some(ALICE_MAIL)), ("bob@contoso.example", None)] {
            add_user(
                &*store,
                UserDraft {
                    mail: mail.map(str::to_owned),
                    display_name: Some("Alice Smith".into()),
                    ..UserDraft::new(upn)
                },
                now,
                "test",
            )
            .await
            .expect("user");
        }
        let issued = ca
            .issue(&IssueRequest {
                upn: ALICE.into(),
                email: Some(ALICE_MAIL.into()),
                common_name: None,
                validity_days: 365,
                policy_oids: Vec::new(),
                key_algorithm: certgate_ca::KeyAlgorithm::EcdsaP256,
                parent: None,
            })
            .await
            .expect("alice's sign-in certificate");
        let mut alice = pem("PRIVATE KEY", &issued.private_key_pkcs8_der);
        alice.push_str(&pem("CERTIFICATE", &issued.record.certificate_der));
        alice.push_str(&pem("CERTIFICATE", &issued.chain_der[0]));
        let (_, token) = create_admin_token(&*store, "device-test", now, "test")
            .await
            .expect("token");

        let (identity, server_certificate) = common::localhost_identity();
        let server = start(
            Arc::clone(&store),
            Arc::clone(&clock) as Arc<dyn Clock>,
            TestServer::new()
                .pki(settings.clone())
                .certauth(identity)
                .config(),
        )
        .await
        .expect("server starts");
        Fixture {
            server,
            store,
            clock,
            settings,
            server_certificate,
            root_der: root.certificate_der,
            alice: (alice, issued.record.serial),
            token: token.expose().to_owned(),
            dir: tempfile::tempdir().expect("temp dir"),
            _database: database,
        }
    }

    fn client(&self, with_certificate: bool) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_only([reqwest::Certificate::from_der(&self.server_certificate)
                .expect("server certificate")]);
        if with_certificate {
            builder = builder
                .identity(reqwest::Identity::from_pem(self.alice.0.as_bytes()).expect("identity"));
        }
        builder.build().expect("client")
    }

    fn url(&self, path: &str) -> String {
        let addr = self.server.certauth_addr.expect("certificate listener");
        format!("https://localhost:{}{path}", addr.port())
    }

    /// `POST /my/device` with the form and extra headers: status, headers, body.
    async fn submit(
        &self,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let body: String = form
            .iter()
            .map(|(name, value)| format!("{name}={}", value.replace(' ', "+")))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = self
            .client(true)
            .post(self.url("/my/device"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (
            status,
            headers,
            response.bytes().await.expect("body").to_vec(),
        )
    }

    /// Every certificate certgate's CA has issued, oldest first.
    async fn issued(&self) -> Vec<certgate_core::authority::IssuedRecord> {
        self.store.issued_certificates().await.expect("issued")
    }

    fn write(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    /// Revokes alice's sign-in certificate (and with it what it was used to get), publishes
    /// and caches the CRLs, and rebuilds the server's validation state.
    async fn revoke_alice(&self) -> Revocation {
        let ca = BuiltInCa::new(&*self.store, &*self.clock, &self.settings, "test");
        let revocation = ca
            .revoke(&self.alice.1, "keyCompromise")
            .await
            .expect("revoke");
        self.clock.advance(60);
        ca.publish_crls(BaseCrl::Always).await.expect("publish");
        cache_published_crls(&self.store, self.clock.now()).await;
        self.server.crl.rebuild().await.expect("rebuild");
        revocation
    }
}

fn plist(path: &Path) -> Value {
    let output = Command::new("python3")
        .args(["-c", PLIST_TO_JSON])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "plistlib: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn openssl(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs")
}

/// The end entity's subjectAltName in `p12` as OpenSSL prints it, after opening the file with
/// `password`.
fn pkcs12_san(dir: &Path, p12: &[u8], password: &str) -> String {
    let path = dir.join("device.p12");
    std::fs::write(&path, p12).expect("write");
    let leaf = dir.join("device-leaf.pem");
    let pass = format!("pass:{password}");
    let output = openssl(&[
        "pkcs12".as_ref(),
        "-in".as_ref(),
        path.as_os_str(),
        "-passin".as_ref(),
        pass.as_ref(),
        "-nokeys".as_ref(),
        "-clcerts".as_ref(),
        "-out".as_ref(),
        leaf.as_os_str(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = openssl(&[
        "x509".as_ref(),
        "-in".as_ref(),
        leaf.as_os_str(),
        "-noout".as_ref(),
        "-ext".as_ref(),
        "subjectAltName".as_ref(),
    ]);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn form(platform: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("platform", platform),
        ("eas_host", HOST),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
    ]
}

async fn self_service_page_issues_a_signed_profile_to_the_signed_in_user(fixture: Fixture) {
    // The form, after a certificate sign-in.
    let response = fixture
        .client(true)
        .get(fixture.url("/my/device"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.expect("page");
    assert!(page.contains(ALICE), "{page}");
    assert!(page.contains("name=\"password_confirm\""), "{page}");

    // Without a certificate: the sign-in failure page.
    let response = fixture
        .client(false)
        .get(fixture.url("/my/device"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status().as_u16(), 401);
    assert!(response
        .text()
        .await
        .expect("page")
        .contains("no-certificate"));

    // Cross-site submissions are refused before anything is issued.
    for header in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let (status, _, body) = fixture.submit(&form("ios"), &[header]).await;
        assert_eq!(status, 403, "{header:?}");
        assert!(
            String::from_utf8_lossy(&body).contains("device-cross-site-request"),
            "{header:?}"
        );
    }
    let (status, _, body) = fixture
        .submit(
            &[
                ("platform", "ios"),
                ("eas_host", HOST),
                ("password", PASSWORD),
                ("password_confirm", "another password"),
            ],
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("device-p12-password-mismatch"));

    // The same origin: a signed profile for alice, and only alice.
    let origin = fixture.url("");
    let (status, headers, body) = fixture
        .submit(
            &form("ios"),
            &[("sec-fetch-site", "same-origin"), ("origin", &origin)],
        )
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/x-apple-aspen-config");
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{ALICE}.mobileconfig\"")
    );
    let signed = fixture.write("alice.mobileconfig", &body);
    let root = fixture.write("root.pem", pem("CERTIFICATE", &fixture.root_der).as_bytes());
    let plain = fixture.dir.path().join("alice.plist");
    let output = openssl(&[
        "smime".as_ref(),
        "-verify".as_ref(),
        "-inform".as_ref(),
        "DER".as_ref(),
        "-in".as_ref(),
        signed.as_os_str(),
        "-CAfile".as_ref(),
        root.as_os_str(),
        "-purpose".as_ref(),
        "any".as_ref(),
        "-out".as_ref(),
        plain.as_os_str(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let profile = plist(&plain);
    assert_eq!(profile["PayloadType"], "Configuration");
    let account = &profile["PayloadContent"][1];
    assert_eq!(account["UserName"], ALICE);
    assert_eq!(account["EmailAddress"], ALICE_MAIL);
    assert_eq!(account["Host"], HOST);
    assert_eq!(
        account["PayloadCertificateUUID"],
        profile["PayloadContent"][0]["PayloadUUID"]
    );
    let p12 = base64::engine::general_purpose::STANDARD
        .decode(
            profile["PayloadContent"][0]["PayloadContent"]["$data"]
                .as_str()
                .expect("data"),
        )
        .expect("base64");
    let san = pkcs12_san(fixture.dir.path(), &p12, PASSWORD);
    assert!(san.contains(ALICE) && san.contains(ALICE_MAIL), "{san}");

    // The bare PKCS#12.
    let (status, headers, body) = fixture
        .submit(&form("pkcs12"), &[("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-pkcs12");
    assert!(pkcs12_san(fixture.dir.path(), &body, PASSWORD).contains(ALICE));

    // Every request was a sign-in, in the sign-in log under the page's name.
    let signins = fixture
        .store
        .signins(&SignInQuery {
            limit: 100,
            ..SignInQuery::default()
        })
        .await
        .expect("sign-ins");
    assert!(signins
        .iter()
        .filter(|s| s.application == "device-provisioning")
        .all(|s| s.user.as_deref() == Some(ALICE) || s.reason_code == "no-certificate"));
    assert!(
        signins
            .iter()
            .filter(|s| s.application == "device-provisioning")
            .count()
            >= 5
    );

    // Both device certificates record the certificate that got them.
    let issued = fixture.issued().await;
    let children: Vec<_> = issued
        .iter()
        .filter(|r| r.parent.as_ref().map(|p| &p.serial) == Some(&fixture.alice.1))
        .collect();
    assert_eq!(children.len(), 2, "{issued:?}");
    for child in &children {
        let parent = child.parent.as_ref().expect("parent");
        assert!(parent.is_issued_here(), "{parent:?}");
        assert!(parent.issuer.contains("Issuing CA"), "{parent:?}");
    }

    // Revoked: the sign-in fails, no profile; the device certificates it got are revoked too.
    let revocation = fixture.revoke_alice().await;
    assert!(revocation.named_revoked_now);
    let mut revoked: Vec<_> = revocation
        .descendants
        .iter()
        .map(|r| r.serial.clone())
        .collect();
    let mut expected: Vec<_> = children.iter().map(|r| r.serial.clone()).collect();
    revoked.sort();
    expected.sort();
    assert_eq!(revoked, expected);
    for serial in &expected {
        let record = fixture
            .store
            .find_issued(serial)
            .await
            .expect("find")
            .expect("device certificate");
        assert_eq!(record.revocation_reason.as_deref(), Some("keyCompromise"));
    }
    let (status, headers, body) = fixture
        .submit(&form("ios"), &[("sec-fetch-site", "same-origin")])
        .await;
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("cert-revoked"), "{text}");
    assert!(headers["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/html"));
    let response = fixture
        .client(true)
        .get(fixture.url("/my/device"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status().as_u16(), 403);
}

async fn admin_api_answers_with_the_device_file(fixture: Fixture) {
    let call = |body: Value, user: &str| {
        let request = fixture
            .client(false)
            .post(fixture.url(&format!("/api/v1/users/{user}/deviceProfiles")))
            .bearer_auth(&fixture.token)
            .header("content-type", "application/json")
            .body(body.to_string());
        async move { request.send().await.expect("request") }
    };
    let response = call(
        serde_json::json!({"platform": "android", "easHost": HOST, "pkcs12Password": PASSWORD}),
        ALICE,
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let serial = response.headers()["x-certgate-certificate-serial"]
        .to_str()
        .expect("serial")
        .to_owned();
    let document: Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("JSON");
    assert_eq!(document["type"], "exchange-activesync");
    assert_eq!(document["user"], ALICE);
    assert_eq!(document["certificate"]["serialNumber"], serial.as_str());
    let p12 = base64::engine::general_purpose::STANDARD
        .decode(document["certificate"]["pkcs12"].as_str().expect("pkcs12"))
        .expect("base64");
    assert!(pkcs12_san(fixture.dir.path(), &p12, PASSWORD).contains(ALICE));

    // An unsigned iOS profile with the password embedded.
    let response = call(
        serde_json::json!({"platform": "ios", "easHost": HOST, "pkcs12Password": PASSWORD, "embedPassword": true}),
        "bob@contoso.example",
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let path = fixture.write(
        "bob.mobileconfig",
        &response.bytes().await.expect("profile"),
    );
    let profile = plist(&path);
    assert_eq!(profile["PayloadContent"][0]["Password"], PASSWORD);
    assert_eq!(
        profile["PayloadContent"][1]["EmailAddress"],
        "bob@contoso.example"
    );

    // The service's refusal (provisioning's rules are certgate-core's tests/device.rs), the
    // API's own (the platform's name) and the directory's (no such user), each with its status.
    for (body, user, status, code) in [
        (
            serde_json::json!({"platform": "windows", "pkcs12Password": PASSWORD}),
            ALICE,
            400,
            "device-platform-invalid",
        ),
        (
            serde_json::json!({"platform": "ios", "easHost": HOST, "pkcs12Password": "short"}),
            ALICE,
            400,
            "device-p12-password-too-short",
        ),
        (
            serde_json::json!({"platform": "pkcs12", "pkcs12Password": PASSWORD}),
            "nobody@contoso.example",
            404,
            "user-not-found",
        ),
    ] {
        let response = call(body, user).await;
        assert_eq!(response.status().as_u16(), status, "{code}");
        let error: Value =
            serde_json::from_slice(&response.bytes().await.expect("body")).expect("error");
        assert_eq!(error["error"]["code"], code);
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{error}"
        );
        if code == "device-p12-password-too-short" {
            assert_eq!(
                error["error"]["message"],
                "the PKCS#12 password has 5 characters; use at least 8: it is all that protects the private key in the file"
            );
        }
    }
    let audits = fixture.store.audit_events(50).await.expect("audit");
    let profiles: Vec<_> = audits
        .iter()
        .filter(|e| e.action == "device.profile")
        .collect();
    assert_eq!(profiles.len(), 2, "{profiles:?}");
    assert!(profiles.iter().all(|e| e.actor == "api:device-test"));
    assert!(profiles
        .iter()
        .any(|e| e.detail.contains("PKCS#12 password embedded")));
}

/// A person with an authenticator app enters its code with the form: without it or with a
/// wrong one, nothing is issued; the code that counts is checked with the CA's key passphrase
/// (this server runs no web listener). That a code is accepted once is certgate-core's
/// tests/totp.rs.
async fn self_service_page_asks_for_the_authenticator_code_of_a_person_who_has_one(
    fixture: Fixture,
) {
    use certgate_core::directory::UserStore;
    use certgate_core::totp::{code_at, TotpService, TotpSettings, WhenEnrolled};
    let alice = fixture
        .store
        .user_by_upn(ALICE)
        .await
        .expect("store")
        .expect("alice");
    let settings = TotpSettings::new(
        "Contoso",
        common::store_sealing(&*fixture.store, b"device test passphrase").await,
    );
    let clock: Arc<dyn Clock> = Arc::clone(&fixture.clock) as Arc<dyn Clock>;
    let service = TotpService::new(&*fixture.store, &clock, &settings, "test");
    let enrollment = service
        .begin_enrollment(alice.id.as_str(), ALICE, WhenEnrolled::Refuse)
        .await
        .expect("enrollment");
    service
        .confirm_enrollment(alice.id.as_str(), &code_at(&enrollment.secret, clock.now()))
        .await
        .expect("confirmed");
    // The confirming code is used up: the page gets the next time step's.
    fixture.clock.advance(30);
    let issued_before = fixture.issued().await.len();

    let page = fixture
        .client(true)
        .get(fixture.url("/my/device"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("page");
    assert!(page.contains("name=\"totp_code\""), "{page}");

    let code = code_at(&enrollment.secret, clock.now());
    let wrong = format!(
        "{:06}",
        (code.parse::<u32>().expect("digits") + 1) % 1_000_000
    );
    let same_origin = [("sec-fetch-site", "same-origin")];
    for (extra, status, reason) in [
        (None, 401, "device-second-factor-required"),
        (Some(wrong.as_str()), 401, "totp-invalid"),
    ] {
        let mut fields = form("pkcs12");
        if let Some(extra) = extra {
            fields.push(("totp_code", extra));
        }
        let (got, _, body) = fixture.submit(&fields, &same_origin).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(got, status, "{reason}: {body}");
        assert!(body.contains(reason), "{reason}: {body}");
    }
    assert_eq!(
        fixture.issued().await.len(),
        issued_before,
        "a refused code issues nothing"
    );

    let mut fields = form("pkcs12");
    fields.push(("totp_code", code.as_str()));
    let (status, headers, body) = fixture.submit(&fields, &same_origin).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/x-pkcs12");
    assert!(pkcs12_san(fixture.dir.path(), &body, PASSWORD).contains(ALICE));
    assert_eq!(fixture.issued().await.len(), issued_before + 1);
}

/// A user holds at most `max_derived_certificates_per_user` live certificates obtained with a
/// certificate: the page refuses one more with the reason, and a revocation frees a place.
async fn self_service_page_stops_at_the_per_user_limit(backend: Backend) {
    let fixture = Fixture::with_settings(backend, |settings| {
        settings.max_derived_certificates_per_user = 2;
    })
    .await;
    let same_origin = [("sec-fetch-site", "same-origin")];
    for _ in 0..2 {
        let (status, _, body) = fixture.submit(&form("pkcs12"), &same_origin).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    let (status, _, body) = fixture.submit(&form("pkcs12"), &same_origin).await;
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("pki-derived-certificate-limit"), "{page}");
    assert!(
        page.contains("pki revoke"),
        "the page says what frees a place: {page}"
    );

    let devices: Vec<_> = fixture
        .issued()
        .await
        .into_iter()
        .filter(|record| record.parent.is_some())
        .collect();
    assert_eq!(devices.len(), 2, "nothing recorded for the refused request");
    let audits = fixture.store.audit_events(50).await.expect("audit");
    assert!(
        audits.iter().any(|e| e.action == "pki.issue"
            && e.outcome == "pki-derived-certificate-limit"
            && e.actor == format!("self-service:{ALICE}")),
        "the refusal is on record: {audits:?}"
    );
    BuiltInCa::new(&*fixture.store, &*fixture.clock, &fixture.settings, "test")
        .revoke(&devices[0].serial, "superseded")
        .await
        .expect("revoke a device certificate");
    let (status, _, body) = fixture.submit(&form("pkcs12"), &same_origin).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_service_page_stops_at_the_per_user_limit_on_sqlite() {
    self_service_page_stops_at_the_per_user_limit(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_service_page_stops_at_the_per_user_limit_on_postgres() {
    self_service_page_stops_at_the_per_user_limit(Backend::Postgres).await;
}

macro_rules! on_both_backends {
    ($($behaviour:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $behaviour(Fixture::new(Backend::Sqlite).await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            $behaviour(Fixture::new(Backend::Postgres).await).await;
        }
    )+};
}

on_both_backends! {
    self_service_page_issues_a_signed_profile_to_the_signed_in_user
        => self_service_page_issues_a_signed_profile_to_the_signed_in_user_on_sqlite,
           self_service_page_issues_a_signed_profile_to_the_signed_in_user_on_postgres;
    admin_api_answers_with_the_device_file
        => admin_api_answers_with_the_device_file_on_sqlite,
           admin_api_answers_with_the_device_file_on_postgres;
    self_service_page_asks_for_the_authenticator_code_of_a_person_who_has_one
        => self_service_page_asks_for_the_authenticator_code_on_sqlite,
           self_service_page_asks_for_the_authenticator_code_on_postgres;
    a_foreign_certificate_derives_nothing_by_default
        => a_foreign_certificate_derives_nothing_by_default_on_sqlite,
           a_foreign_certificate_derives_nothing_by_default_on_postgres;
}

/// Without certgate's CA configured the API says so instead of failing later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_without_the_ca_answers_503() {
    use certgate_server::admin_api::{self, AdminContext};
    use certgate_server::crl_refresh::CrlService;
    use certgate_server::HttpCrlFetcher;
    let database = TestDatabase::new(Backend::Sqlite);
    let store = Arc::new(SqlStore::connect(&database.url).await.expect("store"));
    add_user(&*store, UserDraft::new(ALICE), UnixTime(NOW), "test")
        .await
        .expect("user");
    let (_, token) = create_admin_token(&*store, "t", UnixTime(NOW), "test")
        .await
        .expect("token");
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::at(NOW));
    let crl = Arc::new(CrlService::new(
        Arc::clone(&store),
        HttpCrlFetcher::new().expect("fetcher"),
        Arc::clone(&clock),
        Arc::new(certgate_core::validation_state::SharedState::default()),
        CrlSettings::default(),
        "server",
    ));
    let context = Arc::new(AdminContext::new(Arc::clone(&store), clock, crl));
    let app = axum::Router::new().nest("/api/v1", admin_api::routes(context));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/users/{ALICE}/deviceProfiles"))
        .bearer_auth(token.expose())
        .header("content-type", "application/json")
        .body(serde_json::json!({"platform": "pkcs12", "pkcs12Password": PASSWORD}).to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 503);
    let error: Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("error");
    assert_eq!(error["error"]["code"], "device-provisioning-unavailable");
}

// ---- Certificates of another trusted CA (issue 12 item 2) ----------------------------------

const FOREIGN_ROOT_CRL: &str = "/crl/fabrikam-root.crl";
const FOREIGN_ISSUING_CRL: &str = "/crl/fabrikam-issuing.crl";
/// The foreign certificate ends 90 days after NOW, before a device certificate's default year.
const FOREIGN_NOT_AFTER: i64 = NOW + 90 * 86_400;

/// A CRL server on 127.0.0.1 that answers each path with the bytes last put there.
struct CrlServer {
    base: String,
    files: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CrlServer {
    async fn start() -> CrlServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let files: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>> =
            Arc::default();
        let served = Arc::clone(&files);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let served = Arc::clone(&served);
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let Some(request) = common::read_request(&mut socket).await else {
                        return;
                    };
                    let file = served.lock().expect("files").get(&request.path).cloned();
                    let (head, body) = match file {
                        Some(der) => (
                            common::response_head(
                                "200 OK",
                                &[
                                    "Content-Type: application/pkix-crl".to_owned(),
                                    format!("Content-Length: {}", der.len()),
                                ],
                            ),
                            der,
                        ),
                        None => (
                            common::response_head("404 Not Found", &["Content-Length: 0"]),
                            Vec::new(),
                        ),
                    };
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        CrlServer { base, files, task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn put(&self, path: &str, der: Vec<u8>) {
        self.files
            .lock()
            .expect("files")
            .insert(path.to_owned(), der);
    }
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fabrikam's PKI, trusted next to certgate's, with alice's certificate from it.
struct ForeignCa {
    pki: certgate_testpki::TestPki,
    issuing_ca: certgate_core::trusted_ca::CaId,
    /// Alice's Fabrikam certificate: PEM key + certificate + issuing CA.
    alice: String,
    crls: CrlServer,
}

fn fabrikam_crl(issuer: &certgate_testpki::Issued, number: u64, revoked: Vec<Vec<u8>>) -> Vec<u8> {
    certgate_testpki::TestPki::crl(
        issuer,
        &certgate_testpki::CrlSpec {
            crl_number: number,
            extra_revoked: revoked,
            ..certgate_testpki::CrlSpec::default()
        },
    )
    .expect("Fabrikam CRL")
}

/// Trusts Fabrikam's root and issuing CA with CRL URLs on a local server, and fetches their
/// CRLs through the server's CRL service (which rebuilds the validation state).
async fn trust_fabrikam(fixture: &Fixture) -> ForeignCa {
    use certgate_testpki::{at, ChainSpec, KeyKind, TestPki};
    let crls = CrlServer::start().await;
    let pki = TestPki::three_level(&ChainSpec {
        ca_name_prefix: "Fabrikam".into(),
        leaf_common_name: "Alice Smith".into(),
        upn: Some(ALICE.into()),
        email: Some(ALICE_MAIL.into()),
        not_after: at(FOREIGN_NOT_AFTER),
        leaf_crl_url: Some(crls.url(FOREIGN_ISSUING_CRL)),
        intermediate_crl_url: Some(crls.url(FOREIGN_ROOT_CRL)),
        serial_seed: 0xFAB0_0001,
        ..ChainSpec::with_key(KeyKind::EcdsaP256)
    })
    .expect("Fabrikam PKI");
    crls.put(FOREIGN_ROOT_CRL, fabrikam_crl(&pki.root, 1, Vec::new()));
    crls.put(
        FOREIGN_ISSUING_CRL,
        fabrikam_crl(&pki.intermediate, 1, Vec::new()),
    );
    let cas = add_cas(
        &*fixture.store,
        vec![pki.root.der.clone(), pki.intermediate.der.clone()],
        |certificate| {
            let root = certificate.is_self_issued();
            CaSettings {
                display_name: String::new(),
                authority_type: if root {
                    AuthorityType::Root
                } else {
                    AuthorityType::Intermediate
                },
                crl_url: Some(crls.url(if root {
                    FOREIGN_ROOT_CRL
                } else {
                    FOREIGN_ISSUING_CRL
                })),
                delta_crl_url: None,
                exempt_from_crl_validation: false,
                send_as_issuer_hint: true,
            }
        },
        UnixTime(NOW),
        "test",
    )
    .await
    .expect("trust Fabrikam");
    let reports = fixture
        .server
        .crl
        .refresh(
            None,
            certgate_server::crl_refresh::Urgency::Interactive,
            &certgate_core::crl_fetch::NoProgress,
        )
        .await
        .expect("refresh");
    // The server's own tick (every 200 ms) may fetch a new CA's CRL first, and then this
    // refresh finds the same CRL: either way both CRLs must now be cached.
    assert!(
        reports.iter().all(|r| matches!(
            r.outcome,
            certgate_server::crl_refresh::RefreshOutcome::Updated { .. }
                | certgate_server::crl_refresh::RefreshOutcome::Unchanged
        )),
        "{reports:?}"
    );
    let cached = fixture
        .store
        .cached_crl_summaries()
        .await
        .expect("cached CRLs");
    for ca in &cas {
        assert!(
            cached
                .iter()
                .any(|c| c.ca_id == ca.id && c.kind == CrlKind::Base),
            "no CRL cached for {}: {reports:?}",
            ca.id
        );
    }
    let mut alice = pem("PRIVATE KEY", &pki.leaf.key_pkcs8_der);
    alice.push_str(&pem("CERTIFICATE", &pki.leaf.der));
    alice.push_str(&pem("CERTIFICATE", &pki.intermediate.der));
    ForeignCa {
        issuing_ca: cas[1].id,
        pki,
        alice,
        crls,
    }
}

impl Fixture {
    fn client_as(&self, identity_pem: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_only([reqwest::Certificate::from_der(&self.server_certificate)
                .expect("server certificate")])
            .identity(reqwest::Identity::from_pem(identity_pem.as_bytes()).expect("identity"))
            .build()
            .expect("client")
    }

    /// `POST /my/device` (same origin) presenting `identity_pem`: status and body.
    async fn submit_as(&self, identity_pem: &str, form: &[(&str, &str)]) -> (u16, Vec<u8>) {
        let body: String = form
            .iter()
            .map(|(name, value)| format!("{name}={}", value.replace(' ', "+")))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .client_as(identity_pem)
            .post(self.url("/my/device"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("body").to_vec())
    }

    /// `GET /certauth` presenting `identity_pem`: status and body.
    async fn certauth_as(&self, identity_pem: &str) -> (u16, String) {
        let response = self
            .client_as(identity_pem)
            .get(self.url("/certauth"))
            .header("accept", "application/json")
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }
}

/// The certificate and key in a device PKCS#12, with certgate's issuing CA, as PEM.
fn pkcs12_identity(dir: &Path, p12: &[u8], password: &str, issuing_der: &[u8]) -> String {
    let path = dir.join("foreign-child.p12");
    std::fs::write(&path, p12).expect("write");
    let pass = format!("pass:{password}");
    let mut identity = String::new();
    for part in [["-nocerts", "-nodes"], ["-nokeys", "-clcerts"]] {
        let out = dir.join(format!("foreign-child{}.pem", part[0]));
        let output = openssl(&[
            "pkcs12".as_ref(),
            "-in".as_ref(),
            path.as_os_str(),
            "-passin".as_ref(),
            pass.as_ref(),
            part[0].as_ref(),
            part[1].as_ref(),
            "-out".as_ref(),
            out.as_os_str(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        identity.push_str(&std::fs::read_to_string(&out).expect("PEM"));
    }
    identity.push_str(&pem("CERTIFICATE", issuing_der));
    identity
}

/// By default a certificate of another trusted CA signs in to the page but obtains nothing:
/// `pki-parent-not-certgate`, on record.
async fn a_foreign_certificate_derives_nothing_by_default(fixture: Fixture) {
    let fabrikam = trust_fabrikam(&fixture).await;
    let before = fixture.issued().await.len();
    let (status, body) = fixture.submit_as(&fabrikam.alice, &form("pkcs12")).await;
    let page = String::from_utf8_lossy(&body);
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("pki-parent-not-certgate"), "{page}");
    assert_eq!(fixture.issued().await.len(), before, "nothing issued");
    let audits = fixture.store.audit_events(50).await.expect("audit");
    assert!(
        audits.iter().any(|e| e.action == "pki.issue"
            && e.outcome == "pki-parent-not-certgate"
            && e.target == certgate_core::hex(&fabrikam.pki.leaf.serial)),
        "the refusal is on record: {audits:?}"
    );
    // certgate's own certificate still derives.
    let (status, _, body) = fixture
        .submit(&form("pkcs12"), &[("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

/// With `derive_from_trusted_cas` the child ends when its parent does, and when Fabrikam's CRL
/// lists the parent the CRL refresh revokes the child (audited) and it no longer signs in.
async fn a_foreign_child_ends_with_its_parent_and_falls_with_it(backend: Backend) {
    let fixture = Fixture::with_settings(backend, |settings| {
        settings.derive_from_trusted_cas = true;
    })
    .await;
    let fabrikam = trust_fabrikam(&fixture).await;
    let (status, p12) = fixture.submit_as(&fabrikam.alice, &form("pkcs12")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&p12));
    let child = fixture
        .issued()
        .await
        .into_iter()
        .find(|r| r.parent.as_ref().and_then(|p| p.trusted_ca) == Some(fabrikam.issuing_ca))
        .expect("the child, recorded with Fabrikam's issuing CA");
    let parent = child.parent.clone().expect("parent");
    assert_eq!(parent.serial, fabrikam.pki.leaf.serial);
    assert_eq!(parent.authority, None);
    assert!(parent.issuer.contains("Fabrikam Issuing CA"), "{parent:?}");
    assert_eq!(parent.not_after, Some(UnixTime(FOREIGN_NOT_AFTER)));
    assert_eq!(
        child.not_after,
        UnixTime(FOREIGN_NOT_AFTER),
        "capped at the parent's notAfter, not a year"
    );

    let issuing_der = fixture
        .store
        .authorities()
        .await
        .expect("authorities")
        .into_iter()
        .find(|a| a.role == certgate_core::authority::AuthorityRole::Issuing)
        .expect("issuing CA")
        .certificate_der;
    let child_identity = pkcs12_identity(fixture.dir.path(), &p12, PASSWORD, &issuing_der);
    let (status, body) = fixture.certauth_as(&child_identity).await;
    assert_eq!(status, 200, "the child signs in: {body}");

    // Fabrikam revokes the parent; the refresh of its CRL takes the child with it.
    fabrikam.crls.put(
        FOREIGN_ISSUING_CRL,
        fabrikam_crl(
            &fabrikam.pki.intermediate,
            2,
            vec![fabrikam.pki.leaf.serial.clone()],
        ),
    );
    fixture.clock.advance(60);
    fixture
        .server
        .crl
        .refresh(
            Some(fabrikam.issuing_ca),
            certgate_server::crl_refresh::Urgency::Interactive,
            &certgate_core::crl_fetch::NoProgress,
        )
        .await
        .expect("refresh");
    let revoked = fixture
        .store
        .find_issued(&child.serial)
        .await
        .expect("find")
        .expect("child");
    assert!(revoked.revoked_at.is_some(), "{revoked:?}");
    assert_eq!(revoked.revocation_reason.as_deref(), Some("superseded"));
    let audits = fixture.store.audit_events(50).await.expect("audit");
    assert!(
        audits.iter().any(|e| e.action == "pki.revoke"
            && e.actor == "crl-refresh"
            && e.target == certgate_core::hex(&child.serial)),
        "{audits:?}"
    );

    // certgate's next CRL lists the child, and it no longer signs in.
    let ca = BuiltInCa::new(&*fixture.store, &*fixture.clock, &fixture.settings, "test");
    ca.publish_crls(BaseCrl::Always).await.expect("publish");
    cache_published_crls(&fixture.store, fixture.clock.now()).await;
    fixture.server.crl.rebuild().await.expect("rebuild");
    let (status, body) = fixture.certauth_as(&child_identity).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("cert-revoked"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_child_ends_with_its_parent_and_falls_with_it_on_sqlite() {
    a_foreign_child_ends_with_its_parent_and_falls_with_it(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_child_ends_with_its_parent_and_falls_with_it_on_postgres() {
    a_foreign_child_ends_with_its_parent_and_falls_with_it(Backend::Postgres).await;
}
