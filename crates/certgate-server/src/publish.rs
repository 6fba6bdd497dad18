//! The HTTP endpoints where certgate publishes its own CA certificates and CRLs: the URLs
//! written into the CRL distribution point and AIA extensions of every certificate it issues
//! (`/pki/root.crl`, `/pki/issuing-delta.crl`, `/pki/issuing.crt`, ...).

use certgate_core::Store;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use certgate_core::authority::{AuthorityRole, PublishedCrl};
use certgate_core::crl_cache::CrlKind;

/// Routes for `/pki/...`.
pub(crate) fn routes<S: Store>(store: Arc<S>) -> Router {
    Router::new()
        .route("/pki/{file}", get(pki_file::<S>))
        .with_state(store)
}

enum PkiFile {
    Crl(AuthorityRole, CrlKind),
    Certificate(AuthorityRole),
}

fn parse_file(file: &str) -> Option<PkiFile> {
    if let Some(stem) = file.strip_suffix(".crl") {
        let (role, kind) = match stem.strip_suffix("-delta") {
            Some(role) => (role, CrlKind::Delta),
            None => (stem, CrlKind::Base),
        };
        return Some(PkiFile::Crl(AuthorityRole::parse(role)?, kind));
    }
    let role = file.strip_suffix(".crt")?;
    Some(PkiFile::Certificate(AuthorityRole::parse(role)?))
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

async fn pki_file<S: Store>(
    State(store): State<Arc<S>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(wanted) = parse_file(&file) else {
        return plain(StatusCode::NOT_FOUND, "no such PKI file");
    };
    let authorities = match store.authorities().await {
        Ok(authorities) => authorities,
        Err(error) => {
            return crate::refusal::Refusal::of_store(&error).into_response();
        }
    };
    let role = match wanted {
        PkiFile::Crl(role, _) | PkiFile::Certificate(role) => role,
    };
    let Some(authority) = authorities.into_iter().find(|a| a.role == role) else {
        return plain(
            StatusCode::NOT_FOUND,
            "certgate's CA is not initialised (certgate pki init)",
        );
    };
    match wanted {
        PkiFile::Certificate(_) => (
            [(header::CONTENT_TYPE, "application/pkix-cert")],
            authority.certificate_der,
        )
            .into_response(),
        PkiFile::Crl(_, kind) => match store.latest_published_crl(authority.id, kind).await {
            Ok(Some(crl)) => crl_response(&crl, &headers),
            Ok(None) => plain(
                StatusCode::NOT_FOUND,
                "no CRL published yet (certgate pki crl)",
            ),
            Err(error) => crate::refusal::Refusal::of_store(&error).into_response(),
        },
    }
}

/// A CRL with validators for conditional GETs (every CRL number is a new entity) and a
/// Last-Modified of its thisUpdate.
fn crl_response(crl: &PublishedCrl, headers: &HeaderMap) -> Response {
    let etag = format!("\"crl-{}-{}\"", crl.kind.as_str(), crl.crl_number);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/pkix-crl")],
            crl.der.clone(),
        )
            .into_response()
    };
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    if let Some(value) = http_date(crl.this_update.0).and_then(|d| HeaderValue::from_str(&d).ok()) {
        out.insert(header::LAST_MODIFIED, value);
    }
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    response
}

/// IMF-fixdate (RFC 9110 §5.6.7).
fn http_date(unix_seconds: i64) -> Option<String> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()?
        .format(&format)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_map_to_role_and_kind() {
        assert!(matches!(
            parse_file("issuing-delta.crl"),
            Some(PkiFile::Crl(AuthorityRole::Issuing, CrlKind::Delta))
        ));
        assert!(matches!(
            parse_file("root.crl"),
            Some(PkiFile::Crl(AuthorityRole::Root, CrlKind::Base))
        ));
        assert!(matches!(
            parse_file("root.crt"),
            Some(PkiFile::Certificate(AuthorityRole::Root))
        ));
        assert!(parse_file("other.crl").is_none());
        assert!(parse_file("../root.crl").is_none());
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        assert_eq!(
            http_date(784_111_777).as_deref(),
            Some("Sun, 06 Nov 1994 08:49:37 GMT")
        );
    }
}
