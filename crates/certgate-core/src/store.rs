//! The storage port. certgate-store implements it on SQLite (the embedded default) and
//! PostgreSQL (several nodes); one test suite runs against both.
//!
//! Every method is a single transaction. A write that returned `Ok` is durable (SQLite in WAL
//! mode with `synchronous=FULL`, PostgreSQL with its default synchronous commit).

use std::future::Future;

use certgate_pki::{ReasonCode, UnixTime};

use crate::audit::AuditEvent;
use crate::authority::{AuthorityId, AuthorityRecord, IssuedRecord, PublishedCrl, Revocation};
use crate::crl_cache::{CachedCrl, CachedCrlSummary, CrlFetchStatus, CrlKind};
use crate::trusted_ca::{CaId, CaRecord, CaSettings, NewCa};

/// Storage failures, translated once at the adapter boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{what} was not found")]
    NotFound { what: String },
    #[error("{what} already exists")]
    Conflict { what: String },
    #[error("the database is unavailable: {detail}")]
    Unavailable { detail: String },
    #[error("the database holds a value certgate cannot read: {detail}")]
    Corrupt { detail: String },
    /// A certificate's parent (issued by certgate) was revoked before the certificate could
    /// be recorded: checked in the transaction that would have recorded it, so no revocation
    /// can miss the new certificate. Nothing was written.
    #[error("the parent certificate serial {serial} is revoked; the certificate issued on its strength was not recorded")]
    ParentRevoked { serial: String },
    /// The user already holds as many certificates obtained with a certificate as they may
    /// (see [`Store::insert_derived`]). Nothing was written.
    #[error("{upn} already holds {limit} unexpired, unrevoked certificates obtained with a certificate (device set-up, EST re-enrollment), the most allowed; the new certificate was not recorded")]
    DerivedLimit { upn: String, limit: u32 },
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

pub type StoreResult<T> = Result<T, StoreError>;

pub trait Store: Send + Sync + 'static {
    // ---- Trusted CAs --------------------------------------------------------------------------
    fn list_cas(&self) -> impl Future<Output = StoreResult<Vec<CaRecord>>> + Send;
    /// Adds CAs in one transaction: all or none. `Conflict` when a certificate is already
    /// trusted.
    fn insert_cas(
        &self,
        cas: &[NewCa],
        now: UnixTime,
    ) -> impl Future<Output = StoreResult<Vec<CaRecord>>> + Send;
    fn update_ca(
        &self,
        id: CaId,
        settings: &CaSettings,
    ) -> impl Future<Output = StoreResult<CaRecord>> + Send;
    /// Also removes the CA's cached CRLs and their status.
    fn delete_ca(&self, id: CaId) -> impl Future<Output = StoreResult<()>> + Send;

    // ---- CRL cache ----------------------------------------------------------------------------
    fn cached_crls(&self) -> impl Future<Output = StoreResult<Vec<CachedCrl>>> + Send;
    fn cached_crl(
        &self,
        ca: CaId,
        kind: CrlKind,
    ) -> impl Future<Output = StoreResult<Option<CachedCrl>>> + Send;
    fn cached_crl_summaries(
        &self,
    ) -> impl Future<Output = StoreResult<Vec<CachedCrlSummary>>> + Send;
    /// Replaces the cached CRL and records the successful attempt, atomically. In the same
    /// transaction, every unrevoked certificate derived from a certificate of that CA
    /// (`ParentCertificate::trusted_ca`) which the CRL lists is revoked with its descendants
    /// and audited (`authority::ParentRevocations`).
    fn put_cached_crl(
        &self,
        crl: &CachedCrl,
        status: &CrlFetchStatus,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn put_fetch_status(
        &self,
        status: &CrlFetchStatus,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn fetch_statuses(&self) -> impl Future<Output = StoreResult<Vec<CrlFetchStatus>>> + Send;

    /// A number that grows whenever the trust store or the CRL cache changes, so that other
    /// processes on the same database know when to rebuild their validation state.
    fn generation(&self) -> impl Future<Output = StoreResult<i64>> + Send;

    // ---- certgate's own CA --------------------------------------------------------------------
    fn authorities(&self) -> impl Future<Output = StoreResult<Vec<AuthorityRecord>>> + Send;
    /// Inserts the root and issuing CA together; `Conflict` when a CA already exists.
    fn insert_authorities(
        &self,
        root: &AuthorityRecord,
        issuing: &AuthorityRecord,
    ) -> impl Future<Output = StoreResult<(AuthorityId, AuthorityId)>> + Send;
    /// Returns the next CRL number of this authority and advances it.
    fn allocate_crl_number(
        &self,
        authority: AuthorityId,
    ) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Records an issued certificate. When its parent was issued by certgate
    /// (`parent.authority` is set), the parent's record is read in the same transaction, in
    /// step with [`Store::revoke_issued`]: `ParentRevoked` when it is revoked (a revocation
    /// that commits first wins), `NotFound` when it is not on record; otherwise the new row is
    /// committed before any revocation of the parent reads the parent's children, so the
    /// cascade takes it. `Conflict` when the serial is already on record.
    fn insert_issued(&self, issued: &IssuedRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// As [`Store::insert_issued`] for a certificate with a parent (obtained with a
    /// certificate), and in the same transaction: `DerivedLimit` when `issued.upn` already
    /// holds `limit` certificates with a parent that are neither revoked nor expired at
    /// `issued.issued_at`. Calls for one user are serialized (across nodes on PostgreSQL), so
    /// concurrent requests cannot overshoot the limit.
    fn insert_derived(
        &self,
        issued: &IssuedRecord,
        limit: u32,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn issued_certificates(&self) -> impl Future<Output = StoreResult<Vec<IssuedRecord>>> + Send;
    fn find_issued(
        &self,
        serial: &[u8],
    ) -> impl Future<Output = StoreResult<Option<IssuedRecord>>> + Send;
    /// Marks a certificate revoked and, in the same transaction, every certificate descended
    /// from it (those whose parent it is, recursively), at `at` with `reason`, appending
    /// `audit(record)` for each certificate revoked by this call. Certificates already revoked
    /// keep their first revocation's time and reason and get no event, but their descendants
    /// are still followed. `NotFound` for an unknown serial.
    fn revoke_issued(
        &self,
        serial: &[u8],
        at: UnixTime,
        reason: &str,
        audit: &(dyn Fn(&IssuedRecord) -> AuditEvent + Sync),
    ) -> impl Future<Output = StoreResult<Revocation>> + Send;
    fn insert_published_crl(
        &self,
        crl: &PublishedCrl,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn latest_published_crl(
        &self,
        authority: AuthorityId,
        kind: CrlKind,
    ) -> impl Future<Output = StoreResult<Option<PublishedCrl>>> + Send;

    // ---- Audit log ----------------------------------------------------------------------------
    fn append_audit(&self, event: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// The newest `limit` events, newest first.
    fn audit_events(&self, limit: i64)
        -> impl Future<Output = StoreResult<Vec<AuditEvent>>> + Send;
    /// Deletes at most `max_rows` of the oldest events recorded before `before`; returns how
    /// many (retention: see [`crate::retention`]).
    fn purge_audit_events(
        &self,
        before: UnixTime,
        max_rows: u32,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}
