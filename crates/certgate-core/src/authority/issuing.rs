//! Issuing: client certificates (with a new key or for the requester's own), TLS server
//! certificates for certgate's listeners, and CMS signatures with the issuing CA's key. Every
//! client certificate is on record before it leaves the service.

use crate::Store;
use certgate_ca::{
    issue_client_certificate, issue_client_certificate_for_key, ClientCertificateRequest,
    KeyAlgorithm,
};
use certgate_pki::{RequestedKey, UnixTime};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{
    subject_of, to_offset, AuthorityRecord, AuthorityRole, BuiltInCa, IssuedRecord,
    ParentCertificate, PkiError,
};
use crate::clock::Clock;
use crate::crl_cache::CrlKind;
use crate::store::StoreError;

/// What `pki issue` asks for.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    /// The user's UPN, written as the SAN otherName userPrincipalName (1.3.6.1.4.1.311.20.2.3) that
    /// the first default binding rule (PrincipalName → userPrincipalName) matches.
    pub upn: String,
    /// Written as a SAN rfc822Name when given.
    pub email: Option<String>,
    /// Subject CN; `None` uses the UPN ([`common_name_for_display_name`] makes one from a display
    /// name).
    pub common_name: Option<String>,
    /// Validity in days from now; certgate-ca cuts it to the issuing CA's notAfter (and, for a
    /// child of another CA's certificate, to that certificate's).
    pub validity_days: u32,
    /// Dotted OIDs for certificatePolicies, what strength rules (`policyOID`) look at.
    pub policy_oids: Vec<String>,
    /// Key type of the new key;
    /// [`BuiltInCa::issue_for_public_key`](super::BuiltInCa::issue_for_public_key) ignores it.
    pub key_algorithm: KeyAlgorithm,
    /// The certificate that authenticated the request (see [`IssuedRecord::parent`]); `None`
    /// for an administrator's issuance or an enrollment code.
    pub parent: Option<ParentCertificate>,
}

/// A newly issued certificate with its key and the chain above it.
pub struct Issued {
    /// The issued certificate as recorded (serial, subject, validity, DER).
    pub record: IssuedRecord,
    /// The new private key, PKCS#8 DER; wiped from memory on drop. certgate keeps no copy.
    pub private_key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// Issuing CA first, root last.
    pub chain_der: Vec<Vec<u8>>,
}

/// A certificate issued for a requester's own key, with the chain above it.
pub struct IssuedForKey {
    /// The issued certificate as recorded (serial, subject, validity, DER).
    pub record: IssuedRecord,
    /// Issuing CA first, root last.
    pub chain_der: Vec<Vec<u8>>,
}

/// A TLS server certificate with its key and the chain above it.
pub struct ServerIssued {
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
    /// Its new private key, PKCS#8 DER; wiped from memory on drop.
    pub private_key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// Issuing CA first, root last.
    pub chain_der: Vec<Vec<u8>>,
    /// When it expires (notAfter).
    pub not_after: UnixTime,
}

/// The subject common name for a user's display name, when X.509 can carry it: not empty,
/// without leading or trailing spaces or control characters, at most 64 characters
/// (RFC 5280 Appendix A.1, `ub-common-name`). `None` tells the CA to use the UPN, so a
/// display name the CA would refuse never fails an issuance (nor costs an enrollment code).
pub fn common_name_for_display_name(display_name: &str) -> Option<String> {
    let trimmed = display_name.trim();
    (!trimmed.is_empty()
        && trimmed == display_name
        && trimmed.chars().count() <= 64
        && !trimmed.chars().any(char::is_control))
    .then(|| trimmed.to_owned())
}

impl<'a, S: Store, C: Clock> BuiltInCa<'a, S, C> {
    /// Issues a client certificate to `request.upn` and records it before returning it.
    pub async fn issue(&self, request: &IssueRequest) -> Result<Issued, PkiError> {
        self.check_parent_not_revoked(request).await?;
        let (issuing, root, authority) = self.issuing_authority().await?;
        let now = self.clock.now();
        let issued =
            issue_client_certificate(&authority, &self.client_request(request), to_offset(now))?;
        let record = self
            .record_issued(
                &issuing,
                request,
                issued.serial,
                issued.certificate_der,
                (issued.not_before, issued.not_after),
                now,
                "",
            )
            .await?;
        Ok(Issued {
            record,
            private_key_pkcs8_der: issued.private_key_pkcs8_der,
            chain_der: vec![issuing.certificate_der, root.certificate_der],
        })
    }

    /// Issues a client certificate to `request.upn` for a key the requester holds (an EST
    /// enrollment's CSR key, already checked for proof of possession), and records it exactly
    /// as [`BuiltInCa::issue`] does. `request.key_algorithm` is not used. Everything but the
    /// key comes from `request`: the caller fills it from the directory, never from the CSR.
    pub async fn issue_for_public_key(
        &self,
        request: &IssueRequest,
        key: &RequestedKey,
    ) -> Result<IssuedForKey, PkiError> {
        self.check_parent_not_revoked(request).await?;
        let (issuing, root, authority) = self.issuing_authority().await?;
        let now = self.clock.now();
        let issued = issue_client_certificate_for_key(
            &authority,
            &self.client_request(request),
            key,
            to_offset(now),
        )?;
        let record = self
            .record_issued(
                &issuing,
                request,
                issued.serial,
                issued.certificate_der,
                (issued.not_before, issued.not_after),
                now,
                &format!(" for the requester's {} key", key.describe()),
            )
            .await?;
        Ok(IssuedForKey {
            record,
            chain_der: vec![issuing.certificate_der, root.certificate_der],
        })
    }

    /// Refuses to issue on the strength of a certgate certificate that is revoked on record.
    /// The sign-in that authenticated the request checked the published CRL, which lags a
    /// revocation until the next publication; the record does not. This check only spares
    /// signing a certificate that would be refused: a revocation can still commit after it,
    /// which `insert_issued` settles atomically (see `record_issued`).
    async fn check_parent_not_revoked(&self, request: &IssueRequest) -> Result<(), PkiError> {
        let Some(parent) = request.parent.as_ref().filter(|p| p.is_issued_here()) else {
            return Ok(());
        };
        match self.store.find_issued(&parent.serial).await? {
            Some(record) if record.revoked_at.is_some() => Err(PkiError::ParentRevoked {
                serial: crate::hex(&parent.serial),
            }),
            _ => Ok(()),
        }
    }

    /// The certificate profile for a user: certgate's CRL and AIA URLs.
    fn client_request(&self, request: &IssueRequest) -> ClientCertificateRequest {
        let urls = &self.settings.urls;
        ClientCertificateRequest {
            upn: request.upn.clone(),
            email: request.email.clone(),
            common_name: request
                .common_name
                .clone()
                .unwrap_or_else(|| request.upn.clone()),
            validity_days: request.validity_days,
            policy_oids: request.policy_oids.clone(),
            crl_url: Some(urls.crl(AuthorityRole::Issuing, CrlKind::Base)),
            delta_crl_url: Some(urls.crl(AuthorityRole::Issuing, CrlKind::Delta)),
            ca_issuers_url: Some(urls.certificate(AuthorityRole::Issuing)),
            key_algorithm: request.key_algorithm,
            // A child of another CA's certificate must not outlive it: that CA's revocation
            // reaches certgate through its CRL, its expiry would not.
            not_after_limit: request
                .parent
                .as_ref()
                .filter(|parent| !parent.is_issued_here())
                .and_then(|parent| parent.not_after)
                .map(to_offset),
        }
    }

    /// Records an issued certificate and its audit event (`pki.issue`). The record is
    /// durable before the certificate leaves this service, so it can always be revoked.
    #[allow(clippy::too_many_arguments)] // the parts of one issuance, each from a different source
    async fn record_issued(
        &self,
        issuing: &AuthorityRecord,
        request: &IssueRequest,
        serial: Vec<u8>,
        certificate_der: Vec<u8>,
        (not_before, not_after): (OffsetDateTime, OffsetDateTime),
        now: UnixTime,
        detail_suffix: &str,
    ) -> Result<IssuedRecord, PkiError> {
        let record = IssuedRecord {
            serial,
            authority: issuing.id,
            upn: request.upn.clone(),
            email: request.email.clone(),
            subject: subject_of(&certificate_der),
            not_before: UnixTime(not_before.unix_timestamp()),
            not_after: UnixTime(not_after.unix_timestamp()),
            certificate_der,
            issued_at: now,
            revoked_at: None,
            revocation_reason: None,
            parent: request.parent.clone(),
        };
        // The store checks the parent again, atomically with the insert: a revocation that
        // committed since `check_parent_not_revoked` is refused here, one that commits after
        // takes this certificate with it.
        let inserted = if record.parent.is_some() {
            self.store
                .insert_derived(&record, self.settings.max_derived_certificates_per_user)
                .await
        } else {
            self.store.insert_issued(&record).await
        };
        match inserted {
            Err(StoreError::ParentRevoked { serial }) => {
                return Err(PkiError::ParentRevoked { serial })
            }
            Err(StoreError::DerivedLimit { upn, limit }) => {
                let error = PkiError::DerivedLimit { upn, limit };
                // A policy refusal someone may need to look into (a user minting
                // certificates), whichever way the request came: on record, best effort —
                // the refusal stands either way.
                if let Err(store_error) = self
                    .audit("pki.issue", &record.upn, error.code(), error.to_string())
                    .await
                {
                    tracing::warn!(code = store_error.code(), %store_error, "recording a refused issuance failed");
                }
                return Err(error);
            }
            outcome => outcome?,
        }
        self.audit(
            "pki.issue",
            crate::hex(&record.serial),
            "ok",
            format!(
                "issued to {} ({}){detail_suffix}{}",
                record.upn,
                record.subject,
                match &record.parent {
                    Some(parent) => format!(
                        ", authenticated by certificate {} of {}",
                        crate::hex(&parent.serial),
                        parent.issuer
                    ),
                    None => String::new(),
                }
            ),
        )
        .await?;
        Ok(record)
    }

    /// Signs `content` as CMS SignedData (RFC 5652, content attached) with the issuing CA's
    /// key, the issuing and root certificates included so that a verifier holding only the
    /// root can build the path: what makes a signed Apple configuration profile.
    ///
    /// Why the issuing CA's own key rather than a dedicated signer: the devices that check the
    /// signature only need a path to a root they trust, and a dedicated signing key would be
    /// one more key to generate, seal, store and roll over. The cost is that the signer
    /// certificate's keyUsage (keyCertSign, cRLSign) does not name digitalSignature, so
    /// `openssl smime -verify` needs `-purpose any`. Nothing is recorded here: the signature
    /// grants nothing, and the caller audits what it signed.
    pub async fn sign_with_issuing_ca(&self, content: &[u8]) -> Result<Vec<u8>, PkiError> {
        let (_, root, authority) = self.issuing_authority().await?;
        Ok(certgate_ca::cms_sign(
            &authority,
            &[root.certificate_der],
            content,
            to_offset(self.clock.now()),
        )?)
    }

    /// Issues a TLS server certificate for certgate's own listeners. Not recorded as a user
    /// certificate; the issuance is in the audit log.
    pub async fn issue_server(
        &self,
        request: &certgate_ca::ServerCertificateRequest,
    ) -> Result<ServerIssued, PkiError> {
        let issuing = self.authority_record(AuthorityRole::Issuing).await?;
        let root = self.authority_record(AuthorityRole::Root).await?;
        let authority = self.open(&issuing)?;
        let issued = certgate_ca::issue_server_certificate(
            &authority,
            request,
            to_offset(self.clock.now()),
        )?;
        self.audit(
            "pki.issue-server",
            crate::hex(&issued.serial),
            "ok",
            format!(
                "TLS server certificate for {}",
                request
                    .dns_names
                    .iter()
                    .cloned()
                    .chain(request.ip_addresses.iter().map(ToString::to_string))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .await?;
        Ok(ServerIssued {
            certificate_der: issued.certificate_der,
            private_key_pkcs8_der: issued.private_key_pkcs8_der,
            chain_der: vec![issuing.certificate_der, root.certificate_der],
            not_after: UnixTime(issued.not_after.unix_timestamp()),
        })
    }

    /// Every certificate certgate's CA issued, revoked ones included, as recorded.
    pub async fn issued(&self) -> Result<Vec<IssuedRecord>, PkiError> {
        Ok(self.store.issued_certificates().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_a_certificate_cannot_carry_fall_back_to_the_upn() {
        assert_eq!(
            common_name_for_display_name("Alice Smith").as_deref(),
            Some("Alice Smith")
        );
        let sixty_four = "A".repeat(64);
        assert_eq!(
            common_name_for_display_name(&sixty_four).as_deref(),
            Some(sixty_four.as_str())
        );
        for unusable in [
            String::new(),
            "   ".into(),
            " Alice".into(),
            "Alice ".into(),
            "Alice\nSmith".into(),
            "Alice\u{7}".into(),
            "A".repeat(65),
            "B".repeat(70),
        ] {
            assert_eq!(
                common_name_for_display_name(&unusable),
                None,
                "{unusable:?}"
            );
        }
    }
}
