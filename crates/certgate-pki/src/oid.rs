//! Object identifiers in their dotted form.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;
use std::sync::OnceLock;

/// An object identifier, held in dotted-decimal form (`2.5.29.32.0`).
///
/// Dotted strings make policy sets, EKU lists and explain output readable without a lookup
/// table. Formatting an OID is the most expensive part of decoding a certificate, though, so
/// the OIDs that nearly every certificate carries (name attributes, extensions, algorithms)
/// are recognised by their encoding and borrowed from a static table instead.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(Cow<'static, str>);

impl Oid {
    /// Wraps a dotted-decimal string. The caller is trusted to pass a well-formed OID.
    pub fn new(dotted: impl Into<String>) -> Self {
        Oid(Cow::Owned(dotted.into()))
    }

    /// The dotted-decimal form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_parser(oid: &x509_parser::der_parser::oid::Oid<'_>) -> Self {
        match common_oid(oid.as_bytes()) {
            Some(dotted) => Oid(Cow::Borrowed(dotted)),
            None => Oid(Cow::Owned(oid.to_id_string())),
        }
    }

    /// The OID whose DER content octets are `encoded` (X.690 §8.19), or `None` when they are
    /// not a well-formed OID: empty, a subidentifier with a leading 0x80 octet (not minimal),
    /// a last octet with its continuation bit set, or an arc beyond 128 bits (UUID arcs under
    /// 2.25 are the largest in use).
    pub(crate) fn from_der_content(encoded: &[u8]) -> Option<Self> {
        if let Some(dotted) = common_oid(encoded) {
            return Some(Oid(Cow::Borrowed(dotted)));
        }
        let mut dotted = String::with_capacity(encoded.len() * 3);
        let mut arc: u128 = 0;
        let mut at_start = true;
        let mut first = true;
        for &octet in encoded {
            if at_start && octet == 0x80 {
                return None;
            }
            if arc >> 121 != 0 {
                return None;
            }
            arc = (arc << 7) | u128::from(octet & 0x7f);
            at_start = octet & 0x80 == 0;
            if at_start {
                if first {
                    // X.690 §8.19.4: the first subidentifier packs two arcs.
                    let (top, second) = match arc {
                        0..=39 => (0, arc),
                        40..=79 => (1, arc - 40),
                        _ => (2, arc - 80),
                    };
                    let _ = write!(dotted, "{top}.{second}");
                    first = false;
                } else {
                    let _ = write!(dotted, ".{arc}");
                }
                arc = 0;
            }
        }
        (!first && at_start).then_some(Oid(Cow::Owned(dotted)))
    }
}

/// OIDs seen in almost every certificate, beyond those in [`known`].
const COMMON: &[&str] = &[
    "2.5.4.3",                    // commonName
    "2.5.4.5",                    // serialNumber
    "2.5.4.6",                    // countryName
    "2.5.4.7",                    // localityName
    "2.5.4.8",                    // stateOrProvinceName
    "2.5.4.10",                   // organizationName
    "2.5.4.11",                   // organizationalUnitName
    "0.9.2342.19200300.100.1.25", // domainComponent
    "0.9.2342.19200300.100.1.1",  // userId
    "1.2.840.113549.1.1.1",       // rsaEncryption
    "1.2.840.113549.1.1.10",      // RSASSA-PSS
    "1.2.840.113549.1.1.11",      // sha256WithRSAEncryption
    "1.2.840.113549.1.1.12",      // sha384WithRSAEncryption
    "1.2.840.113549.1.1.13",      // sha512WithRSAEncryption
    "1.2.840.10045.2.1",          // ecPublicKey
    "1.2.840.10045.3.1.7",        // P-256
    "1.3.132.0.34",               // P-384
    "1.2.840.10045.4.3.2",        // ecdsa-with-SHA256
    "1.2.840.10045.4.3.3",        // ecdsa-with-SHA384
    "1.3.101.112",                // Ed25519
    "1.3.6.1.4.1.11129.2.4.2",    // certificate transparency SCTs
    "1.3.6.1.4.1.311.21.7",       // Microsoft certificate template
    "1.3.6.1.4.1.311.21.10",      // Microsoft application policies
    "1.3.6.1.4.1.311.20.2",       // Microsoft certificate template name
];

/// The tables above keyed by encoding, sorted so that a lookup is a binary search over
/// integers (see [`table_key`]).
fn common_oids() -> &'static [(u128, &'static str)] {
    static TABLE: OnceLock<Vec<(u128, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<(u128, &'static str)> = known::ALL
            .iter()
            .chain(COMMON)
            .filter_map(|dotted| Some((table_key(&encode(dotted)?)?, *dotted)))
            .collect();
        table.sort_unstable();
        table.dedup();
        table
    })
}

/// An encoding of at most 15 octets as one integer: the octets, then the length in the last
/// byte, so that different encodings never share a key. Certificates carry a dozen or more
/// OIDs each, and comparing integers instead of slices halves the cost of reading one.
fn table_key(encoded: &[u8]) -> Option<u128> {
    if encoded.len() > 15 {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..encoded.len()].copy_from_slice(encoded);
    bytes[15] = encoded.len() as u8;
    Some(u128::from_be_bytes(bytes))
}

/// The dotted form of a table OID, without allocating; `None` for any other.
pub(crate) fn common_oid(encoded: &[u8]) -> Option<&'static str> {
    let key = table_key(encoded)?;
    let table = common_oids();
    table
        .binary_search_by(|(candidate, _)| candidate.cmp(&key))
        .ok()
        .and_then(|index| table.get(index))
        .map(|(_, dotted)| *dotted)
}

/// DER content octets of a dotted OID (X.690 §8.19); `None` when `dotted` is not one.
pub(crate) fn encode(dotted: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u128> = dotted
        .split('.')
        .map(|arc| arc.parse().ok())
        .collect::<Option<_>>()?;
    let (&top, rest) = arcs.split_first()?;
    let (&second, rest) = rest.split_first()?;
    if top > 2 || (top < 2 && second > 39) {
        return None;
    }
    let first = (top * 40).checked_add(second)?;
    let mut out = Vec::new();
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    Some(out)
}

/// True when `encoded` is well-formed OID content (what [`Oid::from_der_content`] accepts),
/// checked without building the dotted form.
pub(crate) fn is_well_formed(encoded: &[u8]) -> bool {
    // A subidentifier of n octets carries 7n bits: up to 18 octets always fit in 128 bits,
    // 19 only when the first carries at most 2 bits (0x80..=0x83), more never.
    let mut group_length = 0usize;
    let mut group_first = 0u8;
    for &octet in encoded {
        if group_length == 0 {
            if octet == 0x80 {
                return false;
            }
            group_first = octet;
        }
        group_length += 1;
        if group_length > 19 || (group_length == 19 && group_first > 0x83) {
            return false;
        }
        if octet & 0x80 == 0 {
            group_length = 0;
        }
    }
    !encoded.is_empty() && group_length == 0
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Well-known OIDs used by the validation rules.
pub mod known {
    /// anyPolicy (RFC 5280 §4.2.1.4): stands for every policy unless inhibitAnyPolicy says not.
    pub const ANY_POLICY: &str = "2.5.29.32.0";
    /// anyExtendedKeyUsage (§4.2.1.12): any purpose.
    pub const EKU_ANY: &str = "2.5.29.37.0";
    /// id-kp-serverAuth (§4.2.1.12): TLS server authentication.
    pub const EKU_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
    /// id-kp-clientAuth (§4.2.1.12): TLS client authentication, what a sign-in certificate needs.
    pub const EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
    /// id-kp-emailProtection (§4.2.1.12): S/MIME.
    pub const EKU_EMAIL_PROTECTION: &str = "1.3.6.1.5.5.7.3.4";
    /// Microsoft's User Principal Name, carried in a SAN otherName.
    pub const UPN: &str = "1.3.6.1.4.1.311.20.2.3";

    /// subjectKeyIdentifier (RFC 5280 §4.2.1.2).
    pub const EXT_SUBJECT_KEY_ID: &str = "2.5.29.14";
    /// keyUsage (§4.2.1.3).
    pub const EXT_KEY_USAGE: &str = "2.5.29.15";
    /// subjectAltName (§4.2.1.6).
    pub const EXT_SUBJECT_ALT_NAME: &str = "2.5.29.17";
    /// issuerAltName (§4.2.1.7).
    pub const EXT_ISSUER_ALT_NAME: &str = "2.5.29.18";
    /// basicConstraints (§4.2.1.9).
    pub const EXT_BASIC_CONSTRAINTS: &str = "2.5.29.19";
    /// cRLNumber, a CRL extension (§5.2.3).
    pub const EXT_CRL_NUMBER: &str = "2.5.29.20";
    /// reasonCode, a CRL entry extension (§5.3.1).
    pub const EXT_REASON_CODE: &str = "2.5.29.21";
    /// invalidityDate, a CRL entry extension (§5.3.2).
    pub const EXT_INVALIDITY_DATE: &str = "2.5.29.24";
    /// deltaCRLIndicator, a CRL extension marking a delta CRL (§5.2.4).
    pub const EXT_DELTA_CRL_INDICATOR: &str = "2.5.29.27";
    /// issuingDistributionPoint, a CRL extension (§5.2.5).
    pub const EXT_ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";
    /// certificateIssuer, an indirect CRL's entry extension (§5.3.3).
    pub const EXT_CERTIFICATE_ISSUER: &str = "2.5.29.29";
    /// nameConstraints (§4.2.1.10).
    pub const EXT_NAME_CONSTRAINTS: &str = "2.5.29.30";
    /// cRLDistributionPoints (§4.2.1.13).
    pub const EXT_CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
    /// certificatePolicies (§4.2.1.4).
    pub const EXT_CERTIFICATE_POLICIES: &str = "2.5.29.32";
    /// policyMappings (§4.2.1.5).
    pub const EXT_POLICY_MAPPINGS: &str = "2.5.29.33";
    /// authorityKeyIdentifier (§4.2.1.1, §5.2.1).
    pub const EXT_AUTHORITY_KEY_ID: &str = "2.5.29.35";
    /// policyConstraints (§4.2.1.11).
    pub const EXT_POLICY_CONSTRAINTS: &str = "2.5.29.36";
    /// extKeyUsage (§4.2.1.12).
    pub const EXT_EXTENDED_KEY_USAGE: &str = "2.5.29.37";
    /// freshestCRL, where delta CRLs are (§4.2.1.15, §5.2.6).
    pub const EXT_FRESHEST_CRL: &str = "2.5.29.46";
    /// inhibitAnyPolicy (§4.2.1.14).
    pub const EXT_INHIBIT_ANY_POLICY: &str = "2.5.29.54";
    /// authorityInfoAccess (§4.2.2.1, §5.2.7).
    pub const EXT_AUTHORITY_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.1";
    /// subjectInfoAccess (§4.2.2.2).
    pub const EXT_SUBJECT_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.11";

    /// emailAddress (PKCS #9), a legacy name attribute; RFC 5280 §4.2.1.10 makes rfc822Name
    /// constraints apply to it.
    pub const ATTR_EMAIL_ADDRESS: &str = "1.2.840.113549.1.9.1";

    /// Every constant above, for recognising them by encoding.
    pub(crate) const ALL: &[&str] = &[
        ANY_POLICY,
        EKU_ANY,
        EKU_SERVER_AUTH,
        EKU_CLIENT_AUTH,
        EKU_EMAIL_PROTECTION,
        UPN,
        EXT_SUBJECT_KEY_ID,
        EXT_KEY_USAGE,
        EXT_SUBJECT_ALT_NAME,
        EXT_ISSUER_ALT_NAME,
        EXT_BASIC_CONSTRAINTS,
        EXT_CRL_NUMBER,
        EXT_REASON_CODE,
        EXT_INVALIDITY_DATE,
        EXT_DELTA_CRL_INDICATOR,
        EXT_ISSUING_DISTRIBUTION_POINT,
        EXT_CERTIFICATE_ISSUER,
        EXT_NAME_CONSTRAINTS,
        EXT_CRL_DISTRIBUTION_POINTS,
        EXT_CERTIFICATE_POLICIES,
        EXT_POLICY_MAPPINGS,
        EXT_AUTHORITY_KEY_ID,
        EXT_POLICY_CONSTRAINTS,
        EXT_EXTENDED_KEY_USAGE,
        EXT_FRESHEST_CRL,
        EXT_INHIBIT_ANY_POLICY,
        EXT_AUTHORITY_INFO_ACCESS,
        EXT_SUBJECT_INFO_ACCESS,
        ATTR_EMAIL_ADDRESS,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::der_parser::oid::Oid as ParserOid;

    #[test]
    fn table_encodings_round_trip_through_the_parser() {
        for dotted in known::ALL.iter().chain(COMMON) {
            let der = encode(dotted).unwrap();
            assert_eq!(common_oid(&der), Some(*dotted));
            let parsed = ParserOid::new(Cow::Borrowed(der.as_slice()));
            assert_eq!(parsed.to_id_string(), *dotted);
            assert!(matches!(Oid::from_parser(&parsed).0, Cow::Borrowed(_)));
        }
        // Not in the table: formatted, with the same result.
        let other = ParserOid::new(Cow::Borrowed(&[0x2a, 0x03, 0x04][..]));
        assert_eq!(Oid::from_parser(&other).as_str(), "1.2.3.4");
    }

    #[test]
    fn der_content_decodes_like_the_parser() {
        let cases: &[&[u8]] = &[
            &[0x2a, 0x03, 0x04],
            &[0x55, 0x1d, 0x20, 0x00],
            &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x14, 0x02, 0x03],
            &[0x69, 0x83, 0xff, 0xff, 0xff, 0x7f], // 2.25.<28 bits>
        ];
        for encoded in cases {
            let parsed = ParserOid::new(Cow::Borrowed(*encoded));
            assert_eq!(
                Oid::from_der_content(encoded).unwrap().as_str(),
                parsed.to_id_string(),
                "{encoded:02x?}"
            );
        }
        // A UUID arc (2.25.<128 bits>) is the largest kind in use.
        let mut uuid = encode(&format!("2.25.{}", u128::MAX)).unwrap();
        assert_eq!(
            Oid::from_der_content(&uuid).unwrap().as_str(),
            format!("2.25.{}", u128::MAX)
        );
        assert!(is_well_formed(&uuid));
        uuid.insert(1, 0x81);
        assert_eq!(Oid::from_der_content(&uuid), None, "129-bit arc");
        assert!(!is_well_formed(&uuid));
        for malformed in [&[][..], &[0x2a, 0x80, 0x01], &[0x2a, 0x83], &[0x80, 0x01]] {
            assert_eq!(Oid::from_der_content(malformed), None, "{malformed:02x?}");
            assert!(!is_well_formed(malformed), "{malformed:02x?}");
        }
        for encoded in cases {
            assert!(is_well_formed(encoded));
        }
        // The quick check and the decoder agree on arbitrary bytes (a fixed-seed generator,
        // continuation bits and long subidentifiers made likely).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 24) as usize;
            let bytes: Vec<u8> = (0..length)
                .map(|i| {
                    let byte = (state >> (i % 8 * 8)) as u8;
                    if (state >> (i % 60)) & 3 != 0 {
                        byte | 0x80
                    } else {
                        byte
                    }
                })
                .collect();
            assert_eq!(
                is_well_formed(&bytes),
                Oid::from_der_content(&bytes).is_some(),
                "{bytes:02x?}"
            );
        }
        // A first subidentifier of two octets: x509-parser's formatter gets this one wrong
        // (it reads "3.16.55.1"), X.690 §8.19.4 says 2.999.
        assert_eq!(
            Oid::from_der_content(&[0x88, 0x37, 0x01]).unwrap().as_str(),
            "2.999.1"
        );
        assert_eq!(encode("2.999.1").unwrap(), [0x88, 0x37, 0x01]);
        // x509-parser prints a lone first subidentifier 0 as "0"; it is arcs 0.0.
        assert_eq!(Oid::from_der_content(&[0x00]).unwrap().as_str(), "0.0");
    }
}
