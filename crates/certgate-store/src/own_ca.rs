//! certgate's own CA on SQL: its authorities (`authorities`, each with its next CRL number),
//! the certificates it issued (`issued_certificates`) and their revocations, and the CRLs it
//! published (`published_crls`).
//!
//! A certificate obtained with a certificate records its parent. Recording one checks, in its
//! transaction, that a parent issued by certgate is not revoked (`lock_parent_not_revoked`);
//! revoking one revokes its descendants in the same transaction (`revoke_descendants`).
//! `revoke_one` and `revoke_descendants` also serve the cascade of a trusted CA's CRL
//! (crl_cache.rs).

use certgate_core::audit::AuditEvent;
use certgate_core::authority::{
    AuthorityId, AuthorityRecord, AuthorityRole, IssuedRecord, ParentCertificate, PublishedCrl,
    Revocation,
};
use certgate_core::crl_cache::CrlKind;
use certgate_core::store::{StoreError, StoreResult};
use certgate_core::trusted_ca::CaId;
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{corrupt, flag, hex, insert_audit, kind_of, translate, unavailable, Backend, SqlStore};

fn authority_from_row(row: &AnyRow) -> StoreResult<AuthorityRecord> {
    let get = |e: sqlx::Error| corrupt(format!("authorities: {e}"));
    let role: String = row.try_get("role").map_err(get)?;
    Ok(AuthorityRecord {
        id: AuthorityId(row.try_get("id").map_err(get)?),
        role: AuthorityRole::parse(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
        certificate_der: row.try_get("certificate").map_err(get)?,
        private_key: row.try_get("private_key").map_err(get)?,
        key_sealed: flag(row, "key_sealed").map_err(get)?,
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
    })
}

const ISSUED_COLUMNS: &str = "serial, authority_id, upn, email, subject, not_before, not_after, \
     certificate, issued_at, revoked_at, revocation_reason, parent_serial_hex, parent_issuer, \
     parent_authority_id, parent_trusted_ca_id, parent_not_after";

fn issued_from_row(row: &AnyRow) -> StoreResult<IssuedRecord> {
    let get = |e: sqlx::Error| corrupt(format!("issued_certificates: {e}"));
    Ok(IssuedRecord {
        serial: row.try_get("serial").map_err(get)?,
        authority: AuthorityId(row.try_get("authority_id").map_err(get)?),
        upn: row.try_get("upn").map_err(get)?,
        email: row.try_get("email").map_err(get)?,
        subject: row.try_get("subject").map_err(get)?,
        not_before: UnixTime(row.try_get("not_before").map_err(get)?),
        not_after: UnixTime(row.try_get("not_after").map_err(get)?),
        certificate_der: row.try_get("certificate").map_err(get)?,
        issued_at: UnixTime(row.try_get("issued_at").map_err(get)?),
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")
            .map_err(get)?
            .map(UnixTime),
        revocation_reason: row.try_get("revocation_reason").map_err(get)?,
        parent: parent_from_row(row)?,
    })
}

fn parent_from_row(row: &AnyRow) -> StoreResult<Option<ParentCertificate>> {
    let get = |e: sqlx::Error| corrupt(format!("issued_certificates: {e}"));
    let Some(serial_hex) = row
        .try_get::<Option<String>, _>("parent_serial_hex")
        .map_err(get)?
    else {
        return Ok(None);
    };
    Ok(Some(ParentCertificate {
        serial: certgate_core::parse_hex(&serial_hex)
            .ok_or_else(|| corrupt(format!("parent serial {serial_hex}")))?,
        issuer: row
            .try_get::<Option<String>, _>("parent_issuer")
            .map_err(get)?
            .unwrap_or_default(),
        authority: row
            .try_get::<Option<i64>, _>("parent_authority_id")
            .map_err(get)?
            .map(AuthorityId),
        trusted_ca: row
            .try_get::<Option<i64>, _>("parent_trusted_ca_id")
            .map_err(get)?
            .map(CaId),
        not_after: row
            .try_get::<Option<i64>, _>("parent_not_after")
            .map_err(get)?
            .map(UnixTime),
    }))
}

fn published_from_row(row: &AnyRow) -> StoreResult<PublishedCrl> {
    let get = |e: sqlx::Error| corrupt(format!("published_crls: {e}"));
    let kind: String = row.try_get("kind").map_err(get)?;
    Ok(PublishedCrl {
        authority: AuthorityId(row.try_get("authority_id").map_err(get)?),
        kind: kind_of(&kind)?,
        crl_number: row.try_get("crl_number").map_err(get)?,
        base_crl_number: row.try_get("base_crl_number").map_err(get)?,
        this_update: UnixTime(row.try_get("this_update").map_err(get)?),
        next_update: UnixTime(row.try_get("next_update").map_err(get)?),
        entry_count: row.try_get("entry_count").map_err(get)?,
        der: row.try_get("der").map_err(get)?,
    })
}

/// Revokes one certificate unless it is revoked already: the record as it stands and whether
/// this call revoked it; `None` for an unknown serial.
pub(crate) async fn revoke_one(
    conn: &mut sqlx::AnyConnection,
    serial_hex: &str,
    at: UnixTime,
    reason: &str,
) -> StoreResult<Option<(IssuedRecord, bool)>> {
    let revoked = sqlx::query(AssertSqlSafe(format!(
        "UPDATE issued_certificates SET revoked_at = $1, revocation_reason = $2 \
         WHERE serial_hex = $3 AND revoked_at IS NULL RETURNING {ISSUED_COLUMNS}"
    )))
    .bind(at.0)
    .bind(reason)
    .bind(serial_hex)
    .fetch_optional(&mut *conn)
    .await
    .map_err(unavailable)?;
    if let Some(row) = revoked {
        return Ok(Some((issued_from_row(&row)?, true)));
    }
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE serial_hex = $1"
    )))
    .bind(serial_hex)
    .fetch_optional(&mut *conn)
    .await
    .map_err(unavailable)?
    .map(|row| Ok((issued_from_row(&row)?, false)))
    .transpose()
}

/// Revokes every certificate derived from `ancestor` with certgate's own certificates as
/// parents, breadth first, parents before children; returns those revoked now (descendants
/// already revoked are left as they were). `audit` gives the event of each one revoked now.
pub(crate) async fn revoke_descendants(
    tx: &mut sqlx::AnyConnection,
    ancestor: &IssuedRecord,
    at: UnixTime,
    reason: &str,
    audit: &(dyn Fn(&IssuedRecord, &str) -> AuditEvent + Sync),
) -> StoreResult<Vec<IssuedRecord>> {
    // A certificate cannot be its own ancestor (a parent exists before its child is issued),
    // but `seen` keeps a damaged database from looping.
    let ancestor_hex = hex(&ancestor.serial);
    let mut seen = std::collections::HashSet::from([ancestor_hex.clone()]);
    let mut frontier =
        std::collections::VecDeque::from([(ancestor_hex.clone(), ancestor.authority)]);
    let mut descendants = Vec::new();
    while let Some((parent_hex, parent_authority)) = frontier.pop_front() {
        let children: Vec<String> = sqlx::query(
            "SELECT serial_hex FROM issued_certificates \
             WHERE parent_serial_hex = $1 AND parent_authority_id = $2 \
             ORDER BY issued_at, serial_hex",
        )
        .bind(&parent_hex)
        .bind(parent_authority.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(unavailable)?
        .iter()
        .map(|row| row.try_get("serial_hex"))
        .collect::<Result<_, _>>()
        .map_err(|e| corrupt(format!("issued_certificates: {e}")))?;
        for child_hex in children {
            if !seen.insert(child_hex.clone()) {
                continue;
            }
            let Some((child, revoked_now)) = revoke_one(&mut *tx, &child_hex, at, reason).await?
            else {
                continue;
            };
            if revoked_now {
                insert_audit(&mut *tx, &audit(&child, &ancestor_hex)).await?;
            }
            frontier.push_back((child_hex, child.authority));
            if revoked_now {
                descendants.push(child);
            }
        }
    }
    Ok(descendants)
}

/// Reads the record of a new certificate's parent, issued by certgate, in the transaction that
/// inserts the new certificate, and refuses to go on when the parent is revoked (or not on
/// record, which no path of certgate produces: fail closed).
///
/// This makes the parent check and the insert one step with respect to `revoke_issued`, whose
/// first statement (`revoke_one`) updates the parent's row and whose later statements read
/// the parent's children:
/// - PostgreSQL (READ COMMITTED): `FOR SHARE` and the revocation's `UPDATE` of the same row
///   conflict, so whichever comes second waits for the other's commit. If the revocation came
///   first, the waiting `FOR SHARE` then reads the row as the revocation left it: revoked,
///   and nothing is inserted. If the insert came first, the `UPDATE` waits until the child is
///   committed, and the revocation's later `SELECT` of the children (each statement takes a
///   fresh snapshot) sees it and revokes it. `FOR SHARE` rather than `FOR UPDATE`: it
///   conflicts with the revocation just the same, but two certificates issued on the strength
///   of one parent do not wait for each other.
/// - SQLite: this transaction and the revocation's both begin with `BEGIN IMMEDIATE`, which
///   takes the database's write lock, so one runs entirely before the other starts and sees
///   all of it.
async fn lock_parent_not_revoked(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    parent_hex: &str,
    authority: AuthorityId,
) -> StoreResult<()> {
    let query = match backend {
        Backend::Postgres => {
            "SELECT revoked_at FROM issued_certificates \
             WHERE serial_hex = $1 AND authority_id = $2 FOR SHARE"
        }
        Backend::Sqlite => {
            "SELECT revoked_at FROM issued_certificates \
             WHERE serial_hex = $1 AND authority_id = $2"
        }
    };
    let row = sqlx::query(query)
        .bind(parent_hex)
        .bind(authority.0)
        .fetch_optional(&mut *conn)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| StoreError::NotFound {
            what: format!(
                "parent certificate serial {parent_hex} of certgate CA {}",
                authority.0
            ),
        })?;
    let revoked_at: Option<i64> = row
        .try_get("revoked_at")
        .map_err(|e| corrupt(format!("issued_certificates: {e}")))?;
    match revoked_at {
        Some(_) => Err(StoreError::ParentRevoked {
            serial: parent_hex.to_owned(),
        }),
        None => Ok(()),
    }
}

/// `DerivedLimit` when `issued.upn` holds `limit` unexpired, unrevoked certificates with a
/// parent. On PostgreSQL a transaction-scoped advisory lock on the user name serializes the
/// count and the insert that follows for one user across nodes (row locks cannot: the row
/// that would conflict does not exist yet); SQLite's write transactions are serialized
/// already (`begin_write`).
async fn check_derived_limit(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    issued: &IssuedRecord,
    limit: u32,
) -> StoreResult<()> {
    if backend == Backend::Postgres {
        // The key space is shared with any other advisory lock in the database: the prefix
        // keeps certgate's user locks apart from whatever else might use one.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("certgate:derived:{}", issued.upn))
            .execute(&mut *conn)
            .await
            .map_err(unavailable)?;
    }
    let row = sqlx::query(
        "SELECT COUNT(*) AS held FROM issued_certificates \
         WHERE upn = $1 AND parent_serial_hex IS NOT NULL AND revoked_at IS NULL AND not_after > $2",
    )
    .bind(&issued.upn)
    .bind(issued.issued_at.0)
    .fetch_one(&mut *conn)
    .await
    .map_err(unavailable)?;
    let held: i64 = row
        .try_get("held")
        .map_err(|e| corrupt(format!("issued_certificates: {e}")))?;
    if held >= i64::from(limit) {
        return Err(StoreError::DerivedLimit {
            upn: issued.upn.clone(),
            limit,
        });
    }
    Ok(())
}

impl SqlStore {
    pub(crate) async fn authorities(&self) -> StoreResult<Vec<AuthorityRecord>> {
        let rows = sqlx::query(
            "SELECT id, role, certificate, private_key, key_sealed, created_at FROM authorities ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(authority_from_row).collect()
    }

    pub(crate) async fn insert_authorities(
        &self,
        root: &AuthorityRecord,
        issuing: &AuthorityRecord,
    ) -> StoreResult<(AuthorityId, AuthorityId)> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let mut ids = Vec::with_capacity(2);
        for record in [root, issuing] {
            let id: i64 = sqlx::query(
                "INSERT INTO authorities (role, certificate, private_key, key_sealed, \
                 next_crl_number, created_at) VALUES ($1, $2, $3, $4, 1, $5) RETURNING id",
            )
            .bind(record.role.as_str())
            .bind(&record.certificate_der)
            .bind(&record.private_key)
            .bind(record.key_sealed)
            .bind(record.created_at.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| translate("certgate's CA", e))?
            .try_get("id")
            .map_err(|e| corrupt(format!("authorities: {e}")))?;
            ids.push(AuthorityId(id));
        }
        tx.commit().await.map_err(unavailable)?;
        Ok((ids[0], ids[1]))
    }

    pub(crate) async fn allocate_crl_number(&self, authority: AuthorityId) -> StoreResult<i64> {
        let row = sqlx::query(
            "UPDATE authorities SET next_crl_number = next_crl_number + 1 WHERE id = $1 \
             RETURNING next_crl_number",
        )
        .bind(authority.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("certgate CA {}", authority.0),
        })?;
        let next: i64 = row
            .try_get("next_crl_number")
            .map_err(|e| corrupt(format!("authorities: {e}")))?;
        Ok(next - 1)
    }

    pub(crate) async fn insert_issued(&self, issued: &IssuedRecord) -> StoreResult<()> {
        self.insert_issued_within(issued, None).await
    }

    pub(crate) async fn insert_derived(
        &self,
        issued: &IssuedRecord,
        limit: u32,
    ) -> StoreResult<()> {
        self.insert_issued_within(issued, Some(limit)).await
    }

    /// `insert_issued`, and with `derived_limit` `insert_derived`: one transaction that checks
    /// the parent and the user's count of derived certificates, then inserts.
    async fn insert_issued_within(
        &self,
        issued: &IssuedRecord,
        derived_limit: Option<u32>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        if let Some((parent, authority)) = issued
            .parent
            .as_ref()
            .and_then(|p| Some((&p.serial, p.authority?)))
        {
            lock_parent_not_revoked(&mut tx, self.backend, &hex(parent), authority).await?;
        }
        if let Some(limit) = derived_limit {
            check_derived_limit(&mut tx, self.backend, issued, limit).await?;
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO issued_certificates (serial_hex, {ISSUED_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        )))
        .bind(hex(&issued.serial))
        .bind(&issued.serial)
        .bind(issued.authority.0)
        .bind(&issued.upn)
        .bind(&issued.email)
        .bind(&issued.subject)
        .bind(issued.not_before.0)
        .bind(issued.not_after.0)
        .bind(&issued.certificate_der)
        .bind(issued.issued_at.0)
        .bind(issued.revoked_at.map(|t| t.0))
        .bind(&issued.revocation_reason)
        .bind(issued.parent.as_ref().map(|p| hex(&p.serial)))
        .bind(issued.parent.as_ref().map(|p| p.issuer.clone()))
        .bind(
            issued
                .parent
                .as_ref()
                .and_then(|p| p.authority)
                .map(|a| a.0),
        )
        .bind(
            issued
                .parent
                .as_ref()
                .and_then(|p| p.trusted_ca)
                .map(|ca| ca.0),
        )
        .bind(
            issued
                .parent
                .as_ref()
                .and_then(|p| p.not_after)
                .map(|t| t.0),
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(&format!("certificate serial {}", hex(&issued.serial)), e))?;
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }

    pub(crate) async fn issued_certificates(&self) -> StoreResult<Vec<IssuedRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ISSUED_COLUMNS} FROM issued_certificates ORDER BY issued_at, serial_hex"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(issued_from_row).collect()
    }

    pub(crate) async fn find_issued(&self, serial: &[u8]) -> StoreResult<Option<IssuedRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ISSUED_COLUMNS} FROM issued_certificates WHERE serial_hex = $1"
        )))
        .bind(hex(serial))
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(issued_from_row)
        .transpose()
    }

    pub(crate) async fn revoke_issued(
        &self,
        serial: &[u8],
        at: UnixTime,
        reason: &str,
        audit: &(dyn Fn(&IssuedRecord) -> AuditEvent + Sync),
    ) -> StoreResult<Revocation> {
        // A write transaction from BEGIN on SQLite, so that it and `insert_issued` run one
        // after the other (see `lock_parent_not_revoked`). A deferred one happens to wait as
        // well, because its first statement writes; IMMEDIATE keeps that so if a read is
        // ever put first (a deferred transaction cannot wait to upgrade from reading).
        let mut tx = self.begin_write().await?;
        let (named, named_revoked_now) = match revoke_one(&mut tx, &hex(serial), at, reason).await?
        {
            Some(outcome) => outcome,
            None => {
                return Err(StoreError::NotFound {
                    what: format!("certificate serial {}", hex(serial)),
                })
            }
        };
        if named_revoked_now {
            insert_audit(&mut tx, &audit(&named)).await?;
        }
        let descendants =
            revoke_descendants(&mut tx, &named, at, reason, &|child, _| audit(child)).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(Revocation {
            named,
            named_revoked_now,
            descendants,
        })
    }

    pub(crate) async fn insert_published_crl(&self, crl: &PublishedCrl) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO published_crls (authority_id, kind, crl_number, base_crl_number, \
             this_update, next_update, entry_count, der) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(crl.authority.0)
        .bind(crl.kind.as_str())
        .bind(crl.crl_number)
        .bind(crl.base_crl_number)
        .bind(crl.this_update.0)
        .bind(crl.next_update.0)
        .bind(crl.entry_count)
        .bind(&crl.der)
        .execute(&self.pool)
        .await
        .map_err(|e| translate(&format!("CRL number {}", crl.crl_number), e))?;
        Ok(())
    }

    pub(crate) async fn latest_published_crl(
        &self,
        authority: AuthorityId,
        kind: CrlKind,
    ) -> StoreResult<Option<PublishedCrl>> {
        sqlx::query(
            "SELECT * FROM published_crls WHERE authority_id = $1 AND kind = $2 \
             ORDER BY crl_number DESC LIMIT 1",
        )
        .bind(authority.0)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(published_from_row)
        .transpose()
    }
}
