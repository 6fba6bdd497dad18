//! Resource limits on every listener (plain HTTP, certificate sign-in, web, front door).
//!
//! Without them a client that opens connections and sends nothing holds a file descriptor each
//! for as long as it likes: about 1,000 idle TLS connections exhaust the common 1,024 open-file
//! limit and stop every sign-in. So each listener has
//! - a connection cap (over it a new connection is closed at once, so the listener's own file
//!   descriptors stay bounded and the kernel's backlog never fills with waiting clients),
//! - a TLS handshake timeout,
//! - a header read timeout (hyper's, for HTTP/1.1, which also ends an idle keep-alive
//!   connection; and a per-connection watchdog for every protocol, which closes a connection
//!   that has had no request in flight for the header read timeout before its first request
//!   and for the idle timeout after one: hyper has no HTTP/2 idle timeout),
//! - a request header limit, the same for HTTP/1.1 and HTTP/2 (hyper's HTTP/2 default is
//!   16 KiB, well below what Exchange clients send),
//! - a body read timeout on the routes that collect a body (not the front door, which streams).
//!
//! Anonymous requests that write rows (new sign-in flows, SAML request IDs) are rate limited
//! per client address and globally (certgate_core::rate_limit).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use certgate_core::clock::Clock;
use certgate_core::rate_limit::{RateLimitSettings, RateLimiter};
use certgate_core::retention::RetentionSettings;
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tower::Service;

use crate::refusal::Refusal;
use crate::tls_client::TlsClient;

/// The limits of one listener (`[limits]` in certgate.toml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Open connections at most; a connection over the cap is closed at once.
    pub max_connections: usize,
    /// Connections the system queues for the listener before certgate accepts them (the
    /// `listen(2)` backlog; Linux caps it at `net.core.somaxconn`). A burst of new
    /// connections larger than the queue is refused by the system or retried by the client
    /// after a second, so it is sized for a burst of sign-ins, not for the steady rate.
    pub listen_backlog: u32,
    /// Time for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time for a request's headers to arrive, and for the first request on a new connection.
    pub header_read_timeout: Duration,
    /// Time a connection may stay open with no request in flight after its first request
    /// (HTTP/2; HTTP/1.1 keep-alive connections wait for the header read timeout).
    pub idle_timeout: Duration,
    /// Time for a request body to arrive, on routes that collect it.
    pub body_read_timeout: Duration,
    /// Request line and headers, bytes, for HTTP/1.1 and HTTP/2 alike.
    pub max_header_bytes: usize,
    /// Time a request waits for the database in all (and the pool for a connection); past
    /// it the request is answered 503 `store-unavailable`.
    pub store_timeout: Duration,
}

/// The default of [`ListenerLimits::store_timeout`], and the pool's acquire timeout.
pub const DEFAULT_STORE_TIMEOUT: Duration = certgate_store::DEFAULT_ACQUIRE_TIMEOUT;

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            max_connections: 512,
            listen_backlog: 1024,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            max_header_bytes: 65_536,
            store_timeout: DEFAULT_STORE_TIMEOUT,
        }
    }
}

/// Every limit `serve` applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Limits {
    /// Connections, timeouts and header size, the same on every listener.
    pub listeners: ListenerLimits,
    /// The rate limits on anonymous requests that write rows ([`ANONYMOUS_WRITE_PATHS`]).
    pub rate: RateLimitSettings,
    /// How long the sign-in and audit logs are kept, and how the background job trims them.
    pub retention: RetentionSettings,
}

/// The web listener's paths that anyone can call and that write rows: each starts a sign-in
/// flow or keeps a SAML request ID for replay detection. The domain password page is limited
/// the same way per client address: each post binds to the directory and writes an audit
/// event, and the per-user lockout alone would let one address try many users' passwords.
pub const ANONYMOUS_WRITE_PATHS: &[&str] = &[
    certgate_oidc::AUTHORIZATION_PATH,
    crate::federation_http::SAML_SSO_PATH,
    crate::federation_http::SAML_SLO_PATH,
    crate::federation_http::WSFED_PATH,
    crate::web::DOMAIN_PASSWORD_PATH,
];

/// How often the retention job runs.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Requests in flight on one connection and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    served: AtomicBool,
    last: Mutex<Instant>,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            last: Mutex::new(Instant::now()),
        })
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.served.store(true, Ordering::SeqCst);
        InFlight(Arc::clone(self))
    }

    /// When the connection counts as idle, if no request is in flight.
    fn idle_deadline(&self, limits: &ListenerLimits) -> Option<Instant> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let last = *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(
            last + if self.served.load(Ordering::SeqCst) {
                limits.idle_timeout
            } else {
                limits.header_read_timeout
            },
        )
    }
}

/// One request in flight, until its response body is sent (or dropped).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self
            .0
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request in flight until it is finished.
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// The HTTP limits hyper enforces itself, for a listener whose requests may carry
/// `max_header_bytes` of headers.
fn connection_builder(
    limits: &ListenerLimits,
) -> hyper_util::server::conn::auto::Builder<TokioExecutor> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let header_bytes = limits.max_header_bytes.max(8192);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // The read buffer bounds the request line and headers (over it: 431).
        .max_buf_size(header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        // RFC 9113 §6.5.2: SETTINGS_MAX_HEADER_LIST_SIZE, the same limit as HTTP/1.1.
        .max_header_list_size(u32::try_from(header_bytes).unwrap_or(u32::MAX))
        // Pings find peers that vanished while a stream is open.
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    builder
}

/// Serves `app` on one accepted connection under `limits`, with `client` as a request
/// extension when given. Returns when the connection is closed.
pub(crate) async fn serve_connection<I>(
    io: I,
    app: Router,
    client: Option<TlsClient>,
    limits: ListenerLimits,
    address: SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let tracked = Arc::clone(&activity);
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            if let Some(client) = &client {
                request.extensions_mut().insert(client.clone());
            }
            let in_flight = tracked.begin();
            let mut app = app.clone();
            async move {
                let response = app.call(request).await?;
                Ok::<_, std::convert::Infallible>(response.map(|inner| {
                    Body::new(TrackedBody {
                        inner,
                        _in_flight: in_flight,
                    })
                }))
            }
        });
    let builder = connection_builder(&limits);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut closing: Option<Instant> = None;
    loop {
        // While a request is in flight, look again after the idle timeout.
        let wake = match closing {
            // Closing gracefully: a client that does not let go is dropped after a grace time.
            Some(since) => since + limits.header_read_timeout,
            None => activity
                .idle_deadline(&limits)
                .unwrap_or_else(|| Instant::now() + limits.idle_timeout),
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%address, %error, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                if closing.is_some() {
                    tracing::debug!(%address, "connection dropped after its grace time");
                    return;
                }
                if activity.idle_deadline(&limits).is_some_and(|deadline| deadline <= Instant::now()) {
                    tracing::debug!(%address, "closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    closing = Some(Instant::now());
                }
            }
        }
    }
}

/// Resolves once `shutdown` says stop.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Accepts on `listener` while there is room under the connection cap; hands each connection
/// to `handle` with its permit (the slot is free again when the permit is dropped).
pub(crate) async fn accept_loop<F>(
    listener: TcpListener,
    limits: ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
    mut handle: F,
) where
    F: FnMut(tokio::net::TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit),
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let (tcp, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: wait for descriptors to be freed rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut shutdown) => return,
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(%address, max = limits.max_connections, "connection refused: the listener is at its connection limit");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        handle(tcp, address, permit);
    }
}

/// The plain HTTP listener (CRLs, CA certificates, metrics, health) under `limits`.
pub async fn serve_plain(
    listener: TcpListener,
    app: Router,
    limits: ListenerLimits,
    shutdown: watch::Receiver<bool>,
) {
    accept_loop(listener, limits, shutdown, move |tcp, address, permit| {
        let app = app.clone();
        tokio::spawn(async move {
            serve_connection(tcp, app, None, limits, address).await;
            drop(permit);
        });
    })
    .await;
}

/// A refusal as a page or, for `Accept: application/json`, as JSON; with its reason code.
fn refusal(status: StatusCode, code: &'static str, message: &str, headers: &HeaderMap) -> Response {
    Refusal::new(status, code, message.to_owned())
        .heading("Try again later")
        .answer(headers)
}

/// A request body that fails once its deadline has passed.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    expired: Arc<AtomicBool>,
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.expired.store(true, Ordering::SeqCst);
                Poll::Ready(Some(Err(axum::Error::new("the request body timed out"))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

use std::future::Future as _;

async fn body_deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let expired = Arc::new(AtomicBool::new(false));
    let headers = request.headers().clone();
    let (parts, inner) = request.into_parts();
    let body = Body::new(DeadlineBody {
        inner,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        expired: Arc::clone(&expired),
    });
    let response = next.run(Request::from_parts(parts, body)).await;
    if expired.load(Ordering::SeqCst) {
        let mut refused = refusal(
            StatusCode::REQUEST_TIMEOUT,
            "request-body-timeout",
            &format!(
                "The request's body did not arrive within {} seconds. Check the connection and try again.",
                timeout.as_secs()
            ),
            &headers,
        );
        // RFC 9110 §15.5.9: the server closes the connection after a 408.
        refused
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return refused;
    }
    response
}

/// Gives every request body of `router` `timeout` to arrive (answered 408
/// `request-body-timeout`). For routes that collect their body, not for streaming proxies.
pub fn with_body_read_timeout(router: Router, timeout: Duration) -> Router {
    router.layer(axum::middleware::from_fn_with_state(timeout, body_deadline))
}

/// The rate limiter and the paths it guards.
#[derive(Clone)]
struct Admission {
    limiter: Arc<RateLimiter>,
    clock: Arc<dyn Clock>,
    paths: &'static [&'static str],
}

async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    if !admission.paths.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    // Without the listener's client (a router served some other way) all requests share one
    // bucket: stricter, never looser.
    let address = request
        .extensions()
        .get::<TlsClient>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |client| {
            client.address.ip()
        });
    match admission.limiter.admit(address, admission.clock.now()) {
        Ok(()) => next.run(request).await,
        Err(limited) => {
            let mut refused = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                limited.code(),
                &format!("{limited}."),
                request.headers(),
            );
            // RFC 6585 §4: Retry-After says when to come back.
            refused.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(limited.retry_after_seconds()),
            );
            refused
        }
    }
}

/// Rate limits requests to `paths` (those that anyone can send and that write rows) per
/// client address and globally; over the limit: 429 with `rate-limited` (this address) or
/// `rate-limited-global`, and `Retry-After`.
pub fn with_rate_limit(
    router: Router,
    limiter: Arc<RateLimiter>,
    clock: Arc<dyn Clock>,
    paths: &'static [&'static str],
) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        Admission {
            limiter,
            clock,
            paths,
        },
        admit,
    ))
}
