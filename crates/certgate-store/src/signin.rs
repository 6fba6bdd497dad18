//! The sign-in log on SQL.

use certgate_core::signin::{SignInLog, SignInQuery, SignInRecord, SignInResult};
use certgate_core::store::{StoreError, StoreResult};
use certgate_pki::UnixTime;
use sqlx::{AssertSqlSafe, Row};

use crate::SqlStore;

impl SignInLog for SqlStore {
    async fn append_signin(&self, record: &SignInRecord) -> StoreResult<()> {
        self.append_signins(std::slice::from_ref(record)).await
    }

    async fn append_signins(&self, records: &[SignInRecord]) -> StoreResult<()> {
        // One statement per batch, all rows or none: a single round trip to the database
        // (and on SQLite to its worker thread) where a transaction around one INSERT per
        // record took three more. Larger batches than a statement takes (the recorder's are
        // not) are one transaction of several statements.
        let pool = self.signin_log_pool();
        let _turn = self.sqlite_write_turn().await;
        if records.len() <= ROWS_PER_STATEMENT {
            let mut conn = pool.acquire().await.map_err(crate::unavailable)?;
            return insert_rows(&mut conn, records).await;
        }
        let mut tx = pool.begin().await.map_err(crate::unavailable)?;
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            insert_rows(&mut tx, chunk).await?;
        }
        tx.commit().await.map_err(crate::unavailable)
    }

    async fn purge_signins(&self, before: UnixTime, max_rows: u32) -> StoreResult<u64> {
        // Oldest first by id (ids grow with time), so the scan stops after one batch.
        let done = sqlx::query(
            "DELETE FROM signin_log WHERE id IN \
             (SELECT id FROM signin_log WHERE at < $1 ORDER BY id LIMIT $2)",
        )
        .bind(before.0)
        .bind(i64::from(max_rows))
        .execute(self.pool())
        .await
        .map_err(crate::unavailable)?;
        Ok(done.rows_affected())
    }

    async fn signins(&self, query: &SignInQuery) -> StoreResult<Vec<SignInRecord>> {
        // Filters are bound parameters; only the fixed clauses are composed.
        let mut clauses = Vec::new();
        let mut next = 1;
        let mut placeholder = |clause: &str| {
            let text = clause.replace('?', &format!("${next}"));
            next += 1;
            text
        };
        if query.user.is_some() {
            clauses.push(placeholder("LOWER(user_principal) = LOWER(?)"));
        }
        if query.result.is_some() {
            clauses.push(placeholder("result = ?"));
        }
        if query.reason_code.is_some() {
            clauses.push(placeholder("reason_code = ?"));
        }
        if query.since.is_some() {
            clauses.push(placeholder("at >= ?"));
        }
        let limit = placeholder("?");
        let where_clause = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!("SELECT * FROM signin_log {where_clause} ORDER BY id DESC LIMIT {limit}");
        let mut statement = sqlx::query(AssertSqlSafe(sql));
        if let Some(user) = &query.user {
            statement = statement.bind(user.clone());
        }
        if let Some(result) = query.result {
            statement = statement.bind(result.as_str());
        }
        if let Some(code) = &query.reason_code {
            statement = statement.bind(code.clone());
        }
        if let Some(since) = query.since {
            statement = statement.bind(since.0);
        }
        let rows = statement
            .bind(query.limit.max(0))
            .fetch_all(self.pool())
            .await
            .map_err(crate::unavailable)?;
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| StoreError::Corrupt {
                    detail: format!("signin_log: {e}"),
                };
                let result: String = row.try_get("result").map_err(get)?;
                Ok(SignInRecord {
                    at: UnixTime(row.try_get("at").map_err(get)?),
                    correlation_id: row.try_get("correlation_id").map_err(get)?,
                    client_address: row.try_get("client_address").map_err(get)?,
                    application: row.try_get("application").map_err(get)?,
                    certificate_subject: row.try_get("certificate_subject").map_err(get)?,
                    certificate_issuer: row.try_get("certificate_issuer").map_err(get)?,
                    certificate_serial: row.try_get("certificate_serial").map_err(get)?,
                    certificate_thumbprint: row.try_get("certificate_thumbprint").map_err(get)?,
                    user: row.try_get("user_principal").map_err(get)?,
                    binding_rule: row.try_get("binding_rule").map_err(get)?,
                    strength: row.try_get("strength").map_err(get)?,
                    result: SignInResult::parse(&result).ok_or_else(|| StoreError::Corrupt {
                        detail: format!("signin_log result {result}"),
                    })?,
                    reason_code: row.try_get("reason_code").map_err(get)?,
                    detail: row.try_get("detail").map_err(get)?,
                })
            })
            .collect()
    }
}

/// The sign-in log's columns, in the order `insert_rows` binds them.
const COLUMNS: usize = 14;

/// Rows per INSERT at most: 14 parameters each keeps a statement far below SQLite's limit
/// of 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 512;

async fn insert_rows(conn: &mut sqlx::AnyConnection, records: &[SignInRecord]) -> StoreResult<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO signin_log (at, correlation_id, client_address, application, \
         certificate_subject, certificate_issuer, certificate_serial, certificate_thumbprint, \
         user_principal, binding_rule, strength, result, reason_code, detail) VALUES ",
    );
    for row in 0..records.len() {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..COLUMNS {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(row * COLUMNS + column + 1).to_string());
        }
        sql.push(')');
    }
    let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
    for record in records {
        statement = statement
            .bind(record.at.0)
            .bind(&record.correlation_id)
            .bind(&record.client_address)
            .bind(&record.application)
            .bind(&record.certificate_subject)
            .bind(&record.certificate_issuer)
            .bind(&record.certificate_serial)
            .bind(&record.certificate_thumbprint)
            .bind(&record.user)
            .bind(&record.binding_rule)
            .bind(&record.strength)
            .bind(record.result.as_str())
            .bind(&record.reason_code)
            .bind(&record.detail);
    }
    statement.execute(conn).await.map_err(crate::unavailable)?;
    Ok(())
}
