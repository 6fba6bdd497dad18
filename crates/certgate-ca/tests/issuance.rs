//! A new hierarchy and the client certificates it issues: their profile, and that certgate-pki
//! and OpenSSL accept them for client authentication.

mod common;

use certgate_ca::{create_hierarchy, issue_client_certificate, Authority, CaError, KeyAlgorithm};
use certgate_pki::{
    BasicConstraints, DistributionPointName, GeneralName, Identity, KeyUsage, RevocationDepth,
    UnixTime,
};
use common::*;
use time::Duration;

#[test]
fn issued_client_certificate_validates_for_client_auth_with_and_without_revocation_checking() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);

    validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Off,
        &[],
    )
    .expect("valid without revocation checking");
    let root_crl = empty_crl(&hierarchy.root);
    let issuing_crl = empty_crl(&hierarchy.issuing);
    validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Chain,
        &[&root_crl, &issuing_crl],
    )
    .expect("valid with an empty base CRL from each CA");

    // Without the root's CRL the issuing CA's status is unknown: Chain really checks it.
    let rejection = validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Chain,
        &[&issuing_crl],
    )
    .expect_err("the issuing CA's revocation status is unknown");
    assert_eq!(rejection.code(), "crl-unavailable");
    assert_eq!(rejection.depth, Some(1));
}

#[test]
fn every_key_algorithm_gives_a_hierarchy_and_client_certificate_that_validate() {
    for algorithm in KeyAlgorithm::ALL {
        let hierarchy = hierarchy(algorithm);
        let issued = issue(&hierarchy.issuing, algorithm);
        let root_crl = empty_crl(&hierarchy.root);
        let issuing_crl = empty_crl(&hierarchy.issuing);
        validate_leaf(
            &hierarchy,
            &issued.certificate_der,
            RevocationDepth::Chain,
            &[&root_crl, &issuing_crl],
        )
        .unwrap_or_else(|rejection| panic!("{algorithm}: {rejection}"));

        let expected_signature = match algorithm {
            KeyAlgorithm::EcdsaP256 => "1.2.840.10045.4.3.2",
            KeyAlgorithm::EcdsaP384 => "1.2.840.10045.4.3.3",
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 => "1.2.840.113549.1.1.11",
        };
        for der in [
            hierarchy.root.certificate_der(),
            hierarchy.issuing.certificate_der(),
            &issued.certificate_der,
        ] {
            let certificate = parse(der);
            assert_eq!(
                certificate.signature_algorithm().oid.as_str(),
                expected_signature,
                "{algorithm}"
            );
        }
        let leaf = parse(&issued.certificate_der);
        match algorithm {
            KeyAlgorithm::Rsa2048 => assert_eq!(leaf.public_key().key.len(), 270),
            KeyAlgorithm::Rsa3072 => assert_eq!(leaf.public_key().key.len(), 398),
            KeyAlgorithm::EcdsaP256 => assert_eq!(leaf.public_key().key.len(), 65),
            KeyAlgorithm::EcdsaP384 => assert_eq!(leaf.public_key().key.len(), 97),
        }
    }
}

#[test]
fn identity_shows_the_upn_email_subject_and_policy() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let leaf = parse(&issued.certificate_der);
    let identity = Identity::of(&leaf);
    assert_eq!(identity.upns, ["alice@contoso.example"]);
    assert_eq!(identity.rfc822_names, ["alice.smith@contoso.example"]);
    assert_eq!(identity.subject, "CN=Alice Smith, O=Contoso");
    assert_eq!(identity.issuer, "CN=Contoso certgate Issuing CA, O=Contoso");
    assert_eq!(identity.policy_oids, ["1.3.6.1.4.1.311.21.8.1"]);
    assert_eq!(identity.serial, hex(&issued.serial));
    assert!(identity
        .certificate_user_ids
        .iter()
        .any(|id| id.value == "X509:<PN>alice@contoso.example"));
}

#[test]
fn ca_certificates_carry_the_ca_profile() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let root = parse(hierarchy.root.certificate_der());
    let issuing = parse(hierarchy.issuing.certificate_der());

    assert!(root.is_self_issued());
    assert_eq!(
        root.subject().to_windows(),
        "CN=Contoso certgate Root CA, O=Contoso"
    );
    assert_eq!(
        root.extensions().basic_constraints,
        Some(BasicConstraints {
            ca: true,
            path_len: None
        })
    );
    assert_eq!(
        issuing.extensions().basic_constraints,
        Some(BasicConstraints {
            ca: true,
            path_len: Some(0)
        })
    );
    for ca in [&root, &issuing] {
        assert_eq!(
            ca.extensions().key_usage.map(|k| k.0),
            Some(KeyUsage::KEY_CERT_SIGN | KeyUsage::CRL_SIGN)
        );
        assert_eq!(
            ca.extensions().subject_key_id.as_ref().map(Vec::len),
            Some(20)
        );
        assert_eq!(ca.version(), 3);
        assert!((16..=20).contains(&ca.serial().len()));
        assert!(ca.serial()[0] < 0x80, "positive serial");
    }
    assert_eq!(root.extensions().authority_key_id, None);
    assert_eq!(
        issuing
            .extensions()
            .authority_key_id
            .as_ref()
            .and_then(|aki| aki.key_id.clone()),
        root.extensions().subject_key_id
    );
    assert_eq!(
        hierarchy.root.subject_key_identifier(),
        root.extensions().subject_key_id.clone().expect("SKI")
    );
    assert_eq!(issuing.issuer().der(), root.subject().der());
    assert_eq!(
        crl_urls(&issuing),
        [GeneralName::Uri(ROOT_CRL_URL.into())],
        "the issuing CA points at the root's CRL"
    );

    // notBefore an hour before NOW; notAfter NOW + days.
    assert_eq!(root.not_before(), UnixTime(NOW - 3600));
    assert_eq!(root.not_after(), UnixTime(NOW + 3650 * 86_400));
    assert_eq!(issuing.not_before(), UnixTime(NOW - 3600));
    assert_eq!(issuing.not_after(), UnixTime(NOW + 1825 * 86_400));
    assert_ne!(root.serial(), issuing.serial());
}

#[test]
fn client_certificate_carries_the_client_profile() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let leaf = parse(&issued.certificate_der);
    let issuing = parse(hierarchy.issuing.certificate_der());

    assert_eq!(leaf.serial(), issued.serial.as_slice());
    assert_eq!(issued.serial.len(), 16);
    assert_eq!(
        leaf.extensions().basic_constraints,
        Some(BasicConstraints {
            ca: false,
            path_len: None
        })
    );
    assert_eq!(
        leaf.extensions().key_usage.map(|k| k.0),
        Some(KeyUsage::DIGITAL_SIGNATURE)
    );
    let eku: Vec<&str> = leaf
        .extensions()
        .extended_key_usage
        .iter()
        .flatten()
        .map(|oid| oid.as_str())
        .collect();
    assert_eq!(eku, ["1.3.6.1.5.5.7.3.2"]);
    assert!(leaf.extensions().subject_key_id.is_some());
    assert_eq!(
        leaf.extensions()
            .authority_key_id
            .as_ref()
            .and_then(|aki| aki.key_id.clone()),
        issuing.extensions().subject_key_id
    );
    let upn_utf8 = [&[0x0c, 21][..], b"alice@contoso.example"].concat();
    assert_eq!(
        leaf.extensions().subject_alt_names.as_deref(),
        Some(
            &[
                GeneralName::OtherName {
                    type_id: certgate_pki::Oid::new("1.3.6.1.4.1.311.20.2.3"),
                    value: upn_utf8
                },
                GeneralName::Rfc822("alice.smith@contoso.example".into()),
            ][..]
        )
    );
    assert_eq!(crl_urls(&leaf), [GeneralName::Uri(ISSUING_CRL_URL.into())]);
    let freshest = leaf
        .extensions()
        .freshest_crl
        .as_deref()
        .expect("freshestCRL");
    assert_eq!(
        freshest.first().and_then(|p| p.name.clone()),
        Some(DistributionPointName::FullName(vec![GeneralName::Uri(
            ISSUING_DELTA_URL.into()
        )]))
    );
    assert!(leaf.extensions().unknown_critical.is_empty());

    assert_eq!(issued.not_before, now() - Duration::hours(1));
    assert_eq!(issued.not_after, now() + Duration::days(365));
    assert_eq!(
        leaf.not_before(),
        UnixTime(issued.not_before.unix_timestamp())
    );
    assert_eq!(
        leaf.not_after(),
        UnixTime(issued.not_after.unix_timestamp())
    );
}

#[test]
fn optional_extensions_are_omitted_when_not_requested() {
    let hierarchy = create_hierarchy(
        &certgate_ca::HierarchyRequest {
            root_crl_url: None,
            root_certificate_url: None,
            ..hierarchy_request(KeyAlgorithm::EcdsaP256)
        },
        now(),
    )
    .expect("hierarchy");
    let issued = issue_client_certificate(
        &hierarchy.issuing,
        &certgate_ca::ClientCertificateRequest {
            email: None,
            policy_oids: Vec::new(),
            crl_url: None,
            delta_crl_url: None,
            ca_issuers_url: None,
            ..client_request(KeyAlgorithm::EcdsaP256)
        },
        now(),
    )
    .expect("issue");
    let leaf = parse(&issued.certificate_der);
    assert_eq!(leaf.extensions().crl_distribution_points, None);
    assert_eq!(leaf.extensions().freshest_crl, None);
    assert_eq!(leaf.extensions().certificate_policies, None);
    assert_eq!(
        leaf.extensions().subject_alt_names.as_ref().map(Vec::len),
        Some(1)
    );
    let issuing = parse(hierarchy.issuing.certificate_der());
    assert_eq!(issuing.extensions().crl_distribution_points, None);
    validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Off,
        &[],
    )
    .expect("valid");
}

#[test]
fn client_validity_never_leaves_the_issuers_validity() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issuing = parse(hierarchy.issuing.certificate_der());
    // Asking for ten years near the end of the issuing CA's five: cut at its notAfter.
    let late = at(issuing.not_after().0) - Duration::days(30);
    let issued = issue_client_certificate(
        &hierarchy.issuing,
        &certgate_ca::ClientCertificateRequest {
            validity_days: 3650,
            ..client_request(KeyAlgorithm::EcdsaP256)
        },
        late,
    )
    .expect("issue late");
    assert_eq!(issued.not_after.unix_timestamp(), issuing.not_after().0);
    assert_eq!(issued.not_before, late - Duration::hours(1));

    // Right after the CA was made, the backdating stops at the CA's own notBefore.
    let early = at(issuing.not_before().0) + Duration::minutes(10);
    let issued = issue_client_certificate(
        &hierarchy.issuing,
        &client_request(KeyAlgorithm::EcdsaP256),
        early,
    )
    .expect("issue early");
    assert_eq!(issued.not_before.unix_timestamp(), issuing.not_before().0);

    // Outside the CA's validity nothing is issued.
    for when in [
        at(issuing.not_after().0) + Duration::seconds(1),
        at(issuing.not_before().0) - Duration::days(1),
    ] {
        let error = issue_client_certificate(
            &hierarchy.issuing,
            &client_request(KeyAlgorithm::EcdsaP256),
            when,
        )
        .expect_err("issuer not valid");
        assert_eq!(error.code(), "ca-issuer-not-valid");
    }
}

#[test]
fn malformed_client_requests_are_refused_with_the_field_named() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let base = client_request(KeyAlgorithm::EcdsaP256);
    let cases: Vec<(certgate_ca::ClientCertificateRequest, &str)> = vec![
        (
            certgate_ca::ClientCertificateRequest {
                upn: "   ".into(),
                ..base.clone()
            },
            "upn",
        ),
        (
            certgate_ca::ClientCertificateRequest {
                upn: "alice".into(),
                ..base.clone()
            },
            "upn",
        ),
        (
            certgate_ca::ClientCertificateRequest {
                upn: "alice@contoso@example".into(),
                ..base.clone()
            },
            "upn",
        ),
        (
            certgate_ca::ClientCertificateRequest {
                email: Some("alice.contoso.example".into()),
                ..base.clone()
            },
            "email",
        ),
        (
            certgate_ca::ClientCertificateRequest {
                validity_days: 0,
                ..base.clone()
            },
            "validity_days",
        ),
        (
            certgate_ca::ClientCertificateRequest {
                common_name: String::new(),
                ..base.clone()
            },
            "common_name",
        ),
        (
            certgate_ca::ClientCertificateRequest {
                crl_url: Some("not a url".into()),
                ..base.clone()
            },
            "crl_url",
        ),
    ];
    for (request, field) in cases {
        match issue_client_certificate(&hierarchy.issuing, &request, now()) {
            Err(CaError::InvalidRequest { field: got, detail }) => {
                assert_eq!(got, field, "{detail}");
                assert_eq!(
                    CaError::InvalidRequest { field: got, detail }.code(),
                    "ca-invalid-request"
                );
            }
            other => panic!("{field}: expected InvalidRequest, got {other:?}"),
        }
    }
    let error = issue_client_certificate(
        &hierarchy.issuing,
        &certgate_ca::ClientCertificateRequest {
            policy_oids: vec!["1.3.6.1.4.1.311.21.8.1".into(), "contoso-policy".into()],
            ..base
        },
        now(),
    )
    .expect_err("bad OID");
    assert_eq!(error.code(), "ca-invalid-oid");
}

#[test]
fn malformed_hierarchy_requests_are_refused() {
    let base = hierarchy_request(KeyAlgorithm::EcdsaP256);
    for (request, field) in [
        (
            certgate_ca::HierarchyRequest {
                organization: " ".into(),
                ..base.clone()
            },
            "organization",
        ),
        (
            certgate_ca::HierarchyRequest {
                root_validity_days: 0,
                ..base.clone()
            },
            "root_validity_days",
        ),
        (
            certgate_ca::HierarchyRequest {
                issuing_common_name: base.root_common_name.clone(),
                ..base.clone()
            },
            "issuing_common_name",
        ),
        (
            certgate_ca::HierarchyRequest {
                root_crl_url: Some("pki/root.crl".into()),
                ..base.clone()
            },
            "root_crl_url",
        ),
    ] {
        match create_hierarchy(&request, now()) {
            Err(CaError::InvalidRequest { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: expected InvalidRequest, got {other:?}"),
        }
    }
}

#[test]
fn issuing_ca_never_outlives_the_root() {
    let hierarchy = create_hierarchy(
        &certgate_ca::HierarchyRequest {
            root_validity_days: 365,
            issuing_validity_days: 3650,
            ..hierarchy_request(KeyAlgorithm::EcdsaP256)
        },
        now(),
    )
    .expect("hierarchy");
    let root = parse(hierarchy.root.certificate_der());
    let issuing = parse(hierarchy.issuing.certificate_der());
    assert_eq!(issuing.not_after(), root.not_after());
}

#[test]
fn authority_reloads_from_its_parts_and_refuses_a_key_of_another_ca() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let reloaded = Authority::from_parts(
        hierarchy.issuing.certificate_der().to_vec(),
        &hierarchy.issuing.private_key_pkcs8_der(),
    )
    .expect("reload");
    assert_eq!(
        reloaded.subject_key_identifier(),
        hierarchy.issuing.subject_key_identifier()
    );
    let issued = issue(&reloaded, KeyAlgorithm::EcdsaP256);
    validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Off,
        &[],
    )
    .expect("issued by the reloaded authority");

    let error = Authority::from_parts(
        hierarchy.issuing.certificate_der().to_vec(),
        &hierarchy.root.private_key_pkcs8_der(),
    )
    .expect_err("the root's key is not the issuing CA's");
    assert_eq!(error.code(), "ca-key-mismatch");
    assert!(matches!(error, CaError::KeyMismatch { .. }));
    assert!(error.to_string().contains("Contoso certgate Issuing CA"));

    // A client certificate with its own key is not a CA.
    let error = Authority::from_parts(
        issued.certificate_der.clone(),
        &issued.private_key_pkcs8_der,
    )
    .expect_err("end entity");
    assert_eq!(error.code(), "ca-not-a-ca");

    let error = Authority::from_parts(b"not a certificate".to_vec(), &issued.private_key_pkcs8_der)
        .expect_err("garbage certificate");
    assert_eq!(error.code(), "ca-certificate-invalid");
    let error = Authority::from_parts(hierarchy.root.certificate_der().to_vec(), b"garbage")
        .expect_err("garbage key");
    assert_eq!(error.code(), "ca-private-key-invalid");
}

/// Existing CAs made by rcgen (as certgate-testpki makes them), with ECDSA P-384, RSA and
/// Ed25519 keys, are imported with `from_parts`; what they sign validates, including
/// revocation from the CRL they sign.
#[test]
fn cas_made_by_rcgen_can_be_imported() {
    use certgate_pki::{validate, CaKind, RevocationSnapshot, TrustStore, ValidationPolicy};
    use rcgen::{
        BasicConstraints as RcgenBasicConstraints, CertificateParams, DnType, IsCa, KeyPair,
        KeyUsagePurpose, RsaKeySize,
    };
    let keys = [
        KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384 key"),
        KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).expect("RSA key"),
        KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key"),
    ];
    for key in keys {
        let mut params = CertificateParams::default();
        params.not_before = at(NOW - 86_400);
        params.not_after = at(NOW + 3650 * 86_400);
        params
            .distinguished_name
            .push(DnType::CommonName, "Fabrikam Issuing CA");
        params.is_ca = IsCa::Ca(RcgenBasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let certificate = params.self_signed(&key).expect("self-signed CA");
        let algorithm = format!("{:?}", key.algorithm());

        let authority = Authority::from_parts(certificate.der().to_vec(), &key.serialize_der())
            .expect("import");
        let issued = issue(&authority, KeyAlgorithm::EcdsaP256);
        let leaf = parse(&issued.certificate_der);
        assert_eq!(
            leaf.issuer().der(),
            parse(certificate.der()).subject().der(),
            "issuer name copied byte for byte"
        );
        // No O in the CA's name: the subject is the CN alone.
        assert_eq!(leaf.subject().to_windows(), "CN=Alice Smith");
        let crl = certgate_ca::sign_crl(
            &authority,
            &crl_request(
                1,
                vec![certgate_ca::RevokedSerial {
                    serial: issued.serial.clone(),
                    revoked_at: now(),
                    reason: certgate_ca::RevocationReason::KeyCompromise,
                }],
            ),
        )
        .expect("crl");
        assert_eq!(parse_crl(&crl).issuer().der(), leaf.issuer().der());

        let mut trust = TrustStore::new();
        trust.add(parse(certificate.der()), CaKind::Root);
        let policy = ValidationPolicy {
            revocation: RevocationDepth::Off,
            ..ValidationPolicy::default()
        };
        let empty = RevocationSnapshot::empty();
        validate(&leaf, &[], &trust, &empty, &policy, UnixTime(NOW + 3600))
            .unwrap_or_else(|rejection| panic!("{algorithm}: {rejection}"));
        let snapshot = RevocationSnapshot::new(vec![parse_crl(&crl)]);
        let policy = ValidationPolicy::default();
        let rejection = validate(&leaf, &[], &trust, &snapshot, &policy, UnixTime(NOW + 3600))
            .expect_err("revoked");
        assert_eq!(rejection.code(), "cert-revoked", "{algorithm}: {rejection}");
    }
}

#[test]
fn openssl_verifies_the_chain_for_client_authentication() {
    for algorithm in [KeyAlgorithm::EcdsaP384, KeyAlgorithm::Rsa2048] {
        let hierarchy = hierarchy(algorithm);
        let issued = issue(&hierarchy.issuing, algorithm);
        let dir = scratch();
        let root = write(
            dir.path(),
            "root.pem",
            certificate_pem(hierarchy.root.certificate_der()).as_bytes(),
        );
        let issuing = write(
            dir.path(),
            "issuing.pem",
            certificate_pem(hierarchy.issuing.certificate_der()).as_bytes(),
        );
        let leaf = write(
            dir.path(),
            "leaf.pem",
            certificate_pem(&issued.certificate_der).as_bytes(),
        );
        let output = openssl([
            "verify".as_ref(),
            "-x509_strict".as_ref(),
            "-purpose".as_ref(),
            "sslclient".as_ref(),
            "-attime".as_ref(),
            (NOW + 3600).to_string().as_ref(),
            "-CAfile".as_ref(),
            root.as_os_str(),
            "-untrusted".as_ref(),
            issuing.as_os_str(),
            leaf.as_os_str(),
        ]);
        assert!(output.status.success(), "{algorithm}: {}", text(&output));
        assert!(text(&output).contains(": OK"), "{}", text(&output));
    }
}

/// An AD-style CA name (two DC attributes, a multi-valued RDN, PrintableString values) made by
/// OpenSSL: the certificates and CRLs the imported CA signs name it byte for byte as its own
/// certificate does, which path building in every relying party depends on.
#[test]
fn imported_ca_with_an_ad_style_name_is_named_byte_for_byte() {
    let dir = scratch();
    let key_pem = dir.path().join("ca-key.pem");
    let cert_der = dir.path().join("ca.der");
    let key_der = dir.path().join("ca-key.der");
    let output = openssl([
        "req".as_ref(),
        "-x509".as_ref(),
        "-newkey".as_ref(),
        "ec".as_ref(),
        "-pkeyopt".as_ref(),
        "ec_paramgen_curve:P-256".as_ref(),
        "-nodes".as_ref(),
        "-multivalue-rdn".as_ref(),
        "-subj".as_ref(),
        "/DC=com/DC=contoso/OU=PKI+CN=Contoso Enterprise CA".as_ref(),
        "-addext".as_ref(),
        "basicConstraints=critical,CA:TRUE".as_ref(),
        "-addext".as_ref(),
        "keyUsage=critical,keyCertSign,cRLSign".as_ref(),
        "-days".as_ref(),
        "3650".as_ref(),
        "-keyout".as_ref(),
        key_pem.as_os_str(),
        "-outform".as_ref(),
        "DER".as_ref(),
        "-out".as_ref(),
        cert_der.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    // `openssl pkey -outform DER` would write SEC1; the CA takes PKCS#8.
    let output = openssl([
        "pkcs8".as_ref(),
        "-topk8".as_ref(),
        "-nocrypt".as_ref(),
        "-in".as_ref(),
        key_pem.as_os_str(),
        "-outform".as_ref(),
        "DER".as_ref(),
        "-out".as_ref(),
        key_der.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let certificate = std::fs::read(&cert_der).expect("CA certificate");
    let key = std::fs::read(&key_der).expect("CA key");

    let authority = Authority::from_parts(certificate.clone(), &key).expect("import");
    let ca = parse(&certificate);
    assert_eq!(ca.subject().rdns().len(), 3, "DC, DC, OU+CN");
    // OpenSSL's clock chose the CA's validity; issue a day into it.
    let when = at(ca.not_before().0) + Duration::days(1);
    let issued =
        issue_client_certificate(&authority, &client_request(KeyAlgorithm::EcdsaP256), when)
            .expect("issue");
    let leaf = parse(&issued.certificate_der);
    assert_eq!(leaf.issuer().der(), ca.subject().der());
    let crl = certgate_ca::sign_crl(
        &authority,
        &certgate_ca::CrlRequest {
            this_update: when,
            next_update: when + Duration::days(7),
            ..crl_request(1, Vec::new())
        },
    )
    .expect("crl");
    assert_eq!(parse_crl(&crl).issuer().der(), ca.subject().der());

    let ca_pem = write(
        dir.path(),
        "ca.pem",
        certificate_pem(&certificate).as_bytes(),
    );
    let leaf_pem = write(
        dir.path(),
        "leaf.pem",
        certificate_pem(&issued.certificate_der).as_bytes(),
    );
    let crl_pem = write(dir.path(), "crl.pem", crl_pem(&crl).as_bytes());
    let output = openssl([
        "verify".as_ref(),
        "-purpose".as_ref(),
        "sslclient".as_ref(),
        "-attime".as_ref(),
        (when.unix_timestamp() + 3600).to_string().as_ref(),
        "-crl_check".as_ref(),
        "-CRLfile".as_ref(),
        crl_pem.as_os_str(),
        "-CAfile".as_ref(),
        ca_pem.as_os_str(),
        leaf_pem.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
}

fn crl_urls(certificate: &certgate_pki::Certificate) -> Vec<GeneralName> {
    match certificate
        .extensions()
        .crl_distribution_points
        .as_deref()
        .and_then(|points| points.first())
        .and_then(|point| point.name.clone())
    {
        Some(DistributionPointName::FullName(names)) => names,
        other => panic!("unexpected distribution point {other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 5280 §4.2.1.6 / RFC 1034 §3.5: the CA refuses a DNS name outside preferred name syntax
/// (which the validator would refuse), and takes a leading wildcard label.
#[test]
fn server_certificate_dns_names_use_preferred_name_syntax() {
    let now = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("2026-01-01");
    let hierarchy = certgate_ca::create_hierarchy(
        &certgate_ca::HierarchyRequest {
            organization: "Contoso".into(),
            root_common_name: "Contoso Root".into(),
            issuing_common_name: "Contoso Issuing".into(),
            key_algorithm: certgate_ca::KeyAlgorithm::EcdsaP256,
            root_validity_days: 3650,
            issuing_validity_days: 1825,
            root_crl_url: None,
            root_certificate_url: None,
        },
        now,
    )
    .expect("hierarchy");
    let issue = |name: &str| {
        certgate_ca::issue_server_certificate(
            &hierarchy.issuing,
            &certgate_ca::ServerCertificateRequest {
                dns_names: vec![name.into()],
                ip_addresses: Vec::new(),
                validity_days: 90,
                key_algorithm: certgate_ca::KeyAlgorithm::EcdsaP256,
            },
            now,
        )
    };
    for bad in [
        "host_1.contoso.example",
        "-host.contoso.example",
        "a*b.contoso.example",
    ] {
        assert!(issue(bad).is_err(), "{bad} issued");
    }
    assert!(issue("*.contoso.example").is_ok());
}

/// A TLS server certificate from the issuing CA is accepted by OpenSSL for serverAuth with
/// its DNS name and IP address.
#[test]
fn server_certificate_verifies_in_openssl_for_its_names() {
    use std::net::IpAddr;
    let now = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("2026-01-01");
    let hierarchy = certgate_ca::create_hierarchy(
        &certgate_ca::HierarchyRequest {
            organization: "Contoso".into(),
            root_common_name: "Contoso Root".into(),
            issuing_common_name: "Contoso Issuing".into(),
            key_algorithm: certgate_ca::KeyAlgorithm::EcdsaP256,
            root_validity_days: 3650,
            issuing_validity_days: 1825,
            root_crl_url: None,
            root_certificate_url: None,
        },
        now,
    )
    .expect("hierarchy");
    let issued = certgate_ca::issue_server_certificate(
        &hierarchy.issuing,
        &certgate_ca::ServerCertificateRequest {
            dns_names: vec!["certauth.contoso.example".into(), "localhost".into()],
            ip_addresses: vec!["127.0.0.1".parse::<IpAddr>().expect("ip")],
            validity_days: 90,
            key_algorithm: certgate_ca::KeyAlgorithm::EcdsaP256,
        },
        now,
    )
    .expect("server certificate");
    let dir = tempfile::tempdir().expect("dir");
    let pem = |der: &[u8]| {
        let out = std::process::Command::new("openssl")
            .args(["x509", "-inform", "DER"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().expect("stdin").write_all(der)?;
                child.wait_with_output()
            })
            .expect("openssl x509");
        out.stdout
    };
    std::fs::write(
        dir.path().join("root.pem"),
        pem(hierarchy.root.certificate_der()),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("issuing.pem"),
        pem(hierarchy.issuing.certificate_der()),
    )
    .expect("write");
    std::fs::write(dir.path().join("server.pem"), pem(&issued.certificate_der)).expect("write");
    for name in [
        vec!["-verify_hostname", "certauth.contoso.example"],
        vec!["-verify_ip", "127.0.0.1"],
    ] {
        let output = std::process::Command::new("openssl")
            .current_dir(dir.path())
            .args([
                "verify",
                "-x509_strict",
                "-purpose",
                "sslserver",
                "-attime",
                "1767225600",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "issuing.pem",
            ])
            .args(&name)
            .arg("server.pem")
            .output()
            .expect("openssl verify");
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let wrong = std::process::Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "verify",
            "-purpose",
            "sslserver",
            "-attime",
            "1767225600",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "-verify_hostname",
            "other.example",
            "server.pem",
        ])
        .output()
        .expect("openssl verify");
    assert!(
        !wrong.status.success(),
        "a name the certificate does not carry is refused"
    );
}

/// The TLS server certificates certgate issues for its own listeners (`pki issue-server`, the
/// demo) pass certgate-pki's CA/Browser Forum server profile (`certgate verify --purpose
/// server`) for every shape of request: DNS names and IPs, one DNS name, IPv4 or IPv6 only.
#[test]
fn server_certificates_pass_the_server_profile() {
    use certgate_pki::{
        validate, CaKind, Purpose, RevocationSnapshot, TrustStore, ValidationPolicy,
    };
    use std::net::IpAddr;
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let ip = |text: &str| text.parse::<IpAddr>().expect("ip");
    let requests: [(Vec<&str>, Vec<IpAddr>); 5] = [
        (
            vec!["certauth.contoso.example", "localhost"],
            vec![ip("127.0.0.1")],
        ),
        (vec!["localhost"], Vec::new()),
        (vec!["*.contoso.example"], Vec::new()),
        (Vec::new(), vec![ip("192.0.2.7")]),
        (Vec::new(), vec![ip("2001:db8::7"), ip("127.0.0.1")]),
    ];
    let mut trust = TrustStore::new();
    trust.add(parse(hierarchy.root.certificate_der()), CaKind::Root);
    let intermediates = [parse(hierarchy.issuing.certificate_der())];
    let snapshot = RevocationSnapshot::new(Vec::new());
    let policy = ValidationPolicy {
        purpose: Purpose::ServerAuth,
        revocation: RevocationDepth::Off,
        ..ValidationPolicy::default()
    };
    for (dns_names, ip_addresses) in requests {
        let issued = certgate_ca::issue_server_certificate(
            &hierarchy.issuing,
            &certgate_ca::ServerCertificateRequest {
                dns_names: dns_names.iter().map(|n| n.to_string()).collect(),
                ip_addresses: ip_addresses.clone(),
                validity_days: 90,
                key_algorithm: KeyAlgorithm::EcdsaP256,
            },
            now(),
        )
        .expect("server certificate");
        let leaf = parse(&issued.certificate_der);
        validate(
            &leaf,
            &intermediates,
            &trust,
            &snapshot,
            &policy,
            UnixTime(NOW + 3600),
        )
        .unwrap_or_else(|r| panic!("{dns_names:?} {ip_addresses:?}: {r}"));
    }
}
