//! Object identifiers in their dotted form.

use std::borrow::Cow;
use std::fmt;
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
        let encoded = oid.as_bytes();
        match common_oids()
            .iter()
            .find(|(der, _)| der.as_slice() == encoded)
        {
            Some((_, dotted)) => Oid(Cow::Borrowed(dotted)),
            None => Oid(Cow::Owned(oid.to_id_string())),
        }
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

fn common_oids() -> &'static [(Vec<u8>, &'static str)] {
    static TABLE: OnceLock<Vec<(Vec<u8>, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        known::ALL
            .iter()
            .chain(COMMON)
            .map(|dotted| (encode(dotted), *dotted))
            .collect()
    })
}

/// DER content octets of a dotted OID from the tables above (X.690 §8.19).
fn encode(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|arc| arc.parse().expect("the OID tables hold well-formed OIDs"))
        .collect();
    let mut out = Vec::new();
    let first = arcs[0] * 40 + arcs[1];
    for arc in std::iter::once(first).chain(arcs[2..].iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    out
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Well-known OIDs used by the validation rules.
pub mod known {
    pub const ANY_POLICY: &str = "2.5.29.32.0";
    pub const EKU_ANY: &str = "2.5.29.37.0";
    pub const EKU_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
    pub const EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
    pub const EKU_EMAIL_PROTECTION: &str = "1.3.6.1.5.5.7.3.4";
    /// Microsoft's User Principal Name, carried in a SAN otherName.
    pub const UPN: &str = "1.3.6.1.4.1.311.20.2.3";

    pub const EXT_SUBJECT_KEY_ID: &str = "2.5.29.14";
    pub const EXT_KEY_USAGE: &str = "2.5.29.15";
    pub const EXT_SUBJECT_ALT_NAME: &str = "2.5.29.17";
    pub const EXT_ISSUER_ALT_NAME: &str = "2.5.29.18";
    pub const EXT_BASIC_CONSTRAINTS: &str = "2.5.29.19";
    pub const EXT_CRL_NUMBER: &str = "2.5.29.20";
    pub const EXT_REASON_CODE: &str = "2.5.29.21";
    pub const EXT_INVALIDITY_DATE: &str = "2.5.29.24";
    pub const EXT_DELTA_CRL_INDICATOR: &str = "2.5.29.27";
    pub const EXT_ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";
    pub const EXT_CERTIFICATE_ISSUER: &str = "2.5.29.29";
    pub const EXT_NAME_CONSTRAINTS: &str = "2.5.29.30";
    pub const EXT_CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
    pub const EXT_CERTIFICATE_POLICIES: &str = "2.5.29.32";
    pub const EXT_POLICY_MAPPINGS: &str = "2.5.29.33";
    pub const EXT_AUTHORITY_KEY_ID: &str = "2.5.29.35";
    pub const EXT_POLICY_CONSTRAINTS: &str = "2.5.29.36";
    pub const EXT_EXTENDED_KEY_USAGE: &str = "2.5.29.37";
    pub const EXT_FRESHEST_CRL: &str = "2.5.29.46";
    pub const EXT_INHIBIT_ANY_POLICY: &str = "2.5.29.54";
    pub const EXT_AUTHORITY_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.1";
    pub const EXT_SUBJECT_INFO_ACCESS: &str = "1.3.6.1.5.5.7.1.11";

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
        for (der, dotted) in common_oids() {
            let parsed = ParserOid::new(Cow::Borrowed(der.as_slice()));
            assert_eq!(parsed.to_id_string(), *dotted);
            assert!(matches!(Oid::from_parser(&parsed).0, Cow::Borrowed(_)));
        }
        // Not in the table: formatted, with the same result.
        let other = ParserOid::new(Cow::Borrowed(&[0x2a, 0x03, 0x04][..]));
        assert_eq!(Oid::from_parser(&other).as_str(), "1.2.3.4");
    }
}
