//! certgate's SAML 2.0 identity-provider documents: signed Assertions and Responses, the IdP's
//! metadata, and the Microsoft 365 preset. Typed values in, canonical signed XML out; no HTTP,
//! no clock (times are passed in as [`UnixTime`]).
//!
//! The input side reads what service providers send — AuthnRequests (HTTP-POST and
//! HTTP-Redirect), LogoutRequests, SP metadata — with a bounded XML reader and verifies
//! their signatures with the SP's certificates (enveloped XML-DSig over exclusive C14N, or
//! the Redirect binding's query signature); see [`AuthnRequest`] and [`Received`].
//!
//! Signatures are RSA-SHA256 over Exclusive XML Canonicalization 1.0 with the enveloped
//! transform; the documents are written directly in canonical form (see the `canonical`
//! module for why and for the rules kept).

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod assertion;
mod authn_context;
mod binding;
mod canonical;
mod dsig_verify;
mod error;
mod id;
mod instant;
mod logout;
mod metadata;
mod microsoft365;
mod request;
mod response;
mod signature;
mod sp_metadata;
pub mod wsfed;
mod xml_in;

pub use assertion::{
    Assertion, Attribute, Authentication, AuthnContext, NameId, NameIdFormat, SignedAssertion,
    Validity,
};
pub use authn_context::AuthnContextDecision;
pub use binding::Received;
pub use certgate_pki::UnixTime;
pub use dsig_verify::{exclusive_canonical_form, verify_enveloped_signature};
pub use error::SamlError;
pub use id::MessageId;
pub use logout::{LogoutNameId, LogoutRequest, LogoutResponse, StatusCode};
pub use metadata::IdpMetadata;
pub use microsoft365::{
    ImmutableId, Microsoft365Assertion, ASSERTION_CONSUMER_SERVICE as MICROSOFT365_ACS,
    AUDIENCE as MICROSOFT365_AUDIENCE, IDP_EMAIL,
};
pub use request::{AuthnContextComparison, AuthnRequest, RequestedAuthnContext};
pub use response::{FailureStatus, Response, ResponseSigning};
pub use signature::SigningKey;
pub use sp_metadata::{Endpoint, IndexedEndpoint, SpMetadata};

/// Every reason code this crate answers with, by error type (see
/// [`certgate_pki::ReasonCode`]).
pub fn reason_codes() -> Vec<certgate_pki::CodeList> {
    vec![("certgate_saml::SamlError", SamlError::CODES)]
}
