//! The directory: users with the attributes certificate sign-in and federation read
//! (Microsoft Graph's userPrincipalName, onPremisesImmutableId, displayName, mail,
//! proxyAddresses, authorizationInfo.certificateUserIds, accountEnabled, and the per-user
//! token epoch StsRefreshTokensValidFrom), the [`DirectoryStore`] port that keeps them with the
//! binding and strength rules, and the services that change them.
//!
//! Every change is one transaction that also appends its audit event and bumps the store's
//! generation, so other nodes see it.

use std::fmt;
use std::future::Future;

use certgate_pki::{ReasonCode, UnixTime};

use crate::audit::AuditEvent;
use crate::binding::{
    fold_case, proxy_address_part, Affinity, BindingPolicy, BindingRule, BindingRuleError,
    CertificateField, UserAttribute, UserLookup,
};
use crate::clock::rfc3339;
use crate::store::{StoreError, StoreResult};
use crate::strength::{StrengthRule, StrengthRuleError, StrengthRuleId, StrengthRuleSpec};

/// Entra's limit on certificateUserIds values per user.
pub const MAX_CERTIFICATE_USER_IDS: usize = 10;
/// Entra's limit on the length of one certificateUserIds value, in characters.
pub const MAX_CERTIFICATE_USER_ID_CHARS: usize = 1024;
/// Entra's limit on onPremisesImmutableId.
pub const MAX_IMMUTABLE_ID_CHARS: usize = 64;
/// Entra's limit on a UPN (64 before the `@`, 48 after, plus the `@`).
pub const MAX_UPN_CHARS: usize = 113;
/// For display names, mail, proxy addresses and group names.
pub const MAX_TEXT_CHARS: usize = 256;

/// A user's object ID: a random UUID (version 4 form), as Entra's `id`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(String);

impl UserId {
    /// A new random object ID. Fails only when the system has no randomness.
    pub fn generate() -> Result<UserId, DirectoryError> {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| DirectoryError::RandomnessUnavailable)?;
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex = crate::hex(&bytes);
        Ok(UserId(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )))
    }

    /// A UUID in 8-4-4-4-12 hex form (any case; kept lowercase).
    pub fn parse(text: &str) -> Option<UserId> {
        let text = text.trim();
        let groups: Vec<&str> = text.split('-').collect();
        let shape = [8, 4, 4, 4, 12];
        (groups.len() == 5
            && groups.iter().zip(shape).all(|(group, len)| {
                group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit())
            }))
        .then(|| UserId(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user principal name: `local@domain`, exactly one `@`, unique case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Upn(String);

impl Upn {
    pub fn parse(text: &str) -> Result<Upn, DirectoryError> {
        let invalid = |why: &str| DirectoryError::UpnInvalid {
            upn: text.to_owned(),
            why: why.to_owned(),
        };
        if text.chars().count() > MAX_UPN_CHARS {
            return Err(invalid("it is longer than 113 characters"));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains spaces or control characters"));
        }
        match text.split('@').collect::<Vec<_>>().as_slice() {
            [local, domain] if !local.is_empty() && !domain.is_empty() => Ok(Upn(text.to_owned())),
            [_, _] => Err(invalid("both sides of the @ must be non-empty")),
            _ => Err(invalid("it must contain exactly one @ (user@domain)")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Upn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub upn: Upn,
    /// onPremisesImmutableId: the federation NameID (≤ 64 characters, unique).
    pub immutable_id: String,
    pub display_name: String,
    pub mail: Option<String>,
    /// `SMTP:a@b` (primary, at most one) and `smtp:c@d` (secondary), or other `type:address`.
    pub proxy_addresses: Vec<String>,
    /// authorizationInfo.certificateUserIds: up to 10 `X509:<...>` values, unique across
    /// all users.
    pub certificate_user_ids: Vec<String>,
    pub enabled: bool,
    pub groups: Vec<String>,
    /// Refresh tokens and sessions issued at or before this instant are no longer accepted.
    pub sts_refresh_tokens_valid_from: Option<UnixTime>,
    pub created_at: UnixTime,
}

impl User {
    /// Whether a refresh token or session issued at `issued_at` survives the user's
    /// StsRefreshTokensValidFrom. Issued in the same second counts as before: the store keeps
    /// seconds, and a revocation must not miss a token issued just before it.
    pub fn accepts_token_issued_at(&self, issued_at: UnixTime) -> bool {
        self.sts_refresh_tokens_valid_from
            .is_none_or(|valid_from| issued_at > valid_from)
    }
}

/// What an administrator gives for a new user, or the new state of an existing one. Checked
/// and normalized by [`prepare_user`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserDraft {
    pub upn: String,
    /// Default for a new user: its object ID.
    pub immutable_id: Option<String>,
    /// Default: the UPN.
    pub display_name: Option<String>,
    pub mail: Option<String>,
    pub proxy_addresses: Vec<String>,
    pub certificate_user_ids: Vec<String>,
    pub enabled: bool,
    pub groups: Vec<String>,
}

impl UserDraft {
    /// An enabled user with only a UPN.
    pub fn new(upn: impl Into<String>) -> UserDraft {
        UserDraft {
            upn: upn.into(),
            immutable_id: None,
            display_name: None,
            mail: None,
            proxy_addresses: Vec::new(),
            certificate_user_ids: Vec::new(),
            enabled: true,
            groups: Vec::new(),
        }
    }
}

impl From<&User> for UserDraft {
    fn from(user: &User) -> Self {
        UserDraft {
            upn: user.upn.to_string(),
            immutable_id: Some(user.immutable_id.clone()),
            display_name: Some(user.display_name.clone()),
            mail: user.mail.clone(),
            proxy_addresses: user.proxy_addresses.clone(),
            certificate_user_ids: user.certificate_user_ids.clone(),
            enabled: user.enabled,
            groups: user.groups.clone(),
        }
    }
}

/// Checks a draft and builds the user it describes, keeping `id`, `created_at` and the token
/// epoch. certificateUserIds come out normalized (hex in lowercase without separators), so
/// they compare exactly with what [`certgate_pki::Identity`] produces.
pub fn prepare_user(
    draft: UserDraft,
    id: UserId,
    created_at: UnixTime,
    sts_refresh_tokens_valid_from: Option<UnixTime>,
) -> Result<User, DirectoryError> {
    let upn = Upn::parse(&draft.upn)?;
    let immutable_id = draft
        .immutable_id
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| id.to_string());
    check_immutable_id(&immutable_id)?;
    let display_name = draft
        .display_name
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| upn.to_string());
    if display_name.chars().count() > MAX_TEXT_CHARS || display_name.chars().any(char::is_control) {
        return Err(DirectoryError::DisplayNameInvalid {
            why: "a display name has at most 256 characters and no control characters".into(),
        });
    }
    let mail = draft.mail.filter(|mail| !mail.is_empty());
    if let Some(mail) = &mail {
        if !is_address(mail) {
            return Err(DirectoryError::MailInvalid { mail: mail.clone() });
        }
    }
    check_proxy_addresses(&draft.proxy_addresses)?;
    let certificate_user_ids = normalize_certificate_user_ids(&draft.certificate_user_ids)?;
    let mut groups: Vec<String> = Vec::with_capacity(draft.groups.len());
    for group in draft.groups {
        let group = group.trim().to_owned();
        if group.is_empty()
            || group.chars().count() > MAX_TEXT_CHARS
            || group.chars().any(char::is_control)
        {
            return Err(DirectoryError::GroupInvalid {
                group,
                why: "a group name has 1 to 256 characters and no control characters".into(),
            });
        }
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    Ok(User {
        id,
        upn,
        immutable_id,
        display_name,
        mail,
        proxy_addresses: draft.proxy_addresses,
        certificate_user_ids,
        enabled: draft.enabled,
        groups,
        sts_refresh_tokens_valid_from,
        created_at,
    })
}

fn check_immutable_id(value: &str) -> Result<(), DirectoryError> {
    let invalid = |why: &str| DirectoryError::ImmutableIdInvalid {
        value: value.to_owned(),
        why: why.to_owned(),
    };
    if value.chars().count() > MAX_IMMUTABLE_ID_CHARS {
        return Err(invalid("it is longer than 64 characters"));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "it must be printable ASCII without spaces (a GUID, or base64 of one)",
        ));
    }
    Ok(())
}

/// `local@domain` with both parts non-empty, one `@`, no spaces, at most 256 characters.
fn is_address(text: &str) -> bool {
    text.chars().count() <= MAX_TEXT_CHARS
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(text.split('@').collect::<Vec<_>>().as_slice(),
            [local, domain] if !local.is_empty() && !domain.is_empty())
}

fn check_proxy_addresses(values: &[String]) -> Result<(), DirectoryError> {
    let mut seen: Vec<String> = Vec::with_capacity(values.len());
    let mut primary = 0;
    for value in values {
        let invalid = |why: &str| DirectoryError::ProxyAddressInvalid {
            value: value.clone(),
            why: why.to_owned(),
        };
        let Some((kind, address)) = value.split_once(':') else {
            return Err(invalid(
                "a proxy address is type:address, e.g. SMTP:alice@contoso.com (primary) or smtp:alias@contoso.com",
            ));
        };
        if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid(
                "the type before the colon must be letters or digits (SMTP, smtp, SIP, X500, ...)",
            ));
        }
        if address.is_empty()
            || value.chars().count() > MAX_TEXT_CHARS
            || value.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(
                "the address must be non-empty, without spaces, and the whole value at most 256 characters",
            ));
        }
        if kind.eq_ignore_ascii_case("smtp") && !is_address(address) {
            return Err(invalid("an SMTP address must be local@domain"));
        }
        if kind == "SMTP" {
            primary += 1;
            if primary > 1 {
                return Err(invalid(
                    "only one SMTP: (upper case) address can be primary; write the others as smtp:",
                ));
            }
        }
        let key = fold_case(value);
        if seen.contains(&key) {
            return Err(invalid("the same address is listed twice"));
        }
        seen.push(key);
    }
    Ok(())
}

/// Checks and normalizes a user's certificateUserIds: at most 10, no duplicates, each valid
/// (see [`normalize_certificate_user_id`]).
pub fn normalize_certificate_user_ids(values: &[String]) -> Result<Vec<String>, DirectoryError> {
    if values.len() > MAX_CERTIFICATE_USER_IDS {
        return Err(DirectoryError::TooManyCertificateUserIds {
            count: values.len(),
        });
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let (_, normalized) = normalize_certificate_user_id(value).map_err(|why| {
            DirectoryError::CertificateUserIdInvalid {
                value: value.clone(),
                why,
            }
        })?;
        if out.contains(&normalized) {
            return Err(DirectoryError::CertificateUserIdInvalid {
                value: value.clone(),
                why: "it is listed twice".into(),
            });
        }
        out.push(normalized);
    }
    Ok(out)
}

/// One certificateUserIds value in one of the seven forms Entra ID defines (and
/// [`certgate_pki::Identity`] produces): `X509:<PN>upn`, `X509:<RFC822>mail`, `X509:<S>subject`,
/// `X509:<I>issuer<S>subject`, `X509:<I>issuer<SR>reversed-serial-hex`, `X509:<SKI>hex`,
/// `X509:<SHA1-PUKEY>hex`. Hex parts are normalized to lowercase without separators; the rest
/// is kept exactly. Returns the field it binds and the normalized value, or why it is invalid.
pub fn normalize_certificate_user_id(value: &str) -> Result<(CertificateField, String), String> {
    if value.chars().count() > MAX_CERTIFICATE_USER_ID_CHARS {
        return Err("it is longer than 1024 characters".into());
    }
    if value.chars().any(char::is_control) {
        return Err("it contains control characters".into());
    }
    let Some(rest) = value.strip_prefix("X509:<") else {
        return Err(
            "a certificateUserIds value starts with X509:< (`certgate verify --json LEAF` prints the values of a certificate)"
                .into(),
        );
    };
    let hex = |text: &str, what: &str| {
        crate::parse_hex(text)
            .map(|bytes| crate::hex(&bytes))
            .ok_or_else(|| format!("the {what} must be hexadecimal"))
    };
    let non_empty = |text: &str, what: &str| {
        if text.trim().is_empty() {
            Err(format!("the {what} is empty"))
        } else {
            Ok(())
        }
    };
    let (field, normalized) = if let Some(upn) = rest.strip_prefix("PN>") {
        non_empty(upn, "principal name")?;
        (CertificateField::PrincipalName, value.to_owned())
    } else if let Some(mail) = rest.strip_prefix("RFC822>") {
        non_empty(mail, "RFC 822 name")?;
        (CertificateField::Rfc822Name, value.to_owned())
    } else if let Some(subject) = rest.strip_prefix("S>") {
        non_empty(subject, "subject")?;
        (CertificateField::Subject, value.to_owned())
    } else if let Some(issuer_and) = rest.strip_prefix("I>") {
        if let Some((issuer, serial)) = issuer_and.split_once("<SR>") {
            non_empty(issuer, "issuer")?;
            let serial = hex(serial, "reversed serial number")?;
            (
                CertificateField::IssuerAndSerialNumber,
                format!("X509:<I>{issuer}<SR>{serial}"),
            )
        } else if let Some((issuer, subject)) = issuer_and.split_once("<S>") {
            non_empty(issuer, "issuer")?;
            non_empty(subject, "subject")?;
            (CertificateField::IssuerAndSubject, value.to_owned())
        } else {
            return Err("an X509:<I> value continues with <S>subject or <SR>serial".into());
        }
    } else if let Some(ski) = rest.strip_prefix("SKI>") {
        (
            CertificateField::SubjectKeyIdentifier,
            format!("X509:<SKI>{}", hex(ski, "subject key identifier")?),
        )
    } else if let Some(key_hash) = rest.strip_prefix("SHA1-PUKEY>") {
        let key_hash = hex(key_hash, "SHA-1 public key hash")?;
        if key_hash.len() != 40 {
            return Err("the SHA-1 public key hash has 20 bytes (40 hex digits)".into());
        }
        (
            CertificateField::Sha1PublicKey,
            format!("X509:<SHA1-PUKEY>{key_hash}"),
        )
    } else {
        return Err(
            "the form must be one of <PN>, <RFC822>, <S>, <I>…<S>, <I>…<SR>, <SKI>, <SHA1-PUKEY>"
                .into(),
        );
    };
    Ok((field, normalized))
}

/// A fixed-size key for a certificateUserIds value (SHA-256, hex): the store indexes this
/// rather than the value, which may be 1024 characters of UTF-8 (more than a PostgreSQL
/// b-tree entry holds).
pub fn certificate_user_id_key(value: &str) -> String {
    crate::hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes()).as_ref())
}

/// Why a directory change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("\"{upn}\" is not a valid user principal name: {why}")]
    UpnInvalid { upn: String, why: String },
    #[error("the user principal name {upn} is already used by {existing}")]
    UpnTaken { upn: String, existing: String },
    #[error("\"{value}\" is not a valid immutable ID: {why}")]
    ImmutableIdInvalid { value: String, why: String },
    #[error("the immutable ID \"{value}\" is already used by {other}")]
    ImmutableIdTaken { value: String, other: String },
    #[error("invalid display name: {why}")]
    DisplayNameInvalid { why: String },
    #[error("\"{mail}\" is not a mail address (local@domain, no spaces, at most 256 characters)")]
    MailInvalid { mail: String },
    #[error("invalid proxy address \"{value}\": {why}")]
    ProxyAddressInvalid { value: String, why: String },
    #[error("the proxy address \"{value}\" already belongs to {other}")]
    ProxyAddressTaken { value: String, other: String },
    #[error("invalid certificateUserIds value \"{value}\": {why}")]
    CertificateUserIdInvalid { value: String, why: String },
    #[error("{count} certificateUserIds values given; a user has at most 10")]
    TooManyCertificateUserIds { count: usize },
    #[error("the certificateUserIds value \"{value}\" already belongs to {other}; a certificate must map to one user, so remove it there first")]
    CertificateUserIdTaken { value: String, other: String },
    #[error("invalid group \"{group}\": {why}")]
    GroupInvalid { group: String, why: String },
    #[error("invalid {field} \"{value}\": {why}")]
    FieldInvalid {
        field: &'static str,
        value: String,
        why: String,
    },
    #[error("no user has the UPN or object ID \"{key}\"; `certgate user list` shows the users")]
    UserNotFound { key: String },
    #[error("StsRefreshTokensValidFrom must be a date in the future; {} is not after {} and nothing was changed (a future date sets it to the current time; `certgate user revoke-sessions` does that directly)", rfc3339(*.date), rfc3339(*.now))]
    StsDateNotInFuture { date: UnixTime, now: UnixTime },
    #[error("the CSV header is not usable: {why}")]
    ImportHeader { why: String },
    #[error("the CSV row is not usable: {why}")]
    ImportRowMalformed { why: String },
    #[error("the system's random number generator failed; no object ID could be made")]
    RandomnessUnavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DirectoryError {
    /// Every code [`DirectoryError::code`] answers with (its store failures are
    /// [`StoreError::CODES`]). `user-not-found` and `randomness-unavailable`, which other types
    /// answer with too, are listed here only.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "user-upn-invalid",
            "The user principal name is not `local@domain` with exactly one @, both sides non-empty, no spaces or control characters and at most 113 characters.",
            "Correct the UPN (for example alice@contoso.example) and repeat `certgate user add`, `certgate user set --upn` or the import.",
        ),
        ReasonCode::new(
            "user-upn-taken",
            "Another user already has this user principal name (UPNs are compared case-insensitively).",
            "Choose another UPN, or change the existing user (`certgate user get UPN`, `certgate user set`).",
        ),
        ReasonCode::new(
            "user-immutable-id-invalid",
            "The immutable ID (onPremisesImmutableId) is longer than 64 characters or is not printable ASCII without spaces.",
            "Give a GUID or the base64 of one, at most 64 characters (`--immutable-id`), or leave it out to use the object ID.",
        ),
        ReasonCode::new(
            "user-immutable-id-taken",
            "Another user already has this immutable ID, which must be unique: it is the federation NameID.",
            "Choose another immutable ID, or leave it out to use the object ID.",
        ),
        ReasonCode::new(
            "user-display-name-invalid",
            "The display name is longer than 256 characters or contains control characters.",
            "Give a display name of at most 256 characters without tabs, line breaks or other control characters.",
        ),
        ReasonCode::new(
            "user-mail-invalid",
            "The mail address is not `local@domain` without spaces, at most 256 characters.",
            "Correct the address (`--mail`), or leave it out.",
        ),
        ReasonCode::new(
            "user-proxy-address-invalid",
            "A proxy address is not `type:address` (SMTP:alice@contoso.example), is too long, repeats another, or is a second primary (upper-case SMTP:) address.",
            "Write each as TYPE:address, with at most one upper-case SMTP: (primary) address and the others as smtp:.",
        ),
        ReasonCode::new(
            "user-proxy-address-taken",
            "Another user already has this proxy address (compared case-insensitively).",
            "Remove it from the other user first (`certgate user set OTHER --remove-proxy-address VALUE`), or use another address.",
        ),
        ReasonCode::new(
            "user-certificate-user-id-invalid",
            "A certificateUserIds value is not in one of the seven `X509:<...>` forms, is longer than 1024 characters, or is listed twice.",
            "Copy the value from `certgate verify --json LEAF`, which prints a certificate's values in the right forms.",
        ),
        ReasonCode::new(
            "user-certificate-user-ids-too-many",
            "More than 10 certificateUserIds values were given for one user (Entra ID's limit).",
            "Keep at most 10 values: remove those of certificates no longer in use (`certgate user set USER --remove-certificate-user-id VALUE`).",
        ),
        ReasonCode::new(
            "user-certificate-user-id-taken",
            "The certificateUserIds value already belongs to another user, and a certificate must map to one user.",
            "Remove it from the other user first (`certgate user set OTHER --remove-certificate-user-id VALUE`).",
        ),
        ReasonCode::new(
            "user-group-invalid",
            "A group name is empty, longer than 256 characters, or contains control characters.",
            "Give group names of 1 to 256 characters without control characters.",
        ),
        ReasonCode::new(
            "user-field-invalid",
            "A user attribute has a value it cannot take (for example an accountEnabled cell in an import that is neither true nor false); the message names the field.",
            "Correct the value the message names (accountEnabled takes true or false) and save or import again.",
        ),
        ReasonCode::new(
            "user-not-found",
            "No user in certgate's directory has the given UPN or object ID.",
            "Check the UPN or object ID: `certgate user list` shows the users, and `certgate user add` adds one.",
        ),
        ReasonCode::new(
            "sts-date-not-in-future",
            "StsRefreshTokensValidFrom must be given a date in the future (which then stores the current time), and the date given is not; nothing was changed.",
            "Give a future date, or revoke the user's sessions now with `certgate user revoke-sessions USER`.",
        ),
        ReasonCode::new(
            "import-header-invalid",
            "The import file's first line cannot be used: the file is not readable CSV, or a column is unknown or repeated, or userPrincipalName is missing. Nothing was imported.",
            "Make the first line name the columns: userPrincipalName (required), displayName, mail, onPremisesImmutableId, proxyAddresses, certificateUserIds, accountEnabled, groups.",
        ),
        ReasonCode::new(
            "import-row-malformed",
            "A row of the import file cannot be read: it has another number of fields than the header, or a field is not UTF-8. That row was not imported; the others were.",
            "Fix the rows the report names (save the file as UTF-8 CSV) and import just those rows again (`certgate user import FILE`).",
        ),
        ReasonCode::new(
            "randomness-unavailable",
            "The system's random number generator failed, so certgate could not make the random value it needed (an object ID, an admin token, an enrollment code, a relying-party ID); nothing was created.",
            "Try again. Administrators: if it keeps failing, check the host's random number source; the server log has the error.",
        ),
    ];

    pub fn code(&self) -> &'static str {
        match self {
            DirectoryError::UpnInvalid { .. } => "user-upn-invalid",
            DirectoryError::UpnTaken { .. } => "user-upn-taken",
            DirectoryError::ImmutableIdInvalid { .. } => "user-immutable-id-invalid",
            DirectoryError::ImmutableIdTaken { .. } => "user-immutable-id-taken",
            DirectoryError::DisplayNameInvalid { .. } => "user-display-name-invalid",
            DirectoryError::MailInvalid { .. } => "user-mail-invalid",
            DirectoryError::ProxyAddressInvalid { .. } => "user-proxy-address-invalid",
            DirectoryError::ProxyAddressTaken { .. } => "user-proxy-address-taken",
            DirectoryError::CertificateUserIdInvalid { .. } => "user-certificate-user-id-invalid",
            DirectoryError::TooManyCertificateUserIds { .. } => {
                "user-certificate-user-ids-too-many"
            }
            DirectoryError::CertificateUserIdTaken { .. } => "user-certificate-user-id-taken",
            DirectoryError::GroupInvalid { .. } => "user-group-invalid",
            DirectoryError::FieldInvalid { .. } => "user-field-invalid",
            DirectoryError::UserNotFound { .. } => "user-not-found",
            DirectoryError::StsDateNotInFuture { .. } => "sts-date-not-in-future",
            DirectoryError::ImportHeader { .. } => "import-header-invalid",
            DirectoryError::ImportRowMalformed { .. } => "import-row-malformed",
            DirectoryError::RandomnessUnavailable => "randomness-unavailable",
            DirectoryError::Store(error) => error.code(),
        }
    }
}

/// The directory's storage port: users, binding rules, strength rules.
///
/// Every write is one transaction that also appends `audit` and bumps the generation.
/// Uniqueness (UPN case-insensitively, immutable ID, proxy addresses case-insensitively,
/// certificateUserIds exactly) is enforced by the store itself, so two nodes writing at once
/// cannot both win: the loser gets `StoreError::Conflict`.
pub trait DirectoryStore: UserLookup + 'static {
    /// Ordered by UPN.
    fn list_users(&self) -> impl Future<Output = StoreResult<Vec<User>>> + Send;
    fn user_by_id(&self, id: &UserId) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// Case-insensitive.
    fn user_by_upn(&self, upn: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    fn user_by_immutable_id(
        &self,
        immutable_id: &str,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// `Conflict` when a unique value is taken.
    fn insert_user(
        &self,
        user: &User,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Replaces every attribute but the id, created_at and the token epoch. `NotFound`,
    /// `Conflict`.
    fn update_user(
        &self,
        user: &User,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// `NotFound` when there is no such user.
    fn delete_user(
        &self,
        id: &UserId,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Sets StsRefreshTokensValidFrom. `NotFound` when there is no such user.
    fn set_sts_refresh_tokens_valid_from(
        &self,
        id: &UserId,
        valid_from: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The configured rules (empty: the defaults apply) and the default required affinity.
    fn binding_policy(&self) -> impl Future<Output = StoreResult<BindingPolicy>> + Send;
    /// `Conflict` when the priority is taken.
    fn insert_binding_rule(
        &self,
        rule: &BindingRule,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// `NotFound` when no rule has this priority.
    fn delete_binding_rule(
        &self,
        priority: u32,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn set_default_required_affinity(
        &self,
        affinity: Affinity,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Ordered by id.
    fn strength_rules(&self) -> impl Future<Output = StoreResult<Vec<StrengthRule>>> + Send;
    fn insert_strength_rule(
        &self,
        rule: &StrengthRuleSpec,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<StrengthRule>> + Send;
    /// `NotFound` when there is no such rule.
    fn delete_strength_rule(
        &self,
        id: StrengthRuleId,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

// ---- Users ------------------------------------------------------------------------------------

/// All users, ordered by UPN.
pub async fn list_users<S: DirectoryStore>(store: &S) -> Result<Vec<User>, DirectoryError> {
    Ok(store.list_users().await?)
}

/// A user by object ID or UPN (case-insensitive).
pub async fn find_user<S: DirectoryStore>(store: &S, key: &str) -> Result<User, DirectoryError> {
    let found = match UserId::parse(key) {
        Some(id) => store.user_by_id(&id).await?,
        None => None,
    };
    let found = match found {
        Some(user) => Some(user),
        None => store.user_by_upn(key.trim()).await?,
    };
    found.ok_or_else(|| DirectoryError::UserNotFound {
        key: key.to_owned(),
    })
}

/// Adds a user: checks the draft, refuses a taken UPN, immutable ID, proxy address or
/// certificateUserIds value (naming the user who has it), then writes.
pub async fn add_user<S: DirectoryStore>(
    store: &S,
    draft: UserDraft,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let user = prepare_user(draft, UserId::generate()?, now, None)?;
    check_unique(store, &user).await?;
    let audit = AuditEvent::new(
        now,
        actor,
        "user.add",
        user_target(&user),
        "ok",
        describe(&user),
    );
    write_checked(store, &user, store.insert_user(&user, &audit)).await?;
    Ok(user)
}

/// Changes a user: `change` gets the current attributes and returns the new ones.
pub async fn set_user<S: DirectoryStore>(
    store: &S,
    key: &str,
    change: impl FnOnce(UserDraft) -> UserDraft,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let current = find_user(store, key).await?;
    let draft = change(UserDraft::from(&current));
    let user = prepare_user(
        draft,
        current.id.clone(),
        current.created_at,
        current.sts_refresh_tokens_valid_from,
    )?;
    check_unique(store, &user).await?;
    let audit = AuditEvent::new(
        now,
        actor,
        "user.set",
        user_target(&user),
        "ok",
        changes(&current, &user),
    );
    match write_checked(store, &user, store.update_user(&user, &audit)).await {
        Err(DirectoryError::Store(StoreError::NotFound { .. })) => {
            return Err(DirectoryError::UserNotFound {
                key: key.to_owned(),
            })
        }
        other => other?,
    }
    Ok(user)
}

/// Removes a user.
pub async fn remove_user<S: DirectoryStore>(
    store: &S,
    key: &str,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let user = find_user(store, key).await?;
    let audit = AuditEvent::new(
        now,
        actor,
        "user.remove",
        user_target(&user),
        "ok",
        describe(&user),
    );
    match store.delete_user(&user.id, &audit).await {
        Err(StoreError::NotFound { .. }) => Err(DirectoryError::UserNotFound {
            key: key.to_owned(),
        }),
        Err(other) => Err(other.into()),
        Ok(()) => Ok(user),
    }
}

/// `Set-MsolUser -StsRefreshTokensValidFrom DATE`, exactly as Microsoft documents it: a date
/// that is not in the future is refused and nothing changes; a future date sets the value to
/// *now* (not to the date given).
pub async fn set_sts_refresh_tokens_valid_from<S: DirectoryStore>(
    store: &S,
    key: &str,
    date: UnixTime,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let user = find_user(store, key).await?;
    if date <= now {
        return Err(DirectoryError::StsDateNotInFuture { date, now });
    }
    store_sts(
        store,
        user,
        now,
        actor,
        "user.set-sts-refresh-tokens-valid-from",
        format!("requested {}, stored the current time", rfc3339(date)),
    )
    .await
}

/// Revokes the user's refresh tokens and sessions now (StsRefreshTokensValidFrom = now).
pub async fn revoke_sessions<S: DirectoryStore>(
    store: &S,
    key: &str,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let user = find_user(store, key).await?;
    store_sts(
        store,
        user,
        now,
        actor,
        "user.revoke-sessions",
        "every refresh token and session issued until now is revoked".into(),
    )
    .await
}

async fn store_sts<S: DirectoryStore>(
    store: &S,
    user: User,
    now: UnixTime,
    actor: &str,
    action: &str,
    detail: String,
) -> Result<User, DirectoryError> {
    let audit = AuditEvent::new(
        now,
        actor,
        action,
        user_target(&user),
        "ok",
        format!("StsRefreshTokensValidFrom = {}: {detail}", rfc3339(now)),
    );
    match store
        .set_sts_refresh_tokens_valid_from(&user.id, now, &audit)
        .await
    {
        Err(StoreError::NotFound { .. }) => Err(DirectoryError::UserNotFound {
            key: user.upn.to_string(),
        }),
        Err(other) => Err(other.into()),
        Ok(()) => Ok(User {
            sts_refresh_tokens_valid_from: Some(now),
            ..user
        }),
    }
}

/// Runs a write; a `Conflict` (another writer took a unique value between the check and the
/// write) is reported as precisely as the check would have.
async fn write_checked<S: DirectoryStore>(
    store: &S,
    user: &User,
    write: impl Future<Output = StoreResult<()>>,
) -> Result<(), DirectoryError> {
    match write.await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict { what }) => {
            check_unique(store, user).await?;
            Err(StoreError::Conflict { what }.into())
        }
        Err(other) => Err(other.into()),
    }
}

/// Refuses values that another user already has.
async fn check_unique<S: DirectoryStore>(store: &S, user: &User) -> Result<(), DirectoryError> {
    let others = |users: Vec<User>| users.into_iter().filter(|other| other.id != user.id);
    if let Some(other) = others(
        store
            .find_users(UserAttribute::UserPrincipalName, user.upn.as_str())
            .await?,
    )
    .find(|other| fold_case(other.upn.as_str()) == fold_case(user.upn.as_str()))
    {
        return Err(DirectoryError::UpnTaken {
            upn: user.upn.to_string(),
            existing: other.upn.to_string(),
        });
    }
    if let Some(other) = store
        .user_by_immutable_id(&user.immutable_id)
        .await?
        .filter(|other| other.id != user.id)
    {
        return Err(DirectoryError::ImmutableIdTaken {
            value: user.immutable_id.clone(),
            other: other.upn.to_string(),
        });
    }
    for proxy in &user.proxy_addresses {
        let address = proxy_address_part(proxy);
        if let Some(other) = others(
            store
                .find_users(UserAttribute::ProxyAddresses, address)
                .await?,
        )
        .find(|other| {
            other
                .proxy_addresses
                .iter()
                .any(|theirs| fold_case(theirs) == fold_case(proxy))
        }) {
            return Err(DirectoryError::ProxyAddressTaken {
                value: proxy.clone(),
                other: other.upn.to_string(),
            });
        }
    }
    for value in &user.certificate_user_ids {
        if let Some(other) = others(
            store
                .find_users(UserAttribute::CertificateUserIds, value)
                .await?,
        )
        .find(|other| other.certificate_user_ids.contains(value))
        {
            return Err(DirectoryError::CertificateUserIdTaken {
                value: value.clone(),
                other: other.upn.to_string(),
            });
        }
    }
    Ok(())
}

fn user_target(user: &User) -> String {
    format!("user {} ({})", user.upn, user.id)
}

fn describe(user: &User) -> String {
    format!(
        "displayName \"{}\", immutableId {}, mail {}, enabled {}, proxyAddresses [{}], certificateUserIds [{}], groups [{}]",
        user.display_name,
        user.immutable_id,
        user.mail.as_deref().unwrap_or("none"),
        user.enabled,
        user.proxy_addresses.join(", "),
        user.certificate_user_ids.join(", "),
        user.groups.join(", "),
    )
}

/// What changed, for the audit log.
fn changes(before: &User, after: &User) -> String {
    let mut out = Vec::new();
    let mut diff = |name: &str, old: String, new: String| {
        if old != new {
            out.push(format!("{name}: {old} -> {new}"));
        }
    };
    diff("upn", before.upn.to_string(), after.upn.to_string());
    diff(
        "immutableId",
        before.immutable_id.clone(),
        after.immutable_id.clone(),
    );
    diff(
        "displayName",
        before.display_name.clone(),
        after.display_name.clone(),
    );
    diff(
        "mail",
        format!("{:?}", before.mail),
        format!("{:?}", after.mail),
    );
    diff(
        "enabled",
        before.enabled.to_string(),
        after.enabled.to_string(),
    );
    diff(
        "proxyAddresses",
        format!("{:?}", before.proxy_addresses),
        format!("{:?}", after.proxy_addresses),
    );
    diff(
        "certificateUserIds",
        format!("{:?}", before.certificate_user_ids),
        format!("{:?}", after.certificate_user_ids),
    );
    diff(
        "groups",
        format!("{:?}", before.groups),
        format!("{:?}", after.groups),
    );
    if out.is_empty() {
        "no change".into()
    } else {
        out.join("; ")
    }
}

// ---- CSV import -------------------------------------------------------------------------------

/// Columns of `certgate user import`, by Microsoft Graph name (case-insensitive).
/// Multi-valued cells separate values with `;` (a `;` inside a certificateUserIds value is
/// kept: values are split only before `X509:`).
pub const IMPORT_COLUMNS: [&str; 8] = [
    "userPrincipalName",
    "displayName",
    "mail",
    "onPremisesImmutableId",
    "proxyAddresses",
    "certificateUserIds",
    "accountEnabled",
    "groups",
];

/// One data row of an import file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvUserRow {
    /// Line number in the file (the header is line 1).
    pub row: u64,
    /// The UPN cell, when the row has one (for the report).
    pub upn: Option<String>,
    pub draft: Result<UserDraft, DirectoryError>,
}

/// Reads an import file. A header that cannot be used (no userPrincipalName column, an
/// unknown or repeated column) refuses the whole file, since a column certgate does not know
/// would otherwise be dropped silently. Every data row comes back, each with its draft or the
/// reason it is unusable.
pub fn parse_users_csv(bytes: &[u8]) -> Result<Vec<CsvUserRow>, DirectoryError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|error| DirectoryError::ImportHeader {
            why: error.to_string(),
        })?
        .clone();
    let mut columns: Vec<usize> = Vec::with_capacity(header.len());
    for cell in header.iter() {
        let name = String::from_utf8_lossy(cell);
        let Some(index) = IMPORT_COLUMNS
            .iter()
            .position(|known| known.eq_ignore_ascii_case(&name))
        else {
            return Err(DirectoryError::ImportHeader {
                why: format!(
                    "unknown column \"{name}\" (the columns are {})",
                    IMPORT_COLUMNS.join(", ")
                ),
            });
        };
        if columns.contains(&index) {
            return Err(DirectoryError::ImportHeader {
                why: format!("the column {} appears twice", IMPORT_COLUMNS[index]),
            });
        }
        columns.push(index);
    }
    if !columns.contains(&0) {
        return Err(DirectoryError::ImportHeader {
            why: "the userPrincipalName column is required (first line: the column names)".into(),
        });
    }
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    // Line numbers are counted here from the record's byte offset: the csv reader's own line
    // count is off by one per line in a CRLF file (Excel's and Windows' default).
    let line_of = |position: &csv::Position| line_at(bytes, position.byte());
    loop {
        let line = line_of(reader.position());
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let row = record.position().map_or(line, line_of);
                rows.push(parse_row(row, &columns, &record));
            }
            Err(error) => {
                let row = error.position().map_or(line, line_of);
                rows.push(CsvUserRow {
                    row,
                    upn: None,
                    draft: Err(DirectoryError::ImportRowMalformed {
                        why: error.to_string(),
                    }),
                });
                if matches!(error.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
    }
    Ok(rows)
}

/// The 1-based line that byte `offset` of `bytes` is on; CRLF, LF and a lone CR each end a
/// line.
fn line_at(bytes: &[u8], offset: u64) -> u64 {
    let end = usize::try_from(offset).map_or(bytes.len(), |offset| offset.min(bytes.len()));
    let before = &bytes[..end];
    let mut line = 1;
    for (i, &byte) in before.iter().enumerate() {
        let ends_line = byte == b'\n' || (byte == b'\r' && before.get(i + 1) != Some(&b'\n'));
        if ends_line {
            line += 1;
        }
    }
    line
}

fn parse_row(row: u64, columns: &[usize], record: &csv::ByteRecord) -> CsvUserRow {
    let mut cells: [Option<String>; IMPORT_COLUMNS.len()] = Default::default();
    let mut malformed = None;
    if record.len() != columns.len() {
        malformed = Some(format!(
            "it has {} fields, the header has {}",
            record.len(),
            columns.len()
        ));
    }
    for (cell, &column) in record.iter().zip(columns) {
        match std::str::from_utf8(cell) {
            Ok(text) if !text.is_empty() => cells[column] = Some(text.to_owned()),
            Ok(_) => {}
            Err(_) => {
                malformed
                    .get_or_insert(format!("the {} field is not UTF-8", IMPORT_COLUMNS[column]));
            }
        }
    }
    let upn = cells[0].clone();
    let draft = match (malformed, &upn) {
        (Some(why), _) => Err(DirectoryError::ImportRowMalformed { why }),
        (None, None) => Err(DirectoryError::UpnInvalid {
            upn: String::new(),
            why: "the userPrincipalName field is empty".into(),
        }),
        (None, Some(upn)) => draft_from_cells(upn, cells),
    };
    CsvUserRow { row, upn, draft }
}

fn draft_from_cells(
    upn: &str,
    cells: [Option<String>; IMPORT_COLUMNS.len()],
) -> Result<UserDraft, DirectoryError> {
    let [_, display_name, mail, immutable_id, proxy_addresses, certificate_user_ids, enabled, groups] =
        cells;
    let list = |cell: Option<String>| -> Vec<String> {
        cell.iter()
            .flat_map(|text| text.split(';'))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let enabled = match enabled.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "yes" | "1") => true,
        Some("false" | "no" | "0") => false,
        Some(_) => {
            return Err(DirectoryError::FieldInvalid {
                field: "accountEnabled",
                value: enabled.unwrap_or_default(),
                why: "use true or false".into(),
            })
        }
    };
    Ok(UserDraft {
        upn: upn.to_owned(),
        immutable_id,
        display_name,
        mail,
        proxy_addresses: list(proxy_addresses),
        certificate_user_ids: certificate_user_ids
            .as_deref()
            .map(split_certificate_user_ids)
            .unwrap_or_default(),
        enabled,
        groups: list(groups),
    })
}

/// Splits `X509:<...>;X509:<...>` at the `;` that start a new value.
fn split_certificate_user_ids(cell: &str) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for piece in cell.split(';') {
        match values.last_mut() {
            Some(last) if !piece.trim_start().starts_with("X509:") => {
                last.push(';');
                last.push_str(piece);
            }
            _ => values.push(piece.to_owned()),
        }
    }
    values
        .into_iter()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

/// What happened to one row of an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedRow {
    pub row: u64,
    pub upn: Option<String>,
    pub result: Result<User, DirectoryError>,
}

/// Adds every usable row, each in its own transaction; a refused row is reported and the
/// others are kept. Returns one entry per row, in file order.
pub async fn import_users<S: DirectoryStore>(
    store: &S,
    rows: Vec<CsvUserRow>,
    now: UnixTime,
    actor: &str,
) -> Vec<ImportedRow> {
    let mut report = Vec::with_capacity(rows.len());
    for row in rows {
        let result = match row.draft {
            Ok(draft) => add_user(store, draft, now, actor).await,
            Err(error) => Err(error),
        };
        report.push(ImportedRow {
            row: row.row,
            upn: row.upn,
            result,
        });
    }
    report
}

// ---- Binding rules ----------------------------------------------------------------------------

pub async fn binding_policy<S: DirectoryStore>(
    store: &S,
) -> Result<BindingPolicy, BindingRuleError> {
    Ok(store.binding_policy().await?)
}

/// Adds a rule; without a priority, after the last configured rule.
pub async fn add_binding_rule<S: DirectoryStore>(
    store: &S,
    certificate_field: CertificateField,
    user_attribute: UserAttribute,
    priority: Option<u32>,
    now: UnixTime,
    actor: &str,
) -> Result<BindingRule, BindingRuleError> {
    let policy = store.binding_policy().await?;
    let priority = priority.unwrap_or_else(|| {
        policy
            .rules
            .iter()
            .map(|rule| rule.priority)
            .max()
            .map_or(1, |last| last.saturating_add(1))
    });
    let rule = BindingRule::new(priority, certificate_field, user_attribute);
    rule.check()?;
    let taken = |policy: &BindingPolicy| {
        policy
            .rules
            .iter()
            .find(|existing| existing.priority == priority)
            .copied()
    };
    if let Some(existing) = taken(&policy) {
        return Err(BindingRuleError::PriorityTaken { priority, existing });
    }
    let audit = AuditEvent::new(
        now,
        actor,
        "binding.add",
        format!("binding rule {priority}"),
        "ok",
        format!(
            "{rule} (priority {priority}, {} affinity){}",
            rule.affinity(),
            if policy.uses_default_rules() {
                "; replaces the default rules"
            } else {
                ""
            }
        ),
    );
    match store.insert_binding_rule(&rule, now, &audit).await {
        Ok(()) => Ok(rule),
        Err(StoreError::Conflict { what }) => match taken(&store.binding_policy().await?) {
            Some(existing) => Err(BindingRuleError::PriorityTaken { priority, existing }),
            None => Err(StoreError::Conflict { what }.into()),
        },
        Err(other) => Err(other.into()),
    }
}

pub async fn remove_binding_rule<S: DirectoryStore>(
    store: &S,
    priority: u32,
    now: UnixTime,
    actor: &str,
) -> Result<BindingRule, BindingRuleError> {
    let policy = store.binding_policy().await?;
    let not_found = BindingRuleError::NotFound {
        priority,
        defaults_in_force: policy.uses_default_rules(),
    };
    let Some(rule) = policy
        .rules
        .iter()
        .find(|rule| rule.priority == priority)
        .copied()
    else {
        return Err(not_found);
    };
    let audit = AuditEvent::new(
        now,
        actor,
        "binding.remove",
        format!("binding rule {priority}"),
        "ok",
        format!(
            "{rule}{}",
            if policy.rules.len() == 1 {
                "; no rule is left, the default rules apply again"
            } else {
                ""
            }
        ),
    );
    match store.delete_binding_rule(priority, &audit).await {
        Ok(()) => Ok(rule),
        Err(StoreError::NotFound { .. }) => Err(not_found),
        Err(other) => Err(other.into()),
    }
}

pub async fn set_default_required_affinity<S: DirectoryStore>(
    store: &S,
    affinity: Affinity,
    now: UnixTime,
    actor: &str,
) -> Result<(), BindingRuleError> {
    let audit = AuditEvent::new(
        now,
        actor,
        "binding.set-default-affinity",
        "binding policy",
        "ok",
        format!("x509CertificateDefaultRequiredAffinityLevel = {affinity}"),
    );
    Ok(store
        .set_default_required_affinity(affinity, &audit)
        .await?)
}

// ---- Strength rules ---------------------------------------------------------------------------

pub async fn strength_rules<S: DirectoryStore>(
    store: &S,
) -> Result<Vec<StrengthRule>, StrengthRuleError> {
    Ok(store.strength_rules().await?)
}

/// Adds a rule; refuses one whose issuer and policy OID are those of an existing rule.
pub async fn add_strength_rule<S: DirectoryStore>(
    store: &S,
    spec: StrengthRuleSpec,
    now: UnixTime,
    actor: &str,
) -> Result<StrengthRule, StrengthRuleError> {
    spec.check()?;
    if let Some(existing) = store
        .strength_rules()
        .await?
        .into_iter()
        .find(|rule| rule.spec.same_selectors(&spec))
    {
        return Err(StrengthRuleError::Duplicate {
            existing: existing.id,
            spec: existing.spec.to_string(),
        });
    }
    let audit = AuditEvent::new(
        now,
        actor,
        "strength.add",
        format!("strength rule ({})", spec.precedence().graph_name()),
        "ok",
        spec.to_string(),
    );
    Ok(store.insert_strength_rule(&spec, now, &audit).await?)
}

pub async fn remove_strength_rule<S: DirectoryStore>(
    store: &S,
    id: StrengthRuleId,
    now: UnixTime,
    actor: &str,
) -> Result<StrengthRule, StrengthRuleError> {
    let Some(rule) = store
        .strength_rules()
        .await?
        .into_iter()
        .find(|rule| rule.id == id)
    else {
        return Err(StrengthRuleError::NotFound(id));
    };
    let audit = AuditEvent::new(
        now,
        actor,
        "strength.remove",
        format!("strength rule {id}"),
        "ok",
        rule.spec.to_string(),
    );
    match store.delete_strength_rule(id, &audit).await {
        Ok(()) => Ok(rule),
        Err(StoreError::NotFound { .. }) => Err(StrengthRuleError::NotFound(id)),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(upn: &str) -> UserDraft {
        UserDraft::new(upn)
    }

    fn prepare(draft: UserDraft) -> Result<User, DirectoryError> {
        prepare_user(draft, UserId::generate().expect("id"), UnixTime(0), None)
    }

    #[test]
    fn object_ids_are_random_uuid_v4_and_parse_back() {
        let a = UserId::generate().expect("id");
        let b = UserId::generate().expect("id");
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 36);
        assert_eq!(&a.as_str()[14..15], "4");
        assert!(matches!(&a.as_str()[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(UserId::parse(&a.as_str().to_uppercase()), Some(a));
        assert_eq!(UserId::parse("alice@contoso.example"), None);
    }

    #[test]
    fn a_upn_has_exactly_one_at_with_text_on_both_sides() {
        assert!(Upn::parse("alice@contoso.example").is_ok());
        for bad in [
            "alice",
            "a@b@c",
            "@contoso.example",
            "alice@",
            "al ice@x",
            "",
        ] {
            assert_eq!(
                Upn::parse(bad).unwrap_err().code(),
                "user-upn-invalid",
                "{bad}"
            );
        }
        let long = format!("{}@x", "a".repeat(112));
        assert_eq!(Upn::parse(&long).unwrap_err().code(), "user-upn-invalid");
    }

    #[test]
    fn a_new_user_defaults_its_immutable_id_and_display_name() {
        let user = prepare(draft("alice@contoso.example")).expect("valid");
        assert_eq!(user.immutable_id, user.id.to_string());
        assert_eq!(user.display_name, "alice@contoso.example");
        assert!(user.enabled);
        let long = UserDraft {
            immutable_id: Some("x".repeat(65)),
            ..draft("alice@contoso.example")
        };
        assert_eq!(
            prepare(long).unwrap_err().code(),
            "user-immutable-id-invalid"
        );
    }

    #[test]
    fn certificate_user_ids_take_the_seven_forms_and_hex_is_normalized() {
        let ok = [
            (
                "X509:<PN>alice@contoso.example",
                CertificateField::PrincipalName,
            ),
            (
                "X509:<RFC822>alice@contoso.example",
                CertificateField::Rfc822Name,
            ),
            (
                "X509:<S>DC=com,DC=contoso,CN=Alice",
                CertificateField::Subject,
            ),
            (
                "X509:<I>DC=com,CN=CA<S>DC=com,CN=Alice",
                CertificateField::IssuerAndSubject,
            ),
            (
                "X509:<I>DC=com,CN=CA<SR>0a1b",
                CertificateField::IssuerAndSerialNumber,
            ),
            ("X509:<SKI>ab12", CertificateField::SubjectKeyIdentifier),
            (
                "X509:<SHA1-PUKEY>00112233445566778899aabbccddeeff00112233",
                CertificateField::Sha1PublicKey,
            ),
        ];
        for (value, field) in ok {
            let (parsed, normalized) = normalize_certificate_user_id(value).expect(value);
            assert_eq!(parsed, field);
            assert_eq!(normalized, value);
        }
        assert_eq!(
            normalize_certificate_user_id("X509:<SKI>AB:12").unwrap().1,
            "X509:<SKI>ab12"
        );
        assert_eq!(
            normalize_certificate_user_id("X509:<I>CN=CA<SR>0A 1B")
                .unwrap()
                .1,
            "X509:<I>CN=CA<SR>0a1b"
        );
        for bad in [
            "alice@contoso.example",
            "X509:<PN>",
            "X509:<UPN>alice@contoso.example",
            "X509:<I>CN=CA",
            "X509:<SKI>xyz",
            "X509:<SHA1-PUKEY>abcd",
            "x509:<PN>alice@contoso.example",
        ] {
            assert!(normalize_certificate_user_id(bad).is_err(), "{bad}");
        }
        let long = format!("X509:<S>CN={}", "a".repeat(1020));
        assert!(normalize_certificate_user_id(&long).is_err());
    }

    #[test]
    fn at_most_ten_distinct_certificate_user_ids() {
        let values: Vec<String> = (0..11).map(|i| format!("X509:<SKI>{i:02x}")).collect();
        assert_eq!(
            normalize_certificate_user_ids(&values).unwrap_err().code(),
            "user-certificate-user-ids-too-many"
        );
        assert!(normalize_certificate_user_ids(&values[..10]).is_ok());
        let twice = vec!["X509:<SKI>AB".to_owned(), "X509:<SKI>ab".to_owned()];
        assert_eq!(
            normalize_certificate_user_ids(&twice).unwrap_err().code(),
            "user-certificate-user-id-invalid"
        );
    }

    #[test]
    fn proxy_addresses_are_typed_with_one_primary() {
        let ok = UserDraft {
            proxy_addresses: vec![
                "SMTP:alice@contoso.example".into(),
                "smtp:a@contoso.example".into(),
                "SIP:alice@contoso.example".into(),
            ],
            ..draft("alice@contoso.example")
        };
        assert!(prepare(ok).is_ok());
        for bad in [
            vec!["alice@contoso.example"],
            vec!["SMTP:alice"],
            vec!["SMTP:a@x", "SMTP:b@x"],
            vec!["smtp:a@x", "SMTP:A@x"],
            vec![":a@x"],
        ] {
            let bad = UserDraft {
                proxy_addresses: bad.iter().map(|s| (*s).to_owned()).collect(),
                ..draft("alice@contoso.example")
            };
            assert_eq!(
                prepare(bad).unwrap_err().code(),
                "user-proxy-address-invalid"
            );
        }
    }

    #[test]
    fn tokens_issued_at_or_before_the_epoch_are_refused() {
        let mut user = prepare(draft("alice@contoso.example")).expect("valid");
        assert!(user.accepts_token_issued_at(UnixTime(5)));
        user.sts_refresh_tokens_valid_from = Some(UnixTime(100));
        assert!(!user.accepts_token_issued_at(UnixTime(99)));
        assert!(!user.accepts_token_issued_at(UnixTime(100)));
        assert!(user.accepts_token_issued_at(UnixTime(101)));
    }

    #[test]
    fn csv_rows_become_drafts_or_reasons_with_their_line_numbers() {
        let csv = "\u{feff}userPrincipalName,displayName,proxyAddresses,certificateUserIds,accountEnabled,groups\n\
                   alice@contoso.example,Alice,SMTP:alice@contoso.example;smtp:al@contoso.example,\"X509:<S>CN=A;B,O=C;X509:<SKI>ab\",true,staff;vpn\n\
                   \"bob@contoso.example\",\"Bob, Jr.\",,,no,\n\
                   carol@contoso.example,Carol,,,maybe,\n\
                   dave@contoso.example,too,many,fields,true,x,y\n\
                   ,No UPN,,,,\n";
        let rows = parse_users_csv(csv.as_bytes()).expect("header is fine");
        assert_eq!(rows.len(), 5);
        let alice = rows[0].draft.as_ref().expect("alice");
        assert_eq!(rows[0].row, 2);
        assert_eq!(
            alice.proxy_addresses,
            ["SMTP:alice@contoso.example", "smtp:al@contoso.example"]
        );
        assert_eq!(
            alice.certificate_user_ids,
            ["X509:<S>CN=A;B,O=C", "X509:<SKI>ab"]
        );
        assert_eq!(alice.groups, ["staff", "vpn"]);
        let bob = rows[1].draft.as_ref().expect("bob");
        assert_eq!(bob.display_name.as_deref(), Some("Bob, Jr."));
        assert!(!bob.enabled);
        assert_eq!(rows[2].row, 4);
        assert_eq!(
            rows[2].draft.as_ref().unwrap_err().code(),
            "user-field-invalid"
        );
        assert_eq!(
            rows[3].draft.as_ref().unwrap_err().code(),
            "import-row-malformed"
        );
        assert_eq!(rows[3].upn.as_deref(), Some("dave@contoso.example"));
        assert_eq!(rows[4].row, 6);
        assert_eq!(
            rows[4].draft.as_ref().unwrap_err().code(),
            "user-upn-invalid"
        );
    }

    /// Excel and Windows write CRLF: the row numbers of the report are the lines an editor
    /// shows, whatever the line ending (a quoted cell may span lines: its row is the first).
    #[test]
    fn csv_row_numbers_are_lines_with_crlf_lf_and_cr_endings() {
        let lf = "userPrincipalName,displayName\n\
                  alice@contoso.example,Alice\n\
                  bob@contoso.example,\"Bob\nSecond line\"\n\
                  ,No UPN\n\
                  carol@contoso.example,Carol\n";
        for ending in ["\n", "\r\n", "\r"] {
            let text = lf.replace('\n', ending);
            let rows = parse_users_csv(text.as_bytes()).expect("header is fine");
            let numbers: Vec<u64> = rows.iter().map(|row| row.row).collect();
            assert_eq!(numbers, [2, 3, 5, 6], "{ending:?}");
            assert_eq!(
                rows[2].draft.as_ref().unwrap_err().code(),
                "user-upn-invalid",
                "{ending:?}"
            );
        }
    }

    #[test]
    fn a_csv_header_that_would_drop_data_refuses_the_file() {
        for header in [
            "displayName\nAlice\n",
            "userPrincipalName,department\nalice@x,Sales\n",
            "userPrincipalName,mail,MAIL\na@x,a@x,a@x\n",
        ] {
            assert_eq!(
                parse_users_csv(header.as_bytes()).unwrap_err().code(),
                "import-header-invalid",
                "{header}"
            );
        }
    }
}
