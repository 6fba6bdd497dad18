//! Incremental syncs: what changed in Active Directory since the last run, read without
//! reading the whole directory ([`read_changes`]), and when a run must read it all anyway
//! ([`choose_scope`]).
//!
//! # Why `uSNChanged` and not DirSync
//!
//! Microsoft documents two ways to poll Active Directory for changes. certgate uses the
//! first, "Polling for Changes Using the USNChanged Attribute": every object's `uSNChanged` is
//! the domain controller's update sequence number of its last change, so a search for
//! `(uSNChanged>=N+1)` returns every live object changed since a run that read the DC's
//! `highestCommittedUSN` as `N`. It needs nothing but read access, which the sync's bind
//! account already has. The DirSync control (1.2.840.113556.1.4.841) was not chosen: it needs
//! the "Replicating Directory Changes" right for the bind account (a right that also lets the
//! account read every object's attributes, a lot to grant a sign-in server), and it returns
//! only the attributes that changed, so certgate would have to merge partial entries into
//! stored users instead of mapping whole entries the way a full sync does.
//!
//! A USN is local to one DC and to one copy of its database: the mark is kept with the DC's
//! `dsServiceName` and its `invocationId` ([`ChangeMark`]); another DC (a failover) or another
//! invocation ID (the DC was restored from a backup) runs a full sync ([`FullSyncReason`]).
//!
//! # What a `uSNChanged` search cannot see, and how it is found anyway
//!
//! - **Entries that are gone** (deleted, moved out of the base DN, no longer matched by the
//!   filter) are not live objects under the base any more, so no search for changes returns
//!   them. Reading them from the Deleted Objects container (with the Show Deleted control,
//!   1.2.840.113556.1.4.417) needs rights the bind account normally lacks and still misses
//!   moves and filter changes. Instead every incremental run lists the immutable IDs (only
//!   the attributes they come from) of every entry in scope, one cheap paged search; a
//!   synchronised user whose ID is not listed is gone, and the same rule as in a full sync
//!   (disabled at once, removed after the grace period) applies through [`plan_sync`].
//! - **Group memberships**: adding an account to a group changes the group's `uSNChanged`,
//!   not the account's. The groups (name and `uSNChanged` only) are listed too; for each group
//!   changed since the mark, its members (nested included, by
//!   `memberOf:1.2.840.113556.1.4.1941:=`) are read again, and so are the users whose stored
//!   groups name a changed group (they may have left it) or a group that no longer exists
//!   (deleted, renamed or moved away). Each of them gets its memberships looked up as in a full
//!   sync.
//! - **Entries in scope that certgate has not synchronised** (skipped before, or newly in
//!   scope because the filter was widened) and users marked missing whose entry is listed again
//!   are read again by DN, so they are reported or brought back as a full sync would.
//!
//! Everything else is taken from the store as the last run left it, so the plan is made the
//! way a full sync's is: [`plan_sync`] against every synchronised user.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use certgate_pki::UnixTime;

use super::mapping::{immutable_id, single_text};
use super::membership::read_memberships_reporting;
use super::{
    map_entries, AttributeMap, DirectoryEntry, DirectorySource, GroupMembershipRule, MappedEntries,
    MappedEntry, Profile, SourceError, SyncProgress,
};
use crate::directory::{User, UserDraft, UserOrigin};
use crate::store::StoreResult;

/// What an applied sync leaves for the next one to start from: the DC it read, that DC's
/// database copy, and the highest update sequence number it had committed before the run's
/// searches began (so that everything changed later has a higher `uSNChanged`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeMark {
    /// The DC's `dsServiceName` (the DN of its NTDS Settings object).
    pub server: String,
    /// The DC's `invocationId` (hex): a restore from backup gives it a new one.
    pub invocation_id: String,
    /// The DC's `highestCommittedUSN` read before the run's searches.
    pub highest_committed_usn: u64,
    /// [`settings_fingerprint`] of the attribute map the run used: a changed mapping must be
    /// applied to every user, so it needs a full run.
    pub settings_fingerprint: String,
    /// When the last full run (from which the incremental ones since then descend) started.
    pub full_sync_started_at: UnixTime,
}

/// Where the sync's [`ChangeMark`] is kept.
pub trait ChangeMarkStore: Send + Sync {
    /// The mark of the last applied run that may be continued from, if any.
    fn change_mark(&self) -> impl Future<Output = StoreResult<Option<ChangeMark>>> + Send;
    /// Replaces the mark (after a run's changes were all applied).
    fn save_change_mark(&self, mark: &ChangeMark) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Where the directory stands now, as far as change tracking goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeTracking {
    /// The DC and its position.
    Available(ChangePosition),
    /// The directory cannot say what changed (not Active Directory, or its rootDSE lacks the
    /// attributes): every run is a full one.
    Unavailable {
        /// Why, for the report.
        why: String,
    },
}

/// A DC's position in its own history of changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangePosition {
    /// `dsServiceName` from the rootDSE.
    pub server: String,
    /// `invocationId` of the NTDS Settings object `server` names, in hex.
    pub invocation_id: String,
    /// `highestCommittedUSN` from the rootDSE.
    pub highest_committed_usn: u64,
}

/// Which entries a [`DirectorySource::read_selected`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntrySelection<'a> {
    /// Every entry the base DN and the filter select (for the listing of immutable IDs).
    All,
    /// Those changed since a mark: `uSNChanged` at least this.
    ChangedSince(u64),
    /// Those that are members of this group, directly or through nested groups.
    MembersOfGroup(&'a str),
    /// Those with these DNs (as the directory sent them) that are still selected.
    Dns(&'a [String]),
    /// Every group under the group base DN (not the users' filter).
    AllGroups,
}

/// What a run was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncRequest {
    /// Read the whole directory (`certgate directory sync --full`).
    Full,
    /// Read what changed since the last run's mark when it can be trusted; a full run when it
    /// cannot, or when the last full run started `full_sync_every` ago or more.
    Incremental {
        /// How often a full run repairs anything an incremental one could have missed.
        full_sync_every: Duration,
    },
}

/// Whether a run read the whole directory or only what changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncScope {
    /// Every entry was read.
    Full,
    /// Only the entries changed (or affected by a group change) since the mark, and the list
    /// of immutable IDs in scope.
    Incremental,
}

impl SyncScope {
    /// `full` or `incremental`, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncScope::Full => "full",
            SyncScope::Incremental => "incremental",
        }
    }
}

/// Why a run that could have been incremental read everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FullSyncReason {
    /// A full run was asked for.
    Requested,
    /// No run has left a mark yet (the first sync, or the last ones had refused changes).
    NoMark,
    /// The directory cannot tell what changed.
    NoChangeTracking {
        /// Why.
        why: String,
    },
    /// The mark is another DC's (a failover): USNs are per DC.
    ServerChanged {
        /// The mark's DC.
        marked: String,
        /// The DC read now.
        now: String,
    },
    /// The DC's database is another copy (a restore from backup: a new invocation ID, or a
    /// highest USN below the mark).
    ServerRestored,
    /// The attribute map changed since the mark: every user is mapped again.
    SettingsChanged,
    /// The last full run is `full_sync_every` old.
    FullSyncDue,
}

impl FullSyncReason {
    /// A stable word for `--json` and the logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            FullSyncReason::Requested => "requested",
            FullSyncReason::NoMark => "no-mark",
            FullSyncReason::NoChangeTracking { .. } => "no-change-tracking",
            FullSyncReason::ServerChanged { .. } => "server-changed",
            FullSyncReason::ServerRestored => "server-restored",
            FullSyncReason::SettingsChanged => "settings-changed",
            FullSyncReason::FullSyncDue => "full-sync-due",
        }
    }
}

impl std::fmt::Display for FullSyncReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FullSyncReason::Requested => f.write_str("a full sync was requested"),
            FullSyncReason::NoMark => {
                f.write_str("no earlier run left a mark to continue from")
            }
            FullSyncReason::NoChangeTracking { why } => {
                write!(f, "the directory cannot tell what changed: {why}")
            }
            FullSyncReason::ServerChanged { marked, now } => write!(
                f,
                "the last run read {marked}, this one reads {now} (update sequence numbers are per domain controller)"
            ),
            FullSyncReason::ServerRestored => f.write_str(
                "the domain controller's database is another copy than at the last run (restored from a backup)",
            ),
            FullSyncReason::SettingsChanged => {
                f.write_str("the attribute mapping changed since the last run")
            }
            FullSyncReason::FullSyncDue => {
                f.write_str("the last full sync is older than the full sync interval")
            }
        }
    }
}

/// A digest of the attribute map (the group settings included): a mark made under another
/// mapping does not say which users need mapping again.
/// The per-run lookup cap is left out: it decides whether a run completes, never what a
/// completed run maps.
pub fn settings_fingerprint(attributes: &AttributeMap) -> String {
    let mut mapping = attributes.clone();
    if let Some(groups) = mapping.groups.as_mut() {
        groups.max_lookups_per_run = 0;
    }
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{mapping:?}").as_bytes(),
    );
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether the directory, as configured, can be read incrementally at all: Active Directory
/// with the in-chain group rule. Other directories have no `uSNChanged` (OpenLDAP's
/// `modifyTimestamp` has a one-second resolution and no per-server sequence, and its
/// `contextCSN` needs the syncprov overlay), so they are always read in full.
pub fn change_tracking_supported(attributes: &AttributeMap) -> Result<(), String> {
    if attributes.profile != Profile::ActiveDirectory {
        return Err(
            "the generic LDAP profile has no uSNChanged; every sync reads the whole directory"
                .into(),
        );
    }
    match &attributes.groups {
        Some(groups) if groups.rule != GroupMembershipRule::InChain => Err(
            "group memberships are read with a member attribute, not Active Directory's in-chain rule".into(),
        ),
        _ => Ok(()),
    }
}

/// Whether this run may be incremental, and from which USN; otherwise why not.
pub fn choose_scope(
    request: SyncRequest,
    mark: Option<&ChangeMark>,
    tracking: &ChangeTracking,
    fingerprint: &str,
    now: UnixTime,
) -> Result<u64, FullSyncReason> {
    let full_sync_every = match request {
        SyncRequest::Full => return Err(FullSyncReason::Requested),
        SyncRequest::Incremental { full_sync_every } => full_sync_every,
    };
    let position = match tracking {
        ChangeTracking::Available(position) => position,
        ChangeTracking::Unavailable { why } => {
            return Err(FullSyncReason::NoChangeTracking { why: why.clone() })
        }
    };
    let mark = mark.ok_or(FullSyncReason::NoMark)?;
    if !mark.server.eq_ignore_ascii_case(&position.server) {
        return Err(FullSyncReason::ServerChanged {
            marked: mark.server.clone(),
            now: position.server.clone(),
        });
    }
    // A USN below the mark: the DC went back in time without saying so.
    if !mark
        .invocation_id
        .eq_ignore_ascii_case(&position.invocation_id)
        || position.highest_committed_usn < mark.highest_committed_usn
    {
        return Err(FullSyncReason::ServerRestored);
    }
    if mark.settings_fingerprint != fingerprint {
        return Err(FullSyncReason::SettingsChanged);
    }
    let every = i64::try_from(full_sync_every.as_secs()).unwrap_or(i64::MAX);
    let since_full = now.0.saturating_sub(mark.full_sync_started_at.0);
    // A full run stamped in the future by a wrong clock must not postpone every full run.
    if since_full >= every || since_full < 0 {
        return Err(FullSyncReason::FullSyncDue);
    }
    Ok(mark.highest_committed_usn)
}

/// What an incremental read found.
#[derive(Debug)]
pub(crate) struct ChangesRead {
    /// The entries read in full and mapped (changed, affected by a group change, or re-read
    /// by DN), with the unchanged users as the store has them.
    pub(crate) mapped: MappedEntries,
    /// Entries read in full.
    pub(crate) entries_read: usize,
    /// Entries listed by immutable ID only.
    pub(crate) entries_listed: usize,
}

/// How many DNs one re-read asks for (`(|(distinguishedName=...)...)`): a filter short
/// enough for any server's request size limit.
const DNS_PER_SEARCH: usize = 100;

/// Reads what changed since `since_usn` and completes it with the store's unchanged users.
/// Any failed read fails the whole run (nothing is applied and the mark stays).
pub(crate) async fn read_changes<D: DirectorySource>(
    source: &D,
    known: &[User],
    attributes: &AttributeMap,
    since_usn: u64,
    progress: &mut (dyn FnMut(SyncProgress) + Send),
) -> Result<ChangesRead, SourceError> {
    let requested = attributes.requested_attributes();
    let listing = source
        .read_selected(&EntrySelection::All, &attributes.immutable_id_attributes())
        .await?;
    let entries_listed = listing.len();
    // Where each listed immutable ID is; an entry whose ID cannot be read is re-read so that
    // it is reported as a full sync would report it.
    let mut present: HashMap<String, &str> = HashMap::new();
    // Entries read again whatever their user's state: an ID that cannot be read, and every
    // entry of an ID listed more than once (an ms-DS-ConsistencyGuid copied to another
    // account), so that the plan sees the collision a full sync would see instead of letting
    // the changed one of them take over the user.
    let mut again: Vec<String> = Vec::new();
    for entry in &listing {
        match immutable_id(entry, &attributes.immutable_id) {
            Ok(id) => {
                if let Some(first) = present.insert(id, entry.dn()) {
                    again.push(first.to_owned());
                    again.push(entry.dn().to_owned());
                }
            }
            Err(_) => again.push(entry.dn().to_owned()),
        }
    }

    let next = since_usn.saturating_add(1);
    let mut read: Vec<DirectoryEntry> = source
        .read_selected(&EntrySelection::ChangedSince(next), &requested)
        .await?;

    // Groups: those changed since the mark bring their members; the names that changed or
    // vanished bring the users that had them.
    let mut affected_group_names: HashSet<String> = HashSet::new();
    if let Some(groups) = &attributes.groups {
        let name_attribute = groups.name_attribute.clone();
        let group_list = source
            .read_selected(
                &EntrySelection::AllGroups,
                &[name_attribute.clone(), "uSNChanged".to_owned()],
            )
            .await?;
        let mut current_names: HashSet<String> = HashSet::new();
        let mut lookups = 0usize;
        for group in &group_list {
            let name = single_text(group, &name_attribute)
                .ok()
                .flatten()
                .map(|name| name.trim().to_owned());
            if let Some(name) = &name {
                current_names.insert(name.clone());
            }
            // An unreadable uSNChanged counts as changed: re-reading costs less than missing it.
            let changed = single_text(group, "uSNChanged")
                .ok()
                .flatten()
                .and_then(|usn| usn.trim().parse::<u64>().ok())
                .is_none_or(|usn| usn >= next);
            if !changed {
                continue;
            }
            if let Some(name) = name {
                affected_group_names.insert(name);
            }
            if lookups >= groups.max_lookups_per_run {
                return Err(SourceError::GroupLookupLimit {
                    limit: groups.max_lookups_per_run,
                });
            }
            lookups += 1;
            read.extend(
                source
                    .read_selected(&EntrySelection::MembersOfGroup(group.dn()), &requested)
                    .await?,
            );
        }
        for user in known {
            for name in user.origin.directory_groups() {
                if !current_names.contains(name) {
                    affected_group_names.insert(name.clone());
                }
            }
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    read.retain(|entry| seen.insert(entry.dn().to_ascii_lowercase()));

    // Re-read by DN: listed entries whose user is not simply present and unchanged.
    let synced: HashMap<&str, &User> = known
        .iter()
        .filter(|user| matches!(user.origin, UserOrigin::Directory { .. }))
        .map(|user| (user.immutable_id.as_str(), user))
        .collect();
    for (id, dn) in &present {
        let needs_reading = match synced.get(id.as_str()) {
            None => true,
            Some(user) => match &user.origin {
                UserOrigin::Directory {
                    missing_since: Some(_),
                    ..
                } => true,
                UserOrigin::Directory { groups, .. } => groups
                    .iter()
                    .any(|name| affected_group_names.contains(name)),
                UserOrigin::Local => true,
            },
        };
        if needs_reading {
            again.push((*dn).to_owned());
        }
    }
    again.retain(|dn| !seen.contains(&dn.to_ascii_lowercase()));
    again.sort();
    again.dedup();
    for chunk in again.chunks(DNS_PER_SEARCH) {
        for entry in source
            .read_selected(&EntrySelection::Dns(chunk), &requested)
            .await?
        {
            if seen.insert(entry.dn().to_ascii_lowercase()) {
                read.push(entry);
            }
        }
    }
    let entries_read = read.len();
    progress(SyncProgress::EntriesRead {
        entries: entries_read,
    });

    let mapped = map_entries(&read, attributes);
    let mut mapped = match &attributes.groups {
        Some(groups) => {
            read_memberships_reporting(source, &read, mapped, groups, &mut |done, total| {
                progress(SyncProgress::ReadingGroups { done, total })
            })
            .await?
        }
        None => mapped,
    };

    // The users whose entry is listed and was not read: as the store has them (no change).
    // One marked missing is left out: its entry was listed but not found by DN (it went away
    // between the two searches), so it stays missing.
    let read_ids: HashSet<String> = mapped
        .entries
        .iter()
        .map(|entry| entry.immutable_id.clone())
        .chain(
            mapped
                .problems
                .iter()
                .filter_map(|problem| problem.immutable_id.clone()),
        )
        .collect();
    for user in known {
        let UserOrigin::Directory {
            dn,
            missing_since: None,
            groups,
        } = &user.origin
        else {
            continue;
        };
        if present.contains_key(&user.immutable_id) && !read_ids.contains(&user.immutable_id) {
            mapped.entries.push(unchanged_entry(user, dn, groups));
        }
    }
    Ok(ChangesRead {
        mapped,
        entries_read,
        entries_listed,
    })
}

/// A stored synchronised user as the entry it was last mapped from: planned against itself,
/// it changes nothing, yet it holds its values and keeps its user present.
fn unchanged_entry(user: &User, dn: &str, groups: &[String]) -> MappedEntry {
    MappedEntry {
        dn: dn.to_owned(),
        immutable_id: user.immutable_id.clone(),
        draft: UserDraft {
            upn: user.upn.to_string(),
            immutable_id: Some(user.immutable_id.clone()),
            display_name: Some(user.display_name.clone()),
            mail: user.mail.clone(),
            proxy_addresses: user.proxy_addresses.clone(),
            certificate_user_ids: user.certificate_user_ids.clone(),
            enabled: user.enabled,
            groups: Vec::new(),
        },
        directory_groups: groups.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark() -> ChangeMark {
        ChangeMark {
            server: "CN=NTDS Settings,CN=DC1,CN=Servers".into(),
            invocation_id: "00aa".into(),
            highest_committed_usn: 5000,
            settings_fingerprint: "f1".into(),
            full_sync_started_at: UnixTime(1_000_000),
        }
    }

    fn at(server: &str, invocation_id: &str, usn: u64) -> ChangeTracking {
        ChangeTracking::Available(ChangePosition {
            server: server.into(),
            invocation_id: invocation_id.into(),
            highest_committed_usn: usn,
        })
    }

    /// (request, stored mark, the DC now, fingerprint now, time, incremental from or why not)
    type Case = (
        SyncRequest,
        Option<ChangeMark>,
        ChangeTracking,
        &'static str,
        UnixTime,
        Result<u64, &'static str>,
    );

    #[test]
    fn a_run_is_incremental_only_from_a_mark_of_the_same_dc_copy_and_mapping() {
        let day = Duration::from_secs(86_400);
        let incremental = SyncRequest::Incremental {
            full_sync_every: day,
        };
        let dc1 = "CN=NTDS Settings,CN=DC1,CN=Servers";
        let now = UnixTime(1_000_000 + 3600);
        let table: Vec<Case> = vec![
            (
                incremental,
                Some(mark()),
                at(dc1, "00aa", 5100),
                "f1",
                now,
                Ok(5000),
            ),
            // The DN compares case-insensitively, as AD does.
            (
                incremental,
                Some(mark()),
                at(&dc1.to_uppercase(), "00AA", 5000),
                "f1",
                now,
                Ok(5000),
            ),
            (
                SyncRequest::Full,
                Some(mark()),
                at(dc1, "00aa", 5100),
                "f1",
                now,
                Err("requested"),
            ),
            (
                incremental,
                None,
                at(dc1, "00aa", 5100),
                "f1",
                now,
                Err("no-mark"),
            ),
            (
                incremental,
                Some(mark()),
                ChangeTracking::Unavailable {
                    why: "generic".into(),
                },
                "f1",
                now,
                Err("no-change-tracking"),
            ),
            (
                incremental,
                Some(mark()),
                at("CN=NTDS Settings,CN=DC2,CN=Servers", "00aa", 5100),
                "f1",
                now,
                Err("server-changed"),
            ),
            (
                incremental,
                Some(mark()),
                at(dc1, "00bb", 5100),
                "f1",
                now,
                Err("server-restored"),
            ),
            (
                incremental,
                Some(mark()),
                at(dc1, "00aa", 4999),
                "f1",
                now,
                Err("server-restored"),
            ),
            (
                incremental,
                Some(mark()),
                at(dc1, "00aa", 5100),
                "f2",
                now,
                Err("settings-changed"),
            ),
            (
                incremental,
                Some(mark()),
                at(dc1, "00aa", 5100),
                "f1",
                UnixTime(1_000_000 + 86_399),
                Ok(5000),
            ),
            (
                incremental,
                Some(mark()),
                at(dc1, "00aa", 5100),
                "f1",
                UnixTime(1_000_000 + 86_400),
                Err("full-sync-due"),
            ),
            // A last full run stamped in the future does not put the next one off.
            (
                incremental,
                Some(mark()),
                at(dc1, "00aa", 5100),
                "f1",
                UnixTime(999_000),
                Err("full-sync-due"),
            ),
        ];
        for (request, mark, tracking, fingerprint, now, expected) in table {
            let chosen = choose_scope(request, mark.as_ref(), &tracking, fingerprint, now)
                .map_err(|reason| reason.as_str());
            assert_eq!(
                chosen, expected,
                "{request:?} {mark:?} {tracking:?} {fingerprint} {now:?}"
            );
        }
    }

    #[test]
    fn the_generic_profile_and_member_attribute_groups_have_no_change_tracking() {
        assert!(change_tracking_supported(&AttributeMap::active_directory()).is_ok());
        assert!(change_tracking_supported(&AttributeMap::generic_ldap()).is_err());
        let mut groups_by_member = AttributeMap::active_directory();
        groups_by_member.groups = AttributeMap::generic_ldap().groups;
        assert!(change_tracking_supported(&groups_by_member).is_err());
        let mut no_groups = AttributeMap::active_directory();
        no_groups.groups = None;
        assert!(change_tracking_supported(&no_groups).is_ok());
    }

    #[test]
    fn the_fingerprint_follows_the_attribute_map() {
        let map = AttributeMap::active_directory();
        assert_eq!(
            settings_fingerprint(&map),
            settings_fingerprint(&map.clone())
        );
        let mut other = map.clone();
        other.mail = None;
        assert_ne!(settings_fingerprint(&map), settings_fingerprint(&other));
        assert_eq!(settings_fingerprint(&map).len(), 64);
        let mut capped = map.clone();
        if let Some(groups) = capped.groups.as_mut() {
            groups.max_lookups_per_run = 1;
        }
        assert_eq!(settings_fingerprint(&map), settings_fingerprint(&capped));
    }
}
