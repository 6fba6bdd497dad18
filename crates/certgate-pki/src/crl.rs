//! Certificate revocation lists (RFC 5280 §5): parsed once, indexed for sub-microsecond lookups.
//!
//! A CRL from a large CA can list hundreds of thousands of certificates (20 MB and more), and
//! every sign-in looks a serial number up in it. x509-parser decodes every entry into owned
//! structures with their extensions, which costs several allocations per entry; so the list of
//! revoked certificates is walked here with asn1-rs's zero-copy TLV reader instead, checked
//! entry by entry (unknown critical entry extensions make the whole CRL unusable, RFC 5280
//! §5.3), and indexed by serial number into a compact sorted array that points back into the
//! DER. The CRL-level fields (issuer, times, extensions) are still decoded with x509-parser.

use std::sync::Mutex;

use x509_parser::der_parser::asn1_rs::ToDer as _;
use x509_parser::der_parser::asn1_rs::{Any, BitString, Class, FromDer, Tag};
use x509_parser::extensions::X509Extension;
use x509_parser::time::ASN1Time;
use x509_parser::x509::{AlgorithmIdentifier as ParserAlgorithmIdentifier, X509Name};

use crate::certificate::{
    AlgorithmIdentifier, AuthorityKeyId, Certificate, DistributionPoint, DistributionPointName,
    GeneralName, PublicKeyInfo, ReasonSet, UnixTime,
};
use crate::distribution_point::{decode_distribution_points, decode_issuing_distribution_point};
use crate::error::Reason;
use crate::name::Name;
use crate::oid::{known, Oid};
use crate::signature::{verify_signed_data, AlgorithmPolicy, Keep};

/// Longest serial number accepted in a CRL entry, in content octets. RFC 5280 §4.1.2.2 allows
/// 20; PKITS 4.4.16-18 use 20 too. Anything much longer is not a serial number.
const MAX_SERIAL_OCTETS: usize = 64;

/// DER content octets of the entry extension OIDs certgate processes (2.5.29.21/24/29),
/// compared without decoding the OID.
const OID_REASON_CODE: &[u8] = &[0x55, 0x1d, 0x15];
const OID_INVALIDITY_DATE: &[u8] = &[0x55, 0x1d, 0x18];
const OID_CERTIFICATE_ISSUER: &[u8] = &[0x55, 0x1d, 0x1d];

/// Why a certificate was revoked (RFC 5280 §5.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    /// Only meaningful in a delta CRL: the certificate is no longer on hold.
    RemoveFromCrl,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Unspecified,
            1 => Self::KeyCompromise,
            2 => Self::CaCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            6 => Self::CertificateHold,
            // 7 is not used.
            8 => Self::RemoveFromCrl,
            9 => Self::PrivilegeWithdrawn,
            10 => Self::AaCompromise,
            _ => return None,
        })
    }

    /// The CRLReason enumerated value.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::RemoveFromCrl => 8,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }

    /// Reads the RFC 5280 name (`keyCompromise`, any case, `-`/`_` ignored) as people type it.
    /// `removeFromCRL` is refused: it is not a reason to revoke.
    pub fn parse(text: &str) -> Option<Self> {
        let folded: String = text
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        [
            Self::Unspecified,
            Self::KeyCompromise,
            Self::CaCompromise,
            Self::AffiliationChanged,
            Self::Superseded,
            Self::CessationOfOperation,
            Self::CertificateHold,
            Self::PrivilegeWithdrawn,
            Self::AaCompromise,
        ]
        .into_iter()
        .find(|reason| reason.as_str().to_lowercase() == folded)
    }

    /// The RFC 5280 ASN.1 name, e.g. `keyCompromise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::RemoveFromCrl => "removeFromCRL",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }
}

impl std::fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One revoked certificate, as the CRL lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number content octets, as encoded in the CRL.
    pub serial: Vec<u8>,
    pub revocation_date: UnixTime,
    /// `Unspecified` when the entry has no reasonCode extension.
    pub reason: RevocationReason,
    pub invalidity_date: Option<UnixTime>,
}

/// The issuingDistributionPoint extension (RFC 5280 §5.2.5): the CRL's scope.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IssuingDistributionPoint {
    pub distribution_point: Option<DistributionPointName>,
    pub only_contains_user_certs: bool,
    pub only_contains_ca_certs: bool,
    pub only_some_reasons: Option<ReasonSet>,
    pub indirect_crl: bool,
    pub only_contains_attribute_certs: bool,
}

/// One index slot: where a revoked serial sits in the DER, sorted by (`prefix`, serial).
///
/// Kept at 24 bytes so that 600,000 entries index in about 14 MB beside the DER. The first
/// eight octets of the canonical serial are stored inline so that the search almost never
/// touches the (cold) DER before it has found its match, and the revocation date and reason
/// are stored too, so that a hit needs no decoding.
#[derive(Clone, Copy, Debug)]
struct IndexSlot {
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

/// A parsed CRL. Owns its DER; the signature is checked against a signer chosen by the
/// revocation checker (RFC 5280 §6.3.3 (f)), and successful checks are remembered.
#[derive(Debug)]
pub struct Crl {
    der: Vec<u8>,
    tbs: (usize, usize),
    signature_algorithm: AlgorithmIdentifier,
    signature: Vec<u8>,
    issuer: Name,
    this_update: UnixTime,
    next_update: Option<UnixTime>,
    crl_number: Option<Vec<u8>>,
    delta_base_crl_number: Option<Vec<u8>>,
    issuing_distribution_point: Option<IssuingDistributionPoint>,
    authority_key_id: Option<AuthorityKeyId>,
    freshest_crl: Option<Vec<DistributionPoint>>,
    /// Certificate issuers the entries refer to: index 0 is the CRL issuer; indirect CRLs add
    /// one per certificateIssuer entry extension. `None` when that extension names no
    /// directoryName: such entries can match no certificate.
    entry_issuers: Vec<Option<Name>>,
    index: Vec<IndexSlot>,
    /// For large CRLs: `buckets[b]..buckets[b + 1]` are the slots whose prefix starts with
    /// the 16 bits `b`. Empty for small CRLs.
    buckets: Vec<u32>,
    verified_signers: Mutex<Vec<VerifiedSigner>>,
}

/// A signer whose signature over this CRL verified, under which algorithm policy.
#[derive(Debug, Clone, PartialEq, Eq)]
struct VerifiedSigner {
    public_key: Vec<u8>,
    inherited_parameters: Option<Vec<u8>>,
    algorithms: AlgorithmPolicy,
}

/// Signers remembered per CRL; a CRL normally has exactly one.
const MAX_REMEMBERED_SIGNERS: usize = 4;

fn malformed(detail: impl Into<String>) -> Reason {
    Reason::CrlMalformed {
        detail: detail.into(),
    }
}

fn offset_of(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// Reads one DER TLV with the given universal tag.
fn expect_tlv<'a>(input: &'a [u8], tag: Tag, what: &str) -> Result<(&'a [u8], Any<'a>), Reason> {
    let (rest, any) = Any::from_der(input).map_err(|e| malformed(format!("{what}: {e}")))?;
    if any.class() != Class::Universal || any.tag() != tag {
        return Err(malformed(format!("{what}: unexpected tag {}", any.tag())));
    }
    Ok((rest, any))
}

/// The shortest two's-complement form of an INTEGER's content octets, so that serials match
/// however a CA padded them (DER requires this form, but certificates and CRLs from the same
/// CA have been seen to disagree).
pub(crate) fn canonical_integer(mut octets: &[u8]) -> &[u8] {
    while octets.len() > 1
        && ((octets[0] == 0x00 && octets[1] < 0x80) || (octets[0] == 0xff && octets[1] >= 0x80))
    {
        octets = &octets[1..];
    }
    octets
}

fn prefix_of(serial: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = serial.len().min(8);
    bytes[..n].copy_from_slice(&serial[..n]);
    u64::from_be_bytes(bytes)
}

fn parse_time<'a>(input: &'a [u8], what: &str) -> Result<(&'a [u8], UnixTime), Reason> {
    let (rest, time) = ASN1Time::from_der(input).map_err(|e| malformed(format!("{what}: {e}")))?;
    Ok((rest, UnixTime(time.timestamp())))
}

fn starts_with_time(input: &[u8]) -> bool {
    matches!(input.first(), Some(0x17 | 0x18))
}

impl Crl {
    /// Parses and indexes one DER CRL. Rejects trailing data, a TBS signature algorithm that
    /// differs from the outer one, duplicate or malformed extensions, and unknown critical CRL or
    /// entry extensions (`crl-unknown-critical-extension`): a CRL certgate cannot fully
    /// understand is never used.
    pub fn from_der(der: Vec<u8>) -> Result<Crl, Reason> {
        if der.len() > u32::MAX as usize {
            return Err(malformed("CRL larger than 4 GiB"));
        }
        let (rest, outer) = expect_tlv(&der, Tag::Sequence, "CertificateList")?;
        if !rest.is_empty() {
            return Err(malformed("trailing data after the CRL"));
        }
        let (after_tbs, tbs_any) = expect_tlv(outer.data, Tag::Sequence, "TBSCertList")?;
        let tbs_raw = &outer.data[..outer.data.len() - after_tbs.len()];
        let tbs_start = offset_of(&der, tbs_raw);
        let (after_alg, outer_alg) = ParserAlgorithmIdentifier::from_der(after_tbs)
            .map_err(|e| malformed(format!("signatureAlgorithm: {e}")))?;
        let (after_sig, signature) = BitString::from_der(after_alg)
            .map_err(|e| malformed(format!("signatureValue: {e}")))?;
        if !after_sig.is_empty() {
            return Err(malformed("trailing data inside the CertificateList"));
        }
        let signature_algorithm = AlgorithmIdentifier {
            oid: Oid::from_parser(&outer_alg.algorithm),
            parameters: outer_alg
                .parameters
                .as_ref()
                .map(|p| p.to_der_vec_raw().unwrap_or_default().into()),
        };
        let signature = signature.data.to_vec();

        // TBSCertList
        let mut input = tbs_any.data;
        let mut version = 1;
        if input.first() == Some(&0x02) {
            let (rest, v) = expect_tlv(input, Tag::Integer, "version")?;
            if v.data != [1] {
                return Err(malformed("CRL version must be v2 when present"));
            }
            version = 2;
            input = rest;
        }
        let (rest, inner_alg) = ParserAlgorithmIdentifier::from_der(input)
            .map_err(|e| malformed(format!("signature: {e}")))?;
        if inner_alg != outer_alg {
            return Err(malformed(
                "signatureAlgorithm differs from the TBSCertList's signature field (RFC 5280 §5.1.1.2)",
            ));
        }
        let (rest, issuer) =
            X509Name::from_der(rest).map_err(|e| malformed(format!("issuer: {e}")))?;
        let issuer = Name::from_parser(&issuer).map_err(|e| malformed(format!("issuer: {e}")))?;
        if issuer.is_empty() {
            return Err(malformed(
                "the CRL issuer name is empty (RFC 5280 §5.1.2.3)",
            ));
        }
        let (mut rest, this_update) = parse_time(rest, "thisUpdate")?;
        let mut next_update = None;
        if starts_with_time(rest) {
            let (r, t) = parse_time(rest, "nextUpdate")?;
            next_update = Some(t);
            rest = r;
        }
        let mut entries_tlv: Option<&[u8]> = None;
        if rest.first() == Some(&0x30) {
            let (r, list) = expect_tlv(rest, Tag::Sequence, "revokedCertificates")?;
            entries_tlv = Some(list.data);
            rest = r;
        }
        let mut crl_extensions: Vec<X509Extension<'_>> = Vec::new();
        if !rest.is_empty() {
            let (r, wrapper) =
                Any::from_der(rest).map_err(|e| malformed(format!("crlExtensions: {e}")))?;
            if wrapper.class() != Class::ContextSpecific || wrapper.tag() != Tag(0) {
                return Err(malformed("unexpected field after revokedCertificates"));
            }
            if !r.is_empty() {
                return Err(malformed("trailing data inside the TBSCertList"));
            }
            let (r, list) = expect_tlv(wrapper.data, Tag::Sequence, "crlExtensions")?;
            if !r.is_empty() {
                return Err(malformed("trailing data after crlExtensions"));
            }
            let mut items = list.data;
            while !items.is_empty() {
                let (r, ext) = X509Extension::from_der(items)
                    .map_err(|e| malformed(format!("CRL extension: {e}")))?;
                crl_extensions.push(ext);
                items = r;
            }
        }
        if version == 1 && !crl_extensions.is_empty() {
            return Err(malformed("a v1 CRL carries extensions"));
        }

        let mut crl = Crl {
            tbs: (tbs_start, tbs_start + tbs_raw.len()),
            signature_algorithm,
            signature,
            issuer,
            this_update,
            next_update,
            crl_number: None,
            delta_base_crl_number: None,
            issuing_distribution_point: None,
            authority_key_id: None,
            freshest_crl: None,
            entry_issuers: Vec::new(),
            index: Vec::new(),
            buckets: Vec::new(),
            verified_signers: Mutex::new(Vec::new()),
            der: Vec::new(),
        };
        crl.decode_extensions(&crl_extensions)?;
        let indirect = crl
            .issuing_distribution_point
            .as_ref()
            .is_some_and(|idp| idp.indirect_crl);
        let entries_start = entries_tlv.map(|e| offset_of(&der, e));
        drop(crl_extensions);
        crl.entry_issuers.push(Some(crl.issuer.clone()));
        if let Some(start) = entries_start {
            let end = start + entries_tlv.map_or(0, <[u8]>::len);
            crl.index_entries(&der, start, end, version, indirect)?;
        }
        crl.der = der;
        Ok(crl)
    }

    fn decode_extensions(&mut self, extensions: &[X509Extension<'_>]) -> Result<(), Reason> {
        let mut seen: Vec<Oid> = Vec::with_capacity(extensions.len());
        for ext in extensions {
            let oid = Oid::from_parser(&ext.oid);
            if seen.contains(&oid) {
                return Err(malformed(format!("extension {oid} appears twice")));
            }
            seen.push(oid.clone());
            let bad = || malformed(format!("extension {oid} could not be decoded"));
            match oid.as_str() {
                known::EXT_CRL_NUMBER => {
                    // RFC 5280 §5.2.3: "This extension is non-critical". A critical one is a
                    // CRL issuer certgate cannot vouch for, as other strict validators do.
                    if ext.critical {
                        return Err(Reason::CrlNumberCritical);
                    }
                    self.crl_number = Some(integer_value(ext.value).ok_or_else(bad)?)
                }
                known::EXT_DELTA_CRL_INDICATOR => {
                    // RFC 5280 §5.2.4: always critical; a non-critical one would let a
                    // delta CRL pass for a complete one in software that ignores it.
                    self.delta_base_crl_number = Some(integer_value(ext.value).ok_or_else(bad)?)
                }
                known::EXT_ISSUING_DISTRIBUTION_POINT => {
                    self.issuing_distribution_point =
                        Some(decode_issuing_distribution_point(ext.value).ok_or_else(bad)?)
                }
                known::EXT_AUTHORITY_KEY_ID => {
                    self.authority_key_id =
                        Some(crate::extension_der::authority_key_id(ext.value).map_err(|_| bad())?)
                }
                known::EXT_FRESHEST_CRL => {
                    self.freshest_crl = Some(decode_distribution_points(ext.value).ok_or_else(bad)?)
                }
                known::EXT_ISSUER_ALT_NAME | known::EXT_AUTHORITY_INFO_ACCESS => {}
                _ if ext.critical => return Err(Reason::CrlUnknownCriticalExtension { oid }),
                _ => {}
            }
        }
        if let Some(idp) = &self.issuing_distribution_point {
            let scopes = [
                idp.only_contains_user_certs,
                idp.only_contains_ca_certs,
                idp.only_contains_attribute_certs,
            ];
            if scopes.iter().filter(|s| **s).count() > 1 {
                return Err(malformed(
                    "issuingDistributionPoint asserts more than one onlyContains* scope (RFC 5280 §5.2.5)",
                ));
            }
        }
        Ok(())
    }

    /// Walks revokedCertificates (`der[start..end]`), checking every entry and building the
    /// sorted serial index.
    fn index_entries(
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

    /// The whole CRL as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// The signed part (TBSCertList), as encoded.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.0..self.tbs.1]
    }
    pub fn signature_algorithm(&self) -> &AlgorithmIdentifier {
        &self.signature_algorithm
    }
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
    pub fn issuer(&self) -> &Name {
        &self.issuer
    }
    pub fn this_update(&self) -> UnixTime {
        self.this_update
    }
    pub fn next_update(&self) -> Option<UnixTime> {
        self.next_update
    }
    /// cRLNumber content octets (canonical), if the CRL has one.
    pub fn crl_number(&self) -> Option<&[u8]> {
        self.crl_number.as_deref()
    }
    /// The BaseCRLNumber of a delta CRL; `None` for a complete CRL.
    pub fn delta_base_crl_number(&self) -> Option<&[u8]> {
        self.delta_base_crl_number.as_deref()
    }
    pub fn is_delta(&self) -> bool {
        self.delta_base_crl_number.is_some()
    }
    pub fn issuing_distribution_point(&self) -> Option<&IssuingDistributionPoint> {
        self.issuing_distribution_point.as_ref()
    }
    pub fn authority_key_id(&self) -> Option<&AuthorityKeyId> {
        self.authority_key_id.as_ref()
    }
    /// Where the delta CRLs for this CRL are published.
    pub fn freshest_crl(&self) -> Option<&[DistributionPoint]> {
        self.freshest_crl.as_deref()
    }
    /// Number of revoked certificates listed.
    pub fn entry_count(&self) -> usize {
        self.index.len()
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

    /// Checks the CRL's signature with `issuer`'s public key. This is only the cryptography:
    /// whether that certificate may sign this CRL is the revocation checker's question.
    pub fn verify_signature(
        &self,
        issuer: &Certificate,
        algorithms: &AlgorithmPolicy,
    ) -> Result<(), Reason> {
        self.verify_signature_with(issuer.public_key(), None, algorithms)
    }

    /// As [`Crl::verify_signature`], remembering keys that verified: hashing a 20 MB CRL costs
    /// tens of milliseconds, far too much to repeat on every sign-in.
    pub(crate) fn verify_signature_with(
        &self,
        key: &PublicKeyInfo,
        inherited_parameters: Option<&[u8]>,
        algorithms: &AlgorithmPolicy,
    ) -> Result<(), Reason> {
        let already = self.remembered().iter().any(|s| {
            s.public_key == key.der
                && s.inherited_parameters.as_deref() == inherited_parameters
                && s.algorithms == *algorithms
        });
        if already {
            return Ok(());
        }
        verify_signed_data(
            key,
            inherited_parameters,
            &self.signature_algorithm,
            self.tbs_der(),
            &self.signature,
            algorithms,
            Keep::Nothing,
        )
        .map_err(|reason| match reason {
            Reason::SignatureInvalid { .. } => Reason::CrlSignatureInvalid,
            other => other,
        })?;
        let verified = VerifiedSigner {
            public_key: key.der.to_vec(),
            inherited_parameters: inherited_parameters.map(<[u8]>::to_vec),
            algorithms: *algorithms,
        };
        let mut remembered = self.remembered();
        if remembered.len() < MAX_REMEMBERED_SIGNERS && !remembered.contains(&verified) {
            remembered.push(verified);
        }
        Ok(())
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, Vec<VerifiedSigner>> {
        // A poisoned lock only means another thread panicked mid-push; the list is still a
        // list of keys that verified.
        self.verified_signers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clone for Crl {
    fn clone(&self) -> Self {
        Crl {
            der: self.der.clone(),
            tbs: self.tbs,
            signature_algorithm: self.signature_algorithm.clone(),
            signature: self.signature.clone(),
            issuer: self.issuer.clone(),
            this_update: self.this_update,
            next_update: self.next_update,
            crl_number: self.crl_number.clone(),
            delta_base_crl_number: self.delta_base_crl_number.clone(),
            issuing_distribution_point: self.issuing_distribution_point.clone(),
            authority_key_id: self.authority_key_id.clone(),
            freshest_crl: self.freshest_crl.clone(),
            entry_issuers: self.entry_issuers.clone(),
            index: self.index.clone(),
            buckets: self.buckets.clone(),
            verified_signers: Mutex::new(self.remembered().clone()),
        }
    }
}

fn slot_serial<'d>(der: &'d [u8], slot: &IndexSlot) -> &'d [u8] {
    let start = slot.serial_start as usize;
    &der[start..start + usize::from(slot.serial_len)]
}

/// An INTEGER extension value (cRLNumber, BaseCRLNumber), canonical content octets.
fn integer_value(value: &[u8]) -> Option<Vec<u8>> {
    let (rest, any) = Any::from_der(value).ok()?;
    if !rest.is_empty() || any.class() != Class::Universal || any.tag() != Tag::Integer {
        return None;
    }
    if any.data.is_empty() || any.data[0] & 0x80 != 0 {
        // Empty, or negative: CRL numbers are 0..MAX.
        return None;
    }
    Some(canonical_integer(any.data).to_vec())
}

struct DecodedEntry<'a> {
    /// Canonical serial octets (a sub-slice of the DER).
    serial: &'a [u8],
    revocation_date: UnixTime,
    reason: RevocationReason,
    invalidity_date: Option<UnixTime>,
    certificate_issuer: Option<Vec<GeneralName>>,
    has_extensions: bool,
}

/// Decodes one revokedCertificates entry's content: serial, date, extensions.
fn decode_entry(content: &[u8]) -> Result<DecodedEntry<'_>, Reason> {
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
