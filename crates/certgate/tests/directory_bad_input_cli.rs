//! Issue 16's "bad input" through the `certgate` binary, against a real Samba AD DC (the
//! harness of certgate-ldap's tests) on SQLite:
//!
//! - a DC certificate that fails verification (a CA that did not issue it, a host name it does
//!   not list) and a wrong bind password each fail `directory sync [--dry-run] --json` with
//!   their own code and exit 1, and leave the users, the audit log and the last completed run
//!   as they were;
//! - `serve` while the directory hangs (a TCP proxy that stops forwarding, from
//!   certgate-ldap's tests): users synchronised earlier still sign in, without waiting for the
//!   hung sync; the run fails with its code, is retried, and once the directory answers again
//!   the retry brings what changed meanwhile.
//!
//! Needs root (Samba binds ports 389 and 636), Samba, ldap-utils and curl.

mod common;
#[path = "../../certgate-ldap/tests/faulty_proxy/mod.rs"]
mod faulty_proxy;
#[path = "../../certgate-ldap/tests/samba_dc/mod.rs"]
mod samba_dc;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Env;
use faulty_proxy::{Fault, FaultyProxy};
use serde_json::Value;

/// erin and frank (enabled), gina (disabled), in an OU of this test's own.
fn add_accounts(dc: &samba_dc::SambaDc, tag: &str) -> String {
    let base = format!("OU=BadInput-{tag},{}", samba_dc::BASE_DN);
    dc.ldapmodify(&format!(
        "dn: {base}\nchangetype: add\nobjectClass: organizationalUnit\n\n\
         dn: CN=erin,{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: erin-{tag}\n\
         userPrincipalName: erin.{tag}@certgate.test\ndisplayName: Erin Example\n\
         userAccountControl: 512\n\n\
         dn: CN=frank,{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: frank-{tag}\n\
         userPrincipalName: frank.{tag}@certgate.test\nuserAccountControl: 512\n\n\
         dn: CN=gina,{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: gina-{tag}\n\
         userPrincipalName: gina.{tag}@certgate.test\nuserAccountControl: 514\n\n"
    ));
    base
}

/// `[directory.ldap]` with `url`, `ca_file` and the password in `password_file`, and `extra`
/// settings.
fn write_config(
    env: &Env,
    url: &str,
    ca_file: &Path,
    base: &str,
    password_file: &Path,
    extra: &str,
) {
    let dc = samba_dc::dc();
    let data = env.dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data directory");
    std::fs::write(
        data.join("certgate.toml"),
        format!(
            "[directory.ldap]\n\
             url = \"{url}\"\n\
             ca_file = \"{}\"\n\
             bind_dn = \"{}\"\n\
             bind_password_file = \"{}\"\n\
             base_dn = \"{base}\"\n{extra}",
            ca_file.display(),
            dc.admin_bind_dn(),
            password_file.display()
        ),
    )
    .expect("write certgate.toml");
}

/// Everything a sync may change, as the CLI shows it.
fn store_state(env: &Env) -> (Value, String, Value) {
    let users = env.json(&["user", "list", "--json"], 0);
    let audit = env.ok(&["audit", "--limit", "1000"]);
    let status = env.json(&["directory", "status", "--json"], 0);
    (users, audit, status["lastCompletedRun"].clone())
}

#[test]
fn a_dc_certificate_that_fails_verification_or_a_wrong_password_fails_with_its_code() {
    let env = Env::sqlite();
    let dc = samba_dc::dc();
    let base = add_accounts(dc, "cli");
    let healthy = || {
        write_config(
            &env,
            "ldaps://127.0.0.1",
            &dc.ca_file,
            &base,
            &dc.admin_password_file,
            "",
        )
    };
    healthy();
    let first = env.json(&["directory", "sync", "--json"], 0);
    assert_eq!(first["counts"]["added"], 3, "{first}");
    let before = store_state(&env);

    let wrong_password = env.path("wrong-password");
    std::fs::write(&wrong_password, "not-the-password\n").expect("write the wrong password");
    let cases: [(&str, &Path, &Path, &str); 3] = [
        // A CA that did not issue the DC's certificate.
        (
            "ldaps://127.0.0.1",
            &dc.unrelated_ca_file,
            &dc.admin_password_file,
            "directory-source-tls-failed",
        ),
        // The right CA, but a host name the certificate does not list (it names 127.0.0.1).
        (
            "ldaps://localhost",
            &dc.ca_file,
            &dc.admin_password_file,
            "directory-source-tls-failed",
        ),
        (
            "ldaps://127.0.0.1",
            &dc.ca_file,
            &wrong_password,
            "directory-source-bind-rejected",
        ),
    ];
    for (url, ca_file, password_file, code) in cases {
        write_config(&env, url, ca_file, &base, password_file, "");
        let dry = env.json(&["directory", "sync", "--dry-run", "--json"], 1);
        assert_eq!(
            (dry["ok"].clone(), dry["code"].clone()),
            (Value::Bool(false), Value::from(code)),
            "{url}: {dry}"
        );
        let refused = env.json(&["directory", "sync", "--json"], 1);
        assert_eq!(refused["ok"], false, "{refused}");
        assert_eq!(refused["code"], code, "{url}: {refused}");
        let message = refused["message"].as_str().expect("message");
        assert!(!message.is_empty() && !message.contains(samba_dc::ADMIN_PASSWORD));
        // The text output names the code too.
        let output = env.run(&["directory", "sync"]);
        assert_eq!(output.status.code(), Some(1));
        let text = String::from_utf8_lossy(&output.stderr);
        assert!(text.contains(code), "{text}");

        let status = env.json(&["directory", "status", "--json"], 0);
        assert_eq!(status["lastRun"]["result"], "failed");
        assert_eq!(status["lastRun"]["code"], code);
        assert_eq!(
            store_state(&env),
            before,
            "{url}: the failed run changed the store"
        );
    }

    // Back to the right settings: the next sync has nothing to change.
    healthy();
    let again = env.json(&["directory", "sync", "--json"], 0);
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
}

/// A sign-in with curl at the certificate sign-in listener (real TLS, client certificate).
fn sign_in(env: &Env, port: u16, upn: &str) -> Value {
    let users = env.path("users");
    let output = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10", "-H", "Accept: application/json"])
        .arg("--cacert")
        .arg(env.path("data/pki/root.pem"))
        .arg("--cert")
        .arg(users.join(format!("{upn}.pem")))
        .arg("--key")
        .arg(users.join(format!("{upn}.key")))
        .arg(format!("https://localhost:{port}/certauth"))
        .output()
        .expect("curl (scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn wait_for<T>(what: &str, limit: Duration, mut done: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = done() {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn last_run(env: &Env) -> Value {
    env.json(&["directory", "status", "--json"], 0)["lastRun"].clone()
}

/// `serve` syncs every 20 s through a proxy to the DC. The directory then hangs (the proxy
/// stops forwarding): the scheduled run waits in vain for the DC while erin, synchronised
/// before, signs in at once; the run fails with `directory-source-timeout` and the users stay
/// as they were. The DC answers again, an account is added meanwhile: the retry brings it.
#[test]
fn while_the_directory_hangs_synchronised_users_sign_in_and_the_retry_recovers() {
    let env = Env::sqlite();
    let dc = samba_dc::dc();
    let base = add_accounts(dc, "srv");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let proxy = runtime.block_on(FaultyProxy::start(
        (std::net::Ipv4Addr::LOCALHOST, 636).into(),
    ));
    write_config(
        &env,
        &proxy.ldaps_url(),
        &dc.ca_file,
        &base,
        &dc.admin_password_file,
        "sync_interval_seconds = 20\nconnect_timeout_seconds = 8\n",
    );
    env.pki_with_localhost_tls();
    let users = env.path("users");
    env.ok(&[
        "pki",
        "issue",
        "--upn",
        "erin.srv@certgate.test",
        "--out",
        users.to_str().expect("utf-8"),
        "--p12-password",
        "pw",
    ]);

    let server = env.serve_with(&env.certauth_listener());
    let certauth = server.port("certauth");
    // The first scheduled run (no run recorded yet: at once) brings the accounts.
    wait_for("the first scheduled sync", Duration::from_secs(30), || {
        (last_run(&env)["result"] == "completed").then_some(())
    });
    let first_run = last_run(&env);
    assert_eq!(first_run["counts"]["added"], 3, "{first_run}");
    // Its CRL fetched, certgate signs erin in.
    wait_for("erin signs in", Duration::from_secs(30), || {
        (sign_in(&env, certauth, "erin.srv@certgate.test")["result"] == "success").then_some(())
    });
    let before = store_state(&env);

    // The directory hangs: the next run's connection gets no byte back.
    proxy.set_fault(Fault::StallAfter(0));
    let connections = proxy.connections();
    wait_for(
        "the next scheduled run connects",
        Duration::from_secs(30),
        || (proxy.connections() > connections).then_some(()),
    );
    // While that run waits for the DC, sign-ins do not.
    for _ in 0..3 {
        let started = Instant::now();
        let answer = sign_in(&env, certauth, "erin.srv@certgate.test");
        assert_eq!(answer["result"], "success", "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "a sign-in waited {:?}",
            started.elapsed()
        );
    }
    let failed = wait_for("the hung run fails", Duration::from_secs(20), || {
        let run = last_run(&env);
        (run["result"] == "failed").then_some(run)
    });
    assert_eq!(failed["code"], "directory-source-timeout", "{failed}");
    assert_eq!(
        store_state(&env),
        before,
        "the failed run changed the store"
    );
    assert_eq!(
        sign_in(&env, certauth, "erin.srv@certgate.test")["result"],
        "success"
    );

    // The directory answers again, with an account added while it hung: the retry (20 s
    // after the failed run: the backoff's 30 s, capped at the interval) brings it.
    dc.ldapmodify(&format!(
        "dn: CN=hank,{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: hank-srv\n\
         userPrincipalName: hank.srv@certgate.test\nuserAccountControl: 512\n\n"
    ));
    proxy.set_fault(Fault::None);
    let recovered = wait_for("the retry completes", Duration::from_secs(45), || {
        let run = last_run(&env);
        (run["result"] == "completed" && run["startedDateTime"] != first_run["startedDateTime"])
            .then_some(run)
    });
    assert_eq!(recovered["counts"]["added"], 1, "{recovered}");
    let hank = env.json(&["user", "get", "hank.srv@certgate.test", "--json"], 0);
    assert_eq!(hank["accountEnabled"], true);
    assert_eq!(
        sign_in(&env, certauth, "erin.srv@certgate.test")["result"],
        "success"
    );
    drop(server);
}
