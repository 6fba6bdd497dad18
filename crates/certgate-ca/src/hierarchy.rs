//! A two-tier CA hierarchy: a self-signed root and one issuing CA below it, the shape AD CS
//! deployments use (an offline-able root, an online issuing CA).

use time::OffsetDateTime;

use crate::authority::Authority;
use crate::certificate::{
    add_days, check_url, extension, key_identifier, random_serial, subject_name, whole_seconds,
    TbsCertificate, BACKDATE, CRL_SIGN, KEY_CERT_SIGN,
};
use crate::error::CaError;
use crate::key::{KeyAlgorithm, SigningKey};

/// What [`create_hierarchy`] makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HierarchyRequest {
    /// Organization (O) of both CAs, e.g. `Contoso`.
    pub organization: String,
    /// Common name (CN) of the root, e.g. `Contoso certgate Root CA`.
    pub root_common_name: String,
    /// Common name (CN) of the issuing CA, e.g. `Contoso certgate Issuing CA`.
    pub issuing_common_name: String,
    /// Key type of both CAs.
    pub key_algorithm: KeyAlgorithm,
    /// e.g. 3650.
    pub root_validity_days: u32,
    /// e.g. 1825. Cut to the root's notAfter if longer.
    pub issuing_validity_days: u32,
    /// CRL distribution point (full URL) and AIA caIssuers URL written into the issuing CA
    /// certificate (they point at the root's CRL and certificate). None = extension omitted.
    pub root_crl_url: Option<String>,
    /// The AIA caIssuers URL (RFC 5280 §4.2.2.1) in the issuing CA certificate: where the
    /// root's certificate can be downloaded. None = extension omitted.
    pub root_certificate_url: Option<String>,
}

/// A root CA and the issuing CA it certified.
#[derive(Debug)]
pub struct Hierarchy {
    /// The self-signed root, the trust anchor relying parties install; it certifies the
    /// issuing CA and need not be online otherwise.
    pub root: Authority,
    /// The issuing CA (pathLenConstraint 0): it signs the end-entity certificates and their CRLs.
    pub issuing: Authority,
}

/// Creates a new root CA and an issuing CA signed by it, each with a fresh key.
///
/// Both carry basicConstraints cA=TRUE (critical, RFC 5280 §4.2.1.9), keyUsage keyCertSign |
/// cRLSign (critical, §4.2.1.3) and a subjectKeyIdentifier (§4.2.1.2). The issuing CA has
/// pathLenConstraint 0, so it can issue only end-entity certificates, an
/// authorityKeyIdentifier naming the root's key (§4.2.1.1), and the root's CRL distribution
/// point (§4.2.1.13) and caIssuers URL (§4.2.2.1) when given. The root has no
/// authorityKeyIdentifier (§4.2.1.1 allows omitting it in a self-signed certificate).
///
/// Validity starts an hour before `now` (clock skew) and runs `*_validity_days` from `now`;
/// the issuing CA never outlives the root. Serial numbers are random (§4.1.2.2).
pub fn create_hierarchy(
    request: &HierarchyRequest,
    now: OffsetDateTime,
) -> Result<Hierarchy, CaError> {
    let now = whole_seconds(now);
    let root_name = subject_name(
        Some((&request.organization, "organization")),
        (&request.root_common_name, "root_common_name"),
    )?;
    let issuing_name = subject_name(
        Some((&request.organization, "organization")),
        (&request.issuing_common_name, "issuing_common_name"),
    )?;
    if root_name == issuing_name {
        return Err(CaError::invalid(
            "issuing_common_name",
            "must differ from root_common_name: two CAs with one name cannot be told apart in a chain",
        ));
    }
    if let Some(url) = &request.root_crl_url {
        check_url(url, "root_crl_url")?;
    }
    if let Some(url) = &request.root_certificate_url {
        check_url(url, "root_certificate_url")?;
    }
    let not_before = now - BACKDATE;
    let root_not_after = add_days(now, request.root_validity_days, "root_validity_days")?;
    let issuing_not_after =
        add_days(now, request.issuing_validity_days, "issuing_validity_days")?.min(root_not_after);

    // Root: self-signed (RFC 5280 §3.2, §6.1: a trust anchor).
    let (root_key, root_pkcs8) = SigningKey::generate(request.key_algorithm)?;
    let root_spki = root_key.subject_public_key_info()?;
    let root_key_id = key_identifier(root_key.public_key_bits());
    let root_der = TbsCertificate {
        serial: &random_serial()?,
        issuer_name: &root_name,
        not_before,
        not_after: root_not_after,
        subject_name: &root_name,
        subject_public_key_info: &root_spki,
        extensions: vec![
            extension::basic_constraints(Some(None)),
            extension::key_usage(KEY_CERT_SIGN | CRL_SIGN),
            extension::subject_key_identifier(&root_key_id),
        ],
    }
    .sign(&root_key)?;
    let root = Authority::from_parts(root_der, &root_pkcs8)?;

    // Issuing CA, certified by the root.
    let (issuing_key, issuing_pkcs8) = SigningKey::generate(request.key_algorithm)?;
    let issuing_spki = issuing_key.subject_public_key_info()?;
    let mut extensions = vec![
        extension::basic_constraints(Some(Some(0))),
        extension::key_usage(KEY_CERT_SIGN | CRL_SIGN),
        extension::subject_key_identifier(&key_identifier(issuing_key.public_key_bits())),
        extension::authority_key_identifier(root.key_id()),
    ];
    if let Some(url) = &request.root_crl_url {
        extensions.push(extension::crl_distribution_point(url));
    }
    if let Some(url) = &request.root_certificate_url {
        extensions.push(extension::ca_issuers(url));
    }
    let issuing_der = TbsCertificate {
        serial: &random_serial()?,
        issuer_name: root.certificate().subject().der(),
        not_before,
        not_after: issuing_not_after,
        subject_name: &issuing_name,
        subject_public_key_info: &issuing_spki,
        extensions,
    }
    .sign(root.key())?;
    let issuing = Authority::from_parts(issuing_der, &issuing_pkcs8)?;
    Ok(Hierarchy { root, issuing })
}
