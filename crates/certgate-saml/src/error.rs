//! What can go wrong while building or signing a SAML document.

/// One variant per cause; [`SamlError::code`] is the stable code for logs and error bodies.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    /// A value cannot be put into the document as given (empty, not an NCName, a character
    /// XML 1.0 cannot carry, too long, ...).
    #[error("{field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    /// A time outside what `xs:dateTime` in the form `YYYY-MM-DDTHH:MM:SSZ` can express
    /// (years 1 to 9999).
    #[error("{field}: {at} seconds since the epoch is outside years 1 to 9999")]
    TimeOutOfRange { field: &'static str, at: i64 },
    /// `not_before` is not before `not_on_or_after`.
    #[error("the validity window is empty: NotBefore {not_before} is not before NotOnOrAfter {not_on_or_after}")]
    EmptyValidity {
        not_before: i64,
        not_on_or_after: i64,
    },
    /// The token-signing key or its certificate could not be used.
    #[error("token-signing key: {reason}")]
    SigningKey { reason: String },
    /// The private key is not the one the certificate certifies: relying parties holding the
    /// certificate would reject every signature.
    #[error("the token-signing key does not match the public key of its certificate")]
    KeyDoesNotMatchCertificate,
    /// The system random source failed (message IDs).
    #[error("the system random source failed")]
    Random,
    /// aws-lc-rs refused to sign.
    #[error("signing failed")]
    Signing,
    /// A claim type that SAML 1.1 cannot carry: it is written as AttributeNamespace and
    /// AttributeName split at the last `/`, so it needs a `/` with text on both sides.
    #[error("claim type \"{claim_type}\" cannot be split into a SAML 1.1 AttributeNamespace and AttributeName at its last '/'")]
    ClaimTypeNotSplittable { claim_type: String },
    /// A WS-Federation request lacks a parameter its action requires (`wa`, `wtrealm`).
    #[error("WS-Federation parameter {parameter} is missing")]
    WsFedParameterMissing { parameter: &'static str },
    /// A WS-Federation parameter appears more than once: which one counts would be a guess.
    #[error("WS-Federation parameter {parameter} appears more than once")]
    WsFedParameterDuplicated { parameter: &'static str },
    /// A WS-Federation parameter is longer than certgate accepts.
    #[error("WS-Federation parameter {parameter} is {length} bytes; at most {limit} are accepted")]
    WsFedParameterTooLong {
        parameter: &'static str,
        length: usize,
        limit: usize,
    },
    /// A WS-Federation parameter's value has the wrong form (a `wct` that is not a UTC
    /// xs:dateTime, a `wfresh` that is not a non-negative integer, a `wtrealm` that is not an
    /// absolute URI, ...).
    #[error("WS-Federation parameter {parameter}: {reason}")]
    WsFedParameterInvalid {
        parameter: &'static str,
        reason: String,
    },
    /// `wa` names an action certgate does not implement.
    #[error("WS-Federation action wa={action} is not supported")]
    WsFedUnknownAction { action: String },
    // --- Received XML (crate::xml_in) ---
    /// A received document is larger than certgate reads for its kind.
    #[error("the XML document is {size} bytes; at most {limit} are accepted")]
    XmlTooLarge { size: usize, limit: usize },
    /// Not UTF-8, or declares another encoding: SAML messages are UTF-8 in practice.
    #[error("the XML document is not UTF-8 (at byte {offset}); re-encode it as UTF-8")]
    XmlNotUtf8 { offset: usize },
    /// Not well-formed XML (or XML 1.0 namespaces) at all.
    #[error("the XML document is not well-formed: {reason}")]
    XmlMalformed { reason: String },
    /// A DOCTYPE: DTDs bring external entities and entity expansion, and SAML needs neither.
    #[error(
        "the XML document has a DOCTYPE, which certgate refuses (no DTDs, no external entities)"
    )]
    XmlDoctypeRefused,
    /// An entity reference other than the five predefined ones (it could only come from a DTD).
    #[error("the XML document references the entity &{name}; only &lt; &gt; &amp; &apos; &quot; and character references are accepted")]
    XmlEntityRefused { name: String },
    /// A processing instruction other than the XML declaration.
    #[error("the XML document has a processing instruction, which certgate refuses")]
    XmlProcessingInstructionRefused,
    /// Elements nested deeper than certgate reads.
    #[error("the XML document nests elements deeper than {limit} levels")]
    XmlTooDeep { limit: usize },
    /// More elements, text nodes and comments than certgate reads.
    #[error("the XML document has more than {limit} nodes")]
    XmlTooManyNodes { limit: usize },
    /// An element with more attributes than certgate reads.
    #[error("<{element}> has more than {limit} attributes")]
    XmlTooManyAttributes { element: String, limit: usize },
    /// A prefix used without a namespace declaration in scope.
    #[error("the prefix \"{prefix}\" in <{element}> is not bound to a namespace")]
    XmlUnboundPrefix { prefix: String, element: String },
    /// The same attribute twice on one element (by name, or by namespace and local name).
    #[error("<{element}> has the attribute {attribute} more than once")]
    XmlDuplicateAttribute { element: String, attribute: String },

    // --- XML signatures (crate::dsig_verify) ---
    /// A signature is required and the message has none (no `ds:Signature` child of the
    /// root, or no `Signature` query parameter in the Redirect binding).
    #[error("the message is not signed, and this service provider's messages must be")]
    SignatureMissing,
    /// The Signature does not have the one shape certgate accepts (SAML core §5.4).
    #[error("the XML signature is malformed: {reason}")]
    SignatureMalformed { reason: String },
    /// An algorithm certgate does not accept (RSA-SHA1, another canonicalization, ...).
    #[error("{role} {algorithm} is refused; {hint}")]
    SignatureAlgorithmRefused {
        role: &'static str,
        algorithm: String,
        hint: &'static str,
    },
    /// The Reference does not point at the signed root element.
    #[error("the signature references {uri}, not the message itself (ID {id})")]
    SignatureReferenceMismatch { uri: String, id: String },
    /// Two elements carry the same ID: the shape of a signature-wrapping attack.
    #[error("two elements carry the ID {id}")]
    DuplicateId { id: String },
    /// The signed content was changed after signing.
    #[error("the digest of the signed content does not match: the message was changed after it was signed")]
    DigestMismatch,
    /// No trusted certificate verifies the signature.
    #[error("the {algorithm} signature does not verify with any of the {trusted} trusted certificates ({tried} with a key of the right type); check the service provider's signing certificate in its metadata")]
    SignatureInvalid {
        algorithm: String,
        tried: usize,
        trusted: usize,
    },
    /// A signature must be verified but no certificate is configured to verify it with.
    #[error("no signing certificate is configured for this service provider; import its metadata")]
    NoTrustedCertificate,
    /// A configured certificate cannot be used to verify.
    #[error("a configured signing certificate cannot be used: {reason}")]
    TrustedCertificateUnusable { reason: String },

    // --- Bindings and received messages (crate::binding, request, logout, sp_metadata) ---
    /// A base64 value (form field, query parameter or XML text) does not decode.
    #[error("{field} is not valid base64")]
    Base64Invalid { field: &'static str },
    /// An HTTP-POST message that is DEFLATE-compressed: only the Redirect binding deflates.
    #[error("the {field} form value is DEFLATE-compressed, but the HTTP-POST binding carries the XML base64-encoded without compression (SAML bindings §3.5.4; only HTTP-Redirect deflates): send it uncompressed, or over HTTP-Redirect")]
    PostDeflated { field: &'static str },
    /// A Redirect-binding message is not a valid raw DEFLATE stream (RFC 1951).
    #[error("the {field} parameter does not inflate: {reason}")]
    InflateFailed { field: &'static str, reason: String },
    /// A Redirect-binding message inflates to more than certgate reads (a deflate bomb).
    #[error("the {field} parameter inflates to more than {limit} bytes")]
    InflatedTooLarge { field: &'static str, limit: usize },
    /// The query string of a Redirect-binding request cannot be read.
    #[error("the query string is malformed: {reason}")]
    QueryMalformed { reason: String },
    /// A parameter appears twice: which one was signed would be a guess.
    #[error("the query parameter {name} appears more than once")]
    QueryParameterDuplicated { name: String },
    /// RelayState longer than SAML bindings §3.4.3 / §3.5.3 allow.
    #[error("RelayState is {length} bytes; SAML bindings allow at most {limit}")]
    RelayStateTooLong { length: usize, limit: usize },
    /// The document is another kind of message than the endpoint takes.
    #[error("expected {expected}, received {found}")]
    UnexpectedMessage {
        expected: &'static str,
        found: String,
    },
    /// `Version` is not "2.0" (SAML core §3.2.1).
    #[error("SAML Version {version:?} is not supported; only 2.0 is")]
    UnsupportedVersion { version: String },
    /// A received message lacks a required part, or a part has the wrong form.
    #[error("{field}: {reason}")]
    MessageInvalid { field: &'static str, reason: String },
    /// Service-provider metadata that cannot be used.
    #[error("service provider metadata: {reason}")]
    MetadataInvalid { reason: String },
}

impl SamlError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        SamlError::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// Stable code, used in the sign-in log and error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            SamlError::InvalidField { .. } => "saml-invalid-field",
            SamlError::TimeOutOfRange { .. } => "saml-time-out-of-range",
            SamlError::EmptyValidity { .. } => "saml-empty-validity",
            SamlError::SigningKey { .. } => "saml-signing-key-invalid",
            SamlError::KeyDoesNotMatchCertificate => "saml-signing-key-mismatch",
            SamlError::Random => "saml-random-failed",
            SamlError::Signing => "saml-signing-failed",
            SamlError::ClaimTypeNotSplittable { .. } => "saml11-claim-type-not-splittable",
            SamlError::WsFedParameterMissing { .. } => "wsfed-parameter-missing",
            SamlError::WsFedParameterDuplicated { .. } => "wsfed-parameter-duplicated",
            SamlError::WsFedParameterTooLong { .. } => "wsfed-parameter-too-long",
            SamlError::WsFedParameterInvalid { .. } => "wsfed-parameter-invalid",
            SamlError::WsFedUnknownAction { .. } => "wsfed-unknown-action",
            SamlError::XmlTooLarge { .. } => "saml-xml-too-large",
            SamlError::XmlNotUtf8 { .. } => "saml-xml-not-utf8",
            SamlError::XmlMalformed { .. } => "saml-xml-malformed",
            SamlError::XmlDoctypeRefused => "saml-xml-doctype-refused",
            SamlError::XmlEntityRefused { .. } => "saml-xml-entity-refused",
            SamlError::XmlProcessingInstructionRefused => "saml-xml-processing-instruction-refused",
            SamlError::XmlTooDeep { .. } => "saml-xml-too-deep",
            SamlError::XmlTooManyNodes { .. } => "saml-xml-too-many-nodes",
            SamlError::XmlTooManyAttributes { .. } => "saml-xml-too-many-attributes",
            SamlError::XmlUnboundPrefix { .. } => "saml-xml-unbound-prefix",
            SamlError::XmlDuplicateAttribute { .. } => "saml-xml-duplicate-attribute",
            SamlError::SignatureMissing => "saml-signature-missing",
            SamlError::SignatureMalformed { .. } => "saml-signature-malformed",
            SamlError::SignatureAlgorithmRefused { .. } => "saml-signature-algorithm-refused",
            SamlError::SignatureReferenceMismatch { .. } => "saml-signature-reference-mismatch",
            SamlError::DuplicateId { .. } => "saml-duplicate-id",
            SamlError::DigestMismatch => "saml-digest-mismatch",
            SamlError::SignatureInvalid { .. } => "saml-signature-invalid",
            SamlError::NoTrustedCertificate => "saml-no-trusted-certificate",
            SamlError::TrustedCertificateUnusable { .. } => "saml-trusted-certificate-unusable",
            SamlError::Base64Invalid { .. } => "saml-base64-invalid",
            SamlError::PostDeflated { .. } => "saml-post-deflated",
            SamlError::InflateFailed { .. } => "saml-inflate-failed",
            SamlError::InflatedTooLarge { .. } => "saml-inflated-too-large",
            SamlError::QueryMalformed { .. } => "saml-query-malformed",
            SamlError::QueryParameterDuplicated { .. } => "saml-query-parameter-duplicated",
            SamlError::RelayStateTooLong { .. } => "saml-relay-state-too-long",
            SamlError::UnexpectedMessage { .. } => "saml-unexpected-message",
            SamlError::UnsupportedVersion { .. } => "saml-version-unsupported",
            SamlError::MessageInvalid { .. } => "saml-message-invalid",
            SamlError::MetadataInvalid { .. } => "saml-metadata-invalid",
        }
    }
}
