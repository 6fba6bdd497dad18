//! certgate's domain-password lockout on SQL: one row per user, written with a compare-and-set
//! on its revision. Of two nodes recording a check of the same user at once, one write applies
//! and the other finds its revision stale, reads again and re-applies its outcome, so both
//! failures count. The first failure inserts the row (`ON CONFLICT DO NOTHING`: a racing
//! insert is stale the same way).

use certgate_core::domain_password::{DomainPasswordLockoutStore, LockoutState, StoredLockout};
use certgate_core::store::StoreResult;
use certgate_core::totp::SwapOutcome;
use certgate_pki::UnixTime;
use sqlx::Row;

use crate::{corrupt, unavailable, SqlStore};

impl DomainPasswordLockoutStore for SqlStore {
    async fn password_lockout(&self, user_id: &str) -> StoreResult<Option<StoredLockout>> {
        let Some(row) = sqlx::query(
            "SELECT failures, locked_until, revision FROM domain_password_lockouts \
             WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let get = |e: sqlx::Error| corrupt(format!("domain_password_lockouts: {e}"));
        let failures: i64 = row.try_get("failures").map_err(get)?;
        Ok(Some(StoredLockout {
            state: LockoutState {
                failures: u32::try_from(failures)
                    .map_err(|_| corrupt(format!("domain password failures {failures}")))?,
                locked_until: row
                    .try_get::<Option<i64>, _>("locked_until")
                    .map_err(get)?
                    .map(UnixTime),
            },
            revision: row.try_get("revision").map_err(get)?,
        }))
    }

    async fn swap_password_lockout(
        &self,
        user_id: &str,
        expected_revision: Option<i64>,
        state: &LockoutState,
        now: UnixTime,
    ) -> StoreResult<SwapOutcome> {
        let query = match expected_revision {
            None => sqlx::query(
                "INSERT INTO domain_password_lockouts \
                 (failures, locked_until, updated_at, user_id, revision) \
                 VALUES ($1, $2, $3, $4, 1) ON CONFLICT (user_id) DO NOTHING",
            ),
            Some(_) => sqlx::query(
                "UPDATE domain_password_lockouts SET failures = $1, locked_until = $2, \
                 updated_at = $3, revision = revision + 1 WHERE user_id = $4 AND revision = $5",
            ),
        };
        let mut query = query
            .bind(i64::from(state.failures))
            .bind(state.locked_until.map(|t| t.0))
            .bind(now.0)
            .bind(user_id);
        if let Some(revision) = expected_revision {
            query = query.bind(revision);
        }
        let result = query.execute(self.pool()).await.map_err(unavailable)?;
        Ok(if result.rows_affected() == 1 {
            SwapOutcome::Applied
        } else {
            SwapOutcome::Stale
        })
    }
}
