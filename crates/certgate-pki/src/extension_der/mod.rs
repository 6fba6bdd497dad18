//! DER decoding of the certificate extensions certgate processes (RFC 5280 §4.2) and of
//! GeneralName, over borrowed bytes.
//!
//! Every processed extension either decodes completely or the certificate is rejected with
//! `cert-extension-malformed`; a critical extension that certgate does not process is recorded
//! for the validator to reject (§4.2). Unprocessed non-critical extensions are not read.

mod decode;
mod general_name;
mod index;
mod values;

pub(crate) use decode::decode_extensions;
pub(crate) use general_name::{general_names, walk_general_names, GeneralNameRef};
pub(crate) use index::{index_extensions, ExtensionIndex};
pub(crate) use values::{authority_key_id, walk_oid_list};

use crate::der::{self, tag, DerError, DerResult, Reader};
use crate::error::Reason;
use crate::oid::Oid;

/// The extensions certgate reads, recognised by encoding: matching bytes is cheaper than
/// matching dotted strings, and a certificate carries a dozen extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    SubjectKeyId,
    KeyUsage,
    SubjectAltName,
    BasicConstraints,
    NameConstraints,
    CrlDistributionPoints,
    CertificatePolicies,
    PolicyMappings,
    AuthorityKeyId,
    PolicyConstraints,
    ExtendedKeyUsage,
    FreshestCrl,
    InhibitAnyPolicy,
    /// Read (the server profile checks it) but not processed: critical means unknown.
    AuthorityInfoAccess,
    Other,
}

/// The number of kinds [`ExtensionIndex`] keeps a place for (every kind but `Other`).
const INDEXED_KINDS: usize = 14;

impl Kind {
    /// The extension's OID in dotted form (`Other` has none).
    pub(crate) fn dotted(self) -> &'static str {
        use crate::oid::known::*;
        match self {
            Kind::SubjectKeyId => EXT_SUBJECT_KEY_ID,
            Kind::KeyUsage => EXT_KEY_USAGE,
            Kind::SubjectAltName => EXT_SUBJECT_ALT_NAME,
            Kind::BasicConstraints => EXT_BASIC_CONSTRAINTS,
            Kind::NameConstraints => EXT_NAME_CONSTRAINTS,
            Kind::CrlDistributionPoints => EXT_CRL_DISTRIBUTION_POINTS,
            Kind::CertificatePolicies => EXT_CERTIFICATE_POLICIES,
            Kind::PolicyMappings => EXT_POLICY_MAPPINGS,
            Kind::AuthorityKeyId => EXT_AUTHORITY_KEY_ID,
            Kind::PolicyConstraints => EXT_POLICY_CONSTRAINTS,
            Kind::ExtendedKeyUsage => EXT_EXTENDED_KEY_USAGE,
            Kind::FreshestCrl => EXT_FRESHEST_CRL,
            Kind::InhibitAnyPolicy => EXT_INHIBIT_ANY_POLICY,
            Kind::AuthorityInfoAccess => EXT_AUTHORITY_INFO_ACCESS,
            Kind::Other => "",
        }
    }

    fn slot(self) -> Option<usize> {
        (self != Kind::Other).then_some(self as usize)
    }
}

fn kind(encoded_oid: &[u8]) -> Kind {
    match encoded_oid {
        // id-ce, 2.5.29.n
        [0x55, 0x1d, n] => match n {
            14 => Kind::SubjectKeyId,
            15 => Kind::KeyUsage,
            17 => Kind::SubjectAltName,
            19 => Kind::BasicConstraints,
            30 => Kind::NameConstraints,
            31 => Kind::CrlDistributionPoints,
            32 => Kind::CertificatePolicies,
            33 => Kind::PolicyMappings,
            35 => Kind::AuthorityKeyId,
            36 => Kind::PolicyConstraints,
            37 => Kind::ExtendedKeyUsage,
            46 => Kind::FreshestCrl,
            54 => Kind::InhibitAnyPolicy,
            _ => Kind::Other,
        },
        // id-pe-authorityInfoAccess, 1.3.6.1.5.5.7.1.1
        [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01] => Kind::AuthorityInfoAccess,
        _ => Kind::Other,
    }
}

/// Walks `Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension`, given as the SEQUENCE's
/// content: each extension's structure is checked and duplicates are refused, then
/// `visit(kind, encoded OID, critical, extnValue content)` is called.
fn walk_extensions<'a>(
    list: &'a [u8],
    mut visit: impl FnMut(Kind, &'a [u8], bool, &'a [u8]) -> Result<(), Reason>,
) -> Result<(), Reason> {
    // Duplicates: a bit per processed kind; other OIDs compared as bytes, without allocating
    // for the usual handful.
    let mut seen_kinds = 0u16;
    let mut seen_inline: [&[u8]; 8] = [&[]; 8];
    let mut seen_count = 0usize;
    let mut seen_more: Vec<&[u8]> = Vec::new();
    let mut extensions = Reader::new(list);
    let structure = |e: DerError| Reason::CertificateMalformed {
        detail: format!("extensions: {e}"),
    };
    while !extensions.is_empty() {
        // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE,
        //                          extnValue OCTET STRING }
        let mut fields = Reader::new(extensions.expect(tag::SEQUENCE).map_err(structure)?);
        let encoded_oid = fields.expect(tag::OID).map_err(structure)?;
        let kind = kind(encoded_oid);
        // A processed kind was recognised by its exact, well-formed encoding.
        if kind == Kind::Other && !crate::oid::is_well_formed(encoded_oid) {
            return Err(structure(DerError("malformed extension OID")));
        }
        // An explicit FALSE is not DER, but common enough in the wild to read as absent.
        let critical = match fields.optional(tag::BOOLEAN).map_err(structure)? {
            Some(flag) => der::boolean(flag).map_err(structure)?,
            None => false,
        };
        let value = fields.expect(tag::OCTET_STRING).map_err(structure)?;
        fields.finish().map_err(structure)?;
        let duplicate = match kind.slot() {
            Some(slot) => {
                let bit = 1u16 << slot;
                let seen = seen_kinds & bit != 0;
                seen_kinds |= bit;
                seen
            }
            None => {
                let seen = &seen_inline[..seen_count.min(seen_inline.len())];
                let duplicate = seen.contains(&encoded_oid) || seen_more.contains(&encoded_oid);
                match seen_inline.get_mut(seen_count) {
                    Some(slot) => *slot = encoded_oid,
                    None => seen_more.push(encoded_oid),
                }
                seen_count += 1;
                duplicate
            }
        };
        if duplicate {
            return Err(Reason::DuplicateExtension {
                oid: owned_oid(encoded_oid),
            });
        }
        visit(kind, encoded_oid, critical, value)?;
    }
    Ok(())
}

fn checked_oid(content: &[u8]) -> DerResult<&[u8]> {
    if crate::oid::is_well_formed(content) {
        Ok(content)
    } else {
        Err(DerError("malformed OID"))
    }
}

/// The [`Oid`] of content octets that [`checked_oid`] accepted; `is_well_formed` accepts
/// exactly what `Oid::from_der_content` decodes, so the placeholder is never used.
pub(crate) fn owned_oid(content: &[u8]) -> Oid {
    Oid::from_der_content(content).unwrap_or_else(|| Oid::new("?"))
}

/// A reader over a SEQUENCE OF that must hold at least one element.
fn non_empty(items: Reader<'_>) -> DerResult<Reader<'_>> {
    if items.is_empty() {
        Err(DerError(
            "an empty SEQUENCE OF where at least one is required",
        ))
    } else {
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid::known;

    #[test]
    fn kinds_are_the_known_extension_oids() {
        let cases = [
            (known::EXT_SUBJECT_KEY_ID, Kind::SubjectKeyId),
            (known::EXT_KEY_USAGE, Kind::KeyUsage),
            (known::EXT_SUBJECT_ALT_NAME, Kind::SubjectAltName),
            (known::EXT_BASIC_CONSTRAINTS, Kind::BasicConstraints),
            (known::EXT_NAME_CONSTRAINTS, Kind::NameConstraints),
            (
                known::EXT_CRL_DISTRIBUTION_POINTS,
                Kind::CrlDistributionPoints,
            ),
            (known::EXT_CERTIFICATE_POLICIES, Kind::CertificatePolicies),
            (known::EXT_POLICY_MAPPINGS, Kind::PolicyMappings),
            (known::EXT_AUTHORITY_KEY_ID, Kind::AuthorityKeyId),
            (known::EXT_POLICY_CONSTRAINTS, Kind::PolicyConstraints),
            (known::EXT_EXTENDED_KEY_USAGE, Kind::ExtendedKeyUsage),
            (known::EXT_FRESHEST_CRL, Kind::FreshestCrl),
            (known::EXT_INHIBIT_ANY_POLICY, Kind::InhibitAnyPolicy),
            (known::EXT_AUTHORITY_INFO_ACCESS, Kind::AuthorityInfoAccess),
            (known::EXT_ISSUER_ALT_NAME, Kind::Other),
            (known::EXT_SUBJECT_INFO_ACCESS, Kind::Other),
        ];
        for (dotted, expected) in cases {
            let encoded = crate::oid::encode(dotted).expect("a well-formed OID");
            assert!(kind(&encoded) == expected, "{dotted}");
        }
    }
}
