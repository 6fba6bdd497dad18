//! The LDAP directory source against a real OpenLDAP server (see `openldap`) with the generic
//! profile: inetOrgPerson people with entryUUID as the immutable ID, read over StartTLS,
//! paged past the server's size limit, groupOfNames memberships followed through nesting, a
//! whole sync, and a wrong password refused.

mod openldap;

use certgate_core::clock::FixedClock;
use certgate_core::directory::list_users;
use certgate_core::directory_source::{
    map_entries, read_memberships, synchronize, AttributeMap, DirectoryEntry, DirectorySource,
    GroupMembership, SyncMode, SyncSettings,
};
use certgate_core::testing::MemoryStore;
use certgate_ldap::{LdapDirectory, LdapSourceConfig, PasswordSource, Transport};

use openldap::{
    server, Slapd, ADA_UUID, GROUPS, MANY_GROUPS, NUMBERED_PEOPLE, PEOPLE, SIZE_LIMIT, SUFFIX,
    SYNC_DN,
};

fn config(slapd: &Slapd, base_dn: &str) -> LdapSourceConfig {
    LdapSourceConfig {
        filter: LdapSourceConfig::INET_ORG_PERSON_FILTER.into(),
        page_size: SIZE_LIMIT as u32,
        ..LdapSourceConfig::new(
            slapd.url(),
            Transport::StartTls,
            &slapd.ca_file,
            SYNC_DN,
            PasswordSource::File(slapd.password_file.clone()),
            base_dn,
        )
    }
}

async fn read(config: LdapSourceConfig) -> Result<Vec<DirectoryEntry>, String> {
    let attributes = AttributeMap::generic_ldap().requested_attributes();
    let directory = LdapDirectory::new(config).map_err(|error| error.code().to_owned())?;
    directory
        .read_entries(&attributes)
        .await
        .map_err(|error| format!("{} {error}", error.code()))
}

#[tokio::test]
async fn the_generic_profile_maps_people_with_entry_uuid_as_the_immutable_id() {
    let entries = read(config(server(), PEOPLE))
        .await
        .expect("read over StartTLS");
    let mapped = map_entries(&entries, &AttributeMap::generic_ldap());
    assert_eq!(mapped.problems, [], "every person maps");
    assert_eq!(mapped.entries.len(), NUMBERED_PEOPLE + 1);
    let ada = mapped
        .entries
        .iter()
        .find(|entry| entry.draft.upn == "ada@example.test")
        .expect("ada");
    // entryUUID as the directory holds it: the anchor that survives renames.
    assert_eq!(ada.immutable_id, ADA_UUID);
    assert_eq!(ada.dn, format!("uid=ada,{PEOPLE}"));
    // No displayName: her cn is shown.
    assert_eq!(ada.draft.display_name.as_deref(), Some("Ada Lovelace"));
    assert!(ada.draft.enabled);
    let person = mapped
        .entries
        .iter()
        .find(|entry| entry.draft.upn == "person07@example.test")
        .expect("person07");
    assert_eq!(
        person.draft.display_name.as_deref(),
        Some("Person Number 7")
    );
    // slapadd gave the others an entryUUID each: all different, all UUIDs.
    let mut ids: Vec<&str> = mapped
        .entries
        .iter()
        .map(|entry| entry.immutable_id.as_str())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), NUMBERED_PEOPLE + 1);
    assert!(
        ids.iter()
            .all(|id| id.len() == 36 && id.matches('-').count() == 4),
        "{ids:?}"
    );
}

#[tokio::test]
async fn paging_reads_past_the_servers_size_limit() {
    // The server gives cn=sync at most SIZE_LIMIT entries per page; the people are 13.
    let entries = read(config(server(), PEOPLE))
        .await
        .expect("read page by page");
    assert_eq!(entries.len(), NUMBERED_PEOPLE + 1);
    assert!(entries.len() > SIZE_LIMIT);
    // Asking for pages larger than the server allows is refused, not cut short: nothing is
    // read from a partial answer.
    let large_pages = LdapSourceConfig {
        page_size: 100,
        ..config(server(), PEOPLE)
    };
    let error = read(large_pages)
        .await
        .expect_err("over the server's page limit");
    assert!(
        error.starts_with("directory-source-search-failed "),
        "{error}"
    );
    // adminLimitExceeded: slapd's answer to a page larger than size.pr.
    assert!(error.contains("LDAP result 11"), "{error}");
}

#[tokio::test]
async fn group_of_names_memberships_are_followed_through_nesting() {
    let slapd = server();
    let directory = LdapDirectory::new(LdapSourceConfig {
        group_base_dn: Some(GROUPS.into()),
        ..config(slapd, PEOPLE)
    })
    .expect("config");
    let map = AttributeMap::generic_ldap();
    let entries = directory
        .read_entries(&map.requested_attributes())
        .await
        .expect("read");
    let mapped = read_memberships(
        &directory,
        &entries,
        map_entries(&entries, &map),
        &GroupMembership::group_of_names(),
    )
    .await
    .expect("memberships");
    let groups = |upn: &str| {
        mapped
            .entries
            .iter()
            .find(|entry| entry.draft.upn == upn)
            .map(|entry| entry.directory_groups.clone())
            .unwrap_or_else(|| panic!("{upn} not mapped"))
    };
    // ada is in staff, staff in everyone.
    assert_eq!(groups("ada@example.test"), ["everyone", "staff"]);
    assert_eq!(groups("person01@example.test"), ["everyone"]);
    let mut clubs: Vec<String> = (1..=MANY_GROUPS)
        .map(|index| format!("club{index}"))
        .collect();
    // Sorted by name, as text.
    clubs.sort();
    assert_eq!(groups("person02@example.test"), clubs);
    assert_eq!(groups("person03@example.test"), Vec::<String>::new());

    // With a cap of 5, person02's lookup stops inside its second page and gives the rest of
    // the paged search up; the lookups after it, on the same connection, still work.
    let capped = read_memberships(
        &directory,
        &entries,
        map_entries(&entries, &map),
        &GroupMembership {
            max_groups_per_user: SIZE_LIMIT,
            ..GroupMembership::group_of_names()
        },
    )
    .await
    .expect("memberships");
    let skipped: Vec<(&str, &str)> = capped
        .problems
        .iter()
        .map(|problem| (problem.dn.as_str(), problem.error.code()))
        .collect();
    let person02 = format!("uid=person02,{PEOPLE}");
    assert_eq!(
        skipped,
        [(person02.as_str(), "directory-entry-too-many-groups")]
    );
    assert_eq!(capped.entries.len(), NUMBERED_PEOPLE);
}

#[tokio::test]
async fn a_starttls_sync_adds_every_person_with_its_groups() {
    let slapd = server();
    let directory = LdapDirectory::new(LdapSourceConfig {
        group_base_dn: Some(SUFFIX.into()),
        ..config(slapd, PEOPLE)
    })
    .expect("config");
    let store = MemoryStore::new();
    let settings = SyncSettings {
        attributes: AttributeMap::generic_ldap(),
        removal_grace: SyncSettings::DEFAULT_REMOVAL_GRACE,
    };
    let report = synchronize(
        &directory,
        &store,
        &settings,
        SyncMode::Apply,
        &FixedClock::at(1_800_000_000),
        "directory-sync",
        &mut |_| {},
    )
    .await
    .expect("synchronised");
    let counts = report.counts();
    assert_eq!((counts.added, counts.skipped, counts.failed), (13, 0, 0));
    let users = list_users(&store).await.expect("users");
    let ada = users
        .iter()
        .find(|user| user.upn.as_str() == "ada@example.test")
        .expect("ada");
    assert_eq!(ada.immutable_id, ADA_UUID);
    assert_eq!(ada.origin.directory_groups(), ["everyone", "staff"]);
    assert!(ada.groups.is_empty());
}

#[tokio::test]
async fn a_wrong_password_is_rejected_with_its_code() {
    let slapd = server();
    let wrong = slapd.dir.join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").expect("write");
    let error = read(LdapSourceConfig {
        bind_password: PasswordSource::File(wrong),
        ..config(slapd, PEOPLE)
    })
    .await
    .expect_err("refused");
    assert!(
        error.starts_with("directory-source-bind-rejected "),
        "{error}"
    );
}

/// The server itself refuses a bind that has not started TLS, so the reads above that
/// succeeded went through StartTLS.
#[test]
fn the_test_server_refuses_a_bind_without_tls() {
    let slapd = server();
    let output = std::process::Command::new("ldapsearch")
        .args(["-x", "-LLL", "-H", &slapd.url(), "-D", SYNC_DN])
        .args([
            "-w",
            openldap::SYNC_PASSWORD,
            "-b",
            PEOPLE,
            "(uid=ada)",
            "uid",
        ])
        .output()
        .expect("run ldapsearch (ldap-utils)");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Confidentiality required"), "{stderr}");
}

/// The generic profile has no uSNChanged: a sync asked to be incremental reads everything,
/// says why, and leaves no mark, run after run.
#[tokio::test]
async fn the_generic_profile_always_runs_a_full_sync() {
    use certgate_core::directory_source::{
        synchronize_with, ChangeMarkStore, SyncRequest, SyncScope,
    };
    let slapd = server();
    let directory = LdapDirectory::new(LdapSourceConfig {
        group_base_dn: Some(SUFFIX.into()),
        ..config(slapd, PEOPLE)
    })
    .expect("config");
    let store = MemoryStore::new();
    let settings = SyncSettings {
        attributes: AttributeMap::generic_ldap(),
        removal_grace: SyncSettings::DEFAULT_REMOVAL_GRACE,
    };
    for (round, added) in [(0, 13), (1, 0)] {
        let report = synchronize_with(
            &directory,
            &store,
            &settings,
            SyncRequest::Incremental {
                full_sync_every: std::time::Duration::from_secs(86_400),
            },
            SyncMode::Apply,
            &FixedClock::at(1_800_000_000 + round * 60),
            "directory-sync",
            &mut |_| {},
        )
        .await
        .expect("synchronised");
        assert_eq!(report.scope, SyncScope::Full);
        assert_eq!(
            report.full_reason.as_ref().map(|reason| reason.as_str()),
            Some("no-change-tracking")
        );
        assert_eq!(report.entries_read, 13);
        assert_eq!(report.counts().added, added);
        assert_eq!(report.new_mark, None);
        assert_eq!(store.change_mark().await.expect("mark"), None);
    }
}
