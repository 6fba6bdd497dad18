//! `GET /certauth` on the certificate sign-in listener: validates the certificate the TLS
//! handshake brought, records the attempt in the sign-in log and the metrics, and answers
//! with a page (or JSON for `Accept: application/json`) that gives the result, the reason
//! code, a correlation ID and what to do next.

use certgate_core::directory::UserLookup;
use certgate_core::DirectoryStore;
use std::sync::Arc;
use std::time::Instant;

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use certgate_core::clock::Clock;
use certgate_core::login_flow::{FlowIdentity, FlowStep, LoginFlow, LoginFlowStore};
use certgate_core::signin::{
    correlation_id, AttemptContext, CertificateRejection, SignInAttempt, SignInError, SignedIn,
};
use certgate_core::totp::{TotpSettings, TotpStore};
use certgate_core::validation_state::{SharedState, ValidationState};
use serde_json::json;

use crate::certauth::TlsClient;
use crate::directory_snapshot::DirectorySnapshots;
use crate::flow::{browser_flow, step_after_certificate};
use crate::metrics::Metrics;
use crate::refusal::{wants_json, Refusal};
use crate::signin_recorder::SignInRecorder;

/// What the sign-in handlers need.
pub(crate) struct SignInContext<S> {
    /// The validation state (trusted CAs, CRLs) every presented chain is checked against.
    pub state: Arc<SharedState>,
    /// The time of validation and of the sign-in log's records.
    pub clock: Arc<dyn Clock>,
    /// The users a certificate maps to, the binding and strength rules, and the login flows.
    pub directory: Arc<S>,
    /// Commits every attempt to the sign-in log before it is answered.
    pub recorder: SignInRecorder,
    /// Counts attempts by result and reason code, and times validations.
    pub metrics: Metrics,
    /// The binding and strength rules and the users, for the store generation they were read
    /// at.
    pub directory_snapshots: DirectorySnapshots,
    /// When the web listener runs: its origin (to send the browser back to after an OpenID
    /// Connect sign-in) and the TOTP settings (to decide whether a code is needed).
    pub web: Option<(String, TotpSettings)>,
    /// How long a sign-in waits for the store in all (`[limits] store_timeout_seconds`).
    pub store_timeout: std::time::Duration,
}

/// What a sign-in reports when the store took longer than the store timeout.
pub(crate) fn store_timed_out(timeout: std::time::Duration) -> certgate_core::store::StoreError {
    certgate_core::store::StoreError::Unavailable {
        detail: format!(
            "the database did not answer within {} s (store_timeout_seconds)",
            timeout.as_secs_f32()
        ),
    }
}

impl<S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore> SignInContext<S> {
    /// A context with no cached rules, no web listener, and the default store timeout.
    pub(crate) fn new(
        state: Arc<SharedState>,
        clock: Arc<dyn Clock>,
        directory: Arc<S>,
        recorder: SignInRecorder,
        metrics: Metrics,
    ) -> Self {
        SignInContext {
            state,
            clock,
            directory,
            recorder,
            metrics,
            directory_snapshots: DirectorySnapshots::default(),
            web: None,
            store_timeout: crate::limits::DEFAULT_STORE_TIMEOUT,
        }
    }

    /// One sign-in attempt with `chain` against `state`: validated, mapped to a user with
    /// the rules and users of `state`'s generation (in memory when indexed), strength decided.
    /// Not recorded yet.
    pub(crate) async fn attempt(
        &self,
        state: &ValidationState,
        chain: &[Vec<u8>],
        context: AttemptContext<'_>,
    ) -> SignInAttempt {
        self.directory_snapshots
            .attempt(&self.directory, state, chain, context)
            .await
    }
}

/// Routes of the certificate sign-in listener.
pub(crate) fn routes<S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore>(
    context: Arc<SignInContext<S>>,
) -> Router {
    Router::new()
        .route("/certauth", get(certauth::<S>))
        .with_state(context)
}

/// What a person should do about a rejection: the reason-code reference's advice.
fn next_step(code: &str) -> &'static str {
    crate::reasons::find(code).map_or(
        "Tell your administrator the reason code and correlation ID below.",
        |reason| reason.what_to_do,
    )
}

async fn certauth<S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore>(
    State(context): State<Arc<SignInContext<S>>>,
    Extension(client): Extension<TlsClient>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let correlation = correlation_id();
    let now = context.clock.now();
    // A sign-in for an application (OpenID Connect): the flow must be this browser's.
    let flow = match (query.get("flow"), &context.web) {
        (Some(flow_id), Some(_)) => {
            match browser_flow(&*context.directory, &headers, flow_id, now).await {
                Ok(flow) if flow.step == FlowStep::Certificate => Some((flow_id.clone(), flow)),
                Ok(_) => return Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "flow-step-taken",
                    "This sign-in already has its certificate step. Go back to the application.",
                )
                .heading("Sign-in failed")
                .correlation(correlation)
                .into_response(),
                Err((status, code, message)) => {
                    return Refusal::new(status, code, message)
                        .heading("Sign-in failed")
                        .correlation(correlation)
                        .into_response()
                }
            }
        }
        _ => None,
    };
    let RecordedSignIn {
        decision,
        code,
        detail,
    } = match sign_in_and_record(&context, &client, "certauth", now, &correlation).await {
        Ok(attempt) => attempt,
        Err(unavailable) => return unavailable.into_response(),
    };
    match decision {
        Ok(signed_in) => {
            if let (Some((flow_id, flow)), Some((web_origin, totp))) = (flow, &context.web) {
                let user = &signed_in.binding.user;
                let strength = signed_in.strength.strength.as_str();
                let step = step_after_certificate(
                    &*context.directory,
                    &context.clock,
                    totp,
                    &flow.request,
                    user.id.as_str(),
                    strength,
                )
                .await;
                let signed_in_flow = LoginFlow {
                    identity: Some(FlowIdentity {
                        user_id: user.id.to_string(),
                        upn: user.upn.to_string(),
                        display_name: user.display_name.clone(),
                        certificate_serial: signed_in.certificate.serial.clone(),
                        certificate_issuer: signed_in.certificate.issuer.clone(),
                        strength: strength.to_owned(),
                        auth_time: now,
                        second_factor: None,
                        access_pass_redeemed_at: None,
                        certificate_der: client.chain.first().map(|der| der.to_vec()),
                        domain_password_verified_at: None,
                    }),
                    correlation_id: Some(correlation.clone()),
                    ..flow
                };
                // An authentication step: a cookie set before the certificate (planted, say)
                // is worthless after it; this browser gets the new one.
                let rebound = signed_in_flow
                    .authenticated(step)
                    .and_then(|(flow, secret)| {
                        let cookie =
                            crate::flow::flow_cookie(&flow_id, &secret, flow.seconds_left(now))?;
                        Some((flow, cookie))
                    });
                let Some((advanced, cookie)) = rebound else {
                    return Refusal::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "random-unavailable",
                        "certgate could not continue the sign-in. Try again in a minute.",
                    )
                    .heading("Sign-in is unavailable")
                    .correlation(correlation)
                    .into_response();
                };
                return match context
                    .directory
                    .advance_flow(&advanced, FlowStep::Certificate)
                    .await
                {
                    Ok(true) => (
                        StatusCode::SEE_OTHER,
                        [(
                            header::LOCATION,
                            format!("{web_origin}/signin/continue?flow={flow_id}"),
                        )],
                        [(header::SET_COOKIE, cookie)],
                    )
                        .into_response(),
                    Ok(false) => Refusal::new(
                        StatusCode::CONFLICT,
                        "flow-step-taken",
                        "This sign-in already has its certificate step. Go back to the application.",
                    )
                    .heading("Sign-in failed")
                    .correlation(correlation)
                    .into_response(),
                    Err(error) => Refusal::of_store(&error)
                        .correlation(correlation)
                        .into_response(),
                };
            }
            let valid = &signed_in.certificate;
            let user = &signed_in.binding.user;
            if wants_json(&headers) {
                return axum::Json(json!({
                    "result": "success",
                    "correlationId": correlation,
                    "user": {
                        "id": user.id.to_string(),
                        "userPrincipalName": user.upn.to_string(),
                        "displayName": user.display_name,
                    },
                    "bindingRule": signed_in.binding.rule.to_string(),
                    "authenticationStrength": signed_in.strength.strength.as_str(),
                    "certificate": {
                        "subject": valid.identity.subject,
                        "issuer": valid.issuer,
                        "serialNumber": valid.serial,
                        "sha256Thumbprint": valid.sha256_thumbprint,
                        "upn": valid.identity.upns,
                        "rfc822": valid.identity.rfc822_names,
                    },
                }))
                .into_response();
            }
            crate::pages::render(&crate::pages::CertificateAcceptedPage {
                title: "Certificate accepted",
                display_name: &user.display_name,
                upn: user.upn.as_str(),
                subject: &valid.identity.subject,
                issuer: &valid.issuer,
                serial: &valid.serial,
                strength: signed_in.strength.strength.as_str(),
                correlation: &correlation,
            })
        }
        Err(rejection) => {
            if let Some((_, flow)) = flow {
                let failed = LoginFlow {
                    step: FlowStep::Failed,
                    correlation_id: Some(correlation.clone()),
                    ..flow
                };
                let _ = context
                    .directory
                    .advance_flow(&failed, FlowStep::Certificate)
                    .await;
            }
            failed_sign_in(&rejection, code, detail, &correlation).into_response()
        }
    }
}

/// One certificate sign-in as `/certauth` makes it, shared by every page of the certificate
/// sign-in listener that acts for the person the certificate identifies (the device
/// provisioning page): the TLS client's chain validated against the current state, mapped to
/// one user by the binding rules, the strength decided, the metrics counted and the attempt
/// in the sign-in log under `application` — before the caller acts on it.
pub(crate) struct RecordedSignIn {
    pub(crate) decision: Result<SignedIn, SignInError>,
    /// `ok`, or the reason code.
    pub(crate) code: String,
    /// What the sign-in log keeps as the detail.
    pub(crate) detail: String,
}

/// See [`RecordedSignIn`]. `Err` is the refusal to answer with when the sign-in log cannot take
/// the attempt in time: a sign-in that cannot be recorded does not happen.
pub(crate) async fn sign_in_and_record<
    S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
>(
    context: &SignInContext<S>,
    client: &TlsClient,
    application: &str,
    now: certgate_pki::UnixTime,
    correlation: &str,
) -> Result<RecordedSignIn, Refusal> {
    let state = context.state.load();
    let started = Instant::now();
    let attempt_context = AttemptContext {
        at: now,
        correlation_id: correlation,
        client_address: client.address.ip(),
        application,
    };
    // Everything the sign-in asks the store, the record included, within one store timeout:
    // when the database is down the answer comes after that, not after each query's.
    let deadline = tokio::time::Instant::now() + context.store_timeout;
    let attempt = tokio::time::timeout_at(deadline, async {
        context
            .attempt(&state, &client.chain, attempt_context)
            .await
    })
    .await
    .unwrap_or_else(|_| {
        SignInAttempt::refused(
            attempt_context,
            &client.chain,
            SignInError::Store(store_timed_out(context.store_timeout)),
        )
    });
    context
        .metrics
        .validation_took(started.elapsed().as_secs_f64());
    let SignInAttempt { decision, record } = attempt;
    let (result, code, detail) = (
        record.result,
        record.reason_code.clone(),
        record.detail.clone(),
    );
    context.metrics.signin(result.as_str(), &code);
    let recorded = tokio::time::timeout_at(deadline, context.recorder.record(record))
        .await
        .unwrap_or_else(|_| Err(store_timed_out(context.store_timeout)));
    if let Err(error) = recorded {
        // Fail closed: a sign-in that cannot be recorded does not happen. The server log
        // keeps what the sign-in log could not: the attempt's outcome, under its correlation ID.
        tracing::error!(code = error.code(), %error, correlation = %correlation, outcome = %code, application, "the sign-in log is unavailable: the sign-in is refused");
        return Err(Refusal::store_unavailable(&error)
            .correlation(correlation)
            .heading("Sign-in is unavailable"));
    }
    tracing::info!(correlation = %correlation, application, result = result.as_str(), code = %code, client = %client.address, "certificate sign-in");
    Ok(RecordedSignIn {
        decision,
        code,
        detail,
    })
}

/// The status a failed sign-in is answered with: 401 without a certificate, 503 when the
/// store could not decide, 403 otherwise.
pub(crate) fn failure_status(rejection: &SignInError) -> StatusCode {
    match rejection {
        SignInError::Certificate(CertificateRejection::NoCertificate) => StatusCode::UNAUTHORIZED,
        SignInError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::FORBIDDEN,
    }
}

/// The refusal of a failed sign-in: the reason, what to do, the code and the correlation ID.
pub(crate) fn failed_sign_in(
    rejection: &SignInError,
    code: String,
    detail: String,
    correlation: &str,
) -> Refusal {
    let step = next_step(&code);
    Refusal::new(failure_status(rejection), code, detail)
        .heading("Sign-in failed")
        .next_step(step)
        .correlation(correlation)
}
