//! Certificate enrollment over EST (RFC 7030): one-time enrollment codes, and the two ways to
//! get a certificate for a key the requester generated — with a code (`simpleenroll`,
//! authenticated by HTTP Basic with the UPN and the code, RFC 7030 §3.2.3) or with a current
//! certificate (`simplereenroll`, authenticated by the TLS client certificate, §3.3.2).
//!
//! What a certificate says about its holder comes from the directory, never from the request:
//! the CSR proves possession of the key (RFC 7030 §3.4) and supplies the key, and its subject
//! and requested extensions are ignored. A device cannot ask for someone else's UPN, a CA
//! certificate or another name.
//!
//! Codes are 100 random bits, shown once to the administrator who makes them; the store keeps
//! only their SHA-256 (a safe lookup key at that entropy, as for admin tokens). A code is
//! consumed by one compare-and-set in the store, so two nodes presented the same code at the
//! same moment cannot both issue. Every creation, use and refusal is in the audit log.

use crate::Store;
use std::fmt;
use std::future::Future;

use aws_lc_rs::constant_time;
use aws_lc_rs::digest;
use certgate_pki::{CertificationRequest, CsrError, ReasonCode, UnixTime};
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::authority::{
    common_name_for_display_name, BuiltInCa, DerivedFor, IssueRequest, IssuedForKey, IssuedRecord,
    ParentCertificate, PkiError, PkiSettings,
};
use crate::clock::{rfc3339, Clock};
use crate::directory::{User, UserId, UserStore};
use crate::signin::ValidCertificate;
use crate::store::{StoreError, StoreResult};

/// Validity of a new code unless the administrator says otherwise.
pub const DEFAULT_CODE_VALID_HOURS: u32 = 24;
/// A code is meant to be used while the administrator hands the device over, not to be kept.
pub const MAX_CODE_VALID_HOURS: u32 = 30 * 24;
/// Validity of a certificate issued over EST (as `certgate pki issue` defaults to).
pub const DEFAULT_EST_VALIDITY_DAYS: u32 = 365;

/// Crockford's base32 alphabet: no I, L, O, U, so a code read aloud or typed on a phone is
/// unambiguous.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 20 characters × 5 bits = 100 random bits.
const CODE_CHARS: usize = 20;
const GROUP_CHARS: usize = 5;

/// SHA-256 of a code's normalized text.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentCodeHash(pub [u8; 32]);

impl EnrollmentCodeHash {
    /// The hash of what a person typed: case, dashes and spaces do not matter, and the
    /// letters Crockford's base32 reads as digits (O → 0, I and L → 1) are read so. `None`
    /// when the text cannot be a code, so that no lookup is made for it.
    pub fn of_typed(text: &str) -> Option<EnrollmentCodeHash> {
        let mut normalized = Zeroizing::new(String::with_capacity(CODE_CHARS));
        for c in text.chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return None;
            }
            normalized.push(c);
        }
        (normalized.len() == CODE_CHARS).then(|| EnrollmentCodeHash::of_normalized(&normalized))
    }

    fn of_normalized(normalized: &str) -> EnrollmentCodeHash {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, normalized.as_bytes()).as_ref());
        EnrollmentCodeHash(out)
    }

    /// Constant-time comparison.
    pub fn matches(&self, other: &EnrollmentCodeHash) -> bool {
        constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

impl fmt::Debug for EnrollmentCodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnrollmentCodeHash(..)")
    }
}

/// A code's text (`XXXXX-XXXXX-XXXXX-XXXXX`), wiped from memory when dropped. Shown once.
pub struct EnrollmentCodeSecret(Zeroizing<String>);

impl EnrollmentCodeSecret {
    fn generate() -> Result<EnrollmentCodeSecret, EnrollmentError> {
        let mut random = Zeroizing::new([0u8; CODE_CHARS]);
        aws_lc_rs::rand::fill(&mut *random).map_err(|_| EnrollmentError::RandomnessUnavailable)?;
        let mut text = Zeroizing::new(String::with_capacity(CODE_CHARS + 3));
        for (i, byte) in random.iter().enumerate() {
            if i > 0 && i % GROUP_CHARS == 0 {
                text.push('-');
            }
            // 256 is a multiple of 32: taking the low five bits keeps every character equally
            // likely.
            text.push(char::from(ALPHABET[usize::from(byte & 0x1f)]));
        }
        Ok(EnrollmentCodeSecret(text))
    }

    /// The code's text, `XXXXX-XXXXX-XXXXX-XXXXX`, to show the administrator once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its SHA-256 (without the dashes), what the store keeps.
    pub fn hash(&self) -> EnrollmentCodeHash {
        let normalized: Zeroizing<String> =
            Zeroizing::new(self.0.chars().filter(|c| *c != '-').collect());
        EnrollmentCodeHash::of_normalized(&normalized)
    }
}

impl fmt::Debug for EnrollmentCodeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnrollmentCodeSecret(..)")
    }
}

/// A code's store-assigned number, to name it in lists and the audit log without the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnrollmentCodeId(pub i64);

impl fmt::Display for EnrollmentCodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "est-code-{}", self.0)
    }
}

/// An enrollment code as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrollmentCodeRecord {
    /// Assigned by the store; shown as `est-code-<n>`.
    pub id: EnrollmentCodeId,
    /// SHA-256 of the normalized code, the lookup key.
    pub hash: EnrollmentCodeHash,
    /// The user the code enrolls: by object ID, so a renamed user keeps the code.
    pub user_id: UserId,
    /// The UPN when the code was made (for lists; the directory has the current one).
    pub upn: String,
    /// When it was made.
    pub created_at: UnixTime,
    /// Who made it (the audit actor).
    pub created_by: String,
    /// The code is refused from this instant on.
    pub expires_at: UnixTime,
    /// When it was consumed; a code enrolls one certificate.
    pub used_at: Option<UnixTime>,
    /// Serial (hex) of the certificate issued with it.
    pub used_for_serial: Option<String>,
}

impl EnrollmentCodeRecord {
    /// Neither used nor expired at `now`.
    pub fn is_usable(&self, now: UnixTime) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// Why an enrollment code or an EST enrollment was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnrollmentError {
    /// No user has this UPN (when a code is made, or an enrollment names one).
    #[error("no user has the UPN \"{upn}\"; `certgate user list` shows the users")]
    UserNotFound {
        /// The UPN as given.
        upn: String,
    },
    /// The user is disabled (accountEnabled false): no code, no certificate.
    #[error(
        "the user {upn} is disabled; enable the account before enrolling a certificate for it"
    )]
    UserDisabled {
        /// The user's UPN.
        upn: String,
    },
    /// The code validity asked for is not 1 to [`MAX_CODE_VALID_HOURS`] hours.
    #[error("an enrollment code is valid for 1 to {MAX_CODE_VALID_HOURS} hours, not {hours}")]
    ValidityInvalid {
        /// The validity asked for.
        hours: u32,
    },
    /// `simpleenroll` without HTTP Basic credentials (HTTP 401).
    #[error("enrollment needs credentials: HTTP Basic with your user principal name as the user name and the enrollment code your administrator gave you as the password")]
    CredentialsMissing,
    /// The user name and code match no code of that user: unknown, mistyped or another user's (HTTP
    /// 401).
    #[error("the user name and enrollment code do not match a valid enrollment code; check both, or ask your administrator for a new code")]
    CodeInvalid,
    /// The code was already used (HTTP 401).
    #[error("this enrollment code was already used at {}; ask your administrator for a new one", rfc3339(*.at))]
    CodeUsed {
        /// When it was used.
        at: UnixTime,
    },
    /// The code expired before it was used (HTTP 401).
    #[error("this enrollment code expired at {}; ask your administrator for a new one", rfc3339(*.at))]
    CodeExpired {
        /// When it expired.
        at: UnixTime,
    },
    /// `simplereenroll` with a certificate another CA issued: only certgate's own can be renewed
    /// (RFC 7030 §4.2.2).
    #[error("re-enrollment renews a certificate certgate issued (RFC 7030 §4.2.2), and the presented certificate was issued by {issuer}; enroll with an enrollment code from your administrator instead")]
    ReenrollNotIssuedHere {
        /// The presented certificate's issuer DN (Windows form).
        issuer: String,
    },
    /// The CSR was refused: unreadable, too large, not signed by its own key (no proof of
    /// possession, RFC 7030 §3.4), or with a key or algorithm not accepted.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// The system's random generator failed while making a code.
    #[error("the system's random number generator failed; no code was made")]
    RandomnessUnavailable,
    /// The built-in CA refused or failed to issue.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EnrollmentError {
    /// Every code [`EnrollmentError::code`] answers with of its own. `user-not-found` is listed
    /// with [`DirectoryError`](crate::directory::DirectoryError), `user-disabled` with
    /// [`BindingError`](crate::binding::BindingError), `randomness-unavailable` with
    /// [`DirectoryError`](crate::directory::DirectoryError); CSR, PKI and store failures are
    /// their types' codes.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "est-code-validity-invalid",
            "An enrollment code is valid for 1 to 720 hours, and the validity asked for is outside that range; no code was made.",
            "Give a validity from 1 to 720 hours (`certgate est code --upn UPN --valid-hours 24`).",
        ),
        ReasonCode::new(
            "est-credentials-missing",
            "The EST enrollment request carried no HTTP Basic credentials (the UPN as user name, the enrollment code as password).",
            "Enroll with your user principal name as the user name and the enrollment code your administrator gave you as the password (for example `curl -u UPN:CODE`).",
        ),
        ReasonCode::new(
            "est-code-invalid",
            "The user name and enrollment code do not match a valid enrollment code: the code is unknown or mistyped, or it was made for another user.",
            "Check the user name and the code; if both are right, ask your administrator for a new code (`certgate est code`).",
        ),
        ReasonCode::new(
            "est-code-used",
            "The enrollment code was already used; a code enrolls one certificate.",
            "Ask your administrator for a new enrollment code (`certgate est code`).",
        ),
        ReasonCode::new(
            "est-code-expired",
            "The enrollment code's validity ended before it was used.",
            "Ask your administrator for a new enrollment code (`certgate est code`).",
        ),
        ReasonCode::new(
            "est-reenroll-not-issued-here",
            "EST re-enrollment (simplereenroll) renews only certificates certgate issued, and the presented certificate was issued by another CA.",
            "Enroll with an enrollment code instead (simpleenroll); ask your administrator for one (`certgate est code`).",
        ),
    ];

    /// The stable reason code: its own (listed in [`Self::CODES`]), or the CSR's, the CA's or the
    /// store's.
    pub fn code(&self) -> &'static str {
        match self {
            EnrollmentError::UserNotFound { .. } => "user-not-found",
            EnrollmentError::UserDisabled { .. } => "user-disabled",
            EnrollmentError::ValidityInvalid { .. } => "est-code-validity-invalid",
            EnrollmentError::CredentialsMissing => "est-credentials-missing",
            EnrollmentError::CodeInvalid => "est-code-invalid",
            EnrollmentError::CodeUsed { .. } => "est-code-used",
            EnrollmentError::CodeExpired { .. } => "est-code-expired",
            EnrollmentError::ReenrollNotIssuedHere { .. } => "est-reenroll-not-issued-here",
            EnrollmentError::Csr(error) => error.code(),
            EnrollmentError::RandomnessUnavailable => "randomness-unavailable",
            EnrollmentError::Pki(error) => error.code(),
            EnrollmentError::Store(error) => error.code(),
        }
    }

    /// Whether the caller failed to authenticate (HTTP 401), as opposed to being refused
    /// after authenticating or sending a bad request.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(
            self,
            EnrollmentError::CredentialsMissing
                | EnrollmentError::CodeInvalid
                | EnrollmentError::CodeUsed { .. }
                | EnrollmentError::CodeExpired { .. }
        )
    }
}

/// Where enrollment codes are kept. Writes append their audit event in the same transaction.
pub trait EnrollmentCodeStore: Send + Sync + 'static {
    /// Returns the record with its assigned id. `Conflict` when the hash exists (never, for
    /// random codes).
    fn insert_enrollment_code(
        &self,
        code: &EnrollmentCodeRecord,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<EnrollmentCodeRecord>> + Send;
    /// The code whose hash is `hash`, used, expired or not. The caller compares the hash again in
    /// constant time.
    fn enrollment_code_by_hash(
        &self,
        hash: &EnrollmentCodeHash,
    ) -> impl Future<Output = StoreResult<Option<EnrollmentCodeRecord>>> + Send;
    /// Codes neither used nor expired at `now`, oldest first.
    fn usable_enrollment_codes(
        &self,
        now: UnixTime,
    ) -> impl Future<Output = StoreResult<Vec<EnrollmentCodeRecord>>> + Send;
    /// Marks the code used at `at`, only if it is still unused and unexpired then: one
    /// compare-and-set, so of two concurrent callers exactly one gets `true`.
    fn consume_enrollment_code(
        &self,
        id: EnrollmentCodeId,
        at: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Records the serial of the certificate issued with a consumed code.
    fn record_enrollment_code_serial(
        &self,
        id: EnrollmentCodeId,
        serial_hex: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Makes a code for the user with `upn`; the secret returned is the only copy there will be.
pub async fn create_enrollment_code<S: EnrollmentCodeStore + UserStore>(
    store: &S,
    upn: &str,
    valid_hours: u32,
    now: UnixTime,
    actor: &str,
) -> Result<(EnrollmentCodeRecord, EnrollmentCodeSecret), EnrollmentError> {
    if valid_hours == 0 || valid_hours > MAX_CODE_VALID_HOURS {
        return Err(EnrollmentError::ValidityInvalid { hours: valid_hours });
    }
    let user =
        store
            .user_by_upn(upn.trim())
            .await?
            .ok_or_else(|| EnrollmentError::UserNotFound {
                upn: upn.to_owned(),
            })?;
    if !user.enabled {
        return Err(EnrollmentError::UserDisabled {
            upn: user.upn.to_string(),
        });
    }
    let secret = EnrollmentCodeSecret::generate()?;
    let record = EnrollmentCodeRecord {
        id: EnrollmentCodeId(0),
        hash: secret.hash(),
        user_id: user.id.clone(),
        upn: user.upn.to_string(),
        created_at: now,
        created_by: actor.to_owned(),
        expires_at: UnixTime(now.0 + i64::from(valid_hours) * 3600),
        used_at: None,
        used_for_serial: None,
    };
    let audit = AuditEvent::new(
        now,
        actor,
        "est.code-create",
        user.upn.to_string(),
        "ok",
        format!(
            "enrollment code for {} valid until {}",
            user.upn,
            rfc3339(record.expires_at)
        ),
    );
    let record = store.insert_enrollment_code(&record, &audit).await?;
    Ok((record, secret))
}

/// The codes that can still be used, without their secrets.
pub async fn usable_enrollment_codes<S: EnrollmentCodeStore>(
    store: &S,
    now: UnixTime,
) -> Result<Vec<EnrollmentCodeRecord>, EnrollmentError> {
    Ok(store.usable_enrollment_codes(now).await?)
}

/// How a certificate is enrolled: everything but the key comes from the directory's user.
/// The display name becomes the subject CN only when X.509 can carry it, else the UPN does:
/// the code is consumed before issuance, so a name the CA would refuse must not get that far.
fn issue_request(
    user: &User,
    validity_days: u32,
    parent: Option<ParentCertificate>,
) -> IssueRequest {
    IssueRequest {
        upn: user.upn.to_string(),
        email: user.mail.clone(),
        common_name: common_name_for_display_name(&user.display_name),
        validity_days,
        policy_oids: Vec::new(),
        // Not used for a requested key (see `BuiltInCa::issue_for_public_key`).
        key_algorithm: certgate_ca::KeyAlgorithm::EcdsaP256,
        parent,
    }
}

/// What an EST enrollment needs from the server.
pub struct Enrollment<'a, S, C> {
    /// Where users, codes and the CA's records are kept.
    pub store: &'a S,
    /// Where "now" comes from.
    pub clock: &'a C,
    /// The built-in CA's settings (passphrase, URLs, derived-certificate limit).
    pub pki: &'a PkiSettings,
    /// Validity of the certificates issued ([`DEFAULT_EST_VALIDITY_DAYS`] unless configured).
    pub validity_days: u32,
}

/// A certificate enrolled over EST.
#[derive(Debug)]
pub struct Enrolled {
    /// The user the certificate was issued to, from the directory.
    pub user: User,
    /// The certificate as recorded.
    pub issued: IssuedRecord,
    /// What the CSR asked for and was ignored, for the log: its subject (RFC 4514).
    pub ignored_subject: String,
}

impl<S, C> Enrollment<'_, S, C>
where
    S: Store + UserStore + EnrollmentCodeStore,
    C: Clock,
{
    /// `simpleenroll` (RFC 7030 §4.2.1) with an enrollment code: checks the CSR, the code and
    /// the user, consumes the code, and issues for the CSR's key with the user's directory
    /// identity. Every refusal is in the audit log.
    ///
    /// The CSR is checked before the code is consumed, so a bad request does not cost the
    /// code; the code is consumed before the certificate is issued, so that it is never
    /// used twice even when two nodes race (a failure after that point needs a new code).
    pub async fn with_code(
        &self,
        username: Option<&str>,
        code: Option<&str>,
        csr_der: &[u8],
    ) -> Result<Enrolled, EnrollmentError> {
        let now = self.clock.now();
        // The user name is the requester's text: bounded and without control characters before
        // it goes into the audit log.
        let shown_user: String = username
            .unwrap_or("(none)")
            .chars()
            .filter(|c| !c.is_control())
            .take(120)
            .collect();
        let actor = format!("est:{shown_user}");
        let result = self
            .enroll_with_code(username, code, csr_der, now, &actor)
            .await;
        if let Err(error) = &result {
            self.refused("est.enroll", &actor, &shown_user, error, now)
                .await;
        }
        result
    }

    async fn enroll_with_code(
        &self,
        username: Option<&str>,
        code: Option<&str>,
        csr_der: &[u8],
        now: UnixTime,
        actor: &str,
    ) -> Result<Enrolled, EnrollmentError> {
        let (Some(username), Some(code)) = (username, code) else {
            return Err(EnrollmentError::CredentialsMissing);
        };
        let hash = EnrollmentCodeHash::of_typed(code).ok_or(EnrollmentError::CodeInvalid)?;
        let record = self
            .store
            .enrollment_code_by_hash(&hash)
            .await?
            .filter(|record| record.hash.matches(&hash))
            .ok_or(EnrollmentError::CodeInvalid)?;
        let user = self
            .store
            .user_by_id(&record.user_id)
            .await?
            .ok_or(EnrollmentError::CodeInvalid)?;
        // A code and another user's name is no better than a wrong code: say nothing about
        // the code (used, expired) to someone who does not know whose it is.
        if !user.upn.as_str().eq_ignore_ascii_case(username.trim()) {
            return Err(EnrollmentError::CodeInvalid);
        }
        if let Some(at) = record.used_at {
            return Err(EnrollmentError::CodeUsed { at });
        }
        if now >= record.expires_at {
            return Err(EnrollmentError::CodeExpired {
                at: record.expires_at,
            });
        }
        if !user.enabled {
            return Err(EnrollmentError::UserDisabled {
                upn: user.upn.to_string(),
            });
        }
        let request = CertificationRequest::from_der(csr_der)?;
        // Everything the certificate will say is settled before the code is spent.
        let issue_request = issue_request(&user, self.validity_days, None);
        let consumed = self
            .store
            .consume_enrollment_code(
                record.id,
                now,
                &AuditEvent::new(
                    now,
                    actor,
                    "est.code-use",
                    user.upn.to_string(),
                    "ok",
                    format!("enrollment code {} used", record.id),
                ),
            )
            .await?;
        if !consumed {
            // Another request (on this node or another) took it between the read and now.
            return Err(EnrollmentError::CodeUsed { at: now });
        }
        let enrolled = self.issue(&user, &issue_request, &request, actor).await?;
        self.store
            .record_enrollment_code_serial(record.id, &crate::hex(&enrolled.issued.serial))
            .await?;
        Ok(enrolled)
    }

    /// `simplereenroll` (RFC 7030 §4.2.2) for a user whose current certificate has just
    /// signed in (the caller ran the certificate sign-in): renews `presented_der` with a
    /// certificate for the CSR's key and the user's directory identity, recorded as its child
    /// so that revoking it revokes the renewal. Only a certificate certgate issued (and has not
    /// revoked) can be renewed: one from another trusted CA signs in, but certgate has no
    /// certificate of its own to renew, and minting one from it would outlive its revocation
    /// at the other CA. Refusals are in the audit log.
    pub async fn renewal(
        &self,
        user: &User,
        presented: &ValidCertificate,
        csr_der: &[u8],
    ) -> Result<Enrolled, EnrollmentError> {
        let now = self.clock.now();
        let actor = format!("est:{}", user.upn);
        let result = async {
            // The same rule as every derivation (`BuiltInCa::derivation_parent`); a renewal
            // never derives from another CA's certificate.
            let parent = match BuiltInCa::new(self.store, self.clock, self.pki, &actor)
                .derivation_parent(presented, DerivedFor::Renewal)
                .await
            {
                Ok(parent) => parent,
                Err(PkiError::ParentNotIssuedHere { issuer }) => {
                    return Err(EnrollmentError::ReenrollNotIssuedHere { issuer })
                }
                Err(error) => return Err(error.into()),
            };
            let request = CertificationRequest::from_der(csr_der)?;
            let issue_request = issue_request(user, self.validity_days, Some(parent));
            self.issue(user, &issue_request, &request, &actor).await
        }
        .await;
        if let Err(error) = &result {
            self.refused("est.reenroll", &actor, user.upn.as_str(), error, now)
                .await;
        }
        result
    }

    async fn issue(
        &self,
        user: &User,
        issue_request: &IssueRequest,
        request: &CertificationRequest,
        actor: &str,
    ) -> Result<Enrolled, EnrollmentError> {
        let IssuedForKey { record, .. } = BuiltInCa::new(self.store, self.clock, self.pki, actor)
            .issue_for_public_key(issue_request, request.key())
            .await?;
        Ok(Enrolled {
            user: user.clone(),
            issued: record,
            ignored_subject: request.subject().to_rfc4514(),
        })
    }

    /// Best effort: a refusal stands whether or not the audit log could record it.
    async fn refused(
        &self,
        action: &str,
        actor: &str,
        target: &str,
        error: &EnrollmentError,
        now: UnixTime,
    ) {
        let event = AuditEvent::new(now, actor, action, target, error.code(), error.to_string());
        if let Err(store_error) = self.store.append_audit(&event).await {
            tracing::warn!(code = store_error.code(), %store_error, "recording an EST refusal failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_four_groups_of_five_unambiguous_characters_and_differ() {
        let a = EnrollmentCodeSecret::generate().expect("code");
        let b = EnrollmentCodeSecret::generate().expect("code");
        assert_ne!(a.expose(), b.expose());
        let groups: Vec<&str> = a.expose().split('-').collect();
        assert_eq!(groups.len(), 4);
        for group in groups {
            assert_eq!(group.len(), 5);
            assert!(group.bytes().all(|c| ALPHABET.contains(&c)), "{group}");
        }
        assert!(format!("{a:?}").contains(".."));
    }

    #[test]
    fn typed_codes_hash_alike_whatever_the_case_dashes_and_look_alike_letters() {
        let secret = EnrollmentCodeSecret(Zeroizing::new("01ABC-DEFGH-JKMNP-QRST1".into()));
        let hash = secret.hash();
        for typed in [
            "01ABC-DEFGH-JKMNP-QRST1",
            "01abcdefghjkmnpqrst1",
            "OLabc defgh jkmnp qrsti",
            " 01ABC-DEFGH-JKMNP-QRST1 ",
        ] {
            let typed_hash = EnrollmentCodeHash::of_typed(typed).expect(typed);
            assert!(typed_hash.matches(&hash), "{typed}");
        }
        for not_a_code in [
            "",
            "01ABC",
            "01ABC-DEFGH-JKMNP-QRST",
            "01ABC-DEFGH-JKMNP-QRSTU",
            "ümlaut",
        ] {
            assert!(
                EnrollmentCodeHash::of_typed(not_a_code).is_none(),
                "{not_a_code}"
            );
        }
    }

    #[test]
    fn authentication_failures_are_told_apart_from_other_refusals() {
        for error in [
            EnrollmentError::CredentialsMissing,
            EnrollmentError::CodeInvalid,
            EnrollmentError::CodeUsed { at: UnixTime(0) },
            EnrollmentError::CodeExpired { at: UnixTime(0) },
        ] {
            assert!(error.is_authentication_failure(), "{error}");
            assert!(error.code().starts_with("est-"));
        }
        let csr = EnrollmentError::Csr(CsrError::SignatureInvalid);
        assert!(!csr.is_authentication_failure());
        assert_eq!(csr.code(), "csr-signature-invalid");
        assert_eq!(
            EnrollmentError::UserDisabled { upn: "a@b".into() }.code(),
            "user-disabled"
        );
    }
}
