//! Token-signing certificates for the federation service (SAML 2.0 and WS-Federation), the
//! counterpart of AD FS's self-signed "ADFS Signing" certificate.
//!
//! Self-signed, because nothing validates them as a chain: Microsoft 365 stores the signing
//! certificate itself (`signingCertificate` / `nextSigningCertificate` on the federated
//! domain) and SAML service providers pin the certificate from certgate's metadata. RSA, because
//! Microsoft 365 and most SAML service providers verify only RSA signatures (RSA-SHA256).

use time::OffsetDateTime;

use crate::certificate::{
    add_days, extension, key_identifier, random_serial, subject_name, whole_seconds,
    TbsCertificate, BACKDATE, DIGITAL_SIGNATURE,
};
use crate::end_entity::IssuedCertificate;
use crate::error::CaError;
use crate::key::{KeyAlgorithm, SigningKey};

/// Generates an RSA key pair and a self-signed token-signing certificate for it:
/// `CN=<common_name>`, basicConstraints cA=FALSE, keyUsage digitalSignature, valid from one
/// hour before `now` (clock skew) for `validity_days`.
pub fn create_token_signing_certificate(
    common_name: &str,
    key_algorithm: KeyAlgorithm,
    validity_days: u32,
    now: OffsetDateTime,
) -> Result<IssuedCertificate, CaError> {
    if !matches!(key_algorithm, KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072) {
        return Err(CaError::invalid(
            "key_algorithm",
            "token-signing keys are RSA (rsa-2048 or rsa-3072): Microsoft 365 and most SAML service providers verify only RSA-SHA256",
        ));
    }
    let now = whole_seconds(now);
    let not_after = add_days(now, validity_days, "validity_days")?;
    let not_before = now - BACKDATE;
    let subject = subject_name(None, (common_name, "common_name"))?;
    let (key, pkcs8) = SigningKey::generate(key_algorithm)?;
    let spki = key.subject_public_key_info()?;
    let key_id = key_identifier(key.public_key_bits());
    let extensions = vec![
        extension::basic_constraints(None),
        extension::key_usage(DIGITAL_SIGNATURE),
        extension::subject_key_identifier(&key_id),
    ];
    let serial = random_serial()?;
    let certificate_der = TbsCertificate {
        serial: &serial,
        issuer_name: &subject,
        not_before,
        not_after,
        subject_name: &subject,
        subject_public_key_info: &spki,
        extensions,
    }
    .sign(&key)?;
    Ok(IssuedCertificate {
        certificate_der,
        private_key_pkcs8_der: pkcs8,
        serial,
        not_before,
        not_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_pki::Certificate;

    #[test]
    fn token_signing_certificate_is_self_signed_rsa_for_digital_signature() {
        let now = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        let issued = create_token_signing_certificate(
            "certgate token signing",
            KeyAlgorithm::Rsa2048,
            365,
            now,
        )
        .unwrap();
        let certificate = Certificate::from_der(&issued.certificate_der).unwrap();
        assert!(certificate.is_self_issued());
        assert!(!certificate.is_ca());
        assert_eq!(
            certificate.not_after().0 - now.unix_timestamp(),
            365 * 86_400
        );
        assert!(certificate
            .extensions()
            .key_usage
            .is_some_and(|usage| usage.allows(certgate_pki::KeyUsage::DIGITAL_SIGNATURE)));
        assert_eq!(
            certificate.subject().to_rfc4514(),
            "CN=certgate token signing"
        );
    }

    #[test]
    fn ecdsa_is_refused() {
        let now = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        let error =
            create_token_signing_certificate("x", KeyAlgorithm::EcdsaP256, 365, now).unwrap_err();
        assert_eq!(error.code(), "ca-invalid-request");
    }
}
