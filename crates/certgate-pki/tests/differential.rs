//! certgate's certificate reader against x509-parser, on every certificate of the
//! cryptography-vectors package (PKITS, real-world oddities, malformed encodings) and on
//! generated chains.
//!
//! Where both accept a certificate, every field certgate keeps must agree. Where only one
//! accepts, the certificate must be on the list below with the rule that separates them:
//! certgate may be stricter than x509-parser, never looser without a reason written here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use certgate_pki::{Certificate, GeneralName};
use certgate_testpki::{ChainSpec, KeyKind, TestPki};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName as ParserGeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

/// Files where certgate refuses what x509-parser reads, and the rule certgate applies.
const CERTGATE_STRICTER: &[(&str, &str)] = &[
    (
        "BadSignedCACert.crt",
        "X.690 / RFC 5280 §4.1.1.3: a signature BIT STRING has no unused bits (PKITS 4.1.2, invalid either way)",
    ),
    (
        "InvalidDSASignatureTest6EE.crt",
        "X.690 / RFC 5280 §4.1.1.3: a signature BIT STRING has no unused bits (PKITS 4.1.6, invalid either way)",
    ),
    (
        "empty-eku.pem",
        "RFC 5280 §4.2.1.12: ExtKeyUsageSyntax is SIZE (1..MAX)",
    ),
    (
        "inhibit_any_policy_negative.pem",
        "RFC 5280 §4.2.1.14: SkipCerts is INTEGER (0..MAX)",
    ),
    (
        "invalid_version.pem",
        "RFC 5280 §4.1.2.1: versions are v1, v2, v3",
    ),
    (
        "malformed-san.pem",
        "RFC 5280 §4.2.1.6: an otherName value is [0] EXPLICIT",
    ),
    (
        "mismatch_inner_outer_sig_algorithm.der",
        "RFC 5280 §4.1.1.2: signatureAlgorithm equals the TBSCertificate's signature field",
    ),
    (
        "rsa_pss_cert_invalid_mgf.der",
        "RFC 5280 §4.1.1.2: signatureAlgorithm equals the TBSCertificate's signature field",
    ),
    (
        "rsa_pss_cert_no_sig_params.der",
        "RFC 5280 §4.1.1.2: signatureAlgorithm equals the TBSCertificate's signature field",
    ),
    (
        "rsa_pss_cert_unsupported_mgf_hash.der",
        "RFC 5280 §4.1.1.2: signatureAlgorithm equals the TBSCertificate's signature field",
    ),
    (
        "two_basic_constraints.pem",
        "RFC 5280 §4.2: an extension appears at most once",
    ),
    (
        "utf8-dnsname.pem",
        "RFC 5280 §4.2.1.6: a dNSName is an IA5String, ASCII only",
    ),
    (
        "v1_cert.pem",
        "RFC 5280 §4.1.1.2: signatureAlgorithm equals the TBSCertificate's signature field",
    ),
];

/// Files where x509-parser refuses what certgate reads.
const CERTGATE_LOOSER: &[(&str, &str)] = &[];

fn vectors_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CRYPTOGRAPHY_VECTORS_DIR") {
        return PathBuf::from(dir);
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import cryptography_vectors, os; print(os.path.dirname(cryptography_vectors.__file__))",
        ])
        .output()
        .expect("python3 is needed to locate the cryptography-vectors package");
    assert!(
        output.status.success(),
        "the PyPI package cryptography-vectors is not installed (scripts/setup.sh installs it, \
         or set CRYPTOGRAPHY_VECTORS_DIR): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()).join("x509")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The certificates in a file: each PEM CERTIFICATE block, or the whole file as DER.
fn certificates_in(bytes: &[u8]) -> Vec<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return vec![bytes.to_vec()];
    };
    if !text.contains("-----BEGIN") {
        return vec![bytes.to_vec()];
    }
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[start + "-----BEGIN CERTIFICATE-----".len()..];
        let Some(end) = body.find("-----END CERTIFICATE-----") else {
            break;
        };
        let text_base64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            text_base64.as_bytes(),
        ) {
            out.push(der);
        }
        rest = &body[end..];
    }
    out
}

/// The fields certgate keeps, as x509-parser reads them; compared only when both accept.
fn compare(ours: &Certificate, theirs: &X509Certificate<'_>) -> Result<(), String> {
    let tbs = &theirs.tbs_certificate;
    let check = |what: &str, equal: bool| {
        if equal {
            Ok(())
        } else {
            Err(format!("{what} differs"))
        }
    };
    check("version", ours.version() == tbs.version.0 + 1)?;
    check("serial", ours.serial() == tbs.raw_serial())?;
    check("tbs", ours.tbs_der() == tbs.as_ref())?;
    check(
        "signature",
        ours.signature() == theirs.signature_value.data.as_ref(),
    )?;
    check("issuer DER", ours.issuer().der() == tbs.issuer.as_raw())?;
    check("subject DER", ours.subject().der() == tbs.subject.as_raw())?;
    let attributes = |name: &x509_parser::x509::X509Name<'_>| -> Vec<Vec<Vec<u8>>> {
        name.iter_rdn()
            .map(|rdn| rdn.iter().map(|a| a.attr_value().data.to_vec()).collect())
            .collect()
    };
    let ours_attributes = |name: &certgate_pki::Name| -> Vec<Vec<Vec<u8>>> {
        name.rdns()
            .iter()
            .map(|rdn| rdn.iter().map(|a| a.value().to_vec()).collect())
            .collect()
    };
    check(
        "subject attributes",
        ours_attributes(ours.subject()) == attributes(&tbs.subject),
    )?;
    check(
        "issuer attributes",
        ours_attributes(ours.issuer()) == attributes(&tbs.issuer),
    )?;
    check(
        "notBefore",
        ours.not_before().0 == tbs.validity.not_before.timestamp(),
    )?;
    check(
        "notAfter",
        ours.not_after().0 == tbs.validity.not_after.timestamp(),
    )?;
    check("spki", ours.public_key().der == tbs.subject_pki.raw)?;
    check(
        "public key",
        ours.public_key().key == tbs.subject_pki.subject_public_key.data.as_ref(),
    )?;
    let extensions = ours.extensions();
    let critical: Vec<String> = tbs
        .extensions()
        .iter()
        .filter(|e| e.critical)
        .map(|e| e.oid.to_id_string())
        .collect();
    let ours_critical: Vec<String> = extensions.critical.iter().map(|o| o.to_string()).collect();
    check("critical extensions", ours_critical == critical)?;
    for extension in tbs.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => check(
                "basicConstraints",
                extensions.basic_constraints.is_some_and(|ours| {
                    ours.ca == bc.ca && ours.path_len == bc.path_len_constraint
                }),
            )?,
            ParsedExtension::KeyUsage(ku) => check(
                "keyUsage",
                extensions.key_usage.map(|k| k.0) == Some(ku.flags),
            )?,
            ParsedExtension::SubjectKeyIdentifier(id) => check(
                "subjectKeyIdentifier",
                extensions.subject_key_id.as_deref() == Some(id.0),
            )?,
            ParsedExtension::AuthorityKeyIdentifier(aki) => check(
                "authorityKeyIdentifier",
                extensions.authority_key_id.as_ref().is_some_and(|ours| {
                    ours.key_id.as_deref() == aki.key_identifier.as_ref().map(|k| k.0)
                        && ours.serial.as_deref() == aki.authority_cert_serial
                }),
            )?,
            ParsedExtension::SubjectAlternativeName(san) => {
                let ours = extensions.subject_alt_names.as_deref().unwrap_or_default();
                check("SAN count", ours.len() == san.general_names.len())?;
                for (ours, theirs) in ours.iter().zip(&san.general_names) {
                    check("SAN entry", same_general_name(ours, theirs))?;
                }
            }
            ParsedExtension::CertificatePolicies(policies) => check(
                "certificatePolicies",
                extensions
                    .certificate_policies
                    .as_ref()
                    .is_some_and(|ours| {
                        ours.iter()
                            .map(|p| p.policy.to_string())
                            .eq(policies.iter().map(|p| p.policy_id.to_id_string()))
                    }),
            )?,
            ParsedExtension::PolicyConstraints(pc) => check(
                "policyConstraints",
                extensions.policy_constraints.is_some_and(|ours| {
                    ours.require_explicit_policy == pc.require_explicit_policy
                        && ours.inhibit_policy_mapping == pc.inhibit_policy_mapping
                }),
            )?,
            ParsedExtension::InhibitAnyPolicy(iap) => check(
                "inhibitAnyPolicy",
                extensions.inhibit_any_policy == Some(iap.skip_certs),
            )?,
            _ => {}
        }
    }
    Ok(())
}

fn same_general_name(ours: &GeneralName, theirs: &ParserGeneralName<'_>) -> bool {
    match (ours, theirs) {
        (GeneralName::Rfc822(a), ParserGeneralName::RFC822Name(b))
        | (GeneralName::Dns(a), ParserGeneralName::DNSName(b))
        | (GeneralName::Uri(a), ParserGeneralName::URI(b)) => a == b,
        (GeneralName::Ip(a), ParserGeneralName::IPAddress(b)) => a == b,
        (GeneralName::Directory(a), ParserGeneralName::DirectoryName(b)) => a.der() == b.as_raw(),
        (GeneralName::OtherName { type_id, .. }, ParserGeneralName::OtherName(oid, _)) => {
            type_id.to_string() == oid.to_id_string()
        }
        (GeneralName::RegisteredId(a), ParserGeneralName::RegisteredID(b)) => {
            a.to_string() == b.to_id_string()
        }
        (GeneralName::Unsupported { tag: 3 }, ParserGeneralName::X400Address(_))
        | (GeneralName::Unsupported { tag: 5 }, ParserGeneralName::EDIPartyName(_)) => true,
        _ => false,
    }
}

#[derive(Default)]
struct Tally {
    both: usize,
    neither: usize,
    field_mismatches: Vec<String>,
    only_x509_parser: BTreeMap<String, String>,
    only_certgate: BTreeMap<String, String>,
}

impl Tally {
    fn add(&mut self, label: &str, der: &[u8]) {
        let ours = Certificate::from_der(der);
        let theirs = X509Certificate::from_der(der);
        match (ours, theirs) {
            (Ok(ours), Ok((&[], theirs))) => {
                self.both += 1;
                if let Err(what) = compare(&ours, &theirs) {
                    self.field_mismatches.push(format!("{label}: {what}"));
                }
            }
            (Ok(_), _) => {
                self.only_certgate
                    .insert(label.to_string(), "x509-parser refuses it".into());
            }
            (Err(reason), Ok((&[], _))) => {
                self.only_x509_parser
                    .insert(label.to_string(), reason.to_string());
            }
            (Err(_), _) => self.neither += 1,
        }
    }
}

#[test]
fn certgate_reads_certificates_as_x509_parser_does_or_stricter_for_a_named_rule() {
    let root = vectors_dir();
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    let mut tally = Tally::default();
    for path in &paths {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        for (index, der) in certificates_in(&bytes).into_iter().enumerate() {
            tally.add(&format!("{name}#{index}"), &der);
        }
    }
    for spec in [
        ChainSpec::default(),
        ChainSpec::with_key(KeyKind::Rsa2048),
        ChainSpec::with_key(KeyKind::Ed25519),
    ] {
        let pki = TestPki::three_level(&spec).expect("test PKI");
        for (label, der) in [
            ("generated root", &pki.root.der),
            ("generated intermediate", &pki.intermediate.der),
            ("generated leaf", &pki.leaf.der),
        ] {
            tally.add(label, der);
        }
    }
    eprintln!(
        "both accept: {}, both refuse: {}, only x509-parser: {}, only certgate: {}",
        tally.both,
        tally.neither,
        tally.only_x509_parser.len(),
        tally.only_certgate.len()
    );
    assert!(
        tally.both > 300,
        "too few certificates read: is the cryptography-vectors package complete?"
    );
    assert!(
        tally.field_mismatches.is_empty(),
        "fields differ: {:#?}",
        tally.field_mismatches
    );
    let unexplained = |found: &BTreeMap<String, String>, listed: &[(&str, &str)]| {
        found
            .iter()
            .filter(|(label, _)| {
                !listed
                    .iter()
                    .any(|(file, _)| label.split('#').next() == Some(*file))
            })
            .map(|(label, why)| format!("{label}: {why}"))
            .collect::<Vec<_>>()
    };
    let stricter = unexplained(&tally.only_x509_parser, CERTGATE_STRICTER);
    assert!(
        stricter.is_empty(),
        "certgate refuses, x509-parser reads, and no rule is listed: {stricter:#?}"
    );
    let looser = unexplained(&tally.only_certgate, CERTGATE_LOOSER);
    assert!(
        looser.is_empty(),
        "certgate reads what x509-parser refuses: {looser:#?}"
    );
    // Every listed file still behaves as listed, so the lists cannot go stale.
    for (file, rule) in CERTGATE_STRICTER {
        assert!(
            tally
                .only_x509_parser
                .keys()
                .any(|label| label.split('#').next() == Some(*file)),
            "{file} is listed ({rule}) but certgate no longer refuses it"
        );
    }
}
