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
        }
    }
}
