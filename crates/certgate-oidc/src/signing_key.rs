//! Token signing keys, their rotation, and the JWKS (RFC 7517) that publishes them.
//!
//! Keys are ECDSA P-256 (JWS `ES256`, RFC 7518 §3.4), generated with aws-lc-rs and kept in the
//! store as PKCS#8 sealed with `certgate_ca::sealed_key` under the caller's passphrase; the
//! public point is stored beside it so that listing keys needs no passphrase.
//!
//! A key goes Next → Current → Retired, through the life cycle the federation service's keys
//! share ([`certgate_core::key_rollover`]); this provider's rules are [`rollover_policy`].
//! Next is published before it signs anything, so relying parties that cache the JWKS already
//! know it when a rotation makes it Current; Retired stays published until every token it
//! signed has expired (`retired_at + max_token_lifetime`), so a rotation never invalidates a
//! token in flight, and the next rotation after that deletes it. The `kid` is the key's RFC
//! 7638 thumbprint.
//!
//! JWTs are signed and verified with `jsonwebtoken`; its JWK helpers are not used because the
//! public point is at hand (aws-lc-rs gives it uncompressed) and the JWKS shape is part of
//! certgate's contract, so it is written out here. Its time checks are switched off: the
//! time is a parameter here, never the system clock.

use std::collections::HashSet;
use std::time::Duration;

use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use certgate_ca::CaError;
use certgate_core::key_rollover::{
    self, Lifecycle, RetiredKeys, RolloverError, RolloverKey, RolloverPolicy, Rotation,
    RotationSchedule,
};
use certgate_pki::{ReasonCode, UnixTime};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::secret::{base64url, RandomUnavailable};

/// The one JWS algorithm certgate signs with.
pub const SIGNING_ALGORITHM: &str = "ES256";

pub use certgate_core::key_rollover::KeyState;

/// How long a key stays Current before the next one takes over (the next key is published in
/// the JWKS from the start, so relying parties that cache it see no gap).
pub const KEY_ROTATION_PERIOD: Duration = Duration::from_secs(30 * 86_400);

/// The provider's rollover rules: a Retired key stays published `max_token_lifetime` after its
/// retirement (then a rotation deletes it); the keys rotate every [`KEY_ROTATION_PERIOD`].
pub fn rollover_policy(max_token_lifetime: Duration) -> RolloverPolicy {
    RolloverPolicy {
        retired: RetiredKeys::PublishedFor(max_token_lifetime),
        rotation: RotationSchedule::AfterCurrentFor(KEY_ROTATION_PERIOD),
    }
}

/// A key's `kid`: its RFC 7638 JWK thumbprint (SHA-256, base64url).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl KeyId {
    /// The `kid` as in the JWS header and the JWKS.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A signing key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The key's `kid` (its RFC 7638 thumbprint).
    pub kid: KeyId,
    /// The uncompressed P-256 point (SEC 1 §2.3.3: `04 | x | y`, 65 bytes).
    pub public_key: Vec<u8>,
    /// PKCS#8, sealed with `certgate_ca::sealed_key::seal`.
    pub sealed_private_key: Vec<u8>,
    /// Its state (Next, Current or Retired) and when it was generated, activated and retired.
    pub lifecycle: Lifecycle,
}

impl SigningKeyRecord {
    /// A fresh P-256 key in `state`, sealed under `passphrase`.
    pub fn generate(
        passphrase: &[u8],
        state: KeyState,
        now: UnixTime,
    ) -> Result<SigningKeyRecord, KeyError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| KeyError::GenerationFailed)?;
        let pkcs8 = Zeroizing::new(
            pair.to_pkcs8v1()
                .map_err(|_| KeyError::GenerationFailed)?
                .as_ref()
                .to_vec(),
        );
        let public_key = pair.public_key().as_ref().to_vec();
        let point = EcPoint::from_uncompressed(&public_key).ok_or(KeyError::GenerationFailed)?;
        let lifecycle = Lifecycle::new(state, now);
        Ok(SigningKeyRecord {
            kid: point.thumbprint(),
            public_key,
            sealed_private_key: certgate_ca::sealed_key::seal(&pkcs8, passphrase)
                .map_err(seal_failed)?,
            lifecycle,
        })
    }

    /// The key as a JWK.
    pub fn jwk(&self) -> Result<Jwk, KeyError> {
        let point =
            EcPoint::from_uncompressed(&self.public_key).ok_or_else(|| KeyError::Inconsistent {
                detail: format!("key {} has no valid P-256 public point", self.kid.0),
            })?;
        Ok(point.jwk(&self.kid))
    }
}

impl RolloverKey for SigningKeyRecord {
    type Id = KeyId;

    fn key_id(&self) -> KeyId {
        self.kid.clone()
    }

    fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    fn set_lifecycle(&mut self, lifecycle: Lifecycle) {
        self.lifecycle = lifecycle;
    }
}

/// The first two keys of a provider: Current and Next.
pub fn initial_keys(passphrase: &[u8], now: UnixTime) -> Result<[SigningKeyRecord; 2], KeyError> {
    key_rollover::initial_keys(|state| SigningKeyRecord::generate(passphrase, state, now))
}

/// One rotation, as the store applies it in a single transaction: `retire` (Current) becomes
/// Retired, `promote` (Next) becomes Current, `insert` is the new Next, and `purge` lists the
/// Retired keys whose tokens have all expired.
pub type KeyRotation = Rotation<SigningKeyRecord>;

/// Plans a rotation of `records` (the stored keys) at `now` under
/// [`rollover_policy`]`(max_token_lifetime)`.
pub fn plan_rotation(
    records: &[SigningKeyRecord],
    new_next: SigningKeyRecord,
    now: UnixTime,
    max_token_lifetime: Duration,
) -> Result<KeyRotation, KeyError> {
    rollover_policy(max_token_lifetime)
        .plan_rotation(records, new_next, now)
        .map_err(inconsistent)
}

fn inconsistent(error: RolloverError<KeyId>) -> KeyError {
    KeyError::Inconsistent {
        detail: error.to_string(),
    }
}

fn seal_failed(error: CaError) -> KeyError {
    KeyError::Seal {
        code: error.code(),
        detail: error.to_string(),
    }
}

/// Failures with keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// aws-lc-rs could not generate or encode a P-256 key.
    #[error("generating a P-256 key failed")]
    GenerationFailed,
    /// Sealing a new private key or opening the Current one failed (a wrong passphrase, a damaged
    /// blob).
    #[error("sealing or opening a signing key failed: {detail}")]
    Seal {
        /// The `certgate_ca` error's reason code.
        code: &'static str,
        /// The `certgate_ca` error's message.
        detail: String,
    },
    /// The stored keys break the rules: not exactly one Current and one Next, a private key that
    /// does not match its public key, or a public key that is not a P-256 point.
    #[error("the stored signing keys are inconsistent: {detail}")]
    Inconsistent {
        /// What is wrong, naming the key.
        detail: String,
    },
    /// `jsonwebtoken` could not sign the claims.
    #[error("signing a token failed: {detail}")]
    SigningFailed {
        /// The library's message.
        detail: String,
    },
    /// No random bytes.
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
}

impl KeyError {
    /// Every code [`KeyError::code`] answers with itself. [`KeyError::Seal`] carries the code
    /// of the `certgate_ca` error that sealing or opening the key failed with; those codes
    /// are listed by that error type.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "oidc-key-generation-failed",
            "Generating a new ES256 (P-256) token-signing key for OpenID Connect failed in the cryptographic library, so no key was created (at the first start or at a key rotation).",
            "Try again (`certgate client rotate-keys`, or restart the server for the first keys). Administrators: if it persists, check the host's entropy source and the server log.",
        ),
        ReasonCode::new(
            "oidc-keys-inconsistent",
            "The stored OpenID Connect signing keys are inconsistent: not exactly one Current and one Next key, a private key that does not match its public key, or a public key that is not a P-256 point. The provider does not load or rotate such keys.",
            "Administrators: the server log names the key. Restore the OpenID Connect signing keys from a backup of the database, and run the same certgate version on every node.",
        ),
        ReasonCode::new(
            "oidc-signing-failed",
            "Signing an ID token or access token with the Current ES256 key failed, so no token was issued; the token endpoint answers server_error.",
            "The application should try again. Administrators: if it persists, check the server log under the correlation ID and roll the keys over with `certgate client rotate-keys`.",
        ),
        RandomUnavailable::REASON,
    ];

    /// The stable reason code (see [`KeyError::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::GenerationFailed => "oidc-key-generation-failed",
            KeyError::Seal { code, .. } => code,
            KeyError::Inconsistent { .. } => "oidc-keys-inconsistent",
            KeyError::SigningFailed { .. } => "oidc-signing-failed",
            KeyError::Random(_) => "random-unavailable",
        }
    }
}

/// A P-256 public point.
struct EcPoint {
    x: [u8; 32],
    y: [u8; 32],
}

impl EcPoint {
    fn from_uncompressed(bytes: &[u8]) -> Option<EcPoint> {
        let (&tag, coordinates) = bytes.split_first()?;
        if tag != 0x04 || coordinates.len() != 64 {
            return None;
        }
        let (x, y) = coordinates.split_at(32);
        Some(EcPoint {
            x: x.try_into().ok()?,
            y: y.try_into().ok()?,
        })
    }

    /// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
    fn thumbprint(&self) -> KeyId {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            base64url(&self.x),
            base64url(&self.y)
        );
        KeyId(base64url(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref(),
        ))
    }

    fn jwk(&self, kid: &KeyId) -> Jwk {
        Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: base64url(&self.x),
            y: base64url(&self.y),
            kid: kid.0.clone(),
            key_use: "sig".into(),
            alg: SIGNING_ALGORITHM.into(),
        }
    }
}

/// One public key as RFC 7517 §4 / RFC 7518 §6.2.1 write it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`.
    pub kty: String,
    /// Curve: `P-256`.
    pub crv: String,
    /// The point's x coordinate, base64url (32 bytes).
    pub x: String,
    /// The point's y coordinate, base64url (32 bytes).
    pub y: String,
    /// The key's RFC 7638 thumbprint, as in the tokens' `kid` header.
    pub kid: String,
    /// Public key use: `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
    /// Algorithm: `ES256`.
    pub alg: String,
}

/// The JWK Set served at `jwks_uri` (RFC 7517 §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The published keys, Current first.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// The published key with this `kid`, if any.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.kid == kid)
    }
}

/// A JWT that did not verify. `code()` is for logs; callers answer `invalid_token` (or the
/// endpoint's equivalent) whatever the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenInvalid {
    /// Not a compact JWS, or a header or claims certgate does not write.
    #[error("the token is not a JWT certgate can read")]
    Malformed,
    /// The `kid` is missing or names no key published now.
    #[error("the token was signed by a key that is not published (kid {kid:?})")]
    UnknownKey {
        /// The header's `kid`, if any.
        kid: Option<String>,
    },
    /// Not ES256, or the signature does not verify with the named key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// The header's `typ` is not the one the endpoint takes.
    #[error("the token is a {found:?} token, not {expected}")]
    WrongType {
        /// The `typ` required (`JWT` or `at+jwt`).
        expected: &'static str,
        /// The header's `typ`, if any.
        found: Option<String>,
    },
    /// `exp` has passed ([`KeyRing::verify`] leaves this check to its caller).
    #[error("the token expired at {expired_at}")]
    Expired {
        /// The token's `exp`, in seconds since the Unix epoch.
        expired_at: i64,
    },
    /// `iss` is not this provider's issuer (a caller's check, as for `exp`).
    #[error("the token was issued by {found}, not by this provider")]
    WrongIssuer {
        /// The token's `iss`.
        found: String,
    },
    /// `aud` does not name the expected client (a caller's check, as for `exp`).
    #[error("the token is not meant for {expected}")]
    WrongAudience {
        /// The audience required (a client ID).
        expected: String,
    },
}

impl TokenInvalid {
    /// Every code [`TokenInvalid::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "token-malformed",
            "The token is not a JWT certgate can read: not a compact JWS of three base64url parts, or a header or claims that are not the JSON certgate writes.",
            "The application should send the token exactly as certgate issued it: the access token in `Authorization: Bearer` at userinfo, the ID token as id_token_hint.",
        ),
        ReasonCode::new(
            "token-key-unknown",
            "The token names no signing key (kid) or one certgate does not publish: it was signed by another issuer, or by a retired key whose tokens have all expired.",
            "The application should get a new token (refresh it or sign the user in again) and fetch certgate's JWKS again if it caches the keys.",
        ),
        ReasonCode::new(
            "token-signature-invalid",
            "The token's signature does not verify with the published key it names, or it is not an ES256 signature, the only algorithm certgate signs with (RFC 7518 §3.4): the token was changed or forged.",
            "The application should use tokens exactly as certgate issued them; get a new one by refreshing it or by signing the user in again.",
        ),
        ReasonCode::new(
            "token-type-wrong",
            "The token's JOSE header type (typ) is not the one this endpoint takes: userinfo takes `at+jwt` access tokens (RFC 9068 §2.1), id_token_hint takes `JWT` ID tokens.",
            "The application should send the access token to userinfo and the ID token as id_token_hint, not the other way round.",
        ),
        ReasonCode::new(
            "token-expired",
            "The token's expiry time (exp) has passed, so it is no longer accepted.",
            "The application should get a new token with its refresh token (grant_type=refresh_token) or by signing the user in again, then retry.",
        ),
        ReasonCode::new(
            "token-issuer-wrong",
            "The token was issued by another issuer: its iss claim is not this provider's issuer URL.",
            "The application should send certgate only tokens certgate issued, and check that its configured issuer is the one in certgate's discovery document (`/.well-known/openid-configuration`).",
        ),
        ReasonCode::new(
            "token-audience-wrong",
            "The token is not meant for the recipient: its aud claim does not name the expected client.",
            "The application should use tokens issued to its own client ID; get one by signing the user in with its own registration.",
        ),
    ];

    /// The stable reason code, for logs (see [`TokenInvalid::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            TokenInvalid::Malformed => "token-malformed",
            TokenInvalid::UnknownKey { .. } => "token-key-unknown",
            TokenInvalid::BadSignature => "token-signature-invalid",
            TokenInvalid::WrongType { .. } => "token-type-wrong",
            TokenInvalid::Expired { .. } => "token-expired",
            TokenInvalid::WrongIssuer { .. } => "token-issuer-wrong",
            TokenInvalid::WrongAudience { .. } => "token-audience-wrong",
        }
    }
}

struct PublishedKey {
    lifecycle: Lifecycle,
    jwk: Jwk,
    decoding: DecodingKey,
}

impl RolloverKey for PublishedKey {
    type Id = KeyId;

    fn key_id(&self) -> KeyId {
        KeyId(self.jwk.kid.clone())
    }

    fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    fn set_lifecycle(&mut self, lifecycle: Lifecycle) {
        self.lifecycle = lifecycle;
    }
}

/// The keys in memory: the Current private key (opened once, at load) and every published
/// public key. Immutable; a rotation or a reload builds a new ring.
pub struct KeyRing {
    current_kid: KeyId,
    current: EncodingKey,
    published: Vec<PublishedKey>,
    max_token_lifetime: Duration,
    policy: RolloverPolicy,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current_kid)
            .field(
                "published",
                &self
                    .published
                    .iter()
                    .map(|k| &k.jwk.kid)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyRing {
    /// Builds the ring from the stored keys: exactly one Current (opened with `passphrase`)
    /// and one Next are required.
    pub fn load(
        records: &[SigningKeyRecord],
        passphrase: &[u8],
        max_token_lifetime: Duration,
    ) -> Result<KeyRing, KeyError> {
        let (current, _) = key_rollover::current_and_next(records).map_err(inconsistent)?;
        let pkcs8 = certgate_ca::sealed_key::open(&current.sealed_private_key, passphrase)
            .map_err(seal_failed)?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).map_err(|_| {
                KeyError::Inconsistent {
                    detail: format!("key {} is not a P-256 PKCS#8 key", current.kid.0),
                }
            })?;
        if pair.public_key().as_ref() != current.public_key.as_slice() {
            return Err(KeyError::Inconsistent {
                detail: format!(
                    "key {}'s private key does not match its public key",
                    current.kid.0
                ),
            });
        }
        let mut published = Vec::with_capacity(records.len());
        for record in records {
            let jwk = record.jwk()?;
            let decoding = DecodingKey::from_ec_components(&jwk.x, &jwk.y).map_err(|e| {
                KeyError::Inconsistent {
                    detail: format!("key {}: {e}", record.kid.0),
                }
            })?;
            published.push(PublishedKey {
                lifecycle: record.lifecycle(),
                jwk,
                decoding,
            });
        }
        Ok(KeyRing {
            current_kid: current.kid.clone(),
            current: EncodingKey::from_ec_der(&pkcs8),
            published,
            max_token_lifetime,
            policy: rollover_policy(max_token_lifetime),
        })
    }

    /// The Current key's `kid`: the one new tokens are signed with.
    pub fn current_kid(&self) -> &KeyId {
        &self.current_kid
    }

    /// How long after its retirement a key stays published.
    pub fn max_token_lifetime(&self) -> Duration {
        self.max_token_lifetime
    }

    /// The rollover rules the ring publishes its keys by.
    pub fn rollover_policy(&self) -> RolloverPolicy {
        self.policy
    }

    /// Every key the ring was built from with its state, sorted (to tell whether the store
    /// changed since: compare with [`key_rollover::states`] of the stored keys).
    pub fn published_states(&self) -> Vec<(KeyId, KeyState)> {
        key_rollover::states(&self.published)
    }

    /// The JWK Set at `now`: Current, Next, and the Retired keys whose tokens may still be
    /// unexpired. Current first.
    pub fn jwks(&self, now: UnixTime) -> JwkSet {
        JwkSet {
            keys: self
                .policy
                .published(&self.published, now)
                .into_iter()
                .map(|key| key.jwk.clone())
                .collect(),
        }
    }

    /// Signs `claims` as a compact JWS with the Current key; `typ` is the JOSE header's type
    /// (`JWT` for ID tokens, `at+jwt` for access tokens, RFC 9068 §2.1).
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.current_kid.0.clone());
        jsonwebtoken::encode(&header, claims, &self.current).map_err(|e| KeyError::SigningFailed {
            detail: e.to_string(),
        })
    }

    /// Verifies a JWT this provider signed: ES256 only, `kid` one of the keys published at
    /// `now`, header type `typ`. Claims (expiry, issuer, audience) are the caller's to check.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &'static str,
        now: UnixTime,
    ) -> Result<T, TokenInvalid> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenInvalid::Malformed)?;
        if header.alg != Algorithm::ES256 {
            return Err(TokenInvalid::BadSignature);
        }
        if !header
            .typ
            .as_deref()
            .is_some_and(|found| found.eq_ignore_ascii_case(typ))
        {
            return Err(TokenInvalid::WrongType {
                expected: typ,
                found: header.typ,
            });
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| {
                self.published
                    .iter()
                    .find(|key| key.jwk.kid == kid && self.policy.publishes(&key.lifecycle, now))
            })
            .ok_or(TokenInvalid::UnknownKey {
                kid: header.kid.clone(),
            })?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenInvalid::BadSignature,
                _ => TokenInvalid::Malformed,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSPHRASE: &[u8] = b"test passphrase";
    const HOUR: Duration = Duration::from_secs(3600);

    fn ring(records: &[SigningKeyRecord]) -> KeyRing {
        KeyRing::load(records, PASSPHRASE, HOUR).expect("load")
    }

    #[test]
    fn generated_keys_have_thumbprint_kids_and_sealed_private_keys() {
        let [current, next] = initial_keys(PASSPHRASE, UnixTime(1000)).expect("keys");
        assert_eq!(current.lifecycle.state, KeyState::Current);
        assert_eq!(current.lifecycle.activated_at, Some(UnixTime(1000)));
        assert_eq!(next.lifecycle.state, KeyState::Next);
        assert_eq!(next.lifecycle.activated_at, None);
        assert_ne!(current.kid, next.kid);
        assert_eq!(current.kid.0.len(), 43);
        assert!(certgate_ca::sealed_key::is_sealed(
            &current.sealed_private_key
        ));
        let jwk = current.jwk().expect("jwk");
        assert_eq!((jwk.kty.as_str(), jwk.crv.as_str()), ("EC", "P-256"));
        assert_eq!((jwk.key_use.as_str(), jwk.alg.as_str()), ("sig", "ES256"));
        assert_eq!(jwk.kid, current.kid.0);
    }

    #[test]
    fn thumbprint_matches_rfc_7638_for_a_known_point() {
        // RFC 7515 Appendix A.3's P-256 key; its RFC 7638 thumbprint computed independently
        // (Python: sha256 of json.dumps({crv,kty,x,y}, sort_keys, no spaces), base64url).
        let x = crate::secret::base64url_decode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU")
            .expect("x");
        let y = crate::secret::base64url_decode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")
            .expect("y");
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let point = EcPoint::from_uncompressed(&point).expect("point");
        assert_eq!(
            point.thumbprint().0,
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
        );
    }

    #[test]
    fn wrong_passphrase_refuses_to_load() {
        let keys = initial_keys(PASSPHRASE, UnixTime(1000)).expect("keys");
        let error = KeyRing::load(&keys, b"another", HOUR).expect_err("wrong passphrase");
        assert_eq!(error.code(), "ca-key-seal-broken");
    }

    #[test]
    fn a_ring_needs_exactly_one_current_and_one_next() {
        let [current, next] = initial_keys(PASSPHRASE, UnixTime(1000)).expect("keys");
        let error =
            KeyRing::load(std::slice::from_ref(&current), PASSPHRASE, HOUR).expect_err("no next");
        assert_eq!(error.code(), "oidc-keys-inconsistent");
        let mut second_current = next.clone();
        second_current.lifecycle.state = KeyState::Current;
        let error = KeyRing::load(&[current, next, second_current], PASSPHRASE, HOUR)
            .expect_err("two current");
        assert!(error.to_string().contains("more than one current"));
    }

    #[test]
    fn signed_tokens_verify_and_tampering_does_not() {
        let keys = initial_keys(PASSPHRASE, UnixTime(1000)).expect("keys");
        let ring = ring(&keys);
        let token = ring
            .sign("JWT", &serde_json::json!({"sub": "u1"}))
            .expect("sign");
        let claims: serde_json::Value = ring.verify(&token, "JWT", UnixTime(1000)).expect("ok");
        assert_eq!(claims["sub"], "u1");
        let wrong_type = ring.verify::<serde_json::Value>(&token, "at+jwt", UnixTime(1000));
        assert_eq!(wrong_type.expect_err("type").code(), "token-type-wrong");
        let (head, rest) = token.split_once('.').expect("dots");
        let (_, signature) = rest.split_once('.').expect("dots");
        let forged_payload = base64url(br#"{"sub":"admin"}"#);
        let forged = format!("{head}.{forged_payload}.{signature}");
        let error = ring
            .verify::<serde_json::Value>(&forged, "JWT", UnixTime(1000))
            .expect_err("forged");
        assert_eq!(error.code(), "token-signature-invalid");
        assert_eq!(
            ring.verify::<serde_json::Value>("not.a.jwt", "JWT", UnixTime(1000))
                .expect_err("garbage")
                .code(),
            "token-malformed"
        );
    }

    #[test]
    fn tokens_with_alg_none_or_hs256_are_refused() {
        let keys = initial_keys(PASSPHRASE, UnixTime(1000)).expect("keys");
        let ring = ring(&keys);
        let payload = base64url(br#"{"sub":"admin"}"#);
        for header in [
            format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, keys[0].kid.0),
            format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, keys[0].kid.0),
        ] {
            let token = format!("{}.{payload}.", base64url(header.as_bytes()));
            assert!(ring
                .verify::<serde_json::Value>(&token, "JWT", UnixTime(1000))
                .is_err());
        }
    }

    #[test]
    fn rotation_plan_promotes_next_and_purges_only_expired_retired_keys() {
        let [current, next] = initial_keys(PASSPHRASE, UnixTime(0)).expect("keys");
        let mut old =
            SigningKeyRecord::generate(PASSPHRASE, KeyState::Retired, UnixTime(0)).expect("key");
        old.lifecycle.retired_at = Some(UnixTime(100));
        let mut recent = old.clone();
        recent.kid = KeyId("recent".into());
        recent.lifecycle.retired_at = Some(UnixTime(5000));
        let new_next =
            SigningKeyRecord::generate(PASSPHRASE, KeyState::Next, UnixTime(6000)).expect("key");
        let records = [current.clone(), next.clone(), old.clone(), recent];
        let plan = plan_rotation(&records, new_next.clone(), UnixTime(6000), HOUR).expect("plan");
        assert_eq!(plan.retire, current.kid);
        assert_eq!(plan.promote, next.kid);
        assert_eq!(plan.insert, new_next);
        // `old` retired at 100 + 3600 <= 6000: its tokens are all expired. `recent` stays.
        assert_eq!(plan.purge, vec![old.kid]);
    }
}
