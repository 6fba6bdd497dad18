//! The background jobs `serve` runs: the tick (validation state, CRL refresh, publication of
//! certgate's own CRLs), OpenID Connect and federation key housekeeping, log retention.

use super::*;

pub(super) async fn run_jobs<S: Store>(
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
pub(super) async fn publish_when_due<S: Store>(
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

/// How often the OpenID Connect housekeeping runs.
pub(super) const OIDC_MAINTENANCE: Duration = Duration::from_secs(60);

/// Picks up key rotations made by other nodes, rotates the signing key when it is due, and
/// removes expired codes, grants and sign-in flows.
pub(super) async fn oidc_maintenance(
    provider: Arc<Provider<SqlStore, DirectoryRefreshPolicy<SqlStore>>>,
    store: Arc<SqlStore>,
    clock: Arc<dyn Clock>,
    passphrase: zeroize::Zeroizing<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
) {
    use certgate_core::login_flow::LoginFlowStore;
    use certgate_oidc::OidcStore;
    loop {
        let now = clock.now();
        if let Err(error) = provider.reload_keys(&passphrase).await {
            tracing::warn!(code = error.code(), %error, "reloading the OIDC signing keys failed");
        }
        // Due when the Current key has been Current for certgate_oidc::KEY_ROTATION_PERIOD.
        let due = provider.rotation_due(now).await.unwrap_or(false);
        if due {
            match provider.rotate_keys(&passphrase, now, "scheduler").await {
                Ok(rotation) => tracing::info!(
                    current = rotation.promote.as_str(),
                    "rotated the OIDC signing keys"
                ),
                // Another node rotated at the same moment: its keys are picked up next time.
                Err(error) => {
                    tracing::info!(code = error.code(), %error, "OIDC key rotation skipped")
                }
            }
        }
        if let Err(error) = store.delete_expired(now).await {
            tracing::warn!(code = error.code(), %error, "removing expired OIDC grants failed");
        }
        if let Err(error) = store.purge_flows(now).await {
            tracing::warn!(code = error.code(), %error, "removing expired sign-in flows failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(OIDC_MAINTENANCE) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
    }
}

/// Picks up token-signing key rotations made by other nodes, rolls the keys over when the
/// current certificate nears its end, and forgets expired SAML request IDs.
pub(super) async fn federation_maintenance(
    service: Arc<crate::federation_service::FederationService>,
    store: Arc<SqlStore>,
    clock: Arc<dyn Clock>,
    passphrase: zeroize::Zeroizing<Vec<u8>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(OIDC_MAINTENANCE) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
        if let Err(error) = service.maintain(&*store, &passphrase, clock.now()).await {
            tracing::warn!(code = error.code(), %error, "federation key maintenance failed");
        }
    }
}

/// Removes what is past retention (certgate_core::retention), at start and then every
/// [`crate::limits::RETENTION_INTERVAL`].
pub(super) async fn retention(
    store: Arc<SqlStore>,
    clock: Arc<dyn Clock>,
    settings: certgate_core::retention::RetentionSettings,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match certgate_core::retention::purge(&*store, &settings, clock.now()).await {
            Ok(purged) => tracing::debug!(?purged, "retention"),
            Err(error) => tracing::warn!(code = error.code(), %error, "retention failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(crate::limits::RETENTION_INTERVAL) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
    }
}

pub(super) async fn shutdown_signal() {
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
