//! The directory's rules, each tested once, on the in-memory store (`testing::MemoryStore`) at
//! a fixed time: who may hold which unique value, the token epoch (StsRefreshTokensValidFrom),
//! the audit trail of every change, binding and strength rules, the CSV import, and which user
//! a certificate signs in as. What the SQL store itself guarantees (its unique indexes, racing
//! writers, round trips) is certgate-store's directory suite.

use certgate_core::audit::AuditLog;
use certgate_core::crl_cache::CrlCacheStore;
use std::future::Future;
use std::sync::OnceLock;

use certgate_core::binding::{
    add_binding_rule, binding_policy, match_user, remove_binding_rule,
    set_default_required_affinity, BindingPolicy,
};
use certgate_core::directory::{
    add_user, find_user, import_users, parse_users_csv, remove_user, revoke_sessions,
    set_sts_refresh_tokens_valid_from, set_user, Affinity, CertificateField, User, UserAttribute,
    UserDraft, UserStore,
};
use certgate_core::strength::{
    add_strength_rule, evaluate, remove_strength_rule, strength_rules, IssuerFacts, IssuerSelector,
    Strength, StrengthInput, StrengthRuleId, StrengthRuleSpec,
};
use certgate_core::testing::{block_on, MemoryStore};
use certgate_pki::{Certificate, Identity, UnixTime};
use certgate_testpki::{ChainSpec, KeyKind, TestPki, VALIDATION_TIME};

const ACTOR: &str = "cli:test";

fn now() -> UnixTime {
    UnixTime(VALIDATION_TIME)
}

/// Runs one test on a new, empty store.
fn on_a_new_store<F: Future<Output = ()>>(test: impl FnOnce(MemoryStore) -> F) {
    block_on(test(MemoryStore::new()));
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

async fn add(store: &MemoryStore, draft: UserDraft) -> User {
    add_user(store, draft, now(), ACTOR)
        .await
        .expect("the user is added")
}

async fn get(store: &MemoryStore, key: &str) -> User {
    find_user(store, key).await.expect("the user exists")
}

// ---- Users --------------------------------------------------------------------------------

#[test]
fn a_user_is_found_by_object_id_or_by_upn_in_any_case() {
    on_a_new_store(|store| async move {
        let alice = add(&store, full_draft()).await;
        assert_eq!(get(&store, alice.id.as_str()).await, alice);
        assert_eq!(get(&store, &alice.id.as_str().to_uppercase()).await, alice);
        assert_eq!(get(&store, "  ALICE@contoso.EXAMPLE ").await, alice);
        let missing = find_user(&store, "nobody@contoso.example")
            .await
            .expect_err("no such user");
        assert_eq!(missing.code(), "user-not-found");
    });
}

#[test]
fn adding_a_user_whose_upn_another_holds_in_any_case_is_refused_with_user_upn_taken() {
    on_a_new_store(|store| async move {
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
        assert_eq!(store.list_users().await.expect("list"), [alice]);
    });
}

#[test]
fn a_certificate_user_id_another_user_holds_is_refused_naming_the_holder() {
    on_a_new_store(|store| async move {
        let ski = certificate_user_id(CertificateField::SubjectKeyIdentifier);
        let alice = add(
            &store,
            UserDraft {
                certificate_user_ids: vec![ski.clone()],
                ..UserDraft::new("alice@contoso.example")
            },
        )
        .await;

        // Added: refused, naming the user who has it; nothing written. The value is
        // normalized (hex in lower case) before it is compared.
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

        // Changed to take it: refused the same way, the user unchanged.
        let carol = add(&store, UserDraft::new("carol@contoso.example")).await;
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
        assert_eq!(get(&store, "carol@contoso.example").await, carol);

        // A value differing only in case is another value (certificateUserIds compare exactly).
        add(
            &store,
            UserDraft {
                certificate_user_ids: vec!["X509:<PN>Alice@corp.example".into()],
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

        // A user's own values are no conflict with itself.
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
    });
}

#[test]
fn immutable_ids_and_proxy_addresses_are_unique_and_a_proxy_address_is_unique_with_its_type() {
    on_a_new_store(|store| async move {
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
    });
}

#[test]
fn changing_a_user_keeps_its_id_and_creation_and_frees_the_values_it_gave_up() {
    on_a_new_store(|store| async move {
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
                draft
            },
            now(),
            ACTOR,
        )
        .await
        .expect("changed");
        assert_eq!(
            (&changed.id, changed.created_at),
            (&alice.id, alice.created_at)
        );
        assert_eq!(get(&store, alice.id.as_str()).await, changed);
        // The UPN, proxy address and certificateUserIds value given up can go to someone else.
        add(
            &store,
            UserDraft {
                upn: "alice@contoso.example".into(),
                proxy_addresses: vec!["SMTP:alice@contoso.example".into()],
                certificate_user_ids: vec![
                    "X509:<I>DC=example,DC=contoso,CN=Issuing CA<SR>0102".into()
                ],
                ..UserDraft::new("")
            },
        )
        .await;
    });
}

#[test]
fn changing_or_removing_an_unknown_user_is_refused_with_user_not_found() {
    on_a_new_store(|store| async move {
        let error = set_user(&store, "nobody@contoso.example", |d| d, now(), ACTOR)
            .await
            .expect_err("no such user");
        assert_eq!(error.code(), "user-not-found");
        let error = remove_user(&store, "nobody@contoso.example", now(), ACTOR)
            .await
            .expect_err("no such user");
        assert_eq!(error.code(), "user-not-found");
        let error = revoke_sessions(&store, "nobody@contoso.example", now(), ACTOR)
            .await
            .expect_err("no such user");
        assert_eq!(error.code(), "user-not-found");
        assert!(store.audit_events(10).await.expect("audit").is_empty());
    });
}

// ---- The token epoch (StsRefreshTokensValidFrom) ------------------------------------------

#[test]
fn an_sts_date_not_in_the_future_is_refused_and_nothing_changes() {
    on_a_new_store(|store| async move {
        add(&store, UserDraft::new("alice@contoso.example")).await;
        let audit_before = store.audit_events(100).await.expect("audit").len();
        let generation_before = store.generation().await.expect("generation");
        for date in [UnixTime(now().0 - 86_400), now()] {
            let error = set_sts_refresh_tokens_valid_from(
                &store,
                "alice@contoso.example",
                date,
                now(),
                ACTOR,
            )
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
    });
}

#[test]
fn a_future_sts_date_and_revoking_sessions_store_now_and_other_changes_keep_it() {
    on_a_new_store(|store| async move {
        add(&store, UserDraft::new("alice@contoso.example")).await;
        let next_year = UnixTime(now().0 + 365 * 86_400);
        let updated = set_sts_refresh_tokens_valid_from(
            &store,
            "ALICE@contoso.example",
            next_year,
            now(),
            ACTOR,
        )
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
    });
}

// ---- The audit trail ----------------------------------------------------------------------

/// The generation grew past `before` and the newest audit event is `action` by the actor.
async fn check(store: &MemoryStore, action: &str, before: i64) -> i64 {
    let after = store.generation().await.expect("generation");
    assert!(after > before, "{action}: generation {before} -> {after}");
    let newest = store.audit_events(1).await.expect("audit").remove(0);
    assert_eq!(newest.action, action);
    assert_eq!(newest.actor, ACTOR);
    assert_eq!(newest.outcome, "ok");
    after
}

#[test]
fn every_directory_change_is_audited_by_its_action_and_bumps_the_generation() {
    on_a_new_store(|store| async move {
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
    });
}

// ---- Binding rules ------------------------------------------------------------------------

#[test]
fn binding_rules_replace_the_defaults_and_a_taken_priority_or_invalid_rule_is_refused() {
    on_a_new_store(|store| async move {
        let policy = binding_policy(&store).await.expect("policy");
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
        set_default_required_affinity(&store, Affinity::High, now(), ACTOR)
            .await
            .expect("affinity");
        let policy = binding_policy(&store).await.expect("policy");
        assert_eq!(policy.rules, [first, second]);
        assert!(!policy.uses_default_rules());

        // With the last rule gone the defaults apply again; the affinity stays.
        remove_binding_rule(&store, 5, now(), ACTOR)
            .await
            .expect("removed");
        remove_binding_rule(&store, 6, now(), ACTOR)
            .await
            .expect("removed");
        let policy = binding_policy(&store).await.expect("policy");
        assert!(policy.uses_default_rules());
        assert_eq!(policy.default_required_affinity, Affinity::High);
    });
}

#[test]
fn a_certificate_binds_to_the_one_enabled_user_the_rules_in_force_find() {
    on_a_new_store(|store| async move {
        let (_, identity) = alice_certificate();
        let policy = binding_policy(&store).await.expect("policy");

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
        let policy = binding_policy(&store).await.expect("policy");
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
        let policy = binding_policy(&store).await.expect("policy");
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
    });
}

// ---- Strength rules -----------------------------------------------------------------------

#[test]
fn a_strength_rule_that_duplicates_another_or_selects_nothing_is_refused() {
    on_a_new_store(|store| async move {
        let (leaf, identity) = alice_certificate();
        // The issuing CA's facts as sign-in reads them from the validated path; the test leaf
        // is honest, so its AKI and issuer name repeat that CA's SKI and subject.
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
            evaluate(&strength_rules(&store).await.expect("rules"), &input).strength,
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
        let rules = strength_rules(&store).await.expect("rules");
        assert_eq!(rules, [by_ski.clone(), by_dn.clone()]);
        let decision = evaluate(&rules, &input);
        assert_eq!(decision.strength, Strength::MultiFactor);
        assert_eq!(decision.rules, [by_ski.id]);

        // The same issuer (the SKI normalized) and policy OID as an existing rule.
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
        assert_eq!(strength_rules(&store).await.expect("rules").len(), 2);

        remove_strength_rule(&store, by_ski.id, now(), ACTOR)
            .await
            .expect("removed");
        assert_eq!(strength_rules(&store).await.expect("rules"), [by_dn]);
        let error = remove_strength_rule(&store, StrengthRuleId(999), now(), ACTOR)
            .await
            .expect_err("no such rule");
        assert_eq!(error.code(), "strength-rule-not-found");
    });
}

// ---- CSV import ---------------------------------------------------------------------------

#[test]
fn a_csv_import_adds_the_good_rows_and_reports_each_bad_one_by_line() {
    on_a_new_store(|store| async move {
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
    });
}

/// A user with these values, as the index takes it (the index checks nothing the store did).
fn indexed_user(n: usize, upn: &str, proxies: &[&str], ids: &[&str]) -> User {
    User {
        id: certgate_core::directory::UserId::parse(&format!("00000000-0000-4000-8000-{n:012}"))
            .expect("a UUID"),
        upn: certgate_core::directory::Upn::parse(upn).expect("a valid UPN"),
        immutable_id: format!("immutable-{n}"),
        display_name: format!("User {n}"),
        mail: None,
        proxy_addresses: proxies.iter().map(|p| p.to_string()).collect(),
        certificate_user_ids: ids.iter().map(|p| p.to_string()).collect(),
        enabled: !n.is_multiple_of(7),
        groups: Vec::new(),
        sts_refresh_tokens_valid_from: None,
        created_at: now(),
        origin: certgate_core::directory::UserOrigin::Local,
    }
}

#[test]
fn the_in_memory_index_finds_exactly_the_users_the_binding_rules_match() {
    use certgate_core::binding::attribute_matches;
    use certgate_core::directory::{UserIndex, UserLookup};

    // Generated users whose values overlap in case, type prefix and between users, so that
    // every branch of the comparison rules is met.
    let mut users = Vec::new();
    let mut values = Vec::new();
    for n in 0..240 {
        let upn = if n % 3 == 0 {
            format!("User{n}@Corp.Example")
        } else {
            format!("user{n}@corp.example")
        };
        let proxies = [
            format!("SMTP:mail{}@corp.example", n % 50),
            format!("smtp:Alias{n}@corp.example"),
            format!("sip:user{n}@corp.example"),
            format!("untyped{}@corp.example", n % 11),
        ];
        let ids = [
            format!("X509:<PN>user{}@corp.example", n % 40),
            format!("X509:<SKI>{:04x}", n),
        ];
        let proxy_refs: Vec<&str> = proxies.iter().map(String::as_str).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        users.push(indexed_user(n, &upn, &proxy_refs[..1 + n % 4], &id_refs));
        values.push(upn.to_uppercase());
        values.push(upn.clone());
        values.extend(proxies.iter().map(|p| {
            p.split_once(':')
                .map_or(p.as_str(), |(_, a)| a)
                .to_uppercase()
        }));
        values.extend(proxies.iter().cloned());
        values.extend(ids.iter().cloned());
        values.extend(ids.iter().map(|id| id.to_lowercase()));
    }
    values.push("nobody@corp.example".into());
    values.push(String::new());
    let index = UserIndex::new(users.clone()).expect("below the limit");
    assert_eq!(index.len(), users.len());
    let mut compared = 0;
    for attribute in [
        UserAttribute::UserPrincipalName,
        UserAttribute::ProxyAddresses,
        UserAttribute::CertificateUserIds,
    ] {
        for value in &values {
            let mut expected: Vec<String> = users
                .iter()
                .filter(|user| attribute_matches(user, attribute, value))
                .map(|user| user.id.to_string())
                .collect();
            let mut found: Vec<String> = block_on(index.find_users(attribute, value))
                .expect("an index lookup cannot fail")
                .into_iter()
                .map(|user| user.id.to_string())
                .collect();
            expected.sort();
            found.sort();
            assert_eq!(found, expected, "{attribute:?} = {value:?}");
            compared += usize::from(!expected.is_empty());
        }
    }
    assert!(compared > 1_000, "the values found users ({compared})");
}

#[test]
fn a_directory_larger_than_the_index_limit_is_not_indexed() {
    use certgate_core::directory::{UserIndex, MAX_INDEXED_USERS};
    let user = indexed_user(1, "one@corp.example", &[], &[]);
    assert!(UserIndex::new(vec![user.clone(); MAX_INDEXED_USERS]).is_some());
    assert!(UserIndex::new(vec![user; MAX_INDEXED_USERS + 1]).is_none());
}
