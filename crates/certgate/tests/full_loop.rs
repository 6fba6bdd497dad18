//! The full loop, through the `certgate` binary exactly as the README describes it, on
//! SQLite and on PostgreSQL: init the CA and trust it, issue, serve the CRLs over real HTTP,
//! verify (valid), revoke, publish, refresh, verify (revoked, with the reason). Plus the
//! trust-store refusals of `certgate ca add`, each with its code and nothing half-written.
//!
//! PostgreSQL must be running at 127.0.0.1:5432 (user postgres, trust auth; override with
//! CERTGATE_TEST_POSTGRES_URL); the PostgreSQL tests fail, saying so, when it is not.

mod common;

use std::path::Path;
use std::process::Command;

use common::{http_get, Env};

fn full_loop(env: &Env) {
    // Init the CA and trust it.
    let init = env.ok(&["pki", "init", "--organization", "Contoso", "--trust"]);
    assert!(init.contains("trusted as CA 1"), "{init}");
    let cas = env.json(&["ca", "list", "--json"], 0);
    let cas = cas["certificateAuthorities"].as_array().expect("list");
    assert_eq!(cas.len(), 2);
    assert_eq!(cas[0]["isRootAuthority"], true);
    assert_eq!(
        cas[1]["certificateRevocationListUrl"],
        format!("http://127.0.0.1:{}/pki/issuing.crl", env.port)
    );
    assert_eq!(
        cas[1]["deltaCertificateRevocationListUrl"],
        format!("http://127.0.0.1:{}/pki/issuing-delta.crl", env.port)
    );

    // Issue.
    let users = env.path("users");
    let users_arg = users.to_str().expect("utf-8 path");
    env.ok(&[
        "pki",
        "issue",
        "--upn",
        "alice@contoso.example",
        "--email",
        "alice@contoso.example",
        "--out",
        users_arg,
        "--p12-password",
        "alice-p12",
    ]);
    let leaf = users.join("alice@contoso.example.pem");
    let chain = users.join("alice@contoso.example-chain.pem");
    let leaf = leaf.to_str().expect("utf-8 path");
    let chain = chain.to_str().expect("utf-8 path");
    let issued = env.json(&["pki", "list", "--json"], 0);
    let serial = issued[0]["serial"].as_str().expect("serial").to_owned();
    assert_eq!(issued[0]["status"], "valid");

    // Without any cached CRL, fail closed.
    let unknown = env.json(
        &["verify", "--store", "--json", "--untrusted", chain, leaf],
        1,
    );
    assert_eq!(unknown["code"], "crl-unavailable", "{unknown}");

    // Serve the CRLs over real HTTP; refresh; valid.
    let _server = env.serve();
    let (status, body) = http_get(env.port, "/pki/issuing.crl").expect("CRL over HTTP");
    assert_eq!(status, 200);
    assert_eq!(body.first(), Some(&0x30), "a DER CRL");
    env.ok(&["crl", "refresh"]);
    let valid = env.json(
        &["verify", "--store", "--json", "--untrusted", chain, leaf],
        0,
    );
    assert_eq!(valid["valid"], true, "{valid}");
    assert_eq!(
        valid["identity"]["upn"][0], "alice@contoso.example",
        "{valid}"
    );

    // Revoke, publish, refresh: revoked, with the reason.
    env.ok(&[
        "pki",
        "revoke",
        "--serial",
        &serial,
        "--reason",
        "keyCompromise",
    ]);
    let again = env.run(&[
        "pki",
        "revoke",
        "--serial",
        &serial,
        "--reason",
        "superseded",
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("pki-already-revoked"));
    env.ok(&["pki", "crl"]);
    let refreshed = env.ok(&["crl", "refresh"]);
    assert!(refreshed.contains("delta CRL: updated"), "{refreshed}");
    let revoked = env.json(
        &["verify", "--store", "--json", "--untrusted", chain, leaf],
        1,
    );
    assert_eq!(revoked["code"], "cert-revoked", "{revoked}");
    let message = revoked["message"].as_str().expect("message");
    assert!(
        message.contains("keyCompromise") && message.contains(&serial),
        "{message}"
    );

    let status = env.json(&["crl", "status", "--json"], 0);
    assert_eq!(status.as_array().map(Vec::len), Some(4), "{status}");
    for row in status.as_array().expect("rows") {
        assert!(row["cached"].is_object(), "{row}");
        assert!(row["lastErrorCode"].is_null(), "{row}");
    }
    let audit = env.json(&["audit", "--json", "--limit", "100"], 0);
    let actions: Vec<&str> = audit
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "pki.init",
        "ca.add",
        "pki.issue",
        "pki.revoke",
        "pki.crl",
        "crl.refresh",
    ] {
        assert!(
            actions.contains(&action),
            "audit log lacks {action}: {actions:?}"
        );
    }
}

#[test]
fn full_loop_on_sqlite() {
    full_loop(&Env::sqlite());
}

#[test]
fn full_loop_on_postgres() {
    full_loop(&Env::postgres());
}

fn write(path: &Path, bytes: &[u8]) -> String {
    std::fs::write(path, bytes).expect("write fixture");
    path.to_str().expect("utf-8 path").to_owned()
}

fn ca_count(env: &Env) -> usize {
    env.json(&["ca", "list", "--json"], 0)["certificateAuthorities"]
        .as_array()
        .map_or(0, Vec::len)
}

/// A refused command: exit code 1 and, in JSON, `ok: false`, the code and the
/// person-readable message (it says `saying`).
#[track_caller]
fn refused(env: &Env, args: &[&str], code: &str, saying: &str) {
    let output = env.json(args, 1);
    assert_eq!(output["ok"], false);
    assert_eq!(output["code"], code, "{output:#}");
    assert!(
        output["message"]
            .as_str()
            .is_some_and(|m| m.contains(saying)),
        "{output:#}"
    );
}

/// `ca add`, `ca set` and `ca remove`: one success and one refusal each. The trusted CAs'
/// rules (what is a CA, bundles all or nothing, duplicates, URL and name checks) are
/// certgate-core's tests/trusted_cas.rs.
fn ca_commands(env: &Env) {
    let pki = certgate_testpki::TestPki::three_level(&certgate_testpki::ChainSpec::default())
        .expect("test PKI");
    let leaf = write(&env.path("leaf.pem"), pki.leaf.pem.as_bytes());
    let bundle_pem = format!("{}{}", pki.root.pem, pki.intermediate.pem);
    let bundle = write(&env.path("bundle.pem"), bundle_pem.as_bytes());

    refused(
        env,
        &["ca", "add", &leaf, "--json"],
        "ca-not-a-ca",
        "is not a CA certificate",
    );
    assert_eq!(ca_count(env), 0, "a refusal wrote nothing");

    // A bundle of root + intermediate: both, with their types.
    let added = env.json(&["ca", "add", &bundle, "--json"], 0);
    let added = added["certificateAuthorities"].as_array().expect("added");
    assert_eq!(added.len(), 2);
    assert_eq!(added[0]["isRootAuthority"], true);
    assert_eq!(added[1]["isRootAuthority"], false);
    assert!(added[1]["issuerSki"].is_string());
    assert_eq!(ca_count(env), 2);

    // Set and remove.
    let id = added[1]["id"].as_i64().expect("id").to_string();
    let set = env.json(
        &[
            "ca",
            "set",
            &id,
            "--crl-url",
            "http://pki.example/i.crl",
            "--exempt-from-crl-validation",
            "true",
            "--json",
        ],
        0,
    );
    assert_eq!(
        set["certificateRevocationListUrl"],
        "http://pki.example/i.crl"
    );
    assert_eq!(set["isExemptFromCrlValidation"], true);
    refused(
        env,
        &["ca", "set", "999", "--name", "x", "--json"],
        "ca-not-found",
        "no trusted CA has id 999",
    );
    env.json(&["ca", "remove", &id, "--json"], 0);
    assert_eq!(ca_count(env), 1);
    refused(
        env,
        &["ca", "remove", &id, "--json"],
        "ca-not-found",
        &format!("no trusted CA has id {id}"),
    );
}

#[test]
fn ca_commands_succeed_or_refuse_with_a_code_on_sqlite() {
    ca_commands(&Env::sqlite());
}

#[test]
fn ca_commands_succeed_or_refuse_with_a_code_on_postgres() {
    ca_commands(&Env::postgres());
}

/// A .p7b made by OpenSSL adds every CA in it.
#[test]
fn ca_add_reads_a_p7b_bundle_made_by_openssl() {
    let env = Env::sqlite();
    let pki = certgate_testpki::TestPki::three_level(&certgate_testpki::ChainSpec::default())
        .expect("test PKI");
    let root = write(&env.path("root.pem"), pki.root.pem.as_bytes());
    let intermediate = write(
        &env.path("intermediate.pem"),
        pki.intermediate.pem.as_bytes(),
    );
    let p7b = env.path("bundle.p7b");
    let status = Command::new("openssl")
        .args([
            "crl2pkcs7",
            "-nocrl",
            "-certfile",
            &root,
            "-certfile",
            &intermediate,
            "-outform",
            "DER",
            "-out",
        ])
        .arg(&p7b)
        .status()
        .expect("openssl");
    assert!(status.success());
    let added = env.json(&["ca", "add", p7b.to_str().expect("utf-8"), "--json"], 0);
    assert_eq!(
        added["certificateAuthorities"].as_array().map(Vec::len),
        Some(2)
    );
}

/// The demo user's PKCS#12 opens with OpenSSL and holds the certificate and the chain.
#[test]
fn issued_pkcs12_opens_with_openssl() {
    let env = Env::sqlite();
    env.ok(&["pki", "init", "--organization", "Fabrikam"]);
    let out = env.path("out");
    env.ok(&[
        "pki",
        "issue",
        "--upn",
        "bob@fabrikam.example",
        "--out",
        out.to_str().expect("utf-8"),
        "--p12-password",
        "pw-123",
    ]);
    let output = Command::new("openssl")
        .args(["pkcs12", "-nokeys", "-passin", "pass:pw-123", "-in"])
        .arg(out.join("bob@fabrikam.example.p12"))
        .output()
        .expect("openssl");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 3, "{text}");
    // The key file is for its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("bob@fabrikam.example.key"))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
    }
}

/// Without a passphrase the CA refuses to create unencrypted keys unless told to.
#[test]
fn pki_init_needs_a_passphrase_or_an_explicit_flag() {
    let env = Env::sqlite();
    let output = env
        .command(&["pki", "init"])
        .env_remove("CERTGATE_CA_KEY_PASSPHRASE")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("pki-passphrase-required"));
    let output = env
        .command(&["pki", "init", "--allow-unencrypted-keys"])
        .env_remove("CERTGATE_CA_KEY_PASSPHRASE")
        .output()
        .expect("run");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("UNENCRYPTED"));
    // With the keys sealed, a wrong passphrase cannot issue.
    let env = Env::sqlite();
    env.ok(&["pki", "init"]);
    let output = env
        .command(&[
            "pki",
            "issue",
            "--upn",
            "x@y.example",
            "--out",
            env.path("o").to_str().expect("utf-8"),
        ])
        .env("CERTGATE_CA_KEY_PASSPHRASE", "wrong")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("ca-key-seal-broken"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
