//! certgate serving large CRLs, as `certgate serve` and `certgate crl refresh` do:
//!
//! - **Memory.** The peak resident memory of a refresh made as `certgate crl refresh` makes
//!   it (a CRL service on a SQLite store, nothing cached yet) and of the server's scheduler
//!   loading a CA's first CRL (`app::start`, no listener but the plain one), each in a child
//!   process of its own (this binary started again with [`CHILD_ENV`]), so that the figure is
//!   that process's `VmHWM` alone. Reported per CRL size with its ratio to the CRL's size.
//! - **Sign-ins during a refresh.** The server with its certificate sign-in listener, the
//!   issuing CA's CRL #1 loaded by its scheduler; TLS clients sign in back to back
//!   (`GET /certauth`, a new connection and full handshake each) while the server refreshes
//!   to CRL #2. Reported: sign-ins per phase, failures, the slowest sign-in and the longest
//!   gap between two completed sign-ins. The server runs on a runtime of its own, as
//!   `certgate serve`; the clients on another.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use certgate_core::clock::{Clock, FixedClock};
use certgate_core::crl_fetch::{FetchLimits, NoProgress};
use certgate_core::directory::{add_user, UserDraft};
use certgate_core::trusted_ca::add_cas;
use certgate_core::validation_state::SharedState;
use certgate_pki::{Certificate, UnixTime};
use certgate_server::app::{start, CertAuthConfig, RunningServer, ServerConfig};
use certgate_server::certauth::ServerIdentity;
use certgate_server::crl_refresh::{CrlService, CrlSettings, RefreshOutcome, Urgency};
use certgate_server::HttpCrlFetcher;
use certgate_store::SqlStore;
use certgate_testpki::VALIDATION_TIME;
use serde_json::{json, Value};

use crate::common::format::{human_bytes, ms};
use crate::common::load::Client;
use crate::common::trust::TestCas;
use crate::fixture::Fixture;
use crate::server::CrlServer;

/// Set in a child's environment: what it measures (`refresh` or `ingest`).
pub(crate) const CHILD_ENV: &str = "CERTGATE_BENCH_CRL_CHILD";
const SCRATCH_ENV: &str = "CERTGATE_BENCH_CRL_SCRATCH";
const FIXTURE_ENV: &str = "CERTGATE_BENCH_CRL_FIXTURE";
const ROOT_URL_ENV: &str = "CERTGATE_BENCH_CRL_ROOT_URL";
const ISSUING_URL_ENV: &str = "CERTGATE_BENCH_CRL_ISSUING_URL";

/// Limits that let every size through, for both urgencies (the point is memory, not limits).
const LIMITS: FetchLimits = FetchLimits {
    max_bytes: 200 * 1024 * 1024,
    max_duration: Duration::from_secs(300),
};

const SIGN_IN: &[u8] = b"GET /certauth HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nUser-Agent: certgate-bench\r\nConnection: close\r\n\r\n";

// ---------------------------------------------------------------------------------------------
// Memory

/// One child's figures, in bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Memory {
    /// Resident before the CRL was fetched.
    pub(crate) baseline: u64,
    /// The process's peak (`VmHWM`).
    pub(crate) peak: u64,
    /// Resident once it was done.
    pub(crate) after: u64,
}

pub(crate) struct MemoryRow {
    pub(crate) crl_bytes: usize,
    pub(crate) refresh: Memory,
    pub(crate) ingest: Memory,
}

/// In a child: measures and returns `Some` once done; in the benchmark itself: `None`.
pub(crate) fn child_if_asked() -> Option<Result<()>> {
    let mode = std::env::var(CHILD_ENV).ok()?;
    Some((|| {
        let var = |name: &str| std::env::var(name).with_context(|| format!("{name} is not set"));
        let scratch = PathBuf::from(var(SCRATCH_ENV)?);
        let fixture = PathBuf::from(var(FIXTURE_ENV)?);
        let urls = (var(ROOT_URL_ENV)?, var(ISSUING_URL_ENV)?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?;
        let memory = runtime.block_on(async {
            match mode.as_str() {
                "refresh" => measure_refresh(&scratch, &fixture, &urls).await,
                "ingest" => measure_ingest(&scratch, &fixture, &urls).await,
                other => bail!("unknown child mode {other}"),
            }
        })?;
        println!(
            "memory {} {} {}",
            memory.baseline, memory.peak, memory.after
        );
        Ok(())
    })())
}

/// `VmRSS` or `VmHWM` of this process, in bytes.
fn vm(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| anyhow!("no {field} in /proc/self/status"))
}

async fn store_with_cas(
    scratch: &Path,
    fixture: &Path,
    urls: &(String, String),
) -> Result<Arc<SqlStore>> {
    let file =
        |name: &str| std::fs::read(fixture.join(name)).with_context(|| format!("reading {name}"));
    let store = Arc::new(
        SqlStore::connect(&format!(
            "sqlite://{}",
            scratch.join("certgate.db").display()
        ))
        .await
        .context("opening the SQLite store")?,
    );
    add_cas(
        &*store,
        vec![file("root.der")?, file("intermediate.der")?],
        |certificate: &Certificate| {
            TestCas {
                crl_urls: (Some(&urls.0), Some(&urls.1)),
                exempt: false,
                hint_issuing: true,
            }
            .settings(certificate)
        },
        UnixTime(VALIDATION_TIME),
        "bench",
    )
    .await
    .context("trusting the test CAs")?;
    Ok(store)
}

fn settings() -> CrlSettings {
    CrlSettings {
        interactive: LIMITS,
        background: LIMITS,
        ..CrlSettings::default()
    }
}

/// As `certgate crl refresh`: a CRL service of its own, an empty validation state.
async fn measure_refresh(
    scratch: &Path,
    fixture: &Path,
    urls: &(String, String),
) -> Result<Memory> {
    let store = store_with_cas(scratch, fixture, urls).await?;
    let service = CrlService::new(
        Arc::clone(&store),
        HttpCrlFetcher::new()?,
        Arc::new(FixedClock::at(VALIDATION_TIME)),
        Arc::new(SharedState::default()),
        settings(),
        "bench",
    );
    let baseline = vm("VmRSS")?;
    let reports = service
        .refresh(None, Urgency::Interactive, &NoProgress)
        .await
        .context("the refresh")?;
    for report in &reports {
        if !matches!(report.outcome, RefreshOutcome::Updated { .. }) {
            bail!("refreshing {} gave {:?}", report.url, report.outcome);
        }
    }
    Ok(Memory {
        baseline,
        peak: vm("VmHWM")?,
        after: vm("VmRSS")?,
    })
}

/// As `certgate serve` with nothing cached: the scheduler loads the CAs' first CRLs.
async fn measure_ingest(scratch: &Path, fixture: &Path, urls: &(String, String)) -> Result<Memory> {
    let store = store_with_cas(scratch, fixture, urls).await?;
    let baseline = vm("VmRSS")?;
    let server = start(
        Arc::clone(&store),
        Arc::new(FixedClock::at(VALIDATION_TIME)),
        ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            crl: settings(),
            pki: None,
            tick: Duration::from_millis(200),
            certauth: None,
            web: None,
            front_door: None,
        },
    )
    .await
    .context("starting the server")?;
    wait_for_crls(&server, 1).await?;
    let memory = Memory {
        baseline,
        peak: vm("VmHWM")?,
        after: vm("VmRSS")?,
    };
    server.stop().await;
    Ok(memory)
}

/// Waits until the server's validation state holds both CAs' CRLs, the issuing CA's with
/// CRL number `issuing_number`.
async fn wait_for_crls(server: &RunningServer<SqlStore>, issuing_number: u8) -> Result<()> {
    let started = Instant::now();
    loop {
        let state = server.state().load();
        let crls = state.revocation().crls();
        if crls.len() == 2
            && crls.iter().any(|crl| {
                crl.crl_number() == Some(&[issuing_number][..]) && crl.entry_count() > 1_000
            })
        {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the server did not load the CRLs within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs both children against `crl_server` (serving `fixture`'s CRL #1) and reads their
/// figures.
pub(crate) fn memory_row(fixture: &Fixture, crl_server: &CrlServer) -> Result<MemoryRow> {
    let run = |mode: &str| -> Result<Memory> {
        let scratch = tempfile::tempdir().context("a scratch directory")?;
        let output = Command::new(std::env::current_exe().context("locating the benchmark")?)
            .env(CHILD_ENV, mode)
            .env(SCRATCH_ENV, scratch.path())
            .env(FIXTURE_ENV, &fixture.directory)
            .env(ROOT_URL_ENV, crl_server.root_url())
            .env(ISSUING_URL_ENV, crl_server.issuing_url())
            .output()
            .with_context(|| format!("running the {mode} child"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "the {mode} child failed ({}): {}{}",
                output.status,
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let figures: Vec<u64> = stdout
            .lines()
            .find_map(|line| line.strip_prefix("memory "))
            .ok_or_else(|| anyhow!("the {mode} child said {stdout:?}"))?
            .split_whitespace()
            .map(|n| {
                n.parse()
                    .map_err(|_| anyhow!("the {mode} child said {stdout:?}"))
            })
            .collect::<Result<_>>()?;
        match figures[..] {
            [baseline, peak, after] => Ok(Memory {
                baseline,
                peak,
                after,
            }),
            _ => bail!("the {mode} child said {stdout:?}"),
        }
    };
    Ok(MemoryRow {
        crl_bytes: fixture.issuing_crl_1.len(),
        refresh: run("refresh")?,
        ingest: run("ingest")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Sign-ins during a refresh

/// One sign-in: when it completed (ns since the run's epoch), how long it took, and whether
/// it succeeded.
#[derive(Clone, Debug)]
struct Attempt {
    done_ns: u64,
    latency_ns: u64,
    error: Option<String>,
}

pub(crate) struct SignInPhase {
    pub(crate) name: &'static str,
    pub(crate) seconds: f64,
    pub(crate) sign_ins: usize,
    pub(crate) failures: usize,
    pub(crate) max_ns: u64,
    pub(crate) longest_gap_ns: u64,
}

pub(crate) struct SignInRun {
    pub(crate) crl_bytes: usize,
    pub(crate) clients: usize,
    pub(crate) refresh_seconds: f64,
    pub(crate) refresh_outcome: String,
    pub(crate) phases: Vec<SignInPhase>,
    pub(crate) first_failure: Option<String>,
    pub(crate) target_ns: u64,
}

impl SignInRun {
    pub(crate) fn failures(&self) -> usize {
        self.phases.iter().map(|p| p.failures).sum()
    }

    fn worst(&self, of: impl Fn(&SignInPhase) -> u64) -> u64 {
        self.phases.iter().map(of).max().unwrap_or(0)
    }
}

/// Starts the server with the certauth listener, lets its scheduler load `fixture`'s CRL #1
/// from `crl_server`, then signs in with `clients` tasks back to back for `phase` before,
/// during a refresh to CRL #2, and `phase` after.
pub(crate) fn sign_ins_during_refresh(
    fixture: &Fixture,
    crl_server: &CrlServer,
    clients: usize,
    phase: Duration,
    target: Duration,
) -> Result<SignInRun> {
    let scratch = tempfile::tempdir().context("a scratch directory")?;
    // As `certgate serve` builds its runtime; the clients get one of their own.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("certgate-server")
        .build()
        .context("the server's runtime")?;
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("bench-clients")
        .build()
        .context("the clients' runtime")?;
    let server_key = rcgen::KeyPair::generate().context("the server key")?;
    let server_certificate = rcgen::CertificateParams::new(vec!["localhost".into()])?
        .self_signed(&server_key)
        .context("the server certificate")?;
    let identity = ServerIdentity::from_pem(
        server_certificate.pem().as_bytes(),
        server_key.serialize_pem().as_bytes(),
    )
    .map_err(anyhow::Error::msg)?;
    let urls = (crl_server.root_url(), crl_server.issuing_url());
    let server = server_runtime.block_on(async {
        let store = store_with_cas(scratch.path(), &fixture.directory, &urls).await?;
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::at(VALIDATION_TIME));
        // The user the leaf maps to (its UPN, by the first default binding rule).
        add_user(
            &*store,
            UserDraft::new("alice@corp.example"),
            clock.now(),
            "bench",
        )
        .await
        .context("adding alice")?;
        let server = start(
            store,
            clock,
            ServerConfig {
                listen: "127.0.0.1:0".parse()?,
                crl: CrlSettings {
                    interactive: LIMITS,
                    ..CrlSettings::default()
                },
                pki: None,
                tick: Duration::from_secs(2),
                certauth: Some(CertAuthConfig {
                    listen: "127.0.0.1:0".parse()?,
                    identity,
                }),
                web: None,
                front_door: None,
            },
        )
        .await
        .context("starting the server")?;
        eprintln!("  sign-ins: waiting for the scheduler to load CRL #1...");
        wait_for_crls(&server, 1).await?;
        anyhow::Ok(server)
    })?;
    let addr = server
        .certauth_addr
        .ok_or_else(|| anyhow!("no certauth listener"))?;
    let client = Arc::new(Client::new(
        &[fixture.leaf_der.clone(), fixture.intermediate_der.clone()],
        &fixture.leaf_key,
        server_certificate.der(),
    )?);
    let check = client_runtime.block_on(sign_in(&client, addr));
    if let Err(error) = check {
        bail!("a first sign-in failed: {error}");
    }

    let epoch = Instant::now();
    let nanos = |at: Instant| at.duration_since(epoch).as_nanos() as u64;
    let running = Arc::new(AtomicBool::new(true));
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, running, attempts) = (
                Arc::clone(&client),
                Arc::clone(&running),
                Arc::clone(&attempts),
            );
            client_runtime.spawn(async move {
                let mut mine = Vec::new();
                while running.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let result = sign_in(&client, addr).await;
                    let done = Instant::now();
                    mine.push(Attempt {
                        done_ns: done.duration_since(epoch).as_nanos() as u64,
                        latency_ns: (done - started).as_nanos() as u64,
                        error: result.err(),
                    });
                }
                attempts
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(mine);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before_from = Instant::now();
    std::thread::sleep(phase);
    eprintln!("  sign-ins: publishing CRL #2 and refreshing while signing in");
    crl_server.publish_issuing(fixture.issuing_crl_2.clone(), "issuing-2");
    let refresh_from = Instant::now();
    let service = Arc::clone(&server.crl);
    // On the server's runtime, as its scheduler runs it.
    let reports = server_runtime
        .block_on(server_runtime.spawn(async move {
            service
                .refresh(None, Urgency::Background, &NoProgress)
                .await
        }))
        .context("the refresh task")?
        .context("the refresh")?;
    let refresh_to = Instant::now();
    std::thread::sleep(phase);
    let after_to = Instant::now();
    running.store(false, Ordering::Relaxed);
    client_runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    server_runtime.block_on(server.stop());
    let issuing = reports
        .iter()
        .find(|r| r.url == urls.1)
        .ok_or_else(|| anyhow!("no report for the issuing CA"))?;
    let refresh_outcome = match &issuing.outcome {
        RefreshOutcome::Updated { crl_number, .. } if crl_number.as_slice() == [2] => {
            "updated to CRL #2".to_owned()
        }
        other => bail!("the refresh of the issuing CRL gave {other:?}"),
    };

    let mut attempts =
        std::mem::take(&mut *attempts.lock().unwrap_or_else(PoisonError::into_inner));
    attempts.sort_by_key(|a| a.done_ns);
    let first_failure = attempts.iter().find_map(|a| a.error.clone());
    let bounds = [
        ("before", nanos(before_from), nanos(refresh_from)),
        ("during", nanos(refresh_from), nanos(refresh_to)),
        ("after", nanos(refresh_to), nanos(after_to)),
    ];
    let phases = bounds
        .iter()
        .map(|&(name, from, to)| phase_of(name, &attempts, from, to))
        .collect();
    Ok(SignInRun {
        crl_bytes: fixture.issuing_crl_2.len(),
        clients,
        refresh_seconds: (refresh_to - refresh_from).as_secs_f64(),
        refresh_outcome,
        phases,
        first_failure,
        target_ns: target.as_nanos() as u64,
    })
}

async fn sign_in(client: &Client, addr: SocketAddr) -> Result<(), String> {
    let exchange = client.exchange(addr, SIGN_IN).await?;
    if exchange.status == 200 && exchange.body_contains(b"\"result\":\"success\"") {
        Ok(())
    } else {
        Err(format!(
            "HTTP {}: {}",
            exchange.status,
            exchange.body_text()
        ))
    }
}

/// The sign-ins completed in `from..to`; the longest gap counts from `from` to the first
/// completion and from the last one to `to` as well, so a stall at either edge shows.
fn phase_of(name: &'static str, attempts: &[Attempt], from: u64, to: u64) -> SignInPhase {
    let within: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| (from..to).contains(&a.done_ns))
        .collect();
    let mut previous = from;
    let mut longest_gap_ns = 0;
    for attempt in &within {
        longest_gap_ns = longest_gap_ns.max(attempt.done_ns - previous);
        previous = attempt.done_ns;
    }
    longest_gap_ns = longest_gap_ns.max(to - previous);
    SignInPhase {
        name,
        seconds: (to - from) as f64 / 1e9,
        sign_ins: within.len(),
        failures: within.iter().filter(|a| a.error.is_some()).count(),
        max_ns: within.iter().map(|a| a.latency_ns).max().unwrap_or(0),
        longest_gap_ns,
    }
}

// ---------------------------------------------------------------------------------------------
// Report

pub(crate) fn print(memory: &[MemoryRow], sign_ins: &SignInRun) {
    println!();
    println!("{:=<100}", "");
    println!("Peak resident memory with a CRL of each size (each its own process; ratio = peak / CRL size):");
    println!(
        "  {:>10} {:>22} {:>22} {:>12} {:>22} {:>22}",
        "CRL",
        "crl refresh: peak",
        "(above baseline)",
        "baseline",
        "serve ingest: peak",
        "(above baseline)"
    );
    for row in memory {
        let ratio = |bytes: u64| bytes as f64 / row.crl_bytes as f64;
        let grown = |m: &Memory| m.peak.saturating_sub(m.baseline);
        println!(
            "  {:>10} {:>13} ({:>4.2}x) {:>13} ({:>4.2}x) {:>12} {:>13} ({:>4.2}x) {:>13} ({:>4.2}x)",
            human_bytes(row.crl_bytes as u64),
            human_bytes(row.refresh.peak),
            ratio(row.refresh.peak),
            human_bytes(grown(&row.refresh)),
            ratio(grown(&row.refresh)),
            human_bytes(row.refresh.baseline),
            human_bytes(row.ingest.peak),
            ratio(row.ingest.peak),
            human_bytes(grown(&row.ingest)),
            ratio(grown(&row.ingest)),
        );
    }
    println!("  target: peak <= 2x the CRL's size");
    println!();
    println!(
        "Sign-ins at the certauth listener ({} clients back to back, new TLS connection each) while the server refreshes a {} CRL:",
        sign_ins.clients,
        human_bytes(sign_ins.crl_bytes as u64)
    );
    println!(
        "  {:<8} {:>7} {:>9} {:>11} {:>9} {:>10} {:>12}",
        "phase", "s", "sign-ins", "sign-ins/s", "failures", "max", "longest gap"
    );
    for phase in &sign_ins.phases {
        println!(
            "  {:<8} {:>7.3} {:>9} {:>11.0} {:>9} {:>10} {:>12}",
            phase.name,
            phase.seconds,
            phase.sign_ins,
            phase.sign_ins as f64 / phase.seconds.max(1e-9),
            phase.failures,
            ms(phase.max_ns),
            ms(phase.longest_gap_ns)
        );
    }
    println!(
        "  refresh: {:.3} s, {}",
        sign_ins.refresh_seconds, sign_ins.refresh_outcome
    );
    if let Some(failure) = &sign_ins.first_failure {
        println!("  first failure: {failure}");
    }
    let pause = sign_ins.worst(|p| p.longest_gap_ns.max(p.max_ns));
    println!(
        "  target: no sign-in fails and none pauses over {}: {}",
        ms(sign_ins.target_ns),
        if sign_ins.failures() > 0 {
            "FAIL (sign-ins failed)".to_owned()
        } else if pause > sign_ins.target_ns {
            format!("MISSED (longest pause {})", ms(pause))
        } else {
            "PASS".to_owned()
        }
    );
    println!("{:=<100}", "");
}

pub(crate) fn to_json(memory: &[MemoryRow], sign_ins: &SignInRun) -> Value {
    let figures = |m: &Memory| {
        json!({
            "baseline_bytes": m.baseline,
            "peak_bytes": m.peak,
            "after_bytes": m.after,
        })
    };
    json!({
        "memory": memory.iter().map(|row| json!({
            "crl_bytes": row.crl_bytes,
            "crl_refresh": figures(&row.refresh),
            "crl_refresh_peak_ratio": row.refresh.peak as f64 / row.crl_bytes as f64,
            "serve_ingest": figures(&row.ingest),
            "serve_ingest_peak_ratio": row.ingest.peak as f64 / row.crl_bytes as f64,
        })).collect::<Vec<_>>(),
        "sign_ins_during_refresh": {
            "crl_bytes": sign_ins.crl_bytes,
            "clients": sign_ins.clients,
            "refresh_seconds": sign_ins.refresh_seconds,
            "phases": sign_ins.phases.iter().map(|p| json!({
                "phase": p.name,
                "seconds": p.seconds,
                "sign_ins": p.sign_ins,
                "failures": p.failures,
                "max_latency_ns": p.max_ns,
                "longest_gap_ns": p.longest_gap_ns,
            })).collect::<Vec<_>>(),
            "first_failure": sign_ins.first_failure,
            "failures": sign_ins.failures(),
            "target_ns": sign_ins.target_ns,
        },
    })
}
