//! Retention: how long the logs keep their rows, so that no table grows without bound.
//!
//! The sign-in log and the audit log are kept for a configured number of days (defaults: 90 and
//! 365; Entra ID keeps both for 30 days, an on-premises service usually keeps more and leaves
//! long-term storage to the SIEM). Expired sign-in flows and SAML request
//! IDs are useless once expired and go at the next run. Deletion runs in bounded batches so a
//! first run over years of rows does not hold a long transaction or lock the table.

use crate::Store;
use certgate_pki::UnixTime;

use crate::audit::AuditEvent;
use crate::federation::FederationStore;
use crate::login_flow::LoginFlowStore;
use crate::signin::SignInLog;
use crate::store::StoreResult;

const DAY: i64 = 86_400;

/// `[retention]` in certgate.toml.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Days a sign-in log record is kept.
    pub signin_log_days: u32,
    /// Days an audit event is kept.
    pub audit_log_days: u32,
    /// Rows deleted per statement.
    pub batch_size: u32,
    /// Statements per table per run; what is left goes at the next run.
    pub max_batches_per_run: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            signin_log_days: 90,
            audit_log_days: 365,
            batch_size: 1000,
            max_batches_per_run: 100,
        }
    }
}

impl RetentionSettings {
    /// Records made before this instant are past retention.
    pub fn signin_log_cutoff(&self, now: UnixTime) -> UnixTime {
        UnixTime(now.0 - i64::from(self.signin_log_days) * DAY)
    }

    /// Audit events made before this instant are past retention.
    pub fn audit_log_cutoff(&self, now: UnixTime) -> UnixTime {
        UnixTime(now.0 - i64::from(self.audit_log_days) * DAY)
    }
}

/// What one run removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Sign-in log records deleted.
    pub signins: u64,
    /// Audit events deleted.
    pub audit_events: u64,
    /// Expired sign-in flows deleted (all of them, not in batches).
    pub flows: u64,
    /// Expired SAML request IDs deleted (all of them, not in batches).
    pub request_ids: u64,
}

/// Deletes in batches until a batch comes back short or the run's budget is spent.
async fn in_batches<F, Fut>(settings: &RetentionSettings, mut batch: F) -> StoreResult<u64>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = StoreResult<u64>>,
{
    let size = settings.batch_size.max(1);
    let mut total = 0;
    for _ in 0..settings.max_batches_per_run.max(1) {
        let deleted = batch(size).await?;
        total += deleted;
        if deleted < u64::from(size) {
            break;
        }
    }
    Ok(total)
}

/// One retention run. The audit log records what the run removed from the logs (itself kept
/// like any other event), so that a gap in the logs is explained.
pub async fn purge<S>(store: &S, settings: &RetentionSettings, now: UnixTime) -> StoreResult<Purged>
where
    S: Store + SignInLog + LoginFlowStore + FederationStore,
{
    let signin_cutoff = settings.signin_log_cutoff(now);
    let audit_cutoff = settings.audit_log_cutoff(now);
    let signins = in_batches(settings, |size| store.purge_signins(signin_cutoff, size)).await?;
    let audit_events = in_batches(settings, |size| {
        store.purge_audit_events(audit_cutoff, size)
    })
    .await?;
    let flows = store.purge_flows(now).await?;
    let request_ids = store.purge_request_ids(now).await?;
    if signins > 0 || audit_events > 0 {
        store
            .append_audit(&AuditEvent::new(
                now,
                "scheduler",
                "retention.purge",
                "signin_log,audit_log",
                "ok",
                format!(
                    "removed {signins} sign-in records older than {} days and {audit_events} audit events older than {} days",
                    settings.signin_log_days, settings.audit_log_days
                ),
            ))
            .await?;
    }
    Ok(Purged {
        signins,
        audit_events,
        flows,
        request_ids,
    })
}
