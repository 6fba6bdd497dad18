//! The directory in memory: users, binding rules, strength rules and the default required
//! affinity. Every write appends its audit event and bumps the generation.

use certgate_pki::UnixTime;

use super::{MemoryStore, State};
use crate::audit::AuditEvent;
use crate::binding::{attribute_matches, BindingPolicy, BindingRule, BindingRuleStore};
use crate::directory::{fold_case, Affinity, User, UserAttribute, UserId, UserLookup, UserStore};
use crate::directory_source::{
    ChangeMark, ChangeMarkStore, SyncLock, SyncRun, SyncRunResult, SyncRunStore, SyncStatus,
};
use crate::store::{StoreError, StoreResult};
use crate::strength::{StrengthRule, StrengthRuleId, StrengthRuleSpec, StrengthRuleStore};

fn unknown_user(id: &UserId) -> StoreError {
    StoreError::NotFound {
        what: format!("user {id}"),
    }
}

/// The SQL store's unique indexes over users: `Conflict` when `user` holds a value that
/// another user (one with another id) holds, or holds one value twice. UPNs and proxy
/// addresses compare case-insensitively (the whole proxy address, its type included), the
/// immutable ID and certificateUserIds values exactly.
fn check_unique(state: &State, user: &User) -> StoreResult<()> {
    let conflict = |what: String| Err(StoreError::Conflict { what });
    let user_what = || {
        format!(
            "a user with the UPN {} or the immutable ID {}",
            user.upn, user.immutable_id
        )
    };
    let others = || state.users.values().filter(|other| other.id != user.id);
    if others().any(|other| {
        fold_case(other.upn.as_str()) == fold_case(user.upn.as_str())
            || other.immutable_id == user.immutable_id
    }) {
        return conflict(user_what());
    }
    for (i, proxy) in user.proxy_addresses.iter().enumerate() {
        let taken = |theirs: &String| fold_case(theirs) == fold_case(proxy);
        if user.proxy_addresses[..i].iter().any(taken)
            || others().any(|other| other.proxy_addresses.iter().any(taken))
        {
            return conflict(format!("the proxy address {proxy}"));
        }
    }
    for (i, value) in user.certificate_user_ids.iter().enumerate() {
        if user.certificate_user_ids[..i].contains(value)
            || others().any(|other| other.certificate_user_ids.contains(value))
        {
            return conflict(format!("the certificateUserIds value {value}"));
        }
    }
    Ok(())
}

impl State {
    /// The end of every directory write.
    fn directory_written(&mut self, audit: &AuditEvent) {
        self.audit(audit);
        self.bump_generation();
    }

    /// Users for which `keep` holds, ordered by UPN (case-insensitively, as `upn_lower`).
    fn users_where(&self, keep: impl Fn(&User) -> bool) -> Vec<User> {
        let mut users: Vec<User> = self.users.values().filter(|u| keep(u)).cloned().collect();
        users.sort_by_cached_key(|user| fold_case(user.upn.as_str()));
        users
    }
}

impl UserLookup for MemoryStore {
    async fn find_users(&self, attribute: UserAttribute, value: &str) -> StoreResult<Vec<User>> {
        Ok(self
            .state()
            .users_where(|user| attribute_matches(user, attribute, value)))
    }
}

impl UserStore for MemoryStore {
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        Ok(self.state().users_where(|_| true))
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>> {
        Ok(self.state().users.get(id.as_str()).cloned())
    }

    async fn user_by_upn(&self, upn: &str) -> StoreResult<Option<User>> {
        let upn = fold_case(upn);
        Ok(self
            .state()
            .users
            .values()
            .find(|user| fold_case(user.upn.as_str()) == upn)
            .cloned())
    }

    async fn user_by_immutable_id(&self, immutable_id: &str) -> StoreResult<Option<User>> {
        Ok(self
            .state()
            .users
            .values()
            .find(|user| user.immutable_id == immutable_id)
            .cloned())
    }

    async fn insert_user(&self, user: &User, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        if state.users.contains_key(user.id.as_str()) {
            return Err(StoreError::Conflict {
                what: format!("user {}", user.id),
            });
        }
        check_unique(&state, user)?;
        state.users.insert(user.id.to_string(), user.clone());
        state.directory_written(audit);
        Ok(())
    }

    async fn update_user(&self, user: &User, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        let Some(current) = state.users.get(user.id.as_str()) else {
            return Err(unknown_user(&user.id));
        };
        let updated = User {
            id: current.id.clone(),
            created_at: current.created_at,
            sts_refresh_tokens_valid_from: current.sts_refresh_tokens_valid_from,
            ..user.clone()
        };
        check_unique(&state, &updated)?;
        state.users.insert(updated.id.to_string(), updated);
        state.directory_written(audit);
        Ok(())
    }

    async fn delete_user(&self, id: &UserId, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        state
            .users
            .remove(id.as_str())
            .ok_or_else(|| unknown_user(id))?;
        // The enrollment codes' foreign key deletes them along (ON DELETE CASCADE).
        state.enrollment_codes.retain(|_, code| code.user_id != *id);
        state.directory_written(audit);
        Ok(())
    }

    async fn set_sts_refresh_tokens_valid_from(
        &self,
        id: &UserId,
        valid_from: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let user = state
            .users
            .get_mut(id.as_str())
            .ok_or_else(|| unknown_user(id))?;
        user.sts_refresh_tokens_valid_from = Some(valid_from);
        state.directory_written(audit);
        Ok(())
    }
}

impl SyncRunStore for MemoryStore {
    async fn record_sync_run(&self, run: &SyncRun) -> StoreResult<()> {
        let mut state = self.state();
        if matches!(run.result, SyncRunResult::Completed(_)) {
            state.sync_status.last_completed = Some(run.clone());
        }
        state.sync_status.last_run = Some(run.clone());
        Ok(())
    }

    async fn sync_status(&self) -> StoreResult<SyncStatus> {
        Ok(self.state().sync_status.clone())
    }
}

impl ChangeMarkStore for MemoryStore {
    async fn change_mark(&self) -> StoreResult<Option<ChangeMark>> {
        Ok(self.state().change_mark.clone())
    }

    async fn save_change_mark(&self, mark: &ChangeMark) -> StoreResult<()> {
        self.state().change_mark = Some(mark.clone());
        Ok(())
    }
}

/// The in-memory sync lock, held. Unlike the SQL store's, it stays held when dropped without
/// being released: a test that forgets to release it finds out.
#[derive(Debug)]
pub struct MemorySyncLock(());

impl SyncLock for MemoryStore {
    type Held = MemorySyncLock;

    async fn try_lock_sync(&self) -> StoreResult<Option<MemorySyncLock>> {
        let mut state = self.state();
        if state.sync_locked {
            return Ok(None);
        }
        state.sync_locked = true;
        Ok(Some(MemorySyncLock(())))
    }

    async fn release_sync_lock(&self, _held: MemorySyncLock) -> StoreResult<()> {
        self.state().sync_locked = false;
        Ok(())
    }
}

impl BindingRuleStore for MemoryStore {
    async fn binding_policy(&self) -> StoreResult<BindingPolicy> {
        let state = self.state();
        Ok(BindingPolicy {
            rules: state.binding_rules.values().copied().collect(),
            default_required_affinity: state.default_required_affinity.0,
        })
    }

    async fn insert_binding_rule(
        &self,
        rule: &BindingRule,
        _now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut state = self.state();
        if state.binding_rules.contains_key(&rule.priority) {
            return Err(StoreError::Conflict {
                what: format!("a binding rule with priority {}", rule.priority),
            });
        }
        state.binding_rules.insert(rule.priority, *rule);
        state.directory_written(audit);
        Ok(())
    }

    async fn delete_binding_rule(&self, priority: u32, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        state
            .binding_rules
            .remove(&priority)
            .ok_or_else(|| StoreError::NotFound {
                what: format!("binding rule {priority}"),
            })?;
        state.directory_written(audit);
        Ok(())
    }

    async fn set_default_required_affinity(
        &self,
        affinity: Affinity,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut state = self.state();
        state.default_required_affinity.0 = affinity;
        state.directory_written(audit);
        Ok(())
    }
}

impl StrengthRuleStore for MemoryStore {
    async fn strength_rules(&self) -> StoreResult<Vec<StrengthRule>> {
        Ok(self.state().strength_rules.values().cloned().collect())
    }

    async fn insert_strength_rule(
        &self,
        rule: &StrengthRuleSpec,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<StrengthRule> {
        let mut state = self.state();
        let rule = StrengthRule {
            id: StrengthRuleId(state.strength_rule_ids.next()),
            spec: rule.clone(),
            created_at: now,
        };
        state.strength_rules.insert(rule.id.0, rule.clone());
        state.directory_written(audit);
        Ok(rule)
    }

    async fn delete_strength_rule(
        &self,
        id: StrengthRuleId,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut state = self.state();
        state
            .strength_rules
            .remove(&id.0)
            .ok_or_else(|| StoreError::NotFound {
                what: format!("strength rule {id}"),
            })?;
        state.directory_written(audit);
        Ok(())
    }
}
