//! The front door's connections to its upstreams: one HTTP/1.1 connection per device
//! connection and upstream, made at the first request that needs it, kept in the device
//! connection's memo between requests and driven by the task that serves the device
//! connection (no pool, no connection task of its own: a keep-alive request and its answer
//! never cross threads on the way through).
//!
//! HTTP/1.1 requests on a device connection come one at a time, so one kept connection per
//! upstream serves them all. HTTP/2 requests come at once: a request that finds the kept
//! connection busy makes one of its own, kept afterwards while fewer than
//! [`KEPT_PER_ORIGIN`] wait idle.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use axum::body::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::*;

/// Idle upstream connections a device connection keeps per upstream (more than one only
/// with HTTP/2 from the device).
const KEPT_PER_ORIGIN: usize = 4;

/// Where an upstream is and how to reach it; routes to the same place share one.
pub(super) struct Origin {
    /// Host and port to connect to.
    host: String,
    port: u16,
    /// For an https upstream: the TLS settings (trusted roots) and the name to verify.
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    /// The `Host` header the upstream gets unless its directory preserves the client's.
    pub(super) authority: HeaderValue,
    /// What the upstream URL says: the same origin is one with the same text.
    key: (String, Option<std::path::PathBuf>),
}

/// An upstream URL taken apart: its origin and the path it puts in front of the request's.
pub(super) struct ParsedUpstream {
    pub(super) origin: Origin,
    /// The upstream URL's path without its trailing `/` (empty for the root).
    pub(super) base_path: String,
}

impl Origin {
    /// The upstream `upstream` of a directory (`ca_file`: the roots an https upstream is
    /// checked against; the system's otherwise); `prefix` names the directory in errors.
    pub(super) fn parse(
        prefix: &str,
        upstream: &str,
        ca_file: Option<&std::path::Path>,
    ) -> Result<ParsedUpstream, String> {
        let invalid = |why: &str| format!("{prefix}: the upstream {upstream}: {why}");
        let uri: Uri = upstream.parse().map_err(|e| invalid(&format!("{e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid("only http:// and https:// are supported")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("it names no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid(
                "credentials in the URL are not supported (enable basic_passthrough instead)",
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err(invalid("it names no host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let config = client_tls(prefix, ca_file)?;
            let name = ServerName::try_from(host.clone())
                .map_err(|e| invalid(&format!("the host is not a TLS server name: {e}")))?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        let authority = HeaderValue::from_str(authority.as_str())
            .map_err(|_| invalid("the host is not a header value"))?;
        let base_path = uri.path().trim_end_matches('/').to_owned();
        let scheme_and_authority = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or_default(),
            authority.to_str().unwrap_or_default()
        );
        Ok(ParsedUpstream {
            origin: Origin {
                host,
                port,
                tls,
                authority,
                key: (scheme_and_authority, ca_file.map(|p| p.to_owned())),
            },
            base_path,
        })
    }

    /// Whether `other` reaches the same place the same way (one connection serves both).
    pub(super) fn same_as(&self, other: &Origin) -> bool {
        self.key == other.key
    }

    /// A new connection: TCP, TLS for https, then HTTP/1.1, within [`UPSTREAM_CONNECT_TIMEOUT`].
    async fn connect(&self) -> Result<Connected, UpstreamError> {
        let connecting = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(UpstreamError::Connect)?;
            let _ = tcp.set_nodelay(true);
            let stream = match &self.tls {
                Some((connector, name)) => UpstreamStream::Tls(Box::new(
                    connector
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(UpstreamError::Connect)?,
                )),
                None => UpstreamStream::Plain(tcp),
            };
            http1::Builder::new()
                .handshake::<_, Body>(TokioIo::new(stream))
                .await
                .map_err(UpstreamError::Http)
        };
        let (sender, connection) = tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| UpstreamError::ConnectTimeout)??;
        Ok(Connected {
            sender,
            connection,
            closed: false,
            idle: IdleTimer::new(),
        })
    }
}

/// TLS to an upstream: only the roots of `ca_file` when given, else the system's (as a
/// browser on the server would), HTTP/1.1 only.
fn client_tls(
    prefix: &str,
    ca_file: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("{prefix}: the upstream TLS settings: {e}"))?;
    let mut config = match ca_file {
        Some(path) => {
            use rustls::pki_types::pem::PemObject;
            let pem = std::fs::read(path).map_err(|e| {
                format!(
                    "{prefix}: reading the upstream CA file {}: {e}",
                    path.display()
                )
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                let certificate = certificate.map_err(|e| {
                    format!("{prefix}: the upstream CA file {}: {e}", path.display())
                })?;
                roots.add(certificate).map_err(|e| {
                    format!("{prefix}: the upstream CA file {}: {e}", path.display())
                })?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "{prefix}: the upstream CA file {} holds no certificate",
                    path.display()
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder
                .with_platform_verifier()
                .map_err(|e| format!("{prefix}: the system's trusted roots: {e}"))?
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Why a request got no answer from its upstream.
#[derive(Debug)]
pub(super) enum UpstreamError {
    Connect(io::Error),
    ConnectTimeout,
    Http(hyper::Error),
    /// No answer (or no more of it) within [`UPSTREAM_READ_TIMEOUT`].
    ReadTimeout,
    /// The connection ended before the answer came.
    Closed,
}

impl UpstreamError {
    pub(super) fn is_timeout(&self) -> bool {
        matches!(
            self,
            UpstreamError::ConnectTimeout | UpstreamError::ReadTimeout
        )
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(error) => write!(f, "connecting failed: {error}"),
            UpstreamError::ConnectTimeout => write!(
                f,
                "no connection within {} s",
                UPSTREAM_CONNECT_TIMEOUT.as_secs()
            ),
            UpstreamError::Http(error) => write!(f, "HTTP: {error}"),
            UpstreamError::ReadTimeout => write!(
                f,
                "nothing received for {} minutes",
                UPSTREAM_READ_TIMEOUT.as_secs() / 60
            ),
            UpstreamError::Closed => write!(f, "the connection closed before the answer"),
        }
    }
}

impl std::error::Error for UpstreamError {}

/// The upstream's socket, plain or TLS.
enum UpstreamStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            UpstreamStream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            UpstreamStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            UpstreamStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamStream::Plain(tcp) => tcp.is_write_vectored(),
            UpstreamStream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            UpstreamStream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            UpstreamStream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The idle read timeout, armed once per connection: a request (and each part of its answer)
/// moves the deadline, and the timer is reset only when it fires before the deadline, so a
/// keep-alive request does not touch the runtime's timer wheel.
struct IdleTimer {
    sleep: Pin<Box<Sleep>>,
    deadline: Instant,
}

impl IdleTimer {
    fn new() -> IdleTimer {
        let deadline = Instant::now() + UPSTREAM_READ_TIMEOUT;
        IdleTimer {
            sleep: Box::pin(tokio::time::sleep_until(deadline)),
            deadline,
        }
    }

    /// Something was received (or a request sent): the upstream has the full time again.
    fn restart(&mut self) {
        self.deadline = Instant::now() + UPSTREAM_READ_TIMEOUT;
    }

    /// Whether the deadline has passed; otherwise the task is woken when it may have.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            if Instant::now() >= self.deadline {
                return true;
            }
            let deadline = self.deadline;
            self.sleep.as_mut().reset(deadline);
        }
    }
}

/// One HTTP/1.1 connection to an upstream, with the hyper state machine that runs it.
struct Connected {
    sender: http1::SendRequest<Body>,
    connection: http1::Connection<TokioIo<UpstreamStream>, Body>,
    /// The connection future has completed: the connection cannot be used again.
    closed: bool,
    idle: IdleTimer,
}

impl Connected {
    /// Runs the connection (reads, writes) as far as it goes without waiting.
    fn drive(&mut self, cx: &mut Context<'_>) {
        if self.closed {
            return;
        }
        if let Poll::Ready(result) = Pin::new(&mut self.connection).poll(cx) {
            self.closed = true;
            if let Err(error) = result {
                tracing::debug!(%error, "an upstream connection ended with an error");
            }
        }
    }

    /// Ready for a request now (a kept connection the upstream has not closed meanwhile).
    fn poll_usable(&mut self, cx: &mut Context<'_>) -> bool {
        self.drive(cx);
        !self.closed && matches!(self.sender.poll_ready(cx), Poll::Ready(Ok(())))
    }

    /// Sends `request` and waits for the answer's head, running the connection meanwhile.
    async fn send(&mut self, request: Request) -> Result<hyper::Response<Incoming>, UpstreamError> {
        let mut response = std::pin::pin!(self.sender.send_request(request));
        self.idle.restart();
        std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = response.as_mut().poll(cx) {
                return Poll::Ready(result.map_err(UpstreamError::Http));
            }
            self.drive(cx);
            if let Poll::Ready(result) = response.as_mut().poll(cx) {
                return Poll::Ready(result.map_err(UpstreamError::Http));
            }
            if self.closed {
                return Poll::Ready(Err(UpstreamError::Closed));
            }
            if self.idle.poll_expired(cx) {
                return Poll::Ready(Err(UpstreamError::ReadTimeout));
            }
            Poll::Pending
        })
        .await
    }
}

/// A device connection's idle upstream connections, and what it sends every upstream.
pub(super) struct DeviceConnection {
    kept: Mutex<Vec<(usize, Connected)>>,
    /// `X-Forwarded-For`: the device's address.
    pub(super) forwarded_for: Option<HeaderValue>,
}

impl DeviceConnection {
    /// The device connection of `client`'s requests.
    pub(super) fn of(client: &TlsClient) -> Arc<DeviceConnection> {
        client.memo.get_or_insert_with(|| DeviceConnection {
            kept: Mutex::new(Vec::new()),
            forwarded_for: HeaderValue::from_str(&client.address.ip().to_string()).ok(),
        })
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Vec<(usize, Connected)>> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A kept connection to origin `origin`, if one is there.
    fn take(&self, origin: usize) -> Option<Connected> {
        let mut kept = self.kept();
        let index = kept.iter().position(|(o, _)| *o == origin)?;
        Some(kept.swap_remove(index).1)
    }

    fn keep(&self, origin: usize, connection: Connected) {
        let mut kept = self.kept();
        if kept.iter().filter(|(o, _)| *o == origin).count() < KEPT_PER_ORIGIN {
            kept.push((origin, connection));
        }
    }
}

/// Sends `request` to origin `origin` on a kept connection when one is usable, else on a
/// new one, and returns the answer with a body that streams from the upstream.
///
/// `retry`: the request again, for a request that may be sent twice (see below); `None`
/// when it may not.
pub(super) async fn exchange(
    device: &Arc<DeviceConnection>,
    origins: &[Origin],
    origin: usize,
    request: Request,
    retry: Option<impl FnOnce() -> Request>,
) -> Result<Response, UpstreamError> {
    let kept = match device.take(origin) {
        Some(mut connected) => {
            let usable = std::future::poll_fn(|cx| Poll::Ready(connected.poll_usable(cx))).await;
            usable.then_some(connected)
        }
        None => None,
    };
    let reused = kept.is_some();
    let mut connected = match kept {
        Some(connected) => connected,
        None => origins[origin].connect().await?,
    };
    let answer = match connected.send(request).await {
        Ok(answer) => answer,
        Err(error) => match retry {
            // A kept connection the upstream closed (its keep-alive timeout) just as the
            // request went out fails without an answer. A request without a body whose
            // method is safe (RFC 9110 §9.2.1: GET, HEAD, OPTIONS) is idempotent
            // (§9.2.2) and may be sent again, once, on a new connection; anything else could
            // have been acted on and is answered with the failure.
            Some(again) if reused && !error.is_timeout() => {
                tracing::debug!(%error, "a kept upstream connection failed; sending again on a new one");
                connected = origins[origin].connect().await?;
                connected.send(again()).await?
            }
            _ => return Err(error),
        },
    };
    let (parts, body) = answer.into_parts();
    let body = UpstreamBody {
        body,
        connected: Some(connected),
        device: Arc::clone(device),
        origin,
        ended: false,
    };
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// The upstream's answer body, which also runs its connection, and gives the connection back
/// to the device connection once the answer has been read to its end.
struct UpstreamBody {
    body: Incoming,
    connected: Option<Connected>,
    device: Arc<DeviceConnection>,
    origin: usize,
    ended: bool,
}

impl HttpBody for UpstreamBody {
    type Data = Bytes;
    type Error = UpstreamError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UpstreamError>>> {
        let this = self.get_mut();
        if let Some(connected) = &mut this.connected {
            connected.drive(cx);
        }
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(connected) = &mut this.connected {
                    connected.idle.restart();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.connected = None;
                Poll::Ready(Some(Err(UpstreamError::Http(error))))
            }
            Poll::Ready(None) => {
                this.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if let Some(connected) = &mut this.connected {
                    if connected.idle.poll_expired(cx) {
                        this.connected = None;
                        return Poll::Ready(Some(Err(UpstreamError::ReadTimeout)));
                    }
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // Only a connection whose answer was read to its end can carry another request; one
        // dropped half-way (the device went away) is closed with it.
        if self.ended || self.body.is_end_stream() {
            if let Some(connected) = self.connected.take() {
                if !connected.closed {
                    self.device.keep(self.origin, connected);
                }
            }
        }
    }
}
