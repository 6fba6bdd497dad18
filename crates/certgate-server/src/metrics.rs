//! Prometheus metrics (`/metrics`): sign-ins by result and reason, refusals by reason code, certificate validation
//! latency, and the age of each CA's cached CRL.

use std::sync::Arc;

use certgate_core::crl_cache::CachedCrlSummary;
use certgate_pki::UnixTime;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

/// The server's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    signins: Family<Labels, Counter>,
    refusals: Family<Labels, Counter>,
    validation_seconds: Histogram,
    crl_age_seconds: Family<Labels, Gauge>,
    crl_seconds_to_next_update: Family<Labels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `certgate_` prefix; nothing counted yet.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("certgate");
        let signins = Family::<Labels, Counter>::default();
        registry.register(
            "signins",
            "Certificate sign-in attempts by result and reason code",
            signins.clone(),
        );
        let refusals = Family::<Labels, Counter>::default();
        registry.register(
            "refusals",
            "Requests refused on any listener, by reason code (store-unavailable: the database did not answer)",
            refusals.clone(),
        );
        // 10 µs .. ~40 ms: chain validation with CRL lookups.
        let validation_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.000_01, 2.0, 13),
        );
        registry.register(
            "certificate_validation_seconds",
            "Time to validate a presented certificate chain",
            validation_seconds.clone(),
        );
        let crl_age_seconds = Family::<Labels, Gauge>::default();
        registry.register(
            "crl_age_seconds",
            "Seconds since the cached CRL's thisUpdate, per CA and kind",
            crl_age_seconds.clone(),
        );
        let crl_seconds_to_next_update = Family::<Labels, Gauge>::default();
        registry.register(
            "crl_seconds_to_next_update",
            "Seconds until the cached CRL's nextUpdate (negative: stale), per CA and kind",
            crl_seconds_to_next_update.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                signins,
                refusals,
                validation_seconds,
                crl_age_seconds,
                crl_seconds_to_next_update,
            }),
        }
    }

    /// One sign-in attempt (`certgate_signins_total`), by result (`success` or `failure`) and
    /// reason code.
    pub fn signin(&self, result: &str, reason_code: &str) {
        self.inner
            .signins
            .get_or_create(&vec![
                ("result".to_owned(), result.to_owned()),
                ("reason".to_owned(), reason_code.to_owned()),
            ])
            .inc();
    }

    /// One refused request (any listener), by its reason code.
    pub fn refused(&self, code: &str) {
        self.inner
            .refusals
            .get_or_create(&vec![("code".to_owned(), code.to_owned())])
            .inc();
    }

    /// One validation of a presented certificate chain, CRL lookups included
    /// (`certgate_certificate_validation_seconds`).
    pub fn validation_took(&self, seconds: f64) {
        self.inner.validation_seconds.observe(seconds);
    }

    /// Sets the CRL gauges from the cache.
    pub fn crls(&self, cached: &[CachedCrlSummary], now: UnixTime) {
        for crl in cached {
            let labels = vec![
                ("ca".to_owned(), crl.ca_id.to_string()),
                ("kind".to_owned(), crl.kind.as_str().to_owned()),
            ];
            self.inner
                .crl_age_seconds
                .get_or_create(&labels)
                .set(now.0 - crl.this_update.0);
            self.inner
                .crl_seconds_to_next_update
                .get_or_create(&labels)
                .set(crl.next_update.0 - now.0);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.inner.registry).is_err() {
            out.clear();
        }
        out
    }
}
