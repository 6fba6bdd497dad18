//! Signature verification for certificates and CRLs (RFC 5280 §4.1.1.2, RFC 4055, RFC 5758,
//! RFC 8410), with the key-strength policy applied before any cryptography runs.

use aws_lc_rs::digest;
use std::collections::VecDeque;
use std::sync::{Arc, RwLock};

use aws_lc_rs::signature::{
    self as sig, ParsedPublicKey, UnparsedPublicKey, VerificationAlgorithm,
};
use x509_parser::der_parser::asn1_rs::{Any, FromDer, Integer, Oid as ParserOid, Sequence};

use crate::certificate::{AlgorithmIdentifier, PublicKeyInfo};
use crate::error::Reason;
use crate::oid::Oid;

/// Whether algorithms kept only for old PKIs (SHA-1 signatures, DSA) are acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyAlgorithms {
    /// Refuses SHA-1 signatures and DSA keys. The default.
    Reject,
    /// Accepts SHA-1 signatures and DSA keys. Needed for the 2011 NIST PKITS data; never the
    /// default.
    AllowInsecure,
}

/// Which signatures and keys the validator accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    /// Smallest accepted RSA modulus, in bits (default 2048).
    pub min_rsa_bits: usize,
    /// Whether SHA-1 signatures and DSA keys pass (they do not by default).
    pub legacy: LegacyAlgorithms,
}

impl Default for AlgorithmPolicy {
    fn default() -> Self {
        AlgorithmPolicy {
            min_rsa_bits: 2048,
            legacy: LegacyAlgorithms::Reject,
        }
    }
}

pub(crate) const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const RSA_PSS: &str = "1.2.840.113549.1.1.10";
const SHA1_WITH_RSA: &str = "1.2.840.113549.1.1.5";
pub(crate) const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
pub(crate) const SHA384_WITH_RSA: &str = "1.2.840.113549.1.1.12";
pub(crate) const SHA512_WITH_RSA: &str = "1.2.840.113549.1.1.13";
pub(crate) const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
pub(crate) const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
pub(crate) const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
pub(crate) const CURVE_P256: &str = "1.2.840.10045.3.1.7";
pub(crate) const CURVE_P384: &str = "1.3.132.0.34";
const ED25519: &str = "1.3.101.112";
const DSA_KEY: &str = "1.2.840.10040.4.1";
const DSA_SHA1: &str = "1.2.840.10040.4.3";
const DSA_SHA256: &str = "2.16.840.1.101.3.4.3.2";
const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const SHA384: &str = "2.16.840.1.101.3.4.2.2";
const SHA512: &str = "2.16.840.1.101.3.4.2.3";
const MGF1: &str = "1.2.840.113549.1.1.8";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_oid(oid: &str) -> Option<Hash> {
        match oid {
            SHA256 => Some(Hash::Sha256),
            SHA384 => Some(Hash::Sha384),
            SHA512 => Some(Hash::Sha512),
            _ => None,
        }
    }
}

/// What a signature check may take from, and keep in, a trust store's [`SignatureCache`].
#[derive(Clone, Copy)]
pub(crate) enum Keep<'a> {
    /// Nothing: the key is parsed afresh and nothing is remembered (CRLs, CSRs, one-off checks).
    Nothing,
    /// The signer's parsed key: for signatures by CA keys.
    Key(&'a SignatureCache),
    /// The signer's parsed key and the verdict on these exact bytes: for signatures over CA
    /// certificates, which clients present again with every sign-in.
    KeyAndVerdict(&'a SignatureCache),
}

/// Verifies `signature` over `message` with `signer`'s key, the algorithm policy applied first.
///
/// `inherited_parameters` are DSA domain parameters taken from the issuer when the signer's
/// own SubjectPublicKeyInfo omits them (RFC 5280 §6.1.4 (f), PKITS 4.1.5).
pub(crate) fn verify_signed_data(
    signer: &PublicKeyInfo,
    inherited_parameters: Option<&[u8]>,
    algorithm: &AlgorithmIdentifier,
    message: &[u8],
    signature: &[u8],
    policy: &AlgorithmPolicy,
    keep: Keep<'_>,
) -> Result<(), Reason> {
    let unsupported = || Reason::SignatureAlgorithmUnsupported {
        oid: algorithm.oid.clone(),
    };
    let key_oid = signer.algorithm.as_str();
    let legacy_allowed = policy.legacy == LegacyAlgorithms::AllowInsecure;
    match algorithm.oid.as_str() {
        SHA1_WITH_RSA | SHA256_WITH_RSA | SHA384_WITH_RSA | SHA512_WITH_RSA => {
            require_absent_or_null(algorithm)?;
            if key_oid != RSA_ENCRYPTION {
                return Err(Reason::PublicKeyUnsupported);
            }
            let bits = rsa_modulus_bits(&signer.key).ok_or(Reason::PublicKeyUnsupported)?;
            check_rsa_strength(bits, policy)?;
            let small = bits < 2048;
            let alg: &'static dyn VerificationAlgorithm = match (algorithm.oid.as_str(), small) {
                (SHA1_WITH_RSA, _) if !legacy_allowed => return Err(unsupported()),
                (SHA1_WITH_RSA, true) => &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                (SHA1_WITH_RSA, false) => &sig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                (SHA256_WITH_RSA, true) => &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                (SHA256_WITH_RSA, false) => &sig::RSA_PKCS1_2048_8192_SHA256,
                (SHA384_WITH_RSA, false) => &sig::RSA_PKCS1_2048_8192_SHA384,
                (SHA512_WITH_RSA, true) => &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                (SHA512_WITH_RSA, false) => &sig::RSA_PKCS1_2048_8192_SHA512,
                _ => return Err(unsupported()),
            };
            verify(alg, &signer.key, message, signature, keep)
        }
        RSA_PSS => {
            if key_oid != RSA_ENCRYPTION && key_oid != RSA_PSS {
                return Err(Reason::PublicKeyUnsupported);
            }
            let hash = pss_hash(algorithm.parameters.as_deref()).ok_or_else(unsupported)?;
            let bits = rsa_modulus_bits(&signer.key).ok_or(Reason::PublicKeyUnsupported)?;
            check_rsa_strength(bits.max(2048), policy)?;
            if bits < 2048 {
                return Err(Reason::WeakKey {
                    algorithm: "RSA",
                    bits,
                    min_bits: 2048,
                });
            }
            let alg: &'static dyn VerificationAlgorithm = match hash {
                Hash::Sha256 => &sig::RSA_PSS_2048_8192_SHA256,
                Hash::Sha384 => &sig::RSA_PSS_2048_8192_SHA384,
                Hash::Sha512 => &sig::RSA_PSS_2048_8192_SHA512,
                Hash::Sha1 => return Err(unsupported()),
            };
            verify(alg, &signer.key, message, signature, keep)
        }
        ECDSA_SHA256 | ECDSA_SHA384 | ECDSA_SHA512 => {
            // RFC 5758 §3.2: the parameters field MUST be absent.
            if algorithm.parameters.is_some() {
                return Err(unsupported());
            }
            if key_oid != EC_PUBLIC_KEY {
                return Err(Reason::PublicKeyUnsupported);
            }
            let curve =
                named_curve(signer.parameters.as_deref()).ok_or(Reason::PublicKeyUnsupported)?;
            let alg: &'static dyn VerificationAlgorithm =
                match (curve.as_str(), algorithm.oid.as_str()) {
                    (CURVE_P256, ECDSA_SHA256) => &sig::ECDSA_P256_SHA256_ASN1,
                    (CURVE_P256, ECDSA_SHA384) => &sig::ECDSA_P256_SHA384_ASN1,
                    (CURVE_P256, ECDSA_SHA512) => &sig::ECDSA_P256_SHA512_ASN1,
                    (CURVE_P384, ECDSA_SHA256) => &sig::ECDSA_P384_SHA256_ASN1,
                    (CURVE_P384, ECDSA_SHA384) => &sig::ECDSA_P384_SHA384_ASN1,
                    (CURVE_P384, ECDSA_SHA512) => &sig::ECDSA_P384_SHA512_ASN1,
                    _ => return Err(Reason::PublicKeyUnsupported),
                };
            verify(alg, &signer.key, message, signature, keep)
        }
        ED25519 => {
            if algorithm.parameters.is_some() {
                return Err(unsupported());
            }
            if key_oid != ED25519 {
                return Err(Reason::PublicKeyUnsupported);
            }
            verify(&sig::ED25519, &signer.key, message, signature, keep)
        }
        DSA_SHA1 | DSA_SHA256 => {
            if !legacy_allowed {
                return Err(unsupported());
            }
            if key_oid != DSA_KEY {
                return Err(Reason::PublicKeyUnsupported);
            }
            let parameters = signer
                .parameters
                .as_deref()
                .or(inherited_parameters)
                .ok_or(Reason::PublicKeyUnsupported)?;
            let hash = if algorithm.oid.as_str() == DSA_SHA1 {
                Hash::Sha1
            } else {
                Hash::Sha256
            };
            verify_dsa(parameters, &signer.key, hash, message, signature)
        }
        _ => Err(unsupported()),
    }
}

const CURVE_P521: &str = "1.3.132.0.35";

/// Checks a subject public key against the policy without verifying anything with it: the end
/// entity's key and the trust anchor's key are never a signature's verifying key on the path,
/// so without this an RSA-1024, DSA or P-192 key there would pass unnoticed.
///
/// Accepted: RSA (and RSASSA-PSS keys) of at least the policy's modulus size; ECDSA keys on
/// P-256, P-384 and P-521; Ed25519; DSA only when legacy algorithms are allowed.
pub(crate) fn check_public_key(
    key: &PublicKeyInfo,
    policy: &AlgorithmPolicy,
) -> Result<(), Reason> {
    match key.algorithm.as_str() {
        RSA_ENCRYPTION | RSA_PSS => {
            let bits = rsa_modulus_bits(&key.key).ok_or(Reason::PublicKeyUnsupported)?;
            check_rsa_strength(bits, policy)
        }
        EC_PUBLIC_KEY => {
            let curve =
                named_curve(key.parameters.as_deref()).ok_or(Reason::PublicKeyUnsupported)?;
            match curve.as_str() {
                CURVE_P256 | CURVE_P384 | CURVE_P521 => Ok(()),
                // P-192, P-224, brainpool, explicit parameters ...: below the policy or not
                // something certgate verifies.
                _ => Err(Reason::PublicKeyUnsupported),
            }
        }
        ED25519 => Ok(()),
        DSA_KEY if policy.legacy == LegacyAlgorithms::AllowInsecure => Ok(()),
        // DSA is legacy-only, as DSA signatures are.
        _ => Err(Reason::PublicKeyUnsupported),
    }
}

/// Checks that a signature algorithm is one the policy accepts, without verifying a signature
/// (used for the trust anchor, whose own signature RFC 5280 §6.1 does not verify).
pub(crate) fn check_signature_algorithm(
    algorithm: &AlgorithmIdentifier,
    policy: &AlgorithmPolicy,
) -> Result<(), Reason> {
    let legacy_allowed = policy.legacy == LegacyAlgorithms::AllowInsecure;
    match algorithm.oid.as_str() {
        SHA256_WITH_RSA | SHA384_WITH_RSA | SHA512_WITH_RSA | RSA_PSS | ECDSA_SHA256
        | ECDSA_SHA384 | ECDSA_SHA512 | ED25519 => Ok(()),
        SHA1_WITH_RSA | DSA_SHA1 | DSA_SHA256 if legacy_allowed => Ok(()),
        _ => Err(Reason::SignatureAlgorithmUnsupported {
            oid: algorithm.oid.clone(),
        }),
    }
}

/// How many CA keys a trust store keeps parsed.
const PARSED_KEYS_MAX: usize = 32;
/// How many verified signatures over CA certificates a trust store remembers.
const VERDICTS_MAX: usize = 32;
/// Signed data larger than this is not remembered: CA certificates are a few kilobytes.
const VERDICT_MAX_BYTES: usize = 16 * 1024;

/// What signature checks on a trust store's paths keep for the next validation.
///
/// - *CA keys as aws-lc holds them once parsed.* A sign-in checks signatures made by the same
///   few CA keys again and again (the trusted root's, the issuing CA's that the client presents
///   with its certificate), and parsing the key is a large part of checking a signature: an RSA
///   modulus read into a bignum, a P-256 point checked to be on the curve.
/// - *Verdicts on signatures over CA certificates.* Every client of an issuing CA presents the
///   same intermediate certificate, signed by the same root, with every sign-in; verifying
///   that signature again gives the same answer, since verification is a function of the
///   algorithm, the key, the signed bytes and the signature alone. A verdict is found only by
///   all four, compared byte for byte (no hash that two inputs could share).
///
/// Both are kept only after a signature verified, and a key only reaches a signature check
/// once the path above it has verified, so only what trusted CAs certified gets in. Each list
/// is bounded; the oldest entry makes room. The algorithm is compared as the same object, not
/// an equal one: a key was parsed against that algorithm's constraints (key size, curve).
#[derive(Default)]
pub(crate) struct SignatureCache {
    keys: RwLock<VecDeque<Arc<KeptKey>>>,
    verdicts: RwLock<VecDeque<Verdict>>,
}

struct KeptKey {
    bytes: Box<[u8]>,
    parsed: ParsedPublicKey,
}

impl KeptKey {
    fn is(&self, alg: &'static dyn VerificationAlgorithm, key: &[u8]) -> bool {
        *self.bytes == *key && std::ptr::addr_eq(self.parsed.algorithm(), alg)
    }
}

/// A signature that verified: by `key` (with its algorithm), over `message`.
struct Verdict {
    key: Arc<KeptKey>,
    message: Box<[u8]>,
    signature: Box<[u8]>,
}

impl Verdict {
    fn is(
        &self,
        alg: &'static dyn VerificationAlgorithm,
        key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        // The signature first: it differs between any two signed objects.
        *self.signature == *signature && *self.message == *message && self.key.is(alg, key)
    }
}

impl SignatureCache {
    // A poisoned lock only loses the cache: the key is then parsed, the signature verified,
    // afresh.

    fn find_key(
        &self,
        alg: &'static dyn VerificationAlgorithm,
        key: &[u8],
    ) -> Option<Arc<KeptKey>> {
        let keys = self.keys.read().ok()?;
        keys.iter().find(|kept| kept.is(alg, key)).cloned()
    }

    fn keep_key(&self, key: &[u8], parsed: ParsedPublicKey) -> Arc<KeptKey> {
        let fresh = Arc::new(KeptKey {
            bytes: key.into(),
            parsed,
        });
        let Ok(mut keys) = self.keys.write() else {
            return fresh;
        };
        if let Some(kept) = keys
            .iter()
            .find(|kept| kept.is(fresh.parsed.algorithm(), key))
        {
            return kept.clone();
        }
        if keys.len() >= PARSED_KEYS_MAX {
            keys.pop_front();
        }
        keys.push_back(fresh.clone());
        fresh
    }

    fn already_verified(
        &self,
        alg: &'static dyn VerificationAlgorithm,
        key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        self.verdicts.read().is_ok_and(|verdicts| {
            verdicts
                .iter()
                .any(|verdict| verdict.is(alg, key, message, signature))
        })
    }

    fn remember_verdict(&self, key: Arc<KeptKey>, message: &[u8], signature: &[u8]) {
        if message.len() + signature.len() > VERDICT_MAX_BYTES {
            return;
        }
        let Ok(mut verdicts) = self.verdicts.write() else {
            return;
        };
        let alg = key.parsed.algorithm();
        if verdicts
            .iter()
            .any(|verdict| verdict.is(alg, &key.bytes, message, signature))
        {
            return;
        }
        if verdicts.len() >= VERDICTS_MAX {
            verdicts.pop_front();
        }
        verdicts.push_back(Verdict {
            key,
            message: message.into(),
            signature: signature.into(),
        });
    }

    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let keys = self.keys.read().map(|keys| keys.len()).unwrap_or(0);
        let verdicts = self.verdicts.read().map(|v| v.len()).unwrap_or(0);
        (keys, verdicts)
    }
}

impl std::fmt::Debug for SignatureCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignatureCache")
    }
}

fn verify(
    alg: &'static dyn VerificationAlgorithm,
    key: &[u8],
    message: &[u8],
    signature: &[u8],
    keep: Keep<'_>,
) -> Result<(), Reason> {
    let invalid = |_: aws_lc_rs::error::Unspecified| Reason::SignatureInvalid { what: "data" };
    let (cache, remember) = match keep {
        // UnparsedPublicKey needs a sized algorithm reference; go through the trait object.
        Keep::Nothing => {
            return UnparsedPublicKey::new(alg, key)
                .verify(message, signature)
                .map_err(invalid)
        }
        Keep::Key(cache) => (cache, false),
        Keep::KeyAndVerdict(cache) => (cache, true),
    };
    if remember && cache.already_verified(alg, key, message, signature) {
        return Ok(());
    }
    let kept = match cache.find_key(alg, key) {
        Some(kept) => {
            kept.parsed
                .verify_sig(message, signature)
                .map_err(invalid)?;
            kept
        }
        None => {
            let parsed = ParsedPublicKey::new(alg, key)
                .map_err(|_| Reason::SignatureInvalid { what: "data" })?;
            parsed.verify_sig(message, signature).map_err(invalid)?;
            cache.keep_key(key, parsed)
        }
    };
    if remember {
        cache.remember_verdict(kept, message, signature);
    }
    Ok(())
}

fn check_rsa_strength(bits: usize, policy: &AlgorithmPolicy) -> Result<(), Reason> {
    let floor = if policy.legacy == LegacyAlgorithms::AllowInsecure {
        1024
    } else {
        2048
    };
    let min_bits = policy.min_rsa_bits.max(floor);
    if bits < min_bits {
        return Err(Reason::WeakKey {
            algorithm: "RSA",
            bits,
            min_bits,
        });
    }
    Ok(())
}

fn require_absent_or_null(algorithm: &AlgorithmIdentifier) -> Result<(), Reason> {
    match algorithm.parameters.as_deref() {
        None | Some([0x05, 0x00]) => Ok(()),
        Some(_) => Err(Reason::SignatureAlgorithmUnsupported {
            oid: algorithm.oid.clone(),
        }),
    }
}

/// Modulus size of an RSAPublicKey (the subjectPublicKey BIT STRING contents).
pub(crate) fn rsa_modulus_bits(key: &[u8]) -> Option<usize> {
    use crate::der::{single, tag, Reader};
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    let mut fields = Reader::new(single(key, tag::SEQUENCE).ok()?);
    let bytes = fields.expect(tag::INTEGER).ok()?;
    let significant: &[u8] = match bytes.iter().position(|&b| b != 0) {
        Some(first) => &bytes[first..],
        None => return None,
    };
    let leading = significant
        .first()
        .map_or(0, |b| b.leading_zeros() as usize);
    Some(significant.len() * 8 - leading)
}

fn named_curve(parameters: Option<&[u8]>) -> Option<Oid> {
    let (rest, oid) = ParserOid::from_der(parameters?).ok()?;
    rest.is_empty().then(|| Oid::from_parser(&oid))
}

/// RSASSA-PSS-params (RFC 4055 §3.1). Only the combinations aws-lc verifies are accepted:
/// hash H, MGF1 with H, salt length = |H|, trailer field 1.
fn pss_hash(parameters: Option<&[u8]>) -> Option<Hash> {
    let (rest, seq) = Sequence::from_der(parameters?).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let mut content: &[u8] = seq.content.as_ref();
    let mut hash = None;
    let mut mgf_hash = None;
    let mut salt_len = None;
    while !content.is_empty() {
        let (next, field) = Any::from_der(content).ok()?;
        content = next;
        let (_, inner) = Any::from_der(field.data).ok()?;
        match field.tag().0 {
            0 => hash = Some(algorithm_oid(&inner)?),
            1 => {
                let (mgf_rest, mgf_oid) = ParserOid::from_der(inner.data).ok()?;
                if mgf_oid.to_id_string() != MGF1 {
                    return None;
                }
                let (_, mgf_params) = Any::from_der(mgf_rest).ok()?;
                mgf_hash = Some(algorithm_oid(&mgf_params)?);
            }
            2 => salt_len = Some(inner.as_u32().ok()?),
            3 => {
                if inner.as_u32().ok()? != 1 {
                    return None;
                }
            }
            _ => return None,
        }
    }
    let hash_oid = hash?;
    let parsed = Hash::from_oid(&hash_oid)?;
    if mgf_hash? != hash_oid {
        return None;
    }
    let expected_salt = match parsed {
        Hash::Sha256 => 32,
        Hash::Sha384 => 48,
        Hash::Sha512 => 64,
        Hash::Sha1 => return None,
    };
    (salt_len? == expected_salt).then_some(parsed)
}

fn algorithm_oid(any: &Any<'_>) -> Option<String> {
    let (_, oid) = ParserOid::from_der(any.data).ok()?;
    Some(oid.to_id_string())
}

/// DSA (FIPS 186) through RustCrypto's `dsa`: aws-lc-rs has no DSA verification. Only used for
/// legacy PKIs when the policy allows it.
fn verify_dsa(
    parameters: &[u8],
    key: &[u8],
    hash: Hash,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Reason> {
    use dsa::signature::hazmat::PrehashVerifier;
    let invalid_key = || Reason::PublicKeyUnsupported;
    let (rest, params) = Sequence::from_der(parameters).map_err(|_| invalid_key())?;
    if !rest.is_empty() {
        return Err(invalid_key());
    }
    let mut content: &[u8] = params.content.as_ref();
    let mut values = Vec::with_capacity(3);
    for _ in 0..3 {
        let (next, int) = Integer::from_der(content).map_err(|_| invalid_key())?;
        values.push(dsa::BigUint::from_bytes_be(int.as_ref()));
        content = next;
    }
    let (_, y) = Integer::from_der(key).map_err(|_| invalid_key())?;
    let g = values.pop().ok_or_else(invalid_key)?;
    let q = values.pop().ok_or_else(invalid_key)?;
    let p = values.pop().ok_or_else(invalid_key)?;
    let components = dsa::Components::from_components(p, q, g).map_err(|_| invalid_key())?;
    let verifying_key =
        dsa::VerifyingKey::from_components(components, dsa::BigUint::from_bytes_be(y.as_ref()))
            .map_err(|_| invalid_key())?;
    let parsed_signature = dsa::Signature::try_from(signature)
        .map_err(|_| Reason::SignatureInvalid { what: "data" })?;
    let digest = match hash {
        Hash::Sha1 => digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, message),
        _ => digest::digest(&digest::SHA256, message),
    };
    verifying_key
        .verify_prehash(digest.as_ref(), &parsed_signature)
        .map_err(|_| Reason::SignatureInvalid { what: "data" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::Certificate;
    use certgate_testpki::{ChainSpec, KeyKind, TestPki};

    /// A kept key must give the same answers as one parsed afresh: bad signatures and other
    /// messages still fail, a key kept for one algorithm is not used for another, a key
    /// whose signature failed is not kept, and no more than the bound are kept.
    #[test]
    fn a_kept_key_verifies_exactly_as_a_fresh_one() {
        let cache = SignatureCache::default();
        let policy = AlgorithmPolicy::default();
        for kind in [KeyKind::Rsa2048, KeyKind::EcdsaP256, KeyKind::Ed25519] {
            let [_, issuer, leaf] = chain(kind);
            let check = |message: &[u8], signature: &[u8]| {
                verify_signed_data(
                    issuer.public_key(),
                    None,
                    leaf.signature_algorithm(),
                    message,
                    signature,
                    &policy,
                    Keep::Key(&cache),
                )
            };
            let before = cache.counts().0;
            assert!(check(leaf.tbs_der(), &tampered(leaf.signature())).is_err());
            assert_eq!(
                cache.counts().0,
                before,
                "{kind:?}: a key that failed was kept"
            );
            for round in 0..3 {
                assert_eq!(
                    check(leaf.tbs_der(), leaf.signature()),
                    Ok(()),
                    "{kind:?} round {round}"
                );
                assert!(check(leaf.tbs_der(), &tampered(leaf.signature())).is_err());
                assert!(check(b"another message", leaf.signature()).is_err());
            }
            assert_eq!(cache.counts(), (before + 1, 0), "{kind:?}: kept once");
        }
        // Kept for RSA PKCS#1 SHA-256, asked for SHA-384 over the same bytes: refused as a
        // fresh parse would refuse it, not verified with the key kept for SHA-256.
        let [_, issuer, leaf] = chain(KeyKind::Rsa2048);
        sha384_is_not_sha256(&issuer, &leaf, Keep::Key(&cache));
    }

    /// A generated chain: root, intermediate, leaf.
    fn chain(kind: KeyKind) -> [Certificate; 3] {
        let pki = TestPki::three_level(&ChainSpec::with_key(kind)).expect("a test PKI");
        [&pki.root, &pki.intermediate, &pki.leaf]
            .map(|issued| Certificate::from_der(&issued.der).expect("a generated certificate"))
    }

    /// `signer`'s RSA PKCS#1 SHA-256 signature over `subject` verifies; asked for as SHA-384
    /// it is refused, whatever `keep` holds from the SHA-256 check.
    fn sha384_is_not_sha256(signer: &Certificate, subject: &Certificate, keep: Keep<'_>) {
        let key = &signer.public_key().key;
        let (message, signature) = (subject.tbs_der(), subject.signature());
        let sha256 = &sig::RSA_PKCS1_2048_8192_SHA256;
        verify(sha256, key, message, signature, keep).expect("SHA-256");
        let sha384 = &sig::RSA_PKCS1_2048_8192_SHA384;
        assert!(verify(sha384, key, message, signature, keep).is_err());
    }

    fn tampered(bytes: &[u8]) -> Vec<u8> {
        let mut tampered = bytes.to_vec();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        tampered
    }

    /// A remembered verdict answers for exactly the bytes that verified, and nothing else:
    /// another signature, another message, another key or another algorithm is verified
    /// afresh (and fails here). A signature that failed leaves no verdict.
    #[test]
    fn a_remembered_verdict_answers_only_for_the_same_bytes() {
        let policy = AlgorithmPolicy::default();
        for kind in [KeyKind::Rsa2048, KeyKind::EcdsaP256, KeyKind::Ed25519] {
            let cache = SignatureCache::default();
            let [root, intermediate, leaf] = chain(kind);
            let check = |signer: &Certificate, message: &[u8], signature: &[u8]| {
                verify_signed_data(
                    signer.public_key(),
                    None,
                    intermediate.signature_algorithm(),
                    message,
                    signature,
                    &policy,
                    Keep::KeyAndVerdict(&cache),
                )
            };
            let (message, signature) = (intermediate.tbs_der(), intermediate.signature());
            assert!(check(&root, message, &tampered(signature)).is_err());
            assert_eq!(
                cache.counts(),
                (0, 0),
                "{kind:?}: a failed check kept something"
            );
            assert_eq!(check(&root, message, signature), Ok(()), "{kind:?}");
            assert_eq!(cache.counts(), (1, 1), "{kind:?}");

            // The verdict answers on its own: with the key forgotten, the same bytes verify
            // without parsing the key again.
            cache.keys.write().expect("lock").clear();
            assert_eq!(check(&root, message, signature), Ok(()), "{kind:?}");
            assert_eq!(cache.counts(), (0, 1), "{kind:?}: the key was parsed again");

            assert!(check(&root, message, &tampered(signature)).is_err());
            assert!(check(&root, &tampered(message), signature).is_err());
            assert!(
                check(&intermediate, message, signature).is_err(),
                "{kind:?}"
            );
            assert!(check(&root, leaf.tbs_der(), signature).is_err());
            assert_eq!(
                cache.counts().1,
                1,
                "{kind:?}: a failed check left a verdict"
            );
        }
        // The verdict for RSA PKCS#1 SHA-256 does not answer for SHA-384 over the same bytes.
        let cache = SignatureCache::default();
        let [root, intermediate, _] = chain(KeyKind::Rsa2048);
        sha384_is_not_sha256(&root, &intermediate, Keep::KeyAndVerdict(&cache));
    }

    /// Keys and verdicts beyond their bounds push out the oldest; signed data too large to be a
    /// CA certificate is not remembered.
    #[test]
    fn kept_keys_and_verdicts_are_bounded() {
        use aws_lc_rs::signature::KeyPair as _;
        let cache = SignatureCache::default();
        for _ in 0..PARSED_KEYS_MAX + 3 {
            let key = aws_lc_rs::signature::Ed25519KeyPair::generate().expect("a key");
            let signature = key.sign(b"signed");
            let public = key.public_key().as_ref();
            verify(
                &sig::ED25519,
                public,
                b"signed",
                signature.as_ref(),
                Keep::Key(&cache),
            )
            .expect("verifies");
        }
        assert_eq!(cache.counts(), (PARSED_KEYS_MAX, 0));

        let cache = SignatureCache::default();
        let key = aws_lc_rs::signature::Ed25519KeyPair::generate().expect("a key");
        let public = key.public_key().as_ref();
        for n in 0..VERDICTS_MAX + 3 {
            let message = format!("signed {n}");
            let signature = key.sign(message.as_bytes());
            let keep = Keep::KeyAndVerdict(&cache);
            verify(
                &sig::ED25519,
                public,
                message.as_bytes(),
                signature.as_ref(),
                keep,
            )
            .expect("verifies");
        }
        assert_eq!(cache.counts(), (1, VERDICTS_MAX));

        let cache = SignatureCache::default();
        let large = vec![7u8; VERDICT_MAX_BYTES];
        let signature = key.sign(&large);
        let keep = Keep::KeyAndVerdict(&cache);
        verify(&sig::ED25519, public, &large, signature.as_ref(), keep).expect("verifies");
        assert_eq!(cache.counts(), (1, 0));
    }
}
