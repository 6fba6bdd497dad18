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

// Shared with certgate-server's benchmarks: where the cache and the JSON go, how figures and
// the machine are shown, and the fixture cache's steps.
#[allow(dead_code)] // this benchmark uses a part
#[path = "../../../certgate-server/benches/common/fixture.rs"]
mod cache;
#[allow(dead_code)]
#[path = "../../../certgate-server/benches/common/environment.rs"]
mod environment;
#[allow(dead_code)]
#[path = "../../../certgate-server/benches/common/format.rs"]
mod format;

use anyhow::Result;
use serde_json::json;

use crate::measure::Budget;
use crate::report::Report;

fn main() -> Result<()> {
    if let Some(result) = revocation::child() {
        return result;
    }
    let quick = environment::quick();
    let budget = if quick {
        Budget::quick()
    } else {
        Budget::default_run()
    };

    let mut report = Report::default();
    report.context("quick", json!(quick));
    report.context("machine", format::machine());
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
    environment::write_json("validation", &report.to_json())
}
