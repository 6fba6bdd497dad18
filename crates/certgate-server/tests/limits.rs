//! Resource limits on the listeners, in process on port 0 with short configured timeouts:
//! connections that send nothing (plain HTTP, TLS without a certificate, HTTP/2 without a
//! request) are closed after the header read timeout, a listener at its connection cap closes
//! new connections at once and a real sign-in gets through once the idle ones are gone, HTTP/2
//! carries headers up to the configured limit, and anonymous sign-in starts are rate limited
//! (429 `rate-limited` with Retry-After).
//!
//! Waiting for the server to close a socket (a read returning end of file) is the condition each
//! test waits for, bounded by a deadline so that a missing limit fails instead of hanging.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certgate_core::clock::{Clock, FixedClock};
use certgate_core::directory::{add_user, UserDraft};
use certgate_core::rate_limit::{Rate, RateLimitSettings};
use certgate_pki::UnixTime;
use certgate_server::app::{start_with_limits, RunningServer};
use certgate_server::limits::{Limits, ListenerLimits};
use certgate_store::SqlStore;
use certgate_testpki::{TestPki, VALIDATION_TIME};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{Backend, Credential, TestDatabase, TestServer, TrustedPki};

/// How long any one close may take before the test calls the limit missing.
const DEADLINE: Duration = Duration::from_secs(15);

struct Fixture {
    server: RunningServer<SqlStore>,
    server_certificate: Vec<u8>,
    pki: TestPki,
    _store: Arc<SqlStore>,
    _database: TestDatabase,
}

fn limits() -> Limits {
    Limits {
        listeners: ListenerLimits {
            max_connections: 4,
            header_read_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            body_read_timeout: Duration::from_secs(1),
            ..ListenerLimits::default()
        },
        rate: RateLimitSettings {
            per_address: Rate {
                per_minute: 60,
                burst: 3,
            },
            ..RateLimitSettings::default()
        },
        ..Limits::default()
    }
}

impl Fixture {
    async fn new(web: bool) -> Fixture {
        let TrustedPki {
            pki,
            store,
            database,
            ..
        } = TrustedPki::new(Backend::Sqlite, "mallory@corp.example", |_| true).await;
        add_user(
            &*store,
            UserDraft::new("alice@corp.example"),
            UnixTime(VALIDATION_TIME),
            "test",
        )
        .await
        .expect("user");
        let (identity, server_certificate) = common::localhost_identity();
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::at(VALIDATION_TIME));
        let server = start_with_limits(
            Arc::clone(&store),
            clock,
            {
                let server = TestServer::new().certauth(identity);
                if web {
                    server.web("https://localhost", b"test passphrase", false)
                } else {
                    server
                }
                .config()
            },
            limits(),
        )
        .await
        .expect("server starts");
        Fixture {
            server,
            server_certificate,
            pki,
            _store: store,
            _database: database,
        }
    }

    fn valid(&self) -> Credential {
        Credential {
            chain: vec![self.pki.leaf.der.clone(), self.pki.intermediate.der.clone()],
            key_pkcs8: self.pki.leaf.key_pkcs8_der.clone(),
        }
    }

    fn tls_connector(&self, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.server_certificate.clone()))
            .expect("root");
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    /// A TLS connection without a client certificate that completed its handshake.
    async fn idle_tls(
        &self,
        addr: SocketAddr,
        alpn: &[&[u8]],
    ) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        self.tls_connector(alpn)
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .expect("TLS handshake")
    }
}

/// Reads until the server closes the connection; fails when it does not within the deadline.
async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    match tokio::time::timeout(DEADLINE, stream.read_to_end(&mut received)).await {
        Ok(_) => received,
        Err(_) => panic!("{what}: the server kept the connection open past {DEADLINE:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plain_listener_closes_connections_that_send_no_headers() {
    let fixture = Fixture::new(false).await;
    let addr = fixture.server.local_addr;
    // Nothing at all.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    // A request line and then nothing (slowloris).
    let mut partial = TcpStream::connect(addr).await.expect("connect");
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    closed_by_server(&mut silent, "silent plain connection").await;
    closed_by_server(&mut partial, "partial plain request").await;
    // The listener still answers.
    let mut fresh = TcpStream::connect(addr).await.expect("connect");
    fresh
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let answer = closed_by_server(&mut fresh, "health check").await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tls_connections_are_closed_and_the_cap_leaves_room_for_a_sign_in() {
    let fixture = Fixture::new(false).await;
    let addr = fixture.server.certauth_addr.expect("certauth");
    // Fill the listener's four slots: HTTP/1.1 and HTTP/2 connections without a certificate
    // that never send a request (one HTTP/2 client sends its preface and settings only).
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(fixture.idle_tls(addr, &[b"http/1.1"]).await);
    }
    let mut h2 = fixture.idle_tls(addr, &[b"h2"]).await;
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("preface");
    // Over the cap: closed at once, before any TLS handshake.
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let refused = tokio::time::timeout(
        DEADLINE,
        fixture
            .tls_connector(&[b"http/1.1"])
            .connect(ServerName::try_from("localhost").expect("name"), tcp),
    )
    .await
    .expect("an answer within the deadline");
    assert!(refused.is_err(), "a fifth connection was accepted");
    // The idle ones are closed after the header read timeout ...
    for (n, stream) in idle.iter_mut().enumerate() {
        closed_by_server(stream, &format!("idle TLS connection {n}")).await;
    }
    closed_by_server(&mut h2, "idle HTTP/2 connection").await;
    // ... and a sign-in with a certificate gets through.
    let response = common::get_json(
        addr,
        &fixture.server_certificate,
        "/certauth",
        Some(&fixture.valid()),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["result"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_carries_headers_up_to_the_configured_limit() {
    let fixture = Fixture::new(false).await;
    let addr = fixture.server.certauth_addr.expect("certauth");
    let h2 = |cookie_bytes: usize| {
        let stream = fixture.idle_tls(addr, &[b"h2"]);
        async move {
            let stream = stream.await;
            let (mut sender, connection) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(stream),
            )
            .await
            .expect("HTTP/2 handshake");
            tokio::spawn(connection);
            let request = hyper::Request::get("https://localhost/healthz")
                .header("cookie", "a".repeat(cookie_bytes))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
                .expect("request");
            sender
                .send_request(request)
                .await
                .map(|r| r.status().as_u16())
        }
    };
    // 40 KB of headers: over hyper's HTTP/2 default (16 KiB), under the configured 64 KiB.
    assert_eq!(h2(40_000).await.expect("answered"), 200);
    // Over the configured limit: refused as HTTP/1.1 refuses it (431).
    assert_eq!(h2(70_000).await.expect("answered"), 431);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_sign_in_starts_from_one_address_get_429() {
    let fixture = Fixture::new(true).await;
    let addr = fixture.server.web_addr.expect("web");
    let client = reqwest::Client::builder()
        .tls_certs_only([
            reqwest::Certificate::from_der(&fixture.server_certificate).expect("certificate")
        ])
        .build()
        .expect("client");
    let url = format!(
        "https://localhost:{}/oauth2/authorize?client_id=unknown&response_type=code",
        addr.port()
    );
    // The burst (3) is admitted and answered by the authorization endpoint.
    for _ in 0..3 {
        let response = client.get(&url).send().await.expect("authorize");
        assert_ne!(response.status().as_u16(), 429);
    }
    let limited = client
        .get(&url)
        .header("accept", "application/json")
        .send()
        .await
        .expect("authorize");
    assert_eq!(limited.status().as_u16(), 429);
    assert_eq!(
        limited
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value =
        serde_json::from_str(&limited.text().await.expect("body")).expect("JSON");
    assert_eq!(body["code"], "rate-limited");
    // As a page for a browser, with the reason code.
    let page = client.get(&url).send().await.expect("authorize");
    assert_eq!(page.status().as_u16(), 429);
    assert!(page
        .text()
        .await
        .expect("page")
        .contains("<code>rate-limited</code>"));
    // Pages that start nothing are not limited.
    let discovery = client
        .get(format!(
            "https://localhost:{}/.well-known/openid-configuration",
            addr.port()
        ))
        .send()
        .await
        .expect("discovery");
    assert_eq!(discovery.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let fixture = Fixture::new(true).await;
    let addr = fixture.server.web_addr.expect("web");
    let mut tls = fixture.idle_tls(addr, &[b"http/1.1"]).await;
    // Announces 100 bytes and sends 10: the token endpoint waits for the rest.
    tls.write_all(
        b"POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
          grant_type",
    )
    .await
    .expect("write");
    let answer = closed_by_server(&mut tls, "slow upload").await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"request-body-timeout\""), "{text}");
}
