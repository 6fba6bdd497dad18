//! What the OpenID Connect provider asks before it honours a code, a refresh token or an
//! access token: is the user still enabled, was the sign-in before their
//! StsRefreshTokensValidFrom, is the sign-in certificate revoked in the current CRL.

use std::sync::Arc;

use certgate_core::clock::Clock;
use certgate_core::directory::{UserId, UserStore};
use certgate_core::validation_state::{CrlStatus, SharedState};
use certgate_oidc::{
    AccountState, CertificateRef, CertificateStatus, ObjectId, PolicyUnavailable, RefreshPolicy,
    UserStatus,
};

/// The directory and the current CRL snapshot, as the provider's refresh policy.
pub struct DirectoryRefreshPolicy<S> {
    /// Where the user's account state and StsRefreshTokensValidFrom are read.
    pub directory: Arc<S>,
    /// The current validation state, whose CRLs say whether the sign-in certificate is revoked.
    pub state: Arc<SharedState>,
    /// The time the CRL status is taken at.
    pub clock: Arc<dyn Clock>,
}

impl<S: UserStore> RefreshPolicy for DirectoryRefreshPolicy<S> {
    async fn user_status(&self, user: &ObjectId) -> Result<Option<UserStatus>, PolicyUnavailable> {
        let Some(id) = UserId::parse(user.as_str()) else {
            return Ok(None);
        };
        let user = self
            .directory
            .user_by_id(&id)
            .await
            .map_err(|error| PolicyUnavailable {
                detail: error.to_string(),
            })?;
        Ok(user.map(|user| UserStatus {
            account: if user.enabled {
                AccountState::Enabled
            } else {
                AccountState::Disabled
            },
            sts_refresh_tokens_valid_from: user.sts_refresh_tokens_valid_from,
        }))
    }

    async fn certificate_status(
        &self,
        certificate: &CertificateRef,
    ) -> Result<CertificateStatus, PolicyUnavailable> {
        let Some(serial) = certgate_core::parse_hex(&certificate.serial) else {
            return Ok(CertificateStatus::Unknown {
                detail: format!("unreadable serial {}", certificate.serial),
            });
        };
        Ok(
            match self.state.load().certificate_status(
                &certificate.issuer,
                &serial,
                self.clock.now(),
            ) {
                CrlStatus::Good => CertificateStatus::Good,
                CrlStatus::Revoked { reason } => CertificateStatus::Revoked { reason },
                CrlStatus::Unknown { detail } => CertificateStatus::Unknown { detail },
            },
        )
    }
}
