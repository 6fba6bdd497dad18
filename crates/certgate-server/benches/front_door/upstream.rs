//! The mail server behind both proxies: HTTP/1.1 (hyper) on 127.0.0.1, in this process but on
//! a runtime of its own whose threads are named [`THREADS`], so that its CPU is reported apart
//! from the load generator's.
//!
//! It reads the request body, then answers
//! - under `…/whoami`: 200 and the identity headers it received, one `name: value` a line (the
//!   checks before the load read them);
//! - anything else: 200 and a fixed [`BODY_BYTES`]-byte WBXML-typed body when the request
//!   carries a non-empty `X-Certgate-UPN` and `Client-Cert`, and 400 otherwise, so that every
//!   request the load generator counts as a success reached the upstream with an identity.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// The upstream runtime's thread names (and the prefix CPU accounting looks for).
pub(crate) const THREADS: &str = "upstream";
/// The size of the answer to every proxied request.
pub(crate) const BODY_BYTES: usize = 1024;

/// The headers `…/whoami` reports, in this order.
pub(crate) const IDENTITY_HEADERS: &[&str] = &[
    "x-certgate-upn",
    "x-certgate-mail",
    "x-certgate-immutable-id",
    "x-certgate-certificate-serial",
    "x-certgate-certificate-issuer",
    "x-certgate-certificate-thumbprint",
    "client-cert",
    "client-cert-chain",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "authorization",
];

pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Upstream {
    /// Starts serving on a port of its own, with two worker threads.
    pub(crate) fn start() -> Result<Upstream> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(THREADS)
            .enable_all()
            .build()
            .context("the upstream's runtime")?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("the upstream port")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), hyper::service::service_fn(answer))
                        .await;
                });
            }
        });
        Ok(Upstream {
            addr,
            runtime: Some(runtime),
        })
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    // The whole body, as a mail server reads an ActiveSync command.
    let _ = body.collect().await;
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let response = if parts.uri.path().ends_with("/whoami") {
        let mut text = String::new();
        for name in IDENTITY_HEADERS {
            if let Some(value) = header(name) {
                text.push_str(&format!("{name}: {value}\n"));
            }
        }
        text_response(200, text)
    } else if header("x-certgate-upn").is_some_and(|v| !v.is_empty())
        && header("client-cert").is_some_and(|v| !v.is_empty())
    {
        hyper::Response::builder()
            .status(200)
            .header("content-type", "application/vnd.ms-sync.wbxml")
            .body(Full::new(Bytes::from_static(&[b'x'; BODY_BYTES])))
    } else {
        text_response(400, "no identity headers\n".into())
    };
    Ok(response.unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()))))
}

fn text_response(
    status: u16,
    text: String,
) -> Result<hyper::Response<Full<Bytes>>, hyper::http::Error> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(text)))
}
