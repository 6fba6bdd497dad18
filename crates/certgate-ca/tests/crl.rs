//! Base and delta CRLs: certgate-pki revokes what they list, and OpenSSL reads and checks them.

mod common;

use certgate_ca::{sign_crl, CrlRequest, KeyAlgorithm, RevocationReason, RevokedSerial};
use certgate_pki::{RevocationDepth, UnixTime};
use common::*;
use time::Duration;

fn revoked(serial: &[u8], reason: RevocationReason) -> RevokedSerial {
    RevokedSerial {
        serial: serial.to_vec(),
        revoked_at: now() - Duration::minutes(5),
        reason,
    }
}

/// A delta CRL on top of base number 1, valid from NOW for a day.
fn delta_request(crl_number: u64, revoked: Vec<RevokedSerial>) -> CrlRequest {
    CrlRequest {
        next_update: now() + Duration::days(1),
        delta_of: Some(1),
        ..crl_request(crl_number, revoked)
    }
}

#[test]
fn base_crl_listing_the_serial_revokes_the_certificate() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let other = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let root_crl = empty_crl(&hierarchy.root);
    let base = sign_crl(
        &hierarchy.issuing,
        &crl_request(
            2,
            vec![
                revoked(&issued.serial, RevocationReason::KeyCompromise),
                revoked(&[0x01, 0x02, 0x03], RevocationReason::Unspecified),
            ],
        ),
    )
    .expect("base CRL");

    let rejection = validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Chain,
        &[&root_crl, &base],
    )
    .expect_err("revoked");
    assert_eq!(rejection.code(), "cert-revoked");
    assert!(
        rejection.to_string().contains("keyCompromise"),
        "{rejection}"
    );
    validate_leaf(
        &hierarchy,
        &other.certificate_der,
        RevocationDepth::Chain,
        &[&root_crl, &base],
    )
    .expect("a certificate the CRL does not list is good");
}

#[test]
fn base_crl_fields_are_what_rfc_5280_asks_for() {
    let hierarchy = hierarchy(KeyAlgorithm::Rsa2048);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let der = sign_crl(
        &hierarchy.issuing,
        &CrlRequest {
            freshest_crl_url: Some(ISSUING_DELTA_URL.into()),
            ..crl_request(
                0x0102,
                vec![
                    revoked(&issued.serial, RevocationReason::Superseded),
                    revoked(&[0x42], RevocationReason::Unspecified),
                ],
            )
        },
    )
    .expect("base CRL");
    let crl = parse_crl(&der);
    assert!(!crl.is_delta());
    assert_eq!(crl.delta_base_crl_number(), None);
    assert_eq!(crl.crl_number(), Some(&[0x01, 0x02][..]));
    assert_eq!(crl.this_update(), UnixTime(NOW));
    assert_eq!(crl.next_update(), Some(UnixTime(NOW + 7 * 86_400)));
    assert_eq!(crl.entry_count(), 2);
    assert_eq!(
        crl.issuer().der(),
        parse(hierarchy.issuing.certificate_der()).subject().der()
    );
    assert_eq!(
        crl.authority_key_id().and_then(|aki| aki.key_id.clone()),
        Some(hierarchy.issuing.subject_key_identifier())
    );
    let entry = crl
        .lookup(crl.issuer(), &issued.serial)
        .expect("the certificate is listed");
    assert_eq!(entry.reason, RevocationReason::Superseded);
    assert_eq!(entry.revocation_date, UnixTime(NOW - 300));
    assert_eq!(
        crl.lookup(crl.issuer(), &[0x42]).map(|e| e.reason),
        Some(RevocationReason::Unspecified)
    );
    let freshest = crl.freshest_crl().expect("FreshestCRL");
    assert_eq!(freshest.len(), 1);
    crl.verify_signature(
        &parse(hierarchy.issuing.certificate_der()),
        &Default::default(),
    )
    .expect("signed by the issuing CA");
    // Unspecified is written as an entry without reasonCode (RFC 5280 §5.3.1).
    let reason_code_oid = [0x06, 0x03, 0x55, 0x1d, 0x15];
    let occurrences = der
        .windows(reason_code_oid.len())
        .filter(|w| *w == reason_code_oid)
        .count();
    assert_eq!(occurrences, 1, "only the superseded entry has a reasonCode");
}

#[test]
fn delta_crl_is_parsed_as_a_delta_of_its_base() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let delta = sign_crl(&hierarchy.issuing, &delta_request(7, Vec::new())).expect("delta");
    let crl = parse_crl(&delta);
    assert!(crl.is_delta());
    assert_eq!(crl.delta_base_crl_number(), Some(&[1][..]));
    assert_eq!(crl.crl_number(), Some(&[7][..]));
    assert_eq!(crl.entry_count(), 0);
    assert_eq!(crl.freshest_crl(), None);
}

#[test]
fn delta_crl_revokes_a_certificate_its_base_does_not_list() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let root_crl = empty_crl(&hierarchy.root);
    let base = sign_crl(
        &hierarchy.issuing,
        &CrlRequest {
            freshest_crl_url: Some(ISSUING_DELTA_URL.into()),
            ..crl_request(
                1,
                vec![revoked(&[0x11; 16], RevocationReason::KeyCompromise)],
            )
        },
    )
    .expect("base");
    let delta = sign_crl(
        &hierarchy.issuing,
        &delta_request(
            2,
            vec![revoked(
                &issued.serial,
                RevocationReason::CessationOfOperation,
            )],
        ),
    )
    .expect("delta");

    validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Chain,
        &[&root_crl, &base],
    )
    .expect("good by the base alone");
    let rejection = validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Chain,
        &[&root_crl, &base, &delta],
    )
    .expect_err("revoked by the delta");
    assert_eq!(rejection.code(), "cert-revoked");
    assert!(
        rejection.to_string().contains("cessationOfOperation"),
        "{rejection}"
    );
}

#[test]
fn certificate_hold_in_a_delta_is_on_hold_and_remove_from_crl_needs_a_delta() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let root_crl = empty_crl(&hierarchy.root);
    let base = empty_crl(&hierarchy.issuing);
    let delta = sign_crl(
        &hierarchy.issuing,
        &delta_request(
            2,
            vec![revoked(&issued.serial, RevocationReason::CertificateHold)],
        ),
    )
    .expect("delta");
    let rejection = validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Chain,
        &[&root_crl, &base, &delta],
    )
    .expect_err("on hold");
    assert_eq!(rejection.code(), "cert-on-hold");

    let released = sign_crl(
        &hierarchy.issuing,
        &delta_request(
            3,
            vec![revoked(&issued.serial, RevocationReason::RemoveFromCrl)],
        ),
    )
    .expect("removeFromCRL in a delta");
    assert_eq!(
        parse_crl(&released)
            .lookup(parse_crl(&released).issuer(), &issued.serial)
            .map(|e| e.reason),
        Some(RevocationReason::RemoveFromCrl)
    );
    let error = sign_crl(
        &hierarchy.issuing,
        &crl_request(
            4,
            vec![revoked(&issued.serial, RevocationReason::RemoveFromCrl)],
        ),
    )
    .expect_err("removeFromCRL in a base");
    assert_eq!(error.code(), "ca-invalid-request");
}

#[test]
fn inconsistent_crl_requests_are_refused() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let cases = [
        (
            CrlRequest {
                next_update: now(),
                ..crl_request(1, Vec::new())
            },
            "next_update",
        ),
        (delta_request(1, Vec::new()), "delta_of"),
        (
            CrlRequest {
                freshest_crl_url: Some(ISSUING_DELTA_URL.into()),
                ..delta_request(2, Vec::new())
            },
            "freshest_crl_url",
        ),
        (
            crl_request(
                1,
                vec![
                    revoked(&[0x05], RevocationReason::Unspecified),
                    revoked(&[0x00, 0x05], RevocationReason::KeyCompromise),
                ],
            ),
            "revoked",
        ),
        (
            crl_request(1, vec![revoked(&[], RevocationReason::Unspecified)]),
            "revoked",
        ),
        (
            crl_request(1, vec![revoked(&[0x01; 21], RevocationReason::Unspecified)]),
            "revoked",
        ),
    ];
    for (request, field) in cases {
        match sign_crl(&hierarchy.issuing, &request) {
            Err(certgate_ca::CaError::InvalidRequest { field: got, detail }) => {
                assert_eq!(got, field, "{detail}")
            }
            other => panic!("{field}: expected InvalidRequest, got {other:?}"),
        }
    }
}

#[test]
fn same_revocations_in_any_order_give_the_same_entries() {
    let hierarchy = hierarchy(KeyAlgorithm::Rsa2048);
    let list = vec![
        revoked(&[0x03], RevocationReason::KeyCompromise),
        revoked(&[0x01, 0x00], RevocationReason::Superseded),
        revoked(&[0x02], RevocationReason::Unspecified),
    ];
    let mut reversed = list.clone();
    reversed.reverse();
    // RSA PKCS#1 v1.5 signatures are deterministic, so the whole CRL is byte-identical.
    let a = sign_crl(&hierarchy.issuing, &crl_request(5, list)).expect("crl");
    let b = sign_crl(&hierarchy.issuing, &crl_request(5, reversed)).expect("crl");
    assert_eq!(a, b);
}

#[test]
fn openssl_reads_base_and_delta_crls_and_verifies_their_signatures() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let dir = scratch();
    let chain = format!(
        "{}{}",
        certificate_pem(hierarchy.root.certificate_der()),
        certificate_pem(hierarchy.issuing.certificate_der())
    );
    let chain = write(dir.path(), "chain.pem", chain.as_bytes());
    let base = sign_crl(
        &hierarchy.issuing,
        &CrlRequest {
            freshest_crl_url: Some(ISSUING_DELTA_URL.into()),
            ..crl_request(
                1,
                vec![revoked(&issued.serial, RevocationReason::KeyCompromise)],
            )
        },
    )
    .expect("base");
    let delta = sign_crl(
        &hierarchy.issuing,
        &delta_request(
            2,
            vec![revoked(&[0x7f, 0x01], RevocationReason::AffiliationChanged)],
        ),
    )
    .expect("delta");

    for (name, der, is_delta) in [("base", &base, false), ("delta", &delta, true)] {
        let path = write(dir.path(), &format!("{name}.crl"), der);
        let output = openssl([
            "crl".as_ref(),
            "-inform".as_ref(),
            "DER".as_ref(),
            "-in".as_ref(),
            path.as_os_str(),
            "-CAfile".as_ref(),
            chain.as_os_str(),
            "-noout".as_ref(),
            "-text".as_ref(),
        ]);
        let listing = text(&output);
        assert!(output.status.success(), "{name}: {listing}");
        assert!(listing.contains("verify OK"), "{name}: {listing}");
        assert!(listing.contains("Version 2"), "{name}: {listing}");
        assert!(listing.contains("X509v3 CRL Number"), "{name}: {listing}");
        assert!(
            listing.contains("X509v3 Authority Key Identifier"),
            "{name}: {listing}"
        );
        assert!(
            listing.contains("Next Update: Jan  8 00:00:00 2026 GMT")
                || listing.contains("Next Update: Jan  2 00:00:00 2026 GMT"),
            "{name}: {listing}"
        );
        assert_eq!(
            listing.contains("X509v3 Delta CRL Indicator: critical"),
            is_delta,
            "{name}: {listing}"
        );
        if is_delta {
            assert!(listing.contains("Affiliation Changed"), "{listing}");
        } else {
            assert!(listing.contains("Key Compromise"), "{listing}");
            assert!(listing.contains("X509v3 Freshest CRL"), "{listing}");
            assert!(listing.contains(ISSUING_DELTA_URL), "{listing}");
            let serial: String = issued.serial.iter().map(|b| format!("{b:02X}")).collect();
            assert!(listing.to_uppercase().contains(&serial), "{listing}");
        }
    }
}

#[test]
fn openssl_verify_with_crl_check_rejects_the_revoked_leaf_and_accepts_a_good_one() {
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        let hierarchy = hierarchy(algorithm);
        let revoked_leaf = issue(&hierarchy.issuing, algorithm);
        let good_leaf = issue(&hierarchy.issuing, algorithm);
        let root_crl = empty_crl(&hierarchy.root);
        let issuing_crl = sign_crl(
            &hierarchy.issuing,
            &crl_request(
                1,
                vec![revoked(
                    &revoked_leaf.serial,
                    RevocationReason::KeyCompromise,
                )],
            ),
        )
        .expect("issuing CRL");

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
        let crls = write(
            dir.path(),
            "crls.pem",
            format!("{}{}", crl_pem(&root_crl), crl_pem(&issuing_crl)).as_bytes(),
        );
        let verify = |leaf_der: &[u8], name: &str, check: &str| {
            let leaf = write(dir.path(), name, certificate_pem(leaf_der).as_bytes());
            openssl([
                "verify".as_ref(),
                "-x509_strict".as_ref(),
                "-purpose".as_ref(),
                "sslclient".as_ref(),
                "-attime".as_ref(),
                (NOW + 3600).to_string().as_ref(),
                check.as_ref(),
                "-CRLfile".as_ref(),
                crls.as_os_str(),
                "-CAfile".as_ref(),
                root.as_os_str(),
                "-untrusted".as_ref(),
                issuing.as_os_str(),
                leaf.as_os_str(),
            ])
        };
        for check in ["-crl_check", "-crl_check_all"] {
            let output = verify(&good_leaf.certificate_der, "good.pem", check);
            assert!(
                output.status.success(),
                "{algorithm} {check}: {}",
                text(&output)
            );
            let output = verify(&revoked_leaf.certificate_der, "revoked.pem", check);
            assert!(
                !output.status.success(),
                "{algorithm} {check}: accepted a revoked leaf"
            );
            assert!(
                text(&output).contains("certificate revoked"),
                "{algorithm} {check}: {}",
                text(&output)
            );
        }
    }
}
