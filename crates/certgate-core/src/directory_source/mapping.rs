//! One [`DirectoryEntry`] as the certgate user it describes ([`map_entry`]).
//!
//! Every value is untrusted: sizes are capped before anything is decoded, text must be UTF-8
//! without control characters, and the result passes the same checks as a user an
//! administrator adds ([`prepare_user`]), so a sync can never write a user the CLI would
//! refuse.

use certgate_pki::UnixTime;

use super::attribute_map::{AccountStateSource, AttributeMap, ImmutableIdSource, UpnSource};
use super::certificate_mapping::{certificate_user_id_from_mapping, MAX_MAPPING_BYTES};
use super::immutable_id::immutable_id_from_guid;
use super::{DirectoryEntry, EntryError};
use crate::directory::{prepare_user, UserDraft, UserId, MAX_TEXT_CHARS};
use crate::escape_control;

/// The most bytes read from one text value: four bytes for each of the 256 characters the
/// longest text attribute (displayName, mail, a proxy address) may have.
pub const MAX_TEXT_VALUE_BYTES: usize = 4 * MAX_TEXT_CHARS;
/// The most proxyAddresses values read from one entry (Exchange mailboxes rarely have more
/// than a few dozen).
pub const MAX_PROXY_ADDRESS_VALUES: usize = 500;
/// The most altSecurityIdentities values read from one entry. certgate keeps at most 10
/// certificateUserIds (Entra's limit, checked after conversion); the cap bounds the work
/// before that check.
pub const MAX_CERTIFICATE_MAPPING_VALUES: usize = 100;

/// An entry as the certgate user it describes: the draft of its synchronised attributes, its
/// immutable ID set, and the groups the directory says it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappedEntry {
    /// The entry's DN, for reports.
    pub dn: String,
    /// The immutable ID (always set; also in `draft.immutable_id`).
    pub immutable_id: String,
    /// The user's attributes, already normalised as [`prepare_user`] stores them
    /// (certificateUserIds in lower-case hex, displayName defaulted to the UPN), so a diff
    /// against a stored user compares like with like. Its `groups` stay empty: those are
    /// assigned in certgate only.
    pub draft: UserDraft,
    /// The groups the directory says the user is in, nested included; empty until the
    /// memberships are read ([`MappedEntries::with_memberships`]) or when group memberships
    /// are not read at all.
    pub directory_groups: Vec<String>,
}

/// An entry that was skipped, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryProblem {
    /// The entry's DN (control characters escaped).
    pub dn: String,
    /// The entry's immutable ID when it could be read: its certgate user, if any, is then
    /// kept as it is instead of being treated as gone from the directory.
    pub immutable_id: Option<String>,
    /// Why it was skipped.
    pub error: EntryError,
}

/// Every entry mapped: the users, and the entries that were skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MappedEntries {
    /// The entries that map to a valid user, in the directory's order.
    pub entries: Vec<MappedEntry>,
    /// The entries that were skipped.
    pub problems: Vec<EntryProblem>,
}

/// Maps every entry; one bad entry is reported and never stops the others.
pub fn map_entries(entries: &[DirectoryEntry], map: &AttributeMap) -> MappedEntries {
    let mut mapped = MappedEntries::default();
    for entry in entries {
        match map_entry(entry, map) {
            Ok(user) => mapped.entries.push(user),
            Err(problem) => mapped.problems.push(problem),
        }
    }
    mapped
}

/// The certgate user `entry` describes under `map`.
pub fn map_entry(entry: &DirectoryEntry, map: &AttributeMap) -> Result<MappedEntry, EntryProblem> {
    let dn = escape_control(entry.dn()).into_owned();
    let problem = |immutable_id: Option<&String>, error: EntryError| EntryProblem {
        dn: dn.clone(),
        immutable_id: immutable_id.cloned(),
        error,
    };
    // The anchor first: with it, a later problem still identifies the entry's user.
    let immutable_id =
        immutable_id(entry, &map.immutable_id).map_err(|error| problem(None, error))?;
    let draft =
        draft(entry, map, &immutable_id).map_err(|error| problem(Some(&immutable_id), error))?;
    Ok(MappedEntry {
        dn,
        immutable_id,
        draft,
        directory_groups: Vec::new(),
    })
}

fn draft(
    entry: &DirectoryEntry,
    map: &AttributeMap,
    immutable_id: &str,
) -> Result<UserDraft, EntryError> {
    let upn = match &map.user_principal_name {
        UpnSource::Attribute(attribute) => required_text(entry, attribute)?,
        UpnSource::AttributeAtDomain { attribute, domain } => {
            format!("{}@{domain}", required_text(entry, attribute)?)
        }
    };
    let mut display_name = None;
    for attribute in &map.display_name {
        if let Some(name) = single_text(entry, attribute)? {
            display_name = Some(name);
            break;
        }
    }
    let mail = match &map.mail {
        Some(attribute) => single_text(entry, attribute)?,
        None => None,
    };
    let mut proxy_addresses = Vec::new();
    if let Some(attribute) = &map.proxy_addresses {
        for address in texts(
            entry,
            attribute,
            MAX_PROXY_ADDRESS_VALUES,
            MAX_TEXT_VALUE_BYTES,
        )? {
            let kept = address.split_once(':').is_some_and(|(kind, _)| {
                map.proxy_address_types
                    .iter()
                    .any(|wanted| wanted.eq_ignore_ascii_case(kind))
            });
            if kept {
                proxy_addresses.push(address);
            }
        }
    }
    let enabled = match &map.account_state {
        AccountStateSource::UserAccountControl { attribute } => {
            let text = required_text(entry, attribute)?;
            // A 32-bit flag set; AD's syntax is a signed integer, so read it as one.
            let flags: i64 = text
                .trim()
                .parse()
                .map_err(|_| EntryError::AttributeMalformed {
                    attribute: attribute.clone(),
                    why: format!("{:?} is not a number", escape_control(&text)),
                })?;
            const ACCOUNTDISABLE: i64 = 0x2;
            flags & ACCOUNTDISABLE == 0
        }
        AccountStateSource::FilterSelectsEnabledAccounts => true,
    };
    let mut certificate_user_ids = Vec::new();
    if let Some(attribute) = &map.certificate_mappings {
        for mapping in texts(
            entry,
            attribute,
            MAX_CERTIFICATE_MAPPING_VALUES,
            MAX_MAPPING_BYTES,
        )? {
            if let Some(value) = certificate_user_id_from_mapping(&mapping)? {
                if !certificate_user_ids.contains(&value) {
                    certificate_user_ids.push(value);
                }
            }
        }
    }
    let draft = UserDraft {
        upn,
        immutable_id: Some(immutable_id.to_owned()),
        display_name,
        mail,
        proxy_addresses,
        certificate_user_ids,
        enabled,
        groups: Vec::new(),
    };
    // The same checks and normalisation as every other way a user is written. The id and
    // dates are placeholders: only the attribute values are kept from the result.
    #[allow(clippy::expect_used)]
    let placeholder = UserId::parse("00000000-0000-4000-8000-000000000000")
        .expect("a constant in the 8-4-4-4-12 form UserId::parse accepts");
    let user =
        prepare_user(draft, placeholder, UnixTime(0), None).map_err(EntryError::UserInvalid)?;
    Ok(UserDraft {
        upn: user.upn.to_string(),
        immutable_id: Some(user.immutable_id),
        display_name: Some(user.display_name),
        mail: user.mail,
        proxy_addresses: user.proxy_addresses,
        certificate_user_ids: user.certificate_user_ids,
        enabled: user.enabled,
        groups: user.groups,
    })
}

pub(crate) fn immutable_id(
    entry: &DirectoryEntry,
    source: &ImmutableIdSource,
) -> Result<String, EntryError> {
    let guid = |attribute: &str| -> Result<Option<String>, EntryError> {
        match single_value(entry, attribute, 16)? {
            None => Ok(None),
            Some(bytes) => immutable_id_from_guid(bytes).map(Some).ok_or_else(|| {
                EntryError::AttributeMalformed {
                    attribute: attribute.to_owned(),
                    why: format!("a GUID has 16 bytes, this value has {}", bytes.len()),
                }
            }),
        }
    };
    let missing = |attribute: &str| EntryError::AttributeMissing {
        attribute: attribute.to_owned(),
    };
    match source {
        ImmutableIdSource::ConsistencyGuidOrObjectGuid {
            consistency_guid,
            object_guid,
        } => match guid(consistency_guid)? {
            Some(id) => Ok(id),
            None => guid(object_guid)?.ok_or_else(|| missing(object_guid)),
        },
        ImmutableIdSource::BinaryGuid { attribute } => {
            guid(attribute)?.ok_or_else(|| missing(attribute))
        }
        ImmutableIdSource::TextUuid { attribute } => {
            let text = required_text(entry, attribute)?;
            UserId::parse(&text)
                .map(|uuid| uuid.as_str().to_owned())
                .ok_or_else(|| EntryError::AttributeMalformed {
                    attribute: attribute.clone(),
                    why: format!(
                        "{:?} is not a UUID (8-4-4-4-12 hex digits)",
                        escape_control(&text)
                    ),
                })
        }
    }
}

/// The one value of `attribute`, at most `max_bytes` long; `None` when absent or empty.
fn single_value<'a>(
    entry: &'a DirectoryEntry,
    attribute: &str,
    max_bytes: usize,
) -> Result<Option<&'a [u8]>, EntryError> {
    refuse_dropped_values(entry, attribute)?;
    if entry.has_ranged_values(attribute) {
        return Err(too_many_values(attribute));
    }
    match entry.values(attribute) {
        [] => Ok(None),
        [value] if value.is_empty() => Ok(None),
        [value] if value.len() > max_bytes => Err(EntryError::AttributeTooLarge {
            attribute: attribute.to_owned(),
            what: format!(
                "a value of {} bytes, over the {max_bytes}-byte limit",
                value.len()
            ),
        }),
        [value] => Ok(Some(value)),
        values => Err(EntryError::AttributeMultiValued {
            attribute: attribute.to_owned(),
            count: values.len(),
        }),
    }
}

pub(super) fn single_text(
    entry: &DirectoryEntry,
    attribute: &str,
) -> Result<Option<String>, EntryError> {
    single_value(entry, attribute, MAX_TEXT_VALUE_BYTES)?
        .map(|bytes| text(attribute, bytes))
        .transpose()
}

fn required_text(entry: &DirectoryEntry, attribute: &str) -> Result<String, EntryError> {
    single_text(entry, attribute)?.ok_or_else(|| EntryError::AttributeMissing {
        attribute: attribute.to_owned(),
    })
}

/// Every value of a multi-valued text attribute, each at most `max_bytes`, at most
/// `max_values` of them.
fn texts(
    entry: &DirectoryEntry,
    attribute: &str,
    max_values: usize,
    max_bytes: usize,
) -> Result<Vec<String>, EntryError> {
    refuse_dropped_values(entry, attribute)?;
    let values = entry.values(attribute);
    if values.len() > max_values || entry.has_ranged_values(attribute) {
        return Err(EntryError::AttributeTooLarge {
            attribute: attribute.to_owned(),
            what: format!("more than {max_values} values"),
        });
    }
    values
        .iter()
        .map(|value| {
            if value.len() > max_bytes {
                return Err(EntryError::AttributeTooLarge {
                    attribute: attribute.to_owned(),
                    what: format!(
                        "a value of {} bytes, over the {max_bytes}-byte limit",
                        value.len()
                    ),
                });
            }
            text(attribute, value)
        })
        .collect()
}

/// Values the reader did not keep (far over every cap here) are too large as well.
fn refuse_dropped_values(entry: &DirectoryEntry, attribute: &str) -> Result<(), EntryError> {
    match entry.dropped_values(attribute) {
        Some(what) => Err(EntryError::AttributeTooLarge {
            attribute: attribute.to_owned(),
            what: what.to_owned(),
        }),
        None => Ok(()),
    }
}

fn too_many_values(attribute: &str) -> EntryError {
    EntryError::AttributeTooLarge {
        attribute: attribute.to_owned(),
        what: "the server sent only a range of its values".into(),
    }
}

fn text(attribute: &str, bytes: &[u8]) -> Result<String, EntryError> {
    let not_text = |why: &str| EntryError::AttributeNotText {
        attribute: attribute.to_owned(),
        why: why.to_owned(),
    };
    let text = std::str::from_utf8(bytes).map_err(|_| not_text("it is not UTF-8"))?;
    if text.chars().any(char::is_control) {
        return Err(not_text("it contains control characters"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory_source::{guid_text, AttributeMap};

    /// The GUID of `immutable_id.rs`'s tests, as AD stores it, and its immutable ID.
    const GUID: [u8; 16] = [
        0x76, 0xc7, 0x43, 0x13, 0xb7, 0x81, 0x24, 0x47, 0x8f, 0x9a, 0x15, 0xdf, 0xf1, 0xeb, 0x69,
        0x20,
    ];
    const GUID_IMMUTABLE_ID: &str = "dsdDE7eBJEePmhXf8etpIA==";

    fn ad_user() -> DirectoryEntry {
        DirectoryEntry::new("CN=Alice,CN=Users,DC=contoso,DC=example")
            .with("userPrincipalName", &[b"alice@contoso.example"])
            .with("displayName", &[b"Alice Archer"])
            .with("mail", &[b"alice@contoso.example"])
            .with(
                "proxyAddresses",
                &[
                    b"SMTP:alice@contoso.example",
                    b"smtp:aa@contoso.example",
                    b"X500:/o=Contoso/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice",
                ],
            )
            .with("objectGUID", &[&GUID])
            .with("userAccountControl", &[b"512"])
            .with(
                "altSecurityIdentities",
                &[
                    b"X509:<I>C=US, O=Contoso, CN=Issuing CA<SR>0A0B0C",
                    b"Kerberos:alice@CONTOSO.EXAMPLE",
                ],
            )
    }

    fn map(entry: &DirectoryEntry) -> Result<MappedEntry, String> {
        map_entry(entry, &AttributeMap::active_directory())
            .map_err(|problem| problem.error.code().to_owned())
    }

    #[test]
    fn an_active_directory_account_maps_to_its_user() {
        let mapped = map(&ad_user()).expect("maps");
        assert_eq!(mapped.immutable_id, GUID_IMMUTABLE_ID);
        let draft = mapped.draft;
        assert_eq!(draft.upn, "alice@contoso.example");
        assert_eq!(draft.immutable_id.as_deref(), Some(GUID_IMMUTABLE_ID));
        assert_eq!(draft.display_name.as_deref(), Some("Alice Archer"));
        assert_eq!(draft.mail.as_deref(), Some("alice@contoso.example"));
        // X500 addresses are left out (they contain spaces); SMTP ones are kept.
        assert_eq!(
            draft.proxy_addresses,
            ["SMTP:alice@contoso.example", "smtp:aa@contoso.example"]
        );
        assert_eq!(
            draft.certificate_user_ids,
            ["X509:<I>C=US,O=Contoso,CN=Issuing CA<SR>0a0b0c"]
        );
        assert!(draft.enabled);
    }

    #[test]
    fn the_consistency_guid_wins_over_the_object_guid() {
        let mut moved = GUID;
        moved[15] = 0x21;
        let entry = ad_user().with("mS-DS-ConsistencyGuid", &[&moved]);
        let mapped = map(&entry).expect("maps");
        assert_eq!(
            Some(mapped.immutable_id.as_str()),
            immutable_id_from_guid(&moved).as_deref()
        );
        assert_ne!(mapped.immutable_id, GUID_IMMUTABLE_ID);
        assert_eq!(
            guid_text(&moved).as_deref(),
            Some("1343c776-81b7-4724-8f9a-15dff1eb6921")
        );
    }

    #[test]
    fn accountdisable_in_user_account_control_disables() {
        let table: [(&[u8], Result<bool, &str>); 6] = [
            (b"512", Ok(true)),
            (b"514", Ok(false)),
            (b"66050", Ok(false)),
            (b"66048", Ok(true)),
            (b"-2147483646", Ok(false)),
            (b"lots", Err("directory-entry-attribute-malformed")),
        ];
        for (flags, expected) in table {
            let mut entry = DirectoryEntry::new("CN=A");
            for name in ["userPrincipalName", "objectGUID"] {
                entry.push_values(name, ad_user().values(name).to_vec());
            }
            entry.push_values("userAccountControl", [flags.to_vec()]);
            assert_eq!(
                map(&entry).map(|mapped| mapped.draft.enabled),
                expected.map_err(str::to_owned),
                "{}",
                String::from_utf8_lossy(flags)
            );
        }
    }

    #[test]
    fn hostile_values_are_refused_per_entry_with_a_code() {
        let huge = vec![b'a'; MAX_TEXT_VALUE_BYTES + 1];
        let many: Vec<Vec<u8>> = (0..=MAX_PROXY_ADDRESS_VALUES)
            .map(|i| format!("smtp:a{i}@contoso.example").into_bytes())
            .collect();
        let replace = |name: &str, values: Vec<Vec<u8>>| {
            let base = ad_user();
            let mut entry = DirectoryEntry::new(base.dn());
            for other in [
                "userPrincipalName",
                "displayName",
                "mail",
                "proxyAddresses",
                "objectGUID",
                "userAccountControl",
                "altSecurityIdentities",
            ] {
                if !other.eq_ignore_ascii_case(name) {
                    entry.push_values(other, base.values(other).to_vec());
                }
            }
            entry.push_values(name, values);
            entry
        };
        let table: Vec<(DirectoryEntry, &str)> = vec![
            (
                replace("displayName", vec![huge.clone()]),
                "directory-entry-attribute-too-large",
            ),
            (
                replace("proxyAddresses", many),
                "directory-entry-attribute-too-large",
            ),
            (
                replace("displayName", vec![vec![0xff, 0xfe, 0x00]]),
                "directory-entry-attribute-not-text",
            ),
            (
                replace("displayName", vec![b"Alice\x1b[2J".to_vec()]),
                "directory-entry-attribute-not-text",
            ),
            (
                replace("mail", vec![b"a@x".to_vec(), b"b@x".to_vec()]),
                "directory-entry-attribute-multivalued",
            ),
            (
                replace("userPrincipalName", vec![]),
                "directory-entry-attribute-missing",
            ),
            (
                replace("userPrincipalName", vec![b"not a upn".to_vec()]),
                "user-upn-invalid",
            ),
            (
                replace("objectGUID", vec![vec![1; 15]]),
                "directory-entry-attribute-malformed",
            ),
            (
                replace("objectGUID", vec![vec![1; 4096]]),
                "directory-entry-attribute-too-large",
            ),
            (
                replace("objectGUID", vec![]),
                "directory-entry-attribute-missing",
            ),
            (
                replace("userAccountControl", vec![]),
                "directory-entry-attribute-missing",
            ),
            (
                replace("altSecurityIdentities", vec![b"X509:<SKI>zz".to_vec()]),
                "directory-entry-certificate-mapping-unparseable",
            ),
            (
                replace(
                    "altSecurityIdentities",
                    (0..11)
                        .map(|i| format!("X509:<SKI>{i:02x}").into_bytes())
                        .collect(),
                ),
                "user-certificate-user-ids-too-many",
            ),
        ];
        for (entry, code) in table {
            assert_eq!(map(&entry).err().as_deref(), Some(code), "{entry:?}");
        }
        let mut ranged = ad_user();
        ranged.push_values("proxyAddresses;range=0-1499", [b"smtp:x@y".to_vec()]);
        assert_eq!(
            map(&ranged).err().as_deref(),
            Some("directory-entry-attribute-too-large")
        );
    }

    #[test]
    fn values_the_reader_dropped_as_too_large_skip_the_entry() {
        for attribute in [
            "displayName",
            "proxyAddresses",
            "objectGUID",
            "userAccountControl",
        ] {
            let mut entry = ad_user();
            entry.drop_values(attribute, "a value of 5000000 bytes");
            assert!(entry.values(attribute).is_empty());
            let problem =
                map_entry(&entry, &AttributeMap::active_directory()).expect_err("refused");
            assert_eq!(
                problem.error,
                EntryError::AttributeTooLarge {
                    attribute: attribute.to_owned(),
                    what: "a value of 5000000 bytes".into(),
                },
                "{attribute}"
            );
        }
    }

    #[test]
    fn a_problem_after_the_anchor_still_names_the_entry_and_its_immutable_id() {
        let entry = ad_user().with("mail", &[b"second@contoso.example"]);
        let problem = map_entry(&entry, &AttributeMap::active_directory()).expect_err("refused");
        assert_eq!(problem.dn, "CN=Alice,CN=Users,DC=contoso,DC=example");
        assert_eq!(problem.immutable_id.as_deref(), Some(GUID_IMMUTABLE_ID));
        let no_guid = DirectoryEntry::new("CN=Bob\u{7}").with("userPrincipalName", &[b"b@x"]);
        let problem = map_entry(&no_guid, &AttributeMap::active_directory()).expect_err("refused");
        assert_eq!(problem.dn, "CN=Bob\\u{7}");
        assert_eq!(problem.immutable_id, None);
    }

    #[test]
    fn the_generic_profile_reads_inet_org_person() {
        let entry = DirectoryEntry::new("uid=carol,ou=people,dc=example,dc=org")
            .with("uid", &[b"carol"])
            .with("mail", &[b"carol@example.org"])
            .with("cn", &[b"Carol Cole"])
            .with("entryUUID", &[b"5E3C1A2B-0000-4000-8000-00000000000A"]);
        let map = AttributeMap::generic_ldap();
        let mapped = map_entry(&entry, &map).expect("maps");
        assert_eq!(mapped.immutable_id, "5e3c1a2b-0000-4000-8000-00000000000a");
        assert_eq!(mapped.draft.upn, "carol@example.org");
        assert_eq!(mapped.draft.display_name.as_deref(), Some("Carol Cole"));
        assert!(mapped.draft.enabled);

        let by_uid = AttributeMap {
            user_principal_name: UpnSource::AttributeAtDomain {
                attribute: "uid".into(),
                domain: "corp.example".into(),
            },
            ..AttributeMap::generic_ldap()
        };
        assert_eq!(
            map_entry(&entry, &by_uid).expect("maps").draft.upn,
            "carol@corp.example"
        );
        let bad_uuid = entry.clone().with("entryUUID", &[b"x"]);
        assert_eq!(
            map_entry(&bad_uuid, &map)
                .expect_err("two values")
                .error
                .code(),
            "directory-entry-attribute-multivalued"
        );
        assert_eq!(
            map.requested_attributes(),
            ["mail", "displayName", "cn", "entryUUID"]
        );
    }

    #[test]
    fn every_attribute_can_be_overridden() {
        let entry = DirectoryEntry::new("CN=Dave")
            .with("extensionAttribute1", &[b"dave@contoso.example"])
            .with("employeeGuid", &[&GUID])
            .with("name", &[b"Dave"]);
        let map = AttributeMap {
            user_principal_name: UpnSource::Attribute("extensionAttribute1".into()),
            display_name: vec!["name".into()],
            mail: None,
            proxy_addresses: None,
            immutable_id: ImmutableIdSource::BinaryGuid {
                attribute: "employeeGuid".into(),
            },
            account_state: AccountStateSource::FilterSelectsEnabledAccounts,
            certificate_mappings: None,
            ..AttributeMap::active_directory()
        };
        let mapped = map_entry(&entry, &map).expect("maps");
        assert_eq!(mapped.draft.upn, "dave@contoso.example");
        assert_eq!(mapped.immutable_id, GUID_IMMUTABLE_ID);
        assert_eq!(mapped.draft.display_name.as_deref(), Some("Dave"));
    }
}
