//! nginx (Debian's package) as the reference: a child process with a generated configuration
//! in a temp dir, the same server certificate and key as certgate, client certificates
//! requested (`ssl_verify_client optional`) and checked by OpenSSL against the same root and
//! issuing CA and the same two CRLs. What it serves is the benchmark's [`Site`]; a certificate
//! that fails verification gets 403 and `$ssl_client_verify $ssl_client_serial`, as certgate
//! answers with 403 and the reason.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::certgate_process::Revocation;
use super::mtls_fixture::Fixture;

/// nginx's start-up reads and indexes the 20 MB CRL; allow it plenty of time.
const START_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) struct Nginx {
    child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) version: String,
    pub(crate) directory: PathBuf,
}

/// The nginx binary: `$PATH`, then Debian's location.
pub(crate) fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let debian = PathBuf::from("/usr/sbin/nginx");
        debian.is_file().then_some(debian)
    })
}

/// A port that was free a moment ago (nginx binds it itself).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// What nginx serves, added to the common configuration.
pub(crate) struct Site {
    /// Inside `http { }`, before the server (an `upstream` block).
    pub(crate) http: String,
    /// Inside `server { }`: locations and per-server settings.
    pub(crate) server: String,
}

fn config(directory: &Path, port: u16, site: &Site, revocation: Revocation) -> String {
    let d = directory.display();
    let crl = match revocation {
        // Root CRL and the large issuing CRL: with ssl_crl OpenSSL checks the whole chain.
        Revocation::Crl => format!("ssl_crl {d}/crls.pem;"),
        Revocation::NoCrl => "# no ssl_crl: revocation is not checked".to_owned(),
    };
    let (http, server) = (&site.http, &site.server);
    format!(
        r#"daemon off;
master_process on;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{http}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;

        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.key;
        # Trusted and named in the CertificateRequest: the root, as certgate names it.
        ssl_client_certificate {d}/root.pem;
        # Trusted too, not named: the issuing CA, which certgate also trusts.
        ssl_trusted_certificate {d}/issuing-ca.pem;
        ssl_verify_depth 2;
        ssl_verify_client optional;
        {crl}
        # certgate does no resumption either: every connection is a full handshake.
        ssl_session_cache off;
        ssl_session_tickets off;

{server}
        # With `optional`, a certificate that fails verification gets nginx's 400 page (code
        # 495 inside); answer it like certgate does, with 403 and the reason.
        error_page 495 = @certificate_refused;
        location @certificate_refused {{
            default_type text/plain;
            return 403 "$ssl_client_verify $ssl_client_serial\n";
        }}
    }}
}}
"#
    )
}

impl Nginx {
    /// Writes the configuration and PEM files into `directory` and starts nginx.
    pub(crate) fn start(
        binary: &Path,
        directory: &Path,
        fixture: &Fixture,
        server_pem: &str,
        server_key_pem: &str,
        site: &Site,
        revocation: Revocation,
    ) -> Result<Nginx> {
        // "nginx version: nginx/1.22.1" and "built with OpenSSL ... (running with ...)".
        let version = Command::new(binary)
            .arg("-V")
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .take(2)
                    .map(|line| line.trim_start_matches("nginx version: ").to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        let mut crls = pem("X509 CRL", &fixture.root_crl);
        crls.push_str(&pem("X509 CRL", &fixture.issuing_crl));
        let files = [
            ("server.pem", server_pem.to_owned()),
            ("server.key", server_key_pem.to_owned()),
            ("root.pem", pem("CERTIFICATE", &fixture.root_der)),
            (
                "issuing-ca.pem",
                pem("CERTIFICATE", &fixture.intermediate_der),
            ),
            ("crls.pem", crls),
        ];
        for (name, contents) in files {
            std::fs::write(directory.join(name), contents)
                .with_context(|| format!("writing {name}"))?;
        }
        let port = free_port()?;
        let conf = directory.join("nginx.conf");
        std::fs::write(&conf, config(directory, port, site, revocation))?;
        let mut prefix = directory.as_os_str().to_owned();
        prefix.push("/");
        let mut child = Command::new(binary)
            .arg("-p")
            .arg(&prefix)
            .arg("-e")
            .arg(directory.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(directory.join("error.log")).unwrap_or_default();
                bail!("nginx exited with {status} at start-up:\n{log}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("nginx did not listen on {addr} within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "  nginx listening on {addr} after {:.2} s (config in {})",
            started.elapsed().as_secs_f64(),
            directory.display()
        );
        Ok(Nginx {
            child,
            addr,
            version,
            directory: directory.to_owned(),
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The worker processes (children of the master).
    pub(crate) fn workers(&self) -> Vec<u32> {
        super::cpu::children_of(&[self.pid()])
    }

    /// Fast shutdown (SIGTERM to the master, which stops its workers), then waits.
    pub(crate) fn stop(mut self) -> Result<()> {
        self.terminate()
    }

    fn terminate(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(anyhow!("nginx did not stop within 10 s of SIGTERM"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}

/// PEM (RFC 7468): base64 of `der` in 64-character lines between the labels.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let bytes = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                encoded.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                encoded.push(b'=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
