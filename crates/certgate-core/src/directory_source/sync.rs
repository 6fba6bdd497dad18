//! One sync from start to end ([`synchronize`]): read the directory, map its entries, plan
//! against the users certgate has, apply (unless it is a dry run) and record how the run went
//! ([`SyncRunStore`]) for `certgate directory status`.

use std::future::Future;
use std::time::Duration;

use certgate_pki::{ReasonCode, UnixTime};

use super::apply::apply_sync_reporting;
use super::changes::read_changes;
use super::membership::read_memberships_reporting;
use super::{
    change_tracking_supported, choose_scope, map_entries, plan_sync, settings_fingerprint,
    AttributeMap, ChangeMark, ChangeMarkStore, ChangeTracking, DirectorySource, FullSyncReason,
    SourceError, SyncChange, SyncOutcome, SyncPlan, SyncRequest, SyncScope,
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
    /// Whether the whole directory was read.
    pub scope: SyncScope,
    /// Why a run that was asked to be incremental read everything (`None` when it was
    /// incremental).
    pub full_reason: Option<FullSyncReason>,
    /// The mark an incremental run continued from (its highest committed USN).
    pub since_usn: Option<u64>,
    /// The mark this run left for the next one (`None`: a dry run, a directory that does not
    /// track changes, or a run with refused changes, which leaves the old mark so that the
    /// next run reads those changes again).
    pub new_mark: Option<ChangeMark>,
    /// How many entries the directory sent in full (with every mapped attribute).
    pub entries_read: usize,
    /// How many entries an incremental run listed by immutable ID only, to find the ones
    /// that are gone (0 for a full run).
    pub entries_listed: usize,
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
    /// Whether it read the whole directory (a failed run: what it was reading when it failed,
    /// or what was asked for when it failed before it could choose).
    pub scope: SyncScope,
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

/// Where a run is, for a progress bar on long runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncProgress {
    /// The run started: the directory's position is being read.
    Reading,
    /// The run chose how much to read, and reads it.
    ReadingScope(SyncScope),
    /// The entries were read (before their group memberships).
    EntriesRead {
        /// Entries read in full.
        entries: usize,
    },
    /// The group memberships of `done` of `total` users were read.
    ReadingGroups {
        /// Users done.
        done: usize,
        /// Users to do.
        total: usize,
    },
    /// `done` of `total` changes were written.
    Applying {
        /// Changes written (or refused) so far.
        done: usize,
        /// Changes planned.
        total: usize,
    },
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

/// One full sync ([`synchronize_with`] asked for [`SyncRequest::Full`]).
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
    S: UserStore + SyncRunStore + SyncLock + ChangeMarkStore,
{
    synchronize_with(
        source,
        store,
        settings,
        SyncRequest::Full,
        mode,
        clock,
        actor,
        progress,
    )
    .await
}

/// One sync: reads the directory (all of it, or under [`SyncRequest::Incremental`] only what
/// changed since the last run's [`ChangeMark`] when [`choose_scope`] allows), maps the
/// entries under `settings`, plans against the users in `store` at the time `clock` gives at
/// the start (the time every change and the missing marks are dated with), and in
/// [`SyncMode::Apply`] writes the plan through the audited user services as `actor`, records
/// the run and, when every change was written, the new mark; all under the [`SyncLock`]
/// (`directory-sync-already-running` when another run holds it). A read that fails changes
/// nothing and leaves the mark (and is recorded as a failed run when applying); a bad entry
/// is skipped and reported, never stopping the run.
#[allow(clippy::too_many_arguments)] // each is a different thing the run needs; a struct would only rename them
pub async fn synchronize_with<D, S>(
    source: &D,
    store: &S,
    settings: &SyncSettings,
    request: SyncRequest,
    mode: SyncMode,
    clock: &dyn Clock,
    actor: &str,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<SyncReport, SyncError>
where
    D: DirectorySource,
    S: UserStore + SyncRunStore + SyncLock + ChangeMarkStore,
{
    // A dry run writes nothing and may run beside an applied one.
    let held = match mode {
        SyncMode::DryRun => None,
        SyncMode::Apply => match store.try_lock_sync().await? {
            Some(held) => Some(held),
            None => return Err(SyncError::AlreadyRunning),
        },
    };
    let result = synchronize_holding(
        source, store, settings, request, mode, clock, actor, progress,
    )
    .await;
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

/// What a run read, before planning.
struct Read {
    scope: SyncScope,
    full_reason: Option<FullSyncReason>,
    since_usn: Option<u64>,
    tracking: ChangeTracking,
    mark: Option<ChangeMark>,
    entries_read: usize,
    entries_listed: usize,
    mapped: super::MappedEntries,
    known: Vec<crate::directory::User>,
}

#[allow(clippy::too_many_arguments)] // as synchronize_with
async fn synchronize_holding<D, S>(
    source: &D,
    store: &S,
    settings: &SyncSettings,
    request: SyncRequest,
    mode: SyncMode,
    clock: &dyn Clock,
    actor: &str,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<SyncReport, SyncError>
where
    D: DirectorySource,
    S: UserStore + SyncRunStore + ChangeMarkStore,
{
    let started_at = clock.now();
    progress(SyncProgress::Reading);
    let fingerprint = settings_fingerprint(&settings.attributes);
    // What the run was reading when it failed (before it chose: what was asked for).
    let mut scope_tried = match request {
        SyncRequest::Full => SyncScope::Full,
        SyncRequest::Incremental { .. } => SyncScope::Incremental,
    };
    let read = async {
        let known = store.list_users().await?;
        let mark = store.change_mark().await?;
        // The position comes before any search: everything changed after it has a higher
        // uSNChanged, so the next run's search cannot miss what this one's did not see.
        let tracking = match change_tracking_supported(&settings.attributes) {
            Ok(()) => source.change_position().await,
            Err(why) => Ok(ChangeTracking::Unavailable { why }),
        };
        let tracking = match tracking {
            Ok(tracking) => tracking,
            Err(error) => {
                source.end_read().await;
                return Err(error.into());
            }
        };
        let chosen = choose_scope(request, mark.as_ref(), &tracking, &fingerprint, started_at);
        let (scope, full_reason, since_usn) = match chosen {
            Ok(since) => (SyncScope::Incremental, None, Some(since)),
            Err(reason) => (SyncScope::Full, Some(reason), None),
        };
        scope_tried = scope;
        progress(SyncProgress::ReadingScope(scope));
        let read = match since_usn {
            Some(since) => read_changes(source, &known, &settings.attributes, since, progress)
                .await
                .map(|changes| (changes.mapped, changes.entries_read, changes.entries_listed))
                .map_err(SyncError::from),
            None => read_everything(source, &settings.attributes, progress)
                .await
                .map(|(mapped, entries)| (mapped, entries, 0)),
        };
        source.end_read().await;
        let (mapped, entries_read, entries_listed) = read?;
        Ok::<_, SyncError>(Read {
            scope,
            full_reason,
            since_usn,
            tracking,
            mark,
            entries_read,
            entries_listed,
            mapped,
            known,
        })
    }
    .await;
    let read = match read {
        Ok(read) => read,
        Err(error) => {
            if mode == SyncMode::Apply {
                let run = SyncRun {
                    scope: scope_tried,
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
    let plan = plan_sync(&read.known, read.mapped, started_at, settings.removal_grace);
    progress(SyncProgress::Planned {
        entries: read.entries_read,
        changes: plan.changes.len(),
        skipped: plan.problems.len(),
    });
    let mut report = SyncReport {
        mode,
        scope: read.scope,
        full_reason: read.full_reason,
        since_usn: read.since_usn,
        new_mark: None,
        entries_read: read.entries_read,
        entries_listed: read.entries_listed,
        plan,
        outcome: None,
    };
    if mode == SyncMode::Apply {
        let outcome = apply_sync_reporting(
            store,
            &report.plan,
            started_at,
            actor,
            &mut |done, total| progress(SyncProgress::Applying { done, total }),
        )
        .await;
        let every_change_written = outcome.failed.is_empty();
        report.outcome = Some(outcome);
        store
            .record_sync_run(&SyncRun {
                scope: read.scope,
                started_at,
                finished_at: clock.now(),
                result: SyncRunResult::Completed(report.counts()),
            })
            .await?;
        // Only after the changes are written, and only when all were: a refused change must
        // be read again by the next run, which a newer mark would skip.
        if let (ChangeTracking::Available(position), true) = (&read.tracking, every_change_written)
        {
            let full_sync_started_at = match (read.scope, &read.mark) {
                (SyncScope::Incremental, Some(mark)) => mark.full_sync_started_at,
                _ => started_at,
            };
            let mark = ChangeMark {
                server: position.server.clone(),
                invocation_id: position.invocation_id.clone(),
                highest_committed_usn: position.highest_committed_usn,
                settings_fingerprint: fingerprint,
                full_sync_started_at,
            };
            store.save_change_mark(&mark).await?;
            report.new_mark = Some(mark);
        }
    }
    Ok(report)
}

/// A full read: every entry, mapped, with its memberships.
async fn read_everything<D: DirectorySource>(
    source: &D,
    attributes: &AttributeMap,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<(super::MappedEntries, usize), SyncError> {
    let entries = source
        .read_entries(&attributes.requested_attributes())
        .await?;
    progress(SyncProgress::EntriesRead {
        entries: entries.len(),
    });
    let mapped = map_entries(&entries, attributes);
    let mapped = match &attributes.groups {
        Some(groups) => {
            read_memberships_reporting(source, &entries, mapped, groups, &mut |done, total| {
                progress(SyncProgress::ReadingGroups { done, total })
            })
            .await?
        }
        None => mapped,
    };
    Ok((mapped, entries.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_at(seconds: i64) -> SyncStatus {
        let run = SyncRun {
            scope: SyncScope::Full,
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
            scope: SyncScope::Full,
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
