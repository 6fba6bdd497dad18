//! `certgate serve`: the HTTP listener and the background jobs, wired together.
//!
//! Jobs, on one tick:
//! - rebuild the validation state when the store's generation moved (another process
//!   added a CA or refreshed a CRL: this is how several nodes on one PostgreSQL agree);
//! - refresh the CRL URLs whose time has come;
//! - publish certgate's own CRLs before the current ones run out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certgate_core::authority::{AuthorityRole, BaseCrl, BuiltInCa, PkiSettings};
use certgate_core::clock::Clock;
use certgate_core::crl_cache::CrlKind;
use certgate_core::store::Store;
use certgate_core::validation_state::SharedState;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use certgate_core::binding::UserLookup;
use certgate_core::directory::DirectoryStore;
use certgate_core::signin::SignInLog;

use crate::certauth::{CertAuthTls, ClientCertificates, ServerIdentity};
use crate::crl_refresh::{CrlService, CrlSettings};
use crate::metrics::Metrics;
use crate::signin_http::SignInContext;
use crate::signin_recorder::SignInRecorder;
use crate::HttpCrlFetcher;

/// How `serve` runs.
#[derive(Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub crl: CrlSettings,
    /// certgate's own CA, when it should publish CRLs on schedule.
    pub pki: Option<PkiSettings>,
    /// Time between two runs of the background jobs.
    pub tick: Duration,
    /// The certificate sign-in listener (HTTPS asking for client certificates), when enabled.
    pub certauth: Option<CertAuthConfig>,
}

/// The certificate sign-in listener: its own host or port, like AD FS's certauth host or
/// port 49443.
#[derive(Clone)]
pub struct CertAuthConfig {
    pub listen: SocketAddr,
    pub identity: ServerIdentity,
}

/// A running server.
pub struct RunningServer<S: Store> {
    pub local_addr: SocketAddr,
    /// The certificate sign-in listener's address, when enabled.
    pub certauth_addr: Option<SocketAddr>,
    pub metrics: Metrics,
    pub crl: Arc<CrlService<S, HttpCrlFetcher, Arc<dyn Clock>>>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl<S: Store> RunningServer<S> {
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

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot load the trust store and CRL cache: {0}")]
    Store(#[from] certgate_core::store::StoreError),
    #[error(transparent)]
    Fetch(#[from] certgate_core::crl_fetch::FetchError),
    #[error("the certificate sign-in listener's TLS identity: {0}")]
    Tls(String),
}

/// Binds the listener, loads the validation state from the store (no network needed: the
/// CRL cache is persisted) and starts the jobs.
pub async fn start<S: Store + SignInLog + DirectoryStore + UserLookup>(
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    config: ServerConfig,
) -> Result<RunningServer<S>, ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: config.listen,
        source,
    })?;
    let crl = Arc::new(CrlService::new(
        Arc::clone(&store),
        HttpCrlFetcher::new()?,
        Arc::clone(&clock),
        Arc::new(SharedState::default()),
        config.crl,
        "server",
    ));
    crl.rebuild().await?;
    let (shutdown, mut stop_http) = watch::channel(false);
    let metrics = Metrics::new();
    let mut tasks = Vec::new();

    let certauth_addr = match config.certauth {
        Some(certauth) => {
            let tls = Arc::new(CertAuthTls::new(certauth.identity, ClientCertificates::Request).map_err(ServeError::Tls)?);
            let listener = TcpListener::bind(certauth.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: certauth.listen,
                    source,
                })?;
            let addr = listener.local_addr().map_err(|source| ServeError::Listen {
                addr: certauth.listen,
                source,
            })?;
            let context = Arc::new(SignInContext::new(
                Arc::clone(crl.state()),
                Arc::clone(&clock),
                Arc::clone(&store),
                SignInRecorder::start(Arc::clone(&store)),
                metrics.clone(),
            ));
            let app = crate::signin_http::routes(context)
                .route("/healthz", axum::routing::get(|| async { "ok\n" }));
            tasks.push(tokio::spawn(crate::certauth::serve(
                listener,
                tls,
                Arc::clone(crl.state()),
                app,
                shutdown.subscribe(),
            )));
            tracing::info!(%addr, "certificate sign-in listener");
            Some(addr)
        }
        None => None,
    };

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
    let http = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_http.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "the HTTP listener failed");
        }
    });

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
        metrics,
        crl,
        shutdown,
        tasks,
    })
}

async fn run_jobs<S: Store>(
    store: &S,
    crl: &CrlService<S, HttpCrlFetcher, Arc<dyn Clock>>,
    clock: &dyn Clock,
    pki: Option<&PkiSettings>,
) {
    if let Err(error) = crl.reload_if_changed().await {
        tracing::warn!(code = error.code(), %error, "reloading the validation state failed");
    }
    match crl.refresh_due().await {
        Ok(reports) => {
            for report in reports {
                tracing::info!(ca = %report.ca_id, kind = report.kind.as_str(), url = %report.url, outcome = ?report.outcome, "CRL refresh");
            }
        }
        Err(error) => tracing::warn!(code = error.code(), %error, "CRL refresh failed"),
    }
    if let Some(pki) = pki {
        if let Err(error) = publish_when_due(store, clock, pki).await {
            tracing::warn!(code = error.code(), %error, "publishing certgate's CRLs failed");
        }
    }
}

/// Publishes new CRLs once the current delta CRL is half way through its validity, so that
/// relying parties always find a current one.
async fn publish_when_due<S: Store>(
    store: &S,
    clock: &dyn Clock,
    pki: &PkiSettings,
) -> Result<(), certgate_core::authority::PkiError> {
    let authorities = store.authorities().await?;
    let Some(issuing) = authorities
        .iter()
        .find(|a| a.role == AuthorityRole::Issuing)
    else {
        return Ok(());
    };
    let now = clock.now();
    let due = match store
        .latest_published_crl(issuing.id, CrlKind::Delta)
        .await?
    {
        None => true,
        Some(delta) => {
            now.0 >= delta.this_update.0 + (delta.next_update.0 - delta.this_update.0) / 2
        }
    };
    if due {
        let published = BuiltInCa::new(store, &clock, pki, "scheduler")
            .publish_crls(BaseCrl::WhenDue)
            .await?;
        tracing::info!(count = published.len(), "published certgate's CRLs");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
