//! The parse-time index of a certificate's extensions: where each processed extension lies
//! in the DER, which are critical, and the plain values (basicConstraints, keyUsage, ...)
//! decoded on the way, all checked without allocating.

use super::values::{
    authority_key_id_ref, basic_constraints, inhibit_any_policy, key_usage, policy_constraints,
    walk_authority_info_access, walk_certificate_policies, walk_name_constraints,
    walk_policy_mappings,
};

use super::{owned_oid, walk_extensions, walk_general_names, walk_oid_list, Kind, INDEXED_KINDS};
use crate::certificate::{BasicConstraints, KeyUsage, PolicyConstraints};
use crate::der::{self, tag, DerError};
use crate::distribution_point::walk_distribution_points;
use crate::error::Reason;

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
/// [`Extensions`](crate::certificate::Extensions) are decoded from the same bytes only when
/// something asks for them.
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
