//! NIST PKITS v1.0.1: all 249 entries of ../shared/conformance/pkits/expectations.json (or
//! `PKITS_EXPECTATIONS`), run through the library and through `certgate verify` with the CRLs
//! given both ways: each CRL its own `--crl`, and all of a test's CRLs in one PEM bundle.
//!
//! Data: the PyPI package `cryptography-vectors` (installed by `.ci/setup`); the directory is
//! found through `PKITS_DIR` or by asking python3 where the package lives.

use std::path::{Path, PathBuf};
use std::process::Command;

use certgate_pki::{
    parse_crl_bundle, validate, CaKind, Certificate, LegacyAlgorithms, Oid, PolicySettings,
    Purpose, RevocationDepth, RevocationSnapshot, TrustStore, UnixTime, ValidationPolicy,
};
use serde_json::Value;

/// PKITS certificates are valid inside 2010-2030; this is the customary time.
const PKITS_TIME: &str = "2011-04-15T00:00:00Z";
const PKITS_UNIX: i64 = 1_302_825_600;

/// Entries certgate does not pass yet, each with the reason. The target is an empty list.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

struct Entry {
    id: String,
    name: String,
    valid: bool,
    anchor: String,
    intermediates: Vec<String>,
    end_entity: String,
    crls: Vec<String>,
    settings: PolicySettings,
    user_constrained: Vec<Oid>,
}

fn pkits_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PKITS_DIR") {
        return PathBuf::from(dir);
    }
    let output = Command::new("python3")
        .args(["-c", "import cryptography_vectors, os; print(os.path.dirname(cryptography_vectors.__file__))"])
        .output()
        .expect("python3 is needed to locate the cryptography-vectors package");
    assert!(
        output.status.success(),
        "the PyPI package cryptography-vectors is not installed (run .ci/setup, or set PKITS_DIR): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let base = String::from_utf8_lossy(&output.stdout).trim().to_string();
    PathBuf::from(base).join("x509/PKITS_data")
}

/// `PKITS_EXPECTATIONS`, else `shared/` beside the repository (as certgate-pki's tests).
fn expectations_file() -> PathBuf {
    std::env::var_os("PKITS_EXPECTATIONS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/conformance/pkits/expectations.json")
        })
}

fn policy_oid(name: &str) -> Oid {
    match name {
        "anyPolicy" => Oid::new("2.5.29.32.0"),
        other => {
            let number = other
                .strip_prefix("NIST-test-policy-")
                .expect("known policy name");
            Oid::new(format!("2.16.840.1.101.3.2.1.48.{number}"))
        }
    }
}

fn entries() -> Vec<Entry> {
    let path = expectations_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (the shared/ folder must sit beside the repo)",
            path.display()
        )
    });
    let json: Value = serde_json::from_str(&text).expect("expectations.json is JSON");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|s| s.as_str().expect("string").to_string())
            .collect()
    };
    json["tests"]
        .as_array()
        .expect("tests array")
        .iter()
        .map(|t| {
            let mut user_constrained: Vec<Oid> = strings(&t["user_constrained_policy_set"])
                .iter()
                .map(|n| policy_oid(n))
                .collect();
            user_constrained.sort();
            Entry {
                id: t["id"].as_str().expect("id").to_string(),
                name: t["name"].as_str().expect("name").to_string(),
                valid: t["expected"] == "valid",
                anchor: t["trust_anchor"].as_str().expect("anchor").to_string(),
                intermediates: strings(&t["intermediates"]),
                end_entity: t["end_entity"].as_str().expect("end entity").to_string(),
                crls: strings(&t["crls"]),
                settings: PolicySettings {
                    initial_policy_set: strings(&t["initial_policy_set_oids"])
                        .into_iter()
                        .map(Oid::new)
                        .collect(),
                    initial_explicit_policy: t["initial_explicit_policy"].as_bool().expect("bool"),
                    initial_policy_mapping_inhibit: t["initial_policy_mapping_inhibit"]
                        .as_bool()
                        .expect("bool"),
                    initial_any_policy_inhibit: t["initial_inhibit_any_policy"]
                        .as_bool()
                        .expect("bool"),
                },
                user_constrained,
            }
        })
        .collect()
}

fn cert_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join("certs").join(format!("{stem}.crt"))
}

fn crl_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join("crls").join(format!("{stem}.crl"))
}

fn load_cert(dir: &Path, stem: &str) -> Result<Certificate, String> {
    let der = std::fs::read(cert_path(dir, stem)).map_err(|e| format!("{stem}: {e}"))?;
    Certificate::from_der(&der).map_err(|r| r.code().to_string())
}

/// Runs one entry through the library; Ok(()) when the outcome matches the expectation.
fn run_library(dir: &Path, entry: &Entry) -> Result<(), String> {
    let outcome = (|| -> Result<Result<Vec<Oid>, String>, String> {
        let anchor = match load_cert(dir, &entry.anchor) {
            Ok(c) => c,
            Err(code) => return Ok(Err(code)),
        };
        let leaf = match load_cert(dir, &entry.end_entity) {
            Ok(c) => c,
            Err(code) => return Ok(Err(code)),
        };
        let mut intermediates = Vec::new();
        for stem in &entry.intermediates {
            match load_cert(dir, stem) {
                Ok(c) => intermediates.push(c),
                Err(code) => return Ok(Err(code)),
            }
        }
        let mut crls = Vec::new();
        for stem in &entry.crls {
            let der = std::fs::read(crl_path(dir, stem)).map_err(|e| format!("{stem}: {e}"))?;
            // As `certgate verify` does: a CRL certgate must not use is left out, so the
            // certificates it would cover have no known status (revocation stays on).
            crls.extend(parse_crl_bundle(der).crls);
        }
        let mut trust = TrustStore::new();
        trust.add(anchor, CaKind::Root);
        let snapshot = RevocationSnapshot::new(crls);
        let mut policy = ValidationPolicy {
            purpose: Purpose::Any,
            policies: entry.settings.clone(),
            revocation: RevocationDepth::Chain,
            ..ValidationPolicy::default()
        };
        policy.algorithms.legacy = LegacyAlgorithms::AllowInsecure;
        policy.algorithms.min_rsa_bits = 1024;
        // PKITS CAs mark policyConstraints non-critical (RFC 5280 §4.2.1.11 says critical).
        policy
            .profile_exceptions
            .insecure_allow_non_critical_policy_constraints = true;
        Ok(validate(
            &leaf,
            &intermediates,
            &trust,
            &snapshot,
            &policy,
            UnixTime(PKITS_UNIX),
        )
        .map(|path| path.policy().user_constrained_policy_set.clone())
        .map_err(|r| r.to_string()))
    })()?;
    compare(entry, outcome)
}

fn compare(entry: &Entry, outcome: Result<Vec<Oid>, String>) -> Result<(), String> {
    match (entry.valid, outcome) {
        (true, Ok(mut set)) => {
            set.sort();
            if set == entry.user_constrained {
                Ok(())
            } else {
                Err(format!(
                    "valid, but user-constrained policy set {set:?} != expected {:?}",
                    entry.user_constrained
                ))
            }
        }
        (true, Err(why)) => Err(format!("expected valid, got rejected: {why}")),
        (false, Ok(_)) => Err("expected invalid, got valid".into()),
        (false, Err(_)) => Ok(()),
    }
}

/// How the CLI runs are handed their CRLs.
#[derive(Clone, Copy)]
enum CrlForm {
    /// Each CRL file (DER, as PKITS ships it) its own `--crl`.
    EachFile,
    /// All of a test's CRLs concatenated as PEM in one file, one `--crl`.
    OnePemBundle,
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Runs one entry through the `certgate verify` binary.
fn run_cli(dir: &Path, entry: &Entry, form: CrlForm) -> Result<(), String> {
    let scratch = tempfile::tempdir().map_err(|e| format!("scratch dir: {e}"))?;
    let mut command = Command::new(env!("CARGO_BIN_EXE_certgate"));
    // No `--revocation`: any `--crl` must turn checking on by itself, as it does for people.
    command.args([
        "verify",
        "--json",
        "--purpose",
        "any",
        "--allow-insecure-legacy-algorithms",
        "--at",
        PKITS_TIME,
    ]);
    command.arg("--trust").arg(cert_path(dir, &entry.anchor));
    for stem in &entry.intermediates {
        command.arg("--untrusted").arg(cert_path(dir, stem));
    }
    match form {
        CrlForm::EachFile => {
            for stem in &entry.crls {
                command.arg("--crl").arg(crl_path(dir, stem));
            }
        }
        CrlForm::OnePemBundle if !entry.crls.is_empty() => {
            let mut bundle = String::new();
            for stem in &entry.crls {
                let der = std::fs::read(crl_path(dir, stem)).map_err(|e| format!("{stem}: {e}"))?;
                bundle.push_str(&pem("X509 CRL", &der));
            }
            let path = scratch.path().join("crls.pem");
            std::fs::write(&path, bundle).map_err(|e| format!("write bundle: {e}"))?;
            command.arg("--crl").arg(path);
        }
        CrlForm::OnePemBundle => {}
    }
    for oid in &entry.settings.initial_policy_set {
        command.arg("--policy").arg(oid.as_str());
    }
    if entry.settings.initial_explicit_policy {
        command.arg("--explicit-policy");
    }
    if entry.settings.initial_policy_mapping_inhibit {
        command.arg("--inhibit-policy-mapping");
    }
    if entry.settings.initial_any_policy_inhibit {
        command.arg("--inhibit-any-policy");
    }
    command.arg(cert_path(dir, &entry.end_entity));
    let output = command
        .output()
        .map_err(|e| format!("cannot run certgate: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: Value =
        serde_json::from_str(&stdout).map_err(|e| format!("bad JSON ({e}): {stdout}"))?;
    let outcome = match output.status.code() {
        Some(0) => Ok(json["user_constrained_policy_set"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).map(Oid::new).collect())
            .unwrap_or_default()),
        // Exit 2 (unreadable input) is a rejection too.
        Some(1) | Some(2) => Err(format!("{}: {}", json["code"], json["message"])),
        other => return Err(format!("unexpected exit status {other:?}")),
    };
    compare(entry, outcome)
}

fn check_all(runner: &str, run: impl Fn(&Path, &Entry) -> Result<(), String> + Sync) {
    let dir = pkits_dir();
    assert!(
        dir.join("certs").is_dir(),
        "PKITS data not found at {} (install cryptography-vectors or set PKITS_DIR)",
        dir.display()
    );
    let entries = entries();
    assert_eq!(
        entries.len(),
        249,
        "expectations.json should list 249 entries"
    );
    // A few threads: each CLI entry is a process start, mostly waiting on the loader.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<(usize, Result<(), String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(entry) = entries.get(index) else {
                            break done;
                        };
                        done.push((index, run(&dir, entry)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("PKITS worker thread"))
            .collect()
    });
    let mut results = results;
    results.sort_by_key(|(index, _)| *index);
    let mut unexpected = Vec::new();
    let mut known = 0;
    for (entry, (_, result)) in entries.iter().zip(results) {
        let listed = KNOWN_FAILURES.iter().find(|(id, _)| *id == entry.id);
        match (result, listed) {
            (Ok(()), None) => {}
            (Ok(()), Some(_)) => unexpected.push(format!(
                "{} {}: passes now; remove it from KNOWN_FAILURES",
                entry.id, entry.name
            )),
            (Err(_), Some(_)) => known += 1,
            (Err(why), None) => unexpected.push(format!("{} {}: {why}", entry.id, entry.name)),
        }
    }
    let passing = entries.len()
        - known
        - unexpected
            .iter()
            .filter(|u| !u.contains("passes now"))
            .count();
    println!(
        "PKITS through the {runner}: {passing}/{} as expected",
        entries.len()
    );
    assert!(
        unexpected.is_empty(),
        "PKITS through the {runner}: {} unexpected results:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

#[test]
fn pkits_through_the_library() {
    check_all("library", run_library);
}

#[test]
fn pkits_through_certgate_verify() {
    check_all("CLI, each CRL its own --crl", |dir, entry| {
        run_cli(dir, entry, CrlForm::EachFile)
    });
}

/// PKITS 4.4.8-4.4.10 once passed as valid this way: one unusable CRL in the bundle made the
/// whole file unusable, and no usable CRL left switched revocation checking off.
#[test]
fn pkits_through_certgate_verify_with_one_crl_bundle() {
    check_all("CLI, all CRLs in one PEM bundle", |dir, entry| {
        run_cli(dir, entry, CrlForm::OnePemBundle)
    });
}

/// PKITS 4.4.9 with both CRLs in one bundle: the trust anchor's CRL is kept, the CA's CRL
/// (unknown critical extension) is listed with its code, and the end entity, whose status is
/// then unknown, is `crl-unavailable`. `--revocation off` cannot be combined with `--crl`.
#[test]
fn unusable_crl_in_a_bundle_is_reported_and_fails_closed() {
    let dir = pkits_dir();
    let bundle_dir = tempfile::tempdir().expect("scratch dir");
    let bundle = bundle_dir.path().join("crls.pem");
    let mut text = String::new();
    for stem in ["TrustAnchorRootCRL", "UnknownCRLExtensionCACRL"] {
        text.push_str(&pem(
            "X509 CRL",
            &std::fs::read(crl_path(&dir, stem)).expect("PKITS CRL"),
        ));
    }
    std::fs::write(&bundle, text).expect("write bundle");
    let run = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args(["verify", "--json", "--explain", "--purpose", "any"])
            .args(["--allow-insecure-legacy-algorithms", "--at", PKITS_TIME])
            .arg("--trust")
            .arg(cert_path(&dir, "TrustAnchorRootCertificate"))
            .arg("--untrusted")
            .arg(cert_path(&dir, "UnknownCRLExtensionCACert"))
            .arg("--crl")
            .arg(&bundle)
            .args(extra)
            .arg(cert_path(&dir, "InvalidUnknownCRLExtensionTest9EE"))
            .output()
            .expect("run certgate");
        let json: Value = serde_json::from_slice(&output.stdout).expect("JSON output");
        (output.status.code(), json)
    };
    let (status, json) = run(&[]);
    assert_eq!(status, Some(1), "{json}");
    assert_eq!(json["code"], "crl-unavailable", "{json}");
    let unusable = json["unusable_crls"].as_array().expect("unusable_crls");
    assert_eq!(unusable.len(), 1, "{json}");
    assert_eq!(unusable[0]["position"], 2);
    assert_eq!(unusable[0]["code"], "crl-unknown-critical-extension");
    assert_eq!(unusable[0]["file"], bundle.display().to_string());

    let (status, json) = run(&["--revocation", "off"]);
    assert_eq!(status, Some(2), "{json}");
    assert_eq!(json["code"], "usage-error", "{json}");
}
