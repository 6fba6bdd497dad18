//! Two `certgate serve` processes on one PostgreSQL database: a revocation made through the
//! CLI on the shared database (revoke, publish, refresh), and a user disabled there, are
//! enforced by both nodes' certificate sign-in listeners within 5 seconds, without restarting
//! them.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http_get, Env};
use serde_json::Value;

/// A `certgate serve` process with its certificate sign-in listener.
struct Node {
    child: Child,
    http_port: u16,
    certauth_port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(env: &Env, http_port: u16) -> Node {
    let certauth_port = free_port();
    let child = env
        .command(&["serve", "--listen", &format!("127.0.0.1:{http_port}")])
        .env(
            "CERTGATE_CERTAUTH_LISTEN",
            format!("127.0.0.1:{certauth_port}"),
        )
        .env("CERTGATE_TLS_CERTIFICATE", env.path("tls/localhost.pem"))
        .env("CERTGATE_TLS_KEY", env.path("tls/localhost.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn certgate serve");
    let node = Node {
        child,
        http_port,
        certauth_port,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(node.http_port, "/healthz").map(|(status, _)| status) != Some(200) {
        assert!(Instant::now() < deadline, "certgate serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    node
}

/// A sign-in at `node` with curl (real TLS, client certificate), as JSON.
fn sign_in(env: &Env, node: &Node, user: &str) -> Value {
    let users = env.path("users");
    let output = std::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-H",
            "Accept: application/json",
            "--cacert",
        ])
        .arg(env.path("data/pki/root.pem"))
        .arg("--cert")
        .arg(users.join(format!("{user}.pem")))
        .arg("--key")
        .arg(users.join(format!("{user}.key")))
        .arg(format!("https://localhost:{}/certauth", node.certauth_port))
        .output()
        .expect("curl (scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

#[test]
fn revocation_through_the_shared_database_reaches_the_other_node_within_5_seconds() {
    let env = Env::postgres();
    // Node A publishes the CRLs at the URLs the CA writes into certificates (env.port).
    env.pki_with_localhost_tls();
    let users = env.path("users");
    env.ok(&[
        "pki",
        "issue",
        "--upn",
        "alice@contoso.example",
        "--out",
        users.to_str().expect("utf-8"),
        "--p12-password",
        "pw",
    ]);
    env.ok(&[
        "user",
        "add",
        "alice@contoso.example",
        "--display-name",
        "Alice",
    ]);
    env.ok(&[
        "user",
        "add",
        "bob@contoso.example",
        "--display-name",
        "Bob",
    ]);
    env.ok(&[
        "pki",
        "issue",
        "--upn",
        "bob@contoso.example",
        "--out",
        users.to_str().expect("utf-8"),
        "--p12-password",
        "pw",
    ]);
    let node_a = start_node(&env, env.port);
    let node_b = start_node(&env, free_port());

    // Both nodes fetch the CRLs on their own (no cached CRL yet: right away).
    for node in [&node_a, &node_b] {
        wait_for("alice signs in", Duration::from_secs(20), || {
            sign_in(&env, node, "alice@contoso.example")["result"] == "success"
        });
    }

    let issued = env.json(&["pki", "list", "--json"], 0);
    let serial = issued[0]["serial"].as_str().expect("serial").to_owned();
    env.ok(&[
        "pki",
        "revoke",
        "--serial",
        &serial,
        "--reason",
        "keyCompromise",
    ]);
    env.ok(&["pki", "crl"]);
    env.ok(&["crl", "refresh"]);
    let took = wait_for("node B refuses alice", Duration::from_secs(5), || {
        let answer = sign_in(&env, &node_b, "alice@contoso.example");
        answer["code"] == "cert-revoked"
    });
    eprintln!("node B enforced the revocation {took:?} after the refresh");
    let answer = sign_in(&env, &node_a, "alice@contoso.example");
    assert_eq!(answer["code"], "cert-revoked", "{answer}");

    // The sign-in listener speaks HTTP/2 (ALPN) as well as HTTP/1.1.
    let users_dir = env.path("users");
    let http2 = std::process::Command::new("curl")
        .args([
            "-sS",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version}",
            "--cacert",
        ])
        .arg(env.path("data/pki/root.pem"))
        .arg("--cert")
        .arg(users_dir.join("bob@contoso.example.pem"))
        .arg("--key")
        .arg(users_dir.join("bob@contoso.example.key"))
        .arg(format!(
            "https://localhost:{}/certauth",
            node_b.certauth_port
        ))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&http2.stdout), "2");

    // A user disabled in the directory is refused by both nodes.
    assert_eq!(
        sign_in(&env, &node_b, "bob@contoso.example")["result"],
        "success"
    );
    env.ok(&["user", "set", "bob@contoso.example", "--enabled", "false"]);
    for node in [&node_b, &node_a] {
        let took = wait_for("bob is refused", Duration::from_secs(5), || {
            sign_in(&env, node, "bob@contoso.example")["code"] == "user-disabled"
        });
        eprintln!("the disabled user was refused {took:?} after the change");
    }
}
