//! The CRL service: downloads each trusted CA's configured CRL URLs within limits, accepts
//! only CRLs that pass certgate-core's rules, persists them, and swaps a new validation state
//! in. Validations never wait for any of it.

use certgate_core::Store;
use std::sync::Arc;

use certgate_core::audit::AuditEvent;
use certgate_core::clock::Clock;
use certgate_core::crl_cache::{
    accept_downloaded_crl, Accepted, CachedCrl, CachedCrlSummary, CrlFetchStatus, CrlKind,
    CrlRefusal, Previous,
};
use certgate_core::crl_fetch::{Conditional, CrlFetcher, FetchLimits, FetchOutcome, FetchProgress};
use certgate_core::store::{StoreError, StoreResult};
use certgate_core::trusted_ca::{CaId, CaRecord};
use certgate_core::validation_state::{build_state_with, ParsedCrls, SharedState};
use certgate_pki::{Certificate, UnixTime};

/// Limits and timing of CRL refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlSettings {
    /// For a CA with no usable CRL yet (its users cannot sign in until it arrives) and for
    /// refreshes an administrator asked for.
    pub interactive: FetchLimits,
    /// For scheduled refreshes of a CRL that is still current.
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

/// Which limits a refresh runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    /// Someone waits: a CA with no usable CRL yet, or a refresh an administrator asked for.
    Interactive,
    /// A scheduled refresh of a CRL that is still current.
    Background,
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
        let state = tokio::task::spawn_blocking(move || {
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
                let limits = match urgency {
                    Urgency::Interactive => self.settings.interactive,
                    Urgency::Background => self.settings.background,
                };
                reports.push(self.refresh_one(ca, kind, url, limits, progress).await?);
            }
        }
        self.rebuild().await?;
        Ok(reports)
    }

    /// Refreshes the URLs whose scheduled time has come. A CA without any cached CRL gets
    /// the interactive limits: its users cannot sign in until the CRL arrives.
    pub async fn refresh_due(&self) -> StoreResult<Vec<RefreshReport>> {
        let now = self.clock.now();
        let cas = self.store.list_cas().await?;
        let statuses = self.store.fetch_statuses().await?;
        let summaries = self.store.cached_crl_summaries().await?;
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
                let cached = summaries.iter().any(|s| s.ca_id == ca.id && s.kind == kind);
                let limits = if cached {
                    self.settings.background
                } else {
                    self.settings.interactive
                };
                reports.push(
                    self.refresh_one(ca, kind, url, limits, &certgate_core::crl_fetch::NoProgress)
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
        limits: FetchLimits,
        progress: &dyn FetchProgress,
    ) -> StoreResult<RefreshReport> {
        let cached = self.store.cached_crl(ca.id, kind).await?;
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
        let result: Result<(RefreshOutcome, Option<CachedCrl>), CrlRefusal> = match fetched {
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
                let ca_der = ca.certificate_der.clone();
                let previous = cached
                    .as_ref()
                    .map(|c| (c.crl_number.clone(), c.der.clone()));
                let accepted = tokio::task::spawn_blocking(move || {
                    let certificate =
                        Certificate::from_der(&ca_der).map_err(CrlRefusal::Malformed)?;
                    let previous = previous.as_ref().map(|(number, der)| Previous {
                        crl_number: number,
                        der,
                    });
                    accept_downloaded_crl(body, kind, &certificate, previous, now, skew)
                })
                .await
                .map_err(|error| StoreError::Unavailable {
                    detail: format!("checking the downloaded CRL failed: {error}"),
                })?;
                match accepted {
                    Err(refusal) => Err(refusal),
                    Ok(Accepted::Unchanged) => Ok((RefreshOutcome::Unchanged, None)),
                    Ok(Accepted::New(crl)) => {
                        let crl_number = crl.crl_number().unwrap_or_default().to_vec();
                        let entries = crl.entry_count();
                        let record = CachedCrl {
                            ca_id: ca.id,
                            kind,
                            url: url.to_owned(),
                            der: crl.der().to_vec(),
                            crl_number: crl_number.clone(),
                            this_update: crl.this_update(),
                            next_update: crl.next_update().unwrap_or(now),
                            entry_count: entries as i64,
                            etag,
                            last_modified,
                            fetched_at: now,
                        };
                        self.parsed.insert(ca.id, kind, Arc::from(crl));
                        Ok((
                            RefreshOutcome::Updated {
                                crl_number,
                                entries,
                                bytes,
                            },
                            Some(record),
                        ))
                    }
                }
            }
        };
        let outcome = match result {
            Ok((outcome, record)) => {
                let current = record.as_ref().or(cached.as_ref());
                let status = CrlFetchStatus {
                    ca_id: ca.id,
                    kind,
                    last_attempt_at: now,
                    last_success_at: Some(now),
                    last_error: None,
                    consecutive_failures: 0,
                    next_attempt_at: self.next_after_success(current, now),
                };
                match &record {
                    Some(record) => self.store.put_cached_crl(record, &status).await?,
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
                let failures = previous_status
                    .as_ref()
                    .map_or(0, |s| s.consecutive_failures)
                    + 1;
                let status = CrlFetchStatus {
                    ca_id: ca.id,
                    kind,
                    last_attempt_at: now,
                    last_success_at: previous_status.as_ref().and_then(|s| s.last_success_at),
                    last_error: Some((refusal.code().to_owned(), refusal.to_string())),
                    consecutive_failures: failures,
                    next_attempt_at: self.next_after_failure(failures, now),
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

    /// Next check after a success: three quarters into the CRL's validity (well before
    /// nextUpdate, as Entra pre-fetches), clamped to the configured interval, with jitter so
    /// that many nodes do not hit the CA's server in the same second.
    fn next_after_success(&self, current: Option<&CachedCrl>, now: UnixTime) -> UnixTime {
        let settings = &self.settings;
        let target = match current {
            Some(crl) => {
                let period = (crl.next_update.0 - crl.this_update.0).max(0);
                crl.this_update.0 + period * 3 / 4
            }
            None => now.0 + settings.min_interval_seconds,
        };
        let wait =
            (target - now.0).clamp(settings.min_interval_seconds, settings.max_interval_seconds);
        UnixTime(now.0 + jittered(wait))
    }

    fn next_after_failure(&self, failures: i64, now: UnixTime) -> UnixTime {
        let settings = &self.settings;
        let exponent = u32::try_from(failures.clamp(1, 16) - 1).unwrap_or(0);
        let wait = settings
            .retry_seconds
            .saturating_mul(1 << exponent)
            .min(settings.max_retry_seconds);
        UnixTime(now.0 + jittered(wait))
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

/// `seconds` ± up to 10 %.
fn jittered(seconds: i64) -> i64 {
    let mut byte = [0u8; 2];
    if aws_lc_rs::rand::fill(&mut byte).is_err() {
        return seconds;
    }
    let spread = seconds / 10;
    if spread == 0 {
        return seconds;
    }
    let offset = i64::from(u16::from_le_bytes(byte)) % (2 * spread + 1) - spread;
    (seconds + offset).max(1)
}
