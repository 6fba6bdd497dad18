//! The figures of one run: a table for people, JSON for machines.

use serde_json::{json, Value};

use crate::common::format::{ms, percentile, rates, short};
use crate::common::load::{Exchange, Series};
use crate::common::side_by_side::RunFacts;

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
    pub(crate) facts: RunFacts,
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
        let facts = &self.facts;
        println!();
        println!(
            "mTLS sign-in (new TCP connection + full TLS 1.3 handshake + GET /certauth), {} tasks, {:.0} s per server in {} interleaved rounds{}",
            facts.concurrency,
            facts.per_target.as_secs_f64(),
            facts.rounds,
            facts.quick_note()
        );
        facts.print_setting(&self.certgate.checked.valid, "");
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
                rates(&series.segment_rates()),
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
            short(&self.certgate.checked.valid.body_text(), 120),
            self.certgate.checked.revoked.status,
            short(&self.certgate.checked.revoked.body_text(), 120)
        );
        println!(
            "        nginx valid → {}; revoked → {}",
            short(&self.nginx.checked.valid.body_text(), 120),
            short(&self.nginx.checked.revoked.body_text(), 120)
        );
    }

    pub(crate) fn to_json(&self) -> Value {
        self.facts.to_json(
            "certauth",
            "seconds_per_server",
            json!({ "request": "GET /certauth HTTP/1.1, Connection: close" }),
            json!({
                "certgate": self.certgate.to_json(),
                "nginx": self.nginx.to_json(),
                "ratio": self.ratio(),
                "target_ratio": TARGET_RATIO,
                "pass": self.pass(),
                "server_cpu_ratio": self.cpu_ratio(),
            }),
        )
    }
}
