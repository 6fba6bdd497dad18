//! Signing-key rotation with overlap: a token signed before a rotation keeps verifying through
//! the JWKS until it has expired, and then its key leaves the JWKS and the store.

mod common;

use certgate_oidc::*;
use common::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

/// Verifies against the JWKS the provider publishes at `now`, as a relying party would.
fn verifies_with_jwks_at(
    provider: &TestProvider,
    token: &str,
    now: certgate_pki::UnixTime,
) -> bool {
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(serde_json::to_value(provider.jwks(now)).expect("json"))
            .expect("JWKS");
    let Some(jwk) = jwks.find(&kid_of(token)) else {
        return false;
    };
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_aud = false;
    validation.validate_exp = false;
    jsonwebtoken::decode::<serde_json::Value>(
        token,
        &DecodingKey::from_jwk(jwk).expect("key"),
        &validation,
    )
    .is_ok()
}

fn published_kids(provider: &TestProvider, now: certgate_pki::UnixTime) -> Vec<String> {
    provider.jwks(now).keys.into_iter().map(|k| k.kid).collect()
}

#[tokio::test]
async fn jwks_lists_current_then_next_as_p256_signing_keys() {
    let fixture = fixture().await;
    let jwks = serde_json::to_value(fixture.provider.jwks(at(0))).expect("json");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["x"].as_str().map(str::len), Some(43));
        assert_eq!(key["y"].as_str().map(str::len), Some(43));
        assert!(key.get("d").is_none(), "no private part");
    }
    let stored = fixture.provider.store().signing_keys().await.expect("keys");
    let current = stored
        .iter()
        .find(|k| k.lifecycle.state == KeyState::Current)
        .expect("current");
    assert_eq!(keys[0]["kid"], current.kid.as_str());
    assert_eq!(fixture.provider.key_ring().current_kid(), &current.kid);
    for key in &stored {
        assert!(certgate_ca::sealed_key::is_sealed(&key.sealed_private_key));
    }
}

#[tokio::test]
async fn a_token_signed_before_a_rotation_verifies_until_it_expires() {
    let fixture = fixture().await;
    let provider = &fixture.provider;
    let before = web_tokens(&fixture, at(0)).await;
    let first_kid = kid_of(&before.id_token);
    let kids_before = published_kids(provider, at(0));
    assert_eq!(kids_before[0], first_kid, "signed with Current");

    let rotation = provider
        .rotate_keys(PASSPHRASE, at(600), "scheduler")
        .await
        .expect("rotate");
    assert_eq!(rotation.retire.as_str(), first_kid);
    assert_eq!(
        rotation.promote.as_str(),
        kids_before[1],
        "Next became Current"
    );

    // Now: Current (the old Next), the new Next, and the retired key.
    let kids = published_kids(provider, at(600));
    assert_eq!(
        kids,
        vec![
            kids_before[1].clone(),
            rotation.insert.kid.as_str().to_owned(),
            first_kid.clone()
        ]
    );
    let after = web_tokens(&fixture, at(601)).await;
    assert_eq!(kid_of(&after.id_token), kids_before[1]);

    // The old token still verifies, with the JWKS and at userinfo, while it is unexpired…
    assert!(verifies_with_jwks_at(provider, &before.id_token, at(3599)));
    provider
        .userinfo(&before.access_token, at(3599))
        .await
        .expect("a token of the retired key is still accepted");
    // …and its key stays published until max_token_lifetime after the retirement.
    assert!(published_kids(provider, at(600 + 3599)).contains(&first_kid));
    assert!(!published_kids(provider, at(600 + 3600)).contains(&first_kid));
    assert!(!verifies_with_jwks_at(
        provider,
        &before.id_token,
        at(600 + 3600)
    ));
    let error = provider
        .userinfo(&before.access_token, at(600 + 3600))
        .await
        .expect_err("key no longer published");
    assert_eq!(error.reason, "token-key-unknown");

    // The next rotation removes it from the store.
    let second = provider
        .rotate_keys(PASSPHRASE, at(600 + 3600), "scheduler")
        .await
        .expect("rotate again");
    assert_eq!(second.purge, vec![KeyId(first_kid.clone())]);
    let stored = provider.store().signing_keys().await.expect("keys");
    assert!(stored.iter().all(|k| k.kid.as_str() != first_kid));
    assert_eq!(stored.len(), 3);

    let rotations: Vec<_> = provider
        .store()
        .audit()
        .into_iter()
        .filter(|e| e.action == "oidc.keys.rotate")
        .map(|e| (e.actor, e.target))
        .collect();
    assert_eq!(
        rotations,
        vec![
            ("scheduler".to_owned(), kids_before[1].clone()),
            (
                "scheduler".to_owned(),
                rotation.insert.kid.as_str().to_owned()
            )
        ]
    );
}

#[tokio::test]
async fn a_rotation_with_the_wrong_passphrase_changes_nothing() {
    let fixture = fixture().await;
    let provider = &fixture.provider;
    let before = provider.store().signing_keys().await.expect("keys");
    let error = provider
        .rotate_keys(b"not the passphrase", at(10), "scheduler")
        .await
        .expect_err("wrong passphrase");
    assert_eq!(error.code(), "ca-key-seal-broken");
    assert_eq!(provider.store().signing_keys().await.expect("keys"), before);
    web_tokens(&fixture, at(11)).await;
}

#[tokio::test]
async fn another_node_picks_up_a_rotation_on_reload() {
    let fixture = fixture().await;
    let node_b = Provider::open(
        ProviderConfig::new(Issuer::parse(ISSUER).expect("issuer")),
        fixture.provider.store().clone(),
        TablePolicy::with_user(USER),
        PASSPHRASE,
        at(1),
    )
    .await
    .expect("second node on the same store");
    assert_eq!(
        node_b.key_ring().current_kid(),
        fixture.provider.key_ring().current_kid(),
        "the second node uses the first node's keys"
    );
    let rotation = fixture
        .provider
        .rotate_keys(PASSPHRASE, at(100), "scheduler")
        .await
        .expect("rotate on node A");
    // Before reloading, node B already accepts tokens of the new Current key: it was Next.
    let tokens = web_tokens(&fixture, at(101)).await;
    node_b
        .userinfo(&tokens.access_token, at(102))
        .await
        .expect("node B verifies node A's new key");
    node_b.reload_keys(PASSPHRASE).await.expect("reload");
    assert_eq!(node_b.key_ring().current_kid(), &rotation.promote);
    assert_eq!(node_b.jwks(at(102)), fixture.provider.jwks(at(102)));
}

#[tokio::test]
async fn concurrent_rotations_do_not_both_apply() {
    let fixture = fixture().await;
    let records = fixture.provider.store().signing_keys().await.expect("keys");
    let plan = |at_offset| {
        plan_rotation(
            &records,
            SigningKeyRecord::generate(PASSPHRASE, KeyState::Next, at(at_offset)).expect("key"),
            at(at_offset),
            std::time::Duration::from_secs(3600),
        )
        .expect("plan")
    };
    let (first, second) = (plan(10), plan(11));
    let audit =
        certgate_core::audit::AuditEvent::new(at(10), "test", "oidc.keys.rotate", "", "ok", "");
    fixture
        .provider
        .store()
        .rotate_signing_keys(&first, &audit)
        .await
        .expect("first");
    let error = fixture
        .provider
        .store()
        .rotate_signing_keys(&second, &audit)
        .await
        .expect_err("second planned on stale keys");
    assert_eq!(error.code(), "store-conflict");
}
