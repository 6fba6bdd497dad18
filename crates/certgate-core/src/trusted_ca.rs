//! Trusted certificate authorities, with the fields of Entra's
//! `CertificateAuthorityInformation` (authorityType, trustedCertificate, crlDistributionPoint,
//! deltaCrlDistributionPoint, trustedIssuer, trustedIssuerSKI) plus certgate's own flags.

use certgate_pki::{
    check_intermediate_ca, check_trust_anchor, AlgorithmPolicy, Certificate, Identity,
    ProfileExceptions, Reason, ReasonCode, UnixTime,
};
use serde::Serialize;

use crate::store::StoreError;
use crate::store::StoreResult;
use std::future::Future;

/// Entra's `authorityType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorityType {
    /// A trust anchor: certification paths end here.
    Root,
    /// Used to build paths the client did not send in full; paths must still end at a root.
    Intermediate,
}

impl AuthorityType {
    /// `root` or `intermediate`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorityType::Root => "root",
            AuthorityType::Intermediate => "intermediate",
        }
    }
    /// Reads the name [`as_str`](Self::as_str) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "root" => Some(AuthorityType::Root),
            "intermediate" => Some(AuthorityType::Intermediate),
            _ => None,
        }
    }
}

/// A trusted CA's row id, as `certgate ca list` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CaId(pub i64);

impl std::fmt::Display for CaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What an administrator chooses about a CA; the rest is computed from its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaSettings {
    /// A name for people (at most [`MAX_DISPLAY_NAME_CHARS`] characters, no control characters).
    pub display_name: String,
    /// Root (a trust anchor) or intermediate.
    pub authority_type: AuthorityType,
    /// Entra's `crlDistributionPoint`: the base CRL certgate downloads for this CA (http or https).
    /// The only URL it fetches for the CA, never one from a presented certificate.
    pub crl_url: Option<String>,
    /// Entra's `deltaCrlDistributionPoint`: the delta CRL (RFC 5280 §5.2.4); needs `crl_url`.
    pub delta_crl_url: Option<String>,
    /// Certificates this CA issued may have an unknown revocation status (a CRL that lists
    /// them still rejects them). Entra's per-CA exemption from "Require CRL validation".
    pub exempt_from_crl_validation: bool,
    /// Name this CA in the TLS CertificateRequest so clients offer matching certificates.
    pub send_as_issuer_hint: bool,
}

/// A trusted CA as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaRecord {
    /// Row id.
    pub id: CaId,
    /// What the administrator chose.
    pub settings: CaSettings,
    /// Entra's `trustedCertificate`: the CA certificate, DER.
    pub certificate_der: Vec<u8>,
    /// What was computed from the certificate when it was added.
    pub facts: CaFacts,
    /// When it was added.
    pub created_at: UnixTime,
}

/// Fields computed from the certificate, stored so they can be listed and searched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaFacts {
    /// Entra's `trustedIssuer`: the CA's subject DN (Windows form).
    pub trusted_issuer: String,
    /// Entra's `trustedIssuerSKI`: the subjectKeyIdentifier, lowercase hex.
    pub trusted_issuer_ski: Option<String>,
    /// SHA-256 of the certificate, lowercase hex: what duplicates are recognised by.
    pub sha256_thumbprint: String,
    /// The certificate's notBefore.
    pub not_before: UnixTime,
    /// The certificate's notAfter.
    pub not_after: UnixTime,
}

/// A CA about to be added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCa {
    /// What the administrator chose.
    pub settings: CaSettings,
    /// The CA certificate, DER.
    pub certificate_der: Vec<u8>,
    /// Computed from the certificate by [`prepare_new_ca`].
    pub facts: CaFacts,
}

/// Why a trusted-CA change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The file is no DER or PEM certificate, nor a PKCS#7 bundle of them.
    #[error("the file is not a readable certificate: {0}")]
    CertificateMalformed(Reason),
    /// The certificate's basicConstraints does not say cA: a user certificate, not a CA.
    #[error("\"{subject}\" is not a CA certificate (basicConstraints cA is absent or false); upload the CA that issued your users' certificates, not a user certificate")]
    NotACa {
        /// Its subject DN (Windows form).
        subject: String,
    },
    /// The CA certificate has expired.
    #[error("\"{subject}\" expired at {not_after}; a CA that has expired cannot validate anything, renew it first")]
    Expired {
        /// Its subject DN (Windows form).
        subject: String,
        /// When it expired, RFC 3339.
        not_after: String,
    },
    /// A CRL URL is not `http://` or `https://`.
    #[error("the {field} \"{url}\" is not an http:// or https:// URL")]
    UrlNotHttp {
        /// Which URL (`CRL distribution point URL`, `delta CRL distribution point URL`).
        field: &'static str,
        /// The URL as given.
        url: String,
    },
    /// An http(s) URL the fetcher could not request (`http://[::1`): refused when it is set,
    /// not first at the next CRL refresh.
    #[error("the {field} {url:?} cannot be used: {why}")]
    UrlMalformed {
        /// Which URL (`CRL distribution point URL`, `delta CRL distribution point URL`).
        field: &'static str,
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A display name with control characters (ESC, BEL, newlines) would reach operators'
    /// terminals and logs; refused as user and relying-party names are.
    #[error("the display name {name:?} cannot be used: {why}")]
    NameInvalid {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A delta CRL URL without a base CRL URL.
    #[error("a delta CRL URL needs a base CRL URL: a delta CRL alone never proves a certificate unrevoked")]
    DeltaWithoutBase,
    /// The same certificate (by SHA-256 thumbprint) is already trusted.
    #[error("\"{subject}\" is already trusted as CA {existing}; use `certgate ca set {existing}` to change it")]
    Duplicate {
        /// Its subject DN (Windows form).
        subject: String,
        /// The record that has it.
        existing: CaId,
    },
    /// No trusted CA has this id.
    #[error("no trusted CA has id {0}; `certgate ca list` shows the ids")]
    NotFound(CaId),
    /// The CA breaks a rule of the RFC 5280 certificate profile that sign-in validation
    /// enforces: refused at upload so the problem shows before anyone signs in. The code is
    /// the validator's (e.g. `subject-key-id-missing`, `anchor-not-a-ca`, `weak-key`).
    #[error("\"{subject}\" cannot be trusted: {reason}")]
    CaProfileInvalid {
        /// Its subject DN (Windows form).
        subject: String,
        /// The rule it breaks, with certgate-pki's code.
        reason: Reason,
    },
    /// A PKCS#7 bundle without certificates.
    #[error("the bundle contains no certificate")]
    Empty,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TrustError {
    /// Every code [`TrustError::code`] answers with of its own (a CA that breaks the certificate
    /// profile answers with certgate-pki's code for the rule, store failures with
    /// [`StoreError::CODES`]). `ca-not-a-ca` is listed with [`certgate_ca::CaError`].
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "ca-certificate-malformed",
            "The file is not a readable certificate: neither a DER or PEM certificate nor a PKCS#7 bundle of them.",
            "Export the CA certificate again as .cer (DER or Base64) or .p7b and repeat `certgate ca add FILE`.",
        ),
        ReasonCode::new(
            "ca-expired",
            "The CA certificate has expired, and an expired CA cannot validate anything.",
            "Renew the CA and trust its new certificate (`certgate ca add FILE`).",
        ),
        ReasonCode::new(
            "ca-url-not-http",
            "A CRL distribution point URL is not an http:// or https:// URL.",
            "Give an http:// or https:// URL (`--crl-url`, `--delta-crl-url`).",
        ),
        ReasonCode::new(
            "ca-url-malformed",
            "A CRL distribution point URL cannot be fetched as given: it holds control characters or user information (user@host), or its host is not a plain DNS name or IP address with an optional port.",
            "Give a plain URL such as http://pki.contoso.example/issuing.crl.",
        ),
        ReasonCode::new(
            "ca-name-invalid",
            "The CA's display name is longer than 256 characters or contains control characters.",
            "Give a display name (`--name`) of at most 256 characters without control characters.",
        ),
        ReasonCode::new(
            "ca-delta-without-base",
            "A delta CRL URL was set without a base CRL URL; a delta CRL alone never proves a certificate unrevoked.",
            "Set the base CRL URL too (`--crl-url`), or leave out the delta CRL URL.",
        ),
        ReasonCode::new(
            "ca-duplicate",
            "The certificate is already trusted (same SHA-256 thumbprint) as another CA record.",
            "Change the existing record instead (`certgate ca list` shows it, `certgate ca set ID` changes it).",
        ),
        ReasonCode::new(
            "ca-not-found",
            "No trusted CA has the given id.",
            "Use an id that `certgate ca list` shows.",
        ),
        ReasonCode::new(
            "ca-bundle-empty",
            "The bundle (.p7b) holds no certificate.",
            "Export the bundle again with the CA certificates in it, or upload the CA certificate itself (.cer).",
        ),
    ];

    /// The stable reason code: its own (listed in [`Self::CODES`]), certgate-pki's for a profile
    /// rule, or the store's.
    pub fn code(&self) -> &'static str {
        match self {
            TrustError::CertificateMalformed(_) => "ca-certificate-malformed",
            TrustError::NotACa { .. } => "ca-not-a-ca",
            TrustError::Expired { .. } => "ca-expired",
            TrustError::UrlNotHttp { .. } => "ca-url-not-http",
            TrustError::UrlMalformed { .. } => "ca-url-malformed",
            TrustError::NameInvalid { .. } => "ca-name-invalid",
            TrustError::DeltaWithoutBase => "ca-delta-without-base",
            TrustError::Duplicate { .. } => "ca-duplicate",
            TrustError::NotFound(_) => "ca-not-found",
            TrustError::CaProfileInvalid { reason, .. } => reason.code(),
            TrustError::Empty => "ca-bundle-empty",
            TrustError::Store(e) => e.code(),
        }
    }
}

/// The longest display name, in characters (as a user's display name).
pub const MAX_DISPLAY_NAME_CHARS: usize = 256;

/// Checks the administrator's settings (a display name without control characters; URLs
/// http(s) only, with a plain host; a delta URL needs a base URL).
pub fn check_settings(settings: &CaSettings) -> Result<(), TrustError> {
    let name = &settings.display_name;
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(TrustError::NameInvalid {
            name: name.clone(),
            why: "a display name has at most 256 characters and no control characters",
        });
    }
    for (field, url) in [
        ("CRL distribution point URL", &settings.crl_url),
        ("delta CRL distribution point URL", &settings.delta_crl_url),
    ] {
        if let Some(url) = url {
            if !is_http_url(url) {
                return Err(TrustError::UrlNotHttp {
                    field,
                    url: url.clone(),
                });
            }
            if let Err(why) = check_url_parts(url) {
                return Err(TrustError::UrlMalformed {
                    field,
                    url: url.clone(),
                    why,
                });
            }
        }
    }
    if settings.delta_crl_url.is_some() && settings.crl_url.is_none() {
        return Err(TrustError::DeltaWithoutBase);
    }
    Ok(())
}

/// `http://host...` or `https://host...` with a non-empty host and no whitespace.
pub fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !url.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// The parts of an http(s) URL (see [`is_http_url`]) the fetcher needs intact: a host that is
/// a plain DNS name or IP address with an optional port (the front door's
/// [`request_host`](crate::front_door::request_host) rule), no user information, and no
/// control characters anywhere.
fn check_url_parts(url: &str) -> Result<(), &'static str> {
    if url.chars().any(char::is_control) {
        return Err("it contains control characters");
    }
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("it holds user information (user@host), which a CRL URL never needs");
    }
    crate::front_door::request_host(authority).map(drop)
}

/// Validates one certificate for the trust store and computes its facts. `existing` is the
/// current store, to refuse duplicates (same certificate) before anything is written.
pub fn prepare_new_ca(
    certificate_der: Vec<u8>,
    settings: CaSettings,
    existing: &[CaRecord],
    now: UnixTime,
) -> Result<NewCa, TrustError> {
    check_settings(&settings)?;
    let certificate =
        Certificate::from_der(&certificate_der).map_err(TrustError::CertificateMalformed)?;
    let identity = Identity::of(&certificate);
    if !certificate.is_ca() {
        return Err(TrustError::NotACa {
            subject: identity.subject,
        });
    }
    if certificate.not_after() < now {
        return Err(TrustError::Expired {
            subject: identity.subject,
            not_after: crate::clock::rfc3339(certificate.not_after()),
        });
    }
    // The rules sign-in validation applies (certgate-pki's profile checks, with the default
    // algorithm policy and no exceptions, as the server validates).
    let profile = match settings.authority_type {
        AuthorityType::Root => check_trust_anchor(
            &certificate,
            &AlgorithmPolicy::default(),
            &ProfileExceptions::default(),
        ),
        AuthorityType::Intermediate => check_intermediate_ca(
            &certificate,
            &AlgorithmPolicy::default(),
            &ProfileExceptions::default(),
        ),
    };
    if let Err(reason) = profile {
        return Err(TrustError::CaProfileInvalid {
            subject: identity.subject,
            reason,
        });
    }
    if let Some(duplicate) = existing
        .iter()
        .find(|ca| ca.facts.sha256_thumbprint == identity.sha256_thumbprint)
    {
        return Err(TrustError::Duplicate {
            subject: identity.subject,
            existing: duplicate.id,
        });
    }
    let facts = CaFacts {
        trusted_issuer: identity.subject,
        trusted_issuer_ski: identity.subject_key_id,
        sha256_thumbprint: identity.sha256_thumbprint,
        not_before: certificate.not_before(),
        not_after: certificate.not_after(),
    };
    let settings = CaSettings {
        // The subject is the certificate's word: escaped, so the default name holds no
        // control character either.
        display_name: if settings.display_name.trim().is_empty() {
            crate::escape_control(&facts.trusted_issuer).into_owned()
        } else {
            settings.display_name
        },
        ..settings
    };
    Ok(NewCa {
        settings,
        certificate_der,
        facts,
    })
}

/// Adds every certificate of a bundle (a .cer or a .p7b), all or nothing: each is checked
/// first, then all are written in one transaction. `settings_for` chooses each CA's settings
/// (e.g. root when self-issued).
pub async fn add_cas<S: crate::Store>(
    store: &S,
    certificates_der: Vec<Vec<u8>>,
    settings_for: impl Fn(&Certificate) -> CaSettings,
    now: UnixTime,
    actor: &str,
) -> Result<Vec<CaRecord>, TrustError> {
    if certificates_der.is_empty() {
        return Err(TrustError::Empty);
    }
    let existing = store.list_cas().await?;
    let mut prepared: Vec<NewCa> = Vec::with_capacity(certificates_der.len());
    for der in certificates_der {
        let certificate = Certificate::from_der(&der).map_err(TrustError::CertificateMalformed)?;
        let settings = settings_for(&certificate);
        let new = prepare_new_ca(der, settings, &existing, now)?;
        if prepared
            .iter()
            .any(|p| p.facts.sha256_thumbprint == new.facts.sha256_thumbprint)
        {
            continue; // the same certificate twice in one bundle
        }
        prepared.push(new);
    }
    let records = match store.insert_cas(&prepared, now).await {
        Ok(records) => records,
        // Another process added it between our check and the insert.
        Err(crate::store::StoreError::Conflict { .. }) => {
            let existing = store.list_cas().await?;
            let duplicate = prepared.iter().find_map(|p| {
                existing
                    .iter()
                    .find(|e| e.facts.sha256_thumbprint == p.facts.sha256_thumbprint)
                    .map(|e| (p.facts.trusted_issuer.clone(), e.id))
            });
            return Err(match duplicate {
                Some((subject, existing)) => TrustError::Duplicate { subject, existing },
                None => TrustError::Store(crate::store::StoreError::Conflict {
                    what: "a trusted CA".into(),
                }),
            });
        }
        Err(other) => return Err(other.into()),
    };
    for record in &records {
        audit(store, now, actor, "ca.add", record).await?;
    }
    Ok(records)
}

/// Changes a CA's settings (the certificate itself never changes: remove and add instead).
pub async fn set_ca<S: crate::Store>(
    store: &S,
    id: CaId,
    change: impl FnOnce(CaSettings) -> CaSettings,
    now: UnixTime,
    actor: &str,
) -> Result<CaRecord, TrustError> {
    let current = find_ca(store, id).await?;
    let settings = change(current.settings);
    check_settings(&settings)?;
    let record = match store.update_ca(id, &settings).await {
        Err(crate::store::StoreError::NotFound { .. }) => return Err(TrustError::NotFound(id)),
        other => other?,
    };
    audit(store, now, actor, "ca.set", &record).await?;
    Ok(record)
}

/// Removes a CA and its cached CRLs.
pub async fn remove_ca<S: crate::Store>(
    store: &S,
    id: CaId,
    now: UnixTime,
    actor: &str,
) -> Result<CaRecord, TrustError> {
    let current = find_ca(store, id).await?;
    match store.delete_ca(id).await {
        Err(crate::store::StoreError::NotFound { .. }) => return Err(TrustError::NotFound(id)),
        other => other?,
    }
    audit(store, now, actor, "ca.remove", &current).await?;
    Ok(current)
}

async fn find_ca<S: crate::Store>(store: &S, id: CaId) -> Result<CaRecord, TrustError> {
    store
        .list_cas()
        .await?
        .into_iter()
        .find(|ca| ca.id == id)
        .ok_or(TrustError::NotFound(id))
}

async fn audit<S: crate::Store>(
    store: &S,
    now: UnixTime,
    actor: &str,
    action: &str,
    record: &CaRecord,
) -> Result<(), crate::store::StoreError> {
    let settings = &record.settings;
    store
        .append_audit(&crate::audit::AuditEvent::new(
            now,
            actor,
            action,
            format!("ca {}", record.id),
            "ok",
            format!(
                "{} \"{}\" ({}), CRL {}, delta CRL {}, exempt from CRL validation: {}, issuer hint: {}",
                settings.authority_type.as_str(),
                record.facts.trusted_issuer,
                record.facts.sha256_thumbprint,
                settings.crl_url.as_deref().unwrap_or("none"),
                settings.delta_crl_url.as_deref().unwrap_or("none"),
                settings.exempt_from_crl_validation,
                settings.send_as_issuer_hint,
            ),
        ))
        .await
}

/// The trusted root and intermediate CAs (the Entra ID certificate-authority list).
pub trait TrustedCaStore: Send + Sync + 'static {
    /// Every trusted CA, in the order they were added.
    fn list_cas(&self) -> impl Future<Output = StoreResult<Vec<CaRecord>>> + Send;
    /// Adds CAs in one transaction: all or none. `Conflict` when a certificate is already
    /// trusted.
    fn insert_cas(
        &self,
        cas: &[NewCa],
        now: UnixTime,
    ) -> impl Future<Output = StoreResult<Vec<CaRecord>>> + Send;
    /// Replaces a CA's settings (CRL URLs, hints, type); `NotFound` for an unknown ID.
    fn update_ca(
        &self,
        id: CaId,
        settings: &CaSettings,
    ) -> impl Future<Output = StoreResult<CaRecord>> + Send;
    /// Also removes the CA's cached CRLs and their status.
    fn delete_ca(&self, id: CaId) -> impl Future<Output = StoreResult<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_accepted() {
        assert!(is_http_url("http://crl.contoso.example/root.crl"));
        assert!(is_http_url("HTTPS://crl.contoso.example"));
        assert!(!is_http_url("ldap://dc1/CN=root,CN=CDP"));
        assert!(!is_http_url("file:///etc/passwd"));
        assert!(!is_http_url("http:///nohost"));
        assert!(!is_http_url("http://host/with space"));
    }

    fn settings(display_name: &str, crl_url: Option<&str>) -> CaSettings {
        CaSettings {
            display_name: display_name.into(),
            authority_type: AuthorityType::Root,
            crl_url: crl_url.map(str::to_owned),
            delta_crl_url: None,
            exempt_from_crl_validation: false,
            send_as_issuer_hint: true,
        }
    }

    #[test]
    fn urls_the_fetcher_cannot_request_are_refused_when_set() {
        for url in [
            "http://[::1",
            "http://[::1]x/crl",
            "http://crl.example:99999/root.crl",
            "http://crl.example:/root.crl",
            "http://user:secret@crl.example/root.crl",
            "http://crl_example!/root.crl",
            "http://crl.example/root\u{1b}.crl",
        ] {
            let refused = check_settings(&settings("", Some(url)))
                .err()
                .unwrap_or_else(|| panic!("{url:?} accepted"));
            assert_eq!(refused.code(), "ca-url-malformed", "{url:?}");
        }
        for url in [
            "http://[::1]:8080/root.crl",
            "HTTP://Crl.Contoso.Example./root.crl?x=1",
            "https://192.0.2.7/a%20b.crl",
        ] {
            assert!(check_settings(&settings("", Some(url))).is_ok(), "{url}");
        }
    }

    #[test]
    fn display_names_with_control_characters_are_refused() {
        for name in ["Evil\u{1b}]0;owned\u{7}", "two\nlines", "bell\u{7}"] {
            assert_eq!(
                check_settings(&settings(name, None)).unwrap_err().code(),
                "ca-name-invalid",
                "{name:?}"
            );
        }
        assert!(check_settings(&settings("Contoso Root CA — Ünïcode", None)).is_ok());
        assert!(check_settings(&settings(&"x".repeat(257), None)).is_err());
    }

    /// Issue 13 item 3: `ca add` refuses a CA that sign-in validation would refuse, with the
    /// validator's reason code (RFC 5280 §4.2.1.2, §4.2.1.3, §4.2.1.9).
    #[test]
    fn a_ca_breaking_the_rfc5280_profile_is_refused_at_upload() {
        use certgate_testpki::{ChainSpec, Edit, TestPki};
        let now = UnixTime(certgate_testpki::VALIDATION_TIME);
        let generate = |root_edits: Vec<Edit>, intermediate_edits: Vec<Edit>| {
            TestPki::three_level(&ChainSpec {
                root_edits,
                intermediate_edits,
                ..ChainSpec::default()
            })
            .expect("test PKI")
        };
        let refused = |der: &[u8], kind: AuthorityType| {
            let settings = CaSettings {
                authority_type: kind,
                ..settings("", None)
            };
            prepare_new_ca(der.to_vec(), settings, &[], now)
                .err()
                .map(|e| e.code())
        };
        let good = generate(Vec::new(), Vec::new());
        assert_eq!(refused(&good.root.der, AuthorityType::Root), None);
        assert_eq!(
            refused(&good.intermediate.der, AuthorityType::Intermediate),
            None
        );
        let no_ski = generate(vec![Edit::RemoveExtension("2.5.29.14")], Vec::new());
        assert_eq!(
            refused(&no_ski.root.der, AuthorityType::Root),
            Some("subject-key-id-missing")
        );
        let no_key_usage = generate(vec![Edit::RemoveExtension("2.5.29.15")], Vec::new());
        assert_eq!(
            refused(&no_key_usage.root.der, AuthorityType::Root),
            Some("anchor-key-usage-invalid")
        );
        let lax_basic = generate(vec![Edit::SetCritical("2.5.29.19", false)], Vec::new());
        assert_eq!(
            refused(&lax_basic.root.der, AuthorityType::Root),
            Some("extension-criticality-invalid")
        );
        let no_aki = generate(Vec::new(), vec![Edit::RemoveExtension("2.5.29.35")]);
        assert_eq!(
            refused(&no_aki.intermediate.der, AuthorityType::Intermediate),
            Some("authority-key-id-missing")
        );
    }

    #[test]
    fn a_delta_url_without_a_base_url_is_refused() {
        let settings = CaSettings {
            display_name: String::new(),
            authority_type: AuthorityType::Root,
            crl_url: None,
            delta_crl_url: Some("http://x/delta.crl".into()),
            exempt_from_crl_validation: false,
            send_as_issuer_hint: true,
        };
        assert_eq!(
            check_settings(&settings).unwrap_err().code(),
            "ca-delta-without-base"
        );
    }
}
