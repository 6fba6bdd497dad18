//! Revocation checking of one path certificate (RFC 5280 §6.3), and the CRL signers the
//! path offers for it (§6.3.3 (f)), including signers whose own path is validated on demand.

use super::{Engine, Purpose, RevocationStatus, ValidationPolicy};
use crate::certificate::{Certificate, KeyUsage};
use crate::error::Reason;
use crate::name::Name;
use crate::policy::PolicySettings;
use crate::revocation::{check_revocation, CrlSigner, CrlSignerSource, RevocationQuery};
use crate::trust_store::CaKind;

/// How many levels of "validate the CRL signer's own path" may nest (RFC 5280 §6.3.3 (f)).
const MAX_SIGNER_RECURSION: u8 = 2;

impl<'a> Engine<'a> {
    pub(super) fn revocation_status(
        &self,
        path: &[&'a Certificate],
        i: usize,
        working_parameters: Option<&'a [u8]>,
        policy: &ValidationPolicy,
    ) -> Result<RevocationStatus, Reason> {
        let cert = path[i];
        let signers = PathSigners {
            engine: self,
            path: &path[..i],
            checked: cert,
            working_parameters,
            policy,
        };
        let query = RevocationQuery {
            certificate: cert,
            at: self.at,
            algorithms: &self.policy.algorithms,
        };
        match check_revocation(&query, self.snapshot, &signers) {
            Ok(proof) => Ok(RevocationStatus::Good {
                crl_number: proof.base_crl_number,
                delta_crl_number: proof.delta_crl_number,
            }),
            Err(
                reason @ (Reason::CrlUnavailable { .. }
                | Reason::CrlStale { .. }
                | Reason::CrlNotYetValid { .. }),
            ) if policy
                .revocation_exempt_issuers
                .iter()
                .any(|n| n == cert.issuer()) =>
            {
                Ok(RevocationStatus::Exempt {
                    reason: format!("{}: {}", reason.code(), reason),
                })
            }
            Err(reason) => Err(reason),
        }
    }
}

/// CRL signers for certificate `path.len()` (RFC 5280 §6.3.3 (f)): the certificate's own
/// issuer, other certificates already validated on this path, and any other known
/// certificate with the CRL issuer's name whose own path validates to the same trust anchor.
struct PathSigners<'e, 'a> {
    engine: &'e Engine<'a>,
    /// Anchor first; the last element issued the certificate being checked.
    path: &'e [&'a Certificate],
    /// The certificate whose status is being checked.
    checked: &'a Certificate,
    working_parameters: Option<&'a [u8]>,
    policy: &'e ValidationPolicy,
}

impl<'a> CrlSignerSource for PathSigners<'_, 'a> {
    fn path_signers(&self, issuer: &Name) -> Vec<CrlSigner<'_>> {
        let mut signers: Vec<CrlSigner<'_>> = Vec::new();
        // The issuer and the path above it are already validated; nearest first.
        for (position, cert) in self.path.iter().enumerate().rev() {
            if cert.subject() == issuer
                && !signers.iter().any(|s| s.certificate.der() == cert.der())
            {
                let inherited = if position + 1 == self.path.len() {
                    self.working_parameters
                } else {
                    None
                };
                signers.push(CrlSigner {
                    certificate: cert,
                    inherited_parameters: inherited,
                });
            }
        }
        // A CA may delegate CRL signing to a certificate it issues and name that same
        // certificate as the CRL issuer for its own status (cRLIssuer pointing at itself,
        // PKITS 4.14.30); that certificate is then the only key that can speak for it. Only
        // when its CA granted cRLSign explicitly, and never for a self-issued certificate,
        // whose "issuer" name is its own.
        let checked = self.checked;
        let delegated = checked
            .key_usage()
            .is_some_and(|ku| ku.allows(KeyUsage::CRL_SIGN));
        if checked.subject() == issuer
            && delegated
            && !checked.is_self_issued()
            && !signers.iter().any(|s| s.certificate.der() == checked.der())
        {
            signers.push(CrlSigner {
                certificate: checked,
                inherited_parameters: None,
            });
        }
        signers
    }

    fn other_signers(&self, issuer: &Name) -> Vec<CrlSigner<'_>> {
        // Others must have their own path validated to the same anchor.
        let Some(anchor) = self.path.first().copied() else {
            return Vec::new();
        };
        let engine = self.engine;
        if engine.recursion.get() >= MAX_SIGNER_RECURSION {
            return Vec::new();
        }
        let mut seen: Vec<&[u8]> = self
            .path
            .iter()
            .filter(|c| c.subject() == issuer)
            .map(|c| c.der())
            .collect();
        let others: Vec<&'a Certificate> = engine
            .intermediates
            .iter()
            .chain(
                engine
                    .trust
                    .iter()
                    .filter(|(_, kind)| *kind == CaKind::Intermediate)
                    .map(|(c, _)| c),
            )
            .filter(|c| c.subject() == issuer)
            .collect();
        if others.is_empty() {
            return Vec::new();
        }
        let signer_policy = ValidationPolicy {
            purpose: Purpose::Any,
            expected_names: Vec::new(),
            policies: PolicySettings::default(),
            ..self.policy.clone()
        };
        let mut signers = Vec::new();
        for candidate in others {
            if seen.contains(&candidate.der()) {
                continue;
            }
            seen.push(candidate.der());
            engine.recursion.set(engine.recursion.get() + 1);
            let validated = engine.run(candidate, Some(anchor), &signer_policy).is_ok();
            engine.recursion.set(engine.recursion.get() - 1);
            if validated {
                signers.push(CrlSigner {
                    certificate: candidate,
                    inherited_parameters: None,
                });
            }
        }
        signers
    }
}
