//! TOTP secrets sealed at rest, under a key derived once per process.
//!
//! Every sign-in with a one-time code opens the user's secret. The first format
//! (`certgate_ca::sealed_key`, `cgsk1`) derives its key from the passphrase with a salt of
//! its own per secret, so each open ran PBKDF2 (210,000 iterations, ~22 ms of CPU). The
//! current format seals every secret under one key per deployment:
//!
//! `b"cgts2" | salt (16) | nonce (12) | AES-256-GCM ciphertext + tag (16)`
//!
//! The key is PBKDF2-HMAC-SHA256(passphrase, salt, 210,000 iterations), derived once at
//! start ([`TotpSealingKey::derive`]); the salt is the deployment's, kept in the store
//! ([`TotpStore::totp_sealing_salt`](super::TotpStore::totp_sealing_salt)) so that every
//! node derives the same key, and written into each record so that a secret sealed under
//! another deployment's salt is recognised as such. The magic and the salt are the
//! additional authenticated data. Nonces are random: 96 bits per seal under one key keeps
//! the chance of a repeat negligible for any number of enrollments a deployment makes.
//!
//! Secrets in the first format still open, through [`LegacyTotpSeal`] (the only holder of
//! the passphrase after start, and the only code that runs PBKDF2 per secret); the service
//! re-seals each in the current format on its next successful use.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use certgate_ca::sealed_key;
use std::num::NonZeroU32;
use zeroize::Zeroizing;

const MAGIC: &[u8] = b"cgts2";
/// The length of the deployment's salt.
pub const SEALING_SALT_LEN: usize = 16;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
/// The figure `certgate_ca::sealed_key` uses (OWASP 2023 for PBKDF2-HMAC-SHA256).
const ITERATIONS: NonZeroU32 = match NonZeroU32::new(210_000) {
    Some(n) => n,
    None => panic!("the iteration count is a non-zero constant"),
};

/// Why a secret could not be sealed or opened. A wrong passphrase and altered bytes are
/// indistinguishable by design.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The passphrase is empty: it is all that protects the secrets at rest.
    #[error(
        "the key passphrase is empty: it is all that protects the authenticator secrets at rest"
    )]
    EmptyPassphrase,
    /// The salt is not [`SEALING_SALT_LEN`] bytes.
    #[error("the sealing salt is {0} bytes, not 16")]
    BadSalt(usize),
    /// The system's random generator or AES-GCM failed.
    #[error("{operation} failed")]
    CryptoFailed {
        /// What failed.
        operation: &'static str,
    },
    /// Not sealed with this key: another passphrase or salt, or damaged bytes.
    #[error("the sealed secret does not open with this key (another passphrase or deployment salt, or damaged bytes)")]
    Broken,
}

/// The key TOTP secrets are sealed with, derived from the passphrase once. Holds the key
/// (wiped on drop) and the deployment's salt; never the passphrase, so that opening a
/// secret cannot run PBKDF2.
pub struct TotpSealingKey {
    salt: [u8; SEALING_SALT_LEN],
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for TotpSealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSealingKey")
            .field("salt", &crate::hex(&self.salt))
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TotpSealingKey {
    /// Runs PBKDF2 over `passphrase` with the deployment's `salt`: once per process (~22 ms
    /// of CPU), at start.
    pub fn derive(passphrase: &[u8], salt: &[u8]) -> Result<Self, SealError> {
        if passphrase.is_empty() {
            return Err(SealError::EmptyPassphrase);
        }
        let salt: [u8; SEALING_SALT_LEN] = salt
            .try_into()
            .map_err(|_| SealError::BadSalt(salt.len()))?;
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            ITERATIONS,
            &salt,
            passphrase,
            &mut *key,
        );
        Ok(TotpSealingKey { salt, key })
    }

    /// A fresh random salt, for a deployment that has none yet.
    pub fn random_salt() -> Result<[u8; SEALING_SALT_LEN], SealError> {
        let mut salt = [0u8; SEALING_SALT_LEN];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| SealError::CryptoFailed {
                operation: "the random salt",
            })?;
        Ok(salt)
    }

    /// Seals `plaintext` (a TOTP key) in the current format.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::CryptoFailed {
                operation: "the random nonce",
            })?;
        let header = self.header();
        let mut in_out = Zeroizing::new(plaintext.to_vec());
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header),
                &mut *in_out,
            )
            .map_err(|_| SealError::CryptoFailed {
                operation: "AES-256-GCM encryption",
            })?;
        let mut sealed = Vec::with_capacity(header.len() + NONCE_LEN + in_out.len());
        sealed.extend_from_slice(&header);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Opens a secret in the current format ([`is_current_format`]).
    pub fn open(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let header = self.header();
        // Another deployment's salt (or damaged bytes) fails here, before any decryption.
        let body = sealed
            .strip_prefix(header.as_slice())
            .ok_or(SealError::Broken)?;
        if body.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Broken);
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Broken)?;
        let mut in_out = Zeroizing::new(ciphertext.to_vec());
        let plaintext_len = self
            .aead()?
            .open_in_place(nonce, Aad::from(&header), &mut in_out)
            .map_err(|_| SealError::Broken)?
            .len();
        in_out.truncate(plaintext_len);
        Ok(in_out)
    }

    fn header(&self) -> Vec<u8> {
        [MAGIC, &self.salt].concat()
    }

    /// The AES key schedule, made per operation (a fraction of a microsecond) so that only
    /// the wiped-on-drop key bytes outlive it.
    fn aead(&self) -> Result<LessSafeKey, SealError> {
        let key =
            UnboundKey::new(&AES_256_GCM, &*self.key).map_err(|_| SealError::CryptoFailed {
                operation: "AES-256-GCM key setup",
            })?;
        Ok(LessSafeKey::new(key))
    }
}

/// Whether `sealed` is in the current format (it may still fail to open).
pub fn is_current_format(sealed: &[u8]) -> bool {
    sealed.starts_with(MAGIC)
}

/// Opens secrets sealed in the first format (`cgsk1`, one PBKDF2 per secret). Only the
/// service's path for such records reaches it, and each is re-sealed in the current format
/// on its next successful use, so it runs at most once per legacy secret.
pub struct LegacyTotpSeal {
    passphrase: Zeroizing<Vec<u8>>,
}

impl LegacyTotpSeal {
    /// Keeps `passphrase` to open first-format secrets.
    pub fn new(passphrase: impl Into<Zeroizing<Vec<u8>>>) -> Self {
        LegacyTotpSeal {
            passphrase: passphrase.into(),
        }
    }

    /// Opens a first-format secret: one PBKDF2.
    pub fn open(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        sealed_key::open(sealed, &self.passphrase).map_err(|_| SealError::Broken)
    }
}

impl std::fmt::Debug for LegacyTotpSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LegacyTotpSeal(<redacted>)")
    }
}

/// The keys the TOTP service seals and opens secrets with.
#[derive(Debug)]
pub struct TotpSealing {
    current: TotpSealingKey,
    legacy: LegacyTotpSeal,
}

impl TotpSealing {
    /// Derives the current key from `passphrase` and the deployment's `salt` (the one
    /// PBKDF2 of the process), and keeps the passphrase for first-format secrets only.
    pub fn derive(passphrase: &[u8], salt: &[u8]) -> Result<Self, SealError> {
        Ok(TotpSealing {
            current: TotpSealingKey::derive(passphrase, salt)?,
            legacy: LegacyTotpSeal::new(passphrase.to_vec()),
        })
    }

    /// The key new secrets are sealed with and current-format secrets opened with.
    pub fn current(&self) -> &TotpSealingKey {
        &self.current
    }

    /// What opens first-format secrets.
    pub fn legacy(&self) -> &LegacyTotpSeal {
        &self.legacy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";
    const SALT: [u8; SEALING_SALT_LEN] = [7; SEALING_SALT_LEN];

    #[test]
    fn secrets_round_trip_under_the_derived_key_with_the_salt_in_the_header() {
        let key = TotpSealingKey::derive(b"correct horse", &SALT).expect("derive");
        let sealed = key.seal(SECRET).expect("seal");
        assert!(is_current_format(&sealed));
        assert_eq!(&sealed[5..21], &SALT);
        assert_eq!(sealed.len(), 5 + 16 + 12 + SECRET.len() + 16);
        assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET));
        assert_eq!(&*key.open(&sealed).expect("open"), SECRET);
        assert_ne!(key.seal(SECRET).expect("seal"), sealed, "a fresh nonce");
        // The same passphrase and salt on another node derive the same key.
        let again = TotpSealingKey::derive(b"correct horse", &SALT).expect("derive");
        assert_eq!(&*again.open(&sealed).expect("open"), SECRET);
    }

    #[test]
    fn another_passphrase_or_salt_or_tampering_breaks_the_seal() {
        let key = TotpSealingKey::derive(b"correct horse", &SALT).expect("derive");
        let sealed = key.seal(SECRET).expect("seal");
        let wrong = TotpSealingKey::derive(b"battery staple", &SALT).expect("derive");
        assert_eq!(wrong.open(&sealed), Err(SealError::Broken));
        let other_salt = TotpSealingKey::derive(b"correct horse", &[8; 16]).expect("derive");
        assert_eq!(other_salt.open(&sealed), Err(SealError::Broken));
        for index in [0, 5, 5 + 16, 5 + 16 + 12, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[index] ^= 0x01;
            assert_eq!(key.open(&tampered), Err(SealError::Broken), "byte {index}");
        }
        assert_eq!(
            key.open(&sealed[..5 + 16 + 12 + 15]),
            Err(SealError::Broken)
        );
    }

    #[test]
    fn first_format_secrets_open_only_through_the_legacy_seal() {
        let legacy = sealed_key::seal(SECRET, b"correct horse").expect("seal");
        assert!(!is_current_format(&legacy));
        let sealing = TotpSealing::derive(b"correct horse", &SALT).expect("derive");
        assert_eq!(sealing.current().open(&legacy), Err(SealError::Broken));
        assert_eq!(&*sealing.legacy().open(&legacy).expect("open"), SECRET);
    }

    #[test]
    fn empty_passphrases_and_salts_of_the_wrong_length_are_refused() {
        assert_eq!(
            TotpSealingKey::derive(b"", &SALT).err(),
            Some(SealError::EmptyPassphrase)
        );
        assert_eq!(
            TotpSealingKey::derive(b"pass", &[1; 8]).err(),
            Some(SealError::BadSalt(8))
        );
    }

    #[test]
    fn debug_never_shows_the_key_or_the_passphrase() {
        let sealing = TotpSealing::derive(b"correct horse", &SALT).expect("derive");
        let shown = format!("{sealing:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("correct horse"), "{shown}");
    }
}
