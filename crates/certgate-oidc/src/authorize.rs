//! The authorization endpoint's rules (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2): from the
//! query or form parameters to a typed [`AuthorizationRequest`], or to an error that is either
//! shown to the user or redirected to the client.
//!
//! The order of the checks is what keeps an open redirector out: until the client is known
//! and the `redirect_uri` is exactly one it registered, every error is shown to the user and
//! never redirected (RFC 6749 §4.1.2.1, §10.15). After that, errors go back to the client
//! with its `state` and our `iss` (RFC 9207).

use certgate_pki::UnixTime;
use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientId, ClientKind, ConsentPrompt};
use crate::discovery::Issuer;
use crate::parameters::{with_query, Parameters};
use crate::pkce::CodeChallenge;
use crate::scope::{ScopeSet, OPENID};
use crate::secret::Secret;

/// Upper bounds on echoed values, so a request cannot make certgate store or send megabytes.
const MAX_STATE_LENGTH: usize = 2048;
const MAX_NONCE_LENGTH: usize = 512;
const MAX_HINT_LENGTH: usize = 512;

/// `error` values of an authorization error response (RFC 6749 §4.1.2.1, OpenID Connect Core
/// §3.1.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationErrorCode {
    /// The request is missing a parameter, repeats one, or has one with an invalid value.
    InvalidRequest,
    /// The client may not obtain a code this way (RFC 6749 §4.1.2.1); certgate does not send it.
    UnauthorizedClient,
    /// The user declined on the confirmation page.
    AccessDenied,
    /// A `response_type` other than `code`.
    UnsupportedResponseType,
    /// `scope` is malformed, lacks `openid`, or asks for more than the client is allowed.
    InvalidScope,
    /// certgate failed on its side (no random bytes, the code could not be stored); the redirect
    /// stands in for an HTTP 500.
    ServerError,
    /// certgate cannot serve the request right now (the store is unavailable); the redirect stands
    /// in for an HTTP 503.
    TemporarilyUnavailable,
    /// `prompt=none`, but the user has to sign in (OpenID Connect Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none`, but the client requires the user to confirm (OpenID Connect Core §3.1.2.6).
    ConsentRequired,
    /// `prompt=none`, but some other page would have to be shown (OpenID Connect Core §3.1.2.6);
    /// certgate does not send it.
    InteractionRequired,
    /// The `request` parameter: request objects (OpenID Connect Core §6.1) are not supported.
    RequestNotSupported,
    /// The `request_uri` parameter (OpenID Connect Core §6.2) is not supported.
    RequestUriNotSupported,
    /// The `registration` parameter (OpenID Connect Core §7.2.1) is not supported.
    RegistrationNotSupported,
}

impl AuthorizationErrorCode {
    /// The `error` value, as sent in the redirect.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizationErrorCode::InvalidRequest => "invalid_request",
            AuthorizationErrorCode::UnauthorizedClient => "unauthorized_client",
            AuthorizationErrorCode::AccessDenied => "access_denied",
            AuthorizationErrorCode::UnsupportedResponseType => "unsupported_response_type",
            AuthorizationErrorCode::InvalidScope => "invalid_scope",
            AuthorizationErrorCode::ServerError => "server_error",
            AuthorizationErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            AuthorizationErrorCode::LoginRequired => "login_required",
            AuthorizationErrorCode::ConsentRequired => "consent_required",
            AuthorizationErrorCode::InteractionRequired => "interaction_required",
            AuthorizationErrorCode::RequestNotSupported => "request_not_supported",
            AuthorizationErrorCode::RequestUriNotSupported => "request_uri_not_supported",
            AuthorizationErrorCode::RegistrationNotSupported => "registration_not_supported",
        }
    }
}

/// An error page: the request cannot be trusted to say where to send the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorPage {
    /// Stable certgate reason code (sign-in log, page, support).
    pub reason: &'static str,
    /// What to tell the person (the page adds the correlation ID).
    pub message: String,
}

/// An error sent back to the client's registered redirect URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The client's registered redirect URI the request named.
    pub redirect_uri: String,
    /// The `error` parameter.
    pub error: AuthorizationErrorCode,
    /// `error_description`: starts with the certgate reason code.
    pub description: String,
    /// Stable certgate reason code (sign-in log, support); also the start of `description`.
    pub reason: &'static str,
    /// The request's `state`, echoed so the client can match the answer (RFC 6749 §4.1.2.1).
    pub state: Option<String>,
    /// Our issuer identifier, sent as `iss` (RFC 9207) so the client can tell which provider
    /// answers.
    pub issuer: String,
}

impl ErrorRedirect {
    /// The `Location` of the 302/303 response.
    pub fn location(&self) -> String {
        let mut pairs = vec![
            ("error", self.error.as_str()),
            ("error_description", self.description.as_str()),
        ];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", &self.issuer));
        with_query(&self.redirect_uri, &pairs)
    }
}

/// A refused authorization request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationError {
    /// Show this to the user; never redirect (RFC 6749 §4.1.2.1).
    ShowToUser(ErrorPage),
    /// Redirect the user agent to [`ErrorRedirect::location`].
    Redirect(ErrorRedirect),
}

impl AuthorizationError {
    /// The certgate reason code of either kind of error.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthorizationError::ShowToUser(page) => page.reason,
            AuthorizationError::Redirect(redirect) => redirect.reason,
        }
    }

    fn page(reason: &'static str, message: impl Into<String>) -> AuthorizationError {
        AuthorizationError::ShowToUser(ErrorPage {
            reason,
            message: message.into(),
        })
    }
}

/// The `prompt` values of a request (OpenID Connect Core §3.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

impl Prompt {
    fn parse(text: &str) -> Option<Prompt> {
        let mut prompt = Prompt::default();
        for value in text.split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                // Choosing another account means choosing another certificate, which takes a
                // fresh TLS handshake: the same as `login`.
                "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                _ => return None,
            }
        }
        // "none" must not be combined with any other value.
        if prompt.none && (prompt.login || prompt.consent) {
            return None;
        }
        Some(prompt)
    }

    /// `prompt=none`: no page may be shown.
    pub fn forbids_interaction(self) -> bool {
        self.none
    }

    /// `prompt=login` (or `select_account`).
    pub fn requires_fresh_sign_in(self) -> bool {
        self.login
    }

    /// `prompt=consent`: show the confirmation page even when the client skips it.
    pub fn requires_consent(self) -> bool {
        self.consent
    }
}

/// A valid authorization request. Serializable, so that the server can keep it while the user
/// signs in on the certificate host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client, already known to be registered.
    pub client_id: ClientId,
    /// The client's display name, for the sign-in and confirmation pages.
    pub client_name: String,
    /// `redirect_uri`, identical to one the client registered.
    pub redirect_uri: String,
    /// The requested scopes: `openid` among them, all within the client's allowed scopes.
    pub scopes: ScopeSet,
    /// `state` (at most 2048 bytes), echoed in the response.
    pub state: Option<String>,
    /// `nonce` (at most 512 bytes), copied into the ID token (OpenID Connect Core §3.1.2.1).
    pub nonce: Option<String>,
    /// The PKCE challenge (RFC 7636 §4.3); always present for a public client.
    pub code_challenge: Option<CodeChallenge>,
    /// What the client asked about interaction: none, a fresh sign-in, the confirmation page.
    pub prompt: Prompt,
    /// Seconds (OpenID Connect Core §3.1.2.1).
    pub max_age: Option<i64>,
    /// `login_hint` (at most 512 bytes), kept with the request; the certificate, not the hint,
    /// decides who signs in.
    pub login_hint: Option<String>,
    /// Requested `acr` values, in order of preference.
    pub acr_values: Vec<String>,
    /// Copied from the client at validation.
    pub consent: ConsentPrompt,
    /// Copied from the client at validation: the sign-in asks for the domain password after
    /// the certificate. Absent (false) in requests kept before certgate had the setting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_domain_password: bool,
    /// When the request arrived: a sign-in at or after this instant is "fresh".
    #[serde(with = "crate::unix_time")]
    pub received_at: UnixTime,
    /// Our issuer identifier, sent as `iss` with the response (RFC 9207).
    pub issuer: String,
}

impl AuthorizationRequest {
    /// An error for this request, redirected to the client.
    pub fn error(
        &self,
        error: AuthorizationErrorCode,
        reason: &'static str,
        message: &str,
    ) -> AuthorizationError {
        AuthorizationError::Redirect(ErrorRedirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description: format!("{reason}: {message}"),
            reason,
            state: self.state.clone(),
            issuer: self.issuer.clone(),
        })
    }

    /// What has to happen before a code can be issued, given the user's current sign-in
    /// session at the provider (if any).
    pub fn sign_in_step(
        &self,
        session: Option<&Session>,
        now: UnixTime,
    ) -> Result<SignInStep, AuthorizationError> {
        let needs_fresh = |session: &Session| {
            let forced = self.prompt.requires_fresh_sign_in() || self.max_age == Some(0);
            (forced && session.auth_time < self.received_at)
                || self
                    .max_age
                    .is_some_and(|max_age| now.0.saturating_sub(session.auth_time.0) > max_age)
        };
        if session.is_none_or(needs_fresh) {
            if self.prompt.forbids_interaction() {
                return Err(self.error(
                    AuthorizationErrorCode::LoginRequired,
                    "login-required",
                    "prompt=none was requested but a certificate sign-in is needed",
                ));
            }
            return Ok(SignInStep::SignIn);
        }
        let confirm = self.consent == ConsentPrompt::Show || self.prompt.requires_consent();
        match (confirm, self.prompt.forbids_interaction()) {
            (true, true) => Err(self.error(
                AuthorizationErrorCode::ConsentRequired,
                "consent-required",
                "prompt=none was requested but this client requires the user to confirm",
            )),
            (true, false) => Ok(SignInStep::Confirm),
            (false, _) => Ok(SignInStep::Issue),
        }
    }
}

/// The user's existing sign-in at the provider, as the server's session knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    /// When the user last authenticated (`auth_time`), for `prompt=login` and `max_age`.
    pub auth_time: UnixTime,
}

/// What the authorization endpoint does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInStep {
    /// A fresh certificate sign-in (no session, `prompt=login`, or `max_age` exceeded).
    SignIn,
    /// Show "continue as <user>", then issue the code.
    Confirm,
    /// Issue the code now.
    Issue,
}

/// The parameters of an authorization request, before the client is known.
#[derive(Debug)]
pub struct AuthorizationParameters {
    parameters: Parameters,
}

impl AuthorizationParameters {
    /// From the decoded query (GET) or form (POST, OpenID Connect Core §3.1.2.1) pairs.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> AuthorizationParameters {
        AuthorizationParameters {
            parameters: Parameters::from_pairs(pairs),
        }
    }

    /// The `client_id`; every failure here is shown to the user.
    pub fn client_id(&self) -> Result<ClientId, AuthorizationError> {
        match self.parameters.single("client_id") {
            Err(_) => Err(AuthorizationError::page(
                "parameter-repeated",
                "The sign-in request names more than one application (client_id). Start again from the application.",
            )),
            Ok(None) => Err(AuthorizationError::page(
                "client-id-missing",
                "The sign-in request does not say which application it is for (client_id is missing). Start again from the application.",
            )),
            Ok(Some(text)) => ClientId::parse(text).map_err(|_| {
                AuthorizationError::page(
                    "client-unknown",
                    "The application that sent you here is not registered with certgate. Tell its administrator.",
                )
            }),
        }
    }

    /// Validates the request against `client` (the registered client of `client_id()`, or
    /// `None` when there is none).
    pub fn validate(
        &self,
        client: Option<&Client>,
        issuer: &Issuer,
        now: UnixTime,
    ) -> Result<AuthorizationRequest, AuthorizationError> {
        let client_id = self.client_id()?;
        let client = client
            .filter(|client| client.client_id == client_id)
            .ok_or_else(|| {
                AuthorizationError::page(
                    "client-unknown",
                    format!("The application \"{client_id}\" is not registered with certgate. Tell its administrator."),
                )
            })?;
        let redirect_uri = match self.parameters.single("redirect_uri") {
            Err(_) => {
                return Err(AuthorizationError::page(
                    "parameter-repeated",
                    "The sign-in request names more than one return address (redirect_uri). Start again from the application.",
                ))
            }
            Ok(None) => {
                return Err(AuthorizationError::page(
                    "redirect-uri-missing",
                    "The sign-in request does not say where to return (redirect_uri is missing). Tell the application's administrator.",
                ))
            }
            Ok(Some(uri)) if !client.has_redirect_uri(uri) => {
                return Err(AuthorizationError::page(
                    "redirect-uri-not-registered",
                    format!(
                        "The return address of this sign-in request is not registered for \"{}\". Tell the application's administrator.",
                        client.display_name
                    ),
                ))
            }
            Ok(Some(uri)) => uri.to_owned(),
        };

        // From here on the client and its redirect URI are trusted: errors are redirected.
        let state = self
            .parameters
            .single_or_none("state")
            .filter(|state| state.len() <= MAX_STATE_LENGTH)
            .map(str::to_owned);
        let fail = |error, reason: &'static str, message: &str| {
            AuthorizationError::Redirect(ErrorRedirect {
                redirect_uri: redirect_uri.clone(),
                error,
                description: format!("{reason}: {message}"),
                reason,
                state: state.clone(),
                issuer: issuer.as_str().to_owned(),
            })
        };
        use AuthorizationErrorCode as Code;
        let invalid = |reason, message: &str| fail(Code::InvalidRequest, reason, message);

        if let Some(repeated) = self.parameters.first_repeated() {
            return Err(invalid(
                "parameter-repeated",
                &format!("the parameter {} appears more than once", repeated.0),
            ));
        }
        let get = |name| self.parameters.single_or_none(name);
        if get("state").is_some_and(|s| s.len() > MAX_STATE_LENGTH) {
            return Err(invalid(
                "parameter-too-long",
                "state is longer than 2048 characters",
            ));
        }
        if self.parameters.contains("request") {
            return Err(fail(
                Code::RequestNotSupported,
                "request-object-unsupported",
                "request objects are not supported",
            ));
        }
        if self.parameters.contains("request_uri") {
            return Err(fail(
                Code::RequestUriNotSupported,
                "request-object-unsupported",
                "request_uri is not supported",
            ));
        }
        if self.parameters.contains("registration") {
            return Err(fail(
                Code::RegistrationNotSupported,
                "registration-unsupported",
                "the registration parameter is not supported",
            ));
        }
        match get("response_type") {
            None => return Err(invalid("response-type-missing", "response_type is missing")),
            Some("code") => {}
            Some(_) => {
                return Err(fail(
                    Code::UnsupportedResponseType,
                    "response-type-unsupported",
                    "only response_type=code is supported",
                ))
            }
        }
        if get("response_mode").is_some_and(|mode| mode != "query") {
            return Err(invalid(
                "response-mode-unsupported",
                "only response_mode=query is supported",
            ));
        }
        let scopes = match get("scope") {
            None => {
                return Err(invalid(
                    "scope-missing",
                    "scope is missing (it must include openid)",
                ))
            }
            Some(text) => ScopeSet::parse(text)
                .map_err(|_| fail(Code::InvalidScope, "scope-malformed", "scope is malformed"))?,
        };
        if !scopes.contains(OPENID) {
            return Err(fail(
                Code::InvalidScope,
                "scope-openid-missing",
                "scope must include openid",
            ));
        }
        let outside = scopes.outside(&client.allowed_scopes);
        if !outside.is_empty() {
            return Err(fail(
                Code::InvalidScope,
                "scope-not-allowed",
                &format!("this client may not request {}", outside.join(" ")),
            ));
        }
        let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
            (Some(challenge), method) => Some(
                CodeChallenge::parse(challenge, method)
                    .map_err(|error| invalid(error.code(), &error.to_string()))?,
            ),
            (None, Some(_)) => {
                return Err(invalid(
                    "pkce-challenge-missing",
                    "code_challenge_method was sent without code_challenge",
                ))
            }
            (None, None) if client.kind() == ClientKind::Public => {
                return Err(invalid(
                    "pkce-required",
                    "public clients must send code_challenge with code_challenge_method=S256",
                ))
            }
            (None, None) => None,
        };
        let prompt = match get("prompt") {
            None => Prompt::default(),
            Some(text) => Prompt::parse(text).ok_or_else(|| {
                invalid(
                    "prompt-invalid",
                    "prompt must be none, or any of login, consent, select_account",
                )
            })?,
        };
        let max_age = match get("max_age") {
            None => None,
            Some(text) => Some(
                text.parse::<u32>()
                    .ok()
                    .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
                    .map(i64::from)
                    .ok_or_else(|| {
                        invalid("max-age-invalid", "max_age must be a number of seconds")
                    })?,
            ),
        };
        let nonce = get("nonce").map(str::to_owned);
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE_LENGTH) {
            return Err(invalid(
                "parameter-too-long",
                "nonce is longer than 512 characters",
            ));
        }
        let login_hint = get("login_hint").map(str::to_owned);
        if login_hint
            .as_ref()
            .is_some_and(|h| h.len() > MAX_HINT_LENGTH)
        {
            return Err(invalid(
                "parameter-too-long",
                "login_hint is longer than 512 characters",
            ));
        }
        let acr_values = get("acr_values")
            .map(|text| {
                text.split(' ')
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(AuthorizationRequest {
            client_id: client.client_id.clone(),
            client_name: client.display_name.clone(),
            redirect_uri,
            scopes,
            state,
            nonce,
            code_challenge,
            prompt,
            max_age,
            login_hint,
            acr_values,
            consent: client.consent,
            require_domain_password: client.require_domain_password,
            received_at: now,
            issuer: issuer.as_str().to_owned(),
        })
    }
}

/// The successful authorization response (RFC 6749 §4.1.2, RFC 9207).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// The client's registered redirect URI the request named.
    pub redirect_uri: String,
    /// The authorization code (single use, RFC 6749 §4.1.2); only its hash is stored.
    pub code: Secret,
    /// The request's `state`, echoed.
    pub state: Option<String>,
    /// Our issuer identifier, sent as `iss` (RFC 9207).
    pub issuer: String,
}

impl AuthorizationResponse {
    /// The `Location` of the redirect back to the client.
    pub fn location(&self) -> String {
        let mut pairs = vec![("code", self.code.expose())];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", &self.issuer));
        with_query(&self.redirect_uri, &pairs)
    }
}
