//! The provider service: the issuer's configuration, its keys in memory, the store and the
//! refresh policy, and the operations the HTTP handlers call — one call per endpoint, each a
//! typed request in and a typed response (or a typed error) out.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use certgate_core::audit::AuditEvent;
use certgate_core::key_rollover::{self, RolloverPolicy};
use certgate_core::store::StoreError;
use certgate_pki::{ReasonCode, UnixTime};

use crate::authorize::{
    AuthorizationError, AuthorizationErrorCode, AuthorizationParameters, AuthorizationRequest,
    AuthorizationResponse, ErrorPage, Session, SignInStep,
};
use crate::client::{self, Client, ClientError, ClientId, NewClient, RegisteredClient};
use crate::discovery::{discovery_document, DiscoveryDocument, Endpoints, Issuer};
use crate::grant::{after, CodeRecord, CODE_LIFETIME};
use crate::policy::RefreshPolicy;
use crate::secret::{RandomUnavailable, Secret};
use crate::sign_in::Authentication;
use crate::signing_key::{
    initial_keys, plan_rotation, rollover_policy, JwkSet, KeyError, KeyRing, KeyRotation, KeyState,
    SigningKeyRecord,
};
use crate::store::OidcStore;

/// Audit actor for what the provider does on its own (the first keys).
pub const ACTOR_PROVIDER: &str = "server:oidc";

/// The provider's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The issuer identifier: `iss` of every token and the base of the endpoints.
    pub issuer: Issuer,
    /// The endpoint URLs published in the discovery document.
    pub endpoints: Endpoints,
    /// The longest lifetime of an ID or access token; a retired signing key stays published
    /// this long after its retirement.
    pub max_token_lifetime: Duration,
}

impl ProviderConfig {
    /// Default endpoints under `issuer`; tokens live at most one hour.
    pub fn new(issuer: Issuer) -> ProviderConfig {
        ProviderConfig {
            endpoints: Endpoints::under(&issuer),
            issuer,
            max_token_lifetime: Duration::from_secs(3600),
        }
    }
}

/// Failures of the provider's administrative operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The store failed or refused the change.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A signing key could not be made, opened or rotated.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The client registration was refused.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// No random bytes for a key, secret or ID.
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
}

impl ProviderError {
    /// Every code [`ProviderError::code`] answers with itself; the codes of the store, key
    /// and client errors it wraps are listed by [`StoreError`], [`KeyError`] and
    /// [`ClientError`].
    pub const CODES: &'static [ReasonCode] = &[RandomUnavailable::REASON];

    /// The stable reason code: the wrapped error's own, or `random-unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Store(error) => error.code(),
            ProviderError::Key(error) => error.code(),
            ProviderError::Client(error) => error.code(),
            ProviderError::Random(_) => "random-unavailable",
        }
    }
}

/// The OpenID Connect provider.
pub struct Provider<S, P> {
    pub(crate) config: ProviderConfig,
    pub(crate) store: S,
    pub(crate) policy: P,
    pub(crate) keys: ArcSwap<KeyRing>,
}

impl<S: OidcStore, P: RefreshPolicy> Provider<S, P> {
    /// Loads the signing keys (creating the first Current and Next when there are none; when
    /// another node creates them at the same moment, its keys are used).
    pub async fn open(
        config: ProviderConfig,
        store: S,
        policy: P,
        passphrase: &[u8],
        now: UnixTime,
    ) -> Result<Provider<S, P>, ProviderError> {
        let mut records = store.signing_keys().await?;
        if records.is_empty() {
            let keys = initial_keys(passphrase, now)?;
            let audit = AuditEvent::new(
                now,
                ACTOR_PROVIDER,
                "oidc.keys.create",
                keys[0].kid.as_str(),
                "ok",
                format!(
                    "created the first OIDC signing keys: current {}, next {}",
                    keys[0].kid.as_str(),
                    keys[1].kid.as_str()
                ),
            );
            records = match store.insert_initial_signing_keys(&keys, &audit).await {
                Ok(()) => keys.to_vec(),
                Err(StoreError::Conflict { .. }) => store.signing_keys().await?,
                Err(error) => return Err(error.into()),
            };
        }
        let ring = KeyRing::load(&records, passphrase, config.max_token_lifetime)?;
        Ok(Provider {
            config,
            store,
            policy,
            keys: ArcSwap::from_pointee(ring),
        })
    }

    /// The provider's settings.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// The store the provider reads and writes.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The refresh policy the provider checks grants with.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The discovery document.
    pub fn discovery(&self) -> DiscoveryDocument {
        discovery_document(&self.config.issuer, &self.config.endpoints)
    }

    /// The JWK Set to publish at `now`.
    pub fn jwks(&self, now: UnixTime) -> JwkSet {
        self.keys.load().jwks(now)
    }

    /// The rollover rules of the provider's signing keys (when a rotation is due, how long a
    /// Retired key stays published).
    pub fn rollover_policy(&self) -> RolloverPolicy {
        rollover_policy(self.config.max_token_lifetime)
    }

    /// Whether the stored signing keys are due for rotation at `now` (the Current key has been
    /// Current for [`KEY_ROTATION_PERIOD`](crate::KEY_ROTATION_PERIOD)).
    pub async fn rotation_due(&self, now: UnixTime) -> Result<bool, ProviderError> {
        let records = self.store.signing_keys().await?;
        Ok(self.rollover_policy().rotation_due(&records, now))
    }

    /// The keys in use (for signing in tests and for the admin view).
    pub fn key_ring(&self) -> Arc<KeyRing> {
        self.keys.load_full()
    }

    /// Re-reads the keys from the store (after a rotation by another node). Cheap when nothing
    /// changed: the private key is only opened when the Current key is a different one.
    pub async fn reload_keys(&self, passphrase: &[u8]) -> Result<(), ProviderError> {
        let records = self.store.signing_keys().await?;
        let ring = self.keys.load();
        let unchanged = key_rollover::states(&records) == ring.published_states();
        if !unchanged {
            let ring = KeyRing::load(&records, passphrase, self.config.max_token_lifetime)?;
            self.keys.store(Arc::new(ring));
        }
        Ok(())
    }

    /// Rotates the signing keys: Next becomes Current, a new Next is created, Current is
    /// retired (published until its tokens expire), expired Retired keys are removed. The new
    /// ring is loaded before anything is written, so a passphrase that cannot open the
    /// promoted key changes nothing.
    pub async fn rotate_keys(
        &self,
        passphrase: &[u8],
        now: UnixTime,
        actor: &str,
    ) -> Result<KeyRotation, ProviderError> {
        let records = self.store.signing_keys().await?;
        let new_next = SigningKeyRecord::generate(passphrase, KeyState::Next, now)?;
        let rotation = plan_rotation(&records, new_next, now, self.config.max_token_lifetime)?;
        let after_rotation = rotation.apply_to(&records);
        let ring = KeyRing::load(&after_rotation, passphrase, self.config.max_token_lifetime)?;
        let audit = AuditEvent::new(
            now,
            actor,
            "oidc.keys.rotate",
            rotation.promote.as_str(),
            "ok",
            format!(
                "rotated the OIDC signing keys: {} is current, {} retired, {} next{}",
                rotation.promote.as_str(),
                rotation.retire.as_str(),
                rotation.insert.kid.as_str(),
                if rotation.purge.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; removed expired keys {}",
                        rotation
                            .purge
                            .iter()
                            .map(|kid| kid.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        );
        self.store.rotate_signing_keys(&rotation, &audit).await?;
        self.keys.store(Arc::new(ring));
        Ok(rotation)
    }

    /// Registers a client; the secret of a confidential client is in the result, once.
    pub async fn register_client(
        &self,
        new: NewClient,
        now: UnixTime,
        actor: &str,
    ) -> Result<RegisteredClient, ProviderError> {
        register_client(&self.store, new, self.config.max_token_lifetime, now, actor).await
    }

    /// Removes a client and everything issued to it.
    pub async fn delete_client(
        &self,
        id: &ClientId,
        now: UnixTime,
        actor: &str,
    ) -> Result<(), ProviderError> {
        delete_client(&self.store, id, now, actor).await
    }

    /// The registered client with this ID, if any.
    pub async fn client(&self, id: &ClientId) -> Result<Option<Client>, ProviderError> {
        Ok(self.store.client(id).await?)
    }

    /// The authorization endpoint: validates the request parameters (query or form).
    pub async fn authorize<K: AsRef<str>, V: AsRef<str>>(
        &self,
        pairs: &[(K, V)],
        now: UnixTime,
    ) -> Result<AuthorizationRequest, AuthorizationError> {
        let parameters = AuthorizationParameters::from_pairs(pairs);
        let client_id = parameters.client_id()?;
        let client = self.store.client(&client_id).await.map_err(|error| {
            AuthorizationError::ShowToUser(ErrorPage {
                reason: error.code(),
                message: "certgate cannot read its configuration right now. Try again in a minute."
                    .into(),
            })
        })?;
        parameters.validate(client.as_ref(), &self.config.issuer, now)
    }

    /// Issues the authorization code after a sign-in (and, where the client wants it, the
    /// user's confirmation). Refuses a sign-in that does not satisfy the request
    /// (`prompt=login`, `max_age`).
    pub async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        authentication: &Authentication,
        now: UnixTime,
    ) -> Result<AuthorizationResponse, AuthorizationError> {
        let session = Session {
            auth_time: authentication.auth_time,
        };
        match request.sign_in_step(Some(&session), now)? {
            SignInStep::SignIn => {
                return Err(request.error(
                    AuthorizationErrorCode::LoginRequired,
                    "sign-in-not-fresh",
                    "the sign-in does not satisfy prompt=login or max_age",
                ))
            }
            SignInStep::Confirm | SignInStep::Issue => {}
        }
        let server_error = |reason: &'static str| {
            request.error(
                AuthorizationErrorCode::ServerError,
                reason,
                "certgate could not complete the sign-in; try again",
            )
        };
        let code = Secret::generate().map_err(|_| server_error("random-unavailable"))?;
        let record = CodeRecord {
            hash: code.hash(),
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            scopes: request.scopes.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            authentication: authentication.clone(),
            issued_at: now,
            expires_at: after(now, CODE_LIFETIME),
            used_at: None,
        };
        self.store
            .insert_code(&record)
            .await
            .map_err(|error| server_error(error.code()))?;
        Ok(AuthorizationResponse {
            redirect_uri: request.redirect_uri.clone(),
            code,
            state: request.state.clone(),
            issuer: self.config.issuer.as_str().to_owned(),
        })
    }
}

/// Registers a client in `store` (for the CLI, which needs no running provider): checks it,
/// creates the secret of a confidential client (returned once) and audits the registration.
pub async fn register_client<S: OidcStore>(
    store: &S,
    new: NewClient,
    max_token_lifetime: Duration,
    now: UnixTime,
    actor: &str,
) -> Result<RegisteredClient, ProviderError> {
    let registered = client::register(new, max_token_lifetime, now)?;
    let client = &registered.client;
    let audit = AuditEvent::new(
        now,
        actor,
        "oidc.client.register",
        client.client_id.as_str(),
        "ok",
        format!(
            "registered {:?} client \"{}\" ({}) with redirect URIs {}{}",
            client.kind(),
            client.client_id,
            client.display_name,
            client.redirect_uris.join(" "),
            if client.require_domain_password {
                "; every sign-in asks for the domain password"
            } else {
                ""
            }
        ),
    );
    store.insert_client(client, &audit).await?;
    Ok(registered)
}

/// Removes a client from `store` and everything issued to it.
pub async fn delete_client<S: OidcStore>(
    store: &S,
    id: &ClientId,
    now: UnixTime,
    actor: &str,
) -> Result<(), ProviderError> {
    let audit = AuditEvent::new(
        now,
        actor,
        "oidc.client.delete",
        id.as_str(),
        "ok",
        format!("deleted client \"{id}\" and its codes, grants and refresh tokens"),
    );
    store.delete_client(id, &audit).await?;
    Ok(())
}
