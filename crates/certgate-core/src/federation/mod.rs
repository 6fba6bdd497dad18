//! The federation service's domain (the AD FS role): relying parties and their claim rules,
//! token-signing keys with rollover, the replay cache for SAML request IDs, whether a request
//! is taken on ([`accept_authn_request`] and its kin) and what token a finished sign-in gets ([`prepare_issuance`]); the
//! [`FederationStore`] port and the services that use it. The documents themselves (SAML 2.0
//! and 1.1 assertions, metadata) are written by certgate-saml; the endpoints live in
//! certgate-server.

mod claims;
mod issuance;
mod refusal;
mod relying_party;
mod request;
mod signing_keys;

use std::future::Future;

use certgate_pki::{ReasonCode, UnixTime};

use crate::audit::AuditEvent;
use crate::key_rollover::{self, RolloverError};
use crate::store::{StoreError, StoreResult};
pub use claims::{
    authentication_method, certificate_context_rules, ClaimRule, ClaimSource, IssuedClaim,
    SignInFacts, UserField,
};
pub use issuance::{
    prepare_issuance, record_issuance, AuthnStatement, Issuance, IssuanceRequest, IssuedNameId,
    RequestedContext, TokenService, TokenValidity,
};
pub use refusal::{FederationRefusal, IssuanceRefusal, RefusalKind, RequestKind, SpFailure};
pub use relying_party::{
    microsoft365, prepare_relying_party, NameIdFormat, PasswordRequests, Protocol, RelyingParty,
    RelyingPartyDraft,
};
pub use request::{
    accept_authn_request, accept_logout_request, accept_wsfed_sign_in, AcceptedSignIn,
    AuthnContextNeed, AuthnRequestFacts, AuthnRequestOutcome, Endpoint, LogoutRequestFacts,
    ReplayCache, SignatureCheck, WsFedAuthentication,
};
pub use signing_keys::{generate_token_signing_key, KeyState, PublishedKeys, TokenSigningKey};

/// Everything the federation domain can refuse, with stable codes.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// A relying-party setting is not valid.
    #[error("invalid {field} \"{value}\": {why}")]
    FieldInvalid {
        /// Which setting (`identifier`, `reply_urls`, `claims`, ...).
        field: &'static str,
        /// The value given, cut to 200 characters.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// No relying party has this ID, name or identifier.
    #[error("no relying party is named or has the ID \"{key}\"; `certgate rp list` shows them")]
    RelyingPartyNotFound {
        /// What was looked up.
        key: String,
    },
    /// Another relying party has this name, or this identifier for the same protocol.
    #[error("{what} is already registered (relying party \"{existing}\"); names and identifiers are unique")]
    RelyingPartyTaken {
        /// What is taken, for the message (`the name "Contoso"`).
        what: String,
        /// The name of the relying party that has it.
        existing: String,
    },
    /// No Current token-signing key: the service was never initialized.
    #[error("the federation service has no token-signing key yet; `certgate federation init` (or starting `certgate serve`) creates them")]
    NoSigningKey,
    /// Another node rotated the keys between the read and the write; nothing was changed.
    #[error("the token-signing keys changed while rotating (another node rotated first); nothing was changed, look at `certgate federation keys` and retry if needed")]
    RotationRaced,
    /// A stored token-signing key is unusable.
    #[error("the token-signing key {thumbprint} in the store is unreadable: {why}")]
    KeyCorrupt {
        /// The key's SHA-1 thumbprint, upper-case hex.
        thumbprint: String,
        /// What is wrong (certgate-pki's code for a certificate that does not parse).
        why: String,
    },
    /// Generating or sealing a key failed, or a sealed key did not open (`ca-key-seal-broken` for a
    /// wrong passphrase).
    #[error("token-signing key: {0}")]
    Key(certgate_ca::CaError),
    /// The system's random generator failed while making a relying-party ID.
    #[error("the system's random number generator failed")]
    RandomnessUnavailable,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FederationError {
    /// Every code [`FederationError::code`] answers with of its own. `randomness-unavailable` is
    /// listed with [`DirectoryError`](crate::directory::DirectoryError); key and store failures
    /// are their types' codes.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "rp-field-invalid",
            "A relying-party setting (an identifier, reply URL, NameID source, claim rule, certificate and so on) is not valid; the message names the field and why.",
            "Correct the value the message names and repeat `certgate rp add` or `certgate rp set`.",
        ),
        ReasonCode::new(
            "rp-not-found",
            "No relying party has the given ID, name or identifier.",
            "Use an ID, name or identifier that `certgate rp list` shows.",
        ),
        ReasonCode::new(
            "rp-taken",
            "Another relying party already has this name, or the same identifier (SAML entity ID or WS-Federation realm) for the same protocol; names and identifiers are unique.",
            "Choose another name or identifier, or change the existing relying party (`certgate rp show`, `certgate rp set`).",
        ),
        ReasonCode::new(
            "federation-no-signing-key",
            "The federation service has no token-signing key yet, so it can neither sign tokens nor publish metadata.",
            "Run `certgate federation init` (starting `certgate serve` does the same).",
        ),
        ReasonCode::new(
            "federation-rotation-raced",
            "The token-signing keys changed while they were being rolled over (another node rotated first); nothing was changed.",
            "Check `certgate federation keys`, and run `certgate federation rotate-keys` again only if a rollover is still needed.",
        ),
        ReasonCode::new(
            "federation-key-corrupt",
            "A stored token-signing key is unusable: its certificate does not parse, or there is no Next key to roll over to.",
            "Administrators: restore the federation keys from a backup of the database; the message names the key's thumbprint and what is wrong.",
        ),
    ];

    /// The stable reason code: its own (listed in [`Self::CODES`]), or certgate-ca's or the
    /// store's.
    pub fn code(&self) -> &'static str {
        match self {
            FederationError::FieldInvalid { .. } => "rp-field-invalid",
            FederationError::RelyingPartyNotFound { .. } => "rp-not-found",
            FederationError::RelyingPartyTaken { .. } => "rp-taken",
            FederationError::NoSigningKey => "federation-no-signing-key",
            FederationError::RotationRaced => "federation-rotation-raced",
            FederationError::KeyCorrupt { .. } => "federation-key-corrupt",
            FederationError::Key(error) => error.code(),
            FederationError::RandomnessUnavailable => "randomness-unavailable",
            FederationError::Store(error) => error.code(),
        }
    }

    pub(crate) fn invalid(field: &'static str, value: &str, why: &str) -> FederationError {
        FederationError::FieldInvalid {
            field,
            value: value.chars().take(200).collect(),
            why: why.to_owned(),
        }
    }
}

/// The federation service's storage port. Every write is one transaction that also appends
/// its audit event. Uniqueness of relying-party names and of (protocol, identifier) is
/// enforced by the store (`StoreError::Conflict`).
pub trait FederationStore: Send + Sync + 'static {
    /// Ordered by name.
    fn relying_parties(&self) -> impl Future<Output = StoreResult<Vec<RelyingParty>>> + Send;
    /// The relying party with this ID (`rp_...`), if any.
    fn relying_party(
        &self,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<RelyingParty>>> + Send;
    /// Exact match on the identifier (SAML entityID / WS-Fed realm).
    fn relying_party_by_identifier(
        &self,
        protocol: Protocol,
        identifier: &str,
    ) -> impl Future<Output = StoreResult<Option<RelyingParty>>> + Send;
    /// Stores a new relying party. `Conflict` when its name or (protocol, identifier) is taken.
    fn insert_relying_party(
        &self,
        rp: &RelyingParty,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// `NotFound`, `Conflict`.
    fn update_relying_party(
        &self,
        rp: &RelyingParty,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// `NotFound`.
    fn delete_relying_party(
        &self,
        id: &str,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Every key, Retired ones included.
    fn token_signing_keys(&self) -> impl Future<Output = StoreResult<Vec<TokenSigningKey>>> + Send;
    /// Inserts the first Current and Next keys when the store has no key yet; returns false
    /// (and inserts nothing) when keys exist (another node initialized first).
    fn insert_initial_token_signing_keys(
        &self,
        current: &TokenSigningKey,
        next: &TokenSigningKey,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// In one transaction, when the Current key is still `expected_current` and the Next key
    /// `expected_next`: Current → Retired (retired_at = now), Next → Current (activated_at =
    /// now), inserts `new_next`. Returns false and changes nothing otherwise.
    fn rotate_token_signing_keys(
        &self,
        expected_current: &str,
        expected_next: &str,
        new_next: &TokenSigningKey,
        now: UnixTime,
        audit: &AuditEvent,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Records a request ID (SAML AuthnRequest / LogoutRequest) from `issuer` until
    /// `expires_at`. Returns false when the same issuer already used this ID: a replay.
    fn remember_request_id(
        &self,
        issuer: &str,
        request_id: &str,
        expires_at: UnixTime,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Forgets request IDs that expired before `now`.
    fn purge_request_ids(&self, now: UnixTime) -> impl Future<Output = StoreResult<u64>> + Send;
}

/// A new relying-party ID: `rp_` + 16 random bytes in hex.
pub fn new_relying_party_id() -> Result<String, FederationError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| FederationError::RandomnessUnavailable)?;
    Ok(format!("rp_{}", crate::hex(&bytes)))
}

/// All relying parties, ordered by name.
pub async fn list_relying_parties<S: FederationStore>(
    store: &S,
) -> Result<Vec<RelyingParty>, FederationError> {
    Ok(store.relying_parties().await?)
}

/// A relying party by ID, name (case-insensitive) or identifier.
pub async fn find_relying_party<S: FederationStore>(
    store: &S,
    key: &str,
) -> Result<RelyingParty, FederationError> {
    if let Some(rp) = store.relying_party(key).await? {
        return Ok(rp);
    }
    store
        .relying_parties()
        .await?
        .into_iter()
        .find(|rp| rp.name.eq_ignore_ascii_case(key) || rp.identifier == key)
        .ok_or_else(|| FederationError::RelyingPartyNotFound {
            key: key.to_owned(),
        })
}

async fn check_unique<S: FederationStore>(
    store: &S,
    rp: &RelyingParty,
) -> Result<(), FederationError> {
    for other in store.relying_parties().await? {
        if other.id == rp.id {
            continue;
        }
        if other.name.eq_ignore_ascii_case(&rp.name) {
            return Err(FederationError::RelyingPartyTaken {
                what: format!("the name \"{}\"", rp.name),
                existing: other.name,
            });
        }
        if other.protocol == rp.protocol && other.identifier == rp.identifier {
            return Err(FederationError::RelyingPartyTaken {
                what: format!("the {} identifier {}", rp.protocol.as_str(), rp.identifier),
                existing: other.name,
            });
        }
    }
    Ok(())
}

fn conflict_or(error: StoreError, rp: &RelyingParty) -> FederationError {
    match error {
        StoreError::Conflict { .. } => FederationError::RelyingPartyTaken {
            what: format!("the name \"{}\" or identifier {}", rp.name, rp.identifier),
            existing: "another relying party".into(),
        },
        other => other.into(),
    }
}

fn describe(rp: &RelyingParty) -> String {
    format!(
        "{} {} identifier={} replies={} name-id={}:{} claims=[{}] sign-response={} signed-requests={} password-requests={} require-domain-password={} enabled={}",
        rp.protocol.as_str(),
        rp.name,
        rp.identifier,
        rp.reply_urls.join(","),
        rp.name_id_format.as_str(),
        rp.name_id_source.as_string(),
        rp.claims.iter().map(ClaimRule::as_string).collect::<Vec<_>>().join(", "),
        rp.sign_response,
        rp.require_signed_requests,
        rp.password_requests.as_str(),
        rp.require_domain_password,
        rp.enabled,
    )
}

/// Registers a relying party.
pub async fn add_relying_party<S: FederationStore>(
    store: &S,
    draft: RelyingPartyDraft,
    now: UnixTime,
    actor: &str,
) -> Result<RelyingParty, FederationError> {
    let rp = prepare_relying_party(draft, new_relying_party_id()?, now, now)?;
    check_unique(store, &rp).await?;
    let audit = AuditEvent::new(now, actor, "rp.add", &rp.id, "ok", describe(&rp));
    store
        .insert_relying_party(&rp, &audit)
        .await
        .map_err(|e| conflict_or(e, &rp))?;
    Ok(rp)
}

/// Changes a relying party: `change` gets its current settings and returns the new ones.
pub async fn set_relying_party<S: FederationStore>(
    store: &S,
    key: &str,
    change: impl FnOnce(RelyingPartyDraft) -> Result<RelyingPartyDraft, FederationError>,
    now: UnixTime,
    actor: &str,
) -> Result<RelyingParty, FederationError> {
    let current = find_relying_party(store, key).await?;
    let draft = change(RelyingPartyDraft::from(&current))?;
    let rp = prepare_relying_party(draft, current.id.clone(), current.created_at, now)?;
    check_unique(store, &rp).await?;
    let audit = AuditEvent::new(now, actor, "rp.set", &rp.id, "ok", describe(&rp));
    match store.update_relying_party(&rp, &audit).await {
        Err(StoreError::NotFound { .. }) => Err(FederationError::RelyingPartyNotFound {
            key: key.to_owned(),
        }),
        Err(error) => Err(conflict_or(error, &rp)),
        Ok(()) => Ok(rp),
    }
}

/// Removes a relying party.
pub async fn remove_relying_party<S: FederationStore>(
    store: &S,
    key: &str,
    now: UnixTime,
    actor: &str,
) -> Result<RelyingParty, FederationError> {
    let rp = find_relying_party(store, key).await?;
    let audit = AuditEvent::new(now, actor, "rp.remove", &rp.id, "ok", describe(&rp));
    match store.delete_relying_party(&rp.id, &audit).await {
        Err(StoreError::NotFound { .. }) => Err(FederationError::RelyingPartyNotFound {
            key: key.to_owned(),
        }),
        Err(error) => Err(error.into()),
        Ok(()) => Ok(rp),
    }
}

/// The common name of certgate's token-signing certificates.
pub const TOKEN_SIGNING_COMMON_NAME: &str = "certgate token signing";

/// The published keys, creating the first Current and Next when there are none.
pub async fn ensure_token_signing_keys<S: FederationStore>(
    store: &S,
    passphrase: &[u8],
    now: UnixTime,
    actor: &str,
) -> Result<PublishedKeys, FederationError> {
    let keys = store.token_signing_keys().await?;
    if let Some(published) = PublishedKeys::from_keys(&keys, now) {
        return Ok(published);
    }
    let [current, next] = key_rollover::initial_keys(|state| {
        generate_token_signing_key(TOKEN_SIGNING_COMMON_NAME, state, passphrase, now)
    })?;
    let audit = AuditEvent::new(
        now,
        actor,
        "federation.keys.init",
        &current.thumbprint,
        "ok",
        format!(
            "token-signing keys created: current {} (until {}), next {}",
            current.thumbprint, current.not_after.0, next.thumbprint
        ),
    );
    // Another node may have initialized at the same moment: its keys win, ours are dropped.
    store
        .insert_initial_token_signing_keys(&current, &next, &audit)
        .await?;
    PublishedKeys::from_keys(&store.token_signing_keys().await?, now)
        .ok_or(FederationError::NoSigningKey)
}

/// Rolls the keys over: Next signs from now on, Current retires, a new Next is published.
pub async fn rotate_token_signing_keys<S: FederationStore>(
    store: &S,
    passphrase: &[u8],
    now: UnixTime,
    actor: &str,
) -> Result<PublishedKeys, FederationError> {
    let keys = store.token_signing_keys().await?;
    // Checked before a new key is generated. A store without a Next key (cannot happen
    // through certgate) is refused rather than rotated: the rotation must never activate a
    // key nobody has seen in the metadata.
    let (_, next) = key_rollover::current_and_next(&keys).map_err(not_rotatable)?;
    // The new Next must open with the same passphrase as the keys it joins.
    next.open(passphrase)?;
    let new_next =
        generate_token_signing_key(TOKEN_SIGNING_COMMON_NAME, KeyState::Next, passphrase, now)?;
    let rotation = signing_keys::ROLLOVER
        .plan_rotation(&keys, new_next, now)
        .map_err(not_rotatable)?;
    let audit = AuditEvent::new(
        now,
        actor,
        "federation.keys.rotate",
        &rotation.promote,
        "ok",
        format!(
            "token-signing key {} is now current; {} retired; {} published as next",
            rotation.promote, rotation.retire, rotation.insert.thumbprint
        ),
    );
    if !store
        .rotate_token_signing_keys(
            &rotation.retire,
            &rotation.promote,
            &rotation.insert,
            rotation.at,
            &audit,
        )
        .await?
    {
        return Err(FederationError::RotationRaced);
    }
    PublishedKeys::from_keys(&store.token_signing_keys().await?, now)
        .ok_or(FederationError::NoSigningKey)
}

/// The federation's answer to keys that break the life cycle's rules.
fn not_rotatable(error: RolloverError<String>) -> FederationError {
    match error {
        RolloverError::Missing(KeyState::Current) => FederationError::NoSigningKey,
        RolloverError::NoNext { current } => FederationError::KeyCorrupt {
            thumbprint: current,
            why: "there is no Next key to roll over to".into(),
        },
        RolloverError::Several { ref first, .. } => FederationError::KeyCorrupt {
            thumbprint: first.clone(),
            why: error.to_string(),
        },
        RolloverError::NewKeyNotNext { ref key } => FederationError::KeyCorrupt {
            thumbprint: key.clone(),
            why: error.to_string(),
        },
        RolloverError::Missing(_) => FederationError::NoSigningKey,
    }
}
