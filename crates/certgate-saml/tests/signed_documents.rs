//! Signed Assertions, Responses and IdP metadata checked by real peers: xmlsec1 (libxmlsec1) verifies every
//! signature and rejects tampered copies, `xmllint --schema` validates against the OASIS
//! SAML 2.0 schemas shipped in tests/xsd/, and `xmllint --exc-c14n` confirms the documents
//! are already in their exclusive canonical form. scripts/setup.sh installs both tools.

mod common;

use common::{b64, fixture, id, tool, xsd, Fixture, NOW, VERIFICATION_TIME};

use std::path::{Path, PathBuf};

use certgate_saml::{
    Assertion, Attribute, Authentication, AuthnContext, IdpMetadata, ImmutableId,
    Microsoft365Assertion, NameId, NameIdFormat, Response, ResponseSigning, UnixTime, Validity,
    MICROSOFT365_ACS, MICROSOFT365_AUDIENCE,
};

fn validity() -> Validity {
    Validity {
        issue_instant: NOW,
        not_before: UnixTime(NOW.0 - 300),
        not_on_or_after: UnixTime(NOW.0 + 300),
    }
}

fn generic_assertion() -> Assertion {
    Assertion {
        id: id(1),
        issuer: "https://sts.contoso.example/saml".into(),
        name_id: NameId {
            format: NameIdFormat::EmailAddress,
            value: "alice@contoso.example".into(),
        },
        audience: "https://sp.example/metadata".into(),
        recipient: "https://sp.example/acs?a=1&b=2".into(),
        in_response_to: Some("ONELOGIN_4fee3b046395c4e751011e97f8900b5273d56685".into()),
        validity: validity(),
        authentication: Authentication {
            authn_instant: UnixTime(NOW.0 - 5),
            session_index: "_session-1".into(),
            context: AuthnContext::X509,
        },
        attributes: vec![
            Attribute {
                name: "upn".into(),
                name_format: Some("urn:oasis:names:tc:SAML:2.0:attrname-format:basic".into()),
                values: vec!["alice@contoso.example".into()],
            },
            Attribute {
                name: "groups".into(),
                name_format: None,
                // Everything canonical escaping has to get right, in text.
                values: vec![
                    "R&D <lab> \"quoted\" 'single'".into(),
                    "line\r\nbreak\ttab é 𝄞".into(),
                    String::new(),
                ],
            },
            Attribute {
                // And in an attribute value.
                name: "odd \"name\" & <tab>\there\nnewline\rreturn".into(),
                name_format: None,
                values: vec!["x".into()],
            },
        ],
    }
}

fn microsoft365_assertion(context: AuthnContext) -> Assertion {
    Microsoft365Assertion {
        id: id(2),
        issuer_uri: "http://contoso.example/adfs/services/trust".into(),
        immutable_id: ImmutableId::encode("0Bq0fs7K+0WKeX9qyM/3tA==").unwrap(),
        upn: "alice@contoso.example".into(),
        in_response_to: Some("_8b5ca9c5-61d7-4ad3-a1ec-ab2bd1b4f2f0".into()),
        validity: validity(),
        authentication: Authentication {
            authn_instant: UnixTime(NOW.0 - 5),
            session_index: "_session-2".into(),
            context,
        },
    }
    .into_assertion()
}

fn response(in_response_to: Option<&str>) -> Response {
    Response {
        id: id(3),
        issuer: "http://contoso.example/adfs/services/trust".into(),
        destination: MICROSOFT365_ACS.into(),
        in_response_to: in_response_to.map(str::to_owned),
        issue_instant: NOW,
    }
}

impl Fixture {
    fn write(&self, name: &str, xml: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, xml).unwrap();
        path
    }

    /// xmlsec1's verdict on the signature `node_xpath` selects (None: the first one).
    fn xmlsec_verify(&self, file: &Path, node_xpath: Option<&str>) -> Result<(), String> {
        let mut command = tool("xmlsec1");
        command.args([
            "--verify",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
            "--verification-time",
            VERIFICATION_TIME,
            "--trusted-pem",
        ]);
        command.arg(&self.certificate_pem);
        if let Some(xpath) = node_xpath {
            command.args(["--node-xpath", xpath]);
        }
        let output = command.arg(file).output().unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            Ok(())
        } else {
            Err(log)
        }
    }

    fn assert_verifies(&self, file: &Path, node_xpath: Option<&str>) {
        if let Err(log) = self.xmlsec_verify(file, node_xpath) {
            panic!(
                "xmlsec1 rejected {}:\n{log}\n{}",
                file.display(),
                std::fs::read_to_string(file).unwrap()
            );
        }
    }
}

const ASSERTION_SIGNATURE: &str = "//*[local-name()='Assertion']/*[local-name()='Signature']";
const RESPONSE_SIGNATURE: &str = "/*[local-name()='Response']/*[local-name()='Signature']";

fn assert_schema_valid(schema: &str, file: &Path) {
    let output = tool("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd(schema))
        .arg(file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "xmllint --schema {schema} rejected {}:\n{}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// libxml2's exclusive canonicalization of the whole document gives back the same bytes.
fn assert_already_canonical(file: &Path) {
    let output = tool("xmllint")
        .args(["--nonet", "--exc-c14n"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let original = std::fs::read(file).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&original),
        "the document is not in exclusive canonical form"
    );
}

#[test]
fn signed_assertion_verifies_with_xmlsec1_and_matches_the_schema() {
    let f = fixture();
    let signed = generic_assertion().sign(&f.key).unwrap();
    let file = f.write("assertion.xml", signed.xml());
    f.assert_verifies(&file, None);
    assert_schema_valid("saml-schema-assertion-2.0.xsd", &file);
    assert_already_canonical(&file);
}

#[test]
fn signature_sits_right_after_the_issuer() {
    let f = fixture();
    let xml = generic_assertion().sign(&f.key).unwrap().xml().to_owned();
    let issuer_end = xml.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
    assert!(xml[issuer_end..].starts_with("<ds:Signature xmlns:ds="));
    assert!(xml.contains("<ds:Reference URI=\"#_00000000000000000000000000000001\">"));
    assert!(xml.contains("<ds:X509Certificate>"));
}

#[test]
fn response_signed_assertion_only_verifies_and_matches_the_schema() {
    let f = fixture();
    let signed = microsoft365_assertion(AuthnContext::X509)
        .sign(&f.key)
        .unwrap();
    let xml = response(Some("_8b5ca9c5-61d7-4ad3-a1ec-ab2bd1b4f2f0"))
        .build(&signed, ResponseSigning::AssertionOnly, &f.key)
        .unwrap();
    assert_eq!(xml.matches("<ds:Signature ").count(), 1);
    let file = f.write("response.xml", &xml);
    f.assert_verifies(&file, None);
    f.assert_verifies(&file, Some(ASSERTION_SIGNATURE));
    assert_schema_valid("saml-schema-protocol-2.0.xsd", &file);
    assert_already_canonical(&file);
}

#[test]
fn response_signed_twice_verifies_both_signatures_and_matches_the_schema() {
    let f = fixture();
    let signed = generic_assertion().sign(&f.key).unwrap();
    let xml = response(None)
        .build(&signed, ResponseSigning::AssertionAndResponse, &f.key)
        .unwrap();
    assert_eq!(xml.matches("<ds:Signature ").count(), 2);
    let file = f.write("response.xml", &xml);
    f.assert_verifies(&file, Some(RESPONSE_SIGNATURE));
    f.assert_verifies(&file, Some(ASSERTION_SIGNATURE));
    assert_schema_valid("saml-schema-protocol-2.0.xsd", &file);
    assert_already_canonical(&file);
}

#[test]
fn every_authn_context_verifies() {
    let f = fixture();
    for context in [
        AuthnContext::X509,
        AuthnContext::TlsClient,
        AuthnContext::MultipleAuthn,
    ] {
        let signed = microsoft365_assertion(context).sign(&f.key).unwrap();
        assert!(signed.xml().contains(&format!(
            "<saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef>",
            context.uri()
        )));
        let file = f.write("assertion.xml", signed.xml());
        f.assert_verifies(&file, None);
        assert_schema_valid("saml-schema-assertion-2.0.xsd", &file);
    }
}

#[test]
fn microsoft365_assertion_carries_the_entra_contract() {
    let f = fixture();
    let xml = microsoft365_assertion(AuthnContext::MultipleAuthn)
        .sign(&f.key)
        .unwrap()
        .xml()
        .to_owned();
    for expected in [
        "<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">0Bq0fs7K.2B0WKeX9qyM.2F3tA.3D.3D</saml:NameID>",
        "<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:SubjectConfirmationData InResponseTo=\"_8b5ca9c5-61d7-4ad3-a1ec-ab2bd1b4f2f0\" NotOnOrAfter=\"2026-03-01T12:05:00Z\" Recipient=\"https://login.microsoftonline.com/login.srf\"></saml:SubjectConfirmationData>",
        "<saml:Conditions NotBefore=\"2026-03-01T11:55:00Z\" NotOnOrAfter=\"2026-03-01T12:05:00Z\"><saml:AudienceRestriction><saml:Audience>urn:federation:MicrosoftOnline</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
        "<saml:AuthnStatement AuthnInstant=\"2026-03-01T11:59:55Z\" SessionIndex=\"_session-2\"><saml:AuthnContext><saml:AuthnContextClassRef>http://schemas.microsoft.com/claims/multipleauthn</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>",
        "<saml:AttributeStatement><saml:Attribute Name=\"IDPEmail\"><saml:AttributeValue>alice@contoso.example</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>",
        "<saml:Issuer>http://contoso.example/adfs/services/trust</saml:Issuer>",
    ] {
        assert!(xml.contains(expected), "missing {expected}\nin {xml}");
    }
    assert_eq!(MICROSOFT365_AUDIENCE, "urn:federation:MicrosoftOnline");
}

/// Each tampering must break the signature as xmlsec1 sees it.
fn assert_tampering_detected(f: &Fixture, xml: &str, from: &str, to: &str, xpath: Option<&str>) {
    assert!(xml.contains(from), "{from} not in document");
    let tampered = xml.replacen(from, to, 1);
    let file = f.write("tampered.xml", &tampered);
    assert!(
        f.xmlsec_verify(&file, xpath).is_err(),
        "xmlsec1 accepted a document with {from} changed to {to}"
    );
}

#[test]
fn tampered_assertion_fails_xmlsec1() {
    let f = fixture();
    let xml = microsoft365_assertion(AuthnContext::X509)
        .sign(&f.key)
        .unwrap()
        .xml()
        .to_owned();
    // The untouched copy passes, so a failure below is the tampering's doing.
    f.assert_verifies(&f.write("original.xml", &xml), None);
    for (from, to) in [
        (
            ">0Bq0fs7K.2B0WKeX9qyM.2F3tA.3D.3D<",
            ">0Bq0fs7K.2B0WKeX9qyM.2F3tA.3D.3E<",
        ),
        (">alice@contoso.example<", ">mallory@contoso.example<"),
        (
            "NotOnOrAfter=\"2026-03-01T12:05:00Z\" Recipient",
            "NotOnOrAfter=\"2027-03-01T12:05:00Z\" Recipient",
        ),
        (
            "NotBefore=\"2026-03-01T11:55:00Z\"",
            "NotBefore=\"2025-03-01T11:55:00Z\"",
        ),
        ("ac:classes:X509<", "ac:classes:Password<"),
        (
            "<saml:Audience>urn:federation:MicrosoftOnline<",
            "<saml:Audience>urn:evil<",
        ),
    ] {
        assert_tampering_detected(&f, &xml, from, to, None);
    }
}

#[test]
fn tampered_response_fails_xmlsec1() {
    let f = fixture();
    let signed = generic_assertion().sign(&f.key).unwrap();
    let xml = response(Some("_request-1"))
        .build(&signed, ResponseSigning::AssertionAndResponse, &f.key)
        .unwrap();
    f.assert_verifies(&f.write("original.xml", &xml), Some(RESPONSE_SIGNATURE));
    // Inside the Assertion: both signatures break.
    for xpath in [RESPONSE_SIGNATURE, ASSERTION_SIGNATURE] {
        assert_tampering_detected(
            &f,
            &xml,
            ">alice@contoso.example</saml:NameID>",
            ">bob@contoso.example</saml:NameID>",
            Some(xpath),
        );
    }
    // Outside the Assertion: the Response signature breaks.
    assert_tampering_detected(
        &f,
        &xml,
        "InResponseTo=\"_request-1\"",
        "InResponseTo=\"_request-2\"",
        Some(RESPONSE_SIGNATURE),
    );
}

#[test]
fn signature_by_another_key_fails_xmlsec1() {
    let f = fixture();
    let other = fixture();
    let xml = generic_assertion()
        .sign(&other.key)
        .unwrap()
        .xml()
        .to_owned();
    let file = f.write("other.xml", &xml);
    assert!(f.xmlsec_verify(&file, None).is_err());
}

#[test]
fn invalid_fields_refused_with_stable_codes() {
    let f = fixture();
    let mut empty_window = generic_assertion();
    empty_window.validity.not_on_or_after = empty_window.validity.not_before;
    let mut bad_request_id = generic_assertion();
    bad_request_id.in_response_to = Some("1\"><x".into());
    let mut control_character = generic_assertion();
    control_character.attributes[0].values[0] = "a\u{1}b".into();
    let mut empty_name_id = generic_assertion();
    empty_name_id.name_id.value.clear();
    for (assertion, code) in [
        (empty_window, "saml-empty-validity"),
        (bad_request_id, "saml-invalid-field"),
        (control_character, "saml-invalid-field"),
        (empty_name_id, "saml-invalid-field"),
    ] {
        assert_eq!(assertion.sign(&f.key).unwrap_err().code(), code);
    }
    let signed = generic_assertion().sign(&f.key).unwrap();
    let mut same_id = response(None);
    same_id.id = signed.id().clone();
    assert!(same_id
        .build(&signed, ResponseSigning::AssertionOnly, &f.key)
        .is_err());
}

fn idp_metadata(current: &[u8], next: &[u8]) -> IdpMetadata {
    IdpMetadata {
        id: id(4),
        entity_id: "http://contoso.example/adfs/services/trust".into(),
        signing_certificates: vec![current.to_vec(), next.to_vec()],
        want_authn_requests_signed: false,
        sso_redirect_url: "https://sts.contoso.example/saml/sso?binding=redirect&v=1".into(),
        sso_post_url: "https://sts.contoso.example/saml/sso".into(),
        slo_redirect_url: "https://sts.contoso.example/saml/slo".into(),
        name_id_formats: vec![NameIdFormat::Persistent, NameIdFormat::EmailAddress],
        valid_until: Some(UnixTime(NOW.0 + 7 * 86_400)),
    }
}

#[test]
fn idp_metadata_matches_the_schema_and_publishes_both_certificates() {
    let f = fixture();
    let next = fixture();
    let current_der = f.key.certificate_der();
    let next_der = next.key.certificate_der();
    assert_ne!(current_der, next_der);
    let xml = idp_metadata(current_der, next_der).xml().unwrap();
    let file = f.write("metadata.xml", &xml);
    assert_schema_valid("saml-schema-metadata-2.0.xsd", &file);
    assert_already_canonical(&file);
    let key_descriptor = |der: &[u8]| {
        format!(
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            b64(der)
        )
    };
    let expected = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ID=\"_00000000000000000000000000000004\" entityID=\"http://contoso.example/adfs/services/trust\" validUntil=\"2026-03-08T12:00:00Z\">\
<md:IDPSSODescriptor WantAuthnRequestsSigned=\"false\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
{}{}\
<md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://sts.contoso.example/saml/slo\"></md:SingleLogoutService>\
<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\
<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\
<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://sts.contoso.example/saml/sso?binding=redirect&amp;v=1\"></md:SingleSignOnService>\
<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://sts.contoso.example/saml/sso\"></md:SingleSignOnService>\
</md:IDPSSODescriptor></md:EntityDescriptor>",
        key_descriptor(current_der),
        key_descriptor(next_der)
    );
    assert_eq!(xml, expected);
}

#[test]
fn idp_metadata_options_change_only_their_attributes() {
    let f = fixture();
    let der = f.key.certificate_der();
    let mut metadata = idp_metadata(der, der);
    metadata.signing_certificates.truncate(1);
    metadata.want_authn_requests_signed = true;
    metadata.valid_until = None;
    metadata.name_id_formats.clear();
    let xml = metadata.xml().unwrap();
    assert!(xml.starts_with(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ID=\"_00000000000000000000000000000004\" entityID=\"http://contoso.example/adfs/services/trust\"><md:IDPSSODescriptor WantAuthnRequestsSigned=\"true\" "
    ));
    assert_eq!(xml.matches("<md:KeyDescriptor ").count(), 1);
    assert!(!xml.contains("NameIDFormat"));
    assert_schema_valid(
        "saml-schema-metadata-2.0.xsd",
        &f.write("metadata.xml", &xml),
    );
}

#[test]
fn signed_idp_metadata_verifies_with_xmlsec1_and_tampering_fails() {
    let f = fixture();
    let next = fixture();
    let xml = idp_metadata(f.key.certificate_der(), next.key.certificate_der())
        .sign(&f.key)
        .unwrap();
    // The Signature is the EntityDescriptor's first child, as the schema orders it.
    let start_tag_end = xml.find('>').unwrap() + 1;
    assert!(xml[start_tag_end..].starts_with("<ds:Signature xmlns:ds="));
    assert!(xml.contains("<ds:Reference URI=\"#_00000000000000000000000000000004\">"));
    let file = f.write("metadata.xml", &xml);
    f.assert_verifies(&file, None);
    assert_schema_valid("saml-schema-metadata-2.0.xsd", &file);
    assert_already_canonical(&file);
    let next_certificate = b64(next.key.certificate_der());
    for (from, to) in [
        (
            "Location=\"https://sts.contoso.example/saml/sso\"",
            "Location=\"https://evil.example/saml/sso\"",
        ),
        (
            "WantAuthnRequestsSigned=\"false\"",
            "WantAuthnRequestsSigned=\"true\"",
        ),
        (
            "validUntil=\"2026-03-08T12:00:00Z\"",
            "validUntil=\"2036-03-08T12:00:00Z\"",
        ),
        (next_certificate.as_str(), &b64(f.key.certificate_der())),
    ] {
        assert_tampering_detected(&f, &xml, from, to, None);
    }
}

#[test]
fn invalid_idp_metadata_refused() {
    let f = fixture();
    let der = f.key.certificate_der();
    let mut no_certificates = idp_metadata(der, der);
    no_certificates.signing_certificates.clear();
    let mut garbage_certificate = idp_metadata(der, der);
    garbage_certificate.signing_certificates[1] = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    let mut empty_entity_id = idp_metadata(der, der);
    empty_entity_id.entity_id.clear();
    let mut control_character = idp_metadata(der, der);
    control_character.sso_post_url = "https://a\u{1}".into();
    for metadata in [
        no_certificates,
        garbage_certificate,
        empty_entity_id,
        control_character,
    ] {
        assert_eq!(metadata.xml().unwrap_err().code(), "saml-invalid-field");
        assert_eq!(
            metadata.sign(&f.key).unwrap_err().code(),
            "saml-invalid-field"
        );
    }
    let mut far_future = idp_metadata(der, der);
    far_future.valid_until = Some(UnixTime(i64::MAX));
    assert_eq!(
        far_future.xml().unwrap_err().code(),
        "saml-time-out-of-range"
    );
}
