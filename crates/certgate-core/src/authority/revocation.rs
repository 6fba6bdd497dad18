//! Revocation: revoking a certificate certgate issued together with every certificate derived
//! from it, and what a trusted CA's CRL means for the certificates derived from its
//! certificates.

use crate::Store;
use certgate_pki::{Crl, RevocationReason, UnixTime};

use super::{BuiltInCa, IssuedRecord, PkiError};
use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::store::StoreError;
use crate::trusted_ca::CaId;

/// The outcome of [`BuiltInCa::revoke`]: the certificate named and every certificate
/// descended from it that this revocation took with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// The certificate named, as it stands now.
    pub named: IssuedRecord,
    /// `false` when the named certificate was revoked before (its first revocation's time and
    /// reason stand) and only descendants were revoked now.
    pub named_revoked_now: bool,
    /// Descendants revoked now (parents before children); descendants already revoked are
    /// left as they were and not listed.
    pub descendants: Vec<IssuedRecord>,
}

/// What a trusted CA's CRL means for the certificates certgate derived from that CA's
/// certificates (`/my/device` with [`PkiSettings::derive_from_trusted_cas`]): a parent the CRL
/// lists takes its children with it. The store applies it in the transaction that saves the
/// accepted CRL (`Store::put_cached_crl`), so the cache never says "revoked" while a child
/// still stands.
///
/// [`PkiSettings::derive_from_trusted_cas`]: super::PkiSettings::derive_from_trusted_cas
pub struct ParentRevocations {
    crl: Crl,
}

impl ParentRevocations {
    /// From an accepted CRL's DER (its signature and issuer were checked on acceptance);
    /// `None` when it does not parse, which an accepted CRL always does.
    pub fn of_crl(der: &[u8]) -> Option<ParentRevocations> {
        Crl::from_der(der.to_vec())
            .ok()
            .map(|crl| ParentRevocations { crl })
    }

    /// The reason to revoke the children of the parent `serial` (content octets) with, when
    /// the CRL lists it: the parent's own reason when it says a key was compromised (relying
    /// parties must learn that), otherwise `superseded` (RFC 5280 §5.3.1: the child was
    /// replaced because its parent went away). A parent on hold revokes its children for good:
    /// certgate re-issues a derived certificate rather than releasing it. A delta CRL's
    /// `removeFromCRL` entry revokes nothing.
    pub fn child_reason(&self, parent_serial: &[u8]) -> Option<RevocationReason> {
        let entry = self.crl.lookup(self.crl.issuer(), parent_serial)?;
        Some(match entry.reason {
            RevocationReason::RemoveFromCrl => return None,
            reason @ (RevocationReason::KeyCompromise
            | RevocationReason::CaCompromise
            | RevocationReason::AaCompromise) => reason,
            _ => RevocationReason::Superseded,
        })
    }

    /// The audit event of a child revoked because `ancestor_hex` (its parent, or a parent
    /// further up) is on the CRL of trusted CA `ca`.
    pub fn audit(
        child: &IssuedRecord,
        ca: CaId,
        ancestor_hex: &str,
        reason: RevocationReason,
        at: UnixTime,
    ) -> AuditEvent {
        AuditEvent::new(
            at,
            "crl-refresh",
            "pki.revoke",
            crate::hex(&child.serial),
            "ok",
            format!(
                "{} revoked ({}): certificate {ancestor_hex}, from which it was derived, is on the CRL of trusted CA {ca}",
                child.upn,
                reason.as_str()
            ),
        )
    }
}

impl<'a, S: Store, C: Clock> BuiltInCa<'a, S, C> {
    /// Revokes a certificate certgate issued and, in the same transaction, every certificate
    /// descended from it: those issued on the strength of it (re-enrollment, `/my/device`),
    /// and theirs in turn, all with the same reason and each with its own audit event. A
    /// stolen certificate that minted others before it was revoked takes them with it.
    ///
    /// Durable when it returns; it reaches relying parties with the next CRL publication
    /// (`publish_crls`). Revoking an already revoked certificate still revokes descendants
    /// that are not yet revoked (one issued before the revocation reached the CRL); it is
    /// `AlreadyRevoked` only when there is nothing left to revoke.
    pub async fn revoke(&self, serial: &[u8], reason: &str) -> Result<Revocation, PkiError> {
        let reason = RevocationReason::parse(reason)
            .ok_or_else(|| PkiError::UnknownReason(reason.to_owned()))?;
        let serial_hex = crate::hex(serial);
        let now = self.clock.now();
        let audit = |record: &IssuedRecord| {
            let detail = if record.serial == serial {
                format!("{} revoked ({})", record.upn, reason.as_str())
            } else {
                format!(
                    "{} revoked ({}) with its ancestor {serial_hex}: issued on the strength of {}",
                    record.upn,
                    reason.as_str(),
                    record
                        .parent
                        .as_ref()
                        .map(|p| crate::hex(&p.serial))
                        .unwrap_or_default()
                )
            };
            AuditEvent::new(
                now,
                self.actor,
                "pki.revoke",
                crate::hex(&record.serial),
                "ok",
                detail,
            )
        };
        let revocation = match self
            .store
            .revoke_issued(serial, now, reason.as_str(), &audit)
            .await
        {
            Ok(revocation) => revocation,
            Err(StoreError::NotFound { .. }) => {
                return Err(PkiError::UnknownSerial { serial: serial_hex })
            }
            Err(other) => return Err(other.into()),
        };
        if !revocation.named_revoked_now && revocation.descendants.is_empty() {
            let named = revocation.named;
            return Err(PkiError::AlreadyRevoked {
                serial: serial_hex,
                at: named
                    .revoked_at
                    .map(crate::clock::rfc3339)
                    .unwrap_or_default(),
                reason: named.revocation_reason.unwrap_or_default(),
            });
        }
        Ok(revocation)
    }
}
