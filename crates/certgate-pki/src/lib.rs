//! certgate-pki: RFC 5280 certification path validation, CRL revocation checking and the
//! identity fields of client certificates.
//!
//! The crate is pure: no I/O, no clock, no async. Time is always a parameter.

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod certificate;
mod crl;
mod csr;
mod der;
mod distribution_point;
mod encoding;
mod error;
mod extension_der;
mod identity;
mod name;
mod name_constraints;
mod oid;
mod policy;
mod profile;
mod reason_code;
mod revocation;
mod server_profile;
mod signature;
mod trust_store;
mod validate;

pub use certificate::{
    AccessDescription, AlgorithmIdentifier, AuthorityInfoAccess, AuthorityKeyId, BasicConstraints,
    Certificate, DistributionPoint, DistributionPointName, Extensions, GeneralName, KeyUsage,
    NameConstraints, PolicyConstraints, PolicyInformation, PolicyMapping, PublicKeyInfo, ReasonSet,
    SharedBytes, UnixTime,
};
pub use crl::{Crl, IssuingDistributionPoint, RevocationReason, RevokedEntry};
pub use csr::{CertificationRequest, CsrError, RequestedKey, MAX_CSR_DER_BYTES, MIN_CSR_RSA_BITS};
pub use der::tlv as der_tlv;
pub use encoding::{parse_certificates, parse_crl_bundle, parse_crls, CrlBundle, UnusableCrl};
pub use error::Reason;
pub use identity::{CertificateUserId, Identity};
pub use name::{Name, NameAttribute};
pub use oid::{known, Oid};
pub use policy::{PolicyOutcome, PolicySettings};
pub use profile::{
    check_intermediate_ca, check_trust_anchor, is_preferred_dns_name, ProfileExceptions,
};
pub use reason_code::{CodeList, ReasonCode};
pub use revocation::RevocationSnapshot;
pub use signature::{AlgorithmPolicy, LegacyAlgorithms};
pub use trust_store::{CaKind, TrustStore};
pub use validate::{
    validate, validate_explained, Check, ExpectedName, Explanation, MissingEku, PathAttempt,
    PathBudget, Purpose, Rejection, RevocationDepth, RevocationStatus, ValidatedPath,
    ValidationPolicy,
};

/// Every reason code this crate answers with, by error type (see [`ReasonCode`]).
pub fn reason_codes() -> Vec<CodeList> {
    vec![
        ("certgate_pki::Reason", Reason::CODES),
        ("certgate_pki::Rejection", Rejection::CODES),
        ("certgate_pki::CsrError", CsrError::CODES),
    ]
}
