//! The HTTP CRL fetcher against real servers on 127.0.0.1 that misbehave on purpose: each
//! answers from a script of raw bytes and pauses, so truncation, dripping and oversized bodies
//! are exactly what goes over the wire. Every fetch runs under a limit of a few seconds at
//! most, so no test can hang.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certgate_core::crl_fetch::{
    Conditional, CrlFetcher, FetchError, FetchLimits, FetchOutcome, FetchProgress, NoProgress,
};
use certgate_server::HttpCrlFetcher;
use common::{read_and_record, response_head, Request};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One step of a scripted answer. The connection closes after the last step.
enum Step {
    Send(Vec<u8>),
    Pause(Duration),
}

fn send(bytes: impl Into<Vec<u8>>) -> Step {
    Step::Send(bytes.into())
}

/// A response head with `Connection: close` and the given extra header lines.
fn head(status: &str, headers: &[&str]) -> Step {
    send(response_head(status, headers))
}

/// Longer than any fetch in these tests may take: the server holds the connection open.
const HANG: Step = Step::Pause(Duration::from_secs(30));

type Script = dyn Fn(&Request) -> Vec<Step> + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1:0 answering every request from `script`. Its tasks end
/// when the server is dropped or the test's runtime shuts down.
struct ScriptedServer {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
    accept: JoinHandle<()>,
}

impl ScriptedServer {
    async fn start(script: impl Fn(&Request) -> Vec<Step> + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let accept = {
            let requests = Arc::clone(&requests);
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    tokio::spawn(answer(socket, Arc::clone(&script), Arc::clone(&requests)));
                }
            })
        };
        ScriptedServer {
            base,
            requests,
            accept,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests lock").clone()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn answer(mut socket: TcpStream, script: Arc<Script>, requests: Arc<Mutex<Vec<Request>>>) {
    let Some(request) = read_and_record(&mut socket, &requests).await else {
        return;
    };
    for step in script(&request) {
        match step {
            Step::Send(bytes) => {
                if socket.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Step::Pause(duration) => tokio::time::sleep(duration).await,
        }
    }
    let _ = socket.shutdown().await;
}

/// Records what the fetcher reports.
#[derive(Default)]
struct RecordedProgress {
    started: Mutex<Vec<(String, Option<u64>)>>,
    advanced: Mutex<Vec<u64>>,
    finished: Mutex<u32>,
}

impl FetchProgress for RecordedProgress {
    fn started(&self, url: &str, total: Option<u64>) {
        self.started
            .lock()
            .expect("lock")
            .push((url.to_owned(), total));
    }
    fn advanced(&self, bytes: u64) {
        self.advanced.lock().expect("lock").push(bytes);
    }
    fn finished(&self) {
        *self.finished.lock().expect("lock") += 1;
    }
}

impl RecordedProgress {
    fn advanced_total(&self) -> u64 {
        self.advanced.lock().expect("lock").iter().sum()
    }
    fn started_count(&self) -> usize {
        self.started.lock().expect("lock").len()
    }
    fn finished_count(&self) -> u32 {
        *self.finished.lock().expect("lock")
    }
}

fn limits(max_bytes: u64, max_duration: Duration) -> FetchLimits {
    FetchLimits {
        max_bytes,
        max_duration,
    }
}

const GENEROUS: FetchLimits = FetchLimits {
    max_bytes: 1024 * 1024,
    max_duration: Duration::from_secs(5),
};

async fn fetch(url: &str, conditional: &Conditional, limits: FetchLimits) -> FetchResult {
    let fetcher = HttpCrlFetcher::new().expect("HTTP client");
    fetcher.fetch(url, conditional, limits, &NoProgress).await
}

type FetchResult = Result<FetchOutcome, FetchError>;

const CRL_BODY: &[u8] = b"0\x82 pretend this is a DER CRL";

#[tokio::test]
async fn ok_response_yields_body_and_validators() {
    let server = ScriptedServer::start(|_| {
        vec![
            head(
                "200 OK",
                &[
                    &format!("Content-Length: {}", CRL_BODY.len()),
                    "Content-Type: application/pkix-crl",
                    "ETag: \"v1\"",
                    "Last-Modified: Tue, 01 Apr 2025 10:00:00 GMT",
                ],
            ),
            send(CRL_BODY),
        ]
    })
    .await;
    let url = server.url("/ca.crl");
    let progress = RecordedProgress::default();
    let fetcher = HttpCrlFetcher::new().expect("HTTP client");

    let outcome = fetcher
        .fetch(&url, &Conditional::default(), GENEROUS, &progress)
        .await;

    assert_eq!(
        outcome,
        Ok(FetchOutcome::Fetched {
            body: CRL_BODY.to_vec(),
            etag: Some("\"v1\"".into()),
            last_modified: Some("Tue, 01 Apr 2025 10:00:00 GMT".into()),
            content_type: Some("application/pkix-crl".into()),
        })
    );
    assert_eq!(
        *progress.started.lock().expect("lock"),
        [(url, Some(CRL_BODY.len() as u64))]
    );
    assert_eq!(progress.advanced_total(), CRL_BODY.len() as u64);
    assert_eq!(progress.finished_count(), 1);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].head.starts_with("GET /ca.crl HTTP/1.1"));
    assert_eq!(
        requests[0].header("user-agent"),
        Some(concat!("certgate/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[0].header("if-modified-since"), None);
}

#[tokio::test]
async fn conditional_request_with_matching_etag_is_not_modified() {
    let server = ScriptedServer::start(|request| {
        if request.header("if-none-match") == Some("\"v1\"") {
            vec![head("304 Not Modified", &["ETag: \"v1\""])]
        } else {
            vec![head("200 OK", &["Content-Length: 3"]), send("new")]
        }
    })
    .await;
    let conditional = Conditional {
        etag: Some("\"v1\"".into()),
        last_modified: Some("Tue, 01 Apr 2025 10:00:00 GMT".into()),
    };
    let progress = RecordedProgress::default();
    let fetcher = HttpCrlFetcher::new().expect("HTTP client");

    let outcome = fetcher
        .fetch(&server.url("/ca.crl"), &conditional, GENEROUS, &progress)
        .await;

    assert_eq!(outcome, Ok(FetchOutcome::NotModified));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("if-none-match"), Some("\"v1\""));
    assert_eq!(
        requests[0].header("if-modified-since"),
        Some("Tue, 01 Apr 2025 10:00:00 GMT")
    );
    assert_eq!(progress.started_count(), 0, "a 304 has no body to follow");
    assert_eq!(progress.finished_count(), 0);
}

#[tokio::test]
async fn unusable_cached_validator_is_left_out_of_the_request() {
    let server =
        ScriptedServer::start(|_| vec![head("200 OK", &["Content-Length: 3"]), send("crl")]).await;
    let conditional = Conditional {
        etag: Some("\"v1\"\r\nX-Injected: yes".into()),
        last_modified: None,
    };

    let outcome = fetch(&server.url("/ca.crl"), &conditional, GENEROUS).await;

    assert!(
        matches!(outcome, Ok(FetchOutcome::Fetched { .. })),
        "{outcome:?}"
    );
    let requests = server.requests();
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[0].header("x-injected"), None);
}

#[tokio::test]
async fn not_found_is_an_http_status_error() {
    let server = ScriptedServer::start(|_| {
        vec![
            head("404 Not Found", &["Content-Length: 9"]),
            send("not found"),
        ]
    })
    .await;
    let url = server.url("/missing.crl");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

    assert_eq!(outcome, Err(FetchError::HttpStatus { url, status: 404 }));
}

#[tokio::test]
async fn other_success_statuses_are_http_status_errors() {
    let server = ScriptedServer::start(|_| vec![head("204 No Content", &[])]).await;
    let url = server.url("/ca.crl");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

    assert_eq!(outcome, Err(FetchError::HttpStatus { url, status: 204 }));
}

#[tokio::test]
async fn port_with_nothing_listening_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local addr");
    drop(listener);
    let url = format!("http://{address}/ca.crl");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

    match outcome {
        Err(FetchError::Unreachable {
            url: reported,
            detail,
        }) => {
            assert_eq!(reported, url);
            assert!(
                detail.to_ascii_lowercase().contains("connection refused"),
                "the OS error at the bottom of the chain is shown: {detail}"
            );
            assert!(!detail.contains(&url), "the URL is not repeated: {detail}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

/// A server that speaks plain HTTP where TLS is expected: the handshake fails.
#[tokio::test]
async fn tls_handshake_failure_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local addr");
    let server = tokio::spawn(async move {
        if let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                .await;
            let _ = socket.shutdown().await;
        }
    });
    let url = format!("https://{address}/ca.crl");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;
    server.abort();

    match outcome {
        Err(FetchError::Unreachable { detail, .. }) => assert!(!detail.is_empty()),
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn body_dripping_past_the_deadline_times_out() {
    let server = ScriptedServer::start(|_| {
        let mut steps = vec![head("200 OK", &["Content-Length: 1000"])];
        for _ in 0..1000 {
            steps.push(send("x"));
            steps.push(Step::Pause(Duration::from_millis(50)));
        }
        steps
    })
    .await;
    let url = server.url("/slow.crl");
    let progress = RecordedProgress::default();
    let fetcher = HttpCrlFetcher::new().expect("HTTP client");
    let began = Instant::now();

    let outcome = fetcher
        .fetch(
            &url,
            &Conditional::default(),
            limits(1024 * 1024, Duration::from_secs(1)),
            &progress,
        )
        .await;

    let elapsed = began.elapsed();
    assert_eq!(
        outcome,
        Err(FetchError::Timeout {
            url,
            limit_seconds: 1
        })
    );
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
    assert!(
        progress.advanced_total() > 0,
        "the body had started to arrive"
    );
    assert_eq!(
        progress.finished_count(),
        1,
        "a started download is finished"
    );
}

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let server = ScriptedServer::start(|_| vec![HANG]).await;
    let url = server.url("/ca.crl");
    let began = Instant::now();

    let outcome = fetch(
        &url,
        &Conditional::default(),
        limits(1024, Duration::from_millis(500)),
    )
    .await;

    assert_eq!(
        outcome,
        Err(FetchError::Timeout {
            url,
            limit_seconds: 1
        })
    );
    assert!(began.elapsed() < Duration::from_secs(2));
}

/// The server announces a large body and then sends nothing: a fetcher that tried to read
/// the body would hang until the deadline instead of failing at once.
#[tokio::test]
async fn announced_length_over_the_limit_is_refused_before_reading() {
    let server =
        ScriptedServer::start(|_| vec![head("200 OK", &["Content-Length: 10000000"]), HANG]).await;
    let url = server.url("/huge.crl");
    let progress = RecordedProgress::default();
    let fetcher = HttpCrlFetcher::new().expect("HTTP client");
    let began = Instant::now();

    let outcome = fetcher
        .fetch(
            &url,
            &Conditional::default(),
            limits(1024 * 1024, Duration::from_secs(5)),
            &progress,
        )
        .await;

    assert_eq!(
        outcome,
        Err(FetchError::TooLarge {
            url,
            limit_bytes: 1024 * 1024,
            size: 10_000_000
        })
    );
    assert!(began.elapsed() < Duration::from_secs(2));
    assert_eq!(progress.started_count(), 0);
    assert_eq!(progress.advanced_total(), 0);
}

#[tokio::test]
async fn chunked_body_growing_past_the_limit_is_cut_off() {
    const CHUNK: usize = 16 * 1024;
    const LIMIT: u64 = 64 * 1024;
    let server = ScriptedServer::start(|_| {
        let mut steps = vec![head("200 OK", &["Transfer-Encoding: chunked"])];
        for _ in 0..64 {
            let mut chunk = format!("{CHUNK:x}\r\n").into_bytes();
            chunk.extend(std::iter::repeat_n(b'x', CHUNK));
            chunk.extend_from_slice(b"\r\n");
            steps.push(send(chunk));
        }
        steps.push(send("0\r\n\r\n"));
        steps
    })
    .await;
    let url = server.url("/growing.crl");
    let progress = RecordedProgress::default();
    let fetcher = HttpCrlFetcher::new().expect("HTTP client");

    let outcome = fetcher
        .fetch(
            &url,
            &Conditional::default(),
            limits(LIMIT, Duration::from_secs(5)),
            &progress,
        )
        .await;

    match outcome {
        Err(FetchError::TooLarge {
            url: reported,
            limit_bytes,
            size,
        }) => {
            assert_eq!(reported, url);
            assert_eq!(limit_bytes, LIMIT);
            assert!(size > LIMIT, "{size}");
            assert!(
                size <= LIMIT + CHUNK as u64,
                "stopped at the first chunk past: {size}"
            );
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let started = progress.started.lock().expect("lock").clone();
    assert_eq!(started, [(url, None)]);
    assert!(progress.advanced_total() <= LIMIT);
    assert_eq!(progress.finished_count(), 1);
}

#[tokio::test]
async fn connection_closed_before_the_announced_length_is_truncated() {
    let server = ScriptedServer::start(|_| {
        vec![
            head("200 OK", &["Content-Length: 1000"]),
            send(vec![b'x'; 500]),
        ]
    })
    .await;
    let url = server.url("/cut.crl");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

    assert_eq!(
        outcome,
        Err(FetchError::Truncated {
            url,
            received: 500,
            expected: Some(1000)
        })
    );
}

#[tokio::test]
async fn chunked_body_without_its_last_chunk_is_truncated() {
    let server = ScriptedServer::start(|_| {
        vec![
            head("200 OK", &["Transfer-Encoding: chunked"]),
            send("5\r\nhello\r\n"),
        ]
    })
    .await;
    let url = server.url("/cut.crl");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

    assert_eq!(
        outcome,
        Err(FetchError::Truncated {
            url,
            received: 5,
            expected: None
        })
    );
}

#[tokio::test]
async fn only_http_and_https_urls_are_fetched() {
    for url in [
        "ftp://127.0.0.1/ca.crl",
        "file:///etc/passwd",
        "ldap://ldap.example/cn=CA?certificateRevocationList",
        "not a url",
        "",
    ] {
        let outcome = fetch(url, &Conditional::default(), GENEROUS).await;
        assert_eq!(
            outcome,
            Err(FetchError::UrlNotAllowed { url: url.into() }),
            "{url}"
        );
    }
}

/// Errors and progress name the URL as configured, not a normalised form of it.
#[tokio::test]
async fn errors_name_the_url_as_configured() {
    let server =
        ScriptedServer::start(|_| vec![head("404 Not Found", &["Content-Length: 0"])]).await;
    let url = server.url("/a/../ca.crl").replace("http://", "HTTP://");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

    assert_eq!(outcome, Err(FetchError::HttpStatus { url, status: 404 }));
    assert_eq!(server.requests()[0].path, "/ca.crl");
}

/// A redirect is refused, not followed, even to another path of the same server: the CA
/// record's URL is the only address fetched, and the error names the Location so the
/// administrator can configure it instead.
#[tokio::test]
async fn redirect_to_another_path_is_refused_naming_the_location() {
    let server = ScriptedServer::start(|request| match request.path.as_str() {
        "/old.crl" => vec![head(
            "302 Found",
            &["Location: /new.crl", "Content-Length: 0"],
        )],
        "/new.crl" => vec![head("200 OK", &["Content-Length: 3"]), send("crl")],
        _ => vec![head("404 Not Found", &["Content-Length: 0"])],
    })
    .await;
    let url = server.url("/old.crl");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

    let error = outcome.expect_err("a redirect is refused");
    assert_eq!(
        error,
        FetchError::Redirected {
            url,
            status: 302,
            location: server.url("/new.crl"),
        }
    );
    assert_eq!(error.code(), "crl-fetch-redirected");
    assert!(
        error.to_string().contains(&server.url("/new.crl")),
        "{error}"
    );
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/old.crl"]);
}

/// A public CRL URL that redirects to a loopback or internal address must not make certgate
/// request it: the redirect target gets no request at all.
#[tokio::test]
async fn redirect_to_another_host_sends_it_no_request() {
    let target =
        ScriptedServer::start(|_| vec![head("200 OK", &["Content-Length: 6"]), send("secret")])
            .await;
    let internal = target
        .url("/admin/ca.crl")
        .replace("127.0.0.1", "localhost");
    let redirecting = {
        let internal = internal.clone();
        ScriptedServer::start(move |_| {
            vec![head(
                "307 Temporary Redirect",
                &[&format!("Location: {internal}"), "Content-Length: 0"],
            )]
        })
        .await
    };
    let url = redirecting.url("/ca.crl");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

    assert_eq!(
        outcome,
        Err(FetchError::Redirected {
            url,
            status: 307,
            location: internal,
        })
    );
    assert_eq!(redirecting.requests().len(), 1);
    assert!(target.requests().is_empty(), "{:?}", target.requests());
}

#[tokio::test]
async fn redirect_to_a_non_http_url_is_refused_naming_it() {
    for target in ["file:///etc/passwd", "ftp://127.0.0.1/ca.crl"] {
        let server = ScriptedServer::start(move |_| {
            vec![head(
                "301 Moved Permanently",
                &[&format!("Location: {target}"), "Content-Length: 0"],
            )]
        })
        .await;

        let url = server.url("/ca.crl");

        let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

        assert_eq!(
            outcome,
            Err(FetchError::Redirected {
                url,
                status: 301,
                location: target.to_owned(),
            }),
            "{target}"
        );
        assert_eq!(server.requests().len(), 1, "{target}");
    }
}

/// A 3xx without a Location is just a status that is not 200.
#[tokio::test]
async fn redirect_status_without_a_location_is_an_http_status_error() {
    let server = ScriptedServer::start(|_| vec![head("302 Found", &["Content-Length: 0"])]).await;
    let url = server.url("/ca.crl");

    let outcome = fetch(&url, &Conditional::default(), GENEROUS).await;

    assert_eq!(outcome, Err(FetchError::HttpStatus { url, status: 302 }));
}
