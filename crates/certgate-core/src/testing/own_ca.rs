//! certgate's own CA in memory: its authorities, the certificates it issued with their
//! revocations, and the CRLs it published.

use std::collections::{HashSet, VecDeque};

use certgate_pki::UnixTime;

use super::{MemoryStore, State, StoredAuthority};
use crate::audit::AuditEvent;
use crate::authority::{
    AuthorityId, AuthorityRecord, IssuedRecord, OwnCaStore, PublishedCrl, Revocation,
};
use crate::crl_cache::CrlKind;
use crate::store::{StoreError, StoreResult};

fn unknown_authority(id: AuthorityId) -> StoreError {
    StoreError::NotFound {
        what: format!("certgate CA {}", id.0),
    }
}

impl State {
    fn require_authority(&self, id: AuthorityId) -> StoreResult<()> {
        if self.authorities.iter().any(|a| a.record.id == id) {
            Ok(())
        } else {
            Err(unknown_authority(id))
        }
    }

    /// Revokes the certificate with this serial (hex) unless it is revoked already: the record
    /// as it stands and whether this call revoked it; `None` for an unknown serial.
    pub(super) fn revoke_one(
        &mut self,
        serial_hex: &str,
        at: UnixTime,
        reason: &str,
    ) -> Option<(IssuedRecord, bool)> {
        let record = self
            .issued
            .iter_mut()
            .find(|issued| crate::hex(&issued.serial) == serial_hex)?;
        if record.revoked_at.is_some() {
            return Some((record.clone(), false));
        }
        record.revoked_at = Some(at);
        record.revocation_reason = Some(reason.to_owned());
        Some((record.clone(), true))
    }

    /// Revokes every certificate derived from `ancestor` through parents certgate issued,
    /// breadth first, parents before children, each sibling group in issuance order; returns
    /// those revoked now, each audited with `audit`. Descendants already revoked keep their
    /// revocation, and their own descendants are still followed.
    pub(super) fn revoke_descendants(
        &mut self,
        ancestor: &IssuedRecord,
        at: UnixTime,
        reason: &str,
        audit: &dyn Fn(&IssuedRecord) -> AuditEvent,
    ) -> Vec<IssuedRecord> {
        let ancestor_hex = crate::hex(&ancestor.serial);
        let mut seen = HashSet::from([ancestor_hex.clone()]);
        let mut frontier = VecDeque::from([(ancestor_hex, ancestor.authority)]);
        let mut descendants = Vec::new();
        while let Some((parent_hex, parent_authority)) = frontier.pop_front() {
            let mut children: Vec<(UnixTime, String)> = self
                .issued
                .iter()
                .filter(|issued| {
                    issued.parent.as_ref().is_some_and(|parent| {
                        parent.authority == Some(parent_authority)
                            && crate::hex(&parent.serial) == parent_hex
                    })
                })
                .map(|issued| (issued.issued_at, crate::hex(&issued.serial)))
                .collect();
            children.sort();
            for (_, child_hex) in children {
                if !seen.insert(child_hex.clone()) {
                    continue;
                }
                let Some((child, revoked_now)) = self.revoke_one(&child_hex, at, reason) else {
                    continue;
                };
                frontier.push_back((child_hex, child.authority));
                if revoked_now {
                    self.audit(&audit(&child));
                    descendants.push(child);
                }
            }
        }
        descendants
    }

    /// The checks of `insert_issued` and `insert_derived`, in the SQL store's order: the
    /// parent (when certgate issued it), the user's count of derived certificates, the serial.
    fn check_issued(&self, issued: &IssuedRecord, derived_limit: Option<u32>) -> StoreResult<()> {
        self.require_authority(issued.authority)?;
        if let Some(parent) = &issued.parent {
            if let Some(authority) = parent.authority {
                let parent_hex = crate::hex(&parent.serial);
                let record = self
                    .issued
                    .iter()
                    .find(|record| {
                        record.authority == authority && crate::hex(&record.serial) == parent_hex
                    })
                    .ok_or_else(|| StoreError::NotFound {
                        what: format!(
                            "parent certificate serial {parent_hex} of certgate CA {}",
                            authority.0
                        ),
                    })?;
                if record.revoked_at.is_some() {
                    return Err(StoreError::ParentRevoked { serial: parent_hex });
                }
            }
        }
        if let Some(limit) = derived_limit {
            let held = self
                .issued
                .iter()
                .filter(|record| {
                    record.upn == issued.upn
                        && record.parent.is_some()
                        && record.revoked_at.is_none()
                        && record.not_after > issued.issued_at
                })
                .count();
            if held >= limit as usize {
                return Err(StoreError::DerivedLimit {
                    upn: issued.upn.clone(),
                    limit,
                });
            }
        }
        let serial_hex = crate::hex(&issued.serial);
        if self
            .issued
            .iter()
            .any(|record| crate::hex(&record.serial) == serial_hex)
        {
            return Err(StoreError::Conflict {
                what: format!("certificate serial {serial_hex}"),
            });
        }
        Ok(())
    }

    fn insert_issued_within(
        &mut self,
        issued: &IssuedRecord,
        derived_limit: Option<u32>,
    ) -> StoreResult<()> {
        self.check_issued(issued, derived_limit)?;
        self.issued.push(issued.clone());
        Ok(())
    }
}

impl OwnCaStore for MemoryStore {
    async fn authorities(&self) -> StoreResult<Vec<AuthorityRecord>> {
        Ok(self
            .state()
            .authorities
            .iter()
            .map(|authority| authority.record.clone())
            .collect())
    }

    async fn insert_authorities(
        &self,
        root: &AuthorityRecord,
        issuing: &AuthorityRecord,
    ) -> StoreResult<(AuthorityId, AuthorityId)> {
        let mut state = self.state();
        let role_taken = |role| {
            state
                .authorities
                .iter()
                .any(|authority| authority.record.role == role)
        };
        if role_taken(root.role) || role_taken(issuing.role) || root.role == issuing.role {
            return Err(StoreError::Conflict {
                what: "certgate's CA".into(),
            });
        }
        let mut ids = [AuthorityId(0); 2];
        for (id, record) in ids.iter_mut().zip([root, issuing]) {
            *id = AuthorityId(state.authority_ids.next());
            state.authorities.push(StoredAuthority {
                record: AuthorityRecord {
                    id: *id,
                    ..record.clone()
                },
                next_crl_number: 1,
            });
        }
        Ok((ids[0], ids[1]))
    }

    async fn allocate_crl_number(&self, authority: AuthorityId) -> StoreResult<i64> {
        let mut state = self.state();
        let stored = state
            .authorities
            .iter_mut()
            .find(|stored| stored.record.id == authority)
            .ok_or_else(|| unknown_authority(authority))?;
        let number = stored.next_crl_number;
        stored.next_crl_number += 1;
        Ok(number)
    }

    async fn insert_issued(&self, issued: &IssuedRecord) -> StoreResult<()> {
        self.state().insert_issued_within(issued, None)
    }

    async fn insert_derived(&self, issued: &IssuedRecord, limit: u32) -> StoreResult<()> {
        self.state().insert_issued_within(issued, Some(limit))
    }

    async fn issued_certificates(&self) -> StoreResult<Vec<IssuedRecord>> {
        let mut issued = self.state().issued.clone();
        issued.sort_by_cached_key(|record| (record.issued_at, crate::hex(&record.serial)));
        Ok(issued)
    }

    async fn find_issued(&self, serial: &[u8]) -> StoreResult<Option<IssuedRecord>> {
        let serial_hex = crate::hex(serial);
        Ok(self
            .state()
            .issued
            .iter()
            .find(|record| crate::hex(&record.serial) == serial_hex)
            .cloned())
    }

    async fn revoke_issued(
        &self,
        serial: &[u8],
        at: UnixTime,
        reason: &str,
        audit: &(dyn Fn(&IssuedRecord) -> AuditEvent + Sync),
    ) -> StoreResult<Revocation> {
        let mut state = self.state();
        let serial_hex = crate::hex(serial);
        let (named, named_revoked_now) =
            state
                .revoke_one(&serial_hex, at, reason)
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("certificate serial {serial_hex}"),
                })?;
        if named_revoked_now {
            state.audit(&audit(&named));
        }
        let descendants = state.revoke_descendants(&named, at, reason, audit);
        Ok(Revocation {
            named,
            named_revoked_now,
            descendants,
        })
    }

    async fn insert_published_crl(&self, crl: &PublishedCrl) -> StoreResult<()> {
        let mut state = self.state();
        state.require_authority(crl.authority)?;
        if state.published_crls.iter().any(|published| {
            published.authority == crl.authority && published.crl_number == crl.crl_number
        }) {
            return Err(StoreError::Conflict {
                what: format!("CRL number {}", crl.crl_number),
            });
        }
        state.published_crls.push(crl.clone());
        Ok(())
    }

    async fn latest_published_crl(
        &self,
        authority: AuthorityId,
        kind: CrlKind,
    ) -> StoreResult<Option<PublishedCrl>> {
        Ok(self
            .state()
            .published_crls
            .iter()
            .filter(|published| published.authority == authority && published.kind == kind)
            .max_by_key(|published| published.crl_number)
            .cloned())
    }
}
