//! `Purpose::ServerAuth` (`certgate verify --purpose server`) applies the CA/Browser Forum TLS
//! server certificate profile to the end entity (Baseline Requirements §7.1.2.7, §7.1.4,
//! §3.2.2.6). One generated case per rule; each is accepted by RFC 5280 path validation alone.

use std::net::IpAddr;

use certgate_pki::{
    validate, CaKind, Certificate, Purpose, Rejection, RevocationDepth, RevocationSnapshot,
    TrustStore, UnixTime, ValidationPolicy,
};
use certgate_testpki::{ChainSpec, ExtendedKeyUsagePurpose, KeyKind, RawExtension, TestPki};

/// 2026-01-01T00:00:00Z: inside every generated validity period.
const NOW: UnixTime = UnixTime(1_767_225_600);

const OID_EKU: &[u64] = &[2, 5, 29, 37];
const OID_SAN: &[u64] = &[2, 5, 29, 17];
const OID_AIA: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];

/// A leaf the server profile accepts: CN = the one dNSName SAN, EKU serverAuth only.
fn server_spec(name: &str) -> ChainSpec {
    ChainSpec {
        key: KeyKind::Ed25519,
        leaf_common_name: name.into(),
        upn: None,
        email: None,
        leaf_dns_names: vec![name.into()],
        leaf_ekus: vec![ExtendedKeyUsagePurpose::ServerAuth],
        ..ChainSpec::default()
    }
}

fn check(spec: &ChainSpec, purpose: Purpose) -> Result<(), Rejection> {
    let pki = TestPki::three_level(spec).expect("generate test PKI");
    let parse = |der: &[u8]| Certificate::from_der(der).expect("generated certificate parses");
    let (root, intermediate, leaf) = (
        parse(&pki.root.der),
        parse(&pki.intermediate.der),
        parse(&pki.leaf.der),
    );
    let mut trust = TrustStore::new();
    trust.add(root, CaKind::Root);
    let policy = ValidationPolicy {
        purpose,
        revocation: RevocationDepth::Off,
        ..ValidationPolicy::default()
    };
    let snapshot = RevocationSnapshot::new(Vec::new());
    validate(
        &leaf,
        std::slice::from_ref(&intermediate),
        &trust,
        &snapshot,
        &policy,
        NOW,
    )
    .map(|_| ())
}

fn server(spec: &ChainSpec) -> Result<(), Rejection> {
    check(spec, Purpose::ServerAuth)
}

#[track_caller]
fn assert_rejected(spec: &ChainSpec, code: &str) {
    match server(spec) {
        Ok(()) => panic!("expected {code}, the server profile accepted the certificate"),
        Err(rejection) => {
            assert_eq!(rejection.code(), code, "{rejection}");
            assert_eq!(
                rejection.depth,
                Some(0),
                "the end entity is named: {rejection}"
            );
        }
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

fn oid_der(content: &[u8]) -> Vec<u8> {
    tlv(0x06, content)
}

/// id-kp-serverAuth 1.3.6.1.5.5.7.3.1, id-ad-ocsp ...48.1, id-ad-caIssuers ...48.2 (content).
const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
const AD_OCSP: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
const AD_CA_ISSUERS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];

fn access_description(method: &[u8], location: Vec<u8>) -> Vec<u8> {
    tlv(0x30, &[oid_der(method), location].concat())
}

fn uri(text: &str) -> Vec<u8> {
    tlv(0x86, text.as_bytes())
}

fn with_aia(value: Vec<u8>) -> ChainSpec {
    ChainSpec {
        leaf_extensions: vec![RawExtension {
            oid: OID_AIA.to_vec(),
            critical: false,
            value,
        }],
        ..server_spec("www.corp.example")
    }
}

#[test]
fn a_certificate_in_the_server_profile_is_accepted() {
    server(&server_spec("www.corp.example")).expect("in profile");
    // BR §7.1.4.3: the CN may be an IP address SAN in its textual form.
    let ip: IpAddr = "192.0.2.10".parse().expect("ip");
    server(&ChainSpec {
        leaf_common_name: "192.0.2.10".into(),
        leaf_dns_names: Vec::new(),
        leaf_ip_addresses: vec![ip],
        ..server_spec("unused.corp.example")
    })
    .expect("IP CN in the SAN");
    let ip6: IpAddr = "2001:db8::1".parse().expect("ip");
    server(&ChainSpec {
        leaf_common_name: "2001:db8::1".into(),
        leaf_dns_names: vec!["www.corp.example".into()],
        leaf_ip_addresses: vec![ip6],
        ..server_spec("unused.corp.example")
    })
    .expect("IPv6 CN in the SAN");
    // DNS names compare case-insensitively.
    server(&ChainSpec {
        leaf_common_name: "WWW.Corp.Example".into(),
        ..server_spec("www.corp.example")
    })
    .expect("CN differs from the SAN in case only");
    // serverAuth together with clientAuth is allowed (BR §7.1.2.7.10).
    server(&ChainSpec {
        leaf_ekus: vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        ..server_spec("www.corp.example")
    })
    .expect("serverAuth + clientAuth");
    // A wildcard below a registrable domain, and directly below a PRIVATE-section suffix
    // (the BRs §3.2.2.6 say to consult the ICANN section only).
    server(&server_spec("*.corp.example.com")).expect("wildcard under a registrable domain");
    server(&server_spec("*.github.io")).expect("private-section suffix is not a public suffix");
    // A well-formed AIA: OCSP and caIssuers, each a URI (BR §7.1.2.7.7).
    server(&with_aia(tlv(
        0x30,
        &[
            access_description(AD_OCSP, uri("http://ocsp.corp.example")),
            access_description(AD_CA_ISSUERS, uri("http://pki.corp.example/ca.crt")),
        ]
        .concat(),
    )))
    .expect("well-formed AIA");
}

#[test]
fn br_7_1_4_3_common_name_must_be_one_of_the_san_entries() {
    assert_rejected(
        &ChainSpec {
            leaf_common_name: "other.corp.example".into(),
            ..server_spec("www.corp.example")
        },
        "server-cn-not-in-san",
    );
    // An IP address CN must be an iPAddress SAN, not merely text.
    assert_rejected(
        &ChainSpec {
            leaf_common_name: "192.0.2.10".into(),
            ..server_spec("www.corp.example")
        },
        "server-cn-not-in-san",
    );
}

#[test]
fn br_7_1_2_7_12_subject_alt_name_must_be_present() {
    assert_rejected(
        &ChainSpec {
            leaf_dns_names: Vec::new(),
            ..server_spec("www.corp.example")
        },
        "server-san-missing",
    );
}

#[test]
fn br_7_1_2_7_10_extended_key_usage_must_be_present() {
    assert_rejected(
        &ChainSpec {
            leaf_ekus: Vec::new(),
            ..server_spec("www.corp.example")
        },
        "server-eku-missing",
    );
}

#[test]
fn br_7_1_2_7_6_extended_key_usage_must_not_be_critical() {
    assert_rejected(
        &ChainSpec {
            leaf_ekus: Vec::new(),
            leaf_extensions: vec![RawExtension {
                oid: OID_EKU.to_vec(),
                critical: true,
                value: tlv(0x30, &oid_der(SERVER_AUTH)),
            }],
            ..server_spec("www.corp.example")
        },
        "server-eku-critical",
    );
}

#[test]
fn br_7_1_2_7_10_any_extended_key_usage_is_refused() {
    assert_rejected(
        &ChainSpec {
            leaf_ekus: vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::Any,
            ],
            ..server_spec("www.corp.example")
        },
        "server-eku-any",
    );
    assert_rejected(
        &ChainSpec {
            leaf_ekus: vec![ExtendedKeyUsagePurpose::Any],
            ..server_spec("www.corp.example")
        },
        "server-eku-any",
    );
}

#[test]
fn br_7_1_2_7_8_basic_constraints_ca_must_be_false() {
    assert_rejected(
        &ChainSpec {
            leaf_is_ca: true,
            ..server_spec("www.corp.example")
        },
        "server-ca-leaf",
    );
}

#[test]
fn br_7_1_2_7_7_and_rfc_5280_4_2_2_1_authority_information_access_must_be_well_formed() {
    // AuthorityInfoAccessSyntax is SEQUENCE SIZE (1..MAX).
    assert_rejected(&with_aia(tlv(0x30, &[])), "aia-malformed");
    // Not DER at all.
    assert_rejected(&with_aia(vec![0x30, 0x05, 0x01]), "aia-malformed");
    // caIssuers and OCSP locations are uniformResourceIdentifiers.
    assert_rejected(
        &with_aia(tlv(
            0x30,
            &access_description(AD_CA_ISSUERS, tlv(0x82, b"pki.corp.example")),
        )),
        "aia-malformed",
    );
}

#[test]
fn rfc_5280_4_2_1_6_san_must_not_be_critical_when_the_subject_is_not_empty() {
    assert_rejected(
        &ChainSpec {
            leaf_dns_names: Vec::new(),
            leaf_extensions: vec![RawExtension {
                oid: OID_SAN.to_vec(),
                critical: true,
                value: tlv(0x30, &tlv(0x82, b"www.corp.example")),
            }],
            ..server_spec("www.corp.example")
        },
        "san-critical-with-subject",
    );
}

#[test]
fn br_3_2_2_6_wildcard_directly_under_a_public_suffix_is_refused() {
    // "*.local": an unlisted TLD is a public suffix by the PSL's default rule "*".
    for name in ["*.co.uk", "*.com", "*.COM", "*.local"] {
        assert_rejected(&server_spec(name), "wildcard-under-public-suffix");
    }
    // With a trailing dot the name is refused before, for every purpose: it is not in
    // preferred name syntax (RFC 5280 §4.2.1.6).
    assert_rejected(&server_spec("*.com."), "dns-name-invalid");
    // A wildcard SAN that is not the CN is checked too.
    assert_rejected(
        &ChainSpec {
            leaf_dns_names: vec!["www.corp.example".into(), "*.co.uk".into()],
            ..server_spec("www.corp.example")
        },
        "wildcard-under-public-suffix",
    );
}

#[test]
fn br_7_1_2_7_12_wildcard_only_as_the_whole_leftmost_label() {
    for name in [
        "w*.corp.example",
        "www.*.corp.example",
        "*.*.corp.example",
        "*",
    ] {
        // Refused for every purpose by the RFC 5280 §4.2.1.6 preferred-name syntax check,
        // which accepts `*` only as the whole leftmost label; the server profile's own
        // wildcard rule (`server-wildcard-invalid`) stays behind it as a second line.
        assert_rejected(&server_spec(name), "dns-name-invalid");
    }
}

#[test]
fn client_purpose_keeps_the_client_profile() {
    // A client certificate with anyExtendedKeyUsage, no DNS SAN and a CN that is a person's
    // name: fine for --purpose client, outside the server profile.
    let spec = ChainSpec {
        key: KeyKind::Ed25519,
        leaf_ekus: vec![
            ExtendedKeyUsagePurpose::ClientAuth,
            ExtendedKeyUsagePurpose::Any,
        ],
        ..ChainSpec::default()
    };
    check(&spec, Purpose::ClientAuth).expect("client profile");
    check(&spec, Purpose::Any).expect("no profile");
    assert!(server(&spec).is_err());
}
