//! Parsing a DER CRL (RFC 5280 §5.1): the CertificateList and TBSCertList structure, the
//! CRL extensions (§5.2), and the checks that make a CRL certgate cannot fully understand
//! unusable.

use std::sync::Mutex;

use x509_parser::der_parser::asn1_rs::ToDer as _;
use x509_parser::der_parser::asn1_rs::{Any, BitString, Class, FromDer, Tag};
use x509_parser::extensions::X509Extension;
use x509_parser::x509::{AlgorithmIdentifier as ParserAlgorithmIdentifier, X509Name};

use super::{
    canonical_integer, expect_tlv, malformed, offset_of, parse_time, starts_with_time, Crl,
};

use crate::certificate::AlgorithmIdentifier;
use crate::distribution_point::{decode_distribution_points, decode_issuing_distribution_point};
use crate::error::Reason;
use crate::name::Name;
use crate::oid::{known, Oid};

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
