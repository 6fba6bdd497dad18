//! The store suite: every behaviour of the `Store` port, written once and run against both
//! backends. SQLite uses a file in a temporary directory; PostgreSQL gets a fresh database per
//! test on the server at 127.0.0.1:5432 (user `postgres`, database `test`), or on the server
//! named by `CERTGATE_TEST_POSTGRES_URL`. PostgreSQL is required, not optional: when it cannot
//! be reached the `postgres_*` tests fail and say why.
//!
//! The durability tests run this test binary again as a child process that writes until it is
//! killed with SIGKILL, then check that every write the child saw acknowledged is stored.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::authority::{
    AuthorityId, AuthorityRecord, AuthorityRole, IssuedRecord, OwnCaStore, ParentCertificate,
    PublishedCrl,
};
use certgate_core::crl_cache::{
    der_sha256, CachedCrl, CachedCrlSummary, CrlCacheStore, CrlFetchStatus, CrlKind,
};
use certgate_core::store::{StoreError, StoreResult};
use certgate_core::trusted_ca::{
    prepare_new_ca, AuthorityType, CaId, CaSettings, NewCa, TrustedCaStore,
};
use certgate_pki::UnixTime;
use certgate_store::{Backend, SqlStore};
use certgate_testpki::{instants, ChainSpec, CrlSpec, Issued, KeyKind, TestPki, VALIDATION_TIME};
use sqlx::{Connection, Row};

use common::{on_both_backends, with_database, TestDb};

// ---- Harness (common/mod.rs) --------------------------------------------------------------

on_both_backends! {
    trusted_cas_round_trip => sqlite_trusted_cas_round_trip, postgres_trusted_cas_round_trip;
    insert_cas_is_all_or_nothing
        => sqlite_insert_cas_is_all_or_nothing, postgres_insert_cas_is_all_or_nothing;
    update_ca_changes_settings_and_refuses_unknown_ids
        => sqlite_update_ca_changes_settings_and_refuses_unknown_ids,
           postgres_update_ca_changes_settings_and_refuses_unknown_ids;
    delete_ca_removes_its_cached_crls_and_fetch_status
        => sqlite_delete_ca_removes_its_cached_crls_and_fetch_status,
           postgres_delete_ca_removes_its_cached_crls_and_fetch_status;
    generation_grows_on_trust_and_crl_changes_only
        => sqlite_generation_grows_on_trust_and_crl_changes_only,
           postgres_generation_grows_on_trust_and_crl_changes_only;
    put_cached_crl_replaces_by_ca_and_kind
        => sqlite_put_cached_crl_replaces_by_ca_and_kind,
           postgres_put_cached_crl_replaces_by_ca_and_kind;
    a_cached_crl_of_many_chunks_round_trips_and_a_smaller_one_replaces_it_whole
        => sqlite_a_cached_crl_of_many_chunks_round_trips_and_a_smaller_one_replaces_it_whole,
           postgres_a_cached_crl_of_many_chunks_round_trips_and_a_smaller_one_replaces_it_whole;
    crl_der_round_trips_byte_exact
        => sqlite_crl_der_round_trips_byte_exact, postgres_crl_der_round_trips_byte_exact;
    fetch_status_round_trips_with_and_without_error
        => sqlite_fetch_status_round_trips_with_and_without_error,
           postgres_fetch_status_round_trips_with_and_without_error;
    absent_optional_fields_stay_absent
        => sqlite_absent_optional_fields_stay_absent, postgres_absent_optional_fields_stay_absent;
    authorities_are_inserted_once
        => sqlite_authorities_are_inserted_once, postgres_authorities_are_inserted_once;
    crl_numbers_count_up_from_one_per_authority
        => sqlite_crl_numbers_count_up_from_one_per_authority,
           postgres_crl_numbers_count_up_from_one_per_authority;
    concurrent_crl_number_allocations_are_distinct
        => sqlite_concurrent_crl_number_allocations_are_distinct,
           postgres_concurrent_crl_number_allocations_are_distinct;
    issued_certificates_round_trip_and_serials_are_unique
        => sqlite_issued_certificates_round_trip_and_serials_are_unique,
           postgres_issued_certificates_round_trip_and_serials_are_unique;
    revocation_is_recorded_once
        => sqlite_revocation_is_recorded_once, postgres_revocation_is_recorded_once;
    revocation_cascades_to_descendants_and_spares_the_rest
        => sqlite_revocation_cascades_to_descendants_and_spares_the_rest,
           postgres_revocation_cascades_to_descendants_and_spares_the_rest;
    a_crl_listing_a_foreign_parent_revokes_its_children_in_the_cache_update
        => sqlite_a_crl_listing_a_foreign_parent_revokes_its_children_in_the_cache_update,
           postgres_a_crl_listing_a_foreign_parent_revokes_its_children_in_the_cache_update;
    derived_certificates_are_limited_per_user_counting_only_live_ones
        => sqlite_derived_certificates_are_limited_per_user_counting_only_live_ones,
           postgres_derived_certificates_are_limited_per_user_counting_only_live_ones;
    concurrent_derived_inserts_do_not_overshoot_the_limit
        => sqlite_concurrent_derived_inserts_do_not_overshoot_the_limit,
           postgres_concurrent_derived_inserts_do_not_overshoot_the_limit;
    insert_refuses_a_child_of_a_revoked_or_unknown_parent
        => sqlite_insert_refuses_a_child_of_a_revoked_or_unknown_parent,
           postgres_insert_refuses_a_child_of_a_revoked_or_unknown_parent;
    child_insert_waits_for_a_revocation_of_its_parent_and_is_refused
        => sqlite_child_insert_waits_for_a_revocation_of_its_parent_and_is_refused,
           postgres_child_insert_waits_for_a_revocation_of_its_parent_and_is_refused;
    revocation_waits_for_a_child_being_recorded_and_revokes_it
        => sqlite_revocation_waits_for_a_child_being_recorded_and_revokes_it,
           postgres_revocation_waits_for_a_child_being_recorded_and_revokes_it;
    latest_published_crl_is_the_highest_number_per_authority_and_kind
        => sqlite_latest_published_crl_is_the_highest_number_per_authority_and_kind,
           postgres_latest_published_crl_is_the_highest_number_per_authority_and_kind;
    audit_events_come_newest_first
        => sqlite_audit_events_come_newest_first, postgres_audit_events_come_newest_first;
    reopening_sees_the_data
        => sqlite_reopening_sees_the_data, postgres_reopening_sees_the_data;
    concurrent_first_opens_migrate_once
        => sqlite_concurrent_first_opens_migrate_once,
           postgres_concurrent_first_opens_migrate_once;
    acknowledged_writes_survive_kill_9
        => sqlite_acknowledged_writes_survive_kill_9, postgres_acknowledged_writes_survive_kill_9;
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@db:5432/test?sslmode=disable", "x"),
        "postgres://u:p@db:5432/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://db", "x"), "postgres://db/x");
}

// ---- Fixtures -----------------------------------------------------------------------------

/// Two real test PKIs (RSA and ECDSA, distinct serials) and CRLs signed by their CAs.
/// Generated once per test binary: key generation is the slow part.
struct Fixtures {
    rsa: TestPki,
    ecdsa: TestPki,
    /// The RSA issuing CA's CRL number 1 with a few entries.
    small_crl: Vec<u8>,
    /// The RSA issuing CA's CRL number 2 with 300 entries: about 11 KB.
    large_crl: Vec<u8>,
    /// A CRL of the RSA root.
    root_crl: Vec<u8>,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let rsa = TestPki::three_level(&ChainSpec::default()).expect("RSA test PKI");
        let ecdsa = TestPki::three_level(&ChainSpec {
            serial_seed: 0x5EED_0002,
            leaf_common_name: "Bob Example".into(),
            upn: Some("bob@corp.example".into()),
            email: None,
            ..ChainSpec::with_key(KeyKind::EcdsaP256)
        })
        .expect("ECDSA test PKI");
        let crl = |issuer: &Issued, crl_number, entries| {
            TestPki::crl(
                issuer,
                &CrlSpec {
                    crl_number,
                    entries,
                    ..CrlSpec::default()
                },
            )
            .expect("test CRL")
        };
        Fixtures {
            small_crl: crl(&rsa.intermediate, 1, 5),
            large_crl: crl(&rsa.intermediate, 2, 300),
            root_crl: crl(&rsa.root, 7, 2),
            rsa,
            ecdsa,
        }
    })
}

fn now() -> UnixTime {
    UnixTime(VALIDATION_TIME)
}

fn later(seconds: i64) -> UnixTime {
    UnixTime(VALIDATION_TIME + seconds)
}

/// Three CAs with different settings: a root with both CRL URLs, exempt from CRL validation
/// and not sent as a hint; its issuing CA with a base URL only; the ECDSA root with no URLs
/// and no display name (so it is named after its subject).
fn three_new_cas() -> Vec<NewCa> {
    let f = fixtures();
    let prepare = |der: &[u8], settings| {
        prepare_new_ca(der.to_vec(), settings, &[], now()).expect("a CA certgate accepts")
    };
    vec![
        prepare(
            &f.rsa.root.der,
            CaSettings {
                display_name: "Contoso Root".into(),
                authority_type: AuthorityType::Root,
                crl_url: Some("http://pki.corp.example/crl/root-ca.crl".into()),
                delta_crl_url: Some("http://pki.corp.example/crl/root-ca+.crl".into()),
                exempt_from_crl_validation: true,
                send_as_issuer_hint: false,
            },
        ),
        prepare(
            &f.rsa.intermediate.der,
            CaSettings {
                display_name: "Contoso Issuing CA — Zürich".into(),
                authority_type: AuthorityType::Intermediate,
                crl_url: Some("http://pki.corp.example/crl/issuing-ca.crl".into()),
                delta_crl_url: None,
                exempt_from_crl_validation: false,
                send_as_issuer_hint: true,
            },
        ),
        prepare(
            &f.ecdsa.root.der,
            CaSettings {
                display_name: String::new(),
                authority_type: AuthorityType::Root,
                crl_url: None,
                delta_crl_url: None,
                exempt_from_crl_validation: false,
                send_as_issuer_hint: true,
            },
        ),
    ]
}

fn cached_crl(ca: CaId, kind: CrlKind, der: &[u8], crl_number: &[u8]) -> CachedCrl {
    CachedCrl {
        ca_id: ca,
        kind,
        url: format!("http://pki.corp.example/crl/{ca}-{}.crl", kind.as_str()),
        der: der.to_vec(),
        crl_number: crl_number.to_vec(),
        this_update: UnixTime(instants::CRL_THIS_UPDATE),
        next_update: UnixTime(instants::CRL_NEXT_UPDATE),
        entry_count: 5,
        etag: Some("\"5f3a-62c1\"".into()),
        last_modified: Some("Mon, 01 Dec 2025 00:00:00 GMT".into()),
        fetched_at: now(),
    }
}

fn summary_of(crl: &CachedCrl) -> CachedCrlSummary {
    CachedCrlSummary {
        ca_id: crl.ca_id,
        kind: crl.kind,
        url: crl.url.clone(),
        crl_number: crl.crl_number.clone(),
        this_update: crl.this_update,
        next_update: crl.next_update,
        entry_count: crl.entry_count,
        bytes: i64::try_from(crl.der.len()).expect("a small CRL"),
        der_sha256: Some(der_sha256(&crl.der).to_vec()),
        etag: crl.etag.clone(),
        last_modified: crl.last_modified.clone(),
        fetched_at: crl.fetched_at,
    }
}

fn success_status(ca: CaId, kind: CrlKind, at: UnixTime) -> CrlFetchStatus {
    CrlFetchStatus {
        ca_id: ca,
        kind,
        last_attempt_at: at,
        last_success_at: Some(at),
        last_error: None,
        consecutive_failures: 0,
        next_attempt_at: UnixTime(at.0 + 3_600),
    }
}

fn failure_status(ca: CaId, kind: CrlKind, at: UnixTime) -> CrlFetchStatus {
    CrlFetchStatus {
        ca_id: ca,
        kind,
        last_attempt_at: at,
        last_success_at: None,
        last_error: Some((
            "crl-stale".into(),
            "the CRL expired at 2026-02-01T00:00:00Z (nextUpdate; now 2026-02-02T00:00:00Z); \
             «the CA is not publishing fresh CRLs»"
                .into(),
        )),
        consecutive_failures: 3,
        next_attempt_at: UnixTime(at.0 + 300),
    }
}

/// The RSA root and issuing CA as certgate's own authorities (ids are assigned on insert).
fn authority_pair(pki: &TestPki) -> (AuthorityRecord, AuthorityRecord) {
    let root = AuthorityRecord {
        id: AuthorityId(0),
        role: AuthorityRole::Root,
        certificate_der: pki.root.der.clone(),
        private_key: pki.root.key_pkcs8_der.clone(),
        key_sealed: false,
        created_at: now(),
    };
    let issuing = AuthorityRecord {
        id: AuthorityId(0),
        role: AuthorityRole::Issuing,
        certificate_der: pki.intermediate.der.clone(),
        // Opaque to the store; stands in for a sealed PKCS#8 key.
        private_key: [b"sealed\0".as_slice(), &pki.intermediate.key_pkcs8_der].concat(),
        key_sealed: true,
        created_at: later(1),
    };
    (root, issuing)
}

async fn insert_authorities(store: &SqlStore) -> (AuthorityId, AuthorityId) {
    let (root, issuing) = authority_pair(&fixtures().rsa);
    store
        .insert_authorities(&root, &issuing)
        .await
        .expect("insert certgate's CAs")
}

fn issued_record(
    authority: AuthorityId,
    leaf: &Issued,
    upn: &str,
    email: Option<&str>,
    at: UnixTime,
) -> IssuedRecord {
    IssuedRecord {
        serial: leaf.serial.clone(),
        authority,
        upn: upn.into(),
        email: email.map(Into::into),
        subject: format!("CN={upn}, O=certgate Test, C=DE"),
        not_before: UnixTime(instants::LEAF_NOT_BEFORE),
        not_after: UnixTime(instants::LEAF_NOT_AFTER),
        certificate_der: leaf.der.clone(),
        issued_at: at,
        revoked_at: None,
        revocation_reason: None,
        parent: None,
    }
}

/// The audit event the core's revocation writes, reduced to what the store must keep: one per
/// certificate revoked, named by serial.
fn revocation_event(record: &IssuedRecord) -> AuditEvent {
    AuditEvent::new(
        later(100),
        "cli:admin",
        "pki.revoke",
        hex(&record.serial),
        "ok",
        format!("{} revoked", record.upn),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn published_crl(
    authority: AuthorityId,
    kind: CrlKind,
    number: i64,
    base: Option<i64>,
) -> PublishedCrl {
    let der = TestPki::crl(
        &fixtures().rsa.intermediate,
        &CrlSpec {
            crl_number: u64::try_from(number).expect("a positive CRL number"),
            entries: 3,
            ..CrlSpec::default()
        },
    )
    .expect("test CRL");
    PublishedCrl {
        authority,
        kind,
        crl_number: number,
        base_crl_number: base,
        this_update: later(number * 60),
        next_update: later(number * 60 + 86_400),
        entry_count: 3,
        der,
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, context: &str) {
    match result {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("{context}: expected Conflict, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, context: &str) {
    match result {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("{context}: expected NotFound, got {other:?}"),
    }
}

/// Compares bytes with a short message (the first difference) instead of two long dumps.
fn assert_same_bytes(context: &str, stored: &[u8], written: &[u8]) {
    if stored != written {
        let first = stored
            .iter()
            .zip(written)
            .position(|(a, b)| a != b)
            .unwrap_or(stored.len().min(written.len()));
        panic!(
            "{context}: stored {} bytes, wrote {}; first difference at offset {first}",
            stored.len(),
            written.len()
        );
    }
}

// ---- Trusted CAs --------------------------------------------------------------------------

async fn trusted_cas_round_trip(db: &TestDb) {
    let store = db.open().await;
    assert!(store.list_cas().await.expect("list").is_empty());

    let new = three_new_cas();
    let inserted = store
        .insert_cas(&new, now())
        .await
        .expect("insert three CAs");
    assert_eq!(inserted.len(), 3);
    for (record, new) in inserted.iter().zip(&new) {
        assert_eq!(record.settings, new.settings);
        assert_same_bytes("certificate", &record.certificate_der, &new.certificate_der);
        assert_eq!(record.facts, new.facts);
        assert_eq!(record.created_at, now());
    }
    let ids: HashSet<CaId> = inserted.iter().map(|ca| ca.id).collect();
    assert_eq!(ids.len(), 3, "every CA gets its own id");
    assert_eq!(store.list_cas().await.expect("list"), inserted);

    // The computed facts are the certificates' own.
    let root = &inserted[0].facts;
    assert_eq!(
        root.trusted_issuer,
        "CN=certgate Test Root CA, O=certgate Test, C=DE"
    );
    assert_eq!(root.not_before, UnixTime(instants::CA_NOT_BEFORE));
    assert_eq!(root.not_after, UnixTime(instants::CA_NOT_AFTER));
    assert_eq!(root.sha256_thumbprint.len(), 64);
    assert!(root.trusted_issuer_ski.is_some());
    assert_ne!(
        inserted[0].facts.sha256_thumbprint,
        inserted[1].facts.sha256_thumbprint
    );
    // A CA added without a display name is named after its subject.
    assert_eq!(
        inserted[2].settings.display_name,
        inserted[2].facts.trusted_issuer
    );
}

async fn insert_cas_is_all_or_nothing(db: &TestDb) {
    let store = db.open().await;
    let [root, issuing, other_root] = <[NewCa; 3]>::try_from(three_new_cas()).expect("three");
    store
        .insert_cas(std::slice::from_ref(&root), now())
        .await
        .expect("insert the root");
    let before = store.list_cas().await.expect("list");
    let generation = store.generation().await.expect("generation");

    // The batch's second CA is already trusted: the first must not be written either.
    match store
        .insert_cas(&[issuing.clone(), root.clone()], now())
        .await
    {
        Err(StoreError::Conflict { what }) => assert!(
            what.contains(&root.facts.sha256_thumbprint),
            "the conflict names the duplicate: {what}"
        ),
        other => panic!("a batch with a trusted CA: expected Conflict, got {other:?}"),
    }
    assert_eq!(store.list_cas().await.expect("list"), before);

    // The same certificate twice in one batch.
    assert_conflict(
        store
            .insert_cas(&[other_root.clone(), other_root.clone()], now())
            .await,
        "a batch with one certificate twice",
    );
    assert_eq!(store.list_cas().await.expect("list"), before);
    assert_eq!(
        store.generation().await.expect("generation"),
        generation,
        "a refused batch changes nothing"
    );

    // Both refused CAs can be added afterwards: no row of the failed batches remained.
    let added = store
        .insert_cas(&[issuing, other_root], now())
        .await
        .expect("insert the other two");
    assert_eq!(added.len(), 2);
    assert_eq!(store.list_cas().await.expect("list").len(), 3);
}

async fn update_ca_changes_settings_and_refuses_unknown_ids(db: &TestDb) {
    let store = db.open().await;
    let original = store
        .insert_cas(&three_new_cas()[..1], now())
        .await
        .expect("insert")
        .remove(0);

    let changed = CaSettings {
        display_name: "Contoso Root (renamed)".into(),
        authority_type: AuthorityType::Intermediate,
        crl_url: Some("https://crl2.corp.example/root.crl".into()),
        delta_crl_url: Some("https://crl2.corp.example/root-delta.crl".into()),
        exempt_from_crl_validation: !original.settings.exempt_from_crl_validation,
        send_as_issuer_hint: !original.settings.send_as_issuer_hint,
    };
    let updated = store
        .update_ca(original.id, &changed)
        .await
        .expect("update");
    assert_eq!(updated.settings, changed);
    assert_eq!(updated.id, original.id);
    assert_eq!(updated.certificate_der, original.certificate_der);
    assert_eq!(
        updated.facts, original.facts,
        "the certificate's facts never change"
    );
    assert_eq!(updated.created_at, original.created_at);
    assert_eq!(
        store.list_cas().await.expect("list"),
        std::slice::from_ref(&updated)
    );

    // URLs can be removed again.
    let cleared = CaSettings {
        crl_url: None,
        delta_crl_url: None,
        ..changed
    };
    let updated = store
        .update_ca(original.id, &cleared)
        .await
        .expect("clear the URLs");
    assert_eq!(updated.settings, cleared);
    assert_eq!(
        store.list_cas().await.expect("list"),
        std::slice::from_ref(&updated)
    );

    assert_not_found(
        store.update_ca(CaId(original.id.0 + 1_000), &cleared).await,
        "updating an unknown CA",
    );
    assert_eq!(store.list_cas().await.expect("list"), [updated]);
}

async fn delete_ca_removes_its_cached_crls_and_fetch_status(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let new = three_new_cas();
    let cas = store.insert_cas(&new[..2], now()).await.expect("insert");
    let (gone, kept) = (cas[0].id, cas[1].id);
    for ca in [gone, kept] {
        for (kind, der) in [(CrlKind::Base, &f.small_crl), (CrlKind::Delta, &f.root_crl)] {
            store
                .put_cached_crl(
                    &cached_crl(ca, kind, der, &[1]).to_cache(),
                    &success_status(ca, kind, now()),
                )
                .await
                .expect("cache a CRL");
        }
    }
    store
        .put_fetch_status(&failure_status(gone, CrlKind::Base, later(60)))
        .await
        .expect("record a failure");

    store.delete_ca(gone).await.expect("delete");

    assert_eq!(store.list_cas().await.expect("list"), [cas[1].clone()]);
    let crls = store.cached_crls().await.expect("cached CRLs");
    assert_eq!(crls.len(), 2);
    assert!(crls.iter().all(|crl| crl.ca_id == kept), "{crls:?}");
    let summaries = store.cached_crl_summaries().await.expect("summaries");
    assert!(summaries.iter().all(|s| s.ca_id == kept) && summaries.len() == 2);
    let statuses = store.fetch_statuses().await.expect("statuses");
    assert!(statuses.iter().all(|s| s.ca_id == kept) && statuses.len() == 2);
    for kind in [CrlKind::Base, CrlKind::Delta] {
        assert_eq!(
            store.cached_crl(gone, kind).await.expect("cached CRL"),
            None
        );
    }

    assert_not_found(store.delete_ca(gone).await, "deleting a deleted CA");
    assert_not_found(
        store.delete_ca(CaId(kept.0 + 1_000)).await,
        "deleting an unknown CA",
    );

    // Its certificate can be trusted again, and starts with an empty CRL cache.
    let again = store
        .insert_cas(&new[..1], now())
        .await
        .expect("add the deleted CA again")
        .remove(0);
    assert_eq!(
        store
            .cached_crl(again.id, CrlKind::Base)
            .await
            .expect("cached CRL"),
        None
    );
}

async fn generation_grows_on_trust_and_crl_changes_only(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let generation = || async { store.generation().await.expect("generation") };

    let g0 = generation().await;
    let ca = store
        .insert_cas(&three_new_cas()[..1], now())
        .await
        .expect("insert")
        .remove(0);
    let g1 = generation().await;
    assert!(g1 > g0, "insert_cas: {g0} -> {g1}");

    let mut settings = ca.settings.clone();
    settings.send_as_issuer_hint = !settings.send_as_issuer_hint;
    store.update_ca(ca.id, &settings).await.expect("update");
    let g2 = generation().await;
    assert!(g2 > g1, "update_ca: {g1} -> {g2}");

    let first = cached_crl(ca.id, CrlKind::Base, &f.small_crl, &[1]);
    store
        .put_cached_crl(
            &first.to_cache(),
            &success_status(ca.id, CrlKind::Base, now()),
        )
        .await
        .expect("cache a CRL");
    let g3 = generation().await;
    assert!(g3 > g2, "put_cached_crl: {g2} -> {g3}");

    let second = cached_crl(ca.id, CrlKind::Base, &f.large_crl, &[2]);
    store
        .put_cached_crl(
            &second.to_cache(),
            &success_status(ca.id, CrlKind::Base, later(60)),
        )
        .await
        .expect("replace the CRL");
    let g4 = generation().await;
    assert!(g4 > g3, "put_cached_crl replacing a CRL: {g3} -> {g4}");

    store
        .put_fetch_status(&failure_status(ca.id, CrlKind::Base, later(120)))
        .await
        .expect("record a failure");
    assert_eq!(
        generation().await,
        g4,
        "put_fetch_status changes no validation state"
    );

    assert_conflict(
        store.insert_cas(&three_new_cas()[..1], now()).await,
        "inserting the CA again",
    );
    assert_not_found(
        store.update_ca(CaId(ca.id.0 + 1_000), &settings).await,
        "updating an unknown CA",
    );
    assert_eq!(generation().await, g4, "refused changes change nothing");

    store.delete_ca(ca.id).await.expect("delete");
    let g5 = generation().await;
    assert!(g5 > g4, "delete_ca: {g4} -> {g5}");

    // Another store on the same database (another node) sees the same number.
    let other = db.open().await;
    assert_eq!(other.generation().await.expect("generation"), g5);
}

// ---- CRL cache ----------------------------------------------------------------------------

/// The DER is stored in chunks of 256 KiB: a CRL of several chunks (the last one partial)
/// reads back byte for byte, and a smaller CRL replacing it leaves none of its chunks behind.
async fn a_cached_crl_of_many_chunks_round_trips_and_a_smaller_one_replaces_it_whole(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let ca = store
        .insert_cas(&three_new_cas()[1..2], now())
        .await
        .expect("insert")
        .remove(0);
    // The store keeps the bytes it is given (the CRL service checked them); a pattern with no
    // period of a chunk's length shows any chunk out of order.
    let large: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
    let big = cached_crl(ca.id, CrlKind::Base, &large, &[1]);
    store
        .put_cached_crl(
            &big.to_cache(),
            &success_status(ca.id, CrlKind::Base, now()),
        )
        .await
        .expect("cache a CRL of four chunks");
    assert_eq!(
        store.cached_crl(ca.id, CrlKind::Base).await.expect("read"),
        Some(big.clone())
    );
    assert_eq!(
        store.cached_crl_summaries().await.expect("summaries"),
        [summary_of(&big)]
    );
    let small = cached_crl(ca.id, CrlKind::Base, &f.small_crl, &[2]);
    store
        .put_cached_crl(
            &small.to_cache(),
            &success_status(ca.id, CrlKind::Base, later(60)),
        )
        .await
        .expect("replace it");
    assert_eq!(
        store.cached_crl(ca.id, CrlKind::Base).await.expect("read"),
        Some(small.clone())
    );
    assert_eq!(store.cached_crls().await.expect("all"), [small]);
}

async fn put_cached_crl_replaces_by_ca_and_kind(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let ca = store
        .insert_cas(&three_new_cas()[1..2], now())
        .await
        .expect("insert")
        .remove(0);

    let first = cached_crl(ca.id, CrlKind::Base, &f.small_crl, &[1]);
    store
        .put_cached_crl(
            &first.to_cache(),
            &success_status(ca.id, CrlKind::Base, now()),
        )
        .await
        .expect("cache the base CRL");
    let delta = CachedCrl {
        etag: None,
        ..cached_crl(ca.id, CrlKind::Delta, &f.root_crl, &[7])
    };
    store
        .put_cached_crl(
            &delta.to_cache(),
            &success_status(ca.id, CrlKind::Delta, now()),
        )
        .await
        .expect("cache the delta CRL");
    assert_eq!(
        store.cached_crl(ca.id, CrlKind::Base).await.expect("base"),
        Some(first.clone())
    );

    let second = CachedCrl {
        url: "http://pki2.corp.example/crl/issuing-ca.crl".into(),
        der: f.large_crl.clone(),
        crl_number: vec![2],
        this_update: later(-3_600),
        next_update: later(86_400),
        entry_count: 300,
        etag: Some("\"v2\"".into()),
        last_modified: None,
        fetched_at: later(60),
        ..first.clone()
    };
    let second_status = success_status(ca.id, CrlKind::Base, later(60));
    store
        .put_cached_crl(&second.to_cache(), &second_status)
        .await
        .expect("replace the base CRL");

    assert_eq!(
        store.cached_crl(ca.id, CrlKind::Base).await.expect("base"),
        Some(second.clone())
    );
    assert_eq!(
        store
            .cached_crl(ca.id, CrlKind::Delta)
            .await
            .expect("delta"),
        Some(delta.clone()),
        "replacing the base CRL leaves the delta CRL alone"
    );
    let all = store.cached_crls().await.expect("all");
    assert_eq!(all, [second.clone(), delta.clone()]);
    assert_eq!(
        store.cached_crl_summaries().await.expect("summaries"),
        [summary_of(&second), summary_of(&delta)]
    );
    let statuses = store.fetch_statuses().await.expect("statuses");
    assert_eq!(
        statuses,
        [second_status, success_status(ca.id, CrlKind::Delta, now())]
    );
    assert_eq!(
        store
            .cached_crl(CaId(ca.id.0 + 1_000), CrlKind::Base)
            .await
            .expect("unknown CA"),
        None
    );
}

async fn crl_der_round_trips_byte_exact(db: &TestDb) {
    let f = fixtures();
    assert!(
        f.large_crl.len() > 8 * 1024,
        "a multi-KB CRL: {} bytes",
        f.large_crl.len()
    );
    let store = db.open().await;
    let ca = store
        .insert_cas(&three_new_cas()[1..2], now())
        .await
        .expect("insert")
        .remove(0);
    // A CRL number with a leading zero octet and high bits: bytes, not a number or text.
    let base = cached_crl(
        ca.id,
        CrlKind::Base,
        &f.large_crl,
        &[0x00, 0x80, 0xff, 0x00],
    );
    // Every byte value, including NUL and sequences that are not UTF-8.
    let every_byte: Vec<u8> = (0..=255u8).cycle().take(4_096).collect();
    let delta = cached_crl(ca.id, CrlKind::Delta, &every_byte, &[0xff; 20]);
    for crl in [&base, &delta] {
        store
            .put_cached_crl(&crl.to_cache(), &success_status(ca.id, crl.kind, now()))
            .await
            .expect("cache");
    }

    let stored = store
        .cached_crl(ca.id, CrlKind::Base)
        .await
        .expect("base")
        .expect("cached");
    assert_same_bytes("CRL DER", &stored.der, &f.large_crl);
    assert_eq!(stored.crl_number, [0x00, 0x80, 0xff, 0x00]);
    let stored = store
        .cached_crl(ca.id, CrlKind::Delta)
        .await
        .expect("delta")
        .expect("cached");
    assert_same_bytes("every byte value", &stored.der, &every_byte);
    assert_eq!(stored.crl_number, [0xff; 20]);

    let all = store.cached_crls().await.expect("all");
    assert_same_bytes("CRL DER via cached_crls", &all[0].der, &f.large_crl);
    let summaries = store.cached_crl_summaries().await.expect("summaries");
    let sizes: Vec<i64> = summaries.iter().map(|s| s.bytes).collect();
    assert_eq!(sizes, [f.large_crl.len() as i64, 4_096]);
    // The bytes still form the CRL they were.
    let parsed = certgate_pki::parse_crls(all[0].der.clone()).expect("the stored CRL parses");
    assert_eq!(parsed.len(), 1);
}

async fn fetch_status_round_trips_with_and_without_error(db: &TestDb) {
    let store = db.open().await;
    let cas = store
        .insert_cas(&three_new_cas()[..2], now())
        .await
        .expect("insert");
    let failing = failure_status(cas[0].id, CrlKind::Base, now());
    let fine = success_status(cas[1].id, CrlKind::Delta, later(30));
    store.put_fetch_status(&failing).await.expect("failing");
    store.put_fetch_status(&fine).await.expect("fine");
    assert_eq!(
        store.fetch_statuses().await.expect("statuses"),
        [failing.clone(), fine.clone()]
    );

    // A later success replaces the failure and clears its error.
    let recovered = CrlFetchStatus {
        last_attempt_at: later(600),
        last_success_at: Some(later(600)),
        last_error: None,
        consecutive_failures: 0,
        ..failing.clone()
    };
    store.put_fetch_status(&recovered).await.expect("recovered");
    assert_eq!(
        store.fetch_statuses().await.expect("statuses"),
        [recovered.clone(), fine.clone()]
    );

    // An error without a message keeps its code.
    let terse = CrlFetchStatus {
        last_error: Some(("crl-fetch-timeout".into(), String::new())),
        consecutive_failures: 1,
        ..recovered
    };
    store.put_fetch_status(&terse).await.expect("terse");
    assert_eq!(
        store.fetch_statuses().await.expect("statuses"),
        [terse, fine]
    );
}

async fn absent_optional_fields_stay_absent(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let new = three_new_cas();
    let ca = store
        .insert_cas(&new[2..], now())
        .await
        .expect("insert")
        .remove(0);
    assert_eq!(ca.settings.crl_url, None);
    assert_eq!(ca.settings.delta_crl_url, None);
    assert_eq!(
        store.list_cas().await.expect("list"),
        std::slice::from_ref(&ca)
    );

    let bare = CachedCrl {
        etag: None,
        last_modified: None,
        ..cached_crl(ca.id, CrlKind::Base, &f.small_crl, &[1])
    };
    // An empty value is a value: it must not come back as absent.
    let empty = CachedCrl {
        etag: Some(String::new()),
        last_modified: Some(String::new()),
        ..cached_crl(ca.id, CrlKind::Delta, &f.root_crl, &[7])
    };
    let never_succeeded = CrlFetchStatus {
        last_success_at: None,
        last_error: None,
        ..success_status(ca.id, CrlKind::Base, now())
    };
    store
        .put_cached_crl(&bare.to_cache(), &never_succeeded)
        .await
        .expect("cache");
    store
        .put_cached_crl(
            &empty.to_cache(),
            &success_status(ca.id, CrlKind::Delta, now()),
        )
        .await
        .expect("cache");
    assert_eq!(
        store.cached_crl(ca.id, CrlKind::Base).await.expect("base"),
        Some(bare.clone())
    );
    assert_eq!(
        store
            .cached_crl(ca.id, CrlKind::Delta)
            .await
            .expect("delta"),
        Some(empty.clone())
    );
    let summaries = store.cached_crl_summaries().await.expect("summaries");
    assert_eq!(summaries, [summary_of(&bare), summary_of(&empty)]);
    assert_eq!(
        store.fetch_statuses().await.expect("statuses")[0],
        never_succeeded
    );

    let (_, issuing) = insert_authorities(&store).await;
    let no_email = issued_record(issuing, &f.ecdsa.leaf, "bob@corp.example", None, now());
    store.insert_issued(&no_email).await.expect("issue");
    assert_eq!(
        store.find_issued(&no_email.serial).await.expect("find"),
        Some(no_email.clone())
    );
    assert_eq!(
        store.issued_certificates().await.expect("issued"),
        [no_email]
    );

    let base = published_crl(issuing, CrlKind::Base, 1, None);
    store.insert_published_crl(&base).await.expect("publish");
    assert_eq!(
        store
            .latest_published_crl(issuing, CrlKind::Base)
            .await
            .expect("latest"),
        Some(base)
    );
}

// ---- certgate's own CA --------------------------------------------------------------------

async fn authorities_are_inserted_once(db: &TestDb) {
    let store = db.open().await;
    assert!(store.authorities().await.expect("authorities").is_empty());
    let (root, issuing) = authority_pair(&fixtures().rsa);
    let (root_id, issuing_id) = store
        .insert_authorities(&root, &issuing)
        .await
        .expect("insert");
    assert_ne!(root_id, issuing_id);
    let stored = store.authorities().await.expect("authorities");
    assert_eq!(
        stored,
        [
            AuthorityRecord {
                id: root_id,
                ..root
            },
            AuthorityRecord {
                id: issuing_id,
                ..issuing
            }
        ]
    );

    let (other_root, other_issuing) = authority_pair(&fixtures().ecdsa);
    assert_conflict(
        store.insert_authorities(&other_root, &other_issuing).await,
        "a second CA hierarchy",
    );
    assert_eq!(store.authorities().await.expect("authorities"), stored);
}

async fn crl_numbers_count_up_from_one_per_authority(db: &TestDb) {
    let store = db.open().await;
    let (root, issuing) = insert_authorities(&store).await;
    for expected in 1..=3 {
        assert_eq!(
            store.allocate_crl_number(issuing).await.expect("allocate"),
            expected
        );
    }
    assert_eq!(
        store.allocate_crl_number(root).await.expect("allocate"),
        1,
        "each authority has its own sequence"
    );
    assert_eq!(
        store.allocate_crl_number(issuing).await.expect("allocate"),
        4
    );
    assert_not_found(
        store
            .allocate_crl_number(AuthorityId(issuing.0.max(root.0) + 1_000))
            .await,
        "allocating for an unknown authority",
    );
    // The counter is stored, not kept in the process.
    let reopened = db.open().await;
    assert_eq!(
        reopened
            .allocate_crl_number(issuing)
            .await
            .expect("allocate"),
        5
    );
}

async fn concurrent_crl_number_allocations_are_distinct(db: &TestDb) {
    const CALLS: i64 = 50;
    // Two stores, as two server nodes would have, each with its own pool.
    let first = db.open().await;
    let second = db.open().await;
    let (_, issuing) = insert_authorities(&first).await;
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let store = [&first, &second][(i % 2) as usize].clone();
            tokio::spawn(async move { store.allocate_crl_number(issuing).await })
        })
        .collect();
    let mut numbers = Vec::with_capacity(tasks.len());
    for task in tasks {
        numbers.push(task.await.expect("task").expect("allocate"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=CALLS).collect::<Vec<_>>());
    assert_eq!(
        first.allocate_crl_number(issuing).await.expect("allocate"),
        CALLS + 1
    );
}

async fn issued_certificates_round_trip_and_serials_are_unique(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let (_, issuing) = insert_authorities(&store).await;
    let alice = issued_record(
        issuing,
        &f.rsa.leaf,
        "alice@corp.example",
        Some("alice@corp.example"),
        now(),
    );
    let bob = issued_record(issuing, &f.ecdsa.leaf, "bob@corp.example", None, later(10));
    assert_ne!(alice.serial, bob.serial);
    // Bob first: the listing is in issue order, not insertion order.
    store.insert_issued(&bob).await.expect("issue to bob");
    store.insert_issued(&alice).await.expect("issue to alice");

    assert_eq!(
        store.issued_certificates().await.expect("issued"),
        [alice.clone(), bob.clone()]
    );
    let found = store
        .find_issued(&alice.serial)
        .await
        .expect("find")
        .expect("alice's certificate");
    assert_eq!(found, alice);
    assert_same_bytes(
        "issued certificate",
        &found.certificate_der,
        &f.rsa.leaf.der,
    );
    assert_eq!(
        store.find_issued(&[0x01, 0x02, 0x03]).await.expect("find"),
        None
    );

    let reissued = IssuedRecord {
        upn: "mallory@corp.example".into(),
        ..alice.clone()
    };
    assert_conflict(
        store.insert_issued(&reissued).await,
        "a serial issued twice",
    );
    assert_eq!(
        store.issued_certificates().await.expect("issued"),
        [alice, bob]
    );
}

async fn revocation_is_recorded_once(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let (_, issuing) = insert_authorities(&store).await;
    let alice = issued_record(
        issuing,
        &f.rsa.leaf,
        "alice@corp.example",
        Some("alice@corp.example"),
        now(),
    );
    store.insert_issued(&alice).await.expect("issue");

    let revocation = store
        .revoke_issued(
            &alice.serial,
            later(100),
            "keyCompromise",
            &revocation_event,
        )
        .await
        .expect("revoke");
    let expected = IssuedRecord {
        revoked_at: Some(later(100)),
        revocation_reason: Some("keyCompromise".into()),
        ..alice.clone()
    };
    assert_eq!(revocation.named, expected);
    assert!(revocation.named_revoked_now);
    assert!(revocation.descendants.is_empty());
    assert_eq!(
        store.find_issued(&alice.serial).await.expect("find"),
        Some(expected.clone())
    );

    let again = store
        .revoke_issued(&alice.serial, later(200), "superseded", &revocation_event)
        .await
        .expect("revoking twice is reported, not refused");
    assert!(!again.named_revoked_now);
    assert!(again.descendants.is_empty());
    assert_eq!(
        again.named, expected,
        "the first revocation's time and reason stand"
    );
    assert_eq!(
        store.find_issued(&alice.serial).await.expect("find"),
        Some(expected)
    );
    let audited = store.audit_events(10).await.expect("audit");
    assert_eq!(
        audited.len(),
        1,
        "one event per certificate revoked: {audited:?}"
    );
    assert_not_found(
        store
            .revoke_issued(
                &f.ecdsa.leaf.serial,
                later(100),
                "keyCompromise",
                &revocation_event,
            )
            .await,
        "revoking an unknown serial",
    );
}

/// A certificate issued on the strength of `parent` (a re-enrollment or /my/device). The
/// store does not look into the DER, so the parent's bytes with a new serial stand in for it.
fn child_of(parent: &IssuedRecord, serial: &[u8], at: UnixTime) -> IssuedRecord {
    IssuedRecord {
        serial: serial.to_vec(),
        issued_at: at,
        parent: Some(ParentCertificate {
            serial: parent.serial.clone(),
            issuer: "CN=certgate Test Issuing CA, O=certgate Test, C=DE".into(),
            authority: Some(parent.authority),
            trusted_ca: None,
            not_after: None,
        }),
        revoked_at: None,
        revocation_reason: None,
        ..parent.clone()
    }
}

/// Issue 12 item 2: a certificate derived from a certificate of another trusted CA is revoked
/// (with its own descendants, audited) in the transaction that caches a CRL of that CA
/// listing the parent; children of unlisted parents, or of a listed serial under another CA,
/// stand; a cache update that fails revokes nothing.
async fn a_crl_listing_a_foreign_parent_revokes_its_children_in_the_cache_update(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let cas = store
        .insert_cas(&three_new_cas(), now())
        .await
        .expect("trust");
    let (rsa_issuing_ca, ecdsa_root_ca) = (cas[1].id, cas[2].id);
    let (_, issuing) = insert_authorities(&store).await;
    let listed_parent = vec![0x7a, 0x01, 0x02];
    let unlisted_parent = vec![0x7a, 0x09, 0x09];
    let foreign = |serial: &[u8], parent: &[u8], ca: CaId, at: UnixTime| IssuedRecord {
        serial: serial.to_vec(),
        parent: Some(ParentCertificate {
            serial: parent.to_vec(),
            issuer: "CN=certgate Test Issuing CA, O=certgate Test, C=DE".into(),
            authority: None,
            trusted_ca: Some(ca),
            not_after: Some(UnixTime(instants::LEAF_NOT_AFTER)),
        }),
        ..issued_record(issuing, &f.rsa.leaf, "alice@corp.example", None, at)
    };
    let device = foreign(&[0x30, 0x01], &listed_parent, rsa_issuing_ca, later(10));
    // Re-enrolled over EST: certgate's own child of the device certificate.
    let renewal = child_of(&device, &[0x30, 0x02], later(20));
    let spared_unlisted = foreign(&[0x30, 0x03], &unlisted_parent, rsa_issuing_ca, later(11));
    let spared_other_ca = foreign(&[0x30, 0x04], &listed_parent, ecdsa_root_ca, later(12));
    for record in [&device, &renewal, &spared_unlisted, &spared_other_ca] {
        store.insert_issued(record).await.expect("issue");
    }
    assert_eq!(
        store.find_issued(&device.serial).await.expect("find"),
        Some(device.clone()),
        "a foreign parent round-trips"
    );
    let crl_der = TestPki::crl(
        &f.rsa.intermediate,
        &CrlSpec {
            crl_number: 3,
            extra_revoked: vec![listed_parent.clone()],
            ..CrlSpec::default()
        },
    )
    .expect("CRL");
    let crl = CachedCrl {
        fetched_at: later(50),
        ..cached_crl(rsa_issuing_ca, CrlKind::Base, &crl_der, &[3])
    };

    // A cache update that fails (its status names no trusted CA) takes nothing with it.
    let failed = store
        .put_cached_crl(
            &crl.to_cache(),
            &success_status(CaId(9_999), CrlKind::Base, later(50)),
        )
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(
        store
            .find_issued(&device.serial)
            .await
            .expect("find")
            .and_then(|r| r.revoked_at),
        None,
        "revoked outside the cache update's transaction"
    );
    assert!(store.audit_events(10).await.expect("audit").is_empty());

    store
        .put_cached_crl(
            &crl.to_cache(),
            &success_status(rsa_issuing_ca, CrlKind::Base, later(50)),
        )
        .await
        .expect("cache the CRL");
    for (record, revoked) in [
        (&device, true),
        (&renewal, true),
        (&spared_unlisted, false),
        (&spared_other_ca, false),
    ] {
        let stored = store
            .find_issued(&record.serial)
            .await
            .expect("find")
            .expect("stored");
        if revoked {
            assert_eq!(stored.revoked_at, Some(later(50)), "{stored:?}");
            assert_eq!(stored.revocation_reason.as_deref(), Some("superseded"));
        } else {
            assert_eq!(stored.revoked_at, None, "{stored:?}");
        }
    }
    let audited = store.audit_events(10).await.expect("audit");
    let mut targets: Vec<&str> = audited.iter().map(|e| e.target.as_str()).collect();
    targets.sort_unstable();
    assert_eq!(targets, vec!["3001", "3002"], "{audited:?}");
    assert!(audited
        .iter()
        .all(|e| e.action == "pki.revoke" && e.actor == "crl-refresh" && e.outcome == "ok"));
    assert!(
        audited.iter().all(|e| e.detail.contains("7a0102")),
        "{audited:?}"
    );

    // The same CRL again (a later refresh) revokes nothing more and records nothing more.
    store
        .put_cached_crl(
            &crl.to_cache(),
            &success_status(rsa_issuing_ca, CrlKind::Base, later(60)),
        )
        .await
        .expect("cache the CRL again");
    assert_eq!(store.audit_events(10).await.expect("audit").len(), 2);
}

async fn revocation_cascades_to_descendants_and_spares_the_rest(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let (_, issuing) = insert_authorities(&store).await;
    let original = issued_record(issuing, &f.rsa.leaf, "alice@corp.example", None, now());
    // Two generations under the original, and a sibling branch.
    let renewal = child_of(&original, &[0x10, 0x01], later(10));
    let device = child_of(&original, &[0x10, 0x02], later(11));
    let renewal_of_renewal = child_of(&renewal, &[0x10, 0x03], later(20));
    // Revoked (superseded) before without its child: keeps its revocation, its child is still
    // taken. The store refuses to record a child of a revoked parent and a revocation takes
    // the children with it, so only a direct write to the database makes this state (below).
    let superseded = child_of(&renewal_of_renewal, &[0x10, 0x04], later(25));
    let great_grandchild = child_of(&superseded, &[0x10, 0x05], later(26));
    // Unrelated: bob's certificate, and a certificate whose parent has the original's serial
    // but came from another CA.
    let bob = issued_record(issuing, &f.ecdsa.leaf, "bob@corp.example", None, now());
    let foreign_child = IssuedRecord {
        parent: Some(ParentCertificate {
            serial: original.serial.clone(),
            issuer: "CN=Other CA".into(),
            authority: None,
            trusted_ca: None,
            not_after: None,
        }),
        ..child_of(&bob, &[0x20, 0x01], later(12))
    };
    let bobs_renewal = child_of(&bob, &[0x20, 0x02], later(13));
    for record in [
        &original,
        &renewal,
        &device,
        &renewal_of_renewal,
        &superseded,
        &great_grandchild,
        &bob,
        &foreign_child,
        &bobs_renewal,
    ] {
        store.insert_issued(record).await.expect("issue");
    }
    let superseded = IssuedRecord {
        revoked_at: Some(later(30)),
        revocation_reason: Some("superseded".into()),
        ..superseded
    };
    let mut conn = raw_connection(db).await;
    sqlx::query(
        "UPDATE issued_certificates SET revoked_at = $1, revocation_reason = 'superseded' \
         WHERE serial_hex = $2",
    )
    .bind(later(30).0)
    .bind(hex(&superseded.serial))
    .execute(&mut conn)
    .await
    .expect("revoke without the cascade");
    assert_eq!(
        store
            .find_issued(&renewal_of_renewal.serial)
            .await
            .expect("find")
            .expect("stored")
            .parent,
        renewal_of_renewal.parent,
        "the parent round-trips"
    );

    let revocation = store
        .revoke_issued(
            &original.serial,
            later(100),
            "keyCompromise",
            &revocation_event,
        )
        .await
        .expect("revoke");
    assert!(revocation.named_revoked_now);
    let serials = |records: &[IssuedRecord]| -> Vec<Vec<u8>> {
        records.iter().map(|r| r.serial.clone()).collect()
    };
    // Parents before children; the one revoked before is not revoked again.
    assert_eq!(
        serials(&revocation.descendants),
        [
            renewal.serial.clone(),
            device.serial.clone(),
            renewal_of_renewal.serial.clone(),
            great_grandchild.serial.clone(),
        ]
    );
    for record in [
        &original,
        &renewal,
        &device,
        &renewal_of_renewal,
        &great_grandchild,
    ] {
        let stored = store
            .find_issued(&record.serial)
            .await
            .expect("find")
            .expect("stored");
        assert_eq!(stored.revoked_at, Some(later(100)), "{:?}", record.serial);
        assert_eq!(stored.revocation_reason.as_deref(), Some("keyCompromise"));
    }
    assert_eq!(
        store.find_issued(&superseded.serial).await.expect("find"),
        Some(superseded.clone()),
        "an earlier revocation stands"
    );
    for untouched in [&bob, &foreign_child, &bobs_renewal] {
        assert_eq!(
            store.find_issued(&untouched.serial).await.expect("find"),
            Some(untouched.clone()),
            "{}",
            untouched.upn
        );
    }
    // One audit event per certificate revoked, in the same order.
    let mut audited: Vec<String> = store
        .audit_events(100)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.target)
        .collect();
    audited.reverse();
    let expected: Vec<String> = std::iter::once(&original.serial)
        .chain(revocation.descendants.iter().map(|r| &r.serial))
        .map(|s| hex(s))
        .collect();
    assert_eq!(audited, expected);

    // Revoking the renewal again: nothing left to revoke under it, and nothing changes.
    let again = store
        .revoke_issued(&renewal.serial, later(200), "superseded", &revocation_event)
        .await
        .expect("re-revoke");
    assert!(!again.named_revoked_now);
    assert!(again.descendants.is_empty());
    assert_eq!(store.audit_events(100).await.expect("audit").len(), 5);
}

fn assert_derived_limit(result: StoreResult<()>, upn: &str, limit: u32, context: &str) {
    match result {
        Err(StoreError::DerivedLimit {
            upn: got,
            limit: got_limit,
        }) => {
            assert_eq!((got.as_str(), got_limit), (upn, limit), "{context}")
        }
        other => panic!("{context}: expected DerivedLimit, got {other:?}"),
    }
}

/// `insert_derived` counts the user's certificates that have a parent and are neither revoked
/// nor expired when the new one is issued; certificates without a parent and other users'
/// do not count, and nothing is written when the limit is reached.
async fn derived_certificates_are_limited_per_user_counting_only_live_ones(db: &TestDb) {
    const LIMIT: u32 = 2;
    let f = fixtures();
    let store = db.open().await;
    let (_, issuing) = insert_authorities(&store).await;
    let alice = issued_record(issuing, &f.rsa.leaf, "alice@corp.example", None, now());
    let bob = issued_record(issuing, &f.ecdsa.leaf, "bob@corp.example", None, now());
    for record in [&alice, &bob] {
        store
            .insert_issued(record)
            .await
            .expect("administrator's issuance");
    }
    // Alice's parentless certificate does not count: two derived ones fit.
    for (serial, at) in [(0x01, 10), (0x02, 11)] {
        store
            .insert_derived(&child_of(&alice, &[0x10, serial], later(at)), LIMIT)
            .await
            .expect("within the limit");
    }
    let third = child_of(&alice, &[0x10, 0x03], later(12));
    assert_derived_limit(
        store.insert_derived(&third, LIMIT).await,
        "alice@corp.example",
        LIMIT,
        "a third live derived certificate",
    );
    assert_eq!(store.find_issued(&third.serial).await.expect("find"), None);
    // Bob is counted on his own.
    store
        .insert_derived(&child_of(&bob, &[0x20, 0x01], later(12)), LIMIT)
        .await
        .expect("another user");
    // A revocation frees a place.
    store
        .revoke_issued(&[0x10, 0x01], later(20), "superseded", &revocation_event)
        .await
        .expect("revoke one");
    store
        .insert_derived(&third, LIMIT)
        .await
        .expect("a revoked one does not count");
    assert_derived_limit(
        store
            .insert_derived(&child_of(&alice, &[0x10, 0x04], later(21)), LIMIT)
            .await,
        "alice@corp.example",
        LIMIT,
        "full again",
    );
    // So does expiry: an expired derived certificate does not count.
    let expired = IssuedRecord {
        not_after: later(30),
        ..child_of(&alice, &[0x10, 0x05], later(22))
    };
    let (live, dead) = (
        child_of(&bob, &[0x20, 0x02], later(22)),
        child_of(&bob, &[0x20, 0x03], later(23)),
    );
    store
        .insert_issued(&expired)
        .await
        .expect("recorded unlimited");
    store.insert_derived(&live, 3).await.expect("bob's second");
    assert_derived_limit(
        store.insert_derived(&dead, 2).await,
        "bob@corp.example",
        2,
        "bob at a lower limit",
    );
    let after_expiry = |serial: u8, at: i64| IssuedRecord {
        not_after: UnixTime(instants::LEAF_NOT_AFTER),
        ..child_of(&alice, &[0x10, serial], later(at))
    };
    assert_derived_limit(
        store.insert_derived(&after_expiry(0x06, 29), 3).await,
        "alice@corp.example",
        3,
        "the short-lived one still counts before it expires",
    );
    store
        .insert_derived(&after_expiry(0x07, 30), 3)
        .await
        .expect("expired at its not_after: no longer counted");
}

/// Many requests for one user at once, on two stores (two nodes): exactly `LIMIT` recorded.
async fn concurrent_derived_inserts_do_not_overshoot_the_limit(db: &TestDb) {
    const LIMIT: u32 = 3;
    const CALLS: u8 = 12;
    let f = fixtures();
    // Two stores, as two server nodes would have, each with its own pool.
    let first = db.open().await;
    let second = db.open().await;
    let (_, issuing) = insert_authorities(&first).await;
    let alice = issued_record(issuing, &f.rsa.leaf, "alice@corp.example", None, now());
    first.insert_issued(&alice).await.expect("parent");
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let store = [&first, &second][(i % 2) as usize].clone();
            let child = child_of(&alice, &[0x30, i], later(10));
            tokio::spawn(async move { store.insert_derived(&child, LIMIT).await })
        })
        .collect();
    let mut recorded = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => recorded += 1,
            Err(StoreError::DerivedLimit { .. }) => {}
            Err(other) => panic!("expected success or DerivedLimit, got {other:?}"),
        }
    }
    assert_eq!(recorded, LIMIT);
    let held = first
        .issued_certificates()
        .await
        .expect("issued")
        .iter()
        .filter(|record| record.parent.is_some())
        .count();
    assert_eq!(held, LIMIT as usize);
}

async fn insert_refuses_a_child_of_a_revoked_or_unknown_parent(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let (_, issuing) = insert_authorities(&store).await;
    let parent = issued_record(issuing, &f.rsa.leaf, "alice@corp.example", None, now());
    store
        .insert_issued(&parent)
        .await
        .expect("issue the parent");
    store
        .revoke_issued(&parent.serial, later(5), "keyCompromise", &revocation_event)
        .await
        .expect("revoke the parent");
    let child = child_of(&parent, &[0x10, 0x01], later(10));
    assert_parent_revoked(store.insert_issued(&child).await, &parent);
    assert_eq!(store.find_issued(&child.serial).await.expect("find"), None);

    // A parent said to be certgate's but not on record (no path of certgate writes that):
    // refused, since no revocation could ever reach the child through it.
    let unknown = issued_record(issuing, &f.ecdsa.leaf, "bob@corp.example", None, now());
    let orphan = child_of(&unknown, &[0x20, 0x01], later(10));
    assert_not_found(
        store.insert_issued(&orphan).await,
        "a child of an unknown parent",
    );
    assert_eq!(store.find_issued(&orphan.serial).await.expect("find"), None);

    // A parent of another CA is not on record and cannot be revoked here: recorded as before.
    let foreign_child = IssuedRecord {
        parent: Some(ParentCertificate {
            authority: None,
            ..orphan.parent.clone().expect("a parent")
        }),
        ..orphan
    };
    store
        .insert_issued(&foreign_child)
        .await
        .expect("a child of another CA's certificate");
}

/// The revocation commits while the child's insert waits for the parent's row: the insert is
/// refused. The test holds the revocation open after its first statement (what `revoke_one`
/// does to the named row), on a connection of its own.
async fn child_insert_waits_for_a_revocation_of_its_parent_and_is_refused(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let (_, issuing) = insert_authorities(&store).await;
    let parent = issued_record(issuing, &f.rsa.leaf, "alice@corp.example", None, now());
    store
        .insert_issued(&parent)
        .await
        .expect("issue the parent");
    let child = child_of(&parent, &[0x10, 0x01], later(10));

    let mut revoker = raw_connection(db).await;
    let mut revocation = begin_write(&mut revoker, store.backend()).await;
    sqlx::query(
        "UPDATE issued_certificates SET revoked_at = $1, revocation_reason = 'keyCompromise' \
         WHERE serial_hex = $2 AND revoked_at IS NULL",
    )
    .bind(later(5).0)
    .bind(hex(&parent.serial))
    .execute(&mut *revocation)
    .await
    .expect("revoke the parent's row");

    let insert = tokio::spawn({
        let (store, child) = (store.clone(), child.clone());
        async move { store.insert_issued(&child).await }
    });
    wait_until_blocked(
        db,
        &insert,
        "SELECT revoked_at FROM issued_certificates",
        "the insert",
    )
    .await;
    revocation.commit().await.expect("commit the revocation");

    assert_parent_revoked(insert.await.expect("the insert task"), &parent);
    assert_eq!(
        store.find_issued(&child.serial).await.expect("find"),
        None,
        "no child escapes the revocation"
    );
}

/// The child's insert holds the parent's row when the revocation comes: the revocation waits
/// for it, then revokes the child with the parent.
///
/// PostgreSQL: the insert is paused after it locked the parent's row and before its INSERT
/// can finish: the test holds a lock on certgate's CA row (`FOR UPDATE`), which the INSERT's
/// foreign key check (`FOR KEY SHARE`) waits for; the revocation touches no CA row.
/// SQLite: `insert_issued` cannot be paused inside its transaction (it holds the database's
/// write lock, which nothing else can take until it ends), so the test stands in for it with
/// the same transaction on a connection of its own: `BEGIN IMMEDIATE`, the parent's row read,
/// the child's row written, then a revocation started, shown waiting, and the commit.
async fn revocation_waits_for_a_child_being_recorded_and_revokes_it(db: &TestDb) {
    let f = fixtures();
    let store = db.open().await;
    let (_, issuing) = insert_authorities(&store).await;
    let parent = issued_record(issuing, &f.rsa.leaf, "alice@corp.example", None, now());
    store
        .insert_issued(&parent)
        .await
        .expect("issue the parent");
    let child = child_of(&parent, &[0x10, 0x01], later(10));

    let mut holder = raw_connection(db).await;
    let mut held = begin_write(&mut holder, store.backend()).await;
    let insert = match store.backend() {
        Backend::Postgres => {
            sqlx::query("SELECT id FROM authorities WHERE id = $1 FOR UPDATE")
                .bind(issuing.0)
                .execute(&mut *held)
                .await
                .expect("lock certgate's CA row");
            let insert = tokio::spawn({
                let (store, child) = (store.clone(), child.clone());
                async move { store.insert_issued(&child).await }
            });
            wait_until_blocked(db, &insert, "INSERT INTO issued_certificates", "the insert").await;
            Some(insert)
        }
        Backend::Sqlite => {
            let revoked_at: Option<i64> = sqlx::query(
                "SELECT revoked_at FROM issued_certificates \
                 WHERE serial_hex = $1 AND authority_id = $2",
            )
            .bind(hex(&parent.serial))
            .bind(issuing.0)
            .fetch_one(&mut *held)
            .await
            .expect("read the parent's row")
            .try_get("revoked_at")
            .expect("revoked_at");
            assert_eq!(revoked_at, None);
            sqlx::query(
                "INSERT INTO issued_certificates (serial_hex, serial, authority_id, upn, \
                 subject, not_before, not_after, certificate, issued_at, parent_serial_hex, \
                 parent_issuer, parent_authority_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(hex(&child.serial))
            .bind(&child.serial)
            .bind(issuing.0)
            .bind(&child.upn)
            .bind(&child.subject)
            .bind(child.not_before.0)
            .bind(child.not_after.0)
            .bind(&child.certificate_der)
            .bind(child.issued_at.0)
            .bind(hex(&parent.serial))
            .bind("CN=certgate Test Issuing CA, O=certgate Test, C=DE")
            .bind(issuing.0)
            .execute(&mut *held)
            .await
            .expect("write the child's row");
            None
        }
    };

    let revocation = tokio::spawn({
        let (store, serial) = (store.clone(), parent.serial.clone());
        async move {
            store
                .revoke_issued(&serial, later(100), "keyCompromise", &revocation_event)
                .await
        }
    });
    wait_until_blocked(
        db,
        &revocation,
        "UPDATE issued_certificates",
        "the revocation",
    )
    .await;
    held.commit().await.expect("let the child's insert finish");
    if let Some(insert) = insert {
        insert
            .await
            .expect("the insert task")
            .expect("the child is recorded: its parent was not revoked when it was checked");
    }

    let revocation = revocation
        .await
        .expect("the revocation task")
        .expect("revoke");
    assert!(revocation.named_revoked_now);
    assert_eq!(
        revocation
            .descendants
            .iter()
            .map(|r| r.serial.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&child.serial),
        "the revocation takes the child recorded while it waited"
    );
    let stored = store
        .find_issued(&child.serial)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(stored.revoked_at, Some(later(100)));
}

fn assert_parent_revoked(result: Result<(), StoreError>, parent: &IssuedRecord) {
    match result {
        Err(StoreError::ParentRevoked { serial }) => assert_eq!(serial, hex(&parent.serial)),
        other => panic!(
            "expected ParentRevoked for {}, got {other:?}",
            hex(&parent.serial)
        ),
    }
}

/// A connection outside the store's pool, for a transaction the test holds open.
async fn raw_connection(db: &TestDb) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(db.url())
        .await
        .expect("connect outside the store");
    if db.url().starts_with("sqlite:") {
        sqlx::query("PRAGMA busy_timeout = 10000")
            .execute(&mut conn)
            .await
            .expect("busy timeout");
    }
    conn
}

/// A write transaction begun as the store begins its own: on SQLite it holds the database's
/// write lock from BEGIN.
async fn begin_write(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
) -> sqlx::Transaction<'_, sqlx::Any> {
    match backend {
        Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => conn.begin().await,
    }
    .expect("begin")
}

/// How long a store call is given to finish when it should not wait (SQLite), or to show up
/// waiting (PostgreSQL).
const WAIT_WINDOW: Duration = Duration::from_millis(500);

/// Returns once `task` waits for a lock the test holds, in a statement that begins with
/// `statement`; fails when the task finishes instead.
///
/// PostgreSQL shows the waiting statement in `pg_stat_activity`, so this is exact. SQLite
/// waits in its busy handler, which nothing reports: the task must still be running after
/// `WAIT_WINDOW`. (If it had not even started by then, the outcome the test checks next is
/// the same: on SQLite every write transaction runs after the one the test holds.)
async fn wait_until_blocked<T>(
    db: &TestDb,
    task: &tokio::task::JoinHandle<T>,
    statement: &str,
    what: &str,
) {
    let finished_early = |task: &tokio::task::JoinHandle<T>| {
        if task.is_finished() {
            panic!("{what} finished while the test held a lock it needs: it did not wait");
        }
    };
    if db.url().starts_with("sqlite:") {
        tokio::time::sleep(WAIT_WINDOW).await;
        finished_early(task);
        return;
    }
    let mut observer = raw_connection(db).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        finished_early(task);
        let waiting: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND wait_event_type = 'Lock' AND query LIKE $1",
        )
        .bind(format!("{statement}%"))
        .fetch_one(&mut observer)
        .await
        .expect("pg_stat_activity")
        .try_get("n")
        .expect("count");
        if waiting > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} neither finished nor waited on a lock in a statement `{statement}...`"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn latest_published_crl_is_the_highest_number_per_authority_and_kind(db: &TestDb) {
    let store = db.open().await;
    let (root, issuing) = insert_authorities(&store).await;
    for kind in [CrlKind::Base, CrlKind::Delta] {
        assert_eq!(
            store
                .latest_published_crl(issuing, kind)
                .await
                .expect("latest"),
            None
        );
    }
    // Out of order, and 9 < 10 < 11 as numbers (not as text).
    let crls = [
        published_crl(issuing, CrlKind::Base, 10, None),
        published_crl(issuing, CrlKind::Base, 2, None),
        published_crl(issuing, CrlKind::Delta, 11, Some(10)),
        published_crl(issuing, CrlKind::Base, 9, None),
        published_crl(issuing, CrlKind::Delta, 3, Some(2)),
        published_crl(root, CrlKind::Base, 1, None),
    ];
    for crl in &crls {
        store.insert_published_crl(crl).await.expect("publish");
    }
    let latest = |authority, kind| {
        let store = &store;
        async move {
            store
                .latest_published_crl(authority, kind)
                .await
                .expect("latest")
        }
    };
    assert_eq!(latest(issuing, CrlKind::Base).await, Some(crls[0].clone()));
    assert_eq!(latest(issuing, CrlKind::Delta).await, Some(crls[2].clone()));
    assert_eq!(latest(root, CrlKind::Base).await, Some(crls[5].clone()));
    assert_eq!(latest(root, CrlKind::Delta).await, None);
    let stored = latest(issuing, CrlKind::Base).await.expect("published");
    assert_same_bytes("published CRL", &stored.der, &crls[0].der);

    // Base and delta CRLs share one number sequence (RFC 5280 §5.2.4), per authority.
    assert_conflict(
        store.insert_published_crl(&crls[0]).await,
        "the same CRL number twice",
    );
    assert_conflict(
        store
            .insert_published_crl(&published_crl(issuing, CrlKind::Delta, 10, Some(9)))
            .await,
        "a delta CRL with a base CRL's number",
    );
    assert_eq!(latest(issuing, CrlKind::Base).await, Some(crls[0].clone()));
    assert_eq!(latest(issuing, CrlKind::Delta).await, Some(crls[2].clone()));
    // Another authority may use the same number.
    let root_two = published_crl(root, CrlKind::Base, 10, None);
    store
        .insert_published_crl(&root_two)
        .await
        .expect("publish");
    assert_eq!(latest(root, CrlKind::Base).await, Some(root_two));
}

// ---- Audit log ----------------------------------------------------------------------------

async fn audit_events_come_newest_first(db: &TestDb) {
    let store = db.open().await;
    assert!(store.audit_events(10).await.expect("events").is_empty());
    let events: Vec<AuditEvent> = (1..=5)
        .map(|i| {
            AuditEvent::new(
                later(i),
                "cli:admin",
                "ca.add",
                format!("ca {i}"),
                if i == 3 { "ca-duplicate" } else { "ok" },
                format!("event {i}: root \"CN=Zürich Root, O=Contoso\" — «added»"),
            )
        })
        .collect();
    for event in &events {
        store.append_audit(event).await.expect("append");
    }
    let newest_first: Vec<AuditEvent> = events.iter().rev().cloned().collect();
    assert_eq!(
        store.audit_events(3).await.expect("events"),
        newest_first[..3]
    );
    assert_eq!(store.audit_events(100).await.expect("events"), newest_first);
    assert!(store.audit_events(0).await.expect("events").is_empty());
}

// ---- Reopening ----------------------------------------------------------------------------

async fn reopening_sees_the_data(db: &TestDb) {
    let f = fixtures();
    let event = AuditEvent::new(now(), "cli:admin", "pki.init", "root", "ok", "initialised");
    let (cas, crl, issued, generation) = {
        let store = db.open().await;
        let cas = store
            .insert_cas(&three_new_cas(), now())
            .await
            .expect("insert");
        let crl = cached_crl(cas[1].id, CrlKind::Base, &f.large_crl, &[2]);
        store
            .put_cached_crl(
                &crl.to_cache(),
                &success_status(cas[1].id, CrlKind::Base, now()),
            )
            .await
            .expect("cache");
        let (_, issuing) = insert_authorities(&store).await;
        let issued = issued_record(issuing, &f.rsa.leaf, "alice@corp.example", None, now());
        store.insert_issued(&issued).await.expect("issue");
        store.append_audit(&event).await.expect("audit");
        let generation = store.generation().await.expect("generation");
        store.close().await;
        (cas, crl, issued, generation)
    };

    // Connecting again runs the migrations again: they must skip what is applied.
    let store = db.open().await;
    assert_eq!(store.list_cas().await.expect("list"), cas);
    assert_eq!(store.cached_crls().await.expect("cached"), [crl]);
    assert_eq!(store.issued_certificates().await.expect("issued"), [issued]);
    assert_eq!(store.authorities().await.expect("authorities").len(), 2);
    assert_eq!(store.audit_events(10).await.expect("events"), [event]);
    assert_eq!(store.generation().await.expect("generation"), generation);

    // A second store open at the same time sees the first one's writes.
    let other = db.open().await;
    let note = AuditEvent::new(
        later(1),
        "server",
        "crl.refresh",
        "ca 2",
        "ok",
        "from node 2",
    );
    other
        .append_audit(&note)
        .await
        .expect("audit via the other store");
    assert_eq!(store.audit_events(1).await.expect("events"), [note]);
    assert_eq!(other.list_cas().await.expect("list"), cas);
}

async fn concurrent_first_opens_migrate_once(db: &TestDb) {
    // Two nodes (or the server and the CLI) starting together on an empty database.
    let (a, b, c) = tokio::join!(
        SqlStore::connect(db.url()),
        SqlStore::connect(db.url()),
        SqlStore::connect(db.url())
    );
    let stores = [
        a.expect("first connect"),
        b.expect("second connect"),
        c.expect("third connect"),
    ];
    stores[0]
        .insert_cas(&three_new_cas()[..1], now())
        .await
        .expect("insert");
    for store in &stores {
        assert_eq!(store.list_cas().await.expect("list").len(), 1);
    }
}

/// The first half of the durability promise on SQLite: the file is in WAL mode (a persistent
/// property of the file; `synchronous=FULL` is per connection and cannot be seen from
/// outside, and only a power cut, not kill -9, could tell it apart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_database_is_in_wal_mode() {
    let db = TestDb::create(Backend::Sqlite).await;
    db.open().await.close().await;
    let mut connection = sqlx::sqlite::SqliteConnection::connect(db.url())
        .await
        .expect("open the SQLite file directly");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .expect("read the journal mode");
    assert_eq!(mode.to_ascii_lowercase(), "wal");
}

// ---- Durability ---------------------------------------------------------------------------

/// Set for the child process: the database URL it writes to.
const DURABILITY_CHILD_VARIABLE: &str = "CERTGATE_DURABILITY_CHILD";
/// The test function the child process runs (its full libtest name).
const DURABILITY_CHILD_TEST: &str = "durability_child";
const DURABILITY_ACTION: &str = "durability.probe";
/// The parent kills the child after this many acknowledged writes.
const ACKS_BEFORE_KILL: usize = 200;
/// How long the parent waits for them.
const CHILD_DEADLINE: Duration = Duration::from_secs(60);
/// Bounds the child if nobody kills it.
const CHILD_MAX_WRITES: u64 = 50_000;

/// Not a test of its own: the body of the child process of the durability tests. Without
/// `CERTGATE_DURABILITY_CHILD` it does nothing, so it passes in the normal run.
///
/// With it, the child appends numbered audit events and prints `acked <n>` only after the
/// store returned `Ok` for event n, until the parent kills it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durability_child() {
    let Ok(url) = std::env::var(DURABILITY_CHILD_VARIABLE) else {
        return;
    };
    let store = SqlStore::connect(&url).await.expect("the child connects");
    let started = Instant::now();
    let mut stdout = std::io::stdout();
    for n in 1..=CHILD_MAX_WRITES {
        if started.elapsed() > CHILD_DEADLINE {
            break;
        }
        store
            .append_audit(&AuditEvent::new(
                now(),
                "test:durability",
                DURABILITY_ACTION,
                n.to_string(),
                "ok",
                "written by the durability child",
            ))
            .await
            .expect("the child appends");
        // A closed pipe means the parent is gone: stop.
        writeln!(stdout, "acked {n}")
            .and_then(|()| stdout.flush())
            .expect("the parent reads the acknowledgements");
    }
}

struct ChildRun {
    acked: Vec<u64>,
    status: ExitStatus,
    killed: bool,
    other_output: Vec<String>,
    stderr: String,
}

/// Runs the child against `url`, kills it with SIGKILL once it has acknowledged
/// `ACKS_BEFORE_KILL` writes (or at the deadline), and returns every acknowledgement it printed.
fn run_child_until_killed(url: &str) -> ChildRun {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            DURABILITY_CHILD_TEST,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DURABILITY_CHILD_VARIABLE, url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child process");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout_reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut acked = Vec::new();
    let mut other_output = Vec::new();
    let mut record = |line: String| {
        // libtest may print "test durability_child ... " on the same line as the first ack.
        match line
            .rsplit_once("acked ")
            .and_then(|(_, n)| n.trim().parse::<u64>().ok())
        {
            Some(n) => acked.push(n),
            None => other_output.push(line),
        }
    };
    let deadline = Instant::now() + CHILD_DEADLINE;
    let mut seen = 0;
    while seen < ACKS_BEFORE_KILL {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                seen += usize::from(line.contains("acked "));
                record(line);
            }
            // The deadline passed, or the child ended on its own.
            Err(_) => break,
        }
    }
    let killed = child.kill().is_ok(); // SIGKILL on Unix
    let status = child.wait().expect("wait for the child");
    // What the child printed before it died was acknowledged too.
    for line in lines.iter() {
        record(line);
    }
    let _ = stdout_reader.join();
    let stderr = stderr_reader.join().unwrap_or_default();
    ChildRun {
        acked,
        status,
        killed,
        other_output,
        stderr,
    }
}

/// A write the store acknowledged survives the writer being killed with SIGKILL (kill -9):
/// the database is reopened and holds every event the child saw acknowledged.
async fn acknowledged_writes_survive_kill_9(db: &TestDb) {
    // The schema exists before the child starts, as it would for a running server.
    db.open().await.close().await;
    let url = db.url().to_owned();
    let run = tokio::task::spawn_blocking(move || run_child_until_killed(&url))
        .await
        .expect("the child runner");
    let diagnostics = || {
        format!(
            "child exit: {:?}\nchild stdout (other than acks):\n{}\nchild stderr:\n{}",
            run.status,
            run.other_output.join("\n"),
            run.stderr
        )
    };
    assert!(
        run.acked.len() >= ACKS_BEFORE_KILL,
        "the child acknowledged only {} writes within {CHILD_DEADLINE:?}\n{}",
        run.acked.len(),
        diagnostics()
    );
    assert!(run.killed, "the child was not killed\n{}", diagnostics());
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            run.status.signal(),
            Some(9),
            "the child must die of SIGKILL, not finish\n{}",
            diagnostics()
        );
    }
    let expected: Vec<u64> = (1..=run.acked.len() as u64).collect();
    assert_eq!(run.acked, expected, "acknowledgements are 1, 2, 3, ...");

    let store = db.open().await;
    let stored: HashSet<u64> = store
        .audit_events(1_000_000)
        .await
        .expect("read the audit log after the kill")
        .iter()
        .filter(|event| event.action == DURABILITY_ACTION)
        .map(|event| event.target.parse().expect("a number"))
        .collect();
    let missing: Vec<u64> = run
        .acked
        .iter()
        .copied()
        .filter(|n| !stored.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes were lost after kill -9: {:?}",
        missing.len(),
        run.acked.len(),
        &missing[..missing.len().min(20)]
    );
    eprintln!(
        "{}: the child had {} writes acknowledged when it was killed; all are stored",
        db.url(),
        run.acked.len()
    );
    // The store still takes writes after the crash.
    store
        .append_audit(&AuditEvent::new(now(), "test", "after.kill", "-", "ok", ""))
        .await
        .expect("write after the kill");
}
