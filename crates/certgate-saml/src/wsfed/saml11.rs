//! The SAML 1.1 Assertion a WS-Federation identity provider issues (OASIS SAML 1.1 core,
//! `cs-sstc-core-01`, §2.3.2 Assertion, §2.4.3 AuthenticationStatement, §2.4.5
//! AttributeStatement), in the shape AD FS gives Microsoft 365: a bearer Subject
//! (§7.1 `urn:oasis:names:tc:SAML:1.0:cm:bearer`), an AudienceRestrictionCondition holding the
//! realm, the claims as Attributes, and an enveloped signature as the Assertion's last child,
//! where the 1.1 schema puts it.

use certgate_pki::UnixTime;

use crate::assertion::{NameId, Validity};
use crate::canonical::{check_required, check_text, Writer};
use crate::error::SamlError;
use crate::id::MessageId;
use crate::instant;
use crate::signature::{SigningKey, Unsigned};

pub(crate) const SAML11: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
const BEARER: &str = "urn:oasis:names:tc:SAML:1.0:cm:bearer";

/// A claim type URI as SAML 1.1 carries it: AttributeNamespace and AttributeName.
///
/// SAML 1.1 names an attribute by a namespace and a name (core §2.4.5.1), while WS-Federation
/// claims are single URIs. AD FS and WIF split the URI at its last `/`
/// (`http://schemas.xmlsoap.org/claims/UPN` → namespace `http://schemas.xmlsoap.org/claims`,
/// name `UPN`) and join the two with `/` when reading, so that is the mapping relying parties
/// such as Entra ID undo. A URI without a `/` that has text on both sides (`urn:oid:2.5.4.3`,
/// `http://x/`) cannot make that round trip and is refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimType {
    uri: String,
    split_at: usize,
}

impl ClaimType {
    /// Checks that `uri` splits into a non-empty namespace and name at its last `/`.
    pub fn parse(uri: &str) -> Result<Self, SamlError> {
        check_text("claim type", uri)?;
        let not_splittable = || SamlError::ClaimTypeNotSplittable {
            claim_type: uri.to_owned(),
        };
        let split_at = uri.rfind('/').ok_or_else(not_splittable)?;
        if split_at == 0 || split_at + 1 == uri.len() {
            return Err(not_splittable());
        }
        Ok(ClaimType {
            uri: uri.to_owned(),
            split_at,
        })
    }

    /// The whole claim type URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// `AttributeNamespace`: the URI up to its last `/`, exclusive.
    pub fn namespace(&self) -> &str {
        &self.uri[..self.split_at]
    }

    /// `AttributeName`: the URI after its last `/`.
    pub fn name(&self) -> &str {
        &self.uri[self.split_at + 1..]
    }
}

/// One claim: a `saml:Attribute` with one `saml:AttributeValue` per value (at least one, as
/// the schema requires).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Written as `AttributeNamespace` and `AttributeName` (core §2.4.5.1).
    pub claim_type: ClaimType,
    /// One `AttributeValue` each, as text; may be empty strings, not an empty list.
    pub values: Vec<String>,
}

/// `AuthenticationStatement@AuthenticationMethod` (SAML 1.1 core §2.4.3, identifiers in §7.1).
/// Only the ways certgate actually signs people in: a password only once the directory checked
/// the user's domain password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthenticationMethod {
    /// `http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient`: the
    /// WIF/AD FS identifier for a TLS client-certificate sign-in
    /// (`System.IdentityModel.Tokens.AuthenticationMethods.TlsClient`).
    TlsClient,
    /// `urn:ietf:rfc:2246`: SAML 1.1 core §7.1 "SSL/TLS Certificate Based Client
    /// Authentication", for relying parties that know only the SAML identifiers.
    SslTlsCertificate,
    /// `http://schemas.microsoft.com/claims/multipleauthn`: the sign-in was multi-factor
    /// (Entra reads this as "MFA done by the federated IdP", anchors §3).
    MultipleAuthn,
    /// `urn:oasis:names:tc:SAML:1.0:am:password` (SAML 1.1 core §7.1): the domain password was
    /// checked after the certificate; what Entra asks for by `wauth` under
    /// PromptLoginBehavior TranslateToFreshPasswordAuth.
    Password,
}

impl AuthenticationMethod {
    /// The identifier written as `AuthenticationMethod`.
    pub fn uri(self) -> &'static str {
        match self {
            AuthenticationMethod::TlsClient => {
                "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient"
            }
            AuthenticationMethod::SslTlsCertificate => "urn:ietf:rfc:2246",
            AuthenticationMethod::MultipleAuthn => {
                "http://schemas.microsoft.com/claims/multipleauthn"
            }
            AuthenticationMethod::Password => "urn:oasis:names:tc:SAML:1.0:am:password",
        }
    }
}

/// Everything a SAML 1.1 Assertion states. [`Saml11Assertion::sign`] checks and writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saml11Assertion {
    /// `AssertionID`.
    pub id: MessageId,
    /// `Issuer`: the STS's URI (Microsoft 365: the domain's `issuerUri`).
    pub issuer: String,
    /// The Subject's `NameIdentifier` and its `Format`.
    pub name_identifier: NameId,
    /// `AudienceRestrictionCondition/Audience`: the relying party's realm (`wtrealm`).
    pub audience: String,
    /// IssueInstant, and Conditions NotBefore / NotOnOrAfter.
    pub validity: Validity,
    /// `AuthenticationStatement@AuthenticationMethod`.
    pub authentication_method: AuthenticationMethod,
    /// `AuthenticationInstant`: when the user signed in (Entra's sign-in frequency reads it).
    pub authentication_instant: UnixTime,
    /// The claims computed for this relying party, in this order. Empty = no
    /// AttributeStatement (the schema requires at least one Attribute in one).
    pub claims: Vec<Claim>,
}

/// A SAML 1.1 Assertion with an enveloped signature, as canonical XML (UTF-8, no
/// declaration), plus what the RequestSecurityTokenResponse around it repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedSaml11Assertion {
    pub(crate) id: MessageId,
    pub(crate) audience: String,
    /// IssueInstant and NotOnOrAfter, already formatted.
    pub(crate) issue_instant: String,
    pub(crate) not_on_or_after: String,
    pub(crate) xml: String,
}

impl SignedSaml11Assertion {
    /// The `AssertionID`.
    pub fn id(&self) -> &MessageId {
        &self.id
    }

    /// The signed Assertion alone; [`SignedSaml11Assertion::request_security_token_response`]
    /// wraps it for `wresult`.
    pub fn xml(&self) -> &str {
        &self.xml
    }
}

impl Saml11Assertion {
    /// Checks every field, writes the Assertion canonically and signs it (Reference
    /// `#AssertionID`; verifiers must be told that `AssertionID` is the ID attribute).
    pub fn sign(&self, key: &SigningKey) -> Result<SignedSaml11Assertion, SamlError> {
        check_required("issuer", &self.issuer)?;
        check_required("name_identifier", &self.name_identifier.value)?;
        check_required("audience", &self.audience)?;
        for claim in &self.claims {
            if claim.values.is_empty() {
                return Err(SamlError::invalid(
                    "claim values",
                    format!(
                        "claim {} has no value; a SAML 1.1 Attribute needs at least one",
                        claim.claim_type.uri()
                    ),
                ));
            }
            for value in &claim.values {
                check_text("claim value", value)?;
            }
        }
        let [issue_instant, not_before, not_on_or_after] = self.validity.instants()?;
        let authentication_instant =
            instant::format("authentication_instant", self.authentication_instant)?;

        // The Signature is the last child, so everything but the end tag is signed "head".
        let mut w = Writer::new();
        w.open(
            "saml:Assertion",
            Some(("saml", SAML11)),
            &[
                ("AssertionID", self.id.as_str()),
                ("IssueInstant", &issue_instant),
                ("Issuer", &self.issuer),
                ("MajorVersion", "1"),
                ("MinorVersion", "1"),
            ],
        );
        w.open(
            "saml:Conditions",
            None,
            &[
                ("NotBefore", &not_before),
                ("NotOnOrAfter", &not_on_or_after),
            ],
        );
        w.open("saml:AudienceRestrictionCondition", None, &[]);
        w.leaf("saml:Audience", None, &[], &self.audience);
        w.close("saml:AudienceRestrictionCondition");
        w.close("saml:Conditions");

        if !self.claims.is_empty() {
            w.open("saml:AttributeStatement", None, &[]);
            self.write_subject(&mut w);
            for claim in &self.claims {
                w.open(
                    "saml:Attribute",
                    None,
                    &[
                        ("AttributeName", claim.claim_type.name()),
                        ("AttributeNamespace", claim.claim_type.namespace()),
                    ],
                );
                for value in &claim.values {
                    w.leaf("saml:AttributeValue", None, &[], value);
                }
                w.close("saml:Attribute");
            }
            w.close("saml:AttributeStatement");
        }

        w.open(
            "saml:AuthenticationStatement",
            None,
            &[
                ("AuthenticationInstant", &authentication_instant),
                ("AuthenticationMethod", self.authentication_method.uri()),
            ],
        );
        self.write_subject(&mut w);
        w.close("saml:AuthenticationStatement");

        let mut tail = Writer::new();
        tail.close("saml:Assertion");
        let xml = Unsigned {
            head: w.finish(),
            tail: tail.finish(),
        }
        .sign(&self.id, key)?;
        Ok(SignedSaml11Assertion {
            id: self.id.clone(),
            audience: self.audience.clone(),
            issue_instant,
            not_on_or_after,
            xml,
        })
    }

    /// Each subject statement repeats the Subject (SAML 1.1 has no assertion-level Subject).
    fn write_subject(&self, w: &mut Writer) {
        w.open("saml:Subject", None, &[]);
        w.leaf(
            "saml:NameIdentifier",
            None,
            &[("Format", self.name_identifier.format.uri())],
            &self.name_identifier.value,
        );
        w.open("saml:SubjectConfirmation", None, &[]);
        w.leaf("saml:ConfirmationMethod", None, &[], BEARER);
        w.close("saml:SubjectConfirmation");
        w.close("saml:Subject");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_type_splits_at_the_last_slash() {
        let upn = ClaimType::parse("http://schemas.xmlsoap.org/claims/UPN").unwrap();
        assert_eq!(upn.namespace(), "http://schemas.xmlsoap.org/claims");
        assert_eq!(upn.name(), "UPN");
        assert_eq!(upn.uri(), "http://schemas.xmlsoap.org/claims/UPN");
        let immutable_id =
            ClaimType::parse("http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID")
                .unwrap();
        assert_eq!(
            immutable_id.namespace(),
            "http://schemas.microsoft.com/LiveID/Federation/2008/05"
        );
        assert_eq!(immutable_id.name(), "ImmutableID");
        let issuer = ClaimType::parse(
            "http://schemas.microsoft.com/2012/12/certificatecontext/field/issuer",
        )
        .unwrap();
        assert_eq!(
            issuer.namespace(),
            "http://schemas.microsoft.com/2012/12/certificatecontext/field"
        );
        assert_eq!(issuer.name(), "issuer");
        let short = ClaimType::parse("a/b").unwrap();
        assert_eq!((short.namespace(), short.name()), ("a", "b"));
    }

    #[test]
    fn claim_type_that_cannot_be_split_is_refused() {
        for bad in [
            "urn:oid:2.5.4.3",
            "UPN",
            "",
            "/UPN",
            "http://schemas.xmlsoap.org/claims/",
            "/",
        ] {
            let error = ClaimType::parse(bad).unwrap_err();
            assert_eq!(error.code(), "saml11-claim-type-not-splittable", "{bad:?}");
        }
        assert_eq!(
            ClaimType::parse("http://x/a\u{1}").unwrap_err().code(),
            "saml-invalid-field"
        );
    }
}
