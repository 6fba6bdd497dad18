//! The federation service end to end over real TLS, without a browser: a SAML 2.0 service
//! provider's AuthnRequest (HTTP-Redirect, unsigned and signed) and a WS-Federation sign-in
//! (the Microsoft 365 preset) go through the certificate sign-in listener with a client
//! certificate, and the tokens posted back are checked by real peers: `xmlsec1 --verify`
//! against the token-signing certificate from certgate's metadata, and `xmllint` against the
//! OASIS SAML 2.0 and 1.1 schemas shipped in certgate-saml's test data. The refusals (unknown
//! relying party, unregistered reply address, replay, stale request, unsigned or badly signed
//! request, password wauth) each come with their reason code. A SAML RequestedAuthnContext is
//! met (and the class stated in the assertion meets it), leads to the second factor, or is
//! answered with NoAuthnContext; a reply address removed during a sign-in gets no token.
//! A password request (WS-Fed `wauth` password, SAML PasswordProtectedTransport) from a
//! relying party set to `domain-password` asks for the domain password after the certificate,
//! checked by binds against a real Samba AD DC (certgate-ldap's harness), and the token states
//! it; wrong passwords lock the step, and a missing, unreachable or untrusted directory is a
//! clear refusal. A relying party or an OpenID Connect client set to ask every sign-in for the
//! domain password (`require_domain_password`) gets the password page with no request for it
//! (the OIDC token's `amr` then says `pwd` and `mfa`, also after a refresh), and is refused on
//! a server without a directory source.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::clock::{Clock, FixedClock};
use certgate_core::directory::{add_user, UserDraft};
use certgate_core::federation::{
    add_relying_party, microsoft365, set_relying_party, PasswordRequests, Protocol,
    RelyingPartyDraft,
};
use certgate_core::federation::{certificate_context_rules, ClaimRule, ClaimSource};
use certgate_pki::UnixTime;
use certgate_server::app::{start, RunningServer};
use certgate_server::domain_password::DomainPasswordCheck;
use certgate_server::federation_http::FederationSettings;
use certgate_store::SqlStore;
use certgate_testpki::{TestPki, VALIDATION_TIME};
use common::{Backend, TestDatabase, TestServer, TrustedPki};

const IDP_ORIGIN: &str = "https://idp.test";
const SP_ENTITY: &str = "https://sp.test/metadata";
const SP_ACS: &str = "https://sp.test/acs";
const SIGNED_SP_ENTITY: &str = "https://signed-sp.test/metadata";
const SIGNED_SP_ACS: &str = "https://signed-sp.test/acs";
const SAML_XSD_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../certgate-saml/tests/xsd");

struct Fixture {
    server: RunningServer<SqlStore>,
    store: Arc<SqlStore>,
    clock: Arc<FixedClock>,
    server_certificate: Vec<u8>,
    pki: TestPki,
    /// RSA key (PKCS#8) and certificate of the signed SP.
    sp_key: Vec<u8>,
    _database: TestDatabase,
    dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        Fixture::with_domain_password(backend, None).await
    }

    /// With domain passwords checked by `check` (none: no directory source).
    async fn with_domain_password(
        backend: Backend,
        check: Option<Arc<DomainPasswordCheck>>,
    ) -> Fixture {
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
                immutable_id: Some("aB+/cD==".into()),
                mail: Some("alice.smith@corp.example".into()),
                groups: vec!["Sales".into()],
                ..UserDraft::new("alice@corp.example")
            },
            now,
            "test",
        )
        .await
        .expect("user");

        let mut sp = RelyingPartyDraft::new(
            "Test SP",
            Protocol::Saml,
            SP_ENTITY,
            vec![SP_ACS.into(), "https://sp.test/acs2".into()],
        );
        sp.name_id_format = certgate_core::federation::NameIdFormat::EmailAddress;
        sp.name_id_source = ClaimSource::User(certgate_core::federation::UserField::Mail);
        sp.claims
            .push(ClaimRule::parse("groups=user.groups").expect("rule"));
        sp.claims.extend(certificate_context_rules());
        sp.sign_response = true;
        add_relying_party(&*store, sp, now, "test")
            .await
            .expect("SP");

        let sp_signing = certgate_ca::create_token_signing_certificate(
            "signed sp",
            certgate_ca::KeyAlgorithm::Rsa2048,
            365,
            certgate_testpki::at(VALIDATION_TIME - 86_400),
        )
        .expect("SP key");
        let mut signed = RelyingPartyDraft::new(
            "Signed SP",
            Protocol::Saml,
            SIGNED_SP_ENTITY,
            vec![SIGNED_SP_ACS.into()],
        );
        signed.require_signed_requests = true;
        signed.logout_url = Some("https://signed-sp.test/slo".into());
        signed.request_certificates = vec![sp_signing.certificate_der.clone()];
        add_relying_party(&*store, signed, now, "test")
            .await
            .expect("signed SP");
        add_relying_party(
            &*store,
            microsoft365(Protocol::WsFed, Some("urn:certgate:corp".into())),
            now,
            "test",
        )
        .await
        .expect("Microsoft 365");

        let (identity, server_certificate) = common::localhost_identity();
        let clock = Arc::new(FixedClock::at(VALIDATION_TIME));
        let server = start(
            Arc::clone(&store),
            Arc::clone(&clock) as Arc<dyn Clock>,
            TestServer::new()
                .certauth(identity)
                .web(IDP_ORIGIN, b"test passphrase", true)
                .domain_password(check)
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
            sp_key: sp_signing.private_key_pkcs8_der.to_vec(),
            _database: database,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn client(&self, with_certificate: bool) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_only([reqwest::Certificate::from_der(&self.server_certificate)
                .expect("server certificate")]);
        if with_certificate {
            let mut pem = pem("PRIVATE KEY", &self.pki.leaf.key_pkcs8_der);
            pem.push_str(&pem_certificate(&self.pki.leaf.der));
            pem.push_str(&pem_certificate(&self.pki.intermediate.der));
            builder =
                builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
        }
        builder.build().expect("client")
    }

    fn web(&self, path_and_query: &str) -> String {
        let addr = self.server.web_addr.expect("web listener");
        format!("https://localhost:{}{path_and_query}", addr.port())
    }

    /// GET on the web listener; the response's status, Set-Cookie and body.
    async fn get(
        &self,
        path_and_query: &str,
        cookie: Option<&str>,
    ) -> (u16, Option<String>, String) {
        let mut request = self.client(false).get(self.web(path_and_query));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        (status, cookie, response.text().await.expect("body"))
    }

    /// From a start page to the page the relying party receives: the certificate sign-in
    /// (with the test PKI's leaf, alice), then the web listener's continue page.
    async fn sign_in(&self, start: &str) -> String {
        let started = self.get(start, None).await;
        self.continue_sign_in(started).await
    }

    /// POST a form on the web listener; the response's status, Set-Cookie and body.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let response = self
            .client(false)
            .post(self.web(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form.iter()
                    .map(|(name, value)| format!("{name}={}", encode(value)))
                    .collect::<Vec<_>>()
                    .join("&"),
            )
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        (status, cookie, response.text().await.expect("body"))
    }

    async fn continue_sign_in(&self, started: (u16, Option<String>, String)) -> String {
        let (status, body) = self.continue_sign_in_to_end(started).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The certificate sign-in and the continue page, whatever the last page's status.
    async fn continue_sign_in_to_end(
        &self,
        started: (u16, Option<String>, String),
    ) -> (u16, String) {
        let (status, body, _) = self.continue_sign_in_with_cookie(started).await;
        (status, body)
    }

    /// [`Fixture::continue_sign_in_to_end`], and the flow cookie the certificate step set
    /// (each authentication step binds the flow to a new one).
    async fn continue_sign_in_with_cookie(
        &self,
        started: (u16, Option<String>, String),
    ) -> (u16, String, String) {
        let (status, cookie, body) = started;
        assert_eq!(status, 200, "{body}");
        let cookie = cookie.expect("flow cookie");
        let certauth = between(&body, "href=\"", "\"")
            .replace("&amp;", "&")
            .replace("&#38;", "&");
        assert!(certauth.contains("/certauth?flow="), "{certauth}");
        let response = self
            .client(true)
            .get(&certauth)
            .header("cookie", &cookie)
            .header("accept", "text/html")
            .send()
            .await
            .expect("certauth");
        assert_eq!(
            response.status().as_u16(),
            303,
            "{:?}",
            response.text().await
        );
        let location = response.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("the certificate step's flow cookie")
            .to_owned();
        let path = &location[location.find("/signin/continue").expect("continue")..];
        let (status, _, body) = self.get(path, Some(&cookie)).await;
        (status, body, cookie)
    }

    fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(content))
            .expect("write");
        path
    }

    /// The token-signing certificate, as PEM, taken from the served SAML metadata.
    async fn signing_certificate_pem(&self) -> PathBuf {
        let (status, _, metadata) = self.get("/federation/saml/metadata", None).await;
        assert_eq!(status, 200);
        let der = STANDARD
            .decode(between(
                &metadata,
                "<ds:X509Certificate>",
                "</ds:X509Certificate>",
            ))
            .expect("certificate");
        self.write("signing.pem", pem_certificate(&der).as_bytes())
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {text}"))
        + start.len();
    let to = text[from..].find(end).expect("end") + from;
    &text[from..to]
}

fn form_field(page: &str, name: &str) -> String {
    between(page, &format!("name=\"{name}\" value=\""), "\"")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
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

fn pem_certificate(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

fn instant(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

fn authn_request(id: &str, issuer: &str, acs: &str, issued: i64, extra: &str) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{IDP_ORIGIN}/federation/saml/sso\" AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\"><saml:Issuer>{issuer}</saml:Issuer>{extra}</samlp:AuthnRequest>",
        instant(issued)
    )
}

fn encode(text: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("v", text)])
        .expect("url")
        .query()
        .expect("query")
        .trim_start_matches("v=")
        .to_owned()
}

/// The HTTP-Redirect binding's SAMLRequest query (DEFLATE, base64, URL-encoded).
fn redirect_query(xml: &str, relay_state: Option<&str>) -> String {
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater.write_all(xml.as_bytes()).expect("deflate");
    let deflated = deflater.finish().expect("deflate");
    let mut query = format!("SAMLRequest={}", encode(&STANDARD.encode(deflated)));
    if let Some(relay_state) = relay_state {
        query.push_str(&format!("&RelayState={}", encode(relay_state)));
    }
    query
}

/// Signs a Redirect-binding query (bindings §3.4.4.1) with RSA-SHA256.
fn sign_query(query: &str, key_pkcs8: &[u8]) -> String {
    let signed = format!(
        "{query}&SigAlg={}",
        encode("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(key_pkcs8).expect("RSA key");
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    format!("{signed}&Signature={}", encode(&STANDARD.encode(signature)))
}

fn run(command: &mut Command) -> (bool, String) {
    let output = command.output().unwrap_or_else(|e| {
        panic!("{command:?} cannot run ({e}); scripts/setup.sh installs xmlsec1 and libxml2-utils")
    });
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// `xmlsec1 --verify` with the token-signing certificate as the only trusted key.
fn xmlsec_verify(document: &Path, certificate: &Path, id_attribute: &str) -> (bool, String) {
    run(Command::new("xmlsec1")
        .arg("--verify")
        .arg("--enabled-key-data")
        .arg("x509")
        .arg("--pubkey-cert-pem")
        .arg(certificate)
        .arg("--id-attr:".to_owned() + id_attribute.split_once('|').expect("attr").0)
        .arg(id_attribute.split_once('|').expect("node").1)
        .arg(document))
}

fn xmllint_schema(document: &Path, schema: &str) -> (bool, String) {
    run(Command::new("xmllint")
        .env(
            "XML_CATALOG_FILES",
            Path::new(SAML_XSD_DIR).join("catalog.xml"),
        )
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(Path::new(SAML_XSD_DIR).join(schema))
        .arg(document))
}

async fn refused(fixture: &Fixture, path: &str, status: u16, code: &str) {
    let (got, _, body) = fixture.get(path, None).await;
    assert_eq!(got, status, "{path}: {body}");
    assert!(
        body.contains(&format!("<code>{code}</code>")),
        "{path}: expected {code} in {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_sign_in_by_redirect_binding_on_sqlite() {
    saml_sign_in_by_redirect_binding(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_sign_in_by_redirect_binding_on_postgres() {
    saml_sign_in_by_redirect_binding(Backend::Postgres).await;
}

async fn saml_sign_in_by_redirect_binding(backend: Backend) {
    let fixture = Fixture::new(backend).await;
    let now = VALIDATION_TIME;
    let request = authn_request("_request1", SP_ENTITY, SP_ACS, now - 5, "");
    let start = format!(
        "/federation/saml/sso?{}",
        redirect_query(&request, Some("state-123"))
    );
    let page = fixture.sign_in(&start).await;
    assert!(page.contains(&format!("action=\"{SP_ACS}\"")), "{page}");
    assert_eq!(form_field(&page, "RelayState"), "state-123");
    let response = String::from_utf8(
        STANDARD
            .decode(form_field(&page, "SAMLResponse"))
            .expect("base64"),
    )
    .expect("UTF-8");
    assert!(
        response.contains("InResponseTo=\"_request1\""),
        "{response}"
    );
    assert!(response.contains(&format!("Destination=\"{SP_ACS}\"")));
    assert!(response.contains(&format!("<saml:Audience>{SP_ENTITY}</saml:Audience>")));
    assert!(response.contains(&format!("Recipient=\"{SP_ACS}\"")));
    assert!(response.contains("Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">alice.smith@corp.example</saml:NameID>"), "{response}");
    assert!(response.contains("urn:oasis:names:tc:SAML:2.0:ac:classes:X509"));
    assert!(response.contains("<saml:AttributeValue>Sales</saml:AttributeValue>"));
    // The certificate-context claims, in AD FS's value formats.
    let serial = certgate_core::hex(
        certgate_pki::Certificate::from_der(&fixture.pki.leaf.der)
            .expect("leaf")
            .serial(),
    )
    .to_ascii_uppercase();
    assert!(
        response.contains(&format!(
            "<saml:AttributeValue>{serial}</saml:AttributeValue>"
        )),
        "{response}"
    );
    assert!(
        response.contains("http://schemas.microsoft.com/2012/12/certificatecontext/field/issuer")
    );
    assert!(
        response.contains("1.3.6.1.5.5.7.3.2"),
        "client-auth EKU: {response}"
    );

    // Real peers: the Response signature and the Assertion signature, and the schema.
    let certificate = fixture.signing_certificate_pem().await;
    let document = fixture.write("response.xml", response.as_bytes());
    let (ok, output) = xmlsec_verify(
        &document,
        &certificate,
        "ID|urn:oasis:names:tc:SAML:2.0:protocol:Response",
    );
    assert!(ok, "xmlsec1 rejected the Response: {output}");
    let assertion = &response[response.find("<saml:Assertion").expect("assertion")
        ..response.find("</saml:Assertion>").expect("end") + "</saml:Assertion>".len()];
    let assertion_file = fixture.write("assertion.xml", assertion.as_bytes());
    let (ok, output) = xmlsec_verify(
        &assertion_file,
        &certificate,
        "ID|urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    );
    assert!(ok, "xmlsec1 rejected the Assertion: {output}");
    let (ok, output) = xmllint_schema(&document, "saml-schema-protocol-2.0.xsd");
    assert!(ok, "{output}");
    let tampered = fixture.write(
        "tampered.xml",
        assertion.replace("Sales", "Admins").as_bytes(),
    );
    let (ok, _) = xmlsec_verify(
        &tampered,
        &certificate,
        "ID|urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    );
    assert!(!ok, "xmlsec1 accepted a tampered assertion");

    // The same request again: a replay.
    refused(&fixture, &start, 400, "saml-request-replayed").await;
    // A reply address that is not registered; an SP that is not registered.
    let other_acs = authn_request("_request2", SP_ENTITY, "https://evil.test/acs", now, "");
    refused(
        &fixture,
        &format!("/federation/saml/sso?{}", redirect_query(&other_acs, None)),
        403,
        "saml-acs-unregistered",
    )
    .await;
    let unknown = authn_request("_request3", "https://unknown.test/sp", SP_ACS, now, "");
    refused(
        &fixture,
        &format!("/federation/saml/sso?{}", redirect_query(&unknown, None)),
        403,
        "rp-unknown",
    )
    .await;
    // Too old, and from the future beyond the allowed skew (120 s).
    let stale = authn_request("_request4", SP_ENTITY, SP_ACS, now - 3600, "");
    refused(
        &fixture,
        &format!("/federation/saml/sso?{}", redirect_query(&stale, None)),
        400,
        "saml-request-stale",
    )
    .await;
    let future = authn_request("_request5", SP_ENTITY, SP_ACS, now + 600, "");
    refused(
        &fixture,
        &format!("/federation/saml/sso?{}", redirect_query(&future, None)),
        400,
        "saml-request-from-future",
    )
    .await;
    // Garbage and a DTD never get past the parser.
    refused(
        &fixture,
        "/federation/saml/sso?SAMLRequest=%%%",
        400,
        "saml-query-malformed",
    )
    .await;
    let dtd = format!(
        "<!DOCTYPE x [<!ENTITY a \"b\">]>{}",
        authn_request("_r6", SP_ENTITY, SP_ACS, now, "")
    );
    refused(
        &fixture,
        &format!("/federation/saml/sso?{}", redirect_query(&dtd, None)),
        400,
        "saml-xml-doctype-refused",
    )
    .await;
    // IsPassive and an impossible NameIDPolicy are answered to the SP with a signed failure.
    for (id, extra, second_level) in [
        ("_passive", "IsPassive=\"true\" ", "NoPassive"),
        ("_policy", "", "InvalidNameIDPolicy"),
    ] {
        let mut request = authn_request(
            id,
            SP_ENTITY,
            SP_ACS,
            now,
            if extra.is_empty() {
                "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\"/>"
            } else {
                ""
            },
        );
        request = request.replacen("ID=", &format!("{extra}ID="), 1);
        let (status, _, page) = fixture
            .get(
                &format!("/federation/saml/sso?{}", redirect_query(&request, None)),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(&format!("action=\"{SP_ACS}\"")), "{page}");
        let xml = String::from_utf8(
            STANDARD
                .decode(form_field(&page, "SAMLResponse"))
                .expect("base64"),
        )
        .expect("UTF-8");
        assert!(
            xml.contains(&format!(
                "urn:oasis:names:tc:SAML:2.0:status:{second_level}"
            )),
            "{xml}"
        );
        assert!(!xml.contains("saml:Assertion"));
        let file = fixture.write(&format!("{id}.xml"), xml.as_bytes());
        let (ok, output) = xmlsec_verify(
            &file,
            &certificate,
            "ID|urn:oasis:names:tc:SAML:2.0:protocol:Response",
        );
        assert!(ok, "{output}");
        let (ok, output) = xmllint_schema(&file, "saml-schema-protocol-2.0.xsd");
        assert!(ok, "{output}");
    }
    // Asking for multi-factor leads to the one-time code instead of a token.
    let mfa = authn_request(
        "_request7",
        SP_ENTITY,
        SP_ACS,
        now,
        "<samlp:RequestedAuthnContext><saml:AuthnContextClassRef>http://schemas.microsoft.com/claims/multipleauthn</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>",
    );
    let page = fixture
        .sign_in(&format!(
            "/federation/saml/sso?{}",
            redirect_query(&mfa, None)
        ))
        .await;
    assert!(page.contains("authenticator app"), "{page}");
    assert!(!page.contains("SAMLResponse"));
    fixture.clock.advance(0);
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_are_required_and_verified() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let now = VALIDATION_TIME;
    let unsigned = authn_request("_s1", SIGNED_SP_ENTITY, SIGNED_SP_ACS, now, "");
    refused(
        &fixture,
        &format!("/federation/saml/sso?{}", redirect_query(&unsigned, None)),
        403,
        "saml-request-unsigned",
    )
    .await;
    // Signed by another key.
    let other = certgate_ca::create_token_signing_certificate(
        "other",
        certgate_ca::KeyAlgorithm::Rsa2048,
        365,
        certgate_testpki::at(now),
    )
    .expect("key");
    let forged = authn_request("_s2", SIGNED_SP_ENTITY, SIGNED_SP_ACS, now, "");
    let query = sign_query(
        &redirect_query(&forged, Some("rs")),
        &other.private_key_pkcs8_der,
    );
    refused(
        &fixture,
        &format!("/federation/saml/sso?{query}"),
        403,
        "saml-signature-invalid",
    )
    .await;
    // Signed by the SP's key: accepted; a changed RelayState breaks it.
    let good = authn_request("_s3", SIGNED_SP_ENTITY, SIGNED_SP_ACS, now, "");
    let query = sign_query(&redirect_query(&good, Some("rs")), &fixture.sp_key);
    let changed = query.replace("RelayState=rs", "RelayState=xx");
    refused(
        &fixture,
        &format!("/federation/saml/sso?{changed}"),
        403,
        "saml-signature-invalid",
    )
    .await;
    let page = fixture
        .sign_in(&format!("/federation/saml/sso?{query}"))
        .await;
    assert!(
        page.contains(&format!("action=\"{SIGNED_SP_ACS}\"")),
        "{page}"
    );
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wsfed_sign_in_for_microsoft365() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let start = "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wctx=LoginOptions%3D3%26estsredirect%3Dabc&wfresh=0&wct=2026-03-01T00%3A00%3A00Z";
    let page = fixture.sign_in(start).await;
    assert!(
        page.contains("action=\"https://login.microsoftonline.com/login.srf\""),
        "{page}"
    );
    assert_eq!(form_field(&page, "wa"), "wsignin1.0");
    assert_eq!(form_field(&page, "wctx"), "LoginOptions=3&estsredirect=abc");
    let rstr = form_field(&page, "wresult");
    assert!(
        rstr.starts_with("<t:RequestSecurityTokenResponse"),
        "{rstr}"
    );
    for expected in [
        "<saml:Audience>urn:federation:MicrosoftOnline</saml:Audience>",
        "Issuer=\"urn:certgate:corp\"",
        ">aB+/cD==</saml:NameIdentifier>",
        "AttributeName=\"UPN\" AttributeNamespace=\"http://schemas.xmlsoap.org/claims\"",
        "<saml:AttributeValue>alice@corp.example</saml:AttributeValue>",
        "AttributeName=\"ImmutableID\" AttributeNamespace=\"http://schemas.microsoft.com/LiveID/Federation/2008/05\"",
        "AttributeName=\"serialnumber\" AttributeNamespace=\"http://schemas.microsoft.com/ws/2008/06/identity/claims\"",
        "AttributeName=\"issuer\" AttributeNamespace=\"http://schemas.microsoft.com/2012/12/certificatecontext/field\"",
        "AuthenticationMethod=\"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient\"",
        "<saml:AttributeValue>http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient</saml:AttributeValue>",
    ] {
        assert!(rstr.contains(expected), "{expected} missing from {rstr}");
    }
    let certificate = fixture.signing_certificate_pem().await;
    let document = fixture.write("rstr.xml", rstr.as_bytes());
    let (ok, output) = xmlsec_verify(
        &document,
        &certificate,
        "AssertionID|urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
    );
    assert!(ok, "xmlsec1 rejected the WS-Fed assertion: {output}");
    let assertion = &rstr[rstr.find("<saml:Assertion").expect("assertion")
        ..rstr.find("</saml:Assertion>").expect("end") + "</saml:Assertion>".len()];
    let assertion_file = fixture.write("assertion11.xml", assertion.as_bytes());
    let (ok, output) = xmllint_schema(&assertion_file, "cs-sstc-schema-assertion-1.1.xsd");
    assert!(ok, "{output}");

    // wauth: certificate methods are met; password follows the relying party's setting.
    for wauth in [
        "http%3A%2F%2Fschemas.microsoft.com%2Fws%2F2008%2F06%2Fidentity%2Fauthenticationmethod%2Ftlsclient",
        "http%3A%2F%2Fschemas.microsoft.com%2Fws%2F2008%2F06%2Fidentity%2Fauthenticationmethod%2Fx509",
        "urn%3Aietf%3Arfc%3A2246",
        "urn%3Aoasis%3Anames%3Atc%3ASAML%3A1.0%3Aam%3AX509-PKI",
    ] {
        let page = fixture
            .sign_in(&format!("/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wauth={wauth}&wfresh=0"))
            .await;
        assert!(page.contains("name=\"wresult\""), "{wauth}: {page}");
    }
    let password = "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wfresh=0&wauth=http%3A%2F%2Fschemas.microsoft.com%2Fws%2F2008%2F06%2Fidentity%2Fauthenticationmethod%2Fpassword";
    refused(&fixture, password, 403, "wsfed-password-requested").await;
    let (_, _, body) = fixture.get(password, None).await;
    assert!(body.contains("PromptLoginBehavior"), "{body}");
    set_relying_party(
        &*fixture.store,
        "Microsoft 365",
        |mut draft| {
            draft.password_requests = PasswordRequests::FreshCertificate;
            Ok(draft)
        },
        UnixTime(VALIDATION_TIME),
        "test",
    )
    .await
    .expect("set");
    let page = fixture.sign_in(password).await;
    assert!(page.contains("name=\"wresult\""), "{page}");
    let events: Vec<AuditEvent> = fixture.store.audit_events(50).await.expect("audit");
    assert!(events
        .iter()
        .any(|e| e.action == "federation.password-request-replaced"));
    assert!(events.iter().any(|e| e.action == "federation.issue"));
    refused(&fixture, "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wauth=urn%3Afederation%3Aauthentication%3Awindows", 403, "wsfed-wauth-unsupported").await;
    refused(&fixture, "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wreply=https%3A%2F%2Fevil.test%2F", 403, "wsfed-reply-unregistered").await;
    refused(
        &fixture,
        "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Aunknown",
        403,
        "rp-unknown",
    )
    .await;

    // FederationMetadata.xml: signed by the current key, with the next key published.
    let (status, _, metadata) = fixture
        .get("/FederationMetadata/2007-06/FederationMetadata.xml", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        metadata.matches("<ds:X509Certificate>").count(),
        2 * 2 + 1,
        "current and next in two roles, and the signature's KeyInfo: {metadata}"
    );
    let file = fixture.write("federationmetadata.xml", metadata.as_bytes());
    let (ok, output) = xmlsec_verify(
        &file,
        &certificate,
        "ID|urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
    );
    assert!(ok, "{output}");
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_binding_request_signed_by_xmlsec1() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let now = VALIDATION_TIME;
    let template = authn_request(
        "_post1",
        SIGNED_SP_ENTITY,
        SIGNED_SP_ACS,
        now,
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/><ds:Reference URI=\"#_post1\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>",
    );
    let template_file = fixture.write("request-template.xml", template.as_bytes());
    let key_file = fixture.write("sp-key.pem", pem("PRIVATE KEY", &fixture.sp_key).as_bytes());
    let signed_file = fixture.dir.path().join("request-signed.xml");
    let (ok, output) = run(Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(&key_file)
        .arg("--id-attr:ID")
        .arg("urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest")
        .arg("--output")
        .arg(&signed_file)
        .arg(&template_file));
    assert!(ok, "xmlsec1 --sign: {output}");
    let signed = std::fs::read(&signed_file).expect("signed request");
    let encoded = STANDARD.encode(&signed);
    let page = fixture
        .continue_sign_in(
            fixture
                .post(
                    "/federation/saml/sso",
                    &[("SAMLRequest", &encoded), ("RelayState", "post-state")],
                )
                .await,
        )
        .await;
    assert!(
        page.contains(&format!("action=\"{SIGNED_SP_ACS}\"")),
        "{page}"
    );
    assert_eq!(form_field(&page, "RelayState"), "post-state");
    // The same document with a changed ACS no longer verifies; posted twice, it is a replay.
    let tampered = String::from_utf8(signed.clone())
        .expect("UTF-8")
        .replace("IssueInstant=\"", "ForceAuthn=\"true\" IssueInstant=\"");
    let (status, _, body) = fixture
        .post(
            "/federation/saml/sso",
            &[("SAMLRequest", &STANDARD.encode(tampered))],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<code>saml-digest-mismatch</code>"), "{body}");
    let (status, _, body) = fixture
        .post("/federation/saml/sso", &[("SAMLRequest", &encoded)])
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("<code>saml-request-replayed</code>"),
        "{body}"
    );
    let (status, _, body) = fixture
        .post(
            "/federation/saml/sso",
            &[("SAMLRequest", &encoded), ("SAMLRequest", &encoded)],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("<code>saml-parameter-duplicated</code>"),
        "{body}"
    );
    fixture.server.stop().await;
}

fn logout_request(id: &str, issuer: &str, issued: i64) -> String {
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{IDP_ORIGIN}/federation/saml/slo\"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">aB.2B.2FcD.3D.3D</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex></samlp:LogoutRequest>",
        instant(issued)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_logout_by_redirect_binding() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let now = VALIDATION_TIME;
    let query = sign_query(
        &redirect_query(&logout_request("_lo1", SIGNED_SP_ENTITY, now), Some("bye")),
        &fixture.sp_key,
    );
    let response = fixture
        .client(false)
        .get(fixture.web(&format!("/federation/saml/slo?{query}")))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status().as_u16(), 303);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let answer = location
        .strip_prefix("https://signed-sp.test/slo?")
        .unwrap_or_else(|| panic!("{location}"));
    // The signed octets are everything before &Signature=; openssl checks the signature with
    // the token-signing certificate's public key.
    let (signed_octets, signature) = answer.split_once("&Signature=").expect("signature");
    let signature = STANDARD
        .decode(
            reqwest::Url::parse(&format!("http://x/?s={signature}"))
                .expect("url")
                .query_pairs()
                .next()
                .expect("pair")
                .1
                .as_bytes(),
        )
        .expect("base64");
    let certificate = fixture.signing_certificate_pem().await;
    let (ok, public_key) = run(Command::new("openssl")
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(&certificate));
    assert!(ok, "{public_key}");
    let public_key = fixture.write("signing-pub.pem", public_key.as_bytes());
    let octets = fixture.write("octets.bin", signed_octets.as_bytes());
    let signature_file = fixture.write("signature.bin", &signature);
    let (ok, output) = run(Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public_key)
        .arg("-signature")
        .arg(&signature_file)
        .arg(&octets));
    assert!(
        ok,
        "openssl rejected the LogoutResponse signature: {output}"
    );
    let pairs: Vec<(String, String)> = reqwest::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(pairs[1], ("RelayState".into(), "bye".into()));
    let deflated = STANDARD.decode(&pairs[0].1).expect("base64");
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::DeflateDecoder::new(&deflated[..]),
        &mut xml,
    )
    .expect("inflate");
    assert!(xml.contains("InResponseTo=\"_lo1\""), "{xml}");
    assert!(
        xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success"),
        "{xml}"
    );
    let file = fixture.write("logout-response.xml", xml.as_bytes());
    let (ok, output) = xmllint_schema(&file, "saml-schema-protocol-2.0.xsd");
    assert!(ok, "{output}");

    // Replayed, unsigned, or from an SP without a signing certificate: refused.
    refused(
        &fixture,
        &format!("/federation/saml/slo?{query}"),
        400,
        "saml-request-replayed",
    )
    .await;
    let unsigned = redirect_query(&logout_request("_lo2", SIGNED_SP_ENTITY, now), None);
    refused(
        &fixture,
        &format!("/federation/saml/slo?{unsigned}"),
        403,
        "saml-request-unsigned",
    )
    .await;
    let other = redirect_query(&logout_request("_lo3", SP_ENTITY, now), None);
    refused(
        &fixture,
        &format!("/federation/saml/slo?{other}"),
        403,
        "saml-logout-unverifiable",
    )
    .await;
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_signing_keys_roll_over_before_the_current_one_expires() {
    use certgate_core::federation::{FederationStore, KeyState};
    use certgate_server::federation_http::FederationService;
    let database = TestDatabase::new(Backend::Sqlite);
    let store = SqlStore::connect(&database.url).await.expect("store");
    let passphrase = b"rollover passphrase";
    let settings = FederationSettings {
        entity_id: "https://idp.test/federation".into(),
        public_origin: IDP_ORIGIN.into(),
        clock_skew_seconds: 60,
    };
    let start = UnixTime(VALIDATION_TIME);
    let service = FederationService::open(settings, &store, passphrase, start)
        .await
        .expect("open");
    let keys = store.token_signing_keys().await.expect("keys");
    let current = keys
        .iter()
        .find(|k| k.lifecycle.state == KeyState::Current)
        .expect("current")
        .clone();
    let next = keys
        .iter()
        .find(|k| k.lifecycle.state == KeyState::Next)
        .expect("next")
        .clone();
    // Far from expiry: nothing changes.
    service
        .maintain(&store, passphrase, UnixTime(start.0 + 86_400))
        .await
        .expect("maintain");
    assert_eq!(store.token_signing_keys().await.expect("keys").len(), 2);
    // 15 days before the current certificate expires: Next becomes Current, a new Next appears.
    let late = UnixTime(current.not_after.0 - 15 * 86_400);
    service
        .maintain(&store, passphrase, late)
        .await
        .expect("maintain");
    let keys = store.token_signing_keys().await.expect("keys");
    let state_of = |thumbprint: &str| {
        keys.iter()
            .find(|k| k.thumbprint == thumbprint)
            .map(|k| k.lifecycle.state)
            .expect("key")
    };
    assert_eq!(state_of(&current.thumbprint), KeyState::Retired);
    assert_eq!(state_of(&next.thumbprint), KeyState::Current);
    assert_eq!(
        keys.iter()
            .filter(|k| k.lifecycle.state == KeyState::Next)
            .count(),
        1
    );
    // A wrong passphrase cannot load the keys: fail closed.
    let other = FederationService::open(
        FederationSettings {
            entity_id: "x:y".into(),
            public_origin: IDP_ORIGIN.into(),
            clock_skew_seconds: 60,
        },
        &store,
        b"wrong",
        late,
    )
    .await;
    assert_eq!(other.err().map(|e| e.code()), Some("ca-key-seal-broken"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wsfed_multi_factor_request_asks_for_the_code_and_states_multipleauthn() {
    use certgate_core::totp::code_at;
    let fixture = Fixture::new(Backend::Sqlite).await;
    let enrollment = enroll_alice_in_totp(&fixture).await;
    let clock: Arc<dyn Clock> = Arc::clone(&fixture.clock) as Arc<dyn Clock>;
    // A code is accepted once: the sign-in uses the next time step.
    fixture.clock.advance(30);

    let start = "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wfresh=0&wauth=http%3A%2F%2Fschemas.microsoft.com%2Fclaims%2Fmultipleauthn";
    let (status, cookie, body) = fixture.get(start, None).await;
    let (status, page, cookie) = fixture
        .continue_sign_in_with_cookie((status, cookie, body))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("one-time code"), "{page}");
    let flow = between(&page, "name=\"flow\" value=\"", "\"").to_owned();
    let code = code_at(&enrollment.secret, clock.now());
    let response = fixture
        .client(false)
        .post(fixture.web("/signin/totp"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("flow={}&code={code}", encode(&flow)))
        .send()
        .await
        .expect("code");
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.expect("page");
    let rstr = form_field(&page, "wresult");
    assert!(
        rstr.contains("AuthenticationMethod=\"http://schemas.microsoft.com/claims/multipleauthn\""),
        "{rstr}"
    );
    assert!(rstr.contains("<saml:AttributeValue>http://schemas.microsoft.com/claims/multipleauthn</saml:AttributeValue>"));
    let certificate = fixture.signing_certificate_pem().await;
    let document = fixture.write("rstr-mfa.xml", rstr.as_bytes());
    let (ok, output) = xmlsec_verify(
        &document,
        &certificate,
        "AssertionID|urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
    );
    assert!(ok, "{output}");
    fixture.server.stop().await;
}

/// POSTs a form on the web listener with the flow's cookie; the status and the page. An
/// authentication step binds the flow to a new secret: `cookie` follows it.
async fn post_in_flow(
    fixture: &Fixture,
    path: &str,
    cookie: &mut String,
    form: &[(&str, &str)],
) -> (u16, String) {
    let response = fixture
        .client(false)
        .post(fixture.web(path))
        .header("cookie", cookie.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form.iter()
                .map(|(name, value)| format!("{name}={}", encode(value)))
                .collect::<Vec<_>>()
                .join("&"),
        )
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    if let Some(set) = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
    {
        *cookie = set.to_owned();
    }
    (status, response.text().await.expect("page"))
}

/// A WS-Federation sign-in asking for multipleauthn up to the page after the certificate: the
/// flow's cookie, its ID and that page.
async fn multi_factor_wsfed_sign_in(fixture: &Fixture) -> (String, String, String) {
    let start = "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wfresh=0&wauth=http%3A%2F%2Fschemas.microsoft.com%2Fclaims%2Fmultipleauthn";
    let started = fixture.get(start, None).await;
    // The certificate step rebinds the flow to a new browser secret: the cookie it set.
    let (status, page, cookie) = fixture.continue_sign_in_with_cookie(started).await;
    assert_eq!(status, 200, "{page}");
    let flow = between(&page, "name=\"flow\" value=\"", "\"").to_owned();
    (cookie, flow, page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_alone_cannot_mint_the_second_factor() {
    use certgate_core::access_pass::AccessPassService;
    use certgate_core::directory::UserStore;
    use certgate_core::totp::{code_at, Digits, TotpAlgorithm, TotpSecret};
    let fixture = Fixture::new(Backend::Sqlite).await;
    let user = fixture
        .store
        .user_by_upn("alice@corp.example")
        .await
        .expect("store")
        .expect("alice");
    let clock: Arc<dyn Clock> = Arc::clone(&fixture.clock) as Arc<dyn Clock>;

    // No authenticator, no pass: the page says what to ask for, and shows no key or QR code.
    let (mut cookie, flow, page) = multi_factor_wsfed_sign_in(&fixture).await;
    assert!(
        page.contains("second-factor-enrollment-requires-access-pass"),
        "{page}"
    );
    assert!(page.contains("Temporary Access Pass"), "{page}");
    assert!(
        !page.contains("<svg") && !page.contains("otpauth://"),
        "{page}"
    );
    // Confirming an enrollment in a flow that redeemed no pass is refused.
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/totp/enroll",
        &mut cookie,
        &[("flow", &flow), ("code", "123456")],
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("second-factor-enrollment-requires-access-pass"),
        "{page}"
    );

    // The administrator issues a pass; a wrong one is refused with its code (the other
    // refusals, none issued, used, expired, are certgate-core's tests/access_pass.rs).
    let issued = AccessPassService::new(&*fixture.store, &clock, "cli:admin")
        .create(user.id.as_str(), "alice@corp.example", None)
        .await
        .expect("pass");
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/access-pass",
        &mut cookie,
        &[("flow", &flow), ("pass", "AAAA-BBBB")],
    )
    .await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("access-pass-invalid"), "{page}");
    let mut before_the_pass = cookie.clone();
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/access-pass",
        &mut cookie,
        &[("flow", &flow), ("pass", &issued.pass)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("otpauth://"), "{page}");
    // Redeeming the pass is an authentication step: the cookie from before it is worthless.
    assert_ne!(before_the_pass, cookie);
    let (status, refused) = post_in_flow(
        &fixture,
        "/signin/totp/enroll",
        &mut before_the_pass,
        &[("flow", &flow), ("code", "123456")],
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.contains("flow-not-this-browser"), "{refused}");
    let key = between(&page, "Key: <code>", "</code>").to_owned();
    let secret = TotpSecret::from_base32(&key, TotpAlgorithm::Sha1, Digits::Six).expect("key");

    // Another sign-in of the same certificate: the pending authenticator cannot be confirmed
    // there.
    let (mut other_cookie, other_flow, page) = multi_factor_wsfed_sign_in(&fixture).await;
    assert!(page.contains("access_pass"), "{page}");
    let code = code_at(&secret, clock.now());
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/totp/enroll",
        &mut other_cookie,
        &[("flow", &other_flow), ("code", &code)],
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("second-factor-enrollment-requires-access-pass"),
        "{page}"
    );

    // The flow that redeemed the pass enrolls, and its token is multi-factor because of the
    // pass (the code confirmed the new authenticator).
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/totp/enroll",
        &mut cookie,
        &[("flow", &flow), ("code", &code)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let rstr = form_field(&page, "wresult");
    assert!(
        rstr.contains("AuthenticationMethod=\"http://schemas.microsoft.com/claims/multipleauthn\""),
        "{rstr}"
    );
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_sign_in_for_microsoft365() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    // Several federated domains: the issuer follows the user's UPN suffix.
    let mut preset = microsoft365(
        Protocol::Saml,
        Some("http://{upn-domain}/adfs/services/trust/".into()),
    );
    preset.name = "Microsoft 365 (SAML)".into();
    add_relying_party(&*fixture.store, preset, UnixTime(VALIDATION_TIME), "test")
        .await
        .expect("preset");
    // Entra ID sends its AuthnRequest by HTTP-POST, from urn:federation:MicrosoftOnline.
    let request = authn_request(
        "_entra1",
        "urn:federation:MicrosoftOnline",
        "https://login.microsoftonline.com/login.srf",
        VALIDATION_TIME,
        "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\"/>",
    );
    let encoded = STANDARD.encode(request.as_bytes());
    let page = fixture
        .continue_sign_in(
            fixture
                .post("/federation/saml/sso", &[("SAMLRequest", &encoded)])
                .await,
        )
        .await;
    assert!(
        page.contains("action=\"https://login.microsoftonline.com/login.srf\""),
        "{page}"
    );
    let response = String::from_utf8(
        STANDARD
            .decode(form_field(&page, "SAMLResponse"))
            .expect("base64"),
    )
    .expect("UTF-8");
    for expected in [
        "<saml:Issuer>http://corp.example/adfs/services/trust/</saml:Issuer>",
        "<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">aB.2B.2FcD.3D.3D</saml:NameID>",
        "<saml:Audience>urn:federation:MicrosoftOnline</saml:Audience>",
        "Recipient=\"https://login.microsoftonline.com/login.srf\"",
        "InResponseTo=\"_entra1\"",
        "<saml:Attribute Name=\"IDPEmail\"><saml:AttributeValue>alice@corp.example</saml:AttributeValue></saml:Attribute>",
        "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml:AuthnContextClassRef>",
        "Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"",
    ] {
        assert!(response.contains(expected), "{expected} missing from {response}");
    }
    let certificate = fixture.signing_certificate_pem().await;
    let document = fixture.write("m365.xml", response.as_bytes());
    let (ok, output) = xmlsec_verify(
        &document,
        &certificate,
        "ID|urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    );
    assert!(ok, "{output}");
    let (ok, output) = xmllint_schema(&document, "saml-schema-protocol-2.0.xsd");
    assert!(ok, "{output}");
    fixture.server.stop().await;
}

fn requested_authn_context(comparison: Option<&str>, classes: &[&str]) -> String {
    let comparison = comparison
        .map(|c| format!(" Comparison=\"{c}\""))
        .unwrap_or_default();
    let classes: String = classes
        .iter()
        .map(|c| format!("<saml:AuthnContextClassRef>{c}</saml:AuthnContextClassRef>"))
        .collect();
    format!("<samlp:RequestedAuthnContext{comparison}>{classes}</samlp:RequestedAuthnContext>")
}

/// The SAMLResponse an auto-post page carries, as XML.
fn posted_saml_response(page: &str) -> String {
    String::from_utf8(
        STANDARD
            .decode(form_field(page, "SAMLResponse"))
            .expect("base64"),
    )
    .expect("UTF-8")
}

const X509_CLASS: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509";
const TLS_CLIENT_CLASS: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient";
const PPT_CLASS: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const MULTIPLE_AUTHN_CLASS: &str = "http://schemas.microsoft.com/claims/multipleauthn";

fn stated_class(response: &str) -> &str {
    between(
        response,
        "<saml:AuthnContextClassRef>",
        "</saml:AuthnContextClassRef>",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsatisfiable_authn_context_is_answered_with_no_authn_context() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let certificate = fixture.signing_certificate_pem().await;
    let now = VALIDATION_TIME;
    for (id, comparison, class) in [
        (
            "_kerberos",
            None,
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos",
        ),
        (
            "_smartcard",
            Some("exact"),
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
        ),
        ("_better_mfa", Some("better"), MULTIPLE_AUTHN_CLASS),
        ("_maximum_ppt", Some("maximum"), PPT_CLASS),
    ] {
        let request = authn_request(
            id,
            SP_ENTITY,
            SP_ACS,
            now,
            &requested_authn_context(comparison, &[class]),
        );
        let (status, _, page) = fixture
            .get(
                &format!(
                    "/federation/saml/sso?{}",
                    redirect_query(&request, Some("rs"))
                ),
                None,
            )
            .await;
        // No page for the person: the answer goes to the SP, which tells its user.
        assert_eq!(status, 200, "{id}: {page}");
        assert!(
            page.contains(&format!("action=\"{SP_ACS}\"")),
            "{id}: {page}"
        );
        assert_eq!(form_field(&page, "RelayState"), "rs");
        let xml = posted_saml_response(&page);
        assert!(
            xml.contains("<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Requester\"><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext\"></samlp:StatusCode></samlp:StatusCode>"),
            "{id}: {xml}"
        );
        assert!(xml.contains(&format!("InResponseTo=\"{id}\"")), "{xml}");
        assert!(xml.contains(class), "the message names the class: {xml}");
        assert!(!xml.contains("saml:Assertion"), "{xml}");
        let file = fixture.write(&format!("{id}.xml"), xml.as_bytes());
        let (ok, output) = xmlsec_verify(
            &file,
            &certificate,
            "ID|urn:oasis:names:tc:SAML:2.0:protocol:Response",
        );
        assert!(ok, "{output}");
        let (ok, output) = xmllint_schema(&file, "saml-schema-protocol-2.0.xsd");
        assert!(ok, "{output}");
    }
    // The request was not used for a sign-in, so no flow started and nothing was issued.
    let events: Vec<AuditEvent> = fixture.store.audit_events(50).await.expect("audit");
    assert!(!events.iter().any(|e| e.action == "federation.issue"));
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn satisfiable_authn_context_is_stated_in_the_assertion() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let now = VALIDATION_TIME;
    for (id, comparison, classes, stated) in [
        // Microsoft 365's request when it needs no particular method.
        ("_min_ppt", Some("minimum"), &[PPT_CLASS][..], X509_CLASS),
        ("_min_x509", Some("minimum"), &[X509_CLASS][..], X509_CLASS),
        ("_better_ppt", Some("better"), &[PPT_CLASS][..], X509_CLASS),
        ("_exact_x509", None, &[X509_CLASS][..], X509_CLASS),
        (
            "_exact_tls",
            Some("exact"),
            &[TLS_CLIENT_CLASS][..],
            TLS_CLIENT_CLASS,
        ),
        (
            "_exact_mixed",
            Some("exact"),
            &[
                "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos",
                TLS_CLIENT_CLASS,
            ][..],
            TLS_CLIENT_CLASS,
        ),
        ("_max_x509", Some("maximum"), &[X509_CLASS][..], X509_CLASS),
    ] {
        let request = authn_request(
            id,
            SP_ENTITY,
            SP_ACS,
            now,
            &requested_authn_context(comparison, classes),
        );
        let page = fixture
            .sign_in(&format!(
                "/federation/saml/sso?{}",
                redirect_query(&request, None)
            ))
            .await;
        let response = posted_saml_response(&page);
        assert!(response.contains("urn:oasis:names:tc:SAML:2.0:status:Success"));
        assert_eq!(stated_class(&response), stated, "{id}: {response}");
    }
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_password_class_follows_the_relying_party_password_setting() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let now = VALIDATION_TIME;
    // Comparison absent means exact.
    let refused_request = authn_request(
        "_ppt1",
        SP_ENTITY,
        SP_ACS,
        now,
        &requested_authn_context(None, &[PPT_CLASS]),
    );
    let (status, _, body) = fixture
        .get(
            &format!(
                "/federation/saml/sso?{}",
                redirect_query(&refused_request, None)
            ),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("<code>saml-password-requested</code>"),
        "{body}"
    );
    assert!(body.contains("PromptLoginBehavior"), "{body}");
    assert!(body.contains("--password-requests fresh-certificate"));
    assert!(!body.contains("SAMLResponse"));

    set_relying_party(
        &*fixture.store,
        "Test SP",
        |mut draft| {
            draft.password_requests = PasswordRequests::FreshCertificate;
            Ok(draft)
        },
        UnixTime(now),
        "test",
    )
    .await
    .expect("set");
    let request = authn_request(
        "_ppt2",
        SP_ENTITY,
        SP_ACS,
        now,
        &requested_authn_context(Some("exact"), &[PPT_CLASS]),
    );
    let page = fixture
        .sign_in(&format!(
            "/federation/saml/sso?{}",
            redirect_query(&request, None)
        ))
        .await;
    let response = posted_saml_response(&page);
    assert!(response.contains("InResponseTo=\"_ppt2\""), "{response}");
    // The assertion says how the user really signed in.
    assert_eq!(stated_class(&response), X509_CLASS, "{response}");
    let events: Vec<AuditEvent> = fixture.store.audit_events(50).await.expect("audit");
    assert!(events
        .iter()
        .any(|e| e.action == "federation.password-request-replaced"
            && e.detail.contains("PasswordProtectedTransport")));
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stronger_than_certificate_requests_need_the_second_factor() {
    use certgate_core::totp::code_at;
    let fixture = Fixture::new(Backend::Sqlite).await;
    let now = VALIDATION_TIME;
    // Without a second factor enrolled, `better` X509 and multipleauthn lead to the
    // access pass page (the certificate alone cannot enroll one), not to a token.
    for (id, comparison, class) in [
        ("_better_x509", Some("better"), X509_CLASS),
        ("_mfa", None, MULTIPLE_AUTHN_CLASS),
        ("_min_mfa", Some("minimum"), MULTIPLE_AUTHN_CLASS),
    ] {
        let request = authn_request(
            id,
            SP_ENTITY,
            SP_ACS,
            now,
            &requested_authn_context(comparison, &[class]),
        );
        let page = fixture
            .sign_in(&format!(
                "/federation/saml/sso?{}",
                redirect_query(&request, None)
            ))
            .await;
        assert!(
            page.contains("second-factor-enrollment-requires-access-pass"),
            "{id}: {page}"
        );
        assert!(!page.contains("SAMLResponse"), "{id}: {page}");
    }

    let enrollment = enroll_alice_in_totp(&fixture).await;
    let clock: Arc<dyn Clock> = Arc::clone(&fixture.clock) as Arc<dyn Clock>;
    // With the code: `better` X509 states multipleauthn; `maximum` X509 states X509 although
    // the sign-in was multi-factor (a class no stronger than asked).
    for (id, comparison, class, stated) in [
        (
            "_better_x509_code",
            "better",
            X509_CLASS,
            MULTIPLE_AUTHN_CLASS,
        ),
        ("_max_x509_code", "maximum", X509_CLASS, X509_CLASS),
    ] {
        // A code is accepted once: each sign-in uses the next time step.
        fixture.clock.advance(30);
        let request = authn_request(
            id,
            SP_ENTITY,
            SP_ACS,
            clock.now().0,
            &requested_authn_context(Some(comparison), &[class]),
        );
        let (status, cookie, body) = fixture
            .get(
                &format!("/federation/saml/sso?{}", redirect_query(&request, None)),
                None,
            )
            .await;
        let (status, page, cookie) = fixture
            .continue_sign_in_with_cookie((status, cookie, body))
            .await;
        assert_eq!(status, 200, "{id}: {page}");
        assert!(page.contains("one-time code"), "{id}: {page}");
        let flow = between(&page, "name=\"flow\" value=\"", "\"").to_owned();
        let code = code_at(&enrollment.secret, clock.now());
        let response = fixture
            .client(false)
            .post(fixture.web("/signin/totp"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("flow={}&code={code}", encode(&flow)))
            .send()
            .await
            .expect("code");
        assert_eq!(response.status().as_u16(), 200);
        let page = response.text().await.expect("page");
        let xml = posted_saml_response(&page);
        assert_eq!(stated_class(&xml), stated, "{id}: {xml}");
    }
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_not_posted_to_a_reply_url_removed_during_the_sign_in() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let removed_acs = "https://sp.test/acs2";
    let request = authn_request("_removed", SP_ENTITY, removed_acs, VALIDATION_TIME, "");
    let started = fixture
        .get(
            &format!("/federation/saml/sso?{}", redirect_query(&request, None)),
            None,
        )
        .await;
    assert_eq!(started.0, 200, "{}", started.2);
    // The administrator removes the address while the person signs in.
    set_relying_party(
        &*fixture.store,
        "Test SP",
        |mut draft| {
            draft.reply_urls = vec![SP_ACS.into()];
            Ok(draft)
        },
        UnixTime(VALIDATION_TIME),
        "test",
    )
    .await
    .expect("set");
    let (status, body) = fixture.continue_sign_in_to_end(started).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("<code>federation-reply-url-not-registered</code>"),
        "{body}"
    );
    assert!(body.contains(removed_acs), "{body}");
    assert!(!body.contains("SAMLResponse"), "{body}");
    assert!(!body.contains("action="), "{body}");
    let events: Vec<AuditEvent> = fixture.store.audit_events(50).await.expect("audit");
    assert!(!events.iter().any(|e| e.action == "federation.issue"));

    // Addresses still registered keep working.
    let kept = authn_request("_kept", SP_ENTITY, SP_ACS, VALIDATION_TIME, "");
    let page = fixture
        .sign_in(&format!(
            "/federation/saml/sso?{}",
            redirect_query(&kept, None)
        ))
        .await;
    assert!(page.contains(&format!("action=\"{SP_ACS}\"")), "{page}");
    fixture.server.stop().await;
}

// ---- The domain password after the certificate, checked by a real Samba AD DC ------------------

#[path = "../../certgate-ldap/tests/samba_dc/mod.rs"]
mod samba_dc;

/// alice's domain password in the test DC.
const DOMAIN_PASSWORD: &str = "Al1ce-Domain!pw";
/// certgate's lockout in these tests: three wrong passwords in a row.
const LOCKOUT_AFTER: u32 = 3;
const WSFED_PASSWORD_REQUEST: &str = "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wfresh=0&wauth=urn%3Aoasis%3Anames%3Atc%3ASAML%3A1.0%3Aam%3Apassword&wctx=ctx-1";

/// The test DC with an account whose UPN is the test PKI's alice (alice@corp.example: AD takes
/// any UPN suffix written over LDAP), created once per test binary.
fn domain_controller() -> &'static samba_dc::SambaDc {
    static ACCOUNT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let dc = samba_dc::dc();
    ACCOUNT.get_or_init(|| {
        let password: Vec<u8> = format!("\"{DOMAIN_PASSWORD}\"")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        dc.ldapmodify(&format!(
            "dn: CN=alice-corp,{}\nchangetype: add\nobjectClass: user\nsAMAccountName: alice-corp\n\
             userPrincipalName: alice@corp.example\nunicodePwd:: {}\nuserAccountControl: 512\n\n",
            samba_dc::STAFF_OU,
            STANDARD.encode(password)
        ));
    });
    dc
}

/// certgate-ldap's verifier against `url`, trusting `ca_file`, with certgate's lockout after
/// [`LOCKOUT_AFTER`] wrong passwords.
fn domain_password_check(url: &str, ca_file: &Path) -> Arc<DomainPasswordCheck> {
    use certgate_ldap::{BindName, LdapDirectory, LdapPasswordVerifier, LdapSourceConfig};
    let mut config = LdapSourceConfig::new(
        url,
        certgate_ldap::Transport::Ldaps,
        ca_file,
        "CN=unused-for-password-checks",
        certgate_ldap::PasswordSource::Environment("UNUSED".into()),
        samba_dc::BASE_DN,
    );
    config.connect_timeout = std::time::Duration::from_secs(2);
    config.operation_timeout = std::time::Duration::from_secs(2);
    Arc::new(DomainPasswordCheck::new(
        LdapPasswordVerifier::new(LdapDirectory::new(config).expect("settings"), BindName::Upn),
        certgate_core::domain_password::LockoutPolicy {
            max_failures: std::num::NonZeroU32::new(LOCKOUT_AFTER).expect("non-zero"),
            lockout_seconds: 900,
        },
    ))
}

async fn set_password_requests(fixture: &Fixture, rp: &str, requests: PasswordRequests) {
    set_relying_party(
        &*fixture.store,
        rp,
        |mut draft| {
            draft.password_requests = requests;
            Ok(draft)
        },
        UnixTime(VALIDATION_TIME),
        "test",
    )
    .await
    .expect("set");
}

/// A fixture whose Microsoft 365 (WS-Fed) and Test SP (SAML) meet password requests with the
/// domain password, checked by the test DC.
async fn domain_password_fixture() -> Fixture {
    let dc = domain_controller();
    let fixture = Fixture::with_domain_password(
        Backend::Sqlite,
        Some(domain_password_check("ldaps://127.0.0.1", &dc.ca_file)),
    )
    .await;
    for rp in ["Microsoft 365", "Test SP"] {
        set_password_requests(&fixture, rp, PasswordRequests::DomainPassword).await;
    }
    fixture
}

/// A sign-in started at `start` up to the page after the certificate: the cookie the
/// certificate step set, the flow ID and that page (the domain password form).
async fn to_the_password_page(fixture: &Fixture, start: &str) -> (String, String, String) {
    let started = fixture.get(start, None).await;
    let (status, page, cookie) = fixture.continue_sign_in_with_cookie(started).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("action=\"/signin/domain-password\"") && page.contains("type=\"password\""),
        "the password is asked for: {page}"
    );
    let flow = between(&page, "name=\"flow\" value=\"", "\"").to_owned();
    (cookie, flow, page)
}

/// The reason code at the end of the password page's alert: `message (code)`.
fn alert_code(page: &str) -> String {
    between(page, "role=\"alert\">", "</p>")
        .rsplit_once('(')
        .and_then(|(_, code)| code.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no reason code in {page}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wsfed_password_request_is_met_by_certificate_and_domain_password() {
    let fixture = domain_password_fixture().await;
    let started = fixture.get(WSFED_PASSWORD_REQUEST, None).await;
    let planted = started.1.clone().expect("the start's cookie");
    let (status, page, mut cookie) = fixture.continue_sign_in_with_cookie(started).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("action=\"/signin/domain-password\""),
        "{page}"
    );
    let flow = between(&page, "name=\"flow\" value=\"", "\"").to_owned();

    // The cookie from before the certificate step is worthless now.
    let mut stale = planted;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut stale,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("<code>flow-not-this-browser</code>"),
        "{page}"
    );
    // The continue page of a flow waiting for the password shows the password form again,
    // never the token.
    let (status, _, page) = fixture
        .get(&format!("/signin/continue?flow={flow}"), Some(&cookie))
        .await;
    assert_eq!(status, 200);
    assert!(!page.contains("wresult"), "{page}");

    // A wrong password, then an empty one, then the right one.
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", "Not-the-Passw0rd")],
    )
    .await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("(domain-password-wrong)"), "{page}");
    assert!(!page.contains("Not-the-Passw0rd"));
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", "")],
    )
    .await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("(domain-password-empty)"), "{page}");
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(form_field(&page, "wctx"), "ctx-1");
    let rstr = form_field(&page, "wresult");
    // The method asked for and really used, with every method in authnmethodsreferences.
    assert_signed_token_of_certificate_and_password(
        &fixture,
        &rstr,
        "urn:oasis:names:tc:SAML:1.0:am:password",
        "rstr-password.xml",
    )
    .await;

    // The audit log has the request, each check with its code, and the token; never the
    // password.
    let events: Vec<AuditEvent> = fixture.store.audit_events(100).await.expect("audit");
    assert!(events
        .iter()
        .any(|e| e.action == "federation.domain-password-requested"));
    let checks: Vec<&str> = events
        .iter()
        .filter(|e| e.action == "signin.domain-password")
        .map(|e| e.outcome.as_str())
        .collect();
    for outcome in ["domain-password-wrong", "domain-password-empty", "ok"] {
        assert!(checks.contains(&outcome), "{outcome} in {checks:?}");
    }
    let issued = events
        .iter()
        .find(|e| e.action == "federation.issue")
        .expect("issued");
    assert!(
        issued.detail.contains("+ domain password"),
        "{}",
        issued.detail
    );
    assert!(events
        .iter()
        .all(|e| !e.detail.contains(DOMAIN_PASSWORD) && !e.detail.contains("Not-the-Passw0rd")));
    // The sign-in log: the certificate sign-in and each password check, under one
    // correlation ID, with the exact reason code.
    use certgate_core::signin::{SignInLog, SignInQuery};
    let signins = fixture
        .store
        .signins(&SignInQuery {
            user: Some("alice@corp.example".into()),
            result: None,
            reason_code: None,
            since: None,
            limit: 20,
        })
        .await
        .expect("sign-in log");
    let password_steps: Vec<(&str, &str)> = signins
        .iter()
        .filter(|record| record.application == "domain-password")
        .map(|record| (record.reason_code.as_str(), record.correlation_id.as_str()))
        .collect();
    assert_eq!(
        password_steps
            .iter()
            .map(|(code, _)| *code)
            .collect::<Vec<_>>(),
        ["ok", "domain-password-empty", "domain-password-wrong"],
        "newest first"
    );
    let certificate_step = signins
        .iter()
        .find(|record| record.application != "domain-password")
        .expect("the certificate sign-in");
    assert!(password_steps
        .iter()
        .all(|(_, correlation)| *correlation == certificate_step.correlation_id));
    assert!(signins
        .iter()
        .all(|record| !record.detail.contains(DOMAIN_PASSWORD)));
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_password_protected_transport_is_met_by_certificate_and_domain_password() {
    let fixture = domain_password_fixture().await;
    let request = authn_request(
        "_ppt_domain",
        SP_ENTITY,
        SP_ACS,
        VALIDATION_TIME,
        &requested_authn_context(Some("exact"), &[PPT_CLASS]),
    );
    let start = format!("/federation/saml/sso?{}", redirect_query(&request, None));
    let (mut cookie, flow, _) = to_the_password_page(&fixture, &start).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let response = posted_saml_response(&page);
    assert!(
        response.contains("InResponseTo=\"_ppt_domain\""),
        "{response}"
    );
    assert_eq!(stated_class(&response), PPT_CLASS);
    let certificate = fixture.signing_certificate_pem().await;
    let document = fixture.write("ppt.xml", response.as_bytes());
    let (ok, output) = xmlsec_verify(
        &document,
        &certificate,
        "ID|urn:oasis:names:tc:SAML:2.0:protocol:Response",
    );
    assert!(ok, "{output}");
    let (ok, output) = xmllint_schema(&document, "saml-schema-protocol-2.0.xsd");
    assert!(ok, "{output}");
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_domain_passwords_lock_the_step_at_certgate() {
    let fixture = domain_password_fixture().await;
    let (mut cookie, flow, _) = to_the_password_page(&fixture, WSFED_PASSWORD_REQUEST).await;
    let mut codes = Vec::new();
    for _ in 0..LOCKOUT_AFTER {
        let (_, page) = post_in_flow(
            &fixture,
            "/signin/domain-password",
            &mut cookie,
            &[("flow", &flow), ("password", "Wr0ng-password")],
        )
        .await;
        codes.push(alert_code(&page));
    }
    assert_eq!(
        codes,
        [
            "domain-password-wrong",
            "domain-password-wrong",
            "domain-password-locked-out"
        ]
    );
    // Locked: even the right password is not checked, in this flow or a new one.
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("(domain-password-locked-out)"), "{page}");
    let (mut cookie, flow, _) = to_the_password_page(&fixture, WSFED_PASSWORD_REQUEST).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 429, "{page}");
    // The lockout ends with its time (the clock is the test's).
    fixture.clock.advance(901);
    let (mut cookie, flow, _) = to_the_password_page(&fixture, WSFED_PASSWORD_REQUEST).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"wresult\""), "{page}");
    fixture.server.stop().await;
}

/// certgate's lockout lives in the store: failures recorded by two checks (two nodes, or one
/// node before and after a restart) on one database count together, a lockout one of them set
/// refuses the right password on the other and on the web listener, and a success anywhere
/// after it ends resets the count for all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lockout_is_shared_by_nodes_and_survives_a_restart() {
    use certgate_core::directory::UserStore as _;
    use certgate_core::domain_password::{
        DomainAccount, DomainPassword, DomainPasswordError, DomainPasswordLockoutStore as _,
        LockoutState,
    };
    let dc = domain_controller();
    let fixture = domain_password_fixture().await;
    let alice = fixture
        .store
        .user_by_upn("alice@corp.example")
        .await
        .expect("read")
        .expect("alice");
    let user_id = alice.id.as_str();
    let account = DomainAccount {
        upn: "alice@corp.example".into(),
        dn: None,
    };
    let wrong = DomainPassword::new("Wr0ng-password".into()).expect("password");
    let right = DomainPassword::new(DOMAIN_PASSWORD.into()).expect("password");
    let now = fixture.clock.now();
    let node_a = domain_password_check("ldaps://127.0.0.1", &dc.ca_file);
    let node_b = domain_password_check("ldaps://127.0.0.1", &dc.ca_file);
    let store = &*fixture.store;

    // Wrong passwords alternate between the nodes: the third one, wherever it lands, locks.
    assert_eq!(
        node_a.verify(store, user_id, &account, &wrong, now).await,
        Err(DomainPasswordError::Wrong)
    );
    assert_eq!(
        node_b.verify(store, user_id, &account, &wrong, now).await,
        Err(DomainPasswordError::Wrong)
    );
    let until = UnixTime(now.0 + 900);
    assert_eq!(
        node_a.verify(store, user_id, &account, &wrong, now).await,
        Err(DomainPasswordError::LockedOut { until })
    );
    // Node B never saw the third failure, and a restarted node A (a new check) saw none: both
    // refuse the right password.
    drop(node_a);
    let restarted_a = domain_password_check("ldaps://127.0.0.1", &dc.ca_file);
    for check in [&node_b, &restarted_a] {
        assert_eq!(
            check.verify(store, user_id, &account, &right, now).await,
            Err(DomainPasswordError::LockedOut { until })
        );
    }
    // So does the web listener, whose check is yet another one on the same store.
    let (mut cookie, flow, _) = to_the_password_page(&fixture, WSFED_PASSWORD_REQUEST).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 429, "{page}");
    assert!(page.contains("(domain-password-locked-out)"), "{page}");

    // After the lockout the right password on one node resets the count for every node.
    let later = UnixTime(until.0 + 1);
    assert_eq!(
        node_b.verify(store, user_id, &account, &right, later).await,
        Ok(())
    );
    assert_eq!(
        store
            .password_lockout(user_id)
            .await
            .expect("read")
            .map(|stored| stored.state),
        Some(LockoutState::default())
    );
    assert_eq!(
        restarted_a
            .verify(store, user_id, &account, &wrong, later)
            .await,
        Err(DomainPasswordError::Wrong)
    );
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_password_request_without_a_directory_is_refused() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    set_password_requests(&fixture, "Microsoft 365", PasswordRequests::DomainPassword).await;
    refused(
        &fixture,
        WSFED_PASSWORD_REQUEST,
        503,
        "domain-password-not-configured",
    )
    .await;
    // A request that asks for no password signs in with the certificate as before.
    let page = fixture
        .sign_in("/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline")
        .await;
    assert!(page.contains("name=\"wresult\""), "{page}");
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_directory_or_an_untrusted_one_is_a_clear_refusal() {
    let dc = domain_controller();
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let dead = format!(
        "ldaps://127.0.0.1:{}",
        free.local_addr().expect("addr").port()
    );
    drop(free);
    for (url, ca_file, code) in [
        (
            dead.as_str(),
            &dc.ca_file,
            "domain-password-directory-unreachable",
        ),
        (
            "ldaps://127.0.0.1",
            &dc.unrelated_ca_file,
            "domain-password-directory-tls-failed",
        ),
    ] {
        let fixture = Fixture::with_domain_password(
            Backend::Sqlite,
            Some(domain_password_check(url, ca_file)),
        )
        .await;
        set_password_requests(&fixture, "Microsoft 365", PasswordRequests::DomainPassword).await;
        let (mut cookie, flow, _) = to_the_password_page(&fixture, WSFED_PASSWORD_REQUEST).await;
        let (status, page) = post_in_flow(
            &fixture,
            "/signin/domain-password",
            &mut cookie,
            &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
        )
        .await;
        assert_eq!(status, 503, "{url}: {page}");
        assert!(page.contains(&format!("({code})")), "{url}: {page}");
        // The flow still waits for the password: nothing was issued.
        let events: Vec<AuditEvent> = fixture.store.audit_events(50).await.expect("audit");
        assert!(!events.iter().any(|e| e.action == "federation.issue"));
        assert!(events
            .iter()
            .any(|e| e.action == "signin.domain-password" && e.outcome == code));
        fixture.server.stop().await;
    }
}

// ---- Applications that ask every sign-in for the domain password -------------------------

async fn set_require_domain_password(fixture: &Fixture, rp: &str, require: bool) {
    set_relying_party(
        &*fixture.store,
        rp,
        |mut draft| {
            draft.require_domain_password = require;
            Ok(draft)
        },
        UnixTime(VALIDATION_TIME),
        "test",
    )
    .await
    .expect("set");
}

const WSFED_PLAIN_SIGN_IN: &str =
    "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wctx=ctx-2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relying_party_that_always_asks_gets_the_domain_password_without_a_request() {
    let dc = domain_controller();
    let fixture = Fixture::with_domain_password(
        Backend::Sqlite,
        Some(domain_password_check("ldaps://127.0.0.1", &dc.ca_file)),
    )
    .await;
    // Password requests stay refused (the default): the setting alone asks for it.
    set_require_domain_password(&fixture, "Microsoft 365", true).await;

    // No wauth at all: the password page after the certificate.
    let (mut cookie, flow, _) = to_the_password_page(&fixture, WSFED_PLAIN_SIGN_IN).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", "Not-the-Passw0rd")],
    )
    .await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("(domain-password-wrong)"), "{page}");
    assert!(!page.contains("wresult"), "{page}");
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(form_field(&page, "wctx"), "ctx-2");
    let rstr = form_field(&page, "wresult");
    // Nobody asked for a password sign-in: certificate + password are stated as the two
    // factors they are, each method listed.
    assert_signed_token_of_certificate_and_password(
        &fixture,
        &rstr,
        "http://schemas.microsoft.com/claims/multipleauthn",
        "rstr-always.xml",
    )
    .await;

    // The relying party asks for multi-factor (wauth multipleauthn, what Entra sends when it
    // leaves MFA to the federation service): certificate + domain password meet it, so a user
    // with no authenticator gets the token, not the access pass page.
    let asks_mfa = "/federation/wsfed?wa=wsignin1.0&wtrealm=urn%3Afederation%3AMicrosoftOnline&wctx=ctx-3&wauth=http%3A%2F%2Fschemas.microsoft.com%2Fclaims%2Fmultipleauthn";
    let (mut cookie, flow, _) = to_the_password_page(&fixture, asks_mfa).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        !page.contains("second-factor-enrollment-requires-access-pass"),
        "{page}"
    );
    assert_eq!(form_field(&page, "wctx"), "ctx-3", "{page}");
    let rstr = form_field(&page, "wresult");
    assert!(
        rstr.contains("AuthenticationMethod=\"http://schemas.microsoft.com/claims/multipleauthn\""),
        "{rstr}"
    );

    // A password request, which `refuse` would refuse, is met by the password the setting
    // asks anyway, and stated as asked.
    let (mut cookie, flow, _) = to_the_password_page(&fixture, WSFED_PASSWORD_REQUEST).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let rstr = form_field(&page, "wresult");
    assert!(
        rstr.contains("AuthenticationMethod=\"urn:oasis:names:tc:SAML:1.0:am:password\""),
        "{rstr}"
    );

    // A relying party without the setting signs in with the certificate as before.
    let request = authn_request("_no_password", SP_ENTITY, SP_ACS, VALIDATION_TIME, "");
    let start = format!("/federation/saml/sso?{}", redirect_query(&request, None));
    let page = fixture.sign_in(&start).await;
    assert!(!page.contains("/signin/domain-password"), "{page}");
    let response = posted_saml_response(&page);
    assert_eq!(
        stated_class(&response),
        "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
    );

    // With the setting, the same SAML request goes through the password page, and the
    // assertion states the two factors.
    set_require_domain_password(&fixture, "Test SP", true).await;
    let request = authn_request("_always_password", SP_ENTITY, SP_ACS, VALIDATION_TIME, "");
    let start = format!("/federation/saml/sso?{}", redirect_query(&request, None));
    let (mut cookie, flow, _) = to_the_password_page(&fixture, &start).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let response = posted_saml_response(&page);
    assert_eq!(stated_class(&response), MULTIPLE_AUTHN_CLASS);
    let document = fixture.write("always-saml.xml", response.as_bytes());
    let certificate = fixture.signing_certificate_pem().await;
    let (ok, output) = xmlsec_verify(
        &document,
        &certificate,
        "ID|urn:oasis:names:tc:SAML:2.0:protocol:Response",
    );
    assert!(ok, "{output}");

    // Switched off: the plain WS-Fed sign-in needs no password again.
    set_require_domain_password(&fixture, "Microsoft 365", false).await;
    let page = fixture.sign_in(WSFED_PLAIN_SIGN_IN).await;
    assert!(page.contains("name=\"wresult\""), "{page}");
    fixture.server.stop().await;
}

const OIDC_REDIRECT: &str = "https://mail-app.test/callback";
const PKCE_VERIFIER: &str = "a-verifier-that-is-long-enough-for-rfc-7636-section-4-1-xyz";

/// Registers a public OpenID Connect client (PKCE, no confirmation page, refresh tokens).
async fn register_oidc_client(fixture: &Fixture, client_id: &str, require_domain_password: bool) {
    use certgate_oidc::{ClientId, ClientKind, ConsentPrompt, NewClient, ScopeSet, TokenLifetimes};
    certgate_oidc::register_client(
        &*fixture.store,
        NewClient {
            client_id: ClientId::parse(client_id).expect("client id"),
            display_name: format!("Mail app {client_id}"),
            kind: ClientKind::Public,
            redirect_uris: vec![OIDC_REDIRECT.into()],
            post_logout_redirect_uris: vec![],
            consent: ConsentPrompt::Skip,
            allowed_scopes: ScopeSet::parse("openid profile offline_access").expect("scopes"),
            lifetimes: TokenLifetimes::default(),
            require_domain_password,
        },
        std::time::Duration::from_secs(3600),
        UnixTime(VALIDATION_TIME),
        "test",
    )
    .await
    .expect("client");
}

fn oidc_authorize(client_id: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        PKCE_VERIFIER.as_bytes(),
    ));
    format!(
        "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
        encode(OIDC_REDIRECT),
        encode("openid profile offline_access")
    )
}

/// POSTs a form in a flow and answers the redirect's location (the cookie follows the flow).
async fn post_for_location(
    fixture: &Fixture,
    path: &str,
    cookie: &mut String,
    form: &[(&str, &str)],
) -> String {
    let response = fixture
        .client(false)
        .post(fixture.web(path))
        .header("cookie", cookie.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form.iter()
                .map(|(name, value)| format!("{name}={}", encode(value)))
                .collect::<Vec<_>>()
                .join("&"),
        )
        .send()
        .await
        .expect("request");
    if let Some(set) = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
    {
        *cookie = set.to_owned();
    }
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match location {
        Some(location) if status == 303 => location,
        _ => panic!("{status}: {}", response.text().await.unwrap_or_default()),
    }
}

/// The token endpoint's answer to `form` (a public client: no authentication).
async fn token_request(fixture: &Fixture, form: &[(&str, &str)]) -> serde_json::Value {
    let body = fixture
        .client(false)
        .post(fixture.web("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form.iter()
                .map(|(name, value)| format!("{name}={}", encode(value)))
                .collect::<Vec<_>>()
                .join("&"),
        )
        .send()
        .await
        .expect("token request")
        .text()
        .await
        .expect("token response");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("token JSON: {body}"))
}

/// The claims of the ID token in a token response.
fn id_token_claims(tokens: &serde_json::Value) -> serde_json::Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let id_token = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no ID token in {tokens}"));
    let payload = id_token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

/// The value of `name` in a URL's query.
fn query_value(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .expect("url")
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_client_that_always_asks_states_pwd_and_mfa_in_amr() {
    use certgate_core::totp::code_at;
    let dc = domain_controller();
    let fixture = Fixture::with_domain_password(
        Backend::Sqlite,
        Some(domain_password_check("ldaps://127.0.0.1", &dc.ca_file)),
    )
    .await;
    register_oidc_client(&fixture, "mail-always", true).await;
    register_oidc_client(&fixture, "mail-plain", false).await;
    // Alice has an authenticator: the one-time code comes after the password.
    let enrollment = enroll_alice_in_totp(&fixture).await;
    let clock: Arc<dyn Clock> = Arc::clone(&fixture.clock) as Arc<dyn Clock>;

    // certificate → domain password → one-time code → the authorization code.
    fixture.clock.advance(30);
    let (mut cookie, flow, _) =
        to_the_password_page(&fixture, &oidc_authorize("mail-always")).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", DOMAIN_PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("action=\"/signin/totp\""),
        "the one-time code comes next: {page}"
    );
    let code = code_at(&enrollment.secret, clock.now());
    let location = post_for_location(
        &fixture,
        "/signin/totp",
        &mut cookie,
        &[("flow", &flow), ("code", &code)],
    )
    .await;
    assert!(location.starts_with(OIDC_REDIRECT), "{location}");
    let tokens = token_request(
        &fixture,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query_value(&location, "code")),
            ("redirect_uri", OIDC_REDIRECT),
            ("client_id", "mail-always"),
            ("code_verifier", PKCE_VERIFIER),
        ],
    )
    .await;
    let claims = id_token_claims(&tokens);
    assert_eq!(
        claims["amr"],
        serde_json::json!(["swk", "pwd", "otp", "mfa"]),
        "{claims}"
    );
    assert_eq!(claims["acr"], certgate_oidc::ACR_MFA, "{claims}");
    // A refresh states what the sign-in did, no more and no less.
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh token");
    fixture.clock.advance(60);
    let refreshed = token_request(
        &fixture,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "mail-always"),
        ],
    )
    .await;
    let claims = id_token_claims(&refreshed);
    assert_eq!(
        claims["amr"],
        serde_json::json!(["swk", "pwd", "otp", "mfa"]),
        "{claims}"
    );

    // A wrong password issues nothing: the flow waits at the password.
    fixture.clock.advance(30);
    let (mut cookie, flow, _) =
        to_the_password_page(&fixture, &oidc_authorize("mail-always")).await;
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/domain-password",
        &mut cookie,
        &[("flow", &flow), ("password", "Not-the-Passw0rd")],
    )
    .await;
    assert_eq!(status, 401, "{page}");
    assert!(page.contains("(domain-password-wrong)"), "{page}");
    let (status, page) = post_in_flow(
        &fixture,
        "/signin/totp",
        &mut cookie,
        &[
            ("flow", &flow),
            ("code", &code_at(&enrollment.secret, clock.now())),
        ],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("flow-step-wrong"), "{page}");

    // A client without the setting: no password page, and no pwd in amr.
    fixture.clock.advance(30);
    let started = fixture.get(&oidc_authorize("mail-plain"), None).await;
    let (status, page, mut cookie) = fixture.continue_sign_in_with_cookie(started).await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("/signin/domain-password"), "{page}");
    assert!(page.contains("action=\"/signin/totp\""), "{page}");
    let flow = between(&page, "name=\"flow\" value=\"", "\"").to_owned();
    let code = code_at(&enrollment.secret, clock.now());
    let location = post_for_location(
        &fixture,
        "/signin/totp",
        &mut cookie,
        &[("flow", &flow), ("code", &code)],
    )
    .await;
    let tokens = token_request(
        &fixture,
        &[
            ("grant_type", "authorization_code"),
            ("code", &query_value(&location, "code")),
            ("redirect_uri", OIDC_REDIRECT),
            ("client_id", "mail-plain"),
            ("code_verifier", PKCE_VERIFIER),
        ],
    )
    .await;
    let claims = id_token_claims(&tokens);
    assert_eq!(
        claims["amr"],
        serde_json::json!(["swk", "otp", "mfa"]),
        "{claims}"
    );
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_that_always_asks_is_refused_without_a_directory() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    set_require_domain_password(&fixture, "Microsoft 365", true).await;
    refused(
        &fixture,
        WSFED_PLAIN_SIGN_IN,
        503,
        "domain-password-not-configured",
    )
    .await;
    register_oidc_client(&fixture, "mail-always", true).await;
    let (status, _, body) = fixture.get(&oidc_authorize("mail-always"), None).await;
    assert_eq!(status, 303, "{body}");
    let response = fixture
        .client(false)
        .get(fixture.web(&oidc_authorize("mail-always")))
        .send()
        .await
        .expect("authorize");
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with(OIDC_REDIRECT), "{location}");
    assert_eq!(query_value(&location, "error"), "temporarily_unavailable");
    assert!(
        query_value(&location, "error_description").starts_with("domain-password-not-configured"),
        "{location}"
    );
    // No flow was started: nothing to sign in to.
    assert!(!body.contains("/certauth?flow="), "{body}");
    // Without the setting, both sign in with the certificate as before.
    set_require_domain_password(&fixture, "Microsoft 365", false).await;
    let page = fixture.sign_in(WSFED_PLAIN_SIGN_IN).await;
    assert!(page.contains("name=\"wresult\""), "{page}");
    fixture.server.stop().await;
}

/// A WS-Fed token after certificate + domain password: `stated` as its AuthenticationMethod,
/// every method used in authnmethodsreferences, signed (xmlsec1 verifies it), and never the
/// password itself.
async fn assert_signed_token_of_certificate_and_password(
    fixture: &Fixture,
    rstr: &str,
    stated: &str,
    file_name: &str,
) {
    assert!(
        rstr.contains(&format!("AuthenticationMethod=\"{stated}\"")),
        "{rstr}"
    );
    for method in [
        "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient",
        "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
        "http://schemas.microsoft.com/claims/multipleauthn",
    ] {
        assert!(
            rstr.contains(&format!(
                "<saml:AttributeValue>{method}</saml:AttributeValue>"
            )),
            "{method} missing from {rstr}"
        );
    }
    assert!(!rstr.contains(DOMAIN_PASSWORD));
    let certificate = fixture.signing_certificate_pem().await;
    let document = fixture.write(file_name, rstr.as_bytes());
    let (ok, output) = xmlsec_verify(
        &document,
        &certificate,
        "AssertionID|urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
    );
    assert!(ok, "{output}");
}

/// Enrolls alice in a one-time-code authenticator through the TOTP service, as the
/// self-service page would, and returns the enrollment (its secret makes her codes).
async fn enroll_alice_in_totp(fixture: &Fixture) -> certgate_core::totp::Enrollment {
    use certgate_core::directory::UserStore;
    use certgate_core::totp::{code_at, TotpService, TotpSettings, WhenEnrolled};
    let user = fixture
        .store
        .user_by_upn("alice@corp.example")
        .await
        .expect("store")
        .expect("alice");
    let settings = TotpSettings::new(
        "Corp",
        common::store_sealing(&*fixture.store, b"test passphrase").await,
    );
    let clock: Arc<dyn Clock> = Arc::clone(&fixture.clock) as Arc<dyn Clock>;
    let service = TotpService::new(&*fixture.store, &clock, &settings, "test");
    let enrollment = service
        .begin_enrollment(user.id.as_str(), "alice@corp.example", WhenEnrolled::Refuse)
        .await
        .expect("enrollment");
    service
        .confirm_enrollment(user.id.as_str(), &code_at(&enrollment.secret, clock.now()))
        .await
        .expect("confirmed");
    enrollment
}
