//! Enveloped XML signatures (XML-DSig 1.0, <https://www.w3.org/TR/xmldsig-core/>) with
//! RSA-SHA256 (RFC 6931 §2.3.2), SHA-256 digests (xmlenc §5.7.2) and Exclusive XML
//! Canonicalization 1.0, as SAML core §5.4 profiles them: one Reference with `URI="#ID"`,
//! transforms enveloped-signature then exc-c14n, the Signature as the child right after the
//! Issuer (for metadata, which has no Issuer: the EntityDescriptor's first child; for a SAML
//! 1.1 Assertion, whose schema orders it so: the last child), KeyInfo carrying the signing
//! certificate.
//!
//! The signed element is written canonically by [`crate::canonical::Writer`] in two parts —
//! up to and including its Issuer, and the rest — so its canonical form without the Signature
//! (what the enveloped-signature transform followed by exc-c14n yields) is simply the two
//! parts joined. SignedInfo is written canonically too: standing alone, exc-c14n renders the
//! `ds` namespace on it (its parent is not in the node set), which is why the signed bytes
//! carry `xmlns:ds` and the embedded copy, whose parent Signature declares it, does not.

use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_pki::Certificate;

use crate::canonical::Writer;
use crate::error::SamlError;
use crate::id::MessageId;

pub(crate) const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256_DIGEST: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// A token-signing key: an RSA private key and the certificate that relying parties hold for
/// it (Microsoft 365's `signingCertificate`).
pub struct SigningKey {
    key: RsaKeyPair,
    certificate_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").finish_non_exhaustive()
    }
}

impl SigningKey {
    /// An RSA key (PKCS#8 DER) and its certificate (DER). The certificate must certify this
    /// very key: a mismatch would make every signature fail at the relying party.
    pub fn from_pkcs8_and_certificate(
        pkcs8_der: &[u8],
        certificate_der: &[u8],
    ) -> Result<Self, SamlError> {
        let key = RsaKeyPair::from_pkcs8(pkcs8_der).map_err(|e| SamlError::SigningKey {
            reason: format!("not an RSA PKCS#8 private key: {e}"),
        })?;
        let certificate =
            Certificate::from_der(certificate_der).map_err(|e| SamlError::SigningKey {
                reason: format!("certificate does not parse: {e:?}"),
            })?;
        // For RSA, the subjectPublicKey BIT STRING holds the PKCS#1 RSAPublicKey (RFC 3279
        // §2.3.1), which is what aws-lc-rs exposes as the key pair's public key.
        if certificate.public_key().key != key.public_key().as_ref() {
            return Err(SamlError::KeyDoesNotMatchCertificate);
        }
        Ok(SigningKey {
            key,
            certificate_der: certificate_der.to_vec(),
        })
    }

    /// The certificate (DER) each signature's KeyInfo carries; relying parties must hold it.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// An RSA-SHA256 (PKCS #1 v1.5) signature over arbitrary octets: the Redirect binding
    /// signs its query string, not XML (SAML bindings §3.4.4.1).
    pub(crate) fn sign_rsa_sha256(&self, message: &[u8]) -> Result<Vec<u8>, SamlError> {
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| SamlError::Signing)?;
        Ok(signature)
    }
}

/// A signable element, written canonically in the two parts around its Signature.
pub(crate) struct Unsigned {
    /// The start tag and the Issuer (only the start tag for metadata; everything but the end
    /// tag for a SAML 1.1 Assertion, whose schema puts the Signature last).
    pub(crate) head: String,
    /// Everything after the Signature's position, end tag included.
    pub(crate) tail: String,
}

impl Unsigned {
    /// The element with an enveloped signature over it inserted between head and tail.
    pub(crate) fn sign(self, id: &MessageId, key: &SigningKey) -> Result<String, SamlError> {
        self.sign_with_inclusive_prefixes(id, key, &[])
    }

    /// As [`Unsigned::sign`], with an `ec:InclusiveNamespaces PrefixList` on the reference's
    /// exc-c14n transform (exc-c14n §3, §4): the listed prefixes are canonicalized by the
    /// inclusive rule (declared where first in scope in the signed subtree, not only where
    /// visibly utilized). Head and tail must be written in that canonical form. Needed when
    /// a prefix is used only inside an attribute value (`xsi:type="fed:…"`).
    pub(crate) fn sign_with_inclusive_prefixes(
        self,
        id: &MessageId,
        key: &SigningKey,
        inclusive_prefixes: &[&str],
    ) -> Result<String, SamlError> {
        let prefix_list = inclusive_prefixes.join(" ");
        let mut canonical = String::with_capacity(self.head.len() + self.tail.len());
        canonical.push_str(&self.head);
        canonical.push_str(&self.tail);
        let digest_value = STANDARD.encode(digest(&SHA256, canonical.as_bytes()));

        let reference = format!("#{id}");
        let signed_bytes = signed_info(Some(("ds", DS)), &reference, &digest_value, &prefix_list);
        let mut signature_value = vec![0u8; key.key.public_modulus_len()];
        key.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed_bytes.as_bytes(),
                &mut signature_value,
            )
            .map_err(|_| SamlError::Signing)?;

        let mut w = Writer::new();
        w.raw(&self.head);
        w.open("ds:Signature", Some(("ds", DS)), &[]);
        w.raw(&signed_info(None, &reference, &digest_value, &prefix_list));
        w.leaf(
            "ds:SignatureValue",
            None,
            &[],
            &STANDARD.encode(&signature_value),
        );
        w.open("ds:KeyInfo", None, &[]);
        w.open("ds:X509Data", None, &[]);
        w.leaf(
            "ds:X509Certificate",
            None,
            &[],
            &STANDARD.encode(&key.certificate_der),
        );
        w.close("ds:X509Data");
        w.close("ds:KeyInfo");
        w.close("ds:Signature");
        w.raw(&self.tail);
        Ok(w.finish())
    }
}

/// SignedInfo in canonical form; `namespace` is `Some` for the standalone (signed) copy;
/// `prefix_list` empty = no InclusiveNamespaces element.
fn signed_info(
    namespace: Option<(&str, &str)>,
    reference: &str,
    digest_value: &str,
    prefix_list: &str,
) -> String {
    let mut w = Writer::new();
    w.open("ds:SignedInfo", namespace, &[]);
    w.leaf(
        "ds:CanonicalizationMethod",
        None,
        &[("Algorithm", EXC_C14N)],
        "",
    );
    w.leaf("ds:SignatureMethod", None, &[("Algorithm", RSA_SHA256)], "");
    w.open("ds:Reference", None, &[("URI", reference)]);
    w.open("ds:Transforms", None, &[]);
    w.leaf("ds:Transform", None, &[("Algorithm", ENVELOPED)], "");
    if prefix_list.is_empty() {
        w.leaf("ds:Transform", None, &[("Algorithm", EXC_C14N)], "");
    } else {
        w.open("ds:Transform", None, &[("Algorithm", EXC_C14N)]);
        // The `ec` prefix is visibly utilized here, so exc-c14n of SignedInfo renders its
        // declaration on this element.
        w.leaf(
            "ec:InclusiveNamespaces",
            Some(("ec", EXC_C14N)),
            &[("PrefixList", prefix_list)],
            "",
        );
        w.close("ds:Transform");
    }
    w.close("ds:Transforms");
    w.leaf("ds:DigestMethod", None, &[("Algorithm", SHA256_DIGEST)], "");
    w.leaf("ds:DigestValue", None, &[], digest_value);
    w.close("ds:Reference");
    w.close("ds:SignedInfo");
    w.finish()
}
