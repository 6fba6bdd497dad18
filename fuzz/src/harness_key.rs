//! The fixed Ed25519 key the `path` target signs flagged blobs with.

use std::sync::OnceLock;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};

use crate::der;

/// Arbitrary but fixed: seeds made today must still verify under tomorrow's harness.
const SEED: [u8; 32] = *b"certgate fuzz harness key, fixed";

/// AlgorithmIdentifier { id-Ed25519 } (RFC 8410 §3: parameters absent).
pub const ED25519_ALGORITHM: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

fn key() -> &'static Ed25519KeyPair {
    static KEY: OnceLock<Ed25519KeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        // Any 32 bytes are a valid Ed25519 seed; failure here would be an aws-lc bug.
        Ed25519KeyPair::from_seed_unchecked(&SEED).expect("32-byte Ed25519 seed")
    })
}

/// SubjectPublicKeyInfo of the harness key.
pub fn subject_public_key_info() -> Vec<u8> {
    let mut bit_string = vec![0];
    bit_string.extend_from_slice(key().public_key().as_ref());
    let mut content = ED25519_ALGORITHM.to_vec();
    content.extend(der::write(der::BIT_STRING, &bit_string));
    der::write(der::SEQUENCE, &content)
}

/// `SEQUENCE { tbs, id-Ed25519, BIT STRING signature }`: the outer shape of both
/// Certificate (RFC 5280 §4.1) and CertificateList (§5.1). `tbs` is used as is, well formed
/// or not.
pub fn sign(tbs: &[u8]) -> Vec<u8> {
    let mut bit_string = vec![0];
    bit_string.extend_from_slice(key().sign(tbs).as_ref());
    let mut content = Vec::with_capacity(tbs.len() + 80);
    content.extend_from_slice(tbs);
    content.extend_from_slice(ED25519_ALGORITHM);
    content.extend(der::write(der::BIT_STRING, &bit_string));
    der::write(der::SEQUENCE, &content)
}
