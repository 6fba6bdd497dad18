//! `cargo bench -p certgate --bench validation`: how fast certgate validates a client
//! certificate chain and loads a large CRL, side by side with rustls-webpki and with the bare
//! signature checks.
//!
//! Environment:
//! - `CERTGATE_BENCH_QUICK=1`: short measurements and a CRL of 20,000 instead of 600,000
//!   entries, a smoke run of a few seconds.
//! - `CERTGATE_BENCH_JSON=path`: where the machine-readable figures go (default:
//!   `<target dir>/certgate-bench/validation.json`).
//!
//! Targets are in docs/benchmarks.md; the run prints each with "met" or "MISSED" and never
//! fails on a missed target, so that a slow shared machine does not break anything.

mod chain;
mod fixture;
mod measure;
mod report;
mod revocation;

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;

use crate::measure::Budget;
use crate::report::Report;

fn main() -> Result<()> {
    if let Some(result) = revocation::child() {
        return result;
    }
    let quick = std::env::var_os("CERTGATE_BENCH_QUICK").is_some_and(|v| v != "0" && !v.is_empty());
    let budget = if quick {
        Budget::quick()
    } else {
        Budget::default_run()
    };

    let mut report = Report::default();
    report.context("quick", json!(quick));
    report.context("machine", machine());
    report.context(
        "date",
        json!(time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()),
    );
    report.context(
        "measure_seconds_per_figure",
        json!(budget.measure.as_secs_f64()),
    );

    chain::run(&mut report, budget)?;
    let settings = if quick {
        revocation::Settings {
            entries: 20_000,
            load_rounds: 2,
            lookup_serials: 4_096,
        }
    } else {
        revocation::Settings {
            entries: 600_000,
            load_rounds: 5,
            lookup_serials: 4_096,
        }
    };
    revocation::run(&mut report, budget, &settings)?;

    report.print();
    let path = json_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&report.to_json())?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    println!("JSON: {}", path.display());
    Ok(())
}

fn json_path() -> PathBuf {
    match std::env::var_os("CERTGATE_BENCH_JSON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => target_dir().join("certgate-bench").join("validation.json"),
    }
}

/// The cargo target directory: cargo gives benchmarks a scratch directory inside it.
pub(crate) fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(PathBuf::from).unwrap_or(tmp)
}

/// What the figures were measured on.
fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_default();
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}
