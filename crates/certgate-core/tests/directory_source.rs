//! Active Directory certificate mappings become exactly the certificateUserIds values
//! certgate derives from the certificate itself, so a mapping synchronised from AD binds the
//! certificate it names.

use certgate_core::directory_source::certificate_user_id_from_mapping;
use certgate_pki::{Certificate, Identity};
use rcgen::{CertificateParams, DistinguishedName, DnType, Issuer, KeyPair, SerialNumber};

/// A serial whose byte order matters (not a palindrome), as a Windows CA issues them.
const SERIAL: [u8; 10] = [0x2b, 0x00, 0x00, 0x00, 0x11, 0xac, 0x00, 0x00, 0x00, 0x12];

fn certificate() -> Certificate {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(DnType::CountryName, "US");
    ca.distinguished_name
        .push(DnType::OrganizationName, "Contoso");
    ca.distinguished_name
        .push(DnType::CommonName, "Contoso Issuing CA");
    let issuer = Issuer::from_params(&ca, &ca_key);

    let key = KeyPair::generate().expect("key");
    let mut leaf = CertificateParams::new(Vec::new()).expect("params");
    leaf.serial_number = Some(SerialNumber::from_slice(&SERIAL));
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name.push(DnType::CountryName, "US");
    leaf.distinguished_name
        .push(DnType::StateOrProvinceName, "Texas");
    leaf.distinguished_name
        .push(DnType::OrganizationName, "Contoso, Ltd");
    leaf.distinguished_name
        .push(DnType::CommonName, "Bob Archer");
    let der = leaf.signed_by(&key, &issuer).expect("leaf").der().to_vec();
    Certificate::from_der(&der).expect("parses")
}

fn identity_value(identity: &Identity, field: &str) -> String {
    identity
        .certificate_user_ids
        .iter()
        .find(|id| id.field == field)
        .map(|id| id.value.clone())
        .unwrap_or_else(|| panic!("no {field} value"))
}

#[test]
fn ad_mappings_written_the_windows_way_equal_the_certificates_own_values() {
    let certificate = certificate();
    let identity = Identity::of(&certificate);
    // What an administrator writes in altSecurityIdentities (KB5014754): DNs most significant
    // RDN first, as Windows shows them (`S=` for the state, spaces after commas, a quoted
    // value with a comma), the serial's bytes reversed in upper-case hex as certutil prints it.
    let issuer = "C=US, O=Contoso, CN=Contoso Issuing CA";
    let subject = "C=US, S=Texas, O=\"Contoso, Ltd\", CN=Bob Archer";
    let reversed_serial: String = SERIAL.iter().rev().map(|b| format!("{b:02X}")).collect();
    assert_eq!(reversed_serial, "12000000AC110000002B");
    let table = [
        (format!("X509:<I>{issuer}<S>{subject}"), "IssuerAndSubject"),
        (
            format!("X509:<I>{issuer}<SR>{reversed_serial}"),
            "IssuerAndSerialNumber",
        ),
        (format!("X509:<S>{subject}"), "Subject"),
        (
            format!(
                "X509:<SHA1-PUKEY>{}",
                identity.sha1_public_key.to_uppercase()
            ),
            "SHA1PublicKey",
        ),
    ];
    for (mapping, field) in table {
        assert_eq!(
            certificate_user_id_from_mapping(&mapping).expect("parses"),
            Some(identity_value(&identity, field)),
            "{mapping}"
        );
    }
}

#[test]
fn a_serial_in_certificate_order_does_not_bind() {
    // The mistake the <SR> rule guards against: the serial as the certificate encodes it.
    let certificate = certificate();
    let identity = Identity::of(&certificate);
    let in_certificate_order: String = SERIAL.iter().map(|b| format!("{b:02X}")).collect();
    let mapping = format!("X509:<I>C=US,O=Contoso,CN=Contoso Issuing CA<SR>{in_certificate_order}");
    assert_ne!(
        certificate_user_id_from_mapping(&mapping).expect("parses"),
        Some(identity_value(&identity, "IssuerAndSerialNumber"))
    );
}

#[test]
fn an_rdn_order_as_ldap_writes_it_does_not_bind() {
    // RFC 4514 order (least significant first) is not what AD stores in mappings.
    let certificate = certificate();
    let identity = Identity::of(&certificate);
    let mapping = "X509:<S>CN=Bob Archer,O=Contoso\\, Ltd,S=Texas,C=US";
    assert_ne!(
        certificate_user_id_from_mapping(mapping).expect("parses"),
        Some(identity_value(&identity, "Subject"))
    );
}

// ---- A plan applied through the user services -----------------------------------------------

mod applied {
    use std::time::Duration;

    use certgate_core::audit::AuditLog;
    use certgate_core::directory::{add_user, list_users, UserDraft, UserStore};
    use certgate_core::directory_source::{
        apply_sync, map_entries, plan_sync, AttributeMap, DirectoryEntry, SourceLink, SyncOutcome,
        UserOrigin,
    };
    use certgate_core::testing::{block_on, MemoryStore};
    use certgate_pki::UnixTime;

    const ACTOR: &str = "directory-sync";
    const GRACE: Duration = Duration::from_secs(7 * 86_400);

    fn account(cn: &str, guid_byte: u8, flags: &str) -> DirectoryEntry {
        DirectoryEntry::new(format!("CN={cn},OU=Staff,DC=contoso,DC=example"))
            .with(
                "userPrincipalName",
                &[format!("{cn}@contoso.example").as_bytes()],
            )
            .with("objectGUID", &[&[guid_byte; 16]])
            .with("userAccountControl", &[flags.as_bytes()])
    }

    /// One sync as the scheduler will run it: plan against the store's users (each with the
    /// origin the previous syncs stored), apply, and return the outcome.
    async fn sync(store: &MemoryStore, directory: &[DirectoryEntry], now: UnixTime) -> SyncOutcome {
        let known = list_users(store).await.expect("users");
        let mapped = map_entries(directory, &AttributeMap::active_directory());
        let plan = plan_sync(&known, mapped, now, GRACE);
        apply_sync(store, &plan, now, ACTOR).await
    }

    async fn origin_of(store: &MemoryStore, upn: &str) -> UserOrigin {
        store
            .user_by_upn(upn)
            .await
            .expect("store")
            .unwrap_or_else(|| panic!("{upn} is there"))
            .origin
    }

    #[test]
    fn a_sync_adds_updates_disables_and_removes_with_an_audit_event_each() {
        block_on(async {
            let store = MemoryStore::new();
            add_user(
                &store,
                UserDraft::new("carol@contoso.example"),
                UnixTime(1),
                "cli:admin",
            )
            .await
            .expect("a local user");
            let t0 = UnixTime(1_800_000_000);
            let directory = [account("alice", 1, "512"), account("bob", 2, "512")];
            let first = sync(&store, &directory, t0).await;
            assert_eq!(first.failed, []);
            assert_eq!(first.applied.len(), 2);
            assert!(first.applied.iter().all(|a| a.link == SourceLink::Present));
            assert_eq!(
                origin_of(&store, "alice@contoso.example").await,
                UserOrigin::present_in_directory(
                    "CN=alice,OU=Staff,DC=contoso,DC=example",
                    Vec::new()
                )
            );
            assert_eq!(
                origin_of(&store, "carol@contoso.example").await,
                UserOrigin::Local
            );
            assert_eq!(sync(&store, &directory, t0).await, SyncOutcome::default());

            // alice is disabled in AD, bob is deleted from it.
            let t1 = UnixTime(t0.0 + 60);
            let second = sync(&store, &[account("alice", 1, "514")], t1).await;
            assert_eq!(second.failed, []);
            let links: Vec<SourceLink> = second.applied.iter().map(|a| a.link).collect();
            assert_eq!(links, [SourceLink::MissingSince(t1), SourceLink::Present]);
            let users = list_users(&store).await.expect("users");
            let enabled: Vec<(&str, bool)> = users
                .iter()
                .map(|user| (user.upn.as_str(), user.enabled))
                .collect();
            assert_eq!(
                enabled,
                [
                    ("alice@contoso.example", false),
                    ("bob@contoso.example", false),
                    ("carol@contoso.example", true)
                ]
            );
            assert_eq!(
                origin_of(&store, "bob@contoso.example").await,
                UserOrigin::Directory {
                    dn: "CN=bob,OU=Staff,DC=contoso,DC=example".into(),
                    missing_since: Some(t1),
                    groups: Vec::new(),
                }
            );

            // Within the grace, nothing more happens; past it, bob is removed.
            let within = UnixTime(t1.0 + GRACE.as_secs() as i64 - 1);
            assert_eq!(
                sync(&store, &[account("alice", 1, "514")], within).await,
                SyncOutcome::default()
            );
            let t2 = UnixTime(t1.0 + GRACE.as_secs() as i64);
            let third = sync(&store, &[account("alice", 1, "514")], t2).await;
            assert_eq!(third.failed, []);
            assert_eq!(third.applied.len(), 1);
            assert_eq!(third.applied[0].link, SourceLink::Removed);
            let upns: Vec<String> = list_users(&store)
                .await
                .expect("users")
                .iter()
                .map(|user| user.upn.to_string())
                .collect();
            assert_eq!(upns, ["alice@contoso.example", "carol@contoso.example"]);

            let actions: Vec<(String, String)> = store
                .audit_events(100)
                .await
                .expect("audit")
                .into_iter()
                .filter(|event| event.actor == ACTOR)
                .map(|event| (event.action, event.outcome))
                .collect();
            assert_eq!(actions.len(), 5, "{actions:?}");
            assert!(actions.iter().all(|(_, outcome)| outcome == "ok"));
            for action in ["user.add", "user.set", "user.remove"] {
                assert!(
                    actions.iter().any(|(a, _)| a == action),
                    "{action}: {actions:?}"
                );
            }
        });
    }

    #[test]
    fn an_entry_back_within_the_grace_is_enabled_and_its_missing_mark_cleared() {
        block_on(async {
            let store = MemoryStore::new();
            let t0 = UnixTime(1_800_000_000);
            sync(&store, &[account("bob", 2, "512")], t0).await;
            sync(&store, &[], UnixTime(t0.0 + 60)).await;
            let back = sync(&store, &[account("bob", 2, "512")], UnixTime(t0.0 + 120)).await;
            assert_eq!(back.failed, []);
            assert_eq!(back.applied.len(), 1);
            let bob = store
                .user_by_upn("bob@contoso.example")
                .await
                .expect("store")
                .expect("bob is kept");
            assert!(bob.enabled);
            assert_eq!(
                bob.origin,
                UserOrigin::present_in_directory(
                    "CN=bob,OU=Staff,DC=contoso,DC=example",
                    Vec::new()
                )
            );
        });
    }

    #[test]
    fn a_change_refused_by_the_user_service_does_not_stop_the_others() {
        block_on(async {
            let store = MemoryStore::new();
            let now = UnixTime(1_800_000_000);
            let known = Vec::new();
            let mapped = map_entries(
                &[account("alice", 1, "512"), account("bob", 2, "512")],
                &AttributeMap::active_directory(),
            );
            let plan = plan_sync(&known, mapped, now, GRACE);
            // Someone adds bob by hand between the plan and its application.
            add_user(
                &store,
                UserDraft::new("bob@contoso.example"),
                now,
                "cli:admin",
            )
            .await
            .expect("added by hand");
            let outcome = apply_sync(&store, &plan, now, ACTOR).await;
            assert_eq!(outcome.applied.len(), 1);
            assert_eq!(outcome.failed.len(), 1);
            assert_eq!(outcome.failed[0].error.code(), "user-upn-taken");
            let alice = store
                .user_by_upn("alice@contoso.example")
                .await
                .expect("store")
                .expect("alice was added");
            assert_eq!(alice.immutable_id, "AQEBAQEBAQEBAQEBAQEBAQ==");
        });
    }
}

// ---- One run: read, plan, apply, record ------------------------------------------------------

mod run {
    use certgate_core::clock::FixedClock;
    use certgate_core::directory::{list_users, UserStore};
    use certgate_core::directory_source::{
        synchronize, AttributeMap, DirectoryEntry, DirectorySource, GroupQuery, SourceError,
        SyncMode, SyncRunResult, SyncRunStore, SyncSettings,
    };
    use certgate_core::testing::{block_on, MemoryStore};

    /// The directory as a list of entries, or a directory that cannot be reached: the port's
    /// two answers. (The LDAP implementation is tested against Samba in certgate-ldap and,
    /// end to end, in the CLI's directory_sync_cli tests.)
    struct Listed(Result<Vec<DirectoryEntry>, SourceError>);

    impl DirectorySource for Listed {
        async fn read_entries(
            &self,
            _attributes: &[String],
        ) -> Result<Vec<DirectoryEntry>, SourceError> {
            self.0.clone()
        }

        // No account of these tests is in a group.
        async fn read_groups(
            &self,
            _query: &GroupQuery<'_>,
        ) -> Result<Vec<DirectoryEntry>, SourceError> {
            Ok(Vec::new())
        }
    }

    fn account(cn: &str, guid_byte: u8) -> DirectoryEntry {
        DirectoryEntry::new(format!("CN={cn},DC=contoso,DC=example"))
            .with(
                "userPrincipalName",
                &[format!("{cn}@contoso.example").as_bytes()],
            )
            .with("objectGUID", &[&[guid_byte; 16]])
            .with("userAccountControl", &[b"512"])
    }

    fn settings() -> SyncSettings {
        SyncSettings {
            attributes: AttributeMap::active_directory(),
            removal_grace: SyncSettings::DEFAULT_REMOVAL_GRACE,
        }
    }

    #[test]
    fn a_dry_run_plans_and_writes_nothing_not_even_its_record() {
        block_on(async {
            let store = MemoryStore::new();
            let clock = FixedClock::at(1_800_000_000);
            let source = Listed(Ok(vec![account("alice", 1), account("bob", 2)]));
            let report = synchronize(
                &source,
                &store,
                &settings(),
                SyncMode::DryRun,
                &clock,
                "test",
                &mut |_| {},
            )
            .await
            .expect("read");
            assert_eq!(report.counts().added, 2);
            assert_eq!(report.outcome, None);
            assert!(list_users(&store).await.expect("users").is_empty());
            assert_eq!(store.sync_status().await.expect("status").last_run, None);
        });
    }

    #[test]
    fn an_applied_run_is_recorded_and_a_failed_read_changes_nothing() {
        block_on(async {
            let store = MemoryStore::new();
            let clock = FixedClock::at(1_800_000_000);
            let source = Listed(Ok(vec![account("alice", 1)]));
            let report = synchronize(
                &source,
                &store,
                &settings(),
                SyncMode::Apply,
                &clock,
                "test",
                &mut |_| {},
            )
            .await
            .expect("read");
            let counts = report.counts();
            assert_eq!((counts.entries, counts.added, counts.failed), (1, 1, 0));
            let status = store.sync_status().await.expect("status");
            assert_eq!(
                status.last_completed.as_ref().map(|run| &run.result),
                Some(&SyncRunResult::Completed(counts))
            );

            // The directory cannot be reached: alice is not disabled as if she had vanished.
            clock.set(1_800_000_060);
            let unreachable = Listed(Err(SourceError::Unreachable {
                url: "ldaps://dc.contoso.example".into(),
                detail: "connection refused".into(),
            }));
            let error = synchronize(
                &unreachable,
                &store,
                &settings(),
                SyncMode::Apply,
                &clock,
                "test",
                &mut |_| {},
            )
            .await
            .expect_err("the read fails");
            assert_eq!(error.code(), "directory-source-unreachable");
            let alice = store
                .user_by_upn("alice@contoso.example")
                .await
                .expect("store")
                .expect("alice is kept");
            assert!(alice.enabled);
            let status = store.sync_status().await.expect("status");
            assert!(matches!(
                status.last_run.as_ref().map(|run| &run.result),
                Some(SyncRunResult::Failed { code, .. }) if code == "directory-source-unreachable"
            ));
            assert_eq!(
                status.last_completed.map(|run| run.started_at.0),
                Some(1_800_000_000)
            );
        });
    }
}

// ---- Attributes that come from the directory are not edited by hand ---------------------------

mod hand_edits {
    use std::time::Duration;

    use certgate_core::directory::{add_user, list_users, set_user, UserDraft, UserStore};
    use certgate_core::directory_source::{
        apply_sync, map_entries, plan_sync, AttributeMap, DirectoryEntry,
    };
    use certgate_core::testing::{block_on, MemoryStore};
    use certgate_pki::UnixTime;

    const NOW: UnixTime = UnixTime(1_800_000_000);

    async fn synced_alice(store: &MemoryStore) {
        let entry = DirectoryEntry::new("CN=alice,DC=contoso,DC=example")
            .with("userPrincipalName", &[b"alice@contoso.example"])
            .with("objectGUID", &[&[1; 16]])
            .with("userAccountControl", &[b"512"])
            .with("altSecurityIdentities", &[b"X509:<SKI>0102"]);
        let known = list_users(store).await.expect("users");
        let plan = plan_sync(
            &known,
            map_entries(&[entry], &AttributeMap::active_directory()),
            NOW,
            Duration::from_secs(86_400),
        );
        let outcome = apply_sync(store, &plan, NOW, "directory-sync").await;
        assert_eq!(outcome.failed, []);
    }

    #[test]
    fn each_sourced_attribute_of_a_synced_user_is_refused_and_nothing_is_written() {
        block_on(async {
            let store = MemoryStore::new();
            synced_alice(&store).await;
            let before = store
                .user_by_upn("alice@contoso.example")
                .await
                .expect("store")
                .expect("alice");
            type Edit = fn(&mut UserDraft);
            let edits: [(&str, Edit); 7] = [
                ("userPrincipalName", |d| {
                    d.upn = "alice2@contoso.example".into()
                }),
                ("onPremisesImmutableId", |d| {
                    d.immutable_id = Some("other".into())
                }),
                ("displayName", |d| d.display_name = Some("Alice A.".into())),
                ("mail", |d| d.mail = Some("alice@contoso.example".into())),
                ("proxyAddresses", |d| {
                    d.proxy_addresses = vec!["SMTP:alice@contoso.example".into()]
                }),
                ("certificateUserIds", |d| d.certificate_user_ids.clear()),
                ("accountEnabled", |d| d.enabled = false),
            ];
            for (attribute, edit) in edits {
                let error = set_user(
                    &store,
                    "alice@contoso.example",
                    |mut draft| {
                        edit(&mut draft);
                        draft
                    },
                    NOW,
                    "cli:admin",
                )
                .await
                .expect_err(attribute);
                assert_eq!(error.code(), "user-attribute-from-directory", "{attribute}");
                assert!(error.to_string().contains(attribute), "{error}");
                assert!(
                    error.to_string().contains("CN=alice,DC=contoso,DC=example"),
                    "{error}"
                );
            }
            let after = store
                .user_by_upn("alice@contoso.example")
                .await
                .expect("store")
                .expect("alice");
            assert_eq!(after, before);
        });
    }

    #[test]
    fn groups_of_a_synced_user_and_every_attribute_of_a_local_user_stay_editable() {
        block_on(async {
            let store = MemoryStore::new();
            synced_alice(&store).await;
            let alice = set_user(
                &store,
                "alice@contoso.example",
                |mut draft| {
                    draft.groups = vec!["vpn-users".into()];
                    // Listing the same values in another order is no change.
                    draft.certificate_user_ids.reverse();
                    draft
                },
                NOW,
                "cli:admin",
            )
            .await
            .expect("groups are certgate's own");
            assert_eq!(alice.groups, ["vpn-users"]);
            assert!(alice.origin.is_directory());

            add_user(
                &store,
                UserDraft::new("carol@contoso.example"),
                NOW,
                "cli:admin",
            )
            .await
            .expect("local");
            let carol = set_user(
                &store,
                "carol@contoso.example",
                |mut draft| {
                    draft.display_name = Some("Carol C.".into());
                    draft.enabled = false;
                    draft
                },
                NOW,
                "cli:admin",
            )
            .await
            .expect("a local user is edited by hand");
            assert_eq!(carol.display_name, "Carol C.");
        });
    }
}

// ---- Group memberships, nested groups included -----------------------------------------------

mod membership {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use certgate_core::directory_source::{
        map_entries, read_memberships, AttributeMap, DirectoryEntry, DirectorySource,
        GroupMembership, GroupMembershipRule, GroupQuery, MappedEntries, SourceError,
    };
    use certgate_core::testing::block_on;

    /// A directory of groupOfNames entries held in memory, answering a lookup as a server
    /// answers `(&(objectClass=groupOfNames)(member=<DN>))`: the groups that list the DN
    /// directly. Nesting is certgate's to follow (the in-chain rule of Active Directory is
    /// tested against Samba in certgate-ldap).
    struct Groups {
        people: Vec<DirectoryEntry>,
        groups: Vec<DirectoryEntry>,
        lookups: AtomicUsize,
        ended: AtomicUsize,
    }

    impl Groups {
        fn new(groups: Vec<DirectoryEntry>) -> Groups {
            Groups {
                people: Vec::new(),
                groups,
                lookups: AtomicUsize::new(0),
                ended: AtomicUsize::new(0),
            }
        }
    }

    impl DirectorySource for Groups {
        async fn read_entries(
            &self,
            _attributes: &[String],
        ) -> Result<Vec<DirectoryEntry>, SourceError> {
            Ok(self.people.clone())
        }

        async fn end_read(&self) {
            self.ended.fetch_add(1, Ordering::SeqCst);
        }

        async fn read_groups(
            &self,
            query: &GroupQuery<'_>,
        ) -> Result<Vec<DirectoryEntry>, SourceError> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let GroupMembershipRule::MemberAttribute {
                member_attribute, ..
            } = query.rule
            else {
                panic!("these tests use the member attribute rule");
            };
            Ok(self
                .groups
                .iter()
                .filter(|group| {
                    group.values(member_attribute).iter().any(|member| {
                        String::from_utf8_lossy(member).eq_ignore_ascii_case(query.member_dn)
                    })
                })
                .take(query.at_most)
                .cloned()
                .collect())
        }
    }

    fn group(cn: &str, members: &[&str]) -> DirectoryEntry {
        let members: Vec<&[u8]> = members.iter().map(|member| member.as_bytes()).collect();
        DirectoryEntry::new(dn(cn))
            .with("cn", &[cn.as_bytes()])
            .with("member", &members)
    }

    fn dn(cn: &str) -> String {
        format!("cn={cn},ou=groups,dc=example,dc=test")
    }

    fn person(uid: &str, uuid_byte: char) -> DirectoryEntry {
        let uuid = format!(
            "{0}{0}{0}{0}{0}{0}{0}{0}-0000-4000-8000-000000000000",
            uuid_byte
        );
        DirectoryEntry::new(format!("uid={uid},ou=people,dc=example,dc=test"))
            .with("mail", &[format!("{uid}@example.test").as_bytes()])
            .with("entryUUID", &[uuid.as_bytes()])
    }

    fn read(
        source: &Groups,
        people: &[DirectoryEntry],
        settings: &GroupMembership,
    ) -> Result<MappedEntries, SourceError> {
        let mapped = map_entries(people, &AttributeMap::generic_ldap());
        assert_eq!(mapped.problems, [], "the people map");
        block_on(read_memberships(source, people, mapped, settings))
    }

    fn groups_of(mapped: &MappedEntries) -> Vec<(String, Vec<String>)> {
        mapped
            .entries
            .iter()
            .map(|entry| (entry.draft.upn.clone(), entry.directory_groups.clone()))
            .collect()
    }

    #[test]
    fn nested_groups_are_followed_and_a_cycle_is_walked_once() {
        let ada = "uid=ada,ou=people,dc=example,dc=test";
        // ada is in G1; G1 in G2; G2 in G3, and G3 back in G1.
        let source = Groups::new(vec![
            group("G1", &[ada, &dn("G3")]),
            group("G2", &[&dn("G1")]),
            group("G3", &[&dn("G2")]),
            group("Other", &["uid=bob,ou=people,dc=example,dc=test"]),
        ]);
        let mapped = read(
            &source,
            &[person("ada", 'a'), person("cy", 'c')],
            &GroupMembership::group_of_names(),
        )
        .expect("read");
        assert_eq!(
            groups_of(&mapped),
            [
                (
                    "ada@example.test".to_owned(),
                    vec!["G1".to_owned(), "G2".to_owned(), "G3".to_owned()]
                ),
                ("cy@example.test".to_owned(), Vec::new()),
            ]
        );
        // ada: herself and each of the three groups once; cy: herself.
        assert_eq!(source.lookups.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn a_user_in_more_groups_than_the_cap_is_skipped_with_its_code() {
        let ada = "uid=ada,ou=people,dc=example,dc=test";
        let source = Groups::new(vec![
            group("G1", &[ada]),
            group("G2", &[&dn("G1")]),
            group("G3", &[&dn("G2")]),
        ]);
        let settings = GroupMembership {
            max_groups_per_user: 2,
            ..GroupMembership::group_of_names()
        };
        let mapped = read(&source, &[person("ada", 'a')], &settings).expect("read");
        assert!(mapped.entries.is_empty());
        assert_eq!(mapped.problems.len(), 1);
        assert_eq!(
            mapped.problems[0].error.code(),
            "directory-entry-too-many-groups"
        );
        assert_eq!(mapped.problems[0].dn, ada);
        // The entry is still identified, so its user is kept rather than treated as gone.
        assert!(mapped.problems[0].immutable_id.is_some());
        // Exactly the cap is fine.
        let settings = GroupMembership {
            max_groups_per_user: 3,
            ..GroupMembership::group_of_names()
        };
        let mapped = read(&source, &[person("ada", 'a')], &settings).expect("read");
        assert_eq!(mapped.entries[0].directory_groups, ["G1", "G2", "G3"]);
    }

    #[test]
    fn more_lookups_than_the_run_allows_fail_the_whole_read() {
        let source = Groups::new(vec![group("G1", &["uid=ada,ou=people,dc=example,dc=test"])]);
        let settings = GroupMembership {
            max_lookups_per_run: 2,
            ..GroupMembership::group_of_names()
        };
        let people = [person("ada", 'a'), person("bo", 'b')];
        // ada needs two lookups (herself, G1), bo a third.
        let error = read(&source, &people, &settings).expect_err("over the cap");
        assert_eq!(error.code(), "directory-source-group-lookup-limit");
        let settings = GroupMembership {
            max_lookups_per_run: 3,
            ..GroupMembership::group_of_names()
        };
        assert!(read(&source, &people, &settings).is_ok());
    }

    #[test]
    fn a_group_without_a_usable_name_skips_its_members() {
        let ada = "uid=ada,ou=people,dc=example,dc=test";
        let nameless = DirectoryEntry::new(dn("nameless")).with("member", &[ada.as_bytes()]);
        let named = |name: &[&[u8]]| {
            DirectoryEntry::new(dn("bad"))
                .with("cn", name)
                .with("member", &[ada.as_bytes()])
        };
        let control = named(&[b"Evil\x1b[31m"]);
        let not_utf8 = named(&[b"\xff\xfe"]);
        let two_names = named(&[b"A", b"B"]);
        let too_long = named(&[&[b'x'; 300]]);
        for bad in [nameless, control, not_utf8, two_names, too_long] {
            let source = Groups::new(vec![group("G1", &[ada]), bad]);
            let mapped = read(
                &source,
                &[person("ada", 'a')],
                &GroupMembership::group_of_names(),
            )
            .expect("read");
            assert!(mapped.entries.is_empty());
            assert_eq!(
                mapped.problems[0].error.code(),
                "directory-entry-group-unreadable"
            );
        }
    }

    #[test]
    fn groups_are_named_by_the_configured_attribute_and_kept_once_when_names_repeat() {
        let ada = "uid=ada,ou=people,dc=example,dc=test";
        // Two groups called Staff in different OUs are one group in certgate.
        let source = Groups::new(vec![
            group("Staff", &[ada]),
            DirectoryEntry::new("cn=Staff,ou=paris,dc=example,dc=test")
                .with("cn", &[b"Staff"])
                .with("description", &[b"Paris staff"])
                .with("member", &[ada.as_bytes()]),
        ]);
        let mapped = read(
            &source,
            &[person("ada", 'a')],
            &GroupMembership::group_of_names(),
        )
        .expect("read");
        assert_eq!(mapped.entries[0].directory_groups, ["Staff"]);
        let by_description = GroupMembership {
            name_attribute: "description".into(),
            ..GroupMembership::group_of_names()
        };
        let mapped = read(&source, &[person("ada", 'a')], &by_description).expect("read");
        // The first group has no description: its members cannot be told apart.
        assert_eq!(
            mapped.problems[0].error.code(),
            "directory-entry-group-unreadable"
        );
    }

    #[test]
    fn a_sync_ends_its_read_whether_the_lookups_succeed_or_not() {
        use certgate_core::clock::FixedClock;
        use certgate_core::directory_source::{synchronize, SyncMode, SyncSettings};
        use certgate_core::testing::MemoryStore;

        let ada = "uid=ada,ou=people,dc=example,dc=test";
        let sync = |max_lookups_per_run: usize| {
            let source = Groups {
                people: vec![person("ada", 'a'), person("bo", 'b')],
                ..Groups::new(vec![group("G1", &[ada])])
            };
            let mut attributes = AttributeMap::generic_ldap();
            attributes.groups = Some(GroupMembership {
                max_lookups_per_run,
                ..GroupMembership::group_of_names()
            });
            let settings = SyncSettings {
                attributes,
                removal_grace: SyncSettings::DEFAULT_REMOVAL_GRACE,
            };
            let store = MemoryStore::new();
            let result = block_on(synchronize(
                &source,
                &store,
                &settings,
                SyncMode::Apply,
                &FixedClock::at(1_800_000_000),
                "test",
                &mut |_| {},
            ));
            (
                result.map(|report| report.counts().added),
                source.ended.load(Ordering::SeqCst),
            )
        };
        let (added, ended) = sync(3);
        assert_eq!((added.expect("synchronised"), ended), (2, 1));
        let (refused, ended) = sync(2);
        assert_eq!(
            refused.expect_err("over the cap").code(),
            "directory-source-group-lookup-limit"
        );
        assert_eq!(ended, 1);
    }
}
