//! The web listener: OpenID Connect (discovery, JWKS, authorize, token, userinfo, logout) and
//! the sign-in pages that finish what the certificate sign-in listener started (the one-time
//! domain password, the one-time code, TOTP enrollment, "continue as").
//!
//! A sign-in crosses both listeners (see certgate_core::login_flow): `/oauth2/authorize`
//! validates the application's request, keeps it in a flow bound to this browser by a cookie,
//! and sends the browser to the certificate sign-in listener; that listener signs the person
//! in with their certificate and sends the browser back to `/signin/continue`.

mod oidc;
mod pages;
mod sign_in;

use certgate_core::DirectoryStore;
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use certgate_core::access_pass::{AccessPassError, AccessPassService, AccessPassStore};
use certgate_core::audit::AuditEvent;
use certgate_core::clock::Clock;
use certgate_core::domain_password::{DomainAccount, DomainPassword, DomainPasswordError};
use certgate_core::login_flow::{
    FlowIdentity, FlowStep, LoginFlow, LoginFlowStore, SECOND_FACTOR_ACCESS_PASS, SECOND_FACTOR_OTP,
};
use certgate_core::signin::{SignInRecord, SignInResult};
use certgate_core::totp::{TotpService, TotpStore, WhenEnrolled};
use certgate_oidc::{
    Assurance, Authentication, AuthorizationError, AuthorizationErrorCode, AuthorizationRequest,
    CertificateKind, CertificateRef, ObjectId, OidcStore, RefreshPolicy, SecondFactor, Session,
    SignInStep, TokenRequest, UserClaims,
};
use serde_json::json;

use crate::flow::*;
use crate::refusal::Refusal;
pub(crate) use crate::web_context::{WebContext, WebStore};
use oidc::*;
use pages::*;
use sign_in::*;

/// Where the domain password form posts.
pub(crate) const DOMAIN_PASSWORD_PATH: &str = "/signin/domain-password";

/// The routes of the web listener.
pub(crate) fn routes<S, P>(context: Arc<WebContext<S, P>>) -> Router
where
    S: WebStore,
    P: RefreshPolicy + 'static,
{
    Router::new()
        .route(certgate_oidc::DISCOVERY_PATH, get(discovery::<S, P>))
        .route(certgate_oidc::JWKS_PATH, get(jwks::<S, P>))
        .route(certgate_oidc::AUTHORIZATION_PATH, get(authorize::<S, P>))
        .route(certgate_oidc::TOKEN_PATH, post(token::<S, P>))
        .route(
            certgate_oidc::USERINFO_PATH,
            get(userinfo::<S, P>).post(userinfo::<S, P>),
        )
        .route(certgate_oidc::END_SESSION_PATH, get(end_session::<S, P>))
        .route("/signin/continue", get(continue_sign_in::<S, P>))
        .route("/signin/totp", post(totp::<S, P>))
        .route("/signin/totp/enroll", post(totp_enroll::<S, P>))
        .route("/signin/access-pass", post(access_pass::<S, P>))
        .route(DOMAIN_PASSWORD_PATH, post(domain_password::<S, P>))
        .route("/signin/confirm", post(confirm::<S, P>))
        .route(
            crate::browser_headers::AUTOPOST_SCRIPT_PATH,
            get(crate::browser_headers::autopost_script),
        )
        .route(
            crate::federation_http::SAML_METADATA_PATH,
            get(crate::federation_http::saml_metadata::<S, P>),
        )
        .route(
            crate::federation_http::SAML_SSO_PATH,
            get(crate::federation_http::saml_sso_redirect::<S, P>)
                .post(crate::federation_http::saml_sso_post::<S, P>),
        )
        .route(
            crate::federation_http::SAML_SLO_PATH,
            get(crate::federation_http::saml_slo::<S, P>),
        )
        .route(
            crate::federation_http::WSFED_PATH,
            get(crate::federation_http::wsfed_get::<S, P>)
                .post(crate::federation_http::wsfed_post::<S, P>),
        )
        .route(
            crate::federation_http::FEDERATION_METADATA_PATH,
            get(crate::federation_http::federation_metadata::<S, P>),
        )
        .with_state(Arc::clone(&context))
        .merge(crate::demo::routes(context))
}

fn error_page(status: StatusCode, code: &str, message: &str) -> Response {
    Refusal::new(status, code.to_owned(), message.to_owned())
        .heading("Sign-in failed")
        .into_response()
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "redirect-invalid",
            "certgate could not send you back to the application.",
        ),
    }
}
