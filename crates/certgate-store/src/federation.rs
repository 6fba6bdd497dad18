//! The federation service's store ([`FederationStore`]) on SQL: relying parties, token-signing
//! keys and the replay cache of SAML request IDs (migration 0008).
//!
//! Races between nodes are decided by the database, never by a read followed by a write: the
//! unique constraints on relying-party names and identifiers, the partial unique index that
//! allows one Current and one Next key, conditional updates on a key's state, and the primary
//! key of `saml_request_ids`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_core::audit::AuditEvent;
use certgate_core::federation::{
    ClaimRule, ClaimSource, FederationStore, KeyState, NameIdFormat, PasswordRequests, Protocol,
    RelyingParty, TokenSigningKey,
};
use certgate_core::store::{StoreError, StoreResult};
use certgate_pki::UnixTime;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::key_lifecycle::{bind_lifecycle, lifecycle_from_row, move_key};
use crate::{corrupt, flag, translate, unavailable, SqlStore};

// ---- Relying parties ------------------------------------------------------------------------

const RP_COLUMNS: &str = "id, name, protocol, identifier, reply_urls, logout_url, \
     name_id_format, name_id_source, claims, sign_response, require_signed_requests, \
     request_certificates, password_requests, issuer, token_lifetime_seconds, enabled, \
     require_domain_password, created_at, updated_at";

/// One claim rule in the `claims` JSON column.
#[derive(Serialize, Deserialize)]
struct StoredClaim {
    claim: String,
    source: String,
}

/// The case-folded name that `name_lower` makes unique.
fn name_key(name: &str) -> String {
    certgate_core::directory::fold_case(name)
}

/// The SHA-256 of an identifier, which `UNIQUE (protocol, identifier_key)` compares: an
/// identifier may be longer than a PostgreSQL index entry.
fn identifier_key(identifier: &str) -> String {
    certgate_core::directory::certificate_user_id_key(identifier)
}

fn to_json<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| corrupt(format!("relying_parties: {e}")))
}

fn rp_from_row(row: &AnyRow) -> StoreResult<RelyingParty> {
    let bad = |what: String| corrupt(format!("relying_parties: {what}"));
    let get = |e: sqlx::Error| bad(e.to_string());
    let json = |column: &str| -> StoreResult<String> { row.try_get(column).map_err(get) };
    let protocol: String = row.try_get("protocol").map_err(get)?;
    let name_id_format: String = row.try_get("name_id_format").map_err(get)?;
    let name_id_source: String = row.try_get("name_id_source").map_err(get)?;
    let password_requests: String = row.try_get("password_requests").map_err(get)?;
    let reply_urls: Vec<String> =
        serde_json::from_str(&json("reply_urls")?).map_err(|e| bad(format!("reply_urls: {e}")))?;
    let claims: Vec<StoredClaim> =
        serde_json::from_str(&json("claims")?).map_err(|e| bad(format!("claims: {e}")))?;
    let certificates: Vec<String> = serde_json::from_str(&json("request_certificates")?)
        .map_err(|e| bad(format!("request_certificates: {e}")))?;
    Ok(RelyingParty {
        id: row.try_get("id").map_err(get)?,
        name: row.try_get("name").map_err(get)?,
        protocol: Protocol::parse(&protocol).ok_or_else(|| bad(format!("protocol {protocol}")))?,
        identifier: row.try_get("identifier").map_err(get)?,
        reply_urls,
        logout_url: row.try_get("logout_url").map_err(get)?,
        name_id_format: NameIdFormat::parse(&name_id_format)
            .ok_or_else(|| bad(format!("name_id_format {name_id_format}")))?,
        name_id_source: ClaimSource::parse(&name_id_source)
            .map_err(|_| bad(format!("name_id_source {name_id_source}")))?,
        claims: claims
            .into_iter()
            .map(|stored| {
                ClaimSource::parse(&stored.source)
                    .map(|source| ClaimRule {
                        claim: stored.claim,
                        source,
                    })
                    .map_err(|_| bad(format!("claim source {}", stored.source)))
            })
            .collect::<StoreResult<_>>()?,
        sign_response: flag(row, "sign_response").map_err(get)?,
        require_signed_requests: flag(row, "require_signed_requests").map_err(get)?,
        request_certificates: certificates
            .iter()
            .map(|b64| {
                STANDARD
                    .decode(b64)
                    .map_err(|e| bad(format!("request_certificates: {e}")))
            })
            .collect::<StoreResult<_>>()?,
        password_requests: PasswordRequests::parse(&password_requests)
            .ok_or_else(|| bad(format!("password_requests {password_requests}")))?,
        issuer: row.try_get("issuer").map_err(get)?,
        token_lifetime_seconds: row.try_get("token_lifetime_seconds").map_err(get)?,
        enabled: flag(row, "enabled").map_err(get)?,
        require_domain_password: flag(row, "require_domain_password").map_err(get)?,
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
        updated_at: UnixTime(row.try_get("updated_at").map_err(get)?),
    })
}

/// The JSON columns of a relying party.
struct RpValues {
    reply_urls: String,
    claims: String,
    request_certificates: String,
}

/// Binds the relying party's own fields, name to require_domain_password, in the order both the INSERT and the
/// UPDATE list them (`RP_COLUMNS` after the ID).
fn bind_fields<'q>(
    statement: crate::statement::Statement<'q>,
    rp: &RelyingParty,
    values: RpValues,
) -> crate::statement::Statement<'q> {
    statement
        .bind(&rp.name)
        .bind(rp.protocol.as_str())
        .bind(&rp.identifier)
        .bind(values.reply_urls)
        .bind(&rp.logout_url)
        .bind(rp.name_id_format.as_str())
        .bind(rp.name_id_source.as_string())
        .bind(values.claims)
        .bind(rp.sign_response)
        .bind(rp.require_signed_requests)
        .bind(values.request_certificates)
        .bind(rp.password_requests.as_str())
        .bind(&rp.issuer)
        .bind(rp.token_lifetime_seconds)
        .bind(rp.enabled)
        .bind(rp.require_domain_password)
}

fn rp_values(rp: &RelyingParty) -> StoreResult<RpValues> {
    Ok(RpValues {
        reply_urls: to_json(&rp.reply_urls)?,
        claims: to_json(
            &rp.claims
                .iter()
                .map(|rule| StoredClaim {
                    claim: rule.claim.clone(),
                    source: rule.source.as_string(),
                })
                .collect::<Vec<_>>(),
        )?,
        request_certificates: to_json(
            &rp.request_certificates
                .iter()
                .map(|der| STANDARD.encode(der))
                .collect::<Vec<_>>(),
        )?,
    })
}

fn rp_conflict(rp: &RelyingParty) -> String {
    format!(
        "a relying party named \"{}\" or with the {} identifier {}",
        rp.name,
        rp.protocol.as_str(),
        rp.identifier
    )
}

// ---- Token-signing keys ---------------------------------------------------------------------

/// The key's own columns, then the life cycle's in the order `bind_lifecycle` binds them.
const KEY_COLUMNS: &str = "thumbprint, certificate, sealed_private_key, not_after, \
     state, created_at, activated_at, retired_at";

fn key_from_row(row: &AnyRow) -> StoreResult<TokenSigningKey> {
    let get = |e: sqlx::Error| corrupt(format!("token_signing_keys: {e}"));
    Ok(TokenSigningKey {
        thumbprint: row.try_get("thumbprint").map_err(get)?,
        certificate_der: row.try_get("certificate").map_err(get)?,
        sealed_private_key: row.try_get("sealed_private_key").map_err(get)?,
        not_after: UnixTime(row.try_get("not_after").map_err(get)?),
        lifecycle: lifecycle_from_row(row, "token_signing_keys")?,
    })
}

async fn insert_key(conn: &mut AnyConnection, key: &TokenSigningKey) -> StoreResult<()> {
    let statement = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO token_signing_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )))
    .bind(&key.thumbprint)
    .bind(&key.certificate_der)
    .bind(&key.sealed_private_key)
    .bind(key.not_after.0);
    bind_lifecycle(statement, &key.lifecycle)
        .execute(conn)
        .await
        .map_err(|e| {
            translate(
                &format!("a {} token-signing key", key.lifecycle.state.as_str()),
                e,
            )
        })?;
    Ok(())
}

/// The outcome of a key transaction: `Conflict` means another node got there first.
fn lost_race(result: StoreResult<()>) -> StoreResult<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

impl FederationStore for SqlStore {
    async fn relying_parties(&self) -> StoreResult<Vec<RelyingParty>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {RP_COLUMNS} FROM relying_parties ORDER BY name_lower, id"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        rows.iter().map(rp_from_row).collect()
    }

    async fn relying_party(&self, id: &str) -> StoreResult<Option<RelyingParty>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {RP_COLUMNS} FROM relying_parties WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(rp_from_row)
        .transpose()
    }

    async fn relying_party_by_identifier(
        &self,
        protocol: Protocol,
        identifier: &str,
    ) -> StoreResult<Option<RelyingParty>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {RP_COLUMNS} FROM relying_parties \
             WHERE protocol = $1 AND identifier_key = $2 AND identifier = $3"
        )))
        .bind(protocol.as_str())
        .bind(identifier_key(identifier))
        .bind(identifier)
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(rp_from_row)
        .transpose()
    }

    async fn insert_relying_party(&self, rp: &RelyingParty, audit: &AuditEvent) -> StoreResult<()> {
        let values = rp_values(rp)?;
        let mut tx = self.begin_write().await?;
        bind_fields(
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO relying_parties ({RP_COLUMNS}, name_lower, identifier_key) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21)"
            )))
            .bind(&rp.id),
            rp,
            values,
        )
        .bind(rp.created_at.0)
        .bind(rp.updated_at.0)
        .bind(name_key(&rp.name))
        .bind(identifier_key(&rp.identifier))
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(&rp_conflict(rp), e))?;
        crate::commit_audited(tx, audit).await
    }

    async fn update_relying_party(&self, rp: &RelyingParty, audit: &AuditEvent) -> StoreResult<()> {
        let values = rp_values(rp)?;
        let mut tx = self.begin_write().await?;
        // created_at is kept as stored: it is not the caller's to change.
        let updated = bind_fields(
            sqlx::query(
                "UPDATE relying_parties SET name = $1, protocol = $2, identifier = $3, \
             reply_urls = $4, logout_url = $5, name_id_format = $6, name_id_source = $7, \
             claims = $8, sign_response = $9, require_signed_requests = $10, \
             request_certificates = $11, password_requests = $12, issuer = $13, \
             token_lifetime_seconds = $14, enabled = $15, require_domain_password = $16, \
             updated_at = $17, name_lower = $18, identifier_key = $19 WHERE id = $20",
            ),
            rp,
            values,
        )
        .bind(rp.updated_at.0)
        .bind(name_key(&rp.name))
        .bind(identifier_key(&rp.identifier))
        .bind(&rp.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(&rp_conflict(rp), e))?
        .rows_affected();
        if updated != 1 {
            return Err(StoreError::NotFound {
                what: format!("relying party {}", rp.id),
            });
        }
        crate::commit_audited(tx, audit).await
    }

    async fn delete_relying_party(&self, id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        crate::change_one(
            &mut tx,
            sqlx::query("DELETE FROM relying_parties WHERE id = $1").bind(id),
            || format!("relying party {id}"),
        )
        .await?;
        crate::commit_audited(tx, audit).await
    }

    async fn token_signing_keys(&self) -> StoreResult<Vec<TokenSigningKey>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM token_signing_keys ORDER BY created_at, thumbprint"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn insert_initial_token_signing_keys(
        &self,
        current: &TokenSigningKey,
        next: &TokenSigningKey,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM token_signing_keys")
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?
            .try_get("n")
            .map_err(|e| corrupt(format!("token_signing_keys: {e}")))?;
        if existing > 0 {
            return Ok(false);
        }
        // On PostgreSQL two nodes can both count zero; the second insert then meets the
        // first's Current key in the one-per-state index and loses here.
        let inserted = async {
            insert_key(&mut tx, current).await?;
            insert_key(&mut tx, next).await?;
            crate::insert_audit(&mut tx, audit).await
        }
        .await;
        if !lost_race(inserted)? {
            return Ok(false);
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn rotate_token_signing_keys(
        &self,
        expected_current: &str,
        expected_next: &str,
        new_next: &TokenSigningKey,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        // Each update matches only the state this node saw: on PostgreSQL a concurrent
        // rotation's update waits for the first to commit and then matches nothing. Dropping
        // the transaction without commit rolls back whatever part already ran.
        if !move_key(
            &mut tx,
            "token_signing_keys",
            "thumbprint",
            expected_current,
            (KeyState::Current, KeyState::Retired),
            "retired_at",
            now,
        )
        .await?
        {
            return Ok(false);
        }
        if !move_key(
            &mut tx,
            "token_signing_keys",
            "thumbprint",
            expected_next,
            (KeyState::Next, KeyState::Current),
            "activated_at",
            now,
        )
        .await?
        {
            return Ok(false);
        }
        let inserted = async {
            insert_key(&mut tx, new_next).await?;
            crate::insert_audit(&mut tx, audit).await
        }
        .await;
        if !lost_race(inserted)? {
            return Ok(false);
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }

    async fn remember_request_id(
        &self,
        issuer: &str,
        request_id: &str,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        // An expired ID that was not purged yet still counts as seen: a replay is refused
        // rather than accepted, whatever the purge schedule.
        let inserted = sqlx::query(
            "INSERT INTO saml_request_ids (issuer, request_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, request_id) DO NOTHING",
        )
        .bind(issuer)
        .bind(request_id)
        .bind(expires_at.0)
        .execute(self.pool())
        .await
        .map_err(|e| translate("a SAML request ID", e))?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn purge_request_ids(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM saml_request_ids WHERE expires_at < $1")
                .bind(now.0)
                .execute(self.pool())
                .await
                .map_err(unavailable)?
                .rows_affected(),
        )
    }
}
