//! The storage port of the OIDC provider. certgate-store implements it on SQLite and
//! PostgreSQL; one suite runs against both (crates/certgate-store/tests/oidc_suite.rs).
//!
//! Every method is one transaction. The single-use rules are the store's to enforce, because
//! only the database sees concurrent requests from several nodes: `redeem_code` and
//! `rotate_refresh_token` mark the secret used with a conditional update (`... WHERE used_at IS
//! NULL`) and act on the number of rows it changed, so of two concurrent redemptions exactly
//! one succeeds.

use std::future::Future;

use certgate_core::audit::AuditEvent;
use certgate_core::store::StoreResult;
use certgate_pki::UnixTime;

use crate::client::{Client, ClientId};
use crate::grant::{
    CodeRecord, CodeRedemption, GrantId, GrantRecord, RefreshRotation, RefreshTokenRecord,
};
use crate::secret::SecretHash;
use crate::signing_key::{KeyRotation, SigningKeyRecord};

/// What the provider keeps: signing keys, clients, authorization codes, grants and refresh tokens.
/// Secrets are stored and looked up only by their [`SecretHash`].
pub trait OidcStore: Send + Sync + 'static {
    // ---- Signing keys ---------------------------------------------------------------------
    /// Every stored key, whatever its state, oldest first.
    fn signing_keys(&self) -> impl Future<Output = StoreResult<Vec<SigningKeyRecord>>> + Send;
    /// Stores the first Current and Next keys with `audit`. `Conflict` when a Current or Next
    /// key already exists (another node was first: reload).
    fn insert_initial_signing_keys(
        &self,
        keys: &[SigningKeyRecord],
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Applies a rotation with `audit`, all or nothing. `Conflict` when the Current or Next key
    /// is no longer the one the rotation was planned on (a concurrent rotation).
    fn rotate_signing_keys(
        &self,
        rotation: &KeyRotation,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    // ---- Clients --------------------------------------------------------------------------
    /// `Conflict` when the client ID is taken.
    fn insert_client(
        &self,
        client: &Client,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The client with this ID, if registered.
    fn client(&self, id: &ClientId) -> impl Future<Output = StoreResult<Option<Client>>> + Send;
    /// Every registered client, by client ID.
    fn clients(&self) -> impl Future<Output = StoreResult<Vec<Client>>> + Send;
    /// Removes the client with its codes, grants and refresh tokens. `NotFound` when absent.
    fn delete_client(
        &self,
        id: &ClientId,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    // ---- Authorization codes --------------------------------------------------------------
    /// Stores a freshly issued code (unused).
    fn insert_code(&self, code: &CodeRecord) -> impl Future<Output = StoreResult<()>> + Send;
    /// The code with this hash, used or not; the caller checks `used_at` and expiry.
    fn code(
        &self,
        hash: &SecretHash,
    ) -> impl Future<Output = StoreResult<Option<CodeRecord>>> + Send;
    /// Marks the code used at `at` and stores `grant` (and `refresh`) — only if the code was
    /// unused. If it was used, stores nothing, revokes the grants made from it
    /// (`code-reused`) and answers `AlreadyUsed`. `NotFound` when there is no such code.
    fn redeem_code(
        &self,
        hash: &SecretHash,
        at: UnixTime,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
    ) -> impl Future<Output = StoreResult<CodeRedemption>> + Send;
    /// Revokes every grant made from the code; returns how many were live.
    fn revoke_grants_from_code(
        &self,
        hash: &SecretHash,
        at: UnixTime,
        reason: &str,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    // ---- Grants and refresh tokens --------------------------------------------------------
    /// The grant with this ID, revoked or not.
    fn grant(&self, id: &GrantId) -> impl Future<Output = StoreResult<Option<GrantRecord>>> + Send;
    /// The refresh token with this hash, used or not.
    fn refresh_token(
        &self,
        hash: &SecretHash,
    ) -> impl Future<Output = StoreResult<Option<RefreshTokenRecord>>> + Send;
    /// Marks `used` used at `at` and stores `replacement` — only if `used` was unused. If it
    /// was used, stores nothing, revokes its grant (`refresh-token-reused`) and answers
    /// `AlreadyUsed`. `NotFound` when there is no such token.
    fn rotate_refresh_token(
        &self,
        used: &SecretHash,
        at: UnixTime,
        replacement: &RefreshTokenRecord,
    ) -> impl Future<Output = StoreResult<RefreshRotation>> + Send;
    /// Revokes a grant (a no-op when it already is). `NotFound` when absent.
    fn revoke_grant(
        &self,
        id: &GrantId,
        at: UnixTime,
        reason: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Deletes codes and grants (with their refresh tokens) that expired before `before`;
    /// returns how many rows went.
    fn delete_expired(&self, before: UnixTime) -> impl Future<Output = StoreResult<u64>> + Send;
}
