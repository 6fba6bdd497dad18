//! The load generator both servers get in the benchmarks that run nginx beside certgate: a
//! TLS 1.3 client presenting a client certificate chain (X25519, no resumption), and
//! `concurrency` tokio tasks that each run a [`Workload`]'s operation back to back for a
//! warm-up and a measuring window, with the server's CPU read at the window's edges.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::cpu::{self, Accounting};
use super::format::percentile;

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

    /// A new TCP connection and a full TLS handshake presenting the certificate.
    pub(crate) async fn connect(&self, addr: SocketAddr) -> Result<TlsStream<TcpStream>, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        self.connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))
    }

    /// `request` (a whole HTTP/1.1 request with `Connection: close`) on a new connection, and
    /// the whole response.
    pub(crate) async fn exchange(
        &self,
        addr: SocketAddr,
        request: &[u8],
    ) -> Result<Exchange, String> {
        let mut tls = self.connect(addr).await?;
        tls.write_all(request)
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
        let mut exchange = Exchange::negotiated(tls.get_ref().1);
        exchange.status = status;
        exchange.body = body.to_vec();
        Ok(exchange)
    }
}

/// The answer to one request, and what TLS negotiated.
#[derive(Clone, Debug, Default)]
pub(crate) struct Exchange {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) protocol: String,
    pub(crate) cipher_suite: String,
    pub(crate) key_exchange: String,
    pub(crate) full_handshake: bool,
}

impl Exchange {
    /// What `connection` negotiated, with no status or body yet.
    pub(crate) fn negotiated(connection: &rustls::ClientConnection) -> Exchange {
        Exchange {
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
            ..Exchange::default()
        }
    }

    pub(crate) fn body_contains(&self, needle: &[u8]) -> bool {
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

/// What each load task does, back to back.
pub(crate) trait Workload: Send + Sync + 'static {
    /// What a task keeps between operations (an open connection, or nothing).
    type Session: Send + 'static;
    fn session(&self) -> Self::Session;
    /// One operation, judged: `Err` says what went wrong. When it fails or takes longer than
    /// [`OPERATION_TIMEOUT`] (and is dropped), the session must still be usable, e.g. by
    /// holding no connection and opening one next time.
    fn run(&self, session: &mut Self::Session) -> impl Future<Output = Result<(), String>> + Send;
}

/// An operation that takes longer than this counts as an error.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Successful operations that ended inside the window, their latencies in nanoseconds.
    pub(crate) latencies_ns: Vec<u64>,
    /// Failed operations that ended inside the window.
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    /// Successful operations in the whole segment, warm-up and tail included.
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

/// Runs `timing.concurrency` tasks of `workload` until the measuring window ends and collects
/// what ended inside it, with the CPU that `accounting` names used during the window. The
/// operations still in flight at the end are awaited but not counted, so that no load spills
/// into the next segment; the tasks' sessions (their connections) end with the segment.
pub(crate) async fn run_segment<W: Workload>(
    workload: Arc<W>,
    accounting: &Accounting,
    timing: Timing,
) -> Segment {
    let start = Instant::now();
    let window_from = start + timing.warm_up;
    let window_to = window_from + timing.measure;
    let tasks: Vec<_> = (0..timing.concurrency)
        .map(|_| {
            let workload = Arc::clone(&workload);
            tokio::spawn(async move {
                let mut record = TaskRecord::default();
                let mut session = workload.session();
                while Instant::now() < window_to {
                    let began = Instant::now();
                    let outcome =
                        match tokio::time::timeout(OPERATION_TIMEOUT, workload.run(&mut session))
                            .await
                        {
                            Ok(outcome) => outcome,
                            Err(_) => Err(format!("no answer within {OPERATION_TIMEOUT:?}")),
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
    tokio::time::sleep_until(window_from.into()).await;
    let from = cpu::snapshot(accounting);
    tokio::time::sleep_until(window_to.into()).await;
    let to = cpu::snapshot(accounting);
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

/// One server's segments in one scenario, and the figures over all of them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Series {
    pub(crate) segments: Vec<Segment>,
}

impl Series {
    /// Successful operations inside the measuring windows.
    pub(crate) fn count(&self) -> usize {
        self.segments.iter().map(|s| s.latencies_ns.len()).sum()
    }

    pub(crate) fn seconds(&self) -> f64 {
        self.segments.iter().map(|s| s.seconds).sum()
    }

    pub(crate) fn rate(&self) -> f64 {
        self.count() as f64 / self.seconds().max(1e-9)
    }

    pub(crate) fn segment_rates(&self) -> Vec<f64> {
        self.segments
            .iter()
            .map(|s| s.latencies_ns.len() as f64 / s.seconds.max(1e-9))
            .collect()
    }

    pub(crate) fn errors(&self) -> u64 {
        self.segments.iter().map(|s| s.errors).sum()
    }

    pub(crate) fn all_successes(&self) -> u64 {
        self.segments.iter().map(|s| s.all_successes).sum()
    }

    pub(crate) fn first_error(&self) -> Option<&str> {
        self.segments.iter().find_map(|s| s.first_error.as_deref())
    }

    pub(crate) fn sorted_latencies(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self
            .segments
            .iter()
            .flat_map(|s| s.latencies_ns.iter().copied())
            .collect();
        all.sort_unstable();
        all
    }

    pub(crate) fn cpu(&self) -> cpu::Used {
        let mut total = cpu::Used::default();
        for segment in &self.segments {
            total.add(&segment.cpu);
        }
        total
    }

    /// Server CPU time per successful operation, microseconds.
    pub(crate) fn server_cpu_us(&self) -> f64 {
        self.cpu().server * 1e6 / (self.count().max(1) as f64)
    }

    /// Load generator CPU time per successful operation, microseconds.
    pub(crate) fn load_cpu_us(&self) -> f64 {
        self.cpu().load * 1e6 / (self.count().max(1) as f64)
    }

    /// Cores busy on average during the windows: the server, the load generator, the threads
    /// counted apart, everything else.
    pub(crate) fn cores(&self) -> [f64; 4] {
        let cpu = self.cpu();
        let seconds = self.seconds().max(1e-9);
        [
            cpu.server / seconds,
            cpu.load / seconds,
            cpu.apart / seconds,
            cpu.others() / seconds,
        ]
    }

    /// Latencies: p50, p90, p99, max, mean (nanoseconds).
    pub(crate) fn latency_json(&self) -> Value {
        let latencies = self.sorted_latencies();
        let mean = if latencies.is_empty() {
            0.0
        } else {
            latencies.iter().map(|&v| v as f64).sum::<f64>() / latencies.len() as f64
        };
        json!({
            "p50": percentile(&latencies, 0.50),
            "p90": percentile(&latencies, 0.90),
            "p99": percentile(&latencies, 0.99),
            "max": latencies.last().copied().unwrap_or(0),
            "mean": mean,
        })
    }
}
