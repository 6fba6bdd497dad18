//! `/auditLogs/signIns` and `/auditLogs/directoryAudits`: the sign-in log and the audit log,
//! newest first.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use certgate_core::signin::{SignInQuery, SignInResult};
use certgate_pki::UnixTime;
use serde::Deserialize;

use super::resource::{Collection, DirectoryAudit, SignIn};
use super::route::{Access, HttpMethod, In, Operation, Parameter, Route};
use super::{Admin, AdminStore, ApiError, Context};

const TOP: Parameter = Parameter {
    name: "$top",
    location: In::Query,
    schema: "integer",
    description:
        "At most this many entries, newest first (default 50, at most 1000). `top` is accepted too.",
};

/// The routes of the logs, in the OpenAPI document's order.
pub(super) const ROUTES: &[Route] = &[
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

const DEFAULT_TOP: i64 = 50;
const MAX_TOP: i64 = 1000;

/// `$top` (OData's name) or `top`.
fn top(dollar: Option<i64>, plain: Option<i64>) -> Result<i64, ApiError> {
    match dollar.or(plain) {
        None => Ok(DEFAULT_TOP),
        Some(n) if (1..=MAX_TOP).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(
            "request-query-invalid",
            format!("$top {n} is outside 1..={MAX_TOP}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignInsQuery {
    user: Option<String>,
    result: Option<String>,
    code: Option<String>,
    since: Option<String>,
    #[serde(rename = "$top")]
    dollar_top: Option<i64>,
    top: Option<i64>,
}

pub(super) async fn signins<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
    query: Result<Query<SignInsQuery>, QueryRejection>,
) -> Result<Json<Collection<SignIn>>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::query(&rejection))?;
    let result = match query.result.as_deref() {
        None => None,
        Some(text) => Some(SignInResult::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "request-query-invalid",
                format!("result \"{text}\" is not success or failure"),
            )
        })?),
    };
    let since = match &query.since {
        None => None,
        Some(text) => Some(
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map(|at| UnixTime(at.unix_timestamp()))
                .map_err(|error| {
                    ApiError::bad_request(
                        "request-query-invalid",
                        format!("since \"{text}\" is not RFC 3339: {error}"),
                    )
                })?,
        ),
    };
    let records = context
        .store
        .signins(&SignInQuery {
            user: query.user,
            result,
            reason_code: query.code,
            since,
            limit: top(query.dollar_top, query.top)?,
        })
        .await?;
    Ok(Json(Collection::of(
        records.iter().map(Into::into).collect(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    #[serde(rename = "$top")]
    dollar_top: Option<i64>,
    top: Option<i64>,
}

pub(super) async fn audits<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Collection<DirectoryAudit>>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::query(&rejection))?;
    let events = context
        .store
        .audit_events(top(query.dollar_top, query.top)?)
        .await?;
    Ok(Json(Collection::of(
        events.iter().map(Into::into).collect(),
    )))
}
