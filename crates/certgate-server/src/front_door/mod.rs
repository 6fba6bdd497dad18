//! The mail front door: an authenticating reverse proxy (the Exchange/IIS role) on its own
//! HTTPS listener. Each request is matched to a virtual directory (`/owa`, `/ecp`,
//! `/Microsoft-Server-ActiveSync`, or any configured prefix); the directory's IIS-style setting
//! (Ignore / Accept / Require, see `certgate_core::front_door`) decides what the client
//! certificate must be; the request goes to the directory's upstream with the mapped identity in
//! configured headers and RFC 9440 `Client-Cert` / `Client-Cert-Chain`, after every copy of
//! those headers the client sent was removed.
//!
//! - The listener always asks for a certificate during the handshake (optionally, with issuer
//!   hints): TLS 1.3 has no renegotiation, so a certificate cannot be asked for later, per
//!   path, as IIS does with TLS 1.2. An Ignore directory disregards what was sent.
//! - A connection's certificate is validated (and mapped) once, then the decision is reused by
//!   the connection's later requests while the validation state's generation is unchanged and
//!   for at most a minute: a CRL refresh that revokes the certificate, or a change to the
//!   directory, takes effect on an open connection at its next request (ActiveSync keeps
//!   connections open for a long time).
//! - Bodies stream both ways (an ActiveSync upload or a long-poll `Ping` of up to 30 minutes is
//!   never buffered), with no total timeout, an idle read timeout of 35 minutes upstream, and
//!   hyper's 30-second limit for reading request headers.
//! - The host a request names (`Host`, or HTTP/2's `:authority`) must be a plain DNS name or
//!   IP address, and one of the published names (`allowed_hosts`, or else `public_host`; 421
//!   otherwise): only such a name reaches the upstream, in `X-Forwarded-Host`, and as `Host`
//!   itself with `preserve_host`, where a mail server builds links and redirects from it. With
//!   no name published no `X-Forwarded-Host` is sent, and `preserve_host` is refused.
//! - `Authorization` reaches the upstream only with `basic_passthrough` and only in the Basic
//!   scheme (`certgate_core::front_door::authorization_forwarded`).
//! - Request headers larger than the directory's limit (default 49,152 bytes, Exchange's
//!   `uploadReadAheadSize` fix) get 413 with a message saying so.

mod certificate;
mod connection;
mod upstream;

use certgate_core::directory::UserLookup;
use certgate_core::DirectoryStore;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_core::front_door::{
    admit, authorization_forwarded, canonical_path, check_allowed_hosts, is_basic_authorization,
    request_host, Admission, CertificateOutcome, ClientCertificates, ForwardedIdentity,
    HostDecision, IdentityHeaders, PublishedHosts, VirtualDirectory,
};
use certgate_core::login_flow::LoginFlowStore;
use certgate_core::signin::{
    check_certificate, correlation_id, AttemptContext, SignInAttempt, SignInError, SignInRecord,
};
use certgate_core::totp::TotpStore;
use certgate_pki::UnixTime;

use crate::certauth::TlsClient;
use crate::refusal::Refusal;
use crate::signin_http::{store_timed_out, SignInContext};
use certificate::*;
use connection::*;
use upstream::*;

/// A virtual directory and where its requests go.
struct Route {
    vdir: VirtualDirectory,
    /// Its upstream, in [`FrontDoor::origins`].
    origin: usize,
    /// The upstream URL's path, put in front of the request's (no trailing `/`).
    base_path: String,
}

/// The front door's state.
pub(crate) struct FrontDoor<S> {
    signin: Arc<SignInContext<S>>,
    routes: Vec<Route>,
    /// The upstreams, each once however many directories it serves.
    origins: Vec<Origin>,
    /// Header names no client may pass on, on any directory: hop-by-hop headers, `Host`
    /// (certgate sets it), other edges' identity and forwarding headers, and every
    /// directory's identity headers, certgate's default names and RFC 9440's, whatever one
    /// directory renamed or turned off (an upstream may trust a name for the whole host).
    dropped_headers: HashSet<HeaderName>,
    /// The host names clients may ask for and that may reach the upstream.
    published_hosts: PublishedHosts,
}

impl<S> FrontDoor<S> {
    /// Reads each upstream and its TLS settings; fails when a directory's settings, upstream or
    /// CA file are unusable, an allowed or public host is not a host name, or a directory
    /// preserves `Host` while no host name is published.
    pub(crate) fn new(
        signin: Arc<SignInContext<S>>,
        virtual_directories: Vec<VirtualDirectory>,
        allowed_hosts: &[String],
        public_host: Option<&str>,
    ) -> Result<FrontDoor<S>, String> {
        let published_hosts =
            check_allowed_hosts(allowed_hosts, public_host, &virtual_directories)?;
        let mut routes = Vec::new();
        let mut origins: Vec<Origin> = Vec::new();
        for vdir in virtual_directories {
            certgate_core::front_door::check_virtual_directory(&vdir)?;
            let ParsedUpstream { origin, base_path } = Origin::parse(
                &vdir.prefix,
                &vdir.upstream,
                vdir.upstream_ca_file.as_deref(),
            )?;
            let origin = match origins.iter().position(|known| known.same_as(&origin)) {
                Some(index) => index,
                None => {
                    origins.push(origin);
                    origins.len() - 1
                }
            };
            routes.push(Route {
                vdir,
                origin,
                base_path,
            });
        }
        if routes.is_empty() {
            return Err("the front door has no virtual directory".into());
        }
        #[allow(
            clippy::mutable_key_type,
            reason = "a HeaderName's buffer is shared through an atomic pointer; its hash and equality are of the name, which never changes"
        )]
        let mut dropped_headers: HashSet<HeaderName> = HOP_BY_HOP
            .iter()
            .chain(OTHER_EDGES_HEADERS)
            .chain(&["host", "forwarded"])
            .copied()
            .map(HeaderName::from_static)
            .collect();
        let defaults = IdentityHeaders::default();
        for names in routes
            .iter()
            .map(|route| route.vdir.identity_headers.protected_names())
            .chain(std::iter::once(defaults.protected_names()))
        {
            for name in names {
                if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                    dropped_headers.insert(name);
                }
            }
        }
        Ok(FrontDoor {
            signin,
            routes,
            origins,
            dropped_headers,
            published_hosts,
        })
    }
}

/// The front door's routes: every path goes through [`proxy`].
pub(crate) fn routes<S>(front_door: Arc<FrontDoor<S>>) -> Router
where
    S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    Router::new().fallback(proxy::<S>).with_state(front_door)
}

/// certgate's own refusal (not the mail server's): it carries certgate's page headers.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    answered(Refusal::new(status, code.to_owned(), message.to_owned()).heading("Access refused"))
}

fn answered(refusal: Refusal) -> Response {
    let mut response = refusal.into_response();
    crate::browser_headers::apply(
        response.headers_mut(),
        crate::browser_headers::Listener::Https,
    );
    response
}

/// The size of the request line and headers as they came (name, value, `: ` and CRLF).
fn request_head_bytes(request: &Request) -> usize {
    let line = request.method().as_str().len()
        + request
            .uri()
            .path_and_query()
            .map_or(1, |p| p.as_str().len())
        + 12;
    line + request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
}

async fn proxy<S>(
    State(front_door): State<Arc<FrontDoor<S>>>,
    Extension(client): Extension<TlsClient>,
    request: Request,
) -> Response
where
    S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    let host = match checked_host(&request, &front_door.published_hosts) {
        Ok(host) => host,
        Err((status, code, message)) => return refusal(status, code, &message),
    };
    let path = match canonical_path(request.uri().path()) {
        Ok(path) => path,
        Err(why) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "front-door-path-refused",
                &format!("This address cannot be used: {why}."),
            )
        }
    };
    let Some((route_index, route)) = longest_route(&front_door.routes, &path) else {
        return refusal(
            StatusCode::NOT_FOUND,
            "front-door-no-route",
            &format!("Nothing is published at {path} on this server."),
        );
    };
    let vdir = &route.vdir;
    let head = request_head_bytes(&request);
    if head > vdir.max_request_header_bytes {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "front-door-headers-too-large",
            &format!(
                "The request's headers are {head} bytes; {} accepts at most {} (Exchange's uploadReadAheadSize). Clear the site's cookies, or ask your administrator to raise max_request_header_bytes.",
                vdir.prefix, vdir.max_request_header_bytes
            ),
        );
    }
    let basic = request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .any(|value| is_basic_authorization(value.as_bytes()));
    let decided = if vdir.client_certificates == ClientCertificates::Ignore {
        Decided::NoCertificate
    } else {
        certificate_outcome(&front_door.signin, &client, vdir, front_door.routes.len()).await
    };
    match admit(vdir, decided.outcome(), basic) {
        Admission::Refuse { code, message } => refusal(StatusCode::FORBIDDEN, &code, &message),
        Admission::Unavailable { message } => answered(Refusal::store_unavailable(&message)),
        Admission::Forward(identity) => {
            let identity = identity.map(|identity| {
                decided.identity_headers(route_index, || {
                    identity_headers(&vdir.identity_headers, identity, &client.chain)
                })
            });
            forward(&front_door, route, &client, identity, &path, host, request).await
        }
    }
}

/// Why a request's host is refused: status, reason code, message.
type HostRefusal = (StatusCode, &'static str, String);

/// The host the client asked for (HTTP/1.1's `Host`, HTTP/2's `:authority`), checked: one,
/// a plain host name or address, and allowed here. `None`: served, but no name is published,
/// so the host is not forwarded.
fn checked_host(
    request: &Request,
    published: &PublishedHosts,
) -> Result<Option<HeaderValue>, HostRefusal> {
    let invalid = |why: &str| -> HostRefusal {
        (
            StatusCode::BAD_REQUEST,
            "front-door-host-invalid",
            format!("The request's host cannot be used: {why}."),
        )
    };
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let host_header = hosts.next().cloned();
    if hosts.next().is_some() {
        return Err(invalid("it names more than one host"));
    }
    let authority = request.uri().authority().map(|a| a.as_str());
    let value = match (host_header, authority) {
        (Some(host), Some(authority))
            if !host.as_bytes().eq_ignore_ascii_case(authority.as_bytes()) =>
        {
            return Err(invalid(
                "its Host header and its target name different hosts",
            ))
        }
        (Some(host), _) => host,
        (None, Some(authority)) => {
            HeaderValue::from_str(authority).map_err(|_| invalid("the host is not text"))?
        }
        (None, None) => return Err(invalid("the request names no host")),
    };
    let name = value
        .to_str()
        .map_err(|_| "the host is not text")
        .and_then(request_host)
        .map_err(invalid)?;
    match published.decide(&name) {
        HostDecision::Published => Ok(Some(value)),
        HostDecision::NotForwarded => Ok(None),
        // RFC 9110 §15.5.20: a name this server does not answer for.
        HostDecision::Refuse { code, message } => {
            Err((StatusCode::MISDIRECTED_REQUEST, code, message.into()))
        }
    }
}

/// The route (and its index) of the longest prefix that contains `path` (as
/// `certgate_core::front_door::select`).
fn longest_route<'a>(routes: &'a [Route], path: &str) -> Option<(usize, &'a Route)> {
    routes
        .iter()
        .enumerate()
        .filter(|(_, route)| route.vdir.contains(path))
        .max_by_key(|(_, route)| route.vdir.prefix.trim_end_matches('/').len())
}
