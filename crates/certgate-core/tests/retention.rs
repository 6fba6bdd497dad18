//! The retention rules (`certgate_core::retention`), each tested once, on the in-memory store
//! (`testing::MemoryStore`) at a fixed time: what is past its retention goes and what is at the
//! cutoff or younger stays, expired flows and SAML request IDs go, a run is bounded by its
//! budget of batches and leaves the rest to the next, and a run that removed log rows says so
//! in the audit log. certgate-store's retention suite keeps the SQL purge statements (cutoffs,
//! batch bounds, oldest first) on both databases.

use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::federation::FederationStore;
use certgate_core::login_flow::{secret_hash, FlowStep, LoginFlow, LoginFlowStore};
use certgate_core::retention::{purge, Purged, RetentionSettings};
use certgate_core::signin::{SignInLog, SignInQuery, SignInRecord, SignInResult};
use certgate_core::testing::{block_on, MemoryStore};
use certgate_pki::UnixTime;

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

fn signins_left(store: &MemoryStore) -> Vec<String> {
    let mut details: Vec<String> = block_on(store.signins(&SignInQuery {
        limit: 1000,
        ..SignInQuery::default()
    }))
    .expect("signins")
    .into_iter()
    .map(|record| record.detail)
    .collect();
    details.sort();
    details
}

#[test]
fn rows_past_their_retention_go_and_the_purge_is_audited() {
    block_on(async {
        let store = MemoryStore::new();
        let settings = RetentionSettings {
            signin_log_days: 90,
            audit_log_days: 365,
            batch_size: 2,
            max_batches_per_run: 100,
        };
        // Two sign-ins past 90 days, one exactly at the cutoff (kept), one recent.
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
            (NOW - 365 * DAY, "audit-at-cutoff"),
        ] {
            store.append_audit(&event(at, tag)).await.expect("audit");
        }
        store
            .insert_flow(&flow("expired", NOW - 1))
            .await
            .expect("flow");
        store
            .insert_flow(&flow("live", NOW + 60))
            .await
            .expect("flow");
        assert!(store
            .remember_request_id("https://sp.example", "_old", UnixTime(NOW - 1))
            .await
            .expect("remember"));
        assert!(store
            .remember_request_id("https://sp.example", "_live", UnixTime(NOW + 60))
            .await
            .expect("remember"));

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
        assert_eq!(signins_left(&store), ["at-cutoff", "recent"]);
        let audit = store.audit_events(100).await.expect("events");
        let targets: Vec<&str> = audit.iter().map(|e| e.target.as_str()).collect();
        assert_eq!(targets, ["signin_log,audit_log", "audit-at-cutoff"]);
        assert_eq!(audit[0].action, "retention.purge");
        assert_eq!(audit[0].actor, "scheduler");
        assert_eq!(
            audit[0].detail,
            "removed 2 sign-in records older than 90 days and 3 audit events older than 365 days"
        );
        assert!(store
            .flow(&secret_hash("expired"))
            .await
            .expect("read")
            .is_none());
        assert!(store
            .flow(&secret_hash("live"))
            .await
            .expect("read")
            .is_some());
        // The live request ID is still a replay; the expired one was forgotten.
        assert!(!store
            .remember_request_id("https://sp.example", "_live", UnixTime(NOW + 60))
            .await
            .expect("remember"));
        assert!(store
            .remember_request_id("https://sp.example", "_old", UnixTime(NOW + 60))
            .await
            .expect("remember"));

        // A second run finds nothing and audits nothing.
        let again = purge(&store, &settings, UnixTime(NOW))
            .await
            .expect("purge");
        assert_eq!(again, Purged::default());
        assert_eq!(store.audit_events(100).await.expect("events").len(), 2);
    });
}

#[test]
fn a_run_that_removed_only_flows_and_request_ids_audits_nothing() {
    block_on(async {
        let store = MemoryStore::new();
        store
            .insert_flow(&flow("expired", NOW - 1))
            .await
            .expect("flow");
        assert!(store
            .remember_request_id("https://sp.example", "_old", UnixTime(NOW - 1))
            .await
            .expect("remember"));
        let purged = purge(&store, &RetentionSettings::default(), UnixTime(NOW))
            .await
            .expect("purge");
        assert_eq!((purged.flows, purged.request_ids), (1, 1));
        assert!(store.audit_events(10).await.expect("events").is_empty());
    });
}

#[test]
fn a_run_stops_after_its_budget_of_batches_and_the_next_run_takes_the_rest() {
    block_on(async {
        let store = MemoryStore::new();
        let records: Vec<SignInRecord> = (0..4)
            .map(|i| signin(NOW - 100 * DAY + i, &format!("old-{i}")))
            .collect();
        store.append_signins(&records).await.expect("append");
        for i in 0..2 {
            store
                .append_audit(&event(NOW - 400 * DAY + i, &format!("old-{i}")))
                .await
                .expect("audit");
        }
        let settings = RetentionSettings {
            batch_size: 1,
            max_batches_per_run: 2,
            ..RetentionSettings::default()
        };
        let first = purge(&store, &settings, UnixTime(NOW))
            .await
            .expect("purge");
        assert_eq!((first.signins, first.audit_events), (2, 2));
        assert_eq!(signins_left(&store), ["old-2", "old-3"], "oldest first");
        let second = purge(&store, &settings, UnixTime(NOW))
            .await
            .expect("purge");
        // The first run's own audit event is young: it stays.
        assert_eq!((second.signins, second.audit_events), (2, 0));
        assert!(signins_left(&store).is_empty());

        // A batch size of 0 would delete nothing for ever: it counts as 1.
        store
            .append_signin(&signin(NOW - 100 * DAY, "zero"))
            .await
            .expect("append");
        let zero = RetentionSettings {
            batch_size: 0,
            max_batches_per_run: 0,
            ..RetentionSettings::default()
        };
        assert_eq!(
            purge(&store, &zero, UnixTime(NOW))
                .await
                .expect("purge")
                .signins,
            1
        );
    });
}
