//! `certgate serve` with the mail front door configured from the environment
//! (`CERTGATE_FRONT_DOOR_LISTEN`, `CERTGATE_FRONT_DOOR_UPSTREAM`), driven by curl with a client
//! certificate that `certgate pki issue` wrote: the Exchange presets are published, a request
//! with the certificate reaches the upstream (a plain HTTP server in this test) with the
//! user's identity, one without it is refused with 403 and its reason code.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Env;

/// A one-thread HTTP/1.1 server that answers 200 and keeps the request heads it received.
fn upstream() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("upstream");
    let port = listener.local_addr().expect("address").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            record.lock().expect("lock").push(head);
            let mut stream = stream;
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nupstream",
            );
        }
    });
    (port, seen)
}

fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--write-out", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (scripts/setup.sh installs it)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (status.trim().parse().expect("status"), body.to_owned())
}

#[test]
fn certgate_serve_publishes_the_exchange_presets_behind_certificates() {
    let env = Env::sqlite();
    env.pki_with_localhost_tls();
    env.ok(&[
        "user",
        "add",
        "alice@contoso.example",
        "--mail",
        "alice.smith@contoso.example",
    ]);
    let users = env.path("users");
    env.ok(&[
        "pki",
        "issue",
        "--upn",
        "alice@contoso.example",
        "--email",
        "alice@contoso.example",
        "--out",
        users.to_str().expect("utf-8"),
        "--p12-password",
        "alice-p12",
    ]);
    let (upstream_port, seen) = upstream();
    let mut environment = env.certauth_listener();
    environment.push(("CERTGATE_FRONT_DOOR_LISTEN", "127.0.0.1:0".to_owned()));
    environment.push((
        "CERTGATE_FRONT_DOOR_UPSTREAM",
        format!("http://127.0.0.1:{upstream_port}"),
    ));
    let server = env.serve_with(&environment);
    let front_door_port = server.port("front_door");
    // The CRLs certgate publishes, in the cache (fail closed without them).
    env.ok(&["crl", "refresh"]);

    let root = env.path("data/pki/root.pem");
    let url = |path: &str| format!("https://localhost:{front_door_port}{path}");
    let with_certificate = || {
        curl(&[
            "--cacert",
            root.to_str().expect("utf-8"),
            "--cert",
            users
                .join("alice@contoso.example.pem")
                .to_str()
                .expect("utf-8"),
            "--key",
            users
                .join("alice@contoso.example.key")
                .to_str()
                .expect("utf-8"),
            "-H",
            "X-Certgate-UPN: ceo@contoso.example",
            "-H",
            "Accept: application/json",
            &url("/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice"),
        ])
    };
    // Until the server's job tick has loaded the refreshed CRLs, the answer is crl-unavailable
    // (fail closed); then the request goes through.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, body) = loop {
        let (status, body) = with_certificate();
        if status != 403 || Instant::now() > deadline {
            break (status, body);
        }
        assert!(body.contains("crl-unavailable"), "{body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!((status, body.as_str()), (200, "upstream"));
    let heads = seen.lock().expect("lock").clone();
    let head = heads
        .last()
        .expect("the upstream saw the request")
        .to_ascii_lowercase();
    assert!(
        head.starts_with("get /microsoft-server-activesync?cmd=sync&user=alice http/1.1"),
        "{head}"
    );
    assert!(
        head.contains("x-certgate-upn: alice@contoso.example\r\n"),
        "{head}"
    );
    assert!(!head.contains("ceo@contoso.example"), "{head}");
    assert!(
        head.contains("x-certgate-mail: alice.smith@contoso.example\r\n"),
        "{head}"
    );
    assert!(head.contains("client-cert: :"), "{head}");

    // No certificate: 403 from the front door, nothing reaches the upstream.
    let before = seen.lock().expect("lock").len();
    let (status, body) = curl(&[
        "--cacert",
        root.to_str().expect("utf-8"),
        "-H",
        "Accept: application/json",
        &url("/owa/"),
    ]);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("\"front-door-certificate-required\""),
        "{body}"
    );
    assert_eq!(seen.lock().expect("lock").len(), before);
}
