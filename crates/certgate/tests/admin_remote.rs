//! The CLI's remote mode: `certgate serve` runs as a process with its certificate sign-in
//! listener (where the admin API is mounted), a token comes from `certgate admin token create`,
//! and `certgate --server https://localhost:PORT --server-ca root.pem` (token in
//! CERTGATE_TOKEN) drives it: ca, user, crl, signins, audit print exactly what the local
//! commands print, every change is the token's in the audit log, and refusals keep their
//! codes. The remote commands get a database URL that cannot be opened, so they provably do
//! not touch a local store.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{Env, Server, BIN};
use serde_json::Value;

struct Remote<'a> {
    env: &'a Env,
    url: String,
    token: String,
}

impl Remote<'_> {
    fn command(&self, token: Option<&str>, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .arg("--server")
            .arg(&self.url)
            .arg("--server-ca")
            .arg(self.env.path("data/pki/root.pem"))
            .args(args)
            .env("CERTGATE_DATA_DIR", "/nonexistent/certgate-data")
            .env(
                "CERTGATE_DATABASE_URL",
                "sqlite:///nonexistent/certgate-data/certgate.db?mode=ro",
            )
            .env_remove("CERTGATE_CONFIG")
            .env_remove("CERTGATE_SERVER")
            .env_remove("CERTGATE_TOKEN");
        if let Some(token) = token {
            command.env("CERTGATE_TOKEN", token);
        }
        command
    }

    fn run_with(&self, token: Option<&str>, args: &[&str]) -> Output {
        let output = self.command(token, args).output().expect("run certgate");
        eprintln!(
            "$ certgate --server {} {}\n{}{}",
            self.url,
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(Some(&self.token), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "remote certgate {args:?} failed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("JSON output")
    }

    /// A refusal: exit 1, the code on stderr as the local command prints it.
    fn refused(&self, token: Option<&str>, args: &[&str], code: &str) {
        let output = self.run_with(token, args);
        assert_eq!(output.status.code(), Some(1), "exit of {args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("({code})")), "{stderr}");
    }
}

/// The actions `actor` took, newest first, from `certgate audit --json`.
fn actions_of<'a>(audit: &'a Value, actor: &str) -> Vec<&'a str> {
    audit
        .as_array()
        .expect("audit")
        .iter()
        .filter(|e| e["actor"] == actor)
        .map(|e| e["action"].as_str().expect("action"))
        .collect()
}

fn start(env: &Env) -> (Server, u16) {
    let server = env.serve_with(&env.certauth_listener());
    let certauth_port = server.port("certauth");
    (server, certauth_port)
}

#[test]
fn the_cli_drives_a_remote_server_through_the_admin_api() {
    let env = Env::sqlite();
    env.pki_with_localhost_tls();
    let token = env
        .ok(&["admin", "token", "create", "--name", "remote-test"])
        .trim()
        .to_owned();
    assert!(token.starts_with("cgadm_"), "{token}");
    let (_server, port) = start(&env);
    let remote = Remote {
        env: &env,
        url: format!("https://localhost:{port}"),
        token,
    };

    // Reading: the same output as the local command, text and JSON.
    for args in [&["ca", "list"][..], &["ca", "list", "--json"]] {
        assert_eq!(remote.ok(args), env.ok(args), "{args:?}");
    }
    let cas = remote.json(&["ca", "list", "--json"]);
    let cas = cas["certificateAuthorities"].as_array().expect("CAs");
    assert_eq!(cas.len(), 2);
    let issuing_id = cas[1]["id"].as_i64().expect("id").to_string();

    // Writing: users.
    let added = remote.json(&[
        "user",
        "add",
        "carol@contoso.example",
        "--display-name",
        "Carol",
        "--group",
        "staff",
        "--certificate-user-id",
        "X509:<SKI>0A:1B",
        "--json",
    ]);
    assert_eq!(added["userPrincipalName"], "carol@contoso.example");
    assert_eq!(
        added["authorizationInfo"]["certificateUserIds"][0],
        "X509:<SKI>0a1b"
    );
    remote.ok(&["user", "add", "dave@contoso.example"]);
    for args in [
        &["user", "list"][..],
        &["user", "list", "--json"],
        &["user", "get", "carol@contoso.example"],
        &["user", "get", "CAROL@contoso.example", "--json"],
    ] {
        assert_eq!(remote.ok(args), env.ok(args), "{args:?}");
    }
    let changed = remote.json(&[
        "user",
        "set",
        "carol@contoso.example",
        "--add-group",
        "certgate-admins",
        "--remove-group",
        "staff",
        "--mail",
        "carol@contoso.example",
        "--json",
    ]);
    assert_eq!(changed["groups"], serde_json::json!(["certgate-admins"]));
    assert_eq!(changed["mail"], "carol@contoso.example");
    remote.refused(
        Some(&remote.token),
        &[
            "user",
            "set",
            "carol@contoso.example",
            "--remove-group",
            "nope",
        ],
        "user-field-invalid",
    );
    remote.refused(
        Some(&remote.token),
        &["user", "add", "Carol@contoso.example"],
        "user-upn-taken",
    );
    let revoked = remote.json(&["user", "revoke-sessions", "carol@contoso.example", "--json"]);
    assert!(revoked["signInSessionsValidFromDateTime"].is_string());
    let pass = remote.json(&[
        "user",
        "access-pass",
        "create",
        "carol@contoso.example",
        "--lifetime",
        "30m",
        "--json",
    ]);
    assert_eq!(pass["lifetimeInMinutes"], 30);
    assert_eq!(pass["isUsableOnce"], true);
    assert!(pass["temporaryAccessPass"].as_str().expect("pass").len() >= 26);
    remote.refused(
        Some(&remote.token),
        &[
            "user",
            "access-pass",
            "create",
            "carol@contoso.example",
            "--lifetime",
            "1m",
        ],
        "access-pass-lifetime-invalid",
    );
    let reset = remote.json(&[
        "user",
        "reset-second-factor",
        "carol@contoso.example",
        "--json",
    ]);
    assert_eq!(reset["reset"]["accessPassRemoved"], true);
    assert_eq!(reset["reset"]["authenticatorRemoved"], false);
    remote.ok(&["user", "remove", "dave@contoso.example"]);
    remote.refused(
        Some(&remote.token),
        &["user", "get", "dave@contoso.example"],
        "user-not-found",
    );

    // Writing: trusted CAs, and the CRLs the server publishes.
    let set = remote.json(&["ca", "set", &issuing_id, "--issuer-hint", "false", "--json"]);
    assert_eq!(set["isIssuerHintEnabled"], false);
    remote.refused(
        Some(&remote.token),
        &[
            "ca",
            "add",
            env.path("data/pki/root.pem").to_str().expect("utf-8"),
        ],
        "ca-duplicate",
    );
    remote.refused(
        Some(&remote.token),
        &["ca", "remove", "999"],
        "ca-not-found",
    );
    let refreshed = remote.run(&["crl", "refresh", "--json"]);
    let reports: Value = serde_json::from_slice(&refreshed.stdout).expect("JSON");
    assert!(!reports.as_array().expect("reports").is_empty());
    assert_eq!(refreshed.status.code(), Some(0), "{reports:#}");
    // The server's own scheduler may be refreshing at the same moment: compare a settled
    // state.
    for args in [&["crl", "status"][..], &["crl", "status", "--json"]] {
        let mut attempts = 0;
        loop {
            let (remote_output, local_output) = (remote.ok(args), env.ok(args));
            if remote_output == local_output {
                break;
            }
            attempts += 1;
            assert!(
                attempts < 5,
                "{args:?}: {remote_output}\n!=\n{local_output}"
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    // The federation service: relying parties and token-signing keys.
    let m365 = remote.json(&[
        "rp",
        "add",
        "microsoft365",
        "--protocol",
        "saml",
        "--issuer",
        "https://contoso.example/adfs",
        "--json",
    ]);
    assert_eq!(m365["identifier"], "urn:federation:MicrosoftOnline");
    assert_eq!(m365["issuer"], "https://contoso.example/adfs");
    remote.ok(&[
        "rp",
        "add",
        "wsfed",
        "--name",
        "Intranet",
        "--realm",
        "urn:intranet",
        "--reply",
        "https://intranet.contoso.example/",
    ]);
    let changed = remote.json(&[
        "rp",
        "set",
        "intranet",
        "--claims",
        "certificate-context",
        "--disabled",
        "--json",
    ]);
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["claims"].as_array().expect("claims").len(), 2 + 10);
    remote.refused(
        Some(&remote.token),
        &["rp", "add", "microsoft365", "--protocol", "saml"],
        "rp-taken",
    );
    remote.refused(
        Some(&remote.token),
        &["rp", "set", "Intranet", "--claim", "IDPEmail=user.upn"],
        "rp-field-invalid",
    );
    for args in [
        &["rp", "list"][..],
        &["rp", "list", "--json"],
        &["rp", "show", "Microsoft 365"],
        &["rp", "show", "urn:intranet", "--json"],
    ] {
        assert_eq!(remote.ok(args), env.ok(args), "{args:?}");
    }
    remote.ok(&["rp", "remove", "Intranet"]);
    remote.refused(
        Some(&remote.token),
        &["rp", "show", "Intranet"],
        "rp-not-found",
    );
    env.ok(&["federation", "init"]);
    for args in [
        &["federation", "keys"][..],
        &["federation", "keys", "--json"],
    ] {
        assert_eq!(remote.ok(args), env.ok(args), "{args:?}");
    }
    assert_eq!(remote.run(&["federation", "init"]).status.code(), Some(2));

    // The logs.
    assert_eq!(
        remote.ok(&["signins", "--json"]),
        env.ok(&["signins", "--json"])
    );
    let audit = remote.json(&["audit", "--json", "--limit", "100"]);
    let mine = actions_of(&audit, "api:remote-test");
    assert_eq!(
        mine,
        [
            "rp.remove",
            "rp.set",
            "rp.add",
            "rp.add",
            "crl.refresh-request",
            "ca.set",
            "user.remove",
            "second_factor.reset",
            "access_pass.create",
            "user.revoke-sessions",
            "user.set",
            "user.add",
            "user.add"
        ]
    );

    // Access: a wrong token, no token, a command without a remote mode, a revoked token.
    remote.refused(Some("cgadm_wrong"), &["ca", "list"], "admin-token-invalid");
    let no_token = remote.run_with(None, &["ca", "list"]);
    assert_eq!(no_token.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_token.stderr).contains("CERTGATE_TOKEN"));
    let local_only = remote.run(&["est", "codes"]);
    assert_eq!(local_only.status.code(), Some(2));
    let why = String::from_utf8_lossy(&local_only.stderr);
    assert!(why.contains("no remote mode"), "{why}");
    env.ok(&["admin", "token", "revoke", "remote-test"]);
    remote.refused(Some(&remote.token), &["ca", "list"], "admin-token-revoked");
    let tokens = env.json(&["admin", "token", "list", "--json"], 0);
    assert!(tokens["value"][0]["revokedDateTime"].is_string());
    assert!(tokens["value"][0]["lastUsedDateTime"].is_string());
}

/// certgate's own CA through the admin API: `pki list|crls` print what they print locally,
/// `pki revoke` revokes (with the descendants' rule and its refusals), `pki crl` publishes a
/// CRL that lists the revocation, and the commands that make private keys say why they have no
/// remote mode.
#[test]
fn the_cli_drives_the_servers_own_ca_through_the_admin_api() {
    let env = Env::sqlite();
    env.pki_with_localhost_tls();
    let users = env.path("users");
    for upn in ["alice@contoso.example", "bob@contoso.example"] {
        env.ok(&[
            "pki",
            "issue",
            "--upn",
            upn,
            "--out",
            users.to_str().expect("utf-8"),
            "--p12-password",
            "a long test password",
        ]);
    }
    let token = env
        .ok(&["admin", "token", "create", "--name", "pki-test"])
        .trim()
        .to_owned();
    let (_server, port) = start(&env);
    let remote = Remote {
        env: &env,
        url: format!("https://localhost:{port}"),
        token,
    };

    for args in [
        &["pki", "list"][..],
        &["pki", "list", "--json"],
        &["pki", "crls"],
        &["pki", "crls", "--json"],
    ] {
        assert_eq!(remote.ok(args), env.ok(args), "{args:?}");
    }
    let issued = remote.json(&["pki", "list", "--json"]);
    let serial_of = |upn: &str| {
        issued
            .as_array()
            .expect("issued")
            .iter()
            .find(|c| c["upn"] == upn)
            .and_then(|c| c["serial"].as_str())
            .unwrap_or_else(|| panic!("{upn} in {issued:#}"))
            .to_owned()
    };
    let alice = serial_of("alice@contoso.example");

    // Revoking: the same report as the local command's, refusals with their codes.
    let revoked = remote.ok(&[
        "pki",
        "revoke",
        "--serial",
        &alice,
        "--reason",
        "keyCompromise",
    ]);
    assert!(
        revoked.starts_with(&format!(
            "revoked serial {alice} (alice@contoso.example) at "
        )),
        "{revoked}"
    );
    assert!(
        revoked.contains(": keyCompromise\n0 descendant certificate(s) revoked"),
        "{revoked}"
    );
    let refused = [
        (
            &["pki", "revoke", "--serial", &alice][..],
            "pki-already-revoked",
        ),
        (
            &["pki", "revoke", "--serial", "0badc0de"],
            "pki-unknown-serial",
        ),
        (
            &[
                "pki",
                "revoke",
                "--serial",
                &serial_of("bob@contoso.example"),
                "--reason",
                "stolen",
            ],
            "pki-unknown-reason",
        ),
    ];
    for (args, code) in refused {
        remote.refused(Some(&remote.token), args, code);
    }
    let listed = remote.json(&["pki", "list", "--json"]);
    let alice_now = listed
        .as_array()
        .expect("issued")
        .iter()
        .find(|c| c["serial"] == alice.as_str())
        .expect("alice");
    assert_eq!(alice_now["status"], "revoked");
    assert_eq!(alice_now["revocationReason"], "keyCompromise");
    assert_eq!(listed, env.json(&["pki", "list", "--json"], 0));

    // Publishing: the new delta CRL lists alice's serial, and is what `pki crls` shows.
    let published = remote.ok(&["pki", "crl"]);
    assert_eq!(published.lines().count(), 2, "{published}");
    assert!(
        published.contains("published issuing delta CRL number"),
        "{published}"
    );
    assert!(published.contains("/pki/issuing-delta.crl"), "{published}");
    let current = remote.json(&["pki", "crls", "--json"]);
    let issuing_delta = current
        .as_array()
        .expect("crls")
        .iter()
        .find(|c| c["ca"] == "issuing" && c["kind"] == "delta")
        .expect("an issuing delta CRL");
    assert_eq!(issuing_delta["entries"], 1, "{current:#}");
    let delta = env.path("issuing-delta.crl");
    let url = issuing_delta["url"].as_str().expect("url");
    let fetched = Command::new("curl")
        .args(["-sf", "-o", delta.to_str().expect("utf-8"), url])
        .status()
        .expect("curl");
    assert!(fetched.success(), "fetching {url}");
    let text = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&delta)
        .output()
        .expect("openssl crl");
    let text = String::from_utf8_lossy(&text.stdout).to_ascii_uppercase();
    // OpenSSL prints the serial's magnitude, without a sign octet.
    let magnitude = alice.trim_start_matches("00").to_ascii_uppercase();
    assert!(text.contains(&magnitude), "{text}");
    assert!(text.contains("KEY COMPROMISE"), "{text}");

    // Who did it: the token, in the audit log.
    let audit = remote.json(&["audit", "--json", "--limit", "20"]);
    let mine = actions_of(&audit, "api:pki-test");
    assert!(mine.contains(&"pki.revoke"), "{mine:?}");
    assert!(mine.iter().any(|a| a.starts_with("pki.crl")), "{mine:?}");

    // What makes private keys stays on the server's machine, and says so.
    for args in [
        &["pki", "init"][..],
        &["pki", "issue", "--upn", "carol@contoso.example"],
        &["pki", "issue-server", "--dns", "localhost"],
        &["pki", "crl", "--out", "/tmp"],
    ] {
        let output = remote.run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let why = String::from_utf8_lossy(&output.stderr);
        assert!(why.contains("no remote mode"), "{args:?}: {why}");
    }
}
