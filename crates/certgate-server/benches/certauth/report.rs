//! The figures of one run: a table for people, JSON for machines.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::format::{human_bytes, machine, ms, percentile};
use crate::common::load::{Exchange, Series};

/// The target: certgate signs in at least this many times nginx's rate.
pub(crate) const TARGET_RATIO: f64 = 1.5;

/// What the checks before the load saw from one server.
pub(crate) struct Checked {
    pub(crate) valid: Exchange,
    pub(crate) revoked: Exchange,
}

/// One server's figures over all its segments.
pub(crate) struct Summary {
    pub(crate) name: &'static str,
    pub(crate) checked: Checked,
    pub(crate) series: Series,
}

impl Summary {
    pub(crate) fn rate(&self) -> f64 {
        self.series.rate()
    }

    pub(crate) fn errors(&self) -> u64 {
        self.series.errors()
    }

    /// Server CPU time per sign-in, microseconds.
    pub(crate) fn server_cpu_us(&self) -> f64 {
        self.series.server_cpu_us()
    }

    fn to_json(&self) -> Value {
        let series = &self.series;
        let cpu = series.cpu();
        let [server, load, _, others] = series.cores();
        json!({
            "sign_ins": series.count(),
            "seconds": series.seconds(),
            "per_second": series.rate(),
            "segment_rates": series.segment_rates(),
            "latency_ns": series.latency_json(),
            "errors": series.errors(),
            "first_error": series.first_error(),
            "cpu_seconds": {
                "server": cpu.server,
                "load_generator": cpu.load,
                "machine_busy": cpu.machine,
            },
            "cores": {
                "server": server,
                "load_generator": load,
                "other_processes": others,
            },
            "server_cpu_us_per_sign_in": series.server_cpu_us(),
            "load_generator_cpu_us_per_sign_in": series.load_cpu_us(),
            "checks": {
                "valid": self.checked.valid.body_text(),
                "revoked": self.checked.revoked.body_text(),
                "revoked_status": self.checked.revoked.status,
            },
            "tls": {
                "protocol": self.checked.valid.protocol,
                "cipher_suite": self.checked.valid.cipher_suite,
                "key_exchange": self.checked.valid.key_exchange,
                "full_handshake": self.checked.valid.full_handshake,
            },
        })
    }
}

pub(crate) struct Run {
    pub(crate) quick: bool,
    pub(crate) concurrency: usize,
    pub(crate) warm_up: Duration,
    pub(crate) per_target: Duration,
    pub(crate) rounds: usize,
    pub(crate) load_average: Option<f64>,
    pub(crate) crl_entries: usize,
    pub(crate) issuing_crl_bytes: usize,
    pub(crate) root_crl_bytes: usize,
    pub(crate) crl_window: (i64, i64),
    pub(crate) fixture_directory: PathBuf,
    pub(crate) fixture_generated: Option<Duration>,
    pub(crate) nginx_version: String,
    pub(crate) certgate: Summary,
    pub(crate) nginx: Summary,
}

impl Run {
    fn ratio(&self) -> f64 {
        self.certgate.rate() / self.nginx.rate().max(1e-9)
    }

    /// nginx's CPU per sign-in over certgate's: how many times the sign-ins certgate serves
    /// on the same CPU.
    fn cpu_ratio(&self) -> f64 {
        self.nginx.server_cpu_us() / self.certgate.server_cpu_us().max(1e-9)
    }

    pub(crate) fn pass(&self) -> bool {
        self.ratio() >= TARGET_RATIO && self.certgate.errors() == 0 && self.nginx.errors() == 0
    }

    pub(crate) fn print(&self) {
        println!();
        println!(
            "mTLS sign-in (new TCP connection + full TLS 1.3 handshake + GET /certauth), {} tasks, {:.0} s per server in {} interleaved rounds{}",
            self.concurrency,
            self.per_target.as_secs_f64(),
            self.rounds,
            if self.quick { " (quick run)" } else { "" }
        );
        println!(
            "client chain: RSA-2048 leaf + issuing CA; server certificate: ECDSA P-256; issuing CRL {} entries ({}), root CRL {}",
            self.crl_entries + 1,
            human_bytes(self.issuing_crl_bytes as u64),
            human_bytes(self.root_crl_bytes as u64),
        );
        println!(
            "TLS: {} {} {}; nginx: {}; load average at start: {}",
            self.certgate.checked.valid.protocol,
            self.certgate.checked.valid.cipher_suite,
            self.certgate.checked.valid.key_exchange,
            self.nginx_version,
            self.load_average
                .map_or_else(|| "n/a".into(), |l| format!("{l:.2}"))
        );
        println!();
        println!(
            "| server | sign-ins/s | p50 | p99 | max | errors | server CPU / sign-in | cores used: server, load generator, others | rounds (/s) |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for summary in [&self.certgate, &self.nginx] {
            let series = &summary.series;
            let latencies = series.sorted_latencies();
            let [server, load, _, others] = series.cores();
            println!(
                "| {} | {:.0} | {} | {} | {} | {} | {:.0} µs | {server:.2}, {load:.2}, {others:.2} | {} |",
                summary.name,
                series.rate(),
                ms(percentile(&latencies, 0.50)),
                ms(percentile(&latencies, 0.99)),
                ms(latencies.last().copied().unwrap_or(0)),
                series.errors(),
                series.server_cpu_us(),
                series
                    .segment_rates()
                    .iter()
                    .map(|rate| format!("{rate:.0}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        println!();
        println!(
            "certgate / nginx sign-ins per second: {:.2}× (target ≥ {TARGET_RATIO}×): {}",
            self.ratio(),
            if self.pass() { "PASS" } else { "FAIL" }
        );
        println!(
            "sign-ins per server CPU-second, certgate / nginx: {:.2}× ({:.0} vs {:.0} µs of server CPU per sign-in)",
            self.cpu_ratio(),
            self.certgate.server_cpu_us(),
            self.nginx.server_cpu_us()
        );
        for summary in [&self.certgate, &self.nginx] {
            if let Some(error) = summary.series.first_error() {
                println!("{}: first error: {error}", summary.name);
            }
        }
        println!(
            "checks: certgate valid → {}; revoked → HTTP {} {}",
            summary_line(&self.certgate.checked.valid),
            self.certgate.checked.revoked.status,
            summary_line(&self.certgate.checked.revoked)
        );
        println!(
            "        nginx valid → {}; revoked → {}",
            summary_line(&self.nginx.checked.valid),
            summary_line(&self.nginx.checked.revoked)
        );
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "benchmark": "certauth",
            "quick": self.quick,
            "machine": machine(),
            "load_average": self.load_average,
            "settings": {
                "concurrency": self.concurrency,
                "warm_up_s": self.warm_up.as_secs_f64(),
                "seconds_per_server": self.per_target.as_secs_f64(),
                "rounds": self.rounds,
                "client_chain": "RSA-2048 leaf + RSA-2048 issuing CA (certgate-testpki three-level)",
                "server_certificate": "ECDSA P-256, self-signed, localhost",
                "tls": "TLS 1.3, X25519, no resumption",
                "request": "GET /certauth HTTP/1.1, Connection: close",
            },
            "fixture": {
                "directory": self.fixture_directory,
                "generated_s": self.fixture_generated.map(|d| d.as_secs_f64()),
                "issuing_crl_entries": self.crl_entries + 1,
                "issuing_crl_bytes": self.issuing_crl_bytes,
                "root_crl_bytes": self.root_crl_bytes,
                "crl_this_update": self.crl_window.0,
                "crl_next_update": self.crl_window.1,
            },
            "nginx_version": self.nginx_version,
            "certgate": self.certgate.to_json(),
            "nginx": self.nginx.to_json(),
            "ratio": self.ratio(),
            "target_ratio": TARGET_RATIO,
            "pass": self.pass(),
            "server_cpu_ratio": self.cpu_ratio(),
        })
    }
}

fn summary_line(exchange: &Exchange) -> String {
    let text = exchange.body_text();
    let short: String = text.chars().take(120).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}
