//! `/relyingParties` and `/federation/signingKeys`: the federation service's relying parties
//! and token-signing keys (certgate-core's `federation` services).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use certgate_core::federation::{
    add_relying_party, find_relying_party, list_relying_parties, remove_relying_party,
    rotate_token_signing_keys, set_relying_party, RelyingPartyDraft,
};

use super::extract::{body, Body};
use super::resource::{
    Collection, NewRelyingParty, RelyingParty, RelyingPartyPatch, TokenSigningKey,
};
use super::route::{Access, HttpMethod, In, Operation, Parameter, Route};
use super::{Admin, AdminStore, ApiError, Context};

const RP_KEY: Parameter = Parameter {
    name: "idOrName",
    location: In::Path,
    schema: "string",
    description: "The relying party's id, name (case-insensitive) or identifier.",
};

/// The routes of the federation service, in the OpenAPI document's order.
pub(super) const ROUTES: &[Route] = &[
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
];

pub(super) async fn list<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
) -> Result<Json<Collection<RelyingParty>>, ApiError> {
    let parties = list_relying_parties(&*context.store).await?;
    Ok(Json(Collection::of(
        parties.iter().map(Into::into).collect(),
    )))
}

pub(super) async fn get<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
    Path(key): Path<String>,
) -> Result<Json<RelyingParty>, ApiError> {
    let rp = find_relying_party(&*context.store, &key).await?;
    Ok(Json((&rp).into()))
}

pub(super) async fn add<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    new: Body<NewRelyingParty>,
) -> Result<(StatusCode, Json<RelyingParty>), ApiError> {
    let draft = RelyingPartyDraft::try_from(body(new)?)?;
    let rp = add_relying_party(&*context.store, draft, context.clock.now(), admin.actor()).await?;
    Ok((StatusCode::CREATED, Json((&rp).into())))
}

pub(super) async fn update<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(key): Path<String>,
    patch: Body<RelyingPartyPatch>,
) -> Result<Json<RelyingParty>, ApiError> {
    let patch = body(patch)?;
    let rp = set_relying_party(
        &*context.store,
        &key,
        |draft| patch.apply(draft),
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    Ok(Json((&rp).into()))
}

pub(super) async fn remove<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(key): Path<String>,
) -> Result<Json<RelyingParty>, ApiError> {
    let rp =
        remove_relying_party(&*context.store, &key, context.clock.now(), admin.actor()).await?;
    Ok(Json((&rp).into()))
}

pub(super) async fn signing_keys<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
) -> Result<Json<Collection<TokenSigningKey>>, ApiError> {
    let keys = context.store.token_signing_keys().await?;
    Ok(Json(Collection::of(keys.iter().map(Into::into).collect())))
}

pub(super) async fn rotate_signing_keys<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
) -> Result<Json<Collection<TokenSigningKey>>, ApiError> {
    // The new key is sealed with the passphrase the running server holds; the request
    // never carries it.
    let passphrase = context.key_passphrase.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "federation-keys-unavailable",
            "this server does not hold the key passphrase (CERTGATE_CA_KEY_PASSPHRASE), so it cannot seal a new token-signing key; run `certgate federation rotate-keys` where the passphrase is set",
        )
    })?;
    rotate_token_signing_keys(
        &*context.store,
        passphrase,
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    let keys = context.store.token_signing_keys().await?;
    Ok(Json(Collection::of(keys.iter().map(Into::into).collect())))
}
