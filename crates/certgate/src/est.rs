//! `certgate est code|codes`: one-time enrollment codes for EST (RFC 7030) `simpleenroll`,
//! where a device authenticates with HTTP Basic as `UPN:code` and gets a certificate for the
//! key in its CSR, with the subject and SAN from the directory.

use std::process::ExitCode;

use certgate_core::clock::{rfc3339, Clock, SystemClock};
use certgate_core::enrollment::{
    create_enrollment_code, usable_enrollment_codes, EnrollmentCodeRecord, EnrollmentError,
    DEFAULT_CODE_VALID_HOURS,
};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::output::refused;
use crate::{cli_actor, GlobalArgs};

#[derive(Subcommand)]
pub(crate) enum EstCommand {
    /// Make a one-time enrollment code for a user and print it, once: certgate keeps only
    /// its SHA-256. The device enrolls with `curl -u UPN:CODE ... /.well-known/est/simpleenroll`.
    Code {
        /// The user (must exist in the directory and be enabled).
        #[arg(long)]
        upn: String,
        /// How long the code can be used (1 to 720 hours).
        #[arg(long, default_value_t = DEFAULT_CODE_VALID_HOURS)]
        valid_hours: u32,
        #[arg(long)]
        json: bool,
    },
    /// The codes that can still be used (never their values): user, created, expires.
    Codes {
        #[arg(long)]
        json: bool,
    },
}

fn code_json(code: &EnrollmentCodeRecord) -> Value {
    json!({
        "id": code.id.to_string(),
        "userId": code.user_id.as_str(),
        "userPrincipalName": code.upn,
        "createdDateTime": rfc3339(code.created_at),
        "createdBy": code.created_by,
        "expirationDateTime": rfc3339(code.expires_at),
    })
}

fn refuse(error: &EnrollmentError, json: bool) -> ExitCode {
    refused("est", error.code(), &error.to_string(), json)
}

pub(crate) async fn run(command: EstCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = global.load()?;
    let store = config.open_store().await?;
    let now = SystemClock.now();
    match command {
        EstCommand::Code {
            upn,
            valid_hours,
            json,
        } => match create_enrollment_code(&store, &upn, valid_hours, now, &cli_actor()).await {
            Ok((record, secret)) => {
                if json {
                    let mut value = code_json(&record);
                    value["code"] = json!(secret.expose());
                    outln!("{}", serde_json::to_string_pretty(&value)?);
                } else {
                    // The code alone on standard output, so `CODE=$(certgate est code ...)`
                    // works; the explanation on standard error.
                    outln!("{}", secret.expose());
                    eprintln!(
                        "enrollment code for {} ({}), usable once until {}; this is the only time it is shown.\nEnroll with HTTP Basic {}:<code> at https://<certauth host>/.well-known/est/simpleenroll",
                        record.upn,
                        record.id,
                        rfc3339(record.expires_at),
                        record.upn
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => Ok(refuse(&error, json)),
        },
        EstCommand::Codes { json } => {
            match usable_enrollment_codes(&store, now).await {
                Ok(codes) => {
                    if json {
                        let list: Vec<Value> = codes.iter().map(code_json).collect();
                        outln!(
                            "{}",
                            serde_json::to_string_pretty(&json!({ "value": list }))?
                        );
                    } else if codes.is_empty() {
                        outln!("no usable enrollment codes (make one with `certgate est code --upn UPN`)");
                    } else {
                        for code in &codes {
                            outln!(
                                "{:<14} {:<40} created {} by {:<16} expires {}",
                                code.id.to_string(),
                                code.upn,
                                rfc3339(code.created_at),
                                code.created_by,
                                rfc3339(code.expires_at),
                            );
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refuse(&error, json)),
            }
        }
    }
}
