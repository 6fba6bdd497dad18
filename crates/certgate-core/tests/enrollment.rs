//! EST enrollment codes and the enrollment with one, each rule tested once, on the in-memory
//! store (`testing::MemoryStore`) with a fixed clock: a code is made only for an enabled user
//! with a validity in range, is found by its hash however it is typed, is listed until used or
//! expired, never appears in the audit log, and enrolls one certificate with the directory's
//! identity, not the request's. The SQL store's part (round trips, its compare-and-set on its
//! own and with two nodes racing, the codes of a removed user) is certgate-store's enrollment
//! suite.

use std::future::Future;

use certgate_ca::KeyAlgorithm;
use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::authority::{BuiltInCa, InitRequest, OwnCaStore, PkiSettings, PublicationUrls};
use certgate_core::clock::{Clock as _, FixedClock};
use certgate_core::directory::{add_user, set_user, UserDraft};
use certgate_core::enrollment::{
    create_enrollment_code, usable_enrollment_codes, Enrollment, EnrollmentCodeHash,
    EnrollmentCodeStore, EnrollmentError,
};
use certgate_core::testing::{block_on, MemoryStore};
use certgate_pki::{Certificate, Identity, UnixTime};
use zeroize::Zeroizing;

const ACTOR: &str = "cli:test";
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;

/// Runs one test on a store that holds alice@contoso.example (Alice Smith, with a mail
/// address).
fn with_alice<F: Future<Output = ()>>(test: impl FnOnce(MemoryStore) -> F) {
    block_on(async {
        let store = MemoryStore::new();
        let mut draft = UserDraft::new("alice@contoso.example");
        draft.display_name = Some("Alice Smith".into());
        draft.mail = Some("alice.smith@contoso.example".into());
        add_user(&store, draft, UnixTime(T0 - 60), ACTOR)
            .await
            .expect("add alice");
        test(store).await;
    });
}

async fn audit_events(store: &MemoryStore) -> Vec<AuditEvent> {
    store.audit_events(100).await.expect("audit")
}

#[test]
fn a_code_is_found_by_its_hash_however_typed_and_listed_until_used_or_expired() {
    with_alice(|store| async move {
        let now = UnixTime(T0);
        let (record, secret) =
            create_enrollment_code(&store, "ALICE@contoso.example", 24, now, ACTOR)
                .await
                .expect("code");
        assert_eq!(record.upn, "alice@contoso.example");
        assert_eq!(record.expires_at, UnixTime(T0 + 24 * 3600));
        let found = store
            .enrollment_code_by_hash(&EnrollmentCodeHash::of_typed(secret.expose()).expect("typed"))
            .await
            .expect("lookup")
            .expect("found");
        assert_eq!(found, record);
        // Typed in lower case without dashes: the same code.
        let typed = secret.expose().replace('-', "").to_lowercase();
        assert_eq!(
            EnrollmentCodeHash::of_typed(&typed).expect("typed"),
            record.hash
        );

        let (second, _) = create_enrollment_code(&store, "alice@contoso.example", 1, now, ACTOR)
            .await
            .expect("second");
        let usable = usable_enrollment_codes(&store, now).await.expect("list");
        assert_eq!(
            usable.iter().map(|c| c.id).collect::<Vec<_>>(),
            [record.id, second.id],
            "oldest first"
        );
        // The one-hour code is gone an hour later; the used one at once.
        let later = UnixTime(T0 + 3600);
        assert_eq!(
            usable_enrollment_codes(&store, later)
                .await
                .expect("list")
                .len(),
            1
        );
        let use_event = AuditEvent::new(now, ACTOR, "est.code-use", "alice", "ok", "used");
        assert!(store
            .consume_enrollment_code(record.id, now, &use_event)
            .await
            .expect("consume"));
        assert!(usable_enrollment_codes(&store, now)
            .await
            .expect("list")
            .iter()
            .all(|c| c.id != record.id));

        let events = audit_events(&store).await;
        let creations = events
            .iter()
            .filter(|e| e.action == "est.code-create")
            .count();
        assert_eq!(creations, 2);
        // The secret is nowhere in the audit log.
        assert!(events
            .iter()
            .all(|e| !e.detail.contains(secret.expose()) && !e.target.contains(secret.expose())));
    });
}

#[test]
fn a_code_is_refused_for_an_unknown_or_disabled_user_and_a_validity_out_of_range() {
    with_alice(|store| async move {
        let now = UnixTime(T0);
        let error = create_enrollment_code(&store, "bob@contoso.example", 24, now, ACTOR)
            .await
            .expect_err("unknown user");
        assert_eq!(error.code(), "user-not-found");
        for hours in [0, 721] {
            let error = create_enrollment_code(&store, "alice@contoso.example", hours, now, ACTOR)
                .await
                .expect_err("validity");
            assert_eq!(error.code(), "est-code-validity-invalid");
        }
        set_user(
            &store,
            "alice@contoso.example",
            |draft| UserDraft {
                enabled: false,
                ..draft
            },
            now,
            ACTOR,
        )
        .await
        .expect("disable");
        let error = create_enrollment_code(&store, "alice@contoso.example", 24, now, ACTOR)
            .await
            .expect_err("disabled");
        assert_eq!(error.code(), "user-disabled");
        assert!(usable_enrollment_codes(&store, now)
            .await
            .expect("list")
            .is_empty());
    });
}

fn csr(common_name: &str) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["mallory.example".to_owned()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.serialize_request(&key).expect("CSR").der().to_vec()
}

#[test]
fn an_enrollment_with_a_code_issues_the_directory_identity_once() {
    with_alice(|store| async move {
        let clock = FixedClock::at(T0);
        let settings = PkiSettings::new(
            PublicationUrls::new("http://pki.contoso.example"),
            Some(Zeroizing::new(b"enrollment test passphrase".to_vec())),
        );
        BuiltInCa::new(&store, &clock, &settings, ACTOR)
            .init(&InitRequest {
                organization: "Contoso".into(),
                key_algorithm: KeyAlgorithm::EcdsaP256,
                root_validity_days: 3650,
                issuing_validity_days: 1825,
            })
            .await
            .expect("CA");
        let (_, secret) =
            create_enrollment_code(&store, "alice@contoso.example", 24, clock.now(), ACTOR)
                .await
                .expect("code");
        let enrollment = Enrollment {
            store: &store,
            clock: &clock,
            pki: &settings,
            validity_days: 30,
        };
        let code = Some(secret.expose());
        let user = Some("Alice@Contoso.example");

        // Refusals that do not cost the code.
        let refused = |result: Result<_, EnrollmentError>| result.expect_err("refused").code();
        assert_eq!(
            refused(enrollment.with_code(None, None, &csr("x")).await),
            "est-credentials-missing"
        );
        assert_eq!(
            refused(
                enrollment
                    .with_code(user, Some("00000-00000-00000-00000"), &csr("x"))
                    .await
            ),
            "est-code-invalid"
        );
        assert_eq!(
            refused(
                enrollment
                    .with_code(Some("bob@contoso.example"), code, &csr("x"))
                    .await
            ),
            "est-code-invalid"
        );
        let mut tampered = csr("x");
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            refused(enrollment.with_code(user, code, &tampered).await),
            "csr-signature-invalid"
        );

        // The enrollment: the directory's identity, the CSR's key.
        let enrolled = enrollment
            .with_code(user, code, &csr("Administrator"))
            .await
            .expect("enrolled");
        assert_eq!(enrolled.ignored_subject, "CN=Administrator");
        let certificate = Certificate::from_der(&enrolled.issued.certificate_der).expect("cert");
        let identity = Identity::of(&certificate);
        assert_eq!(identity.subject, "CN=Alice Smith, O=Contoso");
        assert_eq!(identity.upns, ["alice@contoso.example"]);
        assert_eq!(identity.rfc822_names, ["alice.smith@contoso.example"]);
        assert_eq!(
            certificate.not_after().0 - T0,
            30 * 86_400,
            "the server's validity, not the request's"
        );
        let issued = store
            .find_issued(&enrolled.issued.serial)
            .await
            .expect("lookup")
            .expect("recorded like `pki issue`");
        assert_eq!(issued.upn, "alice@contoso.example");

        // Used: refused, saying so.
        clock.advance(60);
        assert_eq!(
            refused(enrollment.with_code(user, code, &csr("x")).await),
            "est-code-used"
        );
        // Expired.
        let (_, late) =
            create_enrollment_code(&store, "alice@contoso.example", 1, clock.now(), ACTOR)
                .await
                .expect("code");
        clock.advance(3600);
        assert_eq!(
            refused(
                enrollment
                    .with_code(user, Some(late.expose()), &csr("x"))
                    .await
            ),
            "est-code-expired"
        );

        let events = audit_events(&store).await;
        let outcomes: Vec<(&str, &str)> = events
            .iter()
            .filter(|e| e.action.starts_with("est.") || e.action == "pki.issue")
            .map(|e| (e.action.as_str(), e.outcome.as_str()))
            .collect();
        for expected in [
            ("est.enroll", "est-credentials-missing"),
            ("est.enroll", "est-code-invalid"),
            ("est.enroll", "csr-signature-invalid"),
            ("est.code-use", "ok"),
            ("pki.issue", "ok"),
            ("est.enroll", "est-code-used"),
            ("est.enroll", "est-code-expired"),
        ] {
            assert!(outcomes.contains(&expected), "{expected:?} in {outcomes:?}");
        }
        let code_record = store
            .enrollment_code_by_hash(&secret.hash())
            .await
            .expect("lookup")
            .expect("code");
        assert_eq!(
            code_record.used_for_serial,
            Some(certgate_core::hex(&enrolled.issued.serial))
        );
    });
}
