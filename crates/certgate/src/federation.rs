//! `certgate federation init|keys|rotate-keys`: the federation service's token-signing keys
//! (AD FS's token-signing certificates). New keys are sealed with CERTGATE_CA_KEY_PASSPHRASE,
//! like certgate's other keys.

use std::process::ExitCode;

use certgate_core::federation::{
    ensure_token_signing_keys, rotate_token_signing_keys, FederationStore,
};
use certgate_server::admin_api::resource::{Collection, TokenSigningKey};
use clap::Subcommand;
use serde_json::json;

use crate::output::{refused, usage};
use crate::remote::Remote;
use crate::{GlobalArgs, Local};

#[derive(Subcommand)]
pub(crate) enum FederationCommand {
    /// Create the first token-signing keys (current and next) when there are none; `certgate
    /// serve` does the same when it starts. Prints the keys either way.
    Init {
        #[arg(long)]
        json: bool,
    },
    /// The token-signing keys: thumbprint, state, expiry (retired ones too).
    Keys {
        #[arg(long)]
        json: bool,
    },
    /// Roll the token-signing keys over now: the next key, already in the metadata, signs
    /// from now on; the current one retires; a new next key is published.
    RotateKeys {
        #[arg(long)]
        json: bool,
    },
}

fn print_keys(keys: &[TokenSigningKey], json: bool, verb: &str) -> anyhow::Result<ExitCode> {
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({ "value": keys }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !verb.is_empty() {
        outln!("{verb}");
    }
    if keys.is_empty() {
        outln!("no token-signing keys (`certgate federation init` creates them)");
    }
    // Current and next first: they are what relying parties see.
    let mut ordered: Vec<&TokenSigningKey> = keys.iter().collect();
    ordered.sort_by_key(|k| match k.state.as_str() {
        "current" => 0,
        "next" => 1,
        _ => 2,
    });
    for key in ordered {
        outln!(
            "{}  {:<8} notAfter {}",
            key.thumbprint,
            key.state,
            key.not_after
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn passphrase_missing(json: bool) -> ExitCode {
    refused(
        "federation",
        "federation-passphrase-missing",
        "token-signing keys are sealed with certgate's key passphrase: set CERTGATE_CA_KEY_PASSPHRASE",
        json,
    )
}

pub(crate) async fn run(
    command: FederationCommand,
    global: GlobalArgs,
) -> anyhow::Result<ExitCode> {
    if let Some(remote) = global.remote()? {
        return run_remote(command, remote).await;
    }
    let Local {
        config,
        store,
        now,
        actor,
    } = global.local().await?;
    let (json, result, verb) = match command {
        FederationCommand::Keys { json } => {
            let keys = store.token_signing_keys().await?;
            let keys: Vec<TokenSigningKey> = keys.iter().map(Into::into).collect();
            return print_keys(&keys, json, "");
        }
        FederationCommand::Init { json } => {
            let Some(passphrase) = config.ca_key_passphrase.as_deref() else {
                return Ok(passphrase_missing(json));
            };
            let result = ensure_token_signing_keys(&store, passphrase, now, &actor).await;
            (json, result, "token-signing keys:")
        }
        FederationCommand::RotateKeys { json } => {
            let Some(passphrase) = config.ca_key_passphrase.as_deref() else {
                return Ok(passphrase_missing(json));
            };
            let result = rotate_token_signing_keys(&store, passphrase, now, &actor).await;
            (json, result, "rotated: the former next key is current")
        }
    };
    match result {
        Ok(_) => {
            let keys = store.token_signing_keys().await?;
            let keys: Vec<TokenSigningKey> = keys.iter().map(Into::into).collect();
            print_keys(&keys, json, verb)
        }
        Err(error) => Ok(refused(
            "federation",
            error.code(),
            &error.to_string(),
            json,
        )),
    }
}

async fn run_remote(command: FederationCommand, remote: Remote) -> anyhow::Result<ExitCode> {
    let (json, answer, verb) = match command {
        FederationCommand::Init { .. } => {
            return Ok(usage(
                "federation init",
                "works on the local store only (a server creates its keys when it starts); unset CERTGATE_SERVER",
            ))
        }
        FederationCommand::Keys { json } => (
            json,
            remote
                .get::<Collection<TokenSigningKey>>("/federation/signingKeys")
                .await?,
            "",
        ),
        FederationCommand::RotateKeys { json } => (
            json,
            remote
                .post::<(), Collection<TokenSigningKey>>("/federation/signingKeys/rotate", None)
                .await?,
            "rotated: the former next key is current",
        ),
    };
    match answer {
        Ok(keys) => print_keys(&keys.value, json, verb),
        Err(refusal) => Ok(refused("federation", &refusal.code, &refusal.message, json)),
    }
}
