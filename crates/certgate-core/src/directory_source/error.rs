//! Why one directory entry was skipped ([`EntryError`]) and why reading the directory failed
//! ([`SourceError`]), each with its stable reason codes.

use certgate_pki::ReasonCode;

use crate::directory::DirectoryError;

/// Why one entry of the directory source cannot become (or keep updating) a certgate user. The
/// entry is skipped and reported with its DN; the rest of the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// An attribute the mapping needs (the UPN, the immutable ID's source) is absent or empty.
    #[error("the entry has no {attribute}, which the directory mapping needs")]
    AttributeMissing {
        /// The LDAP attribute name as configured in the attribute map.
        attribute: String,
    },
    /// A single-valued attribute has several values.
    #[error("the attribute {attribute} has {count} values where the mapping takes one")]
    AttributeMultiValued {
        /// The LDAP attribute name.
        attribute: String,
        /// How many values the directory sent.
        count: usize,
    },
    /// A value, or the number of values, is over certgate's cap for that attribute.
    #[error("the attribute {attribute} is too large: {what}")]
    AttributeTooLarge {
        /// The LDAP attribute name.
        attribute: String,
        /// Which cap it crosses, for the report.
        what: String,
    },
    /// A text attribute holds bytes that are not UTF-8, or control characters.
    #[error("the attribute {attribute} is not plain text: {why}")]
    AttributeNotText {
        /// The LDAP attribute name.
        attribute: String,
        /// What is wrong with it, for the report.
        why: String,
    },
    /// An attribute has a value the mapping cannot read (a GUID that is not 16 bytes, a
    /// userAccountControl that is not a number).
    #[error("the attribute {attribute} has a value certgate cannot read: {why}")]
    AttributeMalformed {
        /// The LDAP attribute name.
        attribute: String,
        /// What is wrong with it, for the report.
        why: String,
    },
    /// An `X509:` certificate mapping (altSecurityIdentities) is not one of the six forms Active
    /// Directory defines, or a part of it does not parse.
    #[error("the certificate mapping {value:?} cannot be read: {why}")]
    CertificateMappingUnparseable {
        /// The value as the directory holds it (control characters escaped).
        value: String,
        /// Which rule it breaks, for the report.
        why: String,
    },
    /// The mapped user breaks one of certgate's user rules (UPN shape, at most 10
    /// certificateUserIds, ...): the inner error's code is answered.
    #[error(transparent)]
    UserInvalid(DirectoryError),
    /// Two or more entries of the source map to the same UPN (compared case-insensitively);
    /// none of them is synchronised until the directory is corrected.
    #[error("the user principal name {upn} is also mapped from {other_dn}")]
    UpnCollision {
        /// The UPN.
        upn: String,
        /// The DN of another entry that has it.
        other_dn: String,
    },
    /// Two or more entries of the source have the same immutable ID (an ms-DS-ConsistencyGuid
    /// copied between accounts, for instance); none of them is synchronised.
    #[error("the immutable ID {immutable_id} is also mapped from {other_dn}")]
    ImmutableIdCollision {
        /// The immutable ID.
        immutable_id: String,
        /// The DN of another entry that has it.
        other_dn: String,
    },
    /// A certgate user that was not synchronised from this entry holds a unique value the
    /// entry maps to: its UPN, immutable ID, a proxy address or a certificateUserIds value.
    #[error("the {attribute} value {value:?} already belongs to {holder}")]
    ValueTaken {
        /// `userPrincipalName`, `onPremisesImmutableId`, `proxyAddresses` or
        /// `certificateUserIds`.
        attribute: &'static str,
        /// The value.
        value: String,
        /// Who holds it: a user's UPN, or another entry's DN.
        holder: String,
    },
    /// The entry is in more groups (nested included) than certgate reads for one user.
    #[error("the entry is in more than {limit} groups (nested groups included)")]
    TooManyGroups {
        /// The cap (`max_groups_per_user`).
        limit: usize,
    },
    /// A group the entry is in has no usable name (its name attribute is missing, not text,
    /// blank or too long): the membership cannot be told, so the entry keeps its last values.
    #[error("the entry is in the group {group_dn}, whose name cannot be read: {why}")]
    GroupUnreadable {
        /// The group's DN (control characters escaped).
        group_dn: String,
        /// What is wrong with its name.
        why: String,
    },
}

impl EntryError {
    /// Every code [`EntryError::code`] answers with itself (a [`EntryError::UserInvalid`]
    /// answers with its [`DirectoryError`]'s).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "directory-entry-attribute-missing",
            "A directory entry lacks an attribute the directory mapping needs (the user principal name, or the attribute the immutable ID comes from); the entry was skipped and the rest of the sync went on.",
            "Set the attribute on the entry in the directory, or map another attribute to it in `[directory.ldap.attributes]`, and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-attribute-multivalued",
            "A directory attribute that certgate maps to a single value (such as userPrincipalName or mail) has several values; the entry was skipped.",
            "Leave one value on the entry in the directory, or map a single-valued attribute instead, and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-attribute-too-large",
            "A directory attribute value, or its number of values, is over certgate's limit for that attribute; the entry was skipped so that one entry cannot exhaust memory.",
            "Shorten the value or remove values on the entry in the directory (the report names the attribute and the limit), and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-attribute-not-text",
            "A directory attribute certgate reads as text holds bytes that are not UTF-8, or control characters; the entry was skipped.",
            "Correct the value on the entry in the directory (the report names the attribute), or map another attribute, and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-attribute-malformed",
            "A directory attribute has a value certgate cannot read: a GUID that is not 16 bytes, or a userAccountControl that is not a number; the entry was skipped.",
            "Check the attribute the report names: map the immutable ID to objectGUID, ms-DS-ConsistencyGuid or entryUUID, and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-certificate-mapping-unparseable",
            "A certificate mapping in altSecurityIdentities is not one of Active Directory's X509 forms (<I>…<S>…, <I>…<SR>…, <SKI>, <SHA1-PUKEY>, <S>, <RFC822>) or a DN, serial or hash in it does not parse; the entry was skipped, and its certgate user keeps its last synchronised values.",
            "Correct the mapping on the account in Active Directory (the report shows the value and why it does not parse), and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-upn-collision",
            "Two or more directory entries map to the same user principal name (compared case-insensitively); none of them was synchronised.",
            "Give each account its own userPrincipalName in the directory (the report names the DNs), and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-immutable-id-collision",
            "Two or more directory entries have the same immutable ID (for example an ms-DS-ConsistencyGuid copied from one account to another); none of them was synchronised.",
            "Clear or correct ms-DS-ConsistencyGuid on the accounts the report names, and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-value-taken",
            "A directory entry maps to a user principal name, immutable ID, proxy address or certificateUserIds value that another certgate user (or another entry) already holds, and these must be unique; the entry was skipped.",
            "Remove the value from the holder the report names (a local user: `certgate user set`; an entry: in the directory), or from this entry, and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-too-many-groups",
            "A directory entry is in more groups, nested groups included, than certgate reads for one user (`max_groups_per_user`); the entry was skipped and its certgate user keeps its last synchronised values.",
            "Take the account out of groups it does not need in the directory, or raise `max_groups_per_user` in `[directory.ldap.groups]`, and sync again.",
        ),
        ReasonCode::new(
            "directory-entry-group-unreadable",
            "A directory entry is in a group whose name certgate cannot read (the name attribute, `cn` by default, is missing, not plain text, blank or over 256 characters); the entry was skipped and its certgate user keeps its last synchronised values.",
            "Give the group the report names a plain name in the directory, or name groups by another attribute (`name_attribute` in `[directory.ldap.groups]`), and sync again.",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`], or [`DirectoryError::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            EntryError::AttributeMissing { .. } => "directory-entry-attribute-missing",
            EntryError::AttributeMultiValued { .. } => "directory-entry-attribute-multivalued",
            EntryError::AttributeTooLarge { .. } => "directory-entry-attribute-too-large",
            EntryError::AttributeNotText { .. } => "directory-entry-attribute-not-text",
            EntryError::AttributeMalformed { .. } => "directory-entry-attribute-malformed",
            EntryError::CertificateMappingUnparseable { .. } => {
                "directory-entry-certificate-mapping-unparseable"
            }
            EntryError::UserInvalid(error) => error.code(),
            EntryError::UpnCollision { .. } => "directory-entry-upn-collision",
            EntryError::ImmutableIdCollision { .. } => "directory-entry-immutable-id-collision",
            EntryError::ValueTaken { .. } => "directory-entry-value-taken",
            EntryError::TooManyGroups { .. } => "directory-entry-too-many-groups",
            EntryError::GroupUnreadable { .. } => "directory-entry-group-unreadable",
        }
    }
}

/// Why the directory could not be read. Nothing is synchronised from a failed read: a sync
/// either sees the whole directory or changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The configuration cannot be used (an URL that is not `ldap://` or `ldaps://`, an empty
    /// base DN, a filter that does not parse, a page size of 0).
    #[error("the directory source configuration is not usable: {why}")]
    ConfigInvalid {
        /// What is wrong, for the message.
        why: String,
    },
    /// A simple bind would send the password over plain LDAP (an `ldap://` URL without
    /// StartTLS); certgate refuses before connecting.
    #[error("certgate does not send the bind password over plain LDAP ({url}); use an ldaps:// URL or turn on StartTLS")]
    PlaintextBindRefused {
        /// The URL as configured.
        url: String,
    },
    /// The bind DN's password is not available: the environment variable is unset or empty,
    /// or the file cannot be read or is empty.
    #[error("the directory bind password is not available: {why}")]
    CredentialsUnavailable {
        /// Where it was looked for and what went wrong.
        why: String,
    },
    /// The CA file that verifies the directory server's certificate cannot be read or holds
    /// no certificate.
    #[error("the directory CA file {path} is not usable: {why}")]
    CaFileInvalid {
        /// The file as configured.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// No TCP connection to the directory server (refused, unreachable, name not resolved).
    #[error("could not connect to the directory server {url}: {detail}")]
    Unreachable {
        /// The URL as configured.
        url: String,
        /// The underlying error, for the log.
        detail: String,
    },
    /// The TLS handshake failed: most often the server's certificate does not verify against
    /// the configured CA file or does not name the host of the URL.
    #[error("TLS with the directory server {url} failed: {detail}")]
    TlsFailed {
        /// The URL as configured.
        url: String,
        /// The TLS library's error, for the log.
        detail: String,
    },
    /// The connection, an operation, or the whole read took longer than its configured limit.
    #[error("the directory server {url} did not answer within {limit_seconds} s ({during})")]
    Timeout {
        /// The URL as configured.
        url: String,
        /// The limit that was crossed, in whole seconds.
        limit_seconds: u64,
        /// What certgate was waiting for (`connect`, `bind`, `search`, or `the whole read`
        /// when the server answered each message in time but the read as a whole ran over).
        during: &'static str,
    },
    /// The connection closed (or broke) after it was set up and before the read was over: the
    /// server restarted, a firewall or load balancer cut the connection, or the network
    /// failed. Nothing is applied from the part that was read.
    #[error("the connection to the directory server {url} was lost during the {during}: {detail}")]
    ConnectionLost {
        /// The URL as configured.
        url: String,
        /// What certgate was doing (`bind`, `search`).
        during: &'static str,
        /// The underlying error, for the log.
        detail: String,
    },
    /// The server refused the bind DN and password (LDAP result 49, invalidCredentials).
    #[error("the directory server refused the bind as {bind_dn}: wrong DN or password ({detail})")]
    BindRejected {
        /// The bind DN as configured.
        bind_dn: String,
        /// The server's diagnostic message (AD puts its sub-code here).
        detail: String,
    },
    /// The bind failed for another reason than the credentials (the server requires a
    /// stronger authentication, the account is restricted, ...).
    #[error(
        "the directory server refused the bind as {bind_dn}: LDAP result {result_code} ({detail})"
    )]
    BindFailed {
        /// The bind DN as configured.
        bind_dn: String,
        /// The LDAP result code (RFC 4511 §4.1.9).
        result_code: u32,
        /// The server's diagnostic message.
        detail: String,
    },
    /// The search failed: the base DN does not exist, the bind DN may not read it, a limit was
    /// hit, or the paging cookie broke mid-way. Nothing is applied from a partial read.
    #[error("the directory search under {base_dn} failed: {detail}")]
    SearchFailed {
        /// The base DN as configured.
        base_dn: String,
        /// The LDAP result or protocol error.
        detail: String,
    },
    /// The server sent a reply certgate cannot read (a malformed entry or paging control).
    #[error("the directory server sent a reply certgate cannot read: {detail}")]
    ProtocolViolation {
        /// What was malformed.
        detail: String,
    },
    /// More entries than certgate reads in one sync.
    #[error(
        "the directory search returned more than {limit} entries; narrow the base DN or filter"
    )]
    TooManyEntries {
        /// The limit.
        limit: usize,
    },
    /// Reading group memberships took more lookups than certgate makes in one sync; the
    /// users not reached would lose their groups, so nothing is applied.
    #[error(
        "reading group memberships needed more than {limit} directory lookups; nothing was applied"
    )]
    GroupLookupLimit {
        /// The cap (`max_lookups_per_run`).
        limit: usize,
    },
}

impl SourceError {
    /// Every code [`SourceError::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "directory-source-config-invalid",
            "The directory source settings cannot be used: the URL is not ldap:// or ldaps://, the base DN is empty, the filter does not parse, or a limit is 0.",
            "Correct `[directory.ldap]` in certgate.toml (the message names the setting) and try again.",
        ),
        ReasonCode::new(
            "directory-source-plaintext-bind-refused",
            "The directory source is an ldap:// URL without StartTLS, so the bind password would cross the network in clear text; certgate refused before connecting.",
            "Use an ldaps:// URL (port 636) or turn on StartTLS for the ldap:// URL, with the CA that issued the directory server's certificate.",
        ),
        ReasonCode::new(
            "directory-source-credentials-unavailable",
            "The password of the directory bind DN is not available: its environment variable is unset or empty, or its file cannot be read or is empty.",
            "Set the environment variable or write the password to the file that `[directory.ldap]` names (readable by certgate only), and try again.",
        ),
        ReasonCode::new(
            "directory-source-ca-file-invalid",
            "The CA file that verifies the directory server's certificate cannot be read or holds no PEM certificate.",
            "Point the directory source's CA file at the PEM certificate of the CA that issued the domain controller's certificate, and try again.",
        ),
        ReasonCode::new(
            "directory-source-unreachable",
            "certgate could not open a connection to the directory server: the connection was refused, the host is unreachable, or its name does not resolve.",
            "Check the URL, that the directory server is up and that the firewall lets certgate reach its LDAPS (636) or LDAP (389) port; certgate keeps the last synchronised users meanwhile.",
        ),
        ReasonCode::new(
            "directory-source-tls-failed",
            "The TLS handshake with the directory server failed, most often because its certificate does not verify against the configured CA file or does not name the host of the URL.",
            "Configure the CA that issued the domain controller's certificate, and use a host name (or IP address) that its certificate's subjectAltName lists.",
        ),
        ReasonCode::new(
            "directory-source-timeout",
            "The directory server did not accept the connection, answer an operation, or finish sending the whole read within the configured time.",
            "Check the directory server's load and the network, or raise the connect, operation or read timeout; certgate keeps the last synchronised users meanwhile.",
        ),
        ReasonCode::new(
            "directory-source-connection-lost",
            "The connection to the directory server closed or broke in the middle of the read (the server restarted, a firewall or load balancer cut it, or the network failed); nothing was applied from the part that was read.",
            "Check the directory server and the network path to it (idle or session timeouts of firewalls and load balancers); certgate keeps the last synchronised users meanwhile and the next sync reads everything again.",
        ),
        ReasonCode::new(
            "directory-source-bind-rejected",
            "The directory server refused the bind DN and password (invalid credentials): the password is wrong, expired, or the account is disabled or locked.",
            "Check the bind DN and its password (environment variable or file) against the directory, and try again.",
        ),
        ReasonCode::new(
            "directory-source-bind-failed",
            "The directory server refused the bind for another reason than the credentials (for example it requires a stronger authentication); the message has the LDAP result code.",
            "Check the directory server's bind requirements for the service account, using the result code and diagnostic message in the log.",
        ),
        ReasonCode::new(
            "directory-source-search-failed",
            "The directory search failed: the base DN does not exist, the bind DN may not read it, a server limit was hit, or the paging broke mid-way; nothing was applied.",
            "Check the base DN and filter and the bind DN's read rights, and try again.",
        ),
        ReasonCode::new(
            "directory-source-protocol-violation",
            "The directory server sent a reply certgate cannot read (a malformed entry or paging control); nothing was applied.",
            "Check that the URL points at an LDAP directory server; the log has the details to report.",
        ),
        ReasonCode::new(
            "directory-source-too-many-entries",
            "The directory search returned more entries than certgate reads in one sync; nothing was applied.",
            "Narrow the base DN or the filter of the directory source to the accounts that sign in with certgate.",
        ),
        ReasonCode::new(
            "directory-source-group-lookup-limit",
            "Reading the users' group memberships (nested groups included) needed more directory lookups than certgate makes in one sync (`max_lookups_per_run`); nothing was applied, since the users not reached would have lost their groups.",
            "Raise `max_lookups_per_run` in `[directory.ldap.groups]`, flatten deep group nesting, or narrow the users' base DN or filter, and sync again.",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            SourceError::ConfigInvalid { .. } => "directory-source-config-invalid",
            SourceError::PlaintextBindRefused { .. } => "directory-source-plaintext-bind-refused",
            SourceError::CredentialsUnavailable { .. } => {
                "directory-source-credentials-unavailable"
            }
            SourceError::CaFileInvalid { .. } => "directory-source-ca-file-invalid",
            SourceError::Unreachable { .. } => "directory-source-unreachable",
            SourceError::TlsFailed { .. } => "directory-source-tls-failed",
            SourceError::Timeout { .. } => "directory-source-timeout",
            SourceError::ConnectionLost { .. } => "directory-source-connection-lost",
            SourceError::BindRejected { .. } => "directory-source-bind-rejected",
            SourceError::BindFailed { .. } => "directory-source-bind-failed",
            SourceError::SearchFailed { .. } => "directory-source-search-failed",
            SourceError::ProtocolViolation { .. } => "directory-source-protocol-violation",
            SourceError::TooManyEntries { .. } => "directory-source-too-many-entries",
            SourceError::GroupLookupLimit { .. } => "directory-source-group-lookup-limit",
        }
    }
}
