//! Enrollment over EST (RFC 7030) driven exactly as the RFC and a device do it, with real
//! peers: `certgate serve` runs as a process with its certificate sign-in listener; the CSR
//! comes from `openssl req`, the requests from `curl`, the answers are read by `base64 -d |
//! openssl pkcs7 -print_certs`. The enrolled certificate then signs in at `/certauth`.
//!
//! Covered: cacerts (root + issuing), simpleenroll with a one-time code (subject and SAN from
//! the directory, not from the CSR), no credentials and a wrong code (401 with the Basic
//! challenge), simplereenroll with the new certificate, refused once that certificate is
//! revoked — and the renewal revoked with it (`pki revoke` cascades to descendants) —,
//! simplereenroll refused for a certificate of another trusted CA, an RSA-1024 CSR refused
//! without costing the code, a second live renewal refused over the per-user limit of derived
//! certificates (409), `certgate est code|codes`, and the sign-in and audit logs. The code
//! rules (used once, expiry, never in the audit log, refusals that do not cost it) are
//! certgate-core's tests/enrollment.rs; a display name that cannot be a CN is
//! certgate-core's authority::issuing unit tests.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Env, Server};
use serde_json::Value;

/// `certgate serve` with its certificate sign-in listener; a user may hold one certificate
/// obtained with a certificate (a renewal) at a time.
fn start(env: &Env) -> (Server, u16) {
    let mut environment = env.certauth_listener();
    environment.push(("CERTGATE_MAX_DERIVED_CERTIFICATES_PER_USER", "1".into()));
    let server = env.serve_with(&environment);
    let certauth_port = server.port("certauth");
    (server, certauth_port)
}

fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} (scripts/setup.sh installs it): {e}"));
    eprintln!(
        "$ {program} {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn sh(script: &str) -> Output {
    run("sh", &["-c", script])
}

fn ok(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// An EST client: curl against the certificate sign-in listener, trusting certgate's root.
struct Est<'a> {
    env: &'a Env,
    port: u16,
}

/// What curl saw: status, headers, body.
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Est<'_> {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// `curl` with `extra` arguments; the body is written to `out`.
    fn curl(&self, extra: &[&str], out: &Path) -> Answer {
        let headers = out.with_extension("headers");
        let mut args = vec![
            "-sS",
            "--max-time",
            "20",
            "--cacert",
            path_str(self.env.path("data/pki/root.pem")),
            "-D",
            path(&headers),
            "-o",
            path(out),
            "-w",
            "%{http_code}",
        ];
        args.extend_from_slice(extra);
        let output = run("curl", &args);
        let status = ok(&output, "curl").trim().parse().expect("HTTP status");
        Answer {
            status,
            headers: std::fs::read_to_string(&headers).unwrap_or_default(),
            body: std::fs::read_to_string(out).unwrap_or_default(),
        }
    }

    /// `POST /.well-known/est/<operation>` with the base64 CSR in `csr_b64`.
    fn enroll(&self, operation: &str, csr_b64: &Path, auth: &[&str], out: &Path) -> Answer {
        let data = format!("@{}", path(csr_b64));
        let url = self.url(&format!("/.well-known/est/{operation}"));
        let mut args: Vec<&str> = auth.to_vec();
        args.extend_from_slice(&[
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            &data,
            &url,
        ]);
        self.curl(&args, out)
    }
}

/// A leaked path string: the test's paths live as long as the test.
fn path_str(p: PathBuf) -> &'static str {
    Box::leak(
        p.into_os_string()
            .into_string()
            .expect("utf-8")
            .into_boxed_str(),
    )
}

/// `openssl req` as RFC 7030 clients run it: a new key and a DER CSR, then base64 (with line
/// breaks, as `base64` writes it). Returns the base64 file.
fn csr(dir: &Path, name: &str, newkey: &[&str]) -> PathBuf {
    let key = dir.join(format!("{name}.key"));
    let der = dir.join(format!("{name}.csr.der"));
    let b64 = dir.join(format!("{name}.csr.b64"));
    let mut args = vec!["req", "-new"];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&[
        "-nodes",
        "-keyout",
        path(&key),
        "-subj",
        "/CN=ignored",
        "-outform",
        "DER",
        "-out",
        path(&der),
    ]);
    ok(&run("openssl", &args), "openssl req");
    ok(
        &sh(&format!("base64 '{}' > '{}'", path(&der), path(&b64))),
        "base64",
    );
    b64
}

const EC_P256: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// The certificates of a base64 certs-only answer, PEM, via `base64 -d | openssl pkcs7`.
fn print_certs(answer_file: &Path, pem_out: &Path) -> String {
    ok(
        &sh(&format!(
            "base64 -d '{}' | openssl pkcs7 -inform DER -print_certs -out '{}'",
            path(answer_file),
            path(pem_out)
        )),
        "base64 -d | openssl pkcs7",
    );
    std::fs::read_to_string(pem_out).expect("PEM")
}

fn x509_text(pem: &Path) -> String {
    ok(
        &run(
            "openssl",
            &[
                "x509",
                "-in",
                path(pem),
                "-noout",
                "-subject",
                "-serial",
                "-ext",
                "subjectAltName",
            ],
        ),
        "openssl x509",
    )
}

/// A certificate sign-in at /certauth with curl (`--cert/--key`), as JSON.
fn sign_in(est: &Est<'_>, cert: &Path, key: &Path, out: &Path) -> Value {
    let answer = est.curl(
        &[
            "-H",
            "Accept: application/json",
            "--cert",
            path(cert),
            "--key",
            path(key),
            &est.url("/certauth"),
        ],
        out,
    );
    serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{e}: {}", answer.body))
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_device_enrolls_with_openssl_and_curl_then_signs_in_and_renews() {
    let env = Env::sqlite();
    env.pki_with_localhost_tls();
    env.ok(&[
        "user",
        "add",
        "alice@contoso.example",
        "--display-name",
        "Alice Smith",
        "--mail",
        "alice.smith@contoso.example",
    ]);
    // Codes only for users in the directory.
    let refused = env.json(
        &["est", "code", "--upn", "nobody@contoso.example", "--json"],
        1,
    );
    assert_eq!(refused["code"], "user-not-found");
    let code = env
        .ok(&["est", "code", "--upn", "alice@contoso.example"])
        .trim()
        .to_owned();
    assert_eq!(code.len(), 23, "{code}");
    let listed = env.json(&["est", "codes", "--json"], 0);
    let listed = listed["value"].as_array().expect("codes");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["userPrincipalName"], "alice@contoso.example");
    assert!(
        !listed[0].to_string().contains(&code),
        "the code is never listed"
    );

    // Another CA the server trusts, with a certificate for alice: it signs in, but it is not
    // certgate's to renew.
    let dir = env.path("device");
    std::fs::create_dir_all(&dir).expect("device dir");
    let other = certgate_testpki::TestPki::three_level(&certgate_testpki::ChainSpec {
        upn: Some("alice@contoso.example".into()),
        email: None,
        leaf_crl_url: None,
        not_after: certgate_testpki::at(certgate_testpki::instants::CA_NOT_AFTER - 86_400),
        ..certgate_testpki::ChainSpec::default()
    })
    .expect("another CA");
    for (name, issued) in [
        ("other-root", &other.root),
        ("other-issuing", &other.intermediate),
    ] {
        let pem = dir.join(format!("{name}.pem"));
        std::fs::write(&pem, &issued.pem).expect("CA");
        env.ok(&["ca", "add", path(&pem), "--exempt-from-crl-validation"]);
    }
    let other_cert = dir.join("other-leaf.pem");
    std::fs::write(&other_cert, &other.leaf.pem).expect("leaf");
    let other_key_der = dir.join("other-leaf.key.der");
    std::fs::write(&other_key_der, &other.leaf.key_pkcs8_der).expect("key");
    let other_key = dir.join("other-leaf.key");
    ok(
        &run(
            "openssl",
            &[
                "pkey",
                "-inform",
                "DER",
                "-in",
                path(&other_key_der),
                "-out",
                path(&other_key),
            ],
        ),
        "openssl pkey",
    );

    let (_server, port) = start(&env);
    let est = Est { env: &env, port };

    // cacerts: root and issuing CA, certs-only, base64.
    let cacerts = est.curl(
        &[&est.url("/.well-known/est/cacerts")],
        &dir.join("cacerts.b64"),
    );
    assert_eq!(cacerts.status, 200);
    assert!(
        cacerts
            .headers
            .to_ascii_lowercase()
            .contains("content-type: application/pkcs7-mime"),
        "{}",
        cacerts.headers
    );
    let ca_pem = print_certs(&dir.join("cacerts.b64"), &dir.join("cacerts.pem"));
    assert!(
        ca_pem.contains("subject=O = Contoso, CN = Contoso Root CA"),
        "{ca_pem}"
    );
    assert!(
        ca_pem.contains("subject=O = Contoso, CN = Contoso Issuing CA"),
        "{ca_pem}"
    );
    assert_eq!(ca_pem.matches("BEGIN CERTIFICATE").count(), 2);

    // An RSA-1024 CSR: refused, and the code survives it (a bad signature likewise: that
    // refusals before the issuance do not cost the code is certgate-core's
    // tests/enrollment.rs).
    let user = format!("alice@contoso.example:{code}");
    let weak = csr(&dir, "weak", &["-newkey", "rsa:1024"]);
    let answer = est.enroll("simpleenroll", &weak, &["-u", &user], &dir.join("weak.out"));
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("csr-key-too-weak"), "{}", answer.body);

    // No credentials, a wrong code: 401 with the Basic challenge.
    let device = csr(&dir, "device", EC_P256);
    let answer = est.enroll("simpleenroll", &device, &[], &dir.join("anon.out"));
    assert_eq!(answer.status, 401);
    assert!(
        answer.body.contains("est-credentials-missing"),
        "{}",
        answer.body
    );
    assert!(
        answer
            .headers
            .to_ascii_lowercase()
            .contains("www-authenticate: basic realm=\"certgate est\""),
        "{}",
        answer.headers
    );
    let answer = est.enroll(
        "simpleenroll",
        &device,
        &["-u", "alice@contoso.example:00000-00000-00000-00000"],
        &dir.join("wrong.out"),
    );
    assert_eq!(answer.status, 401);
    assert!(answer.body.contains("est-code-invalid"), "{}", answer.body);
    assert!(answer
        .headers
        .to_ascii_lowercase()
        .contains("www-authenticate: basic"));

    // The enrollment: the directory's subject and SAN, the device's key.
    let answer = est.enroll(
        "simpleenroll",
        &device,
        &["-u", &user],
        &dir.join("cert.b64"),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer
            .headers
            .to_ascii_lowercase()
            .contains("content-type: application/pkcs7-mime; smime-type=certs-only"),
        "{}",
        answer.headers
    );
    let cert = dir.join("device.pem");
    let pem = print_certs(&dir.join("cert.b64"), &cert);
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 1);
    let text = x509_text(&cert);
    eprintln!("{text}");
    assert!(
        text.contains("subject=O = Contoso, CN = Alice Smith"),
        "{text}"
    );
    assert!(text.contains("email:alice.smith@contoso.example"), "{text}");
    assert!(
        text.contains("othername: UPN::alice@contoso.example"),
        "{text}"
    );
    assert!(
        !text.contains("ignored"),
        "the CSR's subject is not copied: {text}"
    );
    // The certificate is for the device's key.
    let modulus = |args: &[&str]| ok(&run("openssl", args), "openssl pkey");
    assert_eq!(
        modulus(&["x509", "-in", path(&cert), "-noout", "-pubkey"]),
        modulus(&["pkey", "-in", path(&dir.join("device.key")), "-pubout"])
    );

    // It signs in (once the server has fetched certgate's CRLs).
    let device_key = dir.join("device.key");
    wait_for(
        "the enrolled certificate signs in",
        Duration::from_secs(20),
        || sign_in(&est, &cert, &device_key, &dir.join("signin.json"))["result"] == "success",
    );
    let signed_in = sign_in(&est, &cert, &device_key, &dir.join("signin.json"));
    assert_eq!(
        signed_in["user"]["userPrincipalName"],
        "alice@contoso.example"
    );

    // Re-enrollment with the enrolled certificate: a second certificate, same identity.
    let renewed_csr = csr(&dir, "renewed", EC_P256);
    let auth = [
        "--cert",
        path_str(cert.clone()),
        "--key",
        path_str(device_key.clone()),
    ];
    let answer = est.enroll(
        "simplereenroll",
        &renewed_csr,
        &auth,
        &dir.join("renewed.b64"),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let renewed = dir.join("renewed.pem");
    print_certs(&dir.join("renewed.b64"), &renewed);
    let renewed_text = x509_text(&renewed);
    assert!(renewed_text.contains("CN = Alice Smith"), "{renewed_text}");
    let serial = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("serial="))
            .expect("serial")
            .to_owned()
    };
    assert_ne!(serial(&text), serial(&renewed_text));
    // A second renewal while the first is live: over this server's limit of one.
    let answer = est.enroll(
        "simplereenroll",
        &renewed_csr,
        &[&auth[..], &["-H", "Accept: application/json"]].concat(),
        &dir.join("over-limit.out"),
    );
    assert_eq!(answer.status, 409, "{}", answer.body);
    let refusal: Value = serde_json::from_str(&answer.body).expect("JSON refusal");
    assert_eq!(refusal["error"]["code"], "pki-derived-certificate-limit");
    // Without a certificate: refused.
    let answer = est.enroll("simplereenroll", &renewed_csr, &[], &dir.join("nocert.out"));
    assert_eq!(answer.status, 401);
    assert!(answer.body.contains("no-certificate"), "{}", answer.body);

    // The renewal records the certificate it renews.
    let listed = env.json(&["pki", "list", "--json"], 0);
    let renewed_record = listed
        .as_array()
        .expect("issued")
        .iter()
        .find(|r| r["serial"] == serial(&renewed_text).to_ascii_lowercase())
        .cloned()
        .unwrap_or_else(|| panic!("the renewal is listed: {listed}"));
    assert_eq!(
        renewed_record["parentSerial"],
        serial(&text).to_ascii_lowercase(),
        "{renewed_record}"
    );
    assert!(
        listed
            .as_array()
            .expect("issued")
            .iter()
            .filter(|r| r["serial"] != renewed_record["serial"])
            .all(|r| r["parentSerial"].is_null()),
        "an enrollment code's certificate has no parent: {listed}"
    );

    // A certificate of another trusted CA signs in, and is refused re-enrollment.
    assert_eq!(
        sign_in(&est, &other_cert, &other_key, &dir.join("other.json"))["result"],
        "success"
    );
    let answer = est.enroll(
        "simplereenroll",
        &renewed_csr,
        &[
            "-H",
            "Accept: application/json",
            "--cert",
            path(&other_cert),
            "--key",
            path(&other_key),
        ],
        &dir.join("other.out"),
    );
    assert_eq!(answer.status, 403, "{}", answer.body);
    let refusal: Value = serde_json::from_str(&answer.body).expect("JSON refusal");
    assert_eq!(refusal["error"]["code"], "est-reenroll-not-issued-here");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .expect("message")
            .contains("enrollment code"),
        "{refusal}"
    );

    // Revoked: the old certificate can no longer re-enroll, and the renewal it got is revoked
    // with it (whoever held the old key would otherwise keep access through the renewal).
    let revoked = env.ok(&[
        "pki",
        "revoke",
        "--serial",
        &serial(&text),
        "--reason",
        "superseded",
    ]);
    assert!(
        revoked.contains("1 descendant certificate(s) revoked"),
        "{revoked}"
    );
    assert!(
        revoked.contains(&serial(&renewed_text).to_ascii_lowercase()),
        "{revoked}"
    );
    env.ok(&["pki", "crl"]);
    env.ok(&["crl", "refresh"]);
    wait_for(
        "the revocation reaches the server",
        Duration::from_secs(10),
        || sign_in(&est, &cert, &device_key, &dir.join("revoked.json"))["code"] == "cert-revoked",
    );
    let answer = est.enroll(
        "simplereenroll",
        &renewed_csr,
        &auth,
        &dir.join("revoked.out"),
    );
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains("cert-revoked"), "{}", answer.body);
    // The renewal is in the CRL: it no longer signs in, nor re-enrolls.
    let renewed_key = dir.join("renewed.key");
    assert_eq!(
        sign_in(&est, &renewed, &renewed_key, &dir.join("r.json"))["code"],
        "cert-revoked"
    );
    let answer = est.enroll(
        "simplereenroll",
        &renewed_csr,
        &["--cert", path(&renewed), "--key", path(&renewed_key)],
        &dir.join("renewed-revoked.out"),
    );
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains("cert-revoked"), "{}", answer.body);
    let listed = env.json(&["pki", "list", "--json"], 0);
    assert!(
        listed.to_string().contains("superseded"),
        "the renewal is revoked with the original's reason: {listed}"
    );

    // Every attempt is in the sign-in log, every refusal and issuance in the audit log.
    let signins = env.json(&["signins", "--json", "--limit", "200"], 0);
    let signins = signins.as_array().cloned().expect("sign-ins");
    let attempts = |application: &str, code: &str| {
        signins
            .iter()
            .filter(|s| {
                s.to_string().contains(&format!("\"{application}\""))
                    && s.to_string().contains(&format!("\"{code}\""))
            })
            .count()
    };
    for (application, code) in [
        ("est-simpleenroll", "ok"),
        ("est-simpleenroll", "est-code-invalid"),
        ("est-simpleenroll", "csr-key-too-weak"),
        ("est-simplereenroll", "ok"),
        ("est-simplereenroll", "cert-revoked"),
    ] {
        assert!(
            attempts(application, code) >= 1,
            "{application} {code}: {signins:?}"
        );
    }
    let audit = env
        .json(&["audit", "--json", "--limit", "200"], 0)
        .to_string();
    for expected in [
        "est.code-create",
        "est.code-use",
        "est.enroll",
        "pki.issue",
        "est-reenroll-not-issued-here",
        "pki-derived-certificate-limit",
        "with its ancestor",
    ] {
        assert!(audit.contains(expected), "{expected} in the audit log");
    }
}
