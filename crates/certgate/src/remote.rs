//! Remote mode: `certgate --server https://host:port --token TOKEN ca|user|crl|signins|...`
//! drives a running server through its admin API instead of the local store. The commands
//! read the API's resources (certgate-server's `admin_api::resource`, the same types the
//! server writes) and print them exactly as the local commands do.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use certgate_server::admin_api::resource::ErrorBody;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::GlobalArgs;

/// An admin token on the command line or in CERTGATE_TOKEN; never printed.
#[derive(Clone)]
pub(crate) struct Token(String);

impl FromStr for Token {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("an admin token is one word (from `certgate admin token create`)".into());
        }
        Ok(Token(text.to_owned()))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// What the server refused, with its stable code (printed as the local commands print a
/// refusal).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) code: String,
    pub(crate) message: String,
}

/// A connection to a server's admin API.
pub(crate) struct Remote {
    client: reqwest::Client,
    /// `https://host:port/api/v1`
    base: String,
    token: Token,
}

/// A request's outcome: the resource, a refusal to print, or a failure to reach or
/// understand the server (an error that ends the command).
pub(crate) type Answer<T> = anyhow::Result<Result<T, Refusal>>;

impl GlobalArgs {
    /// The server to drive, when `--server` (CERTGATE_SERVER) is given.
    pub(crate) fn remote(&self) -> anyhow::Result<Option<Remote>> {
        let Some(server) = &self.server else {
            return Ok(None);
        };
        let Some(token) = self.token.clone() else {
            bail!("--server needs an admin token: --token TOKEN or, better (a flag shows in `ps` and the shell's history), CERTGATE_TOKEN; `certgate admin token create --name NAME` on the server makes one");
        };
        Remote::new(server, token, self.server_ca.as_deref()).map(Some)
    }
}

/// `https://...`, or `http://` to a loopback address only: the token must not cross a
/// network in the clear.
fn check_server_url(server: &str) -> anyhow::Result<(String, bool)> {
    let trimmed = server.trim().trim_end_matches('/');
    let lower = trimmed.to_ascii_lowercase();
    let (rest, https) = if let Some(rest) = lower.strip_prefix("https://") {
        (rest, true)
    } else if let Some(rest) = lower.strip_prefix("http://") {
        (rest, false)
    } else {
        bail!("--server \"{server}\" is not an https:// URL (https://host:port)");
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        bail!("--server \"{server}\" has no host");
    }
    let loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
    if !https && !loopback {
        bail!("--server \"{server}\" is plain http to another machine: the admin token would cross the network in the clear; use https://");
    }
    Ok((trimmed.to_owned(), loopback))
}

impl Remote {
    fn new(server: &str, token: Token, server_ca: Option<&Path>) -> anyhow::Result<Remote> {
        let (server, loopback) = check_server_url(server)?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("certgate-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // A CRL refresh of many CAs takes a while; the server bounds each download.
            .timeout(Duration::from_secs(600));
        if loopback {
            builder = builder.no_proxy();
        }
        if let Some(path) = server_ca {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let roots = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} is not a PEM certificate bundle", path.display()))?;
            if roots.is_empty() {
                bail!("{} holds no PEM certificate", path.display());
            }
            // Only this CA: a private server certificate must not be vouched for by anyone else.
            builder = builder.tls_certs_only(roots);
        }
        let client = builder
            .build()
            .context("setting up the HTTPS client failed")?;
        Ok(Remote {
            client,
            base: format!("{server}/api/v1"),
            token,
        })
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Answer<T> {
        self.send::<(), T>(Method::GET, path, None).await
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> Answer<T> {
        self.send(Method::POST, path, body).await
    }

    pub(crate) async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Answer<T> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub(crate) async fn delete<T: DeserializeOwned>(&self, path: &str) -> Answer<T> {
        self.send::<(), T>(Method::DELETE, path, None).await
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Answer<T> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(&self.token.0)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body)?);
        }
        let response = request
            .send()
            .await
            .map_err(|error| anyhow::anyhow!("{method} {url}: {}", error_chain(&error)))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("{method} {url}: reading the answer"))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map(Ok).with_context(|| {
                format!(
                    "{method} {url}: the answer is not what this certgate expects (is the server the same version?)"
                )
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Ok(Err(Refusal {
                code: body.error.code,
                message: body.error.message,
            })),
            Err(_) if status == StatusCode::NOT_FOUND => bail!(
                "{method} {url}: 404 without an admin API answer; is {} a certgate server with the admin API?",
                self.base
            ),
            Err(_) => bail!(
                "{method} {url}: {status}: {}",
                String::from_utf8_lossy(&bytes).chars().take(300).collect::<String>()
            ),
        }
    }
}

/// Why a command has no remote mode; `None` when it has one.
pub(crate) fn why_not(command: &crate::Command) -> Option<&'static str> {
    use crate::Command;
    match command {
        Command::Ca(_)
        | Command::Crl(_)
        | Command::Signins(_)
        | Command::User(_)
        | Command::Binding(_)
        | Command::Strength(_)
        | Command::Audit(_)
        | Command::Rp(_)
        | Command::Federation(_) => None,
        Command::Pki(pki) => pki.why_not_remote(),
        Command::Verify(_) => Some("`verify` checks certificates on this machine (with --store, against the local store) and changes nothing"),
        Command::Serve(_) => Some("`serve` runs the server here"),
        Command::Directory(_) => Some("`directory` reads the directory source with the bind password of this machine's configuration; run it on a certgate node"),
        Command::Admin(_) => Some("admin tokens are made on the server's machine, from its store: no token can make tokens, so a stolen one cannot make itself others"),
        Command::Client(_) => Some("`client` does not drive the admin API's /api/v1/applications yet; run it on the server's machine, or call the API"),
        Command::Est(_) => Some("EST enrollment codes are made on the server's machine: the admin API has no route for them"),
        Command::Device(_) => Some("`device profile` writes the device's private key here; ask the server for the profile with POST /api/v1/users/{upn}/deviceProfiles instead"),
    }
}

/// An error with its sources (reqwest's top-level message rarely says what went wrong).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Percent-encodes a path segment (a UPN's `@` stays; anything that could end the segment
/// does not).
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@!$&'()*+,;=:".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes a query value.
pub(crate) fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@:".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_travels_in_clear_text_off_the_machine() {
        assert!(check_server_url("https://certgate.contoso.example:8443").is_ok());
        assert!(check_server_url("http://127.0.0.1:8080/").is_ok());
        assert!(check_server_url("http://localhost:8080").is_ok());
        assert!(check_server_url("http://[::1]:8080").is_ok());
        assert!(check_server_url("http://certgate.contoso.example").is_err());
        assert!(check_server_url("ftp://x").is_err());
        assert!(check_server_url("https://").is_err());
        assert_eq!(
            check_server_url("https://h:1/").expect("url").0,
            "https://h:1"
        );
    }

    #[test]
    fn path_segments_and_query_values_are_escaped() {
        assert_eq!(segment("alice@contoso.example"), "alice@contoso.example");
        assert_eq!(segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        assert_eq!(
            query_value("2026-01-01T00:00:00+01:00"),
            "2026-01-01T00:00:00%2B01:00"
        );
        assert_eq!(
            format!("{:?}", Token::from_str("cgadm_x").expect("token")),
            "Token(..)"
        );
    }
}
