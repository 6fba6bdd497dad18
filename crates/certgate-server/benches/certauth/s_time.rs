//! The sign-ins again with a client this project did not write: `openssl s_time -new`, two
//! processes at once, each opening a new connection with a full handshake and the client
//! certificate, sending `GET /certauth HTTP/1.0` and reading the answer, back to back for the
//! given time. It runs only when `openssl` is on `PATH`, after the benchmark's own client.
//!
//! s_time counts a connection whatever the server answered, and certgate refuses a certificate
//! with an HTTP answer, not in the handshake: the successes are told apart afterwards, by
//! certgate's sign-in log (one success recorded per accepted sign-in, checked in `main.rs`)
//! and by nginx's access log, whose lines carry `$ssl_client_verify`. Before the run one
//! `openssl s_client` request with the same files must be signed in.
//!
//! s_time's `-cert` loads the leaf alone; with the issuing CA as its `-CAfile`, OpenSSL builds
//! the chain it sends from it (leaf + issuing CA), as the benchmark's own client sends it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::common::cpu::{self, Accounting};
use crate::common::mtls_fixture::Fixture;
use crate::common::nginx::pem;

/// s_time processes run at once against one server.
pub(crate) const PROCESSES: usize = 2;

/// The path s_time and s_client ask for; nginx's access log is told apart from the
/// benchmark's own client by its HTTP/1.0.
const REQUEST_LINE: &str = "GET /certauth HTTP/1.0";

/// What s_time measured against one server.
pub(crate) struct STimeRun {
    /// Sum over the processes of their "N connections in X real seconds".
    pub(crate) connections: u64,
    /// From the first process's start to the last one's end.
    pub(crate) seconds: f64,
    pub(crate) bytes_per_connection: Vec<u64>,
    pub(crate) server_cpu_seconds: f64,
    /// Sign-ins the server's own log counts as successful over the run: nginx's access log
    /// here; certgate's sign-in log is read once certgate has stopped (`main.rs`).
    pub(crate) logged_successes: Option<u64>,
}

impl STimeRun {
    pub(crate) fn rate(&self) -> f64 {
        self.connections as f64 / self.seconds.max(1e-9)
    }

    pub(crate) fn server_cpu_us(&self) -> f64 {
        self.server_cpu_seconds * 1e6 / (self.connections.max(1) as f64)
    }

    /// Every connection s_time counted was a successful sign-in in the server's log.
    pub(crate) fn all_signed_in(&self) -> bool {
        self.logged_successes == Some(self.connections)
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "connections": self.connections,
            "seconds": self.seconds,
            "per_second": self.rate(),
            "bytes_read_per_connection": self.bytes_per_connection,
            "server_cpu_seconds": self.server_cpu_seconds,
            "server_cpu_us_per_sign_in": self.server_cpu_us(),
            "successes_in_server_log": self.logged_successes,
            "all_signed_in": self.all_signed_in(),
        })
    }
}

/// openssl on `PATH`, if installed.
pub(crate) fn openssl() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("openssl"))
            .find(|candidate| candidate.is_file())
    })
}

/// The client's leaf, its key and the issuing CA as PEM files.
pub(crate) struct ClientFiles {
    directory: tempfile::TempDir,
}

impl ClientFiles {
    pub(crate) fn new(fixture: &Fixture) -> Result<ClientFiles> {
        let directory = tempfile::tempdir().context("s_time's temp dir")?;
        let files = [
            ("client.pem", pem("CERTIFICATE", &fixture.leaf.der)),
            ("client.key", pem("PRIVATE KEY", &fixture.leaf.key_pkcs8)),
            (
                "issuing-ca.pem",
                pem("CERTIFICATE", &fixture.intermediate_der),
            ),
        ];
        for (name, contents) in files {
            std::fs::write(directory.path().join(name), contents)
                .with_context(|| format!("writing {name}"))?;
        }
        Ok(ClientFiles { directory })
    }

    /// The options s_time and s_client share: certificate, key, the chain's CA, nothing
    /// from the system's trust store.
    fn arguments(&self) -> Vec<std::ffi::OsString> {
        let path = |name: &str| self.directory.path().join(name).into_os_string();
        vec![
            "-cert".into(),
            path("client.pem"),
            "-key".into(),
            path("client.key"),
            "-CAfile".into(),
            path("issuing-ca.pem"),
            "-no-CApath".into(),
            "-no-CAstore".into(),
        ]
    }
}

/// One `openssl s_client` sign-in with s_time's files: the HTTP answer, head and body.
pub(crate) fn one_sign_in(openssl: &Path, files: &ClientFiles, addr: SocketAddr) -> Result<String> {
    let mut child = Command::new(openssl)
        .arg("s_client")
        .args(["-connect", &addr.to_string()])
        .args(files.arguments())
        // -quiet: only the answer on stdout; it implies -ign_eof, so the whole answer is read.
        .arg("-quiet")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running openssl s_client")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(format!("{REQUEST_LINE}\r\n\r\n").as_bytes())?;
    }
    let output = child.wait_with_output()?;
    let answer = String::from_utf8_lossy(&output.stdout).into_owned();
    if answer.is_empty() {
        bail!(
            "openssl s_client to {addr} got no answer: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(answer)
}

/// The status code of an HTTP answer's first line.
pub(crate) fn status(answer: &str) -> Option<u16> {
    answer
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// [`PROCESSES`] s_time processes for `seconds` against `addr`, with the server's CPU
/// (`accounting`) over the same time.
pub(crate) fn run(
    openssl: &Path,
    files: &ClientFiles,
    addr: SocketAddr,
    accounting: &Accounting,
    seconds: u64,
) -> Result<STimeRun> {
    let before = cpu::snapshot(accounting);
    let started = Instant::now();
    let children = (0..PROCESSES)
        .map(|_| {
            Command::new(openssl)
                .arg("s_time")
                .args(["-connect", &addr.to_string()])
                .args(files.arguments())
                .args(["-new", "-time", &seconds.to_string()])
                .args(["-www", "/certauth"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("running openssl s_time")
        })
        .collect::<Result<Vec<_>>>()?;
    let outputs = children
        .into_iter()
        .map(|child| {
            child
                .wait_with_output()
                .context("waiting for openssl s_time")
        })
        .collect::<Result<Vec<_>>>()?;
    let wall = started.elapsed().as_secs_f64();
    let after = cpu::snapshot(accounting);
    let mut connections = 0;
    let mut bytes_per_connection = Vec::new();
    for output in &outputs {
        let text = String::from_utf8_lossy(&output.stdout);
        // "1234 connections in 11 real seconds, 5678 bytes read per connection"
        let Some(line) = text.lines().find(|line| line.contains(" real seconds")) else {
            bail!(
                "openssl s_time against {addr} said no result: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        connections += words
            .first()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        if let Some(bytes) = words
            .iter()
            .position(|&word| word == "bytes")
            .and_then(|at| words.get(at.checked_sub(1)?)?.parse().ok())
        {
            bytes_per_connection.push(bytes);
        }
    }
    Ok(STimeRun {
        connections,
        seconds: wall,
        bytes_per_connection,
        server_cpu_seconds: cpu::Used::between(&before, &after).server,
        logged_successes: None,
    })
}

/// Successful HTTP/1.0 sign-ins (s_time's and s_client's) in nginx's access log: answered 200
/// with a verified certificate (`optional` would answer 200 to no certificate too).
pub(crate) fn nginx_successes(access_log: &Path) -> u64 {
    let log = std::fs::read_to_string(access_log).unwrap_or_default();
    let needle = format!("\"{REQUEST_LINE}\" 200 ");
    log.lines()
        .filter(|line| line.contains(&needle) && line.ends_with(" SUCCESS"))
        .count() as u64
}
