//! The token endpoint's rules: client authentication, the authorization-code grant (RFC 6749
//! §4.1.3, RFC 7636 §4.6) and the refresh-token grant (RFC 6749 §6) with rotation and reuse
//! detection, and the tokens they issue.

use certgate_core::store::StoreError;
use certgate_pki::UnixTime;

use crate::client::{Client, ClientType, TokenLifetimes};
use crate::grant::{
    after, CodeRedemption, GrantId, GrantRecord, RefreshRotation, RefreshTokenRecord,
    REVOKED_CODE_REUSED, REVOKED_REFRESH_TOKEN_REUSED,
};
use crate::policy::{self, GrantRefusal, RefreshPolicy};
use crate::provider::Provider;
use crate::scope::{ScopeSet, EMAIL, OFFLINE_ACCESS, OPENID, PROFILE};
use crate::secret::{base64url, random_bytes, Secret, SecretHash};
use crate::store::OidcStore;
use crate::token::{
    AccessTokenClaims, ClientAuthentication, Grant, IdTokenClaims, TokenError, TokenErrorCode,
    TokenRequest, TokenResponse, ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE,
};

fn invalid_grant(reason: &'static str, message: impl Into<String>) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidGrant, reason, message)
}

fn invalid_client(reason: &'static str, message: impl Into<String>) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidClient, reason, message)
}

fn store_failed(error: StoreError) -> TokenError {
    TokenError::server_error(error.code(), error)
}

fn refused(refusal: GrantRefusal) -> TokenError {
    invalid_grant(refusal.code(), refusal.to_string())
}

impl<S: OidcStore, P: RefreshPolicy> Provider<S, P> {
    /// The token endpoint.
    pub async fn token(
        &self,
        request: &TokenRequest,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenError> {
        let client = self.authenticate_client(request).await?;
        match &request.grant {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.redeem_code(&client, code, redirect_uri, code_verifier.as_deref(), now)
                    .await
            }
            Grant::RefreshToken {
                refresh_token,
                scope,
            } => {
                self.refresh(&client, refresh_token, scope.as_ref(), now)
                    .await
            }
        }
    }

    async fn authenticate_client(&self, request: &TokenRequest) -> Result<Client, TokenError> {
        let client = self
            .store
            .client(&request.client_id)
            .await
            .map_err(store_failed)?
            .ok_or_else(|| invalid_client("client-unknown", "the client is not registered"))?;
        match (&client.client_type, &request.authentication) {
            (
                ClientType::Confidential { .. },
                ClientAuthentication::Basic { secret } | ClientAuthentication::Post { secret },
            ) => {
                if !client.secret_matches(secret) {
                    return Err(invalid_client(
                        "client-secret-wrong",
                        "client authentication failed",
                    ));
                }
            }
            (ClientType::Confidential { .. }, ClientAuthentication::None) => {
                return Err(invalid_client(
                    "client-secret-missing",
                    "this client must authenticate with its secret (client_secret_basic or client_secret_post)",
                ))
            }
            (ClientType::Public, ClientAuthentication::None) => {}
            (ClientType::Public, _) => {
                return Err(invalid_client(
                    "client-secret-unexpected",
                    "this is a public client: it has no secret; send client_id and the PKCE code_verifier",
                ))
            }
        }
        Ok(client)
    }

    async fn redeem_code(
        &self,
        client: &Client,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenError> {
        let hash = SecretHash::of(code);
        let unknown = || invalid_grant("code-unknown", "the authorization code is not valid");
        let record = self
            .store
            .code(&hash)
            .await
            .map_err(store_failed)?
            .ok_or_else(unknown)?;
        if record.used_at.is_some() {
            // RFC 6749 §4.1.2: a second use revokes what the first one gave.
            let revoked = self
                .store
                .revoke_grants_from_code(&hash, now, REVOKED_CODE_REUSED)
                .await
                .map_err(store_failed)?;
            return Err(invalid_grant(
                "code-reused",
                "the authorization code was already used; the tokens issued for it are revoked",
            )
            .with_log_detail(format!(
                "authorization code for client {} presented again; {revoked} grant(s) revoked",
                record.client_id
            )));
        }
        if record.client_id != client.client_id {
            return Err(invalid_grant(
                "code-client-mismatch",
                "the authorization code was issued to another client",
            ));
        }
        if now >= record.expires_at {
            return Err(invalid_grant(
                "code-expired",
                "the authorization code expired; sign in again",
            ));
        }
        if record.redirect_uri != redirect_uri {
            return Err(invalid_grant(
                "code-redirect-uri-mismatch",
                "redirect_uri differs from the one in the authorization request",
            ));
        }
        match (&record.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) => match challenge.verify(verifier) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(invalid_grant(
                        "pkce-verifier-mismatch",
                        "code_verifier does not match the code_challenge",
                    ))
                }
                Err(error) => return Err(invalid_grant(error.code(), error.to_string())),
            },
            (Some(_), None) => {
                return Err(invalid_grant(
                    "pkce-verifier-missing",
                    "code_verifier is required: the authorization request had a code_challenge",
                ))
            }
            // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
            (None, Some(_)) => {
                return Err(invalid_grant(
                    "pkce-verifier-unexpected",
                    "code_verifier was sent but the authorization request had no code_challenge",
                ))
            }
            (None, None) if matches!(client.client_type, ClientType::Public) => {
                return Err(invalid_grant(
                    "pkce-required",
                    "public clients must use PKCE",
                ))
            }
            (None, None) => {}
        }
        let authentication = &record.authentication;
        policy::check(&self.policy, authentication)
            .await
            .map_err(|error| TokenError::server_error("policy-unavailable", error))?
            .map_err(refused)?;

        let refresh = if record.scopes.contains(OFFLINE_ACCESS) {
            Some(
                Secret::generate()
                    .map_err(|e| TokenError::server_error("random-unavailable", e))?,
            )
        } else {
            None
        };
        let lifetimes = self.capped_lifetimes(client);
        let grant = GrantRecord {
            id: GrantId::generate()
                .map_err(|e| TokenError::server_error("random-unavailable", e))?,
            code_hash: hash,
            client_id: client.client_id.clone(),
            scopes: record.scopes.clone(),
            authentication: authentication.clone(),
            created_at: now,
            expires_at: match refresh {
                Some(_) => after(authentication.auth_time, lifetimes.refresh_token),
                None => after(now, lifetimes.access_token),
            },
            revoked: None,
        };
        let refresh_record = refresh.as_ref().map(|secret| RefreshTokenRecord {
            hash: secret.hash(),
            grant_id: grant.id.clone(),
            issued_at: now,
            used_at: None,
        });
        match self
            .store
            .redeem_code(&hash, now, &grant, refresh_record.as_ref())
            .await
        {
            Ok(CodeRedemption::Redeemed) => {}
            Ok(CodeRedemption::AlreadyUsed) => {
                return Err(invalid_grant(
                    "code-reused",
                    "the authorization code was already used; the tokens issued for it are revoked",
                ))
            }
            Err(StoreError::NotFound { .. }) => return Err(unknown()),
            Err(error) => return Err(store_failed(error)),
        }
        self.issue_tokens(client, &grant, &grant.scopes, record.nonce, refresh, now)
    }

    async fn refresh(
        &self,
        client: &Client,
        token: &str,
        scope: Option<&ScopeSet>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenError> {
        let hash = SecretHash::of(token);
        let unknown = || invalid_grant("refresh-token-unknown", "the refresh token is not valid");
        let record = self
            .store
            .refresh_token(&hash)
            .await
            .map_err(store_failed)?
            .ok_or_else(unknown)?;
        let grant = self
            .store
            .grant(&record.grant_id)
            .await
            .map_err(store_failed)?
            .ok_or_else(unknown)?;
        // RFC 6749 §6: bound to the client it was issued to. Another client presenting it
        // does not get to revoke it.
        if grant.client_id != client.client_id {
            return Err(invalid_grant(
                "refresh-token-client-mismatch",
                "the refresh token was issued to another client",
            ));
        }
        if record.used_at.is_some() {
            self.store
                .revoke_grant(&grant.id, now, REVOKED_REFRESH_TOKEN_REUSED)
                .await
                .map_err(store_failed)?;
            return Err(invalid_grant(
                "refresh-token-reused",
                "the refresh token was already used; every token of this sign-in is revoked, sign in again",
            )
            .with_log_detail(format!(
                "replaced refresh token of grant {} (client {}, user {}) presented again: grant revoked",
                grant.id, grant.client_id, grant.authentication.user.object_id
            )));
        }
        if let Some(revocation) = &grant.revoked {
            return Err(invalid_grant(
                "refresh-token-revoked",
                format!(
                    "the refresh token was revoked ({}); sign in again",
                    revocation.reason
                ),
            ));
        }
        if now >= grant.expires_at {
            return Err(invalid_grant(
                "refresh-token-expired",
                "the refresh token expired; sign in again",
            ));
        }
        let scopes = match scope {
            None => grant.scopes.clone(),
            Some(requested) => {
                let outside = requested.outside(&grant.scopes);
                if !outside.is_empty() {
                    return Err(TokenError::new(
                        TokenErrorCode::InvalidScope,
                        "scope-not-granted",
                        format!("scope {} was not granted", outside.join(" ")),
                    ));
                }
                if !requested.contains(OPENID) {
                    return Err(TokenError::new(
                        TokenErrorCode::InvalidScope,
                        "scope-openid-missing",
                        "scope must include openid",
                    ));
                }
                requested.clone()
            }
        };
        policy::check(&self.policy, &grant.authentication)
            .await
            .map_err(|error| TokenError::server_error("policy-unavailable", error))?
            .map_err(refused)?;

        let next =
            Secret::generate().map_err(|e| TokenError::server_error("random-unavailable", e))?;
        let next_record = RefreshTokenRecord {
            hash: next.hash(),
            grant_id: grant.id.clone(),
            issued_at: now,
            used_at: None,
        };
        match self
            .store
            .rotate_refresh_token(&hash, now, &next_record)
            .await
        {
            Ok(RefreshRotation::Rotated) => {}
            Ok(RefreshRotation::AlreadyUsed) => {
                return Err(invalid_grant(
                    "refresh-token-reused",
                    "the refresh token was already used; every token of this sign-in is revoked, sign in again",
                ))
            }
            Err(StoreError::NotFound { .. }) => return Err(unknown()),
            Err(error) => return Err(store_failed(error)),
        }
        self.issue_tokens(client, &grant, &scopes, None, Some(next), now)
    }

    /// The client's lifetimes, with ID and access tokens capped by `max_token_lifetime`
    /// (registration enforces the cap, but the configuration may have been lowered since): a
    /// token never outlives the publication of the key that signed it.
    fn capped_lifetimes(&self, client: &Client) -> TokenLifetimes {
        let max = self.config.max_token_lifetime;
        TokenLifetimes {
            id_token: client.lifetimes.id_token.min(max),
            access_token: client.lifetimes.access_token.min(max),
            refresh_token: client.lifetimes.refresh_token,
        }
    }

    fn issue_tokens(
        &self,
        client: &Client,
        grant: &GrantRecord,
        scopes: &ScopeSet,
        nonce: Option<String>,
        refresh: Option<Secret>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenError> {
        let keys = self.keys.load();
        let issuer = self.config.issuer.as_str();
        let authentication = &grant.authentication;
        let user = &authentication.user;
        let lifetimes = self.capped_lifetimes(client);
        let id_token = IdTokenClaims {
            iss: issuer.to_owned(),
            sub: user.object_id.0.clone(),
            aud: client.client_id.as_str().to_owned(),
            exp: after(now, lifetimes.id_token).0,
            iat: now.0,
            auth_time: authentication.auth_time.0,
            nonce,
            acr: authentication.acr().to_owned(),
            amr: authentication
                .amr()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            oid: user.object_id.0.clone(),
            upn: user.upn.clone(),
            name: user
                .display_name
                .clone()
                .filter(|_| scopes.contains(PROFILE)),
            email: user.email.clone().filter(|_| scopes.contains(EMAIL)),
            x5_serial: authentication.certificate.serial.clone(),
            x5_issuer: authentication.certificate.issuer.clone(),
        };
        let jti = base64url(
            &random_bytes::<16>().map_err(|e| TokenError::server_error("random-unavailable", e))?,
        );
        let access_token = AccessTokenClaims {
            iss: issuer.to_owned(),
            sub: user.object_id.0.clone(),
            aud: client.client_id.as_str().to_owned(),
            client_id: client.client_id.as_str().to_owned(),
            scope: scopes.to_string(),
            exp: after(now, lifetimes.access_token).0,
            iat: now.0,
            jti,
            auth_time: authentication.auth_time.0,
            grant_id: grant.id.0.clone(),
        };
        let sign_failed = |error: crate::signing_key::KeyError| {
            TokenError::server_error("oidc-signing-failed", error)
        };
        Ok(TokenResponse {
            access_token: keys
                .sign(ACCESS_TOKEN_TYPE, &access_token)
                .map_err(sign_failed)?,
            token_type: "Bearer".into(),
            expires_in: lifetimes.access_token.as_secs(),
            refresh_token: refresh.map(|secret| secret.expose().to_owned()),
            id_token: keys.sign(ID_TOKEN_TYPE, &id_token).map_err(sign_failed)?,
            scope: scopes.to_string(),
        })
    }
}
