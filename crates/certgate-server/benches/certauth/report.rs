//! The figures of one run: a table for people, JSON for machines.

use serde_json::{json, Value};

use crate::common::certgate_process::Revocation;
use crate::common::format::{human_bytes, ms, percentile, rates, short};
use crate::common::load::{Exchange, Series};
use crate::common::side_by_side::RunFacts;
use crate::s_time::{STimeRun, PROCESSES};

/// The first target: certgate signs in at least this many times nginx's rate (20 MB CRL).
pub(crate) const TARGET_RATIO: f64 = 1.5;

/// Issue 15's target: server CPU per sign-in measured with s_time, 20 MB CRL, microseconds.
pub(crate) const TARGET_S_TIME_CPU_US: f64 = 500.0;

/// How the s_time cross-check was run, for the table and the JSON.
const S_TIME_CLIENT: &str =
    "openssl s_time -new -www /certauth (HTTP/1.0, OpenSSL, leaf + issuing CA)";

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

/// Successful sign-ins in certgate's sign-in log, against what the clients saw.
pub(crate) struct SignInLog {
    pub(crate) recorded: u64,
    /// Successes seen before s_time: the checks, the load (warm-up included), s_client's.
    pub(crate) before_s_time: u64,
}

pub(crate) struct Run {
    pub(crate) facts: RunFacts,
    pub(crate) certgate: Summary,
    pub(crate) nginx: Summary,
    /// The cross-check with s_time (certgate's, then nginx's), when it ran.
    pub(crate) s_time: Option<[STimeRun; 2]>,
    pub(crate) sign_in_log: SignInLog,
}

impl Run {
    /// The issuing CRL both servers had: its size, or "no CRL".
    fn crl_label(&self) -> String {
        match self.facts.revocation {
            Revocation::Crl => format!("{} CRL", human_bytes(self.facts.issuing_crl_bytes as u64)),
            Revocation::NoCrl => "no CRL".into(),
        }
    }

    pub(crate) fn errors(&self) -> u64 {
        self.certgate.errors() + self.nginx.errors()
    }

    /// Every connection s_time counted was a successful sign-in (true when s_time did not run).
    pub(crate) fn s_time_signed_in(&self) -> bool {
        self.s_time
            .as_ref()
            .is_none_or(|runs| runs.iter().all(STimeRun::all_signed_in))
    }

    /// Successful sign-ins certgate's log should hold: every one a client saw.
    fn expected_recorded(&self) -> u64 {
        self.sign_in_log.before_s_time
            + self
                .s_time
                .as_ref()
                .map_or(0, |[certgate, _]| certgate.connections)
    }

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
        println!("## {}", self.crl_label());
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
        println!("certgate / nginx sign-ins per second: {:.2}×", self.ratio());
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
        if let Some([certgate, nginx]) = &self.s_time {
            for (name, run) in [("certgate", certgate), ("nginx", nginx)] {
                println!(
                    "s_time ({PROCESSES} processes): {name} {} connections in {:.1} s, {:.0} /s, {:.0} µs server CPU per sign-in, {} bytes read per connection; {} of them successful sign-ins in {name}'s log",
                    run.connections,
                    run.seconds,
                    run.rate(),
                    run.server_cpu_us(),
                    run.bytes_per_connection
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    run.logged_successes
                        .map_or_else(|| "unknown".to_owned(), |n| n.to_string()),
                );
            }
        }
        println!(
            "certgate's sign-in log: {} successful sign-ins recorded; the clients saw {} succeed (checks, load with warm-up{})",
            self.sign_in_log.recorded,
            self.expected_recorded(),
            if self.s_time.is_some() { ", s_client, s_time" } else { "" }
        );
        println!(
            "checks: certgate valid → {}; revoked → HTTP {} {}",
            short(&self.certgate.checked.valid.body_text(), 120),
            self.certgate.checked.revoked.status,
            short(&self.certgate.checked.revoked.body_text(), 120)
        );
        println!(
            "        nginx valid → {}; revoked → HTTP {} {}",
            short(&self.nginx.checked.valid.body_text(), 120),
            self.nginx.checked.revoked.status,
            short(&self.nginx.checked.revoked.body_text(), 120)
        );
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut json = self.facts.to_json(
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
        );
        json["certgate"]["sign_in_log"] = self.sign_in_log_json();
        json
    }

    /// This run's figures under `crl_variants`: the CRL, both clients' figures and ratios.
    pub(crate) fn variant_json(&self) -> Value {
        json!({
            "crl": self.crl_label(),
            "crl_loaded": self.facts.revocation == Revocation::Crl,
            "issuing_crl_bytes": self.facts.issuing_crl_bytes,
            "issuing_crl_entries": if self.facts.revocation == Revocation::Crl { self.facts.crl_entries + 1 } else { 0 },
            "load_generator": {
                "certgate": self.certgate.to_json(),
                "nginx": self.nginx.to_json(),
                "ratio": self.ratio(),
                "server_cpu_ratio": self.cpu_ratio(),
            },
            "s_time": self.s_time_json(),
            "certgate_sign_in_log": self.sign_in_log_json(),
        })
    }

    fn s_time_json(&self) -> Value {
        self.s_time
            .as_ref()
            .map_or(Value::Null, |[certgate, nginx]| {
                json!({
                    "certgate": certgate.to_json(),
                    "nginx": nginx.to_json(),
                    "ratio": certgate.rate() / nginx.rate().max(1e-9),
                    "server_cpu_ratio": nginx.server_cpu_us() / certgate.server_cpu_us().max(1e-9),
                })
            })
    }

    fn sign_in_log_json(&self) -> Value {
        json!({
            "recorded_successes": self.sign_in_log.recorded,
            "seen_by_clients": self.expected_recorded(),
        })
    }
}

/// The s_time section of the JSON: how it ran, then each CRL variant's figures.
pub(crate) fn s_time_json(runs: &[Run]) -> Value {
    json!({
        "client": S_TIME_CLIENT,
        "processes": PROCESSES,
        "variants": runs
            .iter()
            .map(|run| json!({ "crl": run.crl_label(), "figures": run.s_time_json() }))
            .collect::<Vec<_>>(),
    })
}

/// One table over every CRL variant and both clients: rates and server CPU per sign-in side by
/// side, with the two ratios named apart (a rate ratio depends on how the two shared cores
/// were split between server and client; CPU per sign-in does not). Then issue 15's sign-in
/// CPU target, judged on s_time's figures.
pub(crate) fn print_summary(runs: &[Run]) {
    println!();
    println!(
        "| CRL | client | certgate sign-ins/s | nginx sign-ins/s | rate certgate/nginx | certgate CPU µs/sign-in | nginx CPU µs/sign-in | CPU per sign-in nginx/certgate |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let row = |crl: &str, client: &str, rates: [f64; 2], cpu: [f64; 2]| {
        println!(
            "| {crl} | {client} | {:.0} | {:.0} | {:.2}× | {:.0} | {:.0} | {:.2}× |",
            rates[0],
            rates[1],
            rates[0] / rates[1].max(1e-9),
            cpu[0],
            cpu[1],
            cpu[1] / cpu[0].max(1e-9),
        );
    };
    for run in runs {
        let crl = run.crl_label();
        row(
            &crl,
            "benchmark's client",
            [run.certgate.rate(), run.nginx.rate()],
            [run.certgate.server_cpu_us(), run.nginx.server_cpu_us()],
        );
        if let Some([certgate, nginx]) = &run.s_time {
            let client = if run.s_time_signed_in() {
                "openssl s_time"
            } else {
                "openssl s_time (NOT all signed in)"
            };
            row(
                &crl,
                client,
                [certgate.rate(), nginx.rate()],
                [certgate.server_cpu_us(), nginx.server_cpu_us()],
            );
        }
    }
    println!(
        "rate certgate/nginx = certgate's sign-ins per second ÷ nginx's (> 1: certgate signs in more per second); CPU per sign-in nginx/certgate = nginx's server CPU per sign-in ÷ certgate's (> 1: certgate spends less)"
    );
    let largest = runs
        .first()
        .and_then(|run| run.s_time.as_ref().map(|[c, _]| (run, c)));
    let without_crl = runs
        .iter()
        .find(|run| run.facts.revocation == Revocation::NoCrl)
        .and_then(|run| run.s_time.as_ref().map(|[_, nginx]| nginx));
    match (largest, without_crl) {
        (Some((run, certgate)), Some(nginx)) => {
            let cpu = certgate.server_cpu_us();
            println!(
                "issue 15's sign-in target (s_time): certgate {cpu:.0} µs of server CPU per sign-in with the {} ≤ {TARGET_S_TIME_CPU_US:.0} µs: {}; below nginx's {:.0} µs with no CRL: {}{}",
                run.crl_label(),
                if cpu <= TARGET_S_TIME_CPU_US { "yes" } else { "no" },
                nginx.server_cpu_us(),
                if cpu < nginx.server_cpu_us() { "yes" } else { "no" },
                if run.facts.quick { " (quick run: not the target's 20 MB CRL)" } else { "" },
            );
        }
        _ => println!("issue 15's sign-in target: not judged, s_time did not run"),
    }
}
