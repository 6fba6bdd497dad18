//! Temporary Access Passes on SQL. Redeeming is one conditional UPDATE (`… WHERE consumed_at
//! IS NULL AND expires_at > now …`): on PostgreSQL a concurrent UPDATE of the same row waits
//! for the first to commit and then re-checks its WHERE clause against the new row, on SQLite
//! writers are serialised, so of two racing redemptions exactly one changes the row.

use certgate_core::access_pass::{AccessPassStore, SecondFactorReset, StoredAccessPass};
use certgate_core::audit::AuditEvent;
use certgate_core::store::StoreResult;
use certgate_pki::UnixTime;
use sqlx::Row;

use crate::{corrupt, translate, unavailable, SqlStore};

impl AccessPassStore for SqlStore {
    async fn access_pass(&self, user_id: &str) -> StoreResult<Option<StoredAccessPass>> {
        let row = sqlx::query(
            "SELECT user_id, pass_hash, created_at, expires_at, created_by, consumed_at, \
             failed_attempts FROM access_passes WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let get = |e: sqlx::Error| corrupt(format!("access_passes: {e}"));
        let failed: i64 = row.try_get("failed_attempts").map_err(get)?;
        Ok(Some(StoredAccessPass {
            user_id: row.try_get("user_id").map_err(get)?,
            pass_hash: row.try_get("pass_hash").map_err(get)?,
            created_at: UnixTime(row.try_get("created_at").map_err(get)?),
            expires_at: UnixTime(row.try_get("expires_at").map_err(get)?),
            created_by: row.try_get("created_by").map_err(get)?,
            consumed_at: row
                .try_get::<Option<i64>, _>("consumed_at")
                .map_err(get)?
                .map(UnixTime),
            failed_attempts: u32::try_from(failed)
                .map_err(|_| corrupt(format!("access pass failed attempts {failed}")))?,
        }))
    }

    async fn put_access_pass(
        &self,
        pass: &StoredAccessPass,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM access_passes WHERE user_id = $1")
            .bind(&pass.user_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO access_passes (user_id, pass_hash, created_at, expires_at, created_by, \
             consumed_at, failed_attempts) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&pass.user_id)
        .bind(&pass.pass_hash)
        .bind(pass.created_at.0)
        .bind(pass.expires_at.0)
        .bind(&pass.created_by)
        .bind(pass.consumed_at.map(|t| t.0))
        .bind(i64::from(pass.failed_attempts))
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(&format!("an access pass for user {}", pass.user_id), e))?;
        crate::commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn consume_access_pass(
        &self,
        user_id: &str,
        pass_hash: &[u8],
        now: UnixTime,
        max_failed_attempts: u32,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE access_passes SET consumed_at = $1 WHERE user_id = $2 AND pass_hash = $3 \
             AND consumed_at IS NULL AND expires_at > $1 AND failed_attempts < $4",
        )
        .bind(now.0)
        .bind(user_id)
        .bind(pass_hash)
        .bind(i64::from(max_failed_attempts))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        crate::commit_audited(tx, audit).await?;
        Ok(true)
    }

    async fn record_access_pass_failure(
        &self,
        user_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE access_passes SET failed_attempts = failed_attempts + 1 \
             WHERE user_id = $1 AND consumed_at IS NULL",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        crate::commit_audited(tx, audit).await?;
        Ok(())
    }

    async fn reset_second_factor(
        &self,
        user_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<SecondFactorReset> {
        let mut tx = self.begin_write().await?;
        let authenticators = sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        let passes =
            sqlx::query("DELETE FROM access_passes WHERE user_id = $1 AND consumed_at IS NULL")
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
        // A redeemed pass's row goes too: nothing is left to say `access-pass-used` about.
        sqlx::query("DELETE FROM access_passes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        crate::commit_audited(tx, audit).await?;
        Ok(SecondFactorReset {
            authenticator_removed: authenticators > 0,
            access_pass_removed: passes > 0,
        })
    }
}
