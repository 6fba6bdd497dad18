//! `cargo bench -p certgate-server --bench front_door`: ActiveSync requests per second through
//! certgate's mail front door and through nginx configured as the same authenticating reverse
//! proxy, in one run, with the same load generator and the same upstream.
//!
//! The setting is the certauth benchmark's (and mostly its code, in `common/`): both proxies
//! run as processes of their own on 127.0.0.1 with the same ECDSA P-256 server certificate,
//! trust the same root and issuing CA and check revocation against the same CRLs (a 1,000-entry
//! root CRL and a 20 MB issuing CRL of 571,428 entries plus one revoked client, the cache the
//! certauth benchmark makes). certgate is this binary started again as a child that runs
//! `app::start` with only the front door: one virtual directory, `/Microsoft-Server-ActiveSync`
//! (Require, certificate mapping on, the default identity headers), whose user is in the
//! directory. nginx is Debian's with `ssl_verify_client optional`, `ssl_crl`, 403 for anything
//! but a verified certificate, and `proxy_pass` over keep-alive connections to the same
//! upstream with the certificate's fields in the same header names (see [`nginx_site`]; it
//! cannot map a certificate to a directory user, so its `X-Certgate-UPN` is the subject DN).
//! The upstream (`upstream.rs`) is an HTTP/1.1 hyper server in this process that answers
//! 1 KiB only to requests that carry an identity.
//!
//! Before any load, each proxy gets the valid client certificate (the upstream must report
//! the identity headers it received) and a revoked one (refused with 403 as revoked: proof
//! that the CRL is in use). Then two scenarios (`load.rs`), each with the proxies in turns
//! (certgate, nginx, certgate, nginx): **keep-alive** (each load task keeps one connection, as
//! an ActiveSync device does; certgate validates the certificate once per connection and
//! reuses the decision, nginx verifies once per handshake) and **new connection per request**
//! (handshake and validation every time). Server CPU per request is reported beside the rates,
//! as the figure that does not depend on how the shared cores were split.
//!
//! All of it three times, with both proxies started afresh: with the 20 MB issuing CRL, with
//! a 700 kB one, and with no CRL at all (the CAs exempt from CRL validation in certgate, no
//! `ssl_crl` in nginx; the revoked client must then be forwarded by both). nginx writes its
//! access log to a file, as certgate records its sign-ins. The top-level `scenarios` of the
//! JSON are the 20 MB CRL's; `crl_variants` has all three.
//!
//! Environment:
//! - `CERTGATE_BENCH_QUICK=1`: 700 kB and 70 kB CRLs and 2 s per proxy and scenario, a smoke
//!   run.
//! - `CERTGATE_BENCH_CONCURRENCY=n`: load tasks, i.e. connections in keep-alive (default 16).
//! - `CERTGATE_BENCH_JSON=path`: where the machine-readable figures go (default:
//!   `<target dir>/certgate-bench/front_door.json`).
//!
//! Needs nginx (`apt-get install nginx-light`). Exits non-zero when a check or the set-up
//! fails or a request under load fails; there is no rate target.

#[path = "../common/mod.rs"]
mod common;
mod independent;
mod load;
mod report;
mod upstream;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};

use crate::common::certgate_process::{self, recorded_successes, Listener, Revocation, ACTIVESYNC};
use crate::common::cpu::Accounting;
use crate::common::load::{self as load_generator, Client, Exchange, Series, Timing};
use crate::common::nginx::Site;
use crate::common::settings::Settings;
use crate::common::side_by_side::Stage;
use crate::load::{one_request, Mode, Proxied, Target};
use crate::report::{Checked, Run, Scenario};
use crate::upstream::Upstream;

/// Each proxy's measuring time per scenario is split into this many segments, taken in turns.
const ROUNDS: usize = 2;

/// nginx as the front door: `/Microsoft-Server-ActiveSync` for verified certificates only,
/// proxied over keep-alive connections with the certificate's fields in certgate's header
/// names. Every header certgate sets or strips is set here too (an empty value removes the
/// client's copy), so the client cannot forge one through either proxy.
fn nginx_site(upstream: std::net::SocketAddr) -> Site {
    Site {
        http: format!(
            r#"
    upstream mail {{
        server {upstream};
        keepalive 64;
        keepalive_requests 1000000;
    }}
"#
        ),
        server: format!(
            r#"        # certgate records every sign-in: nginx writes its access log (relative to
        # the prefix, its temp dir), one line per request.
        access_log access.log;
        # ActiveSync devices keep their connection: nginx's default closes it after
        # 1,000 requests or 75 s idle.
        keepalive_requests 1000000;
        keepalive_timeout 300s;

        location {ACTIVESYNC} {{
            # Require: no certificate (NONE) is refused too; one that failed verification
            # never gets here (495, answered with 403 below).
            default_type text/plain;
            if ($ssl_client_verify != SUCCESS) {{
                return 403 "$ssl_client_verify\n";
            }}
            proxy_pass http://mail;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Streamed like certgate's (ActiveSync uploads and Ping long-polls).
            proxy_request_buffering off;
            proxy_read_timeout 35m;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Host $host;
            # No directory: the subject DN where certgate sends the mapped user's UPN.
            proxy_set_header X-Certgate-UPN $ssl_client_s_dn;
            proxy_set_header X-Certgate-Mail "";
            proxy_set_header X-Certgate-Immutable-Id "";
            proxy_set_header X-Certgate-Certificate-Serial $ssl_client_serial;
            proxy_set_header X-Certgate-Certificate-Issuer $ssl_client_i_dn;
            proxy_set_header X-Certgate-Certificate-Thumbprint $ssl_client_fingerprint;
            # URL-encoded PEM of the leaf (certgate: RFC 9440, base64 DER, and the chain).
            proxy_set_header Client-Cert $ssl_client_escaped_cert;
            proxy_set_header Client-Cert-Chain "";
            proxy_set_header Authorization "";
        }}
"#
        ),
    }
}

fn main() -> Result<()> {
    if let Some(served) = certgate_process::serve_if_child() {
        return served;
    }
    let settings = Settings::from_env()?;
    let upstream = Upstream::start()?;
    eprintln!("upstream listening on {}", upstream.addr);
    let ab = independent::ab();
    if ab.is_none() {
        eprintln!("ab (apache2-utils) is not installed: no cross-check with an independent client");
    }
    let mut runs = Vec::new();
    for (index, (crl_bytes, revocation)) in settings.crl_variants().into_iter().enumerate() {
        // The cross-check runs with the largest CRL only.
        let ab = ab.as_deref().filter(|_| index == 0);
        runs.push(measure(&settings, &upstream, crl_bytes, revocation, ab)?);
    }
    drop(upstream);
    for run in &runs {
        run.print();
    }
    report::print_summary(&runs);
    let mut json = runs[0].to_json();
    json["crl_variants"] = runs.iter().map(Run::variant_json).collect();
    common::write_json("front_door", &json)?;
    let errors: u64 = runs.iter().map(Run::errors).sum();
    if errors > 0 {
        bail!("{errors} requests failed under load");
    }
    Ok(())
}

/// Both proxies with the issuing CRL of about `crl_bytes` (or none), checked, then measured in
/// both scenarios.
fn measure(
    settings: &Settings,
    upstream: &Upstream,
    crl_bytes: usize,
    revocation: Revocation,
    ab: Option<&std::path::Path>,
) -> Result<Run> {
    let stage = Stage::prepare_with(
        settings,
        "front_door: certgate vs nginx as the ActiveSync reverse proxy",
        crl_bytes,
        revocation,
    )?;
    let servers = stage.start(
        &Listener::FrontDoor {
            upstream: upstream.url(),
        },
        "certgate's front door",
        &nginx_site(upstream.addr),
    )?;
    let (client, revoked_client) = (&servers.client, &servers.revoked_client);
    let serial = certgate_core::hex(&servers.fixture.leaf_serial()?).to_uppercase();
    let targets = [
        Target {
            name: "certgate",
            addr: servers.certgate.addr,
            accounting: Accounting {
                pids: vec![servers.certgate.pid()],
                with_children: false,
                apart_threads: Some(upstream::THREADS),
            },
        },
        Target {
            name: "nginx",
            addr: servers.nginx.addr,
            accounting: Accounting {
                pids: vec![servers.nginx.pid()],
                with_children: true,
                apart_threads: Some(upstream::THREADS),
            },
        },
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
    let mut scenarios = Vec::new();
    for mode in [Mode::KeepAlive, Mode::NewConnection] {
        let mut series: [Series; 2] = Default::default();
        let mut connections = [0u64; 2];
        for round in 1..=ROUNDS {
            for (index, target) in targets.iter().enumerate() {
                eprintln!(
                    "  {} round {round}/{ROUNDS}: {} for {:.1} s (+{:.1} s warm-up)",
                    mode.key(),
                    target.name,
                    timing.measure.as_secs_f64(),
                    timing.warm_up.as_secs_f64()
                );
                let workload = Arc::new(Proxied::new(Arc::clone(client), target.addr, mode));
                let segment = servers.runtime.block_on(load_generator::run_segment(
                    Arc::clone(&workload),
                    &target.accounting,
                    timing,
                ));
                eprintln!(
                    "    {:.0} requests/s, {} errors{}",
                    segment.latencies_ns.len() as f64 / segment.seconds,
                    segment.errors,
                    segment
                        .first_error
                        .as_deref()
                        .map(|e| format!(" (first: {e})"))
                        .unwrap_or_default()
                );
                connections[index] += workload.connections.load(Ordering::Relaxed);
                series[index].segments.push(segment);
            }
        }
        let [certgate_series, nginx_series] = series;
        scenarios.push(Scenario {
            mode,
            certgate: certgate_series,
            nginx: nginx_series,
            connections,
        });
    }
    let independent = match ab {
        Some(ab) => {
            let files = independent::AbFiles::new(&servers.fixture)?;
            let mut runs = Vec::new();
            for target in &targets {
                eprintln!(
                    "  keep-alive with ab: {} for {} s",
                    target.name,
                    settings.per_target.as_secs()
                );
                let run = independent::run(
                    ab,
                    &files,
                    target,
                    settings.concurrency,
                    settings.per_target.as_secs().max(1),
                )?;
                eprintln!(
                    "    {:.0} requests/s, {} failed, {} not 2xx",
                    run.rate(),
                    run.failed,
                    run.non_2xx
                );
                runs.push(run);
            }
            <[independent::AbRun; 2]>::try_from(runs).ok()
        }
        None => None,
    };
    let stopped = servers.stop()?;
    let [certgate_checked, nginx_checked] =
        <[Checked; 2]>::try_from(checks).map_err(|_| anyhow!("expected one check per proxy"))?;
    let recorded = recorded_successes(&stopped.database)?;
    let run = Run {
        facts: stopped.facts(settings, ROUNDS),
        checked: [certgate_checked, nginx_checked],
        scenarios,
        recorded_validations: recorded,
        independent,
    };
    if run.errors() > 0 {
        // nginx's error log says why; certgate's went to stderr already.
        let _ = stopped.fail_on_errors(run.errors(), "requests");
    }
    Ok(run)
}

/// The valid client's request reaches the upstream with its identity in the headers; the
/// revoked client is refused with 403 because the CRL lists it. Both over a full TLS 1.3
/// handshake.
async fn check(
    target: &Target,
    client: &Client,
    revoked_client: &Client,
    serial: &str,
    revocation: Revocation,
) -> Result<Checked> {
    let whoami = format!("{ACTIVESYNC}/whoami");
    let valid = one_request(client, target.addr, &whoami)
        .await
        .map_err(|e| anyhow!("{}: the valid client: {e}", target.name))?;
    if valid.status != 200 {
        bail!(
            "{}: the valid client was refused: HTTP {} {}",
            target.name,
            valid.status,
            valid.body_text()
        );
    }
    if !valid.full_handshake || valid.protocol != "TLSv1_3" {
        bail!(
            "{}: expected a full TLS 1.3 handshake, got {} (full: {})",
            target.name,
            valid.protocol,
            valid.full_handshake
        );
    }
    let seen = upstream_saw(&valid);
    let header = |name: &str| {
        seen.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let upn = header("x-certgate-upn");
    let expected_upn = match target.name {
        "certgate" => upn == "alice@corp.example",
        _ => upn.contains("CN="),
    };
    if !expected_upn
        || !header("x-certgate-certificate-serial").eq_ignore_ascii_case(serial)
        || header("client-cert").is_empty()
    {
        bail!(
            "{}: the upstream did not see the expected identity (X-Certgate-UPN {upn:?}, serial {:?}, Client-Cert {} bytes)",
            target.name,
            header("x-certgate-certificate-serial"),
            header("client-cert").len()
        );
    }
    let revoked = one_request(revoked_client, target.addr, &whoami)
        .await
        .map_err(|e| anyhow!("{}: the revoked client: {e}", target.name))?;
    let text = revoked.body_text();
    let refused = revoked.status == 403
        && match target.name {
            "certgate" => serde_json::from_slice::<serde_json::Value>(&revoked.body)
                .is_ok_and(|body| body["code"] == "cert-revoked"),
            _ => text.contains("revoked"),
        };
    match revocation {
        Revocation::Crl if !refused => bail!(
            "{}: the revoked client was not refused as revoked: HTTP {} {text}",
            target.name,
            revoked.status,
        ),
        // Without a CRL nothing says the certificate is revoked: both proxies forward it,
        // proof that no revocation check runs in this variant.
        Revocation::NoCrl if revoked.status != 200 => bail!(
            "{}: without a CRL the revoked client should be forwarded: HTTP {} {text}",
            target.name,
            revoked.status,
        ),
        _ => {}
    }
    eprintln!(
        "  {}: valid → upstream saw X-Certgate-UPN {upn:?}; revoked → HTTP {} {:?}",
        target.name,
        revoked.status,
        text.chars().take(60).collect::<String>()
    );
    Ok(Checked {
        valid,
        upstream_saw: seen,
        revoked,
    })
}

/// The upstream's `…/whoami` answer as (header, value) pairs.
fn upstream_saw(exchange: &Exchange) -> Vec<(String, String)> {
    exchange
        .body_text()
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(": ")?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}
