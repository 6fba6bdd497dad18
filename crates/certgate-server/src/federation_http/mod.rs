//! The federation service's endpoints (the AD FS role) on the web listener: SAML 2.0 IdP
//! metadata, single sign-on (HTTP-Redirect and HTTP-POST bindings) and single logout
//! (HTTP-Redirect), and WS-Federation passive sign-in/sign-out with FederationMetadata.xml.
//!
//! A sign-in request is checked here (relying party registered and enabled, signature when the
//! relying party requires one, clock skew, replay, reply address registered), then kept in a
//! login flow exactly like an OpenID Connect authorization (see `web.rs`): the browser signs in
//! with its certificate on the certificate sign-in listener, enters a one-time code when one is
//! needed, and comes back to [`finish`], which posts the signed token to the registered reply
//! address. certgate keeps no single-sign-on session, so every sign-in is fresh: `ForceAuthn`
//! and `wfresh=0` are always met, and single logout has no session to end on certgate's side.

// The handlers' helpers return the refusal page as their error: an axum Response, larger than
// clippy likes in a Result, and built only on the refusal path.
#![allow(clippy::result_large_err)]

mod issuance;
mod metadata;
mod saml;
mod wsfed;

use certgate_core::DirectoryStore;
use certgate_core::Store;
use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use certgate_core::audit::AuditEvent;
use certgate_core::domain_password::DomainPasswordError;
use certgate_core::federation::authentication_method;
use certgate_core::federation::{
    accept_authn_request, accept_logout_request, accept_wsfed_sign_in, AcceptedSignIn,
    AuthnContextNeed, AuthnRequestFacts, AuthnRequestOutcome, Endpoint, FederationRefusal,
    FederationStore, LogoutRequestFacts, NameIdFormat, Protocol, RefusalKind, RelyingParty,
    SignatureCheck, SpFailure, WsFedAuthentication,
};
use certgate_core::login_flow::FlowIdentity;
use certgate_pki::UnixTime;
use certgate_saml::MessageId;

use crate::federation_service::LoadedKeys;
pub use crate::federation_service::{FederationService, FederationSettings};
use crate::refusal::Refusal;
use axum::extract::{Form, RawQuery, State};
use certgate_oidc::RefreshPolicy;
use certgate_saml::{
    AuthnContext, AuthnContextDecision, AuthnRequest, FailureStatus, IdpMetadata, SamlError,
};

use crate::flow::{start_flow, FederationRequest, RequestedClasses};
use crate::web_context::{WebContext, WebStore};

pub use issuance::finish;
pub use metadata::{federation_metadata, saml_metadata};
pub use saml::{saml_slo, saml_sso_post, saml_sso_redirect};
pub use wsfed::{wsfed_get, wsfed_post};

/// The IdP's signed SAML 2.0 metadata ([`saml_metadata`]).
pub const SAML_METADATA_PATH: &str = "/federation/saml/metadata";
/// SAML single sign-on: AuthnRequests by the HTTP-Redirect (GET) and HTTP-POST bindings.
pub const SAML_SSO_PATH: &str = "/federation/saml/sso";
/// SAML single logout: LogoutRequests by the HTTP-Redirect binding ([`saml_slo`]).
pub const SAML_SLO_PATH: &str = "/federation/saml/slo";
/// The WS-Federation passive endpoint, AD FS's `/adfs/ls/` ([`wsfed_get`], [`wsfed_post`]).
pub const WSFED_PATH: &str = "/federation/wsfed";
/// Where AD FS publishes it, and where Entra ID and WIF look for it.
pub const FEDERATION_METADATA_PATH: &str = "/FederationMetadata/2007-06/FederationMetadata.xml";

/// A page that refuses a federation request: the reason code, an actionable message and a
/// correlation ID, also in the log.
pub fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    Refusal::new(status, code.to_owned(), message.to_owned())
        .heading("Sign-in refused")
        .into_response()
}

/// The HTML page that posts `fields` to `action` (SAML HTTP-POST binding, WS-Fed's form POST):
/// certgate's static script submits it (no inline script: the page's Content-Security-Policy
/// allows only `script-src 'self'`), and the button stays for browsers without scripts.
pub fn auto_post(action: &str, fields: &[(&str, &str)]) -> Response {
    let mut response = crate::pages::render(&crate::pages::AutoPostPage { action, fields });
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // A constant of visible ASCII, a valid header value.
        HeaderValue::from_static(crate::browser_headers::autopost_policy()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

// ---- Shared by the endpoints -----------------------------------------------------------------

fn service<S, P>(context: &WebContext<S, P>) -> Result<&Arc<FederationService>, Response> {
    context.federation.as_ref().ok_or_else(|| {
        refusal(
            StatusCode::NOT_FOUND,
            "federation-disabled",
            "The federation service (SAML, WS-Federation) is not enabled on this server.",
        )
    })
}

/// The signing key in use, or the refusal page when none is loaded.
fn loaded_keys(service: &FederationService) -> Result<Arc<LoadedKeys>, Response> {
    service.keys().ok_or_else(|| {
        refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "federation-no-signing-key",
            "certgate has no token-signing key loaded. Ask your administrator to check the server log.",
        )
    })
}

fn request_refused(error: &SamlError) -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        error.code(),
        &format!("The application's sign-in request cannot be used: {error}"),
    )
}

/// How a federation refusal of certgate-core is answered.
fn status_of(kind: RefusalKind) -> StatusCode {
    match kind {
        RefusalKind::BadRequest => StatusCode::BAD_REQUEST,
        RefusalKind::Forbidden => StatusCode::FORBIDDEN,
        RefusalKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        RefusalKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The page of a refused federation request.
fn federation_refused(refused: &FederationRefusal) -> Response {
    refusal(
        status_of(refused.kind()),
        refused.code(),
        &refused.to_string(),
    )
}

/// A password request answered with a fresh certificate sign-in (as the relying party's
/// settings allow) is on record before the sign-in starts. One to be met with the domain
/// password, and any sign-in to a relying party that asks every sign-in for it, needs a
/// directory to check it: without one it is refused (fail closed: the token would otherwise
/// not carry the password the relying party asked for).
async fn audit_password_request<S: WebStore, P>(
    context: &WebContext<S, P>,
    rp: &RelyingParty,
    accepted: &AcceptedSignIn,
    now: UnixTime,
) -> Result<(), Response> {
    let needs_password = accepted.domain_password_requested.is_some() || rp.require_domain_password;
    if needs_password && context.domain_password.is_none() {
        let refused = DomainPasswordError::NotConfigured;
        tracing::warn!(relying_party = %rp.name, code = refused.code(), "a domain password was asked for, and no directory source is configured");
        return Err(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            refused.code(),
            &if accepted.domain_password_requested.is_some() {
                format!(
                    "{} asked for a password sign-in, met here by the certificate and your domain password, and {refused}.",
                    rp.name
                )
            } else {
                format!(
                    "Signing in to {} takes the certificate and your domain password, and {refused}.",
                    rp.name
                )
            },
        ));
    }
    let (asked, action, answered) = match (
        &accepted.password_request_replaced,
        &accepted.domain_password_requested,
    ) {
        (Some(asked), _) => (
            asked,
            "federation.password-request-replaced",
            "answered with a fresh certificate sign-in as its settings allow",
        ),
        (None, Some(asked)) => (
            asked,
            "federation.domain-password-requested",
            "to be met by the certificate plus the domain password, checked by the directory",
        ),
        (None, None) => return Ok(()),
    };
    let audit = AuditEvent::new(
        now,
        "server",
        action,
        &rp.id,
        "ok",
        format!(
            "{} asked for password authentication ({asked}); {answered}",
            rp.name
        ),
    );
    tracing::info!(relying_party = %rp.name, asked, answered, "password request");
    context.store.append_audit(&audit).await.map_err(|error| {
        refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code(),
            "certgate cannot record the sign-in right now. Try again in a minute.",
        )
    })
}

async fn begin<S: WebStore, P: RefreshPolicy>(
    context: &WebContext<S, P>,
    pending: &FederationRequest,
    now: UnixTime,
) -> Response {
    let Some(serialized) = pending.serialize() else {
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "flow-unserializable",
            "certgate could not start the sign-in.",
        );
    };
    match start_flow(
        &*context.store,
        &context.certauth_origin,
        serialized,
        &pending.relying_party_name,
        now,
    )
    .await
    {
        Ok(response) => response,
        Err((code, message)) => refusal(StatusCode::SERVICE_UNAVAILABLE, code, message),
    }
}

async fn checked_relying_party<S: WebStore, P>(
    context: &WebContext<S, P>,
    protocol: Protocol,
    identifier: &str,
) -> Result<RelyingParty, Response> {
    let found = context
        .store
        .relying_party_by_identifier(protocol, identifier)
        .await
        .map_err(|error| {
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                "certgate cannot read its relying parties right now. Try again in a minute.",
            )
        })?;
    match found {
        Some(rp) if rp.enabled => Ok(rp),
        Some(rp) => Err(refusal(
            StatusCode::FORBIDDEN,
            "rp-disabled",
            &format!("{} is disabled on certgate. An administrator enables it with `certgate rp set \"{}\" --enabled`.", rp.name, rp.name),
        )),
        None => Err(refusal(
            StatusCode::FORBIDDEN,
            "rp-unknown",
            &format!(
                "The application {identifier} is not registered with certgate. An administrator registers it with `certgate rp add {}`.",
                protocol.as_str()
            ),
        )),
    }
}
