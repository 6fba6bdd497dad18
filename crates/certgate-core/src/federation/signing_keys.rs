//! The federation service's token-signing keys (AD FS's token-signing certificates): RSA keys
//! with self-signed certificates, kept in the store with the private key sealed under
//! certgate's passphrase (`certgate_ca::sealed_key`), and rolled over without breaking relying
//! parties.
//!
//! A key goes Next → Current → Retired, through the life cycle the OIDC keys share
//! ([`crate::key_rollover`]); this service's rules are [`ROLLOVER`]. Next is published in the
//! metadata (SAML and FederationMetadata.xml) before it signs anything: Entra ID reads
//! `nextSigningCertificate` from the metadata and switches by itself when the rollover comes,
//! and SAML service providers that refresh metadata learn it ahead. Retired keys are no longer
//! published (an assertion is consumed within minutes of its issue) but stay in the store.

use std::time::Duration;

use certgate_ca::sealed_key;
use certgate_pki::{Certificate, UnixTime};
use zeroize::Zeroizing;

pub use crate::key_rollover::KeyState;
use crate::key_rollover::{Lifecycle, RetiredKeys, RolloverKey, RolloverPolicy, RotationSchedule};

use super::FederationError;

/// A token-signing key as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSigningKey {
    /// SHA-1 thumbprint of the certificate, upper-case hex (how Windows, AD FS and Entra name
    /// a signing certificate).
    pub thumbprint: String,
    /// The self-signed certificate, DER, as published in the metadata.
    pub certificate_der: Vec<u8>,
    /// PKCS#8, sealed with `certgate_ca::sealed_key`.
    pub sealed_private_key: Vec<u8>,
    /// The certificate's notAfter.
    pub not_after: UnixTime,
    /// Its state (Next, Current or Retired) and when it was generated, activated and retired.
    pub lifecycle: Lifecycle,
}

impl std::fmt::Debug for TokenSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigningKey")
            .field("thumbprint", &self.thumbprint)
            .field("state", &self.lifecycle.state)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// How long a token-signing certificate is valid: AD FS's default (one year).
pub(crate) const TOKEN_SIGNING_VALIDITY_DAYS: u32 = 365;
/// Rotate automatically when Current has less than this left (Entra ID rolls over from
/// metadata 30 days before expiry; rotating at 20 leaves it those 10 days to have done so).
pub(crate) const AUTOMATIC_ROTATION_BEFORE_EXPIRY_SECONDS: i64 = 20 * 86_400;

/// The federation service's rollover rules: a Retired key is unpublished at once and kept in
/// the store; the keys rotate [`AUTOMATIC_ROTATION_BEFORE_EXPIRY_SECONDS`] before Current's
/// certificate expires.
pub(crate) const ROLLOVER: RolloverPolicy = RolloverPolicy {
    retired: RetiredKeys::KeptUnpublished,
    rotation: RotationSchedule::BeforeExpiry(Duration::from_secs(
        AUTOMATIC_ROTATION_BEFORE_EXPIRY_SECONDS as u64,
    )),
};

impl RolloverKey for TokenSigningKey {
    type Id = String;

    fn key_id(&self) -> String {
        self.thumbprint.clone()
    }

    fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    fn set_lifecycle(&mut self, lifecycle: Lifecycle) {
        self.lifecycle = lifecycle;
    }

    fn not_after(&self) -> Option<UnixTime> {
        Some(self.not_after)
    }
}

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
        not_after: UnixTime(issued.not_after.unix_timestamp()),
        certificate_der: issued.certificate_der,
        sealed_private_key: sealed,
        lifecycle: Lifecycle::new(state, now),
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
pub(crate) fn thumbprint(certificate_der: &[u8]) -> String {
    crate::hex(
        aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            certificate_der,
        )
        .as_ref(),
    )
    .to_ascii_uppercase()
}

/// The keys to publish, Current first then Next (`ROLLOVER` publishes no Retired key); and
/// the one that signs.
#[derive(Clone, Debug)]
pub struct PublishedKeys {
    /// The key that signs.
    pub current: TokenSigningKey,
    /// The key that signs after the next rollover; `None` only in a store certgate did not set up.
    pub next: Option<TokenSigningKey>,
}

impl PublishedKeys {
    /// The keys `ROLLOVER` publishes at `now`; `None` when no key is Current (the service
    /// was never initialized).
    pub fn from_keys(keys: &[TokenSigningKey], now: UnixTime) -> Option<PublishedKeys> {
        let published = ROLLOVER.published(keys, now);
        let in_state = |state: KeyState| {
            published
                .iter()
                .find(|k| k.lifecycle.state == state)
                .copied()
        };
        Some(PublishedKeys {
            current: in_state(KeyState::Current)?.clone(),
            next: in_state(KeyState::Next).cloned(),
        })
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
    /// `AUTOMATIC_ROTATION_BEFORE_EXPIRY_SECONDS` (`ROLLOVER`).
    pub fn rotation_due(&self, now: UnixTime) -> bool {
        ROLLOVER.rotation_due(std::slice::from_ref(&self.current), now)
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
        assert_eq!(key.lifecycle.activated_at, None);
        let keys = vec![key.clone()];
        let now = UnixTime(1_767_225_600);
        assert!(
            PublishedKeys::from_keys(&keys, now).is_none(),
            "no Current key"
        );
        let current = TokenSigningKey {
            lifecycle: Lifecycle {
                state: KeyState::Current,
                ..key.lifecycle
            },
            ..key
        };
        let published = PublishedKeys::from_keys(std::slice::from_ref(&current), now).unwrap();
        assert!(!published.rotation_due(UnixTime(1_767_225_600)));
        assert!(published.rotation_due(UnixTime(current.not_after.0 - 86_400)));
    }

    #[test]
    fn retired_keys_are_kept_but_not_published_and_a_rotation_deletes_none() {
        let now = UnixTime(1_767_225_600);
        let generate = |state| generate_token_signing_key("t", state, b"pass", now).unwrap();
        let [current, next] =
            crate::key_rollover::initial_keys(|state| Ok::<_, ()>(generate(state))).unwrap();
        let mut retired = generate(KeyState::Retired);
        retired.lifecycle.retired_at = Some(now);
        let keys = vec![retired.clone(), next.clone(), current.clone()];
        let published = PublishedKeys::from_keys(&keys, now).unwrap();
        assert_eq!(published.current.thumbprint, current.thumbprint);
        assert_eq!(published.next.as_ref().unwrap().thumbprint, next.thumbprint);
        assert_eq!(
            published.certificates(),
            vec![
                current.certificate_der.clone(),
                next.certificate_der.clone()
            ]
        );
        let rotation = ROLLOVER
            .plan_rotation(
                &keys,
                generate(KeyState::Next),
                UnixTime(now.0 + 10 * 365 * 86_400),
            )
            .unwrap();
        assert_eq!(
            (rotation.retire, rotation.promote, rotation.purge),
            (current.thumbprint, next.thumbprint, vec![])
        );
    }
}
