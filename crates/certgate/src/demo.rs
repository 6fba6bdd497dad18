//! `certgate serve --demo`: everything a newcomer needs to sign in with a certificate and a
//! one-time code, made once in the data directory and reused on the next start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use certgate_ca::{KeyAlgorithm, ServerCertificateRequest};
use certgate_core::authority::{BuiltInCa, InitRequest, IssueRequest, OwnCaStore};
use certgate_core::clock::{Clock, SystemClock};
use certgate_core::directory::{add_user, UserDraft, UserStore};
use certgate_core::totp::{code_at, TotpService, TotpSettings, WhenEnrolled};
use certgate_core::trusted_ca::add_cas;
use certgate_oidc::{
    register_client, ClientId, ClientKind, ConsentPrompt, NewClient, OidcStore, ScopeSet,
    TokenLifetimes,
};
use certgate_server::demo::DemoClient;
use certgate_store::SqlStore;
use zeroize::Zeroizing;

use crate::config::{Config, WebSettings};

const DEMO_PASSPHRASE: &str = "certgate-demo-only";
const USER: &str = "alice@contoso.example";
const P12_PASSWORD: &str = "demo";
const CLIENT: &str = "demo-app";

/// What the demo made, for the instructions.
pub(crate) struct Demo {
    pub(crate) client: DemoClient,
    p12: PathBuf,
    root: PathBuf,
    totp_key: String,
    otpauth_uri: String,
    web_origin: String,
}

impl Demo {
    pub(crate) fn print(&self) {
        outln!();
        outln!("certgate demo");
        outln!("  1. Import the demo user's certificate into your browser:");
        outln!("       {}  (password: {P12_PASSWORD})", self.p12.display());
        outln!("  2. Add the demo user's TOTP key to an authenticator app:");
        outln!("       key {}", self.totp_key);
        outln!("       or  {}", self.otpauth_uri);
        outln!("  3. Open {}/demo and sign in as {USER}", self.web_origin);
        outln!("     (the browser warns about certgate's own TLS certificate: it does not know the demo CA;");
        outln!("      trust {} or accept the warning)", self.root.display());
        outln!();
    }
}

fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::pki::write_file(path, bytes, true)
}

/// Makes (or finds) the demo in `config`'s data directory and completes `config` with the
/// listeners it needs.
pub(crate) async fn prepare(config: &mut Config, store: &SqlStore) -> anyhow::Result<Demo> {
    if config.ca_key_passphrase.is_none() {
        eprintln!("certgate demo: no CERTGATE_CA_KEY_PASSPHRASE set; using the demo passphrase (never do this outside a demo)");
        config.ca_key_passphrase = Some(Zeroizing::new(DEMO_PASSPHRASE.as_bytes().to_vec()));
    }
    let dir = config.data_dir.join("demo");
    crate::pki::create_private_dir(&dir)?;
    let tls_dir = config.data_dir.join("tls");
    crate::pki::create_private_dir(&tls_dir)?;
    if config.certauth.is_none() {
        config.certauth = Some((
            crate::config::loopback(8443),
            tls_dir.join("localhost.pem"),
            tls_dir.join("localhost.key"),
        ));
    }
    let (tls_certificate, tls_key) = config
        .certauth
        .as_ref()
        .map(|(_, certificate, key)| (certificate.clone(), key.clone()))
        .unwrap_or_default();
    if config.web.is_none() {
        config.web = Some(WebSettings {
            listen: crate::config::loopback(9443),
            public_url: "https://localhost:9443".into(),
            certauth_public_url: None,
            organization: "Contoso".into(),
            federation_entity_id: "https://localhost:9443/federation".into(),
            federation_clock_skew_seconds: 180,
        });
    }
    let web_origin = config
        .web
        .as_ref()
        .map(|w| w.public_url.clone())
        .unwrap_or_default();

    let clock = SystemClock;
    let settings = config.pki_settings(false);
    let ca = BuiltInCa::new(store, &clock, &settings, "demo");
    if store.authorities().await?.is_empty() {
        let records = ca
            .init(&InitRequest {
                organization: "Contoso".into(),
                key_algorithm: KeyAlgorithm::EcdsaP256,
                root_validity_days: 3650,
                issuing_validity_days: 1825,
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
        for record in &records {
            let role = record.role;
            add_cas(
                store,
                vec![record.certificate_der.clone()],
                |_| settings.urls.trusted_ca_settings(role),
                clock.now(),
                "demo",
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
        }
        std::fs::write(
            dir.join("root.pem"),
            crate::pki::pem("CERTIFICATE", &records[0].certificate_der),
        )?;
    }
    if !tls_certificate.exists() || !tls_key.exists() {
        let issued = ca
            .issue_server(&ServerCertificateRequest {
                dns_names: vec!["localhost".into()],
                ip_addresses: vec![std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)],
                validity_days: 397,
                key_algorithm: KeyAlgorithm::EcdsaP256,
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
        let mut chain = crate::pki::pem("CERTIFICATE", &issued.certificate_der);
        if let Some(issuing) = issued.chain_der.first() {
            chain.push_str(&crate::pki::pem("CERTIFICATE", issuing));
        }
        std::fs::write(&tls_certificate, chain)?;
        write_secret(
            &tls_key,
            crate::pki::pem("PRIVATE KEY", &issued.private_key_pkcs8_der).as_bytes(),
        )?;
    }

    // The demo user: directory entry, certificate + PKCS#12, TOTP.
    let p12 = dir.join("alice.p12");
    let totp_file = dir.join("alice-totp.txt");
    if store.user_by_upn(USER).await?.is_none() {
        add_user(
            store,
            UserDraft {
                display_name: Some("Alice (demo)".into()),
                mail: Some(USER.into()),
                ..UserDraft::new(USER)
            },
            clock.now(),
            "demo",
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
    }
    if !p12.exists() {
        let issued = ca
            .issue(&IssueRequest {
                upn: USER.into(),
                email: Some(USER.into()),
                common_name: Some("Alice (demo)".into()),
                validity_days: 365,
                policy_oids: Vec::new(),
                key_algorithm: KeyAlgorithm::EcdsaP256,
                parent: None,
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
        let bundle = certgate_ca::pkcs12(
            &issued.record.certificate_der,
            &issued.private_key_pkcs8_der,
            &issued.chain_der,
            P12_PASSWORD,
            USER,
        )?;
        write_secret(&p12, &bundle)?;
    }
    let user = store
        .user_by_upn(USER)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo user disappeared"))?;
    let passphrase = config.ca_key_passphrase.clone().unwrap_or_default();
    let sealing = certgate_core::totp::open_sealing(store, &passphrase)
        .await
        .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
    let totp_settings = TotpSettings::new("Contoso (certgate demo)", std::sync::Arc::new(sealing));
    let totp = TotpService::new(store, &clock, &totp_settings, "demo");
    if !totp_file.exists() || !totp.status(user.id.as_str()).await?.enrolled {
        let enrollment = totp
            .begin_enrollment(user.id.as_str(), USER, WhenEnrolled::ReplaceOnConfirmation)
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
        totp.confirm_enrollment(user.id.as_str(), &code_at(&enrollment.secret, clock.now()))
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
        write_secret(
            &totp_file,
            format!(
                "{}\n{}\n",
                enrollment.secret_base32().as_str(),
                enrollment.otpauth_uri.as_str()
            )
            .as_bytes(),
        )?;
    }
    let totp_text = std::fs::read_to_string(&totp_file)?;
    let mut lines = totp_text.lines();
    let totp_key = lines.next().unwrap_or_default().to_owned();
    let otpauth_uri = lines.next().unwrap_or_default().to_owned();

    // The demo application.
    let secret_file = dir.join("demo-app.secret");
    let client_id = ClientId::parse(CLIENT).map_err(|e| anyhow::anyhow!("{e}"))?;
    let redirect_uri = format!("{web_origin}/demo/callback");
    if store.client(&client_id).await?.is_none() || !secret_file.exists() {
        if store.client(&client_id).await?.is_some() {
            certgate_oidc::delete_client(store, &client_id, clock.now(), "demo").await?;
        }
        let registered = register_client(
            store,
            NewClient {
                client_id: client_id.clone(),
                display_name: "certgate demo application".into(),
                kind: ClientKind::Confidential,
                redirect_uris: vec![redirect_uri.clone()],
                post_logout_redirect_uris: vec![format!("{web_origin}/demo")],
                consent: ConsentPrompt::Show,
                allowed_scopes: ScopeSet::parse("openid profile email offline_access")
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                lifetimes: TokenLifetimes::default(),
                require_domain_password: false,
            },
            Duration::from_secs(3600),
            clock.now(),
            "demo",
        )
        .await?;
        let secret = registered
            .secret
            .ok_or_else(|| anyhow::anyhow!("a confidential client without a secret"))?;
        write_secret(&secret_file, secret.expose().as_bytes())?;
    }
    let client_secret = std::fs::read_to_string(&secret_file)?.trim().to_owned();
    Ok(Demo {
        client: DemoClient {
            client_id: CLIENT.into(),
            client_secret,
            redirect_uri,
        },
        p12,
        root: dir.join("root.pem"),
        totp_key,
        otpauth_uri,
        web_origin,
    })
}
