//! `pki init`: creating certgate's root and issuing CA, storing them with their keys sealed,
//! and publishing their first CRLs.

use crate::Store;
use certgate_ca::{create_hierarchy, HierarchyRequest, KeyAlgorithm};

use super::{subject_of, to_offset, AuthorityRecord, AuthorityRole, BaseCrl, BuiltInCa, PkiError};
use crate::clock::Clock;
use crate::crl_cache::CrlKind;

/// What `pki init` asks for.
#[derive(Clone, Debug)]
pub struct InitRequest {
    /// Organization (O) of both CAs, and the start of their common names (`<organization> Root CA`,
    /// `<organization> Issuing CA`).
    pub organization: String,
    /// Key type of both CAs.
    pub key_algorithm: KeyAlgorithm,
    /// Root validity, in days from now.
    pub root_validity_days: u32,
    /// Issuing CA validity, in days from now; cut to the root's notAfter if longer.
    pub issuing_validity_days: u32,
}

impl<'a, S: Store, C: Clock> BuiltInCa<'a, S, C> {
    /// Creates the root and issuing CA, stores them (keys sealed) and publishes their first
    /// CRLs so that the URLs in the certificates answer at once.
    pub async fn init(&self, request: &InitRequest) -> Result<[AuthorityRecord; 2], PkiError> {
        if let Some(root) = self
            .store
            .authorities()
            .await?
            .into_iter()
            .find(|a| a.role == AuthorityRole::Root)
        {
            return Err(PkiError::AlreadyInitialised {
                root: subject_of(&root.certificate_der),
            });
        }
        if self.settings.key_passphrase.is_none() && !self.settings.allow_unencrypted_keys {
            return Err(PkiError::PassphraseRequired { action: "sealed" });
        }
        let now = self.clock.now();
        let urls = &self.settings.urls;
        let hierarchy = create_hierarchy(
            &HierarchyRequest {
                organization: request.organization.clone(),
                root_common_name: format!("{} Root CA", request.organization),
                issuing_common_name: format!("{} Issuing CA", request.organization),
                key_algorithm: request.key_algorithm,
                root_validity_days: request.root_validity_days,
                issuing_validity_days: request.issuing_validity_days,
                root_crl_url: Some(urls.crl(AuthorityRole::Root, CrlKind::Base)),
                root_certificate_url: Some(urls.certificate(AuthorityRole::Root)),
            },
            to_offset(now),
        )?;
        let root = self.record_for(AuthorityRole::Root, &hierarchy.root, now)?;
        let issuing = self.record_for(AuthorityRole::Issuing, &hierarchy.issuing, now)?;
        let (root_id, issuing_id) = self.store.insert_authorities(&root, &issuing).await?;
        let root = AuthorityRecord {
            id: root_id,
            ..root
        };
        let issuing = AuthorityRecord {
            id: issuing_id,
            ..issuing
        };
        self.audit(
            "pki.init",
            subject_of(&root.certificate_der),
            "ok",
            format!(
                "root \"{}\" and issuing CA \"{}\" created (keys {})",
                subject_of(&root.certificate_der),
                subject_of(&issuing.certificate_der),
                if root.key_sealed {
                    "sealed"
                } else {
                    "UNENCRYPTED"
                }
            ),
        )
        .await?;
        self.publish_crls(BaseCrl::Always).await?;
        Ok([root, issuing])
    }
}
