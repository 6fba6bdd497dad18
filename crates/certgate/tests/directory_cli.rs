//! The directory through the `certgate` binary, on SQLite and on PostgreSQL: users (add, get,
//! set, list, remove), CSV import with a bad row reported and the good rows kept,
//! StsRefreshTokensValidFrom exactly as Set-MsolUser behaves, revoke-sessions, and the binding
//! and strength rules. Exit codes: 0 done, 1 refused (with the code), 2 usage.
//!
//! PostgreSQL must be running at 127.0.0.1:5432 (user postgres, trust auth; override with
//! CERTGATE_TEST_POSTGRES_URL); the PostgreSQL test fails, saying so, when it is not.

mod common;

use common::Env;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[test]
fn directory_commands_on_sqlite() {
    directory_commands(&Env::sqlite());
}

#[test]
fn directory_commands_on_postgres() {
    directory_commands(&Env::postgres());
}

#[test]
fn csv_import_on_sqlite() {
    csv_import(&Env::sqlite());
}

#[test]
fn sts_refresh_tokens_valid_from_on_sqlite() {
    sts_refresh_tokens_valid_from(&Env::sqlite());
}

#[test]
fn sts_refresh_tokens_valid_from_on_postgres() {
    sts_refresh_tokens_valid_from(&Env::postgres());
}

#[test]
fn binding_and_strength_rules_on_sqlite() {
    binding_and_strength_rules(&Env::sqlite());
}

#[test]
fn access_pass_and_reset_on_sqlite() {
    access_pass_and_reset(&Env::sqlite());
}

#[test]
fn access_pass_and_reset_on_postgres() {
    access_pass_and_reset(&Env::postgres());
}

/// `user access-pass create` prints the pass once and refuses a lifetime out of range;
/// `user reset-second-factor` removes it. The pass's rules (kept as its hash, a new one
/// replaces the old, the lifetime's bounds, the audit of both commands) are certgate-core's
/// tests/access_pass.rs.
fn access_pass_and_reset(env: &Env) {
    env.ok(&["user", "add", "erin@contoso.example"]);
    let before = wall_clock();
    let pass = env.json(
        &[
            "user",
            "access-pass",
            "create",
            "erin@contoso.example",
            "--json",
        ],
        0,
    );
    let text = pass["temporaryAccessPass"]
        .as_str()
        .expect("pass")
        .to_owned();
    assert_eq!(text.replace('-', "").len(), 26, "{text}");
    assert_eq!(pass["lifetimeInMinutes"], 60);
    assert_eq!(pass["isUsableOnce"], true);
    let expires = parse_time(&pass["expiresDateTime"]);
    assert!((before + 3600..=wall_clock() + 3600).contains(&expires));
    // Without --json: the pass once, with what to do with it.
    let printed = env.ok(&[
        "user",
        "access-pass",
        "create",
        "erin@contoso.example",
        "--lifetime",
        "2h30m",
    ]);
    assert!(
        printed.contains("Temporary Access Pass for erin@contoso.example"),
        "{printed}"
    );
    // A lifetime that is no duration is a usage error (exit 2); one out of range is the
    // service's refusal (exit 1; the bounds are certgate-core's tests/access_pass.rs).
    assert_eq!(
        exit_code(
            env,
            &[
                "user",
                "access-pass",
                "create",
                "erin@contoso.example",
                "--lifetime",
                "soon"
            ]
        ),
        Some(2)
    );
    let refused = env.json(
        &[
            "user",
            "access-pass",
            "create",
            "erin@contoso.example",
            "--lifetime",
            "9h",
            "--json",
        ],
        1,
    );
    assert_eq!(refused["code"], "access-pass-lifetime-invalid");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("an access pass lives between 10 and 480 minutes")),
        "{refused}"
    );

    let reset = env.json(
        &[
            "user",
            "reset-second-factor",
            "erin@contoso.example",
            "--json",
        ],
        0,
    );
    assert_eq!(reset["reset"]["accessPassRemoved"], true);
    assert_eq!(reset["reset"]["authenticatorRemoved"], false);
    let printed = env.ok(&["user", "reset-second-factor", "erin@contoso.example"]);
    assert!(printed.contains("Temporary Access Pass none"), "{printed}");
    let refused = env.json(
        &[
            "user",
            "reset-second-factor",
            "nobody@contoso.example",
            "--json",
        ],
        1,
    );
    assert_eq!(refused["code"], "user-not-found");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("nobody@contoso.example")),
        "{refused}"
    );
}

fn exit_code(env: &Env, args: &[&str]) -> Option<i32> {
    env.run(args).status.code()
}

fn parse_time(value: &Value) -> i64 {
    let text = value.as_str().unwrap_or_else(|| panic!("a time: {value}"));
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .unix_timestamp()
}

fn wall_clock() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn directory_commands(env: &Env) {
    let alice = env.json(
        &[
            "user",
            "add",
            "alice@contoso.example",
            "--display-name",
            "Alice Example",
            "--mail",
            "alice@contoso.example",
            "--immutable-id",
            "QWxpY2U=",
            "--proxy-address",
            "SMTP:alice@contoso.example",
            "--proxy-address",
            "smtp:a@contoso.example",
            "--certificate-user-id",
            "X509:<SKI>AB:CD:EF",
            "--group",
            "staff",
            "--json",
        ],
        0,
    );
    assert_eq!(alice["userPrincipalName"], "alice@contoso.example");
    assert_eq!(alice["displayName"], "Alice Example");
    assert_eq!(alice["onPremisesImmutableId"], "QWxpY2U=");
    assert_eq!(alice["mail"], "alice@contoso.example");
    assert_eq!(
        alice["proxyAddresses"],
        serde_json::json!(["SMTP:alice@contoso.example", "smtp:a@contoso.example"])
    );
    assert_eq!(
        alice["authorizationInfo"]["certificateUserIds"],
        serde_json::json!(["X509:<SKI>abcdef"])
    );
    assert_eq!(alice["accountEnabled"], true);
    assert_eq!(alice["signInSessionsValidFromDateTime"], Value::Null);
    assert_eq!(alice["groups"], serde_json::json!(["staff"]));
    let id = alice["id"].as_str().expect("id").to_owned();
    assert_eq!(id.len(), 36);

    // get by UPN (any case) and by object ID.
    assert_eq!(
        env.json(&["user", "get", "ALICE@Contoso.Example", "--json"], 0),
        alice
    );
    assert_eq!(env.json(&["user", "get", &id, "--json"], 0), alice);
    let text = env.ok(&["user", "get", "alice@contoso.example"]);
    assert!(
        text.contains("certificateUserId          X509:<SKI>abcdef"),
        "{text}"
    );

    // A certificateUserIds value is unique across users: refused, naming the holder.
    let refused = env.json(
        &[
            "user",
            "add",
            "bob@contoso.example",
            "--certificate-user-id",
            "X509:<SKI>abcdef",
            "--json",
        ],
        1,
    );
    assert_eq!(refused["code"], "user-certificate-user-id-taken");
    assert!(
        refused["message"]
            .as_str()
            .expect("message")
            .contains("alice@contoso.example"),
        "{refused}"
    );
    let text = env.run(&["user", "add", "ALICE@contoso.example"]);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stderr).contains("(user-upn-taken)"));

    env.json(
        &["user", "add", "bob@contoso.example", "--disabled", "--json"],
        0,
    );

    // set: scalar fields, additions and removals (hex in any case removes the normalized value).
    let changed = env.json(
        &[
            "user",
            "set",
            "alice@contoso.example",
            "--display-name",
            "Alice Z.",
            "--no-mail",
            "--enabled",
            "false",
            "--remove-certificate-user-id",
            "X509:<SKI>ABCDEF",
            "--add-certificate-user-id",
            "X509:<PN>alice@contoso.example",
            "--remove-proxy-address",
            "SMTP:A@contoso.example",
            "--add-group",
            "vpn",
            "--json",
        ],
        0,
    );
    assert_eq!(changed["id"], id.as_str());
    assert_eq!(changed["displayName"], "Alice Z.");
    assert_eq!(changed["mail"], Value::Null);
    assert_eq!(changed["accountEnabled"], false);
    assert_eq!(
        changed["authorizationInfo"]["certificateUserIds"],
        serde_json::json!(["X509:<PN>alice@contoso.example"])
    );
    assert_eq!(
        changed["proxyAddresses"],
        serde_json::json!(["SMTP:alice@contoso.example"])
    );
    assert_eq!(changed["groups"], serde_json::json!(["staff", "vpn"]));
    assert_eq!(env.json(&["user", "get", &id, "--json"], 0), changed);
    // Removing a value the user does not have is refused, and nothing changes.
    let refused = env.json(
        &[
            "user",
            "set",
            &id,
            "--remove-group",
            "nope",
            "--display-name",
            "X",
            "--json",
        ],
        1,
    );
    assert_eq!(refused["code"], "user-field-invalid");
    assert_eq!(env.json(&["user", "get", &id, "--json"], 0), changed);

    let list = env.json(&["user", "list", "--json"], 0);
    let upns: Vec<&str> = list["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|u| u["userPrincipalName"].as_str().expect("upn"))
        .collect();
    assert_eq!(upns, ["alice@contoso.example", "bob@contoso.example"]);

    let removed = env.json(&["user", "remove", "bob@contoso.example", "--json"], 0);
    assert_eq!(
        removed["removed"]["userPrincipalName"],
        "bob@contoso.example"
    );
    let missing = env.json(&["user", "get", "bob@contoso.example", "--json"], 1);
    assert_eq!(missing["code"], "user-not-found");
    assert_eq!(
        env.json(&["user", "remove", "bob@contoso.example", "--json"], 1)["code"],
        "user-not-found"
    );

    // Usage errors exit 2.
    assert_eq!(exit_code(env, &["user", "add"]), Some(2));
    assert_eq!(
        exit_code(env, &["user", "set", &id, "--enabled", "maybe"]),
        Some(2)
    );

    // Every change is in the audit log with the actor.
    let audit = env.json(&["audit", "--json", "--limit", "20"], 0);
    let actions: Vec<&str> = audit
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    for action in ["user.add", "user.set", "user.remove"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(audit[0]["actor"]
        .as_str()
        .expect("actor")
        .starts_with("cli:"));
}

fn csv_import(env: &Env) {
    env.json(
        &[
            "user",
            "add",
            "existing@contoso.example",
            "--certificate-user-id",
            "X509:<SKI>0badc0de",
            "--json",
        ],
        0,
    );
    let csv = env.path("users.csv");
    std::fs::write(
        &csv,
        "userPrincipalName,displayName,mail,proxyAddresses,certificateUserIds,accountEnabled,groups\n\
         alice@contoso.example,Alice,alice@contoso.example,SMTP:alice@contoso.example;smtp:al@contoso.example,X509:<SKI>01;X509:<PN>alice@contoso.example,true,staff;vpn\n\
         no-at-sign,Broken,,,,true,\n\
         bob@contoso.example,Bob,,,X509:<SKI>0BADC0DE,true,\n\
         carol@contoso.example,\"Carol, Jr.\",,,,false,\n\
         dave@contoso.example,Dave,,,,perhaps,\n",
    )
    .expect("write CSV");
    let csv = csv.to_str().expect("utf-8 path");
    let report = env.json(&["user", "import", csv, "--json"], 1);
    assert_eq!(report["added"], 2);
    assert_eq!(report["refused"], 3);
    let rows: Vec<(i64, bool, String)> = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["row"].as_i64().expect("row number"),
                row["ok"].as_bool().expect("ok"),
                row["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (2, true, String::new()),
            (3, false, "user-upn-invalid".into()),
            (4, false, "user-certificate-user-id-taken".into()),
            (5, true, String::new()),
            (6, false, "user-field-invalid".into()),
        ]
    );
    let alice = env.json(&["user", "get", "alice@contoso.example", "--json"], 0);
    assert_eq!(
        alice["authorizationInfo"]["certificateUserIds"],
        serde_json::json!(["X509:<SKI>01", "X509:<PN>alice@contoso.example"])
    );
    assert_eq!(alice["groups"], serde_json::json!(["staff", "vpn"]));
    let carol = env.json(&["user", "get", "carol@contoso.example", "--json"], 0);
    assert_eq!(carol["displayName"], "Carol, Jr.");
    assert_eq!(carol["accountEnabled"], false);
    assert_eq!(
        env.json(&["user", "list", "--json"], 0)["value"]
            .as_array()
            .expect("value")
            .len(),
        3
    );

    // The text report names every row; importing again refuses every row (already there)
    // and adds nothing.
    let output = env.run(&["user", "import", csv]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("row    2  REFUSED  alice@contoso.example"),
        "{text}"
    );
    assert!(text.contains("(user-upn-taken)"), "{text}");
    assert!(text.contains("0 users added, 5 rows refused"), "{text}");

    // A header certgate does not know refuses the whole file: nothing is dropped silently.
    let bad_header = env.path("bad.csv");
    std::fs::write(
        &bad_header,
        "userPrincipalName,department\nerin@contoso.example,Sales\n",
    )
    .expect("write CSV");
    let refused = env.json(
        &[
            "user",
            "import",
            bad_header.to_str().expect("utf-8 path"),
            "--json",
        ],
        1,
    );
    assert_eq!(refused["code"], "import-header-invalid");
    assert_eq!(
        env.json(&["user", "get", "erin@contoso.example", "--json"], 1)["code"],
        "user-not-found"
    );
}

fn sts_refresh_tokens_valid_from(env: &Env) {
    env.json(&["user", "add", "alice@contoso.example", "--json"], 0);

    // A date that is not in the future: refused, nothing changes (the rule is certgate-core's
    // tests/directory.rs).
    let refused = env.json(
        &[
            "user",
            "set-sts-refresh-tokens-valid-from",
            "alice@contoso.example",
            "2020-06-01T12:00:00Z",
            "--json",
        ],
        1,
    );
    assert_eq!(refused["code"], "sts-date-not-in-future");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("StsRefreshTokensValidFrom must be a date in the future")),
        "{refused}"
    );
    let alice = env.json(&["user", "get", "alice@contoso.example", "--json"], 0);
    assert_eq!(alice["signInSessionsValidFromDateTime"], Value::Null);

    // A future date stores *now*, not the date.
    let future = (OffsetDateTime::now_utc() + time::Duration::days(30))
        .format(&Rfc3339)
        .expect("format");
    let before = wall_clock();
    let set = env.json(
        &[
            "user",
            "set-sts-refresh-tokens-valid-from",
            "alice@contoso.example",
            &future,
            "--json",
        ],
        0,
    );
    let after = wall_clock();
    let stored = parse_time(&set["signInSessionsValidFromDateTime"]);
    assert!(
        (before..=after).contains(&stored),
        "{stored} not between {before} and {after} (the date given was {future})"
    );
    let alice = env.json(&["user", "get", "alice@contoso.example", "--json"], 0);
    assert_eq!(
        parse_time(&alice["signInSessionsValidFromDateTime"]),
        stored
    );

    // revoke-sessions stores now directly.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let before = wall_clock();
    let revoked = env.json(
        &["user", "revoke-sessions", "alice@contoso.example", "--json"],
        0,
    );
    let after = wall_clock();
    let revoked_at = parse_time(&revoked["signInSessionsValidFromDateTime"]);
    assert!((before..=after).contains(&revoked_at));
    assert!(revoked_at > stored);
    let text = env.ok(&["user", "revoke-sessions", "alice@contoso.example"]);
    assert!(
        text.contains("revoked the refresh tokens and sessions of alice@contoso.example"),
        "{text}"
    );

    // Not a date: usage (2); no such user: refused (1).
    assert_eq!(
        exit_code(
            env,
            &[
                "user",
                "set-sts-refresh-tokens-valid-from",
                "alice@contoso.example",
                "next week"
            ]
        ),
        Some(2)
    );
    assert_eq!(
        env.json(
            &[
                "user",
                "revoke-sessions",
                "nobody@contoso.example",
                "--json"
            ],
            1
        )["code"],
        "user-not-found"
    );
    let audit = env.json(&["audit", "--json", "--limit", "5"], 0);
    assert_eq!(audit[0]["action"], "user.revoke-sessions");
    assert!(audit
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["action"] == "user.set-sts-refresh-tokens-valid-from"));
}

fn binding_and_strength_rules(env: &Env) {
    let defaults = env.json(&["binding", "list", "--json"], 0);
    assert_eq!(defaults["usesDefaultBindings"], true);
    assert_eq!(
        defaults["x509CertificateDefaultRequiredAffinityLevel"],
        "low"
    );
    let fields: Vec<(&str, &str)> = defaults["certificateUserBindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .map(|b| {
            (
                b["x509CertificateField"].as_str().expect("field"),
                b["userProperty"].as_str().expect("property"),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("PrincipalName", "userPrincipalName"),
            ("RFC822Name", "userPrincipalName"),
            ("SubjectKeyIdentifier", "certificateUserIds"),
            ("SHA1PublicKey", "certificateUserIds"),
        ]
    );

    let rule = env.json(
        &[
            "binding",
            "add",
            "--field",
            "issuerandserialnumber",
            "--attribute",
            "certificateUserIds",
            "--json",
        ],
        0,
    );
    assert_eq!(rule["priority"], 1);
    assert_eq!(rule["trustAffinityLevel"], "high");
    env.json(
        &[
            "binding",
            "add",
            "--field",
            "RFC822Name",
            "--attribute",
            "proxyAddresses",
            "--priority",
            "5",
            "--json",
        ],
        0,
    );
    let taken = env.json(
        &[
            "binding",
            "add",
            "--field",
            "PrincipalName",
            "--attribute",
            "userPrincipalName",
            "--priority",
            "5",
            "--json",
        ],
        1,
    );
    assert_eq!(taken["code"], "binding-priority-taken");
    assert!(
        taken["message"]
            .as_str()
            .is_some_and(|m| m.contains("priority 5 is already used by")),
        "{taken}"
    );
    assert_eq!(
        exit_code(
            env,
            &[
                "binding",
                "add",
                "--field",
                "Thumbprint",
                "--attribute",
                "certificateUserIds"
            ]
        ),
        Some(2)
    );
    env.json(&["binding", "set-default-affinity", "high", "--json"], 0);
    let policy = env.json(&["binding", "list", "--json"], 0);
    assert_eq!(policy["usesDefaultBindings"], false);
    assert_eq!(
        policy["x509CertificateDefaultRequiredAffinityLevel"],
        "high"
    );
    assert_eq!(
        policy["certificateUserBindings"]
            .as_array()
            .expect("rules")
            .len(),
        2
    );
    let text = env.ok(&["binding", "list"]);
    assert!(text.contains("(skipped)"), "{text}");
    env.json(&["binding", "remove", "5", "--json"], 0);
    assert_eq!(
        env.json(&["binding", "remove", "5", "--json"], 1)["code"],
        "binding-rule-not-found"
    );

    let rule = env.json(
        &[
            "strength",
            "add",
            "--issuer",
            "CN=Contoso Issuing CA, O=Contoso",
            "--policy-oid",
            "1.3.6.1.4.1.311.21.8.1",
            "--strength",
            "multi-factor",
            "--json",
        ],
        0,
    );
    assert_eq!(rule["x509CertificateRuleType"], "issuerSubjectAndPolicyOID");
    assert_eq!(
        rule["issuerSubjectIdentifier"],
        "CN=Contoso Issuing CA, O=Contoso"
    );
    assert_eq!(
        rule["x509CertificateAuthenticationMode"],
        "x509CertificateMultiFactor"
    );
    let by_ski = env.json(
        &[
            "strength",
            "add",
            "--issuer",
            "0A:1B",
            "--strength",
            "single-factor",
            "--json",
        ],
        0,
    );
    assert_eq!(by_ski["x509CertificateRuleType"], "issuerSubject");
    assert_eq!(by_ski["issuerSubjectKeyIdentifier"], "0a1b");
    let duplicate = env.json(
        &[
            "strength",
            "add",
            "--issuer",
            "0a1b",
            "--strength",
            "multi-factor",
            "--json",
        ],
        1,
    );
    assert_eq!(duplicate["code"], "strength-rule-duplicate");
    assert!(
        duplicate["message"]
            .as_str()
            .is_some_and(|m| m.contains("already applies to")),
        "{duplicate}"
    );
    let list = env.json(&["strength", "list", "--json"], 0);
    assert_eq!(list["rules"].as_array().expect("rules").len(), 2);
    let id = by_ski["id"].as_i64().expect("id").to_string();
    env.json(&["strength", "remove", &id, "--json"], 0);
    assert_eq!(
        env.json(&["strength", "remove", &id, "--json"], 1)["code"],
        "strength-rule-not-found"
    );
}
