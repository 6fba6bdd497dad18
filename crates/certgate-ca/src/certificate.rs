//! Writing and signing X.509 v3 certificates (RFC 5280 §4.1) and the extensions certgate puts
//! into them (§4.2). The profiles themselves (what goes into a CA or a client certificate) live
//! in `hierarchy` and `end_entity`.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::der;
use crate::error::CaError;
use crate::key::SigningKey;

// Attribute types (RFC 5280 Appendix A.1) and extension OIDs (§4.2.1, §4.2.2).
const ORGANIZATION_NAME: &[u64] = &[2, 5, 4, 10];
const COMMON_NAME: &[u64] = &[2, 5, 4, 3];
const SUBJECT_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 14];
const KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
const BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const CRL_DISTRIBUTION_POINTS: &[u64] = &[2, 5, 29, 31];
const CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
const AUTHORITY_KEY_IDENTIFIER: &[u64] = &[2, 5, 29, 35];
const EXTENDED_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
pub(crate) const FRESHEST_CRL: &[u64] = &[2, 5, 29, 46];
const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
const CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];
const SERVER_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 1];
/// Microsoft's User Principal Name otherName (szOID_NT_PRINCIPAL_NAME).
const UPN: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];

/// keyUsage bits (RFC 5280 §4.2.1.3), most significant bit = bit 0 of the ASN.1 type.
pub(crate) const DIGITAL_SIGNATURE: u8 = 0x80;
pub(crate) const KEY_CERT_SIGN: u8 = 0x04;
pub(crate) const CRL_SIGN: u8 = 0x02;

/// Upper bound of commonName and organizationName (RFC 5280 Appendix A.1, ub-common-name,
/// ub-organization-name).
const MAX_NAME_ATTRIBUTE_CHARS: usize = 64;

/// Clock skew allowance: notBefore is set this far before the issuing time, so that relying
/// parties whose clocks run a little slow accept a certificate issued a moment ago.
pub(crate) const BACKDATE: Duration = Duration::hours(1);

/// The fields of a TBSCertificate that differ between certificates.
pub(crate) struct TbsCertificate<'a> {
    /// INTEGER content octets.
    pub(crate) serial: &'a [u8],
    /// The issuer's subject, as encoded in the issuer's certificate.
    pub(crate) issuer_name: &'a [u8],
    pub(crate) not_before: OffsetDateTime,
    pub(crate) not_after: OffsetDateTime,
    pub(crate) subject_name: &'a [u8],
    pub(crate) subject_public_key_info: &'a [u8],
    /// Complete Extension TLVs.
    pub(crate) extensions: Vec<Vec<u8>>,
}

impl TbsCertificate<'_> {
    /// Encodes the v3 TBSCertificate (RFC 5280 §4.1.2) and signs it with `signer`.
    pub(crate) fn sign(&self, signer: &SigningKey) -> Result<Vec<u8>, CaError> {
        let validity = der::sequence(&[
            &encode_time(self.not_before, "validity")?,
            &encode_time(self.not_after, "validity")?,
        ]);
        let extensions = der::context_constructed(
            3,
            &[&der::sequence(
                &self
                    .extensions
                    .iter()
                    .map(Vec::as_slice)
                    .collect::<Vec<_>>(),
            )],
        );
        let tbs = der::sequence(&[
            // version [0] EXPLICIT v3(2)
            &der::context_constructed(0, &[&der::u64_integer(2)]),
            &der::tlv(der::INTEGER, self.serial),
            &signer.signature_algorithm(),
            self.issuer_name,
            &validity,
            self.subject_name,
            self.subject_public_key_info,
            &extensions,
        ]);
        signer.sign_structure(&tbs)
    }
}

pub(crate) fn encode_time(at: OffsetDateTime, field: &'static str) -> Result<Vec<u8>, CaError> {
    der::time(at)
        .ok_or_else(|| CaError::invalid(field, format!("{at} is outside the years 0000 to 9999")))
}

/// `at` in UTC without its fraction of a second, as the certificate will carry it
/// (RFC 5280 §4.1.2.5: seconds, no fractions).
pub(crate) fn whole_seconds(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(UtcOffset::UTC);
    at - Duration::nanoseconds(i64::from(at.nanosecond()))
}

/// `start + days`, or an `InvalidRequest` naming `field` when that leaves the representable
/// range.
pub(crate) fn add_days(
    start: OffsetDateTime,
    days: u32,
    field: &'static str,
) -> Result<OffsetDateTime, CaError> {
    if days == 0 {
        return Err(CaError::invalid(field, "must be at least 1 day"));
    }
    start
        .checked_add(Duration::days(i64::from(days)))
        .filter(|end| end.year() <= 9999)
        .ok_or_else(|| CaError::invalid(field, format!("{days} days reaches beyond the year 9999")))
}

/// A fresh serial number (RFC 5280 §4.1.2.2): 16 random octets, the first in 0x01..=0x7f so
/// that the INTEGER is positive and its content octets are exactly these 16 bytes. That leaves
/// at least 126 bits of randomness, which also keeps the TBS unpredictable to the requester.
pub(crate) fn random_serial() -> Result<Vec<u8>, CaError> {
    let mut serial = vec![0u8; 16];
    SystemRandom::new()
        .fill(&mut serial)
        .map_err(|_| CaError::CryptoFailed {
            operation: "random serial number",
        })?;
    if let Some(first) = serial.first_mut() {
        *first = (*first & 0x7f).max(1);
    }
    Ok(serial)
}

/// The key identifier of a public key: RFC 7093 §2 method 1, the leftmost 160 bits of the
/// SHA-256 hash of the subjectPublicKey BIT STRING value (RFC 5280 §4.2.1.2 leaves the method
/// open; this one avoids SHA-1).
pub(crate) fn key_identifier(subject_public_key_bits: &[u8]) -> Vec<u8> {
    let hash = digest::digest(&digest::SHA256, subject_public_key_bits);
    hash.as_ref().iter().take(20).copied().collect()
}

/// A subject Name of `O=<organization>, CN=<common name>` RDNs in that order, UTF8String
/// values (RFC 5280 §4.1.2.6: new certificates use UTF8String).
pub(crate) fn subject_name(
    organization: Option<(&str, &'static str)>,
    common_name: (&str, &'static str),
) -> Result<Vec<u8>, CaError> {
    let mut rdns = Vec::new();
    if let Some((value, field)) = organization {
        rdns.push(rdn(ORGANIZATION_NAME, value, field)?);
    }
    let (value, field) = common_name;
    rdns.push(rdn(COMMON_NAME, value, field)?);
    Ok(der::sequence(
        &rdns.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    ))
}

fn rdn(attribute: &[u64], value: &str, field: &'static str) -> Result<Vec<u8>, CaError> {
    check_name_attribute(value, field)?;
    let attribute = der::sequence(&[&der::known_oid(attribute), &der::utf8_string(value)]);
    Ok(der::constructed(der::SET, &[&attribute]))
}

/// A name attribute: not blank, no surrounding whitespace, no control characters, at most 64
/// characters.
pub(crate) fn check_name_attribute(value: &str, field: &'static str) -> Result<(), CaError> {
    if value.trim().is_empty() {
        return Err(CaError::invalid(field, "must not be empty"));
    }
    if value.trim() != value {
        return Err(CaError::invalid(
            field,
            "must not start or end with whitespace",
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(CaError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    let chars = value.chars().count();
    if chars > MAX_NAME_ATTRIBUTE_CHARS {
        return Err(CaError::invalid(
            field,
            format!("has {chars} characters; X.509 allows at most {MAX_NAME_ATTRIBUTE_CHARS} (RFC 5280 Appendix A.1)"),
        ));
    }
    Ok(())
}

/// A URL written into a certificate or CRL as a uniformResourceIdentifier (IA5String,
/// RFC 5280 §4.2.1.6): ASCII without spaces or control characters, with a scheme.
pub(crate) fn check_url(url: &str, field: &'static str) -> Result<(), CaError> {
    let well_formed = url
        .bytes()
        .all(|b| b.is_ascii_graphic())
        .then(|| url.split_once(':'))
        .flatten()
        .is_some_and(|(scheme, rest)| {
            !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        });
    if well_formed {
        Ok(())
    } else {
        Err(CaError::invalid(
            field,
            format!("\"{url}\" is not an absolute ASCII URL such as http://pki.example.com/ca.crl"),
        ))
    }
}

/// Extension builders. Criticality follows RFC 5280 §4.2.1.x for each.
pub(crate) mod extension {
    use super::*;

    /// basicConstraints (§4.2.1.9), critical. `Some(path_len)` makes a CA; `None` an end
    /// entity (an empty SEQUENCE: cA DEFAULT FALSE is omitted in DER).
    pub(crate) fn basic_constraints(ca: Option<Option<u8>>) -> Vec<u8> {
        let value = match ca {
            Some(Some(path_len)) => {
                der::sequence(&[&der::boolean_true(), &der::u64_integer(u64::from(path_len))])
            }
            Some(None) => der::sequence(&[&der::boolean_true()]),
            None => der::sequence(&[]),
        };
        der::extension(BASIC_CONSTRAINTS, true, &value)
    }

    /// keyUsage (§4.2.1.3), critical.
    pub(crate) fn key_usage(bits: u8) -> Vec<u8> {
        der::extension(KEY_USAGE, true, &der::named_bits(bits))
    }

    /// extendedKeyUsage id-kp-clientAuth (§4.2.1.12), non-critical, as Windows CAs write it.
    pub(crate) fn client_auth() -> Vec<u8> {
        der::extension(
            EXTENDED_KEY_USAGE,
            false,
            &der::sequence(&[&der::known_oid(CLIENT_AUTH)]),
        )
    }

    /// extendedKeyUsage id-kp-serverAuth (§4.2.1.12), non-critical.
    pub(crate) fn server_auth() -> Vec<u8> {
        der::extension(
            EXTENDED_KEY_USAGE,
            false,
            &der::sequence(&[&der::known_oid(SERVER_AUTH)]),
        )
    }

    /// subjectAltName (§4.2.1.6) with dNSName and iPAddress entries, non-critical.
    pub(crate) fn server_names(dns_names: &[String], ip_addresses: &[std::net::IpAddr]) -> Vec<u8> {
        let mut names: Vec<Vec<u8>> = dns_names
            .iter()
            .map(|name| der::context_primitive(2, name.as_bytes()))
            .collect();
        names.extend(ip_addresses.iter().map(|ip| match ip {
            std::net::IpAddr::V4(v4) => der::context_primitive(7, &v4.octets()),
            std::net::IpAddr::V6(v6) => der::context_primitive(7, &v6.octets()),
        }));
        der::extension(
            SUBJECT_ALT_NAME,
            false,
            &der::sequence(&names.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        )
    }

    /// subjectKeyIdentifier (§4.2.1.2), non-critical.
    pub(crate) fn subject_key_identifier(key_id: &[u8]) -> Vec<u8> {
        der::extension(SUBJECT_KEY_IDENTIFIER, false, &der::octet_string(key_id))
    }

    /// authorityKeyIdentifier with keyIdentifier only (§4.2.1.1), non-critical.
    pub(crate) fn authority_key_identifier(key_id: &[u8]) -> Vec<u8> {
        der::extension(
            AUTHORITY_KEY_IDENTIFIER,
            false,
            &der::sequence(&[&der::context_primitive(0, key_id)]),
        )
    }

    /// subjectAltName (§4.2.1.6) with the UPN otherName (UTF8String, as Windows and Entra
    /// read it) and an optional rfc822Name. Non-critical: the subject is not empty.
    pub(crate) fn subject_alt_name(upn: &str, email: Option<&str>) -> Vec<u8> {
        // otherName [0] IMPLICIT SEQUENCE { type-id, value [0] EXPLICIT UTF8String }
        let upn = der::context_constructed(
            0,
            &[
                &der::known_oid(UPN),
                &der::context_constructed(0, &[&der::utf8_string(upn)]),
            ],
        );
        let mut names = vec![upn];
        if let Some(email) = email {
            names.push(der::context_primitive(1, email.as_bytes()));
        }
        der::extension(
            SUBJECT_ALT_NAME,
            false,
            &der::sequence(&names.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        )
    }

    /// certificatePolicies (§4.2.1.4) with bare policy identifiers, non-critical. The OIDs
    /// are already encoded TLVs.
    pub(crate) fn certificate_policies(policies: &[Vec<u8>]) -> Vec<u8> {
        let infos: Vec<Vec<u8>> = policies.iter().map(|p| der::sequence(&[p])).collect();
        der::extension(
            CERTIFICATE_POLICIES,
            false,
            &der::sequence(&infos.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        )
    }

    /// `CRLDistributionPoints` syntax with one distribution point whose fullName is `url`
    /// (§4.2.1.13): `SEQUENCE { SEQUENCE { [0] { [0] { [6] url } } } }`.
    pub(crate) fn distribution_points_value(url: &str) -> Vec<u8> {
        let uri = der::context_primitive(6, url.as_bytes());
        let full_name = der::context_constructed(0, &[&uri]);
        let point_name = der::context_constructed(0, &[&full_name]);
        der::sequence(&[&der::sequence(&[&point_name])])
    }

    /// cRLDistributionPoints (§4.2.1.13), non-critical.
    pub(crate) fn crl_distribution_point(url: &str) -> Vec<u8> {
        der::extension(
            CRL_DISTRIBUTION_POINTS,
            false,
            &distribution_points_value(url),
        )
    }

    /// freshestCRL (§4.2.1.15): where delta CRLs are; MUST be non-critical.
    pub(crate) fn freshest_crl(url: &str) -> Vec<u8> {
        der::extension(FRESHEST_CRL, false, &distribution_points_value(url))
    }

    /// authorityInfoAccess with one caIssuers URI (§4.2.2.1), MUST be non-critical.
    pub(crate) fn ca_issuers(url: &str) -> Vec<u8> {
        let access = der::sequence(&[
            &der::known_oid(CA_ISSUERS),
            &der::context_primitive(6, url.as_bytes()),
        ]);
        der::extension(AUTHORITY_INFO_ACCESS, false, &der::sequence(&[&access]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_sixteen_positive_octets_and_differ() {
        let a = random_serial().expect("serial");
        let b = random_serial().expect("serial");
        assert_eq!(a.len(), 16);
        assert!((1..=0x7f).contains(&a[0]));
        assert_ne!(a, b);
        assert_eq!(
            der::unsigned_integer(&a)[2..],
            a[..],
            "no sign octet needed"
        );
    }

    #[test]
    fn urls_need_a_scheme_and_plain_ascii() {
        for good in [
            "http://pki.contoso.example/pki/root.crl",
            "ldap:///CN=Root,CN=CDP?certificateRevocationList",
        ] {
            assert!(check_url(good, "crl_url").is_ok(), "{good}");
        }
        for bad in [
            "",
            "pki.contoso.example/root.crl",
            "http://pki.contoso.example/a b.crl",
            "http://bücher.example/ca.crl",
            "1http://x",
            "http:",
        ] {
            let error = check_url(bad, "crl_url").expect_err(bad);
            assert_eq!(error.code(), "ca-invalid-request");
        }
    }

    #[test]
    fn name_attributes_are_trimmed_short_and_printable() {
        assert!(check_name_attribute("Contoso", "organization").is_ok());
        assert!(check_name_attribute("Zoë Müller-Lüdenscheidt", "common_name").is_ok());
        for bad in ["", "  ", " Contoso", "Contoso\n", "a\u{7}b"] {
            assert!(
                check_name_attribute(bad, "organization").is_err(),
                "{bad:?}"
            );
        }
        assert!(check_name_attribute(&"x".repeat(64), "common_name").is_ok());
        assert!(check_name_attribute(&"x".repeat(65), "common_name").is_err());
    }

    #[test]
    fn days_are_added_within_range() {
        let start = OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("in range");
        assert_eq!(
            add_days(start, 1, "validity_days").expect("one day"),
            start + Duration::days(1)
        );
        assert!(add_days(start, 0, "validity_days").is_err());
        assert!(add_days(start, u32::MAX, "validity_days").is_err());
    }
}
