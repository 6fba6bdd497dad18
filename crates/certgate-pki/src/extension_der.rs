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
use crate::distribution_point::{decode_distribution_points, walk_distribution_points};
use crate::error::Reason;
use crate::name::Name;
use crate::oid::Oid;

/// The extensions certgate reads, recognised by encoding: matching bytes is cheaper than
/// matching dotted strings, and a certificate carries a dozen extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
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

/// The number of kinds [`ExtensionIndex`] keeps a place for (every kind but `Other`).
const INDEXED_KINDS: usize = 14;

impl Kind {
    /// The extension's OID in dotted form (`Other` has none).
    pub(crate) fn dotted(self) -> &'static str {
        use crate::oid::known::*;
        match self {
            Kind::SubjectKeyId => EXT_SUBJECT_KEY_ID,
            Kind::KeyUsage => EXT_KEY_USAGE,
            Kind::SubjectAltName => EXT_SUBJECT_ALT_NAME,
            Kind::BasicConstraints => EXT_BASIC_CONSTRAINTS,
            Kind::NameConstraints => EXT_NAME_CONSTRAINTS,
            Kind::CrlDistributionPoints => EXT_CRL_DISTRIBUTION_POINTS,
            Kind::CertificatePolicies => EXT_CERTIFICATE_POLICIES,
            Kind::PolicyMappings => EXT_POLICY_MAPPINGS,
            Kind::AuthorityKeyId => EXT_AUTHORITY_KEY_ID,
            Kind::PolicyConstraints => EXT_POLICY_CONSTRAINTS,
            Kind::ExtendedKeyUsage => EXT_EXTENDED_KEY_USAGE,
            Kind::FreshestCrl => EXT_FRESHEST_CRL,
            Kind::InhibitAnyPolicy => EXT_INHIBIT_ANY_POLICY,
            Kind::AuthorityInfoAccess => EXT_AUTHORITY_INFO_ACCESS,
            Kind::Other => "",
        }
    }

    fn slot(self) -> Option<usize> {
        (self != Kind::Other).then_some(self as usize)
    }
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

/// Where a part of the certificate's DER lies in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// The span of `part`, a subslice of `whole`.
    pub(crate) fn of(whole: &[u8], part: &[u8]) -> Span {
        let range = der::range_in(whole, part);
        Span {
            start: range.start,
            end: range.end,
        }
    }

    pub(crate) fn get(self, whole: &[u8]) -> &[u8] {
        whole.get(self.start..self.end).unwrap_or_default()
    }
}

/// What parsing learns about a certificate's extensions without allocating: where each
/// processed extension's value lies, which are critical, and the values that are plain
/// numbers and flags. Everything recorded here has been checked to decode; the owned
/// [`Extensions`] are decoded from the same bytes only when something asks for them.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExtensionIndex {
    /// The content of the Extensions SEQUENCE.
    list: Option<Span>,
    /// Each processed extension's extnValue content, by [`Kind`].
    values: [Option<Span>; INDEXED_KINDS],
    /// Bit `kind as usize` set when that extension is marked critical.
    critical: u16,
    /// The encoded OID of the first critical extension certgate does not process.
    first_unknown_critical: Option<Span>,
    pub(crate) basic_constraints: Option<BasicConstraints>,
    pub(crate) key_usage: Option<KeyUsage>,
    pub(crate) policy_constraints: Option<PolicyConstraints>,
    pub(crate) inhibit_any_policy: Option<u32>,
    /// The subjectKeyIdentifier's octets.
    subject_key_id: Option<Span>,
    /// The authorityKeyIdentifier's keyIdentifier field.
    authority_key_id: Option<Span>,
}

impl ExtensionIndex {
    pub(crate) fn list<'a>(&self, der: &'a [u8]) -> Option<&'a [u8]> {
        self.list.map(|span| span.get(der))
    }
    pub(crate) fn value<'a>(&self, der: &'a [u8], kind: Kind) -> Option<&'a [u8]> {
        let span = self.values.get(kind.slot()?).copied().flatten()?;
        Some(span.get(der))
    }
    pub(crate) fn is_present(&self, kind: Kind) -> bool {
        kind.slot()
            .and_then(|slot| self.values.get(slot).copied().flatten())
            .is_some()
    }
    pub(crate) fn is_critical(&self, kind: Kind) -> bool {
        kind.slot()
            .is_some_and(|slot| self.critical & (1 << slot) != 0)
    }
    pub(crate) fn first_unknown_critical<'a>(&self, der: &'a [u8]) -> Option<&'a [u8]> {
        self.first_unknown_critical.map(|span| span.get(der))
    }
    pub(crate) fn subject_key_id<'a>(&self, der: &'a [u8]) -> Option<&'a [u8]> {
        self.subject_key_id.map(|span| span.get(der))
    }
    pub(crate) fn authority_key_id<'a>(&self, der: &'a [u8]) -> Option<&'a [u8]> {
        self.authority_key_id.map(|span| span.get(der))
    }
}

/// Walks `Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension`, given as the SEQUENCE's
/// content: each extension's structure is checked and duplicates are refused, then
/// `visit(kind, encoded OID, critical, extnValue content)` is called.
fn walk_extensions<'a>(
    list: &'a [u8],
    mut visit: impl FnMut(Kind, &'a [u8], bool, &'a [u8]) -> Result<(), Reason>,
) -> Result<(), Reason> {
    // Duplicates: a bit per processed kind; other OIDs compared as bytes, without allocating
    // for the usual handful.
    let mut seen_kinds = 0u16;
    let mut seen_inline: [&[u8]; 8] = [&[]; 8];
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
        let kind = kind(encoded_oid);
        // A processed kind was recognised by its exact, well-formed encoding.
        if kind == Kind::Other && !crate::oid::is_well_formed(encoded_oid) {
            return Err(structure(DerError("malformed extension OID")));
        }
        // An explicit FALSE is not DER, but common enough in the wild to read as absent.
        let critical = match fields.optional(tag::BOOLEAN).map_err(structure)? {
            Some(flag) => der::boolean(flag).map_err(structure)?,
            None => false,
        };
        let value = fields.expect(tag::OCTET_STRING).map_err(structure)?;
        fields.finish().map_err(structure)?;
        let duplicate = match kind.slot() {
            Some(slot) => {
                let bit = 1u16 << slot;
                let seen = seen_kinds & bit != 0;
                seen_kinds |= bit;
                seen
            }
            None => {
                let seen = &seen_inline[..seen_count.min(seen_inline.len())];
                let duplicate = seen.contains(&encoded_oid) || seen_more.contains(&encoded_oid);
                match seen_inline.get_mut(seen_count) {
                    Some(slot) => *slot = encoded_oid,
                    None => seen_more.push(encoded_oid),
                }
                seen_count += 1;
                duplicate
            }
        };
        if duplicate {
            return Err(Reason::DuplicateExtension {
                oid: owned_oid(encoded_oid),
            });
        }
        visit(kind, encoded_oid, critical, value)?;
    }
    Ok(())
}

/// Parse time: checks every processed extension with the same walkers the owned decoding
/// uses, so that a certificate whose extensions do not decode is refused here, and records
/// where each one is. `der` is the whole certificate; `list` the Extensions content in it.
pub(crate) fn index_extensions(der: &[u8], list: &[u8]) -> Result<ExtensionIndex, Reason> {
    let mut index = ExtensionIndex {
        list: Some(Span::of(der, list)),
        ..ExtensionIndex::default()
    };
    walk_extensions(list, |kind, encoded_oid, critical, value| {
        let malformed = || Reason::ExtensionMalformed {
            oid: owned_oid(encoded_oid),
        };
        if let Some(slot) = kind.slot() {
            if let Some(place) = index.values.get_mut(slot) {
                *place = Some(Span::of(der, value));
            }
            if critical {
                index.critical |= 1 << slot;
            }
        }
        let unknown_critical = critical && matches!(kind, Kind::Other | Kind::AuthorityInfoAccess);
        if unknown_critical && index.first_unknown_critical.is_none() {
            index.first_unknown_critical = Some(Span::of(der, encoded_oid));
        }
        let checked = match kind {
            Kind::BasicConstraints => {
                basic_constraints(value).map(|bc| index.basic_constraints = Some(bc))
            }
            Kind::KeyUsage => key_usage(value).map(|ku| index.key_usage = Some(ku)),
            Kind::PolicyConstraints => {
                policy_constraints(value).map(|pc| index.policy_constraints = Some(pc))
            }
            Kind::InhibitAnyPolicy => inhibit_any_policy(value)
                .map(|skip_certs| index.inhibit_any_policy = Some(skip_certs)),
            Kind::SubjectKeyId => der::single(value, tag::OCTET_STRING)
                .map(|octets| index.subject_key_id = Some(Span::of(der, octets))),
            Kind::AuthorityKeyId => authority_key_id_ref(value)
                .map(|aki| index.authority_key_id = aki.key_id.map(|key_id| Span::of(der, key_id))),
            Kind::ExtendedKeyUsage => walk_oid_list(value, |_| Ok(())),
            Kind::SubjectAltName => der::single(value, tag::SEQUENCE)
                .and_then(|names| walk_general_names(names, |_| Ok(()))),
            Kind::CertificatePolicies => walk_certificate_policies(value, |_, _| Ok(())),
            Kind::PolicyMappings => walk_policy_mappings(value, |_, _| Ok(())),
            Kind::NameConstraints => match walk_name_constraints(value, |_, _| Ok(())) {
                Ok(_) => Ok(()),
                // An empty GeneralSubtrees and the like are name-constraint defects
                // (name-constraints-malformed), reported when the path is validated.
                Err(_) if crate::name_constraints::structural_defect(value).is_some() => Ok(()),
                Err(e) => Err(e),
            },
            Kind::CrlDistributionPoints | Kind::FreshestCrl => {
                walk_distribution_points(value, |_| Some(()))
                    .ok_or(DerError("malformed distribution points"))
            }
            // certgate fetches nothing from AIA: a malformed non-critical one is reported by
            // the server profile, a critical one is refused here.
            Kind::AuthorityInfoAccess if critical => {
                walk_authority_info_access(value, |_, _| Ok(()))
            }
            Kind::AuthorityInfoAccess | Kind::Other => Ok(()),
        };
        checked.map_err(|_| malformed())
    })?;
    Ok(index)
}

/// The owned form of every processed extension, decoded from `list` (the Extensions
/// content) on first use. The walkers are the ones [`index_extensions`] ran on the same
/// bytes at parse time, so they cannot fail here.
pub(crate) fn decode_extensions(list: &[u8]) -> Result<Extensions, Reason> {
    let mut out = Extensions {
        critical: Vec::with_capacity(4),
        ..Extensions::default()
    };
    walk_extensions(list, |kind, encoded_oid, critical, value| {
        let oid = || owned_oid(encoded_oid);
        if critical {
            out.critical.push(oid());
        }
        decode_one(&mut out, kind, oid, critical, value)
    })?;
    Ok(out)
}

fn decode_one(
    out: &mut Extensions,
    kind: Kind,
    oid: impl Fn() -> Oid,
    critical: bool,
    value: &[u8],
) -> Result<(), Reason> {
    let malformed = |_| Reason::ExtensionMalformed { oid: oid() };
    match kind {
        Kind::BasicConstraints => {
            out.basic_constraints = Some(basic_constraints(value).map_err(malformed)?)
        }
        Kind::KeyUsage => out.key_usage = Some(key_usage(value).map_err(malformed)?),
        Kind::ExtendedKeyUsage => {
            let mut oids = Vec::new();
            walk_oid_list(value, |encoded| {
                oids.push(owned_oid(encoded));
                Ok(())
            })
            .map_err(malformed)?;
            out.extended_key_usage = Some(oids);
        }
        Kind::SubjectKeyId => {
            out.subject_key_id = Some(
                der::single(value, tag::OCTET_STRING)
                    .map_err(malformed)?
                    .to_vec(),
            )
        }
        Kind::AuthorityKeyId => {
            out.authority_key_id = Some(authority_key_id(value).map_err(malformed)?)
        }
        Kind::SubjectAltName => {
            let names = der::single(value, tag::SEQUENCE)
                .and_then(general_names)
                .map_err(malformed)?;
            out.subject_alt_names = Some(names)
        }
        Kind::CertificatePolicies => {
            let mut policies = Vec::new();
            walk_certificate_policies(value, |policy, qualifiers| {
                policies.push(PolicyInformation {
                    policy: owned_oid(policy),
                    qualifiers: policy_qualifiers(qualifiers)?,
                });
                Ok(())
            })
            .map_err(malformed)?;
            out.certificate_policies = Some(policies)
        }
        Kind::PolicyMappings => {
            let mut mappings = Vec::new();
            walk_policy_mappings(value, |issuer_domain, subject_domain| {
                mappings.push(PolicyMapping {
                    issuer_domain: owned_oid(issuer_domain),
                    subject_domain: owned_oid(subject_domain),
                });
                Ok(())
            })
            .map_err(malformed)?;
            out.policy_mappings = Some(mappings)
        }
        Kind::PolicyConstraints => {
            out.policy_constraints = Some(policy_constraints(value).map_err(malformed)?)
        }
        Kind::InhibitAnyPolicy => {
            out.inhibit_any_policy = Some(inhibit_any_policy(value).map_err(malformed)?)
        }
        Kind::NameConstraints => {
            let defect = crate::name_constraints::structural_defect(value);
            let mut subtrees: [Vec<GeneralName>; 2] = [Vec::new(), Vec::new()];
            let walked = walk_name_constraints(value, |which, base| {
                if let Some(list) = subtrees.get_mut(usize::from(which)) {
                    list.push(base.to_owned());
                }
                Ok(())
            });
            let [permitted, excluded] = subtrees;
            out.name_constraints = Some(match walked {
                Ok((has_permitted, has_excluded)) => NameConstraints {
                    permitted: has_permitted.then_some(permitted),
                    excluded: has_excluded.then_some(excluded),
                    critical,
                    defect,
                },
                Err(_) if defect.is_some() => NameConstraints {
                    permitted: None,
                    excluded: None,
                    critical,
                    defect,
                },
                Err(e) => return Err(malformed(e)),
            })
        }
        Kind::CrlDistributionPoints => {
            out.crl_distribution_points =
                Some(decode_distribution_points(value).ok_or_else(|| malformed(DerError("")))?)
        }
        Kind::FreshestCrl => {
            out.freshest_crl =
                Some(decode_distribution_points(value).ok_or_else(|| malformed(DerError("")))?)
        }
        Kind::AuthorityInfoAccess => {
            let mut descriptions = Vec::new();
            let walked = walk_authority_info_access(value, |method, location| {
                descriptions.push(AccessDescription {
                    method: owned_oid(method),
                    location: location.to_owned(),
                });
                Ok(())
            });
            match walked {
                Ok(()) => {
                    out.authority_info_access = Some(AuthorityInfoAccess::Decoded(descriptions))
                }
                Err(e) if critical => return Err(malformed(e)),
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

/// InhibitAnyPolicy ::= SkipCerts (INTEGER (0..MAX)).
fn inhibit_any_policy(value: &[u8]) -> DerResult<u32> {
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
    key_id: Option<&'a [u8]>,
    issuer: Option<&'a [u8]>,
    serial: Option<&'a [u8]>,
}

/// AuthorityKeyIdentifier ::= SEQUENCE {
///   keyIdentifier             [0] KeyIdentifier           OPTIONAL,
///   authorityCertIssuer       [1] GeneralNames            OPTIONAL,
///   authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL }
fn authority_key_id_ref(value: &[u8]) -> DerResult<AuthorityKeyIdRef<'_>> {
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
fn walk_certificate_policies<'a>(
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
fn policy_qualifiers(list: &[u8]) -> DerResult<Vec<Vec<u8>>> {
    let mut qualifiers = Vec::new();
    walk_policy_qualifiers(list, |raw| {
        qualifiers.push(raw.to_vec());
        Ok(())
    })?;
    Ok(qualifiers)
}

/// PolicyMappings ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE {
///   issuerDomainPolicy OID, subjectDomainPolicy OID }
fn walk_policy_mappings<'a>(
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
/// `visit(0 for permitted or 1 for excluded, base)`; returns which of the two are present.
/// Only the bases are read: RFC 5280 §4.2.1.10 fixes minimum at 0 and forbids maximum, and
/// `structural_defect` reports subtrees that use them.
fn walk_name_constraints<'a>(
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
fn walk_authority_info_access<'a>(
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

/// A GeneralName borrowed from the encoding, checked: text is ASCII, OIDs are well formed,
/// a directory name is a well-formed Name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GeneralNameRef<'a> {
    Rfc822(&'a str),
    Dns(&'a str),
    Uri(&'a str),
    Ip(&'a [u8]),
    /// The Name's encoding.
    Directory(&'a [u8]),
    /// The type's OID content and the `[0] EXPLICIT` wrapper's content (the inner TLV).
    OtherName {
        type_id: &'a [u8],
        value: &'a [u8],
    },
    RegisteredId(&'a [u8]),
    Unsupported {
        tag: u32,
    },
}

impl GeneralNameRef<'_> {
    pub(crate) fn to_owned(self) -> GeneralName {
        match self {
            GeneralNameRef::Rfc822(text) => GeneralName::Rfc822(text.to_owned()),
            GeneralNameRef::Dns(text) => GeneralName::Dns(text.to_owned()),
            GeneralNameRef::Uri(text) => GeneralName::Uri(text.to_owned()),
            GeneralNameRef::Ip(octets) => GeneralName::Ip(octets.to_vec()),
            GeneralNameRef::Directory(der) => GeneralName::Directory(Name::from_checked_der(der)),
            GeneralNameRef::OtherName { type_id, value } => GeneralName::OtherName {
                type_id: owned_oid(type_id),
                value: value.to_vec(),
            },
            GeneralNameRef::RegisteredId(oid) => GeneralName::RegisteredId(owned_oid(oid)),
            GeneralNameRef::Unsupported { tag } => GeneralName::Unsupported { tag },
        }
    }
}

/// The content of GeneralNames (SEQUENCE SIZE (1..MAX) OF GeneralName), whether it came
/// from a SEQUENCE or an implicitly tagged field, one name at a time.
pub(crate) fn walk_general_names<'a>(
    content: &'a [u8],
    mut visit: impl FnMut(GeneralNameRef<'a>) -> DerResult<()>,
) -> DerResult<()> {
    let mut items = non_empty(Reader::new(content))?;
    while !items.is_empty() {
        visit(general_name_ref(&mut items)?)?;
    }
    Ok(())
}

/// The owned GeneralNames of `content` (see [`walk_general_names`]).
pub(crate) fn general_names(content: &[u8]) -> DerResult<Vec<GeneralName>> {
    let mut names = Vec::new();
    walk_general_names(content, |name| {
        names.push(name.to_owned());
        Ok(())
    })?;
    Ok(names)
}

/// GeneralName ::= CHOICE {
///   otherName [0] OtherName, rfc822Name [1] IA5String, dNSName [2] IA5String,
///   x400Address [3] ORAddress, directoryName [4] Name, ediPartyName [5] EDIPartyName,
///   uniformResourceIdentifier [6] IA5String, iPAddress [7] OCTET STRING,
///   registeredID [8] OBJECT IDENTIFIER }
/// Each alternative must carry its own primitive or constructed form. x400Address and
/// ediPartyName are kept as `Unsupported` so that name constraints can fail closed on them.
pub(crate) fn general_name_ref<'a>(items: &mut Reader<'a>) -> DerResult<GeneralNameRef<'a>> {
    let element = items.read()?;
    let ia5 = |content: &'a [u8]| -> DerResult<&'a str> {
        match std::str::from_utf8(content) {
            Ok(text) if text.is_ascii() => Ok(text),
            _ => Err(DerError("an IA5String with a non-ASCII octet")),
        }
    };
    Ok(match element.tag {
        t if t == tag::context_constructed(0) => {
            // OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
            let mut fields = Reader::new(element.value);
            let type_id = checked_oid(fields.expect(tag::OID)?)?;
            let mut explicit = Reader::new(fields.expect(tag::context_constructed(0))?);
            let value = explicit.read()?.raw;
            explicit.finish()?;
            fields.finish()?;
            GeneralNameRef::OtherName { type_id, value }
        }
        t if t == tag::context(1) => GeneralNameRef::Rfc822(ia5(element.value)?),
        t if t == tag::context(2) => GeneralNameRef::Dns(ia5(element.value)?),
        t if t == tag::context_constructed(3) => GeneralNameRef::Unsupported { tag: 3 },
        t if t == tag::context_constructed(4) => {
            // A CHOICE (Name) under a tag is explicitly tagged.
            crate::name::check_der(element.value)?;
            GeneralNameRef::Directory(element.value)
        }
        t if t == tag::context_constructed(5) => GeneralNameRef::Unsupported { tag: 5 },
        t if t == tag::context(6) => GeneralNameRef::Uri(ia5(element.value)?),
        t if t == tag::context(7) => GeneralNameRef::Ip(element.value),
        t if t == tag::context(8) => GeneralNameRef::RegisteredId(checked_oid(element.value)?),
        _ => return Err(DerError("not a GeneralName alternative")),
    })
}

fn checked_oid(content: &[u8]) -> DerResult<&[u8]> {
    if crate::oid::is_well_formed(content) {
        Ok(content)
    } else {
        Err(DerError("malformed OID"))
    }
}

/// The [`Oid`] of content octets that [`checked_oid`] accepted; `is_well_formed` accepts
/// exactly what `Oid::from_der_content` decodes, so the placeholder is never used.
pub(crate) fn owned_oid(content: &[u8]) -> Oid {
    Oid::from_der_content(content).unwrap_or_else(|| Oid::new("?"))
}

/// A reader over a SEQUENCE OF that must hold at least one element.
fn non_empty(items: Reader<'_>) -> DerResult<Reader<'_>> {
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
