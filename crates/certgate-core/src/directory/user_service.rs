//! The user services: list and find users, add, change and remove them, and move their token
//! epoch (StsRefreshTokensValidFrom). Each write refuses values another user already has and
//! records what changed in the audit log.

use crate::directory::{fold_case, proxy_address_part, UserAttribute};
use std::future::Future;

use certgate_pki::UnixTime;

use super::{prepare_user, DirectoryError, User, UserDraft, UserId, UserOrigin, UserStore};
use crate::audit::AuditEvent;
use crate::clock::rfc3339;
use crate::store::{StoreError, StoreResult};

/// All users, ordered by UPN.
pub async fn list_users<S: UserStore>(store: &S) -> Result<Vec<User>, DirectoryError> {
    Ok(store.list_users().await?)
}

/// A user by object ID or UPN (case-insensitive).
pub async fn find_user<S: UserStore>(store: &S, key: &str) -> Result<User, DirectoryError> {
    let found = match UserId::parse(key) {
        Some(id) => store.user_by_id(&id).await?,
        None => None,
    };
    let found = match found {
        Some(user) => Some(user),
        None => store.user_by_upn(key.trim()).await?,
    };
    found.ok_or_else(|| DirectoryError::UserNotFound {
        key: key.to_owned(),
    })
}

/// Adds a user: checks the draft, refuses a taken UPN, immutable ID, proxy address or
/// certificateUserIds value (naming the user who has it), then writes.
pub async fn add_user<S: UserStore>(
    store: &S,
    draft: UserDraft,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    add_user_with_origin(store, draft, UserOrigin::Local, now, actor).await
}

/// [`add_user`] for a user the directory source brings: the same checks and audit event, and
/// the origin written with the user in the same transaction (a user added without it would be
/// a local user holding the entry's immutable ID, and every later sync would skip the entry).
pub(crate) async fn add_user_with_origin<S: UserStore>(
    store: &S,
    draft: UserDraft,
    origin: UserOrigin,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let user = User {
        origin,
        ..prepare_user(draft, UserId::generate()?, now, None)?
    };
    check_unique(store, &user).await?;
    let audit = AuditEvent::new(
        now,
        actor,
        "user.add",
        user_target(&user),
        "ok",
        describe(&user),
    );
    write_checked(store, &user, store.insert_user(&user, &audit)).await?;
    Ok(user)
}

/// Changes a user by hand: `change` gets the current attributes and returns the new ones. A
/// user synchronised from the directory source keeps the attributes that come from the
/// directory (`user-attribute-from-directory`, nothing written); its groups, which certgate
/// alone keeps, can change.
pub async fn set_user<S: UserStore>(
    store: &S,
    key: &str,
    change: impl FnOnce(UserDraft) -> UserDraft,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    set_user_checked(
        store,
        key,
        change,
        |current, changed| match sourced_attribute_changed(current, changed) {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        },
        |current| current.origin.clone(),
        now,
        actor,
    )
    .await
}

/// The refusal of a hand edit that changes what the directory source owns, if it does.
fn sourced_attribute_changed(current: &User, changed: &User) -> Option<DirectoryError> {
    let UserOrigin::Directory { dn, .. } = &current.origin else {
        return None;
    };
    // Multi-valued attributes are sets: a new order is not a change.
    let sorted = |values: &[String]| {
        let mut values = values.to_vec();
        values.sort();
        values
    };
    let touched: Vec<&str> = [
        (
            "userPrincipalName",
            current.upn.as_str() != changed.upn.as_str(),
        ),
        (
            "onPremisesImmutableId",
            current.immutable_id != changed.immutable_id,
        ),
        ("displayName", current.display_name != changed.display_name),
        ("mail", current.mail != changed.mail),
        (
            "proxyAddresses",
            sorted(&current.proxy_addresses) != sorted(&changed.proxy_addresses),
        ),
        (
            "certificateUserIds",
            sorted(&current.certificate_user_ids) != sorted(&changed.certificate_user_ids),
        ),
        ("accountEnabled", current.enabled != changed.enabled),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| name)
    .collect();
    (!touched.is_empty()).then(|| DirectoryError::SourcedAttributeChanged {
        upn: current.upn.to_string(),
        dn: dn.clone(),
        attributes: touched.join(", "),
    })
}

/// [`set_user`] that also sets where the user comes from (`origin` gets the current user):
/// how a sync writes a synchronised user, its origin changing in the same transaction as its
/// attributes.
pub(crate) async fn set_user_with_origin<S: UserStore>(
    store: &S,
    key: &str,
    change: impl FnOnce(UserDraft) -> UserDraft,
    origin: impl FnOnce(&User) -> UserOrigin,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    set_user_checked(store, key, change, |_, _| Ok(()), origin, now, actor).await
}

/// The one write path of a user change: `check` sees the current and the new user (checked
/// and normalized) and can refuse the change before anything is written.
async fn set_user_checked<S: UserStore>(
    store: &S,
    key: &str,
    change: impl FnOnce(UserDraft) -> UserDraft,
    check: impl FnOnce(&User, &User) -> Result<(), DirectoryError>,
    origin: impl FnOnce(&User) -> UserOrigin,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let current = find_user(store, key).await?;
    let draft = change(UserDraft::from(&current));
    let user = User {
        origin: origin(&current),
        ..prepare_user(
            draft,
            current.id.clone(),
            current.created_at,
            current.sts_refresh_tokens_valid_from,
        )?
    };
    check(&current, &user)?;
    check_unique(store, &user).await?;
    let audit = AuditEvent::new(
        now,
        actor,
        "user.set",
        user_target(&user),
        "ok",
        changes(&current, &user),
    );
    match write_checked(store, &user, store.update_user(&user, &audit)).await {
        Err(DirectoryError::Store(StoreError::NotFound { .. })) => {
            return Err(DirectoryError::UserNotFound {
                key: key.to_owned(),
            })
        }
        other => other?,
    }
    Ok(user)
}

/// Removes a user.
pub async fn remove_user<S: UserStore>(
    store: &S,
    key: &str,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let user = find_user(store, key).await?;
    let audit = AuditEvent::new(
        now,
        actor,
        "user.remove",
        user_target(&user),
        "ok",
        describe(&user),
    );
    match store.delete_user(&user.id, &audit).await {
        Err(StoreError::NotFound { .. }) => Err(DirectoryError::UserNotFound {
            key: key.to_owned(),
        }),
        Err(other) => Err(other.into()),
        Ok(()) => Ok(user),
    }
}

/// `Set-MsolUser -StsRefreshTokensValidFrom DATE`, exactly as Microsoft documents it: a date
/// that is not in the future is refused and nothing changes; a future date sets the value to
/// *now* (not to the date given).
pub async fn set_sts_refresh_tokens_valid_from<S: UserStore>(
    store: &S,
    key: &str,
    date: UnixTime,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let user = find_user(store, key).await?;
    if date <= now {
        return Err(DirectoryError::StsDateNotInFuture { date, now });
    }
    store_sts(
        store,
        user,
        now,
        actor,
        "user.set-sts-refresh-tokens-valid-from",
        format!("requested {}, stored the current time", rfc3339(date)),
    )
    .await
}

/// Revokes the user's refresh tokens and sessions now (StsRefreshTokensValidFrom = now).
pub async fn revoke_sessions<S: UserStore>(
    store: &S,
    key: &str,
    now: UnixTime,
    actor: &str,
) -> Result<User, DirectoryError> {
    let user = find_user(store, key).await?;
    store_sts(
        store,
        user,
        now,
        actor,
        "user.revoke-sessions",
        "every refresh token and session issued until now is revoked".into(),
    )
    .await
}

async fn store_sts<S: UserStore>(
    store: &S,
    user: User,
    now: UnixTime,
    actor: &str,
    action: &str,
    detail: String,
) -> Result<User, DirectoryError> {
    let audit = AuditEvent::new(
        now,
        actor,
        action,
        user_target(&user),
        "ok",
        format!("StsRefreshTokensValidFrom = {}: {detail}", rfc3339(now)),
    );
    match store
        .set_sts_refresh_tokens_valid_from(&user.id, now, &audit)
        .await
    {
        Err(StoreError::NotFound { .. }) => Err(DirectoryError::UserNotFound {
            key: user.upn.to_string(),
        }),
        Err(other) => Err(other.into()),
        Ok(()) => Ok(User {
            sts_refresh_tokens_valid_from: Some(now),
            ..user
        }),
    }
}

/// Runs a write; a `Conflict` (another writer took a unique value between the check and the
/// write) is reported as precisely as the check would have.
async fn write_checked<S: UserStore>(
    store: &S,
    user: &User,
    write: impl Future<Output = StoreResult<()>>,
) -> Result<(), DirectoryError> {
    match write.await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict { what }) => {
            check_unique(store, user).await?;
            Err(StoreError::Conflict { what }.into())
        }
        Err(other) => Err(other.into()),
    }
}

/// Refuses values that another user already has.
async fn check_unique<S: UserStore>(store: &S, user: &User) -> Result<(), DirectoryError> {
    let others = |users: Vec<User>| users.into_iter().filter(|other| other.id != user.id);
    if let Some(other) = others(
        store
            .find_users(UserAttribute::UserPrincipalName, user.upn.as_str())
            .await?,
    )
    .find(|other| fold_case(other.upn.as_str()) == fold_case(user.upn.as_str()))
    {
        return Err(DirectoryError::UpnTaken {
            upn: user.upn.to_string(),
            existing: other.upn.to_string(),
        });
    }
    if let Some(other) = store
        .user_by_immutable_id(&user.immutable_id)
        .await?
        .filter(|other| other.id != user.id)
    {
        return Err(DirectoryError::ImmutableIdTaken {
            value: user.immutable_id.clone(),
            other: other.upn.to_string(),
        });
    }
    for proxy in &user.proxy_addresses {
        let address = proxy_address_part(proxy);
        if let Some(other) = others(
            store
                .find_users(UserAttribute::ProxyAddresses, address)
                .await?,
        )
        .find(|other| {
            other
                .proxy_addresses
                .iter()
                .any(|theirs| fold_case(theirs) == fold_case(proxy))
        }) {
            return Err(DirectoryError::ProxyAddressTaken {
                value: proxy.clone(),
                other: other.upn.to_string(),
            });
        }
    }
    for value in &user.certificate_user_ids {
        if let Some(other) = others(
            store
                .find_users(UserAttribute::CertificateUserIds, value)
                .await?,
        )
        .find(|other| other.certificate_user_ids.contains(value))
        {
            return Err(DirectoryError::CertificateUserIdTaken {
                value: value.clone(),
                other: other.upn.to_string(),
            });
        }
    }
    Ok(())
}

fn user_target(user: &User) -> String {
    format!("user {} ({})", user.upn, user.id)
}

fn describe(user: &User) -> String {
    format!(
        "displayName \"{}\", immutableId {}, mail {}, enabled {}, proxyAddresses [{}], certificateUserIds [{}], groups [{}], directoryGroups [{}], origin {}",
        user.display_name,
        user.immutable_id,
        user.mail.as_deref().unwrap_or("none"),
        user.enabled,
        user.proxy_addresses.join(", "),
        user.certificate_user_ids.join(", "),
        user.groups.join(", "),
        user.origin.directory_groups().join(", "),
        describe_origin(&user.origin),
    )
}

fn describe_origin(origin: &UserOrigin) -> String {
    match origin {
        UserOrigin::Local => "local".into(),
        UserOrigin::Directory {
            dn,
            missing_since: None,
            ..
        } => format!("directory entry {dn}"),
        UserOrigin::Directory {
            dn,
            missing_since: Some(since),
            ..
        } => format!("directory entry {dn}, missing since {}", rfc3339(*since)),
    }
}

/// What changed, for the audit log.
fn changes(before: &User, after: &User) -> String {
    let mut out = Vec::new();
    let mut diff = |name: &str, old: String, new: String| {
        if old != new {
            out.push(format!("{name}: {old} -> {new}"));
        }
    };
    diff("upn", before.upn.to_string(), after.upn.to_string());
    diff(
        "immutableId",
        before.immutable_id.clone(),
        after.immutable_id.clone(),
    );
    diff(
        "displayName",
        before.display_name.clone(),
        after.display_name.clone(),
    );
    diff(
        "mail",
        format!("{:?}", before.mail),
        format!("{:?}", after.mail),
    );
    diff(
        "enabled",
        before.enabled.to_string(),
        after.enabled.to_string(),
    );
    diff(
        "proxyAddresses",
        format!("{:?}", before.proxy_addresses),
        format!("{:?}", after.proxy_addresses),
    );
    diff(
        "certificateUserIds",
        format!("{:?}", before.certificate_user_ids),
        format!("{:?}", after.certificate_user_ids),
    );
    diff(
        "groups",
        format!("{:?}", before.groups),
        format!("{:?}", after.groups),
    );
    // Named one by one, so the audit event says which memberships the directory changed.
    let (before_groups, after_groups) = (
        before.origin.directory_groups(),
        after.origin.directory_groups(),
    );
    let joined: Vec<String> = after_groups
        .iter()
        .filter(|group| !before_groups.contains(group))
        .cloned()
        .collect();
    let left: Vec<String> = before_groups
        .iter()
        .filter(|group| !after_groups.contains(group))
        .cloned()
        .collect();
    if !joined.is_empty() || !left.is_empty() {
        out.push(format!(
            "directoryGroups: joined [{}], left [{}]",
            joined.join(", "),
            left.join(", ")
        ));
    }
    let mut diff = |name: &str, old: String, new: String| {
        if old != new {
            out.push(format!("{name}: {old} -> {new}"));
        }
    };
    diff(
        "origin",
        describe_origin(&before.origin),
        describe_origin(&after.origin),
    );
    if out.is_empty() {
        "no change".into()
    } else {
        out.join("; ")
    }
}
