//! Certificates-only CMS SignedData (RFC 5652 §5, "degenerate" per RFC 8551 §3.2.2): what EST
//! answers `/cacerts` and `/simpleenroll` with (RFC 7030 §4.1.3, §4.2.3), and what a `.p7b`
//! file is.
//!
//! ```text
//! ContentInfo { id-signedData, [0] EXPLICIT SignedData {
//!   version 1, digestAlgorithms {}, encapContentInfo { id-data } (no content),
//!   certificates [0] IMPLICIT SET OF Certificate, signerInfos {} } }
//! ```
//!
//! Kept apart from `cms` (signed content for configuration profiles): nothing is signed here,
//! so no key, digest or signed attributes are involved.

use crate::der;

/// id-data, id-signedData (RFC 5652 §4, §5.1).
const ID_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];
const ID_SIGNED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 2];

/// A certs-only SignedData ContentInfo holding `certificates` (each one DER certificate).
///
/// The certificates are written as a DER SET OF (X.690 §11.6: sorted by their encodings), so
/// their order in the output says nothing; readers find the chain by names and key
/// identifiers. The bytes are not parsed here: the caller passes certificates it issued or
/// stores.
pub fn certs_only(certificates: &[&[u8]]) -> Vec<u8> {
    let mut sorted: Vec<&[u8]> = certificates.to_vec();
    sorted.sort_by(|a, b| set_order(a, b));
    sorted.dedup();
    let signed_data = der::sequence(&[
        // RFC 5652 §5.1: version 1 when there are no attribute certificates, no other
        // revocation formats, no v2+ SignerInfos and the content is id-data.
        &der::u64_integer(1),
        &der::constructed(der::SET, &[]),
        &der::sequence(&[&der::known_oid(ID_DATA)]),
        &der::context_constructed(0, &sorted),
        &der::constructed(der::SET, &[]),
    ]);
    der::sequence(&[
        &der::known_oid(ID_SIGNED_DATA),
        &der::context_constructed(0, &[&signed_data]),
    ])
}

/// DER SET OF order: the encodings compared as octet strings, the shorter padded with zeros.
fn set_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let length = a.len().max(b.len());
    let octet = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    (0..length)
        .map(|i| octet(a, i).cmp(&octet(b, i)))
        .find(|order| order.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_bundle_is_the_fixed_degenerate_structure() {
        assert_eq!(
            certs_only(&[]),
            [
                0x30, 0x25, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0,
                0x18, 0x30, 0x16, 0x02, 0x01, 0x01, 0x31, 0x00, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86,
                0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x00, 0x31, 0x00,
            ]
        );
    }

    #[test]
    fn certificates_are_sorted_and_deduplicated() {
        let a: &[u8] = &[0x30, 0x01, 0x02];
        let b: &[u8] = &[0x30, 0x01, 0x01];
        let bundle = certs_only(&[a, b, a]);
        let certificates = [0xa0, 0x06, 0x30, 0x01, 0x01, 0x30, 0x01, 0x02];
        assert!(
            bundle.windows(8).any(|w| w == certificates),
            "{bundle:02x?}"
        );
    }
}
