//! What service providers send, produced by real peers and read by certgate: AuthnRequests
//! signed by xmlsec1 (HTTP-POST) and Redirect-binding queries signed by `openssl dgst`, with
//! every way a signature must fail; LogoutResponses checked by `openssl dgst -verify`,
//! `xmllint --schema` and `xmllint --exc-c14n`; the canonicalizer compared with libxml2's;
//! hostile input; SP metadata. scripts/setup.sh installs xmlsec1 and xmllint.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_ca::{create_hierarchy, HierarchyRequest, KeyAlgorithm};
use certgate_saml::{
    exclusive_canonical_form, AuthnContextComparison, AuthnRequest, LogoutRequest, LogoutResponse,
    MessageId, SigningKey, SpMetadata, StatusCode, UnixTime,
};
use tempfile::TempDir;
use time::OffsetDateTime;

/// 2026-03-01T12:00:00Z.
const NOW: UnixTime = UnixTime(1_772_366_400);
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

struct Signer {
    key_pem: PathBuf,
    certificate_pem: PathBuf,
    certificate_der: Vec<u8>,
    pkcs8_der: Vec<u8>,
}

struct Fixture {
    dir: TempDir,
    rsa: Signer,
    other_rsa: Signer,
    ecdsa: Signer,
}

fn signer(dir: &Path, name: &str, key_algorithm: KeyAlgorithm) -> Signer {
    let hierarchy = create_hierarchy(
        &HierarchyRequest {
            organization: "Fabrikam".into(),
            root_common_name: format!("Fabrikam SP signing {name}"),
            issuing_common_name: "Fabrikam unused issuing CA".into(),
            key_algorithm,
            root_validity_days: 3650,
            issuing_validity_days: 30,
            root_crl_url: None,
            root_certificate_url: None,
        },
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap(),
    )
    .unwrap();
    let root = hierarchy.root;
    let key_pem = dir.join(format!("{name}-key.pem"));
    let certificate_pem = dir.join(format!("{name}-cert.pem"));
    std::fs::write(&key_pem, pem("PRIVATE KEY", &root.private_key_pkcs8_der())).unwrap();
    std::fs::write(&certificate_pem, pem("CERTIFICATE", root.certificate_der())).unwrap();
    Signer {
        key_pem,
        certificate_pem,
        certificate_der: root.certificate_der().to_vec(),
        pkcs8_der: root.private_key_pkcs8_der().to_vec(),
    }
}

fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let rsa = signer(dir.path(), "rsa", KeyAlgorithm::Rsa2048);
    let other_rsa = signer(dir.path(), "other", KeyAlgorithm::Rsa2048);
    let ecdsa = signer(dir.path(), "ecdsa", KeyAlgorithm::EcdsaP256);
    Fixture {
        dir,
        rsa,
        other_rsa,
        ecdsa,
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn tool(name: &str) -> Command {
    let probe = Command::new(name).arg("--version").output();
    assert!(
        probe.is_ok(),
        "{name} is not installed; scripts/setup.sh installs it (Debian packages xmlsec1, libxml2-utils, openssl)"
    );
    Command::new(name)
}

fn run(command: &mut Command) -> Vec<u8> {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

impl Fixture {
    fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// xmlsec1 fills in the signature template of `template`.
    fn xmlsec_sign(&self, signer: &Signer, template: &str) -> String {
        let input = self.write("template.xml", template.as_bytes());
        let mut key = signer.key_pem.clone().into_os_string();
        key.push(",");
        key.push(&signer.certificate_pem);
        let out = run(tool("xmlsec1")
            .args(["--sign", "--privkey-pem"])
            .arg(key)
            .args([
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest",
            ])
            .arg(input));
        String::from_utf8(out).unwrap()
    }

    /// `openssl dgst -sha256 -sign` over `octets`.
    fn openssl_sign(&self, signer: &Signer, octets: &str) -> Vec<u8> {
        let input = self.write("octets.txt", octets.as_bytes());
        run(tool("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&signer.key_pem)
            .arg(input))
    }
}

/// An AuthnRequest with a signature template, pretty-printed, with the things exclusive
/// C14N must get right: a default namespace on an extension, an escaped attribute value, a
/// character reference, a namespace declared but not used.
fn authn_request_template(id: &str, signature_method: &str, transform_prefix_list: bool) -> String {
    let exc_transform = if transform_prefix_list {
        r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="saml xs"/></ds:Transform>"#
    } else {
        r#"<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#
    };
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema"
    ID="{id}" Version="2.0" IssueInstant="2026-03-01T12:00:00Z"
    Destination="https://idp.contoso.example/saml/sso"
    AssertionConsumerServiceURL="https://sp.fabrikam.example/acs?a=1&amp;b=&quot;2&quot;"
    ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" IsPassive="false">
  <saml:Issuer>https://sp.fabrikam.example/metadata</saml:Issuer>
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      <ds:SignatureMethod Algorithm="{signature_method}"/>
      <ds:Reference URI="#{id}">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          {exc_transform}
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue></ds:DigestValue>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue></ds:SignatureValue>
    <ds:KeyInfo><ds:X509Data/></ds:KeyInfo>
  </ds:Signature>
  <samlp:Extensions><ext xmlns="urn:fabrikam:ext" note="tab&#9;and&#10;newline">R&amp;D &lt;lab&gt; &#xE9;</ext></samlp:Extensions>
  <samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="true"/>
  <samlp:RequestedAuthnContext Comparison="exact">
    <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml:AuthnContextClassRef>
  </samlp:RequestedAuthnContext>
</samlp:AuthnRequest>
"##
    )
}

fn post(xml: &str) -> String {
    STANDARD.encode(xml)
}

fn code_of<T: std::fmt::Debug>(result: Result<T, certgate_saml::SamlError>) -> &'static str {
    match result {
        Ok(value) => panic!("accepted: {value:?}"),
        Err(e) => e.code(),
    }
}

#[test]
fn post_request_signed_by_xmlsec1_verifies_with_the_right_certificate_only() {
    let f = fixture();
    let signed = f.xmlsec_sign(&f.rsa, &authn_request_template("_req1", RSA_SHA256, false));
    let received = AuthnRequest::from_post(&post(&signed), Some("state-1")).unwrap();
    assert!(received.is_signed());
    assert_eq!(received.relay_state(), Some("state-1"));
    received
        .verify_signature(&[
            f.other_rsa.certificate_der.clone(),
            f.rsa.certificate_der.clone(),
        ])
        .unwrap();
    let request = received.message();
    assert_eq!(request.id.as_str(), "_req1");
    assert_eq!(request.issue_instant, NOW);
    assert_eq!(request.issuer, "https://sp.fabrikam.example/metadata");
    assert_eq!(
        request.acs_url.as_deref(),
        Some("https://sp.fabrikam.example/acs?a=1&b=\"2\"")
    );
    assert_eq!(
        request.requested_authn_context.as_ref().unwrap().comparison,
        AuthnContextComparison::Exact
    );

    assert_eq!(
        code_of(received.verify_signature(std::slice::from_ref(&f.other_rsa.certificate_der))),
        "saml-signature-invalid"
    );
    assert_eq!(
        code_of(received.verify_signature(&[])),
        "saml-no-trusted-certificate"
    );
    // An ECDSA certificate cannot verify an RSA signature, and is not tried.
    assert_eq!(
        code_of(received.verify_signature(std::slice::from_ref(&f.ecdsa.certificate_der))),
        "saml-signature-invalid"
    );
}

#[test]
fn inclusive_namespaces_prefix_list_and_ecdsa_verify() {
    let f = fixture();
    let signed = f.xmlsec_sign(&f.rsa, &authn_request_template("_req2", RSA_SHA256, true));
    AuthnRequest::from_post(&post(&signed), None)
        .unwrap()
        .verify_signature(std::slice::from_ref(&f.rsa.certificate_der))
        .unwrap();

    // xmlsec1 writes XML-DSig ECDSA signatures as r || s, which is what certgate reads.
    let signed = f.xmlsec_sign(
        &f.ecdsa,
        &authn_request_template("_req3", ECDSA_SHA256, false),
    );
    let received = AuthnRequest::from_post(&post(&signed), None).unwrap();
    received
        .verify_signature(&[
            f.rsa.certificate_der.clone(),
            f.ecdsa.certificate_der.clone(),
        ])
        .unwrap();
}

#[test]
fn tampered_unsigned_sha1_and_wrapped_requests_fail_with_distinct_codes() {
    let f = fixture();
    let trusted = [f.rsa.certificate_der.clone()];
    let signed = f.xmlsec_sign(&f.rsa, &authn_request_template("_req1", RSA_SHA256, false));
    let verify = |xml: &str| {
        AuthnRequest::from_post(&post(xml), None).and_then(|r| r.verify_signature(&trusted))
    };
    verify(&signed).unwrap();

    let attribute_changed = signed.replace(
        "https://sp.fabrikam.example/acs?",
        "https://evil.example/acs?",
    );
    assert_ne!(attribute_changed, signed);
    assert_eq!(code_of(verify(&attribute_changed)), "saml-digest-mismatch");

    let text_changed = signed.replace(
        "<saml:Issuer>https://sp.fabrikam.example/metadata",
        "<saml:Issuer>https://sp.fabrikam.example/metadata<!-- a comment is not content -->x",
    );
    assert_eq!(code_of(verify(&text_changed)), "saml-digest-mismatch");

    // A comment changes nothing the signature covers: still valid, and the Issuer is read
    // whole (not cut at the comment).
    let commented = signed.replace(
        "<saml:Issuer>https://sp.fabrikam.example/",
        "<saml:Issuer>https://sp.fabrikam.example/<!-- c -->",
    );
    verify(&commented).unwrap();

    let start = signed.find("<ds:Signature").unwrap();
    let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let unsigned = format!("{}{}", &signed[..start], &signed[end..]);
    let received = AuthnRequest::from_post(&post(&unsigned), None).unwrap();
    assert!(!received.is_signed());
    assert_eq!(
        code_of(received.verify_signature(&trusted)),
        "saml-signature-missing"
    );

    let sha1 = f.xmlsec_sign(&f.rsa, &authn_request_template("_req1", RSA_SHA1, false));
    assert!(sha1.contains(RSA_SHA1));
    assert_eq!(code_of(verify(&sha1)), "saml-signature-algorithm-refused");

    // Wrapping 1: the signed request inside the extensions of a new, unsigned root.
    let body = signed.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let evil_root = |id: &str, signature: &str| {
        format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="2026-03-01T12:00:00Z" AssertionConsumerServiceURL="https://evil.example/acs"><saml:Issuer>https://sp.fabrikam.example/metadata</saml:Issuer>{signature}<samlp:Extensions>{body}</samlp:Extensions></samlp:AuthnRequest>"#
        )
    };
    let wrapped = evil_root("_evil", "");
    assert_eq!(code_of(verify(&wrapped)), "saml-signature-missing");
    // Wrapping 2: the same, with the genuine Signature copied onto the new root.
    let signature = &signed[start..end];
    assert_eq!(
        code_of(verify(&evil_root("_evil", signature))),
        "saml-signature-reference-mismatch"
    );
    // Wrapping 3: the new root takes the signed request's ID.
    assert_eq!(
        code_of(verify(&evil_root("_req1", signature))),
        "saml-duplicate-id"
    );
}

/// `SAMLRequest=…&RelayState=…&SigAlg=…` signed by openssl, as an SP would send it.
fn signed_redirect_query(
    f: &Fixture,
    signer: &Signer,
    xml: &str,
    relay_state: Option<&str>,
) -> String {
    // The SP's own deflate: python's zlib with raw DEFLATE (wbits=-15), as SP libraries do.
    let deflated = run(tool("python3").args([
        "-c",
        "import sys,zlib; c=zlib.compressobj(9, zlib.DEFLATED, -15); sys.stdout.buffer.write(c.compress(sys.stdin.buffer.read())+c.flush())",
    ]).stdin(std::fs::File::open(f.write("request.xml", xml.as_bytes())).unwrap()));
    let mut octets = format!("SAMLRequest={}", url_encode(&STANDARD.encode(deflated)));
    if let Some(relay_state) = relay_state {
        octets.push_str(&format!("&RelayState={}", url_encode(relay_state)));
    }
    octets.push_str(&format!("&SigAlg={}", url_encode(RSA_SHA256)));
    let signature = f.openssl_sign(signer, &octets);
    format!(
        "{octets}&Signature={}",
        url_encode(&STANDARD.encode(signature))
    )
}

/// Lowercase hex, as some SP libraries write it: the signature covers the octets as sent,
/// so certgate must not re-encode.
fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                char::from(b).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

const REDIRECT_REQUEST: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="ONELOGIN_4fee3b046395c4e751011e97f8900b5273d56685" Version="2.0" IssueInstant="2026-03-01T12:00:00Z" Destination="https://idp.contoso.example/saml/sso" AssertionConsumerServiceIndex="2"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sp.fabrikam.example/metadata</saml:Issuer></samlp:AuthnRequest>"#;

#[test]
fn redirect_request_signed_by_openssl_verifies_and_a_changed_relay_state_fails() {
    let f = fixture();
    let trusted = [f.rsa.certificate_der.clone()];
    let query = signed_redirect_query(&f, &f.rsa, REDIRECT_REQUEST, Some("/app?x=1 & y"));
    let received = AuthnRequest::from_redirect(&query).unwrap();
    assert_eq!(received.relay_state(), Some("/app?x=1 & y"));
    assert_eq!(received.message().acs_index, Some(2));
    received.verify_signature(&trusted).unwrap();
    assert_eq!(
        code_of(received.verify_signature(std::slice::from_ref(&f.other_rsa.certificate_der))),
        "saml-signature-invalid"
    );

    let changed = query.replace("RelayState=%2fapp", "RelayState=%2fevil");
    assert_ne!(changed, query);
    assert_eq!(
        code_of(
            AuthnRequest::from_redirect(&changed)
                .unwrap()
                .verify_signature(&trusted)
        ),
        "saml-signature-invalid"
    );
    // Re-encoding a value (same decoded text, other octets) also breaks the signature.
    let reencoded = query.replace("RelayState=%2fapp", "RelayState=%2Fapp");
    assert_eq!(
        code_of(
            AuthnRequest::from_redirect(&reencoded)
                .unwrap()
                .verify_signature(&trusted)
        ),
        "saml-signature-invalid"
    );

    let duplicated = format!("{query}&RelayState=other");
    assert_eq!(
        code_of(AuthnRequest::from_redirect(&duplicated)),
        "saml-query-parameter-duplicated"
    );

    let unsigned = query.split("&SigAlg=").next().unwrap();
    let received = AuthnRequest::from_redirect(unsigned).unwrap();
    assert!(!received.is_signed());
    assert_eq!(
        code_of(received.verify_signature(&trusted)),
        "saml-signature-missing"
    );

    let sha1 = query.replace(&url_encode(RSA_SHA256), &url_encode(RSA_SHA1));
    assert_eq!(
        code_of(
            AuthnRequest::from_redirect(&sha1)
                .unwrap()
                .verify_signature(&trusted)
        ),
        "saml-signature-algorithm-refused"
    );

    let long = signed_redirect_query(&f, &f.rsa, REDIRECT_REQUEST, Some(&"r".repeat(81)));
    assert_eq!(
        code_of(AuthnRequest::from_redirect(&long)),
        "saml-relay-state-too-long"
    );
}

const LOGOUT_REQUEST: &str = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_lo1" Version="2.0" IssueInstant="2026-03-01T12:00:00Z" Destination="https://idp.contoso.example/saml/slo"><saml:Issuer>https://sp.fabrikam.example/metadata</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@contoso.example</saml:NameID><samlp:SessionIndex>_session-1</samlp:SessionIndex></samlp:LogoutRequest>"#;

#[test]
fn logout_request_by_redirect_verifies_and_the_logout_response_passes_openssl_and_xmllint() {
    let f = fixture();
    let query = signed_redirect_query(&f, &f.rsa, LOGOUT_REQUEST, Some("rs"));
    let received = LogoutRequest::from_redirect(&query).unwrap();
    received
        .verify_signature(std::slice::from_ref(&f.rsa.certificate_der))
        .unwrap();
    let request = received.message();
    assert_eq!(request.name_id.value, "alice@contoso.example");
    assert_eq!(request.session_indexes, vec!["_session-1"]);
    assert_eq!(
        code_of(AuthnRequest::from_redirect(&query)),
        "saml-unexpected-message"
    );

    // certgate answers; the IdP key is the "rsa" signer here.
    let key =
        SigningKey::from_pkcs8_and_certificate(&f.rsa.pkcs8_der, &f.rsa.certificate_der).unwrap();
    let response = LogoutResponse {
        id: MessageId::parse("_0123456789abcdef0123456789abcdef").unwrap(),
        in_response_to: request.id.as_str().to_owned(),
        issue_instant: NOW,
        destination: "https://sp.fabrikam.example/slo?x=1&y=2".into(),
        issuer: "https://idp.contoso.example/saml".into(),
        status: StatusCode::Success,
        second_level_status: None,
    };
    let query = response
        .redirect_query(received.relay_state(), &key)
        .unwrap();
    let (octets, signature) = query.split_once("&Signature=").unwrap();
    assert!(octets.starts_with("SAMLResponse="));
    assert!(octets.ends_with(
        "&RelayState=rs&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"
    ));
    let signature = STANDARD.decode(percent_decode(signature)).unwrap();
    let public_key = run(tool("openssl")
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(&f.rsa.certificate_pem));
    let public_key = f.write("pub.pem", &public_key);
    let signature_file = f.write("sig.bin", &signature);
    let octets_file = f.write("octets.txt", octets.as_bytes());
    run(tool("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public_key)
        .arg("-signature")
        .arg(signature_file)
        .arg(octets_file));

    let message = octets
        .strip_prefix("SAMLResponse=")
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let deflated = STANDARD.decode(percent_decode(message)).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::DeflateDecoder::new(&deflated[..]),
        &mut xml,
    )
    .unwrap();
    assert_eq!(xml, response.xml().unwrap());
    assert!(xml.contains("InResponseTo=\"_lo1\""));
    let file = f.write("logout-response.xml", xml.as_bytes());
    run(tool("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd("saml-schema-protocol-2.0.xsd"))
        .arg(&file));
    let canonical = run(tool("xmllint").args(["--nonet", "--exc-c14n"]).arg(&file));
    assert_eq!(String::from_utf8(canonical).unwrap(), xml);

    let partial = LogoutResponse {
        status: StatusCode::Responder,
        second_level_status: Some("urn:oasis:names:tc:SAML:2.0:status:PartialLogout".into()),
        ..response
    };
    let file = f.write("partial.xml", partial.xml().unwrap().as_bytes());
    run(tool("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd("saml-schema-protocol-2.0.xsd"))
        .arg(&file));
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn xsd(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/xsd")
        .join(name)
}

#[test]
fn canonical_form_matches_xmllint_exc_c14n() {
    let f = fixture();
    let documents = [
        // Redeclared prefixes, a prefix rebound to another URI, an unused declaration.
        r#"<a:root xmlns:a="urn:a" xmlns:b="urn:b" xmlns:unused="urn:u"><a:x xmlns:a="urn:a"><b:y/></a:x><a:z xmlns:a="urn:a2"><a:w/></a:z></a:root>"#,
        // A prefix rebound on a child while another prefix takes the old URI.
        r#"<a:r xmlns:a="urn:a"><a:c xmlns:a="urn:b" xmlns:b="urn:a"><b:d a:x="1" b:y="2"/></a:c></a:r>"#,
        // The default namespace stays in effect through a prefixed element that renders none.
        r#"<r xmlns="urn:x"><p:s xmlns:p="urn:p"><t/><p:u xmlns=""><v/></p:u></p:s></r>"#,
        // Default namespace, undeclared again, declared again.
        r#"<root xmlns="urn:d" xmlns:p="urn:p"><child><p:x/><plain xmlns=""><deep xmlns="urn:d"/></plain></child></root>"#,
        // Prefixed attributes, sorting by namespace URI then local name, xml:lang.
        r#"<r xmlns:z="urn:a" xmlns:a="urn:z" z:b="1" a:a="2" b="3" a="4" xml:lang="en"><e z:x="&lt;&amp;&gt;&quot;'"/></r>"#,
        // Escaping in attributes and text, character references, CR, tabs, line ends.
        "<r a=\"&#9;tab&#10;nl&#13;cr &lt; &gt; &amp; &quot;\">text &amp; &lt; &gt; &#13; \"quotes\" 'apos'\r\n\ttabbed <![CDATA[<cdata & stuff>]]> é 𝄞</r>",
        // Empty elements, whitespace between elements, XML declaration.
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<r>\n  <e/>\n  <e></e>\n</r>\n",
    ];
    for (i, xml) in documents.iter().enumerate() {
        let file = f.write(&format!("c14n-{i}.xml"), xml.as_bytes());
        let expected = run(tool("xmllint").args(["--nonet", "--exc-c14n"]).arg(&file));
        let expected = String::from_utf8(expected).unwrap();
        assert_eq!(
            exclusive_canonical_form(xml.as_bytes()).unwrap(),
            expected,
            "document {i}: {xml}"
        );
        // The canonical form is its own canonical form.
        assert_eq!(
            exclusive_canonical_form(expected.as_bytes()).unwrap(),
            expected
        );
    }
}

#[test]
fn hostile_input_is_refused_with_codes_and_without_panics() {
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol3;</samlp:AuthnRequest>"#;
    assert_eq!(
        code_of(AuthnRequest::from_post(&post(billion_laughs), None)),
        "saml-xml-doctype-refused"
    );
    let external = r#"<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>"#;
    assert_eq!(
        code_of(AuthnRequest::from_post(&post(external), None)),
        "saml-xml-doctype-refused"
    );
    let undeclared = "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\">&xxe;</samlp:AuthnRequest>";
    assert_eq!(
        code_of(AuthnRequest::from_post(&post(undeclared), None)),
        "saml-xml-entity-refused"
    );

    let deep = "<a>".repeat(1000) + &"</a>".repeat(1000);
    assert_eq!(
        code_of(AuthnRequest::from_post(&post(&deep), None)),
        "saml-xml-too-deep"
    );

    let huge = format!("<a>{}</a>", "x".repeat(10 * 1024 * 1024));
    assert_eq!(
        code_of(AuthnRequest::from_post(&post(&huge), None)),
        "saml-xml-too-large"
    );
    assert_eq!(
        code_of(SpMetadata::parse(huge.as_bytes())),
        "saml-xml-too-large"
    );

    // 10 MiB of spaces deflate to about 10 KiB.
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut encoder, &vec![b' '; 10 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    let query = format!("SAMLRequest={}", url_encode(&STANDARD.encode(bomb)));
    assert_eq!(
        code_of(AuthnRequest::from_redirect(&query)),
        "saml-inflated-too-large"
    );
    assert_eq!(
        code_of(LogoutRequest::from_redirect(&query)),
        "saml-inflated-too-large"
    );

    assert_eq!(
        code_of(AuthnRequest::from_post("%%% not base64 %%%", None)),
        "saml-base64-invalid"
    );
    assert_eq!(
        code_of(AuthnRequest::from_redirect("SAMLRequest=%%%")),
        "saml-query-malformed"
    );
    assert_eq!(
        code_of(AuthnRequest::from_redirect("SAMLRequest=****")),
        "saml-base64-invalid"
    );
    assert_eq!(
        code_of(AuthnRequest::from_post(
            &STANDARD.encode([0xff, 0xfe, 0, 0x3c]),
            None
        )),
        "saml-xml-not-utf8"
    );
    assert_eq!(
        code_of(AuthnRequest::from_post(
            &post("<a><?php evil() ?></a>"),
            None
        )),
        "saml-xml-processing-instruction-refused"
    );
    assert_eq!(
        code_of(AuthnRequest::from_post(&post("not xml at all"), None)),
        "saml-xml-malformed"
    );
}

#[test]
fn sp_metadata_is_read() {
    let f = fixture();
    let certificate = STANDARD.encode(&f.rsa.certificate_der);
    let encryption = STANDARD.encode(&f.other_rsa.certificate_der);
    // Shaped like what Shibboleth SP and SimpleSAMLphp publish.
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" Name="urn:fabrikam">
<md:EntityDescriptor xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" entityID="https://sp.fabrikam.example/metadata" ID="_md1">
  <md:Extensions><mdui:UIInfo><mdui:DisplayName xml:lang="en">Fabrikam</mdui:DisplayName></mdui:UIInfo></md:Extensions>
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="true" WantAssertionsSigned="1">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:KeyName>sp-signing</ds:KeyName><ds:X509Data>
        <ds:X509Certificate>
{certificate}
        </ds:X509Certificate>
      </ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:KeyDescriptor use="encryption">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{encryption}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
    </md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="https://sp.fabrikam.example/slo/soap"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.fabrikam.example/slo" ResponseLocation="https://sp.fabrikam.example/slo/response"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="https://sp.fabrikam.example/acs/artifact" index="0"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.fabrikam.example/acs" index="1" isDefault="true"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.fabrikam.example/acs2" index="2"/>
  </md:SPSSODescriptor>
  <md:Organization><md:OrganizationName xml:lang="en">Fabrikam</md:OrganizationName><md:OrganizationDisplayName xml:lang="en">Fabrikam</md:OrganizationDisplayName><md:OrganizationURL xml:lang="en">https://fabrikam.example/</md:OrganizationURL></md:Organization>
</md:EntityDescriptor>
</md:EntitiesDescriptor>
"#
    );
    let file = f.write("sp-metadata.xml", xml.as_bytes());
    run(tool("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd("saml-schema-metadata-2.0.xsd"))
        .arg(&file));

    let metadata = SpMetadata::parse(xml.as_bytes()).unwrap();
    assert_eq!(metadata.entity_id, "https://sp.fabrikam.example/metadata");
    assert!(metadata.authn_requests_signed && metadata.want_assertions_signed);
    assert_eq!(
        metadata.signing_certificates,
        vec![f.rsa.certificate_der.clone()]
    );
    assert_eq!(metadata.assertion_consumer_services.len(), 3);
    let post: Vec<_> = metadata.post_assertion_consumer_services().collect();
    assert_eq!(post.len(), 2);
    assert_eq!(post[0].location, "https://sp.fabrikam.example/acs");
    assert_eq!((post[0].index, post[0].is_default), (1, Some(true)));
    assert_eq!((post[1].index, post[1].is_default), (2, None));
    let slo = metadata.redirect_single_logout_service().unwrap();
    assert_eq!(slo.location, "https://sp.fabrikam.example/slo");
    assert_eq!(
        slo.response_location.as_deref(),
        Some("https://sp.fabrikam.example/slo/response")
    );
    assert_eq!(metadata.name_id_formats.len(), 2);

    let not_a_certificate = xml.replace(&certificate, "AAAA");
    assert_eq!(
        code_of(SpMetadata::parse(not_a_certificate.as_bytes())),
        "saml-metadata-invalid"
    );
    let idp = xml.replace("SPSSODescriptor", "IDPSSODescriptor");
    assert_eq!(
        code_of(SpMetadata::parse(idp.as_bytes())),
        "saml-metadata-invalid"
    );
    let two = xml.replace("</md:EntitiesDescriptor>", "").replace(
        "</md:EntityDescriptor>",
        "</md:EntityDescriptor><md:EntityDescriptor entityID=\"x\"/></md:EntitiesDescriptor>",
    );
    assert_eq!(
        code_of(SpMetadata::parse(two.as_bytes())),
        "saml-metadata-invalid"
    );
}
