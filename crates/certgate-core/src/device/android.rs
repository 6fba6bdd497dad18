//! certgate's JSON device profile for Android and MDM import. Android has no standard
//! profile file; this one carries what an Exchange ActiveSync account with certificate
//! authentication needs (the fields an MDM's "Exchange ActiveSync" and "certificate"
//! configurations ask for), in one documented document:
//!
//! ```json
//! {
//!   "type": "exchange-activesync",
//!   "version": 1,
//!   "displayName": "Contoso mail (alice@contoso.example)",
//!   "organization": "Contoso",
//!   "host": "mail.contoso.example",
//!   "ssl": true,
//!   "user": "alice@contoso.example",
//!   "email": "alice.smith@contoso.example",
//!   "authentication": "client-certificate",
//!   "mailDaysToSync": 7,
//!   "certificate": {
//!     "alias": "alice@contoso.example",
//!     "format": "pkcs12",
//!     "pkcs12": "<base64, RFC 4648 §4>",
//!     "password": "<only when embedding was asked for>",
//!     "serialNumber": "0a1b...",
//!     "notAfter": "2027-01-01T00:00:00Z"
//!   }
//! }
//! ```
//!
//! `certificate.alias` is the key-chain alias the account refers to (Android's
//! `KeyChain` alias); `password` is absent unless the caller embedded it.

use base64::Engine as _;
use serde_json::json;

use super::{DeviceError, PasswordDelivery, ProfileContent};
use crate::clock::rfc3339;

/// The document's `type`.
pub const ANDROID_PROFILE_TYPE: &str = "exchange-activesync";

pub(super) fn write(content: &ProfileContent<'_>) -> Result<Vec<u8>, DeviceError> {
    let mut certificate = json!({
        "alias": content.upn,
        "format": "pkcs12",
        "pkcs12": base64::engine::general_purpose::STANDARD.encode(content.pkcs12),
        "serialNumber": content.serial,
        "notAfter": rfc3339(content.not_after),
    });
    if content.password == PasswordDelivery::EmbeddedInProfile {
        certificate["password"] = json!(content.pkcs12_password);
    }
    let document = json!({
        "type": ANDROID_PROFILE_TYPE,
        "version": 1,
        "displayName": format!("{} mail ({})", content.organization, content.upn),
        "organization": content.organization,
        "host": content.eas_host.as_str(),
        "ssl": true,
        "user": content.upn,
        "email": content.email,
        "authentication": "client-certificate",
        "mailDaysToSync": 7,
        "certificate": certificate,
    });
    let mut bytes =
        serde_json::to_vec_pretty(&document).map_err(|error| DeviceError::Encoding {
            format: "Android profile",
            detail: error.to_string(),
        })?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::EasHost;
    use certgate_pki::UnixTime;

    #[test]
    fn the_document_carries_the_account_and_the_certificate() {
        let host = EasHost::parse("mail.contoso.example").expect("host");
        for (delivery, password) in [
            (PasswordDelivery::AskOnDevice, None),
            (PasswordDelivery::EmbeddedInProfile, Some("long password")),
        ] {
            let bytes = write(&ProfileContent {
                upn: "alice@contoso.example",
                email: "alice@contoso.example",
                organization: "Contoso",
                eas_host: &host,
                pkcs12: b"p12",
                pkcs12_password: "long password",
                password: delivery,
                serial: "0a1b",
                not_after: UnixTime(1_798_761_600),
            })
            .expect("profile");
            let document: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
            assert_eq!(document["type"], "exchange-activesync");
            assert_eq!(document["host"], "mail.contoso.example");
            assert_eq!(document["ssl"], true);
            assert_eq!(document["certificate"]["pkcs12"], "cDEy");
            assert_eq!(document["certificate"]["notAfter"], "2027-01-01T00:00:00Z");
            assert_eq!(document["certificate"]["password"].as_str(), password);
        }
    }
}
