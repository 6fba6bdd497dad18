//! CRL parsing, indexing and lookup on arbitrary bytes.
#![no_main]

use certgate_fuzz::der;
use certgate_pki::{parse_crls, Crl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = Crl::from_der(data.to_vec());
    if let Ok(crl) = &parsed {
        exercise(crl, data);
    }

    let bundle = parse_crls(data.to_vec());
    if let Ok(crls) = &bundle {
        for crl in crls {
            exercise(crl, crl.der());
        }
    }
    // A DER CRL is read as DER even when it mentions the PEM marker; anything else that is
    // not PEM must fail the same way.
    let pem_like = data.windows(11).any(|w| w == b"-----BEGIN ");
    match (&parsed, &bundle) {
        (Ok(crl), Ok(crls)) => {
            assert_eq!(crls.len(), 1);
            assert_eq!(crls[0].der(), crl.der());
        }
        (Ok(_), Err(e)) => panic!("parse_crls rejects a DER CRL: {e}"),
        (Err(a), Err(b)) if !pem_like => assert_eq!(a, b),
        (Err(_), Ok(_)) if !pem_like => panic!("parse_crls accepts what Crl::from_der rejects"),
        _ => {}
    }

    let pem = certgate_fuzz::pem::encode("X509 CRL", data);
    match (&parsed, parse_crls(pem.into_bytes())) {
        (Ok(crl), Ok(crls)) => {
            assert_eq!(crls.len(), 1);
            assert_eq!(crls[0].der(), crl.der());
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("DER parses but its PEM form does not: {e}"),
        (Err(_), Ok(_)) => panic!("PEM form parses but the DER does not"),
    }
});

fn exercise(crl: &Crl, data: &[u8]) {
    assert_eq!(crl.der(), data, "a CRL keeps the bytes it came from");
    assert!(crl.tbs_der().len() < crl.der().len());
    assert_eq!(crl.is_delta(), crl.delta_base_crl_number().is_some());
    let issuer = crl.issuer();
    let _ = (issuer.to_rfc4514(), issuer.to_windows(), issuer.to_entra());
    let _ = (crl.this_update(), crl.next_update(), crl.crl_number());
    let _ = (crl.signature_algorithm(), crl.signature().len());
    let _ = (
        crl.issuing_distribution_point(),
        crl.authority_key_id(),
        crl.freshest_crl(),
    );

    // Serials that are normally absent, including non-canonical encodings of small numbers.
    for serial in [&[][..], &[0], &[1], &[0, 1], &[0xff], &[0x7f; 20], &[0; 65]] {
        if let Some(entry) = crl.lookup(issuer, serial) {
            assert_eq!(entry.serial, canonical(serial));
        }
    }

    // Fail closed: every entry listed for the CRL issuer must be found, under its serial as
    // encoded, as an independent walk of the DER sees it.
    if let Some(entries) = listed_entries(data) {
        assert_eq!(crl.entry_count(), entries.len(), "entry count");
        for (serial, names_other_issuer) in entries {
            if names_other_issuer {
                // From here on entries may revoke another CA's certificates (indirect CRL).
                break;
            }
            let entry = crl
                .lookup(issuer, serial)
                .unwrap_or_else(|| panic!("listed serial {serial:02x?} not found"));
            assert_eq!(entry.serial, canonical(serial));
        }
    }
}

/// Each revokedCertificates entry's serial content octets, and whether the entry (or one
/// before it) carries a certificateIssuer extension (2.5.29.29). `None` if the DER does not
/// decode the simple way this walker reads it.
fn listed_entries(data: &[u8]) -> Option<Vec<(&[u8], bool)>> {
    const CERTIFICATE_ISSUER: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x1d];
    let (outer, _) = der::read(data)?;
    let (tbs, _) = der::read(outer.content)?;
    let fields = der::children(tbs.content)?;
    // version?, signature, issuer, thisUpdate, nextUpdate?, revokedCertificates?, [0]?
    let mut rest = fields.as_slice();
    if rest.first()?.tag == 0x02 {
        rest = &rest[1..];
    }
    rest = rest.get(3..)?;
    if rest.first().is_some_and(|f| matches!(f.tag, 0x17 | 0x18)) {
        rest = &rest[1..];
    }
    let Some(list) = rest.first().filter(|f| f.tag == der::SEQUENCE) else {
        return Some(Vec::new());
    };
    let mut seen_issuer = false;
    let mut out = Vec::new();
    for entry in der::children(list.content)? {
        let serial = der::children(entry.content)?.first()?.content;
        seen_issuer |= entry.content.windows(5).any(|w| w == CERTIFICATE_ISSUER);
        out.push((serial, seen_issuer));
    }
    Some(out)
}

/// Shortest two's-complement form of INTEGER content octets.
fn canonical(mut octets: &[u8]) -> Vec<u8> {
    while octets.len() > 1
        && ((octets[0] == 0 && octets[1] < 0x80) || (octets[0] == 0xff && octets[1] >= 0x80))
    {
        octets = &octets[1..];
    }
    octets.to_vec()
}
