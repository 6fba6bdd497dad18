//! The owned values of a certificate's extensions (RFC 5280 §4.2): names, distribution
//! points, policies, constraints, key usage, key identifiers, access descriptions, and the
//! shared byte buffer they point into.

use std::ops::Range;
use std::sync::Arc;

use crate::name::{Name, NameAttribute};
use crate::oid::Oid;

/// A GeneralName (RFC 5280 §4.2.1.6), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeneralName {
    /// rfc822Name: an e-mail address (IA5String, checked to be ASCII).
    Rfc822(String),
    /// dNSName: a host name, or in name constraints a domain (IA5String, ASCII).
    Dns(String),
    /// uniformResourceIdentifier (IA5String, ASCII), e.g. a CRL distribution point's URL.
    Uri(String),
    /// 4 or 16 bytes for an address; 8 or 32 (address + mask) inside name constraints.
    Ip(Vec<u8>),
    /// directoryName: an X.500 distinguished name.
    Directory(Name),
    /// `value` is the content of the `[0] EXPLICIT` wrapper (the inner TLV).
    OtherName {
        /// The type-id, e.g. 1.3.6.1.4.1.311.20.2.3 for Microsoft's UPN.
        type_id: Oid,
        /// The encoding of the value, tag and length included.
        value: Vec<u8>,
    },
    /// registeredID: an object identifier naming the subject.
    RegisteredId(Oid),
    /// x400Address, ediPartyName, or a form that did not decode: kept so that name
    /// constraints can fail closed on it.
    Unsupported {
        /// The GeneralName CHOICE's context tag number: 3 for x400Address, 5 for ediPartyName.
        tag: u32,
    },
}

/// A distribution point name (RFC 5280 §4.2.1.13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DistributionPointName {
    /// fullName: the names (in practice URLs) the CRL can be fetched from and that an
    /// issuingDistributionPoint must match.
    FullName(Vec<GeneralName>),
    /// One RDN, to be appended to the CRL issuer's name.
    RelativeToCrlIssuer(Vec<NameAttribute>),
}

/// Bit positions of ReasonFlags (RFC 5280 §4.2.1.13), as a bit set: bit n = flag n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReasonSet(pub u16);

impl ReasonSet {
    /// All reasons a CRL can cover: unused(0) excluded, keyCompromise(1)..aACompromise(8).
    pub const ALL: ReasonSet = ReasonSet(0b1_1111_1110);
}

/// One DistributionPoint of cRLDistributionPoints or freshestCRL (RFC 5280 §4.2.1.13,
/// §4.2.1.15): where a CRL covering the certificate is found and who signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributionPoint {
    /// distributionPoint; `None` when the point names only a cRLIssuer.
    pub name: Option<DistributionPointName>,
    /// The reasons the point's CRL covers; `None` means all of them.
    pub reasons: Option<ReasonSet>,
    /// cRLIssuer: the CRL is indirect, signed by this entity rather than the certificate's
    /// issuer; `None` when the issuer signs it.
    pub crl_issuer: Option<Vec<GeneralName>>,
}

/// One PolicyInformation of certificatePolicies (RFC 5280 §4.2.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyInformation {
    /// policyIdentifier: the policy OID, or anyPolicy (2.5.29.32.0).
    pub policy: Oid,
    /// Qualifiers are carried for completeness; RFC 5280 §6.1.3(d) attaches them to tree nodes.
    pub qualifiers: Vec<Vec<u8>>,
}

/// One pair of policyMappings (RFC 5280 §4.2.1.5), which only CA certificates carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyMapping {
    /// issuerDomainPolicy: the policy as the issuing CA's domain names it.
    pub issuer_domain: Oid,
    /// subjectDomainPolicy: the policy of the subject CA's domain taken as equivalent to it.
    pub subject_domain: Oid,
}

/// policyConstraints (RFC 5280 §4.2.1.11), each field a SkipCerts count: how many more
/// certificates may follow in the path before the constraint applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyConstraints {
    /// requireExplicitPolicy: after that many certificates, every certificate in the path must
    /// carry an acceptable policy.
    pub require_explicit_policy: Option<u32>,
    /// inhibitPolicyMapping: after that many certificates, policy mappings are no longer
    /// followed.
    pub inhibit_policy_mapping: Option<u32>,
}

/// nameConstraints (RFC 5280 §4.2.1.10): the name spaces the certificates below a CA must
/// (permitted) or must not (excluded) fall in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameConstraints {
    /// The bases of permittedSubtrees; `None` when the field is absent (nothing restricted).
    pub permitted: Option<Vec<GeneralName>>,
    /// The bases of excludedSubtrees; `None` when the field is absent.
    pub excluded: Option<Vec<GeneralName>>,
    /// The extension's criticality flag (RFC 5280 §4.2.1.10 requires it set).
    pub critical: bool,
    /// What makes the extension malformed, if anything (empty subtrees, neither field,
    /// minimum/maximum): decoded from the raw DER, since x509-parser skips these.
    pub defect: Option<&'static str>,
}

/// basicConstraints (RFC 5280 §4.2.1.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicConstraints {
    /// cA: whether the subject is a CA whose key may verify certificate signatures.
    pub ca: bool,
    /// pathLenConstraint: how many non-self-issued intermediate certificates may follow
    /// this one in a path; `None` for no limit.
    pub path_len: Option<u32>,
}

/// keyUsage bits (RFC 5280 §4.2.1.3), bit n = `KeyUsage::...` constant n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyUsage(pub u16);

impl KeyUsage {
    /// digitalSignature (0): signatures other than on certificates and CRLs, e.g. a TLS
    /// client's CertificateVerify.
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    /// nonRepudiation (1), also called contentCommitment.
    pub const NON_REPUDIATION: u16 = 1 << 1;
    /// keyEncipherment (2): the key encrypts other keys (RSA key transport).
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    /// dataEncipherment (3): the key encrypts user data directly.
    pub const DATA_ENCIPHERMENT: u16 = 1 << 3;
    /// keyAgreement (4): the key takes part in key agreement (e.g. ECDH).
    pub const KEY_AGREEMENT: u16 = 1 << 4;
    /// keyCertSign (5): the key verifies certificate signatures; a CA needs it.
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    /// cRLSign (6): the key verifies CRL signatures.
    pub const CRL_SIGN: u16 = 1 << 6;

    /// Whether `bit` (one of the constants above) is asserted.
    pub fn allows(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
}

/// authorityKeyIdentifier (RFC 5280 §4.2.1.1 for certificates, §5.2.1 for CRLs): which
/// of the issuer's keys signed, used to pick the issuer among candidates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityKeyId {
    /// keyIdentifier: the issuer certificate's subjectKeyIdentifier.
    pub key_id: Option<Vec<u8>>,
    /// authorityCertIssuer: the issuer of the issuer's certificate.
    pub issuer: Option<Vec<GeneralName>>,
    /// authorityCertSerialNumber: the issuer certificate's serial, INTEGER content octets.
    pub serial: Option<Vec<u8>>,
}

/// Bytes of a certificate's DER, shared with the certificate instead of copied out of it
/// (a sign-in parses two certificates; each copy is an allocation). Reads as a `[u8]`.
#[derive(Clone)]
pub struct SharedBytes {
    bytes: Arc<[u8]>,
    range: Range<usize>,
}

impl SharedBytes {
    /// `bytes[range]`; an out-of-range span reads as empty.
    pub(super) fn new(bytes: &Arc<[u8]>, range: Range<usize>) -> Self {
        let range = if bytes.get(range.clone()).is_some() {
            range
        } else {
            0..0
        };
        SharedBytes {
            bytes: Arc::clone(bytes),
            range,
        }
    }

    /// The bytes, as `&[u8]` (what `Deref` gives too).
    pub fn as_slice(&self) -> &[u8] {
        self
    }
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.get(self.range.clone()).unwrap_or_default()
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(bytes: Vec<u8>) -> Self {
        let range = 0..bytes.len();
        SharedBytes {
            bytes: Arc::from(bytes),
            range,
        }
    }
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for SharedBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}
impl Eq for SharedBytes {}

impl PartialEq<[u8]> for SharedBytes {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}
impl PartialEq<&[u8]> for SharedBytes {
    fn eq(&self, other: &&[u8]) -> bool {
        **self == **other
    }
}
impl PartialEq<Vec<u8>> for SharedBytes {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == **other
    }
}
impl PartialEq<SharedBytes> for Vec<u8> {
    fn eq(&self, other: &SharedBytes) -> bool {
        **self == **other
    }
}

/// SubjectPublicKeyInfo, its parts shared with the certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyInfo {
    /// The whole SubjectPublicKeyInfo DER.
    pub der: SharedBytes,
    /// The key's algorithm, e.g. rsaEncryption or id-ecPublicKey (RFC 3279 §2.3, RFC 5480).
    pub algorithm: Oid,
    /// DER of the AlgorithmIdentifier parameters, if present (and not NULL).
    pub parameters: Option<SharedBytes>,
    /// Contents of the subjectPublicKey BIT STRING.
    pub key: SharedBytes,
}

/// An AlgorithmIdentifier (signature algorithms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgorithmIdentifier {
    /// The signature algorithm, e.g. ecdsa-with-SHA256 or sha256WithRSAEncryption.
    pub oid: Oid,
    /// Full DER of the parameters element, if present (RSASSA-PSS needs it).
    pub parameters: Option<SharedBytes>,
}

/// One AccessDescription of authorityInfoAccess (RFC 5280 §4.2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessDescription {
    /// accessMethod, e.g. id-ad-caIssuers or id-ad-ocsp.
    pub method: Oid,
    /// accessLocation, usually a URI.
    pub location: GeneralName,
}

/// authorityInfoAccess as found. certgate fetches nothing from it; the TLS server profile
/// checks that it is well formed (CA/Browser Forum BRs §7.1.2.7.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorityInfoAccess {
    /// The descriptions in order (possibly none, which RFC 5280 does not allow).
    Decoded(Vec<AccessDescription>),
    /// The extension value is not a DER AuthorityInfoAccessSyntax.
    Malformed,
}
