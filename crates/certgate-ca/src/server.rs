//! TLS server certificates for certgate's own listeners (the certificate sign-in host), so
//! that a deployment or the demo needs no other CA.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::authority::Authority;
use crate::certificate::{
    add_days, extension, key_identifier, random_serial, subject_name, whole_seconds,
    TbsCertificate, BACKDATE, DIGITAL_SIGNATURE,
};
use crate::end_entity::IssuedCertificate;
use crate::error::CaError;
use crate::key::{KeyAlgorithm, SigningKey};

/// What [`issue_server_certificate`] puts into a server certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCertificateRequest {
    /// DNS names (dNSName SANs); the first is also the subject CN.
    pub dns_names: Vec<String>,
    /// IP addresses (iPAddress SANs); the first is the subject CN when there is no DNS name.
    pub ip_addresses: Vec<IpAddr>,
    /// Days from the time of issuance to notAfter (at least 1), cut to the issuer's notAfter.
    pub validity_days: u32,
    /// The type of the key generated for the server.
    pub key_algorithm: KeyAlgorithm,
}

/// Generates a key pair and issues a TLS server certificate: basicConstraints cA=FALSE,
/// keyUsage digitalSignature, extendedKeyUsage serverAuth, subjectAltName with the names
/// (RFC 5280 §4.2.1.6; clients match names against the SAN only, RFC 6125 §6.4.4).
pub fn issue_server_certificate(
    issuer: &Authority,
    request: &ServerCertificateRequest,
    now: OffsetDateTime,
) -> Result<IssuedCertificate, CaError> {
    let now = whole_seconds(now);
    if request.dns_names.is_empty() && request.ip_addresses.is_empty() {
        return Err(CaError::invalid(
            "dns_names",
            "a server certificate needs at least one DNS name or IP address",
        ));
    }
    for name in &request.dns_names {
        // The validator's rule (RFC 5280 §4.2.1.6, RFC 1034 §3.5 preferred name syntax, a
        // leading `*.` label allowed): certgate never issues a name it would itself refuse.
        if !certgate_pki::is_preferred_dns_name(name) {
            return Err(CaError::invalid(
                "dns_names",
                format!("\"{}\" is not a DNS name", name.escape_debug()),
            ));
        }
    }
    let end = add_days(now, request.validity_days, "validity_days")?;
    if now < issuer.not_before() || now >= issuer.not_after() {
        return Err(CaError::IssuerNotValid {
            subject: issuer.display_name(),
            at: now.unix_timestamp(),
            not_before: issuer.not_before().unix_timestamp(),
            not_after: issuer.not_after().unix_timestamp(),
        });
    }
    let not_before = (now - BACKDATE).max(issuer.not_before());
    let not_after = end.min(issuer.not_after());
    let common_name = request
        .dns_names
        .first()
        .cloned()
        .or_else(|| request.ip_addresses.first().map(ToString::to_string))
        .unwrap_or_default();
    let subject = subject_name(None, (&common_name, "dns_names"))?;
    let (key, pkcs8) = SigningKey::generate(request.key_algorithm)?;
    let spki = key.subject_public_key_info()?;
    let extensions = vec![
        extension::basic_constraints(None),
        extension::key_usage(DIGITAL_SIGNATURE),
        extension::server_auth(),
        extension::subject_key_identifier(&key_identifier(key.public_key_bits())),
        extension::authority_key_identifier(issuer.key_id()),
        extension::server_names(&request.dns_names, &request.ip_addresses),
    ];
    let serial = random_serial()?;
    let certificate_der = TbsCertificate {
        serial: &serial,
        issuer_name: issuer.certificate().subject().der(),
        not_before,
        not_after,
        subject_name: &subject,
        subject_public_key_info: &spki,
        extensions,
    }
    .sign(issuer.key())?;
    Ok(IssuedCertificate {
        certificate_der,
        private_key_pkcs8_der: pkcs8,
        serial,
        not_before,
        not_after,
    })
}
