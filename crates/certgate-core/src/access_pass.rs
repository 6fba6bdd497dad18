//! The Temporary Access Pass: how a user who has no second factor yet gets their first one.
//!
//! A certificate proves one factor. If it alone could enroll an authenticator app, whoever
//! holds the certificate (a stolen one, a shared kiosk) would mint the second factor, and the
//! real user would then be refused when enrolling (`totp-already-enrolled`). So, as Entra ID
//! does with its Temporary Access Pass, the first enrollment needs a pass an administrator
//! issued (`certgate user access-pass create UPN`, `POST /users/{idOrUpn}/accessPasses`):
//!
//! - random, 130 bits, shown once in a typeable form (RFC 4648 base32 in groups of four), and
//!   stored only as its SHA-256 (a pass this long needs no slow hash: it cannot be guessed);
//! - time-limited (default 1 hour, between 10 minutes and 8 hours);
//! - one-time: redeeming is a compare-and-set in the store, so of two concurrent uses exactly
//!   one wins, even on two nodes;
//! - at most one per user: issuing a new one replaces the old;
//! - bounded: after [`MAX_FAILED_ATTEMPTS`] wrong passes the live one is void and the user needs
//!   a new one;
//! - every issue, redemption, refusal and reset is in the audit log.
//!
//! Redeeming binds to one sign-in flow (the web layer records it on the flow, not in a cookie);
//! the enrollment that follows can only be confirmed in that flow. The sign-in that enrolls
//! counts as multi-factor because of the pass (the administrator vouched for the person, as
//! Entra counts a TAP sign-in), never because of the enrollment itself.
//!
//! Users are named by their directory object ID; this module does not read the directory.

use std::future::Future;

use aws_lc_rs::digest;
use certgate_pki::{ReasonCode, UnixTime};
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::clock::{rfc3339, Clock};
use crate::store::{StoreError, StoreResult};

/// Default lifetime of a pass (Entra's default is one hour too).
pub const DEFAULT_LIFETIME_SECONDS: i64 = 3600;
/// Shortest lifetime: time enough to read the pass out over the phone and sign in.
pub const MIN_LIFETIME_SECONDS: i64 = 600;
/// Longest lifetime: one working day; a pass is for onboarding now, not a standing credential.
pub const MAX_LIFETIME_SECONDS: i64 = 8 * 3600;
/// Wrong passes after which the live pass is void. Guessing 130 bits is hopeless anyway; the
/// bound makes a typo-prone person ask again rather than let anyone keep trying.
pub const MAX_FAILED_ATTEMPTS: u32 = 5;

/// Random symbols in a pass: 26 × 5 bits = 130 bits.
const PASS_SYMBOLS: usize = 26;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A pass as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAccessPass {
    /// The user's directory object ID; one pass per user.
    pub user_id: String,
    /// SHA-256 of the normalized pass ([`pass_hash`]).
    pub pass_hash: Vec<u8>,
    /// When it was issued.
    pub created_at: UnixTime,
    /// After this instant it is refused (`access-pass-expired`).
    pub expires_at: UnixTime,
    /// Who issued it (`cli:<user>`, `api:<token>`).
    pub created_by: String,
    /// When it was redeemed; a redeemed pass is never accepted again.
    pub consumed_at: Option<UnixTime>,
    /// Wrong passes presented while this one was live.
    pub failed_attempts: u32,
}

/// What a reset removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecondFactorReset {
    /// The authenticator app (active or pending secret).
    pub authenticator_removed: bool,
    /// A pass not yet redeemed.
    pub access_pass_removed: bool,
}

/// Storage for access passes, keyed by the user's directory object ID: one row per user.
/// Every method is one transaction, and its audit event is written in it.
pub trait AccessPassStore: Send + Sync + 'static {
    /// The user's pass, live or not (absent when none was ever issued or it was reset).
    fn access_pass(
        &self,
        user_id: &str,
    ) -> impl Future<Output = StoreResult<Option<StoredAccessPass>>> + Send;

    /// Stores `pass` as the user's pass, replacing any earlier one.
    fn put_access_pass(
        &self,
        pass: &StoredAccessPass,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The compare-and-set of a redemption: marks the pass whose hash is `pass_hash` consumed
    /// at `now` if it is still unconsumed, unexpired at `now` and has fewer than
    /// `max_failed_attempts` failures. `true` for the one caller that changed it.
    fn consume_access_pass(
        &self,
        user_id: &str,
        pass_hash: &[u8],
        now: UnixTime,
        max_failed_attempts: u32,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Counts one wrong pass against the user's unconsumed pass (if any) and records `audit`.
    fn record_access_pass_failure(
        &self,
        user_id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Removes the user's authenticator secrets and pass in one transaction and records
    /// `audit` whatever there was.
    fn reset_second_factor(
        &self,
        user_id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<SecondFactorReset>> + Send;
}

/// A pass just issued: the only time its text exists outside the person's hands.
pub struct IssuedAccessPass {
    /// `XXXX-XXXX-…`, to hand to the user once.
    pub pass: Zeroizing<String>,
    /// When it was issued.
    pub created_at: UnixTime,
    /// When it stops working if not redeemed.
    pub expires_at: UnixTime,
}

impl std::fmt::Debug for IssuedAccessPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedAccessPass")
            .field("pass", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Whether the user has a pass they could redeem now (for the sign-in page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessPassStatus {
    /// When the live pass expires; `None` when there is none the user could redeem (none issued,
    /// used, expired or voided by wrong attempts).
    pub live_until: Option<UnixTime>,
}

/// Why a pass was not issued or not accepted. The messages are for the person signing in (or, for
/// the lifetime, the administrator).
#[derive(Debug, thiserror::Error)]
pub enum AccessPassError {
    /// The lifetime asked for is outside [`MIN_LIFETIME_SECONDS`]..=[`MAX_LIFETIME_SECONDS`]; no
    /// pass was issued.
    #[error("an access pass lives between {min} and {max} minutes; {asked} seconds was asked", min = MIN_LIFETIME_SECONDS / 60, max = MAX_LIFETIME_SECONDS / 60)]
    LifetimeOutOfRange {
        /// The lifetime asked for, in seconds.
        asked: i64,
    },
    /// The user has no live pass: none was issued, it was reset, or a wrong pass was given for one
    /// already redeemed.
    #[error("no Temporary Access Pass was issued for this account, or it was used or replaced; ask your administrator for a new one")]
    NotIssued,
    /// The pass given is not the user's; counts as a wrong attempt.
    #[error(
        "this is not the Temporary Access Pass issued for this account; check it and try again"
    )]
    Invalid,
    /// The right pass, presented after it expired.
    #[error("this Temporary Access Pass expired at {}; ask your administrator for a new one", rfc3339(*expired_at))]
    Expired {
        /// When it expired.
        expired_at: UnixTime,
    },
    /// The right pass, already redeemed: a pass works once.
    #[error("this Temporary Access Pass was already used; ask your administrator for a new one")]
    Used,
    /// [`MAX_FAILED_ATTEMPTS`] wrong passes were tried, so the live pass is void (also the answer
    /// to the attempt that reached the limit).
    #[error("too many wrong passes were tried; this Temporary Access Pass no longer works, ask your administrator for a new one")]
    LockedOut,
    /// The system's random generator failed while making a pass.
    #[error("the system's random number generator failed; no pass was issued")]
    RandomUnavailable,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccessPassError {
    /// Every code [`AccessPassError::code`] answers with (its store failures are
    /// [`StoreError::CODES`]).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "access-pass-lifetime-invalid",
            "A Temporary Access Pass lives between 10 minutes and 8 hours, and the lifetime asked for is outside that range; no pass was issued.",
            "Give a lifetime from 10m to 8h (`certgate user access-pass create USER --lifetime 1h`).",
        ),
        ReasonCode::new(
            "access-pass-not-issued",
            "No Temporary Access Pass is live for the account: none was issued, or it was used, replaced by a newer one or removed by a reset.",
            "Ask your administrator for a new Temporary Access Pass.",
        ),
        ReasonCode::new(
            "access-pass-invalid",
            "The pass entered is not the Temporary Access Pass issued for the account; it counts as a wrong attempt (5 wrong passes void the live pass).",
            "Check the pass and enter it again (case, spaces and dashes do not matter).",
        ),
        ReasonCode::new(
            "access-pass-expired",
            "The Temporary Access Pass's lifetime ended before it was redeemed.",
            "Ask your administrator for a new Temporary Access Pass.",
        ),
        ReasonCode::new(
            "access-pass-used",
            "The Temporary Access Pass was already redeemed; a pass works once.",
            "Ask your administrator for a new Temporary Access Pass.",
        ),
        ReasonCode::new(
            "access-pass-locked-out",
            "Too many wrong passes were tried for the account, so its live Temporary Access Pass no longer works.",
            "Ask your administrator for a new Temporary Access Pass.",
        ),
        ReasonCode::new(
            "access-pass-random-unavailable",
            "The system's random number generator failed, so no Temporary Access Pass was issued.",
            "Try again. Administrators: if it keeps failing, check the host's random number source; the server log has the error.",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`], or the store's).
    pub fn code(&self) -> &'static str {
        match self {
            AccessPassError::LifetimeOutOfRange { .. } => "access-pass-lifetime-invalid",
            AccessPassError::NotIssued => "access-pass-not-issued",
            AccessPassError::Invalid => "access-pass-invalid",
            AccessPassError::Expired { .. } => "access-pass-expired",
            AccessPassError::Used => "access-pass-used",
            AccessPassError::LockedOut => "access-pass-locked-out",
            AccessPassError::RandomUnavailable => "access-pass-random-unavailable",
            AccessPassError::Store(error) => error.code(),
        }
    }
}

/// The pass as compared: upper case, without the spaces and dashes people type.
fn normalize(presented: &str) -> String {
    presented
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// SHA-256 of the normalized pass, as stored.
pub fn pass_hash(presented: &str) -> Vec<u8> {
    let normalized = Zeroizing::new(normalize(presented));
    digest::digest(&digest::SHA256, normalized.as_bytes())
        .as_ref()
        .to_vec()
}

/// A new pass: 26 base32 symbols in groups of four.
fn new_pass() -> Option<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; PASS_SYMBOLS]);
    aws_lc_rs::rand::fill(&mut bytes[..]).ok()?;
    let mut pass = Zeroizing::new(String::with_capacity(PASS_SYMBOLS + PASS_SYMBOLS / 4));
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            pass.push('-');
        }
        // 256 is a multiple of 32: the low five bits of a uniform byte are uniform.
        pass.push(BASE32[usize::from(byte & 31)] as char);
    }
    Some(pass)
}

/// Parses a lifetime as people write it: `90m`, `1h`, `2h30m`, `3600s`, `3600`.
pub fn parse_lifetime(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let value: i64 = std::mem::take(&mut number).parse().ok()?;
        total = total.checked_add(value.checked_mul(unit)?)?;
    }
    number
        .is_empty()
        .then_some(total)
        .filter(|_| !text.is_empty())
}

/// The access pass service. `actor` names who acts in the audit log.
pub struct AccessPassService<'a, S, C> {
    store: &'a S,
    clock: &'a C,
    actor: &'a str,
}

impl<'a, S: AccessPassStore, C: Clock> AccessPassService<'a, S, C> {
    /// The service over `store` and `clock`; `actor` is recorded as the issuer of passes and in the
    /// audit events (`cli:<user>`, `api:<token>`, `server`).
    pub fn new(store: &'a S, clock: &'a C, actor: &'a str) -> Self {
        AccessPassService {
            store,
            clock,
            actor,
        }
    }

    /// Issues a pass for `user_id` (named `upn` in the log), replacing any earlier one.
    /// `lifetime_seconds`: `None` for [`DEFAULT_LIFETIME_SECONDS`].
    pub async fn create(
        &self,
        user_id: &str,
        upn: &str,
        lifetime_seconds: Option<i64>,
    ) -> Result<IssuedAccessPass, AccessPassError> {
        let lifetime = lifetime_seconds.unwrap_or(DEFAULT_LIFETIME_SECONDS);
        if !(MIN_LIFETIME_SECONDS..=MAX_LIFETIME_SECONDS).contains(&lifetime) {
            return Err(AccessPassError::LifetimeOutOfRange { asked: lifetime });
        }
        let pass = new_pass().ok_or(AccessPassError::RandomUnavailable)?;
        let now = self.clock.now();
        let expires_at = UnixTime(now.0 + lifetime);
        let audit = self.event(
            now,
            "access_pass.create",
            user_id,
            "ok",
            format!(
                "Temporary Access Pass issued for {upn}, one use, valid until {}; any earlier pass is void",
                rfc3339(expires_at)
            ),
        );
        self.store
            .put_access_pass(
                &StoredAccessPass {
                    user_id: user_id.to_owned(),
                    pass_hash: pass_hash(&pass),
                    created_at: now,
                    expires_at,
                    created_by: self.actor.to_owned(),
                    consumed_at: None,
                    failed_attempts: 0,
                },
                &audit,
            )
            .await?;
        Ok(IssuedAccessPass {
            pass,
            created_at: now,
            expires_at,
        })
    }

    /// Whether the user holds a pass they could redeem now.
    pub async fn status(&self, user_id: &str) -> Result<AccessPassStatus, AccessPassError> {
        let now = self.clock.now();
        let live_until = self
            .store
            .access_pass(user_id)
            .await?
            .filter(|pass| {
                pass.consumed_at.is_none()
                    && now < pass.expires_at
                    && pass.failed_attempts < MAX_FAILED_ATTEMPTS
            })
            .map(|pass| pass.expires_at);
        Ok(AccessPassStatus { live_until })
    }

    /// Redeems `presented` for `user_id` in the sign-in named `context` (its correlation ID,
    /// for the log). `Ok` exactly once per pass, across every node.
    pub async fn redeem(
        &self,
        user_id: &str,
        presented: &str,
        context: &str,
    ) -> Result<(), AccessPassError> {
        let now = self.clock.now();
        let stored = self.store.access_pass(user_id).await?;
        let Some(stored) = stored else {
            return Err(self
                .refuse(user_id, AccessPassError::NotIssued, context)
                .await);
        };
        let matches = aws_lc_rs::constant_time::verify_slices_are_equal(
            &pass_hash(presented),
            &stored.pass_hash,
        )
        .is_ok();
        let error = match () {
            _ if stored.consumed_at.is_some() && matches => AccessPassError::Used,
            _ if stored.consumed_at.is_some() => AccessPassError::NotIssued,
            _ if stored.failed_attempts >= MAX_FAILED_ATTEMPTS => AccessPassError::LockedOut,
            _ if !matches => {
                let locks = stored.failed_attempts + 1 >= MAX_FAILED_ATTEMPTS;
                let audit = self.event(
                    now,
                    "access_pass.redeem",
                    user_id,
                    AccessPassError::Invalid.code(),
                    format!(
                        "a wrong Temporary Access Pass was presented (sign-in {context}); {}",
                        if locks {
                            "the limit of wrong passes is reached: the live pass is void".to_owned()
                        } else {
                            format!(
                                "{} more wrong passes void the live one",
                                MAX_FAILED_ATTEMPTS - stored.failed_attempts - 1
                            )
                        }
                    ),
                );
                self.store
                    .record_access_pass_failure(user_id, &audit)
                    .await?;
                return Err(if locks {
                    AccessPassError::LockedOut
                } else {
                    AccessPassError::Invalid
                });
            }
            _ if now >= stored.expires_at => AccessPassError::Expired {
                expired_at: stored.expires_at,
            },
            _ => {
                let audit = self.event(
                    now,
                    "access_pass.redeem",
                    user_id,
                    "ok",
                    format!(
                        "Temporary Access Pass issued by {} at {} redeemed (sign-in {context}); the enrollment of an authenticator may follow in that sign-in only",
                        stored.created_by,
                        rfc3339(stored.created_at)
                    ),
                );
                if self
                    .store
                    .consume_access_pass(
                        user_id,
                        &stored.pass_hash,
                        now,
                        MAX_FAILED_ATTEMPTS,
                        &audit,
                    )
                    .await?
                {
                    return Ok(());
                }
                // Another redemption (or a reset, or a new pass) came in between.
                AccessPassError::Used
            }
        };
        Err(self.refuse(user_id, error, context).await)
    }

    /// Removes the user's authenticator and any pass (an administrator's reset: a lost phone).
    pub async fn reset_second_factor(
        &self,
        user_id: &str,
        upn: &str,
    ) -> Result<SecondFactorReset, AccessPassError> {
        let audit = self.event(
            self.clock.now(),
            "second_factor.reset",
            user_id,
            "ok",
            format!(
                "second factor of {upn} reset: the authenticator app and any Temporary Access Pass are removed; enrolling again needs a new pass"
            ),
        );
        Ok(self.store.reset_second_factor(user_id, &audit).await?)
    }

    /// Audits a refusal that changes nothing, and returns it.
    async fn refuse(
        &self,
        user_id: &str,
        error: AccessPassError,
        context: &str,
    ) -> AccessPassError {
        let audit = self.event(
            self.clock.now(),
            "access_pass.redeem",
            user_id,
            error.code(),
            format!("Temporary Access Pass refused (sign-in {context}): {error}"),
        );
        if let Err(store) = self.store.record_access_pass_failure(user_id, &audit).await {
            return store.into();
        }
        error
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_130_bit_base32_in_groups_and_differ() {
        let a = new_pass().expect("randomness");
        let b = new_pass().expect("randomness");
        assert_ne!(*a, *b);
        let symbols = normalize(&a);
        assert_eq!(symbols.len(), PASS_SYMBOLS);
        assert!(symbols.bytes().all(|c| BASE32.contains(&c)));
        assert_eq!(a.split('-').count(), 7);
    }

    #[test]
    fn the_hash_ignores_case_spaces_and_dashes() {
        assert_eq!(pass_hash("ABCD-EFGH"), pass_hash(" abcd efgh "));
        assert_ne!(pass_hash("ABCD-EFGH"), pass_hash("ABCD-EFGX"));
        assert_eq!(pass_hash("x").len(), 32);
    }

    #[test]
    fn lifetimes_read_as_people_write_them() {
        assert_eq!(parse_lifetime("1h"), Some(3600));
        assert_eq!(parse_lifetime("90m"), Some(5400));
        assert_eq!(parse_lifetime("2h30m"), Some(9000));
        assert_eq!(parse_lifetime("600"), Some(600));
        assert_eq!(parse_lifetime("600s"), Some(600));
        assert_eq!(parse_lifetime("1d"), None);
        assert_eq!(parse_lifetime("h"), None);
        assert_eq!(parse_lifetime("1h5"), None);
        assert_eq!(parse_lifetime(""), None);
    }
}
