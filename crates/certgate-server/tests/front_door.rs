//! The mail front door with a real upstream: an HTTP server in the test that echoes what it
//! receives (method, path, headers) and streams. Clients connect over real TLS with (or
//! without) the test PKI's client certificate; one hyper connection is reused where the test is
//! about what happens on an open connection.
//!
//! Covered: Require without a certificate → 403 with the reason; a revoked certificate → 403;
//! Accept without a certificate → forwarded with no identity headers; spoofed identity and
//! RFC 9440 headers stripped and replaced; Basic refused unless enabled; oversized headers →
//! 413; a long ActiveSync-style POST streams both ways without buffering; a revocation takes
//! effect on an open connection within the CRL refresh (the job tick here).

mod common;

use certgate_core::trusted_ca::TrustedCaStore;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use certgate_core::clock::{Clock, FixedClock};
use certgate_core::directory::{add_user, UserDraft};
use certgate_core::front_door::{ClientCertificates, VirtualDirectory};
use certgate_core::signin::{SignInLog, SignInQuery};
use certgate_pki::{Certificate, UnixTime};
use certgate_server::app::{start, RunningServer};
use certgate_store::SqlStore;
use certgate_testpki::{CrlSpec, TestPki, VALIDATION_TIME};
use common::{Backend, Credential, TestDatabase, TestServer, TrustedPki};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Notify};

/// What the upstream saw of each request.
#[derive(Default)]
struct Upstream {
    /// Signalled when the streaming request's first body chunk arrived.
    first_chunk: Mutex<Option<oneshot::Sender<()>>>,
    /// The streaming response sends its second part when notified.
    second_part: Notify,
    /// Requests received.
    received: std::sync::atomic::AtomicUsize,
    /// Connections accepted.
    connections: std::sync::atomic::AtomicUsize,
}

async fn upstream_handler(
    upstream: Arc<Upstream>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<http_body_util::combinators::BoxBody<Bytes, Infallible>>, Infallible> {
    upstream
        .received
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = request.uri().path().to_owned();
    if path.ends_with("/stream") {
        // Read the body frame by frame; say when the first one is here.
        let mut body = request.into_body();
        let mut received = 0usize;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map(|f| f.into_data().unwrap_or_default()) {
                if received == 0 && !data.is_empty() {
                    if let Some(signal) = upstream.first_chunk.lock().unwrap().take() {
                        let _ = signal.send(());
                    }
                }
                received += data.len();
            }
        }
        let (sender, receiver) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(2);
        let notify = Arc::clone(&upstream);
        tokio::spawn(async move {
            let _ = sender
                .send(Ok(Frame::data(Bytes::from(format!(
                    "received {received}; part1\n"
                )))))
                .await;
            notify.second_part.notified().await;
            let _ = sender
                .send(Ok(Frame::data(Bytes::from_static(b"part2\n"))))
                .await;
        });
        let stream = tokio_stream_from(receiver);
        return Ok(hyper::Response::new(BodyExt::boxed(StreamBody::new(
            stream,
        ))));
    }
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let echo = serde_json::json!({
        "method": request.method().as_str(),
        "path": path,
        "query": request.uri().query(),
        "headers": headers,
    });
    Ok(hyper::Response::builder()
        .header("content-type", "application/json")
        .body(BodyExt::boxed(Full::new(Bytes::from(echo.to_string()))))
        .expect("response"))
}

/// A stream over an mpsc receiver (no tokio-stream dependency for one use).
fn tokio_stream_from(
    mut receiver: mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl futures_core_stream::Stream<Item = Result<Frame<Bytes>, Infallible>> {
    futures_core_stream::from_fn(move |cx| receiver.poll_recv(cx))
}

/// A tiny `Stream` from a poll function (what `futures::stream::poll_fn` does).
mod futures_core_stream {
    pub(crate) use futures_core::Stream;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub(crate) struct FromFn<F>(F);
    impl<T, F: FnMut(&mut Context<'_>) -> Poll<Option<T>> + Unpin> Stream for FromFn<F> {
        type Item = T;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            (self.0)(cx)
        }
    }
    pub(crate) fn from_fn<T, F: FnMut(&mut Context<'_>) -> Poll<Option<T>> + Unpin>(
        f: F,
    ) -> FromFn<F> {
        FromFn(f)
    }
}

async fn start_upstream() -> (String, Arc<Upstream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("upstream");
    let addr = listener.local_addr().expect("address");
    let upstream = Arc::new(Upstream::default());
    let shared = Arc::clone(&upstream);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            shared
                .connections
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    upstream_handler(Arc::clone(&shared), request)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), upstream)
}

struct Fixture {
    server: RunningServer<SqlStore>,
    store: Arc<SqlStore>,
    server_certificate: Vec<u8>,
    pki: TestPki,
    revoked: Credential,
    upstream: Arc<Upstream>,
    upstream_url: String,
    _database: TestDatabase,
}

impl Fixture {
    async fn new() -> Fixture {
        let TrustedPki {
            pki,
            revoked,
            store,
            database,
            ..
        } = TrustedPki::new(Backend::Sqlite, "mallory@corp.example", |_| true).await;
        for upn in ["alice@corp.example", "mallory@corp.example"] {
            add_user(
                &*store,
                UserDraft {
                    immutable_id: Some(format!("immutable-{}", &upn[..5])),
                    mail: Some(upn.replace("@", ".smith@")),
                    ..UserDraft::new(upn)
                },
                UnixTime(VALIDATION_TIME),
                "test",
            )
            .await
            .expect("user");
        }
        let (upstream_url, upstream) = start_upstream().await;
        let mut owa = VirtualDirectory::preset("owa", &upstream_url).expect("owa");
        owa.client_certificates = ClientCertificates::Require;
        let eas = VirtualDirectory::preset("activesync", &upstream_url).expect("eas");
        let mut public = VirtualDirectory::new("/public", &upstream_url);
        public.client_certificates = ClientCertificates::Accept;
        // Renamed here: the default name must still be stripped on this directory too.
        public.identity_headers.upn = Some("X-Remote-User".into());
        let mut legacy = VirtualDirectory::new("/legacy", &upstream_url);
        legacy.client_certificates = ClientCertificates::Accept;
        legacy.basic_passthrough = true;
        legacy.preserve_host = true;
        let mut small = VirtualDirectory::new("/small", &upstream_url);
        small.max_request_header_bytes = 4096;
        let (identity, server_certificate) = common::localhost_identity();
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::at(VALIDATION_TIME));
        let server = start(
            Arc::clone(&store),
            clock,
            TestServer::new()
                .tick(Duration::from_millis(100))
                .certauth(identity.clone())
                // `/legacy` preserves Host: the names clients may use must be listed.
                .front_door(
                    identity,
                    vec![owa, eas, public, legacy, small],
                    None,
                    vec!["mail.corp.example".into()],
                )
                .config(),
        )
        .await
        .expect("server starts");
        Fixture {
            server,
            store,
            server_certificate,
            pki,
            revoked,
            upstream,
            upstream_url,
            _database: database,
        }
    }

    fn alice(&self) -> Credential {
        Credential {
            chain: vec![self.pki.leaf.der.clone(), self.pki.intermediate.der.clone()],
            key_pkcs8: self.pki.leaf.key_pkcs8_der.clone(),
        }
    }

    /// A new TLS connection to the front door with an HTTP/1.1 client on it.
    async fn connect(&self, credential: Option<&Credential>) -> Sender {
        FrontDoorClient {
            addr: self.server.front_door_addr.expect("front door"),
            server_certificate: self.server_certificate.clone(),
        }
        .connect(credential)
        .await
    }
}

type Sender = hyper::client::conn::http1::SendRequest<
    http_body_util::combinators::BoxBody<Bytes, Infallible>,
>;

/// A GET on `sender`; status and body (JSON when it is JSON).
async fn get(sender: &mut Sender, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    get_from(sender, &["mail.corp.example"], path, headers).await
}

/// `GET path` naming the given hosts (`Host` headers, as many as given).
async fn get_from(
    sender: &mut Sender,
    hosts: &[&str],
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = hyper::Request::get(path);
    for host in hosts {
        request = request.header("host", *host);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .header("accept", "application/json")
        .body(BodyExt::boxed(Full::new(Bytes::new())))
        .expect("request");
    sender.ready().await.expect("ready");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
    )
}

fn header<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"][name].as_str()
}

/// The host a request names reaches the upstream (`X-Forwarded-Host`, and `Host` with
/// `preserve_host`), so it must be a plain host name and one of `allowed_hosts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_plain_host_names_reach_the_upstream() {
    let fixture = Fixture::new().await;
    let mut anonymous = fixture.connect(None).await;
    let received = || {
        fixture
            .upstream
            .received
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    // Another name: 421, whichever directory.
    for path in ["/legacy/", "/public/", "/owa/"] {
        let (status, body) = get_from(&mut anonymous, &["evil.example"], path, &[]).await;
        assert_eq!(status, 421, "{path}: {body}");
        assert_eq!(body["code"], "front-door-host-not-allowed", "{path}");
    }
    // The allowed name in another case, with a port: passes, sent on as the client wrote it.
    let (status, echo) =
        get_from(&mut anonymous, &["MAIL.corp.example:443"], "/legacy/", &[]).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(header(&echo, "host"), Some("MAIL.corp.example:443"));
    assert_eq!(
        header(&echo, "x-forwarded-host"),
        Some("MAIL.corp.example:443")
    );
    // Not a plain host: 400, before any directory's rules.
    for hosts in [
        &["alice@mail.corp.example"][..],
        &["mail.corp.example/owa"],
        &["mail.corp.example:99999"],
        &["mail.corp.example", "evil.example"],
        &[],
    ] {
        let (status, body) = get_from(&mut anonymous, hosts, "/legacy/", &[]).await;
        assert_eq!(status, 400, "{hosts:?}: {body}");
        assert_eq!(body["code"], "front-door-host-invalid", "{hosts:?}");
    }
    assert_eq!(
        received(),
        1,
        "only the allowed host's request reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_required_accepted_or_refused_per_directory() {
    let fixture = Fixture::new().await;
    let alice = fixture.alice();

    // Require, no certificate: 403 with the reason.
    let mut anonymous = fixture.connect(None).await;
    let (status, body) = get(&mut anonymous, "/owa/", &[]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "front-door-certificate-required");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("requires a client certificate"));
    // Accept, no certificate: forwarded, with no identity headers even when the client sends
    // its own.
    let (status, echo) = get(
        &mut anonymous,
        "/public/page?x=1",
        &[
            ("x-certgate-upn", "ceo@corp.example"),
            ("client-cert", ":AAAA:"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["path"], "/public/page");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(header(&echo, "x-certgate-upn"), None);
    assert_eq!(header(&echo, "client-cert"), None);
    assert_eq!(header(&echo, "x-forwarded-proto"), Some("https"));
    assert_eq!(header(&echo, "x-forwarded-host"), Some("mail.corp.example"));
    // Host: the upstream's own, unless the directory preserves the client's.
    let upstream_host = fixture.upstream_url.trim_start_matches("http://");
    assert_eq!(header(&echo, "host"), Some(upstream_host));
    let (status, echo) = get(&mut anonymous, "/legacy/", &[]).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(header(&echo, "host"), Some("mail.corp.example"));
    assert_eq!(header(&echo, "x-forwarded-host"), Some("mail.corp.example"));
    // Nothing published at /: 404.
    assert_eq!(get(&mut anonymous, "/", &[]).await.0, 404);
    // Basic: refused where it is off, passed through where it is on.
    let basic = ("authorization", "Basic YWxpY2U6cGFzc3dvcmQ=");
    let (status, body) = get(&mut anonymous, "/public/x", &[basic]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("front-door-basic-disabled"))
    );
    let (status, echo) = get(&mut anonymous, "/legacy/x", &[basic]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&echo, "authorization"), Some(basic.1));

    // Require with alice's certificate: forwarded with her identity; spoofed copies replaced.
    let mut signed_in = fixture.connect(Some(&alice)).await;
    let (status, echo) = get(
        &mut signed_in,
        "/OWA/inbox",
        &[
            ("x-certgate-upn", "ceo@corp.example"),
            ("X-Certgate-Mail", "ceo@corp.example"),
            ("client-cert-chain", ":AAAA:"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(header(&echo, "x-certgate-upn"), Some("alice@corp.example"));
    assert_eq!(
        header(&echo, "x-certgate-mail"),
        Some("alice.smith@corp.example")
    );
    assert_eq!(
        header(&echo, "x-certgate-immutable-id"),
        Some("immutable-alice")
    );
    let leaf = Certificate::from_der(&fixture.pki.leaf.der).expect("leaf");
    assert_eq!(
        header(&echo, "x-certgate-certificate-serial"),
        Some(
            certgate_core::hex(leaf.serial())
                .to_ascii_uppercase()
                .as_str()
        )
    );
    assert_eq!(
        header(&echo, "x-certgate-certificate-issuer"),
        Some(leaf.issuer().to_windows().as_str())
    );
    assert_eq!(
        header(&echo, "x-certgate-certificate-thumbprint").map(str::len),
        Some(40)
    );
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        header(&echo, "client-cert"),
        Some(format!(":{}:", b64.encode(&fixture.pki.leaf.der)).as_str())
    );
    assert_eq!(
        header(&echo, "client-cert-chain"),
        Some(format!(":{}:", b64.encode(&fixture.pki.intermediate.der)).as_str())
    );
    // Basic is refused even with a certificate where it is off (no password reaches the
    // server behind).
    let (status, _) = get(&mut signed_in, "/owa/", &[basic]).await;
    assert_eq!(status, 403);

    // Revoked: 403 with the reason, on every directory that looks at certificates.
    let mut revoked = fixture.connect(Some(&fixture.revoked)).await;
    let (status, body) = get(&mut revoked, "/Microsoft-Server-ActiveSync?Cmd=Sync", &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("cert-revoked")),
        "{body}"
    );
    let (status, body) = get(&mut revoked, "/public/", &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("cert-revoked")),
        "{body}"
    );

    // Oversized request headers: 413 with the limit in the message.
    let big = "x".repeat(5000);
    let (status, body) = get(&mut signed_in, "/small/", &[("cookie", &big)]).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "front-door-headers-too-large");
    assert!(body["message"].as_str().unwrap().contains("4096"));

    // Each connection's certificate was validated once, whatever its number of requests.
    let log = fixture
        .store
        .signins(&SignInQuery {
            limit: 100,
            ..SignInQuery::default()
        })
        .await
        .expect("log");
    let front_door: Vec<_> = log
        .iter()
        .filter(|r| r.application.starts_with("front-door:"))
        .collect();
    assert_eq!(
        front_door.len(),
        2,
        "alice once, the revoked certificate once: {front_door:?}"
    );
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activesync_post_streams_both_ways_without_buffering() {
    let fixture = Fixture::new().await;
    let mut sender = fixture.connect(Some(&fixture.alice())).await;
    let (arrived, first_chunk) = oneshot::channel();
    *fixture.upstream.first_chunk.lock().unwrap() = Some(arrived);
    let (body_sender, body_receiver) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    let request = hyper::Request::post("/Microsoft-Server-ActiveSync/stream?Cmd=Ping")
        .header("host", "mail.corp.example")
        .header("content-type", "application/vnd.ms-sync.wbxml")
        .body(BodyExt::boxed(StreamBody::new(tokio_stream_from(
            body_receiver,
        ))))
        .expect("request");
    sender.ready().await.expect("ready");
    let response = tokio::spawn(sender.send_request(request));
    body_sender
        .send(Ok(Frame::data(Bytes::from(vec![b'a'; 1000]))))
        .await
        .expect("first chunk");
    // The upstream must see the first chunk while the client has not finished the body: the
    // front door does not buffer the request.
    tokio::time::timeout(Duration::from_secs(10), first_chunk)
        .await
        .expect("the first chunk reached the upstream before the body ended")
        .expect("signal");
    body_sender
        .send(Ok(Frame::data(Bytes::from(vec![b'b'; 500]))))
        .await
        .expect("second chunk");
    drop(body_sender);
    let response = response.await.expect("task").expect("response");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    // The first part of the answer arrives while the upstream still holds the second one.
    let first = tokio::time::timeout(Duration::from_secs(10), body.frame())
        .await
        .expect("the first part arrived before the upstream finished")
        .expect("frame")
        .expect("data")
        .into_data()
        .expect("data");
    assert_eq!(&first[..], b"received 1500; part1\n");
    fixture.upstream.second_part.notify_one();
    let rest = body.collect().await.expect("rest").to_bytes();
    assert_eq!(&rest[..], b"part2\n");
    fixture.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_an_open_connection_at_the_next_crl_refresh() {
    let fixture = Fixture::new().await;
    let mut sender = fixture.connect(Some(&fixture.alice())).await;
    let (status, echo) = get(&mut sender, "/Microsoft-Server-ActiveSync?Cmd=Sync", &[]).await;
    assert_eq!(status, 200, "{echo}");

    // The issuing CA publishes a CRL that lists alice's certificate, and the CRL cache takes
    // it (what a CRL refresh does); the server's job tick picks the new state up.
    let leaf = Certificate::from_der(&fixture.pki.leaf.der).expect("leaf");
    let revoked_serial = Certificate::from_der(&fixture.revoked.chain[0])
        .expect("revoked")
        .serial()
        .to_vec();
    let der = TestPki::crl(
        &fixture.pki.intermediate,
        &CrlSpec {
            crl_number: 2,
            extra_revoked: vec![revoked_serial, leaf.serial().to_vec()],
            ..CrlSpec::default()
        },
    )
    .expect("CRL");
    let cas = fixture.store.list_cas().await.expect("CAs");
    let issuing = cas
        .iter()
        .find(|ca| ca.certificate_der == fixture.pki.intermediate.der)
        .expect("issuing CA");
    common::cache_crl(&fixture.store, issuing.id, der, UnixTime(VALIDATION_TIME)).await;
    // Same connection, next requests: refused once the state has the new CRL.
    let mut refused = None;
    for _ in 0..50 {
        let (status, body) = get(&mut sender, "/Microsoft-Server-ActiveSync?Cmd=Ping", &[]).await;
        if status == 403 {
            refused = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = refused.expect("the revocation reached the open connection within 5 seconds");
    assert_eq!(body["code"], "cert-revoked", "{body}");
    fixture.server.stop().await;
}

/// An HTTPS upstream (its own CA, not a public one) that echoes like the plain one.
async fn start_tls_upstream() -> (String, Vec<u8>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let certificate = rcgen::CertificateParams::new(vec!["localhost".into()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![certificate.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .expect("config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("upstream");
    let port = listener.local_addr().expect("address").port();
    let upstream = Arc::new(Upstream::default());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let shared = Arc::clone(&upstream);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |request| {
                    upstream_handler(Arc::clone(&shared), request)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (
        format!("https://localhost:{port}"),
        certificate.pem().into_bytes(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_are_trusted_only_through_their_configured_ca() {
    let TrustedPki {
        pki,
        store,
        database: _database,
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
    let (upstream, ca_pem) = start_tls_upstream().await;
    let dir = tempfile::tempdir().expect("dir");
    let ca_file = dir.path().join("upstream-ca.pem");
    std::fs::write(&ca_file, &ca_pem).expect("CA file");
    let mut trusted = VirtualDirectory::preset("owa", &upstream).expect("owa");
    trusted.upstream_ca_file = Some(ca_file);
    // The same upstream without its CA: the public roots do not vouch for it.
    let untrusted = VirtualDirectory::preset("ecp", &upstream).expect("ecp");
    let (identity, server_certificate) = common::localhost_identity();
    let server = start(
        Arc::clone(&store),
        Arc::new(FixedClock::at(VALIDATION_TIME)) as Arc<dyn Clock>,
        TestServer::new()
            .tick(Duration::from_millis(100))
            .front_door(identity, vec![trusted, untrusted], None, Vec::new())
            .config(),
    )
    .await
    .expect("server starts");
    let fixture_like = FrontDoorClient {
        addr: server.front_door_addr.expect("front door"),
        server_certificate,
    };
    let alice = Credential {
        chain: vec![pki.leaf.der.clone(), pki.intermediate.der.clone()],
        key_pkcs8: pki.leaf.key_pkcs8_der.clone(),
    };
    let mut sender = fixture_like.connect(Some(&alice)).await;
    let (status, echo) = get(&mut sender, "/owa/", &[]).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(header(&echo, "x-certgate-upn"), Some("alice@corp.example"));
    let (status, body) = get(&mut sender, "/ecp/", &[]).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["code"], "front-door-upstream-unavailable");
    server.stop().await;
}

/// A client of a front door started outside [`Fixture`].
struct FrontDoorClient {
    addr: std::net::SocketAddr,
    server_certificate: Vec<u8>,
}

impl FrontDoorClient {
    async fn connect(&self, credential: Option<&Credential>) -> Sender {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.server_certificate.clone()))
            .expect("root");
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
        let mut config = match credential {
            Some(credential) => builder
                .with_client_auth_cert(
                    credential
                        .chain
                        .iter()
                        .map(|der| CertificateDer::from(der.clone()))
                        .collect(),
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(credential.key_pkcs8.clone())),
                )
                .expect("client certificate"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = TcpStream::connect(self.addr).await.expect("connect");
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .expect("TLS");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .expect("HTTP handshake");
        tokio::spawn(connection);
        sender
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_and_headers_cannot_be_used_to_get_around_a_directory() {
    let fixture = Fixture::new().await;
    let mut anonymous = fixture.connect(None).await;
    // Matched and forwarded as one canonical path: a walk out of an Accept directory into a
    // Require one is judged by the Require one.
    for sneaky in [
        "/public/../owa/",
        "/public/%2e%2e/owa/",
        "/public/.%2E/Microsoft-Server-ActiveSync",
        "//owa/",
        "/%6Fwa/",
    ] {
        let (status, body) = get(&mut anonymous, sneaky, &[]).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("front-door-certificate-required")),
            "{sneaky}: {body}"
        );
    }
    for refused in [
        "/public/..%2f..%2fowa/",
        "/public/%5c..",
        "/public/%25",
        "/../owa/",
        "/public/..;/owa/",
        "/owa;x/",
    ] {
        let (status, body) = get(&mut anonymous, refused, &[]).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("front-door-path-refused")),
            "{refused}: {body}"
        );
    }
    let (status, echo) = get(&mut anonymous, "/%70ublic/./a//b/", &[]).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(
        echo["path"], "/public/a/b/",
        "the upstream gets the canonical path"
    );

    // Identity headers: every directory's names and the defaults are stripped everywhere,
    // underscore spellings are dropped, forwarding headers are certgate's own.
    let (status, echo) = get(
        &mut anonymous,
        "/public/",
        &[
            ("x-certgate-upn", "ceo@corp.example"),
            ("x-remote-user", "ceo@corp.example"),
            ("x_certgate_upn", "ceo@corp.example"),
            ("forwarded", "for=10.9.9.9"),
            ("x-forwarded-for", "10.9.9.9"),
            ("x-forwarded-host", "evil.example"),
            // What other edges (IIS ARR, nginx setups, App Service) use for the same job.
            ("x-arr-clientcert", "ceo@corp.example"),
            ("x-ssl-client-cert", "ceo@corp.example"),
            ("x-ms-client-principal-name", "ceo@corp.example"),
            ("x-original-url", "/evil.example/owa/"),
            ("x-real-ip", "10.9.9.9"),
            ("true-client-ip", "10.9.9.9"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{echo}");
    let text = echo["headers"].to_string();
    assert!(!text.contains("ceo@corp.example"), "{text}");
    assert!(
        !text.contains("10.9.9.9") && !text.contains("evil.example"),
        "{text}"
    );
    assert_eq!(header(&echo, "x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(header(&echo, "x-forwarded-host"), Some("mail.corp.example"));
    let mut signed_in = fixture.connect(Some(&fixture.alice())).await;
    let (status, echo) = get(
        &mut signed_in,
        "/public/",
        &[("x-certgate-upn", "ceo@corp.example")],
    )
    .await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(header(&echo, "x-remote-user"), Some("alice@corp.example"));
    assert_eq!(header(&echo, "x-certgate-upn"), None);
    fixture.server.stop().await;
}

/// HTTP/2 clients get the directory's header limit, as HTTP/1.1 clients do: headers under it
/// reach the upstream, headers over it get the front door's 413 page (not hyper's HTTP/2
/// default of 16 KiB, which refused ordinary Exchange requests with a bare 431).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_requests_get_the_directory_header_limit_and_its_413_page() {
    let fixture = Fixture::new().await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(fixture.server_certificate.clone()))
        .expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(fixture.server.front_door_addr.expect("front door"))
        .await
        .expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let mut get = |cookie: String| {
        let request = hyper::Request::get("https://mail.corp.example/public/")
            .header("accept", "application/json")
            .header("cookie", cookie)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let sent = sender.send_request(request);
        async move {
            let response = sent.await.expect("response");
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
            )
        }
    };
    // 30,000 bytes: under /public's 49,152 (Exchange's uploadReadAheadSize).
    let (status, echo) = get("a".repeat(30_000)).await;
    assert_eq!(status, 200, "{echo}");
    // 60,000 bytes: over it, the same page as HTTP/1.1.
    let (status, body) = get("a".repeat(60_000)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "front-door-headers-too-large");
}

/// A front door with one Accept directory, `/public`, on a new echoing upstream, and the
/// given host settings.
async fn start_front_door_with_hosts(
    public_host: Option<&str>,
    allowed_hosts: &[&str],
) -> (
    RunningServer<SqlStore>,
    FrontDoorClient,
    Arc<Upstream>,
    TestDatabase,
) {
    let (upstream_url, upstream) = start_upstream().await;
    let (server, client, database) =
        start_front_door_to(&upstream_url, public_host, allowed_hosts).await;
    (server, client, upstream, database)
}

/// A front door with one Accept directory, `/public`, on `upstream_url`.
async fn start_front_door_to(
    upstream_url: &str,
    public_host: Option<&str>,
    allowed_hosts: &[&str],
) -> (RunningServer<SqlStore>, FrontDoorClient, TestDatabase) {
    let TrustedPki {
        store, database, ..
    } = TrustedPki::new(Backend::Sqlite, "mallory@corp.example", |_| true).await;
    let mut public = VirtualDirectory::new("/public", upstream_url);
    public.client_certificates = ClientCertificates::Accept;
    let (identity, server_certificate) = common::localhost_identity();
    let server = start(
        store,
        Arc::new(FixedClock::at(VALIDATION_TIME)) as Arc<dyn Clock>,
        TestServer::new()
            .tick(Duration::from_millis(100))
            .front_door(
                identity,
                vec![public],
                public_host.map(str::to_owned),
                allowed_hosts.iter().map(|h| (*h).to_owned()).collect(),
            )
            .config(),
    )
    .await
    .expect("server starts");
    let client = FrontDoorClient {
        addr: server.front_door_addr.expect("front door"),
        server_certificate,
    };
    (server, client, database)
}

/// Without `allowed_hosts`, `public_host` is the only host: another name the client makes up
/// gets 421 and never reaches the upstream as `X-Forwarded-Host`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allowed_hosts_public_host_is_the_only_host() {
    let (server, client, upstream, _database) =
        start_front_door_with_hosts(Some("mail.corp.example"), &[]).await;
    let mut sender = client.connect(None).await;

    let (status, echo) = get_from(&mut sender, &["Mail.Corp.Example"], "/public/", &[]).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(header(&echo, "x-forwarded-host"), Some("Mail.Corp.Example"));

    let (status, body) = get_from(&mut sender, &["evil.example"], "/public/", &[]).await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["code"], "front-door-host-not-allowed");
    assert_eq!(
        upstream.received.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "only the public host's request reached the upstream"
    );
    server.stop().await;
}

/// With neither `allowed_hosts` nor `public_host`, requests are served but the name the client
/// chose reaches the upstream nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_published_host_the_clients_host_is_not_forwarded() {
    let (server, client, _upstream, _database) = start_front_door_with_hosts(None, &[]).await;
    let mut sender = client.connect(None).await;

    let (status, echo) = get_from(&mut sender, &["evil.example"], "/public/", &[]).await;

    assert_eq!(status, 200, "{echo}");
    assert_eq!(header(&echo, "x-forwarded-host"), None, "{echo}");
    assert!(
        !echo["headers"].to_string().contains("evil.example"),
        "{echo}"
    );
    server.stop().await;
}

/// `basic_passthrough` passes the Basic scheme only: NTLM and Negotiate authenticate the
/// upstream connection rather than the request (and a connection outlives its request), and Bearer is not Basic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_passthrough_passes_only_the_basic_scheme() {
    let fixture = Fixture::new().await;
    let mut anonymous = fixture.connect(None).await;
    for value in [
        "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAO1FAAAADw==",
        "Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
    ] {
        let (status, echo) = get(&mut anonymous, "/legacy/x", &[("authorization", value)]).await;
        assert_eq!(status, 200, "{value}: {echo}");
        assert_eq!(header(&echo, "authorization"), None, "{value}");
    }
    let basic = "basic YWxpY2U6cGFzc3dvcmQ=";
    let (status, echo) = get(&mut anonymous, "/legacy/x", &[("authorization", basic)]).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(header(&echo, "authorization"), Some(basic));
}

/// A device connection's requests go over one upstream connection (made at its first request
/// and kept), and another device connection gets its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_requests_share_one_upstream_connection() {
    let fixture = Fixture::new().await;
    let connections = || {
        fixture
            .upstream
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let mut device = fixture.connect(Some(&fixture.alice())).await;
    for command in ["FolderSync", "Sync", "Ping"] {
        let path = format!("/Microsoft-Server-ActiveSync?Cmd={command}");
        let (status, echo) = get(&mut device, &path, &[]).await;
        assert_eq!(status, 200, "{echo}");
        assert_eq!(header(&echo, "x-certgate-upn"), Some("alice@corp.example"));
    }
    assert_eq!(connections(), 1, "three requests, one upstream connection");
    let mut other = fixture.connect(Some(&fixture.alice())).await;
    let (status, echo) = get(&mut other, "/Microsoft-Server-ActiveSync?Cmd=Sync", &[]).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(connections(), 2, "the second device connection has its own");
    fixture.server.stop().await;
}

/// An upstream that closes its connection after every answer without saying so (as one whose
/// keep-alive timeout just ran out does): each request still gets its answer, on a new
/// upstream connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_the_upstream_closed_is_replaced() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("upstream");
    let addr = listener.local_addr().expect("address");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = tcp
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                // Dropped: closed with no `Connection: close`.
            });
        }
    });
    let (server, client, _database) =
        start_front_door_to(&format!("http://{addr}"), None, &[]).await;
    let mut device = client.connect(None).await;
    for _ in 0..3 {
        let (status, body) = get(&mut device, "/public/", &[]).await;
        assert_eq!((status, body.as_str()), (200, Some("ok")), "{body}");
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    server.stop().await;
}
