//! The fixture cache the benchmarks keep under the target directory (certgate's validation
//! benchmark includes this file too, with `#[path]`): rcgen takes a while to sign a CRL of
//! hundreds of thousands of entries, so a benchmark's PKI and CRLs are written once per cache
//! version and entry count and read back on later runs. A cache is used only when the
//! benchmark's checks pass (and, where it keeps one, its manifest matches the spec); anything
//! else makes it again.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use certgate_pki::{AlgorithmPolicy, Certificate, Crl};
use serde_json::{json, Value};

/// Serials of the issuing CA's CRL entries (see `certgate_testpki::revoked_serial`), the same
/// in both benchmarks so that their issuing CRLs list the same serials.
pub(crate) const ISSUING_SEED: u64 = 0xC41F_2E01;
pub(crate) const ROOT_SEED: u64 = 0xC41F_2E02;
/// The root CRL stays small: the benchmarks are about the issuing CA's CRL.
pub(crate) const ROOT_ENTRIES: usize = 1_000;

pub(crate) const DAY: i64 = 86_400;

/// The benchmark's fixture of `entries` CRL entries as `read` finds it in its cache directory
/// (`<cache_root>/<name>-certgate<crate version>-rsa2048-<entries>`, `name` naming the
/// benchmark and its cache version), or, when there is none or it is unusable (said on
/// stderr), a new one that `generate` makes there.
pub(crate) fn load_or_generate<F>(
    cache_root: &Path,
    name: &str,
    entries: usize,
    read: impl FnOnce(&Path, usize) -> Result<F>,
    generate: impl FnOnce(&Path, usize) -> Result<F>,
) -> Result<F> {
    let directory = cache_root.join(format!(
        "{name}-certgate{}-rsa2048-{entries}",
        env!("CARGO_PKG_VERSION")
    ));
    match read(&directory, entries) {
        Ok(fixture) => return Ok(fixture),
        Err(error) if directory.exists() => {
            eprintln!(
                "  cache at {} unusable ({error:#}); regenerating",
                directory.display()
            );
        }
        Err(_) => {}
    }
    generate(&directory, entries)
}

/// What a cache was made from: the fields both benchmarks record, then `more` (an object).
pub(crate) fn manifest(version: &str, entries: usize, more: Value) -> Value {
    let mut manifest = json!({
        "version": version,
        "certgate": env!("CARGO_PKG_VERSION"),
        "key": "rsa2048",
        "entries": entries,
        "issuing_seed": ISSUING_SEED,
        "root_seed": ROOT_SEED,
        "root_entries": ROOT_ENTRIES,
    });
    if let (Some(fields), Value::Object(more)) = (manifest.as_object_mut(), more) {
        fields.extend(more);
    }
    manifest
}

/// The cache's manifest.json.
pub(crate) fn read_manifest(directory: &Path) -> Result<Value> {
    serde_json::from_slice(&std::fs::read(directory.join("manifest.json"))?)
        .context("manifest.json")
}

/// One file of the cache.
pub(crate) fn read_file(directory: &Path, name: &str) -> Result<Vec<u8>> {
    std::fs::read(directory.join(name)).with_context(|| format!("reading {name}"))
}

/// Writes `files` and the `manifest` (when the benchmark keeps one) into a scratch directory
/// and renames it into place, so that an interrupted run leaves no half-written cache behind.
pub(crate) fn write(
    directory: &Path,
    benchmark: &str,
    files: &[(&str, &[u8])],
    manifest: Option<&Value>,
) -> Result<()> {
    let parent = directory
        .parent()
        .ok_or_else(|| anyhow!("cache directory has no parent"))?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let scratch = parent.join(format!(".partial-{benchmark}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    for (name, bytes) in files {
        std::fs::write(scratch.join(name), bytes)?;
    }
    if let Some(manifest) = manifest {
        std::fs::write(
            scratch.join("manifest.json"),
            serde_json::to_string_pretty(manifest)? + "\n",
        )?;
    }
    let _ = std::fs::remove_dir_all(directory);
    std::fs::rename(&scratch, directory)
        .with_context(|| format!("moving the cache into {}", directory.display()))?;
    Ok(())
}

/// The certificate in `der`; `what` names it in the error.
pub(crate) fn certificate(der: &[u8], what: &str) -> Result<Certificate> {
    Certificate::from_der(der).map_err(|e| anyhow!("{what} certificate: {e}"))
}

/// The CRL in `der` (the file `what`), once it has `issuer`'s subject as its issuer,
/// `expected_entries` entries and `issuer`'s signature.
pub(crate) fn checked_crl(
    der: &[u8],
    issuer: &Certificate,
    expected_entries: usize,
    what: &str,
) -> Result<Crl> {
    let crl = Crl::from_der(der.to_vec()).map_err(|e| anyhow!("{what}: {e}"))?;
    if crl.issuer() != issuer.subject() {
        bail!("{what}: wrong issuer");
    }
    if crl.entry_count() != expected_entries {
        bail!(
            "{what}: {} entries, expected {expected_entries}",
            crl.entry_count()
        );
    }
    crl.verify_signature(issuer, &AlgorithmPolicy::default())
        .map_err(|e| anyhow!("{what}: signature: {e}"))?;
    Ok(crl)
}
