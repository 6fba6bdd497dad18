//! The CA records and their private keys: sealed with the configured passphrase when stored,
//! unsealed only to sign.

use crate::Store;
use certgate_ca::{sealed_key, Authority};
use certgate_pki::UnixTime;
use zeroize::Zeroizing;

use super::{AuthorityId, AuthorityRecord, AuthorityRole, BuiltInCa, PkiError};
use crate::clock::Clock;

impl<'a, S: Store, C: Clock> BuiltInCa<'a, S, C> {
    pub(super) fn record_for(
        &self,
        role: AuthorityRole,
        authority: &Authority,
        now: UnixTime,
    ) -> Result<AuthorityRecord, PkiError> {
        let key = authority.private_key_pkcs8_der();
        let (private_key, key_sealed) = match &self.settings.key_passphrase {
            Some(passphrase) => (sealed_key::seal(&key, passphrase)?, true),
            None => (key.to_vec(), false),
        };
        Ok(AuthorityRecord {
            id: AuthorityId(0),
            role,
            certificate_der: authority.certificate_der().to_vec(),
            private_key,
            key_sealed,
            created_at: now,
        })
    }

    pub(super) async fn authority_record(
        &self,
        role: AuthorityRole,
    ) -> Result<AuthorityRecord, PkiError> {
        self.store
            .authorities()
            .await?
            .into_iter()
            .find(|a| a.role == role)
            .ok_or(PkiError::NotInitialised)
    }

    pub(super) fn open(&self, record: &AuthorityRecord) -> Result<Authority, PkiError> {
        let key = if record.key_sealed {
            let passphrase = self
                .settings
                .key_passphrase
                .as_ref()
                .ok_or(PkiError::PassphraseRequired { action: "unsealed" })?;
            sealed_key::open(&record.private_key, passphrase)?
        } else {
            Zeroizing::new(record.private_key.clone())
        };
        Ok(Authority::from_parts(record.certificate_der.clone(), &key)?)
    }

    /// The issuing CA's and root's records, and the issuing CA opened to sign.
    pub(super) async fn issuing_authority(
        &self,
    ) -> Result<(AuthorityRecord, AuthorityRecord, Authority), PkiError> {
        let issuing = self.authority_record(AuthorityRole::Issuing).await?;
        let root = self.authority_record(AuthorityRole::Root).await?;
        let authority = self.open(&issuing)?;
        Ok((issuing, root, authority))
    }
}
