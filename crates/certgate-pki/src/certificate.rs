//! A parsed X.509 certificate, decoded once into owned fields the validator works on.

use std::ops::Range;

use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::ToDer as _;
use x509_parser::extensions::{self as x509ext, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::distribution_point::decode_distribution_points;
use crate::error::Reason;
use crate::name::{Name, NameAttribute};
use crate::oid::{known, Oid};

/// Seconds since the Unix epoch, UTC. The pki crate never reads a clock: callers pass this in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

/// A GeneralName (RFC 5280 §4.2.1.6), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeneralName {
    Rfc822(String),
    Dns(String),
    Uri(String),
    /// 4 or 16 bytes for an address; 8 or 32 (address + mask) inside name constraints.
    Ip(Vec<u8>),
    Directory(Name),
    /// `value` is the content of the `[0] EXPLICIT` wrapper (the inner TLV).
    OtherName {
        type_id: Oid,
        value: Vec<u8>,
    },
    RegisteredId(Oid),
    /// x400Address, ediPartyName, or a form that did not decode: kept so that name
    /// constraints can fail closed on it.
    Unsupported {
        tag: u32,
    },
}

/// A distribution point name (RFC 5280 §4.2.1.13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DistributionPointName {
    FullName(Vec<GeneralName>),
    /// One RDN, to be appended to the CRL issuer's name.
    RelativeToCrlIssuer(Vec<NameAttribute>),
}

/// Bit positions of ReasonFlags (RFC 5280 §4.2.1.13), as a bit set: bit n = flag n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReasonSet(pub u16);

impl ReasonSet {
    /// All reasons a CRL can cover: unused(0) excluded, keyCompromise(1)..aACompromise(8).
    pub const ALL: ReasonSet = ReasonSet(0b1_1111_1110);
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributionPoint {
    pub name: Option<DistributionPointName>,
    pub reasons: Option<ReasonSet>,
    pub crl_issuer: Option<Vec<GeneralName>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyInformation {
    pub policy: Oid,
    /// Qualifiers are carried for completeness; RFC 5280 §6.1.3(d) attaches them to tree nodes.
    pub qualifiers: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyMapping {
    pub issuer_domain: Oid,
    pub subject_domain: Oid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyConstraints {
    pub require_explicit_policy: Option<u32>,
    pub inhibit_policy_mapping: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameConstraints {
    pub permitted: Option<Vec<GeneralName>>,
    pub excluded: Option<Vec<GeneralName>>,
    /// The extension's criticality flag (RFC 5280 §4.2.1.10 requires it set).
    pub critical: bool,
    /// What makes the extension malformed, if anything (empty subtrees, neither field,
    /// minimum/maximum): decoded from the raw DER, since x509-parser skips these.
    pub defect: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicConstraints {
    pub ca: bool,
    pub path_len: Option<u32>,
}

/// keyUsage bits (RFC 5280 §4.2.1.3), bit n = `KeyUsage::...` constant n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyUsage(pub u16);

impl KeyUsage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const NON_REPUDIATION: u16 = 1 << 1;
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    pub const DATA_ENCIPHERMENT: u16 = 1 << 3;
    pub const KEY_AGREEMENT: u16 = 1 << 4;
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    pub const CRL_SIGN: u16 = 1 << 6;

    pub fn allows(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityKeyId {
    pub key_id: Option<Vec<u8>>,
    pub issuer: Option<Vec<GeneralName>>,
    pub serial: Option<Vec<u8>>,
}

/// SubjectPublicKeyInfo, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyInfo {
    /// The whole SubjectPublicKeyInfo DER.
    pub der: Vec<u8>,
    pub algorithm: Oid,
    /// DER of the AlgorithmIdentifier parameters, if present (and not NULL).
    pub parameters: Option<Vec<u8>>,
    /// Contents of the subjectPublicKey BIT STRING.
    pub key: Vec<u8>,
}

/// An AlgorithmIdentifier (signature algorithms), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgorithmIdentifier {
    pub oid: Oid,
    /// Full DER of the parameters element, if present (RSASSA-PSS needs it).
    pub parameters: Option<Vec<u8>>,
}

/// One AccessDescription of authorityInfoAccess (RFC 5280 §4.2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessDescription {
    pub method: Oid,
    pub location: GeneralName,
}

/// authorityInfoAccess as found. certgate fetches nothing from it; the TLS server profile
/// checks that it is well formed (CA/Browser Forum BRs §7.1.2.7.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorityInfoAccess {
    /// The descriptions in order (possibly none, which RFC 5280 does not allow).
    Decoded(Vec<AccessDescription>),
    /// The extension value is not a DER AuthorityInfoAccessSyntax.
    Malformed,
}

/// Decoded extensions that validation, revocation and identity use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    pub basic_constraints: Option<BasicConstraints>,
    pub key_usage: Option<KeyUsage>,
    /// All EKU OIDs, in order; `None` when the extension is absent.
    pub extended_key_usage: Option<Vec<Oid>>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<AuthorityKeyId>,
    /// `None` when the extension is absent.
    pub subject_alt_names: Option<Vec<GeneralName>>,
    pub certificate_policies: Option<Vec<PolicyInformation>>,
    pub policy_mappings: Option<Vec<PolicyMapping>>,
    pub policy_constraints: Option<PolicyConstraints>,
    pub inhibit_any_policy: Option<u32>,
    pub name_constraints: Option<NameConstraints>,
    pub crl_distribution_points: Option<Vec<DistributionPoint>>,
    pub freshest_crl: Option<Vec<DistributionPoint>>,
    /// Critical extensions that certgate does not process (RFC 5280 §4.2: reject).
    pub unknown_critical: Vec<Oid>,
    /// `None` when the extension is absent.
    pub authority_info_access: Option<AuthorityInfoAccess>,
    /// Every extension marked critical, known or not, in certificate order (the profile
    /// checks of RFC 5280 §4.2.1 need the flag of known ones too).
    pub critical: Vec<Oid>,
}

impl Extensions {
    /// True when the extension `oid` is present and marked critical.
    pub fn is_critical(&self, oid: &str) -> bool {
        self.critical.iter().any(|c| c.as_str() == oid)
    }
}

/// A parsed certificate. Owns its DER; all fields are decoded once at parse time.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Range<usize>,
    pub(crate) version: u32,
    pub(crate) serial: Vec<u8>,
    pub(crate) signature_algorithm: AlgorithmIdentifier,
    pub(crate) signature: Vec<u8>,
    pub(crate) issuer: Name,
    pub(crate) subject: Name,
    pub(crate) not_before: UnixTime,
    pub(crate) not_after: UnixTime,
    pub(crate) public_key: PublicKeyInfo,
    pub(crate) extensions: Extensions,
}

impl Certificate {
    /// Parses one DER certificate. Trailing bytes, duplicate extensions and undecodable known
    /// extensions are rejected: a certificate that two parsers could read differently is not
    /// one certgate will trust.
    pub fn from_der(der: &[u8]) -> Result<Self, Reason> {
        let (rest, parsed) =
            X509Certificate::from_der(der).map_err(|e| Reason::CertificateMalformed {
                detail: e.to_string(),
            })?;
        if !rest.is_empty() {
            return Err(Reason::CertificateMalformed {
                detail: "trailing data after the certificate".into(),
            });
        }
        let tbs_raw: &[u8] = parsed.tbs_certificate.as_ref();
        let tbs_start = offset_in(der, tbs_raw).ok_or_else(|| Reason::CertificateMalformed {
            detail: "TBSCertificate not found".into(),
        })?;
        let tbs = &parsed.tbs_certificate;
        let version = tbs.version.0 + 1;
        if version > 3 || (version < 3 && tbs.extensions().iter().next().is_some()) {
            return Err(Reason::UnsupportedVersion);
        }
        // RFC 5280 §4.1.1.2: the inner and outer signature algorithms must be identical.
        if tbs.signature != parsed.signature_algorithm {
            return Err(Reason::CertificateMalformed {
                detail: "signatureAlgorithm differs from the TBSCertificate's signature field"
                    .into(),
            });
        }
        let spki = &tbs.subject_pki;
        let public_key = PublicKeyInfo {
            der: spki.raw.to_vec(),
            algorithm: Oid::from_parser(&spki.algorithm.algorithm),
            parameters: spki
                .algorithm
                .parameters
                .as_ref()
                .filter(|p| p.tag() != x509_parser::der_parser::asn1_rs::Tag::Null)
                .map(|p| p.to_der_vec_raw().unwrap_or_default()),
            key: spki.subject_public_key.data.to_vec(),
        };
        let extensions = decode_extensions(tbs.extensions())?;
        Ok(Certificate {
            der: der.to_vec(),
            tbs: tbs_start..tbs_start + tbs_raw.len(),
            version,
            serial: tbs.raw_serial().to_vec(),
            signature_algorithm: algorithm_identifier(&parsed.signature_algorithm),
            signature: parsed.signature_value.data.to_vec(),
            issuer: Name::from_parser(&tbs.issuer),
            subject: Name::from_parser(&tbs.subject),
            not_before: UnixTime(tbs.validity.not_before.timestamp()),
            not_after: UnixTime(tbs.validity.not_after.timestamp()),
            public_key,
            extensions,
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// The signed part (TBSCertificate), as encoded.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }
    pub fn version(&self) -> u32 {
        self.version
    }
    /// Serial number content octets, big-endian, as encoded (may carry a leading 0x00).
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }
    pub fn signature_algorithm(&self) -> &AlgorithmIdentifier {
        &self.signature_algorithm
    }
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
    pub fn issuer(&self) -> &Name {
        &self.issuer
    }
    pub fn subject(&self) -> &Name {
        &self.subject
    }
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }
    pub fn public_key(&self) -> &PublicKeyInfo {
        &self.public_key
    }
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Self-issued: issuer and subject are the same name (RFC 5280 §6.1).
    pub fn is_self_issued(&self) -> bool {
        self.issuer == self.subject
    }

    /// True when basicConstraints says cA.
    pub fn is_ca(&self) -> bool {
        self.extensions.basic_constraints.is_some_and(|b| b.ca)
    }
}

fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

pub(crate) fn algorithm_identifier(
    alg: &x509_parser::x509::AlgorithmIdentifier<'_>,
) -> AlgorithmIdentifier {
    AlgorithmIdentifier {
        oid: Oid::from_parser(&alg.algorithm),
        parameters: alg
            .parameters
            .as_ref()
            .map(|p| p.to_der_vec_raw().unwrap_or_default()),
    }
}

pub(crate) fn general_name(name: &x509ext::GeneralName<'_>) -> GeneralName {
    use x509ext::GeneralName as G;
    match name {
        G::RFC822Name(s) => GeneralName::Rfc822((*s).to_string()),
        G::DNSName(s) => GeneralName::Dns((*s).to_string()),
        G::URI(s) => GeneralName::Uri((*s).to_string()),
        G::IPAddress(b) => GeneralName::Ip(b.to_vec()),
        G::DirectoryName(n) => GeneralName::Directory(Name::from_parser(n)),
        G::OtherName(oid, raw) => GeneralName::OtherName {
            type_id: Oid::from_parser(oid),
            value: strip_explicit_zero(raw).to_vec(),
        },
        G::RegisteredID(oid) => GeneralName::RegisteredId(Oid::from_parser(oid)),
        G::X400Address(_) => GeneralName::Unsupported { tag: 3 },
        G::EDIPartyName(_) => GeneralName::Unsupported { tag: 5 },
        G::Invalid(tag, _) => GeneralName::Unsupported { tag: tag.0 },
    }
}

/// x509-parser hands back an otherName value still inside its `[0] EXPLICIT` wrapper.
fn strip_explicit_zero(raw: &[u8]) -> &[u8] {
    use x509_parser::der_parser::asn1_rs::{Any, FromDer as _};
    match Any::from_der(raw) {
        Ok((_, any)) if any.tag().0 == 0 => any.data,
        _ => raw,
    }
}

pub(crate) fn general_names(names: &[x509ext::GeneralName<'_>]) -> Vec<GeneralName> {
    names.iter().map(general_name).collect()
}

/// Extensions certgate processes. Anything else that is critical is recorded and rejected by
/// the validator (RFC 5280 §4.2).
const PROCESSED: &[&str] = &[
    known::EXT_SUBJECT_KEY_ID,
    known::EXT_KEY_USAGE,
    known::EXT_SUBJECT_ALT_NAME,
    known::EXT_BASIC_CONSTRAINTS,
    known::EXT_NAME_CONSTRAINTS,
    known::EXT_CRL_DISTRIBUTION_POINTS,
    known::EXT_CERTIFICATE_POLICIES,
    known::EXT_POLICY_MAPPINGS,
    known::EXT_AUTHORITY_KEY_ID,
    known::EXT_POLICY_CONSTRAINTS,
    known::EXT_EXTENDED_KEY_USAGE,
    known::EXT_FRESHEST_CRL,
    known::EXT_INHIBIT_ANY_POLICY,
];

fn decode_extensions(raw: &[x509ext::X509Extension<'_>]) -> Result<Extensions, Reason> {
    let mut out = Extensions::default();
    let mut seen: Vec<Oid> = Vec::with_capacity(raw.len());
    for ext in raw {
        let oid = Oid::from_parser(&ext.oid);
        if seen.contains(&oid) {
            return Err(Reason::DuplicateExtension { oid });
        }
        seen.push(oid.clone());
        if ext.critical {
            out.critical.push(oid.clone());
        }
        let malformed = || Reason::ExtensionMalformed { oid: oid.clone() };
        match ext.parsed_extension() {
            // An empty GeneralSubtrees makes x509-parser fail; report it as the name-constraint
            // defect it is (name-constraints-malformed) when the path is validated.
            ParsedExtension::ParseError { .. } if oid.as_str() == known::EXT_NAME_CONSTRAINTS => {
                let defect = crate::name_constraints::structural_defect(ext.value);
                if defect.is_none() {
                    return Err(malformed());
                }
                out.name_constraints = Some(NameConstraints {
                    permitted: None,
                    excluded: None,
                    critical: ext.critical,
                    defect,
                });
            }
            ParsedExtension::ParseError { .. } => {
                if ext.critical || PROCESSED.contains(&oid.as_str()) {
                    return Err(malformed());
                }
                if oid.as_str() == known::EXT_AUTHORITY_INFO_ACCESS {
                    out.authority_info_access = Some(AuthorityInfoAccess::Malformed);
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                out.authority_info_access = Some(AuthorityInfoAccess::Decoded(
                    aia.accessdescs
                        .iter()
                        .map(|d| AccessDescription {
                            method: Oid::from_parser(&d.access_method),
                            location: general_name(&d.access_location),
                        })
                        .collect(),
                ));
                if ext.critical {
                    out.unknown_critical.push(oid);
                }
            }
            ParsedExtension::BasicConstraints(bc) => {
                out.basic_constraints = Some(BasicConstraints {
                    ca: bc.ca,
                    path_len: bc.path_len_constraint,
                })
            }
            ParsedExtension::KeyUsage(ku) => out.key_usage = Some(KeyUsage(ku.flags)),
            ParsedExtension::ExtendedKeyUsage(_) => {
                out.extended_key_usage = Some(decode_eku(ext.value).ok_or_else(malformed)?)
            }
            ParsedExtension::SubjectKeyIdentifier(id) => out.subject_key_id = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                out.authority_key_id = Some(AuthorityKeyId {
                    key_id: aki.key_identifier.as_ref().map(|k| k.0.to_vec()),
                    issuer: aki.authority_cert_issuer.as_deref().map(general_names),
                    serial: aki.authority_cert_serial.map(<[u8]>::to_vec),
                })
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                out.subject_alt_names = Some(general_names(&san.general_names))
            }
            ParsedExtension::CertificatePolicies(policies) => {
                out.certificate_policies = Some(
                    policies
                        .iter()
                        .map(|p| PolicyInformation {
                            policy: Oid::from_parser(&p.policy_id),
                            qualifiers: p
                                .policy_qualifiers
                                .iter()
                                .flatten()
                                .map(|q| q.qualifier.to_vec())
                                .collect(),
                        })
                        .collect(),
                )
            }
            ParsedExtension::PolicyMappings(mappings) => {
                out.policy_mappings = Some(
                    mappings
                        .mappings
                        .iter()
                        .map(|m| PolicyMapping {
                            issuer_domain: Oid::from_parser(&m.issuer_domain_policy),
                            subject_domain: Oid::from_parser(&m.subject_domain_policy),
                        })
                        .collect(),
                )
            }
            ParsedExtension::PolicyConstraints(pc) => {
                out.policy_constraints = Some(PolicyConstraints {
                    require_explicit_policy: pc.require_explicit_policy,
                    inhibit_policy_mapping: pc.inhibit_policy_mapping,
                })
            }
            ParsedExtension::InhibitAnyPolicy(iap) => out.inhibit_any_policy = Some(iap.skip_certs),
            ParsedExtension::NameConstraints(nc) => {
                let subtrees = |s: &Option<Vec<x509ext::GeneralSubtree<'_>>>| {
                    s.as_ref()
                        .map(|v| v.iter().map(|t| general_name(&t.base)).collect())
                };
                out.name_constraints = Some(NameConstraints {
                    permitted: subtrees(&nc.permitted_subtrees),
                    excluded: subtrees(&nc.excluded_subtrees),
                    critical: ext.critical,
                    defect: crate::name_constraints::structural_defect(ext.value),
                })
            }
            // Decoded by hand: see distribution_point.rs for why x509-parser's result is not used.
            _ if oid.as_str() == known::EXT_CRL_DISTRIBUTION_POINTS => {
                out.crl_distribution_points =
                    Some(decode_distribution_points(ext.value).ok_or_else(malformed)?)
            }
            _ if oid.as_str() == known::EXT_FRESHEST_CRL => {
                out.freshest_crl =
                    Some(decode_distribution_points(ext.value).ok_or_else(malformed)?)
            }
            _ => {
                if ext.critical && !PROCESSED.contains(&oid.as_str()) {
                    out.unknown_critical.push(oid);
                }
            }
        }
    }
    Ok(out)
}

/// EKU as the full OID list (x509-parser folds well-known ones into booleans).
fn decode_eku(value: &[u8]) -> Option<Vec<Oid>> {
    use x509_parser::der_parser::asn1_rs::{FromDer as _, Oid as ParserOid, Sequence};
    let (rest, seq) = Sequence::from_der(value).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let mut content: &[u8] = seq.content.as_ref();
    let mut oids = Vec::new();
    while !content.is_empty() {
        let (next, oid) = ParserOid::from_der(content).ok()?;
        oids.push(Oid::from_parser(&oid));
        content = next;
    }
    (!oids.is_empty()).then_some(oids)
}
