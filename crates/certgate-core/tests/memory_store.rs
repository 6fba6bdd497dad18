//! `testing::MemoryStore`'s own contracts, where the services' tests (the other files here) do
//! not reach them: what it refuses by itself, its compare-and-set operations, its cascades, its
//! orders and purges, as the trait documentation states them and certgate-store's SQL adapter
//! keeps them (the federation store's as its suite, federation_suite.rs, checks them on SQL).

use certgate_pki::UnixTime;
use certgate_testpki::{ChainSpec, CrlSpec, KeyKind, TestPki};

use certgate_core::admin_token::{
    AdminTokenHash, AdminTokenName, AdminTokenRecord, AdminTokenStore,
};
use certgate_core::audit::{AuditEvent, AuditLog};
use certgate_core::authority::{
    AuthorityId, AuthorityRecord, AuthorityRole, IssuedRecord, OwnCaStore, ParentCertificate,
};
use certgate_core::crl_cache::{CachedCrl, CrlCacheStore, CrlFetchStatus, CrlKind};
use certgate_core::directory::{prepare_user, UserDraft, UserId, UserStore};
use certgate_core::federation::{
    generate_token_signing_key, prepare_relying_party, FederationStore, KeyState, Protocol,
    RelyingParty, RelyingPartyDraft, TokenSigningKey,
};
use certgate_core::login_flow::{secret_hash, FlowStep, LoginFlow, LoginFlowStore};
use certgate_core::signin::{SignInLog, SignInQuery, SignInRecord, SignInResult};
use certgate_core::store::StoreError;
use certgate_core::testing::{block_on, MemoryStore};
use certgate_core::totp::{
    Digits, NewTotpSecret, SwapOutcome, TotpAlgorithm, TotpCounters, TotpStore,
};
use certgate_core::trusted_ca::{AuthorityType, CaFacts, CaId, CaSettings, NewCa, TrustedCaStore};

const T0: i64 = 1_700_000_000;

fn event(action: &str) -> AuditEvent {
    AuditEvent::new(UnixTime(T0), "test", action, "target", "ok", "")
}

fn new_ca(thumbprint: &str) -> NewCa {
    NewCa {
        settings: CaSettings {
            display_name: format!("CA {thumbprint}"),
            authority_type: AuthorityType::Intermediate,
            crl_url: Some("http://pki.contoso.example/ca.crl".into()),
            delta_crl_url: None,
            exempt_from_crl_validation: false,
            send_as_issuer_hint: true,
        },
        certificate_der: thumbprint.as_bytes().to_vec(),
        facts: CaFacts {
            trusted_issuer: format!("CN=CA {thumbprint}"),
            trusted_issuer_ski: None,
            sha256_thumbprint: thumbprint.into(),
            not_before: UnixTime(T0 - 86_400),
            not_after: UnixTime(T0 + 86_400),
        },
    }
}

fn cached_crl(ca: CaId, der: Vec<u8>, fetched_at: i64) -> CachedCrl {
    CachedCrl {
        ca_id: ca,
        kind: CrlKind::Base,
        url: "http://pki.contoso.example/ca.crl".into(),
        der,
        crl_number: vec![3],
        this_update: UnixTime(T0),
        next_update: UnixTime(T0 + 86_400),
        entry_count: 1,
        etag: None,
        last_modified: None,
        fetched_at: UnixTime(fetched_at),
    }
}

fn fetched(ca: CaId, at: i64) -> CrlFetchStatus {
    CrlFetchStatus {
        ca_id: ca,
        kind: CrlKind::Base,
        last_attempt_at: UnixTime(at),
        last_success_at: Some(UnixTime(at)),
        last_error: None,
        consecutive_failures: 0,
        next_attempt_at: UnixTime(at + 3600),
    }
}

async fn authorities(store: &MemoryStore) -> AuthorityId {
    let record = |role| AuthorityRecord {
        id: AuthorityId(0),
        role,
        certificate_der: vec![1],
        private_key: vec![2],
        key_sealed: true,
        created_at: UnixTime(T0),
    };
    let (_, issuing) = store
        .insert_authorities(
            &record(AuthorityRole::Root),
            &record(AuthorityRole::Issuing),
        )
        .await
        .expect("authorities");
    assert!(matches!(
        store
            .insert_authorities(
                &record(AuthorityRole::Root),
                &record(AuthorityRole::Issuing)
            )
            .await,
        Err(StoreError::Conflict { .. })
    ));
    issuing
}

fn issued(authority: AuthorityId, serial: &[u8], upn: &str, at: i64) -> IssuedRecord {
    IssuedRecord {
        serial: serial.to_vec(),
        authority,
        upn: upn.into(),
        email: None,
        subject: format!("CN={upn}"),
        not_before: UnixTime(at),
        not_after: UnixTime(at + 86_400),
        certificate_der: serial.to_vec(),
        issued_at: UnixTime(at),
        revoked_at: None,
        revocation_reason: None,
        parent: None,
    }
}

fn child_of(parent: &IssuedRecord, serial: &[u8], at: i64) -> IssuedRecord {
    IssuedRecord {
        parent: Some(ParentCertificate {
            serial: parent.serial.clone(),
            issuer: "CN=certgate Issuing CA".into(),
            authority: Some(parent.authority),
            trusted_ca: None,
            not_after: None,
        }),
        ..issued(parent.authority, serial, &parent.upn, at)
    }
}

#[test]
fn trusted_cas_are_added_all_or_none_and_a_removed_one_takes_its_crls() {
    block_on(async {
        let store = MemoryStore::new();
        let added = store
            .insert_cas(&[new_ca("aa"), new_ca("bb")], UnixTime(T0))
            .await
            .expect("added");
        assert_eq!(added.iter().map(|ca| ca.id.0).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(store.generation().await.expect("generation"), 1);
        for batch in [
            vec![new_ca("cc"), new_ca("aa")],
            vec![new_ca("dd"), new_ca("dd")],
        ] {
            assert!(matches!(
                store.insert_cas(&batch, UnixTime(T0)).await,
                Err(StoreError::Conflict { .. })
            ));
        }
        assert_eq!(store.list_cas().await.expect("list"), added);
        assert_eq!(store.generation().await.expect("generation"), 1);

        let ca = added[0].id;
        store
            .put_cached_crl(&cached_crl(ca, vec![0x30], T0).to_cache(), &fetched(ca, T0))
            .await
            .expect("cached");
        assert!(matches!(
            store
                .put_cached_crl(
                    &cached_crl(CaId(9), vec![0x30], T0).to_cache(),
                    &fetched(CaId(9), T0)
                )
                .await,
            Err(StoreError::NotFound { .. })
        ));
        store.delete_ca(ca).await.expect("deleted");
        assert!(store.cached_crls().await.expect("crls").is_empty());
        assert!(store.fetch_statuses().await.expect("statuses").is_empty());
        assert!(matches!(
            store.delete_ca(ca).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.update_ca(ca, &added[0].settings).await,
            Err(StoreError::NotFound { .. })
        ));
        // Ids are never reused.
        let again = store
            .insert_cas(&[new_ca("aa")], UnixTime(T0))
            .await
            .expect("added again");
        assert_eq!(again[0].id, CaId(3));
    });
}

#[test]
fn a_crl_listing_a_foreign_parent_revokes_its_children_and_theirs_with_the_cache_update() {
    block_on(async {
        let store = MemoryStore::new();
        let ca = store
            .insert_cas(&[new_ca("aa")], UnixTime(T0))
            .await
            .expect("trusted")[0]
            .id;
        let issuing = authorities(&store).await;
        let listed = vec![0x7a, 0x01];
        let device = IssuedRecord {
            parent: Some(ParentCertificate {
                serial: listed.clone(),
                issuer: "CN=Contoso Issuing CA".into(),
                authority: None,
                trusted_ca: Some(ca),
                not_after: Some(UnixTime(T0 + 86_400)),
            }),
            ..issued(issuing, &[0x30, 0x01], "alice@contoso.example", T0)
        };
        let renewal = child_of(&device, &[0x30, 0x02], T0 + 10);
        for record in [&device, &renewal] {
            store.insert_issued(record).await.expect("issued");
        }
        let pki = TestPki::three_level(&ChainSpec::with_key(KeyKind::EcdsaP256)).expect("PKI");
        let der = TestPki::crl(
            &pki.intermediate,
            &CrlSpec {
                extra_revoked: vec![listed],
                ..CrlSpec::default()
            },
        )
        .expect("CRL");

        // A CRL that does not parse refuses the update before anything changes.
        assert!(matches!(
            store
                .put_cached_crl(
                    &cached_crl(ca, vec![0x30, 0x00], T0 + 50).to_cache(),
                    &fetched(ca, T0)
                )
                .await,
            Err(StoreError::Corrupt { .. })
        ));
        assert!(store.cached_crls().await.expect("crls").is_empty());

        store
            .put_cached_crl(
                &cached_crl(ca, der, T0 + 50).to_cache(),
                &fetched(ca, T0 + 50),
            )
            .await
            .expect("cached");
        for record in [&device, &renewal] {
            let stored = store
                .find_issued(&record.serial)
                .await
                .expect("find")
                .expect("stored");
            assert_eq!(stored.revoked_at, Some(UnixTime(T0 + 50)));
            assert_eq!(stored.revocation_reason.as_deref(), Some("superseded"));
        }
        let audited: Vec<String> = store
            .audit_events(10)
            .await
            .expect("audit")
            .into_iter()
            .map(|e| e.target)
            .collect();
        assert_eq!(audited, ["3002", "3001"], "parents before children");
    });
}

#[test]
fn revoking_a_certificate_takes_its_descendants_once_and_refuses_children_of_revoked_parents() {
    block_on(async {
        let store = MemoryStore::new();
        let issuing = authorities(&store).await;
        let original = issued(issuing, &[0x01], "alice@contoso.example", T0);
        let renewal = child_of(&original, &[0x02], T0 + 10);
        let grandchild = child_of(&renewal, &[0x03], T0 + 20);
        let sibling = issued(issuing, &[0x04], "alice@contoso.example", T0 + 30);
        for record in [&original, &renewal, &grandchild, &sibling] {
            store.insert_issued(record).await.expect("issued");
        }
        assert!(matches!(
            store.insert_issued(&original).await,
            Err(StoreError::Conflict { .. })
        ));
        let audit = |record: &IssuedRecord| {
            event(&format!("revoke {}", certgate_core::hex(&record.serial)))
        };
        let revocation = store
            .revoke_issued(&original.serial, UnixTime(T0 + 40), "keyCompromise", &audit)
            .await
            .expect("revoked");
        assert!(revocation.named_revoked_now);
        let taken: Vec<&[u8]> = revocation
            .descendants
            .iter()
            .map(|r| &r.serial[..])
            .collect();
        assert_eq!(taken, [&[0x02][..], &[0x03][..]]);
        let again = store
            .revoke_issued(&original.serial, UnixTime(T0 + 50), "superseded", &audit)
            .await
            .expect("already revoked");
        assert!(!again.named_revoked_now && again.descendants.is_empty());
        assert_eq!(
            again.named.revocation_reason.as_deref(),
            Some("keyCompromise")
        );
        assert_eq!(store.audit_events(10).await.expect("audit").len(), 3);
        assert!(store
            .find_issued(&sibling.serial)
            .await
            .expect("find")
            .is_some_and(|r| r.revoked_at.is_none()));

        assert!(matches!(
            store
                .insert_issued(&child_of(&renewal, &[0x05], T0 + 60))
                .await,
            Err(StoreError::ParentRevoked { .. })
        ));
        let orphan = child_of(&issued(issuing, &[0x99], "x", T0), &[0x06], T0);
        assert!(matches!(
            store.insert_issued(&orphan).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store
                .revoke_issued(&[0x77], UnixTime(T0), "superseded", &audit)
                .await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[test]
fn derived_certificates_are_limited_per_user_counting_only_live_ones() {
    block_on(async {
        let store = MemoryStore::new();
        let issuing = authorities(&store).await;
        let parent = issued(issuing, &[0x01], "alice@contoso.example", T0);
        store.insert_issued(&parent).await.expect("parent");
        store
            .insert_derived(&child_of(&parent, &[0x02], T0), 2)
            .await
            .expect("first");
        let expired = IssuedRecord {
            not_after: UnixTime(T0 + 5),
            ..child_of(&parent, &[0x03], T0)
        };
        store.insert_derived(&expired, 2).await.expect("second");
        let third = child_of(&parent, &[0x04], T0 + 10);
        assert!(matches!(
            store
                .insert_derived(&child_of(&parent, &[0x04], T0 + 1), 2)
                .await,
            Err(StoreError::DerivedLimit { limit: 2, .. })
        ));
        // Once one has expired it no longer counts.
        store.insert_derived(&third, 2).await.expect("third");
    });
}

#[test]
fn crl_numbers_count_up_from_one_per_authority_and_the_latest_crl_is_the_highest() {
    block_on(async {
        let store = MemoryStore::new();
        let issuing = authorities(&store).await;
        for expected in 1..=3 {
            assert_eq!(
                store.allocate_crl_number(issuing).await.expect("number"),
                expected
            );
        }
        assert!(matches!(
            store.allocate_crl_number(AuthorityId(99)).await,
            Err(StoreError::NotFound { .. })
        ));
        let crl = |number, kind| certgate_core::authority::PublishedCrl {
            authority: issuing,
            kind,
            crl_number: number,
            base_crl_number: None,
            this_update: UnixTime(T0),
            next_update: UnixTime(T0 + 3600),
            entry_count: 0,
            der: vec![number as u8],
        };
        for (number, kind) in [(2, CrlKind::Base), (3, CrlKind::Delta), (1, CrlKind::Base)] {
            store
                .insert_published_crl(&crl(number, kind))
                .await
                .expect("published");
        }
        assert!(matches!(
            store.insert_published_crl(&crl(2, CrlKind::Delta)).await,
            Err(StoreError::Conflict { .. })
        ));
        let latest = store
            .latest_published_crl(issuing, CrlKind::Base)
            .await
            .expect("latest");
        assert_eq!(latest.map(|c| c.crl_number), Some(2));
    });
}

#[test]
fn the_store_refuses_a_taken_unique_user_value_by_itself_and_keeps_the_token_epoch() {
    block_on(async {
        let store = MemoryStore::new();
        let user = |draft: UserDraft| {
            prepare_user(draft, UserId::generate().expect("id"), UnixTime(T0), None).expect("valid")
        };
        let alice = user(UserDraft {
            immutable_id: Some("alice-immutable".into()),
            proxy_addresses: vec!["SMTP:alice@contoso.example".into()],
            certificate_user_ids: vec!["X509:<PN>alice@contoso.example".into()],
            ..UserDraft::new("alice@contoso.example")
        });
        store
            .insert_user(&alice, &event("user.add"))
            .await
            .expect("alice");
        let taken = [
            UserDraft::new("ALICE@contoso.example"),
            UserDraft {
                immutable_id: Some("alice-immutable".into()),
                ..UserDraft::new("bob@contoso.example")
            },
            UserDraft {
                proxy_addresses: vec!["smtp:ALICE@contoso.example".into()],
                ..UserDraft::new("bob@contoso.example")
            },
            UserDraft {
                certificate_user_ids: vec!["X509:<PN>alice@contoso.example".into()],
                ..UserDraft::new("bob@contoso.example")
            },
        ];
        for draft in taken {
            assert!(matches!(
                store.insert_user(&user(draft), &event("user.add")).await,
                Err(StoreError::Conflict { .. })
            ));
        }
        // Case matters for certificateUserIds; the type of a proxy address is part of it.
        let bob = user(UserDraft {
            proxy_addresses: vec!["SIP:alice@contoso.example".into()],
            certificate_user_ids: vec!["X509:<PN>ALICE@contoso.example".into()],
            ..UserDraft::new("bob@contoso.example")
        });
        store
            .insert_user(&bob, &event("user.add"))
            .await
            .expect("bob");

        store
            .set_sts_refresh_tokens_valid_from(&alice.id, UnixTime(T0 + 5), &event("user.sts"))
            .await
            .expect("epoch");
        let renamed = certgate_core::directory::User {
            display_name: "Alice".into(),
            created_at: UnixTime(0),
            sts_refresh_tokens_valid_from: None,
            ..alice.clone()
        };
        store
            .update_user(&renamed, &event("user.set"))
            .await
            .expect("updated");
        let stored = store
            .user_by_id(&alice.id)
            .await
            .expect("read")
            .expect("alice");
        assert_eq!(stored.display_name, "Alice");
        assert_eq!(stored.created_at, alice.created_at);
        assert_eq!(stored.sts_refresh_tokens_valid_from, Some(UnixTime(T0 + 5)));
        assert_eq!(store.audit_events(10).await.expect("audit").len(), 4);
        assert_eq!(store.generation().await.expect("generation"), 4);
    });
}

#[test]
fn totp_counters_swap_once_per_revision_and_only_a_pending_secret_is_confirmed() {
    block_on(async {
        let store = MemoryStore::new();
        let secret = NewTotpSecret {
            sealed_secret: vec![1, 2, 3],
            algorithm: TotpAlgorithm::Sha1,
            digits: Digits::Six,
        };
        let pending = store
            .put_pending_totp("alice", &secret, UnixTime(T0), &event("totp.enroll"))
            .await
            .expect("pending");
        let counters = TotpCounters {
            last_used_step: Some(7),
            ..TotpCounters::default()
        };
        let swap = |revision| {
            let store = &store;
            async move {
                store
                    .update_totp_counters(
                        "alice",
                        pending.id,
                        revision,
                        &counters,
                        UnixTime(T0),
                        None,
                    )
                    .await
                    .expect("swap")
            }
        };
        assert_eq!(swap(1).await, SwapOutcome::Applied);
        assert_eq!(swap(1).await, SwapOutcome::Stale);
        let confirm = |id, revision| {
            let store = &store;
            async move {
                store
                    .confirm_pending_totp(
                        "alice",
                        id,
                        revision,
                        &counters,
                        UnixTime(T0),
                        &event("totp.confirm"),
                    )
                    .await
                    .expect("confirm")
            }
        };
        assert_eq!(confirm(pending.id, 1).await, SwapOutcome::Stale);
        assert_eq!(confirm(pending.id, 2).await, SwapOutcome::Applied);
        let secrets = store.totp_secrets("alice").await.expect("secrets");
        let active = secrets.active.expect("active");
        assert!(secrets.pending.is_none());
        assert_eq!((active.id, active.revision), (pending.id, 3));
        assert_eq!(
            confirm(active.id, 3).await,
            SwapOutcome::Stale,
            "not pending"
        );
        // Re-enrolling: the confirmation of the new secret replaces the active one.
        let next = store
            .put_pending_totp("alice", &secret, UnixTime(T0), &event("totp.enroll"))
            .await
            .expect("pending");
        assert!(next.id > active.id);
        assert_eq!(confirm(next.id, 1).await, SwapOutcome::Applied);
        let secrets = store.totp_secrets("alice").await.expect("secrets");
        assert_eq!(secrets.active.map(|s| s.id), Some(next.id));
        assert!(store
            .delete_totp("alice", &event("totp.reset"))
            .await
            .expect("delete"));
        assert!(!store
            .delete_totp("alice", &event("totp.reset"))
            .await
            .expect("delete"));
        // Enroll, confirm, confirm, enroll, confirm, delete: the stale ones write nothing.
        assert_eq!(store.audit_events(10).await.expect("audit").len(), 5);
    });
}

#[test]
fn admin_token_names_and_hashes_are_unique_and_a_token_is_revoked_once() {
    block_on(async {
        let store = MemoryStore::new();
        let token = |name: &str, hash: u8, at: i64| AdminTokenRecord {
            name: AdminTokenName::parse(name).expect("name"),
            hash: AdminTokenHash([hash; 32]),
            created_at: UnixTime(at),
            created_by: "cli:root".into(),
            last_used_at: None,
            revoked_at: None,
        };
        for record in [
            token("ci", 1, T0 + 1),
            token("backup", 2, T0 + 1),
            token("alpha", 3, T0 + 2),
        ] {
            store
                .insert_admin_token(&record, &event("admin.token.create"))
                .await
                .expect("insert");
        }
        for duplicate in [token("ci", 9, T0), token("other", 1, T0)] {
            assert!(matches!(
                store
                    .insert_admin_token(&duplicate, &event("admin.token.create"))
                    .await,
                Err(StoreError::Conflict { .. })
            ));
        }
        let names: Vec<String> = store
            .admin_tokens()
            .await
            .expect("list")
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(names, ["backup", "ci", "alpha"], "by creation, then name");
        let ci = AdminTokenName::parse("ci").expect("name");
        store
            .touch_admin_token(&ci, UnixTime(T0 + 5))
            .await
            .expect("touch");
        let revoked = store
            .revoke_admin_token(&ci, UnixTime(T0 + 9), &event("admin.token.revoke"))
            .await
            .expect("revoked");
        assert_eq!(
            (revoked.last_used_at, revoked.revoked_at),
            (Some(UnixTime(T0 + 5)), Some(UnixTime(T0 + 9)))
        );
        assert!(matches!(
            store
                .revoke_admin_token(&ci, UnixTime(T0 + 10), &event("admin.token.revoke"))
                .await,
            Err(StoreError::Conflict { .. })
        ));
        let unknown = AdminTokenName::parse("nobody").expect("name");
        assert!(matches!(
            store
                .revoke_admin_token(&unknown, UnixTime(T0), &event("admin.token.revoke"))
                .await,
            Err(StoreError::NotFound { .. })
        ));
        let found = store
            .admin_token_by_hash(&AdminTokenHash([1; 32]))
            .await
            .expect("lookup");
        assert_eq!(found, Some(revoked));
    });
}

#[test]
fn a_flow_advances_once_from_the_expected_step_and_expired_flows_are_purged() {
    block_on(async {
        let store = MemoryStore::new();
        let flow = |tag: &str, expires_at| LoginFlow {
            id_hash: secret_hash(tag),
            browser_hash: secret_hash("browser"),
            created_at: UnixTime(T0),
            expires_at: UnixTime(expires_at),
            request: "{}".into(),
            step: FlowStep::Certificate,
            identity: None,
            correlation_id: None,
        };
        let live = flow("live", T0 + 600);
        store.insert_flow(&live).await.expect("insert");
        store
            .insert_flow(&flow("expired", T0 - 1))
            .await
            .expect("insert");
        assert!(matches!(
            store.insert_flow(&live).await,
            Err(StoreError::Conflict { .. })
        ));
        let advanced = LoginFlow {
            step: FlowStep::Done,
            browser_hash: secret_hash("new browser secret"),
            correlation_id: Some("corr".into()),
            request: "ignored".into(),
            ..live.clone()
        };
        assert!(store
            .advance_flow(&advanced, FlowStep::Certificate)
            .await
            .expect("advance"));
        assert!(!store
            .advance_flow(&advanced, FlowStep::Certificate)
            .await
            .expect("again"));
        let stored = store
            .flow(&live.id_hash)
            .await
            .expect("read")
            .expect("flow");
        assert_eq!(
            stored,
            LoginFlow {
                request: "{}".into(),
                ..advanced
            }
        );
        assert_eq!(store.purge_flows(UnixTime(T0)).await.expect("purge"), 1);
        assert!(store
            .flow(&secret_hash("expired"))
            .await
            .expect("read")
            .is_none());
    });
}

#[test]
fn sign_ins_and_audit_events_are_listed_newest_first_and_purged_oldest_first_in_batches() {
    block_on(async {
        let store = MemoryStore::new();
        let signin = |at: i64, user: Option<&str>, result| SignInRecord {
            at: UnixTime(at),
            correlation_id: format!("corr-{at}"),
            client_address: "192.0.2.1".into(),
            application: "certauth".into(),
            certificate_subject: None,
            certificate_issuer: None,
            certificate_serial: None,
            certificate_thumbprint: None,
            user: user.map(str::to_owned),
            binding_rule: None,
            strength: None,
            result,
            reason_code: if result == SignInResult::Success {
                "ok"
            } else {
                "cert-revoked"
            }
            .into(),
            detail: String::new(),
        };
        store
            .append_signins(&[
                signin(T0, Some("Alice@contoso.example"), SignInResult::Success),
                signin(T0 + 1, None, SignInResult::Failure),
                signin(T0 + 2, Some("alice@CONTOSO.example"), SignInResult::Failure),
            ])
            .await
            .expect("append");
        store
            .append_signin(&signin(
                T0 + 3,
                Some("bob@contoso.example"),
                SignInResult::Success,
            ))
            .await
            .expect("append");
        let at =
            |records: Vec<SignInRecord>| records.iter().map(|r| r.at.0 - T0).collect::<Vec<_>>();
        let query = |query: SignInQuery| {
            let store = &store;
            async move {
                store
                    .signins(&SignInQuery { limit: 10, ..query })
                    .await
                    .expect("query")
            }
        };
        assert_eq!(at(query(SignInQuery::default()).await), [3, 2, 1, 0]);
        let alice = Some("ALICE@contoso.example".to_owned());
        assert_eq!(
            at(query(SignInQuery {
                user: alice.clone(),
                ..Default::default()
            })
            .await),
            [2, 0]
        );
        assert_eq!(
            at(query(SignInQuery {
                result: Some(SignInResult::Failure),
                since: Some(UnixTime(T0 + 2)),
                ..Default::default()
            })
            .await),
            [2]
        );
        assert_eq!(
            at(query(SignInQuery {
                reason_code: Some("ok".into()),
                ..Default::default()
            })
            .await),
            [3, 0]
        );
        assert_eq!(
            at(store
                .signins(&SignInQuery {
                    limit: 1,
                    ..Default::default()
                })
                .await
                .expect("query")),
            [3]
        );
        assert_eq!(
            store
                .purge_signins(UnixTime(T0 + 3), 2)
                .await
                .expect("purge"),
            2
        );
        assert_eq!(at(query(SignInQuery::default()).await), [3, 2]);

        for i in 0..4 {
            store
                .append_audit(&AuditEvent {
                    at: UnixTime(T0 + i),
                    ..event(&format!("e{i}"))
                })
                .await
                .expect("audit");
        }
        let actions =
            |events: Vec<AuditEvent>| events.into_iter().map(|e| e.action).collect::<Vec<_>>();
        assert_eq!(
            actions(store.audit_events(2).await.expect("audit")),
            ["e3", "e2"]
        );
        assert!(store.audit_events(-1).await.expect("audit").is_empty());
        assert_eq!(
            store
                .purge_audit_events(UnixTime(T0 + 3), 2)
                .await
                .expect("purge"),
            2
        );
        assert_eq!(
            actions(store.audit_events(10).await.expect("audit")),
            ["e3", "e2"]
        );
    });
}

// ---- Federation -------------------------------------------------------------------------------

fn relying_party(id: &str, name: &str, protocol: Protocol, identifier: &str) -> RelyingParty {
    let draft = RelyingPartyDraft::new(
        name,
        protocol,
        identifier,
        vec!["https://app.example/".into()],
    );
    prepare_relying_party(draft, id.into(), UnixTime(T0), UnixTime(T0)).expect("valid")
}

fn signing_key(state: KeyState) -> TokenSigningKey {
    generate_token_signing_key("memory store", state, b"passphrase", UnixTime(T0)).expect("key")
}

fn audited_actions(store: &MemoryStore) -> Vec<String> {
    block_on(store.audit_events(100))
        .expect("audit")
        .into_iter()
        .rev()
        .map(|event| event.action)
        .collect()
}

fn expect_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Conflict { .. })),
        "{result:?}"
    );
}

fn expect_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::NotFound { .. })),
        "{result:?}"
    );
}

#[test]
fn relying_party_ids_names_in_any_case_and_identifiers_per_protocol_are_unique() {
    block_on(async {
        let store = MemoryStore::new();
        let payroll = relying_party("rp_1", "Payroll", Protocol::WsFed, "urn:payroll");
        store
            .insert_relying_party(&payroll, &event("rp.add"))
            .await
            .expect("inserted");
        for clash in [
            relying_party("rp_2", "PAYROLL", Protocol::WsFed, "urn:other"),
            relying_party("rp_3", "Payroll 2", Protocol::WsFed, "urn:payroll"),
            relying_party("rp_1", "Payroll 3", Protocol::WsFed, "urn:payroll3"),
        ] {
            expect_conflict(store.insert_relying_party(&clash, &event("rp.add")).await);
        }
        // The same identifier under the other protocol is another relying party.
        let saml = relying_party("rp_4", "another", Protocol::Saml, "urn:payroll");
        store
            .insert_relying_party(&saml, &event("rp.add"))
            .await
            .expect("other protocol");
        assert_eq!(
            store.relying_parties().await.expect("list"),
            [saml.clone(), payroll.clone()],
            "ordered by name, in any case"
        );
        assert_eq!(
            store
                .relying_party_by_identifier(Protocol::Saml, "urn:payroll")
                .await
                .expect("read"),
            Some(saml.clone())
        );
        assert_eq!(
            store
                .relying_party_by_identifier(Protocol::WsFed, "urn:PAYROLL")
                .await
                .expect("read"),
            None,
            "identifiers are compared exactly"
        );

        // Updates meet the same constraints, keep created_at and need the relying party.
        let mut renamed = saml.clone();
        renamed.name = "payroll".into();
        expect_conflict(store.update_relying_party(&renamed, &event("rp.set")).await);
        let mut moved = saml.clone();
        moved.protocol = Protocol::WsFed;
        expect_conflict(store.update_relying_party(&moved, &event("rp.set")).await);
        let mut recased = saml.clone();
        recased.name = "ANOTHER".into();
        recased.created_at = UnixTime(0);
        recased.updated_at = UnixTime(T0 + 5);
        store
            .update_relying_party(&recased, &event("rp.set"))
            .await
            .expect("its own name in another case");
        let stored = store.relying_party("rp_4").await.expect("read");
        assert_eq!(
            stored.map(|rp| (rp.name, rp.created_at, rp.updated_at)),
            Some(("ANOTHER".to_owned(), UnixTime(T0), UnixTime(T0 + 5)))
        );
        let mut missing = saml.clone();
        missing.id = "rp_missing".into();
        expect_not_found(store.update_relying_party(&missing, &event("rp.set")).await);
        store
            .delete_relying_party("rp_4", &event("rp.remove"))
            .await
            .expect("deleted");
        expect_not_found(
            store
                .delete_relying_party("rp_4", &event("rp.remove"))
                .await,
        );
        assert_eq!(store.relying_party("rp_4").await.expect("read"), None);
        assert_eq!(
            audited_actions(&store),
            ["rp.add", "rp.add", "rp.set", "rp.remove"],
            "each write that happened, and only those"
        );
    });
}

#[test]
fn the_first_keys_go_in_once_and_a_rotation_holds_only_while_its_expectation_does() {
    block_on(async {
        let store = MemoryStore::new();
        let (current, next) = (signing_key(KeyState::Current), signing_key(KeyState::Next));
        assert!(store
            .insert_initial_token_signing_keys(&current, &next, &event("federation.keys.init"))
            .await
            .expect("first"));
        assert!(!store
            .insert_initial_token_signing_keys(
                &signing_key(KeyState::Current),
                &signing_key(KeyState::Next),
                &event("federation.keys.init"),
            )
            .await
            .expect("keys exist"));
        // Two keys the schema cannot hold together are refused as a lost race: nothing stored.
        let empty = MemoryStore::new();
        let twin = signing_key(KeyState::Current);
        assert!(!empty
            .insert_initial_token_signing_keys(&twin, &twin, &event("federation.keys.init"))
            .await
            .expect("one thumbprint twice"));
        assert!(empty.token_signing_keys().await.expect("keys").is_empty());
        assert!(audited_actions(&empty).is_empty());

        let new_next = signing_key(KeyState::Next);
        let at = UnixTime(T0 + 100);
        assert!(store
            .rotate_token_signing_keys(
                &current.thumbprint,
                &next.thumbprint,
                &new_next,
                at,
                &event("federation.keys.rotate"),
            )
            .await
            .expect("rotated"));
        let keys = store.token_signing_keys().await.expect("keys");
        let by = |thumbprint: &str| {
            keys.iter().find(|k| k.thumbprint == thumbprint).map(|k| {
                (
                    k.lifecycle.state,
                    k.lifecycle.activated_at,
                    k.lifecycle.retired_at,
                )
            })
        };
        assert_eq!(
            by(&current.thumbprint),
            Some((KeyState::Retired, Some(UnixTime(T0)), Some(at)))
        );
        assert_eq!(
            by(&next.thumbprint),
            Some((KeyState::Current, Some(at), None))
        );
        assert!(keys.contains(&new_next));

        // Stale, half stale (right Current, wrong Next), or a new key that is already stored:
        // nothing changes, nothing is audited.
        let before = store.token_signing_keys().await.expect("keys");
        for (expected_current, expected_next, candidate) in [
            (
                &current.thumbprint,
                &next.thumbprint,
                signing_key(KeyState::Next),
            ),
            (
                &next.thumbprint,
                &current.thumbprint,
                signing_key(KeyState::Next),
            ),
            (&next.thumbprint, &new_next.thumbprint, new_next.clone()),
        ] {
            assert!(!store
                .rotate_token_signing_keys(
                    expected_current,
                    expected_next,
                    &candidate,
                    UnixTime(T0 + 200),
                    &event("federation.keys.rotate"),
                )
                .await
                .expect("refused"));
            assert!(store.token_signing_keys().await.expect("keys") == before);
        }
        assert_eq!(
            audited_actions(&store),
            ["federation.keys.init", "federation.keys.rotate"]
        );
    });
}

#[test]
fn request_ids_are_remembered_once_per_issuer_until_purged_after_they_expire() {
    block_on(async {
        let store = MemoryStore::new();
        let sp = "https://sp.example/metadata";
        let remember = |issuer: &'static str, id: &'static str, expires: i64| {
            block_on(store.remember_request_id(issuer, id, UnixTime(T0 + expires)))
                .expect("remember")
        };
        assert!(remember(sp, "_id1", 300));
        assert!(!remember(sp, "_id1", 600), "a replay");
        assert!(remember("https://other.example/", "_id1", 300));
        assert!(remember(sp, "_id2", 900));
        assert!(
            !remember(sp, "_id1", 1200),
            "expired but not purged: still seen"
        );
        let purge = |at: i64| block_on(store.purge_request_ids(UnixTime(T0 + at))).expect("purge");
        assert_eq!(purge(300), 0, "not before expiry");
        assert_eq!(purge(301), 2);
        assert!(remember(sp, "_id1", 1200), "purged, so new again");
        assert!(!remember(sp, "_id2", 1200));
    });
}
