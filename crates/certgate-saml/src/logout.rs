//! Single logout over the HTTP-Redirect binding (SAML core §3.7, profiles §4.4): the
//! `samlp:LogoutRequest` a service provider sends, and the `samlp:LogoutResponse` certgate
//! answers with, DEFLATE-encoded and signed over the query string (bindings §3.4.4.1).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_pki::UnixTime;

use crate::assertion::SAML;
use crate::binding::{deflate, percent_encode, receive_redirect, Received, RELAY_STATE_MAX_BYTES};
use crate::canonical::{check_ncname, check_required, check_text, Writer};
use crate::dsig_verify::RSA_SHA256;
use crate::error::SamlError;
use crate::id::MessageId;
use crate::instant;
use crate::request::{invalid, read_request_header, single_child, trimmed_text, SAMLP};
use crate::signature::SigningKey;
use crate::xml_in::Document;

/// A LogoutRequest's content (SAML core §3.7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutRequest {
    /// `ID`: echoed as the LogoutResponse's `InResponseTo`.
    pub id: MessageId,
    /// `IssueInstant`, for the caller's freshness check.
    pub issue_instant: UnixTime,
    /// `Destination`, if sent; the caller compares it with the endpoint the request arrived at.
    pub destination: Option<String>,
    /// The SP's entity ID.
    pub issuer: String,
    /// Whose session ends.
    pub name_id: LogoutNameId,
    /// `samlp:SessionIndex` values: the sessions to end (none = all of the principal's
    /// sessions with this SP).
    pub session_indexes: Vec<String>,
    /// `NotOnOrAfter`: past this the request must be ignored (core §3.7.1); the caller
    /// compares it with its clock.
    pub not_on_or_after: Option<UnixTime>,
}

/// The `saml:NameID` of a LogoutRequest (core §2.2.3), as sent. `BaseID` and `EncryptedID`
/// are refused: certgate issues plain NameIDs, so its SPs echo plain NameIDs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutNameId {
    /// The identifier, whitespace around it removed; never empty.
    pub value: String,
    /// `Format`, as sent (absent = unspecified, core §8.3.1).
    pub format: Option<String>,
    /// `NameQualifier`, as sent.
    pub name_qualifier: Option<String>,
    /// `SPNameQualifier`, as sent.
    pub sp_name_qualifier: Option<String>,
}

impl LogoutRequest {
    /// A LogoutRequest from the HTTP-Redirect binding: `raw_query` is the query string
    /// exactly as received (its signature covers those octets; see
    /// [`Received::verify_signature`]).
    pub fn from_redirect(raw_query: &str) -> Result<Received<LogoutRequest>, SamlError> {
        receive_redirect("SAMLRequest", raw_query, read)
    }
}

fn read(document: &Document) -> Result<LogoutRequest, SamlError> {
    let root = &document.root;
    let header = read_request_header(root, "samlp:LogoutRequest", "LogoutRequest")?;
    for unsupported in ["BaseID", "EncryptedID"] {
        if root.children_named(SAML, unsupported).next().is_some() {
            return Err(invalid(
                "NameID",
                format!("{unsupported} is not supported; send the NameID certgate issued"),
            ));
        }
    }
    let name_id =
        single_child(root, SAML, "NameID")?.ok_or_else(|| invalid("NameID", "missing"))?;
    let value = trimmed_text(name_id);
    if value.is_empty() {
        return Err(invalid("NameID", "empty"));
    }
    let not_on_or_after = root
        .attribute("NotOnOrAfter")
        .map(|v| {
            instant::parse(v).ok_or_else(|| {
                invalid(
                    "NotOnOrAfter",
                    format!(
                        "{:?} is not an xs:dateTime",
                        v.chars().take(40).collect::<String>()
                    ),
                )
            })
        })
        .transpose()?;
    Ok(LogoutRequest {
        id: header.id,
        issue_instant: header.issue_instant,
        destination: header.destination,
        issuer: header.issuer,
        name_id: LogoutNameId {
            value: value.to_owned(),
            format: name_id.attribute("Format").map(str::to_owned),
            name_qualifier: name_id.attribute("NameQualifier").map(str::to_owned),
            sp_name_qualifier: name_id.attribute("SPNameQualifier").map(str::to_owned),
        },
        session_indexes: root
            .children_named(SAMLP, "SessionIndex")
            .map(|e| trimmed_text(e).to_owned())
            .collect(),
        not_on_or_after,
    })
}

/// Top-level status codes (SAML core §3.2.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// The request succeeded.
    Success,
    /// The request could not be performed due to an error on the part of the requester.
    Requester,
    /// The request could not be performed due to an error on the part of the responder.
    Responder,
    /// The sender's SAML version is not supported.
    VersionMismatch,
}

impl StatusCode {
    /// The status code URI, as written into `samlp:StatusCode/@Value`.
    pub fn uri(self) -> &'static str {
        match self {
            StatusCode::Success => "urn:oasis:names:tc:SAML:2.0:status:Success",
            StatusCode::Requester => "urn:oasis:names:tc:SAML:2.0:status:Requester",
            StatusCode::Responder => "urn:oasis:names:tc:SAML:2.0:status:Responder",
            StatusCode::VersionMismatch => "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch",
        }
    }
}

/// A `samlp:LogoutResponse` (SAML core §3.7.2) to send back by HTTP-Redirect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutResponse {
    /// The LogoutResponse's own `ID`.
    pub id: MessageId,
    /// The LogoutRequest's ID.
    pub in_response_to: String,
    /// When the response is issued (`IssueInstant`).
    pub issue_instant: UnixTime,
    /// The SP's SingleLogoutService ResponseLocation (or Location).
    pub destination: String,
    /// certgate's entity ID.
    pub issuer: String,
    /// The top-level status code: Success, or why the logout was not done.
    pub status: StatusCode,
    /// A second-level status code URI (core §3.2.2.2), e.g.
    /// `urn:oasis:names:tc:SAML:2.0:status:PartialLogout`.
    pub second_level_status: Option<String>,
}

impl LogoutResponse {
    /// The LogoutResponse as canonical XML (UTF-8, no XML declaration, no signature: the
    /// Redirect binding signs the query string instead, bindings §3.4.4.1).
    pub fn xml(&self) -> Result<String, SamlError> {
        check_ncname("in_response_to", &self.in_response_to)?;
        check_required("destination", &self.destination)?;
        check_required("issuer", &self.issuer)?;
        if let Some(code) = &self.second_level_status {
            check_required("second_level_status", code)?;
        }
        let issue_instant = instant::format("issue_instant", self.issue_instant)?;
        let mut w = Writer::new();
        w.open(
            "samlp:LogoutResponse",
            Some(("samlp", SAMLP)),
            &[
                ("Destination", &self.destination),
                ("ID", self.id.as_str()),
                ("InResponseTo", &self.in_response_to),
                ("IssueInstant", &issue_instant),
                ("Version", "2.0"),
            ],
        );
        w.leaf("saml:Issuer", Some(("saml", SAML)), &[], &self.issuer);
        w.open("samlp:Status", None, &[]);
        w.open("samlp:StatusCode", None, &[("Value", self.status.uri())]);
        if let Some(code) = &self.second_level_status {
            w.leaf("samlp:StatusCode", None, &[("Value", code)], "");
        }
        w.close("samlp:StatusCode");
        w.close("samlp:Status");
        w.close("samlp:LogoutResponse");
        Ok(w.finish())
    }

    /// The query string for the HTTP-Redirect binding (bindings §3.4.4.1):
    /// `SAMLResponse=…[&RelayState=…]&SigAlg=…&Signature=…`, the message raw-DEFLATEd and
    /// base64-encoded, signed with RSA-SHA256 over the first three parameters as written.
    /// Append it to `destination` after `?` (or `&` if it already has a query).
    pub fn redirect_query(
        &self,
        relay_state: Option<&str>,
        key: &SigningKey,
    ) -> Result<String, SamlError> {
        if let Some(relay_state) = relay_state {
            check_text("relay_state", relay_state)?;
            if relay_state.len() > RELAY_STATE_MAX_BYTES {
                return Err(SamlError::RelayStateTooLong {
                    length: relay_state.len(),
                    limit: RELAY_STATE_MAX_BYTES,
                });
            }
        }
        let xml = self.xml()?;
        let message = STANDARD.encode(deflate(xml.as_bytes())?);
        let mut query = format!("SAMLResponse={}", percent_encode(&message));
        if let Some(relay_state) = relay_state {
            query.push_str("&RelayState=");
            query.push_str(&percent_encode(relay_state));
        }
        query.push_str("&SigAlg=");
        query.push_str(&percent_encode(RSA_SHA256));
        let signature = key.sign_rsa_sha256(query.as_bytes())?;
        query.push_str("&Signature=");
        query.push_str(&percent_encode(&STANDARD.encode(signature)));
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml_in::{parse, MESSAGE_MAX_BYTES};

    const REQUEST: &str = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lo1" Version="2.0" IssueInstant="2026-03-01T12:00:00Z" Destination="https://idp.example/saml/slo" NotOnOrAfter="2026-03-01T12:05:00Z"><saml:Issuer>https://sp.example/metadata</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" SPNameQualifier="https://sp.example/metadata">alice@contoso.example</saml:NameID><samlp:SessionIndex>_s1</samlp:SessionIndex><samlp:SessionIndex>_s2</samlp:SessionIndex></samlp:LogoutRequest>"#;

    #[test]
    fn reads_a_logout_request() {
        let request = read(&parse(REQUEST.as_bytes(), MESSAGE_MAX_BYTES).unwrap()).unwrap();
        assert_eq!(request.id.as_str(), "_lo1");
        assert_eq!(request.name_id.value, "alice@contoso.example");
        assert_eq!(
            request.name_id.sp_name_qualifier.as_deref(),
            Some("https://sp.example/metadata")
        );
        assert_eq!(request.session_indexes, vec!["_s1", "_s2"]);
        assert_eq!(request.not_on_or_after, Some(UnixTime(1_772_366_700)));
    }

    #[test]
    fn a_logout_request_without_name_id_is_refused() {
        let xml = REQUEST.replace(
            "<saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\" SPNameQualifier=\"https://sp.example/metadata\">alice@contoso.example</saml:NameID>",
            "",
        );
        let error = read(&parse(xml.as_bytes(), MESSAGE_MAX_BYTES).unwrap()).unwrap_err();
        assert_eq!(error.code(), "saml-message-invalid");
    }
}
