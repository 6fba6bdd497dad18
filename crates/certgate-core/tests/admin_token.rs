//! The admin API tokens' rules, each tested once, on the in-memory store
//! (`testing::MemoryStore`): a name is taken for good (revoked tokens keep theirs), a token is
//! revoked once, only a token on record and not revoked authenticates, and its use is recorded
//! at most once a minute. The API and the CLI keep one success and one refusal per route.

use certgate_core::admin_token::{
    authenticate_admin_token, create_admin_token, list_admin_tokens, revoke_admin_token,
    LAST_USED_GRANULARITY_SECONDS,
};
use certgate_core::audit::AuditLog;
use certgate_core::testing::{block_on, MemoryStore};
use certgate_pki::UnixTime;

const T0: i64 = 1_767_225_600;
const ACTOR: &str = "cli:root";

#[test]
fn a_token_name_is_taken_for_good_and_a_token_is_revoked_once() {
    block_on(async {
        let store = MemoryStore::new();
        let (ci, _) = create_admin_token(&store, "ci", UnixTime(T0), ACTOR)
            .await
            .expect("created");
        assert_eq!(ci.created_by, ACTOR);
        let error = create_admin_token(&store, "ci", UnixTime(T0 + 1), ACTOR)
            .await
            .expect_err("taken");
        assert_eq!(error.code(), "admin-token-name-taken");

        let revoked = revoke_admin_token(&store, "ci", UnixTime(T0 + 10), ACTOR)
            .await
            .expect("revoked");
        assert_eq!(revoked.revoked_at, Some(UnixTime(T0 + 10)));
        let error = revoke_admin_token(&store, "ci", UnixTime(T0 + 20), ACTOR)
            .await
            .expect_err("already revoked");
        assert_eq!(error.code(), "admin-token-already-revoked");
        assert!(
            error.to_string().contains("2026-01-01T00:00:10Z"),
            "{error}"
        );
        let error = revoke_admin_token(&store, "nobody", UnixTime(T0 + 20), ACTOR)
            .await
            .expect_err("no such token");
        assert_eq!(error.code(), "admin-token-not-found");
        // Revoked tokens keep their names.
        let error = create_admin_token(&store, "ci", UnixTime(T0 + 30), ACTOR)
            .await
            .expect_err("still taken");
        assert_eq!(error.code(), "admin-token-name-taken");

        let tokens = list_admin_tokens(&store).await.expect("list");
        assert_eq!(tokens, [revoked]);
        let actions: Vec<String> = store
            .audit_events(10)
            .await
            .expect("audit")
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, ["admin.token.revoke", "admin.token.create"]);
    });
}

#[test]
fn only_a_token_on_record_and_not_revoked_authenticates_and_its_use_is_recorded_each_minute() {
    block_on(async {
        let store = MemoryStore::new();
        let (_, secret) = create_admin_token(&store, "ci", UnixTime(T0), ACTOR)
            .await
            .expect("created");
        let error = authenticate_admin_token(&store, "cgadm_wrong", UnixTime(T0))
            .await
            .expect_err("not on record");
        assert_eq!(error.code(), "admin-token-invalid");

        let used = |at: i64| {
            let (store, secret) = (&store, &secret);
            async move {
                authenticate_admin_token(store, secret.expose(), UnixTime(at))
                    .await
                    .expect("authenticated");
                list_admin_tokens(store).await.expect("list")[0].last_used_at
            }
        };
        assert_eq!(used(T0 + 1).await, Some(UnixTime(T0 + 1)));
        let within = T0 + LAST_USED_GRANULARITY_SECONDS;
        assert_eq!(
            used(within).await,
            Some(UnixTime(T0 + 1)),
            "not a write per request"
        );
        let after = T0 + 1 + LAST_USED_GRANULARITY_SECONDS;
        assert_eq!(used(after).await, Some(UnixTime(after)));

        revoke_admin_token(&store, "ci", UnixTime(after + 1), ACTOR)
            .await
            .expect("revoked");
        let error = authenticate_admin_token(&store, secret.expose(), UnixTime(after + 2))
            .await
            .expect_err("revoked");
        assert_eq!(error.code(), "admin-token-revoked");
    });
}
