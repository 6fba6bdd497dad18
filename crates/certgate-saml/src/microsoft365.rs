//! The Microsoft 365 (Entra ID) preset: what Entra requires of a federating SAML 2.0 IdP
//! (entra-docs `how-to-connect-fed-saml-idp.md`, summarized in anchors.md §3).

use crate::assertion::{Assertion, Attribute, Authentication, NameId, NameIdFormat, Validity};
use crate::error::SamlError;
use crate::id::MessageId;

/// The Audience Entra requires.
pub const AUDIENCE: &str = "urn:federation:MicrosoftOnline";
/// Entra's assertion consumer service: the Recipient and the Response's Destination.
pub const ASSERTION_CONSUMER_SERVICE: &str = "https://login.microsoftonline.com/login.srf";
/// The attribute Entra matches against `userPrincipalName`.
pub const IDP_EMAIL: &str = "IDPEmail";

/// A user's `onPremisesImmutableId` encoded for the NameID Entra expects.
///
/// Entra's rule: "up to 64 alphanumeric characters; any non-HTML-safe characters must be
/// encoded, for example a `+` character is shown as `.2B`". Our reading, chosen to be
/// unambiguous and reversible: ASCII letters and digits stand for themselves; every other
/// byte of the value's UTF-8 — including `.` itself, so that `.XX` can only be an escape —
/// is written as `.` and two uppercase hex digits. A base64 objectGUID such as
/// `Ab+/cD==` becomes `Ab.2B.2FcD.3D.3D`. The 64-character limit is applied to the encoded
/// value (what Entra receives), which also bounds the raw value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImmutableId(String);

impl ImmutableId {
    /// The most characters Entra accepts in the encoded value.
    pub const MAX_LEN: usize = 64;

    /// Encodes a raw `onPremisesImmutableId` by the rule above; refuses an empty value and one
    /// that encodes to more than [`ImmutableId::MAX_LEN`] characters.
    pub fn encode(raw: &str) -> Result<Self, SamlError> {
        if raw.is_empty() {
            return Err(SamlError::invalid("immutable_id", "must not be empty"));
        }
        let mut encoded = String::with_capacity(raw.len());
        for b in raw.bytes() {
            if b.is_ascii_alphanumeric() {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!(".{b:02X}"));
            }
        }
        if encoded.len() > Self::MAX_LEN {
            return Err(SamlError::invalid(
                "immutable_id",
                format!(
                    "encodes to {} characters; Entra accepts at most {}",
                    encoded.len(),
                    Self::MAX_LEN
                ),
            ));
        }
        Ok(ImmutableId(encoded))
    }

    /// The encoded value, as it goes into the NameID.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The Assertion for Microsoft 365: persistent NameID = the encoded ImmutableID, `IDPEmail` =
/// the UPN, Audience and Recipient fixed to Entra's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Microsoft365Assertion {
    /// Becomes the Assertion's `ID` (see [`MessageId::random`]).
    pub id: MessageId,
    /// The federated domain's `issuerUri`.
    pub issuer_uri: String,
    /// The user's encoded immutable ID: the persistent NameID.
    pub immutable_id: ImmutableId,
    /// Must equal the user's `userPrincipalName` in Entra.
    pub upn: String,
    /// The AuthnRequest's ID (SP-initiated) or None.
    pub in_response_to: Option<String>,
    /// IssueInstant and the Conditions window.
    pub validity: Validity,
    /// The AuthnStatement; its context is what Entra reads for MFA.
    pub authentication: Authentication,
}

impl Microsoft365Assertion {
    /// The general [`Assertion`] with Entra's fixed Audience, Recipient and NameID format, and
    /// `upn` as the one `IDPEmail` attribute; sign it with [`Assertion::sign`].
    pub fn into_assertion(self) -> Assertion {
        Assertion {
            id: self.id,
            issuer: self.issuer_uri,
            name_id: NameId {
                format: NameIdFormat::Persistent,
                value: self.immutable_id.0,
            },
            audience: AUDIENCE.to_owned(),
            recipient: ASSERTION_CONSUMER_SERVICE.to_owned(),
            in_response_to: self.in_response_to,
            validity: self.validity,
            authentication: self.authentication,
            attributes: vec![Attribute {
                name: IDP_EMAIL.to_owned(),
                name_format: None,
                values: vec![self.upn],
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immutable_id_escapes_everything_but_ascii_alphanumerics() {
        assert_eq!(
            ImmutableId::encode("Ab+/cD==").unwrap().as_str(),
            "Ab.2B.2FcD.3D.3D"
        );
        assert_eq!(
            ImmutableId::encode("a.b-c_d").unwrap().as_str(),
            "a.2Eb.2Dc.5Fd"
        );
        assert_eq!(ImmutableId::encode("é").unwrap().as_str(), ".C3.A9");
        assert_eq!(ImmutableId::encode("x<&\"").unwrap().as_str(), "x.3C.26.22");
    }

    #[test]
    fn immutable_id_over_64_encoded_characters_refused() {
        assert!(ImmutableId::encode(&"a".repeat(64)).is_ok());
        assert!(ImmutableId::encode(&"a".repeat(65)).is_err());
        // 22 raw characters, 66 encoded.
        assert!(ImmutableId::encode(&"+".repeat(22)).is_err());
        assert!(ImmutableId::encode("").is_err());
    }
}
