//! The WS-Federation passive endpoint (`wa=wsignin1.0`, `wsignout1.0`,
//! `wsignoutcleanup1.0`), AD FS's `/adfs/ls/`.

use super::*;

/// `GET|POST /federation/wsfed`: the WS-Federation passive endpoint (`wa=wsignin1.0`,
/// `wsignout1.0`, `wsignoutcleanup1.0`), AD FS's `/adfs/ls/`.
pub async fn wsfed_get<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    wsfed(&context, &query).await
}

/// `POST /federation/wsfed`: the same, with the parameters in a form body.
pub async fn wsfed_post<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    wsfed(&context, &form).await
}

pub(super) async fn wsfed<S: WebStore, P: RefreshPolicy>(
    context: &WebContext<S, P>,
    query: &[(String, String)],
) -> Response {
    use certgate_saml::wsfed::{RequestedAuthentication, WsFedRequest};
    if let Err(response) = service(context) {
        return response;
    }
    let request = match WsFedRequest::parse(query) {
        Ok(request) => request,
        Err(error) => return request_refused(&error),
    };
    let sign_in = match request {
        WsFedRequest::SignIn(sign_in) => sign_in,
        WsFedRequest::SignOut(sign_out) | WsFedRequest::SignOutCleanup(sign_out) => {
            return wsfed_sign_out(context, sign_out.reply.as_deref()).await
        }
    };
    let now = context.clock.now();
    let rp = match checked_relying_party(context, Protocol::WsFed, &sign_in.realm).await {
        Ok(rp) => rp,
        Err(response) => return response,
    };
    let authentication = match &sign_in.requested_authentication {
        None | Some(RequestedAuthentication::Certificate) => WsFedAuthentication::Certificate,
        Some(RequestedAuthentication::MultiFactor) => WsFedAuthentication::MultiFactor,
        Some(RequestedAuthentication::Password) => WsFedAuthentication::Password,
        Some(RequestedAuthentication::Other(uri)) => WsFedAuthentication::Other(uri),
    };
    let accepted = match accept_wsfed_sign_in(&rp, sign_in.reply.as_deref(), authentication) {
        Ok(accepted) => accepted,
        Err(refused) => return federation_refused(&refused),
    };
    if let Err(response) = audit_password_request(context, &rp, &accepted, now).await {
        return response;
    }
    if let Some(freshness) = sign_in.freshness {
        tracing::debug!(
            minutes = freshness.max_age_minutes(),
            "wfresh met by a fresh sign-in"
        );
    }
    let pending = FederationRequest {
        protocol: Protocol::WsFed.as_str().to_owned(),
        relying_party: rp.id.clone(),
        reply_url: accepted.reply_url,
        request_id: None,
        relay_state: sign_in.context.clone(),
        wants_mfa: accepted.wants_mfa,
        relying_party_name: rp.name.clone(),
        wants_domain_password: accepted.domain_password_requested.is_some(),
        domain_password_always: rp.require_domain_password,
        requested_authn_context: None,
    };
    begin(context, &pending, now).await
}

/// `wsignout1.0`: certgate has no session to end; the browser goes to `wreply` when that is
/// an address registered for a WS-Fed relying party, else it sees a signed-out page.
pub(super) async fn wsfed_sign_out<S: WebStore, P>(
    context: &WebContext<S, P>,
    reply: Option<&str>,
) -> Response {
    if let Some(reply) = reply {
        let registered = context.store.relying_parties().await.is_ok_and(|rps| {
            rps.iter().any(|rp| {
                rp.protocol == Protocol::WsFed
                    && rp.enabled
                    && (rp.reply_url(Some(reply)).is_some()
                        || rp.logout_url.as_deref() == Some(reply))
            })
        });
        if registered {
            if let Ok(location) = HeaderValue::from_str(reply) {
                return (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
            }
        }
    }
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        crate::pages::render(&crate::pages::MessagePage {
            title: "Signed out",
            paragraphs: &["You are signed out. certgate keeps no sign-in session of its own: the next sign-in asks for your certificate again. Close the browser to forget the certificate choice."],
            alert: false,
            link: None,
        }),
    )
        .into_response()
}
