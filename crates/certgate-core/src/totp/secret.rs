//! The shared secret and the one-time password algorithm: HOTP (RFC 4226 §5.3) over the
//! time-step counter of TOTP (RFC 6238 §4).

use std::fmt;

use aws_lc_rs::constant_time;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use certgate_pki::UnixTime;
use zeroize::Zeroizing;

/// Seconds per time step: RFC 6238 §5.2's recommended X = 30, the period authenticator apps
/// and Entra's OATH tokens share.
pub const PERIOD_SECONDS: u64 = 30;

/// The shortest key accepted (RFC 4226 §4, R6: at least 128 bits).
pub const MIN_KEY_BYTES: usize = 16;

/// The longest key accepted: more than any HMAC block; a longer one is a damaged record.
const MAX_KEY_BYTES: usize = 128;

/// The HMAC under HOTP. SHA-1 is what every authenticator app supports (RFC 6238's default);
/// SHA-256 is offered because Entra's OATH tokens support it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1: RFC 6238's default and the only algorithm every authenticator app supports.
    Sha1,
    /// HMAC-SHA-256 (RFC 6238 §1.2 allows it; Entra's OATH hardware tokens can use it).
    Sha256,
}

impl TotpAlgorithm {
    /// The name in otpauth URIs and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            TotpAlgorithm::Sha1 => "SHA1",
            TotpAlgorithm::Sha256 => "SHA256",
        }
    }

    /// Reads the name [`as_str`](Self::as_str) writes (`SHA1`, `SHA256`; upper case only); `None`
    /// for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "SHA1" => Some(TotpAlgorithm::Sha1),
            "SHA256" => Some(TotpAlgorithm::Sha256),
            _ => None,
        }
    }

    /// The key length of generated secrets: the HMAC's output length (160 bits for SHA-1 as
    /// RFC 4226 §4 recommends; 256 bits for SHA-256, as in RFC 6238 Appendix B).
    pub fn key_len(self) -> usize {
        match self {
            TotpAlgorithm::Sha1 => 20,
            TotpAlgorithm::Sha256 => 32,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            // HMAC-SHA-1 is not weakened by SHA-1's collisions (RFC 4226 Appendix A.2); it
            // is still the algorithm authenticator apps implement.
            TotpAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            TotpAlgorithm::Sha256 => hmac::HMAC_SHA256,
        }
    }
}

/// Code length. Six is what authenticator apps show; eight is what RFC 6238's test vectors
/// use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Digits {
    /// Six-digit codes, what authenticator apps show.
    Six,
    /// Eight-digit codes (RFC 6238 Appendix B's test vectors).
    Eight,
}

impl Digits {
    /// The number of digits: 6 or 8.
    pub fn count(self) -> u32 {
        match self {
            Digits::Six => 6,
            Digits::Eight => 8,
        }
    }

    /// Reads a stored digit count; `None` for anything but 6 and 8.
    pub fn parse(count: i64) -> Option<Self> {
        match count {
            6 => Some(Digits::Six),
            8 => Some(Digits::Eight),
            _ => None,
        }
    }

    fn modulus(self) -> u32 {
        10u32.pow(self.count())
    }
}

/// The system's random generator failed; no secret was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomUnavailable;

/// A TOTP key with the parameters it is used with (an otpauth URI carries them together).
/// The key is wiped from memory on drop and never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret {
    key: Zeroizing<Vec<u8>>,
    algorithm: TotpAlgorithm,
    digits: Digits,
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpSecret")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TotpSecret {
    /// A fresh random key of [`TotpAlgorithm::key_len`] bytes, for six-digit codes.
    pub fn generate(algorithm: TotpAlgorithm) -> Result<Self, RandomUnavailable> {
        let mut key = Zeroizing::new(vec![0u8; algorithm.key_len()]);
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| RandomUnavailable)?;
        Ok(TotpSecret {
            key,
            algorithm,
            digits: Digits::Six,
        })
    }

    /// A secret from its raw key. `None` when the key is shorter than [`MIN_KEY_BYTES`] or
    /// longer than 128 bytes.
    pub fn from_key(key: &[u8], algorithm: TotpAlgorithm, digits: Digits) -> Option<Self> {
        (MIN_KEY_BYTES..=MAX_KEY_BYTES)
            .contains(&key.len())
            .then(|| TotpSecret {
                key: Zeroizing::new(key.to_vec()),
                algorithm,
                digits,
            })
    }

    /// A secret from its base32 text (as authenticator apps and hardware-token sheets show
    /// it: any case, spaces and `=` padding allowed). `None` when it is not base32 or the key
    /// is too short.
    pub fn from_base32(text: &str, algorithm: TotpAlgorithm, digits: Digits) -> Option<Self> {
        let key = Zeroizing::new(base32_decode(text)?);
        Self::from_key(&key, algorithm, digits)
    }

    /// The key as RFC 4648 base32 without padding, the form people type into an app.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32_encode(&self.key))
    }

    /// The raw key, for sealing it at rest.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The HMAC the codes are computed with.
    pub fn algorithm(&self) -> TotpAlgorithm {
        self.algorithm
    }

    /// How many digits the codes have.
    pub fn digits(&self) -> Digits {
        self.digits
    }
}

/// The time step of `at`: T = floor(unix time / 30) (RFC 6238 §4.2). Times before 1970 are
/// step 0.
pub fn time_step(at: UnixTime) -> u64 {
    u64::try_from(at.0).unwrap_or(0) / PERIOD_SECONDS
}

/// The code `secret` produces at `at`: TOTP(K, T) = HOTP(K, T) (RFC 6238 §4.2).
pub fn code_at(secret: &TotpSecret, at: UnixTime) -> String {
    hotp(secret, time_step(at))
}

/// HOTP(K, C) (RFC 4226 §5.3): HMAC over the 8-byte big-endian counter, dynamic truncation
/// (the low nibble of the last byte is the offset of 31 bits), modulo 10^digits, zero-padded.
pub(crate) fn hotp(secret: &TotpSecret, counter: u64) -> String {
    let key = hmac::Key::new(secret.algorithm.hmac(), &secret.key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // The last byte exists and offset + 3 < 20 <= mac.len() for SHA-1 and SHA-256 alike.
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    let digits = secret.digits.count() as usize;
    format!("{:0digits$}", binary % secret.digits.modulus())
}

/// Compares two codes without leaking through timing how much of them matched.
pub(crate) fn codes_equal(expected: &str, given: &str) -> bool {
    constant_time::verify_slices_are_equal(expected.as_bytes(), given.as_bytes()).is_ok()
}

// Base32 (RFC 4648 §6) by hand: the `data-encoding` crate is in Cargo.lock only as
// x509-parser's dependency, and declaring it would mean editing the shared workspace manifest
// for forty lines that the RFC's own vectors test below.

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = ((buffer << 8) | u32::from(byte)) & 0xfff;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// Decodes base32 in any case, ignoring spaces and trailing `=`. `None` for any other
/// character or a length no encoding produces.
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b' ') {
        let value = match c.to_ascii_uppercase() {
            upper @ b'A'..=b'Z' => upper - b'A',
            digit @ b'2'..=b'7' => digit - b'2' + 26,
            _ => return None,
        };
        buffer = ((buffer << 5) | u32::from(value)) & 0xfff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    // Five or more bits left over means a character that carries no whole byte.
    (bits < 5).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B seeds: ASCII "1234567890" repeated to the HMAC's output length.
    fn rfc6238_secret(algorithm: TotpAlgorithm) -> TotpSecret {
        let seed = b"1234567890".repeat(4);
        TotpSecret::from_key(&seed[..algorithm.key_len()], algorithm, Digits::Eight)
            .expect("RFC seed")
    }

    #[test]
    fn rfc6238_appendix_b_vectors_sha1_and_sha256() {
        // (time, SHA-1 code, SHA-256 code), RFC 6238 Appendix B.
        let vectors = [
            (59, "94287082", "46119246"),
            (1_111_111_109, "07081804", "68084774"),
            (1_111_111_111, "14050471", "67062674"),
            (1_234_567_890, "89005924", "91819424"),
            (2_000_000_000, "69279037", "90698825"),
            (20_000_000_000, "65353130", "77737706"),
        ];
        let sha1 = rfc6238_secret(TotpAlgorithm::Sha1);
        let sha256 = rfc6238_secret(TotpAlgorithm::Sha256);
        for (time, expected_sha1, expected_sha256) in vectors {
            assert_eq!(
                code_at(&sha1, UnixTime(time)),
                expected_sha1,
                "SHA-1 at {time}"
            );
            assert_eq!(
                code_at(&sha256, UnixTime(time)),
                expected_sha256,
                "SHA-256 at {time}"
            );
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp_vectors() {
        let secret =
            TotpSecret::from_key(b"12345678901234567890", TotpAlgorithm::Sha1, Digits::Six)
                .expect("RFC seed");
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(&secret, counter as u64), *code, "counter {counter}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_low_digits_of_the_eight_digit_ones() {
        let eight = rfc6238_secret(TotpAlgorithm::Sha1);
        let six = TotpSecret::from_key(eight.key(), TotpAlgorithm::Sha1, Digits::Six).expect("key");
        assert_eq!(code_at(&six, UnixTime(59)), "287082");
        assert_eq!(code_at(&six, UnixTime(1_111_111_109)), "081804");
    }

    #[test]
    fn time_steps_are_thirty_seconds_from_the_epoch() {
        assert_eq!(time_step(UnixTime(0)), 0);
        assert_eq!(time_step(UnixTime(29)), 0);
        assert_eq!(time_step(UnixTime(30)), 1);
        assert_eq!(time_step(UnixTime(59)), 1);
        assert_eq!(time_step(UnixTime(-5)), 0);
    }

    #[test]
    fn base32_matches_rfc4648_section_10_without_padding() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (bytes, text) in vectors {
            assert_eq!(base32_encode(bytes), text);
            assert_eq!(base32_decode(text).as_deref(), Some(bytes), "{text}");
        }
        assert_eq!(
            base32_decode("mzxw6ytboi======").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(
            base32_decode("MZXW 6YTB OI").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(base32_decode("MZXW1"), None, "1 is not in the alphabet");
        assert_eq!(base32_decode("M"), None, "one character carries no byte");
        assert_eq!(
            base32_decode("MZX"),
            None,
            "three characters are never produced"
        );
    }

    #[test]
    fn secrets_round_trip_through_base32_and_refuse_short_keys() {
        let secret = TotpSecret::generate(TotpAlgorithm::Sha1).expect("random");
        assert_eq!(secret.key().len(), 20);
        assert_eq!(secret.digits(), Digits::Six);
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        let back = TotpSecret::from_base32(&text, TotpAlgorithm::Sha1, Digits::Six).expect("back");
        assert_eq!(back, secret);
        assert_eq!(
            TotpSecret::generate(TotpAlgorithm::Sha256)
                .expect("random")
                .key()
                .len(),
            32
        );
        assert_ne!(
            TotpSecret::generate(TotpAlgorithm::Sha1).expect("random"),
            secret
        );

        assert!(TotpSecret::from_key(&[7; 15], TotpAlgorithm::Sha1, Digits::Six).is_none());
        assert!(TotpSecret::from_key(&[7; 16], TotpAlgorithm::Sha1, Digits::Six).is_some());
        assert!(TotpSecret::from_key(&[7; 129], TotpAlgorithm::Sha1, Digits::Six).is_none());
        assert!(TotpSecret::from_base32("not base32!", TotpAlgorithm::Sha1, Digits::Six).is_none());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let secret =
            TotpSecret::from_key(b"12345678901234567890", TotpAlgorithm::Sha1, Digits::Six)
                .expect("key");
        let shown = format!("{secret:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("49, 50"), "{shown}");
        assert!(!shown.contains("GEZDGNBV"), "{shown}");
    }

    #[test]
    fn algorithm_and_digits_names_round_trip() {
        for algorithm in [TotpAlgorithm::Sha1, TotpAlgorithm::Sha256] {
            assert_eq!(TotpAlgorithm::parse(algorithm.as_str()), Some(algorithm));
        }
        assert_eq!(TotpAlgorithm::parse("sha1"), None);
        for digits in [Digits::Six, Digits::Eight] {
            assert_eq!(Digits::parse(i64::from(digits.count())), Some(digits));
        }
        assert_eq!(Digits::parse(7), None);
    }
}
