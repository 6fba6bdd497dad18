//! The sign-in flow after the certificate: which page comes next, the second factor's end,
//! and the end of the flow (the code for an OpenID Connect client, the token for a relying
//! party).

use super::*;

pub(super) fn request_of(flow: &LoginFlow) -> Option<AuthorizationRequest> {
    serde_json::from_str(&flow.request).ok()
}

/// Issues the code for a flow whose sign-in is complete, and marks the flow done.
pub(super) async fn finish<S, P>(
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
    let identity = match mark_done(context, flow, expected).await {
        Ok(identity) => identity,
        Err(page) => return page,
    };
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
        domain_password: identity.domain_password_verified_at.is_some(),
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

/// Moves a signed-in flow from `expected` to done, once (the store's compare-and-set: a
/// second tab or a double click finds the step taken); the identity it signed in as, or the
/// page to answer instead.
async fn mark_done<S, P>(
    context: &WebContext<S, P>,
    flow: LoginFlow,
    expected: FlowStep,
) -> Result<FlowIdentity, Response>
where
    S: LoginFlowStore,
{
    let Some(identity) = flow.identity.clone() else {
        return Err(flow_incomplete());
    };
    let done = LoginFlow {
        step: FlowStep::Done,
        ..flow
    };
    match context.store.advance_flow(&done, expected).await {
        Ok(true) => Ok(identity),
        Ok(false) => Err(error_page(
            StatusCode::CONFLICT,
            "flow-step-taken",
            "This step of the sign-in was already taken (a second tab or a double click). Go back to the application.",
        )),
        Err(error) => Err(error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code(),
            "certgate cannot store the sign-in right now. Try again in a minute.",
        )),
    }
}

/// A flow asked to go on before its certificate sign-in.
pub(super) fn flow_incomplete() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "flow-incomplete",
        "This sign-in has no certificate sign-in yet.",
    )
}

/// Marks a federation flow done and posts its token to the relying party. There is no
/// "continue as" page: choosing the certificate for this application was the decision.
pub(super) async fn finish_federation<S, P>(
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
    let identity = match mark_done(context, flow, FlowStep::Confirmation).await {
        Ok(identity) => identity,
        Err(page) => return page,
    };
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
pub(super) async fn next_page<S, P>(
    context: &WebContext<S, P>,
    flow: LoginFlow,
    flow_id: &str,
) -> Response
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
        FlowStep::DomainPassword => domain_password_form(flow_id, &upn, None),
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

/// The flow a page's form names, when this browser started it and it waits at `step`; else the
/// error page to show.
pub(super) async fn flow_at<S: LoginFlowStore, P>(
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

/// Records the second factor the flow passed (`otp` or `access-pass`) and moves on.
pub(super) async fn second_factor_done<S, P>(
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
    authentication_step(
        context,
        flow,
        flow_id,
        FlowStep::SecondFactor,
        FlowStep::Confirmation,
    )
    .await
}

/// Takes an authentication step of a flow waiting at `from` (the domain password or the
/// second factor): the flow moves to `next` bound to a new secret in this browser (set as its
/// cookie on the next page), in one compare-and-set, so a cookie from before the step is
/// worthless after it.
pub(super) async fn authentication_step<S, P>(
    context: &WebContext<S, P>,
    flow: LoginFlow,
    flow_id: &str,
    from: FlowStep,
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
    match context.store.advance_flow(&flow, from).await {
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

pub(super) async fn continue_sign_in<S, P>(
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
