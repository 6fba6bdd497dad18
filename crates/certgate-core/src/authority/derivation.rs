//! Derivation: which certificate that just signed in may obtain a new one, and the parent the
//! new one is recorded with.

use crate::Store;
use certgate_pki::Certificate;

use super::{BuiltInCa, ParentCertificate, PkiError};
use crate::clock::Clock;
use crate::signin::ValidCertificate;

/// What a certificate is derived for: the rule of [`BuiltInCa::derivation_parent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DerivedFor {
    /// `/my/device`: another trusted CA's certificate may derive when
    /// [`PkiSettings::derive_from_trusted_cas`] allows it.
    ///
    /// [`PkiSettings::derive_from_trusted_cas`]: super::PkiSettings::derive_from_trusted_cas
    Device,
    /// EST `simplereenroll`: only certgate's own certificates.
    Renewal,
}

impl<'a, S: Store, C: Clock> BuiltInCa<'a, S, C> {
    /// The parent of a certificate about to be derived from `presented`, the certificate that
    /// just signed in (validated: its issuing CA is the one on its validated path), or why it
    /// may not have children. The one rule for every derivation:
    /// - a certificate certgate issued (its serial is on record and the record holds these
    ///   very bytes: another CA's certificate with the same serial is not certgate's) always
    ///   may: revoking it here revokes its children;
    /// - any other certificate only for [`DerivedFor::Device`] with
    ///   [`PkiSettings::derive_from_trusted_cas`], and only when its issuing CA is a trusted CA
    ///   on record with a CRL URL: the child then ends no later than the parent, and that CA's
    ///   CRL listing the parent revokes the child (see `Store::put_cached_crl`);
    /// - otherwise `pki-parent-not-certgate`. EST re-enrollment renews certgate's own
    ///   certificates only (there is nothing of certgate's to renew otherwise).
    ///
    /// [`PkiSettings::derive_from_trusted_cas`]: super::PkiSettings::derive_from_trusted_cas
    pub async fn derivation_parent(
        &self,
        presented: &ValidCertificate,
        purpose: DerivedFor,
    ) -> Result<ParentCertificate, PkiError> {
        let certificate = Certificate::from_der(&presented.der)
            .map_err(|reason| PkiError::ParentMalformed(reason.code().to_owned()))?;
        let serial = certificate.serial().to_vec();
        let authority = self
            .store
            .find_issued(&serial)
            .await?
            .filter(|record| record.certificate_der == presented.der)
            .map(|record| record.authority);
        let mut parent = ParentCertificate {
            serial,
            issuer: presented.issuer.clone(),
            authority,
            trusted_ca: None,
            not_after: None,
        };
        if parent.is_issued_here() {
            return Ok(parent);
        }
        let target = crate::hex(&parent.serial);
        if purpose != DerivedFor::Device || !self.settings.derive_from_trusted_cas {
            return Err(self
                .refused_derivation(
                    &target,
                    PkiError::ParentNotIssuedHere {
                        issuer: parent.issuer,
                    },
                )
                .await);
        }
        let issuing_ca_thumbprint = crate::hex(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &presented.issuing_ca_der)
                .as_ref(),
        );
        let Some(ca) = self
            .store
            .list_cas()
            .await?
            .into_iter()
            .find(|ca| ca.facts.sha256_thumbprint == issuing_ca_thumbprint)
        else {
            return Err(self
                .refused_derivation(
                    &target,
                    PkiError::ParentCaNotTrusted {
                        issuer: parent.issuer,
                    },
                )
                .await);
        };
        if ca.settings.crl_url.is_none() {
            return Err(self
                .refused_derivation(
                    &target,
                    PkiError::ParentCaWithoutCrl {
                        ca: ca.id,
                        issuer: parent.issuer,
                    },
                )
                .await);
        }
        parent.trusted_ca = Some(ca.id);
        parent.not_after = Some(certificate.not_after());
        Ok(parent)
    }

    /// Records a refused derivation (`pki.issue`, the parent's serial as target) and returns
    /// the refusal. Best effort: the refusal stands whether or not it could be recorded.
    async fn refused_derivation(&self, parent_hex: &str, error: PkiError) -> PkiError {
        if let Err(store_error) = self
            .audit(
                "pki.issue",
                parent_hex,
                error.code(),
                format!("no certificate derived from certificate {parent_hex}: {error}"),
            )
            .await
        {
            tracing::warn!(code = store_error.code(), %store_error, "recording a refused derivation failed");
        }
        error
    }
}
