//! Authentication strength: whether a certificate sign-in counts as single- or multi-factor,
//! with the rules of Entra ID's `authenticationModeConfiguration` (rule types issuerSubject,
//! policyOID and issuerSubjectAndPolicyOID).
//!
//! Precedence: rules naming both the issuer and a policy OID beat rules naming only a policy
//! OID, which beat rules naming only the issuer. When several rules match at the winning
//! precedence and disagree, the result is single-factor; when none matches, single-factor
//! (Entra's default). Both fail towards asking for a second factor.
//!
//! Entry point for sign-in: [`evaluate`].

use std::fmt;

use certgate_pki::{Certificate, ReasonCode, UnixTime, ValidatedPath};
use serde::Serialize;

use crate::store::StoreError;

mod rule_service;

pub use rule_service::{
    add_strength_rule, remove_strength_rule, strength_rules, StrengthRuleStore,
};

/// Entra's `x509CertificateAuthenticationMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    /// `x509CertificateSingleFactor`: the certificate is one factor; a second one is asked for. The
    /// default.
    SingleFactor,
    /// `x509CertificateMultiFactor`: the certificate alone satisfies multi-factor (a smart card
    /// with a PIN, say).
    MultiFactor,
}

impl Strength {
    /// `single-factor` / `multi-factor`, as the sign-in log records it.
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::SingleFactor => "single-factor",
            Strength::MultiFactor => "multi-factor",
        }
    }

    /// Microsoft Graph's value.
    pub fn graph_name(self) -> &'static str {
        match self {
            Strength::SingleFactor => "x509CertificateSingleFactor",
            Strength::MultiFactor => "x509CertificateMultiFactor",
        }
    }

    /// `single-factor`, `multi-factor` or Graph's names, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        [Strength::SingleFactor, Strength::MultiFactor]
            .into_iter()
            .find(|s| text == s.as_str() || text == s.graph_name().to_ascii_lowercase())
    }
}

impl fmt::Display for Strength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which issuing CA a rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IssuerSelector {
    /// The issuing CA's subjectKeyIdentifier (of the CA certificate on the validated path, not
    /// the certificate's own authorityKeyIdentifier), lowercase hex.
    SubjectKeyIdentifier(String),
    /// The issuing CA's subject DN (Windows form, as `certgate ca list` shows `issuer`),
    /// compared ignoring case and the spaces around separators.
    Subject(String),
}

impl IssuerSelector {
    /// A DN when the text has an `=`, otherwise a hex key identifier (`:` and spaces allowed).
    pub fn parse(text: &str) -> Result<Self, StrengthRuleError> {
        let text = text.trim();
        let invalid = || StrengthRuleError::IssuerInvalid {
            text: text.to_owned(),
        };
        if text.contains('=') {
            if text.chars().any(char::is_control) {
                return Err(invalid());
            }
            return Ok(IssuerSelector::Subject(text.to_owned()));
        }
        crate::parse_hex(text)
            .map(|bytes| IssuerSelector::SubjectKeyIdentifier(crate::hex(&bytes)))
            .ok_or_else(invalid)
    }

    fn matches(&self, issuer: &IssuerFacts) -> bool {
        match self {
            IssuerSelector::SubjectKeyIdentifier(ski) => issuer
                .subject_key_identifier
                .as_deref()
                .is_some_and(|actual| actual.eq_ignore_ascii_case(ski)),
            IssuerSelector::Subject(dn) => normalize_dn(dn) == normalize_dn(&issuer.subject),
        }
    }
}

impl fmt::Display for IssuerSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssuerSelector::SubjectKeyIdentifier(ski) => write!(f, "issuer SKI {ski}"),
            IssuerSelector::Subject(dn) => write!(f, "issuer \"{dn}\""),
        }
    }
}

/// Lowercase, no spaces around `,` `+` `=` (a backslash-escaped separator stays as it is).
fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut chars = dn.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(next) = chars.next() {
                    out.extend(next.to_lowercase());
                }
            }
            ',' | '+' | '=' => {
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push(c);
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            }
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// A strength rule's id, assigned by the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StrengthRuleId(pub i64);

impl fmt::Display for StrengthRuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an administrator writes: at least one of issuer and policy OID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrengthRuleSpec {
    /// The issuing CA the rule applies to; `None` for any issuer.
    pub issuer: Option<IssuerSelector>,
    /// Dotted OID (`1.2.3.4`); "All Issuance Policies" is `2.5.29.32.0`.
    pub policy_oid: Option<String>,
    /// What a certificate the rule matches counts as.
    pub strength: Strength,
}

impl StrengthRuleSpec {
    /// At least one selector; the OID dotted, with at least two arcs.
    pub fn check(&self) -> Result<(), StrengthRuleError> {
        if self.issuer.is_none() && self.policy_oid.is_none() {
            return Err(StrengthRuleError::Empty);
        }
        if let Some(oid) = &self.policy_oid {
            if !is_dotted_oid(oid) {
                return Err(StrengthRuleError::PolicyOidInvalid { text: oid.clone() });
            }
        }
        Ok(())
    }

    /// The rule type it is, which orders it against other matching rules.
    pub fn precedence(&self) -> Precedence {
        match (&self.issuer, &self.policy_oid) {
            (Some(_), Some(_)) => Precedence::IssuerAndPolicyOid,
            (None, _) => Precedence::PolicyOid,
            (Some(_), None) => Precedence::Issuer,
        }
    }

    /// Same issuer and OID, whatever the strength.
    pub fn same_selectors(&self, other: &StrengthRuleSpec) -> bool {
        let issuer_key = |spec: &StrengthRuleSpec| match &spec.issuer {
            Some(IssuerSelector::Subject(dn)) => Some(format!("dn:{}", normalize_dn(dn))),
            Some(IssuerSelector::SubjectKeyIdentifier(ski)) => Some(format!("ski:{ski}")),
            None => None,
        };
        issuer_key(self) == issuer_key(other) && self.policy_oid == other.policy_oid
    }

    fn matches(&self, certificate: &StrengthInput) -> bool {
        let issuer = self
            .issuer
            .as_ref()
            .is_none_or(|issuer| issuer.matches(&certificate.issuer));
        let policy = self
            .policy_oid
            .as_ref()
            .is_none_or(|oid| certificate.policy_oids.iter().any(|p| p == oid));
        issuer && policy
    }
}

impl fmt::Display for StrengthRuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.issuer, &self.policy_oid) {
            (Some(issuer), Some(oid)) => write!(f, "{issuer} and policy {oid}")?,
            (Some(issuer), None) => write!(f, "{issuer}")?,
            (None, Some(oid)) => write!(f, "policy {oid}")?,
            (None, None) => f.write_str("nothing")?,
        }
        write!(f, " -> {}", self.strength)
    }
}

fn is_dotted_oid(text: &str) -> bool {
    let arcs: Vec<&str> = text.split('.').collect();
    arcs.len() >= 2
        && arcs.iter().all(|arc| {
            !arc.is_empty() && arc.len() <= 20 && arc.bytes().all(|b| b.is_ascii_digit())
        })
        && matches!(arcs[0], "0" | "1" | "2")
}

/// A stored rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrengthRule {
    /// Assigned by the store.
    pub id: StrengthRuleId,
    /// What the rule selects and says.
    pub spec: StrengthRuleSpec,
    /// When it was added.
    pub created_at: UnixTime,
}

/// Entra's rule types, from the most specific.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Precedence {
    /// `issuerSubjectAndPolicyOID`
    IssuerAndPolicyOid,
    /// `policyOID`
    PolicyOid,
    /// `issuerSubject`
    Issuer,
}

impl Precedence {
    /// Microsoft Graph's `x509CertificateRuleType`.
    pub fn graph_name(self) -> &'static str {
        match self {
            Precedence::IssuerAndPolicyOid => "issuerSubjectAndPolicyOID",
            Precedence::PolicyOid => "policyOID",
            Precedence::Issuer => "issuerSubject",
        }
    }
}

/// The issuing CA of a certificate, as strength rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerFacts {
    /// The issuing CA certificate's own subjectKeyIdentifier extension, lowercase hex; `None`
    /// when that CA certificate has none (then no SKI rule matches it, as its trusted CA record
    /// has no `trustedIssuerSKI` either).
    pub subject_key_identifier: Option<String>,
    /// The issuing CA certificate's subject DN in Windows form (`CN=Issuing CA, O=Contoso`).
    pub subject: String,
}

impl IssuerFacts {
    /// From the CA certificate that signed the end entity on a validated path. Never from the
    /// end entity's authorityKeyIdentifier: any trusted CA can write another CA's key
    /// identifier there.
    pub fn of_ca(ca: &Certificate) -> IssuerFacts {
        IssuerFacts {
            subject_key_identifier: ca.extensions().subject_key_id.as_deref().map(crate::hex),
            subject: ca.subject().to_windows(),
        }
    }
}

/// What strength rules look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrengthInput {
    /// The CA certificate that issued the certificate on the validated path.
    pub issuer: IssuerFacts,
    /// The certificate's own certificatePolicies OIDs, dotted.
    pub policy_oids: Vec<String>,
}

impl StrengthInput {
    /// From a validated path: the issuer is the issuing CA certificate on the path, the policy
    /// OIDs are the end entity's (Entra's policyOID rules read the certificate's own policies).
    pub fn on_path(path: &ValidatedPath<'_>) -> StrengthInput {
        StrengthInput {
            issuer: IssuerFacts::of_ca(path.issuing_ca()),
            policy_oids: path
                .end_entity()
                .extensions()
                .certificate_policies
                .iter()
                .flatten()
                .map(|p| p.policy.to_string())
                .collect(),
        }
    }
}

/// The strength of one sign-in, and which rules decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrengthDecision {
    /// The outcome; single-factor when no rule matched or the deciding rules disagree.
    pub strength: Strength,
    /// The precedence level that decided; `None` when no rule matched (the default).
    pub precedence: Option<Precedence>,
    /// The matching rules at that level.
    pub rules: Vec<StrengthRuleId>,
    /// Rules at that level disagreed, so single-factor.
    pub conflict: bool,
}

impl fmt::Display for StrengthDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.precedence {
            None => write!(f, "{} (no rule matched: the default)", self.strength),
            Some(precedence) => {
                let ids: Vec<String> = self.rules.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "{} ({} rule{} {}{})",
                    self.strength,
                    precedence.graph_name(),
                    if ids.len() == 1 { "" } else { "s" },
                    ids.join(", "),
                    if self.conflict {
                        " disagree: single-factor"
                    } else {
                        ""
                    }
                )
            }
        }
    }
}

/// Decides single- or multi-factor for a certificate: the most specific precedence level with
/// a matching rule wins; disagreement at that level, or no match at all, is single-factor.
pub fn evaluate(rules: &[StrengthRule], certificate: &StrengthInput) -> StrengthDecision {
    for precedence in [
        Precedence::IssuerAndPolicyOid,
        Precedence::PolicyOid,
        Precedence::Issuer,
    ] {
        let matching: Vec<&StrengthRule> = rules
            .iter()
            .filter(|rule| rule.spec.precedence() == precedence && rule.spec.matches(certificate))
            .collect();
        let Some(first) = matching.first() else {
            continue;
        };
        let conflict = matching
            .iter()
            .any(|rule| rule.spec.strength != first.spec.strength);
        return StrengthDecision {
            strength: if conflict {
                Strength::SingleFactor
            } else {
                first.spec.strength
            },
            precedence: Some(precedence),
            rules: matching.iter().map(|rule| rule.id).collect(),
            conflict,
        };
    }
    StrengthDecision {
        strength: Strength::SingleFactor,
        precedence: None,
        rules: Vec::new(),
        conflict: false,
    }
}

/// Why a change to the strength rules was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrengthRuleError {
    /// Neither an issuer nor a policy OID was given.
    #[error("a strength rule needs an issuer, a policy OID or both")]
    Empty,
    /// The issuer is neither a DN (has an `=`) nor hex.
    #[error(
        "\"{text}\" is neither an issuer subject DN (`CN=...`) nor a hex subject key identifier"
    )]
    IssuerInvalid {
        /// The issuer as given (trimmed).
        text: String,
    },
    /// The policy OID is not dotted with at least two arcs (first arc 0, 1 or 2).
    #[error("\"{text}\" is not a dotted policy OID such as 1.3.6.1.4.1.311.21.8.1 (\"All Issuance Policies\" is 2.5.29.32.0)")]
    PolicyOidInvalid {
        /// The OID as given.
        text: String,
    },
    /// A rule with the same issuer and policy OID exists, whatever its strength.
    #[error("rule {existing} already applies to {spec}; remove it first (`certgate strength remove {existing}`)")]
    Duplicate {
        /// The existing rule's id.
        existing: StrengthRuleId,
        /// What the existing rule says, for the message.
        spec: String,
    },
    /// No rule has this id.
    #[error("no strength rule has id {0}; `certgate strength list` shows the ids")]
    NotFound(StrengthRuleId),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl StrengthRuleError {
    /// Every code [`StrengthRuleError::code`] answers with (its store failures are
    /// [`StoreError::CODES`]).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "strength-rule-empty",
            "An authentication-strength rule needs an issuer, a policy OID or both, and neither was given.",
            "Give --issuer, --policy-oid or both (`certgate strength add`).",
        ),
        ReasonCode::new(
            "strength-issuer-invalid",
            "The issuer is neither a subject DN (`CN=...`) nor a subject key identifier in hex.",
            "Copy the issuing CA's subject DN or subject key identifier from `certgate ca list`.",
        ),
        ReasonCode::new(
            "strength-policy-oid-invalid",
            "The policy OID is not a dotted OID such as 1.3.6.1.4.1.311.21.8.1.",
            "Give the certificate policy OID in dotted form (`--policy-oid`).",
        ),
        ReasonCode::new(
            "strength-rule-duplicate",
            "A rule for the same issuer and policy OID already exists.",
            "Remove the existing rule first (`certgate strength list`, `certgate strength remove ID`), then add the new one.",
        ),
        ReasonCode::new(
            "strength-rule-not-found",
            "No authentication-strength rule has the given id.",
            "Use an id that `certgate strength list` shows.",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`], or the store's).
    pub fn code(&self) -> &'static str {
        match self {
            StrengthRuleError::Empty => "strength-rule-empty",
            StrengthRuleError::IssuerInvalid { .. } => "strength-issuer-invalid",
            StrengthRuleError::PolicyOidInvalid { .. } => "strength-policy-oid-invalid",
            StrengthRuleError::Duplicate { .. } => "strength-rule-duplicate",
            StrengthRuleError::NotFound(_) => "strength-rule-not-found",
            StrengthRuleError::Store(error) => error.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER_DN: &str = "CN=Contoso Issuing CA, O=Contoso, C=US";
    const ISSUER_SKI: &str = "0a1b2c";
    const OID_MFA: &str = "1.3.6.1.4.1.99999.1.1";
    const OID_OTHER: &str = "1.3.6.1.4.1.99999.1.2";

    fn rule(
        id: i64,
        issuer: Option<&str>,
        policy_oid: Option<&str>,
        strength: Strength,
    ) -> StrengthRule {
        let spec = StrengthRuleSpec {
            issuer: issuer.map(|text| IssuerSelector::parse(text).expect("issuer")),
            policy_oid: policy_oid.map(str::to_owned),
            strength,
        };
        spec.check().expect("valid rule");
        StrengthRule {
            id: StrengthRuleId(id),
            spec,
            created_at: UnixTime(0),
        }
    }

    fn certificate(policy_oids: &[&str]) -> StrengthInput {
        StrengthInput {
            issuer: IssuerFacts {
                subject_key_identifier: Some(ISSUER_SKI.into()),
                subject: ISSUER_DN.into(),
            },
            policy_oids: policy_oids.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    use Strength::{MultiFactor, SingleFactor};

    #[test]
    fn no_rule_is_single_factor() {
        let decision = evaluate(&[], &certificate(&[OID_MFA]));
        assert_eq!(decision.strength, SingleFactor);
        assert_eq!(decision.precedence, None);
        let unrelated = [rule(1, Some("CN=Someone Else"), None, MultiFactor)];
        assert_eq!(
            evaluate(&unrelated, &certificate(&[])).strength,
            SingleFactor
        );
    }

    #[test]
    fn an_issuer_rule_matches_by_subject_ignoring_case_and_spaces_or_by_ski() {
        let by_dn = [rule(
            1,
            Some("cn=contoso issuing ca,o=Contoso ,C=US"),
            None,
            MultiFactor,
        )];
        let decision = evaluate(&by_dn, &certificate(&[]));
        assert_eq!(decision.strength, MultiFactor);
        assert_eq!(decision.precedence, Some(Precedence::Issuer));
        assert_eq!(decision.rules, [StrengthRuleId(1)]);
        let by_ski = [rule(2, Some("0A:1B:2C"), None, MultiFactor)];
        assert_eq!(evaluate(&by_ski, &certificate(&[])).strength, MultiFactor);
        let other_ski = [rule(3, Some("0a1b2d"), None, MultiFactor)];
        assert_eq!(
            evaluate(&other_ski, &certificate(&[])).strength,
            SingleFactor
        );
    }

    #[test]
    fn a_policy_oid_rule_beats_an_issuer_rule() {
        let rules = [
            rule(1, Some(ISSUER_DN), None, SingleFactor),
            rule(2, None, Some(OID_MFA), MultiFactor),
        ];
        let decision = evaluate(&rules, &certificate(&[OID_MFA]));
        assert_eq!(decision.strength, MultiFactor);
        assert_eq!(decision.precedence, Some(Precedence::PolicyOid));
        // Without the OID the issuer rule decides.
        let decision = evaluate(&rules, &certificate(&[OID_OTHER]));
        assert_eq!(decision.strength, SingleFactor);
        assert_eq!(decision.precedence, Some(Precedence::Issuer));
    }

    #[test]
    fn an_issuer_and_oid_rule_beats_an_oid_rule() {
        let rules = [
            rule(1, None, Some(OID_MFA), SingleFactor),
            rule(2, Some(ISSUER_SKI), Some(OID_MFA), MultiFactor),
            rule(3, Some(ISSUER_DN), None, SingleFactor),
        ];
        let decision = evaluate(&rules, &certificate(&[OID_MFA]));
        assert_eq!(decision.strength, MultiFactor);
        assert_eq!(decision.precedence, Some(Precedence::IssuerAndPolicyOid));
        assert_eq!(decision.rules, [StrengthRuleId(2)]);
        // Another issuer: the combined rule does not match, the OID rule decides.
        let mut elsewhere = certificate(&[OID_MFA]);
        elsewhere.issuer = IssuerFacts {
            subject_key_identifier: None,
            subject: "CN=Fabrikam CA".into(),
        };
        let decision = evaluate(&rules, &elsewhere);
        assert_eq!(decision.strength, SingleFactor);
        assert_eq!(decision.precedence, Some(Precedence::PolicyOid));
    }

    #[test]
    fn disagreeing_rules_at_the_winning_level_are_single_factor() {
        let rules = [
            rule(1, None, Some(OID_MFA), MultiFactor),
            rule(2, None, Some(OID_OTHER), SingleFactor),
            rule(3, Some(ISSUER_DN), None, MultiFactor),
        ];
        let decision = evaluate(&rules, &certificate(&[OID_MFA, OID_OTHER]));
        assert_eq!(decision.strength, SingleFactor);
        assert!(decision.conflict);
        assert_eq!(decision.rules, [StrengthRuleId(1), StrengthRuleId(2)]);
        assert!(decision.to_string().contains("disagree"), "{decision}");
        // Agreeing rules are not a conflict.
        let rules = [
            rule(1, None, Some(OID_MFA), MultiFactor),
            rule(2, None, Some(OID_OTHER), MultiFactor),
        ];
        let decision = evaluate(&rules, &certificate(&[OID_MFA, OID_OTHER]));
        assert_eq!(decision.strength, MultiFactor);
        assert!(!decision.conflict);
    }

    #[test]
    fn rules_are_checked_when_written() {
        let empty = StrengthRuleSpec {
            issuer: None,
            policy_oid: None,
            strength: MultiFactor,
        };
        assert_eq!(empty.check().unwrap_err().code(), "strength-rule-empty");
        for bad in ["1", "1..2", "3.1", "1.2.x", "urn:oid:1.2"] {
            let spec = StrengthRuleSpec {
                policy_oid: Some(bad.into()),
                ..empty.clone()
            };
            assert_eq!(
                spec.check().unwrap_err().code(),
                "strength-policy-oid-invalid",
                "{bad}"
            );
        }
        assert_eq!(
            IssuerSelector::parse("not hex").unwrap_err().code(),
            "strength-issuer-invalid"
        );
        assert_eq!(
            IssuerSelector::parse("AB:CD").unwrap(),
            IssuerSelector::SubjectKeyIdentifier("abcd".into())
        );
        assert_eq!(
            Strength::parse("x509CertificateMultiFactor"),
            Some(MultiFactor)
        );
        assert_eq!(Strength::parse("Single-Factor"), Some(SingleFactor));
    }

    #[test]
    fn same_selectors_ignore_dn_spacing_and_strength() {
        let a = rule(1, Some("CN=A, O=B"), Some(OID_MFA), MultiFactor).spec;
        let b = rule(2, Some("cn=a,o=b"), Some(OID_MFA), SingleFactor).spec;
        let c = rule(3, Some("cn=a,o=b"), None, SingleFactor).spec;
        assert!(a.same_selectors(&b));
        assert!(!a.same_selectors(&c));
    }

    #[test]
    fn issuer_facts_read_the_ca_certificate() {
        let pki = certgate_testpki::TestPki::three_level(&certgate_testpki::ChainSpec::with_key(
            certgate_testpki::KeyKind::EcdsaP256,
        ))
        .expect("test PKI");
        let intermediate = Certificate::from_der(&pki.intermediate.der).expect("intermediate");
        let input = StrengthInput {
            issuer: IssuerFacts::of_ca(&intermediate),
            policy_oids: Vec::new(),
        };
        assert_eq!(input.issuer.subject, intermediate.subject().to_windows());
        assert_eq!(
            input.issuer.subject_key_identifier,
            intermediate
                .extensions()
                .subject_key_id
                .as_deref()
                .map(crate::hex)
        );
        let rules = [rule(
            1,
            Some(&input.issuer.subject.clone()),
            None,
            MultiFactor,
        )];
        assert_eq!(evaluate(&rules, &input).strength, MultiFactor);
    }
}
