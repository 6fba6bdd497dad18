//! Device provisioning's rules, each tested once, on the in-memory store
//! (`testing::MemoryStore`) with a fixed clock: a request is checked in full before anything
//! is issued (so a refusal leaves no certificate behind), the certificate carries the
//! directory's UPN, mail and display name, is on record (as the child of the certificate it
//! was obtained with, when there is one) and the provisioning is in the audit log, and only an
//! iOS profile is signed, by the issuing CA. The file formats are the unit tests in
//! src/device/; what a real device or OpenSSL reads of them is certgate-server's
//! device_provisioning and certgate's device_cli tests, which keep one success and one refusal
//! per route or command.

use certgate_core::audit::AuditLog;
use std::future::Future;

use certgate_ca::KeyAlgorithm;
use certgate_core::authority::{
    BuiltInCa, DerivedFor, InitRequest, IssueRequest, OwnCaStore, PkiSettings, PublicationUrls,
};
use certgate_core::clock::FixedClock;
use certgate_core::device::{
    provision_device, DeviceProfileRequest, PasswordDelivery, Platform, ProfileSigning,
};
use certgate_core::directory::{add_user, set_user, User, UserDraft};
use certgate_core::signin::ValidCertificate;
use certgate_core::strength::{IssuerFacts, StrengthInput};
use certgate_core::testing::{block_on, MemoryStore};
use certgate_pki::{Certificate, Identity, UnixTime};
use zeroize::Zeroizing;

const ACTOR: &str = "cli:test";
/// 2026-01-01T00:00:00Z.
const T0: i64 = certgate_testpki::VALIDATION_TIME;
const PASSWORD: &str = "correct horse battery";

fn settings() -> PkiSettings {
    PkiSettings::new(
        PublicationUrls::new("http://pki.contoso.example"),
        Some(Zeroizing::new(b"device test passphrase".to_vec())),
    )
}

/// Runs one test on a store with certgate's CA and alice@contoso.example (Alice Smith, with
/// a mail address).
fn with_alice<F: Future<Output = ()>>(test: impl FnOnce(MemoryStore, FixedClock, User) -> F) {
    block_on(async {
        let store = MemoryStore::new();
        let clock = FixedClock::at(T0);
        BuiltInCa::new(&store, &clock, &settings(), ACTOR)
            .init(&InitRequest {
                organization: "Contoso".into(),
                key_algorithm: KeyAlgorithm::EcdsaP256,
                root_validity_days: 3650,
                issuing_validity_days: 1825,
            })
            .await
            .expect("init");
        let mut draft = UserDraft::new("alice@contoso.example");
        draft.display_name = Some("Alice Smith".into());
        draft.mail = Some("alice.smith@contoso.example".into());
        let alice = add_user(&store, draft, UnixTime(T0), ACTOR)
            .await
            .expect("alice");
        test(store, clock, alice).await;
    });
}

fn request(platform: Platform, eas_host: Option<&str>) -> DeviceProfileRequest {
    let mut request = DeviceProfileRequest::new(
        platform,
        eas_host.map(str::to_owned),
        Zeroizing::new(PASSWORD.to_owned()),
    );
    request.key_algorithm = KeyAlgorithm::EcdsaP256;
    request
}

#[test]
fn a_request_is_checked_in_full_before_anything_is_issued() {
    with_alice(|store, clock, alice| async move {
        let settings = settings();
        let refusal = |request: DeviceProfileRequest, user: User| {
            let (store, clock, settings) = (&store, &clock, &settings);
            async move {
                provision_device(store, clock, settings, ACTOR, &user, &request)
                    .await
                    .expect_err("refused")
            }
        };
        let error = refusal(request(Platform::Ios, None), alice.clone()).await;
        assert_eq!(error.code(), "device-eas-host-missing");
        assert!(error.is_request_error());
        let error = refusal(
            request(Platform::Android, Some("https://mail.contoso.example/")),
            alice.clone(),
        )
        .await;
        assert_eq!(error.code(), "device-eas-host-invalid");
        let mut short = request(Platform::Pkcs12, None);
        short.pkcs12_password = Zeroizing::new("short".into());
        let error = refusal(short, alice.clone()).await;
        assert_eq!(error.code(), "device-p12-password-too-short");
        assert!(error.to_string().contains("at least 8"), "{error}");
        let mut signed_android = request(Platform::Android, Some("mail.contoso.example"));
        signed_android.signing = ProfileSigning::SignedByIssuingCa;
        let error = refusal(signed_android, alice.clone()).await;
        assert_eq!(error.code(), "device-signing-not-applicable");
        let mut embedded_pkcs12 = request(Platform::Pkcs12, None);
        embedded_pkcs12.password = PasswordDelivery::EmbeddedInProfile;
        let error = refusal(embedded_pkcs12, alice.clone()).await;
        assert_eq!(error.code(), "device-embed-password-not-applicable");

        let disabled = set_user(
            &store,
            "alice@contoso.example",
            |draft| UserDraft {
                enabled: false,
                ..draft
            },
            UnixTime(T0),
            ACTOR,
        )
        .await
        .expect("disabled");
        let error = refusal(request(Platform::Pkcs12, None), disabled).await;
        assert_eq!(error.code(), "device-user-disabled");
        assert!(error.to_string().contains("enable the account"), "{error}");

        assert!(store
            .issued_certificates()
            .await
            .expect("issued")
            .is_empty());
        let audit = store.audit_events(100).await.expect("audit");
        assert!(audit.iter().all(|e| e.action != "device.profile"));
    });
}

#[test]
fn a_device_certificate_carries_the_directorys_names_and_is_on_record_and_audited() {
    with_alice(|store, clock, alice| async move {
        let settings = settings();
        let profile = provision_device(
            &store,
            &clock,
            &settings,
            ACTOR,
            &alice,
            &request(Platform::Pkcs12, None),
        )
        .await
        .expect("provisioned");
        assert_eq!(profile.file_name, "alice@contoso.example.p12");
        assert_eq!(profile.content_type, "application/x-pkcs12");
        assert!(!profile.signed);
        let issued = store.issued_certificates().await.expect("issued");
        assert_eq!(issued.len(), 1);
        let record = &issued[0];
        assert_eq!(record.serial, profile.serial);
        assert_eq!(record.upn, "alice@contoso.example");
        assert_eq!(record.email.as_deref(), Some("alice.smith@contoso.example"));
        assert_eq!(record.subject, "CN=Alice Smith, O=Contoso");
        assert_eq!(record.parent, None);
        let identity =
            Identity::of(&Certificate::from_der(&record.certificate_der).expect("certificate"));
        assert_eq!(identity.upns, ["alice@contoso.example"]);
        assert_eq!(identity.rfc822_names, ["alice.smith@contoso.example"]);

        let last = store.audit_events(1).await.expect("audit").remove(0);
        assert_eq!(
            (last.action.as_str(), last.target.as_str()),
            ("device.profile", "alice@contoso.example")
        );
        assert!(last.detail.contains("PKCS#12 file"), "{}", last.detail);

        // Without a mail address, the UPN is the certificate's mail too.
        let no_mail = set_user(
            &store,
            "alice@contoso.example",
            |draft| UserDraft {
                mail: None,
                ..draft
            },
            UnixTime(T0),
            ACTOR,
        )
        .await
        .expect("no mail");
        let profile = provision_device(
            &store,
            &clock,
            &settings,
            ACTOR,
            &no_mail,
            &request(Platform::Pkcs12, None),
        )
        .await
        .expect("provisioned");
        let record = store
            .find_issued(&profile.serial)
            .await
            .expect("find")
            .expect("on record");
        assert_eq!(record.email.as_deref(), Some("alice@contoso.example"));
    });
}

#[test]
fn only_an_ios_profile_is_signed_by_the_issuing_ca_when_asked() {
    with_alice(|store, clock, alice| async move {
        let settings = settings();
        let ios = |signing: ProfileSigning, password: PasswordDelivery| {
            let mut request = request(Platform::Ios, Some("mail.contoso.example"));
            request.signing = signing;
            request.password = password;
            request
        };
        let unsigned = provision_device(
            &store,
            &clock,
            &settings,
            ACTOR,
            &alice,
            &ios(ProfileSigning::Unsigned, PasswordDelivery::AskOnDevice),
        )
        .await
        .expect("unsigned");
        assert!(!unsigned.signed);
        assert!(unsigned.bytes.starts_with(b"<?xml"), "a plain plist");
        assert_eq!(unsigned.file_name, "alice@contoso.example.mobileconfig");

        let signed = provision_device(
            &store,
            &clock,
            &settings,
            ACTOR,
            &alice,
            &ios(
                ProfileSigning::SignedByIssuingCa,
                PasswordDelivery::EmbeddedInProfile,
            ),
        )
        .await
        .expect("signed");
        assert!(signed.signed);
        assert_eq!(signed.bytes.first(), Some(&0x30), "CMS SignedData, DER");
        let detail = store.audit_events(1).await.expect("audit").remove(0).detail;
        assert!(
            detail.contains("Exchange ActiveSync host mail.contoso.example")
                && detail.contains("signed by the issuing CA")
                && detail.contains("PKCS#12 password embedded"),
            "{detail}"
        );
    });
}

#[test]
fn a_device_certificate_obtained_with_a_certificate_is_recorded_as_its_child() {
    with_alice(|store, clock, alice| async move {
        let settings = settings();
        let ca = BuiltInCa::new(&store, &clock, &settings, ACTOR);
        let signed_in_with = ca
            .issue(&IssueRequest {
                upn: alice.upn.to_string(),
                email: None,
                common_name: None,
                validity_days: 365,
                policy_oids: Vec::new(),
                key_algorithm: KeyAlgorithm::EcdsaP256,
                parent: None,
            })
            .await
            .expect("issued");
        let issuing_ca = Certificate::from_der(&signed_in_with.chain_der[0]).expect("CA");
        let leaf = Certificate::from_der(&signed_in_with.record.certificate_der).expect("leaf");
        let identity = Identity::of(&leaf);
        let presented = ValidCertificate {
            issuer: issuing_ca.subject().to_windows(),
            serial: identity.serial.clone(),
            sha256_thumbprint: identity.sha256_thumbprint.clone(),
            der: signed_in_with.record.certificate_der.clone(),
            issuing_ca_der: signed_in_with.chain_der[0].clone(),
            strength_input: StrengthInput {
                issuer: IssuerFacts::of_ca(&issuing_ca),
                policy_oids: Vec::new(),
            },
            identity,
        };
        let mut device = request(Platform::Pkcs12, None);
        device.parent = Some(
            ca.derivation_parent(&presented, DerivedFor::Device)
                .await
                .expect("parent"),
        );
        let profile = provision_device(&store, &clock, &settings, ACTOR, &alice, &device)
            .await
            .expect("provisioned");
        let child = store
            .find_issued(&profile.serial)
            .await
            .expect("find")
            .expect("on record");
        assert_eq!(
            child.parent.map(|p| p.serial),
            Some(signed_in_with.record.serial.clone())
        );
        // So revoking what the user signed in with revokes the device's certificate.
        let revocation = ca
            .revoke(&signed_in_with.record.serial, "keyCompromise")
            .await
            .expect("revoked");
        assert_eq!(revocation.descendants.len(), 1);
        assert_eq!(revocation.descendants[0].serial, profile.serial);
    });
}
