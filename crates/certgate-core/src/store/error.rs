//! Storage failures, the one error every port returns. A leaf: it depends on nothing else in
//! certgate-core, so every module can name it without pulling in the ports.

use certgate_pki::ReasonCode;

/// Storage failures, translated once at the adapter boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// What the call names does not exist.
    #[error("{what} was not found")]
    NotFound {
        /// What was looked for (`trusted CA 3`, `user alice@contoso.example`).
        what: String,
    },
    /// A unique value (a name, a certificate, a serial) is already taken; nothing was written.
    #[error("{what} already exists")]
    Conflict {
        /// What is already there.
        what: String,
    },
    /// The database did not answer in time (`[limits] store_timeout_seconds`) or refused the
    /// operation; nothing was decided.
    #[error("the database is unavailable: {detail}")]
    Unavailable {
        /// The database driver's own message, for the server log.
        detail: String,
    },
    /// A stored value does not read back (edited by hand, or written by a newer version).
    #[error("the database holds a value certgate cannot read: {detail}")]
    Corrupt {
        /// Which value, and why it does not read.
        detail: String,
    },
    /// A certificate's parent (issued by certgate) was revoked before the certificate could
    /// be recorded: checked in the transaction that would have recorded it, so no revocation
    /// can miss the new certificate. Nothing was written.
    #[error("the parent certificate serial {serial} is revoked; the certificate issued on its strength was not recorded")]
    ParentRevoked {
        /// The parent's serial number, hex.
        serial: String,
    },
    /// The user already holds as many certificates obtained with a certificate as they may
    /// (see [`OwnCaStore::insert_derived`](super::OwnCaStore::insert_derived)). Nothing was written.
    #[error("{upn} already holds {limit} unexpired, unrevoked certificates obtained with a certificate (device set-up, EST re-enrollment), the most allowed; the new certificate was not recorded")]
    DerivedLimit {
        /// The user.
        upn: String,
        /// `max_derived_certificates_per_user`.
        limit: u32,
    },
}

impl StoreError {
    /// Every code [`StoreError::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "store-not-found",
            "What the request names is not in certgate's database.",
            "Check the identifier (list what exists with the matching `list` command or API), then try again.",
        ),
        ReasonCode::new(
            "store-conflict",
            "What the request would create already exists in certgate's database.",
            "Use the existing entry, or remove it first if it should be replaced.",
        ),
        ReasonCode::new(
            "store-unavailable",
            "certgate could not reach its database in time (`[limits] store_timeout_seconds`), or the database refused the operation. Nothing was decided or changed.",
            "Try again in a minute. Administrators: check that SQLite's file is writable or that PostgreSQL is reachable; the server log has the database's own error under the correlation ID.",
        ),
        ReasonCode::new(
            "store-corrupt",
            "certgate's database holds a value certgate cannot read back (edited by hand, or written by a newer version).",
            "Administrators: the server log names the value; restore it from a backup or correct it, and run the same certgate version on every node.",
        ),
        ReasonCode::new(
            "store-parent-revoked",
            "The certificate a new certificate was to be issued on the strength of was revoked while it was being issued; nothing was recorded.",
            "Sign in with a certificate that is not revoked, or ask your administrator for a new one.",
        ),
        ReasonCode::new(
            "store-derived-limit",
            "The user already holds as many certificates obtained with a certificate (device set-up, EST re-enrollment) as allowed; nothing was issued.",
            "Revoke certificates that are no longer used (`certgate pki revoke`), or ask your administrator to raise `max_derived_certificates_per_user`.",
        ),
    ];

    /// The stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "store-not-found",
            StoreError::Conflict { .. } => "store-conflict",
            StoreError::Unavailable { .. } => "store-unavailable",
            StoreError::Corrupt { .. } => "store-corrupt",
            StoreError::ParentRevoked { .. } => "store-parent-revoked",
            StoreError::DerivedLimit { .. } => "store-derived-limit",
        }
    }
}

/// The result of every storage call.
pub type StoreResult<T> = Result<T, StoreError>;
