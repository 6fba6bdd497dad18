//! The OIDC provider's store ([`OidcStore`]) on SQL: signing keys, clients, authorization
//! codes, grants and refresh tokens (migration 0004). The SQL of codes, grants and refresh
//! tokens is in oidc/grants.rs: `impl OidcStore` below hands their methods over to the
//! inherent methods of the same names there (an inherent method takes precedence).

use std::collections::HashMap;
use std::time::Duration;

use certgate_core::audit::AuditEvent;
use certgate_core::store::{StoreError, StoreResult};
use certgate_oidc::{
    Client, ClientId, ClientType, CodeRecord, CodeRedemption, ConsentPrompt, GrantId, GrantRecord,
    KeyId, KeyRotation, KeyState, OidcStore, RefreshRotation, RefreshTokenRecord, ScopeSet,
    SecretHash, SigningKeyRecord, TokenLifetimes,
};
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::key_lifecycle::{bind_lifecycle, lifecycle_from_row, move_key};
use crate::{corrupt, flag, translate, unavailable, SqlStore};

mod grants;

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn duration(row: &AnyRow, column: &str) -> Result<Duration, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    Ok(Duration::from_secs(u64::try_from(value).unwrap_or(0)))
}

fn hash_from(text: &str, table: &str) -> StoreResult<SecretHash> {
    SecretHash::from_hex(text).ok_or_else(|| corrupt(format!("{table}: hash {text}")))
}

fn scopes_from(text: &str, table: &str) -> StoreResult<ScopeSet> {
    ScopeSet::parse(text).map_err(|_| corrupt(format!("{table}: scope \"{text}\"")))
}

// ---- Signing keys ---------------------------------------------------------------------------

/// The key's own columns, then the life cycle's in the order `bind_lifecycle` binds them.
const KEY_COLUMNS: &str =
    "kid, public_key, private_key, state, created_at, activated_at, retired_at";

fn key_from_row(row: &AnyRow) -> StoreResult<SigningKeyRecord> {
    let get = |e: sqlx::Error| corrupt(format!("oidc_signing_keys: {e}"));
    Ok(SigningKeyRecord {
        kid: KeyId(row.try_get("kid").map_err(get)?),
        public_key: row.try_get("public_key").map_err(get)?,
        sealed_private_key: row.try_get("private_key").map_err(get)?,
        lifecycle: lifecycle_from_row(row, "oidc_signing_keys")?,
    })
}

async fn insert_key(conn: &mut AnyConnection, key: &SigningKeyRecord) -> StoreResult<()> {
    let statement = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO oidc_signing_keys (algorithm, {KEY_COLUMNS}) \
         VALUES ('ES256', $1, $2, $3, $4, $5, $6, $7)"
    )))
    .bind(key.kid.as_str())
    .bind(&key.public_key)
    .bind(&key.sealed_private_key);
    bind_lifecycle(statement, &key.lifecycle)
        .execute(conn)
        .await
        .map_err(|e| {
            translate(
                &format!("a {} OIDC signing key", key.lifecycle.state.as_str()),
                e,
            )
        })?;
    Ok(())
}

// ---- Clients --------------------------------------------------------------------------------

const CLIENT_COLUMNS: &str = "client_id, display_name, client_type, secret_hash, \
     require_consent, allowed_scopes, id_token_lifetime, access_token_lifetime, \
     refresh_token_lifetime, created_at, require_domain_password";

/// Redirect URIs per client: (login, logout), each in registration order.
type RedirectUris = HashMap<String, (Vec<String>, Vec<String>)>;

fn client_from_row(row: &AnyRow, uris: &mut RedirectUris) -> StoreResult<Client> {
    let get = |e: sqlx::Error| corrupt(format!("oidc_clients: {e}"));
    let client_id: String = row.try_get("client_id").map_err(get)?;
    let client_type: String = row.try_get("client_type").map_err(get)?;
    let secret_hash: Option<String> = row.try_get("secret_hash").map_err(get)?;
    let client_type = match (client_type.as_str(), secret_hash) {
        ("confidential", Some(hash)) => ClientType::Confidential {
            secret_hash: hash_from(&hash, "oidc_clients")?,
        },
        ("public", None) => ClientType::Public,
        (other, _) => return Err(corrupt(format!("oidc_clients: client type {other}"))),
    };
    let allowed_scopes: String = row.try_get("allowed_scopes").map_err(get)?;
    let (redirect_uris, post_logout_redirect_uris) = uris.remove(&client_id).unwrap_or_default();
    Ok(Client {
        client_id: ClientId::parse(&client_id)
            .map_err(|_| corrupt(format!("oidc_clients: client_id {client_id}")))?,
        display_name: row.try_get("display_name").map_err(get)?,
        client_type,
        redirect_uris,
        post_logout_redirect_uris,
        consent: if flag(row, "require_consent").map_err(get)? {
            ConsentPrompt::Show
        } else {
            ConsentPrompt::Skip
        },
        allowed_scopes: scopes_from(&allowed_scopes, "oidc_clients")?,
        lifetimes: TokenLifetimes {
            id_token: duration(row, "id_token_lifetime").map_err(get)?,
            access_token: duration(row, "access_token_lifetime").map_err(get)?,
            refresh_token: duration(row, "refresh_token_lifetime").map_err(get)?,
        },
        require_domain_password: flag(row, "require_domain_password").map_err(get)?,
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
    })
}

async fn redirect_uris(
    store: &SqlStore,
    client_id: Option<&ClientId>,
) -> StoreResult<RedirectUris> {
    let sql = match client_id {
        Some(_) => {
            "SELECT client_id, kind, uri FROM oidc_client_redirect_uris WHERE client_id = $1 \
             ORDER BY client_id, kind, position"
        }
        None => {
            "SELECT client_id, kind, uri FROM oidc_client_redirect_uris \
             ORDER BY client_id, kind, position"
        }
    };
    let mut query = sqlx::query(sql);
    if let Some(id) = client_id {
        query = query.bind(id.as_str());
    }
    let rows = query.fetch_all(store.pool()).await.map_err(unavailable)?;
    let mut uris = RedirectUris::new();
    for row in &rows {
        let get = |e: sqlx::Error| corrupt(format!("oidc_client_redirect_uris: {e}"));
        let client_id: String = row.try_get("client_id").map_err(get)?;
        let kind: String = row.try_get("kind").map_err(get)?;
        let uri: String = row.try_get("uri").map_err(get)?;
        let entry = uris.entry(client_id).or_default();
        match kind.as_str() {
            "login" => entry.0.push(uri),
            "logout" => entry.1.push(uri),
            other => return Err(corrupt(format!("oidc_client_redirect_uris: kind {other}"))),
        }
    }
    Ok(uris)
}

impl OidcStore for SqlStore {
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM oidc_signing_keys ORDER BY created_at, kid"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn insert_initial_signing_keys(
        &self,
        keys: &[SigningKeyRecord],
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for key in keys {
            insert_key(&mut tx, key).await?;
        }
        crate::commit_audited(tx, audit).await
    }

    async fn rotate_signing_keys(
        &self,
        rotation: &KeyRotation,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let moved = || StoreError::Conflict {
            what: "a concurrent rotation of the OIDC signing keys".into(),
        };
        for (kid, from, to, column) in [
            (
                &rotation.retire,
                KeyState::Current,
                KeyState::Retired,
                "retired_at",
            ),
            (
                &rotation.promote,
                KeyState::Next,
                KeyState::Current,
                "activated_at",
            ),
        ] {
            let moved_here = move_key(
                &mut tx,
                "oidc_signing_keys",
                "kid",
                kid.as_str(),
                (from, to),
                column,
                rotation.at,
            )
            .await?;
            if !moved_here {
                return Err(moved());
            }
        }
        insert_key(&mut tx, &rotation.insert)
            .await
            .map_err(|error| match error {
                StoreError::Conflict { .. } => moved(),
                other => other,
            })?;
        for kid in &rotation.purge {
            sqlx::query("DELETE FROM oidc_signing_keys WHERE kid = $1 AND state = 'retired'")
                .bind(kid.as_str())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        crate::commit_audited(tx, audit).await
    }

    async fn insert_client(&self, client: &Client, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let (client_type, secret_hash) = match &client.client_type {
            ClientType::Confidential { secret_hash } => {
                ("confidential", Some(secret_hash.to_hex()))
            }
            ClientType::Public => ("public", None),
        };
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO oidc_clients ({CLIENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(client.client_id.as_str())
        .bind(&client.display_name)
        .bind(client_type)
        .bind(secret_hash)
        .bind(client.consent == ConsentPrompt::Show)
        .bind(client.allowed_scopes.to_string())
        .bind(seconds(client.lifetimes.id_token))
        .bind(seconds(client.lifetimes.access_token))
        .bind(seconds(client.lifetimes.refresh_token))
        .bind(client.created_at.0)
        .bind(client.require_domain_password)
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(&format!("client {}", client.client_id), e))?;
        for (kind, uris) in [
            ("login", &client.redirect_uris),
            ("logout", &client.post_logout_redirect_uris),
        ] {
            for (position, uri) in uris.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO oidc_client_redirect_uris (client_id, kind, position, uri) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(client.client_id.as_str())
                .bind(kind)
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .bind(uri)
                .execute(&mut *tx)
                .await
                .map_err(|e| translate(&format!("redirect URI {uri}"), e))?;
            }
        }
        crate::commit_audited(tx, audit).await
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE client_id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(unavailable)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut uris = redirect_uris(self, Some(id)).await?;
        client_from_row(&row, &mut uris).map(Some)
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY client_id"
        )))
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?;
        let mut uris = redirect_uris(self, None).await?;
        rows.iter()
            .map(|row| client_from_row(row, &mut uris))
            .collect()
    }

    async fn delete_client(&self, id: &ClientId, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // The refresh tokens hang off the client's grants: deleted first, like the rest of
        // what depends on the client (see `delete_dependants` for why explicitly).
        sqlx::query(
            "DELETE FROM oidc_refresh_tokens WHERE grant_id IN \
             (SELECT id FROM oidc_grants WHERE client_id = $1)",
        )
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        crate::delete_dependants(
            &mut tx,
            &[
                "oidc_grants",
                "oidc_authorization_codes",
                "oidc_client_redirect_uris",
            ],
            "client_id",
            id.as_str(),
        )
        .await?;
        crate::change_one(
            &mut tx,
            sqlx::query("DELETE FROM oidc_clients WHERE client_id = $1").bind(id.as_str()),
            || format!("client {id}"),
        )
        .await?;
        crate::commit_audited(tx, audit).await
    }

    // Codes, grants and refresh tokens: oidc/grants.rs.
    async fn insert_code(&self, code: &CodeRecord) -> StoreResult<()> {
        self.insert_code(code).await
    }

    async fn code(&self, hash: &SecretHash) -> StoreResult<Option<CodeRecord>> {
        self.code(hash).await
    }

    async fn redeem_code(
        &self,
        hash: &SecretHash,
        at: UnixTime,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
    ) -> StoreResult<CodeRedemption> {
        self.redeem_code(hash, at, grant, refresh).await
    }

    async fn revoke_grants_from_code(
        &self,
        hash: &SecretHash,
        at: UnixTime,
        reason: &str,
    ) -> StoreResult<u64> {
        self.revoke_grants_from_code(hash, at, reason).await
    }

    async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>> {
        self.grant(id).await
    }

    async fn refresh_token(&self, hash: &SecretHash) -> StoreResult<Option<RefreshTokenRecord>> {
        self.refresh_token(hash).await
    }

    async fn rotate_refresh_token(
        &self,
        used: &SecretHash,
        at: UnixTime,
        replacement: &RefreshTokenRecord,
    ) -> StoreResult<RefreshRotation> {
        self.rotate_refresh_token(used, at, replacement).await
    }

    async fn revoke_grant(&self, id: &GrantId, at: UnixTime, reason: &str) -> StoreResult<()> {
        self.revoke_grant(id, at, reason).await
    }

    async fn delete_expired(&self, before: UnixTime) -> StoreResult<u64> {
        self.delete_expired(before).await
    }
}
