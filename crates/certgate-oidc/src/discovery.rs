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
    pub url: String,
    pub reason: &'static str,
}

impl Issuer {
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
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const AUTHORIZATION_PATH: &str = "/oauth2/authorize";
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
pub const JWKS_PATH: &str = "/oauth2/jwks";
pub const END_SESSION_PATH: &str = "/oauth2/logout";

/// Absolute endpoint URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: String,
    pub jwks: String,
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
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub end_session_endpoint: String,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub response_modes_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub prompt_values_supported: Vec<String>,
    pub acr_values_supported: Vec<String>,
    pub claims_supported: Vec<String>,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
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
