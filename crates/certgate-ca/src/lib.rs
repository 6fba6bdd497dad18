//! certgate-ca: certgate's built-in CA (the AD CS role).
//!
//! It creates a root and an issuing CA ([`create_hierarchy`]), issues client-authentication
//! certificates with the user's UPN and e-mail ([`issue_client_certificate`], or for a key the
//! requester holds: [`issue_client_certificate_for_key`]), writes certs-only CMS bundles
//! ([`certs_only`], for EST), signs base and delta CRLs ([`sign_crl`]), packs a certificate
//! and key into PKCS#12 ([`pkcs12`]), signs
//! content as CMS SignedData ([`cms_sign`], for signed configuration profiles) and seals
//! private keys at rest ([`sealed_key`]).
//!
//! The crate is pure: it returns bytes and persists nothing, does no network I/O and reads no
//! clock (time is always a parameter). It uses randomness for keys, serial numbers, salts and
//! nonces. Everything it writes is checked in its tests by certgate-pki's validator and by
//! OpenSSL.

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod authority;
mod certificate;
mod cms;
mod cms_certs;
mod crl;
mod der;
mod end_entity;
mod error;
mod hierarchy;
mod key;
mod pkcs12;
pub mod sealed_key;
mod server;
mod token_signing;

pub use authority::Authority;
pub use certgate_pki::RevocationReason;
pub use cms::cms_sign;
pub use cms_certs::certs_only;
pub use crl::{sign_crl, CrlRequest, RevokedSerial};
pub use end_entity::{
    issue_client_certificate, issue_client_certificate_for_key, ClientCertificateRequest,
    IssuedCertificate, IssuedForKey,
};
pub use error::CaError;
pub use hierarchy::{create_hierarchy, Hierarchy, HierarchyRequest};
pub use key::KeyAlgorithm;
pub use pkcs12::{pkcs12, pkcs12_with_encryption, Pkcs12Encryption};
pub use server::{issue_server_certificate, ServerCertificateRequest};
pub use token_signing::create_token_signing_certificate;

/// Every reason code this crate answers with, by error type (see
/// [`certgate_pki::ReasonCode`]).
pub fn reason_codes() -> Vec<certgate_pki::CodeList> {
    vec![("certgate_ca::CaError", CaError::CODES)]
}
