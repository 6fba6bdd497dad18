//! [`PkiError`]: why a built-in CA operation failed, with its reason codes.

use certgate_ca::CaError;
use certgate_pki::ReasonCode;

use crate::store::StoreError;
use crate::trusted_ca::CaId;

/// Why a built-in CA operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certgate's CA is not initialised; run `certgate pki init` first")]
    NotInitialised,
    #[error("certgate's CA is already initialised (root \"{root}\"); nothing was changed")]
    AlreadyInitialised { root: String },
    #[error("no key passphrase is configured, so the CA's private keys cannot be {action}; set CERTGATE_CA_KEY_PASSPHRASE (or `ca_key_passphrase` in the config), or pass --allow-unencrypted-keys to keep them unencrypted (not recommended)")]
    PassphraseRequired { action: &'static str },
    #[error("no certificate with serial {serial} was issued by certgate; `certgate pki list` shows the serials")]
    UnknownSerial { serial: String },
    #[error("the certificate with serial {serial} was already revoked at {at} ({reason}); nothing was changed")]
    AlreadyRevoked {
        serial: String,
        at: String,
        reason: String,
    },
    #[error("the certificate with serial {serial} that authenticated this request has been revoked at certgate's CA (the CRL relying parties see may not say so yet); no certificate was issued")]
    ParentRevoked { serial: String },
    #[error("{upn} already holds {limit} unexpired certificates obtained with a certificate (devices set up with /my/device, EST re-enrollments), the most allowed; revoke those no longer in use (`certgate pki list`, `certgate pki revoke`) or ask your administrator")]
    DerivedLimit { upn: String, limit: u32 },
    #[error("the presented certificate could not be read: {0}")]
    ParentMalformed(String),
    #[error("the certificate you signed in with was issued by \"{issuer}\", not by certgate's CA, and only certgate's own certificates can obtain new ones here: another CA could revoke yours without certgate knowing. Use a certificate certgate issued, or ask your administrator for one")]
    ParentNotIssuedHere { issuer: String },
    #[error("the CA that issued the certificate you signed in with (\"{issuer}\") is not itself a trusted CA on record, so certgate could not follow its revocations; ask your administrator to add it (`certgate ca add`)")]
    ParentCaNotTrusted { issuer: String },
    #[error("the trusted CA \"{issuer}\" (CA {ca}) that issued the certificate you signed in with has no CRL URL, so certgate could not learn when it revokes your certificate; ask your administrator to set one (`certgate ca set {ca} --crl-url URL`)")]
    ParentCaWithoutCrl { ca: CaId, issuer: String },
    #[error("\"{0}\" is not a revocation reason; use one of unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise")]
    UnknownReason(String),
    #[error("a stored CA record is damaged: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Ca(#[from] CaError),
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
