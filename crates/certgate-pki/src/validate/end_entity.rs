//! What the end entity must be good for and be called: its extended key usage (and the
//! EKUs its CAs restrict it to), its key usage, and the names the relying party expects.

use std::net::IpAddr;

use super::explain::describe_purpose;
use super::{ExpectedName, MissingEku, Purpose, ValidationPolicy};
use crate::certificate::{Certificate, GeneralName, KeyUsage};
use crate::error::Reason;
use crate::extension_der::Kind;
use crate::oid::known;
use crate::oid::Oid;

pub(super) fn check_purpose(
    path: &[&Certificate],
    policy: &ValidationPolicy,
) -> Result<(), Reason> {
    let required: Vec<&str>;
    let wanted: &[&str] = match &policy.purpose {
        Purpose::Any => return Ok(()),
        Purpose::ClientAuth => &[known::EKU_CLIENT_AUTH],
        Purpose::ServerAuth => &[known::EKU_SERVER_AUTH],
        Purpose::RequiredEkus(oids) => {
            required = oids.iter().map(Oid::as_str).collect();
            &required
        }
    };
    let any_allowed = !matches!(policy.purpose, Purpose::RequiredEkus(_));
    let purpose_label = || describe_purpose(&policy.purpose);
    let Some((end_entity, cas)) = path.split_last() else {
        return Ok(());
    };
    if end_entity.has_extension(Kind::ExtendedKeyUsage) {
        let has = |oid: &str| end_entity.extended_key_usage_lists(oid) == Some(true);
        let any = any_allowed && has(known::EKU_ANY);
        if !any && !wanted.iter().all(|w| has(w)) {
            return Err(Reason::ExtendedKeyUsageNotPermitted {
                purpose: purpose_label(),
            });
        }
    } else if policy.missing_eku == MissingEku::Reject {
        return Err(Reason::ExtendedKeyUsageNotPermitted {
            purpose: purpose_label(),
        });
    }
    // TLS authentication needs a signing key.
    if matches!(policy.purpose, Purpose::ClientAuth | Purpose::ServerAuth) {
        if let Some(key_usage) = end_entity.key_usage() {
            if !key_usage.allows(KeyUsage::DIGITAL_SIGNATURE) {
                return Err(Reason::KeyUsageNotPermitted);
            }
        }
    }
    // A CA that restricts its own EKUs restricts what it may issue for (as Windows and
    // browsers do). The anchor (first) is included.
    for ca in cas.iter().skip(1).chain(cas.first()) {
        if ca.has_extension(Kind::ExtendedKeyUsage) {
            let has = |oid: &str| ca.extended_key_usage_lists(oid) == Some(true);
            if !has(known::EKU_ANY) && !wanted.iter().all(|w| has(w)) {
                return Err(Reason::ExtendedKeyUsageNotPermitted {
                    purpose: format!(
                        "{} (restricted by CA \"{}\")",
                        purpose_label(),
                        ca.subject()
                    ),
                });
            }
        }
    }
    Ok(())
}

pub(super) fn check_expected_name(
    cert: &Certificate,
    expected: &ExpectedName,
) -> Result<(), Reason> {
    let sans = cert
        .extensions()
        .subject_alt_names
        .as_deref()
        .unwrap_or(&[]);
    let found = match expected {
        ExpectedName::Dns(wanted) => sans
            .iter()
            .any(|san| matches!(san, GeneralName::Dns(name) if dns_matches(name, wanted))),
        ExpectedName::Ip(wanted) => {
            let octets = match wanted {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            sans.iter()
                .any(|san| matches!(san, GeneralName::Ip(bytes) if *bytes == octets))
        }
        ExpectedName::Email(wanted) => {
            let in_san = sans
                .iter()
                .any(|san| matches!(san, GeneralName::Rfc822(mail) if email_matches(mail, wanted)));
            let has_san_mail = sans.iter().any(|san| matches!(san, GeneralName::Rfc822(_)));
            in_san
                || (!has_san_mail
                    && cert
                        .subject()
                        .attribute_texts(known::ATTR_EMAIL_ADDRESS)
                        .any(|mail| email_matches(&mail, wanted)))
        }
    };
    if found {
        Ok(())
    } else {
        Err(Reason::NameMismatch {
            expected: match expected {
                ExpectedName::Dns(n) => format!("DNS name {n}"),
                ExpectedName::Ip(ip) => format!("IP address {ip}"),
                ExpectedName::Email(e) => format!("e-mail address {e}"),
            },
        })
    }
}

/// DNS names compare case-insensitively; a `*.` wildcard covers exactly one leftmost label.
fn dns_matches(presented: &str, wanted: &str) -> bool {
    let presented = presented.trim_end_matches('.').to_ascii_lowercase();
    let wanted = wanted.trim_end_matches('.').to_ascii_lowercase();
    if presented == wanted {
        return true;
    }
    match (presented.strip_prefix("*."), wanted.split_once('.')) {
        (Some(suffix), Some((label, rest))) => {
            !label.is_empty() && rest == suffix && suffix.contains('.')
        }
        _ => false,
    }
}

/// Local parts compare exactly, domains case-insensitively (RFC 5321 §2.4).
fn email_matches(presented: &str, wanted: &str) -> bool {
    match (presented.rsplit_once('@'), wanted.rsplit_once('@')) {
        (Some((pl, pd)), Some((wl, wd))) => pl == wl && pd.eq_ignore_ascii_case(wd),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_covers_one_label_only() {
        assert!(dns_matches("*.example.com", "a.example.com"));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("*.com", "example.com"));
        assert!(dns_matches("Host.Example.com.", "host.example.com"));
    }

    #[test]
    fn email_local_part_is_case_sensitive() {
        assert!(email_matches("Alice@Corp.Example", "Alice@corp.example"));
        assert!(!email_matches("alice@corp.example", "Alice@corp.example"));
    }
}
