//! PKCS#12 (RFC 7292) files for handing a user their certificate and key.

use aws_lc_rs::digest;
use certgate_pki::Certificate;
use p12_keystore::{
    EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey, PrivateKeyChain,
};

use crate::error::CaError;
use crate::key::SigningKey;

/// PBKDF2 iterations for the key and certificate bags, and PKCS#12 KDF iterations for the
/// MAC. Above OpenSSL 3's default (2048) and the 10,000 NIST SP 800-132 names as a minimum,
/// yet quick enough (tens of milliseconds) to build on a sign-in request.
const ITERATIONS: u32 = 100_000;

/// How a PKCS#12 file's bags are encrypted and the file authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pkcs12Encryption {
    /// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC, RFC 8018) and an HMAC-SHA256 MAC: what
    /// browsers and desktop systems import. The default.
    Aes256,
    /// pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 Appendix C) for the key and certificate bags
    /// and an HMAC-SHA1 MAC: weaker (SHA-1 key derivation, 112-bit 3DES) but what iOS and
    /// iPadOS configuration profiles and older Android key chains import — they refuse the
    /// PBES2/AES form, usually as a "wrong password". Only for files handed to such devices;
    /// the iteration count stays at 100,000.
    LegacyTripleDesForDevices,
}

/// Builds a password-protected PKCS#12 file with the private key, its certificate and the
/// chain above it (issuing CA first, root last), encrypted with [`Pkcs12Encryption::Aes256`].
///
/// Keys and certificates are encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC,
/// RFC 8018) and the file is authenticated with an HMAC-SHA256 MAC: the modern profile that
/// OpenSSL 3, NSS (Firefox, Chromium on Linux) and Windows 10 1709+ read. `friendly_name`
/// is the key bag's friendlyName; p12-keystore 0.4 labels every certificate bag with the
/// certificate's subject, which is what NSS shows as the nickname. The key must belong to
/// the certificate
/// (`ca-key-mismatch`); an empty password is refused, since it would protect nothing.
pub fn pkcs12(
    certificate_der: &[u8],
    private_key_pkcs8_der: &[u8],
    chain_der: &[Vec<u8>],
    password: &str,
    friendly_name: &str,
) -> Result<Vec<u8>, CaError> {
    pkcs12_with_encryption(
        certificate_der,
        private_key_pkcs8_der,
        chain_der,
        password,
        friendly_name,
        Pkcs12Encryption::Aes256,
    )
}

/// [`pkcs12`] with the encryption chosen by the caller (see [`Pkcs12Encryption`]).
pub fn pkcs12_with_encryption(
    certificate_der: &[u8],
    private_key_pkcs8_der: &[u8],
    chain_der: &[Vec<u8>],
    password: &str,
    friendly_name: &str,
    encryption: Pkcs12Encryption,
) -> Result<Vec<u8>, CaError> {
    if password.is_empty() {
        return Err(CaError::invalid(
            "password",
            "must not be empty: the PKCS#12 file holds a private key",
        ));
    }
    if friendly_name.trim().is_empty() || friendly_name.chars().any(char::is_control) {
        return Err(CaError::invalid(
            "friendly_name",
            "must be a non-empty label without control characters",
        ));
    }
    let certificate =
        Certificate::from_der(certificate_der).map_err(|reason| CaError::CertificateInvalid {
            detail: reason.to_string(),
        })?;
    let key = SigningKey::from_pkcs8(private_key_pkcs8_der)?;
    if certificate.public_key().key != key.public_key_bits() {
        return Err(CaError::KeyMismatch {
            subject: certificate.subject().to_windows(),
        });
    }

    let failed = |error: p12_keystore::error::Error| CaError::Pkcs12Failed {
        detail: error.to_string(),
    };
    let mut certificates = Vec::with_capacity(1 + chain_der.len());
    certificates.push(p12_keystore::Certificate::from_der(certificate_der).map_err(failed)?);
    for der in chain_der {
        certificates.push(p12_keystore::Certificate::from_der(der).map_err(failed)?);
    }
    let private_key = PrivateKey::from_der(private_key_pkcs8_der).map_err(failed)?;
    // localKeyId ties the key bag to the certificate bag (RFC 7292 §4.2, PKCS#9 localKeyId):
    // the certificate's SHA-256 is unique and stable.
    let local_key_id = digest::digest(&digest::SHA256, certificate_der)
        .as_ref()
        .to_vec();
    let chain = PrivateKeyChain::new(local_key_id, private_key, certificates);
    let mut store = KeyStore::new();
    store.add_entry(friendly_name, KeyStoreEntry::PrivateKeyChain(chain));
    let (encryption_algorithm, mac_algorithm) = match encryption {
        Pkcs12Encryption::Aes256 => (
            EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
            MacAlgorithm::HmacSha256,
        ),
        Pkcs12Encryption::LegacyTripleDesForDevices => (
            EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
            MacAlgorithm::HmacSha1,
        ),
    };
    store
        .writer(password)
        .encryption_algorithm(encryption_algorithm)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(mac_algorithm)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(failed)
}
