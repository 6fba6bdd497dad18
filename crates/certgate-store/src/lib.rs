//! certgate-store: the [`Store`] port on SQLite (the embedded default: one file in the data
//! directory) and PostgreSQL (for several nodes), through sqlx's `Any` driver so that every
//! query is written once. The SQL sticks to what both understand (`$n` parameters,
//! `ON CONFLICT`, `RETURNING`); the schema differs only in three column types (migrate.rs).
//!
//! Durability: SQLite runs in WAL mode with `synchronous=FULL`, so a commit that returned is
//! on disk before the caller hears of it; PostgreSQL keeps its default synchronous commit.

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod access_pass;
mod admin_token;
mod directory;
mod enrollment;
mod federation;
mod login_flow;
mod migrate;
mod oidc;
mod signin;
mod totp;

use std::str::FromStr;
use std::time::Duration;

use certgate_core::audit::AuditEvent;
use certgate_core::authority::{
    AuthorityId, AuthorityRecord, AuthorityRole, IssuedRecord, ParentCertificate,
    ParentRevocations, PublishedCrl, Revocation,
};
use certgate_core::crl_cache::{CachedCrl, CachedCrlSummary, CrlFetchStatus, CrlKind};
use certgate_core::store::{Store, StoreError, StoreResult};
use certgate_core::trusted_ca::{AuthorityType, CaFacts, CaId, CaRecord, CaSettings, NewCa};
use certgate_pki::UnixTime;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};

/// Which database is behind the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// How long a query waits for a pooled connection by default (and so how long it takes to
/// fail when the database is unreachable): short, because a person is waiting on a sign-in.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The SQL store.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

pub(crate) fn unavailable(error: sqlx::Error) -> StoreError {
    StoreError::Unavailable {
        detail: error.to_string(),
    }
}

/// Translates sqlx errors once, here: unique violations become `Conflict`.
pub(crate) fn translate(what: &str, error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        if db.is_unique_violation() {
            return StoreError::Conflict {
                what: what.to_owned(),
            };
        }
    }
    unavailable(error)
}

fn corrupt(detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        detail: detail.into(),
    }
}

/// The database file a SQLite URL names, read as sqlx reads it; None for an in-memory or
/// temporary database, or one opened read-only (nothing for certgate to create).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    let not_a_file = params
        .split('&')
        .any(|param| param == "mode=memory" || param == "mode=ro");
    if database.is_empty() || database == ":memory:" || not_a_file {
        return None;
    }
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse().ok()?;
    Some(options.get_filename().to_path_buf())
}

impl SqlStore {
    /// Connects to `url` (`sqlite://path/to/file.db`, `postgres://user@host/db`) and brings
    /// the schema up to date; a query waits [`DEFAULT_ACQUIRE_TIMEOUT`] for a connection at most.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        SqlStore::connect_with_timeout(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// [`SqlStore::connect`], a query waiting `acquire_timeout` for a connection at most: with
    /// the database unreachable, that is how long a query takes to fail `store-unavailable`.
    pub async fn connect_with_timeout(
        url: &str,
        acquire_timeout: Duration,
    ) -> StoreResult<SqlStore> {
        let backend = Backend::of_url(url).ok_or_else(|| StoreError::Unavailable {
            detail: format!(
                "unsupported database URL \"{url}\": use sqlite://FILE or postgres://USER@HOST/DB"
            ),
        })?;
        sqlx::any::install_default_drivers();
        let url = match backend {
            // Create the file if missing.
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        if backend == Backend::Sqlite {
            if let Some(path) = sqlite_file(&url) {
                // Created 0600 here, before SQLite would create it with the umask's mode; SQLite
                // gives its -wal and -shm files the database file's mode.
                certgate_core::private_file::create_or_restrict(&path).map_err(|error| {
                    StoreError::Unavailable {
                        detail: format!("cannot create {} with mode 0600: {error}", path.display()),
                    }
                })?;
            }
        }
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 10000",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            });
        let pool = options
            .connect(&url)
            .await
            .map_err(|error| StoreError::Unavailable {
                detail: format!("cannot open {}: {error}", redact(&url)),
            })?;
        let mut conn = pool.acquire().await.map_err(unavailable)?;
        migrate::run(&mut conn, backend)
            .await
            .map_err(|error| StoreError::Unavailable {
                detail: format!("migrating the schema failed: {error}"),
            })?;
        drop(conn);
        Ok(SqlStore { pool, backend })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that writes: on SQLite it takes the write lock at BEGIN, so that it
    /// waits (busy timeout) for another writer instead of failing when it upgrades from
    /// reading, and so that write transactions run one after another.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(unavailable)
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

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

const CA_COLUMNS: &str = "id, display_name, authority_type, certificate, crl_url, delta_crl_url, \
     trusted_issuer, trusted_issuer_ski, sha256_thumbprint, not_before, not_after, \
     exempt_from_crl_validation, send_as_issuer_hint, created_at";

fn ca_from_row(row: &AnyRow) -> StoreResult<CaRecord> {
    let get = |e: sqlx::Error| corrupt(format!("trusted_cas: {e}"));
    let authority_type: String = row.try_get("authority_type").map_err(get)?;
    Ok(CaRecord {
        id: CaId(row.try_get("id").map_err(get)?),
        settings: CaSettings {
            display_name: row.try_get("display_name").map_err(get)?,
            authority_type: AuthorityType::parse(&authority_type)
                .ok_or_else(|| corrupt(format!("authority type {authority_type}")))?,
            crl_url: row.try_get("crl_url").map_err(get)?,
            delta_crl_url: row.try_get("delta_crl_url").map_err(get)?,
            exempt_from_crl_validation: flag(row, "exempt_from_crl_validation").map_err(get)?,
            send_as_issuer_hint: flag(row, "send_as_issuer_hint").map_err(get)?,
        },
        certificate_der: row.try_get("certificate").map_err(get)?,
        facts: CaFacts {
            trusted_issuer: row.try_get("trusted_issuer").map_err(get)?,
            trusted_issuer_ski: row.try_get("trusted_issuer_ski").map_err(get)?,
            sha256_thumbprint: row.try_get("sha256_thumbprint").map_err(get)?,
            not_before: UnixTime(row.try_get("not_before").map_err(get)?),
            not_after: UnixTime(row.try_get("not_after").map_err(get)?),
        },
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
    })
}

/// A flag: BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite (see migrate.rs).
fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    row.try_get::<bool, _>(column)
        .or_else(|_| row.try_get::<i64, _>(column).map(|n| n != 0))
}

fn kind_of(text: &str) -> StoreResult<CrlKind> {
    CrlKind::parse(text).ok_or_else(|| corrupt(format!("CRL kind {text}")))
}

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

/// Revokes one certificate unless it is revoked already: the record as it stands and whether
/// this call revoked it; `None` for an unknown serial.
async fn revoke_one(
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
async fn revoke_descendants(
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

async fn bump_generation(tx: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE certgate_state SET generation = generation + 1 WHERE id = 1")
        .execute(tx)
        .await
        .map(|_| ())
}

fn hex(bytes: &[u8]) -> String {
    certgate_core::hex(bytes)
}

impl Store for SqlStore {
    async fn list_cas(&self) -> StoreResult<Vec<CaRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CA_COLUMNS} FROM trusted_cas ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(ca_from_row).collect()
    }

    async fn insert_cas(&self, cas: &[NewCa], now: UnixTime) -> StoreResult<Vec<CaRecord>> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let mut records = Vec::with_capacity(cas.len());
        for ca in cas {
            let what = format!(
                "a trusted CA with thumbprint {}",
                ca.facts.sha256_thumbprint
            );
            let row = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO trusted_cas (display_name, authority_type, certificate, crl_url, \
                 delta_crl_url, trusted_issuer, trusted_issuer_ski, sha256_thumbprint, \
                 not_before, not_after, exempt_from_crl_validation, send_as_issuer_hint, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 RETURNING {CA_COLUMNS}"
            )))
            .bind(&ca.settings.display_name)
            .bind(ca.settings.authority_type.as_str())
            .bind(&ca.certificate_der)
            .bind(&ca.settings.crl_url)
            .bind(&ca.settings.delta_crl_url)
            .bind(&ca.facts.trusted_issuer)
            .bind(&ca.facts.trusted_issuer_ski)
            .bind(&ca.facts.sha256_thumbprint)
            .bind(ca.facts.not_before.0)
            .bind(ca.facts.not_after.0)
            .bind(ca.settings.exempt_from_crl_validation)
            .bind(ca.settings.send_as_issuer_hint)
            .bind(now.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| translate(&what, e))?;
            records.push(ca_from_row(&row)?);
        }
        bump_generation(&mut tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(records)
    }

    async fn update_ca(&self, id: CaId, settings: &CaSettings) -> StoreResult<CaRecord> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE trusted_cas SET display_name = $1, authority_type = $2, crl_url = $3, \
             delta_crl_url = $4, exempt_from_crl_validation = $5, send_as_issuer_hint = $6 \
             WHERE id = $7 RETURNING {CA_COLUMNS}"
        )))
        .bind(&settings.display_name)
        .bind(settings.authority_type.as_str())
        .bind(&settings.crl_url)
        .bind(&settings.delta_crl_url)
        .bind(settings.exempt_from_crl_validation)
        .bind(settings.send_as_issuer_hint)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("trusted CA {id}"),
        })?;
        let record = ca_from_row(&row)?;
        bump_generation(&mut tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(record)
    }

    async fn delete_ca(&self, id: CaId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // Explicit deletes rather than relying on ON DELETE CASCADE alone: SQLite enforces
        // foreign keys only when the pragma is on for that connection.
        for table in ["crl_cache", "crl_fetch_status"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE ca_id = $1"
            )))
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        }
        let deleted = sqlx::query("DELETE FROM trusted_cas WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound {
                what: format!("trusted CA {id}"),
            });
        }
        bump_generation(&mut tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn cached_crls(&self) -> StoreResult<Vec<CachedCrl>> {
        let rows = sqlx::query("SELECT * FROM crl_cache ORDER BY ca_id, kind")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(cached_crl_from_row).collect()
    }

    async fn cached_crl(&self, ca: CaId, kind: CrlKind) -> StoreResult<Option<CachedCrl>> {
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

    async fn cached_crl_summaries(&self) -> StoreResult<Vec<CachedCrlSummary>> {
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

    async fn put_cached_crl(&self, crl: &CachedCrl, status: &CrlFetchStatus) -> StoreResult<()> {
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

    async fn put_fetch_status(&self, status: &CrlFetchStatus) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        upsert_status(&mut conn, status).await
    }

    async fn fetch_statuses(&self) -> StoreResult<Vec<CrlFetchStatus>> {
        let rows = sqlx::query("SELECT * FROM crl_fetch_status ORDER BY ca_id, kind")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(status_from_row).collect()
    }

    async fn generation(&self) -> StoreResult<i64> {
        sqlx::query("SELECT generation FROM certgate_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?
            .try_get("generation")
            .map_err(|e| corrupt(format!("certgate_state: {e}")))
    }

    async fn authorities(&self) -> StoreResult<Vec<AuthorityRecord>> {
        let rows = sqlx::query(
            "SELECT id, role, certificate, private_key, key_sealed, created_at FROM authorities ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(authority_from_row).collect()
    }

    async fn insert_authorities(
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

    async fn allocate_crl_number(&self, authority: AuthorityId) -> StoreResult<i64> {
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

    async fn insert_issued(&self, issued: &IssuedRecord) -> StoreResult<()> {
        self.insert_issued_within(issued, None).await
    }

    async fn insert_derived(&self, issued: &IssuedRecord, limit: u32) -> StoreResult<()> {
        self.insert_issued_within(issued, Some(limit)).await
    }

    async fn issued_certificates(&self) -> StoreResult<Vec<IssuedRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ISSUED_COLUMNS} FROM issued_certificates ORDER BY issued_at, serial_hex"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(issued_from_row).collect()
    }

    async fn find_issued(&self, serial: &[u8]) -> StoreResult<Option<IssuedRecord>> {
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

    async fn revoke_issued(
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

    async fn insert_published_crl(&self, crl: &PublishedCrl) -> StoreResult<()> {
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

    async fn latest_published_crl(
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

    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        insert_audit(&mut conn, event).await
    }

    async fn purge_audit_events(&self, before: UnixTime, max_rows: u32) -> StoreResult<u64> {
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

    async fn audit_events(&self, limit: i64) -> StoreResult<Vec<AuditEvent>> {
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

/// A database URL from `FromStr`, for configuration parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Backend::of_url(text)
            .map(|_| DatabaseUrl(text.to_owned()))
            .ok_or_else(|| format!("unsupported database URL \"{text}\": use sqlite://FILE or postgres://USER@HOST/DB"))
    }
}
