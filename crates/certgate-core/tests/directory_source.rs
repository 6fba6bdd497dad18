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
                UserOrigin::present_in_directory("CN=alice,OU=Staff,DC=contoso,DC=example")
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
                UserOrigin::present_in_directory("CN=bob,OU=Staff,DC=contoso,DC=example")
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
        synchronize, AttributeMap, DirectoryEntry, DirectorySource, SourceError, SyncMode,
        SyncRunResult, SyncRunStore, SyncSettings,
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
