//! DER decoding of cRLDistributionPoints / freshestCRL (RFC 5280 §4.2.1.13, §4.2.1.15) and
//! issuingDistributionPoint (§5.2.5).
//!
//! Written here rather than taken from x509-parser 0.18: its DistributionPointName parser
//! fails on every nameRelativeToCRLIssuer, and its callers wrap that failure in `opt(...)`, so
//! the name silently disappears. A CRL scoped to one distribution point would then look like a
//! CRL for everything (PKITS 4.14.8/9): a fail-open bug in a revocation checker. Every field
//! here either decodes completely or the whole extension is rejected.

use x509_parser::der_parser::asn1_rs::{Any, Class, FromDer, Tag};
use x509_parser::der_parser::oid::Oid as ParserOid;
use x509_parser::extensions::GeneralName as ParserGeneralName;

use crate::certificate::{
    general_name, DistributionPoint, DistributionPointName, GeneralName, ReasonSet,
};
use crate::crl::IssuingDistributionPoint;
use crate::name::NameAttribute;
use crate::oid::Oid;

fn tlv(input: &[u8]) -> Option<(&[u8], Any<'_>)> {
    Any::from_der(input).ok()
}

fn is_context(any: &Any<'_>, tag: u32) -> bool {
    any.class() == Class::ContextSpecific && any.tag() == Tag(tag)
}

/// The `[n]`-tagged fields of a SEQUENCE's content as (n, content), which DER requires in
/// increasing tag order with each at most once; anything else fails the whole structure.
fn ordered_context_fields(mut content: &[u8]) -> Option<Vec<(u32, &[u8])>> {
    let mut fields: Vec<(u32, &[u8])> = Vec::new();
    while !content.is_empty() {
        let (rest, field) = tlv(content)?;
        content = rest;
        if field.class() != Class::ContextSpecific {
            return None;
        }
        let tag = field.tag().0;
        if fields.last().is_some_and(|(previous, _)| *previous >= tag) {
            return None;
        }
        fields.push((tag, field.data));
    }
    Some(fields)
}

fn is_universal(any: &Any<'_>, tag: Tag) -> bool {
    any.class() == Class::Universal && any.tag() == tag
}

/// CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint
pub(crate) fn decode_distribution_points(value: &[u8]) -> Option<Vec<DistributionPoint>> {
    let (rest, list) = tlv(value)?;
    if !rest.is_empty() || !is_universal(&list, Tag::Sequence) {
        return None;
    }
    let mut points = Vec::new();
    let mut cursor = list.data;
    while !cursor.is_empty() {
        let (rest, point) = tlv(cursor)?;
        cursor = rest;
        if !is_universal(&point, Tag::Sequence) {
            return None;
        }
        points.push(decode_distribution_point(point.data)?);
    }
    (!points.is_empty()).then_some(points)
}

/// DistributionPoint ::= SEQUENCE {
///   distributionPoint [0] DistributionPointName OPTIONAL,
///   reasons           [1] ReasonFlags OPTIONAL,
///   cRLIssuer         [2] GeneralNames OPTIONAL }
fn decode_distribution_point(content: &[u8]) -> Option<DistributionPoint> {
    let mut point = DistributionPoint {
        name: None,
        reasons: None,
        crl_issuer: None,
    };
    for (tag, field) in ordered_context_fields(content)? {
        match tag {
            0 => point.name = Some(decode_distribution_point_name(field)?),
            1 => point.reasons = Some(decode_reason_flags(field)?),
            2 => point.crl_issuer = Some(decode_general_names(field)?),
            _ => return None,
        }
    }
    // RFC 5280 §4.2.1.13: a point with neither a name nor a CRL issuer is meaningless.
    if point.name.is_none() && point.crl_issuer.is_none() {
        return None;
    }
    Some(point)
}

/// DistributionPointName ::= CHOICE {
///   fullName                [0] GeneralNames,
///   nameRelativeToCRLIssuer [1] RelativeDistinguishedName }
/// `content` is the inside of the explicit `[0]` wrapper (a tagged CHOICE is explicit).
fn decode_distribution_point_name(content: &[u8]) -> Option<DistributionPointName> {
    let (rest, choice) = tlv(content)?;
    if !rest.is_empty() {
        return None;
    }
    if is_context(&choice, 0) {
        return Some(DistributionPointName::FullName(decode_general_names(
            choice.data,
        )?));
    }
    if is_context(&choice, 1) {
        return Some(DistributionPointName::RelativeToCrlIssuer(
            decode_rdn_content(choice.data)?,
        ));
    }
    None
}

/// The content of GeneralNames (SEQUENCE SIZE (1..MAX) OF GeneralName), implicitly tagged.
fn decode_general_names(mut content: &[u8]) -> Option<Vec<GeneralName>> {
    let mut names = Vec::new();
    while !content.is_empty() {
        let (rest, name) = ParserGeneralName::from_der(content).ok()?;
        names.push(general_name(&name));
        content = rest;
    }
    (!names.is_empty()).then_some(names)
}

/// The content of a RelativeDistinguishedName (SET SIZE (1..MAX) OF AttributeTypeAndValue).
fn decode_rdn_content(mut content: &[u8]) -> Option<Vec<NameAttribute>> {
    let mut attributes = Vec::new();
    while !content.is_empty() {
        let (rest, pair) = tlv(content)?;
        content = rest;
        if !is_universal(&pair, Tag::Sequence) {
            return None;
        }
        let (after_oid, oid) = ParserOid::from_der(pair.data).ok()?;
        let (after_value, value) = tlv(after_oid)?;
        if !after_value.is_empty() {
            return None;
        }
        attributes.push(NameAttribute {
            oid: Oid::from_parser(&oid),
            tag: value.tag().0,
            value: value.data.to_vec(),
        });
    }
    (!attributes.is_empty()).then_some(attributes)
}

/// ReasonFlags, a BIT STRING whose bit n (most significant bit of the first octet = bit 0) is
/// reason n; returned as a [`ReasonSet`] with bit n = `1 << n`.
fn decode_reason_flags(content: &[u8]) -> Option<ReasonSet> {
    let (&unused, bits) = content.split_first()?;
    if unused > 7 || (bits.is_empty() && unused != 0) {
        return None;
    }
    let mut set = 0u16;
    for (octet_index, octet) in bits.iter().enumerate() {
        for bit in 0..8 {
            let n = octet_index * 8 + bit;
            if octet & (0x80 >> bit) != 0 {
                if n >= 16 {
                    // Reasons beyond aACompromise(8) do not exist; a set bit there is an
                    // encoding from a different schema.
                    return None;
                }
                set |= 1 << n;
            }
        }
    }
    Some(ReasonSet(set))
}

fn decode_boolean(content: &[u8]) -> Option<bool> {
    match content {
        [0x00] => Some(false),
        [0xff] => Some(true),
        _ => None,
    }
}

/// IssuingDistributionPoint ::= SEQUENCE {
///   distributionPoint          [0] DistributionPointName OPTIONAL,
///   onlyContainsUserCerts      [1] BOOLEAN DEFAULT FALSE,
///   onlyContainsCACerts        [2] BOOLEAN DEFAULT FALSE,
///   onlySomeReasons            [3] ReasonFlags OPTIONAL,
///   indirectCRL                [4] BOOLEAN DEFAULT FALSE,
///   onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE }
pub(crate) fn decode_issuing_distribution_point(value: &[u8]) -> Option<IssuingDistributionPoint> {
    let (rest, sequence) = tlv(value)?;
    if !rest.is_empty() || !is_universal(&sequence, Tag::Sequence) {
        return None;
    }
    let mut idp = IssuingDistributionPoint::default();
    for (tag, field) in ordered_context_fields(sequence.data)? {
        match tag {
            0 => idp.distribution_point = Some(decode_distribution_point_name(field)?),
            1 => idp.only_contains_user_certs = decode_boolean(field)?,
            2 => idp.only_contains_ca_certs = decode_boolean(field)?,
            3 => idp.only_some_reasons = Some(decode_reason_flags(field)?),
            4 => idp.indirect_crl = decode_boolean(field)?,
            5 => idp.only_contains_attribute_certs = decode_boolean(field)?,
            _ => return None,
        }
    }
    Some(idp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_name_is_kept() {
        // SEQUENCE { SEQUENCE { [0] { [1] { SEQUENCE { OID 2.5.4.3, PrintableString "ab" } } } } }
        let der = [
            0x30, 0x11, 0x30, 0x0f, 0xa0, 0x0d, 0xa1, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04,
            0x03, 0x13, 0x02, b'a', b'b',
        ];
        let points = decode_distribution_points(&der).expect("decodes");
        match &points[0].name {
            Some(DistributionPointName::RelativeToCrlIssuer(rdn)) => {
                assert_eq!(rdn[0].oid.as_str(), "2.5.4.3");
                assert_eq!(rdn[0].value, b"ab");
            }
            other => panic!("relative name lost: {other:?}"),
        }
    }

    #[test]
    fn truncated_or_garbage_is_rejected_not_ignored() {
        let der = [0x30, 0x06, 0x30, 0x04, 0xa0, 0x02, 0xa1, 0x00];
        assert!(decode_distribution_points(&der).is_none());
        assert!(decode_distribution_points(&[0x30, 0x00]).is_none());
        assert!(decode_issuing_distribution_point(&[0x30, 0x03, 0x81, 0x01, 0x01]).is_none());
    }

    #[test]
    fn reason_flags_map_bit_n_to_reason_n() {
        // keyCompromise(1) and cACompromise(2): 0b0110_0000, 5 unused bits.
        assert_eq!(decode_reason_flags(&[0x05, 0x60]), Some(ReasonSet(0b110)));
        // aACompromise(8) is the first bit of the second octet.
        assert_eq!(
            decode_reason_flags(&[0x07, 0x00, 0x80]),
            Some(ReasonSet(1 << 8))
        );
    }

    #[test]
    fn idp_flags_decode() {
        // SEQUENCE { [1] TRUE, [4] TRUE }
        let der = [0x30, 0x06, 0x81, 0x01, 0xff, 0x84, 0x01, 0xff];
        let idp = decode_issuing_distribution_point(&der).expect("decodes");
        assert!(idp.only_contains_user_certs && idp.indirect_crl);
        assert!(!idp.only_contains_ca_certs && idp.distribution_point.is_none());
    }
}
