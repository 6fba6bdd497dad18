//! The directory sync's run records on SQL ([`SyncRunStore`]): two rows, the last run and the
//! last completed run, replaced in one transaction.

use certgate_core::directory_source::{
    SyncCounts, SyncRun, SyncRunResult, SyncRunStore, SyncStatus,
};
use certgate_core::store::StoreResult;
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{corrupt, unavailable, SqlStore};

const COLUMNS: &str = "started_at, finished_at, result, code, message, entries, added, updated, \
     disabled, removed, skipped, failed";

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn run_from_row(row: &AnyRow) -> StoreResult<SyncRun> {
    let get = |e: sqlx::Error| corrupt(format!("directory_sync_runs: {e}"));
    let number = |name: &str| -> StoreResult<u64> {
        let value: i64 = row.try_get(name).map_err(get)?;
        u64::try_from(value).map_err(|_| corrupt(format!("directory_sync_runs.{name} {value}")))
    };
    let result: String = row.try_get("result").map_err(get)?;
    let result = match result.as_str() {
        "completed" => SyncRunResult::Completed(SyncCounts {
            entries: number("entries")?,
            added: number("added")?,
            updated: number("updated")?,
            disabled: number("disabled")?,
            removed: number("removed")?,
            skipped: number("skipped")?,
            failed: number("failed")?,
        }),
        "failed" => SyncRunResult::Failed {
            code: row
                .try_get::<Option<String>, _>("code")
                .map_err(get)?
                .unwrap_or_default(),
            message: row
                .try_get::<Option<String>, _>("message")
                .map_err(get)?
                .unwrap_or_default(),
        },
        other => return Err(corrupt(format!("directory sync result {other}"))),
    };
    Ok(SyncRun {
        started_at: UnixTime(row.try_get("started_at").map_err(get)?),
        finished_at: UnixTime(row.try_get("finished_at").map_err(get)?),
        result,
    })
}

impl SyncRunStore for SqlStore {
    async fn record_sync_run(&self, run: &SyncRun) -> StoreResult<()> {
        let (result, code, message, counts) = match &run.result {
            SyncRunResult::Completed(counts) => ("completed", None, None, *counts),
            SyncRunResult::Failed { code, message } => (
                "failed",
                Some(code.as_str()),
                Some(message.as_str()),
                SyncCounts::default(),
            ),
        };
        let slots: &[&str] = match run.result {
            SyncRunResult::Completed(_) => &["last", "last_completed"],
            SyncRunResult::Failed { .. } => &["last"],
        };
        let mut tx = self.begin_write().await?;
        for slot in slots {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO directory_sync_runs (slot, {COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (slot) DO UPDATE SET started_at = excluded.started_at, \
                 finished_at = excluded.finished_at, result = excluded.result, \
                 code = excluded.code, message = excluded.message, entries = excluded.entries, \
                 added = excluded.added, updated = excluded.updated, \
                 disabled = excluded.disabled, removed = excluded.removed, \
                 skipped = excluded.skipped, failed = excluded.failed"
            )))
            .bind(*slot)
            .bind(run.started_at.0)
            .bind(run.finished_at.0)
            .bind(result)
            .bind(code)
            .bind(message)
            .bind(count(counts.entries))
            .bind(count(counts.added))
            .bind(count(counts.updated))
            .bind(count(counts.disabled))
            .bind(count(counts.removed))
            .bind(count(counts.skipped))
            .bind(count(counts.failed))
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn sync_status(&self) -> StoreResult<SyncStatus> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT slot, {COLUMNS} FROM directory_sync_runs"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        let mut status = SyncStatus::default();
        for row in &rows {
            let slot: String = row
                .try_get("slot")
                .map_err(|e| corrupt(format!("directory_sync_runs: {e}")))?;
            let run = Some(run_from_row(row)?);
            match slot.as_str() {
                "last" => status.last_run = run,
                "last_completed" => status.last_completed = run,
                other => return Err(corrupt(format!("directory sync slot {other}"))),
            }
        }
        Ok(status)
    }
}
