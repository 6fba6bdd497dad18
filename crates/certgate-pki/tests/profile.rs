//! The RFC 5280 §4 certificate profile rules (issue 13, items 3-5), one generated case per rule,
//! each named after its RFC section: the trust anchor's own checks, the MUSTs for every
//! certificate of the path, the CRL number's criticality, and the end entity's key strength.

use certgate_pki::{
    check_trust_anchor, validate, AlgorithmPolicy, CaKind, Certificate, Crl, ProfileExceptions,
    RevocationDepth, RevocationSnapshot, TrustStore, UnixTime, ValidationPolicy,
};
use certgate_testpki::{edit_certificate, weak_keys, ChainSpec, CrlSpec, Edit, TestPki};

const NOW: UnixTime = UnixTime(certgate_testpki::VALIDATION_TIME);

const BASIC_CONSTRAINTS: &str = "2.5.29.19";
const KEY_USAGE: &str = "2.5.29.15";
const SUBJECT_KEY_ID: &str = "2.5.29.14";
const AUTHORITY_KEY_ID: &str = "2.5.29.35";
const SUBJECT_ALT_NAME: &str = "2.5.29.17";
const POLICY_CONSTRAINTS: &str = "2.5.29.36";

/// Validates the generated chain (revocation off: these cases are about the profile).
fn outcome_with(spec: &ChainSpec, exceptions: ProfileExceptions) -> Result<(), String> {
    let pki = TestPki::three_level(spec).expect("generate test PKI");
    let parse = |der: &[u8]| Certificate::from_der(der).expect("generated certificate parses");
    let mut trust = TrustStore::new();
    trust.add(parse(&pki.root.der), CaKind::Root);
    let intermediates = [parse(&pki.intermediate.der)];
    let leaf = parse(&pki.leaf.der);
    let policy = ValidationPolicy {
        revocation: RevocationDepth::Off,
        profile_exceptions: exceptions,
        ..ValidationPolicy::default()
    };
    validate(
        &leaf,
        &intermediates,
        &trust,
        &RevocationSnapshot::new(Vec::new()),
        &policy,
        NOW,
    )
    .map(drop)
    .map_err(|r| r.code().to_string())
}

fn outcome(spec: &ChainSpec) -> Result<(), String> {
    outcome_with(spec, ProfileExceptions::default())
}

fn root_edits(edits: Vec<Edit>) -> ChainSpec {
    ChainSpec {
        root_edits: edits,
        ..ChainSpec::default()
    }
}

fn intermediate_edits(edits: Vec<Edit>) -> ChainSpec {
    ChainSpec {
        intermediate_edits: edits,
        ..ChainSpec::default()
    }
}

fn leaf_edits(edits: Vec<Edit>) -> ChainSpec {
    ChainSpec {
        leaf_edits: edits,
        ..ChainSpec::default()
    }
}

fn expect_code(spec: &ChainSpec, code: &str) {
    assert_eq!(outcome(spec), Err(code.to_string()));
}

#[test]
fn the_unedited_chain_validates() {
    assert_eq!(outcome(&ChainSpec::default()), Ok(()));
}

// ---- Item 3: the trust anchor (RFC 5280 §6.1.1 (d) with the §4 CA profile) -------------------

/// RFC 5280 §4.2.1.9: a CA certificate carries basicConstraints with cA.
#[test]
fn rfc5280_4_2_1_9_anchor_without_basic_constraints_is_not_a_ca() {
    expect_code(
        &root_edits(vec![Edit::RemoveExtension(BASIC_CONSTRAINTS)]),
        "anchor-not-a-ca",
    );
    expect_code(
        &root_edits(vec![
            Edit::RemoveExtension(BASIC_CONSTRAINTS),
            Edit::AddExtension {
                oid: BASIC_CONSTRAINTS,
                critical: true,
                value: vec![0x30, 0x00], // cA DEFAULT FALSE
            },
        ]),
        "anchor-not-a-ca",
    );
}

/// RFC 5280 §4.2.1.9: basicConstraints MUST be critical in a CA certificate (anchor);
/// `insecure_allow_non_critical_basic_constraints` accepts it.
#[test]
fn rfc5280_4_2_1_9_anchor_basic_constraints_must_be_critical() {
    let spec = root_edits(vec![Edit::SetCritical(BASIC_CONSTRAINTS, false)]);
    expect_code(&spec, "extension-criticality-invalid");
    let exceptions = ProfileExceptions {
        insecure_allow_non_critical_basic_constraints: true,
        ..ProfileExceptions::default()
    };
    assert_eq!(outcome_with(&spec, exceptions), Ok(()));
}

/// RFC 5280 §4.2.1.3: a CA's keyUsage is present and allows keyCertSign;
/// `insecure_allow_anchor_without_key_usage` accepts an absent one.
#[test]
fn rfc5280_4_2_1_3_anchor_key_usage_must_allow_key_cert_sign() {
    let crl_sign_only = root_edits(vec![
        Edit::RemoveExtension(KEY_USAGE),
        Edit::AddExtension {
            oid: KEY_USAGE,
            critical: true,
            value: vec![0x03, 0x02, 0x01, 0x02], // cRLSign only
        },
    ]);
    expect_code(&crl_sign_only, "anchor-key-usage-invalid");
    let absent = root_edits(vec![Edit::RemoveExtension(KEY_USAGE)]);
    expect_code(&absent, "anchor-key-usage-invalid");
    let exceptions = ProfileExceptions {
        insecure_allow_anchor_without_key_usage: true,
        ..ProfileExceptions::default()
    };
    assert_eq!(outcome_with(&absent, exceptions), Ok(()));
    assert_eq!(
        outcome_with(&crl_sign_only, exceptions),
        Err("anchor-key-usage-invalid".into())
    );
}

/// RFC 5280 §4.2: an unknown critical extension in the anchor is not ignored.
#[test]
fn rfc5280_4_2_anchor_with_unknown_critical_extension_is_refused() {
    expect_code(
        &root_edits(vec![Edit::AddExtension {
            oid: "1.3.6.1.4.1.55555.1",
            critical: true,
            value: vec![0x05, 0x00],
        }]),
        "unknown-critical-extension",
    );
}

/// RFC 5280 §4.2.1.2: the anchor, a CA certificate, carries a subjectKeyIdentifier.
#[test]
fn rfc5280_4_2_1_2_anchor_without_subject_key_id() {
    expect_code(
        &root_edits(vec![Edit::RemoveExtension(SUBJECT_KEY_ID)]),
        "subject-key-id-missing",
    );
}

/// RFC 5280 §4.2.1.1: an authorityKeyIdentifier, where present (also in a self-signed
/// anchor), is non-critical.
#[test]
fn rfc5280_4_2_1_1_anchor_authority_key_id_must_not_be_critical() {
    let aki = |critical| Edit::AddExtension {
        oid: AUTHORITY_KEY_ID,
        critical,
        value: vec![0x30, 0x06, 0x80, 0x04, 1, 2, 3, 4],
    };
    expect_code(
        &root_edits(vec![aki(true)]),
        "extension-criticality-invalid",
    );
    assert_eq!(outcome(&root_edits(vec![aki(false)])), Ok(()));
}

/// RFC 5280 §4.1.2.6: a CA's subject is a non-empty name (checked on the anchor directly:
/// nothing chains to an empty name).
#[test]
fn rfc5280_4_1_2_6_anchor_with_empty_subject() {
    let pki = TestPki::three_level(&root_edits(vec![Edit::EmptySubject])).expect("generate");
    let root = Certificate::from_der(&pki.root.der).expect("parses");
    let refused = check_trust_anchor(
        &root,
        &AlgorithmPolicy::default(),
        &ProfileExceptions::default(),
    )
    .expect_err("empty subject refused");
    assert_eq!(refused.code(), "ca-subject-empty");
}

/// The anchor's key is held to the algorithm policy like every other CA key (RSA-1024 is
/// below the default 2048-bit minimum). On a path the first signature check refuses it too;
/// `check_trust_anchor` (what `certgate ca add` runs) refuses it before any path exists.
#[test]
fn anchor_key_below_the_algorithm_policy_is_refused() {
    let spec = root_edits(vec![Edit::SubjectPublicKeyInfo(
        weak_keys::RSA_1024.to_vec(),
    )]);
    expect_code(&spec, "weak-key");
    let pki = TestPki::three_level(&spec).expect("generate");
    let root = Certificate::from_der(&pki.root.der).expect("parses");
    let refused = check_trust_anchor(
        &root,
        &AlgorithmPolicy::default(),
        &ProfileExceptions::default(),
    )
    .expect_err("weak anchor key refused");
    assert_eq!(refused.code(), "weak-key");
}

// ---- Item 4: every certificate of the path (RFC 5280 §4) -------------------------------------

/// RFC 5280 §4.2.1.1: every certificate that is not self-signed carries an AKI keyIdentifier;
/// `insecure_allow_missing_key_identifiers` accepts one without.
#[test]
fn rfc5280_4_2_1_1_authority_key_id_required_below_the_anchor() {
    let leaf = leaf_edits(vec![Edit::RemoveExtension(AUTHORITY_KEY_ID)]);
    expect_code(&leaf, "authority-key-id-missing");
    expect_code(
        &intermediate_edits(vec![Edit::RemoveExtension(AUTHORITY_KEY_ID)]),
        "authority-key-id-missing",
    );
    let exceptions = ProfileExceptions {
        insecure_allow_missing_key_identifiers: true,
        ..ProfileExceptions::default()
    };
    assert_eq!(outcome_with(&leaf, exceptions), Ok(()));
}

/// RFC 5280 §4.2.1.2: every CA certificate carries a subjectKeyIdentifier.
#[test]
fn rfc5280_4_2_1_2_subject_key_id_required_in_intermediate() {
    expect_code(
        &intermediate_edits(vec![Edit::RemoveExtension(SUBJECT_KEY_ID)]),
        "subject-key-id-missing",
    );
}

/// RFC 5280 §4.2.1.1 / §4.2.1.2: AKI and SKI are marked non-critical.
#[test]
fn rfc5280_4_2_1_1_and_4_2_1_2_key_identifiers_must_not_be_critical() {
    expect_code(
        &leaf_edits(vec![Edit::SetCritical(AUTHORITY_KEY_ID, true)]),
        "extension-criticality-invalid",
    );
    expect_code(
        &intermediate_edits(vec![Edit::SetCritical(SUBJECT_KEY_ID, true)]),
        "extension-criticality-invalid",
    );
}

/// RFC 5280 §4.2.1.11: policyConstraints is marked critical;
/// `insecure_allow_non_critical_policy_constraints` accepts a non-critical one (as PKITS needs).
#[test]
fn rfc5280_4_2_1_11_policy_constraints_must_be_critical() {
    let constraints = |critical| {
        intermediate_edits(vec![Edit::AddExtension {
            oid: POLICY_CONSTRAINTS,
            critical,
            value: vec![0x30, 0x03, 0x81, 0x01, 0x05], // inhibitPolicyMapping 5
        }])
    };
    expect_code(&constraints(false), "extension-criticality-invalid");
    assert_eq!(outcome(&constraints(true)), Ok(()));
    let exceptions = ProfileExceptions {
        insecure_allow_non_critical_policy_constraints: true,
        ..ProfileExceptions::default()
    };
    assert_eq!(outcome_with(&constraints(false), exceptions), Ok(()));
}

/// RFC 5280 §4.2.1.3: keyCertSign only with basicConstraints cA.
#[test]
fn rfc5280_4_2_1_3_key_cert_sign_on_end_entity() {
    expect_code(
        &leaf_edits(vec![
            Edit::RemoveExtension(KEY_USAGE),
            Edit::AddExtension {
                oid: KEY_USAGE,
                critical: true,
                value: vec![0x03, 0x02, 0x02, 0x84], // digitalSignature | keyCertSign
            },
        ]),
        "key-cert-sign-on-end-entity",
    );
}

/// RFC 5280 §4.1.2.6 / §4.2.1.6: with an empty subject, the subjectAltName is critical.
#[test]
fn rfc5280_4_1_2_6_san_must_be_critical_when_the_subject_is_empty() {
    expect_code(
        &leaf_edits(vec![Edit::EmptySubject]),
        "san-not-critical-with-empty-subject",
    );
    expect_code(
        &ChainSpec {
            upn: None,
            email: None,
            leaf_edits: vec![Edit::EmptySubject],
            ..ChainSpec::default()
        },
        "san-not-critical-with-empty-subject",
    );
    assert_eq!(
        outcome(&leaf_edits(vec![
            Edit::EmptySubject,
            Edit::SetCritical(SUBJECT_ALT_NAME, true)
        ])),
        Ok(())
    );
}

/// RFC 5280 §4.2.1.6 with RFC 1034 §3.5 / RFC 1123 §2.1: dNSNames are in preferred name
/// syntax (no underscores); a leading `*.` label is syntax the purpose decides about.
#[test]
fn rfc5280_4_2_1_6_dns_names_use_preferred_name_syntax() {
    let dns = |names: &[&str]| ChainSpec {
        leaf_dns_names: names.iter().map(|n| n.to_string()).collect(),
        ..ChainSpec::default()
    };
    expect_code(&dns(&["host_1.corp.example"]), "dns-name-invalid");
    expect_code(&dns(&["host..corp.example"]), "dns-name-invalid");
    assert_eq!(
        outcome(&dns(&["host-1.corp.example", "*.corp.example"])),
        Ok(())
    );
}

/// RFC 5280 §4.1.2.2: the serial number is positive and at most 20 octets;
/// `insecure_allow_nonconforming_serial_numbers` accepts others.
#[test]
fn rfc5280_4_1_2_2_serial_numbers_are_positive_and_short() {
    for serial in [vec![0x00], vec![0xff, 0x01], vec![0x01; 21]] {
        let spec = leaf_edits(vec![Edit::Serial(serial.clone())]);
        expect_code(&spec, "serial-invalid");
        let exceptions = ProfileExceptions {
            insecure_allow_nonconforming_serial_numbers: true,
            ..ProfileExceptions::default()
        };
        assert_eq!(outcome_with(&spec, exceptions), Ok(()), "{serial:02x?}");
    }
    let mut twenty = vec![0x00, 0xff];
    twenty.extend([0x11; 19]);
    assert_eq!(outcome(&leaf_edits(vec![Edit::Serial(twenty)])), Ok(()));
}

/// RFC 5280 §5.2.3: conforming CRL issuers mark the cRLNumber extension non-critical.
#[test]
fn rfc5280_5_2_3_crl_number_must_not_be_critical() {
    let pki = TestPki::three_level(&ChainSpec::default()).expect("generate");
    let crl = TestPki::crl(&pki.intermediate, &CrlSpec::default()).expect("CRL");
    assert!(Crl::from_der(crl.clone()).is_ok());
    let critical = certgate_testpki::edit_crl(
        &crl,
        &pki.intermediate.key_pkcs8_der,
        &[Edit::SetCritical("2.5.29.20", true)],
    )
    .expect("edit CRL");
    assert_eq!(
        Crl::from_der(critical).expect_err("refused").code(),
        "crl-number-critical"
    );
}

// ---- Item 5: the end entity's key --------------------------------------------------------------

/// The end entity's key meets the algorithm policy like every CA key: RSA-1024, P-192 and DSA
/// client certificates are refused.
#[test]
fn end_entity_key_is_checked_against_the_algorithm_policy() {
    for (spki, code) in [
        (weak_keys::RSA_1024, "weak-key"),
        (weak_keys::EC_P192, "public-key-unsupported"),
        (weak_keys::DSA_1024, "public-key-unsupported"),
    ] {
        expect_code(
            &leaf_edits(vec![Edit::SubjectPublicKeyInfo(spki.to_vec())]),
            code,
        );
    }
}

/// The surgery itself: an edit that changes nothing still gives a certificate that validates.
#[test]
fn re_signing_without_changes_keeps_the_chain_valid() {
    let pki = TestPki::three_level(&ChainSpec::default()).expect("generate");
    let again =
        edit_certificate(&pki.leaf.der, &pki.intermediate.key_pkcs8_der, &[]).expect("re-sign");
    assert!(Certificate::from_der(&again).is_ok());
    assert_eq!(
        outcome(&leaf_edits(vec![Edit::SetCritical(
            SUBJECT_ALT_NAME,
            false
        )])),
        Ok(())
    );
}
