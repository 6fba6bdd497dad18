//! The extnValue syntaxes of the processed extensions (RFC 5280 §4.2.1): a decoder for each
//! plain value and a borrowing walker for each list, shared by the index and the owned
//! decoding.

use super::general_name::{general_name_ref, general_names, walk_general_names, GeneralNameRef};
use super::{checked_oid, non_empty};
use crate::certificate::{AuthorityKeyId, BasicConstraints, KeyUsage, PolicyConstraints};
use crate::der::{self, tag, DerError, DerResult, Reader};

/// BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
///                                 pathLenConstraint INTEGER (0..MAX) OPTIONAL }
pub(super) fn basic_constraints(value: &[u8]) -> DerResult<BasicConstraints> {
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
pub(super) fn key_usage(value: &[u8]) -> DerResult<KeyUsage> {
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

/// InhibitAnyPolicy ::= SkipCerts (INTEGER (0..MAX)).
pub(super) fn inhibit_any_policy(value: &[u8]) -> DerResult<u32> {
    der::single(value, tag::INTEGER).and_then(der::small_unsigned)
}

/// SEQUENCE SIZE (1..MAX) OF OBJECT IDENTIFIER (extKeyUsage): each OID's content octets.
pub(crate) fn walk_oid_list<'a>(
    value: &'a [u8],
    mut visit: impl FnMut(&'a [u8]) -> DerResult<()>,
) -> DerResult<()> {
    let mut items = non_empty(Reader::new(der::single(value, tag::SEQUENCE)?))?;
    while !items.is_empty() {
        visit(checked_oid(items.expect(tag::OID)?)?)?;
    }
    Ok(())
}

/// AuthorityKeyIdentifier, its fields borrowed; the issuer names have been checked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AuthorityKeyIdRef<'a> {
    pub(super) key_id: Option<&'a [u8]>,
    issuer: Option<&'a [u8]>,
    serial: Option<&'a [u8]>,
}

/// AuthorityKeyIdentifier ::= SEQUENCE {
///   keyIdentifier             [0] KeyIdentifier           OPTIONAL,
///   authorityCertIssuer       [1] GeneralNames            OPTIONAL,
///   authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL }
pub(super) fn authority_key_id_ref(value: &[u8]) -> DerResult<AuthorityKeyIdRef<'_>> {
    let mut fields = Reader::new(der::single(value, tag::SEQUENCE)?);
    let key_id = fields.optional(tag::context(0))?;
    let issuer = fields.optional(tag::context_constructed(1))?;
    if let Some(names) = issuer {
        walk_general_names(names, |_| Ok(()))?;
    }
    let serial = fields.optional(tag::context(2))?;
    fields.finish()?;
    Ok(AuthorityKeyIdRef {
        key_id,
        issuer,
        serial,
    })
}

/// The owned AuthorityKeyIdentifier (certificates and CRLs).
pub(crate) fn authority_key_id(value: &[u8]) -> DerResult<AuthorityKeyId> {
    let borrowed = authority_key_id_ref(value)?;
    Ok(AuthorityKeyId {
        key_id: borrowed.key_id.map(<[u8]>::to_vec),
        issuer: borrowed.issuer.map(general_names).transpose()?,
        serial: borrowed.serial.map(<[u8]>::to_vec),
    })
}

/// certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation
/// PolicyInformation ::= SEQUENCE { policyIdentifier OID,
///                                  policyQualifiers SEQUENCE SIZE (1..MAX) OF
///                                      PolicyQualifierInfo OPTIONAL }
/// PolicyQualifierInfo ::= SEQUENCE { policyQualifierId OID, qualifier ANY }
/// `visit(policy OID, policyQualifiers content)`, the content empty when absent.
pub(super) fn walk_certificate_policies<'a>(
    value: &'a [u8],
    mut visit: impl FnMut(&'a [u8], &'a [u8]) -> DerResult<()>,
) -> DerResult<()> {
    let mut items = non_empty(Reader::new(der::single(value, tag::SEQUENCE)?))?;
    while !items.is_empty() {
        let mut fields = Reader::new(items.expect(tag::SEQUENCE)?);
        let policy = checked_oid(fields.expect(tag::OID)?)?;
        let qualifiers = match fields.optional(tag::SEQUENCE)? {
            Some(list) => {
                non_empty(Reader::new(list))?;
                walk_policy_qualifiers(list, |_| Ok(()))?;
                list
            }
            None => &[],
        };
        fields.finish()?;
        visit(policy, qualifiers)?;
    }
    Ok(())
}

/// Each PolicyQualifierInfo of a policyQualifiers content: `visit` gets the qualifier's
/// whole encoding.
fn walk_policy_qualifiers<'a>(
    list: &'a [u8],
    mut visit: impl FnMut(&'a [u8]) -> DerResult<()>,
) -> DerResult<()> {
    let mut list = Reader::new(list);
    while !list.is_empty() {
        let mut qualifier = Reader::new(list.expect(tag::SEQUENCE)?);
        checked_oid(qualifier.expect(tag::OID)?)?;
        visit(qualifier.read()?.raw)?;
        qualifier.finish()?;
    }
    Ok(())
}

/// The qualifiers of a policyQualifiers content, each as its whole encoding.
pub(super) fn policy_qualifiers(list: &[u8]) -> DerResult<Vec<Vec<u8>>> {
    let mut qualifiers = Vec::new();
    walk_policy_qualifiers(list, |raw| {
        qualifiers.push(raw.to_vec());
        Ok(())
    })?;
    Ok(qualifiers)
}

/// PolicyMappings ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE {
///   issuerDomainPolicy OID, subjectDomainPolicy OID }
pub(super) fn walk_policy_mappings<'a>(
    value: &'a [u8],
    mut visit: impl FnMut(&'a [u8], &'a [u8]) -> DerResult<()>,
) -> DerResult<()> {
    let mut items = non_empty(Reader::new(der::single(value, tag::SEQUENCE)?))?;
    while !items.is_empty() {
        let mut pair = Reader::new(items.expect(tag::SEQUENCE)?);
        let issuer_domain = checked_oid(pair.expect(tag::OID)?)?;
        let subject_domain = checked_oid(pair.expect(tag::OID)?)?;
        pair.finish()?;
        visit(issuer_domain, subject_domain)?;
    }
    Ok(())
}

/// PolicyConstraints ::= SEQUENCE { requireExplicitPolicy [0] SkipCerts OPTIONAL,
///                                  inhibitPolicyMapping  [1] SkipCerts OPTIONAL }
pub(super) fn policy_constraints(value: &[u8]) -> DerResult<PolicyConstraints> {
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
/// `visit(0 for permitted or 1 for excluded, base)`; returns which of the two are present.
/// Only the bases are read: RFC 5280 §4.2.1.10 fixes minimum at 0 and forbids maximum, and
/// `structural_defect` reports subtrees that use them.
pub(super) fn walk_name_constraints<'a>(
    value: &'a [u8],
    mut visit: impl FnMut(u8, GeneralNameRef<'a>) -> DerResult<()>,
) -> DerResult<(bool, bool)> {
    let mut fields = Reader::new(der::single(value, tag::SEQUENCE)?);
    let mut present = [false; 2];
    for number in 0..2u8 {
        let Some(content) = fields.optional(tag::context_constructed(number))? else {
            continue;
        };
        let mut items = non_empty(Reader::new(content))?;
        while !items.is_empty() {
            let mut subtree = Reader::new(items.expect(tag::SEQUENCE)?);
            visit(number, general_name_ref(&mut subtree)?)?;
            subtree.optional(tag::context(0))?;
            subtree.optional(tag::context(1))?;
            subtree.finish()?;
        }
        present[usize::from(number)] = true;
    }
    fields.finish()?;
    Ok((present[0], present[1]))
}

/// AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription
/// AccessDescription ::= SEQUENCE { accessMethod OID, accessLocation GeneralName }
/// An empty list is walked as such: the server profile reports it.
pub(super) fn walk_authority_info_access<'a>(
    value: &'a [u8],
    mut visit: impl FnMut(&'a [u8], GeneralNameRef<'a>) -> DerResult<()>,
) -> DerResult<()> {
    let mut items = Reader::new(der::single(value, tag::SEQUENCE)?);
    while !items.is_empty() {
        let mut fields = Reader::new(items.expect(tag::SEQUENCE)?);
        let method = checked_oid(fields.expect(tag::OID)?)?;
        let location = general_name_ref(&mut fields)?;
        fields.finish()?;
        visit(method, location)?;
    }
    Ok(())
}
