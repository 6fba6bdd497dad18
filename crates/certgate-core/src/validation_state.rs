//! The state every validation reads: the trusted CAs and the current CRLs, immutable, behind
//! an atomic pointer. A refresh builds a complete new state off to the side and swaps it in,
//! so a validation never sees a half-loaded CRL and never waits for a download or a parse.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use certgate_pki::{
    validate, CaKind, Certificate, Crl, Name, Rejection, RevocationSnapshot, TrustStore,
    UnixTime, ValidatedPath, ValidationPolicy,
};

use crate::crl_cache::{CachedCrl, CrlKind};
use crate::trusted_ca::{AuthorityType, CaId, CaRecord};

/// One immutable view of trust and revocation.
#[derive(Debug, Default)]
pub struct ValidationState {
    trust: TrustStore,
    revocation: RevocationSnapshot,
    policy: ValidationPolicy,
    /// The store generation this state was built from.
    generation: i64,
    /// CAs whose stored certificate could not be parsed (never expected: it was checked on
    /// the way in); they are left out, which fails closed.
    skipped: Vec<(CaId, String)>,
}

impl ValidationState {
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }
    pub fn revocation(&self) -> &RevocationSnapshot {
        &self.revocation
    }
    pub fn policy(&self) -> &ValidationPolicy {
        &self.policy
    }
    pub fn generation(&self) -> i64 {
        self.generation
    }
    pub fn skipped(&self) -> &[(CaId, String)] {
        &self.skipped
    }

    /// Validates a client certificate chain against this state at `at`.
    pub fn validate<'a>(
        &'a self,
        end_entity: &'a Certificate,
        intermediates: &'a [Certificate],
        at: UnixTime,
    ) -> Result<ValidatedPath<'a>, Rejection> {
        validate(
            end_entity,
            intermediates,
            &self.trust,
            &self.revocation,
            &self.policy,
            at,
        )
    }
}

/// Parsed CRLs kept between rebuilds, so that refreshing one CA's CRL does not re-parse every
/// other CA's (possibly 20 MB) CRL. Keyed by CA and kind; an entry is reused only when the
/// bytes are the same.
#[derive(Default)]
pub struct ParsedCrls {
    by_ca: Mutex<HashMap<(CaId, CrlKind), Arc<Crl>>>,
}

impl ParsedCrls {
    /// Remembers a CRL parsed elsewhere (the refresh just accepted it).
    pub fn insert(&self, ca: CaId, kind: CrlKind, crl: Arc<Crl>) {
        self.lock().insert((ca, kind), crl);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(CaId, CrlKind), Arc<Crl>>> {
        // A panic while holding the lock leaves at worst a missing entry, which only costs
        // a re-parse.
        self.by_ca
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The parsed form of `cached`: reused when the bytes match, parsed otherwise. A cached
    /// CRL that no longer parses is dropped (fail closed: certificates of that CA then have
    /// no revocation status).
    fn get_or_parse(&self, cached: CachedCrl) -> Option<Arc<Crl>> {
        let key = (cached.ca_id, cached.kind);
        if let Some(crl) = self.lock().get(&key) {
            if crl.der() == cached.der.as_slice() {
                return Some(Arc::clone(crl));
            }
        }
        let crl = Arc::new(Crl::from_der(cached.der).ok()?);
        self.lock().insert(key, Arc::clone(&crl));
        Some(crl)
    }

    /// Forgets CRLs of CAs that are no longer trusted.
    fn retain(&self, cas: &[CaRecord]) {
        self.lock()
            .retain(|(ca, _), _| cas.iter().any(|record| record.id == *ca));
    }
}

/// Builds a validation state from the store's CAs and cached CRLs.
///
/// Revocation is checked for the whole chain (RFC 5280 §6.3, Entra's "Require CRL
/// validation"); CAs marked exempt may leave their certificates' status unknown.
pub fn build_state(
    cas: &[CaRecord],
    cached_crls: Vec<CachedCrl>,
    parsed: &ParsedCrls,
    generation: i64,
) -> ValidationState {
    let mut trust = TrustStore::new();
    let mut exempt: Vec<Name> = Vec::new();
    let mut skipped = Vec::new();
    for ca in cas {
        match Certificate::from_der(&ca.certificate_der) {
            Ok(certificate) => {
                if ca.settings.exempt_from_crl_validation {
                    exempt.push(certificate.subject().clone());
                }
                let kind = match ca.settings.authority_type {
                    AuthorityType::Root => CaKind::Root,
                    AuthorityType::Intermediate => CaKind::Intermediate,
                };
                trust.add(certificate, kind);
            }
            Err(reason) => skipped.push((ca.id, reason.to_string())),
        }
    }
    parsed.retain(cas);
    let crls: Vec<Arc<Crl>> = cached_crls
        .into_iter()
        .filter(|crl| cas.iter().any(|ca| ca.id == crl.ca_id))
        .filter_map(|crl| parsed.get_or_parse(crl))
        .collect();
    let policy = ValidationPolicy {
        revocation_exempt_issuers: exempt,
        ..ValidationPolicy::default()
    };
    ValidationState {
        trust,
        revocation: RevocationSnapshot::from_shared(crls),
        policy,
        generation,
        skipped,
    }
}

/// The current validation state, readable from any thread without locks.
pub struct SharedState {
    current: ArcSwap<ValidationState>,
}

impl SharedState {
    pub fn new(state: ValidationState) -> Self {
        SharedState {
            current: ArcSwap::from_pointee(state),
        }
    }
    /// The state to validate against; stays valid while held, whatever is swapped in.
    pub fn load(&self) -> Arc<ValidationState> {
        self.current.load_full()
    }
    pub fn replace(&self, state: ValidationState) {
        self.current.store(Arc::new(state));
    }
}

impl Default for SharedState {
    fn default() -> Self {
        Self::new(ValidationState::default())
    }
}
