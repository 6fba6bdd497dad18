//! Reading certificates and CRLs as administrators hand them over: DER, or PEM (bundles
//! allowed, text around the blocks ignored).

use x509_parser::pem::Pem;

use crate::certificate::Certificate;
use crate::crl::Crl;
use crate::error::Reason;

const PEM_MARKER: &[u8] = b"-----BEGIN ";

/// PEM unless the input is exactly one DER SEQUENCE: a DER certificate or CRL may carry the
/// PEM marker inside a name or an extension, and must still be read as the DER it is.
fn looks_like_pem(bytes: &[u8]) -> bool {
    !is_one_der_sequence(bytes) && bytes.windows(PEM_MARKER.len()).any(|w| w == PEM_MARKER)
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

/// Decodes every PEM block with one of `labels`; anything outside blocks is ignored.
fn pem_blocks(bytes: &[u8], labels: &[&str]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for block in Pem::iter_from_buffer(bytes) {
        let block = block.map_err(|e| format!("invalid PEM: {e:?}"))?;
        if labels.contains(&block.label.as_str()) {
            out.push(block.contents);
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

/// One DER certificate, or every `CERTIFICATE` block of a PEM file.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, Reason> {
    if looks_like_pem(bytes) {
        pem_blocks(bytes, &["CERTIFICATE", "X509 CERTIFICATE"])
            .map_err(|detail| Reason::CertificateMalformed { detail })?
            .iter()
            .map(|der| Certificate::from_der(der))
            .collect()
    } else {
        Certificate::from_der(bytes).map(|c| vec![c])
    }
}

/// One DER CRL, or every `X509 CRL` block of a PEM file.
pub fn parse_crls(bytes: Vec<u8>) -> Result<Vec<Crl>, Reason> {
    if looks_like_pem(&bytes) {
        pem_blocks(&bytes, &["X509 CRL"])
            .map_err(|detail| Reason::CrlMalformed { detail })?
            .into_iter()
            .map(Crl::from_der)
            .collect()
    } else {
        Crl::from_der(bytes).map(|c| vec![c])
    }
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
}
