//! `certgate directory status|sync`: Active Directory or another LDAP directory
//! (`[directory.ldap]`) as the source of certgate's users. The run itself is certgate-core's
//! `directory_source::synchronize`; this prints what it planned and did.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;

use certgate_core::clock::{rfc3339, SystemClock};
use certgate_core::directory_source::{
    change_tracking_supported, synchronize_with, ChangeMark, ChangeMarkStore, SourcedField,
    SyncChange, SyncCounts, SyncMode, SyncProgress, SyncReport, SyncRequest, SyncRun,
    SyncRunResult, SyncRunStore, SyncScope,
};
use certgate_ldap::LdapDirectory;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::output::refused;
use crate::GlobalArgs;

#[derive(Subcommand)]
pub(crate) enum DirectoryCommand {
    /// Whether a directory source is configured, and how its last sync went.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Read the directory now (only what changed since the last run when Active Directory's
    /// update sequence numbers allow), print the changes (and the entries skipped, with their
    /// DN and reason) and apply them. Exit 0 when the run completed (skipped entries
    /// included), 1 when the directory could not be read or a change was refused.
    Sync {
        /// Print the changes without applying any.
        #[arg(long)]
        dry_run: bool,
        /// Read the whole directory even when an incremental sync is possible.
        #[arg(long)]
        full: bool,
        #[arg(long)]
        json: bool,
    },
}

/// The audit events of a sync name this actor.
pub(crate) const SYNC_ACTOR: &str = "directory-sync";

pub(crate) async fn run(command: DirectoryCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    match command {
        DirectoryCommand::Status { json } => status(&global, json).await,
        DirectoryCommand::Sync {
            dry_run,
            full,
            json,
        } => sync(&global, dry_run, full, json).await,
    }
}

const NOT_CONFIGURED: &str = "no directory source is configured: add a [directory.ldap] section to certgate.toml (docs/directory.md)";

async fn status(global: &GlobalArgs, json: bool) -> anyhow::Result<ExitCode> {
    let local = global.local().await?;
    let status = local.store.sync_status().await?;
    let mark = local.store.change_mark().await?;
    let source = local.config.directory.as_ref();
    // Why every sync of this source is a full one, if it is.
    let always_full = source.and_then(|s| change_tracking_supported(&s.sync.attributes).err());
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "configured": source.is_some(),
                "url": source.map(|s| s.ldap.url.clone()),
                "baseDn": source.map(|s| s.ldap.base_dn.clone()),
                "syncIntervalSeconds": source.map(|s| s.sync_interval.as_secs()),
                "fullSyncIntervalSeconds": source.map(|s| s.full_sync_interval.as_secs()),
                "incrementalSync": source.map(|_| always_full.is_none()),
                "incrementalSyncUnavailable": always_full,
                "removalGraceSeconds": source.map(|s| s.sync.removal_grace.as_secs()),
                "changeMark": mark.as_ref().map(mark_json),
                "lastRun": status.last_run.as_ref().map(run_json),
                "lastCompletedRun": status.last_completed.as_ref().map(run_json),
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    match source {
        Some(source) => {
            outln!(
                "directory source  {} (base {})",
                source.ldap.url,
                source.ldap.base_dn
            );
            outln!(
                "    sync every {} s; a vanished entry's user is removed {} s after it is disabled",
                source.sync_interval.as_secs(),
                source.sync.removal_grace.as_secs()
            );
            match &always_full {
                None => outln!(
                    "    incremental (Active Directory uSNChanged); a full sync every {} s",
                    source.full_sync_interval.as_secs()
                ),
                Some(why) => outln!("    every sync is a full one: {why}"),
            }
        }
        None => outln!("directory source  not configured (users are added by hand)"),
    }
    match &status.last_run {
        None => outln!("last sync         never"),
        Some(run) => outln!("last sync         {}", run_line(run)),
    }
    if let Some(run) = &status.last_completed {
        if status.last_run.as_ref() != Some(run) {
            outln!("last completed    {}", run_line(run));
        }
    }
    match &mark {
        None => outln!("change mark       none (the next sync is a full one)"),
        Some(mark) => outln!(
            "change mark       USN {} on {} (invocation ID {}); last full sync {}",
            mark.highest_committed_usn,
            certgate_core::escape_control(&mark.server),
            mark.invocation_id,
            rfc3339(mark.full_sync_started_at)
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn mark_json(mark: &ChangeMark) -> Value {
    json!({
        "server": mark.server,
        "invocationId": mark.invocation_id,
        "highestCommittedUsn": mark.highest_committed_usn,
        "fullSyncStartedDateTime": rfc3339(mark.full_sync_started_at),
    })
}

fn counts_json(counts: &SyncCounts) -> Value {
    json!({
        "entries": counts.entries, "added": counts.added, "updated": counts.updated,
        "disabled": counts.disabled, "removed": counts.removed, "skipped": counts.skipped,
        "failed": counts.failed,
    })
}

fn counts_line(counts: &SyncCounts) -> String {
    format!(
        "{} entries: {} added, {} updated, {} disabled, {} removed, {} skipped, {} failed",
        counts.entries,
        counts.added,
        counts.updated,
        counts.disabled,
        counts.removed,
        counts.skipped,
        counts.failed
    )
}

fn run_json(run: &SyncRun) -> Value {
    let (result, counts, code, message) = match &run.result {
        SyncRunResult::Completed(counts) => ("completed", Some(counts_json(counts)), None, None),
        SyncRunResult::Failed { code, message } => {
            ("failed", None, Some(code.clone()), Some(message.clone()))
        }
    };
    json!({
        "scope": run.scope.as_str(),
        "startedDateTime": rfc3339(run.started_at),
        "finishedDateTime": rfc3339(run.finished_at),
        "result": result, "counts": counts, "code": code, "message": message,
    })
}

fn run_line(run: &SyncRun) -> String {
    match &run.result {
        SyncRunResult::Completed(counts) => format!(
            "{} {} completed: {}",
            rfc3339(run.started_at),
            run.scope.as_str(),
            counts_line(counts)
        ),
        SyncRunResult::Failed { code, message } => format!(
            "{} {} FAILED {code}: {}",
            rfc3339(run.started_at),
            run.scope.as_str(),
            certgate_core::escape_control(message)
        ),
    }
}

async fn sync(
    global: &GlobalArgs,
    dry_run: bool,
    full: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let local = global.local().await?;
    let Some(settings) = local.config.directory.clone() else {
        return Ok(refused(
            "directory sync",
            "directory-source-config-invalid",
            NOT_CONFIGURED,
            json,
        ));
    };
    // The bar only on a terminal and never with --json; elsewhere (logs, pipes) a line per
    // step.
    let bar = (!json && std::io::stderr().is_terminal()).then(SyncBar::new);
    let source = match LdapDirectory::new(settings.ldap) {
        Ok(source) => match &bar {
            Some(bar) => source.with_page_observer(bar.page_observer()),
            None => source,
        },
        Err(error) => {
            return Ok(refused(
                "directory sync",
                error.code(),
                &error.to_string(),
                json,
            ))
        }
    };
    let mode = if dry_run {
        SyncMode::DryRun
    } else {
        SyncMode::Apply
    };
    let request = if full {
        SyncRequest::Full
    } else {
        SyncRequest::Incremental {
            full_sync_every: settings.full_sync_interval,
        }
    };
    let mut progress = |step: SyncProgress| match &bar {
        Some(bar) => bar.show(step),
        None => progress_line(step, dry_run),
    };
    let result = synchronize_with(
        &source,
        &local.store,
        &settings.sync,
        request,
        mode,
        &SystemClock,
        SYNC_ACTOR,
        &mut progress,
    )
    .await;
    if let Some(bar) = &bar {
        bar.finish();
    }
    let report = match result {
        Ok(report) => report,
        Err(error) => {
            return Ok(refused(
                "directory sync",
                error.code(),
                &error.to_string(),
                json,
            ))
        }
    };
    let failed = report
        .outcome
        .as_ref()
        .is_some_and(|outcome| !outcome.failed.is_empty());
    if json {
        outln!("{}", serde_json::to_string_pretty(&report_json(&report))?);
    } else {
        print_report(&report);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The progress of a run as one line per step, on standard error (not a terminal).
fn progress_line(step: SyncProgress, dry_run: bool) {
    match step {
        SyncProgress::Reading => eprintln!("certgate directory sync: reading the directory ..."),
        SyncProgress::ReadingScope(scope) => {
            eprintln!("certgate directory sync: {} read", scope.as_str())
        }
        SyncProgress::Planned {
            entries,
            changes,
            skipped,
        } => eprintln!(
            "certgate directory sync: {entries} entries read, {changes} changes planned, {skipped} entries skipped{}",
            if dry_run || changes == 0 { "" } else { "; applying ..." }
        ),
        SyncProgress::EntriesRead { .. }
        | SyncProgress::ReadingGroups { .. }
        | SyncProgress::Applying { .. } => {}
    }
}

/// A progress bar on standard error for long runs: entries and pages read, group
/// memberships read (N of M users), changes applied (N of M).
struct SyncBar(ProgressBar);

impl SyncBar {
    fn new() -> SyncBar {
        let bar = ProgressBar::new_spinner();
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        SyncBar(bar)
    }

    fn spinner(&self, message: String) {
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            self.0.set_style(style);
        }
        self.0.set_message(message);
    }

    fn counted(&self, message: &str, done: usize, total: usize) {
        if self.0.length() != Some(total as u64) {
            if let Ok(style) =
                ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({elapsed}, {eta} left)")
            {
                self.0.set_style(style.progress_chars("=> "));
            }
            self.0.set_length(total as u64);
            self.0.set_message(message.to_owned());
        }
        self.0.set_position(done as u64);
    }

    /// Told by the LDAP source after each page of entries.
    fn page_observer(&self) -> certgate_ldap::PageObserver {
        let bar = self.0.clone();
        Arc::new(move |entries, pages| {
            bar.set_message(format!(
                "reading the directory: {entries} entries, {pages} pages"
            ))
        })
    }

    fn show(&self, step: SyncProgress) {
        match step {
            SyncProgress::Reading => self.spinner("reading the directory's position".to_owned()),
            SyncProgress::ReadingScope(scope) => self.spinner(format!(
                "reading the directory ({})",
                match scope {
                    SyncScope::Full => "full",
                    SyncScope::Incremental => "changes since the last sync",
                }
            )),
            SyncProgress::EntriesRead { entries } => {
                self.spinner(format!("{entries} entries read; reading group memberships"))
            }
            SyncProgress::ReadingGroups { done, total } => {
                self.counted("group memberships", done, total)
            }
            SyncProgress::Planned {
                entries,
                changes,
                skipped,
            } => {
                self.0.set_length(0);
                self.spinner(format!(
                    "{entries} entries read, {changes} changes planned, {skipped} skipped"
                ))
            }
            SyncProgress::Applying { done, total } => self.counted("applying", done, total),
        }
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn change_json(change: &SyncChange) -> Value {
    match change {
        SyncChange::Add {
            dn,
            draft,
            directory_groups,
        } => json!({
            "action": "add", "dn": dn, "userPrincipalName": draft.upn,
            "onPremisesImmutableId": draft.immutable_id,
            "directoryGroups": directory_groups,
        }),
        SyncChange::Update {
            dn,
            user_id,
            upn,
            draft,
            directory_groups,
            changed,
            returned,
        } => json!({
            "action": "update", "dn": dn, "id": user_id.as_str(), "userPrincipalName": upn,
            "newUserPrincipalName": draft.upn,
            "changed": changed.iter().map(|field| field.as_str()).collect::<Vec<_>>(),
            "directoryGroups": directory_groups,
            "returned": returned,
        }),
        SyncChange::Disable {
            user_id,
            upn,
            missing_since,
        } => json!({
            "action": "disable", "id": user_id.as_str(), "userPrincipalName": upn,
            "missingSinceDateTime": rfc3339(*missing_since),
        }),
        SyncChange::Remove {
            user_id,
            upn,
            missing_since,
        } => json!({
            "action": "remove", "id": user_id.as_str(), "userPrincipalName": upn,
            "missingSinceDateTime": rfc3339(*missing_since),
        }),
    }
}

fn report_json(report: &SyncReport) -> Value {
    let skipped: Vec<Value> = report
        .plan
        .problems
        .iter()
        .map(|problem| {
            json!({
                "dn": problem.dn, "onPremisesImmutableId": problem.immutable_id,
                "code": problem.error.code(), "message": problem.error.to_string(),
            })
        })
        .collect();
    let (changes, failed): (Vec<Value>, Vec<Value>) = match &report.outcome {
        None => (
            report.plan.changes.iter().map(change_json).collect(),
            Vec::new(),
        ),
        Some(outcome) => (
            outcome
                .applied
                .iter()
                .map(|applied| change_json(&applied.change))
                .collect(),
            outcome
                .failed
                .iter()
                .map(|failed| {
                    let mut change = change_json(&failed.change);
                    change["code"] = json!(failed.error.code());
                    change["message"] = json!(failed.error.to_string());
                    change
                })
                .collect(),
        ),
    };
    json!({
        "ok": failed.is_empty(),
        "dryRun": report.mode == SyncMode::DryRun,
        "scope": report.scope.as_str(),
        "fullSyncReason": report.full_reason.as_ref().map(|reason| reason.as_str()),
        "fullSyncReasonMessage": report.full_reason.as_ref().map(|reason| reason.to_string()),
        "sinceUsn": report.since_usn,
        "entriesListed": report.entries_listed,
        "changeMark": report.new_mark.as_ref().map(mark_json),
        "counts": counts_json(&report.counts()),
        "changes": changes,
        "skipped": skipped,
        "failed": failed,
    })
}

fn change_line(change: &SyncChange) -> String {
    match change {
        SyncChange::Add {
            dn,
            draft,
            directory_groups,
        } if directory_groups.is_empty() => format!("add      {}  ({dn})", draft.upn),
        SyncChange::Add {
            dn,
            draft,
            directory_groups,
        } => format!(
            "add      {}, directoryGroups [{}]  ({dn})",
            draft.upn,
            directory_groups.join(", ")
        ),
        SyncChange::Update {
            dn,
            upn,
            draft,
            directory_groups,
            changed,
            returned,
            ..
        } => {
            let groups = format!("directoryGroups -> [{}]", directory_groups.join(", "));
            let mut what: Vec<&str> = changed
                .iter()
                .map(|field| match field {
                    SourcedField::DirectoryGroups => groups.as_str(),
                    other => other.as_str(),
                })
                .collect();
            if *returned {
                what.push("back in the directory");
            }
            if what.is_empty() {
                what.push("moved");
            }
            let renamed = if *upn == draft.upn {
                String::new()
            } else {
                format!(" -> {}", draft.upn)
            };
            format!("update   {upn}{renamed}: {}  ({dn})", what.join(", "))
        }
        SyncChange::Disable {
            upn, missing_since, ..
        } => format!(
            "disable  {upn}  (gone from the directory since {})",
            rfc3339(*missing_since)
        ),
        SyncChange::Remove {
            upn, missing_since, ..
        } => format!(
            "remove   {upn}  (gone from the directory since {}, past the grace period)",
            rfc3339(*missing_since)
        ),
    }
}

fn print_report(report: &SyncReport) {
    let escape = certgate_core::escape_control;

    match &report.outcome {
        None => {
            outln!("dry run: nothing was changed");
            for change in &report.plan.changes {
                outln!("{}", escape(&change_line(change)));
            }
        }
        Some(outcome) => {
            for applied in &outcome.applied {
                outln!("{}", escape(&change_line(&applied.change)));
            }
            for failed in &outcome.failed {
                outln!(
                    "FAILED   {}: {} ({})",
                    escape(&change_line(&failed.change)),
                    escape(&failed.error.to_string()),
                    failed.error.code()
                );
            }
        }
    }
    for problem in &report.plan.problems {
        outln!(
            "skipped  {}: {} ({})",
            escape(&problem.dn),
            escape(&problem.error.to_string()),
            problem.error.code()
        );
    }
    match (&report.full_reason, report.since_usn) {
        (Some(reason), _) => outln!("full sync: {}", escape(&reason.to_string())),
        (None, Some(usn)) => outln!(
            "incremental sync: the changes since USN {usn} ({} entries listed to find those gone)",
            report.entries_listed
        ),
        (None, None) => {}
    }
    outln!("{}", counts_line(&report.counts()));
}
