//! The binding-rule services: list, add and remove the rules that say which user a
//! certificate signs in as, and set the default required affinity.

use certgate_pki::UnixTime;

use std::future::Future;

use super::{BindingPolicy, BindingRule, BindingRuleError};
use crate::audit::AuditEvent;
use crate::directory::{Affinity, CertificateField, UserAttribute};
use crate::store::{StoreError, StoreResult};

/// The username-binding rules (which user a certificate signs in as) and the default
/// required affinity.
///
/// Every write is one transaction that also appends `audit` and bumps the generation.
pub trait BindingRuleStore: Send + Sync + 'static {
    /// The configured rules (empty: the defaults apply), ordered by priority, and the default
    /// required affinity.
    fn binding_policy(&self) -> impl Future<Output = StoreResult<BindingPolicy>> + Send;
    /// `Conflict` when the priority is taken.
    fn insert_binding_rule(
        &self,
        rule: &BindingRule,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// `NotFound` when no rule has this priority.
    fn delete_binding_rule(
        &self,
        priority: u32,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Sets x509CertificateDefaultRequiredAffinityLevel, which applies to certificates no rule
    /// matches by affinity.
    fn set_default_required_affinity(
        &self,
        affinity: Affinity,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The configured binding rules (none: Entra's defaults apply) and the default required affinity.
pub async fn binding_policy<S: BindingRuleStore>(
    store: &S,
) -> Result<BindingPolicy, BindingRuleError> {
    Ok(store.binding_policy().await?)
}

/// Adds a rule; without a priority, after the last configured rule.
pub async fn add_binding_rule<S: BindingRuleStore>(
    store: &S,
    certificate_field: CertificateField,
    user_attribute: UserAttribute,
    priority: Option<u32>,
    now: UnixTime,
    actor: &str,
) -> Result<BindingRule, BindingRuleError> {
    let policy = store.binding_policy().await?;
    let priority = priority.unwrap_or_else(|| {
        policy
            .rules
            .iter()
            .map(|rule| rule.priority)
            .max()
            .map_or(1, |last| last.saturating_add(1))
    });
    let rule = BindingRule::new(priority, certificate_field, user_attribute);
    rule.check()?;
    let taken = |policy: &BindingPolicy| {
        policy
            .rules
            .iter()
            .find(|existing| existing.priority == priority)
            .copied()
    };
    if let Some(existing) = taken(&policy) {
        return Err(BindingRuleError::PriorityTaken { priority, existing });
    }
    let audit = AuditEvent::new(
        now,
        actor,
        "binding.add",
        format!("binding rule {priority}"),
        "ok",
        format!(
            "{rule} (priority {priority}, {} affinity){}",
            rule.affinity(),
            if policy.uses_default_rules() {
                "; replaces the default rules"
            } else {
                ""
            }
        ),
    );
    match store.insert_binding_rule(&rule, now, &audit).await {
        Ok(()) => Ok(rule),
        Err(StoreError::Conflict { what }) => match taken(&store.binding_policy().await?) {
            Some(existing) => Err(BindingRuleError::PriorityTaken { priority, existing }),
            None => Err(StoreError::Conflict { what }.into()),
        },
        Err(other) => Err(other.into()),
    }
}

/// Removes the rule with `priority` and returns it; with the last rule gone, the default rules
/// apply again. `binding-rule-not-found` when no rule has that priority.
pub async fn remove_binding_rule<S: BindingRuleStore>(
    store: &S,
    priority: u32,
    now: UnixTime,
    actor: &str,
) -> Result<BindingRule, BindingRuleError> {
    let policy = store.binding_policy().await?;
    let not_found = BindingRuleError::NotFound {
        priority,
        defaults_in_force: policy.uses_default_rules(),
    };
    let Some(rule) = policy
        .rules
        .iter()
        .find(|rule| rule.priority == priority)
        .copied()
    else {
        return Err(not_found);
    };
    let audit = AuditEvent::new(
        now,
        actor,
        "binding.remove",
        format!("binding rule {priority}"),
        "ok",
        format!(
            "{rule}{}",
            if policy.rules.len() == 1 {
                "; no rule is left, the default rules apply again"
            } else {
                ""
            }
        ),
    );
    match store.delete_binding_rule(priority, &audit).await {
        Ok(()) => Ok(rule),
        Err(StoreError::NotFound { .. }) => Err(not_found),
        Err(other) => Err(other.into()),
    }
}

/// Sets the default required affinity (Entra's x509CertificateDefaultRequiredAffinityLevel) and
/// records it in the audit log.
pub async fn set_default_required_affinity<S: BindingRuleStore>(
    store: &S,
    affinity: Affinity,
    now: UnixTime,
    actor: &str,
) -> Result<(), BindingRuleError> {
    let audit = AuditEvent::new(
        now,
        actor,
        "binding.set-default-affinity",
        "binding policy",
        "ok",
        format!("x509CertificateDefaultRequiredAffinityLevel = {affinity}"),
    );
    Ok(store
        .set_default_required_affinity(affinity, &audit)
        .await?)
}
