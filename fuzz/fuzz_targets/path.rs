//! Path building and validation with CRL checking over up to five attacker-chosen blobs.
//! The input format is described in `src/path_input.rs`.
#![no_main]

use certgate_fuzz::path_case::PathCase;
use certgate_fuzz::path_input::PathInput;
use certgate_pki::{
    validate, validate_explained, CaKind, Certificate, RevocationDepth, RevocationStatus,
    TrustStore, UnixTime, ValidatedPath, ValidationPolicy,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = PathInput::split(data) else {
        return;
    };
    let Some(case) = PathCase::from_input(&input) else {
        return;
    };
    let PathCase {
        end_entity,
        presented,
        trust,
        snapshot,
        policy,
        at,
    } = &case;
    let at = *at;

    let plain = validate(end_entity, presented, trust, snapshot, policy, at);
    let (explained, explanation) =
        validate_explained(end_entity, presented, trust, snapshot, policy, at);

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
            check_validated_path(path, end_entity, trust, policy, at);
            let last = explanation.attempts.last().expect("a valid path was tried");
            assert_eq!(last.failure, None, "the accepting attempt is the last one");
        }
        Err(rejection) => {
            let _ = (rejection.to_string(), rejection.code());
        }
    }
});

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
    // max_depth counts intermediates that are not self-issued (RFC 5280 §6.1.4 (l)).
    let counted = certs[1..certs.len() - 1]
        .iter()
        .filter(|c| !c.is_self_issued())
        .count();
    assert!(counted <= policy.max_depth, "max_depth respected");
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
