//! Revocation status from CRLs (RFC 5280 §6.3): distribution points and their scopes,
//! indirect CRLs, partitioned reasons (onlySomeReasons), delta CRLs, and the CRL signer's
//! authority.
//!
//! A certificate is "good" only when usable CRLs together cover every revocation reason
//! (§6.3.3 (k)) and none lists it. Every CRL that could not be used leaves a note, so that the
//! rejection says what was wrong with the CRLs the administrator did provide.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::certificate::{
    Certificate, DistributionPoint, DistributionPointName, GeneralName, KeyUsage, ReasonSet,
    UnixTime,
};
use crate::crl::{Crl, RevocationReason};
use crate::error::Reason;
use crate::name::Name;
use crate::signature::AlgorithmPolicy;

/// The CRLs a validation may use, indexed by issuer. Built once per CRL refresh and shared
/// by every sign-in until the next one.
///
/// CRLs are held behind `Arc` so that a new snapshot (one CA's CRL refreshed) can share every
/// other, possibly 20 MB, CRL with the previous one instead of copying or re-parsing it.
#[derive(Clone, Debug, Default)]
pub struct RevocationSnapshot {
    crls: Vec<Arc<Crl>>,
    complete_by_issuer: HashMap<Name, Vec<usize>>,
    delta_by_issuer: HashMap<Name, Vec<usize>>,
}

impl RevocationSnapshot {
    /// A snapshot over `crls`, indexed by issuer, complete and delta CRLs apart. The CRLs'
    /// signatures are checked when a validation first uses them.
    pub fn new(crls: Vec<Crl>) -> Self {
        Self::from_shared(crls.into_iter().map(Arc::new).collect())
    }

    /// A snapshot over CRLs that other snapshots may share.
    pub fn from_shared(crls: Vec<Arc<Crl>>) -> Self {
        let mut complete_by_issuer: HashMap<Name, Vec<usize>> = HashMap::new();
        let mut delta_by_issuer: HashMap<Name, Vec<usize>> = HashMap::new();
        for (position, crl) in crls.iter().enumerate() {
            let map = if crl.is_delta() {
                &mut delta_by_issuer
            } else {
                &mut complete_by_issuer
            };
            map.entry(crl.issuer().clone()).or_default().push(position);
        }
        RevocationSnapshot {
            crls,
            complete_by_issuer,
            delta_by_issuer,
        }
    }

    /// No CRLs: every revocation status a policy asks for is unknown (`crl-unavailable`), so
    /// validation fails unless revocation checking is off or the issuer exempt.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The number of CRLs, complete and delta.
    pub fn len(&self) -> usize {
        self.crls.len()
    }

    /// Whether the snapshot holds no CRL.
    pub fn is_empty(&self) -> bool {
        self.crls.is_empty()
    }

    /// The CRLs in the order they were given, to share with the next snapshot.
    pub fn crls(&self) -> &[Arc<Crl>] {
        &self.crls
    }

    fn complete_crls<'s>(&'s self, issuer: &Name) -> impl Iterator<Item = &'s Crl> + 's {
        self.complete_by_issuer
            .get(issuer)
            .into_iter()
            .flatten()
            .map(|&i| &*self.crls[i])
    }

    fn delta_crls<'s>(&'s self, issuer: &Name) -> impl Iterator<Item = &'s Crl> + 's {
        self.delta_by_issuer
            .get(issuer)
            .into_iter()
            .flatten()
            .map(|&i| &*self.crls[i])
    }
}

/// A certificate that may have signed a CRL, already known to be valid.
pub(crate) struct CrlSigner<'a> {
    pub certificate: &'a Certificate,
    /// DSA parameters inherited from above, when the certificate's key omits them.
    pub inherited_parameters: Option<&'a [u8]>,
}

/// Where CRL signers come from (RFC 5280 §6.3.3 (f)). Path validation implements this: the
/// certificates on the path being validated are valid already; any other certificate must
/// first be validated to the same trust anchor, which is expensive, so it is asked for only
/// when no certificate on the path signed the CRL.
pub(crate) trait CrlSignerSource {
    /// Certificates on the path being validated whose subject is `issuer`.
    fn path_signers(&self, issuer: &Name) -> Vec<CrlSigner<'_>>;
    /// Other known certificates whose subject is `issuer` and whose own path validates to the
    /// same trust anchor.
    fn other_signers(&self, issuer: &Name) -> Vec<CrlSigner<'_>>;
}

pub(crate) struct RevocationQuery<'a> {
    pub certificate: &'a Certificate,
    pub at: UnixTime,
    pub algorithms: &'a AlgorithmPolicy,
}

/// Which CRLs showed the certificate unrevoked (the first that covered it, when reasons are
/// partitioned over several).
pub(crate) struct RevocationProof {
    pub base_crl_number: Vec<u8>,
    pub delta_crl_number: Option<Vec<u8>>,
}

/// Determines the revocation status of `query.certificate` from the snapshot.
///
/// Returns `Revoked`/`OnHold` when a usable CRL lists it; `CrlUnavailable` (or the one precise
/// reason a single candidate CRL failed, e.g. `CrlStale`) when the usable CRLs do not cover all
/// reasons.
pub(crate) fn check_revocation(
    query: &RevocationQuery<'_>,
    snapshot: &RevocationSnapshot,
    signers: &dyn CrlSignerSource,
) -> Result<RevocationProof, Reason> {
    let cert = query.certificate;
    // Without a cRLDistributionPoints extension, the certificate's issuer's own CRLs cover it
    // (RFC 5280 §6.3.3: the "distribution point" is the issuer itself).
    let issuer_itself = [DistributionPoint {
        name: None,
        reasons: None,
        crl_issuer: None,
    }];
    let points: &[DistributionPoint] = match &cert.extensions().crl_distribution_points {
        Some(points) if !points.is_empty() => points,
        _ => &issuer_itself,
    };
    let mut covered: u16 = 0;
    let mut proof: Option<RevocationProof> = None;
    let mut problems: Vec<Reason> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for point in points {
        let crl_issuers: Vec<&Name> = match &point.crl_issuer {
            Some(names) => names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::Directory(name) => Some(name),
                    _ => None,
                })
                .collect(),
            None => vec![cert.issuer()],
        };
        for crl_issuer in crl_issuers {
            for crl in snapshot.complete_crls(crl_issuer) {
                if covered == ReasonSet::ALL.0 {
                    break;
                }
                if let Err(note) = check_scope(cert, point, crl) {
                    notes.push(format!("{}: {note}", describe_crl(crl)));
                    continue;
                }
                let interim = interim_reasons(point, crl);
                if interim & !covered == 0 {
                    continue;
                }
                if let Err(reason) = check_usable(crl, query, signers) {
                    notes.push(format!("{}: {}", describe_crl(crl), reason));
                    problems.push(reason);
                    continue;
                }
                let delta = best_delta(snapshot, crl, query, signers);
                if let Some((entry, source)) = listed(cert, crl, delta) {
                    let crl_number = source
                        .crl_number()
                        .map(hex)
                        .unwrap_or_else(|| "(none)".into());
                    let serial = hex(cert.serial());
                    return Err(if entry.reason == RevocationReason::CertificateHold {
                        Reason::OnHold { serial, crl_number }
                    } else {
                        Reason::Revoked {
                            serial,
                            reason: entry.reason.as_str().to_string(),
                            crl_number,
                        }
                    });
                }
                covered |= interim;
                proof.get_or_insert_with(|| RevocationProof {
                    base_crl_number: crl.crl_number().unwrap_or_default().to_vec(),
                    delta_crl_number: delta.and_then(|d| d.crl_number()).map(<[u8]>::to_vec),
                });
            }
        }
    }
    if covered == ReasonSet::ALL.0 {
        if let Some(proof) = proof {
            return Ok(proof);
        }
    }
    // Not covered. A single precise problem is the most useful answer ("the CRL expired");
    // otherwise say what was considered.
    if covered == 0 && problems.len() == 1 {
        if let Some(problem) = problems.pop() {
            return Err(problem);
        }
    }
    let mut detail = String::new();
    if covered != 0 {
        let _ = write!(
            detail,
            "the usable CRLs cover only some revocation reasons ({}); ",
            describe_reasons(covered)
        );
    }
    if notes.is_empty() {
        detail.push_str("no CRL from this issuer was provided");
    } else {
        detail.push_str(&notes.join("; "));
    }
    Err(Reason::CrlUnavailable {
        issuer: points
            .iter()
            .find_map(|p| p.crl_issuer.as_ref())
            .and_then(|names| {
                names.iter().find_map(|n| match n {
                    GeneralName::Directory(name) => Some(name.to_string()),
                    _ => None,
                })
            })
            .unwrap_or_else(|| cert.issuer().to_string()),
        detail,
    })
}

/// RFC 5280 §6.3.3 (b): is this CRL about certificates like this one, from this
/// distribution point? `Err` says why not.
fn check_scope(cert: &Certificate, point: &DistributionPoint, crl: &Crl) -> Result<(), String> {
    let idp = crl.issuing_distribution_point();
    let indirect = idp.is_some_and(|i| i.indirect_crl);
    // (b)(1)
    if point.crl_issuer.is_some() {
        if !indirect {
            return Err(
                "the certificate names a separate CRL issuer, and this CRL is not marked indirect"
                    .into(),
            );
        }
    } else if crl.issuer() != cert.issuer() {
        return Err("issued by a different CA".into());
    }
    let Some(idp) = idp else {
        return Ok(());
    };
    // (b)(2)(i)
    if let Some(idp_name) = &idp.distribution_point {
        let idp_names = expand(idp_name, crl.issuer());
        let point_names: Vec<GeneralName> =
            match (&point.name, &point.crl_issuer) {
                (Some(name), crl_issuer) => {
                    let base = crl_issuer
                        .iter()
                        .flatten()
                        .find_map(|n| match n {
                            GeneralName::Directory(name) => Some(name),
                            _ => None,
                        })
                        .unwrap_or(cert.issuer());
                    expand(name, base)
                }
                (None, Some(crl_issuer)) => crl_issuer.clone(),
                (None, None) => return Err(
                    "the CRL covers one distribution point only, and the certificate names none"
                        .into(),
                ),
            };
        if !idp_names.iter().any(|a| point_names.contains(a)) {
            return Err(
                "the CRL is for a different distribution point than the certificate's".into(),
            );
        }
    }
    // (b)(2)(ii)-(iv)
    if idp.only_contains_user_certs && cert.is_ca() {
        return Err("the CRL covers end-entity certificates only, and this is a CA".into());
    }
    if idp.only_contains_ca_certs && !cert.is_ca() {
        return Err("the CRL covers CA certificates only, and this is not a CA".into());
    }
    if idp.only_contains_attribute_certs {
        return Err("the CRL covers attribute certificates only".into());
    }
    Ok(())
}

/// A distribution point name as GeneralNames; a name relative to the CRL issuer is appended
/// to `base` (RFC 5280 §4.2.1.13).
fn expand(name: &DistributionPointName, base: &Name) -> Vec<GeneralName> {
    match name {
        DistributionPointName::FullName(names) => names.clone(),
        DistributionPointName::RelativeToCrlIssuer(rdn) => {
            let mut rdns = base.rdns().to_vec();
            rdns.push(rdn.clone());
            vec![GeneralName::Directory(Name::from_rdns(rdns))]
        }
    }
}

/// §6.3.3 (d): the reasons this CRL can vouch for at this distribution point.
fn interim_reasons(point: &DistributionPoint, crl: &Crl) -> u16 {
    let from_point = point.reasons.unwrap_or(ReasonSet::ALL).0;
    let from_crl = crl
        .issuing_distribution_point()
        .and_then(|idp| idp.only_some_reasons)
        .unwrap_or(ReasonSet::ALL)
        .0;
    from_point & from_crl & ReasonSet::ALL.0
}

/// Time window and signature (§6.3.3 (a), (f), (g)).
fn check_usable(
    crl: &Crl,
    query: &RevocationQuery<'_>,
    signers: &dyn CrlSignerSource,
) -> Result<(), Reason> {
    if crl.this_update() > query.at {
        return Err(Reason::CrlNotYetValid {
            issuer: crl.issuer().to_string(),
            this_update: crl.this_update().0,
            at: query.at.0,
        });
    }
    if let Some(next_update) = crl.next_update() {
        if query.at > next_update {
            return Err(Reason::CrlStale {
                issuer: crl.issuer().to_string(),
                next_update: next_update.0,
                at: query.at.0,
            });
        }
    }
    if crl.crl_number().is_none() {
        return Err(Reason::CrlNumberMissing {
            issuer: crl.issuer().to_string(),
        });
    }
    verify_crl_signature(crl, query, signers)
}

fn verify_crl_signature(
    crl: &Crl,
    query: &RevocationQuery<'_>,
    signers: &dyn CrlSignerSource,
) -> Result<(), Reason> {
    let mut last_failure: Option<Reason> = None;
    for candidates in [
        signers.path_signers(crl.issuer()),
        signers.other_signers(crl.issuer()),
    ] {
        for signer in candidates {
            let cert = signer.certificate;
            // The CRL names the key that signed it; a certificate of the same CA with a
            // different key identifier is another key (rollover) and may not speak for it.
            if let (Some(wanted), Some(have)) = (
                crl.authority_key_id().and_then(|aki| aki.key_id.as_deref()),
                cert.subject_key_id(),
            ) {
                if wanted != have {
                    last_failure.get_or_insert(Reason::CrlAuthorityKeyMismatch {
                        issuer: crl.issuer().to_string(),
                    });
                    continue;
                }
            }
            if let Some(key_usage) = cert.key_usage() {
                if !key_usage.allows(KeyUsage::CRL_SIGN) {
                    last_failure = Some(Reason::CrlIssuerNotCrlSigner);
                    continue;
                }
            }
            match crl.verify_signature_with(
                cert.public_key(),
                signer.inherited_parameters,
                query.algorithms,
            ) {
                Ok(()) => return Ok(()),
                Err(reason) => last_failure = Some(reason),
            }
        }
    }
    Err(last_failure.unwrap_or_else(|| Reason::CrlUnavailable {
        issuer: crl.issuer().to_string(),
        detail: "no valid certificate of the CRL issuer chains to the same trust anchor, so the CRL's signature cannot be checked".into(),
    }))
}

/// The newest usable delta CRL for `base` (RFC 5280 §5.2.4, §6.3.3 (c)): same issuer and scope,
/// built on a base no newer than `base`, newer than it, in its time window and well signed.
fn best_delta<'s>(
    snapshot: &'s RevocationSnapshot,
    base: &Crl,
    query: &RevocationQuery<'_>,
    signers: &dyn CrlSignerSource,
) -> Option<&'s Crl> {
    let base_number = base.crl_number()?;
    snapshot
        .delta_crls(base.issuer())
        .filter(|delta| delta.issuing_distribution_point() == base.issuing_distribution_point())
        .filter(|delta| {
            delta
                .delta_base_crl_number()
                .is_some_and(|b| integer_cmp(b, base_number).is_le())
                && delta
                    .crl_number()
                    .is_some_and(|n| integer_cmp(n, base_number).is_gt())
        })
        .filter(|delta| check_usable(delta, query, signers).is_ok())
        .max_by(|a, b| {
            integer_cmp(
                a.crl_number().unwrap_or_default(),
                b.crl_number().unwrap_or_default(),
            )
        })
}

/// Whether the certificate is listed, consulting the delta first (§6.3.3 (i), (j)). A delta
/// entry with removeFromCRL takes the certificate off hold.
fn listed<'c>(
    cert: &Certificate,
    base: &'c Crl,
    delta: Option<&'c Crl>,
) -> Option<(crate::crl::RevokedEntry, &'c Crl)> {
    if let Some(delta) = delta {
        if let Some(entry) = delta.lookup(cert.issuer(), cert.serial()) {
            return (entry.reason != RevocationReason::RemoveFromCrl).then_some((entry, delta));
        }
    }
    base.lookup(cert.issuer(), cert.serial())
        .filter(|e| e.reason != RevocationReason::RemoveFromCrl)
        .map(|e| (e, base))
}

/// Compares two non-negative canonical INTEGERs by value.
fn integer_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn describe_crl(crl: &Crl) -> String {
    let kind = if crl.is_delta() { "delta CRL" } else { "CRL" };
    match crl.crl_number() {
        Some(number) => format!("{kind} number {} from \"{}\"", hex(number), crl.issuer()),
        None => format!("{kind} from \"{}\"", crl.issuer()),
    }
}

fn describe_reasons(mask: u16) -> String {
    const NAMES: [&str; 9] = [
        "unused",
        "keyCompromise",
        "cACompromise",
        "affiliationChanged",
        "superseded",
        "cessationOfOperation",
        "certificateHold",
        "privilegeWithdrawn",
        "aACompromise",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
