//! `certgate user list|get|add|set|remove|import|set-sts-refresh-tokens-valid-from|revoke-sessions|access-pass|
//! reset-second-factor`:
//! the directory, as Get/New/Set/Remove-MgUser and Set-MsolUser manage Entra's users. JSON
//! field names follow Microsoft Graph's user resource.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use certgate_core::access_pass::{parse_lifetime, AccessPassService};
use certgate_core::clock::{rfc3339, Clock, SystemClock};
use certgate_core::directory::{
    add_user, find_user, import_users, list_users, normalize_certificate_user_id, parse_users_csv,
    remove_user, revoke_sessions, set_sts_refresh_tokens_valid_from, set_user, DirectoryError,
    UserDraft,
};
use certgate_pki::UnixTime;
use certgate_server::admin_api::resource::{
    AccessPass, AuthorizationInfo, Collection, NewAccessPass, NewUser, SecondFactorReset,
    StsRefreshTokensValidFrom, User, UserPatch,
};
use clap::{ArgAction, Args, Subcommand};
use serde_json::{json, Value};

use crate::remote::{segment, Remote};
use crate::{cli_actor, GlobalArgs};

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

#[derive(Subcommand)]
pub(crate) enum AccessPassCommand {
    /// Issue a one-time pass (by UPN or object ID) that unlocks the user's first authenticator
    /// enrollment; it replaces any earlier pass. Printed once: certgate keeps only its hash.
    Create {
        user: String,
        /// 10m to 8h (`90m`, `1h`, `2h30m`).
        #[arg(long, default_value = "1h")]
        lifetime: String,
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
}

/// Prints a refusal with its code; exit 1.
pub(crate) fn refused(command: &str, code: &str, message: &str, json: bool) -> ExitCode {
    if json {
        outln!(
            "{}",
            json!({ "ok": false, "code": code, "message": message })
        );
    } else {
        eprintln!("certgate {command}: {message} ({code})");
    }
    ExitCode::FAILURE
}

fn directory_refused(error: &DirectoryError, json: bool) -> ExitCode {
    refused("user", error.code(), &error.to_string(), json)
}

fn remote_refused(refusal: &crate::remote::Refusal, json: bool) -> ExitCode {
    refused("user", &refusal.code, &refusal.message, json)
}

/// A usage error (exit 2), as clap reports its own.
pub(crate) fn usage(command: &str, message: &str) -> ExitCode {
    eprintln!("certgate {command}: {message}");
    ExitCode::from(2)
}

/// RFC 3339 (`2026-12-01T08:00:00Z`) or a date (`2026-12-01`, midnight UTC).
pub(crate) fn parse_date(text: &str) -> Option<UnixTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(at) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(UnixTime(at.unix_timestamp()));
    }
    let mut parts = text.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()?;
    Some(UnixTime(date.midnight().assume_utc().unix_timestamp()))
}

fn print_one(user: &User, json: bool, verb: &str) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(user)?);
    } else {
        if !verb.is_empty() {
            outln!("{verb} {} ({})", user.user_principal_name, user.id);
        }
        print_user(user);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_list(users: &[User], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "value": users }))?
        );
    } else if users.is_empty() {
        outln!("no users (add one with `certgate user add UPN`)");
    } else {
        for user in users {
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
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_removed(user: &User, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", json!({ "ok": true, "removed": user }));
    } else {
        outln!("removed user {} ({})", user.user_principal_name, user.id);
    }
    Ok(ExitCode::SUCCESS)
}

/// One row of an import: the UPN and object ID added, or the refusal's code and message.
struct ImportRow {
    row: u64,
    upn: Option<String>,
    result: Result<(String, String), (String, String)>,
}

fn print_import(report: &[ImportRow], json: bool) -> anyhow::Result<ExitCode> {
    let refused_rows = report.iter().filter(|row| row.result.is_err()).count();
    let added = report.len() - refused_rows;
    if json {
        let rows: Vec<Value> = report
            .iter()
            .map(|row| match &row.result {
                Ok((upn, id)) => json!({
                    "row": row.row, "userPrincipalName": upn, "ok": true, "id": id,
                }),
                Err((code, message)) => json!({
                    "row": row.row, "userPrincipalName": row.upn,
                    "ok": false, "code": code, "message": message,
                }),
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "added": added, "refused": refused_rows, "rows": rows })
            )?
        );
    } else {
        for row in report {
            // A refused row's UPN and message quote the file as it is: escaped for the terminal.
            let upn = certgate_core::escape_control(row.upn.as_deref().unwrap_or("(no UPN)"));
            match &row.result {
                Ok((_, id)) => outln!("row {:>4}  added    {upn} ({id})", row.row),
                Err((code, message)) => outln!(
                    "row {:>4}  REFUSED  {upn}: {} ({code})",
                    row.row,
                    certgate_core::escape_control(message)
                ),
            }
        }
        outln!(
            "{added} user{} added, {refused_rows} row{} refused",
            if added == 1 { "" } else { "s" },
            if refused_rows == 1 { "" } else { "s" }
        );
    }
    Ok(if refused_rows == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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

pub(crate) async fn run(command: UserCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(remote) = global.remote()? {
        return run_remote(command, remote).await;
    }
    let config = global.load()?;
    let store = config.open_store().await?;
    let now = SystemClock.now();
    let actor = cli_actor();
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
        UserCommand::Set(args) => {
            let current = match find_user(&store, &args.user).await {
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
                &store,
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
                &actor,
            )
            .await;
            match result {
                Ok(user) => print_one(&(&user).into(), args.json, "changed user"),
                Err(error) => Ok(directory_refused(&error, args.json)),
            }
        }
        UserCommand::Remove { user, json } => match remove_user(&store, &user, now, &actor).await {
            Ok(user) => print_removed(&(&user).into(), json),
            Err(error) => Ok(directory_refused(&error, json)),
        },
        UserCommand::Import { file, json } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let rows = match parse_users_csv(&bytes) {
                Ok(rows) => rows,
                Err(error) => return Ok(directory_refused(&error, json)),
            };
            let report: Vec<ImportRow> = import_users(&store, rows, now, &actor)
                .await
                .into_iter()
                .map(|row| ImportRow {
                    row: row.row,
                    upn: row.upn,
                    result: row
                        .result
                        .map(|user| (user.upn.to_string(), user.id.to_string()))
                        .map_err(|error| (error.code().to_owned(), error.to_string())),
                })
                .collect();
            print_import(&report, json)
        }
        UserCommand::SetStsRefreshTokensValidFrom { user, date, json } => {
            let Some(date) = parse_sts_date(&date) else {
                return Ok(bad_sts_date(&date));
            };
            match set_sts_refresh_tokens_valid_from(&store, &user, date, now, &actor).await {
                Ok(user) => print_one(
                    &(&user).into(),
                    json,
                    "revoked the refresh tokens and sessions of",
                ),
                Err(error) => Ok(directory_refused(&error, json)),
            }
        }
        UserCommand::AccessPass(AccessPassCommand::Create {
            user,
            lifetime,
            json,
        }) => {
            let lifetime = match access_pass_lifetime(&lifetime) {
                Ok(seconds) => seconds,
                Err(exit) => return Ok(exit),
            };
            let user = match find_user(&store, &user).await {
                Ok(user) => user,
                Err(error) => return Ok(directory_refused(&error, json)),
            };
            match AccessPassService::new(&store, &SystemClock, &actor)
                .create(user.id.as_str(), user.upn.as_str(), Some(lifetime))
                .await
            {
                Ok(issued) => print_access_pass(
                    user.upn.as_str(),
                    &AccessPass {
                        temporary_access_pass: issued.pass.to_string(),
                        created_date_time: rfc3339(issued.created_at),
                        expires_date_time: rfc3339(issued.expires_at),
                        lifetime_in_minutes: (issued.expires_at.0 - issued.created_at.0) / 60,
                        is_usable_once: true,
                    },
                    json,
                ),
                Err(error) => Ok(refused("user", error.code(), &error.to_string(), json)),
            }
        }
        UserCommand::ResetSecondFactor { user, json } => {
            let user = match find_user(&store, &user).await {
                Ok(user) => user,
                Err(error) => return Ok(directory_refused(&error, json)),
            };
            match AccessPassService::new(&store, &SystemClock, &actor)
                .reset_second_factor(user.id.as_str(), user.upn.as_str())
                .await
            {
                Ok(reset) => print_reset(
                    user.upn.as_str(),
                    &SecondFactorReset {
                        authenticator_removed: reset.authenticator_removed,
                        access_pass_removed: reset.access_pass_removed,
                    },
                    json,
                ),
                Err(error) => Ok(refused("user", error.code(), &error.to_string(), json)),
            }
        }
        UserCommand::RevokeSessions { user, json } => {
            match revoke_sessions(&store, &user, now, &actor).await {
                Ok(user) => print_one(
                    &(&user).into(),
                    json,
                    "revoked the refresh tokens and sessions of",
                ),
                Err(error) => Ok(directory_refused(&error, json)),
            }
        }
    }
}

/// `--lifetime` in seconds, or the usage error to exit with.
fn access_pass_lifetime(text: &str) -> Result<i64, ExitCode> {
    parse_lifetime(text).ok_or_else(|| {
        usage(
            "user access-pass create",
            &format!(
                "\"{text}\" is not a lifetime: use minutes or hours, such as 90m, 1h or 2h30m"
            ),
        )
    })
}

fn print_access_pass(upn: &str, pass: &AccessPass, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(pass)?);
    } else {
        outln!(
            "Temporary Access Pass for {upn} (one use, valid until {}):\n\n    {}\n\nGive it to the user over a channel you trust; it is not shown again. The user types it when a sign-in asks for a second factor they have not set up yet.",
            pass.expires_date_time, pass.temporary_access_pass
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_reset(upn: &str, reset: &SecondFactorReset, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", json!({ "ok": true, "user": upn, "reset": reset }));
    } else {
        outln!(
            "reset the second factor of {upn}: authenticator app {}, Temporary Access Pass {}; enrolling again needs a new pass (certgate user access-pass create)",
            if reset.authenticator_removed { "removed" } else { "none" },
            if reset.access_pass_removed { "removed" } else { "none" },
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_sts_date(text: &str) -> Option<UnixTime> {
    parse_date(text)
}

fn bad_sts_date(text: &str) -> ExitCode {
    usage(
        "user set-sts-refresh-tokens-valid-from",
        &format!("\"{text}\" is not a date: use YYYY-MM-DD or RFC 3339 (2026-12-01T08:00:00Z)"),
    )
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
        UserCommand::Set(args) => {
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
        UserCommand::Remove { user, json } => {
            match remote
                .delete::<User>(&format!("/users/{}", segment(&user)))
                .await?
            {
                Ok(user) => print_removed(&user, json),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        UserCommand::Import { file, json } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let rows = match parse_users_csv(&bytes) {
                Ok(rows) => rows,
                Err(error) => return Ok(directory_refused(&error, json)),
            };
            // One request per row: each row is its own transaction, as in a local import.
            let mut report = Vec::with_capacity(rows.len());
            for row in rows {
                let result = match row.draft {
                    Ok(draft) => match remote
                        .post::<_, User>("/users", Some(&NewUser::from(draft)))
                        .await?
                    {
                        Ok(user) => Ok((user.user_principal_name, user.id)),
                        Err(refusal) => Err((refusal.code, refusal.message)),
                    },
                    Err(error) => Err((error.code().to_owned(), error.to_string())),
                };
                report.push(ImportRow {
                    row: row.row,
                    upn: row.upn,
                    result,
                });
            }
            print_import(&report, json)
        }
        UserCommand::SetStsRefreshTokensValidFrom { user, date, json } => {
            let Some(date) = parse_sts_date(&date) else {
                return Ok(bad_sts_date(&date));
            };
            let request = StsRefreshTokensValidFrom {
                date: rfc3339(date),
            };
            match remote
                .post::<_, User>(
                    &format!("/users/{}/stsRefreshTokensValidFrom", segment(&user)),
                    Some(&request),
                )
                .await?
            {
                Ok(user) => print_one(&user, json, "revoked the refresh tokens and sessions of"),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        UserCommand::AccessPass(AccessPassCommand::Create {
            user,
            lifetime,
            json,
        }) => {
            let lifetime = match access_pass_lifetime(&lifetime) {
                Ok(seconds) => seconds,
                Err(exit) => return Ok(exit),
            };
            // The API takes whole minutes (Graph's lifetimeInMinutes).
            let request = NewAccessPass {
                lifetime_in_minutes: Some(lifetime / 60),
            };
            match remote
                .post::<_, AccessPass>(
                    &format!("/users/{}/accessPasses", segment(&user)),
                    Some(&request),
                )
                .await?
            {
                Ok(pass) => print_access_pass(&user, &pass, json),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        UserCommand::ResetSecondFactor { user, json } => {
            match remote
                .post::<(), SecondFactorReset>(
                    &format!("/users/{}/resetSecondFactor", segment(&user)),
                    None,
                )
                .await?
            {
                Ok(reset) => print_reset(&user, &reset, json),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        UserCommand::RevokeSessions { user, json } => {
            match remote
                .post::<(), User>(
                    &format!("/users/{}/revokeSignInSessions", segment(&user)),
                    None,
                )
                .await?
            {
                Ok(user) => print_one(&user, json, "revoked the refresh tokens and sessions of"),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_or_a_day_at_midnight_utc() {
        assert_eq!(parse_date("2026-01-01"), Some(UnixTime(1_767_225_600)));
        assert_eq!(
            parse_date("2026-01-01T01:00:00+01:00"),
            Some(UnixTime(1_767_225_600))
        );
        assert_eq!(parse_date("01/01/2026"), None);
        assert_eq!(parse_date("tomorrow"), None);
    }
}
