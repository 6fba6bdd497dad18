//! CMS SignedData (signed configuration profiles): OpenSSL verifies what `cms_sign` writes
//! against the root, for every key algorithm the CA can have, returns the content unchanged,
//! and refuses the file once a byte of the content is changed or when another root is trusted.

mod common;

use std::path::Path;

use certgate_ca::{cms_sign, KeyAlgorithm};
use common::*;

const CONTENT: &[u8] = b"<?xml version=\"1.0\"?><plist version=\"1.0\"><dict/></plist>\n";

/// `openssl <tool> -verify -inform DER -in signed -CAfile root -purpose any -out content`.
///
/// `-purpose any`: the signer is certgate's issuing CA, whose keyUsage is keyCertSign and
/// cRLSign only, so OpenSSL's default S/MIME signing purpose check (digitalSignature or
/// nonRepudiation, emailProtection) would refuse it; `any` skips that purpose check while the
/// path to the root and the signature are still verified.
fn verify(tool: &str, dir: &Path, signed: &Path, root_pem: &Path) -> (bool, String, Vec<u8>) {
    let out = dir.join(format!("{tool}-content.out"));
    let output = openssl([
        tool.as_ref(),
        "-verify".as_ref(),
        "-inform".as_ref(),
        "DER".as_ref(),
        "-in".as_ref(),
        signed.as_os_str(),
        "-CAfile".as_ref(),
        root_pem.as_os_str(),
        "-purpose".as_ref(),
        "any".as_ref(),
        "-out".as_ref(),
        out.as_os_str(),
    ] as [&std::ffi::OsStr; 12]);
    let content = std::fs::read(&out).unwrap_or_default();
    (output.status.success(), text(&output), content)
}

#[test]
fn openssl_verifies_the_signed_data_for_every_key_algorithm() {
    for algorithm in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Rsa2048,
    ] {
        let hierarchy = hierarchy(algorithm);
        let signed = cms_sign(
            &hierarchy.issuing,
            &[hierarchy.root.certificate_der().to_vec()],
            CONTENT,
            at(NOW + 3600),
        )
        .expect("signed");
        let dir = scratch();
        let path = write(dir.path(), "signed.der", &signed);
        let root = write(
            dir.path(),
            "root.pem",
            certificate_pem(hierarchy.root.certificate_der()).as_bytes(),
        );
        for tool in ["smime", "cms"] {
            let (ok, output, content) = verify(tool, dir.path(), &path, &root);
            assert!(ok, "{algorithm} {tool}: {output}");
            assert!(output.contains("Verification successful"), "{output}");
            assert_eq!(content, CONTENT, "{algorithm} {tool}");
        }

        // The structure as OpenSSL reads it: version 1, issuerAndSerialNumber, the three
        // signed attributes, both certificates.
        let output = openssl([
            "cms".as_ref(),
            "-cmsout".as_ref(),
            "-print".as_ref(),
            "-inform".as_ref(),
            "DER".as_ref(),
            "-in".as_ref(),
            path.as_os_str(),
        ] as [&std::ffi::OsStr; 7]);
        let listing = text(&output);
        assert!(output.status.success(), "{listing}");
        for expected in [
            "contentType: pkcs7-signedData",
            "eContentType: pkcs7-data",
            "object: contentType",
            "object: signingTime",
            "object: messageDigest",
            "Contoso certgate Root CA",
            "Contoso certgate Issuing CA",
        ] {
            assert!(
                listing.contains(expected),
                "{algorithm}: {expected} in {listing}"
            );
        }
    }
}

#[test]
fn a_changed_byte_or_another_root_fails_verification() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let signed = cms_sign(
        &hierarchy.issuing,
        &[hierarchy.root.certificate_der().to_vec()],
        CONTENT,
        at(NOW + 3600),
    )
    .expect("signed");
    let dir = scratch();
    let root = write(
        dir.path(),
        "root.pem",
        certificate_pem(hierarchy.root.certificate_der()).as_bytes(),
    );
    let position = signed
        .windows(5)
        .position(|w| w == b"plist")
        .expect("content inside");
    let mut tampered = signed.clone();
    tampered[position] = b'P';
    let path = write(dir.path(), "tampered.der", &tampered);
    let (ok, output, _) = verify("smime", dir.path(), &path, &root);
    assert!(!ok, "a changed content verified: {output}");
    assert!(output.contains("digest failure"), "{output}");

    let other = hierarchy_request(KeyAlgorithm::EcdsaP256);
    let other = certgate_ca::create_hierarchy(&other, now()).expect("another hierarchy");
    let other_root = write(
        dir.path(),
        "other-root.pem",
        certificate_pem(other.root.certificate_der()).as_bytes(),
    );
    let path = write(dir.path(), "signed.der", &signed);
    let (ok, output, _) = verify("smime", dir.path(), &path, &other_root);
    assert!(!ok, "verified against another root: {output}");
    assert!(output.contains("certificate verify error"), "{output}");
}
