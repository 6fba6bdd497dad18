//! The demo relying party of `certgate serve --demo`: a page that signs in to certgate's own
//! OpenID Connect provider as the client `demo-app` would, so that a newcomer can try the
//! whole sign-in (certificate + TOTP) with nothing else installed. It uses the provider's
//! public endpoints' logic exactly as a remote application would (authorization code with
//! PKCE, client secret), only without the network hop for the token request.

use std::sync::Arc;

use aws_lc_rs::digest;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use certgate_core::login_flow::new_secret;
use certgate_oidc::{OidcStore, RefreshPolicy, TokenRequest};
use serde_json::Value;

use crate::flow::cookie;
pub use crate::web_context::DemoClient;
use crate::web_context::WebContext;

const COOKIE: &str = "certgate_demo";

/// The demo's routes on the web listener: `/demo` (the start page), `/demo/start` (off to the
/// provider's authorization endpoint) and `/demo/callback` (the code comes back; the page
/// shows the ID token's claims).
pub fn routes<S, P>(context: Arc<WebContext<S, P>>) -> Router
where
    S: OidcStore,
    P: RefreshPolicy + 'static,
{
    Router::new()
        .route("/demo", get(home::<S, P>))
        .route("/demo/start", get(start::<S, P>))
        .route("/demo/callback", get(callback::<S, P>))
        .with_state(context)
}

async fn home<S: OidcStore, P: RefreshPolicy>(
    State(_context): State<Arc<WebContext<S, P>>>,
) -> Response {
    crate::pages::render(&crate::pages::DemoHomePage {
        title: "certgate demo application",
    })
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn start<S: OidcStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
) -> Response {
    let (Some(demo), Some(state), Some(verifier)) = (&context.demo, new_secret(), new_secret())
    else {
        return (StatusCode::NOT_FOUND, "no demo client").into_response();
    };
    let challenge = b64url(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref());
    let issuer = context
        .provider
        .config()
        .issuer
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    let mut location = format!("{issuer}{}?", certgate_oidc::AUTHORIZATION_PATH);
    for (i, (key, value)) in [
        ("response_type", "code"),
        ("client_id", demo.client_id.as_str()),
        ("redirect_uri", demo.redirect_uri.as_str()),
        ("scope", "openid profile"),
        ("state", state.as_str()),
        ("nonce", state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("acr_values", certgate_oidc::ACR_MFA),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            location.push('&');
        }
        location.push_str(key);
        location.push('=');
        location.push_str(&percent(value));
    }
    let cookie = format!(
        "{COOKIE}={state}.{verifier}; Path=/demo; Max-Age=600; Secure; HttpOnly; SameSite=Lax"
    );
    match (
        HeaderValue::from_str(&location),
        HeaderValue::from_str(&cookie),
    ) {
        (Ok(location), Ok(cookie)) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, location), (header::SET_COOKIE, cookie)],
        )
            .into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "bad redirect").into_response(),
    }
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

async fn callback<S: OidcStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(demo) = &context.demo else {
        return (StatusCode::NOT_FOUND, "no demo client").into_response();
    };
    if let Some(error) = query.get("error") {
        let detail = format!(
            "{error}: {}",
            query.get("error_description").map_or("", String::as_str)
        );
        return did_not_complete(StatusCode::OK, &detail);
    }
    let saved = cookie(&headers, COOKIE).unwrap_or_default();
    let (state, verifier) = saved.split_once('.').unwrap_or_default();
    if state.is_empty() || query.get("state").map(String::as_str) != Some(state) {
        return did_not_complete(
            StatusCode::BAD_REQUEST,
            "The answer does not belong to a sign-in this browser started (state mismatch).",
        );
    }
    let form = [
        ("grant_type", "authorization_code"),
        ("code", query.get("code").map_or("", String::as_str)),
        ("redirect_uri", demo.redirect_uri.as_str()),
        ("code_verifier", verifier),
        ("client_id", demo.client_id.as_str()),
        ("client_secret", demo.client_secret.as_str()),
    ];
    let now = context.clock.now();
    let result = match TokenRequest::parse(&form, None) {
        Ok(request) => context.provider.token(&request, now).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(tokens) => {
            let claims: Value = tokens
                .id_token
                .split('.')
                .nth(1)
                .and_then(|payload| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(payload)
                        .ok()
                })
                .and_then(|json| serde_json::from_slice(&json).ok())
                .unwrap_or(Value::Null);
            let rows: Vec<(String, String)> = claims
                .as_object()
                .map(|object| {
                    object
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_string()))
                        .collect()
                })
                .unwrap_or_default();
            crate::pages::render(&crate::pages::DemoSignedInPage {
                title: "Signed in",
                upn: claims["upn"].as_str().unwrap_or(""),
                claims: rows,
            })
        }
        Err(error) => did_not_complete(
            StatusCode::BAD_REQUEST,
            &format!(
                "The token request was refused: {}",
                error.body().error_description
            ),
        ),
    }
}

/// The demo application's page for a sign-in that did not complete.
fn did_not_complete(status: StatusCode, problem: &str) -> Response {
    let mut response = crate::pages::render(&crate::pages::MessagePage {
        title: "Sign-in did not complete",
        paragraphs: &[problem],
        alert: true,
        link: Some(("/demo", "Try again")),
    });
    *response.status_mut() = status;
    response
}
