//! PKCS#12 files: OpenSSL 3 opens them with the password, and they hold our certificate, its
//! key and the chain.

mod common;

use std::path::Path;

use certgate_ca::{pkcs12, pkcs12_with_encryption, KeyAlgorithm, Pkcs12Encryption};
use common::*;

const PASSWORD: &str = "Tr0ub4dor&3 with spaces";

/// `openssl pkcs12 -in file -passin pass:... <args>`, output to `out` when given.
fn open(path: &Path, password: &str, args: &[&str]) -> std::process::Output {
    let passin = format!("pass:{password}");
    let mut all: Vec<&std::ffi::OsStr> = vec![
        "pkcs12".as_ref(),
        "-in".as_ref(),
        path.as_os_str(),
        "-passin".as_ref(),
        passin.as_ref(),
    ];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    openssl(all)
}

fn to_der(dir: &Path, pem_text: &[u8], command: &str, name: &str) -> Vec<u8> {
    let input = write(dir, &format!("{name}.pem"), pem_text);
    let out = dir.join(format!("{name}.der"));
    let mut args: Vec<&std::ffi::OsStr> = vec![
        command.as_ref(),
        "-in".as_ref(),
        input.as_os_str(),
        "-outform".as_ref(),
        "DER".as_ref(),
        "-out".as_ref(),
        out.as_os_str(),
    ];
    if command == "pkey" {
        args.push("-pubout".as_ref());
    }
    let output = openssl(args);
    assert!(output.status.success(), "{}", text(&output));
    std::fs::read(out).expect("converted DER")
}

#[test]
fn openssl_opens_the_pkcs12_and_finds_our_certificate_key_and_chain() {
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048] {
        let hierarchy = hierarchy(algorithm);
        let issued = issue(&hierarchy.issuing, algorithm);
        let chain = vec![
            hierarchy.issuing.certificate_der().to_vec(),
            hierarchy.root.certificate_der().to_vec(),
        ];
        let p12 = pkcs12(
            &issued.certificate_der,
            &issued.private_key_pkcs8_der,
            &chain,
            PASSWORD,
            "Alice Smith (certgate)",
        )
        .expect("pkcs12");
        let dir = scratch();
        let path = write(dir.path(), "alice.p12", &p12);

        // -info: the structure, encryption and MAC are what we promise.
        let output = open(&path, PASSWORD, &["-info", "-nokeys"]);
        let info = text(&output);
        assert!(output.status.success(), "{algorithm}: {info}");
        assert!(info.contains("MAC: sha256"), "{info}");
        assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{info}");
        assert!(info.contains("hmacWithSHA256"), "{info}");

        // The end-entity certificate is ours, byte for byte.
        let output = open(&path, PASSWORD, &["-nokeys", "-clcerts"]);
        assert!(output.status.success(), "{}", text(&output));
        let leaf = to_der(dir.path(), &output.stdout, "x509", "leaf");
        assert_eq!(leaf, issued.certificate_der, "{algorithm}");

        // The CA certificates are the chain.
        let output = open(&path, PASSWORD, &["-nokeys", "-cacerts"]);
        assert!(output.status.success(), "{}", text(&output));
        let cas = String::from_utf8_lossy(&output.stdout).into_owned();
        for ca in &chain {
            let ca_pem = certificate_pem(ca);
            let body: String = ca_pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let found: String = cas.lines().filter(|l| !l.starts_with("-----")).collect();
            assert!(
                found.contains(&body),
                "{algorithm}: chain certificate missing"
            );
        }

        // The key decrypts, carries the friendly name and belongs to the certificate.
        let output = open(&path, PASSWORD, &["-nocerts", "-nodes"]);
        assert!(output.status.success(), "{}", text(&output));
        let key_listing = text(&output);
        assert!(
            key_listing.contains("friendlyName: Alice Smith (certgate)"),
            "{key_listing}"
        );
        let public_key = to_der(dir.path(), &output.stdout, "pkey", "key");
        assert_eq!(public_key, parse(&issued.certificate_der).public_key().der);

        // A wrong password does not open it.
        let output = open(&path, "wrong password", &["-info", "-nokeys"]);
        assert!(!output.status.success(), "opened with a wrong password");
    }
}

/// The device-compatible form (iOS configuration profiles, older Android): 3DES bags and a
/// SHA-1 MAC, which OpenSSL 3 opens without `-legacy` (3DES is in its default provider).
#[test]
fn legacy_triple_des_pkcs12_for_devices_opens_without_the_legacy_provider() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let p12 = pkcs12_with_encryption(
        &issued.certificate_der,
        &issued.private_key_pkcs8_der,
        &[hierarchy.issuing.certificate_der().to_vec()],
        PASSWORD,
        "alice@contoso.example",
        Pkcs12Encryption::LegacyTripleDesForDevices,
    )
    .expect("pkcs12");
    let dir = scratch();
    let path = write(dir.path(), "alice.p12", &p12);
    // `-noout`: only the structure listing, so the absence check below cannot be fooled by
    // "AES" turning up by chance in a PEM-encoded certificate.
    let output = open(&path, PASSWORD, &["-info", "-noout"]);
    let info = text(&output);
    assert!(output.status.success(), "{info}");
    assert!(info.contains("MAC: sha1"), "{info}");
    assert!(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{info}");
    assert!(!info.contains("AES"), "{info}");
    let output = open(&path, PASSWORD, &["-nocerts", "-nodes"]);
    assert!(output.status.success(), "{}", text(&output));
    let public_key = to_der(dir.path(), &output.stdout, "pkey", "key");
    assert_eq!(public_key, parse(&issued.certificate_der).public_key().der);
    let output = open(&path, "wrong password", &["-info", "-nokeys"]);
    assert!(!output.status.success(), "opened with a wrong password");
}

#[test]
fn empty_password_mismatched_key_and_bad_input_are_refused() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let other = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);

    let error = pkcs12(
        &issued.certificate_der,
        &issued.private_key_pkcs8_der,
        &[],
        "",
        "Alice",
    )
    .expect_err("empty password");
    assert_eq!(error.code(), "ca-invalid-request");

    let error = pkcs12(
        &issued.certificate_der,
        &other.private_key_pkcs8_der,
        &[],
        PASSWORD,
        "Alice",
    )
    .expect_err("someone else's key");
    assert_eq!(error.code(), "ca-key-mismatch");

    let error = pkcs12(
        &issued.certificate_der,
        &issued.private_key_pkcs8_der,
        &[b"not a certificate".to_vec()],
        PASSWORD,
        "Alice",
    )
    .expect_err("garbage in the chain");
    assert_eq!(error.code(), "ca-pkcs12-failed");

    let error = pkcs12(
        &issued.certificate_der,
        &issued.private_key_pkcs8_der,
        &[],
        PASSWORD,
        " ",
    )
    .expect_err("blank friendly name");
    assert_eq!(error.code(), "ca-invalid-request");
}

/// NSS (Firefox, and Chromium on Linux) imports the file into a fresh database: certificate
/// and private key. Runs where NSS's `pk12util` is installed (Debian: libnss3-tools);
/// elsewhere it says so and checks nothing.
#[test]
fn nss_imports_the_pkcs12() {
    if std::process::Command::new("pk12util")
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("pk12util not installed (libnss3-tools): NSS import not checked");
        return;
    }
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let p12 = pkcs12(
        &issued.certificate_der,
        &issued.private_key_pkcs8_der,
        &[
            hierarchy.issuing.certificate_der().to_vec(),
            hierarchy.root.certificate_der().to_vec(),
        ],
        PASSWORD,
        "Alice Smith (certgate)",
    )
    .expect("pkcs12");
    let dir = scratch();
    let path = write(dir.path(), "alice.p12", &p12);
    let db = format!("sql:{}", dir.path().display());
    let run = |program: &str, args: &[&str]| {
        let output = std::process::Command::new(program)
            .args(args)
            .output()
            .expect("NSS tool runs");
        (output.status.success(), text(&output))
    };
    let (ok, out) = run("certutil", &["-N", "-d", &db, "--empty-password"]);
    assert!(ok, "{out}");
    let (ok, out) = run(
        "pk12util",
        &["-i", &path.to_string_lossy(), "-d", &db, "-W", PASSWORD],
    );
    assert!(ok, "pk12util: {out}");
    let (ok, certificates) = run("certutil", &["-L", "-d", &db]);
    assert!(ok, "{certificates}");
    // NSS names the certificate by its bag's friendlyName, which p12-keystore sets to the
    // subject; "u,u,u" means NSS paired it with the imported private key.
    let nickname = "O=Contoso, CN=Alice Smith";
    assert!(
        certificates
            .lines()
            .any(|line| line.starts_with(nickname) && line.trim_end().ends_with("u,u,u")),
        "{certificates}"
    );
    assert!(certificates.contains("O=Contoso, CN=Contoso certgate Issuing CA"));
    assert!(certificates.contains("O=Contoso, CN=Contoso certgate Root CA"));
    let (ok, keys) = run("certutil", &["-K", "-d", &db]);
    assert!(ok, "{keys}");
    assert!(
        keys.lines()
            .any(|line| line.contains(" ec ") && line.contains(nickname)),
        "{keys}"
    );
    let exported = std::process::Command::new("certutil")
        .args(["-L", "-d", &db, "-n", nickname, "-r"])
        .output()
        .expect("certutil -r");
    assert!(exported.status.success(), "{}", text(&exported));
    assert_eq!(exported.stdout, issued.certificate_der);
}

/// Passwords are UTF-8: OpenSSL 3 opens a file protected by one with non-ASCII characters
/// (the MAC key derivation uses its BMPString form, PBES2 its UTF-8 bytes, RFC 7292 App. B.1).
#[test]
fn non_ascii_passwords_open_in_openssl() {
    let hierarchy = hierarchy(KeyAlgorithm::EcdsaP256);
    let issued = issue(&hierarchy.issuing, KeyAlgorithm::EcdsaP256);
    let password = "Pässwörd für Zoë €";
    let p12 = pkcs12(
        &issued.certificate_der,
        &issued.private_key_pkcs8_der,
        &[],
        password,
        "Zoë",
    )
    .expect("pkcs12");
    let dir = scratch();
    let path = write(dir.path(), "zoe.p12", &p12);
    let output = open(&path, password, &["-info", "-nodes"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("BEGIN PRIVATE KEY"),
        "{}",
        text(&output)
    );
}
