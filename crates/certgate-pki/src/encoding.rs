//! Reading certificates and CRLs as administrators hand them over: DER, PEM (bundles allowed,
//! text around the blocks ignored), and for certificates also PKCS#7 "certs-only" bundles
//! (`.p7b`, `.p7c`) in DER or PEM.

use x509_parser::der_parser::asn1_rs::{Any, Class, FromBer, Header, Tag};
use x509_parser::pem::Pem;

use crate::certificate::Certificate;
use crate::crl::Crl;
use crate::error::Reason;
use crate::oid::Oid;

const PEM_MARKER: &[u8] = b"-----BEGIN ";

const CERTIFICATE_LABELS: &[&str] = &["CERTIFICATE", "X509 CERTIFICATE"];
/// RFC 7468 §8 names `PKCS7` (what OpenSSL writes) and `CMS`; `PKCS #7 SIGNED DATA` is the
/// older label some Windows and Java tools still write.
const PKCS7_LABELS: &[&str] = &["PKCS7", "CMS", "PKCS #7 SIGNED DATA"];

/// The content octets of id-signedData, 1.2.840.113549.1.7.2 (RFC 5652 §5.1).
const SIGNED_DATA_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// PEM unless the input is exactly one DER SEQUENCE or a PKCS#7 ContentInfo: a DER
/// certificate, CRL or bundle may carry the PEM marker inside a name or an extension, and must
/// still be read as the DER it is.
fn looks_like_pem(bytes: &[u8]) -> bool {
    !is_one_der_sequence(bytes)
        && !is_content_info(bytes)
        && bytes.windows(PEM_MARKER.len()).any(|w| w == PEM_MARKER)
}

/// A SEQUENCE tag and a definite length that spans the rest of the input exactly. Text
/// around a PEM block cannot satisfy this by accident in any realistic file: it would have
/// to start with `0` followed by a byte equal to the length of everything after it.
fn is_one_der_sequence(bytes: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = bytes else {
        return false;
    };
    if *first < 0x80 {
        return rest.len() == usize::from(*first);
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > std::mem::size_of::<usize>() || rest.len() < count {
        return false;
    }
    let (length, content) = rest.split_at(count);
    let length = length
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    content.len() == length
}

/// A SEQUENCE whose first element is an OBJECT IDENTIFIER, as a PKCS#7 / CMS ContentInfo
/// starts (RFC 5652 §3). A certificate never does (its first element is the TBSCertificate
/// SEQUENCE), so this tells a bundle from a certificate without ambiguity. BER's indefinite
/// length is allowed: some tools stream their bundles that way.
fn is_content_info(bytes: &[u8]) -> bool {
    match Header::from_ber(bytes) {
        Ok((content, header)) => {
            header.class() == Class::Universal
                && header.tag() == Tag::Sequence
                && header.is_constructed()
                && content.first() == Some(&0x06)
        }
        Err(_) => false,
    }
}

/// Every PEM block with one of `labels`, in file order; anything outside blocks is ignored.
fn pem_blocks(bytes: &[u8], labels: &[&str]) -> Result<Vec<Pem>, String> {
    let mut out = Vec::new();
    for block in Pem::iter_from_buffer(bytes) {
        let block = block.map_err(|e| format!("invalid PEM: {e:?}"))?;
        if labels.contains(&block.label.as_str()) {
            out.push(block);
        }
    }
    if out.is_empty() {
        return Err(format!(
            "no {} block found in PEM input",
            labels.join(" or ")
        ));
    }
    Ok(out)
}

/// One DER certificate, a DER PKCS#7 bundle, or every certificate of a PEM file: its
/// `CERTIFICATE` blocks and the contents of its `PKCS7` blocks, in file order.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, Reason> {
    if looks_like_pem(bytes) {
        let labels = [CERTIFICATE_LABELS, PKCS7_LABELS].concat();
        let blocks =
            pem_blocks(bytes, &labels).map_err(|detail| Reason::CertificateMalformed { detail })?;
        let mut certificates = Vec::with_capacity(blocks.len());
        for block in blocks {
            if PKCS7_LABELS.contains(&block.label.as_str()) {
                certificates.extend(parse_pkcs7(&block.contents)?);
            } else {
                certificates.push(Certificate::from_der(&block.contents)?);
            }
        }
        Ok(certificates)
    } else if is_content_info(bytes) {
        parse_pkcs7(bytes)
    } else {
        Certificate::from_der(bytes).map(|c| vec![c])
    }
}

fn pkcs7_malformed(detail: impl std::fmt::Display) -> Reason {
    Reason::CertificateMalformed {
        detail: format!("invalid PKCS#7 bundle: {detail}"),
    }
}

/// One BER TLV and the bytes it spans, header included.
fn pkcs7_element<'a>(input: &'a [u8], what: &str) -> Result<(&'a [u8], Any<'a>, &'a [u8]), Reason> {
    let (rest, any) =
        Any::from_ber(input).map_err(|e| pkcs7_malformed(format_args!("{what}: {e}")))?;
    let raw = &input[..input.len() - rest.len()];
    Ok((rest, any, raw))
}

fn is_universal(any: &Any<'_>, tag: Tag) -> bool {
    any.class() == Class::Universal && any.tag() == tag
}

fn is_context(any: &Any<'_>, tag: u32) -> bool {
    any.class() == Class::ContextSpecific && any.tag() == Tag(tag)
}

/// An element's tag as ASN.1 writes it: `SEQUENCE`-style names are only meaningful for the
/// universal class, so context-specific tags show as `[n]`.
fn describe_tag(any: &Any<'_>) -> String {
    match any.class() {
        Class::Universal => format!("universal tag {} ({})", any.tag().0, any.tag()),
        Class::ContextSpecific => format!("[{}]", any.tag().0),
        class => format!("{class} {}", any.tag().0),
    }
}

/// The certificates of a PKCS#7 / CMS "certs-only" bundle (RFC 5652 §5, the degenerate
/// SignedData of RFC 8551 §3.2.2 that `openssl crl2pkcs7` and Windows' `.p7b` export write):
///
/// ```text
/// ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, content [0] EXPLICIT ANY }
/// SignedData ::= SEQUENCE {
///   version INTEGER, digestAlgorithms SET, encapContentInfo SEQUENCE,
///   certificates [0] IMPLICIT SET OF CertificateChoices OPTIONAL,
///   crls [1] IMPLICIT ... OPTIONAL, signerInfos SET }
/// ```
///
/// Only the certificates are read: signatures, digests and CRLs are ignored, since a bundle
/// is just a way of carrying certificates that are validated on their own. The envelope may
/// be BER (indefinite lengths); each certificate must be DER, as for any other input.
fn parse_pkcs7(bytes: &[u8]) -> Result<Vec<Certificate>, Reason> {
    let (rest, content_info, _) = pkcs7_element(bytes, "ContentInfo")?;
    if !rest.is_empty() {
        return Err(pkcs7_malformed("trailing data after the ContentInfo"));
    }
    if !is_universal(&content_info, Tag::Sequence) {
        return Err(pkcs7_malformed("ContentInfo is not a SEQUENCE"));
    }

    let (rest, content_type, _) = pkcs7_element(content_info.data, "contentType")?;
    if !is_universal(&content_type, Tag::Oid) {
        return Err(pkcs7_malformed("contentType is not an OBJECT IDENTIFIER"));
    }
    if content_type.data != SIGNED_DATA_OID {
        let shown = content_type
            .clone()
            .oid()
            .map(|oid| Oid::from_parser(&oid).as_str().to_owned())
            .unwrap_or_else(|_| "(undecodable)".into());
        return Err(pkcs7_malformed(format_args!(
            "content type {shown} is not signedData (1.2.840.113549.1.7.2); \
             only certificate bundles are read"
        )));
    }
    if rest.is_empty() {
        return Err(pkcs7_malformed("the signedData content is missing"));
    }
    let (rest, explicit, _) = pkcs7_element(rest, "content")?;
    if !rest.is_empty() {
        return Err(pkcs7_malformed(
            "trailing data after the ContentInfo's content",
        ));
    }
    if !is_context(&explicit, 0) || !explicit.header.is_constructed() {
        return Err(pkcs7_malformed("content is not tagged [0] EXPLICIT"));
    }
    let (rest, signed_data, _) = pkcs7_element(explicit.data, "SignedData")?;
    if !rest.is_empty() {
        return Err(pkcs7_malformed("trailing data after the SignedData"));
    }
    if !is_universal(&signed_data, Tag::Sequence) {
        return Err(pkcs7_malformed("SignedData is not a SEQUENCE"));
    }

    let mut fields = signed_data.data;
    let mut expect = |tag: Tag, type_name: &str, name: &str| -> Result<(), Reason> {
        let (rest, field, _) = pkcs7_element(fields, &format!("SignedData's {name}"))?;
        if !is_universal(&field, tag) {
            return Err(pkcs7_malformed(format_args!(
                "SignedData's {name} is {}, not {type_name}",
                describe_tag(&field)
            )));
        }
        fields = rest;
        Ok(())
    };
    expect(Tag::Integer, "INTEGER", "version")?;
    expect(Tag::Set, "SET", "digestAlgorithms")?;
    expect(Tag::Sequence, "SEQUENCE", "encapContentInfo")?;

    let mut certificate_set: Option<&[u8]> = None;
    let mut crls_seen = false;
    let mut signer_infos_seen = false;
    while !fields.is_empty() {
        let (rest, field, _) = pkcs7_element(fields, "SignedData field")?;
        fields = rest;
        if signer_infos_seen {
            return Err(pkcs7_malformed(
                "trailing data after SignedData's signerInfos",
            ));
        }
        if is_context(&field, 0) && certificate_set.is_none() && !crls_seen {
            certificate_set = Some(field.data);
        } else if is_context(&field, 1) && !crls_seen {
            crls_seen = true;
        } else if is_universal(&field, Tag::Set) {
            signer_infos_seen = true;
        } else {
            return Err(pkcs7_malformed(format_args!(
                "unexpected {} in SignedData after encapContentInfo",
                describe_tag(&field)
            )));
        }
    }
    if !signer_infos_seen {
        return Err(pkcs7_malformed("SignedData has no signerInfos"));
    }

    let mut certificates = Vec::new();
    let mut cursor = certificate_set.unwrap_or_default();
    while !cursor.is_empty() {
        let position = certificates.len() + 1;
        let (rest, choice, raw) = pkcs7_element(cursor, "certificates")?;
        cursor = rest;
        // CertificateChoices (RFC 5652 §10.2.2): [0] extendedCertificate, [1] and [2]
        // attribute certificates, [3] other formats. None of them can identify a client.
        if !is_universal(&choice, Tag::Sequence) {
            return Err(pkcs7_malformed(format_args!(
                "certificate {position} is not an X.509 certificate (CertificateChoices {})",
                describe_tag(&choice)
            )));
        }
        let certificate = Certificate::from_der(raw).map_err(|reason| match reason {
            Reason::CertificateMalformed { detail } => Reason::CertificateMalformed {
                detail: format!("certificate {position} of the PKCS#7 bundle: {detail}"),
            },
            other => other,
        })?;
        certificates.push(certificate);
    }
    if certificates.is_empty() {
        return Err(Reason::CertificateMalformed {
            detail: "the PKCS#7 bundle contains no certificates".into(),
        });
    }
    Ok(certificates)
}

/// One DER CRL, or every `X509 CRL` block of a PEM file. Strict: the first CRL that cannot be
/// used fails the whole input. Callers that must keep the usable CRLs of a bundle (and report
/// the others) use [`parse_crl_bundle`].
pub fn parse_crls(bytes: Vec<u8>) -> Result<Vec<Crl>, Reason> {
    let bundle = parse_crl_bundle(bytes);
    match bundle.unusable.into_iter().next() {
        Some(unusable) => Err(unusable.reason),
        None => Ok(bundle.crls),
    }
}

/// A CRL of a bundle that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnusableCrl {
    /// Where it is in the input, from 1, counting `X509 CRL` blocks and unreadable PEM blocks
    /// (a DER input is CRL 1). `None` when the input holds no CRL at all.
    pub position: Option<usize>,
    /// Why it is unusable; `code()` is the stable reason code.
    pub reason: Reason,
}

/// What a CRL file holds: the CRLs that can be used, and every one that cannot, with its
/// reason. One bad CRL in a bundle does not hide the others, and is never silently dropped:
/// a caller that was handed CRLs must check revocation even when none of them is usable
/// (fail closed), so the certificates a dropped CRL would cover end up with an unknown status.
#[derive(Debug, Default)]
pub struct CrlBundle {
    /// The CRLs that parsed, in input order; their signatures are checked later, against
    /// the signer the revocation check chooses.
    pub crls: Vec<Crl>,
    /// Every CRL that did not parse, with where it is and why.
    pub unusable: Vec<UnusableCrl>,
}

/// Reads one DER CRL, or every `X509 CRL` block of a PEM file (text and other blocks between
/// them ignored), keeping each usable CRL and reporting each unusable one.
pub fn parse_crl_bundle(bytes: Vec<u8>) -> CrlBundle {
    let mut bundle = CrlBundle::default();
    if !looks_like_pem(&bytes) {
        match Crl::from_der(bytes) {
            Ok(crl) => bundle.crls.push(crl),
            Err(reason) => bundle.unusable.push(UnusableCrl {
                position: Some(1),
                reason,
            }),
        }
        return bundle;
    }
    let mut cursor = std::io::Cursor::new(bytes.as_slice());
    let mut position = 0;
    loop {
        let start = cursor.position();
        let block = match Pem::read(&mut cursor) {
            Ok((block, _)) => Ok(block),
            Err(x509_parser::error::PEMError::MissingHeader) => break,
            Err(error) => Err(error),
        };
        match block {
            Ok(block) if block.label != "X509 CRL" => {}
            Ok(block) => {
                position += 1;
                match Crl::from_der(block.contents) {
                    Ok(crl) => bundle.crls.push(crl),
                    Err(reason) => bundle.unusable.push(UnusableCrl {
                        position: Some(position),
                        reason,
                    }),
                }
            }
            Err(error) => {
                position += 1;
                bundle.unusable.push(UnusableCrl {
                    position: Some(position),
                    reason: Reason::CrlMalformed {
                        detail: format!("unreadable PEM block: {error:?}"),
                    },
                });
            }
        }
        // Every read consumes at least one line; stop rather than spin if one ever does not.
        if cursor.position() <= start {
            break;
        }
    }
    if position == 0 {
        bundle.unusable.push(UnusableCrl {
            position: None,
            reason: Reason::CrlMalformed {
                detail: "no X509 CRL block found in PEM input".into(),
            },
        });
    }
    bundle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_without_certificate_blocks_is_rejected_with_reason() {
        let err = parse_certificates(
            b"hello\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert_eq!(err.code(), "cert-malformed");
    }

    #[test]
    fn garbage_der_is_rejected_with_reason() {
        for input in [&b""[..], b"\x30", b"\x30\x82\xff\xff", b"not a certificate"] {
            assert_eq!(
                parse_certificates(input).unwrap_err().code(),
                "cert-malformed"
            );
        }
    }

    /// Found while writing the `certificate` fuzz target's oracle (PEM detection must not
    /// change how a DER certificate is read; fuzz/regressions/certificate/): a subject naming
    /// the PEM marker made a valid DER certificate unreadable through `parse_certificates`.
    #[test]
    fn der_certificate_whose_subject_mentions_a_pem_marker_is_read_as_der() {
        let spec = certgate_testpki::ChainSpec {
            key: certgate_testpki::KeyKind::Ed25519,
            leaf_common_name: "-----BEGIN CERTIFICATE-----".into(),
            ..certgate_testpki::ChainSpec::default()
        };
        let pki = certgate_testpki::TestPki::three_level(&spec).expect("test PKI");
        let certs = parse_certificates(&pki.leaf.der).expect("DER certificate parses");
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].der(), pki.leaf.der.as_slice());
    }

    #[test]
    fn truncated_pem_is_rejected_with_reason() {
        let err = parse_certificates(b"-----BEGIN CERTIFICATE-----\nMIIB").unwrap_err();
        assert_eq!(err.code(), "cert-malformed");
    }

    // ---- PKCS#7 bundles ------------------------------------------------------------------

    fn test_pki(leaf_common_name: &str) -> certgate_testpki::TestPki {
        let spec = certgate_testpki::ChainSpec {
            key: certgate_testpki::KeyKind::Ed25519,
            leaf_common_name: leaf_common_name.into(),
            ..certgate_testpki::ChainSpec::default()
        };
        certgate_testpki::TestPki::three_level(&spec).expect("test PKI")
    }

    /// A directory under the system temp dir, removed when dropped.
    struct ScratchDir(std::path::PathBuf);

    impl ScratchDir {
        fn new(purpose: &str) -> Self {
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let path = std::env::temp_dir().join(format!(
                "certgate-pki-{purpose}-{}-{nanos}-{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            std::fs::create_dir(&path).expect("create scratch dir");
            ScratchDir(path)
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `openssl crl2pkcs7 -nocrl -certfile ...` over `pems`, in `outform` (DER or PEM).
    fn openssl_p7b(pems: &[&str], outform: &str) -> Vec<u8> {
        let dir = ScratchDir::new("p7b");
        let mut command = std::process::Command::new("openssl");
        command.args(["crl2pkcs7", "-nocrl", "-outform", outform]);
        for (index, pem) in pems.iter().enumerate() {
            let path = dir.0.join(format!("{index}.pem"));
            std::fs::write(&path, pem).expect("write certificate");
            command.arg("-certfile").arg(&path);
        }
        let output = command
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the openssl command line tool must be installed to run this test");
        assert!(
            output.status.success(),
            "openssl crl2pkcs7 failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    fn ders(certificates: &[Certificate]) -> Vec<&[u8]> {
        certificates.iter().map(Certificate::der).collect()
    }

    fn malformed_detail(result: Result<Vec<Certificate>, Reason>) -> String {
        match result {
            Err(Reason::CertificateMalformed { detail }) => detail,
            other => panic!("expected CertificateMalformed, got {other:?}"),
        }
    }

    /// DER TLV with a definite length.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let length = content.len();
        if length < 0x80 {
            out.push(length as u8);
        } else {
            let bytes: Vec<u8> = length
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }

    /// BER TLV with an indefinite length (constructed tags only).
    fn indefinite(tag: u8, content: &[u8]) -> Vec<u8> {
        [&[tag, 0x80][..], content, &[0, 0]].concat()
    }

    const SIGNED_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
    ];
    const DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];

    /// A certs-only SignedData's fields with `certificates` as the `[0]` field's content.
    fn signed_data_fields(certificates: Option<&[u8]>) -> Vec<u8> {
        let mut fields = [tlv(0x02, &[1]), tlv(0x31, &[]), tlv(0x30, DATA)].concat();
        if let Some(certificates) = certificates {
            fields.extend(tlv(0xa0, certificates));
        }
        fields.extend(tlv(0x31, &[]));
        fields
    }

    fn content_info(signed_data_fields: &[u8]) -> Vec<u8> {
        let content = tlv(0xa0, &tlv(0x30, signed_data_fields));
        tlv(0x30, &[SIGNED_DATA, &content].concat())
    }

    #[test]
    fn openssl_der_p7b_yields_its_certificates_in_order() {
        let pki = test_pki("alice");
        let p7b = openssl_p7b(&[&pki.leaf.pem, &pki.root.pem], "DER");
        let certificates = parse_certificates(&p7b).expect("DER p7b parses");
        assert_eq!(
            ders(&certificates),
            [pki.leaf.der.as_slice(), pki.root.der.as_slice()]
        );
    }

    #[test]
    fn openssl_pem_p7b_yields_its_certificates_in_order() {
        let pki = test_pki("alice");
        let p7b = openssl_p7b(&[&pki.intermediate.pem, &pki.leaf.pem], "PEM");
        assert!(p7b.starts_with(b"-----BEGIN PKCS7-----"));
        let certificates = parse_certificates(&p7b).expect("PEM p7b parses");
        assert_eq!(
            ders(&certificates),
            [pki.intermediate.der.as_slice(), pki.leaf.der.as_slice()]
        );
    }

    #[test]
    fn pem_file_mixing_certificate_and_pkcs7_blocks_yields_all_in_file_order() {
        let pki = test_pki("alice");
        let p7b = String::from_utf8(openssl_p7b(&[&pki.intermediate.pem, &pki.root.pem], "PEM"))
            .expect("PEM is text");
        let file = format!("leaf:\n{}\nchain:\n{p7b}", pki.leaf.pem);
        let certificates = parse_certificates(file.as_bytes()).expect("mixed PEM parses");
        assert_eq!(
            ders(&certificates),
            [
                pki.leaf.der.as_slice(),
                pki.intermediate.der.as_slice(),
                pki.root.der.as_slice()
            ]
        );
    }

    #[test]
    fn openssl_p7b_without_certificates_is_rejected_as_empty() {
        for outform in ["DER", "PEM"] {
            let p7b = openssl_p7b(&[], outform);
            assert_eq!(
                malformed_detail(parse_certificates(&p7b)),
                "the PKCS#7 bundle contains no certificates",
                "{outform}"
            );
        }
    }

    #[test]
    fn empty_certificate_set_is_rejected_as_empty() {
        let p7b = content_info(&signed_data_fields(Some(&[])));
        assert_eq!(
            malformed_detail(parse_certificates(&p7b)),
            "the PKCS#7 bundle contains no certificates"
        );
    }

    #[test]
    fn truncated_p7b_is_rejected_at_every_length() {
        let pki = test_pki("alice");
        let p7b = openssl_p7b(&[&pki.leaf.pem, &pki.root.pem], "DER");
        for length in 1..p7b.len() {
            let result = parse_certificates(&p7b[..length]);
            assert!(
                matches!(result, Err(Reason::CertificateMalformed { .. })),
                "{length} of {} bytes: {result:?}",
                p7b.len()
            );
        }
    }

    #[test]
    fn garbage_after_the_signed_data_oid_is_rejected_with_pkcs7_detail() {
        let garbage = tlv(
            0x30,
            &[SIGNED_DATA, b"\xa0\x03\x30\x01\xff".as_slice()].concat(),
        );
        let detail = malformed_detail(parse_certificates(&garbage));
        assert!(detail.starts_with("invalid PKCS#7 bundle:"), "{detail}");

        let pem = "-----BEGIN PKCS7-----\nMIIBAAYJKoZIhvcNAQcC\n-----END PKCS7-----\n";
        let detail = malformed_detail(parse_certificates(pem.as_bytes()));
        assert!(detail.starts_with("invalid PKCS#7 bundle:"), "{detail}");
    }

    #[test]
    fn trailing_data_after_the_bundle_is_rejected() {
        let pki = test_pki("alice");
        let mut p7b = openssl_p7b(&[&pki.leaf.pem], "DER");
        p7b.push(0);
        assert_eq!(
            malformed_detail(parse_certificates(&p7b)),
            "invalid PKCS#7 bundle: trailing data after the ContentInfo"
        );
    }

    #[test]
    fn pkcs7_content_other_than_signed_data_is_rejected_by_name() {
        let enveloped_data = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03,
        ];
        let p7 = tlv(
            0x30,
            &[&enveloped_data[..], &tlv(0xa0, &tlv(0x30, &[]))].concat(),
        );
        let detail = malformed_detail(parse_certificates(&p7));
        assert!(detail.contains("1.2.840.113549.1.7.3"), "{detail}");
        assert!(detail.contains("not signedData"), "{detail}");
    }

    #[test]
    fn attribute_certificate_in_bundle_is_rejected() {
        let pki = test_pki("alice");
        let certificates = [pki.leaf.der.clone(), tlv(0xa1, &[0x30, 0x00])].concat();
        let p7b = content_info(&signed_data_fields(Some(&certificates)));
        let detail = malformed_detail(parse_certificates(&p7b));
        assert!(
            detail.contains("certificate 2 is not an X.509 certificate"),
            "{detail}"
        );
        assert!(detail.contains("[1]"), "{detail}");
    }

    #[test]
    fn malformed_certificate_in_bundle_is_reported_by_position() {
        let pki = test_pki("alice");
        let not_a_certificate = tlv(0x30, &[0x02, 0x01, 0x00]);
        let certificates = [pki.leaf.der.clone(), not_a_certificate].concat();
        let p7b = content_info(&signed_data_fields(Some(&certificates)));
        let detail = malformed_detail(parse_certificates(&p7b));
        assert!(
            detail.starts_with("certificate 2 of the PKCS#7 bundle:"),
            "{detail}"
        );
    }

    #[test]
    fn missing_signer_infos_is_rejected() {
        let pki = test_pki("alice");
        let fields = [
            tlv(0x02, &[1]),
            tlv(0x31, &[]),
            tlv(0x30, DATA),
            tlv(0xa0, &pki.leaf.der),
        ]
        .concat();
        let detail = malformed_detail(parse_certificates(&content_info(&fields)));
        assert_eq!(
            detail,
            "invalid PKCS#7 bundle: SignedData has no signerInfos"
        );
    }

    /// Some tools stream their bundles with BER indefinite lengths; the certificates inside
    /// are still DER.
    #[test]
    fn ber_indefinite_length_bundle_is_read() {
        let pki = test_pki("alice");
        let certificates = [pki.root.der.clone(), pki.leaf.der.clone()].concat();
        let fields = [
            tlv(0x02, &[1]),
            indefinite(0x31, &[]),
            indefinite(0x30, DATA),
            indefinite(0xa0, &certificates),
            indefinite(0x31, &[]),
        ]
        .concat();
        let content = indefinite(0xa0, &indefinite(0x30, &fields));
        let p7b = indefinite(0x30, &[SIGNED_DATA, &content].concat());
        let parsed = parse_certificates(&p7b).expect("BER bundle parses");
        assert_eq!(
            ders(&parsed),
            [pki.root.der.as_slice(), pki.leaf.der.as_slice()]
        );
    }

    #[test]
    fn der_p7b_whose_certificate_mentions_a_pem_marker_is_read_as_der() {
        let pki = test_pki("-----BEGIN CERTIFICATE-----");
        for p7b in [
            openssl_p7b(&[&pki.leaf.pem], "DER"),
            indefinite(
                0x30,
                &[
                    SIGNED_DATA,
                    &indefinite(0xa0, &tlv(0x30, &signed_data_fields(Some(&pki.leaf.der)))),
                ]
                .concat(),
            ),
        ] {
            let certificates = parse_certificates(&p7b).expect("DER p7b parses");
            assert_eq!(ders(&certificates), [pki.leaf.der.as_slice()]);
        }
    }
}
