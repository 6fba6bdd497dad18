//! `[limits]` and `[retention]` in certgate.toml: resource limits on every listener, rate
//! limits on anonymous sign-in starts, and how long the logs keep their rows. Each setting has a
//! `CERTGATE_LIMITS_*` / `CERTGATE_RETENTION_*` environment override named after it.

use std::time::Duration;

use anyhow::{bail, Context};
use certgate_core::rate_limit::Rate;
use certgate_server::limits::Limits;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsFileConfig {
    max_connections: Option<u64>,
    listen_backlog: Option<u64>,
    tls_handshake_timeout_seconds: Option<u64>,
    header_read_timeout_seconds: Option<u64>,
    idle_timeout_seconds: Option<u64>,
    body_read_timeout_seconds: Option<u64>,
    max_request_header_bytes: Option<u64>,
    store_timeout_seconds: Option<u64>,
    signin_starts_per_minute_per_address: Option<u64>,
    signin_starts_burst_per_address: Option<u64>,
    signin_starts_per_minute: Option<u64>,
    signin_starts_burst: Option<u64>,
    rate_limit_tracked_addresses: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetentionFileConfig {
    signin_log_days: Option<u64>,
    audit_log_days: Option<u64>,
}

/// One numeric setting: the environment, else the file, else the default; within `range`.
fn setting(
    env: &dyn Fn(&str) -> Option<String>,
    section: &str,
    name: &str,
    file: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> anyhow::Result<u64> {
    let variable = format!("CERTGATE_{}_{}", section, name).to_ascii_uppercase();
    let value = match env(&variable) {
        Some(text) => text
            .parse()
            .with_context(|| format!("{variable} \"{text}\" is not a whole number"))?,
        None => file.unwrap_or(default),
    };
    if !range.contains(&value) {
        bail!(
            "[{section}] {name} must be {} to {}, not {value}",
            range.start(),
            range.end()
        );
    }
    Ok(value)
}

fn to_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

pub(crate) fn settings(
    limits: &LimitsFileConfig,
    retention: &RetentionFileConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Limits> {
    let defaults = Limits::default();
    let l = &defaults.listeners;
    let r = &defaults.rate;
    let seconds = |name: &str, file: Option<u64>, default: Duration| {
        setting(env, "limits", name, file, default.as_secs(), 1..=3600).map(Duration::from_secs)
    };
    let mut out = defaults;
    out.listeners.max_connections = to_usize(setting(
        env,
        "limits",
        "max_connections",
        limits.max_connections,
        l.max_connections as u64,
        1..=1_000_000,
    )?);
    out.listeners.listen_backlog = to_u32(setting(
        env,
        "limits",
        "listen_backlog",
        limits.listen_backlog,
        l.listen_backlog.into(),
        1..=65_535,
    )?);
    out.listeners.handshake_timeout = seconds(
        "tls_handshake_timeout_seconds",
        limits.tls_handshake_timeout_seconds,
        l.handshake_timeout,
    )?;
    out.listeners.header_read_timeout = seconds(
        "header_read_timeout_seconds",
        limits.header_read_timeout_seconds,
        l.header_read_timeout,
    )?;
    out.listeners.idle_timeout = seconds(
        "idle_timeout_seconds",
        limits.idle_timeout_seconds,
        l.idle_timeout,
    )?;
    out.listeners.body_read_timeout = seconds(
        "body_read_timeout_seconds",
        limits.body_read_timeout_seconds,
        l.body_read_timeout,
    )?;
    out.listeners.store_timeout = Duration::from_secs(setting(
        env,
        "limits",
        "store_timeout_seconds",
        limits.store_timeout_seconds,
        l.store_timeout.as_secs(),
        1..=60,
    )?);
    out.listeners.max_header_bytes = to_usize(setting(
        env,
        "limits",
        "max_request_header_bytes",
        limits.max_request_header_bytes,
        l.max_header_bytes as u64,
        8192..=1_048_576,
    )?);
    out.rate.per_address = Rate {
        per_minute: to_u32(setting(
            env,
            "limits",
            "signin_starts_per_minute_per_address",
            limits.signin_starts_per_minute_per_address,
            r.per_address.per_minute.into(),
            1..=60_000,
        )?),
        burst: to_u32(setting(
            env,
            "limits",
            "signin_starts_burst_per_address",
            limits.signin_starts_burst_per_address,
            r.per_address.burst.into(),
            1..=100_000,
        )?),
    };
    out.rate.global = Rate {
        per_minute: to_u32(setting(
            env,
            "limits",
            "signin_starts_per_minute",
            limits.signin_starts_per_minute,
            r.global.per_minute.into(),
            1..=60_000,
        )?),
        burst: to_u32(setting(
            env,
            "limits",
            "signin_starts_burst",
            limits.signin_starts_burst,
            r.global.burst.into(),
            1..=1_000_000,
        )?),
    };
    out.rate.max_tracked_addresses = to_usize(setting(
        env,
        "limits",
        "rate_limit_tracked_addresses",
        limits.rate_limit_tracked_addresses,
        r.max_tracked_addresses as u64,
        1..=10_000_000,
    )?);
    out.retention.signin_log_days = to_u32(setting(
        env,
        "retention",
        "signin_log_days",
        retention.signin_log_days,
        defaults.retention.signin_log_days.into(),
        1..=36_500,
    )?);
    out.retention.audit_log_days = to_u32(setting(
        env,
        "retention",
        "audit_log_days",
        retention.audit_log_days,
        defaults.retention.audit_log_days.into(),
        1..=36_500,
    )?);
    Ok(out)
}

/// Raises the soft open-file limit to the hard limit (each connection, database connection and
/// file is a descriptor; the common soft default of 1,024 is what idle connections exhaust) and
/// says what it did. Returns the soft limit in force.
#[cfg(unix)]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let before = getrlimit(Resource::Nofile);
    let (Some(soft), hard) = (before.current, before.maximum) else {
        tracing::info!("open-file limit: unlimited");
        return None;
    };
    // An unlimited hard limit cannot be the soft one everywhere (macOS caps it): keep a
    // large, finite one then.
    let target = hard.unwrap_or(1_048_576);
    if target <= soft {
        tracing::info!(soft, "open-file limit already at its hard limit");
        return Some(soft);
    }
    let mut raised = before;
    raised.current = Some(target);
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::info!(
                before = soft,
                after = target,
                "raised the open-file limit to the hard limit"
            );
            Some(target)
        }
        Err(error) => {
            tracing::warn!(soft, target, %error, "could not raise the open-file limit");
            Some(soft)
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_file_and_environment() {
        let none = |_: &str| None;
        let limits = settings(
            &LimitsFileConfig::default(),
            &RetentionFileConfig::default(),
            &none,
        )
        .unwrap();
        assert_eq!(limits, Limits::default());
        let file: LimitsFileConfig =
            toml::from_str("max_connections = 100\nheader_read_timeout_seconds = 5").unwrap();
        let env = |name: &str| (name == "CERTGATE_LIMITS_MAX_CONNECTIONS").then(|| "200".into());
        let limits = settings(&file, &RetentionFileConfig::default(), &env).unwrap();
        assert_eq!(limits.listeners.max_connections, 200);
        assert_eq!(limits.listeners.header_read_timeout, Duration::from_secs(5));
        let zero: LimitsFileConfig = toml::from_str("idle_timeout_seconds = 0").unwrap();
        let error = settings(&zero, &RetentionFileConfig::default(), &none).unwrap_err();
        assert!(error
            .to_string()
            .contains("idle_timeout_seconds must be 1 to 3600"));
    }

    #[cfg(unix)]
    #[test]
    fn the_soft_open_file_limit_is_raised_to_the_hard_limit() {
        use rustix::process::{getrlimit, Resource};
        let before = getrlimit(Resource::Nofile);
        let reported = raise_open_file_limit();
        let after = getrlimit(Resource::Nofile);
        if let (Some(_), Some(hard)) = (before.current, before.maximum) {
            assert_eq!(after.current, Some(hard));
            assert_eq!(reported, Some(hard));
        }
    }
}
