//! The TOTP service's rules, each tested once, on the in-memory store (`testing::MemoryStore`)
//! with a fixed clock: an enrollment stays pending until a code confirms it, a re-enrollment
//! replaces the secret only once confirmed, a code is accepted once, secrets are sealed with
//! the passphrase, wrong codes lock the user out for a while, a reset removes everything; the
//! audit log has each of them. The SQL store's part (what its table holds, its
//! compare-and-set, racing verifications on two nodes, a lockout seen by another node) is
//! certgate-store's TOTP suite.

use certgate_core::audit::AuditLog;
use std::future::Future;

use certgate_core::clock::{Clock as _, FixedClock};
use certgate_core::testing::{block_on, MemoryStore};
use certgate_core::totp::{
    code_at, time_step, Digits, Enrollment, TotpAlgorithm, TotpError, TotpService,
    TotpServiceError, TotpSettings, TotpSlot, TotpStore, Verified, WhenEnrolled,
};
use certgate_pki::UnixTime;

/// 2023-11-14T22:13:30Z, the start of a time step.
const START: i64 = 1_700_000_010;
const STEP: i64 = 30;
const PASSPHRASE: &[u8] = b"correct horse battery staple";
const ALICE: &str = "6f2a1c3e-0000-4000-8000-00000000a11c";
const ALICE_UPN: &str = "alice@contoso.com";

/// Runs one test on a new, empty store with a clock standing at [`START`].
fn on_a_new_store<F: Future<Output = ()>>(
    test: impl FnOnce(MemoryStore, FixedClock, TotpSettings) -> F,
) {
    block_on(test(MemoryStore::new(), FixedClock::at(START), settings()));
}

fn settings() -> TotpSettings {
    TotpSettings::new("Contoso", test_sealing(PASSPHRASE))
}

fn service<'a>(
    store: &'a MemoryStore,
    clock: &'a FixedClock,
    settings: &'a TotpSettings,
) -> TotpService<'a, MemoryStore, FixedClock> {
    TotpService::new(store, clock, settings, "server")
}

fn code_now(enrollment: &Enrollment, clock: &FixedClock) -> String {
    code_at(&enrollment.secret, clock.now())
}

fn refusal(result: Result<Verified, TotpServiceError>) -> &'static str {
    match result {
        Ok(verified) => panic!("expected a refusal, the code was accepted ({verified:?})"),
        Err(error) => error.code(),
    }
}

async fn actions(store: &MemoryStore) -> Vec<(String, String, String)> {
    let mut events = store.audit_events(100).await.expect("audit events");
    events.reverse();
    events
        .into_iter()
        .map(|e| (e.action, e.target, e.outcome))
        .collect()
}

/// Enrolls Alice and confirms it with the current code; the clock then moves a step on.
async fn enrolled_alice(
    store: &MemoryStore,
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

#[test]
fn an_enrollment_is_pending_until_a_code_confirms_it_and_that_code_is_used_up() {
    on_a_new_store(|store, clock, settings| async move {
        let totp = service(&store, &clock, &settings);
        let status = totp.status(ALICE).await.expect("status");
        assert!(!status.enrolled && status.pending_since.is_none());
        let enrollment = totp
            .begin_enrollment(ALICE, ALICE_UPN, WhenEnrolled::Refuse)
            .await
            .expect("begin");
        assert!(enrollment
            .otpauth_uri
            .starts_with("otpauth://totp/Contoso:alice%40contoso.com?secret="));
        assert!(enrollment
            .otpauth_uri
            .contains(&*enrollment.secret_base32()));
        assert!(enrollment.qr_svg.contains("<svg"));
        let status = totp.status(ALICE).await.expect("status");
        assert_eq!(
            (status.enrolled, status.pending_since),
            (false, Some(UnixTime(START)))
        );

        // Sign-in does not take a pending secret's code.
        let code = code_now(&enrollment, &clock);
        assert_eq!(
            refusal(totp.verify(ALICE, &code).await),
            "totp-not-enrolled"
        );
        assert_eq!(
            refusal(totp.confirm_enrollment(ALICE, "000000").await),
            "totp-invalid"
        );
        assert_eq!(
            refusal(totp.confirm_enrollment(ALICE, "12345").await),
            "totp-malformed"
        );
        let verified = totp
            .confirm_enrollment(ALICE, &code)
            .await
            .expect("confirm");
        assert_eq!(verified.step, time_step(UnixTime(START)));

        let status = totp.status(ALICE).await.expect("status");
        assert_eq!((status.enrolled, status.pending_since), (true, None));
        // The confirming code is used up; the next one signs in.
        assert_eq!(refusal(totp.verify(ALICE, &code).await), "totp-replayed");
        clock.advance(STEP);
        totp.verify(ALICE, &code_now(&enrollment, &clock))
            .await
            .expect("sign in");
        assert_eq!(
            refusal(
                totp.confirm_enrollment(ALICE, &code_now(&enrollment, &clock))
                    .await
            ),
            "totp-not-enrolled",
            "nothing is pending any more"
        );

        let alice = || ALICE.to_owned();
        let ok = || "ok".to_owned();
        assert_eq!(
            actions(&store).await,
            [
                ("totp.enroll".to_owned(), alice(), ok()),
                ("totp.confirm".to_owned(), alice(), ok()),
            ]
        );
    });
}

#[test]
fn a_reenrollment_replaces_the_secret_only_once_confirmed() {
    on_a_new_store(|store, clock, settings| async move {
        let totp = service(&store, &clock, &settings);
        let first = enrolled_alice(&store, &clock, &settings).await;

        let refused = totp
            .begin_enrollment(ALICE, ALICE_UPN, WhenEnrolled::Refuse)
            .await
            .expect_err("already enrolled");
        assert_eq!(refused.code(), "totp-already-enrolled");
        let second = totp
            .begin_enrollment(ALICE, ALICE_UPN, WhenEnrolled::ReplaceOnConfirmation)
            .await
            .expect("begin a replacement");
        assert_ne!(first.secret, second.secret);

        // Until the new secret is confirmed, the old one signs in and the new one does not.
        assert_eq!(
            refusal(totp.verify(ALICE, &code_now(&second, &clock)).await),
            "totp-invalid"
        );
        totp.verify(ALICE, &code_now(&first, &clock))
            .await
            .expect("the old secret still signs in");
        clock.advance(STEP);
        assert_eq!(
            refusal(
                totp.confirm_enrollment(ALICE, &code_now(&first, &clock))
                    .await
            ),
            "totp-invalid",
            "the old secret's code does not confirm the new one"
        );
        totp.confirm_enrollment(ALICE, &code_now(&second, &clock))
            .await
            .expect("confirm the replacement");

        clock.advance(STEP);
        assert_eq!(
            refusal(totp.verify(ALICE, &code_now(&first, &clock)).await),
            "totp-invalid"
        );
        totp.verify(ALICE, &code_now(&second, &clock))
            .await
            .expect("the new secret signs in");
        let secrets = store.totp_secrets(ALICE).await.expect("secrets");
        assert!(secrets.pending.is_none());
        let active = secrets.active.expect("active");
        assert_eq!(active.slot, TotpSlot::Active);
        assert_eq!(active.counters.failures, 0, "a success reset the failures");
    });
}

#[test]
fn a_new_enrollment_replaces_an_unconfirmed_one() {
    on_a_new_store(|store, clock, settings| async move {
        let totp = service(&store, &clock, &settings);
        let abandoned = totp
            .begin_enrollment(ALICE, ALICE_UPN, WhenEnrolled::Refuse)
            .await
            .expect("begin");
        let retried = totp
            .begin_enrollment(ALICE, ALICE_UPN, WhenEnrolled::Refuse)
            .await
            .expect("begin again");
        assert_eq!(
            refusal(
                totp.confirm_enrollment(ALICE, &code_now(&abandoned, &clock))
                    .await
            ),
            "totp-invalid"
        );
        totp.confirm_enrollment(ALICE, &code_now(&retried, &clock))
            .await
            .expect("confirm");
    });
}

#[test]
fn a_secret_is_sealed_with_the_passphrase_and_unreadable_without_it() {
    on_a_new_store(|store, clock, settings| async move {
        let enrollment = enrolled_alice(&store, &clock, &settings).await;
        let stored = store
            .totp_secrets(ALICE)
            .await
            .expect("secrets")
            .active
            .expect("active");
        let key = enrollment.secret.key();
        assert!(!stored.sealed_secret.windows(key.len()).any(|w| w == key));
        assert!(stored.sealed_secret.len() >= key.len() + 16 + 12 + 16);
        assert_eq!(stored.algorithm, TotpAlgorithm::Sha1);
        assert_eq!(stored.digits, Digits::Six);

        let wrong = TotpSettings::new("Contoso", test_sealing(b"another passphrase"));
        let error = service(&store, &clock, &wrong)
            .verify(ALICE, &code_now(&enrollment, &clock))
            .await
            .expect_err("wrong passphrase");
        assert_eq!(error.code(), "totp-secret-unreadable");
        assert!(error.to_string().contains(ALICE), "{error}");
    });
}

#[test]
fn five_wrong_codes_lock_the_user_out_for_fifteen_minutes_and_the_lockout_is_audited_once() {
    on_a_new_store(|store, clock, settings| async move {
        let totp = service(&store, &clock, &settings);
        let enrollment = enrolled_alice(&store, &clock, &settings).await;

        for attempt in 1..=4 {
            assert_eq!(
                refusal(totp.verify(ALICE, "000000").await),
                "totp-invalid",
                "attempt {attempt}"
            );
        }
        let locked = totp.verify(ALICE, "000000").await.expect_err("locked");
        let until = UnixTime(START + STEP + 15 * 60);
        assert!(matches!(
            locked,
            TotpServiceError::Refused(TotpError::LockedOut { until: u }) if u == until
        ));
        assert_eq!(
            totp.status(ALICE).await.expect("status").locked_until,
            Some(until)
        );

        // Even the right code is refused until the lockout ends.
        assert_eq!(
            refusal(totp.verify(ALICE, &code_now(&enrollment, &clock)).await),
            "totp-locked-out"
        );
        clock.set(until.0 - 1);
        assert_eq!(
            refusal(totp.verify(ALICE, &code_now(&enrollment, &clock)).await),
            "totp-locked-out"
        );
        clock.set(until.0);
        totp.verify(ALICE, &code_now(&enrollment, &clock))
            .await
            .expect("the lockout has ended");
        let status = totp.status(ALICE).await.expect("status");
        assert_eq!(status.locked_until, None);
        assert_eq!(
            store
                .totp_secrets(ALICE)
                .await
                .expect("secrets")
                .active
                .expect("active")
                .counters
                .failures,
            0
        );

        let lockouts: Vec<_> = store
            .audit_events(100)
            .await
            .expect("events")
            .into_iter()
            .filter(|e| e.action == "totp.lockout")
            .collect();
        assert_eq!(lockouts.len(), 1, "{lockouts:?}");
        assert_eq!(lockouts[0].outcome, "totp-locked-out");
        assert_eq!(lockouts[0].target, ALICE);
        assert!(
            lockouts[0].detail.contains("5 consecutive failed codes"),
            "{}",
            lockouts[0].detail
        );
    });
}

#[test]
fn a_reset_removes_both_secrets_and_is_audited_only_when_there_was_something() {
    on_a_new_store(|store, clock, settings| async move {
        let totp = service(&store, &clock, &settings);
        let enrollment = enrolled_alice(&store, &clock, &settings).await;
        totp.begin_enrollment(ALICE, ALICE_UPN, WhenEnrolled::ReplaceOnConfirmation)
            .await
            .expect("begin a replacement");
        assert!(totp.reset(ALICE).await.expect("reset"));
        assert_eq!(
            store.totp_secrets(ALICE).await.expect("secrets"),
            Default::default()
        );
        assert_eq!(
            refusal(totp.verify(ALICE, &code_now(&enrollment, &clock)).await),
            "totp-not-enrolled"
        );
        assert!(
            !totp.reset(ALICE).await.expect("reset"),
            "nothing left to remove"
        );
        let resets = store
            .audit_events(100)
            .await
            .expect("events")
            .iter()
            .filter(|e| e.action == "totp.reset")
            .count();
        assert_eq!(resets, 1);
    });
}

#[test]
fn a_secret_sealed_in_the_first_format_still_opens_and_is_resealed_on_its_next_use() {
    use certgate_core::audit::AuditEvent;
    use certgate_core::totp::{is_current_format, NewTotpSecret, TotpCounters, TotpSecret};
    on_a_new_store(|store, clock, settings| async move {
        // An active secret as certgate sealed them before: `certgate_ca::sealed_key`, with a
        // PBKDF2 salt of its own.
        let secret =
            TotpSecret::from_key(b"12345678901234567890", TotpAlgorithm::Sha1, Digits::Six)
                .expect("key");
        let legacy = certgate_ca::sealed_key::seal(secret.key(), PASSPHRASE).expect("seal");
        assert!(!is_current_format(&legacy));
        let event = || AuditEvent::new(clock.now(), "test", "totp.enroll", ALICE, "ok", "");
        let pending = store
            .put_pending_totp(
                ALICE,
                &NewTotpSecret {
                    sealed_secret: legacy.clone(),
                    algorithm: TotpAlgorithm::Sha1,
                    digits: Digits::Six,
                },
                clock.now(),
                &event(),
            )
            .await
            .expect("store the secret");
        store
            .confirm_pending_totp(
                ALICE,
                pending.id,
                pending.revision,
                &TotpCounters::default(),
                clock.now(),
                &event(),
            )
            .await
            .expect("make it the active one");

        let totp = service(&store, &clock, &settings);
        totp.verify(ALICE, &code_at(&secret, clock.now()))
            .await
            .expect("a code of the first-format secret is accepted");
        let stored = store
            .totp_secrets(ALICE)
            .await
            .expect("secrets")
            .active
            .expect("active");
        assert!(
            is_current_format(&stored.sealed_secret),
            "re-sealed in the current format"
        );
        assert_eq!(
            &*settings
                .sealing
                .current()
                .open(&stored.sealed_secret)
                .expect("opens with the derived key alone"),
            secret.key()
        );
        assert_eq!(stored.id, pending.id, "the same secret, sealed anew");

        // The next code opens the re-sealed secret; the code already used stays used.
        assert_eq!(
            refusal(totp.verify(ALICE, &code_at(&secret, clock.now())).await),
            "totp-replayed"
        );
        clock.advance(STEP);
        totp.verify(ALICE, &code_at(&secret, clock.now()))
            .await
            .expect("the next code");
    });
}

#[test]
fn the_sealing_salt_is_made_once_and_every_start_derives_the_same_key() {
    on_a_new_store(|store, _clock, _settings| async move {
        let first = certgate_core::totp::open_sealing(&store, PASSPHRASE)
            .await
            .expect("first start");
        let second = certgate_core::totp::open_sealing(&store, PASSPHRASE)
            .await
            .expect("second start");
        let sealed = first.current().seal(b"12345678901234567890").expect("seal");
        assert_eq!(
            &*second.current().open(&sealed).expect("open"),
            b"12345678901234567890"
        );
        let salt = store.totp_sealing_salt(&[9; 16]).await.expect("salt");
        assert_eq!(salt.len(), 16);
        assert_ne!(salt, [9; 16], "the salt stored first stays");
        assert_eq!(&sealed[5..21], salt.as_slice());
    });
}

/// The sealing keys of `passphrase` with a fixed salt (a deployment's comes from its store).
fn test_sealing(passphrase: &[u8]) -> std::sync::Arc<certgate_core::totp::TotpSealing> {
    std::sync::Arc::new(
        certgate_core::totp::TotpSealing::derive(passphrase, &[7; 16]).expect("sealing key"),
    )
}
