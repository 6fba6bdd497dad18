//! The CRL service: downloads each trusted CA's configured CRL URLs within limits, accepts
//! only CRLs that pass certgate-core's rules, persists them, and swaps a new validation state
//! in. Validations never wait for any of it.
//!
//! Two kinds of refresh: the scheduler's (background limits, failures back off, see
//! [`schedule`]) and those a person asks for (`certgate crl refresh`, the admin API: the
//! interactive limits, and a failure does not postpone the scheduler's next attempt).

pub mod schedule;

use crate::background_thread::run_at_low_priority;
use certgate_core::Store;
use std::sync::Arc;

use certgate_core::audit::AuditEvent;
use certgate_core::clock::Clock;
use certgate_core::crl_cache::{
    accept_downloaded_crl, der_sha256, Accepted, CachedCrlSummary, CrlFetchStatus, CrlKind,
    CrlRefusal, CrlToCache, Previous,
};
use certgate_core::crl_fetch::{
    Conditional, CrlFetcher, FetchError, FetchLimits, FetchOutcome, FetchProgress,
};
use certgate_core::store::{StoreError, StoreResult};
use certgate_core::trusted_ca::{CaId, CaRecord};
use certgate_core::validation_state::{build_state_with, ParsedCrls, SharedState};
use certgate_pki::{Certificate, Crl, UnixTime};

use schedule::Jitter;

/// Limits and timing of CRL refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlSettings {
    /// For refreshes a person asked for and waits on (`certgate crl refresh`, the admin API).
    pub interactive: FetchLimits,
    /// For the scheduler's refreshes, a CA's first CRL included: a CRL too large for the
    /// interactive limits still loads in the background (Entra's 150 MB).
    pub background: FetchLimits,
    /// How far ahead of ours a CA's clock may be (thisUpdate in the future).
    pub clock_skew_seconds: i64,
    /// Bounds on the time between two scheduled checks of one URL.
    pub min_interval_seconds: i64,
    /// The upper bound: a CRL is checked at least this often, however long its validity.
    pub max_interval_seconds: i64,
    /// First retry delay after a failure; doubles per failure up to `max_retry_seconds`.
    pub retry_seconds: i64,
    /// The longest retry delay after repeated failures.
    pub max_retry_seconds: i64,
}

impl Default for CrlSettings {
    fn default() -> Self {
        CrlSettings {
            interactive: FetchLimits::INTERACTIVE,
            background: FetchLimits::BACKGROUND,
            clock_skew_seconds: 300,
            min_interval_seconds: 60,
            max_interval_seconds: 4 * 3600,
            retry_seconds: 30,
            max_retry_seconds: 900,
        }
    }
}

/// Who asked for a refresh, which decides its limits and what a failure does to the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    /// A person waits (`certgate crl refresh`, the admin API): the interactive limits. A
    /// failure is reported and recorded but leaves the scheduler's backoff and next attempt
    /// alone, so asking by hand never delays the automatic retry.
    Interactive,
    /// The scheduler: the background limits; failures back off (never past the cached CRL's
    /// nextUpdate).
    Background,
}

/// A CRL a refresh accepted, parsed once: stored from its bytes, then shared with the
/// validation state.
struct NewCrl {
    crl: Arc<Crl>,
    der_sha256: [u8; 32],
    etag: Option<String>,
    last_modified: Option<String>,
}

/// What happened to one CRL URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A new CRL was accepted, cached and audited.
    Updated {
        /// Its cRLNumber, INTEGER content octets.
        crl_number: Vec<u8>,
        /// How many revoked certificates it lists.
        entries: usize,
        /// The size of the download.
        bytes: usize,
    },
    /// The server answered 304 Not Modified.
    NotModified,
    /// The server sent the CRL already cached.
    Unchanged,
    /// Refused or failed; any cached CRL stays in use until its nextUpdate.
    Failed {
        /// certgate's stable code of the refusal, e.g. `crl-fetch-timeout`.
        code: String,
        /// What went wrong and what follows for sign-ins, for people.
        message: String,
        /// Whether an earlier CRL is cached (it stays in use until its nextUpdate).
        kept_cached: bool,
    },
}

/// What a refresh did to one CA's base or delta CRL URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshReport {
    /// The trusted CA.
    pub ca_id: CaId,
    /// Base or delta.
    pub kind: CrlKind,
    /// The URL fetched: the one configured for the CA, never one from a certificate.
    pub url: String,
    /// What happened.
    pub outcome: RefreshOutcome,
}

/// One CA's CRL situation, for `certgate crl status`.
#[derive(Clone, Debug)]
pub struct CrlStatusRow {
    /// The trusted CA.
    pub ca: CaRecord,
    /// Base or delta.
    pub kind: CrlKind,
    /// The configured URL.
    pub url: String,
    /// The CRL in the cache; `None`: certificates from this CA are refused with
    /// `crl-unavailable`.
    pub cached: Option<CachedCrlSummary>,
    /// How the downloads went; `None` before the first attempt.
    pub fetch: Option<CrlFetchStatus>,
}

/// The CRL service of one process: refreshes the trusted CAs' CRLs into the store and keeps
/// the [`SharedState`] that validations read up to date with the store. `certgate serve` runs
/// its scheduled refreshes; the admin API and the CLI ask it for refreshes and status.
pub struct CrlService<S, F, C> {
    store: Arc<S>,
    fetcher: F,
    clock: C,
    state: Arc<SharedState>,
    parsed: Arc<ParsedCrls>,
    settings: CrlSettings,
    actor: String,
}

impl<S: Store, F: CrlFetcher, C: Clock> CrlService<S, F, C> {
    /// A service over `store` that downloads with `fetcher` and swaps its builds into `state`;
    /// `actor` is who its audit events name (`server`, `cli:<user>`). Nothing is built yet:
    /// [`CrlService::rebuild`] fills `state` from the store.
    pub fn new(
        store: Arc<S>,
        fetcher: F,
        clock: C,
        state: Arc<SharedState>,
        settings: CrlSettings,
        actor: &str,
    ) -> Self {
        CrlService {
            store,
            fetcher,
            clock,
            state,
            parsed: Arc::new(ParsedCrls::default()),
            settings,
            actor: actor.to_owned(),
        }
    }

    /// The validation state it keeps current, as validations read it.
    pub fn state(&self) -> &Arc<SharedState> {
        &self.state
    }

    /// Its limits and timing.
    pub fn settings(&self) -> &CrlSettings {
        &self.settings
    }

    /// Rebuilds the validation state from the store when another process (or this one)
    /// changed trust or the CRL cache since the last build. Returns whether it rebuilt.
    pub async fn reload_if_changed(&self) -> StoreResult<bool> {
        let generation = self.store.generation().await?;
        if generation == self.state.load().generation() {
            return Ok(false);
        }
        self.rebuild().await?;
        Ok(true)
    }

    /// Builds a new validation state from the store and swaps it in. CRLs already parsed
    /// are reused; parsing happens on a blocking thread, off the async workers.
    pub async fn rebuild(&self) -> StoreResult<()> {
        // Read the generation first: a change landing between the reads makes the next
        // `reload_if_changed` build again rather than miss it.
        let generation = self.store.generation().await?;
        let cas = self.store.list_cas().await?;
        self.parsed.retain(&cas);
        // Only CRLs whose number changed are read from the store and parsed; the others
        // (possibly 20 MB each) are shared with the current state.
        let mut crls = Vec::new();
        let mut to_parse = Vec::new();
        for summary in self.store.cached_crl_summaries().await? {
            if !cas.iter().any(|ca| ca.id == summary.ca_id) {
                continue;
            }
            let bytes = usize::try_from(summary.bytes).unwrap_or(usize::MAX);
            match self
                .parsed
                .current(summary.ca_id, summary.kind, &summary.crl_number, bytes)
            {
                Some(crl) => crls.push(crl),
                None => {
                    if let Some(cached) = self.store.cached_crl(summary.ca_id, summary.kind).await?
                    {
                        to_parse.push(cached);
                    }
                }
            }
        }
        let parsed = Arc::clone(&self.parsed);
        let state = run_at_low_priority("certgate-crl-state", move || {
            crls.extend(
                to_parse
                    .into_iter()
                    .filter_map(|cached| parsed.parse(cached)),
            );
            build_state_with(&cas, crls, generation)
        })
        .await
        .map_err(|error| StoreError::Unavailable {
            detail: format!("building the validation state failed: {error}"),
        })?;
        self.state.replace(state);
        Ok(())
    }

    /// Refreshes the base and delta CRL of every CA (or only `only`) that has URLs.
    pub async fn refresh(
        &self,
        only: Option<CaId>,
        urgency: Urgency,
        progress: &dyn FetchProgress,
    ) -> StoreResult<Vec<RefreshReport>> {
        let cas = self.store.list_cas().await?;
        if let Some(id) = only {
            if !cas.iter().any(|ca| ca.id == id) {
                return Err(StoreError::NotFound {
                    what: format!("trusted CA {id}"),
                });
            }
        }
        let mut reports = Vec::new();
        for ca in cas.iter().filter(|ca| only.is_none_or(|id| ca.id == id)) {
            for (kind, url) in urls_of(ca) {
                reports.push(self.refresh_one(ca, kind, url, urgency, progress).await?);
            }
        }
        self.rebuild().await?;
        Ok(reports)
    }

    /// Refreshes the URLs whose scheduled time has come, under the background limits, a CA's
    /// first CRL included: nobody waits on the scheduler, and a CRL larger than the
    /// interactive limit would otherwise never load (its CA's users refused with
    /// `crl-unavailable` for good).
    pub async fn refresh_due(&self) -> StoreResult<Vec<RefreshReport>> {
        let now = self.clock.now();
        let cas = self.store.list_cas().await?;
        let statuses = self.store.fetch_statuses().await?;
        let mut reports = Vec::new();
        for ca in &cas {
            for (kind, url) in urls_of(ca) {
                let due = statuses
                    .iter()
                    .find(|s| s.ca_id == ca.id && s.kind == kind)
                    .is_none_or(|s| s.next_attempt_at.0 <= now.0);
                if !due {
                    continue;
                }
                reports.push(
                    self.refresh_one(
                        ca,
                        kind,
                        url,
                        Urgency::Background,
                        &certgate_core::crl_fetch::NoProgress,
                    )
                    .await?,
                );
            }
        }
        if reports
            .iter()
            .any(|r| matches!(r.outcome, RefreshOutcome::Updated { .. }))
        {
            self.rebuild().await?;
        }
        Ok(reports)
    }

    async fn refresh_one(
        &self,
        ca: &CaRecord,
        kind: CrlKind,
        url: &str,
        urgency: Urgency,
        progress: &dyn FetchProgress,
    ) -> StoreResult<RefreshReport> {
        let limits = match urgency {
            Urgency::Interactive => self.settings.interactive,
            Urgency::Background => self.settings.background,
        };
        // The cached CRL's particulars, never its bytes: holding a 150 MB cached CRL beside
        // a 150 MB download would double what a refresh needs.
        let cached = self
            .store
            .cached_crl_summaries()
            .await?
            .into_iter()
            .find(|c| c.ca_id == ca.id && c.kind == kind);
        let previous = match &cached {
            Some(summary) => Some((
                summary.crl_number.clone(),
                self.cached_der_sha256(summary).await?,
            )),
            None => None,
        };
        // Validators only when the cached copy came from the same URL.
        let conditional = cached
            .as_ref()
            .filter(|c| c.url == url)
            .map(|c| Conditional {
                etag: c.etag.clone(),
                last_modified: c.last_modified.clone(),
            })
            .unwrap_or_default();
        let fetched = self
            .fetcher
            .fetch(url, &conditional, limits, progress)
            .await;
        let now = self.clock.now();
        let previous_status = self
            .store
            .fetch_statuses()
            .await?
            .into_iter()
            .find(|s| s.ca_id == ca.id && s.kind == kind);
        let result: Result<(RefreshOutcome, Option<NewCrl>), CrlRefusal> = match fetched {
            Err(error) => Err(error.into()),
            // "Not modified" does not make an expired cached CRL current again: the CA is
            // not publishing, which `status()` must say.
            Ok(FetchOutcome::NotModified) => {
                match cached.as_ref().filter(|c| c.next_update.0 < now.0) {
                    Some(stale) => Err(CrlRefusal::Stale {
                        next_update: certgate_core::clock::rfc3339(stale.next_update),
                        now: certgate_core::clock::rfc3339(now),
                    }),
                    None => Ok((RefreshOutcome::NotModified, None)),
                }
            }
            Ok(FetchOutcome::Fetched {
                body,
                etag,
                last_modified,
                ..
            }) => {
                let bytes = body.len();
                let skew = self.settings.clock_skew_seconds;
                // Parsing and the signature check of a 20 MB CRL take a good part of a second:
                // not on an async worker.
                // The body moves into the parsed CRL, which is what is stored and what
                // validations use: the download is held once, never copied.
                let ca_der = ca.certificate_der.clone();
                let accepted = run_at_low_priority("certgate-crl-parse", move || {
                    let certificate =
                        Certificate::from_der(&ca_der).map_err(CrlRefusal::Malformed)?;
                    let previous = previous.as_ref().map(|(number, digest)| Previous {
                        crl_number: number,
                        der_sha256: digest,
                    });
                    accept_downloaded_crl(body, kind, &certificate, previous, now, skew).map(
                        |accepted| match accepted {
                            Accepted::New(crl) => {
                                let digest = der_sha256(crl.der());
                                Some((Arc::<Crl>::from(crl), digest))
                            }
                            Accepted::Unchanged => None,
                        },
                    )
                })
                .await
                .map_err(|error| StoreError::Unavailable {
                    detail: format!("checking the downloaded CRL failed: {error}"),
                })?;
                match accepted {
                    Err(refusal) => Err(refusal),
                    Ok(None) => Ok((RefreshOutcome::Unchanged, None)),
                    Ok(Some((crl, der_sha256))) => Ok((
                        RefreshOutcome::Updated {
                            crl_number: crl.crl_number().unwrap_or_default().to_vec(),
                            entries: crl.entry_count(),
                            bytes,
                        },
                        Some(NewCrl {
                            crl,
                            der_sha256,
                            etag,
                            last_modified,
                        }),
                    )),
                }
            }
        };
        let outcome = match result {
            Ok((outcome, new)) => {
                let validity = match (&new, &cached) {
                    (Some(new), _) => {
                        Some((new.crl.this_update(), new.crl.next_update().unwrap_or(now)))
                    }
                    (None, Some(cached)) => Some((cached.this_update, cached.next_update)),
                    (None, None) => None,
                };
                let status = CrlFetchStatus {
                    ca_id: ca.id,
                    kind,
                    last_attempt_at: now,
                    last_success_at: Some(now),
                    last_error: None,
                    consecutive_failures: 0,
                    next_attempt_at: schedule::next_after_success(
                        &self.settings,
                        validity,
                        now,
                        Jitter::random(),
                    ),
                };
                match new {
                    Some(new) => {
                        let crl = &new.crl;
                        let record = CrlToCache {
                            ca_id: ca.id,
                            kind,
                            url,
                            der: crl.der(),
                            der_sha256: new.der_sha256,
                            crl_number: crl.crl_number().unwrap_or_default(),
                            this_update: crl.this_update(),
                            next_update: crl.next_update().unwrap_or(now),
                            entry_count: i64::try_from(crl.entry_count()).unwrap_or(i64::MAX),
                            etag: new.etag.as_deref(),
                            last_modified: new.last_modified.as_deref(),
                            fetched_at: now,
                        };
                        self.store.put_cached_crl(&record, &status).await?;
                        self.parsed.insert(ca.id, kind, new.crl);
                    }
                    None => self.store.put_fetch_status(&status).await?,
                }
                if let RefreshOutcome::Updated {
                    crl_number,
                    entries,
                    bytes,
                } = &outcome
                {
                    self.audit(
                        ca,
                        kind,
                        "ok",
                        format!(
                            "CRL number {} from {url}: {entries} entries, {bytes} bytes",
                            certgate_core::hex(crl_number)
                        ),
                    )
                    .await?;
                }
                outcome
            }
            Err(refusal) => {
                let background_will_load = urgency == Urgency::Interactive
                    && matches!(
                        &refusal,
                        CrlRefusal::Fetch(FetchError::TooLarge { size, .. })
                            if *size <= self.settings.background.max_bytes
                    );
                let (consecutive_failures, next_attempt_at) = self.schedule_after_failure(
                    urgency,
                    previous_status.as_ref(),
                    cached.as_ref().map(|c| c.next_update),
                    background_will_load,
                    now,
                );
                let status = CrlFetchStatus {
                    ca_id: ca.id,
                    kind,
                    last_attempt_at: now,
                    last_success_at: previous_status.as_ref().and_then(|s| s.last_success_at),
                    last_error: Some((refusal.code().to_owned(), refusal.to_string())),
                    consecutive_failures,
                    next_attempt_at,
                };
                self.store.put_fetch_status(&status).await?;
                let kept_cached = cached.is_some();
                let consequence = match &cached {
                    Some(c) if c.next_update.0 < now.0 => format!(
                        " (the cached CRL expired at {}: certificates from this CA are refused with crl-stale until a current CRL arrives)",
                        certgate_core::clock::rfc3339(c.next_update)
                    ),
                    Some(c) => format!(
                        " (the cached CRL stays in use until its nextUpdate, {})",
                        certgate_core::clock::rfc3339(c.next_update)
                    ),
                    None => " (no CRL is cached: certificates from this CA are refused with crl-unavailable until one arrives)".to_owned(),
                };
                let consequence = if background_will_load {
                    format!(
                        "{consequence}; the background refresh of `certgate serve` loads CRLs up to {} bytes and fetches this one at its next run",
                        self.settings.background.max_bytes
                    )
                } else {
                    consequence
                };
                self.audit(
                    ca,
                    kind,
                    refusal.code(),
                    format!("{url}: {refusal}{consequence}"),
                )
                .await?;
                RefreshOutcome::Failed {
                    code: refusal.code().to_owned(),
                    message: format!("{refusal}{consequence}"),
                    kept_cached,
                }
            }
        };
        Ok(RefreshReport {
            ca_id: ca.id,
            kind,
            url: url.to_owned(),
            outcome,
        })
    }

    /// SHA-256 of the cached CRL's DER, to tell the same CRL downloaded again from a reused
    /// number. CRLs cached before the digest was kept are read back once for it, and the
    /// bytes dropped before the download starts.
    async fn cached_der_sha256(&self, summary: &CachedCrlSummary) -> StoreResult<Vec<u8>> {
        if let Some(digest) = &summary.der_sha256 {
            return Ok(digest.clone());
        }
        Ok(self
            .store
            .cached_crl(summary.ca_id, summary.kind)
            .await?
            .map(|cached| der_sha256(&cached.der).to_vec())
            .unwrap_or_default())
    }

    /// The failure count and next attempt to record after a failed refresh. The scheduler's
    /// own failures back off ([`schedule::next_after_failure`]); one a person asked for
    /// changes neither, so that trying by hand while an endpoint is down never pushes the
    /// automatic retry back. When the CRL was only too large for the interactive limits, the
    /// scheduler is due at once: it loads it under the background limits.
    fn schedule_after_failure(
        &self,
        urgency: Urgency,
        previous: Option<&CrlFetchStatus>,
        cached_next_update: Option<UnixTime>,
        background_will_load: bool,
        now: UnixTime,
    ) -> (i64, UnixTime) {
        let failures = previous.map_or(0, |s| s.consecutive_failures);
        match urgency {
            Urgency::Background => {
                let failures = failures + 1;
                let next = schedule::next_after_failure(
                    &self.settings,
                    failures,
                    cached_next_update,
                    now,
                    Jitter::random(),
                );
                (failures, next)
            }
            Urgency::Interactive => {
                let scheduled = previous.map_or(now, |s| s.next_attempt_at);
                let next = if background_will_load {
                    UnixTime(scheduled.0.min(now.0))
                } else {
                    scheduled
                };
                (failures, next)
            }
        }
    }

    /// Joins the CAs, their cached CRLs and the fetch history.
    pub async fn status(&self) -> StoreResult<Vec<CrlStatusRow>> {
        let cas = self.store.list_cas().await?;
        let summaries = self.store.cached_crl_summaries().await?;
        let statuses = self.store.fetch_statuses().await?;
        let mut rows = Vec::new();
        for ca in cas {
            for (kind, url) in urls_of(&ca) {
                rows.push(CrlStatusRow {
                    kind,
                    url: url.to_owned(),
                    cached: summaries
                        .iter()
                        .find(|s| s.ca_id == ca.id && s.kind == kind)
                        .cloned(),
                    fetch: statuses
                        .iter()
                        .find(|s| s.ca_id == ca.id && s.kind == kind)
                        .cloned(),
                    ca: ca.clone(),
                });
            }
        }
        Ok(rows)
    }

    async fn audit(
        &self,
        ca: &CaRecord,
        kind: CrlKind,
        outcome: &str,
        detail: String,
    ) -> StoreResult<()> {
        self.store
            .append_audit(&AuditEvent::new(
                self.clock.now(),
                &self.actor,
                "crl.refresh",
                format!("ca {} {}", ca.id, kind.as_str()),
                outcome,
                detail,
            ))
            .await
    }
}

/// The CA's configured CRL URLs: only these are ever fetched (never a URL from a presented
/// certificate, which would let any client make certgate send requests where it likes).
fn urls_of(ca: &CaRecord) -> impl Iterator<Item = (CrlKind, &str)> {
    [
        (CrlKind::Base, ca.settings.crl_url.as_deref()),
        (CrlKind::Delta, ca.settings.delta_crl_url.as_deref()),
    ]
    .into_iter()
    .filter_map(|(kind, url)| Some((kind, url?)))
}
