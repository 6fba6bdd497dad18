//! Where a benchmark's cache and JSON go, and whether it is a smoke run. certgate's validation
//! benchmark includes this file too (`#[path]`), so that both crates' benchmarks keep their
//! files in one place.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

/// `CERTGATE_BENCH_QUICK` set to anything but empty or `0`: a smoke run.
pub(crate) fn quick() -> bool {
    std::env::var_os("CERTGATE_BENCH_QUICK").is_some_and(|v| v != "0" && !v.is_empty())
}

/// The cargo target directory: cargo gives benchmarks a scratch directory inside it.
pub(crate) fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(PathBuf::from).unwrap_or(tmp)
}

/// Where the fixtures are cached: `<target dir>/certgate-bench/cache`.
pub(crate) fn cache_root() -> PathBuf {
    target_dir().join("certgate-bench").join("cache")
}

/// `CERTGATE_BENCH_JSON`, or `<target dir>/certgate-bench/<benchmark>.json`.
fn json_path(benchmark: &str) -> PathBuf {
    match std::env::var_os("CERTGATE_BENCH_JSON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => target_dir()
            .join("certgate-bench")
            .join(format!("{benchmark}.json")),
    }
}

/// Writes the run's machine-readable figures (see [`json_path`]) and says where.
pub(crate) fn write_json(benchmark: &str, json: &Value) -> Result<()> {
    let path = json_path(benchmark);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(json)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    println!("JSON: {}", path.display());
    Ok(())
}
