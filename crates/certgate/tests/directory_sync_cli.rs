//! `certgate directory status|sync` end to end, against a real Samba AD DC (the harness of
//! certgate-ldap's tests, one DC per test binary, serialised across test processes by its lock
//! file) and certgate on SQLite and on PostgreSQL: a dry run changes nothing, a sync adds the
//! accounts and reports a bad entry with its DN and reason, a second sync is a no-op, an
//! account deleted in AD is disabled at once and removed after the grace period, a wrong bind
//! password fails the run with its code and changes nothing; and `serve`'s scheduled sync on
//! two nodes, and its retry of a failed run 30 s later rather than one interval later.
//!
//! Needs root (Samba binds ports 389 and 636), Samba and ldap-utils, and PostgreSQL at
//! 127.0.0.1:5432 (or CERTGATE_TEST_POSTGRES_URL).

mod common;
#[path = "../../certgate-ldap/tests/samba_dc/mod.rs"]
mod samba_dc;

use std::time::{Duration, Instant};

use common::Env;
use serde_json::Value;

/// Long enough for two syncs to run within it on a loaded machine; short enough to wait out.
const REMOVAL_GRACE_SECONDS: u64 = 10;

#[test]
fn directory_sync_against_samba_on_sqlite() {
    directory_sync(&Env::sqlite(), "sq", "01");
}

#[test]
fn directory_sync_against_samba_on_postgres() {
    directory_sync(&Env::postgres(), "pg", "02");
}

/// The accounts of one test, in an OU of its own (`OU=CliSync-<tag>`) so that the tests share
/// the DC but not its entries: erin (enabled, proxy addresses and a certificate mapping with
/// the subject key identifier `0a0b0c0d<ski_byte>`), frank (enabled), gina (disabled in AD)
/// and henry (an altSecurityIdentities value that does not parse); erin is in the group G1,
/// and G1 in G2. Returns the OU's DN.
fn add_accounts(dc: &samba_dc::SambaDc, tag: &str, ski_byte: &str) -> String {
    let base = format!("OU=CliSync-{tag},{}", samba_dc::BASE_DN);
    dc.ldapmodify(&format!(
        "dn: {base}\nchangetype: add\nobjectClass: organizationalUnit\n\n\
         dn: CN=erin,{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: erin-{tag}\n\
         userPrincipalName: erin.{tag}@certgate.test\ndisplayName: Erin Example\n\
         mail: erin.{tag}@certgate.test\n\
         proxyAddresses: SMTP:erin.{tag}@certgate.test\n\
         altSecurityIdentities: X509:<SKI>0A0B0C0D{ski_byte}\nuserAccountControl: 512\n\n\
         dn: CN=frank,{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: frank-{tag}\n\
         userPrincipalName: frank.{tag}@certgate.test\nuserAccountControl: 512\n\n\
         dn: CN=gina,{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: gina-{tag}\n\
         userPrincipalName: gina.{tag}@certgate.test\nuserAccountControl: 514\n\n\
         dn: CN=henry,{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: henry-{tag}\n\
         userPrincipalName: henry.{tag}@certgate.test\n\
         altSecurityIdentities: X509:<SKI>not-hex\nuserAccountControl: 512\n\n\
         dn: CN=G1,{base}\nchangetype: add\nobjectClass: group\nsAMAccountName: g1-{tag}\n\
         member: CN=erin,{base}\n\n\
         dn: CN=G2,{base}\nchangetype: add\nobjectClass: group\nsAMAccountName: g2-{tag}\n\
         member: CN=G1,{base}\n\n"
    ));
    base
}

fn write_config(env: &Env, dc: &samba_dc::SambaDc, base: &str, password_file: &std::path::Path) {
    let data = env.dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data directory");
    std::fs::write(
        data.join("certgate.toml"),
        format!(
            "[directory.ldap]\n\
             url = \"ldaps://127.0.0.1\"\n\
             ca_file = \"{}\"\n\
             bind_dn = \"{}\"\n\
             bind_password_file = \"{}\"\n\
             base_dn = \"{base}\"\n\
             removal_grace_seconds = {REMOVAL_GRACE_SECONDS}\n",
            dc.ca_file.display(),
            dc.admin_bind_dn(),
            password_file.display()
        ),
    )
    .expect("write certgate.toml");
}

fn upns(env: &Env) -> Vec<(String, bool)> {
    let list = env.json(&["user", "list", "--json"], 0);
    let mut users: Vec<(String, bool)> = list["value"]
        .as_array()
        .expect("users")
        .iter()
        .map(|user| {
            (
                user["userPrincipalName"].as_str().expect("UPN").to_owned(),
                user["accountEnabled"].as_bool().expect("enabled"),
            )
        })
        .collect();
    users.sort();
    users
}

fn actions(report: &Value) -> Vec<String> {
    let mut actions: Vec<String> = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|change| {
            format!(
                "{} {}",
                change["action"].as_str().expect("action"),
                change["userPrincipalName"].as_str().expect("UPN")
            )
        })
        .collect();
    actions.sort();
    actions
}

fn directory_sync(env: &Env, tag: &str, ski_byte: &str) {
    let dc = samba_dc::dc();
    let base = add_accounts(dc, tag, ski_byte);
    let upn = |name: &str| format!("{name}.{tag}@certgate.test");
    write_config(env, dc, &base, &dc.admin_password_file);
    env.ok(&["user", "add", "local.admin@certgate.test"]);

    let status = env.json(&["directory", "status", "--json"], 0);
    assert_eq!(status["configured"], true);
    assert_eq!(status["baseDn"], base.as_str());
    assert_eq!(status["lastRun"], Value::Null);

    // A dry run prints the diff and changes nothing, not even the status.
    let dry = env.json(&["directory", "sync", "--dry-run", "--json"], 0);
    assert_eq!(dry["dryRun"], true);
    assert_eq!(
        actions(&dry),
        [
            format!("add {}", upn("erin")),
            format!("add {}", upn("frank")),
            format!("add {}", upn("gina")),
        ]
    );
    let skipped = dry["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["dn"], format!("CN=henry,{base}"));
    assert_eq!(
        skipped[0]["code"],
        "directory-entry-certificate-mapping-unparseable"
    );
    assert_eq!(upns(env), [("local.admin@certgate.test".to_owned(), true)]);
    let status = env.json(&["directory", "status", "--json"], 0);
    assert_eq!(status["lastRun"], Value::Null);
    let text = env.ok(&["directory", "sync", "--dry-run"]);
    assert!(text.starts_with("dry run: nothing was changed\n"), "{text}");
    assert!(
        text.contains(&format!(
            "skipped  CN=henry,{base}: the certificate mapping \"X509:<SKI>not-hex\""
        )),
        "{text}"
    );
    assert!(
        text.contains("(directory-entry-certificate-mapping-unparseable)"),
        "{text}"
    );

    // The sync itself: the accounts are added (gina disabled, as in AD), henry is skipped.
    let first = env.json(&["directory", "sync", "--json"], 0);
    assert_eq!(first["dryRun"], false);
    // No mark yet: a full run, which leaves one.
    assert_eq!(first["scope"], "full");
    assert_eq!(first["fullSyncReason"], "no-mark");
    assert!(
        first["changeMark"]["highestCommittedUsn"]
            .as_u64()
            .is_some(),
        "{first}"
    );
    assert_eq!(actions(&first), actions(&dry));
    assert_eq!(first["counts"]["entries"], 4);
    assert_eq!(first["counts"]["skipped"], 1);
    assert_eq!(
        upns(env),
        [
            (upn("erin"), true),
            (upn("frank"), true),
            (upn("gina"), false),
            ("local.admin@certgate.test".to_owned(), true),
        ]
    );
    let erin = env.json(&["user", "get", &upn("erin"), "--json"], 0);
    assert_eq!(erin["displayName"], "Erin Example");
    assert_eq!(
        erin["authorizationInfo"]["certificateUserIds"],
        serde_json::json!([format!("X509:<SKI>0a0b0c0d{ski_byte}")])
    );
    assert_eq!(
        erin["proxyAddresses"],
        serde_json::json!([format!("SMTP:{}", upn("erin"))])
    );
    // G1 directly, G2 through G1; none assigned in certgate.
    assert_eq!(erin["directoryGroups"], serde_json::json!(["G1", "G2"]));
    assert_eq!(erin["groups"], serde_json::json!([]));
    let audit = env.ok(&["audit", "--limit", "20"]);
    assert_eq!(
        audit
            .lines()
            .filter(|line| line.contains("directory-sync") && line.contains("user.add"))
            .count(),
        3,
        "{audit}"
    );

    // Attributes that come from AD are not edited by hand; groups, certgate's own, are.
    let refused = env.json(
        &[
            "user",
            "set",
            &upn("erin"),
            "--display-name",
            "Erin E.",
            "--json",
        ],
        1,
    );
    assert_eq!(refused["code"], "user-attribute-from-directory");
    let refused = env.json(
        &["user", "set", &upn("gina"), "--enabled", "true", "--json"],
        1,
    );
    assert_eq!(refused["code"], "user-attribute-from-directory");
    let grouped = env.json(
        &[
            "user",
            "set",
            &upn("erin"),
            "--add-group",
            "vpn-users",
            "--json",
        ],
        0,
    );
    assert_eq!(grouped["groups"], serde_json::json!(["vpn-users"]));
    assert_eq!(grouped["directoryGroups"], serde_json::json!(["G1", "G2"]));
    assert_eq!(grouped["onPremisesSyncEnabled"], true);
    assert_eq!(
        grouped["onPremisesDistinguishedName"],
        format!("CN=erin,{base}")
    );
    let shown = env.ok(&["user", "get", &upn("erin")]);
    assert!(
        shown.contains(&format!("synchronised from          CN=erin,{base}")),
        "{shown}"
    );
    env.ok(&[
        "user",
        "set",
        "local.admin@certgate.test",
        "--display-name",
        "Admin",
    ]);

    // Nothing changed in AD: a second sync is a no-op (and keeps erin's groups).
    let second = env.json(&["directory", "sync", "--json"], 0);
    assert_eq!(actions(&second), Vec::<String>::new());
    assert_eq!(second["counts"]["skipped"], 1);
    // Incremental: only henry, whom no user holds, is read again (and skipped again).
    assert_eq!(second["scope"], "incremental");
    assert_eq!(second["fullSyncReason"], Value::Null);
    assert_eq!(second["counts"]["entries"], 1);
    assert_eq!(second["entriesListed"], 4);
    let status = env.json(&["directory", "status", "--json"], 0);
    assert_eq!(status["incrementalSync"], true);
    assert_eq!(status["fullSyncIntervalSeconds"], 86_400);
    assert_eq!(status["lastRun"]["scope"], "incremental");
    assert_eq!(status["changeMark"], second["changeMark"]);
    let forced = env.json(&["directory", "sync", "--full", "--json"], 0);
    assert_eq!(forced["scope"], "full");
    assert_eq!(forced["fullSyncReason"], "requested");
    assert_eq!(forced["counts"]["entries"], 4);
    assert_eq!(actions(&forced), Vec::<String>::new());
    let erin = env.json(&["user", "get", &upn("erin"), "--json"], 0);
    assert_eq!(erin["groups"], serde_json::json!(["vpn-users"]));

    // erin leaves G1 (and with it G2) and joins G3 in AD: an update of her directory groups
    // alone, named in its audit event; the group assigned in certgate stays.
    dc.ldapmodify(&format!(
        "dn: CN=G1,{base}\nchangetype: modify\ndelete: member\nmember: CN=erin,{base}\n-\n\n\
         dn: CN=G3,{base}\nchangetype: add\nobjectClass: group\nsAMAccountName: g3-{tag}\n\
         member: CN=erin,{base}\n\n"
    ));
    let dry = env.ok(&["directory", "sync", "--dry-run"]);
    assert!(
        dry.contains(&format!(
            "update   {}: directoryGroups -> [G3]  (CN=erin,{base})",
            upn("erin")
        )),
        "{dry}"
    );
    let regrouped = env.json(&["directory", "sync", "--json"], 0);
    assert_eq!(actions(&regrouped), [format!("update {}", upn("erin"))]);
    assert_eq!(
        regrouped["changes"][0]["changed"],
        serde_json::json!(["directoryGroups"])
    );
    let erin = env.json(&["user", "get", &upn("erin"), "--json"], 0);
    assert_eq!(erin["groups"], serde_json::json!(["vpn-users"]));
    assert_eq!(erin["directoryGroups"], serde_json::json!(["G3"]));
    let shown = env.ok(&["user", "get", &upn("erin")]);
    assert!(shown.contains("directoryGroups            G3\n"), "{shown}");
    let audit = env.ok(&["audit", "--limit", "5"]);
    assert!(
        audit.lines().any(|line| line.contains("directory-sync")
            && line.contains("directoryGroups: joined [G3], left [G1, G2]")),
        "{audit}"
    );

    // frank is deleted in AD: disabled at once, kept for the grace period, then removed.
    dc.ldapmodify(&format!("dn: CN=frank,{base}\nchangetype: delete\n\n"));
    let deleted_at = Instant::now();
    let third = env.json(&["directory", "sync", "--json"], 0);
    assert_eq!(actions(&third), [format!("disable {}", upn("frank"))]);
    let frank = env.json(&["user", "get", &upn("frank"), "--json"], 0);
    assert_eq!(frank["accountEnabled"], false);
    let within = env.json(&["directory", "sync", "--json"], 0);
    assert!(
        deleted_at.elapsed() < Duration::from_secs(REMOVAL_GRACE_SECONDS),
        "the machine is too slow for this test's grace period"
    );
    assert_eq!(actions(&within), Vec::<String>::new());
    std::thread::sleep(
        Duration::from_secs(REMOVAL_GRACE_SECONDS + 1).saturating_sub(deleted_at.elapsed()),
    );
    let past = env.json(&["directory", "sync", "--json"], 0);
    assert_eq!(actions(&past), [format!("remove {}", upn("frank"))]);
    let gone = env.json(&["user", "get", &upn("frank"), "--json"], 1);
    assert_eq!(gone["code"], "user-not-found");

    let status = env.json(&["directory", "status", "--json"], 0);
    assert_eq!(status["lastRun"]["result"], "completed");
    assert_eq!(status["lastRun"]["counts"]["removed"], 1);
    let text = env.ok(&["directory", "status"]);
    assert!(
        text.contains(
            "incremental completed: 1 entries: 0 added, 0 updated, 0 disabled, 1 removed, 1 skipped, 0 failed"
        ),
        "{text}"
    );

    // A wrong bind password: the run fails with its code, is recorded, and changes nothing.
    let wrong = env.path("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").expect("write the wrong password");
    write_config(env, dc, &base, &wrong);
    let refused = env.json(&["directory", "sync", "--json"], 1);
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["code"], "directory-source-bind-rejected");
    let status = env.json(&["directory", "status", "--json"], 0);
    assert_eq!(status["lastRun"]["result"], "failed");
    assert_eq!(status["lastRun"]["code"], "directory-source-bind-rejected");
    assert_eq!(status["lastCompletedRun"]["counts"]["removed"], 1);
    assert_eq!(
        upns(env),
        [
            (upn("erin"), true),
            (upn("gina"), false),
            ("local.admin@certgate.test".to_owned(), true),
        ]
    );
}

/// Two `serve` nodes on one PostgreSQL database, each with the directory source and a
/// 10-second interval: the accounts arrive without anyone running `directory sync`, each added
/// once, and the runs are recorded. (That two nodes never apply a sync at once is the store
/// suite's `two_nodes_never_hold_the_sync_lock_at_once`, on both databases.)
#[test]
fn two_serve_nodes_bring_the_accounts_on_schedule() {
    let env = Env::postgres();
    let dc = samba_dc::dc();
    let base = add_accounts(dc, "sv", "03");
    write_config(&env, dc, &base, &dc.admin_password_file);
    let config = env.dir.path().join("data/certgate.toml");
    let mut text = std::fs::read_to_string(&config).expect("certgate.toml");
    text.push_str("sync_interval_seconds = 10\n");
    std::fs::write(&config, text).expect("certgate.toml");

    let _first = env.serve();
    let second_port = common::free_port();
    let _second = env.serve_with(&[("CERTGATE_LISTEN", format!("127.0.0.1:{second_port}"))]);
    let expected = [
        ("erin.sv@certgate.test".to_owned(), true),
        ("frank.sv@certgate.test".to_owned(), true),
        ("gina.sv@certgate.test".to_owned(), false),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    while upns(&env) != expected {
        assert!(
            Instant::now() < deadline,
            "the scheduled sync did not bring the accounts"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Let both nodes' schedules come round again at least once.
    std::thread::sleep(Duration::from_secs(12));
    let status = env.json(&["directory", "status", "--json"], 0);
    assert_eq!(status["lastRun"]["result"], "completed");
    assert_eq!(status["syncIntervalSeconds"], 10);
    let audit = env.ok(&["audit", "--limit", "200"]);
    assert_eq!(
        audit
            .lines()
            .filter(|line| line.contains("directory-sync") && line.contains("user.add"))
            .count(),
        3,
        "{audit}"
    );
    assert_eq!(upns(&env), expected);
}

/// `serve` with a wrong bind password and an hour's interval: the first scheduled run fails
/// at start and is tried again about 30 s later (the first step of the backoff), not an
/// hour later; both failures are recorded with their code and nothing is added.
#[test]
fn a_failed_scheduled_sync_is_retried_after_thirty_seconds() {
    let env = Env::sqlite();
    let dc = samba_dc::dc();
    let base = add_accounts(dc, "bo", "04");
    let wrong = env.path("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").expect("write the wrong password");
    write_config(&env, dc, &base, &wrong);
    let config = env.dir.path().join("data/certgate.toml");
    let mut text = std::fs::read_to_string(&config).expect("certgate.toml");
    text.push_str("sync_interval_seconds = 3600\n");
    std::fs::write(&config, text).expect("certgate.toml");

    let _server = env.serve();
    let last_failed_run = || {
        let status = env.json(&["directory", "status", "--json"], 0);
        if status["lastRun"]["result"] != "failed" {
            return None;
        }
        assert_eq!(status["lastRun"]["code"], "directory-source-bind-rejected");
        Some(status["lastRun"]["startedDateTime"].as_str()?.to_owned())
    };
    let wait_for = |previous: Option<&str>, within: Duration| {
        let deadline = Instant::now() + within;
        loop {
            if let Some(started) = last_failed_run() {
                if Some(started.as_str()) != previous {
                    return (started, Instant::now());
                }
            }
            assert!(
                Instant::now() < deadline,
                "no new failed run within {within:?} after {previous:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    let (first, first_seen) = wait_for(None, Duration::from_secs(30));
    let (second, second_seen) = wait_for(Some(&first), Duration::from_secs(60));
    let gap = second_seen - first_seen;
    // 30 s, give or take a check period's second, the CLI's polling and the bind itself.
    assert!(
        gap >= Duration::from_secs(27) && gap <= Duration::from_secs(45),
        "retried {gap:?} after the first failure ({first} then {second})"
    );
    assert!(upns(&env).is_empty(), "{:?}", upns(&env));
}
