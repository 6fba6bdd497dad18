//! Certification path building and RFC 5280 §6.1 path validation, with CRL revocation
//! checking (§6.3) of every certificate the policy asks for.
//!
//! Path building works bottom-up from the end entity through presented and trusted
//! intermediates to a trusted root (RFC 4158), depth first, preferring issuers whose subject
//! key identifier matches the child's authority key identifier. Each complete candidate path is
//! then validated in full; the first that passes wins. Budgets bound the search so that loops
//! and thousands of decoy intermediates cannot make it exponential.

mod build;
mod end_entity;
mod explain;
mod path;
mod revocation_check;

pub(crate) use explain::hex;

use std::cell::{Cell, RefCell};
use std::net::IpAddr;

use crate::certificate::{Certificate, UnixTime};
use crate::error::Reason;
use crate::name::Name;
use crate::name_constraints::NameConstraintBudget;
use crate::oid::Oid;
use crate::policy::{PolicyOutcome, PolicySettings};
use crate::profile::ProfileExceptions;
use crate::reason_code::ReasonCode;
use crate::revocation::RevocationSnapshot;
use crate::signature::AlgorithmPolicy;
use crate::trust_store::TrustStore;

/// What the end-entity certificate must be good for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// TLS client authentication (EKU clientAuth or anyExtendedKeyUsage). The default.
    ClientAuth,
    /// TLS server authentication (EKU serverAuth or anyExtendedKeyUsage), and the
    /// CA/Browser Forum TLS server profile on top.
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
    /// Require the extension: stricter than RFC 5280, for relying parties that want every
    /// certificate to say what it is for.
    Reject,
}

/// Which certificates of the path must have a known, good revocation status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationDepth {
    /// No revocation checking: a revoked certificate is accepted.
    Off,
    /// The end entity only; the CAs above it are not checked.
    EndEntity,
    /// Every certificate below the trust anchor. The default.
    Chain,
}

/// A name the end entity must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectedName {
    /// A dNSName SAN must match, case-insensitively; a `*.` wildcard covers one leftmost label.
    Dns(String),
    /// An iPAddress SAN must hold exactly this address.
    Ip(IpAddr),
    /// An rfc822Name SAN must match; only when the SAN has none, the subject's emailAddress
    /// attribute may.
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
    /// What the end entity must be good for; client authentication by default.
    pub purpose: Purpose,
    /// Whether an end entity without extendedKeyUsage passes the purpose check (it does by
    /// default, as RFC 5280 §4.2.1.12 says).
    pub missing_eku: MissingEku,
    /// Names the end entity must all carry; none by default.
    pub expected_names: Vec<ExpectedName>,
    /// Maximum number of intermediate CA certificates between the end entity and the trust
    /// anchor, as `openssl verify -verify_depth` counts them (neither the end entity nor the
    /// anchor counts). Self-issued intermediates (same subject and issuer, e.g. a key rollover
    /// certificate) do not count either, as for max_path_length (RFC 5280 §6.1.4 (l)).
    pub max_depth: usize,
    /// The certificate-policy inputs of RFC 5280 §6.1.1; any policy by default.
    pub policies: PolicySettings,
    /// Which certificates must have a known, good revocation status; the whole chain by
    /// default.
    pub revocation: RevocationDepth,
    /// Issuers whose certificates may have an unknown revocation status (no usable CRL).
    /// A certificate a CRL lists as revoked is rejected regardless.
    pub revocation_exempt_issuers: Vec<Name>,
    /// Which signature algorithms and key sizes are accepted.
    pub algorithms: AlgorithmPolicy,
    /// Bounds on the path search, against hostile inputs.
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
    /// Not checked: the trust anchor, or a certificate the [`RevocationDepth`] leaves out.
    NotChecked,
    /// Not revoked according to the complete CRL with this number (and delta, if any).
    Good {
        /// The complete CRL's cRLNumber (RFC 5280 §5.2.3), INTEGER content octets.
        crl_number: Vec<u8>,
        /// The delta CRL's cRLNumber, when one was applied on top.
        delta_crl_number: Option<Vec<u8>>,
    },
    /// Status unknown but the issuer is exempt by policy; `reason` is why it was unknown.
    Exempt {
        /// The reason code and message of the check that could not decide.
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
    /// The certificate that was validated.
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
    /// The trusted root the path ends at.
    pub fn trust_anchor(&self) -> &'a Certificate {
        self.certificates[self.certificates.len() - 1]
    }
    /// Revocation status per certificate, in the same order as `certificates` (the anchor's
    /// entry is always `NotChecked`).
    pub fn revocation(&self) -> &[RevocationStatus] {
        &self.revocation
    }
    /// The certificate policies the path is valid for (RFC 5280 §6.1.6).
    pub fn policy(&self) -> &PolicyOutcome {
        &self.policy
    }
}

/// A rejection: the reason, and which certificate it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Why: the most telling failure of the search (a complete path's failure rather than a
    /// search that found no trust anchor; an exhausted budget above all).
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

    /// The stable reason code of [`Rejection::reason`].
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
    /// Which check, e.g. `signature`, `validity`, `name-constraints`, `revocation`.
    pub name: &'static str,
    /// Whether the certificate passed it.
    pub passed: bool,
    /// What was found when it passed; the reason code and message when it failed.
    pub detail: String,
}

/// One candidate path and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathAttempt {
    /// Subjects, end entity first, trust anchor last.
    pub subjects: Vec<String>,
    /// The checks made on the path, in order.
    pub checks: Vec<Check>,
    /// `None` when the path validated; otherwise the reason code and message.
    pub failure: Option<(String, String)>,
}

/// The full story of a validation: every candidate path tried, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The paths, in the order the builder tried them; a success is the last.
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
}
