//! Everything certgate-saml reads from service providers, on arbitrary bytes: the bounded
//! XML reader and exclusive canonicalizer, the enveloped-signature verifier (with a fixed
//! trusted certificate), AuthnRequests by HTTP-POST and HTTP-Redirect, LogoutRequests by
//! HTTP-Redirect, SP metadata, and WS-Federation request parameters. Besides "no panic, no hang", it checks that the canonical
//! form is a fixed point: canonicalizing it again gives the same bytes.
#![no_main]

use std::io::Write as _;
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_saml::{
    exclusive_canonical_form, verify_enveloped_signature, AuthnRequest, LogoutRequest, SpMetadata,
};
use libfuzzer_sys::fuzz_target;

/// A self-signed RSA-2048 certificate, made once with
/// `openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=certgate fuzz SAML signer"
/// -days 36500 -outform DER` (its key was thrown away: nothing the fuzzer writes can carry a
/// valid signature, so the verifier is exercised up to the final check).
const TRUSTED_CERTIFICATE_BASE64: &[&str] = &[
    "MIIDKzCCAhOgAwIBAgIUeEIzE1/jTb3XKZQzNiGVKloRxAMwDQYJKoZIhvcNAQELBQAwJDEiMCAGA1UEAwwZY2Vy",
    "dGdhdGUgZnV6eiBTQU1MIHNpZ25lcjAgFw0yNjExMjcwOTQzMzFaGA8yMTI2MTEwMzA5NDMzMVowJDEiMCAGA1UE",
    "AwwZY2VydGdhdGUgZnV6eiBTQU1MIHNpZ25lcjCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAMv+cqY2",
    "mnz5b+w479etkYlExXjpDpOVugKGNeuF4rK4B2fzfHbKjfZ7BYOqr6ExpRNa00J37UecYWWpTADR4vYEuvCL2gs0",
    "XVNHzqr1dXp3B46mHsT9C0rowHHOf+/uLEuAD7RxlUekZUKG/HcfbFPV8hhqxfVC6xtg47GnSh94OEYuv+RoqzL1",
    "fU0lR2VW/9W4/NWbeVu/xWCE9TJVDPl6bfFNgMIc8/ogF94lA7xVs2HCZPD/Qo3jGxh/5uqW+tNB93opDBbkUcyc",
    "nn8QfpoCZbK4vMi1VyY0QdNV81/7ItjHnx9zc6UNRV/+8/ZY9Q6T8X05qGPLBg5hkCvHRS0CAwEAAaNTMFEwHQYD",
    "VR0OBBYEFPbWOpZIuL4ggHsakP7O9UnNR6nTMB8GA1UdIwQYMBaAFPbWOpZIuL4ggHsakP7O9UnNR6nTMA8GA1Ud",
    "EwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBABh5aWr7+Tf8oHDcatyKwS9lxcLy3q0BpGRcUGtUjZ0Y8f21",
    "Yk2cqAdEWqrcMby74XMy3AS8J1z2r0qBgKGnbvlzCgYti0ZLDi/njH5JnOPX+KmfBTlSC8QeAQdic4zUZYJYh5Vm",
    "m9Zp+mTt2diPVVH7p64sfqgE+kzaVkIb+QsYUm23bJ5fevVzkvDXL5V+wHVTbdXC5xqKlL0OPY8+aLImBV97vLm5",
    "6VmJse3JdMl+XS33t17ADCDHxlZIkm3WLKhGxZ1ojVphicElyNXFBQd9Xiy3wpMo1lD3+WTcOgAvH0A7y+dQBhao",
    "vhWVWByyQJTx7oBbADWj+Zbyk2Y4oZE=",
];

fn trusted() -> &'static [Vec<u8>] {
    static TRUSTED: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    TRUSTED.get_or_init(|| {
        let der = STANDARD
            .decode(TRUSTED_CERTIFICATE_BASE64.concat())
            .expect("the fixed certificate is valid base64");
        vec![der]
    })
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

/// The RequestedAuthnContext decision agrees with what the assertion can then state: a
/// certificate or multi-factor decision always has a class to state, and that class meets the
/// request.
fn check_authn_context_decision(request: &AuthnRequest) {
    use certgate_saml::AuthnContextDecision;
    let Some(requested) = &request.requested_authn_context else {
        return;
    };
    let decision = requested.decide();
    for multi_factor in [false, true] {
        if let Some(stated) = requested.statement_for(multi_factor) {
            assert!(requested.is_met_by(stated), "{requested:?} {stated:?}");
        }
    }
    match decision {
        AuthnContextDecision::CertificateSignIn => {
            assert!(requested.statement_for(false).is_some(), "{requested:?}");
            assert!(requested.statement_for(true).is_some(), "{requested:?}");
        }
        AuthnContextDecision::MultiFactorSignIn => {
            assert!(requested.statement_for(true).is_some(), "{requested:?}");
        }
        AuthnContextDecision::PasswordRequested | AuthnContextDecision::Unsatisfiable => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(canonical) = exclusive_canonical_form(data) {
        let again = exclusive_canonical_form(canonical.as_bytes())
            .expect("the canonical form of a document is a document");
        assert_eq!(again, canonical, "exclusive C14N is not idempotent");
    }
    let _ = verify_enveloped_signature(data, trusted());
    let _ = SpMetadata::parse(data);

    // The bytes as the XML inside each binding.
    let base64 = STANDARD.encode(data);
    if let Ok(received) = AuthnRequest::from_post(&base64, Some("relay")) {
        let _ = received.verify_signature(trusted());
        check_authn_context_decision(received.message());
    }
    let deflated = STANDARD.encode(raw_deflate(data));
    let query = format!("SAMLRequest={}&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature=AAAA", deflated.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D"));
    if let Ok(received) = AuthnRequest::from_redirect(&query) {
        let _ = received.verify_signature(trusted());
        check_authn_context_decision(received.message());
    }
    if let Ok(received) = LogoutRequest::from_redirect(&query) {
        let _ = received.verify_signature(trusted());
    }

    // The bytes as the binding's own input: a form value, a raw query string.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(received) = AuthnRequest::from_post(text, None) {
            let _ = received.verify_signature(trusted());
        }
        if let Ok(received) = AuthnRequest::from_redirect(text) {
            let _ = received.verify_signature(trusted());
        }
        if let Ok(received) = LogoutRequest::from_redirect(text) {
            let _ = received.verify_signature(trusted());
        }
        // WS-Federation parameters: the text split like a query string into (name, value)
        // pairs, as the server's query extractor hands them over.
        let pairs: Vec<(String, String)> = text
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => (pair.to_owned(), String::new()),
            })
            .collect();
        let _ = certgate_saml::wsfed::WsFedRequest::parse(&pairs);
    }
});
