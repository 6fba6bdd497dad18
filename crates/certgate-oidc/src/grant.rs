//! Authorization codes, grants and refresh tokens as stored.
//!
//! A *grant* is what one certificate sign-in gave one client: created when its code is
//! redeemed, it holds the sign-in facts every later token repeats. Its refresh tokens form one
//! family: each use replaces the token with a new one (RFC 9700 §4.14.2), and a replaced token
//! presented again revokes the whole grant (the legitimate client and an attacker hold the same
//! family; certgate cannot tell which is which, so both lose it). A code presented twice
//! revokes the grant made from it (RFC 6749 §4.1.2).

use std::fmt;
use std::time::Duration;

use certgate_pki::UnixTime;
use serde::{Deserialize, Serialize};

use crate::client::ClientId;
use crate::pkce::CodeChallenge;
use crate::scope::ScopeSet;
use crate::secret::{base64url, random_bytes, RandomUnavailable, SecretHash};
use crate::sign_in::Authentication;

/// How long an authorization code can be redeemed (RFC 6749 §4.1.2 recommends at most ten
/// minutes; the redirect back takes seconds).
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// An authorization code as stored (the code itself only as its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRecord {
    /// SHA-256 of the code; the code is looked up by it.
    pub hash: SecretHash,
    /// The client the code was issued to; only it may redeem it.
    pub client_id: ClientId,
    /// The request's `redirect_uri`; the token request must send the same (RFC 6749 §4.1.3).
    pub redirect_uri: String,
    /// The scopes granted by the request.
    pub scopes: ScopeSet,
    /// The request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// The PKCE challenge the token request's `code_verifier` must match (RFC 7636 §4.6).
    pub code_challenge: Option<CodeChallenge>,
    /// The sign-in the code was issued after.
    pub authentication: Authentication,
    /// When the code was issued.
    pub issued_at: UnixTime,
    /// After this the code is refused ([`CODE_LIFETIME`] after issue).
    pub expires_at: UnixTime,
    /// When it was redeemed; a second redemption revokes the grant made by the first.
    pub used_at: Option<UnixTime>,
}

/// A grant's identifier: 16 random bytes, base64url. It is in every access token
/// (`grant_id`) so that userinfo can refuse tokens of a revoked grant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GrantId(pub String);

impl GrantId {
    /// A fresh random grant ID.
    pub fn generate() -> Result<GrantId, RandomUnavailable> {
        Ok(GrantId(base64url(&random_bytes::<16>()?)))
    }

    /// The ID as stored and as the access token's `grant_id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why and when a grant was revoked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRevocation {
    /// When it was revoked.
    pub at: UnixTime,
    /// A reason code: `code-reused`, `refresh-token-reused`, ...
    pub reason: String,
}

/// A grant as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    /// The grant's ID, also in its access tokens.
    pub id: GrantId,
    /// The code it was made from (for revocation when the code is replayed).
    pub code_hash: SecretHash,
    /// The client the grant was made for; only it may refresh.
    pub client_id: ClientId,
    /// The scopes granted; a refresh may ask for fewer, never more (RFC 6749 §6).
    pub scopes: ScopeSet,
    /// The sign-in the grant was made from, repeated in every token and checked again at each
    /// refresh.
    pub authentication: Authentication,
    /// When the code was redeemed.
    pub created_at: UnixTime,
    /// After this, nothing issued from the grant is accepted (refresh lifetime counted from
    /// the sign-in, or the access token lifetime when no refresh token was issued).
    pub expires_at: UnixTime,
    /// Set once the grant is revoked; nothing issued from it is accepted after that.
    pub revoked: Option<GrantRevocation>,
}

/// A refresh token as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token; the token is looked up by it.
    pub hash: SecretHash,
    /// The grant the token refreshes.
    pub grant_id: GrantId,
    /// When the token was issued.
    pub issued_at: UnixTime,
    /// Set when it was exchanged for its successor; presenting it again is reuse.
    pub used_at: Option<UnixTime>,
}

/// The outcome of marking a code used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRedemption {
    /// This call marked it used and stored the grant.
    Redeemed,
    /// It was already used: nothing was stored, and the grants made from it were revoked.
    AlreadyUsed,
}

/// The outcome of replacing a refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshRotation {
    /// This call marked it used and stored its successor.
    Rotated,
    /// It was already used: nothing was stored, and its grant was revoked.
    AlreadyUsed,
}

/// Reason recorded on a grant revoked because its code was redeemed twice.
pub const REVOKED_CODE_REUSED: &str = "code-reused";
/// Reason recorded on a grant revoked because a replaced refresh token was presented.
pub const REVOKED_REFRESH_TOKEN_REUSED: &str = "refresh-token-reused";

pub(crate) fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

pub(crate) fn after(at: UnixTime, duration: Duration) -> UnixTime {
    UnixTime(at.0.saturating_add(seconds(duration)))
}
