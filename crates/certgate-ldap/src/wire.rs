//! Reading the server's BER without panicking: search result entries as
//! [`DirectoryEntry`] (every value as bytes) and the paged results cookie.
//!
//! ldap3's own helpers (`SearchEntry::construct`, `PagedResults::parse`) panic on a malformed
//! reply and split values into text and binary; certgate needs neither.

use ldap3::asn1::{parse_tag, StructureTag, TagClass, PL};

use certgate_core::directory_source::{DirectoryEntry, SourceError};
use certgate_core::escape_control;

/// The OID of the simple paged results control (RFC 2696).
pub(crate) const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// The most bytes of one value kept from a search result entry: far above every cap of the
/// mapping (1 KiB for a text value, 4 KiB for a certificate mapping), which refuses the
/// attribute all the same, so a bigger value is not held for the rest of the read (a sync
/// keeps every entry until it has planned). ldap3 has no limit on the size of one message, so
/// the message itself is read whole; what it costs is one message, not the directory.
pub(crate) const MAX_KEPT_VALUE_BYTES: usize = 64 * 1024;
/// The most bytes of all the values of one attribute kept (500 proxy addresses, the
/// mapping's cap, of 1 KiB each fit).
pub(crate) const MAX_KEPT_ATTRIBUTE_BYTES: usize = 1024 * 1024;

fn malformed(what: &str) -> SourceError {
    SourceError::ProtocolViolation {
        detail: format!("a malformed {what}"),
    }
}

fn constructed(tag: StructureTag, what: &str) -> Result<Vec<StructureTag>, SourceError> {
    match tag.payload {
        PL::C(inner) => Ok(inner),
        PL::P(_) => Err(malformed(what)),
    }
}

fn primitive(tag: StructureTag, what: &str) -> Result<Vec<u8>, SourceError> {
    match tag.payload {
        PL::P(bytes) => Ok(bytes),
        PL::C(_) => Err(malformed(what)),
    }
}

/// A SearchResultEntry (RFC 4511 §4.5.2): `[APPLICATION 4] SEQUENCE { objectName,
/// attributes SEQUENCE OF SEQUENCE { type, vals SET OF value } }`.
pub(crate) fn directory_entry(tag: StructureTag) -> Result<DirectoryEntry, SourceError> {
    if tag.class != TagClass::Application || tag.id != 4 {
        return Err(malformed("search result entry"));
    }
    let mut parts = constructed(tag, "search result entry")?.into_iter();
    let dn = primitive(
        parts
            .next()
            .ok_or_else(|| malformed("entry without a DN"))?,
        "entry DN",
    )?;
    // A DN is UTF-8 (RFC 4514 §2); it is only shown in reports, so other bytes are replaced
    // rather than refuse the entry.
    let dn = String::from_utf8_lossy(&dn);
    let mut entry = DirectoryEntry::new(escape_control(&dn));
    let attributes = parts
        .next()
        .ok_or_else(|| malformed("entry without attributes"))?;
    for attribute in constructed(attributes, "attribute list")? {
        let mut attribute = constructed(attribute, "attribute")?.into_iter();
        let name = primitive(
            attribute
                .next()
                .ok_or_else(|| malformed("attribute without a type"))?,
            "attribute type",
        )?;
        let name = String::from_utf8(name).map_err(|_| malformed("attribute type (not UTF-8)"))?;
        let values = match attribute.next() {
            Some(values) => constructed(values, "attribute values")?
                .into_iter()
                .map(|value| primitive(value, "attribute value"))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        if entry.dropped_values(&name).is_some() {
            continue;
        }
        let total: usize = values.iter().map(Vec::len).sum();
        let largest = values.iter().map(Vec::len).max().unwrap_or(0);
        if largest > MAX_KEPT_VALUE_BYTES {
            entry.drop_values(
                &name,
                format!(
                    "a value of {largest} bytes, over the {MAX_KEPT_VALUE_BYTES} bytes certgate \
                     keeps of one value"
                ),
            );
        } else if total + total_kept(&entry, &name) > MAX_KEPT_ATTRIBUTE_BYTES {
            entry.drop_values(
                &name,
                format!(
                    "{} values, over the {MAX_KEPT_ATTRIBUTE_BYTES} bytes certgate keeps of one \
                     attribute",
                    values.len() + entry.values(&name).len()
                ),
            );
        } else {
            entry.push_values(&name, values);
        }
    }
    Ok(entry)
}

/// Bytes already kept of `name` (an attribute the server sent twice in one entry).
fn total_kept(entry: &DirectoryEntry, name: &str) -> usize {
    entry.values(name).iter().map(Vec::len).sum()
}

/// The cookie of a paged results response control value: `SEQUENCE { size INTEGER, cookie
/// OCTET STRING }`. Empty when the search is complete.
pub(crate) fn paged_results_cookie(value: &[u8]) -> Result<Vec<u8>, SourceError> {
    let what = "paged results control";
    let (_, tag) = parse_tag(value).map_err(|_| malformed(what))?;
    let mut parts = constructed(tag, what)?.into_iter();
    let _size = parts.next().ok_or_else(|| malformed(what))?;
    primitive(parts.next().ok_or_else(|| malformed(what))?, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::{ASNTag, OctetString, Sequence, Set, Tag};

    fn octets(bytes: &[u8]) -> Tag {
        Tag::OctetString(OctetString {
            inner: bytes.to_vec(),
            ..Default::default()
        })
    }

    fn entry_tag(attributes: Vec<Tag>) -> StructureTag {
        Tag::Sequence(Sequence {
            id: 4,
            class: TagClass::Application,
            inner: vec![
                octets(b"CN=Alice\x1b,DC=contoso"),
                Tag::Sequence(Sequence {
                    inner: attributes,
                    ..Default::default()
                }),
            ],
        })
        .into_structure()
    }

    #[test]
    fn binary_and_text_values_arrive_as_bytes() {
        let guid = [0x76, 0xc7, 0x43, 0x13, 0xff, 0x00];
        let tag = entry_tag(vec![Tag::Sequence(Sequence {
            inner: vec![
                octets(b"objectGUID"),
                Tag::Set(Set {
                    inner: vec![octets(&guid)],
                    ..Default::default()
                }),
            ],
            ..Default::default()
        })]);
        let entry = directory_entry(tag).expect("entry");
        assert_eq!(entry.dn(), "CN=Alice\\u{1b},DC=contoso");
        assert_eq!(entry.values("objectguid"), [guid.to_vec()]);
    }

    fn attribute(name: &str, values: &[Vec<u8>]) -> Tag {
        Tag::Sequence(Sequence {
            inner: vec![
                octets(name.as_bytes()),
                Tag::Set(Set {
                    inner: values.iter().map(|value| octets(value)).collect(),
                    ..Default::default()
                }),
            ],
            ..Default::default()
        })
    }

    #[test]
    fn values_over_what_certgate_keeps_are_dropped_and_noted() {
        let huge = vec![b'a'; MAX_KEPT_VALUE_BYTES + 1];
        let many = vec![vec![b'b'; 1000]; MAX_KEPT_ATTRIBUTE_BYTES / 1000 + 1];
        let tag = entry_tag(vec![
            attribute("displayName", &[huge]),
            attribute("proxyAddresses", &many),
            attribute("mail", &[vec![b'c'; MAX_KEPT_VALUE_BYTES]]),
        ]);
        let entry = directory_entry(tag).expect("entry");
        assert!(entry.values("displayName").is_empty());
        assert_eq!(
            entry.dropped_values("displayName"),
            Some("a value of 65537 bytes, over the 65536 bytes certgate keeps of one value")
        );
        assert!(entry.values("proxyAddresses").is_empty());
        assert_eq!(
            entry.dropped_values("proxyAddresses"),
            Some("1049 values, over the 1048576 bytes certgate keeps of one attribute")
        );
        // At the limit: kept, for the mapping to judge.
        assert_eq!(entry.values("mail").len(), 1);
        assert_eq!(entry.dropped_values("mail"), None);
    }

    #[test]
    fn malformed_replies_are_errors_not_panics() {
        let not_an_entry = Tag::Sequence(Sequence {
            id: 5,
            class: TagClass::Application,
            inner: vec![],
        })
        .into_structure();
        let without_attributes = Tag::Sequence(Sequence {
            id: 4,
            class: TagClass::Application,
            inner: vec![octets(b"CN=A")],
        })
        .into_structure();
        let primitive_attribute = entry_tag(vec![octets(b"oops")]);
        for tag in [not_an_entry, without_attributes, primitive_attribute] {
            assert_eq!(
                directory_entry(tag).expect_err("malformed").code(),
                "directory-source-protocol-violation"
            );
        }
        for value in [&b""[..], b"\x30", b"\x04\x00", b"\x30\x03\x02\x01\x05"] {
            assert_eq!(
                paged_results_cookie(value).expect_err("malformed").code(),
                "directory-source-protocol-violation"
            );
        }
        assert_eq!(
            paged_results_cookie(b"\x30\x06\x02\x01\x05\x04\x01\xab").expect("cookie"),
            [0xab]
        );
    }
}
