//! NIST PKITS v1.0.1: all 249 entries of ../shared/conformance/pkits/expectations.json, run
//! through the library and through `certgate verify`.
//!
//! Data: the PyPI package `cryptography-vectors` (installed by `.ci/setup`); the directory is
//! found through `PKITS_DIR` or by asking python3 where the package lives.

use std::path::{Path, PathBuf};
use std::process::Command;

use certgate_pki::{
    parse_crls, validate, CaKind, Certificate, LegacyAlgorithms, Oid, PolicySettings, Purpose,
    Reason, RevocationDepth, RevocationSnapshot, TrustStore, UnixTime, ValidationPolicy,
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

fn expectations_file() -> PathBuf {
    // A git worktree elsewhere can point at the shared folder explicitly.
    if let Ok(file) = std::env::var("PKITS_EXPECTATIONS") {
        return PathBuf::from(file);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/pkits/expectations.json")
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
            match parse_crls(der) {
                Ok(parsed) => crls.extend(parsed),
                Err(reason @ Reason::CrlMalformed { .. }) => {
                    return Ok(Err(format!("{} ({stem})", reason.code())))
                }
                // As `certgate verify` does: a CRL certgate must not use is left out, so the
                // certificates it would cover have no known status.
                Err(_) => {}
            }
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

/// Runs one entry through the `certgate verify` binary.
fn run_cli(dir: &Path, entry: &Entry) -> Result<(), String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_certgate"));
    command.args([
        "verify",
        "--json",
        "--purpose",
        "any",
        "--allow-insecure-legacy-algorithms",
        "--revocation",
        "chain",
        "--at",
        PKITS_TIME,
    ]);
    command.arg("--trust").arg(cert_path(dir, &entry.anchor));
    for stem in &entry.intermediates {
        command.arg("--untrusted").arg(cert_path(dir, stem));
    }
    for stem in &entry.crls {
        command.arg("--crl").arg(crl_path(dir, stem));
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
        // Exit 2 (unreadable input: e.g. a CRL certgate refuses to parse) is a rejection too.
        Some(1) | Some(2) => Err(format!("{}: {}", json["code"], json["message"])),
        other => return Err(format!("unexpected exit status {other:?}")),
    };
    compare(entry, outcome)
}

fn check_all(runner: &str, run: impl Fn(&Path, &Entry) -> Result<(), String>) {
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
    let mut unexpected = Vec::new();
    let mut known = 0;
    for entry in &entries {
        let result = run(&dir, entry);
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
    check_all("CLI", run_cli);
}
