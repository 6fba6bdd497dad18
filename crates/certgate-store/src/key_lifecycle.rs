//! The life cycle columns the token-signing keys (federation) and the OIDC signing keys share:
//! `state`, `created_at`, `activated_at` and `retired_at`, read into and written from
//! `certgate_core::key_rollover::Lifecycle` in one place.

use certgate_core::key_rollover::{KeyState, Lifecycle};
use certgate_core::store::StoreResult;
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::statement::Statement;
use crate::{corrupt, translate};

/// The life cycle of the key in `row` of `table`; `Corrupt` for a state certgate never writes.
pub(crate) fn lifecycle_from_row(row: &AnyRow, table: &str) -> StoreResult<Lifecycle> {
    let get = |e: sqlx::Error| corrupt(format!("{table}: {e}"));
    let state: String = row.try_get("state").map_err(get)?;
    let optional_time = |column: &str| -> StoreResult<Option<UnixTime>> {
        Ok(row
            .try_get::<Option<i64>, _>(column)
            .map_err(get)?
            .map(UnixTime))
    };
    Ok(Lifecycle {
        state: KeyState::parse(&state).ok_or_else(|| corrupt(format!("{table}: state {state}")))?,
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
        activated_at: optional_time("activated_at")?,
        retired_at: optional_time("retired_at")?,
    })
}

/// `statement` with the four life cycle values bound next, in the order `state, created_at,
/// activated_at, retired_at`.
pub(crate) fn bind_lifecycle<'q>(statement: Statement<'q>, lifecycle: &Lifecycle) -> Statement<'q> {
    statement
        .bind(lifecycle.state.as_str())
        .bind(lifecycle.created_at.0)
        .bind(lifecycle.activated_at.map(|t| t.0))
        .bind(lifecycle.retired_at.map(|t| t.0))
}

/// One step of a rotation: moves the key whose `key_column` is `key` from `from` to `to`,
/// stamping `stamp_column` (`activated_at` or `retired_at`) with `at`. Whether the key was in
/// `from`: false means another node moved it first.
pub(crate) async fn move_key(
    conn: &mut AnyConnection,
    table: &str,
    key_column: &str,
    key: &str,
    (from, to): (KeyState, KeyState),
    stamp_column: &str,
    at: UnixTime,
) -> StoreResult<bool> {
    let changed = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {table} SET state = $1, {stamp_column} = $2 \
         WHERE {key_column} = $3 AND state = $4"
    )))
    .bind(to.as_str())
    .bind(at.0)
    .bind(key)
    .bind(from.as_str())
    .execute(conn)
    .await
    .map_err(|e| translate(&format!("a {table} state"), e))?
    .rows_affected();
    Ok(changed == 1)
}
