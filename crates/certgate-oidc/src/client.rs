//! Registered clients (relying parties).
//!
//! Redirect URIs are compared as exact strings (RFC 6749 §3.1.2.3, "simple string
//! comparison"; OAuth 2.0 Security BCP, RFC 9700 §4.1.3): no wildcards, no prefix matching, no
//! normalisation. A native app on a loopback address registers the exact port it listens on.

use std::fmt;
use std::time::Duration;

use certgate_pki::{ReasonCode, UnixTime};
use serde::{Deserialize, Serialize};

use crate::scope::{ScopeSet, OPENID};
use crate::secret::{RandomUnavailable, Secret, SecretHash};

/// A client's `client_id`: 1 to 128 of `A-Z a-z 0-9 - . _ ~ :` (a subset of RFC 6749
/// Appendix A.1's VSCHAR that needs no escaping in URLs, logs or the CLI; a GUID fits).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    /// Checks the character set and length above.
    pub fn parse(text: &str) -> Result<ClientId, ClientError> {
        let valid = !text.is_empty()
            && text.len() <= 128
            && text.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':')
            });
        if valid {
            Ok(ClientId(text.to_owned()))
        } else {
            Err(ClientError::ClientIdInvalid {
                client_id: text.chars().take(140).collect(),
            })
        }
    }

    /// The client ID as registered and sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = ClientError;
    fn try_from(text: String) -> Result<ClientId, ClientError> {
        ClientId::parse(&text)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> String {
        id.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a client is asked for at registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// Can keep a secret (a web server): authenticates with `client_secret_basic` or
    /// `client_secret_post`; PKCE is accepted, not required.
    Confidential,
    /// Cannot keep a secret (a native or single-page app): no client authentication, PKCE
    /// with S256 required (RFC 9700 §2.1.1).
    Public,
}

/// How a registered client authenticates at the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientType {
    /// Authenticates with its secret (`client_secret_basic` or `client_secret_post`).
    Confidential {
        /// SHA-256 of the secret; the secret itself is shown once at registration and never stored.
        secret_hash: SecretHash,
    },
    /// No client authentication; PKCE (S256) takes its place.
    Public,
}

impl ClientType {
    /// Confidential or public, without the secret hash.
    pub fn kind(&self) -> ClientKind {
        match self {
            ClientType::Confidential { .. } => ClientKind::Confidential,
            ClientType::Public => ClientKind::Public,
        }
    }
}

/// Whether the "continue as <user>" page is shown before a code is issued. Switched off for
/// first-party apps where the page only adds a click; `prompt=consent` shows it regardless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentPrompt {
    /// Show the confirmation page before issuing a code.
    Show,
    /// Issue the code right after the sign-in (unless `prompt=consent`).
    Skip,
}

/// Token lifetimes of one client. ID and access tokens are capped by the provider's
/// `max_token_lifetime` (which also decides how long a retired signing key stays published).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// Lifetime of the ID tokens issued to this client.
    pub id_token: Duration,
    /// Lifetime of the access tokens issued to this client.
    pub access_token: Duration,
    /// How long a grant can be refreshed, counted from the sign-in (an absolute limit: a
    /// rotated refresh token does not extend it).
    pub refresh_token: Duration,
}

/// The longest refresh lifetime a client may have.
pub const MAX_REFRESH_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

impl Default for TokenLifetimes {
    fn default() -> TokenLifetimes {
        TokenLifetimes {
            id_token: Duration::from_secs(3600),
            access_token: Duration::from_secs(3600),
            refresh_token: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// A registration request (CLI or admin API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewClient {
    /// The client ID to register; must not be taken.
    pub client_id: ClientId,
    /// The application's name on the sign-in and confirmation pages; 1 to 256 printable characters.
    pub display_name: String,
    /// Confidential (a secret is created) or public (PKCE required).
    pub kind: ClientKind,
    /// The exact redirect URIs the client may use; at least one (see [`check_redirect_uri`]).
    pub redirect_uris: Vec<String>,
    /// The exact URIs the end-session endpoint may redirect to; may be empty.
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether the confirmation page is shown.
    pub consent: ConsentPrompt,
    /// Must contain `openid`; add `offline_access` for refresh tokens.
    pub allowed_scopes: ScopeSet,
    /// ID, access and refresh token lifetimes.
    pub lifetimes: TokenLifetimes,
    /// Every sign-in asks for the user's domain password after the certificate.
    pub require_domain_password: bool,
}

/// A registered client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// Unique among clients; what the client sends as `client_id`.
    pub client_id: ClientId,
    /// The application's name on the sign-in and confirmation pages.
    pub display_name: String,
    /// How it authenticates at the token endpoint.
    pub client_type: ClientType,
    /// The registered redirect URIs, compared exactly (RFC 6749 §3.1.2.3).
    pub redirect_uris: Vec<String>,
    /// The registered post-logout redirect URIs, compared exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether the confirmation page is shown.
    pub consent: ConsentPrompt,
    /// The scopes the client may request; always includes `openid`.
    pub allowed_scopes: ScopeSet,
    /// ID, access and refresh token lifetimes.
    pub lifetimes: TokenLifetimes,
    /// Every sign-in to this client asks for the user's domain password after the certificate
    /// (checked by a bind as the user against the directory source), whatever the request
    /// says; the tokens then carry `pwd` in `amr`. Without a directory source on the node that
    /// takes the sign-in, the sign-in is refused (`domain-password-not-configured`).
    pub require_domain_password: bool,
    /// When the client was registered.
    pub created_at: UnixTime,
}

impl Client {
    /// Confidential or public.
    pub fn kind(&self) -> ClientKind {
        self.client_type.kind()
    }

    /// Exact string comparison, RFC 6749 §3.1.2.3.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Exact string comparison, as for redirect URIs (OpenID Connect RP-Initiated Logout 1.0 §3).
    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Whether `presented` is this confidential client's secret (constant-time comparison
    /// of SHA-256 hashes). Always false for a public client.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.client_type {
            ClientType::Confidential { secret_hash } => {
                secret_hash.matches(&SecretHash::of(presented))
            }
            ClientType::Public => false,
        }
    }
}

/// A client just registered, with its secret: shown once, never stored.
#[derive(Debug)]
pub struct RegisteredClient {
    /// The client as stored.
    pub client: Client,
    /// The confidential client's secret, to show to the administrator now; None for a public
    /// client.
    pub secret: Option<Secret>,
}

/// Checks a registration and creates the secret of a confidential client.
pub fn register(
    new: NewClient,
    max_token_lifetime: Duration,
    now: UnixTime,
) -> Result<RegisteredClient, ClientError> {
    let display_name = new.display_name.trim();
    if display_name.is_empty()
        || display_name.len() > 256
        || display_name.chars().any(char::is_control)
    {
        return Err(ClientError::DisplayNameInvalid);
    }
    if new.redirect_uris.is_empty() {
        return Err(ClientError::RedirectUriMissing);
    }
    for uri in &new.redirect_uris {
        check_redirect_uri(uri, new.kind).map_err(|reason| ClientError::RedirectUriInvalid {
            uri: uri.clone(),
            reason,
        })?;
    }
    for uri in &new.post_logout_redirect_uris {
        check_redirect_uri(uri, new.kind).map_err(|reason| {
            ClientError::PostLogoutRedirectUriInvalid {
                uri: uri.clone(),
                reason,
            }
        })?;
    }
    if !new.allowed_scopes.contains(OPENID) {
        return Err(ClientError::OpenIdScopeMissing);
    }
    let lifetimes = new.lifetimes;
    for (which, lifetime, limit) in [
        ("id_token", lifetimes.id_token, max_token_lifetime),
        ("access_token", lifetimes.access_token, max_token_lifetime),
        (
            "refresh_token",
            lifetimes.refresh_token,
            MAX_REFRESH_LIFETIME,
        ),
    ] {
        if lifetime.as_secs() == 0 || lifetime > limit {
            return Err(ClientError::LifetimeInvalid {
                which,
                seconds: lifetime.as_secs(),
                limit: limit.as_secs(),
            });
        }
    }
    let (client_type, secret) = match new.kind {
        ClientKind::Confidential => {
            let secret = Secret::generate()?;
            (
                ClientType::Confidential {
                    secret_hash: secret.hash(),
                },
                Some(secret),
            )
        }
        ClientKind::Public => (ClientType::Public, None),
    };
    let dedup = |uris: Vec<String>| {
        let mut seen = Vec::with_capacity(uris.len());
        for uri in uris {
            if !seen.contains(&uri) {
                seen.push(uri);
            }
        }
        seen
    };
    Ok(RegisteredClient {
        client: Client {
            client_id: new.client_id,
            display_name: display_name.to_owned(),
            client_type,
            redirect_uris: dedup(new.redirect_uris),
            post_logout_redirect_uris: dedup(new.post_logout_redirect_uris),
            consent: new.consent,
            allowed_scopes: new.allowed_scopes,
            lifetimes,
            require_domain_password: new.require_domain_password,
            created_at: now,
        },
        secret,
    })
}

/// What a registered redirect URI may look like:
/// - absolute, no fragment (RFC 6749 §3.1.2), no userinfo, no wildcard, printable ASCII;
/// - `https` with a host; or `http` on a loopback host only (RFC 8252 §7.3);
/// - a private-use scheme with a dot in it (reverse domain name, RFC 8252 §7.1), for public
///   clients only.
pub fn check_redirect_uri(uri: &str, kind: ClientKind) -> Result<(), &'static str> {
    if uri.len() > 2000 {
        return Err("longer than 2000 characters");
    }
    if !uri.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("contains spaces, control or non-ASCII characters");
    }
    if uri.contains('#') {
        return Err("has a fragment (RFC 6749 §3.1.2)");
    }
    if uri.contains('*') {
        return Err("contains a wildcard; redirect URIs are matched exactly");
    }
    let (scheme, rest) = uri.split_once(':').ok_or("is not an absolute URI")?;
    let scheme_valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_valid {
        return Err("is not an absolute URI");
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" | "http" => {
            let authority_and_path = rest
                .strip_prefix("//")
                .ok_or("has no authority (https://host/...)")?;
            let authority = authority_and_path
                .split(['/', '?'])
                .next()
                .unwrap_or_default();
            if authority.contains('@') {
                return Err("contains user information");
            }
            let host = host_of(authority);
            if host.is_empty() {
                return Err("has no host");
            }
            if scheme.eq_ignore_ascii_case("http") && !is_loopback(host) {
                return Err("uses http on a host other than a loopback address");
            }
            Ok(())
        }
        _ if kind == ClientKind::Public && scheme.contains('.') => Ok(()),
        _ => Err("uses a scheme other than https (private-use schemes need a public client and a reverse domain name)"),
    }
}

fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host == "::1" || host.starts_with("127.")
}

/// A refused registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The client ID does not have the allowed form.
    #[error("client_id \"{client_id}\" is invalid: use 1 to 128 letters, digits and - . _ ~ :")]
    ClientIdInvalid {
        /// The refused client ID (first 140 characters).
        client_id: String,
    },
    /// The display name is empty, longer than 256 characters or has control characters.
    #[error("the display name must be 1 to 256 printable characters")]
    DisplayNameInvalid,
    /// No redirect URI was given.
    #[error("a client needs at least one redirect URI")]
    RedirectUriMissing,
    /// A redirect URI fails [`check_redirect_uri`].
    #[error("redirect URI \"{uri}\" {reason}")]
    RedirectUriInvalid {
        /// The refused URI.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A post-logout redirect URI fails [`check_redirect_uri`].
    #[error("post-logout redirect URI \"{uri}\" {reason}")]
    PostLogoutRedirectUriInvalid {
        /// The refused URI.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The allowed scopes lack `openid`.
    #[error("the allowed scopes must include openid")]
    OpenIdScopeMissing,
    /// A token lifetime is zero or above its limit.
    #[error("the {which} lifetime of {seconds} s is outside 1..={limit} s")]
    LifetimeInvalid {
        /// Which lifetime (`id_token`, `access_token` or `refresh_token`).
        which: &'static str,
        /// The refused lifetime, in seconds.
        seconds: u64,
        /// The longest lifetime allowed, in seconds.
        limit: u64,
    },
    /// No random bytes for the client secret.
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
}

impl ClientError {
    /// Every code [`ClientError::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "client-id-invalid",
            "The client ID (appId) is not 1 to 128 of the characters A-Z a-z 0-9 - . _ ~ : (a subset of RFC 6749 Appendix A.1's VSCHAR that needs no escaping in URLs, logs or the command line).",
            "Choose a client ID of 1 to 128 letters, digits and - . _ ~ : (a GUID fits) for `certgate client add ID`, or leave appId out of `POST /applications` to get a random one.",
        ),
        ReasonCode::new(
            "client-display-name-invalid",
            "The client's display name is empty, longer than 256 characters or contains control characters.",
            "Give the client a display name of 1 to 256 printable characters (`certgate client add ID --name NAME`, or displayName in `POST /applications`).",
        ),
        ReasonCode::new(
            "client-redirect-uri-missing",
            "A client must be registered with at least one redirect URI: certgate sends authorization responses only to registered URIs (RFC 6749 §3.1.2.2).",
            "Register the client with the redirect URI the application uses (`certgate client add ID --redirect-uri URL`, repeat for several; redirectUris in `POST /applications`).",
        ),
        ReasonCode::new(
            "client-redirect-uri-invalid",
            "A redirect URI cannot be registered: it must be absolute without fragment (RFC 6749 §3.1.2), user information or wildcard, at most 2000 printable ASCII characters, and use https (http only on a loopback address, RFC 8252 §7.3) or, for a public client, a private-use scheme with a dot in it (RFC 8252 §7.1).",
            "Correct the URI as the message says and register it exactly as the application sends it (`certgate client add ID --redirect-uri URL`); URIs are compared as exact strings, so list every one.",
        ),
        ReasonCode::new(
            "client-post-logout-redirect-uri-invalid",
            "A post-logout redirect URI cannot be registered; the same rules as for redirect URIs apply (absolute, no fragment, user information or wildcard, https or http on a loopback address, a private-use scheme for public clients only).",
            "Correct the URI as the message says and register it with `certgate client add ID --post-logout-redirect-uri URL` (postLogoutRedirectUris in `POST /applications`).",
        ),
        ReasonCode::new(
            "client-openid-scope-missing",
            "The scopes a client may ask for do not include openid; certgate is an OpenID Connect provider and answers only OpenID Connect requests, which carry the openid scope (OpenID Connect Core §3.1.2.1).",
            "Include openid in the client's scopes (`certgate client add ID --scopes 'openid profile email offline_access'`, or allowedScopes in `POST /applications`).",
        ),
        ReasonCode::new(
            "client-lifetime-invalid",
            "A token lifetime of the client is zero or above its limit: ID and access tokens may live at most the provider's maximum token lifetime (one hour), refresh tokens at most 365 days.",
            "Choose lifetimes within the limits (idTokenLifetimeSeconds and accessTokenLifetimeSeconds 1 to 3600, refreshTokenLifetimeSeconds 1 to 31536000 in `POST /applications`), or leave them out for the defaults.",
        ),
        RandomUnavailable::REASON,
    ];

    /// The stable reason code (see [`ClientError::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::ClientIdInvalid { .. } => "client-id-invalid",
            ClientError::DisplayNameInvalid => "client-display-name-invalid",
            ClientError::RedirectUriMissing => "client-redirect-uri-missing",
            ClientError::RedirectUriInvalid { .. } => "client-redirect-uri-invalid",
            ClientError::PostLogoutRedirectUriInvalid { .. } => {
                "client-post-logout-redirect-uri-invalid"
            }
            ClientError::OpenIdScopeMissing => "client-openid-scope-missing",
            ClientError::LifetimeInvalid { .. } => "client-lifetime-invalid",
            ClientError::Random(_) => "random-unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn new_client(kind: ClientKind, redirect_uris: &[&str]) -> NewClient {
        NewClient {
            client_id: ClientId::parse("mail-app").expect("id"),
            display_name: "Mail".into(),
            kind,
            redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
            post_logout_redirect_uris: vec![],
            consent: ConsentPrompt::Show,
            allowed_scopes: ScopeSet::of(&[OPENID]),
            lifetimes: TokenLifetimes::default(),
            require_domain_password: false,
        }
    }

    #[test]
    fn confidential_clients_get_a_secret_stored_only_as_its_hash() {
        let registered = register(
            new_client(ClientKind::Confidential, &["https://rp.test/cb"]),
            HOUR,
            UnixTime(7),
        )
        .expect("register");
        let secret = registered.secret.expect("a secret");
        assert!(registered.client.secret_matches(secret.expose()));
        assert!(!registered.client.secret_matches("guess"));
        assert_eq!(registered.client.created_at, UnixTime(7));
        let public = register(
            new_client(ClientKind::Public, &["https://rp.test/cb"]),
            HOUR,
            UnixTime(7),
        )
        .expect("register");
        assert!(public.secret.is_none());
        assert!(!public.client.secret_matches(""));
    }

    #[test]
    fn redirect_uris_are_matched_exactly() {
        let client = register(
            new_client(ClientKind::Confidential, &["https://rp.test/cb"]),
            HOUR,
            UnixTime(0),
        )
        .expect("register")
        .client;
        assert!(client.has_redirect_uri("https://rp.test/cb"));
        for other in [
            "https://rp.test/cb/",
            "https://rp.test/cb?x=1",
            "https://rp.test/c",
            "https://RP.test/cb",
            "https://rp.test/cb/../cb",
            "http://rp.test/cb",
        ] {
            assert!(!client.has_redirect_uri(other), "{other}");
        }
    }

    #[test]
    fn redirect_uri_rules_by_table() {
        use ClientKind::{Confidential, Public};
        let cases: &[(&str, ClientKind, bool)] = &[
            ("https://rp.test/cb", Confidential, true),
            ("https://rp.test:8443/cb?tenant=1", Confidential, true),
            ("http://127.0.0.1:8400/cb", Public, true),
            ("http://[::1]:8400/cb", Public, true),
            ("http://localhost/cb", Confidential, true),
            ("com.example.mail:/oauth2redirect", Public, true),
            ("com.example.mail:/oauth2redirect", Confidential, false),
            ("http://rp.test/cb", Confidential, false),
            ("https://*.rp.test/cb", Confidential, false),
            ("https://rp.test/cb#frag", Confidential, false),
            ("https://user@rp.test/cb", Confidential, false),
            ("https:///cb", Confidential, false),
            ("https:rp.test/cb", Confidential, false),
            ("/relative/cb", Confidential, false),
            ("myapp:/cb", Public, false),
            ("javascript:alert(1)", Public, false),
            ("https://rp.test/c b", Confidential, false),
        ];
        for (uri, kind, valid) in cases {
            assert_eq!(
                check_redirect_uri(uri, *kind).is_ok(),
                *valid,
                "{uri} for {kind:?}"
            );
        }
    }

    #[test]
    fn registrations_are_checked() {
        let refuse = |edit: &dyn Fn(&mut NewClient), code: &str| {
            let mut new = new_client(ClientKind::Public, &["https://rp.test/cb"]);
            edit(&mut new);
            let error = register(new, HOUR, UnixTime(0)).expect_err(code);
            assert_eq!(error.code(), code, "{error}");
        };
        refuse(&|n| n.redirect_uris.clear(), "client-redirect-uri-missing");
        refuse(
            &|n| n.redirect_uris.push("https://*.rp.test/".into()),
            "client-redirect-uri-invalid",
        );
        refuse(
            &|n| n.post_logout_redirect_uris.push("http://rp.test/".into()),
            "client-post-logout-redirect-uri-invalid",
        );
        refuse(
            &|n| n.allowed_scopes = ScopeSet::of(&["profile"]),
            "client-openid-scope-missing",
        );
        refuse(
            &|n| n.lifetimes.access_token = Duration::from_secs(7200),
            "client-lifetime-invalid",
        );
        refuse(
            &|n| n.lifetimes.id_token = Duration::ZERO,
            "client-lifetime-invalid",
        );
        refuse(
            &|n| n.display_name = " ".into(),
            "client-display-name-invalid",
        );
        for id in ["", "has space", "slash/", &"x".repeat(129)] {
            assert_eq!(
                ClientId::parse(id).expect_err(id).code(),
                "client-id-invalid"
            );
        }
        assert!(ClientId::parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301").is_ok());
    }
}
