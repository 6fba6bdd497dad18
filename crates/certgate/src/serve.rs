//! `certgate serve` (and `certgate serve --demo`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use certgate_core::clock::{Clock, SystemClock};
use certgate_core::directory_source::Profile;
use certgate_core::domain_password::LockoutPolicy;
use certgate_ldap::{BindName, LdapPasswordVerifier};
use certgate_server::app::{
    start_with_limits, CertAuthConfig, FrontDoorConfig, ServerConfig, WebConfig,
};
use certgate_server::certauth::ServerIdentity;
use certgate_server::domain_password::DomainPasswordCheck;
use clap::Args;

use crate::GlobalArgs;

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Listen address (default: the config's `listen`, or 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Set up and run a demo in the data directory (SQLite): certgate's own CA, TLS
    /// certificates for localhost, a demo user with a PKCS#12 and a TOTP key, and a demo
    /// application at https://localhost:9443/demo. Existing demo data is reused.
    #[arg(long)]
    demo: bool,
}

pub(crate) async fn run(args: ServeArgs, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let mut config = global.load()?;
    let store = Arc::new(config.open_store().await?);
    let demo = if args.demo {
        Some(crate::demo::prepare(&mut config, &store).await?)
    } else {
        None
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Checked before any listener opens: a directory source that cannot be used would leave
    // users deleted in the directory able to sign in.
    let directory_sync = match &config.directory {
        Some(settings) => Some(certgate_server::directory_sync::ScheduledSync {
            source: certgate_ldap::LdapDirectory::new(settings.ldap.clone())
                .map_err(|error| anyhow::anyhow!("[directory.ldap]: {error} ({})", error.code()))?,
            settings: settings.sync.clone(),
            interval: settings.sync_interval,
            full_sync_interval: settings.full_sync_interval,
        }),
        None => None,
    };
    // The same directory checks domain passwords, over the same verified TLS: by UPN for
    // Active Directory, by the DN the sync recorded for a generic LDAP directory.
    let domain_password = match (&directory_sync, &config.directory) {
        (Some(sync), Some(settings)) => {
            let bind_name = match settings.sync.attributes.profile {
                Profile::ActiveDirectory => BindName::Upn,
                Profile::GenericLdap => BindName::EntryDn,
            };
            Some(Arc::new(DomainPasswordCheck::new(
                LdapPasswordVerifier::new(sync.source.clone(), bind_name),
                LockoutPolicy::default(),
            )))
        }
        _ => None,
    };
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
            demo: demo.as_ref().map(|d| d.client.clone()),
            domain_password: domain_password.clone(),
            federation: Some(certgate_server::federation_http::FederationSettings {
                entity_id: web.federation_entity_id.clone(),
                public_origin: web.public_url.clone(),
                clock_skew_seconds: web.federation_clock_skew_seconds,
            }),
        }),
        None => None,
    };
    let front_door = match &config.front_door {
        Some(front_door) => {
            let (certificate, key) = match (&front_door.tls, &config.certauth) {
                (Some((certificate, key)), _) | (None, Some((_, certificate, key))) => {
                    (certificate, key)
                }
                (None, None) => anyhow::bail!("the front door needs a TLS certificate"),
            };
            let chain = std::fs::read(certificate)
                .with_context(|| format!("reading {}", certificate.display()))?;
            let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
            Some(FrontDoorConfig {
                listen: front_door.listen,
                identity: ServerIdentity::from_pem(&chain, &key).map_err(anyhow::Error::msg)?,
                virtual_directories: front_door.virtual_directories.clone(),
                public_host: front_door.public_host.clone(),
                allowed_hosts: front_door.allowed_hosts.clone(),
            })
        }
        None => None,
    };
    // Before any listener opens: every connection is a file descriptor.
    let open_files = crate::limits_config::raise_open_file_limit();
    if let Some(open_files) = open_files {
        outln!("open-file limit: {open_files}");
        let listeners = 1
            + usize::from(config.certauth.is_some())
            + usize::from(config.web.is_some())
            + usize::from(config.front_door.is_some());
        let wanted = (config.limits.listeners.max_connections * listeners) as u64 + 256;
        if wanted > open_files {
            tracing::warn!(open_files, wanted, "the listeners' max_connections ({} each, {listeners} listeners) plus room for the database and files exceed the open-file limit: lower [limits] max_connections or raise the hard limit (LimitNOFILE=)", config.limits.listeners.max_connections);
        }
    }
    let server = start_with_limits(
        store.clone(),
        clock.clone(),
        ServerConfig {
            listen: args.listen.unwrap_or(config.listen),
            crl: config.crl,
            pki: Some(config.pki_settings(false)),
            tick: Duration::from_secs(2),
            certauth,
            web,
            front_door,
        },
        config.limits,
    )
    .await?;
    outln!("certgate is serving on http://{}", server.local_addr);
    outln!(
        "  CRLs and CA certificates: http://{}/pki/",
        server.local_addr
    );
    outln!("  metrics: http://{}/metrics", server.local_addr);
    if let Some(addr) = server.certauth_addr {
        outln!("  certificate sign-in: https://{addr}/certauth");
    }
    if let (Some(addr), Some(web)) = (server.web_addr, &config.web) {
        outln!(
            "  OpenID Connect: {}/.well-known/openid-configuration (listening on {addr})",
            web.public_url
        );
    }
    if let (Some(_), Some(web)) = (server.web_addr, &config.web) {
        outln!(
            "  SAML 2.0: {}{} · WS-Federation: {}{} (issuer {})",
            web.public_url,
            certgate_server::federation_http::SAML_METADATA_PATH,
            web.public_url,
            certgate_server::federation_http::FEDERATION_METADATA_PATH,
            web.federation_entity_id
        );
    }
    if let (Some(addr), Some(front_door)) = (server.front_door_addr, &config.front_door) {
        for vdir in &front_door.virtual_directories {
            outln!(
                "  front door: https://{addr}{} -> {} (client certificates: {})",
                vdir.prefix,
                vdir.upstream,
                vdir.client_certificates.as_str()
            );
        }
    }
    if let Some(demo) = &demo {
        demo.print();
    }
    // One line with every address bound (port 0 in the configuration is the port the system
    // chose), for scripts and tests to read instead of guessing free ports.
    let mut bound = format!("listening: http={}", server.local_addr);
    for (name, addr) in [
        ("certauth", server.certauth_addr),
        ("web", server.web_addr),
        ("front_door", server.front_door_addr),
    ] {
        if let Some(addr) = addr {
            bound.push_str(&format!(" {name}={addr}"));
        }
    }
    let directory_sync = directory_sync.map(|sync| {
        outln!(
            "  directory sync: {} every {} s",
            sync.source.config().url,
            sync.interval.as_secs()
        );
        tokio::spawn(certgate_server::directory_sync::run_scheduled(
            sync,
            store.clone(),
            clock.clone(),
        ))
    });
    outln!("{bound}");
    server.run_until_signal().await;
    // A sync cut short keeps every change it wrote whole and frees its lock with its
    // connection.
    if let Some(task) = directory_sync {
        task.abort();
    }
    Ok(ExitCode::SUCCESS)
}
