//! `/pki/...`: certgate's own CA (the AD CS role): the certificates it issued, revoking one
//! (with everything issued on its strength), and its CRLs, listed and published now.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use certgate_core::authority::{BaseCrl, BuiltInCa, PkiSettings};
use serde::Deserialize;

use super::extract::{body, Body};
use super::resource::{
    CertificateRevocation, Collection, IssuedCertificate, PublishedCrl, RevocationRequest,
};
use super::route::{Access, HttpMethod, In, Operation, Parameter, Route};
use super::{Admin, AdminStore, ApiError, Context};

const SERIAL: Parameter = Parameter {
    name: "serial",
    location: In::Path,
    schema: "string",
    description: "The certificate's serial number in hex, as GET /pki/issuedCertificates lists it (`:` allowed).",
};

/// The routes of certgate's own CA, in the OpenAPI document's order.
pub(super) const ROUTES: &[Route] = &[
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
];

/// The CA's settings, which this server holds when it runs certgate's CA with its key
/// passphrase (`certgate serve` always does).
fn settings<S>(context: &Context<S>) -> Result<&PkiSettings, ApiError> {
    context.pki.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "pki-unavailable",
            "this server does not run certgate's CA with its key passphrase (CERTGATE_CA_KEY_PASSPHRASE); use `certgate pki` where the passphrase is set",
        )
    })
}

pub(super) async fn list_issued<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
) -> Result<Json<Collection<IssuedCertificate>>, ApiError> {
    let settings = settings(&context)?;
    let ca = BuiltInCa::new(&*context.store, &context.clock, settings, admin.actor());
    let now = context.clock.now();
    let issued = ca.issued().await?;
    Ok(Json(Collection::of(
        issued
            .iter()
            .map(|record| IssuedCertificate::new(record, now))
            .collect(),
    )))
}

pub(super) async fn revoke<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(serial): Path<String>,
    request: Body<RevocationRequest>,
) -> Result<Json<CertificateRevocation>, ApiError> {
    let request = body(request)?;
    let settings = settings(&context)?;
    let serial = certgate_core::parse_hex(&serial).ok_or_else(|| {
        ApiError::bad_request(
            "pki-serial-invalid",
            format!("\"{serial}\" is not a hexadecimal serial number (as GET /api/v1/pki/issuedCertificates lists them)"),
        )
    })?;
    let ca = BuiltInCa::new(&*context.store, &context.clock, settings, admin.actor());
    let revocation = ca.revoke(&serial, &request.reason).await?;
    Ok(Json(CertificateRevocation::new(
        &revocation,
        context.clock.now(),
    )))
}

pub(super) async fn list_crls<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
) -> Result<Json<Collection<PublishedCrl>>, ApiError> {
    let settings = settings(&context)?;
    let ca = BuiltInCa::new(&*context.store, &context.clock, settings, admin.actor());
    let current = ca.current_crls().await?;
    let authorities = context.store.authorities().await?;
    Ok(Json(Collection::of(PublishedCrl::list(
        &current,
        &authorities,
        &settings.urls,
    ))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct PublishQuery {
    #[serde(default)]
    base: bool,
}

pub(super) async fn publish_crls<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    query: Result<Query<PublishQuery>, QueryRejection>,
) -> Result<Json<Collection<PublishedCrl>>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::query(&rejection))?;
    let settings = settings(&context)?;
    let ca = BuiltInCa::new(&*context.store, &context.clock, settings, admin.actor());
    let published = ca
        .publish_crls(if query.base {
            BaseCrl::Always
        } else {
            BaseCrl::WhenDue
        })
        .await?;
    let authorities = context.store.authorities().await?;
    Ok(Json(Collection::of(PublishedCrl::list(
        &published,
        &authorities,
        &settings.urls,
    ))))
}
