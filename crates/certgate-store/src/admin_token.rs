//! Admin API tokens on SQL.

use certgate_core::admin_token::{
    AdminTokenHash, AdminTokenName, AdminTokenRecord, AdminTokenStore,
};
use certgate_core::audit::AuditEvent;
use certgate_core::store::{StoreError, StoreResult};
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{translate, unavailable, SqlStore};

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt {
        detail: format!("admin_tokens: {detail}"),
    }
}

fn token_from_row(row: &AnyRow) -> StoreResult<AdminTokenRecord> {
    let get = |e: sqlx::Error| corrupt(e.to_string());
    let name: String = row.try_get("name").map_err(get)?;
    let hash: Vec<u8> = row.try_get("token_hash").map_err(get)?;
    Ok(AdminTokenRecord {
        name: AdminTokenName::parse(&name).map_err(|_| corrupt(format!("token name {name}")))?,
        hash: AdminTokenHash(
            hash.try_into()
                .map_err(|_| corrupt(format!("the hash of {name} is not 32 bytes")))?,
        ),
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
        created_by: row.try_get("created_by").map_err(get)?,
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")
            .map_err(get)?
            .map(UnixTime),
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")
            .map_err(get)?
            .map(UnixTime),
    })
}

const COLUMNS: &str = "name, token_hash, created_at, created_by, last_used_at, revoked_at";

impl AdminTokenStore for SqlStore {
    async fn insert_admin_token(
        &self,
        token: &AdminTokenRecord,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO admin_tokens (name, token_hash, created_at, created_by, last_used_at, \
             revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.name.as_str())
        .bind(token.hash.0.to_vec())
        .bind(token.created_at.0)
        .bind(&token.created_by)
        .bind(token.last_used_at.map(|t| t.0))
        .bind(token.revoked_at.map(|t| t.0))
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(&format!("the admin token {}", token.name), e))?;
        crate::commit_audited(tx, audit).await
    }

    async fn admin_tokens(&self) -> StoreResult<Vec<AdminTokenRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM admin_tokens ORDER BY created_at, name"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn admin_token_by_hash(
        &self,
        hash: &AdminTokenHash,
    ) -> StoreResult<Option<AdminTokenRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM admin_tokens WHERE token_hash = $1"
        )))
        .bind(hash.0.to_vec())
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn revoke_admin_token(
        &self,
        name: &AdminTokenName,
        at: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<AdminTokenRecord> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE admin_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL \
             RETURNING {COLUMNS}"
        )))
        .bind(at.0)
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else {
            let exists = sqlx::query("SELECT name FROM admin_tokens WHERE name = $1")
                .bind(name.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(unavailable)?
                .is_some();
            return Err(if exists {
                StoreError::Conflict {
                    what: format!("a revocation of the admin token {name}"),
                }
            } else {
                StoreError::NotFound {
                    what: format!("the admin token {name}"),
                }
            });
        };
        let record = token_from_row(&row)?;
        crate::commit_audited(tx, audit).await?;
        Ok(record)
    }

    async fn touch_admin_token(&self, name: &AdminTokenName, at: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE admin_tokens SET last_used_at = $1 WHERE name = $2")
            .bind(at.0)
            .bind(name.as_str())
            .execute(self.pool())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
