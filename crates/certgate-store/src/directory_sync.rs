//! The directory sync on SQL: its run records ([`SyncRunStore`]: two rows, the last run and
//! the last completed run, replaced in one transaction), its lock ([`SyncLock`]: one applied
//! sync at a time across every node) and the mark incremental runs continue from
//! ([`ChangeMarkStore`]: one row).

use certgate_core::directory_source::{
    ChangeMark, ChangeMarkStore, SyncCounts, SyncLock, SyncRun, SyncRunResult, SyncRunStore,
    SyncScope, SyncStatus,
};
use certgate_core::store::StoreError;
use certgate_core::store::StoreResult;
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Row};

use crate::{corrupt, unavailable, Backend, SqlStore};

/// An arbitrary constant naming the directory sync's lock in `pg_try_advisory_lock` (another
/// than the migration lock's).
const PG_DIRECTORY_SYNC_LOCK: i64 = 0x6365_7274_6469_7273; // "certdirs"

/// The directory sync's lock, held. On PostgreSQL: a session advisory lock, on a connection
/// taken out of the pool for the run (every node shares the database, so every node sees it).
/// On a SQLite file: an exclusive lock on `<database>-directory-sync.lock` (every process that
/// opens the file runs on this machine: `serve` and `certgate directory sync`).
#[derive(Debug)]
pub struct SqlSyncLock {
    connection: Option<PoolConnection<Any>>,
    _file: Option<std::fs::File>,
}

impl Drop for SqlSyncLock {
    fn drop(&mut self) {
        // Not released (the run panicked or was cancelled): close the connection rather than
        // return it to the pool still holding the lock; the session ends and frees it. The
        // file lock goes with the file.
        if let Some(connection) = self.connection.take() {
            drop(connection.detach());
        }
    }
}

impl SyncLock for SqlStore {
    type Held = SqlSyncLock;

    async fn try_lock_sync(&self) -> StoreResult<Option<SqlSyncLock>> {
        match self.backend() {
            Backend::Postgres => {
                let mut connection = self.pool().acquire().await.map_err(unavailable)?;
                let locked: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS locked")
                    .bind(PG_DIRECTORY_SYNC_LOCK)
                    .fetch_one(&mut *connection)
                    .await
                    .map_err(unavailable)?
                    .try_get("locked")
                    .map_err(|e| corrupt(format!("pg_try_advisory_lock: {e}")))?;
                Ok(locked.then_some(SqlSyncLock {
                    connection: Some(connection),
                    _file: None,
                }))
            }
            Backend::Sqlite => {
                let Some(database) = &self.sqlite_path else {
                    // An in-memory database lives in this process only.
                    return Ok(Some(SqlSyncLock {
                        connection: None,
                        _file: None,
                    }));
                };
                let mut name = database.as_os_str().to_owned();
                name.push("-directory-sync.lock");
                let path = std::path::PathBuf::from(name);
                let lock_error = |error: std::io::Error| StoreError::Unavailable {
                    detail: format!("the directory sync lock file {}: {error}", path.display()),
                };
                certgate_core::private_file::create_or_restrict(&path).map_err(lock_error)?;
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(lock_error)?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(SqlSyncLock {
                        connection: None,
                        _file: Some(file),
                    })),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(error)) => Err(lock_error(error)),
                }
            }
        }
    }

    async fn release_sync_lock(&self, mut held: SqlSyncLock) -> StoreResult<()> {
        if let Some(mut connection) = held.connection.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(PG_DIRECTORY_SYNC_LOCK)
                .execute(&mut *connection)
                .await;
            if let Err(error) = unlocked {
                // Do not put a connection that may still hold the lock back in the pool.
                drop(connection.detach());
                return Err(unavailable(error));
            }
        }
        Ok(())
    }
}

const COLUMNS: &str = "scope, started_at, finished_at, result, code, message, entries, added, \
     updated, disabled, removed, skipped, failed";

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
    let scope: String = row.try_get("scope").map_err(get)?;
    let scope = match scope.as_str() {
        "full" => SyncScope::Full,
        "incremental" => SyncScope::Incremental,
        other => return Err(corrupt(format!("directory sync scope {other}"))),
    };
    Ok(SyncRun {
        scope,
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
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (slot) DO UPDATE SET scope = excluded.scope, \
                 started_at = excluded.started_at, \
                 finished_at = excluded.finished_at, result = excluded.result, \
                 code = excluded.code, message = excluded.message, entries = excluded.entries, \
                 added = excluded.added, updated = excluded.updated, \
                 disabled = excluded.disabled, removed = excluded.removed, \
                 skipped = excluded.skipped, failed = excluded.failed"
            )))
            .bind(*slot)
            .bind(run.scope.as_str())
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

impl ChangeMarkStore for SqlStore {
    async fn change_mark(&self) -> StoreResult<Option<ChangeMark>> {
        let row = sqlx::query(
            "SELECT server, invocation_id, highest_committed_usn, settings_fingerprint, \
             full_sync_started_at FROM directory_change_marks WHERE slot = 'current'",
        )
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let get = |e: sqlx::Error| corrupt(format!("directory_change_marks: {e}"));
        let usn: i64 = row.try_get("highest_committed_usn").map_err(get)?;
        Ok(Some(ChangeMark {
            server: row.try_get("server").map_err(get)?,
            invocation_id: row.try_get("invocation_id").map_err(get)?,
            highest_committed_usn: u64::try_from(usn).map_err(|_| {
                corrupt(format!(
                    "directory_change_marks.highest_committed_usn {usn}"
                ))
            })?,
            settings_fingerprint: row.try_get("settings_fingerprint").map_err(get)?,
            full_sync_started_at: UnixTime(row.try_get("full_sync_started_at").map_err(get)?),
        }))
    }

    async fn save_change_mark(&self, mark: &ChangeMark) -> StoreResult<()> {
        // AD's USNs are 64-bit signed (LARGE_INTEGER): one above i64::MAX cannot come from a DC.
        let usn = i64::try_from(mark.highest_committed_usn).map_err(|_| StoreError::Conflict {
            what: format!(
                "a highest committed USN of {} (above the largest a domain controller uses)",
                mark.highest_committed_usn
            ),
        })?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO directory_change_marks (slot, server, invocation_id, \
             highest_committed_usn, settings_fingerprint, full_sync_started_at) \
             VALUES ('current', $1, $2, $3, $4, $5) \
             ON CONFLICT (slot) DO UPDATE SET server = excluded.server, \
             invocation_id = excluded.invocation_id, \
             highest_committed_usn = excluded.highest_committed_usn, \
             settings_fingerprint = excluded.settings_fingerprint, \
             full_sync_started_at = excluded.full_sync_started_at",
        )
        .bind(&mark.server)
        .bind(&mark.invocation_id)
        .bind(usn)
        .bind(&mark.settings_fingerprint)
        .bind(mark.full_sync_started_at.0)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }
}
