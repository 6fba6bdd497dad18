//! Shared fixtures of the provider tests: an in-memory `OidcStore` with the same single-use
//! semantics as the SQL one (the SQL store has its own suite on SQLite and PostgreSQL in
//! certgate-store), a table-driven `RefreshPolicy`, and a provider with two clients.

#![allow(dead_code)] // each test binary uses a different part of the fixtures

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use certgate_core::audit::AuditEvent;
use certgate_core::store::{StoreError, StoreResult};
use certgate_oidc::*;
use certgate_pki::UnixTime;

pub(crate) const ISSUER: &str = "https://login.example.test";
pub(crate) const PASSPHRASE: &[u8] = b"oidc test passphrase";
/// 2026-01-01T00:00:00Z.
pub(crate) const T0: i64 = 1_767_225_600;
pub(crate) const WEB_REDIRECT: &str = "https://mail.example.test/signin-oidc";
pub(crate) const APP_REDIRECT: &str = "com.example.mail:/oauth2redirect";
pub(crate) const LOGOUT_REDIRECT: &str = "https://mail.example.test/signed-out";
/// RFC 7636 Appendix B.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn at(offset: i64) -> UnixTime {
    UnixTime(T0 + offset)
}

// ---- In-memory store --------------------------------------------------------------------

#[derive(Default)]
struct State {
    keys: Vec<SigningKeyRecord>,
    clients: Vec<Client>,
    codes: HashMap<SecretHash, CodeRecord>,
    grants: HashMap<String, GrantRecord>,
    refresh: HashMap<SecretHash, RefreshTokenRecord>,
    audit: Vec<AuditEvent>,
}

/// Clones share the data: two providers on one `MemoryStore` are two nodes on one database.
#[derive(Clone, Default)]
pub(crate) struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("the store mutex is never poisoned in tests")
    }

    pub(crate) fn audit(&self) -> Vec<AuditEvent> {
        self.state().audit.clone()
    }

    pub(crate) fn grants(&self) -> Vec<GrantRecord> {
        self.state().grants.values().cloned().collect()
    }
}

fn revoke(grant: &mut GrantRecord, at: UnixTime, reason: &str) -> bool {
    if grant.revoked.is_some() {
        return false;
    }
    grant.revoked = Some(GrantRevocation {
        at,
        reason: reason.to_owned(),
    });
    true
}

impl OidcStore for MemoryStore {
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        Ok(self.state().keys.clone())
    }

    async fn insert_initial_signing_keys(
        &self,
        keys: &[SigningKeyRecord],
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut state = self.state();
        if state
            .keys
            .iter()
            .any(|k| k.lifecycle.state != KeyState::Retired)
        {
            return Err(StoreError::Conflict {
                what: "signing keys".into(),
            });
        }
        state.keys.extend_from_slice(keys);
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn rotate_signing_keys(
        &self,
        rotation: &KeyRotation,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut state = self.state();
        let has = |kid: &KeyId, key_state: KeyState| {
            state
                .keys
                .iter()
                .any(|k| &k.kid == kid && k.lifecycle.state == key_state)
        };
        if !has(&rotation.retire, KeyState::Current) || !has(&rotation.promote, KeyState::Next) {
            return Err(StoreError::Conflict {
                what: "a concurrent rotation".into(),
            });
        }
        state.keys = rotation.apply_to(&state.keys);
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn insert_client(&self, client: &Client, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        if state
            .clients
            .iter()
            .any(|c| c.client_id == client.client_id)
        {
            return Err(StoreError::Conflict {
                what: format!("client {}", client.client_id),
            });
        }
        state.clients.push(client.clone());
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        Ok(self
            .state()
            .clients
            .iter()
            .find(|c| &c.client_id == id)
            .cloned())
    }

    async fn clients(&self) -> StoreResult<Vec<Client>> {
        Ok(self.state().clients.clone())
    }

    async fn delete_client(&self, id: &ClientId, audit: &AuditEvent) -> StoreResult<()> {
        let mut state = self.state();
        let before = state.clients.len();
        state.clients.retain(|c| &c.client_id != id);
        if state.clients.len() == before {
            return Err(StoreError::NotFound {
                what: format!("client {id}"),
            });
        }
        state.codes.retain(|_, c| &c.client_id != id);
        let gone: Vec<String> = state
            .grants
            .values()
            .filter(|g| &g.client_id == id)
            .map(|g| g.id.0.clone())
            .collect();
        state.grants.retain(|_, g| &g.client_id != id);
        state.refresh.retain(|_, r| !gone.contains(&r.grant_id.0));
        state.audit.push(audit.clone());
        Ok(())
    }

    async fn insert_code(&self, code: &CodeRecord) -> StoreResult<()> {
        self.state().codes.insert(code.hash, code.clone());
        Ok(())
    }

    async fn code(&self, hash: &SecretHash) -> StoreResult<Option<CodeRecord>> {
        Ok(self.state().codes.get(hash).cloned())
    }

    async fn redeem_code(
        &self,
        hash: &SecretHash,
        at: UnixTime,
        grant: &GrantRecord,
        refresh: Option<&RefreshTokenRecord>,
    ) -> StoreResult<CodeRedemption> {
        let mut state = self.state();
        let code = state.codes.get_mut(hash).ok_or(StoreError::NotFound {
            what: "code".into(),
        })?;
        if code.used_at.is_some() {
            for grant in state.grants.values_mut().filter(|g| &g.code_hash == hash) {
                revoke(grant, at, REVOKED_CODE_REUSED);
            }
            return Ok(CodeRedemption::AlreadyUsed);
        }
        code.used_at = Some(at);
        state.grants.insert(grant.id.0.clone(), grant.clone());
        if let Some(refresh) = refresh {
            state.refresh.insert(refresh.hash, refresh.clone());
        }
        Ok(CodeRedemption::Redeemed)
    }

    async fn revoke_grants_from_code(
        &self,
        hash: &SecretHash,
        at: UnixTime,
        reason: &str,
    ) -> StoreResult<u64> {
        let mut state = self.state();
        Ok(state
            .grants
            .values_mut()
            .filter(|g| &g.code_hash == hash)
            .map(|g| u64::from(revoke(g, at, reason)))
            .sum())
    }

    async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>> {
        Ok(self.state().grants.get(&id.0).cloned())
    }

    async fn refresh_token(&self, hash: &SecretHash) -> StoreResult<Option<RefreshTokenRecord>> {
        Ok(self.state().refresh.get(hash).cloned())
    }

    async fn rotate_refresh_token(
        &self,
        used: &SecretHash,
        at: UnixTime,
        replacement: &RefreshTokenRecord,
    ) -> StoreResult<RefreshRotation> {
        let mut state = self.state();
        let token = state.refresh.get_mut(used).ok_or(StoreError::NotFound {
            what: "refresh token".into(),
        })?;
        if token.used_at.is_some() {
            let grant_id = token.grant_id.0.clone();
            if let Some(grant) = state.grants.get_mut(&grant_id) {
                revoke(grant, at, REVOKED_REFRESH_TOKEN_REUSED);
            }
            return Ok(RefreshRotation::AlreadyUsed);
        }
        token.used_at = Some(at);
        state.refresh.insert(replacement.hash, replacement.clone());
        Ok(RefreshRotation::Rotated)
    }

    async fn revoke_grant(&self, id: &GrantId, at: UnixTime, reason: &str) -> StoreResult<()> {
        let mut state = self.state();
        let grant = state.grants.get_mut(&id.0).ok_or(StoreError::NotFound {
            what: format!("grant {id}"),
        })?;
        revoke(grant, at, reason);
        Ok(())
    }

    async fn delete_expired(&self, before: UnixTime) -> StoreResult<u64> {
        let mut state = self.state();
        let codes = state.codes.len();
        state.codes.retain(|_, c| c.expires_at >= before);
        let grants = state.grants.len();
        state.grants.retain(|_, g| g.expires_at >= before);
        let live: Vec<String> = state.grants.keys().cloned().collect();
        let tokens = state.refresh.len();
        state.refresh.retain(|_, r| live.contains(&r.grant_id.0));
        Ok(
            (codes - state.codes.len() + grants - state.grants.len() + tokens - state.refresh.len())
                as u64,
        )
    }
}

// ---- A refresh policy backed by tables ---------------------------------------------------

/// Users and revoked certificates as plain tables, changed by the tests as an administrator
/// would change the directory and the CRL.
#[derive(Default)]
pub(crate) struct TablePolicy {
    users: Mutex<HashMap<String, UserStatus>>,
    /// (issuer, serial) → revocation reason.
    revoked: Mutex<HashMap<(String, String), String>>,
    /// Issuers whose CRL is unavailable.
    unknown: Mutex<Vec<String>>,
}

impl TablePolicy {
    pub(crate) fn with_user(object_id: &str) -> TablePolicy {
        let policy = TablePolicy::default();
        policy.set_user(
            object_id,
            UserStatus {
                account: AccountState::Enabled,
                sts_refresh_tokens_valid_from: None,
            },
        );
        policy
    }

    pub(crate) fn set_user(&self, object_id: &str, status: UserStatus) {
        self.users
            .lock()
            .expect("unpoisoned")
            .insert(object_id.to_owned(), status);
    }

    pub(crate) fn remove_user(&self, object_id: &str) {
        self.users.lock().expect("unpoisoned").remove(object_id);
    }

    pub(crate) fn revoke(&self, certificate: &CertificateRef, reason: &str) {
        self.revoked.lock().expect("unpoisoned").insert(
            (certificate.issuer.clone(), certificate.serial.clone()),
            reason.to_owned(),
        );
    }

    pub(crate) fn crl_unavailable(&self, issuer: &str) {
        self.unknown
            .lock()
            .expect("unpoisoned")
            .push(issuer.to_owned());
    }
}

impl RefreshPolicy for TablePolicy {
    async fn user_status(&self, user: &ObjectId) -> Result<Option<UserStatus>, PolicyUnavailable> {
        Ok(self
            .users
            .lock()
            .expect("unpoisoned")
            .get(user.as_str())
            .copied())
    }

    async fn certificate_status(
        &self,
        certificate: &CertificateRef,
    ) -> Result<CertificateStatus, PolicyUnavailable> {
        if self
            .unknown
            .lock()
            .expect("unpoisoned")
            .contains(&certificate.issuer)
        {
            return Ok(CertificateStatus::Unknown {
                detail: "crl-stale".into(),
            });
        }
        Ok(
            match self
                .revoked
                .lock()
                .expect("unpoisoned")
                .get(&(certificate.issuer.clone(), certificate.serial.clone()))
            {
                Some(reason) => CertificateStatus::Revoked {
                    reason: reason.clone(),
                },
                None => CertificateStatus::Good,
            },
        )
    }
}

// ---- Provider and clients ----------------------------------------------------------------

pub(crate) type TestProvider = Provider<MemoryStore, TablePolicy>;

pub(crate) const USER: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

pub(crate) fn authentication(auth_time: UnixTime) -> Authentication {
    Authentication {
        user: UserClaims {
            object_id: ObjectId(USER.into()),
            upn: "ada@example.test".into(),
            display_name: Some("Ada Lovelace".into()),
            email: Some("ada@example.test".into()),
        },
        auth_time,
        certificate: CertificateRef {
            issuer: "CN=Example Issuing CA, O=Example".into(),
            serial: "4f1e0a9b7c".into(),
        },
        certificate_kind: CertificateKind::Software,
        second_factor: Some(SecondFactor::Totp),
        domain_password: false,
        assurance: Assurance::MultiFactor,
    }
}

pub(crate) struct Fixture {
    pub(crate) provider: TestProvider,
    /// A confidential web app with offline_access, consent page skipped.
    pub(crate) web: ClientId,
    pub(crate) web_secret: String,
    /// A public native app (PKCE required), consent page shown.
    pub(crate) app: ClientId,
}

pub(crate) async fn fixture() -> Fixture {
    let config = ProviderConfig::new(Issuer::parse(ISSUER).expect("issuer"));
    let provider = Provider::open(
        config,
        MemoryStore::default(),
        TablePolicy::with_user(USER),
        PASSPHRASE,
        at(0),
    )
    .await
    .expect("open the provider");
    let web = provider
        .register_client(
            NewClient {
                client_id: ClientId::parse("mail-web").expect("id"),
                display_name: "Mail (web)".into(),
                kind: ClientKind::Confidential,
                redirect_uris: vec![WEB_REDIRECT.into()],
                post_logout_redirect_uris: vec![LOGOUT_REDIRECT.into()],
                consent: ConsentPrompt::Skip,
                allowed_scopes: ScopeSet::of(&[OPENID, PROFILE, EMAIL, OFFLINE_ACCESS]),
                lifetimes: TokenLifetimes::default(),
                require_domain_password: false,
            },
            at(0),
            "cli:admin",
        )
        .await
        .expect("register web");
    let app = provider
        .register_client(
            NewClient {
                client_id: ClientId::parse("mail-app").expect("id"),
                display_name: "Mail (phone)".into(),
                kind: ClientKind::Public,
                redirect_uris: vec![APP_REDIRECT.into()],
                post_logout_redirect_uris: vec![],
                consent: ConsentPrompt::Show,
                allowed_scopes: ScopeSet::of(&[OPENID, OFFLINE_ACCESS]),
                lifetimes: TokenLifetimes::default(),
                require_domain_password: false,
            },
            at(0),
            "cli:admin",
        )
        .await
        .expect("register app");
    Fixture {
        web_secret: web.secret.expect("a secret").expose().to_owned(),
        web: web.client.client_id,
        app: app.client.client_id,
        provider,
    }
}

/// Decoded request parameters.
pub(crate) type Params = Vec<(String, String)>;

pub(crate) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(crate) fn basic(id: &str, secret: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// The query parameters of a redirect `Location`.
pub(crate) fn query_of(location: &str) -> HashMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii");
                out.push(u8::from_str_radix(hex, 16).expect("hex"));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// Runs the web client's code flow up to the token response.
pub(crate) async fn web_tokens(fixture: &Fixture, now: UnixTime) -> TokenResponse {
    let code = web_code(fixture, now, &[]).await;
    redeem_web_code(fixture, &code, now).await.expect("tokens")
}

/// A code for the web client (with offline_access and a nonce).
pub(crate) async fn web_code(fixture: &Fixture, now: UnixTime, extra: &[(&str, &str)]) -> String {
    let mut items = vec![
        ("response_type", "code"),
        ("client_id", "mail-web"),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", "openid profile email offline_access"),
        ("state", "s-123"),
        ("nonce", "n-456"),
    ];
    items.extend_from_slice(extra);
    let request = fixture
        .provider
        .authorize(&pairs(&items), now)
        .await
        .expect("valid request");
    let response = fixture
        .provider
        .issue_code(&request, &authentication(now), now)
        .await
        .expect("code");
    let query = query_of(&response.location());
    assert_eq!(query["state"], "s-123");
    assert_eq!(query["iss"], ISSUER);
    query["code"].clone()
}

pub(crate) async fn redeem_web_code(
    fixture: &Fixture,
    code: &str,
    now: UnixTime,
) -> Result<TokenResponse, TokenError> {
    let form = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", WEB_REDIRECT),
    ]);
    let request =
        TokenRequest::parse(&form, Some(&basic("mail-web", &fixture.web_secret))).expect("parse");
    fixture.provider.token(&request, now).await
}

pub(crate) async fn refresh_web(
    fixture: &Fixture,
    refresh_token: &str,
    now: UnixTime,
) -> Result<TokenResponse, TokenError> {
    let form = pairs(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", "mail-web"),
        ("client_secret", &fixture.web_secret),
    ]);
    let request = TokenRequest::parse(&form, None).expect("parse");
    fixture.provider.token(&request, now).await
}

/// The JWT's payload, decoded without verification (to inspect claims in assertions only).
pub(crate) fn payload(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}
