//! `certgate verify`: the validation engine for people and scripts.

use certgate_core::crl_cache::CrlCacheStore;
use certgate_core::trusted_ca::TrustedCaStore;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use certgate_pki::{
    parse_certificates, parse_crl_bundle, validate_explained, CaKind, Certificate, ExpectedName,
    Explanation, Identity, LegacyAlgorithms, MissingEku, Oid, PolicySettings, Purpose, Rejection,
    RevocationDepth, RevocationSnapshot, RevocationStatus, TrustStore, UnixTime, ValidatedPath,
    ValidationPolicy,
};
use std::sync::Arc;

use certgate_core::validation_state::{build_state, ParsedCrls, ValidationState};
use certgate_pki::Crl;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// Validate against certgate's trust store and cached CRLs (`certgate ca`, `certgate crl
    /// refresh`), as sign-in does: revocation checked for the whole chain, CAs' exemptions
    /// honoured. --trust, --crl and the other inputs add to it.
    #[arg(long)]
    store: bool,
    /// Trusted root CA certificates (PEM bundle or DER). Repeatable.
    #[arg(long = "trust", value_name = "FILE")]
    trust: Vec<PathBuf>,
    /// Trusted intermediate CAs: used to build paths, which must still end at a --trust root.
    #[arg(long = "trusted-intermediate", value_name = "FILE")]
    trusted_intermediates: Vec<PathBuf>,
    /// Untrusted intermediates, as a client would present them. Repeatable.
    #[arg(long = "untrusted", value_name = "FILE")]
    untrusted: Vec<PathBuf>,
    /// CRLs (PEM or DER, base or delta; a PEM file may bundle several). Repeatable. Turns
    /// revocation checking on (chain) even when no CRL in the file is usable: a CRL that cannot
    /// be used is reported and left out, so what it would cover is `crl-unavailable`.
    #[arg(long = "crl", value_name = "FILE")]
    crls: Vec<PathBuf>,
    /// Validation time, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// What the end entity must be good for: `client` (EKU clientAuth), `server` (EKU
    /// serverAuth and the CA/Browser Forum TLS server profile) or `any` (no purpose check).
    #[arg(long, value_enum, default_value_t = PurposeArg::Client)]
    purpose: PurposeArg,
    /// Required EKU OIDs (replaces --purpose). Repeatable.
    #[arg(long = "eku", value_name = "OID")]
    ekus: Vec<String>,
    /// Reject an end entity without an extendedKeyUsage extension.
    #[arg(long)]
    reject_missing_eku: bool,
    #[arg(long, value_name = "NAME")]
    dns: Vec<String>,
    #[arg(long, value_name = "ADDR")]
    ip: Vec<IpAddr>,
    #[arg(long, value_name = "ADDR")]
    email: Vec<String>,
    /// Maximum intermediate CAs between the end entity and the trust anchor, as `openssl
    /// verify -verify_depth` counts them; self-issued intermediates (key rollover) do not count
    /// (RFC 5280 §6.1.4 (l)).
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_depth: usize,
    /// user-initial-policy-set OIDs (default: anyPolicy). Repeatable.
    #[arg(long = "policy", value_name = "OID")]
    policies: Vec<String>,
    #[arg(long)]
    explicit_policy: bool,
    #[arg(long)]
    inhibit_policy_mapping: bool,
    #[arg(long)]
    inhibit_any_policy: bool,
    /// Which certificates need a good CRL status (default: chain when --crl or --store is
    /// given, else off). `off` cannot be combined with --crl.
    #[arg(long, value_enum)]
    revocation: Option<RevocationArg>,
    /// Accept SHA-1 signatures, DSA keys and RSA keys from 1024 bits (old PKIs such as the
    /// 2011 NIST PKITS data), and non-critical policyConstraints as those PKIs have. Insecure;
    /// never use it for sign-in.
    #[arg(long)]
    allow_insecure_legacy_algorithms: bool,
    /// Named exceptions to the RFC 5280 §4 profile rules (see docs/validation.md,
    /// "Certificate profile rules"). Each accepts certificates a conforming CA never issues.
    #[command(flatten)]
    profile_exceptions: ProfileExceptionArgs,
    /// Machine-readable result, with the identity fields.
    #[arg(long)]
    json: bool,
    /// Print every path tried and every check made.
    #[arg(long)]
    explain: bool,
    /// The end-entity certificate (PEM or DER; the first certificate of a PEM bundle, any
    /// others are treated as untrusted intermediates).
    leaf: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PurposeArg {
    Client,
    Server,
    Any,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RevocationArg {
    Off,
    EndEntity,
    Chain,
}

/// An input problem: exit code 2.
struct UsageError(String);

pub(crate) fn run(args: VerifyArgs, global: &crate::GlobalArgs) -> ExitCode {
    let from_store = if args.store {
        match load_store_state(global) {
            Ok(state) => Some(state),
            Err(error) => {
                let message = format!("{error:#}");
                if args.json {
                    outln!(
                        "{}",
                        json!({ "valid": false, "code": "store-unavailable", "message": message })
                    );
                } else {
                    eprintln!("certgate verify: {message}");
                }
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    match prepare(&args, from_store.as_deref()) {
        Ok(inputs) => report(&args, &inputs),
        Err(UsageError(message)) => {
            if args.json {
                outln!(
                    "{}",
                    json!({ "valid": false, "code": "usage-error", "message": message })
                );
            } else {
                eprintln!("certgate verify: {message}");
            }
            ExitCode::from(2)
        }
    }
}

/// One unusable CRL of a `--crl` file.
struct UnusableCrlFile {
    file: String,
    /// The CRL's place in the file, from 1; `None` when the file holds no CRL at all.
    position: Option<usize>,
    code: &'static str,
    message: String,
}

impl std::fmt::Display for UnusableCrlFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some(position) => write!(f, "{} (CRL {position})", self.file)?,
            None => write!(f, "{}", self.file)?,
        }
        write!(f, ": {} ({})", self.message, self.code)
    }
}

struct Inputs {
    leaf: Certificate,
    intermediates: Vec<Certificate>,
    trust: TrustStore,
    snapshot: RevocationSnapshot,
    policy: ValidationPolicy,
    at: UnixTime,
    /// CRLs that were read but cannot be used (e.g. an unknown critical extension): reported,
    /// and left out, so the certificates they cover end up `crl-unavailable`.
    unusable_crls: Vec<UnusableCrlFile>,
}

fn read(path: &PathBuf) -> Result<Vec<u8>, UsageError> {
    std::fs::read(path).map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))
}

fn certificates(path: &PathBuf) -> Result<Vec<Certificate>, UsageError> {
    parse_certificates(&read(path)?).map_err(|reason| {
        UsageError(format!(
            "{}: {} ({})",
            path.display(),
            reason,
            reason.code()
        ))
    })
}

fn oid(text: &str) -> Result<Oid, UsageError> {
    let valid = text.split('.').count() >= 2
        && text
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    if valid {
        Ok(Oid::new(text))
    } else {
        Err(UsageError(format!("'{text}' is not a dotted OID")))
    }
}

/// The validation state sign-in would use, built from the store.
fn load_store_state(global: &crate::GlobalArgs) -> anyhow::Result<Arc<ValidationState>> {
    let config = global.load()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = config.open_store().await?;
        let generation = store.generation().await?;
        let cas = store.list_cas().await?;
        let crls = store.cached_crls().await?;
        Ok(Arc::new(build_state(
            &cas,
            crls,
            &ParsedCrls::default(),
            generation,
        )))
    })
}

fn prepare(args: &VerifyArgs, store: Option<&ValidationState>) -> Result<Inputs, UsageError> {
    if args.trust.is_empty() && store.is_none() {
        return Err(UsageError(
            "at least one --trust root (or --store) is required".into(),
        ));
    }
    let mut leaf_file = certificates(&args.leaf)?.into_iter();
    let leaf = leaf_file
        .next()
        .ok_or_else(|| UsageError("no certificate in the leaf file".into()))?;
    let mut intermediates: Vec<Certificate> = leaf_file.collect();
    for path in &args.untrusted {
        intermediates.extend(certificates(path)?);
    }
    let mut trust = store.map_or_else(TrustStore::new, |s| s.trust().clone());
    for path in &args.trust {
        for cert in certificates(path)? {
            trust.add(cert, CaKind::Root);
        }
    }
    for path in &args.trusted_intermediates {
        for cert in certificates(path)? {
            trust.add(cert, CaKind::Intermediate);
        }
    }
    let mut crls: Vec<Arc<Crl>> = store
        .map(|s| s.revocation().crls().to_vec())
        .unwrap_or_default();
    let mut unusable_crls = Vec::new();
    for path in &args.crls {
        // Keep every usable CRL of the file; report each unusable one and validate without it.
        // Revocation stays on below whatever the file held, so this fails closed.
        let bundle = parse_crl_bundle(read(path)?);
        crls.extend(bundle.crls.into_iter().map(Arc::new));
        unusable_crls.extend(bundle.unusable.into_iter().map(|unusable| UnusableCrlFile {
            file: path.display().to_string(),
            position: unusable.position,
            code: unusable.reason.code(),
            message: unusable.reason.to_string(),
        }));
    }
    let at = match &args.at {
        Some(text) => {
            let parsed =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| UsageError(format!("--at '{text}' is not RFC 3339: {e}")))?;
            UnixTime(parsed.unix_timestamp())
        }
        None => UnixTime(time::OffsetDateTime::now_utc().unix_timestamp()),
    };
    let purpose = if !args.ekus.is_empty() {
        Purpose::RequiredEkus(args.ekus.iter().map(|e| oid(e)).collect::<Result<_, _>>()?)
    } else {
        match args.purpose {
            PurposeArg::Client => Purpose::ClientAuth,
            PurposeArg::Server => Purpose::ServerAuth,
            PurposeArg::Any => Purpose::Any,
        }
    };
    // Any --crl turns revocation on, whether or not its file yielded a usable CRL: deciding
    // on the CRLs that happened to parse would let one bad CRL switch checking off.
    let revocation =
        match (args.revocation, args.crls.is_empty() && store.is_none()) {
            (Some(RevocationArg::Off), _) if !args.crls.is_empty() => return Err(UsageError(
                "--revocation off contradicts --crl: leave out the CRLs to validate without them"
                    .into(),
            )),
            (Some(RevocationArg::Off), _) => RevocationDepth::Off,
            (Some(RevocationArg::EndEntity), _) => RevocationDepth::EndEntity,
            (Some(RevocationArg::Chain), _) | (None, false) => RevocationDepth::Chain,
            (None, true) => RevocationDepth::Off,
        };
    let mut expected_names: Vec<ExpectedName> =
        args.dns.iter().cloned().map(ExpectedName::Dns).collect();
    expected_names.extend(args.ip.iter().copied().map(ExpectedName::Ip));
    expected_names.extend(args.email.iter().cloned().map(ExpectedName::Email));
    let initial_policy_set = if args.policies.is_empty() {
        PolicySettings::default().initial_policy_set
    } else {
        args.policies
            .iter()
            .map(|p| oid(p))
            .collect::<Result<_, _>>()?
    };
    let mut policy = ValidationPolicy {
        purpose,
        missing_eku: if args.reject_missing_eku {
            MissingEku::Reject
        } else {
            MissingEku::Accept
        },
        expected_names,
        max_depth: args.max_depth,
        policies: PolicySettings {
            initial_policy_set,
            initial_explicit_policy: args.explicit_policy,
            initial_policy_mapping_inhibit: args.inhibit_policy_mapping,
            initial_any_policy_inhibit: args.inhibit_any_policy,
        },
        revocation,
        revocation_exempt_issuers: store
            .map(|s| s.policy().revocation_exempt_issuers.clone())
            .unwrap_or_default(),
        ..ValidationPolicy::default()
    };
    policy.profile_exceptions = args.profile_exceptions.to_policy();
    if args.allow_insecure_legacy_algorithms {
        policy.algorithms.legacy = LegacyAlgorithms::AllowInsecure;
        policy.algorithms.min_rsa_bits = 1024;
        // The flag is for old test PKIs such as NIST PKITS, whose CAs also mark
        // policyConstraints non-critical (RFC 2459 allowed it; RFC 5280 §4.2.1.11 does not).
        policy
            .profile_exceptions
            .insecure_allow_non_critical_policy_constraints = true;
    }
    Ok(Inputs {
        leaf,
        intermediates,
        trust,
        snapshot: RevocationSnapshot::from_shared(crls),
        policy,
        at,
        unusable_crls,
    })
}

fn report(args: &VerifyArgs, inputs: &Inputs) -> ExitCode {
    let (result, explanation) = validate_explained(
        &inputs.leaf,
        &inputs.intermediates,
        &inputs.trust,
        &inputs.snapshot,
        &inputs.policy,
        inputs.at,
    );
    if !args.json {
        for unusable in &inputs.unusable_crls {
            eprintln!("certgate verify: not using CRL {unusable}");
        }
    }
    if args.json {
        let mut out = as_json(&inputs.leaf, &result, &explanation, args.explain);
        out["unusable_crls"] = inputs
            .unusable_crls
            .iter()
            .map(|u| {
                json!({"file": u.file, "position": u.position, "code": u.code, "message": u.message})
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        if args.explain {
            print_explanation(&explanation);
            if !inputs.unusable_crls.is_empty() {
                outln!("Unusable CRLs (left out; revocation checking stays on):");
                for unusable in &inputs.unusable_crls {
                    outln!("  {unusable}");
                }
                outln!();
            }
        }
        match &result {
            Ok(path) => {
                outln!("{}: OK", args.leaf.display());
                for (depth, cert) in path.certificates().iter().enumerate() {
                    outln!("  {depth}: {}", cert.subject());
                }
            }
            Err(rejection) => outln!("{}: REJECTED {rejection}", args.leaf.display()),
        }
    }
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn print_explanation(explanation: &Explanation) {
    for (number, attempt) in explanation.attempts.iter().enumerate() {
        outln!("Path {} (end entity first):", number + 1);
        for (depth, subject) in attempt.subjects.iter().enumerate() {
            let role = if depth == 0 {
                "end entity"
            } else if depth + 1 == attempt.subjects.len() {
                "trust anchor"
            } else {
                "intermediate"
            };
            outln!("  [{depth}] {subject}  ({role})");
        }
        outln!("  Checks:");
        for check in &attempt.checks {
            let mark = if check.passed { "ok  " } else { "FAIL" };
            outln!(
                "    {mark} [{}] {:<20} {}",
                check.depth,
                check.name,
                check.detail
            );
        }
        match &attempt.failure {
            None => outln!("  Result: valid"),
            Some((code, message)) => outln!("  Result: rejected, {code}: {message}"),
        }
        outln!();
    }
    if explanation.attempts.is_empty() {
        outln!("No complete path to a trusted root could be built.");
        outln!();
    }
}

fn as_json(
    leaf: &Certificate,
    result: &Result<ValidatedPath<'_>, Rejection>,
    explanation: &Explanation,
    explain: bool,
) -> Value {
    let identity = Identity::of(leaf);
    let identity_json = json!({
        "upn": identity.upns,
        "rfc822": identity.rfc822_names,
        "subject": identity.subject,
        "issuer": identity.issuer,
        "serial": identity.serial,
        "serial_reversed": identity.serial_reversed,
        "subject_key_identifier": identity.subject_key_id,
        "sha1_public_key": identity.sha1_public_key,
        "sha256_thumbprint": identity.sha256_thumbprint,
        "sha1_thumbprint": identity.sha1_thumbprint,
        "policy_oids": identity.policy_oids,
        "certificate_user_ids": identity.certificate_user_ids.iter().map(|id| json!({"field": id.field, "value": id.value})).collect::<Vec<_>>(),
    });
    let mut out = match result {
        Ok(path) => json!({
            "valid": true,
            "path": path.certificates().iter().map(|c| c.subject().to_string()).collect::<Vec<_>>(),
            "revocation": path.revocation().iter().map(status_json).collect::<Vec<_>>(),
            "user_constrained_policy_set": path.policy().user_constrained_policy_set.iter().map(Oid::to_string).collect::<Vec<_>>(),
            "identity": identity_json,
        }),
        Err(rejection) => json!({
            "valid": false,
            "code": rejection.code(),
            "message": rejection.reason.to_string(),
            "depth": rejection.depth,
            "subject": rejection.subject,
            "identity": identity_json,
        }),
    };
    if explain {
        out["attempts"] = explanation
            .attempts
            .iter()
            .map(|a| {
                json!({
                    "path": a.subjects,
                    "checks": a.checks.iter().map(|c| json!({"depth": c.depth, "check": c.name, "passed": c.passed, "detail": c.detail})).collect::<Vec<_>>(),
                    "failure": a.failure.as_ref().map(|(code, message)| json!({"code": code, "message": message})),
                })
            })
            .collect();
    }
    out
}

fn status_json(status: &RevocationStatus) -> Value {
    match status {
        RevocationStatus::NotChecked => json!({"status": "not-checked"}),
        RevocationStatus::Good {
            crl_number,
            delta_crl_number,
        } => json!({
            "status": "good",
            "crl_number": hex(crl_number),
            "delta_crl_number": delta_crl_number.as_deref().map(hex),
        }),
        RevocationStatus::Exempt { reason } => json!({"status": "exempt", "reason": reason}),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `certgate verify` flags for [`certgate_pki::ProfileExceptions`], one per exception.
#[derive(Debug, clap::Args)]
struct ProfileExceptionArgs {
    /// Accept CA certificates without subjectKeyIdentifier and certificates without
    /// authorityKeyIdentifier (RFC 5280 §4.2.1.1, §4.2.1.2). Insecure.
    #[arg(long)]
    insecure_allow_missing_key_identifiers: bool,
    /// Accept a trust anchor whose basicConstraints is not critical (§4.2.1.9). Insecure.
    #[arg(long)]
    insecure_allow_non_critical_basic_constraints: bool,
    /// Accept zero, negative or over-long serial numbers (§4.1.2.2). Insecure.
    #[arg(long)]
    insecure_allow_nonconforming_serial_numbers: bool,
    /// Accept a non-critical policyConstraints extension (§4.2.1.11), as in the NIST PKITS data.
    #[arg(long)]
    insecure_allow_non_critical_policy_constraints: bool,
    /// Accept a trust anchor without keyUsage (§4.2.1.3). Insecure.
    #[arg(long)]
    insecure_allow_anchor_without_key_usage: bool,
}

impl ProfileExceptionArgs {
    fn to_policy(&self) -> certgate_pki::ProfileExceptions {
        certgate_pki::ProfileExceptions {
            insecure_allow_missing_key_identifiers: self.insecure_allow_missing_key_identifiers,
            insecure_allow_non_critical_basic_constraints: self
                .insecure_allow_non_critical_basic_constraints,
            insecure_allow_nonconforming_serial_numbers: self
                .insecure_allow_nonconforming_serial_numbers,
            insecure_allow_non_critical_policy_constraints: self
                .insecure_allow_non_critical_policy_constraints,
            insecure_allow_anchor_without_key_usage: self.insecure_allow_anchor_without_key_usage,
        }
    }
}
