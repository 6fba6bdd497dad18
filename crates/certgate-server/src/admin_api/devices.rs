//! `/users/{idOrUpn}/deviceProfiles`: device provisioning (certgate-core's `device` service).
//! The answer is the file for the device, with the new certificate's serial in a header.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use certgate_core::device::{
    provision_device, DeviceProfileRequest, PasswordDelivery, Platform, ProfileSigning,
};
use certgate_core::directory::find_user;
use zeroize::Zeroizing;

use super::extract::{body, Body};
use super::openapi::DEVICE_PROFILE_FILE;
use super::resource::NewDeviceProfile;
use super::route::{Access, HttpMethod, Operation, Route};
use super::users::USER_KEY;
use super::{Admin, AdminStore, ApiError, Context};

/// The routes of device provisioning, in the OpenAPI document's order.
pub(super) const ROUTES: &[Route] = &[
    Route {
        method: HttpMethod::Post,
        path: "/users/{idOrUpn}/deviceProfiles",
        operation: Operation::CreateDeviceProfile,
        access: Access::Admin,
        operation_id: "createDeviceProfile",
        tag: "users",
        summary: "Issue a new certificate to the user (recorded and revocable like any other) and answer with the device file: an Apple configuration profile (application/x-apple-aspen-config; signed by the issuing CA with `sign`), the Android / MDM JSON profile (application/json) or the PKCS#12 (application/x-pkcs12). Refusals: device-platform-invalid, device-eas-host-missing, device-eas-host-invalid, device-p12-password-too-short, device-p12-password-invalid, device-signing-not-applicable, device-embed-password-not-applicable, device-user-disabled (400); user-not-found (404); device-provisioning-unavailable, pki-not-initialised, pki-passphrase-required (503).",
        parameters: &[USER_KEY],
        request: Some("NewDeviceProfile"),
        response: (200, DEVICE_PROFILE_FILE),
        errors: &[400, 404],
    },
];

/// The response header that names the issued certificate's serial (hex), so that a caller can
/// revoke it later without opening the file.
pub(super) const SERIAL_HEADER: &str = "x-certgate-certificate-serial";

pub(super) async fn create_profile<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(key): Path<String>,
    request: Body<NewDeviceProfile>,
) -> Result<Response, ApiError> {
    let request = body(request)?;
    // The CA key is unsealed with the passphrase the running server holds; the request
    // never carries it.
    let pki = context.pki.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "device-provisioning-unavailable",
            "this server does not run certgate's CA with its key passphrase (CERTGATE_CA_KEY_PASSPHRASE), so it cannot issue device certificates; run `certgate device profile` where the passphrase is set",
        )
    })?;
    let platform = Platform::parse(&request.platform).ok_or_else(|| {
        ApiError::bad_request(
            "device-platform-invalid",
            format!(
                "\"{}\" is not a platform: use ios, android or pkcs12",
                request.platform
            ),
        )
    })?;
    let user = find_user(&*context.store, &key).await?;
    let mut provision = DeviceProfileRequest::new(
        platform,
        request.eas_host,
        Zeroizing::new(request.pkcs12_password),
    );
    if request.embed_password {
        provision.password = PasswordDelivery::EmbeddedInProfile;
    }
    if request.sign {
        provision.signing = ProfileSigning::SignedByIssuingCa;
    }
    let profile = provision_device(
        &*context.store,
        &context.clock,
        pki,
        admin.actor(),
        &user,
        &provision,
    )
    .await?;
    let mut response = profile.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(profile.content_type),
    );
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", profile.file_name))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&certgate_core::hex(&profile.serial)) {
        headers.insert(SERIAL_HEADER, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
