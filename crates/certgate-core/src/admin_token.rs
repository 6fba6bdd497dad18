//! Bearer tokens for the admin REST API: created by `certgate admin token create` on the
//! server's own store (never through the API, so a stolen token cannot mint more), shown once,
//! kept only as their SHA-256.
//!
//! A token is 256 random bits, so its SHA-256 is a safe lookup key: finding the record by hash
//! reveals nothing an attacker could use to guess a token byte by byte, and the hash found is
//! compared again in constant time before it counts.

use std::fmt;
use std::future::Future;

use aws_lc_rs::constant_time;
use aws_lc_rs::digest;
use certgate_pki::{ReasonCode, UnixTime};
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::clock::rfc3339;
use crate::store::{StoreError, StoreResult};

/// Every token starts with this, so secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "cgadm_";
/// Random bytes per token.
const TOKEN_BYTES: usize = 32;
/// `last_used_at` is written at most this often per token: one write per API request would
/// turn every read into a write.
pub const LAST_USED_GRANULARITY_SECONDS: i64 = 60;

/// A token's name: 1 to 64 of `A-Z a-z 0-9 . _ -`, unique (revoked tokens keep theirs).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdminTokenName(String);

impl AdminTokenName {
    /// Checks a name; `admin-token-name-invalid` (with at most 80 characters of it) otherwise.
    pub fn parse(text: &str) -> Result<AdminTokenName, AdminTokenError> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(AdminTokenName(text.to_owned()))
        } else {
            Err(AdminTokenError::NameInvalid {
                name: text.chars().take(80).collect(),
            })
        }
    }

    /// The name as given (case kept).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdminTokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// SHA-256 of a token's text.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminTokenHash(pub [u8; 32]);

impl AdminTokenHash {
    /// The hash of `token`'s text, as presented in an `Authorization: Bearer` header.
    pub fn of(token: &str) -> AdminTokenHash {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        AdminTokenHash(out)
    }

    /// Constant-time comparison.
    pub fn matches(&self, other: &AdminTokenHash) -> bool {
        constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

impl fmt::Debug for AdminTokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminTokenHash(..)")
    }
}

/// A token's text, wiped from memory when dropped. Shown once, at creation.
pub struct AdminTokenSecret(Zeroizing<String>);

impl AdminTokenSecret {
    fn generate() -> Result<AdminTokenSecret, AdminTokenError> {
        let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
        aws_lc_rs::rand::fill(&mut *bytes).map_err(|_| AdminTokenError::RandomnessUnavailable)?;
        Ok(AdminTokenSecret(Zeroizing::new(format!(
            "{TOKEN_PREFIX}{}",
            crate::hex(&*bytes)
        ))))
    }

    /// The token's text (`cgadm_` and 64 hex digits), to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its SHA-256, what the store keeps.
    pub fn hash(&self) -> AdminTokenHash {
        AdminTokenHash::of(&self.0)
    }
}

impl fmt::Debug for AdminTokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminTokenSecret(..)")
    }
}

/// A token as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminTokenRecord {
    /// Unique; revoked tokens keep theirs.
    pub name: AdminTokenName,
    /// SHA-256 of the token, the lookup key.
    pub hash: AdminTokenHash,
    /// When `certgate admin token create` made it.
    pub created_at: UnixTime,
    /// Who created it (the audit actor).
    pub created_by: String,
    /// Last successful use, to within [`LAST_USED_GRANULARITY_SECONDS`].
    pub last_used_at: Option<UnixTime>,
    /// When it was revoked; a revoked token is refused from then on.
    pub revoked_at: Option<UnixTime>,
}

impl AdminTokenRecord {
    /// Whether the token was revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// Why a token operation failed or a presented token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminTokenError {
    /// The name is not 1 to 64 of `A-Z a-z 0-9 . _ -`.
    #[error("\"{name}\" is not a valid token name: use 1 to 64 letters, digits and . _ -")]
    NameInvalid {
        /// The name given, cut to 80 characters.
        name: String,
    },
    /// Another token, perhaps revoked, has this name.
    #[error("a token named {name} already exists (revoked tokens keep their names); choose another name")]
    NameTaken {
        /// The name asked for.
        name: String,
    },
    /// No token has this name.
    #[error("no admin token is named {name}; `certgate admin token list` shows them")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// The token was already revoked; nothing changed.
    #[error("the admin token {name} was already revoked at {}", rfc3339(*.at))]
    AlreadyRevoked {
        /// The token's name.
        name: String,
        /// When it was revoked.
        at: UnixTime,
    },
    /// The presented bearer token is no token on record.
    #[error("the bearer token is not a valid admin token")]
    Invalid,
    /// The presented bearer token was revoked.
    #[error("the admin token {name} was revoked at {}; ask for a new one", rfc3339(*.at))]
    Revoked {
        /// The token's name.
        name: String,
        /// When it was revoked.
        at: UnixTime,
    },
    /// The system's random generator failed while making a token.
    #[error("the system's random number generator failed; no token was made")]
    RandomnessUnavailable,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminTokenError {
    /// Every code [`AdminTokenError::code`] answers with of its own (`randomness-unavailable` is
    /// listed with [`DirectoryError`](crate::directory::DirectoryError), store failures are
    /// [`StoreError::CODES`]).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "admin-token-name-invalid",
            "The admin token name is not 1 to 64 letters, digits, dots, underscores and hyphens.",
            "Choose a name of that form (`certgate admin token create --name NAME`).",
        ),
        ReasonCode::new(
            "admin-token-name-taken",
            "An admin token with this name already exists (revoked tokens keep their names).",
            "Choose another name; `certgate admin token list` shows the names in use.",
        ),
        ReasonCode::new(
            "admin-token-not-found",
            "No admin token has this name.",
            "Use a name that `certgate admin token list` shows.",
        ),
        ReasonCode::new(
            "admin-token-already-revoked",
            "The admin token was already revoked; nothing was changed.",
            "Nothing to do; make a new token if one is needed (`certgate admin token create`).",
        ),
        ReasonCode::new(
            "admin-token-invalid",
            "The bearer token presented to the admin API is not an admin token on record.",
            "Check the token (CERTGATE_TOKEN or --token); a new one is made on the server with `certgate admin token create`.",
        ),
        ReasonCode::new(
            "admin-token-revoked",
            "The bearer token presented to the admin API was revoked.",
            "Ask for a new token, made on the server with `certgate admin token create`.",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`]; `randomness-unavailable` is listed with
    /// [`DirectoryError`](crate::directory::DirectoryError); store failures are the store's).
    pub fn code(&self) -> &'static str {
        match self {
            AdminTokenError::NameInvalid { .. } => "admin-token-name-invalid",
            AdminTokenError::NameTaken { .. } => "admin-token-name-taken",
            AdminTokenError::NotFound { .. } => "admin-token-not-found",
            AdminTokenError::AlreadyRevoked { .. } => "admin-token-already-revoked",
            AdminTokenError::Invalid => "admin-token-invalid",
            AdminTokenError::Revoked { .. } => "admin-token-revoked",
            AdminTokenError::RandomnessUnavailable => "randomness-unavailable",
            AdminTokenError::Store(error) => error.code(),
        }
    }
}

/// Where admin tokens are kept. Every write that changes a token appends its audit event in
/// the same transaction.
pub trait AdminTokenStore: Send + Sync + 'static {
    /// `Conflict` when the name is taken.
    fn insert_admin_token(
        &self,
        token: &AdminTokenRecord,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Ordered by creation.
    fn admin_tokens(&self) -> impl Future<Output = StoreResult<Vec<AdminTokenRecord>>> + Send;
    /// The token whose hash is `hash`, revoked or not. The caller compares the hash again in
    /// constant time.
    fn admin_token_by_hash(
        &self,
        hash: &AdminTokenHash,
    ) -> impl Future<Output = StoreResult<Option<AdminTokenRecord>>> + Send;
    /// Marks the token revoked at `at` unless it already is. `NotFound` when there is no such
    /// token; `Conflict` when it was revoked before.
    fn revoke_admin_token(
        &self,
        name: &AdminTokenName,
        at: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<AdminTokenRecord>> + Send;
    /// Records a use.
    fn touch_admin_token(
        &self,
        name: &AdminTokenName,
        at: UnixTime,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Creates a token; the secret in the result is the only copy there will ever be.
pub async fn create_admin_token<S: AdminTokenStore>(
    store: &S,
    name: &str,
    now: UnixTime,
    actor: &str,
) -> Result<(AdminTokenRecord, AdminTokenSecret), AdminTokenError> {
    let name = AdminTokenName::parse(name)?;
    let secret = AdminTokenSecret::generate()?;
    let record = AdminTokenRecord {
        name: name.clone(),
        hash: secret.hash(),
        created_at: now,
        created_by: actor.to_owned(),
        last_used_at: None,
        revoked_at: None,
    };
    let audit = AuditEvent::new(
        now,
        actor,
        "admin.token.create",
        format!("admin token {name}"),
        "ok",
        format!("created the admin API token {name}"),
    );
    match store.insert_admin_token(&record, &audit).await {
        Ok(()) => Ok((record, secret)),
        Err(StoreError::Conflict { .. }) => Err(AdminTokenError::NameTaken {
            name: name.to_string(),
        }),
        Err(other) => Err(other.into()),
    }
}

/// Every admin token, revoked ones included, ordered by creation.
pub async fn list_admin_tokens<S: AdminTokenStore>(
    store: &S,
) -> Result<Vec<AdminTokenRecord>, AdminTokenError> {
    Ok(store.admin_tokens().await?)
}

/// Revokes a token: from now on it is refused.
pub async fn revoke_admin_token<S: AdminTokenStore>(
    store: &S,
    name: &str,
    now: UnixTime,
    actor: &str,
) -> Result<AdminTokenRecord, AdminTokenError> {
    let name = AdminTokenName::parse(name)?;
    let audit = AuditEvent::new(
        now,
        actor,
        "admin.token.revoke",
        format!("admin token {name}"),
        "ok",
        format!("revoked the admin API token {name}"),
    );
    match store.revoke_admin_token(&name, now, &audit).await {
        Ok(record) => Ok(record),
        Err(StoreError::NotFound { .. }) => Err(AdminTokenError::NotFound {
            name: name.to_string(),
        }),
        Err(StoreError::Conflict { .. }) => {
            let at = store
                .admin_tokens()
                .await?
                .into_iter()
                .find(|token| token.name == name)
                .and_then(|token| token.revoked_at)
                .unwrap_or(now);
            Err(AdminTokenError::AlreadyRevoked {
                name: name.to_string(),
                at,
            })
        }
        Err(other) => Err(other.into()),
    }
}

/// Checks a presented bearer token: it must be a token on record and not revoked. Records the
/// use.
pub async fn authenticate_admin_token<S: AdminTokenStore>(
    store: &S,
    presented: &str,
    now: UnixTime,
) -> Result<AdminTokenRecord, AdminTokenError> {
    let hash = AdminTokenHash::of(presented);
    let record = store
        .admin_token_by_hash(&hash)
        .await?
        .filter(|record| record.hash.matches(&hash))
        .ok_or(AdminTokenError::Invalid)?;
    if let Some(at) = record.revoked_at {
        return Err(AdminTokenError::Revoked {
            name: record.name.to_string(),
            at,
        });
    }
    let stale = record
        .last_used_at
        .is_none_or(|last| now.0 - last.0 >= LAST_USED_GRANULARITY_SECONDS);
    if stale {
        store.touch_admin_token(&record.name, now).await?;
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        assert!(AdminTokenName::parse("ci-deploy_1.prod").is_ok());
        for bad in ["", "has space", "slash/", "ünï", &"x".repeat(65)] {
            assert_eq!(
                AdminTokenName::parse(bad).expect_err(bad).code(),
                "admin-token-name-invalid"
            );
        }
    }

    #[test]
    fn secrets_are_random_prefixed_and_hash_to_their_own_hash() {
        let a = AdminTokenSecret::generate().expect("token");
        let b = AdminTokenSecret::generate().expect("token");
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(a.expose().len(), TOKEN_PREFIX.len() + 2 * TOKEN_BYTES);
        assert!(a.hash().matches(&AdminTokenHash::of(a.expose())));
        assert!(!a.hash().matches(&b.hash()));
        assert_eq!(format!("{a:?}"), "AdminTokenSecret(..)");
    }
}
