//! The sign-in pages of the web listener and the forms they post: the one-time code, a first
//! enrollment with a Temporary Access Pass, and "continue as".

use super::*;

pub(super) fn totp_form(flow_id: &str, upn: &str, problem: Option<&str>) -> Response {
    crate::pages::render(&crate::pages::TotpPage {
        title: "Enter your one-time code",
        flow: flow_id,
        upn,
        problem,
    })
}

/// Asks for the domain password after the certificate; `problem` is the last refusal (its
/// message and code).
pub(super) fn domain_password_form(flow_id: &str, upn: &str, problem: Option<&str>) -> Response {
    let mut response = crate::pages::render(&crate::pages::DomainPasswordPage {
        title: "Enter your domain password",
        flow: flow_id,
        upn,
        problem,
    });
    // The page holds no secret, but a form that takes a password is never cached.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) fn confirm_form(
    flow_id: &str,
    request: &AuthorizationRequest,
    flow: &LoginFlow,
) -> Response {
    let identity = flow.identity.as_ref();
    crate::pages::render(&crate::pages::ConfirmPage {
        title: "Continue?",
        flow: flow_id,
        application: &request.client_name,
        display_name: identity.map_or("", |i| i.display_name.as_str()),
        upn: identity.map_or("", |i| i.upn.as_str()),
    })
}

/// Asks for the Temporary Access Pass that unlocks a first enrollment. Without a live pass the
/// page says what to ask the administrator for, with its reason code; the form stays, so a pass
/// issued while the person waits can be typed at once. No QR code or key before the pass.
pub(super) async fn access_pass_page<S, P>(
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
pub(super) const REQUIRES_ACCESS_PASS: &str = "second-factor-enrollment-requires-access-pass";

pub(super) async fn enrollment_page<S, P>(
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

#[derive(serde::Deserialize)]
pub(super) struct CodeForm {
    flow: String,
    code: String,
}

pub(super) async fn totp<S, P>(
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

pub(super) async fn totp_enroll<S, P>(
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
pub(super) struct AccessPassForm {
    flow: String,
    pass: String,
}

/// Redeems a Temporary Access Pass in this flow (one use, across nodes) and records it on the
/// flow; the enrollment page follows.
pub(super) async fn access_pass<S, P>(
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
        return flow_incomplete();
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
    authentication_step(
        &context,
        flow,
        &form.flow,
        FlowStep::SecondFactor,
        FlowStep::SecondFactor,
    )
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct ConfirmForm {
    flow: String,
    decision: String,
}

pub(super) async fn confirm<S, P>(
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

#[derive(serde::Deserialize)]
pub(super) struct DomainPasswordForm {
    flow: String,
    password: String,
}

/// Checks the domain password of a flow waiting for it (the certificate step was taken in
/// this browser: the flow's cookie says so) and moves on to the one-time code or the end.
/// The password goes to the directory only; the audit log and the server log get the outcome
/// and its reason code.
pub(super) async fn domain_password<S, P>(
    State(context): State<Arc<WebContext<S, P>>>,
    client: Option<axum::Extension<crate::tls_client::TlsClient>>,
    headers: HeaderMap,
    Form(form): Form<DomainPasswordForm>,
) -> Response
where
    S: WebStore,
    P: RefreshPolicy,
{
    let DomainPasswordForm {
        flow: flow_id,
        password,
    } = form;
    let mut flow = match flow_at(&context, &headers, &flow_id, FlowStep::DomainPassword).await {
        Ok(flow) => flow,
        Err(response) => return response,
    };
    let Some(mut identity) = flow.identity.clone() else {
        return flow_incomplete();
    };
    let now = context.clock.now();
    let outcome = check_domain_password(&context, &identity, password, now).await;
    let (result, detail) = match &outcome {
        Ok(()) => ("ok", String::new()),
        Err(error) => (
            error.code(),
            error.detail().map(|d| format!(": {d}")).unwrap_or_default(),
        ),
    };
    let audit = AuditEvent::new(
        now,
        &format!("user:{}", identity.upn),
        "signin.domain-password",
        &identity.user_id,
        result,
        format!(
            "domain password after certificate {} ({}){detail}",
            identity.certificate_serial,
            flow.correlation_id
                .as_deref()
                .unwrap_or("no correlation id"),
        ),
    );
    // The sign-in log shows the step next to the certificate sign-in it follows (same
    // correlation ID), with the exact reason code of a refusal.
    let record = SignInRecord {
        at: now,
        correlation_id: flow.correlation_id.clone().unwrap_or_default(),
        client_address: client
            .map(|client| client.address.ip().to_string())
            .unwrap_or_default(),
        application: "domain-password".into(),
        certificate_subject: None,
        certificate_issuer: Some(identity.certificate_issuer.clone()),
        certificate_serial: Some(identity.certificate_serial.clone()),
        certificate_thumbprint: None,
        user: Some(identity.upn.clone()),
        binding_rule: None,
        strength: Some(identity.strength.clone()),
        result: if outcome.is_ok() {
            SignInResult::Success
        } else {
            SignInResult::Failure
        },
        reason_code: result.to_owned(),
        detail: match &outcome {
            Ok(()) => "the directory accepted the domain password".into(),
            Err(error) => format!("{error}{detail}"),
        },
    };
    // Fail closed: a password check that cannot be recorded does not sign anyone in.
    let recorded = match context.store.append_audit(&audit).await {
        Ok(()) => context.store.append_signins(&[record]).await,
        Err(error) => Err(error),
    };
    if let Err(error) = recorded {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code(),
            "certgate cannot record the sign-in right now. Try again in a minute.",
        );
    }
    if let Err(error) = outcome {
        tracing::info!(code = error.code(), upn = %identity.upn, detail = error.detail().unwrap_or_default(), "domain password refused");
        let message = format!("{} ({})", error, error.code());
        let mut response = domain_password_form(&flow_id, &identity.upn, Some(&message));
        *response.status_mut() = match error {
            DomainPasswordError::DirectoryUnreachable { .. }
            | DomainPasswordError::DirectoryTlsFailed { .. }
            | DomainPasswordError::DirectoryRefused { .. }
            | DomainPasswordError::LockoutUnavailable { .. }
            | DomainPasswordError::NotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            DomainPasswordError::LockedOut { .. } | DomainPasswordError::CheckInProgress => {
                StatusCode::TOO_MANY_REQUESTS
            }
            _ => StatusCode::UNAUTHORIZED,
        };
        return response;
    }
    identity.domain_password_verified_at = Some(now);
    let next = crate::flow::step_after_domain_password(
        &*context.store,
        &context.clock,
        &context.totp,
        &flow.request,
        &identity.user_id,
        &identity.strength,
        true,
    )
    .await;
    flow.identity = Some(identity);
    authentication_step(&context, flow, &flow_id, FlowStep::DomainPassword, next).await
}

/// The directory's answer for `identity`'s password, with certgate's lockout around it.
async fn check_domain_password<S, P>(
    context: &WebContext<S, P>,
    identity: &FlowIdentity,
    typed: String,
    now: certgate_pki::UnixTime,
) -> Result<(), DomainPasswordError>
where
    S: WebStore,
{
    let check = context
        .domain_password
        .as_ref()
        .ok_or(DomainPasswordError::NotConfigured)?;
    let password = DomainPassword::new(typed)?;
    // The DN the last sync recorded, for a directory that binds by DN.
    let dn = match certgate_core::directory::UserId::parse(&identity.user_id) {
        Some(id) => match context.store.user_by_id(&id).await {
            Ok(Some(user)) => match user.origin {
                certgate_core::directory::UserOrigin::Directory { dn, .. } => Some(dn),
                certgate_core::directory::UserOrigin::Local => None,
            },
            Ok(None) => None,
            Err(error) => {
                return Err(DomainPasswordError::DirectoryRefused {
                    detail: format!("the user could not be read: {error}"),
                })
            }
        },
        None => None,
    };
    let account = DomainAccount {
        upn: identity.upn.clone(),
        dn,
    };
    check
        .verify(&*context.store, &identity.user_id, &account, &password, now)
        .await
}
