//! Certificate revocation lists (RFC 5280 §5): parsed once, indexed for sub-microsecond lookups.
//!
//! A CRL from a large CA can list hundreds of thousands of certificates (20 MB and more), and
//! every sign-in looks a serial number up in it. x509-parser decodes every entry into owned
//! structures with their extensions, which costs several allocations per entry; so the list of
//! revoked certificates is walked here with asn1-rs's zero-copy TLV reader instead, checked
//! entry by entry (unknown critical entry extensions make the whole CRL unusable, RFC 5280
//! §5.3), and indexed by serial number into a compact sorted array that points back into the
//! DER. The CRL-level fields (issuer, times, extensions) are still decoded with x509-parser.

mod entry;
mod index;
mod parse;
mod revocation_reason;
mod verify;

pub use revocation_reason::RevocationReason;

use std::sync::Mutex;

use x509_parser::der_parser::asn1_rs::{Any, Class, FromDer, Tag};
use x509_parser::time::ASN1Time;

use crate::certificate::{
    AlgorithmIdentifier, AuthorityKeyId, DistributionPoint, DistributionPointName, ReasonSet,
    UnixTime,
};

use crate::error::Reason;
use crate::name::Name;
use index::IndexSlot;
use verify::VerifiedSigner;

/// One revoked certificate, as the CRL lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number content octets, as encoded in the CRL.
    pub serial: Vec<u8>,
    /// revocationDate (RFC 5280 §5.1.2.6): when the CA revoked the certificate.
    pub revocation_date: UnixTime,
    /// `Unspecified` when the entry has no reasonCode extension.
    pub reason: RevocationReason,
    /// The invalidityDate entry extension (§5.3.2): when the key is known or suspected to
    /// have been compromised, which may be before `revocation_date`.
    pub invalidity_date: Option<UnixTime>,
}

/// The issuingDistributionPoint extension (RFC 5280 §5.2.5): the CRL's scope.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IssuingDistributionPoint {
    /// The distribution point this CRL is for: a certificate's cRLDistributionPoints must
    /// name it (§6.3.3 (b)(2)(i)); `None` for every distribution point.
    pub distribution_point: Option<DistributionPointName>,
    /// onlyContainsUserCerts: the CRL covers end-entity certificates only.
    pub only_contains_user_certs: bool,
    /// onlyContainsCACerts: the CRL covers CA certificates only.
    pub only_contains_ca_certs: bool,
    /// onlySomeReasons: the reasons the CRL covers; `None` means all of them.
    pub only_some_reasons: Option<ReasonSet>,
    /// indirectCRL: the CRL may list certificates of issuers other than its own signer (each
    /// entry's certificateIssuer says whose, §5.3.3).
    pub indirect_crl: bool,
    /// onlyContainsAttributeCerts: the CRL covers attribute certificates only, so it says
    /// nothing about public-key certificates.
    pub only_contains_attribute_certs: bool,
}

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

fn parse_time<'a>(input: &'a [u8], what: &str) -> Result<(&'a [u8], UnixTime), Reason> {
    let (rest, time) = ASN1Time::from_der(input).map_err(|e| malformed(format!("{what}: {e}")))?;
    Ok((rest, UnixTime(time.timestamp())))
}

fn starts_with_time(input: &[u8]) -> bool {
    matches!(input.first(), Some(0x17 | 0x18))
}

impl Crl {
    /// The whole CRL as DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// The signed part (TBSCertList), as encoded.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.0..self.tbs.1]
    }
    /// signatureAlgorithm (RFC 5280 §5.1.1.2).
    pub fn signature_algorithm(&self) -> &AlgorithmIdentifier {
        &self.signature_algorithm
    }
    /// The signatureValue BIT STRING's octets (§5.1.1.3).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
    /// The issuer name (§5.1.2.3): the CA that signed the CRL.
    pub fn issuer(&self) -> &Name {
        &self.issuer
    }
    /// thisUpdate (§5.1.2.4): when the CRL was issued; it is not used before then.
    pub fn this_update(&self) -> UnixTime {
        self.this_update
    }
    /// nextUpdate (§5.1.2.5): the CRL is stale after it. RFC 5280 requires it, but the ASN.1
    /// makes it optional; `None` when absent.
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
    /// Whether this is a delta CRL (it has a deltaCRLIndicator, §5.2.4): it lists only the
    /// changes since its base CRL and is read together with it.
    pub fn is_delta(&self) -> bool {
        self.delta_base_crl_number.is_some()
    }
    /// The issuingDistributionPoint extension (§5.2.5), which limits the CRL's scope.
    pub fn issuing_distribution_point(&self) -> Option<&IssuingDistributionPoint> {
        self.issuing_distribution_point.as_ref()
    }
    /// The authorityKeyIdentifier (§5.2.1): which of the issuer's keys signed the CRL.
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
