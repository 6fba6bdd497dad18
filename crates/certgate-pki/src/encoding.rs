//! Reading certificates and CRLs as administrators hand them over: DER, or PEM (bundles
//! allowed, text around the blocks ignored).

use x509_parser::pem::Pem;

use crate::certificate::Certificate;
use crate::crl::Crl;
use crate::error::Reason;

const PEM_MARKER: &[u8] = b"-----BEGIN ";

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(PEM_MARKER.len()).any(|w| w == PEM_MARKER)
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

    #[test]
    fn truncated_pem_is_rejected_with_reason() {
        let err = parse_certificates(b"-----BEGIN CERTIFICATE-----\nMIIB").unwrap_err();
        assert_eq!(err.code(), "cert-malformed");
    }
}
