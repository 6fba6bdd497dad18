//! DER decoding of cRLDistributionPoints / freshestCRL (RFC 5280 §4.2.1.13, §4.2.1.15) and
//! issuingDistributionPoint (§5.2.5).
//!
//! Written here rather than taken from x509-parser 0.18: its DistributionPointName parser
//! fails on every nameRelativeToCRLIssuer, and its callers wrap that failure in `opt(...)`, so
//! the name silently disappears. A CRL scoped to one distribution point would then look like a
//! CRL for everything (PKITS 4.14.8/9): a fail-open bug in a revocation checker. Every field
//! here either decodes completely or the whole extension is rejected.

use crate::certificate::{DistributionPoint, DistributionPointName, GeneralName, ReasonSet};
use crate::crl::IssuingDistributionPoint;
use crate::der::{self, tag, Reader, Tlv};
use crate::extension_der::{general_names, owned_oid, walk_general_names};
use crate::name::NameAttribute;

/// The `[n]`-tagged fields of a SEQUENCE's content as (n, content), which DER requires in
/// increasing tag order with each at most once; anything else fails the whole structure.
fn ordered_context_fields(content: &[u8]) -> impl Iterator<Item = Option<(u8, &[u8])>> + '_ {
    let mut reader = Reader::new(content);
    let mut previous: Option<u8> = None;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || reader.is_empty() {
            return None;
        }
        let field = reader
            .read()
            .ok()
            .filter(|field| field.tag & 0xc0 == 0x80)
            .map(|field| (field.tag & 0x1f, field.value))
            .filter(|(number, _)| previous.is_none_or(|p| p < *number));
        match field {
            Some((number, _)) => previous = Some(number),
            None => failed = true,
        }
        Some(field)
    })
}

/// A DistributionPoint borrowed from the encoding; the names in it have been checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DistributionPointRef<'a> {
    name: Option<DistributionPointNameRef<'a>>,
    reasons: Option<ReasonSet>,
    /// The content of the cRLIssuer GeneralNames.
    crl_issuer: Option<&'a [u8]>,
}

impl DistributionPointRef<'_> {
    fn to_owned(self) -> DistributionPoint {
        DistributionPoint {
            name: self.name.map(DistributionPointNameRef::to_owned),
            reasons: self.reasons,
            crl_issuer: self.crl_issuer.map(owned_general_names),
        }
    }
}

/// A DistributionPointName borrowed from the encoding, checked.
#[derive(Clone, Copy, Debug)]
enum DistributionPointNameRef<'a> {
    /// The content of the GeneralNames.
    FullName(&'a [u8]),
    /// The content of the RelativeDistinguishedName.
    RelativeToCrlIssuer(&'a [u8]),
}

impl DistributionPointNameRef<'_> {
    fn to_owned(self) -> DistributionPointName {
        match self {
            DistributionPointNameRef::FullName(names) => {
                DistributionPointName::FullName(owned_general_names(names))
            }
            DistributionPointNameRef::RelativeToCrlIssuer(rdn) => {
                DistributionPointName::RelativeToCrlIssuer(rdn_attributes(rdn).unwrap_or_default())
            }
        }
    }
}

/// GeneralNames content that [`walk_general_names`] accepted, owned; the walk cannot fail
/// the second time over the same bytes.
fn owned_general_names(content: &[u8]) -> Vec<GeneralName> {
    general_names(content).unwrap_or_default()
}

/// CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint, one point at a
/// time; `None` when any part does not decode.
pub(crate) fn walk_distribution_points<'a>(
    value: &'a [u8],
    mut visit: impl FnMut(DistributionPointRef<'a>) -> Option<()>,
) -> Option<()> {
    let mut list = Reader::new(der::single(value, tag::SEQUENCE).ok()?);
    if list.is_empty() {
        return None;
    }
    while !list.is_empty() {
        visit(distribution_point(list.expect(tag::SEQUENCE).ok()?)?)?;
    }
    Some(())
}

/// CRLDistributionPoints, owned.
pub(crate) fn decode_distribution_points(value: &[u8]) -> Option<Vec<DistributionPoint>> {
    let mut points = Vec::new();
    walk_distribution_points(value, |point| {
        points.push(point.to_owned());
        Some(())
    })?;
    Some(points)
}

/// DistributionPoint ::= SEQUENCE {
///   distributionPoint [0] DistributionPointName OPTIONAL,
///   reasons           [1] ReasonFlags OPTIONAL,
///   cRLIssuer         [2] GeneralNames OPTIONAL }
fn distribution_point(content: &[u8]) -> Option<DistributionPointRef<'_>> {
    let mut point = DistributionPointRef {
        name: None,
        reasons: None,
        crl_issuer: None,
    };
    for field in ordered_context_fields(content) {
        let (tag, field) = field?;
        match tag {
            0 => point.name = Some(distribution_point_name(field)?),
            1 => point.reasons = Some(decode_reason_flags(field)?),
            2 => {
                walk_general_names(field, |_| Ok(())).ok()?;
                point.crl_issuer = Some(field);
            }
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
fn distribution_point_name(content: &[u8]) -> Option<DistributionPointNameRef<'_>> {
    let mut reader = Reader::new(content);
    let choice = reader.read().ok()?;
    reader.finish().ok()?;
    match choice.tag {
        t if t == tag::context_constructed(0) => {
            walk_general_names(choice.value, |_| Ok(())).ok()?;
            Some(DistributionPointNameRef::FullName(choice.value))
        }
        t if t == tag::context_constructed(1) => {
            walk_rdn(choice.value, |_, _| ())?;
            Some(DistributionPointNameRef::RelativeToCrlIssuer(choice.value))
        }
        _ => None,
    }
}

/// The content of a RelativeDistinguishedName (SET SIZE (1..MAX) OF AttributeTypeAndValue),
/// `visit(type OID content, value)` for each attribute.
fn walk_rdn<'a>(content: &'a [u8], mut visit: impl FnMut(&'a [u8], Tlv<'a>)) -> Option<()> {
    let mut reader = Reader::new(content);
    if reader.is_empty() {
        return None;
    }
    while !reader.is_empty() {
        let mut pair = Reader::new(reader.expect(tag::SEQUENCE).ok()?);
        let oid = pair.expect(tag::OID).ok()?;
        if !crate::oid::is_well_formed(oid) {
            return None;
        }
        let value = pair.read().ok()?;
        pair.finish().ok()?;
        visit(oid, value);
    }
    Some(())
}

/// The attributes of a RelativeDistinguishedName's content, owned.
fn rdn_attributes(content: &[u8]) -> Option<Vec<NameAttribute>> {
    let mut attributes = Vec::new();
    walk_rdn(content, |oid, value| {
        attributes.push(NameAttribute {
            oid: owned_oid(oid),
            tag: u32::from(value.tag),
            value: value.value.to_vec(),
        })
    })?;
    Some(attributes)
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
    der::boolean(content).ok()
}

/// IssuingDistributionPoint ::= SEQUENCE {
///   distributionPoint          [0] DistributionPointName OPTIONAL,
///   onlyContainsUserCerts      [1] BOOLEAN DEFAULT FALSE,
///   onlyContainsCACerts        [2] BOOLEAN DEFAULT FALSE,
///   onlySomeReasons            [3] ReasonFlags OPTIONAL,
///   indirectCRL                [4] BOOLEAN DEFAULT FALSE,
///   onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE }
pub(crate) fn decode_issuing_distribution_point(value: &[u8]) -> Option<IssuingDistributionPoint> {
    let sequence = der::single(value, tag::SEQUENCE).ok()?;
    let mut idp = IssuingDistributionPoint::default();
    for field in ordered_context_fields(sequence) {
        let (tag, field) = field?;
        match tag {
            0 => idp.distribution_point = Some(distribution_point_name(field)?.to_owned()),
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
