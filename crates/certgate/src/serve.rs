//! `certgate serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use certgate_core::clock::{Clock, SystemClock};
use anyhow::Context;
use certgate_server::app::{start, CertAuthConfig, ServerConfig, WebConfig};
use certgate_server::certauth::ServerIdentity;
use clap::Args;

use crate::GlobalArgs;

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Listen address (default: the config's `listen`, or 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

pub(crate) async fn run(args: ServeArgs, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = global.load()?;
    let store = Arc::new(config.open_store().await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let certauth = match &config.certauth {
        Some((listen, certificate, key)) => {
            let chain = std::fs::read(certificate)
                .with_context(|| format!("reading {}", certificate.display()))?;
            let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
            Some(CertAuthConfig {
                listen: *listen,
                identity: ServerIdentity::from_pem(&chain, &key).map_err(anyhow::Error::msg)?,
            })
        }
        None => None,
    };
    let web = match &config.web {
        Some(web) => Some(WebConfig {
            listen: web.listen,
            public_origin: web.public_url.clone(),
            certauth_public_origin: web.certauth_public_url.clone(),
            issuer: web.public_url.clone(),
            organization: web.organization.clone(),
            passphrase: config.ca_key_passphrase.clone().ok_or_else(|| {
                anyhow::anyhow!("the web listener seals OpenID Connect keys and TOTP secrets with CERTGATE_CA_KEY_PASSPHRASE; set it")
            })?,
        }),
        None => None,
    };
    let server = start(
        store,
        clock,
        ServerConfig {
            listen: args.listen.unwrap_or(config.listen),
            crl: config.crl,
            pki: Some(config.pki_settings(false)),
            tick: Duration::from_secs(2),
            certauth,
            web,
        },
    )
    .await?;
    println!("certgate is serving on http://{}", server.local_addr);
    println!(
        "  CRLs and CA certificates: http://{}/pki/",
        server.local_addr
    );
    server.run_until_signal().await;
    Ok(ExitCode::SUCCESS)
}
