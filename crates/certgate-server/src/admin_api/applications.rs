//! `/applications`: the OpenID Connect clients (the provider's registration), reached through
//! the [`Applications`] port.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use certgate_core::store::StoreError;
use certgate_oidc::{
    Client, ClientId, ClientKind, ConsentPrompt, NewClient, ProviderError, RegisteredClient,
    ScopeSet, TokenLifetimes, EMAIL, OFFLINE_ACCESS, OPENID, PROFILE,
};
use certgate_pki::UnixTime;

use super::extract::{body, Body};
use super::resource::{Application, Collection, CreatedApplication, NewApplication};
use super::route::{Access, HttpMethod, In, Operation, Parameter, Route};
use super::{Admin, AdminStore, ApiError, Context};

/// A future the [`Applications`] port returns (boxed, so the port can be a trait object).
pub type AppFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// The OpenID Connect clients, as the admin API manages them. Implemented by
/// [`certgate_oidc::Provider`]; a trait object so that the API does not carry the provider's
/// type parameters.
pub trait Applications: Send + Sync {
    /// Every registered client (`GET /applications`).
    fn list(&self) -> AppFuture<'_, Vec<Client>>;
    /// The client with this `client_id`, if there is one.
    fn get<'a>(&'a self, id: &'a ClientId) -> AppFuture<'a, Option<Client>>;
    /// Registers a client, audited under `actor`; the answer carries a confidential client's
    /// secret, the only time it is seen.
    fn register<'a>(
        &'a self,
        new: NewClient,
        now: UnixTime,
        actor: &'a str,
    ) -> AppFuture<'a, RegisteredClient>;
    /// Removes the client, audited under `actor`.
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

const APP_ID: Parameter = Parameter {
    name: "appId",
    location: In::Path,
    schema: "string",
    description: "The application's client_id.",
};

/// The routes of the OpenID Connect clients, in the OpenAPI document's order.
pub(super) const ROUTES: &[Route] = &[
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
];

fn applications<S>(context: &Context<S>) -> Result<&dyn Applications, ApiError> {
    context.applications.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "applications-unavailable",
            "the OpenID Connect provider is not running on this server (it needs the web listener), so there are no applications to manage here",
        )
    })
}

fn app_id(text: &str) -> Result<ClientId, ApiError> {
    ClientId::parse(text).map_err(|_| not_found())
}

fn not_found() -> ApiError {
    ProviderError::Store(StoreError::NotFound {
        what: "application".into(),
    })
    .into()
}

/// A random UUID (version 4 form) for an application without a chosen appId.
fn random_app_id() -> Result<ClientId, ApiError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "randomness-unavailable",
            "the system's random number generator failed; no appId could be made",
        )
    })?;
    ClientId::parse(&certgate_core::uuid_v4(bytes))
        .map_err(|error| ApiError::bad_request(error.code(), error.to_string()))
}

fn new_client(new: NewApplication) -> Result<NewClient, ApiError> {
    let client_id = match &new.app_id {
        Some(id) => ClientId::parse(id)
            .map_err(|error| ApiError::bad_request(error.code(), error.to_string()))?,
        None => random_app_id()?,
    };
    let kind = match new.client_type.as_deref() {
        None | Some("confidential") => ClientKind::Confidential,
        Some("public") => ClientKind::Public,
        Some(other) => {
            return Err(ApiError::bad_request(
                "client-type-invalid",
                format!("clientType \"{other}\" is not confidential or public"),
            ))
        }
    };
    let consent = match new.consent_prompt.as_deref() {
        None | Some("show") => ConsentPrompt::Show,
        Some("skip") => ConsentPrompt::Skip,
        Some(other) => {
            return Err(ApiError::bad_request(
                "client-consent-prompt-invalid",
                format!("consentPrompt \"{other}\" is not show or skip"),
            ))
        }
    };
    let allowed_scopes = match &new.allowed_scopes {
        None => ScopeSet::of(&[OPENID, PROFILE, EMAIL, OFFLINE_ACCESS]),
        Some(scopes) => ScopeSet::parse(&scopes.join(" "))
            .map_err(|error| ApiError::bad_request("client-scope-invalid", error.to_string()))?,
    };
    let defaults = TokenLifetimes::default();
    let lifetimes = TokenLifetimes {
        id_token: new
            .id_token_lifetime_seconds
            .map_or(defaults.id_token, Duration::from_secs),
        access_token: new
            .access_token_lifetime_seconds
            .map_or(defaults.access_token, Duration::from_secs),
        refresh_token: new
            .refresh_token_lifetime_seconds
            .map_or(defaults.refresh_token, Duration::from_secs),
    };
    Ok(NewClient {
        client_id,
        display_name: new.display_name,
        kind,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        consent,
        allowed_scopes,
        lifetimes,
        require_domain_password: new.require_domain_password.unwrap_or(false),
    })
}

pub(super) async fn list<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
) -> Result<Json<Collection<Application>>, ApiError> {
    let clients = applications(&context)?.list().await?;
    Ok(Json(Collection::of(
        clients.iter().map(Into::into).collect(),
    )))
}

pub(super) async fn get<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Application>, ApiError> {
    let id = app_id(&id)?;
    let client = applications(&context)?
        .get(&id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json((&client).into()))
}

pub(super) async fn add<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    new: Body<NewApplication>,
) -> Result<(StatusCode, Json<CreatedApplication>), ApiError> {
    let applications = applications(&context)?;
    let new = new_client(body(new)?)?;
    let registered = applications
        .register(new, context.clock.now(), admin.actor())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApplication {
            application: (&registered.client).into(),
            client_secret: registered
                .secret
                .as_ref()
                .map(|secret| secret.expose().to_owned()),
        }),
    ))
}

pub(super) async fn remove<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Application>, ApiError> {
    let applications = applications(&context)?;
    let id = app_id(&id)?;
    let client = applications.get(&id).await?.ok_or_else(not_found)?;
    applications
        .delete(&id, context.clock.now(), admin.actor())
        .await?;
    Ok(Json((&client).into()))
}
