//! `certgate signins`: the sign-in log.

use std::process::ExitCode;

use certgate_core::signin::{SignInLog, SignInQuery, SignInResult};
use certgate_pki::UnixTime;
use certgate_server::admin_api::resource::{Collection, SignIn};
use clap::{Args, ValueEnum};

use crate::remote::{query_value, Remote};
use crate::GlobalArgs;

#[derive(Args)]
pub(crate) struct SigninsArgs {
    /// Only this user (UPN).
    #[arg(long)]
    user: Option<String>,
    #[arg(long, value_enum)]
    result: Option<ResultArg>,
    /// Only this reason code (e.g. cert-revoked).
    #[arg(long)]
    code: Option<String>,
    /// Only attempts at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ResultArg {
    Success,
    Failure,
}

fn print(records: &[SignIn], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(records)?);
    } else if records.is_empty() {
        outln!("no sign-ins match");
    } else {
        for r in records {
            outln!(
                "{}  {:<7} {:<22} {:<28} {} serial {} from {} [{}]",
                r.created_date_time,
                r.result,
                r.reason_code,
                r.user_principal_name.as_deref().unwrap_or("-"),
                r.certificate_subject
                    .as_deref()
                    .unwrap_or("(no certificate)"),
                r.certificate_serial_number.as_deref().unwrap_or("-"),
                r.ip_address,
                r.correlation_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(args: SigninsArgs, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let since = match &args.since {
        Some(text) => Some(UnixTime(
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(|e| anyhow::anyhow!("--since '{text}' is not RFC 3339: {e}"))?
                .unix_timestamp(),
        )),
        None => None,
    };
    let result = args.result.map(|r| match r {
        ResultArg::Success => SignInResult::Success,
        ResultArg::Failure => SignInResult::Failure,
    });
    if let Some(remote) = global.remote()? {
        return run_remote(&args, result, remote).await;
    }
    let config = global.load()?;
    let store = config.open_store().await?;
    let records = store
        .signins(&SignInQuery {
            user: args.user,
            result,
            reason_code: args.code,
            since,
            limit: args.limit,
        })
        .await?;
    let records: Vec<SignIn> = records.iter().map(Into::into).collect();
    print(&records, args.json)
}

async fn run_remote(
    args: &SigninsArgs,
    result: Option<SignInResult>,
    remote: Remote,
) -> anyhow::Result<ExitCode> {
    let mut query = vec![format!("$top={}", args.limit)];
    if let Some(user) = &args.user {
        query.push(format!("user={}", query_value(user)));
    }
    if let Some(result) = result {
        query.push(format!("result={}", result.as_str()));
    }
    if let Some(code) = &args.code {
        query.push(format!("code={}", query_value(code)));
    }
    if let Some(since) = &args.since {
        query.push(format!("since={}", query_value(since)));
    }
    let path = format!("/auditLogs/signIns?{}", query.join("&"));
    match remote.get::<Collection<SignIn>>(&path).await? {
        Ok(list) => print(&list.value, args.json),
        Err(refusal) => Ok(crate::output::refused(
            "signins",
            &refusal.code,
            &refusal.message,
            args.json,
        )),
    }
}
