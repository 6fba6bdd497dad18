//! `[front_door]` in certgate.toml: the mail front door's listener and virtual directories.
//!
//! ```toml
//! [front_door]
//! listen = "0.0.0.0:443"
//! upstream = "https://mail.internal.contoso.example"   # the three presets go here
//! upstream_ca_file = "/etc/certgate/internal-ca.pem"
//! preserve_host = true                    # the client's Host upstream (default: the upstream's)
//! allowed_hosts = ["mail.contoso.example"] # others get 421 (unset: public_host alone)
//!
//! [[front_door.virtual_directory]]
//! prefix = "/rpc"
//! client_certificates = "accept"          # ignore | accept | require
//! certificate_mapping = true
//! basic_passthrough = true
//! upstream = "http://127.0.0.1:8081"
//! [front_door.virtual_directory.headers]
//! upn = "X-Remote-User"                   # "" = not sent
//! ```
//!
//! `CERTGATE_FRONT_DOOR_LISTEN`, `CERTGATE_FRONT_DOOR_UPSTREAM` and
//! `CERTGATE_FRONT_DOOR_PUBLIC_HOST` override `listen`, `upstream` and `public_host`. The TLS certificate is the certificate sign-in listener's unless
//! `tls_certificate` / `tls_key` are given.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use certgate_core::front_door::{
    check_allowed_hosts, check_virtual_directory, ClientCertificates, IdentityHeaders,
    VirtualDirectory, PRESETS,
};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FrontDoorFileConfig {
    listen: Option<SocketAddr>,
    /// The host name devices use (`mail.contoso.example`): the ActiveSync host the
    /// self-service device page suggests.
    public_host: Option<String>,
    tls_certificate: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    /// Where the presets (`owa`, `ecp`, `activesync`) go.
    upstream: Option<String>,
    upstream_ca_file: Option<PathBuf>,
    /// Send the client's Host to the upstream (default false; per directory too).
    preserve_host: Option<bool>,
    /// The host names clients may send requests to; others are refused with 421. Default:
    /// any plain host name, which `preserve_host` does not allow.
    allowed_hosts: Option<Vec<String>>,
    /// Which presets to publish when `upstream` is set (default: all three).
    presets: Option<Vec<String>>,
    #[serde(default)]
    virtual_directory: Vec<VirtualDirectoryFileConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VirtualDirectoryFileConfig {
    /// `/path`, or a preset name in `preset`.
    prefix: Option<String>,
    preset: Option<String>,
    client_certificates: Option<String>,
    certificate_mapping: Option<bool>,
    basic_passthrough: Option<bool>,
    upstream: Option<String>,
    upstream_ca_file: Option<PathBuf>,
    preserve_host: Option<bool>,
    max_request_header_bytes: Option<usize>,
    headers: Option<HeadersFileConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadersFileConfig {
    upn: Option<String>,
    mail: Option<String>,
    immutable_id: Option<String>,
    certificate_serial: Option<String>,
    certificate_issuer: Option<String>,
    certificate_thumbprint: Option<String>,
    client_cert: Option<bool>,
    client_cert_chain: Option<bool>,
}

/// The front door in force.
pub(crate) struct FrontDoorSettings {
    pub(crate) listen: SocketAddr,
    pub(crate) public_host: Option<String>,
    pub(crate) allowed_hosts: Vec<String>,
    /// TLS certificate chain and key files; None = the certificate sign-in listener's.
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    pub(crate) virtual_directories: Vec<VirtualDirectory>,
}

/// A header name setting: absent keeps the default, "" turns the header off.
fn header_name(setting: Option<String>, default: Option<String>) -> Option<String> {
    match setting {
        Some(name) if name.trim().is_empty() => None,
        Some(name) => Some(name.trim().to_owned()),
        None => default,
    }
}

impl FrontDoorFileConfig {
    /// The settings, or None when the front door is not configured (no listen address).
    pub(crate) fn settings(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<FrontDoorSettings>> {
        let listen = match env("CERTGATE_FRONT_DOOR_LISTEN") {
            Some(text) => Some(text.parse().with_context(|| {
                format!("CERTGATE_FRONT_DOOR_LISTEN \"{text}\" is not HOST:PORT")
            })?),
            None => self.listen,
        };
        let Some(listen) = listen else {
            return Ok(None);
        };
        let upstream = env("CERTGATE_FRONT_DOOR_UPSTREAM").or(self.upstream);
        let mut virtual_directories = Vec::new();
        if let Some(upstream) = &upstream {
            let presets = self
                .presets
                .unwrap_or_else(|| PRESETS.iter().map(|p| (*p).to_owned()).collect());
            for name in presets {
                let mut vdir = VirtualDirectory::preset(&name, upstream).with_context(|| {
                    format!("[front_door] presets: \"{name}\" is not one of owa, ecp, activesync")
                })?;
                vdir.upstream_ca_file = self.upstream_ca_file.clone();
                vdir.preserve_host = self.preserve_host.unwrap_or(false);
                virtual_directories.push(vdir);
            }
        }
        for entry in self.virtual_directory {
            let upstream = entry.upstream.or_else(|| upstream.clone()).with_context(|| {
                "a [[front_door.virtual_directory]] needs an upstream (or [front_door] upstream)"
            })?;
            let mut vdir = match (&entry.preset, &entry.prefix) {
                (Some(name), None) => {
                    VirtualDirectory::preset(name, &upstream).with_context(|| {
                        format!("preset \"{name}\" is not one of owa, ecp, activesync")
                    })?
                }
                (None, Some(prefix)) => VirtualDirectory::new(prefix, &upstream),
                _ => bail!("each [[front_door.virtual_directory]] has either prefix or preset"),
            };
            // A directory given here replaces a preset with the same prefix.
            virtual_directories.retain(|v| !v.prefix.eq_ignore_ascii_case(&vdir.prefix));
            if let Some(text) = entry.client_certificates {
                vdir.client_certificates = ClientCertificates::parse(&text).with_context(|| {
                    format!(
                        "{}: client_certificates \"{text}\" is not ignore, accept or require",
                        vdir.prefix
                    )
                })?;
            }
            if let Some(mapping) = entry.certificate_mapping {
                vdir.certificate_mapping = mapping;
            }
            if let Some(basic) = entry.basic_passthrough {
                vdir.basic_passthrough = basic;
            }
            vdir.upstream_ca_file = entry.upstream_ca_file.or(self.upstream_ca_file.clone());
            vdir.preserve_host = entry.preserve_host.or(self.preserve_host).unwrap_or(false);
            if let Some(limit) = entry.max_request_header_bytes {
                vdir.max_request_header_bytes = limit;
            }
            if let Some(headers) = entry.headers {
                let defaults = IdentityHeaders::default();
                vdir.identity_headers = IdentityHeaders {
                    upn: header_name(headers.upn, defaults.upn),
                    mail: header_name(headers.mail, defaults.mail),
                    immutable_id: header_name(headers.immutable_id, defaults.immutable_id),
                    certificate_serial: header_name(
                        headers.certificate_serial,
                        defaults.certificate_serial,
                    ),
                    certificate_issuer: header_name(
                        headers.certificate_issuer,
                        defaults.certificate_issuer,
                    ),
                    certificate_thumbprint: header_name(
                        headers.certificate_thumbprint,
                        defaults.certificate_thumbprint,
                    ),
                    client_cert: headers.client_cert.unwrap_or(defaults.client_cert),
                    client_cert_chain: headers
                        .client_cert_chain
                        .unwrap_or(defaults.client_cert_chain),
                };
            }
            virtual_directories.push(vdir);
        }
        if virtual_directories.is_empty() {
            bail!("the front door listens on {listen} but publishes nothing: set [front_door] upstream (CERTGATE_FRONT_DOOR_UPSTREAM) or add a [[front_door.virtual_directory]]");
        }
        for vdir in &virtual_directories {
            check_virtual_directory(vdir).map_err(anyhow::Error::msg)?;
        }
        let tls = match (self.tls_certificate, self.tls_key) {
            (Some(certificate), Some(key)) => Some((certificate, key)),
            (None, None) => None,
            _ => bail!("[front_door] needs both tls_certificate and tls_key, or neither (then the certificate sign-in listener's are used)"),
        };
        let public_host = env("CERTGATE_FRONT_DOOR_PUBLIC_HOST").or(self.public_host);
        let allowed_hosts = self.allowed_hosts.unwrap_or_default();
        check_allowed_hosts(&allowed_hosts, public_host.as_deref(), &virtual_directories)
            .map_err(|why| anyhow::anyhow!("[front_door]: {why}"))?;
        Ok(Some(FrontDoorSettings {
            listen,
            public_host,
            allowed_hosts,
            tls,
            virtual_directories,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Option<FrontDoorSettings>> {
        let file: FrontDoorFileConfig = toml::from_str(text)?;
        file.settings(&|_| None)
    }

    #[test]
    fn presets_and_custom_directories() {
        let settings = parse(
            r#"
            listen = "127.0.0.1:8443"
            upstream = "http://127.0.0.1:9000"
            preserve_host = true
            allowed_hosts = ["mail.contoso.example", "Autodiscover.Contoso.Example"]
            [[virtual_directory]]
            preset = "owa"
            client_certificates = "accept"
            basic_passthrough = true
            [[virtual_directory]]
            prefix = "/rpc"
            preserve_host = false
            upstream = "http://127.0.0.1:9001"
            headers = { upn = "X-Remote-User", mail = "", client_cert_chain = false }
            "#,
        )
        .unwrap()
        .unwrap();
        let prefixes: Vec<&str> = settings
            .virtual_directories
            .iter()
            .map(|v| v.prefix.as_str())
            .collect();
        assert_eq!(
            prefixes,
            ["/ecp", "/Microsoft-Server-ActiveSync", "/owa", "/rpc"]
        );
        let owa = &settings.virtual_directories[2];
        assert_eq!(owa.client_certificates, ClientCertificates::Accept);
        assert!(owa.basic_passthrough);
        assert!(
            owa.preserve_host,
            "[front_door] preserve_host reaches a directory"
        );
        assert!(
            settings.virtual_directories[0].preserve_host,
            "and the presets"
        );
        let rpc = &settings.virtual_directories[3];
        assert_eq!(rpc.identity_headers.upn.as_deref(), Some("X-Remote-User"));
        assert_eq!(rpc.identity_headers.mail, None);
        assert!(!rpc.identity_headers.client_cert_chain);
        assert_eq!(rpc.client_certificates, ClientCertificates::Require);
        assert!(!rpc.preserve_host, "a directory's own setting wins");
    }

    #[test]
    fn misconfigurations_are_refused() {
        assert!(parse("upstream = \"http://x\"").unwrap().is_none());
        assert!(
            parse("listen = \"127.0.0.1:1\"").is_err(),
            "nothing published"
        );
        assert!(parse("listen = \"127.0.0.1:1\"\nupstream = \"ftp://x\"").is_err());
        assert!(
            parse("listen = \"127.0.0.1:1\"\nupstream = \"http://x\"\npresets = [\"mapi\"]")
                .is_err()
        );
        assert!(parse(
            "listen = \"127.0.0.1:1\"\nupstream = \"http://x\"\n[[virtual_directory]]\nprefix = \"/a\"\nclient_certificates = \"maybe\""
        )
        .is_err());
        assert!(
            parse("listen = \"127.0.0.1:1\"\nupstream = \"http://x\"\ntls_key = \"k\"").is_err()
        );
        let without_hosts =
            parse("listen = \"127.0.0.1:1\"\nupstream = \"http://x\"\npreserve_host = true")
                .err()
                .expect("preserve_host without allowed_hosts")
                .to_string();
        assert!(without_hosts.contains("allowed_hosts"), "{without_hosts}");
        assert!(parse(
            "listen = \"127.0.0.1:1\"\nupstream = \"http://x\"\nallowed_hosts = [\"user@mail.example\"]"
        )
        .is_err());
        assert!(parse(
            "listen = \"127.0.0.1:1\"\nupstream = \"http://x\"\npublic_host = \"mail.example/owa\""
        )
        .is_err());
    }
}
