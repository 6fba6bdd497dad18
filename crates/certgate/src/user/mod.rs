//! `certgate user list|get|add|set|remove|import|set-sts-refresh-tokens-valid-from|revoke-sessions|access-pass|
//! reset-second-factor`:
//! the directory, as Get/New/Set/Remove-MgUser and Set-MsolUser manage Entra's users. JSON
//! field names follow Microsoft Graph's user resource.
//!
//! The subcommands with more than a call each have their own module, with their local and
//! their remote (admin API) form side by side.

mod import;
mod second_factor;
mod sessions;
mod set;

use std::path::PathBuf;
use std::process::ExitCode;

use certgate_core::directory::{
    add_user, find_user, list_users, remove_user, DirectoryError, UserDraft,
};
use certgate_server::admin_api::resource::{Collection, NewUser, User};
use clap::{Args, Subcommand};

use crate::output::{self, refused};
use crate::remote::{segment, Remote};
use crate::{GlobalArgs, Local};
use second_factor::AccessPassCommand;
use set::SetArgs;

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// List the users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one user, by UPN or object ID.
    Get {
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a user.
    Add(AddArgs),
    /// Change a user (by UPN or object ID).
    Set(SetArgs),
    /// Remove a user (by UPN or object ID).
    Remove {
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Add users from a CSV file whose first line names the columns: userPrincipalName
    /// (required), displayName, mail, onPremisesImmutableId, proxyAddresses,
    /// certificateUserIds, accountEnabled, groups. Multiple values are separated by `;`.
    /// Every row is reported: good rows are added, bad rows are listed with their reason.
    /// Exit 1 when any row was refused.
    Import {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Set-MsolUser -StsRefreshTokensValidFrom: DATE (RFC 3339 or YYYY-MM-DD, UTC) must be in
    /// the future, and then the current time is stored (not DATE): every refresh token and
    /// session issued before now stops working. A date not in the future is refused and
    /// nothing changes.
    SetStsRefreshTokensValidFrom {
        user: String,
        date: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke every refresh token and session of a user now (StsRefreshTokensValidFrom = now).
    RevokeSessions {
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Temporary Access Passes: what a user needs to set up their first authenticator app.
    #[command(subcommand)]
    AccessPass(AccessPassCommand),
    /// Remove the user's authenticator app and any Temporary Access Pass (a lost phone):
    /// enrolling again needs a new pass. Audited.
    ResetSecondFactor {
        user: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub(crate) struct AddArgs {
    /// userPrincipalName (user@domain).
    upn: String,
    /// Default: the UPN.
    #[arg(long)]
    display_name: Option<String>,
    #[arg(long)]
    mail: Option<String>,
    /// onPremisesImmutableId, the federation NameID (default: the object ID).
    #[arg(long)]
    immutable_id: Option<String>,
    /// `SMTP:primary@domain` or `smtp:alias@domain`; repeat for several.
    #[arg(long = "proxy-address", value_name = "TYPE:ADDRESS")]
    proxy_addresses: Vec<String>,
    /// An `X509:<...>` value (`certgate verify --json LEAF` prints a certificate's values);
    /// repeat for several (at most 10).
    #[arg(long = "certificate-user-id", value_name = "X509:<...>")]
    certificate_user_ids: Vec<String>,
    /// Repeat for several.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Add the account disabled.
    #[arg(long)]
    disabled: bool,
    #[arg(long)]
    json: bool,
}

fn print_user(user: &User) {
    outln!("{}  {}", user.user_principal_name, user.id);
    outln!(
        "    displayName                {}",
        certgate_core::escape_control(&user.display_name)
    );
    outln!(
        "    onPremisesImmutableId      {}",
        user.on_premises_immutable_id
    );
    outln!(
        "    mail                       {}",
        user.mail.as_deref().unwrap_or("(none)")
    );
    outln!(
        "    accountEnabled             {}",
        if user.account_enabled {
            "true"
        } else {
            "false (disabled)"
        }
    );
    outln!(
        "    StsRefreshTokensValidFrom  {}",
        user.sign_in_sessions_valid_from_date_time
            .as_deref()
            .unwrap_or("(not set)")
    );
    for proxy in &user.proxy_addresses {
        outln!("    proxyAddress               {proxy}");
    }
    for value in &user.authorization_info.certificate_user_ids {
        outln!("    certificateUserId          {value}");
    }
    if !user.groups.is_empty() {
        outln!("    groups                     {}", user.groups.join(", "));
    }
    if !user.directory_groups.is_empty() {
        outln!(
            "    directoryGroups            {}",
            user.directory_groups.join(", ")
        );
    }
    if let Some(dn) = &user.on_premises_distinguished_name {
        outln!(
            "    synchronised from          {} (change it there; only groups here)",
            certgate_core::escape_control(dn)
        );
    }
}

fn directory_refused(error: &DirectoryError, json: bool) -> ExitCode {
    refused("user", error.code(), &error.to_string(), json)
}

fn remote_refused(refusal: &crate::remote::Refusal, json: bool) -> ExitCode {
    refused("user", &refusal.code, &refusal.message, json)
}

fn print_one(user: &User, json: bool, verb: &str) -> anyhow::Result<ExitCode> {
    output::record(user, json, |user| {
        if !verb.is_empty() {
            outln!("{verb} {} ({})", user.user_principal_name, user.id);
        }
        print_user(user);
    })
}

fn print_list(users: &[User], json: bool) -> anyhow::Result<ExitCode> {
    output::list(
        "value",
        users,
        json,
        "no users (add one with `certgate user add UPN`)",
        |user| {
            outln!(
                "{}  {:<40} {:<9} {} certificateUserIds  \"{}\"",
                user.id,
                user.user_principal_name,
                if user.account_enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                user.authorization_info.certificate_user_ids.len(),
                certgate_core::escape_control(&user.display_name)
            );
        },
    )
}

fn print_removed(user: &User, json: bool) -> anyhow::Result<ExitCode> {
    output::removed(
        user,
        json,
        format_args!("removed user {} ({})", user.user_principal_name, user.id),
    )
}

pub(crate) async fn run(command: UserCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(remote) = global.remote()? {
        return run_remote(command, remote).await;
    }
    let Local {
        store, now, actor, ..
    } = global.local().await?;
    match command {
        UserCommand::List { json } => match list_users(&store).await {
            Ok(users) => {
                let users: Vec<User> = users.iter().map(Into::into).collect();
                print_list(&users, json)
            }
            Err(error) => Ok(directory_refused(&error, json)),
        },
        UserCommand::Get { user, json } => match find_user(&store, &user).await {
            Ok(user) => print_one(&(&user).into(), json, ""),
            Err(error) => Ok(directory_refused(&error, json)),
        },
        UserCommand::Add(args) => {
            let json = args.json;
            match add_user(&store, args.draft(), now, &actor).await {
                Ok(user) => print_one(&(&user).into(), json, "added user"),
                Err(error) => Ok(directory_refused(&error, json)),
            }
        }
        UserCommand::Set(args) => set::run(&store, args, now, &actor).await,
        UserCommand::Remove { user, json } => match remove_user(&store, &user, now, &actor).await {
            Ok(user) => print_removed(&(&user).into(), json),
            Err(error) => Ok(directory_refused(&error, json)),
        },
        UserCommand::Import { file, json } => import::run(&store, file, json, now, &actor).await,
        UserCommand::SetStsRefreshTokensValidFrom { user, date, json } => {
            sessions::set_valid_from(&store, user, date, json, now, &actor).await
        }
        UserCommand::AccessPass(command) => {
            second_factor::access_pass(&store, command, &actor).await
        }
        UserCommand::ResetSecondFactor { user, json } => {
            second_factor::reset(&store, user, json, &actor).await
        }
        UserCommand::RevokeSessions { user, json } => {
            sessions::revoke(&store, user, json, now, &actor).await
        }
    }
}

impl AddArgs {
    fn draft(self) -> UserDraft {
        UserDraft {
            upn: self.upn,
            immutable_id: self.immutable_id,
            display_name: self.display_name,
            mail: self.mail,
            proxy_addresses: self.proxy_addresses,
            certificate_user_ids: self.certificate_user_ids,
            enabled: !self.disabled,
            groups: self.groups,
        }
    }
}

async fn run_remote(command: UserCommand, remote: Remote) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::List { json } => match remote.get::<Collection<User>>("/users").await? {
            Ok(list) => print_list(&list.value, json),
            Err(refusal) => Ok(remote_refused(&refusal, json)),
        },
        UserCommand::Get { user, json } => {
            match remote
                .get::<User>(&format!("/users/{}", segment(&user)))
                .await?
            {
                Ok(user) => print_one(&user, json, ""),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        UserCommand::Add(args) => {
            let json = args.json;
            let new = NewUser::from(args.draft());
            match remote.post::<_, User>("/users", Some(&new)).await? {
                Ok(user) => print_one(&user, json, "added user"),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        UserCommand::Set(args) => set::run_remote(&remote, args).await,
        UserCommand::Remove { user, json } => {
            match remote
                .delete::<User>(&format!("/users/{}", segment(&user)))
                .await?
            {
                Ok(user) => print_removed(&user, json),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        UserCommand::Import { file, json } => import::run_remote(&remote, file, json).await,
        UserCommand::SetStsRefreshTokensValidFrom { user, date, json } => {
            sessions::set_valid_from_remote(&remote, user, date, json).await
        }
        UserCommand::AccessPass(command) => {
            second_factor::access_pass_remote(&remote, command).await
        }
        UserCommand::ResetSecondFactor { user, json } => {
            second_factor::reset_remote(&remote, user, json).await
        }
        UserCommand::RevokeSessions { user, json } => {
            sessions::revoke_remote(&remote, user, json).await
        }
    }
}
