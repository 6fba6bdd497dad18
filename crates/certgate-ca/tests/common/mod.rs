//! Shared fixtures for the integration tests: fixed times, a hierarchy, a client certificate,
//! certgate-pki validation and OpenSSL invocations.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use certgate_ca::{
    create_hierarchy, issue_client_certificate, sign_crl, Authority, ClientCertificateRequest,
    CrlRequest, Hierarchy, HierarchyRequest, IssuedCertificate, KeyAlgorithm, RevokedSerial,
};
use certgate_pki::{
    validate, CaKind, Certificate, Crl, Rejection, RevocationDepth, RevocationSnapshot, TrustStore,
    UnixTime, ValidationPolicy,
};
use time::{Duration, OffsetDateTime};

/// 2026-01-01T00:00:00Z: the CAs and certificates are created at this instant.
pub const NOW: i64 = 1_767_225_600;

pub fn at(unix_seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix_seconds).expect("fixed time in range")
}

pub fn now() -> OffsetDateTime {
    at(NOW)
}

pub const ROOT_CRL_URL: &str = "http://pki.contoso.example/pki/root.crl";
pub const ROOT_CERT_URL: &str = "http://pki.contoso.example/pki/root.crt";
pub const ISSUING_CRL_URL: &str = "http://pki.contoso.example/pki/issuing.crl";
pub const ISSUING_DELTA_URL: &str = "http://pki.contoso.example/pki/issuing-delta.crl";
pub const ISSUING_CERT_URL: &str = "http://pki.contoso.example/pki/issuing.crt";

pub fn hierarchy_request(key_algorithm: KeyAlgorithm) -> HierarchyRequest {
    HierarchyRequest {
        organization: "Contoso".into(),
        root_common_name: "Contoso certgate Root CA".into(),
        issuing_common_name: "Contoso certgate Issuing CA".into(),
        key_algorithm,
        root_validity_days: 3650,
        issuing_validity_days: 1825,
        root_crl_url: Some(ROOT_CRL_URL.into()),
        root_certificate_url: Some(ROOT_CERT_URL.into()),
    }
}

pub fn hierarchy(key_algorithm: KeyAlgorithm) -> Hierarchy {
    create_hierarchy(&hierarchy_request(key_algorithm), now()).expect("create hierarchy")
}

pub fn client_request(key_algorithm: KeyAlgorithm) -> ClientCertificateRequest {
    ClientCertificateRequest {
        upn: "alice@contoso.example".into(),
        email: Some("alice.smith@contoso.example".into()),
        common_name: "Alice Smith".into(),
        validity_days: 365,
        policy_oids: vec!["1.3.6.1.4.1.311.21.8.1".into()],
        crl_url: Some(ISSUING_CRL_URL.into()),
        delta_crl_url: Some(ISSUING_DELTA_URL.into()),
        ca_issuers_url: Some(ISSUING_CERT_URL.into()),
        key_algorithm,
        not_after_limit: None,
    }
}

pub fn issue(issuer: &Authority, key_algorithm: KeyAlgorithm) -> IssuedCertificate {
    issue_client_certificate(issuer, &client_request(key_algorithm), now()).expect("issue")
}

/// A CRL valid from NOW for a week.
pub fn crl_request(crl_number: u64, revoked: Vec<RevokedSerial>) -> CrlRequest {
    CrlRequest {
        crl_number,
        this_update: now(),
        next_update: now() + Duration::days(7),
        revoked,
        delta_of: None,
        freshest_crl_url: None,
    }
}

pub fn empty_crl(authority: &Authority) -> Vec<u8> {
    sign_crl(authority, &crl_request(1, Vec::new())).expect("empty CRL")
}

pub fn parse(der: &[u8]) -> Certificate {
    Certificate::from_der(der).expect("certgate-pki parses the certificate")
}

pub fn parse_crl(der: &[u8]) -> Crl {
    Crl::from_der(der.to_vec()).expect("certgate-pki parses the CRL")
}

/// Validates `leaf` under the hierarchy with certgate-pki's default policy (ClientAuth), the
/// given revocation depth and CRLs, an hour after NOW.
pub fn validate_leaf(
    hierarchy: &Hierarchy,
    leaf_der: &[u8],
    depth: RevocationDepth,
    crls: &[&[u8]],
) -> Result<(), Rejection> {
    let leaf = parse(leaf_der);
    let intermediates = [parse(hierarchy.issuing.certificate_der())];
    let mut trust = TrustStore::new();
    trust.add(parse(hierarchy.root.certificate_der()), CaKind::Root);
    let snapshot = RevocationSnapshot::new(crls.iter().map(|der| parse_crl(der)).collect());
    let policy = ValidationPolicy {
        revocation: depth,
        ..ValidationPolicy::default()
    };
    validate(
        &leaf,
        &intermediates,
        &trust,
        &snapshot,
        &policy,
        UnixTime(NOW + 3600),
    )
    .map(|_| ())
}

/// A scratch directory removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::TempDir::new().expect("temp dir")
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write scratch file");
    path
}

/// Runs `openssl` with `args`; panics with a clear message when it is not installed.
pub fn openssl<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI must be installed to run these tests")
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// PEM armour (RFC 7468) around DER.
pub fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::new();
    for chunk in der.chunks(3) {
        let bytes = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                encoded.push(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize] as char);
            } else {
                encoded.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub fn certificate_pem(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

pub fn crl_pem(der: &[u8]) -> String {
    pem("X509 CRL", der)
}
