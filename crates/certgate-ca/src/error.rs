//! Why the CA refused or failed to do something, with stable codes.

use certgate_pki::ReasonCode;
use thiserror::Error;

/// Everything the built-in CA can refuse or fail at.
///
/// Each variant maps to a stable, kebab-case [`CaError::code`] shared by the CLI, the audit log
/// and HTTP error bodies. Codes are never reused or renamed; messages are for people.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CaError {
    /// A request field is empty, malformed or out of range. `field` is the request's field name.
    #[error("invalid {field}: {detail}")]
    InvalidRequest {
        /// The request field at fault, e.g. `upn` or `validity_days`.
        field: &'static str,
        /// What is wrong with it, for people.
        detail: String,
    },

    /// A certificate policy identifier is not a dotted OID such as `1.3.6.1.4.1.311.21.8.1`.
    #[error("\"{oid}\" is not a valid object identifier: write it in dotted form with at least two arcs, e.g. 1.3.6.1.4.1.99999.1")]
    InvalidOid {
        /// The identifier as given.
        oid: String,
    },

    /// The private key does not belong to the certificate.
    #[error("the private key does not belong to the certificate \"{subject}\" (their public keys differ): supply the key that was generated together with this certificate")]
    KeyMismatch {
        /// The certificate's subject as Windows prints it.
        subject: String,
    },

    /// The CA certificate could not be parsed.
    #[error("the CA certificate is not valid DER X.509: {detail}")]
    CertificateInvalid {
        /// The parser's reason, for people.
        detail: String,
    },

    /// The private key is not PKCS#8 DER of a supported type.
    #[error("the private key is not a usable PKCS#8 key: {detail}")]
    PrivateKeyInvalid {
        /// Why the key was not accepted, for people.
        detail: String,
    },

    /// The certificate may not be used as the CA for this operation (RFC 5280 §4.2.1.3, §4.2.1.9).
    #[error("the certificate \"{subject}\" cannot be used as a CA here: {detail}")]
    NotCa {
        /// The certificate's subject as Windows prints it.
        subject: String,
        /// Which constraint it fails: basicConstraints cA, or the keyUsage bit the operation needs.
        detail: String,
    },

    /// The issuing CA is not valid at the requested time, so nothing it signs would be.
    #[error("the CA \"{subject}\" is not valid at {at} (its validity is {not_before} to {not_after}): renew the CA or check the clock")]
    IssuerNotValid {
        /// The issuing CA's subject as Windows prints it.
        subject: String,
        /// The time of issuance, Unix seconds.
        at: i64,
        /// The CA certificate's notBefore, Unix seconds.
        not_before: i64,
        /// The CA certificate's notAfter, Unix seconds.
        not_after: i64,
    },

    /// A sealed key did not decrypt: the passphrase is wrong or the bytes were altered.
    #[error("the sealed private key could not be opened: wrong passphrase or corrupted key")]
    KeySealBroken,

    /// `open` was given bytes that are not a sealed key (no `cgsk1` header).
    #[error("the private key is not sealed (it does not start with the certgate sealed-key header): seal it first, or load it as an unencrypted key")]
    KeyNotSealed,

    /// Key generation, signing or randomness failed inside the cryptographic library.
    #[error("cryptographic operation failed: {operation}")]
    CryptoFailed {
        /// What was being done, e.g. `key generation` or `signing`.
        operation: &'static str,
    },

    /// The PKCS#12 file could not be built.
    #[error("the PKCS#12 file could not be built: {detail}")]
    Pkcs12Failed {
        /// The PKCS#12 writer's reason, for people.
        detail: String,
    },
}

impl CaError {
    /// Every code [`CaError::code`] answers with, in the order of its match arms.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "ca-invalid-request",
            "A field of a request to certgate's built-in CA is empty, malformed or out of range (the message names the field, such as `upn`, `email`, `days` or `policy_oids`); nothing was issued or signed.",
            "Correct the field the message names and run the command or request again.",
        ),
        ReasonCode::new(
            "ca-invalid-oid",
            "A certificate policy identifier given to the built-in CA is not an object identifier in dotted form with at least two arcs.",
            "Write the policy OID in dotted form, e.g. `1.3.6.1.4.1.99999.1`, and run the command again.",
        ),
        ReasonCode::new(
            "ca-key-mismatch",
            "The private key given does not belong to the certificate (named in the message): their public keys differ.",
            "Supply the key that was generated together with this certificate, or issue a new certificate for this key.",
        ),
        ReasonCode::new(
            "ca-certificate-invalid",
            "A certificate the built-in CA was given to use (its CA certificate, a signer certificate or a certificate to bundle) is not valid DER X.509 (RFC 5280 §4.1).",
            "Administrators: check the certificate with `openssl x509 -inform DER -noout -text`, and restore it from a backup if it was damaged.",
        ),
        ReasonCode::new(
            "ca-private-key-invalid",
            "The private key is not an unencrypted PKCS#8 DER key of a supported type (ECDSA P-256 or P-384, RSA of at least 2048 bits, or Ed25519).",
            "Convert the key with `openssl pkcs8 -topk8 -nocrypt -outform DER`, or make a new key of a supported type, and try again.",
        ),
        ReasonCode::new(
            "ca-not-a-ca",
            "The certificate cannot be used as a CA for this: its basicConstraints does not say cA true (RFC 5280 §4.2.1.9), or its keyUsage does not allow keyCertSign or, to sign CRLs, cRLSign (RFC 5280 §4.2.1.3).",
            "Use the CA certificate that issued your users' certificates, not a user certificate; if it is one, re-issue it with basicConstraints cA true and keyUsage keyCertSign and cRLSign.",
        ),
        ReasonCode::new(
            "ca-issuer-not-valid",
            "The CA is not valid at the time of issuance or signing (before its notBefore or after its notAfter, RFC 5280 §4.1.2.5), so nothing it signed then would be valid; nothing was signed.",
            "Administrators: check this server's clock (NTP); if the CA has expired, renew it and trust the new CA certificate.",
        ),
        ReasonCode::new(
            "ca-key-seal-broken",
            "A sealed CA private key could not be opened (AES-256-GCM authentication failed): the passphrase is wrong, or the sealed key was altered or truncated.",
            "Administrators: set `CERTGATE_CA_KEY_PASSPHRASE` to the passphrase the key was sealed with; if it is right, restore the sealed key from a backup.",
        ),
        ReasonCode::new(
            "ca-key-not-sealed",
            "A private key that should be sealed does not start with the certgate sealed-key header (`cgsk1`), so it is not a sealed key.",
            "Administrators: seal the key first, or load it as an unencrypted key; check that the key is the one certgate wrote.",
        ),
        ReasonCode::new(
            "ca-crypto-failed",
            "Key generation, signing, encryption or random number generation failed inside the cryptographic library (the message names the operation); nothing was issued.",
            "Try again. Administrators: if it persists, check the server log and the system's random number source, and report the message.",
        ),
        ReasonCode::new(
            "ca-pkcs12-failed",
            "The PKCS#12 file (the certificate, its chain and its private key, for import on a device) could not be built; the message gives the cause.",
            "Try again; if it persists, tell your administrator the message, who can issue the certificate again with `certgate pki issue`.",
        ),
    ];

    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CaError::InvalidRequest { .. } => "ca-invalid-request",
            CaError::InvalidOid { .. } => "ca-invalid-oid",
            CaError::KeyMismatch { .. } => "ca-key-mismatch",
            CaError::CertificateInvalid { .. } => "ca-certificate-invalid",
            CaError::PrivateKeyInvalid { .. } => "ca-private-key-invalid",
            CaError::NotCa { .. } => "ca-not-a-ca",
            CaError::IssuerNotValid { .. } => "ca-issuer-not-valid",
            CaError::KeySealBroken => "ca-key-seal-broken",
            CaError::KeyNotSealed => "ca-key-not-sealed",
            CaError::CryptoFailed { .. } => "ca-crypto-failed",
            CaError::Pkcs12Failed { .. } => "ca-pkcs12-failed",
        }
    }

    pub(crate) fn invalid(field: &'static str, detail: impl Into<String>) -> CaError {
        CaError::InvalidRequest {
            field,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_kebab_case() {
        let all = [
            (CaError::invalid("upn", "empty"), "ca-invalid-request"),
            (CaError::InvalidOid { oid: "x".into() }, "ca-invalid-oid"),
            (
                CaError::KeyMismatch {
                    subject: "CN=x".into(),
                },
                "ca-key-mismatch",
            ),
            (
                CaError::CertificateInvalid { detail: "x".into() },
                "ca-certificate-invalid",
            ),
            (
                CaError::PrivateKeyInvalid { detail: "x".into() },
                "ca-private-key-invalid",
            ),
            (
                CaError::NotCa {
                    subject: "CN=x".into(),
                    detail: "x".into(),
                },
                "ca-not-a-ca",
            ),
            (
                CaError::IssuerNotValid {
                    subject: "CN=x".into(),
                    at: 0,
                    not_before: 1,
                    not_after: 2,
                },
                "ca-issuer-not-valid",
            ),
            (CaError::KeySealBroken, "ca-key-seal-broken"),
            (CaError::KeyNotSealed, "ca-key-not-sealed"),
            (
                CaError::CryptoFailed {
                    operation: "signing",
                },
                "ca-crypto-failed",
            ),
            (
                CaError::Pkcs12Failed { detail: "x".into() },
                "ca-pkcs12-failed",
            ),
        ];
        for (error, code) in all {
            assert_eq!(error.code(), code);
            assert!(code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }
        assert_eq!(
            CaError::KeySealBroken.to_string(),
            "the sealed private key could not be opened: wrong passphrase or corrupted key"
        );
    }
}
