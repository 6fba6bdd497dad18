//! The `samlp:AuthnRequest` a service provider sends to sign a user in (SAML core §3.4.1),
//! received over HTTP-POST or HTTP-Redirect (bindings §3.5, §3.4).

use certgate_pki::UnixTime;

use crate::assertion::SAML;
use crate::binding::{receive_post, receive_redirect, Received};
use crate::error::SamlError;
use crate::id::MessageId;
use crate::instant;
use crate::xml_in::{is_xml_whitespace, Document, Element};

pub(crate) const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// Longest `ID` / `InResponseTo` accepted from a peer: generous (SAML asks for 128 random
/// bits; real IDs are under 100 characters), and short enough to log.
const ID_MAX_CHARS: usize = 256;

/// An AuthnRequest's content (SAML core §3.4.1), read from a well-formed document whose root
/// is `samlp:AuthnRequest` with `Version="2.0"`.
///
/// `destination` is optional in the schema, but bindings §3.4.5.2 / §3.5.5.2 require it on
/// a signed request, and the caller compares it with the endpoint the request arrived at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthnRequest {
    /// `ID`: an NCName, echoed as `InResponseTo` in the Response.
    pub id: MessageId,
    /// `IssueInstant`, for the caller's freshness check.
    pub issue_instant: UnixTime,
    /// `Destination`, if sent (see above).
    pub destination: Option<String>,
    /// `saml:Issuer`: the SP's entity ID (whitespace around it removed).
    pub issuer: String,
    /// `AssertionConsumerServiceURL`; must match the SP's metadata (the caller checks).
    pub acs_url: Option<String>,
    /// `AssertionConsumerServiceIndex` (core §3.4.1: mutually exclusive with the URL).
    pub acs_index: Option<u16>,
    /// `ProtocolBinding`: the binding the Response is wanted by.
    pub protocol_binding: Option<String>,
    /// `NameIDPolicy/@Format`.
    pub name_id_policy_format: Option<String>,
    /// `NameIDPolicy/@AllowCreate`; absent = false (core §3.4.1.1).
    pub allow_create: bool,
    /// `ForceAuthn`: the user must authenticate afresh, not by an existing session; absent = false.
    pub force_authn: bool,
    /// `IsPassive`: the IdP must not interact with the user; absent = false.
    pub is_passive: bool,
    /// What the SP asks of the authentication, if it asks (see [`RequestedAuthnContext::decide`]).
    pub requested_authn_context: Option<RequestedAuthnContext>,
}

/// `samlp:RequestedAuthnContext` (core §3.3.2.2.1), by class reference only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedAuthnContext {
    /// How the class references are to be compared with the context used.
    pub comparison: AuthnContextComparison,
    /// `saml:AuthnContextClassRef` values, in order; at least one.
    pub class_refs: Vec<String>,
}

/// `Comparison` (core §3.3.2.2.1); absent = exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthnContextComparison {
    /// The context used must be one of the listed classes.
    Exact,
    /// At least as strong as one of the listed classes.
    Minimum,
    /// As strong as possible without exceeding the strength of at least one listed class.
    Maximum,
    /// Stronger than any of the listed classes.
    Better,
}

impl AuthnContextComparison {
    /// The `Comparison` attribute's value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthnContextComparison::Exact => "exact",
            AuthnContextComparison::Minimum => "minimum",
            AuthnContextComparison::Maximum => "maximum",
            AuthnContextComparison::Better => "better",
        }
    }

    /// From the `Comparison` attribute's value (absent is [`AuthnContextComparison::Exact`],
    /// which the caller supplies).
    pub fn parse(text: &str) -> Option<AuthnContextComparison> {
        match text {
            "exact" => Some(AuthnContextComparison::Exact),
            "minimum" => Some(AuthnContextComparison::Minimum),
            "maximum" => Some(AuthnContextComparison::Maximum),
            "better" => Some(AuthnContextComparison::Better),
            _ => None,
        }
    }
}

impl AuthnRequest {
    /// An AuthnRequest from the HTTP-POST binding (bindings §3.5.4): `saml_request` is the
    /// `SAMLRequest` form value (base64 of the XML), `relay_state` the `RelayState` one.
    /// Any enveloped signature is kept, to be verified by [`Received::verify_signature`].
    pub fn from_post(
        saml_request: &str,
        relay_state: Option<&str>,
    ) -> Result<Received<AuthnRequest>, SamlError> {
        receive_post("SAMLRequest", saml_request, relay_state, read)
    }

    /// An AuthnRequest from the HTTP-Redirect binding (bindings §3.4.4.1): `raw_query` is the
    /// query string exactly as received (still URL-encoded), since its signature covers those
    /// octets. Duplicated parameters are refused.
    pub fn from_redirect(raw_query: &str) -> Result<Received<AuthnRequest>, SamlError> {
        receive_redirect("SAMLRequest", raw_query, read)
    }
}

fn read(document: &Document) -> Result<AuthnRequest, SamlError> {
    let root = &document.root;
    let header = read_request_header(root, "samlp:AuthnRequest", "AuthnRequest")?;

    let acs_index = root
        .attribute("AssertionConsumerServiceIndex")
        .map(|v| {
            parse_unsigned_short(v).ok_or_else(|| {
                invalid(
                    "AssertionConsumerServiceIndex",
                    format!("{v:?} is not an unsigned short"),
                )
            })
        })
        .transpose()?;
    let acs_url = root
        .attribute("AssertionConsumerServiceURL")
        .map(str::to_owned);
    if acs_url.is_some() && acs_index.is_some() {
        return Err(invalid(
            "AssertionConsumerServiceURL",
            "AssertionConsumerServiceURL and AssertionConsumerServiceIndex are mutually exclusive (SAML core §3.4.1)",
        ));
    }
    let name_id_policy = single_child(root, SAMLP, "NameIDPolicy")?;
    let requested_authn_context = single_child(root, SAMLP, "RequestedAuthnContext")?
        .map(read_requested_authn_context)
        .transpose()?;
    Ok(AuthnRequest {
        id: header.id,
        issue_instant: header.issue_instant,
        destination: header.destination,
        issuer: header.issuer,
        acs_url,
        acs_index,
        protocol_binding: root.attribute("ProtocolBinding").map(str::to_owned),
        name_id_policy_format: name_id_policy
            .and_then(|p| p.attribute("Format"))
            .map(str::to_owned),
        allow_create: name_id_policy
            .map(|p| optional_boolean(p, "AllowCreate"))
            .transpose()?
            .unwrap_or(false),
        force_authn: optional_boolean(root, "ForceAuthn")?,
        is_passive: optional_boolean(root, "IsPassive")?,
        requested_authn_context,
    })
}

fn read_requested_authn_context(element: &Element) -> Result<RequestedAuthnContext, SamlError> {
    let comparison = match element.attribute("Comparison") {
        None => AuthnContextComparison::Exact,
        Some(text) => AuthnContextComparison::parse(text).ok_or_else(|| {
            invalid(
                "RequestedAuthnContext",
                format!("Comparison {text:?} is not exact, minimum, maximum or better"),
            )
        })?,
    };
    if element
        .children_named(SAML, "AuthnContextDeclRef")
        .next()
        .is_some()
    {
        return Err(invalid(
            "RequestedAuthnContext",
            "AuthnContextDeclRef is not supported; request an AuthnContextClassRef",
        ));
    }
    let class_refs: Vec<String> = element
        .children_named(SAML, "AuthnContextClassRef")
        .map(|e| trimmed_text(e).to_owned())
        .collect();
    if class_refs.is_empty() {
        return Err(invalid(
            "RequestedAuthnContext",
            "no AuthnContextClassRef (SAML core §3.3.2.2.1)",
        ));
    }
    Ok(RequestedAuthnContext {
        comparison,
        class_refs,
    })
}

/// What every request carries (SAML core §3.2.1 RequestAbstractType).
pub(crate) struct RequestHeader {
    pub(crate) id: MessageId,
    pub(crate) issue_instant: UnixTime,
    pub(crate) destination: Option<String>,
    pub(crate) issuer: String,
}

/// Checks the root is `{protocol}local_name` with Version 2.0 and reads the common header;
/// the Issuer is required (optional in the schema, but core §3.4.1 and §3.7.1 profiles need
/// it to know who asks).
pub(crate) fn read_request_header(
    root: &Element,
    expected: &'static str,
    local_name: &str,
) -> Result<RequestHeader, SamlError> {
    if !root.is(SAMLP, local_name) {
        return Err(SamlError::UnexpectedMessage {
            expected,
            found: root.expanded_name().chars().take(200).collect(),
        });
    }
    match root.attribute("Version") {
        Some("2.0") => {}
        Some(other) => {
            return Err(SamlError::UnsupportedVersion {
                version: other.chars().take(20).collect(),
            })
        }
        None => return Err(invalid("Version", "missing")),
    }
    let id = read_id(root.attribute("ID"), "ID")?;
    let issue_instant = root
        .attribute("IssueInstant")
        .ok_or_else(|| invalid("IssueInstant", "missing"))?;
    let issue_instant = instant::parse(issue_instant).ok_or_else(|| {
        invalid(
            "IssueInstant",
            format!(
                "{:?} is not an xs:dateTime such as 2026-03-01T12:00:00Z",
                issue_instant.chars().take(40).collect::<String>()
            ),
        )
    })?;
    let issuer = single_child(root, SAML, "Issuer")?
        .map(trimmed_text)
        .filter(|text| !text.is_empty())
        .ok_or_else(|| invalid("Issuer", "missing; the request must name its sender"))?
        .to_owned();
    Ok(RequestHeader {
        id,
        issue_instant,
        destination: root.attribute("Destination").map(str::to_owned),
        issuer,
    })
}

/// An `xs:ID` (an NCName) of bounded length.
pub(crate) fn read_id(value: Option<&str>, field: &'static str) -> Result<MessageId, SamlError> {
    let value = value.ok_or_else(|| invalid(field, "missing"))?;
    if value.chars().count() > ID_MAX_CHARS {
        return Err(invalid(
            field,
            format!("longer than {ID_MAX_CHARS} characters"),
        ));
    }
    MessageId::parse(value).map_err(|_| {
        invalid(
            field,
            format!(
                "{:?} is not an xs:ID (a letter or _ followed by letters, digits, _ - .)",
                value
            ),
        )
    })
}

/// The one child `{namespace}local_name`, if any; two are refused.
pub(crate) fn single_child<'a>(
    parent: &'a Element,
    namespace: &'a str,
    local_name: &'static str,
) -> Result<Option<&'a Element>, SamlError> {
    let mut children = parent.children_named(namespace, local_name);
    let first = children.next();
    if children.next().is_some() {
        return Err(invalid(local_name, "appears more than once"));
    }
    Ok(first)
}

pub(crate) fn trimmed_text(element: &Element) -> &str {
    // Text nodes are merged by the reader, so an element with only text has at most one.
    match element.children.as_slice() {
        [crate::xml_in::Node::Text(text)] => text.trim_matches(is_xml_whitespace),
        _ => "",
    }
}

/// An `xs:boolean` attribute; absent = false.
pub(crate) fn optional_boolean(element: &Element, name: &'static str) -> Result<bool, SamlError> {
    match element.attribute(name) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(invalid(
            name,
            format!(
                "{:?} is not an xs:boolean",
                other.chars().take(20).collect::<String>()
            ),
        )),
    }
}

pub(crate) fn parse_unsigned_short(value: &str) -> Option<u16> {
    if value.is_empty() || value.len() > 5 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> SamlError {
    SamlError::MessageInvalid {
        field,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml_in::{parse, MESSAGE_MAX_BYTES};

    const FULL: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_req1" Version="2.0" IssueInstant="2026-03-01T12:00:00Z" Destination="https://idp.example/saml/sso" AssertionConsumerServiceURL="https://sp.example/acs" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" ForceAuthn="true">
  <saml:Issuer> https://sp.example/metadata </saml:Issuer>
  <samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="1"/>
  <samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>
</samlp:AuthnRequest>"#;

    fn read_str(xml: &str) -> Result<AuthnRequest, SamlError> {
        read(&parse(xml.as_bytes(), MESSAGE_MAX_BYTES)?)
    }

    #[test]
    fn reads_every_field() {
        let request = read_str(FULL).unwrap();
        assert_eq!(request.id.as_str(), "_req1");
        assert_eq!(request.issue_instant, UnixTime(1_772_366_400));
        assert_eq!(request.issuer, "https://sp.example/metadata");
        assert_eq!(
            request.destination.as_deref(),
            Some("https://idp.example/saml/sso")
        );
        assert_eq!(request.acs_url.as_deref(), Some("https://sp.example/acs"));
        assert_eq!(request.acs_index, None);
        assert!(request.force_authn && !request.is_passive && request.allow_create);
        assert_eq!(
            request.requested_authn_context,
            Some(RequestedAuthnContext {
                comparison: AuthnContextComparison::Minimum,
                class_refs: vec!["urn:oasis:names:tc:SAML:2.0:ac:classes:X509".into()],
            })
        );
    }

    #[test]
    fn refusals_carry_their_codes() {
        let cases = [
            (
                FULL.replace("Version=\"2.0\"", "Version=\"1.1\""),
                "saml-version-unsupported",
            ),
            (
                FULL.replace("ID=\"_req1\"", "ID=\"1req\""),
                "saml-message-invalid",
            ),
            (
                FULL.replace("ID=\"_req1\"", &format!("ID=\"_{}\"", "a".repeat(300))),
                "saml-message-invalid",
            ),
            (
                FULL.replace("2026-03-01T12:00:00Z", "yesterday"),
                "saml-message-invalid",
            ),
            (
                FULL.replace(
                    "<saml:Issuer> https://sp.example/metadata </saml:Issuer>",
                    "",
                ),
                "saml-message-invalid",
            ),
            (
                FULL.replace("ForceAuthn=\"true\"", "ForceAuthn=\"yes\""),
                "saml-message-invalid",
            ),
            (
                FULL.replace(
                    "ProtocolBinding",
                    "AssertionConsumerServiceIndex=\"1\" ProtocolBinding",
                ),
                "saml-message-invalid",
            ),
            (
                FULL.replace("AuthnRequest", "LogoutRequest"),
                "saml-unexpected-message",
            ),
            (
                FULL.replace("urn:oasis:names:tc:SAML:2.0:protocol", "urn:other"),
                "saml-unexpected-message",
            ),
        ];
        for (xml, code) in cases {
            let error = read_str(&xml).unwrap_err();
            assert_eq!(error.code(), code, "{error}");
        }
    }
}
