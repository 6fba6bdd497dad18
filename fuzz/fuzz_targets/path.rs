//! Path building and validation with CRL checking over up to five attacker-chosen blobs.
//! The input format is described in `src/path_input.rs`.
#![no_main]

use certgate_fuzz::harness_key;
use certgate_fuzz::path_input::{extras, flags, knobs, PathInput};
use certgate_pki::{
    known, validate, validate_explained, AlgorithmPolicy, CaKind, Certificate, Crl, ExpectedName,
    LegacyAlgorithms, MissingEku, Oid, PolicySettings, Purpose, RevocationDepth,
    RevocationSnapshot, RevocationStatus, TrustStore, UnixTime, ValidatedPath, ValidationPolicy,
};
use libfuzzer_sys::fuzz_target;

/// 2026-01-01T00:00:00Z, certgate-testpki's VALIDATION_TIME.
const TESTPKI_TIME: i64 = 1_767_225_600;
/// 2011-04-15T00:00:00Z, the time the PKITS expectations assume.
const PKITS_TIME: i64 = 1_302_825_600;
const NIST_TEST_POLICY_1: &str = "2.16.840.1.101.3.2.1.48.1";

fuzz_target!(|data: &[u8]| {
    let Some(input) = PathInput::split(data) else {
        return;
    };
    let mut certificates = Vec::new();
    let mut crls = Vec::new();
    for (index, blob) in input.blobs.iter().enumerate() {
        let der = if input.signs(index) {
            harness_key::sign(blob)
        } else {
            blob.to_vec()
        };
        if let Ok(cert) = Certificate::from_der(&der) {
            certificates.push(cert);
        }
        if let Ok(crl) = Crl::from_der(der) {
            crls.push(crl);
        }
    }
    let Some((root, below_root)) = certificates.split_last() else {
        return;
    };
    // A lone certificate is both the end entity and the root: certgate must not treat a
    // trusted root presented as a leaf as a path of its own making.
    let (end_entity, middle) = below_root.split_first().unwrap_or((root, &[]));

    let mut trust = TrustStore::new();
    trust.add(root.clone(), CaKind::Root);
    let presented: &[Certificate] = if input.knobs & knobs::TRUSTED_INTERMEDIATES != 0 {
        for cert in middle {
            trust.add(cert.clone(), CaKind::Intermediate);
        }
        &[]
    } else {
        middle
    };
    let snapshot = RevocationSnapshot::new(crls);
    let policy = policy_for(&input, end_entity);
    let at = UnixTime(if input.flags & flags::PKITS_TIME != 0 {
        PKITS_TIME
    } else {
        TESTPKI_TIME
    });

    let plain = validate(end_entity, presented, &trust, &snapshot, &policy, at);
    let (explained, explanation) =
        validate_explained(end_entity, presented, &trust, &snapshot, &policy, at);

    // Explaining must not change the decision.
    match (&plain, &explained) {
        (Ok(a), Ok(b)) => {
            let ders = |p: &ValidatedPath<'_>| -> Vec<Vec<u8>> {
                p.certificates().iter().map(|c| c.der().to_vec()).collect()
            };
            assert_eq!(ders(a), ders(b));
            assert_eq!(a.revocation(), b.revocation());
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("validate and validate_explained disagree: {plain:?} / {explained:?}"),
    }

    match &plain {
        Ok(path) => {
            check_validated_path(path, end_entity, &trust, &policy, at);
            let last = explanation.attempts.last().expect("a valid path was tried");
            assert_eq!(last.failure, None, "the accepting attempt is the last one");
        }
        Err(rejection) => {
            let _ = (rejection.to_string(), rejection.code());
        }
    }
});

fn policy_for(input: &PathInput<'_>, end_entity: &Certificate) -> ValidationPolicy {
    let knob = |bit: u8| input.knobs & bit != 0;
    let purpose = match (input.knobs >> knobs::PURPOSE_SHIFT) & 3 {
        0 => Purpose::ClientAuth,
        1 => Purpose::ServerAuth,
        2 => Purpose::Any,
        _ => Purpose::RequiredEkus(vec![Oid::new(known::EKU_CLIENT_AUTH)]),
    };
    let initial_policy = if knob(knobs::NIST_TEST_POLICY_1) {
        NIST_TEST_POLICY_1
    } else {
        known::ANY_POLICY
    };
    ValidationPolicy {
        purpose,
        missing_eku: if knob(knobs::REJECT_MISSING_EKU) {
            MissingEku::Reject
        } else {
            MissingEku::Accept
        },
        expected_names: if input.extras & extras::EXPECT_DNS_NAME != 0 {
            vec![ExpectedName::Dns("www.example.com".into())]
        } else {
            Vec::new()
        },
        max_depth: if input.extras & extras::MAX_DEPTH_2 != 0 {
            2
        } else {
            ValidationPolicy::default().max_depth
        },
        policies: PolicySettings {
            initial_policy_set: vec![Oid::new(initial_policy)],
            initial_explicit_policy: knob(knobs::EXPLICIT_POLICY),
            initial_policy_mapping_inhibit: knob(knobs::INHIBIT_POLICY_MAPPING),
            initial_any_policy_inhibit: knob(knobs::INHIBIT_ANY_POLICY),
        },
        revocation: if input.flags & flags::REVOCATION_END_ENTITY != 0 {
            RevocationDepth::EndEntity
        } else {
            RevocationDepth::Chain
        },
        revocation_exempt_issuers: if input.extras & extras::EXEMPT_END_ENTITY_ISSUER != 0 {
            vec![end_entity.issuer().clone()]
        } else {
            Vec::new()
        },
        algorithms: AlgorithmPolicy {
            legacy: if input.flags & flags::LEGACY_ALGORITHMS != 0 {
                LegacyAlgorithms::AllowInsecure
            } else {
                LegacyAlgorithms::Reject
            },
            ..AlgorithmPolicy::default()
        },
        ..ValidationPolicy::default()
    }
}

/// What any accepted path must satisfy, whatever the input.
fn check_validated_path(
    path: &ValidatedPath<'_>,
    end_entity: &Certificate,
    trust: &TrustStore,
    policy: &ValidationPolicy,
    at: UnixTime,
) {
    let certs = path.certificates();
    assert_eq!(path.end_entity().der(), end_entity.der());
    assert!(
        trust
            .iter()
            .any(|(ca, kind)| kind == CaKind::Root && ca.der() == path.trust_anchor().der()),
        "the anchor is a trusted root"
    );
    assert!(certs.len() - 1 <= policy.max_depth, "max_depth respected");
    for pair in certs.windows(2) {
        assert_eq!(pair[0].issuer(), pair[1].subject(), "names chain");
    }
    for cert in certs {
        assert!(
            cert.not_before() <= at && at <= cert.not_after(),
            "valid at `at`"
        );
    }
    let statuses = path.revocation();
    assert_eq!(statuses.len(), certs.len());
    assert_eq!(statuses[certs.len() - 1], RevocationStatus::NotChecked);
    // Fail closed: every certificate the policy asks about has a known status, or an unknown
    // one its issuer is exempted for.
    for (depth, (cert, status)) in certs.iter().zip(statuses).enumerate() {
        let checked = match policy.revocation {
            RevocationDepth::Off => false,
            RevocationDepth::EndEntity => depth == 0,
            RevocationDepth::Chain => depth + 1 < certs.len(),
        };
        match status {
            RevocationStatus::NotChecked => assert!(!checked, "depth {depth} was not checked"),
            RevocationStatus::Good { .. } => assert!(checked),
            RevocationStatus::Exempt { .. } => assert!(
                checked
                    && policy
                        .revocation_exempt_issuers
                        .iter()
                        .any(|n| n == cert.issuer()),
                "depth {depth} exempt without an exemption"
            ),
        }
    }
}
