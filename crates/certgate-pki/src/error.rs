//! Why a certificate, CRL or path was rejected, with stable reason codes.

use thiserror::Error;

use crate::oid::Oid;

/// Every reason the validation engine can reject something.
///
/// Each variant maps to a stable, kebab-case [`Reason::code`] that the CLI, the sign-in audit
/// log and HTTP error bodies share. Codes are never reused or renamed; the messages are for
/// people and may be improved.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    // ---- Encoding -------------------------------------------------------------------------
    #[error("the certificate is not valid DER X.509: {detail}")]
    CertificateMalformed { detail: String },
    #[error("the certificate contains extension {oid} more than once (RFC 5280 §4.2)")]
    DuplicateExtension { oid: Oid },
    #[error("the certificate's extension {oid} could not be decoded")]
    ExtensionMalformed { oid: Oid },
    #[error("the CRL is not valid DER: {detail}")]
    CrlMalformed { detail: String },

    // ---- Path building ----------------------------------------------------------------------
    #[error("no trusted root CA issued this chain: the issuer \"{issuer}\" is neither trusted nor presented; upload the missing root/intermediate CA or send the full chain")]
    IssuerNotFound { issuer: String },
    #[error("path building gave up after {budget} steps: the presented chain is hostile or pathological")]
    PathBudgetExceeded { budget: u32 },
    #[error("the path needs at least {intermediates} intermediate CAs (self-issued ones not counted), more than the allowed {max}; raise the maximum depth if this PKI is that deep")]
    PathTooLong { intermediates: usize, max: usize },

    // ---- Signatures -------------------------------------------------------------------------
    #[error("the signature on {what} does not verify with its issuer's public key")]
    SignatureInvalid { what: &'static str },
    #[error("signature algorithm {oid} is not supported or not allowed by policy")]
    SignatureAlgorithmUnsupported { oid: Oid },
    #[error("the {algorithm} key has {bits} bits; the policy requires at least {min_bits}")]
    WeakKey {
        algorithm: &'static str,
        bits: usize,
        min_bits: usize,
    },
    #[error("the public key could not be decoded or is of an unsupported type")]
    PublicKeyUnsupported,

    // ---- Validity and basic constraints -------------------------------------------------------
    #[error("the certificate expired at {not_after} (validation time {at})")]
    Expired { not_after: i64, at: i64 },
    #[error("the certificate is not valid before {not_before} (validation time {at})")]
    NotYetValid { not_before: i64, at: i64 },
    #[error("an issuing certificate is not a CA (basicConstraints cA is absent or false)")]
    NotCa,
    #[error("the path has more CA certificates below \"{ca}\" than its pathLenConstraint allows")]
    PathLengthExceeded { ca: String },
    #[error("a CA certificate's keyUsage does not allow keyCertSign")]
    CaKeyUsageMissingKeyCertSign,
    #[error("the certificate version is not supported, or a v1/v2 certificate is used as an intermediate CA")]
    UnsupportedVersion,
    #[error("the certificate has a critical extension {oid} that certgate does not understand (RFC 5280 §4.2)")]
    UnknownCriticalExtension { oid: Oid },

    // ---- Names, policies, purpose --------------------------------------------------------------
    #[error("the name {name} is not permitted by a CA's name constraints")]
    NameConstraintsViolated { name: String },
    #[error("no acceptable certificate policy: the path requires an explicit policy and the valid policy tree is empty")]
    PolicyNotAcceptable,
    #[error("the certificate is not allowed for {purpose} (extendedKeyUsage)")]
    ExtendedKeyUsageNotPermitted { purpose: String },
    #[error("the end-entity keyUsage does not allow digitalSignature")]
    KeyUsageNotPermitted,
    #[error("the certificate does not name {expected}")]
    NameMismatch { expected: String },

    // ---- Revocation -------------------------------------------------------------------------
    #[error(
        "the certificate with serial {serial} was revoked ({reason}) by CRL number {crl_number}"
    )]
    Revoked {
        serial: String,
        reason: String,
        crl_number: String,
    },
    #[error("the certificate with serial {serial} is on hold (certificateHold) in CRL number {crl_number}")]
    OnHold { serial: String, crl_number: String },
    #[error("no usable CRL from \"{issuer}\" covers this certificate, so its revocation status is unknown: {detail}")]
    CrlUnavailable { issuer: String, detail: String },
    #[error("the CRL from \"{issuer}\" expired at {next_update} (validation time {at})")]
    CrlStale {
        issuer: String,
        next_update: i64,
        at: i64,
    },
    #[error("the CRL from \"{issuer}\" is not yet effective (thisUpdate {this_update}, validation time {at})")]
    CrlNotYetValid {
        issuer: String,
        this_update: i64,
        at: i64,
    },
    #[error("the CRL's signature does not verify with its issuer's key")]
    CrlSignatureInvalid,
    #[error("the CRL has a critical extension {oid} that certgate does not understand")]
    CrlUnknownCriticalExtension { oid: Oid },
    #[error("the CRL issuer's certificate is not allowed to sign CRLs (keyUsage cRLSign)")]
    CrlIssuerNotCrlSigner,
    #[error("the CRL from \"{issuer}\" has no cRLNumber extension (RFC 5280 §5.2.3 requires one), so it cannot be ordered against other CRLs; reissue it with a CRL number")]
    CrlNumberMissing { issuer: String },
    #[error("the CRL's authorityKeyIdentifier does not match the subjectKeyIdentifier of any certificate of its issuer \"{issuer}\": it was signed by a different key of that CA")]
    CrlAuthorityKeyMismatch { issuer: String },

    // ---- Policies (continued) -------------------------------------------------------------
    #[error("a CA's policyMappings extension maps to or from anyPolicy, which RFC 5280 §6.1.4 (a) forbids")]
    PolicyMappingInvalid,
    #[error("certificate policy processing exceeded its limit of {limit} graph nodes and edges: the path's policies or policy mappings are hostile or pathological")]
    PolicyGraphTooLarge { limit: usize },
    #[error("a CA's name constraints contain a {form} subtree that certgate cannot evaluate, and the certificate has a name of that form")]
    NameConstraintsUnsupported { form: String },
    #[error("the CA certificate \"{ca}\" has a nameConstraints extension that is not marked critical (RFC 5280 §4.2.1.10: conforming CAs MUST mark it critical); reissue it with a critical extension")]
    NameConstraintsNotCritical { ca: String },
    #[error("the end-entity certificate has a nameConstraints extension, which RFC 5280 §4.2.1.10 allows only in CA certificates")]
    NameConstraintsInEndEntity,
    #[error(
        "the nameConstraints extension of \"{ca}\" is malformed: {detail} (RFC 5280 §4.2.1.10)"
    )]
    NameConstraintsMalformed { ca: String, detail: String },
    #[error("checking the certificate's names against the path's name constraints would take more than the budget of {budget} comparisons: the certificate or its CAs are hostile or pathological")]
    NameConstraintsBudgetExceeded { budget: u64 },

    // ---- TLS server profile (CA/Browser Forum Baseline Requirements) ----------------------
    #[error("the subject commonName \"{common_name}\" is not one of the certificate's subjectAltName DNS names or IP addresses (BRs §7.1.4.3); reissue it with the CN copied from the SAN")]
    ServerCommonNameNotInSan { common_name: String },
    #[error("a TLS server certificate must carry a subjectAltName with its DNS names or IP addresses (BRs §7.1.2.7.12)")]
    ServerSanMissing,
    #[error("a TLS server certificate must carry an extendedKeyUsage extension with serverAuth (BRs §7.1.2.7.10)")]
    ServerEkuMissing,
    #[error("the extendedKeyUsage extension of a TLS server certificate must not be critical (BRs §7.1.2.7.6)")]
    ServerEkuCritical,
    #[error("a TLS server certificate must not assert anyExtendedKeyUsage (BRs §7.1.2.7.10)")]
    ServerEkuAny,
    #[error("the TLS server certificate is a CA certificate (basicConstraints cA is true); a server certificate must have cA false (BRs §7.1.2.7.8)")]
    ServerCaLeaf,
    #[error("the authorityInformationAccess extension is malformed: {detail} (RFC 5280 §4.2.2.1, BRs §7.1.2.7.7)")]
    AiaMalformed { detail: String },
    #[error("the subjectAltName extension is critical although the subject is not empty (RFC 5280 §4.2.1.6, BRs §7.1.2.7.12)")]
    SanCriticalWithSubject,
    #[error("the wildcard name \"{name}\" covers a whole public suffix (BRs §3.2.2.6): a wildcard must stand below a registrable domain")]
    WildcardUnderPublicSuffix { name: String },
    #[error("the DNS name \"{name}\" has a wildcard that is not the whole leftmost label \"*.\" (BRs §7.1.2.7.12)")]
    ServerWildcardInvalid { name: String },

    // ---- Certificate profile (RFC 5280 §4) -------------------------------------------------
    #[error("the certificate has no authorityKeyIdentifier, which RFC 5280 §4.2.1.1 requires in every certificate that is not self-signed; reissue it from a CA that adds the extension")]
    AuthorityKeyIdMissing,
    #[error("the CA certificate has no subjectKeyIdentifier, which RFC 5280 §4.2.1.2 requires in every CA certificate; reissue it with the extension")]
    SubjectKeyIdMissing,
    #[error("the certificate's {extension} extension is {actual}, but {rule}")]
    ExtensionCriticalityInvalid {
        extension: &'static str,
        actual: &'static str,
        rule: &'static str,
    },
    #[error("keyUsage asserts keyCertSign in a certificate that is not a CA (RFC 5280 §4.2.1.3: keyCertSign requires basicConstraints cA)")]
    KeyCertSignOnEndEntity,
    #[error("the subject is empty, so the subjectAltName must be present and critical (RFC 5280 §4.1.2.6, §4.2.1.6)")]
    SanNotCriticalWithEmptySubject,
    #[error("the DNS name {name:?} is not in preferred name syntax (RFC 5280 §4.2.1.6, RFC 1034 §3.5, RFC 1123 §2.1)")]
    DnsNameInvalid { name: String },
    #[error(
        "the serial number {detail} (RFC 5280 §4.1.2.2: a positive integer of at most 20 octets)"
    )]
    SerialInvalid { detail: &'static str },
    #[error("the trust anchor is not a CA certificate: {detail}; trust the CA that issued the certificates, with basicConstraints cA marked critical")]
    AnchorNotACa { detail: &'static str },
    #[error("the trust anchor's keyUsage {detail}; a CA certificate must allow keyCertSign (RFC 5280 §4.2.1.3)")]
    AnchorKeyUsageInvalid { detail: &'static str },
    #[error("the CA certificate has an empty subject (RFC 5280 §4.1.2.6: a CA's subject must be a non-empty name)")]
    CaSubjectEmpty,
    #[error("the CRL's cRLNumber extension is marked critical (RFC 5280 §5.2.3: conforming CRL issuers mark it non-critical)")]
    CrlNumberCritical,
}

impl Reason {
    /// The stable, machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::CertificateMalformed { .. } => "cert-malformed",
            Reason::DuplicateExtension { .. } => "cert-duplicate-extension",
            Reason::ExtensionMalformed { .. } => "cert-extension-malformed",
            Reason::CrlMalformed { .. } => "crl-malformed",
            Reason::IssuerNotFound { .. } => "chain-incomplete",
            Reason::PathBudgetExceeded { .. } => "path-budget-exceeded",
            Reason::PathTooLong { .. } => "path-too-long",
            Reason::SignatureInvalid { .. } => "signature-invalid",
            Reason::SignatureAlgorithmUnsupported { .. } => "signature-algorithm-unsupported",
            Reason::WeakKey { .. } => "weak-key",
            Reason::PublicKeyUnsupported => "public-key-unsupported",
            Reason::Expired { .. } => "cert-expired",
            Reason::NotYetValid { .. } => "cert-not-yet-valid",
            Reason::NotCa => "issuer-not-ca",
            Reason::PathLengthExceeded { .. } => "path-length-exceeded",
            Reason::CaKeyUsageMissingKeyCertSign => "ca-key-usage-invalid",
            Reason::UnsupportedVersion => "cert-version-unsupported",
            Reason::UnknownCriticalExtension { .. } => "unknown-critical-extension",
            Reason::NameConstraintsViolated { .. } => "name-constraints-violated",
            Reason::PolicyNotAcceptable => "policy-not-acceptable",
            Reason::ExtendedKeyUsageNotPermitted { .. } => "eku-not-permitted",
            Reason::KeyUsageNotPermitted => "key-usage-not-permitted",
            Reason::NameMismatch { .. } => "name-mismatch",
            Reason::Revoked { .. } => "cert-revoked",
            Reason::OnHold { .. } => "cert-on-hold",
            Reason::CrlUnavailable { .. } => "crl-unavailable",
            Reason::CrlStale { .. } => "crl-stale",
            Reason::CrlNotYetValid { .. } => "crl-not-yet-valid",
            Reason::CrlSignatureInvalid => "crl-signature-invalid",
            Reason::CrlUnknownCriticalExtension { .. } => "crl-unknown-critical-extension",
            Reason::CrlIssuerNotCrlSigner => "crl-issuer-not-crl-signer",
            Reason::CrlNumberMissing { .. } => "crl-number-missing",
            Reason::CrlAuthorityKeyMismatch { .. } => "crl-authority-key-mismatch",
            Reason::PolicyMappingInvalid => "policy-mapping-invalid",
            Reason::PolicyGraphTooLarge { .. } => "policy-graph-too-large",
            Reason::NameConstraintsUnsupported { .. } => "name-constraints-unsupported",
            Reason::NameConstraintsNotCritical { .. } => "name-constraints-not-critical",
            Reason::NameConstraintsInEndEntity => "name-constraints-in-end-entity",
            Reason::NameConstraintsMalformed { .. } => "name-constraints-malformed",
            Reason::NameConstraintsBudgetExceeded { .. } => "name-constraints-budget-exceeded",
            Reason::ServerCommonNameNotInSan { .. } => "server-cn-not-in-san",
            Reason::ServerSanMissing => "server-san-missing",
            Reason::ServerEkuMissing => "server-eku-missing",
            Reason::ServerEkuCritical => "server-eku-critical",
            Reason::ServerEkuAny => "server-eku-any",
            Reason::ServerCaLeaf => "server-ca-leaf",
            Reason::AiaMalformed { .. } => "aia-malformed",
            Reason::SanCriticalWithSubject => "san-critical-with-subject",
            Reason::WildcardUnderPublicSuffix { .. } => "wildcard-under-public-suffix",
            Reason::ServerWildcardInvalid { .. } => "server-wildcard-invalid",
            Reason::AuthorityKeyIdMissing => "authority-key-id-missing",
            Reason::SubjectKeyIdMissing => "subject-key-id-missing",
            Reason::ExtensionCriticalityInvalid { .. } => "extension-criticality-invalid",
            Reason::KeyCertSignOnEndEntity => "key-cert-sign-on-end-entity",
            Reason::SanNotCriticalWithEmptySubject => "san-not-critical-with-empty-subject",
            Reason::DnsNameInvalid { .. } => "dns-name-invalid",
            Reason::SerialInvalid { .. } => "serial-invalid",
            Reason::AnchorNotACa { .. } => "anchor-not-a-ca",
            Reason::AnchorKeyUsageInvalid { .. } => "anchor-key-usage-invalid",
            Reason::CaSubjectEmpty => "ca-subject-empty",
            Reason::CrlNumberCritical => "crl-number-critical",
        }
    }
}
