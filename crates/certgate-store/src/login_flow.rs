//! Sign-in flows on SQL.

use certgate_core::login_flow::{FlowIdentity, FlowStep, LoginFlow, LoginFlowStore};
use certgate_core::store::{StoreError, StoreResult};
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{unavailable, SqlStore};

fn flow_from_row(row: &AnyRow) -> StoreResult<LoginFlow> {
    let get = |e: sqlx::Error| StoreError::Corrupt {
        detail: format!("login_flows: {e}"),
    };
    let step: String = row.try_get("step").map_err(get)?;
    let user_id: Option<String> = row.try_get("user_id").map_err(get)?;
    let identity = match user_id {
        Some(user_id) => Some(FlowIdentity {
            user_id,
            upn: row.try_get("upn").map_err(get)?,
            display_name: row.try_get("display_name").map_err(get)?,
            certificate_serial: row.try_get("certificate_serial").map_err(get)?,
            certificate_issuer: row.try_get("certificate_issuer").map_err(get)?,
            strength: row.try_get("strength").map_err(get)?,
            auth_time: UnixTime(row.try_get("auth_time").map_err(get)?),
            second_factor: row.try_get("second_factor").map_err(get)?,
            access_pass_redeemed_at: row
                .try_get::<Option<i64>, _>("access_pass_redeemed_at")
                .map_err(get)?
                .map(UnixTime),
            certificate_der: row.try_get("certificate").map_err(get)?,
            domain_password_verified_at: row
                .try_get::<Option<i64>, _>("domain_password_verified_at")
                .map_err(get)?
                .map(UnixTime),
        }),
        None => None,
    };
    Ok(LoginFlow {
        id_hash: row.try_get("id_hash").map_err(get)?,
        browser_hash: row.try_get("browser_hash").map_err(get)?,
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
        expires_at: UnixTime(row.try_get("expires_at").map_err(get)?),
        request: row.try_get("request").map_err(get)?,
        step: FlowStep::parse(&step).ok_or_else(|| StoreError::Corrupt {
            detail: format!("login flow step {step}"),
        })?,
        identity,
        correlation_id: row.try_get("correlation_id").map_err(get)?,
    })
}

impl LoginFlowStore for SqlStore {
    async fn insert_flow(&self, flow: &LoginFlow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO login_flows (id_hash, browser_hash, created_at, expires_at, request, step, \
             correlation_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&flow.id_hash)
        .bind(&flow.browser_hash)
        .bind(flow.created_at.0)
        .bind(flow.expires_at.0)
        .bind(&flow.request)
        .bind(flow.step.as_str())
        .bind(&flow.correlation_id)
        .execute(self.pool())
        .await
        .map_err(|e| crate::translate("a login flow", e))?;
        Ok(())
    }

    async fn flow(&self, id_hash: &[u8]) -> StoreResult<Option<LoginFlow>> {
        sqlx::query("SELECT * FROM login_flows WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(self.pool())
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(flow_from_row)
            .transpose()
    }

    async fn advance_flow(&self, flow: &LoginFlow, expected: FlowStep) -> StoreResult<bool> {
        let identity = flow.identity.as_ref();
        let updated = sqlx::query(
            "UPDATE login_flows SET step = $1, user_id = $2, upn = $3, display_name = $4, \
             certificate_serial = $5, certificate_issuer = $6, strength = $7, auth_time = $8, \
             second_factor = $9, certificate = $10, correlation_id = $11, \
             access_pass_redeemed_at = $12, browser_hash = $15, domain_password_verified_at = $16 \
             WHERE id_hash = $13 AND step = $14",
        )
        .bind(flow.step.as_str())
        .bind(identity.map(|i| i.user_id.clone()))
        .bind(identity.map(|i| i.upn.clone()))
        .bind(identity.map(|i| i.display_name.clone()))
        .bind(identity.map(|i| i.certificate_serial.clone()))
        .bind(identity.map(|i| i.certificate_issuer.clone()))
        .bind(identity.map(|i| i.strength.clone()))
        .bind(identity.map(|i| i.auth_time.0))
        .bind(identity.and_then(|i| i.second_factor.clone()))
        .bind(identity.and_then(|i| i.certificate_der.clone()))
        .bind(&flow.correlation_id)
        .bind(identity.and_then(|i| i.access_pass_redeemed_at.map(|t| t.0)))
        .bind(&flow.id_hash)
        .bind(expected.as_str())
        // The browser binding moves with the step (a new secret at each authentication step).
        .bind(&flow.browser_hash)
        .bind(identity.and_then(|i| i.domain_password_verified_at.map(|t| t.0)))
        .execute(self.pool())
        .await
        .map_err(unavailable)?
        .rows_affected();
        Ok(updated == 1)
    }

    async fn purge_flows(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM login_flows WHERE expires_at < $1")
            .bind(now.0)
            .execute(self.pool())
            .await
            .map_err(unavailable)?
            .rows_affected())
    }
}
