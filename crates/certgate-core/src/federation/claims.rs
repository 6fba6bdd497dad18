//! Claim rules: which claims a relying party receives, each taken from a user attribute, a
//! field of the sign-in certificate, or the authentication itself. AD FS calls these
//! issuance transform rules; certgate keeps them declarative (`claim type = source`), which
//! covers what AD FS's rules for certificate sign-in do without a rule language.
//!
//! The certificate fields follow AD FS's certificate-context claims
//! (`http://schemas.microsoft.com/2012/12/certificatecontext/...`) and their value formats
//! (those of .NET's `X509Certificate2`: upper-case hex serial numbers and thumbprints, DNs in
//! the "CN=…, O=…" order Windows shows), so that a relying party moved from AD FS sees the
//! same values.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_pki::{Certificate, GeneralName, UnixTime};

use super::relying_party::Protocol;
use super::FederationError;
use crate::directory::User;

/// A user attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserField {
    /// userPrincipalName (`user.upn`).
    Upn,
    /// mail, when set (`user.mail`).
    Mail,
    /// onPremisesImmutableId (`user.immutableId`): Microsoft 365's NameID.
    ImmutableId,
    /// The object ID (`user.objectId`).
    ObjectId,
    /// displayName (`user.displayName`).
    DisplayName,
    /// Every group name, one value each (`user.groups`).
    Groups,
    /// The SMTP addresses of proxyAddresses, without their `SMTP:` prefix.
    ProxyAddresses,
}

/// A field of the certificate the user signed in with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertificateField {
    /// Issuer DN, Windows order.
    Issuer,
    /// Subject DN, Windows order.
    Subject,
    /// Upper-case hex, no separators.
    SerialNumber,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    NotBefore,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    NotAfter,
    /// The DER certificate, base64.
    RawData,
    /// Extended key usage OIDs, one value each.
    Eku,
    /// Subject alternative names, one value each: `upn=…`, `email=…`, `dns=…`, `uri=…`.
    San,
    /// Subject key identifier, upper-case hex.
    SubjectKeyIdentifier,
    /// SHA-1 of the DER certificate, upper-case hex (what Windows calls the thumbprint).
    Thumbprint,
}

/// A fact of the authentication itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthenticationField {
    /// One URI: multipleauthn after a second factor (or a multi-factor certificate), else
    /// the TLS-client method.
    Method,
    /// Every method used, as AD FS's authnmethodsreferences.
    MethodsReferences,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    Instant,
}

/// Where a claim's values come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClaimSource {
    /// A user attribute (`user.*`).
    User(UserField),
    /// A field of the sign-in certificate (`certificate.*`).
    Certificate(CertificateField),
    /// A fact of the authentication (`auth.*`).
    Authentication(AuthenticationField),
    /// The same value for everyone.
    Constant(String),
}

const SOURCES: &[(&str, ClaimSource)] = &[
    ("user.upn", ClaimSource::User(UserField::Upn)),
    ("user.mail", ClaimSource::User(UserField::Mail)),
    (
        "user.immutableId",
        ClaimSource::User(UserField::ImmutableId),
    ),
    ("user.objectId", ClaimSource::User(UserField::ObjectId)),
    (
        "user.displayName",
        ClaimSource::User(UserField::DisplayName),
    ),
    ("user.groups", ClaimSource::User(UserField::Groups)),
    (
        "user.proxyAddresses",
        ClaimSource::User(UserField::ProxyAddresses),
    ),
    (
        "certificate.issuer",
        ClaimSource::Certificate(CertificateField::Issuer),
    ),
    (
        "certificate.subject",
        ClaimSource::Certificate(CertificateField::Subject),
    ),
    (
        "certificate.serialNumber",
        ClaimSource::Certificate(CertificateField::SerialNumber),
    ),
    (
        "certificate.notBefore",
        ClaimSource::Certificate(CertificateField::NotBefore),
    ),
    (
        "certificate.notAfter",
        ClaimSource::Certificate(CertificateField::NotAfter),
    ),
    (
        "certificate.rawData",
        ClaimSource::Certificate(CertificateField::RawData),
    ),
    (
        "certificate.eku",
        ClaimSource::Certificate(CertificateField::Eku),
    ),
    (
        "certificate.san",
        ClaimSource::Certificate(CertificateField::San),
    ),
    (
        "certificate.subjectKeyIdentifier",
        ClaimSource::Certificate(CertificateField::SubjectKeyIdentifier),
    ),
    (
        "certificate.thumbprint",
        ClaimSource::Certificate(CertificateField::Thumbprint),
    ),
    (
        "auth.method",
        ClaimSource::Authentication(AuthenticationField::Method),
    ),
    (
        "auth.methodsReferences",
        ClaimSource::Authentication(AuthenticationField::MethodsReferences),
    ),
    (
        "auth.instant",
        ClaimSource::Authentication(AuthenticationField::Instant),
    ),
];

const CONSTANT_PREFIX: &str = "const:";

impl ClaimSource {
    /// `user.upn`, `certificate.serialNumber`, `auth.method`, `const:VALUE`, ...
    pub fn parse(text: &str) -> Result<ClaimSource, FederationError> {
        if let Some(value) = text.strip_prefix(CONSTANT_PREFIX) {
            if value.is_empty() || value.len() > 1024 || value.chars().any(char::is_control) {
                return Err(FederationError::invalid(
                    "claim source",
                    text,
                    "a constant is 1 to 1024 characters without control characters",
                ));
            }
            return Ok(ClaimSource::Constant(value.to_owned()));
        }
        SOURCES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, source)| source.clone())
            .ok_or_else(|| {
                FederationError::invalid(
                    "claim source",
                    text,
                    &format!(
                        "unknown source; one of {}, or const:VALUE",
                        SOURCES
                            .iter()
                            .map(|(name, _)| *name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }

    /// The text [`parse`](Self::parse) reads: `user.upn`, `const:VALUE`, ...
    pub fn as_string(&self) -> String {
        if let ClaimSource::Constant(value) = self {
            return format!("{CONSTANT_PREFIX}{value}");
        }
        SOURCES
            .iter()
            .find(|(_, source)| source == self)
            .map(|(name, _)| (*name).to_owned())
            .unwrap_or_default()
    }
}

/// One claim rule: claim type (a URI, or an attribute name such as Microsoft 365's
/// `IDPEmail`) and where its values come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimRule {
    /// The claim type: a URI (`http://schemas.xmlsoap.org/claims/UPN`) or, for SAML 2.0, an
    /// attribute name.
    pub claim: String,
    /// Where its values come from.
    pub source: ClaimSource,
}

impl ClaimRule {
    /// A rule issuing `claim` from `source`; checked when the relying party is prepared.
    pub fn new(claim: &str, source: ClaimSource) -> ClaimRule {
        ClaimRule {
            claim: claim.to_owned(),
            source,
        }
    }

    /// `CLAIM=SOURCE`, split at the last `=` (claim URIs do not contain one; constants may,
    /// so `const:` values are split at the `=` before `const:`).
    pub fn parse(text: &str) -> Result<ClaimRule, FederationError> {
        let split = match text.find(&format!("={CONSTANT_PREFIX}")) {
            Some(at) => Some((&text[..at], &text[at + 1..])),
            None => text.rsplit_once('='),
        };
        let (claim, source) = split.ok_or_else(|| {
            FederationError::invalid(
                "claim rule",
                text,
                "write CLAIM=SOURCE, e.g. http://schemas.xmlsoap.org/claims/UPN=user.upn",
            )
        })?;
        Ok(ClaimRule::new(
            claim.trim(),
            ClaimSource::parse(source.trim())?,
        ))
    }

    /// `CLAIM=SOURCE`, the text [`parse`](Self::parse) reads.
    pub fn as_string(&self) -> String {
        format!("{}={}", self.claim, self.source.as_string())
    }

    pub(crate) fn check(&self, protocol: Protocol) -> Result<(), FederationError> {
        let claim = self.claim.as_str();
        if claim.is_empty() || claim.len() > 512 || claim.chars().any(char::is_control) {
            return Err(FederationError::invalid(
                "claim",
                claim,
                "a claim type is 1 to 512 characters without control characters",
            ));
        }
        // SAML 1.1 carries a claim as AttributeNamespace + AttributeName: the claim type must
        // be a URI with a name after its last '/'.
        if protocol == Protocol::WsFed
            && !claim
                .rsplit_once('/')
                .is_some_and(|(namespace, name)| namespace.contains(':') && !name.is_empty())
        {
            return Err(FederationError::invalid(
                "claim",
                claim,
                "a WS-Federation claim type is a URI ending in its name, e.g. http://schemas.xmlsoap.org/claims/UPN",
            ));
        }
        Ok(())
    }
}

/// AD FS's certificate-context claim types and the fields they carry.
pub(crate) const CERTIFICATE_CONTEXT_CLAIMS: &[(&str, CertificateField)] = &[
    (
        "http://schemas.microsoft.com/2012/12/certificatecontext/field/issuer",
        CertificateField::Issuer,
    ),
    (
        "http://schemas.microsoft.com/2012/12/certificatecontext/field/subject",
        CertificateField::Subject,
    ),
    (
        "http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber",
        CertificateField::SerialNumber,
    ),
    (
        "http://schemas.microsoft.com/2012/12/certificatecontext/field/notbefore",
        CertificateField::NotBefore,
    ),
    (
        "http://schemas.microsoft.com/2012/12/certificatecontext/field/notafter",
        CertificateField::NotAfter,
    ),
    (
        "http://schemas.microsoft.com/2012/12/certificatecontext/field/rawdata",
        CertificateField::RawData,
    ),
    (
        "http://schemas.microsoft.com/2012/12/certificatecontext/extension/eku",
        CertificateField::Eku,
    ),
    (
        "http://schemas.microsoft.com/2012/12/certificatecontext/extension/san",
        CertificateField::San,
    ),
    (
        "http://schemas.microsoft.com/2012/12/certificatecontext/extension/subjectkeyidentifier",
        CertificateField::SubjectKeyIdentifier,
    ),
    (
        "http://schemas.microsoft.com/2012/12/certificatecontext/field/thumbprint",
        CertificateField::Thumbprint,
    ),
];

/// Every certificate-context claim, as rules (`certgate rp set --claims certificate-context`).
pub fn certificate_context_rules() -> Vec<ClaimRule> {
    CERTIFICATE_CONTEXT_CLAIMS
        .iter()
        .map(|(claim, field)| ClaimRule::new(claim, ClaimSource::Certificate(*field)))
        .collect()
}

/// `http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient`: what
/// WIF and AD FS call a TLS client-certificate sign-in.
pub(crate) const METHOD_TLS_CLIENT: &str =
    "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient";
/// Entra ID's multi-factor method (anchors §3).
pub(crate) const METHOD_MULTIPLE_AUTHN: &str = "http://schemas.microsoft.com/claims/multipleauthn";
/// SAML 1.1's password method (SAML 1.1 core §7.1): what Entra ID sends as `wauth` under
/// PromptLoginBehavior TranslateToFreshPasswordAuth, stated once the domain password was
/// really checked.
pub(crate) const METHOD_SAML11_PASSWORD: &str = "urn:oasis:names:tc:SAML:1.0:am:password";
/// WIF's and AD FS's name of a password sign-in, listed in authnmethodsreferences.
pub(crate) const METHOD_PASSWORD: &str =
    "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password";

/// What a sign-in established, for the claim rules.
pub struct SignInFacts<'a> {
    /// The user who signed in.
    pub user: &'a User,
    /// The certificate they signed in with.
    pub certificate: &'a Certificate,
    /// Subject DN (Windows form) of the CA that issued `certificate` on the path validated at
    /// sign-in (`ValidCertificate::issuer`): the issuer claim names the CA that really signed
    /// the certificate, not what the certificate's issuer field says.
    pub certificate_issuer: &'a str,
    /// When the sign-in happened.
    pub authenticated_at: UnixTime,
    /// A second factor was used, or the certificate counts as multi-factor.
    pub multi_factor: bool,
    /// The directory accepted the user's domain password after the certificate.
    pub domain_password: bool,
    /// The request asked for a password sign-in (which the domain password met): the
    /// authentication method is then the password. Without it, a domain password the relying
    /// party asks on every sign-in is one factor of a multi-factor sign-in.
    pub password_requested: bool,
}

/// One claim with its values, as issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedClaim {
    /// The claim type.
    pub claim: String,
    /// Its values, without duplicates, in rule order.
    pub values: Vec<String>,
}

/// The claims `rules` give for a sign-in, in rule order; a rule whose source has no value
/// (no mail address, no EKU extension) issues nothing. Rules naming the same claim are merged.
pub(crate) fn issue_claims(rules: &[ClaimRule], facts: &SignInFacts<'_>) -> Vec<IssuedClaim> {
    let mut issued: Vec<IssuedClaim> = Vec::new();
    for rule in rules {
        let values = source_values(&rule.source, facts);
        if values.is_empty() {
            continue;
        }
        match issued.iter_mut().find(|c| c.claim == rule.claim) {
            Some(existing) => {
                for value in values {
                    if !existing.values.contains(&value) {
                        existing.values.push(value);
                    }
                }
            }
            None => issued.push(IssuedClaim {
                claim: rule.claim.clone(),
                values,
            }),
        }
    }
    issued
}

/// The values of one source for a sign-in.
pub(crate) fn source_values(source: &ClaimSource, facts: &SignInFacts<'_>) -> Vec<String> {
    let user = facts.user;
    let certificate = facts.certificate;
    match source {
        ClaimSource::User(field) => match field {
            UserField::Upn => vec![user.upn.as_str().to_owned()],
            UserField::Mail => user.mail.iter().cloned().collect(),
            UserField::ImmutableId => vec![user.immutable_id.clone()],
            UserField::ObjectId => vec![user.id.as_str().to_owned()],
            UserField::DisplayName => vec![user.display_name.clone()],
            UserField::Groups => user.effective_groups(),
            UserField::ProxyAddresses => user
                .proxy_addresses
                .iter()
                .filter_map(|a| {
                    a.split_once(':')
                        .filter(|(kind, _)| kind.eq_ignore_ascii_case("smtp"))
                        .map(|(_, address)| address.to_owned())
                })
                .collect(),
        },
        ClaimSource::Certificate(CertificateField::Issuer) => {
            vec![facts.certificate_issuer.to_owned()]
        }
        ClaimSource::Certificate(field) => certificate_values(*field, certificate),
        ClaimSource::Authentication(field) => match field {
            AuthenticationField::Method => {
                vec![authentication_method(
                    facts.multi_factor,
                    facts.domain_password && facts.password_requested,
                )
                .into()]
            }
            AuthenticationField::MethodsReferences => {
                let mut methods = vec![METHOD_TLS_CLIENT.to_owned()];
                if facts.domain_password {
                    methods.push(METHOD_PASSWORD.to_owned());
                }
                if facts.multi_factor {
                    methods.push(METHOD_MULTIPLE_AUTHN.to_owned());
                }
                methods
            }
            AuthenticationField::Instant => vec![instant(facts.authenticated_at)],
        },
        ClaimSource::Constant(value) => vec![value.clone()],
    }
}

/// The one authentication method a WS-Federation token states: the password method once the
/// domain password was checked for a request that asked for a password (`password_stated`;
/// the certificate and, when more than one factor was used, multipleauthn are in
/// authnmethodsreferences), else multipleauthn after a multi-factor sign-in, else the
/// TLS-client method.
pub fn authentication_method(multi_factor: bool, password_stated: bool) -> &'static str {
    if password_stated {
        METHOD_SAML11_PASSWORD
    } else if multi_factor {
        METHOD_MULTIPLE_AUTHN
    } else {
        METHOD_TLS_CLIENT
    }
}

fn certificate_values(field: CertificateField, certificate: &Certificate) -> Vec<String> {
    match field {
        // From the validated path (`SignInFacts::certificate_issuer`), answered above.
        CertificateField::Issuer => Vec::new(),
        CertificateField::Subject => vec![certificate.subject().to_windows()],
        CertificateField::SerialNumber => vec![upper_hex(certificate.serial())],
        CertificateField::NotBefore => vec![instant(certificate.not_before())],
        CertificateField::NotAfter => vec![instant(certificate.not_after())],
        CertificateField::RawData => vec![STANDARD.encode(certificate.der())],
        CertificateField::Eku => certificate
            .extensions()
            .extended_key_usage
            .iter()
            .flatten()
            .map(|oid| oid.as_str().to_owned())
            .collect(),
        CertificateField::San => certificate
            .extensions()
            .subject_alt_names
            .iter()
            .flatten()
            .filter_map(san_value)
            .collect(),
        CertificateField::SubjectKeyIdentifier => certificate
            .extensions()
            .subject_key_id
            .iter()
            .map(|id| upper_hex(id))
            .collect(),
        CertificateField::Thumbprint => vec![upper_hex(
            aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                certificate.der(),
            )
            .as_ref(),
        )],
    }
}

fn san_value(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::Rfc822(mail) => Some(format!("email={mail}")),
        GeneralName::Dns(dns) => Some(format!("dns={dns}")),
        GeneralName::Uri(uri) => Some(format!("uri={uri}")),
        GeneralName::Ip(bytes) if bytes.len() == 4 || bytes.len() == 16 => {
            let address: std::net::IpAddr = if bytes.len() == 4 {
                <[u8; 4]>::try_from(bytes.as_slice()).ok()?.into()
            } else {
                <[u8; 16]>::try_from(bytes.as_slice()).ok()?.into()
            };
            Some(format!("ip={address}"))
        }
        GeneralName::Directory(name) => Some(format!("dn={}", name.to_windows())),
        GeneralName::OtherName { type_id, value } if type_id.as_str() == UPN_OID => {
            upn_text(value).map(|upn| format!("upn={upn}"))
        }
        _ => None,
    }
}

/// Microsoft's User Principal Name otherName (szOID_NT_PRINCIPAL_NAME).
const UPN_OID: &str = "1.3.6.1.4.1.311.20.2.3";

/// The UTF8String inside the otherName value (the `[0] EXPLICIT` content).
fn upn_text(value: &[u8]) -> Option<String> {
    // UTF8String tag 0x0c, short or one-byte long length: UPNs are short.
    let (&tag, rest) = value.split_first()?;
    if tag != 0x0c {
        return None;
    }
    let (&length, rest) = rest.split_first()?;
    let (length, rest) = match length {
        0..=0x7f => (usize::from(length), rest),
        0x81 => {
            let (&long, rest) = rest.split_first()?;
            (usize::from(long), rest)
        }
        _ => return None,
    };
    std::str::from_utf8(rest.get(..length)?)
        .ok()
        .map(str::to_owned)
}

fn upper_hex(bytes: &[u8]) -> String {
    crate::hex(bytes).to_ascii_uppercase()
}

fn instant(at: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(at.0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_and_unknown_is_refused() {
        for (name, source) in SOURCES {
            assert_eq!(ClaimSource::parse(name).unwrap(), *source);
            assert_eq!(source.as_string(), *name);
        }
        assert_eq!(
            ClaimSource::parse("const:a=b").unwrap(),
            ClaimSource::Constant("a=b".into())
        );
        assert_eq!(
            ClaimSource::parse("user.password").unwrap_err().code(),
            "rp-field-invalid"
        );
        assert_eq!(
            ClaimSource::parse("const:").unwrap_err().code(),
            "rp-field-invalid"
        );
    }

    #[test]
    fn rules_parse_from_claim_equals_source() {
        let rule = ClaimRule::parse("http://schemas.xmlsoap.org/claims/UPN=user.upn").unwrap();
        assert_eq!(rule.claim, "http://schemas.xmlsoap.org/claims/UPN");
        assert_eq!(rule.source, ClaimSource::User(UserField::Upn));
        let constant = ClaimRule::parse("http://x.example/role=const:a=b").unwrap();
        assert_eq!(constant.source, ClaimSource::Constant("a=b".into()));
        assert_eq!(constant.as_string(), "http://x.example/role=const:a=b");
        assert!(ClaimRule::parse("no-equals-sign").is_err());
    }

    #[test]
    fn wsfed_claims_must_split_into_namespace_and_name() {
        assert!(
            ClaimRule::new("IDPEmail", ClaimSource::User(UserField::Upn))
                .check(Protocol::WsFed)
                .is_err()
        );
        assert!(
            ClaimRule::new("IDPEmail", ClaimSource::User(UserField::Upn))
                .check(Protocol::Saml)
                .is_ok()
        );
        assert!(ClaimRule::new(
            "http://schemas.xmlsoap.org/claims/",
            ClaimSource::User(UserField::Upn)
        )
        .check(Protocol::WsFed)
        .is_err());
    }

    #[test]
    fn certificate_context_claims_in_adfs_formats() {
        use crate::directory::{prepare_user, UserDraft, UserId};
        let pki = certgate_testpki::TestPki::three_level(&certgate_testpki::ChainSpec::default())
            .expect("test PKI");
        let certificate = Certificate::from_der(&pki.leaf.der).expect("leaf");
        let user = prepare_user(
            UserDraft {
                mail: Some("alice.smith@corp.example".into()),
                proxy_addresses: vec![
                    "SMTP:alice.smith@corp.example".into(),
                    "smtp:alice@corp.example".into(),
                    "SIP:alice@corp.example".into(),
                ],
                groups: vec!["Sales".into(), "VPN".into()],
                ..UserDraft::new("alice@corp.example")
            },
            UserId::generate().expect("id"),
            UnixTime(0),
            None,
        )
        .expect("user");
        let facts = SignInFacts {
            user: &user,
            certificate: &certificate,
            certificate_issuer: "CN=Issuing CA On The Path, O=certgate Test",
            authenticated_at: UnixTime(1_772_366_400),
            multi_factor: true,
            domain_password: false,
            password_requested: false,
        };
        let value = |source: &str| source_values(&ClaimSource::parse(source).unwrap(), &facts);
        let serial = value("certificate.serialNumber");
        assert_eq!(
            serial,
            vec![crate::hex(certificate.serial()).to_ascii_uppercase()]
        );
        assert_eq!(
            value("certificate.issuer"),
            vec!["CN=Issuing CA On The Path, O=certgate Test".to_owned()]
        );
        assert!(value("certificate.subject")[0].contains("CN="));
        assert_eq!(value("certificate.thumbprint")[0].len(), 40);
        assert!(value("certificate.eku").contains(&"1.3.6.1.5.5.7.3.2".to_owned()));
        let san = value("certificate.san");
        assert!(
            san.contains(&"upn=alice@corp.example".to_owned()),
            "{san:?}"
        );
        assert!(
            san.contains(&"email=alice@corp.example".to_owned()),
            "{san:?}"
        );
        assert_eq!(
            STANDARD.decode(&value("certificate.rawData")[0]).unwrap(),
            pki.leaf.der
        );
        assert!(value("certificate.notAfter")[0].ends_with('Z'));
        assert_eq!(
            value("auth.instant"),
            vec!["2026-03-01T12:00:00Z".to_owned()]
        );
        assert_eq!(value("auth.method"), vec![METHOD_MULTIPLE_AUTHN.to_owned()]);
        assert_eq!(
            value("auth.methodsReferences"),
            vec![
                METHOD_TLS_CLIENT.to_owned(),
                METHOD_MULTIPLE_AUTHN.to_owned()
            ]
        );
        // Certificate plus domain password: the password method is stated, and every method
        // used is listed.
        let with_password = SignInFacts {
            domain_password: true,
            password_requested: true,
            ..facts
        };
        let stated =
            |source: &str| source_values(&ClaimSource::parse(source).unwrap(), &with_password);
        assert_eq!(
            stated("auth.method"),
            vec![METHOD_SAML11_PASSWORD.to_owned()]
        );
        assert_eq!(
            stated("auth.methodsReferences"),
            vec![
                METHOD_TLS_CLIENT.to_owned(),
                METHOD_PASSWORD.to_owned(),
                METHOD_MULTIPLE_AUTHN.to_owned()
            ]
        );
        let certificate_only = SignInFacts {
            multi_factor: false,
            ..facts
        };
        assert_eq!(
            source_values(
                &ClaimSource::parse("auth.methodsReferences").unwrap(),
                &certificate_only
            ),
            vec![METHOD_TLS_CLIENT.to_owned()],
            "no password method without a password"
        );
        assert_eq!(
            value("user.proxyAddresses"),
            vec![
                "alice.smith@corp.example".to_owned(),
                "alice@corp.example".to_owned()
            ]
        );
        assert_eq!(
            value("user.groups"),
            vec!["Sales".to_owned(), "VPN".to_owned()]
        );
        // Every certificate-context rule issues a value for a client certificate with SKI,
        // EKU and SAN; rules naming one claim merge their values.
        let mut rules = certificate_context_rules();
        assert_eq!(
            issue_claims(&rules, &facts).len(),
            CERTIFICATE_CONTEXT_CLAIMS.len()
        );
        rules.push(
            ClaimRule::parse(
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber=const:extra",
            )
            .unwrap(),
        );
        let issued = issue_claims(&rules, &facts);
        let merged = issued
            .iter()
            .find(|c| c.claim.ends_with("/claims/serialnumber"))
            .unwrap();
        assert_eq!(merged.values, vec![serial[0].clone(), "extra".to_owned()]);
        // No mail: the rule issues nothing rather than an empty value.
        let no_mail = crate::directory::User {
            mail: None,
            ..user.clone()
        };
        let facts = SignInFacts {
            user: &no_mail,
            ..facts
        };
        assert!(issue_claims(&[ClaimRule::parse("m=user.mail").unwrap()], &facts).is_empty());
        // A synchronised user: the groups assigned in certgate, then the directory's that are
        // not among them.
        let synced = crate::directory::User {
            origin: crate::directory::UserOrigin::present_in_directory(
                "CN=alice,DC=corp,DC=example",
                vec!["All Staff".into(), "VPN".into()],
            ),
            ..user.clone()
        };
        let facts = SignInFacts {
            user: &synced,
            ..facts
        };
        assert_eq!(
            source_values(&ClaimSource::parse("user.groups").unwrap(), &facts),
            ["Sales", "VPN", "All Staff"]
        );
    }

    #[test]
    fn upn_other_name_text() {
        assert_eq!(upn_text(b"\x0c\x05a@b.c").as_deref(), Some("a@b.c"));
        assert_eq!(upn_text(b"\x0c\x09a@b.c"), None);
        assert_eq!(upn_text(b"\x16\x05a@b.c"), None);
        assert_eq!(upn_text(b""), None);
    }
}
