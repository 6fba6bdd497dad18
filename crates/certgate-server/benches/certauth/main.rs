//! `cargo bench -p certgate-server --bench certauth`: mTLS sign-ins per second, certgate's
//! certificate sign-in listener against nginx, in one run, with the same load generator.
//!
//! Both servers run as processes of their own on 127.0.0.1 with the same server certificate
//! and key, trust the same root and issuing CA, and check revocation against the same CRLs: a
//! 1,000-entry root CRL and a 20 MB (571,428 entries plus one revoked client) issuing CRL.
//! certgate is this benchmark's own binary started again as a child that does what `certgate
//! serve` does (see `common/certgate_process.rs`); nginx is Debian's, configured with
//! `ssl_verify_client optional` and `ssl_crl` (see `common/nginx.rs`). Before any load, each
//! server is asked once with the valid client certificate and once with a revoked one, and
//! must accept the first and refuse the second: proof that its CRL is in use.
//!
//! The load generator (`common/load.rs`, with the sign-in of `load.rs`) runs in this process:
//! `concurrency` tokio tasks, each doing
//! sign-ins back to back (new TCP connection, full TLS 1.3 handshake with the client
//! certificate, `GET /certauth`, whole response). The servers take turns (certgate, nginx,
//! certgate, nginx) so that drift in the shared machine's speed hits both alike. All three
//! share the machine's cores, so the CPU each server process used is reported next to the
//! rates: server CPU per sign-in is the figure that does not depend on how much CPU the load
//! generator took from the servers.
//!
//! Target (the issue's): certgate's rate at least 1.5× nginx's.
//!
//! Environment:
//! - `CERTGATE_BENCH_QUICK=1`: a 20,000-entry CRL and 2 s per server, a smoke run.
//! - `CERTGATE_BENCH_CONCURRENCY=n`: load tasks (default 16).
//! - `CERTGATE_BENCH_JSON=path`: where the machine-readable figures go (default:
//!   `<target dir>/certgate-bench/certauth.json`).
//!
//! Needs nginx (`apt-get install nginx-light`). Exits non-zero when a check or the set-up
//! fails or a sign-in under load fails; a missed rate target is reported, not fatal.

#[path = "../common/mod.rs"]
mod common;
mod load;
mod report;

use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use crate::common::certgate_process::{self, recorded_successes, Listener};
use crate::common::cpu::Accounting;
use crate::common::load::{self as load_generator, Client, Series, Timing};
use crate::common::nginx::Site;
use crate::common::settings::Settings;
use crate::common::side_by_side::Stage;
use crate::load::{sign_in, Expect, SignIns, Target};
use crate::report::{Checked, Run, Summary};

/// Each server's measuring time is split into this many segments, taken in turns.
const ROUNDS: usize = 2;

fn main() -> Result<()> {
    if let Some(served) = certgate_process::serve_if_child() {
        return served;
    }
    let settings = Settings::from_env()?;
    let servers = Stage::prepare(&settings, "certauth: certgate vs nginx")?.start(
        &Listener::CertAuth,
        "certgate",
        &Site {
            http: String::new(),
            server: r#"        location /certauth {
            default_type text/plain;
            return 200 "$ssl_client_verify $ssl_client_serial\n";
        }
"#
            .into(),
        },
    )?;
    let (client, revoked_client) = (&servers.client, &servers.revoked_client);
    let serial = servers.fixture.leaf_serial()?;
    let targets = [
        Arc::new(Target {
            name: "certgate",
            addr: servers.certgate.addr,
            expect: Expect::Certgate,
            accounting: Accounting {
                pids: vec![servers.certgate.pid()],
                with_children: false,
                apart_threads: None,
            },
        }),
        Arc::new(Target {
            name: "nginx",
            addr: servers.nginx.addr,
            expect: Expect::Nginx {
                body: format!("SUCCESS {}\n", certgate_core::hex(&serial).to_uppercase()),
            },
            accounting: Accounting {
                pids: vec![servers.nginx.pid()],
                with_children: true,
                apart_threads: None,
            },
        }),
    ];
    let checks = servers.runtime.block_on(async {
        let mut checks = Vec::new();
        for target in &targets {
            checks.push(check(target, client, revoked_client, &serial).await?);
        }
        anyhow::Ok(checks)
    })?;

    let timing = Timing {
        concurrency: settings.concurrency,
        warm_up: settings.warm_up,
        measure: settings.per_target / ROUNDS as u32,
    };
    let mut series: [Series; 2] = Default::default();
    for round in 1..=ROUNDS {
        for (target, done) in targets.iter().zip(series.iter_mut()) {
            eprintln!(
                "  round {round}/{ROUNDS}: {} for {:.1} s (+{:.1} s warm-up)",
                target.name,
                timing.measure.as_secs_f64(),
                timing.warm_up.as_secs_f64()
            );
            let segment = servers.runtime.block_on(load_generator::run_segment(
                Arc::new(SignIns {
                    client: Arc::clone(client),
                    target: Arc::clone(target),
                }),
                &target.accounting,
                timing,
            ));
            eprintln!(
                "    {:.0} sign-ins/s, {} errors",
                segment.latencies_ns.len() as f64 / segment.seconds,
                segment.errors
            );
            done.segments.push(segment);
        }
    }

    let stopped = servers.stop()?;
    let [certgate_series, nginx_series] = series;
    let [certgate_checked, nginx_checked] =
        <[Checked; 2]>::try_from(checks).map_err(|_| anyhow!("expected one check per server"))?;
    let seen = certgate_series.all_successes();
    let recorded = recorded_successes(&stopped.database)?;

    let run = Run {
        facts: stopped.facts(&settings, ROUNDS),
        certgate: Summary {
            name: "certgate",
            checked: certgate_checked,
            series: certgate_series,
        },
        nginx: Summary {
            name: "nginx",
            checked: nginx_checked,
            series: nginx_series,
        },
    };
    run.print();
    // The check's valid sign-in is recorded too.
    println!(
        "certgate's sign-in log: {recorded} successful sign-ins recorded; the load generator saw {} succeed",
        seen + 1
    );
    let mut json = run.to_json();
    json["certgate"]["sign_in_log"] = serde_json::json!({
        "recorded_successes": recorded,
        "seen_by_client": seen + 1,
    });
    common::write_json("certauth", &json)?;
    stopped.fail_on_errors(run.certgate.errors() + run.nginx.errors(), "sign-ins")
}

/// The valid client signs in; the revoked one is refused because the CRL lists it. Both over
/// a full TLS 1.3 handshake.
async fn check(
    target: &Target,
    client: &Client,
    revoked_client: &Client,
    serial: &[u8],
) -> Result<Checked> {
    let valid = sign_in(client, target.addr)
        .await
        .map_err(|e| anyhow!("{}: the valid client: {e}", target.name))?;
    target
        .judge(&valid)
        .map_err(|e| anyhow!("{}: the valid client was not signed in: {e}", target.name))?;
    if !valid.full_handshake || valid.protocol != "TLSv1_3" {
        bail!(
            "{}: expected a full TLS 1.3 handshake, got {} (full: {})",
            target.name,
            valid.protocol,
            valid.full_handshake
        );
    }
    let revoked = sign_in(revoked_client, target.addr)
        .await
        .map_err(|e| anyhow!("{}: the revoked client: {e}", target.name))?;
    let refused = match target.expect {
        Expect::Certgate => {
            let body: serde_json::Value = serde_json::from_slice(&valid.body)
                .context("certgate's answer to the valid client is not JSON")?;
            let answered = body["certificate"]["serialNumber"].as_str().unwrap_or("");
            if !answered.eq_ignore_ascii_case(&certgate_core::hex(serial)) {
                bail!("certgate signed in serial {answered}, not the leaf's");
            }
            let body: serde_json::Value = serde_json::from_slice(&revoked.body)
                .context("certgate's answer to the revoked client is not JSON")?;
            revoked.status == 403 && body["code"] == "cert-revoked"
        }
        Expect::Nginx { .. } => {
            let text = revoked.body_text();
            revoked.status == 403 && text.starts_with("FAILED:") && text.contains("revoked")
        }
    };
    if !refused {
        bail!(
            "{}: the revoked client was not refused as revoked: HTTP {} {}",
            target.name,
            revoked.status,
            revoked.body_text()
        );
    }
    eprintln!(
        "  {}: valid → {:?}; revoked → {:?}",
        target.name,
        valid.body_text().chars().take(60).collect::<String>(),
        revoked.body_text().chars().take(60).collect::<String>()
    );
    Ok(Checked { valid, revoked })
}
