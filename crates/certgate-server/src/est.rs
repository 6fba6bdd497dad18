//! Enrollment over Secure Transport (RFC 7030) on the certificate sign-in listener:
//!
//! - `GET /.well-known/est/cacerts` (§4.1): certgate's issuing and root CA certificates as a
//!   certs-only CMS SignedData, base64 DER, `application/pkcs7-mime`;
//! - `POST /.well-known/est/simpleenroll` (§4.2.1): a base64 DER PKCS#10 request
//!   (`application/pkcs10`), authenticated by HTTP Basic with the user's UPN and a one-time
//!   enrollment code (§3.2.3); the certificate comes back certs-only (§4.2.3);
//! - `POST /.well-known/est/simplereenroll` (§4.2.2): the same, authenticated by the TLS client
//!   certificate, which must sign in exactly as at `/certauth` (valid, not revoked, mapped to
//!   one enabled user) and be one certgate issued (`est-reenroll-not-issued-here` otherwise).
//!   The renewal records it as its parent, so revoking it revokes the renewal.
//!
//! The subject and SAN of every certificate come from the directory, never from the request:
//! the CSR's subject and extensions are ignored, also on re-enrollment, where §4.2.2 expects
//! the CSR's subject to repeat the current certificate's (certgate does not check it, since it
//! does not use it). The channel binding of §3.5 (tls-unique in the CSR's challengePassword)
//! is not required: TLS 1.3 has no tls-unique, and the code or certificate already
//! authenticates this very request.
//!
//! Handlers are thin: HTTP framing, Basic credentials and base64 here; the rules are
//! `certgate_core::enrollment`'s. Every attempt goes to the sign-in log (application
//! `est-simpleenroll` / `est-simplereenroll`), every refusal and issuance to the audit log.

use certgate_core::directory::UserLookup;
use certgate_core::DirectoryStore;
use certgate_core::Store;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine as _;
use certgate_core::authority::{AuthorityRole, PkiSettings};
use certgate_core::clock::Clock;
use certgate_core::enrollment::{
    Enrolled, Enrollment, EnrollmentCodeStore, EnrollmentError, DEFAULT_EST_VALIDITY_DAYS,
};
use certgate_core::login_flow::LoginFlowStore;
use certgate_core::signin::{correlation_id, SignInError, SignInRecord, SignInResult};
use certgate_core::totp::TotpStore;
use serde_json::json;

use crate::certauth::TlsClient;
use crate::refusal::wants_json;
use crate::signin_http::{sign_in_and_record, RecordedSignIn, SignInContext};

/// Largest request body accepted: a base64 PKCS#10 request is well under 4 KiB even for
/// RSA-8192; 16 KiB leaves room for line breaks and attributes and bounds the work a
/// caller can cause before it has authenticated.
pub(crate) const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// What RFC 7030 §3.2.3 tells a client that must authenticate with HTTP Basic.
const BASIC_CHALLENGE: &str = "Basic realm=\"certgate EST\", charset=\"UTF-8\"";

/// What the EST handlers need.
pub(crate) struct EstContext<S> {
    /// The certificate sign-in (re-enrollment signs in exactly as `/certauth`), its log and
    /// metrics.
    pub signin: Arc<SignInContext<S>>,
    /// The store enrollment codes, certgate's CA and the issued certificates are kept in.
    pub store: Arc<S>,
    /// The time certificates are issued at and enrollment codes checked at.
    pub clock: Arc<dyn Clock>,
    /// certgate's CA, to issue with; `None` when `serve` runs without it (then only
    /// `cacerts` answers).
    pub pki: Option<PkiSettings>,
    /// Validity of certificates issued over EST.
    pub validity_days: u32,
}

impl<S> EstContext<S> {
    /// A context whose certificates are valid for [`DEFAULT_EST_VALIDITY_DAYS`] days (set
    /// `validity_days` for another validity).
    pub(crate) fn new(
        signin: Arc<SignInContext<S>>,
        store: Arc<S>,
        clock: Arc<dyn Clock>,
        pki: Option<PkiSettings>,
    ) -> Self {
        EstContext {
            signin,
            store,
            clock,
            pki,
            validity_days: DEFAULT_EST_VALIDITY_DAYS,
        }
    }
}

/// The bounds the handlers need of the store.
pub(crate) trait EstStore:
    Store + DirectoryStore + UserLookup + LoginFlowStore + TotpStore + EnrollmentCodeStore
{
}

impl<S> EstStore for S where
    S: Store + DirectoryStore + UserLookup + LoginFlowStore + TotpStore + EnrollmentCodeStore
{
}

/// The EST routes (RFC 7030 §3.2.2, without the optional CA label).
pub(crate) fn routes<S: EstStore>(context: Arc<EstContext<S>>) -> Router {
    Router::new()
        .route("/.well-known/est/cacerts", get(cacerts::<S>))
        .route("/.well-known/est/simpleenroll", post(simpleenroll::<S>))
        .route("/.well-known/est/simplereenroll", post(simplereenroll::<S>))
        .with_state(context)
}

/// A refusal: a status, a stable code and a message for people. RFC 7030 §4.2.3 asks for a
/// human-readable body; `Accept: application/json` gets the same as JSON.
struct Refusal {
    status: StatusCode,
    code: String,
    message: String,
    /// Ask for HTTP Basic credentials (RFC 7235 §4.1).
    basic_challenge: bool,
}

impl Refusal {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code: code.to_owned(),
            message: message.into(),
            basic_challenge: false,
        }
    }

    fn of_enrollment(error: &EnrollmentError) -> Refusal {
        let status = if error.is_authentication_failure() {
            StatusCode::UNAUTHORIZED
        } else {
            match error {
                EnrollmentError::Csr(_) => StatusCode::BAD_REQUEST,
                EnrollmentError::Pki(certgate_core::authority::PkiError::DerivedLimit {
                    ..
                }) => StatusCode::CONFLICT,
                EnrollmentError::UserDisabled { .. }
                | EnrollmentError::UserNotFound { .. }
                | EnrollmentError::ReenrollNotIssuedHere { .. }
                | EnrollmentError::Pki(certgate_core::authority::PkiError::ParentRevoked {
                    ..
                }) => StatusCode::FORBIDDEN,
                EnrollmentError::Store(_)
                | EnrollmentError::RandomnessUnavailable
                | EnrollmentError::Pki(certgate_core::authority::PkiError::NotInitialised)
                | EnrollmentError::Pki(certgate_core::authority::PkiError::PassphraseRequired {
                    ..
                })
                | EnrollmentError::Pki(certgate_core::authority::PkiError::Store(_)) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            }
        };
        Refusal {
            status,
            code: error.code().to_owned(),
            message: error.to_string(),
            basic_challenge: error.is_authentication_failure(),
        }
    }

    fn respond(self, headers: &HeaderMap, correlation: &str) -> Response {
        let mut response = if wants_json(headers) {
            (
                self.status,
                axum::Json(json!({
                    "error": {
                        "code": self.code,
                        "message": self.message,
                        "correlationId": correlation,
                    }
                })),
            )
                .into_response()
        } else {
            (
                self.status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!(
                    "{}\nReason code: {}\nCorrelation ID: {correlation}\n",
                    self.message, self.code
                ),
            )
                .into_response()
        };
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(BASIC_CHALLENGE),
            );
        }
        response
    }
}

/// A base64 certs-only SignedData response (RFC 7030 §4.1.3, §4.2.3; RFC 8951 §3: base64
/// with line breaks allowed, the Content-Transfer-Encoding header kept for older clients).
fn pkcs7_response(certificates: &[&[u8]], content_type: &'static str) -> Response {
    let der = certgate_ca::certs_only(certificates);
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut body = String::with_capacity(encoded.len() + encoded.len() / 64 + 1);
    for line in encoded.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        body.push_str(std::str::from_utf8(line).unwrap_or_default());
        body.push('\n');
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::HeaderName::from_static("content-transfer-encoding"),
                "base64",
            ),
        ],
        body,
    )
        .into_response()
}

async fn cacerts<S: EstStore>(
    State(context): State<Arc<EstContext<S>>>,
    headers: HeaderMap,
) -> Response {
    let correlation = correlation_id();
    let authorities = match context.store.authorities().await {
        Ok(authorities) => authorities,
        Err(error) => {
            return Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                error.to_string(),
            )
            .respond(&headers, &correlation)
        }
    };
    let find = |role| authorities.iter().find(|a| a.role == role);
    match (find(AuthorityRole::Issuing), find(AuthorityRole::Root)) {
        (Some(issuing), Some(root)) => pkcs7_response(
            &[&issuing.certificate_der, &root.certificate_der],
            "application/pkcs7-mime",
        ),
        _ => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "pki-not-initialised",
            "certgate's CA is not initialised, so there is nothing to enroll with; the administrator runs `certgate pki init` first",
        )
        .respond(&headers, &correlation),
    }
}

/// Reads a base64 DER PKCS#10 body (RFC 7030 §4.2.1, RFC 8951 §3), bounded.
async fn csr_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "est-request-too-large",
            format!("the request body is larger than {MAX_REQUEST_BYTES} bytes; send one base64 PKCS#10 request"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_REQUEST_BYTES as u64) {
        return Err(too_large());
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/pkcs10") {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "est-content-type-unsupported",
            "the request must be a base64 DER PKCS#10 request with Content-Type: application/pkcs10 (RFC 7030 §4.2.1)",
        ));
    }
    let bytes = to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| too_large())?;
    // RFC 8951 §3: base64 with or without line breaks; any other character is an error.
    let text: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|_| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "est-body-not-base64",
                "the request body is not base64: send the DER request base64-encoded (e.g. `openssl req ... -outform DER | base64`), not PEM or binary",
            )
        })?;
    if der.is_empty() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "csr-malformed",
            "the request body is empty; send a base64 DER PKCS#10 request",
        ));
    }
    Ok(der)
}

/// HTTP Basic credentials (RFC 7617): user name and password, each `None` when absent. A
/// header that is not Basic or does not decode counts as no credentials.
fn basic_credentials(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let decoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, value) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(value.trim())
        })
        .and_then(|value| base64::engine::general_purpose::STANDARD.decode(value).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|text| text.split_once(':')) {
        Some((user, password)) => (
            Some(user.to_owned()).filter(|u| !u.is_empty()),
            Some(password.to_owned()).filter(|p| !p.is_empty()),
        ),
        None => (None, None),
    }
}

/// The certificate issued, certs-only (RFC 7030 §4.2.3).
fn enrolled_response(enrolled: &Enrolled) -> Response {
    pkcs7_response(
        &[&enrolled.issued.certificate_der],
        "application/pkcs7-mime; smime-type=certs-only",
    )
}

fn no_ca(headers: &HeaderMap, correlation: &str) -> Response {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "est-ca-unavailable",
        "this server does not run certgate's CA (no key passphrase configured), so it cannot issue certificates",
    )
    .respond(headers, correlation)
}

async fn simpleenroll<S: EstStore>(
    State(context): State<Arc<EstContext<S>>>,
    Extension(client): Extension<TlsClient>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let correlation = correlation_id();
    let now = context.clock.now();
    let (username, code) = basic_credentials(&headers);
    let outcome = match (&context.pki, csr_body(&headers, body).await) {
        (None, _) => {
            return no_ca(&headers, &correlation);
        }
        (Some(_), Err(refusal)) => Err(refusal),
        (Some(pki), Ok(der)) => Enrollment {
            store: &*context.store,
            clock: &context.clock,
            pki,
            validity_days: context.validity_days,
        }
        .with_code(username.as_deref(), code.as_deref(), &der)
        .await
        .map_err(|error| Refusal::of_enrollment(&error)),
    };
    // The sign-in log keeps every attempt; the secret code never goes into it.
    let record = SignInRecord {
        at: now,
        correlation_id: correlation.clone(),
        client_address: client.address.ip().to_string(),
        application: "est-simpleenroll".into(),
        certificate_subject: None,
        certificate_issuer: None,
        certificate_serial: None,
        certificate_thumbprint: None,
        user: match &outcome {
            Ok(enrolled) => Some(enrolled.user.upn.to_string()),
            Err(_) => username
                .as_deref()
                .map(|u| u.chars().filter(|c| !c.is_control()).take(120).collect()),
        },
        binding_rule: None,
        strength: None,
        result: if outcome.is_ok() {
            SignInResult::Success
        } else {
            SignInResult::Failure
        },
        reason_code: match &outcome {
            Ok(_) => "ok".into(),
            Err(refusal) => refusal.code.clone(),
        },
        detail: match &outcome {
            Ok(enrolled) => issued_detail(enrolled, "enrollment code"),
            Err(refusal) => refusal.message.clone(),
        },
    };
    finish(&context, record, outcome, &headers, &correlation).await
}

async fn simplereenroll<S: EstStore>(
    State(context): State<Arc<EstContext<S>>>,
    Extension(client): Extension<TlsClient>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let correlation = correlation_id();
    let now = context.clock.now();
    let Some(pki) = &context.pki else {
        return no_ca(&headers, &correlation);
    };
    // Authentication first, exactly as /certauth: validated, not revoked, one enabled user.
    let RecordedSignIn {
        decision,
        code,
        detail,
    } = match sign_in_and_record(
        &context.signin,
        &client,
        "est-simplereenroll",
        now,
        &correlation,
    )
    .await
    {
        Ok(attempt) => attempt,
        Err(unavailable) => {
            return Refusal::new(unavailable.status, &unavailable.code, unavailable.message)
                .respond(&headers, &unavailable.correlation)
        }
    };
    let signed_in = match decision {
        Ok(signed_in) => signed_in,
        Err(rejection) => {
            let status = match rejection {
                SignInError::Certificate(
                    certgate_core::signin::CertificateRejection::NoCertificate,
                ) => StatusCode::UNAUTHORIZED,
                SignInError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::FORBIDDEN,
            };
            return Refusal::new(
                status,
                &code,
                format!("re-enrollment needs a current certificate that signs in: {detail}"),
            )
            .respond(&headers, &correlation);
        }
    };
    let der = match csr_body(&headers, body).await {
        Ok(der) => der,
        Err(refusal) => return refusal.respond(&headers, &correlation),
    };
    let enrollment = Enrollment {
        store: &*context.store,
        clock: &context.clock,
        pki,
        validity_days: context.validity_days,
    };
    match enrollment
        .renewal(&signed_in.binding.user, &signed_in.certificate, &der)
        .await
    {
        Ok(enrolled) => {
            tracing::info!(correlation = %correlation, user = %enrolled.user.upn, serial = %certgate_core::hex(&enrolled.issued.serial), "EST re-enrollment");
            enrolled_response(&enrolled)
        }
        Err(error) => Refusal::of_enrollment(&error).respond(&headers, &correlation),
    }
}

fn issued_detail(enrolled: &Enrolled, how: &str) -> String {
    format!(
        "certificate {} issued to {} by {how} (the request's subject \"{}\" was ignored)",
        certgate_core::hex(&enrolled.issued.serial),
        enrolled.user.upn,
        enrolled.ignored_subject
    )
}

/// Records the attempt (failing closed when the sign-in log is unavailable, as /certauth
/// does) and answers.
async fn finish<S: EstStore>(
    context: &EstContext<S>,
    record: SignInRecord,
    outcome: Result<Enrolled, Refusal>,
    headers: &HeaderMap,
    correlation: &str,
) -> Response {
    context
        .signin
        .metrics
        .signin(record.result.as_str(), &record.reason_code);
    tracing::info!(correlation = %correlation, application = %record.application, code = %record.reason_code, "EST enrollment");
    if let Err(error) = context.signin.recorder.record(record).await {
        tracing::error!(code = error.code(), %error, correlation = %correlation, "the sign-in log is unavailable");
        return Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code(),
            "the service cannot record enrollments right now; try again in a minute",
        )
        .respond(headers, correlation);
    }
    match outcome {
        Ok(enrolled) => enrolled_response(&enrolled),
        Err(refusal) => refusal.respond(headers, correlation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn basic_credentials_are_read_and_anything_else_is_none() {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode("alice@contoso.example:AB-CD");
        assert_eq!(
            basic_credentials(&headers(&[("authorization", &format!("Basic {encoded}"))])),
            (Some("alice@contoso.example".into()), Some("AB-CD".into()))
        );
        // A colon in the password stays in the password (RFC 7617 §2).
        let encoded = base64::engine::general_purpose::STANDARD.encode("a@b:c:d");
        assert_eq!(
            basic_credentials(&headers(&[("authorization", &format!("basic  {encoded}"))])).1,
            Some("c:d".into())
        );
        for value in ["Bearer abc", "Basic !!!", "Basic", "Basic Zm9v"] {
            assert_eq!(
                basic_credentials(&headers(&[("authorization", value)])),
                (None, None),
                "{value}"
            );
        }
        assert_eq!(basic_credentials(&HeaderMap::new()), (None, None));
    }

    #[tokio::test]
    async fn bodies_need_the_pkcs10_type_base64_and_a_bounded_size() {
        let ok = headers(&[("content-type", "application/pkcs10")]);
        let der = csr_body(&ok, Body::from("MII\r\nB\nAA==\n"))
            .await
            .map_err(|r| r.code)
            .expect("line breaks are allowed");
        assert_eq!(der, [0x30, 0x82, 0x01, 0x00]);
        let refused = |headers: HeaderMap, body: &'static str| async move {
            csr_body(&headers, Body::from(body))
                .await
                .expect_err("refused")
                .code
        };
        assert_eq!(
            refused(headers(&[("content-type", "text/plain")]), "MIIB").await,
            "est-content-type-unsupported"
        );
        assert_eq!(
            refused(ok.clone(), "-----BEGIN CERTIFICATE REQUEST-----").await,
            "est-body-not-base64"
        );
        assert_eq!(refused(ok.clone(), "").await, "csr-malformed");
        let large = "A".repeat(MAX_REQUEST_BYTES + 4);
        let error = csr_body(&ok, Body::from(large)).await.expect_err("large");
        assert_eq!(error.code, "est-request-too-large");
        assert_eq!(error.status, StatusCode::PAYLOAD_TOO_LARGE);
        let declared = headers(&[
            ("content-type", "application/pkcs10"),
            ("content-length", "1000000"),
        ]);
        assert_eq!(refused(declared, "MIIB").await, "est-request-too-large");
    }

    #[test]
    fn authentication_failures_ask_for_basic_credentials() {
        let response =
            Refusal::of_enrollment(&EnrollmentError::CodeInvalid).respond(&HeaderMap::new(), "c");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE),
            Some(&HeaderValue::from_static(BASIC_CHALLENGE))
        );
        let response = Refusal::of_enrollment(&EnrollmentError::Csr(
            certgate_pki::CsrError::SignatureInvalid,
        ))
        .respond(&HeaderMap::new(), "c");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
