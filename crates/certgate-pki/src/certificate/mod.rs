//! A parsed X.509 certificate: the outline and extensions decoded into owned fields the
//! validator works on, the names decoded on first use.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use crate::der::{self, tag, DerError, DerResult, Reader, Tlv};
use crate::error::Reason;
use crate::extension_der::{ExtensionIndex, GeneralNameRef, Kind};
use crate::name::Name;
use crate::oid::Oid;

mod values;

pub use values::*;

/// Seconds since the Unix epoch, UTC. The pki crate never reads a clock: callers pass this in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

/// Decoded extensions that validation, revocation and identity use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// basicConstraints (RFC 5280 §4.2.1.9); `None` when absent, which means not a CA.
    pub basic_constraints: Option<BasicConstraints>,
    /// keyUsage (§4.2.1.3); `None` when absent, which restricts nothing.
    pub key_usage: Option<KeyUsage>,
    /// All EKU OIDs, in order; `None` when the extension is absent.
    pub extended_key_usage: Option<Vec<Oid>>,
    /// subjectKeyIdentifier (§4.2.1.2): the KeyIdentifier octets.
    pub subject_key_id: Option<Vec<u8>>,
    /// authorityKeyIdentifier (§4.2.1.1).
    pub authority_key_id: Option<AuthorityKeyId>,
    /// `None` when the extension is absent.
    pub subject_alt_names: Option<Vec<GeneralName>>,
    /// certificatePolicies (§4.2.1.4), in order.
    pub certificate_policies: Option<Vec<PolicyInformation>>,
    /// policyMappings (§4.2.1.5), in order.
    pub policy_mappings: Option<Vec<PolicyMapping>>,
    /// policyConstraints (§4.2.1.11).
    pub policy_constraints: Option<PolicyConstraints>,
    /// inhibitAnyPolicy (§4.2.1.14): how many more certificates may follow before anyPolicy
    /// stops matching every policy.
    pub inhibit_any_policy: Option<u32>,
    /// nameConstraints (§4.2.1.10).
    pub name_constraints: Option<NameConstraints>,
    /// cRLDistributionPoints (§4.2.1.13): where the certificate's CRLs are.
    pub crl_distribution_points: Option<Vec<DistributionPoint>>,
    /// freshestCRL (§4.2.1.15): where the delta CRLs are.
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
    /// Where each processed extension is, checked at parse time, with its plain values.
    extension_index: ExtensionIndex,
    /// The owned extensions, decoded from the DER on first use. Once present they are what
    /// the accessors read (they hold the same values; crate tests edit them).
    decoded_extensions: OnceLock<Extensions>,
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
        // One copy of the input, which every part of the certificate then shares.
        let shared: Arc<[u8]> = Arc::from(der);
        let der: &[u8] = &shared;
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
        let issuer = der::range_in(der, issuer.raw);
        let mut validity = Reader::new(tbs_fields.expect(tag::SEQUENCE).map_err(at("validity"))?);
        let not_before = time(validity.read()).map_err(at("notBefore"))?;
        let not_after = time(validity.read()).map_err(at("notAfter"))?;
        validity.finish().map_err(at("validity"))?;
        let subject = tbs_fields
            .expect_tlv(tag::SEQUENCE)
            .map_err(at("subject"))?;
        let subject = der::range_in(der, subject.raw);
        let spki = tbs_fields
            .expect_tlv(tag::SEQUENCE)
            .map_err(at("subjectPublicKeyInfo"))?;
        let public_key = public_key_info(&shared, spki).map_err(at("subjectPublicKeyInfo"))?;
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
        let extension_index = match tbs_fields
            .optional(tag::context_constructed(3))
            .map_err(at("extensions"))?
        {
            Some(_) if version < 3 => return Err(Reason::UnsupportedVersion),
            Some(explicit) => {
                let list = der::single(explicit, tag::SEQUENCE).map_err(at("extensions"))?;
                crate::extension_der::index_extensions(der, list)?
            }
            None => ExtensionIndex::default(),
        };
        tbs_fields.finish().map_err(at("tbsCertificate"))?;

        let tbs_start = der.len() - certificate.len();
        let tbs = tbs_start..tbs_start + tbs.raw.len();
        let serial = der::range_in(der, serial);
        let signature = der::range_in(der, signature);
        let signature_algorithm =
            algorithm_identifier(&shared, outer_algorithm).map_err(at("signatureAlgorithm"))?;
        let issuer = Name::from_shared(&shared, issuer).map_err(at("issuer"))?;
        let subject = Name::from_shared(&shared, subject).map_err(at("subject"))?;
        Ok(Certificate {
            der: shared,
            tbs,
            version,
            serial,
            signature_algorithm,
            signature,
            issuer,
            subject,
            not_before,
            not_after,
            public_key,
            extension_index,
            decoded_extensions: OnceLock::new(),
            self_issued: OnceLock::new(),
        })
    }

    /// The whole certificate, DER, as parsed.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// The signed part (TBSCertificate), as encoded.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }
    /// The X.509 version as a number, 1, 2 or 3 (RFC 5280 §4.1.2.1; encoded as 0, 1 or 2).
    pub fn version(&self) -> u32 {
        self.version
    }
    /// Serial number content octets, big-endian, as encoded (may carry a leading 0x00).
    pub fn serial(&self) -> &[u8] {
        &self.der[self.serial.clone()]
    }
    /// signatureAlgorithm (RFC 5280 §4.1.1.2); parsing checked it equals the TBSCertificate's
    /// signature field.
    pub fn signature_algorithm(&self) -> &AlgorithmIdentifier {
        &self.signature_algorithm
    }
    /// The signatureValue BIT STRING's octets (§4.1.1.3), e.g. a DER ECDSA-Sig-Value.
    pub fn signature(&self) -> &[u8] {
        &self.der[self.signature.clone()]
    }
    /// The issuer name (§4.1.2.4), as encoded; path building matches it to a subject.
    pub fn issuer(&self) -> &Name {
        &self.issuer
    }
    /// The subject name (§4.1.2.6), as encoded; may be empty when the subjectAltName names
    /// the subject.
    pub fn subject(&self) -> &Name {
        &self.subject
    }
    /// The first second the certificate is valid (§4.1.2.5), inclusive.
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }
    /// The last second the certificate is valid (§4.1.2.5), inclusive.
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }
    /// The subjectPublicKeyInfo (§4.1.2.7).
    pub fn public_key(&self) -> &PublicKeyInfo {
        &self.public_key
    }
    /// Every processed extension, owned; decoded from the certificate's DER on first use.
    /// Validation reads the accessors below instead, which need no decoding.
    pub fn extensions(&self) -> &Extensions {
        self.decoded_extensions.get_or_init(|| {
            match self.extension_index.list(&self.der) {
                // The walkers that checked these bytes at parse time decode them now, so
                // this cannot fail; `debug_assert` keeps a divergence from going unnoticed.
                Some(list) => {
                    let decoded = crate::extension_der::decode_extensions(list);
                    debug_assert!(decoded.is_ok(), "parse-time check and decoding disagree");
                    decoded.unwrap_or_default()
                }
                None => Extensions::default(),
            }
        })
    }

    /// The owned extensions, for crate tests that build unusual certificates by editing them.
    #[cfg(test)]
    pub(crate) fn extensions_mut(&mut self) -> &mut Extensions {
        self.extensions();
        self.decoded_extensions
            .get_mut()
            .expect("extensions() decoded them")
    }

    fn decoded(&self) -> Option<&Extensions> {
        self.decoded_extensions.get()
    }

    /// basicConstraints (§4.2.1.9), read without decoding the other extensions.
    pub fn basic_constraints(&self) -> Option<BasicConstraints> {
        match self.decoded() {
            Some(decoded) => decoded.basic_constraints,
            None => self.extension_index.basic_constraints,
        }
    }

    /// keyUsage (§4.2.1.3), read without decoding the other extensions.
    pub fn key_usage(&self) -> Option<KeyUsage> {
        match self.decoded() {
            Some(decoded) => decoded.key_usage,
            None => self.extension_index.key_usage,
        }
    }

    /// policyConstraints (§4.2.1.11), read without decoding the other extensions.
    pub fn policy_constraints(&self) -> Option<PolicyConstraints> {
        match self.decoded() {
            Some(decoded) => decoded.policy_constraints,
            None => self.extension_index.policy_constraints,
        }
    }

    /// inhibitAnyPolicy's SkipCerts (§4.2.1.14), read without decoding the other extensions.
    pub fn inhibit_any_policy(&self) -> Option<u32> {
        match self.decoded() {
            Some(decoded) => decoded.inhibit_any_policy,
            None => self.extension_index.inhibit_any_policy,
        }
    }

    /// The subjectKeyIdentifier.
    pub fn subject_key_id(&self) -> Option<&[u8]> {
        match self.decoded() {
            Some(decoded) => decoded.subject_key_id.as_deref(),
            None => self.extension_index.subject_key_id(&self.der),
        }
    }

    /// The keyIdentifier field of the authorityKeyIdentifier.
    pub fn authority_key_identifier(&self) -> Option<&[u8]> {
        match self.decoded() {
            Some(decoded) => decoded
                .authority_key_id
                .as_ref()
                .and_then(|aki| aki.key_id.as_deref()),
            None => self.extension_index.authority_key_id(&self.der),
        }
    }

    /// Whether the extension is present.
    pub(crate) fn has_extension(&self, kind: Kind) -> bool {
        let Some(decoded) = self.decoded() else {
            return self.extension_index.is_present(kind);
        };
        match kind {
            Kind::SubjectKeyId => decoded.subject_key_id.is_some(),
            Kind::KeyUsage => decoded.key_usage.is_some(),
            Kind::SubjectAltName => decoded.subject_alt_names.is_some(),
            Kind::BasicConstraints => decoded.basic_constraints.is_some(),
            Kind::NameConstraints => decoded.name_constraints.is_some(),
            Kind::CrlDistributionPoints => decoded.crl_distribution_points.is_some(),
            Kind::CertificatePolicies => decoded.certificate_policies.is_some(),
            Kind::PolicyMappings => decoded.policy_mappings.is_some(),
            Kind::AuthorityKeyId => decoded.authority_key_id.is_some(),
            Kind::PolicyConstraints => decoded.policy_constraints.is_some(),
            Kind::ExtendedKeyUsage => decoded.extended_key_usage.is_some(),
            Kind::FreshestCrl => decoded.freshest_crl.is_some(),
            Kind::InhibitAnyPolicy => decoded.inhibit_any_policy.is_some(),
            Kind::AuthorityInfoAccess => decoded.authority_info_access.is_some(),
            Kind::Other => false,
        }
    }

    /// Whether the extension is present and marked critical.
    pub(crate) fn is_critical(&self, kind: Kind) -> bool {
        match self.decoded() {
            Some(decoded) => kind != Kind::Other && decoded.is_critical(kind.dotted()),
            None => self.extension_index.is_critical(kind),
        }
    }

    /// The first critical extension certgate does not process (RFC 5280 §4.2: reject).
    pub(crate) fn first_unknown_critical(&self) -> Option<Oid> {
        match self.decoded() {
            Some(decoded) => decoded.unknown_critical.first().cloned(),
            None => self
                .extension_index
                .first_unknown_critical(&self.der)
                .map(crate::extension_der::owned_oid),
        }
    }

    /// `None` without an extendedKeyUsage extension; otherwise whether it lists `dotted`.
    pub(crate) fn extended_key_usage_lists(&self, dotted: &str) -> Option<bool> {
        if let Some(decoded) = self.decoded() {
            let ekus = decoded.extended_key_usage.as_ref()?;
            return Some(ekus.iter().any(|eku| eku.as_str() == dotted));
        }
        let value = self
            .extension_index
            .value(&self.der, Kind::ExtendedKeyUsage)?;
        let mut found = false;
        let walked = crate::extension_der::walk_oid_list(value, |encoded| {
            found |= crate::oid::common_oid(encoded).map_or_else(
                || crate::extension_der::owned_oid(encoded).as_str() == dotted,
                |common| common == dotted,
            );
            Ok(())
        });
        // Checked at parse time; a failure would mean the list lists nothing.
        Some(walked.is_ok() && found)
    }

    /// The first dNSName of the subjectAltName for which `wanted` holds.
    pub(crate) fn find_dns_name(&self, mut wanted: impl FnMut(&str) -> bool) -> Option<String> {
        if let Some(decoded) = self.decoded() {
            return decoded
                .subject_alt_names
                .iter()
                .flatten()
                .find_map(|name| match name {
                    GeneralName::Dns(dns) if wanted(dns) => Some(dns.clone()),
                    _ => None,
                });
        }
        let value = self
            .extension_index
            .value(&self.der, Kind::SubjectAltName)?;
        let mut found = None;
        let _ = der::single(value, tag::SEQUENCE).and_then(|names| {
            crate::extension_der::walk_general_names(names, |name| {
                if let GeneralNameRef::Dns(dns) = name {
                    if found.is_none() && wanted(dns) {
                        found = Some(dns.to_owned());
                    }
                }
                Ok(())
            })
        });
        found
    }

    /// Self-issued: issuer and subject are the same name (RFC 5280 §6.1).
    pub fn is_self_issued(&self) -> bool {
        *self.self_issued.get_or_init(|| self.issuer == self.subject)
    }

    /// True when basicConstraints says cA.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints().is_some_and(|b| b.ca)
    }
}

/// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }, with the
/// parameters kept as their whole encoding (NULL included: RSA signatures carry it).
/// `element` lies in `shared`.
fn algorithm_identifier(shared: &Arc<[u8]>, element: Tlv<'_>) -> DerResult<AlgorithmIdentifier> {
    let mut fields = Reader::new(element.value);
    let oid = Oid::from_der_content(fields.expect(tag::OID)?)
        .ok_or(DerError("malformed algorithm OID"))?;
    let parameters = if fields.is_empty() {
        None
    } else {
        Some(SharedBytes::new(
            shared,
            der::range_in(shared, fields.read()?.raw),
        ))
    };
    fields.finish()?;
    Ok(AlgorithmIdentifier { oid, parameters })
}

/// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT
/// STRING }. NULL parameters (rsaEncryption) are dropped: they say nothing. `spki` lies in
/// `shared`.
fn public_key_info(shared: &Arc<[u8]>, spki: Tlv<'_>) -> DerResult<PublicKeyInfo> {
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
    let part = |bytes: &[u8]| SharedBytes::new(shared, der::range_in(shared, bytes));
    Ok(PublicKeyInfo {
        der: part(spki.raw),
        algorithm: oid,
        parameters: parameters.map(|p| part(p.raw)),
        key: part(key),
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

    /// Validation reads extensions through the parse-time index; everything else reads the
    /// owned extensions decoded on first use. The two must say the same of every certificate:
    /// each PKITS certificate (policies, mappings, name constraints, unknown critical
    /// extensions, distribution points) and a client certificate with a SAN and an EKU.
    #[test]
    fn the_index_and_the_decoded_extensions_agree() {
        let dir = crate::policy::tests::pkits_dir().join("certs");
        let mut ders: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .expect("the PKITS certificates")
            .map(|entry| std::fs::read(entry.expect("a directory entry").path()).expect("read"))
            .collect();
        let spec = certgate_testpki::ChainSpec {
            leaf_dns_names: vec!["host.corp.example".into(), "alt.corp.example".into()],
            ..certgate_testpki::ChainSpec::default()
        };
        let pki = certgate_testpki::TestPki::three_level(&spec).expect("a test PKI");
        ders.extend([pki.leaf.der, pki.intermediate.der, pki.root.der]);
        let kinds = [
            Kind::SubjectKeyId,
            Kind::KeyUsage,
            Kind::SubjectAltName,
            Kind::BasicConstraints,
            Kind::NameConstraints,
            Kind::CrlDistributionPoints,
            Kind::CertificatePolicies,
            Kind::PolicyMappings,
            Kind::AuthorityKeyId,
            Kind::PolicyConstraints,
            Kind::ExtendedKeyUsage,
            Kind::FreshestCrl,
            Kind::InhibitAnyPolicy,
            Kind::AuthorityInfoAccess,
            Kind::Other,
        ];
        let mut checked = 0;
        for der in &ders {
            let Ok(indexed) = Certificate::from_der(der) else {
                continue;
            };
            let decoded = Certificate::from_der(der).expect("parses twice");
            let owned = decoded.extensions();
            assert!(indexed.decoded_extensions.get().is_none());
            let what = indexed.subject().to_string();
            assert_eq!(
                indexed.basic_constraints(),
                owned.basic_constraints,
                "{what}"
            );
            assert_eq!(indexed.key_usage(), owned.key_usage, "{what}");
            assert_eq!(
                indexed.policy_constraints(),
                owned.policy_constraints,
                "{what}"
            );
            assert_eq!(
                indexed.inhibit_any_policy(),
                owned.inhibit_any_policy,
                "{what}"
            );
            assert_eq!(
                indexed.subject_key_id(),
                owned.subject_key_id.as_deref(),
                "{what}"
            );
            assert_eq!(
                indexed.authority_key_identifier(),
                owned
                    .authority_key_id
                    .as_ref()
                    .and_then(|aki| aki.key_id.as_deref()),
                "{what}"
            );
            assert_eq!(
                indexed.first_unknown_critical(),
                owned.unknown_critical.first().cloned(),
                "{what}"
            );
            for kind in kinds {
                assert_eq!(
                    indexed.has_extension(kind),
                    decoded.has_extension(kind),
                    "{what} {kind:?}"
                );
                assert_eq!(
                    indexed.is_critical(kind),
                    decoded.is_critical(kind),
                    "{what} {kind:?}"
                );
            }
            for eku in owned.extended_key_usage.iter().flatten() {
                assert_eq!(
                    indexed.extended_key_usage_lists(eku.as_str()),
                    Some(true),
                    "{what}"
                );
            }
            assert_eq!(
                indexed.extended_key_usage_lists("1.2.3.4.5"),
                owned.extended_key_usage.as_ref().map(|_| false),
                "{what}"
            );
            let first_dns = owned
                .subject_alt_names
                .iter()
                .flatten()
                .find_map(|name| match name {
                    GeneralName::Dns(dns) => Some(dns.clone()),
                    _ => None,
                });
            assert_eq!(indexed.find_dns_name(|_| true), first_dns, "{what}");
            // Reading the owned form switches the accessors over without changing answers.
            assert_eq!(indexed.extensions(), owned, "{what}");
            assert_eq!(
                indexed.basic_constraints(),
                owned.basic_constraints,
                "{what}"
            );
            checked += 1;
        }
        assert!(checked > 400, "only {checked} certificates were compared");
    }

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
