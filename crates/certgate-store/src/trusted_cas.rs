//! The trusted CAs on SQL (`trusted_cas`): the CA certificates client certificates are
//! validated against, with their settings. Every change bumps the generation
//! (`certgate_state`), so that other processes on the database rebuild their validation state.

use certgate_core::store::{StoreError, StoreResult};
use certgate_core::trusted_ca::{AuthorityType, CaFacts, CaId, CaRecord, CaSettings, NewCa};
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{bump_generation, corrupt, flag, translate, unavailable, SqlStore};

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

impl SqlStore {
    pub(crate) async fn list_cas(&self) -> StoreResult<Vec<CaRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CA_COLUMNS} FROM trusted_cas ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(ca_from_row).collect()
    }

    pub(crate) async fn insert_cas(
        &self,
        cas: &[NewCa],
        now: UnixTime,
    ) -> StoreResult<Vec<CaRecord>> {
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

    pub(crate) async fn update_ca(&self, id: CaId, settings: &CaSettings) -> StoreResult<CaRecord> {
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

    pub(crate) async fn delete_ca(&self, id: CaId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        crate::delete_dependants(
            &mut tx,
            &["crl_cache_der", "crl_cache", "crl_fetch_status"],
            "ca_id",
            id.0,
        )
        .await?;
        crate::change_one(
            &mut tx,
            sqlx::query("DELETE FROM trusted_cas WHERE id = $1").bind(id.0),
            || format!("trusted CA {id}"),
        )
        .await?;
        bump_generation(&mut tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }
}
