//! Certification path building and RFC 5280 §6.1 path validation, with CRL revocation
//! checking (§6.3) of every certificate the policy asks for.
//!
//! Path building works bottom-up from the end entity through presented and trusted
//! intermediates to a trusted root (RFC 4158), depth first, preferring issuers whose subject
//! key identifier matches the child's authority key identifier. Each complete candidate path is
//! then validated in full; the first that passes wins. Budgets bound the search so that loops
//! and thousands of decoy intermediates cannot make it exponential.

use std::cell::{Cell, RefCell};
use std::net::IpAddr;

use crate::certificate::{Certificate, GeneralName, KeyUsage, PublicKeyInfo, UnixTime};
use crate::error::Reason;
use crate::extension_der::Kind;
use crate::name::Name;
use crate::name_constraints::{NameConstraintBudget, NameConstraintsState};
use crate::oid::known;
use crate::oid::Oid;
use crate::policy::{PolicyOutcome, PolicySettings, PolicyState};
use crate::profile::{check_path_certificate, check_trust_anchor, ProfileExceptions};
use crate::reason_code::ReasonCode;
use crate::revocation::{
    check_revocation, CrlSigner, CrlSignerSource, RevocationQuery, RevocationSnapshot,
};
use crate::signature::{check_public_key, verify_signed_data, AlgorithmPolicy, Keep};
use crate::trust_store::{CaKind, TrustStore};

/// What the end-entity certificate must be good for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// TLS client authentication (EKU clientAuth or anyExtendedKeyUsage). The default.
    ClientAuth,
    ServerAuth,
    /// No purpose check.
    Any,
    /// Every listed EKU OID must be present (anyExtendedKeyUsage does not stand in for them).
    RequiredEkus(Vec<Oid>),
}

/// How an end entity without an extendedKeyUsage extension is treated for ClientAuth/ServerAuth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingEku {
    /// RFC 5280 §4.2.1.12: no extension means no restriction.
    Accept,
    Reject,
}

/// Which certificates of the path must have a known, good revocation status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationDepth {
    Off,
    EndEntity,
    /// Every certificate below the trust anchor. The default.
    Chain,
}

/// A name the end entity must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectedName {
    Dns(String),
    Ip(IpAddr),
    Email(String),
}

/// Bounds on path building.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathBudget {
    /// Candidate issuers considered, across the whole search.
    pub max_steps: u32,
    /// Signature verifications, across the whole search (including CRL signer paths).
    pub max_signatures: u32,
    /// Name-constraint comparisons (names × subtrees in force, per certificate checked),
    /// across the whole search; see `name_constraints::NameConstraintBudget`.
    pub max_name_constraint_checks: u64,
}

impl Default for PathBudget {
    fn default() -> Self {
        PathBudget {
            max_steps: 2_000,
            max_signatures: 100,
            // As webpki and pyca/cryptography: far above any real PKI's needs (PKITS peaks in
            // the tens), far below what would let one certificate tie up a worker.
            max_name_constraint_checks: 250_000,
        }
    }
}

/// Everything a relying party decides about a validation. Defaults fail closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationPolicy {
    pub purpose: Purpose,
    pub missing_eku: MissingEku,
    pub expected_names: Vec<ExpectedName>,
    /// Maximum number of intermediate CA certificates between the end entity and the trust
    /// anchor, as `openssl verify -verify_depth` counts them (neither the end entity nor the
    /// anchor counts). Self-issued intermediates (same subject and issuer, e.g. a key rollover
    /// certificate) do not count either, as for max_path_length (RFC 5280 §6.1.4 (l)).
    pub max_depth: usize,
    pub policies: PolicySettings,
    pub revocation: RevocationDepth,
    /// Issuers whose certificates may have an unknown revocation status (no usable CRL).
    /// A certificate a CRL lists as revoked is rejected regardless.
    pub revocation_exempt_issuers: Vec<Name>,
    pub algorithms: AlgorithmPolicy,
    pub budget: PathBudget,
    /// Named exceptions to the RFC 5280 §4 profile rules; none by default.
    pub profile_exceptions: ProfileExceptions,
}

impl Default for ValidationPolicy {
    fn default() -> Self {
        ValidationPolicy {
            purpose: Purpose::ClientAuth,
            missing_eku: MissingEku::Accept,
            expected_names: Vec::new(),
            max_depth: 8,
            policies: PolicySettings::default(),
            revocation: RevocationDepth::Chain,
            revocation_exempt_issuers: Vec::new(),
            algorithms: AlgorithmPolicy::default(),
            budget: PathBudget::default(),
            profile_exceptions: ProfileExceptions::default(),
        }
    }
}

/// How a certificate's revocation status was established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationStatus {
    NotChecked,
    /// Not revoked according to the complete CRL with this number (and delta, if any).
    Good {
        crl_number: Vec<u8>,
        delta_crl_number: Option<Vec<u8>>,
    },
    /// Status unknown but the issuer is exempt by policy; `reason` is why it was unknown.
    Exempt {
        reason: String,
    },
}

/// A validated path: the end entity first, the trust anchor last.
#[derive(Clone, Debug)]
pub struct ValidatedPath<'a> {
    certificates: Vec<&'a Certificate>,
    revocation: Vec<RevocationStatus>,
    policy: PolicyOutcome,
}

impl<'a> ValidatedPath<'a> {
    pub fn end_entity(&self) -> &'a Certificate {
        self.certificates[0]
    }
    /// End entity first, trust anchor last.
    pub fn certificates(&self) -> &[&'a Certificate] {
        &self.certificates
    }
    /// The CA certificate that signed the end entity: the next certificate on the path, which
    /// may be the trust anchor itself. Who issued a certificate is read here, never from the
    /// end entity's own authorityKeyIdentifier, which its issuer may have written anything
    /// into (the path builder uses it only to order candidates).
    pub fn issuing_ca(&self) -> &'a Certificate {
        // A path always holds the end entity and a trust anchor that is not the end entity
        // (the builder never completes a path with a presented certificate as anchor); the
        // fallback keeps this total anyway.
        self.certificates
            .get(1)
            .copied()
            .unwrap_or_else(|| self.trust_anchor())
    }
    pub fn trust_anchor(&self) -> &'a Certificate {
        self.certificates[self.certificates.len() - 1]
    }
    /// Revocation status per certificate, in the same order as `certificates` (the anchor's
    /// entry is always `NotChecked`).
    pub fn revocation(&self) -> &[RevocationStatus] {
        &self.revocation
    }
    pub fn policy(&self) -> &PolicyOutcome {
        &self.policy
    }
}

/// A rejection: the reason, and which certificate it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    /// 0 = end entity, 1 = its issuer, ...; `None` when not about one certificate.
    pub depth: Option<usize>,
    /// Subject of that certificate (RFC 4514 form).
    pub subject: Option<String>,
}

impl Rejection {
    /// Every code [`Rejection::code`] answers with itself: none, since it answers with its
    /// [`Reason`]'s code (listed in [`Reason::CODES`]).
    pub const CODES: &'static [ReasonCode] = &[];

    pub fn code(&self) -> &'static str {
        self.reason.code()
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.depth, &self.subject) {
            (Some(depth), Some(subject)) => write!(
                f,
                "{} [certificate {depth}: {subject}]: {}",
                self.code(),
                self.reason
            ),
            _ => write!(f, "{}: {}", self.code(), self.reason),
        }
    }
}

impl std::error::Error for Rejection {}

/// One check made during validation, for `--explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// 0 = end entity; counts up towards the anchor.
    pub depth: usize,
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// One candidate path and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathAttempt {
    /// Subjects, end entity first, trust anchor last.
    pub subjects: Vec<String>,
    pub checks: Vec<Check>,
    /// `None` when the path validated; otherwise the reason code and message.
    pub failure: Option<(String, String)>,
}

/// The full story of a validation: every candidate path tried, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explanation {
    pub attempts: Vec<PathAttempt>,
}

/// Validates `end_entity` (with the `intermediates` the client presented) against `trust` at
/// time `at`, using the CRLs in `revocation` as the policy requires.
pub fn validate<'a>(
    end_entity: &'a Certificate,
    intermediates: &'a [Certificate],
    trust: &'a TrustStore,
    revocation: &'a RevocationSnapshot,
    policy: &'a ValidationPolicy,
    at: UnixTime,
) -> Result<ValidatedPath<'a>, Rejection> {
    let engine = Engine::new(intermediates, trust, revocation, policy, at, false);
    engine.run(end_entity, None, policy)
}

/// Like [`validate`], and also returns every path tried with every check made.
pub fn validate_explained<'a>(
    end_entity: &'a Certificate,
    intermediates: &'a [Certificate],
    trust: &'a TrustStore,
    revocation: &'a RevocationSnapshot,
    policy: &'a ValidationPolicy,
    at: UnixTime,
) -> (Result<ValidatedPath<'a>, Rejection>, Explanation) {
    let engine = Engine::new(intermediates, trust, revocation, policy, at, true);
    let result = engine.run(end_entity, None, policy);
    let explanation = engine.trace.map(RefCell::into_inner).unwrap_or_default();
    (result, explanation)
}

/// How many levels of "validate the CRL signer's own path" may nest (RFC 5280 §6.3.3 (f)).
const MAX_SIGNER_RECURSION: u8 = 2;

struct Engine<'a> {
    intermediates: &'a [Certificate],
    trust: &'a TrustStore,
    snapshot: &'a RevocationSnapshot,
    policy: &'a ValidationPolicy,
    at: UnixTime,
    steps: Cell<u32>,
    signatures: Cell<u32>,
    recursion: Cell<u8>,
    name_budget: NameConstraintBudget,
    trace: Option<RefCell<Explanation>>,
}

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
    fn new(
        intermediates: &'a [Certificate],
        trust: &'a TrustStore,
        snapshot: &'a RevocationSnapshot,
        policy: &'a ValidationPolicy,
        at: UnixTime,
        explain: bool,
    ) -> Self {
        Engine {
            intermediates,
            trust,
            snapshot,
            policy,
            at,
            steps: Cell::new(0),
            signatures: Cell::new(0),
            recursion: Cell::new(0),
            name_budget: NameConstraintBudget::new(policy.budget.max_name_constraint_checks),
            trace: explain.then(|| RefCell::new(Explanation::default())),
        }
    }

    /// Builds and validates a path for `leaf`. `required_anchor` restricts the anchor (CRL
    /// signer paths must end at the target's anchor).
    fn run(
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
    fn validate_path(
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

    fn revocation_status(
        &self,
        path: &[&'a Certificate],
        i: usize,
        working_parameters: Option<&'a [u8]>,
        policy: &ValidationPolicy,
    ) -> Result<RevocationStatus, Reason> {
        let cert = path[i];
        let signers = PathSigners {
            engine: self,
            path: &path[..i],
            checked: cert,
            working_parameters,
            policy,
        };
        let query = RevocationQuery {
            certificate: cert,
            at: self.at,
            algorithms: &self.policy.algorithms,
        };
        match check_revocation(&query, self.snapshot, &signers) {
            Ok(proof) => Ok(RevocationStatus::Good {
                crl_number: proof.base_crl_number,
                delta_crl_number: proof.delta_crl_number,
            }),
            Err(
                reason @ (Reason::CrlUnavailable { .. }
                | Reason::CrlStale { .. }
                | Reason::CrlNotYetValid { .. }),
            ) if policy
                .revocation_exempt_issuers
                .iter()
                .any(|n| n == cert.issuer()) =>
            {
                Ok(RevocationStatus::Exempt {
                    reason: format!("{}: {}", reason.code(), reason),
                })
            }
            Err(reason) => Err(reason),
        }
    }
}

/// CRL signers for certificate `path.len()` (RFC 5280 §6.3.3 (f)): the certificate's own
/// issuer, other certificates already validated on this path, and any other known
/// certificate with the CRL issuer's name whose own path validates to the same trust anchor.
struct PathSigners<'e, 'a> {
    engine: &'e Engine<'a>,
    /// Anchor first; the last element issued the certificate being checked.
    path: &'e [&'a Certificate],
    /// The certificate whose status is being checked.
    checked: &'a Certificate,
    working_parameters: Option<&'a [u8]>,
    policy: &'e ValidationPolicy,
}

impl<'a> CrlSignerSource for PathSigners<'_, 'a> {
    fn path_signers(&self, issuer: &Name) -> Vec<CrlSigner<'_>> {
        let mut signers: Vec<CrlSigner<'_>> = Vec::new();
        // The issuer and the path above it are already validated; nearest first.
        for (position, cert) in self.path.iter().enumerate().rev() {
            if cert.subject() == issuer
                && !signers.iter().any(|s| s.certificate.der() == cert.der())
            {
                let inherited = if position + 1 == self.path.len() {
                    self.working_parameters
                } else {
                    None
                };
                signers.push(CrlSigner {
                    certificate: cert,
                    inherited_parameters: inherited,
                });
            }
        }
        // A CA may delegate CRL signing to a certificate it issues and name that same
        // certificate as the CRL issuer for its own status (cRLIssuer pointing at itself,
        // PKITS 4.14.30); that certificate is then the only key that can speak for it. Only
        // when its CA granted cRLSign explicitly, and never for a self-issued certificate,
        // whose "issuer" name is its own.
        let checked = self.checked;
        let delegated = checked
            .key_usage()
            .is_some_and(|ku| ku.allows(KeyUsage::CRL_SIGN));
        if checked.subject() == issuer
            && delegated
            && !checked.is_self_issued()
            && !signers.iter().any(|s| s.certificate.der() == checked.der())
        {
            signers.push(CrlSigner {
                certificate: checked,
                inherited_parameters: None,
            });
        }
        signers
    }

    fn other_signers(&self, issuer: &Name) -> Vec<CrlSigner<'_>> {
        // Others must have their own path validated to the same anchor.
        let Some(anchor) = self.path.first().copied() else {
            return Vec::new();
        };
        let engine = self.engine;
        if engine.recursion.get() >= MAX_SIGNER_RECURSION {
            return Vec::new();
        }
        let mut seen: Vec<&[u8]> = self
            .path
            .iter()
            .filter(|c| c.subject() == issuer)
            .map(|c| c.der())
            .collect();
        let others: Vec<&'a Certificate> = engine
            .intermediates
            .iter()
            .chain(
                engine
                    .trust
                    .iter()
                    .filter(|(_, kind)| *kind == CaKind::Intermediate)
                    .map(|(c, _)| c),
            )
            .filter(|c| c.subject() == issuer)
            .collect();
        if others.is_empty() {
            return Vec::new();
        }
        let signer_policy = ValidationPolicy {
            purpose: Purpose::Any,
            expected_names: Vec::new(),
            policies: PolicySettings::default(),
            ..self.policy.clone()
        };
        let mut signers = Vec::new();
        for candidate in others {
            if seen.contains(&candidate.der()) {
                continue;
            }
            seen.push(candidate.der());
            engine.recursion.set(engine.recursion.get() + 1);
            let validated = engine.run(candidate, Some(anchor), &signer_policy).is_ok();
            engine.recursion.set(engine.recursion.get() - 1);
            if validated {
                signers.push(CrlSigner {
                    certificate: candidate,
                    inherited_parameters: None,
                });
            }
        }
        signers
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

fn check_purpose(path: &[&Certificate], policy: &ValidationPolicy) -> Result<(), Reason> {
    let required: Vec<&str>;
    let wanted: &[&str] = match &policy.purpose {
        Purpose::Any => return Ok(()),
        Purpose::ClientAuth => &[known::EKU_CLIENT_AUTH],
        Purpose::ServerAuth => &[known::EKU_SERVER_AUTH],
        Purpose::RequiredEkus(oids) => {
            required = oids.iter().map(Oid::as_str).collect();
            &required
        }
    };
    let any_allowed = !matches!(policy.purpose, Purpose::RequiredEkus(_));
    let purpose_label = || describe_purpose(&policy.purpose);
    let Some((end_entity, cas)) = path.split_last() else {
        return Ok(());
    };
    if end_entity.has_extension(Kind::ExtendedKeyUsage) {
        let has = |oid: &str| end_entity.extended_key_usage_lists(oid) == Some(true);
        let any = any_allowed && has(known::EKU_ANY);
        if !any && !wanted.iter().all(|w| has(w)) {
            return Err(Reason::ExtendedKeyUsageNotPermitted {
                purpose: purpose_label(),
            });
        }
    } else if policy.missing_eku == MissingEku::Reject {
        return Err(Reason::ExtendedKeyUsageNotPermitted {
            purpose: purpose_label(),
        });
    }
    // TLS authentication needs a signing key.
    if matches!(policy.purpose, Purpose::ClientAuth | Purpose::ServerAuth) {
        if let Some(key_usage) = end_entity.key_usage() {
            if !key_usage.allows(KeyUsage::DIGITAL_SIGNATURE) {
                return Err(Reason::KeyUsageNotPermitted);
            }
        }
    }
    // A CA that restricts its own EKUs restricts what it may issue for (as Windows and
    // browsers do). The anchor (first) is included.
    for ca in cas.iter().skip(1).chain(cas.first()) {
        if ca.has_extension(Kind::ExtendedKeyUsage) {
            let has = |oid: &str| ca.extended_key_usage_lists(oid) == Some(true);
            if !has(known::EKU_ANY) && !wanted.iter().all(|w| has(w)) {
                return Err(Reason::ExtendedKeyUsageNotPermitted {
                    purpose: format!(
                        "{} (restricted by CA \"{}\")",
                        purpose_label(),
                        ca.subject()
                    ),
                });
            }
        }
    }
    Ok(())
}

fn check_expected_name(cert: &Certificate, expected: &ExpectedName) -> Result<(), Reason> {
    let sans = cert
        .extensions()
        .subject_alt_names
        .as_deref()
        .unwrap_or(&[]);
    let found = match expected {
        ExpectedName::Dns(wanted) => sans
            .iter()
            .any(|san| matches!(san, GeneralName::Dns(name) if dns_matches(name, wanted))),
        ExpectedName::Ip(wanted) => {
            let octets = match wanted {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            sans.iter()
                .any(|san| matches!(san, GeneralName::Ip(bytes) if *bytes == octets))
        }
        ExpectedName::Email(wanted) => {
            let in_san = sans
                .iter()
                .any(|san| matches!(san, GeneralName::Rfc822(mail) if email_matches(mail, wanted)));
            let has_san_mail = sans.iter().any(|san| matches!(san, GeneralName::Rfc822(_)));
            in_san
                || (!has_san_mail
                    && cert
                        .subject()
                        .attribute_texts(known::ATTR_EMAIL_ADDRESS)
                        .any(|mail| email_matches(&mail, wanted)))
        }
    };
    if found {
        Ok(())
    } else {
        Err(Reason::NameMismatch {
            expected: match expected {
                ExpectedName::Dns(n) => format!("DNS name {n}"),
                ExpectedName::Ip(ip) => format!("IP address {ip}"),
                ExpectedName::Email(e) => format!("e-mail address {e}"),
            },
        })
    }
}

/// DNS names compare case-insensitively; a `*.` wildcard covers exactly one leftmost label.
fn dns_matches(presented: &str, wanted: &str) -> bool {
    let presented = presented.trim_end_matches('.').to_ascii_lowercase();
    let wanted = wanted.trim_end_matches('.').to_ascii_lowercase();
    if presented == wanted {
        return true;
    }
    match (presented.strip_prefix("*."), wanted.split_once('.')) {
        (Some(suffix), Some((label, rest))) => {
            !label.is_empty() && rest == suffix && suffix.contains('.')
        }
        _ => false,
    }
}

/// Local parts compare exactly, domains case-insensitively (RFC 5321 §2.4).
fn email_matches(presented: &str, wanted: &str) -> bool {
    match (presented.rsplit_once('@'), wanted.rsplit_once('@')) {
        (Some((pl, pd)), Some((wl, wd))) => pl == wl && pd.eq_ignore_ascii_case(wd),
        _ => false,
    }
}

fn describe_purpose(purpose: &Purpose) -> String {
    match purpose {
        Purpose::ClientAuth => "client authentication".into(),
        Purpose::ServerAuth => "server authentication".into(),
        Purpose::Any => "any purpose".into(),
        Purpose::RequiredEkus(oids) => format!("EKU {{{}}}", join(oids)),
    }
}

fn describe_status(status: &RevocationStatus) -> String {
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

fn join(oids: &[Oid]) -> String {
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
struct Trace {
    attempt: Option<PathAttempt>,
}

impl Trace {
    fn new(enabled: bool, anchor: &Certificate, chain: &[&Certificate]) -> Self {
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
    fn pass(&mut self, depth: usize, name: &'static str, detail: impl FnOnce() -> String) {
        if let Some(attempt) = &mut self.attempt {
            attempt.checks.push(Check {
                depth,
                name,
                passed: true,
                detail: detail(),
            });
        }
    }

    fn fail(&mut self, depth: usize, name: &'static str, rejection: Rejection) -> Rejection {
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

    fn finish(self, failure: Option<&Rejection>) -> PathAttempt {
        let mut attempt = self.attempt.unwrap_or(PathAttempt {
            subjects: Vec::new(),
            checks: Vec::new(),
            failure: None,
        });
        attempt.failure = failure.map(|r| (r.code().to_string(), r.reason.to_string()));
        attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_covers_one_label_only() {
        assert!(dns_matches("*.example.com", "a.example.com"));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("*.com", "example.com"));
        assert!(dns_matches("Host.Example.com.", "host.example.com"));
    }

    #[test]
    fn email_local_part_is_case_sensitive() {
        assert!(email_matches("Alice@Corp.Example", "Alice@corp.example"));
        assert!(!email_matches("alice@corp.example", "Alice@corp.example"));
    }
}
