//! A CA able to sign: its certificate and the private key that belongs to it.

use certgate_pki::{Certificate, KeyUsage};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::certificate::key_identifier;
use crate::error::CaError;
use crate::key::SigningKey;

/// A CA able to sign: its certificate and private key.
///
/// Built only through [`Authority::from_parts`] (or [`crate::create_hierarchy`]), which checks
/// that the key belongs to the certificate and that the certificate is a CA, so every
/// `Authority` can sign what it is asked to.
pub struct Authority {
    certificate: Certificate,
    key: SigningKey,
    key_pkcs8: Zeroizing<Vec<u8>>,
    key_id: Vec<u8>,
}

impl Authority {
    /// Pairs a CA certificate with its PKCS#8 private key.
    ///
    /// Refuses a key whose public key is not the certificate's (`ca-key-mismatch`), and a
    /// certificate that may not issue certificates: basicConstraints cA must be TRUE
    /// (RFC 5280 §4.2.1.9) and a keyUsage extension, when present, must allow keyCertSign
    /// (§4.2.1.3).
    pub fn from_parts(
        certificate_der: Vec<u8>,
        private_key_pkcs8_der: &[u8],
    ) -> Result<Authority, CaError> {
        let certificate = Certificate::from_der(&certificate_der).map_err(|reason| {
            CaError::CertificateInvalid {
                detail: reason.to_string(),
            }
        })?;
        let key = SigningKey::from_pkcs8(private_key_pkcs8_der)?;
        let subject = certificate.subject().to_windows();
        if certificate.public_key().key != key.public_key_bits() {
            return Err(CaError::KeyMismatch { subject });
        }
        if !certificate.is_ca() {
            return Err(CaError::NotCa {
                subject,
                detail: "its basicConstraints extension does not say cA=TRUE".into(),
            });
        }
        if let Some(usage) = certificate.extensions().key_usage {
            if !usage.allows(KeyUsage::KEY_CERT_SIGN) {
                return Err(CaError::NotCa {
                    subject,
                    detail: "its keyUsage does not allow keyCertSign".into(),
                });
            }
        }
        let key_id = certificate
            .extensions()
            .subject_key_id
            .clone()
            .unwrap_or_else(|| key_identifier(&certificate.public_key().key));
        Ok(Authority {
            certificate,
            key,
            key_pkcs8: Zeroizing::new(private_key_pkcs8_der.to_vec()),
            key_id,
        })
    }

    /// The CA certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        self.certificate.der()
    }

    /// The CA certificate, parsed.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// A copy of the private key (PKCS#8 DER), wiped from memory when dropped. Seal it with
    /// [`crate::sealed_key::seal`] before storing it.
    pub fn private_key_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.key_pkcs8.clone()
    }

    /// The key identifier that certificates and CRLs signed by this CA carry in their
    /// authorityKeyIdentifier (RFC 5280 §4.2.1.1, §5.2.1): the certificate's
    /// subjectKeyIdentifier, or, for an imported CA certificate without one, the RFC 7093
    /// method 1 identifier of its public key.
    pub fn subject_key_identifier(&self) -> Vec<u8> {
        self.key_id.clone()
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }

    pub(crate) fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// The subject as Windows prints it, for messages.
    pub(crate) fn display_name(&self) -> String {
        self.certificate.subject().to_windows()
    }

    pub(crate) fn not_before(&self) -> OffsetDateTime {
        unix(self.certificate.not_before().0)
    }

    pub(crate) fn not_after(&self) -> OffsetDateTime {
        unix(self.certificate.not_after().0)
    }
}

/// Validity times come from a parsed certificate, whose years are 0..=9999 and so always in
/// `OffsetDateTime`'s range; the epoch fallback is never taken.
fn unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("subject", &self.display_name())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync>() {}

    #[test]
    fn authority_can_be_shared_between_threads() {
        shareable::<Authority>();
    }
}
