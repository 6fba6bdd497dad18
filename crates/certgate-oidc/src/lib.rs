//! certgate-oidc: the OpenID Connect provider as typed requests and typed responses. No web
//! framework inside: the server's handlers extract the parameters, call one [`Provider`]
//! method and write what it returns.
//!
//! - Keys: ES256 signing keys sealed at rest, rotated Next → Current → Retired with overlap,
//!   published as a JWKS ([`KeyRing`], [`Provider::rotate_keys`], [`Provider::jwks`]).
//! - Clients: confidential (secret shown once, stored hashed) or public (PKCE S256 required),
//!   exact redirect URIs ([`NewClient`], [`Provider::register_client`]).
//! - Authorization endpoint: [`Provider::authorize`] → [`AuthorizationRequest`] or
//!   [`AuthorizationError`] (shown or redirected, RFC 6749 §4.1.2.1);
//!   [`AuthorizationRequest::sign_in_step`] decides between a fresh certificate sign-in, the
//!   confirmation page and issuing the code; [`Provider::issue_code`].
//! - Token endpoint: [`TokenRequest::parse`] and [`Provider::token`] → [`TokenResponse`] or
//!   [`TokenError`]: codes are single use, refresh tokens rotate with reuse detection and are
//!   refused when the user is disabled, signed in before StsRefreshTokensValidFrom, or the
//!   certificate is revoked ([`RefreshPolicy`]).
//! - [`Provider::userinfo`], [`Provider::end_session`], [`Provider::discovery`].
//! - Storage: the [`OidcStore`] port (SQLite and PostgreSQL in certgate-store).
//!
//! Time is always a parameter; nothing here reads the clock.

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod authorize;
mod client;
mod discovery;
mod end_session;
mod exchange;
mod grant;
mod parameters;
mod pkce;
mod policy;
mod provider;
mod scope;
mod secret;
mod sign_in;
mod signing_key;
mod store;
mod token;
mod userinfo;

pub use authorize::{
    AuthorizationError, AuthorizationErrorCode, AuthorizationParameters, AuthorizationRequest,
    AuthorizationResponse, ErrorPage, ErrorRedirect, Prompt, Session, SignInStep,
};
pub use client::{
    check_redirect_uri, register, Client, ClientError, ClientId, ClientKind, ClientType,
    ConsentPrompt, NewClient, RegisteredClient, TokenLifetimes, MAX_REFRESH_LIFETIME,
};
pub use discovery::{
    discovery_document, DiscoveryDocument, Endpoints, Issuer, IssuerInvalid, AUTHORIZATION_PATH,
    CLAIMS_SUPPORTED, DISCOVERY_PATH, END_SESSION_PATH, JWKS_PATH, TOKEN_PATH, USERINFO_PATH,
};
pub use end_session::{EndSession, EndSessionError};
pub use grant::{
    CodeRecord, CodeRedemption, GrantId, GrantRecord, GrantRevocation, RefreshRotation,
    RefreshTokenRecord, CODE_LIFETIME, REVOKED_CODE_REUSED, REVOKED_REFRESH_TOKEN_REUSED,
};
pub use pkce::{CodeChallenge, PkceError};
pub use policy::{
    judge, AccountState, CertificateStatus, GrantRefusal, PolicyUnavailable, RefreshPolicy,
    UserStatus,
};
pub use provider::{
    delete_client, register_client, Provider, ProviderConfig, ProviderError, ACTOR_PROVIDER,
};
pub use scope::{ScopeMalformed, ScopeSet, EMAIL, OFFLINE_ACCESS, OPENID, PROFILE};
pub use secret::{RandomUnavailable, Secret, SecretHash};
pub use sign_in::{
    Assurance, Authentication, CertificateKind, CertificateRef, ObjectId, SecondFactor, UserClaims,
    ACR_CERTIFICATE, ACR_MFA,
};
pub use signing_key::{
    initial_keys, plan_rotation, rollover_policy, Jwk, JwkSet, KeyError, KeyId, KeyRing,
    KeyRotation, KeyState, SigningKeyRecord, TokenInvalid, KEY_ROTATION_PERIOD, SIGNING_ALGORITHM,
};
pub use store::OidcStore;
pub use token::{
    AccessTokenClaims, ClientAuthentication, Grant, IdTokenClaims, TokenError, TokenErrorBody,
    TokenErrorCode, TokenRequest, TokenResponse, ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE,
};
pub use userinfo::{BearerErrorCode, UserInfo, UserInfoError};

/// `UnixTime` as a JSON number of seconds (for the types the server keeps between requests).
mod unix_time {
    use certgate_pki::UnixTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        at: &UnixTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(at.0)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<UnixTime, D::Error> {
        i64::deserialize(deserializer).map(UnixTime)
    }
}

/// Every reason code this crate answers with, by error type (see
/// [`certgate_pki::ReasonCode`]).
pub fn reason_codes() -> Vec<certgate_pki::CodeList> {
    vec![
        ("certgate_oidc::ProviderError", ProviderError::CODES),
        ("certgate_oidc::ClientError", ClientError::CODES),
        ("certgate_oidc::KeyError", KeyError::CODES),
        ("certgate_oidc::TokenInvalid", TokenInvalid::CODES),
        ("certgate_oidc::GrantRefusal", GrantRefusal::CODES),
        ("certgate_oidc::PkceError", PkceError::CODES),
    ]
}
