//! Trusted CAs and the CRL cache as the admin API shows them: Graph's `certificateAuthority`
//! with certgate's fields, the bodies that add and change one, and the status and refresh
//! reports of the CAs' CRLs.

use base64::Engine as _;
use certgate_core::clock::rfc3339;
use certgate_core::trusted_ca::{AuthorityType, CaRecord, CaSettings};
use certgate_pki::Certificate;
use serde::{Deserialize, Serialize};

use super::{present, Patch};
use crate::crl_refresh::{CrlStatusRow, RefreshOutcome, RefreshReport};

/// Graph's `certificateAuthority` (of `certificateBasedAuthConfiguration`), plus certgate's
/// fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAuthority {
    /// certgate's id of the CA, as in `/certificateAuthorities/{id}`.
    pub id: i64,
    /// The name administrators know the CA by (its subject unless one was given).
    pub display_name: String,
    /// A trust anchor (`true`) or an intermediate used to build paths (`false`).
    pub is_root_authority: bool,
    /// Base64 of the DER certificate.
    pub certificate: String,
    /// http(s) URL of the base CRL: the only URL certgate fetches for this CA.
    pub certificate_revocation_list_url: Option<String>,
    /// http(s) URL of the delta CRL (RFC 5280 §5.2.4).
    pub delta_certificate_revocation_list_url: Option<String>,
    /// The CA's subject DN (Windows form).
    pub issuer: String,
    /// The CA's subjectKeyIdentifier, lowercase hex.
    pub issuer_ski: Option<String>,
    /// Certificates from this CA may have an unknown revocation status (Entra's per-CA
    /// exemption).
    pub is_exempt_from_crl_validation: bool,
    /// Named in the TLS CertificateRequest, so that clients offer the certificates it issued.
    pub is_issuer_hint_enabled: bool,
    /// SHA-256 of the certificate, lowercase hex: what duplicates are recognised by.
    pub sha256_thumbprint: String,
    /// Start of the CA certificate's validity.
    pub not_before: String,
    /// End of the CA certificate's validity.
    pub not_after: String,
    /// When the CA was added to the trust store.
    pub created_date_time: String,
}

impl From<&CaRecord> for CertificateAuthority {
    fn from(ca: &CaRecord) -> Self {
        CertificateAuthority {
            id: ca.id.0,
            display_name: ca.settings.display_name.clone(),
            is_root_authority: ca.settings.authority_type == AuthorityType::Root,
            certificate: base64::engine::general_purpose::STANDARD.encode(&ca.certificate_der),
            certificate_revocation_list_url: ca.settings.crl_url.clone(),
            delta_certificate_revocation_list_url: ca.settings.delta_crl_url.clone(),
            issuer: ca.facts.trusted_issuer.clone(),
            issuer_ski: ca.facts.trusted_issuer_ski.clone(),
            is_exempt_from_crl_validation: ca.settings.exempt_from_crl_validation,
            is_issuer_hint_enabled: ca.settings.send_as_issuer_hint,
            sha256_thumbprint: ca.facts.sha256_thumbprint.clone(),
            not_before: rfc3339(ca.facts.not_before),
            not_after: rfc3339(ca.facts.not_after),
            created_date_time: rfc3339(ca.created_at),
        }
    }
}

/// `POST /certificateAuthorities`: one certificate, or a bundle whose CAs are added together
/// or not at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCertificateAuthority {
    /// Base64 of a DER or PEM certificate, or of a PKCS#7 (.p7b) bundle.
    pub certificate: String,
    /// Default: root when self-signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_root_authority: Option<bool>,
    /// http(s) URL of the base CRL; only for a single certificate, not a bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_revocation_list_url: Option<String>,
    /// http(s) URL of the delta CRL; needs `certificate_revocation_list_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_certificate_revocation_list_url: Option<String>,
    /// Default: the CA's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Default false. Weakens revocation: only for CAs that publish no CRL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_exempt_from_crl_validation: Option<bool>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_issuer_hint_enabled: Option<bool>,
}

impl NewCertificateAuthority {
    /// The settings `certificate` (one of the request's) is trusted with; absent fields take
    /// their defaults (a root when self-signed, not exempt, named as an issuer hint).
    pub fn settings_for(&self, certificate: &Certificate) -> CaSettings {
        CaSettings {
            display_name: self.display_name.clone().unwrap_or_default(),
            authority_type: match self.is_root_authority {
                Some(true) => AuthorityType::Root,
                Some(false) => AuthorityType::Intermediate,
                None if certificate.is_self_issued() => AuthorityType::Root,
                None => AuthorityType::Intermediate,
            },
            crl_url: self.certificate_revocation_list_url.clone(),
            delta_crl_url: self.delta_certificate_revocation_list_url.clone(),
            exempt_from_crl_validation: self.is_exempt_from_crl_validation.unwrap_or(false),
            send_as_issuer_hint: self.is_issuer_hint_enabled.unwrap_or(true),
        }
    }
}

/// `PATCH /certificateAuthorities/{id}`: absent fields stay; `null` removes a URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateAuthorityPatch {
    /// The name administrators know the CA by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A trust anchor (`true`) or an intermediate (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_root_authority: Option<bool>,
    /// The base CRL's URL; `null` removes it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate_revocation_list_url: Patch<String>,
    /// The delta CRL's URL; `null` removes it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub delta_certificate_revocation_list_url: Patch<String>,
    /// Whether certificates from this CA may have an unknown revocation status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_exempt_from_crl_validation: Option<bool>,
    /// Whether the CA is named in the TLS CertificateRequest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_issuer_hint_enabled: Option<bool>,
}

impl CertificateAuthorityPatch {
    /// The CA's settings after the patch (checked when they are stored).
    pub fn apply(self, mut settings: CaSettings) -> CaSettings {
        if let Some(name) = self.display_name {
            settings.display_name = name;
        }
        if let Some(root) = self.is_root_authority {
            settings.authority_type = if root {
                AuthorityType::Root
            } else {
                AuthorityType::Intermediate
            };
        }
        if let Some(url) = self.certificate_revocation_list_url {
            settings.crl_url = url;
        }
        if let Some(url) = self.delta_certificate_revocation_list_url {
            settings.delta_crl_url = url;
        }
        if let Some(exempt) = self.is_exempt_from_crl_validation {
            settings.exempt_from_crl_validation = exempt;
        }
        if let Some(hint) = self.is_issuer_hint_enabled {
            settings.send_as_issuer_hint = hint;
        }
        settings
    }
}

// ---- CRL status -------------------------------------------------------------------------------

/// One CA's base or delta CRL: what is cached and how the downloads went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrlStatus {
    /// The trusted CA's id.
    pub ca_id: i64,
    /// The CA's display name.
    pub ca: String,
    /// `base` or `delta`.
    pub kind: String,
    /// Where the CRL is downloaded from.
    pub url: String,
    /// The CRL in the cache; `None`: nothing cached, certificates from this CA fail with
    /// `crl-unavailable`.
    pub cached: Option<CachedCrl>,
    /// When a download was last tried.
    pub last_attempt: Option<String>,
    /// When a download last succeeded (a new CRL, the same one, or 304 Not Modified).
    pub last_success: Option<String>,
    /// The last failure's code, e.g. `crl-fetch-timeout`; cleared by a success.
    pub last_error_code: Option<String>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Failures since the last success; the retry interval grows with it.
    pub consecutive_failures: i64,
    /// When the scheduler tries again.
    pub next_attempt: Option<String>,
}

/// The CRL the cache holds for one CA and kind: the one sign-ins are checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedCrl {
    /// Hex.
    pub crl_number: String,
    /// Its thisUpdate.
    pub this_update: String,
    /// Its nextUpdate: a newer CRL is due by then.
    pub next_update: String,
    /// How many revoked certificates it lists.
    pub entries: i64,
    /// Its size in bytes (DER).
    pub bytes: i64,
    /// When it was downloaded and accepted.
    pub fetched_at: String,
    /// The download's `ETag`, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// The download's `Last-Modified`, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

impl From<&CrlStatusRow> for CrlStatus {
    fn from(row: &CrlStatusRow) -> Self {
        let error = row.fetch.as_ref().and_then(|f| f.last_error.as_ref());
        CrlStatus {
            ca_id: row.ca.id.0,
            ca: row.ca.settings.display_name.clone(),
            kind: row.kind.as_str().to_owned(),
            url: row.url.clone(),
            cached: row.cached.as_ref().map(|c| CachedCrl {
                crl_number: certgate_core::hex(&c.crl_number),
                this_update: rfc3339(c.this_update),
                next_update: rfc3339(c.next_update),
                entries: c.entry_count,
                bytes: c.bytes,
                fetched_at: rfc3339(c.fetched_at),
                etag: c.etag.clone(),
                last_modified: c.last_modified.clone(),
            }),
            last_attempt: row.fetch.as_ref().map(|f| rfc3339(f.last_attempt_at)),
            last_success: row
                .fetch
                .as_ref()
                .and_then(|f| f.last_success_at)
                .map(rfc3339),
            last_error_code: error.map(|e| e.0.clone()),
            last_error: error.map(|e| e.1.clone()),
            consecutive_failures: row.fetch.as_ref().map_or(0, |f| f.consecutive_failures),
            next_attempt: row.fetch.as_ref().map(|f| rfc3339(f.next_attempt_at)),
        }
    }
}

/// What one CRL download did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrlRefreshReport {
    /// The trusted CA's id.
    pub ca_id: i64,
    /// `base` or `delta`.
    pub kind: String,
    /// The URL downloaded.
    pub url: String,
    /// `updated`, `not-modified`, `unchanged` or `failed`.
    pub outcome: String,
    /// The refusal code when it failed.
    pub code: Option<String>,
    /// For people: the new CRL's number, entries and size, or why it failed.
    pub detail: String,
}

impl CrlRefreshReport {
    /// Whether the download failed (`outcome` is `failed`).
    pub fn failed(&self) -> bool {
        self.outcome == "failed"
    }
}

impl From<&RefreshReport> for CrlRefreshReport {
    fn from(report: &RefreshReport) -> Self {
        let (outcome, code, detail) = match &report.outcome {
            RefreshOutcome::Updated {
                crl_number,
                entries,
                bytes,
            } => (
                "updated",
                None,
                format!(
                    "CRL number {}, {entries} entries, {bytes} bytes",
                    certgate_core::hex(crl_number)
                ),
            ),
            RefreshOutcome::NotModified => ("not-modified", None, "304 Not Modified".into()),
            RefreshOutcome::Unchanged => ("unchanged", None, "same CRL as cached".into()),
            RefreshOutcome::Failed { code, message, .. } => {
                ("failed", Some(code.clone()), message.clone())
            }
        };
        CrlRefreshReport {
            ca_id: report.ca_id.0,
            kind: report.kind.as_str().to_owned(),
            url: report.url.clone(),
            outcome: outcome.to_owned(),
            code,
            detail,
        }
    }
}
