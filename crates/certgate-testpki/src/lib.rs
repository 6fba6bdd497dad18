//! certgate-testpki: test PKIs (root → intermediate → client leaf) and CRLs for tests,
//! benchmarks and fuzz seeds.
//!
//! Every time in the output comes from the caller or from the fixed defaults below; nothing
//! reads a clock, so a chain made today validates the same way at [`VALIDATION_TIME`] in ten
//! years. Serial numbers (of certificates and of CRL entries) come from a seeded generator and
//! are reproducible. Keys are not: they come from aws-lc's key generation (through rcgen), so
//! the DER differs between runs while its structure does not. Callers that need byte-stable
//! artefacts across runs (the benchmark's 20 MB CRLs) cache the generated PKI together with
//! its keys.
//!
//! The leaf looks like a certificate certgate issues for client sign-in: clientAuth EKU,
//! digitalSignature key usage, a SAN with the Microsoft UPN otherName and an rfc822Name, and a
//! CRL distribution point. The CAs carry basicConstraints, keyCertSign|cRLSign, SKI and AKI.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DistinguishedName, DnType, DnValue, IsCa, Issuer, KeyIdMethod, KeyPair,
    KeyUsagePurpose, RevokedCertParams, RsaKeySize, SanType, SerialNumber,
};
use time::OffsetDateTime;

mod edit;

pub use edit::{edit_certificate, edit_crl, to_pem, weak_keys, Edit};
pub use rcgen::{Error, ExtendedKeyUsagePurpose};

/// Microsoft User Principal Name otherName (szOID_NT_PRINCIPAL_NAME), a UTF8String.
pub const UPN_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];
/// The same OID in dotted form, as certgate-pki's `Oid` prints it.
pub const UPN_OID_DOTTED: &str = "1.3.6.1.4.1.311.20.2.3";

/// 2026-01-01T00:00:00Z: inside every default validity window and CRL update interval.
pub const VALIDATION_TIME: i64 = 1_767_225_600;

/// Fixed instants used by the defaults (seconds since the Unix epoch, UTC).
pub mod instants {
    /// 2020-01-01T00:00:00Z
    pub const CA_NOT_BEFORE: i64 = 1_577_836_800;
    /// 2045-01-01T00:00:00Z
    pub const CA_NOT_AFTER: i64 = 2_366_755_200;
    /// 2025-01-01T00:00:00Z
    pub const LEAF_NOT_BEFORE: i64 = 1_735_689_600;
    /// 2027-01-01T00:00:00Z
    pub const LEAF_NOT_AFTER: i64 = 1_798_761_600;
    /// 2025-12-01T00:00:00Z
    pub const CRL_THIS_UPDATE: i64 = 1_764_547_200;
    /// 2026-02-01T00:00:00Z
    pub const CRL_NEXT_UPDATE: i64 = 1_769_904_000;
}

/// Converts fixed Unix seconds into the `OffsetDateTime` rcgen takes.
pub fn at(unix_seconds: i64) -> OffsetDateTime {
    // The constants above and any caller-chosen instant in the years 0..9999 are in range; an
    // out-of-range value is a bug in the calling test, so fall back to the epoch visibly.
    OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The key algorithm used for all three certificates of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA 2048, sha256WithRSAEncryption (PKCS#1 v1.5).
    Rsa2048,
    /// ECDSA P-256 with SHA-256.
    EcdsaP256,
    Ed25519,
}

impl KeyKind {
    fn generate(self) -> Result<KeyPair, Error> {
        match self {
            KeyKind::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
            }
            KeyKind::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyKind::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        }
    }
}

/// One issued certificate with its private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub der: Vec<u8>,
    /// The private key, PKCS#8 DER.
    pub key_pkcs8_der: Vec<u8>,
    /// The certificate, PEM.
    pub pem: String,
    /// Serial number content octets as encoded in the certificate (no sign padding needed: the
    /// generator keeps the top bit clear).
    pub serial: Vec<u8>,
}

impl Issued {
    fn signing_key(&self) -> Result<KeyPair, Error> {
        KeyPair::try_from(self.key_pkcs8_der.as_slice())
    }
}

/// What to put into a three-level chain. Every field has a fixed default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    pub key: KeyKind,
    /// Validity of the leaf.
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Validity of the root and the intermediate.
    pub ca_not_before: OffsetDateTime,
    pub ca_not_after: OffsetDateTime,
    pub leaf_common_name: String,
    /// SAN otherName UPN (UTF8String); omitted when `None`.
    pub upn: Option<String>,
    /// SAN rfc822Name; omitted when `None`.
    pub email: Option<String>,
    /// CRL distribution point of the leaf (where the intermediate's CRL lives).
    pub leaf_crl_url: Option<String>,
    /// CRL distribution point of the intermediate (where the root's CRL lives).
    pub intermediate_crl_url: Option<String>,
    /// Seeds the certificate serial numbers (see [`serial_for`]).
    pub serial_seed: u64,
    /// The keyIdentifier to write into the leaf's authorityKeyIdentifier instead of the
    /// issuing CA's real one: a forged AKI, as a CA that claims another CA's identity writes.
    pub leaf_authority_key_id: Option<Vec<u8>>,
    /// The issuing CA's common name as the leaf's issuer field spells it (the CA's own subject
    /// stays "certgate Test Issuing CA"); a spelling that differs only in case still chains
    /// (RFC 5280 §7.1 name comparison).
    pub leaf_issuer_common_name: Option<String>,
    /// The CAs' common names are "{ca_name_prefix} Root CA" and "{ca_name_prefix} Issuing CA":
    /// a second PKI trusted next to the first needs names of its own (CRLs are found by name).
    pub ca_name_prefix: String,
    /// SAN dNSNames of the leaf, after the UPN and e-mail entries.
    pub leaf_dns_names: Vec<String>,
    /// Extensions added verbatim to the root, the intermediate and the leaf (after the ones
    /// the generator writes itself; do not repeat one of those).
    pub root_extensions: Vec<RawExtension>,
    pub intermediate_extensions: Vec<RawExtension>,
    pub leaf_extensions: Vec<RawExtension>,
    /// SAN iPAddress entries of the leaf.
    pub leaf_ip_addresses: Vec<IpAddr>,
    /// The leaf's extendedKeyUsage purposes; empty leaves the extension out.
    pub leaf_ekus: Vec<ExtendedKeyUsagePurpose>,
    /// basicConstraints cA=TRUE on the leaf (a CA certificate used as an end entity).
    pub leaf_is_ca: bool,
    /// Changes made to each certificate after it is issued (it is then signed again by the
    /// same issuer key): for certificates that break a profile rule. Empty by default.
    pub root_edits: Vec<Edit>,
    pub intermediate_edits: Vec<Edit>,
    pub leaf_edits: Vec<Edit>,
}

/// One extension written as given, so tests can build certificates that break a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawExtension {
    /// OID arcs, e.g. `&[2, 5, 29, 30]`.
    pub oid: Vec<u64>,
    pub critical: bool,
    /// The DER inside the extnValue OCTET STRING.
    pub value: Vec<u8>,
}

impl RawExtension {
    fn to_rcgen(&self) -> CustomExtension {
        let mut ext = CustomExtension::from_oid_content(&self.oid, self.value.clone());
        ext.set_criticality(self.critical);
        ext
    }
}

/// DER building blocks for [`RawExtension`] values.
pub mod der {
    /// One TLV with a definite length (short or long form).
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let significant = bytes.get(skip..).unwrap_or_default();
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
        out.extend_from_slice(content);
        out
    }

    /// A GeneralName base for name constraints (RFC 5280 §4.2.1.6).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Base {
        Email(String),
        Dns(String),
        Uri(String),
        /// Address then mask (8 or 32 octets).
        Ip(Vec<u8>),
    }

    impl Base {
        pub fn der(&self) -> Vec<u8> {
            match self {
                Base::Email(s) => tlv(0x81, s.as_bytes()),
                Base::Dns(s) => tlv(0x82, s.as_bytes()),
                Base::Uri(s) => tlv(0x86, s.as_bytes()),
                Base::Ip(b) => tlv(0x87, b),
            }
        }
    }

    /// GeneralSubtree ::= SEQUENCE { base, minimum [0] DEFAULT 0, maximum [1] OPTIONAL },
    /// with neither bound.
    pub fn subtree(base: &Base) -> Vec<u8> {
        tlv(0x30, &base.der())
    }

    /// The NameConstraints value (RFC 5280 §4.2.1.10) from already-encoded GeneralSubtrees:
    /// `None` leaves the field out, `Some(&[])` writes it empty (which the RFC forbids).
    pub fn name_constraints(
        permitted: Option<&[Vec<u8>]>,
        excluded: Option<&[Vec<u8>]>,
    ) -> Vec<u8> {
        let mut content = Vec::new();
        if let Some(subtrees) = permitted {
            content.extend(tlv(0xa0, &subtrees.concat()));
        }
        if let Some(subtrees) = excluded {
            content.extend(tlv(0xa1, &subtrees.concat()));
        }
        tlv(0x30, &content)
    }

    /// The id-ce-nameConstraints OID arcs.
    pub const NAME_CONSTRAINTS_OID: &[u64] = &[2, 5, 29, 30];
}

impl Default for ChainSpec {
    fn default() -> Self {
        ChainSpec {
            key: KeyKind::Rsa2048,
            not_before: at(instants::LEAF_NOT_BEFORE),
            not_after: at(instants::LEAF_NOT_AFTER),
            ca_not_before: at(instants::CA_NOT_BEFORE),
            ca_not_after: at(instants::CA_NOT_AFTER),
            leaf_common_name: "Alice Example".into(),
            upn: Some("alice@corp.example".into()),
            email: Some("alice@corp.example".into()),
            leaf_crl_url: Some("http://pki.corp.example/crl/issuing-ca.crl".into()),
            intermediate_crl_url: Some("http://pki.corp.example/crl/root-ca.crl".into()),
            serial_seed: 0x5EED_0001,
            leaf_authority_key_id: None,
            leaf_issuer_common_name: None,
            ca_name_prefix: "certgate Test".into(),
            leaf_dns_names: Vec::new(),
            root_extensions: Vec::new(),
            intermediate_extensions: Vec::new(),
            leaf_extensions: Vec::new(),
            leaf_ip_addresses: Vec::new(),
            leaf_ekus: vec![ExtendedKeyUsagePurpose::ClientAuth],
            leaf_is_ca: false,
            root_edits: Vec::new(),
            intermediate_edits: Vec::new(),
            leaf_edits: Vec::new(),
        }
    }
}

impl ChainSpec {
    pub fn with_key(key: KeyKind) -> Self {
        ChainSpec {
            key,
            ..ChainSpec::default()
        }
    }
}

/// A root CA, an issuing (intermediate) CA under it, and a client leaf under that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestPki {
    pub root: Issued,
    pub intermediate: Issued,
    pub leaf: Issued,
}

/// What a CRL contains. `entries` serials are generated from `seed` (see
/// [`revoked_serial`]); `extra_revoked` serials are appended after them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlSpec {
    pub entries: usize,
    pub seed: u64,
    pub crl_number: u64,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    /// Further serial numbers (content octets, top bit clear) to list as revoked.
    pub extra_revoked: Vec<Vec<u8>>,
}

impl Default for CrlSpec {
    fn default() -> Self {
        CrlSpec {
            entries: 0,
            seed: 0xC0FF_EE00,
            crl_number: 1,
            this_update: at(instants::CRL_THIS_UPDATE),
            next_update: at(instants::CRL_NEXT_UPDATE),
            extra_revoked: Vec::new(),
        }
    }
}

impl TestPki {
    /// Issues root → intermediate → leaf as `spec` describes.
    pub fn three_level(spec: &ChainSpec) -> Result<TestPki, Error> {
        let root_key = spec.key.generate()?;
        let mut root_params = ca_params(
            spec,
            &format!("{} Root CA", spec.ca_name_prefix),
            None,
            1,
            BasicConstraints::Unconstrained,
        )?;
        root_params
            .custom_extensions
            .extend(spec.root_extensions.iter().map(RawExtension::to_rcgen));
        let root_cert = root_params.self_signed(&root_key)?;
        let root = issued(&root_cert, &root_key, serial_for(spec.serial_seed, 1));
        let root_issuer = Issuer::from_params(&root_params, &root_key);

        let intermediate_key = spec.key.generate()?;
        let mut intermediate_params = ca_params(
            spec,
            &format!("{} Issuing CA", spec.ca_name_prefix),
            spec.intermediate_crl_url.as_deref(),
            2,
            BasicConstraints::Constrained(0),
        )?;
        intermediate_params.custom_extensions.extend(
            spec.intermediate_extensions
                .iter()
                .map(RawExtension::to_rcgen),
        );
        let intermediate_cert = intermediate_params.signed_by(&intermediate_key, &root_issuer)?;
        let intermediate = issued(
            &intermediate_cert,
            &intermediate_key,
            serial_for(spec.serial_seed, 2),
        );
        // The leaf's issuer field: the intermediate's subject, or the spelling the spec asks for.
        let mut leaf_issuer_params = intermediate_params.clone();
        if let Some(common_name) = &spec.leaf_issuer_common_name {
            leaf_issuer_params.distinguished_name = distinguished_name(common_name)?;
        }
        let intermediate_issuer = Issuer::from_params(&leaf_issuer_params, &intermediate_key);

        let leaf_key = spec.key.generate()?;
        let leaf_params = leaf_params(spec)?;
        let leaf_cert = leaf_params.signed_by(&leaf_key, &intermediate_issuer)?;
        let leaf = issued(&leaf_cert, &leaf_key, serial_for(spec.serial_seed, 3));

        let root = apply_edits(root, &spec.root_edits, &root_key.serialize_der())?;
        let intermediate = apply_edits(
            intermediate,
            &spec.intermediate_edits,
            &root_key.serialize_der(),
        )?;
        let leaf = apply_edits(leaf, &spec.leaf_edits, &intermediate_key.serialize_der())?;
        Ok(TestPki {
            root,
            intermediate,
            leaf,
        })
    }

    /// A complete, direct CRL (RFC 5280 §5) signed by `issuer`, with the AKI and CRL number
    /// extensions and no issuing distribution point. Entries carry no extensions, so each one
    /// is 35 bytes: 600,000 entries make a CRL of about 21 MB.
    ///
    /// RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic, so the same issuer key and
    /// spec give the same bytes.
    pub fn crl(issuer: &Issued, spec: &CrlSpec) -> Result<Vec<u8>, Error> {
        let key = issuer.signing_key()?;
        let issuer = Issuer::from_ca_cert_der(&issuer.der.as_slice().into(), key)?;
        let revoked = |serial: &[u8]| RevokedCertParams {
            serial_number: SerialNumber::from_slice(serial),
            revocation_time: spec.this_update,
            reason_code: None,
            invalidity_date: None,
        };
        let mut revoked_certs = Vec::with_capacity(spec.entries + spec.extra_revoked.len());
        revoked_certs.extend((0..spec.entries).map(|i| revoked(&revoked_serial(spec.seed, i))));
        revoked_certs.extend(spec.extra_revoked.iter().map(|s| revoked(s)));
        let params = CertificateRevocationListParams {
            this_update: spec.this_update,
            next_update: spec.next_update,
            crl_number: SerialNumber::from_slice(&crl_number_bytes(spec.crl_number)),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&issuer)?.der().to_vec())
    }
}

/// The serial number of certificate `index` of a chain made with `seed`: 16 bytes, first byte
/// in 0x01..=0x7f so that the DER INTEGER content is exactly these bytes.
pub fn serial_for(seed: u64, index: u64) -> Vec<u8> {
    serial16(seed ^ 0xCE47_0000_0000_0000, index)
}

/// Serial number of CRL entry `index` for `seed`. Same shape as [`serial_for`], from a
/// different stream, so CRL entries do not collide with chain serials except by a 2^-120
/// accident.
pub fn revoked_serial(seed: u64, index: usize) -> Vec<u8> {
    serial16(seed ^ 0x0C41_0000_0000_0000, index as u64)
}

fn serial16(seed: u64, index: u64) -> Vec<u8> {
    let mut state = seed.wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_mul(2));
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&splitmix64(&mut state).to_be_bytes());
    out.extend_from_slice(&splitmix64(&mut state).to_be_bytes());
    if let Some(first) = out.first_mut() {
        *first = (*first & 0x7f).max(1);
    }
    out
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-mixed generator; plenty for test serials.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Big-endian bytes of a non-negative CRL number without leading zeros (rcgen adds the sign
/// octet itself).
fn crl_number_bytes(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    bytes.get(skip..).unwrap_or(&bytes).to_vec()
}

fn issued(cert: &rcgen::Certificate, key: &KeyPair, serial: Vec<u8>) -> Issued {
    Issued {
        der: cert.der().to_vec(),
        key_pkcs8_der: key.serialize_der(),
        pem: cert.pem(),
        serial,
    }
}

fn apply_edits(issued: Issued, edits: &[Edit], issuer_key_pkcs8: &[u8]) -> Result<Issued, Error> {
    if edits.is_empty() {
        return Ok(issued);
    }
    let der = edit_certificate(&issued.der, issuer_key_pkcs8, edits)?;
    let serial = edits
        .iter()
        .rev()
        .find_map(|e| match e {
            Edit::Serial(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or(issued.serial);
    Ok(Issued {
        pem: to_pem(&der),
        der,
        key_pkcs8_der: issued.key_pkcs8_der,
        serial,
    })
}

fn distinguished_name(common_name: &str) -> Result<DistinguishedName, Error> {
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CountryName,
        DnValue::PrintableString("DE".try_into()?),
    );
    dn.push(DnType::OrganizationName, "certgate Test");
    dn.push(DnType::CommonName, common_name);
    Ok(dn)
}

fn ca_params(
    spec: &ChainSpec,
    common_name: &str,
    crl_url: Option<&str>,
    serial_index: u64,
    constraints: BasicConstraints,
) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::default();
    params.not_before = spec.ca_not_before;
    params.not_after = spec.ca_not_after;
    params.serial_number = Some(SerialNumber::from_slice(&serial_for(
        spec.serial_seed,
        serial_index,
    )));
    params.distinguished_name = distinguished_name(common_name)?;
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.crl_distribution_points = crl_url
        .map(|url| {
            vec![CrlDistributionPoint {
                uris: vec![url.to_owned()],
            }]
        })
        .unwrap_or_default();
    params.use_authority_key_identifier_extension = serial_index != 1;
    params.key_identifier_method = KeyIdMethod::Sha256;
    Ok(params)
}

fn leaf_params(spec: &ChainSpec) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::default();
    params.not_before = spec.not_before;
    params.not_after = spec.not_after;
    params.serial_number = Some(SerialNumber::from_slice(&serial_for(spec.serial_seed, 3)));
    params.distinguished_name = distinguished_name(&spec.leaf_common_name)?;
    params.is_ca = if spec.leaf_is_ca {
        IsCa::Ca(BasicConstraints::Unconstrained)
    } else {
        IsCa::ExplicitNoCa
    };
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = spec.leaf_ekus.clone();
    if let Some(upn) = &spec.upn {
        params
            .subject_alt_names
            .push(SanType::OtherName((UPN_OID.to_vec(), upn.as_str().into())));
    }
    if let Some(email) = &spec.email {
        params
            .subject_alt_names
            .push(SanType::Rfc822Name(email.as_str().try_into()?));
    }
    for dns in &spec.leaf_dns_names {
        params
            .subject_alt_names
            .push(SanType::DnsName(dns.as_str().try_into()?));
    }
    params.subject_alt_names.extend(
        spec.leaf_ip_addresses
            .iter()
            .map(|ip| SanType::IpAddress(*ip)),
    );
    params
        .custom_extensions
        .extend(spec.leaf_extensions.iter().map(RawExtension::to_rcgen));
    params.crl_distribution_points = spec
        .leaf_crl_url
        .as_ref()
        .map(|url| {
            vec![CrlDistributionPoint {
                uris: vec![url.clone()],
            }]
        })
        .unwrap_or_default();
    match &spec.leaf_authority_key_id {
        None => params.use_authority_key_identifier_extension = true,
        Some(key_id) => {
            // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
            // (RFC 5280 §4.2.1.1); key identifiers are short, so one-byte lengths suffice.
            let mut content = vec![0x30, (key_id.len() + 2) as u8, 0x80, key_id.len() as u8];
            content.extend_from_slice(key_id);
            params.use_authority_key_identifier_extension = false;
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    &[2, 5, 29, 35],
                    content,
                ));
        }
    }
    params.key_identifier_method = KeyIdMethod::Sha256;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use certgate_pki::{Certificate, GeneralName, KeyUsage, UnixTime};

    use super::*;

    /// A scratch directory under the system temp dir, unique per test and process.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("certgate-testpki-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    fn write(dir: &Path, file: &str, bytes: &[u8]) -> String {
        let path = dir.join(file);
        std::fs::write(&path, bytes).expect("write scratch file");
        path.to_string_lossy().into_owned()
    }

    /// Runs `openssl verify` on the chain at `attime` with extra args; returns (success, output).
    fn openssl_verify(pki: &TestPki, dir: &Path, attime: i64, extra: &[&str]) -> (bool, String) {
        let root = write(dir, "root.pem", pki.root.pem.as_bytes());
        let intermediate = write(dir, "int.pem", pki.intermediate.pem.as_bytes());
        let leaf = write(dir, "leaf.pem", pki.leaf.pem.as_bytes());
        let out = Command::new("openssl")
            .args([
                "verify",
                "-x509_strict",
                "-purpose",
                "sslclient",
                "-attime",
                &attime.to_string(),
            ])
            .args(["-CAfile", &root, "-untrusted", &intermediate])
            .args(extra)
            .arg(&leaf)
            .output()
            .expect("openssl must be installed to run these tests");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn crl_to_pem(dir: &Path, name: &str, der: &[u8]) -> String {
        let der_path = write(dir, &format!("crl-{name}.der"), der);
        let pem_path = dir
            .join(format!("crl-{name}.pem"))
            .to_string_lossy()
            .into_owned();
        let status = Command::new("openssl")
            .args(["crl", "-inform", "DER", "-in", &der_path, "-out", &pem_path])
            .status()
            .expect("openssl crl");
        assert!(status.success(), "openssl could not read the generated CRL");
        pem_path
    }

    #[test]
    fn rsa_chain_parses_and_leaf_has_the_certgate_client_profile() {
        let pki = TestPki::three_level(&ChainSpec::default()).expect("generate");
        let root = Certificate::from_der(&pki.root.der).expect("root parses");
        let intermediate =
            Certificate::from_der(&pki.intermediate.der).expect("intermediate parses");
        let leaf = Certificate::from_der(&pki.leaf.der).expect("leaf parses");

        assert!(root.is_self_issued() && root.is_ca());
        assert!(intermediate.is_ca() && intermediate.issuer() == root.subject());
        assert_eq!(
            intermediate
                .extensions()
                .basic_constraints
                .and_then(|b| b.path_len),
            Some(0)
        );
        assert_eq!(leaf.issuer(), intermediate.subject());
        assert!(!leaf.is_ca());
        for ca in [&root, &intermediate] {
            let usage = ca.extensions().key_usage.expect("CA key usage");
            assert!(usage.allows(KeyUsage::KEY_CERT_SIGN) && usage.allows(KeyUsage::CRL_SIGN));
            assert!(ca.extensions().subject_key_id.is_some());
        }
        assert_eq!(
            intermediate
                .extensions()
                .authority_key_id
                .as_ref()
                .and_then(|a| a.key_id.as_ref()),
            root.extensions().subject_key_id.as_ref()
        );
        assert_eq!(
            leaf.extensions()
                .authority_key_id
                .as_ref()
                .and_then(|a| a.key_id.as_ref()),
            intermediate.extensions().subject_key_id.as_ref()
        );

        let eku: Vec<&str> = leaf
            .extensions()
            .extended_key_usage
            .iter()
            .flatten()
            .map(|o| o.as_str())
            .collect();
        assert_eq!(eku, ["1.3.6.1.5.5.7.3.2"], "clientAuth only");
        assert_eq!(
            leaf.extensions().key_usage.map(|k| k.0),
            Some(KeyUsage::DIGITAL_SIGNATURE)
        );
        assert_eq!(leaf.serial(), pki.leaf.serial.as_slice());
        assert_eq!(leaf.not_before(), UnixTime(instants::LEAF_NOT_BEFORE));
        assert_eq!(leaf.not_after(), UnixTime(instants::LEAF_NOT_AFTER));
        assert_eq!(root.not_before(), UnixTime(instants::CA_NOT_BEFORE));

        let san = leaf
            .extensions()
            .subject_alt_names
            .as_ref()
            .expect("SAN present");
        let upn_utf8 = [&[0x0c, 18][..], b"alice@corp.example"].concat();
        assert!(
            san.iter()
                .any(|n| matches!(n, GeneralName::OtherName { type_id, value }
                if type_id.as_str() == UPN_OID_DOTTED && *value == upn_utf8)),
            "UPN otherName with a UTF8String value: {san:?}"
        );
        assert!(san.contains(&GeneralName::Rfc822("alice@corp.example".into())));

        let dp = leaf
            .extensions()
            .crl_distribution_points
            .as_ref()
            .expect("CRL DP present");
        let names = match dp.first().and_then(|p| p.name.as_ref()) {
            Some(certgate_pki::DistributionPointName::FullName(names)) => names.clone(),
            other => panic!("unexpected distribution point {other:?}"),
        };
        assert_eq!(
            names,
            [GeneralName::Uri(
                "http://pki.corp.example/crl/issuing-ca.crl".into()
            )]
        );
    }

    #[test]
    fn every_key_kind_gives_a_chain_openssl_accepts_at_the_fixed_time() {
        for kind in [KeyKind::Rsa2048, KeyKind::EcdsaP256, KeyKind::Ed25519] {
            let pki = TestPki::three_level(&ChainSpec::with_key(kind)).expect("generate");
            for cert in [&pki.root, &pki.intermediate, &pki.leaf] {
                Certificate::from_der(&cert.der).unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
            }
            let dir = scratch(&format!("{kind:?}"));
            let (ok, text) = openssl_verify(&pki, &dir, VALIDATION_TIME, &[]);
            assert!(ok, "{kind:?}: openssl rejected the chain: {text}");
            // After the leaf's notAfter the same chain must fail: the times really are fixed.
            let (ok, text) = openssl_verify(&pki, &dir, instants::LEAF_NOT_AFTER + 1, &[]);
            assert!(!ok && text.contains("expired"), "{kind:?}: {text}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn crls_revoke_what_they_list_and_openssl_checks_them() {
        let pki = TestPki::three_level(&ChainSpec::default()).expect("generate");
        let dir = scratch("crl");
        let root_crl = TestPki::crl(
            &pki.root,
            &CrlSpec {
                entries: 50,
                ..CrlSpec::default()
            },
        )
        .expect("root CRL");
        let clean = TestPki::crl(
            &pki.intermediate,
            &CrlSpec {
                entries: 50,
                seed: 7,
                ..CrlSpec::default()
            },
        )
        .expect("intermediate CRL");
        let revoking = TestPki::crl(
            &pki.intermediate,
            &CrlSpec {
                entries: 50,
                seed: 7,
                crl_number: 2,
                extra_revoked: vec![pki.leaf.serial.clone()],
                ..CrlSpec::default()
            },
        )
        .expect("intermediate CRL revoking the leaf");

        let root_pem = crl_to_pem(&dir, "root", &root_crl);
        let clean_pem = crl_to_pem(&dir, "clean", &clean);
        let revoking_pem = crl_to_pem(&dir, "revoking", &revoking);
        let crl_args = |int: &str| {
            [
                "-crl_check_all".to_string(),
                "-CRLfile".into(),
                root_pem.clone(),
                "-CRLfile".into(),
                int.to_string(),
            ]
        };

        let args = crl_args(&clean_pem);
        let (ok, text) = openssl_verify(
            &pki,
            &dir,
            VALIDATION_TIME,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(ok, "clean CRLs: {text}");
        let args = crl_args(&revoking_pem);
        let (ok, text) = openssl_verify(
            &pki,
            &dir,
            VALIDATION_TIME,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(
            !ok && text.contains("revoked"),
            "leaf listed as revoked: {text}"
        );
        // Past nextUpdate the CRL is stale.
        let args = crl_args(&clean_pem);
        let (ok, text) = openssl_verify(
            &pki,
            &dir,
            instants::CRL_NEXT_UPDATE + 1,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(!ok && text.contains("CRL has expired"), "stale CRL: {text}");

        let listing = Command::new("openssl")
            .args(["crl", "-noout", "-text", "-in", &revoking_pem])
            .output()
            .expect("openssl crl -text");
        let listing = String::from_utf8_lossy(&listing.stdout).to_uppercase();
        let hex = |s: &[u8]| s.iter().map(|b| format!("{b:02X}")).collect::<String>();
        assert!(
            listing.contains(&hex(&revoked_serial(7, 0))),
            "generated serial listed"
        );
        assert!(
            listing.contains(&hex(&pki.leaf.serial)),
            "extra serial listed"
        );
        assert!(
            listing.contains("X509V3 CRL NUMBER")
                && listing.contains("NEXT UPDATE: FEB  1 00:00:00 2026 GMT")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn crl_bytes_are_reproducible_for_the_same_issuer_key() {
        let pki = TestPki::three_level(&ChainSpec::default()).expect("generate");
        let spec = CrlSpec {
            entries: 1_000,
            ..CrlSpec::default()
        };
        let a = TestPki::crl(&pki.intermediate, &spec).expect("crl");
        let b = TestPki::crl(&pki.intermediate, &spec).expect("crl");
        assert_eq!(a, b);
        // 35 bytes per entry plus a few hundred bytes of envelope and signature.
        assert!((35_000..36_000).contains(&a.len()), "{} bytes", a.len());
    }

    #[test]
    fn serials_are_positive_sixteen_byte_integers_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            let s = revoked_serial(1, i);
            assert_eq!(s.len(), 16);
            assert!((1..=0x7f).contains(&s[0]));
            assert!(seen.insert(s));
        }
        assert_eq!(revoked_serial(1, 5), revoked_serial(1, 5));
        assert_ne!(serial_for(1, 3), revoked_serial(1, 3));
        assert_eq!(crl_number_bytes(0), [0]);
        assert_eq!(crl_number_bytes(0x0102), [1, 2]);
    }
}
