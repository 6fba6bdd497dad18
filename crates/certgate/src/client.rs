//! `certgate client add|list|remove`: OpenID Connect clients (applications).

use std::process::ExitCode;
use std::time::Duration;

use certgate_core::clock::{rfc3339, Clock, SystemClock};
use certgate_oidc::{
    delete_client, register_client, ClientId, ClientKind, ConsentPrompt, NewClient, OidcStore,
    ScopeSet, TokenLifetimes,
};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::{cli_actor, GlobalArgs};

#[derive(Subcommand)]
pub(crate) enum ClientCommand {
    /// Register a client. A confidential client's secret is printed once.
    Add(AddArgs),
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a client and everything issued to it (codes, grants, refresh tokens).
    Remove { client_id: String },
    /// Rotate the ID-token signing keys now (the server also rotates every 30 days): the next
    /// key, already in the JWKS, becomes current; the current one stays published until the
    /// tokens it signed expire.
    RotateKeys,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    /// A web server that keeps a secret.
    Confidential,
    /// A native or single-page app: PKCE S256 required.
    Public,
}

#[derive(Args)]
pub(crate) struct AddArgs {
    client_id: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long, value_enum, default_value_t = KindArg::Confidential)]
    kind: KindArg,
    /// Exact redirect URI; repeat for several.
    #[arg(long = "redirect-uri", required = true)]
    redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Scopes the client may ask for (space-separated; must include openid).
    #[arg(long, default_value = "openid profile email offline_access")]
    scopes: String,
    /// Skip the "continue as <user>" page for this client.
    #[arg(long)]
    skip_confirmation: bool,
    /// Ask every sign-in to this client for the user's domain password after the
    /// certificate (checked by the directory source, `[directory.ldap]`; refused at sign-in on
    /// a node without one). The tokens then carry `pwd` in `amr`.
    #[arg(long)]
    require_domain_password: bool,
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(command: ClientCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = global.load()?;
    let store = config.open_store().await?;
    let now = SystemClock.now();
    let actor = cli_actor();
    match command {
        ClientCommand::Add(args) => {
            let client_id = ClientId::parse(&args.client_id)
                .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            let scopes =
                ScopeSet::parse(&args.scopes).map_err(|e| anyhow::anyhow!("--scopes: {e}"))?;
            let new = NewClient {
                display_name: args.name.clone().unwrap_or_else(|| args.client_id.clone()),
                client_id,
                kind: match args.kind {
                    KindArg::Confidential => ClientKind::Confidential,
                    KindArg::Public => ClientKind::Public,
                },
                redirect_uris: args.redirect_uris.clone(),
                post_logout_redirect_uris: args.post_logout_redirect_uris.clone(),
                consent: if args.skip_confirmation {
                    ConsentPrompt::Skip
                } else {
                    ConsentPrompt::Show
                },
                allowed_scopes: scopes,
                lifetimes: TokenLifetimes::default(),
                require_domain_password: args.require_domain_password,
            };
            match register_client(&store, new, Duration::from_secs(3600), now, &actor).await {
                Ok(registered) => {
                    crate::rp::warn_without_directory(
                        &registered.client.display_name,
                        registered.client.require_domain_password,
                        &config,
                    );
                    let secret = registered.secret.as_ref().map(|s| s.expose().to_owned());
                    if args.json {
                        outln!(
                            "{}",
                            json!({ "clientId": registered.client.client_id.as_str(), "clientSecret": secret })
                        );
                    } else {
                        outln!("registered client {}", registered.client.client_id);
                        if let Some(secret) = secret {
                            outln!("client secret (shown once): {secret}");
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("certgate client: {error} ({})", error.code());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        ClientCommand::List { json } => {
            let clients = store.clients().await?;
            if json {
                let list: Vec<_> = clients
                    .iter()
                    .map(|c| {
                        json!({
                            "clientId": c.client_id.as_str(), "displayName": c.display_name,
                            "kind": format!("{:?}", c.kind()).to_lowercase(),
                            "redirectUris": c.redirect_uris,
                            "postLogoutRedirectUris": c.post_logout_redirect_uris,
                            "confirmation": c.consent == ConsentPrompt::Show,
                            "requireDomainPassword": c.require_domain_password,
                            "createdDateTime": rfc3339(c.created_at),
                        })
                    })
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&list)?);
            } else if clients.is_empty() {
                outln!("no clients (certgate client add ID --redirect-uri URL)");
            } else {
                for c in &clients {
                    outln!(
                        "{}  {:?} \"{}\"  {}",
                        c.client_id,
                        c.kind(),
                        c.display_name,
                        c.redirect_uris.join(" ")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ClientCommand::RotateKeys => {
            let passphrase = config.ca_key_passphrase.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "the signing keys are sealed with CERTGATE_CA_KEY_PASSPHRASE; set it"
                )
            })?;
            let store = std::sync::Arc::new(store);
            let issuer = config
                .web
                .as_ref()
                .map(|w| w.public_url.clone())
                .unwrap_or_else(|| format!("https://{}", config.listen));
            let provider = certgate_oidc::Provider::open(
                certgate_oidc::ProviderConfig::new(
                    certgate_oidc::Issuer::parse(&issuer).map_err(|e| anyhow::anyhow!("{e}"))?,
                ),
                (*store).clone(),
                certgate_server::oidc_policy::DirectoryRefreshPolicy {
                    directory: std::sync::Arc::clone(&store),
                    state: std::sync::Arc::default(),
                    clock: std::sync::Arc::new(SystemClock),
                },
                &passphrase,
                now,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            match provider.rotate_keys(&passphrase, now, &actor).await {
                Ok(rotation) => {
                    outln!(
                        "signing key {} is current; {} retired (published until its tokens expire); {} is next",
                        rotation.promote.as_str(),
                        rotation.retire.as_str(),
                        rotation.insert.kid.as_str()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("certgate client: {error} ({})", error.code());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        ClientCommand::Remove { client_id } => {
            let id =
                ClientId::parse(&client_id).map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            match delete_client(&store, &id, now, &actor).await {
                Ok(()) => {
                    outln!("removed client {client_id}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("certgate client: {error} ({})", error.code());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
