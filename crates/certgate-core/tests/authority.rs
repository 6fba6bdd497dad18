//! The built-in CA's rules, each tested once, on the in-memory store (`testing::MemoryStore`)
//! with a fixed clock: it is created once and only with its keys sealed (or unencrypted when
//! that is asked for), signs only with the passphrase it was sealed with, records every
//! certificate before returning it, revokes a certificate with every certificate derived from
//! it, lets only its own certificates (or, for devices and when allowed, those of a trusted CA
//! with a CRL URL) obtain new ones, up to a limit per user, and publishes delta CRLs on every
//! run and a base CRL when due. The SQL store's part (the same rules in one transaction, the
//! per-user lock across nodes) is certgate-store's suite; the API and the CLI keep one
//! success and one refusal per route or command.

use certgate_core::audit::AuditLog;
use std::future::Future;

use certgate_ca::KeyAlgorithm;
use certgate_core::authority::{
    BaseCrl, BuiltInCa, DerivedFor, InitRequest, IssueRequest, Issued, OwnCaStore,
    ParentCertificate, PkiSettings, PublicationUrls,
};
use certgate_core::clock::FixedClock;
use certgate_core::crl_cache::CrlKind;
use certgate_core::signin::ValidCertificate;
use certgate_core::strength::{IssuerFacts, StrengthInput};
use certgate_core::testing::{block_on, MemoryStore};
use certgate_core::trusted_ca::{add_cas, set_ca, AuthorityType, CaSettings};
use certgate_pki::{Certificate, Crl, Identity, UnixTime};
use certgate_testpki::{ChainSpec, KeyKind, TestPki};
use zeroize::Zeroizing;

const ACTOR: &str = "cli:test";
/// 2026-01-01T00:00:00Z.
const T0: i64 = certgate_testpki::VALIDATION_TIME;
const DAY: i64 = 86_400;

fn settings() -> PkiSettings {
    PkiSettings::new(
        PublicationUrls::new("http://pki.contoso.example"),
        Some(Zeroizing::new(b"authority test passphrase".to_vec())),
    )
}

fn init_request() -> InitRequest {
    InitRequest {
        organization: "Contoso".into(),
        key_algorithm: KeyAlgorithm::EcdsaP256,
        root_validity_days: 3650,
        issuing_validity_days: 1825,
    }
}

/// Runs one test on a store whose CA was created at `T0` with [`settings`].
fn with_ca<F: Future<Output = ()>>(test: impl FnOnce(MemoryStore, FixedClock) -> F) {
    block_on(async {
        let store = MemoryStore::new();
        let clock = FixedClock::at(T0);
        BuiltInCa::new(&store, &clock, &settings(), ACTOR)
            .init(&init_request())
            .await
            .expect("init");
        test(store, clock).await;
    });
}

fn request(upn: &str, parent: Option<ParentCertificate>) -> IssueRequest {
    IssueRequest {
        upn: upn.into(),
        email: None,
        common_name: None,
        validity_days: 365,
        policy_oids: Vec::new(),
        key_algorithm: KeyAlgorithm::EcdsaP256,
        parent,
    }
}

/// What sign-in hands over for a certificate it validated, issued by `issuing_ca_der`.
fn presented(der: &[u8], issuing_ca_der: &[u8]) -> ValidCertificate {
    let certificate = Certificate::from_der(der).expect("certificate");
    let ca = Certificate::from_der(issuing_ca_der).expect("CA certificate");
    let identity = Identity::of(&certificate);
    ValidCertificate {
        issuer: ca.subject().to_windows(),
        serial: identity.serial.clone(),
        sha256_thumbprint: identity.sha256_thumbprint.clone(),
        der: der.to_vec(),
        issuing_ca_der: issuing_ca_der.to_vec(),
        strength_input: StrengthInput {
            issuer: IssuerFacts::of_ca(&ca),
            policy_oids: Vec::new(),
        },
        identity,
    }
}

/// The parent a certificate certgate issued is recorded with when it obtains a new one.
async fn parent_of(
    ca: &BuiltInCa<'_, MemoryStore, FixedClock>,
    issued: &Issued,
) -> ParentCertificate {
    let presented = presented(&issued.record.certificate_der, &issued.chain_der[0]);
    ca.derivation_parent(&presented, DerivedFor::Renewal)
        .await
        .expect("certgate's own certificate may derive")
}

async fn audit_of(store: &MemoryStore) -> Vec<(String, String)> {
    let mut events: Vec<(String, String)> = store
        .audit_events(1000)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| (e.action, e.outcome))
        .collect();
    events.reverse();
    events
}

#[test]
fn the_ca_is_created_once_and_publishes_its_first_crls_at_once() {
    with_ca(|store, clock| async move {
        let settings = settings();
        let ca = BuiltInCa::new(&store, &clock, &settings, ACTOR);
        let authorities = store.authorities().await.expect("authorities");
        assert_eq!(authorities.len(), 2);
        assert!(authorities.iter().all(|a| a.key_sealed));
        let current = ca.current_crls().await.expect("CRLs");
        let kinds: Vec<(i64, CrlKind)> = current.iter().map(|c| (c.crl_number, c.kind)).collect();
        assert_eq!(
            kinds,
            [
                (1, CrlKind::Base),
                (2, CrlKind::Delta),
                (1, CrlKind::Base),
                (2, CrlKind::Delta)
            ],
            "root first; base and delta share one numbering per CA"
        );

        let error = ca.init(&init_request()).await.expect_err("again");
        assert_eq!(error.code(), "pki-already-initialised");
        assert!(error.to_string().contains("Contoso Root CA"), "{error}");
        assert_eq!(store.authorities().await.expect("authorities"), authorities);
        let actions: Vec<String> = audit_of(&store).await.into_iter().map(|e| e.0).collect();
        assert_eq!(actions, ["pki.init", "pki.crl"]);
    });
}

#[test]
fn without_a_passphrase_the_ca_is_created_only_when_unencrypted_keys_are_asked_for() {
    block_on(async {
        let store = MemoryStore::new();
        let clock = FixedClock::at(T0);
        let mut unsealed = PkiSettings::new(PublicationUrls::new("http://pki.example"), None);
        let error = BuiltInCa::new(&store, &clock, &unsealed, ACTOR)
            .init(&init_request())
            .await
            .expect_err("no passphrase");
        assert_eq!(error.code(), "pki-passphrase-required");
        assert!(
            error.to_string().contains("--allow-unencrypted-keys"),
            "{error}"
        );
        assert!(store.authorities().await.expect("authorities").is_empty());

        unsealed.allow_unencrypted_keys = true;
        let [root, issuing] = BuiltInCa::new(&store, &clock, &unsealed, ACTOR)
            .init(&init_request())
            .await
            .expect("unencrypted");
        assert!(!root.key_sealed && !issuing.key_sealed);
        let detail = store.audit_events(10).await.expect("audit");
        assert!(detail.iter().any(|e| e.detail.contains("UNENCRYPTED")));
    });
}

#[test]
fn nothing_is_issued_before_the_ca_is_created() {
    block_on(async {
        let store = MemoryStore::new();
        let clock = FixedClock::at(T0);
        let settings = settings();
        let error = BuiltInCa::new(&store, &clock, &settings, ACTOR)
            .issue(&request("alice@contoso.example", None))
            .await
            .err()
            .expect("not initialised");
        assert_eq!(error.code(), "pki-not-initialised");
    });
}

#[test]
fn keys_sealed_with_one_passphrase_do_not_sign_with_another_or_none() {
    with_ca(|store, clock| async move {
        let wrong = PkiSettings::new(
            PublicationUrls::new("http://pki.contoso.example"),
            Some(Zeroizing::new(b"wrong".to_vec())),
        );
        let error = BuiltInCa::new(&store, &clock, &wrong, ACTOR)
            .issue(&request("alice@contoso.example", None))
            .await
            .err()
            .expect("wrong passphrase");
        assert_eq!(error.code(), "ca-key-seal-broken");
        let none = PkiSettings::new(PublicationUrls::new("http://pki.contoso.example"), None);
        let error = BuiltInCa::new(&store, &clock, &none, ACTOR)
            .issue(&request("alice@contoso.example", None))
            .await
            .err()
            .expect("no passphrase");
        assert_eq!(error.code(), "pki-passphrase-required");
        assert!(store
            .issued_certificates()
            .await
            .expect("issued")
            .is_empty());
    });
}

#[test]
fn an_issued_certificate_is_on_record_with_its_audit_event_before_it_is_returned() {
    with_ca(|store, clock| async move {
        let settings = settings();
        let ca = BuiltInCa::new(&store, &clock, &settings, ACTOR);
        let issued = ca
            .issue(&IssueRequest {
                email: Some("alice.smith@contoso.example".into()),
                common_name: Some("Alice Smith".into()),
                ..request("alice@contoso.example", None)
            })
            .await
            .expect("issued");
        let record = &issued.record;
        assert_eq!(record.subject, "CN=Alice Smith, O=Contoso");
        assert_eq!(record.issued_at, UnixTime(T0));
        assert_eq!(record.not_after, UnixTime(T0 + 365 * DAY));
        assert_eq!(issued.chain_der.len(), 2, "issuing CA and root");
        assert_eq!(
            store.find_issued(&record.serial).await.expect("find"),
            Some(record.clone())
        );
        let certificate = Certificate::from_der(&record.certificate_der).expect("parses");
        let identity = Identity::of(&certificate);
        assert_eq!(identity.upns, ["alice@contoso.example"]);
        assert_eq!(identity.rfc822_names, ["alice.smith@contoso.example"]);
        let last = store.audit_events(1).await.expect("audit").remove(0);
        assert_eq!(
            (last.action.as_str(), last.target.as_str()),
            ("pki.issue", certgate_core::hex(&record.serial).as_str())
        );
    });
}

#[test]
fn revoking_a_certificate_revokes_every_certificate_derived_from_it_with_the_same_reason() {
    with_ca(|store, clock| async move {
        let settings = settings();
        let ca = BuiltInCa::new(&store, &clock, &settings, ACTOR);
        let upn = "alice@contoso.example";
        let parent = ca.issue(&request(upn, None)).await.expect("parent");
        let child = ca
            .issue(&request(upn, Some(parent_of(&ca, &parent).await)))
            .await
            .expect("child");
        let grandchild = ca
            .issue(&request(upn, Some(parent_of(&ca, &child).await)))
            .await
            .expect("grandchild");
        let unrelated = ca.issue(&request(upn, None)).await.expect("unrelated");

        clock.set(T0 + 60);
        let revocation = ca
            .revoke(&parent.record.serial, "keyCompromise")
            .await
            .expect("revoked");
        assert!(revocation.named_revoked_now);
        assert_eq!(revocation.named.revoked_at, Some(UnixTime(T0 + 60)));
        let descendants: Vec<&[u8]> = revocation
            .descendants
            .iter()
            .map(|r| r.serial.as_slice())
            .collect();
        assert_eq!(
            descendants,
            [
                child.record.serial.as_slice(),
                grandchild.record.serial.as_slice()
            ],
            "parents before children"
        );
        assert!(revocation
            .descendants
            .iter()
            .all(|r| r.revocation_reason.as_deref() == Some("keyCompromise")));
        let standing = store
            .find_issued(&unrelated.record.serial)
            .await
            .expect("find")
            .expect("on record");
        assert_eq!(standing.revoked_at, None);
        let revocations = audit_of(&store)
            .await
            .into_iter()
            .filter(|(action, _)| action == "pki.revoke")
            .count();
        assert_eq!(revocations, 3, "one event per certificate revoked");
    });
}

#[test]
fn revoking_again_an_unknown_serial_or_an_unknown_reason_is_refused() {
    with_ca(|store, clock| async move {
        let settings = settings();
        let ca = BuiltInCa::new(&store, &clock, &settings, ACTOR);
        let issued = ca
            .issue(&request("alice@contoso.example", None))
            .await
            .expect("issued");
        let serial = &issued.record.serial;
        let error = ca
            .revoke(serial, "stolen")
            .await
            .expect_err("no such reason");
        assert_eq!(error.code(), "pki-unknown-reason");
        assert!(error.to_string().contains("keyCompromise"), "{error}");
        ca.revoke(serial, "superseded").await.expect("revoked");
        clock.set(T0 + 3600);
        let error = ca.revoke(serial, "keyCompromise").await.expect_err("again");
        assert_eq!(error.code(), "pki-already-revoked");
        let message = error.to_string();
        assert!(
            message.contains("2026-01-01T00:00:00Z") && message.contains("superseded"),
            "the first revocation stands: {message}"
        );
        let error = ca
            .revoke(&[0x7f; 16], "superseded")
            .await
            .expect_err("unknown");
        assert_eq!(error.code(), "pki-unknown-serial");
    });
}

#[test]
fn a_certificate_revoked_on_record_obtains_no_new_one() {
    with_ca(|store, clock| async move {
        let settings = settings();
        let ca = BuiltInCa::new(&store, &clock, &settings, ACTOR);
        let upn = "alice@contoso.example";
        let parent = ca.issue(&request(upn, None)).await.expect("parent");
        let recorded_parent = parent_of(&ca, &parent).await;
        ca.revoke(&parent.record.serial, "keyCompromise")
            .await
            .expect("revoked");
        let error = ca
            .issue(&request(upn, Some(recorded_parent)))
            .await
            .err()
            .expect("parent revoked");
        assert_eq!(error.code(), "pki-parent-revoked");
        assert_eq!(store.issued_certificates().await.expect("issued").len(), 1);
    });
}

#[test]
fn a_user_holds_at_most_the_limit_of_standing_derived_certificates() {
    block_on(async {
        let store = MemoryStore::new();
        let clock = FixedClock::at(T0);
        let mut settings = settings();
        settings.max_derived_certificates_per_user = 2;
        let ca = BuiltInCa::new(&store, &clock, &settings, ACTOR);
        ca.init(&init_request()).await.expect("init");
        let upn = "alice@contoso.example";
        let parent = ca.issue(&request(upn, None)).await.expect("parent");
        let first = ca
            .issue(&request(upn, Some(parent_of(&ca, &parent).await)))
            .await
            .expect("first");
        ca.issue(&request(upn, Some(parent_of(&ca, &parent).await)))
            .await
            .expect("second");
        let error = ca
            .issue(&request(upn, Some(parent_of(&ca, &parent).await)))
            .await
            .err()
            .expect("over the limit");
        assert_eq!(error.code(), "pki-derived-certificate-limit");
        assert!(error.to_string().contains("holds 2 unexpired"), "{error}");
        let (action, outcome) = audit_of(&store).await.pop().expect("audited");
        assert_eq!(
            (action.as_str(), outcome.as_str()),
            ("pki.issue", "pki-derived-certificate-limit")
        );
        // An administrator's issuance is not limited; a revoked certificate frees its place.
        ca.issue(&request(upn, None)).await.expect("admin");
        ca.revoke(&first.record.serial, "superseded")
            .await
            .expect("revoked");
        ca.issue(&request(upn, Some(parent_of(&ca, &parent).await)))
            .await
            .expect("in place of the revoked one");
    });
}

#[test]
fn another_cas_certificate_derives_only_for_a_device_when_allowed_and_its_ca_has_a_crl_url() {
    block_on(async {
        let store = MemoryStore::new();
        let clock = FixedClock::at(T0);
        let mut settings = settings();
        BuiltInCa::new(&store, &clock, &settings, ACTOR)
            .init(&init_request())
            .await
            .expect("init");
        let fabrikam = TestPki::three_level(&ChainSpec {
            ca_name_prefix: "Fabrikam".into(),
            ..ChainSpec::with_key(KeyKind::EcdsaP256)
        })
        .expect("test PKI");
        let foreign = presented(&fabrikam.leaf.der, &fabrikam.intermediate.der);

        let refused = |settings: &PkiSettings, purpose: DerivedFor| {
            let (store, clock, foreign) = (&store, &clock, &foreign);
            let settings = settings.clone();
            async move {
                BuiltInCa::new(store, clock, &settings, ACTOR)
                    .derivation_parent(foreign, purpose)
                    .await
                    .err()
                    .map(|e| e.code())
            }
        };
        assert_eq!(
            refused(&settings, DerivedFor::Device).await,
            Some("pki-parent-not-certgate"),
            "not by default"
        );
        let (action, outcome) = audit_of(&store).await.pop().expect("audited");
        assert_eq!(
            (action.as_str(), outcome.as_str()),
            ("pki.issue", "pki-parent-not-certgate")
        );
        settings.derive_from_trusted_cas = true;
        assert_eq!(
            refused(&settings, DerivedFor::Renewal).await,
            Some("pki-parent-not-certgate"),
            "renewal is for certgate's own certificates"
        );
        assert_eq!(
            refused(&settings, DerivedFor::Device).await,
            Some("pki-parent-ca-not-trusted")
        );
        let trusted = add_cas(
            &store,
            vec![fabrikam.intermediate.der.clone()],
            |_| CaSettings {
                display_name: String::new(),
                authority_type: AuthorityType::Intermediate,
                crl_url: None,
                delta_crl_url: None,
                exempt_from_crl_validation: false,
                send_as_issuer_hint: true,
            },
            UnixTime(T0),
            ACTOR,
        )
        .await
        .expect("trusted")
        .remove(0);
        assert_eq!(
            refused(&settings, DerivedFor::Device).await,
            Some("pki-parent-ca-without-crl")
        );
        set_ca(
            &store,
            trusted.id,
            |s| CaSettings {
                crl_url: Some("http://pki.fabrikam.example/issuing.crl".into()),
                ..s
            },
            UnixTime(T0),
            ACTOR,
        )
        .await
        .expect("CRL URL");

        let ca = BuiltInCa::new(&store, &clock, &settings, ACTOR);
        let parent = ca
            .derivation_parent(&foreign, DerivedFor::Device)
            .await
            .expect("allowed");
        assert_eq!(parent.trusted_ca, Some(trusted.id));
        assert!(!parent.is_issued_here());
        let parent_not_after = UnixTime(certgate_testpki::instants::LEAF_NOT_AFTER);
        assert_eq!(parent.not_after, Some(parent_not_after));
        let child = ca
            .issue(&IssueRequest {
                validity_days: 3650,
                ..request("alice@corp.example", Some(parent))
            })
            .await
            .expect("child");
        assert_eq!(
            child.record.not_after, parent_not_after,
            "the child ends no later than its parent"
        );
    });
}

#[test]
fn every_run_publishes_delta_crls_and_a_base_crl_only_when_due_or_asked_for() {
    with_ca(|store, clock| async move {
        let settings = settings();
        let ca = BuiltInCa::new(&store, &clock, &settings, ACTOR);
        let issued = ca
            .issue(&request("alice@contoso.example", None))
            .await
            .expect("issued");
        clock.set(T0 + 60);
        ca.revoke(&issued.record.serial, "keyCompromise")
            .await
            .expect("revoked");

        clock.set(T0 + 120);
        let published = ca.publish_crls(BaseCrl::WhenDue).await.expect("published");
        let summary =
            |crls: &[certgate_core::authority::PublishedCrl]| -> Vec<(CrlKind, i64, i64)> {
                crls.iter()
                    .map(|c| (c.kind, c.crl_number, c.entry_count))
                    .collect()
            };
        assert_eq!(
            summary(&published),
            [(CrlKind::Delta, 3, 0), (CrlKind::Delta, 3, 1)],
            "root's delta, then the issuing CA's with the revocation its base lacks"
        );
        let delta = &published[1];
        assert_eq!(delta.base_crl_number, Some(1));
        assert_eq!(delta.next_update.0 - delta.this_update.0, 2 * DAY);
        let crl = Crl::from_der(delta.der.clone()).expect("delta CRL");
        assert!(crl.is_delta());
        assert!(crl.lookup(crl.issuer(), &issued.record.serial).is_some());

        // A week after the first base: a new base lists it, the delta on top lists nothing.
        clock.set(T0 + 7 * DAY);
        let published = ca.publish_crls(BaseCrl::WhenDue).await.expect("published");
        assert_eq!(
            summary(&published),
            [
                (CrlKind::Base, 4, 0),
                (CrlKind::Delta, 5, 0),
                (CrlKind::Base, 4, 1),
                (CrlKind::Delta, 5, 0)
            ]
        );
        let base = &published[2];
        assert_eq!(base.next_update.0 - base.this_update.0, 8 * DAY);

        // Asked for, a base is published whatever its age.
        clock.set(T0 + 7 * DAY + 60);
        let published = ca.publish_crls(BaseCrl::Always).await.expect("published");
        let kinds: Vec<CrlKind> = published.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [CrlKind::Base, CrlKind::Delta, CrlKind::Base, CrlKind::Delta]
        );
        assert_eq!(ca.current_crls().await.expect("current"), published);
    });
}
