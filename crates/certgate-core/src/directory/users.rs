//! What a user is — its object ID, UPN and the attributes Microsoft Graph names — and which
//! values they may take: [`prepare_user`] checks and normalizes a [`UserDraft`], and the
//! certificateUserIds forms are parsed here.

use crate::directory::{fold_case, CertificateField};
use std::fmt;

use certgate_pki::UnixTime;

use super::DirectoryError;

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
        Ok(UserId(crate::uuid_v4(bytes)))
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

    /// The lowercase 8-4-4-4-12 text.
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
    /// Checks a UPN: at most 113 characters, no spaces or control characters, exactly one `@` with
    /// text on both sides. Case is kept as given.
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

    /// The UPN as given (case kept; compare case-insensitively).
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
    /// Object ID (Entra's `id`); never changes, and is what TOTP secrets and access passes are kept
    /// under.
    pub id: UserId,
    /// userPrincipalName, case kept; unique case-insensitively.
    pub upn: Upn,
    /// onPremisesImmutableId: the federation NameID (≤ 64 characters, unique).
    pub immutable_id: String,
    /// displayName: at most 256 characters, no control characters; the UPN when none was given.
    pub display_name: String,
    /// mail: one address, if set.
    pub mail: Option<String>,
    /// `SMTP:a@b` (primary, at most one) and `smtp:c@d` (secondary), or other `type:address`.
    pub proxy_addresses: Vec<String>,
    /// authorizationInfo.certificateUserIds: up to 10 `X509:<...>` values, unique across
    /// all users.
    pub certificate_user_ids: Vec<String>,
    /// accountEnabled: a disabled user cannot sign in (`user-disabled`).
    pub enabled: bool,
    /// Group names assigned in certgate (trimmed, no duplicates): by hand, CSV or the admin
    /// API. A sync never changes them; the groups the directory source reports are kept apart
    /// in [`UserOrigin::Directory`], so neither can overwrite or fake the other.
    pub groups: Vec<String>,
    /// Refresh tokens and sessions issued at or before this instant are no longer accepted.
    pub sts_refresh_tokens_valid_from: Option<UnixTime>,
    /// When the user was added.
    pub created_at: UnixTime,
    /// Added by hand, or synchronised from the directory source.
    pub origin: UserOrigin,
}

/// Where a user came from, kept with the user so that a sync knows which users are its own
/// and since when their entries have been gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserOrigin {
    /// Added by hand (CLI, API, CSV import): a sync never changes it, but its unique values
    /// still block an entry that would take them.
    Local,
    /// Synchronised from the directory source. Its entry is found again by the user's
    /// immutable ID (the anchor that survives renames and moves); the DN is for people.
    Directory {
        /// The entry's DN when the sync last wrote the user.
        dn: String,
        /// When a sync first found its entry gone from the directory; `None` while present.
        missing_since: Option<UnixTime>,
        /// The groups the directory says the user is in, nested ones included (their names as
        /// the directory source spells them), as the last sync read them. Only a sync writes
        /// them: they live here rather than in [`User::groups`] so that a sync never erases a
        /// group assigned in certgate and a hand edit never fakes a directory membership.
        groups: Vec<String>,
    },
}

impl UserOrigin {
    /// A synchronised user whose entry was present at the last sync.
    pub fn present_in_directory(dn: impl Into<String>, groups: Vec<String>) -> UserOrigin {
        UserOrigin::Directory {
            dn: dn.into(),
            missing_since: None,
            groups,
        }
    }

    /// The groups the directory source reports (none for a local user).
    pub fn directory_groups(&self) -> &[String] {
        match self {
            UserOrigin::Local => &[],
            UserOrigin::Directory { groups, .. } => groups,
        }
    }

    /// Whether the user comes from the directory source.
    pub fn is_directory(&self) -> bool {
        matches!(self, UserOrigin::Directory { .. })
    }
}

impl User {
    /// Every group the user is in: those assigned in certgate, then those from the directory
    /// that are not already among them. What federation's `user.groups` claim sends.
    pub fn effective_groups(&self) -> Vec<String> {
        let mut groups = self.groups.clone();
        for group in self.origin.directory_groups() {
            if !groups.contains(group) {
                groups.push(group.clone());
            }
        }
        groups
    }

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
    /// userPrincipalName as given; [`prepare_user`] checks it with [`Upn::parse`].
    pub upn: String,
    /// Default for a new user: its object ID.
    pub immutable_id: Option<String>,
    /// Default: the UPN.
    pub display_name: Option<String>,
    /// mail; empty means none.
    pub mail: Option<String>,
    /// As [`User::proxy_addresses`].
    pub proxy_addresses: Vec<String>,
    /// As [`User::certificate_user_ids`]; [`prepare_user`] normalizes them.
    pub certificate_user_ids: Vec<String>,
    /// accountEnabled ([`UserDraft::new`] starts enabled).
    pub enabled: bool,
    /// Group names; blank ones are refused, repeated ones kept once.
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
/// epoch; the user is [`UserOrigin::Local`] (a caller writing a synchronised user sets it). certificateUserIds come out normalized (hex in lowercase without separators), so
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
        origin: UserOrigin::Local,
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
}
