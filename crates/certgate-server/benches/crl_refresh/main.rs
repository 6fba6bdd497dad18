//! `cargo bench -p certgate-server --bench crl_refresh`: a 20 MB CRL refreshed while
//! validations run flat out.
//!
//! The CRL service downloads the issuing CA's CRL from a real HTTP server on 127.0.0.1, checks
//! and stores it in SQLite, rebuilds the validation state and swaps it in, while one validator
//! thread per core loads the shared state and validates a three-level RSA-2048 chain
//! (revocation depth Chain) in a loop. The run reports validations/s and latency before,
//! during and after the refresh, and the longest stall. Target (the issue's): no validation
//! fails and none waits more than 10 ms.
//!
//! Environment:
//! - `CERTGATE_BENCH_QUICK=1`: 2 MB CRLs and 1 s phases, a smoke run.
//! - `CERTGATE_BENCH_SIGN_INS_ONLY=1`: only the sign-ins during the 150 MB refresh (the
//!   part to repeat while working on pauses); prints its table, writes no JSON.
//! - `CERTGATE_BENCH_JSON=path`: where the machine-readable figures go (default:
//!   `<target dir>/certgate-bench/crl_refresh.json`).
//!
//! Then, with certgate serving (see `served.rs`): the peak memory of `crl refresh` and of the
//! server's scheduler loading a CA's first CRL, for a 20 MB and a 150 MB CRL (each in a child
//! process), and TLS sign-ins at the certauth listener back to back while the server
//! refreshes the 150 MB CRL (failures, slowest sign-in, longest gap between two). Quick runs
//! use the 2 MB CRLs for all of it.
//!
//! Exits non-zero only when a validation or sign-in failed (or the set-up did); a missed
//! latency target is reported, not fatal, so that a slow shared machine does not break
//! anything.

#[path = "../common/mod.rs"]
mod common;
mod fixture;
mod load;
mod report;
mod served;
mod server;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use certgate_core::clock::{Clock, FixedClock};
use certgate_core::crl_cache::{CrlCacheStore, CrlKind};
use certgate_core::crl_fetch::{FetchLimits, FetchProgress};
use certgate_core::trusted_ca::add_cas;
use certgate_core::validation_state::SharedState;
use certgate_pki::{Certificate, RevocationStatus, UnixTime};
use certgate_server::crl_refresh::{CrlService, CrlSettings, RefreshOutcome, Urgency};
use certgate_server::HttpCrlFetcher;
use certgate_store::SqlStore;
use certgate_testpki::VALIDATION_TIME;

use crate::common::trust::TestCas;
use crate::fixture::Fixture;
use crate::load::{phase_stats, Validators};
use crate::report::{Refresh, Run};

/// The target: no validation waits longer than this.
const TARGET_MAX_WAIT: Duration = Duration::from_millis(10);

/// Bytes per generated CRL entry (certgate-testpki: entries without extensions).
const ENTRY_BYTES: usize = 35;

struct Settings {
    crl_bytes: usize,
    warm_up: Duration,
    phase: Duration,
}

type Service = CrlService<SqlStore, HttpCrlFetcher, Arc<FixedClock>>;

/// The large CRL of the served part (Entra's background limit is 150 MB).
const LARGE_CRL_BYTES: usize = 150_000_000;

/// Sign-in clients during the served refresh.
const SIGN_IN_CLIENTS: usize = 2;

fn main() -> Result<()> {
    if let Some(done) = served::child_if_asked() {
        return done;
    }
    let quick = common::quick();
    if std::env::var_os("CERTGATE_BENCH_SIGN_INS_ONLY").is_some() {
        return sign_ins_only(quick);
    }
    let settings = if quick {
        Settings {
            crl_bytes: 2_000_000,
            warm_up: Duration::from_millis(200),
            phase: Duration::from_secs(1),
        }
    } else {
        Settings {
            crl_bytes: 20_000_000,
            warm_up: Duration::from_millis(500),
            phase: Duration::from_secs(3),
        }
    };
    let entries = settings.crl_bytes / ENTRY_BYTES;
    let validators = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);

    eprintln!("CRL refresh under load: {entries} entries, {validators} validator threads");
    // Other work on the machine shows in every phase: the "before" phase is the noise floor.
    let load_average = common::proc::load_average();
    let fixture = fixture::load_or_generate(&common::cache_root(), entries)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-runtime")
        .build()
        .context("starting the tokio runtime")?;
    let scratch = tempfile::tempdir().context("creating the store's temp dir")?;
    let world = runtime.block_on(World::build(&fixture, scratch.path()))?;

    let at = UnixTime(VALIDATION_TIME);
    let epoch = Instant::now();
    let nanos = |instant: Instant| instant.duration_since(epoch).as_nanos() as u64;
    let running = Validators::start(
        validators,
        Arc::clone(world.service.state()),
        &fixture.leaf_der,
        &fixture.intermediate_der,
        at,
        epoch,
    )?;
    std::thread::sleep(settings.warm_up);
    let before_from = Instant::now();
    let before_from_cpu = report::CpuTimes::now();
    eprintln!("  before: {} s", settings.phase.as_secs_f64());
    std::thread::sleep(settings.phase);

    eprintln!("  during: publishing CRL #2 and refreshing");
    let crl_2 = fixture.issuing_crl_2.clone();
    let refresh_from_cpu = report::CpuTimes::now();
    let refresh_from = Instant::now();
    world.server.publish_issuing(crl_2, "issuing-2");
    let progress = Arc::new(Progress::new(epoch));
    let refreshed = {
        let service = Arc::clone(&world.service);
        let progress = Arc::clone(&progress);
        // The refresh runs on a runtime worker, as the server's job does.
        let task = runtime
            .spawn(async move { service.refresh(None, Urgency::Background, &*progress).await });
        runtime.block_on(task)
    };
    let refresh_to = Instant::now();
    let refresh_to_cpu = report::CpuTimes::now();
    eprintln!(
        "  after: {} s (the refresh took {:.3} s)",
        settings.phase.as_secs_f64(),
        (refresh_to - refresh_from).as_secs_f64()
    );
    std::thread::sleep(settings.phase);
    let after_to = Instant::now();
    let after_to_cpu = report::CpuTimes::now();
    let records = running.stop()?;

    let reports = refreshed
        .context("the refresh task panicked")?
        .context("the refresh failed")?;
    for report in &reports {
        if let RefreshOutcome::Failed { code, message, .. } = &report.outcome {
            bail!("refreshing {} failed: {code}: {message}", report.url);
        }
    }
    let holds = runtime.block_on(world.holds_crl_2(&fixture))?;
    let unloaded_check = check_alone(&fixture)?;
    let store_costs =
        runtime.block_on(store_costs(&world.database, &world.server.issuing_url()))?;

    let target_ns = TARGET_MAX_WAIT.as_nanos() as u64;
    let bounds = [
        ("before", nanos(before_from), nanos(refresh_from)),
        ("during", nanos(refresh_from), nanos(refresh_to)),
        ("after", nanos(refresh_to), nanos(after_to)),
    ];
    let phases = bounds
        .iter()
        .map(|&(name, from, to)| phase_stats(name, &records, from, to, target_ns))
        .collect();
    let others = [
        (before_from_cpu, refresh_from_cpu),
        (refresh_from_cpu, refresh_to_cpu),
        (refresh_to_cpu, after_to_cpu),
    ]
    .iter()
    .zip(&bounds)
    .map(|((from, to), &(_, from_ns, to_ns))| {
        report::CpuTimes::others_cores(from.as_ref()?, to.as_ref()?, (to_ns - from_ns) as f64 / 1e9)
    })
    .collect();
    let first_new_state_ns = records
        .iter()
        .filter_map(|r| r.first_new_generation_ns)
        .min();
    let run = Run {
        quick,
        load_average,
        validators,
        crl_bytes: fixture.issuing_crl_2.len(),
        crl_entries: fixture.entries,
        fixture_directory: fixture.directory.clone(),
        fixture_generated: fixture.generated_in,
        phases,
        others,
        refresh: Refresh {
            from_ns: nanos(refresh_from),
            to_ns: nanos(refresh_to),
            reports,
            downloads: progress.downloads(),
            first_new_state_ns,
            holds_crl_2: holds,
            unloaded_check,
            store_costs,
        },
        failures: records.iter().map(|r| r.failures).sum(),
        first_failure: records.iter().find_map(|r| r.first_failure.clone()),
        last_releases: records
            .iter()
            .flat_map(|r| r.last_releases.iter().copied())
            .collect(),
        slowest: load::slowest(&records, nanos(before_from), nanos(after_to), 10),
        target_ns,
    };
    run.print();
    drop(world);

    // certgate serving: memory per CRL size, then sign-ins during the large refresh.
    let mut memory = Vec::new();
    eprintln!(
        "memory: {} CRL",
        common::format::human_bytes(fixture.issuing_crl_1.len() as u64)
    );
    let crl_server = runtime.block_on(server::CrlServer::start(
        fixture.root_crl.clone(),
        fixture.issuing_crl_1.clone(),
    ))?;
    memory.push(served::memory_row(&fixture, &crl_server)?);
    let large = if quick {
        fixture
    } else {
        drop(fixture);
        let large =
            fixture::load_or_generate(&common::cache_root(), LARGE_CRL_BYTES / ENTRY_BYTES)?;
        eprintln!(
            "memory: {} CRL",
            common::format::human_bytes(large.issuing_crl_1.len() as u64)
        );
        let crl_server = runtime.block_on(server::CrlServer::start(
            large.root_crl.clone(),
            large.issuing_crl_1.clone(),
        ))?;
        memory.push(served::memory_row(&large, &crl_server)?);
        large
    };
    let crl_server = runtime.block_on(server::CrlServer::start(
        large.root_crl.clone(),
        large.issuing_crl_1.clone(),
    ))?;
    let sign_ins = served::sign_ins_during_refresh(
        &large,
        &crl_server,
        SIGN_IN_CLIENTS,
        settings.phase,
        TARGET_MAX_WAIT,
    )?;
    served::print(&memory, &sign_ins);
    let mut json = run.to_json();
    json["served"] = served::to_json(&memory, &sign_ins);
    common::write_json("crl_refresh", &json)?;

    runtime.shutdown_timeout(Duration::from_secs(5));
    if run.failures > 0 || sign_ins.failures() > 0 {
        eprintln!(
            "{} validations and {} sign-ins failed",
            run.failures,
            sign_ins.failures()
        );
        std::process::exit(1);
    }
    Ok(())
}

/// The server, the store with the two CAs, and the CRL service with CRL #1 loaded.
struct World {
    server: server::CrlServer,
    service: Arc<Service>,
    database: PathBuf,
}

impl World {
    async fn build(fixture: &Fixture, scratch: &Path) -> Result<World> {
        let server =
            server::CrlServer::start(fixture.root_crl.clone(), fixture.issuing_crl_1.clone())
                .await?;
        let database = scratch.join("certgate.db");
        let store = Arc::new(
            SqlStore::connect(&format!("sqlite://{}", database.display()))
                .await
                .context("opening the SQLite store")?,
        );
        let clock = Arc::new(FixedClock::at(VALIDATION_TIME));
        let (root_url, issuing_url) = (server.root_url(), server.issuing_url());
        add_cas(
            &*store,
            vec![fixture.root_der.clone(), fixture.intermediate_der.clone()],
            |certificate: &Certificate| {
                TestCas {
                    crl_urls: (Some(&root_url), Some(&issuing_url)),
                    exempt: false,
                    hint_issuing: true,
                }
                .settings(certificate)
            },
            clock.now(),
            "bench",
        )
        .await
        .context("trusting the test CAs")?;
        // Background limits large enough for the 20 MB CRL, for both urgencies.
        let limits = FetchLimits {
            max_bytes: 64 * 1024 * 1024,
            max_duration: Duration::from_secs(60),
        };
        let service = Arc::new(CrlService::new(
            store,
            HttpCrlFetcher::new()?,
            clock,
            Arc::new(SharedState::default()),
            CrlSettings {
                interactive: limits,
                background: limits,
                ..CrlSettings::default()
            },
            "bench",
        ));
        let started = Instant::now();
        let reports = service
            .refresh(
                None,
                Urgency::Background,
                &certgate_core::crl_fetch::NoProgress,
            )
            .await
            .context("the initial refresh")?;
        for report in &reports {
            if !matches!(report.outcome, RefreshOutcome::Updated { .. }) {
                bail!(
                    "the initial refresh of {} gave {:?}",
                    report.url,
                    report.outcome
                );
            }
        }
        eprintln!(
            "  initial refresh (CRL #1) took {:.3} s",
            started.elapsed().as_secs_f64()
        );
        let world = World {
            server,
            service,
            database,
        };
        world.check_leaf_good(fixture, &[1])?;
        Ok(world)
    }

    /// The leaf validates, its status and the intermediate's were checked against CRLs, and
    /// the leaf's was checked against the issuing CRL `crl_number`.
    fn check_leaf_good(&self, fixture: &Fixture, crl_number: &[u8]) -> Result<()> {
        let leaf = Certificate::from_der(&fixture.leaf_der).map_err(|e| anyhow!("leaf: {e}"))?;
        let intermediates = [Certificate::from_der(&fixture.intermediate_der)
            .map_err(|e| anyhow!("intermediate: {e}"))?];
        let state = self.service.state().load();
        let path = state
            .validate(&leaf, &intermediates, UnixTime(VALIDATION_TIME))
            .map_err(|rejection| anyhow!("the leaf does not validate: {rejection}"))?;
        match path.revocation() {
            [RevocationStatus::Good {
                crl_number: leaf_crl,
                ..
            }, RevocationStatus::Good { .. }, ..]
                if leaf_crl.as_slice() == crl_number => {}
            other => bail!("unexpected revocation statuses: {other:?}"),
        }
        Ok(())
    }

    /// After the refresh: the store caches issuing CRL #2, the state holds it (the decoy
    /// serial only #2 lists is found), and the leaf is checked against it.
    async fn holds_crl_2(&self, fixture: &Fixture) -> Result<bool> {
        let status = self.service.status().await.context("CRL status")?;
        let issuing_url = self.server.issuing_url();
        let stored = status
            .iter()
            .find(|row| row.kind == CrlKind::Base && row.url == issuing_url)
            .and_then(|row| row.cached.as_ref())
            .map(|cached| cached.crl_number.clone());
        if stored.as_deref() != Some(&[2][..]) {
            bail!("the store caches issuing CRL number {stored:?}, expected 2");
        }
        let intermediate = Certificate::from_der(&fixture.intermediate_der)
            .map_err(|e| anyhow!("intermediate: {e}"))?;
        let state = self.service.state().load();
        let issuing = state
            .revocation()
            .crls()
            .iter()
            .find(|crl| crl.issuer() == intermediate.subject())
            .ok_or_else(|| anyhow!("the state holds no CRL of the issuing CA"))?;
        if issuing.crl_number() != Some(&[2][..]) {
            bail!(
                "the state holds issuing CRL number {:?}, expected 2",
                issuing.crl_number()
            );
        }
        if issuing
            .lookup(intermediate.subject(), &fixture.decoy_serial)
            .is_none()
        {
            bail!("the state's issuing CRL does not list CRL #2's decoy serial");
        }
        self.check_leaf_good(fixture, &[2])?;
        Ok(true)
    }
}

/// The CPU-bound part of the refresh, measured alone with nothing else running in the
/// benchmark: parsing CRL #2 and checking its signature, as the refresh does.
/// `CERTGATE_BENCH_SIGN_INS_ONLY`: the served sign-ins during the large refresh, alone.
fn sign_ins_only(quick: bool) -> Result<()> {
    let (bytes, phase) = if quick {
        (2_000_000, Duration::from_secs(1))
    } else {
        (LARGE_CRL_BYTES, Duration::from_secs(3))
    };
    let fixture = fixture::load_or_generate(&common::cache_root(), bytes / ENTRY_BYTES)?;
    // The CRL server's tasks run on it while the sign-ins do: not a current-thread runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let crl_server = runtime.block_on(server::CrlServer::start(
        fixture.root_crl.clone(),
        fixture.issuing_crl_1.clone(),
    ))?;
    let sign_ins = served::sign_ins_during_refresh(
        &fixture,
        &crl_server,
        SIGN_IN_CLIENTS,
        phase,
        TARGET_MAX_WAIT,
    )?;
    served::print(&[], &sign_ins);
    if sign_ins.failures() > 0 {
        bail!("{} sign-ins failed", sign_ins.failures());
    }
    Ok(())
}

fn check_alone(fixture: &Fixture) -> Result<Duration> {
    let issuer = Certificate::from_der(&fixture.intermediate_der)
        .map_err(|e| anyhow!("intermediate: {e}"))?;
    let started = Instant::now();
    let crl = certgate_pki::Crl::from_der(fixture.issuing_crl_2.clone())
        .map_err(|e| anyhow!("CRL #2: {e}"))?;
    crl.verify_signature(&issuer, &certgate_pki::AlgorithmPolicy::default())
        .map_err(|e| anyhow!("CRL #2 signature: {e}"))?;
    let took = started.elapsed();
    drop(crl);
    Ok(took)
}

/// The store's share of a refresh, measured alone after the run on a second connection to
/// the same database: what `refresh` reads before the download (the cached CRL, for the
/// conditional GET and the CRL number check), writes after it, and what `rebuild` reads back.
async fn store_costs(database: &Path, issuing_url: &str) -> Result<report::StoreCosts> {
    let store = SqlStore::connect(&format!("sqlite://{}", database.display()))
        .await
        .context("reopening the store")?;
    let started = Instant::now();
    let all = store
        .cached_crls()
        .await
        .context("reading the cached CRLs")?;
    let read_all = started.elapsed();
    let issuing = all
        .into_iter()
        .find(|crl| crl.url == issuing_url)
        .ok_or_else(|| anyhow!("the issuing CRL is not cached"))?;
    let started = Instant::now();
    let one = store
        .cached_crl(issuing.ca_id, issuing.kind)
        .await
        .context("reading the cached issuing CRL")?;
    let read_one = started.elapsed();
    if one.as_ref().map(|c| c.der.len()) != Some(issuing.der.len()) {
        bail!("the issuing CRL read back differs");
    }
    let status = store
        .fetch_statuses()
        .await?
        .into_iter()
        .find(|s| s.ca_id == issuing.ca_id && s.kind == issuing.kind)
        .ok_or_else(|| anyhow!("no fetch status for the issuing CRL"))?;
    let started = Instant::now();
    store
        .put_cached_crl(&issuing.to_cache(), &status)
        .await
        .context("rewriting the issuing CRL")?;
    let write_one = started.elapsed();
    store.close().await;
    Ok(report::StoreCosts {
        read_one,
        write_one,
        read_all,
    })
}

/// When each download started and finished, relative to the run's epoch.
struct Progress {
    epoch: Instant,
    downloads: Mutex<Vec<report::Download>>,
}

impl Progress {
    fn new(epoch: Instant) -> Self {
        Progress {
            epoch,
            downloads: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<report::Download>> {
        self.downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn downloads(&self) -> Vec<report::Download> {
        self.lock().clone()
    }
}

impl FetchProgress for Progress {
    fn started(&self, url: &str, total: Option<u64>) {
        let now = self.now_ns();
        self.lock().push(report::Download {
            url: url.to_owned(),
            announced_bytes: total,
            bytes: 0,
            from_ns: now,
            to_ns: None,
        });
    }

    fn advanced(&self, bytes: u64) {
        if let Some(download) = self.lock().last_mut() {
            download.bytes += bytes;
        }
    }

    fn finished(&self) {
        let now = self.now_ns();
        if let Some(download) = self.lock().last_mut() {
            download.to_ns = Some(now);
        }
    }
}
