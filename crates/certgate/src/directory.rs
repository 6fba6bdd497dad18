//! `certgate directory status|sync`: Active Directory or another LDAP directory
//! (`[directory.ldap]`) as the source of certgate's users. The run itself is certgate-core's
//! `directory_source::synchronize`; this prints what it planned and did.

use std::process::ExitCode;

use certgate_core::clock::{rfc3339, SystemClock};
use certgate_core::directory_source::{
    synchronize, SourcedField, SyncChange, SyncCounts, SyncMode, SyncProgress, SyncReport, SyncRun,
    SyncRunResult, SyncRunStore,
};
use certgate_ldap::LdapDirectory;
use clap::Subcommand;
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
    /// Read the directory now, print the changes (and the entries skipped, with their DN and
    /// reason) and apply them. Exit 0 when the run completed (skipped entries included), 1
    /// when the directory could not be read or a change was refused.
    Sync {
        /// Print the changes without applying any.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

/// The audit events of a sync name this actor.
pub(crate) const SYNC_ACTOR: &str = "directory-sync";

pub(crate) async fn run(command: DirectoryCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    match command {
        DirectoryCommand::Status { json } => status(&global, json).await,
        DirectoryCommand::Sync { dry_run, json } => sync(&global, dry_run, json).await,
    }
}

const NOT_CONFIGURED: &str = "no directory source is configured: add a [directory.ldap] section to certgate.toml (docs/directory.md)";

async fn status(global: &GlobalArgs, json: bool) -> anyhow::Result<ExitCode> {
    let local = global.local().await?;
    let status = local.store.sync_status().await?;
    let source = local.config.directory.as_ref();
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "configured": source.is_some(),
                "url": source.map(|s| s.ldap.url.clone()),
                "baseDn": source.map(|s| s.ldap.base_dn.clone()),
                "syncIntervalSeconds": source.map(|s| s.sync_interval.as_secs()),
                "removalGraceSeconds": source.map(|s| s.sync.removal_grace.as_secs()),
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
    Ok(ExitCode::SUCCESS)
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
        "startedDateTime": rfc3339(run.started_at),
        "finishedDateTime": rfc3339(run.finished_at),
        "result": result, "counts": counts, "code": code, "message": message,
    })
}

fn run_line(run: &SyncRun) -> String {
    match &run.result {
        SyncRunResult::Completed(counts) => format!(
            "{} completed: {}",
            rfc3339(run.started_at),
            counts_line(counts)
        ),
        SyncRunResult::Failed { code, message } => format!(
            "{} FAILED {code}: {}",
            rfc3339(run.started_at),
            certgate_core::escape_control(message)
        ),
    }
}

async fn sync(global: &GlobalArgs, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    let local = global.local().await?;
    let Some(settings) = local.config.directory.clone() else {
        return Ok(refused(
            "directory sync",
            "directory-source-config-invalid",
            NOT_CONFIGURED,
            json,
        ));
    };
    let source = match LdapDirectory::new(settings.ldap) {
        Ok(source) => source,
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
    let mut progress = |step: SyncProgress| {
        match step {
        SyncProgress::Reading => eprintln!("certgate directory sync: reading the directory ..."),
        SyncProgress::Planned {
            entries,
            changes,
            skipped,
        } => eprintln!(
            "certgate directory sync: {entries} entries read, {changes} changes planned, {skipped} entries skipped{}",
            if dry_run || changes == 0 { "" } else { "; applying ..." }
        ),
    }
    };
    let report = match synchronize(
        &source,
        &local.store,
        &settings.sync,
        mode,
        &SystemClock,
        SYNC_ACTOR,
        &mut progress,
    )
    .await
    {
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
    outln!("{}", counts_line(&report.counts()));
}
