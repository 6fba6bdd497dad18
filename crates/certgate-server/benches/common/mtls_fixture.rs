//! The PKI of the benchmarks that run nginx beside certgate (certauth, front_door): the
//! crl_refresh benchmark's RSA-2048 three-level chain (root →
//! issuing CA → client leaf from `certgate-testpki`), a second client certificate that the
//! issuing CA's CRL lists, a 1,000-entry root CRL and a large issuing CRL (571,428 generated
//! entries, about 20 MB, plus the revoked client), all with their keys.
//!
//! Unlike the validation benchmarks, which validate at the fixed `VALIDATION_TIME`, this one
//! also runs nginx, and OpenSSL checks validity and CRL freshness against the system clock
//! with no way to set another time. So the leaf's validity and the CRLs' update window are
//! placed around the day the fixture is made; certgate runs on the system clock as well. The
//! fixture is cached under `<target>/certgate-bench/cache/` (in a directory named after the
//! certauth benchmark, which both benchmarks share) and made again once its CRLs come within a
//! week of their nextUpdate.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use certgate_ca::{issue_client_certificate, Authority, ClientCertificateRequest, KeyAlgorithm};
use certgate_pki::Certificate;
use certgate_testpki::{revoked_serial, ChainSpec, CrlSpec, KeyKind, TestPki};
use serde_json::json;

use super::fixture::{
    self as cache, certificate, checked_crl, read_file, DAY, ISSUING_SEED, ROOT_ENTRIES, ROOT_SEED,
};

/// Bytes per generated CRL entry (certgate-testpki: entries without extensions).
pub(crate) const ENTRY_BYTES: usize = 35;

/// Bump when the generator or the fixture layout changes.
const CACHE_VERSION: &str = "v1";
/// The cache's name: the certauth benchmark made it first; front_door reads the same one.
const BENCHMARK: &str = "certauth";

/// The CRLs are good for 30 days from the day before the fixture was made...
const CRL_DAYS: i64 = 30;
/// ...and the fixture is made again when fewer than this many days remain.
const CRL_MARGIN_DAYS: i64 = 7;

/// One certificate with its private key (PKCS#8 DER).
pub(crate) struct Credential {
    pub(crate) der: Vec<u8>,
    pub(crate) key_pkcs8: Vec<u8>,
}

pub(crate) struct Fixture {
    pub(crate) root_der: Vec<u8>,
    pub(crate) intermediate_der: Vec<u8>,
    /// The client certificate every benchmark handshake presents; no CRL lists it.
    pub(crate) leaf: Credential,
    /// A client certificate from the same issuing CA that the issuing CRL lists.
    pub(crate) revoked: Credential,
    pub(crate) root_crl: Vec<u8>,
    pub(crate) issuing_crl: Vec<u8>,
    /// Generated entries of the issuing CRL (the revoked client comes on top).
    pub(crate) entries: usize,
    /// thisUpdate and nextUpdate of both CRLs, Unix seconds.
    pub(crate) crl_window: (i64, i64),
    /// `None` when read from the cache.
    pub(crate) generated_in: Option<Duration>,
    pub(crate) directory: PathBuf,
}

impl Fixture {
    /// Load-generator clients trusting `server_der`: one with the valid client certificate,
    /// one with the revoked one (both with the issuing CA in their chain).
    pub(crate) fn clients(
        &self,
        server_der: &[u8],
    ) -> Result<(crate::common::load::Client, crate::common::load::Client)> {
        use crate::common::load::Client;
        let valid = Client::new(
            &[self.leaf.der.clone(), self.intermediate_der.clone()],
            &self.leaf.key_pkcs8,
            server_der,
        )?;
        let revoked = Client::new(
            &[self.revoked.der.clone(), self.intermediate_der.clone()],
            &self.revoked.key_pkcs8,
            server_der,
        )?;
        Ok((valid, revoked))
    }

    pub(crate) fn leaf_serial(&self) -> Result<Vec<u8>> {
        Ok(Certificate::from_der(&self.leaf.der)
            .map_err(|e| anyhow!("leaf: {e}"))?
            .serial()
            .to_vec())
    }

    /// The cache's files.
    fn files(&self) -> [(&'static str, &[u8]); 8] {
        [
            ("root.der", &self.root_der),
            ("intermediate.der", &self.intermediate_der),
            ("leaf.der", &self.leaf.der),
            ("leaf.key", &self.leaf.key_pkcs8),
            ("revoked.der", &self.revoked.der),
            ("revoked.key", &self.revoked.key_pkcs8),
            ("root.crl", &self.root_crl),
            ("issuing.crl", &self.issuing_crl),
        ]
    }
}

/// What the cache was made from; a cache with another manifest is made again.
fn manifest(entries: usize, day: i64) -> serde_json::Value {
    cache::manifest(CACHE_VERSION, entries, json!({ "day": day }))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub(crate) fn load_or_generate(cache_root: &Path, entries: usize) -> Result<Fixture> {
    let name = format!("{BENCHMARK}-{CACHE_VERSION}");
    cache::load_or_generate(cache_root, &name, entries, read, generate)
}

fn generate(directory: &Path, entries: usize) -> Result<Fixture> {
    eprintln!(
        "  generating the test PKI and an issuing CRL of {entries} entries (cached for later runs)..."
    );
    let started = Instant::now();
    let now = now();
    let day = now - now.rem_euclid(DAY);
    let at = certgate_testpki::at;
    let pki = TestPki::three_level(&ChainSpec {
        not_before: at(day - 30 * DAY),
        not_after: at(day + 365 * DAY),
        ..ChainSpec::with_key(KeyKind::Rsa2048)
    })
    .context("generating the test PKI")?;
    let issuing = Authority::from_parts(
        pki.intermediate.der.clone(),
        &pki.intermediate.key_pkcs8_der,
    )
    .context("the issuing CA")?;
    let revoked = issue_client_certificate(
        &issuing,
        &ClientCertificateRequest {
            upn: "mallory@corp.example".into(),
            email: Some("mallory@corp.example".into()),
            common_name: "Mallory Example".into(),
            validity_days: 365,
            policy_oids: Vec::new(),
            crl_url: None,
            delta_crl_url: None,
            ca_issuers_url: None,
            key_algorithm: KeyAlgorithm::Rsa2048,
            not_after_limit: None,
        },
        at(day - 30 * DAY),
    )
    .context("the revoked client certificate")?;
    let (this_update, next_update) = crl_window(day);
    let issuing_spec = CrlSpec {
        entries,
        seed: ISSUING_SEED,
        this_update: at(this_update),
        next_update: at(next_update),
        extra_revoked: vec![revoked.serial.clone()],
        ..CrlSpec::default()
    };
    let root_spec = CrlSpec {
        entries: ROOT_ENTRIES,
        seed: ROOT_SEED,
        this_update: at(this_update),
        next_update: at(next_update),
        ..CrlSpec::default()
    };
    let issuing_crl = TestPki::crl(&pki.intermediate, &issuing_spec).context("the issuing CRL")?;
    let root_crl = TestPki::crl(&pki.root, &root_spec).context("the root CRL")?;
    let fixture = Fixture {
        root_der: pki.root.der,
        intermediate_der: pki.intermediate.der,
        leaf: Credential {
            der: pki.leaf.der,
            key_pkcs8: pki.leaf.key_pkcs8_der,
        },
        revoked: Credential {
            der: revoked.certificate_der,
            key_pkcs8: revoked.private_key_pkcs8_der.to_vec(),
        },
        root_crl,
        issuing_crl,
        entries,
        crl_window: (this_update, next_update),
        generated_in: Some(started.elapsed()),
        directory: directory.to_owned(),
    };
    check(&fixture, now).context("the freshly generated fixture")?;
    cache::write(
        directory,
        BENCHMARK,
        &fixture.files(),
        Some(&manifest(fixture.entries, day)),
    )?;
    Ok(fixture)
}

fn crl_window(day: i64) -> (i64, i64) {
    (day - DAY, day - DAY + CRL_DAYS * DAY)
}

fn read(directory: &Path, entries: usize) -> Result<Fixture> {
    let stored = cache::read_manifest(directory)?;
    let day = stored["day"]
        .as_i64()
        .ok_or_else(|| anyhow!("the manifest has no day"))?;
    if stored != manifest(entries, day) {
        bail!("the manifest differs from this benchmark's spec");
    }
    let (this_update, next_update) = crl_window(day);
    let now = now();
    if now < this_update || now > next_update - CRL_MARGIN_DAYS * DAY {
        bail!("its CRLs are too close to their nextUpdate");
    }
    let file = |name: &str| read_file(directory, name);
    let fixture = Fixture {
        root_der: file("root.der")?,
        intermediate_der: file("intermediate.der")?,
        leaf: Credential {
            der: file("leaf.der")?,
            key_pkcs8: file("leaf.key")?,
        },
        revoked: Credential {
            der: file("revoked.der")?,
            key_pkcs8: file("revoked.key")?,
        },
        root_crl: file("root.crl")?,
        issuing_crl: file("issuing.crl")?,
        entries,
        crl_window: (this_update, next_update),
        generated_in: None,
        directory: directory.to_owned(),
    };
    check(&fixture, now)?;
    Ok(fixture)
}

/// The certificates form the chain, both CRLs verify and are current, the issuing CRL lists
/// the revoked client and its generated serials but not the leaf.
fn check(fixture: &Fixture, now: i64) -> Result<()> {
    let root = certificate(&fixture.root_der, "root")?;
    let intermediate = certificate(&fixture.intermediate_der, "intermediate")?;
    let leaf = certificate(&fixture.leaf.der, "leaf")?;
    let revoked = certificate(&fixture.revoked.der, "revoked")?;
    if leaf.issuer() != intermediate.subject()
        || revoked.issuer() != intermediate.subject()
        || intermediate.issuer() != root.subject()
    {
        bail!("the certificates do not form a chain");
    }
    for (der, issuer, expected_entries, what) in [
        (&fixture.root_crl, &root, ROOT_ENTRIES, "root.crl"),
        (
            &fixture.issuing_crl,
            &intermediate,
            fixture.entries + 1,
            "issuing.crl",
        ),
    ] {
        let crl = checked_crl(der, issuer, expected_entries, what)?;
        if crl.this_update().0 > now || crl.next_update().is_none_or(|next| next.0 <= now) {
            bail!("{what}: not current");
        }
        if issuer.subject() == intermediate.subject() {
            let listed = |serial: &[u8]| crl.lookup(crl.issuer(), serial).is_some();
            if listed(leaf.serial())
                || !listed(revoked.serial())
                || !listed(&revoked_serial(ISSUING_SEED, 0))
            {
                bail!("{what}: the leaf is listed, or the revoked client or serial 0 is not");
            }
        }
    }
    Ok(())
}
