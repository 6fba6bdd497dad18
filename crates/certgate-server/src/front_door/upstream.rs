//! Forwarding to the upstream: the headers that never pass (hop-by-hop, other proxies'
//! identity headers), the identity headers and RFC 9440 `Client-Cert`, and the streamed
//! request and response.

use super::*;

/// Idle time between two reads from the upstream before the request fails: longer than the
/// longest ActiveSync `Ping` (Exchange allows heartbeats up to 59 minutes; devices use 30).
pub(super) const UPSTREAM_READ_TIMEOUT: Duration = Duration::from_secs(35 * 60);

pub(super) const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded in either direction.
pub(super) const HOP_BY_HOP: &[&str] = &[
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
pub(super) const OTHER_EDGES_HEADERS: &[&str] = &[
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

/// A header value for text that may not be visible ASCII (a DN with accents): such bytes are
/// percent-encoded (UTF-8), as is `%` itself, so the upstream can always decode it the same way.
pub(super) fn header_text(text: &str) -> Option<HeaderValue> {
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
pub(super) fn sf_binary(der: &[u8]) -> String {
    format!(":{}:", STANDARD.encode(der))
}

pub(super) fn identity_headers(
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

/// Sends the request on to route `route`'s upstream and streams the answer back.
pub(super) async fn forward<S>(
    front_door: &FrontDoor<S>,
    route: &Route,
    client: &TlsClient,
    identity: Option<IdentityHeaderList>,
    path: &str,
    host: Option<HeaderValue>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Some(uri) = upstream_uri(&route.base_path, path, parts.uri.query()) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "front-door-path-refused",
            "This address cannot be used: it does not survive being forwarded unchanged.",
        );
    };
    let device = DeviceConnection::of(client);
    let headers = || {
        upstream_headers(
            front_door,
            route,
            &parts.headers,
            host.as_ref(),
            identity.as_deref(),
            &device,
        )
    };
    let sent_again = (hyper::body::Body::is_end_stream(&body)
        && matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS))
    .then_some(|| {
        // Built again rather than kept: the retry is rare, the copy would be made each time.
        let uri = upstream_uri(&route.base_path, path, parts.uri.query()).unwrap_or_default();
        upstream_request(&parts.method, uri, headers(), Body::empty())
    });
    let request = upstream_request(&parts.method, uri, headers(), body);
    match exchange(
        &device,
        &front_door.origins,
        route.origin,
        request,
        sent_again,
    )
    .await
    {
        Ok(mut response) => {
            // The device's protocol is the device connection's, not the upstream's.
            *response.version_mut() = axum::http::Version::default();
            response.extensions_mut().clear();
            strip_hop_by_hop(response.headers_mut());
            response
        }
        Err(error) => {
            let (status, code) = if error.is_timeout() {
                (StatusCode::GATEWAY_TIMEOUT, "front-door-upstream-timeout")
            } else {
                (StatusCode::BAD_GATEWAY, "front-door-upstream-unavailable")
            };
            // The error names no URL: a query can carry what must not be logged (ActiveSync's
            // User and DeviceId, OWA canaries, tokens).
            tracing::warn!(prefix = %route.vdir.prefix, %error, "the upstream failed");
            refusal(
                status,
                code,
                &format!(
                    "The server behind {} did not answer ({}). Try again later; if it persists, tell your administrator.",
                    route.vdir.prefix,
                    if error.is_timeout() { "timeout" } else { "unreachable or refused" }
                ),
            )
        }
    }
}

/// The upstream's request target: the upstream URL's path, the canonical path, the query;
/// `None` when it would not reach the upstream exactly as built (the upstream must act on
/// exactly the path the directory was chosen for).
fn upstream_uri(base_path: &str, path: &str, query: Option<&str>) -> Option<Uri> {
    let mut target =
        String::with_capacity(base_path.len() + path.len() + query.map_or(0, |q| q.len() + 1));
    target.push_str(base_path);
    target.push_str(path);
    if let Some(query) = query {
        target.push('?');
        target.push_str(query);
    }
    let uri = Uri::try_from(target).ok()?;
    let unchanged = uri.path().strip_prefix(base_path) == Some(path) && uri.query() == query;
    unchanged.then_some(uri)
}

fn upstream_request(method: &Method, uri: Uri, headers: HeaderMap, body: Body) -> Request {
    let mut request = Request::new(body);
    *request.method_mut() = method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
}

/// The headers the upstream gets: the client's, less those that never pass, then certgate's
/// own (`Host`, forwarding, identity).
fn upstream_headers<S>(
    front_door: &FrontDoor<S>,
    route: &Route,
    client_headers: &HeaderMap,
    host: Option<&HeaderValue>,
    identity: Option<&[(HeaderName, HeaderValue)]>,
    device: &DeviceConnection,
) -> HeaderMap {
    let ours = 5 + identity.map_or(0, <[_]>::len);
    let mut headers = HeaderMap::with_capacity(client_headers.len() + ours);
    let has_connection = client_headers.contains_key(header::CONNECTION);
    for (name, value) in client_headers {
        // Header names are lowercase in `http`.
        let lower = name.as_str();
        let dropped = front_door.dropped_headers.contains(name)
            // `X_Certgate_UPN` is `X-Certgate-UPN` to IIS/CGI-style readers
            // (HTTP_X_CERTGATE_UPN): names with underscores are dropped, as nginx does.
            || lower.contains('_')
            // certgate is the edge: forwarding information comes from it alone.
            || lower.starts_with("x-forwarded-")
            || (name == header::AUTHORIZATION
                && !authorization_forwarded(&route.vdir, value.as_bytes()))
            // What the connection header names is hop-by-hop too (RFC 9110 §7.6.1).
            || (has_connection && named_by_connection(client_headers, lower));
        if !dropped {
            headers.append(name.clone(), value.clone());
        }
    }
    let origin = &front_door.origins[route.origin];
    match host {
        Some(host) if route.vdir.preserve_host => {
            headers.insert(header::HOST, host.clone());
        }
        _ => {
            headers.insert(header::HOST, origin.authority.clone());
        }
    }
    if let Some(host) = host {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
    }
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("https"),
    );
    if let Some(address) = &device.forwarded_for {
        headers.insert(HeaderName::from_static("x-forwarded-for"), address.clone());
    }
    for (name, value) in identity.unwrap_or_default() {
        headers.insert(name.clone(), value.clone());
    }
    headers
}

/// Whether a `Connection` header of `headers` names `name` (lowercase).
fn named_by_connection(headers: &HeaderMap, name: &str) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|value| {
        value
            .to_str()
            .unwrap_or_default()
            .split(',')
            .any(|listed| listed.trim().eq_ignore_ascii_case(name))
    })
}

/// Removes the hop-by-hop headers of an upstream's answer, and those its `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<String> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty())
            .collect();
        for name in named {
            headers.remove(name.as_str());
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}
