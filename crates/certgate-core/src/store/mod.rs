//! The storage ports of trust, revocation, certgate's own CA and the audit log, one trait per
//! concern ([`TrustedCaStore`], [`CrlCacheStore`], [`OwnCaStore`], [`AuditLog`]; [`Store`] is
//! all four). certgate-store implements them on SQLite (the embedded default) and PostgreSQL
//! (several nodes); one test suite runs against both. The directory, sign-in, federation and
//! other concerns have their ports next to their domain (`directory::UserStore`, ...).
//!
//! Every method is a single transaction. A write that returned `Ok` is durable (SQLite in WAL
//! mode with `synchronous=FULL`, PostgreSQL with its default synchronous commit).

use std::future::Future;

use certgate_pki::UnixTime;

use crate::audit::AuditEvent;
use crate::authority::{AuthorityId, AuthorityRecord, IssuedRecord, PublishedCrl, Revocation};
use crate::crl_cache::{CachedCrl, CachedCrlSummary, CrlFetchStatus, CrlKind};
use crate::trusted_ca::{CaId, CaRecord, CaSettings, NewCa};

mod error;

pub use error::{StoreError, StoreResult};

/// Every storage port of this module: what the CRL service, the validation state and the CLI's
/// local commands take.
pub trait Store: TrustedCaStore + CrlCacheStore + OwnCaStore + AuditLog {}

impl<T: TrustedCaStore + CrlCacheStore + OwnCaStore + AuditLog> Store for T {}

/// The trusted root and intermediate CAs (the Entra ID certificate-authority list).
pub trait TrustedCaStore: Send + Sync + 'static {
    /// Every trusted CA, in the order they were added.
    fn list_cas(&self) -> impl Future<Output = StoreResult<Vec<CaRecord>>> + Send;
    /// Adds CAs in one transaction: all or none. `Conflict` when a certificate is already
    /// trusted.
    fn insert_cas(
        &self,
        cas: &[NewCa],
        now: UnixTime,
    ) -> impl Future<Output = StoreResult<Vec<CaRecord>>> + Send;
    /// Replaces a CA's settings (CRL URLs, hints, type); `NotFound` for an unknown ID.
    fn update_ca(
        &self,
        id: CaId,
        settings: &CaSettings,
    ) -> impl Future<Output = StoreResult<CaRecord>> + Send;
    /// Also removes the CA's cached CRLs and their status.
    fn delete_ca(&self, id: CaId) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The CRLs fetched for the trusted CAs, and each URL's fetch status.
pub trait CrlCacheStore: Send + Sync + 'static {
    /// Every cached CRL, DER included (what the validation state is built from).
    fn cached_crls(&self) -> impl Future<Output = StoreResult<Vec<CachedCrl>>> + Send;
    /// The cached CRL of one CA and kind (base or delta), if any.
    fn cached_crl(
        &self,
        ca: CaId,
        kind: CrlKind,
    ) -> impl Future<Output = StoreResult<Option<CachedCrl>>> + Send;
    /// What is cached, without the CRLs' bytes (status pages, metrics, scheduling).
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
    /// Records an attempt that did not replace the CRL (failed, or not modified).
    fn put_fetch_status(
        &self,
        status: &CrlFetchStatus,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The fetch status of every CRL URL.
    fn fetch_statuses(&self) -> impl Future<Output = StoreResult<Vec<CrlFetchStatus>>> + Send;

    /// A number that grows whenever the trust store or the CRL cache changes, so that other
    /// processes on the same database know when to rebuild their validation state.
    fn generation(&self) -> impl Future<Output = StoreResult<i64>> + Send;
}

/// certgate's own CA: its authorities, the certificates it issued, their revocations and the
/// CRLs it published.
pub trait OwnCaStore: Send + Sync + 'static {
    /// certgate's root and issuing CA, once `pki init` created them.
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
    /// step with [`OwnCaStore::revoke_issued`]: `ParentRevoked` when it is revoked (a revocation
    /// that commits first wins), `NotFound` when it is not on record; otherwise the new row is
    /// committed before any revocation of the parent reads the parent's children, so the
    /// cascade takes it. `Conflict` when the serial is already on record.
    fn insert_issued(&self, issued: &IssuedRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// As [`OwnCaStore::insert_issued`] for a certificate with a parent (obtained with a
    /// certificate), and in the same transaction: `DerivedLimit` when `issued.upn` already
    /// holds `limit` certificates with a parent that are neither revoked nor expired at
    /// `issued.issued_at`. Calls for one user are serialized (across nodes on PostgreSQL), so
    /// concurrent requests cannot overshoot the limit.
    fn insert_derived(
        &self,
        issued: &IssuedRecord,
        limit: u32,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every certificate certgate issued, revoked ones included.
    fn issued_certificates(&self) -> impl Future<Output = StoreResult<Vec<IssuedRecord>>> + Send;
    /// The issued certificate with this serial number (DER INTEGER content), if any.
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
    /// Keeps a CRL certgate signed, for `/pki/*.crl` to serve.
    fn insert_published_crl(
        &self,
        crl: &PublishedCrl,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The newest published CRL of an authority and kind.
    fn latest_published_crl(
        &self,
        authority: AuthorityId,
        kind: CrlKind,
    ) -> impl Future<Output = StoreResult<Option<PublishedCrl>>> + Send;
}

/// The audit log: every change an administrator or the server made, append-only.
pub trait AuditLog: Send + Sync + 'static {
    /// Appends one event.
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
