//! certgate's SAML 2.0 identity-provider documents: signed Assertions and Responses, the IdP's
//! metadata, and the Microsoft 365 preset. Typed values in, canonical signed XML out; no HTTP,
//! no clock (times are passed in as [`UnixTime`]), no XML parser.
//!
//! Signatures are RSA-SHA256 over Exclusive XML Canonicalization 1.0 with the enveloped
//! transform; the documents are written directly in canonical form (see the `canonical`
//! module for why and for the rules kept).

mod assertion;
mod canonical;
mod error;
mod id;
mod instant;
mod metadata;
mod microsoft365;
mod response;
mod signature;

pub use assertion::{
    Assertion, Attribute, Authentication, AuthnContext, NameId, NameIdFormat, SignedAssertion,
    Validity,
};
pub use certgate_pki::UnixTime;
pub use error::SamlError;
pub use id::MessageId;
pub use metadata::IdpMetadata;
pub use microsoft365::{
    ImmutableId, Microsoft365Assertion, ASSERTION_CONSUMER_SERVICE as MICROSOFT365_ACS,
    AUDIENCE as MICROSOFT365_AUDIENCE, IDP_EMAIL,
};
pub use response::{Response, ResponseSigning};
pub use signature::SigningKey;
