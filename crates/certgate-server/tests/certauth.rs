//! The certificate sign-in listener, in process on port 0, with real rustls client-certificate
//! handshakes: valid, revoked, expired, untrusted, no certificate, wrong EKU. Each attempt is
//! answered with its reason code, recorded in the sign-in log and counted in the metrics; the
//! CertificateRequest names the CAs flagged as issuer hints.

mod common;

use std::sync::Arc;

use certgate_ca::{issue_client_certificate, Authority, KeyAlgorithm};
use certgate_core::clock::{Clock, FixedClock};
use certgate_core::directory::{add_user, UserDraft};
use certgate_core::signin::{SignInLog, SignInQuery};
use certgate_pki::UnixTime;
use certgate_server::app::{start, RunningServer};
use certgate_store::SqlStore;
use certgate_testpki::{TestPki, VALIDATION_TIME};
use common::{client_request, Backend, Credential, Response, TestDatabase, TestServer, TrustedPki};
use rustls::pki_types::CertificateDer;

struct Fixture {
    server: RunningServer<SqlStore>,
    store: Arc<SqlStore>,
    server_certificate: Vec<u8>,
    pki: TestPki,
    issuing: Authority,
    revoked: Credential,
    _database: TestDatabase,
}

fn at(seconds: i64) -> time::OffsetDateTime {
    certgate_testpki::at(seconds)
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        // Only the issuing CA is named in the CertificateRequest.
        let TrustedPki {
            pki,
            issuing,
            revoked,
            store,
            database,
            ..
        } = TrustedPki::new(backend, "mallory@corp.example", |certificate| {
            !certificate.is_self_issued()
        })
        .await;
        let now = UnixTime(VALIDATION_TIME);
        for (upn, enabled) in [
            ("alice@corp.example", true),
            ("mallory@corp.example", true),
            ("old@corp.example", true),
            ("dana@corp.example", false),
            ("twin1@corp.example", true),
            ("twin2@corp.example", true),
        ] {
            add_user(
                &*store,
                UserDraft {
                    enabled,
                    ..UserDraft::new(upn)
                },
                now,
                "test",
            )
            .await
            .expect("user");
        }

        let (identity, server_certificate) = common::localhost_identity();
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::at(VALIDATION_TIME));
        let server = start(
            Arc::clone(&store),
            clock,
            TestServer::new().certauth(identity).config(),
        )
        .await
        .expect("server starts");
        Fixture {
            server,
            store,
            server_certificate,
            revoked,
            issuing,
            pki,
            _database: database,
        }
    }

    fn valid(&self) -> Credential {
        Credential {
            chain: vec![self.pki.leaf.der.clone(), self.pki.intermediate.der.clone()],
            key_pkcs8: self.pki.leaf.key_pkcs8_der.clone(),
        }
    }

    /// GET /certauth over a real TLS connection, presenting `credential`.
    async fn certauth(&self, credential: Option<&Credential>) -> Response {
        let addr = self.server.certauth_addr.expect("certauth listener");
        common::get_json(addr, &self.server_certificate, "/certauth", credential).await
    }
}

fn assert_rejected(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(response.body["result"], "failure", "{}", response.body);
    assert_eq!(response.body["code"], code, "{}", response.body);
    assert!(response.body["correlationId"]
        .as_str()
        .is_some_and(|c| c.len() == 36));
    assert!(response.body["nextStep"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_certificate_signs_in_and_the_issuing_ca_is_hinted_on_sqlite() {
    valid_certificate_signs_in_and_the_issuing_ca_is_hinted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_certificate_signs_in_and_the_issuing_ca_is_hinted_on_postgres() {
    valid_certificate_signs_in_and_the_issuing_ca_is_hinted(Backend::Postgres).await;
}

async fn valid_certificate_signs_in_and_the_issuing_ca_is_hinted(backend: Backend) {
    let fixture = Fixture::new(backend).await;
    let response = fixture.certauth(Some(&fixture.valid())).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["result"], "success");
    assert_eq!(response.body["certificate"]["upn"][0], "alice@corp.example");
    assert_eq!(
        response.body["user"]["userPrincipalName"],
        "alice@corp.example"
    );
    assert_eq!(
        response.body["bindingRule"],
        "PrincipalName->userPrincipalName"
    );
    assert_eq!(response.body["authenticationStrength"], "single-factor");
    let issuing = certgate_pki::Certificate::from_der(&fixture.pki.intermediate.der).expect("CA");
    assert_eq!(response.hints, vec![issuing.subject().der().to_vec()]);
    let log = fixture
        .store
        .signins(&SignInQuery {
            limit: 10,
            ..SignInQuery::default()
        })
        .await
        .expect("log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].reason_code, "ok");
    assert_eq!(log[0].user.as_deref(), Some("alice@corp.example"));
    assert_eq!(
        log[0].binding_rule.as_deref(),
        Some("PrincipalName->userPrincipalName")
    );
    assert_eq!(log[0].strength.as_deref(), Some("single-factor"));
    assert_eq!(
        log[0].certificate_serial.as_deref(),
        Some(certgate_core::hex(&fixture.pki.leaf.serial).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_certificate_is_refused_with_its_reason_code_and_logged_on_sqlite() {
    each_bad_certificate_is_refused_with_its_reason_code_and_logged(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_certificate_is_refused_with_its_reason_code_and_logged_on_postgres() {
    each_bad_certificate_is_refused_with_its_reason_code_and_logged(Backend::Postgres).await;
}

async fn each_bad_certificate_is_refused_with_its_reason_code_and_logged(backend: Backend) {
    let fixture = Fixture::new(backend).await;

    assert_rejected(
        &fixture.certauth(Some(&fixture.revoked)).await,
        403,
        "cert-revoked",
    );
    assert_rejected(&fixture.certauth(None).await, 401, "no-certificate");

    let expired = Credential::issue(
        &fixture.issuing,
        "old@corp.example",
        30,
        VALIDATION_TIME - 400 * 86_400,
    );
    assert_rejected(&fixture.certauth(Some(&expired)).await, 403, "cert-expired");

    // Another organisation's CA, not trusted here.
    let stranger = certgate_ca::create_hierarchy(
        &certgate_ca::HierarchyRequest {
            organization: "Fabrikam".into(),
            root_common_name: "Fabrikam Root CA".into(),
            issuing_common_name: "Fabrikam Issuing CA".into(),
            key_algorithm: KeyAlgorithm::EcdsaP256,
            root_validity_days: 3650,
            issuing_validity_days: 1825,
            root_crl_url: None,
            root_certificate_url: None,
        },
        at(VALIDATION_TIME - 86_400),
    )
    .expect("stranger CA");
    let stranger_leaf = issue_client_certificate(
        &stranger.issuing,
        &client_request("eve@fabrikam.example", 365),
        at(VALIDATION_TIME - 3600),
    )
    .expect("stranger leaf");
    let untrusted = Credential {
        chain: vec![
            stranger_leaf.certificate_der,
            stranger.issuing.certificate_der().to_vec(),
        ],
        key_pkcs8: stranger_leaf.private_key_pkcs8_der.to_vec(),
    };
    assert_rejected(
        &fixture.certauth(Some(&untrusted)).await,
        403,
        "chain-incomplete",
    );

    // A TLS server certificate from the trusted issuing CA: serverAuth only.
    let issuer_key = rcgen::KeyPair::try_from(fixture.pki.intermediate.key_pkcs8_der.as_slice())
        .expect("issuer key");
    let issuer = rcgen::Issuer::from_ca_cert_der(
        &CertificateDer::from(fixture.pki.intermediate.der.clone()),
        issuer_key,
    )
    .expect("issuer");
    let server_leaf_key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["host.corp.example".into()]).expect("params");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    // RFC 5280 §4.2.1.1: an issued certificate carries an AKI (validation requires it).
    params.use_authority_key_identifier_extension = true;
    params.not_before = at(VALIDATION_TIME - 86_400);
    params.not_after = at(VALIDATION_TIME + 86_400);
    let server_leaf = params
        .signed_by(&server_leaf_key, &issuer)
        .expect("server leaf");
    let wrong_eku = Credential {
        chain: vec![
            server_leaf.der().to_vec(),
            fixture.pki.intermediate.der.clone(),
        ],
        key_pkcs8: server_leaf_key.serialize_der(),
    };
    assert_rejected(
        &fixture.certauth(Some(&wrong_eku)).await,
        403,
        "eku-not-permitted",
    );

    // Valid certificates that map to no user, to two users, or to a disabled one.
    let leaf = |upn: &str| Credential::issue(&fixture.issuing, upn, 365, VALIDATION_TIME - 3600);
    assert_rejected(
        &fixture.certauth(Some(&leaf("nobody@corp.example"))).await,
        403,
        "binding-not-found",
    );
    assert_rejected(
        &fixture.certauth(Some(&leaf("dana@corp.example"))).await,
        403,
        "user-disabled",
    );
    // No UPN, two e-mail addresses naming two users: the RFC822Name rule finds both.
    let mut twins = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    twins.subject_alt_names = vec![
        rcgen::SanType::Rfc822Name("twin1@corp.example".try_into().expect("ia5")),
        rcgen::SanType::Rfc822Name("twin2@corp.example".try_into().expect("ia5")),
    ];
    twins.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    twins.use_authority_key_identifier_extension = true;
    twins.not_before = at(VALIDATION_TIME - 86_400);
    twins.not_after = at(VALIDATION_TIME + 86_400);
    let twins_key = rcgen::KeyPair::generate().expect("key");
    let twins = twins.signed_by(&twins_key, &issuer).expect("twins leaf");
    let twins = Credential {
        chain: vec![twins.der().to_vec(), fixture.pki.intermediate.der.clone()],
        key_pkcs8: twins_key.serialize_der(),
    };
    let ambiguous = fixture.certauth(Some(&twins)).await;
    assert_rejected(&ambiguous, 403, "binding-ambiguous");
    let message = ambiguous.body["message"].as_str().expect("message");
    assert!(
        message.contains("twin1@corp.example") && message.contains("twin2@corp.example"),
        "{message}"
    );

    let log = fixture
        .store
        .signins(&SignInQuery {
            limit: 20,
            ..SignInQuery::default()
        })
        .await
        .expect("log");
    let codes: Vec<&str> = log.iter().map(|r| r.reason_code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "binding-ambiguous",
            "user-disabled",
            "binding-not-found",
            "eku-not-permitted",
            "chain-incomplete",
            "cert-expired",
            "no-certificate",
            "cert-revoked"
        ]
    );
    assert!(log
        .iter()
        .all(|r| r.result == certgate_core::signin::SignInResult::Failure));
    let metrics = fixture.server.metrics.render();
    assert!(
        metrics.contains("certgate_signins_total{result=\"failure\",reason=\"cert-revoked\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_authority_key_identifier_does_not_make_a_sign_in_multi_factor_on_sqlite() {
    a_forged_authority_key_identifier_does_not_make_a_sign_in_multi_factor(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_authority_key_identifier_does_not_make_a_sign_in_multi_factor_on_postgres() {
    a_forged_authority_key_identifier_does_not_make_a_sign_in_multi_factor(Backend::Postgres).await;
}

/// Issue 12 item 3: a second trusted CA writes the first CA's subjectKeyIdentifier into its
/// leaf's authorityKeyIdentifier. The strength rule "issuer SKI of the first CA ->
/// multi-factor" must not apply to that leaf: the issuer is the CA on the validated path.
async fn a_forged_authority_key_identifier_does_not_make_a_sign_in_multi_factor(backend: Backend) {
    use certgate_core::strength::{add_strength_rule, IssuerSelector, Strength, StrengthRuleSpec};
    use certgate_core::trusted_ca::{add_cas, AuthorityType, CaSettings};
    use certgate_testpki::{ChainSpec, KeyKind};

    let TrustedPki {
        pki,
        store,
        database: _database,
        ..
    } = TrustedPki::new(backend, "mallory@corp.example", |_| false).await;
    let now = UnixTime(VALIDATION_TIME);
    let strong_ski = certgate_pki::Certificate::from_der(&pki.intermediate.der)
        .expect("CA")
        .extensions()
        .subject_key_id
        .clone()
        .expect("SKI");
    let forger = TestPki::three_level(&ChainSpec {
        leaf_authority_key_id: Some(strong_ski.clone()),
        serial_seed: 0xF0F0_0001,
        ca_name_prefix: "Fabrikam".into(),
        ..ChainSpec::with_key(KeyKind::EcdsaP256)
    })
    .expect("forger PKI");
    add_cas(
        &*store,
        vec![forger.root.der.clone(), forger.intermediate.der.clone()],
        |certificate| CaSettings {
            display_name: String::new(),
            authority_type: if certificate.is_self_issued() {
                AuthorityType::Root
            } else {
                AuthorityType::Intermediate
            },
            crl_url: None,
            delta_crl_url: None,
            exempt_from_crl_validation: true,
            send_as_issuer_hint: false,
        },
        now,
        "test",
    )
    .await
    .expect("trust the second CA");
    add_user(&*store, UserDraft::new("alice@corp.example"), now, "test")
        .await
        .expect("user");
    add_strength_rule(
        &*store,
        StrengthRuleSpec {
            issuer: Some(IssuerSelector::SubjectKeyIdentifier(certgate_core::hex(
                &strong_ski,
            ))),
            policy_oid: None,
            strength: Strength::MultiFactor,
        },
        now,
        "test",
    )
    .await
    .expect("rule");

    let (identity, server_certificate) = common::localhost_identity();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::at(VALIDATION_TIME));
    let server = start(
        Arc::clone(&store),
        clock,
        TestServer::new().certauth(identity).config(),
    )
    .await
    .expect("server starts");
    let addr = server.certauth_addr.expect("certauth listener");

    let forged = Credential {
        chain: vec![forger.leaf.der.clone(), forger.intermediate.der.clone()],
        key_pkcs8: forger.leaf.key_pkcs8_der.clone(),
    };
    let response = common::get_json(addr, &server_certificate, "/certauth", Some(&forged)).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["authenticationStrength"], "single-factor");

    // The CA the rule names still signs in multi-factor.
    let genuine = Credential {
        chain: vec![pki.leaf.der.clone(), pki.intermediate.der.clone()],
        key_pkcs8: pki.leaf.key_pkcs8_der.clone(),
    };
    let response = common::get_json(addr, &server_certificate, "/certauth", Some(&genuine)).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["authenticationStrength"], "multi-factor");
    let log = store
        .signins(&SignInQuery {
            limit: 10,
            ..SignInQuery::default()
        })
        .await
        .expect("log");
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].strength.as_deref(), Some("single-factor"));
    assert_eq!(log[0].strength.as_deref(), Some("multi-factor"));
    server.stop().await;
}

/// The cipher suite a client offering `suites` (in its order of preference) gets.
async fn negotiated_suite(
    fixture: &Fixture,
    suites: &[rustls::CipherSuite],
) -> rustls::CipherSuite {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites = suites
        .iter()
        .map(|wanted| {
            *rustls::crypto::aws_lc_rs::ALL_CIPHER_SUITES
                .iter()
                .find(|suite| suite.suite() == *wanted)
                .expect("a suite aws-lc-rs has")
        })
        .collect();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(fixture.server_certificate.clone()))
        .expect("server root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(fixture.server.certauth_addr.expect("listener"))
        .await
        .expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").expect("name"),
            tcp,
        )
        .await
        .expect("TLS handshake");
    tls.get_ref()
        .1
        .negotiated_cipher_suite()
        .expect("a suite")
        .suite()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes_128_gcm_is_chosen_unless_the_client_puts_chacha20_first() {
    use rustls::CipherSuite::{
        TLS13_AES_128_GCM_SHA256 as AES128, TLS13_AES_256_GCM_SHA384 as AES256,
        TLS13_CHACHA20_POLY1305_SHA256 as CHACHA,
    };
    let fixture = Fixture::new(Backend::Sqlite).await;
    // OpenSSL's order: AES-256 first. The server picks AES-128 (SHA-256 in hardware).
    assert_eq!(
        negotiated_suite(&fixture, &[AES256, CHACHA, AES128]).await,
        AES128
    );
    assert_eq!(
        negotiated_suite(&fixture, &[AES128, AES256, CHACHA]).await,
        AES128
    );
    // A client without AES hardware says so by putting ChaCha20 first, and gets it.
    assert_eq!(
        negotiated_suite(&fixture, &[CHACHA, AES128, AES256]).await,
        CHACHA
    );
    // What the client offers bounds the choice.
    assert_eq!(negotiated_suite(&fixture, &[AES256]).await, AES256);
}
