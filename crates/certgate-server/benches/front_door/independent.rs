//! The keep-alive scenario again with a load client this project did not write: ApacheBench
//! (`ab`, Debian's apache2-utils), the one Debian load client found that sends a client
//! certificate (`-E`) over keep-alive connections (`-k`). h2load (nghttp2-client) has no
//! client-certificate option and wrk has none either. ab speaks HTTP/1.0 with
//! `Connection: Keep-Alive`, one thread, and OpenSSL for TLS; it runs only when `ab` is on
//! `PATH`, after the benchmark's own client, with the same request.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::common::cpu;
use crate::common::mtls_fixture::Fixture;
use crate::common::nginx::pem;
use crate::load::{Target, LOAD_PATH, REQUEST_BODY_BYTES};

/// What ab measured against one proxy.
pub(crate) struct AbRun {
    pub(crate) requests: u64,
    pub(crate) failed: u64,
    pub(crate) non_2xx: u64,
    pub(crate) seconds: f64,
    pub(crate) server_cpu_seconds: f64,
}

impl AbRun {
    pub(crate) fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }

    pub(crate) fn server_cpu_us(&self) -> f64 {
        self.server_cpu_seconds * 1e6 / (self.requests.max(1) as f64)
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "requests": self.requests,
            "failed": self.failed,
            "non_2xx": self.non_2xx,
            "seconds": self.seconds,
            "per_second": self.rate(),
            "server_cpu_seconds": self.server_cpu_seconds,
            "server_cpu_us_per_request": self.server_cpu_us(),
        })
    }
}

/// ab on `PATH`, if installed.
pub(crate) fn ab() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("ab"))
            .find(|candidate| candidate.is_file())
    })
}

/// The files ab needs: the client's chain and key in one PEM (`-E`), and the request body.
pub(crate) struct AbFiles {
    directory: tempfile::TempDir,
}

impl AbFiles {
    pub(crate) fn new(fixture: &Fixture) -> Result<AbFiles> {
        let directory = tempfile::tempdir().context("ab's temp dir")?;
        let mut client = pem("CERTIFICATE", &fixture.leaf.der);
        client.push_str(&pem("CERTIFICATE", &fixture.intermediate_der));
        client.push_str(&pem("PRIVATE KEY", &fixture.leaf.key_pkcs8));
        std::fs::write(directory.path().join("client.pem"), client)?;
        std::fs::write(
            directory.path().join("body"),
            vec![b'w'; REQUEST_BODY_BYTES],
        )?;
        Ok(AbFiles { directory })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }
}

/// ab with `concurrency` keep-alive connections for `seconds` against `target`, with the
/// server's CPU over the same time.
pub(crate) fn run(
    ab: &Path,
    files: &AbFiles,
    target: &Target,
    concurrency: usize,
    seconds: u64,
) -> Result<AbRun> {
    // The address, not `localhost`: ab may resolve that to ::1, where nothing listens.
    let url = format!("https://{}{LOAD_PATH}", target.addr);
    let before = cpu::snapshot(&target.accounting);
    let started = Instant::now();
    // `-t` alone would stop at 50,000 requests: `-n` after it lifts that.
    let output = Command::new(ab)
        .args(["-q", "-k", "-r"])
        .args(["-c", &concurrency.to_string()])
        .args(["-t", &seconds.to_string(), "-n", "100000000"])
        .arg("-E")
        .arg(files.path("client.pem"))
        .arg("-p")
        .arg(files.path("body"))
        .args(["-T", "application/vnd.ms-sync.wbxml"])
        .arg(&url)
        .output()
        .context("running ab")?;
    let wall = started.elapsed().as_secs_f64();
    let after = cpu::snapshot(&target.accounting);
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
    };
    let Some(requests) = field("Complete requests:") else {
        bail!(
            "ab against {} said no result: {}{}",
            target.name,
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    Ok(AbRun {
        requests: requests as u64,
        failed: field("Failed requests:").unwrap_or(0.0) as u64,
        non_2xx: field("Non-2xx responses:").unwrap_or(0.0) as u64,
        seconds: field("Time taken for tests:").unwrap_or(wall),
        server_cpu_seconds: cpu::Used::between(&before, &after).server,
    })
}
