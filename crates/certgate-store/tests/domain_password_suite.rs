//! The domain-password lockout store suite: what the SQL store guarantees behind the
//! `DomainPasswordLockoutStore` port (a round trip of the state, the compare-and-set on the
//! revision, two nodes on one database counting failures together), run against both backends
//! (the harness is common/mod.rs). The lockout rules themselves are tested once, purely, in
//! certgate-core's domain_password module; the server's use of them against a real directory
//! in certgate-server's tests/federation.rs. The "nodes" here are stores with their own pools.

mod common;

use std::num::NonZeroU32;
use std::sync::Arc;

use certgate_core::domain_password::{
    DomainPasswordError, DomainPasswordLockoutStore, LockoutPolicy, LockoutState,
};
use certgate_core::totp::SwapOutcome;
use certgate_pki::UnixTime;
use certgate_store::SqlStore;

use common::{on_both_backends, TestDb};

on_both_backends! {
    the_state_round_trips
        => sqlite_the_state_round_trips,
           postgres_the_state_round_trips;
    a_write_at_a_stale_revision_changes_nothing
        => sqlite_a_write_at_a_stale_revision_changes_nothing,
           postgres_a_write_at_a_stale_revision_changes_nothing;
    two_nodes_count_failures_together
        => sqlite_two_nodes_count_failures_together,
           postgres_two_nodes_count_failures_together;
}

const NOW: i64 = 1_700_000_000;
const ALICE: &str = "6f2a1c3e-0000-4000-8000-00000000a11c";
const BOB: &str = "6f2a1c3e-0000-4000-8000-000000000b0b";

async fn the_state_round_trips(db: &TestDb) {
    let store = db.open().await;
    assert_eq!(store.password_lockout(ALICE).await.expect("read"), None);
    let locked = LockoutState {
        failures: 5,
        locked_until: Some(UnixTime(NOW + 900)),
    };
    assert_eq!(
        store
            .swap_password_lockout(ALICE, None, &locked, UnixTime(NOW))
            .await
            .expect("insert"),
        SwapOutcome::Applied
    );
    let stored = store
        .password_lockout(ALICE)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(stored.state, locked);
    // Another user's row is their own.
    assert_eq!(store.password_lockout(BOB).await.expect("read"), None);
    // A reset keeps the row, with a new revision.
    assert_eq!(
        store
            .swap_password_lockout(
                ALICE,
                Some(stored.revision),
                &LockoutState::default(),
                UnixTime(NOW + 1)
            )
            .await
            .expect("reset"),
        SwapOutcome::Applied
    );
    let reset = store
        .password_lockout(ALICE)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(reset.state, LockoutState::default());
    assert!(reset.revision > stored.revision);
    // A restart (a new pool on the same database) reads the same.
    drop(store);
    let reopened = db.open().await;
    assert_eq!(
        reopened.password_lockout(ALICE).await.expect("read"),
        Some(reset)
    );
}

async fn a_write_at_a_stale_revision_changes_nothing(db: &TestDb) {
    let store = db.open().await;
    let other_node = db.open().await;
    let one = LockoutState {
        failures: 1,
        locked_until: None,
    };
    assert_eq!(
        store
            .swap_password_lockout(ALICE, None, &one, UnixTime(NOW))
            .await
            .expect("insert"),
        SwapOutcome::Applied
    );
    // A second first insert (another node that also read no row) is stale, not an error.
    assert_eq!(
        other_node
            .swap_password_lockout(ALICE, None, &one, UnixTime(NOW))
            .await
            .expect("insert"),
        SwapOutcome::Stale
    );
    let read = store
        .password_lockout(ALICE)
        .await
        .expect("read")
        .expect("row");
    let two = LockoutState {
        failures: 2,
        locked_until: None,
    };
    assert_eq!(
        other_node
            .swap_password_lockout(ALICE, Some(read.revision), &two, UnixTime(NOW))
            .await
            .expect("swap"),
        SwapOutcome::Applied
    );
    // The same revision again: the row moved on, nothing is written.
    assert_eq!(
        store
            .swap_password_lockout(
                ALICE,
                Some(read.revision),
                &LockoutState::default(),
                UnixTime(NOW)
            )
            .await
            .expect("swap"),
        SwapOutcome::Stale
    );
    assert_eq!(
        store
            .password_lockout(ALICE)
            .await
            .expect("read")
            .expect("row")
            .state,
        two
    );
    // A user without a row: a write at a revision finds nothing to change.
    assert_eq!(
        store
            .swap_password_lockout(BOB, Some(1), &two, UnixTime(NOW))
            .await
            .expect("swap"),
        SwapOutcome::Stale
    );
    assert_eq!(store.password_lockout(BOB).await.expect("read"), None);
}

/// Records one wrong password for `user_id` as a server node does: read, apply the policy,
/// compare-and-set, and on a stale revision read again.
async fn record_wrong_password(
    store: &SqlStore,
    policy: &LockoutPolicy,
    user_id: &str,
) -> Result<(), DomainPasswordError> {
    loop {
        let stored = store.password_lockout(user_id).await.expect("read");
        let recorded = policy.record(
            &stored.map(|s| s.state).unwrap_or_default(),
            Err(DomainPasswordError::Wrong),
            UnixTime(NOW),
        );
        let next = recorded.next.expect("a wrong password is written");
        match store
            .swap_password_lockout(user_id, stored.map(|s| s.revision), &next, UnixTime(NOW))
            .await
            .expect("swap")
        {
            SwapOutcome::Applied => return recorded.reported,
            SwapOutcome::Stale => tokio::task::yield_now().await,
        }
    }
}

async fn two_nodes_count_failures_together(db: &TestDb) {
    const PER_NODE: u32 = 6;
    let nodes = [Arc::new(db.open().await), Arc::new(db.open().await)];
    let policy = LockoutPolicy {
        max_failures: NonZeroU32::new(2 * PER_NODE).expect("non-zero"),
        lockout_seconds: 900,
    };
    let mut tasks = Vec::new();
    for node in &nodes {
        for _ in 0..PER_NODE {
            let node = Arc::clone(node);
            tasks.push(tokio::spawn(async move {
                record_wrong_password(&node, &policy, ALICE).await
            }));
        }
    }
    let mut locked = 0;
    for task in tasks {
        if let Err(DomainPasswordError::LockedOut { .. }) = task.await.expect("task") {
            locked += 1;
        }
    }
    // Every failure counted, on whichever node: exactly the last one reached the limit.
    assert_eq!(locked, 1);
    for node in &nodes {
        let state = node
            .password_lockout(ALICE)
            .await
            .expect("read")
            .expect("row")
            .state;
        assert_eq!(state.failures, 2 * PER_NODE);
        assert_eq!(state.locked_until, Some(UnixTime(NOW + 900)));
        assert_eq!(
            policy.check(&state, UnixTime(NOW + 899)),
            Err(DomainPasswordError::LockedOut {
                until: UnixTime(NOW + 900)
            })
        );
    }
}
