//! What every admin handler gets: the [`AdminStore`] the API works on and the
//! [`AdminContext`] the router hands each request as its state.

use certgate_core::DirectoryStore;
use certgate_core::Store;
use std::sync::Arc;

use certgate_core::access_pass::AccessPassStore;
use certgate_core::admin_token::AdminTokenStore;
use certgate_core::clock::Clock;
use certgate_core::federation::FederationStore;
use certgate_core::signin::SignInLog;

use super::access::DEFAULT_ADMIN_GROUP;
use super::applications::Applications;
use crate::crl_refresh::CrlService;
use crate::HttpCrlFetcher;

/// What the admin API's store must be: the trust store, the directory, the sign-in log, the
/// admin tokens and the federation service (certgate-store's `SqlStore` is all of them).
pub trait AdminStore:
    Store + DirectoryStore + SignInLog + AdminTokenStore + FederationStore + AccessPassStore
{
}

impl<S> AdminStore for S where
    S: Store + DirectoryStore + SignInLog + AdminTokenStore + FederationStore + AccessPassStore
{
}

/// Everything the admin handlers need.
pub struct AdminContext<S> {
    /// The store every handler reads and changes.
    pub store: Arc<S>,
    /// The time of audit events, of created resources and of admin token and certificate
    /// checks.
    pub clock: Arc<dyn Clock>,
    /// The CRL service: its validation state checks admin certificates, its refresh answers
    /// `POST /crlStatus/refresh`, its rebuild makes a change through the API take effect on
    /// this node at once (other nodes follow within one job tick).
    pub crl: Arc<CrlService<S, HttpCrlFetcher, Arc<dyn Clock>>>,
    /// The OpenID Connect clients; `None` when the provider is not running (the
    /// `/applications` routes answer 503 `applications-unavailable`).
    pub applications: Option<Arc<dyn Applications>>,
    /// Members of this group may use the API with their client certificate.
    pub admin_group: String,
    /// certgate's key passphrase, which seals new token-signing keys; `None`:
    /// `POST /federation/signingKeys/rotate` answers 503 `federation-keys-unavailable`.
    pub key_passphrase: Option<zeroize::Zeroizing<Vec<u8>>>,
    /// certgate's own CA, which issues device certificates; `None`:
    /// `POST /users/{idOrUpn}/deviceProfiles` answers 503 `device-provisioning-unavailable`.
    pub pki: Option<certgate_core::authority::PkiSettings>,
}

impl<S: AdminStore> AdminContext<S> {
    /// A context with the defaults: no OpenID Connect clients, no key passphrase, no CA (their
    /// routes answer 503), and [`DEFAULT_ADMIN_GROUP`] as the admin group.
    pub fn new(
        store: Arc<S>,
        clock: Arc<dyn Clock>,
        crl: Arc<CrlService<S, HttpCrlFetcher, Arc<dyn Clock>>>,
    ) -> Self {
        AdminContext {
            store,
            clock,
            crl,
            applications: None,
            admin_group: DEFAULT_ADMIN_GROUP.to_owned(),
            key_passphrase: None,
            pki: None,
        }
    }

    /// Lets the API issue device certificates with certgate's CA.
    pub fn with_pki(mut self, settings: certgate_core::authority::PkiSettings) -> Self {
        self.pki = Some(settings);
        self
    }

    /// Lets the API rotate the federation service's token-signing keys, sealing new keys with
    /// `passphrase`.
    pub fn with_key_passphrase(mut self, passphrase: zeroize::Zeroizing<Vec<u8>>) -> Self {
        self.key_passphrase = Some(passphrase);
        self
    }

    /// Lets the API manage the OpenID Connect clients (the provider, when the web listener
    /// runs).
    pub fn with_applications(mut self, applications: Arc<dyn Applications>) -> Self {
        self.applications = Some(applications);
        self
    }

    /// Replaces [`DEFAULT_ADMIN_GROUP`] as the group whose members may use their client
    /// certificate.
    pub fn with_admin_group(mut self, group: impl Into<String>) -> Self {
        self.admin_group = group.into();
        self
    }

    /// After a change: rebuild this node's validation state when the store's generation
    /// moved, so that the change is in force before the answer goes out. A failure only
    /// delays it to the next job tick.
    pub(super) async fn changed(&self) {
        if let Err(error) = self.crl.reload_if_changed().await {
            tracing::warn!(code = error.code(), %error, "reloading the validation state after an admin change failed");
        }
    }
}

/// The router's state: the context, shared by every request.
pub(super) type Context<S> = Arc<AdminContext<S>>;
