//! Relying parties of the federation service: SAML 2.0 service providers and WS-Federation
//! relying parties (AD FS's "relying party trusts"), with the rules for registering them.
//!
//! A relying party's reply addresses (SAML AssertionConsumerService URLs, WS-Fed `wreply`
//! values) come only from this registration: a request may pick one of them, never add one,
//! so certgate cannot be used as an open redirect or to post a token to a stranger.

use certgate_pki::{Certificate, UnixTime};

use super::claims::{ClaimRule, ClaimSource, UserField};
use super::FederationError;

/// Which protocol a relying party speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// SAML 2.0 Web Browser SSO (HTTP-Redirect / HTTP-POST bindings).
    Saml,
    /// WS-Federation passive requestor profile (SAML 1.1 assertion in an RSTR).
    WsFed,
}

impl Protocol {
    /// `saml` or `wsfed`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Saml => "saml",
            Protocol::WsFed => "wsfed",
        }
    }
    /// Reads `saml`, or `wsfed` (also `ws-fed`, `ws-federation`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Protocol> {
        match text {
            "saml" => Some(Protocol::Saml),
            "wsfed" | "ws-fed" | "ws-federation" => Some(Protocol::WsFed),
            _ => None,
        }
    }
}

/// The NameID (SAML 2.0) or NameIdentifier (SAML 1.1) format a relying party receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameIdFormat {
    /// `urn:oasis:names:tc:SAML:2.0:nameid-format:persistent`: an opaque, stable value (by default
    /// the immutable ID, what Microsoft 365 expects).
    Persistent,
    /// `urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress`.
    EmailAddress,
    /// `urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified`.
    Unspecified,
}

impl NameIdFormat {
    /// `persistent`, `email` or `unspecified`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => "persistent",
            NameIdFormat::EmailAddress => "email",
            NameIdFormat::Unspecified => "unspecified",
        }
    }
    /// Also accepts the SAML URIs (`urn:oasis:names:tc:SAML:2.0:nameid-format:persistent`, ...)
    /// so that a format can be copied from an SP's metadata.
    pub fn parse(text: &str) -> Option<NameIdFormat> {
        match text {
            "persistent" | "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" => {
                Some(NameIdFormat::Persistent)
            }
            "email" | "emailAddress" | "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" => {
                Some(NameIdFormat::EmailAddress)
            }
            "unspecified" | "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" => {
                Some(NameIdFormat::Unspecified)
            }
            _ => None,
        }
    }
}

/// What to do when a WS-Federation request asks for password authentication
/// (`wauth=…/authenticationmethod/password`), which Entra ID sends with `wfresh=0` when the
/// federated domain's PromptLoginBehavior is TranslateToFreshPasswordAuth (its default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PasswordRequests {
    /// Refuse, with a page telling the administrator to set PromptLoginBehavior to Disabled.
    /// The default: certgate has no passwords, and a token saying "password" would be a lie.
    Refuse,
    /// Satisfy it with a fresh certificate sign-in (the token says how the user really signed
    /// in), and log that the requested method was replaced.
    FreshCertificate,
    /// Meet it with the certificate plus the user's domain password, checked by the directory
    /// source (a bind as the user): the token states the password truthfully. Needs a
    /// `[directory.ldap]` source; without one the request is refused
    /// (`domain-password-not-configured`).
    DomainPassword,
}

impl PasswordRequests {
    /// `refuse`, `fresh-certificate` or `domain-password`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PasswordRequests::Refuse => "refuse",
            PasswordRequests::FreshCertificate => "fresh-certificate",
            PasswordRequests::DomainPassword => "domain-password",
        }
    }
    /// Reads the name [`as_str`](Self::as_str) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<PasswordRequests> {
        match text {
            "refuse" => Some(PasswordRequests::Refuse),
            "fresh-certificate" => Some(PasswordRequests::FreshCertificate),
            "domain-password" => Some(PasswordRequests::DomainPassword),
            _ => None,
        }
    }
}

/// A registered relying party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// `rp_` + 16 random bytes in hex.
    pub id: String,
    /// Unique, for people and the CLI.
    pub name: String,
    /// SAML 2.0 or WS-Federation.
    pub protocol: Protocol,
    /// SAML: the SP's entityID (the Audience); WS-Fed: the realm (`wtrealm`, the Audience).
    /// Unique per protocol.
    pub identifier: String,
    /// SAML: AssertionConsumerService URLs (HTTP-POST); WS-Fed: allowed `wreply` values. The
    /// first is the default.
    pub reply_urls: Vec<String>,
    /// SAML: the SP's SingleLogoutService (HTTP-Redirect); WS-Fed: where `wsignout1.0` may
    /// return to when no registered `wreply` is given.
    pub logout_url: Option<String>,
    /// The NameID's format.
    pub name_id_format: NameIdFormat,
    /// Where the NameID's value comes from (by default `user.immutableId`).
    pub name_id_source: ClaimSource,
    /// The claims it receives besides the NameID, in order.
    pub claims: Vec<ClaimRule>,
    /// SAML: also sign the Response (the Assertion is always signed).
    pub sign_response: bool,
    /// SAML: AuthnRequests and LogoutRequests must be signed by one of
    /// `request_certificates`.
    pub require_signed_requests: bool,
    /// The SP's signing certificates (DER), from its metadata.
    pub request_certificates: Vec<Vec<u8>>,
    /// What to do with a WS-Federation request for password authentication.
    pub password_requests: PasswordRequests,
    /// Every sign-in asks for the user's domain password after the certificate, whatever the
    /// request says (a request for a password is then met by it too). Needs a
    /// `[directory.ldap]` source on the node that takes the sign-in; without one the sign-in
    /// is refused (`domain-password-not-configured`).
    pub require_domain_password: bool,
    /// The Issuer certgate uses towards this relying party; None = the service's entity ID.
    /// Microsoft 365 needs one issuer URI per federated top-level domain: `{upn-domain}` in it
    /// is replaced by the signed-in user's UPN suffix (AD FS's `SupportMultipleDomain`, e.g.
    /// `http://{upn-domain}/adfs/services/trust/`).
    pub issuer: Option<String>,
    /// How long an assertion may be used (NotOnOrAfter − NotBefore, minus skew).
    pub token_lifetime_seconds: i64,
    /// A disabled relying party is refused as if it were not registered.
    pub enabled: bool,
    /// When it was registered.
    pub created_at: UnixTime,
    /// When it was last changed.
    pub updated_at: UnixTime,
}

/// Default token lifetime: AD FS's default for relying party trusts (60 minutes).
pub(crate) const DEFAULT_TOKEN_LIFETIME_SECONDS: i64 = 3600;
const MAX_REPLY_URLS: usize = 20;
const MAX_CLAIMS: usize = 64;
const MAX_REQUEST_CERTIFICATES: usize = 4;

/// What an administrator gives for a new relying party, or the new state of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingPartyDraft {
    /// As [`RelyingParty::name`] (trimmed; at most 128 characters).
    pub name: String,
    /// As [`RelyingParty::protocol`].
    pub protocol: Protocol,
    /// As [`RelyingParty::identifier`]: a URI.
    pub identifier: String,
    /// As [`RelyingParty::reply_urls`]: 1 to 20, repeats dropped.
    pub reply_urls: Vec<String>,
    /// As [`RelyingParty::logout_url`]; empty means none.
    pub logout_url: Option<String>,
    /// As [`RelyingParty::name_id_format`].
    pub name_id_format: NameIdFormat,
    /// As [`RelyingParty::name_id_source`].
    pub name_id_source: ClaimSource,
    /// As [`RelyingParty::claims`]: at most 64.
    pub claims: Vec<ClaimRule>,
    /// As [`RelyingParty::sign_response`].
    pub sign_response: bool,
    /// As [`RelyingParty::require_signed_requests`] (SAML only; needs a certificate).
    pub require_signed_requests: bool,
    /// As [`RelyingParty::request_certificates`]: at most 4.
    pub request_certificates: Vec<Vec<u8>>,
    /// As [`RelyingParty::password_requests`].
    pub password_requests: PasswordRequests,
    /// As [`RelyingParty::require_domain_password`].
    pub require_domain_password: bool,
    /// As [`RelyingParty::issuer`]; `{upn-domain}` is the only placeholder allowed.
    pub issuer: Option<String>,
    /// As [`RelyingParty::token_lifetime_seconds`]: 60 to 86400.
    pub token_lifetime_seconds: i64,
    /// As [`RelyingParty::enabled`].
    pub enabled: bool,
}

impl RelyingPartyDraft {
    /// A relying party with certgate's defaults: persistent NameID from the immutable ID, the
    /// UPN and mail claims, password requests refused.
    pub fn new(name: &str, protocol: Protocol, identifier: &str, reply_urls: Vec<String>) -> Self {
        RelyingPartyDraft {
            name: name.to_owned(),
            protocol,
            identifier: identifier.to_owned(),
            reply_urls,
            logout_url: None,
            name_id_format: NameIdFormat::Persistent,
            name_id_source: ClaimSource::User(UserField::ImmutableId),
            claims: vec![
                ClaimRule::new(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
                    ClaimSource::User(UserField::Upn),
                ),
                ClaimRule::new(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                    ClaimSource::User(UserField::Mail),
                ),
            ],
            // Most SAML service provider libraries refuse a Response whose signature covers
            // only the Assertion unless told otherwise; WS-Federation has no Response.
            sign_response: protocol == Protocol::Saml,
            require_signed_requests: false,
            request_certificates: Vec::new(),
            password_requests: PasswordRequests::Refuse,
            require_domain_password: false,
            issuer: None,
            token_lifetime_seconds: DEFAULT_TOKEN_LIFETIME_SECONDS,
            enabled: true,
        }
    }
}

impl From<&RelyingParty> for RelyingPartyDraft {
    fn from(rp: &RelyingParty) -> Self {
        RelyingPartyDraft {
            name: rp.name.clone(),
            protocol: rp.protocol,
            identifier: rp.identifier.clone(),
            reply_urls: rp.reply_urls.clone(),
            logout_url: rp.logout_url.clone(),
            name_id_format: rp.name_id_format,
            name_id_source: rp.name_id_source.clone(),
            claims: rp.claims.clone(),
            sign_response: rp.sign_response,
            require_signed_requests: rp.require_signed_requests,
            request_certificates: rp.request_certificates.clone(),
            password_requests: rp.password_requests,
            require_domain_password: rp.require_domain_password,
            issuer: rp.issuer.clone(),
            token_lifetime_seconds: rp.token_lifetime_seconds,
            enabled: rp.enabled,
        }
    }
}

/// Checks and normalizes a draft into the relying party to store.
pub fn prepare_relying_party(
    draft: RelyingPartyDraft,
    id: String,
    created_at: UnixTime,
    now: UnixTime,
) -> Result<RelyingParty, FederationError> {
    let name = draft.name.trim().to_owned();
    check_text("name", &name, 128)?;
    let identifier = draft.identifier.trim().to_owned();
    check_text("identifier", &identifier, 1024)?;
    if !identifier.contains(':') {
        return Err(FederationError::invalid(
            "identifier",
            &identifier,
            "must be a URI (an SP entityID or a WS-Fed realm such as urn:federation:MicrosoftOnline or https://app.example/)",
        ));
    }
    if draft.reply_urls.is_empty() {
        return Err(FederationError::invalid(
            "reply_urls",
            "",
            "give at least one reply URL (the SAML AssertionConsumerService or the WS-Fed wreply)",
        ));
    }
    if draft.reply_urls.len() > MAX_REPLY_URLS {
        return Err(FederationError::invalid(
            "reply_urls",
            &draft.reply_urls.len().to_string(),
            "at most 20 reply URLs",
        ));
    }
    let mut reply_urls: Vec<String> = Vec::new();
    for url in &draft.reply_urls {
        let url = url.trim().to_owned();
        check_url("reply_urls", &url)?;
        if !reply_urls.contains(&url) {
            reply_urls.push(url);
        }
    }
    let logout_url = match draft.logout_url.map(|u| u.trim().to_owned()) {
        Some(url) if !url.is_empty() => {
            check_url("logout_url", &url)?;
            Some(url)
        }
        _ => None,
    };
    if draft.claims.len() > MAX_CLAIMS {
        return Err(FederationError::invalid(
            "claims",
            &draft.claims.len().to_string(),
            "at most 64 claim rules",
        ));
    }
    for rule in &draft.claims {
        rule.check(draft.protocol)?;
    }
    if draft.request_certificates.len() > MAX_REQUEST_CERTIFICATES {
        return Err(FederationError::invalid(
            "request_certificates",
            &draft.request_certificates.len().to_string(),
            "at most 4 request-signing certificates",
        ));
    }
    for der in &draft.request_certificates {
        Certificate::from_der(der).map_err(|reason| {
            FederationError::invalid(
                "request_certificates",
                "",
                &format!("not an X.509 certificate ({})", reason.code()),
            )
        })?;
    }
    if draft.require_signed_requests && draft.request_certificates.is_empty() {
        return Err(FederationError::invalid(
            "require_signed_requests",
            "true",
            "signed requests need the service provider's signing certificate (from its metadata, or --request-certificate)",
        ));
    }
    if draft.require_signed_requests && draft.protocol == Protocol::WsFed {
        return Err(FederationError::invalid(
            "require_signed_requests",
            "true",
            "WS-Federation sign-in requests are not signed; this applies to SAML relying parties",
        ));
    }
    let issuer = match draft.issuer.map(|i| i.trim().to_owned()) {
        Some(issuer) if !issuer.is_empty() => {
            check_text("issuer", &issuer, 1024)?;
            let rest = issuer.replace(UPN_DOMAIN_PLACEHOLDER, "");
            if rest.contains(['{', '}']) {
                return Err(FederationError::invalid(
                    "issuer",
                    &issuer,
                    "the only placeholder an issuer may carry is {upn-domain}",
                ));
            }
            Some(issuer)
        }
        _ => None,
    };
    if !(60..=86_400).contains(&draft.token_lifetime_seconds) {
        return Err(FederationError::invalid(
            "token_lifetime_seconds",
            &draft.token_lifetime_seconds.to_string(),
            "must be between 60 and 86400 seconds",
        ));
    }
    Ok(RelyingParty {
        id,
        name,
        protocol: draft.protocol,
        identifier,
        reply_urls,
        logout_url,
        name_id_format: draft.name_id_format,
        name_id_source: draft.name_id_source,
        claims: draft.claims,
        sign_response: draft.sign_response,
        require_signed_requests: draft.require_signed_requests,
        request_certificates: draft.request_certificates,
        password_requests: draft.password_requests,
        require_domain_password: draft.require_domain_password,
        issuer,
        token_lifetime_seconds: draft.token_lifetime_seconds,
        enabled: draft.enabled,
        created_at,
        updated_at: now,
    })
}

/// In an issuer: the signed-in user's UPN suffix, lower case.
pub(crate) const UPN_DOMAIN_PLACEHOLDER: &str = "{upn-domain}";

impl RelyingParty {
    /// The Issuer towards this relying party for a user (`upn`, when known): the registered
    /// issuer with `{upn-domain}` filled in, or `default` (the service's entity ID). Without a
    /// user (a failure answer before anyone signed in), a templated issuer falls back to
    /// `default`.
    pub fn issuer_for(&self, default: &str, upn: Option<&str>) -> String {
        match (&self.issuer, upn) {
            (Some(issuer), _) if !issuer.contains(UPN_DOMAIN_PLACEHOLDER) => issuer.clone(),
            (Some(issuer), Some(upn)) => match upn.rsplit_once('@') {
                Some((_, domain)) if !domain.is_empty() => {
                    issuer.replace(UPN_DOMAIN_PLACEHOLDER, &domain.to_ascii_lowercase())
                }
                _ => default.to_owned(),
            },
            _ => default.to_owned(),
        }
    }

    /// The registered reply URL a request asked for (compared exactly), or the default when
    /// it asked for none. `None` when it asked for one that is not registered.
    pub fn reply_url(&self, requested: Option<&str>) -> Option<&str> {
        match requested {
            None => self.reply_urls.first().map(String::as_str),
            Some(url) => self
                .reply_urls
                .iter()
                .find(|registered| registered.as_str() == url)
                .map(String::as_str),
        }
    }
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), FederationError> {
    if value.is_empty() {
        return Err(FederationError::invalid(field, value, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(FederationError::invalid(
            field,
            value,
            &format!("at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FederationError::invalid(
            field,
            value,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// HTTPS, or HTTP to a loopback host (development and tests); no fragment, no credentials.
fn check_url(field: &'static str, url: &str) -> Result<(), FederationError> {
    check_text(field, url, 2048)?;
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| FederationError::invalid(field, url, "must be an absolute https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host_only = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default().to_owned()
    };
    let loopback = matches!(host_only.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    let ok_scheme = scheme.eq_ignore_ascii_case("https") || (scheme == "http" && loopback);
    if !ok_scheme {
        return Err(FederationError::invalid(
            field,
            url,
            "must be an https:// URL (http:// only for localhost)",
        ));
    }
    if host_only.is_empty() || authority.contains('@') {
        return Err(FederationError::invalid(
            field,
            url,
            "must name a host and carry no user name or password",
        ));
    }
    if url.contains('#') || url.contains(char::is_whitespace) {
        return Err(FederationError::invalid(
            field,
            url,
            "must not contain a fragment (#) or spaces",
        ));
    }
    Ok(())
}

/// The Microsoft 365 relying party (the "Microsoft Office 365 Identity Platform" trust AD FS
/// creates): realm / audience `urn:federation:MicrosoftOnline`, replies to
/// `https://login.microsoftonline.com/login.srf`, persistent NameID = the immutable ID.
///
/// SAML 2.0: IDPEmail = UPN (anchors §3). WS-Federation: the claims AD FS issues to Microsoft
/// 365 (UPN, ImmutableID) plus the certificate's serial number and issuer, which Entra copies
/// into its refresh token to enforce revocation, and the authentication methods references.
pub fn microsoft365(protocol: Protocol, issuer: Option<String>) -> RelyingPartyDraft {
    use super::claims::{AuthenticationField, CertificateField};
    let mut draft = RelyingPartyDraft::new(
        "Microsoft 365",
        protocol,
        MICROSOFT365_IDENTIFIER,
        vec![MICROSOFT365_REPLY_URL.to_owned()],
    );
    draft.issuer = issuer;
    draft.logout_url = Some(MICROSOFT365_REPLY_URL.to_owned());
    // Entra ID checks the Assertion's signature, as AD FS signs it for Microsoft 365
    // (SamlResponseSignature AssertionOnly).
    draft.sign_response = false;
    draft.claims = match protocol {
        Protocol::Saml => vec![ClaimRule::new(
            "IDPEmail",
            ClaimSource::User(UserField::Upn),
        )],
        Protocol::WsFed => vec![
            ClaimRule::new(
                "http://schemas.xmlsoap.org/claims/UPN",
                ClaimSource::User(UserField::Upn),
            ),
            ClaimRule::new(
                "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID",
                ClaimSource::User(UserField::ImmutableId),
            ),
            ClaimRule::new(
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber",
                ClaimSource::Certificate(CertificateField::SerialNumber),
            ),
            ClaimRule::new(
                "http://schemas.microsoft.com/2012/12/certificatecontext/field/issuer",
                ClaimSource::Certificate(CertificateField::Issuer),
            ),
            ClaimRule::new(
                "http://schemas.microsoft.com/claims/authnmethodsreferences",
                ClaimSource::Authentication(AuthenticationField::MethodsReferences),
            ),
        ],
    };
    draft
}

/// Microsoft 365's SAML audience and WS-Fed realm.
pub(crate) const MICROSOFT365_IDENTIFIER: &str = "urn:federation:MicrosoftOnline";
/// Microsoft 365's AssertionConsumerService and WS-Fed reply address.
pub(crate) const MICROSOFT365_REPLY_URL: &str = "https://login.microsoftonline.com/login.srf";

#[cfg(test)]
mod tests {
    use super::*;

    fn prepare(draft: RelyingPartyDraft) -> Result<RelyingParty, FederationError> {
        prepare_relying_party(draft, "rp_1".into(), UnixTime(10), UnixTime(20))
    }

    #[test]
    fn microsoft365_presets_are_valid() {
        for protocol in [Protocol::Saml, Protocol::WsFed] {
            let rp = prepare(microsoft365(protocol, None)).unwrap();
            assert_eq!(rp.identifier, "urn:federation:MicrosoftOnline");
            assert_eq!(rp.name_id_format, NameIdFormat::Persistent);
            assert_eq!(rp.name_id_source, ClaimSource::User(UserField::ImmutableId));
            assert_eq!(rp.password_requests, PasswordRequests::Refuse);
        }
    }

    #[test]
    fn reply_urls_are_https_or_loopback_and_only_registered_ones_are_used() {
        let mut draft = RelyingPartyDraft::new(
            "App",
            Protocol::Saml,
            "https://app.example/sp",
            vec![
                "https://app.example/acs".into(),
                "http://127.0.0.1:8000/acs".into(),
            ],
        );
        let rp = prepare(draft.clone()).unwrap();
        assert_eq!(rp.reply_url(None), Some("https://app.example/acs"));
        assert_eq!(
            rp.reply_url(Some("http://127.0.0.1:8000/acs")),
            Some("http://127.0.0.1:8000/acs")
        );
        assert_eq!(rp.reply_url(Some("https://app.example/acs/")), None);
        assert_eq!(rp.reply_url(Some("https://evil.example/acs")), None);
        for bad in [
            "http://app.example/acs",
            "https://app.example/acs#x",
            "https://user:pw@app.example/acs",
            "javascript:alert(1)",
            "https:///acs",
            "http://localhost.evil.example/",
        ] {
            draft.reply_urls = vec![bad.into()];
            let error = prepare(draft.clone()).unwrap_err();
            assert_eq!(error.code(), "rp-field-invalid", "{bad}");
        }
    }

    #[test]
    fn signed_requests_need_a_certificate_and_saml() {
        let mut draft = RelyingPartyDraft::new(
            "App",
            Protocol::Saml,
            "https://app.example/sp",
            vec!["https://app.example/acs".into()],
        );
        draft.require_signed_requests = true;
        assert_eq!(
            prepare(draft.clone()).unwrap_err().code(),
            "rp-field-invalid"
        );
        draft.request_certificates = vec![b"not a certificate".to_vec()];
        assert_eq!(prepare(draft).unwrap_err().code(), "rp-field-invalid");
    }

    #[test]
    fn issuer_per_upn_domain_for_several_federated_domains() {
        let mut draft = microsoft365(
            Protocol::WsFed,
            Some("http://{upn-domain}/adfs/services/trust/".into()),
        );
        let rp = prepare(draft.clone()).unwrap();
        assert_eq!(
            rp.issuer_for("https://idp/federation", Some("alice@Fabrikam.example")),
            "http://fabrikam.example/adfs/services/trust/"
        );
        assert_eq!(
            rp.issuer_for("https://idp/federation", None),
            "https://idp/federation"
        );
        draft.issuer = Some("http://{domain}/x".into());
        assert_eq!(
            prepare(draft.clone()).unwrap_err().code(),
            "rp-field-invalid"
        );
        draft.issuer = Some("urn:fixed".into());
        assert_eq!(
            prepare(draft).unwrap().issuer_for("d", Some("a@b.c")),
            "urn:fixed"
        );
    }

    #[test]
    fn identifier_must_be_a_uri_and_lifetime_bounded() {
        let mut draft = RelyingPartyDraft::new(
            "App",
            Protocol::WsFed,
            "app",
            vec!["https://a.example/".into()],
        );
        assert_eq!(
            prepare(draft.clone()).unwrap_err().code(),
            "rp-field-invalid"
        );
        draft.identifier = "urn:app".into();
        draft.token_lifetime_seconds = 10;
        assert_eq!(
            prepare(draft.clone()).unwrap_err().code(),
            "rp-field-invalid"
        );
        draft.token_lifetime_seconds = 600;
        assert!(prepare(draft).is_ok());
    }
}
