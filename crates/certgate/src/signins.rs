//! `certgate signins`: the sign-in log.

use std::process::ExitCode;

use certgate_core::clock::rfc3339;
use certgate_core::signin::{SignInLog, SignInQuery, SignInResult};
use certgate_pki::UnixTime;
use clap::{Args, ValueEnum};
use serde_json::json;

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

pub(crate) async fn run(args: SigninsArgs, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let since = match &args.since {
        Some(text) => Some(UnixTime(
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(|e| anyhow::anyhow!("--since '{text}' is not RFC 3339: {e}"))?
                .unix_timestamp(),
        )),
        None => None,
    };
    let config = global.load()?;
    let store = config.open_store().await?;
    let records = store
        .signins(&SignInQuery {
            user: args.user,
            result: args.result.map(|r| match r {
                ResultArg::Success => SignInResult::Success,
                ResultArg::Failure => SignInResult::Failure,
            }),
            reason_code: args.code,
            since,
            limit: args.limit,
        })
        .await?;
    if args.json {
        let rows: Vec<_> = records
            .iter()
            .map(|r| {
                json!({
                    "createdDateTime": rfc3339(r.at), "correlationId": r.correlation_id,
                    "ipAddress": r.client_address, "appDisplayName": r.application,
                    "userPrincipalName": r.user, "result": r.result.as_str(),
                    "reasonCode": r.reason_code, "detail": r.detail,
                    "certificateSubject": r.certificate_subject,
                    "certificateIssuer": r.certificate_issuer,
                    "certificateSerialNumber": r.certificate_serial,
                    "certificateThumbprint": r.certificate_thumbprint,
                    "bindingRule": r.binding_rule, "authenticationStrength": r.strength,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if records.is_empty() {
        println!("no sign-ins match");
    } else {
        for r in &records {
            println!(
                "{}  {:<7} {:<22} {:<28} {} serial {} from {} [{}]",
                rfc3339(r.at),
                r.result.as_str(),
                r.reason_code,
                r.user.as_deref().unwrap_or("-"),
                r.certificate_subject
                    .as_deref()
                    .unwrap_or("(no certificate)"),
                r.certificate_serial.as_deref().unwrap_or("-"),
                r.client_address,
                r.correlation_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
