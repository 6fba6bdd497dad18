//! The login flow as the listeners share it: the cookie that binds a flow to the browser that
//! started it, reading a flow for this browser, starting one (the page that sends the browser
//! to the certificate sign-in listener), and the step after the certificate. Used by the web
//! listener, the federation endpoints and the certificate sign-in listener; depends on none.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use certgate_core::clock::Clock;
use certgate_core::login_flow::{
    new_secret, secret_hash, FlowStep, LoginFlow, LoginFlowStore, FLOW_LIFETIME_SECONDS,
};
use certgate_core::totp::{TotpService, TotpSettings, TotpStore};
use certgate_oidc::{AuthorizationRequest, ACR_MFA};
use certgate_pki::UnixTime;
use certgate_saml::{AuthnContextComparison, RequestedAuthnContext};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The cookie that binds a flow to the browser that started it; one per flow, so that two
/// sign-ins in two tabs do not trip over each other. The `__Host-` prefix (RFC 6265bis
/// §4.1.3.2) makes the browser refuse it unless it comes from this very host over HTTPS with
/// `Path=/` and no `Domain`: a sibling subdomain or a plain-HTTP answer cannot plant it.
pub(crate) fn flow_cookie_name(flow_id: &str) -> String {
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
pub(crate) fn flow_cookie(
    flow_id: &str,
    browser_secret: &str,
    max_age: i64,
) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{}={browser_secret}; Path=/; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax",
        flow_cookie_name(flow_id)
    ))
    .ok()
}

/// The value of cookie `name`, if the request carries it.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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
pub(crate) async fn browser_flow<S: LoginFlowStore>(
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

/// Starts a sign-in for an application (OpenID Connect, SAML or WS-Federation): keeps the
/// validated request in a new flow bound to this browser by a cookie, and shows the start page
/// that sends the browser to the certificate sign-in listener.
pub(crate) async fn start_flow<S: LoginFlowStore>(
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

/// Decides the step after a successful certificate sign-in: the domain password when the
/// application asks every sign-in for it (a relying party's or an OpenID Connect client's
/// `require_domain_password`, copied into the request when the flow started), or when the
/// relying party's request asked for a password and its settings meet that with the domain
/// password (whatever the certificate's strength: the token will say a password was checked);
/// else [`step_after_domain_password`].
pub(crate) async fn step_after_certificate<S: TotpStore>(
    store: &S,
    clock: &Arc<dyn Clock>,
    totp: &TotpSettings,
    request: &str,
    user_id: &str,
    strength: &str,
) -> FlowStep {
    if asks_domain_password(request) {
        return FlowStep::DomainPassword;
    }
    step_after_domain_password(store, clock, totp, request, user_id, strength, false).await
}

/// Whether the flow's request (federation or OpenID Connect) asks for the domain password
/// after the certificate. A request that cannot be read asks for it: the later steps refuse
/// such a flow anyway, and a reading error must not skip a factor.
pub(crate) fn asks_domain_password(request: &str) -> bool {
    match FederationRequest::of(request) {
        Some(federation) => federation.wants_domain_password || federation.domain_password_always,
        None => serde_json::from_str::<AuthorizationRequest>(request)
            .map(|request| request.require_domain_password)
            .unwrap_or(true),
    }
}

/// The step after the certificate and, when one was asked for, the domain password: a
/// one-time code when the user has one enrolled, or when the application asks for
/// multi-factor and nothing has met it yet. The certificate itself when it is multi-factor,
/// or a domain password the directory accepted (`domain_password_verified`: something the
/// user knows next to the certificate they have, stated as two factors in the token), meets
/// such a request; an enrolled user still gives their code, as after a certificate alone.
pub(crate) async fn step_after_domain_password<S: TotpStore>(
    store: &S,
    clock: &Arc<dyn Clock>,
    totp: &TotpSettings,
    request: &str,
    user_id: &str,
    strength: &str,
    domain_password_verified: bool,
) -> FlowStep {
    if strength == "multi-factor" {
        return FlowStep::Confirmation;
    }
    let mfa_requested = !domain_password_verified
        && match FederationRequest::of(request) {
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

/// A federation sign-in kept in a login flow while the person signs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationRequest {
    /// `saml` or `wsfed`.
    pub protocol: String,
    /// The relying party's id (`rp_...`), looked up again when the token is issued: one
    /// removed or disabled meanwhile gets none.
    pub relying_party: String,
    /// The registered reply address the token goes to.
    pub reply_url: String,
    /// SAML: the AuthnRequest's ID (InResponseTo). None for IdP-initiated sign-in and WS-Fed.
    pub request_id: Option<String>,
    /// SAML RelayState or WS-Fed wctx, returned as given.
    pub relay_state: Option<String>,
    /// The relying party asked for multi-factor authentication.
    pub wants_mfa: bool,
    /// The name shown on the pages.
    pub relying_party_name: String,
    /// SAML: the RequestedAuthnContext the assertion's AuthnContextClassRef must meet. None
    /// when the request had none, and when a password class was answered with a fresh
    /// certificate sign-in (the assertion then states how the user really signed in). Absent
    /// in flows started before certgate kept it, hence the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_authn_context: Option<RequestedClasses>,
    /// The request asked for a password and the relying party meets that with the domain
    /// password: the sign-in asks for it after the certificate. Absent (false) in flows
    /// started before certgate had the step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wants_domain_password: bool,
    /// The relying party asks every sign-in for the domain password
    /// (`require_domain_password`), whatever the request said: the sign-in asks for it after
    /// the certificate, and the token states it as a second factor (`wants_domain_password`
    /// alone says a password sign-in was asked for). Absent (false) in flows started before
    /// certgate had the setting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub domain_password_always: bool,
}

/// A SAML RequestedAuthnContext as kept in a login flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedClasses {
    /// `exact`, `minimum`, `maximum` or `better`.
    pub comparison: String,
    /// The AuthnContextClassRef URIs asked for, in the request's order.
    pub class_refs: Vec<String>,
}

impl RequestedClasses {
    pub(crate) fn of(requested: &RequestedAuthnContext) -> RequestedClasses {
        RequestedClasses {
            comparison: requested.comparison.as_str().to_owned(),
            class_refs: requested.class_refs.clone(),
        }
    }

    /// None when the comparison is not one certgate wrote (a flow changed in the store).
    pub(crate) fn requested_authn_context(&self) -> Option<RequestedAuthnContext> {
        Some(RequestedAuthnContext {
            comparison: AuthnContextComparison::parse(&self.comparison)?,
            class_refs: self.class_refs.clone(),
        })
    }
}

/// How a flow's request is stored: OIDC requests are stored as they are; federation requests
/// inside this envelope, so that the two cannot be mistaken for each other.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    federation: FederationRequest,
}

impl FederationRequest {
    /// The request as the login flow stores it (inside an envelope that tells it from an OpenID
    /// Connect request); `None` if it cannot be written, which does not happen.
    pub fn serialize(&self) -> Option<String> {
        serde_json::to_string(&Envelope {
            federation: self.clone(),
        })
        .ok()
    }

    /// The federation request a flow holds, if it holds one.
    pub fn of(serialized: &str) -> Option<FederationRequest> {
        serde_json::from_str::<Envelope>(serialized)
            .ok()
            .map(|e| e.federation)
    }
}

/// Whether an OpenID Connect application asks for multi-factor (`acr_values`).
pub(crate) fn wants_mfa(request: &AuthorizationRequest) -> bool {
    request
        .acr_values
        .iter()
        .any(|acr| acr == ACR_MFA || acr == "http://schemas.microsoft.com/claims/multipleauthn")
}
