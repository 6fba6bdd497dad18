//! `/certificateAuthorities` and `/crlStatus`: the trusted CAs (certgate-core's `trusted_ca`)
//! and their CRL cache (the [`CrlService`](crate::crl_refresh::CrlService)).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine as _;
use certgate_core::audit::AuditEvent;
use certgate_core::crl_fetch::NoProgress;
use certgate_core::store::StoreError;
use certgate_core::trusted_ca::{add_cas, remove_ca, set_ca, CaId, TrustError};
use certgate_pki::parse_certificates;
use serde::Deserialize;

use super::extract::{body, Body};
use super::resource::{
    CertificateAuthority, CertificateAuthorityPatch, Collection, CrlRefreshReport, CrlStatus,
    NewCertificateAuthority,
};
use super::route::{Access, HttpMethod, In, Operation, Parameter, Route};
use super::{Admin, AdminStore, ApiError, Context};
use crate::crl_refresh::Urgency;

const CA_ID: Parameter = Parameter {
    name: "id",
    location: In::Path,
    schema: "integer",
    description: "The trusted CA's id.",
};

/// The routes of the trusted CAs and the CRL cache, in the OpenAPI document's order.
pub(super) const ROUTES: &[Route] = &[
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
];

/// A CA id from the path; anything but an integer names no CA.
fn ca_id(text: &str) -> Result<CaId, ApiError> {
    text.parse::<i64>().map(CaId).map_err(|_| {
        ApiError::not_found(
            "ca-not-found",
            format!("\"{text}\" is not a trusted CA's id (an integer); GET /api/v1/certificateAuthorities lists them"),
        )
    })
}

pub(super) async fn list<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
) -> Result<Json<Collection<CertificateAuthority>>, ApiError> {
    let cas = context.store.list_cas().await?;
    Ok(Json(Collection::of(cas.iter().map(Into::into).collect())))
}

pub(super) async fn get<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<CertificateAuthority>, ApiError> {
    let id = ca_id(&id)?;
    let ca = context
        .store
        .list_cas()
        .await?
        .into_iter()
        .find(|ca| ca.id == id)
        .ok_or(TrustError::NotFound(id))?;
    Ok(Json((&ca).into()))
}

pub(super) async fn add<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    new: Body<NewCertificateAuthority>,
) -> Result<(StatusCode, Json<Collection<CertificateAuthority>>), ApiError> {
    let new = body(new)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(new.certificate.trim())
        .map_err(|error| {
            ApiError::bad_request(
                "ca-certificate-malformed",
                format!("certificate must be base64 (of a DER or PEM certificate or a .p7b bundle): {error}"),
            )
        })?;
    let certificates = parse_certificates(&bytes).map_err(TrustError::CertificateMalformed)?;
    if certificates.len() > 1
        && (new.certificate_revocation_list_url.is_some()
            || new.delta_certificate_revocation_list_url.is_some())
    {
        return Err(ApiError::bad_request(
            "ca-urls-need-one-certificate",
            format!(
                "the bundle holds {} certificates; CRL URLs apply to one CA: add the bundle, then PATCH each CA's URLs",
                certificates.len()
            ),
        ));
    }
    let ders = certificates.iter().map(|c| c.der().to_vec()).collect();
    let records = add_cas(
        &*context.store,
        ders,
        |certificate| new.settings_for(certificate),
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    context.changed().await;
    Ok((
        StatusCode::CREATED,
        Json(Collection::of(records.iter().map(Into::into).collect())),
    ))
}

pub(super) async fn update<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(id): Path<String>,
    patch: Body<CertificateAuthorityPatch>,
) -> Result<Json<CertificateAuthority>, ApiError> {
    let id = ca_id(&id)?;
    let patch = body(patch)?;
    let record = set_ca(
        &*context.store,
        id,
        |settings| patch.apply(settings),
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    context.changed().await;
    Ok(Json((&record).into()))
}

pub(super) async fn remove<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<CertificateAuthority>, ApiError> {
    let id = ca_id(&id)?;
    let record = remove_ca(&*context.store, id, context.clock.now(), admin.actor()).await?;
    context.changed().await;
    Ok(Json((&record).into()))
}

pub(super) async fn crl_status<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
) -> Result<Json<Collection<CrlStatus>>, ApiError> {
    let rows = context.crl.status().await?;
    Ok(Json(Collection::of(rows.iter().map(Into::into).collect())))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RefreshQuery {
    ca_id: Option<i64>,
}

pub(super) async fn refresh_crls<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    query: Result<Query<RefreshQuery>, QueryRejection>,
) -> Result<Json<Collection<CrlRefreshReport>>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::query(&rejection))?;
    let only = query.ca_id.map(CaId);
    let reports = match context
        .crl
        .refresh(only, Urgency::Interactive, &NoProgress)
        .await
    {
        Err(StoreError::NotFound { .. }) => {
            return Err(TrustError::NotFound(only.unwrap_or(CaId(0))).into())
        }
        other => other?,
    };
    let reports: Vec<CrlRefreshReport> = reports.iter().map(Into::into).collect();
    // The service records each download under its own actor; this records who asked.
    let failed: Vec<&CrlRefreshReport> = reports.iter().filter(|r| r.failed()).collect();
    context
        .store
        .append_audit(&AuditEvent::new(
            context.clock.now(),
            admin.actor(),
            "crl.refresh-request",
            only.map_or_else(|| "all CAs".to_owned(), |id| format!("ca {id}")),
            failed
                .first()
                .and_then(|r| r.code.as_deref())
                .unwrap_or("ok"),
            format!(
                "{} CRL download(s), {} refused",
                reports.len(),
                failed.len()
            ),
        ))
        .await?;
    Ok(Json(Collection::of(reports)))
}
