//! The federation service's state: its settings and the token-signing keys, loaded from the
//! store and rolled over before the current one expires (the endpoints are in
//! `federation_http`).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use certgate_core::federation::{
    ensure_token_signing_keys, rotate_token_signing_keys, FederationError, FederationStore,
    PublishedKeys, RelyingParty,
};
use certgate_pki::UnixTime;
use certgate_saml::SigningKey;

/// The federation service's settings.
#[derive(Clone, Debug)]
pub struct FederationSettings {
    /// The IdP's entity ID / issuer URI (Microsoft 365: the federated domain's `issuerUri`),
    /// unless a relying party overrides it.
    pub entity_id: String,
    /// `https://host:port` of the web listener, for the endpoint URLs.
    pub public_origin: String,
    /// Allowed clock difference with relying parties: requests issued up to this far in the
    /// future (or this much older than their lifetime) are accepted, and assertions become
    /// valid this long before their issue.
    pub clock_skew_seconds: i64,
}

/// The signing key in use and the certificates published, loaded from the store.
pub(crate) struct LoadedKeys {
    pub(crate) signing: SigningKey,
    pub(crate) thumbprint: String,
    pub(crate) certificates: Vec<Vec<u8>>,
}

/// The federation service: settings and the token-signing keys.
pub struct FederationService {
    /// Its entity ID, public origin and clock skew.
    pub settings: FederationSettings,
    keys: ArcSwapOption<LoadedKeys>,
}

impl FederationService {
    /// Opens the service: creates the first token-signing keys when the store has none, and
    /// loads the current one.
    pub async fn open<S: FederationStore>(
        settings: FederationSettings,
        store: &S,
        passphrase: &[u8],
        now: UnixTime,
    ) -> Result<FederationService, FederationError> {
        let service = FederationService {
            settings,
            keys: ArcSwapOption::empty(),
        };
        let published = ensure_token_signing_keys(store, passphrase, now, "server").await?;
        service.load(&published, passphrase)?;
        Ok(service)
    }

    fn load(&self, published: &PublishedKeys, passphrase: &[u8]) -> Result<(), FederationError> {
        let loaded = self.keys.load();
        if loaded
            .as_ref()
            .is_some_and(|k| k.thumbprint == published.current.thumbprint)
            && loaded
                .as_ref()
                .is_some_and(|k| k.certificates == published.certificates())
        {
            return Ok(());
        }
        let pkcs8 = published.current.open(passphrase)?;
        let signing =
            SigningKey::from_pkcs8_and_certificate(&pkcs8, &published.current.certificate_der)
                .map_err(|error| FederationError::KeyCorrupt {
                    thumbprint: published.current.thumbprint.clone(),
                    why: format!("{error} ({})", error.code()),
                })?;
        self.keys.store(Some(Arc::new(LoadedKeys {
            signing,
            thumbprint: published.current.thumbprint.clone(),
            certificates: published.certificates(),
        })));
        Ok(())
    }

    /// Picks up a rotation made by another node, and rotates when the current certificate
    /// nears its end (so that Entra ID, which rolls over from metadata 30 days ahead, has
    /// already seen the next one).
    pub async fn maintain<S: FederationStore>(
        &self,
        store: &S,
        passphrase: &[u8],
        now: UnixTime,
    ) -> Result<(), FederationError> {
        let mut published = ensure_token_signing_keys(store, passphrase, now, "scheduler").await?;
        if published.rotation_due(now) {
            match rotate_token_signing_keys(store, passphrase, now, "scheduler").await {
                Ok(rotated) => {
                    tracing::info!(
                        current = %rotated.current.thumbprint,
                        "rotated the federation token-signing keys"
                    );
                    published = rotated;
                }
                Err(FederationError::RotationRaced) => {
                    published =
                        ensure_token_signing_keys(store, passphrase, now, "scheduler").await?;
                }
                Err(error) => return Err(error),
            }
        }
        if let Err(error) = store.purge_request_ids(now).await {
            tracing::warn!(code = error.code(), %error, "removing expired SAML request IDs failed");
        }
        self.load(&published, passphrase)
    }

    pub(crate) fn keys(&self) -> Option<Arc<LoadedKeys>> {
        self.keys.load_full()
    }

    /// The issuer towards `rp` for the user `upn` (see [`RelyingParty::issuer_for`]).
    pub fn issuer_for(&self, rp: &RelyingParty, upn: Option<&str>) -> String {
        rp.issuer_for(&self.settings.entity_id, upn)
    }

    /// The absolute URL of `path` on the web listener, as metadata publishes it (e.g.
    /// `url(SAML_SSO_PATH)`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.public_origin)
    }
}
