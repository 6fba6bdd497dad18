//! Why a certificate, CRL or path was rejected, with stable reason codes.

use thiserror::Error;

use crate::oid::Oid;
use crate::reason_code::ReasonCode;

/// Every reason the validation engine can reject something.
///
/// Each variant maps to a stable, kebab-case [`Reason::code`] that the CLI, the sign-in audit
/// log and HTTP error bodies share. Codes are never reused or renamed; the messages are for
/// people and may be improved.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    // ---- Encoding -------------------------------------------------------------------------
    /// The certificate is not valid DER X.509 (RFC 5280 §4.1), or the input holds none.
    #[error("the certificate is not valid DER X.509: {detail}")]
    CertificateMalformed {
        /// What does not decode, and where, for people.
        detail: String,
    },
    /// An extension appears twice (RFC 5280 §4.2 forbids it): refused rather than guess which copy
    /// counts.
    #[error("the certificate contains extension {oid} more than once (RFC 5280 §4.2)")]
    DuplicateExtension {
        /// The repeated extension.
        oid: Oid,
    },
    /// A known extension does not decode completely by its ASN.1 definition.
    #[error("the certificate's extension {oid} could not be decoded")]
    ExtensionMalformed {
        /// The extension that does not decode.
        oid: Oid,
    },
    /// The CRL is not valid DER X.509 (RFC 5280 §5.1), or the input holds none.
    #[error("the CRL is not valid DER: {detail}")]
    CrlMalformed {
        /// What does not decode, and where, for people.
        detail: String,
    },

    // ---- Path building ----------------------------------------------------------------------
    /// No path to a trust anchor: an issuer is neither trusted nor presented (RFC 5280 §6.1).
    #[error("no trusted root CA issued this chain: the issuer \"{issuer}\" is neither trusted nor presented; upload the missing root/intermediate CA or send the full chain")]
    IssuerNotFound {
        /// The issuer name that could not be found, RFC 4514 form.
        issuer: String,
    },
    /// The search ran out of its [`PathBudget`](crate::PathBudget): a hostile or pathological
    /// chain.
    #[error("path building gave up after {budget} steps: the presented chain is hostile or pathological")]
    PathBudgetExceeded {
        /// The limit reached: candidate issuers or signature verifications.
        budget: u32,
    },
    /// Every path found needs more intermediates than
    /// [`ValidationPolicy::max_depth`](crate::ValidationPolicy::max_depth).
    #[error("the path needs at least {intermediates} intermediate CAs (self-issued ones not counted), more than the allowed {max}; raise the maximum depth if this PKI is that deep")]
    PathTooLong {
        /// How many intermediates the path would need at least, self-issued ones not counted.
        intermediates: usize,
        /// The allowed maximum.
        max: usize,
    },

    // ---- Signatures -------------------------------------------------------------------------
    /// A signature does not verify with the issuer's public key: altered, or signed by another key.
    #[error("the signature on {what} does not verify with its issuer's public key")]
    SignatureInvalid {
        /// What was signed: `the certificate`, or `data`.
        what: &'static str,
    },
    /// A signature algorithm certgate does not implement or the
    /// [`AlgorithmPolicy`](crate::AlgorithmPolicy) does not allow.
    #[error("signature algorithm {oid} is not supported or not allowed by policy")]
    SignatureAlgorithmUnsupported {
        /// The signature algorithm.
        oid: Oid,
    },
    /// A public key smaller than the [`AlgorithmPolicy`](crate::AlgorithmPolicy) requires.
    #[error("the {algorithm} key has {bits} bits; the policy requires at least {min_bits}")]
    WeakKey {
        /// The key type, e.g. `RSA`.
        algorithm: &'static str,
        /// The key's size.
        bits: usize,
        /// The smallest size the policy accepts.
        min_bits: usize,
    },
    /// A public key that does not decode, is of a type the policy does not allow, or does not fit
    /// its signature algorithm.
    #[error("the public key could not be decoded or is of an unsupported type")]
    PublicKeyUnsupported,

    // ---- Validity and basic constraints -------------------------------------------------------
    /// Validation time is after notAfter (RFC 5280 §4.1.2.5).
    #[error("the certificate expired at {not_after} (validation time {at})")]
    Expired {
        /// The certificate's notAfter, Unix seconds.
        not_after: i64,
        /// The validation time, Unix seconds.
        at: i64,
    },
    /// Validation time is before notBefore (RFC 5280 §4.1.2.5).
    #[error("the certificate is not valid before {not_before} (validation time {at})")]
    NotYetValid {
        /// The certificate's notBefore, Unix seconds.
        not_before: i64,
        /// The validation time, Unix seconds.
        at: i64,
    },
    /// A certificate that issued another in the path is not a CA (RFC 5280 §4.2.1.9, §6.1.4 (k)).
    #[error("an issuing certificate is not a CA (basicConstraints cA is absent or false)")]
    NotCa,
    /// More CA certificates below a CA than its pathLenConstraint allows (RFC 5280 §6.1.4 (l),
    /// (m)).
    #[error("the path has more CA certificates below \"{ca}\" than its pathLenConstraint allows")]
    PathLengthExceeded {
        /// The CA whose pathLenConstraint is exceeded, RFC 4514 form.
        ca: String,
    },
    /// A CA in the path has a keyUsage without keyCertSign (RFC 5280 §6.1.4 (n)).
    #[error("a CA certificate's keyUsage does not allow keyCertSign")]
    CaKeyUsageMissingKeyCertSign,
    /// A version other than v1 to v3, fields the version does not allow, or a v1/v2 intermediate CA
    /// (RFC 5280 §4.1.2.1, §6.1.4 (k)).
    #[error("the certificate version is not supported, or a v1/v2 certificate is used as an intermediate CA")]
    UnsupportedVersion,
    /// A critical extension certgate does not process: RFC 5280 §4.2 requires rejecting the
    /// certificate.
    #[error("the certificate has a critical extension {oid} that certgate does not understand (RFC 5280 §4.2)")]
    UnknownCriticalExtension {
        /// The extension.
        oid: Oid,
    },

    // ---- Names, policies, purpose --------------------------------------------------------------
    /// A subject or subjectAltName name outside a CA's permitted subtrees, or inside its excluded
    /// ones (RFC 5280 §6.1.3 (b), (c)).
    #[error("the name {name} is not permitted by a CA's name constraints")]
    NameConstraintsViolated {
        /// The offending name with its form, e.g. `dns:host.example.com`.
        name: String,
    },
    /// An explicit policy is required and the valid policy tree is empty (RFC 5280 §6.1.3 (f),
    /// §6.1.5 (g)).
    #[error("no acceptable certificate policy: the path requires an explicit policy and the valid policy tree is empty")]
    PolicyNotAcceptable,
    /// The end entity's extendedKeyUsage (RFC 5280 §4.2.1.12) does not allow the required
    /// purpose or is missing where the policy requires it, or a CA in the path restricts its
    /// own to other purposes.
    #[error("the certificate is not allowed for {purpose} (extendedKeyUsage)")]
    ExtendedKeyUsageNotPermitted {
        /// The purpose required, and which CA restricts it when one does.
        purpose: String,
    },
    /// The end entity's keyUsage lacks digitalSignature, which TLS authentication needs (RFC 5280
    /// §4.2.1.3).
    #[error("the end-entity keyUsage does not allow digitalSignature")]
    KeyUsageNotPermitted,
    /// The end entity does not carry an [`ExpectedName`](crate::ExpectedName).
    #[error("the certificate does not name {expected}")]
    NameMismatch {
        /// The name that was expected, with its kind, e.g. `DNS name host.example.com`.
        expected: String,
    },

    // ---- Revocation -------------------------------------------------------------------------
    /// A usable CRL lists the certificate as revoked (RFC 5280 §6.3).
    #[error(
        "the certificate with serial {serial} was revoked ({reason}) by CRL number {crl_number}"
    )]
    Revoked {
        /// The certificate's serial number, hex.
        serial: String,
        /// The CRL entry's reason, e.g. `keyCompromise`.
        reason: String,
        /// The cRLNumber of the CRL that lists it, hex (`(none)` without one).
        crl_number: String,
    },
    /// A usable CRL lists the certificate as certificateHold: suspended, and it may be released.
    #[error("the certificate with serial {serial} is on hold (certificateHold) in CRL number {crl_number}")]
    OnHold {
        /// The certificate's serial number, hex.
        serial: String,
        /// The cRLNumber of the CRL that lists it, hex (`(none)` without one).
        crl_number: String,
    },
    /// No usable CRL covers every reason for the certificate, so its status is unknown and it is
    /// refused (fail closed, RFC 5280 §6.3.3).
    #[error("no usable CRL from \"{issuer}\" covers this certificate, so its revocation status is unknown: {detail}")]
    CrlUnavailable {
        /// The CRL issuer expected, RFC 4514 form.
        issuer: String,
        /// What was wrong with each CRL that was considered, for people.
        detail: String,
    },
    /// The CRL is past its nextUpdate (RFC 5280 §5.1.2.5).
    #[error("the CRL from \"{issuer}\" expired at {next_update} (validation time {at})")]
    CrlStale {
        /// The CRL's issuer, RFC 4514 form.
        issuer: String,
        /// The CRL's nextUpdate, Unix seconds.
        next_update: i64,
        /// The validation time, Unix seconds.
        at: i64,
    },
    /// The CRL's thisUpdate is after the validation time (RFC 5280 §5.1.2.4).
    #[error("the CRL from \"{issuer}\" is not yet effective (thisUpdate {this_update}, validation time {at})")]
    CrlNotYetValid {
        /// The CRL's issuer, RFC 4514 form.
        issuer: String,
        /// The CRL's thisUpdate, Unix seconds.
        this_update: i64,
        /// The validation time, Unix seconds.
        at: i64,
    },
    /// The CRL's signature does not verify with its issuer's key (RFC 5280 §6.3.3 (g)).
    #[error("the CRL's signature does not verify with its issuer's key")]
    CrlSignatureInvalid,
    /// The CRL or one of its entries has a critical extension certgate does not process (RFC 5280
    /// §5.2, §5.3).
    #[error("the CRL has a critical extension {oid} that certgate does not understand")]
    CrlUnknownCriticalExtension {
        /// The extension.
        oid: Oid,
    },
    /// The CRL issuer's certificate has a keyUsage without cRLSign (RFC 5280 §6.3.3 (f)).
    #[error("the CRL issuer's certificate is not allowed to sign CRLs (keyUsage cRLSign)")]
    CrlIssuerNotCrlSigner,
    /// The CRL has no cRLNumber (RFC 5280 §5.2.3 requires one), so it cannot be ordered against
    /// others.
    #[error("the CRL from \"{issuer}\" has no cRLNumber extension (RFC 5280 §5.2.3 requires one), so it cannot be ordered against other CRLs; reissue it with a CRL number")]
    CrlNumberMissing {
        /// The CRL's issuer, RFC 4514 form.
        issuer: String,
    },
    /// The CRL's authorityKeyIdentifier names no key of its issuer that certgate knows (RFC 5280
    /// §5.2.1).
    #[error("the CRL's authorityKeyIdentifier does not match the subjectKeyIdentifier of any certificate of its issuer \"{issuer}\": it was signed by a different key of that CA")]
    CrlAuthorityKeyMismatch {
        /// The CRL's issuer, RFC 4514 form.
        issuer: String,
    },

    // ---- Policies (continued) -------------------------------------------------------------
    /// policyMappings maps to or from anyPolicy (RFC 5280 §6.1.4 (a)).
    #[error("a CA's policyMappings extension maps to or from anyPolicy, which RFC 5280 §6.1.4 (a) forbids")]
    PolicyMappingInvalid,
    /// Policy processing (RFC 5280 §6.1.3 (d)) outgrew its bound (RFC 9618 §5): hostile or
    /// pathological policies.
    #[error("certificate policy processing exceeded its limit of {limit} graph nodes and edges: the path's policies or policy mappings are hostile or pathological")]
    PolicyGraphTooLarge {
        /// The bound on graph nodes and edges.
        limit: usize,
    },
    /// A name constraint certgate cannot evaluate applies to a name of the certificate, so the name
    /// cannot be shown permitted.
    #[error("a CA's name constraints contain a {form} subtree that certgate cannot evaluate, and the certificate has a name of that form")]
    NameConstraintsUnsupported {
        /// The name form of the subtree, `malformed` first when the subtree is.
        form: String,
    },
    /// nameConstraints not marked critical in a CA certificate (RFC 5280 §4.2.1.10).
    #[error("the CA certificate \"{ca}\" has a nameConstraints extension that is not marked critical (RFC 5280 §4.2.1.10: conforming CAs MUST mark it critical); reissue it with a critical extension")]
    NameConstraintsNotCritical {
        /// The CA, RFC 4514 form.
        ca: String,
    },
    /// nameConstraints in an end-entity certificate (RFC 5280 §4.2.1.10 allows them only in CAs).
    #[error("the end-entity certificate has a nameConstraints extension, which RFC 5280 §4.2.1.10 allows only in CA certificates")]
    NameConstraintsInEndEntity,
    /// nameConstraints that break RFC 5280 §4.2.1.10's syntax, e.g. a subtree with a minimum or
    /// maximum.
    #[error(
        "the nameConstraints extension of \"{ca}\" is malformed: {detail} (RFC 5280 §4.2.1.10)"
    )]
    NameConstraintsMalformed {
        /// The CA, RFC 4514 form.
        ca: String,
        /// The defect, for people.
        detail: String,
    },
    /// Name-constraint checking would exceed
    /// [`PathBudget::max_name_constraint_checks`](crate::PathBudget::max_name_constraint_checks).
    #[error("checking the certificate's names against the path's name constraints would take more than the budget of {budget} comparisons: the certificate or its CAs are hostile or pathological")]
    NameConstraintsBudgetExceeded {
        /// The budget, in comparisons.
        budget: u64,
    },

    // ---- TLS server profile (CA/Browser Forum Baseline Requirements) ----------------------
    /// TLS server profile: the subject CN is not one of the SAN's names (BRs §7.1.4.3).
    #[error("the subject commonName \"{common_name}\" is not one of the certificate's subjectAltName DNS names or IP addresses (BRs §7.1.4.3); reissue it with the CN copied from the SAN")]
    ServerCommonNameNotInSan {
        /// The subject's commonName.
        common_name: String,
    },
    /// TLS server profile: no subjectAltName (BRs §7.1.2.7.12).
    #[error("a TLS server certificate must carry a subjectAltName with its DNS names or IP addresses (BRs §7.1.2.7.12)")]
    ServerSanMissing,
    /// TLS server profile: no extendedKeyUsage with serverAuth (BRs §7.1.2.7.10).
    #[error("a TLS server certificate must carry an extendedKeyUsage extension with serverAuth (BRs §7.1.2.7.10)")]
    ServerEkuMissing,
    /// TLS server profile: extendedKeyUsage marked critical (BRs §7.1.2.7.6).
    #[error("the extendedKeyUsage extension of a TLS server certificate must not be critical (BRs §7.1.2.7.6)")]
    ServerEkuCritical,
    /// TLS server profile: anyExtendedKeyUsage asserted (BRs §7.1.2.7.10).
    #[error("a TLS server certificate must not assert anyExtendedKeyUsage (BRs §7.1.2.7.10)")]
    ServerEkuAny,
    /// TLS server profile: the server certificate says cA true (BRs §7.1.2.7.8).
    #[error("the TLS server certificate is a CA certificate (basicConstraints cA is true); a server certificate must have cA false (BRs §7.1.2.7.8)")]
    ServerCaLeaf,
    /// authorityInfoAccess does not decode, is empty, or has a location that is not an absolute URI
    /// (RFC 5280 §4.2.2.1, BRs §7.1.2.7.7).
    #[error("the authorityInformationAccess extension is malformed: {detail} (RFC 5280 §4.2.2.1, BRs §7.1.2.7.7)")]
    AiaMalformed {
        /// The defect, for people.
        detail: String,
    },
    /// subjectAltName marked critical although the subject is not empty (RFC 5280 §4.2.1.6).
    #[error("the subjectAltName extension is critical although the subject is not empty (RFC 5280 §4.2.1.6, BRs §7.1.2.7.12)")]
    SanCriticalWithSubject,
    /// A wildcard covering a whole public suffix, e.g. `*.co.uk` (BRs §3.2.2.6).
    #[error("the wildcard name \"{name}\" covers a whole public suffix (BRs §3.2.2.6): a wildcard must stand below a registrable domain")]
    WildcardUnderPublicSuffix {
        /// The wildcard DNS name.
        name: String,
    },
    /// A wildcard that is not the whole leftmost label, e.g. `f*.example.com` (BRs §7.1.2.7.12).
    #[error("the DNS name \"{name}\" has a wildcard that is not the whole leftmost label \"*.\" (BRs §7.1.2.7.12)")]
    ServerWildcardInvalid {
        /// The DNS name.
        name: String,
    },

    // ---- Certificate profile (RFC 5280 §4) -------------------------------------------------
    /// No authorityKeyIdentifier in a certificate that is not self-signed (RFC 5280 §4.2.1.1).
    #[error("the certificate has no authorityKeyIdentifier, which RFC 5280 §4.2.1.1 requires in every certificate that is not self-signed; reissue it from a CA that adds the extension")]
    AuthorityKeyIdMissing,
    /// No subjectKeyIdentifier in a CA certificate (RFC 5280 §4.2.1.2).
    #[error("the CA certificate has no subjectKeyIdentifier, which RFC 5280 §4.2.1.2 requires in every CA certificate; reissue it with the extension")]
    SubjectKeyIdMissing,
    /// An extension marked critical where RFC 5280 requires it not to be, or the reverse.
    #[error("the certificate's {extension} extension is {actual}, but {rule}")]
    ExtensionCriticalityInvalid {
        /// The extension's name, e.g. `authorityKeyIdentifier`.
        extension: &'static str,
        /// `critical` or `not critical`.
        actual: &'static str,
        /// The rule broken, with its RFC section.
        rule: &'static str,
    },
    /// keyUsage keyCertSign in a certificate that is not a CA (RFC 5280 §4.2.1.3).
    #[error("keyUsage asserts keyCertSign in a certificate that is not a CA (RFC 5280 §4.2.1.3: keyCertSign requires basicConstraints cA)")]
    KeyCertSignOnEndEntity,
    /// An empty subject without a critical subjectAltName (RFC 5280 §4.1.2.6, §4.2.1.6).
    #[error("the subject is empty, so the subjectAltName must be present and critical (RFC 5280 §4.1.2.6, §4.2.1.6)")]
    SanNotCriticalWithEmptySubject,
    /// A dNSName not in preferred name syntax (RFC 5280 §4.2.1.6, RFC 1034 §3.5, RFC 1123 §2.1).
    #[error("the DNS name {name:?} is not in preferred name syntax (RFC 5280 §4.2.1.6, RFC 1034 §3.5, RFC 1123 §2.1)")]
    DnsNameInvalid {
        /// The name as found.
        name: String,
    },
    /// A serial number that is empty, zero, negative or longer than 20 octets (RFC 5280 §4.1.2.2).
    #[error(
        "the serial number {detail} (RFC 5280 §4.1.2.2: a positive integer of at most 20 octets)"
    )]
    SerialInvalid {
        /// Which of these, e.g. `is negative`.
        detail: &'static str,
    },
    /// A certificate to be trusted as a root is not a CA (RFC 5280 §4.2.1.9).
    #[error("the trust anchor is not a CA certificate: {detail}; trust the CA that issued the certificates, with basicConstraints cA marked critical")]
    AnchorNotACa {
        /// Why not: no basicConstraints, or cA false.
        detail: &'static str,
    },
    /// A trust anchor's keyUsage is missing or lacks keyCertSign (RFC 5280 §4.2.1.3).
    #[error("the trust anchor's keyUsage {detail}; a CA certificate must allow keyCertSign (RFC 5280 §4.2.1.3)")]
    AnchorKeyUsageInvalid {
        /// Which of the two.
        detail: &'static str,
    },
    /// A CA certificate with an empty subject (RFC 5280 §4.1.2.6).
    #[error("the CA certificate has an empty subject (RFC 5280 §4.1.2.6: a CA's subject must be a non-empty name)")]
    CaSubjectEmpty,
    /// A CRL whose cRLNumber is marked critical (RFC 5280 §5.2.3 requires it non-critical).
    #[error("the CRL's cRLNumber extension is marked critical (RFC 5280 §5.2.3: conforming CRL issuers mark it non-critical)")]
    CrlNumberCritical,
}

impl Reason {
    /// Every code [`Reason::code`] answers with, in the order of its match arms.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "cert-malformed",
            "The certificate is not valid DER-encoded X.509 (RFC 5280 §4.1), or the file given holds no readable certificate (DER, PEM or a PKCS#7 bundle).",
            "Export the certificate again as DER, PEM or .p7b from the system that issued it. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "cert-duplicate-extension",
            "The certificate contains the same extension more than once, which RFC 5280 §4.2 forbids; certgate refuses it rather than guess which copy counts.",
            "Re-issue the certificate from a CA that writes each extension once. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "cert-extension-malformed",
            "One of the certificate's extensions (the message names its OID) does not decode completely according to its ASN.1 definition (RFC 5280 §4.2).",
            "Re-issue the certificate with a well-formed extension (compare it with `openssl x509 -noout -text`). If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "crl-malformed",
            "The CRL is not a valid DER-encoded X.509 CRL (RFC 5280 §5.1), or the file or download holds no readable CRL, so it is not used (a download does not replace the cached CRL).",
            "Administrators: check that the file, or the CA's CRL URL, holds one DER or PEM CRL that `openssl crl -noout -text` can read, fix the CA's CRL publication, then run `certgate crl refresh`.",
        ),
        ReasonCode::new(
            "chain-incomplete",
            "No trusted root CA issued this certificate: its issuer is neither trusted by certgate nor among the intermediate certificates presented, so no path to a trust anchor could be built (RFC 5280 §6.1).",
            "The certificate was issued by a CA this service does not trust. Use the certificate your organisation issued, or ask your administrator to trust its CA.",
        ),
        ReasonCode::new(
            "path-budget-exceeded",
            "Path building gave up after considering more candidate issuers, or checking more signatures, than its budget allows: the presented chain is hostile or pathological (loops or many decoy intermediates).",
            "Present only your certificate and its real intermediate CAs. Administrators: if a legitimate chain meets this, remove duplicate or unused cross-certified CAs from the trust store.",
        ),
        ReasonCode::new(
            "path-too-long",
            "The path to a trust anchor needs more intermediate CAs than the allowed maximum depth (8 by default); self-issued intermediates are not counted (RFC 5280 §6.1.4 (l)).",
            "Administrators: if the PKI really is that deep, raise the maximum depth (`--max-depth` of `certgate verify`); otherwise remove the unrelated CAs that lengthen the chain.",
        ),
        ReasonCode::new(
            "signature-invalid",
            "A signature does not verify with its issuer's public key: the certificate or signed data was altered, or was signed by another key than that of the issuer certificate found for it.",
            "Check that the right issuing CA certificate is trusted (after a CA key rollover, add the new CA certificate with `certgate ca add`). If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "signature-algorithm-unsupported",
            "The certificate or CRL is signed with an algorithm certgate does not support or its algorithm policy does not allow (by default RSA PKCS#1 v1.5 and PSS with SHA-256/384/512, ECDSA P-256 and P-384, and Ed25519; no SHA-1 or DSA).",
            "Re-issue the certificate or CRL with one of the accepted algorithms (SHA-256 or stronger). If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "weak-key",
            "A certificate's public key is shorter than the algorithm policy requires (RSA keys need at least 2048 bits by default).",
            "Re-issue the certificate with an RSA key of at least 2048 bits or an ECDSA P-256 or P-384 key. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "public-key-unsupported",
            "A certificate's public key could not be decoded, is of a type the algorithm policy does not allow (such as DSA or the P-192 curve), or does not fit the signature algorithm used with it.",
            "Re-issue the certificate with an RSA (2048 bits or more), ECDSA P-256 or P-384, or Ed25519 key. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "cert-expired",
            "The certificate's validity period ended before the time of validation (notAfter, RFC 5280 §4.1.2.5).",
            "This certificate has expired. Ask your administrator for a new one.",
        ),
        ReasonCode::new(
            "cert-not-yet-valid",
            "The certificate's validity period starts after the time of validation (notBefore, RFC 5280 §4.1.2.5).",
            "This certificate is not valid yet. Check your device's clock, or wait until it becomes valid.",
        ),
        ReasonCode::new(
            "issuer-not-ca",
            "A certificate that issued another one in the path is not a CA: its basicConstraints extension is absent or says cA false (RFC 5280 §4.2.1.9, §6.1.4 (k)).",
            "Present the chain with the real issuing CA. Administrators: re-issue the intermediate CA certificate with basicConstraints cA true, and trust it again with `certgate ca add` if it is trusted.",
        ),
        ReasonCode::new(
            "path-length-exceeded",
            "The path has more CA certificates below a CA (named in the message) than that CA's pathLenConstraint allows (RFC 5280 §4.2.1.9, §6.1.4 (l), (m)).",
            "Administrators: issue the certificate from a CA allowed at that depth, or re-issue the constraining CA with a larger pathLenConstraint.",
        ),
        ReasonCode::new(
            "ca-key-usage-invalid",
            "A CA certificate in the path has a keyUsage extension that does not allow keyCertSign, so it may not sign certificates (RFC 5280 §4.2.1.3, §6.1.4 (n)).",
            "Administrators: re-issue the CA certificate with keyUsage keyCertSign (and cRLSign), and trust it again with `certgate ca add` if it is trusted.",
        ),
        ReasonCode::new(
            "cert-version-unsupported",
            "The certificate's version is not v1, v2 or v3, it carries unique identifiers or extensions its version does not allow, or a v1/v2 certificate is used as an intermediate CA (RFC 5280 §4.1.2.1, §6.1.4 (k)).",
            "Re-issue the certificate as X.509 v3 (every intermediate CA must be v3). If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "unknown-critical-extension",
            "The certificate has an extension marked critical that certgate does not understand (the message names its OID); RFC 5280 §4.2 requires rejecting such a certificate.",
            "Re-issue the certificate without that extension, or with it marked non-critical. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "name-constraints-violated",
            "A name in the certificate (in its subject or subjectAltName) is outside the names a CA's nameConstraints permit, or inside those they exclude (RFC 5280 §4.2.1.10, §6.1.3 (b), (c)).",
            "Use a certificate whose names the CA permits. Administrators: issue it with names inside the constraining CA's permitted subtrees, or re-issue that CA with adjusted nameConstraints.",
        ),
        ReasonCode::new(
            "policy-not-acceptable",
            "An explicit certificate policy is required (by a CA's policyConstraints or by the validation settings), and no policy acceptable to the validation covers the whole path: the valid policy tree is empty (RFC 5280 §6.1.3 (f), §6.1.5 (g)).",
            "Use a certificate issued under a policy the service accepts. Administrators: issue it with an accepted certificate policy OID, or check the policies, policyConstraints and policyMappings of the CAs in the path.",
        ),
        ReasonCode::new(
            "eku-not-permitted",
            "The certificate's extendedKeyUsage does not allow the required purpose (clientAuth for sign-in), it has none where one is required, or a CA in the path restricts its own extendedKeyUsage to other purposes (RFC 5280 §4.2.1.12).",
            "This certificate is not meant for signing in (its key usage or extended key usage does not allow client authentication). Use your sign-in certificate.",
        ),
        ReasonCode::new(
            "key-usage-not-permitted",
            "The certificate's keyUsage extension does not allow digitalSignature, which TLS client and server authentication need (RFC 5280 §4.2.1.3).",
            "This certificate is not meant for signing in (its key usage or extended key usage does not allow client authentication). Use your sign-in certificate.",
        ),
        ReasonCode::new(
            "name-mismatch",
            "The certificate does not carry the DNS name, IP address or e-mail address it was expected to name (in its subjectAltName, RFC 5280 §4.2.1.6).",
            "Use the certificate issued for that name, or re-issue the certificate with the name in its subjectAltName.",
        ),
        ReasonCode::new(
            "cert-revoked",
            "A CRL from the certificate's CA lists it as revoked (RFC 5280 §5.1.2.6); the message gives the serial number and the revocation reason.",
            "This certificate has been revoked. Ask your administrator for a new one.",
        ),
        ReasonCode::new(
            "cert-on-hold",
            "A CRL from the certificate's CA lists it as on hold (reason certificateHold, RFC 5280 §5.3.1): it is suspended, and the CA may release it later.",
            "This certificate has been revoked. Ask your administrator for a new one.",
        ),
        ReasonCode::new(
            "crl-unavailable",
            "No usable CRL covers the certificate, so its revocation status is unknown (RFC 5280 §6.3) and certgate refuses it rather than assume it is not revoked.",
            "The service cannot check whether your certificate has been revoked right now. Try again later; if it persists, tell your administrator (the CA's CRL is unavailable or out of date).",
        ),
        ReasonCode::new(
            "crl-stale",
            "The CRL from the certificate's CA is past its nextUpdate time (RFC 5280 §5.1.2.5), so it no longer proves a certificate unrevoked; a downloaded CRL already past it is not cached.",
            "The service cannot check whether your certificate has been revoked right now. Try again later; if it persists, tell your administrator (the CA's CRL is unavailable or out of date).",
        ),
        ReasonCode::new(
            "crl-not-yet-valid",
            "The CRL's thisUpdate time is later than the time of validation, or for a download later than now plus the allowed clock skew (RFC 5280 §5.1.2.4), so it is not in effect yet and is not used; usually the CA's clock or this server's is wrong.",
            "Administrators: check the clocks of the CA and of the certgate servers (NTP; `[crl] clock_skew_seconds` sets the tolerance for downloads), then let the CA publish its CRL again.",
        ),
        ReasonCode::new(
            "crl-signature-invalid",
            "The CRL's signature does not verify with its issuer's public key (RFC 5280 §6.3.3 (g)): it was altered, or signed by another key. It is not used (a download does not replace the cached CRL).",
            "Administrators: check that the trusted CA certificate is the one whose key signs the CRL (after a CA key rollover, add the new CA certificate with `certgate ca add`) and that the CRL was not altered on its way.",
        ),
        ReasonCode::new(
            "crl-unknown-critical-extension",
            "The CRL, or one of its entries, has an extension marked critical that certgate does not understand (the message names its OID), so it is not used (RFC 5280 §5.2, §5.3).",
            "Administrators: have the CA publish CRLs without that critical extension.",
        ),
        ReasonCode::new(
            "crl-issuer-not-crl-signer",
            "The certificate of the CRL's issuer has a keyUsage that does not allow cRLSign, so the CRL it signed is not used (RFC 5280 §4.2.1.3, §6.3.3 (f)).",
            "Administrators: re-issue the CA certificate with keyUsage cRLSign and trust it again with `certgate ca add`, or have the CRL signed by a certificate that allows cRLSign.",
        ),
        ReasonCode::new(
            "crl-number-missing",
            "The CRL has no cRLNumber extension, which RFC 5280 §5.2.3 requires, so newer and older CRLs cannot be told apart and it is not used (a download does not replace the cached CRL).",
            "Administrators: configure the CA to publish CRLs with a CRL number (common CA software does by default) and publish a new CRL.",
        ),
        ReasonCode::new(
            "crl-authority-key-mismatch",
            "The CRL's authorityKeyIdentifier does not match the subjectKeyIdentifier of the trusted certificate of its issuer: a different key of that CA signed it (RFC 5280 §5.2.1). It is not used (a download does not replace the cached CRL).",
            "Administrators: after a CA key rollover, trust the CA certificate with the new key (`certgate ca add`); otherwise check that the CA's CRL URL (`certgate ca set ID --crl-url URL`) serves this CA's own CRL.",
        ),
        ReasonCode::new(
            "policy-mapping-invalid",
            "A CA's policyMappings extension maps to or from anyPolicy, which RFC 5280 §6.1.4 (a) forbids.",
            "Administrators: re-issue that CA certificate with mappings between specific policy OIDs only.",
        ),
        ReasonCode::new(
            "policy-graph-too-large",
            "Certificate policy processing (RFC 5280 §6.1.3 (d)) exceeded its limit of graph nodes and edges: the path's policies or policy mappings are hostile or pathological.",
            "Present your certificate with its usual chain. Administrators: reduce the number of certificate policies and policy mappings in the CA certificates of the path.",
        ),
        ReasonCode::new(
            "name-constraints-unsupported",
            "A CA's nameConstraints contain a subtree certgate cannot evaluate (an unsupported name form such as otherName or x400Address, or a malformed subtree), and the certificate has a name of that form, so it cannot be shown to be permitted (RFC 5280 §4.2.1.10).",
            "Administrators: re-issue the constraining CA with constraints on dNSName, rfc822Name, iPAddress, directoryName or URI only, or issue the certificate without names of that form.",
        ),
        ReasonCode::new(
            "name-constraints-not-critical",
            "A CA certificate (named in the message) has a nameConstraints extension that is not marked critical; RFC 5280 §4.2.1.10 requires conforming CAs to mark it critical.",
            "Administrators: re-issue the CA certificate with a critical nameConstraints extension, and trust it again with `certgate ca add` if it is trusted.",
        ),
        ReasonCode::new(
            "name-constraints-in-end-entity",
            "The end-entity certificate has a nameConstraints extension, which RFC 5280 §4.2.1.10 allows only in CA certificates.",
            "Re-issue the certificate without nameConstraints. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "name-constraints-malformed",
            "A CA's nameConstraints extension (the message names the CA and the defect) is malformed: for example no non-empty subtree list, or a subtree with a minimum or maximum (RFC 5280 §4.2.1.10).",
            "Administrators: re-issue the CA certificate with well-formed nameConstraints, and trust it again with `certgate ca add` if it is trusted.",
        ),
        ReasonCode::new(
            "name-constraints-budget-exceeded",
            "Checking the certificate's names against the path's name constraints would take more comparisons than the budget allows (250,000 by default): the certificate or its CAs are hostile or pathological.",
            "Administrators: issue certificates with fewer names, or reduce the number of name-constraint subtrees in the CA certificates of the path.",
        ),
        ReasonCode::new(
            "server-cn-not-in-san",
            "The TLS server certificate's subject commonName is not one of its subjectAltName DNS names or IP addresses (CA/Browser Forum Baseline Requirements §7.1.4.3).",
            "Re-issue the server certificate with the commonName copied from one of its subjectAltName entries.",
        ),
        ReasonCode::new(
            "server-san-missing",
            "The TLS server certificate has no subjectAltName extension with its DNS names or IP addresses (CA/Browser Forum Baseline Requirements §7.1.2.7.12).",
            "Re-issue the server certificate with a subjectAltName listing every DNS name and IP address it serves.",
        ),
        ReasonCode::new(
            "server-eku-missing",
            "The TLS server certificate has no extendedKeyUsage extension with serverAuth (CA/Browser Forum Baseline Requirements §7.1.2.7.10).",
            "Re-issue the server certificate with an extendedKeyUsage extension that includes serverAuth.",
        ),
        ReasonCode::new(
            "server-eku-critical",
            "The TLS server certificate's extendedKeyUsage extension is marked critical, which the CA/Browser Forum Baseline Requirements (§7.1.2.7.6) forbid.",
            "Re-issue the server certificate with a non-critical extendedKeyUsage extension.",
        ),
        ReasonCode::new(
            "server-eku-any",
            "The TLS server certificate asserts anyExtendedKeyUsage, which the CA/Browser Forum Baseline Requirements (§7.1.2.7.10) forbid.",
            "Re-issue the server certificate with serverAuth (and clientAuth if it needs it) instead of anyExtendedKeyUsage.",
        ),
        ReasonCode::new(
            "server-ca-leaf",
            "The TLS server certificate is a CA certificate (basicConstraints cA true); a server certificate must have cA false (CA/Browser Forum Baseline Requirements §7.1.2.7.8).",
            "Issue a separate end-entity server certificate from the CA instead of using a CA certificate as the server's.",
        ),
        ReasonCode::new(
            "aia-malformed",
            "The certificate's authorityInformationAccess extension is malformed: it does not decode, is empty, or has an OCSP or caIssuers location that is not an absolute URI (RFC 5280 §4.2.2.1, Baseline Requirements §7.1.2.7.7).",
            "Re-issue the certificate with OCSP and caIssuers locations written as URIs (e.g. `http://pki.example/ca.crt`), or without the extension.",
        ),
        ReasonCode::new(
            "san-critical-with-subject",
            "The certificate's subjectAltName extension is marked critical although its subject is not empty (RFC 5280 §4.2.1.6, Baseline Requirements §7.1.2.7.12).",
            "Re-issue the certificate with a non-critical subjectAltName (critical is only for certificates with an empty subject).",
        ),
        ReasonCode::new(
            "wildcard-under-public-suffix",
            "A wildcard DNS name covers a whole public suffix (such as `*.co.uk` or `*.com`) instead of standing below a registrable domain (CA/Browser Forum Baseline Requirements §3.2.2.6).",
            "Re-issue the certificate with a wildcard below your own domain (e.g. `*.contoso.example`) or with explicit names.",
        ),
        ReasonCode::new(
            "server-wildcard-invalid",
            "A DNS name has a wildcard that is not the whole leftmost label `*.` (such as `f*.example.com` or `www.*.example.com`), which the CA/Browser Forum Baseline Requirements (§7.1.2.7.12) forbid.",
            "Re-issue the certificate with the wildcard as the whole leftmost label (`*.example.com`) or with explicit names.",
        ),
        ReasonCode::new(
            "authority-key-id-missing",
            "The certificate has no authorityKeyIdentifier extension, which RFC 5280 §4.2.1.1 requires in every certificate that is not self-signed.",
            "Re-issue the certificate from a CA that adds the authorityKeyIdentifier extension. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "subject-key-id-missing",
            "A CA certificate has no subjectKeyIdentifier extension, which RFC 5280 §4.2.1.2 requires in every CA certificate.",
            "Administrators: re-issue the CA certificate with a subjectKeyIdentifier extension, and trust it again with `certgate ca add`.",
        ),
        ReasonCode::new(
            "extension-criticality-invalid",
            "An extension (named in the message) has the wrong criticality: authorityKeyIdentifier and subjectKeyIdentifier must be non-critical (RFC 5280 §4.2.1.1, §4.2.1.2), policyConstraints critical (§4.2.1.11), and a trust anchor's basicConstraints critical (§4.2.1.9).",
            "Re-issue the certificate with that extension's criticality corrected. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "key-cert-sign-on-end-entity",
            "The certificate's keyUsage asserts keyCertSign although it is not a CA (basicConstraints cA is absent or false), which RFC 5280 §4.2.1.3 forbids.",
            "Re-issue the certificate without keyCertSign in its keyUsage. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "san-not-critical-with-empty-subject",
            "The certificate's subject is empty, so its subjectAltName must be present and marked critical (RFC 5280 §4.1.2.6, §4.2.1.6), and it is not.",
            "Re-issue the certificate with a subject name, or with a critical subjectAltName. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "dns-name-invalid",
            "A DNS name in the certificate (named in the message) is not in preferred name syntax: labels of 1 to 63 letters, digits and hyphens, no underscores, only a leading `*.` label as wildcard (RFC 5280 §4.2.1.6, RFC 1034 §3.5, RFC 1123 §2.1).",
            "Re-issue the certificate with valid DNS names. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "serial-invalid",
            "The certificate's serial number is empty, zero, negative or longer than 20 octets; RFC 5280 §4.1.2.2 requires a positive integer of at most 20 octets.",
            "Re-issue the certificate from a CA that writes conforming serial numbers. If you met this at sign-in, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "anchor-not-a-ca",
            "The certificate to be trusted as a root is not a CA certificate: it has no basicConstraints extension, or its basicConstraints says cA false (RFC 5280 §4.2.1.9).",
            "Trust the CA that issued your users' certificates, not a user certificate: a CA certificate with basicConstraints cA true and critical, added with `certgate ca add`.",
        ),
        ReasonCode::new(
            "anchor-key-usage-invalid",
            "The trust anchor's keyUsage extension is missing or does not allow keyCertSign; a CA certificate must allow keyCertSign (RFC 5280 §4.2.1.3).",
            "Administrators: re-issue the root CA certificate with keyUsage keyCertSign and cRLSign, and trust it again with `certgate ca add`.",
        ),
        ReasonCode::new(
            "ca-subject-empty",
            "The CA certificate has an empty subject; RFC 5280 §4.1.2.6 requires a CA's subject to be a non-empty distinguished name.",
            "Administrators: re-issue the CA certificate with a subject name, and trust it again with `certgate ca add`.",
        ),
        ReasonCode::new(
            "crl-number-critical",
            "The CRL's cRLNumber extension is marked critical, though RFC 5280 §5.2.3 requires conforming CRL issuers to mark it non-critical, so the CRL is not used.",
            "Administrators: configure the CA to publish CRLs with a non-critical cRLNumber extension and publish a new CRL.",
        ),
    ];

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
