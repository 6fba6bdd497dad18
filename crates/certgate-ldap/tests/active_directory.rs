//! The LDAP directory source against a real Samba Active Directory DC (see `samba_dc`):
//! reading over LDAPS and StartTLS, paging, the refusals (wrong password, a CA that did not
//! issue the DC's certificate, plain LDAP), and the Active Directory mapping of what was read.

mod samba_dc;

use std::path::PathBuf;
use std::time::Duration;

use certgate_core::directory_source::{
    guid_text, immutable_id_from_guid, map_entries, plan_sync, read_memberships, AttributeMap,
    DirectoryEntry, DirectorySource, GroupMembership, MappedEntries, SourceError, SyncChange,
};
use certgate_ldap::{LdapDirectory, LdapSourceConfig, PasswordSource, Transport};
use certgate_pki::UnixTime;

use samba_dc::{dc, SambaDc, BASE_DN, PAGING_ACCOUNTS, PAGING_OU, STAFF_OU};

/// A password file of this test's own (tests run in parallel: no file is shared).
fn password_file(dc: &SambaDc, name: &str, password: &str) -> PasswordSource {
    let path = dc.dir.join(name);
    std::fs::write(&path, format!("{password}\n")).expect("write the password file");
    PasswordSource::File(path)
}

fn ldaps_config(dc: &SambaDc, base_dn: &str) -> LdapSourceConfig {
    LdapSourceConfig::new(
        "ldaps://127.0.0.1",
        Transport::Ldaps,
        &dc.ca_file,
        dc.admin_bind_dn(),
        PasswordSource::File(dc.admin_password_file.clone()),
        base_dn,
    )
}

async fn read(config: LdapSourceConfig) -> Result<Vec<DirectoryEntry>, String> {
    let attributes = AttributeMap::active_directory().requested_attributes();
    let directory = LdapDirectory::new(config).map_err(|error| error.code().to_owned())?;
    directory
        .read_entries(&attributes)
        .await
        .map_err(|error| format!("{} {error}", error.code()))
}

fn staff() -> MappedEntries {
    let entries = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(read(ldaps_config(dc(), STAFF_OU)))
        .expect("reads the staff");
    map_entries(&entries, &AttributeMap::active_directory())
}

fn mapped<'a>(
    mapped: &'a MappedEntries,
    upn: &str,
) -> &'a certgate_core::directory_source::MappedEntry {
    mapped
        .entries
        .iter()
        .find(|entry| entry.draft.upn == upn)
        .unwrap_or_else(|| panic!("{upn} was not mapped: {mapped:#?}"))
}

/// `name:: base64` of the one entry `ldapsearch` printed.
fn ldif_base64(ldif: &str, name: &str) -> String {
    ldif.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:: ")))
        .unwrap_or_else(|| panic!("no {name} in {ldif}"))
        .to_owned()
}

#[test]
fn active_directory_accounts_map_to_users() {
    let staff = staff();
    assert_eq!(staff.entries.len(), 4, "{staff:#?}");

    let alice = &mapped(&staff, "alice@certgate.test").draft;
    assert_eq!(alice.display_name.as_deref(), Some("Alice Archer"));
    assert_eq!(alice.mail.as_deref(), Some("alice@certgate.test"));
    assert!(alice.enabled);
    let mut proxy_addresses = alice.proxy_addresses.clone();
    proxy_addresses.sort();
    assert_eq!(
        proxy_addresses,
        ["SMTP:alice@certgate.test", "smtp:a.archer@certgate.test"]
    );
    let mut certificate_user_ids = alice.certificate_user_ids.clone();
    certificate_user_ids.sort();
    assert_eq!(
        certificate_user_ids,
        [
            "X509:<I>C=US,O=Contoso,CN=Contoso Issuing CA<S>C=US,S=Texas,O=Contoso\\, Ltd,CN=Alice Archer",
            "X509:<I>C=US,O=Contoso,CN=Contoso Issuing CA<SR>1200000000ac11000000002b",
            "X509:<RFC822>alice@certgate.test",
            "X509:<SKI>abcdef0123456789",
        ]
    );

    // The immutable ID is base64 of objectGUID exactly as ldapsearch shows the raw bytes.
    let ldif = dc().ldapsearch(STAFF_OU, "(sAMAccountName=alice)", &["objectGUID"]);
    assert_eq!(
        mapped(&staff, "alice@certgate.test").immutable_id,
        ldif_base64(&ldif, "objectGUID")
    );

    // bob has mS-DS-ConsistencyGuid, which wins over his objectGUID.
    assert_eq!(
        Some(mapped(&staff, "bob@certgate.test").immutable_id.clone()),
        immutable_id_from_guid(&samba_dc::BOB_CONSISTENCY_GUID)
    );

    assert!(!mapped(&staff, "carol@certgate.test").draft.enabled);

    // dave was made with samba-tool: its text form of his GUID is the same GUID.
    let dave = mapped(&staff, "dave@certgate.test");
    assert!(dave.draft.enabled);
    let dave_guid = base64_decode(&dave.immutable_id);
    assert_eq!(guid_text(&dave_guid), Some(dc().dave_guid_text.clone()));

    assert_eq!(staff.problems.len(), 1, "{staff:#?}");
    let problem = &staff.problems[0];
    assert_eq!(problem.dn, format!("CN=mallory,{STAFF_OU}"));
    assert_eq!(
        problem.error.code(),
        "directory-entry-certificate-mapping-unparseable"
    );
    assert!(problem.immutable_id.is_some());
}

/// The staff's groups as the sync reads them: the users under `STAFF_OU`, their groups
/// looked up across the domain.
async fn staff_groups(settings: &GroupMembership) -> Result<MappedEntries, SourceError> {
    let config = LdapSourceConfig {
        group_base_dn: Some(BASE_DN.into()),
        ..ldaps_config(dc(), STAFF_OU)
    };
    let map = AttributeMap::active_directory();
    let directory = LdapDirectory::new(config)?;
    let entries = directory.read_entries(&map.requested_attributes()).await?;
    read_memberships(&directory, &entries, map_entries(&entries, &map), settings).await
}

fn groups_by_upn(mapped: &MappedEntries) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = mapped
        .entries
        .iter()
        .map(|entry| (entry.draft.upn.clone(), entry.directory_groups.clone()))
        .collect();
    groups.sort();
    groups
}

#[tokio::test]
async fn nested_group_memberships_are_read_with_the_in_chain_rule() {
    let mapped = staff_groups(&GroupMembership::active_directory())
        .await
        .expect("read");
    let strings = |names: &[&str]| names.iter().map(|name| name.to_string()).collect();
    assert_eq!(
        groups_by_upn(&mapped),
        [
            // Sales directly, All Staff through Sales.
            (
                "alice@certgate.test".to_owned(),
                strings(&["All Staff", "Sales"])
            ),
            // A distribution group counts as much as a security group.
            ("bob@certgate.test".to_owned(), strings(&["VPN Notices"])),
            // Inner and Outer contain each other: each is listed once.
            (
                "carol@certgate.test".to_owned(),
                strings(&["Inner", "Outer"])
            ),
            // Only in Domain Users, his primary group, which AD does not keep in `member`.
            ("dave@certgate.test".to_owned(), Vec::new()),
        ]
    );
    // mallory's mapping does not parse: no lookup is spent on her.
    assert_eq!(mapped.problems.len(), 1, "{mapped:#?}");
}

#[tokio::test]
async fn the_group_caps_skip_a_user_or_fail_the_read_with_their_codes() {
    let one_group = GroupMembership {
        max_groups_per_user: 1,
        ..GroupMembership::active_directory()
    };
    let mapped = staff_groups(&one_group).await.expect("read");
    let mut skipped: Vec<(&str, &str)> = mapped
        .problems
        .iter()
        .map(|problem| (problem.dn.as_str(), problem.error.code()))
        .collect();
    skipped.sort();
    let alice = format!("CN=alice,{STAFF_OU}");
    let carol = format!("CN=carol,{STAFF_OU}");
    let mallory = format!("CN=mallory,{STAFF_OU}");
    assert_eq!(
        skipped,
        [
            (alice.as_str(), "directory-entry-too-many-groups"),
            (carol.as_str(), "directory-entry-too-many-groups"),
            (
                mallory.as_str(),
                "directory-entry-certificate-mapping-unparseable"
            ),
        ]
    );
    assert_eq!(
        groups_by_upn(&mapped),
        [
            (
                "bob@certgate.test".to_owned(),
                vec!["VPN Notices".to_owned()]
            ),
            ("dave@certgate.test".to_owned(), Vec::new()),
        ]
    );

    // One lookup per user with the in-chain rule: four users need four.
    let three_lookups = GroupMembership {
        max_lookups_per_run: 3,
        ..GroupMembership::active_directory()
    };
    let error = staff_groups(&three_lookups)
        .await
        .expect_err("over the cap");
    assert_eq!(error.code(), "directory-source-group-lookup-limit");
    let four_lookups = GroupMembership {
        max_lookups_per_run: 4,
        ..GroupMembership::active_directory()
    };
    assert!(staff_groups(&four_lookups).await.is_ok());
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

#[test]
fn a_first_sync_adds_every_valid_account_and_reports_the_bad_one() {
    let plan = plan_sync(
        &[],
        staff(),
        UnixTime(1_800_000_000),
        Duration::from_secs(86_400),
    );
    let mut added: Vec<&str> = plan
        .changes
        .iter()
        .map(|change| match change {
            SyncChange::Add { draft, .. } => draft.upn.as_str(),
            other => panic!("a first sync only adds: {other:?}"),
        })
        .collect();
    added.sort();
    assert_eq!(
        added,
        [
            "alice@certgate.test",
            "bob@certgate.test",
            "carol@certgate.test",
            "dave@certgate.test"
        ]
    );
    assert_eq!(plan.problems.len(), 1);
}

#[tokio::test]
async fn starttls_reads_the_same_entries() {
    let dc = dc();
    let config = LdapSourceConfig {
        url: "ldap://127.0.0.1".into(),
        transport: Transport::StartTls,
        ..ldaps_config(dc, STAFF_OU)
    };
    let mut dns: Vec<String> = read(config)
        .await
        .expect("reads")
        .iter()
        .map(|entry| entry.dn().to_owned())
        .collect();
    dns.sort();
    assert_eq!(
        dns,
        ["alice", "bob", "carol", "dave", "mallory"].map(|cn| format!("CN={cn},{STAFF_OU}"))
    );
}

#[tokio::test]
async fn paging_reads_more_entries_than_one_page() {
    let dc = dc();
    let config = LdapSourceConfig {
        page_size: 5,
        ..ldaps_config(dc, PAGING_OU)
    };
    let entries = read(config).await.expect("reads");
    let mut upns: Vec<String> = entries
        .iter()
        .map(|entry| String::from_utf8_lossy(&entry.values("userPrincipalName")[0]).into_owned())
        .collect();
    upns.sort();
    let expected: Vec<String> = (1..=PAGING_ACCOUNTS)
        .map(|index| format!("page{index:02}@certgate.test"))
        .collect();
    assert_eq!(upns, expected);
}

#[tokio::test]
async fn more_entries_than_the_limit_fail_the_whole_read() {
    let dc = dc();
    let config = LdapSourceConfig {
        page_size: 5,
        max_entries: PAGING_ACCOUNTS - 1,
        ..ldaps_config(dc, PAGING_OU)
    };
    let error = read(config).await.expect_err("too many");
    assert!(
        error.starts_with("directory-source-too-many-entries"),
        "{error}"
    );
}

#[tokio::test]
async fn a_wrong_bind_password_is_rejected_with_its_code() {
    let dc = dc();
    let config = LdapSourceConfig {
        bind_password: password_file(dc, "wrong-password", "not-the-password"),
        ..ldaps_config(dc, STAFF_OU)
    };
    let error = read(config).await.expect_err("refused");
    assert!(
        error.starts_with("directory-source-bind-rejected"),
        "{error}"
    );
}

#[tokio::test]
async fn a_ca_that_did_not_issue_the_dc_certificate_fails_tls() {
    let dc = dc();
    for transport in [Transport::Ldaps, Transport::StartTls] {
        let url = match transport {
            Transport::Ldaps => "ldaps://127.0.0.1",
            _ => "ldap://127.0.0.1",
        };
        let config = LdapSourceConfig {
            url: url.into(),
            transport,
            ca_file: dc.unrelated_ca_file.clone(),
            ..ldaps_config(dc, STAFF_OU)
        };
        let error = read(config).await.expect_err("refused");
        assert!(
            error.starts_with("directory-source-tls-failed"),
            "{transport:?}: {error}"
        );
    }
}

#[tokio::test]
async fn a_host_the_certificate_does_not_name_fails_tls() {
    // The DC's certificate names 127.0.0.1, and localhost reaches the same DC.
    let dc = dc();
    let config = LdapSourceConfig {
        url: "ldaps://localhost".into(),
        ..ldaps_config(dc, STAFF_OU)
    };
    let error = read(config).await.expect_err("refused");
    assert!(error.starts_with("directory-source-tls-failed"), "{error}");
}

#[tokio::test]
async fn a_base_dn_that_does_not_exist_fails_the_search() {
    let dc = dc();
    let error = read(ldaps_config(dc, &format!("OU=Nowhere,{BASE_DN}")))
        .await
        .expect_err("no such base");
    assert!(
        error.starts_with("directory-source-search-failed"),
        "{error}"
    );
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    // Port 1 on the loopback: nothing listens there.
    let config = LdapSourceConfig {
        url: "ldaps://127.0.0.1:1".into(),
        ..ldaps_config(dc(), STAFF_OU)
    };
    let error = read(config).await.expect_err("nothing there");
    assert!(error.starts_with("directory-source-unreachable"), "{error}");
}

#[tokio::test]
async fn a_server_that_accepts_but_never_answers_times_out() {
    // A real socket that takes the connection and then says nothing, as a hung server does:
    // the TLS handshake (LDAPS) or the StartTLS request never gets an answer.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = silent.local_addr().expect("address").port();
    let held = std::thread::spawn(move || {
        let connections: Vec<_> = silent.incoming().take(2).collect();
        // Longer than the second attempt's timeout (the first one's ran out before it came).
        std::thread::sleep(Duration::from_secs(1));
        drop(connections);
    });
    let dc = dc();
    for (url, transport) in [
        (format!("ldaps://127.0.0.1:{port}"), Transport::Ldaps),
        (format!("ldap://127.0.0.1:{port}"), Transport::StartTls),
    ] {
        let config = LdapSourceConfig {
            url,
            transport,
            connect_timeout: Duration::from_millis(500),
            ..ldaps_config(dc, STAFF_OU)
        };
        let started = std::time::Instant::now();
        let error = read(config).await.expect_err("times out");
        assert!(
            error.starts_with("directory-source-timeout"),
            "{transport:?}: {error}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    held.join().expect("the silent server");
}

#[tokio::test]
async fn a_missing_password_is_reported_before_connecting() {
    let dc = dc();
    let unset = LdapSourceConfig {
        // Nothing listens on port 1: reaching the network would answer another code.
        url: "ldaps://127.0.0.1:1".into(),
        bind_password: PasswordSource::Environment("CERTGATE_TEST_NEVER_SET_PASSWORD".into()),
        ..ldaps_config(dc, STAFF_OU)
    };
    let empty = LdapSourceConfig {
        bind_password: password_file(dc, "empty-password", ""),
        ..unset.clone()
    };
    for config in [unset, empty] {
        let error = read(config).await.expect_err("no password");
        assert!(
            error.starts_with("directory-source-credentials-unavailable"),
            "{error}"
        );
    }
}

#[test]
fn a_ca_file_without_certificates_is_refused() {
    let dc = dc();
    let path = dc.dir.join("not-a-ca.pem");
    std::fs::write(&path, "not a certificate\n").expect("write");
    for ca_file in [path, dc.dir.join("no-such-file.pem")] {
        let config = LdapSourceConfig {
            ca_file,
            ..ldaps_config(dc, STAFF_OU)
        };
        assert_eq!(
            LdapDirectory::new(config).expect_err("refused").code(),
            "directory-source-ca-file-invalid"
        );
    }
}

#[test]
fn plain_ldap_is_refused_before_connecting() {
    let config = LdapSourceConfig::new(
        "ldap://127.0.0.1",
        Transport::PlainRefused,
        PathBuf::from("/nonexistent"),
        "Administrator@certgate.test",
        PasswordSource::Environment("UNUSED".into()),
        BASE_DN,
    );
    assert_eq!(
        LdapDirectory::new(config).expect_err("refused").code(),
        "directory-source-plaintext-bind-refused"
    );
}
