//! The userinfo endpoint (OpenID Connect Core §5.3): claims about the user of a valid access
//! token whose grant is live and whose user and certificate still pass the refresh policy.

use certgate_pki::UnixTime;
use serde::{Deserialize, Serialize};

use crate::grant::GrantId;
use crate::policy::{self, RefreshPolicy};
use crate::provider::Provider;
use crate::scope::{EMAIL, OPENID, PROFILE};
use crate::store::OidcStore;
use crate::token::{AccessTokenClaims, ACCESS_TOKEN_TYPE};

/// The userinfo response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The user's object ID, as in the tokens' `sub`.
    pub sub: String,
    /// The user's object ID again, as Entra's `oid`.
    pub oid: String,
    /// The user principal name.
    pub upn: String,
    /// The display name, with the `profile` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The email address, with the `email` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Bearer token errors (RFC 6750 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BearerErrorCode {
    /// The token is malformed, expired, of a revoked grant or otherwise not accepted: HTTP 401.
    InvalidToken,
    /// The token lacks the `openid` scope: HTTP 403.
    InsufficientScope,
    /// The store or the directory is unavailable.
    ServerError,
}

/// A refused userinfo request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfoError {
    /// The RFC 6750 error code.
    pub error: BearerErrorCode,
    /// The certgate reason code (log, and `error_description`).
    pub reason: &'static str,
    /// For the log.
    pub log_detail: String,
}

impl UserInfoError {
    fn invalid(reason: &'static str, detail: impl Into<String>) -> UserInfoError {
        UserInfoError {
            error: BearerErrorCode::InvalidToken,
            reason,
            log_detail: detail.into(),
        }
    }

    /// The HTTP status to answer with: 401, 403 or 500.
    pub fn status(&self) -> u16 {
        match self.error {
            BearerErrorCode::InvalidToken => 401,
            BearerErrorCode::InsufficientScope => 403,
            BearerErrorCode::ServerError => 500,
        }
    }

    /// The `WWW-Authenticate` header (RFC 6750 §3).
    pub fn www_authenticate(&self) -> String {
        match self.error {
            BearerErrorCode::InvalidToken => format!(
                "Bearer realm=\"certgate\", error=\"invalid_token\", error_description=\"{}\"",
                self.reason
            ),
            BearerErrorCode::InsufficientScope => {
                "Bearer realm=\"certgate\", error=\"insufficient_scope\", scope=\"openid\"".into()
            }
            BearerErrorCode::ServerError => "Bearer realm=\"certgate\"".into(),
        }
    }
}

impl<S: OidcStore, P: RefreshPolicy> Provider<S, P> {
    /// The userinfo endpoint, for the access token from `Authorization: Bearer`.
    pub async fn userinfo(
        &self,
        access_token: &str,
        now: UnixTime,
    ) -> Result<UserInfo, UserInfoError> {
        let claims: AccessTokenClaims = self
            .keys
            .load()
            .verify(access_token, ACCESS_TOKEN_TYPE, now)
            .map_err(|error| UserInfoError::invalid(error.code(), error.to_string()))?;
        if claims.iss != self.config.issuer.as_str() {
            return Err(UserInfoError::invalid("token-issuer-wrong", claims.iss));
        }
        if now.0 >= claims.exp {
            return Err(UserInfoError::invalid(
                "token-expired",
                format!("expired at {}", claims.exp),
            ));
        }
        let scopes: Vec<&str> = claims.scope.split(' ').collect();
        if !scopes.contains(&OPENID) {
            return Err(UserInfoError {
                error: BearerErrorCode::InsufficientScope,
                reason: "scope-openid-missing",
                log_detail: format!("access token scope: {}", claims.scope),
            });
        }
        let server_error = |reason: &'static str, detail: String| UserInfoError {
            error: BearerErrorCode::ServerError,
            reason,
            log_detail: detail,
        };
        let grant = self
            .store
            .grant(&GrantId(claims.grant_id.clone()))
            .await
            .map_err(|error| server_error(error.code(), error.to_string()))?
            .ok_or_else(|| UserInfoError::invalid("grant-unknown", claims.grant_id.clone()))?;
        if let Some(revocation) = &grant.revoked {
            return Err(UserInfoError::invalid(
                "grant-revoked",
                format!("grant {} revoked: {}", grant.id, revocation.reason),
            ));
        }
        if grant.client_id.as_str() != claims.client_id
            || grant.authentication.user.object_id.0 != claims.sub
        {
            return Err(UserInfoError::invalid(
                "grant-mismatch",
                format!("access token does not belong to grant {}", grant.id),
            ));
        }
        policy::check(&self.policy, &grant.authentication)
            .await
            .map_err(|error| server_error("policy-unavailable", error.to_string()))?
            .map_err(|refusal| UserInfoError::invalid(refusal.code(), refusal.to_string()))?;
        let user = &grant.authentication.user;
        Ok(UserInfo {
            sub: user.object_id.0.clone(),
            oid: user.object_id.0.clone(),
            upn: user.upn.clone(),
            name: user
                .display_name
                .clone()
                .filter(|_| scopes.contains(&PROFILE)),
            email: user.email.clone().filter(|_| scopes.contains(&EMAIL)),
        })
    }
}
