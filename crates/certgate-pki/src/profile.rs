//! The RFC 5280 §4 certificate profile: the MUSTs a conforming CA follows, checked on every
//! certificate of a path and on the trust anchor, so that a certificate a strict validator
//! rejects is not accepted here either.
//!
//! Real PKIs sometimes break a MUST (old roots without key identifiers, negative serial
//! numbers). Each such exception is a named [`ProfileExceptions`] field, off by default; the
//! names start with `insecure_` because each one accepts certificates a conforming CA never
//! issues.

use crate::certificate::{Certificate, KeyUsage};
use crate::error::Reason;
use crate::extension_der::Kind;
use crate::signature::{check_public_key, check_signature_algorithm, AlgorithmPolicy};

/// Named, opt-in exceptions to the RFC 5280 §4 profile rules. All `false` by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProfileExceptions {
    /// Accept a CA certificate without subjectKeyIdentifier (§4.2.1.2) and a certificate that is
    /// not self-signed without authorityKeyIdentifier (§4.2.1.1). For CAs made before RFC 3280
    /// or by tools that left the key identifiers out.
    pub insecure_allow_missing_key_identifiers: bool,
    /// Accept a trust anchor whose basicConstraints is not marked critical (§4.2.1.9). Some
    /// older CA software wrote it non-critical. (Intermediates are not held to this: PKITS
    /// 4.6.4 expects a non-critical one there to be accepted.)
    pub insecure_allow_non_critical_basic_constraints: bool,
    /// Accept a serial number that is zero, negative or longer than 20 octets (§4.1.2.2), as
    /// some old CAs issued.
    pub insecure_allow_nonconforming_serial_numbers: bool,
    /// Accept a policyConstraints extension that is not marked critical (§4.2.1.11). CAs built
    /// to RFC 2459, which allowed either, do this; so does the NIST PKITS data, whose "valid"
    /// policy tests need this exception.
    pub insecure_allow_non_critical_policy_constraints: bool,
    /// Accept a trust anchor without a keyUsage extension (§4.2.1.3), as some roots from before
    /// RFC 3280 are. A keyUsage that is present must still allow keyCertSign.
    pub insecure_allow_anchor_without_key_usage: bool,
}

/// Checks the trust anchor when it is a certificate: basicConstraints present, critical and
/// cA; keyUsage with keyCertSign; no unknown critical extension; a non-empty subject; SKI
/// present and AKI (when present) non-critical; its key and signature algorithm within the
/// algorithm policy. The one rule both path validation and `certgate ca add` apply.
pub fn check_trust_anchor(
    anchor: &Certificate,
    algorithms: &AlgorithmPolicy,
    exceptions: &ProfileExceptions,
) -> Result<(), Reason> {
    match anchor.basic_constraints() {
        None => {
            return Err(Reason::AnchorNotACa {
                detail: "it has no basicConstraints extension",
            })
        }
        Some(basic) if !basic.ca => {
            return Err(Reason::AnchorNotACa {
                detail: "its basicConstraints says cA false",
            })
        }
        Some(_) => {}
    }
    // §4.2.1.9: CAs "MUST mark the extension as critical in such certificates". Checked on the
    // anchor only: PKITS 4.6.4 requires a non-critical one in an intermediate to be accepted.
    if !anchor.is_critical(Kind::BasicConstraints)
        && !exceptions.insecure_allow_non_critical_basic_constraints
    {
        return Err(Reason::ExtensionCriticalityInvalid {
            extension: "basicConstraints",
            actual: "not critical",
            rule: "RFC 5280 §4.2.1.9 requires it critical in a trust anchor",
        });
    }
    match anchor.key_usage() {
        Some(usage) if !usage.allows(KeyUsage::KEY_CERT_SIGN) => {
            return Err(Reason::AnchorKeyUsageInvalid {
                detail: "does not allow keyCertSign",
            })
        }
        None if !exceptions.insecure_allow_anchor_without_key_usage => {
            return Err(Reason::AnchorKeyUsageInvalid {
                detail: "extension is missing",
            })
        }
        _ => {}
    }
    if let Some(oid) = anchor.first_unknown_critical() {
        return Err(Reason::UnknownCriticalExtension { oid });
    }
    check_profile(anchor, exceptions)?;
    check_public_key(anchor.public_key(), algorithms)?;
    check_signature_algorithm(anchor.signature_algorithm(), algorithms)
}

/// Checks a CA certificate an administrator trusts as an intermediate (not an anchor): the
/// same profile rules as on a path, and its key and signature algorithm within the policy.
pub fn check_intermediate_ca(
    ca: &Certificate,
    algorithms: &AlgorithmPolicy,
    exceptions: &ProfileExceptions,
) -> Result<(), Reason> {
    // Without its issuer at hand, "self-signed" can only mean self-issued here; path
    // validation decides on the issuer's key.
    check_path_certificate(ca, ca.is_self_issued(), exceptions)?;
    if let Some(oid) = ca.first_unknown_critical() {
        return Err(Reason::UnknownCriticalExtension { oid });
    }
    check_public_key(ca.public_key(), algorithms)?;
    check_signature_algorithm(ca.signature_algorithm(), algorithms)
}

/// Checks one certificate of a path below the anchor. `self_signed`: its issuer's key is its
/// own key (§4.2.1.1 lets such a certificate omit the authorityKeyIdentifier).
pub(crate) fn check_path_certificate(
    cert: &Certificate,
    self_signed: bool,
    exceptions: &ProfileExceptions,
) -> Result<(), Reason> {
    // §4.2.1.1: "The keyIdentifier field of the authorityKeyIdentifier extension MUST be
    // included in all certificates generated by conforming CAs", except self-signed ones.
    if !self_signed
        && !exceptions.insecure_allow_missing_key_identifiers
        && cert.authority_key_identifier().is_none()
    {
        return Err(Reason::AuthorityKeyIdMissing);
    }
    check_profile(cert, exceptions)
}

/// The rules every certificate follows, anchor or not.
fn check_profile(cert: &Certificate, exceptions: &ProfileExceptions) -> Result<(), Reason> {
    if !exceptions.insecure_allow_nonconforming_serial_numbers {
        check_serial(cert.serial())?;
    }
    let critical = |kind: Kind| cert.is_critical(kind);
    // §4.2.1.1 / §4.2.1.2: "Conforming CAs MUST mark this extension as non-critical."
    if critical(Kind::AuthorityKeyId) {
        return Err(Reason::ExtensionCriticalityInvalid {
            extension: "authorityKeyIdentifier",
            actual: "critical",
            rule: "RFC 5280 §4.2.1.1 requires it non-critical",
        });
    }
    if critical(Kind::SubjectKeyId) {
        return Err(Reason::ExtensionCriticalityInvalid {
            extension: "subjectKeyIdentifier",
            actual: "critical",
            rule: "RFC 5280 §4.2.1.2 requires it non-critical",
        });
    }
    // §4.2.1.11: "Conforming CAs MUST mark this extension as critical."
    if cert.has_extension(Kind::PolicyConstraints)
        && !critical(Kind::PolicyConstraints)
        && !exceptions.insecure_allow_non_critical_policy_constraints
    {
        return Err(Reason::ExtensionCriticalityInvalid {
            extension: "policyConstraints",
            actual: "not critical",
            rule: "RFC 5280 §4.2.1.11 requires it critical",
        });
    }
    // §4.2.1.3: "If the keyCertSign bit is asserted, then the cA bit in the basic constraints
    // extension MUST also be asserted."
    if !cert.is_ca()
        && cert
            .key_usage()
            .is_some_and(|usage| usage.allows(KeyUsage::KEY_CERT_SIGN))
    {
        return Err(Reason::KeyCertSignOnEndEntity);
    }
    if cert.is_ca() {
        // §4.2.1.2: the SKI "MUST appear in all conforming CA certificates".
        if cert.subject_key_id().is_none() && !exceptions.insecure_allow_missing_key_identifiers {
            return Err(Reason::SubjectKeyIdMissing);
        }
        // §4.1.2.6: a CA's subject "MUST be populated with a non-empty distinguished name".
        if cert.subject().is_empty() {
            return Err(Reason::CaSubjectEmpty);
        }
    } else if cert.subject().is_empty() && !critical(Kind::SubjectAltName) {
        // §4.1.2.6 / §4.2.1.6: an empty subject needs a subjectAltName marked critical (an
        // absent SAN is not critical either).
        return Err(Reason::SanNotCriticalWithEmptySubject);
    }
    if let Some(name) = cert.find_dns_name(|dns| !is_preferred_dns_name(dns)) {
        return Err(Reason::DnsNameInvalid { name });
    }
    Ok(())
}

/// §4.1.2.2: "The serial number MUST be a positive integer ... Conforming CAs MUST NOT use
/// serialNumber values longer than 20 octets." The length counts the value's octets, not a
/// leading sign octet: a 160-bit value with its top bit set is 20 octets long (as
/// rustls-webpki counts).
fn check_serial(content: &[u8]) -> Result<(), Reason> {
    match content.first() {
        None => Err(Reason::SerialInvalid { detail: "is empty" }),
        Some(first) if first & 0x80 != 0 => Err(Reason::SerialInvalid {
            detail: "is negative",
        }),
        Some(_) => {
            let magnitude = match content.iter().position(|&b| b != 0) {
                Some(start) => &content[start..],
                None => return Err(Reason::SerialInvalid { detail: "is zero" }),
            };
            if magnitude.len() > 20 {
                return Err(Reason::SerialInvalid {
                    detail: "is longer than 20 octets",
                });
            }
            Ok(())
        }
    }
}

/// RFC 5280 §4.2.1.6: a dNSName "MUST be in the 'preferred name syntax', as specified by
/// Section 3.5 of [RFC1034] and as modified by Section 2.1 of [RFC1123]": dot-separated
/// labels of letters, digits and hyphens, 1-63 octets each, not starting or ending with a
/// hyphen (RFC 1123 allows a leading digit), at most 253 octets in all. No underscores, no
/// spaces (§4.2.1.6 forbids " "), no empty labels, no trailing dot. A leading `*.` label is
/// accepted as syntax here; whether a wildcard is acceptable is the purpose's decision.
pub fn is_preferred_dns_name(name: &str) -> bool {
    let host = name.strip_prefix("*.").unwrap_or(name);
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1034 §3.5 / RFC 1123 §2.1 preferred name syntax, as RFC 5280 §4.2.1.6 requires.
    #[test]
    fn preferred_name_syntax_rfc1034_3_5() {
        for good in [
            "host.corp.example",
            "a",
            "3com.example",
            "xn--bcher-kva.example",
            "*.corp.example",
            "A-B.Example",
        ] {
            assert!(is_preferred_dns_name(good), "{good}");
        }
        for bad in [
            "_ldap.corp.example",
            "host_name.example",
            " ",
            "",
            "host..example",
            "host.example.",
            "-host.example",
            "host-.example",
            "*",
            "a.*.example",
            "host name.example",
            &format!("{}.example", "a".repeat(64)),
        ] {
            assert!(!is_preferred_dns_name(bad), "{bad:?}");
        }
    }

    /// The anchor's signature algorithm is held to the policy without verifying the
    /// signature: SHA-1 and DSA only with legacy algorithms allowed.
    #[test]
    fn anchor_signature_algorithm_within_the_policy() {
        use crate::certificate::AlgorithmIdentifier;
        use crate::oid::Oid;
        use crate::signature::LegacyAlgorithms;
        let sha1_rsa = AlgorithmIdentifier {
            oid: Oid::new("1.2.840.113549.1.1.5"),
            parameters: None,
        };
        let strict = AlgorithmPolicy::default();
        assert_eq!(
            check_signature_algorithm(&sha1_rsa, &strict)
                .unwrap_err()
                .code(),
            "signature-algorithm-unsupported"
        );
        let legacy = AlgorithmPolicy {
            legacy: LegacyAlgorithms::AllowInsecure,
            ..strict
        };
        assert!(check_signature_algorithm(&sha1_rsa, &legacy).is_ok());
        let sha256_rsa = AlgorithmIdentifier {
            oid: Oid::new("1.2.840.113549.1.1.11"),
            parameters: None,
        };
        assert!(check_signature_algorithm(&sha256_rsa, &strict).is_ok());
    }

    /// RFC 5280 §4.1.2.2: positive, at most 20 octets of value.
    #[test]
    fn serial_numbers_rfc5280_4_1_2_2() {
        assert!(check_serial(&[1]).is_ok());
        assert!(check_serial(&[0, 0x80]).is_ok());
        let mut twenty = vec![0x7f; 20];
        assert!(check_serial(&twenty).is_ok());
        twenty.insert(0, 0);
        twenty[1] = 0xff;
        assert!(check_serial(&twenty).is_ok(), "sign octet is not counted");
        assert_eq!(check_serial(&[0]).unwrap_err().code(), "serial-invalid");
        assert_eq!(check_serial(&[0xff]).unwrap_err().code(), "serial-invalid");
        assert_eq!(
            check_serial(&[0x01; 21]).unwrap_err().code(),
            "serial-invalid"
        );
    }
}
