//! PKCS#10 certification requests (RFC 2986), as EST clients send them (RFC 7030 §4.2.1).
//!
//! A request is read for one thing only: the public key, and the proof that whoever sent it
//! holds the private key (the request's self-signature, RFC 2986 §3 / RFC 7030 §3.4). Its
//! subject and requested extensions are decoded (a request that does not decode is refused)
//! but carry no weight: the CA writes what its directory says, never what a requester asks for.
//!
//! Accepted keys and signatures are the ones certgate's own CA issues for and every client
//! platform can use for TLS client authentication: RSA of 2048 to 8192 bits with PKCS#1 v1.5
//! over SHA-256/384/512 (RFC 4055 §5), and ECDSA on P-256 or P-384 over SHA-256/384
//! (RFC 5758 §3.2). Everything else is refused before any cryptography runs.

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::der_parser::asn1_rs::{FromDer, Oid as ParserOid, Tag, ToDer as _};
use x509_parser::x509::AlgorithmIdentifier;

use crate::name::Name;
use crate::oid::Oid;
use crate::reason_code::ReasonCode;
use crate::signature::{
    rsa_modulus_bits, CURVE_P256, CURVE_P384, ECDSA_SHA256, ECDSA_SHA384, EC_PUBLIC_KEY,
    RSA_ENCRYPTION, SHA256_WITH_RSA, SHA384_WITH_RSA, SHA512_WITH_RSA,
};

/// Largest request accepted, DER. An RSA-8192 request with a long subject is under 2 KiB;
/// the bound keeps hostile input from costing more than a small, fixed amount of work.
pub const MAX_CSR_DER_BYTES: usize = 12 * 1024;

/// Smallest RSA modulus accepted (the validator's default floor, NIST SP 800-131A).
pub const MIN_CSR_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted (what aws-lc verifies).
const MAX_CSR_RSA_BITS: usize = 8192;

/// The public key a request asks to have certified, in the only forms certgate writes into
/// certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestedKey {
    /// An uncompressed P-256 point (65 octets, `04 || X || Y`).
    EcdsaP256 {
        /// The ECPoint octets, the subjectPublicKey as RFC 5480 §2.2 writes it.
        point: Vec<u8>,
    },
    /// An uncompressed P-384 point (97 octets).
    EcdsaP384 {
        /// The ECPoint octets, the subjectPublicKey as RFC 5480 §2.2 writes it.
        point: Vec<u8>,
    },
    /// An RSAPublicKey (RFC 8017 §A.1.1) DER, as aws-lc parsed it to verify the signature.
    Rsa {
        /// The RSAPublicKey DER (modulus and public exponent), the subjectPublicKey as
        /// RFC 3279 §2.3.1 writes it.
        public_key: Vec<u8>,
        /// The modulus size in bits, 2048 to 8192.
        bits: usize,
    },
}

impl RequestedKey {
    /// The subjectPublicKey BIT STRING contents (RFC 5280 §4.1.2.7).
    pub fn subject_public_key(&self) -> &[u8] {
        match self {
            RequestedKey::EcdsaP256 { point } | RequestedKey::EcdsaP384 { point } => point,
            RequestedKey::Rsa { public_key, .. } => public_key,
        }
    }

    /// `ECDSA P-256`, `RSA 2048`, ... for messages and the audit log.
    pub fn describe(&self) -> String {
        match self {
            RequestedKey::EcdsaP256 { .. } => "ECDSA P-256".into(),
            RequestedKey::EcdsaP384 { .. } => "ECDSA P-384".into(),
            RequestedKey::Rsa { bits, .. } => format!("RSA {bits}"),
        }
    }
}

/// A certification request whose self-signature verified.
#[derive(Clone, Debug)]
pub struct CertificationRequest {
    key: RequestedKey,
    subject: Name,
    signature_algorithm: Oid,
    has_attributes: bool,
}

impl CertificationRequest {
    /// Parses one DER CertificationRequest, checks its key against the accepted algorithms
    /// and sizes, and verifies its signature with that key (proof of possession).
    pub fn from_der(der: &[u8]) -> Result<CertificationRequest, CsrError> {
        if der.len() > MAX_CSR_DER_BYTES {
            return Err(CsrError::TooLarge {
                bytes: der.len(),
                max_bytes: MAX_CSR_DER_BYTES,
            });
        }
        let (rest, request) =
            X509CertificationRequest::from_der(der).map_err(|e| CsrError::Malformed {
                detail: e.to_string(),
            })?;
        if !rest.is_empty() {
            return Err(CsrError::Malformed {
                detail: "trailing data after the CertificationRequest".into(),
            });
        }
        let info = &request.certification_request_info;
        // RFC 2986 §4.1: version is v1(0); there is no other.
        if info.version.0 != 0 {
            return Err(CsrError::Malformed {
                detail: format!("version {} (only v1, encoded as 0, exists)", info.version.0),
            });
        }
        if request.signature_value.unused_bits != 0 {
            return Err(CsrError::Malformed {
                detail: "the signature BIT STRING has unused bits".into(),
            });
        }
        let spki = &info.subject_pki;
        if spki.subject_public_key.unused_bits != 0 {
            return Err(CsrError::Malformed {
                detail: "the subjectPublicKey BIT STRING has unused bits".into(),
            });
        }
        let key = requested_key(
            &spki.algorithm,
            spki.subject_public_key.data.as_ref(),
            &request.signature_algorithm,
        )?;
        let algorithm = verification_algorithm(&key, &request.signature_algorithm)?;
        UnparsedPublicKey::new(algorithm, key.subject_public_key())
            .verify(info.raw, request.signature_value.data.as_ref())
            .map_err(|_| CsrError::SignatureInvalid)?;
        Ok(CertificationRequest {
            key,
            subject: Name::from_parser(&info.subject).map_err(|e| CsrError::Malformed {
                detail: format!("subject: {e}"),
            })?,
            signature_algorithm: Oid::from_parser(&request.signature_algorithm.algorithm),
            has_attributes: !info.attributes().is_empty(),
        })
    }

    /// The key to certify.
    pub fn key(&self) -> &RequestedKey {
        &self.key
    }

    /// The subject the requester asked for. Informational only (for the audit log): certgate
    /// never copies it into a certificate.
    pub fn subject(&self) -> &Name {
        &self.subject
    }

    /// The algorithm the request's self-signature was made with, one of those the module
    /// documentation lists.
    pub fn signature_algorithm(&self) -> &Oid {
        &self.signature_algorithm
    }

    /// Whether the request carries attributes (challengePassword, extensionRequest, ...),
    /// which certgate ignores.
    pub fn has_attributes(&self) -> bool {
        self.has_attributes
    }
}

/// Checks the SubjectPublicKeyInfo and that the signature algorithm belongs to the key type.
fn requested_key(
    key_algorithm: &AlgorithmIdentifier<'_>,
    key: &[u8],
    signature_algorithm: &AlgorithmIdentifier<'_>,
) -> Result<RequestedKey, CsrError> {
    let key_oid = key_algorithm.algorithm.to_id_string();
    let signature_oid = signature_algorithm.algorithm.to_id_string();
    let unsupported_signature = || CsrError::SignatureAlgorithmUnsupported {
        oid: signature_oid.clone(),
    };
    match key_oid.as_str() {
        RSA_ENCRYPTION => {
            // RFC 3279 §2.3.1: parameters NULL (absent is tolerated, as most validators do).
            if !absent_or_null(key_algorithm) {
                return Err(CsrError::Malformed {
                    detail: "rsaEncryption parameters must be NULL".into(),
                });
            }
            if !matches!(
                signature_oid.as_str(),
                SHA256_WITH_RSA | SHA384_WITH_RSA | SHA512_WITH_RSA
            ) || !absent_or_null(signature_algorithm)
            {
                return Err(unsupported_signature());
            }
            let bits = rsa_modulus_bits(key).ok_or_else(|| CsrError::Malformed {
                detail: "the RSA public key is not an RSAPublicKey".into(),
            })?;
            if bits < MIN_CSR_RSA_BITS {
                return Err(CsrError::KeyTooWeak {
                    bits,
                    min_bits: MIN_CSR_RSA_BITS,
                });
            }
            if bits > MAX_CSR_RSA_BITS {
                return Err(CsrError::KeyUnsupported {
                    detail: format!("RSA {bits}: at most {MAX_CSR_RSA_BITS} bits are accepted"),
                });
            }
            Ok(RequestedKey::Rsa {
                public_key: key.to_vec(),
                bits,
            })
        }
        EC_PUBLIC_KEY => {
            let curve = key_algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.to_der_vec_raw().ok())
                .and_then(|der| {
                    let (rest, oid) = ParserOid::from_der(&der).ok()?;
                    rest.is_empty().then(|| oid.to_id_string())
                })
                .ok_or_else(|| CsrError::KeyUnsupported {
                    detail: "an EC key without a named curve (RFC 5480 §2.1.1 requires one)".into(),
                })?;
            // RFC 5758 §3.2: ECDSA signature algorithms have no parameters.
            if !matches!(signature_oid.as_str(), ECDSA_SHA256 | ECDSA_SHA384)
                || signature_algorithm.parameters.is_some()
            {
                return Err(unsupported_signature());
            }
            // Uncompressed points only (RFC 5480 §2.2: compressed is optional to support).
            let (expected_len, key) = match curve.as_str() {
                CURVE_P256 => (
                    65,
                    RequestedKey::EcdsaP256 {
                        point: key.to_vec(),
                    },
                ),
                CURVE_P384 => (
                    97,
                    RequestedKey::EcdsaP384 {
                        point: key.to_vec(),
                    },
                ),
                other => {
                    return Err(CsrError::KeyUnsupported {
                        detail: format!("EC curve {other}: only P-256 and P-384 are accepted"),
                    })
                }
            };
            let point = key.subject_public_key();
            if point.len() != expected_len || point.first() != Some(&0x04) {
                return Err(CsrError::KeyUnsupported {
                    detail: "the EC point is not in uncompressed form".into(),
                });
            }
            Ok(key)
        }
        other => Err(CsrError::KeyUnsupported {
            detail: format!(
                "key algorithm {}: only RSA and ECDSA (P-256, P-384) are accepted",
                key_name(other)
            ),
        }),
    }
}

fn key_name(oid: &str) -> String {
    match oid {
        "1.3.101.112" => "Ed25519 (1.3.101.112)".into(),
        "1.3.101.113" => "Ed448 (1.3.101.113)".into(),
        "1.2.840.10040.4.1" => "DSA (1.2.840.10040.4.1)".into(),
        "1.2.840.113549.1.1.10" => "RSASSA-PSS (1.2.840.113549.1.1.10)".into(),
        other => other.into(),
    }
}

fn absent_or_null(algorithm: &AlgorithmIdentifier<'_>) -> bool {
    match &algorithm.parameters {
        None => true,
        Some(parameters) => parameters.tag() == Tag::Null && parameters.data.is_empty(),
    }
}

/// The aws-lc verification algorithm for a checked key and signature algorithm.
fn verification_algorithm(
    key: &RequestedKey,
    signature_algorithm: &AlgorithmIdentifier<'_>,
) -> Result<&'static dyn VerificationAlgorithm, CsrError> {
    let oid = signature_algorithm.algorithm.to_id_string();
    let algorithm: &'static dyn VerificationAlgorithm = match (key, oid.as_str()) {
        (RequestedKey::Rsa { .. }, SHA256_WITH_RSA) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (RequestedKey::Rsa { .. }, SHA384_WITH_RSA) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (RequestedKey::Rsa { .. }, SHA512_WITH_RSA) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (RequestedKey::EcdsaP256 { .. }, ECDSA_SHA256) => &sig::ECDSA_P256_SHA256_ASN1,
        (RequestedKey::EcdsaP256 { .. }, ECDSA_SHA384) => &sig::ECDSA_P256_SHA384_ASN1,
        (RequestedKey::EcdsaP384 { .. }, ECDSA_SHA256) => &sig::ECDSA_P384_SHA256_ASN1,
        (RequestedKey::EcdsaP384 { .. }, ECDSA_SHA384) => &sig::ECDSA_P384_SHA384_ASN1,
        _ => return Err(CsrError::SignatureAlgorithmUnsupported { oid }),
    };
    Ok(algorithm)
}

/// Why a certification request was refused. Every variant has a stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// Larger than [`MAX_CSR_DER_BYTES`]; refused before it is parsed.
    #[error("the certification request is {bytes} bytes; at most {max_bytes} are accepted")]
    TooLarge {
        /// The request's size.
        bytes: usize,
        /// The limit, [`MAX_CSR_DER_BYTES`].
        max_bytes: usize,
    },
    /// Not a well-formed DER PKCS#10 CertificationRequest (RFC 2986 §4).
    #[error("the certification request is not a DER PKCS#10 CertificationRequest (RFC 2986): {detail}; make it with e.g. `openssl req -new -outform DER`")]
    Malformed {
        /// What does not decode, for people.
        detail: String,
    },
    /// The self-signature does not verify with the request's own key: no proof of possession.
    #[error("the certification request's signature does not verify with its own public key (no proof of possession of the private key)")]
    SignatureInvalid,
    /// A signature algorithm outside the accepted list, or one for another key type.
    #[error("the certification request is signed with {oid}; accepted are sha256/384/512WithRSAEncryption and ecdsa-with-SHA256/384 matching the key")]
    SignatureAlgorithmUnsupported {
        /// The signature algorithm, dotted.
        oid: String,
    },
    /// A key type, curve or encoding certgate does not certify.
    #[error("the certification request's key is not accepted: {detail}")]
    KeyUnsupported {
        /// Which part of the key is not accepted, for people.
        detail: String,
    },
    /// An RSA key below [`MIN_CSR_RSA_BITS`].
    #[error("the certification request's RSA key has {bits} bits; at least {min_bits} are required: make a new key (e.g. `openssl req -newkey rsa:3072` or `-newkey ec -pkeyopt ec_paramgen_curve:P-256`)")]
    KeyTooWeak {
        /// The key's modulus size.
        bits: usize,
        /// The minimum, [`MIN_CSR_RSA_BITS`].
        min_bits: usize,
    },
}

impl CsrError {
    /// Every code [`CsrError::code`] answers with, in the order of its match arms.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "csr-too-large",
            "The certification request is larger than the 12 KiB certgate accepts; a genuine PKCS#10 request, even with an RSA-8192 key, is under 2 KiB.",
            "Send one DER PKCS#10 request (RFC 2986) and nothing else; make a new one with e.g. `openssl req -new -outform DER`.",
        ),
        ReasonCode::new(
            "csr-malformed",
            "The certification request is not a DER PKCS#10 CertificationRequest (RFC 2986 §4): it does not decode, has trailing data, a version other than v1, a bit string with unused bits or an undecodable subject.",
            "Make a new request with standard tooling (e.g. `openssl req -new -outform DER`) and send it again.",
        ),
        ReasonCode::new(
            "csr-signature-invalid",
            "The certification request's signature does not verify with the public key it carries (RFC 2986 §3), so it is no proof of possession of the private key.",
            "Make a new request signed with the private key that belongs to its public key, and send it unaltered.",
        ),
        ReasonCode::new(
            "csr-signature-algorithm-unsupported",
            "The certification request is signed with an algorithm certgate does not accept, or one that does not match its key: accepted are sha256/384/512WithRSAEncryption for RSA keys and ecdsa-with-SHA256/384 for EC keys.",
            "Make a new request signed with SHA-256 or stronger (e.g. `openssl req -new -sha256`) and send it again.",
        ),
        ReasonCode::new(
            "csr-key-unsupported",
            "The certification request's public key is not one certgate certifies: only RSA of 2048 to 8192 bits and ECDSA on P-256 or P-384 (named curve, uncompressed point, RFC 5480 §2) are accepted.",
            "Make a new RSA (2048 to 8192 bits) or ECDSA P-256 or P-384 key and a new request with it.",
        ),
        ReasonCode::new(
            "csr-key-too-weak",
            "The certification request's RSA key has fewer than 2048 bits, the minimum certgate certifies (NIST SP 800-131A).",
            "Make a new key of at least 2048 bits (e.g. `openssl req -newkey rsa:3072`) or an ECDSA P-256 key, and a new request with it.",
        ),
    ];

    /// The stable, kebab-case reason code (`csr-...`), one per variant; see [`CsrError::CODES`].
    pub fn code(&self) -> &'static str {
        match self {
            CsrError::TooLarge { .. } => "csr-too-large",
            CsrError::Malformed { .. } => "csr-malformed",
            CsrError::SignatureInvalid => "csr-signature-invalid",
            CsrError::SignatureAlgorithmUnsupported { .. } => "csr-signature-algorithm-unsupported",
            CsrError::KeyUnsupported { .. } => "csr-key-unsupported",
            CsrError::KeyTooWeak { .. } => "csr-key-too-weak",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(algorithm: &'static rcgen::SignatureAlgorithm) -> (Vec<u8>, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate_for(algorithm).expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["ignored.example".to_owned()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ignored");
        let request = params.serialize_request(&key).expect("CSR");
        (request.der().to_vec(), key)
    }

    /// Minimal DER writer for hand-made requests.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend([0x81, len as u8]);
        } else {
            out.extend([0x82, (len >> 8) as u8, len as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    fn seq(parts: &[&[u8]]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }

    /// A request around `spki` with a signature of `signature` bytes, unchecked.
    fn hand_made(spki: &[u8], signature_algorithm: &[u8], signature: &[u8]) -> Vec<u8> {
        let subject = seq(&[&tlv(
            0x31,
            &seq(&[&[0x06, 0x03, 0x55, 0x04, 0x03], &tlv(0x0c, b"x")]),
        )]);
        let info = seq(&[&[0x02, 0x01, 0x00], &subject, spki, &[0xa0, 0x00]]);
        let mut bits = vec![0];
        bits.extend_from_slice(signature);
        seq(&[&info, signature_algorithm, &tlv(0x03, &bits)])
    }

    const RSA_KEY_ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    const SHA256_RSA: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
    ];

    fn rsa_spki(modulus_bits: usize) -> Vec<u8> {
        let mut modulus = vec![0x00, 0xc0];
        modulus.resize(modulus_bits / 8 + 1, 0x01);
        let public_key = seq(&[&tlv(0x02, &modulus), &[0x02, 0x03, 0x01, 0x00, 0x01]]);
        let mut bits = vec![0];
        bits.extend_from_slice(&public_key);
        seq(&[RSA_KEY_ALGORITHM, &tlv(0x03, &bits)])
    }

    #[test]
    fn ecdsa_and_rsa_requests_verify_and_yield_their_key() {
        for (algorithm, expected) in [
            (&rcgen::PKCS_ECDSA_P256_SHA256, "ECDSA P-256"),
            (&rcgen::PKCS_ECDSA_P384_SHA384, "ECDSA P-384"),
            (&rcgen::PKCS_RSA_SHA256, "RSA 2048"),
            (&rcgen::PKCS_RSA_SHA384, "RSA 2048"),
            (&rcgen::PKCS_RSA_SHA512, "RSA 2048"),
        ] {
            let (der, key) = csr(algorithm);
            let request = CertificationRequest::from_der(&der)
                .unwrap_or_else(|e| panic!("{expected}: {e} ({})", e.code()));
            assert_eq!(request.key().describe(), expected);
            // The key to certify is exactly the one that signed the request.
            let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
            assert!(
                spki.ends_with(request.key().subject_public_key()),
                "{expected}"
            );
            assert_eq!(request.subject().to_rfc4514(), "CN=ignored");
            // rcgen asks for its SAN in an extensionRequest attribute, which is ignored.
            assert!(request.has_attributes());
        }
    }

    #[test]
    fn a_request_with_a_flipped_signature_bit_is_not_proof_of_possession() {
        for algorithm in [&rcgen::PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_RSA_SHA256] {
            let (mut der, _) = csr(algorithm);
            let last = der.len() - 1;
            der[last] ^= 0x01;
            let error = CertificationRequest::from_der(&der).expect_err("tampered");
            assert_eq!(error.code(), "csr-signature-invalid", "{error}");
        }
    }

    #[test]
    fn a_request_whose_subject_was_changed_after_signing_is_refused() {
        let (der, _) = csr(&rcgen::PKCS_ECDSA_P256_SHA256);
        let position = der
            .windows(7)
            .position(|w| w == b"ignored")
            .expect("CN in the request");
        let mut changed = der.clone();
        changed[position] = b'I';
        let error = CertificationRequest::from_der(&changed).expect_err("changed");
        assert_eq!(error.code(), "csr-signature-invalid");
    }

    #[test]
    fn other_key_types_are_refused_with_their_name() {
        let (der, _) = csr(&rcgen::PKCS_ED25519);
        let error = CertificationRequest::from_der(&der).expect_err("Ed25519");
        assert_eq!(error.code(), "csr-key-unsupported");
        assert!(error.to_string().contains("Ed25519"), "{error}");

        let (der, _) = csr(&rcgen::PKCS_ECDSA_P521_SHA512);
        let error = CertificationRequest::from_der(&der).expect_err("P-521");
        assert!(
            matches!(
                error.code(),
                "csr-key-unsupported" | "csr-signature-algorithm-unsupported"
            ),
            "{error}"
        );
    }

    #[test]
    fn rsa_1024_is_refused_as_too_weak_before_any_signature_check() {
        // The signature is junk: the size check comes first.
        let der = hand_made(&rsa_spki(1024), SHA256_RSA, &[0x55; 128]);
        let error = CertificationRequest::from_der(&der).expect_err("RSA-1024");
        assert_eq!(
            error,
            CsrError::KeyTooWeak {
                bits: 1024,
                min_bits: 2048
            }
        );
        assert_eq!(error.code(), "csr-key-too-weak");
        // A 2048-bit key with a junk signature gets as far as the signature.
        let der = hand_made(&rsa_spki(2048), SHA256_RSA, &[0x55; 256]);
        assert_eq!(
            CertificationRequest::from_der(&der)
                .expect_err("junk")
                .code(),
            "csr-signature-invalid"
        );
    }

    #[test]
    fn rsa_keys_with_ecdsa_or_sha1_signatures_are_refused() {
        let ecdsa_sha256: &[u8] = &[
            0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
        ];
        let sha1_rsa: &[u8] = &[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05,
            0x00,
        ];
        for algorithm in [ecdsa_sha256, sha1_rsa] {
            let der = hand_made(&rsa_spki(2048), algorithm, &[0x55; 256]);
            assert_eq!(
                CertificationRequest::from_der(&der)
                    .expect_err("mismatch")
                    .code(),
                "csr-signature-algorithm-unsupported"
            );
        }
    }

    #[test]
    fn hostile_and_truncated_input_is_malformed_never_a_panic() {
        let (der, _) = csr(&rcgen::PKCS_ECDSA_P256_SHA256);
        for cut in 0..der.len() {
            let error = CertificationRequest::from_der(&der[..cut]).expect_err("truncated");
            assert!(
                matches!(error.code(), "csr-malformed" | "csr-key-unsupported"),
                "cut at {cut}: {error}"
            );
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert_eq!(
            CertificationRequest::from_der(&trailing)
                .expect_err("trailing")
                .code(),
            "csr-malformed"
        );
        for junk in [
            &b""[..],
            b"\x30",
            b"\x30\x80\x00\x00",
            b"\x30\x84\xff\xff\xff\xff",
            b"-----BEGIN CERTIFICATE REQUEST-----",
            &[0x30, 0x03, 0x02, 0x01, 0x00],
        ] {
            assert_eq!(
                CertificationRequest::from_der(junk)
                    .expect_err("junk")
                    .code(),
                "csr-malformed",
                "{junk:?}"
            );
        }
        // Every single-byte corruption is refused with a documented code: the signature covers
        // every byte but its own, and a changed signature no longer verifies. Never a panic.
        for i in 0..der.len() {
            let mut flipped = der.clone();
            flipped[i] ^= 0xff;
            let refused = CertificationRequest::from_der(&flipped)
                .expect_err("a corrupted request is refused");
            assert!(
                CsrError::CODES
                    .iter()
                    .any(|known| known.code == refused.code()),
                "byte {i}: undocumented code {}",
                refused.code()
            );
        }
        let big = vec![0x30; MAX_CSR_DER_BYTES + 1];
        assert_eq!(
            CertificationRequest::from_der(&big)
                .expect_err("large")
                .code(),
            "csr-too-large"
        );
    }

    #[test]
    fn codes_are_stable_and_kebab_case() {
        for error in [
            CsrError::TooLarge {
                bytes: 1,
                max_bytes: 0,
            },
            CsrError::Malformed { detail: "x".into() },
            CsrError::SignatureInvalid,
            CsrError::SignatureAlgorithmUnsupported { oid: "1.2".into() },
            CsrError::KeyUnsupported { detail: "x".into() },
            CsrError::KeyTooWeak {
                bits: 1024,
                min_bits: 2048,
            },
        ] {
            let code = error.code();
            assert!(code.starts_with("csr-"), "{code}");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        }
    }
}
