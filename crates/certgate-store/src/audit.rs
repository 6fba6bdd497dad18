//! The audit log on SQL (`audit_log`). A change appends its event with [`insert_audit`] in
//! the change's own transaction; retention purges the oldest events in batches.

use certgate_core::audit::AuditEvent;
use certgate_core::store::StoreResult;
use certgate_pki::UnixTime;
use sqlx::Row;

use crate::{corrupt, unavailable, SqlStore};

/// Appends an audit event on `conn`: inside the transaction of the change it records, so that
/// a change and its audit entry land together or not at all.
pub(crate) async fn insert_audit(
    conn: &mut sqlx::AnyConnection,
    event: &AuditEvent,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, outcome, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.at.0)
    .bind(&event.actor)
    .bind(&event.action)
    .bind(&event.target)
    .bind(&event.outcome)
    .bind(&event.detail)
    .execute(conn)
    .await
    .map_err(unavailable)?;
    Ok(())
}

/// Appends the change's audit event and commits: the end of a write that touches no trust
/// material (those also bump the generation, see directory.rs).
pub(crate) async fn commit_audited(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    event: &AuditEvent,
) -> StoreResult<()> {
    insert_audit(&mut tx, event).await?;
    tx.commit().await.map_err(unavailable)
}

impl SqlStore {
    pub(crate) async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        insert_audit(&mut conn, event).await
    }

    pub(crate) async fn purge_audit_events(
        &self,
        before: UnixTime,
        max_rows: u32,
    ) -> StoreResult<u64> {
        // Oldest first by id (ids grow with time), so the scan stops after one batch.
        let done = sqlx::query(
            "DELETE FROM audit_log WHERE id IN \
             (SELECT id FROM audit_log WHERE at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(before.0)
        .bind(i64::from(max_rows))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn audit_events(&self, limit: i64) -> StoreResult<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT at, actor, action, target, outcome, detail FROM audit_log \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| corrupt(format!("audit_log: {e}"));
                Ok(AuditEvent {
                    at: UnixTime(row.try_get("at").map_err(get)?),
                    actor: row.try_get("actor").map_err(get)?,
                    action: row.try_get("action").map_err(get)?,
                    target: row.try_get("target").map_err(get)?,
                    outcome: row.try_get("outcome").map_err(get)?,
                    detail: row.try_get("detail").map_err(get)?,
                })
            })
            .collect()
    }
}
