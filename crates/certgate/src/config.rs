//! Configuration: `<data-dir>/certgate.toml` (or `--config FILE`), then environment
//! overrides, then command-line flags. Secrets (the CA key passphrase) come from the
//! environment or the file, never from a flag, so they do not land in shell history or `ps`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use certgate_core::authority::{PkiSettings, PublicationUrls};
use certgate_core::crl_fetch::FetchLimits;
use certgate_server::crl_refresh::CrlSettings;
use serde::Deserialize;
use zeroize::Zeroizing;

/// The file's shape. Every field is optional; defaults are below.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    ca_key_passphrase: Option<String>,
    /// How many unexpired, unrevoked certificates obtained with a certificate (/my/device,
    /// EST re-enrollment) one user may hold (default 10).
    max_derived_certificates_per_user: Option<u32>,
    /// Whether a certificate of another trusted CA may obtain a certgate certificate on
    /// /my/device (default false: only certgate's own). When true, the new certificate ends
    /// no later than it and is revoked when that CA's CRL lists it.
    derive_from_trusted_cas: Option<bool>,
    #[serde(default)]
    crl: CrlFileConfig,
    #[serde(default)]
    certauth: CertAuthFileConfig,
    #[serde(default)]
    web: WebFileConfig,
    #[serde(default)]
    front_door: crate::front_door_config::FrontDoorFileConfig,
    #[serde(default)]
    limits: crate::limits_config::LimitsFileConfig,
    #[serde(default)]
    retention: crate::limits_config::RetentionFileConfig,
    #[serde(default)]
    directory: crate::directory_config::DirectoryFileConfig,
}

/// The web listener: OpenID Connect and the sign-in pages.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebFileConfig {
    listen: Option<SocketAddr>,
    /// `https://host:port` browsers and applications reach the web listener at.
    public_url: Option<String>,
    /// `https://host:port` browsers reach the certificate sign-in listener at (same host name).
    certauth_public_url: Option<String>,
    /// The name shown in authenticator apps (default: certgate).
    organization: Option<String>,
    /// The federation service's entity ID / issuer URI (default: `<public_url>/federation`).
    /// Microsoft 365 compares it with the federated domain's `issuerUri`.
    federation_entity_id: Option<String>,
    /// Allowed clock difference with SAML / WS-Fed relying parties, seconds (default 180).
    federation_clock_skew_seconds: Option<i64>,
}

/// The certificate sign-in listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertAuthFileConfig {
    listen: Option<SocketAddr>,
    /// PEM certificate chain of the listener (its own server certificate).
    tls_certificate: Option<PathBuf>,
    /// PEM private key of that certificate.
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrlFileConfig {
    interactive_max_bytes: Option<u64>,
    interactive_timeout_seconds: Option<u64>,
    background_max_bytes: Option<u64>,
    background_timeout_seconds: Option<u64>,
    clock_skew_seconds: Option<i64>,
    max_refresh_interval_seconds: Option<i64>,
}

/// The configuration in force.
pub(crate) struct Config {
    pub(crate) data_dir: PathBuf,
    pub(crate) database_url: String,
    pub(crate) listen: SocketAddr,
    pub(crate) public_url: String,
    pub(crate) ca_key_passphrase: Option<Zeroizing<Vec<u8>>>,
    pub(crate) max_derived_certificates_per_user: u32,
    pub(crate) derive_from_trusted_cas: bool,
    pub(crate) crl: CrlSettings,
    /// The certificate sign-in listener: address, TLS certificate and key files.
    pub(crate) certauth: Option<(SocketAddr, PathBuf, PathBuf)>,
    /// The web listener: address, public URL, certificate sign-in public URL, organization.
    pub(crate) web: Option<WebSettings>,
    /// The mail front door (`[front_door]`).
    pub(crate) front_door: Option<crate::front_door_config::FrontDoorSettings>,
    /// `[limits]` and `[retention]`.
    pub(crate) limits: certgate_server::limits::Limits,
    /// `[directory.ldap]`: where users come from, when not added by hand.
    pub(crate) directory: Option<crate::directory_config::DirectorySourceSettings>,
}

pub(crate) struct WebSettings {
    pub(crate) listen: SocketAddr,
    pub(crate) public_url: String,
    pub(crate) certauth_public_url: Option<String>,
    pub(crate) organization: String,
    pub(crate) federation_entity_id: String,
    pub(crate) federation_clock_skew_seconds: i64,
}

pub(crate) const DEFAULT_LISTEN: SocketAddr = loopback(8080);

/// 127.0.0.1:`port`.
pub(crate) const fn loopback(port: u16) -> SocketAddr {
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), port)
}

impl Config {
    /// Reads the file (when present) and applies `CERTGATE_*` environment overrides.
    pub(crate) fn load(data_dir: &Path, config_file: Option<&Path>) -> anyhow::Result<Config> {
        let default_file = data_dir.join("certgate.toml");
        let file_path = config_file.unwrap_or(&default_file);
        let file: FileConfig = match std::fs::read_to_string(file_path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("reading {}", file_path.display()))?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && config_file.is_none() => {
                FileConfig::default()
            }
            Err(error) => {
                return Err(error).with_context(|| format!("reading {}", file_path.display()))
            }
        };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let database_url = env("CERTGATE_DATABASE_URL")
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("certgate.db").display()));
        let listen = match env("CERTGATE_LISTEN") {
            Some(text) => text
                .parse()
                .with_context(|| format!("CERTGATE_LISTEN \"{text}\" is not HOST:PORT"))?,
            None => file.listen.unwrap_or(DEFAULT_LISTEN),
        };
        let public_url = match env("CERTGATE_PUBLIC_URL").or(file.public_url) {
            Some(url) => url,
            // Written into every certificate certgate issues (CRL distribution points): it
            // cannot follow a port the system chooses at each start.
            None if listen.port() == 0 => bail!(
                "listening on port 0 needs the public URL: set public_url (or CERTGATE_PUBLIC_URL)"
            ),
            None => format!("http://{listen}"),
        };
        if !certgate_core::trusted_ca::is_http_url(&public_url) {
            bail!("public_url \"{public_url}\" is not an http(s) URL");
        }
        let ca_key_passphrase = env("CERTGATE_CA_KEY_PASSPHRASE")
            .or(file.ca_key_passphrase)
            .map(|p| Zeroizing::new(p.into_bytes()));
        let defaults = CrlSettings::default();
        let crl = CrlSettings {
            interactive: FetchLimits {
                max_bytes: file
                    .crl
                    .interactive_max_bytes
                    .unwrap_or(defaults.interactive.max_bytes),
                max_duration: file
                    .crl
                    .interactive_timeout_seconds
                    .map_or(defaults.interactive.max_duration, Duration::from_secs),
            },
            background: FetchLimits {
                max_bytes: file
                    .crl
                    .background_max_bytes
                    .unwrap_or(defaults.background.max_bytes),
                max_duration: file
                    .crl
                    .background_timeout_seconds
                    .map_or(defaults.background.max_duration, Duration::from_secs),
            },
            clock_skew_seconds: file
                .crl
                .clock_skew_seconds
                .unwrap_or(defaults.clock_skew_seconds),
            max_interval_seconds: file
                .crl
                .max_refresh_interval_seconds
                .unwrap_or(defaults.max_interval_seconds),
            ..defaults
        };
        let certauth_listen = match env("CERTGATE_CERTAUTH_LISTEN") {
            Some(text) => Some(text.parse().with_context(|| {
                format!("CERTGATE_CERTAUTH_LISTEN \"{text}\" is not HOST:PORT")
            })?),
            None => file.certauth.listen,
        };
        let tls_certificate = env("CERTGATE_TLS_CERTIFICATE")
            .map(PathBuf::from)
            .or(file.certauth.tls_certificate);
        let tls_key = env("CERTGATE_TLS_KEY")
            .map(PathBuf::from)
            .or(file.certauth.tls_key);
        let certauth = match (certauth_listen, tls_certificate, tls_key) {
            (None, _, _) => None,
            (Some(listen), Some(certificate), Some(key)) => Some((listen, certificate, key)),
            (Some(_), _, _) => bail!(
                "the certificate sign-in listener needs its TLS certificate and key: set [certauth] tls_certificate and tls_key (or CERTGATE_TLS_CERTIFICATE / CERTGATE_TLS_KEY)"
            ),
        };
        let web_listen = match env("CERTGATE_WEB_LISTEN") {
            Some(text) => Some(
                text.parse()
                    .with_context(|| format!("CERTGATE_WEB_LISTEN \"{text}\" is not HOST:PORT"))?,
            ),
            None => file.web.listen,
        };
        let web = match web_listen {
            None => None,
            Some(listen) => {
                if certauth.is_none() {
                    bail!("the web listener needs the certificate sign-in listener: set [certauth] listen, tls_certificate and tls_key");
                }
                let public_url = match env("CERTGATE_WEB_PUBLIC_URL").or(file.web.public_url) {
                    Some(url) => url,
                    // The issuer is part of every token: it cannot follow a port chosen later.
                    None if listen.port() == 0 => bail!(
                        "the web listener on port 0 needs its public URL: set [web] public_url (or CERTGATE_WEB_PUBLIC_URL)"
                    ),
                    None => format!("https://localhost:{}", listen.port()),
                };
                let certauth_public_url =
                    env("CERTGATE_CERTAUTH_PUBLIC_URL").or(file.web.certauth_public_url);
                let public_url = public_url.trim_end_matches('/').to_owned();
                let federation_entity_id = env("CERTGATE_FEDERATION_ENTITY_ID")
                    .or(file.web.federation_entity_id)
                    .unwrap_or_else(|| format!("{public_url}/federation"));
                let federation_clock_skew_seconds = match env("CERTGATE_FEDERATION_CLOCK_SKEW") {
                    Some(text) => text.parse().with_context(|| {
                        format!(
                            "CERTGATE_FEDERATION_CLOCK_SKEW \"{text}\" is not a number of seconds"
                        )
                    })?,
                    None => file.web.federation_clock_skew_seconds.unwrap_or(180),
                };
                if !(0..=3600).contains(&federation_clock_skew_seconds) {
                    bail!("the federation clock skew must be 0 to 3600 seconds, not {federation_clock_skew_seconds}");
                }
                Some(WebSettings {
                    listen,
                    federation_entity_id,
                    federation_clock_skew_seconds,
                    public_url,
                    certauth_public_url: certauth_public_url
                        .map(|u| u.trim_end_matches('/').to_owned()),
                    organization: file.web.organization.unwrap_or_else(|| "certgate".into()),
                })
            }
        };
        let max_derived_certificates_per_user =
            match env("CERTGATE_MAX_DERIVED_CERTIFICATES_PER_USER") {
                Some(text) => text.parse().with_context(|| {
                    format!("CERTGATE_MAX_DERIVED_CERTIFICATES_PER_USER \"{text}\" is not a number")
                })?,
                None => file
                    .max_derived_certificates_per_user
                    .unwrap_or(certgate_core::authority::DEFAULT_MAX_DERIVED_CERTIFICATES_PER_USER),
            };
        if max_derived_certificates_per_user == 0 {
            bail!("max_derived_certificates_per_user must be at least 1 (a re-enrollment needs a place)");
        }
        let derive_from_trusted_cas = match env("CERTGATE_DERIVE_FROM_TRUSTED_CAS") {
            Some(text) => match text.trim() {
                "true" => true,
                "false" => false,
                _ => bail!("CERTGATE_DERIVE_FROM_TRUSTED_CAS \"{text}\" is neither true nor false"),
            },
            None => file.derive_from_trusted_cas.unwrap_or(false),
        };
        let front_door = file.front_door.settings(&env)?;
        let limits = crate::limits_config::settings(&file.limits, &file.retention, &env)?;
        if front_door.as_ref().is_some_and(|f| f.tls.is_none()) && certauth.is_none() {
            bail!("the front door needs a TLS certificate: set [front_door] tls_certificate and tls_key, or configure the certificate sign-in listener ([certauth]) whose certificate it then shares");
        }
        let directory = file
            .directory
            .settings()
            .with_context(|| format!("reading {}", file_path.display()))?;
        Ok(Config {
            directory,
            limits,
            front_door,
            web,
            certauth,
            data_dir: data_dir.to_owned(),
            database_url,
            listen,
            public_url,
            ca_key_passphrase,
            max_derived_certificates_per_user,
            derive_from_trusted_cas,
            crl,
        })
    }

    pub(crate) fn pki_settings(&self, allow_unencrypted_keys: bool) -> PkiSettings {
        let mut settings = PkiSettings::new(
            PublicationUrls::new(&self.public_url),
            self.ca_key_passphrase.clone(),
        );
        settings.allow_unencrypted_keys = allow_unencrypted_keys;
        settings.max_derived_certificates_per_user = self.max_derived_certificates_per_user;
        settings.derive_from_trusted_cas = self.derive_from_trusted_cas;
        settings
    }

    /// Opens the store, creating the data directory for SQLite.
    pub(crate) async fn open_store(&self) -> anyhow::Result<certgate_store::SqlStore> {
        if self.database_url.starts_with("sqlite:") {
            crate::pki::create_private_dir(&self.data_dir)?;
        }
        certgate_store::SqlStore::connect_with_timeout(
            &self.database_url,
            self.limits.listeners.store_timeout,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))
    }
}
