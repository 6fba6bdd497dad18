//! `certgate user access-pass create` and `certgate user reset-second-factor`: the Temporary
//! Access Pass that unlocks a user's first authenticator enrollment, and removing the
//! authenticator (a lost phone).

use std::process::ExitCode;

use certgate_core::access_pass::{parse_lifetime, AccessPassService};
use certgate_core::clock::SystemClock;
use certgate_core::directory::find_user;
use certgate_server::admin_api::resource::{AccessPass, NewAccessPass, SecondFactorReset};
use certgate_store::SqlStore;
use clap::Subcommand;
use serde_json::json;

use super::{directory_refused, remote_refused};
use crate::output::{refused, usage};
use crate::remote::{segment, Remote};

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

pub(super) async fn access_pass(
    store: &SqlStore,
    command: AccessPassCommand,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    let (user, lifetime, json) = match create_args(command) {
        Ok(args) => args,
        Err(exit) => return Ok(exit),
    };
    let user = match find_user(store, &user).await {
        Ok(user) => user,
        Err(error) => return Ok(directory_refused(&error, json)),
    };
    match AccessPassService::new(store, &SystemClock, actor)
        .create(user.id.as_str(), user.upn.as_str(), Some(lifetime))
        .await
    {
        Ok(issued) => print_access_pass(user.upn.as_str(), &(&issued).into(), json),
        Err(error) => Ok(refused("user", error.code(), &error.to_string(), json)),
    }
}

pub(super) async fn access_pass_remote(
    remote: &Remote,
    command: AccessPassCommand,
) -> anyhow::Result<ExitCode> {
    let (user, lifetime, json) = match create_args(command) {
        Ok(args) => args,
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

pub(super) async fn reset(
    store: &SqlStore,
    user: String,
    json: bool,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    let user = match find_user(store, &user).await {
        Ok(user) => user,
        Err(error) => return Ok(directory_refused(&error, json)),
    };
    match AccessPassService::new(store, &SystemClock, actor)
        .reset_second_factor(user.id.as_str(), user.upn.as_str())
        .await
    {
        Ok(reset) => print_reset(user.upn.as_str(), &reset.into(), json),
        Err(error) => Ok(refused("user", error.code(), &error.to_string(), json)),
    }
}

pub(super) async fn reset_remote(
    remote: &Remote,
    user: String,
    json: bool,
) -> anyhow::Result<ExitCode> {
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

/// `access-pass create`'s user, `--lifetime` in seconds and `--json`; or the usage error to
/// exit with.
fn create_args(command: AccessPassCommand) -> Result<(String, i64, bool), ExitCode> {
    let AccessPassCommand::Create {
        user,
        lifetime,
        json,
    } = command;
    let seconds = parse_lifetime(&lifetime).ok_or_else(|| {
        usage(
            "user access-pass create",
            &format!(
                "\"{lifetime}\" is not a lifetime: use minutes or hours, such as 90m, 1h or 2h30m"
            ),
        )
    })?;
    Ok((user, seconds, json))
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
