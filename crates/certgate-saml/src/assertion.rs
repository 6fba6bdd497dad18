//! The SAML 2.0 Assertion an identity provider issues after a sign-in (SAML core §2.3.3),
//! shaped by the Web Browser SSO profile (SAML profiles §4.1.4.2): a bearer
//! SubjectConfirmation with Recipient, NotOnOrAfter and InResponseTo, an AudienceRestriction,
//! one AuthnStatement, and the relying party's attributes.

use certgate_pki::UnixTime;

use crate::canonical::{check_ncname, check_required, check_text, Writer};
use crate::error::SamlError;
use crate::id::MessageId;
use crate::instant;
use crate::signature::{SigningKey, Unsigned};

pub(crate) const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// NameID formats certgate issues (SAML core §8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameIdFormat {
    /// `urn:oasis:names:tc:SAML:2.0:nameid-format:persistent` (§8.3.7): an opaque, stable
    /// identifier; the only format Microsoft 365 accepts.
    Persistent,
    /// `urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress` (§8.3.2).
    EmailAddress,
    /// `urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified` (§8.3.1).
    Unspecified,
}

impl NameIdFormat {
    /// The format URI, as written into NameID's `Format` attribute.
    pub fn uri(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            NameIdFormat::EmailAddress => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            NameIdFormat::Unspecified => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        }
    }
}

/// The assertion's Subject NameID (SAML core §2.2.3): who the assertion is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameId {
    /// How the relying party should read `value`.
    pub format: NameIdFormat,
    /// The identifier itself; must be non-empty, XML-safe text.
    pub value: String,
}

/// How the user signed in, as AuthnContextClassRef. Microsoft 365 reads only this element
/// for MFA (anchors §3: "it must be the AuthnContextClassRef inside AuthnStatement").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthnContext {
    /// `urn:oasis:names:tc:SAML:2.0:ac:classes:X509` (SAML authn-context §3.4.24).
    X509,
    /// `urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient` (§3.4.22).
    TlsClient,
    /// `http://schemas.microsoft.com/claims/multipleauthn`: the sign-in was multi-factor.
    MultipleAuthn,
    /// `urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport` (§3.4.20): a
    /// password over TLS. certgate states it only after the directory checked the user's
    /// domain password (the certificate was the first factor).
    PasswordProtectedTransport,
}

impl AuthnContext {
    /// The class URI, as written into AuthnContextClassRef.
    pub fn uri(self) -> &'static str {
        match self {
            AuthnContext::X509 => "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
            AuthnContext::TlsClient => "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient",
            AuthnContext::MultipleAuthn => "http://schemas.microsoft.com/claims/multipleauthn",
            AuthnContext::PasswordProtectedTransport => {
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            }
        }
    }
}

/// One `saml:Attribute` with its values (written as plain `saml:AttributeValue` text, without
/// `xsi:type`; the schema types AttributeValue as `anyType`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute's `Name` (a claim URI, or `IDPEmail` for Microsoft 365); must not be empty.
    pub name: String,
    /// e.g. `urn:oasis:names:tc:SAML:2.0:attrname-format:uri`; None = attribute omitted.
    pub name_format: Option<String>,
    /// One `saml:AttributeValue` each, in order; may be empty.
    pub values: Vec<String>,
}

/// When the assertion may be used: Conditions NotBefore / NotOnOrAfter; the bearer
/// SubjectConfirmationData carries the same NotOnOrAfter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// When the Assertion is issued (IssueInstant).
    pub issue_instant: UnixTime,
    /// Conditions NotBefore: the first second the assertion may be accepted.
    pub not_before: UnixTime,
    /// Conditions and SubjectConfirmationData NotOnOrAfter; must be after `not_before`.
    pub not_on_or_after: UnixTime,
}

impl Validity {
    /// IssueInstant, NotBefore and NotOnOrAfter as xs:dateTime text, for a window that is
    /// not empty (SAML 2.0 and SAML 1.1 assertions alike).
    pub(crate) fn instants(&self) -> Result<[String; 3], SamlError> {
        if self.not_before >= self.not_on_or_after {
            return Err(SamlError::EmptyValidity {
                not_before: self.not_before.0,
                not_on_or_after: self.not_on_or_after.0,
            });
        }
        Ok([
            instant::format("issue_instant", self.issue_instant)?,
            instant::format("not_before", self.not_before)?,
            instant::format("not_on_or_after", self.not_on_or_after)?,
        ])
    }
}

/// The sign-in the assertion reports (AuthnStatement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authentication {
    /// When the user authenticated (AuthnInstant).
    pub authn_instant: UnixTime,
    /// SessionIndex, for single logout; must be XML-safe text.
    pub session_index: String,
    /// Written as the AuthnContextClassRef.
    pub context: AuthnContext,
}

/// Everything an Assertion states. [`Assertion::sign`] checks and writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    /// The Assertion's `ID`, which the enveloped signature's Reference points at.
    pub id: MessageId,
    /// The IdP's entity ID (Microsoft 365: the domain's `issuerUri`).
    pub issuer: String,
    /// Who the assertion is about (Subject/NameID).
    pub name_id: NameId,
    /// AudienceRestriction/Audience: the SP's entity ID.
    pub audience: String,
    /// SubjectConfirmationData Recipient: the ACS URL the Response is posted to.
    pub recipient: String,
    /// The AuthnRequest's ID, None for IdP-initiated sign-in. Must be an NCName.
    pub in_response_to: Option<String>,
    /// IssueInstant and the Conditions window.
    pub validity: Validity,
    /// How and when the user signed in (the AuthnStatement).
    pub authentication: Authentication,
    /// The AttributeStatement's attributes; none = no AttributeStatement (the schema wants at
    /// least one Attribute in it).
    pub attributes: Vec<Attribute>,
}

/// An Assertion signed with an enveloped signature, as canonical XML (UTF-8, no declaration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAssertion {
    id: MessageId,
    xml: String,
}

impl SignedAssertion {
    /// The Assertion's `ID` (the Response that carries it must use another one).
    pub fn id(&self) -> &MessageId {
        &self.id
    }

    /// The signed Assertion as canonical XML, to embed in a Response unchanged.
    pub fn xml(&self) -> &str {
        &self.xml
    }
}

impl Assertion {
    /// Checks every field, writes the Assertion canonically and signs it.
    pub fn sign(&self, key: &SigningKey) -> Result<SignedAssertion, SamlError> {
        let xml = self.unsigned()?.sign(&self.id, key)?;
        Ok(SignedAssertion {
            id: self.id.clone(),
            xml,
        })
    }

    fn unsigned(&self) -> Result<Unsigned, SamlError> {
        check_required("issuer", &self.issuer)?;
        check_required("name_id", &self.name_id.value)?;
        check_required("audience", &self.audience)?;
        check_required("recipient", &self.recipient)?;
        if let Some(request_id) = &self.in_response_to {
            check_ncname("in_response_to", request_id)?;
        }
        check_required("session_index", &self.authentication.session_index)?;
        for attribute in &self.attributes {
            check_required("attribute name", &attribute.name)?;
            if let Some(format) = &attribute.name_format {
                check_required("attribute name_format", format)?;
            }
            for value in &attribute.values {
                check_text("attribute value", value)?;
            }
        }
        let [issue_instant, not_before, not_on_or_after] = self.validity.instants()?;
        let authn_instant = instant::format("authn_instant", self.authentication.authn_instant)?;

        let mut head = Writer::new();
        head.open(
            "saml:Assertion",
            Some(("saml", SAML)),
            &[
                ("ID", self.id.as_str()),
                ("IssueInstant", &issue_instant),
                ("Version", "2.0"),
            ],
        );
        head.leaf("saml:Issuer", None, &[], &self.issuer);

        let mut w = Writer::new();
        w.open("saml:Subject", None, &[]);
        w.leaf(
            "saml:NameID",
            None,
            &[("Format", self.name_id.format.uri())],
            &self.name_id.value,
        );
        w.open("saml:SubjectConfirmation", None, &[("Method", BEARER)]);
        let mut confirmation = vec![
            ("NotOnOrAfter", not_on_or_after.as_str()),
            ("Recipient", self.recipient.as_str()),
        ];
        if let Some(request_id) = &self.in_response_to {
            confirmation.push(("InResponseTo", request_id));
        }
        w.leaf("saml:SubjectConfirmationData", None, &confirmation, "");
        w.close("saml:SubjectConfirmation");
        w.close("saml:Subject");

        w.open(
            "saml:Conditions",
            None,
            &[
                ("NotBefore", &not_before),
                ("NotOnOrAfter", &not_on_or_after),
            ],
        );
        w.open("saml:AudienceRestriction", None, &[]);
        w.leaf("saml:Audience", None, &[], &self.audience);
        w.close("saml:AudienceRestriction");
        w.close("saml:Conditions");

        w.open(
            "saml:AuthnStatement",
            None,
            &[
                ("AuthnInstant", &authn_instant),
                ("SessionIndex", &self.authentication.session_index),
            ],
        );
        w.open("saml:AuthnContext", None, &[]);
        w.leaf(
            "saml:AuthnContextClassRef",
            None,
            &[],
            self.authentication.context.uri(),
        );
        w.close("saml:AuthnContext");
        w.close("saml:AuthnStatement");

        // The schema requires at least one Attribute in an AttributeStatement.
        if !self.attributes.is_empty() {
            w.open("saml:AttributeStatement", None, &[]);
            for attribute in &self.attributes {
                let mut attrs = vec![("Name", attribute.name.as_str())];
                if let Some(format) = &attribute.name_format {
                    attrs.push(("NameFormat", format));
                }
                w.open("saml:Attribute", None, &attrs);
                for value in &attribute.values {
                    w.leaf("saml:AttributeValue", None, &[], value);
                }
                w.close("saml:Attribute");
            }
            w.close("saml:AttributeStatement");
        }
        w.close("saml:Assertion");
        Ok(Unsigned {
            head: head.finish(),
            tail: w.finish(),
        })
    }
}
