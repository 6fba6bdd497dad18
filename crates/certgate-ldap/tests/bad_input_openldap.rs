//! Hostile values that Samba refuses but OpenLDAP stores (see `openldap`), with the generic
//! profile: a ~1 MB displayName (AD's schema caps it at 256 characters) and bytes that are
//! not UTF-8 in an octet-string attribute (`audio`) mapped as the display name through the
//! attribute override. Each skips its entry with its DN and code; the rest is applied, and the
//! skipped entries' users keep what the last sync gave them.

mod openldap;

use std::process::Command;

use certgate_core::clock::SystemClock;
use certgate_core::directory::UserStore;
use certgate_core::directory_source::{
    synchronize, AttributeMap, SyncMode, SyncReport, SyncRunResult, SyncRunStore, SyncSettings,
};
use certgate_ldap::{LdapDirectory, LdapSourceConfig, PasswordSource, Transport};
use certgate_store::SqlStore;

use openldap::{server, Slapd, SIZE_LIMIT, SUFFIX, SYNC_DN};

/// The harness's rootdn, which may write.
const ADMIN_DN: &str = "cn=admin,dc=example,dc=test";
const ADMIN_PASSWORD: &str = "admin-Pass!word";

fn ldapmodify(slapd: &Slapd, name: &str, ldif: &str) {
    let path = slapd.dir.join(format!("bad-input-{name}.ldif"));
    std::fs::write(&path, ldif).expect("write the LDIF");
    let output = Command::new("ldapmodify")
        .env("LDAPTLS_CACERT", &slapd.ca_file)
        .env("LDAPTLS_REQCERT", "demand")
        .args([
            "-ZZ",
            "-H",
            &slapd.url(),
            "-D",
            ADMIN_DN,
            "-w",
            ADMIN_PASSWORD,
        ])
        .arg("-f")
        .arg(&path)
        .output()
        .expect("run ldapmodify");
    assert!(
        output.status.success(),
        "slapd refused {name}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn sync(store: &SqlStore, slapd: &Slapd, base: &str, map: &AttributeMap) -> SyncReport {
    let config = LdapSourceConfig {
        filter: LdapSourceConfig::INET_ORG_PERSON_FILTER.into(),
        page_size: SIZE_LIMIT as u32,
        group_base_dn: Some(base.to_owned()),
        ..LdapSourceConfig::new(
            slapd.url(),
            Transport::StartTls,
            &slapd.ca_file,
            SYNC_DN,
            PasswordSource::File(slapd.password_file.clone()),
            base,
        )
    };
    synchronize(
        &LdapDirectory::new(config).expect("the LDAP source"),
        store,
        &SyncSettings {
            attributes: map.clone(),
            removal_grace: SyncSettings::DEFAULT_REMOVAL_GRACE,
        },
        SyncMode::Apply,
        &SystemClock,
        "directory-sync",
        &mut |_| {},
    )
    .await
    .expect("the sync completes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_samba_refuses_skip_their_entry_when_openldap_sends_them() {
    let slapd = server();
    let base = format!("ou=hostile,{SUFFIX}");
    let mut ldif =
        format!("dn: {base}\nchangetype: add\nobjectClass: organizationalUnit\nou: hostile\n\n");
    for name in ["huge", "binary", "good"] {
        ldif.push_str(&format!(
            "dn: uid={name},{base}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: {name}\n\
             cn: {name}\nsn: {name}\ndisplayName: Clean {name}\nmail: {name}@example.test\n\n"
        ));
    }
    ldapmodify(slapd, "fixtures", &ldif);
    let map = AttributeMap {
        display_name: vec!["audio".into(), "displayName".into(), "cn".into()],
        ..AttributeMap::generic_ldap()
    };
    let path = slapd.dir.join("bad-input.sqlite");
    let _ = std::fs::remove_file(&path);
    let store = SqlStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open the SQLite store");
    assert_eq!(sync(&store, slapd, &base, &map).await.counts().added, 3);
    let mut before = store.list_users().await.expect("users");
    before.sort_by(|a, b| a.upn.as_str().cmp(b.upn.as_str()));

    ldapmodify(
        slapd,
        "hostile",
        &format!(
            "dn: uid=huge,{base}\nchangetype: modify\nreplace: displayName\ndisplayName:: {}\n-\n\n\
             dn: uid=binary,{base}\nchangetype: modify\nreplace: audio\naudio:: {}\n-\n\n\
             dn: uid=good,{base}\nchangetype: modify\nreplace: displayName\n\
             displayName: Renamed good\n-\n\n",
            base64(&vec![b'A'; 1024 * 1024]),
            base64(&[0xff, 0xfb, 0x90, 0x64, 0x00])
        ),
    );
    let report = sync(&store, slapd, &base, &map).await;
    let mut skipped: Vec<(&str, &str)> = report
        .plan
        .problems
        .iter()
        .map(|problem| (problem.dn.as_str(), problem.error.code()))
        .collect();
    skipped.sort();
    let (binary, huge) = (format!("uid=binary,{base}"), format!("uid=huge,{base}"));
    assert_eq!(
        skipped,
        [
            (binary.as_str(), "directory-entry-attribute-not-text"),
            (huge.as_str(), "directory-entry-attribute-too-large"),
        ]
    );
    let counts = report.counts();
    assert_eq!((counts.updated, counts.skipped), (1, 2));
    match store.sync_status().await.expect("status").last_run {
        Some(run) => assert_eq!(run.result, SyncRunResult::Completed(counts)),
        None => panic!("the run was not recorded"),
    }
    let mut after = store.list_users().await.expect("users");
    after.sort_by(|a, b| a.upn.as_str().cmp(b.upn.as_str()));
    assert_eq!(after.len(), before.len());
    for (old, new) in before.iter().zip(&after) {
        if old.upn.as_str() == "good@example.test" {
            assert_eq!(new.display_name, "Renamed good");
        } else {
            assert_eq!(old, new, "a skipped entry's user changed");
        }
    }
}
