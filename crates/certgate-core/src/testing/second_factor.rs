//! Second factors in memory: TOTP secrets (with the compare-and-set of every verification) and
//! Temporary Access Passes (with the compare-and-set of a redemption).

use certgate_pki::UnixTime;

use super::{MemoryStore, State};
use crate::access_pass::{AccessPassStore, SecondFactorReset, StoredAccessPass};
use crate::audit::AuditEvent;
use crate::store::StoreResult;
use crate::totp::{
    NewTotpSecret, StoredTotpSecret, SwapOutcome, TotpCounters, TotpSecretId, TotpSecrets,
    TotpSlot, TotpStore,
};

impl State {
    /// The compare-and-set of a verification: sets the counters of secret `id` of `user_id`
    /// when it is still at `expected_revision` (and, with `slot`, still in that slot), moving
    /// the revision on. The secret as written, or `None` when nothing was.
    fn swap_totp_counters(
        &mut self,
        user_id: &str,
        id: TotpSecretId,
        slot: Option<TotpSlot>,
        expected_revision: i64,
        counters: &TotpCounters,
        now: UnixTime,
    ) -> Option<&mut StoredTotpSecret> {
        let secret = self.totp_secrets.iter_mut().find(|secret| {
            secret.id == id
                && secret.user_id == user_id
                && secret.revision == expected_revision
                && slot.is_none_or(|slot| secret.slot == slot)
        })?;
        secret.counters = *counters;
        secret.revision += 1;
        secret.updated_at = now;
        Some(secret)
    }
}

impl TotpStore for MemoryStore {
    async fn totp_secrets(&self, user_id: &str) -> StoreResult<TotpSecrets> {
        let state = self.state();
        let mut secrets = TotpSecrets::default();
        for secret in state.totp_secrets.iter().filter(|s| s.user_id == user_id) {
            match secret.slot {
                TotpSlot::Active => secrets.active = Some(secret.clone()),
                TotpSlot::Pending => secrets.pending = Some(secret.clone()),
            }
        }
        Ok(secrets)
    }

    async fn put_pending_totp(
        &self,
        user_id: &str,
        secret: &NewTotpSecret,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<StoredTotpSecret> {
        let mut state = self.state();
        state
            .totp_secrets
            .retain(|s| !(s.user_id == user_id && s.slot == TotpSlot::Pending));
        let stored = StoredTotpSecret {
            id: TotpSecretId(state.totp_secret_ids.next()),
            user_id: user_id.to_owned(),
            slot: TotpSlot::Pending,
            sealed_secret: secret.sealed_secret.clone(),
            algorithm: secret.algorithm,
            digits: secret.digits,
            counters: TotpCounters::default(),
            revision: 1,
            created_at: now,
            updated_at: now,
        };
        state.totp_secrets.push(stored.clone());
        state.audit(audit);
        Ok(stored)
    }

    async fn update_totp_counters(
        &self,
        user_id: &str,
        id: TotpSecretId,
        expected_revision: i64,
        counters: &TotpCounters,
        now: UnixTime,
        audit: Option<&AuditEvent>,
    ) -> StoreResult<SwapOutcome> {
        let mut state = self.state();
        if state
            .swap_totp_counters(user_id, id, None, expected_revision, counters, now)
            .is_none()
        {
            return Ok(SwapOutcome::Stale);
        }
        if let Some(event) = audit {
            state.audit(event);
        }
        Ok(SwapOutcome::Applied)
    }

    async fn confirm_pending_totp(
        &self,
        user_id: &str,
        id: TotpSecretId,
        expected_revision: i64,
        counters: &TotpCounters,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<SwapOutcome> {
        let mut state = self.state();
        let Some(confirmed) = state.swap_totp_counters(
            user_id,
            id,
            Some(TotpSlot::Pending),
            expected_revision,
            counters,
            now,
        ) else {
            return Ok(SwapOutcome::Stale);
        };
        confirmed.slot = TotpSlot::Active;
        state
            .totp_secrets
            .retain(|s| !(s.user_id == user_id && s.slot == TotpSlot::Active && s.id != id));
        state.audit(audit);
        Ok(SwapOutcome::Applied)
    }

    async fn delete_totp(&self, user_id: &str, audit: &AuditEvent) -> StoreResult<bool> {
        let mut state = self.state();
        let before = state.totp_secrets.len();
        state.totp_secrets.retain(|s| s.user_id != user_id);
        let deleted = state.totp_secrets.len() < before;
        if deleted {
            state.audit(audit);
        }
        Ok(deleted)
    }

    async fn reseal_totp(
        &self,
        user_id: &str,
        id: TotpSecretId,
        expected_revision: i64,
        sealed_secret: &[u8],
        now: UnixTime,
    ) -> StoreResult<SwapOutcome> {
        let mut state = self.state();
        let Some(secret) = state
            .totp_secrets
            .iter_mut()
            .find(|s| s.id == id && s.user_id == user_id && s.revision == expected_revision)
        else {
            return Ok(SwapOutcome::Stale);
        };
        secret.sealed_secret = sealed_secret.to_vec();
        secret.revision += 1;
        secret.updated_at = now;
        Ok(SwapOutcome::Applied)
    }

    async fn totp_sealing_salt(&self, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        Ok(self
            .state()
            .totp_sealing_salt
            .get_or_insert_with(|| candidate.to_vec())
            .clone())
    }
}

impl AccessPassStore for MemoryStore {
    async fn access_pass(&self, user_id: &str) -> StoreResult<Option<StoredAccessPass>> {
        Ok(self.state().access_passes.get(user_id).cloned())
    }

    async fn put_access_pass(
        &self,
        pass: &StoredAccessPass,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut state = self.state();
        state
            .access_passes
            .insert(pass.user_id.clone(), pass.clone());
        state.audit(audit);
        Ok(())
    }

    async fn consume_access_pass(
        &self,
        user_id: &str,
        pass_hash: &[u8],
        now: UnixTime,
        max_failed_attempts: u32,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let Some(pass) = state.access_passes.get_mut(user_id).filter(|pass| {
            pass.pass_hash == pass_hash
                && pass.consumed_at.is_none()
                && pass.expires_at > now
                && pass.failed_attempts < max_failed_attempts
        }) else {
            return Ok(false);
        };
        pass.consumed_at = Some(now);
        state.audit(audit);
        Ok(true)
    }

    async fn record_access_pass_failure(
        &self,
        user_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut state = self.state();
        if let Some(pass) = state
            .access_passes
            .get_mut(user_id)
            .filter(|pass| pass.consumed_at.is_none())
        {
            pass.failed_attempts += 1;
        }
        state.audit(audit);
        Ok(())
    }

    async fn reset_second_factor(
        &self,
        user_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<SecondFactorReset> {
        let mut state = self.state();
        let secrets_before = state.totp_secrets.len();
        state.totp_secrets.retain(|s| s.user_id != user_id);
        let authenticator_removed = state.totp_secrets.len() < secrets_before;
        // A redeemed pass goes too, but only an unredeemed one counts as removed.
        let access_pass_removed = state
            .access_passes
            .remove(user_id)
            .is_some_and(|pass| pass.consumed_at.is_none());
        state.audit(audit);
        Ok(SecondFactorReset {
            authenticator_removed,
            access_pass_removed,
        })
    }
}
