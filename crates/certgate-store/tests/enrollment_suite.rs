//! The enrollment suite: what the SQL store itself guarantees behind the `EnrollmentCodeStore`
//! port, written once and run against both backends (see common/mod.rs): codes round-trip
//! under the id the store gives them, are consumed once only while live (also when two nodes
//! — two connection pools — race for one), each consumption audited, and go with their user.
//! The rules of codes and of the enrollment with one are tested once, in memory, in
//! certgate-core's tests/enrollment.rs.

mod common;

use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::directory::{add_user, remove_user, UserDraft};
use certgate_core::enrollment::{
    create_enrollment_code, EnrollmentCodeHash, EnrollmentCodeId, EnrollmentCodeRecord,
    EnrollmentCodeStore,
};
use certgate_pki::UnixTime;
use certgate_store::SqlStore;

use common::{on_both_backends, TestDb};

on_both_backends! {
    codes_round_trip_and_are_consumed_once_only_while_live
        => sqlite_codes_round_trip_and_are_consumed_once_only_while_live,
           postgres_codes_round_trip_and_are_consumed_once_only_while_live;
    a_code_is_consumed_once_even_by_two_nodes_at_once
        => sqlite_a_code_is_consumed_once_even_by_two_nodes_at_once,
           postgres_a_code_is_consumed_once_even_by_two_nodes_at_once;
    removing_a_user_removes_their_codes
        => sqlite_removing_a_user_removes_their_codes,
           postgres_removing_a_user_removes_their_codes;
}

const ACTOR: &str = "cli:test";
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;

async fn alice(store: &SqlStore) {
    let mut draft = UserDraft::new("alice@contoso.example");
    draft.display_name = Some("Alice Smith".into());
    draft.mail = Some("alice.smith@contoso.example".into());
    add_user(store, draft, UnixTime(T0 - 60), ACTOR)
        .await
        .expect("add alice");
}

async fn audit_actions(store: &SqlStore) -> Vec<AuditEvent> {
    store.audit_events(100).await.expect("audit")
}

async fn codes_round_trip_and_are_consumed_once_only_while_live(db: &TestDb) {
    let store = db.open().await;
    alice(&store).await;
    let now = UnixTime(T0);
    let (record, _) = create_enrollment_code(&store, "alice@contoso.example", 24, now, ACTOR)
        .await
        .expect("code");
    assert!(record.id.0 > 0);
    let (second, _) = create_enrollment_code(&store, "alice@contoso.example", 1, now, ACTOR)
        .await
        .expect("second");
    assert!(second.id > record.id);
    // Another process reads the record as it was written.
    drop(store);
    let store = db.open().await;
    let found = store
        .enrollment_code_by_hash(&record.hash)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found, record);
    assert!(store
        .enrollment_code_by_hash(&EnrollmentCodeHash([0; 32]))
        .await
        .expect("lookup")
        .is_none());
    // The event of the creation names the code by the id the store gave it.
    let created = audit_actions(&store).await;
    assert!(
        created[1].target.ends_with(&format!("({})", record.id)),
        "{created:?}"
    );
    // A second code with the same hash is refused.
    let copy = EnrollmentCodeRecord {
        id: EnrollmentCodeId(0),
        ..record.clone()
    };
    let event = AuditEvent::new(now, ACTOR, "est.code-create", "alice", "ok", "copy");
    assert!(matches!(
        store.insert_enrollment_code(&copy, &event).await,
        Err(certgate_core::store::StoreError::Conflict { .. })
    ));

    let use_event = AuditEvent::new(now, ACTOR, "est.code-use", "alice", "ok", "used");
    assert!(store
        .consume_enrollment_code(record.id, now, &use_event)
        .await
        .expect("consume"));
    assert!(
        !store
            .consume_enrollment_code(record.id, now, &use_event)
            .await
            .expect("consume again"),
        "used"
    );
    store
        .record_enrollment_code_serial(record.id, "0a0b")
        .await
        .expect("serial");
    let used = store
        .enrollment_code_by_hash(&record.hash)
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(used.used_at, Some(now));
    assert_eq!(used.used_for_serial.as_deref(), Some("0a0b"));
    // An expired code cannot be consumed.
    let later = UnixTime(T0 + 3600);
    assert!(!store
        .consume_enrollment_code(second.id, later, &use_event)
        .await
        .expect("expired"));
    assert_eq!(
        store
            .usable_enrollment_codes(now)
            .await
            .expect("list")
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [second.id]
    );
    assert!(store
        .usable_enrollment_codes(later)
        .await
        .expect("list")
        .is_empty());
    let events = audit_actions(&store).await;
    assert_eq!(
        events.iter().filter(|e| e.action == "est.code-use").count(),
        1,
        "a refused consumption writes no use event"
    );
}

async fn a_code_is_consumed_once_even_by_two_nodes_at_once(db: &TestDb) {
    let node_a = db.open().await;
    let node_b = db.open().await;
    alice(&node_a).await;
    let now = UnixTime(T0);
    for _ in 0..5 {
        let (record, _) = create_enrollment_code(&node_a, "alice@contoso.example", 24, now, ACTOR)
            .await
            .expect("code");
        let event = AuditEvent::new(now, ACTOR, "est.code-use", "alice", "ok", "used");
        let (a, b) = tokio::join!(
            node_a.consume_enrollment_code(record.id, now, &event),
            node_b.consume_enrollment_code(record.id, now, &event),
        );
        let wins = [a.expect("node a"), b.expect("node b")];
        assert_eq!(
            wins.iter().filter(|won| **won).count(),
            1,
            "exactly one node uses the code: {wins:?}"
        );
    }
}

async fn removing_a_user_removes_their_codes(db: &TestDb) {
    let store = db.open().await;
    alice(&store).await;
    let mut bob = UserDraft::new("bob@contoso.example");
    bob.display_name = Some("Bob".into());
    add_user(&store, bob, UnixTime(T0 - 60), ACTOR)
        .await
        .expect("add bob");
    let now = UnixTime(T0);
    let (alices, _) = create_enrollment_code(&store, "alice@contoso.example", 24, now, ACTOR)
        .await
        .expect("code");
    let (bobs, _) = create_enrollment_code(&store, "bob@contoso.example", 24, now, ACTOR)
        .await
        .expect("code");
    remove_user(&store, "alice@contoso.example", now, ACTOR)
        .await
        .expect("removed");
    assert!(store
        .enrollment_code_by_hash(&alices.hash)
        .await
        .expect("lookup")
        .is_none());
    assert_eq!(
        store.usable_enrollment_codes(now).await.expect("list"),
        [bobs]
    );
}
