//! The trusted CAs' rules and the CRL cache's acceptance rules, each tested once, on the
//! in-memory store (`testing::MemoryStore`) with a fixed time: only a readable, unexpired CA
//! certificate is trusted, a bundle is added all or nothing and each certificate once, a
//! certificate already trusted is refused naming its record, settings are checked again when
//! changed, an unknown id is not found; a downloaded CRL replaces the cached one only when it
//! is one CRL of the right kind, issued and signed by the CA, numbered above the cached one,
//! and current. The settings' own checks (URLs, names, the RFC 5280 profile) are the unit
//! tests in src/trusted_ca.rs; the SQL store's part is certgate-store's suite; the API and
//! the CLI keep one success and one refusal per route or command.

use certgate_core::audit::AuditLog;
use certgate_core::crl_cache::{accept_downloaded_crl, der_sha256, Accepted, CrlKind, Previous};
use certgate_core::testing::{block_on, MemoryStore};
use certgate_core::trusted_ca::{
    add_cas, remove_ca, set_ca, AuthorityType, CaId, CaSettings, TrustError, TrustedCaStore,
};
use certgate_pki::{Certificate, UnixTime};
use certgate_testpki::{at, instants, ChainSpec, CrlSpec, Edit, KeyKind, TestPki};

const ACTOR: &str = "cli:test";
/// 2026-01-01T00:00:00Z: the test PKI's CAs are valid, its CRLs current.
const NOW: i64 = certgate_testpki::VALIDATION_TIME;

fn pki(seed: u64) -> TestPki {
    TestPki::three_level(&ChainSpec {
        serial_seed: seed,
        ca_name_prefix: format!("Seed {seed:x}"),
        ..ChainSpec::with_key(KeyKind::EcdsaP256)
    })
    .expect("test PKI")
}

/// What `certgate ca add` chooses without options: root when self-issued, no CRL URLs.
fn default_settings(certificate: &Certificate) -> CaSettings {
    CaSettings {
        display_name: String::new(),
        authority_type: if certificate.subject() == certificate.issuer() {
            AuthorityType::Root
        } else {
            AuthorityType::Intermediate
        },
        crl_url: None,
        delta_crl_url: None,
        exempt_from_crl_validation: false,
        send_as_issuer_hint: true,
    }
}

async fn add(store: &MemoryStore, ders: Vec<Vec<u8>>) -> Result<Vec<CaId>, TrustError> {
    let records = add_cas(store, ders, default_settings, UnixTime(NOW), ACTOR).await?;
    Ok(records.into_iter().map(|r| r.id).collect())
}

async fn audit_actions(store: &MemoryStore) -> Vec<String> {
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

#[test]
fn a_bundle_adds_each_ca_once_with_the_settings_chosen_for_it_and_its_computed_facts() {
    block_on(async {
        let store = MemoryStore::new();
        let pki = pki(1);
        let records = add_cas(
            &store,
            vec![
                pki.root.der.clone(),
                pki.intermediate.der.clone(),
                pki.root.der.clone(),
            ],
            default_settings,
            UnixTime(NOW),
            ACTOR,
        )
        .await
        .expect("added");
        assert_eq!(
            records.len(),
            2,
            "the root twice in one bundle is added once"
        );
        let (root, issuing) = (&records[0], &records[1]);
        assert_eq!(root.settings.authority_type, AuthorityType::Root);
        assert_eq!(issuing.settings.authority_type, AuthorityType::Intermediate);
        assert!(issuing
            .facts
            .trusted_issuer
            .starts_with("CN=Seed 1 Issuing CA, "));
        assert_eq!(
            issuing.settings.display_name, issuing.facts.trusted_issuer,
            "without a name, the subject names it"
        );
        assert!(issuing
            .facts
            .trusted_issuer_ski
            .as_deref()
            .is_some_and(|ski| ski.len() == 40));
        assert_eq!(issuing.facts.sha256_thumbprint.len(), 64);
        assert_eq!(issuing.created_at, UnixTime(NOW));
        assert_eq!(store.list_cas().await.expect("list"), records);
        assert_eq!(audit_actions(&store).await, ["ca.add", "ca.add"]);
    });
}

#[test]
fn a_bundle_with_one_certificate_that_is_not_a_ca_adds_nothing() {
    block_on(async {
        let store = MemoryStore::new();
        let pki = pki(2);
        let error = add(&store, vec![pki.root.der.clone(), pki.leaf.der.clone()])
            .await
            .expect_err("a user certificate");
        assert_eq!(error.code(), "ca-not-a-ca");
        assert!(
            error.to_string().contains("not a user certificate"),
            "{error}"
        );
        assert!(store.list_cas().await.expect("list").is_empty());
        assert!(audit_actions(&store).await.is_empty());
    });
}

#[test]
fn an_expired_ca_an_unreadable_file_and_an_empty_bundle_are_refused() {
    block_on(async {
        let store = MemoryStore::new();
        let expired = TestPki::three_level(&ChainSpec {
            ca_not_before: at(1_262_304_000), // 2010
            ca_not_after: at(1_577_836_800),  // 2020
            ..ChainSpec::with_key(KeyKind::EcdsaP256)
        })
        .expect("expired PKI");
        let error = add(&store, vec![expired.root.der])
            .await
            .expect_err("expired");
        assert_eq!(error.code(), "ca-expired");
        assert!(
            error.to_string().contains("2020-01-01T00:00:00Z"),
            "{error}"
        );
        let error = add(&store, vec![b"not a certificate".to_vec()])
            .await
            .expect_err("garbage");
        assert_eq!(error.code(), "ca-certificate-malformed");
        let error = add(&store, Vec::new()).await.expect_err("empty");
        assert_eq!(error.code(), "ca-bundle-empty");
        assert!(store.list_cas().await.expect("list").is_empty());
    });
}

#[test]
fn a_certificate_already_trusted_is_refused_naming_its_record_and_the_bundle_adds_nothing() {
    block_on(async {
        let store = MemoryStore::new();
        let (first, second) = (pki(3), pki(4));
        let ids = add(&store, vec![first.root.der.clone()])
            .await
            .expect("added");
        let error = add(
            &store,
            vec![second.root.der.clone(), first.root.der.clone()],
        )
        .await
        .expect_err("already trusted");
        assert_eq!(error.code(), "ca-duplicate");
        assert!(
            error
                .to_string()
                .contains(&format!("certgate ca set {}", ids[0])),
            "{error}"
        );
        assert_eq!(store.list_cas().await.expect("list").len(), 1);
    });
}

#[test]
fn settings_are_checked_again_when_changed_and_an_unknown_id_is_not_found() {
    block_on(async {
        let store = MemoryStore::new();
        let pki = pki(5);
        let id = add(&store, vec![pki.root.der.clone()])
            .await
            .expect("added")[0];
        let changed = set_ca(
            &store,
            id,
            |settings| CaSettings {
                crl_url: Some("http://pki.fabrikam.example/root.crl".into()),
                delta_crl_url: Some("http://pki.fabrikam.example/root-delta.crl".into()),
                exempt_from_crl_validation: true,
                ..settings
            },
            UnixTime(NOW + 1),
            ACTOR,
        )
        .await
        .expect("changed");
        assert!(changed.settings.exempt_from_crl_validation);

        // Clearing the base URL alone would leave a delta without a base.
        let error = set_ca(
            &store,
            id,
            |settings| CaSettings {
                crl_url: None,
                ..settings
            },
            UnixTime(NOW + 2),
            ACTOR,
        )
        .await
        .expect_err("delta without base");
        assert_eq!(error.code(), "ca-delta-without-base");
        assert_eq!(
            store.list_cas().await.expect("list"),
            std::slice::from_ref(&changed)
        );

        let error = set_ca(&store, CaId(999), |s| s, UnixTime(NOW + 3), ACTOR)
            .await
            .expect_err("unknown id");
        assert_eq!(error.code(), "ca-not-found");
        assert!(error.to_string().contains("certgate ca list"), "{error}");
        assert_eq!(audit_actions(&store).await, ["ca.add", "ca.set"]);
    });
}

#[test]
fn a_removed_ca_is_gone_and_removing_it_again_is_not_found() {
    block_on(async {
        let store = MemoryStore::new();
        let pki = pki(6);
        let ids = add(
            &store,
            vec![pki.root.der.clone(), pki.intermediate.der.clone()],
        )
        .await
        .expect("added");
        let removed = remove_ca(&store, ids[1], UnixTime(NOW + 1), ACTOR)
            .await
            .expect("removed");
        assert_eq!(removed.id, ids[1]);
        let left: Vec<CaId> = store
            .list_cas()
            .await
            .expect("list")
            .into_iter()
            .map(|ca| ca.id)
            .collect();
        assert_eq!(left, [ids[0]]);
        let error = remove_ca(&store, ids[1], UnixTime(NOW + 2), ACTOR)
            .await
            .expect_err("gone");
        assert_eq!(error.code(), "ca-not-found");
        assert_eq!(
            audit_actions(&store).await,
            ["ca.add", "ca.add", "ca.remove"]
        );
    });
}

// ---- The CRL cache's acceptance rules -------------------------------------------------------

fn crl(issuer: &certgate_testpki::Issued, number: u64) -> Vec<u8> {
    TestPki::crl(
        issuer,
        &CrlSpec {
            crl_number: number,
            ..CrlSpec::default()
        },
    )
    .expect("CRL")
}

fn certificate(der: &[u8]) -> Certificate {
    Certificate::from_der(der).expect("certificate")
}

/// `accept_downloaded_crl` for the issuing CA of `pki`, at [`NOW`], without clock skew.
fn accept(
    pki: &TestPki,
    bytes: Vec<u8>,
    kind: CrlKind,
    previous: Option<Previous<'_>>,
) -> Result<Accepted, &'static str> {
    let ca = certificate(&pki.intermediate.der);
    accept_downloaded_crl(bytes, kind, &ca, previous, UnixTime(NOW), 0).map_err(|e| e.code())
}

#[test]
fn a_crl_of_the_ca_numbered_above_the_cached_one_replaces_it_and_the_same_crl_is_unchanged() {
    let pki = pki(7);
    let (three, four) = (crl(&pki.intermediate, 3), crl(&pki.intermediate, 4));
    assert!(matches!(
        accept(&pki, three.clone(), CrlKind::Base, None),
        Ok(Accepted::New(_))
    ));
    let cached = Previous {
        crl_number: &[3],
        der_sha256: &der_sha256(&three),
    };
    assert!(matches!(
        accept(&pki, four, CrlKind::Base, Some(cached)),
        Ok(Accepted::New(_))
    ));
    assert!(matches!(
        accept(&pki, three.clone(), CrlKind::Base, Some(cached)),
        Ok(Accepted::Unchanged)
    ));
    // PEM is read as well as DER.
    let pem = certgate_testpki::to_pem(&three).replace("CERTIFICATE", "X509 CRL");
    assert!(matches!(
        accept(&pki, pem.into_bytes(), CrlKind::Base, None),
        Ok(Accepted::New(_))
    ));
}

#[test]
fn a_crl_numbered_below_the_cached_one_or_reusing_its_number_is_refused() {
    let pki = pki(8);
    let (three, four) = (crl(&pki.intermediate, 3), crl(&pki.intermediate, 4));
    let cached = Previous {
        crl_number: &[4],
        der_sha256: &der_sha256(&four),
    };
    assert_eq!(
        accept(&pki, three, CrlKind::Base, Some(cached)).err(),
        Some("crl-number-regressed")
    );
    // Number 4 again, with other content (another revoked serial).
    let other_four = TestPki::crl(
        &pki.intermediate,
        &CrlSpec {
            crl_number: 4,
            entries: 1,
            ..CrlSpec::default()
        },
    )
    .expect("CRL");
    assert_eq!(
        accept(&pki, other_four, CrlKind::Base, Some(cached)).err(),
        Some("crl-number-reused")
    );
    // Leading zero octets do not make a number larger.
    let padded = Previous {
        crl_number: &[0, 0, 4],
        der_sha256: &der_sha256(&four),
    };
    assert!(matches!(
        accept(&pki, four.clone(), CrlKind::Base, Some(padded)),
        Ok(Accepted::Unchanged)
    ));
}

#[test]
fn what_is_not_one_crl_of_the_expected_kind_is_refused() {
    let pki = pki(9);
    let base = crl(&pki.intermediate, 1);
    assert_eq!(
        accept(
            &pki,
            b"<html>Service Unavailable</html>".to_vec(),
            CrlKind::Base,
            None
        )
        .err(),
        Some("crl-not-a-crl")
    );
    let pem = certgate_testpki::to_pem(&base).replace("CERTIFICATE", "X509 CRL");
    assert_eq!(
        accept(&pki, pem.repeat(2).into_bytes(), CrlKind::Base, None).err(),
        Some("crl-not-exactly-one")
    );
    assert_eq!(
        accept(&pki, base.clone(), CrlKind::Delta, None).err(),
        Some("crl-wrong-kind")
    );
    let delta = certgate_testpki::edit_crl(
        &base,
        &pki.intermediate.key_pkcs8_der,
        &[Edit::AddExtension {
            oid: "2.5.29.27",
            critical: true,
            value: vec![0x02, 0x01, 0x01],
        }],
    )
    .expect("delta CRL");
    assert_eq!(
        accept(&pki, delta.clone(), CrlKind::Base, None).err(),
        Some("crl-wrong-kind")
    );
    assert!(matches!(
        accept(&pki, delta, CrlKind::Delta, None),
        Ok(Accepted::New(_))
    ));
}

#[test]
fn a_crl_not_issued_and_signed_by_the_ca_is_refused() {
    let pki = pki(10);
    let of_the_root = crl(&pki.root, 1);
    assert_eq!(
        accept(&pki, of_the_root, CrlKind::Base, None).err(),
        Some("crl-issuer-mismatch")
    );
    let own = crl(&pki.intermediate, 1);
    // Same issuer name, another key's identifier.
    let other_key_id = certgate_testpki::edit_crl(
        &own,
        &pki.intermediate.key_pkcs8_der,
        &[
            Edit::RemoveExtension("2.5.29.35"),
            Edit::AddExtension {
                oid: "2.5.29.35",
                critical: false,
                value: certgate_testpki::der::tlv(
                    0x30,
                    &certgate_testpki::der::tlv(0x80, &[7; 20]),
                ),
            },
        ],
    )
    .expect("CRL with another AKI");
    assert_eq!(
        accept(&pki, other_key_id, CrlKind::Base, None).err(),
        Some("crl-authority-key-mismatch")
    );
    // Everything the CA's, signed with the root's key.
    let forged = certgate_testpki::edit_crl(&own, &pki.root.key_pkcs8_der, &[]).expect("forged");
    assert_eq!(
        accept(&pki, forged, CrlKind::Base, None).err(),
        Some("crl-signature-invalid")
    );
    let unnumbered = certgate_testpki::edit_crl(
        &own,
        &pki.intermediate.key_pkcs8_der,
        &[Edit::RemoveExtension("2.5.29.20")],
    )
    .expect("CRL without a number");
    assert_eq!(
        accept(&pki, unnumbered, CrlKind::Base, None).err(),
        Some("crl-number-missing")
    );
}

#[test]
fn a_crl_from_the_future_beyond_the_clock_skew_or_past_its_next_update_is_refused() {
    let pki = pki(11);
    let ca = certificate(&pki.intermediate.der);
    let issued_at = |this_update: i64, next_update: i64| {
        TestPki::crl(
            &pki.intermediate,
            &CrlSpec {
                this_update: at(this_update),
                next_update: at(next_update),
                ..CrlSpec::default()
            },
        )
        .expect("CRL")
    };
    let early = issued_at(NOW + 60, NOW + 86_400);
    let code = |bytes: Vec<u8>, skew: i64| {
        accept_downloaded_crl(bytes, CrlKind::Base, &ca, None, UnixTime(NOW), skew)
            .err()
            .map(|e| e.code())
    };
    assert_eq!(code(early.clone(), 59), Some("crl-not-yet-valid"));
    assert_eq!(code(early, 60), None, "within the tolerated skew");
    let past = issued_at(instants::CRL_THIS_UPDATE, NOW - 1);
    assert_eq!(code(past, 0), Some("crl-stale"));
    // The cached CRL again, once past its nextUpdate, is stale rather than unchanged.
    let cached = issued_at(instants::CRL_THIS_UPDATE, NOW - 1);
    let previous = Previous {
        crl_number: &[1],
        der_sha256: &der_sha256(&cached),
    };
    assert_eq!(
        accept_downloaded_crl(
            cached.clone(),
            CrlKind::Base,
            &ca,
            Some(previous),
            UnixTime(NOW),
            0
        )
        .err()
        .map(|e| e.code()),
        Some("crl-stale")
    );
}
