//! An in-memory implementation of certgate-core's storage ports, for testing the domain's
//! rules without a database (the `testing` feature; always on for certgate-core's own tests).
//!
//! [`MemoryStore`] implements [`TrustedCaStore`](crate::trusted_ca::TrustedCaStore),
//! [`CrlCacheStore`](crate::crl_cache::CrlCacheStore), [`OwnCaStore`](crate::authority::OwnCaStore) and
//! [`AuditLog`](crate::audit::AuditLog) (so [`Store`](crate::Store)), the directory's
//! ports ([`UserLookup`](crate::directory::UserLookup),
//! [`UserStore`](crate::directory::UserStore),
//! [`BindingRuleStore`](crate::binding::BindingRuleStore),
//! [`StrengthRuleStore`](crate::strength::StrengthRuleStore), so
//! [`DirectoryStore`](crate::DirectoryStore)),
//! [`TotpStore`](crate::totp::TotpStore), [`AccessPassStore`](crate::access_pass::AccessPassStore),
//! [`EnrollmentCodeStore`](crate::enrollment::EnrollmentCodeStore),
//! [`LoginFlowStore`](crate::login_flow::LoginFlowStore),
//! [`AdminTokenStore`](crate::admin_token::AdminTokenStore),
//! [`SignInLog`](crate::signin::SignInLog) and
//! [`FederationStore`](crate::federation::FederationStore). It keeps the contracts those traits state, as
//! certgate-store's SQL adapters do: the same uniqueness rules answered with
//! `StoreError::Conflict`, `NotFound` where a trait says so, one audit event per write in the
//! same step as the write, the generation bumped where the SQL store bumps it, the
//! compare-and-set operations, the order of every list, ids that are never reused. Where the
//! SQL schema refuses a row through a foreign key (a cached CRL of an unknown CA, an issued
//! certificate of an unknown authority, an enrollment code of an unknown user), this store
//! refuses it with `NotFound`; where a foreign key deletes along (a removed user's enrollment
//! codes), this store deletes along.
//!
//! One [`std::sync::Mutex`] guards the whole state, and every method takes it once, so each
//! call is atomic and isolated like the SQL store's single transaction: a call checks
//! everything that can refuse it before it changes anything.
//!
//! The OIDC service's port (`OidcStore`) belongs to certgate-oidc, not to certgate-core, and
//! is not here.
//!
//! The services are `async` over the ports; [`block_on`] runs one to completion on the calling
//! thread, which is all a test over this store needs (its futures are ready when first polled).

mod credentials;
mod directory;
pub use directory::MemorySyncLock;
mod federation;
mod own_ca;
mod second_factor;
mod sign_in;
mod trust;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use certgate_pki::UnixTime;

use crate::access_pass::StoredAccessPass;
use crate::admin_token::AdminTokenRecord;
use crate::audit::AuditEvent;
use crate::authority::{AuthorityRecord, IssuedRecord, PublishedCrl};
use crate::binding::{BindingPolicy, BindingRule};
use crate::crl_cache::{CachedCrl, CrlFetchStatus, CrlKind};
use crate::directory::{Affinity, User};
use crate::enrollment::EnrollmentCodeRecord;
use crate::federation::{RelyingParty, TokenSigningKey};
use crate::login_flow::LoginFlow;
use crate::signin::SignInRecord;
use crate::strength::StrengthRule;
use crate::totp::StoredTotpSecret;
use crate::trusted_ca::{CaId, CaRecord};

/// Every storage port of certgate-core, in memory. See the
/// [module documentation](self) for the contracts it keeps.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store, as a freshly migrated database: no CAs, users or rules, the default
    /// required affinity low, the generation 0.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The state, for one call. A panic while it was held (in a test) leaves it as it was
    /// at that point: every method checks before it changes anything, so it is consistent.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the SQL store keeps in its tables, one collection per table.
#[derive(Debug, Default)]
struct State {
    /// `certgate_state.generation`.
    generation: i64,
    /// In the order appended (the SQL store's id order).
    audit: Vec<AuditEvent>,

    /// By id.
    cas: BTreeMap<i64, CaRecord>,
    ca_ids: Sequence,
    crls: BTreeMap<(CaId, CrlKind), CachedCrl>,
    fetch_statuses: BTreeMap<(CaId, CrlKind), CrlFetchStatus>,

    authorities: Vec<StoredAuthority>,
    authority_ids: Sequence,
    /// In the order inserted.
    issued: Vec<IssuedRecord>,
    published_crls: Vec<PublishedCrl>,

    /// By object ID.
    users: BTreeMap<String, User>,
    /// `directory_sync_runs`.
    sync_status: crate::directory_source::SyncStatus,
    /// Whether a sync holds the lock (the SQL store's advisory lock or lock file).
    sync_locked: bool,
    /// `directory_change_marks`.
    change_mark: Option<crate::directory_source::ChangeMark>,
    /// By priority.
    binding_rules: BTreeMap<u32, BindingRule>,
    default_required_affinity: DefaultRequiredAffinity,
    /// By id.
    strength_rules: BTreeMap<i64, StrengthRule>,
    strength_rule_ids: Sequence,

    totp_secrets: Vec<StoredTotpSecret>,
    totp_secret_ids: Sequence,
    /// `certgate_state.totp_sealing_salt`.
    totp_sealing_salt: Option<Vec<u8>>,
    /// By user ID.
    access_passes: BTreeMap<String, StoredAccessPass>,
    /// By id.
    enrollment_codes: BTreeMap<i64, EnrollmentCodeRecord>,
    enrollment_code_ids: Sequence,
    /// By the hash of the flow ID.
    login_flows: BTreeMap<Vec<u8>, LoginFlow>,
    admin_tokens: Vec<AdminTokenRecord>,
    /// In the order appended.
    signins: Vec<SignInRecord>,

    /// By id.
    relying_parties: BTreeMap<String, RelyingParty>,
    /// In the order inserted.
    token_signing_keys: Vec<TokenSigningKey>,
    /// When each (issuer, request ID) may be forgotten.
    request_ids: BTreeMap<(String, String), UnixTime>,
}

/// x509CertificateDefaultRequiredAffinityLevel, low until set (the SQL store's initial row).
#[derive(Debug)]
struct DefaultRequiredAffinity(Affinity);

impl Default for DefaultRequiredAffinity {
    fn default() -> Self {
        DefaultRequiredAffinity(BindingPolicy::default().default_required_affinity)
    }
}

/// An authority with the counter `allocate_crl_number` advances.
#[derive(Debug)]
struct StoredAuthority {
    record: AuthorityRecord,
    next_crl_number: i64,
}

/// The ids of one table: from 1, each greater than every one before, never reused (SQLite's
/// `AUTOINCREMENT`, PostgreSQL's `IDENTITY`).
#[derive(Debug, Default)]
struct Sequence(i64);

impl Sequence {
    fn next(&mut self) -> i64 {
        self.0 += 1;
        self.0
    }
}

impl State {
    /// Appends the audit event of a write; the write's own last step.
    fn audit(&mut self, event: &AuditEvent) {
        self.audit.push(event.clone());
    }

    /// Tells other readers of the store that trust, the CRL cache or the directory changed.
    fn bump_generation(&mut self) {
        self.generation += 1;
    }
}

/// Deletes at most `max_rows` of the oldest entries of `rows` for which `expired` holds, and
/// says how many (the retention purges of the audit and sign-in logs).
fn purge_oldest<T>(rows: &mut Vec<T>, max_rows: u32, expired: impl Fn(&T) -> bool) -> u64 {
    let mut left = max_rows;
    let before = rows.len();
    rows.retain(|row| {
        if left > 0 && expired(row) {
            left -= 1;
            false
        } else {
            true
        }
    });
    (before - rows.len()) as u64
}

/// Runs `future` to completion on the calling thread, parking it while the future waits.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// Wakes [`block_on`]'s thread.
struct Unparker(std::thread::Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}
