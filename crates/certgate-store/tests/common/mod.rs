//! The test-database harness shared by the store, directory, TOTP and OIDC suites: each
//! behaviour is written once and run against both backends. SQLite uses a file in a temporary
//! directory; PostgreSQL gets a fresh database per test on the server at 127.0.0.1:5432 (user
//! `postgres`, database `test`), or on the server named by `CERTGATE_TEST_POSTGRES_URL`.
//! PostgreSQL is required, not optional: when it cannot be reached the `postgres_*` tests fail
//! and say why.
#![allow(dead_code)] // each suite uses a part (not every one needs `TestDb::url` or `with_database`)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use certgate_store::{Backend, SqlStore};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use tempfile::TempDir;

pub(crate) const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub(crate) const POSTGRES_URL_VARIABLE: &str = "CERTGATE_TEST_POSTGRES_URL";
/// No behaviour test may take longer than this, whatever the database does.
pub(crate) const TEST_DEADLINE: Duration = Duration::from_secs(120);
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a suite's PostgreSQL side is called: in the failure when PostgreSQL cannot be reached,
/// and in the names of the databases it creates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Suite {
    /// The failure says "the postgres_* {tests} tests".
    pub(crate) tests: &'static str,
    /// Test databases are named `{database_prefix}_{pid}_{counter}_{nanos}`.
    pub(crate) database_prefix: &'static str,
}

/// The store, TOTP and OIDC suites.
pub(crate) const STORE_SUITE: Suite = Suite {
    tests: "store",
    database_prefix: "certgate_t",
};

/// Instantiates each behaviour (an `async fn(&TestDb)`) for both backends, under explicit
/// names so that `cargo test sqlite_` or `cargo test postgres_` selects one backend. An
/// optional leading `suite: <Suite>;` names the suite (the default is [`STORE_SUITE`]).
macro_rules! on_both_backends {
    (suite: $suite:expr; $($behaviour:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let db = $crate::common::TestDb::create_for(
                $suite,
                ::certgate_store::Backend::Sqlite,
            )
            .await;
            $crate::common::within_deadline(stringify!($sqlite), $behaviour(&db)).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            let db = $crate::common::TestDb::create_for(
                $suite,
                ::certgate_store::Backend::Postgres,
            )
            .await;
            $crate::common::within_deadline(stringify!($postgres), $behaviour(&db)).await;
        }
    )+};
    ($($behaviour:ident => $sqlite:ident, $postgres:ident;)+) => {
        $crate::common::on_both_backends! {
            suite: $crate::common::STORE_SUITE;
            $($behaviour => $sqlite, $postgres;)+
        }
    };
}
pub(crate) use on_both_backends;

pub(crate) async fn within_deadline(test: &str, behaviour: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_DEADLINE, behaviour)
        .await
        .is_err()
    {
        panic!("{test} did not finish within {TEST_DEADLINE:?}");
    }
}

/// A database that lives as long as one test: a file in a temporary directory, or a
/// PostgreSQL database created for the test and dropped after it.
pub(crate) struct TestDb {
    url: String,
    place: Place,
}

enum Place {
    /// Held so that the directory outlives every connection; removed on drop.
    Sqlite {
        _dir: TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// A database for a test of the store suite.
    pub(crate) async fn create(backend: Backend) -> TestDb {
        TestDb::create_for(STORE_SUITE, backend).await
    }

    pub(crate) async fn create_for(suite: Suite, backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("create a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("certgate.db").display());
                TestDb {
                    url,
                    place: Place::Sqlite { _dir: dir },
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var(POSTGRES_URL_VARIABLE)
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
                let name = unique_database_name(suite.database_prefix);
                let mut admin = postgres_admin_connection(suite, &admin_url).await;
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut admin)
                    .await
                    .unwrap_or_else(|e| panic!("creating the test database {name}: {e}"));
                let _ = admin.close().await;
                TestDb {
                    url: with_database(&admin_url, &name),
                    place: Place::Postgres { admin_url, name },
                }
            }
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Connects a store (running the migrations, as every process does on start).
    pub(crate) async fn open(&self) -> SqlStore {
        SqlStore::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connecting the store to {}: {e}", self.url))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Place::Postgres { admin_url, name } = &self.place else {
            return;
        };
        // Drop runs inside the test's runtime (or while a panic unwinds out of it), where
        // blocking on another future is not allowed: do the async work on a thread of its own.
        let (admin_url, name) = (admin_url.clone(), name.clone());
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = tokio::time::timeout(
                    POSTGRES_CONNECT_TIMEOUT,
                    PgConnection::connect(&admin_url),
                )
                .await
                .map_err(|_| "no answer from PostgreSQL".to_owned())?
                .map_err(|e| e.to_string())?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .map_err(|e| e.to_string())?;
                let _ = admin.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        // Never panic here: this may run while a failed test unwinds.
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("warning: could not drop the test database: {error}"),
            Err(_) => eprintln!("warning: dropping the test database panicked"),
        }
    }
}

async fn postgres_admin_connection(suite: Suite, admin_url: &str) -> PgConnection {
    let shown = if admin_url == DEFAULT_POSTGRES_URL {
        admin_url
    } else {
        "the URL in CERTGATE_TEST_POSTGRES_URL"
    };
    let failure = match tokio::time::timeout(
        POSTGRES_CONNECT_TIMEOUT,
        PgConnection::connect(admin_url),
    )
    .await
    {
        Ok(Ok(connection)) => return connection,
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {POSTGRES_CONNECT_TIMEOUT:?}"),
    };
    panic!(
        "PostgreSQL at 127.0.0.1:5432 is required for the postgres_* {} tests, but \
         connecting to {shown} failed: {failure}. Start PostgreSQL (user postgres, trust \
         authentication, database test) or set {POSTGRES_URL_VARIABLE} to another server.",
        suite.tests
    );
}

fn unique_database_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database (the path) replaced by `name`, keeping any `?query`.
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}
