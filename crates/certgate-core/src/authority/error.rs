//! [`PkiError`]: why a built-in CA operation failed, with its reason codes.

use certgate_ca::CaError;
use certgate_pki::ReasonCode;

use crate::store::StoreError;
use crate::trusted_ca::CaId;

/// Why a built-in CA operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// No root and issuing CA yet: `certgate pki init` was never run.
    #[error("certgate's CA is not initialised; run `certgate pki init` first")]
    NotInitialised,
    /// `pki init` on a store that already has a CA; initialising again would replace its keys.
    #[error("certgate's CA is already initialised (root \"{root}\"); nothing was changed")]
    AlreadyInitialised {
        /// The existing root's subject, Windows-style.
        root: String,
    },
    /// No key passphrase is configured and unencrypted keys were not allowed, so a CA key cannot be
    /// sealed or opened.
    #[error("no key passphrase is configured, so the CA's private keys cannot be {action}; set CERTGATE_CA_KEY_PASSPHRASE (or `ca_key_passphrase` in the config), or pass --allow-unencrypted-keys to keep them unencrypted (not recommended)")]
    PassphraseRequired {
        /// `sealed` (at `pki init`) or `unsealed` (to sign), for the message.
        action: &'static str,
    },
    /// No certificate certgate issued has this serial.
    #[error("no certificate with serial {serial} was issued by certgate; `certgate pki list` shows the serials")]
    UnknownSerial {
        /// The serial, lowercase hex.
        serial: String,
    },
    /// The certificate and every certificate derived from it were already revoked; nothing changed.
    #[error("the certificate with serial {serial} was already revoked at {at} ({reason}); nothing was changed")]
    AlreadyRevoked {
        /// The serial, lowercase hex.
        serial: String,
        /// When it was revoked, RFC 3339.
        at: String,
        /// The reason it was revoked with (RFC 5280 §5.3.1 name, `keyCompromise`...).
        reason: String,
    },
    /// The certificate that authenticated the request is revoked at certgate's CA, so it may not
    /// obtain another.
    #[error("the certificate with serial {serial} that authenticated this request has been revoked at certgate's CA (the CRL relying parties see may not say so yet); no certificate was issued")]
    ParentRevoked {
        /// The presented certificate's serial, lowercase hex.
        serial: String,
    },
    /// The user already holds the most unexpired certificates obtained with a certificate
    /// (`max_derived_certificates_per_user` in [`PkiSettings`](super::PkiSettings)).
    #[error("{upn} already holds {limit} unexpired certificates obtained with a certificate (devices set up with /my/device, EST re-enrollments), the most allowed; revoke those no longer in use (`certgate pki list`, `certgate pki revoke`) or ask your administrator")]
    DerivedLimit {
        /// The user the new certificate was for.
        upn: String,
        /// The limit in force.
        limit: u32,
    },
    /// The presented certificate does not parse (the reason code in the message).
    #[error("the presented certificate could not be read: {0}")]
    ParentMalformed(String),
    /// The presented certificate was not issued by certgate's CA, and only those may obtain new
    /// ones here.
    #[error("the certificate you signed in with was issued by \"{issuer}\", not by certgate's CA, and only certgate's own certificates can obtain new ones here: another CA could revoke yours without certgate knowing. Use a certificate certgate issued, or ask your administrator for one")]
    ParentNotIssuedHere {
        /// The issuing CA's subject DN, Windows form
        /// ([`ValidCertificate::issuer`](crate::signin::ValidCertificate::issuer)).
        issuer: String,
    },
    /// The presented certificate's issuing CA is not a trusted CA on record, so its revocations
    /// could not be followed.
    #[error("the CA that issued the certificate you signed in with (\"{issuer}\") is not itself a trusted CA on record, so certgate could not follow its revocations; ask your administrator to add it (`certgate ca add`)")]
    ParentCaNotTrusted {
        /// The issuing CA's subject DN, Windows form
        /// ([`ValidCertificate::issuer`](crate::signin::ValidCertificate::issuer)).
        issuer: String,
    },
    /// The presented certificate's issuing CA is trusted but has no CRL URL, so its revocations
    /// could not be followed.
    #[error("the trusted CA \"{issuer}\" (CA {ca}) that issued the certificate you signed in with has no CRL URL, so certgate could not learn when it revokes your certificate; ask your administrator to set one (`certgate ca set {ca} --crl-url URL`)")]
    ParentCaWithoutCrl {
        /// The trusted CA's id.
        ca: CaId,
        /// The issuing CA's subject DN, Windows form
        /// ([`ValidCertificate::issuer`](crate::signin::ValidCertificate::issuer)).
        issuer: String,
    },
    /// The revocation reason is not one of RFC 5280's names (the text given is carried).
    #[error("\"{0}\" is not a revocation reason; use one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise")]
    UnknownReason(String),
    /// A stored CA record or a published CRL is damaged (the detail is carried).
    #[error("a stored CA record is damaged: {0}")]
    Corrupt(String),
    /// certgate-ca refused or failed (key, sealing, certificate building).
    #[error(transparent)]
    Ca(#[from] CaError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PkiError {
    /// Every code [`PkiError::code`] answers with of its own (CA and store failures are their
    /// types' codes).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "pki-not-initialised",
            "certgate's own CA (root and issuing CA) has not been created yet, so nothing can be issued, revoked or published.",
            "Run `certgate pki init` once, with CERTGATE_CA_KEY_PASSPHRASE set.",
        ),
        ReasonCode::new(
            "pki-already-initialised",
            "certgate's CA already exists, and initialising again would replace its keys; nothing was changed.",
            "Keep using the existing CA (`certgate pki list`, `certgate pki crls`).",
        ),
        ReasonCode::new(
            "pki-passphrase-required",
            "No key passphrase is configured, so the CA's private keys cannot be sealed (at `pki init`) or unsealed (to sign).",
            "Set CERTGATE_CA_KEY_PASSPHRASE (or `ca_key_passphrase` in certgate.toml) to the passphrase the CA keys are sealed with; `certgate pki init --allow-unencrypted-keys` keeps new keys unencrypted (not recommended).",
        ),
        ReasonCode::new(
            "pki-unknown-serial",
            "No certificate with that serial number was issued by certgate's CA.",
            "Check the serial (hex, `:` allowed) against `certgate pki list`.",
        ),
        ReasonCode::new(
            "pki-already-revoked",
            "The certificate was already revoked, and so was every certificate derived from it; nothing was changed.",
            "Nothing to do: the first revocation's time and reason stand (`certgate pki list` shows them).",
        ),
        ReasonCode::new(
            "pki-parent-revoked",
            "The certificate that authenticated the request (the one signed in with, for /my/device or EST re-enrollment) is revoked at certgate's CA, though the published CRL may not say so yet; no certificate was issued.",
            "Sign in with a certificate that is not revoked, or ask your administrator for a new one.",
        ),
        ReasonCode::new(
            "pki-derived-certificate-limit",
            "The user already holds as many unexpired certificates obtained with a certificate (/my/device, EST re-enrollment) as allowed (10 by default); no certificate was issued.",
            "Revoke the certificates no longer in use (`certgate pki list`, `certgate pki revoke --serial SERIAL`), or ask your administrator to raise `max_derived_certificates_per_user`.",
        ),
        ReasonCode::new(
            "pki-parent-malformed",
            "The certificate presented to obtain a new one could not be read.",
            "Sign in again with a valid certificate; if it persists, ask your administrator for a new certificate.",
        ),
        ReasonCode::new(
            "pki-parent-not-certgate",
            "The certificate signed in with was issued by another CA, and only certificates certgate issued may obtain new ones here: another CA could revoke it without certgate knowing.",
            "Use a certificate certgate issued, or ask your administrator for one. Administrators can let trusted CAs' certificates obtain device certificates on /my/device with `derive_from_trusted_cas = true`.",
        ),
        ReasonCode::new(
            "pki-parent-ca-not-trusted",
            "The CA that issued the certificate signed in with is not itself a trusted CA on record, so certgate could not follow its revocations; no certificate was issued.",
            "Ask your administrator to add that CA (`certgate ca add FILE`).",
        ),
        ReasonCode::new(
            "pki-parent-ca-without-crl",
            "The trusted CA that issued the certificate signed in with has no CRL URL, so certgate could not learn when it revokes that certificate; no certificate was issued.",
            "Ask your administrator to set the CA's CRL URL (`certgate ca set ID --crl-url URL`).",
        ),
        ReasonCode::new(
            "pki-unknown-reason",
            "The revocation reason is not one of the reasons RFC 5280 defines.",
            "Use one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise (`certgate pki revoke --reason`).",
        ),
        ReasonCode::new(
            "pki-corrupt",
            "A stored CA record or a CRL certgate published is damaged: it does not parse, or holds an impossible CRL number.",
            "Administrators: restore the database from a backup; the message names the damaged record.",
        ),
    ];

    /// The stable reason code: its own (listed in [`Self::CODES`]), or certgate-ca's or the
    /// store's.
    pub fn code(&self) -> &'static str {
        match self {
            PkiError::NotInitialised => "pki-not-initialised",
            PkiError::AlreadyInitialised { .. } => "pki-already-initialised",
            PkiError::PassphraseRequired { .. } => "pki-passphrase-required",
            PkiError::UnknownSerial { .. } => "pki-unknown-serial",
            PkiError::AlreadyRevoked { .. } => "pki-already-revoked",
            PkiError::ParentRevoked { .. } => "pki-parent-revoked",
            PkiError::DerivedLimit { .. } => "pki-derived-certificate-limit",
            PkiError::ParentMalformed(_) => "pki-parent-malformed",
            PkiError::ParentNotIssuedHere { .. } => "pki-parent-not-certgate",
            PkiError::ParentCaNotTrusted { .. } => "pki-parent-ca-not-trusted",
            PkiError::ParentCaWithoutCrl { .. } => "pki-parent-ca-without-crl",
            PkiError::UnknownReason(_) => "pki-unknown-reason",
            PkiError::Corrupt(_) => "pki-corrupt",
            PkiError::Ca(error) => error.code(),
            PkiError::Store(error) => error.code(),
        }
    }
}
