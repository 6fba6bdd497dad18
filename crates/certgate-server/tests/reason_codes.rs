//! The reason-code reference holds: every code certgate answers with is listed once, with what
//! it means and what to do; no code disappears or changes meaning unnoticed (a golden file per
//! code); `docs/reason-codes.md` is the generated reference.
//!
//! `CERTGATE_UPDATE_GOLDEN=1 cargo test -p certgate-server --test reason_codes` rewrites the
//! golden files and the reference after an intended change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use certgate_pki::ReasonCode;
use certgate_server::reasons::{catalogue, reference_markdown};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn updating() -> bool {
    std::env::var_os("CERTGATE_UPDATE_GOLDEN").is_some()
}

/// Every entry by code; fails when one code is given two meanings.
fn entries() -> BTreeMap<&'static str, ReasonCode> {
    let mut by_code: BTreeMap<&'static str, (ReasonCode, &'static str)> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for (owner, codes) in catalogue() {
        for entry in codes {
            match by_code.get(entry.code) {
                Some((first, first_owner)) if first != entry => conflicts.push(format!(
                    "{} means one thing in {first_owner} and another in {owner}",
                    entry.code
                )),
                Some(_) => {}
                None => {
                    by_code.insert(entry.code, (*entry, owner));
                }
            }
        }
    }
    assert!(conflicts.is_empty(), "{conflicts:#?}");
    by_code
        .into_iter()
        .map(|(code, (entry, _))| (code, entry))
        .collect()
}

fn is_code_like(text: &str) -> bool {
    text.contains('-')
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--")
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The string literals of `source` (no escapes needed: codes have none).
fn literals(source: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

/// The non-test part of every `src/*.rs` file of crate `name`.
fn sources(name: &str) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("source dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source");
                let end = text.find("\n#[cfg(test)]").unwrap_or(text.len());
                out.push((path, text[..end].to_owned()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&workspace().join("crates").join(name).join("src"), &mut out);
    out
}

/// The body of every `fn code(&self) -> &'static str` in `source`.
fn code_fn_bodies(source: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("fn code(&self) -> &'static str {") {
        let body = &rest[start..];
        let mut depth = 0usize;
        let mut end = body.len();
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

const CRATES: &[&str] = &[
    "certgate-pki",
    "certgate-ca",
    "certgate-saml",
    "certgate-oidc",
    "certgate-core",
    "certgate-server",
];

#[test]
fn every_code_is_kebab_case_and_says_what_it_means_and_what_to_do() {
    let entries = entries();
    for (code, entry) in &entries {
        assert!(is_code_like(code), "{code} is not kebab-case");
        for (what, text) in [("meaning", entry.meaning), ("what to do", entry.what_to_do)] {
            assert!(
                text.len() >= 20 && text.ends_with(['.', ')']),
                "{code}: the {what} should be a sentence: {text:?}"
            );
        }
    }
    assert!(entries.len() >= 200, "only {} codes listed", entries.len());
}

#[test]
fn every_code_an_error_type_answers_with_is_listed() {
    let entries = entries();
    let mut missing = BTreeSet::new();
    for name in CRATES {
        for (path, source) in sources(name) {
            for body in code_fn_bodies(&source) {
                for literal in literals(body) {
                    if is_code_like(literal) && !entries.contains_key(literal) {
                        missing.insert(format!("{literal} ({})", path.display()));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "codes without an entry: {missing:#?}");
}

/// Literals in certgate-server that look like codes and are not: header names, HTTP tokens,
/// application names in the sign-in log.
const NOT_CODES: &[&str] = &[
    // Hop-by-hop headers the front door never forwards.
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    // Headers other edges use, removed from what clients send to the front door's upstream.
    "cf-connecting-ip",
    "remote-user",
    "ssl-client-cert",
    "ssl-client-verify",
    "true-client-ip",
    "x-arr-clientcert",
    "x-arr-ssl",
    "x-client-cert",
    "x-client-cert-chain",
    "x-client-ip",
    "x-client-verify",
    "x-ms-client-principal",
    "x-ms-client-principal-id",
    "x-ms-client-principal-idp",
    "x-ms-client-principal-name",
    "x-original-host",
    "x-original-uri",
    "x-original-url",
    "x-real-ip",
    "x-remote-user",
    "x-rewrite-url",
    "x-ssl-client-cert",
    "x-ssl-client-dn",
    "x-ssl-client-verify",
    // Headers certgate sends (front door, EST, device profiles) or reads (Fetch Metadata).
    "client-cert",
    "client-cert-chain",
    "content-transfer-encoding",
    "sec-fetch-site",
    "x-certgate-certificate-serial",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    // Header values: Cache-Control, Pragma, Referrer-Policy, Sec-Fetch-Site.
    "no-cache",
    "no-referrer",
    "no-store",
    "same-origin",
    // Application names in the sign-in log.
    "admin-api",
    "device-provisioning",
    "est-simpleenroll",
    "est-simplereenroll",
    // JSON and OpenAPI values: formats, profile fields, CRL refresh outcomes, settings.
    "client-certificate",
    "date-time",
    "exchange-activesync",
    "fresh-certificate",
    "domain-password",
    "not-modified",
    // The default admin group.
    "certgate-admins",
    // The actor the directory sync's audit events name.
    "directory-sync",
    // Authentication strengths.
    "multi-factor",
    "single-factor",
    // Names of background threads.
    "certgate-crl-parse",
    "certgate-crl-state",
];

#[test]
fn every_code_the_handlers_answer_with_is_listed() {
    let entries = entries();
    let mut missing = BTreeSet::new();
    for (path, source) in sources("certgate-server") {
        for literal in literals(&source) {
            if is_code_like(literal)
                && !entries.contains_key(literal)
                && !NOT_CODES.contains(&literal)
            {
                missing.insert(format!(
                    "{literal} ({})",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
        }
    }
    assert!(missing.is_empty(), "codes without an entry: {missing:#?}");
}

#[test]
fn codes_are_stable_one_golden_file_each() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/reason-codes");
    let entries = entries();
    let expected: BTreeMap<String, String> = entries
        .iter()
        .map(|(code, entry)| {
            (
                format!("{code}.txt"),
                format!("{}\n\nWhat to do: {}\n", entry.meaning, entry.what_to_do),
            )
        })
        .collect();
    if updating() {
        std::fs::create_dir_all(&dir).expect("golden dir");
        for stale in std::fs::read_dir(&dir).expect("golden dir").flatten() {
            let name = stale.file_name().to_string_lossy().into_owned();
            if !expected.contains_key(&name) {
                std::fs::remove_file(stale.path()).expect("remove");
            }
        }
        for (name, text) in &expected {
            std::fs::write(dir.join(name), text).expect("write golden");
        }
    }
    let mut found = BTreeMap::new();
    for file in std::fs::read_dir(&dir)
        .expect("tests/golden/reason-codes (CERTGATE_UPDATE_GOLDEN=1 creates it)")
        .flatten()
    {
        found.insert(
            file.file_name().to_string_lossy().into_owned(),
            std::fs::read_to_string(file.path()).expect("golden"),
        );
    }
    let gone: Vec<_> = found
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        gone.is_empty(),
        "codes that clients may key on disappeared: {gone:?} (if intended, CERTGATE_UPDATE_GOLDEN=1)"
    );
    for (name, text) in &expected {
        assert_eq!(
            found.get(name),
            Some(text),
            "{name} is new or changed its meaning (if intended, CERTGATE_UPDATE_GOLDEN=1)"
        );
    }
}

#[test]
fn docs_reason_codes_md_is_the_generated_reference() {
    let path = workspace().join("docs/reason-codes.md");
    let generated = reference_markdown();
    if updating() {
        std::fs::write(&path, &generated).expect("write docs/reason-codes.md");
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/reason-codes.md is not current: CERTGATE_UPDATE_GOLDEN=1 cargo test -p certgate-server --test reason_codes"
    );
}
