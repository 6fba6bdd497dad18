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

/// Sends the request on to the upstream and streams the answer back.
pub(super) async fn forward(
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
