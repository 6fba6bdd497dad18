//! Key pairs: generation, PKCS#8 import, public key encoding and signing, with aws-lc-rs.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P384_SHA384_ASN1_SIGNING, RSA_PKCS1_SHA256,
};
use zeroize::Zeroizing;

use crate::der;
use crate::error::CaError;

/// The key type of a new CA or client key pair, and so the signature algorithm the key signs
/// with: ECDSA with SHA-256 / SHA-384 (RFC 5758 §3.2), or RSA PKCS#1 v1.5 with SHA-256
/// (RFC 4055 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 (secp256r1), signing ecdsa-with-SHA256.
    EcdsaP256,
    /// ECDSA on P-384 (secp384r1), signing ecdsa-with-SHA384.
    EcdsaP384,
    /// RSA with a 2048-bit modulus, signing sha256WithRSAEncryption (PKCS#1 v1.5).
    Rsa2048,
    /// RSA with a 3072-bit modulus, signing sha256WithRSAEncryption (PKCS#1 v1.5).
    Rsa3072,
}

impl KeyAlgorithm {
    /// Every algorithm, in the order a user would be offered them.
    pub const ALL: [KeyAlgorithm; 4] = [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
    ];

    /// `ecdsa-p256`, `ecdsa-p384`, `rsa-2048` or `rsa-3072`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::EcdsaP384 => "ecdsa-p384",
            KeyAlgorithm::Rsa2048 => "rsa-2048",
            KeyAlgorithm::Rsa3072 => "rsa-3072",
        }
    }

    /// The inverse of [`KeyAlgorithm::as_str`] (exact, lowercase).
    pub fn parse(text: &str) -> Option<Self> {
        KeyAlgorithm::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ecdsa-with-SHA256, ecdsa-with-SHA384 (RFC 5758 §3.2: parameters absent).
const ECDSA_WITH_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const ECDSA_WITH_SHA384: &[u64] = &[1, 2, 840, 10045, 4, 3, 3];
/// sha256WithRSAEncryption (RFC 4055 §5: parameters NULL).
const SHA256_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
/// id-Ed25519 (RFC 8410 §3: parameters absent).
const ED25519: &[u64] = &[1, 3, 101, 112];
/// id-sha256, id-sha384, id-sha512 (RFC 5754 §2).
const SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const SHA384: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 2];
const SHA512: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 3];

/// A private key able to sign, with the signature algorithm it signs with.
pub(crate) enum SigningKey {
    EcdsaP256(EcdsaKeyPair),
    EcdsaP384(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    /// Accepted for imported CAs; certgate does not generate Ed25519 keys (Windows and older
    /// browsers cannot use them for client authentication).
    Ed25519(Ed25519KeyPair),
}

impl SigningKey {
    /// Generates a key pair; returns it with its PKCS#8 v1 DER.
    pub(crate) fn generate(
        algorithm: KeyAlgorithm,
    ) -> Result<(SigningKey, Zeroizing<Vec<u8>>), CaError> {
        let failed = |_| CaError::CryptoFailed {
            operation: "key generation",
        };
        let pkcs8 = match algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
                let curve = if algorithm == KeyAlgorithm::EcdsaP256 {
                    &ECDSA_P256_SHA256_ASN1_SIGNING
                } else {
                    &ECDSA_P384_SHA384_ASN1_SIGNING
                };
                let document =
                    EcdsaKeyPair::generate_pkcs8(curve, &SystemRandom::new()).map_err(failed)?;
                Zeroizing::new(document.as_ref().to_vec())
            }
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 => {
                let size = if algorithm == KeyAlgorithm::Rsa2048 {
                    KeySize::Rsa2048
                } else {
                    KeySize::Rsa3072
                };
                let key = RsaKeyPair::generate(size).map_err(failed)?;
                let der: Pkcs8V1Der<'static> = key.as_der().map_err(failed)?;
                Zeroizing::new(der.as_ref().to_vec())
            }
        };
        let key = SigningKey::from_pkcs8(&pkcs8)?;
        Ok((key, pkcs8))
    }

    /// Parses an unencrypted PKCS#8 private key (RFC 5208 / RFC 5958): ECDSA P-256 or P-384,
    /// RSA of at least 2048 bits, or Ed25519.
    pub(crate) fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, CaError> {
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8) {
            return Ok(SigningKey::EcdsaP256(key));
        }
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8) {
            return Ok(SigningKey::EcdsaP384(key));
        }
        match RsaKeyPair::from_pkcs8(pkcs8) {
            Ok(key) if key.public_modulus_len() * 8 >= 2048 => return Ok(SigningKey::Rsa(key)),
            Ok(key) => {
                return Err(CaError::PrivateKeyInvalid {
                    detail: format!(
                        "the RSA key has {} bits; at least 2048 are required",
                        key.public_modulus_len() * 8
                    ),
                })
            }
            Err(_) => {}
        }
        if let Ok(key) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8) {
            return Ok(SigningKey::Ed25519(key));
        }
        Err(CaError::PrivateKeyInvalid {
            detail: "expected an unencrypted PKCS#8 DER key of type ECDSA P-256, ECDSA P-384, RSA or Ed25519 (convert a PEM, SEC1 or PKCS#1 key with `openssl pkcs8 -topk8 -nocrypt -outform DER`)".into(),
        })
    }

    /// The subjectPublicKey BIT STRING contents (RFC 5280 §4.1.2.7): an uncompressed EC point,
    /// an RSAPublicKey, or the raw Ed25519 key.
    pub(crate) fn public_key_bits(&self) -> &[u8] {
        match self {
            SigningKey::EcdsaP256(key) | SigningKey::EcdsaP384(key) => key.public_key().as_ref(),
            SigningKey::Rsa(key) => key.public_key().as_ref(),
            SigningKey::Ed25519(key) => key.public_key().as_ref(),
        }
    }

    /// The SubjectPublicKeyInfo DER (RFC 5280 §4.1.2.7).
    pub(crate) fn subject_public_key_info(&self) -> Result<Vec<u8>, CaError> {
        let failed = |_| CaError::CryptoFailed {
            operation: "public key encoding",
        };
        let der: PublicKeyX509Der<'static> = match self {
            SigningKey::EcdsaP256(key) | SigningKey::EcdsaP384(key) => {
                key.public_key().as_der().map_err(failed)?
            }
            SigningKey::Rsa(key) => key.public_key().as_der().map_err(failed)?,
            SigningKey::Ed25519(key) => key.public_key().as_der().map_err(failed)?,
        };
        Ok(der.as_ref().to_vec())
    }

    /// The AlgorithmIdentifier of the signatures this key makes (RFC 5280 §4.1.1.2).
    pub(crate) fn signature_algorithm(&self) -> Vec<u8> {
        match self {
            SigningKey::EcdsaP256(_) => der::sequence(&[&der::known_oid(ECDSA_WITH_SHA256)]),
            SigningKey::EcdsaP384(_) => der::sequence(&[&der::known_oid(ECDSA_WITH_SHA384)]),
            SigningKey::Rsa(_) => der::sequence(&[&der::known_oid(SHA256_WITH_RSA), &der::null()]),
            SigningKey::Ed25519(_) => der::sequence(&[&der::known_oid(ED25519)]),
        }
    }

    /// The message digest that goes with this key's signatures in CMS (the SignerInfo's
    /// digestAlgorithm), with its AlgorithmIdentifier: the hash the signature itself uses, so
    /// that one hash function protects both the content and the signed attributes. SHA-256 for
    /// P-256 and RSA (RFC 5754 §3.2, §3.3), SHA-384 for P-384 (the key signs with SHA-384:
    /// RFC 5480 §4 pairs the curve with it), SHA-512 for Ed25519 (RFC 8419 §3). The parameters are
    /// absent, as RFC 5754 §2 says they should be.
    pub(crate) fn cms_digest(&self) -> (&'static aws_lc_rs::digest::Algorithm, Vec<u8>) {
        use aws_lc_rs::digest;
        let (algorithm, oid) = match self {
            SigningKey::EcdsaP256(_) | SigningKey::Rsa(_) => (&digest::SHA256, SHA256),
            SigningKey::EcdsaP384(_) => (&digest::SHA384, SHA384),
            SigningKey::Ed25519(_) => (&digest::SHA512, SHA512),
        };
        (algorithm, der::sequence(&[&der::known_oid(oid)]))
    }

    /// Signs `message`; ECDSA signatures are DER `Ecdsa-Sig-Value`s (RFC 5758 §3.2).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
        let failed = |_| CaError::CryptoFailed {
            operation: "signing",
        };
        let rng = SystemRandom::new();
        match self {
            SigningKey::EcdsaP256(key) | SigningKey::EcdsaP384(key) => {
                Ok(key.sign(&rng, message).map_err(failed)?.as_ref().to_vec())
            }
            SigningKey::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
            SigningKey::Ed25519(key) => Ok(key.sign(message).as_ref().to_vec()),
        }
    }

    /// `SEQUENCE { tbs, signatureAlgorithm, signatureValue }` (RFC 5280 §4.1, §5.1).
    /// `tbs` must carry the same AlgorithmIdentifier (§4.1.1.2, §5.1.1.2).
    pub(crate) fn sign_structure(&self, tbs: &[u8]) -> Result<Vec<u8>, CaError> {
        let signature = self.sign(tbs)?;
        Ok(der::sequence(&[
            tbs,
            &self.signature_algorithm(),
            &der::bit_string(&signature),
        ]))
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            SigningKey::EcdsaP256(_) => "EcdsaP256",
            SigningKey::EcdsaP384(_) => "EcdsaP384",
            SigningKey::Rsa(_) => "Rsa",
            SigningKey::Ed25519(_) => "Ed25519",
        };
        write!(f, "SigningKey::{kind}([private key elided])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for algorithm in KeyAlgorithm::ALL {
            assert_eq!(KeyAlgorithm::parse(algorithm.as_str()), Some(algorithm));
            assert_eq!(algorithm.to_string(), algorithm.as_str());
        }
        assert_eq!(KeyAlgorithm::parse("RSA-2048"), None);
        assert_eq!(KeyAlgorithm::parse("rsa-4096"), None);
        assert_eq!(KeyAlgorithm::parse(""), None);
    }

    #[test]
    fn generated_keys_reload_from_their_pkcs8_and_keep_their_public_key() {
        for algorithm in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Rsa2048,
        ] {
            let (key, pkcs8) = SigningKey::generate(algorithm).expect("generate");
            let again = SigningKey::from_pkcs8(&pkcs8).expect("reload");
            assert_eq!(
                key.public_key_bits(),
                again.public_key_bits(),
                "{algorithm}"
            );
            assert_eq!(key.signature_algorithm(), again.signature_algorithm());
            assert!(!key.sign(b"message").expect("sign").is_empty());
        }
    }

    #[test]
    fn garbage_is_not_a_key() {
        let error = SigningKey::from_pkcs8(b"not a key").expect_err("garbage");
        assert_eq!(error.code(), "ca-private-key-invalid");
    }
}
