//! The token endpoint's request, response and errors (RFC 6749 §3.2, §4.1.3, §5, §6), and the
//! claims of the JWTs it issues.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::client::ClientId;
use crate::parameters::{form_urldecode, Parameters};
use crate::scope::ScopeSet;

/// JOSE `typ` of ID tokens.
pub const ID_TOKEN_TYPE: &str = "JWT";
/// JOSE `typ` of access tokens (RFC 9068 §2.1), so that an ID token is never accepted as an
/// access token or the reverse.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims of an ID token (OpenID Connect Core §2, RFC 8176 for `amr`).
///
/// certgate-specific claims: `oid` (the user's object ID, as Entra), `upn`, and the sign-in
/// certificate: `x5_serial` (serial number, lowercase hex) and `x5_issuer` (issuer DN). The
/// names follow the `x5*` family of JOSE (`x5c`, `x5t`) rather than AD FS's claim URIs
/// (`http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber`,
/// `.../2012/12/certificatecontext/field/issuer`), which do not fit JWT claim naming; the
/// SAML and WS-Federation side uses those URIs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer: the provider's issuer identifier.
    pub iss: String,
    /// Subject: the user's object ID.
    pub sub: String,
    /// Audience: the client ID.
    pub aud: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, in seconds since the Unix epoch.
    pub iat: i64,
    /// When the user presented the certificate, in seconds since the Unix epoch; a refresh repeats
    /// the original sign-in's.
    pub auth_time: i64,
    /// The authorization request's `nonce`, unchanged; absent in tokens from a refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authentication context class: [`ACR_CERTIFICATE`](crate::ACR_CERTIFICATE) or
    /// [`ACR_MFA`](crate::ACR_MFA).
    pub acr: String,
    /// Authentication method references (RFC 8176), as
    /// [`Authentication::amr`](crate::Authentication::amr) lists them.
    pub amr: Vec<String>,
    /// The user's object ID (same as `sub`).
    pub oid: String,
    /// The user principal name.
    pub upn: String,
    /// Display name; only with the `profile` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email address; only with the `email` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The sign-in certificate's serial number, lowercase hex.
    pub x5_serial: String,
    /// The sign-in certificate's issuer DN.
    pub x5_issuer: String,
}

/// The claims of an access token (RFC 9068 §2.2). `aud` is the client; `grant_id` names the
/// grant, so that userinfo refuses tokens of a revoked grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer: the provider's issuer identifier.
    pub iss: String,
    /// Subject: the user's object ID.
    pub sub: String,
    /// Audience: the client ID.
    pub aud: String,
    /// The client the token was issued to (RFC 9068 §2.2).
    pub client_id: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, in seconds since the Unix epoch.
    pub iat: i64,
    /// A random token ID (16 bytes, base64url).
    pub jti: String,
    /// When the user presented the certificate, in seconds since the Unix epoch.
    pub auth_time: i64,
    /// The grant's ID ([`GrantId`](crate::GrantId)).
    pub grant_id: String,
}

/// `error` values of the token endpoint (RFC 6749 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenErrorCode {
    /// A parameter is missing, repeated or malformed, or client authentication is ambiguous.
    InvalidRequest,
    /// Client authentication is missing, malformed or wrong, or the client is unknown (HTTP 401).
    InvalidClient,
    /// The code or refresh token is unknown, expired, reused, revoked, issued to another client, or
    /// fails PKCE or the refresh policy.
    InvalidGrant,
    /// The client may not use this grant type; certgate does not send it.
    UnauthorizedClient,
    /// A `grant_type` other than `authorization_code` and `refresh_token`.
    UnsupportedGrantType,
    /// A refresh asks for a scope that is malformed, lacks `openid` or was not granted.
    InvalidScope,
    /// Not in RFC 6749 §5.2, but what clients understand for "try again later" (the store
    /// or the directory is unavailable).
    ServerError,
}

impl TokenErrorCode {
    /// The `error` value, as in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenErrorCode::InvalidRequest => "invalid_request",
            TokenErrorCode::InvalidClient => "invalid_client",
            TokenErrorCode::InvalidGrant => "invalid_grant",
            TokenErrorCode::UnauthorizedClient => "unauthorized_client",
            TokenErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            TokenErrorCode::InvalidScope => "invalid_scope",
            TokenErrorCode::ServerError => "server_error",
        }
    }
}

/// A refused token request. `reason` is the certgate code for the log; the body's
/// `error_description` starts with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenError {
    /// The RFC 6749 `error` code.
    pub error: TokenErrorCode,
    /// The certgate reason code.
    pub reason: &'static str,
    /// Shown to the client after the reason code.
    pub message: String,
    /// The full story, for the log (may name internals the client must not see).
    pub log_detail: String,
}

/// The JSON body of a token error (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenErrorBody {
    /// The RFC 6749 `error` code.
    pub error: TokenErrorCode,
    /// `reason: message`.
    pub error_description: String,
}

impl TokenError {
    pub(crate) fn new(
        error: TokenErrorCode,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        TokenError {
            error,
            reason,
            log_detail: message.clone(),
            message,
        }
    }

    pub(crate) fn with_log_detail(mut self, detail: impl Into<String>) -> Self {
        self.log_detail = detail.into();
        self
    }

    pub(crate) fn server_error(reason: &'static str, detail: impl fmt::Display) -> Self {
        TokenError::new(
            TokenErrorCode::ServerError,
            reason,
            "the server cannot answer now; try again later",
        )
        .with_log_detail(detail.to_string())
    }

    /// HTTP status: 401 for `invalid_client` (RFC 6749 §5.2), 500 for `server_error`, else
    /// 400.
    pub fn status(&self) -> u16 {
        match self.error {
            TokenErrorCode::InvalidClient => 401,
            TokenErrorCode::ServerError => 500,
            _ => 400,
        }
    }

    /// The `WWW-Authenticate` header to send with a 401.
    pub fn www_authenticate(&self) -> Option<&'static str> {
        (self.error == TokenErrorCode::InvalidClient).then_some("Basic realm=\"certgate\"")
    }

    /// The JSON body to send with [`TokenError::status`].
    pub fn body(&self) -> TokenErrorBody {
        TokenErrorBody {
            error: self.error,
            error_description: format!("{}: {}", self.reason, self.message),
        }
    }
}

/// How the client identified itself at the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// `client_secret_basic`.
    Basic {
        /// The secret from the `Authorization` header.
        secret: Zeroizing<String>,
    },
    /// `client_secret_post`.
    Post {
        /// The `client_secret` form parameter.
        secret: Zeroizing<String>,
    },
    /// A public client: `client_id` only.
    None,
}

impl fmt::Debug for ClientAuthentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientAuthentication::Basic { .. } => "Basic(..)",
            ClientAuthentication::Post { .. } => "Post(..)",
            ClientAuthentication::None => "None",
        })
    }
}

/// What is being exchanged.
#[derive(Clone, PartialEq, Eq)]
pub enum Grant {
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3).
    AuthorizationCode {
        /// The authorization code.
        code: Zeroizing<String>,
        /// Must equal the authorization request's `redirect_uri`.
        redirect_uri: String,
        /// The PKCE verifier (RFC 7636 §4.5); required when the request had a challenge.
        code_verifier: Option<String>,
    },
    /// `grant_type=refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token; it is replaced by a new one on success.
        refresh_token: Zeroizing<String>,
        /// A narrower scope (RFC 6749 §6); `None` keeps the grant's.
        scope: Option<ScopeSet>,
    },
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::AuthorizationCode { redirect_uri, .. } => f
                .debug_struct("AuthorizationCode")
                .field("redirect_uri", redirect_uri)
                .finish_non_exhaustive(),
            Grant::RefreshToken { scope, .. } => f
                .debug_struct("RefreshToken")
                .field("scope", scope)
                .finish_non_exhaustive(),
        }
    }
}

/// A parsed token request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// The client, from the `Authorization` header or the `client_id` parameter.
    pub client_id: ClientId,
    /// How it authenticated.
    pub authentication: ClientAuthentication,
    /// The grant type and its parameters.
    pub grant: Grant,
}

fn invalid_request(reason: &'static str, message: impl Into<String>) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidRequest, reason, message)
}

fn invalid_client(reason: &'static str, message: impl Into<String>) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidClient, reason, message)
}

impl TokenRequest {
    /// From the decoded form body and the `Authorization` header, if any.
    pub fn parse<K: AsRef<str>, V: AsRef<str>>(
        form: &[(K, V)],
        authorization: Option<&str>,
    ) -> Result<TokenRequest, TokenError> {
        let parameters = Parameters::from_pairs(form);
        if let Some(repeated) = parameters.first_repeated() {
            return Err(invalid_request(
                "parameter-repeated",
                format!("the parameter {} appears more than once", repeated.0),
            ));
        }
        let get = |name| parameters.single_or_none(name);

        let (client_id, authentication) = match authorization {
            Some(header) => {
                let (id, secret) = basic_credentials(header)?;
                if get("client_secret").is_some() {
                    return Err(invalid_request(
                        "client-authentication-ambiguous",
                        "use one client authentication method: the Authorization header or client_secret, not both",
                    ));
                }
                if get("client_id").is_some_and(|body_id| body_id != id) {
                    return Err(invalid_request(
                        "client-id-mismatch",
                        "client_id in the body differs from the Authorization header",
                    ));
                }
                (id, ClientAuthentication::Basic { secret })
            }
            None => {
                let id = get("client_id").ok_or_else(|| {
                    invalid_client(
                        "client-authentication-missing",
                        "no client authentication: send client_id (and the secret of a confidential client)",
                    )
                })?;
                let authentication = match get("client_secret") {
                    Some(secret) => ClientAuthentication::Post {
                        secret: Zeroizing::new(secret.to_owned()),
                    },
                    None => ClientAuthentication::None,
                };
                (id.to_owned(), authentication)
            }
        };
        let client_id = ClientId::parse(&client_id)
            .map_err(|_| invalid_client("client-unknown", "the client is not registered"))?;

        let required = |name: &'static str| {
            get(name)
                .ok_or_else(|| invalid_request("parameter-missing", format!("{name} is missing")))
        };
        let grant = match get("grant_type") {
            None => {
                return Err(invalid_request(
                    "parameter-missing",
                    "grant_type is missing",
                ))
            }
            Some("authorization_code") => Grant::AuthorizationCode {
                code: Zeroizing::new(required("code")?.to_owned()),
                redirect_uri: required("redirect_uri")?.to_owned(),
                code_verifier: get("code_verifier").map(str::to_owned),
            },
            Some("refresh_token") => Grant::RefreshToken {
                refresh_token: Zeroizing::new(required("refresh_token")?.to_owned()),
                scope: get("scope").map(ScopeSet::parse).transpose().map_err(|_| {
                    TokenError::new(
                        TokenErrorCode::InvalidScope,
                        "scope-malformed",
                        "scope is malformed",
                    )
                })?,
            },
            Some(other) => {
                return Err(TokenError::new(
                    TokenErrorCode::UnsupportedGrantType,
                    "grant-type-unsupported",
                    format!(
                        "grant_type {} is not supported (authorization_code, refresh_token)",
                        other.chars().take(64).collect::<String>()
                    ),
                ))
            }
        };
        Ok(TokenRequest {
            client_id,
            authentication,
            grant,
        })
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(header: &str) -> Result<(String, Zeroizing<String>), TokenError> {
    let malformed = || {
        invalid_client(
            "client-authentication-malformed",
            "the Authorization header is not valid HTTP Basic client authentication",
        )
    };
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = Zeroizing::new(STANDARD.decode(encoded.trim()).map_err(|_| malformed())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let id = form_urldecode(id).ok_or_else(malformed)?;
    let secret = Zeroizing::new(form_urldecode(secret).ok_or_else(malformed)?);
    if id.is_empty() {
        return Err(malformed());
    }
    Ok((id, secret))
}

/// A successful token response (RFC 6749 §5.1). Send it with `Cache-Control: no-store`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token: an `at+jwt` JWT signed with the Current key.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: String,
    /// The access token's lifetime, in seconds.
    pub expires_in: u64,
    /// The new refresh token, with the `offline_access` scope only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The ID token: a `JWT` signed with the Current key.
    pub id_token: String,
    /// The scopes granted, space-separated (RFC 6749 §5.1).
    pub scope: String,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| ".."))
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_and_post_client_authentication_parse() {
        let code_form = form(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", "https://rp.test/cb"),
        ]);
        let request =
            TokenRequest::parse(&code_form, Some(&basic("mail-app", "s%3Acret"))).expect("basic");
        assert_eq!(request.client_id.as_str(), "mail-app");
        assert_eq!(
            request.authentication,
            ClientAuthentication::Basic {
                secret: Zeroizing::new("s:cret".into())
            }
        );
        let mut post = code_form.clone();
        post.extend(form(&[("client_id", "mail-app"), ("client_secret", "s")]));
        let request = TokenRequest::parse(&post, None).expect("post");
        assert!(matches!(
            request.authentication,
            ClientAuthentication::Post { .. }
        ));
        let mut public = code_form.clone();
        public.extend(form(&[("client_id", "spa"), ("code_verifier", "v")]));
        let request = TokenRequest::parse(&public, None).expect("public");
        assert_eq!(request.authentication, ClientAuthentication::None);
    }

    #[test]
    fn malformed_token_requests_by_table() {
        let code = [
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", "https://rp.test/cb"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = code.to_vec();
            pairs.extend_from_slice(extra);
            form(&pairs)
        };
        let basic_header = basic("mail-app", "s");
        /// (form, Authorization header, error, reason)
        type Case<'a> = (
            Vec<(String, String)>,
            Option<&'a str>,
            TokenErrorCode,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                with(&[]),
                None,
                TokenErrorCode::InvalidClient,
                "client-authentication-missing",
            ),
            (
                with(&[("client_secret", "s")]),
                Some(&basic_header),
                TokenErrorCode::InvalidRequest,
                "client-authentication-ambiguous",
            ),
            (
                with(&[("client_id", "other")]),
                Some(&basic_header),
                TokenErrorCode::InvalidRequest,
                "client-id-mismatch",
            ),
            (
                with(&[]),
                Some("Bearer abc"),
                TokenErrorCode::InvalidClient,
                "client-authentication-malformed",
            ),
            (
                with(&[]),
                Some("Basic !!!"),
                TokenErrorCode::InvalidClient,
                "client-authentication-malformed",
            ),
            (
                with(&[("client_id", "a"), ("client_id", "b")]),
                None,
                TokenErrorCode::InvalidRequest,
                "parameter-repeated",
            ),
            (
                form(&[("client_id", "a"), ("grant_type", "password")]),
                None,
                TokenErrorCode::UnsupportedGrantType,
                "grant-type-unsupported",
            ),
            (
                form(&[("client_id", "a")]),
                None,
                TokenErrorCode::InvalidRequest,
                "parameter-missing",
            ),
            (
                form(&[
                    ("client_id", "a"),
                    ("grant_type", "authorization_code"),
                    ("code", "c"),
                ]),
                None,
                TokenErrorCode::InvalidRequest,
                "parameter-missing",
            ),
            (
                form(&[("client_id", "a"), ("grant_type", "refresh_token")]),
                None,
                TokenErrorCode::InvalidRequest,
                "parameter-missing",
            ),
            (
                form(&[
                    ("client_id", "a"),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "r"),
                    ("scope", "a\"b"),
                ]),
                None,
                TokenErrorCode::InvalidScope,
                "scope-malformed",
            ),
        ];
        for (pairs, header, error, reason) in cases {
            let refused = TokenRequest::parse(&pairs, header).expect_err(reason);
            assert_eq!(
                (refused.error, refused.reason),
                (error, reason),
                "{pairs:?}"
            );
            assert!(refused.body().error_description.starts_with(reason));
        }
    }

    #[test]
    fn invalid_client_is_401_with_a_basic_challenge() {
        let error = TokenError::new(TokenErrorCode::InvalidClient, "client-secret-wrong", "x");
        assert_eq!(error.status(), 401);
        assert_eq!(error.www_authenticate(), Some("Basic realm=\"certgate\""));
        let error = TokenError::new(TokenErrorCode::InvalidGrant, "code-expired", "x");
        assert_eq!((error.status(), error.www_authenticate()), (400, None));
        let json = serde_json::to_value(error.body()).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"error": "invalid_grant", "error_description": "code-expired: x"})
        );
    }
}
