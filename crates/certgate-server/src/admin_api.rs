//! The admin REST API, mounted under `/api/v1`: trusted CAs, CRL status, users, username
//! bindings, authentication-strength rules, OpenID Connect clients, the federation service's
//! relying parties and token-signing keys, device profiles, the sign-in and audit logs. Handlers are thin: extract, call one certgate-core (or provider) service with the
//! admin as the audit actor, map the error ([`error`]). JSON follows Microsoft Graph's names
//! ([`resource`]); the OpenAPI 3.1 document ([`openapi`], served at `/api/v1/openapi.json` and
//! checked in as docs/openapi.json) is generated from the same route table the router is
//! built from, so neither can have a route the other lacks.
//!
//! Access: see [`access`]. Every change is in the audit log under the admin's actor.

mod access;
mod applications;
mod certificate_authorities;
mod devices;
mod error;
mod federation;
mod logs;
mod openapi;
mod own_ca;
pub mod resource;
mod rules;
mod users;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::Json;
use axum::http::StatusCode;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use certgate_core::access_pass::AccessPassStore;
use certgate_core::admin_token::AdminTokenStore;
use certgate_core::clock::Clock;
use certgate_core::directory::DirectoryStore;
use certgate_core::federation::FederationStore;
use certgate_core::signin::SignInLog;
use certgate_core::store::Store;
use certgate_oidc::{Client, ClientId, NewClient, ProviderError, RegisteredClient};
use certgate_pki::UnixTime;

pub(crate) use access::from_another_site;
pub use access::{Admin, DEFAULT_ADMIN_GROUP};
pub use error::ApiError;
pub use openapi::document as openapi_document;

use crate::crl_refresh::CrlService;
use crate::HttpCrlFetcher;

/// What the admin API's store must be: the trust store, the directory, the sign-in log, the
/// admin tokens and the federation service (certgate-store's `SqlStore` is all of them).
pub trait AdminStore:
    Store + DirectoryStore + SignInLog + AdminTokenStore + FederationStore + AccessPassStore
{
}

impl<S> AdminStore for S where
    S: Store + DirectoryStore + SignInLog + AdminTokenStore + FederationStore + AccessPassStore
{
}

/// A future the [`Applications`] port returns (boxed, so the port can be a trait object).
pub type AppFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// The OpenID Connect clients, as the admin API manages them. Implemented by
/// [`certgate_oidc::Provider`]; a trait object so that the API does not carry the provider's
/// type parameters.
pub trait Applications: Send + Sync {
    fn list(&self) -> AppFuture<'_, Vec<Client>>;
    fn get<'a>(&'a self, id: &'a ClientId) -> AppFuture<'a, Option<Client>>;
    fn register<'a>(
        &'a self,
        new: NewClient,
        now: UnixTime,
        actor: &'a str,
    ) -> AppFuture<'a, RegisteredClient>;
    fn delete<'a>(&'a self, id: &'a ClientId, now: UnixTime, actor: &'a str) -> AppFuture<'a, ()>;
}

impl<S: certgate_oidc::OidcStore, P: certgate_oidc::RefreshPolicy + 'static> Applications
    for certgate_oidc::Provider<S, P>
{
    fn list(&self) -> AppFuture<'_, Vec<Client>> {
        Box::pin(async move { Ok(self.store().clients().await?) })
    }

    fn get<'a>(&'a self, id: &'a ClientId) -> AppFuture<'a, Option<Client>> {
        Box::pin(self.client(id))
    }

    fn register<'a>(
        &'a self,
        new: NewClient,
        now: UnixTime,
        actor: &'a str,
    ) -> AppFuture<'a, RegisteredClient> {
        Box::pin(self.register_client(new, now, actor))
    }

    fn delete<'a>(&'a self, id: &'a ClientId, now: UnixTime, actor: &'a str) -> AppFuture<'a, ()> {
        Box::pin(self.delete_client(id, now, actor))
    }
}

/// Everything the admin handlers need.
pub struct AdminContext<S> {
    pub store: Arc<S>,
    pub clock: Arc<dyn Clock>,
    /// The CRL service: its validation state checks admin certificates, its refresh answers
    /// `POST /crlStatus/refresh`, its rebuild makes a change through the API take effect on
    /// this node at once (other nodes follow within one job tick).
    pub crl: Arc<CrlService<S, HttpCrlFetcher, Arc<dyn Clock>>>,
    /// The OpenID Connect clients; `None` when the provider is not running (the
    /// `/applications` routes answer 503 `applications-unavailable`).
    pub applications: Option<Arc<dyn Applications>>,
    /// Members of this group may use the API with their client certificate.
    pub admin_group: String,
    /// certgate's key passphrase, which seals new token-signing keys; `None`:
    /// `POST /federation/signingKeys/rotate` answers 503 `federation-keys-unavailable`.
    pub key_passphrase: Option<zeroize::Zeroizing<Vec<u8>>>,
    /// certgate's own CA, which issues device certificates; `None`:
    /// `POST /users/{idOrUpn}/deviceProfiles` answers 503 `device-provisioning-unavailable`.
    pub pki: Option<certgate_core::authority::PkiSettings>,
}

impl<S: AdminStore> AdminContext<S> {
    pub fn new(
        store: Arc<S>,
        clock: Arc<dyn Clock>,
        crl: Arc<CrlService<S, HttpCrlFetcher, Arc<dyn Clock>>>,
    ) -> Self {
        AdminContext {
            store,
            clock,
            crl,
            applications: None,
            admin_group: DEFAULT_ADMIN_GROUP.to_owned(),
            key_passphrase: None,
            pki: None,
        }
    }

    /// Lets the API issue device certificates with certgate's CA.
    pub fn with_pki(mut self, settings: certgate_core::authority::PkiSettings) -> Self {
        self.pki = Some(settings);
        self
    }

    pub fn with_key_passphrase(mut self, passphrase: zeroize::Zeroizing<Vec<u8>>) -> Self {
        self.key_passphrase = Some(passphrase);
        self
    }

    pub fn with_applications(mut self, applications: Arc<dyn Applications>) -> Self {
        self.applications = Some(applications);
        self
    }

    pub fn with_admin_group(mut self, group: impl Into<String>) -> Self {
        self.admin_group = group.into();
        self
    }

    /// After a change: rebuild this node's validation state when the store's generation
    /// moved, so that the change is in force before the answer goes out. A failure only
    /// delays it to the next job tick.
    async fn changed(&self) {
        if let Err(error) = self.crl.reload_if_changed().await {
            tracing::warn!(code = error.code(), %error, "reloading the validation state after an admin change failed");
        }
    }
}

type Context<S> = Arc<AdminContext<S>>;

/// A JSON body, or the API's error for a body that is not one.
type Body<T> = Result<Json<T>, JsonRejection>;

fn body<T>(body: Body<T>) -> Result<T, ApiError> {
    body.map(|Json(value)| value)
        .map_err(|rejection| ApiError::body(&rejection))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum HttpMethod {
    Get,
    Post,
    Patch,
    Delete,
}

impl HttpMethod {
    const ALL: [HttpMethod; 4] = [
        HttpMethod::Get,
        HttpMethod::Post,
        HttpMethod::Patch,
        HttpMethod::Delete,
    ];

    fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            HttpMethod::Get => MethodFilter::GET,
            HttpMethod::Post => MethodFilter::POST,
            HttpMethod::Patch => MethodFilter::PATCH,
            HttpMethod::Delete => MethodFilter::DELETE,
        }
    }
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    Admin,
    /// Only the OpenAPI document: it describes the API, it grants nothing.
    Public,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    OpenApi,
    ListCertificateAuthorities,
    AddCertificateAuthorities,
    GetCertificateAuthority,
    UpdateCertificateAuthority,
    RemoveCertificateAuthority,
    CrlStatus,
    RefreshCrls,
    ListIssuedCertificates,
    RevokeIssuedCertificate,
    ListPublishedCrls,
    PublishCrls,
    ListUsers,
    AddUser,
    GetUser,
    UpdateUser,
    RemoveUser,
    RevokeSignInSessions,
    CreateAccessPass,
    ResetSecondFactor,
    SetStsRefreshTokensValidFrom,
    CreateDeviceProfile,
    ListCertificateUserBindings,
    AddCertificateUserBinding,
    UpdateCertificateUserBindings,
    RemoveCertificateUserBinding,
    ListAuthenticationModeRules,
    AddAuthenticationModeRule,
    RemoveAuthenticationModeRule,
    ListApplications,
    AddApplication,
    GetApplication,
    RemoveApplication,
    ListRelyingParties,
    AddRelyingParty,
    GetRelyingParty,
    UpdateRelyingParty,
    RemoveRelyingParty,
    ListTokenSigningKeys,
    RotateTokenSigningKeys,
    ListSignIns,
    ListDirectoryAudits,
}

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum In {
    Path,
    Query,
}

/// A parameter, for the OpenAPI document.
#[derive(Clone, Copy, Debug)]
struct Parameter {
    name: &'static str,
    location: In,
    /// JSON Schema type: `string` or `integer`.
    schema: &'static str,
    description: &'static str,
}

/// One route: the router registers it, the OpenAPI document describes it.
#[derive(Clone, Copy, Debug)]
struct Route {
    method: HttpMethod,
    path: &'static str,
    operation: Operation,
    access: Access,
    operation_id: &'static str,
    tag: &'static str,
    summary: &'static str,
    parameters: &'static [Parameter],
    /// Component schema of the request body.
    request: Option<&'static str>,
    /// Success status and the component schema of its body.
    response: (u16, &'static str),
    /// Error statuses besides 401/403/503 (which every admin route can answer).
    errors: &'static [u16],
}

const CA_ID: Parameter = Parameter {
    name: "id",
    location: In::Path,
    schema: "integer",
    description: "The trusted CA's id.",
};
const SERIAL: Parameter = Parameter {
    name: "serial",
    location: In::Path,
    schema: "string",
    description: "The certificate's serial number in hex, as GET /pki/issuedCertificates lists it (`:` allowed).",
};
const USER_KEY: Parameter = Parameter {
    name: "idOrUpn",
    location: In::Path,
    schema: "string",
    description: "The user's object ID or userPrincipalName (case-insensitive).",
};
const PRIORITY: Parameter = Parameter {
    name: "priority",
    location: In::Path,
    schema: "integer",
    description: "The binding rule's priority.",
};
const RULE_ID: Parameter = Parameter {
    name: "id",
    location: In::Path,
    schema: "integer",
    description: "The rule's id.",
};
const APP_ID: Parameter = Parameter {
    name: "appId",
    location: In::Path,
    schema: "string",
    description: "The application's client_id.",
};
const RP_KEY: Parameter = Parameter {
    name: "idOrName",
    location: In::Path,
    schema: "string",
    description: "The relying party's id, name (case-insensitive) or identifier.",
};
const TOP: Parameter = Parameter {
    name: "$top",
    location: In::Query,
    schema: "integer",
    description:
        "At most this many entries, newest first (default 50, at most 1000). `top` is accepted too.",
};

/// Every route of the admin API. The router is built from this table and nothing else.
const ROUTES: &[Route] = &[
    Route {
        method: HttpMethod::Get,
        path: "/openapi.json",
        operation: Operation::OpenApi,
        access: Access::Public,
        operation_id: "getOpenApiDocument",
        tag: "meta",
        summary: "This document (no authentication).",
        parameters: &[],
        request: None,
        response: (200, "OpenApiDocument"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Get,
        path: "/certificateAuthorities",
        operation: Operation::ListCertificateAuthorities,
        access: Access::Admin,
        operation_id: "listCertificateAuthorities",
        tag: "certificateAuthorities",
        summary: "The trusted CAs.",
        parameters: &[],
        request: None,
        response: (200, "CertificateAuthorityCollection"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/certificateAuthorities",
        operation: Operation::AddCertificateAuthorities,
        access: Access::Admin,
        operation_id: "addCertificateAuthorities",
        tag: "certificateAuthorities",
        summary: "Trust a CA, or every CA of a .p7b bundle (all or none). Refusals: ca-certificate-malformed, ca-not-a-ca, ca-expired, ca-url-not-http, ca-url-malformed, ca-name-invalid, ca-delta-without-base, ca-urls-need-one-certificate (400), ca-duplicate (409).",
        parameters: &[],
        request: Some("NewCertificateAuthority"),
        response: (201, "CertificateAuthorityCollection"),
        errors: &[400, 409],
    },
    Route {
        method: HttpMethod::Get,
        path: "/certificateAuthorities/{id}",
        operation: Operation::GetCertificateAuthority,
        access: Access::Admin,
        operation_id: "getCertificateAuthority",
        tag: "certificateAuthorities",
        summary: "One trusted CA (ca-not-found).",
        parameters: &[CA_ID],
        request: None,
        response: (200, "CertificateAuthority"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Patch,
        path: "/certificateAuthorities/{id}",
        operation: Operation::UpdateCertificateAuthority,
        access: Access::Admin,
        operation_id: "updateCertificateAuthority",
        tag: "certificateAuthorities",
        summary: "Change a trusted CA's settings; `null` removes a CRL URL.",
        parameters: &[CA_ID],
        request: Some("CertificateAuthorityPatch"),
        response: (200, "CertificateAuthority"),
        errors: &[400, 404],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/certificateAuthorities/{id}",
        operation: Operation::RemoveCertificateAuthority,
        access: Access::Admin,
        operation_id: "removeCertificateAuthority",
        tag: "certificateAuthorities",
        summary: "Stop trusting a CA (its cached CRLs go too); answers with the removed CA.",
        parameters: &[CA_ID],
        request: None,
        response: (200, "CertificateAuthority"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Get,
        path: "/crlStatus",
        operation: Operation::CrlStatus,
        access: Access::Admin,
        operation_id: "getCrlStatus",
        tag: "crl",
        summary: "Per CA and kind: the cached CRL and how its downloads went.",
        parameters: &[],
        request: None,
        response: (200, "CrlStatusCollection"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/crlStatus/refresh",
        operation: Operation::RefreshCrls,
        access: Access::Admin,
        operation_id: "refreshCrls",
        tag: "crl",
        summary: "Download the CRLs now, with the interactive limits. A refused download is reported with its code in the list, not as an error.",
        parameters: &[Parameter {
            name: "caId",
            location: In::Query,
            schema: "integer",
            description: "Only this CA.",
        }],
        request: None,
        response: (200, "CrlRefreshReportCollection"),
        errors: &[400, 404],
    },
    Route {
        method: HttpMethod::Get,
        path: "/pki/issuedCertificates",
        operation: Operation::ListIssuedCertificates,
        access: Access::Admin,
        operation_id: "listIssuedCertificates",
        tag: "pki",
        summary: "Every certificate certgate's own CA issued, with its status. Refusal: pki-unavailable (503) when this server does not run the CA with its key passphrase.",
        parameters: &[],
        request: None,
        response: (200, "IssuedCertificateCollection"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/pki/issuedCertificates/{serial}/revoke",
        operation: Operation::RevokeIssuedCertificate,
        access: Access::Admin,
        operation_id: "revokeIssuedCertificate",
        tag: "pki",
        summary: "Revoke a certificate certgate issued and, in the same transaction, every certificate issued on its strength (EST re-enrollment, /my/device) and theirs. Durable when answered; relying parties see it with the next CRL (POST /pki/crls/publish, or the server's schedule). Refusals: pki-serial-invalid, pki-unknown-reason (400); pki-unknown-serial (404); pki-already-revoked (409) when nothing is left to revoke.",
        parameters: &[SERIAL],
        request: Some("RevocationRequest"),
        response: (200, "CertificateRevocation"),
        errors: &[400, 404, 409],
    },
    Route {
        method: HttpMethod::Get,
        path: "/pki/crls",
        operation: Operation::ListPublishedCrls,
        access: Access::Admin,
        operation_id: "listPublishedCrls",
        tag: "pki",
        summary: "The CRLs certgate's CA publishes now: each CA's latest base and delta CRL.",
        parameters: &[],
        request: None,
        response: (200, "PublishedCrlCollection"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/pki/crls/publish",
        operation: Operation::PublishCrls,
        access: Access::Admin,
        operation_id: "publishCrls",
        tag: "pki",
        summary: "Publish a delta CRL for each of certgate's CAs now (and a new base CRL first when one is due, or with base=true), as `certgate pki crl` does.",
        parameters: &[Parameter {
            name: "base",
            location: In::Query,
            schema: "boolean",
            description: "Start a new base CRL now.",
        }],
        request: None,
        response: (200, "PublishedCrlCollection"),
        errors: &[400],
    },
    Route {
        method: HttpMethod::Get,
        path: "/users",
        operation: Operation::ListUsers,
        access: Access::Admin,
        operation_id: "listUsers",
        tag: "users",
        summary: "The users, by userPrincipalName.",
        parameters: &[],
        request: None,
        response: (200, "UserCollection"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/users",
        operation: Operation::AddUser,
        access: Access::Admin,
        operation_id: "addUser",
        tag: "users",
        summary: "Add a user. Refusals: user-upn-invalid, user-certificate-user-id-invalid, ... (400); user-upn-taken, user-certificate-user-id-taken, ... (409).",
        parameters: &[],
        request: Some("NewUser"),
        response: (201, "User"),
        errors: &[400, 409],
    },
    Route {
        method: HttpMethod::Get,
        path: "/users/{idOrUpn}",
        operation: Operation::GetUser,
        access: Access::Admin,
        operation_id: "getUser",
        tag: "users",
        summary: "One user (user-not-found).",
        parameters: &[USER_KEY],
        request: None,
        response: (200, "User"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Patch,
        path: "/users/{idOrUpn}",
        operation: Operation::UpdateUser,
        access: Access::Admin,
        operation_id: "updateUser",
        tag: "users",
        summary: "Change a user: absent fields stay, lists are replaced whole, `\"mail\": null` removes the mail address.",
        parameters: &[USER_KEY],
        request: Some("UserPatch"),
        response: (200, "User"),
        errors: &[400, 404, 409],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/users/{idOrUpn}",
        operation: Operation::RemoveUser,
        access: Access::Admin,
        operation_id: "removeUser",
        tag: "users",
        summary: "Remove a user; answers with the removed user.",
        parameters: &[USER_KEY],
        request: None,
        response: (200, "User"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Post,
        path: "/users/{idOrUpn}/revokeSignInSessions",
        operation: Operation::RevokeSignInSessions,
        access: Access::Admin,
        operation_id: "revokeSignInSessions",
        tag: "users",
        summary: "Revoke every refresh token and session of the user now (StsRefreshTokensValidFrom = now); answers with the user.",
        parameters: &[USER_KEY],
        request: None,
        response: (200, "User"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Post,
        path: "/users/{idOrUpn}/accessPasses",
        operation: Operation::CreateAccessPass,
        access: Access::Admin,
        operation_id: "createAccessPass",
        tag: "users",
        summary: "Issue a Temporary Access Pass (one use, 10 minutes to 8 hours, default 1 hour) that unlocks the user's first authenticator enrollment; it replaces any earlier pass and is shown only in this answer. Refusals: access-pass-lifetime-invalid (400); user-not-found (404).",
        parameters: &[USER_KEY],
        request: Some("NewAccessPass"),
        response: (201, "AccessPass"),
        errors: &[400, 404],
    },
    Route {
        method: HttpMethod::Post,
        path: "/users/{idOrUpn}/resetSecondFactor",
        operation: Operation::ResetSecondFactor,
        access: Access::Admin,
        operation_id: "resetSecondFactor",
        tag: "users",
        summary: "Remove the user's authenticator app and any Temporary Access Pass (a lost phone); enrolling again needs a new pass. Audited whatever there was.",
        parameters: &[USER_KEY],
        request: None,
        response: (200, "SecondFactorReset"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Post,
        path: "/users/{idOrUpn}/stsRefreshTokensValidFrom",
        operation: Operation::SetStsRefreshTokensValidFrom,
        access: Access::Admin,
        operation_id: "setStsRefreshTokensValidFrom",
        tag: "users",
        summary: "Set-MsolUser -StsRefreshTokensValidFrom: a date in the future stores the current time; a date not in the future is refused (sts-date-not-in-future) and nothing changes.",
        parameters: &[USER_KEY],
        request: Some("StsRefreshTokensValidFrom"),
        response: (200, "User"),
        errors: &[400, 404],
    },
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
        response: (200, openapi::DEVICE_PROFILE_FILE),
        errors: &[400, 404],
    },
    Route {
        method: HttpMethod::Get,
        path: "/certificateUserBindings",
        operation: Operation::ListCertificateUserBindings,
        access: Access::Admin,
        operation_id: "listCertificateUserBindings",
        tag: "bindings",
        summary: "The username-binding rules in the order they are tried, and the required affinity.",
        parameters: &[],
        request: None,
        response: (200, "CertificateUserBindings"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/certificateUserBindings",
        operation: Operation::AddCertificateUserBinding,
        access: Access::Admin,
        operation_id: "addCertificateUserBinding",
        tag: "bindings",
        summary: "Add a binding rule; the first configured rule replaces the defaults. Refusals: binding-rule-invalid (400), binding-priority-taken (409).",
        parameters: &[],
        request: Some("NewCertificateUserBinding"),
        response: (201, "CertificateUserBinding"),
        errors: &[400, 409],
    },
    Route {
        method: HttpMethod::Patch,
        path: "/certificateUserBindings",
        operation: Operation::UpdateCertificateUserBindings,
        access: Access::Admin,
        operation_id: "updateCertificateUserBindings",
        tag: "bindings",
        summary: "Set the required affinity (low or high).",
        parameters: &[],
        request: Some("CertificateUserBindingsPatch"),
        response: (200, "CertificateUserBindings"),
        errors: &[400],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/certificateUserBindings/{priority}",
        operation: Operation::RemoveCertificateUserBinding,
        access: Access::Admin,
        operation_id: "removeCertificateUserBinding",
        tag: "bindings",
        summary: "Remove the binding rule with this priority (binding-rule-not-found); answers with the removed rule.",
        parameters: &[PRIORITY],
        request: None,
        response: (200, "CertificateUserBinding"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Get,
        path: "/authenticationModeRules",
        operation: Operation::ListAuthenticationModeRules,
        access: Access::Admin,
        operation_id: "listAuthenticationModeRules",
        tag: "strength",
        summary: "The authentication-strength rules (single- or multi-factor by issuer and policy OID).",
        parameters: &[],
        request: None,
        response: (200, "AuthenticationModeRules"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/authenticationModeRules",
        operation: Operation::AddAuthenticationModeRule,
        access: Access::Admin,
        operation_id: "addAuthenticationModeRule",
        tag: "strength",
        summary: "Add a rule by issuer, policy OID or both. Refusals: strength-rule-empty, strength-issuer-invalid, strength-policy-oid-invalid, strength-mode-invalid (400), strength-rule-duplicate (409).",
        parameters: &[],
        request: Some("NewAuthenticationModeRule"),
        response: (201, "AuthenticationModeRule"),
        errors: &[400, 409],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/authenticationModeRules/{id}",
        operation: Operation::RemoveAuthenticationModeRule,
        access: Access::Admin,
        operation_id: "removeAuthenticationModeRule",
        tag: "strength",
        summary: "Remove a rule (strength-rule-not-found); answers with the removed rule.",
        parameters: &[RULE_ID],
        request: None,
        response: (200, "AuthenticationModeRule"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Get,
        path: "/applications",
        operation: Operation::ListApplications,
        access: Access::Admin,
        operation_id: "listApplications",
        tag: "applications",
        summary: "The registered OpenID Connect clients.",
        parameters: &[],
        request: None,
        response: (200, "ApplicationCollection"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/applications",
        operation: Operation::AddApplication,
        access: Access::Admin,
        operation_id: "addApplication",
        tag: "applications",
        summary: "Register an OpenID Connect client. A confidential client's secret is in this answer and nowhere else, ever. Refusals: client-redirect-uri-invalid, ... (400), application-id-taken (409).",
        parameters: &[],
        request: Some("NewApplication"),
        response: (201, "CreatedApplication"),
        errors: &[400, 409],
    },
    Route {
        method: HttpMethod::Get,
        path: "/applications/{appId}",
        operation: Operation::GetApplication,
        access: Access::Admin,
        operation_id: "getApplication",
        tag: "applications",
        summary: "One client (application-not-found).",
        parameters: &[APP_ID],
        request: None,
        response: (200, "Application"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/applications/{appId}",
        operation: Operation::RemoveApplication,
        access: Access::Admin,
        operation_id: "removeApplication",
        tag: "applications",
        summary: "Remove a client with its codes, grants and refresh tokens; answers with the removed client.",
        parameters: &[APP_ID],
        request: None,
        response: (200, "Application"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Get,
        path: "/relyingParties",
        operation: Operation::ListRelyingParties,
        access: Access::Admin,
        operation_id: "listRelyingParties",
        tag: "federation",
        summary: "The federation service's relying parties (SAML 2.0 service providers and WS-Federation relying parties), by name.",
        parameters: &[],
        request: None,
        response: (200, "RelyingPartyCollection"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/relyingParties",
        operation: Operation::AddRelyingParty,
        access: Access::Admin,
        operation_id: "addRelyingParty",
        tag: "federation",
        summary: "Register a relying party. Refusals: rp-field-invalid (400), rp-taken (409: the name, case-insensitively, or the protocol and identifier are registered).",
        parameters: &[],
        request: Some("NewRelyingParty"),
        response: (201, "RelyingParty"),
        errors: &[400, 409],
    },
    Route {
        method: HttpMethod::Get,
        path: "/relyingParties/{idOrName}",
        operation: Operation::GetRelyingParty,
        access: Access::Admin,
        operation_id: "getRelyingParty",
        tag: "federation",
        summary: "One relying party (rp-not-found).",
        parameters: &[RP_KEY],
        request: None,
        response: (200, "RelyingParty"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Patch,
        path: "/relyingParties/{idOrName}",
        operation: Operation::UpdateRelyingParty,
        access: Access::Admin,
        operation_id: "updateRelyingParty",
        tag: "federation",
        summary: "Change a relying party: absent fields stay, lists are replaced whole, `null` removes logoutUrl or issuer.",
        parameters: &[RP_KEY],
        request: Some("RelyingPartyPatch"),
        response: (200, "RelyingParty"),
        errors: &[400, 404, 409],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/relyingParties/{idOrName}",
        operation: Operation::RemoveRelyingParty,
        access: Access::Admin,
        operation_id: "removeRelyingParty",
        tag: "federation",
        summary: "Remove a relying party; answers with the removed relying party.",
        parameters: &[RP_KEY],
        request: None,
        response: (200, "RelyingParty"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Get,
        path: "/federation/signingKeys",
        operation: Operation::ListTokenSigningKeys,
        access: Access::Admin,
        operation_id: "listTokenSigningKeys",
        tag: "federation",
        summary: "The token-signing keys (their certificates), retired ones included: current signs, next is published in the metadata ahead of the rollover.",
        parameters: &[],
        request: None,
        response: (200, "TokenSigningKeyCollection"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/federation/signingKeys/rotate",
        operation: Operation::RotateTokenSigningKeys,
        access: Access::Admin,
        operation_id: "rotateTokenSigningKeys",
        tag: "federation",
        summary: "Roll the token-signing keys over now: next becomes current, current retires, a new next is published; answers with the keys after. Refusals: federation-no-signing-key, federation-rotation-raced (409); federation-keys-unavailable (503: the server does not hold the key passphrase).",
        parameters: &[],
        request: None,
        response: (200, "TokenSigningKeyCollection"),
        errors: &[409],
    },
    Route {
        method: HttpMethod::Get,
        path: "/auditLogs/signIns",
        operation: Operation::ListSignIns,
        access: Access::Admin,
        operation_id: "listSignIns",
        tag: "logs",
        summary: "The sign-in log, newest first.",
        parameters: &[
            Parameter {
                name: "user",
                location: In::Query,
                schema: "string",
                description: "Only this userPrincipalName.",
            },
            Parameter {
                name: "result",
                location: In::Query,
                schema: "string",
                description: "`success` or `failure`.",
            },
            Parameter {
                name: "code",
                location: In::Query,
                schema: "string",
                description: "Only this reason code (e.g. cert-revoked).",
            },
            Parameter {
                name: "since",
                location: In::Query,
                schema: "string",
                description: "Only attempts at or after this time (RFC 3339).",
            },
            TOP,
        ],
        request: None,
        response: (200, "SignInCollection"),
        errors: &[400],
    },
    Route {
        method: HttpMethod::Get,
        path: "/auditLogs/directoryAudits",
        operation: Operation::ListDirectoryAudits,
        access: Access::Admin,
        operation_id: "listDirectoryAudits",
        tag: "logs",
        summary: "The audit log, newest first: every change, by whom.",
        parameters: &[TOP],
        request: None,
        response: (200, "DirectoryAuditCollection"),
        errors: &[400],
    },
];

/// The handler of one operation, for `method`.
fn handler<S: AdminStore>(operation: Operation, method: HttpMethod) -> MethodRouter<Context<S>> {
    let filter = method.filter();
    match operation {
        Operation::OpenApi => on(filter, openapi::serve),
        Operation::ListCertificateAuthorities => on(filter, certificate_authorities::list::<S>),
        Operation::AddCertificateAuthorities => on(filter, certificate_authorities::add::<S>),
        Operation::GetCertificateAuthority => on(filter, certificate_authorities::get::<S>),
        Operation::UpdateCertificateAuthority => on(filter, certificate_authorities::update::<S>),
        Operation::RemoveCertificateAuthority => on(filter, certificate_authorities::remove::<S>),
        Operation::CrlStatus => on(filter, certificate_authorities::crl_status::<S>),
        Operation::RefreshCrls => on(filter, certificate_authorities::refresh_crls::<S>),
        Operation::ListIssuedCertificates => on(filter, own_ca::list_issued::<S>),
        Operation::RevokeIssuedCertificate => on(filter, own_ca::revoke::<S>),
        Operation::ListPublishedCrls => on(filter, own_ca::list_crls::<S>),
        Operation::PublishCrls => on(filter, own_ca::publish_crls::<S>),
        Operation::ListUsers => on(filter, users::list::<S>),
        Operation::AddUser => on(filter, users::add::<S>),
        Operation::GetUser => on(filter, users::get::<S>),
        Operation::UpdateUser => on(filter, users::update::<S>),
        Operation::RemoveUser => on(filter, users::remove::<S>),
        Operation::RevokeSignInSessions => on(filter, users::revoke_sessions::<S>),
        Operation::CreateAccessPass => on(filter, users::create_access_pass::<S>),
        Operation::ResetSecondFactor => on(filter, users::reset_second_factor::<S>),
        Operation::SetStsRefreshTokensValidFrom => on(filter, users::set_sts::<S>),
        Operation::CreateDeviceProfile => on(filter, devices::create_profile::<S>),
        Operation::ListCertificateUserBindings => on(filter, rules::list_bindings::<S>),
        Operation::AddCertificateUserBinding => on(filter, rules::add_binding::<S>),
        Operation::UpdateCertificateUserBindings => on(filter, rules::update_bindings::<S>),
        Operation::RemoveCertificateUserBinding => on(filter, rules::remove_binding::<S>),
        Operation::ListAuthenticationModeRules => on(filter, rules::list_strength::<S>),
        Operation::AddAuthenticationModeRule => on(filter, rules::add_strength::<S>),
        Operation::RemoveAuthenticationModeRule => on(filter, rules::remove_strength::<S>),
        Operation::ListApplications => on(filter, applications::list::<S>),
        Operation::AddApplication => on(filter, applications::add::<S>),
        Operation::GetApplication => on(filter, applications::get::<S>),
        Operation::RemoveApplication => on(filter, applications::remove::<S>),
        Operation::ListRelyingParties => on(filter, federation::list::<S>),
        Operation::AddRelyingParty => on(filter, federation::add::<S>),
        Operation::GetRelyingParty => on(filter, federation::get::<S>),
        Operation::UpdateRelyingParty => on(filter, federation::update::<S>),
        Operation::RemoveRelyingParty => on(filter, federation::remove::<S>),
        Operation::ListTokenSigningKeys => on(filter, federation::signing_keys::<S>),
        Operation::RotateTokenSigningKeys => on(filter, federation::rotate_signing_keys::<S>),
        Operation::ListSignIns => on(filter, logs::signins::<S>),
        Operation::ListDirectoryAudits => on(filter, logs::audits::<S>),
    }
}

/// The admin API's router, to be nested under `/api/v1`:
/// `Router::new().nest("/api/v1", certgate_server::admin_api::routes(context))`.
pub fn routes<S: AdminStore>(context: Arc<AdminContext<S>>) -> Router {
    let mut paths: BTreeMap<(Access, &str), MethodRouter<Context<S>>> = BTreeMap::new();
    for route in ROUTES {
        let method_router = handler::<S>(route.operation, route.method);
        let merged = match paths.remove(&(route.access, route.path)) {
            Some(existing) => existing.merge(method_router),
            None => method_router,
        };
        paths.insert((route.access, route.path), merged);
    }
    let mut admin = Router::new();
    let mut public = Router::new();
    for ((access, path), method_router) in paths {
        match access {
            Access::Admin => admin = admin.route(path, method_router),
            Access::Public => public = public.route(path, method_router),
        }
    }
    let admin = admin.route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(&context),
        access::require_admin::<S>,
    ));
    admin
        .merge(public)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(limit_header_bytes))
        .with_state(context)
}

/// The largest request body the admin API reads (a CA bundle in base64 is a few KB; a
/// .p7b of a large PKI well under this). Larger: 413 `request-body-too-large`.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The most request header bytes the admin API accepts (names, values and their separators;
/// a bearer token and the usual headers are well under 1 KB). Larger: 431
/// `request-headers-too-large` (RFC 6585 §5), answered here with the API's JSON error rather
/// than left to the connection's own limits (hyper's HTTP/1 buffer, h2's 16 KB header list),
/// which answer bare or reset the stream. Below h2's list size on purpose, so HTTP/2 requests
/// get the JSON answer too.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

async fn limit_header_bytes(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    // As on the wire in HTTP/1.1: `name: value\r\n`.
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request-headers-too-large",
            format!(
                "the request's headers are {size} bytes; the admin API accepts at most {MAX_HEADER_BYTES}"
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// `(method, path)` of every route [`routes`] registers, relative to the mount point.
pub fn registered_routes() -> Vec<(&'static str, &'static str)> {
    ROUTES
        .iter()
        .map(|route| (route.method.as_str(), route.path))
        .collect()
}

/// Every method the API uses anywhere (for probing a path with the ones it does not take).
pub fn methods() -> Vec<&'static str> {
    HttpMethod::ALL.iter().map(|m| m.as_str()).collect()
}

async fn not_found() -> ApiError {
    ApiError::not_found(
        "route-not-found",
        "no such admin API route; GET /api/v1/openapi.json lists them",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this admin API route does not take this method; GET /api/v1/openapi.json lists them",
    )
}
