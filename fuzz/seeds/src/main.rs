//! Writes seed corpora for the fuzz targets:
//!
//! ```text
//! certgate-fuzz-seeds OUT_DIR [PKITS_DATA_DIR EXPECTATIONS_JSON]
//! ```
//!
//! `OUT_DIR/{certificate,crl,path}/` receive certgate-testpki chains and CRLs (RSA, ECDSA P-256,
//! Ed25519) and, when given, every NIST PKITS certificate, CRL and test path. Each path seed
//! comes twice: as issued (real signatures, so mutations mostly stop at the signature check)
//! and rewritten onto the harness key (see `certgate_fuzz::harness_key`), so that mutations
//! of the signed contents still verify and reach the checks behind the signature.
//! Certificate keys are random (certgate-testpki), so the bytes differ between runs.

use std::fs;
use std::path::{Path, PathBuf};

use certgate_fuzz::path_input::{extras, flags, knobs, PathInput, MAX_BLOBS};
use certgate_fuzz::{der, harness_key, pem};
use certgate_testpki::{ChainSpec, CrlSpec, KeyKind, TestPki};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, pkits) = match args.as_slice() {
        [out] => (PathBuf::from(out), None),
        [out, data, expectations] => (
            PathBuf::from(out),
            Some((PathBuf::from(data), PathBuf::from(expectations))),
        ),
        _ => {
            return Err(
                "usage: certgate-fuzz-seeds OUT_DIR [PKITS_DATA_DIR EXPECTATIONS_JSON]".into(),
            )
        }
    };
    let corpus = Corpus::create(&out)?;
    testpki_seeds(&corpus)?;
    if let Some((data, expectations)) = pkits {
        pkits_seeds(&corpus, &data, &expectations)?;
    }
    for target in Corpus::TARGETS {
        println!(
            "seeds: {target}: {} files",
            fs::read_dir(out.join(target))?.count()
        );
    }
    Ok(())
}

struct Corpus {
    root: PathBuf,
}

impl Corpus {
    const TARGETS: [&'static str; 3] = ["certificate", "crl", "path"];

    fn create(root: &Path) -> Result<Self, Error> {
        for target in Self::TARGETS {
            fs::create_dir_all(root.join(target))?;
        }
        Ok(Corpus {
            root: root.to_path_buf(),
        })
    }

    fn write(&self, target: &str, name: &str, bytes: &[u8]) -> Result<(), Error> {
        fs::write(self.root.join(target).join(name), bytes)?;
        Ok(())
    }
}

/// A path seed: certificates end entity first, root last, then CRLs.
fn path_seed(
    certs: &[&[u8]],
    crls: &[&[u8]],
    header: [u8; 3],
    rekey: bool,
) -> Result<Vec<u8>, Error> {
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    for cert in certs {
        blobs.push(if rekey {
            rekeyed_certificate_tbs(cert).ok_or("certificate does not decode")?
        } else {
            cert.to_vec()
        });
    }
    for crl in crls {
        blobs.push(if rekey {
            rekeyed_crl_tbs(crl).ok_or("CRL does not decode")?
        } else {
            crl.to_vec()
        });
    }
    let [mut flag_byte, knob_byte, extra_byte] = header;
    if rekey {
        flag_byte |= (1u8 << blobs.len().min(MAX_BLOBS)) - 1;
    }
    Ok(PathInput {
        flags: flag_byte,
        knobs: knob_byte,
        extras: extra_byte,
        blobs: blobs.iter().map(Vec::as_slice).collect(),
    }
    .join())
}

/// The TBS elements of a signed structure (certificate or CRL).
fn tbs_elements(signed: &[u8]) -> Option<Vec<der::Tlv<'_>>> {
    let (outer, _) = der::read(signed)?;
    let (tbs, _) = der::read(outer.content)?;
    der::children(tbs.content)
}

fn reassemble(elements: &[der::Tlv<'_>], replace: &[(usize, &[u8])]) -> Vec<u8> {
    let mut content = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        match replace.iter().find(|(i, _)| *i == index) {
            Some((_, bytes)) => content.extend_from_slice(bytes),
            None => content.extend_from_slice(element.full),
        }
    }
    der::write(der::SEQUENCE, &content)
}

/// The TBSCertificate with its signature algorithm and public key replaced by the harness
/// key's (RFC 5280 §4.1: version [0] is optional, then serial, signature, issuer, validity,
/// subject, subjectPublicKeyInfo).
fn rekeyed_certificate_tbs(cert: &[u8]) -> Option<Vec<u8>> {
    let elements = tbs_elements(cert)?;
    let skip = usize::from(elements.first()?.tag == 0xa0);
    let spki = harness_key::subject_public_key_info();
    Some(reassemble(
        &elements,
        &[
            (skip + 1, harness_key::ED25519_ALGORITHM),
            (skip + 5, &spki),
        ],
    ))
}

/// The TBSCertList with its signature algorithm replaced (§5.1: version is optional).
fn rekeyed_crl_tbs(crl: &[u8]) -> Option<Vec<u8>> {
    let elements = tbs_elements(crl)?;
    let skip = usize::from(elements.first()?.tag == 0x02);
    Some(reassemble(
        &elements,
        &[(skip, harness_key::ED25519_ALGORITHM)],
    ))
}

fn testpki_seeds(corpus: &Corpus) -> Result<(), Error> {
    for (label, key) in [
        ("rsa", KeyKind::Rsa2048),
        ("ecdsa", KeyKind::EcdsaP256),
        ("ed25519", KeyKind::Ed25519),
    ] {
        let pki = TestPki::three_level(&ChainSpec::with_key(key))?;
        let good = TestPki::crl(&pki.intermediate, &CrlSpec::default())?;
        let revoked = TestPki::crl(
            &pki.intermediate,
            &CrlSpec {
                entries: 3,
                crl_number: 2,
                extra_revoked: vec![pki.leaf.serial.clone()],
                ..CrlSpec::default()
            },
        )?;
        let root_crl = TestPki::crl(&pki.root, &CrlSpec::default())?;

        for (name, issued) in [
            ("root", &pki.root),
            ("intermediate", &pki.intermediate),
            ("leaf", &pki.leaf),
        ] {
            corpus.write(
                "certificate",
                &format!("testpki-{label}-{name}.der"),
                &issued.der,
            )?;
        }
        corpus.write(
            "certificate",
            &format!("testpki-{label}-leaf.pem"),
            pki.leaf.pem.as_bytes(),
        )?;
        corpus.write("crl", &format!("testpki-{label}-good.crl"), &good)?;
        corpus.write("crl", &format!("testpki-{label}-revoked.crl"), &revoked)?;
        corpus.write("crl", &format!("testpki-{label}-root.crl"), &root_crl)?;
        corpus.write(
            "crl",
            &format!("testpki-{label}-revoked.pem"),
            pem::encode("X509 CRL", &revoked).as_bytes(),
        )?;

        let chain: [&[u8]; 3] = [&pki.leaf.der, &pki.intermediate.der, &pki.root.der];
        let variants: [(&str, &[u8], [u8; 3]); 6] = [
            ("good", &good, [0, 0, 0]),
            ("revoked", &revoked, [0, 0, 0]),
            (
                "trusted-intermediate",
                &good,
                [0, knobs::TRUSTED_INTERMEDIATES, 0],
            ),
            ("exempt", &good, [0, 0, extras::EXEMPT_END_ENTITY_ISSUER]),
            (
                "end-entity-only",
                &good,
                [flags::REVOCATION_END_ENTITY, 0, 0],
            ),
            ("expect-dns-name", &good, [0, 0, extras::EXPECT_DNS_NAME]),
        ];
        for (variant, crl, header) in variants {
            for rekey in [false, true] {
                let seed = path_seed(&chain, &[crl, &root_crl], header, rekey)?;
                let name = format!(
                    "testpki-{label}-{variant}{}",
                    if rekey { "-rekeyed" } else { "" }
                );
                corpus.write("path", &name, &seed)?;
            }
        }
    }
    Ok(())
}

fn pkits_seeds(corpus: &Corpus, data: &Path, expectations: &Path) -> Result<(), Error> {
    for (kind, target, extension) in [("certs", "certificate", "crt"), ("crls", "crl", "crl")] {
        for entry in fs::read_dir(data.join(kind))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == extension) {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("pkits");
                corpus.write(target, &format!("pkits-{name}"), &fs::read(&path)?)?;
            }
        }
    }

    let json: serde_json::Value = serde_json::from_slice(&fs::read(expectations)?)?;
    let tests = json["tests"]
        .as_array()
        .ok_or("expectations: no tests array")?;
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut written = 0;
    for test in tests {
        let id = test["id"].as_str().unwrap_or("unknown");
        // "certs" lists the trust anchor first; the target wants the end entity first.
        let mut certs = strings(&test["certs"]);
        certs.reverse();
        let crls = strings(&test["crls"]);
        if certs.len() > MAX_BLOBS {
            continue;
        }
        // The CRLs closest to the end entity matter most; keep as many of them as fit, and
        // when some had to go, check only the end entity so that the seed still gets past
        // revocation to the checks behind it.
        let kept = crls.len().min(MAX_BLOBS - certs.len());
        let depth = if kept < crls.len() {
            flags::REVOCATION_END_ENTITY
        } else {
            0
        };
        let crls = &crls[crls.len() - kept..];
        let read = |dir: &str, name: &str, ext: &str| {
            fs::read(data.join(dir).join(format!("{name}.{ext}")))
        };
        let cert_bytes = certs
            .iter()
            .map(|n| read("certs", n, "crt"))
            .collect::<Result<Vec<_>, _>>()?;
        let crl_bytes = crls
            .iter()
            .map(|n| read("crls", n, "crl"))
            .collect::<Result<Vec<_>, _>>()?;

        let flag = |key: &str, bit: u8| {
            if test[key].as_bool() == Some(true) {
                bit
            } else {
                0
            }
        };
        let mut knob_byte = knobs::PURPOSE_ANY
            | flag("initial_explicit_policy", knobs::EXPLICIT_POLICY)
            | flag(
                "initial_policy_mapping_inhibit",
                knobs::INHIBIT_POLICY_MAPPING,
            )
            | flag("initial_inhibit_any_policy", knobs::INHIBIT_ANY_POLICY);
        if strings(&test["initial_policy_set"]) == ["NIST-test-policy-1"] {
            knob_byte |= knobs::NIST_TEST_POLICY_1;
        }
        let certs: Vec<&[u8]> = cert_bytes.iter().map(Vec::as_slice).collect();
        let crls: Vec<&[u8]> = crl_bytes.iter().map(Vec::as_slice).collect();
        let raw_flags = flags::LEGACY_ALGORITHMS | flags::PKITS_TIME | depth;
        corpus.write(
            "path",
            &format!("pkits-{id}"),
            &path_seed(&certs, &crls, [raw_flags, knob_byte, 0], false)?,
        )?;
        corpus.write(
            "path",
            &format!("pkits-{id}-rekeyed"),
            &path_seed(
                &certs,
                &crls,
                [flags::PKITS_TIME | depth, knob_byte, 0],
                true,
            )?,
        )?;
        written += 1;
    }
    println!(
        "seeds: {written} of {} PKITS paths fit the path target's five blobs",
        tests.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_fuzz::path_case::PathCase;
    use certgate_pki::validate;

    fn decide(seed: &[u8]) -> Result<(), String> {
        let input = PathInput::split(seed).expect("seed has a header");
        let case = PathCase::from_input(&input).expect("seed holds certificates");
        validate(
            &case.end_entity,
            &case.presented,
            &case.trust,
            &case.snapshot,
            &case.policy,
            case.at,
        )
        .map(|_| ())
        .map_err(|r| r.code().to_string())
    }

    /// The rekeyed seeds are only useful if their signatures verify: a good chain must
    /// validate and a revoked one must fail on revocation, not on a signature.
    #[test]
    fn testpki_seeds_validate_as_issued_and_rekeyed() {
        for key in [KeyKind::Rsa2048, KeyKind::EcdsaP256, KeyKind::Ed25519] {
            let pki = TestPki::three_level(&ChainSpec::with_key(key)).expect("test PKI");
            let good = TestPki::crl(&pki.intermediate, &CrlSpec::default()).expect("CRL");
            let revoked = TestPki::crl(
                &pki.intermediate,
                &CrlSpec {
                    extra_revoked: vec![pki.leaf.serial.clone()],
                    ..CrlSpec::default()
                },
            )
            .expect("CRL");
            let root_crl = TestPki::crl(&pki.root, &CrlSpec::default()).expect("CRL");
            let chain: [&[u8]; 3] = [&pki.leaf.der, &pki.intermediate.der, &pki.root.der];
            for rekey in [false, true] {
                let seed = |crl: &[u8]| {
                    path_seed(&chain, &[crl, &root_crl], [0, 0, 0], rekey).expect("seed")
                };
                assert_eq!(decide(&seed(&good)), Ok(()), "{key:?} rekey={rekey}");
                assert_eq!(
                    decide(&seed(&revoked)),
                    Err("cert-revoked".to_string()),
                    "{key:?} rekey={rekey}"
                );
            }
        }
    }

    #[test]
    fn rekeyed_tbs_carries_the_harness_key() {
        let pki = TestPki::three_level(&ChainSpec::with_key(KeyKind::EcdsaP256)).expect("PKI");
        let tbs = rekeyed_certificate_tbs(&pki.leaf.der).expect("rekeyed");
        let cert = certgate_pki::Certificate::from_der(&harness_key::sign(&tbs)).expect("parses");
        assert_eq!(
            cert.public_key().der,
            harness_key::subject_public_key_info()
        );
        assert_eq!(cert.serial(), pki.leaf.serial.as_slice());
    }
}
