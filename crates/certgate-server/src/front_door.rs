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

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_core::binding::UserLookup;
use certgate_core::directory::DirectoryStore;
use certgate_core::front_door::{
    admit, authorization_forwarded, canonical_path, check_allowed_hosts, is_basic_authorization,
    request_host, Admission, CertificateOutcome, ClientCertificates, ForwardedIdentity,
    HostDecision, IdentityHeaders, PublishedHosts, VirtualDirectory,
};
use certgate_core::login_flow::LoginFlowStore;
use certgate_core::signin::{
    attempt_sign_in, check_certificate, correlation_id, AttemptContext, SignInAttempt, SignInError,
    SignInRecord,
};
use certgate_core::totp::TotpStore;
use certgate_pki::UnixTime;

use crate::certauth::TlsClient;
use crate::refusal::Refusal;
use crate::signin_http::{store_timed_out, SignInContext};

/// How long a connection's certificate decision is reused at most, even when nothing changed:
/// bounds how late a change in the directory (a disabled user) reaches an open connection.
const DECISION_MAX_AGE_SECONDS: i64 = 60;
/// Idle time between two reads from the upstream before the request fails: longer than the
/// longest ActiveSync `Ping` (Exchange allows heartbeats up to 59 minutes; devices use 30).
const UPSTREAM_READ_TIMEOUT: Duration = Duration::from_secs(35 * 60);
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded in either direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers other edges use to pass a client certificate, a user, the client's address or a
/// rewritten URL to the server behind (IIS ARR, common nginx and Apache setups, Azure App
/// Service authentication). An application moved behind certgate may still trust them, so a
/// client's copies never reach the upstream; certgate sends its own identity under its own
/// names.
const OTHER_EDGES_HEADERS: &[&str] = &[
    "x-arr-clientcert",
    "x-arr-ssl",
    "x-client-cert",
    "x-client-cert-chain",
    "x-client-verify",
    "x-ssl-client-cert",
    "x-ssl-client-dn",
    "x-ssl-client-verify",
    "ssl-client-cert",
    "ssl-client-verify",
    "x-ms-client-principal",
    "x-ms-client-principal-id",
    "x-ms-client-principal-name",
    "x-ms-client-principal-idp",
    "x-remote-user",
    "remote-user",
    "x-original-url",
    "x-rewrite-url",
    "x-original-uri",
    "x-original-host",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
];

/// A virtual directory with its upstream client.
struct Route {
    vdir: VirtualDirectory,
    upstream: reqwest::Url,
    client: reqwest::Client,
}

/// The front door's state.
pub struct FrontDoor<S> {
    signin: Arc<SignInContext<S>>,
    routes: Vec<Route>,
    /// Header names no client may set, on any directory: every directory's identity headers,
    /// certgate's default names and RFC 9440's, whatever one directory renamed or turned off
    /// (an upstream may trust a name for the whole host).
    protected: Vec<HeaderName>,
    /// The host names clients may ask for and that may reach the upstream.
    published_hosts: PublishedHosts,
}

impl<S> FrontDoor<S> {
    /// Builds the upstream clients; fails when a directory's settings or CA file are unusable,
    /// an allowed or public host is not a host name, or a directory preserves `Host` while no
    /// host name is published.
    pub fn new(
        signin: Arc<SignInContext<S>>,
        virtual_directories: Vec<VirtualDirectory>,
        allowed_hosts: &[String],
        public_host: Option<&str>,
    ) -> Result<FrontDoor<S>, String> {
        let published_hosts =
            check_allowed_hosts(allowed_hosts, public_host, &virtual_directories)?;
        let mut routes = Vec::new();
        for vdir in virtual_directories {
            certgate_core::front_door::check_virtual_directory(&vdir)?;
            let upstream = reqwest::Url::parse(&vdir.upstream)
                .map_err(|e| format!("{}: the upstream {}: {e}", vdir.prefix, vdir.upstream))?;
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(UPSTREAM_CONNECT_TIMEOUT)
                .read_timeout(UPSTREAM_READ_TIMEOUT)
                .no_proxy();
            if let Some(path) = &vdir.upstream_ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    format!(
                        "{}: reading the upstream CA file {}: {e}",
                        vdir.prefix,
                        path.display()
                    )
                })?;
                let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    format!(
                        "{}: the upstream CA file {}: {e}",
                        vdir.prefix,
                        path.display()
                    )
                })?;
                if certificates.is_empty() {
                    return Err(format!(
                        "{}: the upstream CA file {} holds no certificate",
                        vdir.prefix,
                        path.display()
                    ));
                }
                builder = builder.tls_certs_only(certificates);
            }
            let client = builder
                .build()
                .map_err(|e| format!("{}: the upstream client: {e}", vdir.prefix))?;
            routes.push(Route {
                vdir,
                upstream,
                client,
            });
        }
        if routes.is_empty() {
            return Err("the front door has no virtual directory".into());
        }
        let mut protected: Vec<HeaderName> = Vec::new();
        let defaults = IdentityHeaders::default();
        for names in routes
            .iter()
            .map(|route| route.vdir.identity_headers.protected_names())
            .chain(std::iter::once(defaults.protected_names()))
        {
            for name in names {
                if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                    if !protected.contains(&name) {
                        protected.push(name);
                    }
                }
            }
        }
        Ok(FrontDoor {
            signin,
            routes,
            protected,
            published_hosts,
        })
    }
}

/// The front door's routes: every path goes through [`proxy`].
pub fn routes<S>(front_door: Arc<FrontDoor<S>>) -> Router
where
    S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    Router::new().fallback(proxy::<S>).with_state(front_door)
}

/// What one connection's certificate came to, kept in its [`crate::certauth::ConnectionMemo`].
struct ConnectionDecision {
    generation: i64,
    decided_at: UnixTime,
    /// Validation only (for directories with mapping off).
    validated: Option<CertificateOutcome>,
    /// Validation and mapping.
    mapped: Option<CertificateOutcome>,
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
    let Some(route) = longest_route(&front_door.routes, &path) else {
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
    let outcome = if vdir.client_certificates == ClientCertificates::Ignore {
        CertificateOutcome::None
    } else {
        certificate_outcome(&front_door.signin, &client, vdir).await
    };
    match admit(vdir, &outcome, basic) {
        Admission::Refuse { code, message } => refusal(StatusCode::FORBIDDEN, &code, &message),
        Admission::Unavailable { message } => answered(Refusal::store_unavailable(&message)),
        Admission::Forward(identity) => {
            forward(
                route,
                &front_door.protected,
                &client,
                identity.as_ref(),
                &path,
                host,
                request,
            )
            .await
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

/// The route of the longest prefix that contains `path` (as `certgate_core::front_door::select`).
fn longest_route<'a>(routes: &'a [Route], path: &str) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|route| route.vdir.contains(path))
        .max_by_key(|route| route.vdir.prefix.trim_end_matches('/').len())
}

/// The connection's certificate outcome for `vdir`: from the connection's memo while it is
/// current, else validated (and mapped when the directory maps) now and recorded in the
/// sign-in log.
async fn certificate_outcome<S>(
    signin: &SignInContext<S>,
    client: &TlsClient,
    vdir: &VirtualDirectory,
) -> CertificateOutcome
where
    S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    if client.chain.is_empty() {
        return CertificateOutcome::None;
    }
    let state = signin.state.load();
    let now = signin.clock.now();
    let memo = client.memo.get::<ConnectionDecision>();
    let current = memo.as_ref().filter(|d| {
        d.generation == state.generation() && now.0 - d.decided_at.0 < DECISION_MAX_AGE_SECONDS
    });
    let cached = current.and_then(|d| {
        if vdir.certificate_mapping {
            d.mapped.clone()
        } else {
            d.validated.clone().or_else(|| {
                // A mapped success implies a valid certificate.
                d.mapped
                    .clone()
                    .filter(|o| matches!(o, CertificateOutcome::Valid(_)))
                    .map(|_| CertificateOutcome::Valid(None))
            })
        }
    });
    if let Some(outcome) = cached {
        return outcome;
    }
    let outcome = decide(signin, client, vdir, &state, now).await;
    if matches!(outcome, CertificateOutcome::Unavailable { .. }) {
        // Not a decision about the certificate: the next request asks again.
        return outcome;
    }
    let (mut validated, mut mapped) = current
        .map(|d| (d.validated.clone(), d.mapped.clone()))
        .unwrap_or((None, None));
    if vdir.certificate_mapping {
        mapped = Some(outcome.clone());
    } else {
        validated = Some(outcome.clone());
    }
    client.memo.set(Arc::new(ConnectionDecision {
        generation: state.generation(),
        decided_at: current.map_or(now, |d| d.decided_at),
        validated,
        mapped,
    }));
    outcome
}

/// Validates (and maps) the connection's certificate and records the attempt.
async fn decide<S>(
    signin: &SignInContext<S>,
    client: &TlsClient,
    vdir: &VirtualDirectory,
    state: &certgate_core::validation_state::ValidationState,
    now: UnixTime,
) -> CertificateOutcome
where
    S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    let correlation = correlation_id();
    let application = format!("front-door:{}", vdir.prefix);
    let context = AttemptContext {
        at: now,
        correlation_id: &correlation,
        client_address: client.address.ip(),
        application: &application,
    };
    // Everything this asks the store, the record included, within one store timeout.
    let deadline = tokio::time::Instant::now() + signin.store_timeout;
    let (outcome, record) = if vdir.certificate_mapping {
        let SignInAttempt { decision, record } = tokio::time::timeout_at(deadline, async {
            match signin.rules(state.generation()).await {
                Ok(rules) => {
                    attempt_sign_in(state, &client.chain, &rules, &*signin.directory, context).await
                }
                Err(error) => {
                    SignInAttempt::refused(context, &client.chain, SignInError::Store(error))
                }
            }
        })
        .await
        .unwrap_or_else(|_| {
            SignInAttempt::refused(
                context,
                &client.chain,
                SignInError::Store(store_timed_out(signin.store_timeout)),
            )
        });
        let outcome = match decision {
            Ok(signed_in) => {
                let user = &signed_in.binding.user;
                CertificateOutcome::Valid(Some(ForwardedIdentity {
                    upn: user.upn.to_string(),
                    mail: user.mail.clone(),
                    immutable_id: user.immutable_id.clone(),
                    certificate_serial: signed_in.certificate.serial.to_ascii_uppercase(),
                    certificate_issuer: signed_in.certificate.issuer.clone(),
                    certificate_thumbprint: sha1_thumbprint(&signed_in.certificate.der),
                }))
            }
            Err(SignInError::Store(error)) => CertificateOutcome::Unavailable {
                message: error.to_string(),
            },
            Err(error) => refused(error.code(), &error.to_string()),
        };
        (outcome, record)
    } else {
        let record = SignInRecord::of_chain(context, &client.chain);
        match check_certificate(state, &client.chain, now) {
            Ok(_) => (
                CertificateOutcome::Valid(None),
                record.validated(format!("front door {}: certificate accepted", vdir.prefix)),
            ),
            Err(rejection) => (
                refused(rejection.code(), &rejection.to_string()),
                record.failed(rejection.code(), rejection.to_string()),
            ),
        }
    };
    let code = record.reason_code.clone();
    signin.metrics.signin(record.result.as_str(), &code);
    let recorded = tokio::time::timeout_at(deadline, signin.recorder.record(record))
        .await
        .unwrap_or_else(|_| Err(store_timed_out(signin.store_timeout)));
    if let Err(error) = recorded {
        // Fail closed: a sign-in that cannot be recorded does not happen. The server log keeps
        // what the sign-in log could not, under the attempt's correlation ID.
        tracing::error!(code = error.code(), %error, %correlation, outcome = %code, prefix = %vdir.prefix, "the sign-in log is unavailable: the request is refused");
        return CertificateOutcome::Unavailable {
            message: error.to_string(),
        };
    }
    outcome
}

fn refused(code: &str, message: &str) -> CertificateOutcome {
    CertificateOutcome::Refused {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

fn sha1_thumbprint(der: &[u8]) -> String {
    certgate_core::hex(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref(),
    )
    .to_ascii_uppercase()
}

/// A header value for text that may not be visible ASCII (a DN with accents): such bytes are
/// percent-encoded (UTF-8), as is `%` itself, so the upstream can always decode it the same way.
fn header_text(text: &str) -> Option<HeaderValue> {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&out).ok()
}

/// RFC 9440: a certificate as a Structured Field Byte Sequence, `:base64:`.
fn sf_binary(der: &[u8]) -> String {
    format!(":{}:", STANDARD.encode(der))
}

fn identity_headers(
    headers: &IdentityHeaders,
    identity: &ForwardedIdentity,
    chain: &[Vec<u8>],
) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    let mut push = |name: &Option<String>, value: Option<&str>| {
        if let (Some(name), Some(value)) = (name, value) {
            if let (Ok(name), Some(value)) =
                (HeaderName::from_bytes(name.as_bytes()), header_text(value))
            {
                out.push((name, value));
            }
        }
    };
    push(&headers.upn, Some(&identity.upn));
    push(&headers.mail, identity.mail.as_deref());
    push(&headers.immutable_id, Some(&identity.immutable_id));
    push(
        &headers.certificate_serial,
        Some(&identity.certificate_serial),
    );
    push(
        &headers.certificate_issuer,
        Some(&identity.certificate_issuer),
    );
    push(
        &headers.certificate_thumbprint,
        Some(&identity.certificate_thumbprint),
    );
    if headers.client_cert {
        if let Some(Ok(value)) = chain
            .first()
            .map(|der| HeaderValue::from_str(&sf_binary(der)))
        {
            out.push((HeaderName::from_static("client-cert"), value));
        }
    }
    if headers.client_cert_chain && chain.len() > 1 {
        let list = chain[1..]
            .iter()
            .map(|der| sf_binary(der))
            .collect::<Vec<_>>()
            .join(", ");
        if let Ok(value) = HeaderValue::from_str(&list) {
            out.push((HeaderName::from_static("client-cert-chain"), value));
        }
    }
    out
}

/// Sends the request on to the upstream and streams the answer back.
async fn forward(
    route: &Route,
    protected: &[HeaderName],
    client: &TlsClient,
    identity: Option<&ForwardedIdentity>,
    path: &str,
    host: Option<HeaderValue>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let mut url = route.upstream.clone();
    let base = url.path().trim_end_matches('/').to_owned();
    let forwarded_path = format!("{base}{path}");
    url.set_path(&forwarded_path);
    url.set_query(parts.uri.query());
    // The upstream must act on exactly the path the directory was chosen for: should the URL
    // layer rewrite it in any way (it resolves dot segments, re-encodes characters), refuse.
    if url.path() != forwarded_path {
        return refusal(
            StatusCode::BAD_REQUEST,
            "front-door-path-refused",
            "This address cannot be used: it does not survive being forwarded unchanged.",
        );
    }

    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        let lower = name.as_str();
        let dropped = HOP_BY_HOP.contains(&lower)
            || name == header::HOST
            || protected.contains(name)
            // `X_Certgate_UPN` is `X-Certgate-UPN` to IIS/CGI-style readers
            // (HTTP_X_CERTGATE_UPN): names with underscores are dropped, as nginx does.
            || lower.contains('_')
            // certgate is the edge: forwarding information comes from it alone.
            || lower == "forwarded"
            || lower.starts_with("x-forwarded-")
            || OTHER_EDGES_HEADERS.contains(&lower)
            || (name == header::AUTHORIZATION
                && !authorization_forwarded(&route.vdir, value.as_bytes()));
        if !dropped {
            headers.append(name.clone(), value.clone());
        }
    }
    // What the connection header names is hop-by-hop too (RFC 9110 §7.6.1).
    for value in parts.headers.get_all(header::CONNECTION) {
        for name in value.to_str().unwrap_or_default().split(',') {
            if let Ok(name) = HeaderName::from_bytes(name.trim().as_bytes()) {
                headers.remove(name);
            }
        }
    }
    if let Some(host) = host {
        if route.vdir.preserve_host {
            // The HTTP client keeps a Host it is given and fills in the upstream's otherwise.
            headers.insert(header::HOST, host.clone());
        }
        headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("https"),
    );
    if let Ok(value) = HeaderValue::from_str(&client.address.ip().to_string()) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), value);
    }
    if let Some(identity) = identity {
        for (name, value) in identity_headers(&route.vdir.identity_headers, identity, &client.chain)
        {
            headers.insert(name, value);
        }
    }

    let upstream = route
        .client
        .request(parts.method, url)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await;
    let upstream = match upstream {
        Ok(response) => response,
        Err(error) => {
            let (status, code) = if error.is_timeout() {
                (StatusCode::GATEWAY_TIMEOUT, "front-door-upstream-timeout")
            } else {
                (StatusCode::BAD_GATEWAY, "front-door-upstream-unavailable")
            };
            // Without the URL: its query can carry what must not be logged (ActiveSync's
            // User and DeviceId, OWA canaries, tokens).
            let error = error.without_url();
            tracing::warn!(prefix = %route.vdir.prefix, %error, "the upstream failed");
            return refusal(
                status,
                code,
                &format!(
                    "The server behind {} did not answer ({}). Try again later; if it persists, tell your administrator.",
                    route.vdir.prefix,
                    if error.is_timeout() { "timeout" } else { "unreachable or refused" }
                ),
            );
        }
    };
    let mut response = Response::builder().status(upstream.status());
    if let Some(response_headers) = response.headers_mut() {
        for (name, value) in upstream.headers() {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                response_headers.append(name.clone(), value.clone());
            }
        }
    }
    response
        .body(Body::from_stream(upstream.bytes_stream()))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
