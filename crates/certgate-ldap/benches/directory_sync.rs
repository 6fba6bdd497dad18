//! How long a directory sync takes and how much memory it needs, against the test Samba AD
//! DC (the harness of the tests, included by path): a full sync of 1,000 and of 10,000 users
//! into a fresh SQLite store and into a fresh PostgreSQL database, a read of the 10,000 alone
//! (to tell the LDAP read from the mapping and from the store's writes), an incremental sync
//! of the 10,000 after 10 changes in AD on each backend, and, for comparison, a full-read sync
//! of the 10,000 after 10 more changes.
//!
//! `cargo bench -p certgate-ldap --bench directory_sync` (needs root, Samba and ldap-utils, as
//! the tests do, and `psql` with the PostgreSQL server at 127.0.0.1:5432, user postgres,
//! database test, trust authentication; `CERTGATE_BENCH_POSTGRES_URL` names another). Each
//! measured run is a child process of its own (this binary again, told what to do by
//! `CERTGATE_BENCH_RUN`), so the peak resident memory it reports (VmHWM) is that run's alone
//! and not the DC harness's or an earlier run's. Nothing here asserts a timing.

#[path = "../tests/samba_dc/mod.rs"]
mod samba_dc;

use std::process::Command;
use std::time::{Duration, Instant};

use certgate_core::clock::SystemClock;
use certgate_core::directory_source::{
    map_entries, synchronize_with, AttributeMap, DirectorySource, SyncMode, SyncProgress,
    SyncRequest, SyncSettings,
};
use certgate_ldap::{LdapDirectory, LdapSourceConfig, PasswordSource, Transport};
use certgate_store::SqlStore;

const SMALL: usize = 1_000;
const LARGE: usize = 10_000;
const CHANGES: usize = 10;

fn main() {
    match std::env::var("CERTGATE_BENCH_RUN") {
        Ok(run) => child(&run),
        Err(_) => parent(),
    }
}

/// The OU of one population.
fn ou(users: usize) -> String {
    format!("OU=Bench{users},{}", samba_dc::BASE_DN)
}

/// One bulk `ldapadd` (over the harness's LDAPS connection) of `users` accounts with the
/// attributes a sync maps: UPN, displayName, mail, two proxy addresses. Disabled
/// (userAccountControl 514): an enabled AD account needs a password, whose key derivation on
/// the DC would make the setup minutes longer and changes nothing certgate reads.
fn add_users(dc: &samba_dc::SambaDc, users: usize) {
    let base = ou(users);
    let mut ldif = format!("dn: {base}\nchangetype: add\nobjectClass: organizationalUnit\n\n");
    for index in 0..users {
        let name = format!("u{users}-{index:05}");
        ldif.push_str(&format!(
            "dn: CN={name},{base}\nchangetype: add\nobjectClass: user\nsAMAccountName: {name}\n\
             userPrincipalName: {name}@certgate.test\ndisplayName: User {index} of {users}\n\
             mail: {name}@certgate.test\nproxyAddresses: SMTP:{name}@certgate.test\n\
             proxyAddresses: smtp:{name}@mail.certgate.test\nuserAccountControl: 514\n\n"
        ));
    }
    dc.ldapmodify(&ldif);
}

/// The PostgreSQL server's URL without a database name, and a fresh database on it for one
/// run (dropped first if an earlier run left it).
fn fresh_postgres_database(name: &str) -> String {
    let server = std::env::var("CERTGATE_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        let status = Command::new("psql")
            .args([server.as_str(), "-q", "-c", &statement])
            .status()
            .expect("run psql");
        assert!(status.success(), "psql {statement} failed");
    }
    let (base, _) = server
        .rsplit_once('/')
        .expect("a postgres://.../database URL");
    format!("{base}/{name}")
}

/// `CHANGES` displayName changes to the accounts `first..first + CHANGES` of the large OU.
fn change_accounts(dc: &samba_dc::SambaDc, first: usize, label: &str) {
    let mut ldif = String::new();
    for index in first..first + CHANGES {
        ldif.push_str(&format!(
            "dn: CN=u{LARGE}-{index:05},{}\nchangetype: modify\nreplace: displayName\n\
             displayName: {label} {index}\n-\n\n",
            ou(LARGE)
        ));
    }
    dc.ldapmodify(&ldif);
}

fn parent() {
    let dc = samba_dc::dc();
    let work = dc.dir.join("bench");
    // A DC directory reused by the harness may hold an earlier run's databases.
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("create the benchmark directory");

    for users in [SMALL, LARGE] {
        let started = Instant::now();
        add_users(dc, users);
        println!(
            "setup: {users} users added with one ldapadd in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }

    let small_sqlite = format!("sqlite://{}", work.join("small.db").display());
    let large_sqlite = format!("sqlite://{}", work.join("large.db").display());
    let small_postgres = fresh_postgres_database("certgate_bench_small");
    let large_postgres = fresh_postgres_database("certgate_bench_large");
    for (name, users, database) in [
        (
            "full sync, 1,000 users, fresh SQLite store",
            SMALL,
            &small_sqlite,
        ),
        (
            "full sync, 10,000 users, fresh SQLite store",
            LARGE,
            &large_sqlite,
        ),
        (
            "full sync, 1,000 users, fresh PostgreSQL database",
            SMALL,
            &small_postgres,
        ),
        (
            "full sync, 10,000 users, fresh PostgreSQL database",
            LARGE,
            &large_postgres,
        ),
    ] {
        report(name, users, &run_child(dc, "full", users, database));
    }
    report(
        "read + map only, 10,000 users (no store)",
        LARGE,
        &run_child(dc, "read", LARGE, &large_sqlite),
    );

    change_accounts(dc, 0, "Changed");
    report(
        "incremental sync after 10 changes, 10,000 users, SQLite",
        LARGE,
        &run_child(dc, "incremental", LARGE, &large_sqlite),
    );
    report(
        "incremental sync after 10 changes, 10,000 users, PostgreSQL",
        LARGE,
        &run_child(dc, "incremental", LARGE, &large_postgres),
    );
    change_accounts(dc, CHANGES, "Changed again");
    report(
        "full-read sync after 10 more changes, 10,000 users, SQLite (--full)",
        LARGE,
        &run_child(dc, "full", LARGE, &large_sqlite),
    );
}

/// Runs this binary as a child for one run and returns what it printed.
fn run_child(dc: &samba_dc::SambaDc, run: &str, users: usize, database: &str) -> String {
    let output = Command::new(std::env::current_exe().expect("the benchmark's own path"))
        .env("CERTGATE_BENCH_RUN", run)
        .env("CERTGATE_BENCH_BASE", ou(users))
        .env("CERTGATE_BENCH_DATABASE", database)
        .env("CERTGATE_BENCH_CA", &dc.ca_file)
        .env("CERTGATE_BENCH_BIND_DN", dc.admin_bind_dn())
        .env("CERTGATE_BENCH_PASSWORD_FILE", &dc.admin_password_file)
        .output()
        .expect("start the benchmark's child");
    assert!(
        output.status.success(),
        "the {run} run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn report(name: &str, users: usize, output: &str) {
    println!("\n{name}");
    for line in output.lines() {
        println!("  {line}");
        if let Some(seconds) = line
            .strip_prefix("total_s=")
            .and_then(|value| value.parse::<f64>().ok())
        {
            println!("  per_user_ms={:.3}", seconds * 1000.0 / users as f64);
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the parent"))
}

fn child(run: &str) {
    let config = LdapSourceConfig::new(
        "ldaps://127.0.0.1",
        Transport::Ldaps,
        env("CERTGATE_BENCH_CA"),
        env("CERTGATE_BENCH_BIND_DN"),
        PasswordSource::File(env("CERTGATE_BENCH_PASSWORD_FILE").into()),
        env("CERTGATE_BENCH_BASE"),
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    match run {
        "full" => runtime.block_on(sync(config, SyncRequest::Full)),
        "incremental" => runtime.block_on(sync(
            config,
            SyncRequest::Incremental {
                full_sync_every: Duration::from_secs(86_400),
            },
        )),
        "read" => runtime.block_on(read(config)),
        other => panic!("unknown run {other}"),
    }
    println!("peak_rss_mib={:.1}", peak_resident_kib() as f64 / 1024.0);
}

/// A whole `certgate directory sync` as the CLI runs it: read, map, memberships, plan, and
/// every change written through the audited user services.
async fn sync(config: LdapSourceConfig, request: SyncRequest) {
    let database = env("CERTGATE_BENCH_DATABASE");
    let store = SqlStore::connect(&database).await.expect("open the store");
    let source = LdapDirectory::new(config).expect("the LDAP source");
    let settings = SyncSettings {
        attributes: AttributeMap::active_directory(),
        removal_grace: SyncSettings::DEFAULT_REMOVAL_GRACE,
    };
    let started = Instant::now();
    let mut planned_after = Duration::ZERO;
    let report = synchronize_with(
        &source,
        &store,
        &settings,
        request,
        SyncMode::Apply,
        &SystemClock,
        "directory-sync",
        &mut |step| {
            if let SyncProgress::Planned { .. } = step {
                planned_after = started.elapsed();
            }
        },
    )
    .await
    .expect("the sync runs");
    let total = started.elapsed();
    let counts = report.counts();
    println!("total_s={:.3}", total.as_secs_f64());
    println!(
        "scope={} full_reason={} entries_listed={}",
        report.scope.as_str(),
        report
            .full_reason
            .as_ref()
            .map_or("-", |reason| reason.as_str()),
        report.entries_listed
    );
    println!(
        "read_map_groups_plan_s={:.3} apply_s={:.3}",
        planned_after.as_secs_f64(),
        (total - planned_after).as_secs_f64()
    );
    println!(
        "entries={} added={} updated={} disabled={} removed={} skipped={} failed={}",
        counts.entries,
        counts.added,
        counts.updated,
        counts.disabled,
        counts.removed,
        counts.skipped,
        counts.failed
    );
}

/// The LDAP read and the mapping alone, timed apart.
async fn read(config: LdapSourceConfig) {
    let attributes = AttributeMap::active_directory();
    let source = LdapDirectory::new(config).expect("the LDAP source");
    let started = Instant::now();
    let entries = source
        .read_entries(&attributes.requested_attributes())
        .await
        .expect("the read");
    let read = started.elapsed();
    let mapped = map_entries(&entries, &attributes);
    let total = started.elapsed();
    source.end_read().await;
    println!("total_s={:.3}", total.as_secs_f64());
    println!(
        "ldap_read_s={:.3} map_s={:.3} entries={} mapped={}",
        read.as_secs_f64(),
        (total - read).as_secs_f64(),
        entries.len(),
        mapped.entries.len()
    );
}

/// This process's peak resident set (VmHWM, KiB).
fn peak_resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}
