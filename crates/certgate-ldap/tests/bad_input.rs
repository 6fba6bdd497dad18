//! Issue 16's "bad input" against a real Samba AD DC (see `samba_dc`), each sync a whole
//! `synchronize` into a SQLite store as `certgate directory sync` runs it:
//!
//! - a connection that breaks in the middle of the paged search (closed, stalled, or trickling
//!   its bytes; `faulty_proxy` between certgate and the DC) fails the run with its code,
//!   applies nothing and records the failure; the next healthy sync applies everything;
//! - hostile attribute values written into AD (control characters, a ~1 MB value, thousands
//!   of values, non-UTF-8 bytes, certificate mappings that are garbage or huge, a UPN with
//!   spaces) skip their entry with its DN and code; the other entries are applied and the
//!   skipped entries' users keep what the last sync gave them.

mod faulty_proxy;
mod samba_dc;

use std::process::Command;
use std::time::{Duration, Instant};

use certgate_core::audit::AuditLog;
use certgate_core::clock::SystemClock;
use certgate_core::directory::{User, UserStore};
use certgate_core::directory_source::{
    synchronize, AttributeMap, DirectorySource, SyncError, SyncMode, SyncReport, SyncRun,
    SyncRunResult, SyncRunStore, SyncSettings,
};
use certgate_ldap::{LdapDirectory, LdapSourceConfig, PasswordSource, Transport};
use certgate_store::SqlStore;

use faulty_proxy::{Fault, FaultyProxy};
use samba_dc::{dc, SambaDc, ADMIN_PASSWORD, BASE_DN};

/// A page of 5 entries: the 12 accounts of a test OU take three pages, so a read broken in
/// its second half is broken between two pages' cookies.
const PAGE_SIZE: u32 = 5;

fn config(dc: &SambaDc, url: &str, base_dn: &str) -> LdapSourceConfig {
    LdapSourceConfig {
        page_size: PAGE_SIZE,
        group_base_dn: Some(base_dn.to_owned()),
        ..LdapSourceConfig::new(
            url,
            Transport::Ldaps,
            &dc.ca_file,
            dc.admin_bind_dn(),
            PasswordSource::File(dc.admin_password_file.clone()),
            base_dn,
        )
    }
}

fn settings(attributes: AttributeMap) -> SyncSettings {
    SyncSettings {
        attributes,
        removal_grace: SyncSettings::DEFAULT_REMOVAL_GRACE,
    }
}

/// A fresh SQLite store of this test's own.
async fn store(dc: &SambaDc, name: &str) -> SqlStore {
    let path = dc.dir.join(format!("{name}.sqlite"));
    let _ = std::fs::remove_file(&path);
    SqlStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open the SQLite store")
}

async fn sync(
    store: &SqlStore,
    config: LdapSourceConfig,
    settings: &SyncSettings,
) -> Result<SyncReport, SyncError> {
    let source = LdapDirectory::new(config).expect("the LDAP source");
    synchronize(
        &source,
        store,
        settings,
        SyncMode::Apply,
        &SystemClock,
        "directory-sync",
        &mut |_| {},
    )
    .await
}

/// Everything a sync may change: the users (with their directory groups), the audit events,
/// and the last completed run.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<User>,
    audit_events: usize,
    last_completed: Option<SyncRun>,
}

async fn snapshot(store: &SqlStore) -> Snapshot {
    let mut users = store.list_users().await.expect("users");
    users.sort_by(|a, b| a.upn.as_str().cmp(b.upn.as_str()));
    Snapshot {
        users,
        audit_events: store.audit_events(100_000).await.expect("audit").len(),
        last_completed: store.sync_status().await.expect("status").last_completed,
    }
}

/// `ldapmodify` over LDAPS as Administrator; `Err` with its output when the DC refuses.
fn try_ldapmodify(dc: &SambaDc, name: &str, ldif: &str) -> Result<(), String> {
    let path = dc.dir.join(format!("bad-input-{name}.ldif"));
    std::fs::write(&path, ldif).expect("write the LDIF");
    let output = Command::new("ldapmodify")
        .env("LDAPTLS_CACERT", &dc.ca_file)
        .env("LDAPTLS_REQCERT", "demand")
        .args(["-H", "ldaps://127.0.0.1", "-D", &dc.admin_bind_dn()])
        .args(["-w", ADMIN_PASSWORD, "-f"])
        .arg(&path)
        .output()
        .expect("run ldapmodify");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn ldapmodify(dc: &SambaDc, name: &str, ldif: &str) {
    if let Err(output) = try_ldapmodify(dc, name, ldif) {
        panic!("the DC refused {name}: {output}");
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Where Samba's LDAPS listens.
fn dc_ldaps() -> std::net::SocketAddr {
    (std::net::Ipv4Addr::LOCALHOST, 636).into()
}

/// The failed run is recorded with `code` and the store holds what it held before.
async fn assert_nothing_applied(store: &SqlStore, before: &Snapshot, code: &str) {
    assert_eq!(
        &snapshot(store).await,
        before,
        "the failed run changed the store"
    );
    let status = store.sync_status().await.expect("status");
    match status.last_run.map(|run| run.result) {
        Some(SyncRunResult::Failed { code: recorded, .. }) => assert_eq!(recorded, code),
        other => panic!("the last run is not the failed one: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_breaks_mid_search_applies_nothing_and_the_next_sync_applies_all() {
    let dc = dc();
    let base = format!("OU=Cursor,{BASE_DN}");
    // 12 accounts (three pages), cursor01 and cursor02 in a group.
    let mut ldif = format!("dn: {base}\nchangetype: add\nobjectClass: organizationalUnit\n\n");
    for index in 1..=12 {
        ldif.push_str(&format!(
            "dn: CN=cursor{index:02},{base}\nchangetype: add\nobjectClass: user\n\
             sAMAccountName: cursor{index:02}\nuserPrincipalName: cursor{index:02}@certgate.test\n\
             displayName: Cursor {index}\nuserAccountControl: 514\n\n"
        ));
    }
    ldif.push_str(&format!(
        "dn: CN=CursorGroup,{base}\nchangetype: add\nobjectClass: group\n\
         sAMAccountName: cursor-group\nmember: CN=cursor01,{base}\nmember: CN=cursor02,{base}\n\n"
    ));
    ldapmodify(dc, "cursor-fixtures", &ldif);

    let store = store(dc, "cursor").await;
    let settings = settings(AttributeMap::active_directory());
    let direct = config(dc, "ldaps://127.0.0.1", &base);
    let first = sync(&store, direct.clone(), &settings)
        .await
        .expect("the first sync");
    assert_eq!(first.counts().added, 12);

    // The directory changes: three renames, a deletion, a new account, a new member.
    let mut changes = String::new();
    for index in 3..=5 {
        changes.push_str(&format!(
            "dn: CN=cursor{index:02},{base}\nchangetype: modify\nreplace: displayName\n\
             displayName: Renamed {index}\n-\n\n"
        ));
    }
    changes.push_str(&format!(
        "dn: CN=cursor06,{base}\nchangetype: delete\n\n\
         dn: CN=cursor13,{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: cursor13\n\
         userPrincipalName: cursor13@certgate.test\nuserAccountControl: 514\n\n\
         dn: CN=CursorGroup,{base}\nchangetype: modify\nadd: member\n\
         member: CN=cursor07,{base}\n-\n\n"
    ));
    ldapmodify(dc, "cursor-changes", &changes);
    let before = snapshot(&store).await;

    // How many bytes the DC sends for the connection, bind and users' search: a healthy read
    // through the proxy, counted.
    let proxy = FaultyProxy::start(dc_ldaps()).await;
    let through_proxy = config(dc, &proxy.ldaps_url(), &base);
    let source = LdapDirectory::new(through_proxy.clone()).expect("source");
    let entries = source
        .read_entries(&settings.attributes.requested_attributes())
        .await
        .expect("a healthy read through the proxy");
    assert_eq!(entries.len(), 12);
    let read_bytes = proxy.bytes_from_server();
    source.end_read().await;
    // Two thirds in: past the handshake and bind, among the search's pages.
    let cut = read_bytes * 2 / 3;

    // (a) The connection closes in the middle of the search.
    proxy.set_fault(Fault::CloseAfter(cut));
    let error = sync(&store, through_proxy.clone(), &settings)
        .await
        .expect_err("a closed connection fails the run");
    assert_eq!(error.code(), "directory-source-connection-lost", "{error}");
    assert!(error.to_string().contains("during the search"), "{error}");
    assert_nothing_applied(&store, &before, "directory-source-connection-lost").await;

    // (b) The server stops sending in the middle of the search: the operation timeout (per
    // message) ends the run.
    proxy.set_fault(Fault::StallAfter(cut));
    let stalled = LdapSourceConfig {
        operation_timeout: Duration::from_secs(2),
        ..through_proxy.clone()
    };
    let started = Instant::now();
    let error = sync(&store, stalled, &settings)
        .await
        .expect_err("a stalled search fails the run");
    assert_eq!(error.code(), "directory-source-timeout", "{error}");
    assert!(error.to_string().contains("(search)"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_nothing_applied(&store, &before, "directory-source-timeout").await;

    // (c) The server trickles the rest of its answer: every message comes within the
    // operation timeout, so only the whole read's limit ends the run.
    let trickle = Fault::Trickle {
        after: cut,
        chunk: 32,
        every: Duration::from_millis(50),
    };
    proxy.set_fault(trickle);
    let trickled = LdapSourceConfig {
        operation_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(3),
        ..through_proxy.clone()
    };
    let started = Instant::now();
    let error = sync(&store, trickled.clone(), &settings)
        .await
        .expect_err("a trickled read past its limit fails the run");
    assert_eq!(error.code(), "directory-source-timeout", "{error}");
    assert!(error.to_string().contains("the whole read"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_nothing_applied(&store, &before, "directory-source-timeout").await;
    // Without that limit the same trickle is a read that goes on (a dry run: it writes
    // nothing) for longer than the limit, each message within the operation timeout.
    let started = Instant::now();
    let dry = synchronize(
        &LdapDirectory::new(LdapSourceConfig {
            read_timeout: Duration::from_secs(300),
            ..trickled
        })
        .expect("source"),
        &store,
        &settings,
        SyncMode::DryRun,
        &SystemClock,
        "directory-sync",
        &mut |_| {},
    )
    .await
    .expect("a trickled read within its limit completes");
    assert_eq!(dry.entries_read, 12);
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A healthy connection again: the next sync applies every change.
    proxy.set_fault(Fault::None);
    let healthy = sync(&store, through_proxy, &settings)
        .await
        .expect("a healthy sync");
    let counts = healthy.counts();
    assert_eq!(
        (
            counts.added,
            counts.updated,
            counts.disabled,
            counts.skipped
        ),
        (1, 4, 1, 0),
        "{healthy:#?}"
    );
    let users = store.list_users().await.expect("users");
    let user = |upn: &str| {
        users
            .iter()
            .find(|user| user.upn.as_str() == upn)
            .unwrap_or_else(|| panic!("no {upn}"))
    };
    assert_eq!(user("cursor03@certgate.test").display_name, "Renamed 3");
    assert!(!user("cursor06@certgate.test").enabled);
    assert_eq!(
        user("cursor13@certgate.test").display_name,
        "cursor13@certgate.test"
    );
    let status = store.sync_status().await.expect("status");
    assert!(matches!(
        status.last_run.map(|run| run.result),
        Some(SyncRunResult::Completed(_))
    ));
}

/// One hostile value: the account, the LDIF that writes the value into AD, and the code its
/// entry is skipped with.
struct Hostile {
    name: &'static str,
    change: String,
    code: &'static str,
}

fn hostile_values(base: &str) -> Vec<Hostile> {
    let replace = |name: &str, attribute: &str, values: &[Vec<u8>]| {
        let mut ldif = format!("dn: CN={name},{base}\nchangetype: modify\nreplace: {attribute}\n");
        for value in values {
            ldif.push_str(&format!("{attribute}:: {}\n", base64(value)));
        }
        ldif.push_str("-\n\n");
        ldif
    };
    let one = |text: &str| vec![text.as_bytes().to_vec()];
    vec![
        Hostile {
            name: "h-escape",
            change: replace("h-escape", "displayName", &one("Eve \x1b[31mRed\x1b[0m")),
            code: "directory-entry-attribute-not-text",
        },
        Hostile {
            name: "h-crlf",
            change: replace(
                "h-crlf",
                "proxyAddresses",
                &one("SMTP:h-crlf@certgate.test\r\nBcc: mallory@evil.example"),
            ),
            code: "directory-entry-attribute-not-text",
        },
        Hostile {
            name: "h-nul",
            change: replace("h-nul", "displayName", &one("Nul\0Byte")),
            code: "directory-entry-attribute-not-text",
        },
        // AD's schema caps displayName at 256 characters (Samba refuses a longer one): the
        // ~1 MB value goes into jpegPhoto, which has no cap and is mapped before displayName.
        Hostile {
            name: "h-huge",
            change: replace("h-huge", "jpegPhoto", &[vec![b'A'; 1024 * 1024]]),
            code: "directory-entry-attribute-too-large",
        },
        Hostile {
            name: "h-many",
            change: replace(
                "h-many",
                "proxyAddresses",
                &(0..3000)
                    .map(|index| format!("smtp:alias{index}@certgate.test").into_bytes())
                    .collect::<Vec<_>>(),
            ),
            code: "directory-entry-attribute-too-large",
        },
        // Samba refuses bytes that are not UTF-8 in displayName: the start of a JPEG in
        // jpegPhoto, a binary attribute mapped as text.
        Hostile {
            name: "h-binary",
            change: replace(
                "h-binary",
                "jpegPhoto",
                &[vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]],
            ),
            code: "directory-entry-attribute-not-text",
        },
        Hostile {
            name: "h-mapping",
            change: replace(
                "h-mapping",
                "altSecurityIdentities",
                &one("X509:<NOPE>\u{202e}garbage<I><S><SR>"),
            ),
            code: "directory-entry-certificate-mapping-unparseable",
        },
        Hostile {
            name: "h-mapping-huge",
            change: replace(
                "h-mapping-huge",
                "altSecurityIdentities",
                &one(&format!("X509:<SKI>{}", "ab".repeat(50_000))),
            ),
            code: "directory-entry-attribute-too-large",
        },
        Hostile {
            name: "h-upn-space",
            change: replace(
                "h-upn-space",
                "userPrincipalName",
                &one(" h-upn-space@certgate.test "),
            ),
            code: "user-upn-invalid",
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_skip_their_entry_with_its_code_and_keep_its_last_synced_user() {
    let dc = dc();
    let base = format!("OU=Hostile,{BASE_DN}");
    let hostile = hostile_values(&base);
    // Every account starts clean and is synchronised.
    let mut ldif = format!("dn: {base}\nchangetype: add\nobjectClass: organizationalUnit\n\n");
    for name in hostile.iter().map(|h| h.name).chain(["h-good"]) {
        ldif.push_str(&format!(
            "dn: CN={name},{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: {name}\n\
             userPrincipalName: {name}@certgate.test\ndisplayName: Clean {name}\n\
             proxyAddresses: SMTP:{name}@certgate.test\n\
             altSecurityIdentities: X509:<RFC822>{name}@certgate.test\n\
             userAccountControl: 514\n\n"
        ));
    }
    ldapmodify(dc, "hostile-fixtures", &ldif);
    let store = store(dc, "hostile").await;
    let settings = settings(AttributeMap {
        display_name: vec!["jpegPhoto".into(), "displayName".into()],
        ..AttributeMap::active_directory()
    });
    let direct = config(dc, "ldaps://127.0.0.1", &base);
    let first = sync(&store, direct.clone(), &settings)
        .await
        .expect("the first sync");
    assert_eq!(first.counts().added, hostile.len() as u64 + 1, "{first:#?}");
    let before = snapshot(&store).await;

    // Then the values turn hostile, and h-good is renamed.
    for value in &hostile {
        ldapmodify(dc, value.name, &value.change);
    }
    ldapmodify(
        dc,
        "h-good",
        &format!(
            "dn: CN=h-good,{base}\nchangetype: modify\nreplace: displayName\n\
             displayName: Renamed good\n-\n\n"
        ),
    );
    let report = sync(&store, direct, &settings)
        .await
        .expect("a sync with hostile entries completes");

    let mut skipped: Vec<(String, &str)> = report
        .plan
        .problems
        .iter()
        .map(|problem| (problem.dn.clone(), problem.error.code()))
        .collect();
    skipped.sort();
    let mut expected: Vec<(String, &str)> = hostile
        .iter()
        .map(|value| (format!("CN={},{base}", value.name), value.code))
        .collect();
    expected.sort();
    assert_eq!(skipped, expected);
    // The megabyte was not kept past its message (what the reader notes says so).
    let huge = report
        .plan
        .problems
        .iter()
        .find(|problem| problem.dn.starts_with("CN=h-huge,"))
        .expect("h-huge was skipped");
    assert!(
        huge.error
            .to_string()
            .contains("a value of 1048576 bytes, over the 65536 bytes certgate keeps"),
        "{}",
        huge.error
    );
    // What the report prints of them is safe for a terminal and a log line: no control
    // character from the directory, and not the megabyte.
    for problem in &report.plan.problems {
        let message = problem.error.to_string();
        assert!(
            !message.chars().any(char::is_control) && message.len() < 1024,
            "{}: {message:?}",
            problem.dn
        );
    }
    let counts = report.counts();
    assert_eq!((counts.updated, counts.skipped), (1, hostile.len() as u64));
    let status = store.sync_status().await.expect("status");
    match status.last_run.map(|run| run.result) {
        Some(SyncRunResult::Completed(recorded)) => assert_eq!(recorded, counts),
        other => panic!("the run was not recorded as completed: {other:?}"),
    }
    // Each skipped entry's user is what the first sync made of it, still enabled or not as
    // it was, not disabled as gone; h-good has its new name.
    let after = snapshot(&store).await;
    assert_eq!(after.users.len(), before.users.len());
    for (old, new) in before.users.iter().zip(&after.users) {
        if old.upn.as_str() == "h-good@certgate.test" {
            assert_eq!(new.display_name, "Renamed good");
        } else {
            assert_eq!(old, new, "a skipped entry's user changed");
        }
    }
}
