//! The state every validation reads: the trusted CAs and the current CRLs, immutable, behind
//! an atomic pointer. A refresh builds a complete new state off to the side and swaps it in,
//! so a validation never sees a half-loaded CRL and never waits for a download or a parse.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use certgate_pki::{
    validate, CaKind, Certificate, Crl, Name, Rejection, RevocationSnapshot, TrustStore, UnixTime,
    ValidatedPath, ValidationPolicy,
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
    /// DER subjects of the CAs to name in the TLS CertificateRequest (Entra's issuer hints).
    issuer_hints: Vec<Vec<u8>>,
}

impl ValidationState {
    /// The trusted CAs: roots as anchors, intermediates to complete chains.
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }
    /// The cached CRLs of every trusted CA that parsed.
    pub fn revocation(&self) -> &RevocationSnapshot {
        &self.revocation
    }
    /// The validation rules; CAs exempt from CRL validation are listed in it.
    pub fn policy(&self) -> &ValidationPolicy {
        &self.policy
    }
    /// The store generation this state was built from: when the store's is higher, something
    /// changed and the state is rebuilt.
    pub fn generation(&self) -> i64 {
        self.generation
    }
    /// CAs left out because their stored certificate does not parse, with the reason (never
    /// expected; it fails closed).
    pub fn skipped(&self) -> &[(CaId, String)] {
        &self.skipped
    }
    /// DER-encoded subject names of the CAs flagged "send as issuer hint", for the
    /// `certificate_authorities` of a TLS CertificateRequest.
    pub fn issuer_hints(&self) -> &[Vec<u8>] {
        &self.issuer_hints
    }

    /// What the current CRLs say about the certificate `serial` (content octets) of the issuer
    /// whose subject DN (Windows form, as sign-in records it) is `issuer`, at `at`: for
    /// refresh-token redemption, where only issuer and serial are known. Only CRLs that are
    /// current at `at` count (their signatures were checked when they were accepted); without
    /// one the status is unknown unless the CA is exempt from CRL validation.
    pub fn certificate_status(&self, issuer: &str, serial: &[u8], at: UnixTime) -> CrlStatus {
        let mut current = false;
        for crl in self.revocation.crls() {
            if crl.issuer().to_windows() != issuer {
                continue;
            }
            let fresh = crl.this_update() <= at && crl.next_update().is_some_and(|n| at <= n);
            if !fresh {
                continue;
            }
            if !crl.is_delta() {
                current = true;
            }
            if let Some(entry) = crl.lookup(crl.issuer(), serial) {
                if entry.reason != certgate_pki::RevocationReason::RemoveFromCrl {
                    return CrlStatus::Revoked {
                        reason: entry.reason.as_str().to_owned(),
                    };
                }
            }
        }
        let exempt = self
            .policy
            .revocation_exempt_issuers
            .iter()
            .any(|name| name.to_windows() == issuer);
        if current || exempt {
            CrlStatus::Good
        } else {
            CrlStatus::Unknown {
                detail: format!("no current CRL from \"{issuer}\""),
            }
        }
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

/// A certificate's status by the current CRLs alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrlStatus {
    /// A current CRL of the issuer does not list it, or the issuer is exempt from CRL validation.
    Good,
    /// A current CRL lists it (and not as `removeFromCRL`).
    Revoked {
        /// The reason on the CRL entry, RFC 5280 §5.3.1's name (`keyCompromise`...).
        reason: String,
    },
    /// No current base CRL of the issuer is cached and the issuer is not exempt: fail closed.
    Unknown {
        /// What is missing, for the log.
        detail: String,
    },
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
        self.parse(cached)
    }

    /// The parsed CRL of `ca`/`kind` when it is the one with this number and size. A CA never
    /// reuses a CRL number for other content (the cache refuses it), so number and size
    /// identify the bytes without reading them from the store.
    pub fn current(
        &self,
        ca: CaId,
        kind: CrlKind,
        crl_number: &[u8],
        bytes: usize,
    ) -> Option<Arc<Crl>> {
        self.lock()
            .get(&(ca, kind))
            .filter(|crl| crl.crl_number() == Some(crl_number) && crl.der().len() == bytes)
            .cloned()
    }

    /// Parses `cached` and remembers it; `None` when it no longer parses (fail closed:
    /// certificates of that CA then have no revocation status).
    pub fn parse(&self, cached: CachedCrl) -> Option<Arc<Crl>> {
        let key = (cached.ca_id, cached.kind);
        let crl = Arc::new(Crl::from_der(cached.der).ok()?);
        self.lock().insert(key, Arc::clone(&crl));
        Some(crl)
    }

    /// Forgets CRLs of CAs that are no longer trusted.
    pub fn retain(&self, cas: &[CaRecord]) {
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
    parsed.retain(cas);
    let crls: Vec<Arc<Crl>> = cached_crls
        .into_iter()
        .filter(|crl| cas.iter().any(|ca| ca.id == crl.ca_id))
        .filter_map(|crl| parsed.get_or_parse(crl))
        .collect();
    build_state_with(cas, crls, generation)
}

/// Builds a validation state from the store's CAs and CRLs already parsed (those of CAs no
/// longer trusted must have been left out).
pub fn build_state_with(cas: &[CaRecord], crls: Vec<Arc<Crl>>, generation: i64) -> ValidationState {
    let mut trust = TrustStore::new();
    let mut exempt: Vec<Name> = Vec::new();
    let mut skipped = Vec::new();
    let mut issuer_hints = Vec::new();
    for ca in cas {
        match Certificate::from_der(&ca.certificate_der) {
            Ok(certificate) => {
                if ca.settings.send_as_issuer_hint {
                    issuer_hints.push(certificate.subject().der().to_vec());
                }
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
        issuer_hints,
    }
}

/// The current validation state, readable from any thread without locks.
pub struct SharedState {
    current: ArcSwap<ValidationState>,
}

impl SharedState {
    /// Shares `state` as the current one.
    pub fn new(state: ValidationState) -> Self {
        SharedState {
            current: ArcSwap::from_pointee(state),
        }
    }
    /// The state to validate against; stays valid while held, whatever is swapped in.
    pub fn load(&self) -> Arc<ValidationState> {
        self.current.load_full()
    }
    /// Swaps `state` in. The state it replaces is freed by `retire`, away from the
    /// validations that may still be using it.
    pub fn replace(&self, state: ValidationState) {
        retire(self.current.swap(Arc::new(state)));
    }
}

/// How long a replaced state waits for its other holders before it is left to them.
const RETIRE_PATIENCE: Duration = Duration::from_secs(10);
const RETIRE_POLL: Duration = Duration::from_millis(1);

/// Frees a replaced state on a short-lived thread of its own.
///
/// A validation running while the state is swapped holds a reference to the old one; were it
/// the last holder, freeing the old state (for a 20 MB CRL, its DER and index: 1.5 to 2 ms,
/// measured by `cargo bench -p certgate-server --bench crl_refresh`) would land in that
/// validation's latency. The thread holds on until it is the only holder, which takes as long
/// as the validations in flight (tens of microseconds), and frees the state then. A holder
/// that keeps the state beyond `RETIRE_PATIENCE` frees it itself. Should the thread not
/// start, the closure and with it the state are dropped right here, as before.
fn retire(previous: Arc<ValidationState>) {
    let _ = std::thread::Builder::new()
        .name("certgate-retire-state".into())
        .spawn(move || {
            let started = Instant::now();
            // Nobody can take a new reference: the state is no longer in the `ArcSwap`, whose
            // `swap` has settled every reader's pending load.
            while Arc::strong_count(&previous) > 1 && started.elapsed() < RETIRE_PATIENCE {
                std::thread::sleep(RETIRE_POLL);
            }
            drop(previous);
        });
}

impl Default for SharedState {
    fn default() -> Self {
        Self::new(ValidationState::default())
    }
}
