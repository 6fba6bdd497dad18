//! The scheduled directory sync of `serve`: every node checks often whether a sync is due
//! (certgate-core's `sync_due`, against the runs any node recorded) and runs it under the
//! store's sync lock, so a cluster syncs about once per interval and never twice at once.

use std::sync::Arc;
use std::time::Duration;

use certgate_core::clock::Clock;
use certgate_core::directory::UserStore;
use certgate_core::directory_source::{
    sync_due, synchronize, DirectorySource, SyncError, SyncLock, SyncMode, SyncRunStore,
    SyncSettings,
};

/// Who the audit events of a scheduled sync name.
pub const SCHEDULED_SYNC_ACTOR: &str = "directory-sync";

/// What the scheduled sync reads and how often.
pub struct ScheduledSync<D> {
    /// The directory.
    pub source: D,
    /// The attribute map and the removal grace period.
    pub settings: SyncSettings,
    /// How long after any node's last run the next is due.
    pub interval: Duration,
}

/// How often a node looks whether a sync is due: often enough that a cluster's syncs stay
/// close to the interval, rarely enough to cost nothing (one small read).
fn check_period(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Runs until the task is dropped or aborted (a sync cut short leaves each change it wrote
/// whole, and the store frees the lock with the connection that held it).
pub async fn run_scheduled<D, S>(sync: ScheduledSync<D>, store: Arc<S>, clock: Arc<dyn Clock>)
where
    D: DirectorySource,
    S: UserStore + SyncRunStore + SyncLock,
{
    loop {
        let due = match store.sync_status().await {
            Ok(status) => sync_due(&status, clock.now(), sync.interval),
            Err(error) => {
                tracing::warn!(code = error.code(), %error, "reading the directory sync status failed");
                false
            }
        };
        if due {
            run_once(&sync, store.as_ref(), clock.as_ref()).await;
        }
        tokio::time::sleep(check_period(sync.interval)).await;
    }
}

async fn run_once<D, S>(sync: &ScheduledSync<D>, store: &S, clock: &dyn Clock)
where
    D: DirectorySource,
    S: UserStore + SyncRunStore + SyncLock,
{
    let report = synchronize(
        &sync.source,
        store,
        &sync.settings,
        SyncMode::Apply,
        clock,
        SCHEDULED_SYNC_ACTOR,
        &mut |_| {},
    )
    .await;
    match report {
        Ok(report) => {
            let counts = report.counts();
            tracing::info!(
                entries = counts.entries,
                added = counts.added,
                updated = counts.updated,
                disabled = counts.disabled,
                removed = counts.removed,
                skipped = counts.skipped,
                failed = counts.failed,
                "directory sync completed"
            );
            if counts.skipped > 0 || counts.failed > 0 {
                tracing::warn!(
                    skipped = counts.skipped,
                    failed = counts.failed,
                    "directory entries were skipped or changes refused; `certgate directory sync --dry-run` lists them with their DN and reason"
                );
            }
        }
        // Another node got there first: its run is this interval's.
        Err(SyncError::AlreadyRunning) => {
            tracing::info!("directory sync skipped: another node is running it");
        }
        Err(error) => {
            tracing::warn!(code = error.code(), %error, "directory sync failed; the users stay as last synchronised");
        }
    }
}
