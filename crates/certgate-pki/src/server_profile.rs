//! The CA/Browser Forum TLS server certificate profile, applied to the end entity when the
//! purpose is server authentication (`certgate verify --purpose server`).
//!
//! RFC 5280 path validation accepts certificates that no browser would: a CA certificate as a
//! server leaf, anyExtendedKeyUsage, a CN that names a host the SAN does not, `*.co.uk`.
//! These are the Baseline Requirements' rules for subscriber (server) certificates that a
//! relying party can check on the certificate alone. Rules about how the CA operates
//! (validity caps, policy OIDs, OCSP/CRL presence) are not checked: certgate's own and other
//! private CAs are not publicly trusted.

use std::net::{Ipv4Addr, Ipv6Addr};

use psl::{Psl as _, Type};

use crate::certificate::{AuthorityInfoAccess, Certificate, GeneralName};
use crate::error::Reason;
use crate::oid::known;

/// id-at-commonName (X.520).
const ATTR_COMMON_NAME: &str = "2.5.4.3";
/// id-ad-ocsp and id-ad-caIssuers (RFC 5280 §4.2.2.1).
const AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";
const AD_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";

/// Checks `cert` (an end entity whose path already validated) against the server profile.
pub(crate) fn check(cert: &Certificate) -> Result<(), Reason> {
    let extensions = cert.extensions();
    // BRs §7.1.2.7.8: basicConstraints, if present, has cA false.
    if cert.is_ca() {
        return Err(Reason::ServerCaLeaf);
    }
    // BRs §7.1.2.7.6 and §7.1.2.7.10: extKeyUsage present, not critical, no
    // anyExtendedKeyUsage. (serverAuth itself is the purpose check's job.)
    let Some(ekus) = &extensions.extended_key_usage else {
        return Err(Reason::ServerEkuMissing);
    };
    if extensions.is_critical(known::EXT_EXTENDED_KEY_USAGE) {
        return Err(Reason::ServerEkuCritical);
    }
    if ekus.iter().any(|e| e.as_str() == known::EKU_ANY) {
        return Err(Reason::ServerEkuAny);
    }
    // BRs §7.1.2.7.12: the SAN is present; RFC 5280 §4.2.1.6 and the BRs: it is critical only
    // when the subject is empty.
    let Some(sans) = &extensions.subject_alt_names else {
        return Err(Reason::ServerSanMissing);
    };
    if !cert.subject().is_empty() && extensions.is_critical(known::EXT_SUBJECT_ALT_NAME) {
        return Err(Reason::SanCriticalWithSubject);
    }
    // BRs §7.1.4.3: a commonName, if present, is a copy of a dNSName (case aside) or of an
    // iPAddress in its textual form (dotted quad; RFC 5952 for IPv6).
    for common_name in cert.subject().attribute_texts(ATTR_COMMON_NAME) {
        if !sans
            .iter()
            .any(|san| common_name_matches(&common_name, san))
        {
            return Err(Reason::ServerCommonNameNotInSan { common_name });
        }
    }
    // BRs §7.1.2.7.12 (wildcard only as the whole leftmost label) and §3.2.2.6 (not directly
    // under a public suffix).
    for san in sans {
        if let GeneralName::Dns(name) = san {
            check_wildcard(name)?;
        }
    }
    // BRs §7.1.2.7.7, RFC 5280 §4.2.2.1.
    if let Some(aia) = &extensions.authority_info_access {
        check_authority_info_access(aia)?;
    }
    Ok(())
}

fn common_name_matches(common_name: &str, san: &GeneralName) -> bool {
    match san {
        GeneralName::Dns(dns) => dns.eq_ignore_ascii_case(common_name),
        GeneralName::Ip(bytes) => ip_text(bytes).is_some_and(|text| text == common_name),
        _ => false,
    }
}

/// The canonical text of a SAN iPAddress (Rust prints IPv6 as RFC 5952 §4 asks).
fn ip_text(bytes: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(Ipv4Addr::from(v4).to_string());
    }
    <[u8; 16]>::try_from(bytes)
        .ok()
        .map(|v6| Ipv6Addr::from(v6).to_string())
}

fn check_wildcard(name: &str) -> Result<(), Reason> {
    if !name.contains('*') {
        return Ok(());
    }
    let invalid = || Reason::ServerWildcardInvalid {
        name: name.to_string(),
    };
    let base = name.strip_prefix("*.").ok_or_else(invalid)?;
    let base = base.strip_suffix('.').unwrap_or(base).to_ascii_lowercase();
    if base.is_empty() || base.contains('*') || base.split('.').any(str::is_empty) {
        return Err(invalid());
    }
    if is_public_suffix(&base) {
        return Err(Reason::WildcardUnderPublicSuffix {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// True when `domain` (lower case, no trailing dot) is itself a public suffix by the ICANN
/// section of the Public Suffix List, or by the list's default rule `*` (an unlisted TLD).
/// The BRs §3.2.2.6 say to consult the ICANN section only: a PRIVATE-section entry such as
/// `github.io` is a registrable domain for this rule, as pyca/cryptography and zlint treat it.
fn is_public_suffix(domain: &str) -> bool {
    let info = psl::List.find(domain.as_bytes().rsplit(|b| *b == b'.'));
    info.len == domain.len() && info.typ != Some(Type::Private)
}

fn check_authority_info_access(aia: &AuthorityInfoAccess) -> Result<(), Reason> {
    let malformed = |detail: &str| Reason::AiaMalformed {
        detail: detail.to_string(),
    };
    let descriptions = match aia {
        AuthorityInfoAccess::Malformed => {
            return Err(malformed(
                "the extension value is not a DER AuthorityInfoAccessSyntax",
            ))
        }
        AuthorityInfoAccess::Decoded(descriptions) => descriptions,
    };
    if descriptions.is_empty() {
        return Err(malformed("it holds no access description (SIZE (1..MAX))"));
    }
    for description in descriptions {
        let method = description.method.as_str();
        if method != AD_OCSP && method != AD_CA_ISSUERS {
            continue;
        }
        match &description.location {
            GeneralName::Uri(uri) if has_scheme(uri) => {}
            _ => return Err(malformed(
                "an OCSP or caIssuers location is not an absolute URI (uniformResourceIdentifier)",
            )),
        }
    }
    Ok(())
}

/// RFC 3986 §3.1: `scheme ":" ...`, scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
fn has_scheme(uri: &str) -> bool {
    let Some((scheme, _)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_suffixes_by_the_icann_section_and_the_default_rule() {
        for suffix in ["com", "co.uk", "foo.ck", "local", "xn--p1ai"] {
            assert!(is_public_suffix(suffix), "{suffix}");
        }
        // Registrable domains, an exception rule (!www.ck) and PRIVATE-section entries.
        for domain in [
            "example.com",
            "corp.example",
            "www.ck",
            "github.io",
            "blogspot.com",
        ] {
            assert!(!is_public_suffix(domain), "{domain}");
        }
    }

    #[test]
    fn uri_scheme() {
        assert!(has_scheme("http://ocsp.example"));
        assert!(has_scheme("ldap:///CN=Issuing,DC=corp"));
        assert!(!has_scheme("ocsp.example"));
        assert!(!has_scheme("://x"));
    }
}
