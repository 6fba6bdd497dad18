//! The federation service through the `certgate` binary, on SQLite and on PostgreSQL: relying
//! parties (the Microsoft 365 preset in one command, a SAML service provider from its metadata
//! or from options, WS-Federation; set, list, show, remove) and the token-signing keys (init,
//! list, rotate), each command with one success and one refusal (its code and message). Exit
//! codes: 0 done, 1 refused (with the code), 2 usage. The federation service's rules (unique
//! names and identifiers, what a setting may be, the presets' claims, the keys' life cycle) are
//! certgate-core's tests/federation.rs.
//!
//! PostgreSQL must be running at 127.0.0.1:5432 (user postgres, trust auth; override with
//! CERTGATE_TEST_POSTGRES_URL); the PostgreSQL tests fail, saying so, when it is not.

mod common;

use base64::Engine as _;
use common::Env;
use serde_json::Value;

#[test]
fn relying_party_commands_on_sqlite() {
    relying_party_commands(&Env::sqlite());
}

#[test]
fn relying_party_commands_on_postgres() {
    relying_party_commands(&Env::postgres());
}

/// An OpenID Connect client that asks every sign-in for the domain password: registered with
/// `--require-domain-password` (a warning on stderr, this certgate.toml having no directory
/// source), listed with the setting; one without it lists false.
#[test]
fn a_client_that_asks_for_the_domain_password_on_sqlite() {
    let env = Env::sqlite();
    let output = env.run(&[
        "client",
        "add",
        "mail-always",
        "--kind",
        "public",
        "--redirect-uri",
        "com.corp.mail:/always",
        "--require-domain-password",
        "--json",
    ]);
    assert!(output.status.success());
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(
        warning.contains("no [directory.ldap]")
            && warning.contains("domain-password-not-configured"),
        "{warning}"
    );
    let output = env.run(&[
        "client",
        "add",
        "mail-plain",
        "--kind",
        "public",
        "--redirect-uri",
        "com.corp.mail:/plain",
        "--json",
    ]);
    assert!(output.status.success());
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("warning"),
        "no warning without the setting"
    );
    let list = env.json(&["client", "list", "--json"], 0);
    let settings: Vec<(&str, bool)> = list
        .as_array()
        .expect("clients")
        .iter()
        .map(|client| {
            (
                client["clientId"].as_str().expect("id"),
                client["requireDomainPassword"].as_bool().expect("setting"),
            )
        })
        .collect();
    assert_eq!(settings, [("mail-always", true), ("mail-plain", false)]);
}

#[test]
fn token_signing_keys_on_sqlite() {
    token_signing_keys(&Env::sqlite());
}

#[test]
fn token_signing_keys_on_postgres() {
    token_signing_keys(&Env::postgres());
}

/// A refusal: exit 1, `{"ok": false, "code": ..., "message": ...}` on stdout with --json, the
/// message being the person-readable one (it says `saying`).
#[track_caller]
fn refused(env: &Env, args: &[&str], code: &str, saying: &str) {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let answer = env.json(&with_json, 1);
    assert_eq!(answer["code"], code, "{answer}");
    assert_eq!(answer["ok"], false);
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains(saying)),
        "{answer:#}"
    );
    // And as text, the code on stderr.
    let output = env.run(args);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("({code})")), "{stderr}");
}

fn claim_types(rp: &Value) -> Vec<String> {
    rp["claims"]
        .as_array()
        .expect("claims")
        .iter()
        .map(|c| c["claimType"].as_str().expect("claimType").to_owned())
        .collect()
}

/// A self-signed certificate for a service provider's signing key: DER and PEM.
fn sp_certificate() -> (Vec<u8>, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["sp.fabrikam.example".to_owned()]).expect("cert");
    (certified.cert.der().to_vec(), certified.cert.pem())
}

fn sp_metadata(certificate_der: &[u8]) -> String {
    let certificate = base64::engine::general_purpose::STANDARD.encode(certificate_der);
    format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://payroll.fabrikam.example/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true" WantAssertionsSigned="true">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://payroll.fabrikam.example/slo-post"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://payroll.fabrikam.example/slo"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://payroll.fabrikam.example/acs/second" index="0"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://payroll.fabrikam.example/artifact" index="1"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://payroll.fabrikam.example/acs" index="2" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#
    )
}

fn relying_party_commands(env: &Env) {
    // Microsoft 365 in one command.
    let m365 = env.json(
        &[
            "rp",
            "add",
            "microsoft365",
            "--protocol",
            "wsfed",
            "--issuer",
            "http://contoso.example/adfs/services/trust/",
            "--json",
        ],
        0,
    );
    let shown = env.json(&["rp", "show", "microsoft 365", "--json"], 0);
    assert_eq!(shown, m365);
    assert_eq!(shown["displayName"], "Microsoft 365");
    assert_eq!(shown["protocol"], "wsfed");
    assert_eq!(shown["identifier"], "urn:federation:MicrosoftOnline");
    assert_eq!(
        shown["replyUrls"],
        serde_json::json!(["https://login.microsoftonline.com/login.srf"])
    );
    assert_eq!(shown["nameIdFormat"], "persistent");
    assert_eq!(shown["nameIdSource"], "user.immutableId");
    assert_eq!(
        shown["issuer"],
        "http://contoso.example/adfs/services/trust/"
    );
    assert_eq!(shown["passwordRequests"], "refuse");
    assert_eq!(claim_types(&shown).len(), 5);
    // The service's refusal (its rules are certgate-core's tests/federation.rs): under another
    // name, the audience is taken.
    refused(
        env,
        &[
            "rp",
            "add",
            "microsoft365",
            "--protocol",
            "wsfed",
            "--name",
            "Office",
        ],
        "rp-taken",
        "the wsfed identifier urn:federation:MicrosoftOnline is already registered (relying party \"Microsoft 365\")",
    );
    // The SAML preset, under a name of its own.
    let saml365 = env.json(
        &[
            "rp",
            "add",
            "microsoft365",
            "--protocol",
            "saml",
            "--name",
            "Microsoft 365 SAML",
            "--json",
        ],
        0,
    );
    assert_eq!(saml365["protocol"], "saml");
    assert_eq!(claim_types(&saml365), ["IDPEmail"]);

    // A SAML service provider from its metadata.
    let (der, pem) = sp_certificate();
    let metadata = env.path("payroll-metadata.xml");
    std::fs::write(&metadata, sp_metadata(&der)).expect("write metadata");
    let payroll = env.json(
        &[
            "rp",
            "add",
            "saml",
            "--name",
            "Payroll",
            "--metadata",
            metadata.to_str().expect("utf-8"),
            "--json",
        ],
        0,
    );
    assert_eq!(
        payroll["identifier"],
        "https://payroll.fabrikam.example/saml"
    );
    assert_eq!(
        payroll["replyUrls"],
        serde_json::json!([
            "https://payroll.fabrikam.example/acs",
            "https://payroll.fabrikam.example/acs/second"
        ]),
        "HTTP-POST only, the default first"
    );
    assert_eq!(payroll["logoutUrl"], "https://payroll.fabrikam.example/slo");
    assert_eq!(payroll["requireSignedRequests"], true);
    assert_eq!(
        payroll["requestCertificates"],
        serde_json::json!([base64::engine::general_purpose::STANDARD.encode(&der)])
    );
    assert_eq!(payroll["nameIdFormat"], "email");
    assert_eq!(payroll["nameIdSource"], "user.upn");
    let broken = env.path("broken-metadata.xml");
    std::fs::write(
        &broken,
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"/>",
    )
    .expect("write");
    refused(
        env,
        &[
            "rp",
            "add",
            "saml",
            "--name",
            "Broken",
            "--metadata",
            broken.to_str().expect("utf-8"),
        ],
        "saml-metadata-invalid",
        "service provider metadata: the EntityDescriptor has no entityID",
    );

    // A SAML service provider from options, with a request certificate and the
    // certificate-context claims.
    let pem_file = env.path("sp.pem");
    std::fs::write(&pem_file, pem).expect("write PEM");
    let expenses = env.json(
        &[
            "rp",
            "add",
            "saml",
            "--name",
            "Expenses",
            "--entity-id",
            "https://expenses.fabrikam.example/",
            "--acs",
            "https://expenses.fabrikam.example/acs",
            "--acs",
            "http://127.0.0.1:8080/acs",
            "--slo",
            "https://expenses.fabrikam.example/slo",
            "--request-certificate",
            pem_file.to_str().expect("utf-8"),
            "--require-signed-requests",
            "--sign-response",
            "--claims",
            "certificate-context",
            "--name-id-format",
            "unspecified",
            "--name-id-source",
            "user.objectId",
            "--json",
        ],
        0,
    );
    assert_eq!(expenses["replyUrls"][1], "http://127.0.0.1:8080/acs");
    assert_eq!(expenses["signResponse"], true);
    assert_eq!(expenses["requireSignedRequests"], true);
    assert_eq!(
        expenses["requestCertificates"]
            .as_array()
            .expect("certs")
            .len(),
        1
    );
    assert_eq!(expenses["nameIdFormat"], "unspecified");
    assert_eq!(expenses["nameIdSource"], "user.objectId");
    assert_eq!(
        claim_types(&expenses).len(),
        2 + 10,
        "defaults + certificate context"
    );

    // The SP rolled its signing certificate over: `set --request-certificate` replaces it.
    let (_, rolled_pem) = sp_certificate();
    let rolled_file = env.path("sp-rolled.pem");
    std::fs::write(&rolled_file, &rolled_pem).expect("write PEM");
    let rolled = env.json(
        &[
            "rp",
            "set",
            "Expenses",
            "--request-certificate",
            rolled_file.to_str().expect("utf-8"),
            "--json",
        ],
        0,
    );
    let certificates = rolled["requestCertificates"].as_array().expect("certs");
    assert_eq!(certificates.len(), 1);
    assert_ne!(certificates[0], expenses["requestCertificates"][0]);
    let empty = env.path("empty.pem");
    std::fs::write(&empty, "").expect("write");
    refused(
        env,
        &[
            "rp",
            "set",
            "Expenses",
            "--request-certificate",
            empty.to_str().expect("utf-8"),
        ],
        "cert-malformed",
        "empty.pem: the certificate is not valid DER X.509",
    );

    // WS-Federation: a refusal (the service's rules are certgate-core's tests/federation.rs).
    refused(
        env,
        &[
            "rp",
            "add",
            "wsfed",
            "--name",
            "Intranet",
            "--realm",
            "urn:intranet",
            "--reply",
            "http://intranet.fabrikam.example/",
        ],
        "rp-field-invalid",
        "invalid reply_urls \"http://intranet.fabrikam.example/\": must be an https:// URL",
    );

    // WS-Federation, then set.
    let intranet = env.json(
        &[
            "rp",
            "add",
            "wsfed",
            "--name",
            "Intranet",
            "--realm",
            "urn:intranet",
            "--reply",
            "https://intranet.fabrikam.example/",
            "--claim",
            "http://schemas.xmlsoap.org/claims/UPN=user.upn",
            "--claim",
            "http://schemas.fabrikam.example/claims/role=const:staff=yes",
            "--password-requests",
            "fresh-certificate",
            "--token-lifetime",
            "600",
            "--disabled",
            "--json",
        ],
        0,
    );
    assert_eq!(claim_types(&intranet).len(), 2);
    assert_eq!(intranet["claims"][1]["source"], "const:staff=yes");
    assert_eq!(intranet["passwordRequests"], "fresh-certificate");
    assert_eq!(intranet["tokenLifetimeSeconds"], 600);
    assert_eq!(intranet["enabled"], false);
    let changed = env.json(
        &[
            "rp",
            "set",
            "urn:intranet",
            "--claims",
            "certificate-context",
            "--enabled",
            "--reply",
            "https://intranet.fabrikam.example/a",
            "--reply",
            "https://intranet.fabrikam.example/b",
            "--json",
        ],
        0,
    );
    assert_eq!(claim_types(&changed).len(), 2 + 10, "added to the list");
    assert_eq!(changed["claims"][0], intranet["claims"][0]);
    assert_eq!(changed["enabled"], true);
    assert_eq!(
        changed["replyUrls"][1],
        "https://intranet.fabrikam.example/b"
    );
    assert_eq!(changed["createdDateTime"], intranet["createdDateTime"]);
    let replaced = env.json(
        &[
            "rp",
            "set",
            "Intranet",
            "--claim",
            "http://schemas.xmlsoap.org/claims/UPN=user.upn",
            "--name",
            "Intranet portal",
            "--json",
        ],
        0,
    );
    assert_eq!(claim_types(&replaced).len(), 1, "--claim replaces the list");
    assert_eq!(replaced["displayName"], "Intranet portal");
    assert_eq!(replaced["requireDomainPassword"], false);
    // Asking every sign-in for the domain password: set, with a warning on stderr when this
    // certgate.toml has no directory source (the nodes that take sign-ins refuse them
    // without one), then switched off.
    let output = env.run(&[
        "rp",
        "set",
        "Intranet portal",
        "--require-domain-password",
        "--json",
    ]);
    assert!(output.status.success());
    let always: Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(always["requireDomainPassword"], true);
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(
        warning.contains("no [directory.ldap]")
            && warning.contains("domain-password-not-configured"),
        "{warning}"
    );
    let off = env.json(
        &[
            "rp",
            "set",
            "Intranet portal",
            "--require-domain-password=false",
            "--json",
        ],
        0,
    );
    assert_eq!(off["requireDomainPassword"], false);
    refused(
        env,
        &["rp", "set", "nobody", "--enabled"],
        "rp-not-found",
        "no relying party is named or has the ID \"nobody\"",
    );

    let list = env.json(&["rp", "list", "--json"], 0);
    let names: Vec<&str> = list["value"]
        .as_array()
        .expect("list")
        .iter()
        .map(|rp| rp["displayName"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "Expenses",
            "Intranet portal",
            "Microsoft 365",
            "Microsoft 365 SAML",
            "Payroll"
        ]
    );
    let text = env.ok(&["rp", "list"]);
    assert!(text.contains("urn:federation:MicrosoftOnline"), "{text}");
    let text = env.ok(&["rp", "show", "Payroll"]);
    assert!(
        text.contains("replyUrl") && text.contains("https://payroll.fabrikam.example/acs"),
        "{text}"
    );

    let removed = env.json(&["rp", "remove", "Intranet portal", "--json"], 0);
    assert_eq!(removed["ok"], true);
    assert_eq!(removed["removed"]["identifier"], "urn:intranet");
    for command in ["show", "remove"] {
        refused(
            env,
            &["rp", command, "Intranet portal"],
            "rp-not-found",
            "no relying party is named or has the ID \"Intranet portal\"",
        );
    }

    // Usage errors are clap's: exit 2.
    assert_eq!(
        env.run(&["rp", "add", "saml", "--name", "X"]).status.code(),
        Some(2)
    );
    assert_eq!(
        env.run(&["rp", "add", "microsoft365", "--protocol", "oidc"])
            .status
            .code(),
        Some(2)
    );

    let audit = env.json(&["audit", "--json", "--limit", "100"], 0);
    let actions: Vec<&str> = audit
        .as_array()
        .expect("audit")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .filter(|a| a.starts_with("rp."))
        .collect();
    assert_eq!(
        actions,
        [
            "rp.remove",
            "rp.set",
            "rp.set",
            "rp.set",
            "rp.set",
            "rp.add",
            "rp.set",
            "rp.add",
            "rp.add",
            "rp.add",
            "rp.add"
        ]
    );

    // Single logout offered over HTTP-POST only: imported, and told that single logout is off.
    let post_only = env.path("post-only-slo.xml");
    let xml = sp_metadata(&der)
        .replace("https://payroll.fabrikam.example/saml", "https://timesheets.fabrikam.example/")
        .replace(
            "    <md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://payroll.fabrikam.example/slo\"/>\n",
            "",
        );
    assert!(!xml.contains("HTTP-Redirect"));
    std::fs::write(&post_only, xml).expect("write metadata");
    let args = [
        "rp",
        "add",
        "saml",
        "--name",
        "Timesheets",
        "--metadata",
        post_only.to_str().expect("utf-8"),
        "--json",
    ];
    let output = env.run(&args);
    assert!(output.status.success());
    let timesheets: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(timesheets["logoutUrl"], serde_json::Value::Null);
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(
        warning.contains("over HTTP-POST only") && warning.contains("single logout is off"),
        "{warning}"
    );
}

fn keys(answer: &Value) -> Vec<(String, String)> {
    answer["value"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["thumbprint"].as_str().expect("thumbprint").to_owned(),
                k["state"].as_str().expect("state").to_owned(),
            )
        })
        .collect()
}

fn thumbprint_in(keys: &[(String, String)], state: &str) -> String {
    keys.iter()
        .find(|(_, s)| s == state)
        .unwrap_or_else(|| panic!("a {state} key in {keys:?}"))
        .0
        .clone()
}

fn token_signing_keys(env: &Env) {
    assert!(keys(&env.json(&["federation", "keys", "--json"], 0)).is_empty());
    refused(
        env,
        &["federation", "rotate-keys"],
        "federation-no-signing-key",
        "the federation service has no token-signing key yet",
    );

    // The passphrase seals the keys: without it nothing is created.
    let output = env
        .command(&["federation", "init", "--json"])
        .env_remove("CERTGATE_CA_KEY_PASSPHRASE")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(answer["code"], "federation-passphrase-missing");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("set CERTGATE_CA_KEY_PASSPHRASE")),
        "{answer:#}"
    );

    let first = keys(&env.json(&["federation", "init", "--json"], 0));
    assert_eq!(first.len(), 2);
    let current = thumbprint_in(&first, "current");
    let next = thumbprint_in(&first, "next");
    assert_eq!(current.len(), 40);
    let listed = env.json(&["federation", "keys", "--json"], 0);
    assert!(listed["value"][0]["notAfter"].is_string());
    let text = env.ok(&["federation", "keys"]);
    assert!(
        text.contains(&current) && text.contains("notAfter"),
        "{text}"
    );

    let rotated = keys(&env.json(&["federation", "rotate-keys", "--json"], 0));
    assert_eq!(rotated.len(), 3);
    assert_eq!(
        thumbprint_in(&rotated, "current"),
        next,
        "next becomes current"
    );
    assert_eq!(thumbprint_in(&rotated, "retired"), current);
    let new_next = thumbprint_in(&rotated, "next");
    assert!(new_next != current && new_next != next);
}
