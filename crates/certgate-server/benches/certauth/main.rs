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
//! All of it three times, with both servers started afresh: with the 20 MB issuing CRL, with a
//! 700 kB one, and with no CRL at all (the CAs exempt from CRL validation in certgate, no
//! `ssl_crl` in nginx; the revoked client must then be signed in by both). nginx writes its
//! access log to a file, as certgate records every sign-in. Then, when `openssl` is on `PATH`,
//! the same sign-ins with `openssl s_time -new` (`s_time.rs`), a client this project did not
//! write, with each server's CPU over the same time; certgate's sign-in log and nginx's access
//! log must count every connection s_time made as a successful sign-in. The top-level figures
//! of the JSON are the 20 MB CRL's; `crl_variants` has all three, `s_time` the cross-check's.
//!
//! Targets: certgate's rate at least 1.5× nginx's with the 20 MB CRL; issue 15's: server CPU
//! per sign-in measured with s_time at most 0.5 ms with the 20 MB CRL, and below nginx's
//! with no CRL at all. Missed targets are reported, not fatal.
//!
//! Environment:
//! - `CERTGATE_BENCH_QUICK=1`: 700 kB and 70 kB CRLs and 2 s per server (and per s_time run),
//!   a smoke run.
//! - `CERTGATE_BENCH_CONCURRENCY=n`: load tasks (default 16).
//! - `CERTGATE_BENCH_JSON=path`: where the machine-readable figures go (default:
//!   `<target dir>/certgate-bench/certauth.json`).
//!
//! Needs nginx (`apt-get install nginx-light`). Exits non-zero when a check or the set-up
//! fails, a sign-in under load fails or a connection s_time counted was not a successful
//! sign-in.

#[path = "../common/mod.rs"]
mod common;
mod load;
mod report;
mod s_time;

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use crate::common::certgate_process::{self, recorded_successes, Listener, Revocation};
use crate::common::cpu::Accounting;
use crate::common::format::short;
use crate::common::load::{self as load_generator, Client, Series, Timing};
use crate::common::nginx::Site;
use crate::common::settings::Settings;
use crate::common::side_by_side::{Servers, Stage};
use crate::load::{sign_in, Expect, SignIns, Target};
use crate::report::{Checked, Run, SignInLog, Summary};
use crate::s_time::STimeRun;

/// Each server's measuring time is split into this many segments, taken in turns.
const ROUNDS: usize = 2;

/// nginx's sign-in: the verification result and the serial. The access log is on, to a file
/// in nginx's directory, in the combined format plus `$ssl_client_verify`, which tells
/// s_time's successful sign-ins apart from refused ones.
fn nginx_site() -> Site {
    Site {
        http: r#"
    log_format certauth '$remote_addr - $remote_user [$time_local] "$request" '
                        '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
                        '$ssl_client_verify';
"#
        .into(),
        server:
            r#"        # certgate records every sign-in: nginx writes its access log (relative to
        # the prefix, its temp dir), one line per request.
        access_log access.log certauth;

        location /certauth {
            default_type text/plain;
            return 200 "$ssl_client_verify $ssl_client_serial\n";
        }
"#
            .into(),
    }
}

fn main() -> Result<()> {
    if let Some(served) = certgate_process::serve_if_child() {
        return served;
    }
    let settings = Settings::from_env()?;
    let openssl = s_time::openssl();
    if openssl.is_none() {
        eprintln!("openssl is not on PATH: no cross-check with openssl s_time");
    }
    let mut runs = Vec::new();
    for (crl_bytes, revocation) in settings.crl_variants() {
        runs.push(measure(
            &settings,
            crl_bytes,
            revocation,
            openssl.as_deref(),
        )?);
    }
    for run in &runs {
        run.print();
    }
    report::print_summary(&runs);
    let mut json = runs[0].to_json();
    json["crl_variants"] = runs.iter().map(Run::variant_json).collect();
    json["s_time"] = report::s_time_json(&runs);
    common::write_json("certauth", &json)?;
    let errors: u64 = runs.iter().map(Run::errors).sum();
    if errors > 0 {
        bail!("{errors} sign-ins failed under load");
    }
    if runs.iter().any(|run| !run.s_time_signed_in()) {
        bail!("openssl s_time counted connections that were not successful sign-ins");
    }
    Ok(())
}

/// Both servers with the issuing CRL of about `crl_bytes` (or none), checked, measured with
/// the benchmark's own client, then with s_time when `openssl` is given.
fn measure(
    settings: &Settings,
    crl_bytes: usize,
    revocation: Revocation,
    openssl: Option<&Path>,
) -> Result<Run> {
    let servers = Stage::prepare_with(
        settings,
        "certauth: certgate vs nginx",
        crl_bytes,
        revocation,
    )?
    .start(&Listener::CertAuth, "certgate", &nginx_site())?;
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
            checks.push(check(target, client, revoked_client, &serial, revocation).await?);
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
    let mut s_time = match openssl {
        Some(openssl) => Some(cross_check(
            openssl,
            &servers,
            &targets,
            settings.per_target.as_secs().max(1),
        )?),
        None => None,
    };

    let stopped = servers.stop()?;
    let [certgate_series, nginx_series] = series;
    let [certgate_checked, nginx_checked] =
        <[Checked; 2]>::try_from(checks).map_err(|_| anyhow!("expected one check per server"))?;
    // Recorded before answered: every sign-in any client saw succeed is in the log by now.
    // The valid client's check, the revoked one's when no CRL refuses it, the load's (warm-up
    // included), and s_client's before s_time.
    let recorded = recorded_successes(&stopped.database)? as u64;
    let revoked_check = u64::from(revocation == Revocation::NoCrl);
    let s_client_check = u64::from(s_time.is_some());
    let before_s_time = 1 + revoked_check + certgate_series.all_successes() + s_client_check;
    if let Some([certgate, _]) = &mut s_time {
        certgate.logged_successes = recorded.checked_sub(before_s_time);
    }
    let run = Run {
        facts: stopped.facts(settings, ROUNDS),
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
        s_time,
        sign_in_log: SignInLog {
            recorded,
            before_s_time,
        },
    };
    if run.errors() > 0 {
        // nginx's error log says why; certgate's went to stderr already.
        let _ = stopped.fail_on_errors(run.errors(), "sign-ins");
    }
    Ok(run)
}

/// The valid client signs in; the revoked one is refused because the CRL lists it (signed
/// in when no CRL is loaded). Both over a full TLS 1.3 handshake.
async fn check(
    target: &Target,
    client: &Client,
    revoked_client: &Client,
    serial: &[u8],
    revocation: Revocation,
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
    if let Expect::Certgate = target.expect {
        let body: serde_json::Value = serde_json::from_slice(&valid.body)
            .context("certgate's answer to the valid client is not JSON")?;
        let answered = body["certificate"]["serialNumber"].as_str().unwrap_or("");
        if !answered.eq_ignore_ascii_case(&certgate_core::hex(serial)) {
            bail!("certgate signed in serial {answered}, not the leaf's");
        }
    }
    let revoked = sign_in(revoked_client, target.addr)
        .await
        .map_err(|e| anyhow!("{}: the revoked client: {e}", target.name))?;
    let text = revoked.body_text();
    let refused = revoked.status == 403
        && match target.expect {
            Expect::Certgate => serde_json::from_slice::<serde_json::Value>(&revoked.body)
                .is_ok_and(|body| body["code"] == "cert-revoked"),
            Expect::Nginx { .. } => text.starts_with("FAILED:") && text.contains("revoked"),
        };
    let signed_in = revoked.status == 200
        && match target.expect {
            Expect::Certgate => revoked.body_contains(b"\"result\":\"success\""),
            Expect::Nginx { .. } => text.starts_with("SUCCESS"),
        };
    match revocation {
        Revocation::Crl if !refused => bail!(
            "{}: the revoked client was not refused as revoked: HTTP {} {text}",
            target.name,
            revoked.status,
        ),
        // Without a CRL nothing says the certificate is revoked: both servers sign it in,
        // proof that no revocation check runs in this variant.
        Revocation::NoCrl if !signed_in => bail!(
            "{}: without a CRL the revoked client should be signed in: HTTP {} {text}",
            target.name,
            revoked.status,
        ),
        _ => {}
    }
    eprintln!(
        "  {}: valid → {:?}; revoked → HTTP {} {:?}",
        target.name,
        short(&valid.body_text(), 60),
        revoked.status,
        short(&text, 60)
    );
    Ok(Checked { valid, revoked })
}

/// One `openssl s_client` sign-in per server (it must succeed), then s_time against each for
/// `seconds`. nginx's successes are counted from its access log over the run; certgate's
/// from its sign-in log once it has stopped.
fn cross_check(
    openssl: &Path,
    servers: &Servers,
    targets: &[Arc<Target>; 2],
    seconds: u64,
) -> Result<[STimeRun; 2]> {
    let files = s_time::ClientFiles::new(&servers.fixture)?;
    let access_log = servers.nginx.directory.join("access.log");
    let mut runs = Vec::new();
    for target in targets {
        let answer = s_time::one_sign_in(openssl, &files, target.addr)?;
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        // certgate answers s_client (no Accept header) with its HTML page; any refusal is 4xx
        // or 5xx.
        let signed_in = s_time::status(&answer) == Some(200)
            && match target.expect {
                Expect::Certgate => true,
                Expect::Nginx { .. } => body.starts_with("SUCCESS"),
            };
        if !signed_in {
            bail!(
                "{}: openssl s_client with s_time's certificate and key was not signed in: {}",
                target.name,
                short(&answer, 300)
            );
        }
        eprintln!(
            "  s_time: {}: s_client signed in ({}); {} processes for {seconds} s",
            target.name,
            short(answer.lines().next().unwrap_or(""), 40),
            s_time::PROCESSES
        );
        let nginx_before = s_time::nginx_successes(&access_log);
        let mut run = s_time::run(openssl, &files, target.addr, &target.accounting, seconds)?;
        if let Expect::Nginx { .. } = target.expect {
            run.logged_successes =
                Some(s_time::nginx_successes(&access_log).saturating_sub(nginx_before));
        }
        eprintln!(
            "    {:.0} sign-ins/s, {:.0} µs server CPU per sign-in",
            run.rate(),
            run.server_cpu_us()
        );
        runs.push(run);
    }
    <[STimeRun; 2]>::try_from(runs).map_err(|_| anyhow!("expected one s_time run per server"))
}
