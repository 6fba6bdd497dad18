//! Part 1: chain validation rate without revocation, certgate against rustls-webpki and against
//! the bare signature checks the chain needs.

use std::hint::black_box;

use anyhow::{anyhow, Context, Result};
use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use certgate_pki::{
    validate, CaKind, Certificate, Rejection, RevocationDepth, RevocationSnapshot, TrustStore,
    UnixTime, ValidatedPath, ValidationPolicy,
};
use certgate_testpki::{ChainSpec, KeyKind, TestPki, VALIDATION_TIME};
use rustls_pki_types::CertificateDer;
use webpki::{anchor_from_trusted_cert, EndEntityCert, KeyUsage};

use crate::measure::{interleaved, Budget};
use crate::report::{Figure, Report, Target};

/// The validation instant as rustls-pki-types spells it.
pub(crate) fn webpki_time() -> rustls_pki_types::UnixTime {
    // VALIDATION_TIME is a positive constant (2026-01-01).
    rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        VALIDATION_TIME.unsigned_abs(),
    ))
}

/// A chain parsed once for certgate, with the trust store built from its root.
pub(crate) struct CertgateChain {
    pub(crate) root: Certificate,
    pub(crate) leaf: Certificate,
    pub(crate) intermediates: Vec<Certificate>,
    pub(crate) trust: TrustStore,
}

impl CertgateChain {
    /// Validates the pre-parsed chain, the leaf passed through `black_box` so the optimiser
    /// cannot hoist anything out of a timed loop.
    pub(crate) fn validate<'a>(
        &'a self,
        crls: &'a RevocationSnapshot,
        policy: &'a ValidationPolicy,
        at: UnixTime,
    ) -> Result<ValidatedPath<'a>, Rejection> {
        validate(
            black_box(&self.leaf),
            &self.intermediates,
            &self.trust,
            crls,
            policy,
            at,
        )
    }

    /// The chain's two signatures, root over intermediate and intermediate over leaf, as
    /// (issuer's key, signed bytes, signature): what the crypto floor verifies.
    pub(crate) fn signatures(&self) -> [(&[u8], &[u8], &[u8]); 2] {
        let intermediate = &self.intermediates[0];
        [
            (
                self.root.public_key().key.as_slice(),
                intermediate.tbs_der(),
                intermediate.signature(),
            ),
            (
                intermediate.public_key().key.as_slice(),
                self.leaf.tbs_der(),
                self.leaf.signature(),
            ),
        ]
    }

    pub(crate) fn new(pki: &TestPki) -> Result<Self> {
        let parse = |der: &[u8], what: &str| {
            Certificate::from_der(der).map_err(|e| anyhow!("certgate cannot parse the {what}: {e}"))
        };
        let root = parse(&pki.root.der, "root")?;
        let mut trust = TrustStore::new();
        trust.add(root.clone(), CaKind::Root);
        Ok(CertgateChain {
            root,
            leaf: parse(&pki.leaf.der, "leaf")?,
            intermediates: vec![parse(&pki.intermediate.der, "intermediate")?],
            trust,
        })
    }
}

/// The DER webpki borrows from, kept alive for the whole measurement.
pub(crate) struct WebpkiDer {
    pub(crate) root: CertificateDer<'static>,
    pub(crate) intermediates: Vec<CertificateDer<'static>>,
    pub(crate) leaf: CertificateDer<'static>,
}

impl WebpkiDer {
    pub(crate) fn new(pki: &TestPki) -> Self {
        WebpkiDer {
            root: CertificateDer::from(pki.root.der.clone()),
            intermediates: vec![CertificateDer::from(pki.intermediate.der.clone())],
            leaf: CertificateDer::from(pki.leaf.der.clone()),
        }
    }
}

pub(crate) fn run(report: &mut Report, budget: Budget) -> Result<()> {
    for (key, label) in [(KeyKind::Rsa2048, "rsa2048"), (KeyKind::EcdsaP256, "p256")] {
        report.section(&format!(
            "Chain validation, 3 levels, {label}, revocation off, single thread"
        ));
        let pki = TestPki::three_level(&ChainSpec::with_key(key))
            .with_context(|| format!("generating the {label} test PKI"))?;
        measure_key(report, budget, &pki, key, label)?;
    }
    checks(report);
    Ok(())
}

fn measure_key(
    report: &mut Report,
    budget: Budget,
    pki: &TestPki,
    key: KeyKind,
    label: &str,
) -> Result<()> {
    let at = UnixTime(VALIDATION_TIME);
    let policy = ValidationPolicy {
        revocation: RevocationDepth::Off,
        ..ValidationPolicy::default()
    };
    let no_crls = RevocationSnapshot::new(Vec::new());
    let chain = CertgateChain::new(pki)?;
    // Every timed loop below asserts success; check each once up front for a readable error.
    chain
        .validate(&no_crls, &policy, at)
        .map_err(|r| anyhow!("certgate rejects the {label} chain: {r}"))?;
    let mut certgate_parsed = || {
        assert!(chain.validate(&no_crls, &policy, at).is_ok());
    };

    // The sign-in path: the TLS layer hands over DER for the leaf and the presented
    // intermediate; only the trust store exists beforehand.
    let leaf_der = pki.leaf.der.as_slice();
    let intermediate_der = pki.intermediate.der.as_slice();
    let mut certgate_from_der = || {
        let leaf = Certificate::from_der(black_box(leaf_der)).expect("leaf parsed before timing");
        let intermediates = [Certificate::from_der(black_box(intermediate_der))
            .expect("intermediate parsed before timing")];
        assert!(validate(&leaf, &intermediates, &chain.trust, &no_crls, &policy, at).is_ok());
    };

    // Nothing kept from one validation to the next: a trust store built afresh each time, so
    // every CA key is parsed and every signature verified, as on the first sign-in after a
    // start. Building the store (one root) is part of the figure.
    let mut certgate_cold = || {
        let mut trust = TrustStore::new();
        trust.add(black_box(&chain.root).clone(), CaKind::Root);
        let leaf = Certificate::from_der(black_box(leaf_der)).expect("leaf parsed before timing");
        let intermediates = [Certificate::from_der(black_box(intermediate_der))
            .expect("intermediate parsed before timing")];
        assert!(validate(&leaf, &intermediates, &trust, &no_crls, &policy, at).is_ok());
    };

    let der = WebpkiDer::new(pki);
    let anchors = vec![anchor_from_trusted_cert(&der.root)
        .map_err(|e| anyhow!("webpki trust anchor: {e:?}"))?
        .to_owned()];
    let leaf = EndEntityCert::try_from(&der.leaf).map_err(|e| anyhow!("webpki leaf: {e:?}"))?;
    let webpki_verify = |leaf: &EndEntityCert<'_>| {
        leaf.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &der.intermediates,
            webpki_time(),
            KeyUsage::client_auth(),
            None,
            None,
        )
        .map(|_| ())
    };
    webpki_verify(&leaf).map_err(|e| anyhow!("webpki rejects the {label} chain: {e:?}"))?;
    let mut webpki_parsed = || assert!(webpki_verify(black_box(&leaf)).is_ok());
    let mut webpki_from_der = || {
        let leaf = EndEntityCert::try_from(black_box(&der.leaf)).expect("leaf parsed before");
        assert!(webpki_verify(&leaf).is_ok());
    };

    // The floor: the two signatures of the chain (root over intermediate, intermediate over
    // leaf), each through UnparsedPublicKey as certgate does, so key parsing is included.
    let algorithm: &'static dyn VerificationAlgorithm = match key {
        KeyKind::Rsa2048 => &sig::RSA_PKCS1_2048_8192_SHA256,
        KeyKind::EcdsaP256 => &sig::ECDSA_P256_SHA256_ASN1,
        KeyKind::Ed25519 => &sig::ED25519,
    };
    let signatures = chain.signatures();
    let verify_both = || {
        signatures.iter().all(|(key, message, signature)| {
            UnparsedPublicKey::new(algorithm, black_box(*key))
                .verify(black_box(message), black_box(signature))
                .is_ok()
        })
    };
    if !verify_both() {
        return Err(anyhow!("the {label} chain's signatures do not verify"));
    }
    let mut crypto_floor = || assert!(verify_both());

    let results = interleaved(
        budget,
        &mut [
            &mut certgate_parsed,
            &mut webpki_parsed,
            &mut certgate_from_der,
            &mut webpki_from_der,
            &mut crypto_floor,
            &mut certgate_cold,
        ],
    );
    let rows = [
        (
            "certgate.parsed",
            "certgate validate (certificates pre-parsed)",
            "validations/s",
        ),
        (
            "webpki.parsed",
            "webpki verify_for_usage (end entity pre-parsed)",
            "validations/s",
        ),
        (
            "certgate.from_der",
            "certgate from_der(leaf, intermediate) + validate",
            "validations/s",
        ),
        (
            "webpki.from_der",
            "webpki EndEntityCert::try_from + verify_for_usage",
            "validations/s",
        ),
        (
            "crypto_floor",
            "crypto floor: 2 x UnparsedPublicKey::verify",
            "chains/s",
        ),
        (
            "certgate.cold",
            "certgate from_der + validate, fresh trust store",
            "validations/s",
        ),
    ];
    for ((id, text, unit), throughput) in rows.into_iter().zip(results) {
        report.row(
            &format!("chain.{label}.{id}"),
            text,
            Figure::Rate { unit, throughput },
        );
    }
    Ok(())
}

fn checks(report: &mut Report) {
    let ratio = |report: &Report, a: &str, b: &str| match (report.rate(a), report.rate(b)) {
        (Some(a), Some(b)) => a / b,
        _ => f64::NAN,
    };
    let rows = [
        (
            "rsa2048: certgate / crypto floor (pre-parsed)",
            "chain.rsa2048.certgate.parsed",
            "chain.rsa2048.crypto_floor",
            Target::AtLeast(0.90),
        ),
        (
            "rsa2048: certgate / webpki (pre-parsed)",
            "chain.rsa2048.certgate.parsed",
            "chain.rsa2048.webpki.parsed",
            Target::AtLeast(1.0),
        ),
        (
            "rsa2048: certgate / webpki (from DER)",
            "chain.rsa2048.certgate.from_der",
            "chain.rsa2048.webpki.from_der",
            Target::AtLeast(1.0),
        ),
        (
            "rsa2048: certgate / webpki (from DER, nothing kept)",
            "chain.rsa2048.certgate.cold",
            "chain.rsa2048.webpki.from_der",
            Target::None,
        ),
        (
            "rsa2048: certgate from DER / crypto floor",
            "chain.rsa2048.certgate.from_der",
            "chain.rsa2048.crypto_floor",
            Target::None,
        ),
        (
            "p256: certgate / webpki (pre-parsed)",
            "chain.p256.certgate.parsed",
            "chain.p256.webpki.parsed",
            Target::AtLeast(1.0),
        ),
        (
            "p256: certgate / webpki (from DER)",
            "chain.p256.certgate.from_der",
            "chain.p256.webpki.from_der",
            Target::AtLeast(1.0),
        ),
        (
            "p256: certgate / webpki (from DER, nothing kept)",
            "chain.p256.certgate.cold",
            "chain.p256.webpki.from_der",
            Target::None,
        ),
        (
            "p256: certgate / crypto floor (pre-parsed)",
            "chain.p256.certgate.parsed",
            "chain.p256.crypto_floor",
            Target::None,
        ),
    ];
    for (label, a, b, target) in rows {
        let id = format!("ratio.{a}/{b}");
        let value = ratio(report, a, b);
        report.check(&id, label, value, target);
    }
}
