//! What can go wrong while building or signing a SAML document.

use certgate_pki::ReasonCode;

/// One variant per cause; [`SamlError::code`] is the stable code for logs and error bodies.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    /// A value cannot be put into the document as given (empty, not an NCName, a character
    /// XML 1.0 cannot carry, too long, ...).
    #[error("{field}: {reason}")]
    InvalidField {
        /// The input it was for, as the log names it (`issuer`, `in_response_to`, ...).
        field: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// A time outside what `xs:dateTime` in the form `YYYY-MM-DDTHH:MM:SSZ` can express
    /// (years 1 to 9999).
    #[error("{field}: {at} seconds since the epoch is outside years 1 to 9999")]
    TimeOutOfRange {
        /// The time's role in the document (`issue_instant`, `not_before`, ...).
        field: &'static str,
        /// The time that cannot be written, in seconds since the Unix epoch.
        at: i64,
    },
    /// `not_before` is not before `not_on_or_after`.
    #[error("the validity window is empty: NotBefore {not_before} is not before NotOnOrAfter {not_on_or_after}")]
    EmptyValidity {
        /// Start of the window, in seconds since the Unix epoch.
        not_before: i64,
        /// End of the window (exclusive), in seconds since the Unix epoch.
        not_on_or_after: i64,
    },
    /// The token-signing key or its certificate could not be used.
    #[error("token-signing key: {reason}")]
    SigningKey {
        /// Why the key or certificate was refused.
        reason: String,
    },
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
    ClaimTypeNotSplittable {
        /// The configured claim type URI, as given.
        claim_type: String,
    },
    /// A WS-Federation request lacks a parameter its action requires (`wa`, `wtrealm`).
    #[error("WS-Federation parameter {parameter} is missing")]
    WsFedParameterMissing {
        /// The missing query or form parameter.
        parameter: &'static str,
    },
    /// A WS-Federation parameter appears more than once: which one counts would be a guess.
    #[error("WS-Federation parameter {parameter} appears more than once")]
    WsFedParameterDuplicated {
        /// The repeated parameter.
        parameter: &'static str,
    },
    /// A WS-Federation parameter is longer than certgate accepts.
    #[error("WS-Federation parameter {parameter} is {length} bytes; at most {limit} are accepted")]
    WsFedParameterTooLong {
        /// The parameter that is too long.
        parameter: &'static str,
        /// Its length in bytes.
        length: usize,
        /// The most bytes accepted for this parameter.
        limit: usize,
    },
    /// A WS-Federation parameter's value has the wrong form (a `wct` that is not a UTC
    /// xs:dateTime, a `wfresh` that is not a non-negative integer, a `wtrealm` that is not an
    /// absolute URI, ...).
    #[error("WS-Federation parameter {parameter}: {reason}")]
    WsFedParameterInvalid {
        /// The parameter whose value is refused.
        parameter: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// `wa` names an action certgate does not implement.
    #[error("WS-Federation action wa={action} is not supported")]
    WsFedUnknownAction {
        /// The `wa` value received (implemented: `wsignin1.0`, `wsignout1.0`,
        /// `wsignoutcleanup1.0`).
        action: String,
    },
    // --- Received XML (crate::xml_in) ---
    /// A received document is larger than certgate reads for its kind.
    #[error("the XML document is {size} bytes; at most {limit} are accepted")]
    XmlTooLarge {
        /// The document's size in bytes.
        size: usize,
        /// The most bytes read for this kind of document.
        limit: usize,
    },
    /// Not UTF-8, or declares another encoding: SAML messages are UTF-8 in practice.
    #[error("the XML document is not UTF-8 (at byte {offset}); re-encode it as UTF-8")]
    XmlNotUtf8 {
        /// Byte offset of the first byte that is not UTF-8 (0 when the XML declaration names
        /// another encoding).
        offset: usize,
    },
    /// Not well-formed XML (or XML 1.0 namespaces) at all.
    #[error("the XML document is not well-formed: {reason}")]
    XmlMalformed {
        /// What is wrong, and at which byte where known.
        reason: String,
    },
    /// A DOCTYPE: DTDs bring external entities and entity expansion, and SAML needs neither.
    #[error(
        "the XML document has a DOCTYPE, which certgate refuses (no DTDs, no external entities)"
    )]
    XmlDoctypeRefused,
    /// An entity reference other than the five predefined ones (it could only come from a DTD).
    #[error("the XML document references the entity &{name}; only &lt; &gt; &amp; &apos; &quot; and character references are accepted")]
    XmlEntityRefused {
        /// The entity's name, without `&` and `;`.
        name: String,
    },
    /// A processing instruction other than the XML declaration.
    #[error("the XML document has a processing instruction, which certgate refuses")]
    XmlProcessingInstructionRefused,
    /// Elements nested deeper than certgate reads.
    #[error("the XML document nests elements deeper than {limit} levels")]
    XmlTooDeep {
        /// The deepest nesting read.
        limit: usize,
    },
    /// More elements, text nodes and comments than certgate reads.
    #[error("the XML document has more than {limit} nodes")]
    XmlTooManyNodes {
        /// The most nodes read in one document.
        limit: usize,
    },
    /// An element with more attributes than certgate reads.
    #[error("<{element}> has more than {limit} attributes")]
    XmlTooManyAttributes {
        /// The element's qualified name as written.
        element: String,
        /// The most attributes read on one element.
        limit: usize,
    },
    /// A prefix used without a namespace declaration in scope.
    #[error("the prefix \"{prefix}\" in <{element}> is not bound to a namespace")]
    XmlUnboundPrefix {
        /// The undeclared prefix.
        prefix: String,
        /// The qualified name of the element that uses it (itself or on an attribute).
        element: String,
    },
    /// The same attribute twice on one element (by name, or by namespace and local name).
    #[error("<{element}> has the attribute {attribute} more than once")]
    XmlDuplicateAttribute {
        /// The element's qualified name as written.
        element: String,
        /// The repeated attribute (its local name, or `xmlns:p`); empty when the parser found
        /// the repetition by the name as written.
        attribute: String,
    },

    // --- XML signatures (crate::dsig_verify) ---
    /// A signature is required and the message has none (no `ds:Signature` child of the
    /// root, or no `Signature` query parameter in the Redirect binding).
    #[error("the message is not signed, and this service provider's messages must be")]
    SignatureMissing,
    /// The Signature does not have the one shape certgate accepts (SAML core §5.4).
    #[error("the XML signature is malformed: {reason}")]
    SignatureMalformed {
        /// Which part of the Signature is wrong, and how.
        reason: String,
    },
    /// An algorithm certgate does not accept (RSA-SHA1, another canonicalization, ...).
    #[error("{role} {algorithm} is refused; {hint}")]
    SignatureAlgorithmRefused {
        /// Where the algorithm appeared (`SignatureMethod`, `DigestMethod`, `Transform`, ...).
        role: &'static str,
        /// The algorithm URI received (first 200 characters).
        algorithm: String,
        /// What to do instead: the algorithms certgate accepts, or why RSA-SHA1 is refused.
        hint: &'static str,
    },
    /// The Reference does not point at the signed root element.
    #[error("the signature references {uri}, not the message itself (ID {id})")]
    SignatureReferenceMismatch {
        /// The Reference's `URI` attribute (first 200 characters).
        uri: String,
        /// The root element's `ID`, which the Reference should name as `#ID`.
        id: String,
    },
    /// Two elements carry the same ID: the shape of a signature-wrapping attack.
    #[error("two elements carry the ID {id}")]
    DuplicateId {
        /// The ID that appears twice.
        id: String,
    },
    /// The signed content was changed after signing.
    #[error("the digest of the signed content does not match: the message was changed after it was signed")]
    DigestMismatch,
    /// No trusted certificate verifies the signature.
    #[error("the {algorithm} signature does not verify with any of the {trusted} trusted certificates ({tried} with a key of the right type); check the service provider's signing certificate in its metadata")]
    SignatureInvalid {
        /// The signature algorithm the message names.
        algorithm: String,
        /// How many trusted certificates have a key this algorithm can use (and were tried).
        tried: usize,
        /// How many certificates are trusted for this service provider in all.
        trusted: usize,
    },
    /// A signature must be verified but no certificate is configured to verify it with.
    #[error("no signing certificate is configured for this service provider; import its metadata")]
    NoTrustedCertificate,
    /// A configured certificate cannot be used to verify.
    #[error("a configured signing certificate cannot be used: {reason}")]
    TrustedCertificateUnusable {
        /// Why the certificate cannot be used (it does not parse as DER X.509, ...).
        reason: String,
    },

    // --- Bindings and received messages (crate::binding, request, logout, sp_metadata) ---
    /// A base64 value (form field, query parameter or XML text) does not decode.
    #[error("{field} is not valid base64")]
    Base64Invalid {
        /// The form field, query parameter or element whose value it is.
        field: &'static str,
    },
    /// An HTTP-POST message that is DEFLATE-compressed: only the Redirect binding deflates.
    #[error("the {field} form value is DEFLATE-compressed, but the HTTP-POST binding carries the XML base64-encoded without compression (SAML bindings §3.5.4; only HTTP-Redirect deflates): send it uncompressed, or over HTTP-Redirect")]
    PostDeflated {
        /// The form field (`SAMLRequest` or `SAMLResponse`).
        field: &'static str,
    },
    /// A Redirect-binding message is not a valid raw DEFLATE stream (RFC 1951).
    #[error("the {field} parameter does not inflate: {reason}")]
    InflateFailed {
        /// The query parameter (`SAMLRequest` or `SAMLResponse`).
        field: &'static str,
        /// The decompressor's description of the fault.
        reason: String,
    },
    /// A Redirect-binding message inflates to more than certgate reads (a deflate bomb).
    #[error("the {field} parameter inflates to more than {limit} bytes")]
    InflatedTooLarge {
        /// The query parameter (`SAMLRequest` or `SAMLResponse`).
        field: &'static str,
        /// The most bytes inflated.
        limit: usize,
    },
    /// The query string of a Redirect-binding request cannot be read.
    #[error("the query string is malformed: {reason}")]
    QueryMalformed {
        /// What cannot be read (too long, a bad percent-escape, a missing message parameter, ...).
        reason: String,
    },
    /// A parameter appears twice: which one was signed would be a guess.
    #[error("the query parameter {name} appears more than once")]
    QueryParameterDuplicated {
        /// The repeated parameter's name.
        name: String,
    },
    /// RelayState longer than SAML bindings §3.4.3 / §3.5.3 allow.
    #[error("RelayState is {length} bytes; SAML bindings allow at most {limit}")]
    RelayStateTooLong {
        /// The RelayState's length in bytes.
        length: usize,
        /// The most bytes the bindings allow (80).
        limit: usize,
    },
    /// The document is another kind of message than the endpoint takes.
    #[error("expected {expected}, received {found}")]
    UnexpectedMessage {
        /// The root element the endpoint takes (e.g. `samlp:AuthnRequest`).
        expected: &'static str,
        /// The root element received, as `{namespace}local` (first 200 characters).
        found: String,
    },
    /// `Version` is not "2.0" (SAML core §3.2.1).
    #[error("SAML Version {version:?} is not supported; only 2.0 is")]
    UnsupportedVersion {
        /// The `Version` attribute received.
        version: String,
    },
    /// A received message lacks a required part, or a part has the wrong form.
    #[error("{field}: {reason}")]
    MessageInvalid {
        /// The element or attribute at fault.
        field: &'static str,
        /// What is missing or wrong.
        reason: String,
    },
    /// Service-provider metadata that cannot be used.
    #[error("service provider metadata: {reason}")]
    MetadataInvalid {
        /// Why the metadata cannot be used.
        reason: String,
    },
}

impl SamlError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        SamlError::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    /// Every code [`SamlError::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "saml-invalid-field",
            "A value that was to go into a SAML or WS-Federation document certgate issues cannot be written as given: it is empty, is not an XML NCName where SAML core §1.3.4 requires an ID, holds a character XML 1.0 cannot carry, or is too long (an immutable ID that encodes to more than the 64 characters Entra ID accepts). No token was issued.",
            "Administrators: the server log names the field. Correct the user's attribute (`certgate user set`, e.g. `--immutable-id` or `--mail`) or the relying party setting that supplies it (`certgate rp set RP --name-id-source SOURCE`, `--claim`, `--issuer`).",
        ),
        ReasonCode::new(
            "saml-time-out-of-range",
            "A time to be written into a document (IssueInstant, NotBefore, NotOnOrAfter, AuthnInstant) lies outside the years 1 to 9999, which xs:dateTime in the form YYYY-MM-DDTHH:MM:SSZ cannot express. No token was issued.",
            "Administrators: check the server's clock and the relying party's token lifetime (`certgate rp set RP --token-lifetime SECONDS`, 60 to 86400).",
        ),
        ReasonCode::new(
            "saml-empty-validity",
            "The assertion's validity window is empty: NotBefore is not before NotOnOrAfter (SAML core §2.5.1), so no relying party could accept it. No token was issued.",
            "Administrators: give the relying party a positive token lifetime (`certgate rp set RP --token-lifetime SECONDS`, 60 to 86400) and check the server's clock.",
        ),
        ReasonCode::new(
            "saml-signing-key-invalid",
            "certgate's token-signing key or its certificate cannot be used to sign SAML and WS-Federation tokens (the key is not an RSA PKCS#8 key, or the certificate does not parse). No token was issued.",
            "Administrators: the server log has the detail. Check the keys with `certgate federation keys`, roll over to the next key with `certgate federation rotate-keys`, and give relying parties that pin the certificate (Entra ID) the new one.",
        ),
        ReasonCode::new(
            "saml-signing-key-mismatch",
            "The token-signing private key is not the key its certificate certifies: relying parties holding the certificate would reject every signature, so certgate refuses to sign with it.",
            "Administrators: the stored token-signing key is damaged. Roll over to the next key with `certgate federation rotate-keys` and give relying parties that pin the certificate (Entra ID) the new one from the metadata.",
        ),
        ReasonCode::new(
            "saml-random-failed",
            "The system's random number generator failed while certgate made a message or assertion ID, so no document was issued.",
            "Go back to the application and sign in again. Administrators: if it persists, check the host's entropy source; the server log has the error under the correlation ID.",
        ),
        ReasonCode::new(
            "saml-signing-failed",
            "The cryptographic library refused to compute the RSA-SHA256 signature of a SAML or WS-Federation document, so nothing was issued.",
            "Go back to the application and sign in again. Administrators: if it persists, check the token-signing keys with `certgate federation keys` and the server log under the correlation ID.",
        ),
        ReasonCode::new(
            "saml11-claim-type-not-splittable",
            "A claim rule's claim type cannot be put into the SAML 1.1 assertion WS-Federation issues: SAML 1.1 writes it as AttributeNamespace and AttributeName split at the last '/', so the type needs a '/' with text on both sides (a URI such as http://schemas.xmlsoap.org/claims/UPN).",
            "Administrators: give the relying party claim types that are URIs, e.g. `certgate rp set RP --claim http://schemas.example.com/claims/NAME=SOURCE` (`--claim` replaces the whole list, so repeat it for every claim).",
        ),
        ReasonCode::new(
            "wsfed-parameter-missing",
            "A WS-Federation request lacks a parameter its action requires: `wa` always, and `wtrealm` for `wa=wsignin1.0` (WS-Federation 1.2 §13.2).",
            "Go back to the application and sign in again from there. If it keeps happening, the application's WS-Federation sign-in URL is incomplete: tell its administrator.",
        ),
        ReasonCode::new(
            "wsfed-parameter-duplicated",
            "A WS-Federation parameter (wa, wtrealm, wreply, wctx, wct, wauth, wfresh or whr) appears more than once in the request, so which value counts would be a guess; certgate refuses the request.",
            "Go back to the application and sign in again. If it keeps happening, tell the application's administrator that its sign-in URL repeats the parameter named in the message.",
        ),
        ReasonCode::new(
            "wsfed-parameter-too-long",
            "A WS-Federation parameter is longer than certgate accepts: 4096 bytes for `wctx`, 1024 bytes for the others.",
            "Go back to the application and sign in again. If it keeps happening, the application's administrator should make it send less (usually in `wctx`).",
        ),
        ReasonCode::new(
            "wsfed-parameter-invalid",
            "A WS-Federation parameter's value has the wrong form: a control character, a `wct` that is not a UTC xs:dateTime, a `wfresh` that is not a non-negative integer, a `wtrealm` that is not an absolute URI, and the like.",
            "Go back to the application and sign in again. If it keeps happening, tell the application's administrator the parameter named in the message.",
        ),
        ReasonCode::new(
            "wsfed-unknown-action",
            "The `wa` parameter names a WS-Federation action certgate does not implement; it accepts `wsignin1.0`, `wsignout1.0` and `wsignoutcleanup1.0` (WS-Federation 1.2 §13.2), not attribute or pseudonym requests.",
            "Configure the relying party to send passive sign-in and sign-out requests only, to `/federation/wsfed`.",
        ),
        ReasonCode::new(
            "saml-xml-too-large",
            "A received XML document is larger than certgate reads: 256 KiB for a SAML message, 1 MiB for service-provider metadata.",
            "For metadata, import the service provider's own EntityDescriptor rather than a federation-wide aggregate; for a message, tell the service provider's administrator that it sends far more than a SAML request needs.",
        ),
        ReasonCode::new(
            "saml-xml-not-utf8",
            "A received XML document is not UTF-8, or declares another encoding; certgate reads SAML messages and metadata as UTF-8 only.",
            "Re-encode the metadata file as UTF-8 before importing it; a service provider that sends another encoding must be configured by its administrator to send UTF-8.",
        ),
        ReasonCode::new(
            "saml-xml-malformed",
            "A received document is not well-formed XML 1.0 with namespaces (an unclosed element, a broken attribute, text after the root element, ...), so certgate cannot read it.",
            "For metadata, download it again from the service provider and check the file is complete; for a sign-in or logout request, tell the service provider's administrator, quoting the correlation ID.",
        ),
        ReasonCode::new(
            "saml-xml-doctype-refused",
            "A received XML document has a DOCTYPE. certgate refuses DTDs because they bring external entities and entity expansion (XXE, billion laughs), and SAML needs neither.",
            "Remove the DOCTYPE from the metadata file before importing it; a service provider that sends one in its messages must be fixed by its administrator.",
        ),
        ReasonCode::new(
            "saml-xml-entity-refused",
            "A received XML document references an entity other than the five XML predefines (&lt; &gt; &amp; &apos; &quot;); any other entity could only come from a DTD, which certgate refuses.",
            "Replace the entity reference with the character itself or a numeric character reference, then import or send the document again.",
        ),
        ReasonCode::new(
            "saml-xml-processing-instruction-refused",
            "A received XML document contains a processing instruction other than the XML declaration (such as xml-stylesheet); SAML messages and metadata need none, so certgate refuses them.",
            "Remove the processing instruction from the metadata file before importing it; a service provider that sends one must be fixed by its administrator.",
        ),
        ReasonCode::new(
            "saml-xml-too-deep",
            "A received XML document nests elements deeper than the 32 levels certgate reads; no SAML message or service-provider metadata needs that many.",
            "For metadata, import the service provider's own EntityDescriptor rather than a nested aggregate; for a message, tell the service provider's administrator.",
        ),
        ReasonCode::new(
            "saml-xml-too-many-nodes",
            "A received XML document has more than 20000 elements, text nodes and comments, the most certgate reads in one document.",
            "For metadata, import the service provider's own EntityDescriptor rather than a federation-wide aggregate of many entities; for a message, tell the service provider's administrator.",
        ),
        ReasonCode::new(
            "saml-xml-too-many-attributes",
            "An element of a received XML document has more than 64 attributes, the most certgate reads on one element; no SAML element needs that many.",
            "Tell the service provider's administrator (or whoever produced the metadata file): the document must be corrected at its source.",
        ),
        ReasonCode::new(
            "saml-xml-unbound-prefix",
            "A received XML document uses a namespace prefix (such as `saml:` or `ds:`) that no xmlns declaration in scope binds, so it is not namespace-well-formed XML.",
            "Declare every prefix in the document (declarations are often lost when a fragment is copied out of a larger file), then import or send it again.",
        ),
        ReasonCode::new(
            "saml-xml-duplicate-attribute",
            "An element of a received XML document carries the same attribute twice (by name, or by namespace and local name), which XML forbids; which value counts would be a guess.",
            "Correct the document so that each attribute appears once, then import or send it again; a service provider that sends such messages must be fixed by its administrator.",
        ),
        ReasonCode::new(
            "saml-signature-missing",
            "A signature is required and the message has none: no ds:Signature child of the root element (HTTP-POST, SAML core §5.4) or no Signature query parameter (HTTP-Redirect, SAML bindings §3.4.4.1).",
            "Configure the service provider to sign its requests with the certificate registered for it; if it cannot sign, an administrator may turn the requirement off with `certgate rp set RP --require-signed-requests=false`.",
        ),
        ReasonCode::new(
            "saml-signature-malformed",
            "The XML signature does not have the one shape certgate accepts (SAML core §5.4): a single enveloped Signature with one Reference to the root element, the enveloped-signature and exclusive C14N transforms, a DigestValue and a SignatureValue.",
            "Tell the service provider's administrator: its SAML library must sign with the SAML profile of XML Signature (SAML core §5.4).",
        ),
        ReasonCode::new(
            "saml-signature-algorithm-refused",
            "The signature uses an algorithm certgate does not accept, such as RSA-SHA1, a SHA-1 digest or a canonicalization other than exclusive C14N. Accepted are RSA-SHA256, RSA-SHA512 and ECDSA-SHA256 signatures with SHA-256 or SHA-512 digests.",
            "Configure the service provider to sign with RSA-SHA256 and SHA-256 digests over exclusive C14N.",
        ),
        ReasonCode::new(
            "saml-signature-reference-mismatch",
            "The signature's Reference does not point at the ID of the message's root element, so it does not sign the message itself (SAML core §5.4.2).",
            "Tell the service provider's administrator: its SAML library must sign the request element itself, with a Reference to that element's ID.",
        ),
        ReasonCode::new(
            "saml-duplicate-id",
            "Two elements of the received message carry the same ID, the shape of an XML signature-wrapping attack; certgate refuses the message rather than guess which element was signed.",
            "If the service provider sent it, tell its administrator; otherwise treat it as an attack attempt and look up the correlation ID in the server log.",
        ),
        ReasonCode::new(
            "saml-digest-mismatch",
            "The digest of the signed content does not match the DigestValue in the signature: the message was changed after it was signed (or re-encoded on the way).",
            "Go back to the application and sign in again. If it persists, tell the service provider's administrator that something alters its messages after signing.",
        ),
        ReasonCode::new(
            "saml-signature-invalid",
            "The signature does not verify with any of the signing certificates registered for the service provider; usually the service provider signs with a new certificate certgate does not know yet.",
            "Administrators: register the service provider's current signing certificate with `certgate rp set RP --request-certificate FILE` (repeat the flag for several certificates).",
        ),
        ReasonCode::new(
            "saml-no-trusted-certificate",
            "A signature must be verified, but no signing certificate is registered for this service provider to verify it with.",
            "Administrators: register the service provider's signing certificate (PEM or DER; its metadata has it in the signing KeyDescriptor) with `certgate rp set RP --request-certificate FILE`.",
        ),
        ReasonCode::new(
            "saml-trusted-certificate-unusable",
            "A signing certificate registered for the service provider cannot be used to verify signatures (it does not parse).",
            "Administrators: replace the relying party's signing certificates with `certgate rp set RP --request-certificate FILE` (PEM or DER).",
        ),
        ReasonCode::new(
            "saml-base64-invalid",
            "A base64 value does not decode: the SAMLRequest form field or query parameter, the Signature parameter, or base64 text in the XML such as a certificate.",
            "Go back to the application and sign in again. If it persists, or the metadata does not import, tell the service provider's administrator that it sends invalid base64.",
        ),
        ReasonCode::new(
            "saml-post-deflated",
            "An HTTP-POST message is DEFLATE-compressed, but the HTTP-POST binding carries the XML base64-encoded without compression (SAML bindings §3.5.4); only HTTP-Redirect deflates (§3.4.4.1).",
            "Configure the service provider to send the message uncompressed over HTTP-POST, or to use the HTTP-Redirect binding.",
        ),
        ReasonCode::new(
            "saml-inflate-failed",
            "An HTTP-Redirect message is not a valid raw DEFLATE stream (RFC 1951) as SAML bindings §3.4.4.1 requires; a zlib or gzip stream is not raw DEFLATE.",
            "Tell the service provider's administrator: the message must be raw DEFLATE, then base64, then URL-encoded (SAML bindings §3.4.4.1).",
        ),
        ReasonCode::new(
            "saml-inflated-too-large",
            "An HTTP-Redirect message inflates to more than the 256 KiB certgate reads, the shape of a deflate bomb.",
            "Tell the service provider's administrator: a SAML request is a few kilobytes, so the sender is misconfigured or hostile.",
        ),
        ReasonCode::new(
            "saml-query-malformed",
            "The query string of an HTTP-Redirect request cannot be read: bad percent-encoding, a URL-encoded parameter name, a missing SAMLRequest, SigAlg without Signature, too many parameters or too long (SAML bindings §3.4.4.1).",
            "Go back to the application and sign in again. If it persists, tell the service provider's administrator, quoting the correlation ID.",
        ),
        ReasonCode::new(
            "saml-query-parameter-duplicated",
            "A query parameter of an HTTP-Redirect request appears more than once, so which value was signed would be a guess.",
            "Go back to the application and sign in again. If it persists, tell the service provider's administrator that its redirect URL repeats a parameter.",
        ),
        ReasonCode::new(
            "saml-relay-state-too-long",
            "The RelayState is longer than the 80 bytes SAML bindings §3.4.3 and §3.5.3 allow.",
            "Configure the service provider to send a shorter RelayState (a reference to its state rather than the state itself).",
        ),
        ReasonCode::new(
            "saml-unexpected-message",
            "The document is another kind of message than the endpoint takes, for example a LogoutRequest sent to the single sign-on URL or a Response sent to certgate.",
            "Check the service provider's copy of certgate's endpoints: AuthnRequests go to `/federation/saml/sso`, LogoutRequests to `/federation/saml/slo` (both in `/federation/saml/metadata`).",
        ),
        ReasonCode::new(
            "saml-version-unsupported",
            "The message's Version attribute is not 2.0 (SAML core §3.2.1); certgate speaks SAML 2.0 only (and SAML 1.1 assertions inside WS-Federation).",
            "Configure the service provider for SAML 2.0, or register it as a WS-Federation relying party (`certgate rp add wsfed`) if it speaks WS-Federation.",
        ),
        ReasonCode::new(
            "saml-message-invalid",
            "A received SAML message lacks a required part or a part has the wrong form: a missing or malformed ID, Version, IssueInstant or Issuer (SAML core §3.2.1), both AssertionConsumerServiceURL and AssertionConsumerServiceIndex (§3.4.1), an unsupported RequestedAuthnContext, and the like.",
            "Tell the service provider's administrator the field named in the message; the request must be corrected at the service provider.",
        ),
        ReasonCode::new(
            "saml-metadata-invalid",
            "Service-provider metadata cannot be used: several or no entities, no entityID, no SPSSODescriptor for SAML 2.0 (an identity provider's metadata?), no AssertionConsumerService, duplicate indexes, or a signing certificate that does not parse (SAML metadata §2.4.4).",
            "Get the service provider's own, current metadata and import it again, or register it without metadata (`certgate rp add saml --name NAME --entity-id ID --acs URL`).",
        ),
    ];

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
