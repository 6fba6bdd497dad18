//! Running the `certgate` binary against a data directory, a database (SQLite or a fresh
//! PostgreSQL database) and a port, for the CLI tests.
#![allow(dead_code, unreachable_pub)] // each test file uses a part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_certgate");
pub const PASSPHRASE: &str = "full-loop-test-passphrase";

/// A data directory, a database and a port for one run of the binary. The plain listener's
/// port is chosen before `serve` runs because `pki init` writes it into the CRL URLs of the
/// certificates; every other listener takes port 0 and the test reads the port `serve` printed.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    pub port: u16,
    postgres: Option<PostgresDatabase>,
}

impl Env {
    pub fn sqlite() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = format!("sqlite://{}", dir.path().join("certgate.db").display());
        Env {
            dir,
            database_url,
            port: free_port(),
            postgres: None,
        }
    }

    pub fn postgres() -> Env {
        let database = PostgresDatabase::create();
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
            database_url: database.url.clone(),
            port: free_port(),
            postgres: Some(database),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("CERTGATE_DATA_DIR", self.dir.path().join("data"))
            .env("CERTGATE_DATABASE_URL", &self.database_url)
            .env("CERTGATE_CA_KEY_PASSPHRASE", PASSPHRASE)
            .env("CERTGATE_LISTEN", format!("127.0.0.1:{}", self.port))
            .env_remove("CERTGATE_CONFIG")
            .env_remove("CERTGATE_PUBLIC_URL");
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().expect("run certgate");
        eprintln!(
            "$ certgate {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "certgate {args:?} failed");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str], expected_exit: i32) -> Value {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(expected_exit),
            "exit of {args:?}"
        );
        serde_json::from_slice(&output.stdout).expect("JSON output")
    }

    /// `certgate serve` in the background, once /healthz answers.
    pub fn serve(&self) -> Server {
        self.serve_with(&[])
    }

    /// `certgate serve` with more environment (listeners, ...), once it has printed the
    /// addresses it bound and /healthz answers.
    pub fn serve_with(&self, environment: &[(&str, String)]) -> Server {
        self.serve_logging(environment, None)
    }

    /// [`Env::serve_with`], the server's log (stderr) going to `log` when given.
    pub fn serve_logging(
        &self,
        environment: &[(&str, String)],
        log: Option<&std::path::Path>,
    ) -> Server {
        let mut command = self.command(&["serve"]);
        for (name, value) in environment {
            command.env(name, value);
        }
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::inherit(),
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn certgate serve");
        // `serve` prints `listening: http=ADDR certauth=ADDR ...` once every listener is bound
        // (port 0 becomes the port the system chose). The rest of its output is drained, so
        // that a full pipe never blocks it.
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(bound) = line.strip_prefix("listening: ") {
                    let _ = tx.send(bound.to_owned());
                }
            }
        });
        let mut server = Server {
            child,
            listening: Vec::new(),
        };
        let bound = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("certgate serve printed the addresses it listens on");
        server.listening = bound
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, addr)| (name.to_owned(), addr.parse().expect("socket address")))
            .collect();
        let http = server.port("http");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(http, "/healthz").map(|(status, _)| status) != Some(200) {
            assert!(Instant::now() < deadline, "certgate serve did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// certgate's CA (`pki init --trust`, organization Contoso) and a TLS certificate for
    /// localhost in `<dir>/tls`, the one [`Env::certauth_listener`] serves.
    pub fn pki_with_localhost_tls(&self) {
        self.ok(&["pki", "init", "--organization", "Contoso", "--trust"]);
        let tls = self.path("tls");
        self.ok(&[
            "pki",
            "issue-server",
            "--dns",
            "localhost",
            "--out",
            tls.to_str().expect("utf-8"),
        ]);
    }

    /// The environment for the certificate sign-in listener on a port the system chooses
    /// ([`Server::port`]`("certauth")` once it runs), with the TLS certificate
    /// `pki issue-server --out <dir>/tls` wrote.
    pub fn certauth_listener(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CERTGATE_CERTAUTH_LISTEN", "127.0.0.1:0".to_owned()),
            (
                "CERTGATE_TLS_CERTIFICATE",
                self.path("tls/localhost.pem").display().to_string(),
            ),
            (
                "CERTGATE_TLS_KEY",
                self.path("tls/localhost.key").display().to_string(),
            ),
        ]
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(database) = self.postgres.take() {
            database.drop_database();
        }
    }
}

pub struct Server {
    pub child: Child,
    /// What `serve` said it listens on: `http`, `certauth`, `web`, `front_door`.
    listening: Vec<(String, std::net::SocketAddr)>,
}

impl Server {
    /// A `serve` process started by the test itself (its listeners not read); killed on drop.
    pub fn from_child(child: Child) -> Server {
        Server {
            child,
            listening: Vec::new(),
        }
    }

    /// The port of listener `name` (`http`, `certauth`, `web`, `front_door`).
    pub fn port(&self, name: &str) -> u16 {
        self.listening
            .iter()
            .find(|(listener, _)| listener == name)
            .map(|(_, addr)| addr.port())
            .unwrap_or_else(|| {
                panic!(
                    "certgate serve has no {name} listener: {:?}",
                    self.listening
                )
            })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A minimal HTTP/1.1 GET: status and body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let header_end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status_line = response.split(|b| *b == b'\n').next()?;
    let status = std::str::from_utf8(status_line)
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, response[header_end + 4..].to_vec()))
}

/// A database of its own on the local PostgreSQL, dropped at the end.
struct PostgresDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    fn create() -> PostgresDatabase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin_url = std::env::var("CERTGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!(
            "certgate_loop_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base.to_owned())
            .expect("postgres URL with a database");
        PostgresDatabase {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        }
    }

    fn drop_database(&self) {
        psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) {
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap_or_else(|e| {
            panic!("PostgreSQL tests need psql and a PostgreSQL server at {url}: {e}")
        });
    assert!(
        output.status.success(),
        "PostgreSQL at {url} is required for this test (start it, or set CERTGATE_TEST_POSTGRES_URL): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
