//! Incremental syncs against the real Samba AD DC (see `samba_dc`): a full run leaves a mark
//! (`highestCommittedUSN`, the DC's `dsServiceName` and `invocationId`); the next run reads
//! only what changed since, and still finds deletions, moves out of the base DN, a disabled
//! account and a membership added through a nested group; a mark of another DC or of another
//! copy of the DC's database runs a full sync; a run that fails half-way keeps the old mark
//! and changes nothing, so its changes are applied by the next run.
//!
//! The accounts live in an OU of their own (this binary's DC is shared by its tests only, but
//! the mapping fixtures of `samba_dc` are not changed), written to a SQLite store as
//! `certgate directory sync` writes it.

mod samba_dc;

use std::time::Duration;

use certgate_core::audit::AuditLog;
use certgate_core::clock::FixedClock;
use certgate_core::directory::{find_user, User};
use certgate_core::directory_source::{
    synchronize_with, AttributeMap, ChangeMarkStore, FullSyncReason, SourcedField, SyncChange,
    SyncMode, SyncReport, SyncRequest, SyncRunStore, SyncScope, SyncSettings,
};
use certgate_ldap::{LdapDirectory, LdapSourceConfig, PasswordSource, Transport};
use certgate_store::SqlStore;

use samba_dc::{dc, SambaDc, BASE_DN};

const BASE: &str = "OU=Incremental,DC=certgate,DC=test";
const GROUPS: &str = "OU=IncrementalGroups,OU=Incremental,DC=certgate,DC=test";
const OUTSIDE: &str = "OU=IncrementalOutside,DC=certgate,DC=test";
/// Accounts nobody changes: what a full run reads and an incremental one does not.
const UNTOUCHED: usize = 20;
const DAY: Duration = Duration::from_secs(86_400);
const START: i64 = 1_800_000_000;

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// AD's unicodePwd: the quoted password in UTF-16LE.
fn unicode_pwd(password: &str) -> String {
    let quoted: Vec<u8> = format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    base64(&quoted)
}

fn user_ldif(name: &str, ou: &str, display_name: &str, enabled: bool) -> String {
    let state = if enabled {
        format!(
            "unicodePwd:: {}\nuserAccountControl: 512\n",
            unicode_pwd("Incr-Pass!w0rd")
        )
    } else {
        "userAccountControl: 514\n".to_owned()
    };
    format!(
        "dn: CN={name},{ou}\nchangetype: add\nobjectClass: user\nsAMAccountName: {name}\n\
         userPrincipalName: {name}@certgate.test\ndisplayName: {display_name}\n{state}\n"
    )
}

/// ann (enabled), ben, cat, dan, eve, fay and the untouched accounts; Team holds Sub, Sub
/// holds ben.
fn add_accounts(dc: &SambaDc) {
    let mut ldif = format!(
        "dn: {BASE}\nchangetype: add\nobjectClass: organizationalUnit\n\n\
         dn: {GROUPS}\nchangetype: add\nobjectClass: organizationalUnit\n\n\
         dn: {OUTSIDE}\nchangetype: add\nobjectClass: organizationalUnit\n\n"
    );
    ldif.push_str(&user_ldif("ann", BASE, "Ann", true));
    for name in ["ben", "cat", "dan", "eve", "fay"] {
        ldif.push_str(&user_ldif(name, BASE, name, false));
    }
    for index in 1..=UNTOUCHED {
        ldif.push_str(&user_ldif(
            &format!("still{index:02}"),
            BASE,
            "Still",
            false,
        ));
    }
    ldif.push_str(&format!(
        "dn: CN=Sub,{GROUPS}\nchangetype: add\nobjectClass: group\nsAMAccountName: incr-sub\n\
         member: CN=ben,{BASE}\n\n\
         dn: CN=Team,{GROUPS}\nchangetype: add\nobjectClass: group\nsAMAccountName: incr-team\n\
         member: CN=Sub,{GROUPS}\n\n"
    ));
    dc.ldapmodify(&ldif);
}

fn settings() -> SyncSettings {
    SyncSettings {
        attributes: AttributeMap::active_directory(),
        removal_grace: DAY,
    }
}

fn directory(dc: &SambaDc) -> LdapDirectory {
    LdapDirectory::new(LdapSourceConfig {
        group_base_dn: Some(GROUPS.into()),
        ..LdapSourceConfig::new(
            "ldaps://127.0.0.1",
            Transport::Ldaps,
            &dc.ca_file,
            dc.admin_bind_dn(),
            PasswordSource::File(dc.admin_password_file.clone()),
            BASE,
        )
    })
    .expect("the LDAP source")
}

const INCREMENTAL: SyncRequest = SyncRequest::Incremental {
    full_sync_every: DAY,
};

async fn run(
    store: &SqlStore,
    source: &LdapDirectory,
    settings: &SyncSettings,
    request: SyncRequest,
    at: i64,
) -> Result<SyncReport, String> {
    synchronize_with(
        source,
        store,
        settings,
        request,
        SyncMode::Apply,
        &FixedClock::at(at),
        "directory-sync",
        &mut |_| {},
    )
    .await
    .map_err(|error| error.code().to_owned())
}

async fn user(store: &SqlStore, name: &str) -> User {
    find_user(store, &format!("{name}@certgate.test"))
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// Each change as (action, UPN, changed attributes), sorted.
fn changes(report: &SyncReport) -> Vec<(&'static str, String, Vec<SourcedField>)> {
    let outcome = report.outcome.as_ref().expect("applied");
    assert!(outcome.failed.is_empty(), "{:#?}", outcome.failed);
    let mut changes: Vec<_> = outcome
        .applied
        .iter()
        .map(|applied| match &applied.change {
            SyncChange::Add { draft, .. } => ("add", draft.upn.clone(), Vec::new()),
            SyncChange::Update { upn, changed, .. } => ("update", upn.clone(), changed.clone()),
            SyncChange::Disable { upn, .. } => ("disable", upn.clone(), Vec::new()),
            SyncChange::Remove { upn, .. } => ("remove", upn.clone(), Vec::new()),
        })
        .collect();
    changes.sort();
    changes
}

/// The audit events the sync wrote at `at`, as (action, target), sorted.
async fn audit_at(store: &SqlStore, at: i64) -> Vec<(String, String)> {
    let mut events: Vec<(String, String)> = store
        .audit_events(10_000)
        .await
        .expect("audit events")
        .into_iter()
        .filter(|event| event.at.0 == at && event.actor == "directory-sync")
        .map(|event| (event.action, event.target))
        .collect();
    events.sort();
    events
}

fn upn(name: &str) -> String {
    format!("{name}@certgate.test")
}

#[tokio::test]
async fn an_incremental_sync_applies_exactly_what_changed_since_the_mark() {
    let dc = dc();
    add_accounts(dc);
    let database = dc.dir.join("incremental.db");
    let store = SqlStore::connect(&format!("sqlite://{}", database.display()))
        .await
        .expect("the SQLite store");
    let source = directory(dc);
    let settings = settings();

    // The first run has no mark: full, and it leaves one.
    let first = run(&store, &source, &settings, INCREMENTAL, START)
        .await
        .expect("first run");
    assert_eq!(first.scope, SyncScope::Full);
    assert_eq!(first.full_reason, Some(FullSyncReason::NoMark));
    let full_entries = first.entries_read;
    assert_eq!(full_entries, 6 + UNTOUCHED);
    assert_eq!(first.counts().added, (6 + UNTOUCHED) as u64);
    let mark = store.change_mark().await.expect("mark").expect("a mark");
    assert_eq!(Some(&mark), first.new_mark.as_ref());
    assert!(mark.server.starts_with("CN=NTDS Settings,"), "{mark:?}");
    assert_eq!(mark.invocation_id.len(), 32);
    assert_eq!(mark.full_sync_started_at.0, START);
    assert_eq!(
        user(&store, "ben").await.origin.directory_groups(),
        ["Sub", "Team"]
    );

    // Nothing changed: an incremental run reads no entry in full and changes nothing.
    let quiet = run(&store, &source, &settings, INCREMENTAL, START + 60)
        .await
        .expect("quiet run");
    assert_eq!(
        (quiet.scope, quiet.full_reason.clone()),
        (SyncScope::Incremental, None)
    );
    assert_eq!(quiet.entries_read, 0);
    assert_eq!(quiet.entries_listed, 6 + UNTOUCHED);
    assert!(changes(&quiet).is_empty());

    // Two accounts changed (one renamed, one disabled), one added, one deleted, one moved
    // out of the base DN, and cat added to Sub, which is inside Team.
    let mut ldif = format!(
        "dn: CN=ben,{BASE}\nchangetype: modify\nreplace: displayName\ndisplayName: Ben Renamed\n-\n\n\
         dn: CN=ann,{BASE}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\n\n\
         dn: CN=dan,{BASE}\nchangetype: delete\n\n\
         dn: CN=eve,{BASE}\nchangetype: modrdn\nnewrdn: CN=eve\ndeleteoldrdn: 1\nnewsuperior: {OUTSIDE}\n\n\
         dn: CN=Sub,{GROUPS}\nchangetype: modify\nadd: member\nmember: CN=cat,{BASE}\n-\n\n"
    );
    ldif.push_str(&user_ldif("gus", BASE, "Gus", false));
    dc.ldapmodify(&ldif);

    let at = START + 120;
    let incremental = run(&store, &source, &settings, INCREMENTAL, at)
        .await
        .expect("incremental run");
    assert_eq!(incremental.scope, SyncScope::Incremental);
    assert_eq!(incremental.since_usn, Some(mark.highest_committed_usn));
    assert_eq!(
        changes(&incremental),
        [
            ("add", upn("gus"), vec![]),
            ("disable", upn("dan"), vec![]),
            ("disable", upn("eve"), vec![]),
            ("update", upn("ann"), vec![SourcedField::AccountEnabled]),
            ("update", upn("ben"), vec![SourcedField::DisplayName]),
            ("update", upn("cat"), vec![SourcedField::DirectoryGroups]),
        ]
    );
    // ann, ben, gus (changed) and cat (a member of the changed group), against 26 in full.
    assert_eq!(incremental.entries_read, 4);
    assert!(incremental.entries_read * 5 < full_entries);
    assert_eq!(incremental.entries_listed, 5 + UNTOUCHED);

    // The store holds the changes, and each has its audit event.
    assert!(!user(&store, "ann").await.enabled);
    assert_eq!(user(&store, "ben").await.display_name, "Ben Renamed");
    assert_eq!(
        user(&store, "cat").await.origin.directory_groups(),
        ["Sub", "Team"]
    );
    assert!(user(&store, "gus")
        .await
        .origin
        .directory_groups()
        .is_empty());
    for gone in ["dan", "eve"] {
        let gone = user(&store, gone).await;
        assert!(!gone.enabled);
        assert!(matches!(
            gone.origin,
            certgate_core::directory::UserOrigin::Directory {
                missing_since: Some(since),
                ..
            } if since.0 == at
        ));
    }
    assert_eq!(user(&store, "still01").await.display_name, "Still");
    let audit = audit_at(&store, at).await;
    let actions: Vec<&str> = audit.iter().map(|(action, _)| action.as_str()).collect();
    assert_eq!(
        actions,
        ["user.add", "user.set", "user.set", "user.set", "user.set", "user.set"]
    );
    for name in ["ann", "ben", "cat", "dan", "eve", "gus"] {
        assert!(
            audit.iter().any(|(_, target)| target.contains(&upn(name))),
            "{name} in {audit:?}"
        );
    }
    let status = store.sync_status().await.expect("status");
    assert_eq!(
        status.last_run.expect("recorded").scope,
        SyncScope::Incremental
    );
    let after = store.change_mark().await.expect("mark").expect("a mark");
    assert!(after.highest_committed_usn > mark.highest_committed_usn);
    assert_eq!(
        after.full_sync_started_at.0, START,
        "an incremental run keeps the full run's time"
    );

    // A run that fails half-way (its group lookups over the cap, after the changed entries
    // were read) changes nothing and keeps the mark; the next run applies what it missed.
    dc.ldapmodify(&format!(
        "dn: CN=fay,{BASE}\nchangetype: modify\nreplace: displayName\ndisplayName: Fay Changed\n-\n\n\
         dn: CN=Team,{GROUPS}\nchangetype: modify\nadd: member\nmember: CN=fay,{BASE}\n-\n\n"
    ));
    let mut capped = settings.clone();
    if let Some(groups) = capped.attributes.groups.as_mut() {
        groups.max_lookups_per_run = 0;
    }
    let audit_count = store.audit_events(10_000).await.expect("audit").len();
    let error = run(&store, &source, &capped, INCREMENTAL, START + 180)
        .await
        .expect_err("over the lookup cap");
    assert_eq!(error, "directory-source-group-lookup-limit");
    assert_eq!(
        store.change_mark().await.expect("mark"),
        Some(after.clone())
    );
    assert_eq!(user(&store, "fay").await.display_name, "fay");
    assert_eq!(
        store.audit_events(10_000).await.expect("audit").len(),
        audit_count
    );
    let failed = store
        .sync_status()
        .await
        .expect("status")
        .last_run
        .expect("run");
    assert_eq!(failed.scope, SyncScope::Incremental, "{failed:?}");

    let repaired = run(&store, &source, &settings, INCREMENTAL, START + 240)
        .await
        .expect("the next run");
    assert_eq!(repaired.scope, SyncScope::Incremental);
    assert_eq!(
        changes(&repaired),
        [(
            "update",
            upn("fay"),
            vec![SourcedField::DisplayName, SourcedField::DirectoryGroups]
        )]
    );
    assert_eq!(
        user(&store, "fay").await.origin.directory_groups(),
        ["Team"]
    );

    // Leaving a group changes the group, not the account; a deleted group is not listed at
    // all: ben leaves Sub and Team is deleted, so ben is in no group, cat only in Sub and
    // fay (directly in Team) in none.
    dc.ldapmodify(&format!(
        "dn: CN=Sub,{GROUPS}\nchangetype: modify\ndelete: member\nmember: CN=ben,{BASE}\n-\n\n\
         dn: CN=Team,{GROUPS}\nchangetype: delete\n\n"
    ));
    let left = run(&store, &source, &settings, INCREMENTAL, START + 270)
        .await
        .expect("group changes");
    assert_eq!(left.scope, SyncScope::Incremental);
    assert_eq!(
        changes(&left),
        [
            ("update", upn("ben"), vec![SourcedField::DirectoryGroups]),
            ("update", upn("cat"), vec![SourcedField::DirectoryGroups]),
            ("update", upn("fay"), vec![SourcedField::DirectoryGroups]),
        ]
    );
    assert!(user(&store, "ben")
        .await
        .origin
        .directory_groups()
        .is_empty());
    assert_eq!(user(&store, "cat").await.origin.directory_groups(), ["Sub"]);
    assert!(user(&store, "fay")
        .await
        .origin
        .directory_groups()
        .is_empty());
    assert_eq!(left.entries_read, 3);

    // A new account given still01's immutable ID (its objectGUID copied into
    // mS-DS-ConsistencyGuid): both entries are read and skipped as a collision, as a full
    // sync would, and still01's user stays as it was.
    let ldif = dc.ldapsearch(BASE, "(sAMAccountName=still01)", &["objectGUID"]);
    let guid = ldif
        .lines()
        .find_map(|line| line.strip_prefix("objectGUID:: "))
        .expect("still01's objectGUID")
        .to_owned();
    dc.ldapmodify(&format!(
        "dn: CN=imp,{BASE}\nchangetype: add\nobjectClass: user\nsAMAccountName: imp\n\
         userPrincipalName: imp@certgate.test\nmS-DS-ConsistencyGuid:: {guid}\n\
         userAccountControl: 514\n\n"
    ));
    let still01 = user(&store, "still01").await;
    let copied = run(&store, &source, &settings, INCREMENTAL, START + 280)
        .await
        .expect("collision run");
    assert_eq!(copied.scope, SyncScope::Incremental);
    assert!(changes(&copied).is_empty());
    let mut skipped: Vec<(String, &str)> = copied
        .plan
        .problems
        .iter()
        .map(|problem| (problem.dn.clone(), problem.error.code()))
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            (
                format!("CN=imp,{BASE}"),
                "directory-entry-immutable-id-collision"
            ),
            (
                format!("CN=still01,{BASE}"),
                "directory-entry-immutable-id-collision"
            ),
        ]
    );
    assert_eq!(user(&store, "still01").await, still01);
    dc.ldapmodify(&format!("dn: CN=imp,{BASE}\nchangetype: delete\n\n"));

    // A mark of another DC, or of another copy of this DC's database: a full run, which
    // leaves a mark of this DC again.
    let current = store.change_mark().await.expect("mark").expect("a mark");
    for (mark, reason) in [
        (
            certgate_core::directory_source::ChangeMark {
                server: format!("CN=NTDS Settings,CN=DC2,CN=Servers,{BASE_DN}"),
                ..current.clone()
            },
            "server-changed",
        ),
        (
            certgate_core::directory_source::ChangeMark {
                invocation_id: "00".repeat(16),
                ..current.clone()
            },
            "server-restored",
        ),
    ] {
        store.save_change_mark(&mark).await.expect("mark edited");
        let report = run(&store, &source, &settings, INCREMENTAL, START + 300)
            .await
            .expect("fallback run");
        assert_eq!(report.scope, SyncScope::Full);
        assert_eq!(
            report.full_reason.as_ref().map(FullSyncReason::as_str),
            Some(reason)
        );
        assert_eq!(report.entries_read, 5 + UNTOUCHED);
        assert!(changes(&report).is_empty());
        let restored = store.change_mark().await.expect("mark").expect("a mark");
        assert_eq!(restored.server, current.server);
        assert_eq!(restored.invocation_id, current.invocation_id);
        assert_eq!(restored.full_sync_started_at.0, START + 300);
    }

    // --full reads everything even with a valid mark.
    let forced = run(&store, &source, &settings, SyncRequest::Full, START + 360)
        .await
        .expect("full run");
    assert_eq!(forced.full_reason, Some(FullSyncReason::Requested));
    assert_eq!(forced.entries_read, 5 + UNTOUCHED);
}
