//! The figures of one run: a table for people, JSON for machines.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::format::{human_bytes, machine, ms, percentile};
use crate::cpu;
use crate::load::{Exchange, Segment};

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
    pub(crate) segments: Vec<Segment>,
}

impl Summary {
    fn sign_ins(&self) -> usize {
        self.segments.iter().map(|s| s.latencies_ns.len()).sum()
    }

    fn seconds(&self) -> f64 {
        self.segments.iter().map(|s| s.seconds).sum()
    }

    pub(crate) fn rate(&self) -> f64 {
        self.sign_ins() as f64 / self.seconds().max(1e-9)
    }

    pub(crate) fn errors(&self) -> u64 {
        self.segments.iter().map(|s| s.errors).sum()
    }

    fn first_error(&self) -> Option<&str> {
        self.segments.iter().find_map(|s| s.first_error.as_deref())
    }

    fn sorted_latencies(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self
            .segments
            .iter()
            .flat_map(|s| s.latencies_ns.iter().copied())
            .collect();
        all.sort_unstable();
        all
    }

    fn cpu(&self) -> cpu::Used {
        let mut total = cpu::Used::default();
        for segment in &self.segments {
            total.add(&segment.cpu);
        }
        total
    }

    /// Server CPU time per sign-in, microseconds.
    pub(crate) fn server_cpu_us(&self) -> f64 {
        self.cpu().server * 1e6 / (self.sign_ins().max(1) as f64)
    }

    fn load_cpu_us(&self) -> f64 {
        self.cpu().load * 1e6 / (self.sign_ins().max(1) as f64)
    }

    fn to_json(&self) -> Value {
        let latencies = self.sorted_latencies();
        let cpu = self.cpu();
        let seconds = self.seconds();
        json!({
            "sign_ins": self.sign_ins(),
            "seconds": seconds,
            "per_second": self.rate(),
            "segment_rates": self.segments.iter().map(|s| s.latencies_ns.len() as f64 / s.seconds).collect::<Vec<_>>(),
            "latency_ns": {
                "p50": percentile(&latencies, 0.50),
                "p99": percentile(&latencies, 0.99),
                "max": latencies.last().copied().unwrap_or(0),
                "mean": mean(&latencies),
            },
            "errors": self.errors(),
            "first_error": self.first_error(),
            "cpu_seconds": {
                "server": cpu.server,
                "load_generator": cpu.load,
                "machine_busy": cpu.machine,
            },
            "cores": {
                "server": cpu.server / seconds.max(1e-9),
                "load_generator": cpu.load / seconds.max(1e-9),
                "other_processes": (cpu.machine - cpu.server - cpu.load).max(0.0) / seconds.max(1e-9),
            },
            "server_cpu_us_per_sign_in": self.server_cpu_us(),
            "load_generator_cpu_us_per_sign_in": self.load_cpu_us(),
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
            let latencies = summary.sorted_latencies();
            let cpu = summary.cpu();
            let seconds = summary.seconds().max(1e-9);
            println!(
                "| {} | {:.0} | {} | {} | {} | {} | {:.0} µs | {:.2}, {:.2}, {:.2} | {} |",
                summary.name,
                summary.rate(),
                ms(percentile(&latencies, 0.50)),
                ms(percentile(&latencies, 0.99)),
                ms(latencies.last().copied().unwrap_or(0)),
                summary.errors(),
                summary.server_cpu_us(),
                cpu.server / seconds,
                cpu.load / seconds,
                (cpu.machine - cpu.server - cpu.load).max(0.0) / seconds,
                summary
                    .segments
                    .iter()
                    .map(|s| format!("{:.0}", s.latencies_ns.len() as f64 / s.seconds))
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
            if let Some(error) = summary.first_error() {
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

fn mean(values: &[u64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64
}
