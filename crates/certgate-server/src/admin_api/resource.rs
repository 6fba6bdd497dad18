//! The admin API's JSON resources, with Microsoft Graph's names where Graph has the thing
//! (`certificateAuthorities[]`, `user`, `certificateUserBindings`, `x509CertificateRule`,
//! `signIn`, `directoryAudit`). One definition serves the server (which writes them), the
//! CLI's `--json` output and the CLI's remote mode (which reads them back and prints them as
//! the local commands do), so the three cannot drift apart.
//!
//! Times are RFC 3339 text in UTC. docs/openapi.json describes every resource; the API tests
//! check responses against it.

use serde::{Deserialize, Deserializer, Serialize};

mod applications;
mod federation;
mod logs;
mod own_ca;
mod policy;
mod trust;
mod users;

pub use applications::{Application, CreatedApplication, NewApplication};
pub use federation::{
    NewRelyingParty, RelyingParty, RelyingPartyClaim, RelyingPartyPatch, TokenSigningKey,
};
pub use logs::{DirectoryAudit, SignIn};
pub use own_ca::{CertificateRevocation, IssuedCertificate, PublishedCrl, RevocationRequest};
pub use policy::{
    AuthenticationModeRule, AuthenticationModeRules, CertificateUserBinding,
    CertificateUserBindings, CertificateUserBindingsPatch, NewAuthenticationModeRule,
    NewCertificateUserBinding,
};
pub use trust::{
    CachedCrl, CertificateAuthority, CertificateAuthorityPatch, CrlRefreshReport, CrlStatus,
    NewCertificateAuthority,
};
pub use users::{
    AccessPass, AuthorizationInfo, NewAccessPass, NewDeviceProfile, NewUser, SecondFactorReset,
    StsRefreshTokensValidFrom, User, UserPatch,
};

/// A list: Graph's `{"value": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection<T> {
    /// The items, in the order the API lists them.
    pub value: Vec<T>,
}

impl<T> Collection<T> {
    /// These items in Graph's collection shape.
    pub fn of(value: Vec<T>) -> Self {
        Collection { value }
    }
}

/// Graph's error shape: `{"error": {"code": "...", "message": "..."}}`, with certgate's stable
/// reason code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The code and the message.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable reason code, e.g. `ca-duplicate`, `user-not-found`, `admin-token-invalid`.
    pub code: String,
    /// What happened and what to do, for people.
    pub message: String,
}

/// A field of a PATCH body that can be set, cleared (`null`) or left alone (absent).
pub type Patch<T> = Option<Option<T>>;

/// Deserializes a present field (even `null`) as `Some`, so that absent stays `None`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_fields_tell_absent_from_null() {
        let patch: CertificateAuthorityPatch =
            serde_json::from_str(r#"{"certificateRevocationListUrl": null}"#).expect("patch");
        assert_eq!(patch.certificate_revocation_list_url, Some(None));
        assert_eq!(patch.delta_certificate_revocation_list_url, None);
        let text = serde_json::to_string(&patch).expect("serialize");
        assert_eq!(text, r#"{"certificateRevocationListUrl":null}"#);
    }

    #[test]
    fn unknown_fields_are_refused_rather_than_ignored() {
        let typo = serde_json::from_str::<NewUser>(
            r#"{"userPrincipalName": "a@b.example", "acountEnabled": false}"#,
        );
        assert!(typo.is_err());
    }
}
