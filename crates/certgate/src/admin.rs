//! `certgate admin token create|list|revoke`: bearer tokens for the admin REST API. They are
//! made on the server's own store, never through the API, so a stolen token cannot mint more.

use std::process::ExitCode;

use certgate_core::admin_token::{
    create_admin_token, list_admin_tokens, revoke_admin_token, AdminTokenError, AdminTokenRecord,
};
use certgate_core::clock::{rfc3339, Clock, SystemClock};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::output::refused;
use crate::{cli_actor, GlobalArgs};

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// Admin API tokens (`Authorization: Bearer ...`, or `certgate --server URL --token ...`).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token and print it, once: certgate keeps only its SHA-256.
    Create {
        /// 1 to 64 letters, digits and . _ - (recorded as the actor `api:NAME` of every
        /// change made with it).
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List the tokens (never their values): created, last used, revoked.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it is refused from now on.
    Revoke {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

fn token_json(token: &AdminTokenRecord) -> Value {
    json!({
        "name": token.name.as_str(),
        "createdDateTime": rfc3339(token.created_at),
        "createdBy": token.created_by,
        "lastUsedDateTime": token.last_used_at.map(rfc3339),
        "revokedDateTime": token.revoked_at.map(rfc3339),
    })
}

fn refuse(error: &AdminTokenError, json: bool) -> ExitCode {
    refused("admin token", error.code(), &error.to_string(), json)
}

pub(crate) async fn run(command: AdminCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let AdminCommand::Token(command) = command;
    let config = global.load()?;
    let store = config.open_store().await?;
    let now = SystemClock.now();
    match command {
        TokenCommand::Create { name, json } => {
            match create_admin_token(&store, &name, now, &cli_actor()).await {
                Ok((record, secret)) => {
                    if json {
                        let mut value = token_json(&record);
                        value["token"] = json!(secret.expose());
                        outln!("{}", serde_json::to_string_pretty(&value)?);
                    } else {
                        // The token alone on standard output, so `TOKEN=$(certgate admin token
                        // create --name ci)` works; the explanation on standard error.
                        outln!("{}", secret.expose());
                        eprintln!(
                            "created the admin token {}; this is the only time it is shown (certgate keeps only its SHA-256).\nUse it as `Authorization: Bearer <token>`, or CERTGATE_TOKEN=<token> certgate --server https://HOST:PORT ...; revoke it with `certgate admin token revoke {}`.",
                            record.name, record.name
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refuse(&error, json)),
            }
        }
        TokenCommand::List { json } => {
            match list_admin_tokens(&store).await {
                Ok(tokens) => {
                    if json {
                        let list: Vec<Value> = tokens.iter().map(token_json).collect();
                        outln!(
                            "{}",
                            serde_json::to_string_pretty(&json!({ "value": list }))?
                        );
                    } else if tokens.is_empty() {
                        outln!("no admin tokens (make one with `certgate admin token create --name NAME`)");
                    } else {
                        for token in &tokens {
                            outln!(
                                "{:<24} created {} by {:<16} last used {:<20} {}",
                                token.name.as_str(),
                                rfc3339(token.created_at),
                                token.created_by,
                                token
                                    .last_used_at
                                    .map_or_else(|| "never".to_owned(), rfc3339),
                                token.revoked_at.map_or_else(
                                    || "active".to_owned(),
                                    |at| format!("REVOKED at {}", rfc3339(at))
                                ),
                            );
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refuse(&error, json)),
            }
        }
        TokenCommand::Revoke { name, json } => {
            match revoke_admin_token(&store, &name, now, &cli_actor()).await {
                Ok(record) => {
                    if json {
                        outln!("{}", json!({ "ok": true, "revoked": token_json(&record) }));
                    } else {
                        outln!("revoked the admin token {}", record.name);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refuse(&error, json)),
            }
        }
    }
}
