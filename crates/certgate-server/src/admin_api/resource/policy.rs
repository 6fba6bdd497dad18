//! The sign-in policy as the admin API shows it: username bindings (Graph's
//! `x509CertificateUserBinding`) and authentication-strength rules (Graph's
//! `x509CertificateRule`).

use certgate_core::binding::{BindingPolicy, BindingRule};
use certgate_core::clock::rfc3339;
use certgate_core::strength::{self, IssuerSelector, Precedence};
use serde::{Deserialize, Serialize};

/// Graph's `x509CertificateUserBinding`, with its priority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateUserBinding {
    /// 1 is tried first.
    pub priority: u32,
    /// The certificate field: `PrincipalName`, `RFC822Name`, `Subject`, `IssuerAndSubject`,
    /// `IssuerAndSerialNumber`, `SubjectKeyIdentifier` or `SHA1PublicKey`.
    pub x509_certificate_field: String,
    /// The user attribute it must equal: `userPrincipalName`, `proxyAddresses` or
    /// `certificateUserIds`.
    pub user_property: String,
    /// `low` or `high`, fixed by the field.
    pub trust_affinity_level: String,
}

impl From<&BindingRule> for CertificateUserBinding {
    fn from(rule: &BindingRule) -> Self {
        CertificateUserBinding {
            priority: rule.priority,
            x509_certificate_field: rule.certificate_field.as_str().to_owned(),
            user_property: rule.user_attribute.as_str().to_owned(),
            trust_affinity_level: rule.affinity().as_str().to_owned(),
        }
    }
}

/// The rules in force (the defaults while none is configured) and the required affinity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateUserBindings {
    /// The rules, in the order they are tried.
    pub certificate_user_bindings: Vec<CertificateUserBinding>,
    /// No rule is configured: these are certgate's defaults.
    pub uses_default_bindings: bool,
    /// `low` or `high`; `high` skips the low-affinity rules.
    pub x509_certificate_default_required_affinity_level: String,
}

impl From<&BindingPolicy> for CertificateUserBindings {
    fn from(policy: &BindingPolicy) -> Self {
        CertificateUserBindings {
            certificate_user_bindings: policy.effective_rules().iter().map(Into::into).collect(),
            uses_default_bindings: policy.uses_default_rules(),
            x509_certificate_default_required_affinity_level: policy
                .default_required_affinity
                .as_str()
                .to_owned(),
        }
    }
}

/// `POST /certificateUserBindings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCertificateUserBinding {
    /// The certificate field, as in [`CertificateUserBinding`].
    pub x509_certificate_field: String,
    /// The user attribute, as in [`CertificateUserBinding`].
    pub user_property: String,
    /// Default: after the last configured rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
}

/// `PATCH /certificateUserBindings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateUserBindingsPatch {
    /// `low` or `high`.
    pub x509_certificate_default_required_affinity_level: String,
}

// ---- Authentication strength ------------------------------------------------------------------

/// Graph's `x509CertificateRule`, with certgate's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationModeRule {
    /// certgate's id of the rule, as in `/authenticationModeRules/{id}`.
    pub id: i64,
    /// `issuerSubjectAndPolicyOID`, `policyOID` or `issuerSubject`: the precedence, most
    /// specific first.
    pub x509_certificate_rule_type: String,
    /// Graph's single identifier: the policy OID or the issuer; `None` for a rule on both.
    pub identifier: Option<String>,
    /// Issuer DN.
    pub issuer_subject_identifier: Option<String>,
    /// Issuer subject key identifier, hex.
    pub issuer_subject_key_identifier: Option<String>,
    /// Certificate policy OID, dotted.
    pub policy_oid_identifier: Option<String>,
    /// `x509CertificateSingleFactor` or `x509CertificateMultiFactor`.
    pub x509_certificate_authentication_mode: String,
    /// When the rule was added.
    pub created_date_time: String,
}

impl From<&strength::StrengthRule> for AuthenticationModeRule {
    fn from(rule: &strength::StrengthRule) -> Self {
        let spec = &rule.spec;
        let (subject, ski) = issuer_identifiers(spec.issuer.as_ref());
        let precedence = spec.precedence();
        let identifier = match precedence {
            Precedence::PolicyOid => spec.policy_oid.clone(),
            Precedence::Issuer => subject.clone().or_else(|| ski.clone()),
            Precedence::IssuerAndPolicyOid => None,
        };
        AuthenticationModeRule {
            id: rule.id.0,
            x509_certificate_rule_type: precedence.graph_name().to_owned(),
            identifier,
            issuer_subject_identifier: subject,
            issuer_subject_key_identifier: ski,
            policy_oid_identifier: spec.policy_oid.clone(),
            x509_certificate_authentication_mode: spec.strength.graph_name().to_owned(),
            created_date_time: rfc3339(rule.created_at),
        }
    }
}

/// The issuer as Graph names it: by its DN, or by its subject key identifier.
fn issuer_identifiers(issuer: Option<&IssuerSelector>) -> (Option<String>, Option<String>) {
    match issuer {
        Some(IssuerSelector::Subject(dn)) => (Some(dn.clone()), None),
        Some(IssuerSelector::SubjectKeyIdentifier(ski)) => (None, Some(ski.clone())),
        None => (None, None),
    }
}

/// Graph's `authenticationModeConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationModeRules {
    /// Always `x509CertificateSingleFactor`: no matching rule means single-factor.
    pub x509_certificate_authentication_default_mode: String,
    /// The rules; no matching rule, or rules that disagree, mean single-factor.
    pub value: Vec<AuthenticationModeRule>,
}

/// `POST /authenticationModeRules`: an issuer (by DN or by key identifier), a policy OID, or
/// both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAuthenticationModeRule {
    /// Issuer DN, as `certificateAuthorities[].issuer` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_subject_identifier: Option<String>,
    /// Issuer subject key identifier, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_subject_key_identifier: Option<String>,
    /// Certificate policy OID, dotted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_oid_identifier: Option<String>,
    /// `x509CertificateSingleFactor`, `x509CertificateMultiFactor` (or `single-factor`,
    /// `multi-factor`).
    pub x509_certificate_authentication_mode: String,
}

/// A rule as a request (what the CLI's remote mode sends: it reads its flags as the local
/// mode does).
impl From<&strength::StrengthRuleSpec> for NewAuthenticationModeRule {
    fn from(spec: &strength::StrengthRuleSpec) -> Self {
        let (subject, ski) = issuer_identifiers(spec.issuer.as_ref());
        NewAuthenticationModeRule {
            issuer_subject_identifier: subject,
            issuer_subject_key_identifier: ski,
            policy_oid_identifier: spec.policy_oid.clone(),
            x509_certificate_authentication_mode: spec.strength.graph_name().to_owned(),
        }
    }
}
