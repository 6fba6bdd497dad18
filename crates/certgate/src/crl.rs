//! `certgate crl status|refresh`: the CRL cache of the trusted CAs.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use certgate_core::clock::{rfc3339, Clock, SystemClock};
use certgate_core::crl_fetch::FetchProgress;
use certgate_core::trusted_ca::CaId;
use certgate_core::validation_state::SharedState;
use certgate_server::crl_refresh::{CrlService, CrlStatusRow, RefreshOutcome, Urgency};
use certgate_server::HttpCrlFetcher;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::GlobalArgs;

#[derive(Subcommand)]
pub(crate) enum CrlCommand {
    /// Per CA: the cached CRL (number, thisUpdate, nextUpdate, entries, bytes) and the last
    /// download (success, error and its code, next attempt).
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Download the CRLs now (interactive limits), with a progress bar for long downloads.
    /// Exit 1 when any download was refused.
    Refresh {
        /// Only this CA (its id from `certgate ca list`).
        #[arg(long)]
        ca: Option<i64>,
        #[arg(long)]
        json: bool,
    },
}

/// A progress bar on stderr, drawn only on a terminal.
struct Bar(Mutex<Option<ProgressBar>>);

impl FetchProgress for Bar {
    fn started(&self, url: &str, total: Option<u64>) {
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(url.to_owned());
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(bar);
        }
    }
    fn advanced(&self, bytes: u64) {
        if let Ok(slot) = self.0.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(bytes);
            }
        }
    }
    fn finished(&self) {
        if let Ok(mut slot) = self.0.lock() {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        }
    }
}

fn status_json(row: &CrlStatusRow) -> Value {
    json!({
        "caId": row.ca.id.0,
        "ca": row.ca.settings.display_name,
        "kind": row.kind.as_str(),
        "url": row.url,
        "cached": row.cached.as_ref().map(|c| json!({
            "crlNumber": certgate_core::hex(&c.crl_number),
            "thisUpdate": rfc3339(c.this_update),
            "nextUpdate": rfc3339(c.next_update),
            "entries": c.entry_count,
            "bytes": c.bytes,
            "fetchedAt": rfc3339(c.fetched_at),
            "etag": c.etag,
            "lastModified": c.last_modified,
        })),
        "lastAttempt": row.fetch.as_ref().map(|f| rfc3339(f.last_attempt_at)),
        "lastSuccess": row.fetch.as_ref().and_then(|f| f.last_success_at).map(rfc3339),
        "lastErrorCode": row.fetch.as_ref().and_then(|f| f.last_error.as_ref()).map(|e| e.0.clone()),
        "lastError": row.fetch.as_ref().and_then(|f| f.last_error.as_ref()).map(|e| e.1.clone()),
        "consecutiveFailures": row.fetch.as_ref().map_or(0, |f| f.consecutive_failures),
        "nextAttempt": row.fetch.as_ref().map(|f| rfc3339(f.next_attempt_at)),
    })
}

fn print_status(rows: &[CrlStatusRow], now: certgate_pki::UnixTime) {
    if rows.is_empty() {
        println!("no trusted CA has a CRL URL (certgate ca set ID --crl-url URL)");
        return;
    }
    for row in rows {
        println!(
            "CA {} \"{}\" {} CRL  {}",
            row.ca.id,
            row.ca.settings.display_name,
            row.kind.as_str(),
            row.url
        );
        match &row.cached {
            Some(c) => {
                let state = if c.next_update.0 < now.0 {
                    "STALE"
                } else {
                    "current"
                };
                println!(
                    "    cached      number {}, thisUpdate {}, nextUpdate {} ({state}), {} entries, {} bytes",
                    certgate_core::hex(&c.crl_number),
                    rfc3339(c.this_update),
                    rfc3339(c.next_update),
                    c.entry_count,
                    c.bytes
                );
            }
            None => println!(
                "    cached      none: certificates from this CA fail with crl-unavailable"
            ),
        }
        match &row.fetch {
            Some(f) => {
                println!(
                    "    last success {}",
                    f.last_success_at.map_or("never".into(), rfc3339)
                );
                if let Some((code, message)) = &f.last_error {
                    println!(
                        "    last error  {code} at {} ({} in a row): {message}",
                        rfc3339(f.last_attempt_at),
                        f.consecutive_failures
                    );
                }
                println!("    next check  {}", rfc3339(f.next_attempt_at));
            }
            None => println!("    never fetched (certgate crl refresh)"),
        }
    }
}

pub(crate) async fn run(command: CrlCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = global.load()?;
    let store = Arc::new(config.open_store().await?);
    let service = CrlService::new(
        Arc::clone(&store),
        HttpCrlFetcher::new()?,
        SystemClock,
        Arc::new(SharedState::default()),
        config.crl,
        &crate::cli_actor(),
    );
    match command {
        CrlCommand::Status { json } => {
            let rows = service.status().await?;
            if json {
                let list: Vec<Value> = rows.iter().map(status_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_status(&rows, SystemClock.now());
            }
            Ok(ExitCode::SUCCESS)
        }
        CrlCommand::Refresh { ca, json } => {
            let bar = Bar(Mutex::new(None));
            let reports = service
                .refresh(ca.map(CaId), Urgency::Interactive, &bar)
                .await?;
            let mut failed = false;
            let mut list = Vec::new();
            for report in &reports {
                let (outcome, code, detail) = match &report.outcome {
                    RefreshOutcome::Updated {
                        crl_number,
                        entries,
                        bytes,
                    } => (
                        "updated",
                        None,
                        format!(
                            "CRL number {}, {entries} entries, {bytes} bytes",
                            certgate_core::hex(crl_number)
                        ),
                    ),
                    RefreshOutcome::NotModified => {
                        ("not-modified", None, "304 Not Modified".into())
                    }
                    RefreshOutcome::Unchanged => ("unchanged", None, "same CRL as cached".into()),
                    RefreshOutcome::Failed { code, message, .. } => {
                        failed = true;
                        ("failed", Some(code.clone()), message.clone())
                    }
                };
                if json {
                    list.push(json!({
                        "caId": report.ca_id.0, "kind": report.kind.as_str(), "url": report.url,
                        "outcome": outcome, "code": code, "detail": detail,
                    }));
                } else {
                    println!(
                        "CA {} {} CRL: {outcome}{}: {detail}",
                        report.ca_id,
                        report.kind.as_str(),
                        code.map(|c| format!(" ({c})")).unwrap_or_default()
                    );
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if reports.is_empty() {
                println!("no trusted CA has a CRL URL (certgate ca set ID --crl-url URL)");
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
