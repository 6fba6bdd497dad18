//! A parsed X.509 certificate: the outline and extensions decoded into owned fields the
//! validator works on, the names decoded on first use.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use crate::der::{self, tag, DerError, DerResult, Reader, Tlv};
use crate::error::Reason;
use crate::name::{Name, NameAttribute};
use crate::oid::Oid;

/// Seconds since the Unix epoch, UTC. The pki crate never reads a clock: callers pass this in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

/// A GeneralName (RFC 5280 §4.2.1.6), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeneralName {
    Rfc822(String),
    Dns(String),
    Uri(String),
    /// 4 or 16 bytes for an address; 8 or 32 (address + mask) inside name constraints.
    Ip(Vec<u8>),
    Directory(Name),
    /// `value` is the content of the `[0] EXPLICIT` wrapper (the inner TLV).
    OtherName {
        type_id: Oid,
        value: Vec<u8>,
    },
    RegisteredId(Oid),
    /// x400Address, ediPartyName, or a form that did not decode: kept so that name
    /// constraints can fail closed on it.
    Unsupported {
        tag: u32,
    },
}

/// A distribution point name (RFC 5280 §4.2.1.13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DistributionPointName {
    FullName(Vec<GeneralName>),
    /// One RDN, to be appended to the CRL issuer's name.
    RelativeToCrlIssuer(Vec<NameAttribute>),
}

/// Bit positions of ReasonFlags (RFC 5280 §4.2.1.13), as a bit set: bit n = flag n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReasonSet(pub u16);

impl ReasonSet {
    /// All reasons a CRL can cover: unused(0) excluded, keyCompromise(1)..aACompromise(8).
    pub const ALL: ReasonSet = ReasonSet(0b1_1111_1110);
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributionPoint {
    pub name: Option<DistributionPointName>,
    pub reasons: Option<ReasonSet>,
    pub crl_issuer: Option<Vec<GeneralName>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyInformation {
    pub policy: Oid,
    /// Qualifiers are carried for completeness; RFC 5280 §6.1.3(d) attaches them to tree nodes.
    pub qualifiers: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyMapping {
    pub issuer_domain: Oid,
    pub subject_domain: Oid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyConstraints {
    pub require_explicit_policy: Option<u32>,
    pub inhibit_policy_mapping: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameConstraints {
    pub permitted: Option<Vec<GeneralName>>,
    pub excluded: Option<Vec<GeneralName>>,
    /// The extension's criticality flag (RFC 5280 §4.2.1.10 requires it set).
    pub critical: bool,
    /// What makes the extension malformed, if anything (empty subtrees, neither field,
    /// minimum/maximum): decoded from the raw DER, since x509-parser skips these.
    pub defect: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicConstraints {
    pub ca: bool,
    pub path_len: Option<u32>,
}

/// keyUsage bits (RFC 5280 §4.2.1.3), bit n = `KeyUsage::...` constant n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyUsage(pub u16);

impl KeyUsage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const NON_REPUDIATION: u16 = 1 << 1;
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    pub const DATA_ENCIPHERMENT: u16 = 1 << 3;
    pub const KEY_AGREEMENT: u16 = 1 << 4;
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    pub const CRL_SIGN: u16 = 1 << 6;

    pub fn allows(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityKeyId {
    pub key_id: Option<Vec<u8>>,
    pub issuer: Option<Vec<GeneralName>>,
    pub serial: Option<Vec<u8>>,
}

/// SubjectPublicKeyInfo, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyInfo {
    /// The whole SubjectPublicKeyInfo DER.
    pub der: Vec<u8>,
    pub algorithm: Oid,
    /// DER of the AlgorithmIdentifier parameters, if present (and not NULL).
    pub parameters: Option<Vec<u8>>,
    /// Contents of the subjectPublicKey BIT STRING.
    pub key: Vec<u8>,
}

/// An AlgorithmIdentifier (signature algorithms), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgorithmIdentifier {
    pub oid: Oid,
    /// Full DER of the parameters element, if present (RSASSA-PSS needs it).
    pub parameters: Option<Vec<u8>>,
}

/// One AccessDescription of authorityInfoAccess (RFC 5280 §4.2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessDescription {
    pub method: Oid,
    pub location: GeneralName,
}

/// authorityInfoAccess as found. certgate fetches nothing from it; the TLS server profile
/// checks that it is well formed (CA/Browser Forum BRs §7.1.2.7.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorityInfoAccess {
    /// The descriptions in order (possibly none, which RFC 5280 does not allow).
    Decoded(Vec<AccessDescription>),
    /// The extension value is not a DER AuthorityInfoAccessSyntax.
    Malformed,
}

/// Decoded extensions that validation, revocation and identity use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    pub basic_constraints: Option<BasicConstraints>,
    pub key_usage: Option<KeyUsage>,
    /// All EKU OIDs, in order; `None` when the extension is absent.
    pub extended_key_usage: Option<Vec<Oid>>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<AuthorityKeyId>,
    /// `None` when the extension is absent.
    pub subject_alt_names: Option<Vec<GeneralName>>,
    pub certificate_policies: Option<Vec<PolicyInformation>>,
    pub policy_mappings: Option<Vec<PolicyMapping>>,
    pub policy_constraints: Option<PolicyConstraints>,
    pub inhibit_any_policy: Option<u32>,
    pub name_constraints: Option<NameConstraints>,
    pub crl_distribution_points: Option<Vec<DistributionPoint>>,
    pub freshest_crl: Option<Vec<DistributionPoint>>,
    /// Critical extensions that certgate does not process (RFC 5280 §4.2: reject).
    pub unknown_critical: Vec<Oid>,
    /// `None` when the extension is absent.
    pub authority_info_access: Option<AuthorityInfoAccess>,
    /// Every extension marked critical, known or not, in certificate order (the profile
    /// checks of RFC 5280 §4.2.1 need the flag of known ones too).
    pub critical: Vec<Oid>,
}

impl Extensions {
    /// True when the extension `oid` is present and marked critical.
    pub fn is_critical(&self, oid: &str) -> bool {
        self.critical.iter().any(|c| c.as_str() == oid)
    }
}

/// A parsed certificate. Owns its DER; fields are decoded at parse time except the names'
/// attributes, which are decoded on first use.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// Shared with the issuer and subject names, which are slices of it.
    der: Arc<[u8]>,
    tbs: Range<usize>,
    pub(crate) version: u32,
    serial: Range<usize>,
    pub(crate) signature_algorithm: AlgorithmIdentifier,
    signature: Range<usize>,
    pub(crate) issuer: Name,
    pub(crate) subject: Name,
    pub(crate) not_before: UnixTime,
    pub(crate) not_after: UnixTime,
    pub(crate) public_key: PublicKeyInfo,
    pub(crate) extensions: Extensions,
    /// Whether issuer and subject are the same name, decided on first use.
    self_issued: OnceLock<bool>,
}

impl Certificate {
    /// Parses one DER certificate. Trailing bytes, duplicate extensions and undecodable known
    /// extensions are rejected: a certificate that two parsers could read differently is not
    /// one certgate will trust.
    ///
    /// The outline (RFC 5280 §4.1) and the extensions are decoded here; the issuer and subject
    /// names are checked for structure and decoded on first use (see [`Name`]).
    pub fn from_der(der: &[u8]) -> Result<Self, Reason> {
        let malformed = |detail: &str| Reason::CertificateMalformed {
            detail: detail.to_string(),
        };
        let at = |field: &'static str| {
            move |e: DerError| Reason::CertificateMalformed {
                detail: format!("{field}: {e}"),
            }
        };
        let mut outer = Reader::new(der);
        let certificate = outer.expect(tag::SEQUENCE).map_err(at("Certificate"))?;
        if !outer.is_empty() {
            return Err(malformed("trailing data after the certificate"));
        }
        let mut fields = Reader::new(certificate);
        let tbs = fields
            .expect_tlv(tag::SEQUENCE)
            .map_err(at("tbsCertificate"))?;
        let outer_algorithm = fields
            .expect_tlv(tag::SEQUENCE)
            .map_err(at("signatureAlgorithm"))?;
        let signature = fields
            .expect(tag::BIT_STRING)
            .and_then(der::whole_octets_bit_string)
            .map_err(at("signatureValue"))?;
        fields.finish().map_err(at("Certificate"))?;

        let mut tbs_fields = Reader::new(tbs.value);
        let version = match tbs_fields
            .optional(tag::context_constructed(0))
            .map_err(at("version"))?
        {
            // Version ::= INTEGER { v1(0), v2(1), v3(2) }, [0] EXPLICIT.
            Some(explicit) => match der::single(explicit, tag::INTEGER)
                .and_then(der::small_unsigned)
                .map_err(at("version"))?
            {
                number @ 0..=2 => number + 1,
                _ => return Err(Reason::UnsupportedVersion),
            },
            None => 1,
        };
        let serial = tbs_fields
            .expect(tag::INTEGER)
            .map_err(at("serialNumber"))?;
        if serial.is_empty() {
            return Err(malformed("serialNumber: empty INTEGER"));
        }
        let inner_algorithm = tbs_fields
            .expect_tlv(tag::SEQUENCE)
            .map_err(at("signature"))?;
        // RFC 5280 §4.1.1.2: the inner and outer signature algorithms must be identical.
        if inner_algorithm.raw != outer_algorithm.raw {
            return Err(malformed(
                "signatureAlgorithm differs from the TBSCertificate's signature field",
            ));
        }
        let issuer = tbs_fields.expect_tlv(tag::SEQUENCE).map_err(at("issuer"))?;
        let issuer = range_in(der, issuer.raw);
        let mut validity = Reader::new(tbs_fields.expect(tag::SEQUENCE).map_err(at("validity"))?);
        let not_before = time(validity.read()).map_err(at("notBefore"))?;
        let not_after = time(validity.read()).map_err(at("notAfter"))?;
        validity.finish().map_err(at("validity"))?;
        let subject = tbs_fields
            .expect_tlv(tag::SEQUENCE)
            .map_err(at("subject"))?;
        let subject = range_in(der, subject.raw);
        let spki = tbs_fields
            .expect_tlv(tag::SEQUENCE)
            .map_err(at("subjectPublicKeyInfo"))?;
        let public_key = public_key_info(spki).map_err(at("subjectPublicKeyInfo"))?;
        // RFC 5280 §4.1.2.8: unique identifiers only in v2 and v3.
        for (number, field) in [(1, "issuerUniqueID"), (2, "subjectUniqueID")] {
            if tbs_fields
                .optional(tag::context(number))
                .map_err(at(field))?
                .is_some()
                && version < 2
            {
                return Err(Reason::UnsupportedVersion);
            }
        }
        let extensions = match tbs_fields
            .optional(tag::context_constructed(3))
            .map_err(at("extensions"))?
        {
            Some(_) if version < 3 => return Err(Reason::UnsupportedVersion),
            Some(explicit) => {
                let list = der::single(explicit, tag::SEQUENCE).map_err(at("extensions"))?;
                crate::extension_der::decode_extensions(list)?
            }
            None => Extensions::default(),
        };
        tbs_fields.finish().map_err(at("tbsCertificate"))?;

        let tbs_start = der.len() - certificate.len();
        let shared: Arc<[u8]> = Arc::from(der);
        let issuer = Name::from_shared(&shared, issuer).map_err(at("issuer"))?;
        let subject = Name::from_shared(&shared, subject).map_err(at("subject"))?;
        Ok(Certificate {
            der: shared,
            tbs: tbs_start..tbs_start + tbs.raw.len(),
            version,
            serial: range_in(der, serial),
            signature_algorithm: algorithm_identifier(outer_algorithm)
                .map_err(at("signatureAlgorithm"))?,
            signature: range_in(der, signature),
            issuer,
            subject,
            not_before,
            not_after,
            public_key,
            extensions,
            self_issued: OnceLock::new(),
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// The signed part (TBSCertificate), as encoded.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }
    pub fn version(&self) -> u32 {
        self.version
    }
    /// Serial number content octets, big-endian, as encoded (may carry a leading 0x00).
    pub fn serial(&self) -> &[u8] {
        &self.der[self.serial.clone()]
    }
    pub fn signature_algorithm(&self) -> &AlgorithmIdentifier {
        &self.signature_algorithm
    }
    pub fn signature(&self) -> &[u8] {
        &self.der[self.signature.clone()]
    }
    pub fn issuer(&self) -> &Name {
        &self.issuer
    }
    pub fn subject(&self) -> &Name {
        &self.subject
    }
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }
    pub fn public_key(&self) -> &PublicKeyInfo {
        &self.public_key
    }
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Self-issued: issuer and subject are the same name (RFC 5280 §6.1).
    pub fn is_self_issued(&self) -> bool {
        *self.self_issued.get_or_init(|| self.issuer == self.subject)
    }

    /// True when basicConstraints says cA.
    pub fn is_ca(&self) -> bool {
        self.extensions.basic_constraints.is_some_and(|b| b.ca)
    }
}

/// Where `part`, a subslice of `whole`, lies in it.
fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start + part.len()
}

/// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }, with the
/// parameters kept as their whole encoding (NULL included: RSA signatures carry it).
fn algorithm_identifier(element: Tlv<'_>) -> DerResult<AlgorithmIdentifier> {
    let mut fields = Reader::new(element.value);
    let oid = Oid::from_der_content(fields.expect(tag::OID)?)
        .ok_or(DerError("malformed algorithm OID"))?;
    let parameters = if fields.is_empty() {
        None
    } else {
        Some(fields.read()?.raw.to_vec())
    };
    fields.finish()?;
    Ok(AlgorithmIdentifier { oid, parameters })
}

/// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT
/// STRING }. NULL parameters (rsaEncryption) are dropped: they say nothing.
fn public_key_info(spki: Tlv<'_>) -> DerResult<PublicKeyInfo> {
    let mut fields = Reader::new(spki.value);
    let mut algorithm = Reader::new(fields.expect(tag::SEQUENCE)?);
    let oid = Oid::from_der_content(algorithm.expect(tag::OID)?)
        .ok_or(DerError("malformed algorithm OID"))?;
    let parameters = if algorithm.is_empty() {
        None
    } else {
        Some(algorithm.read()?).filter(|p| p.tag != tag::NULL)
    };
    algorithm.finish()?;
    let key = der::whole_octets_bit_string(fields.expect(tag::BIT_STRING)?)?;
    fields.finish()?;
    Ok(PublicKeyInfo {
        der: spki.raw.to_vec(),
        algorithm: oid,
        parameters: parameters.map(|p| p.raw.to_vec()),
        key: key.to_vec(),
    })
}

/// Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime } in the only forms RFC 5280
/// §4.1.2.5.1–2 allows: `YYMMDDHHMMSSZ` (years 1950–2049) and `YYYYMMDDHHMMSSZ`, seconds
/// present, no fraction, UTC.
pub(crate) fn time(element: DerResult<Tlv<'_>>) -> DerResult<UnixTime> {
    let element = element?;
    let digits = |text: &[u8]| -> DerResult<i64> {
        text.iter().try_fold(0i64, |acc, &c| {
            if c.is_ascii_digit() {
                Ok(acc * 10 + i64::from(c - b'0'))
            } else {
                Err(DerError("a time with a non-digit"))
            }
        })
    };
    let (year, rest) = match (element.tag, element.value) {
        (tag::UTC_TIME, value) if value.len() == 13 => {
            let year = digits(&value[..2])?;
            (
                if year < 50 { 2000 + year } else { 1900 + year },
                &value[2..],
            )
        }
        (tag::GENERALIZED_TIME, value) if value.len() == 15 => (digits(&value[..4])?, &value[4..]),
        (tag::UTC_TIME | tag::GENERALIZED_TIME, _) => {
            return Err(DerError("a time not in the form RFC 5280 requires"))
        }
        _ => return Err(DerError("not a UTCTime or GeneralizedTime")),
    };
    if rest[10] != b'Z' {
        return Err(DerError("a time not in UTC (Z)"));
    }
    let (month, day) = (digits(&rest[0..2])?, digits(&rest[2..4])?);
    let (hour, minute, second) = (
        digits(&rest[4..6])?,
        digits(&rest[6..8])?,
        digits(&rest[8..10])?,
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(DerError("a time with an invalid month")),
    };
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 59 {
        return Err(DerError("a time with an invalid day or time of day"));
    }
    Ok(UnixTime(
        days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second,
    ))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known era-based method:
/// 400-year eras of 146,097 days, years starting in March so the leap day comes last).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tag: u8, text: &str) -> DerResult<UnixTime> {
        let mut encoded = Vec::new();
        der::write_tlv(&mut encoded, tag, text.as_bytes());
        time(Reader::new(&encoded).read())
    }

    #[test]
    fn rfc5280_4_1_2_5_times_in_their_one_allowed_form() {
        assert_eq!(at(tag::UTC_TIME, "700101000000Z"), Ok(UnixTime(0)));
        // UTCTime years 50–99 are 19xx, 00–49 are 20xx (§4.1.2.5.1).
        assert_eq!(
            at(tag::UTC_TIME, "500101000000Z"),
            Ok(UnixTime(-631_152_000))
        );
        assert_eq!(
            at(tag::UTC_TIME, "491231235959Z"),
            Ok(UnixTime(2_524_607_999))
        );
        assert_eq!(
            at(tag::GENERALIZED_TIME, "20500101000000Z"),
            Ok(UnixTime(2_524_608_000))
        );
        assert_eq!(
            at(tag::GENERALIZED_TIME, "20240229120000Z"),
            Ok(UnixTime(1_709_208_000))
        );
        for (tag, text) in [
            (tag::UTC_TIME, "7001010000Z"),               // no seconds
            (tag::UTC_TIME, "700101000000+0000"),         // not Z
            (tag::UTC_TIME, "700101000000"),              // no zone
            (tag::GENERALIZED_TIME, "20240229120000.5Z"), // fraction
            (tag::GENERALIZED_TIME, "20230229120000Z"),   // no 29 February in 2023
            (tag::GENERALIZED_TIME, "21000229120000Z"),   // nor in 2100
            (tag::UTC_TIME, "701301000000Z"),             // month 13
            (tag::UTC_TIME, "700101240000Z"),             // hour 24
            (tag::UTC_TIME, "700101005960Z"),             // second 60
            (tag::UTC_TIME, "7001010000-0Z"),             // not a digit
            (tag::OCTET_STRING, "700101000000Z"),         // not a time
        ] {
            assert!(at(tag, text).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn days_from_civil_agrees_with_a_day_by_day_count() {
        let mut days = 0i64;
        for year in 1970..2110 {
            for month in 1..=12 {
                let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
                let length = match month {
                    2 if leap => 29,
                    2 => 28,
                    4 | 6 | 9 | 11 => 30,
                    _ => 31,
                };
                assert_eq!(days_from_civil(year, month, 1), days, "{year}-{month}");
                days += length;
            }
        }
    }
}
