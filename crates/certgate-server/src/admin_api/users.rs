//! `/users`: the directory (certgate-core's `directory` services).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use certgate_core::access_pass::AccessPassService;
use certgate_core::clock::parse_rfc3339_or_date;
use certgate_core::directory::{
    self, add_user, find_user, list_users, remove_user, set_sts_refresh_tokens_valid_from, set_user,
};

use super::extract::{body, Body};
use super::resource::{
    AccessPass, Collection, NewAccessPass, NewUser, SecondFactorReset, StsRefreshTokensValidFrom,
    User, UserPatch,
};
use super::route::{Access, HttpMethod, In, Operation, Parameter, Route};
use super::{Admin, AdminStore, ApiError, Context};

pub(super) const USER_KEY: Parameter = Parameter {
    name: "idOrUpn",
    location: In::Path,
    schema: "string",
    description: "The user's object ID or userPrincipalName (case-insensitive).",
};

/// The routes of the directory, in the OpenAPI document's order.
pub(super) const ROUTES: &[Route] = &[
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
        summary: "Change a user: absent fields stay, lists are replaced whole, `\"mail\": null` removes the mail address. A user synchronised from the directory source (onPremisesSyncEnabled) takes changes to its groups only: user-attribute-from-directory (409).",
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
];

pub(super) async fn list<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
) -> Result<Json<Collection<User>>, ApiError> {
    let users = list_users(&*context.store).await?;
    Ok(Json(Collection::of(users.iter().map(Into::into).collect())))
}

pub(super) async fn get<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
    Path(key): Path<String>,
) -> Result<Json<User>, ApiError> {
    let user = find_user(&*context.store, &key).await?;
    Ok(Json((&user).into()))
}

pub(super) async fn add<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    new: Body<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let new = body(new)?;
    let user = add_user(
        &*context.store,
        new.into(),
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    context.changed().await;
    Ok((StatusCode::CREATED, Json((&user).into())))
}

pub(super) async fn update<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(key): Path<String>,
    patch: Body<UserPatch>,
) -> Result<Json<User>, ApiError> {
    let patch = body(patch)?;
    let user = set_user(
        &*context.store,
        &key,
        |draft| patch.apply(draft),
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    context.changed().await;
    Ok(Json((&user).into()))
}

pub(super) async fn remove<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(key): Path<String>,
) -> Result<Json<User>, ApiError> {
    let user = remove_user(&*context.store, &key, context.clock.now(), admin.actor()).await?;
    context.changed().await;
    Ok(Json((&user).into()))
}

pub(super) async fn revoke_sessions<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(key): Path<String>,
) -> Result<Json<User>, ApiError> {
    let user =
        directory::revoke_sessions(&*context.store, &key, context.clock.now(), admin.actor())
            .await?;
    context.changed().await;
    Ok(Json((&user).into()))
}

pub(super) async fn set_sts<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(key): Path<String>,
    request: Body<StsRefreshTokensValidFrom>,
) -> Result<Json<User>, ApiError> {
    let request = body(request)?;
    let date = parse_rfc3339_or_date(&request.date).ok_or_else(|| {
        ApiError::bad_request(
            "date-invalid",
            format!(
                "\"{}\" is not a date: use YYYY-MM-DD or RFC 3339 (2026-12-01T08:00:00Z)",
                request.date
            ),
        )
    })?;
    let user = set_sts_refresh_tokens_valid_from(
        &*context.store,
        &key,
        date,
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    context.changed().await;
    Ok(Json((&user).into()))
}

/// Issues a Temporary Access Pass: the answer is the only place the pass is ever shown.
pub(super) async fn create_access_pass<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(key): Path<String>,
    request: Body<NewAccessPass>,
) -> Result<(StatusCode, Json<AccessPass>), ApiError> {
    let request = body(request)?;
    let user = find_user(&*context.store, &key).await?;
    let lifetime = request
        .lifetime_in_minutes
        .map(|minutes| minutes.saturating_mul(60));
    let issued = AccessPassService::new(&*context.store, &context.clock, admin.actor())
        .create(user.id.as_str(), user.upn.as_str(), lifetime)
        .await?;
    Ok((StatusCode::CREATED, Json(AccessPass::from(&issued))))
}

/// Removes the user's authenticator app and any access pass.
pub(super) async fn reset_second_factor<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(key): Path<String>,
) -> Result<Json<SecondFactorReset>, ApiError> {
    let user = find_user(&*context.store, &key).await?;
    let reset = AccessPassService::new(&*context.store, &context.clock, admin.actor())
        .reset_second_factor(user.id.as_str(), user.upn.as_str())
        .await?;
    Ok(Json(reset.into()))
}
