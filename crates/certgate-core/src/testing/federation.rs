//! The federation service's store in memory: relying parties, token-signing keys and the
//! replay cache of SAML request IDs.
//!
//! What the SQL schema (migration 0008) refuses, this store refuses with the same
//! `StoreError`: a relying party's ID, its case-folded name and its (protocol, identifier) are
//! each unique; a key's thumbprint is unique and at most one key is Current and one Next. The
//! key writes are compare-and-set: a write whose expectation no longer holds (keys exist, the
//! Current or Next key moved on, the new key collides with one stored) returns false and
//! changes nothing. None of these writes bumps the generation (the SQL store's do not: the
//! federation service reloads its keys itself, nothing else caches them).

use crate::directory::fold_case;
use certgate_pki::UnixTime;

use super::{MemoryStore, State};
use crate::audit::AuditEvent;
use crate::federation::{FederationStore, KeyState, Protocol, RelyingParty, TokenSigningKey};
use crate::store::{StoreError, StoreResult};

impl State {
    /// The relying party other than `rp` (by ID) that holds its name (case-folded) or its
    /// (protocol, identifier), if any: the SQL store's `UNIQUE (name_lower)` and
    /// `UNIQUE (protocol, identifier_key)`.
    fn relying_party_clash(&self, rp: &RelyingParty) -> Option<&RelyingParty> {
        let name = fold_case(&rp.name);
        self.relying_parties.values().find(|other| {
            other.id != rp.id
                && (fold_case(&other.name) == name
                    || (other.protocol == rp.protocol && other.identifier == rp.identifier))
        })
    }
}

fn relying_party_conflict(rp: &RelyingParty) -> StoreError {
    StoreError::Conflict {
        what: format!(
            "a relying party named \"{}\" or with the {} identifier {}",
            rp.name,
            rp.protocol.as_str(),
            rp.identifier
        ),
    }
}

/// Whether `key` may join `keys`: a thumbprint not stored yet (the primary key) and, for a
/// Current or Next key, no other key in that state (the partial unique index
/// `token_signing_keys_one_per_state`).
fn key_fits(keys: &[TokenSigningKey], key: &TokenSigningKey) -> bool {
    let one_per_state = matches!(key.lifecycle.state, KeyState::Current | KeyState::Next);
    !keys.iter().any(|stored| {
        stored.thumbprint == key.thumbprint
            || (one_per_state && stored.lifecycle.state == key.lifecycle.state)
    })
}

/// The position of the key `thumbprint` when it is in `state`.
fn key_in_state(keys: &[TokenSigningKey], thumbprint: &str, state: KeyState) -> Option<usize> {
    keys.iter()
        .position(|key| key.thumbprint == thumbprint && key.lifecycle.state == state)
}

impl FederationStore for MemoryStore {
    async fn relying_parties(&self) -> StoreResult<Vec<RelyingParty>> {
        let mut parties: Vec<RelyingParty> =
            self.state().relying_parties.values().cloned().collect();
        // The SQL store's ORDER BY name_lower, id.
        parties.sort_by_cached_key(|rp| (fold_case(&rp.name), rp.id.clone()));
        Ok(parties)
    }

    async fn relying_party(&self, id: &str) -> StoreResult<Option<RelyingParty>> {
        Ok(self.state().relying_parties.get(id).cloned())
    }

    async fn relying_party_by_identifier(
        &self,
        protocol: Protocol,
        identifier: &str,
    ) -> StoreResult<Option<RelyingParty>> {
        Ok(self
            .state()
            .relying_parties
            .values()
            .find(|rp| rp.protocol == protocol && rp.identifier == identifier)
            .cloned())
    }

    async fn insert_relying_party(&self, rp: &RelyingParty, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        if state.relying_parties.contains_key(&rp.id) || state.relying_party_clash(rp).is_some() {
            return Err(relying_party_conflict(rp));
        }
        state.relying_parties.insert(rp.id.clone(), rp.clone());
        state.audit(audit);
        Ok(())
    }

    async fn update_relying_party(&self, rp: &RelyingParty, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        // As the SQL UPDATE: a missing row is NotFound before any constraint is met.
        let Some(created_at) = state.relying_parties.get(&rp.id).map(|s| s.created_at) else {
            return Err(StoreError::NotFound {
                what: format!("relying party {}", rp.id),
            });
        };
        if state.relying_party_clash(rp).is_some() {
            return Err(relying_party_conflict(rp));
        }
        // created_at is kept as stored: it is not the caller's to change.
        let updated = RelyingParty {
            created_at,
            ..rp.clone()
        };
        state.relying_parties.insert(rp.id.clone(), updated);
        state.audit(audit);
        Ok(())
    }

    async fn delete_relying_party(&self, id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        if state.relying_parties.remove(id).is_none() {
            return Err(StoreError::NotFound {
                what: format!("relying party {id}"),
            });
        }
        state.audit(audit);
        Ok(())
    }

    async fn token_signing_keys(&self) -> StoreResult<Vec<TokenSigningKey>> {
        let mut keys = self.state().token_signing_keys.clone();
        keys.sort_by(|a, b| {
            (a.lifecycle.created_at, &a.thumbprint).cmp(&(b.lifecycle.created_at, &b.thumbprint))
        });
        Ok(keys)
    }

    async fn insert_initial_token_signing_keys(
        &self,
        current: &TokenSigningKey,
        next: &TokenSigningKey,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        if !state.token_signing_keys.is_empty() {
            return Ok(false);
        }
        // Two keys the schema would not hold together (one thumbprint, or one state twice)
        // lose as a second node's insert does: nothing is stored.
        if !key_fits(std::slice::from_ref(current), next) {
            return Ok(false);
        }
        state
            .token_signing_keys
            .extend([current.clone(), next.clone()]);
        state.audit(audit);
        Ok(true)
    }

    async fn rotate_token_signing_keys(
        &self,
        expected_current: &str,
        expected_next: &str,
        new_next: &TokenSigningKey,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        // The rotation is planned on a copy and kept only when every step holds, as the SQL
        // transaction is rolled back when one of its conditional statements matches nothing.
        let mut keys = state.token_signing_keys.clone();
        let Some(retiring) = key_in_state(&keys, expected_current, KeyState::Current) else {
            return Ok(false);
        };
        keys[retiring].lifecycle.state = KeyState::Retired;
        keys[retiring].lifecycle.retired_at = Some(now);
        let Some(promoted) = key_in_state(&keys, expected_next, KeyState::Next) else {
            return Ok(false);
        };
        keys[promoted].lifecycle.state = KeyState::Current;
        keys[promoted].lifecycle.activated_at = Some(now);
        if !key_fits(&keys, new_next) {
            return Ok(false);
        }
        keys.push(new_next.clone());
        state.token_signing_keys = keys;
        state.audit(audit);
        Ok(true)
    }

    async fn remember_request_id(
        &self,
        issuer: &str,
        request_id: &str,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let mut state = self.state();
        let key = (issuer.to_owned(), request_id.to_owned());
        // An expired ID that was not purged yet still counts as seen, as in the SQL store.
        if state.request_ids.contains_key(&key) {
            return Ok(false);
        }
        state.request_ids.insert(key, expires_at);
        Ok(true)
    }

    async fn purge_request_ids(&self, now: UnixTime) -> StoreResult<u64> {
        let mut state = self.state();
        let before = state.request_ids.len();
        state.request_ids.retain(|_, expires_at| *expires_at >= now);
        Ok((before - state.request_ids.len()) as u64)
    }
}
