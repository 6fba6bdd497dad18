//! The `samlp:Response` that carries a signed Assertion to the SP by HTTP-POST (SAML core
//! §3.2.2, profiles §4.1.4.2).

use certgate_pki::UnixTime;

use crate::assertion::{SignedAssertion, SAML};
use crate::canonical::{check_ncname, check_required, Writer};
use crate::error::SamlError;
use crate::id::MessageId;
use crate::instant;
use crate::signature::{SigningKey, Unsigned};

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// Whether the Response itself is signed too. The Assertion is always signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseSigning {
    /// Only the Assertion carries a signature (what SAML profiles §4.1.3.5 requires).
    AssertionOnly,
    /// The Response is signed as well, around the signed Assertion, for SPs that require it.
    AssertionAndResponse,
}

/// A successful Response around one signed Assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The Response's `ID`; must differ from the Assertion's.
    pub id: MessageId,
    /// The IdP's entity ID, as in the Assertion.
    pub issuer: String,
    /// The ACS URL the Response is posted to.
    pub destination: String,
    /// The AuthnRequest's ID, None for IdP-initiated sign-in. Must be an NCName.
    pub in_response_to: Option<String>,
    /// When the Response is issued (IssueInstant).
    pub issue_instant: UnixTime,
}

impl Response {
    /// The Response as canonical XML (UTF-8, no XML declaration), ready to be base64-encoded
    /// into the `SAMLResponse` form field.
    pub fn build(
        &self,
        assertion: &SignedAssertion,
        signing: ResponseSigning,
        key: &SigningKey,
    ) -> Result<String, SamlError> {
        check_required("issuer", &self.issuer)?;
        check_required("destination", &self.destination)?;
        if let Some(request_id) = &self.in_response_to {
            check_ncname("in_response_to", request_id)?;
        }
        if assertion.id() == &self.id {
            return Err(SamlError::invalid(
                "id",
                "the Response and its Assertion need distinct IDs",
            ));
        }
        let head = self.head()?;

        let mut tail = Writer::new();
        tail.open("samlp:Status", None, &[]);
        tail.leaf("samlp:StatusCode", None, &[("Value", SUCCESS)], "");
        tail.close("samlp:Status");
        tail.raw(assertion.xml());
        tail.close("samlp:Response");

        let unsigned = Unsigned {
            head: head.finish(),
            tail: tail.finish(),
        };
        match signing {
            ResponseSigning::AssertionOnly => Ok(unsigned.head + &unsigned.tail),
            ResponseSigning::AssertionAndResponse => unsigned.sign(&self.id, key),
        }
    }
}

impl Response {
    /// The Response's start tag and its Issuer, the same whatever the Response carries.
    fn head(&self) -> Result<Writer, SamlError> {
        let issue_instant = instant::format("issue_instant", self.issue_instant)?;
        let mut attributes = vec![
            ("Destination", self.destination.as_str()),
            ("ID", self.id.as_str()),
            ("IssueInstant", issue_instant.as_str()),
            ("Version", "2.0"),
        ];
        if let Some(request_id) = &self.in_response_to {
            attributes.push(("InResponseTo", request_id));
        }
        let mut head = Writer::new();
        head.open("samlp:Response", Some(("samlp", SAMLP)), &attributes);
        // exc-c14n renders `saml` where it is first used: on the Issuer, and again on the
        // Assertion, a sibling of the Issuer rather than its descendant.
        head.leaf("saml:Issuer", Some(("saml", SAML)), &[], &self.issuer);
        Ok(head)
    }
}

/// Why an IdP answers an AuthnRequest without an assertion (SAML core §3.2.2.2): the
/// top-level status is Responder or Requester, with a second-level code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureStatus {
    /// `Responder` / `NoPassive`: IsPassive was asked, and the IdP cannot sign the user in
    /// without interaction.
    NoPassive,
    /// `Requester` / `InvalidNameIDPolicy`: the NameIDPolicy cannot be met.
    InvalidNameIdPolicy,
    /// `Requester` / `NoAuthnContext`: the RequestedAuthnContext cannot be met. Requester,
    /// because it is the request that asks for what this IdP never offers (like an
    /// impossible NameIDPolicy); the same request cannot succeed later.
    NoAuthnContext,
}

impl FailureStatus {
    fn codes(self) -> (&'static str, &'static str) {
        match self {
            FailureStatus::NoPassive => (
                "urn:oasis:names:tc:SAML:2.0:status:Responder",
                "urn:oasis:names:tc:SAML:2.0:status:NoPassive",
            ),
            FailureStatus::InvalidNameIdPolicy => (
                "urn:oasis:names:tc:SAML:2.0:status:Requester",
                "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy",
            ),
            FailureStatus::NoAuthnContext => (
                "urn:oasis:names:tc:SAML:2.0:status:Requester",
                "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext",
            ),
        }
    }
}

impl Response {
    /// A Response that carries no Assertion, only a failure status and a message for people
    /// (`samlp:StatusMessage`), signed so that the SP can trust the status. Canonical XML.
    pub fn build_failure(
        &self,
        status: FailureStatus,
        message: &str,
        key: &SigningKey,
    ) -> Result<String, SamlError> {
        check_required("issuer", &self.issuer)?;
        check_required("destination", &self.destination)?;
        crate::canonical::check_text("message", message)?;
        if let Some(request_id) = &self.in_response_to {
            check_ncname("in_response_to", request_id)?;
        }
        let head = self.head()?;
        let (top, second) = status.codes();
        let mut tail = Writer::new();
        tail.open("samlp:Status", None, &[]);
        tail.open("samlp:StatusCode", None, &[("Value", top)]);
        tail.leaf("samlp:StatusCode", None, &[("Value", second)], "");
        tail.close("samlp:StatusCode");
        tail.leaf("samlp:StatusMessage", None, &[], message);
        tail.close("samlp:Status");
        tail.close("samlp:Response");
        Unsigned {
            head: head.finish(),
            tail: tail.finish(),
        }
        .sign(&self.id, key)
    }
}
