//! Retention (certgate_core::retention) on both backends: the sign-in log and the audit log
//! lose their rows past retention in bounded batches, expired sign-in flows and SAML request IDs
//! go, and everything younger stays.

mod common;

use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::federation::FederationStore;
use certgate_core::login_flow::{secret_hash, FlowStep, LoginFlow, LoginFlowStore};
use certgate_core::retention::{purge, Purged, RetentionSettings};
use certgate_core::signin::{SignInLog, SignInQuery, SignInRecord, SignInResult};
use certgate_pki::UnixTime;

use common::{on_both_backends, TestDb};

on_both_backends! {
    retention_removes_only_rows_past_their_time
        => sqlite_retention_removes_only_rows_past_their_time,
           postgres_retention_removes_only_rows_past_their_time;
    purges_are_bounded_by_their_batch
        => sqlite_purges_are_bounded_by_their_batch, postgres_purges_are_bounded_by_their_batch;
}

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

fn signin(at: i64, tag: &str) -> SignInRecord {
    SignInRecord {
        at: UnixTime(at),
        correlation_id: format!("corr-{tag}"),
        client_address: "192.0.2.1".into(),
        application: "certauth".into(),
        certificate_subject: None,
        certificate_issuer: None,
        certificate_serial: None,
        certificate_thumbprint: None,
        user: Some("alice@contoso.example".into()),
        binding_rule: None,
        strength: None,
        result: SignInResult::Success,
        reason_code: "ok".into(),
        detail: tag.into(),
    }
}

fn event(at: i64, tag: &str) -> AuditEvent {
    AuditEvent::new(UnixTime(at), "cli:admin", "ca.add", tag, "ok", tag)
}

fn flow(tag: &str, expires_at: i64) -> LoginFlow {
    LoginFlow {
        id_hash: secret_hash(tag),
        browser_hash: secret_hash(&format!("browser {tag}")),
        created_at: UnixTime(expires_at - 600),
        expires_at: UnixTime(expires_at),
        request: "{}".into(),
        step: FlowStep::Certificate,
        identity: None,
        correlation_id: None,
    }
}

async fn all_signins(store: &certgate_store::SqlStore) -> Vec<String> {
    let mut details: Vec<String> = store
        .signins(&SignInQuery {
            limit: 1000,
            ..SignInQuery::default()
        })
        .await
        .expect("signins")
        .into_iter()
        .map(|r| r.detail)
        .collect();
    details.sort();
    details
}

async fn retention_removes_only_rows_past_their_time(db: &TestDb) {
    let store = db.open().await;
    let settings = RetentionSettings {
        signin_log_days: 90,
        audit_log_days: 365,
        batch_size: 2,
        max_batches_per_run: 100,
    };
    // Sign-ins: two past 90 days, one exactly at the cutoff (kept), one recent.
    for (at, tag) in [
        (NOW - 200 * DAY, "old-1"),
        (NOW - 91 * DAY, "old-2"),
        (NOW - 90 * DAY, "at-cutoff"),
        (NOW - DAY, "recent"),
    ] {
        store.append_signin(&signin(at, tag)).await.expect("append");
    }
    for (at, tag) in [
        (NOW - 400 * DAY, "audit-old-1"),
        (NOW - 366 * DAY, "audit-old-2"),
        (NOW - 366 * DAY, "audit-old-3"),
        (NOW - 100 * DAY, "audit-young"),
    ] {
        store.append_audit(&event(at, tag)).await.expect("audit");
    }
    store.insert_flow(&flow("expired", NOW - 1)).await.unwrap();
    store.insert_flow(&flow("live", NOW + 60)).await.unwrap();
    assert!(store
        .remember_request_id("https://sp.example", "_old", UnixTime(NOW - 1))
        .await
        .unwrap());
    assert!(store
        .remember_request_id("https://sp.example", "_live", UnixTime(NOW + 60))
        .await
        .unwrap());

    let purged = purge(&store, &settings, UnixTime(NOW))
        .await
        .expect("purge");
    assert_eq!(
        purged,
        Purged {
            signins: 2,
            audit_events: 3,
            flows: 1,
            request_ids: 1,
        }
    );
    assert_eq!(all_signins(&store).await, ["at-cutoff", "recent"]);
    let audit = store.audit_events(100).await.expect("events");
    let targets: Vec<&str> = audit.iter().map(|e| e.target.as_str()).collect();
    // The purge's own audit event, newest first, and the young event.
    assert_eq!(targets, ["signin_log,audit_log", "audit-young"]);
    assert!(store.flow(&secret_hash("expired")).await.unwrap().is_none());
    assert!(store.flow(&secret_hash("live")).await.unwrap().is_some());
    // The live request ID is still a replay; the expired one was forgotten.
    assert!(!store
        .remember_request_id("https://sp.example", "_live", UnixTime(NOW + 60))
        .await
        .unwrap());
    assert!(store
        .remember_request_id("https://sp.example", "_old", UnixTime(NOW + 60))
        .await
        .unwrap());
}

async fn purges_are_bounded_by_their_batch(db: &TestDb) {
    let store = db.open().await;
    let records: Vec<SignInRecord> = (0..7)
        .map(|i| signin(NOW - 100 * DAY + i, &format!("old-{i}")))
        .collect();
    store.append_signins(&records).await.expect("append");
    for i in 0..7 {
        store
            .append_audit(&event(NOW - 400 * DAY + i, &format!("old-{i}")))
            .await
            .unwrap();
    }
    // One statement deletes at most its batch, oldest first.
    let cutoff = UnixTime(NOW - 90 * DAY);
    assert_eq!(store.purge_signins(cutoff, 3).await.unwrap(), 3);
    assert_eq!(
        all_signins(&store).await,
        ["old-3", "old-4", "old-5", "old-6"]
    );
    assert_eq!(store.purge_audit_events(cutoff, 5).await.unwrap(), 5);
    assert_eq!(store.audit_events(100).await.unwrap().len(), 2);
}
