//! The directory suite: what the SQL store itself guarantees for users, binding rules and
//! strength rules behind the directory's ports (its unique indexes, racing writers, child
//! tables, round trips, the audit event and generation of every write), written once and run
//! against both backends. The directory's rules themselves (which service refuses what, the
//! token epoch, bindings, the CSV import) are tested once, in memory, in certgate-core's
//! tests/directory.rs. SQLite uses a file in a temporary directory; PostgreSQL gets
//! a fresh database per test on the server at 127.0.0.1:5432 (user `postgres`, database
//! `test`), or on the server named by `CERTGATE_TEST_POSTGRES_URL`. PostgreSQL is required:
//! when it cannot be reached the `postgres_*` tests fail and say why.

mod common;

use certgate_core::crl_cache::CrlCacheStore;
use std::sync::OnceLock;

use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::binding::{BindingPolicy, BindingRule, BindingRuleStore};
use certgate_core::directory::{
    add_user, find_user, prepare_user, remove_user, Affinity, CertificateField, Upn, User,
    UserAttribute, UserDraft, UserId, UserLookup, UserOrigin, UserStore,
};
use certgate_core::store::StoreError;
use certgate_core::strength::{
    IssuerSelector, Strength, StrengthRuleId, StrengthRuleSpec, StrengthRuleStore,
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
    the_store_refuses_a_taken_upn_immutable_id_or_proxy_address_by_itself
        => sqlite_the_store_refuses_a_taken_upn_immutable_id_or_proxy_address_by_itself,
           postgres_the_store_refuses_a_taken_upn_immutable_id_or_proxy_address_by_itself;
    the_store_refuses_a_taken_certificate_user_id_and_writes_none_of_the_user
        => sqlite_the_store_refuses_a_taken_certificate_user_id_and_writes_none_of_the_user,
           postgres_the_store_refuses_a_taken_certificate_user_id_and_writes_none_of_the_user;
    concurrent_writers_cannot_both_take_a_certificate_user_id
        => sqlite_concurrent_writers_cannot_both_take_a_certificate_user_id,
           postgres_concurrent_writers_cannot_both_take_a_certificate_user_id;
    find_users_compares_each_attribute_as_bindings_do
        => sqlite_find_users_compares_each_attribute_as_bindings_do,
           postgres_find_users_compares_each_attribute_as_bindings_do;
    update_user_replaces_the_multi_valued_attributes_and_frees_the_dropped_values
        => sqlite_update_user_replaces_the_multi_valued_attributes_and_frees_the_dropped_values,
           postgres_update_user_replaces_the_multi_valued_attributes_and_frees_the_dropped_values;
    remove_user_removes_everything_it_held
        => sqlite_remove_user_removes_everything_it_held,
           postgres_remove_user_removes_everything_it_held;
    every_directory_write_appends_its_audit_event_and_bumps_the_generation
        => sqlite_every_directory_write_appends_its_audit_event_and_bumps_the_generation,
           postgres_every_directory_write_appends_its_audit_event_and_bumps_the_generation;
    binding_rules_and_the_default_affinity_round_trip_and_a_taken_priority_is_refused
        => sqlite_binding_rules_and_the_default_affinity_round_trip_and_a_taken_priority_is_refused,
           postgres_binding_rules_and_the_default_affinity_round_trip_and_a_taken_priority_is_refused;
    strength_rules_round_trip_with_each_issuer_selector_in_id_order
        => sqlite_strength_rules_round_trip_with_each_issuer_selector_in_id_order,
           postgres_strength_rules_round_trip_with_each_issuer_selector_in_id_order;
    a_users_origin_round_trips_and_changes_with_the_user
        => sqlite_a_users_origin_round_trips_and_changes_with_the_user,
           postgres_a_users_origin_round_trips_and_changes_with_the_user;
    directory_groups_are_kept_apart_from_the_groups_assigned_in_certgate
        => sqlite_directory_groups_are_kept_apart_from_the_groups_assigned_in_certgate,
           postgres_directory_groups_are_kept_apart_from_the_groups_assigned_in_certgate;
    directory_groups_on_a_local_user_are_refused_as_corrupt
        => sqlite_directory_groups_on_a_local_user_are_refused_as_corrupt,
           postgres_directory_groups_on_a_local_user_are_refused_as_corrupt;
    a_sync_keeps_each_users_origin_so_the_next_sync_disables_then_removes
        => sqlite_a_sync_keeps_each_users_origin_so_the_next_sync_disables_then_removes,
           postgres_a_sync_keeps_each_users_origin_so_the_next_sync_disables_then_removes;
    the_origin_migration_makes_existing_users_local
        => sqlite_the_origin_migration_makes_existing_users_local,
           postgres_the_origin_migration_makes_existing_users_local;
    a_half_described_origin_is_refused_as_corrupt
        => sqlite_a_half_described_origin_is_refused_as_corrupt,
           postgres_a_half_described_origin_is_refused_as_corrupt;
    sync_runs_keep_the_last_run_and_the_last_completed_one
        => sqlite_sync_runs_keep_the_last_run_and_the_last_completed_one,
           postgres_sync_runs_keep_the_last_run_and_the_last_completed_one;
    two_nodes_never_hold_the_sync_lock_at_once
        => sqlite_two_nodes_never_hold_the_sync_lock_at_once,
           postgres_two_nodes_never_hold_the_sync_lock_at_once;
    two_syncs_started_together_on_two_nodes_apply_once
        => sqlite_two_syncs_started_together_on_two_nodes_apply_once,
           postgres_two_syncs_started_together_on_two_nodes_apply_once;
    a_read_that_fails_after_entries_arrived_applies_nothing_and_is_recorded
        => sqlite_a_read_that_fails_after_entries_arrived_applies_nothing_and_is_recorded,
           postgres_a_read_that_fails_after_entries_arrived_applies_nothing_and_is_recorded;
    the_change_mark_round_trips_and_is_replaced_whole
        => sqlite_the_change_mark_round_trips_and_is_replaced_whole,
           postgres_the_change_mark_round_trips_and_is_replaced_whole;
    runs_recorded_before_incremental_syncs_read_as_full_and_leave_no_mark
        => sqlite_runs_recorded_before_incremental_syncs_read_as_full_and_leave_no_mark,
           postgres_runs_recorded_before_incremental_syncs_read_as_full_and_leave_no_mark;
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
}

async fn the_store_refuses_a_taken_upn_immutable_id_or_proxy_address_by_itself(db: &TestDb) {
    // Writers that skipped the services' checks (a second node that raced past them): the
    // database's unique indexes refuse, UPNs and proxy addresses in any case.
    let store = db.open().await;
    let alice = add(&store, full_draft()).await;
    let sneaky = |draft: UserDraft| {
        prepare_user(draft, UserId::generate().expect("id"), now(), None).expect("valid")
    };
    for (taken, draft) in [
        ("UPN", UserDraft::new("ALICE@contoso.EXAMPLE")),
        (
            "immutable ID",
            UserDraft {
                immutable_id: Some("aGVsbG8gd29ybGQ=".into()),
                ..UserDraft::new("bob@contoso.example")
            },
        ),
        (
            "proxy address",
            UserDraft {
                proxy_addresses: vec!["SMTP:ALICE.Z@contoso.example".into()],
                ..UserDraft::new("bob@contoso.example")
            },
        ),
    ] {
        assert!(
            matches!(
                store.insert_user(&sneaky(draft), &audit("user.add")).await,
                Err(StoreError::Conflict { .. })
            ),
            "{taken}"
        );
    }
    assert_eq!(store.list_users().await.expect("list"), [alice]);
}

async fn the_store_refuses_a_taken_certificate_user_id_and_writes_none_of_the_user(db: &TestDb) {
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

async fn update_user_replaces_the_multi_valued_attributes_and_frees_the_dropped_values(
    db: &TestDb,
) {
    let store = db.open().await;
    let alice = add(&store, full_draft()).await;
    let changed = User {
        upn: Upn::parse("alice.z@contoso.example").expect("UPN"),
        mail: None,
        enabled: false,
        proxy_addresses: vec!["SMTP:alice.z@contoso.example".into()],
        certificate_user_ids: vec!["X509:<SKI>abcdef".into()],
        groups: vec!["vpn-users".into()],
        ..alice.clone()
    };
    store
        .update_user(&changed, &audit("user.set"))
        .await
        .expect("updated");
    assert_eq!(get(&store, alice.id.as_str()).await, changed);
    assert!(store
        .user_by_upn("alice@contoso.example")
        .await
        .expect("lookup")
        .is_none());
    // The rows of the dropped values are gone: another user can take them.
    let other =
        prepare_user(
            UserDraft {
                upn: "alice@contoso.example".into(),
                proxy_addresses: vec!["SMTP:alice@contoso.example".into()],
                certificate_user_ids: vec![
                    "X509:<I>DC=example,DC=contoso,CN=Issuing CA<SR>0102".into()
                ],
                ..UserDraft::new("")
            },
            UserId::generate().expect("id"),
            now(),
            None,
        )
        .expect("valid");
    store
        .insert_user(&other, &audit("user.add"))
        .await
        .expect("the dropped values are free");
    let unknown = User {
        id: UserId::generate().expect("id"),
        ..changed
    };
    assert!(matches!(
        store.update_user(&unknown, &audit("user.set")).await,
        Err(StoreError::NotFound { .. })
    ));
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
    assert!(matches!(
        store.delete_user(&alice.id, &audit("user.remove")).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn every_directory_write_appends_its_audit_event_and_bumps_the_generation(db: &TestDb) {
    let store = db.open().await;
    let alice =
        prepare_user(full_draft(), UserId::generate().expect("id"), now(), None).expect("valid");
    let rule = BindingRule::new(
        1,
        CertificateField::PrincipalName,
        UserAttribute::UserPrincipalName,
    );
    let spec = StrengthRuleSpec {
        issuer: None,
        policy_oid: Some("1.2.3.4".into()),
        strength: Strength::MultiFactor,
    };
    let mut generation = store.generation().await.expect("generation");
    store
        .insert_user(&alice, &audit("user.add"))
        .await
        .expect("insert");
    generation = check(&store, "user.add", generation).await;
    store
        .update_user(&alice, &audit("user.set"))
        .await
        .expect("update");
    generation = check(&store, "user.set", generation).await;
    store
        .set_sts_refresh_tokens_valid_from(&alice.id, now(), &audit("user.sts"))
        .await
        .expect("sts");
    generation = check(&store, "user.sts", generation).await;
    store
        .insert_binding_rule(&rule, now(), &audit("binding.add"))
        .await
        .expect("rule");
    generation = check(&store, "binding.add", generation).await;
    store
        .set_default_required_affinity(Affinity::High, &audit("binding.affinity"))
        .await
        .expect("affinity");
    generation = check(&store, "binding.affinity", generation).await;
    store
        .delete_binding_rule(1, &audit("binding.remove"))
        .await
        .expect("remove rule");
    generation = check(&store, "binding.remove", generation).await;
    let strength = store
        .insert_strength_rule(&spec, now(), &audit("strength.add"))
        .await
        .expect("strength");
    generation = check(&store, "strength.add", generation).await;
    store
        .delete_strength_rule(strength.id, &audit("strength.remove"))
        .await
        .expect("remove strength");
    generation = check(&store, "strength.remove", generation).await;
    store
        .delete_user(&alice.id, &audit("user.remove"))
        .await
        .expect("remove");
    check(&store, "user.remove", generation).await;
}

/// The generation grew past `before` and the newest audit event is the one `action` wrote.
async fn check(store: &SqlStore, action: &str, before: i64) -> i64 {
    let after = store.generation().await.expect("generation");
    assert!(after > before, "{action}: generation {before} -> {after}");
    let newest = store.audit_events(1).await.expect("audit").remove(0);
    assert_eq!(newest, audit(action));
    after
}

async fn binding_rules_and_the_default_affinity_round_trip_and_a_taken_priority_is_refused(
    db: &TestDb,
) {
    let store = db.open().await;
    let policy = store.binding_policy().await.expect("policy");
    assert_eq!(policy, BindingPolicy::default());
    let second = BindingRule::new(
        6,
        CertificateField::Rfc822Name,
        UserAttribute::ProxyAddresses,
    );
    let first = BindingRule::new(
        5,
        CertificateField::IssuerAndSerialNumber,
        UserAttribute::CertificateUserIds,
    );
    for rule in [second, first] {
        store
            .insert_binding_rule(&rule, now(), &audit("binding.add"))
            .await
            .expect("inserted");
    }
    // The primary key refuses a second rule with a taken priority.
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
    store
        .set_default_required_affinity(Affinity::High, &audit("binding.affinity"))
        .await
        .expect("affinity");

    // Another process reads the same, ordered by priority.
    drop(store);
    let store = db.open().await;
    let policy = store.binding_policy().await.expect("policy");
    assert_eq!(policy.rules, [first, second]);
    assert_eq!(policy.default_required_affinity, Affinity::High);

    store
        .delete_binding_rule(5, &audit("binding.remove"))
        .await
        .expect("deleted");
    assert!(matches!(
        store.delete_binding_rule(5, &audit("binding.remove")).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store.binding_policy().await.expect("policy").rules,
        [second]
    );
}

async fn strength_rules_round_trip_with_each_issuer_selector_in_id_order(db: &TestDb) {
    let store = db.open().await;
    let specs = [
        StrengthRuleSpec {
            issuer: Some(IssuerSelector::SubjectKeyIdentifier("0a1b2c".into())),
            policy_oid: None,
            strength: Strength::MultiFactor,
        },
        StrengthRuleSpec {
            issuer: Some(IssuerSelector::Subject(
                "CN=Issuing CA, DC=contoso, DC=example".into(),
            )),
            policy_oid: Some("1.3.6.1.4.1.311.21.8.1".into()),
            strength: Strength::SingleFactor,
        },
        StrengthRuleSpec {
            issuer: None,
            policy_oid: Some("1.2.3.4".into()),
            strength: Strength::MultiFactor,
        },
    ];
    let mut inserted = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let rule = store
            .insert_strength_rule(spec, UnixTime(now().0 + i as i64), &audit("strength.add"))
            .await
            .expect("inserted");
        assert_eq!(&rule.spec, spec);
        inserted.push(rule);
    }
    assert!(inserted.windows(2).all(|pair| pair[0].id < pair[1].id));

    // Another process reads the same, in id order.
    drop(store);
    let store = db.open().await;
    assert_eq!(store.strength_rules().await.expect("rules"), inserted);
    store
        .delete_strength_rule(inserted[0].id, &audit("strength.remove"))
        .await
        .expect("deleted");
    assert_eq!(store.strength_rules().await.expect("rules"), inserted[1..]);
    assert!(matches!(
        store
            .delete_strength_rule(StrengthRuleId(999), &audit("strength.remove"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

// ---- Where users come from (migration 15) ----------------------------------------------------

/// The schema version before users had an origin.
const SCHEMA_BEFORE_USER_ORIGIN: i64 = 14;

async fn raw_connection(db: &TestDb) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(db.url())
        .await
        .expect("a raw connection")
}

async fn a_users_origin_round_trips_and_changes_with_the_user(db: &TestDb) {
    let store = db.open().await;
    let local = add(&store, UserDraft::new("carol@contoso.example")).await;
    assert_eq!(local.origin, UserOrigin::Local);
    assert_eq!(get(&store, "carol@contoso.example").await, local);

    let synced = User {
        origin: UserOrigin::present_in_directory(
            "CN=Alice Zürich,OU=Staff,DC=contoso,DC=example",
            vec!["VPN Users".into(), "Staff".into()],
        ),
        ..prepare_user(full_draft(), UserId::generate().expect("id"), now(), None).expect("valid")
    };
    store
        .insert_user(&synced, &audit("user.add"))
        .await
        .expect("inserted");
    assert_eq!(get(&store, synced.id.as_str()).await, synced);

    let missing = User {
        enabled: false,
        origin: UserOrigin::Directory {
            dn: "CN=Alice Zürich,OU=Staff,DC=contoso,DC=example".into(),
            missing_since: Some(UnixTime(now().0 + 60)),
            groups: vec!["Staff".into()],
        },
        ..synced.clone()
    };
    store
        .update_user(&missing, &audit("user.set"))
        .await
        .expect("updated");
    assert_eq!(get(&store, synced.id.as_str()).await, missing);
    // Finding a user by any attribute reads its origin too.
    let found = store
        .find_users(UserAttribute::UserPrincipalName, "alice@contoso.example")
        .await
        .expect("lookup");
    assert_eq!(found, [missing]);
}

async fn directory_groups_are_kept_apart_from_the_groups_assigned_in_certgate(db: &TestDb) {
    use certgate_core::directory::set_user;
    use certgate_core::directory_source::{
        apply_sync, map_entries, plan_sync, AttributeMap, DirectoryEntry, SourcedField, SyncChange,
        SyncSettings,
    };

    let entry = DirectoryEntry::new("CN=dora,OU=Staff,DC=contoso,DC=example")
        .with("userPrincipalName", &[b"dora@contoso.example"])
        .with("objectGUID", &[&[7; 16]])
        .with("userAccountControl", &[b"512"]);
    // Each sync opens the store afresh: what it compares against comes from the database.
    let sync = |groups: &[&str], at: UnixTime| {
        let groups: Vec<String> = groups.iter().map(|group| group.to_string()).collect();
        let entry = entry.clone();
        async move {
            let store = db.open().await;
            let known = store.list_users().await.expect("users");
            let mut mapped = map_entries(&[entry], &AttributeMap::active_directory());
            mapped.entries[0].directory_groups = groups;
            let plan = plan_sync(&known, mapped, at, SyncSettings::DEFAULT_REMOVAL_GRACE);
            let outcome = apply_sync(&store, &plan, at, "directory-sync").await;
            assert_eq!(outcome.failed, []);
            store.close().await;
            plan.changes
        }
    };

    let store = db.open().await;
    sync(&["G1", "G2"], now()).await;
    let dora = get(&store, "dora@contoso.example").await;
    assert_eq!(dora.origin.directory_groups(), ["G1", "G2"]);
    assert!(dora.groups.is_empty());

    // A group assigned by hand is stored as a local group, whatever its name.
    let dora = set_user(
        &store,
        "dora@contoso.example",
        |mut draft| {
            draft.groups = vec!["certgate-admins".into(), "G3".into()];
            draft
        },
        now(),
        ACTOR,
    )
    .await
    .expect("groups stay editable");
    assert_eq!(dora.groups, ["certgate-admins", "G3"]);
    assert_eq!(dora.origin.directory_groups(), ["G1", "G2"]);
    assert_eq!(
        dora.effective_groups(),
        ["certgate-admins", "G3", "G1", "G2"]
    );

    // The directory's change replaces the directory groups only, and the audit event names
    // the memberships that changed.
    let later = UnixTime(now().0 + 60);
    let changes = sync(&["G2", "G3"], later).await;
    let [SyncChange::Update { changed, .. }] = changes.as_slice() else {
        panic!("one update, not {changes:?}");
    };
    assert_eq!(changed, &[SourcedField::DirectoryGroups]);
    let dora = get(&store, "dora@contoso.example").await;
    assert_eq!(dora.groups, ["certgate-admins", "G3"]);
    assert_eq!(dora.origin.directory_groups(), ["G2", "G3"]);
    let event = store.audit_events(1).await.expect("audit").remove(0);
    assert_eq!(event.actor, "directory-sync");
    assert!(
        event
            .detail
            .contains("directoryGroups: joined [G3], left [G1]"),
        "{}",
        event.detail
    );
    // The same memberships again: nothing to change.
    assert_eq!(sync(&["G3", "G2"], later).await, []);
}

async fn directory_groups_on_a_local_user_are_refused_as_corrupt(db: &TestDb) {
    let store = db.open().await;
    let carol = add(&store, UserDraft::new("carol@contoso.example")).await;
    let mut conn = raw_connection(db).await;
    // Written around certgate: a local user must not gain directory memberships this way.
    sqlx::query(
        "INSERT INTO user_directory_groups (user_id, position, group_name) VALUES ($1, 0, $2)",
    )
    .bind(carol.id.as_str())
    .bind("certgate-admins")
    .execute(&mut conn)
    .await
    .expect("inserted");
    assert!(matches!(
        store.user_by_id(&carol.id).await,
        Err(StoreError::Corrupt { .. })
    ));
}

async fn a_sync_keeps_each_users_origin_so_the_next_sync_disables_then_removes(db: &TestDb) {
    use certgate_core::directory_source::{
        apply_sync, map_entries, plan_sync, AttributeMap, DirectoryEntry, SourceLink,
    };
    use std::time::Duration;

    const GRACE: Duration = Duration::from_secs(86_400);
    let account = |cn: &str, guid: u8| {
        DirectoryEntry::new(format!("CN={cn},OU=Staff,DC=contoso,DC=example"))
            .with(
                "userPrincipalName",
                &[format!("{cn}@contoso.example").as_bytes()],
            )
            .with("objectGUID", &[&[guid; 16]])
            .with("userAccountControl", &[b"512"])
    };
    // Each sync starts from a store opened afresh, so what it knows can only come from the
    // database.
    let sync = |entries: Vec<DirectoryEntry>, at: UnixTime| async move {
        let store = db.open().await;
        let known = store.list_users().await.expect("users");
        let plan = plan_sync(
            &known,
            map_entries(&entries, &AttributeMap::active_directory()),
            at,
            GRACE,
        );
        let outcome = apply_sync(&store, &plan, at, "directory-sync").await;
        store.close().await;
        outcome
    };

    let store = db.open().await;
    add(&store, UserDraft::new("carol@contoso.example")).await;
    let t0 = now();
    let first = sync(vec![account("alice", 1), account("bob", 2)], t0).await;
    assert_eq!((first.applied.len(), first.failed.len()), (2, 0));
    let bob = get(&store, "bob@contoso.example").await;
    assert_eq!(
        bob.origin,
        UserOrigin::present_in_directory("CN=bob,OU=Staff,DC=contoso,DC=example", Vec::new())
    );
    assert_eq!(
        get(&store, "carol@contoso.example").await.origin,
        UserOrigin::Local
    );

    let again = sync(vec![account("alice", 1), account("bob", 2)], t0).await;
    assert_eq!((again.applied.len(), again.failed.len()), (0, 0));

    let t1 = UnixTime(t0.0 + 60);
    let gone = sync(vec![account("alice", 1)], t1).await;
    assert_eq!(gone.failed, []);
    let links: Vec<SourceLink> = gone.applied.iter().map(|change| change.link).collect();
    assert_eq!(links, [SourceLink::MissingSince(t1)]);
    let bob = get(&store, "bob@contoso.example").await;
    assert!(!bob.enabled);
    assert_eq!(
        bob.origin,
        UserOrigin::Directory {
            dn: "CN=bob,OU=Staff,DC=contoso,DC=example".into(),
            missing_since: Some(t1),
            groups: Vec::new(),
        }
    );

    let within = sync(vec![account("alice", 1)], UnixTime(t1.0 + 3600)).await;
    assert_eq!((within.applied.len(), within.failed.len()), (0, 0));
    let past = sync(vec![account("alice", 1)], UnixTime(t1.0 + 86_400)).await;
    assert_eq!(past.failed, []);
    let links: Vec<SourceLink> = past.applied.iter().map(|change| change.link).collect();
    assert_eq!(links, [SourceLink::Removed]);
    let upns: Vec<String> = store
        .list_users()
        .await
        .expect("users")
        .iter()
        .map(|user| user.upn.to_string())
        .collect();
    assert_eq!(upns, ["alice@contoso.example", "carol@contoso.example"]);
}

async fn the_origin_migration_makes_existing_users_local(db: &TestDb) {
    SqlStore::migrate_until_for_tests(db.url(), SCHEMA_BEFORE_USER_ORIGIN)
        .await
        .expect("the schema of the release before");
    let mut conn = raw_connection(db).await;
    // A user as that release wrote it (its columns only), with a certificateUserIds value.
    let enabled = if db.url().starts_with("sqlite") {
        "1"
    } else {
        "TRUE"
    };
    for statement in [
        format!(
            "INSERT INTO users (id, upn, upn_lower, immutable_id, display_name, mail, enabled, \
             sts_refresh_tokens_valid_from, created_at) VALUES \
             ('00000000-0000-4000-8000-000000000001', 'Dave@contoso.example', \
             'dave@contoso.example', 'ZGF2ZQ==', 'Dave', NULL, {enabled}, NULL, 1700000000)"
        ),
        "INSERT INTO user_certificate_user_ids (user_id, position, value, value_key) VALUES \
         ('00000000-0000-4000-8000-000000000001', 0, 'X509:<SKI>abcd', 'key-abcd')"
            .to_owned(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .expect("written with the old schema");
    }
    drop(conn);

    let store = db.open().await;
    let dave = get(&store, "dave@contoso.example").await;
    assert_eq!(dave.origin, UserOrigin::Local);
    assert_eq!(dave.immutable_id, "ZGF2ZQ==");
    assert_eq!(dave.certificate_user_ids, ["X509:<SKI>abcd"]);
    assert_eq!(dave.created_at, UnixTime(1_700_000_000));
    // The migrated user is a user like any other: the services can change it.
    let renamed = certgate_core::directory::set_user(
        &store,
        "dave@contoso.example",
        |mut draft| {
            draft.display_name = Some("Dave Jones".into());
            draft
        },
        now(),
        ACTOR,
    )
    .await
    .expect("changed");
    assert_eq!(renamed.origin, UserOrigin::Local);
    assert_eq!(
        get(&store, "dave@contoso.example").await.display_name,
        "Dave Jones"
    );
}

async fn a_half_described_origin_is_refused_as_corrupt(db: &TestDb) {
    let store = db.open().await;
    let alice = add(&store, UserDraft::new("alice@contoso.example")).await;
    let mut conn = raw_connection(db).await;
    // A synchronised user without its DN, written behind certgate's back.
    sqlx::query("UPDATE users SET origin = 'directory' WHERE id = $1")
        .bind(alice.id.as_str())
        .execute(&mut conn)
        .await
        .expect("written");
    assert!(matches!(
        store.user_by_id(&alice.id).await,
        Err(StoreError::Corrupt { .. })
    ));
    // And the column itself takes only the two origins.
    assert!(
        sqlx::query("UPDATE users SET origin = 'imported' WHERE id = $1")
            .bind(alice.id.as_str())
            .execute(&mut conn)
            .await
            .is_err()
    );
}

async fn sync_runs_keep_the_last_run_and_the_last_completed_one(db: &TestDb) {
    use certgate_core::directory_source::{
        SyncCounts, SyncRun, SyncRunResult, SyncRunStore, SyncScope, SyncStatus,
    };
    let store = db.open().await;
    assert_eq!(
        store.sync_status().await.expect("status"),
        SyncStatus::default()
    );
    let completed = SyncRun {
        scope: SyncScope::Incremental,
        started_at: now(),
        finished_at: UnixTime(now().0 + 3),
        result: SyncRunResult::Completed(SyncCounts {
            entries: 12,
            added: 1,
            updated: 2,
            disabled: 3,
            removed: 4,
            skipped: 5,
            failed: 6,
        }),
    };
    store.record_sync_run(&completed).await.expect("recorded");
    let status = store.sync_status().await.expect("status");
    assert_eq!(status.last_run.as_ref(), Some(&completed));
    assert_eq!(status.last_completed.as_ref(), Some(&completed));

    let failed = SyncRun {
        scope: SyncScope::Full,
        started_at: UnixTime(now().0 + 60),
        finished_at: UnixTime(now().0 + 70),
        result: SyncRunResult::Failed {
            code: "directory-source-unreachable".into(),
            message: "could not connect".into(),
        },
    };
    store.record_sync_run(&failed).await.expect("recorded");
    // A failed run is the last run, and the last completed one is still there.
    let status = db.open().await.sync_status().await.expect("status");
    assert_eq!(status.last_run, Some(failed));
    assert_eq!(status.last_completed, Some(completed));
}

/// Two nodes (two stores, each with its pool, on one database) try to start a sync at the
/// same moment, many times over: exactly one gets the lock each time; the other's sync is
/// refused and changes nothing; a lock dropped without release (a run that died) is freed.
async fn two_nodes_never_hold_the_sync_lock_at_once(db: &TestDb) {
    use certgate_core::clock::FixedClock;
    use certgate_core::directory_source::{
        synchronize, AttributeMap, DirectoryEntry, DirectorySource, GroupQuery, SourceError,
        SyncLock, SyncMode, SyncSettings,
    };

    let (first, second) = (db.open().await, db.open().await);
    for round in 0..20 {
        let (a, b) = tokio::join!(first.try_lock_sync(), second.try_lock_sync());
        let (a, b) = (a.expect("lock A"), b.expect("lock B"));
        assert!(
            a.is_some() != b.is_some(),
            "round {round}: exactly one node holds the lock (A {}, B {})",
            a.is_some(),
            b.is_some()
        );
        if let Some(held) = a {
            first.release_sync_lock(held).await.expect("released");
        }
        if let Some(held) = b {
            second.release_sync_lock(held).await.expect("released");
        }
    }

    /// One account, for a sync that would add it.
    struct OneAccount;
    impl DirectorySource for OneAccount {
        async fn read_entries(
            &self,
            _attributes: &[String],
        ) -> Result<Vec<DirectoryEntry>, SourceError> {
            Ok(vec![DirectoryEntry::new("CN=zoe,DC=contoso,DC=example")
                .with("userPrincipalName", &[b"zoe@contoso.example"])
                .with("objectGUID", &[&[9; 16]])
                .with("userAccountControl", &[b"512"])])
        }

        async fn read_groups(
            &self,
            _query: &GroupQuery<'_>,
        ) -> Result<Vec<DirectoryEntry>, SourceError> {
            Ok(Vec::new())
        }
    }
    let settings = SyncSettings {
        attributes: AttributeMap::active_directory(),
        removal_grace: SyncSettings::DEFAULT_REMOVAL_GRACE,
    };
    let clock = FixedClock::at(now().0);
    let held = first.try_lock_sync().await.expect("lock").expect("free");
    let refused = synchronize(
        &OneAccount,
        &second,
        &settings,
        SyncMode::Apply,
        &clock,
        ACTOR,
        &mut |_| {},
    )
    .await
    .expect_err("another node holds the lock");
    assert_eq!(refused.code(), "directory-sync-already-running");
    assert!(second.list_users().await.expect("users").is_empty());
    // A dry run writes nothing and is not held up.
    let dry = synchronize(
        &OneAccount,
        &second,
        &settings,
        SyncMode::DryRun,
        &clock,
        ACTOR,
        &mut |_| {},
    )
    .await
    .expect("a dry run");
    assert_eq!(dry.counts().added, 1);

    // The holder dies without releasing: the lock is freed with its session or file.
    drop(held);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let held = loop {
        if let Some(held) = second.try_lock_sync().await.expect("lock") {
            break held;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a dropped lock was not freed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    second.release_sync_lock(held).await.expect("released");
    let applied = synchronize(
        &OneAccount,
        &first,
        &settings,
        SyncMode::Apply,
        &clock,
        ACTOR,
        &mut |_| {},
    )
    .await
    .expect("the lock is free again");
    assert_eq!(applied.counts().added, 1);
    // And the run let go of it.
    let again = second.try_lock_sync().await.expect("lock").expect("free");
    second.release_sync_lock(again).await.expect("released");
}

/// One account (zoe, with a directory group), or a read that fails at the step `fails_at`.
struct ScriptedSource {
    fails_at: Option<ReadStep>,
    /// Holds the read until notified: a run that is applying, for as long as a test needs.
    gate: Option<tokio::sync::Notify>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadStep {
    Entries,
    Groups,
}

impl ScriptedSource {
    const DN: &'static str = "CN=zoe,DC=contoso,DC=example";

    fn lost(&self) -> certgate_core::directory_source::SourceError {
        certgate_core::directory_source::SourceError::ConnectionLost {
            url: "ldaps://dc.contoso.example".into(),
            during: "search",
            detail: "the test's connection broke".into(),
        }
    }
}

impl certgate_core::directory_source::DirectorySource for ScriptedSource {
    async fn read_entries(
        &self,
        _attributes: &[String],
    ) -> Result<
        Vec<certgate_core::directory_source::DirectoryEntry>,
        certgate_core::directory_source::SourceError,
    > {
        if let Some(gate) = &self.gate {
            gate.notified().await;
        }
        if self.fails_at == Some(ReadStep::Entries) {
            return Err(self.lost());
        }
        Ok(vec![certgate_core::directory_source::DirectoryEntry::new(
            Self::DN,
        )
        .with("userPrincipalName", &[b"zoe@contoso.example"])
        .with("displayName", &[b"Zoe"])
        .with("objectGUID", &[&[9; 16]])
        .with("userAccountControl", &[b"512"])])
    }

    async fn read_groups(
        &self,
        _query: &certgate_core::directory_source::GroupQuery<'_>,
    ) -> Result<
        Vec<certgate_core::directory_source::DirectoryEntry>,
        certgate_core::directory_source::SourceError,
    > {
        if self.fails_at == Some(ReadStep::Groups) {
            return Err(self.lost());
        }
        Ok(vec![certgate_core::directory_source::DirectoryEntry::new(
            "CN=Sales,DC=contoso,DC=example",
        )
        .with("cn", &[b"Sales"])])
    }
}

fn sync_settings() -> certgate_core::directory_source::SyncSettings {
    certgate_core::directory_source::SyncSettings {
        attributes: certgate_core::directory_source::AttributeMap::active_directory(),
        removal_grace: certgate_core::directory_source::SyncSettings::DEFAULT_REMOVAL_GRACE,
    }
}

async fn apply(
    source: &ScriptedSource,
    store: &SqlStore,
) -> Result<certgate_core::directory_source::SyncReport, certgate_core::directory_source::SyncError>
{
    certgate_core::directory_source::synchronize(
        source,
        store,
        &sync_settings(),
        certgate_core::directory_source::SyncMode::Apply,
        &certgate_core::clock::FixedClock::at(now().0),
        "directory-sync",
        &mut |_| {},
    )
    .await
}

/// Two nodes start a sync at the same moment, each through `synchronize` on its own store
/// handle: the one that takes the lock applies while the other is refused
/// (`directory-sync-already-running`) and writes nothing, not even a run record; the user is
/// added once, with one audit event.
async fn two_syncs_started_together_on_two_nodes_apply_once(db: &TestDb) {
    use certgate_core::directory_source::{SyncRunResult, SyncRunStore};

    let (first, second) = (db.open().await, db.open().await);
    let source = ScriptedSource {
        fails_at: None,
        gate: Some(tokio::sync::Notify::new()),
    };
    let gate = source.gate.as_ref().expect("the gate");
    // The refused run lets the winner go on; were both to hold the lock, both would wait in
    // the read and the test's deadline would say so.
    let node = |store| {
        let source = &source;
        async move {
            let result = apply(source, store).await;
            if result.is_err() {
                gate.notify_one();
            }
            result
        }
    };
    let (a, b) = tokio::join!(node(&first), node(&second));
    let (applied, refused) = match (a, b) {
        (Ok(applied), Err(refused)) | (Err(refused), Ok(applied)) => (applied, refused),
        (a, b) => panic!("exactly one node applies: {a:?} / {b:?}"),
    };
    assert_eq!(refused.code(), "directory-sync-already-running");
    assert_eq!(applied.counts().added, 1);
    let users = first.list_users().await.expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].upn.as_str(), "zoe@contoso.example");
    let adds = first
        .audit_events(100)
        .await
        .expect("audit")
        .iter()
        .filter(|event| event.action == "user.add")
        .count();
    assert_eq!(adds, 1);
    let status = second.sync_status().await.expect("status");
    assert!(matches!(
        status.last_run.map(|run| run.result),
        Some(SyncRunResult::Completed(counts)) if counts.added == 1
    ));
}

/// A read that breaks after the users' entries arrived (while their group memberships are
/// read) applies none of them: the store holds what the last completed run left, with no
/// audit event, and the run is recorded as failed with the source's code.
async fn a_read_that_fails_after_entries_arrived_applies_nothing_and_is_recorded(db: &TestDb) {
    use certgate_core::directory_source::{SyncRunResult, SyncRunStore};

    let store = db.open().await;
    let failing = |step| ScriptedSource {
        fails_at: Some(step),
        gate: None,
    };
    for step in [ReadStep::Entries, ReadStep::Groups] {
        let error = apply(&failing(step), &store)
            .await
            .expect_err("a broken read fails the run");
        assert_eq!(error.code(), "directory-source-connection-lost");
        assert!(store.list_users().await.expect("users").is_empty());
        assert!(store.audit_events(100).await.expect("audit").is_empty());
        let status = db.open().await.sync_status().await.expect("status");
        assert!(matches!(
            status.last_run.map(|run| run.result),
            Some(SyncRunResult::Failed { code, .. }) if code == "directory-source-connection-lost"
        ));
        assert_eq!(status.last_completed, None);
    }

    // A healthy read applies; a broken one after it keeps the user and the completed run.
    let healthy = ScriptedSource {
        fails_at: None,
        gate: None,
    };
    apply(&healthy, &store).await.expect("a healthy sync");
    let users = store.list_users().await.expect("users");
    let events = store.audit_events(100).await.expect("audit").len();
    let completed = store.sync_status().await.expect("status").last_completed;
    assert!(completed.is_some());
    for step in [ReadStep::Entries, ReadStep::Groups] {
        apply(&failing(step), &store)
            .await
            .expect_err("a broken read fails the run");
        let reopened = db.open().await;
        assert_eq!(reopened.list_users().await.expect("users"), users);
        assert_eq!(
            reopened.audit_events(100).await.expect("audit").len(),
            events
        );
        let status = reopened.sync_status().await.expect("status");
        assert_eq!(status.last_completed, completed);
        assert!(matches!(
            status.last_run.map(|run| run.result),
            Some(SyncRunResult::Failed { .. })
        ));
    }
}

/// The mark incremental syncs continue from: none at first, then exactly what was saved (the
/// whole row replaced, a 63-bit USN included), seen by another node; a USN no DC can have is
/// refused and leaves the stored mark.
async fn the_change_mark_round_trips_and_is_replaced_whole(db: &TestDb) {
    use certgate_core::directory_source::{ChangeMark, ChangeMarkStore};
    let store = db.open().await;
    assert_eq!(store.change_mark().await.expect("read"), None);
    let first = ChangeMark {
        server: "CN=NTDS Settings,CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,DC=contoso,DC=example".into(),
        invocation_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
        highest_committed_usn: 12_345,
        settings_fingerprint: "a".repeat(64),
        full_sync_started_at: now(),
    };
    store.save_change_mark(&first).await.expect("saved");
    assert_eq!(
        db.open().await.change_mark().await.expect("read"),
        Some(first.clone())
    );

    let second = ChangeMark {
        server: "CN=NTDS Settings,CN=DC2".into(),
        invocation_id: "00".into(),
        highest_committed_usn: i64::MAX as u64,
        settings_fingerprint: "b".repeat(64),
        full_sync_started_at: UnixTime(now().0 + 86_400),
    };
    store.save_change_mark(&second).await.expect("replaced");
    assert_eq!(
        db.open().await.change_mark().await.expect("read"),
        Some(second.clone())
    );

    let impossible = ChangeMark {
        highest_committed_usn: u64::MAX,
        ..first
    };
    let error = store
        .save_change_mark(&impossible)
        .await
        .expect_err("no DC has such a USN");
    assert_eq!(error.code(), "store-conflict");
    assert_eq!(store.change_mark().await.expect("read"), Some(second));
}

/// The last schema without incremental syncs.
const SCHEMA_BEFORE_CHANGE_MARKS: i64 = 17;

/// A run recorded by the release before incremental syncs reads as a full run, and there is
/// no mark, so the first sync after the upgrade is a full one.
async fn runs_recorded_before_incremental_syncs_read_as_full_and_leave_no_mark(db: &TestDb) {
    use certgate_core::directory_source::{
        ChangeMarkStore, SyncRunResult, SyncRunStore, SyncScope,
    };
    SqlStore::migrate_until_for_tests(db.url(), SCHEMA_BEFORE_CHANGE_MARKS)
        .await
        .expect("the schema of the release before");
    let mut conn = raw_connection(db).await;
    sqlx::query(
        "INSERT INTO directory_sync_runs (slot, started_at, finished_at, result, code, message, \
         entries, added, updated, disabled, removed, skipped, failed) VALUES \
         ('last', 1700000000, 1700000005, 'completed', NULL, NULL, 7, 1, 2, 0, 0, 0, 0)",
    )
    .execute(&mut conn)
    .await
    .expect("written with the old schema");
    drop(conn);

    let store = db.open().await;
    let last = store
        .sync_status()
        .await
        .expect("status")
        .last_run
        .expect("the old run");
    assert_eq!(last.scope, SyncScope::Full);
    assert_eq!(last.started_at, UnixTime(1_700_000_000));
    assert!(matches!(last.result, SyncRunResult::Completed(counts) if counts.entries == 7));
    assert_eq!(store.change_mark().await.expect("mark"), None);
}
