//! A minimal DER writer (X.690 §10) for the structures this crate signs: certificates
//! (RFC 5280 §4.1), CRLs (§5.1) and the extensions inside them.
//!
//! Why hand-written rather than rcgen or yasna: rcgen cannot put deltaCRLIndicator or
//! FreshestCRL into a CRL, and it rebuilds the issuer name of a certificate from a parsed copy
//! of the CA's subject (one value per attribute type, no multi-valued RDNs), which changes the
//! name of an imported CA such as `CN=Issuing, DC=contoso, DC=com`. Writing the TBS structures
//! here keeps one code path for certificates and CRLs, copies the issuer name byte for byte
//! (RFC 5280 §4.1.2.4, §5.1.2.3), and needs only the dozen functions below; every value they
//! produce is checked by certgate-pki's parser and by OpenSSL in the tests.
//!
//! Everything is built bottom-up into `Vec<u8>`: each function returns one complete TLV.

use time::{OffsetDateTime, UtcOffset};

pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OBJECT_IDENTIFIER: u8 = 0x06;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const UTF8_STRING: u8 = 0x0c;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;

/// One TLV with a definite, minimal length (X.690 §10.1).
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    certgate_pki::der_tlv(tag, content)
}

/// A constructed TLV whose content is the concatenation of `parts` (already encoded).
pub(crate) fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    constructed(SEQUENCE, parts)
}

/// A SET OF in DER order (X.690 §11.6): the encoded components sorted as octet strings, the
/// shorter padded with zero octets at its end. CMS signs its signed attributes in this form
/// (RFC 5652 §5.4), so the order must be exactly the one a verifier re-derives.
pub(crate) fn set_of(mut components: Vec<Vec<u8>>) -> Vec<u8> {
    components.sort_by(|a, b| der_set_order(a, b));
    tlv(SET, &components.concat())
}

/// The content octets of [`set_of`] (for a SET OF written under an IMPLICIT context tag).
pub(crate) fn set_of_content(mut components: Vec<Vec<u8>>) -> Vec<u8> {
    components.sort_by(|a, b| der_set_order(a, b));
    components.concat()
}

fn der_set_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let length = a.len().max(b.len());
    let padded = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    (0..length)
        .map(|i| padded(a, i).cmp(&padded(b, i)))
        .find(|order| order.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// `[n]` constructed: an EXPLICIT tag, or an IMPLICIT tag on a SEQUENCE / SET.
pub(crate) fn context_constructed(n: u8, parts: &[&[u8]]) -> Vec<u8> {
    constructed(0xa0 | n, parts)
}

/// `[n]` IMPLICIT on a primitive type (keyIdentifier, uniformResourceIdentifier, ...).
pub(crate) fn context_primitive(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x80 | n, content)
}

pub(crate) fn boolean_true() -> Vec<u8> {
    tlv(BOOLEAN, &[0xff])
}

pub(crate) fn null() -> Vec<u8> {
    tlv(NULL, &[])
}

pub(crate) fn octet_string(content: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, content)
}

/// A BIT STRING of whole octets (signatures, public keys).
pub(crate) fn bit_string(content: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(content.len() + 1);
    value.push(0);
    value.extend_from_slice(content);
    tlv(BIT_STRING, &value)
}

/// A named-bit BIT STRING of at most eight bits (keyUsage up to cRLSign): `bits` has bit 0 of
/// the ASN.1 type in its most significant position. Trailing zero bits are dropped, as DER
/// requires for named bit lists (X.690 §11.2.2).
pub(crate) fn named_bits(bits: u8) -> Vec<u8> {
    if bits == 0 {
        return tlv(BIT_STRING, &[0]);
    }
    tlv(BIT_STRING, &[bits.trailing_zeros() as u8, bits])
}

/// An INTEGER whose value is the unsigned big-endian `magnitude`: leading zero octets are
/// removed and one is added back when the top bit is set (X.690 §8.3.2).
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    tlv(INTEGER, &unsigned_integer_content(magnitude))
}

/// The content octets of [`unsigned_integer`].
pub(crate) fn unsigned_integer_content(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let significant = &magnitude[skip..];
    let mut content = Vec::with_capacity(significant.len() + 1);
    if significant.first().is_none_or(|b| *b >= 0x80) {
        content.push(0);
    }
    content.extend_from_slice(significant);
    content
}

pub(crate) fn u64_integer(value: u64) -> Vec<u8> {
    unsigned_integer(&value.to_be_bytes())
}

pub(crate) fn utf8_string(text: &str) -> Vec<u8> {
    tlv(UTF8_STRING, text.as_bytes())
}

/// The TLV of an OBJECT IDENTIFIER in dotted form, or `None` when `dotted` is not one: at least
/// two arcs of decimal digits without leading zeros, the first 0, 1 or 2, and the second below
/// 40 unless the first is 2 (X.660, X.690 §8.19).
pub(crate) fn oid(dotted: &str) -> Option<Vec<u8>> {
    let arcs = dotted
        .split('.')
        .map(|arc| {
            let canonical = !arc.is_empty()
                && arc.bytes().all(|b| b.is_ascii_digit())
                && (arc == "0" || !arc.starts_with('0'));
            if canonical {
                arc.parse::<u64>().ok()
            } else {
                None
            }
        })
        .collect::<Option<Vec<u64>>>()?;
    let (&first, rest) = arcs.split_first()?;
    let (&second, rest) = rest.split_first()?;
    if first > 2 || (first < 2 && second >= 40) {
        return None;
    }
    let mut content = Vec::new();
    push_base128(&mut content, first.checked_mul(40)?.checked_add(second)?);
    for &arc in rest {
        push_base128(&mut content, arc);
    }
    Some(tlv(OBJECT_IDENTIFIER, &content))
}

/// The TLV of an OID known at compile time to be well formed.
pub(crate) fn known_oid(arcs: &[u64]) -> Vec<u8> {
    let mut content = Vec::new();
    if let [first, second, rest @ ..] = arcs {
        push_base128(&mut content, first * 40 + second);
        for &arc in rest {
            push_base128(&mut content, arc);
        }
    }
    tlv(OBJECT_IDENTIFIER, &content)
}

fn push_base128(out: &mut Vec<u8>, mut value: u64) {
    let mut groups = [0u8; 10];
    let mut count = 0;
    loop {
        groups[count] = (value & 0x7f) as u8;
        count += 1;
        value >>= 7;
        if value == 0 {
            break;
        }
    }
    for i in (0..count).rev() {
        let more = if i == 0 { 0 } else { 0x80 };
        out.push(groups[i] | more);
    }
}

/// An X.509 `Time` (RFC 5280 §4.1.2.5, §5.1.2.4): UTCTime for the years 1950 to 2049,
/// GeneralizedTime otherwise, always in UTC ("Z") with whole seconds. `None` for years that
/// neither can express (before 0 or after 9999).
pub(crate) fn time(at: OffsetDateTime) -> Option<Vec<u8>> {
    let at = at.to_offset(UtcOffset::UTC);
    let year = at.year();
    let rest = format!(
        "{:02}{:02}{:02}{:02}{:02}Z",
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    if (1950..2050).contains(&year) {
        Some(tlv(UTC_TIME, format!("{:02}{rest}", year % 100).as_bytes()))
    } else if (0..=9999).contains(&year) {
        Some(tlv(GENERALIZED_TIME, format!("{year:04}{rest}").as_bytes()))
    } else {
        None
    }
}

/// One Extension (RFC 5280 §4.1): `critical` is written only when true (DEFAULT FALSE).
pub(crate) fn extension(oid_arcs: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let oid = known_oid(oid_arcs);
    let value = octet_string(value);
    if critical {
        sequence(&[&oid, &boolean_true(), &value])
    } else {
        sequence(&[&oid, &value])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix_seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix_seconds).expect("in range")
    }

    #[test]
    fn lengths_use_the_short_form_below_128_and_minimal_long_forms_above() {
        assert_eq!(tlv(OCTET_STRING, &[7; 3]), [0x04, 3, 7, 7, 7]);
        let long = tlv(OCTET_STRING, &[0; 200]);
        assert_eq!(&long[..3], [0x04, 0x81, 200]);
        let longer = tlv(OCTET_STRING, &[0; 0x1234]);
        assert_eq!(&longer[..4], [0x04, 0x82, 0x12, 0x34]);
        assert_eq!(longer.len(), 4 + 0x1234);
    }

    #[test]
    fn unsigned_integers_are_minimal_and_never_negative() {
        assert_eq!(u64_integer(0), [0x02, 1, 0]);
        assert_eq!(u64_integer(127), [0x02, 1, 0x7f]);
        assert_eq!(u64_integer(128), [0x02, 2, 0, 0x80]);
        assert_eq!(u64_integer(0x0102), [0x02, 2, 1, 2]);
        assert_eq!(unsigned_integer(&[0, 0, 0x7f, 1]), [0x02, 2, 0x7f, 1]);
        assert_eq!(unsigned_integer(&[]), [0x02, 1, 0]);
    }

    #[test]
    fn oids_encode_like_x690_and_malformed_dotted_forms_are_refused() {
        assert_eq!(
            oid("1.3.6.1.4.1.311.20.2.3").as_deref(),
            Some(&[0x06, 0x0a, 0x2b, 6, 1, 4, 1, 0x82, 0x37, 0x14, 2, 3][..])
        );
        assert_eq!(
            oid("2.5.29.32.0").as_deref(),
            Some(&[0x06, 4, 0x55, 0x1d, 0x20, 0][..])
        );
        assert_eq!(
            oid("2.999.1").as_deref(),
            Some(&[0x06, 3, 0x88, 0x37, 1][..])
        );
        assert_eq!(
            known_oid(&[2, 5, 29, 19]),
            oid("2.5.29.19").unwrap_or_default()
        );
        for bad in [
            "",
            "1",
            "1.",
            ".1.2",
            "1..2",
            "3.1",
            "1.40",
            "1.2.03",
            "1.2.x",
            "1.2.-3",
            "1 .2",
            "1.2.99999999999999999999999",
        ] {
            assert_eq!(oid(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn set_of_sorts_its_components_as_der_requires() {
        let set = set_of(vec![vec![0x04, 1, 9], vec![0x02, 1, 5], vec![0x04, 1, 1]]);
        assert_eq!(set, [0x31, 9, 0x02, 1, 5, 0x04, 1, 1, 0x04, 1, 9]);
        // A prefix sorts first; zero padding makes a trailing zero tie with the shorter one.
        assert_eq!(
            set_of_content(vec![vec![1, 2, 3], vec![1, 2]]),
            [1, 2, 1, 2, 3]
        );
    }

    #[test]
    fn key_usage_bits_drop_trailing_zeros() {
        // digitalSignature only: 03 02 07 80
        assert_eq!(named_bits(0x80), [0x03, 2, 7, 0x80]);
        // keyCertSign | cRLSign: 03 02 01 06
        assert_eq!(named_bits(0x06), [0x03, 2, 1, 0x06]);
    }

    #[test]
    fn times_switch_from_utc_time_to_generalized_time_in_2050() {
        // 2026-01-01T00:00:00Z
        assert_eq!(
            time(at(1_767_225_600)).as_deref(),
            Some(&b"\x17\x0d260101000000Z"[..])
        );
        // 2050-06-30T12:34:56Z
        assert_eq!(
            time(at(2_540_205_296)).as_deref(),
            Some(&b"\x18\x0f20500630123456Z"[..])
        );
        // Offsets are converted to UTC, never written.
        let plus_one = time::UtcOffset::from_hms(1, 0, 0).expect("valid offset");
        assert_eq!(
            time(at(1_767_225_600).to_offset(plus_one)),
            time(at(1_767_225_600))
        );
        // 1949-12-31T23:59:59Z
        assert_eq!(
            time(at(-631_152_001)).as_deref(),
            Some(&b"\x18\x0f19491231235959Z"[..])
        );
    }
}
