//! The directory: users with the attributes certificate sign-in and federation read
//! (Microsoft Graph's userPrincipalName, onPremisesImmutableId, displayName, mail,
//! proxyAddresses, authorizationInfo.certificateUserIds, accountEnabled, and the per-user
//! token epoch StsRefreshTokensValidFrom), the ports that keep them with the binding and
//! strength rules ([`UserStore`], [`BindingRuleStore`], [`StrengthRuleStore`];
//! [`DirectoryStore`] is all three), and the services that change them.
//!
//! Every change is one transaction that also appends its audit event and bumps the store's
//! generation, so other nodes see it.
//!
//! - `users`: what a user is ([`User`], [`UserId`], [`Upn`]) and which attribute values are
//!   valid ([`prepare_user`], the certificateUserIds forms).
//! - `user_service`: finding, adding, changing and removing users, and their token epoch.
//! - `csv_import`: `certgate user import` ([`parse_users_csv`], [`import_users`]).
//! - `binding_rules`, `strength_rules`: the services that change the binding and strength
//!   rules kept with the users.
//! - `error`: [`DirectoryError`].

mod attributes;
mod csv_import;
mod error;
mod user_index;
mod user_service;
mod users;

pub use attributes::{
    fold_case, proxy_address_part, Affinity, CertificateField, UserAttribute, UserLookup,
};
pub use csv_import::{import_users, parse_users_csv, CsvUserRow, ImportedRow, IMPORT_COLUMNS};
pub use error::DirectoryError;
pub use user_index::{UserIndex, MAX_INDEXED_USERS};
pub use user_service::{
    add_user, find_user, list_users, remove_user, revoke_sessions,
    set_sts_refresh_tokens_valid_from, set_user,
};
pub(crate) use user_service::{add_user_with_origin, set_user_with_origin};
pub use users::{
    certificate_user_id_key, normalize_certificate_user_id, normalize_certificate_user_ids,
    prepare_user, Upn, User, UserDraft, UserId, UserOrigin, MAX_CERTIFICATE_USER_IDS,
    MAX_CERTIFICATE_USER_ID_CHARS, MAX_IMMUTABLE_ID_CHARS, MAX_TEXT_CHARS, MAX_UPN_CHARS,
};

use std::future::Future;

use certgate_pki::UnixTime;

use crate::audit::AuditEvent;
use crate::store::StoreResult;

/// The users of the directory.
///
/// Every write is one transaction that also appends `audit` and bumps the generation.
/// Uniqueness (UPN case-insensitively, immutable ID, proxy addresses case-insensitively,
/// certificateUserIds exactly) is enforced by the store itself, so two nodes writing at once
/// cannot both win: the loser gets `StoreError::Conflict`.
pub trait UserStore: UserLookup + 'static {
    /// Ordered by UPN.
    fn list_users(&self) -> impl Future<Output = StoreResult<Vec<User>>> + Send;
    /// The user with this object ID, if any.
    fn user_by_id(&self, id: &UserId) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// Case-insensitive.
    fn user_by_upn(&self, upn: &str) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// The user with this onPremisesImmutableId (exact match), if any.
    fn user_by_immutable_id(
        &self,
        immutable_id: &str,
    ) -> impl Future<Output = StoreResult<Option<User>>> + Send;
    /// `Conflict` when a unique value is taken.
    fn insert_user(
        &self,
        user: &User,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Replaces every attribute but the id, created_at and the token epoch. `NotFound`,
    /// `Conflict`.
    fn update_user(
        &self,
        user: &User,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// `NotFound` when there is no such user.
    fn delete_user(
        &self,
        id: &UserId,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Sets StsRefreshTokensValidFrom. `NotFound` when there is no such user.
    fn set_sts_refresh_tokens_valid_from(
        &self,
        id: &UserId,
        valid_from: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
