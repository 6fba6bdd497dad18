//! `ValidationPolicy::max_depth` (`certgate verify --max-depth`) counts what `openssl verify
//! -verify_depth` counts: intermediate CAs, neither the end entity nor the trust anchor. Like
//! max_path_length, self-issued intermediates do not count (RFC 5280 §6.1.4 (l)). Chains are
//! generated with rcgen (Ed25519, the fixed times of certgate-testpki).

use certgate_pki::{
    validate, CaKind, Certificate, RevocationDepth, RevocationSnapshot, TrustStore, UnixTime,
    ValidationPolicy,
};
use certgate_testpki::{at, instants, VALIDATION_TIME};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, SerialNumber,
};

const NOW: UnixTime = UnixTime(VALIDATION_TIME);

/// One generated certificate with the key it certifies.
struct Generated {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
    pem: String,
}

impl Generated {
    fn certificate(&self) -> Certificate {
        Certificate::from_der(&self.der).expect("generated certificate parses")
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "certgate Test");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn ca_params(common_name: &str, serial: u8) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.serial_number = Some(SerialNumber::from_slice(&[serial]));
    params.not_before = at(instants::CA_NOT_BEFORE);
    params.not_after = at(instants::CA_NOT_AFTER);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params
}

fn sign(mut params: CertificateParams, issuer: Option<&Generated>) -> Generated {
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
    let cert = match issuer {
        None => params.self_signed(&key),
        Some(issuer) => {
            params.use_authority_key_identifier_extension = true;
            params.signed_by(&key, &Issuer::from_params(&issuer.params, &issuer.key))
        }
    }
    .expect("sign");
    Generated {
        params,
        key,
        der: cert.der().to_vec(),
        pem: cert.pem(),
    }
}

/// A chain: root, then `intermediates` CAs each issued by the one before, then a client leaf.
/// With `rollover_at = Some(i)`, the i-th CA (from 0, root side) is followed by a self-issued
/// certificate for its next key: same subject and issuer, new key, signed with the old key, as
/// a CA that renews its key issues (RFC 4210 §4.4's newWithOld). The leaf and any CA below are
/// issued with the new key.
struct Chain {
    root: Generated,
    /// Root side first.
    intermediates: Vec<Generated>,
    leaf: Generated,
}

fn chain(intermediates: usize, rollover_at: Option<usize>) -> Chain {
    let root = sign(ca_params("Depth Root", 1), None);
    let mut cas: Vec<Generated> = Vec::new();
    for index in 0..intermediates {
        let params = ca_params(&format!("Depth CA {index}"), 10 + index as u8);
        let ca = sign(params, Some(cas.last().unwrap_or(&root)));
        let rollover = rollover_at == Some(index);
        cas.push(ca);
        if rollover {
            let params = ca_params(&format!("Depth CA {index}"), 100 + index as u8);
            let renewed = sign(params, cas.last());
            assert!(renewed.certificate().is_self_issued());
            cas.push(renewed);
        }
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = name("Alice Example");
    params.serial_number = Some(SerialNumber::from_slice(&[0x42]));
    params.not_before = at(instants::LEAF_NOT_BEFORE);
    params.not_after = at(instants::LEAF_NOT_AFTER);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_identifier_method = KeyIdMethod::Sha256;
    let leaf = sign(params, Some(cas.last().unwrap_or(&root)));
    Chain {
        root,
        intermediates: cas,
        leaf,
    }
}

fn certgate_verdict(chain: &Chain, max_depth: usize) -> Result<usize, String> {
    let mut trust = TrustStore::new();
    trust.add(chain.root.certificate(), CaKind::Root);
    let presented: Vec<Certificate> = chain
        .intermediates
        .iter()
        .map(Generated::certificate)
        .collect();
    let policy = ValidationPolicy {
        max_depth,
        revocation: RevocationDepth::Off,
        ..ValidationPolicy::default()
    };
    validate(
        &chain.leaf.certificate(),
        &presented,
        &trust,
        &RevocationSnapshot::empty(),
        &policy,
        NOW,
    )
    .map(|path| path.certificates().len())
    .map_err(|rejection| rejection.code().to_string())
}

const MAX: usize = 3;

#[test]
fn max_depth_counts_intermediates_only_like_openssl_verify_depth() {
    // N-1 and N intermediates fit; the path is leaf + intermediates + anchor.
    for intermediates in [MAX - 1, MAX] {
        assert_eq!(
            certgate_verdict(&chain(intermediates, None), MAX),
            Ok(intermediates + 2),
            "{intermediates} intermediates, max depth {MAX}"
        );
    }
    assert_eq!(
        certgate_verdict(&chain(MAX + 1, None), MAX),
        Err("path-too-long".into())
    );
    // Depth 0: only a leaf the anchor issued itself.
    assert!(certgate_verdict(&chain(0, None), 0).is_ok());
    assert_eq!(
        certgate_verdict(&chain(1, None), 0),
        Err("path-too-long".into())
    );
}

/// RFC 5280 §6.1.4 (l): a self-issued intermediate (here a key rollover certificate, same
/// subject and issuer) does not count against the path length, so it does not count against
/// the maximum depth either.
#[test]
fn self_issued_intermediate_does_not_count_rfc5280_6_1_4_l() {
    let rollover = chain(MAX, Some(1));
    assert_eq!(rollover.intermediates.len(), MAX + 1);
    assert_eq!(certgate_verdict(&rollover, MAX), Ok(MAX + 3));
    // It is still a certificate of the path: one more ordinary CA is one too many.
    assert_eq!(
        certgate_verdict(&chain(MAX + 1, Some(0)), MAX),
        Err("path-too-long".into())
    );
}

/// The same chains through `openssl verify -verify_depth`. (OpenSSL counts self-issued
/// intermediates too, so the rollover case is not compared.)
#[test]
fn max_depth_agrees_with_openssl_verify_depth() {
    let dir = tempfile_dir();
    for intermediates in [MAX - 1, MAX, MAX + 1] {
        let chain = chain(intermediates, None);
        let path = |file: &str, text: String| {
            let path = dir.join(format!("{intermediates}-{file}"));
            std::fs::write(&path, text).expect("write scratch file");
            path
        };
        let root = path("root.pem", chain.root.pem.clone());
        let untrusted = path(
            "untrusted.pem",
            chain.intermediates.iter().map(|c| c.pem.as_str()).collect(),
        );
        let leaf = path("leaf.pem", chain.leaf.pem.clone());
        let mut command = std::process::Command::new("openssl");
        command
            .args(["verify", "-verify_depth", &MAX.to_string()])
            .args(["-attime", &VALIDATION_TIME.to_string()])
            .arg("-CAfile")
            .arg(&root);
        if intermediates > 0 {
            command.arg("-untrusted").arg(&untrusted);
        }
        let output = command
            .arg(&leaf)
            .output()
            .expect("the openssl command line tool must be installed to run this test");
        let openssl_accepts = output.status.success();
        let certgate_accepts = certgate_verdict(&chain, MAX).is_ok();
        assert_eq!(
            certgate_accepts,
            openssl_accepts,
            "{intermediates} intermediates, depth {MAX}: openssl says {}",
            String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "certgate-pki-max-depth-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}
