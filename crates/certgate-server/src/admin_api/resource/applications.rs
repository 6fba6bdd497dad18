//! The OpenID Connect clients as the admin API shows them: a registered client, the body that
//! registers one, and the answer that carries its secret once.

use certgate_core::clock::rfc3339;
use serde::{Deserialize, Serialize};

/// A registered OpenID Connect client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// The `client_id`.
    pub app_id: String,
    /// The name the sign-in and error pages show for the client.
    pub display_name: String,
    /// `confidential` (has a secret) or `public` (PKCE S256 required).
    pub client_type: String,
    /// Where authorization answers may go, compared as exact strings.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to.
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether the "continue as `<user>`" page is shown: `show` or `skip`.
    pub consent_prompt: String,
    /// The scopes the client may ask for.
    pub allowed_scopes: Vec<String>,
    /// How long an ID token is valid.
    pub id_token_lifetime_seconds: u64,
    /// How long an access token is valid.
    pub access_token_lifetime_seconds: u64,
    /// Counted from the sign-in; rotation does not extend it.
    pub refresh_token_lifetime_seconds: u64,
    /// Every sign-in asks for the user's domain password after the certificate (refused on a
    /// node without a directory source); the tokens then carry `pwd` in `amr`.
    pub require_domain_password: bool,
    /// When the client was registered.
    pub created_date_time: String,
}

impl From<&certgate_oidc::Client> for Application {
    fn from(client: &certgate_oidc::Client) -> Self {
        Application {
            app_id: client.client_id.to_string(),
            display_name: client.display_name.clone(),
            client_type: match client.kind() {
                certgate_oidc::ClientKind::Confidential => "confidential",
                certgate_oidc::ClientKind::Public => "public",
            }
            .to_owned(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            consent_prompt: match client.consent {
                certgate_oidc::ConsentPrompt::Show => "show",
                certgate_oidc::ConsentPrompt::Skip => "skip",
            }
            .to_owned(),
            allowed_scopes: client.allowed_scopes.iter().map(str::to_owned).collect(),
            id_token_lifetime_seconds: client.lifetimes.id_token.as_secs(),
            access_token_lifetime_seconds: client.lifetimes.access_token.as_secs(),
            refresh_token_lifetime_seconds: client.lifetimes.refresh_token.as_secs(),
            require_domain_password: client.require_domain_password,
            created_date_time: rfc3339(client.created_at),
        }
    }
}

/// `POST /applications`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApplication {
    /// Default: a random UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// The name the sign-in and error pages show for the client.
    pub display_name: String,
    /// Default `confidential`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    /// https, or http on a loopback host; private-use schemes for public clients.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to; default none.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default `show`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_prompt: Option<String>,
    /// Default `openid profile email offline_access`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_scopes: Option<Vec<String>>,
    /// Default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_lifetime_seconds: Option<u64>,
    /// Default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime_seconds: Option<u64>,
    /// Default 604800 (7 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifetime_seconds: Option<u64>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_domain_password: Option<bool>,
}

/// The answer to `POST /applications`: the client secret of a confidential client, shown
/// this once and never again (certgate keeps only its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApplication {
    /// The client as registered.
    #[serde(flatten)]
    pub application: Application,
    /// The secret of a confidential client; `None` for a public client.
    pub client_secret: Option<String>,
}
