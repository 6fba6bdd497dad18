//! Shared by the certgate-saml tests: a token-signing key and its certificate (made with
//! certgate-ca at fixed times), PEM/base64 helpers, message IDs, and the peers (xmlsec1, xmllint)
//! with the shipped XSDs.
#![allow(dead_code, unreachable_pub)] // each test file uses a part

use std::path::{Path, PathBuf};
use std::process::Command;

use certgate_ca::{create_hierarchy, HierarchyRequest, KeyAlgorithm};
use certgate_saml::{MessageId, SigningKey, UnixTime};
use tempfile::TempDir;
use time::OffsetDateTime;

/// 2026-03-01T12:00:00Z.
pub const NOW: UnixTime = UnixTime(1_772_366_400);

/// Inside the test certificate's validity (issued 2026-01-01, 10 years), for xmlsec1.
pub const VERIFICATION_TIME: &str = "2026-03-01 12:00:00";

pub struct Fixture {
    pub dir: TempDir,
    pub key: SigningKey,
    pub certificate_pem: PathBuf,
}

pub fn fixture() -> Fixture {
    let hierarchy = create_hierarchy(
        &HierarchyRequest {
            organization: "Contoso".into(),
            root_common_name: "Contoso token signing".into(),
            issuing_common_name: "Contoso unused issuing CA".into(),
            key_algorithm: KeyAlgorithm::Rsa2048,
            root_validity_days: 3650,
            issuing_validity_days: 30,
            root_crl_url: None,
            root_certificate_url: None,
        },
        // 2026-01-01T00:00:00Z.
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap(),
    )
    .unwrap();
    let signer = hierarchy.root;
    let key = SigningKey::from_pkcs8_and_certificate(
        &signer.private_key_pkcs8_der(),
        signer.certificate_der(),
    )
    .unwrap();
    let dir = TempDir::new().unwrap();
    let certificate_pem = dir.path().join("cert.pem");
    std::fs::write(&certificate_pem, pem(signer.certificate_der())).unwrap();
    Fixture {
        dir,
        key,
        certificate_pem,
    }
}

pub fn pem(der: &[u8]) -> String {
    let b64 = b64(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

pub fn b64(der: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(der)
}

pub fn id(n: u8) -> MessageId {
    MessageId::parse(&format!("_{n:032x}")).unwrap()
}

pub fn tool(name: &str) -> Command {
    let probe = Command::new(name).arg("--version").output();
    assert!(
        probe.is_ok(),
        "{name} is not installed; scripts/setup.sh installs it (Debian packages xmlsec1, libxml2-utils)"
    );
    Command::new(name)
}

pub fn xsd(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/xsd")
        .join(name)
}
