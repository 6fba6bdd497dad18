//! The figures of one run: a table for people, JSON for machines.

use std::path::PathBuf;
use std::time::Duration;

use certgate_server::crl_refresh::{RefreshOutcome, RefreshReport};
use serde_json::{json, Value};

use crate::common::format::{human_bytes, machine, ms};
use crate::common::proc;
use crate::load::{LastRelease, PhaseStats, Sample};

#[derive(Clone, Debug)]
pub(crate) struct Download {
    pub(crate) url: String,
    pub(crate) announced_bytes: Option<u64>,
    pub(crate) bytes: u64,
    pub(crate) from_ns: u64,
    pub(crate) to_ns: Option<u64>,
}

pub(crate) struct Refresh {
    pub(crate) from_ns: u64,
    pub(crate) to_ns: u64,
    pub(crate) reports: Vec<RefreshReport>,
    pub(crate) downloads: Vec<Download>,
    /// When a validator first used the new state.
    pub(crate) first_new_state_ns: Option<u64>,
    pub(crate) holds_crl_2: bool,
    /// Parse + signature check of CRL #2 alone, after the run, for comparison.
    pub(crate) unloaded_check: Duration,
    pub(crate) store_costs: StoreCosts,
}

/// SQLite operations of a refresh, timed alone after the run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoreCosts {
    /// `cached_crl` of the issuing CA (before the download).
    pub(crate) read_one: Duration,
    /// `put_cached_crl` of the issuing CRL (synchronous = FULL, WAL).
    pub(crate) write_one: Duration,
    /// `cached_crls`, every CRL with its bytes (in `rebuild`).
    pub(crate) read_all: Duration,
}

pub(crate) struct Run {
    pub(crate) quick: bool,
    /// The 1-minute load average when the run began (Linux), for reading the figures.
    pub(crate) load_average: Option<f64>,
    pub(crate) validators: usize,
    pub(crate) crl_bytes: usize,
    pub(crate) crl_entries: usize,
    pub(crate) fixture_directory: PathBuf,
    pub(crate) fixture_generated: Option<Duration>,
    pub(crate) phases: Vec<PhaseStats>,
    /// Per phase, the cores' worth of CPU that other processes used (Linux).
    pub(crate) others: Vec<Option<f64>>,
    pub(crate) refresh: Refresh,
    pub(crate) failures: u64,
    pub(crate) first_failure: Option<String>,
    pub(crate) last_releases: Vec<LastRelease>,
    /// (thread, sample), slowest first.
    pub(crate) slowest: Vec<(usize, Sample)>,
    pub(crate) target_ns: u64,
}

impl Run {
    fn max_latency_ns(&self) -> u64 {
        self.phases.iter().map(|p| p.max_ns).max().unwrap_or(0)
    }

    fn longest_gap_ns(&self) -> u64 {
        self.phases
            .iter()
            .map(|p| p.longest_gap_ns)
            .max()
            .unwrap_or(0)
    }

    fn latency_met(&self) -> bool {
        self.max_latency_ns() <= self.target_ns
    }

    fn pass(&self) -> bool {
        self.failures == 0 && self.latency_met()
    }

    /// Relative to the refresh's start, in ms, for the table.
    fn since_refresh(&self, ns: u64) -> String {
        format!("{:+.1} ms", (ns as f64 - self.refresh.from_ns as f64) / 1e6)
    }

    pub(crate) fn print(&self) {
        println!();
        println!("{:=<100}", "");
        println!(
            "CRL refresh under load: {} validator threads, issuing CRL {} ({} entries){}",
            self.validators,
            human_bytes(self.crl_bytes as u64),
            self.crl_entries,
            if self.quick { ", QUICK run" } else { "" }
        );
        if let Some(load) = self.load_average {
            println!("load average when the run began: {load:.2}");
        }
        println!();
        println!(
            "  {:<8} {:>7} {:>12} {:>14} {:>10} {:>10} {:>10} {:>10} {:>12} {:>8} {:>10}",
            "phase",
            "s",
            "validations",
            "validations/s",
            "p50",
            "p99",
            "p99.9",
            "max",
            "longest gap",
            ">10 ms",
            "other CPU"
        );
        for (phase, others) in self.phases.iter().zip(&self.others) {
            println!(
                "  {:<8} {:>7.3} {:>12} {:>14.0} {:>10} {:>10} {:>10} {:>10} {:>12} {:>8} {:>10}",
                phase.name,
                phase.seconds,
                phase.validations,
                phase.per_second,
                ms(phase.p50_ns),
                ms(phase.p99_ns),
                ms(phase.p999_ns),
                ms(phase.max_ns),
                ms(phase.longest_gap_ns),
                phase.over_target,
                others.map_or_else(|| "?".to_owned(), |cores| format!("{cores:.2} cores")),
            );
        }
        println!();
        let refresh = &self.refresh;
        println!(
            "  refresh (download + parse + signature + store write + rebuild + swap): {:.3} s",
            (refresh.to_ns - refresh.from_ns) as f64 / 1e9
        );
        println!(
            "    for comparison, parse + signature check of the same CRL alone: {}",
            ms(refresh.unloaded_check.as_nanos() as u64)
        );
        let store = &refresh.store_costs;
        println!(
            "    for comparison, SQLite alone: read the cached CRL {}, write the new one {}, read all CRLs back {}",
            ms(store.read_one.as_nanos() as u64),
            ms(store.write_one.as_nanos() as u64),
            ms(store.read_all.as_nanos() as u64)
        );
        for download in &refresh.downloads {
            println!(
                "    download {}: {} in {}",
                download.url,
                human_bytes(download.bytes),
                download
                    .to_ns
                    .map(|to| ms(to - download.from_ns))
                    .unwrap_or_else(|| "?".into()),
            );
        }
        for report in &refresh.reports {
            println!("    {} -> {}", report.url, outcome_text(&report.outcome));
        }
        if let Some(seen) = refresh.first_new_state_ns {
            println!(
                "    first validation on the new state: {} after the refresh began",
                self.since_refresh(seen)
            );
        }
        println!(
            "    state holds CRL #2 afterwards (store, snapshot, decoy serial, leaf checked against #2): {}",
            if refresh.holds_crl_2 { "yes" } else { "NO" }
        );
        if self.last_releases.is_empty() {
            println!("  no validator released the last reference to a replaced state");
        }
        for release in &self.last_releases {
            println!(
                "  a validator freed a replaced state at {}: validation {} of which the drop {}",
                self.since_refresh(release.done_ns),
                ms(release.latency_ns),
                ms(release.drop_ns)
            );
        }
        println!("  slowest validations (time of completion relative to the refresh's start):");
        for (thread, sample) in &self.slowest {
            println!(
                "    {:>10} on validator-{thread} at {}",
                ms(sample.latency_ns),
                self.since_refresh(sample.done_ns)
            );
        }
        println!();
        println!(
            "  failures: {}{}",
            self.failures,
            self.first_failure
                .as_ref()
                .map(|f| format!(" (first: {f})"))
                .unwrap_or_default()
        );
        println!(
            "  longest stall: max single validation {}, longest gap between completions {}",
            ms(self.max_latency_ns()),
            ms(self.longest_gap_ns())
        );
        println!(
            "  target: no validation fails and none waits more than {}: {}",
            ms(self.target_ns),
            if self.pass() {
                "PASS".to_owned()
            } else if self.failures > 0 {
                "FAIL (validations failed)".to_owned()
            } else {
                format!("FAIL (max wait {})", ms(self.max_latency_ns()))
            }
        );
        println!("{:=<100}", "");
    }

    pub(crate) fn to_json(&self) -> Value {
        let phases: Vec<Value> = self
            .phases
            .iter()
            .zip(&self.others)
            .map(|(p, others)| {
                json!({
                    "phase": p.name,
                    "seconds": p.seconds,
                    "validations": p.validations,
                    "validations_per_second": p.per_second,
                    "latency_ns": {
                        "p50": p.p50_ns,
                        "p99": p.p99_ns,
                        "p99_9": p.p999_ns,
                        "max": p.max_ns,
                    },
                    "over_target": p.over_target,
                    "longest_gap_ns": p.longest_gap_ns,
                    "other_processes_cores": others,
                })
            })
            .collect();
        let refresh = &self.refresh;
        json!({
            "context": {
                "quick": self.quick,
                "validators": self.validators,
                "load_average_1min": self.load_average,
                "machine": machine(),
                "date": time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                "crl_bytes": self.crl_bytes,
                "crl_entries": self.crl_entries,
                "crl_fixture": {
                    "directory": self.fixture_directory.display().to_string(),
                    "generated_seconds": self.fixture_generated.map(|d| d.as_secs_f64()),
                },
            },
            "phases": phases,
            "refresh": {
                "seconds": (refresh.to_ns - refresh.from_ns) as f64 / 1e9,
                "downloads": refresh.downloads.iter().map(|d| json!({
                    "url": d.url,
                    "bytes": d.bytes,
                    "announced_bytes": d.announced_bytes,
                    "seconds": d.to_ns.map(|to| (to - d.from_ns) as f64 / 1e9),
                    "started_after_refresh_seconds": (d.from_ns as f64 - refresh.from_ns as f64) / 1e9,
                })).collect::<Vec<_>>(),
                "outcomes": refresh.reports.iter().map(|r| json!({
                    "url": r.url,
                    "outcome": outcome_text(&r.outcome),
                })).collect::<Vec<_>>(),
                "first_new_state_after_refresh_seconds": refresh
                    .first_new_state_ns
                    .map(|ns| (ns as f64 - refresh.from_ns as f64) / 1e9),
                "holds_crl_2": refresh.holds_crl_2,
                "parse_and_signature_alone_seconds": refresh.unloaded_check.as_secs_f64(),
                "store_alone_seconds": {
                    "read_cached_crl": refresh.store_costs.read_one.as_secs_f64(),
                    "write_cached_crl": refresh.store_costs.write_one.as_secs_f64(),
                    "read_all_cached_crls": refresh.store_costs.read_all.as_secs_f64(),
                },
            },
            "last_releases": self.last_releases.iter().map(|r| json!({
                "after_refresh_seconds": (r.done_ns as f64 - refresh.from_ns as f64) / 1e9,
                "validation_ns": r.latency_ns,
                "drop_ns": r.drop_ns,
            })).collect::<Vec<_>>(),
            "slowest": self.slowest.iter().map(|(thread, s)| json!({
                "thread": thread,
                "latency_ns": s.latency_ns,
                "after_refresh_seconds": (s.done_ns as f64 - refresh.from_ns as f64) / 1e9,
            })).collect::<Vec<_>>(),
            "failures": self.failures,
            "first_failure": self.first_failure,
            "max_latency_ns": self.max_latency_ns(),
            "longest_gap_ns": self.longest_gap_ns(),
            "target": {
                "max_latency_ns": self.target_ns,
                "latency_met": self.latency_met(),
                "no_failures": self.failures == 0,
                "pass": self.pass(),
            },
        })
    }
}

fn outcome_text(outcome: &RefreshOutcome) -> String {
    match outcome {
        RefreshOutcome::Updated {
            crl_number,
            entries,
            bytes,
        } => format!(
            "updated to CRL number {} ({entries} entries, {})",
            certgate_core::hex(crl_number),
            human_bytes(*bytes as u64)
        ),
        RefreshOutcome::NotModified => "not modified (304)".into(),
        RefreshOutcome::Unchanged => "unchanged".into(),
        RefreshOutcome::Failed { code, message, .. } => format!("FAILED {code}: {message}"),
    }
}

/// CPU time so far, from /proc (Linux): all CPUs busy, and this process.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuTimes {
    busy_ticks: u64,
    ours_ticks: u64,
}

impl CpuTimes {
    pub(crate) fn now() -> Option<CpuTimes> {
        Some(CpuTimes {
            busy_ticks: proc::machine_busy()?,
            ours_ticks: proc::process_ticks(std::process::id())?,
        })
    }

    /// Cores' worth of CPU used by other processes between `from` and `to`.
    pub(crate) fn others_cores(from: &CpuTimes, to: &CpuTimes, seconds: f64) -> Option<f64> {
        let busy = to.busy_ticks.checked_sub(from.busy_ticks)?;
        let ours = to.ours_ticks.checked_sub(from.ours_ticks)?;
        Some(busy.saturating_sub(ours) as f64 / proc::TICKS_PER_SECOND / seconds.max(1e-3))
    }
}
