//! Explaining a validation (`--explain`): the checks of each path attempt, and the
//! human-readable descriptions of purposes and revocation statuses.

use super::{Check, PathAttempt, Purpose, Rejection, RevocationStatus};
use crate::certificate::Certificate;
use crate::oid::Oid;

pub(super) fn describe_purpose(purpose: &Purpose) -> String {
    match purpose {
        Purpose::ClientAuth => "client authentication".into(),
        Purpose::ServerAuth => "server authentication".into(),
        Purpose::Any => "any purpose".into(),
        Purpose::RequiredEkus(oids) => format!("EKU {{{}}}", join(oids)),
    }
}

pub(super) fn describe_status(status: &RevocationStatus) -> String {
    match status {
        RevocationStatus::NotChecked => "not checked".into(),
        RevocationStatus::Good {
            crl_number,
            delta_crl_number: None,
        } => format!("not revoked (CRL number {})", hex(crl_number)),
        RevocationStatus::Good {
            crl_number,
            delta_crl_number: Some(delta),
        } => {
            format!(
                "not revoked (CRL number {}, delta CRL number {})",
                hex(crl_number),
                hex(delta)
            )
        }
        RevocationStatus::Exempt { reason } => {
            format!("status unknown, issuer exempt by policy ({reason})")
        }
    }
}

pub(super) fn join(oids: &[Oid]) -> String {
    oids.iter().map(Oid::as_str).collect::<Vec<_>>().join(", ")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Collects checks for one path attempt when explaining; a no-op otherwise.
pub(super) struct Trace {
    attempt: Option<PathAttempt>,
}

impl Trace {
    pub(super) fn new(enabled: bool, anchor: &Certificate, chain: &[&Certificate]) -> Self {
        let attempt = enabled.then(|| PathAttempt {
            subjects: chain
                .iter()
                .map(|c| c.subject().to_string())
                .chain(std::iter::once(anchor.subject().to_string()))
                .collect(),
            checks: Vec::new(),
            failure: None,
        });
        Trace { attempt }
    }

    /// Records a passed check; `detail` is only built when explaining (this is the hot path).
    pub(super) fn pass(
        &mut self,
        depth: usize,
        name: &'static str,
        detail: impl FnOnce() -> String,
    ) {
        if let Some(attempt) = &mut self.attempt {
            attempt.checks.push(Check {
                depth,
                name,
                passed: true,
                detail: detail(),
            });
        }
    }

    pub(super) fn fail(
        &mut self,
        depth: usize,
        name: &'static str,
        rejection: Rejection,
    ) -> Rejection {
        if let Some(attempt) = &mut self.attempt {
            attempt.checks.push(Check {
                depth,
                name,
                passed: false,
                detail: format!("{}: {}", rejection.code(), rejection.reason),
            });
        }
        rejection
    }

    pub(super) fn finish(self, failure: Option<&Rejection>) -> PathAttempt {
        let mut attempt = self.attempt.unwrap_or(PathAttempt {
            subjects: Vec::new(),
            checks: Vec::new(),
            failure: None,
        });
        attempt.failure = failure.map(|r| (r.code().to_string(), r.reason.to_string()));
        attempt
    }
}
