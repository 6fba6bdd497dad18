//! CRL publication: each CA's base and delta CRLs, signed with its key, stored, and served at
//! the URLs written into every certificate.

use crate::Store;
use certgate_ca::{sign_crl, Authority, CrlRequest, RevokedSerial};
use certgate_pki::{Crl, RevocationReason, UnixTime};

use super::{to_offset, AuthorityId, AuthorityRecord, AuthorityRole, BuiltInCa, PkiError};
use crate::clock::Clock;
use crate::crl_cache::CrlKind;

/// A CRL certgate published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedCrl {
    /// The CA that signed it.
    pub authority: AuthorityId,
    /// Base or delta.
    pub kind: CrlKind,
    /// Its cRLNumber (RFC 5280 §5.2.3); base and delta CRLs of one CA share the sequence.
    pub crl_number: i64,
    /// For a delta CRL, the number of the base it applies to.
    pub base_crl_number: Option<i64>,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate: relying parties fetch a new one by then.
    pub next_update: UnixTime,
    /// How many revoked certificates it lists.
    pub entry_count: i64,
    /// The signed CRL, DER, as served at the CA's URL for its kind.
    pub der: Vec<u8>,
}

/// Whether `publish_crls` must start a new base CRL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseCrl {
    /// Only when there is none yet or the current one is older than the base period.
    WhenDue,
    /// Start a new base CRL now, whatever the age of the current one (an administrator's explicit
    /// request).
    Always,
}

impl<'a, S: Store, C: Clock> BuiltInCa<'a, S, C> {
    /// The CRLs relying parties fetch now: each CA's latest base and delta CRL, root first.
    pub async fn current_crls(&self) -> Result<Vec<PublishedCrl>, PkiError> {
        let mut authorities = self.store.authorities().await?;
        authorities.sort_by_key(|a| a.role != AuthorityRole::Root);
        let mut current = Vec::new();
        for authority in &authorities {
            for kind in [CrlKind::Base, CrlKind::Delta] {
                if let Some(crl) = self.store.latest_published_crl(authority.id, kind).await? {
                    current.push(crl);
                }
            }
        }
        Ok(current)
    }

    /// Publishes a delta CRL for each CA, on top of its current base, and a new base CRL
    /// first when `base` says so (or the base is due). Returns what was published.
    pub async fn publish_crls(&self, base: BaseCrl) -> Result<Vec<PublishedCrl>, PkiError> {
        let issued = self.store.issued_certificates().await?;
        let mut published = Vec::new();
        for role in [AuthorityRole::Root, AuthorityRole::Issuing] {
            let record = self.authority_record(role).await?;
            let authority = self.open(&record)?;
            let revoked: Vec<RevokedSerial> = issued
                .iter()
                .filter(|c| c.authority == record.id)
                .filter_map(|c| {
                    Some(RevokedSerial {
                        serial: c.serial.clone(),
                        revoked_at: to_offset(c.revoked_at?),
                        reason: c
                            .revocation_reason
                            .as_deref()
                            .and_then(RevocationReason::parse)
                            .unwrap_or(RevocationReason::Unspecified),
                    })
                })
                .collect();
            let now = self.clock.now();
            let current_base = self
                .store
                .latest_published_crl(record.id, CrlKind::Base)
                .await?;
            let base_due = match (&current_base, base) {
                (None, _) | (_, BaseCrl::Always) => true,
                (Some(current), BaseCrl::WhenDue) => {
                    now.0 - current.this_update.0 >= self.settings.base_crl_period_seconds
                        || current.next_update.0 <= now.0
                }
            };
            let current_base = match current_base {
                Some(current) if !base_due => current,
                _ => {
                    let crl = self
                        .sign_and_store(&record, &authority, CrlKind::Base, None, &revoked, now)
                        .await?;
                    published.push(crl.clone());
                    crl
                }
            };
            // The delta lists exactly what the base does not: read from the base itself, so
            // a revocation committed while the base was being built is never lost.
            let base_crl = Crl::from_der(current_base.der.clone())
                .map_err(|reason| PkiError::Corrupt(format!("published base CRL: {reason}")))?;
            let issuer = base_crl.issuer().clone();
            let not_in_base: Vec<RevokedSerial> = revoked
                .into_iter()
                .filter(|r| base_crl.lookup(&issuer, &r.serial).is_none())
                .collect();
            let delta = self
                .sign_and_store(
                    &record,
                    &authority,
                    CrlKind::Delta,
                    Some(current_base.crl_number),
                    &not_in_base,
                    now,
                )
                .await?;
            published.push(delta);
        }
        let summary: Vec<String> = published
            .iter()
            .map(|p| format!("{} #{}", p.kind.as_str(), p.crl_number))
            .collect();
        self.audit("pki.crl", "crls", "ok", summary.join(", "))
            .await?;
        Ok(published)
    }

    async fn sign_and_store(
        &self,
        record: &AuthorityRecord,
        authority: &Authority,
        kind: CrlKind,
        delta_of: Option<i64>,
        revoked: &[RevokedSerial],
        now: UnixTime,
    ) -> Result<PublishedCrl, PkiError> {
        let number = self.store.allocate_crl_number(record.id).await?;
        let validity = match kind {
            CrlKind::Base => {
                self.settings.base_crl_period_seconds + self.settings.base_crl_overlap_seconds
            }
            CrlKind::Delta => self.settings.delta_crl_validity_seconds,
        };
        let next_update = UnixTime(now.0 + validity);
        let der = sign_crl(
            authority,
            &CrlRequest {
                crl_number: u64::try_from(number)
                    .map_err(|_| PkiError::Corrupt(format!("negative CRL number {number}")))?,
                this_update: to_offset(now),
                next_update: to_offset(next_update),
                revoked: revoked.to_vec(),
                delta_of: delta_of
                    .map(u64::try_from)
                    .transpose()
                    .map_err(|_| PkiError::Corrupt("negative base CRL number".into()))?,
                freshest_crl_url: match kind {
                    CrlKind::Base => Some(self.settings.urls.crl(record.role, CrlKind::Delta)),
                    CrlKind::Delta => None,
                },
            },
        )?;
        let published = PublishedCrl {
            authority: record.id,
            kind,
            crl_number: number,
            base_crl_number: delta_of,
            this_update: now,
            next_update,
            entry_count: revoked.len() as i64,
            der,
        };
        self.store.insert_published_crl(&published).await?;
        Ok(published)
    }
}
