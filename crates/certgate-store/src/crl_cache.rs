//! The CRL cache on SQL: the trusted CAs' cached CRLs (`crl_cache`), the status of their
//! fetches (`crl_fetch_status`) and the generation (`certgate_state`) that grows whenever the
//! trust store or the CRL cache changes. Saving an accepted CRL also revokes, in the same
//! transaction, the certificates derived from certificates it lists
//! (`revoke_children_of_listed_parents`, with own_ca.rs's revocation steps).
//!
//! A CRL's DER is kept in chunks (`crl_cache_der`, migration 13): written chunk by chunk
//! from the caller's buffer and read chunk by chunk into one buffer of the stored length, so
//! that caching or loading a 150 MB CRL holds it once, not once per driver conversion.
//!
//! The chunks of a new CRL are written before the transaction that makes it the cached one,
//! in short transactions of their own, under a version named by the DER's digest; the
//! switch itself then writes one row. Writing 150 MB in the switching transaction would hold
//! SQLite's only write lock for a second or more, and every sign-in, which records itself
//! before it answers, would wait that long. The replaced CRL's chunks go afterwards, in short
//! transactions too.

use certgate_core::authority::ParentRevocations;
use std::future::poll_fn;
use std::time::{Duration, Instant};

use certgate_core::crl_cache::{CachedCrl, CachedCrlSummary, CrlFetchStatus, CrlKind, CrlToCache};
use certgate_core::store::StoreResult;
use certgate_core::trusted_ca::CaId;
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::own_ca::{revoke_descendants, revoke_one};
use crate::{bump_generation, corrupt, insert_audit, kind_of, translate, unavailable, SqlStore};
use certgate_core::store::StoreError;
use sqlx::AssertSqlSafe;

/// The size of the chunks a CRL's DER is stored in: small enough that the driver's copies of
/// one chunk (and SQLite's 50 rows in flight) stay a few megabytes, large enough that a
/// 150 MB CRL is 600 rows.
const DER_CHUNK_BYTES: usize = 256 * 1024;

/// Chunks written (or deleted) per transaction: 1 MiB, a few milliseconds of SQLite's write
/// lock, so that sign-ins recording themselves meanwhile barely wait.
const CHUNKS_PER_TRANSACTION: usize = 4;

/// The longest pause between two chunk transactions (see `let_other_writers_in`).
const MAX_WRITER_PAUSE: Duration = Duration::from_millis(30);

/// The version a DER's chunks are stored under: the first 8 bytes of its SHA-256. Equal
/// content gets the same version (two nodes caching the same CRL write the same rows);
/// different content, another one.
fn der_version(der_sha256: &[u8; 32]) -> i64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&der_sha256[..8]);
    i64::from_be_bytes(prefix)
}

/// The columns of `crl_cache` a `CachedCrl` or a summary is made of (all but the DER).
const CRL_COLUMNS: &str = "ca_id, kind, url, crl_number, this_update, next_update, entry_count, \
     der_version, der_bytes, der_sha256, etag, last_modified, fetched_at";

/// A `crl_cache` row and the DER read from its chunks.
fn cached_crl_from_row(row: &AnyRow, der: Vec<u8>) -> StoreResult<CachedCrl> {
    let get = |e: sqlx::Error| corrupt(format!("crl_cache: {e}"));
    let kind: String = row.try_get("kind").map_err(get)?;
    Ok(CachedCrl {
        ca_id: CaId(row.try_get("ca_id").map_err(get)?),
        kind: kind_of(&kind)?,
        url: row.try_get("url").map_err(get)?,
        der,
        crl_number: row.try_get("crl_number").map_err(get)?,
        this_update: UnixTime(row.try_get("this_update").map_err(get)?),
        next_update: UnixTime(row.try_get("next_update").map_err(get)?),
        entry_count: row.try_get("entry_count").map_err(get)?,
        etag: row.try_get("etag").map_err(get)?,
        last_modified: row.try_get("last_modified").map_err(get)?,
        fetched_at: UnixTime(row.try_get("fetched_at").map_err(get)?),
    })
}

fn status_from_row(row: &AnyRow) -> StoreResult<CrlFetchStatus> {
    let get = |e: sqlx::Error| corrupt(format!("crl_fetch_status: {e}"));
    let kind: String = row.try_get("kind").map_err(get)?;
    let code: Option<String> = row.try_get("last_error_code").map_err(get)?;
    let message: Option<String> = row.try_get("last_error_message").map_err(get)?;
    Ok(CrlFetchStatus {
        ca_id: CaId(row.try_get("ca_id").map_err(get)?),
        kind: kind_of(&kind)?,
        last_attempt_at: UnixTime(row.try_get("last_attempt_at").map_err(get)?),
        last_success_at: row
            .try_get::<Option<i64>, _>("last_success_at")
            .map_err(get)?
            .map(UnixTime),
        last_error: code.map(|code| (code, message.unwrap_or_default())),
        consecutive_failures: row.try_get("consecutive_failures").map_err(get)?,
        next_attempt_at: UnixTime(row.try_get("next_attempt_at").map_err(get)?),
    })
}

/// The cascade of an accepted CRL of trusted CA `ca`, in the transaction that saves it:
/// every unrevoked certificate derived from a certificate of that CA which the CRL lists is
/// revoked (with its own descendants), audited. See `ParentRevocations` for the reasons.
async fn revoke_children_of_listed_parents(
    tx: &mut sqlx::AnyConnection,
    crl: &CrlToCache<'_>,
) -> StoreResult<()> {
    let candidates = sqlx::query(
        "SELECT serial_hex, parent_serial_hex FROM issued_certificates \
         WHERE parent_trusted_ca_id = $1 AND parent_authority_id IS NULL AND revoked_at IS NULL \
         ORDER BY issued_at, serial_hex",
    )
    .bind(crl.ca_id.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(unavailable)?;
    if candidates.is_empty() {
        // The common case: nothing derived from this CA's certificates, no second parse.
        return Ok(());
    }
    let listed = ParentRevocations::of_crl(crl.der).ok_or_else(|| {
        corrupt(format!(
            "the CRL of trusted CA {} to be cached does not parse",
            crl.ca_id
        ))
    })?;
    let at = crl.fetched_at;
    for row in &candidates {
        let get = |e: sqlx::Error| corrupt(format!("issued_certificates: {e}"));
        let child_hex: String = row.try_get("serial_hex").map_err(get)?;
        let parent_hex: String = row.try_get("parent_serial_hex").map_err(get)?;
        let parent_serial = certgate_core::parse_hex(&parent_hex)
            .ok_or_else(|| corrupt(format!("parent serial {parent_hex}")))?;
        let Some(reason) = listed.child_reason(&parent_serial) else {
            continue;
        };
        let Some((child, true)) = revoke_one(&mut *tx, &child_hex, at, reason.as_str()).await?
        else {
            continue;
        };
        insert_audit(
            &mut *tx,
            &ParentRevocations::audit(&child, crl.ca_id, &parent_hex, reason, at),
        )
        .await?;
        revoke_descendants(&mut *tx, &child, at, reason.as_str(), &|descendant, _| {
            ParentRevocations::audit(descendant, crl.ca_id, &parent_hex, reason, at)
        })
        .await?;
    }
    Ok(())
}

impl SqlStore {
    pub(crate) async fn cached_crls(&self) -> StoreResult<Vec<CachedCrl>> {
        let mut tx = self.begin_snapshot().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRL_COLUMNS} FROM crl_cache ORDER BY ca_id, kind"
        )))
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?;
        let mut crls = Vec::with_capacity(rows.len());
        for row in &rows {
            let der = read_der(&mut tx, row).await?;
            crls.push(cached_crl_from_row(row, der)?);
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(crls)
    }

    pub(crate) async fn cached_crl(
        &self,
        ca: CaId,
        kind: CrlKind,
    ) -> StoreResult<Option<CachedCrl>> {
        let mut tx = self.begin_snapshot().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRL_COLUMNS} FROM crl_cache WHERE ca_id = $1 AND kind = $2"
        )))
        .bind(ca.0)
        .bind(kind.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        let crl = match row {
            Some(row) => {
                let der = read_der(&mut tx, &row).await?;
                Some(cached_crl_from_row(&row, der)?)
            }
            None => None,
        };
        tx.commit().await.map_err(unavailable)?;
        Ok(crl)
    }

    pub(crate) async fn cached_crl_summaries(&self) -> StoreResult<Vec<CachedCrlSummary>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CRL_COLUMNS} FROM crl_cache ORDER BY ca_id, kind"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| corrupt(format!("crl_cache: {e}"));
                let kind: String = row.try_get("kind").map_err(get)?;
                Ok(CachedCrlSummary {
                    ca_id: CaId(row.try_get("ca_id").map_err(get)?),
                    kind: kind_of(&kind)?,
                    url: row.try_get("url").map_err(get)?,
                    crl_number: row.try_get("crl_number").map_err(get)?,
                    this_update: UnixTime(row.try_get("this_update").map_err(get)?),
                    next_update: UnixTime(row.try_get("next_update").map_err(get)?),
                    entry_count: row.try_get("entry_count").map_err(get)?,
                    bytes: der_bytes(row)?,
                    der_sha256: row.try_get("der_sha256").map_err(get)?,
                    etag: row.try_get("etag").map_err(get)?,
                    last_modified: row.try_get("last_modified").map_err(get)?,
                    fetched_at: UnixTime(row.try_get("fetched_at").map_err(get)?),
                })
            })
            .collect()
    }

    /// A read-only transaction whose reads all see one snapshot, so that a CRL's row and its
    /// chunks cannot come from two different writes (PostgreSQL's default, READ COMMITTED,
    /// takes a snapshot per statement; SQLite's WAL reader keeps its first one).
    async fn begin_snapshot(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend() {
            crate::Backend::Sqlite => self.pool.begin().await,
            crate::Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
            }
        }
        .map_err(unavailable)
    }

    pub(crate) async fn put_cached_crl(
        &self,
        crl: &CrlToCache<'_>,
        status: &CrlFetchStatus,
    ) -> StoreResult<()> {
        let der_bytes = i64::try_from(crl.der.len())
            .map_err(|_| corrupt(format!("a CRL of {} bytes", crl.der.len())))?;
        let version = der_version(&crl.der_sha256);
        self.stage_der(crl, version).await?;
        // A write transaction from BEGIN on SQLite: it may revoke derived certificates, and
        // runs one after the other with `insert_issued` and `revoke_issued` as they do.
        let mut tx = self.begin_write().await?;
        // The staged chunks must all be there: another node caching another CRL of this CA
        // at the same moment removes the chunks that are not the cached CRL's (see below).
        // The row is locked first, so that such a removal comes before the check or after
        // the commit, never in between.
        self.cached_version_locked(&mut tx, crl).await?;
        let staged = sqlx::query(
            "SELECT COALESCE(SUM(LENGTH(bytes)), 0) AS staged FROM crl_cache_der \
             WHERE ca_id = $1 AND kind = $2 AND version = $3",
        )
        .bind(crl.ca_id.0)
        .bind(crl.kind.as_str())
        .bind(version)
        .fetch_one(&mut *tx)
        .await
        .map_err(unavailable)?;
        if integer(&staged, "staged")? != der_bytes {
            return Err(StoreError::Unavailable {
                detail: format!(
                    "the chunks of the CRL of trusted CA {} were removed while it was being cached (another node cached another CRL at the same moment); try again",
                    crl.ca_id
                ),
            });
        }
        sqlx::query(
            "INSERT INTO crl_cache (ca_id, kind, url, der_version, der_bytes, der_sha256, \
             crl_number, this_update, next_update, entry_count, etag, last_modified, fetched_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (ca_id, kind) DO UPDATE SET url = excluded.url, \
             der_version = excluded.der_version, der_bytes = excluded.der_bytes, \
             der_sha256 = excluded.der_sha256, \
             crl_number = excluded.crl_number, this_update = excluded.this_update, \
             next_update = excluded.next_update, entry_count = excluded.entry_count, \
             etag = excluded.etag, last_modified = excluded.last_modified, \
             fetched_at = excluded.fetched_at",
        )
        .bind(crl.ca_id.0)
        .bind(crl.kind.as_str())
        .bind(crl.url)
        .bind(version)
        .bind(der_bytes)
        .bind(&crl.der_sha256[..])
        .bind(crl.crl_number)
        .bind(crl.this_update.0)
        .bind(crl.next_update.0)
        .bind(crl.entry_count)
        .bind(crl.etag)
        .bind(crl.last_modified)
        .bind(crl.fetched_at.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| translate("a cached CRL", e))?;
        revoke_children_of_listed_parents(&mut tx, crl).await?;
        upsert_status(&mut tx, status).await?;
        bump_generation(&mut tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        // Best effort: chunks left behind cost space, not correctness (reads name the
        // cached version), and the next CRL of this CA removes them.
        if let Err(error) = self.remove_other_versions(crl).await {
            tracing::warn!(
                ca = crl.ca_id.0,
                kind = crl.kind.as_str(),
                code = error.code(),
                %error,
                "removing a replaced CRL's chunks failed"
            );
        }
        Ok(())
    }

    /// Writes the chunks of `crl` under `version`, a few per transaction. Chunks already
    /// there (the same content, staged by another node or an attempt that failed later) are
    /// left as they are.
    async fn stage_der(&self, crl: &CrlToCache<'_>, version: i64) -> StoreResult<()> {
        let chunks: Vec<&[u8]> = crl.der.chunks(DER_CHUNK_BYTES).collect();
        for (batch_index, batch) in chunks.chunks(CHUNKS_PER_TRANSACTION).enumerate() {
            let turn = self.sqlite_write_turn().await;
            let started = Instant::now();
            let mut tx = self.begin_write().await?;
            for (index, chunk) in batch.iter().enumerate() {
                let seq = i64::try_from(batch_index * CHUNKS_PER_TRANSACTION + index)
                    .map_err(|_| corrupt("a CRL of more chunks than an i64 counts"))?;
                sqlx::query(
                    "INSERT INTO crl_cache_der (ca_id, kind, version, seq, bytes) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ca_id, kind, version, seq) DO NOTHING",
                )
                .bind(crl.ca_id.0)
                .bind(crl.kind.as_str())
                .bind(version)
                .bind(seq)
                .bind(*chunk)
                .execute(&mut *tx)
                .await
                .map_err(|e| translate("a cached CRL", e))?;
            }
            tx.commit().await.map_err(unavailable)?;
            drop(turn);
            self.let_other_writers_in(started.elapsed()).await;
        }
        Ok(())
    }

    /// Pauses between two of the short transactions that stage or remove chunks, three times
    /// as long as the last one took (SQLite only). A writer that found SQLite's write lock
    /// taken does not queue: it sleeps and tries again (1, 2, 5, 10... ms), so transactions
    /// following each other back to back would keep every sign-in (which records itself
    /// before it answers) out until the last chunk is written. With the lock free three
    /// quarters of the time, a waiting writer gets in within its first tries.
    async fn let_other_writers_in(&self, last: Duration) {
        if self.backend() == crate::Backend::Sqlite {
            tokio::time::sleep((last * 3).min(MAX_WRITER_PAUSE)).await;
        }
    }

    /// The cached CRL's chunk version for `crl`'s CA and kind, its row locked until `tx`
    /// ends (SQLite's write transactions are exclusive already); `None` when nothing is
    /// cached.
    async fn cached_version_locked(
        &self,
        tx: &mut sqlx::AnyConnection,
        crl: &CrlToCache<'_>,
    ) -> StoreResult<Option<i64>> {
        let lock = match self.backend() {
            crate::Backend::Postgres => " FOR UPDATE",
            crate::Backend::Sqlite => "",
        };
        sqlx::query(AssertSqlSafe(format!(
            "SELECT der_version FROM crl_cache WHERE ca_id = $1 AND kind = $2{lock}"
        )))
        .bind(crl.ca_id.0)
        .bind(crl.kind.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?
        .map(|row| integer(&row, "der_version"))
        .transpose()
    }

    /// Deletes the chunks of `crl`'s CA and kind that are not the cached CRL's (the replaced
    /// CRL's, or what an interrupted attempt staged), a few per transaction.
    async fn remove_other_versions(&self, crl: &CrlToCache<'_>) -> StoreResult<()> {
        loop {
            let turn = self.sqlite_write_turn().await;
            let started = Instant::now();
            let mut tx = self.begin_write().await?;
            let Some(version) = self.cached_version_locked(&mut tx, crl).await? else {
                // The CA went (its chunks with it) while this ran.
                return tx.commit().await.map_err(unavailable);
            };
            let rows = sqlx::query(AssertSqlSafe(format!(
                "SELECT version, seq FROM crl_cache_der \
                 WHERE ca_id = $1 AND kind = $2 AND version <> $3 \
                 ORDER BY version, seq LIMIT {CHUNKS_PER_TRANSACTION}"
            )))
            .bind(crl.ca_id.0)
            .bind(crl.kind.as_str())
            .bind(version)
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
            if rows.is_empty() {
                return tx.commit().await.map_err(unavailable);
            }
            for row in &rows {
                sqlx::query(
                    "DELETE FROM crl_cache_der \
                     WHERE ca_id = $1 AND kind = $2 AND version = $3 AND seq = $4",
                )
                .bind(crl.ca_id.0)
                .bind(crl.kind.as_str())
                .bind(integer(row, "version")?)
                .bind(integer(row, "seq")?)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            }
            tx.commit().await.map_err(unavailable)?;
            drop(turn);
            self.let_other_writers_in(started.elapsed()).await;
        }
    }

    pub(crate) async fn put_fetch_status(&self, status: &CrlFetchStatus) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        upsert_status(&mut conn, status).await
    }

    pub(crate) async fn fetch_statuses(&self) -> StoreResult<Vec<CrlFetchStatus>> {
        let rows = sqlx::query("SELECT * FROM crl_fetch_status ORDER BY ca_id, kind")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(status_from_row).collect()
    }

    pub(crate) async fn generation(&self) -> StoreResult<i64> {
        sqlx::query("SELECT generation FROM certgate_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?
            .try_get("generation")
            .map_err(|e| corrupt(format!("certgate_state: {e}")))
    }
}

/// The integer column `name` of `row` (SQLite's Any driver may hand a BIGINT back as 32 bits).
fn integer(row: &AnyRow, name: &str) -> StoreResult<i64> {
    row.try_get::<i64, _>(name)
        .or_else(|_| row.try_get::<i32, _>(name).map(i64::from))
        .map_err(|e| corrupt(format!("crl_cache: {name}: {e}")))
}

/// `crl_cache.der_bytes` of `row`.
fn der_bytes(row: &AnyRow) -> StoreResult<i64> {
    integer(row, "der_bytes")
}

/// The DER of the `crl_cache` row `row`, read chunk by chunk into one buffer of the stored
/// length: one statement, streamed, so that only a few chunks are in flight at a time.
async fn read_der(conn: &mut sqlx::AnyConnection, row: &AnyRow) -> StoreResult<Vec<u8>> {
    let get = |e: sqlx::Error| corrupt(format!("crl_cache: {e}"));
    let ca_id: i64 = row.try_get("ca_id").map_err(get)?;
    let kind: String = row.try_get("kind").map_err(get)?;
    let version = integer(row, "der_version")?;
    let expected = usize::try_from(der_bytes(row)?)
        .map_err(|_| corrupt(format!("crl_cache: CA {ca_id} {kind}: a negative length")))?;
    let mut der = Vec::with_capacity(expected);
    let mut chunks = sqlx::query(
        "SELECT bytes FROM crl_cache_der WHERE ca_id = $1 AND kind = $2 AND version = $3 \
         ORDER BY seq",
    )
    .bind(ca_id)
    .bind(&kind)
    .bind(version)
    .fetch(&mut *conn);
    while let Some(chunk) = poll_fn(|cx| chunks.as_mut().poll_next(cx)).await {
        let chunk = chunk.map_err(unavailable)?;
        let bytes: &[u8] = chunk
            .try_get("bytes")
            .map_err(|e| corrupt(format!("crl_cache_der: {e}")))?;
        if der.len() + bytes.len() > expected {
            break;
        }
        der.extend_from_slice(bytes);
    }
    if der.len() != expected {
        return Err(corrupt(format!(
            "crl_cache: the CRL of CA {ca_id} ({kind}) is stored as {expected} bytes, but its chunks hold a different number"
        )));
    }
    Ok(der)
}

async fn upsert_status(conn: &mut sqlx::AnyConnection, status: &CrlFetchStatus) -> StoreResult<()> {
    let (code, message) = match &status.last_error {
        Some((code, message)) => (Some(code.as_str()), Some(message.as_str())),
        None => (None, None),
    };
    sqlx::query(
        "INSERT INTO crl_fetch_status (ca_id, kind, last_attempt_at, last_success_at, \
         last_error_code, last_error_message, consecutive_failures, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (ca_id, kind) DO UPDATE SET last_attempt_at = excluded.last_attempt_at, \
         last_success_at = excluded.last_success_at, last_error_code = excluded.last_error_code, \
         last_error_message = excluded.last_error_message, \
         consecutive_failures = excluded.consecutive_failures, \
         next_attempt_at = excluded.next_attempt_at",
    )
    .bind(status.ca_id.0)
    .bind(status.kind.as_str())
    .bind(status.last_attempt_at.0)
    .bind(status.last_success_at.map(|t| t.0))
    .bind(code)
    .bind(message)
    .bind(status.consecutive_failures)
    .bind(status.next_attempt_at.0)
    .execute(conn)
    .await
    .map_err(|e| translate("a CRL fetch status", e))?;
    Ok(())
}
