//! The Temporary Access Pass suite: what the SQL store itself guarantees behind the
//! `AccessPassStore` port (what its table holds, the compare-and-set of a redemption on its
//! own, one winner among redemptions racing on two nodes, a reset in one transaction), run
//! against both backends (harness: common/mod.rs). The pass's rules (works once, expires,
//! bounded lifetime, replaced, voided by wrong passes, the audit trail) are tested once, in
//! memory, in certgate-core's tests/access_pass.rs. The race test uses two stores with their
//! own pools, as two server nodes on one database would.

mod common;

use std::sync::Arc;

use certgate_core::access_pass::{AccessPassService, AccessPassStore, StoredAccessPass};
use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::clock::FixedClock;
use certgate_core::totp::{Digits, NewTotpSecret, TotpAlgorithm, TotpStore};
use certgate_pki::UnixTime;
use certgate_store::SqlStore;
use sqlx::{Connection, Row};

use common::{on_both_backends, TestDb};

on_both_backends! {
    the_table_holds_only_the_hash_of_a_pass
        => sqlite_the_table_holds_only_the_hash_of_a_pass,
           postgres_the_table_holds_only_the_hash_of_a_pass;
    the_store_consumes_only_a_matching_live_pass_once
        => sqlite_the_store_consumes_only_a_matching_live_pass_once,
           postgres_the_store_consumes_only_a_matching_live_pass_once;
    concurrent_redemptions_have_one_winner
        => sqlite_concurrent_redemptions_have_one_winner,
           postgres_concurrent_redemptions_have_one_winner;
    a_reset_deletes_the_secrets_and_the_pass_and_reports_what_was_there
        => sqlite_a_reset_deletes_the_secrets_and_the_pass_and_reports_what_was_there,
           postgres_a_reset_deletes_the_secrets_and_the_pass_and_reports_what_was_there;
}

const START: i64 = 1_700_000_010;
const ALICE: &str = "6f2a1c3e-0000-4000-8000-00000000a11c";
const ALICE_UPN: &str = "alice@contoso.com";

fn service<'a>(
    store: &'a SqlStore,
    clock: &'a FixedClock,
) -> AccessPassService<'a, SqlStore, FixedClock> {
    AccessPassService::new(store, clock, "cli:admin")
}

async fn outcomes(store: &SqlStore, action: &str) -> Vec<String> {
    let mut events = store.audit_events(100).await.expect("audit events");
    events.reverse();
    events
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| {
            assert_eq!(e.target, ALICE);
            e.outcome
        })
        .collect()
}

async fn the_table_holds_only_the_hash_of_a_pass(db: &TestDb) {
    let store = db.open().await;
    let clock = FixedClock::at(START);
    let issued = service(&store, &clock)
        .create(ALICE, ALICE_UPN, None)
        .await
        .expect("create");
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(db.url())
        .await
        .expect("connect");
    let rows = sqlx::query("SELECT * FROM access_passes")
        .fetch_all(&mut conn)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    let hash: Vec<u8> = rows[0].try_get("pass_hash").expect("hash");
    assert_eq!(hash.len(), 32);
    let text = issued.pass.replace('-', "");
    for row in &rows {
        for column in 0..row.len() {
            let Ok(value) = row.try_get::<String, _>(column) else {
                continue;
            };
            let value = value.replace('-', "").to_uppercase();
            assert!(!value.contains(&text), "column {column} holds the pass");
        }
    }
    assert!(!hash
        .windows(8)
        .any(|w| text.as_bytes().windows(8).any(|t| t == w)));
    let _ = conn.close().await;
}

async fn the_store_consumes_only_a_matching_live_pass_once(db: &TestDb) {
    // The compare-and-set on its own, without the service's checks before it.
    const MAX_FAILED: u32 = 3;
    let store = db.open().await;
    let event = |action: &str| AuditEvent::new(UnixTime(START), "test", action, ALICE, "ok", "");
    let pass = StoredAccessPass {
        user_id: ALICE.to_owned(),
        pass_hash: vec![7; 32],
        created_at: UnixTime(START),
        expires_at: UnixTime(START + 600),
        created_by: "cli:admin".to_owned(),
        consumed_at: None,
        failed_attempts: 0,
    };
    store
        .put_access_pass(&pass, &event("access_pass.create"))
        .await
        .expect("put");
    let consume = |hash: Vec<u8>, at: i64| {
        let store = &store;
        async move {
            store
                .consume_access_pass(
                    ALICE,
                    &hash,
                    UnixTime(at),
                    MAX_FAILED,
                    &event("access_pass.redeem"),
                )
                .await
                .expect("consume")
        }
    };
    assert!(!consume(vec![8; 32], START).await, "another hash");
    assert!(
        !consume(pass.pass_hash.clone(), START + 600).await,
        "expired"
    );
    for _ in 0..MAX_FAILED {
        store
            .record_access_pass_failure(ALICE, &event("access_pass.redeem"))
            .await
            .expect("failure");
    }
    assert!(
        !consume(pass.pass_hash.clone(), START).await,
        "too many failures"
    );
    let stored = store.access_pass(ALICE).await.expect("read").expect("pass");
    assert_eq!(stored.failed_attempts, MAX_FAILED);

    // A new pass (the put replaces the row) is consumed once.
    store
        .put_access_pass(&pass, &event("access_pass.create"))
        .await
        .expect("put");
    assert!(consume(pass.pass_hash.clone(), START + 1).await);
    assert!(!consume(pass.pass_hash.clone(), START + 2).await, "used");
    let stored = store.access_pass(ALICE).await.expect("read").expect("pass");
    assert_eq!(stored.consumed_at, Some(UnixTime(START + 1)));
    assert_eq!(stored.failed_attempts, 0);
    // A failure after the redemption counts against nothing.
    store
        .record_access_pass_failure(ALICE, &event("access_pass.redeem"))
        .await
        .expect("failure");
    assert_eq!(
        store
            .access_pass(ALICE)
            .await
            .expect("read")
            .expect("pass")
            .failed_attempts,
        0
    );
    // Every write but the refused consumptions is audited.
    assert_eq!(
        store.audit_events(100).await.expect("audit").len(),
        2 + MAX_FAILED as usize + 2
    );
}

async fn concurrent_redemptions_have_one_winner(db: &TestDb) {
    const RACERS: usize = 6;
    let stores = [db.open().await, db.open().await];
    let clock = Arc::new(FixedClock::at(START));
    let issued = service(&stores[0], &clock)
        .create(ALICE, ALICE_UPN, None)
        .await
        .expect("create");
    let pass = issued.pass.to_string();
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = stores[i % 2].clone();
            let (clock, pass) = (clock.clone(), pass.clone());
            tokio::spawn(async move {
                AccessPassService::new(&store, &*clock, "web")
                    .redeem(ALICE, &pass, &format!("flow-{i}"))
                    .await
                    .map_err(|e| e.code())
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.err())
            .all(|c| c == "access-pass-used"),
        "{results:?}"
    );
    let redeemed = outcomes(&stores[1], "access_pass.redeem")
        .await
        .into_iter()
        .filter(|o| o == "ok")
        .count();
    assert_eq!(redeemed, 1);
}

async fn a_reset_deletes_the_secrets_and_the_pass_and_reports_what_was_there(db: &TestDb) {
    let store = db.open().await;
    let event = |action: &str| AuditEvent::new(UnixTime(START), "test", action, ALICE, "ok", "");
    let secret = NewTotpSecret {
        sealed_secret: b"cgsk1 (stand-in ciphertext)".to_vec(),
        algorithm: TotpAlgorithm::Sha1,
        digits: Digits::Six,
    };
    store
        .put_pending_totp(ALICE, &secret, UnixTime(START), &event("totp.enroll"))
        .await
        .expect("secret");
    let pass = StoredAccessPass {
        user_id: ALICE.to_owned(),
        pass_hash: vec![7; 32],
        created_at: UnixTime(START),
        expires_at: UnixTime(START + 600),
        created_by: "cli:admin".to_owned(),
        consumed_at: None,
        failed_attempts: 0,
    };
    store
        .put_access_pass(&pass, &event("access_pass.create"))
        .await
        .expect("pass");
    // Another user's are untouched.
    store
        .put_access_pass(
            &StoredAccessPass {
                user_id: "someone else".to_owned(),
                ..pass.clone()
            },
            &event("access_pass.create"),
        )
        .await
        .expect("pass");

    let reset = store
        .reset_second_factor(ALICE, &event("second_factor.reset"))
        .await
        .expect("reset");
    assert!(
        reset.authenticator_removed && reset.access_pass_removed,
        "{reset:?}"
    );
    assert_eq!(
        store.totp_secrets(ALICE).await.expect("secrets"),
        Default::default()
    );
    assert_eq!(store.access_pass(ALICE).await.expect("read"), None);
    assert!(store
        .access_pass("someone else")
        .await
        .expect("read")
        .is_some());

    // A redeemed pass's row goes too, but only a live one counts as removed.
    store
        .put_access_pass(
            &StoredAccessPass {
                consumed_at: Some(UnixTime(START)),
                ..pass
            },
            &event("access_pass.create"),
        )
        .await
        .expect("pass");
    let reset = store
        .reset_second_factor(ALICE, &event("second_factor.reset"))
        .await
        .expect("reset");
    assert!(
        !reset.authenticator_removed && !reset.access_pass_removed,
        "{reset:?}"
    );
    assert_eq!(store.access_pass(ALICE).await.expect("read"), None);
    let resets = store
        .audit_events(100)
        .await
        .expect("audit")
        .iter()
        .filter(|e| e.action == "second_factor.reset")
        .count();
    assert_eq!(resets, 2, "audited whatever there was");
}
