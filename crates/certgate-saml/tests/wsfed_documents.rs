//! WS-Federation documents checked by real peers: xmlsec1 (libxmlsec1) verifies every SAML 1.1
//! Assertion signature, alone and inside the RequestSecurityTokenResponse, and the
//! FederationMetadata signature, and rejects tampered copies; `xmllint --schema` validates
//! against the OASIS SAML 1.1 schemas (and, for the metadata, the SAML 2.0 metadata schema
//! plus a hand-written WS-Federation subset, see tests/xsd/README.md); `xmllint --exc-c14n`
//! and xmlsec1's pre-digest buffer confirm the documents are written in canonical form. The
//! WS-Federation request parser is tested on the parameters Entra ID sends.

mod common;

use common::{b64, fixture, id, tool, xsd, Fixture, NOW, VERIFICATION_TIME};

use std::path::{Path, PathBuf};

use certgate_saml::wsfed::{
    AuthenticationMethod, CertificateClaims, Claim, ClaimType, FederationMetadata, Freshness,
    Microsoft365WsFedAssertion, OfferedClaimType, RequestedAuthentication, Saml11Assertion,
    Saml2IdpRole, SignInMethod, SignInRequest, SignOutRequest, WsFedRequest,
    AUTHENTICATION_METHODS_REFERENCES, CERTIFICATE_ISSUER, CERTIFICATE_SERIAL_NUMBER, IMMUTABLE_ID,
    UPN,
};
use certgate_saml::{NameId, NameIdFormat, UnixTime, Validity};

fn validity() -> Validity {
    Validity {
        issue_instant: NOW,
        not_before: UnixTime(NOW.0 - 300),
        not_on_or_after: UnixTime(NOW.0 + 3600),
    }
}

fn claim(uri: &str, values: &[&str]) -> Claim {
    Claim {
        claim_type: ClaimType::parse(uri).unwrap(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

fn generic_assertion() -> Saml11Assertion {
    Saml11Assertion {
        id: id(1),
        issuer: "https://sts.contoso.example/adfs/services/trust".into(),
        name_identifier: NameId {
            format: NameIdFormat::EmailAddress,
            value: "alice@contoso.example".into(),
        },
        audience: "https://app.contoso.example/?realm=a&b=c".into(),
        validity: validity(),
        authentication_method: AuthenticationMethod::SslTlsCertificate,
        authentication_instant: UnixTime(NOW.0 - 5),
        claims: vec![
            claim(
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                &["alice@contoso.example"],
            ),
            claim(
                "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
                // Everything canonical escaping has to get right, in text.
                &[
                    "R&D <lab> \"quoted\" 'single'",
                    "line\r\nbreak\ttab é 𝄞",
                    "",
                ],
            ),
            // And in attribute values (AttributeNamespace / AttributeName).
            claim("urn:x:\"odd\"&<ns>\t/name\"&<", &["x"]),
        ],
    }
}

fn certificate_claims() -> CertificateClaims {
    CertificateClaims {
        serial_number: "5C00000012AB34CD".into(),
        issuer: "CN=Contoso Issuing CA, O=Contoso".into(),
    }
}

fn microsoft365_assertion(method: SignInMethod) -> Saml11Assertion {
    Microsoft365WsFedAssertion {
        id: id(2),
        issuer_uri: "http://contoso.example/adfs/services/trust".into(),
        immutable_id: "0Bq0fs7K+0WKeX9qyM/3tA==".into(),
        upn: "alice@contoso.example".into(),
        validity: validity(),
        authentication_instant: UnixTime(NOW.0 - 5),
        sign_in_method: method,
        certificate: certificate_claims(),
    }
    .into_assertion()
    .unwrap()
}

fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

impl Fixture {
    fn write(&self, name: &str, xml: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, xml).unwrap();
        path
    }

    fn xmlsec1(&self, file: &Path, node_xpath: Option<&str>, extra: &[&str]) -> (bool, String) {
        let mut command = tool("xmlsec1");
        command.args([
            "--verify",
            "--id-attr:AssertionID",
            "urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
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
        command.args(extra);
        let output = command.arg(file).output().unwrap();
        (output.status.success(), output_text(&output))
    }

    fn assert_verifies(&self, file: &Path, node_xpath: Option<&str>) {
        let (ok, log) = self.xmlsec1(file, node_xpath, &[]);
        assert!(
            ok,
            "xmlsec1 rejected {}:\n{log}\n{}",
            file.display(),
            std::fs::read_to_string(file).unwrap()
        );
    }

    /// Each tampering must break the signature as xmlsec1 sees it.
    fn assert_tampering_detected(&self, xml: &str, from: &str, to: &str, xpath: Option<&str>) {
        assert!(xml.contains(from), "{from} not in document");
        let tampered = xml.replacen(from, to, 1);
        let file = self.write("tampered.xml", &tampered);
        assert!(
            !self.xmlsec1(&file, xpath, &[]).0,
            "xmlsec1 accepted a document with {from} changed to {to}"
        );
    }
}

/// `xmllint --schema`, resolving the SAML 1.1 schemas' absolute XML-DSig import through
/// tests/xsd/catalog.xml so that nothing is fetched.
fn schema_verdict(schema: &str, file: &Path) -> (bool, String) {
    let output = tool("xmllint")
        .env("XML_CATALOG_FILES", xsd("catalog.xml"))
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd(schema))
        .arg(file)
        .output()
        .unwrap();
    (output.status.success(), output_text(&output))
}

fn assert_schema_valid(schema: &str, file: &Path) {
    let (ok, log) = schema_verdict(schema, file);
    assert!(
        ok,
        "xmllint --schema {schema} rejected {}:\n{log}",
        file.display()
    );
}

/// The schema check has teeth: a copy with `from` changed to `to` is rejected.
fn assert_schema_rejects(schema: &str, f: &Fixture, xml: &str, from: &str, to: &str) {
    assert!(xml.contains(from), "{from} not in document");
    let file = f.write("schema-negative.xml", &xml.replacen(from, to, 1));
    assert!(
        !schema_verdict(schema, &file).0,
        "xmllint --schema {schema} accepted {from} changed to {to}"
    );
}

/// libxml2's canonicalization (`--exc-c14n` or `--c14n`) of the whole document gives back
/// the same bytes.
fn assert_canonical(mode: &str, file: &Path) {
    let output = tool("xmllint")
        .args(["--nonet", mode])
        .arg(file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        std::fs::read_to_string(file).unwrap(),
        "xmllint {mode} changed the document"
    );
}

const ASSERTION_SIGNATURE: &str = "//*[local-name()='Assertion']/*[local-name()='Signature']";

#[test]
fn saml11_assertion_verifies_with_xmlsec1_matches_the_schema_and_is_canonical() {
    let f = fixture();
    let signed = generic_assertion().sign(&f.key).unwrap();
    let file = f.write("assertion.xml", signed.xml());
    f.assert_verifies(&file, None);
    assert_schema_valid("cs-sstc-schema-assertion-1.1.xsd", &file);
    assert_canonical("--exc-c14n", &file);
    for (from, to) in [
        (" MajorVersion=\"1\"", ""),
        ("<saml:ConfirmationMethod>", "<saml:ConfirmationMethods>"),
        (" AttributeNamespace=", " AttributeNamespaceX="),
    ] {
        assert_schema_rejects(
            "cs-sstc-schema-assertion-1.1.xsd",
            &f,
            signed.xml(),
            from,
            to,
        );
    }
}

#[test]
fn saml11_assertion_has_the_1_1_shape_and_its_signature_last() {
    let f = fixture();
    let xml = generic_assertion().sign(&f.key).unwrap().xml().to_owned();
    let subject = "<saml:Subject><saml:NameIdentifier Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">alice@contoso.example</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject>";
    let expected_start = format!(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" AssertionID=\"_00000000000000000000000000000001\" IssueInstant=\"2026-03-01T12:00:00Z\" Issuer=\"https://sts.contoso.example/adfs/services/trust\" MajorVersion=\"1\" MinorVersion=\"1\">\
<saml:Conditions NotBefore=\"2026-03-01T11:55:00Z\" NotOnOrAfter=\"2026-03-01T13:00:00Z\"><saml:AudienceRestrictionCondition><saml:Audience>https://app.contoso.example/?realm=a&amp;b=c</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions>\
<saml:AttributeStatement>{subject}\
<saml:Attribute AttributeName=\"emailaddress\" AttributeNamespace=\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims\"><saml:AttributeValue>alice@contoso.example</saml:AttributeValue></saml:Attribute>\
<saml:Attribute AttributeName=\"role\" AttributeNamespace=\"http://schemas.microsoft.com/ws/2008/06/identity/claims\"><saml:AttributeValue>R&amp;D &lt;lab&gt; \"quoted\" 'single'</saml:AttributeValue><saml:AttributeValue>line&#xD;\nbreak\ttab é 𝄞</saml:AttributeValue><saml:AttributeValue></saml:AttributeValue></saml:Attribute>\
<saml:Attribute AttributeName=\"name&quot;&amp;&lt;\" AttributeNamespace=\"urn:x:&quot;odd&quot;&amp;&lt;ns>&#x9;\"><saml:AttributeValue>x</saml:AttributeValue></saml:Attribute>\
</saml:AttributeStatement>\
<saml:AuthenticationStatement AuthenticationInstant=\"2026-03-01T11:59:55Z\" AuthenticationMethod=\"urn:ietf:rfc:2246\">{subject}</saml:AuthenticationStatement>\
<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">"
    );
    assert!(
        xml.starts_with(&expected_start),
        "expected\n{expected_start}\ngot\n{xml}"
    );
    assert!(xml.ends_with("</ds:Signature></saml:Assertion>"));
    assert!(xml.contains("<ds:Reference URI=\"#_00000000000000000000000000000001\">"));
}

#[test]
fn assertion_inside_the_rstr_still_verifies_and_the_rstr_has_the_ws_trust_shape() {
    let f = fixture();
    let signed = microsoft365_assertion(SignInMethod::Certificate)
        .sign(&f.key)
        .unwrap();
    let rstr = signed.request_security_token_response();
    let expected = format!(
        "<t:RequestSecurityTokenResponse xmlns:t=\"http://schemas.xmlsoap.org/ws/2005/02/trust\">\
<t:Lifetime><wsu:Created xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\">2026-03-01T12:00:00Z</wsu:Created><wsu:Expires xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\">2026-03-01T13:00:00Z</wsu:Expires></t:Lifetime>\
<wsp:AppliesTo xmlns:wsp=\"http://schemas.xmlsoap.org/ws/2004/09/policy\"><wsa:EndpointReference xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><wsa:Address>urn:federation:MicrosoftOnline</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>\
<t:RequestedSecurityToken>{}</t:RequestedSecurityToken>\
<t:TokenType>urn:oasis:names:tc:SAML:1.0:assertion</t:TokenType>\
<t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</t:RequestType>\
<t:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</t:KeyType>\
</t:RequestSecurityTokenResponse>",
        signed.xml()
    );
    assert_eq!(rstr, expected);
    let file = f.write("rstr.xml", &rstr);
    f.assert_verifies(&file, Some(ASSERTION_SIGNATURE));
    assert_canonical("--exc-c14n", &file);
    // Tampering inside the embedded Assertion breaks its signature there too.
    for (from, to) in [
        (
            "<saml:AttributeValue>alice@contoso.example<",
            "<saml:AttributeValue>mallory@contoso.example<",
        ),
        (
            "<saml:Audience>urn:federation:MicrosoftOnline<",
            "<saml:Audience>urn:evil<",
        ),
    ] {
        f.assert_tampering_detected(&rstr, from, to, Some(ASSERTION_SIGNATURE));
    }
}

#[test]
fn tampered_saml11_assertion_fails_xmlsec1() {
    let f = fixture();
    let xml = microsoft365_assertion(SignInMethod::Certificate)
        .sign(&f.key)
        .unwrap()
        .xml()
        .to_owned();
    // The untouched copy passes, so a failure below is the tampering's doing.
    f.assert_verifies(&f.write("original.xml", &xml), None);
    for (from, to) in [
        (
            "<saml:AttributeValue>alice@contoso.example<",
            "<saml:AttributeValue>mallory@contoso.example<",
        ),
        (
            "<saml:Audience>urn:federation:MicrosoftOnline<",
            "<saml:Audience>urn:evil<",
        ),
        (
            "NotOnOrAfter=\"2026-03-01T13:00:00Z\"",
            "NotOnOrAfter=\"2027-03-01T13:00:00Z\"",
        ),
        (
            "AuthenticationMethod=\"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient\"",
            "AuthenticationMethod=\"http://schemas.microsoft.com/claims/multipleauthn\"",
        ),
        (">5C00000012AB34CD<", ">5C00000012AB34CE<"),
    ] {
        f.assert_tampering_detected(&xml, from, to, None);
    }
}

#[test]
fn saml11_signature_by_another_key_fails_xmlsec1() {
    let f = fixture();
    let other = fixture();
    let xml = generic_assertion().sign(&other.key).unwrap();
    let file = f.write("other.xml", xml.xml());
    assert!(!f.xmlsec1(&file, None, &[]).0);
}

#[test]
fn microsoft365_wsfed_assertion_carries_the_entra_contract() {
    let f = fixture();
    for (method, authentication_method, methods_references) in [
        (
            SignInMethod::Certificate,
            "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient",
            "<saml:AttributeValue>http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient</saml:AttributeValue>",
        ),
        (
            SignInMethod::CertificateAndSecondFactor,
            "http://schemas.microsoft.com/claims/multipleauthn",
            "<saml:AttributeValue>http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient</saml:AttributeValue><saml:AttributeValue>http://schemas.microsoft.com/claims/multipleauthn</saml:AttributeValue>",
        ),
    ] {
        let signed = microsoft365_assertion(method).sign(&f.key).unwrap();
        let xml = signed.xml();
        for expected in [
            "Issuer=\"http://contoso.example/adfs/services/trust\"".to_owned(),
            "<saml:AudienceRestrictionCondition><saml:Audience>urn:federation:MicrosoftOnline</saml:Audience></saml:AudienceRestrictionCondition>".to_owned(),
            "<saml:NameIdentifier Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">0Bq0fs7K+0WKeX9qyM/3tA==</saml:NameIdentifier>".to_owned(),
            "<saml:Attribute AttributeName=\"UPN\" AttributeNamespace=\"http://schemas.xmlsoap.org/claims\"><saml:AttributeValue>alice@contoso.example</saml:AttributeValue></saml:Attribute>".to_owned(),
            "<saml:Attribute AttributeName=\"ImmutableID\" AttributeNamespace=\"http://schemas.microsoft.com/LiveID/Federation/2008/05\"><saml:AttributeValue>0Bq0fs7K+0WKeX9qyM/3tA==</saml:AttributeValue></saml:Attribute>".to_owned(),
            "<saml:Attribute AttributeName=\"serialnumber\" AttributeNamespace=\"http://schemas.microsoft.com/ws/2008/06/identity/claims\"><saml:AttributeValue>5C00000012AB34CD</saml:AttributeValue></saml:Attribute>".to_owned(),
            "<saml:Attribute AttributeName=\"issuer\" AttributeNamespace=\"http://schemas.microsoft.com/2012/12/certificatecontext/field\"><saml:AttributeValue>CN=Contoso Issuing CA, O=Contoso</saml:AttributeValue></saml:Attribute>".to_owned(),
            format!("<saml:Attribute AttributeName=\"authnmethodsreferences\" AttributeNamespace=\"http://schemas.microsoft.com/claims\">{methods_references}</saml:Attribute>"),
            format!("<saml:AuthenticationStatement AuthenticationInstant=\"2026-03-01T11:59:55Z\" AuthenticationMethod=\"{authentication_method}\">"),
        ] {
            assert!(xml.contains(&expected), "missing {expected}\nin {xml}");
        }
        let file = f.write("microsoft365.xml", xml);
        f.assert_verifies(&file, None);
        assert_schema_valid("cs-sstc-schema-assertion-1.1.xsd", &file);
    }
    // The constants are the claim types written above.
    for (constant, uri) in [
        (UPN, "http://schemas.xmlsoap.org/claims/UPN"),
        (
            IMMUTABLE_ID,
            "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID",
        ),
        (
            CERTIFICATE_SERIAL_NUMBER,
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber",
        ),
        (
            CERTIFICATE_ISSUER,
            "http://schemas.microsoft.com/2012/12/certificatecontext/field/issuer",
        ),
        (
            AUTHENTICATION_METHODS_REFERENCES,
            "http://schemas.microsoft.com/claims/authnmethodsreferences",
        ),
    ] {
        assert_eq!(constant, uri);
    }
}

#[test]
fn assertion_without_claims_has_no_attribute_statement_and_matches_the_schema() {
    let f = fixture();
    let mut assertion = generic_assertion();
    assertion.claims.clear();
    assertion.authentication_method = AuthenticationMethod::MultipleAuthn;
    let xml = assertion.sign(&f.key).unwrap().xml().to_owned();
    assert!(!xml.contains("AttributeStatement"));
    let file = f.write("no-claims.xml", &xml);
    f.assert_verifies(&file, None);
    assert_schema_valid("cs-sstc-schema-assertion-1.1.xsd", &file);
    // The protocol schema imports the assertion schema: a Response could carry it.
    assert_schema_valid("cs-sstc-schema-protocol-1.1.xsd", &file);
}

#[test]
fn invalid_assertions_refused_with_stable_codes() {
    let f = fixture();
    let mut no_values = generic_assertion();
    no_values.claims[0].values.clear();
    let mut empty_window = generic_assertion();
    empty_window.validity.not_on_or_after = empty_window.validity.not_before;
    let mut control_character = generic_assertion();
    control_character.claims[0].values[0] = "a\u{1}b".into();
    let mut empty_audience = generic_assertion();
    empty_audience.audience.clear();
    let mut far_future = generic_assertion();
    far_future.authentication_instant = UnixTime(i64::MAX);
    for (assertion, code) in [
        (no_values, "saml-invalid-field"),
        (empty_window, "saml-empty-validity"),
        (control_character, "saml-invalid-field"),
        (empty_audience, "saml-invalid-field"),
        (far_future, "saml-time-out-of-range"),
    ] {
        assert_eq!(assertion.sign(&f.key).unwrap_err().code(), code);
    }
    assert_eq!(
        ClaimType::parse("urn:oid:2.5.4.3").unwrap_err().code(),
        "saml11-claim-type-not-splittable"
    );
    let mut no_upn = Microsoft365WsFedAssertion {
        id: id(2),
        issuer_uri: "http://contoso.example/adfs/services/trust".into(),
        immutable_id: "abc".into(),
        upn: String::new(),
        validity: validity(),
        authentication_instant: NOW,
        sign_in_method: SignInMethod::Certificate,
        certificate: certificate_claims(),
    };
    assert_eq!(
        no_upn.clone().into_assertion().unwrap_err().code(),
        "saml-invalid-field"
    );
    no_upn.upn = "alice@contoso.example".into();
    no_upn.certificate.issuer.clear();
    assert_eq!(
        no_upn.into_assertion().unwrap_err().code(),
        "saml-invalid-field"
    );
}

fn federation_metadata(current: &[u8], next: &[u8]) -> FederationMetadata {
    FederationMetadata {
        id: id(5),
        entity_id: "http://contoso.example/adfs/services/trust".into(),
        signing_certificates: vec![current.to_vec(), next.to_vec()],
        passive_requestor_url: "https://sts.contoso.example/adfs/ls/".into(),
        claim_types_offered: vec![
            OfferedClaimType {
                uri: UPN.into(),
                display_name: "UPN".into(),
                description: Some("The user's principal name & <sign-in> name".into()),
            },
            OfferedClaimType {
                uri: IMMUTABLE_ID.into(),
                display_name: "ImmutableID".into(),
                description: None,
            },
        ],
        saml2_idp: Some(Saml2IdpRole {
            want_authn_requests_signed: false,
            sso_redirect_url: "https://sts.contoso.example/saml/sso?binding=redirect".into(),
            sso_post_url: "https://sts.contoso.example/saml/sso".into(),
            slo_redirect_url: "https://sts.contoso.example/saml/slo".into(),
            name_id_formats: vec![NameIdFormat::Persistent],
        }),
        valid_until: Some(UnixTime(NOW.0 + 7 * 86_400)),
    }
}

/// The URI the `fed` prefix is bound to on the RoleDescriptor, as libxml2 resolves it in the
/// served (signed) document.
fn fed_binding_on_role_descriptor(file: &Path) -> String {
    let output = tool("xmllint")
        .args([
            "--nonet",
            "--xpath",
            "string(//*[local-name()='RoleDescriptor']/namespace::*[name()='fed'])",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn federation_metadata_has_the_sts_role_and_matches_the_schemas() {
    let f = fixture();
    let next = fixture();
    let xml = federation_metadata(f.key.certificate_der(), next.key.certificate_der())
        .xml()
        .unwrap();
    let key_descriptors: String = [f.key.certificate_der(), next.key.certificate_der()]
        .iter()
        .map(|der| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                b64(der)
            )
        })
        .collect();
    let expected_start = format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ID=\"_00000000000000000000000000000005\" entityID=\"http://contoso.example/adfs/services/trust\" validUntil=\"2026-03-08T12:00:00Z\">\
<md:RoleDescriptor xmlns:fed=\"http://docs.oasis-open.org/wsfed/federation/200706\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" protocolSupportEnumeration=\"http://docs.oasis-open.org/wsfed/federation/200706\" xsi:type=\"fed:SecurityTokenServiceType\">\
{key_descriptors}\
<fed:TokenTypesOffered><fed:TokenType Uri=\"urn:oasis:names:tc:SAML:1.0:assertion\"></fed:TokenType></fed:TokenTypesOffered>\
<fed:ClaimTypesOffered>\
<auth:ClaimType xmlns:auth=\"http://docs.oasis-open.org/wsfed/authorization/200706\" Optional=\"true\" Uri=\"http://schemas.xmlsoap.org/claims/UPN\"><auth:DisplayName>UPN</auth:DisplayName><auth:Description>The user's principal name &amp; &lt;sign-in&gt; name</auth:Description></auth:ClaimType>\
<auth:ClaimType xmlns:auth=\"http://docs.oasis-open.org/wsfed/authorization/200706\" Optional=\"true\" Uri=\"http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID\"><auth:DisplayName>ImmutableID</auth:DisplayName></auth:ClaimType>\
</fed:ClaimTypesOffered>\
<fed:SecurityTokenServiceEndpoint><wsa:EndpointReference xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><wsa:Address>https://sts.contoso.example/adfs/ls/</wsa:Address></wsa:EndpointReference></fed:SecurityTokenServiceEndpoint>\
<fed:PassiveRequestorEndpoint><wsa:EndpointReference xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><wsa:Address>https://sts.contoso.example/adfs/ls/</wsa:Address></wsa:EndpointReference></fed:PassiveRequestorEndpoint>\
</md:RoleDescriptor>\
<md:IDPSSODescriptor WantAuthnRequestsSigned=\"false\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{key_descriptors}"
    );
    assert!(
        xml.starts_with(&expected_start),
        "expected\n{expected_start}\ngot\n{xml}"
    );
    let file = f.write("federation-metadata.xml", &xml);
    assert_schema_valid("wsfed-metadata-subset.xsd", &file);
    // Inclusive c14n keeps every declaration where it is written: none is redundant.
    assert_canonical("--c14n", &file);
    assert_eq!(
        fed_binding_on_role_descriptor(&file),
        "http://docs.oasis-open.org/wsfed/federation/200706"
    );
    // The schema resolves the xsi:type QName and checks the role's content against it.
    for (from, to) in [
        ("fed:SecurityTokenServiceType", "fed:NoSuchType"),
        (
            "<fed:SecurityTokenServiceEndpoint>",
            "<fed:SecurityTokenServiceEndpointX>",
        ),
    ] {
        assert_schema_rejects("wsfed-metadata-subset.xsd", &f, &xml, from, to);
    }

    // Without the SAML 2.0 role and the offered claims, the STS role stands alone.
    let mut sts_only = federation_metadata(f.key.certificate_der(), next.key.certificate_der());
    sts_only.saml2_idp = None;
    sts_only.claim_types_offered.clear();
    sts_only.valid_until = None;
    let xml = sts_only.xml().unwrap();
    assert!(!xml.contains("IDPSSODescriptor"));
    assert!(!xml.contains("ClaimTypesOffered"));
    assert_schema_valid("wsfed-metadata-subset.xsd", &f.write("sts-only.xml", &xml));
}

#[test]
fn signed_federation_metadata_verifies_keeps_fed_bound_and_tampering_fails() {
    let f = fixture();
    let next = fixture();
    let metadata = federation_metadata(f.key.certificate_der(), next.key.certificate_der());
    let unsigned = metadata.xml().unwrap();
    let xml = metadata.sign(&f.key).unwrap();
    let start_tag_end = xml.find('>').unwrap() + 1;
    assert!(xml[start_tag_end..].starts_with("<ds:Signature xmlns:ds="));
    assert!(xml.contains(
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"fed\"></ec:InclusiveNamespaces></ds:Transform>"
    ));
    let file = f.write("federation-metadata.xml", &xml);
    f.assert_verifies(&file, None);
    assert_schema_valid("wsfed-metadata-subset.xsd", &file);
    assert_canonical("--c14n", &file);
    assert_eq!(
        fed_binding_on_role_descriptor(&file),
        "http://docs.oasis-open.org/wsfed/federation/200706"
    );

    // What xmlsec1 digested (exc-c14n with the PrefixList, after the enveloped transform) is
    // exactly the unsigned document: the served bytes are their own canonical form.
    let (ok, log) = f.xmlsec1(&file, None, &["--store-references"]);
    assert!(ok, "{log}");
    assert!(
        log.contains(&unsigned),
        "xmlsec1's pre-digest buffer is not the unsigned document:\n{log}"
    );

    for (from, to) in [
        (
            "<wsa:Address>https://sts.contoso.example/adfs/ls/<",
            "<wsa:Address>https://evil.example/adfs/ls/<",
        ),
        (
            // Rebinding the prefix the xsi:type value uses must break the signature: that is
            // what listing `fed` in the PrefixList buys.
            "<md:RoleDescriptor xmlns:fed=\"http://docs.oasis-open.org/wsfed/federation/200706\"",
            "<md:RoleDescriptor xmlns:fed=\"urn:evil\"",
        ),
        (
            "xsi:type=\"fed:SecurityTokenServiceType\"",
            "xsi:type=\"fed:ApplicationServiceType\"",
        ),
        (
            b64(next.key.certificate_der()).as_str(),
            &b64(f.key.certificate_der()),
        ),
        ("PrefixList=\"fed\"", "PrefixList=\"\""),
    ] {
        f.assert_tampering_detected(&xml, from, to, None);
    }
}

#[test]
fn invalid_federation_metadata_refused() {
    let f = fixture();
    let der = f.key.certificate_der();
    let mut no_certificates = federation_metadata(der, der);
    no_certificates.signing_certificates.clear();
    let mut no_endpoint = federation_metadata(der, der);
    no_endpoint.passive_requestor_url.clear();
    let mut empty_display_name = federation_metadata(der, der);
    empty_display_name.claim_types_offered[0]
        .display_name
        .clear();
    let mut bad_saml2_role = federation_metadata(der, der);
    if let Some(role) = bad_saml2_role.saml2_idp.as_mut() {
        role.sso_post_url = "https://a\u{1}".into();
    }
    for metadata in [
        no_certificates,
        no_endpoint,
        empty_display_name,
        bad_saml2_role,
    ] {
        assert_eq!(metadata.xml().unwrap_err().code(), "saml-invalid-field");
        assert_eq!(
            metadata.sign(&f.key).unwrap_err().code(),
            "saml-invalid-field"
        );
    }
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn sign_in(extra: &[(&str, &str)]) -> Result<SignInRequest, String> {
    let mut pairs = vec![
        ("wa", "wsignin1.0"),
        ("wtrealm", "urn:federation:MicrosoftOnline"),
    ];
    pairs.extend_from_slice(extra);
    match WsFedRequest::parse(&query(&pairs)) {
        Ok(WsFedRequest::SignIn(request)) => Ok(request),
        Ok(other) => panic!("not a sign-in: {other:?}"),
        Err(e) => Err(e.code().to_owned()),
    }
}

#[test]
fn entra_sign_in_request_parses() {
    // What Entra ID sends with promptLoginBehavior = TranslateToFreshPasswordAuth.
    let wctx = format!(
        "LoginOptions=3&estsredirect=2&estsrequest={}",
        "rQQIARAAlZE9aNNQFIWTNEm1FlpF0EFKBUHQnJf3k_eTQGgrbSGWLIKDU_peXu2zTV7N",
    );
    let request = WsFedRequest::parse(&query(&[
        ("client-request-id", "6d2f1c8e-0000-0000-0000-000000000000"),
        ("wa", "wsignin1.0"),
        ("wtrealm", "urn:federation:MicrosoftOnline"),
        ("wctx", &wctx),
        ("wct", "2026-03-01T11:59:58Z"),
        ("wreply", "https://login.microsoftonline.com/login.srf"),
        (
            "wauth",
            "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
        ),
        ("wfresh", "0"),
        ("whr", "contoso.example"),
        ("username", "alice@contoso.example"),
    ]))
    .unwrap();
    let WsFedRequest::SignIn(request) = request else {
        panic!("not a sign-in: {request:?}");
    };
    let freshness = request.freshness;
    assert!(freshness.is_some_and(Freshness::requires_new_sign_in));
    assert_eq!(
        request,
        SignInRequest {
            realm: "urn:federation:MicrosoftOnline".into(),
            reply: Some("https://login.microsoftonline.com/login.srf".into()),
            context: Some(wctx),
            requestor_time: Some(UnixTime(NOW.0 - 2)),
            requested_authentication: Some(RequestedAuthentication::Password),
            freshness,
            home_realm: Some("contoso.example".into()),
        }
    );
}

#[test]
fn wfresh_zero_requires_a_new_sign_in() {
    let request = sign_in(&[("wfresh", "0")]).unwrap();
    let freshness = request.freshness.unwrap();
    assert!(freshness.requires_new_sign_in());
    assert_eq!(freshness.max_age_minutes(), 0);
    let request = sign_in(&[("wfresh", "60")]).unwrap();
    assert!(!request.freshness.unwrap().requires_new_sign_in());
    assert_eq!(request.freshness.unwrap().max_age_minutes(), 60);
    assert_eq!(sign_in(&[]).unwrap().freshness, None);
    for bad in ["-1", "1.5", "ten", " 5", "99999999999"] {
        assert_eq!(
            sign_in(&[("wfresh", bad)]).unwrap_err(),
            "wsfed-parameter-invalid",
            "{bad}"
        );
    }
}

#[test]
fn every_wauth_class_is_recognized() {
    let cases = [
        (
            "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient",
            RequestedAuthentication::Certificate,
        ),
        (
            "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/x509",
            RequestedAuthentication::Certificate,
        ),
        ("urn:ietf:rfc:2246", RequestedAuthentication::Certificate),
        (
            "urn:oasis:names:tc:SAML:1.0:am:X509-PKI",
            RequestedAuthentication::Certificate,
        ),
        (
            "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient",
            RequestedAuthentication::Certificate,
        ),
        (
            "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
            RequestedAuthentication::Certificate,
        ),
        (
            "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
            RequestedAuthentication::Password,
        ),
        (
            "urn:oasis:names:tc:SAML:1.0:am:password",
            RequestedAuthentication::Password,
        ),
        (
            "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
            RequestedAuthentication::Password,
        ),
        (
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
            RequestedAuthentication::Password,
        ),
        (
            "http://schemas.microsoft.com/claims/multipleauthn",
            RequestedAuthentication::MultiFactor,
        ),
        (
            "urn:federation:authentication:windows",
            RequestedAuthentication::Other("urn:federation:authentication:windows".into()),
        ),
        (
            "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/kerberos",
            RequestedAuthentication::Other(
                "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/kerberos"
                    .into(),
            ),
        ),
        // URIs compare exactly.
        (
            "urn:oasis:names:tc:SAML:2.0:ac:classes:tlsclient",
            RequestedAuthentication::Other(
                "urn:oasis:names:tc:SAML:2.0:ac:classes:tlsclient".into(),
            ),
        ),
    ];
    for (uri, class) in cases {
        assert_eq!(RequestedAuthentication::classify(uri), class, "{uri}");
        assert_eq!(
            sign_in(&[("wauth", uri)]).unwrap().requested_authentication,
            Some(class),
            "{uri}"
        );
    }
    assert_eq!(
        sign_in(&[("wauth", "password")]).unwrap_err(),
        "wsfed-parameter-invalid"
    );
}

#[test]
fn bad_wct_refused() {
    assert_eq!(
        sign_in(&[("wct", "2026-03-01T12:00:00Z")])
            .unwrap()
            .requestor_time,
        Some(NOW)
    );
    for bad in [
        "2026-03-01T12:00:00",
        "2026-03-01 12:00:00Z",
        "1772366400",
        "2026-02-30T12:00:00Z",
        "2026-03-01T25:00:00Z",
        "yesterday",
    ] {
        assert_eq!(
            sign_in(&[("wct", bad)]).unwrap_err(),
            "wsfed-parameter-invalid",
            "{bad}"
        );
    }
}

#[test]
fn duplicated_parameters_refused() {
    for parameter in [
        "wa", "wtrealm", "wreply", "wctx", "wct", "wauth", "wfresh", "whr",
    ] {
        let mut pairs = vec![
            ("wa", "wsignin1.0"),
            ("wtrealm", "urn:federation:MicrosoftOnline"),
        ];
        let value = match parameter {
            "wa" => "wsignin1.0",
            "wct" => "2026-03-01T12:00:00Z",
            "wfresh" => "0",
            _ => "urn:x",
        };
        pairs.push((parameter, value));
        if !matches!(parameter, "wa" | "wtrealm") {
            pairs.push((parameter, value));
        }
        let error = WsFedRequest::parse(&query(&pairs)).unwrap_err();
        assert_eq!(error.code(), "wsfed-parameter-duplicated", "{parameter}");
        assert!(error.to_string().contains(parameter));
    }
    // An empty copy still counts: which one a proxy would keep is unknowable.
    assert_eq!(
        sign_in(&[("wreply", ""), ("wreply", "https://evil.example/")]).unwrap_err(),
        "wsfed-parameter-duplicated"
    );
}

#[test]
fn oversized_parameters_refused() {
    let long_uri = format!("https://a.example/{}", "x".repeat(1024));
    for parameter in ["wreply", "wauth", "whr"] {
        assert_eq!(
            sign_in(&[(parameter, long_uri.as_str())]).unwrap_err(),
            "wsfed-parameter-too-long",
            "{parameter}"
        );
    }
    let long_realm =
        WsFedRequest::parse(&query(&[("wa", "wsignin1.0"), ("wtrealm", &long_uri)])).unwrap_err();
    assert_eq!(long_realm.code(), "wsfed-parameter-too-long");
    // wctx has more room (Entra's carries its own request), but not unlimited.
    assert!(sign_in(&[("wctx", &"c".repeat(4096))]).is_ok());
    assert_eq!(
        sign_in(&[("wctx", &"c".repeat(4097))]).unwrap_err(),
        "wsfed-parameter-too-long"
    );
}

#[test]
fn unknown_or_missing_action_and_missing_realm_refused() {
    for (pairs, code) in [
        (vec![("wa", "wsignin2.0")], "wsfed-unknown-action"),
        (vec![("wa", "wattr1.0")], "wsfed-unknown-action"),
        (vec![("wa", "WSIGNIN1.0")], "wsfed-unknown-action"),
        (vec![("wtrealm", "urn:x")], "wsfed-parameter-missing"),
        (vec![("wa", "")], "wsfed-parameter-missing"),
        (vec![("wa", "wsignin1.0")], "wsfed-parameter-missing"),
        (
            vec![("wa", "wsignin1.0"), ("wtrealm", "")],
            "wsfed-parameter-missing",
        ),
        (
            vec![("wa", "wsignin1.0"), ("wtrealm", "not a uri")],
            "wsfed-parameter-invalid",
        ),
        (
            vec![("wa", "wsignin1.0"), ("wtrealm", "urn:x\u{0}")],
            "wsfed-parameter-invalid",
        ),
    ] {
        assert_eq!(
            WsFedRequest::parse(&query(&pairs)).unwrap_err().code(),
            code,
            "{pairs:?}"
        );
    }
}

#[test]
fn sign_out_and_cleanup_parse_with_their_reply() {
    assert_eq!(
        WsFedRequest::parse(&query(&[
            ("wa", "wsignout1.0"),
            ("wreply", "https://login.microsoftonline.com/logout.srf"),
        ]))
        .unwrap(),
        WsFedRequest::SignOut(SignOutRequest {
            reply: Some("https://login.microsoftonline.com/logout.srf".into())
        })
    );
    assert_eq!(
        WsFedRequest::parse(&query(&[("wa", "wsignoutcleanup1.0")])).unwrap(),
        WsFedRequest::SignOutCleanup(SignOutRequest { reply: None })
    );
    assert_eq!(
        WsFedRequest::parse(&query(&[("wa", "wsignout1.0"), ("wreply", "/relative")]))
            .unwrap_err()
            .code(),
        "wsfed-parameter-invalid"
    );
}
