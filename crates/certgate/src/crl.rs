//! `certgate crl status|refresh`: the CRL cache of the trusted CAs.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use certgate_core::clock::{Clock, SystemClock};
use certgate_core::crl_fetch::FetchProgress;
use certgate_core::trusted_ca::CaId;
use certgate_core::validation_state::SharedState;
use certgate_pki::UnixTime;
use certgate_server::admin_api::resource::{Collection, CrlRefreshReport, CrlStatus};
use certgate_server::crl_refresh::{CrlService, Urgency};
use certgate_server::HttpCrlFetcher;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::remote::Remote;
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

/// Whether an RFC 3339 time is before `now` (a time that does not parse counts as past:
/// the row is then shown as stale rather than current).
fn is_past(text: &str, now: UnixTime) -> bool {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_or(true, |at| at.unix_timestamp() < now.0)
}

fn print_status(rows: &[CrlStatus], now: UnixTime, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!("no trusted CA has a CRL URL (certgate ca set ID --crl-url URL)");
        return Ok(ExitCode::SUCCESS);
    }
    for row in rows {
        outln!(
            "CA {} \"{}\" {} CRL  {}",
            row.ca_id,
            row.ca,
            row.kind,
            row.url
        );
        match &row.cached {
            Some(c) => {
                let state = if is_past(&c.next_update, now) {
                    "STALE"
                } else {
                    "current"
                };
                outln!(
                    "    cached      number {}, thisUpdate {}, nextUpdate {} ({state}), {} entries, {} bytes",
                    c.crl_number, c.this_update, c.next_update, c.entries, c.bytes
                );
            }
            None => {
                outln!("    cached      none: certificates from this CA fail with crl-unavailable")
            }
        }
        match &row.last_attempt {
            Some(last_attempt) => {
                outln!(
                    "    last success {}",
                    row.last_success.as_deref().unwrap_or("never")
                );
                if let (Some(code), Some(message)) = (&row.last_error_code, &row.last_error) {
                    outln!(
                        "    last error  {code} at {last_attempt} ({} in a row): {message}",
                        row.consecutive_failures
                    );
                }
                outln!(
                    "    next check  {}",
                    row.next_attempt.as_deref().unwrap_or("(unknown)")
                );
            }
            None => outln!("    never fetched (certgate crl refresh)"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints what each download did; exit 1 when any was refused.
fn print_reports(reports: &[CrlRefreshReport], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(reports)?);
    } else {
        for report in reports {
            outln!(
                "CA {} {} CRL: {}{}: {}",
                report.ca_id,
                report.kind,
                report.outcome,
                report
                    .code
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                report.detail
            );
        }
        if reports.is_empty() {
            outln!("no trusted CA has a CRL URL (certgate ca set ID --crl-url URL)");
        }
    }
    Ok(if reports.iter().any(CrlRefreshReport::failed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) async fn run(command: CrlCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(remote) = global.remote()? {
        return run_remote(command, remote).await;
    }
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
            let rows: Vec<CrlStatus> = service.status().await?.iter().map(Into::into).collect();
            print_status(&rows, SystemClock.now(), json)
        }
        CrlCommand::Refresh { ca, json } => {
            let bar = Bar(Mutex::new(None));
            let reports: Vec<CrlRefreshReport> = service
                .refresh(ca.map(CaId), Urgency::Interactive, &bar)
                .await?
                .iter()
                .map(Into::into)
                .collect();
            print_reports(&reports, json)
        }
    }
}

async fn run_remote(command: CrlCommand, remote: Remote) -> anyhow::Result<ExitCode> {
    let refused = |refusal: crate::remote::Refusal, json| {
        crate::output::refused("crl", &refusal.code, &refusal.message, json)
    };
    match command {
        CrlCommand::Status { json } => {
            match remote.get::<Collection<CrlStatus>>("/crlStatus").await? {
                Ok(rows) => print_status(&rows.value, SystemClock.now(), json),
                Err(refusal) => Ok(refused(refusal, json)),
            }
        }
        CrlCommand::Refresh { ca, json } => {
            let path = match ca {
                Some(id) => format!("/crlStatus/refresh?caId={id}"),
                None => "/crlStatus/refresh".to_owned(),
            };
            match remote
                .post::<(), Collection<CrlRefreshReport>>(&path, None)
                .await?
            {
                Ok(reports) => print_reports(&reports.value, json),
                Err(refusal) => Ok(refused(refusal, json)),
            }
        }
    }
}
