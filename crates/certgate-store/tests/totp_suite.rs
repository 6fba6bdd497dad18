//! The TOTP store suite: what the SQL store itself guarantees behind the `TotpStore` port (what
//! its table holds, the compare-and-set of every verification, ids never reused, one winner
//! among verifications racing on two nodes, a lockout another node sees), written once and run
//! against both backends. The TOTP service's rules (pending until confirmed, replay, lockout,
//! reset, sealing) are tested once, in memory, in certgate-core's tests/totp.rs (the harness is common/mod.rs: SQLite in a temporary directory,
//! a fresh PostgreSQL database per test on 127.0.0.1:5432 or `CERTGATE_TEST_POSTGRES_URL`,
//! and a loud failure when PostgreSQL cannot be reached). The race tests use two stores with
//! their own pools, as two server nodes on one database would.

mod common;

use std::sync::Arc;

use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::clock::FixedClock;
use certgate_core::totp::{
    code_at, time_step, Digits, Enrollment, NewTotpSecret, SwapOutcome, TotpAlgorithm,
    TotpCounters, TotpService, TotpServiceError, TotpSettings, TotpStore, Verified, WhenEnrolled,
};
use certgate_pki::UnixTime;
use certgate_store::SqlStore;
use sqlx::{Connection, Row};

use common::{on_both_backends, TestDb};

// ---- Harness (common/mod.rs) --------------------------------------------------------------

on_both_backends! {
    a_replaced_pending_secret_gets_a_new_id_never_reused
        => sqlite_a_replaced_pending_secret_gets_a_new_id_never_reused,
           postgres_a_replaced_pending_secret_gets_a_new_id_never_reused;
    the_table_holds_only_the_sealed_secret
        => sqlite_the_table_holds_only_the_sealed_secret,
           postgres_the_table_holds_only_the_sealed_secret;
    a_lockout_is_seen_by_another_node_until_it_ends
        => sqlite_a_lockout_is_seen_by_another_node_until_it_ends,
           postgres_a_lockout_is_seen_by_another_node_until_it_ends;
    concurrent_verifications_of_one_code_accept_it_once
        => sqlite_concurrent_verifications_of_one_code_accept_it_once,
           postgres_concurrent_verifications_of_one_code_accept_it_once;
    concurrent_confirmations_of_one_code_accept_it_once
        => sqlite_concurrent_confirmations_of_one_code_accept_it_once,
           postgres_concurrent_confirmations_of_one_code_accept_it_once;
    compare_and_set_applies_once_per_revision
        => sqlite_compare_and_set_applies_once_per_revision,
           postgres_compare_and_set_applies_once_per_revision;
    counters_round_trip
        => sqlite_counters_round_trip,
           postgres_counters_round_trip;
    a_reseal_replaces_the_sealed_bytes_once_per_revision
        => sqlite_a_reseal_replaces_the_sealed_bytes_once_per_revision,
           postgres_a_reseal_replaces_the_sealed_bytes_once_per_revision;
    the_sealing_salt_is_stored_once_for_every_node
        => sqlite_the_sealing_salt_is_stored_once_for_every_node,
           postgres_the_sealing_salt_is_stored_once_for_every_node;
}

// ---- Fixtures -----------------------------------------------------------------------------

/// 2023-11-14T22:13:30Z, the start of a time step.
const START: i64 = 1_700_000_010;
const STEP: i64 = 30;
const PASSPHRASE: &[u8] = b"correct horse battery staple";
const ALICE: &str = "6f2a1c3e-0000-4000-8000-00000000a11c";
const ALICE_UPN: &str = "alice@contoso.com";

fn settings() -> TotpSettings {
    TotpSettings::new("Contoso", test_sealing(PASSPHRASE))
}

fn service<'a>(
    store: &'a SqlStore,
    clock: &'a FixedClock,
    settings: &'a TotpSettings,
) -> TotpService<'a, SqlStore, FixedClock> {
    TotpService::new(store, clock, settings, "server")
}

fn code_now(enrollment: &Enrollment, clock: &FixedClock) -> String {
    use certgate_core::clock::Clock as _;
    code_at(&enrollment.secret, clock.now())
}

fn refusal(result: Result<Verified, TotpServiceError>) -> &'static str {
    match result {
        Ok(verified) => panic!("expected a refusal, the code was accepted ({verified:?})"),
        Err(error) => error.code(),
    }
}

fn event(action: &str) -> AuditEvent {
    AuditEvent::new(UnixTime(START), "test", action, ALICE, "ok", "test event")
}

/// Enrolls Alice and confirms it with the current code; the clock then moves a step on.
async fn enrolled_alice(
    store: &SqlStore,
    clock: &FixedClock,
    settings: &TotpSettings,
) -> Enrollment {
    let totp = service(store, clock, settings);
    let enrollment = totp
        .begin_enrollment(ALICE, ALICE_UPN, WhenEnrolled::Refuse)
        .await
        .expect("begin enrollment");
    totp.confirm_enrollment(ALICE, &code_now(&enrollment, clock))
        .await
        .expect("confirm");
    clock.advance(STEP);
    enrollment
}

// ---- Behaviours ---------------------------------------------------------------------------

async fn a_replaced_pending_secret_gets_a_new_id_never_reused(db: &TestDb) {
    let store = db.open().await;
    let first = store
        .put_pending_totp(ALICE, &new_secret(), UnixTime(START), &event("totp.enroll"))
        .await
        .expect("put");
    let second = store
        .put_pending_totp(ALICE, &new_secret(), UnixTime(START), &event("totp.enroll"))
        .await
        .expect("put again");
    // The replaced row had the highest id, which SQLite would hand out again but for
    // AUTOINCREMENT.
    assert!(
        second.id > first.id,
        "a replaced secret's row id is never reused"
    );
    let secrets = store.totp_secrets(ALICE).await.expect("secrets");
    assert_eq!(secrets.pending.map(|s| s.id), Some(second.id));
    assert!(secrets.active.is_none());
}

async fn the_table_holds_only_the_sealed_secret(db: &TestDb) {
    let store = db.open().await;
    let clock = FixedClock::at(START);
    let settings = settings();
    let enrollment = enrolled_alice(&store, &clock, &settings).await;
    let key = enrollment.secret.key();
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(db.url())
        .await
        .expect("connect");
    let rows = sqlx::query("SELECT sealed_secret FROM totp_secrets")
        .fetch_all(&mut conn)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    for row in rows {
        let bytes: Vec<u8> = row.try_get("sealed_secret").expect("bytes");
        assert!(!bytes.windows(key.len()).any(|w| w == key));
    }
    let _ = conn.close().await;
}

async fn a_lockout_is_seen_by_another_node_until_it_ends(db: &TestDb) {
    let store = db.open().await;
    let other_node = db.open().await;
    let clock = FixedClock::at(START);
    let settings = settings();
    let totp = service(&store, &clock, &settings);
    let enrollment = enrolled_alice(&store, &clock, &settings).await;

    for _ in 1..=4 {
        assert_eq!(refusal(totp.verify(ALICE, "000000").await), "totp-invalid");
    }
    assert_eq!(
        refusal(totp.verify(ALICE, "000000").await),
        "totp-locked-out"
    );
    let until = UnixTime(START + STEP + 15 * 60);

    // The other node sees the lockout: even the right code is refused there.
    let elsewhere = service(&other_node, &clock, &settings);
    assert_eq!(
        refusal(
            elsewhere
                .verify(ALICE, &code_now(&enrollment, &clock))
                .await
        ),
        "totp-locked-out"
    );
    assert_eq!(
        elsewhere.status(ALICE).await.expect("status").locked_until,
        Some(until)
    );
    clock.set(until.0);
    elsewhere
        .verify(ALICE, &code_now(&enrollment, &clock))
        .await
        .expect("the lockout has ended");
    // And the first node sees that it ended.
    assert_eq!(totp.status(ALICE).await.expect("status").locked_until, None);
}

/// What each racer does with the code.
#[derive(Clone, Copy)]
enum Attempt {
    Verify,
    Confirm,
}

/// `racers` attempts with Alice's `code` at once, alternating between the two stores (two
/// nodes on one database); their outcomes in order, failures as their codes.
async fn race(
    stores: &[SqlStore; 2],
    clock: &Arc<FixedClock>,
    settings: &Arc<TotpSettings>,
    code: &str,
    attempt: Attempt,
    racers: usize,
) -> Vec<Result<Verified, &'static str>> {
    let tasks: Vec<_> = (0..racers)
        .map(|i| {
            let store = stores[i % 2].clone();
            let (clock, settings, code) = (clock.clone(), settings.clone(), code.to_owned());
            tokio::spawn(async move {
                let totp = service(&store, &clock, &settings);
                match attempt {
                    Attempt::Verify => totp.verify(ALICE, &code).await,
                    Attempt::Confirm => totp.confirm_enrollment(ALICE, &code).await,
                }
                .map_err(|e| e.code())
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    outcomes
}

async fn concurrent_verifications_of_one_code_accept_it_once(db: &TestDb) {
    const RACERS: usize = 4;
    let stores = [db.open().await, db.open().await];
    let clock = Arc::new(FixedClock::at(START));
    let settings = Arc::new(settings());
    let enrollment = enrolled_alice(&stores[0], &clock, &settings).await;
    let code = code_now(&enrollment, &clock);

    let outcomes = race(&stores, &clock, &settings, &code, Attempt::Verify, RACERS).await;
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(accepted, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .filter_map(|o| o.err())
            .all(|code| code == "totp-replayed"),
        "{outcomes:?}"
    );
    let active = stores[1]
        .totp_secrets(ALICE)
        .await
        .expect("secrets")
        .active
        .expect("active");
    assert_eq!(
        active.counters.last_used_step,
        Some(time_step(UnixTime(START + STEP)))
    );
    assert_eq!(active.counters.failures, RACERS as u32 - 1);
}

async fn concurrent_confirmations_of_one_code_accept_it_once(db: &TestDb) {
    const RACERS: usize = 4;
    let stores = [db.open().await, db.open().await];
    let clock = Arc::new(FixedClock::at(START));
    let settings = Arc::new(settings());
    let enrollment = service(&stores[0], &clock, &settings)
        .begin_enrollment(ALICE, ALICE_UPN, WhenEnrolled::Refuse)
        .await
        .expect("begin");
    let code = code_now(&enrollment, &clock);

    let outcomes = race(&stores, &clock, &settings, &code, Attempt::Confirm, RACERS).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    // A racer that read the pending secret before the winner promoted it sees a replay; one
    // that read after finds no pending secret left. Both are refusals.
    assert!(
        outcomes
            .iter()
            .filter_map(|o| o.err())
            .all(|code| code == "totp-replayed" || code == "totp-not-enrolled"),
        "{outcomes:?}"
    );
    let confirmations = stores[0]
        .audit_events(100)
        .await
        .expect("events")
        .iter()
        .filter(|e| e.action == "totp.confirm")
        .count();
    assert_eq!(confirmations, 1);
}

async fn compare_and_set_applies_once_per_revision(db: &TestDb) {
    const WRITERS: usize = 16;
    let stores = [db.open().await, db.open().await];
    let pending = stores[0]
        .put_pending_totp(ALICE, &new_secret(), UnixTime(START), &event("totp.enroll"))
        .await
        .expect("put");
    assert_eq!(pending.revision, 1);

    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let counters = TotpCounters {
                    last_used_step: Some(i as u64),
                    failures: 0,
                    locked_until: None,
                };
                store
                    .update_totp_counters(ALICE, pending.id, 1, &counters, UnixTime(START), None)
                    .await
                    .expect("update")
            })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        if task.await.expect("task") == SwapOutcome::Applied {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    let after = stores[1]
        .totp_secrets(ALICE)
        .await
        .expect("secrets")
        .pending
        .expect("pending");
    assert_eq!(after.revision, 2);

    // A confirmation with a stale revision changes nothing; with the current one it promotes.
    let counters = after.counters;
    let stale = stores[0]
        .confirm_pending_totp(
            ALICE,
            after.id,
            1,
            &counters,
            UnixTime(START),
            &event("totp.confirm"),
        )
        .await
        .expect("confirm");
    assert_eq!(stale, SwapOutcome::Stale);
    assert!(stores[0]
        .totp_secrets(ALICE)
        .await
        .expect("secrets")
        .active
        .is_none());
    let applied = stores[0]
        .confirm_pending_totp(
            ALICE,
            after.id,
            2,
            &counters,
            UnixTime(START),
            &event("totp.confirm"),
        )
        .await
        .expect("confirm");
    assert_eq!(applied, SwapOutcome::Applied);
    let secrets = stores[0].totp_secrets(ALICE).await.expect("secrets");
    assert!(secrets.pending.is_none());
    let active = secrets.active.expect("active");
    assert_eq!((active.id, active.revision), (after.id, 3));
    // Only the stale confirmation's audit event is missing.
    let confirmations = stores[0]
        .audit_events(100)
        .await
        .expect("events")
        .iter()
        .filter(|e| e.action == "totp.confirm")
        .count();
    assert_eq!(confirmations, 1);

    // An active secret can never be "confirmed" again.
    let again = stores[0]
        .confirm_pending_totp(
            ALICE,
            active.id,
            3,
            &counters,
            UnixTime(START),
            &event("totp.confirm"),
        )
        .await
        .expect("confirm");
    assert_eq!(again, SwapOutcome::Stale);
    assert!(stores[0]
        .totp_secrets(ALICE)
        .await
        .expect("secrets")
        .active
        .is_some());
}

async fn counters_round_trip(db: &TestDb) {
    let store = db.open().await;
    let pending = store
        .put_pending_totp(ALICE, &new_secret(), UnixTime(START), &event("totp.enroll"))
        .await
        .expect("put");
    assert_eq!(pending.counters, TotpCounters::default());
    assert_eq!(pending.sealed_secret, new_secret().sealed_secret);
    assert_eq!(
        (pending.created_at, pending.updated_at),
        (UnixTime(START), UnixTime(START))
    );
    let counters = TotpCounters {
        last_used_step: Some(56_666_667),
        failures: 7,
        locked_until: Some(UnixTime(START + 900)),
    };
    let outcome = store
        .update_totp_counters(ALICE, pending.id, 1, &counters, UnixTime(START + 5), None)
        .await
        .expect("update");
    assert_eq!(outcome, SwapOutcome::Applied);
    let stored = store
        .totp_secrets(ALICE)
        .await
        .expect("secrets")
        .pending
        .expect("pending");
    assert_eq!(stored.counters, counters);
    assert_eq!(stored.updated_at, UnixTime(START + 5));
    assert_eq!(stored.user_id, ALICE);
    assert_eq!(stored.algorithm, TotpAlgorithm::Sha256);
    assert_eq!(stored.digits, Digits::Eight);
    // Another user's secrets are separate.
    assert_eq!(
        store.totp_secrets("someone else").await.expect("secrets"),
        Default::default()
    );
    let wrong_user = store
        .update_totp_counters(
            "someone else",
            pending.id,
            2,
            &counters,
            UnixTime(START),
            None,
        )
        .await
        .expect("update");
    assert_eq!(wrong_user, SwapOutcome::Stale);
}

fn new_secret() -> NewTotpSecret {
    NewTotpSecret {
        sealed_secret: b"cgsk1 (stand-in ciphertext for the port tests)".to_vec(),
        algorithm: TotpAlgorithm::Sha256,
        digits: Digits::Eight,
    }
}

async fn a_reseal_replaces_the_sealed_bytes_once_per_revision(db: &TestDb) {
    let stores = [db.open().await, db.open().await];
    let pending = stores[0]
        .put_pending_totp(ALICE, &new_secret(), UnixTime(START), &event("totp.enroll"))
        .await
        .expect("put");
    let resealed = b"resealed bytes".to_vec();
    assert_eq!(
        stores[1]
            .reseal_totp(
                ALICE,
                pending.id,
                pending.revision + 1,
                &resealed,
                UnixTime(START + 5)
            )
            .await
            .expect("reseal"),
        SwapOutcome::Stale,
        "a revision that is not the row's"
    );
    assert_eq!(
        stores[1]
            .reseal_totp(
                ALICE,
                pending.id,
                pending.revision,
                &resealed,
                UnixTime(START + 5)
            )
            .await
            .expect("reseal"),
        SwapOutcome::Applied
    );
    assert_eq!(
        stores[0]
            .reseal_totp(
                ALICE,
                pending.id,
                pending.revision,
                b"again",
                UnixTime(START + 6)
            )
            .await
            .expect("reseal"),
        SwapOutcome::Stale,
        "the revision moved"
    );
    let after = stores[0]
        .totp_secrets(ALICE)
        .await
        .expect("secrets")
        .pending
        .expect("pending");
    assert_eq!(after.sealed_secret, resealed);
    assert_eq!(after.revision, pending.revision + 1);
    assert_eq!(after.updated_at, UnixTime(START + 5));
    assert_eq!(after.counters, pending.counters);
}

async fn the_sealing_salt_is_stored_once_for_every_node(db: &TestDb) {
    let stores = [db.open().await, db.open().await];
    let first = stores[0].totp_sealing_salt(&[1; 16]).await.expect("salt");
    assert_eq!(first, [1; 16]);
    let other_node = stores[1].totp_sealing_salt(&[2; 16]).await.expect("salt");
    assert_eq!(other_node, [1; 16], "the salt stored first stays");
}

/// The sealing keys of `passphrase` with a fixed salt (a deployment's comes from its store).
fn test_sealing(passphrase: &[u8]) -> std::sync::Arc<certgate_core::totp::TotpSealing> {
    std::sync::Arc::new(
        certgate_core::totp::TotpSealing::derive(passphrase, &[7; 16]).expect("sealing key"),
    )
}
