//! CMS SignedData (RFC 5652 §5) over opaque content: how certgate signs an Apple configuration
//! profile (a signed .mobileconfig is exactly this, DER, with the plist as the encapsulated
//! id-data content).
//!
//! Why written here rather than with the RustCrypto `cms` crate: `cms` 0.3 is a pre-release
//! that pulls pre-release `der`, `spki` and `x509-cert` versions beside the ones the workspace
//! already builds, for what is a fixed structure of a dozen TLVs. The crate's own DER writer
//! (`der`) already writes certificates and CRLs, and a signed profile is checked in the tests
//! by `openssl smime -verify` and `openssl cms -verify`.
//!
//! The structure written (RFC 5652 §5.1–§5.4, §11):
//!
//! ```text
//! ContentInfo { id-signedData, [0] SignedData {
//!   version 1, digestAlgorithms { H },
//!   encapContentInfo { id-data, [0] OCTET STRING content },
//!   certificates [0] { signer, chain... },
//!   signerInfos { SignerInfo {
//!     version 1, sid issuerAndSerialNumber, digestAlgorithm H,
//!     signedAttrs [0] { contentType id-data, signingTime, messageDigest H(content) },
//!     signatureAlgorithm, signature over DER(SET OF signedAttrs) } } } }
//! ```

use certgate_pki::Certificate;
use time::OffsetDateTime;

use crate::authority::Authority;
use crate::certificate::{encode_time, whole_seconds};
use crate::der;
use crate::error::CaError;

/// id-data, id-signedData (RFC 5652 §4, §5.1).
const ID_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];
const ID_SIGNED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 2];
/// id-contentType, id-messageDigest, id-signingTime (RFC 5652 §11.1–§11.3).
const CONTENT_TYPE: &[u64] = &[1, 2, 840, 113549, 1, 9, 3];
const MESSAGE_DIGEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 4];
const SIGNING_TIME: &[u64] = &[1, 2, 840, 113549, 1, 9, 5];

/// Signs `content` as CMS SignedData with `signer`'s key and returns the DER ContentInfo, the
/// content encapsulated (attached).
///
/// The signer is identified by issuer and serial number (so SignedData and SignerInfo are
/// version 1, RFC 5652 §5.1, §5.3); its certificate and `chain_der` (the certificates above it,
/// so a verifier that holds only the root can build the path) are included. The digest and
/// signature algorithms follow the key (`SigningKey::cms_digest`). The signed attributes are
/// the three RFC 5652 §11 requires or recommends: contentType, signingTime (`signing_time`,
/// which must fall in the signer's validity, or nothing it signs would verify) and
/// messageDigest.
pub fn cms_sign(
    signer: &Authority,
    chain_der: &[Vec<u8>],
    content: &[u8],
    signing_time: OffsetDateTime,
) -> Result<Vec<u8>, CaError> {
    let signing_time = whole_seconds(signing_time);
    if signing_time < signer.not_before() || signing_time > signer.not_after() {
        return Err(CaError::IssuerNotValid {
            subject: signer.display_name(),
            at: signing_time.unix_timestamp(),
            not_before: signer.not_before().unix_timestamp(),
            not_after: signer.not_after().unix_timestamp(),
        });
    }
    for der in chain_der {
        Certificate::from_der(der).map_err(|reason| CaError::CertificateInvalid {
            detail: reason.to_string(),
        })?;
    }
    let key = signer.key();
    let (digest_algorithm, digest_identifier) = key.cms_digest();
    let message_digest = aws_lc_rs::digest::digest(digest_algorithm, content);

    let attribute = |oid: &[u64], value: Vec<u8>| {
        der::sequence(&[&der::known_oid(oid), &der::set_of(vec![value])])
    };
    let signed_attributes = vec![
        attribute(CONTENT_TYPE, der::known_oid(ID_DATA)),
        attribute(SIGNING_TIME, encode_time(signing_time, "signing_time")?),
        attribute(MESSAGE_DIGEST, der::octet_string(message_digest.as_ref())),
    ];
    // RFC 5652 §5.4: the signature covers the DER of the attributes with the SET OF tag;
    // the SignerInfo carries the same content octets under [0] IMPLICIT.
    let attributes_content = der::set_of_content(signed_attributes);
    let signature = key.sign(&der::tlv(der::SET, &attributes_content))?;

    let certificate = signer.certificate();
    let signer_identifier = der::sequence(&[
        certificate.issuer().der(),
        &der::tlv(der::INTEGER, certificate.serial()),
    ]);
    let signer_info = der::sequence(&[
        &der::u64_integer(1),
        &signer_identifier,
        &digest_identifier,
        &der::tlv(0xa0, &attributes_content),
        &key.signature_algorithm(),
        &der::octet_string(&signature),
    ]);
    let mut certificates = vec![signer.certificate_der().to_vec()];
    certificates.extend(chain_der.iter().cloned());
    let signed_data = der::sequence(&[
        &der::u64_integer(1),
        &der::set_of(vec![digest_identifier.clone()]),
        &der::sequence(&[
            &der::known_oid(ID_DATA),
            &der::context_constructed(0, &[&der::octet_string(content)]),
        ]),
        // certificates [0] IMPLICIT CertificateSet: a SET OF, so in DER order too.
        &der::tlv(0xa0, &der::set_of_content(certificates)),
        &der::set_of(vec![signer_info]),
    ]);
    Ok(der::sequence(&[
        &der::known_oid(ID_SIGNED_DATA),
        &der::context_constructed(0, &[&signed_data]),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{create_hierarchy, HierarchyRequest, KeyAlgorithm};

    fn at(unix_seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix_seconds).expect("in range")
    }

    fn issuing(algorithm: KeyAlgorithm) -> (Authority, Vec<u8>) {
        let hierarchy = create_hierarchy(
            &HierarchyRequest {
                organization: "Contoso".into(),
                root_common_name: "Contoso Root".into(),
                issuing_common_name: "Contoso Issuing".into(),
                key_algorithm: algorithm,
                root_validity_days: 3650,
                issuing_validity_days: 365,
                root_crl_url: None,
                root_certificate_url: None,
            },
            at(1_767_225_600),
        )
        .expect("hierarchy");
        let root = hierarchy.root.certificate_der().to_vec();
        (hierarchy.issuing, root)
    }

    #[test]
    fn signed_data_is_one_content_info_with_the_content_inside() {
        let (issuing, root) = issuing(KeyAlgorithm::EcdsaP256);
        let signed = cms_sign(
            &issuing,
            std::slice::from_ref(&root),
            b"<plist/>",
            at(1_767_229_200),
        )
        .expect("signed");
        assert_eq!(signed[0], der::SEQUENCE);
        let id = der::known_oid(ID_SIGNED_DATA);
        assert!(signed.windows(id.len()).any(|w| w == id));
        assert!(signed.windows(8).any(|w| w == b"<plist/>"));
        assert!(signed.windows(root.len()).any(|w| w == root.as_slice()));
    }

    #[test]
    fn signing_outside_the_signers_validity_is_refused() {
        let (issuing, _) = issuing(KeyAlgorithm::EcdsaP256);
        let error = cms_sign(&issuing, &[], b"x", at(1_767_225_600 + 400 * 86_400))
            .expect_err("after notAfter");
        assert_eq!(error.code(), "ca-issuer-not-valid");
        let error = cms_sign(&issuing, &[b"junk".to_vec()], b"x", at(1_767_229_200))
            .expect_err("junk chain");
        assert_eq!(error.code(), "ca-certificate-invalid");
    }
}
