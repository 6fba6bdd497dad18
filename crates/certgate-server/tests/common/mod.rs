//! A rustls client for the certificate sign-in listener, shared by the server's tests.
#![allow(dead_code)] // each test file uses a part

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
