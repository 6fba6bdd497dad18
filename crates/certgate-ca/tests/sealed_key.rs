//! A CA key sealed at rest and opened again still signs for its certificate.

mod common;

use certgate_ca::{sealed_key, Authority, KeyAlgorithm};
use certgate_pki::RevocationDepth;
use common::*;

#[test]
fn sealed_ca_key_round_trips_into_a_working_authority() {
    let hierarchy = hierarchy(KeyAlgorithm::Rsa2048);
    let key = hierarchy.issuing.private_key_pkcs8_der();
    let sealed = sealed_key::seal(&key, b"a long passphrase").expect("seal");
    assert!(sealed_key::is_sealed(&sealed));
    assert!(!sealed_key::is_sealed(&key));

    let opened = sealed_key::open(&sealed, b"a long passphrase").expect("open");
    assert_eq!(*opened, *key);
    let authority = Authority::from_parts(hierarchy.issuing.certificate_der().to_vec(), &opened)
        .expect("authority from the unsealed key");
    let issued = issue(&authority, KeyAlgorithm::EcdsaP256);
    validate_leaf(
        &hierarchy,
        &issued.certificate_der,
        RevocationDepth::Off,
        &[],
    )
    .expect("issued with the unsealed key");

    let error = sealed_key::open(&sealed, b"another passphrase").expect_err("wrong passphrase");
    assert_eq!(error.code(), "ca-key-seal-broken");
    let mut tampered = sealed.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x80;
    let error = sealed_key::open(&tampered, b"a long passphrase").expect_err("tampered");
    assert_eq!(error.code(), "ca-key-seal-broken");
    let error = sealed_key::open(&key, b"a long passphrase").expect_err("not sealed");
    assert_eq!(error.code(), "ca-key-not-sealed");
}
