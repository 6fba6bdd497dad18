//! The Apple configuration profile (Apple's Device Management reference: "TopLevel",
//! "CommonPayloadKeys", "CertificatePKCS12", "ExchangeActiveSync"): an XML property list with
//! two payloads, the user's PKCS#12 identity and an Exchange ActiveSync account that
//! authenticates with it (`PayloadCertificateUUID` = the identity payload's `PayloadUUID`).
//! Only documented keys are written.
//!
//! Written with the `plist` crate (no serde feature: its tree adds only base64 0.23 to what
//! the workspace already builds), which escapes strings and writes `<data>` as base64.

use plist::{Dictionary, Value};

use super::{profile_identifier, uuid_v4, DeviceError, PasswordDelivery, ProfileContent};
use crate::clock::rfc3339;

/// Days of mail the account synchronises at first (the documented values are 0 = all, 1, 3,
/// 7, 14 and 31; 7 is the device's own default).
const MAIL_DAYS_TO_SYNC: u64 = 7;

pub(super) fn write(content: &ProfileContent<'_>) -> Result<Vec<u8>, DeviceError> {
    let identifier = profile_identifier(content.eas_host, content.upn);
    let credential_uuid = uuid_v4();

    let mut credential = payload(
        "com.apple.security.pkcs12",
        &format!("{identifier}.credential"),
        &credential_uuid,
        &format!("Sign-in certificate for {}", content.upn),
        &format!(
            "The certificate and private key {} signs in with (serial {}, valid until {}).",
            content.upn,
            content.serial,
            rfc3339(content.not_after)
        ),
        content.organization,
    );
    credential.insert(
        "PayloadCertificateFileName".into(),
        format!("{}.p12", super::file_stem(content.upn)).into(),
    );
    credential.insert(
        "PayloadContent".into(),
        Value::Data(content.pkcs12.to_vec()),
    );
    if content.password == PasswordDelivery::EmbeddedInProfile {
        credential.insert("Password".into(), content.pkcs12_password.into());
    }

    let mut account = payload(
        "com.apple.eas.account",
        &format!("{identifier}.eas"),
        &uuid_v4(),
        &format!("{} mail", content.organization),
        &format!(
            "Mail, contacts and calendars from {} for {}, signed in with the certificate.",
            content.eas_host, content.upn
        ),
        content.organization,
    );
    account.insert("Host".into(), content.eas_host.as_str().into());
    account.insert("SSL".into(), true.into());
    account.insert("UserName".into(), content.upn.into());
    account.insert("EmailAddress".into(), content.email.into());
    account.insert("PayloadCertificateUUID".into(), credential_uuid.into());
    account.insert(
        "MailNumberOfPastDaysToSync".into(),
        MAIL_DAYS_TO_SYNC.into(),
    );

    let mut profile = Dictionary::new();
    profile.insert(
        "PayloadContent".into(),
        Value::Array(vec![credential.into(), account.into()]),
    );
    profile.insert(
        "PayloadDescription".into(),
        format!(
            "Sets up {} on this device with {}'s certificate. Installing it again replaces the previous profile.",
            content.eas_host, content.upn
        )
        .into(),
    );
    profile.insert(
        "PayloadDisplayName".into(),
        format!("{} mail ({})", content.organization, content.upn).into(),
    );
    profile.insert("PayloadIdentifier".into(), identifier.into());
    profile.insert("PayloadOrganization".into(), content.organization.into());
    profile.insert("PayloadType".into(), "Configuration".into());
    profile.insert("PayloadUUID".into(), uuid_v4().into());
    profile.insert("PayloadVersion".into(), 1u64.into());

    let mut out = Vec::new();
    Value::Dictionary(profile)
        .to_writer_xml(&mut out)
        .map_err(|error| DeviceError::Encoding {
            format: "configuration profile",
            detail: error.to_string(),
        })?;
    out.push(b'\n');
    Ok(out)
}

/// The keys every payload has (CommonPayloadKeys).
fn payload(
    payload_type: &str,
    identifier: &str,
    uuid: &str,
    display_name: &str,
    description: &str,
    organization: &str,
) -> Dictionary {
    let mut payload = Dictionary::new();
    payload.insert("PayloadType".into(), payload_type.into());
    payload.insert("PayloadVersion".into(), 1u64.into());
    payload.insert("PayloadIdentifier".into(), identifier.into());
    payload.insert("PayloadUUID".into(), uuid.into());
    payload.insert("PayloadDisplayName".into(), display_name.into());
    payload.insert("PayloadDescription".into(), description.into());
    payload.insert("PayloadOrganization".into(), organization.into());
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::EasHost;
    use certgate_pki::UnixTime;

    fn content<'a>(host: &'a EasHost, password: PasswordDelivery) -> ProfileContent<'a> {
        ProfileContent {
            upn: "alice@contoso.example",
            email: "alice.smith@contoso.example",
            organization: "Contoso <&>",
            eas_host: host,
            pkcs12: b"\x30\x82pkcs12",
            pkcs12_password: "p<a>ss&word",
            password,
            serial: "0a1b",
            not_after: UnixTime(1_798_761_600),
        }
    }

    fn read(bytes: &[u8]) -> Dictionary {
        Value::from_reader_xml(bytes)
            .expect("plist")
            .into_dictionary()
            .expect("dictionary")
    }

    #[test]
    fn the_eas_account_points_at_the_pkcs12_payload() {
        let host = EasHost::parse("mail.contoso.example").expect("host");
        let bytes = write(&content(&host, PasswordDelivery::AskOnDevice)).expect("profile");
        let text = String::from_utf8(bytes.clone()).expect("UTF-8");
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(text.contains("<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\""));
        let profile = read(&bytes);
        assert_eq!(profile["PayloadType"].as_string(), Some("Configuration"));
        assert_eq!(
            profile["PayloadOrganization"].as_string(),
            Some("Contoso <&>")
        );
        let payloads = profile["PayloadContent"].as_array().expect("payloads");
        let credential = payloads[0].as_dictionary().expect("credential");
        let account = payloads[1].as_dictionary().expect("account");
        assert_eq!(
            credential["PayloadType"].as_string(),
            Some("com.apple.security.pkcs12")
        );
        assert_eq!(
            credential["PayloadContent"].as_data(),
            Some(&b"\x30\x82pkcs12"[..])
        );
        assert!(credential.get("Password").is_none());
        assert_eq!(account["PayloadCertificateUUID"], credential["PayloadUUID"]);
        assert_eq!(account["SSL"].as_boolean(), Some(true));
        assert_eq!(
            account["UserName"].as_string(),
            Some("alice@contoso.example")
        );
        let uuids = [
            &profile["PayloadUUID"],
            &credential["PayloadUUID"],
            &account["PayloadUUID"],
        ];
        assert_ne!(uuids[0], uuids[1]);
        assert_ne!(uuids[1], uuids[2]);
    }

    #[test]
    fn the_password_is_written_only_when_embedding_was_asked_for() {
        let host = EasHost::parse("mail.contoso.example").expect("host");
        let bytes = write(&content(&host, PasswordDelivery::EmbeddedInProfile)).expect("profile");
        let profile = read(&bytes);
        let payloads = profile["PayloadContent"].as_array().expect("payloads");
        let credential = payloads[0].as_dictionary().expect("credential");
        assert_eq!(credential["Password"].as_string(), Some("p<a>ss&word"));
    }
}
