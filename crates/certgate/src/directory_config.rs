//! `[directory.ldap]` in certgate.toml: Active Directory or another LDAP directory as the
//! source of certgate's users. Read here into certgate-ldap's [`LdapSourceConfig`] and
//! certgate-core's [`SyncSettings`]; the rules that need the network or the CA file (the URL's
//! scheme against StartTLS, the filter's syntax, the CA file) are checked by
//! [`certgate_ldap::LdapDirectory::new`] when a sync starts, with their reason codes.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use certgate_core::directory_source::{
    AccountStateSource, AttributeMap, GroupMembershipRule, ImmutableIdSource, Profile,
    SyncSettings, UpnSource,
};
use certgate_ldap::{LdapSourceConfig, PasswordSource, Transport};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DirectoryFileConfig {
    ldap: Option<LdapFileConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LdapFileConfig {
    url: String,
    #[serde(default)]
    start_tls: bool,
    ca_file: PathBuf,
    bind_dn: String,
    bind_password_env: Option<String>,
    bind_password_file: Option<PathBuf>,
    base_dn: String,
    filter: Option<String>,
    profile: Option<String>,
    page_size: Option<u32>,
    connect_timeout_seconds: Option<u64>,
    operation_timeout_seconds: Option<u64>,
    read_timeout_seconds: Option<u64>,
    max_entries: Option<u64>,
    removal_grace_seconds: Option<u64>,
    sync_interval_seconds: Option<u64>,
    full_sync_interval_seconds: Option<u64>,
    #[serde(default)]
    attributes: AttributesFileConfig,
    #[serde(default)]
    groups: GroupsFileConfig,
}

/// `[directory.ldap.groups]`: which group memberships are read, and their caps.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsFileConfig {
    /// `false` reads no memberships (the users' directory groups are then emptied).
    enabled: Option<bool>,
    /// Where group lookups start (default: `base_dn`).
    base_dn: Option<String>,
    name_attribute: Option<String>,
    /// Generic profile only: the groups' object class and member attribute.
    object_class: Option<String>,
    member_attribute: Option<String>,
    max_groups_per_user: Option<u64>,
    max_lookups_per_run: Option<u64>,
}

/// Overrides of the profile's attribute map. An empty string turns an optional attribute off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttributesFileConfig {
    user_principal_name: Option<String>,
    /// With it, the UPN is `<user_principal_name attribute>@<this domain>` (for `uid`).
    user_principal_name_domain: Option<String>,
    display_name: Option<Vec<String>>,
    mail: Option<String>,
    proxy_addresses: Option<String>,
    proxy_address_types: Option<Vec<String>>,
    immutable_id: Option<String>,
    /// `binary-guid` (16 bytes, base64 as Entra Connect) or `text-uuid` (RFC 4530 entryUUID).
    immutable_id_format: Option<String>,
    user_account_control: Option<String>,
    certificate_mappings: Option<String>,
}

/// The directory source in force.
#[derive(Clone, Debug)]
pub(crate) struct DirectorySourceSettings {
    pub(crate) ldap: LdapSourceConfig,
    pub(crate) sync: SyncSettings,
    /// How often `serve` synchronises.
    pub(crate) sync_interval: Duration,
    /// How long after the last full sync an otherwise incremental one reads everything.
    pub(crate) full_sync_interval: Duration,
}

/// The default interval between scheduled syncs: Entra Connect's default cycle.
const DEFAULT_SYNC_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// The default interval between full syncs when the others are incremental: a day, so that
/// whatever an incremental sync could have missed is repaired within one.
const DEFAULT_FULL_SYNC_INTERVAL: Duration = Duration::from_secs(86_400);
/// At most ten years: longer is a typo, not a policy.
const MAX_REMOVAL_GRACE_SECONDS: u64 = 10 * 365 * 86_400;

impl DirectoryFileConfig {
    /// `None` without a `[directory.ldap]` section.
    pub(crate) fn settings(&self) -> anyhow::Result<Option<DirectorySourceSettings>> {
        let Some(ldap) = &self.ldap else {
            return Ok(None);
        };
        ldap.settings().map(Some)
    }
}

fn non_empty(setting: &str, value: &str) -> anyhow::Result<String> {
    if value.trim().is_empty() {
        bail!("[directory.ldap] {setting} is empty");
    }
    Ok(value.to_owned())
}

fn within(setting: &str, value: u64, range: std::ops::RangeInclusive<u64>) -> anyhow::Result<u64> {
    if !range.contains(&value) {
        bail!(
            "[directory.ldap] {setting} must be {} to {}, not {value}",
            range.start(),
            range.end()
        );
    }
    Ok(value)
}

impl LdapFileConfig {
    fn settings(&self) -> anyhow::Result<DirectorySourceSettings> {
        let scheme = self
            .url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        let transport = match (scheme.as_deref(), self.start_tls) {
            (Some("ldaps"), false) => Transport::Ldaps,
            (Some("ldaps"), true) => bail!(
                "[directory.ldap] url {} is ldaps:// (already TLS): start_tls goes with ldap:// URLs; remove start_tls",
                self.url
            ),
            (Some("ldap"), true) => Transport::StartTls,
            // Kept so that the sync refuses it with its reason code
            // (directory-source-plaintext-bind-refused), as certgate-ldap decides.
            (Some("ldap"), false) => Transport::PlainRefused,
            _ => bail!(
                "[directory.ldap] url {:?} is not an ldaps:// or ldap:// URL",
                self.url
            ),
        };
        let bind_password = match (&self.bind_password_env, &self.bind_password_file) {
            (Some(variable), None) => {
                PasswordSource::Environment(non_empty("bind_password_env", variable)?)
            }
            (None, Some(file)) => PasswordSource::File(file.clone()),
            (Some(_), Some(_)) => bail!(
                "[directory.ldap] has both bind_password_env and bind_password_file: keep one"
            ),
            (None, None) => bail!(
                "[directory.ldap] needs bind_password_env (the name of an environment variable) or bind_password_file (a file readable by certgate only)"
            ),
        };
        let profile = match self.profile.as_deref() {
            None | Some("active-directory") => Profile::ActiveDirectory,
            Some("generic") => Profile::GenericLdap,
            Some(other) => {
                bail!("[directory.ldap] profile {other:?} is not active-directory or generic")
            }
        };
        let default_filter = match profile {
            Profile::ActiveDirectory => LdapSourceConfig::ACTIVE_DIRECTORY_FILTER,
            Profile::GenericLdap => LdapSourceConfig::INET_ORG_PERSON_FILTER,
        };
        let mut ldap = LdapSourceConfig::new(
            self.url.clone(),
            transport,
            self.ca_file.clone(),
            non_empty("bind_dn", &self.bind_dn)?,
            bind_password,
            non_empty("base_dn", &self.base_dn)?,
        );
        ldap.filter = match &self.filter {
            Some(filter) => non_empty("filter", filter)?,
            None => default_filter.to_owned(),
        };
        if let Some(page_size) = self.page_size {
            ldap.page_size = within("page_size", page_size.into(), 1..=100_000)? as u32;
        }
        if let Some(seconds) = self.connect_timeout_seconds {
            ldap.connect_timeout =
                Duration::from_secs(within("connect_timeout_seconds", seconds, 1..=600)?);
        }
        if let Some(seconds) = self.operation_timeout_seconds {
            ldap.operation_timeout =
                Duration::from_secs(within("operation_timeout_seconds", seconds, 1..=3600)?);
        }
        if let Some(seconds) = self.read_timeout_seconds {
            ldap.read_timeout =
                Duration::from_secs(within("read_timeout_seconds", seconds, 1..=86_400)?);
        }
        if let Some(entries) = self.max_entries {
            let entries = within("max_entries", entries, 1..=100_000_000)?;
            ldap.max_entries = usize::try_from(entries).unwrap_or(usize::MAX);
        }
        let removal_grace = match self.removal_grace_seconds {
            Some(seconds) => Duration::from_secs(within(
                "removal_grace_seconds",
                seconds,
                0..=MAX_REMOVAL_GRACE_SECONDS,
            )?),
            None => SyncSettings::DEFAULT_REMOVAL_GRACE,
        };
        let sync_interval = match self.sync_interval_seconds {
            Some(seconds) => {
                Duration::from_secs(within("sync_interval_seconds", seconds, 10..=7 * 86_400)?)
            }
            None => DEFAULT_SYNC_INTERVAL,
        };
        let full_sync_interval = match self.full_sync_interval_seconds {
            Some(seconds) => Duration::from_secs(within(
                "full_sync_interval_seconds",
                seconds,
                sync_interval.as_secs()..=30 * 86_400,
            )?),
            None => DEFAULT_FULL_SYNC_INTERVAL.max(sync_interval),
        };
        if let Some(base_dn) = &self.groups.base_dn {
            ldap.group_base_dn = Some(non_empty("groups.base_dn", base_dn)?);
        }
        let mut attributes = self.attributes.apply(AttributeMap::for_profile(profile))?;
        attributes.groups = self.groups.apply(attributes.groups)?;
        Ok(DirectorySourceSettings {
            ldap,
            sync: SyncSettings {
                attributes,
                removal_grace,
            },
            sync_interval,
            full_sync_interval,
        })
    }
}

/// `None` for an empty string (the attribute turned off), the name otherwise.
fn optional(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// `value` of `setting` in `section` as an LDAP attribute or object class name: its
/// descriptor form (RFC 4512 §1.4: letters, digits, hyphens), so nothing else reaches a filter.
fn ldap_name(section: &str, setting: &str, value: &str) -> anyhow::Result<String> {
    let value = value.trim();
    if value.is_empty()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        bail!("{section} {setting} {value:?} is not an LDAP name (letters, digits, hyphens)");
    }
    Ok(value.to_owned())
}

impl AttributesFileConfig {
    fn apply(&self, mut map: AttributeMap) -> anyhow::Result<AttributeMap> {
        let attribute =
            |setting: &str, value: &str| ldap_name("[directory.ldap.attributes]", setting, value);
        let upn_attribute = match (&self.user_principal_name, &map.user_principal_name) {
            (Some(name), _) => attribute("user_principal_name", name)?,
            (
                None,
                UpnSource::Attribute(name)
                | UpnSource::AttributeAtDomain {
                    attribute: name, ..
                },
            ) => name.clone(),
        };
        map.user_principal_name = match &self.user_principal_name_domain {
            Some(domain) => UpnSource::AttributeAtDomain {
                attribute: upn_attribute,
                domain: non_empty_in_attributes("user_principal_name_domain", domain)?,
            },
            None => UpnSource::Attribute(upn_attribute),
        };
        if let Some(names) = &self.display_name {
            map.display_name = names
                .iter()
                .map(|name| attribute("display_name", name))
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(name) = &self.mail {
            map.mail = optional(name)
                .map(|name| attribute("mail", &name))
                .transpose()?;
        }
        if let Some(name) = &self.proxy_addresses {
            map.proxy_addresses = optional(name)
                .map(|name| attribute("proxy_addresses", &name))
                .transpose()?;
        }
        if let Some(types) = &self.proxy_address_types {
            map.proxy_address_types = types
                .iter()
                .map(|kind| attribute("proxy_address_types", kind))
                .collect::<anyhow::Result<_>>()?;
        }
        map.immutable_id = match (&self.immutable_id, self.immutable_id_format.as_deref()) {
            (None, None) => map.immutable_id,
            (None, Some(_)) => bail!(
                "[directory.ldap.attributes] immutable_id_format needs immutable_id (the attribute it describes)"
            ),
            (Some(name), format) => {
                let name = attribute("immutable_id", name)?;
                let binary = match (format, map.profile) {
                    (Some("binary-guid"), _) | (None, Profile::ActiveDirectory) => true,
                    (Some("text-uuid"), _) | (None, Profile::GenericLdap) => false,
                    (Some(other), _) => bail!(
                        "[directory.ldap.attributes] immutable_id_format {other:?} is not binary-guid or text-uuid"
                    ),
                };
                if binary {
                    ImmutableIdSource::BinaryGuid { attribute: name }
                } else {
                    ImmutableIdSource::TextUuid { attribute: name }
                }
            }
        };
        if let Some(name) = &self.user_account_control {
            map.account_state = match optional(name) {
                Some(name) => AccountStateSource::UserAccountControl {
                    attribute: attribute("user_account_control", &name)?,
                },
                None => AccountStateSource::FilterSelectsEnabledAccounts,
            };
        }
        if let Some(name) = &self.certificate_mappings {
            map.certificate_mappings = optional(name)
                .map(|name| attribute("certificate_mappings", &name))
                .transpose()?;
        }
        Ok(map)
    }
}

impl GroupsFileConfig {
    fn apply(
        &self,
        groups: Option<certgate_core::directory_source::GroupMembership>,
    ) -> anyhow::Result<Option<certgate_core::directory_source::GroupMembership>> {
        let (Some(mut groups), true) = (groups, self.enabled.unwrap_or(true)) else {
            return Ok(None);
        };
        let attribute =
            |setting: &str, value: &str| ldap_name("[directory.ldap.groups]", setting, value);
        if let Some(name) = &self.name_attribute {
            groups.name_attribute = attribute("name_attribute", name)?;
        }
        match &mut groups.rule {
            GroupMembershipRule::MemberAttribute {
                object_class,
                member_attribute,
            } => {
                if let Some(name) = &self.object_class {
                    *object_class = attribute("object_class", name)?;
                }
                if let Some(name) = &self.member_attribute {
                    *member_attribute = attribute("member_attribute", name)?;
                }
            }
            // Active Directory's in-chain rule works on `member` of `group` objects only.
            GroupMembershipRule::InChain => {
                if self.object_class.is_some() || self.member_attribute.is_some() {
                    bail!(
                        "[directory.ldap.groups] object_class and member_attribute are for the generic profile; Active Directory's groups are found with the in-chain rule on member"
                    );
                }
            }
        }
        if let Some(cap) = self.max_groups_per_user {
            groups.max_groups_per_user =
                usize::try_from(within("groups.max_groups_per_user", cap, 1..=100_000)?)
                    .unwrap_or(usize::MAX);
        }
        if let Some(cap) = self.max_lookups_per_run {
            groups.max_lookups_per_run =
                usize::try_from(within("groups.max_lookups_per_run", cap, 1..=100_000_000)?)
                    .unwrap_or(usize::MAX);
        }
        Ok(Some(groups))
    }
}

fn non_empty_in_attributes(setting: &str, value: &str) -> anyhow::Result<String> {
    if value.trim().is_empty() || value.contains('@') || value.chars().any(char::is_whitespace) {
        bail!(
            "[directory.ldap.attributes] {setting} {value:?} must be a domain name (contoso.example)"
        );
    }
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Option<DirectorySourceSettings>> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            directory: DirectoryFileConfig,
        }
        let file: File = toml::from_str(text)?;
        file.directory.settings()
    }

    const MINIMAL: &str = r#"
[directory.ldap]
url = "ldaps://dc1.contoso.example"
ca_file = "/etc/certgate/dc-ca.pem"
bind_dn = "svc-certgate@contoso.example"
bind_password_env = "CERTGATE_LDAP_PASSWORD"
base_dn = "DC=contoso,DC=example"
"#;

    #[test]
    fn group_memberships_follow_the_profile_and_their_settings() {
        use certgate_core::directory_source::GroupMembership;
        let settings = parse(MINIMAL).expect("parses").expect("configured");
        assert_eq!(
            settings.sync.attributes.groups,
            Some(GroupMembership::active_directory())
        );
        assert_eq!(settings.ldap.group_base_dn, None);

        let generic = format!(
            "{MINIMAL}profile = \"generic\"\n[directory.ldap.groups]\nbase_dn = \"ou=groups,dc=example,dc=test\"\n\
             object_class = \"groupOfUniqueNames\"\nmember_attribute = \"uniqueMember\"\n\
             name_attribute = \"description\"\nmax_groups_per_user = 50\nmax_lookups_per_run = 500\n"
        );
        let settings = parse(&generic).expect("parses").expect("configured");
        assert_eq!(
            settings.ldap.group_base_dn.as_deref(),
            Some("ou=groups,dc=example,dc=test")
        );
        assert_eq!(
            settings.sync.attributes.groups,
            Some(GroupMembership {
                rule: GroupMembershipRule::MemberAttribute {
                    object_class: "groupOfUniqueNames".into(),
                    member_attribute: "uniqueMember".into(),
                },
                name_attribute: "description".into(),
                max_groups_per_user: 50,
                max_lookups_per_run: 500,
            })
        );

        let off = format!("{MINIMAL}[directory.ldap.groups]\nenabled = false\n");
        let settings = parse(&off).expect("parses").expect("configured");
        assert_eq!(settings.sync.attributes.groups, None);

        for (bad, says) in [
            ("member_attribute = \"member\"", "for the generic profile"),
            ("name_attribute = \"c n\"", "name_attribute"),
            ("max_groups_per_user = 0", "max_groups_per_user"),
            ("max_lookups_per_run = 0", "max_lookups_per_run"),
            ("base_dn = \" \"", "base_dn"),
        ] {
            let text = format!("{MINIMAL}[directory.ldap.groups]\n{bad}\n");
            let error = parse(&text).expect_err(bad).to_string();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn no_section_means_no_source() {
        assert!(parse("").expect("parses").is_none());
    }

    #[test]
    fn the_minimal_section_takes_the_active_directory_defaults() {
        let settings = parse(MINIMAL).expect("parses").expect("configured");
        assert_eq!(settings.ldap.transport, Transport::Ldaps);
        assert_eq!(
            settings.ldap.filter,
            LdapSourceConfig::ACTIVE_DIRECTORY_FILTER
        );
        assert_eq!(
            settings.ldap.bind_password,
            PasswordSource::Environment("CERTGATE_LDAP_PASSWORD".into())
        );
        assert_eq!(settings.sync.attributes, AttributeMap::active_directory());
        assert_eq!(
            settings.sync.removal_grace,
            SyncSettings::DEFAULT_REMOVAL_GRACE
        );
        assert_eq!(settings.sync_interval, DEFAULT_SYNC_INTERVAL);
        assert_eq!(settings.full_sync_interval, DEFAULT_FULL_SYNC_INTERVAL);
    }

    #[test]
    fn every_setting_and_attribute_override_is_read() {
        let text = r#"
[directory.ldap]
url = "ldap://ldap.contoso.example"
start_tls = true
ca_file = "/etc/certgate/ldap-ca.pem"
bind_dn = "cn=certgate,ou=services,dc=contoso,dc=example"
bind_password_file = "/etc/certgate/ldap-password"
base_dn = "ou=people,dc=contoso,dc=example"
filter = "(&(objectClass=inetOrgPerson)(!(pwdAccountLockedTime=*)))"
profile = "generic"
page_size = 500
connect_timeout_seconds = 5
operation_timeout_seconds = 20
read_timeout_seconds = 600
max_entries = 50000
removal_grace_seconds = 86400
sync_interval_seconds = 600
full_sync_interval_seconds = 7200
[directory.ldap.attributes]
user_principal_name = "uid"
user_principal_name_domain = "contoso.example"
display_name = ["cn"]
mail = ""
immutable_id = "nsUniqueId"
immutable_id_format = "text-uuid"
"#;
        let settings = parse(text).expect("parses").expect("configured");
        assert_eq!(settings.ldap.transport, Transport::StartTls);
        assert_eq!(settings.ldap.page_size, 500);
        assert_eq!(settings.ldap.connect_timeout, Duration::from_secs(5));
        assert_eq!(settings.ldap.operation_timeout, Duration::from_secs(20));
        assert_eq!(settings.ldap.read_timeout, Duration::from_secs(600));
        assert_eq!(settings.ldap.max_entries, 50_000);
        assert_eq!(
            settings.ldap.bind_password,
            PasswordSource::File("/etc/certgate/ldap-password".into())
        );
        assert_eq!(settings.sync.removal_grace, Duration::from_secs(86_400));
        assert_eq!(settings.sync_interval, Duration::from_secs(600));
        assert_eq!(settings.full_sync_interval, Duration::from_secs(7200));
        let map = &settings.sync.attributes;
        assert_eq!(map.profile, Profile::GenericLdap);
        assert_eq!(
            map.user_principal_name,
            UpnSource::AttributeAtDomain {
                attribute: "uid".into(),
                domain: "contoso.example".into()
            }
        );
        assert_eq!(map.display_name, ["cn"]);
        assert_eq!(map.mail, None);
        assert_eq!(
            map.immutable_id,
            ImmutableIdSource::TextUuid {
                attribute: "nsUniqueId".into()
            }
        );
    }

    #[test]
    fn misconfigurations_are_refused_naming_the_setting() {
        let with = |extra: &str| format!("{MINIMAL}{extra}");
        let cases: Vec<(String, &str)> = vec![
            (MINIMAL.replace("ldaps://", "https://"), "not an ldaps:// or ldap:// URL"),
            (with("start_tls = true\n"), "start_tls goes with ldap://"),
            (
                with("bind_password_file = \"/p\"\n"),
                "both bind_password_env and bind_password_file",
            ),
            (
                MINIMAL.replace("bind_password_env = \"CERTGATE_LDAP_PASSWORD\"\n", ""),
                "needs bind_password_env",
            ),
            (
                MINIMAL.replace("DC=contoso,DC=example\"", "\""),
                "base_dn is empty",
            ),
            (with("profile = \"openldap\"\n"), "profile \"openldap\""),
            (with("page_size = 0\n"), "page_size must be 1 to 100000"),
            (
                with("removal_grace_seconds = 999999999999\n"),
                "removal_grace_seconds must be 0 to",
            ),
            (
                with("sync_interval_seconds = 1\n"),
                "sync_interval_seconds must be 10 to",
            ),
            (
                // A full sync interval shorter than the sync interval would make every sync full.
                with("full_sync_interval_seconds = 60\n"),
                "full_sync_interval_seconds must be 1800 to 2592000, not 60",
            ),
            (with("bind_pasword_env = \"X\"\n"), "unknown field"),
            (
                with("[directory.ldap.attributes]\nmail = \"mail; rm\"\n"),
                "mail \"mail; rm\" is not an LDAP name",
            ),
            (
                with("[directory.ldap.attributes]\nimmutable_id_format = \"text-uuid\"\n"),
                "immutable_id_format needs immutable_id",
            ),
            (
                with("[directory.ldap.attributes]\nimmutable_id = \"objectGUID\"\nimmutable_id_format = \"hex\"\n"),
                "is not binary-guid or text-uuid",
            ),
        ];
        for (text, expected) in cases {
            let error = format!("{:#}", parse(&text).expect_err(expected));
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn a_plain_ldap_url_is_kept_for_the_sync_to_refuse_with_its_code() {
        let settings = parse(&MINIMAL.replace("ldaps://", "ldap://"))
            .expect("parses")
            .expect("configured");
        assert_eq!(settings.ldap.transport, Transport::PlainRefused);
        assert_eq!(
            certgate_ldap::LdapDirectory::new(settings.ldap)
                .expect_err("refused")
                .code(),
            "directory-source-plaintext-bind-refused"
        );
    }
}
