//! The issuer, its endpoints and the discovery document (OpenID Connect Discovery 1.0 §3),
//! served at `{issuer}/.well-known/openid-configuration`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::scope::{EMAIL, OFFLINE_ACCESS, OPENID, PROFILE};
use crate::sign_in::{ACR_CERTIFICATE, ACR_MFA};
use crate::signing_key::SIGNING_ALGORITHM;

/// The provider's issuer identifier: an `https` URL without query or fragment (OpenID Connect
/// Discovery §3), stored without a trailing slash so that `iss` is written one way only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Issuer(String);

/// An issuer URL certgate cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("issuer \"{url}\" is invalid: {reason}")]
pub struct IssuerInvalid {
    /// The refused URL, as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Issuer {
    /// Checks the rules above and drops a trailing slash.
    pub fn parse(url: &str) -> Result<Issuer, IssuerInvalid> {
        let invalid = |reason| IssuerInvalid {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| invalid("it must start with https://"))?;
        if url.contains(['?', '#']) {
            return Err(invalid("it must not have a query or fragment"));
        }
        if !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(invalid("it must be printable ASCII without spaces"));
        }
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err(invalid("it needs a host and no user information"));
        }
        Ok(Issuer(url.trim_end_matches('/').to_owned()))
    }

    /// The issuer identifier, as written into `iss`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{issuer}{path}`; `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl TryFrom<String> for Issuer {
    type Error = IssuerInvalid;
    fn try_from(url: String) -> Result<Issuer, IssuerInvalid> {
        Issuer::parse(&url)
    }
}

impl From<Issuer> for String {
    fn from(issuer: Issuer) -> String {
        issuer.0
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Paths of the endpoints under the issuer, for the server's routes.
///
/// This first one is the discovery document's, fixed by OpenID Connect Discovery 1.0 §4.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
/// The authorization endpoint (RFC 6749 §3.1).
pub const AUTHORIZATION_PATH: &str = "/oauth2/authorize";
/// The token endpoint (RFC 6749 §3.2).
pub const TOKEN_PATH: &str = "/oauth2/token";
/// The userinfo endpoint (OpenID Connect Core §5.3).
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
/// The JWK Set with the token-signing keys (RFC 7517 §5).
pub const JWKS_PATH: &str = "/oauth2/jwks";
/// The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2).
pub const END_SESSION_PATH: &str = "/oauth2/logout";

/// Absolute endpoint URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The authorization endpoint's URL.
    pub authorization: String,
    /// The token endpoint's URL.
    pub token: String,
    /// The userinfo endpoint's URL.
    pub userinfo: String,
    /// The JWK Set's URL.
    pub jwks: String,
    /// The end-session endpoint's URL.
    pub end_session: String,
}

impl Endpoints {
    /// The endpoints at their default paths under the issuer.
    pub fn under(issuer: &Issuer) -> Endpoints {
        Endpoints {
            authorization: issuer.join(AUTHORIZATION_PATH),
            token: issuer.join(TOKEN_PATH),
            userinfo: issuer.join(USERINFO_PATH),
            jwks: issuer.join(JWKS_PATH),
            end_session: issuer.join(END_SESSION_PATH),
        }
    }
}

/// Claims certgate issues (ID token, access token, userinfo).
pub const CLAIMS_SUPPORTED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "oid",
    "upn",
    "name",
    "email",
    "x5_serial",
    "x5_issuer",
];

/// The discovery document. Field order is the order of the JSON (kept stable for the golden
/// file and for people reading it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryDocument {
    /// The issuer identifier; must equal the URL the document was fetched under, minus the
    /// well-known path.
    pub issuer: String,
    /// The authorization endpoint's URL.
    pub authorization_endpoint: String,
    /// The token endpoint's URL.
    pub token_endpoint: String,
    /// The userinfo endpoint's URL.
    pub userinfo_endpoint: String,
    /// The JWK Set's URL.
    pub jwks_uri: String,
    /// The end-session endpoint's URL (RP-Initiated Logout 1.0 §2.1).
    pub end_session_endpoint: String,
    /// `openid`, `profile`, `email`, `offline_access`.
    pub scopes_supported: Vec<String>,
    /// `code` only: the authorization code flow.
    pub response_types_supported: Vec<String>,
    /// `query` only.
    pub response_modes_supported: Vec<String>,
    /// `authorization_code` and `refresh_token`.
    pub grant_types_supported: Vec<String>,
    /// `public`: every client sees the same `sub` for a user.
    pub subject_types_supported: Vec<String>,
    /// `ES256`, the one algorithm tokens are signed with.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `client_secret_basic`, `client_secret_post`, and `none` for public clients.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `S256` only (RFC 7636 §4.2; `plain` is refused).
    pub code_challenge_methods_supported: Vec<String>,
    /// `none`, `login`, `consent`, `select_account`.
    pub prompt_values_supported: Vec<String>,
    /// The two `acr` values certgate states: certificate alone, and multi-factor.
    pub acr_values_supported: Vec<String>,
    /// [`CLAIMS_SUPPORTED`].
    pub claims_supported: Vec<String>,
    /// False: the `claims` request parameter (OpenID Connect Core §5.5) is not supported.
    pub claims_parameter_supported: bool,
    /// False: request objects (OpenID Connect Core §6.1) are not supported.
    pub request_parameter_supported: bool,
    /// False: `request_uri` (OpenID Connect Core §6.2) is not supported.
    pub request_uri_parameter_supported: bool,
    /// RFC 9207: every authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// The discovery document of `issuer` with `endpoints`.
pub fn discovery_document(issuer: &Issuer, endpoints: &Endpoints) -> DiscoveryDocument {
    DiscoveryDocument {
        issuer: issuer.as_str().to_owned(),
        authorization_endpoint: endpoints.authorization.clone(),
        token_endpoint: endpoints.token.clone(),
        userinfo_endpoint: endpoints.userinfo.clone(),
        jwks_uri: endpoints.jwks.clone(),
        end_session_endpoint: endpoints.end_session.clone(),
        scopes_supported: strings(&[OPENID, PROFILE, EMAIL, OFFLINE_ACCESS]),
        response_types_supported: strings(&["code"]),
        response_modes_supported: strings(&["query"]),
        grant_types_supported: strings(&["authorization_code", "refresh_token"]),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: strings(&[SIGNING_ALGORITHM]),
        token_endpoint_auth_methods_supported: strings(&[
            "client_secret_basic",
            "client_secret_post",
            "none",
        ]),
        code_challenge_methods_supported: strings(&["S256"]),
        prompt_values_supported: strings(&["none", "login", "consent", "select_account"]),
        acr_values_supported: strings(&[ACR_CERTIFICATE, ACR_MFA]),
        claims_supported: strings(CLAIMS_SUPPORTED),
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        authorization_response_iss_parameter_supported: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_https_without_query_or_trailing_slash() {
        let issuer = Issuer::parse("https://login.example.test/").expect("valid");
        assert_eq!(issuer.as_str(), "https://login.example.test");
        assert_eq!(
            issuer.join(TOKEN_PATH),
            "https://login.example.test/oauth2/token"
        );
        assert_eq!(
            Issuer::parse("https://login.example.test/tenant")
                .expect("path")
                .as_str(),
            "https://login.example.test/tenant"
        );
        for url in [
            "http://login.example.test",
            "https://login.example.test/?a=b",
            "https://login.example.test/#x",
            "https://",
            "https://u@login.example.test",
            "https://login example",
        ] {
            assert!(Issuer::parse(url).is_err(), "{url}");
        }
    }
}
