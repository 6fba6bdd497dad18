//! What a sync would change: the users certgate has against the entries the directory
//! mapped to ([`plan_sync`]). Pure: the caller passes the time and the grace period, and
//! applies the plan.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use certgate_pki::UnixTime;

use super::{EntryError, EntryProblem, MappedEntries, MappedEntry};
use crate::directory::{fold_case, User, UserDraft, UserId, UserOrigin};

/// A user attribute that comes from the directory (Microsoft Graph's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourcedField {
    /// userPrincipalName.
    UserPrincipalName,
    /// displayName.
    DisplayName,
    /// mail.
    Mail,
    /// proxyAddresses.
    ProxyAddresses,
    /// certificateUserIds (from altSecurityIdentities).
    CertificateUserIds,
    /// accountEnabled.
    AccountEnabled,
    /// The groups the directory says the user is in (nested included), kept apart from the
    /// groups assigned in certgate.
    DirectoryGroups,
}

impl SourcedField {
    /// Graph's property name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourcedField::UserPrincipalName => "userPrincipalName",
            SourcedField::DisplayName => "displayName",
            SourcedField::Mail => "mail",
            SourcedField::ProxyAddresses => "proxyAddresses",
            SourcedField::CertificateUserIds => "certificateUserIds",
            SourcedField::AccountEnabled => "accountEnabled",
            SourcedField::DirectoryGroups => "directoryGroups",
        }
    }
}

impl fmt::Display for SourcedField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One change a sync makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncChange {
    /// A new entry: add its user.
    Add {
        /// The entry's DN.
        dn: String,
        /// The user to add.
        draft: UserDraft,
        /// Its groups in the directory.
        directory_groups: Vec<String>,
    },
    /// An entry whose user differs from it, came back after having gone missing, or moved
    /// (its DN changed; the user keeps the new DN as its origin).
    Update {
        /// The entry's DN.
        dn: String,
        /// The user's object ID.
        user_id: UserId,
        /// The user's UPN before the change, for reports.
        upn: String,
        /// The user's new attributes: the synchronised ones from the entry, the local ones
        /// (groups) as they were.
        draft: UserDraft,
        /// Its groups in the directory after the change.
        directory_groups: Vec<String>,
        /// Which synchronised attributes change.
        changed: Vec<SourcedField>,
        /// The entry had gone missing and is back: the user's missing mark is cleared.
        returned: bool,
    },
    /// The user's entry is gone from the directory: disabled at once (and its sessions with
    /// it), kept for the grace period in case the entry comes back.
    Disable {
        /// The user's object ID.
        user_id: UserId,
        /// The user's UPN.
        upn: String,
        /// When its entry was first found missing (now, for a newly missing entry).
        missing_since: UnixTime,
    },
    /// The user's entry has been gone for longer than the grace period: remove the user.
    Remove {
        /// The user's object ID.
        user_id: UserId,
        /// The user's UPN.
        upn: String,
        /// When its entry was first found missing.
        missing_since: UnixTime,
    },
}

/// What a sync would do: the changes, in the order to apply them (removals first, so the
/// values they free can be taken by the additions), and the entries skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// The changes.
    pub changes: Vec<SyncChange>,
    /// The entries skipped, with why; their users (when the entry's immutable ID could be
    /// read) are left as they are.
    pub problems: Vec<EntryProblem>,
}

/// Compares the users certgate has (`known`, local ones included: their values count for
/// uniqueness) with the entries the directory mapped to, and plans the changes.
///
/// Entries and users are matched by immutable ID, the anchor that survives renames. An entry
/// is skipped (reported with its DN, its user left as it is) when it could not be mapped,
/// shares its immutable ID or UPN with another entry, or would take a UPN, immutable ID, proxy
/// address or certificateUserIds value that another user holds after the sync. A synchronised
/// user whose entry is gone is disabled at once and removed once `now` is `removal_grace`
/// past the time it was first found missing.
pub fn plan_sync(
    known: &[User],
    mapped: MappedEntries,
    now: UnixTime,
    removal_grace: Duration,
) -> SyncPlan {
    let MappedEntries {
        entries,
        mut problems,
    } = mapped;

    let synced_by_id: HashMap<&str, &User> = known
        .iter()
        .filter(|known| matches!(known.origin, UserOrigin::Directory { .. }))
        .map(|known| (known.immutable_id.as_str(), known))
        .collect();
    // Every entry the directory still has, mapped or not, keeps its user from being treated
    // as gone.
    let present: HashSet<String> = entries
        .iter()
        .map(|entry| entry.immutable_id.clone())
        .chain(
            problems
                .iter()
                .filter_map(|problem| problem.immutable_id.clone()),
        )
        .collect();

    let mut accepted = vec![true; entries.len()];
    let mut rejected: Vec<(usize, EntryError)> = Vec::new();
    let mut first_with_id: HashMap<&str, usize> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        if let Some(&first) = first_with_id.get(entry.immutable_id.as_str()) {
            for (this, other) in [(index, first), (first, index)] {
                if accepted[this] {
                    accepted[this] = false;
                    rejected.push((
                        this,
                        EntryError::ImmutableIdCollision {
                            immutable_id: entries[this].immutable_id.clone(),
                            other_dn: entries[other].dn.clone(),
                        },
                    ));
                }
            }
        } else {
            first_with_id.insert(&entry.immutable_id, index);
        }
    }

    let removed: HashSet<&UserId> = known
        .iter()
        .filter(|known| !present.contains(known.immutable_id.as_str()))
        .filter_map(|known| match known.origin {
            UserOrigin::Directory {
                missing_since: Some(since),
                ..
            } if grace_over(since, now, removal_grace) => Some(&known.id),
            _ => None,
        })
        .collect();

    // Rejecting an entry puts its user's old values back, which can collide with another
    // entry's new ones (two accounts swapping a UPN, one of them bad): repeat until stable.
    loop {
        let newly_rejected = collisions(known, &entries, &accepted, &synced_by_id, &removed);
        if newly_rejected.is_empty() {
            break;
        }
        for (index, error) in newly_rejected {
            accepted[index] = false;
            rejected.push((index, error));
        }
    }
    rejected.sort_by_key(|(index, _)| *index);
    problems.extend(rejected.into_iter().map(|(index, error)| EntryProblem {
        dn: entries[index].dn.clone(),
        immutable_id: Some(entries[index].immutable_id.clone()),
        error,
    }));

    let mut changes = Vec::new();
    for known in known {
        let UserOrigin::Directory { missing_since, .. } = known.origin else {
            continue;
        };
        if present.contains(known.immutable_id.as_str()) {
            continue;
        }
        let (user_id, upn) = (known.id.clone(), known.upn.to_string());
        match missing_since {
            Some(since) if removed.contains(&known.id) => changes.push(SyncChange::Remove {
                user_id,
                upn,
                missing_since: since,
            }),
            Some(since) if known.enabled => changes.push(SyncChange::Disable {
                user_id,
                upn,
                missing_since: since,
            }),
            Some(_) => {}
            None => changes.push(SyncChange::Disable {
                user_id,
                upn,
                missing_since: now,
            }),
        }
    }
    // Removals first, then disabling, so freed values are free before anything takes them.
    changes.sort_by_key(|change| !matches!(change, SyncChange::Remove { .. }));

    for (entry, _) in entries.iter().zip(&accepted).filter(|(_, ok)| **ok) {
        match synced_by_id.get(entry.immutable_id.as_str()) {
            None => changes.push(SyncChange::Add {
                dn: entry.dn.clone(),
                draft: entry.draft.clone(),
                directory_groups: entry.directory_groups.clone(),
            }),
            Some(known) => {
                let changed = changed_fields(known, entry);
                let (returned, moved) = match &known.origin {
                    UserOrigin::Directory {
                        dn, missing_since, ..
                    } => (missing_since.is_some(), *dn != entry.dn),
                    UserOrigin::Local => (false, false),
                };
                if !changed.is_empty() || returned || moved {
                    changes.push(SyncChange::Update {
                        dn: entry.dn.clone(),
                        user_id: known.id.clone(),
                        upn: known.upn.to_string(),
                        draft: updated_draft(known, &entry.draft),
                        directory_groups: entry.directory_groups.clone(),
                        changed,
                        returned,
                    });
                }
            }
        }
    }
    SyncPlan { changes, problems }
}

fn grace_over(since: UnixTime, now: UnixTime, grace: Duration) -> bool {
    let grace = i64::try_from(grace.as_secs()).unwrap_or(i64::MAX);
    since.0.saturating_add(grace) <= now.0
}

/// A unique value, as the store compares it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum UniqueValue {
    Upn(String),
    ImmutableId(String),
    ProxyAddress(String),
    CertificateUserId(String),
}

impl UniqueValue {
    fn attribute(&self) -> &'static str {
        match self {
            UniqueValue::Upn(_) => "userPrincipalName",
            UniqueValue::ImmutableId(_) => "onPremisesImmutableId",
            UniqueValue::ProxyAddress(_) => "proxyAddresses",
            UniqueValue::CertificateUserId(_) => "certificateUserIds",
        }
    }

    fn text(&self) -> &str {
        match self {
            UniqueValue::Upn(text)
            | UniqueValue::ImmutableId(text)
            | UniqueValue::ProxyAddress(text)
            | UniqueValue::CertificateUserId(text) => text,
        }
    }
}

fn unique_values(
    upn: &str,
    immutable_id: &str,
    proxy_addresses: &[String],
    certificate_user_ids: &[String],
) -> Vec<UniqueValue> {
    let mut values = vec![
        UniqueValue::Upn(fold_case(upn)),
        UniqueValue::ImmutableId(immutable_id.to_owned()),
    ];
    values.extend(
        proxy_addresses
            .iter()
            .map(|address| UniqueValue::ProxyAddress(fold_case(address))),
    );
    values.extend(
        certificate_user_ids
            .iter()
            .map(|value| UniqueValue::CertificateUserId(value.clone())),
    );
    values
}

fn user_values(user: &User) -> Vec<UniqueValue> {
    unique_values(
        user.upn.as_str(),
        &user.immutable_id,
        &user.proxy_addresses,
        &user.certificate_user_ids,
    )
}

fn entry_values(entry: &MappedEntry) -> Vec<UniqueValue> {
    unique_values(
        &entry.draft.upn,
        &entry.immutable_id,
        &entry.draft.proxy_addresses,
        &entry.draft.certificate_user_ids,
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holder {
    User(usize),
    Entry(usize),
}

/// The accepted entries that take a value another holder has after the sync, each with why.
/// An entry is only blamed for values its user does not already hold.
fn collisions(
    known: &[User],
    entries: &[MappedEntry],
    accepted: &[bool],
    synced_by_id: &HashMap<&str, &User>,
    removed: &HashSet<&UserId>,
) -> Vec<(usize, EntryError)> {
    let replaced: HashSet<&UserId> = entries
        .iter()
        .zip(accepted)
        .filter(|(_, ok)| **ok)
        .filter_map(|(entry, _)| synced_by_id.get(entry.immutable_id.as_str()))
        .map(|known| &known.id)
        .collect();
    let mut holders: BTreeMap<UniqueValue, Vec<Holder>> = BTreeMap::new();
    for (index, known) in known.iter().enumerate() {
        if replaced.contains(&known.id) || removed.contains(&known.id) {
            continue;
        }
        for value in user_values(known) {
            holders.entry(value).or_default().push(Holder::User(index));
        }
    }
    for (index, entry) in entries.iter().enumerate() {
        if !accepted[index] {
            continue;
        }
        let mut seen = HashSet::new();
        for value in entry_values(entry) {
            // An entry listing the same address twice is prepare_user's business, not a
            // collision with itself.
            if seen.insert(value.clone()) {
                holders.entry(value).or_default().push(Holder::Entry(index));
            }
        }
    }
    let mut blamed: BTreeMap<usize, EntryError> = BTreeMap::new();
    for (value, holders) in holders.iter().filter(|(_, holders)| holders.len() > 1) {
        for holder in holders {
            let Holder::Entry(index) = *holder else {
                continue;
            };
            let already_held = synced_by_id
                .get(entries[index].immutable_id.as_str())
                .is_some_and(|known| user_values(known).contains(value));
            if already_held || blamed.contains_key(&index) {
                continue;
            }
            let Some(other) = holders.iter().find(|other| *other != holder) else {
                continue;
            };
            let error = match (value, other) {
                (UniqueValue::Upn(_), Holder::Entry(other)) => EntryError::UpnCollision {
                    upn: entries[index].draft.upn.clone(),
                    other_dn: entries[*other].dn.clone(),
                },
                (_, Holder::Entry(other)) => EntryError::ValueTaken {
                    attribute: value.attribute(),
                    value: value.text().to_owned(),
                    holder: format!("the entry {}", entries[*other].dn),
                },
                (_, Holder::User(other)) => EntryError::ValueTaken {
                    attribute: value.attribute(),
                    value: value.text().to_owned(),
                    holder: format!("the user {}", known[*other].upn),
                },
            };
            blamed.insert(index, error);
        }
    }
    blamed.into_iter().collect()
}

fn changed_fields(user: &User, entry: &MappedEntry) -> Vec<SourcedField> {
    let draft = &entry.draft;
    // Multi-valued LDAP attributes are sets: their order may change between reads.
    let sorted = |values: &[String]| {
        let mut values = values.to_vec();
        values.sort();
        values
    };
    let mut changed = Vec::new();
    if user.upn.as_str() != draft.upn {
        changed.push(SourcedField::UserPrincipalName);
    }
    if Some(&user.display_name) != draft.display_name.as_ref() {
        changed.push(SourcedField::DisplayName);
    }
    if user.mail != draft.mail {
        changed.push(SourcedField::Mail);
    }
    if sorted(&user.proxy_addresses) != sorted(&draft.proxy_addresses) {
        changed.push(SourcedField::ProxyAddresses);
    }
    if sorted(&user.certificate_user_ids) != sorted(&draft.certificate_user_ids) {
        changed.push(SourcedField::CertificateUserIds);
    }
    if user.enabled != draft.enabled {
        changed.push(SourcedField::AccountEnabled);
    }
    if sorted(user.origin.directory_groups()) != sorted(&entry.directory_groups) {
        changed.push(SourcedField::DirectoryGroups);
    }
    changed
}

fn updated_draft(user: &User, entry: &UserDraft) -> UserDraft {
    UserDraft {
        upn: entry.upn.clone(),
        immutable_id: entry.immutable_id.clone(),
        display_name: entry.display_name.clone(),
        mail: entry.mail.clone(),
        proxy_addresses: entry.proxy_addresses.clone(),
        certificate_user_ids: entry.certificate_user_ids.clone(),
        enabled: entry.enabled,
        groups: user.groups.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::prepare_user;

    const NOW: UnixTime = UnixTime(10_000_000);
    const GRACE: Duration = Duration::from_secs(30 * 86_400);

    fn user(upn: &str, immutable_id: &str) -> User {
        let draft = UserDraft {
            immutable_id: Some(immutable_id.into()),
            ..UserDraft::new(upn)
        };
        prepare_user(draft, UserId::generate().expect("id"), UnixTime(1), None).expect("valid")
    }

    /// `user` as synchronised from the entry `CN=<local part of its UPN>`.
    fn synced(user: User, missing_since: Option<UnixTime>) -> User {
        let cn = user.upn.as_str().split('@').next().unwrap_or_default();
        User {
            origin: UserOrigin::Directory {
                dn: format!("CN={cn}"),
                missing_since,
                groups: vec!["G1".into(), "G2".into()],
            },
            ..user
        }
    }

    fn local(user: User) -> User {
        User {
            origin: UserOrigin::Local,
            ..user
        }
    }

    /// What `map_entry` gives for an account with only a UPN (displayName defaults to it).
    fn entry(dn: &str, upn: &str, immutable_id: &str) -> MappedEntry {
        MappedEntry {
            dn: dn.into(),
            immutable_id: immutable_id.into(),
            draft: UserDraft {
                immutable_id: Some(immutable_id.into()),
                display_name: Some(upn.into()),
                ..UserDraft::new(upn)
            },
            // As `synced` users are: an entry with other groups is a change.
            directory_groups: vec!["G2".into(), "G1".into()],
        }
    }

    fn plan(known: &[User], entries: Vec<MappedEntry>) -> SyncPlan {
        plan_sync(
            known,
            MappedEntries {
                entries,
                problems: Vec::new(),
            },
            NOW,
            GRACE,
        )
    }

    /// Each change as a short line, and each problem as `DN code`.
    fn summary(plan: &SyncPlan) -> (Vec<String>, Vec<String>) {
        let changes = plan
            .changes
            .iter()
            .map(|change| match change {
                SyncChange::Add { draft, .. } => format!("add {}", draft.upn),
                SyncChange::Update {
                    upn,
                    draft,
                    changed,
                    returned,
                    ..
                } => format!(
                    "update {upn} -> {} [{}]{}",
                    draft.upn,
                    changed
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(" "),
                    if *returned { " returned" } else { "" }
                ),
                SyncChange::Disable {
                    upn, missing_since, ..
                } => format!("disable {upn} since {}", missing_since.0),
                SyncChange::Remove { upn, .. } => format!("remove {upn}"),
            })
            .collect();
        let problems = plan
            .problems
            .iter()
            .map(|problem| format!("{} {}", problem.dn, problem.error.code()))
            .collect();
        (changes, problems)
    }

    #[test]
    fn plans_by_table() {
        let alice = user("alice@contoso.example", "A");
        let bob = user("bob@contoso.example", "B");
        let mut with_cert = entry("CN=alice", "alice@contoso.example", "A");
        with_cert.draft.certificate_user_ids = vec!["X509:<SKI>0102".into()];
        with_cert.draft.display_name = Some("Alice Archer".into());
        let mut regrouped = entry("CN=alice", "alice@contoso.example", "A");
        regrouped.directory_groups = vec!["G1".into(), "G3".into()];
        let mut local_groups = synced(alice.clone(), None);
        local_groups.groups = vec!["G3".into(), "certgate-admins".into()];
        let mut disabled_bob = bob.clone();
        disabled_bob.enabled = false;
        let over = UnixTime(NOW.0 - GRACE.as_secs() as i64);
        let within = UnixTime(over.0 + 1);

        type Case = (
            &'static str,
            Vec<User>,
            Vec<MappedEntry>,
            &'static [&'static str],
            &'static [&'static str],
        );
        let table: Vec<Case> = vec![
            ("a new entry is added", vec![], vec![entry("CN=alice", "alice@contoso.example", "A")], &["add alice@contoso.example"], &[]),
            ("an unchanged entry changes nothing", vec![synced(alice.clone(), None)], vec![entry("CN=alice", "alice@contoso.example", "A")], &[], &[]),
            (
                "changed attributes are listed",
                vec![synced(alice.clone(), None)],
                vec![with_cert.clone()],
                &["update alice@contoso.example -> alice@contoso.example [displayName certificateUserIds]"],
                &[],
            ),
            (
                "a changed group membership is an update of directoryGroups",
                vec![synced(alice.clone(), None)],
                vec![regrouped.clone()],
                &["update alice@contoso.example -> alice@contoso.example [directoryGroups]"],
                &[],
            ),
            (
                "groups assigned in certgate are not the directory's",
                vec![local_groups],
                vec![regrouped.clone()],
                &["update alice@contoso.example -> alice@contoso.example [directoryGroups]"],
                &[],
            ),
            ("a rename keeps the user (matched by immutable ID)", vec![synced(alice.clone(), None)], vec![entry("CN=alice", "alice.archer@contoso.example", "A")], &["update alice@contoso.example -> alice.archer@contoso.example [userPrincipalName displayName]"], &[]),
            ("a moved entry keeps its user and records the new DN", vec![synced(alice.clone(), None)], vec![entry("CN=alice,OU=Moved", "alice@contoso.example", "A")], &["update alice@contoso.example -> alice@contoso.example []"], &[]),
            ("a missing entry disables at once", vec![synced(bob.clone(), None)], vec![], &["disable bob@contoso.example since 10000000"], &[]),
            ("missing and disabled within the grace: nothing", vec![synced(disabled_bob.clone(), Some(within))], vec![], &[], &[]),
            ("missing and enabled again within the grace: disabled again", vec![synced(bob.clone(), Some(within))], vec![], &["disable bob@contoso.example since 7408001"], &[]),
            ("missing past the grace: removed", vec![synced(disabled_bob.clone(), Some(over))], vec![], &["remove bob@contoso.example"], &[]),
            ("a returning entry clears its mark", vec![synced(disabled_bob.clone(), Some(within))], vec![entry("CN=bob", "bob@contoso.example", "B")], &["update bob@contoso.example -> bob@contoso.example [accountEnabled] returned"], &[]),
            ("local users are never changed", vec![local(bob.clone())], vec![], &[], &[]),
            (
                "two new entries with one UPN: both skipped",
                vec![],
                vec![entry("CN=a1", "alice@contoso.example", "A1"), entry("CN=a2", "ALICE@contoso.example", "A2")],
                &[],
                &["CN=a1 directory-entry-upn-collision", "CN=a2 directory-entry-upn-collision"],
            ),
            (
                "a new entry taking a synced user's UPN: only it is skipped",
                vec![synced(alice.clone(), None)],
                vec![entry("CN=alice", "alice@contoso.example", "A"), entry("CN=a2", "alice@contoso.example", "A2")],
                &[],
                &["CN=a2 directory-entry-upn-collision"],
            ),
            (
                "a local user's UPN is taken",
                vec![local(alice.clone())],
                vec![entry("CN=a2", "alice@contoso.example", "A2")],
                &[],
                &["CN=a2 directory-entry-value-taken"],
            ),
            (
                "a local user's immutable ID is taken (no soft match)",
                vec![local(alice.clone())],
                vec![entry("CN=a2", "alice2@contoso.example", "A")],
                &[],
                &["CN=a2 directory-entry-value-taken"],
            ),
            (
                "two entries with one immutable ID: both skipped, the user kept",
                vec![synced(alice.clone(), None)],
                vec![entry("CN=alice", "alice@contoso.example", "A"), entry("CN=copy", "copy@contoso.example", "A")],
                &[],
                &["CN=alice directory-entry-immutable-id-collision", "CN=copy directory-entry-immutable-id-collision"],
            ),
            (
                "a UPN freed by a removal can be taken",
                vec![synced(disabled_bob.clone(), Some(over))],
                vec![entry("CN=bob2", "bob@contoso.example", "B2")],
                &["remove bob@contoso.example", "add bob@contoso.example"],
                &[],
            ),
            (
                "a UPN freed by a rename can be taken",
                vec![synced(alice.clone(), None)],
                vec![entry("CN=alice", "alice.archer@contoso.example", "A"), entry("CN=a2", "alice@contoso.example", "A2")],
                &["update alice@contoso.example -> alice.archer@contoso.example [userPrincipalName displayName]", "add alice@contoso.example"],
                &[],
            ),
        ];
        for (name, known, entries, changes, problems) in table {
            let (got_changes, got_problems) = summary(&plan(&known, entries));
            assert_eq!(got_changes, changes, "{name}: changes");
            assert_eq!(got_problems, problems, "{name}: problems");
        }
    }

    #[test]
    fn an_update_carries_the_directory_groups_and_keeps_the_local_ones() {
        let mut alice = synced(user("alice@contoso.example", "A"), None);
        alice.groups = vec!["certgate-admins".into()];
        let mut regrouped = entry("CN=alice", "alice@contoso.example", "A");
        regrouped.directory_groups = vec!["G3".into()];
        let plan = plan(&[alice], vec![regrouped]);
        let [SyncChange::Update {
            draft,
            directory_groups,
            ..
        }] = plan.changes.as_slice()
        else {
            panic!("one update, not {:?}", plan.changes);
        };
        assert_eq!(draft.groups, ["certgate-admins"]);
        assert_eq!(directory_groups, &["G3"]);
    }

    #[test]
    fn a_certificate_user_id_another_user_holds_skips_the_entry_and_keeps_its_user() {
        let mut carol = user("carol@contoso.example", "C");
        carol.certificate_user_ids = vec!["X509:<SKI>0102".into()];
        let alice = user("alice@contoso.example", "A");
        let mut wants_carols = entry("CN=alice", "alice@contoso.example", "A");
        wants_carols.draft.certificate_user_ids = vec!["X509:<SKI>0102".into()];
        let plan = plan(&[local(carol), synced(alice, None)], vec![wants_carols]);
        assert_eq!(plan.changes, []);
        assert_eq!(plan.problems.len(), 1);
        let problem = &plan.problems[0];
        assert_eq!(problem.dn, "CN=alice");
        assert_eq!(problem.immutable_id.as_deref(), Some("A"));
        assert_eq!(
            problem.error,
            EntryError::ValueTaken {
                attribute: "certificateUserIds",
                value: "X509:<SKI>0102".into(),
                holder: "the user carol@contoso.example".into(),
            }
        );
    }

    #[test]
    fn skipping_one_entry_of_a_swap_skips_the_other_rather_than_collide() {
        // alice and bob swap UPNs, but bob's entry also takes a local user's certificate ID:
        // bob is skipped and keeps bob@, so alice's rename to bob@ must be skipped too.
        let mut carol = user("carol@contoso.example", "C");
        carol.certificate_user_ids = vec!["X509:<SKI>0102".into()];
        let known = [
            local(carol),
            synced(user("alice@contoso.example", "A"), None),
            synced(user("bob@contoso.example", "B"), None),
        ];
        let mut bob_as_alice = entry("CN=bob", "alice@contoso.example", "B");
        bob_as_alice.draft.certificate_user_ids = vec!["X509:<SKI>0102".into()];
        let alice_as_bob = entry("CN=alice", "bob@contoso.example", "A");
        let (changes, problems) = summary(&plan(&known, vec![alice_as_bob, bob_as_alice]));
        assert_eq!(changes, Vec::<String>::new());
        assert_eq!(
            problems,
            [
                "CN=alice directory-entry-value-taken",
                "CN=bob directory-entry-value-taken"
            ]
        );
    }

    #[test]
    fn entries_that_failed_mapping_keep_their_users_present() {
        let alice = user("alice@contoso.example", "A");
        let bob = user("bob@contoso.example", "B");
        let mapped = MappedEntries {
            entries: Vec::new(),
            problems: vec![
                EntryProblem {
                    dn: "CN=alice".into(),
                    immutable_id: Some("A".into()),
                    error: EntryError::CertificateMappingUnparseable {
                        value: "X509:<SKI>zz".into(),
                        why: "hex".into(),
                    },
                },
                EntryProblem {
                    dn: "CN=bob".into(),
                    immutable_id: None,
                    error: EntryError::AttributeMissing {
                        attribute: "objectGUID".into(),
                    },
                },
            ],
        };
        let plan = plan_sync(
            &[synced(alice, None), synced(bob, None)],
            mapped,
            NOW,
            GRACE,
        );
        // alice is identified and kept; bob's entry cannot be told from a deleted one.
        let (changes, problems) = summary(&plan);
        assert_eq!(changes, ["disable bob@contoso.example since 10000000"]);
        assert_eq!(
            problems,
            [
                "CN=alice directory-entry-certificate-mapping-unparseable",
                "CN=bob directory-entry-attribute-missing"
            ]
        );
    }
}
