//! `certgate serve`: the HTTP listener and the background jobs, wired together.
//!
//! Jobs, on one tick:
//! - rebuild the validation state when the store's generation moved (another process
//!   added a CA or refreshed a CRL: this is how several nodes on one PostgreSQL agree);
//! - refresh the CRL URLs whose time has come;
//! - publish certgate's own CRLs before the current ones run out.

mod jobs;

use certgate_core::Store;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certgate_core::authority::{AuthorityRole, BaseCrl, BuiltInCa, PkiSettings};
use certgate_core::clock::Clock;
use certgate_core::crl_cache::{CrlCacheStore, CrlKind};
use certgate_core::validation_state::SharedState;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::certauth::{CertAuthTls, ClientCertificates, ServerIdentity};
use crate::crl_refresh::{CrlService, CrlSettings};
use crate::limits::{with_body_read_timeout, Limits, ListenerLimits};
use crate::metrics::Metrics;
use crate::oidc_policy::DirectoryRefreshPolicy;
use crate::signin_http::SignInContext;
use crate::signin_recorder::SignInRecorder;
use crate::web_context::WebContext;
use crate::HttpCrlFetcher;
use certgate_core::totp::{TotpSealing, TotpServiceError, TotpSettings, TotpStore};
use certgate_oidc::{Issuer, Provider, ProviderConfig};
use certgate_store::SqlStore;
use jobs::*;

/// How `serve` runs.
#[derive(Clone)]
pub struct ServerConfig {
    /// The plain HTTP listener: certgate's published CA certificates and CRLs, `/healthz` and
    /// `/metrics`.
    pub listen: SocketAddr,
    /// Limits and timing of the trusted CAs' CRL refreshes.
    pub crl: CrlSettings,
    /// certgate's own CA, when it should publish CRLs on schedule.
    pub pki: Option<PkiSettings>,
    /// Time between two runs of the background jobs.
    pub tick: Duration,
    /// The certificate sign-in listener (HTTPS asking for client certificates), when enabled.
    pub certauth: Option<CertAuthConfig>,
    /// The web listener: OpenID Connect and the sign-in pages (needs `certauth`).
    pub web: Option<WebConfig>,
    /// The mail front door: the authenticating reverse proxy, on its own listener.
    pub front_door: Option<FrontDoorConfig>,
}

/// The mail front door's listener (Exchange's IIS on port 443): asks every client for a
/// certificate and proxies the virtual directories.
#[derive(Clone)]
pub struct FrontDoorConfig {
    /// Where the front door listens.
    pub listen: SocketAddr,
    /// The TLS certificate and key the front door presents to devices.
    pub identity: ServerIdentity,
    /// The proxied paths (`/owa`, `/Microsoft-Server-ActiveSync`, ...), each with its upstream.
    pub virtual_directories: Vec<certgate_core::front_door::VirtualDirectory>,
    /// The host name devices reach the front door at (the Exchange ActiveSync host that the
    /// self-service device page suggests).
    pub public_host: Option<String>,
    /// The host names clients may send requests to (`Host`); empty: `public_host` alone, or
    /// with no `public_host` either, any plain host name, never forwarded upstream. Required
    /// (or `public_host`) when a directory has `preserve_host`.
    pub allowed_hosts: Vec<String>,
}

/// The web listener (HTTPS without client certificates, like AD FS's port 443).
#[derive(Clone)]
pub struct WebConfig {
    /// Where the web listener listens.
    pub listen: SocketAddr,
    /// `https://host:port` the browser reaches this listener at.
    pub public_origin: String,
    /// `https://host:port` of the certificate sign-in listener as the browser reaches it
    /// (default `https://localhost:<port>`). Must be the same host name as `public_origin`
    /// (another port): the sign-in's browser cookie has to reach both.
    pub certauth_public_origin: Option<String>,
    /// The OpenID Connect issuer URL (usually `public_origin`).
    pub issuer: String,
    /// The name shown in authenticator apps.
    pub organization: String,
    /// Seals the OIDC signing keys and TOTP secrets (certgate's CA key passphrase).
    pub passphrase: zeroize::Zeroizing<Vec<u8>>,
    /// The demo relying party at `/demo` (`certgate serve --demo`).
    pub demo: Option<crate::web_context::DemoClient>,
    /// The federation service (SAML 2.0 and WS-Federation) on this listener, when enabled.
    pub federation: Option<crate::federation_service::FederationSettings>,
    /// Checks domain passwords against the directory source (`[directory.ldap]`), for relying
    /// parties that meet password requests with the certificate plus the domain password.
    pub domain_password: Option<Arc<crate::domain_password::DomainPasswordCheck>>,
}

/// The certificate sign-in listener: its own host or port, like AD FS's certauth host or
/// port 49443.
#[derive(Clone)]
pub struct CertAuthConfig {
    /// Where the certificate sign-in listener listens.
    pub listen: SocketAddr,
    /// The TLS certificate and key it presents.
    pub identity: ServerIdentity,
}

/// A running server.
pub struct RunningServer<S: Store> {
    /// The plain HTTP listener's address (with the port the system chose when the
    /// configuration said 0).
    pub local_addr: SocketAddr,
    /// The certificate sign-in listener's address, when enabled.
    pub certauth_addr: Option<SocketAddr>,
    /// The web listener's address (OpenID Connect, sign-in pages), when enabled.
    pub web_addr: Option<SocketAddr>,
    /// The mail front door's address, when enabled.
    pub front_door_addr: Option<SocketAddr>,
    /// The metrics `/metrics` serves.
    pub metrics: Metrics,
    /// The CRL service whose state every listener validates against.
    pub crl: Arc<CrlService<S, HttpCrlFetcher, Arc<dyn Clock>>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl<S: Store> RunningServer<S> {
    /// The current validation state (trusted CAs and their CRLs).
    pub fn state(&self) -> &Arc<SharedState> {
        self.crl.state()
    }

    /// Stops accepting, finishes the jobs' current run and returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Runs until Ctrl-C or SIGTERM, then stops.
    pub async fn run_until_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await;
    }
}

/// Why `serve` could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not bind its address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address in the configuration.
        addr: SocketAddr,
        /// The operating system's error (address in use, permission denied, ...).
        source: std::io::Error,
    },
    /// The store could not be read (the trust store and CRL cache for the first validation
    /// state, or what a listener loads at start).
    #[error("cannot load the trust store and CRL cache: {0}")]
    Store(#[from] certgate_core::store::StoreError),
    /// The HTTP client for CRL downloads could not be set up.
    #[error(transparent)]
    Fetch(#[from] certgate_core::crl_fetch::FetchError),
    /// A listener or a service on it cannot be set up as configured: a TLS key that does not
    /// fit its certificate, the web listener without the certificate sign-in listener, an
    /// unusable issuer, front door or federation setting.
    #[error("the certificate sign-in listener's TLS identity: {0}")]
    Tls(String),
}

/// The TOTP sealing keys of `passphrase` and the deployment's salt: derived here, once per
/// process, so that checking a one-time code never runs PBKDF2.
async fn totp_sealing<S: TotpStore>(
    store: &S,
    passphrase: &[u8],
) -> Result<Arc<TotpSealing>, ServeError> {
    certgate_core::totp::open_sealing(store, passphrase)
        .await
        .map(Arc::new)
        .map_err(|error| match error {
            TotpServiceError::Store(error) => ServeError::Store(error),
            other => ServeError::Tls(format!(
                "the authenticator secrets' sealing key: {other} ({})",
                other.code()
            )),
        })
}

/// Binds the listener, loads the validation state from the store (no network needed: the
/// CRL cache is persisted) and starts the jobs, under the default [`Limits`].
pub async fn start(
    store: Arc<SqlStore>,
    clock: Arc<dyn Clock>,
    config: ServerConfig,
) -> Result<RunningServer<SqlStore>, ServeError> {
    start_with_limits(store, clock, config, Limits::default()).await
}

/// [`start`] under `limits`: connection and time limits on every listener, rate limits on
/// anonymous sign-in starts, retention of the logs.
pub async fn start_with_limits(
    store: Arc<SqlStore>,
    clock: Arc<dyn Clock>,
    config: ServerConfig,
    limits: Limits,
) -> Result<RunningServer<SqlStore>, ServeError> {
    let listener_limits = limits.listeners;
    let (listener, local_addr) = bind(config.listen, listener_limits.listen_backlog).await?;
    let crl = Arc::new(CrlService::new(
        Arc::clone(&store),
        HttpCrlFetcher::new()?,
        Arc::clone(&clock),
        Arc::new(SharedState::default()),
        config.crl,
        "server",
    ));
    crl.rebuild().await?;
    let (shutdown, stop_http) = watch::channel(false);
    let metrics = Metrics::new();
    let mut tasks = Vec::new();

    // The web listener (OpenID Connect and the sign-in pages) needs the certificate sign-in
    // listener, whose TLS identity it shares.
    let web = match (&config.web, &config.certauth) {
        (Some(web), Some(certauth)) => Some((web.clone(), certauth.identity.clone())),
        (Some(_), None) => {
            return Err(ServeError::Tls(
                "the web listener needs the certificate sign-in listener ([certauth])".into(),
            ))
        }
        (None, _) => None,
    };
    let web_parts = match &web {
        Some((web_config, _)) => {
            let issuer = Issuer::parse(&web_config.issuer)
                .map_err(|e| ServeError::Tls(format!("the OpenID Connect issuer: {e}")))?;
            let policy = DirectoryRefreshPolicy {
                directory: Arc::clone(&store),
                state: Arc::clone(crl.state()),
                clock: Arc::clone(&clock),
            };
            let provider = Provider::open(
                ProviderConfig::new(issuer),
                (*store).clone(),
                policy,
                &web_config.passphrase,
                clock.now(),
            )
            .await
            .map_err(|e| {
                ServeError::Tls(format!("the OpenID Connect provider: {e} ({})", e.code()))
            })?;
            let totp = TotpSettings::new(
                web_config.organization.clone(),
                totp_sealing(&*store, &web_config.passphrase).await?,
            );
            Some((Arc::new(provider), totp))
        }
        None => None,
    };

    let mut admin = crate::admin_api::AdminContext::new(
        Arc::clone(&store),
        Arc::clone(&clock),
        Arc::clone(&crl),
    );
    if let Some((provider, _)) = &web_parts {
        admin = admin
            .with_applications(Arc::clone(provider) as Arc<dyn crate::admin_api::Applications>);
    }
    if let Some((web_config, _)) = &web {
        // Token-signing key rotation through the API; the web listener's federation service
        // picks the new key up at its next maintenance run.
        admin = admin.with_key_passphrase(web_config.passphrase.clone());
    }
    if let Some(pki) = &config.pki {
        // Device profiles through the API (`POST /users/{idOrUpn}/deviceProfiles`).
        admin = admin.with_pki(pki.clone());
    }
    let admin = Arc::new(admin);

    let certauth_addr = match config.certauth {
        Some(certauth) => {
            let tls = Arc::new(
                CertAuthTls::new(certauth.identity, ClientCertificates::Request)
                    .map_err(ServeError::Tls)?,
            );
            let (listener, addr) = bind(certauth.listen, listener_limits.listen_backlog).await?;
            let mut context = sign_in_context(&store, &crl, &clock, &metrics, &listener_limits);
            // The device page checks authenticator codes with the web listener's settings,
            // or else with the CA's key passphrase (the same passphrase seals both).
            let device_totp = match (&web_parts, &config.pki) {
                (Some((_, totp)), _) => Some(totp.clone()),
                (None, Some(pki)) => match &pki.key_passphrase {
                    Some(passphrase) => Some(TotpSettings::new(
                        "certgate",
                        totp_sealing(&*store, passphrase).await?,
                    )),
                    None => None,
                },
                (None, None) => None,
            };
            if let (Some((web_config, _)), Some((_, totp))) = (&web, &web_parts) {
                context.web = Some((web_config.public_origin.clone(), totp.clone()));
            }
            let context = Arc::new(context);
            let app = crate::signin_http::routes(Arc::clone(&context))
                .merge(crate::est::routes(Arc::new(crate::est::EstContext::new(
                    Arc::clone(&context),
                    Arc::clone(&store),
                    Arc::clone(&clock),
                    config.pki.clone(),
                ))))
                .merge(crate::device_http::routes(
                    context,
                    config.pki.clone(),
                    device_totp,
                    // The ActiveSync host devices are given: the front door's public name.
                    config
                        .front_door
                        .as_ref()
                        .and_then(|front_door| front_door.public_host.clone()),
                ))
                .nest("/api/v1", crate::admin_api::routes(Arc::clone(&admin)))
                .route("/healthz", axum::routing::get(|| async { "ok\n" }));
            tasks.push(spawn_https(
                listener,
                tls,
                crl.state(),
                app,
                &metrics,
                listener_limits,
                shutdown.subscribe(),
            ));
            tracing::info!(%addr, "certificate sign-in listener");
            Some(addr)
        }
        None => None,
    };

    let front_door_addr = match config.front_door {
        Some(front_door) => {
            // The front door streams bodies (ActiveSync), so no body read timeout; its header
            // limit is per virtual directory and answered with its own 413 page, so HTTP/1.1
            // and HTTP/2 let twice the largest through to that page.
            let largest_header_limit = front_door
                .virtual_directories
                .iter()
                .map(|vdir| vdir.max_request_header_bytes)
                .max()
                .unwrap_or(0);
            let front_door_limits = ListenerLimits {
                max_header_bytes: listener_limits
                    .max_header_bytes
                    .max(largest_header_limit.saturating_mul(2)),
                ..listener_limits
            };
            let signin = Arc::new(sign_in_context(
                &store,
                &crl,
                &clock,
                &metrics,
                &listener_limits,
            ));
            let proxy = crate::front_door::FrontDoor::new(
                signin,
                front_door.virtual_directories,
                &front_door.allowed_hosts,
                front_door.public_host.as_deref(),
            )
            .map_err(|e| ServeError::Tls(format!("the front door: {e}")))?;
            let tls = Arc::new(
                CertAuthTls::new(front_door.identity, ClientCertificates::Request)
                    .map_err(ServeError::Tls)?,
            );
            let (listener, addr) = bind(front_door.listen, listener_limits.listen_backlog).await?;
            tasks.push(tokio::spawn(crate::certauth::serve_with_limits(
                listener,
                tls,
                Arc::clone(crl.state()),
                crate::refusal::answer_by_accept(
                    crate::front_door::routes(Arc::new(proxy)),
                    metrics.clone(),
                ),
                front_door_limits,
                shutdown.subscribe(),
            )));
            tracing::info!(%addr, "mail front door");
            Some(addr)
        }
        None => None,
    };

    let mut web_addr = None;
    if let (Some((web_config, identity)), Some((provider, totp)), Some(certauth_addr)) =
        (web, web_parts, certauth_addr)
    {
        let tls = Arc::new(
            CertAuthTls::new(identity, ClientCertificates::Ignore).map_err(ServeError::Tls)?,
        );
        let (listener, addr) = bind(web_config.listen, listener_limits.listen_backlog).await?;
        let certauth_origin = web_config
            .certauth_public_origin
            .clone()
            .unwrap_or_else(|| format!("https://localhost:{}", certauth_addr.port()));
        tasks.push(tokio::spawn(oidc_maintenance(
            Arc::clone(&provider),
            Arc::clone(&store),
            Arc::clone(&clock),
            web_config.passphrase.clone(),
            shutdown.subscribe(),
        )));
        let federation = match &web_config.federation {
            Some(settings) => {
                let service = crate::federation_service::FederationService::open(
                    settings.clone(),
                    &*store,
                    &web_config.passphrase,
                    clock.now(),
                )
                .await
                .map_err(|e| {
                    ServeError::Tls(format!("the federation service: {e} ({})", e.code()))
                })?;
                let service = Arc::new(service);
                tasks.push(tokio::spawn(federation_maintenance(
                    Arc::clone(&service),
                    Arc::clone(&store),
                    Arc::clone(&clock),
                    web_config.passphrase.clone(),
                    shutdown.subscribe(),
                )));
                Some(service)
            }
            None => None,
        };
        let context = Arc::new(WebContext {
            provider,
            store: Arc::clone(&store),
            clock: Arc::clone(&clock),
            totp,
            certauth_origin,
            demo: web_config.demo.clone(),
            federation,
            domain_password: web_config.domain_password.clone(),
        });
        let app = crate::web::routes(context)
            .nest("/api/v1", crate::admin_api::routes(Arc::clone(&admin)))
            .route("/healthz", axum::routing::get(|| async { "ok\n" }));
        let app = crate::limits::with_rate_limit(
            app,
            Arc::new(certgate_core::rate_limit::RateLimiter::new(limits.rate)),
            Arc::clone(&clock),
            crate::limits::ANONYMOUS_WRITE_PATHS,
        );
        tasks.push(spawn_https(
            listener,
            tls,
            crl.state(),
            app,
            &metrics,
            listener_limits,
            shutdown.subscribe(),
        ));
        tracing::info!(%addr, "web listener (OpenID Connect)");
        web_addr = Some(addr);
    }

    let metrics_route = metrics.clone();
    let app = crate::publish::routes(Arc::clone(&store))
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route(
            "/metrics",
            axum::routing::get(move || {
                let metrics = metrics_route.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.render(),
                    )
                }
            }),
        );
    let app = crate::refusal::answer_by_accept(app, metrics.clone());
    let app = crate::browser_headers::harden(app, crate::browser_headers::Listener::PlainHttp);
    let http = tokio::spawn(crate::limits::serve_plain(
        listener,
        with_body_read_timeout(app, listener_limits.body_read_timeout),
        listener_limits,
        stop_http,
    ));
    tasks.push(tokio::spawn(retention(
        Arc::clone(&store),
        Arc::clone(&clock),
        limits.retention,
        shutdown.subscribe(),
    )));

    let jobs = {
        let crl = Arc::clone(&crl);
        let mut stop = shutdown.subscribe();
        let pki = config.pki.clone();
        let tick = config.tick;
        let metrics = metrics.clone();
        tokio::spawn(async move {
            loop {
                run_jobs(&*store, &crl, &*clock, pki.as_ref()).await;
                if let Ok(cached) = store.cached_crl_summaries().await {
                    metrics.crls(&cached, clock.now());
                }
                tokio::select! {
                    _ = tokio::time::sleep(tick) => {}
                    _ = stop.wait_for(|stop| *stop) => break,
                }
            }
        })
    };
    tracing::info!(%local_addr, "certgate is serving");
    tasks.push(http);
    tasks.push(jobs);
    Ok(RunningServer {
        local_addr,
        certauth_addr,
        web_addr,
        front_door_addr,
        metrics,
        crl,
        shutdown,
        tasks,
    })
}

/// Binds `addr` with a queue of `backlog` connections not yet accepted; the listener and the
/// address it got (the port the system chose for 0).
async fn bind(addr: SocketAddr, backlog: u32) -> Result<(TcpListener, SocketAddr), ServeError> {
    let listen_error = |source| ServeError::Listen { addr, source };
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(listen_error)?;
    // As std's and tokio's own bind do: a restarted server takes its port back at once rather
    // than waiting out the old connections' TIME_WAIT.
    socket.set_reuseaddr(true).map_err(listen_error)?;
    socket.bind(addr).map_err(listen_error)?;
    let listener = socket.listen(backlog).map_err(listen_error)?;
    let local_addr = listener.local_addr().map_err(listen_error)?;
    Ok((listener, local_addr))
}

/// The certificate sign-in of a listener that asks for client certificates (the certificate
/// sign-in listener, the front door): the shared validation state, its own sign-in recorder.
fn sign_in_context(
    store: &Arc<SqlStore>,
    crl: &CrlService<SqlStore, HttpCrlFetcher, Arc<dyn Clock>>,
    clock: &Arc<dyn Clock>,
    metrics: &Metrics,
    limits: &ListenerLimits,
) -> SignInContext<SqlStore> {
    let mut context = SignInContext::new(
        Arc::clone(crl.state()),
        Arc::clone(clock),
        Arc::clone(store),
        SignInRecorder::start(Arc::clone(store)),
        metrics.clone(),
    );
    context.store_timeout = limits.store_timeout;
    context
}

/// Serves `app` on an HTTPS listener that people's browsers reach (the certificate sign-in
/// listener, the web listener): refusals in the form the client accepts, the browser
/// hardening headers, a deadline on request bodies, and the listener limits.
fn spawn_https(
    listener: TcpListener,
    tls: Arc<CertAuthTls>,
    state: &Arc<SharedState>,
    app: axum::Router,
    metrics: &Metrics,
    limits: ListenerLimits,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let app = crate::refusal::answer_by_accept(app, metrics.clone());
    let app = crate::browser_headers::harden(app, crate::browser_headers::Listener::Https);
    tokio::spawn(crate::certauth::serve_with_limits(
        listener,
        tls,
        Arc::clone(state),
        with_body_read_timeout(app, limits.body_read_timeout),
        limits,
        shutdown,
    ))
}
