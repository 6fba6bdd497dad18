//! The Temporary Access Pass suite: the `AccessPassStore` port and the access pass service on
//! it, run against both backends (harness: common/mod.rs). The race test uses two stores with
//! their own pools, as two server nodes on one database would.

mod common;

use std::sync::Arc;

use certgate_core::access_pass::{
    AccessPassService, AccessPassStore, MAX_FAILED_ATTEMPTS, MAX_LIFETIME_SECONDS,
    MIN_LIFETIME_SECONDS,
};
use certgate_core::clock::FixedClock;
use certgate_core::store::AuditLog;
use certgate_core::totp::{TotpService, TotpSettings, TotpStore, WhenEnrolled};
use certgate_pki::UnixTime;
use certgate_store::SqlStore;
use sqlx::{Connection, Row};

use common::{on_both_backends, TestDb};

on_both_backends! {
    a_pass_is_stored_hashed_works_once_and_is_audited
        => sqlite_a_pass_is_stored_hashed_works_once_and_is_audited,
           postgres_a_pass_is_stored_hashed_works_once_and_is_audited;
    a_pass_expires_and_its_lifetime_is_bounded
        => sqlite_a_pass_expires_and_its_lifetime_is_bounded,
           postgres_a_pass_expires_and_its_lifetime_is_bounded;
    a_new_pass_replaces_the_old
        => sqlite_a_new_pass_replaces_the_old, postgres_a_new_pass_replaces_the_old;
    wrong_passes_void_the_live_one
        => sqlite_wrong_passes_void_the_live_one, postgres_wrong_passes_void_the_live_one;
    concurrent_redemptions_have_one_winner
        => sqlite_concurrent_redemptions_have_one_winner,
           postgres_concurrent_redemptions_have_one_winner;
    reset_removes_the_authenticator_and_the_pass
        => sqlite_reset_removes_the_authenticator_and_the_pass,
           postgres_reset_removes_the_authenticator_and_the_pass;
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

async fn redeem(store: &SqlStore, clock: &FixedClock, pass: &str) -> Result<(), &'static str> {
    service(store, clock)
        .redeem(ALICE, pass, "corr-1")
        .await
        .map_err(|e| e.code())
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

async fn a_pass_is_stored_hashed_works_once_and_is_audited(db: &TestDb) {
    let store = db.open().await;
    let clock = FixedClock::at(START);
    let issued = service(&store, &clock)
        .create(ALICE, ALICE_UPN, None)
        .await
        .expect("create");
    assert_eq!(
        issued.expires_at,
        UnixTime(START + 3600),
        "one hour by default"
    );
    assert!(issued.pass.len() >= 26, "{}", issued.pass.len());

    // Only the hash is stored.
    let stored = store.access_pass(ALICE).await.expect("read").expect("pass");
    assert_eq!(stored.pass_hash.len(), 32);
    assert_eq!(stored.created_by, "cli:admin");
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
    let text = issued.pass.replace('-', "");
    assert!(!hash
        .windows(8)
        .any(|w| text.as_bytes().windows(8).any(|t| t == w)));
    let _ = conn.close().await;

    assert_eq!(
        redeem(&store, &clock, "AAAA-BBBB").await,
        Err("access-pass-invalid")
    );
    // Typed in lower case with spaces: the same pass.
    let typed = issued.pass.to_lowercase().replace('-', " ");
    assert_eq!(redeem(&store, &clock, &typed).await, Ok(()));
    assert_eq!(
        redeem(&store, &clock, &issued.pass).await,
        Err("access-pass-used")
    );
    assert_eq!(
        service(&store, &clock)
            .status(ALICE)
            .await
            .expect("status")
            .live_until,
        None
    );
    assert_eq!(outcomes(&store, "access_pass.create").await, ["ok"]);
    assert_eq!(
        outcomes(&store, "access_pass.redeem").await,
        ["access-pass-invalid", "ok", "access-pass-used"]
    );
}

async fn a_pass_expires_and_its_lifetime_is_bounded(db: &TestDb) {
    let store = db.open().await;
    let clock = FixedClock::at(START);
    for lifetime in [MIN_LIFETIME_SECONDS - 1, MAX_LIFETIME_SECONDS + 1, 0, -60] {
        let error = service(&store, &clock)
            .create(ALICE, ALICE_UPN, Some(lifetime))
            .await
            .expect_err("out of range");
        assert_eq!(error.code(), "access-pass-lifetime-invalid");
    }
    assert_eq!(store.access_pass(ALICE).await.expect("read"), None);

    let issued = service(&store, &clock)
        .create(ALICE, ALICE_UPN, Some(MIN_LIFETIME_SECONDS))
        .await
        .expect("create");
    assert_eq!(
        service(&store, &clock)
            .status(ALICE)
            .await
            .expect("status")
            .live_until,
        Some(UnixTime(START + MIN_LIFETIME_SECONDS))
    );
    clock.advance(MIN_LIFETIME_SECONDS);
    assert_eq!(
        redeem(&store, &clock, &issued.pass).await,
        Err("access-pass-expired")
    );
    assert_eq!(
        service(&store, &clock)
            .status(ALICE)
            .await
            .expect("status")
            .live_until,
        None
    );
    // The store's compare-and-set refuses an expired pass on its own too.
    let stored = store.access_pass(ALICE).await.expect("read").expect("pass");
    let audit =
        certgate_core::audit::AuditEvent::new(clock_now(&clock), "test", "x", ALICE, "ok", "");
    assert!(!store
        .consume_access_pass(
            ALICE,
            &stored.pass_hash,
            clock_now(&clock),
            MAX_FAILED_ATTEMPTS,
            &audit
        )
        .await
        .expect("consume"));
}

fn clock_now(clock: &FixedClock) -> UnixTime {
    use certgate_core::clock::Clock as _;
    clock.now()
}

async fn a_new_pass_replaces_the_old(db: &TestDb) {
    let store = db.open().await;
    let clock = FixedClock::at(START);
    let first = service(&store, &clock)
        .create(ALICE, ALICE_UPN, None)
        .await
        .expect("first");
    let second = service(&store, &clock)
        .create(ALICE, ALICE_UPN, None)
        .await
        .expect("second");
    assert_ne!(*first.pass, *second.pass);
    assert_eq!(
        redeem(&store, &clock, &first.pass).await,
        Err("access-pass-invalid")
    );
    assert_eq!(redeem(&store, &clock, &second.pass).await, Ok(()));
    // Redeemed: nothing is live until the next pass.
    assert_eq!(
        redeem(&store, &clock, &first.pass).await,
        Err("access-pass-not-issued")
    );
}

async fn wrong_passes_void_the_live_one(db: &TestDb) {
    let store = db.open().await;
    let clock = FixedClock::at(START);
    assert_eq!(
        redeem(&store, &clock, "AAAA").await,
        Err("access-pass-not-issued")
    );
    let issued = service(&store, &clock)
        .create(ALICE, ALICE_UPN, None)
        .await
        .expect("create");
    for _ in 1..MAX_FAILED_ATTEMPTS {
        assert_eq!(
            redeem(&store, &clock, "AAAA").await,
            Err("access-pass-invalid")
        );
    }
    assert_eq!(
        redeem(&store, &clock, "AAAA").await,
        Err("access-pass-locked-out")
    );
    assert_eq!(
        redeem(&store, &clock, &issued.pass).await,
        Err("access-pass-locked-out"),
        "after the limit even the right pass fails"
    );
    assert_eq!(
        service(&store, &clock)
            .status(ALICE)
            .await
            .expect("status")
            .live_until,
        None
    );
    // A new pass starts afresh.
    let again = service(&store, &clock)
        .create(ALICE, ALICE_UPN, None)
        .await
        .expect("create");
    assert_eq!(redeem(&store, &clock, &again.pass).await, Ok(()));
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

async fn reset_removes_the_authenticator_and_the_pass(db: &TestDb) {
    let store = db.open().await;
    let clock = FixedClock::at(START);
    let settings = TotpSettings::new("Contoso", b"passphrase".to_vec());
    TotpService::new(&store, &clock, &settings, "test")
        .begin_enrollment(ALICE, ALICE_UPN, WhenEnrolled::Refuse)
        .await
        .expect("pending authenticator");
    let issued = service(&store, &clock)
        .create(ALICE, ALICE_UPN, None)
        .await
        .expect("create");
    let reset = service(&store, &clock)
        .reset_second_factor(ALICE, ALICE_UPN)
        .await
        .expect("reset");
    assert!(
        reset.authenticator_removed && reset.access_pass_removed,
        "{reset:?}"
    );
    assert!(store
        .totp_secrets(ALICE)
        .await
        .expect("secrets")
        .pending
        .is_none());
    assert_eq!(
        redeem(&store, &clock, &issued.pass).await,
        Err("access-pass-not-issued")
    );
    // Nothing left: still audited, and says so.
    let reset = service(&store, &clock)
        .reset_second_factor(ALICE, ALICE_UPN)
        .await
        .expect("reset");
    assert!(!reset.authenticator_removed && !reset.access_pass_removed);
    assert_eq!(outcomes(&store, "second_factor.reset").await, ["ok", "ok"]);
}
