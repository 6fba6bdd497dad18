//! Verifying an enveloped XML Signature (XML-DSig 1.0, <https://www.w3.org/TR/xmldsig-core/>)
//! over the root element of a document, as SAML core §5.4 profiles it, and Exclusive XML
//! Canonicalization 1.0 (<https://www.w3.org/TR/xml-exc-c14n/>) over the tree of
//! [`crate::xml_in`].
//!
//! Why this is hand-written: there is no mature pure-Rust XML-DSig verifier (samael, the Rust
//! SAML crate, verifies through C bindings to libxmlsec1 and libxml2). A general verifier
//! would also be the wrong tool: XML-DSig's generality (XPath transforms, references to
//! any element, keys from the document) is where signature-wrapping and key-confusion attacks
//! live. This module accepts exactly one shape and refuses everything else:
//! - exactly one `ds:Signature`, a direct child of the root element;
//! - SignedInfo canonicalized with exclusive C14N (optionally an InclusiveNamespaces
//!   PrefixList), nothing else;
//! - SignatureMethod RSA-SHA256, RSA-SHA512 or ECDSA-P256-SHA256 (RFC 6931 §2.3.2, §2.3.6);
//!   RSA-SHA1 and others are refused by name;
//! - exactly one Reference, `URI="#"` + the root's `ID`, with the transforms
//!   enveloped-signature then exclusive C14N, and a SHA-256 or SHA-512 digest;
//! - no two elements anywhere with the same `ID` (a wrapped copy cannot hide behind the
//!   signed one);
//! - keys only from the certificates the caller trusts: the document's KeyInfo is ignored.
//!
//! The digest is over the root element itself (not an element found by ID), so the element
//! that was verified is always the element the caller reads.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{digest, SHA256, SHA512};
use aws_lc_rs::signature::{
    UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_2048_8192_SHA512,
};
use base64::Engine as _;
use certgate_pki::Certificate;

use crate::canonical::{escape_attribute, escape_text};
use crate::error::SamlError;
use crate::signature::DS;
use crate::xml_in::{self, is_xml_whitespace, Document, Element, Node};

pub(crate) const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256_DIGEST: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SHA512_DIGEST: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
pub(crate) const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// DER of the OID prime256v1 / secp256r1 (RFC 5480 §2.1.1.1), the namedCurve parameter.
const P256_PARAMETERS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The signature algorithms accepted from service providers, in XML signatures and in the
/// Redirect binding's `SigAlg` (SAML bindings §3.4.4.1 uses the XML-DSig identifiers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SignatureAlgorithm {
    RsaSha256,
    RsaSha512,
    /// The value is `r || s`, 32 octets each (XML-DSig 1.1 §6.4.3); not DER.
    EcdsaP256Sha256,
}

impl SignatureAlgorithm {
    /// `role` names where the URI was found, for the error message.
    pub(crate) fn from_uri(role: &'static str, uri: &str) -> Result<Self, SamlError> {
        match uri {
            RSA_SHA256 => Ok(SignatureAlgorithm::RsaSha256),
            RSA_SHA512 => Ok(SignatureAlgorithm::RsaSha512),
            ECDSA_SHA256 => Ok(SignatureAlgorithm::EcdsaP256Sha256),
            _ => Err(algorithm_refused(role, uri)),
        }
    }

    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            SignatureAlgorithm::RsaSha256 => &RSA_PKCS1_2048_8192_SHA256,
            SignatureAlgorithm::RsaSha512 => &RSA_PKCS1_2048_8192_SHA512,
            SignatureAlgorithm::EcdsaP256Sha256 => &ECDSA_P256_SHA256_FIXED,
        }
    }

    /// Whether a certificate's key is of the kind this algorithm uses.
    fn fits(self, certificate: &Certificate) -> bool {
        let key = certificate.public_key();
        match self {
            SignatureAlgorithm::RsaSha256 | SignatureAlgorithm::RsaSha512 => {
                key.algorithm.as_str() == RSA_ENCRYPTION
            }
            SignatureAlgorithm::EcdsaP256Sha256 => {
                key.algorithm.as_str() == EC_PUBLIC_KEY
                    && key.parameters.as_deref() == Some(P256_PARAMETERS)
            }
        }
    }
}

fn algorithm_refused(role: &'static str, uri: &str) -> SamlError {
    SamlError::SignatureAlgorithmRefused {
        role,
        algorithm: uri.chars().take(200).collect(),
        hint: if uri == RSA_SHA1 {
            "RSA-SHA1 is no longer collision-resistant enough for signatures; configure the service provider to sign with RSA-SHA256"
        } else {
            "accepted: rsa-sha256, rsa-sha512 and ecdsa-sha256 signatures, sha256 and sha512 digests, exclusive C14N"
        },
    }
}

/// Verifies `signature` over `message` with any of the `trusted` certificates (DER) whose
/// key fits `algorithm`. Succeeds if one verifies.
pub(crate) fn verify_with_trusted(
    algorithm: SignatureAlgorithm,
    trusted: &[Vec<u8>],
    message: &[u8],
    signature: &[u8],
) -> Result<(), SamlError> {
    if trusted.is_empty() {
        return Err(SamlError::NoTrustedCertificate);
    }
    let mut fitting = 0usize;
    for der in trusted {
        let certificate =
            Certificate::from_der(der).map_err(|e| SamlError::TrustedCertificateUnusable {
                reason: format!("does not parse: {e:?}"),
            })?;
        if !algorithm.fits(&certificate) {
            continue;
        }
        fitting += 1;
        // For RSA the BIT STRING holds the PKCS#1 RSAPublicKey (RFC 3279 §2.3.1), for EC the
        // uncompressed point (RFC 5480 §2.2): the forms aws-lc-rs takes.
        let key = UnparsedPublicKey::new(algorithm.verification(), &certificate.public_key().key);
        if key.verify(message, signature).is_ok() {
            return Ok(());
        }
    }
    Err(SamlError::SignatureInvalid {
        algorithm: format!("{algorithm:?}"),
        tried: fitting,
        trusted: trusted.len(),
    })
}

/// Base64 as found in XML (line breaks and spaces allowed between the characters).
pub(crate) fn decode_base64_text(field: &'static str, text: &str) -> Result<Vec<u8>, SamlError> {
    let compact: String = text.chars().filter(|c| !is_xml_whitespace(*c)).collect();
    lenient_base64()
        .decode(compact.as_bytes())
        .map_err(|_| SamlError::Base64Invalid { field })
}

/// Standard alphabet, padding optional: some SAML stacks strip the `=`.
pub(crate) fn lenient_base64() -> base64::engine::GeneralPurpose {
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
}

/// Verifies the enveloped signature over `document`'s root element (see the module
/// documentation for the shape accepted).
pub(crate) fn verify_enveloped(document: &Document, trusted: &[Vec<u8>]) -> Result<(), SamlError> {
    let root = &document.root;
    let mut signatures = root.children_named(DS, "Signature");
    let signature = signatures.next().ok_or(SamlError::SignatureMissing)?;
    if signatures.next().is_some() {
        return Err(signature_malformed(
            "the root element has more than one ds:Signature",
        ));
    }
    check_unique_ids(root)?;
    let id = root.attribute("ID").ok_or_else(|| {
        signature_malformed("the signed element has no ID attribute for the Reference to name")
    })?;

    let parts = SignatureParts::read(signature)?;
    let expected_uri = format!("#{id}");
    if parts.reference_uri != expected_uri {
        return Err(SamlError::SignatureReferenceMismatch {
            uri: parts.reference_uri.chars().take(200).collect(),
            id: id.to_owned(),
        });
    }

    // Reference: the root without its Signature (enveloped-signature transform), then
    // exclusive C14N. The root is the document element: no namespaces are inherited.
    let canonical_root = canonicalize(root, &[], &parts.reference_prefixes, Some(signature));
    let computed = match parts.digest {
        DigestAlgorithm::Sha256 => digest(&SHA256, canonical_root.as_bytes()),
        DigestAlgorithm::Sha512 => digest(&SHA512, canonical_root.as_bytes()),
    };
    verify_slices_are_equal(computed.as_ref(), &parts.digest_value)
        .map_err(|_| SamlError::DigestMismatch)?;

    // SignedInfo with the namespaces in scope where it stands (declared on the root and the
    // Signature), of which exclusive C14N renders only those it uses.
    let mut inherited = root.namespace_declarations.clone();
    inherited.extend(signature.namespace_declarations.iter().cloned());
    let canonical_signed_info = canonicalize(
        parts.signed_info,
        &inherited,
        &parts.signed_info_prefixes,
        None,
    );
    verify_with_trusted(
        parts.algorithm,
        trusted,
        canonical_signed_info.as_bytes(),
        &parts.signature_value,
    )
}

#[derive(Clone, Copy)]
enum DigestAlgorithm {
    Sha256,
    Sha512,
}

/// What the accepted Signature shape carries.
struct SignatureParts<'a> {
    signed_info: &'a Element,
    signed_info_prefixes: Vec<Option<String>>,
    algorithm: SignatureAlgorithm,
    reference_uri: String,
    reference_prefixes: Vec<Option<String>>,
    digest: DigestAlgorithm,
    digest_value: Vec<u8>,
    signature_value: Vec<u8>,
}

impl<'a> SignatureParts<'a> {
    fn read(signature: &'a Element) -> Result<Self, SamlError> {
        expect_no_text(signature)?;
        let mut children = signature.child_elements();
        let signed_info = expect_next(&mut children, "SignedInfo")?;
        let signature_value = expect_next(&mut children, "SignatureValue")?;
        // KeyInfo and Object may follow; neither is used (keys come from the caller).
        for rest in children {
            if !(rest.is(DS, "KeyInfo") || rest.is(DS, "Object")) {
                return Err(signature_malformed(&format!(
                    "unexpected {} in ds:Signature",
                    rest.expanded_name()
                )));
            }
        }

        expect_no_text(signed_info)?;
        let mut children = signed_info.child_elements();
        let c14n = expect_next(&mut children, "CanonicalizationMethod")?;
        let signed_info_prefixes = exclusive_c14n_method("CanonicalizationMethod", c14n)?;
        let method = expect_next(&mut children, "SignatureMethod")?;
        let algorithm = SignatureAlgorithm::from_uri("SignatureMethod", algorithm_of(method)?)?;
        if method.child_elements().next().is_some() {
            // HMACOutputLength and the like: nothing the accepted algorithms take.
            return Err(signature_malformed("ds:SignatureMethod has child elements"));
        }
        let reference = expect_next(&mut children, "Reference")?;
        if let Some(extra) = children.next() {
            return Err(signature_malformed(&if extra.is(DS, "Reference") {
                "ds:SignedInfo has more than one ds:Reference".to_owned()
            } else {
                format!("unexpected {} in ds:SignedInfo", extra.expanded_name())
            }));
        }

        expect_no_text(reference)?;
        let reference_uri = reference
            .attribute("URI")
            .ok_or_else(|| signature_malformed("ds:Reference has no URI"))?
            .to_owned();
        let mut children = reference.child_elements();
        let transforms = expect_next(&mut children, "Transforms")?;
        let reference_prefixes = read_transforms(transforms)?;
        let digest_method = expect_next(&mut children, "DigestMethod")?;
        let digest = match algorithm_of(digest_method)? {
            SHA256_DIGEST => DigestAlgorithm::Sha256,
            SHA512_DIGEST => DigestAlgorithm::Sha512,
            other => return Err(algorithm_refused("DigestMethod", other)),
        };
        let digest_value = expect_next(&mut children, "DigestValue")?;
        if let Some(extra) = children.next() {
            return Err(signature_malformed(&format!(
                "unexpected {} in ds:Reference",
                extra.expanded_name()
            )));
        }
        Ok(SignatureParts {
            signed_info,
            signed_info_prefixes,
            algorithm,
            reference_uri,
            reference_prefixes,
            digest,
            digest_value: decode_base64_text("DigestValue", &text_only(digest_value)?)?,
            signature_value: decode_base64_text("SignatureValue", &text_only(signature_value)?)?,
        })
    }
}

/// Transforms: enveloped-signature, then exclusive C14N (with an optional PrefixList).
fn read_transforms(transforms: &Element) -> Result<Vec<Option<String>>, SamlError> {
    expect_no_text(transforms)?;
    let mut list = transforms.child_elements();
    let first = expect_next(&mut list, "Transform")?;
    let second = expect_next(&mut list, "Transform")?;
    let wrong_transforms = || {
        signature_malformed(
            "ds:Transforms must be enveloped-signature followed by exclusive C14N (SAML core §5.4.4)",
        )
    };
    if list.next().is_some() {
        return Err(wrong_transforms());
    }
    let first_algorithm = algorithm_of(first)?;
    if first_algorithm != ENVELOPED {
        return Err(if first_algorithm == EXC_C14N {
            wrong_transforms()
        } else {
            algorithm_refused("Transform", first_algorithm)
        });
    }
    if first.child_elements().next().is_some() {
        return Err(wrong_transforms());
    }
    exclusive_c14n_method("Transform", second)
}

/// An exclusive C14N method element (a CanonicalizationMethod or a Transform) and its
/// InclusiveNamespaces PrefixList (`#default` is the default namespace, exc-c14n §3).
fn exclusive_c14n_method(
    role: &'static str,
    method: &Element,
) -> Result<Vec<Option<String>>, SamlError> {
    let algorithm = algorithm_of(method)?;
    if algorithm != EXC_C14N {
        return Err(algorithm_refused(role, algorithm));
    }
    expect_no_text(method)?;
    let mut children = method.child_elements();
    let prefixes = match children.next() {
        None => Vec::new(),
        Some(inclusive) if inclusive.is(EXC_C14N, "InclusiveNamespaces") => {
            let list = inclusive.attribute("PrefixList").unwrap_or("");
            list.split(is_xml_whitespace)
                .filter(|p| !p.is_empty())
                .map(|p| (p != "#default").then(|| p.to_owned()))
                .collect()
        }
        Some(other) => {
            return Err(signature_malformed(&format!(
                "unexpected {} in the {role}",
                other.expanded_name()
            )))
        }
    };
    if children.next().is_some() {
        return Err(signature_malformed(&format!(
            "more than one child in the {role}"
        )));
    }
    Ok(prefixes)
}

fn algorithm_of(element: &Element) -> Result<&str, SamlError> {
    element
        .attribute("Algorithm")
        .ok_or_else(|| signature_malformed(&format!("ds:{} has no Algorithm", element.local_name)))
}

fn expect_next<'a>(
    children: &mut impl Iterator<Item = &'a Element>,
    local_name: &str,
) -> Result<&'a Element, SamlError> {
    match children.next() {
        Some(e) if e.is(DS, local_name) => Ok(e),
        Some(e) => Err(signature_malformed(&format!(
            "expected ds:{local_name}, found {}",
            e.expanded_name()
        ))),
        None => Err(signature_malformed(&format!("ds:{local_name} is missing"))),
    }
}

fn expect_no_text(element: &Element) -> Result<(), SamlError> {
    if element.has_only_whitespace_text() {
        Ok(())
    } else {
        Err(signature_malformed(&format!(
            "text inside ds:{}",
            element.local_name
        )))
    }
}

fn text_only(element: &Element) -> Result<String, SamlError> {
    if element.child_elements().next().is_some() {
        return Err(signature_malformed(&format!(
            "ds:{} has child elements",
            element.local_name
        )));
    }
    Ok(element.text())
}

fn signature_malformed(reason: &str) -> SamlError {
    SamlError::SignatureMalformed {
        reason: reason.to_owned(),
    }
}

/// Refuses a document in which two elements carry the same `ID`.
fn check_unique_ids(root: &Element) -> Result<(), SamlError> {
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut pending = vec![root];
    while let Some(element) = pending.pop() {
        if let Some(id) = element.attribute("ID") {
            if !seen.insert(id) {
                return Err(SamlError::DuplicateId {
                    id: id.chars().take(200).collect(),
                });
            }
        }
        pending.extend(element.child_elements());
    }
    Ok(())
}

/// The exclusive canonical form (exc-c14n 1.0 without comments) of the subtree at `apex`,
/// minus the subtree `omit` (the enveloped Signature).
///
/// `inherited` are the namespace declarations of `apex`'s ancestors, outermost first;
/// `inclusive_prefixes` the InclusiveNamespaces PrefixList (`None` = the default
/// namespace), handled by the rules of Canonical XML 1.0 (exc-c14n §3).
pub(crate) fn canonicalize(
    apex: &Element,
    inherited: &[(Option<String>, String)],
    inclusive_prefixes: &[Option<String>],
    omit: Option<&Element>,
) -> String {
    let mut c14n = Canonicalizer {
        out: String::new(),
        scope: inherited.to_vec(),
        rendered: Vec::new(),
        inclusive_prefixes,
        omit,
    };
    c14n.element(apex);
    c14n.out
}

struct Canonicalizer<'a> {
    out: String,
    /// In-scope declarations, innermost last.
    scope: Vec<(Option<String>, String)>,
    /// Declarations rendered by output ancestors, innermost last.
    rendered: Vec<(Option<String>, String)>,
    inclusive_prefixes: &'a [Option<String>],
    omit: Option<&'a Element>,
}

impl Canonicalizer<'_> {
    fn in_scope(&self, prefix: &Option<String>) -> Option<&str> {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.as_str())
    }

    fn rendered(&self, prefix: &Option<String>) -> Option<&str> {
        self.rendered
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.as_str())
    }

    fn element(&mut self, element: &Element) {
        let scope_len = self.scope.len();
        let rendered_len = self.rendered.len();
        self.scope
            .extend(element.namespace_declarations.iter().cloned());

        // Namespace nodes to consider: the prefixes visibly utilized by the element and its
        // attributes (exc-c14n §3), and the inclusive ones in scope. The `xml` namespace is
        // never declared. BTreeMap order puts the default namespace (None) first, then
        // prefixes in code-point order (C14N §2.3: namespace nodes sorted by local name).
        let mut candidates: std::collections::BTreeMap<Option<String>, String> =
            std::collections::BTreeMap::new();
        if element.prefix.as_deref() != Some("xml") {
            candidates.insert(
                element.prefix.clone(),
                element.namespace.clone().unwrap_or_default(),
            );
        }
        for attribute in &element.attributes {
            if let (Some(prefix), Some(namespace)) = (&attribute.prefix, &attribute.namespace) {
                if prefix != "xml" {
                    candidates.insert(Some(prefix.clone()), namespace.clone());
                }
            }
        }
        for prefix in self.inclusive_prefixes {
            if prefix.as_deref() == Some("xml") || candidates.contains_key(prefix) {
                continue;
            }
            match (prefix, self.in_scope(prefix)) {
                (_, Some(uri)) => {
                    candidates.insert(prefix.clone(), uri.to_owned());
                }
                (None, None) => {
                    candidates.insert(None, String::new());
                }
                (Some(_), None) => {}
            }
        }

        self.out.push('<');
        push_qualified_name(
            &mut self.out,
            element.prefix.as_deref(),
            &element.local_name,
        );
        for (prefix, uri) in candidates {
            let already = self.rendered(&prefix);
            let needed = match &prefix {
                // An empty default namespace needs no declaration unless an output ancestor
                // rendered a non-empty one (xmlns="" then undoes it).
                None => already.unwrap_or("") != uri,
                Some(_) => already != Some(uri.as_str()),
            };
            if !needed {
                continue;
            }
            match &prefix {
                None => self.out.push_str(" xmlns=\""),
                Some(p) => {
                    self.out.push_str(" xmlns:");
                    self.out.push_str(p);
                    self.out.push_str("=\"");
                }
            }
            escape_attribute(&mut self.out, &uri);
            self.out.push('"');
            self.rendered.push((prefix, uri));
        }

        let mut attributes: Vec<&xml_in::Attribute> = element.attributes.iter().collect();
        attributes.sort_by(|a, b| {
            (a.namespace.as_deref().unwrap_or(""), a.local_name.as_str())
                .cmp(&(b.namespace.as_deref().unwrap_or(""), b.local_name.as_str()))
        });
        for attribute in attributes {
            self.out.push(' ');
            push_qualified_name(
                &mut self.out,
                attribute.prefix.as_deref(),
                &attribute.local_name,
            );
            self.out.push_str("=\"");
            escape_attribute(&mut self.out, &attribute.value);
            self.out.push('"');
        }
        self.out.push('>');

        for child in &element.children {
            match child {
                Node::Text(text) => escape_text(&mut self.out, text),
                Node::Element(child) => {
                    if self.omit.is_some_and(|omit| std::ptr::eq(omit, child)) {
                        continue;
                    }
                    self.element(child);
                }
            }
        }

        self.out.push_str("</");
        push_qualified_name(
            &mut self.out,
            element.prefix.as_deref(),
            &element.local_name,
        );
        self.out.push('>');
        self.scope.truncate(scope_len);
        self.rendered.truncate(rendered_len);
    }
}

fn push_qualified_name(out: &mut String, prefix: Option<&str>, local_name: &str) {
    if let Some(prefix) = prefix {
        out.push_str(prefix);
        out.push(':');
    }
    out.push_str(local_name);
}

/// Verifies the enveloped XML signature over the root element of `xml` with the
/// `trusted_certificates` (DER), as SAML core §5.4 profiles XML-DSig: see the module
/// documentation for the one shape accepted. Services use the typed messages
/// ([`crate::AuthnRequest`]) instead, which verify the same tree they read; this entry point
/// serves conformance tests and fuzzing. Input limit: 256 KiB.
pub fn verify_enveloped_signature(
    xml: &[u8],
    trusted_certificates: &[Vec<u8>],
) -> Result<(), SamlError> {
    let document = xml_in::parse(xml, xml_in::MESSAGE_MAX_BYTES)?;
    verify_enveloped(&document, trusted_certificates)
}

/// The Exclusive XML Canonicalization 1.0 form (without comments, empty InclusiveNamespaces
/// list) of a whole document, as `xmllint --exc-c14n` prints it; for conformance tests and
/// fuzzing. Input limit: 256 KiB.
pub fn exclusive_canonical_form(xml: &[u8]) -> Result<String, SamlError> {
    let document = xml_in::parse(xml, xml_in::MESSAGE_MAX_BYTES)?;
    Ok(canonicalize(&document.root, &[], &[], None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(xml: &str) -> String {
        exclusive_canonical_form(xml.as_bytes()).unwrap()
    }

    #[test]
    fn namespaces_are_rendered_where_visibly_utilized() {
        assert_eq!(
            c14n(
                "<a:r xmlns:a=\"urn:a\" xmlns:b=\"urn:b\"><b:c/><a:d xmlns:a=\"urn:a\"/><e/></a:r>"
            ),
            "<a:r xmlns:a=\"urn:a\"><b:c xmlns:b=\"urn:b\"></b:c><a:d></a:d><e></e></a:r>"
        );
        assert_eq!(
            c14n("<r xmlns=\"urn:d\"><e xmlns=\"\"><f xmlns=\"urn:d\"/></e></r>"),
            "<r xmlns=\"urn:d\"><e xmlns=\"\"><f xmlns=\"urn:d\"></f></e></r>"
        );
        assert_eq!(c14n("<r><e xmlns=\"\"/></r>"), "<r><e></e></r>");
    }

    #[test]
    fn attributes_sort_by_namespace_then_name() {
        assert_eq!(
            c14n("<r xmlns:z=\"urn:a\" xmlns:a=\"urn:z\" b=\"1\" z:c=\"2\" a:a=\"3\" a=\"4\"/>"),
            "<r xmlns:a=\"urn:z\" xmlns:z=\"urn:a\" a=\"4\" b=\"1\" z:c=\"2\" a:a=\"3\"></r>"
        );
    }

    #[test]
    fn rsa_sha1_is_refused_by_name() {
        let e = SignatureAlgorithm::from_uri("SignatureMethod", RSA_SHA1).unwrap_err();
        assert_eq!(e.code(), "saml-signature-algorithm-refused");
        assert!(e.to_string().contains("RSA-SHA256"));
    }
}
