//! The CRL cache on SQL: the trusted CAs' cached CRLs (`crl_cache`), the status of their
//! fetches (`crl_fetch_status`) and the generation (`certgate_state`) that grows whenever the
//! trust store or the CRL cache changes. Saving an accepted CRL also revokes, in the same
//! transaction, the certificates derived from certificates it lists
//! (`revoke_children_of_listed_parents`, with own_ca.rs's revocation steps).

use certgate_core::authority::ParentRevocations;
use certgate_core::crl_cache::{CachedCrl, CachedCrlSummary, CrlFetchStatus, CrlKind};
use certgate_core::store::StoreResult;
use certgate_core::trusted_ca::CaId;
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::own_ca::{revoke_descendants, revoke_one};
use crate::{bump_generation, corrupt, insert_audit, kind_of, translate, unavailable, SqlStore};

fn cached_crl_from_row(row: &AnyRow) -> StoreResult<CachedCrl> {
    let get = |e: sqlx::Error| corrupt(format!("crl_cache: {e}"));
    let kind: String = row.try_get("kind").map_err(get)?;
    Ok(CachedCrl {
        ca_id: CaId(row.try_get("ca_id").map_err(get)?),
        kind: kind_of(&kind)?,
        url: row.try_get("url").map_err(get)?,
        der: row.try_get("der").map_err(get)?,
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
    crl: &CachedCrl,
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
    let listed = ParentRevocations::of_crl(&crl.der).ok_or_else(|| {
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
        let rows = sqlx::query("SELECT * FROM crl_cache ORDER BY ca_id, kind")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(cached_crl_from_row).collect()
    }

    pub(crate) async fn cached_crl(
        &self,
        ca: CaId,
        kind: CrlKind,
    ) -> StoreResult<Option<CachedCrl>> {
        sqlx::query("SELECT * FROM crl_cache WHERE ca_id = $1 AND kind = $2")
            .bind(ca.0)
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(cached_crl_from_row)
            .transpose()
    }

    pub(crate) async fn cached_crl_summaries(&self) -> StoreResult<Vec<CachedCrlSummary>> {
        let rows = sqlx::query(
            "SELECT ca_id, kind, url, crl_number, this_update, next_update, entry_count, \
             LENGTH(der) AS bytes, etag, last_modified, fetched_at FROM crl_cache ORDER BY ca_id, kind",
        )
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
                    bytes: row
                        .try_get::<i64, _>("bytes")
                        .or_else(|_| row.try_get::<i32, _>("bytes").map(i64::from))
                        .map_err(get)?,
                    etag: row.try_get("etag").map_err(get)?,
                    last_modified: row.try_get("last_modified").map_err(get)?,
                    fetched_at: UnixTime(row.try_get("fetched_at").map_err(get)?),
                })
            })
            .collect()
    }

    pub(crate) async fn put_cached_crl(
        &self,
        crl: &CachedCrl,
        status: &CrlFetchStatus,
    ) -> StoreResult<()> {
        // A write transaction from BEGIN on SQLite: it may revoke derived certificates, and
        // runs one after the other with `insert_issued` and `revoke_issued` as they do.
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO crl_cache (ca_id, kind, url, der, crl_number, this_update, next_update, \
             entry_count, etag, last_modified, fetched_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (ca_id, kind) DO UPDATE SET url = excluded.url, der = excluded.der, \
             crl_number = excluded.crl_number, this_update = excluded.this_update, \
             next_update = excluded.next_update, entry_count = excluded.entry_count, \
             etag = excluded.etag, last_modified = excluded.last_modified, \
             fetched_at = excluded.fetched_at",
        )
        .bind(crl.ca_id.0)
        .bind(crl.kind.as_str())
        .bind(&crl.url)
        .bind(&crl.der)
        .bind(&crl.crl_number)
        .bind(crl.this_update.0)
        .bind(crl.next_update.0)
        .bind(crl.entry_count)
        .bind(&crl.etag)
        .bind(&crl.last_modified)
        .bind(crl.fetched_at.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| translate("a cached CRL", e))?;
        revoke_children_of_listed_parents(&mut tx, crl).await?;
        upsert_status(&mut tx, status).await?;
        bump_generation(&mut tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
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
