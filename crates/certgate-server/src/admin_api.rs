//! The admin REST API, mounted under `/api/v1`: trusted CAs, CRL status, users, username
//! bindings, authentication-strength rules, OpenID Connect clients, the federation service's
//! relying parties and token-signing keys, device profiles, the sign-in and audit logs. Handlers are thin: extract, call one certgate-core (or provider) service with the
//! admin as the audit actor, map the error (`error`). JSON follows Microsoft Graph's names
//! ([`resource`]); the OpenAPI 3.1 document (`openapi`, served at `/api/v1/openapi.json` and
//! checked in as docs/openapi.json) is generated from the same route table the router is
//! built from, so neither can have a route the other lacks.
//!
//! Access: see `access`. Every change is in the audit log under the admin's actor.
//!
//! Layout: `route` is the route table's vocabulary and each resource module holds its
//! routes beside its handlers; `access` authenticates, `context` is what handlers get,
//! `extract` reads bodies. This file joins the routes into one table and builds the router.

mod access;
mod applications;
mod certificate_authorities;
mod context;
mod devices;
mod error;
mod extract;
mod federation;
mod logs;
mod openapi;
mod own_ca;
pub mod resource;
mod route;
mod rules;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{on, MethodRouter};
use axum::Router;

pub(crate) use access::from_another_site;
pub use access::{Admin, DEFAULT_ADMIN_GROUP};
pub use applications::{AppFuture, Applications};
pub use context::{AdminContext, AdminStore};
pub use error::ApiError;
pub use openapi::document as openapi_document;

use context::Context;
// `In` and `Route` too, with `Access` and `ROUTES`: the OpenAPI document (`openapi`) reads the
// table through this module.
use route::{Access, HttpMethod, In, Operation, Route};

/// The route of the OpenAPI document ([`openapi`]).
const META: &[Route] = &[Route {
    method: HttpMethod::Get,
    path: "/openapi.json",
    operation: Operation::OpenApi,
    access: Access::Public,
    operation_id: "getOpenApiDocument",
    tag: "meta",
    summary: "This document (no authentication).",
    parameters: &[],
    request: None,
    response: (200, "OpenApiDocument"),
    errors: &[],
}];

/// The parts of the route table, in the order the OpenAPI document lists them.
const PARTS: &[&[Route]] = &[
    META,
    certificate_authorities::ROUTES,
    own_ca::ROUTES,
    users::ROUTES,
    devices::ROUTES,
    rules::ROUTES,
    applications::ROUTES,
    federation::ROUTES,
    logs::ROUTES,
];

/// Every route of the admin API. The router is built from this table and nothing else.
const ROUTES: &[Route] = &route::concat::<{ route::count(PARTS) }>(PARTS);

/// The handler of one operation, for `method`.
fn handler<S: AdminStore>(operation: Operation, method: HttpMethod) -> MethodRouter<Context<S>> {
    let filter = method.filter();
    match operation {
        Operation::OpenApi => on(filter, openapi::serve),
        Operation::ListCertificateAuthorities => on(filter, certificate_authorities::list::<S>),
        Operation::AddCertificateAuthorities => on(filter, certificate_authorities::add::<S>),
        Operation::GetCertificateAuthority => on(filter, certificate_authorities::get::<S>),
        Operation::UpdateCertificateAuthority => on(filter, certificate_authorities::update::<S>),
        Operation::RemoveCertificateAuthority => on(filter, certificate_authorities::remove::<S>),
        Operation::CrlStatus => on(filter, certificate_authorities::crl_status::<S>),
        Operation::RefreshCrls => on(filter, certificate_authorities::refresh_crls::<S>),
        Operation::ListIssuedCertificates => on(filter, own_ca::list_issued::<S>),
        Operation::RevokeIssuedCertificate => on(filter, own_ca::revoke::<S>),
        Operation::ListPublishedCrls => on(filter, own_ca::list_crls::<S>),
        Operation::PublishCrls => on(filter, own_ca::publish_crls::<S>),
        Operation::ListUsers => on(filter, users::list::<S>),
        Operation::AddUser => on(filter, users::add::<S>),
        Operation::GetUser => on(filter, users::get::<S>),
        Operation::UpdateUser => on(filter, users::update::<S>),
        Operation::RemoveUser => on(filter, users::remove::<S>),
        Operation::RevokeSignInSessions => on(filter, users::revoke_sessions::<S>),
        Operation::CreateAccessPass => on(filter, users::create_access_pass::<S>),
        Operation::ResetSecondFactor => on(filter, users::reset_second_factor::<S>),
        Operation::SetStsRefreshTokensValidFrom => on(filter, users::set_sts::<S>),
        Operation::CreateDeviceProfile => on(filter, devices::create_profile::<S>),
        Operation::ListCertificateUserBindings => on(filter, rules::list_bindings::<S>),
        Operation::AddCertificateUserBinding => on(filter, rules::add_binding::<S>),
        Operation::UpdateCertificateUserBindings => on(filter, rules::update_bindings::<S>),
        Operation::RemoveCertificateUserBinding => on(filter, rules::remove_binding::<S>),
        Operation::ListAuthenticationModeRules => on(filter, rules::list_strength::<S>),
        Operation::AddAuthenticationModeRule => on(filter, rules::add_strength::<S>),
        Operation::RemoveAuthenticationModeRule => on(filter, rules::remove_strength::<S>),
        Operation::ListApplications => on(filter, applications::list::<S>),
        Operation::AddApplication => on(filter, applications::add::<S>),
        Operation::GetApplication => on(filter, applications::get::<S>),
        Operation::RemoveApplication => on(filter, applications::remove::<S>),
        Operation::ListRelyingParties => on(filter, federation::list::<S>),
        Operation::AddRelyingParty => on(filter, federation::add::<S>),
        Operation::GetRelyingParty => on(filter, federation::get::<S>),
        Operation::UpdateRelyingParty => on(filter, federation::update::<S>),
        Operation::RemoveRelyingParty => on(filter, federation::remove::<S>),
        Operation::ListTokenSigningKeys => on(filter, federation::signing_keys::<S>),
        Operation::RotateTokenSigningKeys => on(filter, federation::rotate_signing_keys::<S>),
        Operation::ListSignIns => on(filter, logs::signins::<S>),
        Operation::ListDirectoryAudits => on(filter, logs::audits::<S>),
    }
}

/// The admin API's router, to be nested under `/api/v1`:
/// `Router::new().nest("/api/v1", certgate_server::admin_api::routes(context))`.
pub fn routes<S: AdminStore>(context: Arc<AdminContext<S>>) -> Router {
    let mut paths: BTreeMap<(Access, &str), MethodRouter<Context<S>>> = BTreeMap::new();
    for route in ROUTES {
        let method_router = handler::<S>(route.operation, route.method);
        let merged = match paths.remove(&(route.access, route.path)) {
            Some(existing) => existing.merge(method_router),
            None => method_router,
        };
        paths.insert((route.access, route.path), merged);
    }
    let mut admin = Router::new();
    let mut public = Router::new();
    for ((access, path), method_router) in paths {
        match access {
            Access::Admin => admin = admin.route(path, method_router),
            Access::Public => public = public.route(path, method_router),
        }
    }
    let admin = admin.route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(&context),
        access::require_admin::<S>,
    ));
    admin
        .merge(public)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(limit_header_bytes))
        .with_state(context)
}

/// The largest request body the admin API reads (a CA bundle in base64 is a few KB; a
/// .p7b of a large PKI well under this). Larger: 413 `request-body-too-large`.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The most request header bytes the admin API accepts (names, values and their separators;
/// a bearer token and the usual headers are well under 1 KB). Larger: 431
/// `request-headers-too-large` (RFC 6585 §5), answered here with the API's JSON error rather
/// than left to the connection's own limits (hyper's HTTP/1 buffer, h2's 16 KB header list),
/// which answer bare or reset the stream. Below h2's list size on purpose, so HTTP/2 requests
/// get the JSON answer too.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

async fn limit_header_bytes(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    // As on the wire in HTTP/1.1: `name: value\r\n`.
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request-headers-too-large",
            format!(
                "the request's headers are {size} bytes; the admin API accepts at most {MAX_HEADER_BYTES}"
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// `(method, path)` of every route [`routes`] registers, relative to the mount point.
pub fn registered_routes() -> Vec<(&'static str, &'static str)> {
    ROUTES
        .iter()
        .map(|route| (route.method.as_str(), route.path))
        .collect()
}

/// Every method the API uses anywhere (for probing a path with the ones it does not take).
pub fn methods() -> Vec<&'static str> {
    HttpMethod::ALL.iter().map(|m| m.as_str()).collect()
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "route-not-found",
        "no such admin API route; GET /api/v1/openapi.json lists them",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this admin API route does not take this method; GET /api/v1/openapi.json lists them",
    )
}
