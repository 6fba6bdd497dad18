//! Who may call the admin API. Fail closed: every route but the OpenAPI document sits behind
//! [`require_admin`], and handlers take an [`Admin`], which only that check creates, so a
//! handler reached without it has no actor to act as and answers 401.
//!
//! Two ways in:
//! - `Authorization: Bearer <token>`: a token from `certgate admin token create`, looked up
//!   by its SHA-256 and compared in constant time ([`authenticate_admin_token`]); the actor is
//!   `api:<token name>`.
//! - a client certificate, on the certificate sign-in listener (the TLS layer hands the chain
//!   over as [`TlsClient`]): validated and mapped to a user exactly like a sign-in, recorded in
//!   the sign-in log, and accepted only for an enabled member of the admin group; the actor is
//!   `api:<UPN>`.
//!
//! A bearer header, when present, decides alone: a wrong token is refused even if a good
//! certificate came with it, so that the caller learns the token is wrong.
//!
//! A client certificate is an ambient credential: a browser presents it to any page's
//! cross-site request, including a form POST that needs no CORS preflight. So a change made
//! with a certificate is refused when the browser says the request came from another site
//! (`Sec-Fetch-Site`, or an `Origin` that is not the API's own); tools such as curl and the
//! CLI send neither header. Bearer tokens are never sent by a browser on its own.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use certgate_core::admin_token::authenticate_admin_token;
use certgate_core::signin::{
    attempt_sign_in, correlation_id, AttemptContext, SignInAttempt, SignInError, SignInRecord,
    SignInRules,
};
use std::sync::Arc;

use super::error::ApiError;
use super::{AdminContext, AdminStore};
use crate::certauth::TlsClient;

/// Members of this group may use the admin API with their client certificate.
pub const DEFAULT_ADMIN_GROUP: &str = "certgate-admins";

/// What the sign-in log calls the admin API.
const APPLICATION: &str = "admin-api";

/// An authenticated administrator: the capability every admin handler needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    actor: String,
}

impl Admin {
    /// The audit log's actor: `api:<token name>` or `api:<UPN>`.
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

impl<T: Send + Sync> FromRequestParts<T> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &T) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Admin>()
            .cloned()
            .ok_or_else(missing_credentials)
    }
}

fn missing_credentials() -> ApiError {
    ApiError::unauthorized(
        "admin-credentials-missing",
        "the admin API needs an admin token (Authorization: Bearer ..., from `certgate admin token create`) or an administrator's client certificate on the certificate sign-in listener",
        "Bearer realm=\"certgate\"",
    )
}

/// The middleware in front of every admin route.
pub(crate) async fn require_admin<S: AdminStore>(
    State(context): State<Arc<AdminContext<S>>>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = request.extensions().get::<TlsClient>().cloned();
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD);
    let site = if changes && from_another_site(request.headers(), request.uri()) {
        Site::Another
    } else {
        Site::Own
    };
    match authenticate(&context, request.headers(), client.as_ref(), site).await {
        Ok(admin) => {
            tracing::debug!(actor = admin.actor(), method = %request.method(), path = %request.uri().path(), "admin API request");
            request.extensions_mut().insert(admin);
            next.run(request).await
        }
        Err(error) => {
            tracing::info!(code = %error.code, status = error.status.as_u16(), "admin API request refused");
            error.into_response()
        }
    }
}

/// Whether the browser says the request was made by another site's page (Fetch Metadata, or
/// an Origin other than the API's own host). Also guards the device provisioning page, where
/// a certificate is the ambient credential too.
pub(crate) fn from_another_site(headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = uri.authority().map(|a| a.as_str().to_owned()).or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    });
    let origin_host = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
    });
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(&host),
        // `Origin: null` or unreadable: not provably our own.
        _ => true,
    }
}

/// Where a change comes from, as far as the browser says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Site {
    Own,
    /// A change requested by another site's page.
    Another,
}

async fn authenticate<S: AdminStore>(
    context: &AdminContext<S>,
    headers: &HeaderMap,
    client: Option<&TlsClient>,
    site: Site,
) -> Result<Admin, ApiError> {
    let now = context.clock.now();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|text| {
                let (scheme, token) = text.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "admin-authorization-scheme-unsupported",
                    "the Authorization header must be `Bearer <admin token>`",
                    "Bearer realm=\"certgate\", error=\"invalid_request\"",
                )
            })?;
        let record = authenticate_admin_token(&*context.store, token, now).await?;
        return Ok(Admin {
            actor: format!("api:{}", record.name),
        });
    }
    match client.filter(|client| !client.chain.is_empty()) {
        Some(_) if site == Site::Another => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin-cross-site-request",
            "a change made with a client certificate must not come from another site's page; use the CLI, curl, or an admin token",
        )),
        Some(client) => authenticate_certificate(context, client).await,
        None => Err(missing_credentials()),
    }
}

/// A certificate sign-in to the admin API: the same decision as `/certauth`, recorded in the
/// sign-in log before it is acted on, then the admin group.
async fn authenticate_certificate<S: AdminStore>(
    context: &AdminContext<S>,
    client: &TlsClient,
) -> Result<Admin, ApiError> {
    let now = context.clock.now();
    let state = context.crl.state().load();
    let correlation = correlation_id();
    let attempt_context = AttemptContext {
        at: now,
        correlation_id: &correlation,
        client_address: client.address.ip(),
        application: APPLICATION,
    };
    let SignInAttempt { decision, record } = match SignInRules::load(&*context.store).await {
        Ok(rules) => {
            attempt_sign_in(
                &state,
                &client.chain,
                &rules,
                &*context.store,
                attempt_context,
            )
            .await
        }
        Err(error) => {
            SignInAttempt::refused(attempt_context, &client.chain, SignInError::Store(error))
        }
    };
    let refusal = match &decision {
        Err(error) => Some(ApiError::from(error.clone())),
        Ok(signed_in) if !signed_in.binding.user.groups.contains(&context.admin_group) => {
            Some(ApiError::new(
                StatusCode::FORBIDDEN,
                "admin-group-missing",
                format!(
                    "{} signed in with a valid certificate but is not in the group {}, whose members administer certgate",
                    signed_in.binding.user.upn, context.admin_group
                ),
            ))
        }
        Ok(_) => None,
    };
    let signed_in = decision.as_ref().ok();
    let record = match &refusal {
        Some(error) => record.failed(&error.code, error.message.clone()),
        None => SignInRecord {
            detail: "administrator signed in to the admin API with a client certificate".to_owned(),
            ..record
        },
    };
    // Fail closed: an attempt that cannot be recorded does not happen.
    context.store.append_signin(&record).await?;
    match (refusal, signed_in) {
        (Some(mut error), _) => {
            error.message = format!("{} (correlation ID {correlation})", error.message);
            Err(error)
        }
        (None, Some(signed_in)) => Ok(Admin {
            actor: format!("api:{}", signed_in.binding.user.upn),
        }),
        // Unreachable: no refusal means the sign-in succeeded; refuse all the same.
        (None, None) => Err(missing_credentials()),
    }
}
