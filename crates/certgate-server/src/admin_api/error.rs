//! Errors as the admin API answers them: Graph's shape, certgate's stable code, the status
//! that fits. Each domain error is translated here, once.

use std::borrow::Cow;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use certgate_core::access_pass::AccessPassError;
use certgate_core::admin_token::AdminTokenError;
use certgate_core::authority::PkiError;
use certgate_core::binding::{BindingError, BindingRuleError};
use certgate_core::device::DeviceError;
use certgate_core::directory::DirectoryError;
use certgate_core::federation::FederationError;
use certgate_core::signin::{CertificateRejection, SignInError};
use certgate_core::store::StoreError;
use certgate_core::strength::StrengthRuleError;
use certgate_core::trusted_ca::TrustError;
use certgate_oidc::{ClientError, ProviderError};

use super::resource::{ErrorBody, ErrorDetail};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// certgate's stable reason code, e.g. `ca-duplicate` (the body's `error.code`).
    pub code: Cow<'static, str>,
    /// What happened and what to do, for people (the body's `error.message`).
    pub message: String,
    /// RFC 6750 §3: the challenge sent with a 401.
    pub challenge: Option<&'static str>,
}

impl ApiError {
    /// An error with this status, code and message, and no challenge.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            challenge: None,
        }
    }

    /// Status 400: the request is wrong as sent (a field out of range, a word not allowed).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Status 404: no such resource, or no such route.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 401 with `WWW-Authenticate: Bearer ...`.
    pub(crate) fn unauthorized(
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
        challenge: &'static str,
    ) -> Self {
        ApiError {
            challenge: Some(challenge),
            ..ApiError::new(StatusCode::UNAUTHORIZED, code, message)
        }
    }

    fn store(error: &StoreError) -> Self {
        let status = match error {
            StoreError::NotFound { .. } => StatusCode::NOT_FOUND,
            StoreError::Conflict { .. } => StatusCode::CONFLICT,
            StoreError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Corrupt { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            StoreError::ParentRevoked { .. } => StatusCode::FORBIDDEN,
            StoreError::DerivedLimit { .. } => StatusCode::CONFLICT,
        };
        ApiError::new(status, error.code(), error.to_string())
    }

    /// A body that is not JSON, or not the expected JSON.
    pub(crate) fn body(rejection: &JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request-content-type",
                "send the body as JSON with Content-Type: application/json",
            ),
            // The body limit (`super::MAX_BODY_BYTES`) reached while reading.
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request-body-too-large",
                format!(
                    "the request body is larger than the admin API's limit of {} bytes",
                    super::MAX_BODY_BYTES
                ),
            ),
            other => ApiError::bad_request("request-body-invalid", other.body_text()),
        }
    }

    pub(crate) fn query(rejection: &QueryRejection) -> Self {
        ApiError::bad_request("request-query-invalid", rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        response
            .extensions_mut()
            .insert(crate::refusal::Refused(self.code.clone()));
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::store(&error)
    }
}

impl From<TrustError> for ApiError {
    fn from(error: TrustError) -> Self {
        let status = match &error {
            TrustError::Store(store) => return ApiError::store(store),
            TrustError::NotFound(_) => StatusCode::NOT_FOUND,
            TrustError::Duplicate { .. } => StatusCode::CONFLICT,
            TrustError::CertificateMalformed(_)
            | TrustError::NotACa { .. }
            | TrustError::CaProfileInvalid { .. }
            | TrustError::Expired { .. }
            | TrustError::UrlNotHttp { .. }
            | TrustError::UrlMalformed { .. }
            | TrustError::NameInvalid { .. }
            | TrustError::DeltaWithoutBase
            | TrustError::Empty => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<DirectoryError> for ApiError {
    fn from(error: DirectoryError) -> Self {
        let status = match &error {
            DirectoryError::Store(store) => return ApiError::store(store),
            DirectoryError::UserNotFound { .. } => StatusCode::NOT_FOUND,
            DirectoryError::UpnTaken { .. }
            | DirectoryError::ImmutableIdTaken { .. }
            | DirectoryError::ProxyAddressTaken { .. }
            | DirectoryError::CertificateUserIdTaken { .. } => StatusCode::CONFLICT,
            // The user's state (synchronised from the directory) forbids the change.
            DirectoryError::SourcedAttributeChanged { .. } => StatusCode::CONFLICT,
            DirectoryError::RandomnessUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<BindingRuleError> for ApiError {
    fn from(error: BindingRuleError) -> Self {
        let status = match &error {
            BindingRuleError::Store(store) => return ApiError::store(store),
            BindingRuleError::NotFound { .. } => StatusCode::NOT_FOUND,
            BindingRuleError::PriorityTaken { .. } => StatusCode::CONFLICT,
            BindingRuleError::Invalid { .. } => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<StrengthRuleError> for ApiError {
    fn from(error: StrengthRuleError) -> Self {
        let status = match &error {
            StrengthRuleError::Store(store) => return ApiError::store(store),
            StrengthRuleError::NotFound(_) => StatusCode::NOT_FOUND,
            StrengthRuleError::Duplicate { .. } => StatusCode::CONFLICT,
            StrengthRuleError::Empty
            | StrengthRuleError::IssuerInvalid { .. }
            | StrengthRuleError::PolicyOidInvalid { .. } => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<ProviderError> for ApiError {
    fn from(error: ProviderError) -> Self {
        match &error {
            ProviderError::Store(StoreError::Conflict { .. }) => ApiError::new(
                StatusCode::CONFLICT,
                "application-id-taken",
                "an application with this appId already exists; choose another appId",
            ),
            ProviderError::Store(StoreError::NotFound { .. }) => ApiError::not_found(
                "application-not-found",
                "no application has this appId; GET /api/v1/applications lists them",
            ),
            ProviderError::Store(store) => ApiError::store(store),
            ProviderError::Client(ClientError::Random(_)) | ProviderError::Random(_) => {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    error.code(),
                    error.to_string(),
                )
            }
            ProviderError::Client(_) => ApiError::bad_request(error.code(), error.to_string()),
            ProviderError::Key(_) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                error.code(),
                error.to_string(),
            ),
        }
    }
}

impl From<FederationError> for ApiError {
    fn from(error: FederationError) -> Self {
        let status = match &error {
            FederationError::Store(store) => return ApiError::store(store),
            FederationError::FieldInvalid { .. } => StatusCode::BAD_REQUEST,
            FederationError::RelyingPartyNotFound { .. } => StatusCode::NOT_FOUND,
            FederationError::RelyingPartyTaken { .. }
            | FederationError::NoSigningKey
            | FederationError::RotationRaced => StatusCode::CONFLICT,
            FederationError::RandomnessUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            FederationError::KeyCorrupt { .. } | FederationError::Key(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<&PkiError> for ApiError {
    fn from(error: &PkiError) -> Self {
        let status = match error {
            PkiError::Store(store) => return ApiError::store(store),
            // The server does not run the CA or lacks its passphrase: not the caller's fault,
            // nothing the caller can change.
            PkiError::NotInitialised | PkiError::PassphraseRequired { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            PkiError::UnknownSerial { .. } => StatusCode::NOT_FOUND,
            PkiError::UnknownReason(_) => StatusCode::BAD_REQUEST,
            PkiError::AlreadyInitialised { .. } | PkiError::AlreadyRevoked { .. } => {
                StatusCode::CONFLICT
            }
            // The certificate the requester signed in with is revoked on record, or may not
            // obtain others (another CA's, by default).
            PkiError::ParentRevoked { .. }
            | PkiError::ParentNotIssuedHere { .. }
            | PkiError::ParentCaNotTrusted { .. }
            | PkiError::ParentCaWithoutCrl { .. } => StatusCode::FORBIDDEN,
            // The user holds as many derived certificates as allowed: revoking one frees a place.
            PkiError::DerivedLimit { .. } => StatusCode::CONFLICT,
            // What the directory holds cannot go into a certificate (a non-ASCII mail
            // address, a UPN the CA refuses): the user's record needs fixing.
            PkiError::Ca(ca) if ca.code() == "ca-invalid-request" => StatusCode::BAD_REQUEST,
            PkiError::ParentMalformed(_) => StatusCode::BAD_REQUEST,
            PkiError::Corrupt(_) | PkiError::Ca(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<PkiError> for ApiError {
    fn from(error: PkiError) -> Self {
        ApiError::from(&error)
    }
}

impl From<&DeviceError> for ApiError {
    fn from(error: &DeviceError) -> Self {
        let status = match error {
            DeviceError::Store(store) => return ApiError::store(store),
            DeviceError::Pki(pki) => return ApiError::from(pki),
            error if error.is_request_error() => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.code(), error.to_string())
    }
}

impl From<DeviceError> for ApiError {
    fn from(error: DeviceError) -> Self {
        ApiError::from(&error)
    }
}

impl From<AccessPassError> for ApiError {
    fn from(error: AccessPassError) -> Self {
        match &error {
            AccessPassError::Store(store) => ApiError::store(store),
            AccessPassError::RandomUnavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                error.to_string(),
            ),
            _ => ApiError::new(StatusCode::BAD_REQUEST, error.code(), error.to_string()),
        }
    }
}

/// Why an admin was not let in: 401 when no one is authenticated, 403 when someone is but is
/// not an administrator, 503 when the store cannot say.
impl From<AdminTokenError> for ApiError {
    fn from(error: AdminTokenError) -> Self {
        match &error {
            AdminTokenError::Store(store) => ApiError::store(store),
            _ => ApiError::unauthorized(
                error.code(),
                error.to_string(),
                "Bearer realm=\"certgate\", error=\"invalid_token\"",
            ),
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(error: SignInError) -> Self {
        match &error {
            SignInError::Store(store) | SignInError::Binding(BindingError::Store(store)) => {
                ApiError::store(store)
            }
            SignInError::Binding(BindingError::UserDisabled { .. }) => {
                ApiError::new(StatusCode::FORBIDDEN, error.code(), error.to_string())
            }
            SignInError::Certificate(CertificateRejection::NoCertificate) => {
                ApiError::unauthorized(error.code(), error.to_string(), "Bearer realm=\"certgate\"")
            }
            SignInError::Certificate(_) | SignInError::Binding(_) => ApiError::unauthorized(
                error.code(),
                format!("the client certificate does not identify an administrator: {error}"),
                "Bearer realm=\"certgate\"",
            ),
        }
    }
}
