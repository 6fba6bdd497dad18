//! The TOTP store on SQL. Every verification writes with a compare-and-set on the row's id
//! and revision (`UPDATE … WHERE id = $ AND revision = $`): on PostgreSQL a concurrent
//! UPDATE of the same row waits for the first to commit and then re-checks its WHERE clause
//! against the new row, on SQLite writers are serialised, so of two racing verifications of
//! one code exactly one changes the row. Multi-statement changes run in one transaction,
//! on SQLite begun with BEGIN IMMEDIATE so that it holds the write lock from the start.

use certgate_core::audit::AuditEvent;
use certgate_core::store::StoreResult;
use certgate_core::totp::{
    Digits, NewTotpSecret, StoredTotpSecret, SwapOutcome, TotpAlgorithm, TotpCounters,
    TotpSecretId, TotpSecrets, TotpSlot, TotpStore,
};
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::{corrupt, translate, unavailable, SqlStore};

const COLUMNS: &str = "id, user_id, slot, sealed_secret, algorithm, digits, last_used_step, \
     failures, locked_until, revision, created_at, updated_at";

fn secret_from_row(row: &AnyRow) -> StoreResult<StoredTotpSecret> {
    let get = |e: sqlx::Error| corrupt(format!("totp_secrets: {e}"));
    let slot: String = row.try_get("slot").map_err(get)?;
    let algorithm: String = row.try_get("algorithm").map_err(get)?;
    let digits: i64 = row.try_get("digits").map_err(get)?;
    let last_used_step = row
        .try_get::<Option<i64>, _>("last_used_step")
        .map_err(get)?
        .map(|step| u64::try_from(step).map_err(|_| corrupt(format!("TOTP step {step}"))))
        .transpose()?;
    let failures: i64 = row.try_get("failures").map_err(get)?;
    Ok(StoredTotpSecret {
        id: TotpSecretId(row.try_get("id").map_err(get)?),
        user_id: row.try_get("user_id").map_err(get)?,
        slot: TotpSlot::parse(&slot).ok_or_else(|| corrupt(format!("TOTP slot {slot}")))?,
        sealed_secret: row.try_get("sealed_secret").map_err(get)?,
        algorithm: TotpAlgorithm::parse(&algorithm)
            .ok_or_else(|| corrupt(format!("TOTP algorithm {algorithm}")))?,
        digits: Digits::parse(digits).ok_or_else(|| corrupt(format!("TOTP digits {digits}")))?,
        counters: TotpCounters {
            last_used_step,
            failures: u32::try_from(failures)
                .map_err(|_| corrupt(format!("TOTP failures {failures}")))?,
            locked_until: row
                .try_get::<Option<i64>, _>("locked_until")
                .map_err(get)?
                .map(UnixTime),
        },
        revision: row.try_get("revision").map_err(get)?,
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
        updated_at: UnixTime(row.try_get("updated_at").map_err(get)?),
    })
}

/// The step as the BIGINT column holds it. Steps are about 5.7e7 today, so this fails only
/// for a time billions of years away.
fn step_column(step: Option<u64>) -> StoreResult<Option<i64>> {
    step.map(|step| i64::try_from(step).map_err(|_| corrupt(format!("TOTP step {step}"))))
        .transpose()
}

/// The compare-and-set itself: `true` when the row was still at `expected_revision` (and,
/// when `slot` is given, still in that slot). The id and revision alone pin the row's state,
/// since every write moves the revision; the slot check keeps a confirmation from ever
/// touching an active secret.
async fn swap_counters(
    conn: &mut AnyConnection,
    user_id: &str,
    id: TotpSecretId,
    slot: Option<TotpSlot>,
    expected_revision: i64,
    counters: &TotpCounters,
    now: UnixTime,
) -> StoreResult<bool> {
    const SET: &str = "UPDATE totp_secrets SET last_used_step = $1, failures = $2, \
         locked_until = $3, revision = revision + 1, updated_at = $4 \
         WHERE id = $5 AND user_id = $6 AND revision = $7";
    let sql = match slot {
        Some(_) => format!("{SET} AND slot = $8"),
        None => SET.to_owned(),
    };
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(step_column(counters.last_used_step)?)
        .bind(i64::from(counters.failures))
        .bind(counters.locked_until.map(|t| t.0))
        .bind(now.0)
        .bind(id.0)
        .bind(user_id)
        .bind(expected_revision);
    if let Some(slot) = slot {
        query = query.bind(slot.as_str());
    }
    let result = query.execute(conn).await.map_err(unavailable)?;
    Ok(result.rows_affected() == 1)
}

impl TotpStore for SqlStore {
    async fn totp_secrets(&self, user_id: &str) -> StoreResult<TotpSecrets> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM totp_secrets WHERE user_id = $1"
        )))
        .bind(user_id)
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        let mut secrets = TotpSecrets::default();
        for row in &rows {
            let secret = secret_from_row(row)?;
            match secret.slot {
                TotpSlot::Active => secrets.active = Some(secret),
                TotpSlot::Pending => secrets.pending = Some(secret),
            }
        }
        Ok(secrets)
    }

    async fn put_pending_totp(
        &self,
        user_id: &str,
        secret: &NewTotpSecret,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<StoredTotpSecret> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1 AND slot = 'pending'")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO totp_secrets (user_id, slot, sealed_secret, algorithm, digits, \
             last_used_step, failures, locked_until, revision, created_at, updated_at) \
             VALUES ($1, 'pending', $2, $3, $4, NULL, 0, NULL, 1, $5, $5) RETURNING {COLUMNS}"
        )))
        .bind(user_id)
        .bind(&secret.sealed_secret)
        .bind(secret.algorithm.as_str())
        .bind(i64::from(secret.digits.count()))
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| translate(&format!("a pending TOTP enrollment for user {user_id}"), e))?;
        let stored = secret_from_row(&row)?;
        crate::commit_audited(tx, audit).await?;
        Ok(stored)
    }

    async fn update_totp_counters(
        &self,
        user_id: &str,
        id: TotpSecretId,
        expected_revision: i64,
        counters: &TotpCounters,
        now: UnixTime,
        audit: Option<&AuditEvent>,
    ) -> StoreResult<SwapOutcome> {
        let mut tx = self.begin_write().await?;
        if !swap_counters(&mut tx, user_id, id, None, expected_revision, counters, now).await? {
            return Ok(SwapOutcome::Stale);
        }
        if let Some(event) = audit {
            crate::insert_audit(&mut tx, event).await?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(SwapOutcome::Applied)
    }

    async fn confirm_pending_totp(
        &self,
        user_id: &str,
        id: TotpSecretId,
        expected_revision: i64,
        counters: &TotpCounters,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<SwapOutcome> {
        let mut tx = self.begin_write().await?;
        let swapped = swap_counters(
            &mut tx,
            user_id,
            id,
            Some(TotpSlot::Pending),
            expected_revision,
            counters,
            now,
        )
        .await?;
        if !swapped {
            return Ok(SwapOutcome::Stale);
        }
        sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1 AND slot = 'active'")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("UPDATE totp_secrets SET slot = 'active' WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| translate(&format!("an active TOTP secret for user {user_id}"), e))?;
        crate::commit_audited(tx, audit).await?;
        Ok(SwapOutcome::Applied)
    }

    async fn delete_totp(&self, user_id: &str, audit: &AuditEvent) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM totp_secrets WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        if deleted > 0 {
            crate::insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(deleted > 0)
    }

    async fn reseal_totp(
        &self,
        user_id: &str,
        id: TotpSecretId,
        expected_revision: i64,
        sealed_secret: &[u8],
        now: UnixTime,
    ) -> StoreResult<SwapOutcome> {
        let result = sqlx::query(
            "UPDATE totp_secrets SET sealed_secret = $1, revision = revision + 1, updated_at = $2 \
             WHERE id = $3 AND user_id = $4 AND revision = $5",
        )
        .bind(sealed_secret)
        .bind(now.0)
        .bind(id.0)
        .bind(user_id)
        .bind(expected_revision)
        .execute(self.pool())
        .await
        .map_err(unavailable)?;
        Ok(if result.rows_affected() == 1 {
            SwapOutcome::Applied
        } else {
            SwapOutcome::Stale
        })
    }

    async fn totp_sealing_salt(&self, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        // Two nodes starting together both offer a salt; the first write wins and both read
        // it back.
        sqlx::query(
            "UPDATE certgate_state SET totp_sealing_salt = $1 \
             WHERE id = 1 AND totp_sealing_salt IS NULL",
        )
        .bind(candidate)
        .execute(self.pool())
        .await
        .map_err(unavailable)?;
        let salt: Option<Vec<u8>> =
            sqlx::query("SELECT totp_sealing_salt FROM certgate_state WHERE id = 1")
                .fetch_one(self.pool())
                .await
                .map_err(unavailable)?
                .try_get("totp_sealing_salt")
                .map_err(|e| corrupt(format!("certgate_state: {e}")))?;
        salt.ok_or_else(|| corrupt("certgate_state: no TOTP sealing salt after storing one"))
    }
}
