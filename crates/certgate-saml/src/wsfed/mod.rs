//! WS-Federation passive requestor profile (OASIS WS-Federation 1.2 §13), the protocol AD FS
//! speaks to Microsoft 365 by default: the sign-in request parameters, the SAML 1.1 Assertion
//! (OASIS SAML 1.1 core) inside a WS-Trust 2005/02 RequestSecurityTokenResponse that the
//! browser posts back as `wresult`, and the `FederationMetadata.xml` document (§3.1).
//!
//! Same rules as the SAML 2.0 documents: typed values in, canonical signed XML out (see the
//! `canonical` module), no HTTP, no clock, no XML parser.

mod metadata;
mod microsoft365;
mod request;
mod rstr;
mod saml11;

pub use metadata::{FederationMetadata, OfferedClaimType, Saml2IdpRole};
pub use microsoft365::{
    CertificateClaims, Microsoft365WsFedAssertion, SignInMethod, AUTHENTICATION_METHODS_REFERENCES,
    CERTIFICATE_ISSUER, CERTIFICATE_SERIAL_NUMBER, IMMUTABLE_ID, UPN,
};
pub use request::{
    Freshness, RequestedAuthentication, SignInRequest, SignOutRequest, WsFedRequest,
};
pub use saml11::{AuthenticationMethod, Claim, ClaimType, Saml11Assertion, SignedSaml11Assertion};
