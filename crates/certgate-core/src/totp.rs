//! TOTP, the authenticator-app second factor (RFC 6238 over RFC 4226's HOTP).
//!
//! - [`code_at`], [`TotpSecret`]: the algorithm, pure (the time is a parameter).
//! - [`verify`]: a pure state machine over [`TotpState`] with a ±1 step window, replays
//!   refused (`totp-replayed`) and a lockout after repeated failures (`totp-locked-out`).
//! - [`otpauth_uri`], [`qr_svg`]: what the enrollment page shows.
//! - [`TotpStore`]: the storage port (SQLite and PostgreSQL live in certgate-store), and
//!   [`TotpService`]: enrollment and verification with secrets sealed at rest and every
//!   change written with a compare-and-set, so a code is accepted once even across nodes.
//! - [`TotpSealing`]: how secrets are sealed at rest, under a key derived once per process.
//!
//! Users are named by their directory object ID; this module does not read the directory.

mod enrollment;
mod sealing;
mod secret;
mod service;
mod verification;

pub use enrollment::{otpauth_uri, qr_svg};
pub use sealing::{
    is_current_format, LegacyTotpSeal, SealError, TotpSealing, TotpSealingKey, SEALING_SALT_LEN,
};
pub use secret::{
    code_at, time_step, Digits, RandomUnavailable, TotpAlgorithm, TotpSecret, MIN_KEY_BYTES,
    PERIOD_SECONDS,
};
pub use service::{
    open_sealing, Enrollment, NewTotpSecret, StoredTotpSecret, SwapOutcome, TotpSecretId,
    TotpSecrets, TotpService, TotpServiceError, TotpSettings, TotpSlot, TotpStatus, TotpStore,
    WhenEnrolled,
};
pub use verification::{verify, TotpCounters, TotpError, TotpPolicy, TotpState, Verified};
