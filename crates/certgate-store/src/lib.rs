//! certgate-store: the [`Store`](certgate_core::Store) port on SQLite (the embedded
//! default: one file in the data directory) and PostgreSQL (for several nodes), through sqlx's
//! `Any` driver so that every query is written once. The SQL sticks to what both understand
//! (`$n` parameters, `ON CONFLICT`, `RETURNING`); the schema differs only in three column types
//! (migrate.rs).
//!
//! Durability: SQLite runs in WAL mode with `synchronous=FULL`, so a commit that returned is
//! on disk before the caller hears of it; PostgreSQL keeps its default synchronous commit.

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod access_pass;
mod admin_token;
mod audit;
mod crl_cache;
mod directory;
mod directory_sync;
mod domain_password;
pub use directory_sync::SqlSyncLock;
mod enrollment;
mod federation;
mod key_lifecycle;
mod login_flow;
mod migrate;
mod oidc;
mod own_ca;
mod signin;
mod statement;
mod store_impl;
mod totp;
mod trusted_cas;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use certgate_core::crl_cache::CrlKind;
use certgate_core::store::{StoreError, StoreResult};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Row};

pub(crate) use audit::{commit_audited, insert_audit};
pub(crate) use statement::{change_one, delete_dependants};

/// Which database is behind the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (`sqlite:` URLs): the embedded default, one file in the data directory, WAL mode.
    Sqlite,
    /// PostgreSQL (`postgres://` or `postgresql://` URLs): for several nodes sharing one database.
    Postgres,
}

impl Backend {
    /// The backend a database URL names by its scheme; None for any other scheme (certgate
    /// supports only these two).
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
    /// Where the sign-in log is appended (see `connect_with_timeout`).
    signin_log_pool: AnyPool,
    /// On SQLite, the queue for the write lock between the sign-in log and the bulk writes
    /// of a large CRL (see [`SqlStore::sqlite_write_turn`]).
    sqlite_write_queue: Arc<tokio::sync::Mutex<()>>,
    backend: Backend,
    /// The SQLite database file, when it is one (the directory sync's lock file sits beside it).
    sqlite_path: Option<std::path::PathBuf>,
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
        let options = |max_connections: u32| {
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                // A SQLite connection is a file handle in this process: there is no link to
                // lose, so the round trip to its worker thread that a ping before every use
                // costs buys nothing. A PostgreSQL connection can die with its server, so it
                // is pinged.
                .test_before_acquire(backend == Backend::Postgres)
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
                })
        };
        let open_error = |error: sqlx::Error| StoreError::Unavailable {
            detail: format!("cannot open {}: {error}", redact(&url)),
        };
        let pool = options(match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 8,
        })
        .connect(&url)
        .await
        .map_err(open_error)?;
        let mut conn = pool.acquire().await.map_err(unavailable)?;
        migrate::run(&mut conn, backend)
            .await
            .map_err(|error| StoreError::Unavailable {
                detail: format!("migrating the schema failed: {error}"),
            })?;
        drop(conn);
        // On a SQLite file the sign-in log, written on every sign-in, has a connection of its
        // own: SQLite drops a connection's page cache whenever another connection wrote, so a
        // log that went through whichever pooled connection was free would read its pages back
        // from the file on almost every write. (An in-memory database is one per connection,
        // and PostgreSQL keeps its cache in the server: both use the one pool.)
        let signin_log_pool = match backend {
            Backend::Sqlite if sqlite_file(&url).is_some() => {
                options(1).connect(&url).await.map_err(open_error)?
            }
            _ => pool.clone(),
        };
        Ok(SqlStore {
            pool,
            signin_log_pool,
            sqlite_write_queue: Arc::default(),
            backend,
            sqlite_path: sqlite_file(&url),
        })
    }

    /// Brings the database at `url` to schema version `last_version` and no further, as an
    /// older release left it: for tests of a later migration on the data such a release
    /// wrote. Not for production use (a store connected later runs the remaining migrations).
    #[doc(hidden)]
    pub async fn migrate_until_for_tests(url: &str, last_version: i64) -> StoreResult<()> {
        let backend = Backend::of_url(url).ok_or_else(|| StoreError::Unavailable {
            detail: format!("unsupported database URL \"{url}\""),
        })?;
        sqlx::any::install_default_drivers();
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let mut conn = AnyConnection::connect(&url).await.map_err(unavailable)?;
        migrate::run_until(&mut conn, backend, last_version)
            .await
            .map_err(unavailable)?;
        conn.close().await.map_err(unavailable)
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) fn signin_log_pool(&self) -> &AnyPool {
        &self.signin_log_pool
    }

    /// On SQLite, a turn at the write lock in this process, first come first served; `None`
    /// on PostgreSQL, whose writers do not exclude each other. A SQLite writer that finds the
    /// lock taken does not queue for it: its busy handler sleeps and tries again, sleeping
    /// longer each time (up to 100 ms), so while a 150 MB CRL is written in short
    /// transactions a sign-in, recorded before it is answered, could sleep through several of
    /// them. Holding a turn, the sign-in log waits for at most the one CRL transaction ahead
    /// of it. Writers in other processes (the CLI) still meet the busy handler.
    pub(crate) async fn sqlite_write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            // tokio's mutex hands the lock over in the order it was asked for.
            Backend::Sqlite => Some(self.sqlite_write_queue.lock().await),
            Backend::Postgres => None,
        }
    }

    /// A transaction that writes: on SQLite it takes the write lock at BEGIN, so that it
    /// waits (busy timeout) for another writer instead of failing when it upgrades from
    /// reading, and so that write transactions run one after another.
    pub(crate) async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(unavailable)
    }

    /// Which database this store runs on, for the few places where the two differ (three
    /// column types, how a write transaction begins).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for the connections in use to come back; a query after it
    /// fails `store-unavailable`.
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

/// A flag: BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite (see migrate.rs).
fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    row.try_get::<bool, _>(column)
        .or_else(|_| row.try_get::<i64, _>(column).map(|n| n != 0))
}

fn kind_of(text: &str) -> StoreResult<CrlKind> {
    CrlKind::parse(text).ok_or_else(|| corrupt(format!("CRL kind {text}")))
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
