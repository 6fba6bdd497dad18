//! `certgate device profile` through the real binary, checked by real peers: the
//! .mobileconfig read back by Python's `plistlib` (every key), the signed one verified by
//! `openssl smime -verify` against certgate's root (and refused once tampered with), the
//! PKCS#12 inside opened by `openssl pkcs12` with the password and its certificate carrying
//! the user's UPN and mail; the Android JSON profile parsed and its PKCS#12 opened; the
//! certificates recorded by `pki list`; the refusals with their codes. SQLite and PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::Env;
use serde_json::Value;

const UPN: &str = "alice@contoso.example";
const MAIL: &str = "alice.smith@contoso.example";
const HOST: &str = "mail.contoso.example";
const PASSWORD: &str = "device pass 1";

/// Reads a plist with Python's plistlib and prints it as JSON (`data` as `{"$data": base64}`).
const PLIST_TO_JSON: &str = r#"
import base64, json, plistlib, sys
def conv(v):
    if isinstance(v, bytes):
        return {"$data": base64.b64encode(v).decode()}
    if isinstance(v, dict):
        return {k: conv(x) for k, x in v.items()}
    if isinstance(v, list):
        return [conv(x) for x in v]
    return v
with open(sys.argv[1], "rb") as f:
    print(json.dumps(conv(plistlib.load(f))))
"#;

fn plist(path: &Path) -> Value {
    let output = Command::new("python3")
        .args(["-c", PLIST_TO_JSON])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "plistlib refused {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from plistlib")
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs")
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Opens `p12` with `password` and answers the end entity's subjectAltName as OpenSSL prints
/// it (and that the file held a private key).
fn pkcs12_san(dir: &Path, p12: &[u8], password: &str) -> String {
    let path = dir.join("check.p12");
    std::fs::write(&path, p12).expect("write p12");
    let pass = format!("pass:{password}");
    let output = openssl(&["pkcs12", "-in", s(&path), "-passin", &pass, "-nodes"]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("BEGIN PRIVATE KEY"), "no key in the PKCS#12");
    let certificate = dir.join("leaf.pem");
    let output = openssl(&[
        "pkcs12",
        "-in",
        s(&path),
        "-passin",
        &pass,
        "-nokeys",
        "-clcerts",
        "-out",
        s(&certificate),
    ]);
    assert!(output.status.success());
    let output = openssl(&[
        "x509",
        "-in",
        s(&certificate),
        "-noout",
        "-ext",
        "subjectAltName",
    ]);
    assert!(output.status.success());
    let wrong = openssl(&[
        "pkcs12",
        "-in",
        s(&path),
        "-passin",
        "pass:wrong",
        "-nokeys",
    ]);
    assert!(!wrong.status.success(), "opened with a wrong password");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn data(value: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value["$data"].as_str().expect("data"))
        .expect("base64")
}

fn profile(env: &Env, name: &str, extra: &[&str]) -> PathBuf {
    let out = env.path(name);
    let mut args = vec![
        "device",
        "profile",
        "--upn",
        UPN,
        "--eas-host",
        HOST,
        "--p12-password",
        PASSWORD,
        "--out",
        s(&out),
    ];
    args.extend_from_slice(extra);
    let stdout = env.ok(&args);
    assert!(stdout.contains("issued serial"), "{stdout}");
    out
}

fn provisions_devices_for_a_directory_user(env: Env) {
    env.ok(&["pki", "init", "--organization", "Contoso"]);
    env.ok(&[
        "user",
        "add",
        UPN,
        "--display-name",
        "Alice Smith",
        "--mail",
        MAIL,
    ]);
    let root = env.dir.path().join("data/pki/root.pem");
    let scratch = env.path("scratch");
    std::fs::create_dir_all(&scratch).expect("scratch");

    // iOS, unsigned: every key, read back by plistlib.
    let path = profile(&env, "alice.mobileconfig", &["--platform", "ios"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("profile")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "profile readable by others: {mode:o}");
    }
    let top = plist(&path);
    assert_eq!(top["PayloadType"], "Configuration");
    assert_eq!(top["PayloadVersion"], 1);
    assert_eq!(
        top["PayloadIdentifier"],
        "example.contoso.mail.certgate.alice.contoso.example"
    );
    assert_eq!(top["PayloadOrganization"], "Contoso");
    assert_eq!(top["PayloadDisplayName"], format!("Contoso mail ({UPN})"));
    assert!(top["PayloadDescription"]
        .as_str()
        .is_some_and(|d| d.contains(HOST)));
    let uuid = |v: &Value| -> String {
        let text = v.as_str().expect("UUID").to_owned();
        assert_eq!(text.len(), 36, "{text}");
        assert_eq!(&text[14..15], "4", "{text}");
        text
    };
    let top_uuid = uuid(&top["PayloadUUID"]);
    let payloads = top["PayloadContent"].as_array().expect("payloads");
    assert_eq!(payloads.len(), 2);
    let credential = &payloads[0];
    let account = &payloads[1];
    assert_eq!(credential["PayloadType"], "com.apple.security.pkcs12");
    assert_eq!(credential["PayloadVersion"], 1);
    assert_eq!(
        credential["PayloadIdentifier"],
        "example.contoso.mail.certgate.alice.contoso.example.credential"
    );
    assert_eq!(
        credential["PayloadCertificateFileName"],
        format!("{UPN}.p12")
    );
    assert!(credential.get("Password").is_none(), "password embedded");
    let credential_uuid = uuid(&credential["PayloadUUID"]);
    assert_eq!(account["PayloadType"], "com.apple.eas.account");
    assert_eq!(account["PayloadVersion"], 1);
    assert_eq!(account["Host"], HOST);
    assert_eq!(account["SSL"], true);
    assert_eq!(account["UserName"], UPN);
    assert_eq!(account["EmailAddress"], MAIL);
    assert_eq!(account["MailNumberOfPastDaysToSync"], 7);
    assert_eq!(account["PayloadCertificateUUID"], credential_uuid.as_str());
    let account_uuid = uuid(&account["PayloadUUID"]);
    assert!(top_uuid != credential_uuid && credential_uuid != account_uuid);
    let san = pkcs12_san(&scratch, &data(&credential["PayloadContent"]), PASSWORD);
    assert!(san.contains(UPN), "UPN missing from {san}");
    assert!(
        san.contains(&format!("email:{MAIL}")),
        "mail missing from {san}"
    );

    // --embed-password writes it into the PKCS#12 payload.
    let path = profile(
        &env,
        "embedded.mobileconfig",
        &["--platform", "ios", "--embed-password"],
    );
    let top = plist(&path);
    assert_eq!(top["PayloadContent"][0]["Password"], PASSWORD);

    // Signed: OpenSSL verifies it against certgate's root and hands back the plist.
    let path = profile(
        &env,
        "signed.mobileconfig",
        &["--platform", "ios", "--sign"],
    );
    let plain = env.path("plain.plist");
    let output = openssl(&[
        "smime",
        "-verify",
        "-inform",
        "DER",
        "-in",
        s(&path),
        "-CAfile",
        s(&root),
        "-purpose",
        "any",
        "-out",
        s(&plain),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let top = plist(&plain);
    assert_eq!(top["PayloadContent"][1]["Host"], HOST);
    let san = pkcs12_san(
        &scratch,
        &data(&top["PayloadContent"][0]["PayloadContent"]),
        PASSWORD,
    );
    assert!(san.contains(UPN), "{san}");
    // One changed byte of the profile inside: the signature no longer verifies.
    let mut tampered = std::fs::read(&path).expect("signed profile");
    let at = tampered
        .windows(HOST.len())
        .position(|w| w == HOST.as_bytes())
        .expect("host inside");
    tampered[at] = b'M';
    let tampered_path = env.path("tampered.mobileconfig");
    std::fs::write(&tampered_path, &tampered).expect("write");
    let output = openssl(&[
        "smime",
        "-verify",
        "-inform",
        "DER",
        "-in",
        s(&tampered_path),
        "-CAfile",
        s(&root),
        "-purpose",
        "any",
        "-out",
        s(&env.path("tampered.plist")),
    ]);
    assert!(!output.status.success(), "a tampered profile verified");

    // Android: the JSON profile, its PKCS#12 opens.
    let path = profile(&env, "alice.json", &["--platform", "android"]);
    let json: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("JSON profile")).expect("JSON");
    assert_eq!(json["type"], "exchange-activesync");
    assert_eq!(json["version"], 1);
    assert_eq!(json["host"], HOST);
    assert_eq!(json["ssl"], true);
    assert_eq!(json["user"], UPN);
    assert_eq!(json["email"], MAIL);
    assert_eq!(json["authentication"], "client-certificate");
    assert_eq!(json["certificate"]["alias"], UPN);
    assert!(json["certificate"].get("password").is_none());
    let p12 = base64::engine::general_purpose::STANDARD
        .decode(json["certificate"]["pkcs12"].as_str().expect("pkcs12"))
        .expect("base64");
    let san = pkcs12_san(&scratch, &p12, PASSWORD);
    assert!(san.contains(&format!("email:{MAIL}")), "{san}");

    // The bare PKCS#12 needs no host.
    let out = env.path("alice.p12");
    env.ok(&[
        "device",
        "profile",
        "--upn",
        UPN,
        "--platform",
        "pkcs12",
        "--p12-password",
        PASSWORD,
        "--out",
        s(&out),
    ]);
    pkcs12_san(&scratch, &std::fs::read(&out).expect("p12"), PASSWORD);

    // Every certificate is recorded (and so revocable); every profile is audited.
    let issued = env.json(&["pki", "list", "--json"], 0);
    let issued = issued.as_array().expect("list");
    assert_eq!(
        issued.iter().filter(|c| c["upn"] == UPN).count(),
        5,
        "{issued:?}"
    );
    let audit = env.ok(&["audit", "--limit", "100"]);
    assert_eq!(audit.matches("device.profile").count(), 5, "{audit}");

    // The service's refusal: a code, the person-readable message, exit 1, no file written
    // and no certificate issued. Provisioning's rules (EAS host, password, signing, disabled
    // users) are certgate-core's tests/device.rs.
    let out = env.path("refused");
    let output = env.run(&[
        "device",
        "profile",
        "--upn",
        UPN,
        "--out",
        s(&out),
        "--platform",
        "ios",
        "--eas-host",
        HOST,
        "--p12-password",
        "short",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("device-p12-password-too-short")
            && stderr.contains("the PKCS#12 password has 5 characters; use at least 8"),
        "{stderr}"
    );
    assert!(!out.exists(), "a refused request wrote a file");
    let output = env.run(&[
        "device",
        "profile",
        "--upn",
        "nobody@contoso.example",
        "--platform",
        "pkcs12",
        "--out",
        s(&env.path("nobody.p12")),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("user-not-found"));
    let issued = env.json(&["pki", "list", "--json"], 0);
    assert_eq!(
        issued.as_array().expect("list").len(),
        5,
        "a refused request issued a certificate"
    );
}

#[test]
fn provisions_devices_for_a_directory_user_on_sqlite() {
    provisions_devices_for_a_directory_user(Env::sqlite());
}

#[test]
fn provisions_devices_for_a_directory_user_on_postgres() {
    provisions_devices_for_a_directory_user(Env::postgres());
}
