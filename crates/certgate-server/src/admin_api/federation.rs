//! `/relyingParties` and `/federation/signingKeys`: the federation service's relying parties
//! and token-signing keys (certgate-core's `federation` services).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use certgate_core::federation::{
    add_relying_party, find_relying_party, list_relying_parties, remove_relying_party,
    rotate_token_signing_keys, set_relying_party, RelyingPartyDraft,
};

use super::resource::{
    Collection, NewRelyingParty, RelyingParty, RelyingPartyPatch, TokenSigningKey,
};
use super::{body, Admin, AdminStore, ApiError, Body, Context};

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
