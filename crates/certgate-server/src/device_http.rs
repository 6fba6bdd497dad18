//! `/my/device` on the certificate sign-in listener: the self-service page where a person who
//! signs in with their certificate gets a new certificate for a phone or tablet, packed as an
//! Apple configuration profile (signed by certgate's CA), an Android / MDM JSON profile or a
//! bare PKCS#12.
//!
//! Every request — the form and its submission — is a certificate sign-in exactly as
//! `/certauth` makes it (`signin_http::sign_in_and_record`: validation against the current
//! trust and CRL snapshot, username binding, strength, the sign-in log under
//! `device-provisioning`), so a revoked or unmapped certificate gets the sign-in failure page
//! and nothing else. The certificate issued is always for the user the presented certificate
//! maps to; the form has no user field.
//!
//! A person who has an authenticator app set up enters its current code with the form, as any
//! sign-in of theirs asks for it (unless the certificate itself is multi-factor): the page
//! hands out a new certificate and key, so a stolen certificate alone must not be enough to
//! mint more. Without the key passphrase that opens authenticator secrets the page refuses
//! such a person (`device-second-factor-unavailable`) rather than skip the code.
//!
//! The browser presents the certificate to any page's request, including another site's
//! auto-submitting form, so a submission the browser marks as cross-site (`Sec-Fetch-Site`,
//! or an `Origin` that is not this listener) is refused with `device-cross-site-request`
//! before anything else happens, as the admin API does for certificate-authenticated changes.

use certgate_core::DirectoryStore;
use certgate_core::Store;
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use certgate_core::authority::{BuiltInCa, DerivedFor, PkiSettings};
use certgate_core::device::{
    check_pkcs12_password, provision_device, DeviceError, DeviceProfileRequest, EasHost, Platform,
    ProfileSigning, MIN_PASSWORD_CHARS,
};
use certgate_core::directory::{User, UserLookup};
use certgate_core::login_flow::LoginFlowStore;
use certgate_core::signin::{correlation_id, ValidCertificate};
use certgate_core::strength::Strength;
use certgate_core::totp::{TotpService, TotpServiceError, TotpSettings, TotpStore};
use zeroize::Zeroizing;

use crate::certauth::TlsClient;
use crate::refusal::Refusal;
use crate::signin_http::{failed_sign_in, sign_in_and_record, RecordedSignIn, SignInContext};

/// The page's path.
pub(crate) const DEVICE_PATH: &str = "/my/device";

/// What the sign-in log calls this page.
const APPLICATION: &str = "device-provisioning";

/// What the device page needs besides the sign-in.
struct DeviceContext<S> {
    signin: Arc<SignInContext<S>>,
    /// certgate's CA settings (key passphrase, publication URLs); `None`: the page answers
    /// 503 `device-provisioning-unavailable`.
    pki: Option<PkiSettings>,
    /// Filled into the form's Exchange ActiveSync host field.
    default_eas_host: Option<String>,
    /// Opens authenticator secrets to check the code of a person who has one; `None`: such a
    /// person is refused (`device-second-factor-unavailable`).
    totp: Option<TotpSettings>,
}

/// What the sign-in of one request established.
struct DeviceSignIn {
    user: User,
    /// The certificate signed in with, validated.
    certificate: ValidCertificate,
    correlation: String,
    /// The certificate alone is multi-factor (a smart card's, by the strength rules).
    multi_factor_certificate: bool,
}

/// The page's routes, to be merged into the certificate sign-in listener's router.
///
/// `pki` is the built-in CA's settings (`None` when the server does not run it: the page then
/// says so); `default_eas_host` pre-fills the form (for example the front door's public host
/// name). `totp` checks authenticator codes (`None`: a person with an authenticator is
/// refused with `device-second-factor-unavailable`).
pub(crate) fn routes<S>(
    signin: Arc<SignInContext<S>>,
    pki: Option<PkiSettings>,
    totp: Option<TotpSettings>,
    default_eas_host: Option<String>,
) -> Router
where
    S: Store + DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    let context = Arc::new(DeviceContext {
        signin,
        pki,
        default_eas_host,
        totp,
    });
    Router::new()
        .route(DEVICE_PATH, get(form::<S>).post(submit::<S>))
        .with_state(context)
}

/// The sign-in of one request, or the response that ends the request.
async fn signed_in_user<S>(
    context: &DeviceContext<S>,
    client: &TlsClient,
) -> Result<DeviceSignIn, Response>
where
    S: Store + DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    let correlation = correlation_id();
    let now = context.signin.clock.now();
    let RecordedSignIn {
        decision,
        code,
        detail,
    } = sign_in_and_record(&context.signin, client, APPLICATION, now, &correlation)
        .await
        .map_err(IntoResponse::into_response)?;
    match decision {
        Ok(signed_in) => Ok(DeviceSignIn {
            multi_factor_certificate: signed_in.strength.strength == Strength::MultiFactor,
            user: signed_in.binding.user,
            certificate: signed_in.certificate,
            correlation,
        }),
        Err(rejection) => {
            Err(failed_sign_in(&rejection, code, detail, &correlation).into_response())
        }
    }
}

fn unavailable() -> Response {
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "device-provisioning-unavailable",
        "This server does not run certgate's CA (or does not hold its key passphrase), so it cannot issue device certificates. Ask your administrator.",
        "",
    )
}

/// An error page with its reason code (and the correlation ID of the sign-in, when there was
/// one).
fn refusal(status: StatusCode, code: &str, message: &str, correlation: &str) -> Response {
    let refusal = Refusal::new(status, code.to_owned(), message.to_owned())
        .heading("Device set-up failed")
        .link(DEVICE_PATH, "Back to the form");
    if correlation.is_empty() {
        refusal.into_response()
    } else {
        refusal.correlation(correlation).into_response()
    }
}

/// `GET /my/device`: signs in and shows the form.
async fn form<S>(
    State(context): State<Arc<DeviceContext<S>>>,
    Extension(client): Extension<TlsClient>,
) -> Response
where
    S: Store + DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    let signed_in = match signed_in_user(&context, &client).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    if context.pki.is_none() {
        return unavailable();
    }
    let ask_totp_code = match second_factor_enrolled(&context, &signed_in).await {
        Ok(enrolled) => enrolled,
        Err(response) => return response,
    };
    let DeviceSignIn {
        user, correlation, ..
    } = signed_in;
    let mut response = crate::pages::render(&crate::pages::DeviceFormPage {
        title: "Set up a device",
        action: DEVICE_PATH,
        display_name: &user.display_name,
        upn: user.upn.as_str(),
        eas_host: context.default_eas_host.as_deref().unwrap_or(""),
        min_password_chars: MIN_PASSWORD_CHARS,
        ask_totp_code,
        correlation: &correlation,
    });
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /my/device`: signs in again, checks the form and answers with the file.
async fn submit<S>(
    State(context): State<Arc<DeviceContext<S>>>,
    Extension(client): Extension<TlsClient>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response
where
    S: Store + DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    if crate::admin_api::from_another_site(&headers, &uri) {
        tracing::info!(client = %client.address, "device provisioning refused: cross-site request");
        return refusal(
            StatusCode::FORBIDDEN,
            "device-cross-site-request",
            "This request came from another site's page. Open the device set-up page yourself and submit the form there.",
            "",
        );
    }
    let signed_in = match signed_in_user(&context, &client).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let Some(pki) = &context.pki else {
        return unavailable();
    };
    let Ok(Form(fields)) = form else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "device-form-invalid",
            "The form could not be read. Open the device set-up page again and submit the form from there.",
            &signed_in.correlation,
        );
    };
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    let correlation = signed_in.correlation.as_str();
    let Some(platform) = Platform::parse(field("platform")) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "device-platform-invalid",
            "Choose the kind of device: iPhone or iPad, Android, or the certificate only.",
            correlation,
        );
    };
    let password = Zeroizing::new(field("password").to_owned());
    if *password != field("password_confirm") {
        return refusal(
            StatusCode::BAD_REQUEST,
            "device-p12-password-mismatch",
            "The two passwords differ. Type the same password twice.",
            correlation,
        );
    }
    if let Err(error) = check_pkcs12_password(&password) {
        return device_refusal(&error, correlation);
    }
    let eas_host = Some(field("eas_host").trim())
        .filter(|host| !host.is_empty())
        .map(str::to_owned);
    if let Some(host) = &eas_host {
        if let Err(error) = EasHost::parse(host) {
            return device_refusal(&error, correlation);
        }
    }
    let mut request = DeviceProfileRequest::new(platform, eas_host, password);
    // A profile from this page is always signed: the device then shows who it comes from.
    if platform == Platform::Ios {
        request.signing = ProfileSigning::SignedByIssuingCa;
    }
    // Last of the checks, so a form the page sends back does not use up a code.
    match second_factor_enrolled(&context, &signed_in).await {
        Ok(false) => {}
        Ok(true) => {
            if let Err(response) =
                check_second_factor(&context, &signed_in, field("totp_code")).await
            {
                return response;
            }
        }
        Err(response) => return response,
    }
    let DeviceSignIn {
        user,
        certificate: presented,
        ..
    } = &signed_in;
    let actor = format!("self-service:{}", user.upn);
    // The new certificate is worth no more than the one that got it: recorded as its child,
    // it is revoked with it.
    request.parent = match BuiltInCa::new(
        &*context.signin.directory,
        &context.signin.clock,
        pki,
        &actor,
    )
    .derivation_parent(presented, DerivedFor::Device)
    .await
    {
        Ok(parent) => Some(parent),
        Err(error) => return device_refusal(&DeviceError::Pki(error), correlation),
    };
    let provisioned = provision_device(
        &*context.signin.directory,
        &context.signin.clock,
        pki,
        &actor,
        user,
        &request,
    )
    .await;
    match provisioned {
        Ok(profile) => {
            tracing::info!(correlation = %correlation, user = %user.upn, platform = %platform, serial = %certgate_core::hex(&profile.serial), "device profile issued");
            let disposition = format!("attachment; filename=\"{}\"", profile.file_name);
            let mut response = profile.bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(profile.content_type),
            );
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => device_refusal(&error, correlation),
    }
}

/// Whether the signed-in person must enter an authenticator code: they have one set up and
/// the certificate alone is not multi-factor. A directory that cannot say ends the request.
async fn second_factor_enrolled<S: TotpStore>(
    context: &DeviceContext<S>,
    signed_in: &DeviceSignIn,
) -> Result<bool, Response> {
    if signed_in.multi_factor_certificate {
        return Ok(false);
    }
    match context
        .signin
        .directory
        .totp_secrets(signed_in.user.id.as_str())
        .await
    {
        Ok(secrets) => Ok(secrets.active.is_some()),
        Err(error) => {
            tracing::error!(code = error.code(), %error, correlation = %signed_in.correlation, "device provisioning: authenticator state unreadable");
            Err(refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                "Whether your account has an authenticator app could not be read, so no certificate was issued. Try again later; if it persists, tell your administrator.",
                &signed_in.correlation,
            ))
        }
    }
}

/// Checks the authenticator code sent with the form (a code is used up once accepted, and
/// wrong codes count towards the lockout, as at sign-in).
async fn check_second_factor<S: TotpStore>(
    context: &DeviceContext<S>,
    signed_in: &DeviceSignIn,
    code: &str,
) -> Result<(), Response> {
    let Some(settings) = &context.totp else {
        tracing::error!(user = %signed_in.user.upn, correlation = %signed_in.correlation, "device provisioning refused: an authenticator code is needed and this server cannot check one");
        return Err(refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "device-second-factor-unavailable",
            "Your account has an authenticator app, and this server cannot check its codes (it does not hold the key passphrase), so it issues no certificate to you. Ask your administrator.",
            &signed_in.correlation,
        ));
    };
    let code = code.trim();
    if code.is_empty() {
        return Err(refusal(
            StatusCode::UNAUTHORIZED,
            "device-second-factor-required",
            "Your account has an authenticator app: enter the code it shows now together with the form.",
            &signed_in.correlation,
        ));
    }
    let service = TotpService::new(
        &*context.signin.directory,
        &context.signin.clock,
        settings,
        "device-provisioning",
    );
    match service.verify(signed_in.user.id.as_str(), code).await {
        Ok(_) => Ok(()),
        Err(error) => {
            let status = match &error {
                TotpServiceError::Refused(_) => StatusCode::UNAUTHORIZED,
                TotpServiceError::Store(_) | TotpServiceError::Contended { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            tracing::info!(code = error.code(), user = %signed_in.user.upn, correlation = %signed_in.correlation, "device provisioning: authenticator code refused");
            Err(refusal(
                status,
                error.code(),
                &capitalized(&error.to_string()),
                &signed_in.correlation,
            ))
        }
    }
}

/// The error messages are written to follow a colon; the page shows them as sentences.
fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

fn device_refusal(error: &DeviceError, correlation: &str) -> Response {
    // The admin API's translation decides the status, so both answer a refusal alike.
    let status = crate::admin_api::ApiError::from(error).status;
    if status.is_server_error() {
        tracing::error!(code = error.code(), %error, correlation = %correlation, "device provisioning failed");
    }
    refusal(status, error.code(), &error.to_string(), correlation)
}
