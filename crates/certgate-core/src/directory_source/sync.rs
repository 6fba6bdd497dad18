//! One sync from start to end ([`synchronize`]): read the directory, map its entries, plan
//! against the users certgate has, apply (unless it is a dry run) and record how the run went
//! ([`SyncRunStore`]) for `certgate directory status`.

use std::future::Future;
use std::time::Duration;

use certgate_pki::{ReasonCode, UnixTime};

use super::{
    apply_sync, map_entries, plan_sync, read_memberships, AttributeMap, DirectorySource,
    SourceError, SyncChange, SyncOutcome, SyncPlan,
};
use crate::clock::Clock;
use crate::directory::UserStore;
use crate::store::{StoreError, StoreResult};

/// How the directory is read and how long a vanished entry's user is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncSettings {
    /// Which LDAP attribute each user attribute comes from.
    pub attributes: AttributeMap,
    /// How long a user whose entry is gone stays (disabled) before it is removed.
    pub removal_grace: Duration,
}

impl SyncSettings {
    /// Entra Connect's default for deleted objects is a 30-day soft delete; certgate keeps a
    /// vanished entry's user disabled as long before removing it.
    pub const DEFAULT_REMOVAL_GRACE: Duration = Duration::from_secs(30 * 86_400);
}

/// Whether the plan is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Read and plan only: nothing is written, not even the run's record.
    DryRun,
    /// Read, plan and apply, and record the run.
    Apply,
}

/// How many of each kind of change a run planned or made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncCounts {
    /// Entries read from the directory.
    pub entries: u64,
    /// Users added.
    pub added: u64,
    /// Users updated (attributes, a returning entry, a move).
    pub updated: u64,
    /// Users disabled because their entry is gone.
    pub disabled: u64,
    /// Users removed after the grace period.
    pub removed: u64,
    /// Entries skipped, each with its DN and reason.
    pub skipped: u64,
    /// Planned changes the user services refused when they were written.
    pub failed: u64,
}

impl SyncCounts {
    fn of(entries: usize, changes: &[&SyncChange], skipped: usize, failed: usize) -> SyncCounts {
        let count = |kind: fn(&SyncChange) -> bool| {
            changes.iter().filter(|change| kind(change)).count() as u64
        };
        SyncCounts {
            entries: entries as u64,
            added: count(|c| matches!(c, SyncChange::Add { .. })),
            updated: count(|c| matches!(c, SyncChange::Update { .. })),
            disabled: count(|c| matches!(c, SyncChange::Disable { .. })),
            removed: count(|c| matches!(c, SyncChange::Remove { .. })),
            skipped: skipped as u64,
            failed: failed as u64,
        }
    }
}

/// What one run read, planned and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// Dry run or applied.
    pub mode: SyncMode,
    /// How many entries the directory sent.
    pub entries_read: usize,
    /// The changes and the skipped entries.
    pub plan: SyncPlan,
    /// What was written (`None` for a dry run).
    pub outcome: Option<SyncOutcome>,
}

impl SyncReport {
    /// The changes planned (dry run) or written (applied), by kind.
    pub fn counts(&self) -> SyncCounts {
        match &self.outcome {
            None => SyncCounts::of(
                self.entries_read,
                &self.plan.changes.iter().collect::<Vec<_>>(),
                self.plan.problems.len(),
                0,
            ),
            Some(outcome) => SyncCounts::of(
                self.entries_read,
                &outcome
                    .applied
                    .iter()
                    .map(|applied| &applied.change)
                    .collect::<Vec<_>>(),
                self.plan.problems.len(),
                outcome.failed.len(),
            ),
        }
    }
}

/// Why a run changed nothing at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The directory could not be read (in full).
    #[error(transparent)]
    Source(#[from] SourceError),
    /// certgate's own users could not be read, or the run not recorded.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another sync is being applied (by `serve` on this or another node, or by
    /// `certgate directory sync`); this one changed nothing.
    #[error("another directory sync is running (on this or another certgate node); nothing was changed, and the next sync will bring the directory's changes")]
    AlreadyRunning,
}

impl SyncError {
    /// The code [`SyncError::code`] adds to the source's and the store's.
    pub const CODES: &'static [ReasonCode] = &[ReasonCode::new(
        "directory-sync-already-running",
        "Another directory sync was being applied (the scheduled sync of `certgate serve` on this or another node, or `certgate directory sync`) when this one started; it changed nothing.",
        "Wait for the running sync to finish (`certgate directory status` shows the last run) and run `certgate directory sync` again if needed; the scheduled sync catches up on its own.",
    )];

    /// The stable reason code: the source's or the store's.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Source(error) => error.code(),
            SyncError::Store(error) => error.code(),
            SyncError::AlreadyRunning => "directory-sync-already-running",
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncRunResult {
    /// The directory was read and the plan applied (some entries may have been skipped or
    /// changes refused: the counts say).
    Completed(SyncCounts),
    /// Nothing was applied.
    Failed {
        /// The reason code.
        code: String,
        /// The message.
        message: String,
    },
}

/// One applied run, as `certgate directory status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRun {
    /// When it started.
    pub started_at: UnixTime,
    /// When it ended.
    pub finished_at: UnixTime,
    /// Completed with its counts, or failed with why.
    pub result: SyncRunResult,
}

/// The last runs of the directory sync.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// The last run, however it ended.
    pub last_run: Option<SyncRun>,
    /// The last run that completed (the directory state certgate's users reflect).
    pub last_completed: Option<SyncRun>,
}

/// Where the sync's runs are recorded.
pub trait SyncRunStore: Send + Sync {
    /// Records a run as the last one (and as the last completed one when it completed).
    fn record_sync_run(&self, run: &SyncRun) -> impl Future<Output = StoreResult<()>> + Send;
    /// The last run and the last completed run.
    fn sync_status(&self) -> impl Future<Output = StoreResult<SyncStatus>> + Send;
}

/// One applied sync at a time across every node that shares the store: a second run that
/// started while one is applying would plan against users the first is changing.
pub trait SyncLock: Send + Sync {
    /// Proof that this process holds the lock; give it back with
    /// [`SyncLock::release_sync_lock`]. Dropping it without doing so must still free the lock
    /// (a run that panicked or was cancelled cannot keep every other node from syncing).
    type Held: Send;
    /// The lock, or `None` when another run (on this or another node) holds it.
    fn try_lock_sync(&self) -> impl Future<Output = StoreResult<Option<Self::Held>>> + Send;
    /// Frees the lock.
    fn release_sync_lock(&self, held: Self::Held) -> impl Future<Output = StoreResult<()>> + Send;
}

/// How soon a scheduled sync is tried again after the first of a row of failed runs: soon
/// enough that a directory that was down for a moment is read again within a minute, not one
/// interval later.
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(30);

/// How long after a failed run the next is due, when it was the `consecutive_failures`-th
/// failed run in a row: [`FIRST_RETRY_DELAY`] after the first, doubling with each further
/// failure, never more than `interval` (a directory that stays down is tried as often as a
/// healthy one is read, and no more). No failure: `interval`.
pub fn retry_delay(consecutive_failures: u32, interval: Duration) -> Duration {
    if consecutive_failures == 0 {
        return interval;
    }
    // 2^31 × 30 s is beyond any interval: the shift is capped before it can overflow.
    let factor = 1u32 << (consecutive_failures - 1).min(31);
    FIRST_RETRY_DELAY
        .checked_mul(factor)
        .unwrap_or(Duration::MAX)
        .min(interval)
}

/// The failed runs in a row that the last runs recorded in the store (by any node) show, as
/// one node sees them by looking at [`SyncStatus`] from time to time: a completed run ends
/// the row, each failed run not seen before lengthens it. Kept by the scheduler, so the
/// store needs no column for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureStreak {
    consecutive_failures: u32,
    last_failure_started_at: Option<UnixTime>,
}

impl FailureStreak {
    /// Takes in the status read from the store.
    pub fn observe(&mut self, status: &SyncStatus) {
        match status.last_run.as_ref() {
            Some(SyncRun {
                started_at,
                result: SyncRunResult::Failed { .. },
                ..
            }) => {
                if self.last_failure_started_at != Some(*started_at) {
                    self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                    self.last_failure_started_at = Some(*started_at);
                }
            }
            // No run yet, or the last one completed: a success resets the backoff.
            _ => *self = Self::default(),
        }
    }

    /// Failed runs in a row seen so far.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }
}

/// How long after any node's last run the next scheduled sync is due: `interval` after a
/// completed run, [`retry_delay`] after a failed one. `None` when no run was recorded.
pub fn next_sync_delay(
    status: &SyncStatus,
    streak: &FailureStreak,
    interval: Duration,
) -> Option<Duration> {
    let run = status.last_run.as_ref()?;
    Some(match run.result {
        SyncRunResult::Completed(_) => interval,
        // At least one failure: the streak may not have seen this run yet (a fresh node).
        SyncRunResult::Failed { .. } => retry_delay(streak.consecutive_failures.max(1), interval),
    })
}

/// Whether a scheduled sync is due at `now`: when no run (on any node: the status is the
/// store's) started within the last [`next_sync_delay`]. Every node checks often and the
/// first to find it due runs it, so a cluster syncs about once per interval, not once per
/// node, and a failing directory is retried after 30 s, 1 min, 2 min, ... up to the interval.
pub fn sync_due(
    status: &SyncStatus,
    streak: &FailureStreak,
    now: UnixTime,
    interval: Duration,
) -> bool {
    let (Some(run), Some(delay)) = (
        status.last_run.as_ref(),
        next_sync_delay(status, streak, interval),
    ) else {
        return true;
    };
    let delay = i64::try_from(delay.as_secs()).unwrap_or(i64::MAX);
    // A last run stamped more than a delay ahead of `now` (by a node whose clock was wrong)
    // would stop every sync until the clocks caught up: it counts as due.
    now.0.saturating_sub(run.started_at.0) >= delay
        || run.started_at.0 > now.0.saturating_add(delay)
}

/// Where a run is, for a progress line on long runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncProgress {
    /// The directory is being read.
    Reading,
    /// The directory was read and the plan made.
    Planned {
        /// Entries read.
        entries: usize,
        /// Changes planned.
        changes: usize,
        /// Entries skipped.
        skipped: usize,
    },
}

/// One sync: reads every entry of `source`, maps them under `settings`, plans against the
/// users in `store` at the time `clock` gives at the start (the time every change and the
/// missing marks are dated with), and in [`SyncMode::Apply`] writes the plan through the
/// audited user services as `actor` and records the run, holding the [`SyncLock`] throughout
/// (`directory-sync-already-running` when another run holds it). A read that fails changes
/// nothing (and is recorded as a failed run when applying); a bad entry is skipped and
/// reported, never stopping the run.
pub async fn synchronize<D, S>(
    source: &D,
    store: &S,
    settings: &SyncSettings,
    mode: SyncMode,
    clock: &dyn Clock,
    actor: &str,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<SyncReport, SyncError>
where
    D: DirectorySource,
    S: UserStore + SyncRunStore + SyncLock,
{
    // A dry run writes nothing and may run beside an applied one.
    let held = match mode {
        SyncMode::DryRun => None,
        SyncMode::Apply => match store.try_lock_sync().await? {
            Some(held) => Some(held),
            None => return Err(SyncError::AlreadyRunning),
        },
    };
    let result = synchronize_holding(source, store, settings, mode, clock, actor, progress).await;
    if let Some(held) = held {
        let released = store.release_sync_lock(held).await;
        // The run's own error says more than a failed release, whose lock the store frees
        // with the connection anyway.
        if result.is_ok() {
            released?;
        }
    }
    result
}

async fn synchronize_holding<D, S>(
    source: &D,
    store: &S,
    settings: &SyncSettings,
    mode: SyncMode,
    clock: &dyn Clock,
    actor: &str,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<SyncReport, SyncError>
where
    D: DirectorySource,
    S: UserStore + SyncRunStore,
{
    let started_at = clock.now();
    progress(SyncProgress::Reading);
    let read = async {
        let entries = match source
            .read_entries(&settings.attributes.requested_attributes())
            .await
        {
            Ok(entries) => entries,
            Err(error) => {
                source.end_read().await;
                return Err(error.into());
            }
        };
        let mapped = map_entries(&entries, &settings.attributes);
        let mapped = match &settings.attributes.groups {
            Some(groups) => read_memberships(source, &entries, mapped, groups).await,
            None => Ok(mapped),
        };
        source.end_read().await;
        let mapped = mapped?;
        let known = store.list_users().await?;
        Ok::<_, SyncError>((entries.len(), mapped, known))
    }
    .await;
    let (entries_read, mapped, known) = match read {
        Ok(read) => read,
        Err(error) => {
            if mode == SyncMode::Apply {
                let run = SyncRun {
                    started_at,
                    finished_at: clock.now(),
                    result: SyncRunResult::Failed {
                        code: error.code().to_owned(),
                        message: error.to_string(),
                    },
                };
                // The read's error is the one to report; a store that cannot record it is
                // most likely why the read failed too.
                let _ = store.record_sync_run(&run).await;
            }
            return Err(error);
        }
    };
    let plan = plan_sync(&known, mapped, started_at, settings.removal_grace);
    progress(SyncProgress::Planned {
        entries: entries_read,
        changes: plan.changes.len(),
        skipped: plan.problems.len(),
    });
    let mut report = SyncReport {
        mode,
        entries_read,
        plan,
        outcome: None,
    };
    if mode == SyncMode::Apply {
        let outcome = apply_sync(store, &report.plan, started_at, actor).await;
        report.outcome = Some(outcome);
        store
            .record_sync_run(&SyncRun {
                started_at,
                finished_at: clock.now(),
                result: SyncRunResult::Completed(report.counts()),
            })
            .await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_at(seconds: i64) -> SyncStatus {
        let run = SyncRun {
            started_at: UnixTime(seconds),
            finished_at: UnixTime(seconds),
            result: SyncRunResult::Failed {
                code: "directory-source-timeout".into(),
                message: "slow".into(),
            },
        };
        SyncStatus {
            last_run: Some(run),
            last_completed: None,
        }
    }

    fn completed_at(seconds: i64) -> SyncStatus {
        let run = SyncRun {
            started_at: UnixTime(seconds),
            finished_at: UnixTime(seconds),
            result: SyncRunResult::Completed(SyncCounts::default()),
        };
        SyncStatus {
            last_run: Some(run.clone()),
            last_completed: Some(run),
        }
    }

    fn streak_of(failures: u32) -> FailureStreak {
        FailureStreak {
            consecutive_failures: failures,
            last_failure_started_at: None,
        }
    }

    #[test]
    fn retry_delay_doubles_from_thirty_seconds_up_to_the_interval() {
        let interval = Duration::from_secs(1800);
        let table: [(u32, u64); 10] = [
            (0, 1800),
            (1, 30),
            (2, 60),
            (3, 120),
            (4, 240),
            (5, 480),
            (6, 960),
            (7, 1800),
            (40, 1800),
            (u32::MAX, 1800),
        ];
        for (failures, seconds) in table {
            assert_eq!(
                retry_delay(failures, interval),
                Duration::from_secs(seconds),
                "after {failures} failures"
            );
        }
        // An interval shorter than the first retry delay bounds it too.
        assert_eq!(
            retry_delay(1, Duration::from_secs(10)),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn a_sync_is_due_once_its_delay_has_passed_since_any_nodes_last_run() {
        let interval = Duration::from_secs(600);
        let now = 1_000_000;
        // (last run, failures in a row seen, due)
        let table: [(SyncStatus, u32, bool); 14] = [
            (SyncStatus::default(), 0, true),
            (completed_at(now - 599), 0, false),
            (completed_at(now - 600), 0, true),
            // A failed run is retried sooner than an interval, but not at every check.
            (failed_at(now - 1), 1, false),
            (failed_at(now - 29), 1, false),
            (failed_at(now - 30), 1, true),
            (failed_at(now - 59), 2, false),
            (failed_at(now - 60), 2, true),
            (failed_at(now - 479), 5, false),
            (failed_at(now - 480), 5, true),
            (failed_at(now - 599), 9, false),
            (failed_at(now - 600), 9, true),
            // A node that has not seen the failure yet still retries it soon.
            (failed_at(now - 30), 0, true),
            // A run stamped far in the future by a node with a wrong clock does not stop syncs.
            (completed_at(now + 601), 0, true),
        ];
        for (status, failures, due) in table {
            assert_eq!(
                sync_due(&status, &streak_of(failures), UnixTime(now), interval),
                due,
                "{status:?} after {failures} failures"
            );
        }
        assert!(!sync_due(
            &completed_at(now + 600),
            &FailureStreak::default(),
            UnixTime(now),
            interval
        ));
        assert!(sync_due(
            &failed_at(now + 31),
            &streak_of(1),
            UnixTime(now),
            interval
        ));
    }

    #[test]
    fn the_failure_streak_counts_each_failed_run_once_and_a_completed_run_ends_it() {
        let mut streak = FailureStreak::default();
        streak.observe(&failed_at(100));
        assert_eq!(streak.consecutive_failures(), 1);
        // The same run read again at the next check is not a second failure.
        streak.observe(&failed_at(100));
        assert_eq!(streak.consecutive_failures(), 1);
        streak.observe(&failed_at(130));
        streak.observe(&failed_at(190));
        assert_eq!(streak.consecutive_failures(), 3);
        streak.observe(&completed_at(310));
        assert_eq!(streak, FailureStreak::default());
        streak.observe(&failed_at(2110));
        assert_eq!(streak.consecutive_failures(), 1);
        streak.observe(&SyncStatus::default());
        assert_eq!(streak.consecutive_failures(), 0);
    }
}
