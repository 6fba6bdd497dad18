//! The OpenID Connect endpoints: discovery, JWKS, authorize, token, userinfo, end session.

use super::*;

pub(super) fn authorization_error(error: AuthorizationError) -> Response {
    match error {
        AuthorizationError::ShowToUser(page) => {
            error_page(StatusCode::BAD_REQUEST, page.reason, &page.message)
        }
        AuthorizationError::Redirect(target) => {
            tracing::info!(
                reason = target.reason,
                "authorization error sent to the client"
            );
            redirect(&target.location())
        }
    }
}

pub(super) async fn discovery<S: OidcStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
) -> Response {
    axum::Json(context.provider.discovery()).into_response()
}

pub(super) async fn jwks<S: OidcStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
) -> Response {
    (
        [(header::CACHE_CONTROL, "max-age=300")],
        axum::Json(context.provider.jwks(context.clock.now())),
    )
        .into_response()
}

pub(super) async fn authorize<S, P>(
    State(context): State<Arc<WebContext<S, P>>>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let now = context.clock.now();
    let request = match context.provider.authorize(&query, now).await {
        Ok(request) => request,
        Err(error) => return authorization_error(error),
    };
    // certgate keeps no single-sign-on session: every authorization is a fresh certificate
    // sign-in, so `prompt=login` and `max_age` are always met, and `prompt=none` cannot be.
    if let Err(error) = request.sign_in_step(None, now) {
        return authorization_error(error);
    }
    // Fail closed: a client that asks every sign-in for the domain password gets no sign-in
    // without it, and this node has no directory to check it (the setting is shared by every
    // node, the directory source is each node's own configuration).
    if request.require_domain_password && context.domain_password.is_none() {
        let refused = DomainPasswordError::NotConfigured;
        tracing::warn!(client = %request.client_id, code = refused.code(), "the client asks every sign-in for the domain password, and no directory source is configured");
        return authorization_error(request.error(
            AuthorizationErrorCode::TemporarilyUnavailable,
            refused.code(),
            &format!(
                "signing in to {} takes the certificate and the domain password, and {refused}",
                request.client_name
            ),
        ));
    }
    let serialized = match serde_json::to_string(&request) {
        Ok(text) => text,
        Err(_) => {
            return authorization_error(request.error(
                AuthorizationErrorCode::ServerError,
                "flow-unserializable",
                "certgate could not start the sign-in",
            ))
        }
    };
    match start_flow(
        &*context.store,
        &context.certauth_origin,
        serialized,
        &request.client_name,
        now,
    )
    .await
    {
        Ok(response) => response,
        Err((code, message)) => authorization_error(request.error(
            if code == "random-unavailable" {
                AuthorizationErrorCode::ServerError
            } else {
                AuthorizationErrorCode::TemporarilyUnavailable
            },
            code,
            message,
        )),
    }
}

pub(super) async fn token<S: OidcStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let now = context.clock.now();
    let result = match TokenRequest::parse(&form, authorization) {
        Ok(request) => context.provider.token(&request, now).await,
        Err(error) => Err(error),
    };
    let no_store = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ];
    match result {
        Ok(response) => (no_store, axum::Json(response)).into_response(),
        Err(error) => {
            tracing::info!(reason = error.reason, "token request refused");
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = (status, no_store, axum::Json(error.body())).into_response();
            if let Some(challenge) = error.www_authenticate() {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            response
        }
    }
}

pub(super) async fn userinfo<S: OidcStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    headers: HeaderMap,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match context
        .provider
        .userinfo(bearer.trim(), context.clock.now())
        .await
    {
        Ok(info) => axum::Json(info).into_response(),
        Err(error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut response =
                (status, axum::Json(json!({ "error": "invalid_token" }))).into_response();
            if let Ok(value) = HeaderValue::from_str(&error.www_authenticate()) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
    }
}

pub(super) async fn end_session<S: OidcStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    match context
        .provider
        .end_session(&query, context.clock.now())
        .await
    {
        Ok(ended) => match ended.redirect {
            Some(location) => redirect(&location),
            None => crate::pages::render(&crate::pages::MessagePage {
                title: "Signed out",
                paragraphs: &["You are signed out of certgate. To sign out of your certificate completely, close the browser: browsers keep using a chosen certificate until they are closed."],
                alert: false,
                link: None,
            }),
        },
        Err(error) => error_page(StatusCode::BAD_REQUEST, error.reason, &error.message),
    }
}
