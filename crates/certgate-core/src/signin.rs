//! Certificate sign-in: from the chain a client presented over TLS to a decision, and the
//! sign-in log that keeps every attempt with its exact reason.
//!
//! The TLS layer lets any certificate through (after checking proof of possession) so that a
//! person gets a page that says what is wrong; the decision is made here, against the current
//! validation state.

use crate::directory::UserLookup;
use std::future::Future;

use certgate_pki::{Certificate, Identity, Reason, ReasonCode, Rejection, UnixTime};
use serde::Serialize;

use crate::binding::{match_user, BindingError, BindingMatch, BindingPolicy, BindingRuleStore};
use crate::store::{StoreError, StoreResult};
use crate::strength::{evaluate, StrengthDecision, StrengthInput, StrengthRule, StrengthRuleStore};
use crate::validation_state::ValidationState;

/// A certificate that validated, with the fields sign-in records and tokens carry.
#[derive(Clone, Debug)]
pub struct ValidCertificate {
    /// What the certificate says, its issuer values taken from the validated path (binding reads
    /// it).
    pub identity: Identity,
    /// Subject DN (Windows form) of the CA certificate that issued it on the validated path, as
    /// AD FS's certificate-context issuer claim.
    pub issuer: String,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// SHA-256 of the whole certificate, lowercase hex.
    pub sha256_thumbprint: String,
    /// DER of the end-entity certificate.
    pub der: Vec<u8>,
    /// DER of the CA certificate that issued it on the validated path (possibly the trust
    /// anchor): which trusted CA stands behind it.
    pub issuing_ca_der: Vec<u8>,
    /// What the authentication-strength rules look at.
    pub strength_input: StrengthInput,
}

/// Why a certificate sign-in failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateRejection {
    /// The chain was empty: the client sent no certificate.
    #[error("no client certificate was presented; choose a certificate when the browser or app asks for one, or install yours first")]
    NoCertificate,
    /// The end-entity certificate does not parse.
    #[error("the presented certificate could not be read: {0}")]
    Malformed(Reason),
    /// The chain does not validate against the trusted CAs and current CRLs.
    #[error("{0}")]
    Invalid(Rejection),
}

impl CertificateRejection {
    /// Every code [`CertificateRejection::code`] answers with of its own (an unreadable or invalid
    /// certificate is one of certgate-pki's codes).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "no-certificate",
            "No client certificate was presented: the browser or app sent none when certgate asked for one.",
            "Choose your certificate when the browser or app asks for one. If it never asks, install your certificate (the .p12 file you were given) and try again in a new browser window.",
        ),
    ];

    /// The stable reason code: its own (listed in [`Self::CODES`]) or certgate-pki's.
    pub fn code(&self) -> &'static str {
        match self {
            CertificateRejection::NoCertificate => "no-certificate",
            CertificateRejection::Malformed(reason) => reason.code(),
            CertificateRejection::Invalid(rejection) => rejection.code(),
        }
    }
}

/// Validates the chain a client presented (end entity first) against `state` at `at`.
pub fn check_certificate(
    state: &ValidationState,
    chain: &[Vec<u8>],
    at: UnixTime,
) -> Result<ValidCertificate, CertificateRejection> {
    let (leaf, rest) = chain
        .split_first()
        .ok_or(CertificateRejection::NoCertificate)?;
    let leaf = Certificate::from_der(leaf).map_err(CertificateRejection::Malformed)?;
    // Intermediates that do not parse are left out: they cannot be part of a valid path, and
    // the path builder reports what is missing.
    let intermediates: Vec<Certificate> = rest
        .iter()
        .filter_map(|der| Certificate::from_der(der).ok())
        .collect();
    let path = state
        .validate(&leaf, &intermediates, at)
        .map_err(CertificateRejection::Invalid)?;
    // Everything about the issuer (binding values with `<I>`, strength rules, the issuer
    // claim) comes from the issuing CA certificate on the validated path, not from what the
    // leaf says about its issuer.
    let identity = Identity::on_path(&path);
    Ok(ValidCertificate {
        strength_input: StrengthInput::on_path(&path),
        issuer: identity.issuer.clone(),
        serial: identity.serial.clone(),
        sha256_thumbprint: identity.sha256_thumbprint.clone(),
        der: leaf.der().to_vec(),
        issuing_ca_der: path.issuing_ca().der().to_vec(),
        identity,
    })
}

/// The directory's sign-in rules: username bindings and authentication strength. Read once
/// per store generation, not per sign-in.
#[derive(Clone, Debug, Default)]
pub struct SignInRules {
    /// The username-binding rules and the default required affinity.
    pub binding: BindingPolicy,
    /// The authentication-strength rules.
    pub strength: Vec<StrengthRule>,
}

impl SignInRules {
    /// Reads both rule sets from the directory.
    pub async fn load<S: BindingRuleStore + StrengthRuleStore>(
        directory: &S,
    ) -> StoreResult<SignInRules> {
        Ok(SignInRules {
            binding: directory.binding_policy().await?,
            strength: directory.strength_rules().await?,
        })
    }
}

/// A certificate sign-in that succeeded: the certificate, the one user it maps to and by
/// which rule, and the authentication strength it carries.
#[derive(Clone, Debug)]
pub struct SignedIn {
    /// The certificate, validated.
    pub certificate: ValidCertificate,
    /// The user it maps to, and the rule that found them.
    pub binding: BindingMatch,
    /// Single- or multi-factor, and which rules decided.
    pub strength: StrengthDecision,
}

/// Why a certificate sign-in failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// The certificate was refused.
    #[error(transparent)]
    Certificate(#[from] CertificateRejection),
    /// The certificate validated but maps to no user, several users, or a disabled one.
    #[error(transparent)]
    Binding(#[from] BindingError),
    /// The store failed while looking the user up.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SignInError {
    /// None of its own: [`SignInError::code`] is always that of the certificate rejection, the
    /// binding error or the store failure it carries.
    pub const CODES: &'static [ReasonCode] = &[];

    /// The code of the rejection, binding error or store failure carried.
    pub fn code(&self) -> &'static str {
        match self {
            SignInError::Certificate(rejection) => rejection.code(),
            SignInError::Binding(error) => error.code(),
            SignInError::Store(error) => error.code(),
        }
    }
}

/// Validates the presented chain, maps the certificate to exactly one enabled user by the
/// binding rules, and decides the authentication strength.
pub async fn sign_in_with_certificate<L: UserLookup>(
    state: &ValidationState,
    chain: &[Vec<u8>],
    at: UnixTime,
    rules: &SignInRules,
    users: &L,
) -> Result<SignedIn, SignInError> {
    let certificate = check_certificate(state, chain, at)?;
    let binding = match_user(&certificate.identity, &rules.binding, users).await?;
    let strength = evaluate(&rules.strength, &certificate.strength_input);
    Ok(SignedIn {
        certificate,
        binding,
        strength,
    })
}

/// One certificate sign-in, decided and written up once for every listener that signs people
/// in with a certificate (`/certauth`, the front door, the device page, EST re-enrollment, the
/// admin API): the chain validated, mapped to one user, the strength decided, and the sign-in
/// log's record of it. The caller records it (a sign-in that cannot be recorded does not
/// happen) and acts on the decision only then.
pub struct SignInAttempt {
    /// The decision; act on it only once `record` is written.
    pub decision: Result<SignedIn, SignInError>,
    /// The sign-in log's record of the attempt.
    pub record: SignInRecord,
}

/// Who is signing in to what, for the record.
#[derive(Clone, Copy, Debug)]
pub struct AttemptContext<'a> {
    /// When the attempt was made.
    pub at: UnixTime,
    /// Shown on the error page and in every log line of the attempt.
    pub correlation_id: &'a str,
    /// The client's IP address.
    pub client_address: std::net::IpAddr,
    /// What is signed in to (`certauth`, `front-door:/owa`, `admin-api`, ...).
    pub application: &'a str,
}

/// See [`SignInAttempt`].
pub async fn attempt_sign_in<L: UserLookup>(
    state: &ValidationState,
    chain: &[Vec<u8>],
    rules: &SignInRules,
    users: &L,
    context: AttemptContext<'_>,
) -> SignInAttempt {
    let decision = sign_in_with_certificate(state, chain, context.at, rules, users).await;
    let record = SignInRecord::of_chain(context, chain);
    let record = match &decision {
        Ok(signed_in) => {
            let detail = format!(
                "certificate {} validated; signed in as {} by rule {}; {}",
                signed_in.certificate.serial,
                signed_in.binding.user.upn,
                signed_in.binding.rule,
                signed_in.strength
            );
            record.succeeded(signed_in, detail)
        }
        Err(rejection) => record.failed(rejection.code(), rejection.to_string()),
    };
    SignInAttempt { decision, record }
}

impl SignInAttempt {
    /// An attempt refused before the chain was looked at (the rules could not be read, the
    /// store did not answer in time): `error` on record.
    pub fn refused(
        context: AttemptContext<'_>,
        chain: &[Vec<u8>],
        error: SignInError,
    ) -> SignInAttempt {
        let record = SignInRecord::of_chain(context, chain).failed(error.code(), error.to_string());
        SignInAttempt {
            decision: Err(error),
            record,
        }
    }
}

impl SignInRecord {
    /// The record of an attempt with `chain` (its end-entity certificate, as far as it
    /// parses), not decided yet: a failure without a reason until [`Self::succeeded`] or
    /// [`Self::failed`] says what it came to.
    pub fn of_chain(context: AttemptContext<'_>, chain: &[Vec<u8>]) -> SignInRecord {
        let leaf = chain
            .first()
            .and_then(|der| certgate_pki::Certificate::from_der(der).ok())
            .map(|c| certgate_pki::Identity::of(&c));
        SignInRecord {
            at: context.at,
            correlation_id: context.correlation_id.to_owned(),
            client_address: context.client_address.to_string(),
            application: context.application.to_owned(),
            certificate_subject: leaf.as_ref().map(|i| i.subject.clone()),
            certificate_issuer: leaf.as_ref().map(|i| i.issuer.clone()),
            certificate_serial: leaf.as_ref().map(|i| i.serial.clone()),
            certificate_thumbprint: leaf.as_ref().map(|i| i.sha256_thumbprint.clone()),
            user: None,
            binding_rule: None,
            strength: None,
            result: SignInResult::Failure,
            reason_code: String::new(),
            detail: String::new(),
        }
    }

    /// A successful sign-in as `signed_in`.
    pub fn succeeded(self, signed_in: &SignedIn, detail: String) -> SignInRecord {
        SignInRecord {
            user: Some(signed_in.binding.user.upn.to_string()),
            binding_rule: Some(signed_in.binding.rule.to_string()),
            strength: Some(signed_in.strength.strength.as_str().to_owned()),
            result: SignInResult::Success,
            reason_code: "ok".to_owned(),
            detail,
            ..self
        }
    }

    /// A refused sign-in, with its reason code. The user, rule and strength stay on record
    /// when the certificate did sign someone in and a later check refused (the admin group).
    pub fn failed(self, code: &str, detail: String) -> SignInRecord {
        SignInRecord {
            result: SignInResult::Failure,
            reason_code: code.to_owned(),
            detail,
            ..self
        }
    }

    /// A certificate that validated, with no user to map it to (the front door without
    /// mapping).
    pub fn validated(self, detail: String) -> SignInRecord {
        SignInRecord {
            result: SignInResult::Success,
            reason_code: "ok".to_owned(),
            detail,
            ..self
        }
    }
}

/// `success` or `failure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignInResult {
    /// The sign-in was allowed.
    Success,
    /// The sign-in was refused; the record's reason code says why.
    Failure,
}

impl SignInResult {
    /// `success` or `failure`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInResult::Success => "success",
            SignInResult::Failure => "failure",
        }
    }
    /// Reads the name [`as_str`](Self::as_str) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "success" => Some(SignInResult::Success),
            "failure" => Some(SignInResult::Failure),
            _ => None,
        }
    }
}

/// One sign-in attempt, as the sign-in log keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInRecord {
    /// When the attempt was made.
    pub at: UnixTime,
    /// Shown to the person on the error page and in every log line of the attempt.
    pub correlation_id: String,
    /// The client's IP address, as text.
    pub client_address: String,
    /// What was signed in to (`certauth`, an OIDC client id, ...).
    pub application: String,
    /// The end-entity certificate's subject DN (Windows form), when it parses.
    pub certificate_subject: Option<String>,
    /// Its issuer DN (Windows form), when it parses.
    pub certificate_issuer: Option<String>,
    /// Its serial, lowercase hex, when it parses.
    pub certificate_serial: Option<String>,
    /// Its SHA-256 thumbprint, lowercase hex, when it parses.
    pub certificate_thumbprint: Option<String>,
    /// The user the certificate mapped to, when it did.
    pub user: Option<String>,
    /// The username-binding rule that matched (e.g. `PrincipalName->userPrincipalName`).
    pub binding_rule: Option<String>,
    /// `single-factor` / `multi-factor`.
    pub strength: Option<String>,
    /// Success or failure.
    pub result: SignInResult,
    /// `ok` on success, otherwise the stable reason code.
    pub reason_code: String,
    /// The full reason, for administrators.
    pub detail: String,
}

/// Which sign-ins to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignInQuery {
    /// Only this user's records (compared case-insensitively).
    pub user: Option<String>,
    /// Only successes, or only failures.
    pub result: Option<SignInResult>,
    /// Only records with this reason code (`ok` for successes).
    pub reason_code: Option<String>,
    /// Only records made at or after this instant.
    pub since: Option<UnixTime>,
    /// At most this many records, newest first.
    pub limit: i64,
}

/// Where sign-ins are recorded.
pub trait SignInLog: Send + Sync + 'static {
    /// Appends one record.
    fn append_signin(&self, record: &SignInRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// Appends several records in one transaction (one disk sync for all).
    fn append_signins(
        &self,
        records: &[SignInRecord],
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Newest first.
    fn signins(
        &self,
        query: &SignInQuery,
    ) -> impl Future<Output = StoreResult<Vec<SignInRecord>>> + Send;
    /// Deletes at most `max_rows` of the oldest records made before `before`; returns how many
    /// (retention: see the `retention` module, which calls this).
    fn purge_signins(
        &self,
        before: UnixTime,
        max_rows: u32,
    ) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// A random correlation ID (UUID v4 form) for one attempt.
pub fn correlation_id() -> String {
    let mut bytes = [0u8; 16];
    // Without system randomness the ID is all zeros: it only correlates log lines, it grants
    // nothing.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    crate::uuid_v4(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_uuid_v4_shaped_and_differ() {
        let a = correlation_id();
        let b = correlation_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn no_certificate_is_its_own_code() {
        let state = ValidationState::default();
        let rejection = check_certificate(&state, &[], UnixTime(0)).unwrap_err();
        assert_eq!(rejection.code(), "no-certificate");
        let rejection = check_certificate(&state, &[b"junk".to_vec()], UnixTime(0)).unwrap_err();
        assert_eq!(rejection.code(), "cert-malformed");
    }

    /// Trusts root and intermediate of each PKI, exempt from CRL checks (revocation is not
    /// what these tests are about).
    fn trusting(pkis: &[&certgate_testpki::TestPki]) -> ValidationState {
        use crate::trusted_ca::{prepare_new_ca, AuthorityType, CaId, CaRecord, CaSettings};
        let mut records: Vec<CaRecord> = Vec::new();
        for pki in pkis {
            for (der, authority_type) in [
                (&pki.root.der, AuthorityType::Root),
                (&pki.intermediate.der, AuthorityType::Intermediate),
            ] {
                let settings = CaSettings {
                    display_name: String::new(),
                    authority_type,
                    crl_url: None,
                    delta_crl_url: None,
                    exempt_from_crl_validation: true,
                    send_as_issuer_hint: false,
                };
                let new = prepare_new_ca(der.clone(), settings, &records, UnixTime(0))
                    .expect("a test CA");
                records.push(CaRecord {
                    id: CaId(records.len() as i64 + 1),
                    settings: new.settings,
                    certificate_der: new.certificate_der,
                    facts: new.facts,
                    created_at: UnixTime(0),
                });
            }
        }
        crate::validation_state::build_state_with(&records, Vec::new(), 1)
    }

    fn ski(der: &[u8]) -> Vec<u8> {
        Certificate::from_der(der)
            .expect("CA")
            .extensions()
            .subject_key_id
            .clone()
            .expect("the test CAs carry an SKI")
    }

    /// Issue 12 item 3: a trusted CA writes another CA's SKI into its leaf's AKI; an issuer-SKI
    /// rule that makes the other CA's certificates multi-factor must not apply to it.
    #[test]
    fn a_forged_authority_key_identifier_does_not_borrow_another_cas_strength() {
        use crate::strength::{IssuerSelector, Strength, StrengthRule, StrengthRuleId};
        use certgate_testpki::{ChainSpec, KeyKind, TestPki};
        let strong = TestPki::three_level(&ChainSpec::with_key(KeyKind::EcdsaP256)).expect("pki");
        let strong_ski = ski(&strong.intermediate.der);
        let forger = TestPki::three_level(&ChainSpec {
            leaf_authority_key_id: Some(strong_ski.clone()),
            serial_seed: 0xF0F0,
            ..ChainSpec::with_key(KeyKind::EcdsaP256)
        })
        .expect("pki");
        let state = trusting(&[&strong, &forger]);
        let at = UnixTime(certgate_testpki::VALIDATION_TIME);
        let rules = [StrengthRule {
            id: StrengthRuleId(1),
            spec: crate::strength::StrengthRuleSpec {
                issuer: Some(IssuerSelector::SubjectKeyIdentifier(crate::hex(
                    &strong_ski,
                ))),
                policy_oid: None,
                strength: Strength::MultiFactor,
            },
            created_at: UnixTime(0),
        }];

        let forged = check_certificate(&state, std::slice::from_ref(&forger.leaf.der), at)
            .expect("the forger's leaf validates through its own CA");
        assert_eq!(
            forged.strength_input.issuer.subject_key_identifier,
            Some(crate::hex(&ski(&forger.intermediate.der)))
        );
        assert_eq!(
            evaluate(&rules, &forged.strength_input).strength,
            Strength::SingleFactor
        );
        // The CA the rule names still gets its multi-factor sign-ins.
        let genuine =
            check_certificate(&state, std::slice::from_ref(&strong.leaf.der), at).expect("valid");
        assert_eq!(
            evaluate(&rules, &genuine.strength_input).strength,
            Strength::MultiFactor
        );
    }

    /// Issue 12 item 3: `<I>` binding values and the recorded issuer name the CA on the path,
    /// spelled as that CA's certificate spells its subject, not as the leaf writes its issuer.
    #[test]
    fn issuer_values_come_from_the_issuing_ca_on_the_path() {
        use certgate_testpki::{ChainSpec, KeyKind, TestPki};
        let pki = TestPki::three_level(&ChainSpec {
            leaf_issuer_common_name: Some("CERTGATE TEST ISSUING CA".into()),
            ..ChainSpec::with_key(KeyKind::EcdsaP256)
        })
        .expect("pki");
        let state = trusting(&[&pki]);
        let at = UnixTime(certgate_testpki::VALIDATION_TIME);
        let valid =
            check_certificate(&state, std::slice::from_ref(&pki.leaf.der), at).expect("valid");
        let ca = Certificate::from_der(&pki.intermediate.der).expect("CA");
        let leaf = Certificate::from_der(&pki.leaf.der).expect("leaf");
        assert_ne!(leaf.issuer().to_windows(), ca.subject().to_windows());
        assert_eq!(valid.issuer, ca.subject().to_windows());
        assert_eq!(
            valid.strength_input.issuer.subject,
            ca.subject().to_windows()
        );
        let issuer_and_serial = valid
            .identity
            .certificate_user_ids
            .iter()
            .find(|id| id.field == "IssuerAndSerialNumber")
            .expect("always present");
        assert_eq!(
            issuer_and_serial.value,
            format!(
                "X509:<I>{}<SR>{}",
                ca.subject().to_entra(),
                valid.identity.serial_reversed
            )
        );
    }
}
