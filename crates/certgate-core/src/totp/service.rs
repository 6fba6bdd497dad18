//! The TOTP store port and the service the sign-in pages call.
//!
//! The store keeps at most two secrets per user: the active one (confirmed, used at sign-in)
//! and a pending one (shown on the enrollment page, not yet proven). A pending secret becomes
//! the active one, replacing the old, only when a code from it has been accepted; until then
//! the old one keeps working. Secrets are sealed at rest under a key derived from certgate's
//! key passphrase once per process ([`TotpSealing`], AES-256-GCM): the store only ever sees
//! ciphertext, and the service seals and opens. Secrets sealed in the first format (a PBKDF2
//! per secret) are re-sealed in the current one on their next successful use.
//!
//! Concurrency: every change is a compare-and-set on the secret's row id and revision (the
//! revision grows by one with every write), so two verifications racing on two nodes cannot
//! both accept a code: one write applies, the other finds the revision moved, reads again
//! and is judged against the new state (`totp-replayed`). Row ids are never reused, so a
//! secret replaced in between can never be mistaken for the one that was read.

use std::future::Future;

use std::sync::Arc;

use certgate_pki::{ReasonCode, UnixTime};
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::clock::{rfc3339, Clock};
use crate::store::{StoreError, StoreResult};

use super::enrollment::{otpauth_uri, qr_svg};
use super::sealing::{is_current_format, TotpSealing, TotpSealingKey};
use super::secret::{Digits, RandomUnavailable, TotpAlgorithm, TotpSecret};
use super::verification::{verify, TotpCounters, TotpError, TotpPolicy, TotpState, Verified};

/// How often a verification re-reads and retries after losing a compare-and-set race.
/// Each retry means another node changed the same user's secret in between; eight in a row
/// is not contention from one person signing in.
const MAX_RACE_RETRIES: usize = 8;

/// Longest issuer or account name put in an otpauth URI: long enough for any UPN (Entra
/// allows 113 characters before the domain) and short enough that the QR code always fits.
const MAX_LABEL_CHARS: usize = 256;

/// A stored secret's row id. Never reused, so it names one secret for its whole life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TotpSecretId(pub i64);

/// Which of a user's two secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TotpSlot {
    /// Confirmed; the one sign-in checks.
    Active,
    /// Shown on the enrollment page and not yet confirmed.
    Pending,
}

impl TotpSlot {
    /// The slot's name in the store: `active` or `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            TotpSlot::Active => "active",
            TotpSlot::Pending => "pending",
        }
    }

    /// Reads the name [`as_str`](Self::as_str) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(TotpSlot::Active),
            "pending" => Some(TotpSlot::Pending),
            _ => None,
        }
    }
}

/// A secret as the store holds it: sealed, with its verification counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTotpSecret {
    /// The row id; never reused.
    pub id: TotpSecretId,
    /// The owner's directory object ID.
    pub user_id: String,
    /// Active or pending.
    pub slot: TotpSlot,
    /// The raw key sealed by [`TotpSealing`] (or, for secrets from before it, by
    /// `certgate_ca::sealed_key`).
    pub sealed_secret: Vec<u8>,
    /// The HMAC its codes use.
    pub algorithm: TotpAlgorithm,
    /// How many digits its codes have.
    pub digits: Digits,
    /// Replay and lockout state, as of `revision`.
    pub counters: TotpCounters,
    /// Grows by one with every write; what the compare-and-set compares.
    pub revision: i64,
    /// When it was stored (for a pending secret: when the enrollment started).
    pub created_at: UnixTime,
    /// When it was last written (a verification, a confirmation).
    pub updated_at: UnixTime,
}

/// A secret to store as the user's pending one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTotpSecret {
    /// The raw key sealed by [`TotpSealing`]; the service seals, never the store.
    pub sealed_secret: Vec<u8>,
    /// The HMAC its codes use.
    pub algorithm: TotpAlgorithm,
    /// How many digits its codes have.
    pub digits: Digits,
}

/// A user's secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TotpSecrets {
    /// The confirmed secret sign-in checks, if any.
    pub active: Option<StoredTotpSecret>,
    /// A started, unconfirmed enrollment, if any.
    pub pending: Option<StoredTotpSecret>,
}

impl TotpSecrets {
    /// The secret in `slot`, if there is one.
    pub fn slot(&self, slot: TotpSlot) -> Option<&StoredTotpSecret> {
        match slot {
            TotpSlot::Active => self.active.as_ref(),
            TotpSlot::Pending => self.pending.as_ref(),
        }
    }
}

/// Whether a compare-and-set applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapOutcome {
    /// The revision matched; the new counters (and, for a confirmation, the slot change) were
    /// written.
    Applied,
    /// The secret changed (or went) since it was read; nothing was written.
    Stale,
}

/// Storage for TOTP secrets, keyed by the user's directory object ID. Every method is one
/// transaction; an audit event passed in is written in the same transaction as the change it
/// records, so the log has it exactly when the change happened.
pub trait TotpStore: Send + Sync + 'static {
    /// The user's active and pending secrets (both absent when the user never enrolled).
    fn totp_secrets(&self, user_id: &str) -> impl Future<Output = StoreResult<TotpSecrets>> + Send;

    /// Stores `secret` as the user's pending secret, replacing any pending one; the active
    /// one is untouched.
    fn put_pending_totp(
        &self,
        user_id: &str,
        secret: &NewTotpSecret,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<StoredTotpSecret>> + Send;

    /// Sets the counters of secret `id` if its revision is still `expected_revision`.
    fn update_totp_counters(
        &self,
        user_id: &str,
        id: TotpSecretId,
        expected_revision: i64,
        counters: &TotpCounters,
        now: UnixTime,
        audit: Option<&AuditEvent>,
    ) -> impl Future<Output = StoreResult<SwapOutcome>> + Send;

    /// Like `update_totp_counters` on the pending secret `id`, and when it applies the
    /// pending secret becomes the active one and the previous active one is deleted.
    fn confirm_pending_totp(
        &self,
        user_id: &str,
        id: TotpSecretId,
        expected_revision: i64,
        counters: &TotpCounters,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<SwapOutcome>> + Send;

    /// Deletes both of the user's secrets (a lost phone, a user removed). `true` when there
    /// was something to delete; the audit event is written only then.
    fn delete_totp(
        &self,
        user_id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Replaces the sealed bytes of secret `id` (the same key, sealed in the current format)
    /// if its revision is still `expected_revision`, growing the revision.
    fn reseal_totp(
        &self,
        user_id: &str,
        id: TotpSecretId,
        expected_revision: i64,
        sealed_secret: &[u8],
        now: UnixTime,
    ) -> impl Future<Output = StoreResult<SwapOutcome>> + Send;

    /// The deployment's salt for the TOTP sealing key: `candidate` is stored by the first
    /// call ever, and every later call, on any node, returns what was stored.
    fn totp_sealing_salt(
        &self,
        candidate: &[u8],
    ) -> impl Future<Output = StoreResult<Vec<u8>>> + Send;
}

/// The deployment's TOTP sealing keys: its salt from `store` (made on first use), and the
/// key derived from `passphrase` with it, once. Runs PBKDF2 (~22 ms of CPU) on the calling
/// thread: call it at start, not per request.
pub async fn open_sealing<S: TotpStore>(
    store: &S,
    passphrase: &[u8],
) -> Result<TotpSealing, TotpServiceError> {
    let sealing_error = |e: super::sealing::SealError| TotpServiceError::Sealing {
        detail: e.to_string(),
    };
    let candidate = TotpSealingKey::random_salt().map_err(sealing_error)?;
    let salt = store.totp_sealing_salt(&candidate).await?;
    TotpSealing::derive(passphrase, &salt).map_err(sealing_error)
}

/// How the TOTP service runs.
#[derive(Clone)]
pub struct TotpSettings {
    /// The issuer shown in authenticator apps ("Contoso").
    pub issuer: String,
    /// Seals secrets at rest: derived from certgate's key passphrase once, at start
    /// ([`open_sealing`]).
    pub sealing: Arc<TotpSealing>,
    /// Lockout rules for code checks.
    pub policy: TotpPolicy,
    /// For new enrollments. SHA-1 by default: some apps (Google Authenticator among them)
    /// ignore the URI's `algorithm` and always compute SHA-1 codes.
    pub algorithm: TotpAlgorithm,
}

impl TotpSettings {
    /// Settings for `issuer` with the default [`TotpPolicy`] and SHA-1 for new secrets.
    pub fn new(issuer: impl Into<String>, sealing: Arc<TotpSealing>) -> Self {
        TotpSettings {
            issuer: issuer.into(),
            sealing,
            policy: TotpPolicy::default(),
            algorithm: TotpAlgorithm::Sha1,
        }
    }
}

/// What to do when the user already has a confirmed secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenEnrolled {
    /// Refuse with `totp-already-enrolled`: for a session proven by the certificate only.
    Refuse,
    /// Start a replacement; the current secret keeps working until the new one is
    /// confirmed. Only for a session that already passed the second factor, or an
    /// administrator: otherwise a stolen certificate could enroll its own authenticator.
    ReplaceOnConfirmation,
}

/// A started enrollment: what the enrollment page shows.
pub struct Enrollment {
    /// The new key and its parameters (`Debug` never prints the key).
    pub secret: TotpSecret,
    /// For apps on the same device, and for the QR code.
    pub otpauth_uri: Zeroizing<String>,
    /// The QR code, an `<svg>` element to inline in the page.
    pub qr_svg: String,
}

impl Enrollment {
    /// The key as people type it into an app that cannot scan.
    pub fn secret_base32(&self) -> Zeroizing<String> {
        self.secret.to_base32()
    }
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrollment")
            .field("secret", &self.secret)
            .field("otpauth_uri", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A user's TOTP state, for deciding what page to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TotpStatus {
    /// A confirmed secret exists: sign-in asks for a code.
    pub enrolled: bool,
    /// An enrollment was started and not confirmed.
    pub pending_since: Option<UnixTime>,
    /// The active secret's lockout, while it lasts.
    pub locked_until: Option<UnixTime>,
}

/// Why a TOTP operation failed: a refused code, or something the person cannot fix.
#[derive(Debug, thiserror::Error)]
pub enum TotpServiceError {
    /// A code was checked and refused.
    #[error(transparent)]
    Refused(#[from] TotpError),
    /// The user already has a confirmed secret and [`WhenEnrolled::Refuse`] was asked for.
    #[error("an authenticator app is already set up for this account; to replace it, sign in with it first, or ask your administrator to reset it")]
    AlreadyEnrolled,
    /// The issuer or the account name does not fit in an otpauth URI and its QR code.
    #[error("the issuer or account name is longer than {MAX_LABEL_CHARS} characters, too long for an authenticator app")]
    LabelTooLong,
    /// The stored secret does not open with the configured passphrase (another passphrase, or a
    /// damaged row).
    #[error("the stored authenticator secret of user {user_id} cannot be opened: the configured key passphrase is not the one it was sealed with, or the record is damaged")]
    SecretUnreadable {
        /// The user's directory object ID.
        user_id: String,
    },
    /// Sealing a new secret failed (an empty passphrase, for one); nothing was stored.
    #[error("sealing the authenticator secret failed: {detail}")]
    Sealing {
        /// What `certgate_ca::sealed_key` said, for the server log.
        detail: String,
    },
    /// The system's random generator failed while making a secret.
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
    /// Lost the compare-and-set race more than eight times in a row; the code was not accepted.
    #[error("the authenticator secret of user {user_id} kept changing while it was checked (more than {MAX_RACE_RETRIES} concurrent changes); try again")]
    Contended {
        /// The user's directory object ID.
        user_id: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TotpServiceError {
    /// Every code [`TotpServiceError::code`] answers with of its own (a refused code is one of
    /// [`TotpError::CODES`], a store failure one of [`StoreError::CODES`]).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "totp-already-enrolled",
            "An authenticator app is already set up for the account, and a session proven by the certificate alone may not replace it (a stolen certificate could otherwise enroll its own).",
            "To replace the app, sign in with its code first; if the phone is lost, ask your administrator to reset it (`certgate user reset-second-factor`).",
        ),
        ReasonCode::new(
            "totp-label-too-long",
            "The issuer name (`[web] organization`) or the account name (the UPN) is longer than 256 characters, or too long for a QR code; no authenticator secret was made.",
            "Administrators: shorten `[web] organization` in certgate.toml (or the user's UPN) and start the enrollment again.",
        ),
        ReasonCode::new(
            "totp-secret-unreadable",
            "The user's stored authenticator secret cannot be opened: the configured key passphrase is not the one it was sealed with, or the record is damaged.",
            "Administrators: configure the passphrase the secrets were sealed with (CERTGATE_CA_KEY_PASSPHRASE or `ca_key_passphrase`) on every node; if it is lost, reset the user's authenticator (`certgate user reset-second-factor`).",
        ),
        ReasonCode::new(
            "totp-sealing-failed",
            "A new authenticator secret could not be sealed with the key passphrase (for example, the configured passphrase is empty); nothing was stored.",
            "Administrators: set a non-empty CERTGATE_CA_KEY_PASSPHRASE (or `ca_key_passphrase`) and restart; the server log has the detail.",
        ),
        ReasonCode::new(
            "totp-random-unavailable",
            "The system's random number generator failed, so no authenticator secret could be generated; nothing was stored.",
            "Try again. Administrators: if it keeps failing, check the host's random number source; the server log has the error.",
        ),
        ReasonCode::new(
            "totp-contended",
            "The user's authenticator secret kept changing while the code was checked (more than 8 concurrent changes); the code was not accepted.",
            "Wait for your authenticator app to show a new code and try again.",
        ),
    ];

    /// The stable reason code: its own (listed in [`Self::CODES`]), or the refused code's or the
    /// store's.
    pub fn code(&self) -> &'static str {
        match self {
            TotpServiceError::Refused(error) => error.code(),
            TotpServiceError::AlreadyEnrolled => "totp-already-enrolled",
            TotpServiceError::LabelTooLong => "totp-label-too-long",
            TotpServiceError::SecretUnreadable { .. } => "totp-secret-unreadable",
            TotpServiceError::Sealing { .. } => "totp-sealing-failed",
            TotpServiceError::Random(_) => "totp-random-unavailable",
            TotpServiceError::Contended { .. } => "totp-contended",
            TotpServiceError::Store(error) => error.code(),
        }
    }
}

/// The TOTP service. `actor` names who acts in the audit log (`server`, `cli:<user>`).
pub struct TotpService<'a, S, C> {
    store: &'a S,
    clock: &'a C,
    settings: &'a TotpSettings,
    actor: &'a str,
}

impl<'a, S: TotpStore, C: Clock> TotpService<'a, S, C> {
    /// A service over `store` and `clock`; `actor` is recorded in the audit events it writes.
    pub fn new(store: &'a S, clock: &'a C, settings: &'a TotpSettings, actor: &'a str) -> Self {
        TotpService {
            store,
            clock,
            settings,
            actor,
        }
    }

    /// The user's enrollment and lockout state at the clock's now (`locked_until` only while the
    /// lockout lasts).
    pub async fn status(&self, user_id: &str) -> Result<TotpStatus, TotpServiceError> {
        let secrets = self.store.totp_secrets(user_id).await?;
        let now = self.clock.now();
        Ok(TotpStatus {
            enrolled: secrets.active.is_some(),
            pending_since: secrets.pending.as_ref().map(|p| p.created_at),
            locked_until: secrets
                .active
                .as_ref()
                .and_then(|a| a.counters.locked_until)
                .filter(|until| now < *until),
        })
    }

    /// Generates a secret, stores it sealed as the user's pending secret (replacing any
    /// earlier unconfirmed one) and returns what the enrollment page shows. `account` is the
    /// name shown in the app, the UPN.
    pub async fn begin_enrollment(
        &self,
        user_id: &str,
        account: &str,
        when_enrolled: WhenEnrolled,
    ) -> Result<Enrollment, TotpServiceError> {
        if [&self.settings.issuer, account]
            .iter()
            .any(|label| label.chars().count() > MAX_LABEL_CHARS)
        {
            return Err(TotpServiceError::LabelTooLong);
        }
        if when_enrolled == WhenEnrolled::Refuse
            && self.store.totp_secrets(user_id).await?.active.is_some()
        {
            return Err(TotpServiceError::AlreadyEnrolled);
        }
        let secret = TotpSecret::generate(self.settings.algorithm)?;
        let uri = Zeroizing::new(otpauth_uri(&secret, &self.settings.issuer, account));
        // The labels are bounded above, so the URI (at most ~9 KB percent-encoded) only fails
        // to fit for names made of multi-byte characters; say so rather than panic.
        let qr_svg = qr_svg(&uri).ok_or(TotpServiceError::LabelTooLong)?;
        let sealed = self
            .settings
            .sealing
            .current()
            .seal(secret.key())
            .map_err(|e| TotpServiceError::Sealing {
                detail: e.to_string(),
            })?;
        let now = self.clock.now();
        let audit = self.event(
            now,
            "totp.enroll",
            user_id,
            "ok",
            format!(
                "authenticator enrollment started for {account} ({}, {} digits); pending until a code confirms it",
                secret.algorithm().as_str(),
                secret.digits().count()
            ),
        );
        self.store
            .put_pending_totp(
                user_id,
                &NewTotpSecret {
                    sealed_secret: sealed,
                    algorithm: secret.algorithm(),
                    digits: secret.digits(),
                },
                now,
                &audit,
            )
            .await?;
        Ok(Enrollment {
            secret,
            otpauth_uri: uri,
            qr_svg,
        })
    }

    /// Checks a code from the pending secret; on success it becomes the active secret.
    /// `totp-not-enrolled` when no enrollment was started.
    pub async fn confirm_enrollment(
        &self,
        user_id: &str,
        code: &str,
    ) -> Result<Verified, TotpServiceError> {
        self.check(user_id, TotpSlot::Pending, code).await
    }

    /// Checks a sign-in code against the active secret.
    pub async fn verify(&self, user_id: &str, code: &str) -> Result<Verified, TotpServiceError> {
        self.check(user_id, TotpSlot::Active, code).await
    }

    /// Removes the user's secrets (an administrator's reset). `true` when there were any.
    pub async fn reset(&self, user_id: &str) -> Result<bool, TotpServiceError> {
        let audit = self.event(
            self.clock.now(),
            "totp.reset",
            user_id,
            "ok",
            "authenticator secrets removed; the user must enroll again",
        );
        Ok(self.store.delete_totp(user_id, &audit).await?)
    }

    async fn check(
        &self,
        user_id: &str,
        slot: TotpSlot,
        code: &str,
    ) -> Result<Verified, TotpServiceError> {
        // The opened secret, kept across retries: a row id's key never changes (a re-seal
        // changes only how it is sealed). `true` with it: sealed in the first format.
        let mut opened: Option<(TotpSecretId, TotpSecret, bool)> = None;
        for _ in 0..MAX_RACE_RETRIES {
            let secrets = self.store.totp_secrets(user_id).await?;
            let stored = match (slot, &opened) {
                // A concurrent confirmation promoted the pending secret being checked: judge
                // the code against it as the active secret it now is (`totp-replayed` for the
                // same code) rather than report that no enrollment is pending.
                (TotpSlot::Pending, Some((id, ..))) if secrets.pending.is_none() => {
                    secrets.active.as_ref().filter(|active| active.id == *id)
                }
                _ => secrets.slot(slot),
            }
            .ok_or(TotpError::NotEnrolled)?;
            let (secret, legacy) = match opened.take() {
                Some((id, secret, legacy)) if id == stored.id => (secret, legacy),
                _ => self.open(stored)?,
            };
            let state =
                TotpState::with_counters(secret, stored.slot == TotpSlot::Active, stored.counters);
            let now = self.clock.now();
            let (result, next) = verify(&state, code, now, &self.settings.policy);
            if let Err(error) = &result {
                if next.counters() == state.counters() {
                    // Locked out or malformed: nothing to record.
                    return Err(error.clone().into());
                }
            }
            let newly_locked = next.locked_until != state.locked_until;
            let outcome = match (&result, stored.slot) {
                (Ok(verified), TotpSlot::Pending) => {
                    let audit = self.event(
                        now,
                        "totp.confirm",
                        user_id,
                        "ok",
                        format!(
                            "authenticator confirmed with the code of step {}{}",
                            verified.step,
                            if secrets.active.is_some() {
                                "; it replaces the previous one"
                            } else {
                                ""
                            }
                        ),
                    );
                    self.store
                        .confirm_pending_totp(
                            user_id,
                            stored.id,
                            stored.revision,
                            &next.counters(),
                            now,
                            &audit,
                        )
                        .await?
                }
                _ => {
                    let audit = match (&result, newly_locked) {
                        (Err(error @ TotpError::LockedOut { until }), true) => Some(self.event(
                            now,
                            "totp.lockout",
                            user_id,
                            error.code(),
                            format!(
                                "{} consecutive failed codes on the {} authenticator secret; codes are refused until {}",
                                next.failures,
                                stored.slot.as_str(),
                                rfc3339(*until)
                            ),
                        )),
                        _ => None,
                    };
                    self.store
                        .update_totp_counters(
                            user_id,
                            stored.id,
                            stored.revision,
                            &next.counters(),
                            now,
                            audit.as_ref(),
                        )
                        .await?
                }
            };
            match outcome {
                SwapOutcome::Applied => {
                    if legacy && result.is_ok() {
                        self.reseal(user_id, stored, &next.secret, now).await;
                    }
                    return result.map_err(Into::into);
                }
                SwapOutcome::Stale => opened = Some((stored.id, next.secret, legacy)),
            }
        }
        Err(TotpServiceError::Contended {
            user_id: user_id.to_owned(),
        })
    }

    /// The stored secret, and whether it is sealed in the first format. A current-format
    /// secret opens with the derived key alone; only a first-format one costs a PBKDF2.
    fn open(&self, stored: &StoredTotpSecret) -> Result<(TotpSecret, bool), TotpServiceError> {
        let unreadable = || TotpServiceError::SecretUnreadable {
            user_id: stored.user_id.clone(),
        };
        let sealing = &self.settings.sealing;
        let legacy = !is_current_format(&stored.sealed_secret);
        let key = if legacy {
            sealing.legacy().open(&stored.sealed_secret)
        } else {
            sealing.current().open(&stored.sealed_secret)
        }
        .map_err(|_| unreadable())?;
        let secret =
            TotpSecret::from_key(&key, stored.algorithm, stored.digits).ok_or_else(unreadable)?;
        Ok((secret, legacy))
    }

    /// Seals a first-format secret in the current format after a code from it was
    /// accepted (the write just made grew its revision by one). Best effort: the code stays
    /// accepted whatever happens, and a secret not re-sealed now is on its next use.
    async fn reseal(
        &self,
        user_id: &str,
        stored: &StoredTotpSecret,
        secret: &TotpSecret,
        now: UnixTime,
    ) {
        let sealed = match self.settings.sealing.current().seal(secret.key()) {
            Ok(sealed) => sealed,
            Err(error) => {
                tracing::warn!(user_id, %error, "re-sealing an authenticator secret failed");
                return;
            }
        };
        let revision = stored.revision + 1;
        match self
            .store
            .reseal_totp(user_id, stored.id, revision, &sealed, now)
            .await
        {
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(user_id, code = error.code(), %error, "re-sealing an authenticator secret failed")
            }
        }
    }

    fn event(
        &self,
        at: UnixTime,
        action: &str,
        user_id: &str,
        outcome: &str,
        detail: impl Into<String>,
    ) -> AuditEvent {
        AuditEvent::new(at, self.actor, action, user_id, outcome, detail)
    }
}
