//! The benchmark's PKI and CRLs, cached under the target directory.
//!
//! rcgen takes a while to sign a 570,000-entry CRL and its keys differ on every run
//! (certgate-testpki says why), so the chain and the three CRLs are written once per
//! [`CACHE_VERSION`] and entry count and read back on later runs. A cache is used only when
//! its manifest matches the spec and every CRL parses, carries the expected number and entry
//! count, and verifies under the cached issuing certificate; anything else regenerates it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use certgate_testpki::{
    instants, revoked_serial, serial_for, ChainSpec, CrlSpec, KeyKind, TestPki,
};
use serde_json::{json, Value};

use crate::common::fixture::{
    self as cache, certificate, checked_crl, read_file, DAY, ISSUING_SEED, ROOT_ENTRIES, ROOT_SEED,
};

/// Bump when the generator or the fixture layout changes.
const CACHE_VERSION: &str = "v2";
const BENCHMARK: &str = "crl-refresh";

/// CRL #2 lists this certificate serial on top of CRL #1's entries, so the refreshed state is
/// told apart from the old one by a lookup as well as by the CRL number.
const DECOY_INDEX: u64 = 0xDEC0;

pub(crate) struct Fixture {
    pub(crate) root_der: Vec<u8>,
    pub(crate) intermediate_der: Vec<u8>,
    pub(crate) leaf_der: Vec<u8>,
    /// The leaf's private key (PKCS#8 DER), for sign-ins through the certauth listener.
    pub(crate) leaf_key: Vec<u8>,
    pub(crate) root_crl: Vec<u8>,
    /// The issuing CA's CRL number 1: `entries` serials, not the leaf.
    pub(crate) issuing_crl_1: Vec<u8>,
    /// CRL number 2: the same serials plus [`Fixture::decoy_serial`].
    pub(crate) issuing_crl_2: Vec<u8>,
    pub(crate) decoy_serial: Vec<u8>,
    pub(crate) entries: usize,
    /// `None` when read from the cache.
    pub(crate) generated_in: Option<Duration>,
    pub(crate) directory: PathBuf,
}

impl Fixture {
    /// The cache's files.
    fn files(&self) -> [(&'static str, &[u8]); 7] {
        [
            ("root.der", &self.root_der),
            ("intermediate.der", &self.intermediate_der),
            ("leaf.der", &self.leaf_der),
            ("leaf.key", &self.leaf_key),
            ("root.crl", &self.root_crl),
            ("issuing-1.crl", &self.issuing_crl_1),
            ("issuing-2.crl", &self.issuing_crl_2),
        ]
    }
}

fn decoy_serial() -> Vec<u8> {
    serial_for(ISSUING_SEED, DECOY_INDEX)
}

/// What the cache was made from; a cache with another manifest is regenerated.
fn manifest(entries: usize) -> Value {
    cache::manifest(
        CACHE_VERSION,
        entries,
        json!({
            "decoy": certgate_core::hex(&decoy_serial()),
            "this_update": [instants::CRL_THIS_UPDATE, instants::CRL_THIS_UPDATE + DAY],
            "next_update": instants::CRL_NEXT_UPDATE,
        }),
    )
}

pub(crate) fn load_or_generate(cache_root: &Path, entries: usize) -> Result<Fixture> {
    let name = format!("{BENCHMARK}-{CACHE_VERSION}");
    cache::load_or_generate(cache_root, &name, entries, read, generate)
}

fn generate(directory: &Path, entries: usize) -> Result<Fixture> {
    eprintln!(
        "  generating the test PKI and two issuing CRLs of {entries} entries (cached for later runs)..."
    );
    let started = Instant::now();
    let pki = TestPki::three_level(&ChainSpec::with_key(KeyKind::Rsa2048))
        .context("generating the test PKI")?;
    let at = certgate_testpki::at;
    let spec_1 = CrlSpec {
        entries,
        seed: ISSUING_SEED,
        crl_number: 1,
        ..CrlSpec::default()
    };
    // CRL #2 was issued a day after CRL #1; both cover `VALIDATION_TIME`.
    let spec_2 = CrlSpec {
        crl_number: 2,
        this_update: at(instants::CRL_THIS_UPDATE + DAY),
        extra_revoked: vec![decoy_serial()],
        ..spec_1.clone()
    };
    let root_spec = CrlSpec {
        entries: ROOT_ENTRIES,
        seed: ROOT_SEED,
        ..CrlSpec::default()
    };
    // The two big CRLs are independent: sign them side by side.
    let (crl_1, crl_2) = std::thread::scope(|scope| {
        let first = scope.spawn(|| TestPki::crl(&pki.intermediate, &spec_1));
        let second = TestPki::crl(&pki.intermediate, &spec_2);
        (first.join(), second)
    });
    let issuing_crl_1 = crl_1
        .map_err(|_| anyhow!("generating CRL #1 panicked"))?
        .context("CRL #1")?;
    let issuing_crl_2 = crl_2.context("CRL #2")?;
    let root_crl = TestPki::crl(&pki.root, &root_spec).context("the root CRL")?;
    let generated_in = started.elapsed();
    let fixture = Fixture {
        root_der: pki.root.der,
        intermediate_der: pki.intermediate.der,
        leaf_der: pki.leaf.der,
        leaf_key: pki.leaf.key_pkcs8_der,
        root_crl,
        issuing_crl_1,
        issuing_crl_2,
        decoy_serial: decoy_serial(),
        entries,
        generated_in: Some(generated_in),
        directory: directory.to_owned(),
    };
    check(&fixture).context("the freshly generated fixture")?;
    cache::write(
        directory,
        BENCHMARK,
        &fixture.files(),
        Some(&manifest(entries)),
    )?;
    Ok(fixture)
}

fn read(directory: &Path, entries: usize) -> Result<Fixture> {
    if cache::read_manifest(directory)? != manifest(entries) {
        bail!("the manifest differs from this benchmark's spec");
    }
    let file = |name: &str| read_file(directory, name);
    let fixture = Fixture {
        root_der: file("root.der")?,
        intermediate_der: file("intermediate.der")?,
        leaf_der: file("leaf.der")?,
        leaf_key: file("leaf.key")?,
        root_crl: file("root.crl")?,
        issuing_crl_1: file("issuing-1.crl")?,
        issuing_crl_2: file("issuing-2.crl")?,
        decoy_serial: decoy_serial(),
        entries,
        generated_in: None,
        directory: directory.to_owned(),
    };
    check(&fixture)?;
    Ok(fixture)
}

/// Each CRL parses, has the expected issuer, number and entry count, and verifies.
fn check(fixture: &Fixture) -> Result<()> {
    let root = certificate(&fixture.root_der, "root")?;
    let intermediate = certificate(&fixture.intermediate_der, "intermediate")?;
    let leaf = certificate(&fixture.leaf_der, "leaf")?;
    if leaf.issuer() != intermediate.subject() || intermediate.issuer() != root.subject() {
        bail!("the certificates do not form a chain");
    }
    for (der, issuer, number, expected_entries, what) in [
        (&fixture.root_crl, &root, 1u8, ROOT_ENTRIES, "root.crl"),
        (
            &fixture.issuing_crl_1,
            &intermediate,
            1,
            fixture.entries,
            "issuing-1.crl",
        ),
        (
            &fixture.issuing_crl_2,
            &intermediate,
            2,
            fixture.entries + 1,
            "issuing-2.crl",
        ),
    ] {
        let crl = checked_crl(der, issuer, expected_entries, what)?;
        if crl.crl_number() != Some(&[number][..]) {
            bail!(
                "{what}: CRL number {:?}, expected {number}",
                crl.crl_number()
            );
        }
        if issuer.subject() == intermediate.subject() {
            let leaf_listed = crl.lookup(crl.issuer(), leaf.serial()).is_some();
            let decoy_listed = crl.lookup(crl.issuer(), &fixture.decoy_serial).is_some();
            if leaf_listed || decoy_listed != (number == 2) {
                bail!("{what}: leaf listed {leaf_listed}, decoy listed {decoy_listed}");
            }
            // A spot check that the generated serials are the ones listed.
            if crl
                .lookup(crl.issuer(), &revoked_serial(ISSUING_SEED, 0))
                .is_none()
            {
                bail!("{what}: generated serial 0 is not listed");
            }
        }
    }
    Ok(())
}
