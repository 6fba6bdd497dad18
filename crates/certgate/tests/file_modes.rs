//! What certgate writes to disk under a permissive umask (022, the common default): the data
//! directory is 0700; the SQLite database and its -wal and -shm files, every private key,
//! PKCS#12 bundle and device profile 0600. Each command runs as `sh -c 'umask 022; exec certgate …'`.
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{http_get, Env, Server, BIN};

/// The data directory is not created by the test: certgate creates it, with the database in it.
struct UmaskEnv {
    env: Env,
    data: PathBuf,
}

impl UmaskEnv {
    fn new() -> UmaskEnv {
        let mut env = Env::sqlite();
        let data = env.path("data");
        env.database_url = format!("sqlite://{}", data.join("certgate.db").display());
        UmaskEnv { env, data }
    }

    /// `certgate args` under umask 022, with the environment's settings.
    fn command(&self, args: &[&str]) -> Command {
        let inner = self.env.command(args);
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg("umask 022; exec \"$0\" \"$@\"")
            .arg(BIN)
            .args(args);
        for (name, value) in inner.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }

    fn ok(&self, args: &[&str]) -> String {
        let output: Output = self.command(args).output().expect("run certgate");
        eprintln!(
            "$ certgate {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "certgate {args:?} failed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn assert_mode(path: &Path, expected: u32) {
    assert_eq!(
        mode(path),
        expected,
        "{} is {:o}, expected {expected:o}",
        path.display(),
        mode(path)
    );
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn data_directory_database_and_keys_are_private_whatever_the_umask() {
    let env = UmaskEnv::new();
    env.ok(&["pki", "init", "--organization", "Contoso"]);
    assert_mode(&env.data, 0o700);
    assert_mode(&env.data.join("certgate.db"), 0o600);

    env.ok(&["user", "add", "alice@contoso.example"]);
    let users = env.env.path("users");
    env.ok(&[
        "pki",
        "issue",
        "--upn",
        "alice@contoso.example",
        "--out",
        s(&users),
        "--p12-password",
        "alice-p12",
    ]);
    assert_mode(&users, 0o700);
    assert_mode(&users.join("alice@contoso.example.key"), 0o600);
    assert_mode(&users.join("alice@contoso.example.p12"), 0o600);
    // Certificates are public.
    assert_mode(&users.join("alice@contoso.example.pem"), 0o644);

    let tls = env.env.path("tls");
    env.ok(&[
        "pki",
        "issue-server",
        "--dns",
        "localhost",
        "--out",
        s(&tls),
    ]);
    assert_mode(&tls.join("localhost.key"), 0o600);

    let profile = env.env.path("alice.mobileconfig");
    env.ok(&[
        "device",
        "profile",
        "--upn",
        "alice@contoso.example",
        "--platform",
        "ios",
        "--eas-host",
        "mail.contoso.example",
        "--p12-password",
        "device-p12",
        "--out",
        s(&profile),
    ]);
    assert_mode(&profile, 0o600);

    // A running server holds the database open in WAL mode: its -wal and -shm files exist
    // while it runs (SQLite removes them when the last connection closes).
    let child = env
        .command(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn certgate serve");
    let _server = Server::from_child(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_get(env.env.port, "/healthz").map(|(status, _)| status) != Some(200) {
        assert!(Instant::now() < deadline, "certgate serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_mode(&env.data, 0o700);
    for name in ["certgate.db", "certgate.db-wal", "certgate.db-shm"] {
        assert_mode(&env.data.join(name), 0o600);
    }
}
