//! Proof Key for Code Exchange (RFC 7636), S256 only.
//!
//! `plain` is refused: it protects nothing against an attacker who can read the authorization
//! request (RFC 9700 §2.1.1 recommends S256), and a server that accepts both invites a
//! downgrade.

use aws_lc_rs::digest::{digest, SHA256};
use certgate_pki::ReasonCode;
use serde::{Deserialize, Serialize};

use crate::secret::base64url;

/// A `code_challenge` sent with `code_challenge_method=S256`: BASE64URL(SHA256(verifier)),
/// always 43 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CodeChallenge(String);

/// Why a challenge or verifier was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// `code_challenge_method` is missing (meaning `plain`, RFC 7636 §4.3) or not `S256`.
    #[error("code_challenge_method must be S256 (plain is not accepted)")]
    MethodUnsupported,
    /// `code_challenge` is not 43 base64url characters.
    #[error("code_challenge must be 43 base64url characters (an S256 hash)")]
    ChallengeMalformed,
    /// `code_verifier` breaks RFC 7636 §4.1's length or character set.
    #[error("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)")]
    VerifierMalformed,
}

impl PkceError {
    /// Every code [`PkceError::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "pkce-method-unsupported",
            "The authorization request's code_challenge_method is missing (which means plain, RFC 7636 §4.3) or is not S256; certgate accepts S256 only, as RFC 9700 §2.1.1 recommends.",
            "Developers: send code_challenge_method=S256 with code_challenge = BASE64URL(SHA256(code_verifier)) (RFC 7636 §4.2).",
        ),
        ReasonCode::new(
            "pkce-challenge-malformed",
            "The code_challenge is not 43 base64url characters, the form of an S256 challenge (RFC 7636 §4.2).",
            "Developers: send BASE64URL(SHA256(code_verifier)) without padding as code_challenge.",
        ),
        ReasonCode::new(
            "pkce-verifier-malformed",
            "The code_verifier is not 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1).",
            "Developers: make the code_verifier as RFC 7636 §4.1 says (32 random bytes, base64url-encoded) and send the same one to the token endpoint.",
        ),
    ];

    /// The stable reason code (see [`PkceError::CODES`]).
    pub fn code(self) -> &'static str {
        match self {
            PkceError::MethodUnsupported => "pkce-method-unsupported",
            PkceError::ChallengeMalformed => "pkce-challenge-malformed",
            PkceError::VerifierMalformed => "pkce-verifier-malformed",
        }
    }
}

impl CodeChallenge {
    /// Reads `code_challenge` and `code_challenge_method` from an authorization request. A
    /// missing method means `plain` (RFC 7636 §4.3), which is refused.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<CodeChallenge, PkceError> {
        if method != Some("S256") {
            return Err(PkceError::MethodUnsupported);
        }
        let valid = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(PkceError::ChallengeMalformed);
        }
        Ok(CodeChallenge(challenge.to_owned()))
    }

    /// The S256 challenge of `verifier` (RFC 7636 §4.2).
    pub fn s256(verifier: &str) -> CodeChallenge {
        CodeChallenge(base64url(digest(&SHA256, verifier.as_bytes()).as_ref()))
    }

    /// The challenge as received and stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge,
    /// compared in constant time.
    pub fn verify(&self, verifier: &str) -> Result<bool, PkceError> {
        let valid = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !valid {
            return Err(PkceError::VerifierMalformed);
        }
        let computed = CodeChallenge::s256(verifier);
        Ok(aws_lc_rs::constant_time::verify_slices_are_equal(
            computed.0.as_bytes(),
            self.0.as_bytes(),
        )
        .is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b_vector() {
        assert_eq!(CodeChallenge::s256(VERIFIER).as_str(), CHALLENGE);
        let challenge = CodeChallenge::parse(CHALLENGE, Some("S256")).expect("valid");
        assert_eq!(challenge.verify(VERIFIER), Ok(true));
        let other = format!("{}A", &VERIFIER[..VERIFIER.len() - 1]);
        assert_eq!(challenge.verify(&other), Ok(false));
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        assert_eq!(
            CodeChallenge::parse(CHALLENGE, Some("plain")),
            Err(PkceError::MethodUnsupported)
        );
        assert_eq!(
            CodeChallenge::parse(CHALLENGE, None),
            Err(PkceError::MethodUnsupported)
        );
        assert_eq!(
            CodeChallenge::parse(CHALLENGE, Some("s256")),
            Err(PkceError::MethodUnsupported)
        );
    }

    #[test]
    fn malformed_challenges_and_verifiers_are_refused() {
        for challenge in [
            &CHALLENGE[..42],
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
        ] {
            assert_eq!(
                CodeChallenge::parse(challenge, Some("S256")),
                Err(PkceError::ChallengeMalformed)
            );
        }
        let challenge = CodeChallenge::s256(VERIFIER);
        for verifier in [
            &VERIFIER[..42],
            &"a".repeat(129),
            &format!("{}!", &VERIFIER[..43]),
        ] {
            assert_eq!(
                challenge.verify(verifier),
                Err(PkceError::VerifierMalformed)
            );
        }
        assert_eq!(challenge.verify(&"a".repeat(128)), Ok(false));
    }
}
