//! [`DirectoryError`]: why a directory change was refused, with its reason codes.

use certgate_pki::{ReasonCode, UnixTime};

use crate::clock::rfc3339;
use crate::store::StoreError;

/// Why a directory change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The UPN fails [`Upn::parse`](super::Upn::parse).
    #[error("\"{upn}\" is not a valid user principal name: {why}")]
    UpnInvalid {
        /// The UPN as given.
        upn: String,
        /// Which rule it breaks, for the message.
        why: String,
    },
    /// Another user has this UPN (compared case-insensitively).
    #[error("the user principal name {upn} is already used by {existing}")]
    UpnTaken {
        /// The UPN as given.
        upn: String,
        /// The UPN of the user who has it.
        existing: String,
    },
    /// The onPremisesImmutableId is over 64 characters or not printable ASCII without spaces.
    #[error("\"{value}\" is not a valid immutable ID: {why}")]
    ImmutableIdInvalid {
        /// The value as given.
        value: String,
        /// Which rule it breaks, for the message.
        why: String,
    },
    /// Another user has this onPremisesImmutableId, and it must be unique: it is the federation
    /// NameID.
    #[error("the immutable ID \"{value}\" is already used by {other}")]
    ImmutableIdTaken {
        /// The value as given.
        value: String,
        /// The UPN of the user who has it.
        other: String,
    },
    /// The displayName is over 256 characters or has control characters.
    #[error("invalid display name: {why}")]
    DisplayNameInvalid {
        /// Which rule it breaks, for the message.
        why: String,
    },
    /// The mail value is not `local@domain` without spaces, at most 256 characters.
    #[error("\"{mail}\" is not a mail address (local@domain, no spaces, at most 256 characters)")]
    MailInvalid {
        /// The value as given.
        mail: String,
    },
    /// A proxy address is not `type:address`, is too long, is repeated, or is a second primary
    /// (`SMTP:`) address.
    #[error("invalid proxy address \"{value}\": {why}")]
    ProxyAddressInvalid {
        /// The value as given.
        value: String,
        /// Which rule it breaks, for the message.
        why: String,
    },
    /// Another user has this proxy address (compared case-insensitively).
    #[error("the proxy address \"{value}\" already belongs to {other}")]
    ProxyAddressTaken {
        /// The value as given.
        value: String,
        /// The UPN of the user who has it.
        other: String,
    },
    /// A certificateUserIds value is not one of the seven `X509:<...>` forms, is over 1024
    /// characters, or is repeated.
    #[error("invalid certificateUserIds value \"{value}\": {why}")]
    CertificateUserIdInvalid {
        /// The value as given.
        value: String,
        /// Which rule it breaks, for the message.
        why: String,
    },
    /// More than [`MAX_CERTIFICATE_USER_IDS`](super::MAX_CERTIFICATE_USER_IDS) (10)
    /// certificateUserIds values, Entra's limit.
    #[error("{count} certificateUserIds values given; a user has at most 10")]
    TooManyCertificateUserIds {
        /// How many were given.
        count: usize,
    },
    /// Another user has this certificateUserIds value; a certificate must map to exactly one user.
    #[error("the certificateUserIds value \"{value}\" already belongs to {other}; a certificate must map to one user, so remove it there first")]
    CertificateUserIdTaken {
        /// The value, normalized.
        value: String,
        /// The UPN of the user who has it.
        other: String,
    },
    /// A group name is empty, over 256 characters or has control characters.
    #[error("invalid group \"{group}\": {why}")]
    GroupInvalid {
        /// The group name as given (trimmed).
        group: String,
        /// Which rule it breaks, for the message.
        why: String,
    },
    /// Another attribute has a value it cannot take (an accountEnabled cell that is neither true
    /// nor false).
    #[error("invalid {field} \"{value}\": {why}")]
    FieldInvalid {
        /// The attribute's Graph name (`accountEnabled`).
        field: &'static str,
        /// The value as given.
        value: String,
        /// Which values it takes, for the message.
        why: String,
    },
    /// A change by hand (CLI, admin API) to attributes of a user synchronised from the
    /// directory source: they come from the directory, and the next sync would undo it.
    #[error("{upn} comes from the directory (entry {dn}): change {attributes} in the directory and run `certgate directory sync`; only its groups can be changed in certgate")]
    SourcedAttributeChanged {
        /// The user's UPN.
        upn: String,
        /// Its directory entry.
        dn: String,
        /// The attributes the change touched that come from the directory (Graph names).
        attributes: String,
    },
    /// No user has this UPN (case-insensitively) or object ID.
    #[error("no user has the UPN or object ID \"{key}\"; `certgate user list` shows the users")]
    UserNotFound {
        /// The UPN or object ID that was looked up.
        key: String,
    },
    /// StsRefreshTokensValidFrom may only be given a date after now (which then stores now).
    #[error("StsRefreshTokensValidFrom must be a date in the future; {} is not after {} and nothing was changed (a future date sets it to the current time; `certgate user revoke-sessions` does that directly)", rfc3339(*.date), rfc3339(*.now))]
    StsDateNotInFuture {
        /// The date given.
        date: UnixTime,
        /// The time it was refused at.
        now: UnixTime,
    },
    /// The import file's header cannot be used; nothing was imported.
    #[error("the CSV header is not usable: {why}")]
    ImportHeader {
        /// What is wrong with it: not CSV, an unknown or repeated column, no userPrincipalName.
        why: String,
    },
    /// One import row cannot be read (field count, encoding); the other rows go on.
    #[error("the CSV row is not usable: {why}")]
    ImportRowMalformed {
        /// What is wrong with it, for the report.
        why: String,
    },
    /// The system's random generator failed while making an object ID.
    #[error("the system's random number generator failed; no object ID could be made")]
    RandomnessUnavailable,
    /// The store failed.
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
            "user-attribute-from-directory",
            "The user is synchronised from the directory source (Active Directory or LDAP), and the change touches attributes that come from the directory (userPrincipalName, onPremisesImmutableId, displayName, mail, proxyAddresses, certificateUserIds, accountEnabled); nothing was changed, since the next sync would undo it.",
            "Change the attribute on the user's entry in the directory and run `certgate directory sync` (or wait for the scheduled sync); only the user's groups are edited in certgate. To cut a user off at once, `certgate user revoke-sessions` works for synchronised users too.",
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

    /// The stable reason code (listed in [`Self::CODES`], or the store's).
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
            DirectoryError::SourcedAttributeChanged { .. } => "user-attribute-from-directory",
            DirectoryError::UserNotFound { .. } => "user-not-found",
            DirectoryError::StsDateNotInFuture { .. } => "sts-date-not-in-future",
            DirectoryError::ImportHeader { .. } => "import-header-invalid",
            DirectoryError::ImportRowMalformed { .. } => "import-row-malformed",
            DirectoryError::RandomnessUnavailable => "randomness-unavailable",
            DirectoryError::Store(error) => error.code(),
        }
    }
}
