//! The load generator, the same code for both servers: `concurrency` tokio tasks, each doing
//! sign-ins back to back, where a sign-in is a new TCP connection, a full TLS 1.3 handshake
//! presenting the client certificate and the issuing CA (X25519, no resumption), `GET
//! /certauth` over HTTP/1.1 with `Connection: close`, and reading the whole response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::cpu;

/// A sign-in that takes longer than this counts as an error.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(10);

const REQUEST: &[u8] = b"GET /certauth HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nUser-Agent: certgate-bench\r\nConnection: close\r\n\r\n";

/// What a good answer looks like.
#[derive(Clone, Debug)]
pub(crate) enum Expect {
    /// certgate: 200 and a JSON body with `"result":"success"`.
    Certgate,
    /// nginx: 200 and exactly `SUCCESS <serial in upper-case hex>\n`.
    Nginx { body: String },
}

pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    pub(crate) expect: Expect,
    /// The server's processes, for CPU accounting; nginx's workers are found as children.
    pub(crate) pids: Vec<u32>,
    pub(crate) with_children: bool,
}

impl Target {
    /// `Ok` when `exchange` is a successful sign-in.
    pub(crate) fn judge(&self, exchange: &Exchange) -> Result<(), String> {
        let good = exchange.status == 200
            && match &self.expect {
                Expect::Certgate => exchange.body_contains(b"\"result\":\"success\""),
                Expect::Nginx { body } => exchange.body == body.as_bytes(),
            };
        if good {
            Ok(())
        } else {
            Err(format!(
                "HTTP {}: {}",
                exchange.status,
                String::from_utf8_lossy(&exchange.body).trim()
            ))
        }
    }
}

/// A TLS client presenting one certificate chain.
pub(crate) struct Client {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl Client {
    /// `chain` is end entity first; the server's self-signed certificate is the only root.
    pub(crate) fn new(chain: &[Vec<u8>], key_pkcs8: &[u8], server_der: &[u8]) -> Result<Client> {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        // One group for both servers: the Debian nginx's OpenSSL 3.0 has no ML-KEM hybrid.
        provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(server_der.to_vec()))
            .context("the server certificate as a root")?;
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .context("TLS 1.3")?
            .with_root_certificates(roots)
            .with_client_auth_cert(
                chain
                    .iter()
                    .map(|der| CertificateDer::from(der.clone()))
                    .collect(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8.to_vec())),
            )
            .context("the client certificate and key")?;
        config.resumption = Resumption::disabled();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Client {
            connector: TlsConnector::from(Arc::new(config)),
            server_name: ServerName::try_from("localhost")?,
        })
    }

    /// One sign-in on a new connection.
    pub(crate) async fn sign_in(&self, addr: SocketAddr) -> Result<Exchange, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let mut tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        tls.write_all(REQUEST)
            .await
            .map_err(|e| format!("sending the request: {e}"))?;
        let mut raw = Vec::with_capacity(2048);
        let read = tls.read_to_end(&mut raw).await;
        let (status, body) = match parse_response(&raw) {
            Ok(parsed) => parsed,
            Err(problem) => {
                return Err(match read {
                    Err(error) => format!("reading the response: {error} ({problem})"),
                    Ok(_) => problem,
                })
            }
        };
        let connection = tls.get_ref().1;
        Ok(Exchange {
            status,
            body: body.to_vec(),
            protocol: connection
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            cipher_suite: connection
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
            key_exchange: connection
                .negotiated_key_exchange_group()
                .map(|g| format!("{:?}", g.name()))
                .unwrap_or_default(),
            full_handshake: matches!(
                connection.handshake_kind(),
                Some(rustls::HandshakeKind::Full)
            ),
        })
    }
}

/// The answer to one sign-in, and what TLS negotiated.
#[derive(Clone, Debug)]
pub(crate) struct Exchange {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) protocol: String,
    pub(crate) cipher_suite: String,
    pub(crate) key_exchange: String,
    pub(crate) full_handshake: bool,
}

impl Exchange {
    fn body_contains(&self, needle: &[u8]) -> bool {
        self.body.windows(needle.len()).any(|w| w == needle)
    }

    pub(crate) fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim().to_owned()
    }
}

/// Status and body of a complete HTTP/1.1 response (the body as long as Content-Length says,
/// or up to the end of the connection without one).
fn parse_response(raw: &[u8]) -> Result<(u16, &[u8]), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("incomplete response ({} bytes)", raw.len()))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "response head not UTF-8")?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let length = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    match length {
        Some(length) if body.len() < length => {
            Err(format!("body cut short: {} of {length} bytes", body.len()))
        }
        Some(length) => Ok((status, &body[..length])),
        None => Ok((status, body)),
    }
}

/// How long a segment runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) concurrency: usize,
    /// Load without measuring, so that the servers and the caches are warm.
    pub(crate) warm_up: Duration,
    pub(crate) measure: Duration,
}

/// One measured stretch of load on one server.
#[derive(Clone, Debug, Default)]
pub(crate) struct Segment {
    /// Successful sign-ins that ended inside the window, their latencies in nanoseconds.
    pub(crate) latencies_ns: Vec<u64>,
    /// Failed sign-ins that ended inside the window.
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    /// Successful sign-ins in the whole segment, warm-up and tail included.
    pub(crate) all_successes: u64,
    /// The window's length, seconds.
    pub(crate) seconds: f64,
    pub(crate) cpu: cpu::Used,
}

#[derive(Default)]
struct TaskRecord {
    latencies_ns: Vec<u64>,
    all_successes: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Runs `timing.concurrency` sign-in loops against `target` until the measuring window ends
/// and collects what ended inside it. The sign-ins still in flight at the end are awaited but
/// not counted, so that no load spills into the next segment.
pub(crate) async fn run_segment(
    client: Arc<Client>,
    target: Arc<Target>,
    timing: Timing,
) -> Segment {
    let start = Instant::now();
    let window_from = start + timing.warm_up;
    let window_to = window_from + timing.measure;
    let tasks: Vec<_> = (0..timing.concurrency)
        .map(|_| {
            let client = Arc::clone(&client);
            let target = Arc::clone(&target);
            tokio::spawn(async move {
                let mut record = TaskRecord::default();
                while Instant::now() < window_to {
                    let began = Instant::now();
                    let outcome =
                        match tokio::time::timeout(SIGN_IN_TIMEOUT, client.sign_in(target.addr))
                            .await
                        {
                            Ok(Ok(exchange)) => target.judge(&exchange),
                            Ok(Err(error)) => Err(error),
                            Err(_) => Err(format!("no answer within {SIGN_IN_TIMEOUT:?}")),
                        };
                    let ended = Instant::now();
                    record.all_successes += u64::from(outcome.is_ok());
                    if ended < window_from || ended > window_to {
                        continue;
                    }
                    match outcome {
                        Ok(()) => record.latencies_ns.push((ended - began).as_nanos() as u64),
                        Err(error) => {
                            record.errors += 1;
                            record.first_error.get_or_insert(error);
                        }
                    }
                }
                record
            })
        })
        .collect();
    let snapshot = || cpu::snapshot(&target.pids, target.with_children);
    tokio::time::sleep_until(window_from.into()).await;
    let from = snapshot();
    tokio::time::sleep_until(window_to.into()).await;
    let to = snapshot();
    let mut segment = Segment {
        seconds: timing.measure.as_secs_f64(),
        cpu: cpu::Used::between(&from, &to),
        ..Segment::default()
    };
    for task in tasks {
        match task.await {
            Ok(record) => {
                segment.latencies_ns.extend(record.latencies_ns);
                segment.errors += record.errors;
                segment.all_successes += record.all_successes;
                if segment.first_error.is_none() {
                    segment.first_error = record.first_error;
                }
            }
            Err(error) => {
                segment.errors += 1;
                segment
                    .first_error
                    .get_or_insert_with(|| format!("a load task failed: {error}"));
            }
        }
    }
    segment
}
