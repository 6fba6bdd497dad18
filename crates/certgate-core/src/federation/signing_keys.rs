//! The federation service's token-signing keys (AD FS's token-signing certificates): RSA keys
//! with self-signed certificates, kept in the store with the private key sealed under
//! certgate's passphrase (`certgate_ca::sealed_key`), and rolled over without breaking relying
//! parties.
//!
//! A key goes Next → Current → Retired, as certgate's OIDC keys do. Next is published in the
//! metadata (SAML and FederationMetadata.xml) before it signs anything: Entra ID reads
//! `nextSigningCertificate` from the metadata and switches by itself when the rollover comes,
//! and SAML service providers that refresh metadata learn it ahead. Retired keys are no longer
//! published: an assertion is consumed within minutes of its issue.

use certgate_ca::sealed_key;
use certgate_pki::{Certificate, UnixTime};
use zeroize::Zeroizing;

use super::FederationError;

/// Where a key is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyState {
    /// Published in the metadata, not signing yet: relying parties learn it ahead of the rollover.
    Next,
    /// Signs the tokens; listed first in the metadata.
    Current,
    /// Rolled over; no longer published or used.
    Retired,
}

impl KeyState {
    /// `next`, `current` or `retired`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
        }
    }
    /// Reads the name [`as_str`](Self::as_str) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<KeyState> {
        match text {
            "next" => Some(KeyState::Next),
            "current" => Some(KeyState::Current),
            "retired" => Some(KeyState::Retired),
            _ => None,
        }
    }
}

/// A token-signing key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSigningKey {
    /// SHA-1 thumbprint of the certificate, upper-case hex (how Windows, AD FS and Entra name
    /// a signing certificate).
    pub thumbprint: String,
    /// Next, Current or Retired.
    pub state: KeyState,
    /// The self-signed certificate, DER, as published in the metadata.
    pub certificate_der: Vec<u8>,
    /// PKCS#8, sealed with `certgate_ca::sealed_key`.
    pub sealed_private_key: Vec<u8>,
    /// The certificate's notAfter.
    pub not_after: UnixTime,
    /// When it was generated.
    pub created_at: UnixTime,
    /// When it became Current (None while Next).
    pub activated_at: Option<UnixTime>,
    /// When it was retired (None until then).
    pub retired_at: Option<UnixTime>,
}

impl std::fmt::Debug for TokenSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigningKey")
            .field("thumbprint", &self.thumbprint)
            .field("state", &self.state)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// How long a token-signing certificate is valid: AD FS's default (one year).
pub const TOKEN_SIGNING_VALIDITY_DAYS: u32 = 365;
/// Rotate automatically when Current has less than this left (Entra ID rolls over from
/// metadata 30 days before expiry; rotating at 20 leaves it those 10 days to have done so).
pub const AUTOMATIC_ROTATION_BEFORE_EXPIRY_SECONDS: i64 = 20 * 86_400;

/// Generates a key and its self-signed certificate (`CN=<common_name>`), sealed.
pub fn generate_token_signing_key(
    common_name: &str,
    state: KeyState,
    passphrase: &[u8],
    now: UnixTime,
) -> Result<TokenSigningKey, FederationError> {
    let at = time::OffsetDateTime::from_unix_timestamp(now.0).map_err(|_| {
        FederationError::invalid("now", &now.0.to_string(), "not a representable time")
    })?;
    let issued = certgate_ca::create_token_signing_certificate(
        common_name,
        certgate_ca::KeyAlgorithm::Rsa2048,
        TOKEN_SIGNING_VALIDITY_DAYS,
        at,
    )
    .map_err(FederationError::Key)?;
    let sealed = sealed_key::seal(&issued.private_key_pkcs8_der, passphrase)
        .map_err(FederationError::Key)?;
    Ok(TokenSigningKey {
        thumbprint: thumbprint(&issued.certificate_der),
        state,
        not_after: UnixTime(issued.not_after.unix_timestamp()),
        certificate_der: issued.certificate_der,
        sealed_private_key: sealed,
        created_at: now,
        activated_at: (state == KeyState::Current).then_some(now),
        retired_at: None,
    })
}

impl TokenSigningKey {
    /// The PKCS#8 private key. `ca-key-seal-broken` for a wrong passphrase.
    pub fn open(&self, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, FederationError> {
        sealed_key::open(&self.sealed_private_key, passphrase).map_err(FederationError::Key)
    }

    /// The certificate, parsed; `federation-key-corrupt` when the stored bytes do not parse.
    pub fn certificate(&self) -> Result<Certificate, FederationError> {
        Certificate::from_der(&self.certificate_der).map_err(|reason| FederationError::KeyCorrupt {
            thumbprint: self.thumbprint.clone(),
            why: reason.code().to_owned(),
        })
    }
}

/// The upper-case hex SHA-1 of a DER certificate.
pub fn thumbprint(certificate_der: &[u8]) -> String {
    crate::hex(
        aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            certificate_der,
        )
        .as_ref(),
    )
    .to_ascii_uppercase()
}

/// The keys to publish, Current first then Next; and the one that signs.
#[derive(Clone, Debug)]
pub struct PublishedKeys {
    /// The key that signs.
    pub current: TokenSigningKey,
    /// The key that signs after the next rollover; `None` only in a store certgate did not set up.
    pub next: Option<TokenSigningKey>,
}

impl PublishedKeys {
    /// `None` when no key is Current (the service was never initialized).
    pub fn from_keys(keys: &[TokenSigningKey]) -> Option<PublishedKeys> {
        let current = keys.iter().find(|k| k.state == KeyState::Current)?.clone();
        let next = keys.iter().find(|k| k.state == KeyState::Next).cloned();
        Some(PublishedKeys { current, next })
    }

    /// The certificates for metadata: Current, then Next.
    pub fn certificates(&self) -> Vec<Vec<u8>> {
        let mut out = vec![self.current.certificate_der.clone()];
        if let Some(next) = &self.next {
            out.push(next.certificate_der.clone());
        }
        out
    }

    /// Whether the automatic rollover is due: Current expires within
    /// [`AUTOMATIC_ROTATION_BEFORE_EXPIRY_SECONDS`].
    pub fn rotation_due(&self, now: UnixTime) -> bool {
        self.current.not_after.0 - now.0 < AUTOMATIC_ROTATION_BEFORE_EXPIRY_SECONDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_open_with_their_passphrase_only() {
        let key = generate_token_signing_key(
            "certgate token signing",
            KeyState::Next,
            b"pass",
            UnixTime(1_767_225_600),
        )
        .unwrap();
        assert_eq!(key.thumbprint.len(), 40);
        assert!(key.open(b"pass").is_ok());
        assert_eq!(key.open(b"wrong").unwrap_err().code(), "ca-key-seal-broken");
        assert_eq!(
            key.certificate().unwrap().subject().to_rfc4514(),
            "CN=certgate token signing"
        );
        assert_eq!(key.activated_at, None);
        let keys = vec![key.clone()];
        assert!(PublishedKeys::from_keys(&keys).is_none(), "no Current key");
        let current = TokenSigningKey {
            state: KeyState::Current,
            ..key
        };
        let published = PublishedKeys::from_keys(std::slice::from_ref(&current)).unwrap();
        assert!(!published.rotation_due(UnixTime(1_767_225_600)));
        assert!(published.rotation_due(UnixTime(current.not_after.0 - 86_400)));
    }
}
