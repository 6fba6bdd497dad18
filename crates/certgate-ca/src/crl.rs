//! Base and delta CRLs (RFC 5280 §5), written and signed here for both kinds.
//!
//! rcgen can sign a complete CRL but cannot add the deltaCRLIndicator (§5.2.4) or
//! FreshestCRL (§5.2.6) extensions, so the TBSCertList is written with the crate's small DER
//! writer (see `der`) for base and delta alike: one code path, whose output certgate-pki and
//! OpenSSL both parse in the tests.

use certgate_pki::{KeyUsage, RevocationReason};
use time::OffsetDateTime;

use crate::authority::Authority;
use crate::certificate::{
    check_url, encode_time, extension::distribution_points_value, FRESHEST_CRL,
};
use crate::der;
use crate::error::CaError;

const AUTHORITY_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 35];
const CRL_NUMBER: &[u64] = &[2, 5, 29, 20];
const DELTA_CRL_INDICATOR: &[u64] = &[2, 5, 29, 27];
const REASON_CODE: &[u64] = &[2, 5, 29, 21];

/// RFC 5280 §4.1.2.2: serial numbers are at most 20 octets.
const MAX_SERIAL_OCTETS: usize = 20;

/// One revoked certificate to list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedSerial {
    /// INTEGER content octets, as [`crate::IssuedCertificate::serial`] holds them.
    pub serial: Vec<u8>,
    /// The entry's revocationDate (RFC 5280 §5.1.2.6), written in UTC to the whole second.
    pub revoked_at: OffsetDateTime,
    /// Written as the entry's reasonCode (§5.3.1), omitted for unspecified; removeFromCRL is
    /// refused outside a delta CRL.
    pub reason: RevocationReason,
}

/// What [`sign_crl`] writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlRequest {
    /// cRLNumber (RFC 5280 §5.2.3): increases with every CRL the CA issues, base or delta.
    pub crl_number: u64,
    /// thisUpdate (RFC 5280 §5.1.2.4): when this CRL was issued, written to the whole second.
    pub this_update: OffsetDateTime,
    /// nextUpdate (§5.1.2.5): when the next CRL will be issued at the latest; must be later
    /// than `this_update`. Relying parties treat the CRL as stale after it.
    pub next_update: OffsetDateTime,
    /// The entries, in any order: written sorted by serial, a serial listed twice is refused.
    /// For a delta CRL: the changes since its base (RFC 5280 §5.2.4).
    pub revoked: Vec<RevokedSerial>,
    /// Some(base number) makes this a delta CRL (deltaCRLIndicator, critical, RFC 5280 §5.2.4).
    pub delta_of: Option<u64>,
    /// For a base CRL: the delta CRL's URL in a FreshestCRL extension (§5.2.6).
    pub freshest_crl_url: Option<String>,
}

/// Signs a v2 CRL (RFC 5280 §5.1) with the issuer's key and returns its DER.
///
/// The CRL carries the issuer's subject exactly as its certificate encodes it (§5.1.2.3), an
/// authorityKeyIdentifier with the issuer's key identifier (§5.2.1), a cRLNumber (§5.2.3),
/// for a delta CRL a critical deltaCRLIndicator naming its base (§5.2.4), and for a base CRL
/// optionally a FreshestCRL pointing at the delta (§5.2.6). Each entry has the revocation date
/// and, unless the reason is unspecified, a reasonCode (§5.3.1: absent rather than
/// unspecified). An empty list is omitted, as §5.1.2.6 requires.
///
/// Refused: next_update not after this_update (§5.1.2.5), a delta whose base number is not
/// below its own number (§5.2.4), FreshestCRL on a delta CRL (§5.2.6), removeFromCRL in a base
/// CRL (§5.3.1), malformed or repeated serial numbers, and an issuer whose keyUsage lacks
/// cRLSign (§4.2.1.3).
pub fn sign_crl(issuer: &Authority, request: &CrlRequest) -> Result<Vec<u8>, CaError> {
    if let Some(usage) = issuer.certificate().extensions().key_usage {
        if !usage.allows(KeyUsage::CRL_SIGN) {
            return Err(CaError::NotCa {
                subject: issuer.display_name(),
                detail: "its keyUsage does not allow cRLSign, so it cannot sign CRLs".into(),
            });
        }
    }
    if request.next_update <= request.this_update {
        return Err(CaError::invalid(
            "next_update",
            "must be later than this_update",
        ));
    }
    if let Some(base) = request.delta_of {
        if base >= request.crl_number {
            return Err(CaError::invalid(
                "delta_of",
                format!(
                    "a delta CRL's number ({}) must be greater than its base CRL's number ({base})",
                    request.crl_number
                ),
            ));
        }
        if request.freshest_crl_url.is_some() {
            return Err(CaError::invalid(
                "freshest_crl_url",
                "a delta CRL must not carry a FreshestCRL extension (RFC 5280 §5.2.6)",
            ));
        }
    }
    if let Some(url) = &request.freshest_crl_url {
        check_url(url, "freshest_crl_url")?;
    }

    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(request.revoked.len());
    for revoked in &request.revoked {
        let serial = serial_content(&revoked.serial)?;
        let mut fields = vec![
            der::tlv(der::INTEGER, &serial),
            encode_time(revoked.revoked_at, "revoked_at")?,
        ];
        if let Some(code) = reason_code(revoked.reason, request.delta_of.is_some())? {
            let reason = der::extension(REASON_CODE, false, &der::tlv(der::ENUMERATED, &[code]));
            fields.push(der::sequence(&[&reason]));
        }
        let fields: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        entries.push((serial, der::sequence(&fields)));
    }
    // Sorted by serial so that the same revocations always give the same bytes, and repeats
    // are found.
    entries.sort_unstable_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
    if let Some(pair) = entries.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(CaError::invalid(
            "revoked",
            format!("serial {} is listed twice", hex(&pair[0].0)),
        ));
    }

    let mut extensions = vec![
        der::extension(
            AUTHORITY_KEY_IDENTIFIER,
            false,
            &der::sequence(&[&der::context_primitive(0, issuer.key_id())]),
        ),
        der::extension(CRL_NUMBER, false, &der::u64_integer(request.crl_number)),
    ];
    if let Some(base) = request.delta_of {
        extensions.push(der::extension(
            DELTA_CRL_INDICATOR,
            true,
            &der::u64_integer(base),
        ));
    }
    if let Some(url) = &request.freshest_crl_url {
        extensions.push(der::extension(
            FRESHEST_CRL,
            false,
            &distribution_points_value(url),
        ));
    }

    let signature_algorithm = issuer.key().signature_algorithm();
    let this_update = encode_time(request.this_update, "this_update")?;
    let next_update = encode_time(request.next_update, "next_update")?;
    let revoked_certificates = (!entries.is_empty()).then(|| {
        let list: Vec<&[u8]> = entries.iter().map(|(_, entry)| entry.as_slice()).collect();
        der::sequence(&list)
    });
    let extension_list: Vec<&[u8]> = extensions.iter().map(Vec::as_slice).collect();
    let crl_extensions = der::context_constructed(0, &[&der::sequence(&extension_list)]);

    let version = der::u64_integer(1); // v2
    let mut tbs_fields: Vec<&[u8]> = vec![
        &version,
        &signature_algorithm,
        issuer.certificate().subject().der(),
        &this_update,
        &next_update,
    ];
    if let Some(list) = &revoked_certificates {
        tbs_fields.push(list);
    }
    tbs_fields.push(&crl_extensions);
    let tbs = der::sequence(&tbs_fields);
    issuer.key().sign_structure(&tbs)
}

/// The serial as DER content octets: non-empty, at most 20 octets, minimal (a redundant leading
/// 0x00 or 0xff is removed, keeping the value), and not negative (RFC 5280 §4.1.2.2).
fn serial_content(serial: &[u8]) -> Result<Vec<u8>, CaError> {
    let mut octets = serial;
    while octets.len() > 1
        && ((octets[0] == 0x00 && octets[1] < 0x80) || (octets[0] == 0xff && octets[1] >= 0x80))
    {
        octets = &octets[1..];
    }
    match octets.first() {
        None => Err(CaError::invalid("revoked", "a serial number is empty")),
        Some(first) if *first >= 0x80 => Err(CaError::invalid(
            "revoked",
            format!(
                "serial {} is negative; certificate serials are positive",
                hex(serial)
            ),
        )),
        Some(_) if octets.len() > MAX_SERIAL_OCTETS => Err(CaError::invalid(
            "revoked",
            format!(
                "serial {} is longer than {MAX_SERIAL_OCTETS} octets (RFC 5280 §4.1.2.2)",
                hex(serial)
            ),
        )),
        Some(_) => Ok(octets.to_vec()),
    }
}

/// CRLReason (RFC 5280 §5.3.1), or `None` for unspecified (the reasonCode is then omitted).
/// removeFromCRL is only meaningful in a delta CRL.
fn reason_code(reason: RevocationReason, delta: bool) -> Result<Option<u8>, CaError> {
    Ok(Some(match reason {
        RevocationReason::Unspecified => return Ok(None),
        RevocationReason::KeyCompromise => 1,
        RevocationReason::CaCompromise => 2,
        RevocationReason::AffiliationChanged => 3,
        RevocationReason::Superseded => 4,
        RevocationReason::CessationOfOperation => 5,
        RevocationReason::CertificateHold => 6,
        RevocationReason::RemoveFromCrl if delta => 8,
        RevocationReason::RemoveFromCrl => {
            return Err(CaError::invalid(
                "revoked",
                "removeFromCRL may appear only in a delta CRL (RFC 5280 §5.3.1)",
            ))
        }
        RevocationReason::PrivilegeWithdrawn => 9,
        RevocationReason::AaCompromise => 10,
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_made_minimal_and_checked() {
        assert_eq!(serial_content(&[0x00, 0x12]).expect("padded"), [0x12]);
        assert_eq!(
            serial_content(&[0x00, 0x80]).expect("sign octet"),
            [0x00, 0x80]
        );
        assert_eq!(serial_content(&[0x00]).expect("zero"), [0x00]);
        assert!(serial_content(&[]).is_err());
        assert!(serial_content(&[0x80]).is_err());
        assert!(serial_content(&[0xff, 0x80]).is_err());
        assert!(serial_content(&[0x01; 20]).is_ok());
        assert!(serial_content(&[0x01; 21]).is_err());
    }

    #[test]
    fn unspecified_has_no_reason_code_and_remove_from_crl_needs_a_delta() {
        assert_eq!(
            reason_code(RevocationReason::Unspecified, false).ok(),
            Some(None)
        );
        assert_eq!(
            reason_code(RevocationReason::KeyCompromise, false).ok(),
            Some(Some(1))
        );
        assert_eq!(
            reason_code(RevocationReason::AaCompromise, false).ok(),
            Some(Some(10))
        );
        assert_eq!(
            reason_code(RevocationReason::RemoveFromCrl, true).ok(),
            Some(Some(8))
        );
        assert!(reason_code(RevocationReason::RemoveFromCrl, false).is_err());
    }
}
