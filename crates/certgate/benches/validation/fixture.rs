//! The revocation benchmark's PKI and CRLs, cached under the target directory.
//!
//! rcgen signs a 600,000-entry CRL in a few seconds to minutes, and its keys differ on every
//! run (certgate-testpki documents why), so the chain, its keys and both CRLs are written once
//! per [`CACHE_VERSION`] and entry count and read back on later runs. Delete the directory or
//! bump the version to regenerate.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use certgate_pki::parse_certificates;
use certgate_testpki::{ChainSpec, CrlSpec, Issued, KeyKind, TestPki};

/// Bump when the generator or the fixture layout changes.
const CACHE_VERSION: &str = "v2";

/// The CRL entries' serials come from this seed (see `certgate_testpki::revoked_serial`).
pub(crate) const ENTRY_SEED: u64 = 0xB16C_0001;

pub(crate) struct RevocationFixture {
    pub(crate) pki: TestPki,
    /// The root's CRL, as large as the intermediate's (different serials): the brief asks for
    /// a ~600,000-entry CRL per issuer, and with revocation depth Chain the intermediate is
    /// looked up in it.
    pub(crate) root_crl: Vec<u8>,
    /// The intermediate's CRL with `entries` generated serials.
    pub(crate) big_crl: Vec<u8>,
    pub(crate) entries: usize,
    /// `None` when read from the cache.
    pub(crate) generated_in: Option<Duration>,
    pub(crate) directory: PathBuf,
}

const CERTIFICATES: [&str; 3] = ["root", "intermediate", "leaf"];

pub(crate) fn load_or_generate(cache_root: &Path, entries: usize) -> Result<RevocationFixture> {
    crate::cache::load_or_generate(cache_root, CACHE_VERSION, entries, read, generate)
}

fn generate(directory: &Path, entries: usize) -> Result<RevocationFixture> {
    eprintln!(
        "  generating the test PKI and a CRL of {entries} entries (cached for later runs)..."
    );
    let started = Instant::now();
    let pki = TestPki::three_level(&ChainSpec::with_key(KeyKind::Rsa2048))
        .context("generating the test PKI")?;
    let root_crl = TestPki::crl(
        &pki.root,
        &CrlSpec {
            entries,
            seed: ENTRY_SEED ^ 0x5EED,
            ..CrlSpec::default()
        },
    )
    .context("the root's large CRL")?;
    let big_crl = TestPki::crl(
        &pki.intermediate,
        &CrlSpec {
            entries,
            seed: ENTRY_SEED,
            ..CrlSpec::default()
        },
    )
    .context("the large CRL")?;
    let generated_in = started.elapsed();
    write(directory, &pki, &root_crl, &big_crl)?;
    Ok(RevocationFixture {
        pki,
        root_crl,
        big_crl,
        entries,
        generated_in: Some(generated_in),
        directory: directory.to_owned(),
    })
}

fn read(directory: &Path, entries: usize) -> Result<RevocationFixture> {
    let mut issued = Vec::with_capacity(3);
    for name in CERTIFICATES {
        let pem = std::fs::read_to_string(directory.join(format!("{name}.pem")))?;
        let key_pkcs8_der = std::fs::read(directory.join(format!("{name}.key.der")))?;
        let certificate = parse_certificates(pem.as_bytes())
            .map_err(|e| anyhow!("{name}.pem: {e}"))?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("{name}.pem holds no certificate"))?;
        issued.push(Issued {
            der: certificate.der().to_vec(),
            key_pkcs8_der,
            pem,
            serial: certificate.serial().to_vec(),
        });
    }
    let [root, intermediate, leaf]: [Issued; 3] = issued
        .try_into()
        .map_err(|_| anyhow!("three certificates expected"))?;
    let root_crl = std::fs::read(directory.join("root.crl"))?;
    let big_crl = std::fs::read(directory.join("intermediate.crl"))?;
    // Entries are 35 bytes each (certgate-testpki); a truncated file shows here.
    if big_crl.len() < entries * 35 {
        bail!("intermediate.crl is {} bytes, too short", big_crl.len());
    }
    Ok(RevocationFixture {
        pki: TestPki {
            root,
            intermediate,
            leaf,
        },
        root_crl,
        big_crl,
        entries,
        generated_in: None,
        directory: directory.to_owned(),
    })
}

/// Writes the chain, its keys and both CRLs into the cache (see `cache::write`).
fn write(directory: &Path, pki: &TestPki, root_crl: &[u8], big_crl: &[u8]) -> Result<()> {
    let mut names: Vec<(String, &[u8])> = Vec::new();
    for (name, issued) in CERTIFICATES
        .into_iter()
        .zip([&pki.root, &pki.intermediate, &pki.leaf])
    {
        names.push((format!("{name}.pem"), issued.pem.as_bytes()));
        names.push((format!("{name}.key.der"), &issued.key_pkcs8_der));
    }
    names.push(("root.crl".into(), root_crl));
    names.push(("intermediate.crl".into(), big_crl));
    let files: Vec<(&str, &[u8])> = names
        .iter()
        .map(|(name, bytes)| (name.as_str(), *bytes))
        .collect();
    crate::cache::write(directory, "validation", &files, None)
}
