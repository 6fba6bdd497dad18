//! The directory suite: users, their uniqueness rules, StsRefreshTokensValidFrom, binding and
//! strength rules, through certgate-core's services and the directory's ports, written once
//! and run against both backends. SQLite uses a file in a temporary directory; PostgreSQL gets
//! a fresh database per test on the server at 127.0.0.1:5432 (user `postgres`, database
//! `test`), or on the server named by `CERTGATE_TEST_POSTGRES_URL`. PostgreSQL is required:
//! when it cannot be reached the `postgres_*` tests fail and say why.

mod common;

use std::sync::OnceLock;

use certgate_core::audit::AuditEvent;
use certgate_core::binding::{
    match_user, Affinity, BindingPolicy, BindingRule, CertificateField, UserAttribute, UserLookup,
};
use certgate_core::directory::{
    add_binding_rule, add_strength_rule, add_user, find_user, import_users, parse_users_csv,
    prepare_user, remove_binding_rule, remove_strength_rule, remove_user, revoke_sessions,
    set_default_required_affinity, set_sts_refresh_tokens_valid_from, set_user, BindingRuleStore,
    StrengthRuleStore, User, UserDraft, UserId, UserStore,
};
use certgate_core::store::{AuditLog, CrlCacheStore, StoreError};
use certgate_core::strength::{
    evaluate, IssuerFacts, IssuerSelector, Strength, StrengthInput, StrengthRuleId,
    StrengthRuleSpec,
};
use certgate_pki::{Certificate, Identity, UnixTime};
use certgate_store::SqlStore;
use certgate_testpki::{ChainSpec, KeyKind, TestPki, VALIDATION_TIME};

use common::{on_both_backends, TestDb};

// ---- Harness (common/mod.rs) --------------------------------------------------------------

const DIRECTORY_SUITE: common::Suite = common::Suite {
    tests: "directory",
    database_prefix: "certgate_dir",
};

on_both_backends! {
    suite: DIRECTORY_SUITE;
    users_round_trip_with_every_attribute
        => sqlite_users_round_trip_with_every_attribute,
           postgres_users_round_trip_with_every_attribute;
    upn_is_unique_case_insensitively
        => sqlite_upn_is_unique_case_insensitively, postgres_upn_is_unique_case_insensitively;
    certificate_user_ids_are_unique_across_users_in_the_store
        => sqlite_certificate_user_ids_are_unique_across_users_in_the_store,
           postgres_certificate_user_ids_are_unique_across_users_in_the_store;
    concurrent_writers_cannot_both_take_a_certificate_user_id
        => sqlite_concurrent_writers_cannot_both_take_a_certificate_user_id,
           postgres_concurrent_writers_cannot_both_take_a_certificate_user_id;
    immutable_ids_and_proxy_addresses_are_unique
        => sqlite_immutable_ids_and_proxy_addresses_are_unique,
           postgres_immutable_ids_and_proxy_addresses_are_unique;
    find_users_compares_each_attribute_as_bindings_do
        => sqlite_find_users_compares_each_attribute_as_bindings_do,
           postgres_find_users_compares_each_attribute_as_bindings_do;
    set_user_replaces_attributes_and_frees_removed_values
        => sqlite_set_user_replaces_attributes_and_frees_removed_values,
           postgres_set_user_replaces_attributes_and_frees_removed_values;
    remove_user_removes_everything_it_held
        => sqlite_remove_user_removes_everything_it_held,
           postgres_remove_user_removes_everything_it_held;
    sts_date_not_in_the_future_is_refused_and_nothing_changes
        => sqlite_sts_date_not_in_the_future_is_refused_and_nothing_changes,
           postgres_sts_date_not_in_the_future_is_refused_and_nothing_changes;
    sts_future_date_and_revoke_sessions_store_now
        => sqlite_sts_future_date_and_revoke_sessions_store_now,
           postgres_sts_future_date_and_revoke_sessions_store_now;
    every_directory_write_is_audited_and_bumps_the_generation
        => sqlite_every_directory_write_is_audited_and_bumps_the_generation,
           postgres_every_directory_write_is_audited_and_bumps_the_generation;
    binding_rules_round_trip_and_priorities_are_unique
        => sqlite_binding_rules_round_trip_and_priorities_are_unique,
           postgres_binding_rules_round_trip_and_priorities_are_unique;
    a_certificate_binds_to_its_user_through_the_store
        => sqlite_a_certificate_binds_to_its_user_through_the_store,
           postgres_a_certificate_binds_to_its_user_through_the_store;
    strength_rules_round_trip_and_duplicates_are_refused
        => sqlite_strength_rules_round_trip_and_duplicates_are_refused,
           postgres_strength_rules_round_trip_and_duplicates_are_refused;
    csv_import_keeps_good_rows_and_reports_bad_ones
        => sqlite_csv_import_keeps_good_rows_and_reports_bad_ones,
           postgres_csv_import_keeps_good_rows_and_reports_bad_ones;
}

// ---- Fixtures -----------------------------------------------------------------------------

const ACTOR: &str = "cli:test";

fn now() -> UnixTime {
    UnixTime(VALIDATION_TIME)
}

/// A client certificate for alice@corp.example (UPN and RFC 822 name), generated once.
fn alice_certificate() -> &'static (Certificate, Identity) {
    static CERT: OnceLock<(Certificate, Identity)> = OnceLock::new();
    CERT.get_or_init(|| {
        let pki = TestPki::three_level(&ChainSpec::with_key(KeyKind::EcdsaP256)).expect("test PKI");
        let leaf = Certificate::from_der(&pki.leaf.der).expect("leaf parses");
        let identity = Identity::of(&leaf);
        (leaf, identity)
    })
}

fn certificate_user_id(field: CertificateField) -> String {
    alice_certificate()
        .1
        .certificate_user_ids
        .iter()
        .find(|id| id.field == field.as_str())
        .expect("the test certificate has the field")
        .value
        .clone()
}

fn full_draft() -> UserDraft {
    UserDraft {
        upn: "Alice@Contoso.example".into(),
        immutable_id: Some("aGVsbG8gd29ybGQ=".into()),
        display_name: Some("Alice Zürich".into()),
        mail: Some("alice@contoso.example".into()),
        proxy_addresses: vec![
            "SMTP:alice@contoso.example".into(),
            "smtp:alice.z@contoso.example".into(),
        ],
        certificate_user_ids: vec![
            "X509:<SKI>AB:CD:EF".into(),
            "X509:<I>DC=example,DC=contoso,CN=Issuing CA<SR>0102".into(),
            "X509:<S>DC=example,DC=contoso,CN=Alice; Zürich".into(),
        ],
        enabled: true,
        groups: vec!["staff".into(), "vpn-users".into()],
    }
}

async fn add(store: &SqlStore, draft: UserDraft) -> User {
    add_user(store, draft, now(), ACTOR)
        .await
        .expect("the user is added")
}

async fn get(store: &SqlStore, key: &str) -> User {
    find_user(store, key).await.expect("the user exists")
}

/// An audit event for direct port writes that bypass the services.
fn audit(action: &str) -> AuditEvent {
    AuditEvent::new(now(), ACTOR, action, "test", "ok", "written by the suite")
}

// ---- Behaviours ---------------------------------------------------------------------------

async fn users_round_trip_with_every_attribute(db: &TestDb) {
    let store = db.open().await;
    let alice = add(&store, full_draft()).await;
    assert_eq!(
        alice.certificate_user_ids,
        [
            "X509:<SKI>abcdef",
            "X509:<I>DC=example,DC=contoso,CN=Issuing CA<SR>0102",
            "X509:<S>DC=example,DC=contoso,CN=Alice; Zürich"
        ],
        "hex normalized, everything else kept exactly"
    );
    let bob = add(&store, UserDraft::new("bob@contoso.example")).await;

    let by_id = get(&store, alice.id.as_str()).await;
    assert_eq!(by_id, alice);
    assert_eq!(get(&store, "ALICE@contoso.EXAMPLE").await, alice);
    assert_eq!(
        store
            .user_by_immutable_id("aGVsbG8gd29ybGQ=")
            .await
            .expect("query"),
        Some(alice.clone())
    );
    assert_eq!(
        store
            .user_by_immutable_id("AGVsbG8gd29ybGQ=")
            .await
            .expect("query"),
        None
    );
    // Defaults of a minimal user.
    assert_eq!(bob.immutable_id, bob.id.to_string());
    assert_eq!(bob.display_name, "bob@contoso.example");
    assert!(bob.proxy_addresses.is_empty() && bob.groups.is_empty());
    assert_eq!(get(&store, "bob@contoso.example").await, bob);

    let all = store.list_users().await.expect("list");
    assert_eq!(all, [alice.clone(), bob.clone()], "ordered by UPN");

    // Reopening (another process) sees the same.
    drop(store);
    let store = db.open().await;
    assert_eq!(store.list_users().await.expect("list"), [alice, bob]);
    let missing = find_user(&store, "nobody@contoso.example")
        .await
        .expect_err("no such user");
    assert_eq!(missing.code(), "user-not-found");
}

async fn upn_is_unique_case_insensitively(db: &TestDb) {
    let store = db.open().await;
    let alice = add(&store, UserDraft::new("alice@contoso.example")).await;
    let error = add_user(
        &store,
        UserDraft::new("ALICE@Contoso.Example"),
        now(),
        ACTOR,
    )
    .await
    .expect_err("taken");
    assert_eq!(error.code(), "user-upn-taken");
    assert!(
        error.to_string().contains("alice@contoso.example"),
        "{error}"
    );

    // The store enforces it by itself (a writer that skipped the check).
    let sneaky = prepare_user(
        UserDraft::new("Alice@CONTOSO.example"),
        UserId::generate().expect("id"),
        now(),
        None,
    )
    .expect("valid");
    assert!(matches!(
        store.insert_user(&sneaky, &audit("user.add")).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.list_users().await.expect("list"), [alice]);
}

async fn certificate_user_ids_are_unique_across_users_in_the_store(db: &TestDb) {
    let store = db.open().await;
    let ski = certificate_user_id(CertificateField::SubjectKeyIdentifier);
    let alice = add(
        &store,
        UserDraft {
            certificate_user_ids: vec![ski.clone()],
            ..UserDraft::new("alice@contoso.example")
        },
    )
    .await;

    // Through the service: refused, naming the user who has it; nothing written.
    let error = add_user(
        &store,
        UserDraft {
            certificate_user_ids: vec!["X509:<SKI>01".into(), ski.to_uppercase()],
            ..UserDraft::new("bob@contoso.example")
        },
        now(),
        ACTOR,
    )
    .await
    .expect_err("taken");
    assert_eq!(error.code(), "user-certificate-user-id-taken");
    assert!(
        error.to_string().contains("alice@contoso.example"),
        "{error}"
    );
    assert!(find_user(&store, "bob@contoso.example").await.is_err());

    // Directly through the port (as a second node that raced past the check would): the
    // database refuses, and the whole user is rolled back, not just the value.
    let bob = prepare_user(
        UserDraft {
            certificate_user_ids: vec!["X509:<SKI>01".into(), ski.clone()],
            ..UserDraft::new("bob@contoso.example")
        },
        UserId::generate().expect("id"),
        now(),
        None,
    )
    .expect("valid");
    assert!(matches!(
        store.insert_user(&bob, &audit("user.add")).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store.list_users().await.expect("list"),
        std::slice::from_ref(&alice)
    );
    // The same for an update.
    let carol = add(&store, UserDraft::new("carol@contoso.example")).await;
    let mut stolen = carol.clone();
    stolen.certificate_user_ids = vec![ski.clone()];
    assert!(matches!(
        store.update_user(&stolen, &audit("user.set")).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(get(&store, "carol@contoso.example").await, carol);
    // Through set_user: refused by name.
    let error = set_user(
        &store,
        "carol@contoso.example",
        |mut draft| {
            draft.certificate_user_ids.push(ski.clone());
            draft
        },
        now(),
        ACTOR,
    )
    .await
    .expect_err("taken");
    assert_eq!(error.code(), "user-certificate-user-id-taken");
    // A value differing only in case is another value (certificateUserIds compare exactly).
    let pn = "X509:<PN>Alice@corp.example".to_owned();
    add(
        &store,
        UserDraft {
            certificate_user_ids: vec![pn.clone()],
            ..UserDraft::new("dave@contoso.example")
        },
    )
    .await;
    add(
        &store,
        UserDraft {
            certificate_user_ids: vec!["X509:<PN>alice@corp.example".into()],
            ..UserDraft::new("erin@contoso.example")
        },
    )
    .await;
    // A user's own values are not a conflict with itself.
    set_user(
        &store,
        "alice@contoso.example",
        |mut draft| {
            draft.display_name = Some("Alice".into());
            draft
        },
        now(),
        ACTOR,
    )
    .await
    .expect("own values are fine");
    assert_eq!(
        get(&store, alice.id.as_str()).await.certificate_user_ids,
        [ski]
    );
}

async fn concurrent_writers_cannot_both_take_a_certificate_user_id(db: &TestDb) {
    // Two stores on one database: two nodes.
    let node_a = db.open().await;
    let node_b = db.open().await;
    for round in 0..5 {
        let value = format!("X509:<SKI>{round:02x}ff");
        let draft = |upn: &str| UserDraft {
            certificate_user_ids: vec![value.clone()],
            ..UserDraft::new(format!("{upn}{round}@contoso.example"))
        };
        let (a, b) = tokio::join!(
            add_user(&node_a, draft("a"), now(), ACTOR),
            add_user(&node_b, draft("b"), now(), ACTOR),
        );
        let outcomes = [a, b];
        let winners = outcomes.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
        let loser = outcomes
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("one loses");
        assert_eq!(loser.code(), "user-certificate-user-id-taken", "{loser}");
        let holders = node_a
            .find_users(UserAttribute::CertificateUserIds, &value)
            .await
            .expect("lookup");
        assert_eq!(holders.len(), 1);
    }
}

async fn immutable_ids_and_proxy_addresses_are_unique(db: &TestDb) {
    let store = db.open().await;
    add(&store, full_draft()).await;
    let error = add_user(
        &store,
        UserDraft {
            immutable_id: Some("aGVsbG8gd29ybGQ=".into()),
            ..UserDraft::new("bob@contoso.example")
        },
        now(),
        ACTOR,
    )
    .await
    .expect_err("immutable ID taken");
    assert_eq!(error.code(), "user-immutable-id-taken");

    let error = add_user(
        &store,
        UserDraft {
            proxy_addresses: vec!["smtp:ALICE.Z@contoso.example".into()],
            ..UserDraft::new("bob@contoso.example")
        },
        now(),
        ACTOR,
    )
    .await
    .expect_err("proxy address taken");
    assert_eq!(error.code(), "user-proxy-address-taken");
    assert!(
        error.to_string().contains("Alice@Contoso.example"),
        "{error}"
    );

    // Another type with the same address is another proxy address (SIP beside SMTP).
    add(
        &store,
        UserDraft {
            proxy_addresses: vec!["SIP:alice.z@contoso.example".into()],
            ..UserDraft::new("bob@contoso.example")
        },
    )
    .await;
}

async fn find_users_compares_each_attribute_as_bindings_do(db: &TestDb) {
    let store = db.open().await;
    let alice = add(&store, full_draft()).await;
    let find = |attribute, value: &'static str| {
        let store = &store;
        async move {
            store
                .find_users(attribute, value)
                .await
                .expect("lookup")
                .into_iter()
                .map(|user| user.upn.to_string())
                .collect::<Vec<_>>()
        }
    };
    let alice_upn = vec![alice.upn.to_string()];
    assert_eq!(
        find(UserAttribute::UserPrincipalName, "aLiCe@contoso.EXAMPLE").await,
        alice_upn
    );
    assert!(find(UserAttribute::UserPrincipalName, "alice")
        .await
        .is_empty());
    assert_eq!(
        find(UserAttribute::ProxyAddresses, "ALICE.Z@contoso.example").await,
        alice_upn
    );
    // The type prefix is not part of the address.
    assert!(find(
        UserAttribute::ProxyAddresses,
        "smtp:alice.z@contoso.example"
    )
    .await
    .is_empty());
    assert_eq!(
        find(UserAttribute::CertificateUserIds, "X509:<SKI>abcdef").await,
        alice_upn
    );
    assert!(find(UserAttribute::CertificateUserIds, "X509:<SKI>ABCDEF")
        .await
        .is_empty());
    assert_eq!(
        find(
            UserAttribute::CertificateUserIds,
            "X509:<S>DC=example,DC=contoso,CN=Alice; Zürich"
        )
        .await,
        alice_upn
    );
}

async fn set_user_replaces_attributes_and_frees_removed_values(db: &TestDb) {
    let store = db.open().await;
    let alice = add(&store, full_draft()).await;
    let changed = set_user(
        &store,
        "alice@contoso.example",
        |mut draft| {
            draft.upn = "alice.z@contoso.example".into();
            draft.mail = None;
            draft.enabled = false;
            draft.proxy_addresses = vec!["SMTP:alice.z@contoso.example".into()];
            draft.certificate_user_ids = vec!["X509:<SKI>abcdef".into()];
            draft.groups = vec!["vpn-users".into()];
            draft
        },
        now(),
        ACTOR,
    )
    .await
    .expect("changed");
    assert_eq!(changed.id, alice.id);
    assert_eq!(changed.created_at, alice.created_at);
    assert_eq!(get(&store, alice.id.as_str()).await, changed);
    assert!(find_user(&store, "alice@contoso.example").await.is_err());
    assert!(!changed.enabled);
    assert_eq!(changed.mail, None);
    // The removed values can go to someone else now.
    add(
        &store,
        UserDraft {
            upn: "alice@contoso.example".into(),
            proxy_addresses: vec!["SMTP:alice@contoso.example".into()],
            certificate_user_ids: vec!["X509:<I>DC=example,DC=contoso,CN=Issuing CA<SR>0102".into()],
            ..UserDraft::new("")
        },
    )
    .await;
    let missing = set_user(&store, "nobody@contoso.example", |d| d, now(), ACTOR)
        .await
        .expect_err("no such user");
    assert_eq!(missing.code(), "user-not-found");
}

async fn remove_user_removes_everything_it_held(db: &TestDb) {
    let store = db.open().await;
    let alice = add(&store, full_draft()).await;
    let removed = remove_user(&store, "alice@contoso.example", now(), ACTOR)
        .await
        .expect("removed");
    assert_eq!(removed, alice);
    assert!(store.list_users().await.expect("list").is_empty());
    assert!(store
        .find_users(UserAttribute::CertificateUserIds, "X509:<SKI>abcdef")
        .await
        .expect("lookup")
        .is_empty());
    // Every unique value is free again.
    add(&store, full_draft()).await;
    let error = remove_user(&store, "nobody@contoso.example", now(), ACTOR)
        .await
        .expect_err("no such user");
    assert_eq!(error.code(), "user-not-found");
    assert!(matches!(
        store.delete_user(&alice.id, &audit("user.remove")).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn sts_date_not_in_the_future_is_refused_and_nothing_changes(db: &TestDb) {
    let store = db.open().await;
    add(&store, UserDraft::new("alice@contoso.example")).await;
    let audit_before = store.audit_events(100).await.expect("audit").len();
    let generation_before = store.generation().await.expect("generation");
    for date in [UnixTime(now().0 - 86_400), now()] {
        let error =
            set_sts_refresh_tokens_valid_from(&store, "alice@contoso.example", date, now(), ACTOR)
                .await
                .expect_err("not in the future");
        assert_eq!(error.code(), "sts-date-not-in-future");
    }
    let alice = get(&store, "alice@contoso.example").await;
    assert_eq!(alice.sts_refresh_tokens_valid_from, None);
    assert_eq!(
        store.audit_events(100).await.expect("audit").len(),
        audit_before
    );
    assert_eq!(
        store.generation().await.expect("generation"),
        generation_before
    );

    // With a value already set, a refused date leaves it as it was.
    revoke_sessions(&store, "alice@contoso.example", now(), ACTOR)
        .await
        .expect("revoked");
    let later = UnixTime(now().0 + 3_600);
    let error = set_sts_refresh_tokens_valid_from(
        &store,
        "alice@contoso.example",
        UnixTime(later.0 - 60),
        later,
        ACTOR,
    )
    .await
    .expect_err("in the past");
    assert_eq!(error.code(), "sts-date-not-in-future");
    assert_eq!(
        get(&store, "alice@contoso.example")
            .await
            .sts_refresh_tokens_valid_from,
        Some(now())
    );
}

async fn sts_future_date_and_revoke_sessions_store_now(db: &TestDb) {
    let store = db.open().await;
    add(&store, UserDraft::new("alice@contoso.example")).await;
    let next_year = UnixTime(now().0 + 365 * 86_400);
    let updated =
        set_sts_refresh_tokens_valid_from(&store, "ALICE@contoso.example", next_year, now(), ACTOR)
            .await
            .expect("a future date is accepted");
    assert_eq!(
        updated.sts_refresh_tokens_valid_from,
        Some(now()),
        "now, not the date"
    );
    let stored = get(&store, "alice@contoso.example").await;
    assert_eq!(stored.sts_refresh_tokens_valid_from, Some(now()));
    assert!(!stored.accepts_token_issued_at(UnixTime(now().0 - 1)));
    assert!(stored.accepts_token_issued_at(UnixTime(now().0 + 1)));

    let later = UnixTime(now().0 + 600);
    let revoked = revoke_sessions(&store, stored.id.as_str(), later, ACTOR)
        .await
        .expect("revoked");
    assert_eq!(revoked.sts_refresh_tokens_valid_from, Some(later));
    assert_eq!(
        get(&store, "alice@contoso.example")
            .await
            .sts_refresh_tokens_valid_from,
        Some(later)
    );
    // Other changes keep the epoch.
    let changed = set_user(
        &store,
        "alice@contoso.example",
        |mut draft| {
            draft.enabled = false;
            draft
        },
        now(),
        ACTOR,
    )
    .await
    .expect("changed");
    assert_eq!(changed.sts_refresh_tokens_valid_from, Some(later));
    assert_eq!(get(&store, "alice@contoso.example").await, changed);
    let error = revoke_sessions(&store, "nobody@contoso.example", later, ACTOR)
        .await
        .expect_err("no such user");
    assert_eq!(error.code(), "user-not-found");
}

async fn every_directory_write_is_audited_and_bumps_the_generation(db: &TestDb) {
    let store = db.open().await;
    let mut generation = store.generation().await.expect("generation");
    add(&store, full_draft()).await;
    generation = check(&store, "user.add", generation).await;
    let newest = store.audit_events(1).await.expect("audit").remove(0);
    assert!(
        newest.target.contains("Alice@Contoso.example"),
        "{newest:?}"
    );
    assert!(newest.detail.contains("X509:<SKI>abcdef"), "{newest:?}");

    set_user(
        &store,
        "alice@contoso.example",
        |mut draft| {
            draft.display_name = Some("Alice Z.".into());
            draft
        },
        now(),
        ACTOR,
    )
    .await
    .expect("set");
    generation = check(&store, "user.set", generation).await;
    let newest = store.audit_events(1).await.expect("audit").remove(0);
    assert_eq!(newest.detail, "displayName: Alice Zürich -> Alice Z.");

    set_sts_refresh_tokens_valid_from(
        &store,
        "alice@contoso.example",
        UnixTime(now().0 + 10),
        now(),
        ACTOR,
    )
    .await
    .expect("sts");
    generation = check(&store, "user.set-sts-refresh-tokens-valid-from", generation).await;
    revoke_sessions(&store, "alice@contoso.example", now(), ACTOR)
        .await
        .expect("revoke");
    generation = check(&store, "user.revoke-sessions", generation).await;
    add_binding_rule(
        &store,
        CertificateField::PrincipalName,
        UserAttribute::UserPrincipalName,
        None,
        now(),
        ACTOR,
    )
    .await
    .expect("rule");
    generation = check(&store, "binding.add", generation).await;
    set_default_required_affinity(&store, Affinity::High, now(), ACTOR)
        .await
        .expect("affinity");
    generation = check(&store, "binding.set-default-affinity", generation).await;
    remove_binding_rule(&store, 1, now(), ACTOR)
        .await
        .expect("remove rule");
    generation = check(&store, "binding.remove", generation).await;
    let rule = add_strength_rule(
        &store,
        StrengthRuleSpec {
            issuer: None,
            policy_oid: Some("1.2.3.4".into()),
            strength: Strength::MultiFactor,
        },
        now(),
        ACTOR,
    )
    .await
    .expect("strength");
    generation = check(&store, "strength.add", generation).await;
    remove_strength_rule(&store, rule.id, now(), ACTOR)
        .await
        .expect("remove strength");
    generation = check(&store, "strength.remove", generation).await;
    remove_user(&store, "alice@contoso.example", now(), ACTOR)
        .await
        .expect("remove");
    check(&store, "user.remove", generation).await;
}

/// The generation grew past `before` and the newest audit event is `action` by the actor.
async fn check(store: &SqlStore, action: &str, before: i64) -> i64 {
    let after = store.generation().await.expect("generation");
    assert!(after > before, "{action}: generation {before} -> {after}");
    let newest = store.audit_events(1).await.expect("audit").remove(0);
    assert_eq!(newest.action, action);
    assert_eq!(newest.actor, ACTOR);
    assert_eq!(newest.outcome, "ok");
    after
}

async fn binding_rules_round_trip_and_priorities_are_unique(db: &TestDb) {
    let store = db.open().await;
    let policy = store.binding_policy().await.expect("policy");
    assert_eq!(policy, BindingPolicy::default());
    assert!(policy.uses_default_rules());
    let error = remove_binding_rule(&store, 1, now(), ACTOR)
        .await
        .expect_err("defaults are not rows");
    assert_eq!(error.code(), "binding-rule-not-found");
    assert!(error.to_string().contains("defaults apply"), "{error}");

    let first = add_binding_rule(
        &store,
        CertificateField::IssuerAndSerialNumber,
        UserAttribute::CertificateUserIds,
        Some(5),
        now(),
        ACTOR,
    )
    .await
    .expect("added");
    assert_eq!(first.priority, 5);
    let second = add_binding_rule(
        &store,
        CertificateField::Rfc822Name,
        UserAttribute::ProxyAddresses,
        None,
        now(),
        ACTOR,
    )
    .await
    .expect("added after the last");
    assert_eq!(second.priority, 6);
    let error = add_binding_rule(
        &store,
        CertificateField::PrincipalName,
        UserAttribute::UserPrincipalName,
        Some(5),
        now(),
        ACTOR,
    )
    .await
    .expect_err("priority taken");
    assert_eq!(error.code(), "binding-priority-taken");
    let error = add_binding_rule(
        &store,
        CertificateField::SubjectKeyIdentifier,
        UserAttribute::UserPrincipalName,
        None,
        now(),
        ACTOR,
    )
    .await
    .expect_err("invalid");
    assert_eq!(error.code(), "binding-rule-invalid");
    // The store enforces the priority by itself.
    assert!(matches!(
        store
            .insert_binding_rule(
                &BindingRule::new(
                    6,
                    CertificateField::Subject,
                    UserAttribute::CertificateUserIds
                ),
                now(),
                &audit("binding.add"),
            )
            .await,
        Err(StoreError::Conflict { .. })
    ));
    set_default_required_affinity(&store, Affinity::High, now(), ACTOR)
        .await
        .expect("affinity");
    let policy = store.binding_policy().await.expect("policy");
    assert_eq!(policy.rules, [first, second]);
    assert_eq!(policy.default_required_affinity, Affinity::High);
    assert!(!policy.uses_default_rules());

    remove_binding_rule(&store, 5, now(), ACTOR)
        .await
        .expect("removed");
    remove_binding_rule(&store, 6, now(), ACTOR)
        .await
        .expect("removed");
    let policy = store.binding_policy().await.expect("policy");
    assert!(policy.uses_default_rules());
    assert_eq!(policy.default_required_affinity, Affinity::High);
}

async fn a_certificate_binds_to_its_user_through_the_store(db: &TestDb) {
    let store = db.open().await;
    let (_, identity) = alice_certificate();
    let policy = store.binding_policy().await.expect("policy");

    // Nobody yet.
    let error = match_user(identity, &policy, &store)
        .await
        .expect_err("nobody");
    assert_eq!(error.code(), "binding-not-found");

    // By UPN (the default first rule), case-insensitively.
    let alice = add(&store, UserDraft::new("ALICE@corp.example")).await;
    let matched = match_user(identity, &policy, &store).await.expect("alice");
    assert_eq!(matched.user, alice);
    assert_eq!(matched.rule.to_string(), "PrincipalName->userPrincipalName");

    // High affinity required: the UPN no longer counts; the key hash does.
    set_default_required_affinity(&store, Affinity::High, now(), ACTOR)
        .await
        .expect("affinity");
    let policy = store.binding_policy().await.expect("policy");
    let error = match_user(identity, &policy, &store)
        .await
        .expect_err("low rules skipped");
    assert_eq!(error.code(), "binding-not-found");
    let key = certificate_user_id(CertificateField::Sha1PublicKey);
    set_user(
        &store,
        alice.id.as_str(),
        |mut draft| {
            draft.certificate_user_ids = vec![key.clone()];
            draft
        },
        now(),
        ACTOR,
    )
    .await
    .expect("pinned");
    let matched = match_user(identity, &policy, &store).await.expect("by key");
    assert_eq!(
        matched.rule.certificate_field,
        CertificateField::Sha1PublicKey
    );
    assert_eq!(matched.affinity, Affinity::High);

    // Two users by proxy address: ambiguous, both named.
    add_binding_rule(
        &store,
        CertificateField::Rfc822Name,
        UserAttribute::ProxyAddresses,
        Some(1),
        now(),
        ACTOR,
    )
    .await
    .expect("rule");
    set_default_required_affinity(&store, Affinity::Low, now(), ACTOR)
        .await
        .expect("affinity");
    for (upn, proxy) in [
        ("one@contoso.example", "SMTP:alice@corp.example"),
        ("two@contoso.example", "SIP:Alice@corp.example"),
    ] {
        add(
            &store,
            UserDraft {
                proxy_addresses: vec![proxy.into()],
                ..UserDraft::new(upn)
            },
        )
        .await;
    }
    let policy = store.binding_policy().await.expect("policy");
    let error = match_user(identity, &policy, &store)
        .await
        .expect_err("ambiguous");
    assert_eq!(error.code(), "binding-ambiguous");
    assert!(
        error
            .to_string()
            .contains("one@contoso.example, two@contoso.example"),
        "{error}"
    );

    // Disabled: refused with its own code.
    remove_user(&store, "two@contoso.example", now(), ACTOR)
        .await
        .expect("removed");
    set_user(
        &store,
        "one@contoso.example",
        |mut draft| {
            draft.enabled = false;
            draft
        },
        now(),
        ACTOR,
    )
    .await
    .expect("disabled");
    let error = match_user(identity, &policy, &store)
        .await
        .expect_err("disabled");
    assert_eq!(error.code(), "user-disabled");
}

async fn strength_rules_round_trip_and_duplicates_are_refused(db: &TestDb) {
    let store = db.open().await;
    let (leaf, identity) = alice_certificate();
    // The issuing CA's facts as sign-in reads them from the validated path; the test leaf is
    // honest, so its AKI and issuer name repeat that CA's SKI and subject.
    let input = StrengthInput {
        issuer: IssuerFacts {
            subject_key_identifier: leaf
                .extensions()
                .authority_key_id
                .as_ref()
                .and_then(|aki| aki.key_id.as_deref())
                .map(certgate_core::hex),
            subject: leaf.issuer().to_windows(),
        },
        policy_oids: identity.policy_oids.clone(),
    };
    let issuer_ski = input
        .issuer
        .subject_key_identifier
        .clone()
        .expect("the test leaf has an AKI");
    assert_eq!(
        evaluate(&store.strength_rules().await.expect("rules"), &input).strength,
        Strength::SingleFactor
    );

    let by_ski = add_strength_rule(
        &store,
        StrengthRuleSpec {
            issuer: Some(IssuerSelector::parse(&issuer_ski.to_uppercase()).expect("hex")),
            policy_oid: None,
            strength: Strength::MultiFactor,
        },
        now(),
        ACTOR,
    )
    .await
    .expect("added");
    let by_dn = add_strength_rule(
        &store,
        StrengthRuleSpec {
            issuer: Some(IssuerSelector::Subject(input.issuer.subject.clone())),
            policy_oid: Some("1.3.6.1.4.1.311.21.8.1".into()),
            strength: Strength::SingleFactor,
        },
        now(),
        ACTOR,
    )
    .await
    .expect("added");
    let rules = store.strength_rules().await.expect("rules");
    assert_eq!(rules, [by_ski.clone(), by_dn.clone()]);
    assert_eq!(
        rules[0].spec.issuer,
        Some(IssuerSelector::SubjectKeyIdentifier(issuer_ski.clone()))
    );
    let decision = evaluate(&rules, &input);
    assert_eq!(decision.strength, Strength::MultiFactor);
    assert_eq!(decision.rules, [by_ski.id]);

    let error = add_strength_rule(
        &store,
        StrengthRuleSpec {
            issuer: Some(IssuerSelector::SubjectKeyIdentifier(issuer_ski)),
            policy_oid: None,
            strength: Strength::SingleFactor,
        },
        now(),
        ACTOR,
    )
    .await
    .expect_err("duplicate");
    assert_eq!(error.code(), "strength-rule-duplicate");
    let error = add_strength_rule(
        &store,
        StrengthRuleSpec {
            issuer: None,
            policy_oid: None,
            strength: Strength::MultiFactor,
        },
        now(),
        ACTOR,
    )
    .await
    .expect_err("empty");
    assert_eq!(error.code(), "strength-rule-empty");

    remove_strength_rule(&store, by_ski.id, now(), ACTOR)
        .await
        .expect("removed");
    assert_eq!(store.strength_rules().await.expect("rules"), [by_dn]);
    let error = remove_strength_rule(&store, StrengthRuleId(999), now(), ACTOR)
        .await
        .expect_err("no such rule");
    assert_eq!(error.code(), "strength-rule-not-found");
}

async fn csv_import_keeps_good_rows_and_reports_bad_ones(db: &TestDb) {
    let store = db.open().await;
    add(
        &store,
        UserDraft {
            certificate_user_ids: vec!["X509:<SKI>0badc0de".into()],
            ..UserDraft::new("existing@contoso.example")
        },
    )
    .await;
    let csv = "userPrincipalName,displayName,certificateUserIds,accountEnabled\n\
               alice@contoso.example,Alice,X509:<SKI>01,true\n\
               not-a-upn,Broken,,true\n\
               bob@contoso.example,Bob,X509:<SKI>0BADC0DE,true\n\
               carol@contoso.example,Carol,,false\n\
               ALICE@contoso.example,Alice again,,true\n";
    let rows = parse_users_csv(csv.as_bytes()).expect("header");
    let report = import_users(&store, rows, now(), ACTOR).await;
    let outcome: Vec<(u64, &str)> = report
        .iter()
        .map(|row| {
            (
                row.row,
                match &row.result {
                    Ok(_) => "ok",
                    Err(error) => error.code(),
                },
            )
        })
        .collect();
    assert_eq!(
        outcome,
        [
            (2, "ok"),
            (3, "user-upn-invalid"),
            (4, "user-certificate-user-id-taken"),
            (5, "ok"),
            (6, "user-upn-taken"),
        ]
    );
    let upns: Vec<String> = store
        .list_users()
        .await
        .expect("list")
        .iter()
        .map(|user| user.upn.to_string())
        .collect();
    assert_eq!(
        upns,
        [
            "alice@contoso.example",
            "carol@contoso.example",
            "existing@contoso.example"
        ]
    );
    assert!(!get(&store, "carol@contoso.example").await.enabled);
}
