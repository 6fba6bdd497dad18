//! The trusted CAs, the CRL cache and the audit log in memory.

use certgate_pki::UnixTime;

use super::{purge_oldest, MemoryStore, State};
use crate::audit::{AuditEvent, AuditLog};
use crate::authority::{IssuedRecord, ParentRevocations};
use crate::crl_cache::{
    der_sha256, CachedCrl, CachedCrlSummary, CrlCacheStore, CrlFetchStatus, CrlKind, CrlToCache,
};
use crate::store::{StoreError, StoreResult};
use crate::trusted_ca::{CaId, CaRecord, CaSettings, NewCa, TrustedCaStore};

fn unknown_ca(id: CaId) -> StoreError {
    StoreError::NotFound {
        what: format!("trusted CA {id}"),
    }
}

impl State {
    /// `NotFound` unless `id` is a trusted CA (the foreign key of the CRL tables).
    fn require_ca(&self, id: CaId) -> StoreResult<()> {
        if self.cas.contains_key(&id.0) {
            Ok(())
        } else {
            Err(unknown_ca(id))
        }
    }

    /// The cascade of an accepted CRL of trusted CA `crl.ca_id`: every unrevoked certificate
    /// derived from a certificate of that CA which the CRL lists is revoked, with its
    /// descendants, each audited (`ParentRevocations`). `Corrupt`, before anything changed,
    /// when there are candidates and the CRL does not parse.
    fn revoke_children_of_listed_parents(&mut self, crl: &CrlToCache<'_>) -> StoreResult<()> {
        let mut candidates: Vec<(String, Vec<u8>, UnixTime)> = self
            .issued
            .iter()
            .filter(|issued| issued.revoked_at.is_none())
            .filter_map(|issued| {
                let parent = issued.parent.as_ref()?;
                (parent.trusted_ca == Some(crl.ca_id) && parent.authority.is_none()).then(|| {
                    (
                        crate::hex(&issued.serial),
                        parent.serial.clone(),
                        issued.issued_at,
                    )
                })
            })
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        candidates.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
        let listed = ParentRevocations::of_crl(crl.der).ok_or_else(|| StoreError::Corrupt {
            detail: format!(
                "the CRL of trusted CA {} to be cached does not parse",
                crl.ca_id
            ),
        })?;
        let at = crl.fetched_at;
        for (child_hex, parent_serial, _) in candidates {
            let Some(reason) = listed.child_reason(&parent_serial) else {
                continue;
            };
            let Some((child, true)) = self.revoke_one(&child_hex, at, reason.as_str()) else {
                continue;
            };
            let parent_hex = crate::hex(&parent_serial);
            let audit = |record: &IssuedRecord| {
                ParentRevocations::audit(record, crl.ca_id, &parent_hex, reason, at)
            };
            self.audit(&audit(&child));
            self.revoke_descendants(&child, at, reason.as_str(), &audit);
        }
        Ok(())
    }
}

impl TrustedCaStore for MemoryStore {
    async fn list_cas(&self) -> StoreResult<Vec<CaRecord>> {
        Ok(self.state().cas.values().cloned().collect())
    }

    async fn insert_cas(&self, cas: &[NewCa], now: UnixTime) -> StoreResult<Vec<CaRecord>> {
        let mut state = self.state();
        for (i, ca) in cas.iter().enumerate() {
            let thumbprint = &ca.facts.sha256_thumbprint;
            let trusted = state
                .cas
                .values()
                .any(|record| &record.facts.sha256_thumbprint == thumbprint);
            let repeated = cas[..i]
                .iter()
                .any(|earlier| &earlier.facts.sha256_thumbprint == thumbprint);
            if trusted || repeated {
                return Err(StoreError::Conflict {
                    what: format!("a trusted CA with thumbprint {thumbprint}"),
                });
            }
        }
        let mut records = Vec::with_capacity(cas.len());
        for ca in cas {
            let record = CaRecord {
                id: CaId(state.ca_ids.next()),
                settings: ca.settings.clone(),
                certificate_der: ca.certificate_der.clone(),
                facts: ca.facts.clone(),
                created_at: now,
            };
            state.cas.insert(record.id.0, record.clone());
            records.push(record);
        }
        state.bump_generation();
        Ok(records)
    }

    async fn update_ca(&self, id: CaId, settings: &CaSettings) -> StoreResult<CaRecord> {
        let mut state = self.state();
        let record = state.cas.get_mut(&id.0).ok_or_else(|| unknown_ca(id))?;
        record.settings = settings.clone();
        let record = record.clone();
        state.bump_generation();
        Ok(record)
    }

    async fn delete_ca(&self, id: CaId) -> StoreResult<()> {
        let mut state = self.state();
        state.cas.remove(&id.0).ok_or_else(|| unknown_ca(id))?;
        state.crls.retain(|(ca, _), _| *ca != id);
        state.fetch_statuses.retain(|(ca, _), _| *ca != id);
        state.bump_generation();
        Ok(())
    }
}

impl CrlCacheStore for MemoryStore {
    async fn cached_crls(&self) -> StoreResult<Vec<CachedCrl>> {
        Ok(self.state().crls.values().cloned().collect())
    }

    async fn cached_crl(&self, ca: CaId, kind: CrlKind) -> StoreResult<Option<CachedCrl>> {
        Ok(self.state().crls.get(&(ca, kind)).cloned())
    }

    async fn cached_crl_summaries(&self) -> StoreResult<Vec<CachedCrlSummary>> {
        Ok(self
            .state()
            .crls
            .values()
            .map(|crl| CachedCrlSummary {
                ca_id: crl.ca_id,
                kind: crl.kind,
                url: crl.url.clone(),
                crl_number: crl.crl_number.clone(),
                this_update: crl.this_update,
                next_update: crl.next_update,
                entry_count: crl.entry_count,
                bytes: crl.der.len() as i64,
                der_sha256: Some(der_sha256(&crl.der).to_vec()),
                etag: crl.etag.clone(),
                last_modified: crl.last_modified.clone(),
                fetched_at: crl.fetched_at,
            })
            .collect())
    }

    async fn put_cached_crl(
        &self,
        crl: &CrlToCache<'_>,
        status: &CrlFetchStatus,
    ) -> StoreResult<()> {
        let mut state = self.state();
        state.require_ca(crl.ca_id)?;
        state.require_ca(status.ca_id)?;
        // Refuses (unparsable CRL) before it changes anything; nothing after it fails.
        state.revoke_children_of_listed_parents(crl)?;
        state.crls.insert((crl.ca_id, crl.kind), crl.to_cached());
        state
            .fetch_statuses
            .insert((status.ca_id, status.kind), status.clone());
        state.bump_generation();
        Ok(())
    }

    async fn put_fetch_status(&self, status: &CrlFetchStatus) -> StoreResult<()> {
        let mut state = self.state();
        state.require_ca(status.ca_id)?;
        state
            .fetch_statuses
            .insert((status.ca_id, status.kind), status.clone());
        Ok(())
    }

    async fn fetch_statuses(&self) -> StoreResult<Vec<CrlFetchStatus>> {
        Ok(self.state().fetch_statuses.values().cloned().collect())
    }

    async fn generation(&self) -> StoreResult<i64> {
        Ok(self.state().generation)
    }
}

impl AuditLog for MemoryStore {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        self.state().audit(event);
        Ok(())
    }

    async fn audit_events(&self, limit: i64) -> StoreResult<Vec<AuditEvent>> {
        let limit = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
        Ok(self
            .state()
            .audit
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }

    async fn purge_audit_events(&self, before: UnixTime, max_rows: u32) -> StoreResult<u64> {
        Ok(purge_oldest(&mut self.state().audit, max_rows, |event| {
            event.at < before
        }))
    }
}
