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
    pub hash: SecretHash,
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub scopes: ScopeSet,
    pub nonce: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub authentication: Authentication,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
}

/// A grant's identifier: 16 random bytes, base64url. It is in every access token
/// (`grant_id`) so that userinfo can refuse tokens of a revoked grant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GrantId(pub String);

impl GrantId {
    pub fn generate() -> Result<GrantId, RandomUnavailable> {
        Ok(GrantId(base64url(&random_bytes::<16>()?)))
    }

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
    pub at: UnixTime,
    /// A reason code: `code-reused`, `refresh-token-reused`, ...
    pub reason: String,
}

/// A grant as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: GrantId,
    /// The code it was made from (for revocation when the code is replayed).
    pub code_hash: SecretHash,
    pub client_id: ClientId,
    pub scopes: ScopeSet,
    pub authentication: Authentication,
    pub created_at: UnixTime,
    /// After this, nothing issued from the grant is accepted (refresh lifetime counted from
    /// the sign-in, or the access token lifetime when no refresh token was issued).
    pub expires_at: UnixTime,
    pub revoked: Option<GrantRevocation>,
}

/// A refresh token as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub hash: SecretHash,
    pub grant_id: GrantId,
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
