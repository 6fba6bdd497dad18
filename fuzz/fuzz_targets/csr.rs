//! PKCS#10 certification requests (what EST's simpleenroll/simplereenroll read from anyone
//! who can reach the certificate sign-in listener) on arbitrary bytes.
#![no_main]

use certgate_pki::{CertificationRequest, RequestedKey, MAX_CSR_DER_BYTES, MIN_CSR_RSA_BITS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = CertificationRequest::from_der(data) else {
        return;
    };
    // Accepted only within the bounds, and the key certified is bytes of the input: certgate
    // never certifies a key the requester did not send (and sign).
    assert!(data.len() <= MAX_CSR_DER_BYTES);
    let key = request.key().subject_public_key();
    assert!(
        !key.is_empty() && data.windows(key.len()).any(|w| w == key),
        "the requested key is not part of the request"
    );
    match request.key() {
        RequestedKey::EcdsaP256 { point } => assert_eq!(point.len(), 65),
        RequestedKey::EcdsaP384 { point } => assert_eq!(point.len(), 97),
        RequestedKey::Rsa { bits, .. } => assert!((MIN_CSR_RSA_BITS..=8192).contains(bits)),
    }
    // The subject is informational; formatting it must not panic.
    let _ = (
        request.subject().to_rfc4514(),
        request.subject().to_windows(),
        request.key().describe(),
        request.signature_algorithm().as_str(),
        request.has_attributes(),
    );
});
