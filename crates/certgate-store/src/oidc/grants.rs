//! Authorization codes, grants and refresh tokens on SQL (migration 0004), for
//! [`OidcStore`](certgate_oidc::OidcStore) in oidc.rs.
//!
//! Single use is decided by the database: a code or refresh token is marked used with
//! `UPDATE ... SET used_at = $1 WHERE ... AND used_at IS NULL`, and only the transaction whose
//! update changed a row goes on to store the grant or the successor token. On PostgreSQL the
//! second of two concurrent updates waits for the first to commit and then matches nothing; on
//! SQLite writers are serialised.

use certgate_core::store::{StoreError, StoreResult};
use certgate_oidc::{
    Assurance, Authentication, CertificateKind, CertificateRef, ClientId, CodeChallenge,
    CodeRecord, CodeRedemption, GrantId, GrantRecord, GrantRevocation, ObjectId, RefreshRotation,
    RefreshTokenRecord, SecondFactor, SecretHash, UserClaims, REVOKED_CODE_REUSED,
    REVOKED_REFRESH_TOKEN_REUSED,
};
use certgate_pki::UnixTime;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Row};

use super::{hash_from, scopes_from};
use crate::{corrupt, flag, translate, unavailable, SqlStore};

const AUTHENTICATION_COLUMNS: &str = "object_id, upn, display_name, email, auth_time, \
     certificate_issuer, certificate_serial, certificate_kind, second_factor, assurance, domain_password";

fn bind_authentication<'q>(
    query: Query<'q, Any, AnyArguments>,
    authentication: &Authentication,
) -> Query<'q, Any, AnyArguments> {
    let user = &authentication.user;
    query
        .bind(user.object_id.as_str().to_owned())
        .bind(user.upn.clone())
        .bind(user.display_name.clone())
        .bind(user.email.clone())
        .bind(authentication.auth_time.0)
        .bind(authentication.certificate.issuer.clone())
        .bind(authentication.certificate.serial.clone())
        .bind(authentication.certificate_kind.as_str())
        .bind(authentication.second_factor.map(SecondFactor::as_str))
        .bind(authentication.assurance.as_str())
        .bind(authentication.domain_password)
}

fn authentication_from_row(row: &AnyRow, table: &str) -> StoreResult<Authentication> {
    let get = |e: sqlx::Error| corrupt(format!("{table}: {e}"));
    let kind: String = row.try_get("certificate_kind").map_err(get)?;
    let factor: Option<String> = row.try_get("second_factor").map_err(get)?;
    let assurance: String = row.try_get("assurance").map_err(get)?;
    Ok(Authentication {
        user: UserClaims {
            object_id: ObjectId(row.try_get("object_id").map_err(get)?),
            upn: row.try_get("upn").map_err(get)?,
            display_name: row.try_get("display_name").map_err(get)?,
            email: row.try_get("email").map_err(get)?,
        },
        auth_time: UnixTime(row.try_get("auth_time").map_err(get)?),
        certificate: CertificateRef {
            issuer: row.try_get("certificate_issuer").map_err(get)?,
            serial: row.try_get("certificate_serial").map_err(get)?,
        },
        certificate_kind: CertificateKind::parse(&kind)
            .ok_or_else(|| corrupt(format!("{table}: certificate kind {kind}")))?,
        second_factor: factor
            .map(|text| {
                SecondFactor::parse(&text)
                    .ok_or_else(|| corrupt(format!("{table}: second factor {text}")))
            })
            .transpose()?,
        domain_password: flag(row, "domain_password").map_err(get)?,
        assurance: Assurance::parse(&assurance)
            .ok_or_else(|| corrupt(format!("{table}: assurance {assurance}")))?,
    })
}

const CODE_COLUMNS: &str = "code_hash, client_id, redirect_uri, scope, nonce, code_challenge, \
     issued_at, expires_at, used_at";

fn code_from_row(row: &AnyRow) -> StoreResult<CodeRecord> {
    let table = "oidc_authorization_codes";
    let get = |e: sqlx::Error| corrupt(format!("{table}: {e}"));
    let hash: String = row.try_get("code_hash").map_err(get)?;
    let client_id: String = row.try_get("client_id").map_err(get)?;
    let scope: String = row.try_get("scope").map_err(get)?;
    let challenge: Option<String> = row.try_get("code_challenge").map_err(get)?;
    Ok(CodeRecord {
        hash: hash_from(&hash, table)?,
        client_id: ClientId::parse(&client_id)
            .map_err(|_| corrupt(format!("{table}: client_id {client_id}")))?,
        redirect_uri: row.try_get("redirect_uri").map_err(get)?,
        scopes: scopes_from(&scope, table)?,
        nonce: row.try_get("nonce").map_err(get)?,
        code_challenge: challenge
            .map(|text| {
                CodeChallenge::parse(&text, Some("S256"))
                    .map_err(|_| corrupt(format!("{table}: code_challenge {text}")))
            })
            .transpose()?,
        authentication: authentication_from_row(row, table)?,
        issued_at: UnixTime(row.try_get("issued_at").map_err(get)?),
        expires_at: UnixTime(row.try_get("expires_at").map_err(get)?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")
            .map_err(get)?
            .map(UnixTime),
    })
}

const GRANT_COLUMNS: &str = "id, code_hash, client_id, scope, created_at, expires_at, \
     revoked_at, revoked_reason";

fn grant_from_row(row: &AnyRow) -> StoreResult<GrantRecord> {
    let table = "oidc_grants";
    let get = |e: sqlx::Error| corrupt(format!("{table}: {e}"));
    let hash: String = row.try_get("code_hash").map_err(get)?;
    let client_id: String = row.try_get("client_id").map_err(get)?;
    let scope: String = row.try_get("scope").map_err(get)?;
    let revoked_at: Option<i64> = row.try_get("revoked_at").map_err(get)?;
    let revoked_reason: Option<String> = row.try_get("revoked_reason").map_err(get)?;
    Ok(GrantRecord {
        id: GrantId(row.try_get("id").map_err(get)?),
        code_hash: hash_from(&hash, table)?,
        client_id: ClientId::parse(&client_id)
            .map_err(|_| corrupt(format!("{table}: client_id {client_id}")))?,
        scopes: scopes_from(&scope, table)?,
        authentication: authentication_from_row(row, table)?,
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
        expires_at: UnixTime(row.try_get("expires_at").map_err(get)?),
        revoked: revoked_at.map(|at| GrantRevocation {
            at: UnixTime(at),
            reason: revoked_reason.unwrap_or_default(),
        }),
    })
}

async fn insert_grant(conn: &mut AnyConnection, grant: &GrantRecord) -> StoreResult<()> {
    let query = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO oidc_grants ({GRANT_COLUMNS}, {AUTHENTICATION_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19)"
    )))
    .bind(grant.id.as_str())
    .bind(grant.code_hash.to_hex())
    .bind(grant.client_id.as_str())
    .bind(grant.scopes.to_string())
    .bind(grant.created_at.0)
    .bind(grant.expires_at.0)
    .bind(grant.revoked.as_ref().map(|r| r.at.0))
    .bind(grant.revoked.as_ref().map(|r| r.reason.clone()));
    bind_authentication(query, &grant.authentication)
        .execute(conn)
        .await
        .map_err(|e| translate(&format!("grant {}", grant.id), e))?;
    Ok(())
}

const REFRESH_COLUMNS: &str = "token_hash, grant_id, issued_at, used_at";

fn refresh_from_row(row: &AnyRow) -> StoreResult<RefreshTokenRecord> {
    let table = "oidc_refresh_tokens";
    let get = |e: sqlx::Error| corrupt(format!("{table}: {e}"));
    let hash: String = row.try_get("token_hash").map_err(get)?;
    Ok(RefreshTokenRecord {
        hash: hash_from(&hash, table)?,
        grant_id: GrantId(row.try_get("grant_id").map_err(get)?),
        issued_at: UnixTime(row.try_get("issued_at").map_err(get)?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")
            .map_err(get)?
            .map(UnixTime),
    })
}

/// Marks the one-time secret whose hash is `hash` in `table` used at `at`, if nobody has: true
/// when this call did (see the module's comment for why the database decides).
async fn mark_used(
    conn: &mut AnyConnection,
    table: &str,
    hash_column: &str,
    hash: &SecretHash,
    at: UnixTime,
) -> StoreResult<bool> {
    let marked = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {table} SET used_at = $1 WHERE {hash_column} = $2 AND used_at IS NULL"
    )))
    .bind(at.0)
    .bind(hash.to_hex())
    .execute(conn)
    .await
    .map_err(unavailable)?
    .rows_affected();
    Ok(marked == 1)
}

async fn insert_refresh(conn: &mut AnyConnection, token: &RefreshTokenRecord) -> StoreResult<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO oidc_refresh_tokens ({REFRESH_COLUMNS}) VALUES ($1, $2, $3, $4)"
    )))
    .bind(token.hash.to_hex())
    .bind(token.grant_id.as_str())
    .bind(token.issued_at.0)
    .bind(token.used_at.map(|t| t.0))
    .execute(conn)
    .await
    .map_err(|e| translate("a refresh token", e))?;
    Ok(())
}

async fn revoke_grants_where(
    conn: &mut AnyConnection,
    condition: &'static str,
    value: &str,
    at: UnixTime,
    reason: &str,
) -> StoreResult<u64> {
    Ok(sqlx::query(AssertSqlSafe(format!(
        "UPDATE oidc_grants SET revoked_at = $1, revoked_reason = $2 \
         WHERE {condition} = $3 AND revoked_at IS NULL"
    )))
    .bind(at.0)
    .bind(reason)
    .bind(value)
    .execute(conn)
    .await
    .map_err(unavailable)?
    .rows_affected())
}

impl SqlStore {
    pub(super) async fn insert_code(&self, code: &CodeRecord) -> StoreResult<()> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO oidc_authorization_codes ({CODE_COLUMNS}, {AUTHENTICATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20)"
        )))
        .bind(code.hash.to_hex())
        .bind(code.client_id.as_str())
        .bind(&code.redirect_uri)
        .bind(code.scopes.to_string())
        .bind(code.nonce.clone())
        .bind(code.code_challenge.as_ref().map(|c| c.as_str().to_owned()))
        .bind(code.issued_at.0)
        .bind(code.expires_at.0)
        .bind(code.used_at.map(|t| t.0));
        bind_authentication(query, &code.authentication)
            .execute(self.pool())
            .await
            .map_err(|e| translate("an authorization code", e))?;
        Ok(())
    }

    pub(super) async fn code(&self, hash: &SecretHash) -> StoreResult<Option<CodeRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {CODE_COLUMNS}, {AUTHENTICATION_COLUMNS} FROM oidc_authorization_codes \
             WHERE code_hash = $1"
        )))
        .bind(hash.to_hex())
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(code_from_row)
        .transpose()
    }

    pub(super) async fn redeem_code(
        &self,
        hash: &SecretHash,
        at: UnixTime,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
    ) -> StoreResult<CodeRedemption> {
        let mut tx = self.begin_write().await?;
        if mark_used(&mut tx, "oidc_authorization_codes", "code_hash", hash, at).await? {
            insert_grant(&mut tx, grant).await?;
            if let Some(refresh) = refresh {
                insert_refresh(&mut tx, refresh).await?;
            }
            tx.commit().await.map_err(unavailable)?;
            return Ok(CodeRedemption::Redeemed);
        }
        let exists =
            sqlx::query("SELECT 1 AS one FROM oidc_authorization_codes WHERE code_hash = $1")
                .bind(hash.to_hex())
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?
                .is_some();
        if !exists {
            return Err(StoreError::NotFound {
                what: "the authorization code".into(),
            });
        }
        revoke_grants_where(
            &mut tx,
            "code_hash",
            &hash.to_hex(),
            at,
            REVOKED_CODE_REUSED,
        )
        .await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(CodeRedemption::AlreadyUsed)
    }

    pub(super) async fn revoke_grants_from_code(
        &self,
        hash: &SecretHash,
        at: UnixTime,
        reason: &str,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let revoked = revoke_grants_where(&mut tx, "code_hash", &hash.to_hex(), at, reason).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(revoked)
    }

    pub(super) async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS}, {AUTHENTICATION_COLUMNS} FROM oidc_grants WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(grant_from_row)
        .transpose()
    }

    pub(super) async fn refresh_token(
        &self,
        hash: &SecretHash,
    ) -> StoreResult<Option<RefreshTokenRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {REFRESH_COLUMNS} FROM oidc_refresh_tokens WHERE token_hash = $1"
        )))
        .bind(hash.to_hex())
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(refresh_from_row)
        .transpose()
    }

    pub(super) async fn rotate_refresh_token(
        &self,
        used: &SecretHash,
        at: UnixTime,
        replacement: &RefreshTokenRecord,
    ) -> StoreResult<RefreshRotation> {
        let mut tx = self.begin_write().await?;
        if mark_used(&mut tx, "oidc_refresh_tokens", "token_hash", used, at).await? {
            insert_refresh(&mut tx, replacement).await?;
            tx.commit().await.map_err(unavailable)?;
            return Ok(RefreshRotation::Rotated);
        }
        let grant_id: Option<String> =
            sqlx::query("SELECT grant_id FROM oidc_refresh_tokens WHERE token_hash = $1")
                .bind(used.to_hex())
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?
                .map(|row| row.try_get("grant_id"))
                .transpose()
                .map_err(|e| corrupt(format!("oidc_refresh_tokens: {e}")))?;
        let Some(grant_id) = grant_id else {
            return Err(StoreError::NotFound {
                what: "the refresh token".into(),
            });
        };
        revoke_grants_where(&mut tx, "id", &grant_id, at, REVOKED_REFRESH_TOKEN_REUSED).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(RefreshRotation::AlreadyUsed)
    }

    pub(super) async fn revoke_grant(
        &self,
        id: &GrantId,
        at: UnixTime,
        reason: &str,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let revoked = revoke_grants_where(&mut tx, "id", id.as_str(), at, reason).await?;
        if revoked == 0 {
            let exists = sqlx::query("SELECT 1 AS one FROM oidc_grants WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound {
                    what: format!("grant {id}"),
                });
            }
        }
        tx.commit().await.map_err(unavailable)
    }

    pub(super) async fn delete_expired(&self, before: UnixTime) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let mut deleted = 0;
        for sql in [
            "DELETE FROM oidc_authorization_codes WHERE expires_at < $1",
            "DELETE FROM oidc_refresh_tokens WHERE grant_id IN \
             (SELECT id FROM oidc_grants WHERE expires_at < $1)",
            "DELETE FROM oidc_grants WHERE expires_at < $1",
        ] {
            deleted += sqlx::query(sql)
                .bind(before.0)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(deleted)
    }
}
