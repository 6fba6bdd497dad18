//! The signed metadata: SAML 2.0 IdP metadata and WS-Federation FederationMetadata.xml
//! (with the SAML 2.0 IdP role), carrying the current and next token-signing certificates.

use super::*;

/// How long published metadata says it is valid; relying parties refetch before then.
pub(super) const METADATA_VALIDITY_SECONDS: i64 = 7 * 86_400;

pub(super) fn xml_response(content_type: &'static str, xml: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=3600"),
            ),
        ],
        xml,
    )
        .into_response()
}

/// `GET /federation/saml/metadata`: the IdP's signed SAML 2.0 metadata, with the current and
/// the next token-signing certificate.
pub async fn saml_metadata<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
) -> Response {
    signed_metadata(&context, |service, keys, now| {
        IdpMetadata {
            id: MessageId::random()?,
            entity_id: service.settings.entity_id.clone(),
            signing_certificates: keys.certificates.clone(),
            want_authn_requests_signed: false,
            sso_redirect_url: service.url(SAML_SSO_PATH),
            sso_post_url: service.url(SAML_SSO_PATH),
            slo_redirect_url: service.url(SAML_SLO_PATH),
            name_id_formats: PUBLISHED_NAME_ID_FORMATS.to_vec(),
            valid_until: Some(UnixTime(now.0 + METADATA_VALIDITY_SECONDS)),
        }
        .sign(&keys.signing)
    })
}

/// The NameID formats both metadata documents publish.
pub(super) const PUBLISHED_NAME_ID_FORMATS: [certgate_saml::NameIdFormat; 3] = [
    certgate_saml::NameIdFormat::Persistent,
    certgate_saml::NameIdFormat::EmailAddress,
    certgate_saml::NameIdFormat::Unspecified,
];

/// A metadata document `write` signs with the current key, or the refusal page.
pub(super) fn signed_metadata<S, P>(
    context: &WebContext<S, P>,
    write: impl FnOnce(&FederationService, &LoadedKeys, UnixTime) -> Result<String, SamlError>,
) -> Response {
    let service = match service(context) {
        Ok(service) => service,
        Err(response) => return response,
    };
    let keys = match loaded_keys(service) {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    match write(service, &keys, context.clock.now()) {
        Ok(xml) => xml_response("application/samlmetadata+xml", xml),
        Err(error) => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            error.code(),
            &error.to_string(),
        ),
    }
}

/// `GET /FederationMetadata/2007-06/FederationMetadata.xml`: the signed WS-Federation
/// metadata (and the SAML 2.0 IdP role), with the current and next token-signing certificate.
pub async fn federation_metadata<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
) -> Response {
    use certgate_saml::wsfed::{FederationMetadata, OfferedClaimType, Saml2IdpRole};
    let offered = |uri: &str, name: &str| OfferedClaimType {
        uri: uri.to_owned(),
        display_name: name.to_owned(),
        description: None,
    };
    signed_metadata(&context, |service, keys, now| {
        FederationMetadata {
            id: MessageId::random()?,
            entity_id: service.settings.entity_id.clone(),
            signing_certificates: keys.certificates.clone(),
            passive_requestor_url: service.url(WSFED_PATH),
            claim_types_offered: vec![
                offered("http://schemas.xmlsoap.org/claims/UPN", "UPN"),
                offered(
                    "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID",
                    "ImmutableID",
                ),
                offered(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                    "E-Mail Address",
                ),
                offered(
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber",
                    "Certificate serial number",
                ),
                offered(
                    "http://schemas.microsoft.com/2012/12/certificatecontext/field/issuer",
                    "Certificate issuer",
                ),
                offered(
                    "http://schemas.microsoft.com/claims/authnmethodsreferences",
                    "Authentication methods references",
                ),
            ],
            saml2_idp: Some(Saml2IdpRole {
                want_authn_requests_signed: false,
                sso_redirect_url: service.url(SAML_SSO_PATH),
                sso_post_url: service.url(SAML_SSO_PATH),
                slo_redirect_url: service.url(SAML_SLO_PATH),
                name_id_formats: PUBLISHED_NAME_ID_FORMATS.to_vec(),
            }),
            valid_until: Some(UnixTime(now.0 + METADATA_VALIDITY_SECONDS)),
        }
        .sign(&keys.signing)
    })
}
