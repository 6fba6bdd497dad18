//! The domain password as a factor after the certificate ("certificate plus domain password",
//! what the mobile mail clients offer): the person types their Active Directory password, and
//! the directory checks it by a bind as that user. certgate never stores, logs or compares the
//! password itself.
//!
//! - [`DomainPassword`]: the typed password, refused before anything is sent when it is empty
//!   (an LDAP simple bind with an empty password is an *unauthenticated* bind that succeeds,
//!   RFC 4513 §5.1.2 — the classic bypass), holds a NUL, or is over [`MAX_PASSWORD_BYTES`].
//!   Zeroized when dropped; its `Debug` shows nothing of it.
//! - [`DomainPasswordVerifier`]: the port (LDAP lives in certgate-ldap).
//! - [`DomainPasswordError`]: every way the check fails, each with its stable code.
//! - [`bind_refusal`]: Active Directory's invalidCredentials (49) diagnostic message (`…,
//!   data 52e, …`) read as the reason it carries.
//! - [`LockoutPolicy`]: certgate's own lockout after failed passwords, pure rules over one
//!   user's [`LockoutState`] with the same policy as the one-time code's (5 failures, 15
//!   minutes). The state lives in the store ([`DomainPasswordLockoutStore`]), shared by every
//!   node and kept across restarts; the caller loads it, asks the policy, and writes the
//!   answer back with a compare-and-set.

use std::future::Future;
use std::num::NonZeroU32;

use certgate_pki::{ReasonCode, UnixTime};
use zeroize::Zeroizing;

use crate::clock::rfc3339;
use crate::store::StoreResult;
use crate::totp::SwapOutcome;

/// The longest password certgate sends to the directory. AD's own limit is 256 characters
/// (512 bytes of UTF-16); anything longer is not a password anyone types.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A password as typed, for one bind. Never printed, never stored.
pub struct DomainPassword(Zeroizing<String>);

impl DomainPassword {
    /// Takes the typed password; refused when it is empty (an empty simple bind would be an
    /// unauthenticated bind that "succeeds", RFC 4513 §5.1.2), holds a NUL (a C library on the
    /// way may cut it there), or is longer than [`MAX_PASSWORD_BYTES`].
    pub fn new(typed: String) -> Result<DomainPassword, DomainPasswordError> {
        let typed = Zeroizing::new(typed);
        if typed.is_empty() {
            return Err(DomainPasswordError::Empty);
        }
        if typed.len() > MAX_PASSWORD_BYTES || typed.contains('\0') {
            return Err(DomainPasswordError::Unusable);
        }
        Ok(DomainPassword(typed))
    }

    /// The password, for the bind only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DomainPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DomainPassword(<redacted>)")
    }
}

/// Whose password is checked: the user certgate signed in with the certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainAccount {
    /// The user's UPN: Active Directory accepts it as the bind name.
    pub upn: String,
    /// The DN of the user's directory entry as the last sync recorded it; `None` for a user
    /// added in certgate. A generic LDAP directory binds by DN only.
    pub dn: Option<String>,
}

/// Checks a user's domain password against the directory.
pub trait DomainPasswordVerifier: Send + Sync {
    /// `Ok` when the directory accepts `password` for `account`: a bind as that user over TLS
    /// succeeded.
    fn verify(
        &self,
        account: &DomainAccount,
        password: &DomainPassword,
    ) -> impl Future<Output = Result<(), DomainPasswordError>> + Send;
}

/// Why a domain password was not accepted. The messages are for the person signing in (they
/// never contain the password); `detail` fields are for the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainPasswordError {
    /// Nothing was typed.
    #[error("enter your domain password")]
    Empty,
    /// Over [`MAX_PASSWORD_BYTES`] or holding a NUL character: not sent to the directory.
    #[error("that password cannot be checked (it is too long or holds a character a password cannot have)")]
    Unusable,
    /// The directory refused the password (AD `data 52e`), or no such account (`525`: the
    /// same answer, so that the page does not tell which accounts exist).
    #[error(
        "that password is not correct; enter the password you use to sign in to your computer"
    )]
    Wrong,
    /// The account is locked in the directory (`775`).
    #[error("your domain account is locked after too many wrong passwords; wait, or ask your help desk to unlock it")]
    AccountLocked,
    /// The password has expired (`532`).
    #[error("your domain password has expired; change it (for example by signing in to a company computer), then sign in again")]
    PasswordExpired,
    /// The password must be changed at next logon (`773`).
    #[error("your domain password must be changed before it can be used; change it (for example by signing in to a company computer), then sign in again")]
    MustChange,
    /// The account is disabled in the directory (`533`).
    #[error("your domain account is disabled; ask your help desk")]
    AccountDisabled,
    /// The account has expired (`701`).
    #[error("your domain account has expired; ask your help desk")]
    AccountExpired,
    /// Logon hours or workstation restrictions refuse the sign-in now (`530`, `531`).
    #[error("your domain account may not sign in at this time or from here; ask your help desk")]
    LogonRestricted,
    /// Too many wrong passwords at certgate: passwords are not checked until `until`.
    #[error("too many wrong passwords, so passwords are not checked until {}; try again then", rfc3339(*.until))]
    LockedOut {
        /// When passwords are checked again.
        until: UnixTime,
    },
    /// A check of this user's password is already running (a second tab, a double click, or
    /// parallel guesses): one check per user at a time keeps the lockout count exact.
    #[error("your password is already being checked; wait a moment and try again")]
    CheckInProgress,
    /// The user came from no directory entry a generic LDAP directory can bind as.
    #[error("your account is not in the directory, so a domain password cannot be checked; ask your administrator")]
    AccountNotInDirectory,
    /// No connection to the directory, or no answer within the time limit.
    #[error("the directory cannot be reached right now, so the password cannot be checked; try again in a minute")]
    DirectoryUnreachable {
        /// What failed, for the log.
        detail: String,
    },
    /// The directory's TLS certificate did not verify against the configured CA, or the TLS
    /// handshake failed: no password was sent.
    #[error("the connection to the directory is not trusted, so the password was not sent; tell your administrator")]
    DirectoryTlsFailed {
        /// What failed, for the log.
        detail: String,
    },
    /// The directory answered something else (a protocol error, an unknown sub-code).
    #[error("the directory could not check the password; try again, or tell your administrator")]
    DirectoryRefused {
        /// The LDAP result and message, for the log.
        detail: String,
    },
    /// certgate's lockout state could not be read or written (the store failed, or kept
    /// changing under concurrent checks): refused without a bind, since a check that is not
    /// counted would let a guesser past the lockout.
    #[error("certgate cannot check passwords right now; try again in a minute")]
    LockoutUnavailable {
        /// What failed, for the log.
        detail: String,
    },
    /// No directory source is configured: there is nothing to check a domain password with.
    #[error(
        "this server has no directory to check a domain password with; tell your administrator"
    )]
    NotConfigured,
}

impl DomainPasswordError {
    /// Every reason code these errors are refused with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "domain-password-empty",
            "The domain password page was sent without a password. Nothing was sent to the directory (an LDAP bind with an empty password is an unauthenticated bind that succeeds, RFC 4513 §5.1.2).",
            "Type your domain password.",
        ),
        ReasonCode::new(
            "domain-password-unusable",
            "The typed password is longer than 1024 bytes or holds a NUL character; it was not sent to the directory and does not count as a failure.",
            "Type your domain password as you type it on a company computer.",
        ),
        ReasonCode::new(
            "domain-password-wrong",
            "The directory refused the password (Active Directory `data 52e`), or it has no such account (`525`, reported the same way so that the page does not reveal which accounts exist). Counts toward certgate's own lockout.",
            "Type the password you use to sign in to your company computer. After several wrong passwords certgate stops checking for a while.",
        ),
        ReasonCode::new(
            "domain-password-account-locked",
            "The directory says the account is locked out (Active Directory `data 775`), usually after too many wrong passwords anywhere in the domain.",
            "Wait for the domain's lockout to end, or ask the help desk to unlock the account.",
        ),
        ReasonCode::new(
            "domain-password-expired",
            "The directory says the password has expired (Active Directory `data 532`).",
            "Change the password (on a company computer, or the organisation's password page), then sign in again.",
        ),
        ReasonCode::new(
            "domain-password-must-change",
            "The directory says the password must be changed at next logon (Active Directory `data 773`, pwdLastSet = 0).",
            "Change the password (on a company computer, or the organisation's password page), then sign in again.",
        ),
        ReasonCode::new(
            "domain-password-account-disabled",
            "The directory says the account is disabled (Active Directory `data 533`).",
            "Ask the help desk; a disabled account cannot sign in.",
        ),
        ReasonCode::new(
            "domain-password-account-expired",
            "The directory says the account has expired (Active Directory `data 701`, accountExpires in the past).",
            "Ask the help desk to extend the account.",
        ),
        ReasonCode::new(
            "domain-password-logon-restricted",
            "The directory refuses a logon for this account at this time or from this server (Active Directory `data 530` logon hours, `531` workstation restrictions).",
            "Ask the help desk. Administrators: the account's logonHours and userWorkstations decide; certgate's directory connection comes from the certgate server.",
        ),
        ReasonCode::new(
            "domain-password-locked-out",
            "Too many wrong domain passwords in a row for this user at certgate (5 by default), so certgate does not check passwords for a while (15 minutes by default). This keeps a stolen certificate from being used to guess passwords or to lock the account in the domain.",
            "Wait until the time the page gives and try again.",
        ),
        ReasonCode::new(
            "domain-password-check-in-progress",
            "A check of this user's domain password was still running when another arrived (a second tab, a double click, or parallel guesses); certgate checks one password per user at a time so that its lockout counts every guess. Nothing was sent to the directory.",
            "Wait a moment and send the password again.",
        ),
        ReasonCode::new(
            "domain-password-account-not-in-directory",
            "The user was added in certgate, not synchronised from the directory, and the generic LDAP profile can bind only by an entry's DN, so there is no account to check the password of.",
            "Administrators: have the user come from the directory sync (`certgate directory sync`), or do not ask this relying party for the domain password.",
        ),
        ReasonCode::new(
            "domain-password-directory-unreachable",
            "certgate could not reach the directory (no connection, or no answer within `connect_timeout_seconds` / `operation_timeout_seconds` of `[directory.ldap]`), so the password was not checked. Does not count against the person.",
            "Try again in a minute. Administrators: check that the domain controllers in `[directory.ldap] url` answer from the certgate server; the server log has the error.",
        ),
        ReasonCode::new(
            "domain-password-directory-tls-failed",
            "The directory's TLS certificate did not verify against `[directory.ldap] ca_file` (or the TLS handshake failed), so no password was sent.",
            "Administrators: check that `ca_file` holds the CA that issued the domain controller's certificate and that the certificate names the host in `url`; the server log has the TLS error.",
        ),
        ReasonCode::new(
            "domain-password-directory-refused",
            "The directory answered the bind with something other than success or a known refusal (another LDAP result, or an Active Directory sub-code certgate does not know).",
            "Try again. Administrators: the server log has the LDAP result and the directory's message.",
        ),
        ReasonCode::new(
            "domain-password-lockout-unavailable",
            "certgate could not read or write its own count of wrong domain passwords for this user (the database failed, or kept changing under checks running at the same time on several nodes). The password is then not sent to the directory, or, when the directory already answered, the sign-in is refused, since a check that is not counted would let a guesser past the lockout.",
            "Try again in a minute. Administrators: check that SQLite's file is writable or that PostgreSQL is reachable; the server log has the store error and its code.",
        ),
        ReasonCode::new(
            "domain-password-not-configured",
            "A domain password was asked for (by the relying party's request, or by an application that asks every sign-in for it), but this server has no directory source (`[directory.ldap]` in certgate.toml) to check it with; the sign-in is refused rather than done without the password.",
            "Administrators: configure `[directory.ldap]` on every node that takes sign-ins, or set the relying party's `--password-requests` back to `refuse` or `fresh-certificate` and turn off `--require-domain-password` on the relying party or OpenID Connect client.",
        ),
    ];

    /// The stable reason code (one of [`Self::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            DomainPasswordError::Empty => "domain-password-empty",
            DomainPasswordError::Unusable => "domain-password-unusable",
            DomainPasswordError::Wrong => "domain-password-wrong",
            DomainPasswordError::AccountLocked => "domain-password-account-locked",
            DomainPasswordError::PasswordExpired => "domain-password-expired",
            DomainPasswordError::MustChange => "domain-password-must-change",
            DomainPasswordError::AccountDisabled => "domain-password-account-disabled",
            DomainPasswordError::AccountExpired => "domain-password-account-expired",
            DomainPasswordError::LogonRestricted => "domain-password-logon-restricted",
            DomainPasswordError::LockedOut { .. } => "domain-password-locked-out",
            DomainPasswordError::CheckInProgress => "domain-password-check-in-progress",
            DomainPasswordError::AccountNotInDirectory => {
                "domain-password-account-not-in-directory"
            }
            DomainPasswordError::DirectoryUnreachable { .. } => {
                "domain-password-directory-unreachable"
            }
            DomainPasswordError::DirectoryTlsFailed { .. } => {
                "domain-password-directory-tls-failed"
            }
            DomainPasswordError::DirectoryRefused { .. } => "domain-password-directory-refused",
            DomainPasswordError::LockoutUnavailable { .. } => "domain-password-lockout-unavailable",
            DomainPasswordError::NotConfigured => "domain-password-not-configured",
        }
    }

    /// Whether this failure counts toward certgate's lockout: a password the directory
    /// judged. Refusals that say nothing about the password (the directory down, nothing
    /// typed) do not; the account states (locked, disabled, ...) do not either, as the
    /// directory reports them whatever password was typed.
    pub fn counts_as_failure(&self) -> bool {
        matches!(self, DomainPasswordError::Wrong)
    }

    /// The detail for the log (never the password: no variant holds it).
    pub fn detail(&self) -> Option<&str> {
        match self {
            DomainPasswordError::DirectoryUnreachable { detail }
            | DomainPasswordError::DirectoryTlsFailed { detail }
            | DomainPasswordError::DirectoryRefused { detail }
            | DomainPasswordError::LockoutUnavailable { detail } => Some(detail),
            _ => None,
        }
    }
}

/// The refusal an LDAP invalidCredentials (49) bind result stands for, read from its
/// diagnostic message. Active Directory (and Samba as an AD DC) write the Windows error in it:
/// `80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563`.
/// A message without a known `data` code (another server, a hostile one) is a wrong password:
/// that is what result 49 means (RFC 4511 §A.2).
pub fn bind_refusal(diagnostic_message: &str) -> DomainPasswordError {
    let Some(code) = ad_data_code(diagnostic_message) else {
        return DomainPasswordError::Wrong;
    };
    match code.as_str() {
        "52e" | "525" => DomainPasswordError::Wrong,
        "775" => DomainPasswordError::AccountLocked,
        "532" => DomainPasswordError::PasswordExpired,
        "773" => DomainPasswordError::MustChange,
        "533" => DomainPasswordError::AccountDisabled,
        "701" => DomainPasswordError::AccountExpired,
        "530" | "531" => DomainPasswordError::LogonRestricted,
        other => DomainPasswordError::DirectoryRefused {
            detail: format!("invalidCredentials with the unknown sub-code data {other}"),
        },
    }
}

/// The hex code after `data ` in an AD diagnostic message, lower case; at most 8 digits are
/// read (a Win32 error fits in 32 bits), so a hostile message cannot make it long.
fn ad_data_code(message: &str) -> Option<String> {
    let start = message.find("data ")? + "data ".len();
    let code: String = message[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    (!code.is_empty()).then(|| code.to_ascii_lowercase())
}

/// certgate's lockout after wrong domain passwords: the same rule as the one-time code's
/// (`totp::verify`): `max_failures` wrong passwords in a row lock the check for
/// `lockout_seconds`, and only a success resets the count, so after a lockout every further
/// wrong password locks again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Wrong passwords in a row that lock the check.
    pub max_failures: NonZeroU32,
    /// How long a lockout lasts.
    pub lockout_seconds: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: NonZeroU32::MIN.saturating_add(4),
            lockout_seconds: 15 * 60,
        }
    }
}

/// One user's wrong-password state, as the store keeps it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockoutState {
    /// Wrong passwords in a row since the last success.
    pub failures: u32,
    /// Until when passwords are not checked; a lockout that ended is kept so that the next
    /// wrong password locks again at once.
    pub locked_until: Option<UnixTime>,
}

/// A user's [`LockoutState`] read from the store, with the revision a write compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredLockout {
    /// The state.
    pub state: LockoutState,
    /// Grows with every write of this user's row.
    pub revision: i64,
}

/// What [`LockoutPolicy::record`] decided for one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The state to write back; `None` when nothing changes (an outcome that does not
    /// count, or a success with nothing to reset), so that most sign-ins write nothing.
    pub next: Option<LockoutState>,
    /// What to report to the person.
    pub reported: Result<(), DomainPasswordError>,
}

impl LockoutPolicy {
    /// `Err(LockedOut)` while `state` says passwords are not checked at `now`.
    pub fn check(&self, state: &LockoutState, now: UnixTime) -> Result<(), DomainPasswordError> {
        match state.locked_until {
            Some(until) if now < until => Err(DomainPasswordError::LockedOut { until }),
            _ => Ok(()),
        }
    }

    /// The outcome of a check at `now` applied to `state`: a wrong password counts, and one
    /// that reaches the limit locks and is reported as `LockedOut`; a success clears the
    /// count; anything else changes nothing.
    pub fn record(
        &self,
        state: &LockoutState,
        outcome: Result<(), DomainPasswordError>,
        now: UnixTime,
    ) -> Recorded {
        match outcome {
            Ok(()) => Recorded {
                next: (*state != LockoutState::default()).then(LockoutState::default),
                reported: Ok(()),
            },
            Err(error) if error.counts_as_failure() => {
                let failures = state.failures.saturating_add(1);
                if failures >= self.max_failures.get() {
                    let until = UnixTime(now.0.saturating_add(i64::from(self.lockout_seconds)));
                    return Recorded {
                        next: Some(LockoutState {
                            failures,
                            locked_until: Some(until),
                        }),
                        reported: Err(DomainPasswordError::LockedOut { until }),
                    };
                }
                Recorded {
                    next: Some(LockoutState {
                        failures,
                        locked_until: state.locked_until,
                    }),
                    reported: Err(error),
                }
            }
            Err(error) => Recorded {
                next: None,
                reported: Err(error),
            },
        }
    }
}

/// Where certgate keeps each user's [`LockoutState`]: one row per user in the shared
/// database, so that every node counts the same failures and a restart forgets none.
pub trait DomainPasswordLockoutStore: Send + Sync {
    /// `user_id`'s state; `None` when they never had a wrong password.
    fn password_lockout(
        &self,
        user_id: &str,
    ) -> impl Future<Output = StoreResult<Option<StoredLockout>>> + Send;

    /// Writes `state` for `user_id` if their row is still at `expected_revision` (`None`:
    /// there is no row yet). `Stale` when another check wrote first: the caller reads again
    /// and re-applies its outcome, so that two nodes recording a failure together both count.
    fn swap_password_lockout(
        &self,
        user_id: &str,
        expected_revision: Option<i64>,
        state: &LockoutState,
        now: UnixTime,
    ) -> impl Future<Output = StoreResult<SwapOutcome>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_directory_sub_codes_map_to_reason_codes() {
        let message = |code: &str| {
            format!("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data {code}, v4563\0")
        };
        for (sub_code, reason) in [
            ("52e", "domain-password-wrong"),
            ("525", "domain-password-wrong"),
            ("775", "domain-password-account-locked"),
            ("532", "domain-password-expired"),
            ("773", "domain-password-must-change"),
            ("533", "domain-password-account-disabled"),
            ("701", "domain-password-account-expired"),
            ("530", "domain-password-logon-restricted"),
            ("531", "domain-password-logon-restricted"),
            ("52E", "domain-password-wrong"),
            ("568", "domain-password-directory-refused"),
        ] {
            assert_eq!(
                bind_refusal(&message(sub_code)).code(),
                reason,
                "{sub_code}"
            );
        }
    }

    #[test]
    fn messages_without_a_sub_code_are_a_wrong_password_and_never_panic() {
        for message in [
            "",
            "data",
            "data ",
            "data zz",
            "invalid credentials",
            "data \u{fffd}\u{1f600}",
            &format!("data {}", "f".repeat(100_000)),
        ] {
            let refusal = bind_refusal(message);
            assert!(
                matches!(
                    refusal,
                    DomainPasswordError::Wrong | DomainPasswordError::DirectoryRefused { .. }
                ),
                "{refusal:?}"
            );
            if let Some(detail) = refusal.detail() {
                assert!(detail.len() < 100, "the code read is capped: {detail}");
            }
        }
    }

    #[test]
    fn passwords_that_must_not_reach_a_bind_are_refused() {
        assert_eq!(
            DomainPassword::new(String::new())
                .expect_err("empty")
                .code(),
            "domain-password-empty"
        );
        assert_eq!(
            DomainPassword::new("pass\0word".into())
                .expect_err("NUL")
                .code(),
            "domain-password-unusable"
        );
        assert_eq!(
            DomainPassword::new("x".repeat(MAX_PASSWORD_BYTES + 1))
                .expect_err("long")
                .code(),
            "domain-password-unusable"
        );
        let longest = DomainPassword::new("x".repeat(MAX_PASSWORD_BYTES)).expect("1024 bytes");
        assert_eq!(longest.expose().len(), MAX_PASSWORD_BYTES);
        let password = DomainPassword::new("S3cret pass!".into()).expect("password");
        assert!(!format!("{password:?}").contains("S3cret"));
    }

    /// Applies `outcome` to `state` as the server does, and returns what is reported.
    fn apply(
        policy: &LockoutPolicy,
        state: &mut LockoutState,
        outcome: Result<(), DomainPasswordError>,
        now: UnixTime,
    ) -> Result<(), DomainPasswordError> {
        let recorded = policy.record(state, outcome, now);
        if let Some(next) = recorded.next {
            *state = next;
        }
        recorded.reported
    }

    #[test]
    fn wrong_passwords_lock_after_the_limit_and_a_success_resets() {
        let policy = LockoutPolicy::default();
        let mut state = LockoutState::default();
        let now = UnixTime(1_000);
        for _ in 0..4 {
            assert_eq!(
                apply(&policy, &mut state, Err(DomainPasswordError::Wrong), now),
                Err(DomainPasswordError::Wrong)
            );
        }
        assert_eq!(state.failures, 4);
        // Directory trouble and account states do not count, and change nothing to write.
        for error in [
            DomainPasswordError::DirectoryUnreachable {
                detail: "down".into(),
            },
            DomainPasswordError::AccountLocked,
        ] {
            let recorded = policy.record(&state, Err(error.clone()), now);
            assert_eq!(recorded.next, None);
            assert_eq!(recorded.reported, Err(error));
        }
        assert_eq!(policy.check(&state, now), Ok(()));
        let until = UnixTime(1_000 + 900);
        assert_eq!(
            apply(&policy, &mut state, Err(DomainPasswordError::Wrong), now),
            Err(DomainPasswordError::LockedOut { until })
        );
        assert_eq!(
            policy.check(&state, UnixTime(1_899)),
            Err(DomainPasswordError::LockedOut { until })
        );
        assert_eq!(
            policy.check(&LockoutState::default(), now),
            Ok(()),
            "a user without failures is not locked"
        );
        // After the lockout: one more wrong password locks again at once.
        assert_eq!(policy.check(&state, until), Ok(()));
        assert_eq!(
            apply(&policy, &mut state, Err(DomainPasswordError::Wrong), until),
            Err(DomainPasswordError::LockedOut {
                until: UnixTime(until.0 + 900)
            })
        );
        assert_eq!(apply(&policy, &mut state, Ok(()), UnixTime(3_000)), Ok(()));
        assert_eq!(state, LockoutState::default());
        assert_eq!(
            apply(
                &policy,
                &mut state,
                Err(DomainPasswordError::Wrong),
                UnixTime(3_000)
            ),
            Err(DomainPasswordError::Wrong)
        );
    }

    #[test]
    fn a_success_without_failures_writes_nothing_and_a_huge_count_does_not_overflow() {
        let policy = LockoutPolicy::default();
        assert_eq!(
            policy.record(&LockoutState::default(), Ok(()), UnixTime(5)),
            Recorded {
                next: None,
                reported: Ok(())
            }
        );
        // A row written by a hostile or broken peer: saturates, still locks.
        let state = LockoutState {
            failures: u32::MAX,
            locked_until: None,
        };
        let recorded = policy.record(&state, Err(DomainPasswordError::Wrong), UnixTime(i64::MAX));
        assert_eq!(
            recorded.reported,
            Err(DomainPasswordError::LockedOut {
                until: UnixTime(i64::MAX)
            })
        );
        assert_eq!(recorded.next.map(|s| s.failures), Some(u32::MAX));
    }

    #[test]
    fn every_code_is_listed_once() {
        let listed: Vec<&str> = DomainPasswordError::CODES.iter().map(|c| c.code).collect();
        let mut unique = listed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), listed.len());
        for error in [
            DomainPasswordError::Empty,
            DomainPasswordError::Unusable,
            DomainPasswordError::Wrong,
            DomainPasswordError::AccountLocked,
            DomainPasswordError::PasswordExpired,
            DomainPasswordError::MustChange,
            DomainPasswordError::AccountDisabled,
            DomainPasswordError::AccountExpired,
            DomainPasswordError::LogonRestricted,
            DomainPasswordError::LockedOut { until: UnixTime(0) },
            DomainPasswordError::CheckInProgress,
            DomainPasswordError::AccountNotInDirectory,
            DomainPasswordError::DirectoryUnreachable { detail: "".into() },
            DomainPasswordError::DirectoryTlsFailed { detail: "".into() },
            DomainPasswordError::DirectoryRefused { detail: "".into() },
            DomainPasswordError::LockoutUnavailable { detail: "".into() },
            DomainPasswordError::NotConfigured,
        ] {
            assert!(listed.contains(&error.code()), "{}", error.code());
        }
    }
}
