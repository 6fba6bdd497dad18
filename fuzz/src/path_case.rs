//! Turns a decoded [`PathInput`] into the arguments of `certgate_pki::validate`, so that the
//! `path` target and the seed generator's tests read inputs the same way.

use certgate_pki::{
    known, AlgorithmPolicy, CaKind, Certificate, Crl, ExpectedName, LegacyAlgorithms, MissingEku,
    Oid, PolicySettings, Purpose, RevocationDepth, RevocationSnapshot, TrustStore, UnixTime,
    ValidationPolicy,
};

use crate::harness_key;
use crate::path_input::{extras, flags, knobs, PathInput};

/// 2026-01-01T00:00:00Z, certgate-testpki's VALIDATION_TIME.
pub const TESTPKI_TIME: i64 = 1_767_225_600;
/// 2011-04-15T00:00:00Z, the time the PKITS expectations assume.
pub const PKITS_TIME: i64 = 1_302_825_600;
const NIST_TEST_POLICY_1: &str = "2.16.840.1.101.3.2.1.48.1";

pub struct PathCase {
    pub end_entity: Certificate,
    /// What the client presented besides the end entity.
    pub presented: Vec<Certificate>,
    pub trust: TrustStore,
    pub snapshot: RevocationSnapshot,
    pub policy: ValidationPolicy,
    pub at: UnixTime,
}

impl PathCase {
    /// `None` when no blob is a certificate.
    pub fn from_input(input: &PathInput<'_>) -> Option<PathCase> {
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
        let root = certificates.pop()?;
        // A lone certificate is both the end entity and the root: certgate must not treat a
        // trusted root presented as a leaf as a path of its own making.
        let end_entity = if certificates.is_empty() {
            root.clone()
        } else {
            certificates.remove(0)
        };
        let mut trust = TrustStore::new();
        trust.add(root, CaKind::Root);
        let presented = if input.knobs & knobs::TRUSTED_INTERMEDIATES != 0 {
            for cert in certificates {
                trust.add(cert, CaKind::Intermediate);
            }
            Vec::new()
        } else {
            certificates
        };
        Some(PathCase {
            policy: policy_for(input, &end_entity),
            end_entity,
            presented,
            trust,
            snapshot: RevocationSnapshot::new(crls),
            at: UnixTime(if input.flags & flags::PKITS_TIME != 0 {
                PKITS_TIME
            } else {
                TESTPKI_TIME
            }),
        })
    }
}

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
