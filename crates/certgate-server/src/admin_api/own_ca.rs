//! `/pki/...`: certgate's own CA (the AD CS role): the certificates it issued, revoking one
//! (with everything issued on its strength), and its CRLs, listed and published now.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use certgate_core::authority::{BaseCrl, BuiltInCa, PkiSettings};
use serde::Deserialize;

use super::resource::{
    CertificateRevocation, Collection, IssuedCertificate, PublishedCrl, RevocationRequest,
};
use super::{body, Admin, AdminStore, ApiError, Body, Context};

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
