//! Whether a grant may still be used: the instant-revocation rules (issue 4 item 7, the seeds'
//! Entra behaviour). Checked when a code is redeemed, on every refresh and at userinfo.
//!
//! - the user is disabled → `user-disabled`;
//! - the user signed in before their StsRefreshTokensValidFrom → `refresh-token-revoked-by-sts`
//!   (a refresh token carries the time of the sign-in that started its family, so rotation
//!   never launders an old sign-in into a new token);
//! - the certificate of the sign-in is in the current CRL → `cert-revoked`; when the CRL cannot
//!   say (stale, missing) → `crl-unavailable` (fail closed, as the sign-in itself does).
//!
//! The facts come through [`RefreshPolicy`], which the server implements on its directory and
//! its current CRL snapshot.

use std::future::Future;

use certgate_pki::{ReasonCode, UnixTime};

use crate::sign_in::{Authentication, CertificateRef, ObjectId};

/// Whether the user's account may sign in, as the directory says now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountState {
    /// The account may sign in and use its grants.
    Enabled,
    /// The account is disabled: its grants yield nothing more (`user-disabled`).
    Disabled,
}

/// What the directory says about a user now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserStatus {
    /// Enabled or disabled.
    pub account: AccountState,
    /// Sign-ins before this instant no longer yield tokens (Entra's StsRefreshTokensValidFrom).
    pub sts_refresh_tokens_valid_from: Option<UnixTime>,
}

/// What the current revocation data says about a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateStatus {
    /// Not revoked, according to revocation data that is current.
    Good,
    /// In the current CRL.
    Revoked {
        /// The CRL's revocation reason, for the refusal message.
        reason: String,
    },
    /// The revocation data cannot answer (stale or missing CRL).
    Unknown {
        /// Why not, for the refusal message and the log.
        detail: String,
    },
}

/// The directory or revocation data could not be read at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the user or certificate status is unavailable: {detail}")]
pub struct PolicyUnavailable {
    /// What could not be read, for the log.
    pub detail: String,
}

/// The server's view of users and certificates.
pub trait RefreshPolicy: Send + Sync {
    /// `None` when the user no longer exists.
    fn user_status(
        &self,
        user: &ObjectId,
    ) -> impl Future<Output = Result<Option<UserStatus>, PolicyUnavailable>> + Send;

    /// The certificate's status in the current revocation data.
    fn certificate_status(
        &self,
        certificate: &CertificateRef,
    ) -> impl Future<Output = Result<CertificateStatus, PolicyUnavailable>> + Send;
}

/// Why a grant may no longer be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantRefusal {
    /// The user was deleted from the directory.
    #[error("the user no longer exists")]
    UserNotFound,
    /// The user's account is disabled.
    #[error("the user account is disabled")]
    UserDisabled,
    /// The user's sessions were revoked after this sign-in (StsRefreshTokensValidFrom).
    #[error("the sign-in at {auth_time} is before the user's StsRefreshTokensValidFrom ({valid_from}): sessions were revoked")]
    RevokedBySts {
        /// When the grant's sign-in happened, in seconds since the Unix epoch.
        auth_time: i64,
        /// The user's StsRefreshTokensValidFrom, in seconds since the Unix epoch.
        valid_from: i64,
    },
    /// The sign-in certificate is in the current CRL.
    #[error("the sign-in certificate (serial {serial}) is revoked: {reason}")]
    CertificateRevoked {
        /// The certificate's serial number (lowercase hex).
        serial: String,
        /// The CRL's revocation reason.
        reason: String,
    },
    /// The revocation data cannot tell whether the certificate is revoked: refused, failing closed.
    #[error(
        "the revocation status of the sign-in certificate (serial {serial}) is unknown: {detail}"
    )]
    CertificateStatusUnknown {
        /// The certificate's serial number (lowercase hex).
        serial: String,
        /// Why the revocation data cannot answer.
        detail: String,
    },
}

impl GrantRefusal {
    /// The codes only [`GrantRefusal::code`] answers with. The others mean the same as where
    /// certgate first answers with them, and are listed there only (a code has one entry):
    /// `user-not-found` by `certgate_core::directory::DirectoryError`, `user-disabled` by
    /// `certgate_core::binding::BindingError`, `cert-revoked` and `crl-unavailable` by
    /// `certgate_pki::Reason`.
    pub const CODES: &'static [ReasonCode] = &[ReasonCode::new(
        "refresh-token-revoked-by-sts",
        "The sign-in this grant came from happened before the user's StsRefreshTokensValidFrom: the user's sessions were revoked (`certgate user revoke-sessions`), so the grant's refresh tokens no longer yield tokens and userinfo refuses its access tokens.",
        "Go back to the application and sign in again with your certificate.",
    )];

    /// The stable reason code (see [`GrantRefusal::CODES`] for where each is listed).
    pub fn code(&self) -> &'static str {
        match self {
            GrantRefusal::UserNotFound => "user-not-found",
            GrantRefusal::UserDisabled => "user-disabled",
            GrantRefusal::RevokedBySts { .. } => "refresh-token-revoked-by-sts",
            GrantRefusal::CertificateRevoked { .. } => "cert-revoked",
            GrantRefusal::CertificateStatusUnknown { .. } => "crl-unavailable",
        }
    }
}

/// The rules, on facts already fetched.
pub fn judge(
    authentication: &Authentication,
    user: Option<&UserStatus>,
    certificate: &CertificateStatus,
) -> Result<(), GrantRefusal> {
    let user = user.ok_or(GrantRefusal::UserNotFound)?;
    if user.account == AccountState::Disabled {
        return Err(GrantRefusal::UserDisabled);
    }
    // A sign-in in the same second as StsRefreshTokensValidFrom counts as before it: both are
    // kept in whole seconds, and a revocation must not miss the session of a sign-in made just
    // before it (fail closed; someone who signs in again within that second signs in once more).
    if let Some(valid_from) = user.sts_refresh_tokens_valid_from {
        if authentication.auth_time <= valid_from {
            return Err(GrantRefusal::RevokedBySts {
                auth_time: authentication.auth_time.0,
                valid_from: valid_from.0,
            });
        }
    }
    let serial = || authentication.certificate.serial.clone();
    match certificate {
        CertificateStatus::Good => Ok(()),
        CertificateStatus::Revoked { reason } => Err(GrantRefusal::CertificateRevoked {
            serial: serial(),
            reason: reason.clone(),
        }),
        CertificateStatus::Unknown { detail } => Err(GrantRefusal::CertificateStatusUnknown {
            serial: serial(),
            detail: detail.clone(),
        }),
    }
}

/// Fetches the facts through `policy` and applies [`judge`]. The certificate is only looked up
/// when the user passes.
pub(crate) async fn check<P: RefreshPolicy>(
    policy: &P,
    authentication: &Authentication,
) -> Result<Result<(), GrantRefusal>, PolicyUnavailable> {
    let user = policy.user_status(&authentication.user.object_id).await?;
    if let Err(refusal) = judge(authentication, user.as_ref(), &CertificateStatus::Good) {
        return Ok(Err(refusal));
    }
    let certificate = policy
        .certificate_status(&authentication.certificate)
        .await?;
    Ok(judge(authentication, user.as_ref(), &certificate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign_in::{Assurance, CertificateKind, UserClaims};

    fn signed_in_at(at: i64) -> Authentication {
        Authentication {
            user: UserClaims {
                object_id: ObjectId("u".into()),
                upn: "u@example.test".into(),
                display_name: None,
                email: None,
            },
            auth_time: UnixTime(at),
            certificate: CertificateRef {
                issuer: "CN=Issuing CA".into(),
                serial: "1f".into(),
            },
            certificate_kind: CertificateKind::Software,
            second_factor: None,
            domain_password: false,
            assurance: Assurance::SingleFactor,
        }
    }

    #[test]
    fn rules_by_table() {
        let enabled = |valid_from: Option<i64>| UserStatus {
            account: AccountState::Enabled,
            sts_refresh_tokens_valid_from: valid_from.map(UnixTime),
        };
        let disabled = UserStatus {
            account: AccountState::Disabled,
            sts_refresh_tokens_valid_from: None,
        };
        let good = CertificateStatus::Good;
        let revoked = CertificateStatus::Revoked {
            reason: "keyCompromise".into(),
        };
        let unknown = CertificateStatus::Unknown {
            detail: "crl-stale".into(),
        };
        let cases: &[(i64, Option<UserStatus>, &CertificateStatus, Option<&str>)] = &[
            (100, Some(enabled(None)), &good, None),
            // The same second counts as before: the revocation wins.
            (
                100,
                Some(enabled(Some(100))),
                &good,
                Some("refresh-token-revoked-by-sts"),
            ),
            (100, Some(enabled(Some(99))), &good, None),
            (100, Some(enabled(Some(50))), &good, None),
            (
                100,
                Some(enabled(Some(101))),
                &good,
                Some("refresh-token-revoked-by-sts"),
            ),
            (100, Some(disabled), &good, Some("user-disabled")),
            (100, None, &good, Some("user-not-found")),
            (100, Some(enabled(None)), &revoked, Some("cert-revoked")),
            (100, Some(enabled(None)), &unknown, Some("crl-unavailable")),
            // The user rules come first.
            (100, Some(disabled), &revoked, Some("user-disabled")),
        ];
        for (auth_time, user, certificate, expected) in cases {
            let outcome = judge(&signed_in_at(*auth_time), user.as_ref(), certificate);
            assert_eq!(
                outcome.as_ref().err().map(GrantRefusal::code),
                *expected,
                "{auth_time} {user:?} {certificate:?}: {outcome:?}"
            );
        }
    }
}
