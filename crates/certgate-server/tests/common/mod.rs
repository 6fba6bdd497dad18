//! Shared by the server's tests: a rustls client for the certificate sign-in listener, the
//! test PKI trusted in a store, a database per test, and HTTP/1.1 requests read by hand.
#![allow(dead_code)] // each test file uses a part

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certgate_ca::{issue_client_certificate, Authority, ClientCertificateRequest, KeyAlgorithm};
use certgate_core::crl_cache::{CachedCrl, CrlCacheStore, CrlFetchStatus, CrlKind};
use certgate_core::trusted_ca::{add_cas, AuthorityType, CaRecord, CaSettings};
use certgate_pki::{Certificate, Crl, UnixTime};
use certgate_server::certauth::ServerIdentity;
use certgate_store::SqlStore;
use certgate_testpki::{ChainSpec, CrlSpec, KeyKind, TestPki, VALIDATION_TIME};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::sign::CertifiedKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The client's certificate choice, and the CA names the server hinted.
#[derive(Debug)]
struct Presenting {
    key: Option<Arc<CertifiedKey>>,
    hints: Mutex<Vec<Vec<u8>>>,
}

impl ResolvesClientCert for Presenting {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        *self.hints.lock().expect("hints") =
            root_hint_subjects.iter().map(|s| s.to_vec()).collect();
        self.key.clone()
    }
    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

/// A client certificate chain (end entity first) and its PKCS#8 key.
pub(crate) struct Credential {
    pub(crate) chain: Vec<Vec<u8>>,
    pub key_pkcs8: Vec<u8>,
}

impl Credential {
    /// A client certificate for `upn` from `issuing`, valid for `validity_days` from
    /// `not_before` (Unix seconds), with `issuing` in its chain.
    pub(crate) fn issue(
        issuing: &Authority,
        upn: &str,
        validity_days: u32,
        not_before: i64,
    ) -> Credential {
        let issued = issue_client_certificate(
            issuing,
            &client_request(upn, validity_days),
            certgate_testpki::at(not_before),
        )
        .expect("client certificate");
        Credential {
            chain: vec![issued.certificate_der, issuing.certificate_der().to_vec()],
            key_pkcs8: issued.private_key_pkcs8_der.to_vec(),
        }
    }

    /// The end entity's serial number.
    pub(crate) fn serial(&self) -> Vec<u8> {
        Certificate::from_der(&self.chain[0])
            .expect("end entity")
            .serial()
            .to_vec()
    }
}

pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) hints: Vec<Vec<u8>>,
}

/// `GET path` with `Accept: application/json` over a new TLS connection to `addr` (server
/// name "localhost", trusted through `server_root`), presenting `credential`.
pub(crate) async fn get_json(
    addr: SocketAddr,
    server_root: &[u8],
    path: &str,
    credential: Option<&Credential>,
) -> Response {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(server_root.to_vec()))
        .expect("server root");
    let key = credential.map(|credential| {
        let signing = provider
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                credential.key_pkcs8.clone(),
            )))
            .expect("client key");
        Arc::new(CertifiedKey::new(
            credential
                .chain
                .iter()
                .map(|der| CertificateDer::from(der.clone()))
                .collect(),
            signing,
        ))
    });
    let presenting = Arc::new(Presenting {
        key,
        hints: Mutex::new(Vec::new()),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_cert_resolver(presenting.clone());
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut tls = connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("request");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body =
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("JSON body ({e}): {body}"));
    let hints = presenting.hints.lock().expect("hints").clone();
    Response {
        status,
        body,
        hints,
    }
}

/// A request for an ECDSA P-256 client certificate for `upn` (also its e-mail address and
/// common name).
pub(crate) fn client_request(upn: &str, validity_days: u32) -> ClientCertificateRequest {
    ClientCertificateRequest {
        upn: upn.into(),
        email: Some(upn.into()),
        common_name: upn.into(),
        validity_days,
        policy_oids: Vec::new(),
        crl_url: None,
        delta_crl_url: None,
        ca_issuers_url: None,
        key_algorithm: KeyAlgorithm::EcdsaP256,
        not_after_limit: None,
    }
}

/// Where the sign-in tests start: a new test PKI (ECDSA P-256) trusted in a store on a new
/// database, with a current CRL of each CA cached as a successful fetch leaves it, and a client
/// certificate that the issuing CA's CRL lists.
pub(crate) struct TrustedPki {
    pub(crate) pki: TestPki,
    pub(crate) issuing: Authority,
    /// Issued a day before `VALIDATION_TIME`, for a year.
    pub(crate) revoked: Credential,
    /// Root first.
    pub(crate) cas: Vec<CaRecord>,
    pub(crate) store: Arc<SqlStore>,
    pub(crate) database: TestDatabase,
}

impl TrustedPki {
    /// Trusts the PKI at `VALIDATION_TIME`, `issuer_hint` saying which CAs the
    /// CertificateRequest names; the revoked certificate is `revoked_upn`'s.
    pub(crate) async fn new(
        backend: Backend,
        revoked_upn: &str,
        issuer_hint: impl Fn(&Certificate) -> bool,
    ) -> TrustedPki {
        let pki = TestPki::three_level(&ChainSpec::with_key(KeyKind::EcdsaP256)).expect("PKI");
        let issuing = Authority::from_parts(
            pki.intermediate.der.clone(),
            &pki.intermediate.key_pkcs8_der,
        )
        .expect("issuing CA");
        let revoked = Credential::issue(&issuing, revoked_upn, 365, VALIDATION_TIME - 86_400);
        let database = TestDatabase::new(backend);
        let store = Arc::new(SqlStore::connect(&database.url).await.expect("store"));
        let cas = trust(
            &store,
            &pki,
            revoked.serial(),
            UnixTime(VALIDATION_TIME),
            issuer_hint,
        )
        .await;
        TrustedPki {
            pki,
            issuing,
            revoked,
            cas,
            store,
            database,
        }
    }
}

/// Trusts `pki`'s root and issuing CA in `store` at `now` and caches a current CRL of each;
/// the issuing CA's lists `revoked_serial`.
async fn trust(
    store: &SqlStore,
    pki: &TestPki,
    revoked_serial: Vec<u8>,
    now: UnixTime,
    issuer_hint: impl Fn(&Certificate) -> bool,
) -> Vec<CaRecord> {
    let cas = add_cas(
        store,
        vec![pki.root.der.clone(), pki.intermediate.der.clone()],
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
            send_as_issuer_hint: issuer_hint(certificate),
        },
        now,
        "test",
    )
    .await
    .expect("trust");
    let crls = [
        (
            cas[0].id,
            TestPki::crl(&pki.root, &CrlSpec::default()).expect("root CRL"),
        ),
        (
            cas[1].id,
            TestPki::crl(
                &pki.intermediate,
                &CrlSpec {
                    extra_revoked: vec![revoked_serial],
                    ..CrlSpec::default()
                },
            )
            .expect("issuing CRL"),
        ),
    ];
    for (ca, der) in crls {
        cache_crl(store, ca, der, now).await;
    }
    cas
}

/// Puts `der` in the CRL cache as CA `ca`'s base CRL, as a successful fetch at `now` leaves it
/// (what a CRL refresh does; the server's job tick then rebuilds the validation state).
pub(crate) async fn cache_crl(
    store: &SqlStore,
    ca: certgate_core::trusted_ca::CaId,
    der: Vec<u8>,
    now: UnixTime,
) {
    let crl = Crl::from_der(der.clone()).expect("CRL");
    let cached = CachedCrl {
        ca_id: ca,
        kind: CrlKind::Base,
        url: "http://crl.invalid/".into(),
        crl_number: crl.crl_number().expect("number").to_vec(),
        this_update: crl.this_update(),
        next_update: crl.next_update().expect("next update"),
        entry_count: crl.entry_count() as i64,
        der,
        etag: None,
        last_modified: None,
        fetched_at: now,
    };
    let status = CrlFetchStatus {
        ca_id: ca,
        kind: CrlKind::Base,
        last_attempt_at: now,
        last_success_at: Some(now),
        last_error: None,
        consecutive_failures: 0,
        next_attempt_at: UnixTime(now.0 + 3600),
    };
    store
        .put_cached_crl(&cached.to_cache(), &status)
        .await
        .expect("cache CRL");
}

/// A new self-signed ECDSA certificate for "localhost", as the listener's identity, and its
/// DER for the clients to trust.
pub(crate) fn localhost_identity() -> (ServerIdentity, Vec<u8>) {
    let server_key = rcgen::KeyPair::generate().expect("server key");
    let server_certificate = rcgen::CertificateParams::new(vec!["localhost".into()])
        .expect("params")
        .self_signed(&server_key)
        .expect("server certificate");
    let identity = ServerIdentity {
        chain: vec![server_certificate.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
    };
    (identity, server_certificate.der().to_vec())
}

/// A database for one test: a SQLite file in a temporary directory, or a fresh database on
/// the local PostgreSQL (dropped at the end). PostgreSQL must be running at 127.0.0.1:5432
/// (or CERTGATE_TEST_POSTGRES_URL): the PostgreSQL tests fail, saying so, when it is not.
pub(crate) struct TestDatabase {
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl TestDatabase {
    pub(crate) fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                TestDatabase {
                    url: format!("sqlite://{}", dir.path().join("certgate.db").display()),
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                use std::sync::atomic::{AtomicU32, Ordering};
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let admin = std::env::var("CERTGATE_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
                let name = format!(
                    "certgate_srv_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst)
                );
                psql(&admin, &format!("CREATE DATABASE {name}"));
                let base = admin
                    .rsplit_once('/')
                    .map(|(base, _)| base.to_owned())
                    .expect("a PostgreSQL URL with a database");
                TestDatabase {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    postgres: Some((admin, name)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres {
            psql(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

fn psql(url: &str, sql: &str) {
    let output = std::process::Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("the PostgreSQL tests need psql and PostgreSQL at {url}: {e}"));
    assert!(
        output.status.success(),
        "PostgreSQL at {url} is required for this test (start it, or set CERTGATE_TEST_POSTGRES_URL): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A request as a test's HTTP server read it.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) path: String,
    /// The request line and headers, header names lowercased.
    pub(crate) head: String,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key == name).then(|| value.trim())
        })
    }
}

/// Reads a request head (the CRL fetcher sends GET requests without a body).
pub(crate) async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    while !received.windows(4).any(|w| w == b"\r\n\r\n") {
        if received.len() > 64 * 1024 {
            return None;
        }
        let n = socket.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        received.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&received);
    let head: String = text
        .lines()
        .map(|line| match line.split_once(':') {
            Some((name, value)) => format!("{}:{value}\n", name.to_ascii_lowercase()),
            None => format!("{line}\n"),
        })
        .collect();
    let path = text.split_whitespace().nth(1)?.to_owned();
    Some(Request { path, head })
}

/// Reads a request head (see [`read_request`]) and adds it to `requests`.
pub(crate) async fn read_and_record(
    socket: &mut TcpStream,
    requests: &Mutex<Vec<Request>>,
) -> Option<Request> {
    let request = read_request(socket).await?;
    requests
        .lock()
        .expect("requests lock")
        .push(request.clone());
    Some(request)
}

/// A response head: the status line (`status` is code and reason), `Connection: close`, the
/// given header lines and the blank line.
pub(crate) fn response_head(status: &str, headers: &[impl AsRef<str>]) -> String {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for header in headers {
        head.push_str(header.as_ref());
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

/// The one description of a test server: every listener on 127.0.0.1 port 0 (the running
/// server says which port it got), the default CRL settings, a 200 ms job tick, and only the
/// plain listener until the test adds others.
pub(crate) struct TestServer(certgate_server::app::ServerConfig);

/// 127.0.0.1, a port the system chooses.
pub(crate) fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl TestServer {
    pub(crate) fn new() -> TestServer {
        TestServer(certgate_server::app::ServerConfig {
            listen: any_port(),
            crl: certgate_server::crl_refresh::CrlSettings::default(),
            pki: None,
            tick: std::time::Duration::from_millis(200),
            certauth: None,
            web: None,
            front_door: None,
        })
    }

    pub(crate) fn crl(mut self, crl: certgate_server::crl_refresh::CrlSettings) -> TestServer {
        self.0.crl = crl;
        self
    }

    /// certgate's own CA, publishing its CRLs on schedule.
    pub(crate) fn pki(mut self, settings: certgate_core::authority::PkiSettings) -> TestServer {
        self.0.pki = Some(settings);
        self
    }

    pub(crate) fn tick(mut self, tick: std::time::Duration) -> TestServer {
        self.0.tick = tick;
        self
    }

    /// The certificate sign-in listener with this TLS identity.
    pub(crate) fn certauth(mut self, identity: ServerIdentity) -> TestServer {
        self.0.certauth = Some(certgate_server::app::CertAuthConfig {
            listen: any_port(),
            identity,
        });
        self
    }

    /// The web listener at `origin` (also the OpenID Connect issuer), its keys sealed with
    /// `passphrase`; the federation service too when `federation` is set.
    pub(crate) fn web(mut self, origin: &str, passphrase: &[u8], federation: bool) -> TestServer {
        self.0.web = Some(certgate_server::app::WebConfig {
            listen: any_port(),
            public_origin: origin.into(),
            certauth_public_origin: None,
            issuer: origin.into(),
            organization: "Corp".into(),
            passphrase: zeroize::Zeroizing::new(passphrase.to_vec()),
            demo: None,
            domain_password: None,
            federation: federation.then(|| certgate_server::federation_http::FederationSettings {
                entity_id: format!("{origin}/federation"),
                public_origin: origin.into(),
                clock_skew_seconds: 120,
            }),
        });
        self
    }

    /// Domain passwords checked by `check` on the web listener (set [`TestServer::web`] first).
    pub(crate) fn domain_password(
        mut self,
        check: Option<std::sync::Arc<certgate_server::domain_password::DomainPasswordCheck>>,
    ) -> TestServer {
        if let Some(web) = self.0.web.as_mut() {
            web.domain_password = check;
        }
        self
    }

    /// The mail front door with these virtual directories and host names.
    pub(crate) fn front_door(
        mut self,
        identity: ServerIdentity,
        virtual_directories: Vec<certgate_core::front_door::VirtualDirectory>,
        public_host: Option<String>,
        allowed_hosts: Vec<String>,
    ) -> TestServer {
        self.0.front_door = Some(certgate_server::app::FrontDoorConfig {
            listen: any_port(),
            identity,
            virtual_directories,
            public_host,
            allowed_hosts,
        });
        self
    }

    pub(crate) fn config(self) -> certgate_server::app::ServerConfig {
        self.0
    }
}

/// The deployment's sealing keys, as the server derives them (the salt is in the store).
pub(crate) async fn store_sealing<S: certgate_core::totp::TotpStore>(
    store: &S,
    passphrase: &[u8],
) -> std::sync::Arc<certgate_core::totp::TotpSealing> {
    std::sync::Arc::new(
        certgate_core::totp::open_sealing(store, passphrase)
            .await
            .expect("sealing key"),
    )
}
