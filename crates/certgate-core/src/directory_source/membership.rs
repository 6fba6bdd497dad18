//! The groups each synchronised user is in, nested groups included
//! ([`read_memberships`]), read from the directory under caps.
//!
//! Active Directory answers nesting itself: a search for groups with
//! `(member:1.2.840.113556.1.4.1941:=<user DN>)` (LDAP_MATCHING_RULE_IN_CHAIN) returns every
//! group the user is in directly or through other groups, with their names, in one paged
//! search per user. `tokenGroups` was the other candidate; it was not chosen because it holds
//! SIDs (each would need a second lookup to become a name), leaves distribution groups out,
//! and must be read with a base-scope search of each user object. Other directories
//! (groupOfNames / groupOfUniqueNames) have no such rule, so certgate walks up the nesting
//! itself: the groups that list the user, then the groups that list those, each group once.
//!
//! Every lookup counts toward a per-run cap: a run over it fails and changes nothing
//! (`directory-source-group-lookup-limit`), because a run that stopped looking would drop the
//! memberships of the users it did not reach. A user in more groups than the per-user cap is
//! skipped (`directory-entry-too-many-groups`) and keeps its last synchronised values.

use std::collections::{HashMap, HashSet, VecDeque};

use super::mapping::single_text;
use super::{
    DirectoryEntry, DirectorySource, EntryError, EntryProblem, MappedEntries, SourceError,
};
use crate::directory::MAX_TEXT_CHARS;
use crate::escape_control;

/// How a directory says which groups an entry is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupMembershipRule {
    /// Active Directory's LDAP_MATCHING_RULE_IN_CHAIN (`1.2.840.113556.1.4.1941`) on
    /// `member`: the domain controller follows nested groups.
    InChain,
    /// Groups of `object_class` whose `member_attribute` holds the member's DN (RFC 4519
    /// groupOfNames / `member`); nested groups are followed by certgate, one level per lookup.
    MemberAttribute {
        /// Normally `groupOfNames`.
        object_class: String,
        /// Normally `member`.
        member_attribute: String,
    },
}

/// Which group memberships a sync reads, and its caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMembership {
    /// How memberships are found.
    pub rule: GroupMembershipRule,
    /// The group attribute that names it in certgate (normally `cn`). Two groups with the
    /// same name in different OUs are one group in certgate.
    pub name_attribute: String,
    /// Most groups one user may be in (nested included); more skips the user.
    pub max_groups_per_user: usize,
    /// Most group lookups (LDAP searches) in one run; more fails the run.
    pub max_lookups_per_run: usize,
}

impl GroupMembership {
    /// The default cap on groups per user: Active Directory's token holds at most 1,015
    /// group SIDs, so an account in more cannot sign in to Windows either.
    pub const DEFAULT_MAX_GROUPS_PER_USER: usize = 1015;
    /// The default cap on lookups per run.
    pub const DEFAULT_MAX_LOOKUPS_PER_RUN: usize = 100_000;

    /// Active Directory: the in-chain rule, groups named by `cn`.
    pub fn active_directory() -> GroupMembership {
        GroupMembership {
            rule: GroupMembershipRule::InChain,
            name_attribute: "cn".into(),
            max_groups_per_user: Self::DEFAULT_MAX_GROUPS_PER_USER,
            max_lookups_per_run: Self::DEFAULT_MAX_LOOKUPS_PER_RUN,
        }
    }

    /// A generic directory: groupOfNames with `member`, named by `cn`.
    pub fn group_of_names() -> GroupMembership {
        GroupMembership {
            rule: GroupMembershipRule::MemberAttribute {
                object_class: "groupOfNames".into(),
                member_attribute: "member".into(),
            },
            name_attribute: "cn".into(),
            max_groups_per_user: Self::DEFAULT_MAX_GROUPS_PER_USER,
            max_lookups_per_run: Self::DEFAULT_MAX_LOOKUPS_PER_RUN,
        }
    }
}

/// One group lookup: the groups that have `member_dn` as a member under `rule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupQuery<'a> {
    /// The member's DN, as the directory sent it.
    pub member_dn: &'a str,
    /// How membership is expressed.
    pub rule: &'a GroupMembershipRule,
    /// The attribute to read from each group.
    pub name_attribute: &'a str,
    /// The source may stop after this many groups: one more than certgate takes is enough to
    /// know the cap is crossed.
    pub at_most: usize,
}

/// Reads the groups of every mapped entry and sets its `directory_groups`. An entry whose
/// groups cannot be used (over the per-user cap, a group without a readable name) moves to the
/// problems; a failed lookup, or more lookups than the per-run cap, fails the read.
pub async fn read_memberships<D: DirectorySource>(
    source: &D,
    entries: &[DirectoryEntry],
    mapped: MappedEntries,
    settings: &GroupMembership,
) -> Result<MappedEntries, SourceError> {
    read_memberships_reporting(source, entries, mapped, settings, &mut |_, _| {}).await
}

/// [`read_memberships`], telling `progress` how many of the users have had their groups
/// read (done, total) after each one.
pub(crate) async fn read_memberships_reporting<D: DirectorySource>(
    source: &D,
    entries: &[DirectoryEntry],
    mapped: MappedEntries,
    settings: &GroupMembership,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<MappedEntries, SourceError> {
    // The mapped entries carry their DN with control characters escaped; the lookup needs it
    // as the directory sent it.
    let mut raw_dns: HashMap<String, Option<&str>> = HashMap::new();
    for entry in entries {
        raw_dns
            .entry(escape_control(entry.dn()).into_owned())
            .and_modify(|dn| *dn = None)
            .or_insert(Some(entry.dn()));
    }
    let MappedEntries {
        entries: users,
        mut problems,
    } = mapped;
    let mut lookups = 0usize;
    let mut kept = Vec::with_capacity(users.len());
    let total = users.len();
    for (done, mut user) in users.into_iter().enumerate() {
        progress(done, total);
        let groups = match raw_dns.get(&user.dn).copied().flatten() {
            Some(dn) => groups_of(source, dn, settings, &mut lookups).await?,
            // Two DNs that read the same once escaped: which one is this user's is unknown.
            None => Err(EntryError::GroupUnreadable {
                group_dn: user.dn.clone(),
                why: "the entry's DN cannot be told apart from another's".into(),
            }),
        };
        match groups {
            Ok(groups) => {
                user.directory_groups = groups;
                kept.push(user);
            }
            Err(error) => problems.push(EntryProblem {
                dn: user.dn,
                immutable_id: Some(user.immutable_id),
                error,
            }),
        }
    }
    Ok(MappedEntries {
        entries: kept,
        problems,
    })
}

/// The names of the groups `member_dn` is in, sorted, each once.
async fn groups_of<D: DirectorySource>(
    source: &D,
    member_dn: &str,
    settings: &GroupMembership,
    lookups: &mut usize,
) -> Result<Result<Vec<String>, EntryError>, SourceError> {
    let cap = settings.max_groups_per_user;
    // Group DNs compared case-insensitively (RFC 4514 attribute values in AD and OpenLDAP's
    // member values are case-insensitive strings); a cycle of groups is walked once.
    let mut seen: HashSet<String> = HashSet::new();
    let mut names: Vec<String> = Vec::new();
    let mut pending: VecDeque<String> = VecDeque::from([member_dn.to_owned()]);
    while let Some(member) = pending.pop_front() {
        if *lookups >= settings.max_lookups_per_run {
            return Err(SourceError::GroupLookupLimit {
                limit: settings.max_lookups_per_run,
            });
        }
        *lookups += 1;
        let groups = source
            .read_groups(&GroupQuery {
                member_dn: &member,
                rule: &settings.rule,
                name_attribute: &settings.name_attribute,
                at_most: cap.saturating_sub(seen.len()).saturating_add(1),
            })
            .await?;
        for group in groups {
            if !seen.insert(group.dn().to_ascii_lowercase()) {
                continue;
            }
            if seen.len() > cap {
                return Ok(Err(EntryError::TooManyGroups { limit: cap }));
            }
            let unreadable = |why: String| EntryError::GroupUnreadable {
                group_dn: escape_control(group.dn()).into_owned(),
                why,
            };
            let name = match single_text(&group, &settings.name_attribute) {
                Ok(Some(name))
                    if !name.trim().is_empty() && name.chars().count() <= MAX_TEXT_CHARS =>
                {
                    name.trim().to_owned()
                }
                Ok(Some(_)) => {
                    return Ok(Err(unreadable(format!(
                        "its {} is blank or longer than {MAX_TEXT_CHARS} characters",
                        settings.name_attribute
                    ))))
                }
                Ok(_) => {
                    return Ok(Err(unreadable(format!(
                        "it has no {}",
                        settings.name_attribute
                    ))))
                }
                Err(error) => return Ok(Err(unreadable(error.to_string()))),
            };
            if !names.contains(&name) {
                names.push(name);
            }
            if matches!(settings.rule, GroupMembershipRule::MemberAttribute { .. }) {
                pending.push_back(group.dn().to_owned());
            }
        }
    }
    names.sort();
    Ok(Ok(names))
}
