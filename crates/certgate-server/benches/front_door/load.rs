//! The front door's workload, the same for both proxies (the load generator itself is
//! `common::load`): an ActiveSync-style `POST /Microsoft-Server-ActiveSync?Cmd=Sync&…` with a
//! small WBXML-typed body over HTTP/1.1 (hyper's client), answered by the upstream with 1 KiB.
//! In [`Mode::KeepAlive`] each load task keeps one TLS connection and sends its requests on it
//! back to back, as an ActiveSync device does; in [`Mode::NewConnection`] every request gets a
//! new TCP connection and a full TLS 1.3 handshake with the client certificate, and says
//! `Connection: close`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use crate::common::cpu::Accounting;
use crate::common::load::{Client, Exchange, Workload};
use crate::upstream::BODY_BYTES;

/// What the load requests: a Sync command of an iPhone, as Exchange sees them.
pub(crate) const LOAD_PATH: &str =
    "/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=BENCH0001&DeviceType=iPhone";
/// The request body's size (an ActiveSync Sync request with one collection is about this).
pub(crate) const REQUEST_BODY_BYTES: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    KeepAlive,
    NewConnection,
}

impl Mode {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Mode::KeepAlive => "keep_alive",
            Mode::NewConnection => "new_connection",
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Mode::KeepAlive => {
                "keep-alive: one TLS connection per load task, requests back to back on it"
            }
            Mode::NewConnection => {
                "new connection per request: TCP + full TLS 1.3 handshake with the client certificate + one request"
            }
        }
    }
}

/// One of the two proxies.
pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    pub(crate) accounting: Accounting,
}

type Sender = SendRequest<Full<Bytes>>;

/// A new connection, ready for HTTP/1.1 requests, and what TLS negotiated on it.
pub(crate) async fn connect(
    client: &Client,
    addr: SocketAddr,
) -> Result<(Sender, Exchange), String> {
    let tls = client.connect(addr).await?;
    let negotiated = Exchange::negotiated(tls.get_ref().1);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((sender, negotiated))
}

/// `method path` with `body` on `sender`; status and whole body.
pub(crate) async fn send(
    sender: &mut Sender,
    method: &str,
    path: &str,
    body: Bytes,
    close: bool,
) -> Result<(u16, Bytes), String> {
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("user-agent", "Apple-iPhone/certgate-bench")
        .header("ms-asprotocolversion", "16.1")
        .header("accept", "application/json");
    if !body.is_empty() {
        request = request.header("content-type", "application/vnd.ms-sync.wbxml");
    }
    if close {
        request = request.header("connection", "close");
    }
    let request = request
        .body(Full::new(body))
        .map_err(|e| format!("building the request: {e}"))?;
    sender
        .ready()
        .await
        .map_err(|e| format!("connection not ready: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the response: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// One request on a new connection (for the checks): the answer and what TLS negotiated.
pub(crate) async fn one_request(
    client: &Client,
    addr: SocketAddr,
    path: &str,
) -> Result<Exchange, String> {
    let (mut sender, mut exchange) = connect(client, addr).await?;
    let (status, body) = send(&mut sender, "GET", path, Bytes::new(), true).await?;
    exchange.status = status;
    exchange.body = body.to_vec();
    Ok(exchange)
}

/// ActiveSync requests back to back against one proxy.
pub(crate) struct Proxied {
    pub(crate) client: Arc<Client>,
    pub(crate) addr: SocketAddr,
    pub(crate) mode: Mode,
    /// Connections whose handshake completed.
    pub(crate) connections: AtomicU64,
    body: Bytes,
}

impl Proxied {
    pub(crate) fn new(client: Arc<Client>, addr: SocketAddr, mode: Mode) -> Proxied {
        Proxied {
            client,
            addr,
            mode,
            connections: AtomicU64::new(0),
            body: Bytes::from(vec![0x03; REQUEST_BODY_BYTES]),
        }
    }
}

impl Workload for Proxied {
    /// The open connection (keep-alive); taken out while a request is on it, so that a
    /// request that failed or timed out leaves none behind.
    type Session = Option<Sender>;

    fn session(&self) -> Option<Sender> {
        None
    }

    async fn run(&self, session: &mut Option<Sender>) -> Result<(), String> {
        let mut sender = match session.take() {
            Some(sender) => sender,
            None => {
                let (sender, _) = connect(&self.client, self.addr).await?;
                self.connections.fetch_add(1, Ordering::Relaxed);
                sender
            }
        };
        let close = self.mode == Mode::NewConnection;
        let (status, body) = send(&mut sender, "POST", LOAD_PATH, self.body.clone(), close).await?;
        if status != 200 || body.len() != BODY_BYTES {
            return Err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)]).trim()
            ));
        }
        if !close {
            *session = Some(sender);
        }
        Ok(())
    }
}
