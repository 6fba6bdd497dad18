//! `certgate verify` applies the RFC 5280 §4 profile rules with their codes, and each named
//! exception flag lifts exactly its rule (issue 13, items 4 and 5).

use std::process::Command;

use certgate_testpki::{weak_keys, ChainSpec, Edit, TestPki, VALIDATION_TIME};
use serde_json::Value;

/// Runs `certgate verify --json` on the generated chain; returns (exit code, reason code).
fn verify(spec: &ChainSpec, extra: &[&str]) -> (Option<i32>, String) {
    let pki = TestPki::three_level(spec).expect("test PKI");
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write fixture");
        path
    };
    let root = write("root.pem", pki.root.pem.as_bytes());
    let intermediate = write("intermediate.pem", pki.intermediate.pem.as_bytes());
    let leaf = write("leaf.pem", pki.leaf.pem.as_bytes());
    let at = time::OffsetDateTime::from_unix_timestamp(VALIDATION_TIME)
        .expect("fixed time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    let output = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["verify", "--json", "--at", &at, "--trust"])
        .arg(&root)
        .arg("--untrusted")
        .arg(&intermediate)
        .args(extra)
        .arg(&leaf)
        .output()
        .expect("run certgate");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let code = json["code"].as_str().unwrap_or("").to_owned();
    (output.status.code(), code)
}

/// RFC 5280 §4.2.1.1: a leaf without AKI is refused; `--insecure-allow-missing-key-identifiers`
/// accepts it.
#[test]
fn rfc5280_4_2_1_1_missing_aki_and_its_named_exception() {
    let spec = ChainSpec {
        leaf_edits: vec![Edit::RemoveExtension("2.5.29.35")],
        ..ChainSpec::default()
    };
    assert_eq!(
        verify(&spec, &[]),
        (Some(1), "authority-key-id-missing".into())
    );
    assert_eq!(
        verify(&spec, &["--insecure-allow-missing-key-identifiers"]).0,
        Some(0)
    );
}

/// RFC 5280 §4.1.2.2: a zero serial is refused; `--insecure-allow-nonconforming-serial-numbers`
/// accepts it.
#[test]
fn rfc5280_4_1_2_2_zero_serial_and_its_named_exception() {
    let spec = ChainSpec {
        leaf_edits: vec![Edit::Serial(vec![0])],
        ..ChainSpec::default()
    };
    assert_eq!(verify(&spec, &[]), (Some(1), "serial-invalid".into()));
    assert_eq!(
        verify(&spec, &["--insecure-allow-nonconforming-serial-numbers"]).0,
        Some(0)
    );
}

/// Item 5: an RSA-1024 client certificate is rejected by default (`weak-key`).
#[test]
fn rsa_1024_client_certificate_is_rejected() {
    let spec = ChainSpec {
        leaf_edits: vec![Edit::SubjectPublicKeyInfo(weak_keys::RSA_1024.to_vec())],
        ..ChainSpec::default()
    };
    assert_eq!(verify(&spec, &[]), (Some(1), "weak-key".into()));
    assert_eq!(verify(&ChainSpec::default(), &[]).0, Some(0));
}
