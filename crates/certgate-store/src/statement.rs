//! Steps several adapters take alike around one statement: a change that must find its row
//! (no row is `NotFound`, not a silent success), and the rows that hang off a row deleted
//! before it.

use certgate_core::store::{StoreError, StoreResult};
use sqlx::{Any, AnyConnection, AssertSqlSafe, Database, Encode, Type};

use crate::unavailable;

/// One statement with its parameters bound, as `sqlx::query(..).bind(..)` makes it.
pub(crate) type Statement<'q> = sqlx::query::Query<'q, Any, <Any as Database>::Arguments>;

/// Runs `statement` (an UPDATE or DELETE of one row by its key) on `conn`; when it touched no
/// row, `NotFound` naming `what` (called only then, so a message is formatted only for it).
pub(crate) async fn change_one(
    conn: &mut AnyConnection,
    statement: Statement<'_>,
    what: impl FnOnce() -> String,
) -> StoreResult<()> {
    let changed = statement
        .execute(conn)
        .await
        .map_err(unavailable)?
        .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound { what: what() });
    }
    Ok(())
}

/// Deletes the rows of each of `tables` whose `column` is `key`: what depends on a row about
/// to be deleted. Explicit rather than left to ON DELETE CASCADE alone, which SQLite honours
/// only with PRAGMA foreign_keys on for that connection.
pub(crate) async fn delete_dependants<'k, K>(
    conn: &mut AnyConnection,
    tables: &[&str],
    column: &str,
    key: K,
) -> StoreResult<()>
where
    K: Encode<'k, Any> + Type<Any> + Clone,
{
    for table in tables {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE {column} = $1"
        )))
        .bind(key.clone())
        .execute(&mut *conn)
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}
