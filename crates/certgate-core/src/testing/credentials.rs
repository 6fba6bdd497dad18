//! Credentials an administrator hands out, in memory: EST enrollment codes and admin API
//! tokens.

use certgate_pki::UnixTime;

use super::MemoryStore;
use crate::admin_token::{AdminTokenHash, AdminTokenName, AdminTokenRecord, AdminTokenStore};
use crate::audit::AuditEvent;
use crate::enrollment::{
    EnrollmentCodeHash, EnrollmentCodeId, EnrollmentCodeRecord, EnrollmentCodeStore,
};
use crate::store::{StoreError, StoreResult};

impl EnrollmentCodeStore for MemoryStore {
    async fn insert_enrollment_code(
        &self,
        code: &EnrollmentCodeRecord,
        audit: &AuditEvent,
    ) -> StoreResult<EnrollmentCodeRecord> {
        let mut state = self.state();
        if !state.users.contains_key(code.user_id.as_str()) {
            return Err(StoreError::NotFound {
                what: format!("user {}", code.user_id),
            });
        }
        if state.enrollment_codes.values().any(|c| c.hash == code.hash) {
            return Err(StoreError::Conflict {
                what: "an enrollment code with this hash".into(),
            });
        }
        let record = EnrollmentCodeRecord {
            id: EnrollmentCodeId(state.enrollment_code_ids.next()),
            ..code.clone()
        };
        state.enrollment_codes.insert(record.id.0, record.clone());
        // As the SQL store: the event names the code by the id it was given.
        state.audit(&AuditEvent {
            target: format!("{} ({})", audit.target, record.id),
            ..audit.clone()
        });
        Ok(record)
    }

    async fn enrollment_code_by_hash(
        &self,
        hash: &EnrollmentCodeHash,
    ) -> StoreResult<Option<EnrollmentCodeRecord>> {
        Ok(self
            .state()
            .enrollment_codes
            .values()
            .find(|code| code.hash == *hash)
            .cloned())
    }

    async fn usable_enrollment_codes(
        &self,
        now: UnixTime,
    ) -> StoreResult<Vec<EnrollmentCodeRecord>> {
        let mut codes: Vec<EnrollmentCodeRecord> = self
            .state()
            .enrollment_codes
            .values()
            .filter(|code| code.used_at.is_none() && code.expires_at > now)
            .cloned()
            .collect();
        codes.sort_by_key(|code| (code.created_at, code.id));
        Ok(codes)
    }

    async fn consume_enrollment_code(
        &self,
        id: EnrollmentCodeId,
        at: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(code) = state
            .enrollment_codes
            .get_mut(&id.0)
            .filter(|code| code.used_at.is_none() && code.expires_at > at)
        else {
            return Ok(false);
        };
        code.used_at = Some(at);
        state.audit(audit);
        Ok(true)
    }

    async fn record_enrollment_code_serial(
        &self,
        id: EnrollmentCodeId,
        serial_hex: &str,
    ) -> StoreResult<()> {
        if let Some(code) = self.state().enrollment_codes.get_mut(&id.0) {
            code.used_for_serial = Some(serial_hex.to_owned());
        }
        Ok(())
    }
}

impl AdminTokenStore for MemoryStore {
    async fn insert_admin_token(
        &self,
        token: &AdminTokenRecord,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut state = self.state();
        if state
            .admin_tokens
            .iter()
            .any(|existing| existing.name == token.name || existing.hash == token.hash)
        {
            return Err(StoreError::Conflict {
                what: format!("the admin token {}", token.name),
            });
        }
        state.admin_tokens.push(token.clone());
        state.audit(audit);
        Ok(())
    }

    async fn admin_tokens(&self) -> StoreResult<Vec<AdminTokenRecord>> {
        let mut tokens = self.state().admin_tokens.clone();
        tokens.sort_by(|a, b| (a.created_at, &a.name).cmp(&(b.created_at, &b.name)));
        Ok(tokens)
    }

    async fn admin_token_by_hash(
        &self,
        hash: &AdminTokenHash,
    ) -> StoreResult<Option<AdminTokenRecord>> {
        Ok(self
            .state()
            .admin_tokens
            .iter()
            .find(|token| token.hash == *hash)
            .cloned())
    }

    async fn revoke_admin_token(
        &self,
        name: &AdminTokenName,
        at: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<AdminTokenRecord> {
        let mut state = self.state();
        let Some(token) = state.admin_tokens.iter_mut().find(|t| t.name == *name) else {
            return Err(StoreError::NotFound {
                what: format!("the admin token {name}"),
            });
        };
        if token.revoked_at.is_some() {
            return Err(StoreError::Conflict {
                what: format!("a revocation of the admin token {name}"),
            });
        }
        token.revoked_at = Some(at);
        let record = token.clone();
        state.audit(audit);
        Ok(record)
    }

    async fn touch_admin_token(&self, name: &AdminTokenName, at: UnixTime) -> StoreResult<()> {
        if let Some(token) = self
            .state()
            .admin_tokens
            .iter_mut()
            .find(|t| t.name == *name)
        {
            token.last_used_at = Some(at);
        }
        Ok(())
    }
}
