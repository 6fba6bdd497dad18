//! The federation service (SAML 2.0 / WS-Federation) as the admin API shows it: relying
//! parties with their claim rules, the bodies that register and change one, and the
//! token-signing keys.

use base64::Engine as _;
use certgate_core::clock::rfc3339;
use certgate_core::federation::{self, FederationError};
use serde::{Deserialize, Serialize};

use super::{present, Patch};

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
    /// `refuse`, `fresh-certificate` or `domain-password`.
    pub password_requests: String,
    /// Every sign-in asks for the user's domain password after the certificate, whatever the
    /// request says (refused on a node without a directory source).
    pub require_domain_password: bool,
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
            request_certificates: base64_certificates(&rp.request_certificates),
            password_requests: rp.password_requests.as_str().to_owned(),
            require_domain_password: rp.require_domain_password,
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
    /// `refuse` (default), `fresh-certificate` or `domain-password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_requests: Option<String>,
    /// Default false: the domain password is asked only when a request asks for a password
    /// (and `passwordRequests` is `domain-password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_domain_password: Option<bool>,
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
            require_domain_password: settings.require_domain_password,
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
            require_domain_password: new.require_domain_password,
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
    /// `refuse`, `fresh-certificate` or `domain-password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_requests: Option<String>,
    /// Whether every sign-in asks for the domain password after the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_domain_password: Option<bool>,
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
            request_certificates: Some(base64_certificates(&draft.request_certificates)),
            password_requests: Some(draft.password_requests.as_str().to_owned()),
            require_domain_password: Some(draft.require_domain_password),
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
                    field_invalid(
                        "passwordRequests",
                        &requests,
                        "refuse, fresh-certificate or domain-password",
                    )
                })?;
        }
        if let Some(require) = self.require_domain_password {
            draft.require_domain_password = require;
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

/// Request-signing certificates as the API carries them: base64 of each DER.
fn base64_certificates(ders: &[Vec<u8>]) -> Vec<String> {
    ders.iter()
        .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
        .collect()
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
            state: key.lifecycle.state.as_str().to_owned(),
            certificate: base64::engine::general_purpose::STANDARD.encode(&key.certificate_der),
            not_after: rfc3339(key.not_after),
            created_date_time: rfc3339(key.lifecycle.created_at),
            activated_date_time: key.lifecycle.activated_at.map(rfc3339),
            retired_date_time: key.lifecycle.retired_at.map(rfc3339),
        }
    }
}
