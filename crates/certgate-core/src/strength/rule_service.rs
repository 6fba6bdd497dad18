//! The strength-rule services: list, add and remove the rules that make a certificate
//! single- or multi-factor.

use certgate_pki::UnixTime;

use std::future::Future;

use super::{StrengthRule, StrengthRuleError, StrengthRuleId, StrengthRuleSpec};
use crate::audit::AuditEvent;
use crate::store::{StoreError, StoreResult};

/// The authentication-strength rules (which certificates count as multi-factor).
///
/// Every write is one transaction that also appends `audit` and bumps the generation.
pub trait StrengthRuleStore: Send + Sync + 'static {
    /// Ordered by id.
    fn strength_rules(&self) -> impl Future<Output = StoreResult<Vec<StrengthRule>>> + Send;
    /// Stores a new rule under an id the store assigns, and returns it. Duplicates are the caller's
    /// check ([`add_strength_rule`]).
    fn insert_strength_rule(
        &self,
        rule: &StrengthRuleSpec,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<StrengthRule>> + Send;
    /// `NotFound` when there is no such rule.
    fn delete_strength_rule(
        &self,
        id: StrengthRuleId,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The configured strength rules, ordered by id.
pub async fn strength_rules<S: StrengthRuleStore>(
    store: &S,
) -> Result<Vec<StrengthRule>, StrengthRuleError> {
    Ok(store.strength_rules().await?)
}

/// Adds a rule; refuses one whose issuer and policy OID are those of an existing rule.
pub async fn add_strength_rule<S: StrengthRuleStore>(
    store: &S,
    spec: StrengthRuleSpec,
    now: UnixTime,
    actor: &str,
) -> Result<StrengthRule, StrengthRuleError> {
    spec.check()?;
    if let Some(existing) = store
        .strength_rules()
        .await?
        .into_iter()
        .find(|rule| rule.spec.same_selectors(&spec))
    {
        return Err(StrengthRuleError::Duplicate {
            existing: existing.id,
            spec: existing.spec.to_string(),
        });
    }
    let audit = AuditEvent::new(
        now,
        actor,
        "strength.add",
        format!("strength rule ({})", spec.precedence().graph_name()),
        "ok",
        spec.to_string(),
    );
    Ok(store.insert_strength_rule(&spec, now, &audit).await?)
}

/// Removes the rule `id` and returns it;
/// [`StrengthRuleError::NotFound`](crate::strength::StrengthRuleError::NotFound) when there is no
/// such rule.
pub async fn remove_strength_rule<S: StrengthRuleStore>(
    store: &S,
    id: StrengthRuleId,
    now: UnixTime,
    actor: &str,
) -> Result<StrengthRule, StrengthRuleError> {
    let Some(rule) = store
        .strength_rules()
        .await?
        .into_iter()
        .find(|rule| rule.id == id)
    else {
        return Err(StrengthRuleError::NotFound(id));
    };
    let audit = AuditEvent::new(
        now,
        actor,
        "strength.remove",
        format!("strength rule {id}"),
        "ok",
        rule.spec.to_string(),
    );
    match store.delete_strength_rule(id, &audit).await {
        Ok(()) => Ok(rule),
        Err(StoreError::NotFound { .. }) => Err(StrengthRuleError::NotFound(id)),
        Err(other) => Err(other.into()),
    }
}
