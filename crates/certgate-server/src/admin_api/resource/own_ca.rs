//! certgate's own CA (the AD CS role) as the admin API shows it: the certificates it issued,
//! what a revocation did, and the CRLs it published. `certgate pki list|revoke|crl|crls`
//! print these, locally and in remote mode alike.

use certgate_core::authority::{
    self, AuthorityRecord, AuthorityRole, IssuedRecord, PublicationUrls, Revocation,
};
use certgate_core::clock::rfc3339;
use certgate_pki::UnixTime;
use serde::{Deserialize, Serialize};

/// A certificate certgate's CA issued, with its status at the time of the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCertificate {
    /// Hex, as certificates show it.
    pub serial: String,
    /// The UPN it was issued to.
    pub upn: String,
    /// The e-mail address in its subjectAltName, if any.
    pub email: Option<String>,
    /// Its subject DN, Windows form.
    pub subject: String,
    /// Start of its validity (notBefore).
    pub not_before: String,
    /// End of its validity (notAfter).
    pub not_after: String,
    /// `valid`, `expired` or `revoked`.
    pub status: String,
    /// When it was revoked; `null` while it is not.
    pub revoked_at: Option<String>,
    /// RFC 5280 reason name, e.g. `keyCompromise`.
    pub revocation_reason: Option<String>,
    /// The certificate it was issued on the strength of (EST re-enrollment, `/my/device`);
    /// revoking that one revokes this one too.
    pub parent_serial: Option<String>,
    /// The issuer DN (Windows form) of the parent certificate.
    pub parent_issuer: Option<String>,
}

impl IssuedCertificate {
    /// The record as the API shows it, its status taken at `now`.
    pub fn new(record: &IssuedRecord, now: UnixTime) -> Self {
        IssuedCertificate {
            serial: certgate_core::hex(&record.serial),
            upn: record.upn.clone(),
            email: record.email.clone(),
            subject: record.subject.clone(),
            not_before: rfc3339(record.not_before),
            not_after: rfc3339(record.not_after),
            status: record.status(now).to_owned(),
            revoked_at: record.revoked_at.map(rfc3339),
            revocation_reason: record.revocation_reason.clone(),
            parent_serial: record
                .parent
                .as_ref()
                .map(|p| certgate_core::hex(&p.serial)),
            parent_issuer: record.parent.as_ref().map(|p| p.issuer.clone()),
        }
    }
}

/// `POST /pki/issuedCertificates/{serial}/revoke`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevocationRequest {
    /// keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation,
    /// certificateHold, privilegeWithdrawn or unspecified.
    pub reason: String,
}

/// What a revocation did: the certificate named and every certificate issued on its strength
/// (and theirs), revoked in one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRevocation {
    /// The certificate named, as it stands now.
    pub certificate: IssuedCertificate,
    /// `false` when it was revoked before (its first revocation's time and reason stand)
    /// and only descendants were revoked now.
    pub revoked_now: bool,
    /// Descendants revoked now, parents before children.
    pub descendants: Vec<IssuedCertificate>,
}

impl CertificateRevocation {
    /// What the revocation did, each certificate's status taken at `now`.
    pub fn new(revocation: &Revocation, now: UnixTime) -> Self {
        CertificateRevocation {
            certificate: IssuedCertificate::new(&revocation.named, now),
            revoked_now: revocation.named_revoked_now,
            descendants: revocation
                .descendants
                .iter()
                .map(|record| IssuedCertificate::new(record, now))
                .collect(),
        }
    }
}

/// A CRL certgate's CA published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedCrl {
    /// `root` or `issuing`: which of certgate's CAs signed it.
    pub ca: String,
    /// `base` or `delta`.
    pub kind: String,
    /// Its cRLNumber (RFC 5280 §5.2.3); base and delta CRLs of one CA share the sequence.
    pub crl_number: i64,
    /// For a delta CRL, the number of the base it applies to.
    pub base_crl_number: Option<i64>,
    /// When it was issued (thisUpdate).
    pub this_update: String,
    /// When relying parties must fetch a new one (nextUpdate).
    pub next_update: String,
    /// How many revoked certificates it lists.
    pub entries: i64,
    /// Where relying parties fetch it.
    pub url: String,
}

impl PublishedCrl {
    /// `crls` as published by `authorities` (certgate's root and issuing CA).
    pub fn list(
        crls: &[authority::PublishedCrl],
        authorities: &[AuthorityRecord],
        urls: &PublicationUrls,
    ) -> Vec<PublishedCrl> {
        crls.iter()
            .map(|crl| {
                let role = authorities
                    .iter()
                    .find(|a| a.id == crl.authority)
                    .map_or(AuthorityRole::Issuing, |a| a.role);
                PublishedCrl::new(crl, role, urls)
            })
            .collect()
    }

    fn new(crl: &authority::PublishedCrl, role: AuthorityRole, urls: &PublicationUrls) -> Self {
        PublishedCrl {
            ca: role.as_str().to_owned(),
            kind: crl.kind.as_str().to_owned(),
            crl_number: crl.crl_number,
            base_crl_number: crl.base_crl_number,
            this_update: rfc3339(crl.this_update),
            next_update: rfc3339(crl.next_update),
            entries: crl.entry_count,
            url: urls.crl(role, crl.kind),
        }
    }
}
