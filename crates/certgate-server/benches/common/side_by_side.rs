//! certgate and nginx side by side, as the certauth and front_door benchmarks run them: one
//! fixture and one server identity, each server a process of its own, the load generator's
//! runtime in this one; and what both report about a run besides their figures.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::certgate_process::{CertgateProcess, Listener, Revocation};
use super::format::{human_bytes, machine};
use super::load::{Client, Exchange};
use super::mtls_fixture::{self, Fixture, ENTRY_BYTES};
use super::nginx::{self, Nginx, Site};
use super::settings::Settings;

/// What both servers share, made before either starts.
pub(crate) struct Stage {
    load_average: Option<f64>,
    fixture: Fixture,
    nginx_binary: PathBuf,
    /// One server identity for both: ECDSA P-256, self-signed, for "localhost".
    server_der: Vec<u8>,
    server_pem: String,
    server_key_pem: String,
    revocation: Revocation,
}

impl Stage {
    /// Finds nginx, says what the run compares (`what`), then reads or makes the fixture and
    /// makes the server identity.
    pub(crate) fn prepare(settings: &Settings, what: &str) -> Result<Stage> {
        Stage::prepare_with(settings, what, settings.crl_bytes, Revocation::Crl)
    }

    /// [`Stage::prepare`] with an issuing CRL of about `crl_bytes` instead of the settings',
    /// loaded by both servers or not at all (`revocation`; the fixture's certificates are
    /// used either way).
    pub(crate) fn prepare_with(
        settings: &Settings,
        what: &str,
        crl_bytes: usize,
        revocation: Revocation,
    ) -> Result<Stage> {
        let entries = crl_bytes / ENTRY_BYTES;
        let Some(nginx_binary) = nginx::binary() else {
            bail!(
                "nginx is not installed: `apt-get install -y nginx-light` (or nginx), then run again"
            );
        };
        match revocation {
            Revocation::Crl => eprintln!(
                "{what}, {entries}-entry issuing CRL, {} load tasks",
                settings.concurrency
            ),
            Revocation::NoCrl => eprintln!(
                "{what}, no CRL (revocation not checked), {} load tasks",
                settings.concurrency
            ),
        }
        let load_average = super::proc::load_average();
        let fixture = mtls_fixture::load_or_generate(&super::cache_root(), entries)?;
        let server_key = rcgen::KeyPair::generate().context("the server key")?;
        let server_certificate = rcgen::CertificateParams::new(vec!["localhost".into()])?
            .self_signed(&server_key)
            .context("the server certificate")?;
        Ok(Stage {
            load_average,
            fixture,
            nginx_binary,
            server_der: server_certificate.der().to_vec(),
            server_pem: server_certificate.pem(),
            server_key_pem: server_key.serialize_pem(),
            revocation,
        })
    }

    /// Starts certgate with `listener` (`certgate_name` in what it says) and nginx with
    /// `site`, then the load generator's runtime and its two clients.
    pub(crate) fn start(
        self,
        listener: &Listener,
        certgate_name: &str,
        site: &Site,
    ) -> Result<Servers> {
        let certgate_dir = tempfile::tempdir().context("certgate's temp dir")?;
        std::fs::write(certgate_dir.path().join("server.pem"), &self.server_pem)?;
        std::fs::write(certgate_dir.path().join("server.key"), &self.server_key_pem)?;
        let nginx_dir = tempfile::tempdir().context("nginx's temp dir")?;

        let certgate = CertgateProcess::start(
            &self.fixture.directory,
            certgate_dir.path(),
            listener,
            self.revocation,
        )?;
        eprintln!(
            "  {certgate_name} listening on {} (pid {})",
            certgate.addr,
            certgate.pid()
        );
        let nginx = Nginx::start(
            &self.nginx_binary,
            nginx_dir.path(),
            &self.fixture,
            &self.server_pem,
            &self.server_key_pem,
            site,
            self.revocation,
        )?;
        eprintln!(
            "  nginx workers: {:?} (master {})",
            nginx.workers(),
            nginx.pid()
        );

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("load")
            .build()
            .context("starting the load generator's runtime")?;
        let (client, revoked_client) = self.fixture.clients(&self.server_der)?;
        Ok(Servers {
            load_average: self.load_average,
            revocation: self.revocation,
            fixture: self.fixture,
            certgate,
            nginx,
            runtime,
            client: Arc::new(client),
            revoked_client,
            scratch: [certgate_dir, nginx_dir],
        })
    }
}

/// Both servers running, and the load generator's runtime.
pub(crate) struct Servers {
    pub(crate) load_average: Option<f64>,
    pub(crate) revocation: Revocation,
    pub(crate) fixture: Fixture,
    pub(crate) certgate: CertgateProcess,
    pub(crate) nginx: Nginx,
    pub(crate) runtime: tokio::runtime::Runtime,
    /// The client with the valid certificate.
    pub(crate) client: Arc<Client>,
    /// The client whose certificate the issuing CRL lists.
    pub(crate) revoked_client: Client,
    /// certgate's and nginx's directories, kept to the end: nginx's error log is read last.
    scratch: [TempDir; 2],
}

impl Servers {
    /// Stops the load generator's runtime, then nginx, then certgate.
    pub(crate) fn stop(self) -> Result<Stopped> {
        let Servers {
            load_average,
            revocation,
            fixture,
            certgate,
            nginx,
            runtime,
            scratch,
            ..
        } = self;
        runtime.shutdown_timeout(Duration::from_secs(5));
        let nginx_version = nginx.version.clone();
        let nginx_log = nginx.directory.join("error.log");
        nginx.stop()?;
        let database = certgate.database.clone();
        certgate.stop()?;
        Ok(Stopped {
            load_average,
            revocation,
            fixture,
            nginx_version,
            nginx_log,
            database,
            _scratch: scratch,
        })
    }
}

/// Both servers stopped: what a run reports from them.
pub(crate) struct Stopped {
    load_average: Option<f64>,
    revocation: Revocation,
    fixture: Fixture,
    nginx_version: String,
    nginx_log: PathBuf,
    /// certgate's SQLite database, with its sign-in log.
    pub(crate) database: PathBuf,
    _scratch: [TempDir; 2],
}

impl Stopped {
    /// The run's facts besides its figures.
    pub(crate) fn facts(&self, settings: &Settings, rounds: usize) -> RunFacts {
        let loaded = self.revocation == Revocation::Crl;
        RunFacts {
            quick: settings.quick,
            concurrency: settings.concurrency,
            warm_up: settings.warm_up,
            per_target: settings.per_target,
            rounds,
            load_average: self.load_average,
            crl_entries: if loaded { self.fixture.entries } else { 0 },
            issuing_crl_bytes: if loaded {
                self.fixture.issuing_crl.len()
            } else {
                0
            },
            root_crl_bytes: if loaded {
                self.fixture.root_crl.len()
            } else {
                0
            },
            revocation: self.revocation,
            crl_window: self.fixture.crl_window,
            fixture_directory: self.fixture.directory.clone(),
            fixture_generated: self.fixture.generated_in,
            nginx_version: self.nginx_version.clone(),
        }
    }

    /// Fails the run when any of the `what` (sign-ins, requests) failed under load, with
    /// nginx's error log on stderr.
    pub(crate) fn fail_on_errors(&self, errors: u64, what: &str) -> Result<()> {
        if errors > 0 {
            let log = std::fs::read_to_string(&self.nginx_log).unwrap_or_default();
            if !log.trim().is_empty() {
                eprintln!("nginx's error log:\n{log}");
            }
            bail!("{errors} {what} failed under load");
        }
        Ok(())
    }
}

/// What both benchmarks report about a run besides their figures.
pub(crate) struct RunFacts {
    pub(crate) quick: bool,
    pub(crate) concurrency: usize,
    pub(crate) warm_up: Duration,
    pub(crate) per_target: Duration,
    pub(crate) rounds: usize,
    pub(crate) load_average: Option<f64>,
    /// Generated issuing CRL entries (0: no CRL loaded).
    pub(crate) crl_entries: usize,
    pub(crate) revocation: Revocation,
    pub(crate) issuing_crl_bytes: usize,
    pub(crate) root_crl_bytes: usize,
    pub(crate) crl_window: (i64, i64),
    pub(crate) fixture_directory: PathBuf,
    pub(crate) fixture_generated: Option<Duration>,
    pub(crate) nginx_version: String,
}

impl RunFacts {
    /// What a headline adds for a smoke run.
    pub(crate) fn quick_note(&self) -> &'static str {
        if self.quick {
            " (quick run)"
        } else {
            ""
        }
    }

    /// The lines under the headline: the PKI and CRLs, then TLS as `tls` negotiated it
    /// (`tls_note` after it), nginx's version and the load at the start.
    pub(crate) fn print_setting(&self, tls: &Exchange, tls_note: &str) {
        match self.revocation {
            Revocation::Crl => println!(
                "client chain: RSA-2048 leaf + issuing CA; server certificate: ECDSA P-256; issuing CRL {} entries ({}), root CRL {}",
                self.crl_entries + 1,
                human_bytes(self.issuing_crl_bytes as u64),
                human_bytes(self.root_crl_bytes as u64),
            ),
            Revocation::NoCrl => println!(
                "client chain: RSA-2048 leaf + issuing CA; server certificate: ECDSA P-256; no CRL (revocation not checked)"
            ),
        }
        println!(
            "TLS: {} {} {}{tls_note}; nginx: {}; load average at start: {}",
            tls.protocol,
            tls.cipher_suite,
            tls.key_exchange,
            self.nginx_version,
            self.load_average
                .map_or_else(|| "n/a".into(), |l| format!("{l:.2}"))
        );
    }

    /// The run's JSON: `benchmark`, the machine and the settings (each server's measuring time
    /// under `seconds_key`, then `settings`' own fields), the fixture, nginx's version, then
    /// the fields of `figures`.
    pub(crate) fn to_json(
        &self,
        benchmark: &str,
        seconds_key: &str,
        settings: Value,
        figures: Value,
    ) -> Value {
        let mut all_settings = json!({
            "concurrency": self.concurrency,
            "warm_up_s": self.warm_up.as_secs_f64(),
            "rounds": self.rounds,
            "client_chain": "RSA-2048 leaf + RSA-2048 issuing CA (certgate-testpki three-level)",
            "server_certificate": "ECDSA P-256, self-signed, localhost",
            "tls": "TLS 1.3, X25519, no resumption",
        });
        all_settings[seconds_key] = json!(self.per_target.as_secs_f64());
        merge(&mut all_settings, settings);
        let mut json = json!({
            "benchmark": benchmark,
            "quick": self.quick,
            "machine": machine(),
            "load_average": self.load_average,
            "settings": all_settings,
            "fixture": {
                "directory": self.fixture_directory,
                "generated_s": self.fixture_generated.map(|d| d.as_secs_f64()),
                "crl_loaded": self.revocation == Revocation::Crl,
                "issuing_crl_entries": if self.revocation == Revocation::Crl { self.crl_entries + 1 } else { 0 },
                "issuing_crl_bytes": self.issuing_crl_bytes,
                "root_crl_bytes": self.root_crl_bytes,
                "crl_this_update": self.crl_window.0,
                "crl_next_update": self.crl_window.1,
            },
            "nginx_version": self.nginx_version,
        });
        merge(&mut json, figures);
        json
    }
}

/// Adds the fields of the object `more` to the object `into`.
fn merge(into: &mut Value, more: Value) {
    if let (Some(fields), Value::Object(more)) = (into.as_object_mut(), more) {
        fields.extend(more);
    }
}
