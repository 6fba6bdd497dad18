//! The Temporary Access Pass's rules, each tested once, on the in-memory store
//! (`testing::MemoryStore`) with a fixed clock: a pass is kept as its hash, works once, expires,
//! has a bounded lifetime, replaces the one before, is voided by wrong passes, and goes with a
//! reset of the second factor; every attempt is audited. The SQL store's part (what its table
//! holds, its compare-and-set on its own, racing redemptions on two nodes) is certgate-store's
//! access pass suite.

use certgate_core::audit::AuditLog;
use std::future::Future;

use certgate_core::access_pass::{
    AccessPassService, AccessPassStore, MAX_FAILED_ATTEMPTS, MAX_LIFETIME_SECONDS,
    MIN_LIFETIME_SECONDS,
};
use certgate_core::clock::FixedClock;
use certgate_core::testing::{block_on, MemoryStore};
use certgate_core::totp::{TotpService, TotpSettings, TotpStore, WhenEnrolled};
use certgate_pki::UnixTime;

const START: i64 = 1_700_000_010;
const ALICE: &str = "6f2a1c3e-0000-4000-8000-00000000a11c";
const ALICE_UPN: &str = "alice@contoso.com";

/// Runs one test on a new, empty store with a clock standing at [`START`].
fn on_a_new_store<F: Future<Output = ()>>(test: impl FnOnce(MemoryStore, FixedClock) -> F) {
    block_on(test(MemoryStore::new(), FixedClock::at(START)));
}

fn service<'a>(
    store: &'a MemoryStore,
    clock: &'a FixedClock,
) -> AccessPassService<'a, MemoryStore, FixedClock> {
    AccessPassService::new(store, clock, "cli:admin")
}

async fn redeem(store: &MemoryStore, clock: &FixedClock, pass: &str) -> Result<(), &'static str> {
    service(store, clock)
        .redeem(ALICE, pass, "corr-1")
        .await
        .map_err(|e| e.code())
}

async fn live_until(store: &MemoryStore, clock: &FixedClock) -> Option<UnixTime> {
    service(store, clock)
        .status(ALICE)
        .await
        .expect("status")
        .live_until
}

/// The outcomes of the audit events of `action`, oldest first.
async fn outcomes(store: &MemoryStore, action: &str) -> Vec<String> {
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

#[test]
fn a_pass_is_kept_as_its_hash_works_once_and_every_attempt_is_audited() {
    on_a_new_store(|store, clock| async move {
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

        // What the store is given: the hash, never the pass.
        let stored = store.access_pass(ALICE).await.expect("read").expect("pass");
        assert_eq!(stored.pass_hash.len(), 32);
        assert_eq!(stored.created_by, "cli:admin");
        let text = issued.pass.replace('-', "");
        assert!(!stored
            .pass_hash
            .windows(8)
            .any(|w| text.as_bytes().windows(8).any(|t| t == w)));

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
        assert_eq!(live_until(&store, &clock).await, None);
        assert_eq!(outcomes(&store, "access_pass.create").await, ["ok"]);
        assert_eq!(
            outcomes(&store, "access_pass.redeem").await,
            ["access-pass-invalid", "ok", "access-pass-used"]
        );
    });
}

#[test]
fn a_pass_expires_and_its_lifetime_is_bounded() {
    on_a_new_store(|store, clock| async move {
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
            live_until(&store, &clock).await,
            Some(UnixTime(START + MIN_LIFETIME_SECONDS))
        );
        clock.advance(MIN_LIFETIME_SECONDS);
        assert_eq!(
            redeem(&store, &clock, &issued.pass).await,
            Err("access-pass-expired")
        );
        assert_eq!(live_until(&store, &clock).await, None);
    });
}

#[test]
fn a_new_pass_replaces_the_old() {
    on_a_new_store(|store, clock| async move {
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
    });
}

#[test]
fn wrong_passes_void_the_live_one_until_a_new_one_is_issued() {
    on_a_new_store(|store, clock| async move {
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
        assert_eq!(live_until(&store, &clock).await, None);
        // A new pass starts afresh.
        let again = service(&store, &clock)
            .create(ALICE, ALICE_UPN, None)
            .await
            .expect("create");
        assert_eq!(redeem(&store, &clock, &again.pass).await, Ok(()));
    });
}

#[test]
fn a_second_factor_reset_removes_the_authenticator_and_the_pass_and_is_always_audited() {
    on_a_new_store(|store, clock| async move {
        let settings = TotpSettings::new("Contoso", test_sealing(b"passphrase"));
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
    });
}

/// The sealing keys of `passphrase` with a fixed salt (a deployment's comes from its store).
fn test_sealing(passphrase: &[u8]) -> std::sync::Arc<certgate_core::totp::TotpSealing> {
    std::sync::Arc::new(
        certgate_core::totp::TotpSealing::derive(passphrase, &[7; 16]).expect("sealing key"),
    )
}
