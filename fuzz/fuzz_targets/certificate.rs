//! Certificate parsing, identity fields and name formatting on arbitrary bytes.
#![no_main]

use certgate_pki::{parse_certificates, Certificate, Identity, Name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = Certificate::from_der(data);
    if let Ok(cert) = &parsed {
        assert_eq!(
            cert.der(),
            data,
            "a certificate keeps the bytes it came from"
        );
        exercise(cert);
        index_agrees_with_decoding(cert, data);
        agrees_with_x509_parser(cert, data);
    }

    // The same bytes through the DER-or-PEM entry point administrators' files take.
    let bundle = parse_certificates(data);
    if let Ok(certs) = &bundle {
        certs.iter().for_each(exercise);
    }
    // A DER certificate is read as DER even when it mentions the PEM marker. A DER PKCS#7
    // bundle (.p7b) is read as a bundle: every certificate it yields must be bytes of the
    // input. Anything else that is not PEM must fail the same way as Certificate::from_der.
    match (&parsed, &bundle) {
        (Ok(cert), Ok(certs)) => {
            assert_eq!(certs.len(), 1);
            assert_eq!(certs[0].der(), cert.der());
        }
        (Ok(_), Err(e)) => panic!("parse_certificates rejects a DER certificate: {e}"),
        (Err(_), Err(b)) if is_pkcs7_error(b) => {}
        (Err(a), Err(b)) if !contains_pem_marker(data) => assert_eq!(a, b),
        (Err(_), Ok(certs)) if !contains_pem_marker(data) => {
            for cert in certs {
                assert!(
                    contains(data, cert.der()),
                    "a certificate from a PKCS#7 bundle is not part of the input"
                );
            }
        }
        _ => {}
    }

    // The same bytes wrapped as PEM must decode to the same certificate.
    let pem = certgate_fuzz::pem::encode("CERTIFICATE", data);
    match (&parsed, parse_certificates(pem.as_bytes())) {
        (Ok(cert), Ok(certs)) => {
            assert_eq!(certs.len(), 1);
            assert_eq!(certs[0].der(), cert.der());
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("DER parses but its PEM form does not: {e}"),
        (Err(_), Ok(_)) => panic!("PEM form parses but the DER does not"),
    }
});

fn exercise(cert: &Certificate) {
    let identity = Identity::of(cert);
    assert_eq!(identity.serial.len(), 2 * cert.serial().len());
    assert_eq!(identity.serial_reversed.len(), identity.serial.len());
    for user_id in &identity.certificate_user_ids {
        assert!(user_id.value.starts_with("X509:<"), "{}", user_id.value);
    }
    format_name(cert.subject());
    format_name(cert.issuer());
    let _ = (cert.is_ca(), cert.is_self_issued(), cert.tbs_der().len());
}

/// Validation reads extensions through the index built at parse time; everything else reads
/// the owned extensions decoded on first use. Both must say the same.
fn index_agrees_with_decoding(cert: &Certificate, data: &[u8]) {
    let fresh = Certificate::from_der(data).expect("bytes that parse once parse twice");
    let decoded = cert.extensions();
    assert_eq!(fresh.basic_constraints(), decoded.basic_constraints);
    assert_eq!(fresh.key_usage(), decoded.key_usage);
    assert_eq!(fresh.policy_constraints(), decoded.policy_constraints);
    assert_eq!(fresh.inhibit_any_policy(), decoded.inhibit_any_policy);
    assert_eq!(fresh.subject_key_id(), decoded.subject_key_id.as_deref());
    assert_eq!(
        fresh.authority_key_identifier(),
        decoded
            .authority_key_id
            .as_ref()
            .and_then(|aki| aki.key_id.as_deref())
    );
}

/// Where x509-parser also reads the bytes, both must see the same fields (certgate may refuse
/// more: crates/certgate-pki/tests/differential.rs lists where and why).
fn agrees_with_x509_parser(cert: &Certificate, data: &[u8]) {
    use x509_parser::prelude::FromDer as _;
    let Ok((rest, theirs)) = x509_parser::certificate::X509Certificate::from_der(data) else {
        return;
    };
    if !rest.is_empty() {
        return;
    }
    let tbs = &theirs.tbs_certificate;
    assert_eq!(cert.version(), tbs.version.0 + 1);
    assert_eq!(cert.serial(), tbs.raw_serial());
    assert_eq!(cert.tbs_der(), tbs.as_ref());
    assert_eq!(cert.issuer().der(), tbs.issuer.as_raw());
    assert_eq!(cert.subject().der(), tbs.subject.as_raw());
    assert_eq!(cert.not_before().0, tbs.validity.not_before.timestamp());
    assert_eq!(cert.not_after().0, tbs.validity.not_after.timestamp());
    assert_eq!(cert.public_key().der, tbs.subject_pki.raw);
    assert_eq!(cert.signature(), theirs.signature_value.data.as_ref());
    let critical = tbs.extensions().iter().filter(|e| e.critical).count();
    assert_eq!(cert.extensions().critical.len(), critical);
    let attributes = tbs.subject.iter_attributes().count();
    assert_eq!(cert.subject().rdns().iter().flatten().count(), attributes);
}

fn format_name(name: &Name) {
    let rfc4514 = name.to_rfc4514();
    let windows = name.to_windows();
    let entra = name.to_entra();
    assert_eq!(name.to_string(), rfc4514);
    // The three forms differ in order, separators and short names, never in what they show.
    assert_eq!(rfc4514.is_empty(), windows.is_empty());
    assert_eq!(rfc4514.is_empty(), entra.is_empty());
    for attribute in name.rdns().iter().flatten() {
        let _ = attribute.text();
    }
}

fn is_pkcs7_error(reason: &certgate_pki::Reason) -> bool {
    let text = reason.to_string();
    text.contains("invalid PKCS#7 bundle") || text.contains("the PKCS#7 bundle contains no certificates")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn contains_pem_marker(data: &[u8]) -> bool {
    const MARKER: &[u8] = b"-----BEGIN ";
    data.windows(MARKER.len()).any(|w| w == MARKER)
}
