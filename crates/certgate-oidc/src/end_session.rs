//! The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2–§3).
//!
//! certgate only redirects after logout to a `post_logout_redirect_uri` registered for the
//! client, exactly; the client is named by `client_id` or by the `aud` of the `id_token_hint`
//! (both, if given, must agree). The hint must carry certgate's signature by a key still
//! published; an expired hint is accepted (§2: the RP may log out after its token expired).
//! Every error is shown to the user, never redirected.

use certgate_pki::UnixTime;

use crate::client::ClientId;
use crate::parameters::{with_query, Parameters};
use crate::policy::RefreshPolicy;
use crate::provider::Provider;
use crate::sign_in::ObjectId;
use crate::store::OidcStore;
use crate::token::{IdTokenClaims, ID_TOKEN_TYPE};

/// A valid logout request: end the user's session, then show the logged-out page or redirect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndSession {
    /// The user the hint names (when a hint was sent): whose session to end.
    pub user: Option<ObjectId>,
    /// The client, named by `client_id` or the hint's `aud`, if either was sent.
    pub client_id: Option<ClientId>,
    /// Where to send the user afterwards (the registered URI with `state`).
    pub redirect: Option<String>,
}

/// A refused logout request: shown to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndSessionError {
    /// Stable certgate reason code (sign-in log, page, support).
    pub reason: &'static str,
    /// What to tell the person.
    pub message: String,
}

fn refuse(reason: &'static str, message: impl Into<String>) -> EndSessionError {
    EndSessionError {
        reason,
        message: message.into(),
    }
}

impl<S: OidcStore, P: RefreshPolicy> Provider<S, P> {
    /// Validates a logout request (query or form pairs).
    pub async fn end_session<K: AsRef<str>, V: AsRef<str>>(
        &self,
        pairs: &[(K, V)],
        now: UnixTime,
    ) -> Result<EndSession, EndSessionError> {
        let parameters = Parameters::from_pairs(pairs);
        if let Some(repeated) = parameters.first_repeated() {
            return Err(refuse(
                "parameter-repeated",
                format!("The sign-out request repeats {}.", repeated.0),
            ));
        }
        let get = |name| parameters.single_or_none(name);
        let hint = match get("id_token_hint") {
            None => None,
            Some(token) => {
                let claims: IdTokenClaims = self
                    .keys
                    .load()
                    .verify(token, ID_TOKEN_TYPE, now)
                    .map_err(|error| {
                        refuse(
                            "id-token-hint-invalid",
                            format!(
                                "The sign-out request carries a token certgate cannot accept ({}).",
                                error.code()
                            ),
                        )
                    })?;
                if claims.iss != self.config.issuer.as_str() {
                    return Err(refuse(
                        "id-token-hint-invalid",
                        "The sign-out request carries a token from another issuer.",
                    ));
                }
                Some(claims)
            }
        };
        let hinted_client = hint.as_ref().map(|claims| claims.aud.as_str());
        let client_id = match (get("client_id"), hinted_client) {
            (Some(id), Some(aud)) if id != aud => {
                return Err(refuse(
                    "client-id-mismatch",
                    "The sign-out request names two different applications.",
                ))
            }
            (Some(id), _) | (None, Some(id)) => Some(
                ClientId::parse(id)
                    .map_err(|_| refuse("client-unknown", "The application is not registered."))?,
            ),
            (None, None) => None,
        };
        let redirect = match get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let id = client_id.as_ref().ok_or_else(|| {
                    refuse(
                        "client-id-missing",
                        "The sign-out request asks to return to an application without saying which (client_id or id_token_hint).",
                    )
                })?;
                let client = self
                    .store
                    .client(id)
                    .await
                    .map_err(|error| {
                        refuse(
                            error.code(),
                            "certgate cannot read its configuration right now.",
                        )
                    })?
                    .ok_or_else(|| {
                        refuse("client-unknown", "The application is not registered.")
                    })?;
                if !client.has_post_logout_redirect_uri(uri) {
                    return Err(refuse(
                        "post-logout-redirect-uri-not-registered",
                        format!(
                            "The address to return to after signing out is not registered for \"{}\".",
                            client.display_name
                        ),
                    ));
                }
                let state = get("state");
                Some(match state {
                    Some(state) => with_query(uri, &[("state", state)]),
                    None => uri.to_owned(),
                })
            }
        };
        Ok(EndSession {
            user: hint.map(|claims| ObjectId(claims.sub)),
            client_id,
            redirect,
        })
    }
}
