//! What the web listener's handlers share: the store they need and their context. The
//! OpenID Connect pages, the federation endpoints and the demo application all read it, so
//! it sits below them and depends on none of them.

use certgate_core::DirectoryStore;
use certgate_core::Store;
use std::sync::Arc;

use certgate_core::access_pass::AccessPassStore;
use certgate_core::clock::Clock;
use certgate_core::domain_password::DomainPasswordLockoutStore;
use certgate_core::federation::FederationStore;
use certgate_core::login_flow::LoginFlowStore;
use certgate_core::signin::SignInLog;
use certgate_core::totp::{TotpSettings, TotpStore};
use certgate_oidc::{OidcStore, Provider};

use crate::domain_password::DomainPasswordCheck;
use crate::federation_service::FederationService;

/// Everything the web listener's handlers read and write.
pub trait WebStore:
    OidcStore
    + LoginFlowStore
    + TotpStore
    + AccessPassStore
    + FederationStore
    + DirectoryStore
    + DomainPasswordLockoutStore
    + SignInLog
    + Store
    + Clone
{
}
impl<T> WebStore for T where
    T: OidcStore
        + LoginFlowStore
        + TotpStore
        + AccessPassStore
        + FederationStore
        + DirectoryStore
        + DomainPasswordLockoutStore
        + SignInLog
        + Store
        + Clone
{
}

/// What the web handlers need.
pub struct WebContext<S, P> {
    /// The OpenID Connect provider: its endpoints' logic, clients and tokens.
    pub provider: Arc<Provider<S, P>>,
    /// The store the login flows, TOTP enrollments, access passes and relying parties are
    /// kept in.
    pub store: Arc<S>,
    /// The time every handler takes, so that tests can set it.
    pub clock: Arc<dyn Clock>,
    /// How one-time codes are checked and authenticator apps enrolled (issuer name, lockout).
    pub totp: TotpSettings,
    /// `https://host:port` of the certificate sign-in listener.
    pub certauth_origin: String,
    /// The demo relying party (`certgate serve --demo`).
    pub demo: Option<DemoClient>,
    /// The federation service (SAML 2.0, WS-Federation), when enabled.
    pub federation: Option<Arc<FederationService>>,
    /// Checks domain passwords against the directory source, when one is configured.
    pub domain_password: Option<Arc<DomainPasswordCheck>>,
}

/// The demo client's registration.
#[derive(Clone)]
pub struct DemoClient {
    /// `demo-app`, registered when `certgate serve --demo` first runs.
    pub client_id: String,
    /// Its client secret, which the demo sends with the token request as a remote client would.
    pub client_secret: String,
    /// `https://host:port/demo/callback` on the web listener.
    pub redirect_uri: String,
}
