//! Timing: repeated batches of one operation, reported as the median over samples.
//!
//! The median of per-sample means is robust against the odd descheduled batch on a shared
//! two-core machine; the min and max rates are kept so a noisy run shows itself.

use std::time::{Duration, Instant};

/// How long each throughput measurement runs, and how many samples it is split into.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    pub(crate) warm_up: Duration,
    pub(crate) measure: Duration,
    pub(crate) samples: u32,
}

impl Budget {
    pub(crate) fn default_run() -> Self {
        Budget {
            warm_up: Duration::from_millis(300),
            measure: Duration::from_secs(3),
            samples: 15,
        }
    }

    pub(crate) fn quick() -> Self {
        Budget {
            warm_up: Duration::from_millis(20),
            measure: Duration::from_millis(150),
            samples: 5,
        }
    }
}

/// The result of one throughput measurement.
#[derive(Clone, Debug)]
pub(crate) struct Throughput {
    /// Median nanoseconds per operation over the samples.
    pub(crate) median_ns: f64,
    /// Fastest and slowest sample, in nanoseconds per operation.
    pub(crate) best_ns: f64,
    pub(crate) worst_ns: f64,
    pub(crate) operations: u64,
}

impl Throughput {
    pub(crate) fn per_second(&self) -> f64 {
        1e9 / self.median_ns
    }
}

/// Measures several operations in rounds: each round runs one sample of every operation in
/// turn. Other load on the machine (it is shared, with two cores) then slows all of them
/// alike, so their ratios stay meaningful even when the absolute rates move. Each operation
/// gets about `budget.warm_up + budget.measure` of running time.
pub(crate) fn interleaved(budget: Budget, operations: &mut [&mut dyn FnMut()]) -> Vec<Throughput> {
    // Warm-up also estimates the cost of one call, which sizes the batches.
    let sample_time = budget.measure.as_secs_f64() / f64::from(budget.samples);
    let batches: Vec<u64> = operations
        .iter_mut()
        .map(|operation| {
            let start = Instant::now();
            let mut calls: u64 = 0;
            while calls == 0 || start.elapsed() < budget.warm_up {
                operation();
                calls += 1;
            }
            let per_call = start.elapsed().as_secs_f64() / calls as f64;
            ((sample_time / per_call.max(1e-9)) as u64).max(1)
        })
        .collect();

    let mut per_op: Vec<Vec<f64>> =
        vec![Vec::with_capacity(budget.samples as usize); operations.len()];
    for _ in 0..budget.samples {
        for ((operation, batch), samples) in operations.iter_mut().zip(&batches).zip(&mut per_op) {
            let started = Instant::now();
            for _ in 0..*batch {
                operation();
            }
            samples.push(started.elapsed().as_nanos() as f64 / *batch as f64);
        }
    }
    per_op
        .into_iter()
        .zip(batches)
        .map(|(mut samples, batch)| {
            samples.sort_by(f64::total_cmp);
            Throughput {
                median_ns: median(&samples),
                best_ns: samples[0],
                worst_ns: samples[samples.len() - 1],
                operations: batch * u64::from(budget.samples),
            }
        })
        .collect()
}

/// Median of a sorted, non-empty slice.
pub(crate) fn median(sorted: &[f64]) -> f64 {
    // For an odd length both indices are the middle element.
    let n = sorted.len();
    (sorted[(n - 1) / 2] + sorted[n / 2]) / 2.0
}
