//! The directory as the admin API shows it: Graph's `user`, the bodies that add and change
//! one, and the per-user actions (sessions cut-off, Temporary Access Pass, second-factor
//! reset, device profiles).

use certgate_core::access_pass;
use certgate_core::clock::rfc3339;
use certgate_core::directory;
use serde::{Deserialize, Serialize};

use super::{present, Patch};

/// Graph's `authorizationInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationInfo {
    /// Up to 10 `X509:<...>` values, unique across users (the `certificateUserIds` binding
    /// target).
    #[serde(default)]
    pub certificate_user_ids: Vec<String>,
}

/// Graph's `user`, plus certgate's groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object ID (UUID); never changes.
    pub id: String,
    /// Unique, case-insensitively.
    pub user_principal_name: String,
    /// The federation NameID by default (at most 64 characters, unique).
    pub on_premises_immutable_id: String,
    /// The name shown to people; the UPN when none was given.
    pub display_name: String,
    /// One e-mail address, if set.
    pub mail: Option<String>,
    /// `SMTP:primary@domain` (at most one), `smtp:alias@domain`, ...
    pub proxy_addresses: Vec<String>,
    /// The certificateUserIds a certificate can be bound to.
    pub authorization_info: AuthorizationInfo,
    /// A disabled user cannot sign in (`user-disabled`).
    pub account_enabled: bool,
    /// StsRefreshTokensValidFrom: refresh tokens and sessions from before are refused.
    pub sign_in_sessions_valid_from_date_time: Option<String>,
    /// Group names assigned in certgate; members of `certgate-admins` may use the admin API
    /// with a client certificate.
    pub groups: Vec<String>,
    /// The groups the directory source says a synchronised user is in, nested included (set
    /// by the sync only; not the admin group's membership).
    #[serde(default)]
    pub directory_groups: Vec<String>,
    /// When the user was added.
    pub created_date_time: String,
    /// Synchronised from the directory source (its attributes other than groups are changed
    /// there).
    #[serde(default)]
    pub on_premises_sync_enabled: bool,
    /// The directory entry of a synchronised user.
    #[serde(default)]
    pub on_premises_distinguished_name: Option<String>,
}

impl From<&directory::User> for User {
    fn from(user: &directory::User) -> Self {
        User {
            id: user.id.to_string(),
            user_principal_name: user.upn.to_string(),
            on_premises_immutable_id: user.immutable_id.clone(),
            display_name: user.display_name.clone(),
            mail: user.mail.clone(),
            proxy_addresses: user.proxy_addresses.clone(),
            authorization_info: AuthorizationInfo {
                certificate_user_ids: user.certificate_user_ids.clone(),
            },
            account_enabled: user.enabled,
            sign_in_sessions_valid_from_date_time: user.sts_refresh_tokens_valid_from.map(rfc3339),
            groups: user.groups.clone(),
            directory_groups: user.origin.directory_groups().to_vec(),
            created_date_time: rfc3339(user.created_at),
            on_premises_sync_enabled: user.origin.is_directory(),
            on_premises_distinguished_name: match &user.origin {
                directory::UserOrigin::Directory { dn, .. } => Some(dn.clone()),
                directory::UserOrigin::Local => None,
            },
        }
    }
}

/// `POST /users`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUser {
    /// Unique, case-insensitively.
    pub user_principal_name: String,
    /// Default: the UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// One e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    /// Default: the object ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_immutable_id: Option<String>,
    /// `SMTP:primary@domain`, `smtp:alias@domain`, ...; default none.
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
    /// certificateUserIds; default none.
    #[serde(default)]
    pub authorization_info: AuthorizationInfo,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// Group names; default none.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl From<NewUser> for directory::UserDraft {
    fn from(new: NewUser) -> Self {
        directory::UserDraft {
            upn: new.user_principal_name,
            immutable_id: new.on_premises_immutable_id,
            display_name: new.display_name,
            mail: new.mail,
            proxy_addresses: new.proxy_addresses,
            certificate_user_ids: new.authorization_info.certificate_user_ids,
            enabled: new.account_enabled.unwrap_or(true),
            groups: new.groups,
        }
    }
}

impl From<directory::UserDraft> for NewUser {
    fn from(draft: directory::UserDraft) -> Self {
        NewUser {
            user_principal_name: draft.upn,
            display_name: draft.display_name,
            mail: draft.mail,
            on_premises_immutable_id: draft.immutable_id,
            proxy_addresses: draft.proxy_addresses,
            authorization_info: AuthorizationInfo {
                certificate_user_ids: draft.certificate_user_ids,
            },
            account_enabled: Some(draft.enabled),
            groups: draft.groups,
        }
    }
}

/// `PATCH /users/{idOrUpn}`: absent fields stay; lists are replaced whole (as in Graph);
/// `"mail": null` removes the mail address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPatch {
    /// A new UPN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// A new display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A new mail address; `null` removes it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub mail: Patch<String>,
    /// A new immutable ID (the federation NameID by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_immutable_id: Option<String>,
    /// Replaces every proxy address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_addresses: Option<Vec<String>>,
    /// Replaces the certificateUserIds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_info: Option<AuthorizationInfo>,
    /// Enables or disables the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// Replaces the groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

impl UserPatch {
    /// The user's attributes after the patch.
    pub fn apply(self, mut draft: directory::UserDraft) -> directory::UserDraft {
        if let Some(upn) = self.user_principal_name {
            draft.upn = upn;
        }
        if let Some(name) = self.display_name {
            draft.display_name = Some(name);
        }
        if let Some(mail) = self.mail {
            draft.mail = mail;
        }
        if let Some(id) = self.on_premises_immutable_id {
            draft.immutable_id = Some(id);
        }
        if let Some(values) = self.proxy_addresses {
            draft.proxy_addresses = values;
        }
        if let Some(info) = self.authorization_info {
            draft.certificate_user_ids = info.certificate_user_ids;
        }
        if let Some(enabled) = self.account_enabled {
            draft.enabled = enabled;
        }
        if let Some(groups) = self.groups {
            draft.groups = groups;
        }
        draft
    }
}

/// `POST /users/{idOrUpn}/stsRefreshTokensValidFrom`: Set-MsolUser's rule, a date in the
/// future stores the current time; a date not in the future is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StsRefreshTokensValidFrom {
    /// RFC 3339, or `YYYY-MM-DD` (midnight UTC).
    pub date: String,
}

/// `POST /users/{idOrUpn}/accessPasses`: a Temporary Access Pass to issue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAccessPass {
    /// 10 to 480; default 60.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_in_minutes: Option<i64>,
}

/// The answer to `POST /users/{idOrUpn}/accessPasses`: the only time the pass is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPass {
    /// The pass, to hand to the user; certgate keeps only its hash.
    pub temporary_access_pass: String,
    /// When it was issued.
    pub created_date_time: String,
    /// When it stops working.
    pub expires_date_time: String,
    /// Its lifetime, as asked for (default 60).
    pub lifetime_in_minutes: i64,
    /// Always `true`: one use unlocks the user's first authenticator enrollment.
    pub is_usable_once: bool,
}

impl From<&access_pass::IssuedAccessPass> for AccessPass {
    fn from(issued: &access_pass::IssuedAccessPass) -> Self {
        AccessPass {
            temporary_access_pass: issued.pass.to_string(),
            created_date_time: rfc3339(issued.created_at),
            expires_date_time: rfc3339(issued.expires_at),
            lifetime_in_minutes: (issued.expires_at.0 - issued.created_at.0) / 60,
            is_usable_once: true,
        }
    }
}

/// The answer to `POST /users/{idOrUpn}/resetSecondFactor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecondFactorReset {
    /// An authenticator app (confirmed or pending) was removed.
    pub authenticator_removed: bool,
    /// A Temporary Access Pass not yet used was removed.
    pub access_pass_removed: bool,
}

impl From<access_pass::SecondFactorReset> for SecondFactorReset {
    fn from(reset: access_pass::SecondFactorReset) -> Self {
        SecondFactorReset {
            authenticator_removed: reset.authenticator_removed,
            access_pass_removed: reset.access_pass_removed,
        }
    }
}

/// `POST /users/{idOrUpn}/deviceProfiles`: a new certificate for the user, packed for a
/// device. The answer is the file itself, not JSON (except the Android profile, which is).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewDeviceProfile {
    /// `ios`, `android` or `pkcs12`.
    pub platform: String,
    /// The Exchange ActiveSync host name (required for ios and android).
    #[serde(default)]
    pub eas_host: Option<String>,
    /// Protects the PKCS#12 in the file (at least 8 characters).
    pub pkcs12_password: String,
    /// Write the password into the profile next to the PKCS#12 (default false: the device
    /// asks for it).
    #[serde(default)]
    pub embed_password: bool,
    /// Sign the iOS profile with certgate's issuing CA (default false).
    #[serde(default)]
    pub sign: bool,
}
