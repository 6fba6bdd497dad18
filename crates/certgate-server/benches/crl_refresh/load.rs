//! The validators: threads that load the shared validation state and validate the leaf's
//! chain flat out, timing every validation (the `load()` included) against one clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{anyhow, Result};
use certgate_core::validation_state::SharedState;
use certgate_pki::{Certificate, UnixTime};

use crate::common::format::percentile;

/// One validation: when it finished (ns since the run's epoch) and how long it took.
#[derive(Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) done_ns: u64,
    pub(crate) latency_ns: u64,
}

/// A validation that released the last reference to a replaced state, so that freeing the
/// state (and its CRLs) happened on a validator thread inside the timed window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LastRelease {
    pub(crate) done_ns: u64,
    /// The whole validation, the drop included.
    pub(crate) latency_ns: u64,
    /// The drop of the state alone.
    pub(crate) drop_ns: u64,
}

#[derive(Default)]
pub(crate) struct ThreadRecord {
    /// Completion order; stored in chunks so that recording never copies a large buffer.
    chunks: Vec<Vec<Sample>>,
    pub(crate) failures: u64,
    pub(crate) first_failure: Option<String>,
    /// When this thread first validated against a state of another generation than the
    /// first one it saw.
    pub(crate) first_new_generation_ns: Option<u64>,
    pub(crate) last_releases: Vec<LastRelease>,
}

const CHUNK: usize = 1 << 16;

impl ThreadRecord {
    fn push(&mut self, sample: Sample) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < chunk.capacity() => chunk.push(sample),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(sample);
                self.chunks.push(chunk);
            }
        }
    }

    pub(crate) fn samples(&self) -> impl Iterator<Item = &Sample> {
        self.chunks.iter().flatten()
    }
}

pub(crate) struct Validators {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<ThreadRecord>>,
}

impl Validators {
    /// Starts `count` threads validating `leaf` (with `intermediate` sent alongside, as a
    /// client does) at `at`; they run until [`Validators::stop`].
    pub(crate) fn start(
        count: usize,
        state: Arc<SharedState>,
        leaf_der: &[u8],
        intermediate_der: &[u8],
        at: UnixTime,
        epoch: Instant,
    ) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let ready = Arc::new(Barrier::new(count + 1));
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            // Each thread parses its own copies: nothing but the state is shared.
            let leaf = Certificate::from_der(leaf_der).map_err(|e| anyhow!("leaf: {e}"))?;
            let intermediates = vec![Certificate::from_der(intermediate_der)
                .map_err(|e| anyhow!("intermediate: {e}"))?];
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            let ready = Arc::clone(&ready);
            let thread = std::thread::Builder::new()
                .name(format!("validator-{index}"))
                .spawn(move || {
                    ready.wait();
                    run(&state, &leaf, &intermediates, at, epoch, &stop)
                })?;
            threads.push(thread);
        }
        ready.wait();
        Ok(Validators { stop, threads })
    }

    pub(crate) fn stop(self) -> Result<Vec<ThreadRecord>> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .map_err(|_| anyhow!("a validator thread panicked"))
            })
            .collect()
    }
}

fn run(
    state: &SharedState,
    leaf: &Certificate,
    intermediates: &[Certificate],
    at: UnixTime,
    epoch: Instant,
    stop: &AtomicBool,
) -> ThreadRecord {
    let mut record = ThreadRecord::default();
    let mut first_generation = None;
    let nanos = |instant: Instant| instant.duration_since(epoch).as_nanos() as u64;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let current = state.load();
        let outcome = current
            .validate(leaf, intermediates, at)
            .map(|_path| ())
            .map_err(|rejection| rejection.to_string());
        let generation = current.generation();
        // `into_inner` is `Some` only for the last holder: then this thread frees the old
        // state, and the drop is timed on its own as well.
        let released = Arc::into_inner(current).map(|last| {
            let dropping = Instant::now();
            drop(last);
            dropping.elapsed()
        });
        let finished = Instant::now();
        let sample = Sample {
            done_ns: nanos(finished),
            latency_ns: finished.duration_since(started).as_nanos() as u64,
        };
        record.push(sample);
        if let Some(dropped) = released {
            record.last_releases.push(LastRelease {
                done_ns: sample.done_ns,
                latency_ns: sample.latency_ns,
                drop_ns: dropped.as_nanos() as u64,
            });
        }
        match first_generation {
            None => first_generation = Some(generation),
            Some(first) if first != generation && record.first_new_generation_ns.is_none() => {
                record.first_new_generation_ns = Some(sample.done_ns);
            }
            Some(_) => {}
        }
        if let Err(message) = outcome {
            record.failures += 1;
            record.first_failure.get_or_insert(message);
        }
    }
    record
}

/// Figures of one phase, `[from_ns, to_ns)` by completion time.
#[derive(Clone, Debug, Default)]
pub(crate) struct PhaseStats {
    pub(crate) name: &'static str,
    pub(crate) seconds: f64,
    pub(crate) validations: u64,
    pub(crate) per_second: f64,
    pub(crate) p50_ns: u64,
    pub(crate) p99_ns: u64,
    pub(crate) p999_ns: u64,
    pub(crate) max_ns: u64,
    /// Validations that took longer than the target.
    pub(crate) over_target: u64,
    /// The longest time any one thread went between two completed validations.
    pub(crate) longest_gap_ns: u64,
}

pub(crate) fn phase_stats(
    name: &'static str,
    records: &[ThreadRecord],
    from_ns: u64,
    to_ns: u64,
    target_ns: u64,
) -> PhaseStats {
    let mut latencies = Vec::new();
    let mut longest_gap_ns = 0;
    for record in records {
        let mut previous: Option<u64> = None;
        for sample in record.samples() {
            if (from_ns..to_ns).contains(&sample.done_ns) {
                latencies.push(sample.latency_ns);
                // The gap ending in this phase, even if it started in the one before.
                if let Some(previous) = previous {
                    longest_gap_ns = longest_gap_ns.max(sample.done_ns - previous);
                }
            }
            previous = Some(sample.done_ns);
        }
    }
    latencies.sort_unstable();
    let seconds = (to_ns.saturating_sub(from_ns)) as f64 / 1e9;
    let quantile = |q: f64| percentile(&latencies, q);
    PhaseStats {
        name,
        seconds,
        validations: latencies.len() as u64,
        per_second: latencies.len() as f64 / seconds.max(f64::MIN_POSITIVE),
        p50_ns: quantile(0.50),
        p99_ns: quantile(0.99),
        p999_ns: quantile(0.999),
        max_ns: latencies.last().copied().unwrap_or(0),
        over_target: latencies.iter().filter(|&&l| l > target_ns).count() as u64,
        longest_gap_ns,
    }
}

/// The slowest validations of a window, with the thread that ran them, for the report.
pub(crate) fn slowest(
    records: &[ThreadRecord],
    from_ns: u64,
    to_ns: u64,
    count: usize,
) -> Vec<(usize, Sample)> {
    let mut all: Vec<(usize, Sample)> = records
        .iter()
        .enumerate()
        .flat_map(|(thread, record)| record.samples().map(move |s| (thread, *s)))
        .filter(|(_, s)| (from_ns..to_ns).contains(&s.done_ns))
        .collect();
    all.sort_unstable_by_key(|(_, s)| std::cmp::Reverse(s.latency_ns));
    all.truncate(count);
    all
}
