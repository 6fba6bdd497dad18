//! The owned [`Extensions`] of a certificate, decoded from the bytes the parse-time index
//! already checked.

use super::values::{
    authority_key_id, basic_constraints, inhibit_any_policy, key_usage, policy_constraints,
    policy_qualifiers, walk_authority_info_access, walk_certificate_policies,
    walk_name_constraints, walk_policy_mappings,
};

use super::{general_names, owned_oid, walk_extensions, walk_oid_list, Kind};
use crate::certificate::{
    AccessDescription, AuthorityInfoAccess, Extensions, GeneralName, NameConstraints,
    PolicyInformation, PolicyMapping,
};

use crate::der::{self, tag, DerError};
use crate::distribution_point::decode_distribution_points;
use crate::error::Reason;
use crate::oid::Oid;

/// The owned form of every processed extension, decoded from `list` (the Extensions
/// content) on first use. The walkers are the ones
/// [`index_extensions`](super::index_extensions) ran on the same bytes at parse time, so they
/// cannot fail here.
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
