//! The federation service's rules that need its store, each tested once, on the in-memory
//! store (`testing::MemoryStore`) at fixed times: relying parties (unique names and
//! identifiers, validation, the Microsoft 365 presets, set and remove), the token-signing keys
//! (created once, rolled over through the store's compare-and-set), the replay window of SAML
//! request IDs, and the token decision at the end of a sign-in, which reads the relying party
//! and the user again. The protocol's own decisions without a store are the unit tests of
//! `federation::{relying_party, claims, request, issuance}`; the API and the CLI keep one
//! success and one refusal per route and command; certgate-store's suite keeps what SQL
//! guarantees (round trips, constraints, two nodes racing).

use certgate_core::audit::AuditLog;
use certgate_pki::UnixTime;

use certgate_core::directory::{add_user, remove_user, set_user, UserDraft};
use certgate_core::federation::{
    accept_authn_request, accept_logout_request, add_relying_party, certificate_context_rules,
    ensure_token_signing_keys, find_relying_party, generate_token_signing_key,
    list_relying_parties, microsoft365, prepare_issuance, record_issuance, remove_relying_party,
    rotate_token_signing_keys, set_relying_party, AuthnRequestFacts, AuthnRequestOutcome,
    ClaimRule, ClaimSource, Endpoint, FederationStore, IssuanceRequest, KeyState,
    LogoutRequestFacts, NameIdFormat, PasswordRequests, Protocol, RefusalKind, RelyingParty,
    RelyingPartyDraft, RequestedContext, SignatureCheck, TokenService,
};
use certgate_core::login_flow::FlowIdentity;
use certgate_core::testing::{block_on, MemoryStore};
use certgate_testpki::{ChainSpec, TestPki};

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600;
const ACTOR: &str = "cli:root";
const PASSPHRASE: &[u8] = b"federation rules passphrase";
const SKEW: i64 = 60;
const ENDPOINT: Endpoint<'static> = Endpoint {
    url: "https://idp.test/federation/saml/sso",
    clock_skew_seconds: SKEW,
};
const SP: &str = "https://sp.test/sp";
const ACS: &str = "https://sp.test/acs";

fn at(offset: i64) -> UnixTime {
    UnixTime(T0 + offset)
}

fn wsfed(name: &str, realm: &str) -> RelyingPartyDraft {
    RelyingPartyDraft::new(
        name,
        Protocol::WsFed,
        realm,
        vec!["https://app.test/".into()],
    )
}

fn saml_sp() -> RelyingPartyDraft {
    let mut draft = RelyingPartyDraft::new("Test SP", Protocol::Saml, SP, vec![ACS.into()]);
    draft.name_id_source = ClaimSource::parse("user.upn").expect("source");
    draft.name_id_format = NameIdFormat::EmailAddress;
    draft
}

fn audit_actions(store: &MemoryStore) -> Vec<String> {
    let mut actions: Vec<String> = block_on(store.audit_events(100))
        .expect("audit")
        .into_iter()
        .map(|event| event.action)
        .collect();
    actions.reverse();
    actions
}

fn claim_types(rp: &RelyingParty) -> Vec<&str> {
    rp.claims.iter().map(|rule| rule.claim.as_str()).collect()
}

// ---- Relying parties ------------------------------------------------------------------------

#[test]
fn the_microsoft365_presets_carry_what_each_protocol_needs_and_are_found_by_name_or_identifier() {
    block_on(async {
        let store = MemoryStore::new();
        let issuer = "http://contoso.example/adfs/services/trust/";
        let wsfed = add_relying_party(
            &store,
            microsoft365(Protocol::WsFed, Some(issuer.into())),
            at(0),
            ACTOR,
        )
        .await
        .expect("WS-Fed preset");
        assert!(wsfed.id.starts_with("rp_"), "{}", wsfed.id);
        assert_eq!(wsfed.name, "Microsoft 365");
        assert_eq!(wsfed.identifier, "urn:federation:MicrosoftOnline");
        assert_eq!(
            wsfed.reply_urls,
            ["https://login.microsoftonline.com/login.srf"]
        );
        assert_eq!(wsfed.name_id_format, NameIdFormat::Persistent);
        assert_eq!(wsfed.name_id_source.as_string(), "user.immutableId");
        assert_eq!(wsfed.issuer.as_deref(), Some(issuer));
        assert_eq!(wsfed.password_requests, PasswordRequests::Refuse);
        for claim in [
            "http://schemas.xmlsoap.org/claims/UPN",
            "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID",
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber",
        ] {
            assert!(claim_types(&wsfed).contains(&claim), "{claim}");
        }
        // Found by ID, by name in any case, by identifier.
        for key in [
            wsfed.id.as_str(),
            "microsoft 365",
            "urn:federation:MicrosoftOnline",
        ] {
            assert_eq!(find_relying_party(&store, key).await.expect("found"), wsfed);
        }

        // The same audience under SAML is another relying party, with its own claims.
        let mut draft = microsoft365(Protocol::Saml, None);
        draft.name = "Microsoft 365 SAML".into();
        let saml = add_relying_party(&store, draft, at(1), ACTOR)
            .await
            .expect("SAML preset");
        assert_eq!(claim_types(&saml), ["IDPEmail"]);
        assert_eq!(saml.issuer, None);
        assert_eq!(
            list_relying_parties(&store).await.expect("list"),
            [wsfed, saml]
        );
        assert_eq!(audit_actions(&store), ["rp.add", "rp.add"]);
    });
}

#[test]
fn names_are_unique_in_any_case_and_identifiers_per_protocol_on_add_and_on_set() {
    block_on(async {
        let store = MemoryStore::new();
        add_relying_party(&store, microsoft365(Protocol::WsFed, None), at(0), ACTOR)
            .await
            .expect("preset");
        // The same preset again: its name is taken.
        let error = add_relying_party(&store, microsoft365(Protocol::WsFed, None), at(1), ACTOR)
            .await
            .expect_err("name taken");
        assert_eq!(error.code(), "rp-taken");
        assert_eq!(
            error.to_string(),
            "the name \"Microsoft 365\" is already registered (relying party \"Microsoft 365\"); names and identifiers are unique"
        );
        // Under another name: the realm is taken.
        let mut office = microsoft365(Protocol::WsFed, None);
        office.name = "Office".into();
        let error = add_relying_party(&store, office, at(2), ACTOR)
            .await
            .expect_err("identifier taken");
        assert_eq!(error.code(), "rp-taken");
        assert!(
            error
                .to_string()
                .contains("the wsfed identifier urn:federation:MicrosoftOnline"),
            "{error}"
        );
        let error = add_relying_party(&store, wsfed("MICROSOFT 365", "urn:other"), at(3), ACTOR)
            .await
            .expect_err("name taken in another case");
        assert_eq!(error.code(), "rp-taken");

        let payroll = add_relying_party(&store, wsfed("Payroll", "urn:payroll"), at(4), ACTOR)
            .await
            .expect("another");
        // set meets the same rules, except against the relying party itself.
        let rename = |name: &'static str| {
            move |mut draft: RelyingPartyDraft| {
                draft.name = name.into();
                Ok(draft)
            }
        };
        let error = set_relying_party(&store, "payroll", rename("microsoft 365"), at(5), ACTOR)
            .await
            .expect_err("renamed onto another");
        assert_eq!(error.code(), "rp-taken");
        let error = set_relying_party(
            &store,
            "payroll",
            |mut draft| {
                draft.identifier = "urn:federation:MicrosoftOnline".into();
                Ok(draft)
            },
            at(5),
            ACTOR,
        )
        .await
        .expect_err("moved onto another identifier");
        assert_eq!(error.code(), "rp-taken");
        let recased = set_relying_party(&store, "payroll", rename("PAYROLL"), at(6), ACTOR)
            .await
            .expect("its own name in another case");
        assert_eq!(recased.name, "PAYROLL");
        assert_eq!(recased.id, payroll.id);
        assert_eq!(
            audit_actions(&store),
            ["rp.add", "rp.add", "rp.set"],
            "refusals write nothing"
        );
    });
}

#[test]
fn an_invalid_setting_is_refused_naming_its_field_and_nothing_is_written() {
    block_on(async {
        let store = MemoryStore::new();
        let refused = |draft: RelyingPartyDraft, field: &str| {
            let store = &store;
            let field = field.to_owned();
            async move {
                let error = add_relying_party(store, draft, at(0), ACTOR)
                    .await
                    .expect_err("invalid");
                assert_eq!(error.code(), "rp-field-invalid", "{error}");
                assert!(
                    error.to_string().starts_with(&format!("invalid {field} ")),
                    "{error}"
                );
            }
        };
        let mut plain_http = wsfed("Intranet", "urn:intranet");
        plain_http.reply_urls = vec!["http://intranet.example/".into()];
        refused(plain_http, "reply_urls").await;
        let mut unsigned = saml_sp();
        unsigned.require_signed_requests = true;
        refused(unsigned, "require_signed_requests").await;
        let mut idp_email = wsfed("Intranet", "urn:intranet");
        idp_email.claims = vec![ClaimRule::parse("IDPEmail=user.upn").expect("rule")];
        refused(idp_email, "claim").await;
        refused(wsfed("Intranet", "intranet"), "identifier").await;
        let mut short = wsfed("Intranet", "urn:intranet");
        short.token_lifetime_seconds = 59;
        refused(short, "token_lifetime_seconds").await;
        let mut bad_certificate = saml_sp();
        bad_certificate.request_certificates = vec![b"not DER".to_vec()];
        refused(bad_certificate, "request_certificates").await;
        // What an administrator types is checked before anything is read.
        for (rule, field) in [
            ("no-equals-sign", "claim rule"),
            ("x=user.password", "claim source"),
        ] {
            let error = ClaimRule::parse(rule).expect_err("unreadable");
            assert_eq!(error.code(), "rp-field-invalid");
            assert!(
                error.to_string().starts_with(&format!("invalid {field} ")),
                "{error}"
            );
        }
        assert!(list_relying_parties(&store).await.expect("list").is_empty());
        assert!(audit_actions(&store).is_empty());

        // set refuses the same way, and a refusal of the change itself is passed on.
        add_relying_party(&store, wsfed("Intranet", "urn:intranet"), at(1), ACTOR)
            .await
            .expect("valid");
        let error = set_relying_party(
            &store,
            "Intranet",
            |mut draft| {
                draft.claims = vec![ClaimRule::parse("IDPEmail=user.upn")?];
                Ok(draft)
            },
            at(2),
            ACTOR,
        )
        .await
        .expect_err("not a WS-Fed claim type");
        assert_eq!(error.code(), "rp-field-invalid");
        let error = set_relying_party(
            &store,
            "Intranet",
            |mut draft| {
                draft.claims = vec![ClaimRule::parse("no-equals-sign")?];
                Ok(draft)
            },
            at(2),
            ACTOR,
        )
        .await
        .expect_err("unreadable rule");
        assert_eq!(error.code(), "rp-field-invalid");
        assert_eq!(audit_actions(&store), ["rp.add"]);
    });
}

#[test]
fn set_replaces_the_settings_but_the_creation_time_and_remove_takes_the_relying_party() {
    block_on(async {
        let store = MemoryStore::new();
        let added = add_relying_party(&store, wsfed("Intranet", "urn:intranet"), at(0), ACTOR)
            .await
            .expect("added");
        let changed = set_relying_party(
            &store,
            "urn:intranet",
            |mut draft| {
                draft.claims.extend(certificate_context_rules());
                draft.reply_urls = vec![
                    "https://intranet.test/a".into(),
                    "https://intranet.test/b".into(),
                    "https://intranet.test/a".into(),
                ];
                draft.enabled = false;
                draft.name = "Intranet portal".into();
                Ok(draft)
            },
            at(10),
            ACTOR,
        )
        .await
        .expect("changed");
        assert_eq!(changed.id, added.id);
        assert_eq!(changed.created_at, at(0));
        assert_eq!(changed.updated_at, at(10));
        assert_eq!(changed.claims.len(), added.claims.len() + 10);
        assert_eq!(changed.claims[0], added.claims[0]);
        assert_eq!(
            changed.reply_urls,
            ["https://intranet.test/a", "https://intranet.test/b"],
            "repeats dropped, order kept"
        );
        assert!(!changed.enabled);
        assert_eq!(
            find_relying_party(&store, &added.id).await.expect("stored"),
            changed
        );

        let error = set_relying_party(&store, "nobody", Ok, at(11), ACTOR)
            .await
            .expect_err("unknown");
        assert_eq!(error.code(), "rp-not-found");
        assert_eq!(
            error.to_string(),
            "no relying party is named or has the ID \"nobody\"; `certgate rp list` shows them"
        );

        let removed = remove_relying_party(&store, "Intranet portal", at(12), ACTOR)
            .await
            .expect("removed");
        assert_eq!(removed, changed);
        for key in [added.id.as_str(), "Intranet portal"] {
            let error = remove_relying_party(&store, key, at(13), ACTOR)
                .await
                .expect_err("gone");
            assert_eq!(error.code(), "rp-not-found");
            let error = find_relying_party(&store, key).await.expect_err("gone");
            assert_eq!(error.code(), "rp-not-found");
        }
        assert_eq!(audit_actions(&store), ["rp.add", "rp.set", "rp.remove"]);
        let events = store.audit_events(1).await.expect("audit");
        assert_eq!(events[0].actor, ACTOR);
        assert_eq!(events[0].target, added.id);
        assert!(
            events[0]
                .detail
                .starts_with("wsfed Intranet portal identifier=urn:intranet"),
            "{}",
            events[0].detail
        );
    });
}

// ---- Token-signing keys ---------------------------------------------------------------------

fn thumbprints_by_state(store: &MemoryStore) -> Vec<(KeyState, String)> {
    let mut states: Vec<(KeyState, String)> = block_on(store.token_signing_keys())
        .expect("keys")
        .into_iter()
        .map(|key| (key.lifecycle.state, key.thumbprint))
        .collect();
    states.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
    states
}

#[test]
fn the_first_keys_are_created_once_and_whoever_created_them_they_are_used() {
    block_on(async {
        let store = MemoryStore::new();
        let first = ensure_token_signing_keys(&store, PASSPHRASE, at(0), ACTOR)
            .await
            .expect("created");
        let next = first.next.clone().expect("a Next key is published");
        assert_eq!(first.current.lifecycle.state, KeyState::Current);
        assert_eq!(first.current.lifecycle.activated_at, Some(at(0)));
        assert_eq!(next.lifecycle.state, KeyState::Next);
        assert_eq!(next.lifecycle.activated_at, None);
        assert_eq!(first.current.thumbprint.len(), 40);
        assert_eq!(
            first.certificates(),
            [
                first.current.certificate_der.clone(),
                next.certificate_der.clone()
            ]
        );
        let created = thumbprints_by_state(&store);
        // Again: nothing is created, nothing is audited.
        let again = ensure_token_signing_keys(&store, PASSPHRASE, at(100), ACTOR)
            .await
            .expect("found");
        assert_eq!(again.current.thumbprint, first.current.thumbprint);
        assert_eq!(thumbprints_by_state(&store), created);
        assert_eq!(audit_actions(&store), ["federation.keys.init"]);

        // Keys another node stored first are the ones used.
        let other = MemoryStore::new();
        let current =
            generate_token_signing_key("other", KeyState::Current, PASSPHRASE, at(0)).expect("key");
        let next =
            generate_token_signing_key("other", KeyState::Next, PASSPHRASE, at(0)).expect("key");
        let init = certgate_core::audit::AuditEvent::new(
            at(0),
            "node-b",
            "federation.keys.init",
            &current.thumbprint,
            "ok",
            "",
        );
        assert!(other
            .insert_initial_token_signing_keys(&current, &next, &init)
            .await
            .expect("inserted"));
        let found = ensure_token_signing_keys(&other, PASSPHRASE, at(1), ACTOR)
            .await
            .expect("found");
        assert_eq!(found.current.thumbprint, current.thumbprint);
        assert_eq!(found.next.map(|k| k.thumbprint), Some(next.thumbprint));
        assert_eq!(audit_actions(&other), ["federation.keys.init"]);
    });
}

#[test]
fn a_rotation_promotes_next_retires_current_and_publishes_a_new_next() {
    block_on(async {
        let store = MemoryStore::new();
        let error = rotate_token_signing_keys(&store, PASSPHRASE, at(0), ACTOR)
            .await
            .expect_err("no keys yet");
        assert_eq!(error.code(), "federation-no-signing-key");
        assert!(
            error.to_string().contains("`certgate federation init`"),
            "{error}"
        );
        let first = ensure_token_signing_keys(&store, PASSPHRASE, at(0), ACTOR)
            .await
            .expect("created");
        let old_next = first.next.clone().expect("next");

        let rotated = rotate_token_signing_keys(&store, PASSPHRASE, at(500), ACTOR)
            .await
            .expect("rotated");
        assert_eq!(rotated.current.thumbprint, old_next.thumbprint);
        assert_eq!(rotated.current.lifecycle.activated_at, Some(at(500)));
        let new_next = rotated.next.clone().expect("a new Next");
        assert_ne!(new_next.thumbprint, first.current.thumbprint);
        assert_ne!(new_next.thumbprint, old_next.thumbprint);
        // The retired key is kept, not published.
        let keys = store.token_signing_keys().await.expect("keys");
        assert_eq!(keys.len(), 3);
        let retired = keys
            .iter()
            .find(|k| k.thumbprint == first.current.thumbprint)
            .expect("kept");
        assert_eq!(retired.lifecycle.state, KeyState::Retired);
        assert_eq!(retired.lifecycle.retired_at, Some(at(500)));
        assert_eq!(retired.lifecycle.activated_at, Some(at(0)));
        assert!(!rotated
            .certificates()
            .contains(&first.current.certificate_der));

        // A wrong passphrase: the new key would not open with the others', so nothing changes.
        let before = thumbprints_by_state(&store);
        let error = rotate_token_signing_keys(&store, b"not the passphrase", at(600), ACTOR)
            .await
            .expect_err("wrong passphrase");
        assert_eq!(error.code(), "ca-key-seal-broken");
        assert_eq!(thumbprints_by_state(&store), before);
        assert_eq!(
            audit_actions(&store),
            ["federation.keys.init", "federation.keys.rotate"]
        );
        let event = &store.audit_events(1).await.expect("audit")[0];
        assert_eq!(event.target, old_next.thumbprint);
        assert_eq!(
            event.detail,
            format!(
                "token-signing key {} is now current; {} retired; {} published as next",
                old_next.thumbprint, first.current.thumbprint, new_next.thumbprint
            )
        );
    });
}

#[test]
fn keys_without_a_next_one_are_refused_rather_than_rotated() {
    block_on(async {
        let store = MemoryStore::new();
        let current =
            generate_token_signing_key("t", KeyState::Current, PASSPHRASE, at(0)).expect("key");
        let retired =
            generate_token_signing_key("t", KeyState::Retired, PASSPHRASE, at(0)).expect("key");
        let init = certgate_core::audit::AuditEvent::new(
            at(0),
            "test",
            "federation.keys.init",
            "",
            "ok",
            "",
        );
        assert!(store
            .insert_initial_token_signing_keys(&current, &retired, &init)
            .await
            .expect("inserted"));
        let before = thumbprints_by_state(&store);
        let error = rotate_token_signing_keys(&store, PASSPHRASE, at(10), ACTOR)
            .await
            .expect_err("no Next key");
        assert_eq!(error.code(), "federation-key-corrupt");
        assert_eq!(
            error.to_string(),
            format!(
                "the token-signing key {} in the store is unreadable: there is no Next key to roll over to",
                current.thumbprint
            )
        );
        assert_eq!(thumbprints_by_state(&store), before);
    });
}

// ---- The replay window ----------------------------------------------------------------------

fn authn_request<'a>(id: &'a str, issuer: &'a str, issued: UnixTime) -> AuthnRequestFacts<'a> {
    AuthnRequestFacts {
        id,
        issuer,
        issue_instant: issued,
        destination: Some(ENDPOINT.url),
        acs_url: Some(ACS),
        acs_index: None,
        protocol_binding: None,
        name_id_policy_format: None,
        is_passive: false,
        requested_authn_context: None,
        signature: SignatureCheck::Unsigned,
    }
}

#[test]
fn a_request_id_is_taken_once_per_issuer_until_its_window_ends_and_is_purged() {
    block_on(async {
        let store = MemoryStore::new();
        let rp = add_relying_party(&store, saml_sp(), at(0), ACTOR)
            .await
            .expect("rp");
        let issued = at(0);
        let accepted = accept_authn_request(
            &rp,
            &authn_request("_r1", SP, issued),
            ENDPOINT,
            at(10),
            &store,
        )
        .await
        .expect("first use");
        assert!(matches!(accepted, AuthnRequestOutcome::SignIn(ref s) if s.reply_url == ACS));
        let replayed = accept_authn_request(
            &rp,
            &authn_request("_r1", SP, issued),
            ENDPOINT,
            at(20),
            &store,
        )
        .await
        .expect_err("replayed");
        assert_eq!(
            (replayed.code(), replayed.kind()),
            ("saml-request-replayed", RefusalKind::BadRequest)
        );
        assert_eq!(
            replayed.to_string(),
            "This sign-in request was already used. Go back to the application and sign in again."
        );
        // Another issuer's IDs are its own.
        assert!(store
            .remember_request_id("https://other.test/sp", "_r1", at(600))
            .await
            .expect("remembered"));

        // The ID is kept as long as the request could be accepted: its lifetime (300 s) and
        // the skew either way.
        let window_end = at(300 + 2 * SKEW);
        assert_eq!(store.purge_request_ids(window_end).await.expect("purge"), 0);
        assert!(!store
            .remember_request_id(SP, "_r1", at(10_000))
            .await
            .expect("still seen"));
        assert_eq!(
            store
                .purge_request_ids(UnixTime(window_end.0 + 1))
                .await
                .expect("purge"),
            1
        );
        // Forgotten now, and by then a request that old is refused as stale anyway.
        let stale = accept_authn_request(
            &rp,
            &authn_request("_r1", SP, issued),
            ENDPOINT,
            UnixTime(window_end.0 + 1),
            &store,
        )
        .await
        .expect_err("stale");
        assert_eq!(stale.code(), "saml-request-stale");
        assert!(store
            .remember_request_id(SP, "_r1", at(10_000))
            .await
            .expect("new again"));
    });
}

#[test]
fn a_logout_request_id_is_taken_once_too() {
    block_on(async {
        let store = MemoryStore::new();
        let pki = TestPki::three_level(&ChainSpec::default()).expect("test PKI");
        let mut draft = saml_sp();
        draft.request_certificates = vec![pki.leaf.der.clone()];
        draft.logout_url = Some("https://sp.test/slo".into());
        let rp = add_relying_party(&store, draft, at(0), ACTOR)
            .await
            .expect("rp");
        let logout = LogoutRequestFacts {
            id: "_l1",
            issuer: SP,
            issue_instant: at(0),
            destination: Some(ENDPOINT.url),
            not_on_or_after: None,
            signature: SignatureCheck::Verified,
        };
        assert_eq!(
            accept_logout_request(&rp, &logout, ENDPOINT, at(5), &store)
                .await
                .expect("first use"),
            "https://sp.test/slo"
        );
        let replayed = accept_logout_request(&rp, &logout, ENDPOINT, at(6), &store)
            .await
            .expect_err("replayed");
        assert_eq!(replayed.code(), "saml-request-replayed");
        assert_eq!(
            replayed.to_string(),
            "This logout request was already used."
        );
    });
}

// ---- The token at the end of a sign-in ------------------------------------------------------

struct SignedIn {
    store: MemoryStore,
    rp: RelyingParty,
    identity: FlowIdentity,
}

fn signed_in() -> SignedIn {
    block_on(async {
        let store = MemoryStore::new();
        let mut draft = saml_sp();
        draft.reply_urls.push("https://sp.test/acs2".into());
        let rp = add_relying_party(&store, draft, at(0), ACTOR)
            .await
            .expect("rp");
        let user = add_user(&store, UserDraft::new("alice@corp.example"), at(0), ACTOR)
            .await
            .expect("user");
        let pki = TestPki::three_level(&ChainSpec::default()).expect("test PKI");
        let identity = FlowIdentity {
            user_id: user.id.as_str().to_owned(),
            upn: "alice@corp.example".into(),
            display_name: "Alice".into(),
            certificate_serial: "0a1b".into(),
            certificate_issuer: "CN=Issuing CA".into(),
            strength: "single-factor".into(),
            auth_time: at(30),
            second_factor: None,
            access_pass_redeemed_at: None,
            domain_password_verified_at: None,
            certificate_der: Some(pki.leaf.der.clone()),
        };
        SignedIn {
            store,
            rp,
            identity,
        }
    })
}

const SERVICE: TokenService<'static> = TokenService {
    entity_id: "https://idp.test/federation",
    clock_skew_seconds: SKEW,
    signing_key: Some("0123ABCD"),
};

fn issuance_request<'a>(
    signed_in: &'a SignedIn,
    reply_url: &'a str,
    identity: &'a FlowIdentity,
) -> IssuanceRequest<'a> {
    IssuanceRequest {
        relying_party: &signed_in.rp.id,
        reply_url,
        request_id: Some("_r1"),
        requested_authn_context: &RequestedContext::None,
        identity,
        password_requested: false,
    }
}

#[test]
fn the_token_is_decided_from_the_relying_party_and_user_as_stored_when_the_sign_in_ends() {
    block_on(async {
        let signed_in = signed_in();
        let store = &signed_in.store;
        let request = issuance_request(&signed_in, "https://sp.test/acs2", &signed_in.identity);
        let issuance = prepare_issuance(store, &request, &SERVICE, at(60))
            .await
            .expect("issued");
        assert_eq!(issuance.audience(), SP);
        assert_eq!(issuance.recipient, "https://sp.test/acs2");
        assert_eq!(issuance.name_id.value, "alice@corp.example");
        assert_eq!(issuance.validity.issued_at, at(60));

        // The token is recorded before it is sent.
        record_issuance(store, &issuance, "_assertion1", at(60))
            .await
            .expect("recorded");
        let event = &store.audit_events(1).await.expect("audit")[0];
        assert_eq!(event.action, "federation.issue");
        assert_eq!(event.actor, "user:alice@corp.example");
        assert_eq!(event.target, signed_in.rp.id);
        assert!(
            event.detail.contains("token _assertion1"),
            "{}",
            event.detail
        );

        // The administrator removes the reply address during the sign-in.
        set_relying_party(
            store,
            &signed_in.rp.id,
            |mut draft| {
                draft.reply_urls = vec![ACS.into()];
                Ok(draft)
            },
            at(61),
            ACTOR,
        )
        .await
        .expect("set");
        let error = prepare_issuance(store, &request, &SERVICE, at(62))
            .await
            .expect_err("address removed");
        assert_eq!(
            (error.code(), error.kind()),
            (
                "federation-reply-url-not-registered",
                RefusalKind::Forbidden
            )
        );
        let to_acs = issuance_request(&signed_in, ACS, &signed_in.identity);
        prepare_issuance(store, &to_acs, &SERVICE, at(62))
            .await
            .expect("a registered address still works");

        // ... disables the relying party, or removes it.
        set_relying_party(
            store,
            &signed_in.rp.id,
            |mut draft| {
                draft.enabled = false;
                Ok(draft)
            },
            at(63),
            ACTOR,
        )
        .await
        .expect("disabled");
        let error = prepare_issuance(store, &to_acs, &SERVICE, at(64))
            .await
            .expect_err("disabled");
        assert_eq!(error.code(), "rp-not-found");
        remove_relying_party(store, &signed_in.rp.id, at(65), ACTOR)
            .await
            .expect("removed");
        let error = prepare_issuance(store, &to_acs, &SERVICE, at(66))
            .await
            .expect_err("removed");
        assert_eq!(
            (error.code(), error.kind()),
            ("rp-not-found", RefusalKind::Forbidden)
        );
    });
}

#[test]
fn a_user_disabled_or_removed_during_the_sign_in_gets_no_token() {
    block_on(async {
        let signed_in = signed_in();
        let store = &signed_in.store;
        let request = issuance_request(&signed_in, ACS, &signed_in.identity);
        set_user(
            store,
            "alice@corp.example",
            |mut draft| {
                draft.enabled = false;
                draft
            },
            at(40),
            ACTOR,
        )
        .await
        .expect("disabled");
        let error = prepare_issuance(store, &request, &SERVICE, at(60))
            .await
            .expect_err("disabled");
        assert_eq!(
            (error.code(), error.kind()),
            ("user-disabled", RefusalKind::Forbidden)
        );
        remove_user(store, "alice@corp.example", at(41), ACTOR)
            .await
            .expect("removed");
        let error = prepare_issuance(store, &request, &SERVICE, at(60))
            .await
            .expect_err("removed");
        assert_eq!(error.code(), "user-disabled");

        // A flow whose user ID does not read is refused before the store is asked.
        let mut unreadable = signed_in.identity.clone();
        unreadable.user_id = "not a user id".into();
        let request = issuance_request(&signed_in, ACS, &unreadable);
        let error = prepare_issuance(store, &request, &SERVICE, at(60))
            .await
            .expect_err("unreadable");
        assert_eq!(error.to_string(), "certgate cannot read this sign-in.");
    });
}
