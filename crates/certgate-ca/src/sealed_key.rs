//! Private keys encrypted at rest with a passphrase.
//!
//! Format: `b"cgsk1" | salt (16) | nonce (12) | AES-256-GCM ciphertext + tag (16)`. The key is
//! PBKDF2-HMAC-SHA256(passphrase, salt, 210,000 iterations) (the OWASP 2023 figure for
//! PBKDF2-HMAC-SHA256), and the magic is the additional authenticated data, so the header
//! cannot be swapped for that of a future format without detection. A fresh salt per seal
//! gives a fresh key, so the random nonce is never reused under one key.

use std::num::NonZeroU32;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::CaError;

const MAGIC: &[u8] = b"cgsk1";
const SALT_LEN: usize = 16;
const TAG_LEN: usize = 16;
const KEY_LEN: usize = 32;
const ITERATIONS: NonZeroU32 = match NonZeroU32::new(210_000) {
    Some(n) => n,
    None => panic!("the iteration count is a non-zero constant"),
};

/// Encrypts `plaintext` (a PKCS#8 key) under `passphrase`. An empty passphrase is refused.
pub fn seal(plaintext: &[u8], passphrase: &[u8]) -> Result<Vec<u8>, CaError> {
    if passphrase.is_empty() {
        return Err(CaError::invalid(
            "passphrase",
            "must not be empty: it is all that protects the CA's private key at rest",
        ));
    }
    let rng = SystemRandom::new();
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    let random_failed = |_| CaError::CryptoFailed {
        operation: "random salt and nonce",
    };
    rng.fill(&mut salt).map_err(random_failed)?;
    rng.fill(&mut nonce).map_err(random_failed)?;
    let key = derive_key(passphrase, &salt)?;

    let mut sealed =
        Vec::with_capacity(MAGIC.len() + SALT_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
    sealed.extend_from_slice(MAGIC);
    sealed.extend_from_slice(&salt);
    sealed.extend_from_slice(&nonce);
    let mut in_out = Zeroizing::new(plaintext.to_vec());
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(MAGIC),
        &mut *in_out,
    )
    .map_err(|_| CaError::CryptoFailed {
        operation: "AES-256-GCM encryption",
    })?;
    sealed.extend_from_slice(&in_out);
    Ok(sealed)
}

/// Decrypts what [`seal`] produced. A wrong passphrase and altered bytes are
/// indistinguishable by design (`ca-key-seal-broken`); bytes without the header are
/// `ca-key-not-sealed`.
pub fn open(sealed: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, CaError> {
    let body = sealed.strip_prefix(MAGIC).ok_or(CaError::KeyNotSealed)?;
    if body.len() < SALT_LEN + NONCE_LEN + TAG_LEN {
        return Err(CaError::KeySealBroken);
    }
    let (salt, rest) = body.split_at(SALT_LEN);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CaError::KeySealBroken)?;
    let key = derive_key(passphrase, salt)?;
    let mut in_out = Zeroizing::new(ciphertext.to_vec());
    let plaintext_len = key
        .open_in_place(nonce, Aad::from(MAGIC), &mut in_out)
        .map_err(|_| CaError::KeySealBroken)?
        .len();
    in_out.truncate(plaintext_len);
    Ok(in_out)
}

/// True when `bytes` start with the sealed-key header (they may still fail to open).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn derive_key(passphrase: &[u8], salt: &[u8]) -> Result<LessSafeKey, CaError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        ITERATIONS,
        salt,
        passphrase,
        &mut *key,
    );
    let key = UnboundKey::new(&AES_256_GCM, &*key).map_err(|_| CaError::CryptoFailed {
        operation: "AES-256-GCM key setup",
    })?;
    Ok(LessSafeKey::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"-----not really a PKCS#8 key, but bytes all the same-----";

    #[test]
    fn sealed_keys_round_trip_and_carry_the_header() {
        let sealed = seal(SECRET, b"correct horse").expect("seal");
        assert!(is_sealed(&sealed));
        assert!(!is_sealed(SECRET));
        assert_eq!(sealed.len(), 5 + 16 + 12 + SECRET.len() + 16);
        assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET));
        assert_eq!(&*open(&sealed, b"correct horse").expect("open"), SECRET);
        // Fresh salt and nonce every time.
        assert_ne!(seal(SECRET, b"correct horse").expect("seal"), sealed);
    }

    #[test]
    fn wrong_passphrase_and_tampering_break_the_seal() {
        let sealed = seal(SECRET, b"correct horse").expect("seal");
        let error = open(&sealed, b"battery staple").expect_err("wrong passphrase");
        assert_eq!(error.code(), "ca-key-seal-broken");
        assert!(error
            .to_string()
            .contains("wrong passphrase or corrupted key"));
        for index in [5, 5 + 16, 5 + 16 + 12, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[index] ^= 0x01;
            let error = open(&tampered, b"correct horse").expect_err("tampered");
            assert_eq!(error.code(), "ca-key-seal-broken", "byte {index}");
        }
        let truncated = &sealed[..5 + 16 + 12 + 15];
        assert_eq!(
            open(truncated, b"correct horse").expect_err("short").code(),
            "ca-key-seal-broken"
        );
    }

    #[test]
    fn unsealed_bytes_and_empty_passphrases_are_refused() {
        assert_eq!(
            open(SECRET, b"correct horse").expect_err("plain").code(),
            "ca-key-not-sealed"
        );
        assert_eq!(
            seal(SECRET, b"").expect_err("empty").code(),
            "ca-invalid-request"
        );
    }
}
