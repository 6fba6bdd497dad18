//! Carrying out a [`SyncPlan`] through the directory's user services ([`apply_sync`]), so a
//! synchronised change is checked, written and audited exactly as one made by hand, and the
//! user's [`UserOrigin`] (its entry's DN, since when the entry has been missing) is written in
//! the same transaction as its attributes.

use certgate_pki::UnixTime;

use super::{SyncChange, SyncPlan};
use crate::directory::{
    add_user_with_origin, remove_user, set_user_with_origin, DirectoryError, User, UserId,
    UserOrigin, UserStore,
};

/// Where a user stands with the directory source after a change (what its stored
/// [`UserOrigin`] now says), for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceLink {
    /// Its entry is in the directory.
    Present,
    /// Its entry has been gone since this time; the user is disabled.
    MissingSince(UnixTime),
    /// The user was removed.
    Removed,
}

/// A change that was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedChange {
    /// The change.
    pub change: SyncChange,
    /// The user it wrote (a new user's object ID for an addition).
    pub user_id: UserId,
    /// The user's standing with the source now.
    pub link: SourceLink,
}

/// A change the user services refused (another writer took a value since the plan, the user
/// was removed by hand, the store failed); the others were still written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedChange {
    /// The change.
    pub change: SyncChange,
    /// Why it was refused; its code is the user service's.
    pub error: DirectoryError,
}

/// What [`apply_sync`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    /// The changes written, in the plan's order.
    pub applied: Vec<AppliedChange>,
    /// The changes refused.
    pub failed: Vec<FailedChange>,
}

/// Writes each change of `plan` in its order through the user services (those of
/// [`add_user`](crate::directory::add_user), [`set_user`](crate::directory::set_user) and
/// [`remove_user`] with the user's origin), as `actor` at `now`: each is its own transaction
/// with its audit event, and one refused change does not stop the others.
pub async fn apply_sync<S: UserStore>(
    store: &S,
    plan: &SyncPlan,
    now: UnixTime,
    actor: &str,
) -> SyncOutcome {
    apply_sync_reporting(store, plan, now, actor, &mut |_, _| {}).await
}

/// [`apply_sync`], telling `progress` how many changes were written (done, total) after each.
pub(crate) async fn apply_sync_reporting<S: UserStore>(
    store: &S,
    plan: &SyncPlan,
    now: UnixTime,
    actor: &str,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> SyncOutcome {
    let mut outcome = SyncOutcome::default();
    let total = plan.changes.len();
    for (done, change) in plan.changes.iter().enumerate() {
        progress(done, total);
        let written = match change {
            SyncChange::Add {
                dn,
                draft,
                directory_groups,
            } => add_user_with_origin(
                store,
                draft.clone(),
                UserOrigin::present_in_directory(dn.as_str(), directory_groups.clone()),
                now,
                actor,
            )
            .await
            .map(|user| (user.id, SourceLink::Present)),
            SyncChange::Update {
                dn,
                user_id,
                draft,
                directory_groups,
                ..
            } => {
                let draft = draft.clone();
                set_user_with_origin(
                    store,
                    user_id.as_str(),
                    |_| draft,
                    |_| UserOrigin::present_in_directory(dn.as_str(), directory_groups.clone()),
                    now,
                    actor,
                )
                .await
                .map(|user| (user.id, SourceLink::Present))
            }
            SyncChange::Disable {
                user_id,
                missing_since,
                ..
            } => set_user_with_origin(
                store,
                user_id.as_str(),
                |mut draft| {
                    draft.enabled = false;
                    draft
                },
                |current| missing_from_directory(current, *missing_since),
                now,
                actor,
            )
            .await
            .map(|user| (user.id, SourceLink::MissingSince(*missing_since))),
            SyncChange::Remove { user_id, .. } => remove_user(store, user_id.as_str(), now, actor)
                .await
                .map(|user| (user.id, SourceLink::Removed)),
        };
        match written {
            Ok((user_id, link)) => outcome.applied.push(AppliedChange {
                change: change.clone(),
                user_id,
                link,
            }),
            Err(error) => outcome.failed.push(FailedChange {
                change: change.clone(),
                error,
            }),
        }
    }
    outcome
}

/// A disabled user's origin: its entry's last DN, missing since `since`.
fn missing_from_directory(current: &User, since: UnixTime) -> UserOrigin {
    let dn = match &current.origin {
        UserOrigin::Directory { dn, .. } => dn.clone(),
        // The plan disables only synchronised users; a user made local by hand since the plan
        // keeps no DN worth showing.
        UserOrigin::Local => String::new(),
    };
    UserOrigin::Directory {
        dn,
        missing_since: Some(since),
        // Kept while the user is disabled: a returning entry's update compares against them.
        groups: current.origin.directory_groups().to_vec(),
    }
}
