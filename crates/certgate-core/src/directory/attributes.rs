//! The directory's vocabulary for finding users by a certificate: the certificate fields a
//! certificateUserIds value or a binding rule names ([`CertificateField`]), their affinity, the
//! user attributes a certificate is compared with ([`UserAttribute`]) and the lookup port
//! ([`UserLookup`]) with its case folding.

use std::fmt;
use std::future::Future;

use serde::Serialize;

use super::User;
use crate::store::StoreResult;

/// A certificate field a binding rule reads (Entra's `x509CertificateField`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum CertificateField {
    /// SAN otherName User Principal Name.
    PrincipalName,
    /// SAN rfc822Name.
    #[serde(rename = "RFC822Name")]
    Rfc822Name,
    /// The subject DN: `X509:<S>subject`. Low affinity.
    Subject,
    /// Issuer and subject DN: `X509:<I>issuer<S>subject`. Low affinity.
    IssuerAndSubject,
    /// Issuer DN and serial number (bytes reversed, as certutil prints it):
    /// `X509:<I>issuer<SR>serial`. High affinity.
    IssuerAndSerialNumber,
    /// The subjectKeyIdentifier: `X509:<SKI>hex`. High affinity.
    SubjectKeyIdentifier,
    /// SHA-1 of the public key: `X509:<SHA1-PUKEY>hex`. High affinity.
    #[serde(rename = "SHA1PublicKey")]
    Sha1PublicKey,
}

impl CertificateField {
    /// Every field, in Entra's order.
    pub const ALL: [CertificateField; 7] = [
        CertificateField::PrincipalName,
        CertificateField::Rfc822Name,
        CertificateField::Subject,
        CertificateField::IssuerAndSubject,
        CertificateField::IssuerAndSerialNumber,
        CertificateField::SubjectKeyIdentifier,
        CertificateField::Sha1PublicKey,
    ];

    /// Entra's name, also the `field` of [`certgate_pki::CertificateUserId`].
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateField::PrincipalName => "PrincipalName",
            CertificateField::Rfc822Name => "RFC822Name",
            CertificateField::Subject => "Subject",
            CertificateField::IssuerAndSubject => "IssuerAndSubject",
            CertificateField::IssuerAndSerialNumber => "IssuerAndSerialNumber",
            CertificateField::SubjectKeyIdentifier => "SubjectKeyIdentifier",
            CertificateField::Sha1PublicKey => "SHA1PublicKey",
        }
    }

    /// Entra's name, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|field| field.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Fixed per field, as in Entra.
    pub fn affinity(self) -> Affinity {
        match self {
            CertificateField::PrincipalName
            | CertificateField::Rfc822Name
            | CertificateField::Subject
            | CertificateField::IssuerAndSubject => Affinity::Low,
            CertificateField::IssuerAndSerialNumber
            | CertificateField::SubjectKeyIdentifier
            | CertificateField::Sha1PublicKey => Affinity::High,
        }
    }
}

impl fmt::Display for CertificateField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The user attribute a binding rule compares with (Entra's `userProperty`, plus
/// proxyAddresses as AD FS's alternate login ID does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum UserAttribute {
    /// Compared case-insensitively with the certificate's UPN or RFC 822 name.
    UserPrincipalName,
    /// Compared case-insensitively with the address part of each `type:address` value.
    ProxyAddresses,
    /// Compared exactly with the certificate's `X509:<...>` value for the rule's field.
    CertificateUserIds,
}

impl UserAttribute {
    /// Every attribute.
    pub const ALL: [UserAttribute; 3] = [
        UserAttribute::UserPrincipalName,
        UserAttribute::ProxyAddresses,
        UserAttribute::CertificateUserIds,
    ];

    /// Microsoft Graph's property name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserAttribute::UserPrincipalName => "userPrincipalName",
            UserAttribute::ProxyAddresses => "proxyAddresses",
            UserAttribute::CertificateUserIds => "certificateUserIds",
        }
    }

    /// Graph's property name, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|attribute| attribute.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for UserAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How strongly a binding ties a certificate to a user. `Low < High`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Affinity {
    /// Names a CA writes into a certificate; any trusted CA could write the same ones.
    Low,
    /// Identifies one certificate or key (serial with issuer, SKI, public-key hash).
    High,
}

impl Affinity {
    /// `low` or `high`, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Affinity::Low => "low",
            Affinity::High => "high",
        }
    }
    /// Reads `low` or `high`, case-insensitively; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Affinity::Low),
            "high" => Some(Affinity::High),
            _ => None,
        }
    }
}

impl fmt::Display for Affinity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Finds users by one attribute. The directory store implements it; the binding engine uses
/// nothing else, so it can be tested over a list.
pub trait UserLookup: Send + Sync {
    /// Users whose `attribute` matches `value` under the rules of [`attribute_matches`]. May
    /// return more (the engine filters), never fewer.
    fn find_users(
        &self,
        attribute: UserAttribute,
        value: &str,
    ) -> impl Future<Output = StoreResult<Vec<User>>> + Send;
}

/// The case folding of every case-insensitive comparison in the directory (UPNs, proxy
/// addresses), here and in the store's indexed columns alike.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

/// The address of a `type:address` proxy address (`SMTP:a@b` → `a@b`); the whole value when
/// it has no type.
pub fn proxy_address_part(proxy: &str) -> &str {
    proxy.split_once(':').map_or(proxy, |(_, address)| address)
}
