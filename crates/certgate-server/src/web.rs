//! The web listener: OpenID Connect (discovery, JWKS, authorize, token, userinfo, logout) and
//! the sign-in pages that finish what the certificate sign-in listener started (the one-time
//! code, TOTP enrollment, "continue as").
//!
//! A sign-in crosses both listeners (see certgate_core::login_flow): `/oauth2/authorize`
//! validates the application's request, keeps it in a flow bound to this browser by a cookie,
//! and sends the browser to the certificate sign-in listener; that listener signs the person
//! in with their certificate and sends the browser back to `/signin/continue`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use certgate_core::access_pass::{AccessPassError, AccessPassService, AccessPassStore};
use certgate_core::clock::Clock;
use certgate_core::login_flow::{
    new_secret, secret_hash, FlowStep, LoginFlow, LoginFlowStore, FLOW_LIFETIME_SECONDS,
    SECOND_FACTOR_ACCESS_PASS, SECOND_FACTOR_OTP,
};
use certgate_core::totp::{TotpService, TotpSettings, TotpStore, WhenEnrolled};
use certgate_oidc::{
    Assurance, Authentication, AuthorizationError, AuthorizationErrorCode, AuthorizationRequest,
    CertificateKind, CertificateRef, ObjectId, OidcStore, Provider, RefreshPolicy, SecondFactor,
    Session, SignInStep, TokenRequest, UserClaims, ACR_MFA,
};
use certgate_pki::UnixTime;
use serde_json::json;

use crate::federation_http::{FederationRequest, FederationService};
use crate::refusal::Refusal;
use certgate_core::directory::DirectoryStore;
use certgate_core::federation::FederationStore;
use certgate_core::store::Store;

/// Everything the web listener's handlers read and write.
pub trait WebStore:
    OidcStore
    + LoginFlowStore
    + TotpStore
    + AccessPassStore
    + FederationStore
    + DirectoryStore
    + Store
    + Clone
{
}
impl<T> WebStore for T where
    T: OidcStore
        + LoginFlowStore
        + TotpStore
        + AccessPassStore
        + FederationStore
        + DirectoryStore
        + Store
        + Clone
{
}

/// What the web handlers need.
pub struct WebContext<S, P> {
    pub provider: Arc<Provider<S, P>>,
    pub store: Arc<S>,
    pub clock: Arc<dyn Clock>,
    pub totp: TotpSettings,
    /// `https://host:port` of the certificate sign-in listener.
    pub certauth_origin: String,
    /// The demo relying party (`certgate serve --demo`).
    pub demo: Option<crate::demo::DemoClient>,
    /// The federation service (SAML 2.0, WS-Federation), when enabled.
    pub federation: Option<Arc<FederationService>>,
}

/// The routes of the web listener.
pub fn routes<S, P>(context: Arc<WebContext<S, P>>) -> Router
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

/// The cookie that binds a flow to the browser that started it; one per flow, so that two
/// sign-ins in two tabs do not trip over each other. The `__Host-` prefix (RFC 6265bis
/// §4.1.3.2) makes the browser refuse it unless it comes from this very host over HTTPS with
/// `Path=/` and no `Domain`: a sibling subdomain or a plain-HTTP answer cannot plant it.
pub fn flow_cookie_name(flow_id: &str) -> String {
    format!(
        "__Host-certgate_flow_{}",
        &certgate_core::hex(&secret_hash(flow_id))[..12]
    )
}

/// The `Set-Cookie` value that binds flow `flow_id` to `browser_secret` for `max_age` seconds
/// (the flow's time left). Set by the web listener when a flow starts and by whichever
/// listener takes an authentication step (the secret is new at each one, see
/// [`LoginFlow::authenticated`]); the certificate sign-in listener is the same host on
/// another port, and cookies are per host.
pub fn flow_cookie(flow_id: &str, browser_secret: &str, max_age: i64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{}={browser_secret}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax",
        flow_cookie_name(flow_id)
    ))
    .ok()
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The flow named by `flow_id`, if this browser started it and it has not expired.
pub async fn browser_flow<S: LoginFlowStore>(
    store: &S,
    headers: &HeaderMap,
    flow_id: &str,
    now: UnixTime,
) -> Result<LoginFlow, (StatusCode, &'static str, &'static str)> {
    let flow = store
        .flow(&secret_hash(flow_id))
        .await
        .map_err(|_| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "certgate cannot read the sign-in right now. Try again in a minute.",
            )
        })?
        .ok_or((
            StatusCode::BAD_REQUEST,
            "flow-unknown",
            "This sign-in is unknown or finished. Go back to the application and sign in again.",
        ))?;
    let browser = cookie(headers, &flow_cookie_name(flow_id))
        .map(|secret| secret_hash(&secret))
        .unwrap_or_default();
    // Constant time: the hash of the cookie is compared with the stored hash.
    if aws_lc_rs::constant_time::verify_slices_are_equal(&browser, &flow.browser_hash).is_err() {
        return Err((
            StatusCode::FORBIDDEN,
            "flow-not-this-browser",
            "This sign-in was started in another browser (or its cookie was removed). Go back to the application and sign in again.",
        ));
    }
    if flow.expires_at.0 < now.0 {
        return Err((
            StatusCode::BAD_REQUEST,
            "flow-expired",
            "This sign-in took too long and expired. Go back to the application and sign in again.",
        ));
    }
    Ok(flow)
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

fn authorization_error(error: AuthorizationError) -> Response {
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

async fn discovery<S: OidcStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
) -> Response {
    axum::Json(context.provider.discovery()).into_response()
}

async fn jwks<S: OidcStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
) -> Response {
    (
        [(header::CACHE_CONTROL, "max-age=300")],
        axum::Json(context.provider.jwks(context.clock.now())),
    )
        .into_response()
}

/// Whether the request asks for a multi-factor sign-in (`acr_values` naming certgate's MFA
/// class or Microsoft's multipleauthn).
fn wants_mfa(request: &AuthorizationRequest) -> bool {
    request
        .acr_values
        .iter()
        .any(|acr| acr == ACR_MFA || acr == "http://schemas.microsoft.com/claims/multipleauthn")
}

async fn authorize<S, P>(
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

/// Starts a sign-in for an application (OpenID Connect, SAML or WS-Federation): keeps the
/// validated request in a new flow bound to this browser by a cookie, and shows the start page
/// that sends the browser to the certificate sign-in listener.
pub async fn start_flow<S: LoginFlowStore>(
    store: &S,
    certauth_origin: &str,
    serialized_request: String,
    application: &str,
    now: UnixTime,
) -> Result<Response, (&'static str, &'static str)> {
    let (Some(flow_id), Some(browser_secret)) = (new_secret(), new_secret()) else {
        return Err(("random-unavailable", "certgate could not start the sign-in"));
    };
    let flow = LoginFlow {
        id_hash: secret_hash(&flow_id),
        browser_hash: secret_hash(&browser_secret),
        created_at: now,
        expires_at: UnixTime(now.0 + FLOW_LIFETIME_SECONDS),
        request: serialized_request,
        step: FlowStep::Certificate,
        identity: None,
        correlation_id: None,
    };
    if let Err(error) = store.insert_flow(&flow).await {
        return Err((error.code(), "certgate cannot store the sign-in right now"));
    }
    let cookie = flow_cookie(&flow_id, &browser_secret, FLOW_LIFETIME_SECONDS);
    let location = format!("{certauth_origin}/certauth?flow={flow_id}");
    // The sign-in start page: says what happens next (the browser asks for a certificate),
    // so that the certificate prompt does not come out of nowhere.
    let title = format!("Sign in to {application}");
    let page = crate::pages::render(&crate::pages::SignInStartPage {
        title: &title,
        application,
        location: &location,
    });
    match cookie {
        Some(cookie) => Ok((
            [
                (header::SET_COOKIE, cookie),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            page,
        )
            .into_response()),
        None => Err(("cookie-invalid", "certgate could not start the sign-in")),
    }
}

fn request_of(flow: &LoginFlow) -> Option<AuthorizationRequest> {
    serde_json::from_str(&flow.request).ok()
}

fn totp_form(flow_id: &str, upn: &str, problem: Option<&str>) -> Response {
    crate::pages::render(&crate::pages::TotpPage {
        title: "Enter your one-time code",
        flow: flow_id,
        upn,
        problem,
    })
}

fn confirm_form(flow_id: &str, request: &AuthorizationRequest, flow: &LoginFlow) -> Response {
    let identity = flow.identity.as_ref();
    crate::pages::render(&crate::pages::ConfirmPage {
        title: "Continue?",
        flow: flow_id,
        application: &request.client_name,
        display_name: identity.map_or("", |i| i.display_name.as_str()),
        upn: identity.map_or("", |i| i.upn.as_str()),
    })
}

/// Issues the code for a flow whose sign-in is complete, and marks the flow done.
async fn finish<S, P>(
    context: &WebContext<S, P>,
    flow: LoginFlow,
    request: &AuthorizationRequest,
    expected: FlowStep,
) -> Response
where
    S: OidcStore + LoginFlowStore + DirectoryStore,
    P: RefreshPolicy,
{
    let now = context.clock.now();
    let Some(identity) = flow.identity.clone() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "flow-incomplete",
            "This sign-in has no certificate sign-in yet.",
        );
    };
    let done = LoginFlow {
        step: FlowStep::Done,
        ..flow
    };
    match context.store.advance_flow(&done, expected).await {
        Ok(true) => {}
        Ok(false) => {
            return error_page(
                StatusCode::CONFLICT,
                "flow-step-taken",
                "This step of the sign-in was already taken (a second tab or a double click). Go back to the application.",
            )
        }
        Err(error) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                "certgate cannot store the sign-in right now. Try again in a minute.",
            )
        }
    }
    // The `email` scope releases the user's mail as the directory holds it now (the code's
    // grant keeps it for the ID token and userinfo).
    let email = match certgate_core::directory::UserId::parse(&identity.user_id) {
        Some(id) => match context.store.user_by_id(&id).await {
            Ok(user) => user.and_then(|user| user.mail),
            Err(error) => {
                return error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    error.code(),
                    "certgate cannot read the directory right now. Try again in a minute.",
                )
            }
        },
        None => None,
    };
    // Both second factors end with a verified one-time code (RFC 8176 `otp`): the enrolled
    // authenticator's, or after a Temporary Access Pass the code that confirmed the new
    // authenticator. The access pass, not that enrollment, is what makes the latter
    // multi-factor (FlowIdentity::is_multi_factor).
    let second_factor = match identity.second_factor.as_deref() {
        Some(SECOND_FACTOR_OTP | SECOND_FACTOR_ACCESS_PASS) => Some(SecondFactor::Totp),
        _ => None,
    };
    let assurance = if identity.is_multi_factor() {
        Assurance::MultiFactor
    } else {
        Assurance::SingleFactor
    };
    let authentication = Authentication {
        user: UserClaims {
            object_id: ObjectId(identity.user_id.clone()),
            upn: identity.upn.clone(),
            display_name: Some(identity.display_name.clone()),
            email,
        },
        auth_time: identity.auth_time,
        certificate: CertificateRef {
            issuer: identity.certificate_issuer.clone(),
            serial: identity.certificate_serial.clone(),
        },
        certificate_kind: CertificateKind::Software,
        second_factor,
        assurance,
    };
    match context
        .provider
        .issue_code(request, &authentication, now)
        .await
    {
        Ok(response) => redirect(&response.location()),
        Err(error) => authorization_error(error),
    }
}

/// Marks a federation flow done and posts its token to the relying party. There is no
/// "continue as" page: choosing the certificate for this application was the decision.
async fn finish_federation<S, P>(
    context: &WebContext<S, P>,
    flow: LoginFlow,
    request: &FederationRequest,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let Some(service) = &context.federation else {
        return error_page(
            StatusCode::NOT_FOUND,
            "federation-disabled",
            "The federation service is not enabled on this server.",
        );
    };
    let Some(identity) = flow.identity.clone() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "flow-incomplete",
            "This sign-in has no certificate sign-in yet.",
        );
    };
    let done = LoginFlow {
        step: FlowStep::Done,
        ..flow
    };
    match context.store.advance_flow(&done, FlowStep::Confirmation).await {
        Ok(true) => {}
        Ok(false) => {
            return error_page(
                StatusCode::CONFLICT,
                "flow-step-taken",
                "This step of the sign-in was already taken (a second tab or a double click). Go back to the application.",
            )
        }
        Err(error) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                "certgate cannot store the sign-in right now. Try again in a minute.",
            )
        }
    }
    crate::federation_http::finish(
        service,
        &*context.store,
        request,
        &identity,
        context.clock.now(),
    )
    .await
}

/// After the certificate step, and after each page: shows the next page, or issues the code.
async fn next_page<S, P>(context: &WebContext<S, P>, flow: LoginFlow, flow_id: &str) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let federation = FederationRequest::of(&flow.request);
    let request = request_of(&flow);
    if federation.is_none() && request.is_none() {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "flow-unreadable",
            "certgate cannot read this sign-in. Go back to the application and sign in again.",
        );
    }
    let upn = flow
        .identity
        .as_ref()
        .map(|i| i.upn.clone())
        .unwrap_or_default();
    match flow.step {
        FlowStep::Certificate => redirect(&format!(
            "{}/certauth?flow={flow_id}",
            context.certauth_origin
        )),
        FlowStep::SecondFactor => {
            let (user_id, redeemed) = flow
                .identity
                .as_ref()
                .map(|i| (i.user_id.clone(), i.access_pass_redeemed_at.is_some()))
                .unwrap_or_default();
            let service = TotpService::new(&*context.store, &context.clock, &context.totp, "web");
            match service.status(&user_id).await {
                Ok(status) if status.enrolled => totp_form(flow_id, &upn, None),
                // A first authenticator only after this flow redeemed an access pass: the
                // certificate alone must not mint the second factor.
                Ok(_) if redeemed => enrollment_page(context, flow_id, &user_id, &upn).await,
                Ok(_) => access_pass_page(context, flow_id, &user_id, &upn, None).await,
                Err(error) => error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    error.code(),
                    &error.to_string(),
                ),
            }
        }
        FlowStep::Confirmation => {
            let Some(request) = request else {
                return match federation {
                    Some(federation) => finish_federation(context, flow, &federation).await,
                    None => error_page(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "flow-unreadable",
                        "certgate cannot read this sign-in.",
                    ),
                };
            };
            let session = flow.identity.as_ref().map(|i| Session {
                auth_time: i.auth_time,
            });
            match request.sign_in_step(session.as_ref(), context.clock.now()) {
                Ok(SignInStep::Confirm) => confirm_form(flow_id, &request, &flow),
                Ok(SignInStep::Issue) => {
                    finish(context, flow, &request, FlowStep::Confirmation).await
                }
                Ok(SignInStep::SignIn) => error_page(
                    StatusCode::BAD_REQUEST,
                    "sign-in-not-fresh",
                    "The certificate sign-in is too old for this application. Go back to the application and sign in again.",
                ),
                Err(error) => authorization_error(error),
            }
        }
        FlowStep::Done => error_page(
            StatusCode::BAD_REQUEST,
            "flow-finished",
            "This sign-in is finished. Go back to the application.",
        ),
        FlowStep::Failed => error_page(
            StatusCode::FORBIDDEN,
            "flow-failed",
            "This sign-in failed at the certificate step. Go back to the application and try again.",
        ),
    }
}

/// Asks for the Temporary Access Pass that unlocks a first enrollment. Without a live pass the
/// page says what to ask the administrator for, with its reason code; the form stays, so a pass
/// issued while the person waits can be typed at once. No QR code or key before the pass.
async fn access_pass_page<S, P>(
    context: &WebContext<S, P>,
    flow_id: &str,
    user_id: &str,
    upn: &str,
    refused: Option<&AccessPassError>,
) -> Response
where
    S: AccessPassStore,
{
    let service = AccessPassService::new(&*context.store, &context.clock, "web");
    let live = match service.status(user_id).await {
        Ok(status) => status.live_until.is_some(),
        Err(error) => {
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                &error.to_string(),
            )
        }
    };
    let (code, message) = match refused {
        Some(error) => (error.code(), error.to_string()),
        None if live => ("", String::new()),
        None => (
            REQUIRES_ACCESS_PASS,
            "No authenticator app is set up for this account yet. To set one up, ask your administrator for a Temporary Access Pass (certgate user access-pass create) and type it below.".to_owned(),
        ),
    };
    let mut response = crate::pages::render(&crate::pages::AccessPassPage {
        title: "Temporary Access Pass",
        flow: flow_id,
        upn,
        problem: (!code.is_empty()).then_some((code, message.as_str())),
    });
    *response.status_mut() = match refused {
        Some(AccessPassError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
        Some(_) => StatusCode::UNAUTHORIZED,
        None => StatusCode::OK,
    };
    response
}

/// Reason code of a first enrollment attempted without a redeemed Temporary Access Pass.
const REQUIRES_ACCESS_PASS: &str = "second-factor-enrollment-requires-access-pass";

async fn enrollment_page<S, P>(
    context: &WebContext<S, P>,
    flow_id: &str,
    user_id: &str,
    upn: &str,
) -> Response
where
    S: TotpStore,
{
    let service = TotpService::new(&*context.store, &context.clock, &context.totp, "web");
    match service
        .begin_enrollment(user_id, upn, WhenEnrolled::Refuse)
        .await
    {
        Ok(enrollment) => crate::pages::render(&crate::pages::TotpEnrollPage {
            title: "Set up your authenticator app",
            flow: flow_id,
            key: Some(crate::pages::NewKey {
                qr_svg: &enrollment.qr_svg,
                secret: &enrollment.secret_base32(),
                otpauth_uri: &enrollment.otpauth_uri,
            }),
            problem: None,
        }),
        Err(error) => error_page(StatusCode::BAD_REQUEST, error.code(), &error.to_string()),
    }
}

async fn continue_sign_in<S, P>(
    State(context): State<Arc<WebContext<S, P>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let Some(flow_id) = query.get("flow") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "flow-missing",
            "This page needs a sign-in. Go back to the application and sign in.",
        );
    };
    match browser_flow(&*context.store, &headers, flow_id, context.clock.now()).await {
        Ok(flow) => next_page(&context, flow, flow_id).await,
        Err((status, code, message)) => error_page(status, code, message),
    }
}

/// The flow a page's form names, when this browser started it and it waits at `step`; else the
/// error page to show.
async fn flow_at<S: LoginFlowStore, P>(
    context: &WebContext<S, P>,
    headers: &HeaderMap,
    flow_id: &str,
    step: FlowStep,
) -> Result<LoginFlow, Response> {
    match browser_flow(&*context.store, headers, flow_id, context.clock.now()).await {
        Ok(flow) if flow.step == step => Ok(flow),
        Ok(_) => Err(error_page(
            StatusCode::BAD_REQUEST,
            "flow-step-wrong",
            "This sign-in is not waiting for this page. Go back to the application and sign in again.",
        )),
        Err((status, code, message)) => Err(error_page(status, code, message)),
    }
}

#[derive(serde::Deserialize)]
struct CodeForm {
    flow: String,
    code: String,
}

/// Records the second factor the flow passed (`otp` or `access-pass`) and moves on.
async fn second_factor_done<S, P>(
    context: &WebContext<S, P>,
    mut flow: LoginFlow,
    flow_id: &str,
    factor: &str,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    if let Some(identity) = flow.identity.as_mut() {
        identity.second_factor = Some(factor.into());
    }
    authentication_step(context, flow, flow_id, FlowStep::Confirmation).await
}

/// Takes an authentication step of a flow waiting at the second factor: the flow moves to
/// `next` bound to a new secret in this browser (set as its cookie on the next page), in one
/// compare-and-set, so a cookie from before the step is worthless after it.
async fn authentication_step<S, P>(
    context: &WebContext<S, P>,
    flow: LoginFlow,
    flow_id: &str,
    next: FlowStep,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let Some((flow, browser_secret)) = flow.authenticated(next) else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "random-unavailable",
            "certgate could not continue the sign-in. Try again in a minute.",
        );
    };
    let Some(cookie) = flow_cookie(
        flow_id,
        &browser_secret,
        flow.seconds_left(context.clock.now()),
    ) else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cookie-invalid",
            "certgate could not continue the sign-in.",
        );
    };
    match context
        .store
        .advance_flow(&flow, FlowStep::SecondFactor)
        .await
    {
        Ok(true) => {
            let mut response = next_page(context, flow, flow_id).await;
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Ok(false) => error_page(
            StatusCode::CONFLICT,
            "flow-step-taken",
            "This step of the sign-in was already taken. Go back to the application.",
        ),
        Err(error) => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code(),
            "certgate cannot store the sign-in right now. Try again in a minute.",
        ),
    }
}

async fn totp<S, P>(
    State(context): State<Arc<WebContext<S, P>>>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let flow = match flow_at(&context, &headers, &form.flow, FlowStep::SecondFactor).await {
        Ok(flow) => flow,
        Err(response) => return response,
    };
    let (user_id, upn) = flow
        .identity
        .as_ref()
        .map(|i| (i.user_id.clone(), i.upn.clone()))
        .unwrap_or_default();
    let service = TotpService::new(&*context.store, &context.clock, &context.totp, "web");
    match service.verify(&user_id, form.code.trim()).await {
        Ok(_) => second_factor_done(&context, flow, &form.flow, SECOND_FACTOR_OTP).await,
        Err(error) => {
            tracing::info!(code = error.code(), upn = %upn, "one-time code refused");
            let message = format!("{} ({})", error, error.code());
            let mut response = totp_form(&form.flow, &upn, Some(&message));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
    }
}

async fn totp_enroll<S, P>(
    State(context): State<Arc<WebContext<S, P>>>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let flow = match flow_at(&context, &headers, &form.flow, FlowStep::SecondFactor).await {
        Ok(flow) => flow,
        Err(response) => return response,
    };
    let (user_id, upn, redeemed) = flow
        .identity
        .as_ref()
        .map(|i| {
            (
                i.user_id.clone(),
                i.upn.clone(),
                i.access_pass_redeemed_at.is_some(),
            )
        })
        .unwrap_or_default();
    // The pending secret belongs to the user, not to a flow: only the flow that redeemed the
    // access pass may confirm it, so a certificate holder in another flow cannot.
    if !redeemed {
        return error_page(
            StatusCode::FORBIDDEN,
            REQUIRES_ACCESS_PASS,
            "Setting up an authenticator app needs a Temporary Access Pass redeemed in this sign-in. Ask your administrator for one, then sign in again.",
        );
    }
    let service = TotpService::new(&*context.store, &context.clock, &context.totp, "web");
    match service.confirm_enrollment(&user_id, form.code.trim()).await {
        Ok(_) => second_factor_done(&context, flow, &form.flow, SECOND_FACTOR_ACCESS_PASS).await,
        Err(error) => {
            // The key stays the one the person already added to their app: no new one here.
            let message = format!("{} ({})", error, error.code());
            tracing::info!(code = error.code(), upn = %upn, "enrollment code refused");
            let mut response = crate::pages::render(&crate::pages::TotpEnrollPage {
                title: "Set up your authenticator app",
                flow: &form.flow,
                key: None,
                problem: Some(&message),
            });
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
    }
}

#[derive(serde::Deserialize)]
struct AccessPassForm {
    flow: String,
    pass: String,
}

/// Redeems a Temporary Access Pass in this flow (one use, across nodes) and records it on the
/// flow; the enrollment page follows.
async fn access_pass<S, P>(
    State(context): State<Arc<WebContext<S, P>>>,
    headers: HeaderMap,
    Form(form): Form<AccessPassForm>,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let mut flow = match flow_at(&context, &headers, &form.flow, FlowStep::SecondFactor).await {
        Ok(flow) => flow,
        Err(response) => return response,
    };
    let Some(mut identity) = flow.identity.clone() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "flow-incomplete",
            "This sign-in has no certificate sign-in yet.",
        );
    };
    let enrolled = TotpService::new(&*context.store, &context.clock, &context.totp, "web")
        .status(&identity.user_id)
        .await
        .map(|status| status.enrolled);
    if identity.access_pass_redeemed_at.is_some() || !matches!(enrolled, Ok(false)) {
        // Nothing to redeem: the next page says what this flow waits for (the enrollment, or
        // the code of the authenticator already set up).
        return next_page(&context, flow, &form.flow).await;
    }
    let correlation = flow.correlation_id.clone().unwrap_or_default();
    let service = AccessPassService::new(&*context.store, &context.clock, "web");
    if let Err(error) = service
        .redeem(&identity.user_id, &form.pass, &correlation)
        .await
    {
        tracing::info!(code = error.code(), upn = %identity.upn, "access pass refused");
        return access_pass_page(
            &context,
            &form.flow,
            &identity.user_id,
            &identity.upn,
            Some(&error),
        )
        .await;
    }
    identity.access_pass_redeemed_at = Some(context.clock.now());
    flow.identity = Some(identity);
    // Redeeming the pass is an authentication step (the enrollment that follows can only be
    // confirmed in this browser).
    authentication_step(&context, flow, &form.flow, FlowStep::SecondFactor).await
}

#[derive(serde::Deserialize)]
struct ConfirmForm {
    flow: String,
    decision: String,
}

async fn confirm<S, P>(
    State(context): State<Arc<WebContext<S, P>>>,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let flow = match flow_at(&context, &headers, &form.flow, FlowStep::Confirmation).await {
        Ok(flow) => flow,
        Err(response) => return response,
    };
    let Some(request) = request_of(&flow) else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "flow-unreadable",
            "certgate cannot read this sign-in.",
        );
    };
    if form.decision != "continue" {
        let failed = LoginFlow {
            step: FlowStep::Failed,
            ..flow
        };
        let _ = context
            .store
            .advance_flow(&failed, FlowStep::Confirmation)
            .await;
        return authorization_error(request.error(
            AuthorizationErrorCode::AccessDenied,
            "user-cancelled",
            "the user did not continue",
        ));
    }
    finish(&context, flow, &request, FlowStep::Confirmation).await
}

/// Decides the step after a successful certificate sign-in: a one-time code when the user
/// has one enrolled or the application asks for multi-factor, unless the certificate itself
/// is multi-factor.
pub async fn step_after_certificate<S: TotpStore>(
    store: &S,
    clock: &Arc<dyn Clock>,
    totp: &TotpSettings,
    request: &str,
    user_id: &str,
    strength: &str,
) -> FlowStep {
    if strength == "multi-factor" {
        return FlowStep::Confirmation;
    }
    let mfa_requested = match FederationRequest::of(request) {
        Some(federation) => federation.wants_mfa,
        None => serde_json::from_str::<AuthorizationRequest>(request)
            .map(|r| wants_mfa(&r))
            .unwrap_or(true),
    };
    let enrolled = TotpService::new(store, clock, totp, "certauth")
        .status(user_id)
        .await
        .map(|s| s.enrolled)
        // Fail closed: unknown enrollment asks for the code (the page will say why).
        .unwrap_or(true);
    if enrolled || mfa_requested {
        FlowStep::SecondFactor
    } else {
        FlowStep::Confirmation
    }
}

async fn token<S: OidcStore, P: RefreshPolicy>(
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

async fn userinfo<S: OidcStore, P: RefreshPolicy>(
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

async fn end_session<S: OidcStore, P: RefreshPolicy>(
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
