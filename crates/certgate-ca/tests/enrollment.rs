//! Issuance for a requester's key (EST, RFC 7030 §4.2): a certificate for the key in a PKCS#10
//! request has exactly the profile of a certificate for a generated key, carries the subject
//! and SAN the caller gives (never the request's), validates, and certifies the very key that
//! signed the request. The certs-only bundle EST answers with is read by certgate-pki and by
//! OpenSSL.

mod common;

use certgate_ca::{
    certs_only, issue_client_certificate, issue_client_certificate_for_key, KeyAlgorithm,
};
use certgate_pki::{parse_certificates, CertificationRequest, Identity, RevocationDepth};
use common::*;
use rcgen::PublicKeyData as _;

/// A CSR asking for a subject, SAN and extensions certgate must not copy.
fn hostile_request(algorithm: &'static rcgen::SignatureAlgorithm) -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(algorithm).expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["admin.contoso.example".to_owned()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Administrator");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let request = params.serialize_request(&key).expect("CSR");
    (request.der().to_vec(), key.subject_public_key_info())
}

#[test]
fn a_certificate_for_a_requested_key_has_the_directory_identity_and_the_requested_key() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    for algorithm in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_RSA_SHA256,
    ] {
        let (csr, requested_spki) = hostile_request(algorithm);
        let request = CertificationRequest::from_der(&csr).expect("CSR verifies");
        let issued = issue_client_certificate_for_key(
            &hierarchy.issuing,
            &client_request(KeyAlgorithm::EcdsaP256),
            request.key(),
            now(),
        )
        .expect("issued");
        validate_leaf(
            &hierarchy,
            &issued.certificate_der,
            RevocationDepth::Off,
            &[],
        )
        .unwrap_or_else(|rejection| panic!("{}: {rejection}", request.key().describe()));
        let leaf = parse(&issued.certificate_der);
        // The key is the requester's, written byte for byte as the requester's library would.
        assert_eq!(leaf.public_key().der, requested_spki);
        assert_eq!(leaf.serial(), issued.serial);
        let identity = Identity::of(&leaf);
        assert_eq!(identity.subject, "CN=Alice Smith, O=Contoso");
        assert_eq!(identity.upns, ["alice@contoso.example"]);
        assert_eq!(identity.rfc822_names, ["alice.smith@contoso.example"]);
        assert!(!leaf.is_ca(), "the request's basicConstraints are ignored");
        assert!(leaf
            .extensions()
            .subject_alt_names
            .iter()
            .flatten()
            .all(|name| !format!("{name:?}").contains("admin.contoso.example")));
    }
}

#[test]
fn both_issuing_paths_write_the_same_profile() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let generated = issue_client_certificate(
        &hierarchy.issuing,
        &client_request(KeyAlgorithm::EcdsaP256),
        now(),
    )
    .expect("generated");
    let (csr, _) = hostile_request(&rcgen::PKCS_ECDSA_P256_SHA256);
    let request = CertificationRequest::from_der(&csr).expect("CSR");
    let requested = issue_client_certificate_for_key(
        &hierarchy.issuing,
        &client_request(KeyAlgorithm::EcdsaP256),
        request.key(),
        now(),
    )
    .expect("for key");
    let (a, b) = (
        parse(&generated.certificate_der),
        parse(&requested.certificate_der),
    );
    assert_eq!(a.subject(), b.subject());
    assert_eq!(a.issuer(), b.issuer());
    assert_eq!(
        (a.not_before(), a.not_after()),
        (b.not_before(), b.not_after())
    );
    let mut ea = a.extensions().clone();
    let mut eb = b.extensions().clone();
    // Only the key identifier follows the key.
    assert_ne!(ea.subject_key_id, eb.subject_key_id);
    ea.subject_key_id = None;
    eb.subject_key_id = None;
    assert_eq!(ea, eb);
}

#[test]
fn requests_are_checked_as_for_a_generated_key() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let (csr, _) = hostile_request(&rcgen::PKCS_ECDSA_P256_SHA256);
    let request = CertificationRequest::from_der(&csr).expect("CSR");
    let mut bad = client_request(KeyAlgorithm::EcdsaP256);
    bad.upn = "not a upn".into();
    let error = issue_client_certificate_for_key(&hierarchy.issuing, &bad, request.key(), now())
        .expect_err("bad UPN");
    assert_eq!(error.code(), "ca-invalid-request");
}

#[test]
fn a_certs_only_bundle_opens_in_certgate_pki_and_openssl() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let leaf = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let bundle = certs_only(&[
        hierarchy.issuing.certificate_der(),
        hierarchy.root.certificate_der(),
        &leaf.certificate_der,
    ]);
    let read = parse_certificates(&bundle).expect("p7b");
    assert_eq!(read.len(), 3);
    for der in [
        hierarchy.root.certificate_der(),
        hierarchy.issuing.certificate_der(),
        &leaf.certificate_der[..],
    ] {
        assert!(read.iter().any(|c| c.der() == der));
    }
    let dir = scratch();
    let path = write(dir.path(), "bundle.p7b", &bundle);
    let output = openssl([
        "pkcs7".as_ref(),
        "-inform".as_ref(),
        "DER".as_ref(),
        "-print_certs".as_ref(),
        "-noout".as_ref(),
        "-in".as_ref(),
        path.as_os_str(),
    ]);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains("subject=O = Contoso, CN = Contoso certgate Root CA"),
        "{printed}"
    );
    assert!(
        printed.contains("CN = Contoso certgate Issuing CA"),
        "{printed}"
    );
    assert!(printed.contains("CN = Alice Smith"), "{printed}");
}
