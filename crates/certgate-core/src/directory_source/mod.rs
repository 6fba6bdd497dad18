//! The directory source: Active Directory or another LDAP directory as where certgate's users
//! come from.
//!
//! A sync reads every entry the source selects ([`DirectorySource`], implemented over LDAP by
//! certgate-ldap), maps each to the user it describes ([`map_entries`] under an
//! [`AttributeMap`]), and compares them with the users certgate has ([`plan_sync`]) to get
//! the changes ([`SyncPlan`]), which [`apply_sync`] writes through the user services. No
//! I/O and no clock here: the LDAP client is behind the port, the store behind its ports,
//! and the time is passed in.
//!
//! - `entry`: [`DirectoryEntry`], an entry as the server sent it (values as bytes).
//! - `attribute_map`: [`AttributeMap`] with the Active Directory and generic LDAP profiles.
//! - `immutable_id`: the ImmutableID as Entra Connect derives it from a GUID.
//! - `certificate_mapping`: altSecurityIdentities `X509:` mappings as certificateUserIds.
//! - `mapping`: [`map_entry`], with the caps on untrusted values.
//! - `membership`: [`read_memberships`], the groups of each user (nested included).
//! - `diff`: [`plan_sync`].
//! - `apply`: [`apply_sync`], the plan written through the audited user services.
//! - `changes`: incremental runs over Active Directory's `uSNChanged` ([`choose_scope`],
//!   [`ChangeMark`]): why that and not DirSync, and how deletions and group changes are found.
//! - `sync`: [`synchronize`], one run from the read to the record of how it went
//!   ([`SyncRunStore`]).
//! - `error`: [`EntryError`] (one entry skipped) and [`SourceError`] (the read failed).

mod apply;
mod attribute_map;
mod certificate_mapping;
mod changes;
mod diff;
mod entry;
mod error;
mod immutable_id;
mod mapping;
mod membership;
mod sync;

pub use crate::directory::UserOrigin;
pub use apply::{apply_sync, AppliedChange, FailedChange, SourceLink, SyncOutcome};
pub use attribute_map::{AccountStateSource, AttributeMap, ImmutableIdSource, Profile, UpnSource};
pub use certificate_mapping::certificate_user_id_from_mapping;
pub use changes::{
    change_tracking_supported, choose_scope, settings_fingerprint, ChangeMark, ChangeMarkStore,
    ChangePosition, ChangeTracking, EntrySelection, FullSyncReason, SyncRequest, SyncScope,
};
pub use diff::{plan_sync, SourcedField, SyncChange, SyncPlan};
pub use entry::DirectoryEntry;
pub use error::{EntryError, SourceError};
pub use immutable_id::{guid_text, immutable_id_from_guid};
pub use mapping::{
    map_entries, map_entry, EntryProblem, MappedEntries, MappedEntry,
    MAX_CERTIFICATE_MAPPING_VALUES, MAX_PROXY_ADDRESS_VALUES, MAX_TEXT_VALUE_BYTES,
};
pub use membership::{read_memberships, GroupMembership, GroupMembershipRule, GroupQuery};
pub use sync::{
    next_sync_delay, retry_delay, sync_due, synchronize, synchronize_with, FailureStreak,
    SyncCounts, SyncError, SyncLock, SyncMode, SyncProgress, SyncReport, SyncRun, SyncRunResult,
    SyncRunStore, SyncSettings, SyncStatus, FIRST_RETRY_DELAY,
};

use std::future::Future;

/// Reads the directory: every entry the configured base DN and filter select, all of them or
/// an error (a sync never works from part of the directory, or it would disable the users it
/// did not see).
pub trait DirectorySource: Send + Sync {
    /// Every selected entry with (at least) `attributes`, in the server's order.
    fn read_entries(
        &self,
        attributes: &[String],
    ) -> impl Future<Output = Result<Vec<DirectoryEntry>, SourceError>> + Send;

    /// The groups `query.member_dn` is a member of under `query.rule` (for
    /// [`GroupMembershipRule::InChain`], nested ones too), each with `query.name_attribute`;
    /// the source may stop after `query.at_most` of them. All of them or an error.
    fn read_groups(
        &self,
        query: &GroupQuery<'_>,
    ) -> impl Future<Output = Result<Vec<DirectoryEntry>, SourceError>> + Send;

    /// Where the directory stands in its history of changes, read before any search of an
    /// incremental or full run ([`ChangeTracking::Unavailable`] for a directory that cannot
    /// tell what changed: every run is then a full one). The default: unavailable.
    fn change_position(&self) -> impl Future<Output = Result<ChangeTracking, SourceError>> + Send {
        async {
            Ok(ChangeTracking::Unavailable {
                why: "this directory source does not track changes".into(),
            })
        }
    }

    /// The entries `selection` names, with (at least) `attributes`; all of them or an error.
    /// Only called after [`DirectorySource::change_position`] answered
    /// [`ChangeTracking::Available`]; the default refuses.
    fn read_selected(
        &self,
        selection: &EntrySelection<'_>,
        attributes: &[String],
    ) -> impl Future<Output = Result<Vec<DirectoryEntry>, SourceError>> + Send {
        let _ = (selection, attributes);
        async {
            Err(SourceError::ProtocolViolation {
                detail: "this directory source cannot read selected entries".into(),
            })
        }
    }

    /// The run's reads are over: a source that kept a connection for them closes it, rather
    /// than leave a bound session open until the next sync.
    fn end_read(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}
