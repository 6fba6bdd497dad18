//! Username bindings: which user a certificate signs in as, with Entra ID's semantics
//! (`x509CertificateAuthenticationMethodConfiguration.certificateUserBindings` and
//! `x509CertificateDefaultRequiredAffinityLevel`).
//!
//! Rules are tried in priority order (1 first). Each maps one certificate field to one user
//! attribute; the first rule that finds any user decides: exactly one user signs in, more than
//! one is a rejection (`binding-ambiguous`), never a guess. A field's affinity is fixed: the
//! names a CA writes into a certificate (PrincipalName, RFC822Name, Subject,
//! IssuerAndSubject) are *low* affinity, because any trusted CA could write the same names;
//! IssuerAndSerialNumber, SubjectKeyIdentifier and SHA1PublicKey identify one certificate or
//! key and are *high* affinity. When the tenant requires high affinity, low rules are skipped.
//!
//! Entry point for sign-in: [`match_user`].

use std::fmt;

use certgate_pki::{Identity, ReasonCode};

mod rule_service;

pub use rule_service::{
    add_binding_rule, binding_policy, remove_binding_rule, set_default_required_affinity,
    BindingRuleStore,
};

use crate::directory::{
    fold_case, proxy_address_part, Affinity, CertificateField, User, UserAttribute, UserLookup,
};
use crate::store::StoreError;

/// One username-binding rule. Its affinity follows from the field ([`BindingRule::affinity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BindingRule {
    /// 1 is tried first. Unique among the configured rules.
    pub priority: u32,
    /// The certificate value the rule reads.
    pub certificate_field: CertificateField,
    /// The user attribute that value is compared with.
    pub user_attribute: UserAttribute,
}

impl BindingRule {
    /// A rule; [`check`](Self::check) says whether it may be configured.
    pub fn new(
        priority: u32,
        certificate_field: CertificateField,
        user_attribute: UserAttribute,
    ) -> Self {
        BindingRule {
            priority,
            certificate_field,
            user_attribute,
        }
    }

    /// The field's affinity ([`CertificateField::affinity`]).
    pub fn affinity(&self) -> Affinity {
        self.certificate_field.affinity()
    }

    /// Refuses combinations that cannot match anything, or would match too loosely: a DN, a
    /// serial number or a key hash is never a UPN or a mail address, and the high-affinity
    /// forms live only in certificateUserIds (as in Entra).
    pub fn check(&self) -> Result<(), BindingRuleError> {
        if self.priority == 0 {
            return Err(BindingRuleError::Invalid {
                rule: *self,
                why: "priorities start at 1".into(),
            });
        }
        let name_field = matches!(
            self.certificate_field,
            CertificateField::PrincipalName | CertificateField::Rfc822Name
        );
        if self.user_attribute != UserAttribute::CertificateUserIds && !name_field {
            return Err(BindingRuleError::Invalid {
                rule: *self,
                why: format!(
                    "{} can only be compared with certificateUserIds (only PrincipalName and RFC822Name can be compared with {})",
                    self.certificate_field, self.user_attribute
                ),
            });
        }
        Ok(())
    }
}

/// `PrincipalName->userPrincipalName`, as the sign-in log records it.
impl fmt::Display for BindingRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{}", self.certificate_field, self.user_attribute)
    }
}

/// Entra's defaults, in force while no rule is configured.
pub fn default_rules() -> Vec<BindingRule> {
    vec![
        BindingRule::new(
            1,
            CertificateField::PrincipalName,
            UserAttribute::UserPrincipalName,
        ),
        BindingRule::new(
            2,
            CertificateField::Rfc822Name,
            UserAttribute::UserPrincipalName,
        ),
        BindingRule::new(
            3,
            CertificateField::SubjectKeyIdentifier,
            UserAttribute::CertificateUserIds,
        ),
        BindingRule::new(
            4,
            CertificateField::Sha1PublicKey,
            UserAttribute::CertificateUserIds,
        ),
    ]
}

/// The configured rules and the tenant-wide required affinity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingPolicy {
    /// The configured rules, any order. Empty means [`default_rules`].
    pub rules: Vec<BindingRule>,
    /// Entra's `x509CertificateDefaultRequiredAffinityLevel`; low by default.
    pub default_required_affinity: Affinity,
}

impl Default for BindingPolicy {
    fn default() -> Self {
        BindingPolicy {
            rules: Vec::new(),
            default_required_affinity: Affinity::Low,
        }
    }
}

impl BindingPolicy {
    /// True while no rule is configured and the defaults apply.
    pub fn uses_default_rules(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules in force, in the order they are tried.
    pub fn effective_rules(&self) -> Vec<BindingRule> {
        let mut rules = if self.rules.is_empty() {
            default_rules()
        } else {
            self.rules.clone()
        };
        rules.sort_by_key(|rule| rule.priority);
        rules
    }
}

/// Whether `user`'s `attribute` matches a certificate `value`: UPN case-insensitively; any
/// proxy address whose address part (after `type:`) equals it case-insensitively; a
/// certificateUserIds value exactly.
pub fn attribute_matches(user: &User, attribute: UserAttribute, value: &str) -> bool {
    match attribute {
        UserAttribute::UserPrincipalName => fold_case(user.upn.as_str()) == fold_case(value),
        UserAttribute::ProxyAddresses => user
            .proxy_addresses
            .iter()
            .any(|proxy| fold_case(proxy_address_part(proxy)) == fold_case(value)),
        UserAttribute::CertificateUserIds => user.certificate_user_ids.iter().any(|id| id == value),
    }
}

/// The certificate's values for one rule, in the certificate's order.
pub fn certificate_values(identity: &Identity, rule: &BindingRule) -> Vec<String> {
    match rule.user_attribute {
        UserAttribute::UserPrincipalName | UserAttribute::ProxyAddresses => {
            match rule.certificate_field {
                CertificateField::PrincipalName => identity.upns.clone(),
                CertificateField::Rfc822Name => identity.rfc822_names.clone(),
                // Refused by BindingRule::check; nothing to compare if one got here anyway.
                _ => Vec::new(),
            }
        }
        UserAttribute::CertificateUserIds => identity
            .certificate_user_ids
            .iter()
            .filter(|id| id.field == rule.certificate_field.as_str())
            .map(|id| id.value.clone())
            .collect(),
    }
}

/// The user a certificate signs in as, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingMatch {
    /// The one enabled user it maps to.
    pub user: User,
    /// The rule that matched: field, attribute, priority (record it with the sign-in).
    pub rule: BindingRule,
    /// The matching rule's affinity.
    pub affinity: Affinity,
    /// The certificate's value that matched (a UPN, a mail address or an `X509:<...>` value).
    pub certificate_value: String,
}

/// What one rule did during a sign-in that found nobody.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingAttempt {
    /// The rule tried, in priority order.
    pub rule: BindingRule,
    /// Why it found nobody.
    pub outcome: AttemptOutcome,
}

/// Why one binding rule found nobody.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A low-affinity rule while high affinity is required.
    SkippedLowAffinity,
    /// The certificate has no value for the field.
    NoCertificateValue,
    /// No user has any of these values.
    NoUser {
        /// The certificate's values for the rule's field (a UPN, a mail address or `X509:<...>`
        /// forms).
        values: Vec<String>,
    },
}

impl fmt::Display for BindingAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (priority {}, {} affinity): ",
            self.rule,
            self.rule.priority,
            self.rule.affinity()
        )?;
        match &self.outcome {
            AttemptOutcome::SkippedLowAffinity => f.write_str("skipped, high affinity is required"),
            AttemptOutcome::NoCertificateValue => {
                write!(f, "the certificate has no {}", self.rule.certificate_field)
            }
            AttemptOutcome::NoUser { values } => write!(
                f,
                "no user has {} {}",
                self.rule.user_attribute,
                values.join(" or ")
            ),
        }
    }
}

/// Why a certificate maps to no user (or to more than one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    /// No rule found anyone.
    #[error("no user matches this certificate; an administrator can add one of its values (`certgate verify --json` lists them) to the user's certificateUserIds, or change the binding rules. Tried: {}", attempts_text(.attempts))]
    NotFound {
        /// What each rule in force did, in the order tried.
        attempts: Vec<BindingAttempt>,
    },
    /// The first rule that found anyone found several users: never a guess.
    #[error("the certificate matches {} users ({}) by rule {rule} (priority {}); a certificate must map to exactly one user: an administrator must make {} unique", .upns.len(), .upns.join(", "), .rule.priority, .rule.user_attribute)]
    Ambiguous {
        /// The rule that found them.
        rule: BindingRule,
        /// Their UPNs.
        upns: Vec<String>,
    },
    /// The one user found is disabled (accountEnabled false).
    #[error("the account {upn} is disabled; ask an administrator to enable it")]
    UserDisabled {
        /// The user's UPN.
        upn: String,
        /// The rule that found them.
        rule: BindingRule,
    },
    /// The store failed while looking users up.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn attempts_text(attempts: &[BindingAttempt]) -> String {
    if attempts.is_empty() {
        return "no rule".into();
    }
    attempts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl BindingError {
    /// Every code [`BindingError::code`] answers with (its store failures are
    /// [`StoreError::CODES`]).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "binding-not-found",
            "No username-binding rule found a user for the certificate: none of the certificate's values (UPN, RFC 822 name, `X509:<...>` forms) matches the user attribute a rule compares it with.",
            "No account matches this certificate. Ask your administrator to link the certificate to your account.",
        ),
        ReasonCode::new(
            "binding-ambiguous",
            "The first binding rule that found anyone found more than one user for the certificate; a certificate must map to exactly one user, so nobody was signed in.",
            "This certificate matches more than one account, so nobody can sign in with it. Ask your administrator to fix the accounts.",
        ),
        ReasonCode::new(
            "user-disabled",
            "The user account is disabled (accountEnabled is false), so it can neither sign in nor obtain a certificate.",
            "Your account is disabled. Ask your administrator.",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`], or the store's).
    pub fn code(&self) -> &'static str {
        match self {
            BindingError::NotFound { .. } => "binding-not-found",
            BindingError::Ambiguous { .. } => "binding-ambiguous",
            BindingError::UserDisabled { .. } => "user-disabled",
            BindingError::Store(error) => error.code(),
        }
    }
}

/// Maps a validated certificate to exactly one enabled user.
///
/// Rules are tried in priority order; a low-affinity rule is skipped when `policy` requires
/// high affinity. For each rule the certificate's values for its field are looked up (one
/// query per value; certificates rarely carry more than one); the first rule that finds any
/// user decides. Exactly one user → [`BindingMatch`]; more → `binding-ambiguous`; the user is
/// disabled → `user-disabled`; no rule finds anyone → `binding-not-found` with every attempt.
pub async fn match_user<L: UserLookup>(
    identity: &Identity,
    policy: &BindingPolicy,
    lookup: &L,
) -> Result<BindingMatch, BindingError> {
    let mut attempts = Vec::new();
    for rule in policy.effective_rules() {
        if rule.affinity() < policy.default_required_affinity {
            attempts.push(BindingAttempt {
                rule,
                outcome: AttemptOutcome::SkippedLowAffinity,
            });
            continue;
        }
        let values = certificate_values(identity, &rule);
        if values.is_empty() {
            attempts.push(BindingAttempt {
                rule,
                outcome: AttemptOutcome::NoCertificateValue,
            });
            continue;
        }
        let mut found: Vec<(User, String)> = Vec::new();
        for value in &values {
            for user in lookup.find_users(rule.user_attribute, value).await? {
                if attribute_matches(&user, rule.user_attribute, value)
                    && !found.iter().any(|(known, _)| known.id == user.id)
                {
                    found.push((user, value.clone()));
                }
            }
        }
        if found.is_empty() {
            attempts.push(BindingAttempt {
                rule,
                outcome: AttemptOutcome::NoUser { values },
            });
            continue;
        }
        return decide(rule, found);
    }
    Err(BindingError::NotFound { attempts })
}

/// The outcome of the rule that found `found` (at least one user, distinct).
fn decide(rule: BindingRule, found: Vec<(User, String)>) -> Result<BindingMatch, BindingError> {
    if found.len() > 1 {
        let mut upns: Vec<String> = found.iter().map(|(user, _)| user.upn.to_string()).collect();
        upns.sort();
        return Err(BindingError::Ambiguous { rule, upns });
    }
    let Some((user, certificate_value)) = found.into_iter().next() else {
        return Err(BindingError::NotFound {
            attempts: Vec::new(),
        });
    };
    if !user.enabled {
        return Err(BindingError::UserDisabled {
            upn: user.upn.to_string(),
            rule,
        });
    }
    Ok(BindingMatch {
        affinity: rule.affinity(),
        user,
        rule,
        certificate_value,
    })
}

/// Why a change to the binding rules was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingRuleError {
    /// The rule cannot match anything or would match too loosely ([`BindingRule::check`]).
    #[error("the rule {rule} is not allowed: {why}")]
    Invalid {
        /// The rule as asked for.
        rule: BindingRule,
        /// What is wrong with it, for the message.
        why: String,
    },
    /// Another configured rule has this priority.
    #[error("priority {priority} is already used by {existing}; remove it first or choose another priority")]
    PriorityTaken {
        /// The priority asked for.
        priority: u32,
        /// The rule that has it.
        existing: BindingRule,
    },
    /// No configured rule has this priority.
    #[error("no binding rule has priority {priority}{}; `certgate binding list` shows the rules", if *.defaults_in_force { " (no rule is configured: the defaults apply and cannot be removed one by one; add a rule to replace them)" } else { "" })]
    NotFound {
        /// The priority asked for.
        priority: u32,
        /// True while no rule is configured: the defaults apply and cannot be removed one by one.
        defaults_in_force: bool,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BindingRuleError {
    /// Every code [`BindingRuleError::code`] answers with (its store failures are
    /// [`StoreError::CODES`]).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "binding-rule-invalid",
            "The binding rule cannot match anything or would match too loosely: priorities start at 1, and only PrincipalName and RFC822Name can be compared with userPrincipalName or proxyAddresses (every other field only with certificateUserIds).",
            "Compare PrincipalName or RFC822Name with userPrincipalName or proxyAddresses, any other field with certificateUserIds, and give a priority of 1 or more (`certgate binding add`).",
        ),
        ReasonCode::new(
            "binding-priority-taken",
            "Another binding rule already has the requested priority; priorities are unique.",
            "Choose another priority, or remove the existing rule first (`certgate binding list`, `certgate binding remove PRIORITY`).",
        ),
        ReasonCode::new(
            "binding-rule-not-found",
            "No configured binding rule has the given priority. While no rule is configured the default rules apply, and they cannot be removed one by one.",
            "Use a priority that `certgate binding list` shows; to replace the default rules, add a rule (`certgate binding add`).",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`], or the store's).
    pub fn code(&self) -> &'static str {
        match self {
            BindingRuleError::Invalid { .. } => "binding-rule-invalid",
            BindingRuleError::PriorityTaken { .. } => "binding-priority-taken",
            BindingRuleError::NotFound { .. } => "binding-rule-not-found",
            BindingRuleError::Store(error) => error.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::OnceLock;
    use std::task::{Context, Poll, Waker};

    use certgate_pki::{Certificate, UnixTime};
    use certgate_testpki::{ChainSpec, KeyKind, TestPki};

    use super::*;
    use crate::directory::{Upn, UserId};
    use crate::store::StoreResult;

    /// The lookups below answer at once, so one poll finishes the engine.
    fn run<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the in-memory lookup never waits"),
        }
    }

    /// A directory in a vector that answers every query with every user: the engine's own
    /// comparison decides.
    struct Everyone(Vec<User>);

    impl UserLookup for Everyone {
        fn find_users(
            &self,
            _attribute: UserAttribute,
            _value: &str,
        ) -> impl Future<Output = StoreResult<Vec<User>>> + Send {
            std::future::ready(Ok(self.0.clone()))
        }
    }

    struct Broken;

    impl UserLookup for Broken {
        fn find_users(
            &self,
            _attribute: UserAttribute,
            _value: &str,
        ) -> impl Future<Output = StoreResult<Vec<User>>> + Send {
            std::future::ready(Err(StoreError::Unavailable {
                detail: "down".into(),
            }))
        }
    }

    fn user(upn: &str) -> User {
        User {
            id: UserId::generate().expect("randomness"),
            upn: Upn::parse(upn).expect("valid UPN"),
            immutable_id: upn.to_owned(),
            display_name: upn.to_owned(),
            mail: None,
            proxy_addresses: Vec::new(),
            certificate_user_ids: Vec::new(),
            enabled: true,
            groups: Vec::new(),
            sts_refresh_tokens_valid_from: None,
            created_at: UnixTime(0),
            origin: crate::directory::UserOrigin::Local,
        }
    }

    /// Alice's certificate: UPN alice@corp.example, RFC 822 alice.mail@corp.example.
    fn alice() -> &'static Identity {
        static PKI: OnceLock<Identity> = OnceLock::new();
        PKI.get_or_init(|| {
            let pki = TestPki::three_level(&ChainSpec {
                email: Some("Alice.Mail@corp.example".into()),
                ..ChainSpec::with_key(KeyKind::EcdsaP256)
            })
            .expect("test PKI");
            Identity::of(&Certificate::from_der(&pki.leaf.der).expect("leaf parses"))
        })
    }

    fn cuid(identity: &Identity, field: CertificateField) -> String {
        identity
            .certificate_user_ids
            .iter()
            .find(|id| id.field == field.as_str())
            .unwrap_or_else(|| panic!("the test certificate has a {field} value"))
            .value
            .clone()
    }

    fn policy(rules: &[(CertificateField, UserAttribute)]) -> BindingPolicy {
        BindingPolicy {
            rules: rules
                .iter()
                .enumerate()
                .map(|(i, (field, attribute))| BindingRule::new(i as u32 + 1, *field, *attribute))
                .collect(),
            default_required_affinity: Affinity::Low,
        }
    }

    #[test]
    fn default_rules_bind_the_principal_name_to_the_upn_case_insensitively() {
        let directory = Everyone(vec![user("bob@corp.example"), user("ALICE@Corp.Example")]);
        let matched =
            run(match_user(alice(), &BindingPolicy::default(), &directory)).expect("alice matches");
        assert_eq!(matched.user.upn.as_str(), "ALICE@Corp.Example");
        assert_eq!(matched.rule, default_rules()[0]);
        assert_eq!(matched.rule.to_string(), "PrincipalName->userPrincipalName");
        assert_eq!(matched.affinity, Affinity::Low);
        assert_eq!(matched.certificate_value, "alice@corp.example");
    }

    #[test]
    fn default_rules_fall_back_to_the_rfc822_name_then_the_key_identifiers() {
        let directory = Everyone(vec![user("alice.mail@corp.example")]);
        let matched = run(match_user(alice(), &BindingPolicy::default(), &directory))
            .expect("matches by RFC822Name");
        assert_eq!(matched.rule.certificate_field, CertificateField::Rfc822Name);
        assert_eq!(matched.rule.priority, 2);

        let mut carol = user("carol@corp.example");
        carol.certificate_user_ids = vec![cuid(alice(), CertificateField::Sha1PublicKey)];
        let matched = run(match_user(
            alice(),
            &BindingPolicy::default(),
            &Everyone(vec![carol]),
        ))
        .expect("matches by SHA1PublicKey");
        assert_eq!(
            matched.rule.certificate_field,
            CertificateField::Sha1PublicKey
        );
        assert_eq!(matched.rule.priority, 4);
        assert_eq!(matched.affinity, Affinity::High);
    }

    #[test]
    fn every_certificate_field_binds_through_certificate_user_ids_exactly() {
        for field in CertificateField::ALL {
            let value = cuid(alice(), field);
            let mut dave = user("dave@corp.example");
            dave.certificate_user_ids = vec![value.clone()];
            let decoy = {
                let mut decoy = user("decoy@corp.example");
                // Same value in another case: certificateUserIds match exactly.
                decoy.certificate_user_ids = vec![value.to_uppercase()];
                decoy
            };
            let rules = policy(&[(field, UserAttribute::CertificateUserIds)]);
            let directory = Everyone(if value == value.to_uppercase() {
                vec![dave]
            } else {
                vec![decoy, dave]
            });
            let matched = run(match_user(alice(), &rules, &directory))
                .unwrap_or_else(|e| panic!("{field}: {e}"));
            assert_eq!(matched.user.upn.as_str(), "dave@corp.example", "{field}");
            assert_eq!(matched.certificate_value, value);
            assert_eq!(matched.affinity, field.affinity());
        }
    }

    #[test]
    fn proxy_addresses_match_the_address_part_of_any_prefix_case_insensitively() {
        let mut erin = user("erin@corp.example");
        erin.proxy_addresses = vec![
            "SMTP:erin@corp.example".into(),
            "smtp:ALICE.MAIL@corp.example".into(),
        ];
        let mut frank = user("frank@corp.example");
        // Only the address part counts: the whole value is not an address.
        frank.proxy_addresses = vec!["smtp:alice.mail@corp.example.evil".into()];
        let rules = policy(&[(CertificateField::Rfc822Name, UserAttribute::ProxyAddresses)]);
        let matched = run(match_user(alice(), &rules, &Everyone(vec![frank, erin])))
            .expect("erin by proxy address");
        assert_eq!(matched.user.upn.as_str(), "erin@corp.example");
        assert_eq!(matched.rule.to_string(), "RFC822Name->proxyAddresses");

        let mut grace = user("grace@corp.example");
        grace.proxy_addresses = vec!["SMTP:Alice@Corp.Example".into()];
        let rules = policy(&[(
            CertificateField::PrincipalName,
            UserAttribute::ProxyAddresses,
        )]);
        let matched = run(match_user(alice(), &rules, &Everyone(vec![grace])))
            .expect("grace by principal name");
        assert_eq!(matched.user.upn.as_str(), "grace@corp.example");
        assert_eq!(proxy_address_part("SIP:a@b"), "a@b");
        assert_eq!(proxy_address_part("a@b"), "a@b");
    }

    #[test]
    fn rules_are_tried_in_priority_order_whatever_order_they_are_stored_in() {
        let mut by_key = user("key@corp.example");
        by_key.certificate_user_ids = vec![cuid(alice(), CertificateField::SubjectKeyIdentifier)];
        let by_upn = user("alice@corp.example");
        let directory = Everyone(vec![by_upn, by_key]);
        let rules = BindingPolicy {
            rules: vec![
                BindingRule::new(
                    20,
                    CertificateField::PrincipalName,
                    UserAttribute::UserPrincipalName,
                ),
                BindingRule::new(
                    10,
                    CertificateField::SubjectKeyIdentifier,
                    UserAttribute::CertificateUserIds,
                ),
            ],
            default_required_affinity: Affinity::Low,
        };
        let matched = run(match_user(alice(), &rules, &directory)).expect("match");
        assert_eq!(matched.user.upn.as_str(), "key@corp.example");
        assert_eq!(matched.rule.priority, 10);
    }

    #[test]
    fn the_first_rule_that_finds_anyone_decides_even_when_that_user_is_disabled() {
        let mut alice_user = user("alice@corp.example");
        alice_user.enabled = false;
        let mut other = user("other@corp.example");
        other.certificate_user_ids = vec![cuid(alice(), CertificateField::SubjectKeyIdentifier)];
        let error = run(match_user(
            alice(),
            &BindingPolicy::default(),
            &Everyone(vec![alice_user, other]),
        ))
        .expect_err("disabled");
        assert_eq!(error.code(), "user-disabled");
        assert!(error.to_string().contains("alice@corp.example"), "{error}");
    }

    #[test]
    fn two_matching_users_are_a_rejection_naming_both() {
        let mut one = user("one@corp.example");
        one.proxy_addresses = vec!["smtp:alice@corp.example".into()];
        let mut two = user("two@corp.example");
        two.proxy_addresses = vec!["SMTP:Alice@corp.example".into()];
        let rules = policy(&[
            (
                CertificateField::PrincipalName,
                UserAttribute::ProxyAddresses,
            ),
            (
                CertificateField::Sha1PublicKey,
                UserAttribute::CertificateUserIds,
            ),
        ]);
        let error =
            run(match_user(alice(), &rules, &Everyone(vec![two, one]))).expect_err("ambiguous");
        assert_eq!(error.code(), "binding-ambiguous");
        match &error {
            BindingError::Ambiguous { rule, upns } => {
                assert_eq!(rule.priority, 1);
                assert_eq!(upns, &["one@corp.example", "two@corp.example"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_same_user_found_by_two_values_of_one_rule_is_one_match() {
        let pki = TestPki::three_level(&ChainSpec {
            email: Some("alice@corp.example".into()),
            ..ChainSpec::with_key(KeyKind::EcdsaP256)
        })
        .expect("test PKI");
        let mut identity =
            Identity::of(&Certificate::from_der(&pki.leaf.der).expect("leaf parses"));
        identity.upns.push("ALICE@corp.example".into());
        let directory = Everyone(vec![user("alice@corp.example")]);
        let matched =
            run(match_user(&identity, &BindingPolicy::default(), &directory)).expect("one user");
        assert_eq!(matched.user.upn.as_str(), "alice@corp.example");
    }

    #[test]
    fn high_required_affinity_skips_low_rules() {
        let upn_only = Everyone(vec![user("alice@corp.example")]);
        let high = BindingPolicy {
            default_required_affinity: Affinity::High,
            ..BindingPolicy::default()
        };
        let error = run(match_user(alice(), &high, &upn_only)).expect_err("low rules skipped");
        assert_eq!(error.code(), "binding-not-found");
        let BindingError::NotFound { attempts } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(attempts.len(), 4);
        assert_eq!(attempts[0].outcome, AttemptOutcome::SkippedLowAffinity);
        assert_eq!(attempts[1].outcome, AttemptOutcome::SkippedLowAffinity);
        assert!(matches!(attempts[3].outcome, AttemptOutcome::NoUser { .. }));
        assert!(
            error
                .to_string()
                .contains("skipped, high affinity is required"),
            "{error}"
        );

        let mut pinned = user("alice@corp.example");
        pinned.certificate_user_ids = vec![cuid(alice(), CertificateField::SubjectKeyIdentifier)];
        let matched = run(match_user(alice(), &high, &Everyone(vec![pinned]))).expect("high rule");
        assert_eq!(
            matched.rule.certificate_field,
            CertificateField::SubjectKeyIdentifier
        );
        assert_eq!(matched.affinity, Affinity::High);
    }

    #[test]
    fn not_found_lists_every_rule_and_what_it_looked_for() {
        let error = run(match_user(
            alice(),
            &BindingPolicy::default(),
            &Everyone(vec![user("nobody@corp.example")]),
        ))
        .expect_err("nobody");
        assert_eq!(error.code(), "binding-not-found");
        let text = error.to_string();
        assert!(
            text.contains("PrincipalName->userPrincipalName (priority 1, low affinity): no user has userPrincipalName alice@corp.example"),
            "{text}"
        );
        assert!(
            text.contains(&cuid(alice(), CertificateField::Sha1PublicKey)),
            "{text}"
        );
    }

    #[test]
    fn a_certificate_without_the_field_moves_on_to_the_next_rule() {
        let pki = TestPki::three_level(&ChainSpec {
            upn: None,
            email: None,
            ..ChainSpec::with_key(KeyKind::EcdsaP256)
        })
        .expect("test PKI");
        let identity = Identity::of(&Certificate::from_der(&pki.leaf.der).expect("leaf parses"));
        let mut hank = user("hank@corp.example");
        hank.certificate_user_ids = vec![cuid(&identity, CertificateField::Sha1PublicKey)];
        let matched = run(match_user(
            &identity,
            &BindingPolicy::default(),
            &Everyone(vec![hank]),
        ))
        .expect("by key");
        assert_eq!(matched.rule.priority, 4);
        let error = run(match_user(
            &identity,
            &BindingPolicy::default(),
            &Everyone(vec![]),
        ))
        .expect_err("nobody");
        let BindingError::NotFound { attempts } = error else {
            panic!("not found")
        };
        assert_eq!(attempts[0].outcome, AttemptOutcome::NoCertificateValue);
        assert_eq!(attempts[1].outcome, AttemptOutcome::NoCertificateValue);
    }

    #[test]
    fn store_failures_pass_through_with_their_code() {
        let error = run(match_user(alice(), &BindingPolicy::default(), &Broken)).expect_err("down");
        assert_eq!(error.code(), "store-unavailable");
    }

    #[test]
    fn only_names_can_be_compared_with_upn_and_proxy_addresses() {
        for field in CertificateField::ALL {
            for attribute in UserAttribute::ALL {
                let rule = BindingRule::new(1, field, attribute);
                let allowed = attribute == UserAttribute::CertificateUserIds
                    || matches!(
                        field,
                        CertificateField::PrincipalName | CertificateField::Rfc822Name
                    );
                assert_eq!(rule.check().is_ok(), allowed, "{rule}");
                if !allowed {
                    assert_eq!(rule.check().unwrap_err().code(), "binding-rule-invalid");
                }
            }
        }
        let zero = BindingRule::new(
            0,
            CertificateField::PrincipalName,
            UserAttribute::UserPrincipalName,
        );
        assert_eq!(zero.check().unwrap_err().code(), "binding-rule-invalid");
    }

    #[test]
    fn affinity_is_fixed_per_field_and_names_parse_case_insensitively() {
        let high: Vec<_> = CertificateField::ALL
            .into_iter()
            .filter(|f| f.affinity() == Affinity::High)
            .collect();
        assert_eq!(
            high,
            [
                CertificateField::IssuerAndSerialNumber,
                CertificateField::SubjectKeyIdentifier,
                CertificateField::Sha1PublicKey
            ]
        );
        assert_eq!(
            CertificateField::parse("rfc822name"),
            Some(CertificateField::Rfc822Name)
        );
        assert_eq!(
            CertificateField::parse("SHA1PUBLICKEY"),
            Some(CertificateField::Sha1PublicKey)
        );
        assert_eq!(
            UserAttribute::parse("CertificateUserIds"),
            Some(UserAttribute::CertificateUserIds)
        );
        assert_eq!(Affinity::parse("HIGH"), Some(Affinity::High));
        assert_eq!(CertificateField::parse("Thumbprint"), None);
    }
}
