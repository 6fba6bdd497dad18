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
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

use crate::common::certgate_process::{self, recorded_successes, CertgateProcess, Listener};
use crate::common::cpu::Accounting;
use crate::common::load::{self as load_generator, Client, Series, Timing};
use crate::common::mtls_fixture::{self as fixture, ENTRY_BYTES};
use crate::common::nginx::{self, Nginx, Site};
use crate::common::settings::Settings;
use crate::load::{sign_in, Expect, SignIns, Target};
use crate::report::{Checked, Run, Summary};

/// Each server's measuring time is split into this many segments, taken in turns.
const ROUNDS: usize = 2;

fn main() -> Result<()> {
    if let Some(served) = certgate_process::serve_if_child() {
        return served;
    }
    let settings = Settings::from_env()?;
    let entries = settings.crl_bytes / ENTRY_BYTES;
    let Some(nginx_binary) = nginx::binary() else {
        bail!(
            "nginx is not installed: `apt-get install -y nginx-light` (or nginx), then run again"
        );
    };
    eprintln!(
        "certauth: certgate vs nginx, {entries}-entry issuing CRL, {} load tasks",
        settings.concurrency
    );
    let load_average = common::proc::load_average();
    let fixture = fixture::load_or_generate(&common::cache_root(), entries)?;

    // One server identity for both: ECDSA P-256, self-signed, for "localhost".
    let server_key = rcgen::KeyPair::generate().context("the server key")?;
    let server_certificate = rcgen::CertificateParams::new(vec!["localhost".into()])?
        .self_signed(&server_key)
        .context("the server certificate")?;
    let (server_pem, server_key_pem) = (server_certificate.pem(), server_key.serialize_pem());

    let certgate_dir = tempfile::tempdir().context("certgate's temp dir")?;
    std::fs::write(certgate_dir.path().join("server.pem"), &server_pem)?;
    std::fs::write(certgate_dir.path().join("server.key"), &server_key_pem)?;
    let nginx_dir = tempfile::tempdir().context("nginx's temp dir")?;

    let certgate =
        CertgateProcess::start(&fixture.directory, certgate_dir.path(), &Listener::CertAuth)?;
    eprintln!(
        "  certgate listening on {} (pid {})",
        certgate.addr,
        certgate.pid()
    );
    let nginx = Nginx::start(
        &nginx_binary,
        nginx_dir.path(),
        &fixture,
        &server_pem,
        &server_key_pem,
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
    eprintln!(
        "  nginx workers: {:?} (master {})",
        nginx.workers(),
        nginx.pid()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("load")
        .build()
        .context("starting the load generator's runtime")?;
    let (client, revoked_client) = fixture.clients(server_certificate.der())?;
    let client = Arc::new(client);
    let serial = fixture.leaf_serial()?;
    let targets = [
        Arc::new(Target {
            name: "certgate",
            addr: certgate.addr,
            expect: Expect::Certgate,
            accounting: Accounting {
                pids: vec![certgate.pid()],
                with_children: false,
                apart_threads: None,
            },
        }),
        Arc::new(Target {
            name: "nginx",
            addr: nginx.addr,
            expect: Expect::Nginx {
                body: format!("SUCCESS {}\n", certgate_core::hex(&serial).to_uppercase()),
            },
            accounting: Accounting {
                pids: vec![nginx.pid()],
                with_children: true,
                apart_threads: None,
            },
        }),
    ];
    let checks = runtime.block_on(async {
        let mut checks = Vec::new();
        for target in &targets {
            checks.push(check(target, &client, &revoked_client, &serial).await?);
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
            let segment = runtime.block_on(load_generator::run_segment(
                Arc::new(SignIns {
                    client: Arc::clone(&client),
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
    runtime.shutdown_timeout(Duration::from_secs(5));

    let nginx_version = nginx.version.clone();
    let nginx_log = nginx.directory.join("error.log");
    nginx.stop()?;
    let database = certgate.database.clone();
    certgate.stop()?;
    let [certgate_series, nginx_series] = series;
    let [certgate_checked, nginx_checked] =
        <[Checked; 2]>::try_from(checks).map_err(|_| anyhow!("expected one check per server"))?;
    let seen = certgate_series.all_successes();
    let recorded = recorded_successes(&database)?;

    let run = Run {
        quick: settings.quick,
        concurrency: settings.concurrency,
        warm_up: settings.warm_up,
        per_target: settings.per_target,
        rounds: ROUNDS,
        load_average,
        crl_entries: fixture.entries,
        issuing_crl_bytes: fixture.issuing_crl.len(),
        root_crl_bytes: fixture.root_crl.len(),
        crl_window: fixture.crl_window,
        fixture_directory: fixture.directory.clone(),
        fixture_generated: fixture.generated_in,
        nginx_version,
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

    let errors = run.certgate.errors() + run.nginx.errors();
    if errors > 0 {
        let log = std::fs::read_to_string(&nginx_log).unwrap_or_default();
        if !log.trim().is_empty() {
            eprintln!("nginx's error log:\n{log}");
        }
        bail!("{errors} sign-ins failed under load");
    }
    Ok(())
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
