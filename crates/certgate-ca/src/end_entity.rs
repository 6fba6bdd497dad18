//! Client-authentication certificates for users: the profile Windows, Entra ID and certgate's
//! own validator map to an account by UPN or e-mail.

use certgate_pki::RequestedKey;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::authority::Authority;
use crate::certificate::{
    add_days, check_url, extension, key_identifier, random_serial, subject_name, whole_seconds,
    TbsCertificate, BACKDATE, DIGITAL_SIGNATURE,
};
use crate::der;
use crate::error::CaError;
use crate::key::{KeyAlgorithm, SigningKey};

/// What [`issue_client_certificate`] puts into a client certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCertificateRequest {
    /// User principal name, `user@domain`: written as the SAN otherName
    /// 1.3.6.1.4.1.311.20.2.3 (UTF8String).
    pub upn: String,
    /// Written as a SAN rfc822Name when given.
    pub email: Option<String>,
    /// Display name: the subject is `O=<issuer's O>, CN=<common_name>`.
    pub common_name: String,
    /// Days from the time of issuance to notAfter (at least 1), cut to the issuer's notAfter
    /// and to `not_after_limit`.
    pub validity_days: u32,
    /// Dotted OIDs written into certificatePolicies (non-critical).
    pub policy_oids: Vec<String>,
    /// CRL distribution point (full URL).
    pub crl_url: Option<String>,
    /// Where delta CRLs are published: the FreshestCRL extension (2.5.29.46).
    pub delta_crl_url: Option<String>,
    /// AIA caIssuers: where the issuing CA's certificate can be downloaded.
    pub ca_issuers_url: Option<String>,
    /// The key [`issue_client_certificate`] generates; [`issue_client_certificate_for_key`]
    /// certifies the requester's key instead and ignores this.
    pub key_algorithm: KeyAlgorithm,
    /// The latest notAfter the certificate may have, besides `validity_days` and the issuer's
    /// notAfter: a certificate derived from another CA's certificate must not outlive it.
    pub not_after_limit: Option<OffsetDateTime>,
}

/// A newly issued certificate with its freshly generated private key.
pub struct IssuedCertificate {
    /// The signed certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The generated private key as unencrypted PKCS#8 DER, wiped from memory when dropped
    /// (and left out of `Debug`): seal it or hand it over, never log it.
    pub private_key_pkcs8_der: Zeroizing<Vec<u8>>,
    /// DER INTEGER content octets, as `certgate_pki::Certificate::serial()` returns them.
    pub serial: Vec<u8>,
    /// The certificate's notBefore (RFC 5280 §4.1.2.5): an hour before issuance for clock
    /// skew, but not before the issuer's notBefore.
    pub not_before: OffsetDateTime,
    /// The certificate's notAfter: never later than the issuer's.
    pub not_after: OffsetDateTime,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("serial", &self.serial)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Generates a key pair and issues a client-authentication certificate for it.
///
/// The profile: basicConstraints cA=FALSE (critical, RFC 5280 §4.2.1.9), keyUsage
/// digitalSignature (critical, §4.2.1.3), extendedKeyUsage clientAuth (§4.2.1.12), a
/// subjectAltName with the UPN otherName and the e-mail address as rfc822Name (§4.2.1.6),
/// subjectKeyIdentifier (§4.2.1.2), authorityKeyIdentifier = the issuer's key identifier
/// (§4.2.1.1), and when requested certificatePolicies (§4.2.1.4), cRLDistributionPoints
/// (§4.2.1.13), freshestCRL (§4.2.1.15) and authorityInfoAccess caIssuers (§4.2.2.1).
///
/// Validity: from an hour before `now` (but not before the issuer's notBefore) to
/// `validity_days` after `now` (but not after the issuer's notAfter: a certificate must not
/// outlive its CA). The issuer must be valid at `now`.
pub fn issue_client_certificate(
    issuer: &Authority,
    request: &ClientCertificateRequest,
    now: OffsetDateTime,
) -> Result<IssuedCertificate, CaError> {
    // Everything about the request is checked before a key is generated for it.
    let profile = ClientProfile::check(issuer, request, now)?;
    let (key, pkcs8) = SigningKey::generate(request.key_algorithm)?;
    let spki = key.subject_public_key_info()?;
    let signed = profile.sign(issuer, &spki, key.public_key_bits())?;
    Ok(IssuedCertificate {
        certificate_der: signed.certificate_der,
        private_key_pkcs8_der: pkcs8,
        serial: signed.serial,
        not_before: signed.not_before,
        not_after: signed.not_after,
    })
}

/// Issues a client-authentication certificate for a key the requester generated and keeps
/// (enrollment by certification request, RFC 7030 §4.2): the same profile, checks and
/// validity as [`issue_client_certificate`], with `key` as the subject public key.
///
/// Everything else in the certificate comes from `request` (the caller takes it from its
/// directory); nothing a requester asked for in its CSR (subject, extensions) can reach the
/// certificate, because the CSR is not an input here. `request.key_algorithm` is not used:
/// the key is `key`. The SubjectPublicKeyInfo is written anew from the key's parts in DER
/// (RFC 5480 §2 for ECDSA, RFC 3279 §2.3.1 for RSA), never copied from the request.
pub fn issue_client_certificate_for_key(
    issuer: &Authority,
    request: &ClientCertificateRequest,
    key: &RequestedKey,
    now: OffsetDateTime,
) -> Result<IssuedForKey, CaError> {
    let profile = ClientProfile::check(issuer, request, now)?;
    let spki = requested_key_info(key);
    profile.sign(issuer, &spki, key.subject_public_key())
}

/// A certificate issued for a requester's own key: no private key here, the requester has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedForKey {
    /// The signed certificate, DER.
    pub certificate_der: Vec<u8>,
    /// DER INTEGER content octets, as `certgate_pki::Certificate::serial()` returns them.
    pub serial: Vec<u8>,
    /// The certificate's notBefore (RFC 5280 §4.1.2.5): an hour before issuance for clock
    /// skew, but not before the issuer's notBefore.
    pub not_before: OffsetDateTime,
    /// The certificate's notAfter: never later than the issuer's.
    pub not_after: OffsetDateTime,
}

/// A checked client certificate request: every field of the TBSCertificate except the key.
/// Both issuing paths go through it, so a certificate for a generated key and one for a
/// requested key cannot differ in anything but the key.
struct ClientProfile {
    subject: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    upn: String,
    email: Option<String>,
    policies: Vec<Vec<u8>>,
    crl_url: Option<String>,
    delta_crl_url: Option<String>,
    ca_issuers_url: Option<String>,
}

impl ClientProfile {
    fn check(
        issuer: &Authority,
        request: &ClientCertificateRequest,
        now: OffsetDateTime,
    ) -> Result<ClientProfile, CaError> {
        let now = whole_seconds(now);
        check_upn(&request.upn)?;
        if let Some(email) = &request.email {
            check_email(email)?;
        }
        let policies = policy_oids(&request.policy_oids)?;
        for (url, field) in [
            (&request.crl_url, "crl_url"),
            (&request.delta_crl_url, "delta_crl_url"),
            (&request.ca_issuers_url, "ca_issuers_url"),
        ] {
            if let Some(url) = url {
                check_url(url, field)?;
            }
        }
        let mut end = add_days(now, request.validity_days, "validity_days")?;
        if let Some(limit) = request.not_after_limit {
            if limit <= now {
                return Err(CaError::InvalidRequest {
                    field: "not_after_limit",
                    detail: format!(
                        "it ({}) is not after the time of issuance ({})",
                        limit.unix_timestamp(),
                        now.unix_timestamp()
                    ),
                });
            }
            end = end.min(whole_seconds(limit));
        }
        if now < issuer.not_before() || now >= issuer.not_after() {
            return Err(CaError::IssuerNotValid {
                subject: issuer.display_name(),
                at: now.unix_timestamp(),
                not_before: issuer.not_before().unix_timestamp(),
                not_after: issuer.not_after().unix_timestamp(),
            });
        }
        // The issuer's O, so that the user's certificate says whose it is; CN is the display
        // name.
        let organization = issuer
            .certificate()
            .subject()
            .attribute_texts(ORGANIZATION_NAME)
            .next()
            .filter(|o| crate::certificate::check_name_attribute(o, "organization").is_ok());
        let subject = subject_name(
            organization.as_deref().map(|o| (o, "organization")),
            (&request.common_name, "common_name"),
        )?;
        Ok(ClientProfile {
            subject,
            not_before: (now - BACKDATE).max(issuer.not_before()),
            not_after: end.min(issuer.not_after()),
            upn: request.upn.clone(),
            email: request.email.clone(),
            policies,
            crl_url: request.crl_url.clone(),
            delta_crl_url: request.delta_crl_url.clone(),
            ca_issuers_url: request.ca_issuers_url.clone(),
        })
    }

    /// Writes and signs the certificate for the key whose SubjectPublicKeyInfo is `spki` and
    /// whose subjectPublicKey BIT STRING contents are `public_key_bits`.
    fn sign(
        &self,
        issuer: &Authority,
        spki: &[u8],
        public_key_bits: &[u8],
    ) -> Result<IssuedForKey, CaError> {
        let mut extensions = vec![
            extension::basic_constraints(None),
            extension::key_usage(DIGITAL_SIGNATURE),
            extension::client_auth(),
            extension::subject_key_identifier(&key_identifier(public_key_bits)),
            extension::authority_key_identifier(issuer.key_id()),
            extension::subject_alt_name(&self.upn, self.email.as_deref()),
        ];
        if !self.policies.is_empty() {
            extensions.push(extension::certificate_policies(&self.policies));
        }
        if let Some(url) = &self.crl_url {
            extensions.push(extension::crl_distribution_point(url));
        }
        if let Some(url) = &self.delta_crl_url {
            extensions.push(extension::freshest_crl(url));
        }
        if let Some(url) = &self.ca_issuers_url {
            extensions.push(extension::ca_issuers(url));
        }
        let serial = random_serial()?;
        let certificate_der = TbsCertificate {
            serial: &serial,
            issuer_name: issuer.certificate().subject().der(),
            not_before: self.not_before,
            not_after: self.not_after,
            subject_name: &self.subject,
            subject_public_key_info: spki,
            extensions,
        }
        .sign(issuer.key())?;
        Ok(IssuedForKey {
            certificate_der,
            serial,
            not_before: self.not_before,
            not_after: self.not_after,
        })
    }
}

/// id-ecPublicKey with its named curve (RFC 5480 §2.1.1), rsaEncryption with NULL parameters
/// (RFC 3279 §2.3.1).
const EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const CURVE_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const CURVE_P384: &[u64] = &[1, 3, 132, 0, 34];
const RSA_ENCRYPTION: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];

/// The SubjectPublicKeyInfo DER of a requested key (RFC 5280 §4.1.2.7).
fn requested_key_info(key: &RequestedKey) -> Vec<u8> {
    let algorithm = match key {
        RequestedKey::EcdsaP256 { .. } => {
            der::sequence(&[&der::known_oid(EC_PUBLIC_KEY), &der::known_oid(CURVE_P256)])
        }
        RequestedKey::EcdsaP384 { .. } => {
            der::sequence(&[&der::known_oid(EC_PUBLIC_KEY), &der::known_oid(CURVE_P384)])
        }
        RequestedKey::Rsa { .. } => der::sequence(&[&der::known_oid(RSA_ENCRYPTION), &der::null()]),
    };
    der::sequence(&[&algorithm, &der::bit_string(key.subject_public_key())])
}

/// id-at-organizationName (RFC 5280 Appendix A.1), as certgate-pki names attribute types.
const ORGANIZATION_NAME: &str = "2.5.4.10";

/// `user@domain`: exactly one `@` with text on both sides, no whitespace or control
/// characters (Entra and AD compare the UPN as a string, so a stray space would never match).
fn check_upn(upn: &str) -> Result<(), CaError> {
    if upn.trim().is_empty() {
        return Err(CaError::invalid("upn", "must not be empty"));
    }
    if upn.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CaError::invalid(
            "upn",
            format!(
                "\"{}\" contains whitespace or control characters",
                upn.escape_debug()
            ),
        ));
    }
    match upn.split_once('@') {
        Some((user, domain)) if !user.is_empty() && !domain.is_empty() && !domain.contains('@') => {
            Ok(())
        }
        _ => Err(CaError::invalid(
            "upn",
            format!("\"{upn}\" is not of the form user@domain (exactly one @)"),
        )),
    }
}

/// An rfc822Name is an IA5String `local@domain` (RFC 5280 §4.2.1.6); addresses with non-ASCII
/// characters would need SmtpUTF8Mailbox (RFC 9598), which certgate does not write.
fn check_email(email: &str) -> Result<(), CaError> {
    if !email.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CaError::invalid(
            "email",
            format!(
                "\"{}\" must be plain ASCII without spaces",
                email.escape_debug()
            ),
        ));
    }
    match email.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(CaError::invalid(
            "email",
            format!("\"{email}\" is not an e-mail address (local@domain)"),
        )),
    }
}

/// Encodes the requested policy OIDs. RFC 5280 §4.2.1.4: a policy OID appears at most once.
fn policy_oids(dotted: &[String]) -> Result<Vec<Vec<u8>>, CaError> {
    let mut encoded: Vec<Vec<u8>> = Vec::with_capacity(dotted.len());
    for oid in dotted {
        let tlv = der::oid(oid).ok_or_else(|| CaError::InvalidOid { oid: oid.clone() })?;
        if encoded.contains(&tlv) {
            return Err(CaError::invalid(
                "policy_oids",
                format!("{oid} is listed twice (RFC 5280 §4.2.1.4 allows each policy once)"),
            ));
        }
        encoded.push(tlv);
    }
    Ok(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upns_need_exactly_one_at_and_no_whitespace() {
        assert!(check_upn("alice@contoso.com").is_ok());
        assert!(check_upn("zoë@contoso.com").is_ok());
        for bad in [
            "",
            "   ",
            "alice",
            "alice@",
            "@contoso.com",
            "alice@@contoso.com",
            "alice@contoso@com",
            " alice@contoso.com",
            "alice @contoso.com",
            "alice@contoso.com\n",
        ] {
            let error = check_upn(bad).expect_err(bad);
            assert!(
                matches!(error, CaError::InvalidRequest { field: "upn", .. }),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn emails_need_an_at_and_ascii() {
        assert!(check_email("alice@contoso.com").is_ok());
        for bad in [
            "alice",
            "alice@",
            "@contoso.com",
            "zoë@contoso.com",
            "a b@c.d",
            "",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn policy_oids_are_validated_and_unique() {
        assert_eq!(policy_oids(&[]).expect("none").len(), 0);
        assert_eq!(
            policy_oids(&["1.3.6.1.4.1.311.21.8.1".into(), "2.23.140.1.2.1".into()])
                .expect("two")
                .len(),
            2
        );
        let error = policy_oids(&["1.2.3".into(), "1.2.x".into()]).expect_err("bad OID");
        assert_eq!(error.code(), "ca-invalid-oid");
        assert!(error.to_string().contains("\"1.2.x\""));
        let error = policy_oids(&["1.2.3".into(), "1.2.3".into()]).expect_err("twice");
        assert_eq!(error.code(), "ca-invalid-request");
        assert!(policy_oids(&["2.5.29.32.0".into()]).is_ok());
    }
}
