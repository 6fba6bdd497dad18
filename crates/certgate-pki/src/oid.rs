//! Object identifiers in their dotted form.

use std::fmt;

/// An object identifier, held in dotted-decimal form (`2.5.29.32.0`).
///
/// Dotted strings make policy sets, EKU lists and explain output readable without a lookup
/// table; certificates carry only a handful, so the allocation is not on any hot path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(String);

impl Oid {
    /// Wraps a dotted-decimal string. The caller is trusted to pass a well-formed OID.
    pub fn new(dotted: impl Into<String>) -> Self {
        Oid(dotted.into())
    }

    /// The dotted-decimal form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_parser(oid: &x509_parser::der_parser::oid::Oid<'_>) -> Self {
        Oid(oid.to_id_string())
    }
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
}
