//! [`LdapDirectory`]: the [`DirectorySource`] port over LDAP.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ldap3::controls::{MakeCritical, PagedResults, RawControl};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, Scope};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::time::Instant;

use certgate_core::directory_source::{
    ChangePosition, ChangeTracking, DirectoryEntry, DirectorySource, EntrySelection,
    GroupMembershipRule, GroupQuery, SourceError,
};

use crate::config::{LdapSourceConfig, Transport};
use crate::wire::{directory_entry, paged_results_cookie, PAGED_RESULTS_OID};

/// LDAP result code invalidCredentials (RFC 4511 §4.1.9).
const INVALID_CREDENTIALS: u32 = 49;
/// Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: matches through nested groups.
const MATCHING_RULE_IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

/// What a paged search does with more entries than it takes.
#[derive(Clone, Copy, Debug)]
enum Overflow {
    /// The read fails (`directory-source-too-many-entries`): the users' search.
    Refuse(usize),
    /// The search stops there: a group lookup, whose caller only needs to know the cap was
    /// crossed.
    Stop(usize),
    /// As `Refuse`, for a listing of groups: not reported to the page observer, which counts
    /// user entries.
    RefuseUnobserved(usize),
}

/// Told after each page of a read of user entries: entries so far, pages so far.
pub type PageObserver = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// A directory read over LDAPS or StartTLS, its server verified against the configured CA.
#[derive(Clone)]
pub struct LdapDirectory {
    config: LdapSourceConfig,
    tls: Arc<rustls::ClientConfig>,
    /// For a progress bar: the reads of user entries report their pages here.
    page_observer: Option<PageObserver>,
    /// The bound connection of the current read, kept for its group lookups: one TLS
    /// handshake and bind per sync rather than one per user. Closed by `end_read`, and by the
    /// next read of the entries should a run not have ended its read.
    session: Arc<Mutex<Option<Ldap>>>,
    /// When the current read must be over (`read_timeout` after `read_entries` started): the
    /// group lookups that follow the users' search count against the same limit.
    read_deadline: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LdapDirectory {
    /// Checks the configuration and loads the CA file; nothing is sent yet. Refuses a plain
    /// LDAP transport (`directory-source-plaintext-bind-refused`).
    pub fn new(config: LdapSourceConfig) -> Result<LdapDirectory, SourceError> {
        let invalid = |why: String| SourceError::ConfigInvalid { why };
        let scheme = config
            .url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match (scheme.as_deref(), config.transport) {
            (_, Transport::PlainRefused) => {
                return Err(SourceError::PlaintextBindRefused {
                    url: config.url.clone(),
                })
            }
            (Some("ldaps"), Transport::Ldaps) | (Some("ldap"), Transport::StartTls) => {}
            (Some("ldap"), Transport::Ldaps) => {
                return Err(invalid(format!(
                    "{} is an ldap:// URL: use ldaps:// for LDAPS, or StartTLS with ldap://",
                    config.url
                )))
            }
            (Some("ldaps"), Transport::StartTls) => {
                return Err(invalid(format!(
                    "{} is an ldaps:// URL, which is already TLS: StartTLS goes with ldap://",
                    config.url
                )))
            }
            _ => {
                return Err(invalid(format!(
                    "{} is not an ldaps:// or ldap:// URL",
                    config.url
                )))
            }
        }
        if config.base_dn.trim().is_empty() {
            return Err(invalid("the base DN is empty".into()));
        }
        if config.bind_dn.trim().is_empty() {
            return Err(invalid("the bind DN is empty".into()));
        }
        ldap3::parse_filter(&config.filter).map_err(|_| {
            invalid(format!(
                "the filter {:?} does not parse (RFC 4515)",
                config.filter
            ))
        })?;
        if config.page_size == 0 || i32::try_from(config.page_size).is_err() {
            return Err(invalid(
                "the page size must be between 1 and 2147483647".into(),
            ));
        }
        if config.max_entries == 0
            || config.connect_timeout.is_zero()
            || config.operation_timeout.is_zero()
            || config.read_timeout.is_zero()
        {
            return Err(invalid(
                "the timeouts and the entry limit must be above 0".into(),
            ));
        }
        let tls = Arc::new(client_tls(&config)?);
        Ok(LdapDirectory {
            config,
            tls,
            page_observer: None,
            session: Arc::new(Mutex::new(None)),
            read_deadline: Arc::new(Mutex::new(None)),
        })
    }

    /// Reports each page of every read of user entries (not the group lookups) to
    /// `observer`, for a progress bar.
    pub fn with_page_observer(mut self, observer: PageObserver) -> LdapDirectory {
        self.page_observer = Some(observer);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &LdapSourceConfig {
        &self.config
    }

    pub(crate) async fn connect(&self) -> Result<Ldap, SourceError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.config.connect_timeout)
            .set_config(self.tls.clone())
            .set_starttls(self.config.transport == Transport::StartTls);
        let (connection, ldap) = LdapConnAsync::with_settings(settings, &self.config.url)
            .await
            .map_err(|error| self.connect_error(error))?;
        ldap3::drive!(connection);
        Ok(ldap)
    }

    fn connect_error(&self, error: LdapError) -> SourceError {
        let url = self.config.url.clone();
        match error {
            LdapError::Timeout { .. } => SourceError::Timeout {
                url,
                limit_seconds: whole_seconds(self.config.connect_timeout),
                during: "connect",
            },
            LdapError::Rustls { source } => SourceError::TlsFailed {
                url,
                detail: source.to_string(),
            },
            LdapError::Io { source } if is_tls_error(&source) => SourceError::TlsFailed {
                url,
                detail: source.to_string(),
            },
            LdapError::Io { source } => SourceError::Unreachable {
                url,
                detail: source.to_string(),
            },
            LdapError::LdapResult { result } => SourceError::TlsFailed {
                url,
                detail: format!(
                    "the server refused StartTLS: LDAP result {} ({})",
                    result.rc, result.text
                ),
            },
            LdapError::DNSName { source } => SourceError::ConfigInvalid {
                why: format!(
                    "the host of {url} cannot be checked against a certificate ({source}); \
                     write a DNS name or an IPv4 address (IPv6 literals are not supported)"
                ),
            },
            LdapError::UrlParsing { source } => SourceError::ConfigInvalid {
                why: format!("{url} is not a URL: {source}"),
            },
            other => SourceError::Unreachable {
                url,
                detail: other.to_string(),
            },
        }
    }

    async fn bind(&self, ldap: &mut Ldap, password: &str) -> Result<(), SourceError> {
        let bind_dn = self.config.bind_dn.clone();
        let result = ldap
            .with_timeout(self.config.operation_timeout)
            .simple_bind(&self.config.bind_dn, password)
            .await;
        match result {
            Ok(result) if result.rc == 0 => Ok(()),
            Ok(result) if result.rc == INVALID_CREDENTIALS => Err(SourceError::BindRejected {
                bind_dn,
                detail: result.text,
            }),
            Ok(result) => Err(SourceError::BindFailed {
                bind_dn,
                result_code: result.rc,
                detail: result.text,
            }),
            Err(LdapError::Timeout { .. }) => Err(SourceError::Timeout {
                url: self.config.url.clone(),
                limit_seconds: whole_seconds(self.config.operation_timeout),
                during: "bind",
            }),
            Err(other) => Err(self.connection_lost("bind", other)),
        }
    }

    /// The connection was set up and then closed or broke: ldap3 answers an operation whose
    /// connection is gone with an I/O, channel or end-of-stream error.
    fn connection_lost(&self, during: &'static str, error: LdapError) -> SourceError {
        SourceError::ConnectionLost {
            url: self.config.url.clone(),
            during,
            detail: error.to_string(),
        }
    }

    /// `read` cut short at `deadline`: ldap3's timeouts bound each message, so a server that
    /// sends every message just in time (or trickles its bytes) could otherwise keep one read
    /// going for as long as it likes.
    async fn before_deadline<T>(
        &self,
        deadline: Instant,
        read: impl Future<Output = Result<T, SourceError>>,
    ) -> Result<T, SourceError> {
        match tokio::time::timeout_at(deadline, read).await {
            Ok(result) => result,
            Err(_elapsed) => Err(SourceError::Timeout {
                url: self.config.url.clone(),
                limit_seconds: whole_seconds(self.config.read_timeout),
                during: "the whole read",
            }),
        }
    }

    fn read_deadline(&self) -> Option<Instant> {
        *self
            .read_deadline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_read_deadline(&self, deadline: Option<Instant>) {
        *self
            .read_deadline
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = deadline;
    }

    /// Every entry under `base_dn` that `filter` selects, page after page; any failure fails
    /// the whole read.
    async fn search(
        &self,
        ldap: &mut Ldap,
        base_dn: &str,
        filter: &str,
        attributes: &[String],
        overflow: Overflow,
    ) -> Result<Vec<DirectoryEntry>, SourceError> {
        let search_failed = |detail: String| SourceError::SearchFailed {
            base_dn: base_dn.to_owned(),
            detail,
        };
        let page_size = i32::try_from(self.config.page_size)
            .map_err(|_| search_failed("the page size is too large".into()))?;
        let mut entries = Vec::new();
        let mut cookie = Vec::new();
        let mut stopped = false;
        let mut pages = 0usize;
        loop {
            // Critical: a server that cannot page must refuse rather than answer a partial
            // list (AD stops at MaxPageSize without paging).
            let control: RawControl = PagedResults {
                size: page_size,
                cookie,
            }
            .critical()
            .into();
            let result = ldap
                .with_controls(control)
                .with_timeout(self.config.operation_timeout)
                .search(base_dn, Scope::Subtree, filter, attributes)
                .await
                .map_err(|error| match error {
                    LdapError::Timeout { .. } => SourceError::Timeout {
                        url: self.config.url.clone(),
                        limit_seconds: whole_seconds(self.config.operation_timeout),
                        during: "search",
                    },
                    // A connection that closes between two pages or in the middle of one
                    // (the paging cookie is then lost with it).
                    other @ (LdapError::Io { .. }
                    | LdapError::OpSend { .. }
                    | LdapError::ResultRecv { .. }
                    | LdapError::IdScrubSend { .. }
                    | LdapError::EndOfStream) => self.connection_lost("search", other),
                    other => search_failed(other.to_string()),
                })?;
            let (page, done) = result.success().map_err(|error| match error {
                LdapError::LdapResult { result } => search_failed(format!(
                    "LDAP result {} ({}){}",
                    result.rc,
                    result.text,
                    if result.matched.is_empty() {
                        String::new()
                    } else {
                        format!("; the closest existing DN is {}", result.matched)
                    }
                )),
                other => search_failed(other.to_string()),
            })?;
            for item in page {
                // Referrals (AD answers one per other naming context) and intermediate
                // responses are not entries.
                if item.is_ref() || item.is_intermediate() {
                    continue;
                }
                match overflow {
                    Overflow::Refuse(limit) | Overflow::RefuseUnobserved(limit)
                        if entries.len() >= limit =>
                    {
                        return Err(SourceError::TooManyEntries { limit })
                    }
                    Overflow::Stop(limit) if entries.len() >= limit => {
                        stopped = true;
                        break;
                    }
                    _ => {}
                }
                entries.push(directory_entry(item.0)?);
            }
            pages += 1;
            if let (Overflow::Refuse(_), Some(observer)) = (overflow, &self.page_observer) {
                observer(entries.len(), pages);
            }
            let control = done
                .ctrls
                .iter()
                .find(|control| control.1.ctype == PAGED_RESULTS_OID);
            cookie = match control.and_then(|control| control.1.val.as_deref()) {
                Some(value) => paged_results_cookie(value)?,
                // A server that answered without the control sent everything at once.
                None => Vec::new(),
            };
            if cookie.is_empty() {
                return Ok(entries);
            }
            if stopped {
                // A page size of 0 with the cookie abandons the paged search (RFC 2696 §3):
                // AD keeps at most MaxResultSetsPerConn (10) of them open per connection,
                // and the connection serves every group lookup of the sync.
                let control: RawControl = PagedResults { size: 0, cookie }.into();
                let _ = ldap
                    .with_controls(control)
                    .with_timeout(self.config.operation_timeout)
                    .search(base_dn, Scope::Subtree, filter, attributes)
                    .await;
                return Ok(entries);
            }
        }
    }
}

impl LdapDirectory {
    /// The one entry `dn` names, with `attributes` (a base-scope search, not paged: the
    /// rootDSE and the NTDS Settings object are single entries). `None` when the server
    /// answers without it.
    async fn read_base(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        attributes: &[&str],
    ) -> Result<Option<DirectoryEntry>, SourceError> {
        let search_failed = |detail: String| SourceError::SearchFailed {
            base_dn: if dn.is_empty() {
                "the rootDSE".to_owned()
            } else {
                dn.to_owned()
            },
            detail,
        };
        let result = ldap
            .with_timeout(self.config.operation_timeout)
            .search(dn, Scope::Base, "(objectClass=*)", attributes)
            .await
            .map_err(|error| match error {
                LdapError::Timeout { .. } => SourceError::Timeout {
                    url: self.config.url.clone(),
                    limit_seconds: whole_seconds(self.config.operation_timeout),
                    during: "search",
                },
                other => search_failed(other.to_string()),
            })?;
        let (entries, _) = result.success().map_err(|error| match error {
            LdapError::LdapResult { result } => {
                search_failed(format!("LDAP result {} ({})", result.rc, result.text))
            }
            other => search_failed(other.to_string()),
        })?;
        match entries
            .into_iter()
            .find(|item| !item.is_ref() && !item.is_intermediate())
        {
            Some(item) => Ok(Some(directory_entry(item.0)?)),
            None => Ok(None),
        }
    }

    /// The session of the current read, or a new bound one.
    async fn session(&self) -> Result<Ldap, SourceError> {
        if let Some(ldap) = self.take_session() {
            return Ok(ldap);
        }
        let password = self.config.bind_password.read()?;
        let mut ldap = self.connect().await?;
        if let Err(error) = self.bind(&mut ldap, &password).await {
            let _ = ldap.unbind().await;
            return Err(error);
        }
        Ok(ldap)
    }

    /// The configured filter, with parentheses (RFC 4515 lets a lone item go without).
    fn user_filter(&self) -> String {
        let filter = self.config.filter.trim();
        if filter.starts_with('(') {
            filter.to_owned()
        } else {
            format!("({filter})")
        }
    }
}

/// `value` as hex, for an invocationId.
fn hex(value: &[u8]) -> String {
    value.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// One text value of `name`, if the entry has exactly one that is UTF-8.
fn single_text(entry: &DirectoryEntry, name: &str) -> Option<String> {
    match entry.values(name) {
        [value] => String::from_utf8(value.clone()).ok(),
        _ => None,
    }
}

impl DirectorySource for LdapDirectory {
    /// Active Directory's rootDSE (`highestCommittedUSN`, `dsServiceName`) and the
    /// `invocationId` of the NTDS Settings object it names, read on the connection the run's
    /// searches then use, before any of them (Microsoft, "Polling for Changes Using the
    /// USNChanged Attribute"). A server without them (not AD) cannot be read incrementally.
    async fn change_position(&self) -> Result<ChangeTracking, SourceError> {
        let password = self.config.bind_password.read()?;
        self.close_session().await;
        let mut ldap = self.connect().await?;
        let read = async {
            self.bind(&mut ldap, &password).await?;
            let root = self
                .read_base(&mut ldap, "", &["highestCommittedUSN", "dsServiceName"])
                .await?;
            let unavailable = |why: &str| ChangeTracking::Unavailable { why: why.to_owned() };
            let Some(root) = root else {
                return Ok(unavailable("the server did not answer its rootDSE"));
            };
            let (Some(usn), Some(server)) = (
                single_text(&root, "highestCommittedUSN"),
                single_text(&root, "dsServiceName"),
            ) else {
                return Ok(unavailable(
                    "the rootDSE has no highestCommittedUSN or dsServiceName (not Active Directory)",
                ));
            };
            let highest_committed_usn = usn.trim().parse::<u64>().map_err(|_| {
                SourceError::ProtocolViolation {
                    detail: format!("a highestCommittedUSN that is not a number: {usn:?}"),
                }
            })?;
            let settings = self.read_base(&mut ldap, &server, &["invocationId"]).await;
            let invocation_id = match settings {
                Ok(Some(settings)) => match settings.values("invocationId") {
                    [value] if value.len() == 16 => hex(value),
                    _ => {
                        return Ok(unavailable(
                            "the domain controller's NTDS Settings object has no readable invocationId",
                        ))
                    }
                },
                // The bind account may not read the configuration partition: full syncs then.
                Ok(None) | Err(SourceError::SearchFailed { .. }) => {
                    return Ok(unavailable(
                        "the domain controller's NTDS Settings object (its invocationId) cannot be read by the bind account",
                    ))
                }
                Err(other) => return Err(other),
            };
            Ok(ChangeTracking::Available(ChangePosition {
                server,
                invocation_id,
                highest_committed_usn,
            }))
        }
        .await;
        match read {
            Ok(tracking) => {
                self.keep_session(ldap);
                Ok(tracking)
            }
            Err(error) => {
                let _ = ldap.unbind().await;
                Err(error)
            }
        }
    }

    async fn read_selected(
        &self,
        selection: &EntrySelection<'_>,
        attributes: &[String],
    ) -> Result<Vec<DirectoryEntry>, SourceError> {
        let users = self.user_filter();
        // Every value inside a filter is escaped (RFC 4515 §3).
        let (base_dn, filter) = match selection {
            EntrySelection::All => (self.config.base_dn.as_str(), users),
            EntrySelection::ChangedSince(usn) => (
                self.config.base_dn.as_str(),
                format!("(&{users}(uSNChanged>={usn}))"),
            ),
            EntrySelection::MembersOfGroup(group_dn) => (
                self.config.base_dn.as_str(),
                format!(
                    "(&{users}(memberOf:{MATCHING_RULE_IN_CHAIN}:={}))",
                    ldap3::ldap_escape(*group_dn)
                ),
            ),
            EntrySelection::Dns(dns) => {
                if dns.is_empty() {
                    return Ok(Vec::new());
                }
                let any: String = dns
                    .iter()
                    .map(|dn| format!("(distinguishedName={})", ldap3::ldap_escape(dn.as_str())))
                    .collect();
                (self.config.base_dn.as_str(), format!("(&{users}(|{any}))"))
            }
            EntrySelection::AllGroups => (
                self.config
                    .group_base_dn
                    .as_deref()
                    .unwrap_or(&self.config.base_dn),
                "(objectClass=group)".to_owned(),
            ),
        };
        let overflow = match selection {
            EntrySelection::AllGroups => Overflow::RefuseUnobserved(self.config.max_entries),
            _ => Overflow::Refuse(self.config.max_entries),
        };
        let mut ldap = self.session().await?;
        let entries = self
            .search(&mut ldap, base_dn, &filter, attributes, overflow)
            .await;
        match &entries {
            Ok(_) => self.keep_session(ldap),
            Err(_) => {
                let _ = ldap.unbind().await;
            }
        }
        entries
    }

    async fn read_entries(
        &self,
        attributes: &[String],
    ) -> Result<Vec<DirectoryEntry>, SourceError> {
        // The password first: a missing one needs no connection to report.
        let password = self.config.bind_password.read()?;
        self.close_session().await;
        let deadline = Instant::now() + self.config.read_timeout;
        self.set_read_deadline(Some(deadline));
        let mut ldap = self.before_deadline(deadline, self.connect()).await?;
        let read = self
            .before_deadline(deadline, async {
                self.bind(&mut ldap, &password).await?;
                self.search(
                    &mut ldap,
                    &self.config.base_dn,
                    &self.config.filter,
                    attributes,
                    Overflow::Refuse(self.config.max_entries),
                )
                .await
            })
            .await;
        match read {
            Ok(entries) => {
                self.keep_session(ldap);
                Ok(entries)
            }
            Err(error) => {
                // A failed unbind changes nothing that was read.
                let _ = ldap.unbind().await;
                Err(error)
            }
        }
    }

    async fn read_groups(
        &self,
        query: &GroupQuery<'_>,
    ) -> Result<Vec<DirectoryEntry>, SourceError> {
        // Values inside a filter are escaped (RFC 4515 §3): a DN holding `*` or `)` must not
        // widen the search.
        let member = ldap3::ldap_escape(query.member_dn);
        let filter = match query.rule {
            GroupMembershipRule::InChain => {
                format!("(&(objectClass=group)(member:{MATCHING_RULE_IN_CHAIN}:={member}))")
            }
            GroupMembershipRule::MemberAttribute {
                object_class,
                member_attribute,
            } => format!(
                "(&(objectClass={})({}={member}))",
                ldap3::ldap_escape(object_class.as_str()),
                ldap3::ldap_escape(member_attribute.as_str())
            ),
        };
        // The lookups belong to the read `read_entries` started; one made on its own gets a
        // read of its own.
        let deadline = match self.read_deadline() {
            Some(deadline) => deadline,
            None => {
                let deadline = Instant::now() + self.config.read_timeout;
                self.set_read_deadline(Some(deadline));
                deadline
            }
        };
        let mut ldap = match self.take_session() {
            Some(ldap) => ldap,
            None => {
                let password = self.config.bind_password.read()?;
                let mut ldap = self.before_deadline(deadline, self.connect()).await?;
                self.before_deadline(deadline, self.bind(&mut ldap, &password))
                    .await?;
                ldap
            }
        };
        let base_dn = self
            .config
            .group_base_dn
            .as_deref()
            .unwrap_or(&self.config.base_dn);
        let groups = self
            .before_deadline(
                deadline,
                self.search(
                    &mut ldap,
                    base_dn,
                    &filter,
                    &[query.name_attribute.to_owned()],
                    Overflow::Stop(query.at_most),
                ),
            )
            .await;
        match groups {
            Ok(groups) => {
                self.keep_session(ldap);
                Ok(groups)
            }
            Err(error) => {
                // The run fails with this error: a connection cut mid-search (or past its
                // deadline) is not one to reuse.
                let _ = ldap.unbind().await;
                Err(error)
            }
        }
    }

    async fn end_read(&self) {
        self.close_session().await;
        self.set_read_deadline(None);
    }
}

impl LdapDirectory {
    fn take_session(&self) -> Option<Ldap> {
        // A poisoned lock only means another lookup panicked: the slot is still an Option.
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    fn keep_session(&self, ldap: Ldap) {
        *self
            .session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(ldap);
    }

    async fn close_session(&self) {
        if let Some(mut ldap) = self.take_session() {
            let _ = ldap.unbind().await;
        }
    }
}

/// Trusts only the configured CA file's certificates, with aws-lc-rs as the provider (the
/// one the rest of certgate uses).
fn client_tls(config: &LdapSourceConfig) -> Result<rustls::ClientConfig, SourceError> {
    let path = config.ca_file.display().to_string();
    let invalid = |why: String| SourceError::CaFileInvalid {
        path: path.clone(),
        why,
    };
    let pem = std::fs::read(&config.ca_file).map_err(|error| invalid(error.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|error| invalid(error.to_string()))?;
        roots
            .add(certificate)
            .map_err(|error| invalid(error.to_string()))?;
    }
    if roots.is_empty() {
        return Err(invalid("it holds no PEM certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| SourceError::ConfigInvalid {
            why: format!("the TLS settings: {error}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Whether an I/O error from the handshake is rustls refusing (tokio-rustls wraps TLS
/// errors, certificate verification included, in `io::Error`).
fn is_tls_error(error: &std::io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PasswordSource;

    fn config(url: &str, transport: Transport) -> LdapSourceConfig {
        LdapSourceConfig::new(
            url,
            transport,
            "/nonexistent/ca.pem",
            "CN=sync,DC=contoso,DC=example",
            PasswordSource::Environment("UNUSED".into()),
            "DC=contoso,DC=example",
        )
    }

    fn refusal(config: LdapSourceConfig) -> &'static str {
        LdapDirectory::new(config).expect_err("refused").code()
    }

    #[test]
    fn settings_that_cannot_work_are_refused_before_anything_is_sent() {
        let table: Vec<(LdapSourceConfig, &str)> = vec![
            (
                config("ldap://dc.contoso.example", Transport::PlainRefused),
                "directory-source-plaintext-bind-refused",
            ),
            (
                config("ldaps://dc.contoso.example", Transport::PlainRefused),
                "directory-source-plaintext-bind-refused",
            ),
            (
                config("ldap://dc.contoso.example", Transport::Ldaps),
                "directory-source-config-invalid",
            ),
            (
                config("ldaps://dc.contoso.example", Transport::StartTls),
                "directory-source-config-invalid",
            ),
            (
                config("https://dc.contoso.example", Transport::Ldaps),
                "directory-source-config-invalid",
            ),
            (
                LdapSourceConfig {
                    base_dn: " ".into(),
                    ..config("ldaps://dc.contoso.example", Transport::Ldaps)
                },
                "directory-source-config-invalid",
            ),
            (
                LdapSourceConfig {
                    filter: "(objectClass=user".into(),
                    ..config("ldaps://dc.contoso.example", Transport::Ldaps)
                },
                "directory-source-config-invalid",
            ),
            (
                LdapSourceConfig {
                    page_size: 0,
                    ..config("ldaps://dc.contoso.example", Transport::Ldaps)
                },
                "directory-source-config-invalid",
            ),
            (
                LdapSourceConfig {
                    operation_timeout: Duration::ZERO,
                    ..config("ldaps://dc.contoso.example", Transport::Ldaps)
                },
                "directory-source-config-invalid",
            ),
            (
                LdapSourceConfig {
                    read_timeout: Duration::ZERO,
                    ..config("ldaps://dc.contoso.example", Transport::Ldaps)
                },
                "directory-source-config-invalid",
            ),
            // Everything else right: the CA file is read last.
            (
                config("ldaps://dc.contoso.example", Transport::Ldaps),
                "directory-source-ca-file-invalid",
            ),
        ];
        for (config, code) in table {
            let url = config.url.clone();
            assert_eq!(refusal(config), code, "{url}");
        }
    }

    #[test]
    fn timeouts_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
    }
}
