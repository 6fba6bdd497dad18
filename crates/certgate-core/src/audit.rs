//! The audit log: every change to trust, the built-in CA and the CRL cache, with the exact
//! reason for every refusal.

use crate::store::StoreResult;
use certgate_pki::UnixTime;
use std::future::Future;

/// One entry of the audit log, as the store appends it and `certgate audit` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened.
    pub at: UnixTime,
    /// Who: `cli:<user>`, `server`, `scheduler`.
    pub actor: String,
    /// What, as a stable dotted name: `ca.add`, `pki.revoke`, `crl.refresh`, ...
    pub action: String,
    /// What it was done to: a CA id, a serial, ...
    pub target: String,
    /// `ok` or the reason code of the failure.
    pub outcome: String,
    /// The full message, for people.
    pub detail: String,
}

impl AuditEvent {
    /// An event at `at`; the text arguments are copied as they are.
    pub fn new(
        at: UnixTime,
        actor: &str,
        action: &str,
        target: impl Into<String>,
        outcome: &str,
        detail: impl Into<String>,
    ) -> Self {
        AuditEvent {
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.into(),
            outcome: outcome.to_owned(),
            detail: detail.into(),
        }
    }
}

/// The audit log: every change an administrator or the server made, append-only.
pub trait AuditLog: Send + Sync + 'static {
    /// Appends one event.
    fn append_audit(&self, event: &AuditEvent) -> impl Future<Output = StoreResult<()>> + Send;
    /// The newest `limit` events, newest first.
    fn audit_events(&self, limit: i64)
        -> impl Future<Output = StoreResult<Vec<AuditEvent>>> + Send;
    /// Deletes at most `max_rows` of the oldest events recorded before `before`; returns how
    /// many (retention: see the `retention` module, which calls this).
    fn purge_audit_events(
        &self,
        before: UnixTime,
        max_rows: u32,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}
