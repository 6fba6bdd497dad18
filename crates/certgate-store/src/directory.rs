//! The directory on SQL ([`UserStore`], [`BindingRuleStore`], [`StrengthRuleStore`]): users
//! with their multi-valued attributes in child tables, binding rules, strength rules and the
//! directory settings.
//!
//! A user is read in one snapshot (REPEATABLE READ on PostgreSQL; a read transaction on
//! SQLite in WAL mode), so a concurrent update never shows a user half old and half new.

use std::collections::HashMap;

use certgate_core::audit::AuditEvent;
use certgate_core::binding::{BindingPolicy, BindingRule, BindingRuleStore};
use certgate_core::directory::{
    certificate_user_id_key, fold_case, proxy_address_part, Affinity, CertificateField, Upn, User,
    UserAttribute, UserId, UserLookup, UserOrigin, UserStore,
};
use certgate_core::store::{StoreError, StoreResult};
use certgate_core::strength::{
    IssuerSelector, Strength, StrengthRule, StrengthRuleId, StrengthRuleSpec, StrengthRuleStore,
};
use certgate_pki::UnixTime;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Connection, Row};

use crate::{bump_generation, corrupt, flag, translate, unavailable, Backend, SqlStore};

const USER_COLUMNS: &str = "id, upn, immutable_id, display_name, mail, enabled, \
     sts_refresh_tokens_valid_from, created_at, origin, source_dn, source_missing_since";

/// Which users to read: a condition on `users` with at most one text parameter (`$1`).
struct Selection {
    condition: &'static str,
    value: Option<String>,
}

impl Selection {
    fn all() -> Selection {
        Selection {
            condition: "1 = 1",
            value: None,
        }
    }
    fn with(condition: &'static str, value: String) -> Selection {
        Selection {
            condition,
            value: Some(value),
        }
    }
    fn by_attribute(attribute: UserAttribute, value: &str) -> Selection {
        match attribute {
            UserAttribute::UserPrincipalName => Selection::with("upn_lower = $1", fold_case(value)),
            UserAttribute::ProxyAddresses => Selection::with(
                "id IN (SELECT user_id FROM user_proxy_addresses WHERE address_lower = $1)",
                fold_case(value),
            ),
            UserAttribute::CertificateUserIds => Selection::with(
                "id IN (SELECT user_id FROM user_certificate_user_ids WHERE value_key = $1)",
                certificate_user_id_key(value),
            ),
        }
    }
}

async fn fetch(
    conn: &mut AnyConnection,
    sql: String,
    value: Option<&str>,
) -> StoreResult<Vec<AnyRow>> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    if let Some(value) = value {
        query = query.bind(value.to_owned());
    }
    query.fetch_all(conn).await.map_err(unavailable)
}

/// The values of one child table, per user id, in position order.
async fn children(
    conn: &mut AnyConnection,
    table: &str,
    column: &str,
    selection: &Selection,
) -> StoreResult<HashMap<String, Vec<String>>> {
    let rows = fetch(
        conn,
        format!(
            "SELECT user_id, {column} AS value FROM {table} \
             WHERE user_id IN (SELECT id FROM users WHERE {}) ORDER BY user_id, position",
            selection.condition
        ),
        selection.value.as_deref(),
    )
    .await?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        let get = |e: sqlx::Error| corrupt(format!("{table}: {e}"));
        let user_id: String = row.try_get("user_id").map_err(get)?;
        let value: String = row.try_get("value").map_err(get)?;
        out.entry(user_id).or_default().push(value);
    }
    Ok(out)
}

fn user_from_row(row: &AnyRow) -> StoreResult<User> {
    let get = |e: sqlx::Error| corrupt(format!("users: {e}"));
    let id: String = row.try_get("id").map_err(get)?;
    let upn: String = row.try_get("upn").map_err(get)?;
    Ok(User {
        id: UserId::parse(&id).ok_or_else(|| corrupt(format!("user id {id}")))?,
        upn: Upn::parse(&upn).map_err(|_| corrupt(format!("UPN {upn}")))?,
        immutable_id: row.try_get("immutable_id").map_err(get)?,
        display_name: row.try_get("display_name").map_err(get)?,
        mail: row.try_get("mail").map_err(get)?,
        proxy_addresses: Vec::new(),
        certificate_user_ids: Vec::new(),
        enabled: flag(row, "enabled").map_err(get)?,
        groups: Vec::new(),
        sts_refresh_tokens_valid_from: row
            .try_get::<Option<i64>, _>("sts_refresh_tokens_valid_from")
            .map_err(get)?
            .map(UnixTime),
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
        origin: origin_from_row(row, &id)?,
    })
}

fn origin_from_row(row: &AnyRow, id: &str) -> StoreResult<UserOrigin> {
    let get = |e: sqlx::Error| corrupt(format!("users: {e}"));
    let origin: String = row.try_get("origin").map_err(get)?;
    let dn: Option<String> = row.try_get("source_dn").map_err(get)?;
    let missing_since: Option<i64> = row.try_get("source_missing_since").map_err(get)?;
    match (origin.as_str(), dn) {
        ("local", None) if missing_since.is_none() => Ok(UserOrigin::Local),
        ("directory", Some(dn)) => Ok(UserOrigin::Directory {
            dn,
            missing_since: missing_since.map(UnixTime),
            // Filled from user_directory_groups with the other child rows.
            groups: Vec::new(),
        }),
        // Reading a half-described origin as local would let a sync skip or a person edit a
        // synchronised user: refuse it instead.
        _ => Err(corrupt(format!("the origin of user {id}"))),
    }
}

/// The origin's columns: `origin`, `source_dn`, `source_missing_since`.
fn origin_columns(origin: &UserOrigin) -> (&'static str, Option<&str>, Option<i64>) {
    match origin {
        UserOrigin::Local => ("local", None, None),
        UserOrigin::Directory {
            dn, missing_since, ..
        } => ("directory", Some(dn.as_str()), missing_since.map(|t| t.0)),
    }
}

async fn insert_children(conn: &mut AnyConnection, user: &User) -> StoreResult<()> {
    for (position, proxy) in user.proxy_addresses.iter().enumerate() {
        sqlx::query(
            "INSERT INTO user_proxy_addresses (user_id, position, proxy_address, \
             proxy_address_lower, address_lower) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.id.as_str())
        .bind(position as i64)
        .bind(proxy.as_str())
        .bind(fold_case(proxy))
        .bind(fold_case(proxy_address_part(proxy)))
        .execute(&mut *conn)
        .await
        .map_err(|e| translate(&format!("the proxy address {proxy}"), e))?;
    }
    for (position, value) in user.certificate_user_ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO user_certificate_user_ids (user_id, position, value, value_key) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user.id.as_str())
        .bind(position as i64)
        .bind(value.as_str())
        .bind(certificate_user_id_key(value))
        .execute(&mut *conn)
        .await
        .map_err(|e| translate(&format!("the certificateUserIds value {value}"), e))?;
    }
    for (position, group) in user.groups.iter().enumerate() {
        sqlx::query("INSERT INTO user_groups (user_id, position, group_name) VALUES ($1, $2, $3)")
            .bind(user.id.as_str())
            .bind(position as i64)
            .bind(group.as_str())
            .execute(&mut *conn)
            .await
            .map_err(unavailable)?;
    }
    for (position, group) in user.origin.directory_groups().iter().enumerate() {
        sqlx::query(
            "INSERT INTO user_directory_groups (user_id, position, group_name) \
             VALUES ($1, $2, $3)",
        )
        .bind(user.id.as_str())
        .bind(position as i64)
        .bind(group.as_str())
        .execute(&mut *conn)
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

async fn delete_children(conn: &mut AnyConnection, id: &UserId) -> StoreResult<()> {
    crate::delete_dependants(
        conn,
        &[
            "user_proxy_addresses",
            "user_certificate_user_ids",
            "user_groups",
            "user_directory_groups",
        ],
        "user_id",
        id.as_str(),
    )
    .await
}

/// Audit, generation, commit: the end of every directory write.
async fn finish(mut tx: sqlx::Transaction<'_, sqlx::Any>, audit: &AuditEvent) -> StoreResult<()> {
    crate::insert_audit(&mut tx, audit).await?;
    bump_generation(&mut tx).await.map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)
}

fn user_what(user: &User) -> String {
    format!(
        "a user with the UPN {} or the immutable ID {}",
        user.upn, user.immutable_id
    )
}

fn binding_rule_from_row(row: &AnyRow) -> StoreResult<BindingRule> {
    let get = |e: sqlx::Error| corrupt(format!("binding_rules: {e}"));
    let priority: i64 = row.try_get("priority").map_err(get)?;
    let field: String = row.try_get("certificate_field").map_err(get)?;
    let attribute: String = row.try_get("user_attribute").map_err(get)?;
    Ok(BindingRule::new(
        u32::try_from(priority).map_err(|_| corrupt(format!("binding priority {priority}")))?,
        CertificateField::parse(&field)
            .ok_or_else(|| corrupt(format!("certificate field {field}")))?,
        UserAttribute::parse(&attribute)
            .ok_or_else(|| corrupt(format!("user attribute {attribute}")))?,
    ))
}

fn strength_rule_from_row(row: &AnyRow) -> StoreResult<StrengthRule> {
    let get = |e: sqlx::Error| corrupt(format!("strength_rules: {e}"));
    let ski: Option<String> = row.try_get("issuer_ski").map_err(get)?;
    let subject: Option<String> = row.try_get("issuer_subject").map_err(get)?;
    let strength: String = row.try_get("strength").map_err(get)?;
    Ok(StrengthRule {
        id: StrengthRuleId(row.try_get("id").map_err(get)?),
        spec: StrengthRuleSpec {
            issuer: match (ski, subject) {
                (Some(ski), _) => Some(IssuerSelector::SubjectKeyIdentifier(ski)),
                (None, Some(subject)) => Some(IssuerSelector::Subject(subject)),
                (None, None) => None,
            },
            policy_oid: row.try_get("policy_oid").map_err(get)?,
            strength: Strength::parse(&strength)
                .ok_or_else(|| corrupt(format!("strength {strength}")))?,
        },
        created_at: UnixTime(row.try_get("created_at").map_err(get)?),
    })
}

impl SqlStore {
    /// Users matching `selection`, ordered by UPN, read in one snapshot.
    async fn load_users(&self, selection: Selection) -> StoreResult<Vec<User>> {
        let mut conn = self.pool().acquire().await.map_err(unavailable)?;
        let mut tx = match self.backend() {
            Backend::Postgres => conn
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
                .map_err(unavailable)?,
            Backend::Sqlite => conn.begin().await.map_err(unavailable)?,
        };
        let rows = fetch(
            &mut tx,
            format!(
                "SELECT {USER_COLUMNS} FROM users WHERE {} ORDER BY upn_lower",
                selection.condition
            ),
            selection.value.as_deref(),
        )
        .await?;
        let mut users = rows
            .iter()
            .map(user_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        if !users.is_empty() {
            let mut proxies =
                children(&mut tx, "user_proxy_addresses", "proxy_address", &selection).await?;
            let mut ids =
                children(&mut tx, "user_certificate_user_ids", "value", &selection).await?;
            let mut groups = children(&mut tx, "user_groups", "group_name", &selection).await?;
            let mut directory_groups =
                children(&mut tx, "user_directory_groups", "group_name", &selection).await?;
            for user in &mut users {
                let id = user.id.as_str();
                user.proxy_addresses = proxies.remove(id).unwrap_or_default();
                user.certificate_user_ids = ids.remove(id).unwrap_or_default();
                user.groups = groups.remove(id).unwrap_or_default();
                let listed = directory_groups.remove(id).unwrap_or_default();
                match &mut user.origin {
                    UserOrigin::Directory { groups, .. } => *groups = listed,
                    // Directory groups on a local user: a row written by something other than
                    // certgate, which must not give a hand-made user directory memberships.
                    UserOrigin::Local if !listed.is_empty() => {
                        return Err(corrupt(format!("the directory groups of user {id}")));
                    }
                    UserOrigin::Local => {}
                }
            }
        }
        tx.rollback().await.map_err(unavailable)?;
        Ok(users)
    }

    async fn load_user(&self, selection: Selection) -> StoreResult<Option<User>> {
        Ok(self.load_users(selection).await?.into_iter().next())
    }
}

impl UserLookup for SqlStore {
    async fn find_users(&self, attribute: UserAttribute, value: &str) -> StoreResult<Vec<User>> {
        self.load_users(Selection::by_attribute(attribute, value))
            .await
    }
}

impl UserStore for SqlStore {
    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.load_users(Selection::all()).await
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>> {
        self.load_user(Selection::with("id = $1", id.to_string()))
            .await
    }

    async fn user_by_upn(&self, upn: &str) -> StoreResult<Option<User>> {
        self.load_user(Selection::by_attribute(
            UserAttribute::UserPrincipalName,
            upn,
        ))
        .await
    }

    async fn user_by_immutable_id(&self, immutable_id: &str) -> StoreResult<Option<User>> {
        self.load_user(Selection::with(
            "immutable_id = $1",
            immutable_id.to_owned(),
        ))
        .await
    }

    async fn insert_user(&self, user: &User, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        let (origin, source_dn, source_missing_since) = origin_columns(&user.origin);
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users ({USER_COLUMNS}, upn_lower) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        )))
        .bind(user.id.as_str())
        .bind(user.upn.as_str())
        .bind(&user.immutable_id)
        .bind(&user.display_name)
        .bind(&user.mail)
        .bind(user.enabled)
        .bind(user.sts_refresh_tokens_valid_from.map(|t| t.0))
        .bind(user.created_at.0)
        .bind(origin)
        .bind(source_dn)
        .bind(source_missing_since)
        .bind(fold_case(user.upn.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(&user_what(user), e))?;
        insert_children(&mut tx, user).await?;
        finish(tx, audit).await
    }

    async fn update_user(&self, user: &User, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        let (origin, source_dn, source_missing_since) = origin_columns(&user.origin);
        let updated = sqlx::query(
            "UPDATE users SET upn = $1, upn_lower = $2, immutable_id = $3, display_name = $4, \
             mail = $5, enabled = $6, origin = $7, source_dn = $8, source_missing_since = $9 \
             WHERE id = $10",
        )
        .bind(user.upn.as_str())
        .bind(fold_case(user.upn.as_str()))
        .bind(&user.immutable_id)
        .bind(&user.display_name)
        .bind(&user.mail)
        .bind(user.enabled)
        .bind(origin)
        .bind(source_dn)
        .bind(source_missing_since)
        .bind(user.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| translate(&user_what(user), e))?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::NotFound {
                what: format!("user {}", user.id),
            });
        }
        delete_children(&mut tx, &user.id).await?;
        insert_children(&mut tx, user).await?;
        finish(tx, audit).await
    }

    async fn delete_user(&self, id: &UserId, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        delete_children(&mut tx, id).await?;
        crate::change_one(
            &mut tx,
            sqlx::query("DELETE FROM users WHERE id = $1").bind(id.as_str()),
            || format!("user {id}"),
        )
        .await?;
        finish(tx, audit).await
    }

    async fn set_sts_refresh_tokens_valid_from(
        &self,
        id: &UserId,
        valid_from: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        crate::change_one(
            &mut tx,
            sqlx::query("UPDATE users SET sts_refresh_tokens_valid_from = $1 WHERE id = $2")
                .bind(valid_from.0)
                .bind(id.as_str()),
            || format!("user {id}"),
        )
        .await?;
        finish(tx, audit).await
    }
}

impl BindingRuleStore for SqlStore {
    async fn binding_policy(&self) -> StoreResult<BindingPolicy> {
        let mut conn = self.pool().acquire().await.map_err(unavailable)?;
        let rules = sqlx::query(
            "SELECT priority, certificate_field, user_attribute FROM binding_rules \
             ORDER BY priority",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(unavailable)?
        .iter()
        .map(binding_rule_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        let affinity: String =
            sqlx::query("SELECT default_required_affinity FROM directory_settings WHERE id = 1")
                .fetch_one(&mut *conn)
                .await
                .map_err(unavailable)?
                .try_get("default_required_affinity")
                .map_err(|e| corrupt(format!("directory_settings: {e}")))?;
        Ok(BindingPolicy {
            rules,
            default_required_affinity: Affinity::parse(&affinity)
                .ok_or_else(|| corrupt(format!("affinity {affinity}")))?,
        })
    }

    async fn insert_binding_rule(
        &self,
        rule: &BindingRule,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO binding_rules (priority, certificate_field, user_attribute, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(i64::from(rule.priority))
        .bind(rule.certificate_field.as_str())
        .bind(rule.user_attribute.as_str())
        .bind(now.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            translate(
                &format!("a binding rule with priority {}", rule.priority),
                e,
            )
        })?;
        finish(tx, audit).await
    }

    async fn delete_binding_rule(&self, priority: u32, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        crate::change_one(
            &mut tx,
            sqlx::query("DELETE FROM binding_rules WHERE priority = $1").bind(i64::from(priority)),
            || format!("binding rule {priority}"),
        )
        .await?;
        finish(tx, audit).await
    }

    async fn set_default_required_affinity(
        &self,
        affinity: Affinity,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        sqlx::query("UPDATE directory_settings SET default_required_affinity = $1 WHERE id = 1")
            .bind(affinity.as_str())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        finish(tx, audit).await
    }
}

impl StrengthRuleStore for SqlStore {
    async fn strength_rules(&self) -> StoreResult<Vec<StrengthRule>> {
        sqlx::query(
            "SELECT id, issuer_ski, issuer_subject, policy_oid, strength, created_at \
             FROM strength_rules ORDER BY id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(unavailable)?
        .iter()
        .map(strength_rule_from_row)
        .collect()
    }

    async fn insert_strength_rule(
        &self,
        rule: &StrengthRuleSpec,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> StoreResult<StrengthRule> {
        let (ski, subject) = match &rule.issuer {
            Some(IssuerSelector::SubjectKeyIdentifier(ski)) => (Some(ski.as_str()), None),
            Some(IssuerSelector::Subject(subject)) => (None, Some(subject.as_str())),
            None => (None, None),
        };
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        let id: i64 = sqlx::query(
            "INSERT INTO strength_rules (issuer_ski, issuer_subject, policy_oid, strength, \
             created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(ski)
        .bind(subject)
        .bind(rule.policy_oid.as_deref())
        .bind(rule.strength.as_str())
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| translate("a strength rule", e))?
        .try_get("id")
        .map_err(|e| corrupt(format!("strength_rules: {e}")))?;
        finish(tx, audit).await?;
        Ok(StrengthRule {
            id: StrengthRuleId(id),
            spec: rule.clone(),
            created_at: now,
        })
    }

    async fn delete_strength_rule(
        &self,
        id: StrengthRuleId,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.pool().begin().await.map_err(unavailable)?;
        crate::change_one(
            &mut tx,
            sqlx::query("DELETE FROM strength_rules WHERE id = $1").bind(id.0),
            || format!("strength rule {id}"),
        )
        .await?;
        finish(tx, audit).await
    }
}
