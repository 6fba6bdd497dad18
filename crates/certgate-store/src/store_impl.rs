//! certgate-core's storage ports ([`certgate_core::Store`]) on [`SqlStore`], one `impl`
//! per port, each method handing over to the inherent method of the same name in the
//! module of its concern, where the SQL lives. An inherent method takes precedence over a
//! trait's, so `self.list_cas()` below calls `SqlStore::list_cas` of trusted_cas.rs.

use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::authority::{
    AuthorityId, AuthorityRecord, IssuedRecord, OwnCaStore, PublishedCrl, Revocation,
};
use certgate_core::crl_cache::{
    CachedCrl, CachedCrlSummary, CrlCacheStore, CrlFetchStatus, CrlKind, CrlToCache,
};
use certgate_core::store::StoreResult;
use certgate_core::trusted_ca::{CaId, CaRecord, CaSettings, NewCa, TrustedCaStore};
use certgate_pki::UnixTime;

use crate::SqlStore;

impl TrustedCaStore for SqlStore {
    // trusted_cas.rs.
    async fn list_cas(&self) -> StoreResult<Vec<CaRecord>> {
        self.list_cas().await
    }

    async fn insert_cas(&self, cas: &[NewCa], now: UnixTime) -> StoreResult<Vec<CaRecord>> {
        self.insert_cas(cas, now).await
    }

    async fn update_ca(&self, id: CaId, settings: &CaSettings) -> StoreResult<CaRecord> {
        self.update_ca(id, settings).await
    }

    async fn delete_ca(&self, id: CaId) -> StoreResult<()> {
        self.delete_ca(id).await
    }
}

impl CrlCacheStore for SqlStore {
    // crl_cache.rs.
    async fn cached_crls(&self) -> StoreResult<Vec<CachedCrl>> {
        self.cached_crls().await
    }

    async fn cached_crl(&self, ca: CaId, kind: CrlKind) -> StoreResult<Option<CachedCrl>> {
        self.cached_crl(ca, kind).await
    }

    async fn cached_crl_summaries(&self) -> StoreResult<Vec<CachedCrlSummary>> {
        self.cached_crl_summaries().await
    }

    async fn put_cached_crl(
        &self,
        crl: &CrlToCache<'_>,
        status: &CrlFetchStatus,
    ) -> StoreResult<()> {
        self.put_cached_crl(crl, status).await
    }

    async fn put_fetch_status(&self, status: &CrlFetchStatus) -> StoreResult<()> {
        self.put_fetch_status(status).await
    }

    async fn fetch_statuses(&self) -> StoreResult<Vec<CrlFetchStatus>> {
        self.fetch_statuses().await
    }

    async fn generation(&self) -> StoreResult<i64> {
        self.generation().await
    }
}

impl OwnCaStore for SqlStore {
    // own_ca.rs.
    async fn authorities(&self) -> StoreResult<Vec<AuthorityRecord>> {
        self.authorities().await
    }

    async fn insert_authorities(
        &self,
        root: &AuthorityRecord,
        issuing: &AuthorityRecord,
    ) -> StoreResult<(AuthorityId, AuthorityId)> {
        self.insert_authorities(root, issuing).await
    }

    async fn allocate_crl_number(&self, authority: AuthorityId) -> StoreResult<i64> {
        self.allocate_crl_number(authority).await
    }

    async fn insert_issued(&self, issued: &IssuedRecord) -> StoreResult<()> {
        self.insert_issued(issued).await
    }

    async fn insert_derived(&self, issued: &IssuedRecord, limit: u32) -> StoreResult<()> {
        self.insert_derived(issued, limit).await
    }

    async fn issued_certificates(&self) -> StoreResult<Vec<IssuedRecord>> {
        self.issued_certificates().await
    }

    async fn find_issued(&self, serial: &[u8]) -> StoreResult<Option<IssuedRecord>> {
        self.find_issued(serial).await
    }

    async fn revoke_issued(
        &self,
        serial: &[u8],
        at: UnixTime,
        reason: &str,
        audit: &(dyn Fn(&IssuedRecord) -> AuditEvent + Sync),
    ) -> StoreResult<Revocation> {
        self.revoke_issued(serial, at, reason, audit).await
    }

    async fn insert_published_crl(&self, crl: &PublishedCrl) -> StoreResult<()> {
        self.insert_published_crl(crl).await
    }

    async fn latest_published_crl(
        &self,
        authority: AuthorityId,
        kind: CrlKind,
    ) -> StoreResult<Option<PublishedCrl>> {
        self.latest_published_crl(authority, kind).await
    }
}

impl AuditLog for SqlStore {
    // audit.rs.
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.append_audit(event).await
    }

    async fn purge_audit_events(&self, before: UnixTime, max_rows: u32) -> StoreResult<u64> {
        self.purge_audit_events(before, max_rows).await
    }

    async fn audit_events(&self, limit: i64) -> StoreResult<Vec<AuditEvent>> {
        self.audit_events(limit).await
    }
}
