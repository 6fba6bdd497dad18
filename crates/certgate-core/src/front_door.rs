//! The mail front door (the Exchange/IIS role): virtual directories by path prefix, each with
//! IIS's client-certificate setting, certificate mapping, Basic passthrough, an upstream, and
//! the headers that carry the mapped identity to it. This module holds the rules; the reverse
//! proxy that applies them lives in certgate-server (`front_door`).
//!
//! IIS's `sslFlags` and what they mean here (anchors §1, [I-SSL]):
//! - `Ignore` (no `SslNegotiateCert`): a certificate the client sends is disregarded.
//! - `Accept` (`SslNegotiateCert`): a certificate is used when sent, and must then be valid;
//!   requests without one pass without an identity.
//! - `Require` (`SslNegotiateCert` + `SslRequireCert`): no valid certificate, no request.
//!
//! ActiveSync wants Require: Exchange's own guidance is that Accept does not work across EAS
//! devices (many never send a certificate unless the server insists), and with Accept a device
//! that sent none would fall through to whatever the mail server does without an identity.

use certgate_pki::ReasonCode;

/// IIS's client-certificate setting of a virtual directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientCertificates {
    /// A certificate the client sends is disregarded (IIS: no `SslNegotiateCert`).
    Ignore,
    /// A certificate is used when sent and must then be valid; requests without one pass without an
    /// identity (IIS: `SslNegotiateCert`).
    Accept,
    /// No valid certificate, no request: 403 (IIS: `SslNegotiateCert` + `SslRequireCert`, 403.7).
    /// What ActiveSync needs.
    Require,
}

impl ClientCertificates {
    /// The setting's name in certgate.toml: `ignore`, `accept` or `require`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientCertificates::Ignore => "ignore",
            ClientCertificates::Accept => "accept",
            ClientCertificates::Require => "require",
        }
    }
    /// Reads a setting name, case-insensitively; `None` for anything else.
    pub fn parse(text: &str) -> Option<ClientCertificates> {
        match text.to_ascii_lowercase().as_str() {
            "ignore" => Some(ClientCertificates::Ignore),
            "accept" => Some(ClientCertificates::Accept),
            "require" => Some(ClientCertificates::Require),
            _ => None,
        }
    }
}

/// Which request headers carry the mapped identity to the upstream. `None` = not sent.
/// Whatever the names, the client's own copies of every one of them (and of the RFC 9440
/// headers) are always removed first, so the upstream can trust what it sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityHeaders {
    /// Carries the user's UPN (default `X-Certgate-UPN`).
    pub upn: Option<String>,
    /// Carries the user's mail, when set (default `X-Certgate-Mail`).
    pub mail: Option<String>,
    /// Carries onPremisesImmutableId (default `X-Certgate-Immutable-Id`).
    pub immutable_id: Option<String>,
    /// Carries the certificate's serial, upper-case hex (default `X-Certgate-Certificate-Serial`).
    pub certificate_serial: Option<String>,
    /// Carries the issuing CA's DN, Windows form (default `X-Certgate-Certificate-Issuer`).
    pub certificate_issuer: Option<String>,
    /// Carries the certificate's SHA-1 thumbprint, upper-case hex (default
    /// `X-Certgate-Certificate-Thumbprint`).
    pub certificate_thumbprint: Option<String>,
    /// RFC 9440 `Client-Cert` (the end-entity certificate).
    pub client_cert: bool,
    /// RFC 9440 `Client-Cert-Chain` (the rest of the chain the client sent).
    pub client_cert_chain: bool,
}

/// RFC 9440's header names.
pub const CLIENT_CERT: &str = "client-cert";
/// RFC 9440's `Client-Cert-Chain` header name.
pub const CLIENT_CERT_CHAIN: &str = "client-cert-chain";

impl Default for IdentityHeaders {
    fn default() -> Self {
        IdentityHeaders {
            upn: Some("X-Certgate-UPN".into()),
            mail: Some("X-Certgate-Mail".into()),
            immutable_id: Some("X-Certgate-Immutable-Id".into()),
            certificate_serial: Some("X-Certgate-Certificate-Serial".into()),
            certificate_issuer: Some("X-Certgate-Certificate-Issuer".into()),
            certificate_thumbprint: Some("X-Certgate-Certificate-Thumbprint".into()),
            client_cert: true,
            client_cert_chain: true,
        }
    }
}

impl IdentityHeaders {
    /// Every header name a client must not be able to set, lower-case.
    pub fn protected_names(&self) -> Vec<String> {
        let mut names: Vec<String> = [
            &self.upn,
            &self.mail,
            &self.immutable_id,
            &self.certificate_serial,
            &self.certificate_issuer,
            &self.certificate_thumbprint,
        ]
        .into_iter()
        .flatten()
        .map(|name| name.to_ascii_lowercase())
        .collect();
        names.push(CLIENT_CERT.into());
        names.push(CLIENT_CERT_CHAIN.into());
        names
    }
}

/// Exchange's default `uploadReadAheadSize` fix: request headers up to 48 KiB (anchors §2.10,
/// [X-CBA]: "HTTP 413 is fixed with uploadReadAheadSize=49152").
pub const DEFAULT_MAX_REQUEST_HEADER_BYTES: usize = 49_152;

/// One virtual directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualDirectory {
    /// `/owa`, `/Microsoft-Server-ActiveSync`, ...: matched case-insensitively (as IIS does)
    /// on whole path segments.
    pub prefix: String,
    /// IIS's `sslFlags` for this directory.
    pub client_certificates: ClientCertificates,
    /// Map a certificate to a user and forward the identity. Off: a certificate is still
    /// validated (per `client_certificates`) but no user is looked up or forwarded.
    pub certificate_mapping: bool,
    /// Let HTTP Basic credentials through to the upstream. Off (the default): a request that
    /// carries them is refused, so no password sign-in reaches the mail server behind.
    pub basic_passthrough: bool,
    /// `http://host:port` or `https://host:port` (optionally with a base path) the requests go to.
    pub upstream: String,
    /// PEM file with the CAs that the upstream's HTTPS certificate must chain to; None = the
    /// system's (webpki) roots.
    pub upstream_ca_file: Option<std::path::PathBuf>,
    /// Send the client's `Host` to the upstream (IIS ARR's `preserveHostHeader`) instead of the
    /// upstream's own: for a mail server that builds links and redirects from `Host` (OWA does).
    /// Off (the default): the upstream's `host:port`, the client's in `X-Forwarded-Host`.
    pub preserve_host: bool,
    /// Which headers carry the mapped identity.
    pub identity_headers: IdentityHeaders,
    /// Largest request head accepted, in bytes (Exchange's `uploadReadAheadSize`); larger is
    /// refused with 413.
    pub max_request_header_bytes: usize,
}

/// The virtual directories Exchange's certificate-based authentication guidance sets:
/// `owa`, `ecp` and `Microsoft-Server-ActiveSync`, all Require with mapping on and Basic off.
pub const PRESETS: &[&str] = &["owa", "ecp", "activesync"];

impl VirtualDirectory {
    /// A virtual directory with certgate's defaults: Require, mapping on, Basic off.
    pub fn new(prefix: &str, upstream: &str) -> VirtualDirectory {
        VirtualDirectory {
            prefix: prefix.to_owned(),
            client_certificates: ClientCertificates::Require,
            certificate_mapping: true,
            basic_passthrough: false,
            upstream: upstream.to_owned(),
            upstream_ca_file: None,
            preserve_host: false,
            identity_headers: IdentityHeaders::default(),
            max_request_header_bytes: DEFAULT_MAX_REQUEST_HEADER_BYTES,
        }
    }

    /// `owa`, `ecp` or `activesync` (also `Microsoft-Server-ActiveSync`).
    pub fn preset(name: &str, upstream: &str) -> Option<VirtualDirectory> {
        let prefix = match name.to_ascii_lowercase().as_str() {
            "owa" => "/owa",
            "ecp" => "/ecp",
            "activesync" | "eas" | "microsoft-server-activesync" => "/Microsoft-Server-ActiveSync",
            _ => return None,
        };
        Some(VirtualDirectory::new(prefix, upstream))
    }

    /// Whether `path` is in this virtual directory: the prefix, then the end or a `/`.
    pub fn contains(&self, path: &str) -> bool {
        let prefix = self.prefix.trim_end_matches('/');
        if prefix.is_empty() {
            return true;
        }
        path.len() >= prefix.len()
            && path.is_char_boundary(prefix.len())
            && path[..prefix.len()].eq_ignore_ascii_case(prefix)
            && matches!(path.as_bytes().get(prefix.len()), None | Some(b'/'))
    }
}

/// The one path a request is matched and forwarded with (RFC 3986 §6.2.2), or why it is
/// refused. Without this, the path matched against the virtual directories and the path the
/// upstream acts on could differ: `/autodiscover/../owa/` or `/autodiscover/%2e%2e/owa/` would
/// be judged by `/autodiscover`'s rules and served by `/owa` (the URL layer and IIS both resolve
/// dot segments, encoded or not), and `/%6Fwa/` would dodge the `/owa` rule.
///
/// - Percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, other escapes
///   are kept with upper-case hex; an encoded `/`, `\`, `%` or NUL, a raw `\`, and a malformed
///   escape are refused (they mean different paths to different servers).
/// - Dot segments are resolved; a path that climbs above the root is refused.
/// - Repeated slashes are merged (as nginx's `merge_slashes` and IIS do).
/// - A raw `;` is refused: Java servers (Tomcat, Jetty) cut `;params` off each segment before
///   routing, so `/owa;x/` or `/public/..;/owa/` would be judged by one directory here and served
///   from another there. No Exchange path uses one; `%3B` (kept encoded) is literal everywhere.
pub fn canonical_path(raw: &str) -> Result<String, &'static str> {
    if !raw.starts_with('/') {
        return Err("the path must start with /");
    }
    if raw.contains('\\') {
        return Err("backslashes are not allowed in paths");
    }
    if raw.contains(';') {
        return Err("semicolons (path parameters) are not allowed in paths");
    }
    let bytes = raw.as_bytes();
    let mut decoded = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or("a malformed percent-escape")?;
            let text = std::str::from_utf8(hex).map_err(|_| "a malformed percent-escape")?;
            let value = u8::from_str_radix(text, 16).map_err(|_| "a malformed percent-escape")?;
            if matches!(value, b'/' | b'\\' | b'%' | 0) {
                return Err(
                    "encoded slashes, backslashes, percent signs and NULs are not allowed in paths",
                );
            }
            if value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~') {
                decoded.push(char::from(value));
            } else {
                decoded.push_str(&format!("%{value:02X}"));
            }
            i += 3;
        } else {
            // `raw` is a str, so a multi-byte character is copied whole.
            let c = raw[i..].chars().next().ok_or("a malformed path")?;
            decoded.push(c);
            i += c.len_utf8();
        }
    }
    let trailing_slash = decoded.len() > 1 && decoded.ends_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err("the path climbs above the root");
                }
            }
            other => segments.push(other),
        }
    }
    let mut path = String::with_capacity(decoded.len());
    for segment in &segments {
        path.push('/');
        path.push_str(segment);
    }
    let ends_in_dot = decoded.ends_with("/.") || decoded.ends_with("/..");
    if path.is_empty() || trailing_slash || (ends_in_dot && !segments.is_empty()) {
        path.push('/');
    }
    Ok(path)
}

/// Checks a virtual directory's settings; returns what is wrong, for the configuration error.
pub fn check_virtual_directory(vdir: &VirtualDirectory) -> Result<(), String> {
    if !vdir.prefix.starts_with('/') || vdir.prefix.contains(['?', '#', ' ', '\\']) {
        return Err(format!(
            "the prefix \"{}\" must start with / and contain no ?, #, spaces or backslashes",
            vdir.prefix
        ));
    }
    let scheme_ok = vdir.upstream.starts_with("http://") || vdir.upstream.starts_with("https://");
    if !scheme_ok || vdir.upstream.contains(['?', '#']) {
        return Err(format!(
            "the upstream \"{}\" of {} must be an http:// or https:// URL without query or fragment",
            vdir.upstream, vdir.prefix
        ));
    }
    if vdir.upstream_ca_file.is_some() && !vdir.upstream.starts_with("https://") {
        return Err(format!(
            "{}: an upstream CA file only makes sense for an https:// upstream",
            vdir.prefix
        ));
    }
    for name in vdir.identity_headers.protected_names() {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid {
            return Err(format!(
                "{}: \"{name}\" is not an HTTP header name",
                vdir.prefix
            ));
        }
        if matches!(
            name.as_str(),
            "host"
                | "authorization"
                | "cookie"
                | "content-length"
                | "transfer-encoding"
                | "connection"
        ) {
            return Err(format!(
                "{}: the identity cannot be sent in the {name} header",
                vdir.prefix
            ));
        }
    }
    if !(1024..=1_048_576).contains(&vdir.max_request_header_bytes) {
        return Err(format!(
            "{}: the request-header limit must be between 1 KiB and 1 MiB",
            vdir.prefix
        ));
    }
    Ok(())
}

/// The host name a request names (HTTP/1.1 `Host`, HTTP/2 `:authority`): lower-case, without
/// its port or a trailing dot; or why it is refused. Hand-written rather than taken from
/// `http::uri::Authority`, which accepts user information (`a@b`), empty labels and any
/// printable character in a name: what reaches an upstream that builds links from `Host`
/// (`preserve_host`) must be a plain DNS name or IP address.
pub fn request_host(authority: &str) -> Result<String, &'static str> {
    if authority.is_empty() {
        return Err("the request names no host");
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((literal, after)) = rest.split_once(']') else {
            return Err("the host's IPv6 address is not closed with ]");
        };
        if literal.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("the host's IPv6 address is malformed");
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("the host has text after its address")?,
            ),
        };
        (format!("[{}]", literal.to_ascii_lowercase()), port)
    } else {
        let (name, port) = match authority.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        (dns_name_or_ipv4(name)?, port)
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| p <= 65_535);
        if !valid {
            return Err("the host's port is not a number from 0 to 65535");
        }
    }
    Ok(host)
}

/// A host name of letters, digits and inner hyphens in dot-separated labels of 1 to 63
/// characters (253 in all), or an IPv4 address; lower-case, without a trailing dot.
fn dns_name_or_ipv4(name: &str) -> Result<String, &'static str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err("the host name is empty or longer than 253 characters");
    }
    for label in name.split('.') {
        let valid = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err(
                "the host name may only hold letters, digits and hyphens in dot-separated labels",
            );
        }
    }
    // All-numeric labels read as an IPv4 address: then it must be one, in dotted-quad form
    // (`127.1` or `0x7f.1` mean different hosts to different resolvers).
    let numeric = name
        .split('.')
        .all(|label| label.bytes().all(|b| b.is_ascii_digit()));
    if numeric && name.parse::<std::net::Ipv4Addr>().is_err() {
        return Err("the host is neither a name nor an IPv4 address in dotted-quad form");
    }
    Ok(name.to_ascii_lowercase())
}

/// The host names the front door publishes, in the form [`request_host`] gives: the only names
/// a client's `Host` may carry on to the upstream (`X-Forwarded-Host`, and `Host` itself with
/// `preserve_host`), where a mail server builds links and redirects from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishedHosts {
    /// Empty only when neither `allowed_hosts` nor `public_host` is configured.
    names: Vec<String>,
}

/// What the front door does with the host a request names (already a plain host, see
/// [`request_host`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostDecision {
    /// One of the published names: it may reach the upstream.
    Published,
    /// No name is published (neither `allowed_hosts` nor `public_host` is set): the request is
    /// served, but its host reaches the upstream nowhere (no `X-Forwarded-Host`), so no name
    /// a client makes up ends up in the links the mail server builds.
    NotForwarded,
    /// Another name: 421 Misdirected Request (RFC 9110 §15.5.20), as for a server that does
    /// not answer for that name.
    Refuse {
        /// `front-door-host-not-allowed`.
        code: &'static str,
        /// What the client is told.
        message: &'static str,
    },
}

impl PublishedHosts {
    /// The published names, normalized as [`request_host`] returns them; empty when none is
    /// configured.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Decides the host a request names, as [`request_host`] returns it.
    pub fn decide(&self, host: &str) -> HostDecision {
        if self.names.is_empty() {
            HostDecision::NotForwarded
        } else if self.names.iter().any(|name| name == host) {
            HostDecision::Published
        } else {
            HostDecision::Refuse {
                code: "front-door-host-not-allowed",
                message: "This server does not publish the host name the request was sent to. Use the address your administrator gave you.",
            }
        }
    }
}

/// The front door's published host names, or what is wrong: `allowed_hosts` when set,
/// otherwise `public_host` alone (the name devices are given), otherwise none. Refused: a name
/// that is not a plain host, or a directory that sends the client's `Host` upstream
/// (`preserve_host`) while no name is published, which would let any name a client makes up
/// reach the mail server as its own.
pub fn check_allowed_hosts(
    allowed: &[String],
    public_host: Option<&str>,
    vdirs: &[VirtualDirectory],
) -> Result<PublishedHosts, String> {
    let mut names = allowed
        .iter()
        .map(|name| request_host(name).map_err(|why| format!("the allowed host \"{name}\": {why}")))
        .collect::<Result<Vec<_>, _>>()?;
    if names.is_empty() {
        if let Some(public_host) = public_host {
            names.push(
                request_host(public_host)
                    .map_err(|why| format!("the public host \"{public_host}\": {why}"))?,
            );
        }
    }
    if names.is_empty() {
        if let Some(vdir) = vdirs.iter().find(|v| v.preserve_host) {
            return Err(format!(
                "{} has preserve_host, which sends the client's Host to the mail server: list the host names clients use in [front_door] allowed_hosts (or set public_host), so no other name reaches it",
                vdir.prefix
            ));
        }
    }
    Ok(PublishedHosts { names })
}

/// Whether one `Authorization` header value may be passed to the upstream of `vdir`: only the
/// `Basic` scheme (RFC 7617), and only with `basic_passthrough`. Every other scheme stays at
/// the door: NTLM and Negotiate authenticate the TCP connection rather than the request, and
/// the front door's upstream connections are pooled and shared between users, so one user's
/// handshake would sign in the next user's requests; a Bearer token is a credential the
/// directory was not configured to pass.
pub fn authorization_forwarded(vdir: &VirtualDirectory, value: &[u8]) -> bool {
    vdir.basic_passthrough && is_basic_authorization(value)
}

/// Whether an `Authorization` value uses the `Basic` scheme (scheme names are
/// case-insensitive, RFC 9110 §11.1).
pub fn is_basic_authorization(value: &[u8]) -> bool {
    let value = value.trim_ascii_start();
    value
        .get(..6)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"basic "))
}

/// The virtual directory a path belongs to: the longest matching prefix.
pub fn select<'a>(vdirs: &'a [VirtualDirectory], path: &str) -> Option<&'a VirtualDirectory> {
    vdirs
        .iter()
        .filter(|vdir| vdir.contains(path))
        .max_by_key(|vdir| vdir.prefix.trim_end_matches('/').len())
}

/// What the certificate step decided for a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateOutcome {
    /// The client sent no certificate.
    None,
    /// Valid, and (when mapping ran) the user it maps to.
    Valid(Option<ForwardedIdentity>),
    /// Invalid or unmapped: the sign-in's reason code and message.
    Refused {
        /// The sign-in's reason code.
        code: String,
        /// The sign-in's message, for the person.
        message: String,
    },
    /// Not decided: the store did not answer (`store-unavailable`). Never remembered for the
    /// connection: the next request asks again.
    Unavailable {
        /// What failed, for the log and the 503 page.
        message: String,
    },
}

/// The identity forwarded to the upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedIdentity {
    /// The user's UPN.
    pub upn: String,
    /// The user's mail, when set.
    pub mail: Option<String>,
    /// The user's onPremisesImmutableId.
    pub immutable_id: String,
    /// Upper-case hex.
    pub certificate_serial: String,
    /// Windows order (`CN=…, O=…`).
    pub certificate_issuer: String,
    /// SHA-1, upper-case hex (what Windows and IIS call the thumbprint).
    pub certificate_thumbprint: String,
}

/// What the front door does with a request. The identity is borrowed from the certificate
/// outcome: a connection's requests reuse one outcome, and a keep-alive request should not
/// copy the identity it forwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission<'a> {
    /// Forward, with this identity (None: no identity headers).
    Forward(Option<&'a ForwardedIdentity>),
    /// Refuse (the HTTP layer answers 403 Forbidden, as IIS does) with this reason code and
    /// message.
    Refuse {
        /// Reason code, one of [`CODES`] or the refused sign-in's.
        code: String,
        /// What the client is told.
        message: String,
    },
    /// The certificate could not be decided because the store did not answer: 503
    /// `store-unavailable`, never forwarded.
    Unavailable {
        /// What failed, for the log and the 503 page.
        message: String,
    },
}

/// The codes [`admit`] and [`PublishedHosts::decide`] refuse a request with (a refused
/// certificate passes on the sign-in's own code, listed with its type).
pub const CODES: &[ReasonCode] = &[
    ReasonCode::new(
        "front-door-host-not-allowed",
        "The request named a host (Host or :authority) the front door does not publish (`[front_door] allowed_hosts`, else `public_host`); it was refused with 421.",
        "Use the address your administrator gave you. Administrators: add the host name clients use to `[front_door] allowed_hosts`.",
    ),
    ReasonCode::new(
        "front-door-basic-disabled",
        "The request carried HTTP Basic (password) credentials to a virtual directory without `basic_passthrough`, so no password reaches the mail server; it was refused with 403.",
        "Set up your mail app to sign in with your certificate instead of a password. Administrators: set `basic_passthrough = true` on the virtual directory only if passwords must reach the mail server.",
    ),
    ReasonCode::new(
        "front-door-certificate-required",
        "The virtual directory requires a client certificate (`client_certificates = require`) and the device or browser sent none; it was refused with 403 (IIS's 403.7).",
        "Choose your certificate when your device or browser asks for one; if it never asks, install your certificate and try again, or ask your administrator for one.",
    ),
];

/// Decides a request from the virtual directory's settings, the certificate outcome and
/// whether it carries HTTP Basic credentials.
pub fn admit<'a>(
    vdir: &VirtualDirectory,
    certificate: &'a CertificateOutcome,
    basic: bool,
) -> Admission<'a> {
    if basic && !vdir.basic_passthrough {
        return Admission::Refuse {
            code: "front-door-basic-disabled".into(),
            message: format!(
                "Password sign-in (HTTP Basic) is turned off for {}: sign in with your certificate.",
                vdir.prefix
            ),
        };
    }
    match (vdir.client_certificates, certificate) {
        (ClientCertificates::Ignore, _) => Admission::Forward(None),
        (ClientCertificates::Accept, CertificateOutcome::None) => Admission::Forward(None),
        (ClientCertificates::Require, CertificateOutcome::None) => Admission::Refuse {
            code: "front-door-certificate-required".into(),
            message: format!(
                "{} requires a client certificate and your device or browser sent none. Choose your certificate when asked, or ask your administrator for one (403.7).",
                vdir.prefix
            ),
        },
        (_, CertificateOutcome::Unavailable { message }) => Admission::Unavailable {
            message: message.clone(),
        },
        (_, CertificateOutcome::Refused { code, message }) => Admission::Refuse {
            code: code.clone(),
            message: message.clone(),
        },
        (_, CertificateOutcome::Valid(identity)) => Admission::Forward(if vdir.certificate_mapping {
            identity.as_ref()
        } else {
            None
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ForwardedIdentity {
        ForwardedIdentity {
            upn: "alice@corp.example".into(),
            mail: None,
            immutable_id: "x".into(),
            certificate_serial: "01".into(),
            certificate_issuer: "CN=CA".into(),
            certificate_thumbprint: "AB".into(),
        }
    }

    #[test]
    fn request_host_accepts_names_and_addresses_with_ports_and_normalizes_them() {
        for (authority, host) in [
            ("mail.contoso.example", "mail.contoso.example"),
            ("Mail.Contoso.Example.:443", "mail.contoso.example"),
            ("localhost:8443", "localhost"),
            ("127.0.0.1", "127.0.0.1"),
            ("[::1]:443", "[::1]"),
            ("[FE80::1]", "[fe80::1]"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ] {
            assert_eq!(request_host(authority).as_deref(), Ok(host), "{authority}");
        }
    }

    #[test]
    fn request_host_refuses_what_is_not_a_plain_host() {
        for authority in [
            "",
            "user@mail.contoso.example",
            "mail.contoso.example:",
            "mail.contoso.example:65536",
            "mail.contoso.example:+443",
            "mail..contoso.example",
            ".contoso.example",
            "mail_contoso.example",
            "-mail.contoso.example",
            "mail.contoso.example/owa",
            "evil.example#.contoso.example",
            "mail contoso",
            "127.1",
            "999.0.0.1",
            "[::1",
            "[::1]x",
            "[not-an-address]",
            "::1",
        ] {
            assert!(request_host(authority).is_err(), "{authority:?}");
        }
    }

    #[test]
    fn preserve_host_needs_published_hosts_and_allowed_hosts_are_normalized() {
        let mut legacy = VirtualDirectory::new("/legacy", "http://127.0.0.1:1");
        assert_eq!(
            check_allowed_hosts(&[], None, &[legacy.clone()]),
            Ok(PublishedHosts::default())
        );
        legacy.preserve_host = true;
        let refused = check_allowed_hosts(&[], None, &[legacy.clone()]).unwrap_err();
        assert!(
            refused.contains("/legacy") && refused.contains("allowed_hosts"),
            "{refused}"
        );
        assert_eq!(
            check_allowed_hosts(&["Mail.Contoso.Example.".into()], None, &[legacy.clone()])
                .map(|hosts| hosts.names().to_vec()),
            Ok(vec!["mail.contoso.example".to_owned()])
        );
        // public_host alone publishes that one name, so preserve_host is safe with it.
        assert_eq!(
            check_allowed_hosts(&[], Some("Mail.Contoso.Example:443"), &[legacy.clone()])
                .map(|hosts| hosts.names().to_vec()),
            Ok(vec!["mail.contoso.example".to_owned()])
        );
        assert!(
            check_allowed_hosts(&["user@mail.example".into()], None, &[legacy.clone()]).is_err()
        );
        assert!(check_allowed_hosts(&[], Some("mail.example/owa"), &[legacy]).is_err());
    }

    #[test]
    fn only_published_hosts_are_forwarded() {
        let refused = |decision: HostDecision| matches!(decision, HostDecision::Refuse { code, .. } if code == "front-door-host-not-allowed");
        // allowed_hosts wins over public_host.
        let allowed = check_allowed_hosts(
            &[
                "mail.contoso.example".into(),
                "autodiscover.contoso.example".into(),
            ],
            Some("owa.contoso.example"),
            &[],
        )
        .unwrap();
        assert_eq!(
            allowed.decide("mail.contoso.example"),
            HostDecision::Published
        );
        assert_eq!(
            allowed.decide("autodiscover.contoso.example"),
            HostDecision::Published
        );
        assert!(refused(allowed.decide("owa.contoso.example")));
        assert!(refused(allowed.decide("evil.example")));
        // Without allowed_hosts, public_host is the only host.
        let public = check_allowed_hosts(&[], Some("mail.contoso.example"), &[]).unwrap();
        assert_eq!(
            public.decide("mail.contoso.example"),
            HostDecision::Published
        );
        assert!(refused(public.decide("evil.example")));
        // Neither: any plain host is served, none is forwarded.
        let none = check_allowed_hosts(&[], None, &[]).unwrap();
        assert_eq!(none.decide("evil.example"), HostDecision::NotForwarded);
    }

    #[test]
    fn only_basic_authorization_passes_and_only_with_basic_passthrough() {
        let mut vdir = VirtualDirectory::new("/legacy", "http://127.0.0.1:1");
        let basic = b"Basic YWxpY2U6cGFzc3dvcmQ=";
        assert!(!authorization_forwarded(&vdir, basic));
        vdir.basic_passthrough = true;
        assert!(authorization_forwarded(&vdir, basic));
        assert!(authorization_forwarded(
            &vdir,
            b"  bAsIc YWxpY2U6cGFzc3dvcmQ="
        ));
        for other in [
            &b"NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAO1FAAAADw=="[..],
            b"Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag",
            b"Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig",
            b"Basicfoo",
            b"Basic",
            b"",
        ] {
            assert!(
                !authorization_forwarded(&vdir, other),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn prefixes_match_whole_segments_case_insensitively_and_the_longest_wins() {
        let vdirs = vec![
            VirtualDirectory::preset("owa", "http://127.0.0.1:1").unwrap(),
            VirtualDirectory::new("/owa/calendar", "http://127.0.0.1:2"),
            VirtualDirectory::preset("activesync", "http://127.0.0.1:3").unwrap(),
        ];
        assert_eq!(
            select(&vdirs, "/owa").unwrap().upstream,
            "http://127.0.0.1:1"
        );
        assert_eq!(
            select(&vdirs, "/OWA/").unwrap().upstream,
            "http://127.0.0.1:1"
        );
        assert_eq!(
            select(&vdirs, "/owa/calendar/x").unwrap().upstream,
            "http://127.0.0.1:2"
        );
        assert!(select(&vdirs, "/owafoo").is_none());
        assert!(select(&vdirs, "/").is_none());
        assert_eq!(
            select(&vdirs, "/microsoft-server-activesync?Cmd=Ping").map(|v| v.upstream.as_str()),
            None,
            "the query is not part of the path"
        );
        assert_eq!(
            select(&vdirs, "/Microsoft-Server-ActiveSync")
                .unwrap()
                .upstream,
            "http://127.0.0.1:3"
        );
        assert!(select(&vdirs, "/é").is_none());
    }

    #[test]
    fn admission_follows_iis_ssl_flags() {
        let mut vdir = VirtualDirectory::new("/owa", "http://127.0.0.1:1");
        let refused = CertificateOutcome::Refused {
            code: "cert-revoked".into(),
            message: "revoked".into(),
        };
        let valid = CertificateOutcome::Valid(Some(identity()));
        // Require.
        assert!(matches!(admit(&vdir, &CertificateOutcome::None, false),
            Admission::Refuse { ref code, .. } if code == "front-door-certificate-required"));
        assert!(matches!(admit(&vdir, &refused, false),
            Admission::Refuse { ref code, .. } if code == "cert-revoked"));
        assert_eq!(
            admit(&vdir, &valid, false),
            Admission::Forward(Some(&identity()))
        );
        // Basic is refused unless enabled, whatever the certificate.
        assert!(matches!(admit(&vdir, &valid, true),
            Admission::Refuse { ref code, .. } if code == "front-door-basic-disabled"));
        // Accept: no certificate passes without identity; a bad one is still refused.
        vdir.client_certificates = ClientCertificates::Accept;
        assert_eq!(
            admit(&vdir, &CertificateOutcome::None, false),
            Admission::Forward(None)
        );
        assert!(matches!(
            admit(&vdir, &refused, false),
            Admission::Refuse { .. }
        ));
        vdir.basic_passthrough = true;
        assert_eq!(
            admit(&vdir, &CertificateOutcome::None, true),
            Admission::Forward(None)
        );
        // Mapping off: valid certificates pass, no identity.
        vdir.certificate_mapping = false;
        assert_eq!(admit(&vdir, &valid, false), Admission::Forward(None));
        // Ignore: nothing about the certificate matters.
        vdir.client_certificates = ClientCertificates::Ignore;
        assert_eq!(admit(&vdir, &refused, false), Admission::Forward(None));
    }

    #[test]
    fn paths_are_canonical_before_matching() {
        let ok = |raw: &str| canonical_path(raw).unwrap();
        assert_eq!(ok("/owa/"), "/owa/");
        assert_eq!(ok("/owa"), "/owa");
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("/autodiscover/../owa/"), "/owa/");
        assert_eq!(ok("/autodiscover/%2e%2E/owa/"), "/owa/");
        assert_eq!(
            ok("/autodiscover/.%2e/Microsoft-Server-ActiveSync"),
            "/Microsoft-Server-ActiveSync"
        );
        assert_eq!(ok("/%6Fwa/inbox"), "/owa/inbox");
        assert_eq!(ok("//owa///x"), "/owa/x");
        assert_eq!(ok("/owa/./x/."), "/owa/x/");
        assert_eq!(ok("/owa/x/.."), "/owa/");
        assert_eq!(ok("/owa/a%20b%c3%a9"), "/owa/a%20b%C3%A9");
        assert_eq!(
            ok("/owa/a%3bb"),
            "/owa/a%3Bb",
            "an encoded ; is data, kept encoded"
        );
        for bad in [
            "owa",
            "/../owa",
            "/owa/../../ecp",
            "/owa%2f..%2fecp",
            "/owa%5cx",
            "/owa\\..\\ecp",
            "/owa/%25",
            "/owa/%00",
            "/owa/%zz",
            "/owa/%4",
            "/owa;x/inbox",
            "/public/..;/owa/",
        ] {
            assert!(canonical_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_are_checked() {
        let mut vdir = VirtualDirectory::new("/owa", "http://127.0.0.1:1");
        assert!(check_virtual_directory(&vdir).is_ok());
        vdir.identity_headers.upn = Some("Authorization".into());
        assert!(check_virtual_directory(&vdir).is_err());
        vdir.identity_headers.upn = Some("X Bad".into());
        assert!(check_virtual_directory(&vdir).is_err());
        vdir.identity_headers.upn = None;
        vdir.upstream = "ftp://x".into();
        assert!(check_virtual_directory(&vdir).is_err());
        vdir.upstream = "http://x".into();
        vdir.prefix = "owa".into();
        assert!(check_virtual_directory(&vdir).is_err());
        let protected = IdentityHeaders::default().protected_names();
        assert!(protected.contains(&"x-certgate-upn".to_owned()));
        assert!(protected.contains(&"client-cert-chain".to_owned()));
    }
}
