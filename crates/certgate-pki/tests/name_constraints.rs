//! Name constraints on generated PKIs (certgate-testpki, fixed times): the trust anchor's own
//! constraints (RFC 5280 §6.2), the extension's form (§4.2.1.10) and the work budget.

use certgate_pki::{
    validate, CaKind, Certificate, PathBudget, Rejection, RevocationDepth, RevocationSnapshot,
    TrustStore, UnixTime, ValidationPolicy,
};
use certgate_testpki::der::{self, Base};
use certgate_testpki::{ChainSpec, KeyKind, RawExtension, TestPki, VALIDATION_TIME};

const NOW: UnixTime = UnixTime(VALIDATION_TIME);

struct Chain {
    root: Certificate,
    intermediate: Certificate,
    leaf: Certificate,
}

fn chain(spec: &ChainSpec) -> Chain {
    let pki = TestPki::three_level(spec).expect("generate test PKI");
    let parse = |der: &[u8]| Certificate::from_der(der).expect("generated certificate parses");
    Chain {
        root: parse(&pki.root.der),
        intermediate: parse(&pki.intermediate.der),
        leaf: parse(&pki.leaf.der),
    }
}

/// A leaf with these dNSNames (and the default UPN and e-mail alice@corp.example).
fn spec(dns_names: &[&str]) -> ChainSpec {
    ChainSpec {
        leaf_dns_names: dns_names.iter().map(|s| s.to_string()).collect(),
        ..ChainSpec::with_key(KeyKind::EcdsaP256)
    }
}

fn name_constraints(critical: bool, value: Vec<u8>) -> RawExtension {
    RawExtension {
        oid: der::NAME_CONSTRAINTS_OID.to_vec(),
        critical,
        value,
    }
}

fn permitting(bases: &[Base]) -> RawExtension {
    let subtrees: Vec<Vec<u8>> = bases.iter().map(der::subtree).collect();
    name_constraints(true, der::name_constraints(Some(&subtrees), None))
}

fn excluding(bases: &[Base]) -> RawExtension {
    let subtrees: Vec<Vec<u8>> = bases.iter().map(der::subtree).collect();
    name_constraints(true, der::name_constraints(None, Some(&subtrees)))
}

fn dns(s: &str) -> Base {
    Base::Dns(s.into())
}

fn policy() -> ValidationPolicy {
    ValidationPolicy {
        revocation: RevocationDepth::Off,
        ..ValidationPolicy::default()
    }
}

/// Validates with the root trusted and the intermediate presented.
fn run(c: &Chain, policy: &ValidationPolicy) -> Result<(), Rejection> {
    let mut store = TrustStore::new();
    store.add(c.root.clone(), CaKind::Root);
    let snapshot = RevocationSnapshot::new(Vec::new());
    validate(
        &c.leaf,
        std::slice::from_ref(&c.intermediate),
        &store,
        &snapshot,
        policy,
        NOW,
    )
    .map(|_| ())
}

fn code(result: Result<(), Rejection>) -> String {
    match result {
        Ok(()) => "accepted".into(),
        Err(rejection) => rejection.code().into(),
    }
}

// ---- RFC 5280 §6.2: the trust anchor's constraints ------------------------------------------

/// RFC 5280 §6.2: name constraints in the trusted root bound every certificate below it.
#[test]
fn rfc5280_6_2_root_name_constraints_constrain_the_whole_path() {
    let root_nc = vec![permitting(&[dns("corp.example")])];
    let inside = chain(&ChainSpec {
        root_extensions: root_nc.clone(),
        ..spec(&["host.corp.example"])
    });
    assert_eq!(code(run(&inside, &policy())), "accepted");
    let outside = chain(&ChainSpec {
        root_extensions: root_nc,
        ..spec(&["host.corp.example", "evil.example"])
    });
    let rejection =
        run(&outside, &policy()).expect_err("evil.example is outside the root's subtree");
    assert_eq!(rejection.code(), "name-constraints-violated");
    assert_eq!(rejection.depth, Some(0));
    assert!(rejection.reason.to_string().contains("evil.example"));
}

/// RFC 5280 §6.2: the root's excluded subtrees apply too.
#[test]
fn rfc5280_6_2_root_excluded_subtrees_constrain_the_whole_path() {
    let c = chain(&ChainSpec {
        root_extensions: vec![excluding(&[dns("blocked.example")])],
        ..spec(&["www.blocked.example"])
    });
    assert_eq!(code(run(&c, &policy())), "name-constraints-violated");
}

/// RFC 5280 §6.1.4 (g) with a trusted intermediate the client did not send: its constraints
/// apply to the leaf exactly as when it is presented.
#[test]
fn rfc5280_6_1_4_trusted_intermediate_name_constraints_constrain_the_leaf() {
    let c = chain(&ChainSpec {
        intermediate_extensions: vec![permitting(&[dns("corp.example")])],
        ..spec(&["evil.example"])
    });
    let mut store = TrustStore::new();
    store.add(c.root.clone(), CaKind::Root);
    store.add(c.intermediate.clone(), CaKind::Intermediate);
    let snapshot = RevocationSnapshot::new(Vec::new());
    let result = validate(&c.leaf, &[], &store, &snapshot, &policy(), NOW).map(|_| ());
    assert_eq!(code(result), "name-constraints-violated");
}

// ---- RFC 5280 §4.2.1.10: leading-period semantics --------------------------------------------

/// RFC 5280 §4.2.1.10 / CA/B Forum BRs 7.1.2.10.8 as webpki and pyca read them: a dNSName
/// constraint `.corp.example` permits subdomains only, `corp.example` the domain and its
/// subdomains. Set in the root, so this also needs §6.2.
#[test]
fn rfc5280_4_2_1_10_leading_period_dns_constraint_permits_subdomains_only() {
    let leading = vec![permitting(&[dns(".corp.example")])];
    let apex = chain(&ChainSpec {
        root_extensions: leading.clone(),
        ..spec(&["corp.example"])
    });
    assert_eq!(code(run(&apex, &policy())), "name-constraints-violated");
    let below = chain(&ChainSpec {
        root_extensions: leading,
        ..spec(&["host.corp.example"])
    });
    assert_eq!(code(run(&below, &policy())), "accepted");
    let plain = chain(&ChainSpec {
        root_extensions: vec![permitting(&[dns("corp.example")])],
        ..spec(&["corp.example"])
    });
    assert_eq!(code(run(&plain, &policy())), "accepted");
}

/// RFC 5280 §4.2.1.10: an rfc822Name constraint `.corp.example` means mailboxes in
/// subdomains, so alice@corp.example lies outside it; `corp.example` means that host.
#[test]
fn rfc5280_4_2_1_10_leading_period_email_constraint_permits_subdomain_mailboxes_only() {
    let leading = chain(&ChainSpec {
        root_extensions: vec![permitting(&[Base::Email(".corp.example".into())])],
        ..spec(&[])
    });
    assert_eq!(code(run(&leading, &policy())), "name-constraints-violated");
    let host = chain(&ChainSpec {
        root_extensions: vec![permitting(&[Base::Email("corp.example".into())])],
        ..spec(&[])
    });
    assert_eq!(code(run(&host, &policy())), "accepted");
}

// ---- RFC 5280 §4.2.1.10: the extension's form -----------------------------------------------

/// RFC 5280 §4.2.1.10: "Conforming CAs MUST mark this extension as critical".
#[test]
fn rfc5280_4_2_1_10_non_critical_name_constraints_are_rejected() {
    let value = der::name_constraints(Some(&[der::subtree(&dns("corp.example"))]), None);
    let in_intermediate = chain(&ChainSpec {
        intermediate_extensions: vec![name_constraints(false, value.clone())],
        ..spec(&["host.corp.example"])
    });
    let rejection = run(&in_intermediate, &policy()).expect_err("non-critical nameConstraints");
    assert_eq!(rejection.code(), "name-constraints-not-critical");
    assert_eq!(rejection.depth, Some(1));
    let in_root = chain(&ChainSpec {
        root_extensions: vec![name_constraints(false, value)],
        ..spec(&["host.corp.example"])
    });
    let rejection = run(&in_root, &policy()).expect_err("non-critical nameConstraints in root");
    assert_eq!(rejection.code(), "name-constraints-not-critical");
    assert_eq!(rejection.depth, Some(2));
}

/// RFC 5280 §4.2.1.10: name constraints "MUST be used only in a CA certificate".
#[test]
fn rfc5280_4_2_1_10_name_constraints_in_end_entity_are_rejected() {
    let c = chain(&ChainSpec {
        leaf_extensions: vec![permitting(&[dns("corp.example")])],
        ..spec(&["host.corp.example"])
    });
    let rejection = run(&c, &policy()).expect_err("nameConstraints in a leaf");
    assert_eq!(rejection.code(), "name-constraints-in-end-entity");
    assert_eq!(rejection.depth, Some(0));
}

fn malformed_intermediate(value: Vec<u8>) -> String {
    let c = chain(&ChainSpec {
        intermediate_extensions: vec![name_constraints(true, value)],
        ..spec(&["host.corp.example"])
    });
    code(run(&c, &policy()))
}

/// RFC 5280 §4.2.1.10: "Conforming CAs MUST NOT issue certificates where name constraints
/// is an empty sequence. That is, either the permittedSubtrees field or the excludedSubtrees
/// MUST be present."
#[test]
fn rfc5280_4_2_1_10_name_constraints_with_neither_subtree_list_are_malformed() {
    assert_eq!(
        malformed_intermediate(der::name_constraints(None, None)),
        "name-constraints-malformed"
    );
}

/// RFC 5280 §4.2.1.10: GeneralSubtrees ::= SEQUENCE SIZE (1..MAX): a present but empty
/// permittedSubtrees or excludedSubtrees is malformed (an empty permitted list must not be
/// read as "no restriction").
#[test]
fn rfc5280_4_2_1_10_empty_subtree_lists_are_malformed() {
    let one = [der::subtree(&dns("corp.example"))];
    assert_eq!(
        malformed_intermediate(der::name_constraints(Some(&[]), None)),
        "name-constraints-malformed"
    );
    assert_eq!(
        malformed_intermediate(der::name_constraints(None, Some(&[]))),
        "name-constraints-malformed"
    );
    assert_eq!(
        malformed_intermediate(der::name_constraints(Some(&one), Some(&[]))),
        "name-constraints-malformed"
    );
    // The control: the same extension with a non-empty list is accepted.
    assert_eq!(
        malformed_intermediate(der::name_constraints(Some(&one), None)),
        "accepted"
    );
}

/// RFC 5280 §4.2.1.10: "the minimum MUST be zero, and maximum MUST be absent" (in DER a zero
/// minimum is not encoded; CA/B Forum BRs 7.1.2.10.8: neither "MUST be present").
#[test]
fn rfc5280_4_2_1_10_subtree_minimum_or_maximum_is_malformed() {
    let base = dns("corp.example").der();
    let with_minimum = der::tlv(0x30, &[base.clone(), vec![0x80, 0x01, 0x01]].concat());
    let with_maximum = der::tlv(0x30, &[base, vec![0x81, 0x01, 0x05]].concat());
    for subtree in [with_minimum, with_maximum] {
        assert_eq!(
            malformed_intermediate(der::name_constraints(Some(&[subtree]), None)),
            "name-constraints-malformed"
        );
    }
}

// ---- Budget ---------------------------------------------------------------------------------

/// A certificate with many names under a CA with many subtrees costs names × subtrees
/// comparisons; past the budget (default 250,000, as webpki and pyca) it is rejected with its
/// own code instead of being matched.
#[test]
fn name_constraint_work_beyond_the_budget_is_rejected() {
    let excluded: Vec<Base> = (0..500)
        .map(|i| dns(&format!("blocked{i}.example")))
        .collect();
    let names: Vec<String> = (0..600).map(|i| format!("host{i}.corp.example")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let c = chain(&ChainSpec {
        intermediate_extensions: vec![excluding(&excluded)],
        ..spec(&names)
    });
    // (1 DN + 602 SAN entries) × 500 subtrees = 301,500 > 250,000.
    let rejection = run(&c, &policy()).expect_err("over the default budget");
    assert_eq!(rejection.code(), "name-constraints-budget-exceeded");
    assert_eq!(rejection.depth, Some(0));
    // The same path within a larger budget is matched, and passes.
    let generous = ValidationPolicy {
        budget: PathBudget {
            max_name_constraint_checks: 400_000,
            ..PathBudget::default()
        },
        ..policy()
    };
    assert_eq!(code(run(&c, &generous)), "accepted");
    // And a small certificate stays far inside the default.
    let small = chain(&ChainSpec {
        intermediate_extensions: vec![excluding(&excluded)],
        ..spec(&["host.corp.example"])
    });
    assert_eq!(code(run(&small, &policy())), "accepted");
}
