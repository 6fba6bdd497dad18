//! Device provisioning: a new client certificate for a user, packed for a phone or tablet —
//! an Apple configuration profile (.mobileconfig) whose Exchange ActiveSync account signs in
//! with the certificate, a JSON profile for Android / MDM import, or the bare PKCS#12.
//!
//! [`provision_device`] is the service (the CLI, the admin API and the self-service page all
//! call it): it checks the request, issues the certificate through the built-in CA (so it is
//! recorded and revocable like any other), packs it, writes the profile (`apple`,
//! `android`: pure writers) and records an audit event. Everything a request can get wrong is
//! refused before a certificate is issued.

mod android;
mod apple;

use crate::Store;
pub use android::ANDROID_PROFILE_TYPE;

use certgate_ca::{KeyAlgorithm, Pkcs12Encryption};
use certgate_pki::{Certificate, ReasonCode, UnixTime};
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::authority::{
    common_name_for_display_name, BuiltInCa, IssueRequest, ParentCertificate, PkiError, PkiSettings,
};
use crate::clock::Clock;
use crate::directory::User;
use crate::store::StoreError;

/// What the device receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// An Apple configuration profile: the PKCS#12 payload and an Exchange ActiveSync account
    /// that uses it (iOS, iPadOS).
    Ios,
    /// certgate's JSON profile for Android and MDM import (see docs/devices-and-est.md).
    Android,
    /// The PKCS#12 file alone, for a device or mail app that is set up by hand.
    Pkcs12,
}

impl Platform {
    /// Every platform.
    pub const ALL: [Platform; 3] = [Platform::Ios, Platform::Android, Platform::Pkcs12];

    /// `ios`, `android` or `pkcs12`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Ios => "ios",
            Platform::Android => "android",
            Platform::Pkcs12 => "pkcs12",
        }
    }

    /// The inverse of [`Platform::as_str`] (exact, lowercase).
    pub fn parse(text: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The media type the file is served with: Safari on iOS offers to install an
    /// `application/x-apple-aspen-config` download as a profile.
    pub fn content_type(self) -> &'static str {
        match self {
            Platform::Ios => "application/x-apple-aspen-config",
            Platform::Android => "application/json",
            Platform::Pkcs12 => "application/x-pkcs12",
        }
    }

    /// The file name extension, without the dot: `mobileconfig`, `json` or `p12`.
    pub fn file_extension(self) -> &'static str {
        match self {
            Platform::Ios => "mobileconfig",
            Platform::Android => "json",
            Platform::Pkcs12 => "p12",
        }
    }

    fn needs_eas_host(self) -> bool {
        self != Platform::Pkcs12
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the PKCS#12 password goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PasswordDelivery {
    /// Not in the profile: the device asks for it when the profile is installed. The default.
    AskOnDevice,
    /// Written into the profile next to the PKCS#12 (Apple's `Password` key, the JSON's
    /// `certificate.password`): the file then protects the private key no better than the
    /// channel it travels over. For MDM pushes over a protected channel only.
    EmbeddedInProfile,
}

/// Whether an Apple profile is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProfileSigning {
    /// A plain XML plist; the device shows it as unverified.
    Unsigned,
    /// CMS SignedData by certgate's issuing CA ([`BuiltInCa::sign_with_issuing_ca`]): the
    /// device shows the profile as verified when it trusts certgate's root, and a changed
    /// byte makes it refuse the profile.
    SignedByIssuingCa,
}

/// An Exchange ActiveSync host as Apple's `Host` key and Android's EAS settings take it: a
/// DNS name or IPv4 address, optionally with `:port`; never a URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EasHost(String);

impl EasHost {
    /// Checks a host: a DNS name or IPv4 address (RFC 1123 labels) with an optional `:port`, not a
    /// URL and not IPv6. Kept in lowercase.
    pub fn parse(text: &str) -> Result<EasHost, DeviceError> {
        let invalid = |why: &str| DeviceError::EasHostInvalid {
            host: text.to_owned(),
            why: why.to_owned(),
        };
        let host = text.trim();
        if host.is_empty() {
            return Err(DeviceError::EasHostMissing);
        }
        if host.contains("://") || host.contains('/') {
            return Err(invalid(
                "give the host name only (mail.contoso.example), not a URL: the device adds https:// and /Microsoft-Server-ActiveSync itself",
            ));
        }
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        };
        if let Some(port) = port {
            if !port.parse::<u16>().is_ok_and(|p| p > 0) {
                return Err(invalid("the port must be a number from 1 to 65535"));
            }
        }
        // RFC 1123 §2.1 host names (letters, digits, hyphens; labels of 1 to 63 characters,
        // not starting or ending with a hyphen), which also covers dotted IPv4 addresses.
        let labels_ok = name.len() <= 253
            && name.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !labels_ok {
            return Err(invalid(
                "a host name has labels of letters, digits and hyphens separated by dots (IPv6 addresses are not accepted: use a DNS name)",
            ));
        }
        Ok(EasHost(host.to_ascii_lowercase()))
    }

    /// The host, lowercase, with its port if one was given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host name without the port.
    fn name(&self) -> &str {
        self.0.split(':').next().unwrap_or(&self.0)
    }
}

impl std::fmt::Display for EasHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The shortest PKCS#12 password accepted for a device file: the file may travel by mail or
/// sit in a downloads folder, and the password is all that protects the key in it.
pub const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 256;

/// Days a device certificate is valid unless asked otherwise.
pub const DEFAULT_VALIDITY_DAYS: u32 = 365;

/// RSA-2048, not ECDSA: older Android key chains and some mail apps cannot use an EC key for
/// TLS client authentication, and IIS in front of Exchange accepts RSA everywhere.
pub const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = KeyAlgorithm::Rsa2048;

/// What to provision.
#[derive(Clone, Debug)]
pub struct DeviceProfileRequest {
    /// What the device receives.
    pub platform: Platform,
    /// Required for [`Platform::Ios`] and [`Platform::Android`].
    pub eas_host: Option<String>,
    /// Protects the private key in the PKCS#12 (at least [`MIN_PASSWORD_CHARS`] characters); wiped
    /// from memory on drop.
    pub pkcs12_password: Zeroizing<String>,
    /// Whether the password is asked on the device or written into the profile.
    pub password: PasswordDelivery,
    /// Only for [`Platform::Ios`].
    pub signing: ProfileSigning,
    /// Validity of the new certificate, in days.
    pub validity_days: u32,
    /// Key type of the new certificate.
    pub key_algorithm: KeyAlgorithm,
    /// The certificate the requester signed in with, on the self-service page: the new
    /// certificate is recorded as its child, so revoking it revokes this one too. `None` when
    /// an administrator provisions the device.
    pub parent: Option<ParentCertificate>,
}

impl DeviceProfileRequest {
    /// A request with the defaults: password asked on the device, unsigned, a year, RSA-2048.
    pub fn new(
        platform: Platform,
        eas_host: Option<String>,
        pkcs12_password: Zeroizing<String>,
    ) -> DeviceProfileRequest {
        DeviceProfileRequest {
            platform,
            eas_host,
            pkcs12_password,
            password: PasswordDelivery::AskOnDevice,
            signing: ProfileSigning::Unsigned,
            validity_days: DEFAULT_VALIDITY_DAYS,
            key_algorithm: DEFAULT_KEY_ALGORITHM,
            parent: None,
        }
    }
}

/// A provisioned device file.
#[derive(Clone, Debug)]
pub struct DeviceProfile {
    /// The platform it is for.
    pub platform: Platform,
    /// The file: a .mobileconfig, a JSON profile or a PKCS#12.
    pub bytes: Vec<u8>,
    /// `<upn>.mobileconfig`, `.json` or `.p12`, safe as a file name.
    pub file_name: String,
    /// The media type to serve it with ([`Platform::content_type`]).
    pub content_type: &'static str,
    /// The new certificate's serial (DER INTEGER content octets).
    pub serial: Vec<u8>,
    /// The new certificate's notAfter.
    pub not_after: UnixTime,
    /// Whether the profile is signed (CMS SignedData by the issuing CA).
    pub signed: bool,
}

/// Why a device profile was refused or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// An iOS or Android profile was asked for without an EAS host.
    #[error("an Exchange ActiveSync host is needed for an {0} profile: give the host name the device connects to (for example mail.contoso.example)")]
    EasHostRequired(Platform),
    /// The EAS host given is empty.
    #[error("the Exchange ActiveSync host is empty: give the host name the device connects to (for example mail.contoso.example)")]
    EasHostMissing,
    /// The EAS host is not a host name ([`EasHost::parse`]).
    #[error("\"{host}\" is not an Exchange ActiveSync host: {why}")]
    EasHostInvalid {
        /// The host as given.
        host: String,
        /// What is wrong with it, for the message.
        why: String,
    },
    /// The PKCS#12 password is shorter than [`MIN_PASSWORD_CHARS`].
    #[error("the PKCS#12 password has {chars} characters; use at least {MIN_PASSWORD_CHARS}: it is all that protects the private key in the file")]
    PasswordTooShort {
        /// How many characters it has.
        chars: usize,
    },
    /// The PKCS#12 password is over 256 characters or has control characters.
    #[error("the PKCS#12 password is not usable: {why}")]
    PasswordInvalid {
        /// What is wrong with it.
        why: &'static str,
    },
    /// Signing was asked for a platform other than iOS.
    #[error("only an iOS configuration profile can be signed; leave signing off for {0}")]
    SigningNotApplicable(Platform),
    /// Password embedding was asked for a bare PKCS#12.
    #[error("a bare PKCS#12 file has no place for its own password; leave password embedding off, or choose the ios or android profile")]
    EmbedNotApplicable,
    /// The user is disabled (accountEnabled false): no certificate is issued.
    #[error("{upn} is disabled; enable the account before provisioning a device for it")]
    UserDisabled {
        /// The user's UPN.
        upn: String,
    },
    /// The profile could not be written after the certificate was issued: the certificate is on
    /// record but was not delivered.
    #[error("the {format} could not be written: {detail}")]
    Encoding {
        /// Which file (`configuration profile`, `Android profile`).
        format: &'static str,
        /// The encoder's error.
        detail: String,
    },
    /// The built-in CA refused or failed (issuing, packing the PKCS#12, signing).
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeviceError {
    /// Every code [`DeviceError::code`] answers with of its own (PKI and store failures are their
    /// types' codes).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "device-eas-host-missing",
            "An iOS or Android profile needs the Exchange ActiveSync host the device connects to, and none was given (or it was empty).",
            "Give the host name (`certgate device profile --eas-host mail.contoso.example`), or choose the pkcs12 platform.",
        ),
        ReasonCode::new(
            "device-eas-host-invalid",
            "The Exchange ActiveSync host is not a host name: it is a URL, has a bad port, or has labels that are not letters, digits and hyphens (IPv6 addresses are not accepted).",
            "Give the host name only, optionally with :port (mail.contoso.example); the device adds https:// and the path itself.",
        ),
        ReasonCode::new(
            "device-p12-password-too-short",
            "The PKCS#12 password has fewer than 8 characters, and it is all that protects the private key in the file.",
            "Choose a password of at least 8 characters.",
        ),
        ReasonCode::new(
            "device-p12-password-invalid",
            "The PKCS#12 password is longer than 256 characters or contains control characters (tabs, line breaks), which a device's password field cannot take.",
            "Choose a password of 8 to 256 characters without control characters.",
        ),
        ReasonCode::new(
            "device-signing-not-applicable",
            "Signing was asked for an Android profile or a bare PKCS#12 file; only an iOS configuration profile can be signed.",
            "Leave signing off (no `--sign`) for the android and pkcs12 platforms.",
        ),
        ReasonCode::new(
            "device-embed-password-not-applicable",
            "Embedding the password was asked for a bare PKCS#12 file, which has no place for its own password.",
            "Leave password embedding off (no `--embed-password`), or choose the ios or android platform.",
        ),
        ReasonCode::new(
            "device-user-disabled",
            "The user is disabled, so no device certificate is issued for them.",
            "Enable the account first (`certgate user set USER --enabled true`), then provision the device.",
        ),
        ReasonCode::new(
            "device-profile-encoding-failed",
            "The iOS or Android profile could not be written after the certificate was issued; the certificate is on record but was not delivered.",
            "Revoke the undelivered certificate (`certgate pki list`, `certgate pki revoke --serial SERIAL`) and try again; the message has the encoder's error.",
        ),
    ];

    /// The stable reason code: its own (listed in [`Self::CODES`]), or the CA's or the store's.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::EasHostRequired(_) | DeviceError::EasHostMissing => {
                "device-eas-host-missing"
            }
            DeviceError::EasHostInvalid { .. } => "device-eas-host-invalid",
            DeviceError::PasswordTooShort { .. } => "device-p12-password-too-short",
            DeviceError::PasswordInvalid { .. } => "device-p12-password-invalid",
            DeviceError::SigningNotApplicable(_) => "device-signing-not-applicable",
            DeviceError::EmbedNotApplicable => "device-embed-password-not-applicable",
            DeviceError::UserDisabled { .. } => "device-user-disabled",
            DeviceError::Encoding { .. } => "device-profile-encoding-failed",
            DeviceError::Pki(error) => error.code(),
            DeviceError::Store(error) => error.code(),
        }
    }

    /// Whether the request itself was at fault (as opposed to the CA, the store or an
    /// encoder).
    pub fn is_request_error(&self) -> bool {
        !matches!(
            self,
            DeviceError::Encoding { .. } | DeviceError::Pki(_) | DeviceError::Store(_)
        )
    }
}

/// What the profile writers put into a profile. Pure data: the writers do no I/O.
#[derive(Clone, Copy, Debug)]
pub struct ProfileContent<'a> {
    /// The user's UPN: the EAS account's user name, and the name in the descriptions.
    pub upn: &'a str,
    /// The account's e-mail address: the user's mail, or the UPN when there is none.
    pub email: &'a str,
    /// The issuing CA's organization (O), or `certgate`: shown as the profile's organization.
    pub organization: &'a str,
    /// Where the device syncs mail from.
    pub eas_host: &'a EasHost,
    /// The PKCS#12 with the key and certificate chain.
    pub pkcs12: &'a [u8],
    /// Its password; written into the profile only with [`PasswordDelivery::EmbeddedInProfile`].
    pub pkcs12_password: &'a str,
    /// Whether the password is asked on the device or embedded.
    pub password: PasswordDelivery,
    /// The certificate's serial, lowercase hex (for people: descriptions and the JSON).
    pub serial: &'a str,
    /// The certificate's notAfter, for the descriptions.
    pub not_after: UnixTime,
}

/// Writes the Apple configuration profile (XML plist) for `content`.
pub fn apple_configuration_profile(content: &ProfileContent<'_>) -> Result<Vec<u8>, DeviceError> {
    apple::write(content)
}

/// Writes certgate's Android / MDM JSON profile for `content`.
pub fn android_profile(content: &ProfileContent<'_>) -> Result<Vec<u8>, DeviceError> {
    android::write(content)
}

/// The reverse-DNS PayloadIdentifier of a user's profile for one host: stable, so that
/// installing a newer profile for the same user and host replaces the older one (and its
/// certificate) instead of adding a second account.
pub fn profile_identifier(eas_host: &EasHost, upn: &str) -> String {
    let mut labels: Vec<&str> = eas_host.name().split('.').collect();
    labels.reverse();
    let user: String = upn
        .chars()
        .map(|c| match c {
            '@' => '.',
            c if c.is_ascii_alphanumeric() || c == '-' || c == '.' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    format!("{}.certgate.{user}", labels.join("."))
}

/// A file name from a UPN: letters, digits, `@`, `.`, `-`, `_` kept, the rest `_`.
pub fn file_stem(upn: &str) -> String {
    upn.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@.-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Checks a PKCS#12 password for a device file: long enough, and nothing an XML plist or a
/// device's password field cannot carry.
pub fn check_pkcs12_password(password: &str) -> Result<(), DeviceError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(DeviceError::PasswordTooShort { chars });
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(DeviceError::PasswordInvalid {
            why: "it is longer than 256 characters",
        });
    }
    if password.chars().any(char::is_control) {
        return Err(DeviceError::PasswordInvalid {
            why: "it contains control characters (tabs, line breaks, ...), which a device's password field cannot take",
        });
    }
    Ok(())
}

/// Issues a new client certificate for `user` through certgate's CA (UPN and mail in the SAN,
/// recorded and revocable like every certificate it issues), packs it into a PKCS#12 a device
/// imports ([`Pkcs12Encryption::LegacyTripleDesForDevices`]: iOS profiles and older Android
/// refuse the AES form), writes the file for `request.platform`, signs it when asked, and
/// records `device.profile` in the audit log under `actor`.
///
/// The request is checked in full before anything is issued: a refused request leaves no
/// certificate behind.
pub async fn provision_device<S: Store, C: Clock>(
    store: &S,
    clock: &C,
    settings: &PkiSettings,
    actor: &str,
    user: &User,
    request: &DeviceProfileRequest,
) -> Result<DeviceProfile, DeviceError> {
    let platform = request.platform;
    let eas_host = match (&request.eas_host, platform.needs_eas_host()) {
        (Some(host), true) => Some(EasHost::parse(host)?),
        (None, true) => return Err(DeviceError::EasHostRequired(platform)),
        (_, false) => None,
    };
    check_pkcs12_password(&request.pkcs12_password)?;
    if request.signing == ProfileSigning::SignedByIssuingCa && platform != Platform::Ios {
        return Err(DeviceError::SigningNotApplicable(platform));
    }
    if request.password == PasswordDelivery::EmbeddedInProfile && platform == Platform::Pkcs12 {
        return Err(DeviceError::EmbedNotApplicable);
    }
    let upn = user.upn.as_str();
    if !user.enabled {
        return Err(DeviceError::UserDisabled {
            upn: upn.to_owned(),
        });
    }
    let email = user.mail.clone().unwrap_or_else(|| upn.to_owned());
    // The display name becomes the subject CN when X.509 can carry it; otherwise the CA
    // uses the UPN.
    let common_name = common_name_for_display_name(&user.display_name);

    let ca = BuiltInCa::new(store, clock, settings, actor);
    let issued = ca
        .issue(&IssueRequest {
            upn: upn.to_owned(),
            email: Some(email.clone()),
            common_name,
            validity_days: request.validity_days,
            policy_oids: Vec::new(),
            key_algorithm: request.key_algorithm,
            parent: request.parent.clone(),
        })
        .await?;
    let record = &issued.record;
    let pkcs12 = certgate_ca::pkcs12_with_encryption(
        &record.certificate_der,
        &issued.private_key_pkcs8_der,
        &issued.chain_der,
        &request.pkcs12_password,
        upn,
        Pkcs12Encryption::LegacyTripleDesForDevices,
    )
    .map_err(PkiError::from)?;
    let organization = issued
        .chain_der
        .first()
        .and_then(|der| Certificate::from_der(der).ok())
        .and_then(|issuing| issuing.subject().attribute_texts("2.5.4.10").next())
        .unwrap_or_else(|| "certgate".to_owned());
    let serial = crate::hex(&record.serial);

    let bytes = match (&eas_host, platform) {
        (Some(eas_host), Platform::Ios | Platform::Android) => {
            let content = ProfileContent {
                upn,
                email: &email,
                organization: &organization,
                eas_host,
                pkcs12: &pkcs12,
                pkcs12_password: &request.pkcs12_password,
                password: request.password,
                serial: &serial,
                not_after: record.not_after,
            };
            if platform == Platform::Ios {
                apple_configuration_profile(&content)?
            } else {
                android_profile(&content)?
            }
        }
        _ => pkcs12,
    };
    let signed = request.signing == ProfileSigning::SignedByIssuingCa;
    let bytes = if signed {
        ca.sign_with_issuing_ca(&bytes).await?
    } else {
        bytes
    };
    store
        .append_audit(&AuditEvent::new(
            clock.now(),
            actor,
            "device.profile",
            upn,
            "ok",
            format!(
                "{platform} {} for {upn} with certificate {serial}{}{}{}",
                match platform {
                    Platform::Ios => "configuration profile",
                    Platform::Android => "JSON profile",
                    Platform::Pkcs12 => "PKCS#12 file",
                },
                eas_host
                    .as_ref()
                    .map(|h| format!(" (Exchange ActiveSync host {h})"))
                    .unwrap_or_default(),
                if signed {
                    ", signed by the issuing CA"
                } else {
                    ""
                },
                if request.password == PasswordDelivery::EmbeddedInProfile {
                    ", PKCS#12 password embedded"
                } else {
                    ""
                },
            ),
        ))
        .await?;
    Ok(DeviceProfile {
        platform,
        bytes,
        file_name: format!("{}.{}", file_stem(upn), platform.file_extension()),
        content_type: platform.content_type(),
        serial: record.serial.clone(),
        not_after: record.not_after,
        signed,
    })
}

/// A random UUID (version 4) in upper case, as Apple's tools write PayloadUUIDs.
fn uuid_v4() -> String {
    crate::signin::correlation_id().to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_round_trip() {
        for platform in Platform::ALL {
            assert_eq!(Platform::parse(platform.as_str()), Some(platform));
        }
        assert_eq!(Platform::parse("iOS"), None);
        assert_eq!(Platform::parse("windows"), None);
    }

    #[test]
    fn eas_hosts_are_host_names_with_an_optional_port() {
        for good in [
            "mail.contoso.example",
            "MAIL.Contoso.Example",
            "mail.contoso.example:8443",
            "10.0.0.5",
            "localhost",
        ] {
            assert!(EasHost::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            EasHost::parse(" Mail.Contoso.example ")
                .expect("host")
                .as_str(),
            "mail.contoso.example"
        );
        for (bad, code) in [
            ("", "device-eas-host-missing"),
            ("  ", "device-eas-host-missing"),
            (
                "https://mail.contoso.example/Microsoft-Server-ActiveSync",
                "device-eas-host-invalid",
            ),
            ("mail.contoso.example/owa", "device-eas-host-invalid"),
            ("mail.contoso.example:0", "device-eas-host-invalid"),
            ("mail.contoso.example:99999", "device-eas-host-invalid"),
            ("mail..contoso.example", "device-eas-host-invalid"),
            ("-mail.contoso.example", "device-eas-host-invalid"),
            ("mail contoso", "device-eas-host-invalid"),
            ("<mail>", "device-eas-host-invalid"),
            ("[::1]:443", "device-eas-host-invalid"),
        ] {
            let error = EasHost::parse(bad).expect_err(bad);
            assert_eq!(error.code(), code, "{bad}: {error}");
        }
    }

    #[test]
    fn passwords_must_be_long_enough_and_printable() {
        assert!(check_pkcs12_password("correct horse").is_ok());
        assert!(check_pkcs12_password("pässwörd").is_ok());
        assert_eq!(
            check_pkcs12_password("short").expect_err("short").code(),
            "device-p12-password-too-short"
        );
        assert_eq!(
            check_pkcs12_password("long enough\n")
                .expect_err("newline")
                .code(),
            "device-p12-password-invalid"
        );
        assert_eq!(
            check_pkcs12_password(&"x".repeat(257))
                .expect_err("long")
                .code(),
            "device-p12-password-invalid"
        );
    }

    #[test]
    fn identifiers_are_reverse_dns_and_stable_per_user_and_host() {
        let host = EasHost::parse("mail.contoso.example:443").expect("host");
        assert_eq!(
            profile_identifier(&host, "Alice.Smith@contoso.example"),
            "example.contoso.mail.certgate.alice.smith.contoso.example"
        );
        assert_eq!(
            profile_identifier(&host, "zoë+x@contoso.example"),
            "example.contoso.mail.certgate.zo--x.contoso.example"
        );
        assert_eq!(file_stem("a/b@c"), "a_b@c");
    }

    #[test]
    fn payload_uuids_are_upper_case_version_4() {
        let uuid = uuid_v4();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_eq!(uuid, uuid.to_ascii_uppercase());
        assert_ne!(uuid, uuid_v4());
    }
}
