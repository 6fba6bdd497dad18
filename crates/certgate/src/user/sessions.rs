//! `certgate user set-sts-refresh-tokens-valid-from` and `certgate user revoke-sessions`: ends
//! a user's refresh tokens and sessions.

use std::process::ExitCode;

use certgate_core::clock::{parse_rfc3339_or_date, rfc3339};
use certgate_core::directory::{revoke_sessions, set_sts_refresh_tokens_valid_from};
use certgate_pki::UnixTime;
use certgate_server::admin_api::resource::{StsRefreshTokensValidFrom, User};
use certgate_store::SqlStore;

use super::{directory_refused, print_one, remote_refused};
use crate::output::usage;
use crate::remote::{segment, Remote};

fn bad_sts_date(text: &str) -> ExitCode {
    usage(
        "user set-sts-refresh-tokens-valid-from",
        &format!("\"{text}\" is not a date: use YYYY-MM-DD or RFC 3339 (2026-12-01T08:00:00Z)"),
    )
}

pub(super) async fn set_valid_from(
    store: &SqlStore,
    user: String,
    date: String,
    json: bool,
    now: UnixTime,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    let Some(date) = parse_rfc3339_or_date(&date) else {
        return Ok(bad_sts_date(&date));
    };
    match set_sts_refresh_tokens_valid_from(store, &user, date, now, actor).await {
        Ok(user) => print_one(
            &(&user).into(),
            json,
            "revoked the refresh tokens and sessions of",
        ),
        Err(error) => Ok(directory_refused(&error, json)),
    }
}

pub(super) async fn set_valid_from_remote(
    remote: &Remote,
    user: String,
    date: String,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(date) = parse_rfc3339_or_date(&date) else {
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

pub(super) async fn revoke(
    store: &SqlStore,
    user: String,
    json: bool,
    now: UnixTime,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    match revoke_sessions(store, &user, now, actor).await {
        Ok(user) => print_one(
            &(&user).into(),
            json,
            "revoked the refresh tokens and sessions of",
        ),
        Err(error) => Ok(directory_refused(&error, json)),
    }
}

pub(super) async fn revoke_remote(
    remote: &Remote,
    user: String,
    json: bool,
) -> anyhow::Result<ExitCode> {
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
