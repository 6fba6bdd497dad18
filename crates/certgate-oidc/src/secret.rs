//! Bearer secrets (authorization codes, refresh tokens, client secrets) and their hashes.
//!
//! A secret is 32 bytes from the system's random generator, base64url without padding (43
//! characters), handed out once. Only its SHA-256 hash is stored, so a copy of the database
//! redeems nothing; lookups go by hash, so no comparison ever runs on the secret itself.

use std::fmt;

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use certgate_pki::ReasonCode;
use zeroize::Zeroizing;

/// The system random generator failed: nothing secret can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomUnavailable;

impl RandomUnavailable {
    /// The entry of `random-unavailable`, the code every error type of this crate answers
    /// with when the random generator failed. One constant, so that each type's `CODES`
    /// gives the code the same meaning.
    pub const REASON: ReasonCode = ReasonCode::new(
        "random-unavailable",
        "The operating system's random number generator failed, so certgate could not create a secret, identifier or key it needed (an authorization code, a token, a client secret, a sign-in state). Nothing was issued or changed.",
        "Try again in a minute. Administrators: if it persists, check the host's entropy source; the server log has the error under the correlation ID.",
    );
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], RandomUnavailable> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomUnavailable)?;
    Ok(bytes)
}

pub(crate) fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// A secret given to a client exactly once. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// 32 fresh random bytes, base64url without padding.
    pub fn generate() -> Result<Secret, RandomUnavailable> {
        let bytes = Zeroizing::new(random_bytes::<32>()?);
        Ok(Secret(Zeroizing::new(base64url(&*bytes))))
    }

    /// The text to hand to the client (the only time it exists outside the client).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the secret: what is stored in its place.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// SHA-256 of a secret's text: what the store keeps and looks up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// The hash of what a client presented.
    pub fn of(presented: &str) -> SecretHash {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(digest(&SHA256, presented.as_bytes()).as_ref());
        SecretHash(hash)
    }

    /// Compares in constant time (client secrets are checked against one stored hash, not
    /// looked up by it).
    pub fn matches(&self, other: &SecretHash) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }

    /// Lowercase hex, as stored.
    pub fn to_hex(&self) -> String {
        certgate_core::hex(&self.0)
    }

    /// From the stored hex form ([`SecretHash::to_hex`]); None unless it is 32 bytes of hex.
    pub fn from_hex(text: &str) -> Option<SecretHash> {
        let bytes = certgate_core::parse_hex(text)?;
        Some(SecretHash(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({})", &self.to_hex()[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_43_base64url_characters_and_distinct() {
        let a = Secret::generate().expect("random");
        let b = Secret::generate().expect("random");
        assert_eq!(a.expose().len(), 43);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn hashes_round_trip_through_hex_and_compare() {
        let secret = Secret::generate().expect("random");
        let hash = secret.hash();
        assert_eq!(SecretHash::from_hex(&hash.to_hex()), Some(hash));
        assert!(hash.matches(&SecretHash::of(secret.expose())));
        assert!(!hash.matches(&SecretHash::of("something else")));
        assert_eq!(SecretHash::from_hex("abcd"), None);
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            SecretHash::of("abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
