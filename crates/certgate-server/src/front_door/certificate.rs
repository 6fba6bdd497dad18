//! The certificate step of a front-door request: the connection's decision (validated and
//! mapped once, reused while current), and the sign-in record of each decision.

use super::*;
use std::sync::OnceLock;

/// How long a connection's certificate decision is reused at most, even when nothing changed:
/// bounds how late a change in the directory (a disabled user) reaches an open connection.
pub(super) const DECISION_MAX_AGE_SECONDS: i64 = 60;

/// What one connection's certificate came to, kept in its [`crate::certauth::ConnectionMemo`].
pub(super) struct ConnectionDecision {
    generation: i64,
    decided_at: UnixTime,
    /// Validation only (for directories with mapping off).
    validated: Option<CertificateOutcome>,
    /// Validation and mapping.
    mapped: Option<CertificateOutcome>,
    /// Each route's identity headers for the mapped identity, built by the first request
    /// that forwards it: a keep-alive request only clones them.
    identity_headers: Box<[OnceLock<IdentityHeaderList>]>,
}

/// Identity headers ready to insert.
pub(super) type IdentityHeaderList = Arc<[(HeaderName, HeaderValue)]>;

/// A valid certificate on a directory without mapping, when only a mapped success is kept.
static VALID_UNMAPPED: CertificateOutcome = CertificateOutcome::Valid(None);
static NO_CERTIFICATE: CertificateOutcome = CertificateOutcome::None;

/// A request's certificate outcome: the connection's kept decision (shared, not copied), or
/// one that is not kept.
pub(super) enum Decided {
    Kept {
        decision: Arc<ConnectionDecision>,
        mapped: bool,
    },
    ValidUnmapped,
    NoCertificate,
    /// Not a decision about the certificate (the store did not answer).
    Unkept(CertificateOutcome),
}

impl Decided {
    pub(super) fn outcome(&self) -> &CertificateOutcome {
        match self {
            Decided::Kept { decision, mapped } => {
                let kept = if *mapped {
                    &decision.mapped
                } else {
                    &decision.validated
                };
                // `Kept` is made only for an outcome that is there.
                kept.as_ref().unwrap_or(&NO_CERTIFICATE)
            }
            Decided::ValidUnmapped => &VALID_UNMAPPED,
            Decided::NoCertificate => &NO_CERTIFICATE,
            Decided::Unkept(outcome) => outcome,
        }
    }

    /// Route `route`'s identity headers for `identity` (this outcome's), built once per
    /// connection decision.
    pub(super) fn identity_headers(
        &self,
        route: usize,
        build: impl FnOnce() -> Vec<(HeaderName, HeaderValue)>,
    ) -> IdentityHeaderList {
        match self {
            Decided::Kept { decision, .. } => match decision.identity_headers.get(route) {
                Some(cell) => Arc::clone(cell.get_or_init(|| build().into())),
                None => build().into(),
            },
            _ => build().into(),
        }
    }
}

/// The connection's certificate outcome for `vdir` (route `route` of `routes`): from the
/// connection's memo while it is current, else validated (and mapped when the directory
/// maps) now and recorded in the sign-in log.
pub(super) async fn certificate_outcome<S>(
    signin: &SignInContext<S>,
    client: &TlsClient,
    vdir: &VirtualDirectory,
    routes: usize,
) -> Decided
where
    S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    if client.chain.is_empty() {
        return Decided::NoCertificate;
    }
    let state = signin.state.load();
    let now = signin.clock.now();
    let memo = client.memo.get::<ConnectionDecision>();
    let current = memo.filter(|d| {
        d.generation == state.generation() && now.0 - d.decided_at.0 < DECISION_MAX_AGE_SECONDS
    });
    if let Some(decision) = &current {
        if vdir.certificate_mapping {
            if decision.mapped.is_some() {
                return Decided::Kept {
                    decision: Arc::clone(decision),
                    mapped: true,
                };
            }
        } else if decision.validated.is_some() {
            return Decided::Kept {
                decision: Arc::clone(decision),
                mapped: false,
            };
        } else if matches!(decision.mapped, Some(CertificateOutcome::Valid(_))) {
            // A mapped success implies a valid certificate.
            return Decided::ValidUnmapped;
        }
    }
    let outcome = decide(signin, client, vdir, &state, now).await;
    if matches!(outcome, CertificateOutcome::Unavailable { .. }) {
        // Not a decision about the certificate: the next request asks again.
        return Decided::Unkept(outcome);
    }
    let (mut validated, mut mapped) = current
        .as_ref()
        .map(|d| (d.validated.clone(), d.mapped.clone()))
        .unwrap_or((None, None));
    if vdir.certificate_mapping {
        mapped = Some(outcome);
    } else {
        validated = Some(outcome);
    }
    let decision = Arc::new(ConnectionDecision {
        generation: state.generation(),
        decided_at: current.as_ref().map_or(now, |d| d.decided_at),
        validated,
        mapped,
        identity_headers: (0..routes).map(|_| OnceLock::new()).collect(),
    });
    client.memo.set(Arc::clone(&decision));
    Decided::Kept {
        decision,
        mapped: vdir.certificate_mapping,
    }
}

/// Validates (and maps) the connection's certificate and records the attempt.
pub(super) async fn decide<S>(
    signin: &SignInContext<S>,
    client: &TlsClient,
    vdir: &VirtualDirectory,
    state: &certgate_core::validation_state::ValidationState,
    now: UnixTime,
) -> CertificateOutcome
where
    S: DirectoryStore + UserLookup + LoginFlowStore + TotpStore,
{
    let correlation = correlation_id();
    let application = format!("front-door:{}", vdir.prefix);
    let context = AttemptContext {
        at: now,
        correlation_id: &correlation,
        client_address: client.address.ip(),
        application: &application,
    };
    // Everything this asks the store, the record included, within one store timeout.
    let deadline = tokio::time::Instant::now() + signin.store_timeout;
    let (outcome, record) = if vdir.certificate_mapping {
        let SignInAttempt { decision, record } = tokio::time::timeout_at(deadline, async {
            signin.attempt(state, &client.chain, context).await
        })
        .await
        .unwrap_or_else(|_| {
            SignInAttempt::refused(
                context,
                &client.chain,
                SignInError::Store(store_timed_out(signin.store_timeout)),
            )
        });
        let outcome = match decision {
            Ok(signed_in) => {
                let user = &signed_in.binding.user;
                CertificateOutcome::Valid(Some(ForwardedIdentity {
                    upn: user.upn.to_string(),
                    mail: user.mail.clone(),
                    immutable_id: user.immutable_id.clone(),
                    certificate_serial: signed_in.certificate.serial.to_ascii_uppercase(),
                    certificate_issuer: signed_in.certificate.issuer.clone(),
                    certificate_thumbprint: sha1_thumbprint(&signed_in.certificate.der),
                }))
            }
            Err(SignInError::Store(error)) => CertificateOutcome::Unavailable {
                message: error.to_string(),
            },
            Err(error) => refused(error.code(), &error.to_string()),
        };
        (outcome, record)
    } else {
        let record = SignInRecord::of_chain(context, &client.chain);
        match check_certificate(state, &client.chain, now) {
            Ok(_) => (
                CertificateOutcome::Valid(None),
                record.validated(format!("front door {}: certificate accepted", vdir.prefix)),
            ),
            Err(rejection) => (
                refused(rejection.code(), &rejection.to_string()),
                record.failed(rejection.code(), rejection.to_string()),
            ),
        }
    };
    let code = record.reason_code.clone();
    signin.metrics.signin(record.result.as_str(), &code);
    let recorded = tokio::time::timeout_at(deadline, signin.recorder.record(record))
        .await
        .unwrap_or_else(|_| Err(store_timed_out(signin.store_timeout)));
    if let Err(error) = recorded {
        // Fail closed: a sign-in that cannot be recorded does not happen. The server log keeps
        // what the sign-in log could not, under the attempt's correlation ID.
        tracing::error!(code = error.code(), %error, %correlation, outcome = %code, prefix = %vdir.prefix, "the sign-in log is unavailable: the request is refused");
        return CertificateOutcome::Unavailable {
            message: error.to_string(),
        };
    }
    outcome
}

pub(super) fn refused(code: &str, message: &str) -> CertificateOutcome {
    CertificateOutcome::Refused {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

pub(super) fn sha1_thumbprint(der: &[u8]) -> String {
    certgate_core::hex(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref(),
    )
    .to_ascii_uppercase()
}
