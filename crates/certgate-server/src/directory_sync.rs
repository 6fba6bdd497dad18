//! The scheduled directory sync of `serve`: every node checks often whether a sync is due
//! (certgate-core's `sync_due`, against the runs any node recorded) and runs it under the
//! store's sync lock, so a cluster syncs about once per interval and never twice at once. A
//! failed run is retried sooner, with a backoff that doubles up to the interval
//! (`retry_delay`); a completed run resets it. Each run is incremental when the last run's
//! mark allows (Active Directory's `uSNChanged`), and a full one every `full_sync_interval`
//! to repair whatever an incremental one could have missed.

use std::sync::Arc;
use std::time::Duration;

use certgate_core::clock::Clock;
use certgate_core::directory::UserStore;
use certgate_core::directory_source::{
    next_sync_delay, sync_due, synchronize_with, ChangeMarkStore, DirectorySource, FailureStreak,
    SyncError, SyncLock, SyncMode, SyncRequest, SyncRunStore, SyncSettings, SyncStatus,
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
    /// How long after the last full run an otherwise incremental run reads everything.
    pub full_sync_interval: Duration,
}

/// How often a node looks whether a sync is due: often enough that a cluster's syncs stay
/// close to the interval, rarely enough to cost nothing (one small read).
fn check_period(interval: Duration) -> Duration {
    (interval / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// How long to sleep before the next look: the check period, or less when the retry of a
/// failed run falls due sooner (a 30 s retry must not wait for a 60 s check).
fn next_check(
    status: Option<&SyncStatus>,
    streak: &FailureStreak,
    now: certgate_pki::UnixTime,
    interval: Duration,
) -> Duration {
    let period = check_period(interval);
    let Some(status) = status else {
        return period;
    };
    let (Some(run), Some(delay)) = (
        status.last_run.as_ref(),
        next_sync_delay(status, streak, interval),
    ) else {
        return period;
    };
    let elapsed = u64::try_from(now.0.saturating_sub(run.started_at.0)).unwrap_or(0);
    let remaining = delay.saturating_sub(Duration::from_secs(elapsed));
    period.min(remaining).max(Duration::from_secs(1))
}

/// Runs until the task is dropped or aborted (a sync cut short leaves each change it wrote
/// whole, and the store frees the lock with the connection that held it).
pub async fn run_scheduled<D, S>(sync: ScheduledSync<D>, store: Arc<S>, clock: Arc<dyn Clock>)
where
    D: DirectorySource,
    S: UserStore + SyncRunStore + SyncLock + ChangeMarkStore,
{
    // The failed runs in a row, as this node saw them in the store (any node's runs count).
    let mut streak = FailureStreak::default();
    loop {
        let mut status = read_status(store.as_ref()).await;
        if let Some(seen) = &status {
            streak.observe(seen);
            if sync_due(seen, &streak, clock.now(), sync.interval) {
                run_once(&sync, store.as_ref(), clock.as_ref()).await;
                // Read again, so that the pause follows the run just recorded.
                status = read_status(store.as_ref()).await;
                if let Some(seen) = &status {
                    streak.observe(seen);
                }
            }
        }
        let pause = next_check(status.as_ref(), &streak, clock.now(), sync.interval);
        tokio::time::sleep(pause).await;
    }
}

async fn read_status<S: SyncRunStore>(store: &S) -> Option<SyncStatus> {
    match store.sync_status().await {
        Ok(status) => Some(status),
        Err(error) => {
            tracing::warn!(code = error.code(), %error, "reading the directory sync status failed");
            None
        }
    }
}

async fn run_once<D, S>(sync: &ScheduledSync<D>, store: &S, clock: &dyn Clock)
where
    D: DirectorySource,
    S: UserStore + SyncRunStore + SyncLock + ChangeMarkStore,
{
    let report = synchronize_with(
        &sync.source,
        store,
        &sync.settings,
        SyncRequest::Incremental {
            full_sync_every: sync.full_sync_interval,
        },
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
                scope = report.scope.as_str(),
                full_reason = report.full_reason.as_ref().map(|reason| reason.as_str()),
                entries = counts.entries,
                listed = report.entries_listed,
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

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_core::directory_source::{SyncRun, SyncRunResult, SyncScope};
    use certgate_pki::UnixTime;

    fn failed_at(seconds: i64) -> SyncStatus {
        let run = SyncRun {
            scope: SyncScope::Incremental,
            started_at: UnixTime(seconds),
            finished_at: UnixTime(seconds),
            result: SyncRunResult::Failed {
                code: "directory-source-unavailable".into(),
                message: "down".into(),
            },
        };
        SyncStatus {
            last_run: Some(run),
            last_completed: None,
        }
    }

    #[test]
    fn the_check_after_a_failed_run_comes_when_its_retry_falls_due() {
        let interval = Duration::from_secs(1800);
        let now = UnixTime(10_000);
        let mut streak = FailureStreak::default();
        let status = failed_at(now.0 - 5);
        streak.observe(&status);
        // First failure: retried 30 s after it started, sooner than the 60 s check period.
        assert_eq!(
            next_check(Some(&status), &streak, now, interval),
            Duration::from_secs(25)
        );
        // The next failures wait longer, but never past the check period.
        streak.observe(&failed_at(now.0 - 4));
        streak.observe(&failed_at(now.0 - 3));
        assert_eq!(
            next_check(Some(&failed_at(now.0 - 3)), &streak, now, interval),
            Duration::from_secs(60)
        );
        // A retry already due still leaves a second between reads.
        assert_eq!(
            next_check(Some(&failed_at(now.0 - 500)), &streak, now, interval),
            Duration::from_secs(1)
        );
        assert_eq!(
            next_check(None, &streak, now, interval),
            Duration::from_secs(60)
        );
    }
}
