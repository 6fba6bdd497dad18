//! `certgate user list|get|add|set|remove|import|set-sts-refresh-tokens-valid-from|revoke-sessions`:
//! the directory, as Get/New/Set/Remove-MgUser and Set-MsolUser manage Entra's users. JSON
//! field names follow Microsoft Graph's user resource.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use certgate_core::clock::{rfc3339, Clock, SystemClock};
use certgate_core::directory::{
    add_user, find_user, import_users, list_users, normalize_certificate_user_id, parse_users_csv,
    remove_user, revoke_sessions, set_sts_refresh_tokens_valid_from, set_user, DirectoryError,
    User, UserDraft,
};
use certgate_pki::UnixTime;
use clap::{ArgAction, Args, Subcommand};
use serde_json::{json, Value};

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

/// A user in Microsoft Graph's shape (plus certgate's groups).
pub(crate) fn user_json(user: &User) -> Value {
    json!({
        "id": user.id.as_str(),
        "userPrincipalName": user.upn.as_str(),
        "onPremisesImmutableId": user.immutable_id,
        "displayName": user.display_name,
        "mail": user.mail,
        "proxyAddresses": user.proxy_addresses,
        "authorizationInfo": { "certificateUserIds": user.certificate_user_ids },
        "accountEnabled": user.enabled,
        "signInSessionsValidFromDateTime": user.sts_refresh_tokens_valid_from.map(rfc3339),
        "groups": user.groups,
        "createdDateTime": rfc3339(user.created_at),
    })
}

fn print_user(user: &User) {
    println!("{}  {}", user.upn, user.id);
    println!("    displayName                {}", user.display_name);
    println!("    onPremisesImmutableId      {}", user.immutable_id);
    println!(
        "    mail                       {}",
        user.mail.as_deref().unwrap_or("(none)")
    );
    println!(
        "    accountEnabled             {}",
        if user.enabled {
            "true"
        } else {
            "false (disabled)"
        }
    );
    println!(
        "    StsRefreshTokensValidFrom  {}",
        user.sts_refresh_tokens_valid_from
            .map_or_else(|| "(not set)".to_owned(), rfc3339)
    );
    for proxy in &user.proxy_addresses {
        println!("    proxyAddress               {proxy}");
    }
    for value in &user.certificate_user_ids {
        println!("    certificateUserId          {value}");
    }
    if !user.groups.is_empty() {
        println!("    groups                     {}", user.groups.join(", "));
    }
}

/// Prints a refusal with its code; exit 1.
pub(crate) fn refused(command: &str, code: &str, message: &str, json: bool) -> ExitCode {
    if json {
        println!(
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
        println!("{}", serde_json::to_string_pretty(&user_json(user))?);
    } else {
        if !verb.is_empty() {
            println!("{verb} {} ({})", user.upn, user.id);
        }
        print_user(user);
    }
    Ok(ExitCode::SUCCESS)
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

pub(crate) async fn run(command: UserCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = global.load()?;
    let store = config.open_store().await?;
    let now = SystemClock.now();
    let actor = cli_actor();
    match command {
        UserCommand::List { json } => {
            let users = match list_users(&store).await {
                Ok(users) => users,
                Err(error) => return Ok(directory_refused(&error, json)),
            };
            if json {
                let list: Vec<Value> = users.iter().map(user_json).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({ "value": list }))?
                );
            } else if users.is_empty() {
                println!("no users (add one with `certgate user add UPN`)");
            } else {
                for user in &users {
                    println!(
                        "{}  {:<40} {:<9} {} certificateUserIds  \"{}\"",
                        user.id,
                        user.upn.as_str(),
                        if user.enabled { "enabled" } else { "disabled" },
                        user.certificate_user_ids.len(),
                        user.display_name
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCommand::Get { user, json } => match find_user(&store, &user).await {
            Ok(user) => print_one(&user, json, ""),
            Err(error) => Ok(directory_refused(&error, json)),
        },
        UserCommand::Add(args) => {
            let draft = UserDraft {
                upn: args.upn,
                immutable_id: args.immutable_id,
                display_name: args.display_name,
                mail: args.mail,
                proxy_addresses: args.proxy_addresses,
                certificate_user_ids: args.certificate_user_ids,
                enabled: !args.disabled,
                groups: args.groups,
            };
            match add_user(&store, draft, now, &actor).await {
                Ok(user) => print_one(&user, args.json, "added user"),
                Err(error) => Ok(directory_refused(&error, args.json)),
            }
        }
        UserCommand::Set(args) => {
            // Removing a value the user does not have is refused rather than ignored.
            let current = match find_user(&store, &args.user).await {
                Ok(user) => user,
                Err(error) => return Ok(directory_refused(&error, args.json)),
            };
            let mut probe = UserDraft::from(&current);
            let missing: Vec<(&'static str, String)> = remove_values(
                &mut probe.proxy_addresses,
                &args.remove_proxy_address,
                |a, b| a.eq_ignore_ascii_case(b),
            )
            .into_iter()
            .map(|v| ("proxyAddresses", v))
            .chain(
                remove_values(
                    &mut probe.certificate_user_ids,
                    &args.remove_certificate_user_id,
                    same_certificate_user_id,
                )
                .into_iter()
                .map(|v| ("certificateUserIds", v)),
            )
            .chain(
                remove_values(&mut probe.groups, &args.remove_group, |a, b| a == b)
                    .into_iter()
                    .map(|v| ("groups", v)),
            )
            .collect();
            if let Some((field, value)) = missing.into_iter().next() {
                let error = DirectoryError::FieldInvalid {
                    field,
                    value,
                    why: format!("{} has no such value, so it cannot be removed", current.upn),
                };
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
                    remove_values(
                        &mut draft.proxy_addresses,
                        &args.remove_proxy_address,
                        |a, b| a.eq_ignore_ascii_case(b),
                    );
                    remove_values(
                        &mut draft.certificate_user_ids,
                        &args.remove_certificate_user_id,
                        same_certificate_user_id,
                    );
                    remove_values(&mut draft.groups, &args.remove_group, |a, b| a == b);
                    draft
                        .proxy_addresses
                        .extend(args.add_proxy_address.iter().cloned());
                    draft
                        .certificate_user_ids
                        .extend(args.add_certificate_user_id.iter().cloned());
                    draft.groups.extend(args.add_group.iter().cloned());
                    draft
                },
                now,
                &actor,
            )
            .await;
            match result {
                Ok(user) => print_one(&user, args.json, "changed user"),
                Err(error) => Ok(directory_refused(&error, args.json)),
            }
        }
        UserCommand::Remove { user, json } => match remove_user(&store, &user, now, &actor).await {
            Ok(user) => {
                if json {
                    println!("{}", json!({ "ok": true, "removed": user_json(&user) }));
                } else {
                    println!("removed user {} ({})", user.upn, user.id);
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => Ok(directory_refused(&error, json)),
        },
        UserCommand::Import { file, json } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let rows = match parse_users_csv(&bytes) {
                Ok(rows) => rows,
                Err(error) => return Ok(directory_refused(&error, json)),
            };
            let report = import_users(&store, rows, now, &actor).await;
            let refused_rows = report.iter().filter(|row| row.result.is_err()).count();
            let added = report.len() - refused_rows;
            if json {
                let rows: Vec<Value> = report
                    .iter()
                    .map(|row| match &row.result {
                        Ok(user) => json!({
                            "row": row.row, "userPrincipalName": user.upn.as_str(),
                            "ok": true, "id": user.id.as_str(),
                        }),
                        Err(error) => json!({
                            "row": row.row, "userPrincipalName": row.upn,
                            "ok": false, "code": error.code(), "message": error.to_string(),
                        }),
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({ "added": added, "refused": refused_rows, "rows": rows })
                    )?
                );
            } else {
                for row in &report {
                    let upn = row.upn.as_deref().unwrap_or("(no UPN)");
                    match &row.result {
                        Ok(user) => println!("row {:>4}  added    {upn} ({})", row.row, user.id),
                        Err(error) => println!(
                            "row {:>4}  REFUSED  {upn}: {error} ({})",
                            row.row,
                            error.code()
                        ),
                    }
                }
                println!(
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
        UserCommand::SetStsRefreshTokensValidFrom { user, date, json } => {
            let Some(date) = parse_date(&date) else {
                return Ok(usage(
                    "user set-sts-refresh-tokens-valid-from",
                    &format!("\"{date}\" is not a date: use YYYY-MM-DD or RFC 3339 (2026-12-01T08:00:00Z)"),
                ));
            };
            match set_sts_refresh_tokens_valid_from(&store, &user, date, now, &actor).await {
                Ok(user) => print_one(&user, json, "revoked the refresh tokens and sessions of"),
                Err(error) => Ok(directory_refused(&error, json)),
            }
        }
        UserCommand::RevokeSessions { user, json } => {
            match revoke_sessions(&store, &user, now, &actor).await {
                Ok(user) => print_one(&user, json, "revoked the refresh tokens and sessions of"),
                Err(error) => Ok(directory_refused(&error, json)),
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
