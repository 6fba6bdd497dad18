//! PostgreSQL becomes unreachable under a running `certgate serve`: every listener answers 503
//! `store-unavailable` within the store timeout (`[limits] store_timeout_seconds`, 1 s here),
//! as JSON to `Accept: application/json` and as a page otherwise, counts it in `/metrics`, and
//! writes the refusal with its correlation ID to the server log; when the database is back,
//! sign-ins work again without a restart.
//!
//! The database sits behind a TCP relay this test controls. "Down" shuts the connections the
//! pool holds and leaves new ones unanswered (a host that has gone away), the case that used to
//! stack pool timeouts into 10–30 s answers.
//!
//! PostgreSQL must be running at 127.0.0.1:5432 (user postgres, trust auth; override with
//! CERTGATE_TEST_POSTGRES_URL); the test fails, saying so, when it is not.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{http_get, Env};

/// A TCP relay to PostgreSQL that can go down (existing connections shut, new ones held open
/// and never answered) and come back.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(target: (String, u16)) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("relay");
        let port = listener.local_addr().expect("address").port();
        let up = Arc::new(AtomicBool::new(true));
        let live = Arc::new(Mutex::new(Vec::new()));
        let (accept_up, accept_live) = (Arc::clone(&up), Arc::clone(&live));
        thread::spawn(move || {
            let mut held = Vec::new();
            for client in listener.incoming().flatten() {
                if !accept_up.load(Ordering::SeqCst) {
                    // A host that has gone away: the connection is never answered.
                    held.push(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect((target.0.as_str(), target.1)) else {
                    continue;
                };
                for stream in [&client, &server] {
                    if let Ok(clone) = stream.try_clone() {
                        accept_live.lock().expect("lock").push(clone);
                    }
                }
                let (client_reader, server_reader) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                thread::spawn(move || pump(client_reader, server));
                thread::spawn(move || pump(server_reader, client));
            }
        });
        Relay { port, up, live }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for stream in self.live.lock().expect("lock").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn back(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

/// curl's answer: status, body and how long it took.
struct Answer {
    status: u16,
    body: String,
    took: Duration,
}

fn curl(args: &[&str]) -> Answer {
    let started = Instant::now();
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "60"])
        .args(["--write-out", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (scripts/setup.sh installs it)");
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    Answer {
        status: status.trim().parse().expect("status"),
        body: body.to_owned(),
        took,
    }
}

/// What the database outage must look like on any route: 503 `store-unavailable` soon, in the
/// form asked for. Returns the correlation ID of a JSON answer.
fn assert_store_unavailable(what: &str, answer: &Answer, json: bool) -> Option<String> {
    assert_eq!(answer.status, 503, "{what}: {}", answer.body);
    // The store timeout is 1 s; the old behaviour was 10–30 s. Generous for a loaded machine.
    assert!(
        answer.took < Duration::from_secs(8),
        "{what} took {:?}",
        answer.took
    );
    if json {
        let body: serde_json::Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("{what}: {e}: {}", answer.body));
        let code = body["code"]
            .as_str()
            .or_else(|| body["error"]["code"].as_str());
        assert_eq!(code, Some("store-unavailable"), "{what}: {body}");
        body["correlationId"].as_str().map(str::to_owned)
    } else {
        assert!(
            answer.body.starts_with("<!doctype html>"),
            "{what}: {}",
            answer.body
        );
        assert!(
            answer.body.contains("<code>store-unavailable</code>"),
            "{what}: {}",
            answer.body
        );
        None
    }
}

fn store_unavailable_count(port: u16) -> u64 {
    let (status, body) = http_get(port, "/metrics").expect("metrics");
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body).into_owned();
    text.lines()
        .find(|line| line.starts_with("certgate_refusals_total{code=\"store-unavailable\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_database_outage_is_answered_store_unavailable_on_every_listener_and_passes() {
    let mut env = Env::postgres();
    let (host, port) = {
        let rest = env
            .database_url
            .trim_start_matches("postgres://")
            .split_once('@')
            .map(|(_, rest)| rest.to_owned())
            .expect("user@host in the PostgreSQL URL");
        let (address, _) = rest.split_once('/').expect("database in the URL");
        let (host, port) = address.rsplit_once(':').unwrap_or((address, "5432"));
        (host.to_owned(), port.parse::<u16>().expect("port"))
    };
    let relay = Relay::start((host.clone(), port));
    env.database_url = env.database_url.replacen(
        &format!("{host}:{port}"),
        &format!("127.0.0.1:{}", relay.port),
        1,
    );

    env.pki_with_localhost_tls();
    env.ok(&["user", "add", "alice@contoso.example"]);
    let users = env.path("users");
    let users_arg = users.to_str().expect("utf-8");
    env.ok(&[
        "pki",
        "issue",
        "--upn",
        "alice@contoso.example",
        "--email",
        "alice@contoso.example",
        "--out",
        users_arg,
        "--p12-password",
        "alice-p12",
    ]);
    let token = env
        .ok(&["admin", "token", "create", "--name", "outage-test"])
        .trim()
        .to_owned();
    let mut environment = env.certauth_listener();
    environment.extend([
        ("CERTGATE_WEB_LISTEN", "127.0.0.1:0".to_owned()),
        // The issuer of OpenID Connect tokens; no token is issued here.
        ("CERTGATE_WEB_PUBLIC_URL", "https://localhost".to_owned()),
        ("CERTGATE_FRONT_DOOR_LISTEN", "127.0.0.1:0".to_owned()),
        // Nothing listens there: no request reaches it during the outage.
        (
            "CERTGATE_FRONT_DOOR_UPSTREAM",
            "http://127.0.0.1:9".to_owned(),
        ),
        ("CERTGATE_LIMITS_STORE_TIMEOUT_SECONDS", "1".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ]);
    let log_path = env.path("serve.log");
    let server = env.serve_logging(&environment, Some(&log_path));
    let (certauth_port, web_port, front_door_port) = (
        server.port("certauth"),
        server.port("web"),
        server.port("front_door"),
    );
    env.ok(&["crl", "refresh"]);

    let root = env.path("data/pki/root.pem");
    let root = root.to_str().expect("utf-8").to_owned();
    let cert = users.join("alice@contoso.example.pem");
    let key = users.join("alice@contoso.example.key");
    let sign_in = |accept: &str| {
        curl(&[
            "--cacert",
            &root,
            "--cert",
            cert.to_str().expect("utf-8"),
            "--key",
            key.to_str().expect("utf-8"),
            "-H",
            &format!("Accept: {accept}"),
            &format!("https://localhost:{certauth_port}/certauth"),
        ])
    };
    // Until the job tick has loaded the refreshed CRLs the answer is crl-unavailable.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = sign_in("application/json");
        if answer.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no sign-in before the outage: {}",
            answer.body
        );
        thread::sleep(Duration::from_millis(200));
    }
    let before = store_unavailable_count(env.port);

    relay.down();

    let json = sign_in("application/json");
    let correlation = assert_store_unavailable("certauth JSON", &json, true)
        .expect("the sign-in's correlation ID");
    let page = sign_in("text/html,application/xhtml+xml,*/*;q=0.8");
    assert_store_unavailable("certauth page", &page, false);

    let admin = curl(&[
        "--cacert",
        &root,
        "-H",
        &format!("Authorization: Bearer {token}"),
        &format!("https://localhost:{certauth_port}/api/v1/users"),
    ]);
    assert_store_unavailable("admin API", &admin, true);

    for accept in ["application/json", "text/html"] {
        let web = curl(&[
            "--cacert",
            &root,
            "-H",
            &format!("Accept: {accept}"),
            &format!("https://localhost:{web_port}/signin/continue?flow=unknown-flow"),
        ]);
        assert_store_unavailable("web listener", &web, accept == "application/json");
    }

    let front_door = curl(&[
        "--cacert",
        &root,
        "--cert",
        cert.to_str().expect("utf-8"),
        "--key",
        key.to_str().expect("utf-8"),
        "-H",
        "Accept: application/json",
        &format!("https://localhost:{front_door_port}/Microsoft-Server-ActiveSync?Cmd=Sync"),
    ]);
    assert_store_unavailable("front door", &front_door, true);

    let crl = curl(&[&format!("http://127.0.0.1:{}/pki/issuing.crl", env.port)]);
    assert_store_unavailable("plain listener", &crl, false);

    let counted = store_unavailable_count(env.port) - before;
    assert!(counted >= 7, "store-unavailable counted {counted} times");

    // The refusal is in the server log under the correlation ID the client was given.
    let log = std::fs::read_to_string(&log_path).expect("server log");
    assert!(
        log.lines()
            .any(|line| line.contains(&correlation) && line.contains("store-unavailable")),
        "{correlation} not in the server log:\n{log}"
    );

    // Back: sign-ins work again, without a restart.
    relay.back();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = sign_in("application/json");
        if answer.status == 200 {
            assert!(
                answer.body.contains("\"result\":\"success\""),
                "{}",
                answer.body
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sign-ins did not come back with the database: {}",
            answer.body
        );
        thread::sleep(Duration::from_millis(200));
    }
}
