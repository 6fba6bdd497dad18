//! SAML 2.0 single sign-on (HTTP-Redirect and HTTP-POST bindings) and single logout
//! (HTTP-Redirect): the request decoded and its signature checked here, accepted or refused by
//! `certgate_core::federation::request`.

use super::*;

/// `GET /federation/saml/sso`: an AuthnRequest by the HTTP-Redirect binding.
pub async fn saml_sso_redirect<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    RawQuery(query): RawQuery,
) -> Response {
    let received = AuthnRequest::from_redirect(query.as_deref().unwrap_or_default());
    saml_sso(&context, received).await
}

/// `POST /federation/saml/sso`: an AuthnRequest by the HTTP-POST binding.
pub async fn saml_sso_post<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (request, relay_state) = match (
        form_value(&form, "SAMLRequest"),
        form_value(&form, "RelayState"),
    ) {
        (Ok(Some(request)), Ok(relay_state)) => (request, relay_state),
        (Ok(None), _) => return refusal(
            StatusCode::BAD_REQUEST,
            "saml-parameter-missing",
            "The sign-in request has no SAMLRequest. Go back to the application and sign in again.",
        ),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let received = AuthnRequest::from_post(request, relay_state);
    saml_sso(&context, received).await
}

/// A form field given at most once.
pub(super) fn form_value<'a>(
    form: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, Response> {
    let mut values = form
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "saml-parameter-duplicated",
            &format!("The sign-in request carries {name} more than once."),
        ));
    }
    Ok(first)
}

pub(super) async fn saml_sso<S: WebStore, P: RefreshPolicy>(
    context: &WebContext<S, P>,
    received: Result<certgate_saml::Received<AuthnRequest>, SamlError>,
) -> Response {
    let service = match service(context) {
        Ok(service) => service,
        Err(response) => return response,
    };
    let received = match received {
        Ok(received) => received,
        Err(error) => return request_refused(&error),
    };
    let now = context.clock.now();
    let request = received.message();
    let rp = match checked_relying_party(context, Protocol::Saml, &request.issuer).await {
        Ok(rp) => rp,
        Err(response) => return response,
    };
    let sso_url = service.url(SAML_SSO_PATH);
    let facts = AuthnRequestFacts {
        id: request.id.as_str(),
        issuer: &request.issuer,
        issue_instant: request.issue_instant,
        destination: request.destination.as_deref(),
        acs_url: request.acs_url.as_deref(),
        acs_index: request.acs_index,
        protocol_binding: request.protocol_binding.as_deref(),
        name_id_policy_format: request.name_id_policy_format.as_deref(),
        is_passive: request.is_passive,
        requested_authn_context: request.requested_authn_context.as_ref().map(|requested| {
            let need = match requested.decide() {
                AuthnContextDecision::CertificateSignIn => AuthnContextNeed::Certificate,
                AuthnContextDecision::MultiFactorSignIn => AuthnContextNeed::MultiFactor,
                AuthnContextDecision::PasswordRequested => AuthnContextNeed::Password,
                AuthnContextDecision::Unsatisfiable => AuthnContextNeed::Unsatisfiable,
            };
            (
                need,
                format!(
                    "{} {}",
                    requested.comparison.as_str(),
                    requested.class_refs.join(" ")
                ),
            )
        }),
        signature: signature_check(&received, &rp),
    };
    let endpoint = Endpoint {
        url: &sso_url,
        clock_skew_seconds: service.settings.clock_skew_seconds,
    };
    let accepted = match accept_authn_request(&rp, &facts, endpoint, now, &*context.store).await {
        Ok(AuthnRequestOutcome::SignIn(accepted)) => accepted,
        // What certgate cannot meet is answered to the SP (a signed Response with a
        // failure status), so that the application can tell the user (SAML core §3.4.1.4).
        Ok(AuthnRequestOutcome::AnswerProvider { reply_url, failure }) => {
            let status = match failure {
                SpFailure::NameIdPolicy { .. } => FailureStatus::InvalidNameIdPolicy,
                SpFailure::Passive => FailureStatus::NoPassive,
                SpFailure::AuthnContext { .. } => FailureStatus::NoAuthnContext,
            };
            return saml_failure(
                service,
                &rp,
                request,
                &reply_url,
                received.relay_state(),
                status,
                failure.code(),
                &failure.message(),
                now,
            );
        }
        Err(refused) => return federation_refused(&refused),
    };
    if let Err(response) = audit_password_request(context, &rp, &accepted, now).await {
        return response;
    }
    let pending = FederationRequest {
        protocol: Protocol::Saml.as_str().to_owned(),
        relying_party: rp.id.clone(),
        reply_url: accepted.reply_url,
        request_id: Some(request.id.as_str().to_owned()),
        relay_state: received.relay_state().map(str::to_owned),
        wants_mfa: accepted.wants_mfa,
        relying_party_name: rp.name.clone(),
        wants_domain_password: accepted.domain_password_requested.is_some(),
        domain_password_always: rp.require_domain_password,
        requested_authn_context: request
            .requested_authn_context
            .as_ref()
            .filter(|_| accepted.keep_requested_context)
            .map(RequestedClasses::of),
    };
    begin(context, &pending, now).await
}

/// What certgate-saml found about a received message's signature, for `rp`.
pub(super) fn signature_check<M>(
    received: &certgate_saml::Received<M>,
    rp: &RelyingParty,
) -> SignatureCheck {
    if !received.is_signed() {
        return SignatureCheck::Unsigned;
    }
    if rp.request_certificates.is_empty() {
        return SignatureCheck::Unverifiable;
    }
    match received.verify_signature(&rp.request_certificates) {
        Ok(()) => SignatureCheck::Verified,
        Err(error) => SignatureCheck::Invalid {
            code: error.code(),
            detail: error.to_string(),
        },
    }
}

/// `GET /federation/saml/slo`: a LogoutRequest by the HTTP-Redirect binding. certgate keeps no
/// sign-in session, so there is nothing to end on its side: it checks the request (signed by the
/// SP, as SAML profiles §4.4.4.1 requires; not stale, not replayed) and answers the SP's
/// registered SingleLogoutService with a signed LogoutResponse (Success).
pub async fn saml_slo<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    RawQuery(query): RawQuery,
) -> Response {
    use certgate_saml::{LogoutRequest, LogoutResponse, StatusCode as LogoutStatus};
    let service = match service(&context) {
        Ok(service) => service,
        Err(response) => return response,
    };
    let received = match LogoutRequest::from_redirect(query.as_deref().unwrap_or_default()) {
        Ok(received) => received,
        Err(error) => return request_refused(&error),
    };
    let now = context.clock.now();
    let request = received.message();
    let rp = match checked_relying_party(&context, Protocol::Saml, &request.issuer).await {
        Ok(rp) => rp,
        Err(response) => return response,
    };
    let slo_url = service.url(SAML_SLO_PATH);
    let facts = LogoutRequestFacts {
        id: request.id.as_str(),
        issuer: &request.issuer,
        issue_instant: request.issue_instant,
        destination: request.destination.as_deref(),
        not_on_or_after: request.not_on_or_after,
        signature: signature_check(&received, &rp),
    };
    let endpoint = Endpoint {
        url: &slo_url,
        clock_skew_seconds: service.settings.clock_skew_seconds,
    };
    let logout_url = match accept_logout_request(&rp, &facts, endpoint, now, &*context.store).await
    {
        Ok(logout_url) => logout_url,
        Err(refused) => return federation_refused(&refused),
    };
    let keys = match loaded_keys(service) {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    let written = MessageId::random().and_then(|id| {
        LogoutResponse {
            id,
            in_response_to: request.id.as_str().to_owned(),
            issue_instant: now,
            destination: logout_url.clone(),
            issuer: service.issuer_for(&rp, None),
            status: LogoutStatus::Success,
            second_level_status: None,
        }
        .redirect_query(received.relay_state(), &keys.signing)
    });
    let query = match written {
        Ok(query) => query,
        Err(error) => {
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                error.code(),
                &error.to_string(),
            )
        }
    };
    let separator = if logout_url.contains('?') { '&' } else { '?' };
    tracing::info!(relying_party = %rp.name, name_id = %request.name_id.value, "single logout answered");
    match HeaderValue::from_str(&format!("{logout_url}{separator}{query}")) {
        Ok(location) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "redirect-invalid",
            "certgate could not send you back to the application.",
        ),
    }
}

/// Posts a signed failure Response to the SP's (registered) ACS; `code` is the reason code
/// in the log.
#[allow(clippy::too_many_arguments)]
pub(super) fn saml_failure(
    service: &FederationService,
    rp: &RelyingParty,
    request: &AuthnRequest,
    reply_url: &str,
    relay_state: Option<&str>,
    status: FailureStatus,
    code: &'static str,
    message: &str,
    now: UnixTime,
) -> Response {
    use base64::Engine as _;
    let keys = match loaded_keys(service) {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    tracing::info!(code, relying_party = %rp.name, ?status, message, "SAML request answered with a failure status");
    let written = MessageId::random().and_then(|id| {
        certgate_saml::Response {
            id,
            issuer: service.issuer_for(rp, None),
            destination: reply_url.to_owned(),
            in_response_to: Some(request.id.as_str().to_owned()),
            issue_instant: now,
        }
        .build_failure(status, message, &keys.signing)
    });
    match written {
        Ok(xml) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(xml.as_bytes());
            let mut fields = vec![("SAMLResponse", encoded.as_str())];
            if let Some(relay_state) = relay_state {
                fields.push(("RelayState", relay_state));
            }
            auto_post(reply_url, &fields)
        }
        Err(error) => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            error.code(),
            &error.to_string(),
        ),
    }
}
