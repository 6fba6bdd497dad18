//! EST enrollment codes on SQL.

use certgate_core::audit::AuditEvent;
use certgate_core::directory::UserId;
use certgate_core::enrollment::{
    EnrollmentCodeHash, EnrollmentCodeId, EnrollmentCodeRecord, EnrollmentCodeStore,
};
use certgate_core::store::{StoreError, StoreResult};
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{translate, unavailable, SqlStore};

fn corrupt(detail: String) -> StoreError {
    StoreError::Corrupt {
        detail: format!("enrollment_codes: {detail}"),
    }
}

const COLUMNS: &str =
    "id, code_hash, user_id, upn, created_at, created_by, expires_at, used_at, used_for_serial";

fn code_from_row(row: &AnyRow) -> StoreResult<EnrollmentCodeRecord> {
    let get = |e: sqlx::Error| corrupt(e.to_string());
    let id: i64 = row.try_get("id").map_err(get)?;
    let hash: Vec<u8> = row.try_get("code_hash").map_err(get)?;
    let user_id: String = row.try_get("user_id").map_err(get)?;
    Ok(EnrollmentCodeRecord {
        id: EnrollmentCodeId(id),
        hash: EnrollmentCodeHash(
            hash.try_into()
                .map_err(|_| corrupt(format!("the hash of code {id} is not 32 bytes")))?,
        ),
        user_id: UserId::parse(&user_id)
            .ok_or_else(|| corrupt(format!("user id {user_id} of code {id}")))?,
        upn: row.try_get("upn").map_err(get)?,
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
        created_by: row.try_get("created_by").map_err(get)?,
        expires_at: UnixTime(row.try_get("expires_at").map_err(get)?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")
            .map_err(get)?
            .map(UnixTime),
        used_for_serial: row.try_get("used_for_serial").map_err(get)?,
    })
}

impl EnrollmentCodeStore for SqlStore {
    async fn insert_enrollment_code(
        &self,
        code: &EnrollmentCodeRecord,
        audit: &AuditEvent,
    ) -> StoreResult<EnrollmentCodeRecord> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        let id: i64 = sqlx::query(
            "INSERT INTO enrollment_codes (code_hash, user_id, upn, created_at, created_by, \
             expires_at, used_at, used_for_serial) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING id",
        )
        .bind(code.hash.0.to_vec())
        .bind(code.user_id.as_str())
        .bind(&code.upn)
        .bind(code.created_at.0)
        .bind(&code.created_by)
        .bind(code.expires_at.0)
        .bind(code.used_at.map(|t| t.0))
        .bind(code.used_for_serial.as_deref())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| translate("an enrollment code with this hash", e))?
        .try_get("id")
        .map_err(|e| corrupt(e.to_string()))?;
        let audit = AuditEvent {
            target: format!("{} ({})", audit.target, EnrollmentCodeId(id)),
            ..audit.clone()
        };
        crate::insert_audit(&mut tx, &audit).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(EnrollmentCodeRecord {
            id: EnrollmentCodeId(id),
            ..code.clone()
        })
    }

    async fn enrollment_code_by_hash(
        &self,
        hash: &EnrollmentCodeHash,
    ) -> StoreResult<Option<EnrollmentCodeRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM enrollment_codes WHERE code_hash = $1"
        )))
        .bind(hash.0.to_vec())
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(code_from_row)
        .transpose()
    }

    async fn usable_enrollment_codes(
        &self,
        now: UnixTime,
    ) -> StoreResult<Vec<EnrollmentCodeRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM enrollment_codes WHERE used_at IS NULL AND expires_at > $1 \
             ORDER BY created_at, id"
        )))
        .bind(now.0)
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        rows.iter().map(code_from_row).collect()
    }

    async fn consume_enrollment_code(
        &self,
        id: EnrollmentCodeId,
        at: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        // The WHERE clause is the whole single-use rule: on PostgreSQL a concurrent UPDATE of
        // the same row waits for this one and then re-checks `used_at IS NULL`; SQLite
        // serializes writers. Either way exactly one caller sees a row changed.
        let changed = sqlx::query(
            "UPDATE enrollment_codes SET used_at = $1 \
             WHERE id = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(at.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?
        .rows_affected();
        if changed != 1 {
            tx.rollback().await.map_err(unavailable)?;
            return Ok(false);
        }
        crate::commit_audited(tx, audit).await?;
        Ok(true)
    }

    async fn record_enrollment_code_serial(
        &self,
        id: EnrollmentCodeId,
        serial_hex: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE enrollment_codes SET used_for_serial = $1 WHERE id = $2")
            .bind(serial_hex)
            .bind(id.0)
            .execute(self.pool())
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
