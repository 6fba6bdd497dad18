//! [`LdapSourceConfig`]: where the directory is and how certgate reads it.

use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use certgate_core::directory_source::SourceError;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TLS from the first byte (`ldaps://`, port 636).
    Ldaps,
    /// Plain LDAP upgraded with the StartTLS extended operation (RFC 4511 §4.14) before the
    /// bind (`ldap://`, port 389).
    StartTls,
    /// Plain LDAP. Kept so that a configuration saying so gets a clear refusal
    /// (`directory-source-plaintext-bind-refused`): certgate never sends the bind password
    /// in clear text.
    PlainRefused,
}

/// Where the bind DN's password comes from. Read at each sync, so a rotated password is
/// picked up without a restart, and never kept longer than the bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// An environment variable.
    Environment(String),
    /// A file (its content, without a final line break); keep it readable by certgate only.
    File(PathBuf),
}

impl PasswordSource {
    /// The password; an unset, unreadable or empty source is an error, never an empty
    /// password: an LDAP simple bind with an empty password is an unauthenticated bind
    /// (RFC 4513 §5.1.2), which many servers accept and answer as anonymous.
    pub(crate) fn read(&self) -> Result<Zeroizing<String>, SourceError> {
        let unavailable = |why: String| SourceError::CredentialsUnavailable { why };
        let password = match self {
            PasswordSource::Environment(name) => {
                Zeroizing::new(std::env::var(name).map_err(|_| {
                    unavailable(format!("the environment variable {name} is not set"))
                })?)
            }
            PasswordSource::File(path) => {
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|error| {
                    unavailable(format!("reading {}: {error}", path.display()))
                })?);
                Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_owned())
            }
        };
        if password.is_empty() {
            return Err(unavailable(format!(
                "{} is empty (an empty password would be an anonymous bind)",
                self.describe()
            )));
        }
        Ok(password)
    }

    fn describe(&self) -> String {
        match self {
            PasswordSource::Environment(name) => format!("the environment variable {name}"),
            PasswordSource::File(path) => format!("the file {}", path.display()),
        }
    }
}

/// The directory source (`[directory.ldap]` in certgate.toml).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LdapSourceConfig {
    /// `ldaps://host[:port]` or `ldap://host[:port]`. The host is what the server's
    /// certificate must name (a DNS name or IP address in its subjectAltName).
    pub url: String,
    /// LDAPS or StartTLS; must agree with the URL's scheme.
    pub transport: Transport,
    /// PEM file with the CA certificate(s) that issued the directory server's certificate.
    /// Only these are trusted for this connection, not the system's roots.
    pub ca_file: PathBuf,
    /// The DN (or, for AD, the UPN) of the account certgate binds as.
    pub bind_dn: String,
    /// Its password.
    pub bind_password: PasswordSource,
    /// Where the search starts (`DC=contoso,DC=com`).
    pub base_dn: String,
    /// Which entries are users (RFC 4515).
    pub filter: String,
    /// Where group lookups start; `None`: the base DN.
    pub group_base_dn: Option<String>,
    /// Entries per page of the simple paged results control (RFC 2696); AD answers at most
    /// 1,000 (its MaxPageSize).
    pub page_size: u32,
    /// Longest wait for the TCP connection and the TLS handshake.
    pub connect_timeout: Duration,
    /// Longest wait for any one answer of the server (the bind, each message of a search).
    pub operation_timeout: Duration,
    /// Longest a whole read may take: the connection, the bind, every page of the users'
    /// search and the group lookups that follow. The operation timeout bounds each message
    /// only, so a server that trickles its answer could otherwise hold a sync open for hours.
    pub read_timeout: Duration,
    /// Most entries one sync reads; a bigger answer is an error rather than a memory
    /// exhaustion.
    pub max_entries: usize,
}

impl LdapSourceConfig {
    /// Active Directory's users: person accounts (not computers, which are users too in AD).
    pub const ACTIVE_DIRECTORY_FILTER: &'static str =
        "(&(objectCategory=person)(objectClass=user))";
    /// A generic directory's users.
    pub const INET_ORG_PERSON_FILTER: &'static str = "(objectClass=inetOrgPerson)";
    /// AD's MaxPageSize.
    pub const DEFAULT_PAGE_SIZE: u32 = 1000;
    /// The default connect timeout.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default operation timeout.
    pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default limit on a whole read: 10,000 users and their groups take about 4 s from a
    /// local DC (docs/benchmarks.md), so an hour leaves room for the largest directories on a
    /// slow link.
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(3600);
    /// The default cap on entries per sync.
    pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

    /// A configuration with the defaults for everything but the connection and the account.
    pub fn new(
        url: impl Into<String>,
        transport: Transport,
        ca_file: impl Into<PathBuf>,
        bind_dn: impl Into<String>,
        bind_password: PasswordSource,
        base_dn: impl Into<String>,
    ) -> LdapSourceConfig {
        LdapSourceConfig {
            url: url.into(),
            transport,
            ca_file: ca_file.into(),
            bind_dn: bind_dn.into(),
            bind_password,
            base_dn: base_dn.into(),
            filter: Self::ACTIVE_DIRECTORY_FILTER.into(),
            group_base_dn: None,
            page_size: Self::DEFAULT_PAGE_SIZE,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            operation_timeout: Self::DEFAULT_OPERATION_TIMEOUT,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
        }
    }
}
