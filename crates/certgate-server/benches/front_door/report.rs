//! The figures of one run: tables for people, JSON for machines.

use serde_json::{json, Value};

use crate::common::certgate_process::Revocation;
use crate::common::format::{human_bytes, ms, percentile, rates, short};
use crate::common::load::{Exchange, Series};
use crate::common::side_by_side::RunFacts;
use crate::independent::AbRun;
use crate::load::{Mode, LOAD_PATH, REQUEST_BODY_BYTES};
use crate::upstream::BODY_BYTES;

/// What the checks before the load saw from one proxy.
pub(crate) struct Checked {
    pub(crate) valid: Exchange,
    /// The identity headers the upstream received with the valid client's request.
    pub(crate) upstream_saw: Vec<(String, String)>,
    pub(crate) revoked: Exchange,
}

/// One scenario: both proxies' segments, and the connections the load generator opened.
pub(crate) struct Scenario {
    pub(crate) mode: Mode,
    pub(crate) certgate: Series,
    pub(crate) nginx: Series,
    /// Connections whose handshake completed, certgate's and nginx's, warm-up included.
    pub(crate) connections: [u64; 2],
}

impl Scenario {
    fn ratio(&self) -> f64 {
        self.certgate.rate() / self.nginx.rate().max(1e-9)
    }

    /// nginx's CPU per request over certgate's.
    fn cpu_ratio(&self) -> f64 {
        self.nginx.server_cpu_us() / self.certgate.server_cpu_us().max(1e-9)
    }

    fn series_json(series: &Series, connections: u64) -> Value {
        let cpu = series.cpu();
        let [server, load, upstream, others] = series.cores();
        json!({
            "requests": series.count(),
            "seconds": series.seconds(),
            "per_second": series.rate(),
            "segment_rates": series.segment_rates(),
            "latency_ns": series.latency_json(),
            "errors": series.errors(),
            "first_error": series.first_error(),
            "connections_opened": connections,
            "requests_including_warm_up": series.all_successes(),
            "cpu_seconds": {
                "server": cpu.server,
                "load_generator": cpu.load,
                "upstream": cpu.apart,
                "machine_busy": cpu.machine,
            },
            "cores": {
                "server": server,
                "load_generator": load,
                "upstream": upstream,
                "other_processes": others,
            },
            "server_cpu_us_per_request": series.server_cpu_us(),
            "load_generator_cpu_us_per_request": series.load_cpu_us(),
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "description": self.mode.describe(),
            "certgate": Scenario::series_json(&self.certgate, self.connections[0]),
            "nginx": Scenario::series_json(&self.nginx, self.connections[1]),
            "ratio": self.ratio(),
            "server_cpu_ratio": self.cpu_ratio(),
        })
    }
}

pub(crate) struct Run {
    pub(crate) facts: RunFacts,
    /// certgate's, then nginx's.
    pub(crate) checked: [Checked; 2],
    pub(crate) scenarios: Vec<Scenario>,
    /// Successful certificate validations in certgate's sign-in log.
    pub(crate) recorded_validations: usize,
    /// Keep-alive measured with ab (certgate's, then nginx's), when it ran.
    pub(crate) independent: Option<[AbRun; 2]>,
}

impl Run {
    /// The issuing CRL both proxies had: its size, or "no CRL".
    fn crl_label(&self) -> String {
        match self.facts.revocation {
            Revocation::Crl => format!("{} CRL", human_bytes(self.facts.issuing_crl_bytes as u64)),
            Revocation::NoCrl => "no CRL".into(),
        }
    }

    /// This run's figures under `crl_variants`: the CRL, then each scenario's.
    pub(crate) fn variant_json(&self) -> Value {
        let mut scenarios = serde_json::Map::new();
        for scenario in &self.scenarios {
            scenarios.insert(scenario.mode.key().into(), scenario.to_json());
        }
        json!({
            "crl": self.crl_label(),
            "crl_loaded": self.facts.revocation == Revocation::Crl,
            "issuing_crl_bytes": self.facts.issuing_crl_bytes,
            "issuing_crl_entries": if self.facts.revocation == Revocation::Crl { self.facts.crl_entries + 1 } else { 0 },
            "scenarios": scenarios,
        })
    }

    pub(crate) fn errors(&self) -> u64 {
        self.scenarios
            .iter()
            .map(|s| s.certgate.errors() + s.nginx.errors())
            .sum()
    }

    /// Connections to certgate whose certificate it accepted: the valid client's check, the
    /// revoked client's check when no CRL says it is revoked, the load's, and ab's (one per
    /// concurrent client, kept alive).
    fn certgate_connections(&self) -> u64 {
        let revoked_check = u64::from(self.facts.revocation == Revocation::NoCrl);
        let ab = if self.independent.is_some() {
            self.facts.concurrency as u64
        } else {
            0
        };
        1 + revoked_check + ab + self.scenarios.iter().map(|s| s.connections[0]).sum::<u64>()
    }

    pub(crate) fn print(&self) {
        let facts = &self.facts;
        println!();
        println!("## {}", self.crl_label());
        println!(
            "ActiveSync through the front door: POST {LOAD_PATH} ({REQUEST_BODY_BYTES}-byte body, {BODY_BYTES}-byte answer), {} tasks, {:.0} s per proxy and scenario in {} interleaved rounds{}",
            facts.concurrency,
            facts.per_target.as_secs_f64(),
            facts.rounds,
            facts.quick_note()
        );
        facts.print_setting(&self.checked[0].valid, ", no resumption");
        println!();
        println!(
            "| scenario | proxy | requests/s | p50 | p90 | p99 | max | errors | server CPU / request | cores used: server, load generator, upstream, others | rounds (/s) |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for scenario in &self.scenarios {
            for (name, series) in [("certgate", &scenario.certgate), ("nginx", &scenario.nginx)] {
                let latencies = series.sorted_latencies();
                let [server, load, upstream, others] = series.cores();
                println!(
                    "| {} | {name} | {:.0} | {} | {} | {} | {} | {} | {:.0} µs | {server:.2}, {load:.2}, {upstream:.2}, {others:.2} | {} |",
                    scenario.mode.key(),
                    series.rate(),
                    ms(percentile(&latencies, 0.50)),
                    ms(percentile(&latencies, 0.90)),
                    ms(percentile(&latencies, 0.99)),
                    ms(latencies.last().copied().unwrap_or(0)),
                    series.errors(),
                    series.server_cpu_us(),
                    rates(&series.segment_rates()),
                );
            }
        }
        println!();
        for scenario in &self.scenarios {
            println!(
                "{}: certgate / nginx requests per second {:.2}×; requests per server CPU-second {:.2}× ({:.0} vs {:.0} µs per request)",
                scenario.mode.key(),
                scenario.ratio(),
                scenario.cpu_ratio(),
                scenario.certgate.server_cpu_us(),
                scenario.nginx.server_cpu_us()
            );
            for (name, series) in [("certgate", &scenario.certgate), ("nginx", &scenario.nginx)] {
                if let Some(error) = series.first_error() {
                    println!("  {name}: first error: {error}");
                }
            }
        }
        if let Some([certgate, nginx]) = &self.independent {
            println!(
                "keep-alive with ab (ApacheBench, HTTP/1.0 keep-alive, OpenSSL): certgate {:.0} /s, {:.1} µs CPU per request ({} failed, {} not 2xx); nginx {:.0} /s, {:.1} µs ({} failed, {} not 2xx); rate {:.2}×, CPU per request nginx/certgate {:.2}×",
                certgate.rate(),
                certgate.server_cpu_us(),
                certgate.failed,
                certgate.non_2xx,
                nginx.rate(),
                nginx.server_cpu_us(),
                nginx.failed,
                nginx.non_2xx,
                certgate.rate() / nginx.rate().max(1e-9),
                nginx.server_cpu_us() / certgate.server_cpu_us().max(1e-9),
            );
        }
        println!(
            "certgate's sign-in log: {} successful certificate validations for {} connections with an accepted certificate ({} requests by the benchmark's client): one validation per connection",
            self.recorded_validations,
            self.certgate_connections(),
            1 + self
                .scenarios
                .iter()
                .map(|s| s.certgate.all_successes())
                .sum::<u64>()
        );
        for (name, checked) in ["certgate", "nginx"].iter().zip(&self.checked) {
            println!(
                "checks: {name}: upstream saw {}; revoked → HTTP {} {}",
                checked
                    .upstream_saw
                    .iter()
                    .map(|(n, v)| format!("{n}: {}", short(v, 48)))
                    .collect::<Vec<_>>()
                    .join(" | "),
                checked.revoked.status,
                short(&checked.revoked.body_text(), 80)
            );
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let checks = |checked: &Checked| {
            json!({
                "upstream_saw": checked
                    .upstream_saw
                    .iter()
                    .map(|(n, v)| (n.clone(), Value::from(v.clone())))
                    .collect::<serde_json::Map<_, _>>(),
                "revoked_status": checked.revoked.status,
                "revoked": checked.revoked.body_text(),
            })
        };
        let mut scenarios = serde_json::Map::new();
        for scenario in &self.scenarios {
            scenarios.insert(scenario.mode.key().into(), scenario.to_json());
        }
        self.facts.to_json(
            "front_door",
            "seconds_per_proxy_and_scenario",
            json!({
                "request": format!("POST {LOAD_PATH}, {REQUEST_BODY_BYTES}-byte body, HTTP/1.1"),
                "upstream": format!("hyper HTTP/1.1 in the benchmark process, {BODY_BYTES}-byte answer"),
            }),
            json!({
                "tls": {
                    "protocol": self.checked[0].valid.protocol,
                    "cipher_suite": self.checked[0].valid.cipher_suite,
                    "key_exchange": self.checked[0].valid.key_exchange,
                },
                "checks": {
                    "certgate": checks(&self.checked[0]),
                    "nginx": checks(&self.checked[1]),
                },
                "scenarios": scenarios,
                "independent_keep_alive": self.independent.as_ref().map(|[certgate, nginx]| json!({
                    "client": "ab (ApacheBench, apache2-utils): -k -c <concurrency> -t <seconds> -E <client chain and key>, HTTP/1.0 keep-alive",
                    "certgate": certgate.to_json(),
                    "nginx": nginx.to_json(),
                })),
                "certgate_sign_in_log": {
                    "recorded_validations": self.recorded_validations,
                    "connections_with_valid_certificate": self.certgate_connections(),
                },
                "differences": [
                    "nginx cannot map a certificate to a directory user: its X-Certgate-UPN is the subject DN, and it sends no mail or immutable ID",
                    "Client-Cert: certgate sends RFC 9440 (base64 DER) plus Client-Cert-Chain; nginx sends the URL-encoded PEM of the leaf only",
                    "certgate records every validation (one per connection decision) in its sign-in log (SQLite); nginx writes an access_log line per request to a file",
                ],
            }),
        )
    }
}

/// One table over every CRL variant: rates and server CPU per request side by side, with the
/// two ratios named apart (a rate ratio depends on how the two shared cores were split
/// between server, load generator and upstream; CPU per request does not).
pub(crate) fn print_summary(runs: &[Run]) {
    println!();
    println!(
        "| CRL | scenario | certgate requests/s | nginx requests/s | rate certgate/nginx | certgate CPU µs/request | nginx CPU µs/request | CPU per request nginx/certgate |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for run in runs {
        for scenario in &run.scenarios {
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.2}× | {:.1} | {:.1} | {:.2}× |",
                run.crl_label(),
                scenario.mode.key(),
                scenario.certgate.rate(),
                scenario.nginx.rate(),
                scenario.ratio(),
                scenario.certgate.server_cpu_us(),
                scenario.nginx.server_cpu_us(),
                scenario.cpu_ratio(),
            );
        }
    }
    println!(
        "rate certgate/nginx > 1: certgate serves more requests per second; CPU per request nginx/certgate > 1: certgate spends less server CPU per request"
    );
}
