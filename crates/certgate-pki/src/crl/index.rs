//! The serial-number index of a CRL's revoked certificates: built once when the CRL is
//! parsed, sorted (and bucketed for large CRLs), and searched on every lookup.

use x509_parser::der_parser::asn1_rs::Tag;

use super::entry::decode_entry;
use super::{
    canonical_integer, expect_tlv, malformed, offset_of, Crl, RevocationReason, RevokedEntry,
};

use crate::certificate::{GeneralName, UnixTime};
use crate::error::Reason;
use crate::name::Name;

/// One index slot: where a revoked serial sits in the DER, sorted by (`prefix`, serial).
///
/// Kept at 24 bytes so that 600,000 entries index in about 14 MB beside the DER. The first
/// eight octets of the canonical serial are stored inline so that the search almost never
/// touches the (cold) DER before it has found its match, and the revocation date and reason
/// are stored too, so that a hit needs no decoding.
#[derive(Clone, Copy, Debug)]
pub(super) struct IndexSlot {
    prefix: u64,
    /// Canonical serial octets: `der[serial_start..serial_start + serial_len]`.
    serial_start: u32,
    /// The whole entry (SEQUENCE TLV) starts here, for the rare fields not kept in the slot.
    entry_start: u32,
    /// revocationDate in Unix seconds, unless `SLOT_DATE_ELSEWHERE` is set.
    revocation_date: u32,
    serial_len: u8,
    /// Reason code in the low four bits, plus the `SLOT_*` flags.
    flags: u8,
    /// Index into `Crl::entry_issuers`: whose certificate this entry revokes.
    issuer: u16,
}

const _: () = assert!(std::mem::size_of::<IndexSlot>() == 24);

const SLOT_REASON_MASK: u8 = 0x0f;
/// The entry has an invalidityDate extension (decoded from the DER on a hit).
const SLOT_HAS_INVALIDITY_DATE: u8 = 0x10;
/// The revocation date is before 1970 or after 2106 and is decoded from the DER on a hit.
const SLOT_DATE_ELSEWHERE: u8 = 0x20;

/// CRLs with at least this many entries get a bucket table over the top 16 bits of the
/// serial prefix (256 KiB), which turns a 20-step binary search over 14 MB into a short one
/// inside a bucket of a few entries.
const BUCKETED_FROM: usize = 4_096;
const BUCKET_BITS: u32 = 16;

impl Crl {
    /// Walks revokedCertificates (`der[start..end]`), checking every entry and building the
    /// sorted serial index.
    pub(super) fn index_entries(
        &mut self,
        der: &[u8],
        start: usize,
        end: usize,
        version: u32,
        indirect: bool,
    ) -> Result<(), Reason> {
        // Counting first sizes the index exactly: a growing Vec would briefly hold 1.5x.
        let mut count = 0usize;
        let mut cursor = &der[start..end];
        while !cursor.is_empty() {
            let (rest, _) = expect_tlv(cursor, Tag::Sequence, "revoked certificate entry")?;
            count += 1;
            cursor = rest;
        }
        let mut index = Vec::with_capacity(count);
        let mut issuer_slot: u16 = 0;
        let mut cursor = &der[start..end];
        while !cursor.is_empty() {
            let (rest, entry) = expect_tlv(cursor, Tag::Sequence, "revoked certificate entry")?;
            let entry_start = offset_of(der, cursor);
            cursor = rest;
            let decoded = decode_entry(entry.data)?;
            if decoded.has_extensions && version == 1 {
                return Err(malformed("a v1 CRL carries entry extensions"));
            }
            if let Some(names) = decoded.certificate_issuer {
                // RFC 5280 §5.3.3: only an indirect CRL may say whose certificate an entry
                // revokes. In a CRL not marked indirect, the extension would make entries
                // silently miss the certificates they revoke, so the CRL is refused.
                if !indirect {
                    return Err(malformed(
                        "certificateIssuer entry extension in a CRL that is not indirect",
                    ));
                }
                let name = names.into_iter().find_map(|n| match n {
                    GeneralName::Directory(name) => Some(name),
                    _ => None,
                });
                if self.entry_issuers.len() >= usize::from(u16::MAX) {
                    return Err(malformed("too many distinct certificateIssuer entries"));
                }
                self.entry_issuers.push(name);
                issuer_slot = (self.entry_issuers.len() - 1) as u16;
            }
            let serial = decoded.serial;
            let mut flags = decoded.reason.code();
            if decoded.invalidity_date.is_some() {
                flags |= SLOT_HAS_INVALIDITY_DATE;
            }
            let revocation_date = u32::try_from(decoded.revocation_date.0).unwrap_or_else(|_| {
                flags |= SLOT_DATE_ELSEWHERE;
                0
            });
            index.push(IndexSlot {
                prefix: prefix_of(serial),
                serial_start: offset_of(der, serial) as u32,
                entry_start: entry_start as u32,
                revocation_date,
                serial_len: serial.len() as u8,
                flags,
                issuer: issuer_slot,
            });
        }
        index.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| slot_serial(der, a).cmp(slot_serial(der, b)))
        });
        if index.len() >= BUCKETED_FROM {
            let mut buckets = Vec::with_capacity((1 << BUCKET_BITS) + 1);
            let mut slot = 0usize;
            for bucket in 0..(1u64 << BUCKET_BITS) {
                while slot < index.len() && index[slot].prefix >> (64 - BUCKET_BITS) < bucket {
                    slot += 1;
                }
                buckets.push(slot as u32);
            }
            buckets.push(index.len() as u32);
            self.buckets = buckets;
        }
        self.index = index;
        Ok(())
    }

    /// Looks up the certificate with this serial number (INTEGER content octets) issued by
    /// `certificate_issuer`. For a direct CRL that is the CRL issuer; an indirect CRL says per
    /// entry (certificateIssuer).
    pub fn lookup(&self, certificate_issuer: &Name, serial: &[u8]) -> Option<RevokedEntry> {
        let serial = canonical_integer(serial);
        let prefix = prefix_of(serial);
        let candidates: &[IndexSlot] = if self.buckets.is_empty() {
            &self.index
        } else {
            let bucket = (prefix >> (64 - BUCKET_BITS)) as usize;
            &self.index[self.buckets[bucket] as usize..self.buckets[bucket + 1] as usize]
        };
        let first = candidates.partition_point(|slot| slot.prefix < prefix);
        let mut issuer_known: Option<bool> = None;
        for slot in candidates[first..]
            .iter()
            .take_while(|s| s.prefix == prefix)
        {
            if slot_serial(&self.der, slot) != serial {
                continue;
            }
            // Direct CRLs have one issuer for every entry, so this comparison runs once.
            let matches = if self.entry_issuers.len() == 1 {
                *issuer_known.get_or_insert_with(|| {
                    self.entry_issuers[0].as_ref() == Some(certificate_issuer)
                })
            } else {
                self.entry_issuers[usize::from(slot.issuer)].as_ref() == Some(certificate_issuer)
            };
            if matches {
                return Some(self.entry_at(slot));
            }
        }
        None
    }

    fn entry_at(&self, slot: &IndexSlot) -> RevokedEntry {
        let reason = RevocationReason::from_code(slot.flags & SLOT_REASON_MASK)
            .unwrap_or(RevocationReason::Unspecified);
        let serial = slot_serial(&self.der, slot).to_vec();
        if slot.flags & (SLOT_HAS_INVALIDITY_DATE | SLOT_DATE_ELSEWHERE) == 0 {
            return RevokedEntry {
                serial,
                revocation_date: UnixTime(i64::from(slot.revocation_date)),
                reason,
                invalidity_date: None,
            };
        }
        // The entry decoded once already when the CRL was indexed, so this cannot fail; the
        // fallback keeps a revoked certificate revoked even if it somehow did.
        let start = slot.entry_start as usize;
        match expect_tlv(&self.der[start..], Tag::Sequence, "entry")
            .and_then(|(_, entry)| decode_entry(entry.data))
        {
            Ok(entry) => RevokedEntry {
                serial,
                revocation_date: entry.revocation_date,
                reason,
                invalidity_date: entry.invalidity_date,
            },
            Err(_) => RevokedEntry {
                serial,
                revocation_date: UnixTime(i64::MIN),
                reason,
                invalidity_date: None,
            },
        }
    }
}

fn prefix_of(serial: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = serial.len().min(8);
    bytes[..n].copy_from_slice(&serial[..n]);
    u64::from_be_bytes(bytes)
}

fn slot_serial<'d>(der: &'d [u8], slot: &IndexSlot) -> &'d [u8] {
    let start = slot.serial_start as usize;
    &der[start..start + usize::from(slot.serial_len)]
}
