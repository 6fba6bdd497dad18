//! [`AttributeMap`]: which LDAP attribute each certgate user attribute comes from, with the
//! Active Directory and generic LDAP (inetOrgPerson) profiles as starting points.

use super::GroupMembership;

/// Which kind of directory the defaults are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Active Directory (and Samba AD): the attributes Entra Connect synchronises.
    ActiveDirectory,
    /// A generic LDAP directory with inetOrgPerson entries (OpenLDAP, 389 Directory Server):
    /// `entryUUID` (RFC 4530) as the immutable ID.
    GenericLdap,
}

/// Where the userPrincipalName comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpnSource {
    /// One single-valued attribute holds the whole UPN (AD's userPrincipalName, or `mail`).
    Attribute(String),
    /// `value@domain`: for directories whose accounts have only a login name (`uid`).
    AttributeAtDomain {
        /// The attribute with the part before the `@`.
        attribute: String,
        /// The part after the `@`.
        domain: String,
    },
}

/// Where the immutable ID (onPremisesImmutableId, the federation NameID Microsoft 365
/// matches users by) comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImmutableIdSource {
    /// Entra Connect's default sourceAnchor: `ms-DS-ConsistencyGuid` when the account has one,
    /// otherwise `objectGUID`; the 16 bytes as AD stores them, in base64 (see
    /// `immutable_id_from_guid`).
    ConsistencyGuidOrObjectGuid {
        /// Normally `mS-DS-ConsistencyGuid`.
        consistency_guid: String,
        /// Normally `objectGUID`.
        object_guid: String,
    },
    /// One binary 16-byte GUID attribute, in base64.
    BinaryGuid {
        /// The attribute name.
        attribute: String,
    },
    /// A UUID in text form (RFC 4530 `entryUUID`, 8-4-4-4-12 hex), used as is in lower case.
    TextUuid {
        /// The attribute name.
        attribute: String,
    },
}

/// Where accountEnabled comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountStateSource {
    /// AD's userAccountControl: the ACCOUNTDISABLE flag (0x2) means disabled. The attribute
    /// must be present: an account whose state cannot be read is not synchronised.
    UserAccountControl {
        /// Normally `userAccountControl`.
        attribute: String,
    },
    /// Every entry the filter selects is enabled: directories without a standard "disabled"
    /// attribute express it through the search filter instead.
    FilterSelectsEnabledAccounts,
}

/// Which LDAP attribute each synchronised user attribute comes from. Start from
/// [`AttributeMap::active_directory`] or [`AttributeMap::generic_ldap`] and override any field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributeMap {
    /// The profile the defaults came from.
    pub profile: Profile,
    /// userPrincipalName.
    pub user_principal_name: UpnSource,
    /// displayName: the first of these attributes that has a value (the UPN when none has).
    pub display_name: Vec<String>,
    /// mail (single-valued).
    pub mail: Option<String>,
    /// proxyAddresses (`type:address` values), when the directory has them.
    pub proxy_addresses: Option<String>,
    /// The proxy address types kept (compared case-insensitively). Others are left out:
    /// Exchange's `X500:` addresses contain spaces, which certgate's proxy addresses do not
    /// take, and certgate only matches certificates against mail-like addresses.
    pub proxy_address_types: Vec<String>,
    /// The immutable ID.
    pub immutable_id: ImmutableIdSource,
    /// accountEnabled.
    pub account_state: AccountStateSource,
    /// Active Directory's explicit certificate mappings (`altSecurityIdentities`, `X509:<...>`
    /// values), converted to certificateUserIds.
    pub certificate_mappings: Option<String>,
    /// Group memberships (nested included), kept apart from the groups assigned in certgate;
    /// `None` reads none.
    pub groups: Option<GroupMembership>,
}

impl AttributeMap {
    /// Active Directory, as Entra Connect maps it: userPrincipalName, displayName, mail,
    /// proxyAddresses (SMTP), the sourceAnchor from mS-DS-ConsistencyGuid or objectGUID,
    /// userAccountControl's ACCOUNTDISABLE, altSecurityIdentities, and group memberships by
    /// the in-chain matching rule.
    pub fn active_directory() -> AttributeMap {
        AttributeMap {
            profile: Profile::ActiveDirectory,
            user_principal_name: UpnSource::Attribute("userPrincipalName".into()),
            display_name: vec!["displayName".into()],
            mail: Some("mail".into()),
            proxy_addresses: Some("proxyAddresses".into()),
            proxy_address_types: vec!["SMTP".into()],
            immutable_id: ImmutableIdSource::ConsistencyGuidOrObjectGuid {
                consistency_guid: "mS-DS-ConsistencyGuid".into(),
                object_guid: "objectGUID".into(),
            },
            account_state: AccountStateSource::UserAccountControl {
                attribute: "userAccountControl".into(),
            },
            certificate_mappings: Some("altSecurityIdentities".into()),
            groups: Some(GroupMembership::active_directory()),
        }
    }

    /// A generic LDAP directory (inetOrgPerson): the UPN from `mail`, displayName or else
    /// `cn`, `entryUUID` as the immutable ID; no proxy addresses, no certificate mappings, and
    /// the search filter decides who is enabled. Set `user_principal_name` to
    /// [`UpnSource::AttributeAtDomain`] with `uid` for directories without mail addresses.
    pub fn generic_ldap() -> AttributeMap {
        AttributeMap {
            profile: Profile::GenericLdap,
            user_principal_name: UpnSource::Attribute("mail".into()),
            display_name: vec!["displayName".into(), "cn".into()],
            mail: Some("mail".into()),
            proxy_addresses: None,
            proxy_address_types: vec!["SMTP".into()],
            immutable_id: ImmutableIdSource::TextUuid {
                attribute: "entryUUID".into(),
            },
            account_state: AccountStateSource::FilterSelectsEnabledAccounts,
            certificate_mappings: None,
            groups: Some(GroupMembership::group_of_names()),
        }
    }

    /// The defaults of `profile`.
    pub fn for_profile(profile: Profile) -> AttributeMap {
        match profile {
            Profile::ActiveDirectory => AttributeMap::active_directory(),
            Profile::GenericLdap => AttributeMap::generic_ldap(),
        }
    }

    /// The attributes the immutable ID is read from: all a listing of the entries that are
    /// in scope needs (an incremental sync's check for entries that left it).
    pub fn immutable_id_attributes(&self) -> Vec<String> {
        match &self.immutable_id {
            ImmutableIdSource::ConsistencyGuidOrObjectGuid {
                consistency_guid,
                object_guid,
            } => vec![consistency_guid.clone(), object_guid.clone()],
            ImmutableIdSource::BinaryGuid { attribute }
            | ImmutableIdSource::TextUuid { attribute } => vec![attribute.clone()],
        }
    }

    /// Every attribute the search must ask for. Operational attributes such as `entryUUID`
    /// are only returned when named, so the list is always explicit.
    pub fn requested_attributes(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |name: &str| {
            if !names.iter().any(|known| known.eq_ignore_ascii_case(name)) {
                names.push(name.to_owned());
            }
        };
        match &self.user_principal_name {
            UpnSource::Attribute(attribute) | UpnSource::AttributeAtDomain { attribute, .. } => {
                add(attribute)
            }
        }
        self.display_name.iter().for_each(|name| add(name));
        self.mail.iter().for_each(|name| add(name));
        self.proxy_addresses.iter().for_each(|name| add(name));
        match &self.immutable_id {
            ImmutableIdSource::ConsistencyGuidOrObjectGuid {
                consistency_guid,
                object_guid,
            } => {
                add(consistency_guid);
                add(object_guid);
            }
            ImmutableIdSource::BinaryGuid { attribute }
            | ImmutableIdSource::TextUuid { attribute } => add(attribute),
        }
        if let AccountStateSource::UserAccountControl { attribute } = &self.account_state {
            add(attribute);
        }
        self.certificate_mappings.iter().for_each(|name| add(name));
        names
    }
}
