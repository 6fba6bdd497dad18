//! The OIDC store suite: every behaviour of the `OidcStore` port, written once and run against
//! both backends, plus the provider end to end on SQL. SQLite uses a file in a temporary
//! directory; PostgreSQL gets a fresh database per test on the server at 127.0.0.1:5432 (user
//! `postgres`, database `test`), or on the server named by `CERTGATE_TEST_POSTGRES_URL`.
//! PostgreSQL is required: when it cannot be reached the `postgres_*` tests fail and say why.
//!
//! The races run two redemptions of one code (and two rotations of one refresh token) on two
//! connections at once, many times: exactly one may win each.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::store::StoreError;
use certgate_oidc::*;
use certgate_pki::UnixTime;
use certgate_store::SqlStore;

use common::{on_both_backends, with_database, TestDb};

// ---- Harness (common/mod.rs) --------------------------------------------------------------

on_both_backends! {
    signing_keys_round_trip_and_rotate_atomically
        => sqlite_signing_keys_round_trip_and_rotate_atomically,
           postgres_signing_keys_round_trip_and_rotate_atomically;
    clients_round_trip_and_deleting_one_removes_what_it_was_issued
        => sqlite_clients_round_trip_and_deleting_one_removes_what_it_was_issued,
           postgres_clients_round_trip_and_deleting_one_removes_what_it_was_issued;
    codes_are_redeemed_once_and_a_replay_revokes_the_grant
        => sqlite_codes_are_redeemed_once_and_a_replay_revokes_the_grant,
           postgres_codes_are_redeemed_once_and_a_replay_revokes_the_grant;
    concurrent_redemptions_of_one_code_have_exactly_one_winner
        => sqlite_concurrent_redemptions_of_one_code_have_exactly_one_winner,
           postgres_concurrent_redemptions_of_one_code_have_exactly_one_winner;
    refresh_tokens_rotate_once_and_reuse_revokes_the_grant
        => sqlite_refresh_tokens_rotate_once_and_reuse_revokes_the_grant,
           postgres_refresh_tokens_rotate_once_and_reuse_revokes_the_grant;
    concurrent_rotations_of_one_refresh_token_have_exactly_one_winner
        => sqlite_concurrent_rotations_of_one_refresh_token_have_exactly_one_winner,
           postgres_concurrent_rotations_of_one_refresh_token_have_exactly_one_winner;
    grants_are_revoked_once_and_expired_rows_are_deleted
        => sqlite_grants_are_revoked_once_and_expired_rows_are_deleted,
           postgres_grants_are_revoked_once_and_expired_rows_are_deleted;
    provider_runs_end_to_end_on_sql
        => sqlite_provider_runs_end_to_end_on_sql, postgres_provider_runs_end_to_end_on_sql;
}

#[test]
fn with_database_replaces_only_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(with_database("postgres://db", "x"), "postgres://db/x");
}

// ---- Fixtures -----------------------------------------------------------------------------

const PASSPHRASE: &[u8] = b"oidc store suite passphrase";
const HOUR: Duration = Duration::from_secs(3600);
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;
const WEB_REDIRECT: &str = "https://mail.example.test/signin-oidc";

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

fn confidential_client(id: &str) -> RegisteredClient {
    register(
        NewClient {
            client_id: ClientId::parse(id).expect("id"),
            display_name: format!("Client {id}"),
            kind: ClientKind::Confidential,
            redirect_uris: vec![
                WEB_REDIRECT.into(),
                "https://mail.example.test/b".into(),
                "https://mail.example.test/a".into(),
            ],
            post_logout_redirect_uris: vec!["https://mail.example.test/bye".into()],
            consent: ConsentPrompt::Skip,
            allowed_scopes: ScopeSet::of(&[OPENID, PROFILE, OFFLINE_ACCESS]),
            lifetimes: TokenLifetimes {
                id_token: Duration::from_secs(600),
                access_token: Duration::from_secs(900),
                refresh_token: Duration::from_secs(86_400),
            },
            require_domain_password: true,
        },
        HOUR,
        at(0),
    )
    .expect("register")
}

fn public_client(id: &str) -> RegisteredClient {
    register(
        NewClient {
            client_id: ClientId::parse(id).expect("id"),
            display_name: format!("Client {id}"),
            kind: ClientKind::Public,
            redirect_uris: vec!["com.example.mail:/cb".into()],
            post_logout_redirect_uris: vec![],
            consent: ConsentPrompt::Show,
            allowed_scopes: ScopeSet::of(&[OPENID]),
            lifetimes: TokenLifetimes::default(),
            require_domain_password: false,
        },
        HOUR,
        at(0),
    )
    .expect("register")
}

const USER: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

fn authentication(every_field: bool) -> Authentication {
    Authentication {
        user: UserClaims {
            object_id: ObjectId(USER.into()),
            upn: "ada@example.test".into(),
            display_name: every_field.then(|| "Ada Lovelace".into()),
            email: every_field.then(|| "ada@example.test".into()),
        },
        auth_time: at(0),
        certificate: CertificateRef {
            issuer: "CN=Example Issuing CA, O=Example".into(),
            serial: "4f1e0a9b7c".into(),
        },
        certificate_kind: if every_field {
            CertificateKind::SmartCard
        } else {
            CertificateKind::Software
        },
        second_factor: every_field.then_some(SecondFactor::Totp),
        domain_password: every_field,
        assurance: if every_field {
            Assurance::MultiFactor
        } else {
            Assurance::SingleFactor
        },
    }
}

/// A new code for `client` issued at `now`, and its record.
fn code_for(client: &ClientId, every_field: bool, now: UnixTime) -> (Secret, CodeRecord) {
    let secret = Secret::generate().expect("random");
    let record = CodeRecord {
        hash: secret.hash(),
        client_id: client.clone(),
        redirect_uri: WEB_REDIRECT.into(),
        scopes: ScopeSet::of(&[OPENID, OFFLINE_ACCESS]),
        nonce: every_field.then(|| "n-1".into()),
        code_challenge: every_field.then(|| CodeChallenge::s256("a".repeat(43).as_str())),
        authentication: authentication(every_field),
        issued_at: now,
        expires_at: UnixTime(now.0 + 60),
        used_at: None,
    };
    (secret, record)
}

fn grant_for(code: &CodeRecord, now: UnixTime, lifetime: i64) -> GrantRecord {
    GrantRecord {
        id: GrantId::generate().expect("random"),
        code_hash: code.hash,
        client_id: code.client_id.clone(),
        scopes: code.scopes.clone(),
        authentication: code.authentication.clone(),
        created_at: now,
        expires_at: UnixTime(now.0 + lifetime),
        revoked: None,
    }
}

fn refresh_for(grant: &GrantRecord, now: UnixTime) -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: Secret::generate().expect("random").hash(),
        grant_id: grant.id.clone(),
        issued_at: now,
        used_at: None,
    }
}

/// A client with one redeemed code: the grant and its first refresh token.
async fn redeemed(
    store: &SqlStore,
    client: &ClientId,
) -> (CodeRecord, GrantRecord, RefreshTokenRecord) {
    let (_, code) = code_for(client, true, at(0));
    store.insert_code(&code).await.expect("insert code");
    let grant = grant_for(&code, at(1), 86_400);
    let refresh = refresh_for(&grant, at(1));
    assert_eq!(
        store
            .redeem_code(&code.hash, at(1), &grant, Some(&refresh))
            .await
            .expect("redeem"),
        CodeRedemption::Redeemed
    );
    (code, grant, refresh)
}

fn by_kid(mut keys: Vec<SigningKeyRecord>) -> Vec<SigningKeyRecord> {
    keys.sort_by(|a, b| a.kid.cmp(&b.kid));
    keys
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, context: &str) {
    match result {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("{context}: expected a conflict, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, context: &str) {
    match result {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("{context}: expected not found, got {other:?}"),
    }
}

async fn audit_actions(store: &SqlStore) -> Vec<String> {
    let mut actions: Vec<String> = store
        .audit_events(100)
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    actions.reverse();
    actions
}

// ---- Behaviours ---------------------------------------------------------------------------

async fn signing_keys_round_trip_and_rotate_atomically(db: &TestDb) {
    let store = db.open().await;
    assert!(store.signing_keys().await.expect("keys").is_empty());
    let keys = initial_keys(PASSPHRASE, at(0)).expect("keys");
    store
        .insert_initial_signing_keys(&keys, &audit("oidc.keys.create", keys[0].kid.as_str()))
        .await
        .expect("insert");
    let stored = store.signing_keys().await.expect("keys");
    assert_eq!(by_kid(stored.clone()), by_kid(keys.to_vec()));

    // A second node that also found no keys loses: the one-per-state index refuses it.
    let other = initial_keys(PASSPHRASE, at(0)).expect("keys");
    assert_conflict(
        store
            .insert_initial_signing_keys(&other, &audit("oidc.keys.create", "other"))
            .await,
        "second set of initial keys",
    );
    assert_eq!(
        by_kid(store.signing_keys().await.expect("keys")),
        by_kid(keys.to_vec())
    );

    let next = SigningKeyRecord::generate(PASSPHRASE, KeyState::Next, at(100)).expect("key");
    let rotation = plan_rotation(&stored, next, at(100), HOUR).expect("plan");
    store
        .rotate_signing_keys(
            &rotation,
            &audit("oidc.keys.rotate", rotation.promote.as_str()),
        )
        .await
        .expect("rotate");
    let after = store.signing_keys().await.expect("keys");
    assert_eq!(by_kid(after.clone()), by_kid(rotation.apply_to(&stored)));
    KeyRing::load(&after, PASSPHRASE, HOUR).expect("the sealed keys open after a round trip");

    // A rotation planned on the old keys (another node, concurrently) changes nothing.
    let late = SigningKeyRecord::generate(PASSPHRASE, KeyState::Next, at(101)).expect("key");
    let stale = plan_rotation(&stored, late, at(101), HOUR).expect("plan");
    assert_conflict(
        store
            .rotate_signing_keys(&stale, &audit("oidc.keys.rotate", "stale"))
            .await,
        "stale rotation",
    );
    assert_eq!(
        by_kid(store.signing_keys().await.expect("keys")),
        by_kid(after.clone())
    );

    // After max_token_lifetime, the next rotation removes the retired key.
    let next = SigningKeyRecord::generate(PASSPHRASE, KeyState::Next, at(3700)).expect("key");
    let rotation = plan_rotation(&after, next, at(3700), HOUR).expect("plan");
    assert_eq!(rotation.purge, vec![keys[0].kid.clone()]);
    store
        .rotate_signing_keys(
            &rotation,
            &audit("oidc.keys.rotate", rotation.promote.as_str()),
        )
        .await
        .expect("rotate");
    let last = store.signing_keys().await.expect("keys");
    assert_eq!(by_kid(last.clone()), by_kid(rotation.apply_to(&after)));
    assert_eq!(last.len(), 3);
    assert_eq!(
        audit_actions(&store).await,
        ["oidc.keys.create", "oidc.keys.rotate", "oidc.keys.rotate"]
    );
}

async fn clients_round_trip_and_deleting_one_removes_what_it_was_issued(db: &TestDb) {
    let store = db.open().await;
    let web = confidential_client("mail-web");
    let app = public_client("mail-app");
    for registered in [&web, &app] {
        store
            .insert_client(
                &registered.client,
                &audit("oidc.client.register", registered.client.client_id.as_str()),
            )
            .await
            .expect("insert client");
    }
    let stored = store
        .client(&web.client.client_id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(stored, web.client, "redirect URIs keep their order");
    assert!(stored.secret_matches(web.secret.as_ref().expect("secret").expose()));
    assert_eq!(
        store.client(&app.client.client_id).await.expect("read"),
        Some(app.client.clone())
    );
    assert_eq!(
        store.clients().await.expect("list"),
        vec![app.client.clone(), web.client.clone()]
    );
    assert_eq!(
        store
            .client(&ClientId::parse("nobody").expect("id"))
            .await
            .expect("read"),
        None
    );
    assert_conflict(
        store
            .insert_client(
                &public_client("mail-web").client,
                &audit("oidc.client.register", "x"),
            )
            .await,
        "duplicate client_id",
    );

    let (code, grant, refresh) = redeemed(&store, &web.client.client_id).await;
    let (_, app_code) = code_for(&app.client.client_id, false, at(0));
    store.insert_code(&app_code).await.expect("insert");
    store
        .delete_client(
            &web.client.client_id,
            &audit("oidc.client.delete", "mail-web"),
        )
        .await
        .expect("delete");
    assert_eq!(
        store.client(&web.client.client_id).await.expect("read"),
        None
    );
    assert_eq!(store.code(&code.hash).await.expect("read"), None);
    assert_eq!(store.grant(&grant.id).await.expect("read"), None);
    assert_eq!(
        store.refresh_token(&refresh.hash).await.expect("read"),
        None
    );
    assert!(
        store.code(&app_code.hash).await.expect("read").is_some(),
        "other clients stay"
    );
    assert_eq!(
        store.clients().await.expect("list"),
        vec![app.client.clone()]
    );
    assert_not_found(
        store
            .delete_client(
                &web.client.client_id,
                &audit("oidc.client.delete", "mail-web"),
            )
            .await,
        "deleting twice",
    );
    assert_eq!(
        audit_actions(&store).await,
        [
            "oidc.client.register",
            "oidc.client.register",
            "oidc.client.delete"
        ]
    );
}

async fn codes_are_redeemed_once_and_a_replay_revokes_the_grant(db: &TestDb) {
    let store = db.open().await;
    let web = confidential_client("mail-web");
    store
        .insert_client(&web.client, &audit("oidc.client.register", "mail-web"))
        .await
        .expect("client");
    for every_field in [true, false] {
        let (_, code) = code_for(&web.client.client_id, every_field, at(0));
        store.insert_code(&code).await.expect("insert");
        assert_eq!(
            store.code(&code.hash).await.expect("read"),
            Some(code.clone())
        );
    }

    let (_, code) = code_for(&web.client.client_id, true, at(0));
    store.insert_code(&code).await.expect("insert");
    assert_eq!(
        store
            .revoke_grants_from_code(&code.hash, at(1), "test")
            .await
            .expect("revoke"),
        0
    );
    let grant = grant_for(&code, at(5), 86_400);
    let refresh = refresh_for(&grant, at(5));
    assert_eq!(
        store
            .redeem_code(&code.hash, at(5), &grant, Some(&refresh))
            .await
            .expect("redeem"),
        CodeRedemption::Redeemed
    );
    let used = store
        .code(&code.hash)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(used.used_at, Some(at(5)));
    assert_eq!(
        store.grant(&grant.id).await.expect("read"),
        Some(grant.clone())
    );
    assert_eq!(
        store.refresh_token(&refresh.hash).await.expect("read"),
        Some(refresh.clone())
    );

    let replay = grant_for(&code, at(7), 86_400);
    assert_eq!(
        store
            .redeem_code(
                &code.hash,
                at(7),
                &replay,
                Some(&refresh_for(&replay, at(7)))
            )
            .await
            .expect("replay"),
        CodeRedemption::AlreadyUsed
    );
    assert_eq!(
        store.grant(&replay.id).await.expect("read"),
        None,
        "nothing stored"
    );
    let revoked = store
        .grant(&grant.id)
        .await
        .expect("read")
        .expect("present");
    assert_eq!(
        revoked.revoked,
        Some(GrantRevocation {
            at: at(7),
            reason: REVOKED_CODE_REUSED.into()
        })
    );
    // Without a refresh token (no offline_access) the grant alone is stored.
    let (_, plain) = code_for(&web.client.client_id, false, at(0));
    store.insert_code(&plain).await.expect("insert");
    let plain_grant = grant_for(&plain, at(1), 900);
    assert_eq!(
        store
            .redeem_code(&plain.hash, at(1), &plain_grant, None)
            .await
            .expect("redeem"),
        CodeRedemption::Redeemed
    );
    assert_eq!(
        store.grant(&plain_grant.id).await.expect("read"),
        Some(plain_grant)
    );
    let unknown = Secret::generate().expect("random").hash();
    assert_not_found(
        store.redeem_code(&unknown, at(1), &grant, None).await,
        "unknown code",
    );
}

async fn concurrent_redemptions_of_one_code_have_exactly_one_winner(db: &TestDb) {
    let store = db.open().await;
    let web = confidential_client("mail-web");
    store
        .insert_client(&web.client, &audit("oidc.client.register", "mail-web"))
        .await
        .expect("client");
    for round in 0..12 {
        let (_, code) = code_for(&web.client.client_id, true, at(0));
        store.insert_code(&code).await.expect("insert");
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let attempts: Vec<_> = (0..2)
            .map(|_| {
                let (store, barrier, code) = (store.clone(), barrier.clone(), code.clone());
                tokio::spawn(async move {
                    let grant = grant_for(&code, at(1), 86_400);
                    let refresh = refresh_for(&grant, at(1));
                    barrier.wait().await;
                    let outcome = store
                        .redeem_code(&code.hash, at(1), &grant, Some(&refresh))
                        .await
                        .expect("redeem");
                    (outcome, grant.id)
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for attempt in attempts {
            outcomes.push(attempt.await.expect("task"));
        }
        let winners: Vec<_> = outcomes
            .iter()
            .filter(|(outcome, _)| *outcome == CodeRedemption::Redeemed)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        let losers = outcomes
            .iter()
            .filter(|(outcome, _)| *outcome == CodeRedemption::AlreadyUsed)
            .count();
        assert_eq!(losers, 1, "round {round}");
        let mut stored = Vec::new();
        for (_, id) in &outcomes {
            stored.extend(store.grant(id).await.expect("read"));
        }
        assert_eq!(stored.len(), 1, "round {round}: exactly one grant stored");
        // The second redemption is a replay: it revoked what the first one got.
        assert_eq!(
            stored[0].revoked.as_ref().map(|r| r.reason.as_str()),
            Some(REVOKED_CODE_REUSED),
            "round {round}"
        );
    }
}

async fn refresh_tokens_rotate_once_and_reuse_revokes_the_grant(db: &TestDb) {
    let store = db.open().await;
    let web = confidential_client("mail-web");
    store
        .insert_client(&web.client, &audit("oidc.client.register", "mail-web"))
        .await
        .expect("client");
    let (_, grant, first) = redeemed(&store, &web.client.client_id).await;
    let second = refresh_for(&grant, at(10));
    assert_eq!(
        store
            .rotate_refresh_token(&first.hash, at(10), &second)
            .await
            .expect("rotate"),
        RefreshRotation::Rotated
    );
    assert_eq!(
        store
            .refresh_token(&first.hash)
            .await
            .expect("read")
            .and_then(|r| r.used_at),
        Some(at(10))
    );
    assert_eq!(
        store.refresh_token(&second.hash).await.expect("read"),
        Some(second.clone())
    );
    assert_eq!(
        store
            .grant(&grant.id)
            .await
            .expect("read")
            .and_then(|g| g.revoked),
        None
    );

    let third = refresh_for(&grant, at(20));
    assert_eq!(
        store
            .rotate_refresh_token(&first.hash, at(20), &third)
            .await
            .expect("reuse"),
        RefreshRotation::AlreadyUsed
    );
    assert_eq!(store.refresh_token(&third.hash).await.expect("read"), None);
    assert_eq!(
        store
            .grant(&grant.id)
            .await
            .expect("read")
            .and_then(|g| g.revoked),
        Some(GrantRevocation {
            at: at(20),
            reason: REVOKED_REFRESH_TOKEN_REUSED.into()
        })
    );
    let unknown = Secret::generate().expect("random").hash();
    assert_not_found(
        store.rotate_refresh_token(&unknown, at(21), &third).await,
        "unknown refresh token",
    );
}

async fn concurrent_rotations_of_one_refresh_token_have_exactly_one_winner(db: &TestDb) {
    let store = db.open().await;
    let web = confidential_client("mail-web");
    store
        .insert_client(&web.client, &audit("oidc.client.register", "mail-web"))
        .await
        .expect("client");
    for round in 0..12 {
        let (_, grant, first) = redeemed(&store, &web.client.client_id).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let attempts: Vec<_> = (0..2)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let (grant, used) = (grant.clone(), first.hash);
                tokio::spawn(async move {
                    let replacement = refresh_for(&grant, at(10));
                    barrier.wait().await;
                    let outcome = store
                        .rotate_refresh_token(&used, at(10), &replacement)
                        .await
                        .expect("rotate");
                    (outcome, replacement.hash)
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for attempt in attempts {
            outcomes.push(attempt.await.expect("task"));
        }
        let rotated = outcomes
            .iter()
            .filter(|(outcome, _)| *outcome == RefreshRotation::Rotated)
            .count();
        assert_eq!(rotated, 1, "round {round}: {outcomes:?}");
        let mut stored = 0;
        for (_, hash) in &outcomes {
            stored += usize::from(store.refresh_token(hash).await.expect("read").is_some());
        }
        assert_eq!(stored, 1, "round {round}: exactly one successor stored");
        assert_eq!(
            store
                .grant(&grant.id)
                .await
                .expect("read")
                .and_then(|g| g.revoked)
                .map(|r| r.reason),
            Some(REVOKED_REFRESH_TOKEN_REUSED.to_owned()),
            "round {round}: the second use is reuse"
        );
    }
}

async fn grants_are_revoked_once_and_expired_rows_are_deleted(db: &TestDb) {
    let store = db.open().await;
    let web = confidential_client("mail-web");
    store
        .insert_client(&web.client, &audit("oidc.client.register", "mail-web"))
        .await
        .expect("client");
    let (_, grant, refresh) = redeemed(&store, &web.client.client_id).await;
    store
        .revoke_grant(&grant.id, at(5), "admin")
        .await
        .expect("revoke");
    store
        .revoke_grant(&grant.id, at(6), "again")
        .await
        .expect("revoking twice is fine");
    assert_eq!(
        store
            .grant(&grant.id)
            .await
            .expect("read")
            .and_then(|g| g.revoked),
        Some(GrantRevocation {
            at: at(5),
            reason: "admin".into()
        }),
        "the first revocation stands"
    );
    assert_not_found(
        store
            .revoke_grant(&GrantId("nothing".into()), at(5), "admin")
            .await,
        "unknown grant",
    );

    // `redeemed` made a code expiring at +60 and a grant expiring at 1 + 86 400.
    let (_, fresh_code) = code_for(&web.client.client_id, false, at(1000));
    store.insert_code(&fresh_code).await.expect("insert");
    let deleted = store.delete_expired(at(61)).await.expect("purge");
    assert_eq!(deleted, 1, "the expired code");
    assert!(store.grant(&grant.id).await.expect("read").is_some());
    let deleted = store.delete_expired(at(86_402)).await.expect("purge");
    assert_eq!(
        deleted, 3,
        "the other code, the grant and its refresh token"
    );
    assert_eq!(store.grant(&grant.id).await.expect("read"), None);
    assert_eq!(
        store.refresh_token(&refresh.hash).await.expect("read"),
        None
    );
    assert_eq!(store.code(&fresh_code.hash).await.expect("read"), None);
}

/// Users and revoked serials as tables the test edits.
#[derive(Default)]
struct TablePolicy {
    users: Mutex<HashMap<String, UserStatus>>,
    revoked_serials: Mutex<Vec<String>>,
}

impl RefreshPolicy for TablePolicy {
    async fn user_status(&self, user: &ObjectId) -> Result<Option<UserStatus>, PolicyUnavailable> {
        Ok(self
            .users
            .lock()
            .expect("unpoisoned")
            .get(user.as_str())
            .copied())
    }

    async fn certificate_status(
        &self,
        certificate: &CertificateRef,
    ) -> Result<CertificateStatus, PolicyUnavailable> {
        let revoked = self
            .revoked_serials
            .lock()
            .expect("unpoisoned")
            .contains(&certificate.serial);
        Ok(if revoked {
            CertificateStatus::Revoked {
                reason: "keyCompromise".into(),
            }
        } else {
            CertificateStatus::Good
        })
    }
}

fn policy_with_user() -> TablePolicy {
    let policy = TablePolicy::default();
    policy.users.lock().expect("unpoisoned").insert(
        USER.into(),
        UserStatus {
            account: AccountState::Enabled,
            sts_refresh_tokens_valid_from: None,
        },
    );
    policy
}

fn form(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn provider_runs_end_to_end_on_sql(db: &TestDb) {
    let issuer = Issuer::parse("https://login.example.test").expect("issuer");
    let node_a = Provider::open(
        ProviderConfig::new(issuer.clone()),
        db.open().await,
        policy_with_user(),
        PASSPHRASE,
        at(0),
    )
    .await
    .expect("open");
    let registered = node_a
        .register_client(
            NewClient {
                client_id: ClientId::parse("mail-web").expect("id"),
                display_name: "Mail".into(),
                kind: ClientKind::Confidential,
                redirect_uris: vec![WEB_REDIRECT.into()],
                post_logout_redirect_uris: vec![],
                consent: ConsentPrompt::Skip,
                allowed_scopes: ScopeSet::of(&[OPENID, OFFLINE_ACCESS]),
                lifetimes: TokenLifetimes::default(),
                require_domain_password: false,
            },
            at(0),
            "cli:admin",
        )
        .await
        .expect("register");
    let secret = registered.secret.expect("secret").expose().to_owned();
    // client_secret_post throughout (basic is covered in certgate-oidc's tests).
    let credentials = [
        ("client_id", "mail-web"),
        ("client_secret", secret.as_str()),
    ];
    let form_with_client = |items: &[(&str, &str)]| {
        let mut pairs = form(items);
        pairs.extend(form(&credentials));
        pairs
    };

    // A second node on the same database uses the same keys.
    let node_b = Provider::open(
        ProviderConfig::new(issuer),
        db.open().await,
        policy_with_user(),
        PASSPHRASE,
        at(1),
    )
    .await
    .expect("second node");
    assert_eq!(node_b.jwks(at(1)), node_a.jwks(at(1)));

    let request = node_a
        .authorize(
            &form(&[
                ("response_type", "code"),
                ("client_id", "mail-web"),
                ("redirect_uri", WEB_REDIRECT),
                ("scope", "openid offline_access"),
                ("state", "s"),
            ]),
            at(10),
        )
        .await
        .expect("authorize");
    assert_eq!(request.sign_in_step(None, at(10)), Ok(SignInStep::SignIn));
    let mut signed_in = authentication(true);
    signed_in.auth_time = at(11);
    let response = node_a
        .issue_code(&request, &signed_in, at(11))
        .await
        .expect("code");
    let redeem = TokenRequest::parse(
        &form_with_client(&[
            ("grant_type", "authorization_code"),
            ("code", response.code.expose()),
            ("redirect_uri", WEB_REDIRECT),
        ]),
        None,
    )
    .expect("parse");
    // Redeemed on the other node: the code is in the shared database.
    let tokens = node_b.token(&redeem, at(12)).await.expect("tokens");
    let replay = node_a.token(&redeem, at(13)).await.expect_err("replay");
    assert_eq!(replay.reason, "code-reused");
    node_a
        .userinfo(&tokens.access_token, at(14))
        .await
        .expect_err("the replay revoked the grant");

    // A clean flow: refresh rotates, reuse revokes, a revoked certificate is refused.
    let response = node_a
        .issue_code(&request, &signed_in, at(20))
        .await
        .expect("code");
    let tokens = node_a
        .token(
            &TokenRequest::parse(
                &form_with_client(&[
                    ("grant_type", "authorization_code"),
                    ("code", response.code.expose()),
                    ("redirect_uri", WEB_REDIRECT),
                ]),
                None,
            )
            .expect("parse"),
            at(21),
        )
        .await
        .expect("tokens");
    let info = node_b
        .userinfo(&tokens.access_token, at(22))
        .await
        .expect("userinfo on the other node");
    assert_eq!(info.sub, USER);
    let refresh = |token: &str| {
        TokenRequest::parse(
            &form_with_client(&[("grant_type", "refresh_token"), ("refresh_token", token)]),
            None,
        )
        .expect("parse")
    };
    let r1 = tokens.refresh_token.expect("refresh token");
    let rotated = node_b.token(&refresh(&r1), at(30)).await.expect("rotate");
    let r2 = rotated.refresh_token.expect("rotated");
    node_a
        .policy()
        .revoked_serials
        .lock()
        .expect("unpoisoned")
        .push(signed_in.certificate.serial.clone());
    let refused = node_a
        .token(&refresh(&r2), at(31))
        .await
        .expect_err("revoked");
    assert_eq!(refused.reason, "cert-revoked");
    let reuse = node_b
        .token(&refresh(&r1), at(32))
        .await
        .expect_err("reuse");
    assert_eq!(reuse.reason, "refresh-token-reused");
    let after = node_b
        .token(&refresh(&r2), at(33))
        .await
        .expect_err("family revoked");
    assert_eq!(after.reason, "refresh-token-revoked");

    // Rotation on one node, reload on the other.
    let rotation = node_a
        .rotate_keys(PASSPHRASE, at(40), "scheduler")
        .await
        .expect("rotate");
    node_b.reload_keys(PASSPHRASE).await.expect("reload");
    assert_eq!(node_b.key_ring().current_kid(), &rotation.promote);
    assert_eq!(node_b.jwks(at(41)), node_a.jwks(at(41)));
}
