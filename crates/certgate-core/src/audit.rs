//! The audit log: every change to trust, the built-in CA and the CRL cache, with the exact
//! reason for every refusal.

use certgate_pki::UnixTime;

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
