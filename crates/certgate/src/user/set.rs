//! `certgate user set`: changes a user, the multi-valued attributes by `--add-*`/`--remove-*`
//! flags, locally or through the admin API.

use std::process::ExitCode;

use certgate_core::directory::{
    find_user, normalize_certificate_user_id, set_user, DirectoryError, UserDraft,
};
use certgate_pki::UnixTime;
use certgate_server::admin_api::resource::{AuthorizationInfo, User, UserPatch};
use certgate_store::SqlStore;
use clap::{ArgAction, Args};

use super::{directory_refused, print_one, remote_refused};
use crate::remote::{segment, Remote};

#[derive(Args)]
pub(crate) struct SetArgs {
    /// UPN or object ID.
    user: String,
    /// A new userPrincipalName.
    #[arg(long)]
    upn: Option<String>,
    #[arg(long)]
    display_name: Option<String>,
    #[arg(long, conflicts_with = "no_mail")]
    mail: Option<String>,
    #[arg(long)]
    no_mail: bool,
    #[arg(long)]
    immutable_id: Option<String>,
    /// accountEnabled.
    #[arg(long, action = ArgAction::Set, value_name = "true|false")]
    enabled: Option<bool>,
    #[arg(long, value_name = "TYPE:ADDRESS")]
    add_proxy_address: Vec<String>,
    #[arg(long, value_name = "TYPE:ADDRESS")]
    remove_proxy_address: Vec<String>,
    #[arg(long, value_name = "X509:<...>")]
    add_certificate_user_id: Vec<String>,
    #[arg(long, value_name = "X509:<...>")]
    remove_certificate_user_id: Vec<String>,
    #[arg(long)]
    add_group: Vec<String>,
    #[arg(long)]
    remove_group: Vec<String>,
    #[arg(long)]
    json: bool,
}

/// Same value for a removal: certificateUserIds normalized, proxy addresses ignoring case.
fn same_certificate_user_id(a: &str, b: &str) -> bool {
    let normal = |v: &str| normalize_certificate_user_id(v).map_or_else(|_| v.to_owned(), |n| n.1);
    normal(a) == normal(b)
}

fn remove_values(
    values: &mut Vec<String>,
    removals: &[String],
    same: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut missing = Vec::new();
    for removal in removals {
        let before = values.len();
        values.retain(|value| !same(value, removal));
        if values.len() == before {
            missing.push(removal.clone());
        }
    }
    missing
}

/// A user's multi-valued attributes.
struct Lists {
    proxy_addresses: Vec<String>,
    certificate_user_ids: Vec<String>,
    groups: Vec<String>,
}

impl SetArgs {
    /// Applies the --add-*/--remove-* flags. Removing a value the user does not have is
    /// refused rather than ignored: the first such value comes back with its attribute.
    fn edit(&self, lists: &mut Lists) -> Option<(&'static str, String)> {
        let missing = remove_values(
            &mut lists.proxy_addresses,
            &self.remove_proxy_address,
            |a, b| a.eq_ignore_ascii_case(b),
        )
        .into_iter()
        .map(|v| ("proxyAddresses", v))
        .chain(
            remove_values(
                &mut lists.certificate_user_ids,
                &self.remove_certificate_user_id,
                same_certificate_user_id,
            )
            .into_iter()
            .map(|v| ("certificateUserIds", v)),
        )
        .chain(
            remove_values(&mut lists.groups, &self.remove_group, |a, b| a == b)
                .into_iter()
                .map(|v| ("groups", v)),
        )
        .next();
        lists
            .proxy_addresses
            .extend(self.add_proxy_address.iter().cloned());
        lists
            .certificate_user_ids
            .extend(self.add_certificate_user_id.iter().cloned());
        lists.groups.extend(self.add_group.iter().cloned());
        missing
    }

    fn missing_value(&self, upn: &str, missing: (&'static str, String)) -> DirectoryError {
        DirectoryError::FieldInvalid {
            field: missing.0,
            value: missing.1,
            why: format!("{upn} has no such value, so it cannot be removed"),
        }
    }
}

pub(super) async fn run(
    store: &SqlStore,
    args: SetArgs,
    now: UnixTime,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    let current = match find_user(store, &args.user).await {
        Ok(user) => user,
        Err(error) => return Ok(directory_refused(&error, args.json)),
    };
    let mut probe = Lists {
        proxy_addresses: current.proxy_addresses.clone(),
        certificate_user_ids: current.certificate_user_ids.clone(),
        groups: current.groups.clone(),
    };
    if let Some(missing) = args.edit(&mut probe) {
        let error = args.missing_value(current.upn.as_str(), missing);
        return Ok(directory_refused(&error, args.json));
    }
    let result = set_user(
        store,
        current.id.as_str(),
        |mut draft| {
            if let Some(upn) = args.upn.clone() {
                draft.upn = upn;
            }
            if let Some(name) = args.display_name.clone() {
                draft.display_name = Some(name);
            }
            if args.no_mail {
                draft.mail = None;
            }
            if let Some(mail) = args.mail.clone() {
                draft.mail = Some(mail);
            }
            if let Some(id) = args.immutable_id.clone() {
                draft.immutable_id = Some(id);
            }
            if let Some(enabled) = args.enabled {
                draft.enabled = enabled;
            }
            let mut lists = Lists {
                proxy_addresses: draft.proxy_addresses,
                certificate_user_ids: draft.certificate_user_ids,
                groups: draft.groups,
            };
            args.edit(&mut lists);
            UserDraft {
                proxy_addresses: lists.proxy_addresses,
                certificate_user_ids: lists.certificate_user_ids,
                groups: lists.groups,
                ..draft
            }
        },
        now,
        actor,
    )
    .await;
    match result {
        Ok(user) => print_one(&(&user).into(), args.json, "changed user"),
        Err(error) => Ok(directory_refused(&error, args.json)),
    }
}

pub(super) async fn run_remote(remote: &Remote, args: SetArgs) -> anyhow::Result<ExitCode> {
    let current = match remote
        .get::<User>(&format!("/users/{}", segment(&args.user)))
        .await?
    {
        Ok(user) => user,
        Err(refusal) => return Ok(remote_refused(&refusal, args.json)),
    };
    let mut lists = Lists {
        proxy_addresses: current.proxy_addresses.clone(),
        certificate_user_ids: current.authorization_info.certificate_user_ids.clone(),
        groups: current.groups.clone(),
    };
    if let Some(missing) = args.edit(&mut lists) {
        let error = args.missing_value(&current.user_principal_name, missing);
        return Ok(directory_refused(&error, args.json));
    }
    // Only the lists the flags touch are sent: a list is replaced whole.
    let touched = |add: &[String], remove: &[String]| !add.is_empty() || !remove.is_empty();
    let patch = UserPatch {
        user_principal_name: args.upn.clone(),
        display_name: args.display_name.clone(),
        mail: match (&args.mail, args.no_mail) {
            (Some(mail), _) => Some(Some(mail.clone())),
            (None, true) => Some(None),
            (None, false) => None,
        },
        on_premises_immutable_id: args.immutable_id.clone(),
        proxy_addresses: touched(&args.add_proxy_address, &args.remove_proxy_address)
            .then_some(lists.proxy_addresses),
        authorization_info: touched(
            &args.add_certificate_user_id,
            &args.remove_certificate_user_id,
        )
        .then_some(AuthorizationInfo {
            certificate_user_ids: lists.certificate_user_ids,
        }),
        account_enabled: args.enabled,
        groups: touched(&args.add_group, &args.remove_group).then_some(lists.groups),
    };
    match remote
        .patch::<_, User>(&format!("/users/{}", segment(&current.id)), &patch)
        .await?
    {
        Ok(user) => print_one(&user, args.json, "changed user"),
        Err(refusal) => Ok(remote_refused(&refusal, args.json)),
    }
}
