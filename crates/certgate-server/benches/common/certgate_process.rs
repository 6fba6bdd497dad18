//! certgate as a process of its own, like nginx: the benchmark binary starts itself again with
//! `CERTGATE_BENCH_SERVER` set, and that child does what `certgate serve` does with one HTTPS
//! listener that asks for client certificates — the certificate sign-in listener (certauth
//! benchmark) or the mail front door (front_door benchmark) — on a SQLite store,
//! `certgate_server::app::start` on a default multi-threaded runtime and the system clock. The
//! CPU the server uses is then that process's, read from /proc exactly as nginx's is, and the
//! load generator's work stays out of it.
//!
//! The child trusts the root and the issuing CA (only the root is named as an issuer hint, as
//! nginx names the root from `ssl_client_certificate`), puts both CRLs into the CRL cache as a
//! refresh would, adds the users the client certificates map to, starts, prints `listening
//! <address>` and serves until its stdin closes. `certgate serve` logs at `warn` by default, so
//! the per-sign-in `info` line costs nothing there; the child installs no subscriber, which is
//! the same.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use super::trust::TestCas;
use anyhow::{anyhow, bail, Context, Result};
use certgate_core::clock::{Clock, SystemClock};
use certgate_core::crl_cache::{CachedCrl, CrlCacheStore, CrlFetchStatus, CrlKind};
use certgate_core::directory::{add_user, UserDraft};
use certgate_core::front_door::VirtualDirectory;
use certgate_core::signin::{SignInLog, SignInQuery, SignInResult};
use certgate_core::trusted_ca::add_cas;
use certgate_pki::{Certificate, Crl, UnixTime};
use certgate_server::app::{start, CertAuthConfig, FrontDoorConfig, ServerConfig};
use certgate_server::certauth::ServerIdentity;
use certgate_server::crl_refresh::CrlSettings;
use certgate_store::SqlStore;

/// Set in the child's environment: the scratch directory (store, server certificate, key).
const SERVER_ENV: &str = "CERTGATE_BENCH_SERVER";
/// Set in the child's environment: the fixture directory (certificates and CRLs).
const FIXTURE_ENV: &str = "CERTGATE_BENCH_FIXTURE";
/// Set in the child's environment for the front door: the upstream's URL.
const FRONT_DOOR_UPSTREAM_ENV: &str = "CERTGATE_BENCH_FRONT_DOOR_UPSTREAM";
/// Set in the child when the CAs are trusted without CRLs ([`Revocation::NoCrl`]).
const NO_CRL_ENV: &str = "CERTGATE_BENCH_NO_CRL";

/// Whether the servers check revocation against the fixture's CRLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Revocation {
    /// Both CRLs loaded: certgate from its CRL cache, nginx with `ssl_crl`.
    Crl,
    /// No CRL at all: the CAs are exempt from CRL validation in certgate, nginx has no
    /// `ssl_crl` (the revoked client is accepted by both).
    NoCrl,
}

/// The ActiveSync virtual directory the front door serves in the benchmark.
pub(crate) const ACTIVESYNC: &str = "/Microsoft-Server-ActiveSync";

/// Which listener the child runs.
#[derive(Clone, Debug)]
pub(crate) enum Listener {
    /// The certificate sign-in listener (`/certauth`).
    CertAuth,
    /// The mail front door with [`ACTIVESYNC`] (Require, mapping on, the default identity
    /// headers) proxied to `upstream` (`http://host:port`).
    FrontDoor { upstream: String },
}

/// The running child.
pub(crate) struct CertgateProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    pub(crate) addr: SocketAddr,
    /// The SQLite database the sign-ins are recorded in.
    pub(crate) database: PathBuf,
}

impl CertgateProcess {
    /// Starts the child and waits until it listens. `scratch` holds `server.pem` and
    /// `server.key`.
    pub(crate) fn start(
        fixture: &Path,
        scratch: &Path,
        listener: &Listener,
        revocation: Revocation,
    ) -> Result<CertgateProcess> {
        let exe = std::env::current_exe().context("locating the benchmark binary")?;
        let mut command = Command::new(exe);
        command.env(SERVER_ENV, scratch).env(FIXTURE_ENV, fixture);
        match revocation {
            Revocation::Crl => command.env_remove(NO_CRL_ENV),
            Revocation::NoCrl => command.env(NO_CRL_ENV, "1"),
        };
        match listener {
            Listener::CertAuth => command.env_remove(FRONT_DOOR_UPSTREAM_ENV),
            Listener::FrontDoor { upstream } => command.env(FRONT_DOOR_UPSTREAM_ENV, upstream),
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the certgate server process")?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout from the certgate server process"))?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading the certgate server's address")?;
        let Some(addr) = line.trim().strip_prefix("listening ") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the certgate server process did not start (said {line:?})");
        };
        let addr = addr.parse().context("the certgate server's address")?;
        Ok(CertgateProcess {
            child,
            stdin,
            addr,
            database: scratch.join("certgate.db"),
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the child's stdin (its signal to stop) and waits for it.
    pub(crate) fn stop(mut self) -> Result<()> {
        drop(self.stdin.take());
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("the certgate server process exited with {status}");
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!("the certgate server process did not stop within 10 s")
    }
}

impl Drop for CertgateProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// In the child: serves and returns `Some` once done; in the benchmark itself: `None`.
pub(crate) fn serve_if_child() -> Option<Result<()>> {
    let scratch = PathBuf::from(std::env::var_os(SERVER_ENV)?);
    let fixture = std::env::var_os(FIXTURE_ENV).map(PathBuf::from);
    let listener = match std::env::var(FRONT_DOOR_UPSTREAM_ENV) {
        Ok(upstream) => Listener::FrontDoor { upstream },
        Err(_) => Listener::CertAuth,
    };
    let revocation = if std::env::var_os(NO_CRL_ENV).is_some() {
        Revocation::NoCrl
    } else {
        Revocation::Crl
    };
    Some((|| {
        let fixture = fixture.ok_or_else(|| anyhow!("{FIXTURE_ENV} is not set"))?;
        // As `certgate serve` builds its runtime.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?;
        runtime.block_on(serve(&fixture, &scratch, listener, revocation))
    })())
}

async fn serve(
    fixture: &Path,
    scratch: &Path,
    listener: Listener,
    revocation: Revocation,
) -> Result<()> {
    let file = |dir: &Path, name: &str| {
        std::fs::read(dir.join(name)).with_context(|| format!("reading {name}"))
    };
    let root = file(fixture, "root.der")?;
    let intermediate = file(fixture, "intermediate.der")?;
    let crls = [
        (root.clone(), file(fixture, "root.crl")?),
        (intermediate.clone(), file(fixture, "issuing.crl")?),
    ];
    let identity =
        ServerIdentity::from_pem(&file(scratch, "server.pem")?, &file(scratch, "server.key")?)
            .map_err(anyhow::Error::msg)?;
    let url = format!("sqlite://{}", scratch.join("certgate.db").display());
    let store = Arc::new(SqlStore::connect(&url).await.context("opening the store")?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let records = add_cas(
        &*store,
        vec![root, intermediate],
        |certificate: &Certificate| {
            TestCas {
                crl_urls: (None, None),
                exempt: revocation == Revocation::NoCrl,
                hint_issuing: false,
            }
            .settings(certificate)
        },
        now,
        "bench",
    )
    .await
    .context("trusting the test CAs")?;
    let crls = match revocation {
        Revocation::Crl => crls.to_vec(),
        Revocation::NoCrl => Vec::new(),
    };
    for (ca_der, der) in crls {
        let ca = records
            .iter()
            .find(|record| record.certificate_der == ca_der)
            .ok_or_else(|| anyhow!("a CA was not stored"))?;
        let crl = Crl::from_der(der.clone()).map_err(|e| anyhow!("CRL: {e}"))?;
        let cached = CachedCrl {
            ca_id: ca.id,
            kind: CrlKind::Base,
            url: "http://crl.invalid/".into(),
            crl_number: crl.crl_number().unwrap_or_default().to_vec(),
            this_update: crl.this_update(),
            next_update: crl
                .next_update()
                .ok_or_else(|| anyhow!("the CRL has no nextUpdate"))?,
            entry_count: crl.entry_count() as i64,
            der,
            etag: None,
            last_modified: None,
            fetched_at: now,
        };
        let status = CrlFetchStatus {
            ca_id: ca.id,
            kind: CrlKind::Base,
            last_attempt_at: now,
            last_success_at: Some(now),
            last_error: None,
            consecutive_failures: 0,
            next_attempt_at: UnixTime(now.0 + 86_400),
        };
        store
            .put_cached_crl(&cached.to_cache(), &status)
            .await
            .context("caching a CRL")?;
    }
    // The users the two client certificates map to (PrincipalName -> userPrincipalName, the
    // first default binding rule), so that a sign-in goes through the directory too.
    for upn in ["alice@corp.example", "mallory@corp.example"] {
        add_user(&*store, UserDraft::new(upn), now, "bench")
            .await
            .with_context(|| format!("adding the user {upn}"))?;
    }
    let any_port: std::net::SocketAddr = "127.0.0.1:0".parse()?;
    let (certauth, front_door) = match listener {
        Listener::CertAuth => (
            Some(CertAuthConfig {
                listen: any_port,
                identity,
            }),
            None,
        ),
        Listener::FrontDoor { upstream } => (
            None,
            Some(FrontDoorConfig {
                listen: any_port,
                identity,
                virtual_directories: vec![VirtualDirectory::new(ACTIVESYNC, &upstream)],
                public_host: None,
                allowed_hosts: Vec::new(),
            }),
        ),
    };
    let server = start(
        Arc::clone(&store),
        clock,
        ServerConfig {
            listen: any_port,
            crl: CrlSettings::default(),
            pki: None,
            // As `certgate serve`.
            tick: Duration::from_secs(2),
            certauth,
            web: None,
            front_door,
        },
    )
    .await
    .context("starting the server")?;
    let addr = server
        .certauth_addr
        .or(server.front_door_addr)
        .ok_or_else(|| anyhow!("no listener asking for client certificates"))?;
    println!("listening {addr}");
    // The parent closes our stdin to stop us.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .context("waiting for stdin to close")?;
    server.stop().await;
    store.close().await;
    Ok(())
}

/// Successful sign-ins in the sign-in log of the store at `database` (read after the server
/// stopped): certificate sign-ins at `/certauth`, certificate validations at the front door.
pub(crate) fn recorded_successes(database: &Path) -> Result<usize> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = SqlStore::connect(&format!("sqlite://{}", database.display()))
            .await
            .context("reopening certgate's store")?;
        let successes = store
            .signins(&SignInQuery {
                result: Some(SignInResult::Success),
                limit: i64::MAX,
                ..SignInQuery::default()
            })
            .await
            .context("reading the sign-in log")?
            .len();
        store.close().await;
        Ok(successes)
    })
}
