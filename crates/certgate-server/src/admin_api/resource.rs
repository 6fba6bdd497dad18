//! The admin API's JSON resources, with Microsoft Graph's names where Graph has the thing
//! (`certificateAuthorities[]`, `user`, `certificateUserBindings`, `x509CertificateRule`,
//! `signIn`, `directoryAudit`). One definition serves the server (which writes them), the
//! CLI's `--json` output and the CLI's remote mode (which reads them back and prints them as
//! the local commands do), so the three cannot drift apart.
//!
//! Times are RFC 3339 text in UTC. docs/openapi.json describes every resource; the API tests
//! check responses against it.

use base64::Engine as _;
use certgate_core::audit::AuditEvent;
use certgate_core::binding::{BindingPolicy, BindingRule};
use certgate_core::clock::rfc3339;
use certgate_core::directory;
use certgate_core::federation::{self, FederationError};
use certgate_core::signin::SignInRecord;
use certgate_core::strength::{self, IssuerSelector, Precedence};
use certgate_core::trusted_ca::{AuthorityType, CaRecord};
use serde::{Deserialize, Deserializer, Serialize};

use crate::crl_refresh::{CrlStatusRow, RefreshOutcome, RefreshReport};

mod own_ca;
pub use own_ca::{CertificateRevocation, IssuedCertificate, PublishedCrl, RevocationRequest};

/// A list: Graph's `{"value": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection<T> {
    /// The items, in the order the API lists them.
    pub value: Vec<T>,
}

impl<T> Collection<T> {
    /// These items in Graph's collection shape.
    pub fn of(value: Vec<T>) -> Self {
        Collection { value }
    }
}

/// Graph's error shape: `{"error": {"code": "...", "message": "..."}}`, with certgate's stable
/// reason code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The code and the message.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable reason code, e.g. `ca-duplicate`, `user-not-found`, `admin-token-invalid`.
    pub code: String,
    /// What happened and what to do, for people.
    pub message: String,
}

/// A field of a PATCH body that can be set, cleared (`null`) or left alone (absent).
pub type Patch<T> = Option<Option<T>>;

/// Deserializes a present field (even `null`) as `Some`, so that absent stays `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

// ---- Trusted CAs ------------------------------------------------------------------------------

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

// ---- Users ------------------------------------------------------------------------------------

/// Graph's `authorizationInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationInfo {
    /// Up to 10 `X509:<...>` values, unique across users (the `certificateUserIds` binding
    /// target).
    #[serde(default)]
    pub certificate_user_ids: Vec<String>,
}

/// Graph's `user`, plus certgate's groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object ID (UUID); never changes.
    pub id: String,
    /// Unique, case-insensitively.
    pub user_principal_name: String,
    /// The federation NameID by default (at most 64 characters, unique).
    pub on_premises_immutable_id: String,
    /// The name shown to people; the UPN when none was given.
    pub display_name: String,
    /// One e-mail address, if set.
    pub mail: Option<String>,
    /// `SMTP:primary@domain` (at most one), `smtp:alias@domain`, ...
    pub proxy_addresses: Vec<String>,
    /// The certificateUserIds a certificate can be bound to.
    pub authorization_info: AuthorizationInfo,
    /// A disabled user cannot sign in (`user-disabled`).
    pub account_enabled: bool,
    /// StsRefreshTokensValidFrom: refresh tokens and sessions from before are refused.
    pub sign_in_sessions_valid_from_date_time: Option<String>,
    /// Group names; members of `certgate-admins` may use the admin API with a client
    /// certificate.
    pub groups: Vec<String>,
    /// When the user was added.
    pub created_date_time: String,
}

impl From<&directory::User> for User {
    fn from(user: &directory::User) -> Self {
        User {
            id: user.id.to_string(),
            user_principal_name: user.upn.to_string(),
            on_premises_immutable_id: user.immutable_id.clone(),
            display_name: user.display_name.clone(),
            mail: user.mail.clone(),
            proxy_addresses: user.proxy_addresses.clone(),
            authorization_info: AuthorizationInfo {
                certificate_user_ids: user.certificate_user_ids.clone(),
            },
            account_enabled: user.enabled,
            sign_in_sessions_valid_from_date_time: user.sts_refresh_tokens_valid_from.map(rfc3339),
            groups: user.groups.clone(),
            created_date_time: rfc3339(user.created_at),
        }
    }
}

/// `POST /users`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUser {
    /// Unique, case-insensitively.
    pub user_principal_name: String,
    /// Default: the UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// One e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// Default: the object ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_immutable_id: Option<String>,
    /// `SMTP:primary@domain`, `smtp:alias@domain`, ...; default none.
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
    /// certificateUserIds; default none.
    #[serde(default)]
    pub authorization_info: AuthorizationInfo,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// Group names; default none.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl From<NewUser> for directory::UserDraft {
    fn from(new: NewUser) -> Self {
        directory::UserDraft {
            upn: new.user_principal_name,
            immutable_id: new.on_premises_immutable_id,
            display_name: new.display_name,
            mail: new.mail,
            proxy_addresses: new.proxy_addresses,
            certificate_user_ids: new.authorization_info.certificate_user_ids,
            enabled: new.account_enabled.unwrap_or(true),
            groups: new.groups,
        }
    }
}

impl From<directory::UserDraft> for NewUser {
    fn from(draft: directory::UserDraft) -> Self {
        NewUser {
            user_principal_name: draft.upn,
            display_name: draft.display_name,
            mail: draft.mail,
            on_premises_immutable_id: draft.immutable_id,
            proxy_addresses: draft.proxy_addresses,
            authorization_info: AuthorizationInfo {
                certificate_user_ids: draft.certificate_user_ids,
            },
            account_enabled: Some(draft.enabled),
            groups: draft.groups,
        }
    }
}

/// `PATCH /users/{idOrUpn}`: absent fields stay; lists are replaced whole (as in Graph);
/// `"mail": null` removes the mail address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPatch {
    /// A new UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// A new display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A new mail address; `null` removes it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub mail: Patch<String>,
    /// A new immutable ID (the federation NameID by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_immutable_id: Option<String>,
    /// Replaces every proxy address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_addresses: Option<Vec<String>>,
    /// Replaces the certificateUserIds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_info: Option<AuthorizationInfo>,
    /// Enables or disables the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// Replaces the groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

impl UserPatch {
    /// The user's attributes after the patch.
    pub fn apply(self, mut draft: directory::UserDraft) -> directory::UserDraft {
        if let Some(upn) = self.user_principal_name {
            draft.upn = upn;
        }
        if let Some(name) = self.display_name {
            draft.display_name = Some(name);
        }
        if let Some(mail) = self.mail {
            draft.mail = mail;
        }
        if let Some(id) = self.on_premises_immutable_id {
            draft.immutable_id = Some(id);
        }
        if let Some(values) = self.proxy_addresses {
            draft.proxy_addresses = values;
        }
        if let Some(info) = self.authorization_info {
            draft.certificate_user_ids = info.certificate_user_ids;
        }
        if let Some(enabled) = self.account_enabled {
            draft.enabled = enabled;
        }
        if let Some(groups) = self.groups {
            draft.groups = groups;
        }
        draft
    }
}

/// `POST /users/{idOrUpn}/stsRefreshTokensValidFrom`: Set-MsolUser's rule, a date in the
/// future stores the current time; a date not in the future is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StsRefreshTokensValidFrom {
    /// RFC 3339, or `YYYY-MM-DD` (midnight UTC).
    pub date: String,
}

/// `POST /users/{idOrUpn}/accessPasses`: a Temporary Access Pass to issue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAccessPass {
    /// 10 to 480; default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_in_minutes: Option<i64>,
}

/// The answer to `POST /users/{idOrUpn}/accessPasses`: the only time the pass is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPass {
    /// The pass, to hand to the user; certgate keeps only its hash.
    pub temporary_access_pass: String,
    /// When it was issued.
    pub created_date_time: String,
    /// When it stops working.
    pub expires_date_time: String,
    /// Its lifetime, as asked for (default 60).
    pub lifetime_in_minutes: i64,
    /// Always `true`: one use unlocks the user's first authenticator enrollment.
    pub is_usable_once: bool,
}

/// The answer to `POST /users/{idOrUpn}/resetSecondFactor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecondFactorReset {
    /// An authenticator app (confirmed or pending) was removed.
    pub authenticator_removed: bool,
    /// A Temporary Access Pass not yet used was removed.
    pub access_pass_removed: bool,
}

/// `POST /users/{idOrUpn}/deviceProfiles`: a new certificate for the user, packed for a
/// device. The answer is the file itself, not JSON (except the Android profile, which is).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewDeviceProfile {
    /// `ios`, `android` or `pkcs12`.
    pub platform: String,
    /// The Exchange ActiveSync host name (required for ios and android).
    #[serde(default)]
    pub eas_host: Option<String>,
    /// Protects the PKCS#12 in the file (at least 8 characters).
    pub pkcs12_password: String,
    /// Write the password into the profile next to the PKCS#12 (default false: the device
    /// asks for it).
    #[serde(default)]
    pub embed_password: bool,
    /// Sign the iOS profile with certgate's issuing CA (default false).
    #[serde(default)]
    pub sign: bool,
}

// ---- Username bindings ------------------------------------------------------------------------

/// Graph's `x509CertificateUserBinding`, with its priority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateUserBinding {
    /// 1 is tried first.
    pub priority: u32,
    /// The certificate field: `PrincipalName`, `RFC822Name`, `Subject`, `IssuerAndSubject`,
    /// `IssuerAndSerialNumber`, `SubjectKeyIdentifier` or `SHA1PublicKey`.
    pub x509_certificate_field: String,
    /// The user attribute it must equal: `userPrincipalName`, `proxyAddresses` or
    /// `certificateUserIds`.
    pub user_property: String,
    /// `low` or `high`, fixed by the field.
    pub trust_affinity_level: String,
}

impl From<&BindingRule> for CertificateUserBinding {
    fn from(rule: &BindingRule) -> Self {
        CertificateUserBinding {
            priority: rule.priority,
            x509_certificate_field: rule.certificate_field.as_str().to_owned(),
            user_property: rule.user_attribute.as_str().to_owned(),
            trust_affinity_level: rule.affinity().as_str().to_owned(),
        }
    }
}

/// The rules in force (the defaults while none is configured) and the required affinity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateUserBindings {
    /// The rules, in the order they are tried.
    pub certificate_user_bindings: Vec<CertificateUserBinding>,
    /// No rule is configured: these are certgate's defaults.
    pub uses_default_bindings: bool,
    /// `low` or `high`; `high` skips the low-affinity rules.
    pub x509_certificate_default_required_affinity_level: String,
}

impl From<&BindingPolicy> for CertificateUserBindings {
    fn from(policy: &BindingPolicy) -> Self {
        CertificateUserBindings {
            certificate_user_bindings: policy.effective_rules().iter().map(Into::into).collect(),
            uses_default_bindings: policy.uses_default_rules(),
            x509_certificate_default_required_affinity_level: policy
                .default_required_affinity
                .as_str()
                .to_owned(),
        }
    }
}

/// `POST /certificateUserBindings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewCertificateUserBinding {
    /// The certificate field, as in [`CertificateUserBinding`].
    pub x509_certificate_field: String,
    /// The user attribute, as in [`CertificateUserBinding`].
    pub user_property: String,
    /// Default: after the last configured rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
}

/// `PATCH /certificateUserBindings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateUserBindingsPatch {
    /// `low` or `high`.
    pub x509_certificate_default_required_affinity_level: String,
}

// ---- Authentication strength ------------------------------------------------------------------

/// Graph's `x509CertificateRule`, with certgate's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationModeRule {
    /// certgate's id of the rule, as in `/authenticationModeRules/{id}`.
    pub id: i64,
    /// `issuerSubjectAndPolicyOID`, `policyOID` or `issuerSubject`: the precedence, most
    /// specific first.
    pub x509_certificate_rule_type: String,
    /// Graph's single identifier: the policy OID or the issuer; `None` for a rule on both.
    pub identifier: Option<String>,
    /// Issuer DN.
    pub issuer_subject_identifier: Option<String>,
    /// Issuer subject key identifier, hex.
    pub issuer_subject_key_identifier: Option<String>,
    /// Certificate policy OID, dotted.
    pub policy_oid_identifier: Option<String>,
    /// `x509CertificateSingleFactor` or `x509CertificateMultiFactor`.
    pub x509_certificate_authentication_mode: String,
    /// When the rule was added.
    pub created_date_time: String,
}

impl From<&strength::StrengthRule> for AuthenticationModeRule {
    fn from(rule: &strength::StrengthRule) -> Self {
        let spec = &rule.spec;
        let (subject, ski) = match &spec.issuer {
            Some(IssuerSelector::Subject(dn)) => (Some(dn.clone()), None),
            Some(IssuerSelector::SubjectKeyIdentifier(ski)) => (None, Some(ski.clone())),
            None => (None, None),
        };
        let precedence = spec.precedence();
        let identifier = match precedence {
            Precedence::PolicyOid => spec.policy_oid.clone(),
            Precedence::Issuer => subject.clone().or_else(|| ski.clone()),
            Precedence::IssuerAndPolicyOid => None,
        };
        AuthenticationModeRule {
            id: rule.id.0,
            x509_certificate_rule_type: precedence.graph_name().to_owned(),
            identifier,
            issuer_subject_identifier: subject,
            issuer_subject_key_identifier: ski,
            policy_oid_identifier: spec.policy_oid.clone(),
            x509_certificate_authentication_mode: spec.strength.graph_name().to_owned(),
            created_date_time: rfc3339(rule.created_at),
        }
    }
}

/// Graph's `authenticationModeConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationModeRules {
    /// Always `x509CertificateSingleFactor`: no matching rule means single-factor.
    pub x509_certificate_authentication_default_mode: String,
    /// The rules; no matching rule, or rules that disagree, mean single-factor.
    pub value: Vec<AuthenticationModeRule>,
}

/// `POST /authenticationModeRules`: an issuer (by DN or by key identifier), a policy OID, or
/// both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAuthenticationModeRule {
    /// Issuer DN, as `certificateAuthorities[].issuer` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_subject_identifier: Option<String>,
    /// Issuer subject key identifier, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_subject_key_identifier: Option<String>,
    /// Certificate policy OID, dotted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_oid_identifier: Option<String>,
    /// `x509CertificateSingleFactor`, `x509CertificateMultiFactor` (or `single-factor`,
    /// `multi-factor`).
    pub x509_certificate_authentication_mode: String,
}

// ---- Applications (OpenID Connect clients) ----------------------------------------------------

/// A registered OpenID Connect client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// The `client_id`.
    pub app_id: String,
    /// The name the sign-in and error pages show for the client.
    pub display_name: String,
    /// `confidential` (has a secret) or `public` (PKCE S256 required).
    pub client_type: String,
    /// Where authorization answers may go, compared as exact strings.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to.
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether the "continue as <user>" page is shown: `show` or `skip`.
    pub consent_prompt: String,
    /// The scopes the client may ask for.
    pub allowed_scopes: Vec<String>,
    /// How long an ID token is valid.
    pub id_token_lifetime_seconds: u64,
    /// How long an access token is valid.
    pub access_token_lifetime_seconds: u64,
    /// Counted from the sign-in; rotation does not extend it.
    pub refresh_token_lifetime_seconds: u64,
    /// When the client was registered.
    pub created_date_time: String,
}

impl From<&certgate_oidc::Client> for Application {
    fn from(client: &certgate_oidc::Client) -> Self {
        Application {
            app_id: client.client_id.to_string(),
            display_name: client.display_name.clone(),
            client_type: match client.kind() {
                certgate_oidc::ClientKind::Confidential => "confidential",
                certgate_oidc::ClientKind::Public => "public",
            }
            .to_owned(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            consent_prompt: match client.consent {
                certgate_oidc::ConsentPrompt::Show => "show",
                certgate_oidc::ConsentPrompt::Skip => "skip",
            }
            .to_owned(),
            allowed_scopes: client.allowed_scopes.iter().map(str::to_owned).collect(),
            id_token_lifetime_seconds: client.lifetimes.id_token.as_secs(),
            access_token_lifetime_seconds: client.lifetimes.access_token.as_secs(),
            refresh_token_lifetime_seconds: client.lifetimes.refresh_token.as_secs(),
            created_date_time: rfc3339(client.created_at),
        }
    }
}

/// `POST /applications`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApplication {
    /// Default: a random UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// The name the sign-in and error pages show for the client.
    pub display_name: String,
    /// Default `confidential`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    /// https, or http on a loopback host; private-use schemes for public clients.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to; default none.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default `show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_prompt: Option<String>,
    /// Default `openid profile email offline_access`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_scopes: Option<Vec<String>>,
    /// Default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_lifetime_seconds: Option<u64>,
    /// Default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime_seconds: Option<u64>,
    /// Default 604800 (7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifetime_seconds: Option<u64>,
}

/// The answer to `POST /applications`: the client secret of a confidential client, shown
/// this once and never again (certgate keeps only its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApplication {
    /// The client as registered.
    #[serde(flatten)]
    pub application: Application,
    /// The secret of a confidential client; `None` for a public client.
    pub client_secret: Option<String>,
}

// ---- Logs -------------------------------------------------------------------------------------

/// One sign-in attempt (Graph's `signIn` where it has the field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    /// When the attempt was made.
    pub created_date_time: String,
    /// Shown to the person on the error page and in every log line of the attempt.
    pub correlation_id: String,
    /// The client's IP address.
    pub ip_address: String,
    /// What was signed in to: `certauth`, an OpenID Connect client, `admin-api`, ...
    pub app_display_name: String,
    /// The user the certificate mapped to, when it did.
    pub user_principal_name: Option<String>,
    /// `success` or `failure`.
    pub result: String,
    /// `ok` or the stable reason code.
    pub reason_code: String,
    /// The full reason, for administrators.
    pub detail: String,
    /// The end-entity certificate's subject DN (Windows form), when it parses.
    pub certificate_subject: Option<String>,
    /// Its issuer DN (Windows form).
    pub certificate_issuer: Option<String>,
    /// Its serial number, hex.
    pub certificate_serial_number: Option<String>,
    /// Its SHA-256 thumbprint, hex.
    pub certificate_thumbprint: Option<String>,
    /// The username-binding rule that matched, e.g. `PrincipalName->userPrincipalName`.
    pub binding_rule: Option<String>,
    /// `single-factor` or `multi-factor`.
    pub authentication_strength: Option<String>,
}

impl From<&SignInRecord> for SignIn {
    fn from(r: &SignInRecord) -> Self {
        SignIn {
            created_date_time: rfc3339(r.at),
            correlation_id: r.correlation_id.clone(),
            ip_address: r.client_address.clone(),
            app_display_name: r.application.clone(),
            user_principal_name: r.user.clone(),
            result: r.result.as_str().to_owned(),
            reason_code: r.reason_code.clone(),
            detail: r.detail.clone(),
            certificate_subject: r.certificate_subject.clone(),
            certificate_issuer: r.certificate_issuer.clone(),
            certificate_serial_number: r.certificate_serial.clone(),
            certificate_thumbprint: r.certificate_thumbprint.clone(),
            binding_rule: r.binding_rule.clone(),
            authentication_strength: r.strength.clone(),
        }
    }
}

/// One audit event (Graph's `directoryAudit` names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAudit {
    /// When it happened.
    pub activity_date_time: String,
    /// `cli:<user>`, `api:<token name>`, `api:<admin UPN>`, `server`, `scheduler`, ...
    pub initiated_by: String,
    /// The stable action name: `ca.add`, `user.set`, ...
    pub activity_display_name: String,
    /// What it was done to: a CA id, a serial, a UPN, ...
    pub target: String,
    /// `success` or `failure`.
    pub result: String,
    /// `ok` or the reason code.
    pub result_reason: String,
    /// The full message, for people.
    pub detail: String,
}

impl From<&AuditEvent> for DirectoryAudit {
    fn from(e: &AuditEvent) -> Self {
        DirectoryAudit {
            activity_date_time: rfc3339(e.at),
            initiated_by: e.actor.clone(),
            activity_display_name: e.action.clone(),
            target: e.target.clone(),
            result: if e.outcome == "ok" {
                "success"
            } else {
                "failure"
            }
            .to_owned(),
            result_reason: e.outcome.clone(),
            detail: e.detail.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_fields_tell_absent_from_null() {
        let patch: CertificateAuthorityPatch =
            serde_json::from_str(r#"{"certificateRevocationListUrl": null}"#).expect("patch");
        assert_eq!(patch.certificate_revocation_list_url, Some(None));
        assert_eq!(patch.delta_certificate_revocation_list_url, None);
        let text = serde_json::to_string(&patch).expect("serialize");
        assert_eq!(text, r#"{"certificateRevocationListUrl":null}"#);
    }

    #[test]
    fn unknown_fields_are_refused_rather_than_ignored() {
        let typo = serde_json::from_str::<NewUser>(
            r#"{"userPrincipalName": "a@b.example", "acountEnabled": false}"#,
        );
        assert!(typo.is_err());
    }
}

// ---- Federation (SAML 2.0 / WS-Federation) ----------------------------------------------------

/// One claim rule of a relying party: the claim type and where its values come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelyingPartyClaim {
    /// A URI, or an attribute name such as Microsoft 365's `IDPEmail` (SAML 2.0 only).
    pub claim_type: String,
    /// `user.upn`, `certificate.serialNumber`, `auth.method`, `const:VALUE`, ...
    pub source: String,
}

impl From<&federation::ClaimRule> for RelyingPartyClaim {
    fn from(rule: &federation::ClaimRule) -> Self {
        RelyingPartyClaim {
            claim_type: rule.claim.clone(),
            source: rule.source.as_string(),
        }
    }
}

impl RelyingPartyClaim {
    fn rule(&self) -> Result<federation::ClaimRule, FederationError> {
        Ok(federation::ClaimRule::new(
            &self.claim_type,
            federation::ClaimSource::parse(&self.source)?,
        ))
    }
}

/// A relying party of the federation service (AD FS's relying party trust).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelyingParty {
    /// `rp_` and 32 hex digits.
    pub id: String,
    /// Unique, case-insensitively; for people and the CLI.
    pub display_name: String,
    /// `saml` or `wsfed`.
    pub protocol: String,
    /// The SAML entityID or WS-Fed realm: the Audience of its tokens.
    pub identifier: String,
    /// SAML AssertionConsumerService URLs or WS-Fed reply addresses; the first is the default.
    pub reply_urls: Vec<String>,
    /// SAML SingleLogoutService (HTTP-Redirect), or where WS-Fed `wsignout1.0` returns when no
    /// registered `wreply` is given.
    pub logout_url: Option<String>,
    /// `persistent`, `email` or `unspecified`.
    pub name_id_format: String,
    /// Where the NameID's value comes from, e.g. `user.immutableId`.
    pub name_id_source: String,
    /// The claims issued besides the NameID, in this order.
    pub claims: Vec<RelyingPartyClaim>,
    /// SAML: also sign the Response (the Assertion is always signed).
    pub sign_response: bool,
    /// SAML: AuthnRequests and LogoutRequests must be signed by one of `request_certificates`.
    pub require_signed_requests: bool,
    /// Base64 of the DER certificates that sign the service provider's requests.
    pub request_certificates: Vec<String>,
    /// `refuse` or `fresh-certificate`.
    pub password_requests: String,
    /// The Issuer towards this relying party; null = the service's own entity ID.
    pub issuer: Option<String>,
    /// How long an assertion may be used (NotOnOrAfter − NotBefore).
    pub token_lifetime_seconds: i64,
    /// A disabled relying party is refused as if it were not registered.
    pub enabled: bool,
    /// When it was registered.
    pub created_date_time: String,
    /// When it was last changed.
    pub last_modified_date_time: String,
}

impl From<&federation::RelyingParty> for RelyingParty {
    fn from(rp: &federation::RelyingParty) -> Self {
        RelyingParty {
            id: rp.id.clone(),
            display_name: rp.name.clone(),
            protocol: rp.protocol.as_str().to_owned(),
            identifier: rp.identifier.clone(),
            reply_urls: rp.reply_urls.clone(),
            logout_url: rp.logout_url.clone(),
            name_id_format: rp.name_id_format.as_str().to_owned(),
            name_id_source: rp.name_id_source.as_string(),
            claims: rp.claims.iter().map(Into::into).collect(),
            sign_response: rp.sign_response,
            require_signed_requests: rp.require_signed_requests,
            request_certificates: rp
                .request_certificates
                .iter()
                .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
                .collect(),
            password_requests: rp.password_requests.as_str().to_owned(),
            issuer: rp.issuer.clone(),
            token_lifetime_seconds: rp.token_lifetime_seconds,
            enabled: rp.enabled,
            created_date_time: rfc3339(rp.created_at),
            last_modified_date_time: rfc3339(rp.updated_at),
        }
    }
}

/// `POST /relyingParties`: absent optional fields take certgate's defaults (persistent
/// NameID from the immutable ID, the UPN and mail claims, password requests refused).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRelyingParty {
    /// Unique, case-insensitively.
    pub display_name: String,
    /// `saml` or `wsfed`.
    pub protocol: String,
    /// A URI: the SAML entityID or WS-Fed realm; unique per protocol.
    pub identifier: String,
    /// https, or http on a loopback host; 1 to 20.
    pub reply_urls: Vec<String>,
    /// Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logout_url: Option<String>,
    /// `persistent` (default), `email` or `unspecified`; the SAML URIs are accepted too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    /// Default `user.immutableId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_source: Option<String>,
    /// Default: the UPN and mail claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<RelyingPartyClaim>>,
    /// SAML: also sign the Response; default true (the Microsoft 365 preset: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_response: Option<bool>,
    /// Default false; needs `request_certificates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_signed_requests: Option<bool>,
    /// Base64 of DER certificates, at most 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_certificates: Option<Vec<String>>,
    /// `refuse` (default) or `fresh-certificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_requests: Option<String>,
    /// Default: the service's entity ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// 60 to 86400; default 3600 (AD FS's default for a relying party trust).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<i64>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A whole draft as a request (what the CLI's remote mode sends: it builds the draft, from a
/// preset or metadata, as the local mode does).
impl From<federation::RelyingPartyDraft> for NewRelyingParty {
    fn from(draft: federation::RelyingPartyDraft) -> Self {
        let settings = RelyingPartyPatch::from(&draft);
        NewRelyingParty {
            display_name: draft.name,
            protocol: draft.protocol.as_str().to_owned(),
            identifier: draft.identifier,
            reply_urls: draft.reply_urls,
            logout_url: draft.logout_url,
            name_id_format: settings.name_id_format,
            name_id_source: settings.name_id_source,
            claims: settings.claims,
            sign_response: settings.sign_response,
            require_signed_requests: settings.require_signed_requests,
            request_certificates: settings.request_certificates,
            password_requests: settings.password_requests,
            issuer: draft.issuer,
            token_lifetime_seconds: settings.token_lifetime_seconds,
            enabled: settings.enabled,
        }
    }
}

impl TryFrom<NewRelyingParty> for federation::RelyingPartyDraft {
    type Error = FederationError;

    fn try_from(new: NewRelyingParty) -> Result<Self, Self::Error> {
        let protocol = parse_protocol(&new.protocol)?;
        let draft = federation::RelyingPartyDraft {
            logout_url: new.logout_url,
            issuer: new.issuer,
            ..federation::RelyingPartyDraft::new(
                &new.display_name,
                protocol,
                &new.identifier,
                new.reply_urls,
            )
        };
        RelyingPartyPatch {
            name_id_format: new.name_id_format,
            name_id_source: new.name_id_source,
            claims: new.claims,
            sign_response: new.sign_response,
            require_signed_requests: new.require_signed_requests,
            request_certificates: new.request_certificates,
            password_requests: new.password_requests,
            token_lifetime_seconds: new.token_lifetime_seconds,
            enabled: new.enabled,
            ..RelyingPartyPatch::default()
        }
        .apply(draft)
    }
}

/// `PATCH /relyingParties/{idOrName}`: absent fields stay; lists are replaced whole;
/// `null` removes the logout URL or the issuer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelyingPartyPatch {
    /// A new display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A new SAML entityID or WS-Fed realm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Replaces every reply URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_urls: Option<Vec<String>>,
    /// A new logout URL; `null` removes it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub logout_url: Patch<String>,
    /// `persistent`, `email` or `unspecified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<String>,
    /// A new NameID source (a claim source, as in [`RelyingPartyClaim::source`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_source: Option<String>,
    /// Replaces every claim rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<RelyingPartyClaim>>,
    /// SAML: whether the Response is signed too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_response: Option<bool>,
    /// SAML: whether requests must be signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_signed_requests: Option<bool>,
    /// Replaces the request-signing certificates (base64 of DER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_certificates: Option<Vec<String>>,
    /// `refuse` or `fresh-certificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_requests: Option<String>,
    /// A new Issuer towards this relying party; `null`: the service's entity ID.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub issuer: Patch<String>,
    /// A new token lifetime, 60 to 86400 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<i64>,
    /// Enables or disables the relying party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Every setting of a draft but its name and identifier, as a patch.
impl From<&federation::RelyingPartyDraft> for RelyingPartyPatch {
    fn from(draft: &federation::RelyingPartyDraft) -> Self {
        RelyingPartyPatch {
            display_name: None,
            identifier: None,
            reply_urls: Some(draft.reply_urls.clone()),
            logout_url: Some(draft.logout_url.clone()),
            name_id_format: Some(draft.name_id_format.as_str().to_owned()),
            name_id_source: Some(draft.name_id_source.as_string()),
            claims: Some(draft.claims.iter().map(Into::into).collect()),
            sign_response: Some(draft.sign_response),
            require_signed_requests: Some(draft.require_signed_requests),
            request_certificates: Some(
                draft
                    .request_certificates
                    .iter()
                    .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
                    .collect(),
            ),
            password_requests: Some(draft.password_requests.as_str().to_owned()),
            issuer: Some(draft.issuer.clone()),
            token_lifetime_seconds: Some(draft.token_lifetime_seconds),
            enabled: Some(draft.enabled),
        }
    }
}

impl RelyingPartyPatch {
    /// The relying party's settings after the patch; a value that is not one of the
    /// allowed words is refused (`rp-field-invalid`). The rest is checked when the draft is
    /// prepared.
    pub fn apply(
        self,
        mut draft: federation::RelyingPartyDraft,
    ) -> Result<federation::RelyingPartyDraft, FederationError> {
        if let Some(name) = self.display_name {
            draft.name = name;
        }
        if let Some(identifier) = self.identifier {
            draft.identifier = identifier;
        }
        if let Some(urls) = self.reply_urls {
            draft.reply_urls = urls;
        }
        if let Some(url) = self.logout_url {
            draft.logout_url = url;
        }
        if let Some(format) = self.name_id_format {
            draft.name_id_format = federation::NameIdFormat::parse(&format).ok_or_else(|| {
                field_invalid("nameIdFormat", &format, "persistent, email or unspecified")
            })?;
        }
        if let Some(source) = self.name_id_source {
            draft.name_id_source = federation::ClaimSource::parse(&source)?;
        }
        if let Some(claims) = self.claims {
            draft.claims = claims
                .iter()
                .map(RelyingPartyClaim::rule)
                .collect::<Result<_, _>>()?;
        }
        if let Some(sign) = self.sign_response {
            draft.sign_response = sign;
        }
        if let Some(require) = self.require_signed_requests {
            draft.require_signed_requests = require;
        }
        if let Some(certificates) = self.request_certificates {
            draft.request_certificates = certificates
                .iter()
                .map(|text| {
                    base64::engine::general_purpose::STANDARD
                        .decode(text.trim())
                        .map_err(|_| {
                            field_invalid(
                                "requestCertificates",
                                text,
                                "base64 of a DER certificate",
                            )
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(requests) = self.password_requests {
            draft.password_requests =
                federation::PasswordRequests::parse(&requests).ok_or_else(|| {
                    field_invalid("passwordRequests", &requests, "refuse or fresh-certificate")
                })?;
        }
        if let Some(issuer) = self.issuer {
            draft.issuer = issuer;
        }
        if let Some(seconds) = self.token_lifetime_seconds {
            draft.token_lifetime_seconds = seconds;
        }
        if let Some(enabled) = self.enabled {
            draft.enabled = enabled;
        }
        Ok(draft)
    }
}

fn parse_protocol(text: &str) -> Result<federation::Protocol, FederationError> {
    federation::Protocol::parse(text)
        .ok_or_else(|| field_invalid("protocol", text, "saml or wsfed"))
}

fn field_invalid(field: &'static str, value: &str, allowed: &str) -> FederationError {
    FederationError::FieldInvalid {
        field,
        value: value.chars().take(200).collect(),
        why: format!("must be {allowed}"),
    }
}

/// A token-signing key of the federation service (its certificate; never the private key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenSigningKey {
    /// SHA-1 of the certificate, upper-case hex (as Windows and Entra ID show it).
    pub thumbprint: String,
    /// `next`, `current` or `retired`.
    pub state: String,
    /// Base64 of the DER certificate.
    pub certificate: String,
    /// When its certificate expires.
    pub not_after: String,
    /// When the key was made.
    pub created_date_time: String,
    /// When it became current.
    pub activated_date_time: Option<String>,
    /// When it was retired and stopped being published.
    pub retired_date_time: Option<String>,
}

impl From<&federation::TokenSigningKey> for TokenSigningKey {
    fn from(key: &federation::TokenSigningKey) -> Self {
        TokenSigningKey {
            thumbprint: key.thumbprint.clone(),
            state: key.state.as_str().to_owned(),
            certificate: base64::engine::general_purpose::STANDARD.encode(&key.certificate_der),
            not_after: rfc3339(key.not_after),
            created_date_time: rfc3339(key.created_at),
            activated_date_time: key.activated_at.map(rfc3339),
            retired_date_time: key.retired_at.map(rfc3339),
        }
    }
}
