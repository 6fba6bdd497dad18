//! `GET /certauth` on the certificate sign-in listener: validates the certificate the TLS
//! handshake brought, records the attempt in the sign-in log and the metrics, and answers
//! with a page (or JSON for `Accept: application/json`) that gives the result, the reason
//! code, a correlation ID and what to do next.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use certgate_core::clock::Clock;
use certgate_core::signin::{
    check_certificate, correlation_id, CertificateRejection, SignInRecord, SignInResult,
};
use certgate_core::validation_state::SharedState;
use serde_json::json;

use crate::certauth::TlsClient;
use crate::metrics::Metrics;
use crate::signin_recorder::SignInRecorder;

/// What the sign-in handlers need.
pub struct SignInContext {
    pub state: Arc<SharedState>,
    pub clock: Arc<dyn Clock>,
    pub recorder: SignInRecorder,
    pub metrics: Metrics,
}

/// Routes of the certificate sign-in listener.
pub fn routes(context: Arc<SignInContext>) -> Router {
    Router::new()
        .route("/certauth", get(certauth))
        .with_state(context)
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// What a person should do about each rejection.
fn next_step(code: &str) -> &'static str {
    match code {
        "no-certificate" => "Choose your certificate when the browser or app asks for one. If it never asks, install your certificate (the .p12 file you were given) and try again in a new browser window.",
        "cert-revoked" | "cert-on-hold" => "This certificate has been revoked. Ask your administrator for a new one.",
        "cert-expired" => "This certificate has expired. Ask your administrator for a new one.",
        "cert-not-yet-valid" => "This certificate is not valid yet. Check your device's clock, or wait until it becomes valid.",
        "chain-incomplete" => "The certificate was issued by a CA this service does not trust. Use the certificate your organisation issued, or ask your administrator to trust its CA.",
        "crl-unavailable" | "crl-stale" => "The service cannot check whether your certificate has been revoked right now. Try again later; if it persists, tell your administrator (the CA's CRL is unavailable or out of date).",
        "eku-not-permitted" | "key-usage-not-permitted" => "This certificate is not meant for signing in (its key usage or extended key usage does not allow client authentication). Use your sign-in certificate.",
        _ => "Tell your administrator the reason code and correlation ID below.",
    }
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// A small page served by certgate itself: labelled, keyboard-usable, readable on a phone.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} – certgate</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         dt{{font-weight:600}}code{{word-break:break-all}}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>\n",
        title = escape(title),
    ))
}

async fn certauth(
    State(context): State<Arc<SignInContext>>,
    Extension(client): Extension<TlsClient>,
    headers: HeaderMap,
) -> Response {
    let correlation = correlation_id();
    let now = context.clock.now();
    let state = context.state.load();
    let started = Instant::now();
    let decision = check_certificate(&state, &client.chain, now);
    context
        .metrics
        .validation_took(started.elapsed().as_secs_f64());
    let leaf = client
        .chain
        .first()
        .and_then(|der| certgate_pki::Certificate::from_der(der).ok())
        .map(|c| certgate_pki::Identity::of(&c));
    let (result, code, detail) = match &decision {
        Ok(valid) => (
            SignInResult::Success,
            "ok".to_owned(),
            format!("certificate {} validated", valid.serial),
        ),
        Err(rejection) => (
            SignInResult::Failure,
            rejection.code().to_owned(),
            rejection.to_string(),
        ),
    };
    let record = SignInRecord {
        at: now,
        correlation_id: correlation.clone(),
        client_address: client.address.ip().to_string(),
        application: "certauth".into(),
        certificate_subject: leaf.as_ref().map(|i| i.subject.clone()),
        certificate_issuer: leaf.as_ref().map(|i| i.issuer.clone()),
        certificate_serial: leaf.as_ref().map(|i| i.serial.clone()),
        certificate_thumbprint: leaf.as_ref().map(|i| i.sha256_thumbprint.clone()),
        user: decision
            .as_ref()
            .ok()
            .and_then(|v| v.identity.upns.first().cloned()),
        binding_rule: None,
        strength: None,
        result,
        reason_code: code.clone(),
        detail: detail.clone(),
    };
    context.metrics.signin(result.as_str(), &code);
    if let Err(error) = context.recorder.record(record).await {
        // Fail closed: a sign-in that cannot be recorded does not happen.
        tracing::error!(code = error.code(), %error, correlation = %correlation, "the sign-in log is unavailable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            page(
                "Sign-in is unavailable",
                &format!(
                    "<p>The service cannot record sign-ins right now. Try again in a minute.</p><p>Correlation ID: <code>{correlation}</code></p>"
                ),
            ),
        )
            .into_response();
    }
    tracing::info!(correlation = %correlation, result = result.as_str(), code = %code, client = %client.address, "certificate sign-in");
    match decision {
        Ok(valid) => {
            if wants_json(&headers) {
                return axum::Json(json!({
                    "result": "success",
                    "correlationId": correlation,
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
            page(
                "Certificate accepted",
                &format!(
                    "<p>Your certificate is valid.</p><dl><dt>Subject</dt><dd>{}</dd><dt>Issuer</dt><dd>{}</dd><dt>Serial number</dt><dd><code>{}</code></dd></dl><p>Correlation ID: <code>{correlation}</code></p>",
                    escape(&valid.identity.subject),
                    escape(&valid.issuer),
                    escape(&valid.serial)
                ),
            )
            .into_response()
        }
        Err(rejection) => {
            let status = match rejection {
                CertificateRejection::NoCertificate => StatusCode::UNAUTHORIZED,
                _ => StatusCode::FORBIDDEN,
            };
            if wants_json(&headers) {
                return (
                    status,
                    axum::Json(json!({
                        "result": "failure",
                        "code": code,
                        "message": detail,
                        "correlationId": correlation,
                        "nextStep": next_step(&code),
                    })),
                )
                    .into_response();
            }
            (
                status,
                page(
                    "Sign-in failed",
                    &format!(
                        "<p role=\"alert\">{}</p><p><strong>What to do:</strong> {}</p><dl><dt>Reason code</dt><dd><code>{}</code></dd><dt>Correlation ID</dt><dd><code>{}</code></dd></dl>",
                        escape(&detail),
                        escape(next_step(&code)),
                        escape(&code),
                        escape(&correlation)
                    ),
                ),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
