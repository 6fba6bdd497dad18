//! CRL parsing, indexing, lookups and signatures on generated CRLs (certgate-testpki and
//! rcgen, fixed times). Scope, indirect and delta CRL semantics are covered by PKITS 4.14/4.15.

use certgate_pki::{
    parse_crl_bundle, parse_crls, AlgorithmPolicy, Certificate, Crl, Name, Reason,
    RevocationReason, UnixTime,
};
use certgate_testpki::{at, instants, revoked_serial, ChainSpec, CrlSpec, KeyKind, TestPki};
use rcgen::{
    CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, RevokedCertParams, SerialNumber,
};

fn ed25519_pki() -> TestPki {
    TestPki::three_level(&ChainSpec::with_key(KeyKind::Ed25519)).expect("test PKI")
}

fn certificate(der: &[u8]) -> Certificate {
    Certificate::from_der(der).expect("generated certificate parses")
}

/// A CRL signed by `issuer` listing exactly `entries`.
fn crl_with(issuer: &certgate_testpki::Issued, entries: Vec<RevokedCertParams>) -> Vec<u8> {
    let key = KeyPair::try_from(issuer.key_pkcs8_der.as_slice()).expect("issuer key");
    let issuer = Issuer::from_ca_cert_der(&issuer.der.as_slice().into(), key).expect("issuer");
    CertificateRevocationListParams {
        this_update: at(instants::CRL_THIS_UPDATE),
        next_update: at(instants::CRL_NEXT_UPDATE),
        crl_number: SerialNumber::from_slice(&[7]),
        issuing_distribution_point: None,
        revoked_certs: entries,
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&issuer)
    .expect("sign CRL")
    .der()
    .to_vec()
}

fn issuer_name(pki: &TestPki) -> Name {
    certificate(&pki.intermediate.der).subject().clone()
}

#[test]
fn every_listed_serial_is_found_and_no_other() {
    // 6,000 entries: large enough for the bucketed index (small CRLs are covered below).
    let pki = ed25519_pki();
    let spec = CrlSpec {
        entries: 6_000,
        ..CrlSpec::default()
    };
    let crl = Crl::from_der(TestPki::crl(&pki.intermediate, &spec).expect("CRL")).expect("parses");
    let issuer = issuer_name(&pki);
    assert_eq!(crl.entry_count(), 6_000);
    assert_eq!(crl.crl_number(), Some(&[1u8][..]));
    assert_eq!(crl.this_update(), UnixTime(instants::CRL_THIS_UPDATE));
    assert_eq!(crl.next_update(), Some(UnixTime(instants::CRL_NEXT_UPDATE)));
    assert!(!crl.is_delta());
    for i in 0..6_000 {
        let serial = revoked_serial(spec.seed, i);
        let entry = crl
            .lookup(&issuer, &serial)
            .unwrap_or_else(|| panic!("serial {i} listed but not found"));
        assert_eq!(entry.serial, serial);
        assert_eq!(entry.reason, RevocationReason::Unspecified);
        assert_eq!(entry.revocation_date, UnixTime(instants::CRL_THIS_UPDATE));
    }
    for i in 6_000..12_000 {
        assert!(crl.lookup(&issuer, &revoked_serial(spec.seed, i)).is_none());
    }
    // The same serial padded with a redundant leading zero is the same INTEGER.
    let mut padded = vec![0x00];
    padded.extend(revoked_serial(spec.seed, 5));
    assert!(crl.lookup(&issuer, &padded).is_some());
    // A direct CRL only speaks for certificates of its own issuer.
    let other = certificate(&pki.root.der).subject().clone();
    assert!(crl.lookup(&other, &revoked_serial(spec.seed, 5)).is_none());
}

#[test]
fn reasons_and_dates_of_entries_are_reported() {
    let pki = ed25519_pki();
    let entry = |serial: u8, reason, invalidity: Option<i64>| RevokedCertParams {
        serial_number: SerialNumber::from_slice(&[serial]),
        revocation_time: at(instants::CRL_THIS_UPDATE - 3_600),
        reason_code: reason,
        invalidity_date: invalidity.map(at),
    };
    let der = crl_with(
        &pki.intermediate,
        vec![
            entry(
                1,
                Some(rcgen::RevocationReason::KeyCompromise),
                Some(1_700_000_000),
            ),
            entry(2, Some(rcgen::RevocationReason::CertificateHold), None),
            entry(3, None, None),
        ],
    );
    let crl = Crl::from_der(der).expect("parses");
    let issuer = issuer_name(&pki);
    let first = crl.lookup(&issuer, &[1]).expect("listed");
    assert_eq!(first.reason, RevocationReason::KeyCompromise);
    assert_eq!(first.invalidity_date, Some(UnixTime(1_700_000_000)));
    assert_eq!(
        first.revocation_date,
        UnixTime(instants::CRL_THIS_UPDATE - 3_600)
    );
    let second = crl.lookup(&issuer, &[2]).expect("listed");
    assert_eq!(second.reason, RevocationReason::CertificateHold);
    assert_eq!(second.invalidity_date, None);
    assert_eq!(
        crl.lookup(&issuer, &[3]).expect("listed").reason,
        RevocationReason::Unspecified
    );
    assert!(crl.lookup(&issuer, &[4]).is_none());
}

#[test]
fn signature_verifies_with_the_issuer_and_not_with_another_key() {
    for key in [KeyKind::Rsa2048, KeyKind::EcdsaP256, KeyKind::Ed25519] {
        let pki = TestPki::three_level(&ChainSpec::with_key(key)).expect("PKI");
        let der = TestPki::crl(&pki.intermediate, &CrlSpec::default()).expect("CRL");
        let crl = Crl::from_der(der).expect("parses");
        let policy = AlgorithmPolicy::default();
        crl.verify_signature(&certificate(&pki.intermediate.der), &policy)
            .unwrap_or_else(|r| panic!("{key:?}: {r}"));
        // Twice: the second answer comes from the remembered signer and must agree.
        assert!(crl
            .verify_signature(&certificate(&pki.intermediate.der), &policy)
            .is_ok());
        let wrong = crl
            .verify_signature(&certificate(&pki.root.der), &policy)
            .expect_err("the root did not sign this CRL");
        assert_eq!(wrong.code(), "crl-signature-invalid", "{key:?}");
    }
}

#[test]
fn tampered_crl_does_not_verify() {
    let pki = ed25519_pki();
    let mut der = TestPki::crl(
        &pki.intermediate,
        &CrlSpec {
            entries: 10,
            ..CrlSpec::default()
        },
    )
    .expect("CRL");
    // Flip a bit inside the last entry's serial number: still well-formed DER.
    let serial = revoked_serial(CrlSpec::default().seed, 9);
    let at = der
        .windows(serial.len())
        .position(|w| w == serial.as_slice())
        .expect("serial in DER");
    der[at + 3] ^= 0x01;
    let crl = Crl::from_der(der).expect("still parses");
    let result = crl.verify_signature(
        &certificate(&pki.intermediate.der),
        &AlgorithmPolicy::default(),
    );
    assert_eq!(
        result.expect_err("tampered").code(),
        "crl-signature-invalid"
    );
}

#[test]
fn every_truncation_and_trailing_garbage_is_malformed_and_nothing_panics() {
    let pki = ed25519_pki();
    let der = TestPki::crl(
        &pki.intermediate,
        &CrlSpec {
            entries: 3,
            ..CrlSpec::default()
        },
    )
    .expect("CRL");
    for len in 0..der.len() {
        match Crl::from_der(der[..len].to_vec()) {
            Err(Reason::CrlMalformed { .. }) => {}
            other => panic!("truncated to {len} bytes: {other:?}"),
        }
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert_eq!(
        Crl::from_der(trailing).expect_err("trailing byte").code(),
        "crl-malformed"
    );
    // Single-byte corruption anywhere: a refusal with a documented code, or a CRL that holds
    // exactly the bytes it was given (its signature is checked later, against its issuer);
    // never a panic.
    for position in 0..der.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut corrupted = der.clone();
            corrupted[position] ^= flip;
            match Crl::from_der(corrupted.clone()) {
                Ok(crl) => assert_eq!(crl.der(), &corrupted[..], "byte {position} ^ {flip:#x}"),
                Err(reason) => assert!(
                    Reason::CODES
                        .iter()
                        .any(|known| known.code == reason.code()),
                    "byte {position} ^ {flip:#x}: undocumented code {}",
                    reason.code()
                ),
            }
        }
    }
}

#[test]
fn pem_bundles_yield_every_crl() {
    let pki = ed25519_pki();
    let pem = |der: &[u8]| {
        let text = pem_encode(der);
        format!("-----BEGIN X509 CRL-----\n{text}-----END X509 CRL-----\n")
    };
    let root = TestPki::crl(&pki.root, &CrlSpec::default()).expect("root CRL");
    let issuing = TestPki::crl(&pki.intermediate, &CrlSpec::default()).expect("CRL");
    let bundle = format!("comment line\n{}{}", pem(&root), pem(&issuing));
    let crls = parse_crls(bundle.into_bytes()).expect("bundle parses");
    assert_eq!(crls.len(), 2);
    assert_eq!(crls[1].issuer(), &issuer_name(&pki));
    assert_eq!(
        parse_crls(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".to_vec())
            .expect_err("no CRL block")
            .code(),
        "crl-malformed"
    );
}

/// `certgate verify` once dropped a whole bundle, good CRLs included, when one CRL in it was
/// unusable (and then checked no revocation at all). The bundle parse keeps every usable CRL
/// and reports each unusable one by position with its reason code.
#[test]
fn bundle_with_an_unusable_crl_keeps_the_others_and_reports_it() {
    let pki = ed25519_pki();
    let pem = |der: &[u8]| {
        let text = pem_encode(der);
        format!("-----BEGIN X509 CRL-----\n{text}-----END X509 CRL-----\n")
    };
    let root = TestPki::crl(&pki.root, &CrlSpec::default()).expect("root CRL");
    let issuing = TestPki::crl(&pki.intermediate, &CrlSpec::default()).expect("CRL");
    let not_a_crl = [0x30, 0x03, 0x02, 0x01, 0x00];
    let bundle = format!(
        "{}{}-----BEGIN X509 CRL-----\n%%% not base64 %%%\n-----END X509 CRL-----\n{}",
        pem(&root),
        pem(&not_a_crl),
        pem(&issuing)
    );
    let parsed = parse_crl_bundle(bundle.clone().into_bytes());
    assert_eq!(parsed.crls.len(), 2, "both good CRLs are kept");
    assert_eq!(parsed.crls[0].der(), root.as_slice());
    assert_eq!(parsed.crls[1].der(), issuing.as_slice());
    let reported: Vec<_> = parsed
        .unusable
        .iter()
        .map(|u| (u.position, u.reason.code()))
        .collect();
    assert_eq!(
        reported,
        [(Some(2), "crl-malformed"), (Some(3), "crl-malformed")]
    );
    // The strict form still refuses the bundle as a whole.
    assert_eq!(
        parse_crls(bundle.into_bytes()).expect_err("strict").code(),
        "crl-malformed"
    );
    // A file without any CRL is reported as such, not as an empty list.
    let empty =
        parse_crl_bundle(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".to_vec());
    assert!(empty.crls.is_empty());
    assert_eq!(empty.unusable.len(), 1);
    assert_eq!(empty.unusable[0].position, None);
    assert_eq!(empty.unusable[0].reason.code(), "crl-malformed");
    // DER: one CRL, position 1.
    let der = parse_crl_bundle(not_a_crl.to_vec());
    assert_eq!(der.unusable[0].position, Some(1));
    assert_eq!(parse_crl_bundle(root.clone()).crls.len(), 1);
}

/// Base64 with 64-column lines, enough for a PEM test (no crate needed for 20 lines).
fn pem_encode(der: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.as_bytes()
        .chunks(64)
        .map(|line| format!("{}\n", String::from_utf8_lossy(line)))
        .collect()
}
