//! The settings the two nginx-beside-certgate benchmarks (certauth, front_door) read from the
//! environment: quick or full, the CRL size, warm-up and measuring time, the load's
//! concurrency.

use std::time::Duration;

use anyhow::{anyhow, Result};

use super::certgate_process::Revocation;

/// How long and how hard a run measures.
pub(crate) struct Settings {
    pub(crate) quick: bool,
    pub(crate) crl_bytes: usize,
    pub(crate) warm_up: Duration,
    pub(crate) per_target: Duration,
    pub(crate) concurrency: usize,
}

impl Settings {
    pub(crate) fn from_env() -> Result<Settings> {
        let quick = super::quick();
        let concurrency = match std::env::var("CERTGATE_BENCH_CONCURRENCY") {
            Ok(text) if !text.is_empty() => text
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| anyhow!("CERTGATE_BENCH_CONCURRENCY={text:?} is not a count"))?,
            _ => 16,
        };
        Ok(if quick {
            Settings {
                quick,
                crl_bytes: 700_000,
                warm_up: Duration::from_millis(300),
                per_target: Duration::from_secs(2),
                concurrency,
            }
        } else {
            Settings {
                quick,
                crl_bytes: 20_000_000,
                warm_up: Duration::from_secs(1),
                per_target: Duration::from_secs(10),
                concurrency,
            }
        })
    }

    /// The issuing CRLs a run compares, largest first: the settings' (20 MB; 700 kB in a
    /// quick run), a tenth-or-so of it (700 kB; 70 kB in a quick run), and none. A benchmark's
    /// top-level figures are the largest CRL's.
    pub(crate) fn crl_variants(&self) -> [(usize, Revocation); 3] {
        let medium = if self.quick { 70_000 } else { 700_000 };
        [
            (self.crl_bytes, Revocation::Crl),
            (medium, Revocation::Crl),
            // The certificates of the smallest fixture; no CRL is loaded.
            (medium, Revocation::NoCrl),
        ]
    }
}
