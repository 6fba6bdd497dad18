//! DER decoding of the certificate extensions certgate processes (RFC 5280 §4.2) and of
//! GeneralName, over borrowed bytes.
//!
//! Every processed extension either decodes completely or the certificate is rejected with
//! `cert-extension-malformed`; a critical extension that certgate does not process is recorded
//! for the validator to reject (§4.2). Unprocessed non-critical extensions are not read.

use crate::certificate::{
    AccessDescription, AuthorityInfoAccess, AuthorityKeyId, BasicConstraints, Extensions,
    GeneralName, KeyUsage, NameConstraints, PolicyConstraints, PolicyInformation, PolicyMapping,
};
use crate::der::{self, tag, DerError, DerResult, Reader};
use crate::distribution_point::decode_distribution_points;
use crate::error::Reason;
use crate::name::Name;
use crate::oid::Oid;

/// The extensions certgate reads, recognised by encoding: matching bytes is cheaper than
/// matching dotted strings, and a certificate carries a dozen extensions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    SubjectKeyId,
    KeyUsage,
    SubjectAltName,
    BasicConstraints,
    NameConstraints,
    CrlDistributionPoints,
    CertificatePolicies,
    PolicyMappings,
    AuthorityKeyId,
    PolicyConstraints,
    ExtendedKeyUsage,
    FreshestCrl,
    InhibitAnyPolicy,
    /// Read (the server profile checks it) but not processed: critical means unknown.
    AuthorityInfoAccess,
    Other,
}

fn kind(encoded_oid: &[u8]) -> Kind {
    match encoded_oid {
        // id-ce, 2.5.29.n
        [0x55, 0x1d, n] => match n {
            14 => Kind::SubjectKeyId,
            15 => Kind::KeyUsage,
            17 => Kind::SubjectAltName,
            19 => Kind::BasicConstraints,
            30 => Kind::NameConstraints,
            31 => Kind::CrlDistributionPoints,
            32 => Kind::CertificatePolicies,
            33 => Kind::PolicyMappings,
            35 => Kind::AuthorityKeyId,
            36 => Kind::PolicyConstraints,
            37 => Kind::ExtendedKeyUsage,
            46 => Kind::FreshestCrl,
            54 => Kind::InhibitAnyPolicy,
            _ => Kind::Other,
        },
        // id-pe-authorityInfoAccess, 1.3.6.1.5.5.7.1.1
        [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01] => Kind::AuthorityInfoAccess,
        _ => Kind::Other,
    }
}

/// Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension, given as the SEQUENCE's content.
pub(crate) fn decode_extensions(list: &[u8]) -> Result<Extensions, Reason> {
    let mut out = Extensions {
        critical: Vec::with_capacity(4),
        ..Extensions::default()
    };
    // Duplicate detection without allocating for the usual dozen or fewer extensions.
    let mut seen_inline: [&[u8]; 16] = [&[]; 16];
    let mut seen_count = 0usize;
    let mut seen_more: Vec<&[u8]> = Vec::new();
    let mut extensions = Reader::new(list);
    let structure = |e: DerError| Reason::CertificateMalformed {
        detail: format!("extensions: {e}"),
    };
    while !extensions.is_empty() {
        // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE,
        //                          extnValue OCTET STRING }
        let mut fields = Reader::new(extensions.expect(tag::SEQUENCE).map_err(structure)?);
        let encoded_oid = fields.expect(tag::OID).map_err(structure)?;
        if !crate::oid::is_well_formed(encoded_oid) {
            return Err(structure(DerError("malformed extension OID")));
        }
        // The dotted form is built only where it is kept: critical flags, refusals.
        let oid = || Oid::from_der_content(encoded_oid).unwrap_or_else(|| Oid::new("?"));
        // An explicit FALSE is not DER, but common enough in the wild to read as absent.
        let critical = match fields.optional(tag::BOOLEAN).map_err(structure)? {
            Some(flag) => der::boolean(flag).map_err(structure)?,
            None => false,
        };
        let value = fields.expect(tag::OCTET_STRING).map_err(structure)?;
        fields.finish().map_err(structure)?;
        let seen = &seen_inline[..seen_count.min(seen_inline.len())];
        if seen.contains(&encoded_oid) || seen_more.contains(&encoded_oid) {
            return Err(Reason::DuplicateExtension { oid: oid() });
        }
        match seen_inline.get_mut(seen_count) {
            Some(slot) => *slot = encoded_oid,
            None => seen_more.push(encoded_oid),
        }
        seen_count += 1;
        if critical {
            out.critical.push(oid());
        }
        decode_one(&mut out, kind(encoded_oid), oid, critical, value)?;
    }
    Ok(out)
}

fn decode_one(
    out: &mut Extensions,
    kind: Kind,
    oid: impl Fn() -> Oid,
    critical: bool,
    value: &[u8],
) -> Result<(), Reason> {
    let malformed = |oid: &dyn Fn() -> Oid| Reason::ExtensionMalformed { oid: oid() };
    match kind {
        Kind::BasicConstraints => {
            out.basic_constraints = Some(basic_constraints(value).map_err(|_| malformed(&oid))?)
        }
        Kind::KeyUsage => out.key_usage = Some(key_usage(value).map_err(|_| malformed(&oid))?),
        Kind::ExtendedKeyUsage => {
            out.extended_key_usage = Some(oid_list(value).map_err(|_| malformed(&oid))?)
        }
        Kind::SubjectKeyId => {
            out.subject_key_id = Some(
                der::single(value, tag::OCTET_STRING)
                    .map_err(|_| malformed(&oid))?
                    .to_vec(),
            )
        }
        Kind::AuthorityKeyId => {
            out.authority_key_id = Some(authority_key_id(value).map_err(|_| malformed(&oid))?)
        }
        Kind::SubjectAltName => {
            let names = der::single(value, tag::SEQUENCE)
                .and_then(general_names)
                .map_err(|_| malformed(&oid))?;
            out.subject_alt_names = Some(names)
        }
        Kind::CertificatePolicies => {
            out.certificate_policies =
                Some(certificate_policies(value).map_err(|_| malformed(&oid))?)
        }
        Kind::PolicyMappings => {
            out.policy_mappings = Some(policy_mappings(value).map_err(|_| malformed(&oid))?)
        }
        Kind::PolicyConstraints => {
            out.policy_constraints = Some(policy_constraints(value).map_err(|_| malformed(&oid))?)
        }
        Kind::InhibitAnyPolicy => {
            out.inhibit_any_policy = Some(
                der::single(value, tag::INTEGER)
                    .and_then(der::small_unsigned)
                    .map_err(|_| malformed(&oid))?,
            )
        }
        Kind::NameConstraints => {
            let defect = crate::name_constraints::structural_defect(value);
            out.name_constraints = Some(match name_constraints(value) {
                Ok((permitted, excluded)) => NameConstraints {
                    permitted,
                    excluded,
                    critical,
                    defect,
                },
                // An empty GeneralSubtrees and the like are name-constraint defects
                // (name-constraints-malformed), reported when the path is validated.
                Err(_) if defect.is_some() => NameConstraints {
                    permitted: None,
                    excluded: None,
                    critical,
                    defect,
                },
                Err(_) => return Err(malformed(&oid)),
            })
        }
        Kind::CrlDistributionPoints => {
            out.crl_distribution_points =
                Some(decode_distribution_points(value).ok_or_else(|| malformed(&oid))?)
        }
        Kind::FreshestCrl => {
            out.freshest_crl =
                Some(decode_distribution_points(value).ok_or_else(|| malformed(&oid))?)
        }
        Kind::AuthorityInfoAccess => {
            match authority_info_access(value) {
                Ok(descriptions) => {
                    out.authority_info_access = Some(AuthorityInfoAccess::Decoded(descriptions))
                }
                Err(_) if critical => return Err(malformed(&oid)),
                // certgate fetches nothing from AIA; the server profile reports it.
                Err(_) => out.authority_info_access = Some(AuthorityInfoAccess::Malformed),
            }
            if critical {
                out.unknown_critical.push(oid());
            }
        }
        Kind::Other => {
            if critical {
                out.unknown_critical.push(oid());
            }
        }
    }
    Ok(())
}

/// BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
///                                 pathLenConstraint INTEGER (0..MAX) OPTIONAL }
fn basic_constraints(value: &[u8]) -> DerResult<BasicConstraints> {
    let mut fields = Reader::new(der::single(value, tag::SEQUENCE)?);
    let ca = match fields.optional(tag::BOOLEAN)? {
        Some(flag) => der::boolean(flag)?,
        None => false,
    };
    let path_len = fields
        .optional(tag::INTEGER)?
        .map(der::small_unsigned)
        .transpose()?;
    fields.finish()?;
    Ok(BasicConstraints { ca, path_len })
}

/// KeyUsage ::= BIT STRING; bit n (the most significant bit of the first octet is bit 0)
/// becomes `1 << n`. A set bit beyond decipherOnly (8) is refused; trailing zero octets,
/// which DER forbids but some CAs write, are read as the zeros they are.
fn key_usage(value: &[u8]) -> DerResult<KeyUsage> {
    let content = der::single(value, tag::BIT_STRING)?;
    let (&unused, bits) = content.split_first().ok_or(DerError("empty BIT STRING"))?;
    if unused > 7 || (bits.is_empty() && unused != 0) {
        return Err(DerError("keyUsage is not a BIT STRING"));
    }
    let mut flags = 0u16;
    for (index, octet) in bits.iter().enumerate() {
        for bit in 0..8 {
            if octet & (0x80 >> bit) != 0 {
                let n = index * 8 + bit;
                if n > 8 {
                    return Err(DerError("keyUsage bit beyond decipherOnly"));
                }
                flags |= 1 << n;
            }
        }
    }
    Ok(KeyUsage(flags))
}

/// SEQUENCE SIZE (1..MAX) OF OBJECT IDENTIFIER (extKeyUsage).
fn oid_list(value: &[u8]) -> DerResult<Vec<Oid>> {
    let mut items = Reader::new(der::single(value, tag::SEQUENCE)?);
    let mut oids = Vec::new();
    while !items.is_empty() {
        oids.push(oid(items.expect(tag::OID)?)?);
    }
    non_empty(oids)
}

/// AuthorityKeyIdentifier ::= SEQUENCE {
///   keyIdentifier             [0] KeyIdentifier           OPTIONAL,
///   authorityCertIssuer       [1] GeneralNames            OPTIONAL,
///   authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL }
pub(crate) fn authority_key_id(value: &[u8]) -> DerResult<AuthorityKeyId> {
    let mut fields = Reader::new(der::single(value, tag::SEQUENCE)?);
    let key_id = fields.optional(tag::context(0))?.map(<[u8]>::to_vec);
    let issuer = fields
        .optional(tag::context_constructed(1))?
        .map(general_names)
        .transpose()?;
    let serial = fields.optional(tag::context(2))?.map(<[u8]>::to_vec);
    fields.finish()?;
    Ok(AuthorityKeyId {
        key_id,
        issuer,
        serial,
    })
}

/// certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation
/// PolicyInformation ::= SEQUENCE { policyIdentifier OID,
///                                  policyQualifiers SEQUENCE SIZE (1..MAX) OF
///                                      PolicyQualifierInfo OPTIONAL }
/// PolicyQualifierInfo ::= SEQUENCE { policyQualifierId OID, qualifier ANY }
/// Each qualifier is kept as its whole encoding.
fn certificate_policies(value: &[u8]) -> DerResult<Vec<PolicyInformation>> {
    let mut items = Reader::new(der::single(value, tag::SEQUENCE)?);
    let mut policies = Vec::new();
    while !items.is_empty() {
        let mut fields = Reader::new(items.expect(tag::SEQUENCE)?);
        let policy = oid(fields.expect(tag::OID)?)?;
        let mut qualifiers = Vec::new();
        if let Some(list) = fields.optional(tag::SEQUENCE)? {
            let mut list = Reader::new(list);
            if list.is_empty() {
                return Err(DerError("empty policyQualifiers"));
            }
            while !list.is_empty() {
                let mut qualifier = Reader::new(list.expect(tag::SEQUENCE)?);
                oid(qualifier.expect(tag::OID)?)?;
                qualifiers.push(qualifier.read()?.raw.to_vec());
                qualifier.finish()?;
            }
        }
        fields.finish()?;
        policies.push(PolicyInformation { policy, qualifiers });
    }
    non_empty(policies)
}

/// PolicyMappings ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE {
///   issuerDomainPolicy OID, subjectDomainPolicy OID }
fn policy_mappings(value: &[u8]) -> DerResult<Vec<PolicyMapping>> {
    let mut items = Reader::new(der::single(value, tag::SEQUENCE)?);
    let mut mappings = Vec::new();
    while !items.is_empty() {
        let mut pair = Reader::new(items.expect(tag::SEQUENCE)?);
        let issuer_domain = oid(pair.expect(tag::OID)?)?;
        let subject_domain = oid(pair.expect(tag::OID)?)?;
        pair.finish()?;
        mappings.push(PolicyMapping {
            issuer_domain,
            subject_domain,
        });
    }
    non_empty(mappings)
}

/// PolicyConstraints ::= SEQUENCE { requireExplicitPolicy [0] SkipCerts OPTIONAL,
///                                  inhibitPolicyMapping  [1] SkipCerts OPTIONAL }
fn policy_constraints(value: &[u8]) -> DerResult<PolicyConstraints> {
    let mut fields = Reader::new(der::single(value, tag::SEQUENCE)?);
    let require_explicit_policy = fields
        .optional(tag::context(0))?
        .map(der::small_unsigned)
        .transpose()?;
    let inhibit_policy_mapping = fields
        .optional(tag::context(1))?
        .map(der::small_unsigned)
        .transpose()?;
    fields.finish()?;
    Ok(PolicyConstraints {
        require_explicit_policy,
        inhibit_policy_mapping,
    })
}

/// NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL,
///                                excludedSubtrees  [1] GeneralSubtrees OPTIONAL }
/// GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] BaseDistance DEFAULT 0,
///                               maximum [1] BaseDistance OPTIONAL }
/// Only the bases are kept: RFC 5280 §4.2.1.10 fixes minimum at 0 and forbids maximum, and
/// `structural_defect` reports subtrees that use them.
type Subtrees = Option<Vec<GeneralName>>;
fn name_constraints(value: &[u8]) -> DerResult<(Subtrees, Subtrees)> {
    let mut fields = Reader::new(der::single(value, tag::SEQUENCE)?);
    let mut subtrees = |number: u8| -> DerResult<Subtrees> {
        let Some(content) = fields.optional(tag::context_constructed(number))? else {
            return Ok(None);
        };
        let mut items = Reader::new(content);
        let mut bases = Vec::new();
        while !items.is_empty() {
            let mut subtree = Reader::new(items.expect(tag::SEQUENCE)?);
            bases.push(general_name(&mut subtree)?);
            subtree.optional(tag::context(0))?;
            subtree.optional(tag::context(1))?;
            subtree.finish()?;
        }
        non_empty(bases).map(Some)
    };
    let permitted = subtrees(0)?;
    let excluded = subtrees(1)?;
    fields.finish()?;
    Ok((permitted, excluded))
}

/// AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription
/// AccessDescription ::= SEQUENCE { accessMethod OID, accessLocation GeneralName }
/// An empty list is returned as such: the server profile reports it.
fn authority_info_access(value: &[u8]) -> DerResult<Vec<AccessDescription>> {
    let mut items = Reader::new(der::single(value, tag::SEQUENCE)?);
    let mut descriptions = Vec::new();
    while !items.is_empty() {
        let mut fields = Reader::new(items.expect(tag::SEQUENCE)?);
        let method = oid(fields.expect(tag::OID)?)?;
        let location = general_name(&mut fields)?;
        fields.finish()?;
        descriptions.push(AccessDescription { method, location });
    }
    Ok(descriptions)
}

/// The content of GeneralNames (SEQUENCE SIZE (1..MAX) OF GeneralName), whether it came
/// from a SEQUENCE or an implicitly tagged field.
pub(crate) fn general_names(content: &[u8]) -> DerResult<Vec<GeneralName>> {
    let mut items = Reader::new(content);
    let mut names = Vec::new();
    while !items.is_empty() {
        names.push(general_name(&mut items)?);
    }
    non_empty(names)
}

/// GeneralName ::= CHOICE {
///   otherName [0] OtherName, rfc822Name [1] IA5String, dNSName [2] IA5String,
///   x400Address [3] ORAddress, directoryName [4] Name, ediPartyName [5] EDIPartyName,
///   uniformResourceIdentifier [6] IA5String, iPAddress [7] OCTET STRING,
///   registeredID [8] OBJECT IDENTIFIER }
/// Each alternative must carry its own primitive or constructed form. x400Address and
/// ediPartyName are kept as `Unsupported` so that name constraints can fail closed on them.
pub(crate) fn general_name(items: &mut Reader<'_>) -> DerResult<GeneralName> {
    let element = items.read()?;
    let ia5 = |content: &[u8]| -> DerResult<String> {
        match std::str::from_utf8(content) {
            Ok(text) if text.is_ascii() => Ok(text.to_owned()),
            _ => Err(DerError("an IA5String with a non-ASCII octet")),
        }
    };
    Ok(match element.tag {
        t if t == tag::context_constructed(0) => {
            // OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
            let mut fields = Reader::new(element.value);
            let type_id = oid(fields.expect(tag::OID)?)?;
            let mut explicit = Reader::new(fields.expect(tag::context_constructed(0))?);
            let value = explicit.read()?.raw.to_vec();
            explicit.finish()?;
            fields.finish()?;
            GeneralName::OtherName { type_id, value }
        }
        t if t == tag::context(1) => GeneralName::Rfc822(ia5(element.value)?),
        t if t == tag::context(2) => GeneralName::Dns(ia5(element.value)?),
        t if t == tag::context_constructed(3) => GeneralName::Unsupported { tag: 3 },
        t if t == tag::context_constructed(4) => {
            // A CHOICE (Name) under a tag is explicitly tagged.
            GeneralName::Directory(Name::from_der(element.value)?)
        }
        t if t == tag::context_constructed(5) => GeneralName::Unsupported { tag: 5 },
        t if t == tag::context(6) => GeneralName::Uri(ia5(element.value)?),
        t if t == tag::context(7) => GeneralName::Ip(element.value.to_vec()),
        t if t == tag::context(8) => GeneralName::RegisteredId(oid(element.value)?),
        _ => return Err(DerError("not a GeneralName alternative")),
    })
}

fn oid(content: &[u8]) -> DerResult<Oid> {
    Oid::from_der_content(content).ok_or(DerError("malformed OID"))
}

fn non_empty<T>(items: Vec<T>) -> DerResult<Vec<T>> {
    if items.is_empty() {
        Err(DerError(
            "an empty SEQUENCE OF where at least one is required",
        ))
    } else {
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid::known;

    #[test]
    fn kinds_are_the_known_extension_oids() {
        let cases = [
            (known::EXT_SUBJECT_KEY_ID, Kind::SubjectKeyId),
            (known::EXT_KEY_USAGE, Kind::KeyUsage),
            (known::EXT_SUBJECT_ALT_NAME, Kind::SubjectAltName),
            (known::EXT_BASIC_CONSTRAINTS, Kind::BasicConstraints),
            (known::EXT_NAME_CONSTRAINTS, Kind::NameConstraints),
            (
                known::EXT_CRL_DISTRIBUTION_POINTS,
                Kind::CrlDistributionPoints,
            ),
            (known::EXT_CERTIFICATE_POLICIES, Kind::CertificatePolicies),
            (known::EXT_POLICY_MAPPINGS, Kind::PolicyMappings),
            (known::EXT_AUTHORITY_KEY_ID, Kind::AuthorityKeyId),
            (known::EXT_POLICY_CONSTRAINTS, Kind::PolicyConstraints),
            (known::EXT_EXTENDED_KEY_USAGE, Kind::ExtendedKeyUsage),
            (known::EXT_FRESHEST_CRL, Kind::FreshestCrl),
            (known::EXT_INHIBIT_ANY_POLICY, Kind::InhibitAnyPolicy),
            (known::EXT_AUTHORITY_INFO_ACCESS, Kind::AuthorityInfoAccess),
            (known::EXT_ISSUER_ALT_NAME, Kind::Other),
            (known::EXT_SUBJECT_INFO_ACCESS, Kind::Other),
        ];
        for (dotted, expected) in cases {
            let encoded = crate::oid::encode(dotted).expect("a well-formed OID");
            assert!(kind(&encoded) == expected, "{dotted}");
        }
    }
}
