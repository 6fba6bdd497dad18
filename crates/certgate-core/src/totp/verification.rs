//! Verification as a pure state machine: `verify(state, code, now, policy)` returns the
//! outcome together with the state to persist, so that the store can write it with a
//! compare-and-set and a code is never accepted twice, even by two nodes at once.

use std::num::NonZeroU32;

use certgate_pki::{ReasonCode, UnixTime};

use crate::clock::rfc3339;

use super::secret::{codes_equal, hotp, time_step, TotpSecret};

/// Steps either side of the current one whose codes are accepted: RFC 6238 §5.2 recommends
/// at most one step of network delay, and one step covers a phone clock a little off.
const WINDOW_STEPS: u64 = 1;

/// Lockout rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TotpPolicy {
    /// Consecutive failures (wrong or replayed codes) that lock the code check.
    pub max_failures: NonZeroU32,
    /// How long a lockout lasts.
    pub lockout_seconds: u32,
}

impl Default for TotpPolicy {
    fn default() -> Self {
        TotpPolicy {
            max_failures: NonZeroU32::MIN.saturating_add(4),
            lockout_seconds: 15 * 60,
        }
    }
}

/// The part of a [`TotpState`] that changes on every verification: what the store compares
/// and sets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TotpCounters {
    /// The newest time step whose code was accepted: codes of this step and older ones are
    /// refused from then on (RFC 6238 §5.2: a verifier must not accept the second attempt
    /// of the same OTP).
    pub last_used_step: Option<u64>,
    /// Failures since the last success.
    pub failures: u32,
    /// While in the future, every code is refused without being checked.
    pub locked_until: Option<UnixTime>,
}

/// One secret and its verification state. A pending secret (`confirmed == false`) is one
/// shown on the enrollment page and not yet proven to be in the person's app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpState {
    /// The key and its parameters.
    pub secret: TotpSecret,
    /// Whether a code from it was ever accepted; a pending secret becomes confirmed on its first
    /// accepted code.
    pub confirmed: bool,
    /// See [`TotpCounters::last_used_step`].
    pub last_used_step: Option<u64>,
    /// See [`TotpCounters::failures`].
    pub failures: u32,
    /// See [`TotpCounters::locked_until`].
    pub locked_until: Option<UnixTime>,
}

impl TotpState {
    /// A freshly enrolled, unconfirmed secret.
    pub fn pending(secret: TotpSecret) -> Self {
        Self::with_counters(secret, false, TotpCounters::default())
    }

    /// A secret with its stored counters, as read back from the store.
    pub fn with_counters(secret: TotpSecret, confirmed: bool, counters: TotpCounters) -> Self {
        TotpState {
            secret,
            confirmed,
            last_used_step: counters.last_used_step,
            failures: counters.failures,
            locked_until: counters.locked_until,
        }
    }

    /// The counters as they are now: what a compare-and-set of the next state compares against.
    pub fn counters(&self) -> TotpCounters {
        TotpCounters {
            last_used_step: self.last_used_step,
            failures: self.failures,
            locked_until: self.locked_until,
        }
    }

    /// When the lockout in effect at `now` ends, if one is.
    pub fn locked_at(&self, now: UnixTime) -> Option<UnixTime> {
        self.locked_until.filter(|until| now < *until)
    }
}

/// An accepted code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The time step the code belonged to, now used up.
    pub step: u64,
}

/// Why a code was refused. The messages are for the person signing in.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The code matches none of the steps T-1, T, T+1; counts as a failure.
    #[error("that code is not correct; enter the code your authenticator app shows now (if codes keep failing, make sure your phone sets its clock automatically)")]
    Invalid,
    /// The code matches a step already used up (RFC 6238 §5.2: an OTP is accepted once); counts as
    /// a failure.
    #[error("that code was already used; wait for your authenticator app to show a new code and enter that one")]
    Replayed {
        /// The used-up time step the code belonged to.
        step: u64,
    },
    /// Too many failures in a row: the check is locked, either already or by this failure.
    #[error("too many wrong codes, so codes are not checked until {}; try again then, or ask your administrator to reset your authenticator app", rfc3339(*.until))]
    LockedOut {
        /// When the lockout ends; codes are checked again from then on.
        until: UnixTime,
    },
    /// The account has no authenticator secret (or no pending one to confirm).
    #[error("no authenticator app is set up for this account; set one up on the enrollment page, or ask your administrator")]
    NotEnrolled,
    /// Not a code of the secret's number of digits; does not count as a failure.
    #[error("enter the {digits}-digit code from your authenticator app (digits only)")]
    Malformed {
        /// How many digits the secret's codes have (6 or 8), for the message.
        digits: u32,
    },
}

impl TotpError {
    /// Every code [`TotpError::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "totp-invalid",
            "The one-time code does not match the authenticator secret's code for the current 30-second step or the step either side; it counts as a failed attempt.",
            "Enter the code your authenticator app shows now. If codes keep failing, let your phone set its clock automatically, or ask your administrator to reset your authenticator app.",
        ),
        ReasonCode::new(
            "totp-replayed",
            "The one-time code was correct but had already been used (each code is accepted once); it counts as a failed attempt.",
            "Wait for your authenticator app to show a new code and enter that one.",
        ),
        ReasonCode::new(
            "totp-locked-out",
            "Too many wrong or reused codes in a row (5 by default), so codes are not checked for a while (15 minutes by default); after a lockout every further wrong code locks again.",
            "Try again with a fresh code after the time the page gives, or ask your administrator to reset your authenticator app (`certgate user reset-second-factor`).",
        ),
        ReasonCode::new(
            "totp-not-enrolled",
            "No authenticator app is set up for the account, or no enrollment was started when a code came to confirm one.",
            "Set up an authenticator app on the enrollment page (the first one needs a Temporary Access Pass from your administrator), or ask your administrator.",
        ),
        ReasonCode::new(
            "totp-malformed",
            "What was entered is not a code of the expected number of digits (spaces are ignored); it does not count as a failed attempt.",
            "Enter the code your authenticator app shows, digits only (usually 6).",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            TotpError::Invalid => "totp-invalid",
            TotpError::Replayed { .. } => "totp-replayed",
            TotpError::LockedOut { .. } => "totp-locked-out",
            TotpError::NotEnrolled => "totp-not-enrolled",
            TotpError::Malformed { .. } => "totp-malformed",
        }
    }
}

/// Checks `code` against `state` at `now` and returns the outcome with the state to store.
///
/// - While locked out, nothing is checked and the state is unchanged.
/// - A code that is not exactly the secret's number of digits (spaces ignored, as apps show
///   "123 456") is `totp-malformed` and does not count as a failure: it cannot be a guess.
/// - A code matching step T-1, T or T+1 (T = now's step) that is newer than the last used
///   step is accepted: the step is used up, failures reset, the lockout cleared, and a
///   pending secret becomes confirmed.
/// - A code matching only used steps is `totp-replayed`; anything else is `totp-invalid`.
///   Both count as failures. The failure that reaches `policy.max_failures` locks the check
///   for `policy.lockout_seconds` and is reported as `totp-locked-out`.
/// - A lockout's end does not reset the count: only a success does. So once locked, every
///   further wrong code locks again, and a guesser gets one try per lockout period rather
///   than a fresh batch (the throttling RFC 4226 §7.3 asks for).
pub fn verify(
    state: &TotpState,
    code: &str,
    now: UnixTime,
    policy: &TotpPolicy,
) -> (Result<Verified, TotpError>, TotpState) {
    let mut next = state.clone();
    if let Some(until) = state.locked_at(now) {
        return (Err(TotpError::LockedOut { until }), next);
    }
    let digits = state.secret.digits().count();
    let given: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if given.len() != digits as usize || !given.bytes().all(|b| b.is_ascii_digit()) {
        return (Err(TotpError::Malformed { digits }), next);
    }

    let current = time_step(now);
    let mut matched_used = None;
    let mut accepted = None;
    // Every candidate is computed and compared, whichever matches, so that timing does not
    // tell which step a code belonged to.
    for step in current.saturating_sub(WINDOW_STEPS)..=current.saturating_add(WINDOW_STEPS) {
        if !codes_equal(&hotp(&state.secret, step), &given) {
            continue;
        }
        if state.last_used_step.is_some_and(|used| step <= used) {
            matched_used = Some(step);
        } else if accepted.is_none() {
            accepted = Some(step);
        }
    }

    if let Some(step) = accepted {
        next.last_used_step = Some(step);
        next.failures = 0;
        next.locked_until = None;
        next.confirmed = true;
        return (Ok(Verified { step }), next);
    }
    next.failures = state.failures.saturating_add(1);
    if next.failures >= policy.max_failures.get() {
        let until = UnixTime(now.0.saturating_add(i64::from(policy.lockout_seconds)));
        next.locked_until = Some(until);
        return (Err(TotpError::LockedOut { until }), next);
    }
    let error = match matched_used {
        Some(step) => TotpError::Replayed { step },
        None => TotpError::Invalid,
    };
    (Err(error), next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totp::secret::{code_at, Digits, TotpAlgorithm};

    /// 2023-11-14T22:13:00Z, the start of step 56,666,666.
    const NOW: UnixTime = UnixTime(1_699_999_980);
    const STEP: i64 = 30;

    fn secret() -> TotpSecret {
        TotpSecret::from_key(b"12345678901234567890", TotpAlgorithm::Sha1, Digits::Six)
            .expect("key")
    }

    fn confirmed() -> TotpState {
        TotpState::with_counters(secret(), true, TotpCounters::default())
    }

    fn code(offset_steps: i64) -> String {
        code_at(&secret(), UnixTime(NOW.0 + offset_steps * STEP))
    }

    fn plus(at: UnixTime, seconds: i64) -> UnixTime {
        UnixTime(at.0 + seconds)
    }

    fn policy() -> TotpPolicy {
        TotpPolicy::default()
    }

    #[test]
    fn the_current_code_is_accepted_and_uses_up_its_step() {
        let (result, next) = verify(&confirmed(), &code(0), NOW, &policy());
        let step = time_step(NOW);
        assert_eq!(result, Ok(Verified { step }));
        assert_eq!(next.last_used_step, Some(step));
        assert_eq!(next.failures, 0);
        assert_eq!(next.secret, secret());
    }

    #[test]
    fn codes_one_step_either_side_are_accepted_but_not_two() {
        for offset in [-1, 1] {
            let (result, _) = verify(&confirmed(), &code(offset), NOW, &policy());
            let step = time_step(NOW).checked_add_signed(offset).expect("step");
            assert_eq!(result, Ok(Verified { step }), "offset {offset}");
        }
        for offset in [-2, 2] {
            let (result, next) = verify(&confirmed(), &code(offset), NOW, &policy());
            assert_eq!(result, Err(TotpError::Invalid), "offset {offset}");
            assert_eq!(next.failures, 1);
        }
    }

    #[test]
    fn a_used_code_is_refused_as_replayed_and_so_is_an_older_one() {
        let (_, after_current) = verify(&confirmed(), &code(0), NOW, &policy());
        let (again, next) = verify(&after_current, &code(0), plus(NOW, 10), &policy());
        let step = time_step(NOW);
        assert_eq!(again, Err(TotpError::Replayed { step }));
        assert_eq!(again.unwrap_err().code(), "totp-replayed");
        assert_eq!(next.failures, 1);
        assert_eq!(next.last_used_step, Some(step));

        // The previous step's code is still inside the window but older than the used one.
        let (older, _) = verify(&after_current, &code(-1), NOW, &policy());
        assert_eq!(older, Err(TotpError::Replayed { step: step - 1 }));

        // The next step's code works once its time comes (or early, within the window).
        let (newer, _) = verify(&after_current, &code(1), plus(NOW, STEP), &policy());
        assert_eq!(newer, Ok(Verified { step: step + 1 }));
    }

    #[test]
    fn a_code_from_the_future_step_uses_up_the_current_step_too() {
        let (_, after_future) = verify(&confirmed(), &code(1), NOW, &policy());
        let (current, _) = verify(&after_future, &code(0), NOW, &policy());
        assert_eq!(
            current,
            Err(TotpError::Replayed {
                step: time_step(NOW)
            })
        );
    }

    #[test]
    fn malformed_codes_are_refused_without_counting_as_failures() {
        for text in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "+12345"] {
            let (result, next) = verify(&confirmed(), text, NOW, &policy());
            assert_eq!(result, Err(TotpError::Malformed { digits: 6 }), "{text:?}");
            assert_eq!(next, confirmed());
        }
        assert_eq!(
            TotpError::Malformed { digits: 6 }.to_string(),
            "enter the 6-digit code from your authenticator app (digits only)"
        );
    }

    #[test]
    fn spaces_inside_a_code_are_ignored() {
        let spaced = format!(" {} {} ", &code(0)[..3], &code(0)[3..]);
        let (result, _) = verify(&confirmed(), &spaced, NOW, &policy());
        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn the_fifth_consecutive_failure_locks_for_fifteen_minutes() {
        let mut state = confirmed();
        for attempt in 1..=4 {
            let (result, next) = verify(&state, "000000", NOW, &policy());
            assert_eq!(result, Err(TotpError::Invalid), "attempt {attempt}");
            assert_eq!(next.failures, attempt);
            state = next;
        }
        let (result, locked) = verify(&state, "000000", NOW, &policy());
        let until = plus(NOW, 15 * 60);
        assert_eq!(result, Err(TotpError::LockedOut { until }));
        assert_eq!(locked.locked_until, Some(until));
        let message = result.unwrap_err().to_string();
        assert!(message.contains("2023-11-14T22:28:00Z"), "{message}");

        // While locked, even the right code is refused and nothing changes.
        let (result, unchanged) = verify(&locked, &code(0), plus(NOW, 60), &policy());
        assert_eq!(result, Err(TotpError::LockedOut { until }));
        assert_eq!(unchanged, locked);
        let (result, _) = verify(&locked, &code(0), plus(until, -1), &policy());
        assert_eq!(result, Err(TotpError::LockedOut { until }));
    }

    #[test]
    fn after_the_lockout_the_right_code_works_and_resets_the_count() {
        let mut state = confirmed();
        for _ in 0..5 {
            state = verify(&state, "000000", NOW, &policy()).1;
        }
        let end = state.locked_until.expect("locked");
        let (result, next) = verify(&state, &code(30), end, &policy());
        assert_eq!(
            result,
            Ok(Verified {
                step: time_step(end)
            })
        );
        assert_eq!(next.failures, 0);
        assert_eq!(next.locked_until, None);
    }

    #[test]
    fn after_the_lockout_one_more_wrong_code_locks_again() {
        let mut state = confirmed();
        for _ in 0..5 {
            state = verify(&state, "000000", NOW, &policy()).1;
        }
        let end = state.locked_until.expect("locked");
        let (result, next) = verify(&state, "000000", end, &policy());
        assert_eq!(
            result,
            Err(TotpError::LockedOut {
                until: plus(end, 15 * 60)
            })
        );
        assert_eq!(next.failures, 6);
    }

    #[test]
    fn a_success_before_the_limit_resets_the_count() {
        let mut state = confirmed();
        for _ in 0..4 {
            state = verify(&state, "000000", NOW, &policy()).1;
        }
        let (result, next) = verify(&state, &code(0), NOW, &policy());
        assert!(result.is_ok());
        assert_eq!(next.failures, 0);
        let (result, _) = verify(&next, "000000", NOW, &policy());
        assert_eq!(result, Err(TotpError::Invalid));
    }

    #[test]
    fn the_policy_sets_the_limit_and_the_period() {
        let strict = TotpPolicy {
            max_failures: NonZeroU32::MIN,
            lockout_seconds: 60,
        };
        let (result, _) = verify(&confirmed(), "000000", NOW, &strict);
        assert_eq!(
            result,
            Err(TotpError::LockedOut {
                until: plus(NOW, 60)
            })
        );
    }

    #[test]
    fn a_pending_secret_is_confirmed_by_its_first_good_code_only() {
        let pending = TotpState::pending(secret());
        assert!(!pending.confirmed);
        let (result, still_pending) = verify(&pending, "000000", NOW, &policy());
        assert_eq!(result, Err(TotpError::Invalid));
        assert!(!still_pending.confirmed);
        let (result, confirmed) = verify(&still_pending, &code(0), NOW, &policy());
        assert!(result.is_ok());
        assert!(confirmed.confirmed);
        assert_eq!(confirmed.failures, 0);
    }

    #[test]
    fn eight_digit_secrets_want_eight_digits() {
        let eight =
            TotpSecret::from_key(b"12345678901234567890", TotpAlgorithm::Sha1, Digits::Eight)
                .expect("key");
        let state = TotpState::with_counters(eight, true, TotpCounters::default());
        let (result, _) = verify(&state, "94287082", UnixTime(59), &policy());
        assert_eq!(result, Ok(Verified { step: 1 }));
        let (result, _) = verify(&state, "287082", UnixTime(59), &policy());
        assert_eq!(result, Err(TotpError::Malformed { digits: 8 }));
    }

    #[test]
    fn every_refusal_has_a_stable_code() {
        let codes: Vec<_> = [
            TotpError::Invalid,
            TotpError::Replayed { step: 1 },
            TotpError::LockedOut { until: NOW },
            TotpError::NotEnrolled,
            TotpError::Malformed { digits: 6 },
        ]
        .iter()
        .map(TotpError::code)
        .collect();
        assert_eq!(
            codes,
            [
                "totp-invalid",
                "totp-replayed",
                "totp-locked-out",
                "totp-not-enrolled",
                "totp-malformed"
            ]
        );
    }
}
