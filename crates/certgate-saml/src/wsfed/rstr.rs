//! The WS-Trust (February 2005) `RequestSecurityTokenResponse` that the WS-Federation passive
//! profile returns as `wresult` (WS-Federation 1.2 §13.2, "Returning Security Tokens"; the
//! 2005/02 namespace is the one AD FS and Entra ID use for passive sign-in), in the form AD FS
//! sends Entra ID: Lifetime, AppliesTo, the signed SAML
//! 1.1 Assertion, TokenType, RequestType and KeyType. The RSTR itself is not signed; its
//! Assertion is.
//!
//! Written canonically like everything else (each of `wsu`, `wsp`, `wsa` declared on the
//! element that uses it), so that the embedded Assertion's exc-c14n form is the same bytes as
//! when it stood alone and its signature still verifies.

use crate::canonical::Writer;
use crate::wsfed::saml11::{SignedSaml11Assertion, SAML11};

const TRUST: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const POLICY: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";
pub(crate) const ADDRESSING: &str = "http://www.w3.org/2005/08/addressing";
const ISSUE: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue";
/// A bearer token: there is no proof key for the requestor to hold.
const NO_PROOF_KEY: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey";

impl SignedSaml11Assertion {
    /// The `wresult` value: a `t:RequestSecurityTokenResponse` carrying this Assertion
    /// verbatim, with Lifetime = IssueInstant .. NotOnOrAfter and AppliesTo = its Audience
    /// (the realm). Canonical XML, UTF-8, no declaration.
    pub fn request_security_token_response(&self) -> String {
        let mut w = Writer::new();
        w.open("t:RequestSecurityTokenResponse", Some(("t", TRUST)), &[]);
        w.open("t:Lifetime", None, &[]);
        w.leaf("wsu:Created", Some(("wsu", WSU)), &[], &self.issue_instant);
        w.leaf(
            "wsu:Expires",
            Some(("wsu", WSU)),
            &[],
            &self.not_on_or_after,
        );
        w.close("t:Lifetime");
        w.open("wsp:AppliesTo", Some(("wsp", POLICY)), &[]);
        w.open("wsa:EndpointReference", Some(("wsa", ADDRESSING)), &[]);
        w.leaf("wsa:Address", None, &[], &self.audience);
        w.close("wsa:EndpointReference");
        w.close("wsp:AppliesTo");
        w.open("t:RequestedSecurityToken", None, &[]);
        // The Assertion declares its own `saml` and `ds` prefixes and uses no prefix declared
        // above, so exclusive canonicalization of it here yields the bytes that were signed.
        w.raw(&self.xml);
        w.close("t:RequestedSecurityToken");
        w.leaf("t:TokenType", None, &[], SAML11);
        w.leaf("t:RequestType", None, &[], ISSUE);
        w.leaf("t:KeyType", None, &[], NO_PROOF_KEY);
        w.close("t:RequestSecurityTokenResponse");
        w.finish()
    }
}
