//! Path building (RFC 4158): a depth-first search upwards from the end entity through
//! presented and trusted intermediates to a trusted root, within the policy's budgets, keeping
//! the most useful failure when no candidate path validates.

use super::{Engine, Rejection, ValidatedPath, ValidationPolicy};
use crate::certificate::Certificate;
use crate::error::Reason;
use crate::trust_store::CaKind;

/// Ranks failures so the one reported is the most useful: a complete path that failed a
/// check says more than "no issuer found".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    Incomplete,
    TooLong,
    Complete,
    Budget,
}

struct Best {
    failure: Option<(Severity, Rejection)>,
}

impl Best {
    fn offer(&mut self, severity: Severity, rejection: Rejection) {
        let replace = match &self.failure {
            None => true,
            Some((current, _)) => severity > *current,
        };
        if replace {
            self.failure = Some((severity, rejection));
        }
    }
}

impl<'a> Engine<'a> {
    /// Builds and validates a path for `leaf`. `required_anchor` restricts the anchor (CRL
    /// signer paths must end at the target's anchor).
    pub(super) fn run(
        &self,
        leaf: &'a Certificate,
        required_anchor: Option<&'a Certificate>,
        policy: &ValidationPolicy,
    ) -> Result<ValidatedPath<'a>, Rejection> {
        let mut chain = vec![leaf];
        let mut best = Best { failure: None };
        if let Some(path) = self.search(&mut chain, required_anchor, policy, &mut best) {
            return Ok(path);
        }
        Err(best.failure.map(|(_, r)| r).unwrap_or_else(|| Rejection {
            reason: Reason::IssuerNotFound {
                issuer: leaf.issuer().to_string(),
            },
            depth: Some(0),
            subject: Some(leaf.subject().to_string()),
        }))
    }

    fn budget_exceeded(&self) -> Option<Rejection> {
        let budget = self.policy.budget;
        if self.steps.get() > budget.max_steps {
            return Some(Rejection {
                reason: Reason::PathBudgetExceeded {
                    budget: budget.max_steps,
                },
                depth: None,
                subject: None,
            });
        }
        if self.signatures.get() > budget.max_signatures {
            return Some(Rejection {
                reason: Reason::PathBudgetExceeded {
                    budget: budget.max_signatures,
                },
                depth: None,
                subject: None,
            });
        }
        None
    }

    /// Depth-first search upwards from `chain`'s last certificate.
    fn search(
        &self,
        chain: &mut Vec<&'a Certificate>,
        required_anchor: Option<&'a Certificate>,
        policy: &ValidationPolicy,
        best: &mut Best,
    ) -> Option<ValidatedPath<'a>> {
        let top = *chain.last()?;
        let issuer_group = self.trust.group_of_subject(top.issuer());
        // 1. A trusted root that issued `top` completes the path.
        for ca in self
            .trust
            .in_group(issuer_group)
            .filter(|ca| ca.kind == CaKind::Root)
        {
            let anchor = &ca.certificate;
            if required_anchor.is_some_and(|required| required.der() != anchor.der()) {
                continue;
            }
            // A trusted root presented as part of the chain is the anchor itself, not a link.
            if chain.iter().any(|c| c.der() == anchor.der()) {
                continue;
            }
            self.steps.set(self.steps.get() + 1);
            if let Some(exceeded) = self.budget_exceeded() {
                best.offer(Severity::Budget, exceeded);
                return None;
            }
            match self.validate_path(anchor, chain, policy) {
                Ok(path) => return Some(path),
                Err(rejection) => best.offer(Severity::Complete, rejection),
            }
        }
        // Intermediates already in the chain that count against max_depth (chain[0] is the
        // end entity; self-issued ones are free, RFC 5280 §6.1.4 (l)).
        let counted = chain.iter().skip(1).filter(|c| !c.is_self_issued()).count();
        // 2. Otherwise extend through an intermediate, AKI matches first.
        let mut candidates: Vec<&'a Certificate> = self
            .intermediates
            .iter()
            .filter(|c| c.subject() == top.issuer())
            .chain(
                self.trust
                    .in_group(issuer_group)
                    .filter(|ca| ca.kind == CaKind::Intermediate)
                    .map(|ca| &ca.certificate),
            )
            .collect();
        if let Some(key_id) = top.authority_key_identifier() {
            candidates.sort_by_key(|c| c.subject_key_id() != Some(key_id));
        }
        for (position, candidate) in candidates.iter().enumerate() {
            // Loop detection (RFC 4158 §5.2): the same certificate, or the same subject and key,
            // may appear only once; duplicates of an earlier candidate are skipped too.
            let repeats = chain.iter().any(|c| {
                c.der() == candidate.der()
                    || (c.subject() == candidate.subject()
                        && c.public_key() == candidate.public_key())
            }) || candidates[..position]
                .iter()
                .any(|c| c.der() == candidate.der());
            if repeats
                || self
                    .trust
                    .find_by_der(candidate.der())
                    .is_some_and(|ca| ca.kind == CaKind::Root)
            {
                continue;
            }
            if counted >= policy.max_depth && !candidate.is_self_issued() {
                best.offer(
                    Severity::TooLong,
                    Rejection {
                        reason: Reason::PathTooLong {
                            intermediates: counted + 1,
                            max: policy.max_depth,
                        },
                        depth: Some(chain.len()),
                        subject: Some(candidate.subject().to_string()),
                    },
                );
                continue;
            }
            self.steps.set(self.steps.get() + 1);
            if let Some(exceeded) = self.budget_exceeded() {
                best.offer(Severity::Budget, exceeded);
                return None;
            }
            chain.push(candidate);
            let found = self.search(chain, required_anchor, policy, best);
            chain.pop();
            if found.is_some() {
                return found;
            }
            if matches!(best.failure, Some((Severity::Budget, _))) {
                return None;
            }
        }
        best.offer(
            Severity::Incomplete,
            Rejection {
                reason: Reason::IssuerNotFound {
                    issuer: top.issuer().to_string(),
                },
                depth: Some(chain.len() - 1),
                subject: Some(top.subject().to_string()),
            },
        );
        None
    }
}
