//! RFC 5280 §6.1 validation of one candidate path: signatures, validity, profile,
//! revocation, name constraints, policies and the CA constraints, certificate by certificate,
//! then the end entity's purpose and names.

use super::end_entity::{check_expected_name, check_purpose};
use super::explain::{describe_purpose, describe_status, join, Trace};
use super::{
    Engine, Purpose, Rejection, RevocationDepth, RevocationStatus, ValidatedPath, ValidationPolicy,
};
use crate::certificate::{Certificate, KeyUsage, PublicKeyInfo};
use crate::error::Reason;
use crate::name::Name;
use crate::name_constraints::NameConstraintsState;
use crate::policy::PolicyState;
use crate::profile::{check_path_certificate, check_trust_anchor};
use crate::signature::{check_public_key, verify_signed_data, Keep};

impl<'a> Engine<'a> {
    fn verify_signature(
        &self,
        signer: &PublicKeyInfo,
        inherited: Option<&[u8]>,
        subject: &Certificate,
    ) -> Result<(), Reason> {
        self.signatures.set(self.signatures.get() + 1);
        if self.signatures.get() > self.policy.budget.max_signatures {
            return Err(Reason::PathBudgetExceeded {
                budget: self.policy.budget.max_signatures,
            });
        }
        // A CA certificate comes back with every sign-in of its users; an end entity's
        // certificate is one of many.
        let cache = self.trust.signature_cache();
        let keep = if subject.basic_constraints().is_some_and(|bc| bc.ca) {
            Keep::KeyAndVerdict(cache)
        } else {
            Keep::Key(cache)
        };
        verify_signed_data(
            signer,
            inherited,
            subject.signature_algorithm(),
            subject.tbs_der(),
            subject.signature(),
            &self.policy.algorithms,
            keep,
        )
        .map_err(|reason| match reason {
            Reason::SignatureInvalid { .. } => Reason::SignatureInvalid {
                what: "the certificate",
            },
            other => other,
        })
    }

    /// RFC 5280 §6.1 over `anchor` + `chain` (chain is bottom-up: end entity first).
    pub(super) fn validate_path(
        &self,
        anchor: &'a Certificate,
        chain: &[&'a Certificate],
        policy: &ValidationPolicy,
    ) -> Result<ValidatedPath<'a>, Rejection> {
        let mut trace = Trace::new(self.trace.is_some(), anchor, chain);
        let result = self.run_checks(anchor, chain, policy, &mut trace);
        if let Some(cell) = &self.trace {
            cell.borrow_mut()
                .attempts
                .push(trace.finish(result.as_ref().err()));
        }
        result
    }

    fn run_checks(
        &self,
        anchor: &'a Certificate,
        chain: &[&'a Certificate],
        policy: &ValidationPolicy,
        trace: &mut Trace,
    ) -> Result<ValidatedPath<'a>, Rejection> {
        let n = chain.len();
        // Top-down: path[0] = anchor, path[i] = certificate i (1..=n), path[n] = end entity.
        let mut path: Vec<&'a Certificate> = Vec::with_capacity(n + 1);
        path.push(anchor);
        path.extend(chain.iter().rev().copied());
        let depth_of = |i: usize| n - i;
        let reject = |i: usize, reason: Reason| Rejection {
            reason,
            depth: Some(depth_of(i)),
            subject: path.get(i).map(|c| c.subject().to_string()),
        };

        // Trust anchor: its validity period is enforced (an expired root is not trusted).
        self.check_validity(anchor).map_err(|r| reject(0, r))?;
        trace.pass(n, "anchor-validity", || {
            "trust anchor is within its validity period".to_string()
        });
        check_trust_anchor(anchor, &policy.algorithms, &policy.profile_exceptions)
            .map_err(|r| trace.fail(n, "anchor-profile", reject(0, r)))?;
        trace.pass(n, "anchor-profile", || {
            "trust anchor is a conforming CA certificate (RFC 5280 §4)".to_string()
        });

        // §6.1.2 initialisation.
        let mut policy_state = PolicyState::new(&policy.policies, n);
        let mut name_constraints = NameConstraintsState::new();
        // §6.2: the anchor's own name constraints bound the whole path (trusted
        // intermediates are path certificates and are folded in by prepare_next).
        name_constraints
            .apply(anchor)
            .map_err(|r| trace.fail(n, "anchor-name-constraints", reject(0, r)))?;
        let mut working_key: &PublicKeyInfo = anchor.public_key();
        let mut working_parameters: Option<&[u8]> = anchor.public_key().parameters.as_deref();
        let mut working_issuer: &Name = anchor.subject();
        let mut max_path_length = n;
        let mut revocation = vec![RevocationStatus::NotChecked; n + 1];

        for i in 1..=n {
            let cert = path[i];
            let depth = depth_of(i);
            let is_end_entity = i == n;
            // §6.1.3 (a)(4): name chaining.
            if cert.issuer() != working_issuer {
                return Err(trace.fail(
                    depth,
                    "issuer-name",
                    reject(
                        i,
                        Reason::IssuerNotFound {
                            issuer: cert.issuer().to_string(),
                        },
                    ),
                ));
            }
            // §6.1.3 (a)(1): signature.
            self.verify_signature(working_key, working_parameters, cert)
                .map_err(|r| trace.fail(depth, "signature", reject(i, r)))?;
            trace.pass(depth, "signature", || {
                format!("signed by \"{working_issuer}\"")
            });
            // §6.1.3 (a)(2): validity.
            self.check_validity(cert)
                .map_err(|r| trace.fail(depth, "validity", reject(i, r)))?;
            trace.pass(depth, "validity", || {
                "within its validity period".to_string()
            });
            check_certificate_profile(cert, working_key, is_end_entity, policy)
                .map_err(|r| trace.fail(depth, "profile", reject(i, r)))?;
            trace.pass(depth, "profile", || {
                "conforms to the RFC 5280 §4 profile".to_string()
            });
            // §6.1.3 (a)(3): revocation.
            let check_this = match policy.revocation {
                RevocationDepth::Off => false,
                RevocationDepth::EndEntity => is_end_entity,
                RevocationDepth::Chain => true,
            };
            if check_this {
                let status = self
                    .revocation_status(&path, i, working_parameters, policy)
                    .map_err(|r| trace.fail(depth, "revocation", reject(i, r)))?;
                trace.pass(depth, "revocation", || describe_status(&status));
                revocation[depth] = status;
            }
            // §6.1.3 (b), (c): name constraints.
            name_constraints
                .check(cert, is_end_entity, &self.name_budget)
                .map_err(|r| trace.fail(depth, "name-constraints", reject(i, r)))?;
            trace.pass(depth, "name-constraints", || "names permitted".to_string());
            // §6.1.3 (d)-(f): certificate policies.
            policy_state
                .process_certificate(cert, i)
                .map_err(|r| trace.fail(depth, "policy", reject(i, r)))?;
            if !is_end_entity {
                self.prepare_next(
                    cert,
                    &mut policy_state,
                    &mut name_constraints,
                    &mut max_path_length,
                )
                .map_err(|(check, r)| trace.fail(depth, check, reject(i, r)))?;
                trace.pass(depth, "ca-constraints", || {
                    "basicConstraints cA, path length and keyCertSign ok".to_string()
                });
                // §6.1.4 (c)-(f): working issuer and key, with DSA parameter inheritance.
                working_issuer = cert.subject();
                let key = cert.public_key();
                working_parameters = match key.parameters.as_deref() {
                    Some(own) => Some(own),
                    None if key.algorithm == working_key.algorithm => working_parameters,
                    None => None,
                };
                working_key = key;
            }
            // §6.1.4 (o) / §6.1.5 (f): unknown critical extensions.
            if let Some(oid) = cert.first_unknown_critical() {
                return Err(trace.fail(
                    depth,
                    "critical-extensions",
                    reject(i, Reason::UnknownCriticalExtension { oid }),
                ));
            }
        }
        let end_entity = path[n];
        // §6.1.5: wrap-up.
        let outcome = policy_state
            .wrap_up(end_entity)
            .map_err(|r| trace.fail(0, "policy", reject(n, r)))?;
        trace.pass(0, "policy", || {
            format!(
                "user-constrained policy set {{{}}}",
                join(&outcome.user_constrained_policy_set)
            )
        });
        check_purpose(&path, policy).map_err(|r| trace.fail(0, "purpose", reject(n, r)))?;
        trace.pass(0, "purpose", || describe_purpose(&policy.purpose));
        if policy.purpose == Purpose::ServerAuth {
            crate::server_profile::check(end_entity)
                .map_err(|r| trace.fail(0, "server-profile", reject(n, r)))?;
            trace.pass(0, "server-profile", || {
                "CA/Browser Forum TLS server profile".to_string()
            });
        }
        for expected in &policy.expected_names {
            check_expected_name(end_entity, expected)
                .map_err(|r| trace.fail(0, "expected-name", reject(n, r)))?;
        }
        let mut certificates: Vec<&'a Certificate> = chain.to_vec();
        certificates.push(anchor);
        Ok(ValidatedPath {
            certificates,
            revocation,
            policy: outcome,
        })
    }

    fn check_validity(&self, cert: &Certificate) -> Result<(), Reason> {
        let at = self.at.0;
        if at < cert.not_before().0 {
            return Err(Reason::NotYetValid {
                not_before: cert.not_before().0,
                at,
            });
        }
        if at > cert.not_after().0 {
            return Err(Reason::Expired {
                not_after: cert.not_after().0,
                at,
            });
        }
        Ok(())
    }

    /// §6.1.4 (a), (b), (g)-(n) for an intermediate certificate.
    fn prepare_next(
        &self,
        cert: &Certificate,
        policy_state: &mut PolicyState,
        name_constraints: &mut NameConstraintsState,
        max_path_length: &mut usize,
    ) -> Result<(), (&'static str, Reason)> {
        policy_state.prepare_next(cert).map_err(|r| ("policy", r))?;
        name_constraints
            .apply(cert)
            .map_err(|r| ("name-constraints", r))?;
        // (k): v3 with basicConstraints cA = true. v1/v2 intermediates are not accepted.
        if cert.version() != 3 {
            return Err(("basic-constraints", Reason::UnsupportedVersion));
        }
        let basic = match cert.basic_constraints() {
            Some(basic) if basic.ca => basic,
            _ => return Err(("basic-constraints", Reason::NotCa)),
        };
        // (l): self-issued certificates do not count.
        if !cert.is_self_issued() {
            if *max_path_length == 0 {
                return Err((
                    "path-length",
                    Reason::PathLengthExceeded {
                        ca: cert.subject().to_string(),
                    },
                ));
            }
            *max_path_length -= 1;
        }
        // (m)
        if let Some(limit) = basic.path_len {
            *max_path_length = (*max_path_length).min(limit as usize);
        }
        // (n)
        if let Some(key_usage) = cert.key_usage() {
            if !key_usage.allows(KeyUsage::KEY_CERT_SIGN) {
                return Err(("key-usage", Reason::CaKeyUsageMissingKeyCertSign));
            }
        }
        Ok(())
    }
}

/// RFC 5280 §4 profile rules for a certificate below the anchor (see `profile.rs`), and, for
/// the end entity, its key against the algorithm policy: the end entity's key verifies no
/// signature on the path, so the checks in `verify_signed_data` never see it.
fn check_certificate_profile(
    cert: &Certificate,
    issuer_key: &PublicKeyInfo,
    is_end_entity: bool,
    policy: &ValidationPolicy,
) -> Result<(), Reason> {
    // §4.2.1.1: self-signed means signed with its own key, not merely self-issued.
    let self_signed = cert.is_self_issued() && cert.public_key().der == issuer_key.der;
    check_path_certificate(cert, self_signed, &policy.profile_exceptions)?;
    if is_end_entity {
        check_public_key(cert.public_key(), &policy.algorithms)?;
    }
    Ok(())
}
