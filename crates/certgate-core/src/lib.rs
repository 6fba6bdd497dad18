//! certgate-core: the domain under the server and the CLI.
//!
//! - [`trusted_ca`]: the administrator's trusted CAs (Entra's CertificateAuthorityInformation)
//!   and the rules for adding and changing them.
//! - [`crl_cache`]: which downloaded CRLs may replace the cached ones (fail closed).
//! - [`validation_state`]: the immutable trust store + CRL snapshot every validation reads,
//!   swapped atomically when something changes.
//! - [`authority`]: certgate's own CA (issue, revoke, publish base and delta CRLs).
//! - [`directory`]: users (Entra's user attributes, StsRefreshTokensValidFrom), CSV import, and
//!   the users' port ([`directory::UserStore`]); [`binding`]: which user a certificate signs in as
//!   ([`binding::match_user`]); [`strength`]: single- or multi-factor ([`strength::evaluate`]).
//! - [`directory_source`]: Active Directory or another LDAP directory as the source of the
//!   users: the attribute mapping (ImmutableID, altSecurityIdentities) and the sync plan.
//! - [`domain_password`]: the user's directory password as a factor after the certificate,
//!   checked by a bind as the user ([`domain_password::DomainPasswordVerifier`]).
//! - [`access_pass`]: the administrator's Temporary Access Pass, which alone unlocks a user's
//!   first authenticator enrollment.
//! - [`device`]: device provisioning — a new certificate packed as an Apple configuration
//!   profile with an Exchange ActiveSync account, an Android / MDM JSON profile or a PKCS#12.
//! - [`key_rollover`]: the token-signing keys' life cycle (Next → Current → Retired, when to
//!   rotate, what is published), shared by the federation service and the OIDC provider.
//! - [`private_file`]: the data directory (0700), the database and every key it writes (0600).
//! - Ports: [`Store`] and [`DirectoryStore`] (SQLite and PostgreSQL live in certgate-store),
//!   [`crl_fetch::CrlFetcher`] (HTTP lives in certgate-server), [`clock::Clock`]; with the
//!   `testing` feature, `testing::MemoryStore` keeps every storage port of this crate in
//!   memory (the OIDC store is certgate-oidc's), so each domain rule is tested once, in
//!   `tests/`, without a database.
//!
//! The modules above are the public namespaces, one per domain area. What an area is made
//! of (its files) is private, and each area re-exports the items it offers with a curated
//! `pub use`, so a file can be split or renamed without changing the API.
//!
//! No async runtime, database or HTTP client here: services are generic over the ports.

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod access_pass;
pub mod admin_token;
pub mod audit;
pub mod authority;
pub mod binding;
pub mod clock;
pub mod crl_cache;
pub mod crl_fetch;
pub mod device;
pub mod directory;
pub mod directory_source;
pub mod domain_password;
pub mod enrollment;
pub mod federation;
pub mod front_door;
pub mod key_rollover;
pub mod login_flow;
pub mod private_file;
pub mod rate_limit;
pub mod retention;
pub mod signin;
pub mod store;
pub mod strength;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod totp;
pub mod trusted_ca;
pub mod validation_state;

/// Every storage port of trust, revocation, certgate's own CA and the audit log: what the CRL
/// service, the validation state and the CLI's local commands take. A service that needs one
/// concern takes only its port.
pub trait Store:
    trusted_ca::TrustedCaStore + crl_cache::CrlCacheStore + authority::OwnCaStore + audit::AuditLog
{
}

impl<T> Store for T where
    T: trusted_ca::TrustedCaStore
        + crl_cache::CrlCacheStore
        + authority::OwnCaStore
        + audit::AuditLog
{
}

/// The directory's storage ports together: users ([`directory::UserStore`]), binding rules
/// ([`binding::BindingRuleStore`]) and strength rules ([`strength::StrengthRuleStore`]). What
/// callers that need the whole directory take; a service that needs one concern takes only
/// its port.
///
/// Every write of the three is one transaction that also appends `audit` and bumps the
/// generation.
pub trait DirectoryStore:
    directory::UserStore + binding::BindingRuleStore + strength::StrengthRuleStore
{
}

impl<T> DirectoryStore for T where
    T: directory::UserStore + binding::BindingRuleStore + strength::StrengthRuleStore
{
}

/// `text` with every control character written as a Rust-style escape (`\u{1b}`), for output
/// to a terminal: an ESC or BEL in a name that came from a certificate or an old record must
/// not reach the operator's terminal as a control sequence.
pub fn escape_control(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_unicode());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// Lowercase hex of `bytes`, two digits a byte and no separators, as serials, key identifiers
/// and CRL numbers are written in messages; [`parse_hex`] reads it back.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `random` as a version 4 UUID (RFC 9562 §5.4) in its lowercase 8-4-4-4-12 form: the
/// version and variant bits are set, the other 122 bits are `random`'s.
pub fn uuid_v4(mut random: [u8; 16]) -> String {
    random[6] = (random[6] & 0x0f) | 0x40;
    random[8] = (random[8] & 0x3f) | 0x80;
    let hex = hex(&random);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Parses hex (upper or lower case, optional `:` or space separators, as certutil and openssl
/// print serials). `None` when anything else is in it or it is empty.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| *b != b':' && *b != b' ').collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// Every reason code this crate answers with, by error type (see
/// [`certgate_pki::ReasonCode`]), and the module-level lists of codes answered with outside
/// any error type (`front_door::CODES`). A code several types answer with (`user-disabled`,
/// `user-not-found`, `randomness-unavailable`) is listed once, with the type that owns it.
/// [`signin::SignInError`] has no codes of its own.
pub fn reason_codes() -> Vec<certgate_pki::CodeList> {
    vec![
        // Certificate sign-in and the mail front door.
        (
            "certgate_core::signin::CertificateRejection",
            signin::CertificateRejection::CODES,
        ),
        (
            "certgate_core::binding::BindingError",
            binding::BindingError::CODES,
        ),
        ("certgate_core::front_door (admission)", front_door::CODES),
        (
            "certgate_core::rate_limit::RateLimited",
            rate_limit::RateLimited::CODES,
        ),
        // The second factor.
        ("certgate_core::totp::TotpError", totp::TotpError::CODES),
        (
            "certgate_core::totp::TotpServiceError",
            totp::TotpServiceError::CODES,
        ),
        (
            "certgate_core::access_pass::AccessPassError",
            access_pass::AccessPassError::CODES,
        ),
        (
            "certgate_core::domain_password::DomainPasswordError",
            domain_password::DomainPasswordError::CODES,
        ),
        // The directory and its rules.
        (
            "certgate_core::directory::DirectoryError",
            directory::DirectoryError::CODES,
        ),
        (
            "certgate_core::directory_source::EntryError",
            directory_source::EntryError::CODES,
        ),
        (
            "certgate_core::directory_source::SourceError",
            directory_source::SourceError::CODES,
        ),
        (
            "certgate_core::directory_source::SyncError",
            directory_source::SyncError::CODES,
        ),
        (
            "certgate_core::binding::BindingRuleError",
            binding::BindingRuleError::CODES,
        ),
        (
            "certgate_core::strength::StrengthRuleError",
            strength::StrengthRuleError::CODES,
        ),
        // Trusted CAs and their CRLs.
        (
            "certgate_core::trusted_ca::TrustError",
            trusted_ca::TrustError::CODES,
        ),
        (
            "certgate_core::crl_cache::CrlRefusal",
            crl_cache::CrlRefusal::CODES,
        ),
        (
            "certgate_core::crl_fetch::FetchError",
            crl_fetch::FetchError::CODES,
        ),
        // certgate's own CA, enrollment and devices.
        (
            "certgate_core::authority::PkiError",
            authority::PkiError::CODES,
        ),
        (
            "certgate_core::enrollment::EnrollmentError",
            enrollment::EnrollmentError::CODES,
        ),
        (
            "certgate_core::device::DeviceError",
            device::DeviceError::CODES,
        ),
        // Federation, administration, storage.
        (
            "certgate_core::federation::FederationError",
            federation::FederationError::CODES,
        ),
        (
            "certgate_core::federation::FederationRefusal",
            federation::FederationRefusal::CODES,
        ),
        (
            "certgate_core::federation::SpFailure",
            federation::SpFailure::CODES,
        ),
        (
            "certgate_core::federation::IssuanceRefusal",
            federation::IssuanceRefusal::CODES,
        ),
        (
            "certgate_core::admin_token::AdminTokenError",
            admin_token::AdminTokenError::CODES,
        ),
        ("certgate_core::store::StoreError", store::StoreError::CODES),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v4_sets_the_version_and_variant_bits_and_keeps_the_rest() {
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let counting: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(uuid_v4(counting), "00010203-0405-4607-8809-0a0b0c0d0e0f");
    }

    #[test]
    fn control_characters_are_escaped_for_terminals() {
        assert_eq!(escape_control("Contoso Root"), "Contoso Root");
        assert_eq!(
            escape_control("Evil\u{1b}]0;owned\u{7}CA\n"),
            "Evil\\u{1b}]0;owned\\u{7}CA\\u{a}"
        );
        assert_eq!(
            escape_control("caf\u{e9} \u{9b}31m"),
            "caf\u{e9} \\u{9b}31m"
        );
    }

    #[test]
    fn hex_round_trips_and_accepts_separators() {
        assert_eq!(hex(&[0x01, 0xab]), "01ab");
        assert_eq!(parse_hex("01:AB"), Some(vec![0x01, 0xab]));
        assert_eq!(parse_hex("01 ab"), Some(vec![0x01, 0xab]));
        assert_eq!(parse_hex("1ab"), None);
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(parse_hex(""), None);
    }
}
