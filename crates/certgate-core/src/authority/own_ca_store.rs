//! The storage port of certgate's own CA.

use std::future::Future;

use certgate_pki::UnixTime;

use super::{AuthorityId, AuthorityRecord, IssuedRecord, PublishedCrl, Revocation};
use crate::audit::AuditEvent;
use crate::crl_cache::CrlKind;
use crate::store::StoreResult;

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
