//! Identity fields of a client certificate, in the exact string forms Microsoft tools show, so
//! an administrator can copy them into a user's `certificateUserIds` or a binding rule.

use aws_lc_rs::digest;

use crate::certificate::{Certificate, GeneralName};
use crate::name::{decode_directory_string, Name};
use crate::oid::known;
use crate::validate::{hex, ValidatedPath};

/// Everything certgate can map a certificate to a user by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// SAN otherName User Principal Names (1.3.6.1.4.1.311.20.2.3).
    pub upns: Vec<String>,
    /// SAN rfc822Name values.
    pub rfc822_names: Vec<String>,
    /// Subject DN as Windows shows it (`CN=Bob, OU=Users, DC=contoso, DC=com`).
    pub subject: String,
    /// Issuer DN as Windows shows it.
    pub issuer: String,
    /// Serial number, lowercase hex of the encoded octets (big-endian).
    pub serial: String,
    /// Serial number with its bytes reversed, as certutil prints it and `<SR>` expects.
    pub serial_reversed: String,
    /// subjectKeyIdentifier extension, lowercase hex, when present.
    pub subject_key_id: Option<String>,
    /// SHA-1 of the subjectPublicKey BIT STRING contents (the bytes .NET's
    /// `X509Certificate.GetPublicKey()` returns), lowercase hex.
    pub sha1_public_key: String,
    /// SHA-256 of the whole certificate, lowercase hex.
    pub sha256_thumbprint: String,
    /// SHA-1 of the whole certificate (the Windows "thumbprint"), lowercase hex.
    pub sha1_thumbprint: String,
    /// certificatePolicies OIDs of the certificate itself.
    pub policy_oids: Vec<String>,
    /// Entra ID `certificateUserIds` values this certificate matches, one per mapping field.
    pub certificate_user_ids: Vec<CertificateUserId>,
}

/// One `X509:<...>` value and the Entra mapping field it corresponds to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateUserId {
    /// Entra's field name: PrincipalName, RFC822Name, Subject, IssuerAndSubject,
    /// IssuerAndSerialNumber, SubjectKeyIdentifier, SHA1PublicKey.
    pub field: &'static str,
    /// The value as Entra stores it, e.g. `X509:<PN>bob@contoso.com`.
    pub value: String,
}

impl Identity {
    /// What the certificate says about itself, its issuer DN included. For display and for
    /// certificates that did not validate; sign-in decisions use [`Identity::on_path`].
    pub fn of(cert: &Certificate) -> Identity {
        Identity::with_issuer(cert, cert.issuer())
    }

    /// The end entity of a validated path, with the issuer taken from the issuing CA
    /// certificate on that path (its subject), not from the end entity's own issuer field:
    /// rules keyed on the issuer (`<I>...<S>`, `<I>...<SR>`) then name the CA that really
    /// signed it.
    pub fn on_path(path: &ValidatedPath<'_>) -> Identity {
        Identity::with_issuer(path.end_entity(), path.issuing_ca().subject())
    }

    fn with_issuer(cert: &Certificate, issuer: &Name) -> Identity {
        let sans = cert
            .extensions()
            .subject_alt_names
            .as_deref()
            .unwrap_or(&[]);
        let upns: Vec<String> = sans
            .iter()
            .filter_map(|san| match san {
                GeneralName::OtherName { type_id, value } if type_id.as_str() == known::UPN => {
                    decode_utf8_tlv(value)
                }
                _ => None,
            })
            .collect();
        let rfc822_names: Vec<String> = sans
            .iter()
            .filter_map(|san| match san {
                GeneralName::Rfc822(mail) => Some(mail.clone()),
                _ => None,
            })
            .collect();
        let serial = hex(cert.serial());
        let reversed: Vec<u8> = cert.serial().iter().rev().copied().collect();
        let serial_reversed = hex(&reversed);
        let subject_key_id = cert.extensions().subject_key_id.as_deref().map(hex);
        let sha1_public_key =
            hex(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.public_key().key).as_ref());
        let issuer_entra = issuer.to_entra();
        let subject_entra = cert.subject().to_entra();

        let mut ids = Vec::new();
        for upn in &upns {
            ids.push(CertificateUserId {
                field: "PrincipalName",
                value: format!("X509:<PN>{upn}"),
            });
        }
        for mail in &rfc822_names {
            ids.push(CertificateUserId {
                field: "RFC822Name",
                value: format!("X509:<RFC822>{mail}"),
            });
        }
        if !cert.subject().is_empty() {
            ids.push(CertificateUserId {
                field: "Subject",
                value: format!("X509:<S>{subject_entra}"),
            });
            ids.push(CertificateUserId {
                field: "IssuerAndSubject",
                value: format!("X509:<I>{issuer_entra}<S>{subject_entra}"),
            });
        }
        ids.push(CertificateUserId {
            field: "IssuerAndSerialNumber",
            value: format!("X509:<I>{issuer_entra}<SR>{serial_reversed}"),
        });
        if let Some(ski) = &subject_key_id {
            ids.push(CertificateUserId {
                field: "SubjectKeyIdentifier",
                value: format!("X509:<SKI>{ski}"),
            });
        }
        ids.push(CertificateUserId {
            field: "SHA1PublicKey",
            value: format!("X509:<SHA1-PUKEY>{sha1_public_key}"),
        });

        Identity {
            upns,
            rfc822_names,
            subject: cert.subject().to_windows(),
            issuer: issuer.to_windows(),
            serial,
            serial_reversed,
            subject_key_id,
            sha1_public_key,
            sha256_thumbprint: hex(digest::digest(&digest::SHA256, cert.der()).as_ref()),
            sha1_thumbprint: hex(
                digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert.der()).as_ref(),
            ),
            policy_oids: cert
                .extensions()
                .certificate_policies
                .iter()
                .flatten()
                .map(|p| p.policy.to_string())
                .collect(),
            certificate_user_ids: ids,
        }
    }
}

/// The UPN otherName value is a UTF8String TLV (some issuers use other string types).
fn decode_utf8_tlv(value: &[u8]) -> Option<String> {
    use x509_parser::der_parser::asn1_rs::{Any, FromDer};
    let (rest, any) = Any::from_der(value).ok()?;
    if !rest.is_empty() {
        return None;
    }
    decode_directory_string(any.tag().0, any.data)
}
