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
use certgate_pki::{Certificate, Crl, ReasonCode, RequestedKey, RevocationReason, UnixTime};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::crl_cache::CrlKind;
use crate::signin::ValidCertificate;
use crate::store::{Store, StoreError};
use crate::trusted_ca::CaId;

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
    /// The certificate that authenticated the request for this one (EST re-enrollment,
    /// `/my/device`); `None` for a certificate issued with an enrollment code or by an
    /// administrator. Revoking the parent revokes this certificate too.
    pub parent: Option<ParentCertificate>,
}

/// The certificate a signed-in requester presented to get a new one: whoever held it (and its
/// key) got the new certificate, so the new one is worth no more than it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentCertificate {
    /// Serial number content octets, as in the certificate.
    pub serial: Vec<u8>,
    /// The parent's issuer DN (Windows form), for people reading the record.
    pub issuer: String,
    /// The certgate CA that issued the parent, when certgate did (its certificate is on
    /// record byte for byte); `None` for a certificate of another trusted CA, which only
    /// `/my/device` accepts. Only parents certgate issued can be revoked here, so only they
    /// take descendants with them.
    pub authority: Option<AuthorityId>,
    /// For a parent of another trusted CA: that CA's record (the issuing CA on the parent's
    /// validated path). When that CA's CRL lists the parent, the CRL refresh revokes the
    /// children (`Store::put_cached_crl`).
    pub trusted_ca: Option<CaId>,
    /// For a parent of another trusted CA: its notAfter, the latest its children may end.
    pub not_after: Option<UnixTime>,
}

/// What a certificate is derived for: the rule of [`BuiltInCa::derivation_parent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DerivedFor {
    /// `/my/device`: another trusted CA's certificate may derive when
    /// [`PkiSettings::derive_from_trusted_cas`] allows it.
    Device,
    /// EST `simplereenroll`: only certgate's own certificates.
    Renewal,
}

impl ParentCertificate {
    /// Whether certgate's CA issued the parent.
    pub fn is_issued_here(&self) -> bool {
        self.authority.is_some()
    }
}

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
    /// How many unexpired, unrevoked certificates obtained with a certificate (the
    /// self-service device page, EST re-enrollment) one user may hold at once: without a
    /// bound, one certificate could mint any number of others. An administrator's issuance
    /// does not count and is not limited.
    pub max_derived_certificates_per_user: u32,
    /// Whether a certificate of another trusted CA may obtain a certgate certificate on
    /// `/my/device` (default false). Then the child ends no later than its parent, and the
    /// parent's CA listing it on a CRL revokes the child at that CRL refresh. EST
    /// re-enrollment always needs a certificate certgate issued.
    pub derive_from_trusted_cas: bool,
}

/// The default of [`PkiSettings::max_derived_certificates_per_user`]: a phone, a tablet and
/// a spare, each re-enrolled once or twice before the old certificate expires.
pub const DEFAULT_MAX_DERIVED_CERTIFICATES_PER_USER: u32 = 10;

impl PkiSettings {
    pub fn new(urls: PublicationUrls, key_passphrase: Option<Zeroizing<Vec<u8>>>) -> Self {
        PkiSettings {
            urls,
            key_passphrase,
            allow_unencrypted_keys: false,
            base_crl_period_seconds: 7 * 86_400,
            base_crl_overlap_seconds: 86_400,
            delta_crl_validity_seconds: 2 * 86_400,
            max_derived_certificates_per_user: DEFAULT_MAX_DERIVED_CERTIFICATES_PER_USER,
            derive_from_trusted_cas: false,
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
    #[error("the certificate with serial {serial} that authenticated this request has been revoked at certgate's CA (the CRL relying parties see may not say so yet); no certificate was issued")]
    ParentRevoked { serial: String },
    #[error("{upn} already holds {limit} unexpired certificates obtained with a certificate (devices set up with /my/device, EST re-enrollments), the most allowed; revoke those no longer in use (`certgate pki list`, `certgate pki revoke`) or ask your administrator")]
    DerivedLimit { upn: String, limit: u32 },
    #[error("the presented certificate could not be read: {0}")]
    ParentMalformed(String),
    #[error("the certificate you signed in with was issued by \"{issuer}\", not by certgate's CA, and only certgate's own certificates can obtain new ones here: another CA could revoke yours without certgate knowing. Use a certificate certgate issued, or ask your administrator for one")]
    ParentNotIssuedHere { issuer: String },
    #[error("the CA that issued the certificate you signed in with (\"{issuer}\") is not itself a trusted CA on record, so certgate could not follow its revocations; ask your administrator to add it (`certgate ca add`)")]
    ParentCaNotTrusted { issuer: String },
    #[error("the trusted CA \"{issuer}\" (CA {ca}) that issued the certificate you signed in with has no CRL URL, so certgate could not learn when it revokes your certificate; ask your administrator to set one (`certgate ca set {ca} --crl-url URL`)")]
    ParentCaWithoutCrl { ca: CaId, issuer: String },
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
    /// Every code [`PkiError::code`] answers with of its own (CA and store failures are their
    /// types' codes).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "pki-not-initialised",
            "certgate's own CA (root and issuing CA) has not been created yet, so nothing can be issued, revoked or published.",
            "Run `certgate pki init` once, with CERTGATE_CA_KEY_PASSPHRASE set.",
        ),
        ReasonCode::new(
            "pki-already-initialised",
            "certgate's CA already exists, and initialising again would replace its keys; nothing was changed.",
            "Keep using the existing CA (`certgate pki list`, `certgate pki crls`).",
        ),
        ReasonCode::new(
            "pki-passphrase-required",
            "No key passphrase is configured, so the CA's private keys cannot be sealed (at `pki init`) or unsealed (to sign).",
            "Set CERTGATE_CA_KEY_PASSPHRASE (or `ca_key_passphrase` in certgate.toml) to the passphrase the CA keys are sealed with; `certgate pki init --allow-unencrypted-keys` keeps new keys unencrypted (not recommended).",
        ),
        ReasonCode::new(
            "pki-unknown-serial",
            "No certificate with that serial number was issued by certgate's CA.",
            "Check the serial (hex, `:` allowed) against `certgate pki list`.",
        ),
        ReasonCode::new(
            "pki-already-revoked",
            "The certificate was already revoked, and so was every certificate derived from it; nothing was changed.",
            "Nothing to do: the first revocation's time and reason stand (`certgate pki list` shows them).",
        ),
        ReasonCode::new(
            "pki-parent-revoked",
            "The certificate that authenticated the request (the one signed in with, for /my/device or EST re-enrollment) is revoked at certgate's CA, though the published CRL may not say so yet; no certificate was issued.",
            "Sign in with a certificate that is not revoked, or ask your administrator for a new one.",
        ),
        ReasonCode::new(
            "pki-derived-certificate-limit",
            "The user already holds as many unexpired certificates obtained with a certificate (/my/device, EST re-enrollment) as allowed (10 by default); no certificate was issued.",
            "Revoke the certificates no longer in use (`certgate pki list`, `certgate pki revoke --serial SERIAL`), or ask your administrator to raise `max_derived_certificates_per_user`.",
        ),
        ReasonCode::new(
            "pki-parent-malformed",
            "The certificate presented to obtain a new one could not be read.",
            "Sign in again with a valid certificate; if it persists, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "pki-parent-not-certgate",
            "The certificate signed in with was issued by another CA, and only certificates certgate issued may obtain new ones here: another CA could revoke it without certgate knowing.",
            "Use a certificate certgate issued, or ask your administrator for one. Administrators can let trusted CAs' certificates obtain device certificates on /my/device with `derive_from_trusted_cas = true`.",
        ),
        ReasonCode::new(
            "pki-parent-ca-not-trusted",
            "The CA that issued the certificate signed in with is not itself a trusted CA on record, so certgate could not follow its revocations; no certificate was issued.",
            "Ask your administrator to add that CA (`certgate ca add FILE`).",
        ),
        ReasonCode::new(
            "pki-parent-ca-without-crl",
            "The trusted CA that issued the certificate signed in with has no CRL URL, so certgate could not learn when it revokes that certificate; no certificate was issued.",
            "Ask your administrator to set the CA's CRL URL (`certgate ca set ID --crl-url URL`).",
        ),
        ReasonCode::new(
            "pki-unknown-reason",
            "The revocation reason is not one of the reasons RFC 5280 defines.",
            "Use one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise (`certgate pki revoke --reason`).",
        ),
        ReasonCode::new(
            "pki-corrupt",
            "A stored CA record or a CRL certgate published is damaged: it does not parse, or holds an impossible CRL number.",
            "Administrators: restore the database from a backup; the message names the damaged record.",
        ),
    ];

    pub fn code(&self) -> &'static str {
        match self {
            PkiError::NotInitialised => "pki-not-initialised",
            PkiError::AlreadyInitialised { .. } => "pki-already-initialised",
            PkiError::PassphraseRequired { .. } => "pki-passphrase-required",
            PkiError::UnknownSerial { .. } => "pki-unknown-serial",
            PkiError::AlreadyRevoked { .. } => "pki-already-revoked",
            PkiError::ParentRevoked { .. } => "pki-parent-revoked",
            PkiError::DerivedLimit { .. } => "pki-derived-certificate-limit",
            PkiError::ParentMalformed(_) => "pki-parent-malformed",
            PkiError::ParentNotIssuedHere { .. } => "pki-parent-not-certgate",
            PkiError::ParentCaNotTrusted { .. } => "pki-parent-ca-not-trusted",
            PkiError::ParentCaWithoutCrl { .. } => "pki-parent-ca-without-crl",
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
    /// The certificate that authenticated the request (see [`IssuedRecord::parent`]); `None`
    /// for an administrator's issuance or an enrollment code.
    pub parent: Option<ParentCertificate>,
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

    pub async fn issued(&self) -> Result<Vec<IssuedRecord>, PkiError> {
        Ok(self.store.issued_certificates().await?)
    }

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
