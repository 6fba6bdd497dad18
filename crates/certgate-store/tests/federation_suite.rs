//! The federation store suite: every behaviour of the `FederationStore` port (relying parties,
//! token-signing keys, the SAML request-ID replay cache) and the login flow's sign-in
//! certificate, written once and run against both backends (see common/mod.rs): round trips,
//! the unique constraints, the rollback of a stale rotation, two nodes racing. The federation
//! service's rules on top of the port are certgate-core's tests/federation.rs, on the
//! in-memory store.
//!
//! The key races run two initializations (and two rotations) from two connection pools at
//! once: exactly one may win, and the loser changes nothing.

mod common;

use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::federation::certificate_context_rules;
use certgate_core::federation::{
    self, generate_token_signing_key, prepare_relying_party, ClaimRule, FederationStore, KeyState,
    NameIdFormat, PasswordRequests, Protocol, RelyingParty, RelyingPartyDraft, TokenSigningKey,
};
use certgate_core::login_flow::{FlowIdentity, FlowStep, LoginFlow, LoginFlowStore};
use certgate_core::store::StoreError;
use certgate_pki::UnixTime;
use certgate_store::SqlStore;

use common::{on_both_backends, TestDb};

on_both_backends! {
    relying_parties_round_trip_every_field
        => sqlite_relying_parties_round_trip_every_field,
           postgres_relying_parties_round_trip_every_field;
    relying_party_names_and_identifiers_are_unique
        => sqlite_relying_party_names_and_identifiers_are_unique,
           postgres_relying_party_names_and_identifiers_are_unique;
    first_keys_are_inserted_once_even_by_two_nodes_at_once
        => sqlite_first_keys_are_inserted_once_even_by_two_nodes_at_once,
           postgres_first_keys_are_inserted_once_even_by_two_nodes_at_once;
    rotation_moves_next_to_current_and_a_stale_one_changes_nothing
        => sqlite_rotation_moves_next_to_current_and_a_stale_one_changes_nothing,
           postgres_rotation_moves_next_to_current_and_a_stale_one_changes_nothing;
    concurrent_rotations_have_exactly_one_winner
        => sqlite_concurrent_rotations_have_exactly_one_winner,
           postgres_concurrent_rotations_have_exactly_one_winner;
    request_ids_are_remembered_once_per_issuer_until_purged
        => sqlite_request_ids_are_remembered_once_per_issuer_until_purged,
           postgres_request_ids_are_remembered_once_per_issuer_until_purged;
    login_flows_keep_the_sign_in_certificate
        => sqlite_login_flows_keep_the_sign_in_certificate,
           postgres_login_flows_keep_the_sign_in_certificate;
    an_authentication_step_rebinds_the_flow_once
        => sqlite_an_authentication_step_rebinds_the_flow_once,
           postgres_an_authentication_step_rebinds_the_flow_once;
}

// ---- Fixtures -----------------------------------------------------------------------------

const PASSPHRASE: &[u8] = b"federation store suite passphrase";
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;

fn at(offset: i64) -> UnixTime {
    UnixTime(T0 + offset)
}

fn audit(action: &str, target: &str) -> AuditEvent {
    AuditEvent::new(
        at(0),
        "test",
        action,
        target,
        "ok",
        format!("{action} {target}"),
    )
}

fn key(state: KeyState) -> TokenSigningKey {
    generate_token_signing_key("federation suite", state, PASSPHRASE, at(0)).expect("key")
}

/// A relying party with every optional field set and every default changed.
fn every_field_rp(id: &str, name: &str, identifier: &str) -> RelyingParty {
    let certificate = key(KeyState::Next).certificate_der;
    let mut claims = certificate_context_rules();
    claims.push(ClaimRule::parse("http://x.example/role=const:a=b").expect("rule"));
    claims.push(ClaimRule::parse("IDPEmail=user.upn").expect("rule"));
    let draft = RelyingPartyDraft {
        name: name.into(),
        protocol: Protocol::Saml,
        identifier: identifier.into(),
        reply_urls: vec![
            "https://sp.example/acs/2".into(),
            "https://sp.example/acs/1".into(),
            "http://127.0.0.1:8080/acs".into(),
        ],
        logout_url: Some("https://sp.example/slo".into()),
        name_id_format: NameIdFormat::EmailAddress,
        name_id_source: certgate_core::federation::ClaimSource::parse("user.mail").expect("src"),
        claims,
        sign_response: true,
        require_signed_requests: true,
        request_certificates: vec![certificate],
        password_requests: PasswordRequests::FreshCertificate,
        require_domain_password: true,
        issuer: Some("https://idp.example/tenant-b".into()),
        token_lifetime_seconds: 900,
        enabled: false,
    };
    prepare_relying_party(draft, id.into(), at(1), at(2)).expect("valid draft")
}

fn wsfed_rp(id: &str, name: &str, identifier: &str) -> RelyingParty {
    let draft = RelyingPartyDraft::new(
        name,
        Protocol::WsFed,
        identifier,
        vec!["https://app.example/".into()],
    );
    prepare_relying_party(draft, id.into(), at(0), at(0)).expect("valid draft")
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

async fn audit_actions(store: &SqlStore) -> Vec<String> {
    let mut actions: Vec<String> = store
        .audit_events(100)
        .await
        .expect("audit")
        .into_iter()
        .map(|event| event.action)
        .collect();
    actions.reverse();
    actions
}

fn states(keys: &[TokenSigningKey]) -> Vec<(String, KeyState)> {
    let mut states: Vec<_> = keys
        .iter()
        .map(|k| (k.thumbprint.clone(), k.lifecycle.state))
        .collect();
    states.sort();
    states
}

// ---- Relying parties ----------------------------------------------------------------------

async fn relying_parties_round_trip_every_field(db: &TestDb) {
    let store = db.open().await;
    let full = every_field_rp("rp_full", "Full", "https://sp.example/metadata");
    let plain = wsfed_rp("rp_plain", "another app", "urn:app");
    store
        .insert_relying_party(&full, &audit("rp.add", "rp_full"))
        .await
        .expect("insert full");
    store
        .insert_relying_party(&plain, &audit("rp.add", "rp_plain"))
        .await
        .expect("insert plain");

    assert_eq!(
        store.relying_party("rp_full").await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store.relying_party("rp_plain").await.unwrap(),
        Some(plain.clone())
    );
    assert_eq!(store.relying_party("rp_none").await.unwrap(), None);
    // Ordered by name, case-insensitively.
    assert_eq!(
        store.relying_parties().await.unwrap(),
        vec![plain.clone(), full.clone()]
    );
    assert_eq!(
        store
            .relying_party_by_identifier(Protocol::Saml, "https://sp.example/metadata")
            .await
            .unwrap(),
        Some(full.clone())
    );
    assert_eq!(
        store
            .relying_party_by_identifier(Protocol::WsFed, "https://sp.example/metadata")
            .await
            .unwrap(),
        None,
        "the identifier belongs to a SAML relying party"
    );
    assert_eq!(
        store
            .relying_party_by_identifier(Protocol::WsFed, "urn:APP")
            .await
            .unwrap(),
        None,
        "identifiers are compared exactly"
    );

    // An update replaces every field but created_at.
    let mut changed = wsfed_rp("rp_full", "Full renamed", "urn:renamed");
    changed.created_at = full.created_at;
    changed.updated_at = at(50);
    changed.logout_url = None;
    changed.issuer = None;
    store
        .update_relying_party(&changed, &audit("rp.set", "rp_full"))
        .await
        .expect("update");
    assert_eq!(
        store.relying_party("rp_full").await.unwrap(),
        Some(changed.clone())
    );
    assert_eq!(
        store
            .relying_party_by_identifier(Protocol::Saml, "https://sp.example/metadata")
            .await
            .unwrap(),
        None
    );

    let mut missing = changed.clone();
    missing.id = "rp_missing".into();
    assert_not_found(
        store
            .update_relying_party(&missing, &audit("rp.set", "rp_missing"))
            .await,
        "update of a missing relying party",
    );
    store
        .delete_relying_party("rp_full", &audit("rp.remove", "rp_full"))
        .await
        .expect("delete");
    assert_not_found(
        store
            .delete_relying_party("rp_full", &audit("rp.remove", "rp_full"))
            .await,
        "second delete",
    );
    assert_eq!(store.relying_parties().await.unwrap(), vec![plain]);
    assert_eq!(
        audit_actions(&store).await,
        vec!["rp.add", "rp.add", "rp.set", "rp.remove"],
        "every write and only the writes that happened are audited"
    );
}

async fn relying_party_names_and_identifiers_are_unique(db: &TestDb) {
    let store = db.open().await;
    let first = wsfed_rp("rp_1", "Payroll", "urn:payroll");
    store
        .insert_relying_party(&first, &audit("rp.add", "rp_1"))
        .await
        .expect("insert");
    assert_conflict(
        store
            .insert_relying_party(
                &wsfed_rp("rp_2", "PAYROLL", "urn:other"),
                &audit("rp.add", "rp_2"),
            )
            .await,
        "the same name in other case",
    );
    assert_conflict(
        store
            .insert_relying_party(
                &wsfed_rp("rp_3", "Payroll 2", "urn:payroll"),
                &audit("rp.add", "rp_3"),
            )
            .await,
        "the same protocol and identifier",
    );
    assert_conflict(
        store
            .insert_relying_party(
                &wsfed_rp("rp_1", "Payroll 3", "urn:payroll3"),
                &audit("rp.add", "rp_1"),
            )
            .await,
        "the same ID",
    );
    // The same identifier under the other protocol is another relying party.
    let mut saml = every_field_rp("rp_4", "Payroll SAML", "urn:payroll");
    saml.protocol = Protocol::Saml;
    store
        .insert_relying_party(&saml, &audit("rp.add", "rp_4"))
        .await
        .expect("same identifier, other protocol");

    // Updates meet the same constraints.
    let mut renamed = saml.clone();
    renamed.name = "payroll".into();
    assert_conflict(
        store
            .update_relying_party(&renamed, &audit("rp.set", "rp_4"))
            .await,
        "renaming onto another name",
    );
    let mut moved = saml.clone();
    moved.protocol = Protocol::WsFed;
    moved.require_signed_requests = false;
    moved.claims.clear();
    assert_conflict(
        store
            .update_relying_party(&moved, &audit("rp.set", "rp_4"))
            .await,
        "moving onto another identifier",
    );
    // Changing only the case of its own name is fine.
    let mut recased = saml.clone();
    recased.name = "PAYROLL saml".into();
    store
        .update_relying_party(&recased, &audit("rp.set", "rp_4"))
        .await
        .expect("recase own name");
    assert_eq!(store.relying_parties().await.unwrap().len(), 2);
    assert_eq!(
        audit_actions(&store).await,
        vec!["rp.add", "rp.add", "rp.set"],
        "refused writes leave no audit entry"
    );
}

// ---- Token-signing keys -------------------------------------------------------------------

async fn first_keys_are_inserted_once_even_by_two_nodes_at_once(db: &TestDb) {
    let (node_a, node_b) = (db.open().await, db.open().await);
    let (current_a, next_a) = (key(KeyState::Current), key(KeyState::Next));
    let (current_b, next_b) = (key(KeyState::Current), key(KeyState::Next));
    let audit_a = audit("federation.keys.init", "a");
    let audit_b = audit("federation.keys.init", "b");
    let (won_a, won_b) = tokio::join!(
        node_a.insert_initial_token_signing_keys(&current_a, &next_a, &audit_a),
        node_b.insert_initial_token_signing_keys(&current_b, &next_b, &audit_b),
    );
    let (won_a, won_b) = (won_a.expect("node a"), won_b.expect("node b"));
    assert!(
        won_a ^ won_b,
        "exactly one node initializes: a={won_a} b={won_b}"
    );
    let (current, next) = if won_a {
        (current_a, next_a)
    } else {
        (current_b, next_b)
    };
    let keys = node_a.token_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2, "the loser inserted nothing");
    let stored_current = keys
        .iter()
        .find(|k| k.lifecycle.state == KeyState::Current)
        .unwrap();
    let stored_next = keys
        .iter()
        .find(|k| k.lifecycle.state == KeyState::Next)
        .unwrap();
    assert!(
        *stored_current == current,
        "every field of Current round-trips"
    );
    assert!(*stored_next == next, "every field of Next round-trips");
    assert_eq!(stored_current.lifecycle.activated_at, Some(at(0)));
    assert_eq!(stored_next.lifecycle.activated_at, None);
    assert_eq!(audit_actions(&node_a).await, vec!["federation.keys.init"]);

    // Later attempts find keys and change nothing.
    assert!(!node_b
        .insert_initial_token_signing_keys(
            &key(KeyState::Current),
            &key(KeyState::Next),
            &audit("federation.keys.init", "late"),
        )
        .await
        .unwrap());
    assert_eq!(
        states(&node_a.token_signing_keys().await.unwrap()),
        states(&keys)
    );
}

async fn rotation_moves_next_to_current_and_a_stale_one_changes_nothing(db: &TestDb) {
    let store = db.open().await;
    let first = federation::ensure_token_signing_keys(&store, PASSPHRASE, at(0), "admin")
        .await
        .expect("init");
    let old_current = first.current.thumbprint.clone();
    let old_next = first.next.clone().expect("next").thumbprint;

    let new_next = key(KeyState::Next);
    assert!(store
        .rotate_token_signing_keys(
            &old_current,
            &old_next,
            &new_next,
            at(100),
            &audit("federation.keys.rotate", "1"),
        )
        .await
        .expect("rotate"));
    let keys = store.token_signing_keys().await.unwrap();
    let by = |thumbprint: &str| keys.iter().find(|k| k.thumbprint == thumbprint).unwrap();
    assert_eq!(by(&old_current).lifecycle.state, KeyState::Retired);
    assert_eq!(by(&old_current).lifecycle.retired_at, Some(at(100)));
    assert_eq!(by(&old_current).lifecycle.activated_at, Some(at(0)), "kept");
    assert_eq!(by(&old_next).lifecycle.state, KeyState::Current);
    assert_eq!(by(&old_next).lifecycle.activated_at, Some(at(100)));
    assert_eq!(by(&old_next).lifecycle.retired_at, None);
    assert!(*by(&new_next.thumbprint) == new_next);

    // The same expectation again is stale now: nothing changes, nothing is audited.
    let before = store.token_signing_keys().await.unwrap();
    assert!(!store
        .rotate_token_signing_keys(
            &old_current,
            &old_next,
            &key(KeyState::Next),
            at(200),
            &audit("federation.keys.rotate", "stale"),
        )
        .await
        .expect("stale rotation"));
    // Right Current, wrong Next: the first update ran and must be rolled back.
    assert!(!store
        .rotate_token_signing_keys(
            &old_next,
            &old_current,
            &key(KeyState::Next),
            at(200),
            &audit("federation.keys.rotate", "half stale"),
        )
        .await
        .expect("half-stale rotation"));
    assert!(store.token_signing_keys().await.unwrap() == before);
    assert_eq!(
        audit_actions(&store).await,
        vec!["federation.keys.init", "federation.keys.rotate"]
    );
}

async fn concurrent_rotations_have_exactly_one_winner(db: &TestDb) {
    let (node_a, node_b) = (db.open().await, db.open().await);
    let first = federation::ensure_token_signing_keys(&node_a, PASSPHRASE, at(0), "a")
        .await
        .expect("init");
    let current = first.current.thumbprint;
    let next = first.next.expect("next").thumbprint;
    for round in 0..3 {
        let (new_a, new_b) = (key(KeyState::Next), key(KeyState::Next));
        let keys = node_a.token_signing_keys().await.unwrap();
        let current_now = keys
            .iter()
            .find(|k| k.lifecycle.state == KeyState::Current)
            .unwrap();
        let next_now = keys
            .iter()
            .find(|k| k.lifecycle.state == KeyState::Next)
            .unwrap();
        if round == 0 {
            assert_eq!(
                (&current_now.thumbprint, &next_now.thumbprint),
                (&current, &next)
            );
        }
        let audit_a = audit("federation.keys.rotate", "a");
        let audit_b = audit("federation.keys.rotate", "b");
        let (won_a, won_b) = tokio::join!(
            node_a.rotate_token_signing_keys(
                &current_now.thumbprint,
                &next_now.thumbprint,
                &new_a,
                at(10 + round),
                &audit_a,
            ),
            node_b.rotate_token_signing_keys(
                &current_now.thumbprint,
                &next_now.thumbprint,
                &new_b,
                at(10 + round),
                &audit_b,
            ),
        );
        let (won_a, won_b) = (won_a.expect("node a"), won_b.expect("node b"));
        assert!(won_a ^ won_b, "round {round}: a={won_a} b={won_b}");
        let keys = node_a.token_signing_keys().await.unwrap();
        let count = |state| keys.iter().filter(|k| k.lifecycle.state == state).count();
        assert_eq!(count(KeyState::Current), 1);
        assert_eq!(count(KeyState::Next), 1);
        let winner = if won_a { &new_a } else { &new_b };
        let loser = if won_a { &new_b } else { &new_a };
        assert!(keys.iter().any(|k| k.thumbprint == winner.thumbprint));
        assert!(!keys.iter().any(|k| k.thumbprint == loser.thumbprint));
    }
}

// ---- SAML request IDs ---------------------------------------------------------------------

async fn request_ids_are_remembered_once_per_issuer_until_purged(db: &TestDb) {
    let store = db.open().await;
    let sp = "https://sp.example/metadata";
    assert!(store
        .remember_request_id(sp, "_id1", at(300))
        .await
        .unwrap());
    assert!(
        !store
            .remember_request_id(sp, "_id1", at(600))
            .await
            .unwrap(),
        "a replay"
    );
    assert!(
        store
            .remember_request_id("https://other.example/", "_id1", at(300))
            .await
            .unwrap(),
        "another issuer's ID is its own"
    );
    assert!(store
        .remember_request_id(sp, "_id2", at(900))
        .await
        .unwrap());
    // Expired but not purged: still refused.
    assert!(!store
        .remember_request_id(sp, "_id1", at(1200))
        .await
        .unwrap());

    assert_eq!(
        store.purge_request_ids(at(300)).await.unwrap(),
        0,
        "not before expiry"
    );
    assert_eq!(store.purge_request_ids(at(301)).await.unwrap(), 2);
    assert!(
        store
            .remember_request_id(sp, "_id1", at(1200))
            .await
            .unwrap(),
        "purged, so new again"
    );
    assert!(!store
        .remember_request_id(sp, "_id2", at(1200))
        .await
        .unwrap());
}

// ---- Login flows --------------------------------------------------------------------------

async fn login_flows_keep_the_sign_in_certificate(db: &TestDb) {
    let store = db.open().await;
    let certificate = key(KeyState::Next).certificate_der;
    let flow = LoginFlow {
        id_hash: vec![1; 32],
        browser_hash: vec![2; 32],
        created_at: at(0),
        expires_at: at(600),
        request: "{}".into(),
        step: FlowStep::Certificate,
        identity: None,
        correlation_id: None,
    };
    store.insert_flow(&flow).await.expect("insert");
    assert_eq!(store.flow(&flow.id_hash).await.unwrap(), Some(flow.clone()));

    let mut signed_in = flow.clone();
    signed_in.step = FlowStep::Confirmation;
    signed_in.correlation_id = Some("corr".into());
    signed_in.identity = Some(FlowIdentity {
        user_id: "u1".into(),
        upn: "ada@example.test".into(),
        display_name: "Ada".into(),
        certificate_serial: "01AB".into(),
        certificate_issuer: "CN=Issuing CA".into(),
        strength: "single-factor".into(),
        auth_time: at(5),
        second_factor: None,
        access_pass_redeemed_at: Some(at(6)),
        certificate_der: Some(certificate),
        domain_password_verified_at: Some(at(7)),
    });
    assert!(store
        .advance_flow(&signed_in, FlowStep::Certificate)
        .await
        .unwrap());
    assert_eq!(
        store.flow(&flow.id_hash).await.unwrap(),
        Some(signed_in.clone())
    );

    // A flow may also carry no certificate (the field is optional).
    let mut without = signed_in.clone();
    without.step = FlowStep::Done;
    if let Some(identity) = without.identity.as_mut() {
        identity.certificate_der = None;
        identity.second_factor = Some("otp".into());
    }
    assert!(store
        .advance_flow(&without, FlowStep::Confirmation)
        .await
        .unwrap());
    assert_eq!(store.flow(&flow.id_hash).await.unwrap(), Some(without));
}

/// The browser binding moves with the step, in the same compare-and-set: the step's winner's
/// secret is stored, and a second tab taking the same step neither wins nor rebinds the flow.
async fn an_authentication_step_rebinds_the_flow_once(db: &TestDb) {
    let store = db.open().await;
    let flow = LoginFlow {
        id_hash: vec![3; 32],
        browser_hash: certgate_core::login_flow::secret_hash("planted"),
        created_at: at(0),
        expires_at: at(600),
        request: "{}".into(),
        step: FlowStep::Certificate,
        identity: None,
        correlation_id: None,
    };
    store.insert_flow(&flow).await.expect("insert");

    let (first, first_secret) = flow
        .clone()
        .authenticated(FlowStep::SecondFactor)
        .expect("randomness");
    let (second, _) = flow
        .clone()
        .authenticated(FlowStep::SecondFactor)
        .expect("randomness");
    assert!(store
        .advance_flow(&first, FlowStep::Certificate)
        .await
        .unwrap());
    assert!(!store
        .advance_flow(&second, FlowStep::Certificate)
        .await
        .unwrap());
    let stored = store.flow(&flow.id_hash).await.unwrap().expect("flow");
    assert_eq!(
        stored.browser_hash,
        certgate_core::login_flow::secret_hash(&first_secret)
    );
    assert_ne!(stored.browser_hash, flow.browser_hash);
    assert_eq!(stored, first);

    // The next authentication step rebinds it again.
    let (confirmed, confirmed_secret) = stored
        .authenticated(FlowStep::Confirmation)
        .expect("randomness");
    assert!(store
        .advance_flow(&confirmed, FlowStep::SecondFactor)
        .await
        .unwrap());
    let stored = store.flow(&flow.id_hash).await.unwrap().expect("flow");
    assert_eq!(
        stored.browser_hash,
        certgate_core::login_flow::secret_hash(&confirmed_secret)
    );
}
