//! Decoding one revokedCertificates entry (RFC 5280 §5.1.2.6) and its entry extensions
//! (§5.3), with asn1-rs's zero-copy TLV reader.

use x509_parser::der_parser::asn1_rs::Tag;

use super::{canonical_integer, expect_tlv, malformed, parse_time, RevocationReason};
use crate::certificate::{GeneralName, UnixTime};
use crate::error::Reason;
use crate::oid::Oid;

/// Longest serial number accepted in a CRL entry, in content octets. RFC 5280 §4.1.2.2 allows
/// 20; PKITS 4.4.16-18 use 20 too. Anything much longer is not a serial number.
const MAX_SERIAL_OCTETS: usize = 64;

/// DER content octets of the entry extension OIDs certgate processes (2.5.29.21/24/29),
/// compared without decoding the OID.
const OID_REASON_CODE: &[u8] = &[0x55, 0x1d, 0x15];
const OID_INVALIDITY_DATE: &[u8] = &[0x55, 0x1d, 0x18];
const OID_CERTIFICATE_ISSUER: &[u8] = &[0x55, 0x1d, 0x1d];

pub(super) struct DecodedEntry<'a> {
    /// Canonical serial octets (a sub-slice of the DER).
    pub(super) serial: &'a [u8],
    pub(super) revocation_date: UnixTime,
    pub(super) reason: RevocationReason,
    pub(super) invalidity_date: Option<UnixTime>,
    pub(super) certificate_issuer: Option<Vec<GeneralName>>,
    pub(super) has_extensions: bool,
}

/// Decodes one revokedCertificates entry's content: serial, date, extensions.
pub(super) fn decode_entry(content: &[u8]) -> Result<DecodedEntry<'_>, Reason> {
    let (rest, serial) = expect_tlv(content, Tag::Integer, "entry serial number")?;
    if serial.data.is_empty() || serial.data.len() > MAX_SERIAL_OCTETS {
        return Err(malformed(format!(
            "entry serial number has {} octets",
            serial.data.len()
        )));
    }
    let (rest, revocation_date) = parse_time(rest, "revocationDate")?;
    let mut entry = DecodedEntry {
        serial: canonical_integer(serial.data),
        revocation_date,
        reason: RevocationReason::Unspecified,
        invalidity_date: None,
        certificate_issuer: None,
        has_extensions: false,
    };
    if rest.is_empty() {
        return Ok(entry);
    }
    let (after, list) = expect_tlv(rest, Tag::Sequence, "crlEntryExtensions")?;
    if !after.is_empty() {
        return Err(malformed("trailing data in a revoked certificate entry"));
    }
    entry.has_extensions = true;
    let mut seen: [bool; 3] = [false; 3];
    let mut items = list.data;
    while !items.is_empty() {
        let (rest, ext) = expect_tlv(items, Tag::Sequence, "entry extension")?;
        items = rest;
        let (rest, oid) = expect_tlv(ext.data, Tag::Oid, "entry extension id")?;
        let mut rest = rest;
        let mut critical = false;
        if rest.first() == Some(&0x01) {
            let (r, flag) = expect_tlv(rest, Tag::Boolean, "entry extension critical")?;
            // DER: DEFAULT FALSE is omitted, and TRUE is 0xff.
            if flag.data != [0xff] {
                return Err(malformed("entry extension critical flag is not DER TRUE"));
            }
            critical = true;
            rest = r;
        }
        let (r, value) = expect_tlv(rest, Tag::OctetString, "entry extension value")?;
        if !r.is_empty() {
            return Err(malformed("trailing data in an entry extension"));
        }
        let slot = match oid.data {
            OID_REASON_CODE => 0,
            OID_INVALIDITY_DATE => 1,
            OID_CERTIFICATE_ISSUER => 2,
            other => {
                if critical {
                    return Err(Reason::CrlUnknownCriticalExtension {
                        oid: oid_from_content(other),
                    });
                }
                continue;
            }
        };
        if std::mem::replace(&mut seen[slot], true) {
            return Err(malformed("an entry extension appears twice"));
        }
        match slot {
            0 => {
                let (r, code) = expect_tlv(value.data, Tag::Enumerated, "reasonCode")?;
                let reason = match (r.is_empty(), code.data) {
                    (true, [c]) => RevocationReason::from_code(*c),
                    _ => None,
                };
                entry.reason = reason.ok_or_else(|| malformed("reasonCode out of range"))?;
            }
            1 => {
                if value.data.first() != Some(&0x18) {
                    return Err(malformed("invalidityDate is not a GeneralizedTime"));
                }
                let (r, t) = parse_time(value.data, "invalidityDate")?;
                if !r.is_empty() {
                    return Err(malformed("trailing data after invalidityDate"));
                }
                entry.invalidity_date = Some(t);
            }
            _ => {
                let (r, names) = expect_tlv(value.data, Tag::Sequence, "certificateIssuer")?;
                if !r.is_empty() {
                    return Err(malformed("trailing data after certificateIssuer"));
                }
                let parsed = crate::extension_der::general_names(names.data)
                    .map_err(|e| malformed(format!("certificateIssuer: {e}")))?;
                entry.certificate_issuer = Some(parsed);
            }
        }
    }
    Ok(entry)
}

/// Dotted form of an OID given as DER content octets, for error messages.
fn oid_from_content(content: &[u8]) -> Oid {
    use x509_parser::der_parser::oid::Oid as ParserOid;
    match ParserOid::new(std::borrow::Cow::Borrowed(content)).to_id_string() {
        id if !id.is_empty() => Oid::new(id),
        _ => Oid::new("unknown"),
    }
}
