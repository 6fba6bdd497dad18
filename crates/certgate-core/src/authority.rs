//! certgate's own CA (the AD CS role): a root and an issuing CA whose keys are sealed at rest,
//! client certificates with the user's UPN and e-mail, durable revocation, and base + delta
//! CRLs published at the URLs written into every certificate.
//!
//! The cryptography is certgate-ca's; this service decides what to issue and keeps the
//! records.

use certgate_ca::{
    create_hierarchy, issue_client_certificate, issue_client_certificate_for_key, sealed_key,
    sign_crl, Authority, CaError, ClientCertificateRequest, CrlRequest, HierarchyRequest,
    KeyAlgorithm, RevokedSerial,
};
use certgate_pki::{Certificate, Crl, RequestedKey, RevocationReason, UnixTime};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::crl_cache::CrlKind;
use crate::store::{Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthorityId(pub i64);

/// Which of the two CAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthorityRole {
    Root,
    Issuing,
}

impl AuthorityRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorityRole::Root => "root",
            AuthorityRole::Issuing => "issuing",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "root" => Some(AuthorityRole::Root),
            "issuing" => Some(AuthorityRole::Issuing),
            _ => None,
        }
    }
}

/// One of certgate's CAs as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityRecord {
    pub id: AuthorityId,
    pub role: AuthorityRole,
    pub certificate_der: Vec<u8>,
    /// PKCS#8, sealed with the configured passphrase unless `key_sealed` is false.
    pub private_key: Vec<u8>,
    pub key_sealed: bool,
    pub created_at: UnixTime,
}

/// A certificate certgate issued, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedRecord {
    pub serial: Vec<u8>,
    pub authority: AuthorityId,
    pub upn: String,
    pub email: Option<String>,
    pub subject: String,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    pub certificate_der: Vec<u8>,
    pub issued_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    /// RFC 5280 reason name, e.g. `keyCompromise`.
    pub revocation_reason: Option<String>,
}

impl IssuedRecord {
    /// `valid`, `expired` or `revoked` at `now`.
    pub fn status(&self, now: UnixTime) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.not_after < now {
            "expired"
        } else {
            "valid"
        }
    }
}

/// A CRL certgate published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedCrl {
    pub authority: AuthorityId,
    pub kind: CrlKind,
    pub crl_number: i64,
    /// For a delta CRL, the number of the base it applies to.
    pub base_crl_number: Option<i64>,
    pub this_update: UnixTime,
    pub next_update: UnixTime,
    pub entry_count: i64,
    pub der: Vec<u8>,
}

/// Where certgate publishes its CA certificates and CRLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicationUrls {
    base: String,
}

impl PublicationUrls {
    /// `base` is the HTTP origin (and optional path prefix) certgate is reachable at, e.g.
    /// `http://pki.contoso.example`. CRLs go over plain HTTP on purpose: fetching a CRL over
    /// HTTPS would need revocation checking of the HTTPS certificate first (RFC 5280 §8).
    pub fn new(base: &str) -> Self {
        PublicationUrls {
            base: base.trim_end_matches('/').to_owned(),
        }
    }
    pub fn crl(&self, role: AuthorityRole, kind: CrlKind) -> String {
        let suffix = match kind {
            CrlKind::Base => "",
            CrlKind::Delta => "-delta",
        };
        format!("{}/pki/{}{suffix}.crl", self.base, role.as_str())
    }
    pub fn certificate(&self, role: AuthorityRole) -> String {
        format!("{}/pki/{}.crt", self.base, role.as_str())
    }
}

/// How the built-in CA runs.
#[derive(Clone)]
pub struct PkiSettings {
    pub urls: PublicationUrls,
    /// Seals private keys at rest. `None` only with `allow_unencrypted_keys`.
    pub key_passphrase: Option<Zeroizing<Vec<u8>>>,
    pub allow_unencrypted_keys: bool,
    /// A new base CRL is published when the current one is older than this.
    pub base_crl_period_seconds: i64,
    /// Validity of a base CRL beyond its period (overlap for clients that cache it).
    pub base_crl_overlap_seconds: i64,
    pub delta_crl_validity_seconds: i64,
}

impl PkiSettings {
    pub fn new(urls: PublicationUrls, key_passphrase: Option<Zeroizing<Vec<u8>>>) -> Self {
        PkiSettings {
            urls,
            key_passphrase,
            allow_unencrypted_keys: false,
            base_crl_period_seconds: 7 * 86_400,
            base_crl_overlap_seconds: 86_400,
            delta_crl_validity_seconds: 2 * 86_400,
        }
    }
}

/// Why a built-in CA operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certgate's CA is not initialised; run `certgate pki init` first")]
    NotInitialised,
    #[error("certgate's CA is already initialised (root \"{root}\"); nothing was changed")]
    AlreadyInitialised { root: String },
    #[error("no key passphrase is configured, so the CA's private keys cannot be {action}; set CERTGATE_CA_KEY_PASSPHRASE (or `ca_key_passphrase` in the config), or pass --allow-unencrypted-keys to keep them unencrypted (not recommended)")]
    PassphraseRequired { action: &'static str },
    #[error("no certificate with serial {serial} was issued by certgate; `certgate pki list` shows the serials")]
    UnknownSerial { serial: String },
    #[error("the certificate with serial {serial} was already revoked at {at} ({reason}); nothing was changed")]
    AlreadyRevoked {
        serial: String,
        at: String,
        reason: String,
    },
    #[error("\"{0}\" is not a revocation reason; use one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise")]
    UnknownReason(String),
    #[error("a stored CA record is damaged: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PkiError {
    pub fn code(&self) -> &'static str {
        match self {
            PkiError::NotInitialised => "pki-not-initialised",
            PkiError::AlreadyInitialised { .. } => "pki-already-initialised",
            PkiError::PassphraseRequired { .. } => "pki-passphrase-required",
            PkiError::UnknownSerial { .. } => "pki-unknown-serial",
            PkiError::AlreadyRevoked { .. } => "pki-already-revoked",
            PkiError::UnknownReason(_) => "pki-unknown-reason",
            PkiError::Corrupt(_) => "pki-corrupt",
            PkiError::Ca(error) => error.code(),
            PkiError::Store(error) => error.code(),
        }
    }
}

/// What `pki init` asks for.
#[derive(Clone, Debug)]
pub struct InitRequest {
    pub organization: String,
    pub key_algorithm: KeyAlgorithm,
    pub root_validity_days: u32,
    pub issuing_validity_days: u32,
}

/// What `pki issue` asks for.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    pub upn: String,
    pub email: Option<String>,
    pub common_name: Option<String>,
    pub validity_days: u32,
    pub policy_oids: Vec<String>,
    pub key_algorithm: KeyAlgorithm,
}

/// A newly issued certificate with its key and the chain above it.
pub struct Issued {
    pub record: IssuedRecord,
    pub private_key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// Issuing CA first, root last.
    pub chain_der: Vec<Vec<u8>>,
}

/// A certificate issued for a requester's own key, with the chain above it.
pub struct IssuedForKey {
    pub record: IssuedRecord,
    /// Issuing CA first, root last.
    pub chain_der: Vec<Vec<u8>>,
}

/// A TLS server certificate with its key and the chain above it.
pub struct ServerIssued {
    pub certificate_der: Vec<u8>,
    pub private_key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// Issuing CA first, root last.
    pub chain_der: Vec<Vec<u8>>,
    pub not_after: UnixTime,
}

/// Whether `publish_crls` must start a new base CRL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseCrl {
    /// Only when there is none yet or the current one is older than the base period.
    WhenDue,
    Always,
}

/// The built-in CA service.
pub struct BuiltInCa<'a, S, C> {
    store: &'a S,
    clock: &'a C,
    settings: &'a PkiSettings,
    actor: &'a str,
}

fn to_offset(at: UnixTime) -> OffsetDateTime {
    // Times here come from the clock or from certificates this CA issued, all within the
    // years OffsetDateTime supports.
    OffsetDateTime::from_unix_timestamp(at.0).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl<'a, S: Store, C: Clock> BuiltInCa<'a, S, C> {
    pub fn new(store: &'a S, clock: &'a C, settings: &'a PkiSettings, actor: &'a str) -> Self {
        BuiltInCa {
            store,
            clock,
            settings,
            actor,
        }
    }

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

    fn record_for(
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

    async fn authority_record(&self, role: AuthorityRole) -> Result<AuthorityRecord, PkiError> {
        self.store
            .authorities()
            .await?
            .into_iter()
            .find(|a| a.role == role)
            .ok_or(PkiError::NotInitialised)
    }

    fn open(&self, record: &AuthorityRecord) -> Result<Authority, PkiError> {
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

    /// Issues a client certificate to `request.upn` and records it before returning it.
    pub async fn issue(&self, request: &IssueRequest) -> Result<Issued, PkiError> {
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

    /// The issuing CA's and root's records, and the issuing CA opened to sign.
    async fn issuing_authority(
        &self,
    ) -> Result<(AuthorityRecord, AuthorityRecord, Authority), PkiError> {
        let issuing = self.authority_record(AuthorityRole::Issuing).await?;
        let root = self.authority_record(AuthorityRole::Root).await?;
        let authority = self.open(&issuing)?;
        Ok((issuing, root, authority))
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
        };
        self.store.insert_issued(&record).await?;
        self.audit(
            "pki.issue",
            crate::hex(&record.serial),
            "ok",
            format!(
                "issued to {} ({}){detail_suffix}",
                record.upn, record.subject
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

    /// Revokes a certificate certgate issued. Durable when it returns; it reaches relying
    /// parties with the next CRL publication (`publish_crls`).
    pub async fn revoke(&self, serial: &[u8], reason: &str) -> Result<IssuedRecord, PkiError> {
        let reason = RevocationReason::parse(reason)
            .ok_or_else(|| PkiError::UnknownReason(reason.to_owned()))?;
        let serial_hex = crate::hex(serial);
        let result = self
            .store
            .revoke_issued(serial, self.clock.now(), reason.as_str())
            .await;
        let record = match result {
            Ok(record) => record,
            Err(StoreError::NotFound { .. }) => {
                return Err(PkiError::UnknownSerial { serial: serial_hex })
            }
            Err(StoreError::Conflict { .. }) => {
                let existing = self.store.find_issued(serial).await?;
                let (at, why) = existing
                    .map(|r| {
                        (
                            r.revoked_at.map(crate::clock::rfc3339).unwrap_or_default(),
                            r.revocation_reason.unwrap_or_default(),
                        )
                    })
                    .unwrap_or_default();
                return Err(PkiError::AlreadyRevoked {
                    serial: serial_hex,
                    at,
                    reason: why,
                });
            }
            Err(other) => return Err(other.into()),
        };
        self.audit(
            "pki.revoke",
            serial_hex,
            "ok",
            format!("{} revoked ({})", record.upn, reason.as_str()),
        )
        .await?;
        Ok(record)
    }

    pub async fn issued(&self) -> Result<Vec<IssuedRecord>, PkiError> {
        Ok(self.store.issued_certificates().await?)
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

    async fn audit(
        &self,
        action: &str,
        target: impl Into<String>,
        outcome: &str,
        detail: impl Into<String>,
    ) -> Result<(), StoreError> {
        self.store
            .append_audit(&AuditEvent::new(
                self.clock.now(),
                self.actor,
                action,
                target,
                outcome,
                detail,
            ))
            .await
    }
}

fn subject_of(der: &[u8]) -> String {
    Certificate::from_der(der)
        .map(|c| c.subject().to_windows())
        .unwrap_or_else(|reason| format!("(unreadable certificate: {})", reason.code()))
}
