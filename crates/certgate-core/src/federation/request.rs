//! Whether certgate takes on a request from a relying party: a SAML 2.0 AuthnRequest or
//! LogoutRequest, or a WS-Federation `wsignin1.0`. Decisions only: the protocol layer
//! (certgate-saml) has parsed the message and checked its signature against the relying
//! party's certificates; the time and the replay cache are given. The HTTP layer extracts the
//! facts, calls one of the `accept_*` functions and answers what they return.

use std::future::Future;

use certgate_pki::{ReasonCode, UnixTime};

use super::{NameIdFormat, PasswordRequests, RelyingParty};
use crate::store::{StoreError, StoreResult};

/// How long after its IssueInstant a request is accepted (plus the clock skew).
pub const REQUEST_LIFETIME_SECONDS: i64 = 300;

/// The only response binding certgate answers by.
const HTTP_POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const UNSPECIFIED_NAME_ID: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

/// Remembers request IDs so that each is accepted once (SAML profiles §4.1.4.5).
pub trait ReplayCache: Send + Sync {
    /// Records `request_id` from `issuer` until `expires_at`; false when it was already used.
    fn remember_request_id(
        &self,
        issuer: &str,
        request_id: &str,
        expires_at: UnixTime,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

impl<S: super::FederationStore> ReplayCache for S {
    fn remember_request_id(
        &self,
        issuer: &str,
        request_id: &str,
        expires_at: UnixTime,
    ) -> impl Future<Output = StoreResult<bool>> + Send {
        super::FederationStore::remember_request_id(self, issuer, request_id, expires_at)
    }
}

/// What the protocol layer found about a message's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    /// The message carried no signature.
    Unsigned,
    /// Signed, and the signature verified with a certificate registered for the relying party.
    Verified,
    /// Signed, and no certificate is registered to check it with.
    Unverifiable,
    /// Signed, and the signature does not verify: the protocol layer's code and message.
    Invalid {
        /// certgate-saml's reason code.
        code: &'static str,
        /// Why it does not verify.
        detail: String,
    },
}

impl SignatureCheck {
    fn is_signed(&self) -> bool {
        !matches!(self, SignatureCheck::Unsigned)
    }
}

/// What a SAML RequestedAuthnContext asks of the sign-in, as the protocol layer read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthnContextNeed {
    /// A certificate sign-in meets it.
    Certificate,
    /// Only a sign-in with a second factor meets it.
    MultiFactor,
    /// It asks for a password sign-in (the relying party's `password_requests` decides).
    Password,
    /// Nothing certgate states meets it.
    Unsatisfiable,
}

/// What an AuthnRequest asks for (SAML core §3.4.1).
#[derive(Clone, Debug)]
pub struct AuthnRequestFacts<'a> {
    /// The request's ID, for the replay cache and InResponseTo.
    pub id: &'a str,
    /// The Issuer: the service provider's entityID, by which its registration was found.
    pub issuer: &'a str,
    /// IssueInstant.
    pub issue_instant: UnixTime,
    /// Destination, when given; required when the request is signed.
    pub destination: Option<&'a str>,
    /// AssertionConsumerServiceURL, when given: must be a registered reply URL.
    pub acs_url: Option<&'a str>,
    /// AssertionConsumerServiceIndex, when given: a position in the registered reply URLs (0 = the
    /// default).
    pub acs_index: Option<u16>,
    /// ProtocolBinding, when given: only HTTP-POST is answered.
    pub protocol_binding: Option<&'a str>,
    /// NameIDPolicy's Format, when given.
    pub name_id_policy_format: Option<&'a str>,
    /// IsPassive: certgate cannot sign anyone in without asking for the certificate.
    pub is_passive: bool,
    /// What the RequestedAuthnContext needs, and how it reads (`exact urn:…`) for messages.
    pub requested_authn_context: Option<(AuthnContextNeed, String)>,
    /// What the protocol layer found about the signature.
    pub signature: SignatureCheck,
}

/// The service's own side of the check: where it receives requests, the allowed skew.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    /// The URL the request must be addressed to (its Destination).
    pub url: &'a str,
    /// Clock skew allowed either way on IssueInstant and NotOnOrAfter.
    pub clock_skew_seconds: i64,
}

/// A sign-in request certgate takes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedSignIn {
    /// Where the token goes: a reply URL registered for the relying party.
    pub reply_url: String,
    /// Only a sign-in with a second factor meets the request.
    pub wants_mfa: bool,
    /// The request's authentication context is to be stated back (SAML): kept with the flow.
    pub keep_requested_context: bool,
    /// The request asked for a password, and the relying party's settings answer it with a
    /// fresh certificate sign-in: what was asked, for the audit log.
    pub password_request_replaced: Option<String>,
}

/// What certgate cannot meet and answers to the service provider in a signed failure Response
/// (SAML core §3.4.1.4), so that the application can tell the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpFailure {
    /// InvalidNameIDPolicy.
    NameIdPolicy {
        /// The format the service provider asked for.
        asked: String,
        /// The format registered for it.
        registered: NameIdFormat,
    },
    /// NoPassive.
    Passive,
    /// NoAuthnContext.
    AuthnContext {
        /// The RequestedAuthnContext, as it reads.
        asked: String,
    },
}

impl SpFailure {
    /// Every code [`SpFailure::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "saml-name-id-policy-unmet",
            "The service provider asked for a NameID format other than the one registered for it (SAML core §3.4.1.1); certgate answered with a signed InvalidNameIDPolicy failure.",
            "Register the NameID format the service provider asks for (`certgate rp set NAME --name-id-format ...`), or configure the service provider to ask for the registered one.",
        ),
        ReasonCode::new(
            "saml-passive-impossible",
            "The service provider asked for a passive sign-in (IsPassive); certgate keeps no sign-in session and always asks for the certificate, so it answered NoPassive.",
            "Sign in from the application without its silent (passive) mode; nothing is wrong on certgate's side.",
        ),
        ReasonCode::new(
            "saml-authn-context-unsatisfiable",
            "The service provider asked for an authentication context certgate cannot state (only X509 / TLSClient, and multipleauthn with a second factor); certgate answered NoAuthnContext.",
            "Configure the service provider to ask for urn:oasis:names:tc:SAML:2.0:ac:classes:X509 or TLSClient (or none).",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            SpFailure::NameIdPolicy { .. } => "saml-name-id-policy-unmet",
            SpFailure::Passive => "saml-passive-impossible",
            SpFailure::AuthnContext { .. } => "saml-authn-context-unsatisfiable",
        }
    }

    /// The StatusMessage (and the log's detail).
    pub fn message(&self) -> String {
        match self {
            SpFailure::NameIdPolicy { asked, registered } => format!(
                "NameID format {asked} is not available; this service provider is registered for {}",
                registered.as_str()
            ),
            SpFailure::Passive => {
                "certgate keeps no sign-in session: every sign-in asks for the user's certificate"
                    .to_owned()
            }
            SpFailure::AuthnContext { asked } => format!(
                "the requested authentication context ({asked}) cannot be met: certgate signs in with a client certificate (urn:oasis:names:tc:SAML:2.0:ac:classes:X509 or TLSClient), with a second factor when asked (http://schemas.microsoft.com/claims/multipleauthn)"
            ),
        }
    }
}

/// What becomes of an AuthnRequest that is not refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthnRequestOutcome {
    /// Go on to the certificate sign-in.
    SignIn(AcceptedSignIn),
    /// Answered to the service provider's `reply_url` with a failure status.
    AnswerProvider {
        /// Where the failure Response goes: a registered reply URL.
        reply_url: String,
        /// What certgate cannot meet.
        failure: SpFailure,
    },
}

/// Which protocol's request: the codes differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// A SAML 2.0 AuthnRequest.
    SamlSignIn,
    /// A SAML 2.0 LogoutRequest.
    SamlLogout,
    /// A WS-Federation `wsignin1.0`.
    WsFedSignIn,
}

/// How a refusal is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// The request is malformed or out of time: the application must send a new one.
    BadRequest,
    /// The request is well formed and not allowed.
    Forbidden,
    /// certgate could not decide (its database).
    Unavailable,
}

/// A request certgate does not take on. The messages say what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FederationRefusal {
    /// The relying party requires signed requests and the AuthnRequest has no signature.
    #[error("{rp} must sign its sign-in requests (it is registered with signed requests required), and this one is not signed.")]
    SignInUnsigned {
        /// The relying party's name.
        rp: String,
    },
    /// A LogoutRequest without a signature (logout requests must always be signed).
    #[error("{rp}'s logout request is not signed; logout requests must be.")]
    LogoutUnsigned {
        /// The relying party's name.
        rp: String,
    },
    /// A LogoutRequest from a relying party without a registered signing certificate to check it
    /// with.
    #[error("Logout requests must be signed (SAML profiles §4.4.4.1), and certgate has no signing certificate for {rp}. An administrator adds it with `certgate rp set \"{rp}\" --request-certificate FILE` (the certificate from the SP's metadata).")]
    LogoutUnverifiable {
        /// The relying party's name.
        rp: String,
    },
    /// The request's signature does not verify.
    #[error("The signature of {rp}'s {what} request is not valid: {detail}")]
    SignatureInvalid {
        /// The relying party's name.
        rp: String,
        /// `sign-in` or `logout`.
        what: &'static str,
        /// certgate-saml's reason code, answered as this refusal's code.
        code: &'static str,
        /// Why it does not verify.
        detail: String,
    },
    /// The AuthnRequest's Destination is not this endpoint.
    #[error("The sign-in request is addressed to {destination}, not to this server ({expected}). Check the IdP URL configured in {rp}.")]
    DestinationMismatch {
        /// The Destination the request names.
        destination: String,
        /// This endpoint's URL.
        expected: String,
        /// The relying party's name.
        rp: String,
    },
    /// The LogoutRequest's Destination is not this endpoint, or missing.
    #[error(
        "The logout request must be addressed to {expected} (its Destination is {destination})."
    )]
    LogoutDestinationMismatch {
        /// The Destination the request names (`missing` when none).
        destination: String,
        /// This endpoint's URL.
        expected: String,
    },
    /// A signed AuthnRequest without a Destination.
    #[error(
        "A signed sign-in request must name its Destination (SAML bindings §3.4.5.2, §3.5.5.2)."
    )]
    DestinationMissing,
    /// IssueInstant is later than now plus the skew.
    #[error("The sign-in request was issued {seconds} seconds in the future. The application's clock and certgate's differ by more than the allowed {skew} seconds; synchronize them (NTP).")]
    FromFuture {
        /// How far in the future it is.
        seconds: i64,
        /// The skew allowed, in seconds.
        skew: i64,
    },
    /// IssueInstant is older than [`REQUEST_LIFETIME_SECONDS`] plus the skew.
    #[error("The sign-in request was issued {seconds} seconds ago; certgate accepts requests for {REQUEST_LIFETIME_SECONDS} seconds (plus {skew} seconds of clock skew). Go back to the application and sign in again.")]
    Stale {
        /// How long ago it was issued.
        seconds: i64,
        /// The skew allowed, in seconds.
        skew: i64,
    },
    /// The LogoutRequest's NotOnOrAfter has passed.
    #[error("The logout request has expired (NotOnOrAfter). Sign out from the application again.")]
    LogoutExpired,
    /// The AssertionConsumerService URL or index asked for is not registered.
    #[error("The sign-in request asks for the response to go to an address that is not registered for {rp}. An administrator adds it with `certgate rp set \"{rp}\" --reply URL` (the list of registered addresses is replaced).")]
    AcsUnregistered {
        /// The relying party's name.
        rp: String,
    },
    /// The `wreply` is not a registered reply URL.
    #[error("The sign-in request asks for the token to go to {reply}, which is not registered for {rp}. An administrator adds it with `certgate rp set \"{rp}\" --reply URL` (the list of registered addresses is replaced).")]
    ReplyUnregistered {
        /// The `wreply` given (empty when none).
        reply: String,
        /// The relying party's name.
        rp: String,
    },
    /// A LogoutRequest from a relying party without a logout URL.
    #[error("{rp} has no single-logout address registered. An administrator adds it with `certgate rp set \"{rp}\" --logout-url URL`.")]
    SloUnregistered {
        /// The relying party's name.
        rp: String,
    },
    /// The response is asked for by a binding other than HTTP-POST.
    #[error("The request asks for the response by {binding}; certgate answers by HTTP-POST only.")]
    BindingUnsupported {
        /// The ProtocolBinding asked for.
        binding: String,
    },
    /// `wauth` asks for a method certgate does not perform.
    #[error("{rp} asked for the authentication method {uri}; certgate signs in with certificates (TLS client / X.509), optionally with a second factor.")]
    WauthUnsupported {
        /// The relying party's name.
        rp: String,
        /// The `wauth` value.
        uri: String,
    },
    /// A password sign-in was asked for and the relying party is set to refuse such requests.
    #[error("{rp} asked for a password sign-in ({asked}). certgate signs in with certificates only. Microsoft 365 sends this when the federated domain's PromptLoginBehavior is TranslateToFreshPasswordAuth (its default): an administrator sets it to Disabled (Update-MgDomainFederationConfiguration -PromptLoginBehavior Disabled), or allows certgate to answer with a fresh certificate sign-in (`certgate rp set \"{rp}\" --password-requests fresh-certificate`).")]
    PasswordRequested {
        /// The relying party's name.
        rp: String,
        /// What was asked (`wauth=password`, or the RequestedAuthnContext).
        asked: String,
        /// Which protocol asked; the code differs.
        kind: RequestKind,
    },
    /// The request ID was already used by this issuer.
    #[error("This {what} request was already used.{again}")]
    Replayed {
        /// `sign-in` or `logout`.
        what: &'static str,
        /// What to do next, appended to the message (empty for a logout).
        again: &'static str,
    },
    /// The replay cache could not be written: nothing is decided.
    #[error("certgate cannot record the {what} request right now. Try again in a minute.")]
    Store {
        /// `sign-in` or `logout`.
        what: &'static str,
        /// The store failure.
        error: StoreError,
    },
}

impl FederationRefusal {
    /// Every code [`FederationRefusal::code`] answers with of its own (a signature's code is
    /// certgate-saml's; the store's is [`StoreError`]'s).
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "saml-request-unsigned",
            "The relying party is registered with signed requests required (or the request is a LogoutRequest, which must always be signed), and the request carried no signature.",
            "Configure the service provider to sign its requests, or, if it never signs them, register it without required signatures (`certgate rp set NAME --require-signed-requests=false`).",
        ),
        ReasonCode::new(
            "saml-logout-unverifiable",
            "A LogoutRequest arrived from a service provider for which certgate has no signing certificate, so its signature cannot be checked (SAML profiles §4.4.4.1).",
            "Register the service provider's signing certificate from its metadata: `certgate rp set NAME --request-certificate FILE`.",
        ),
        ReasonCode::new(
            "saml-destination-mismatch",
            "The request's Destination is not the certgate endpoint that received it (SAML bindings §3.4.5.2, §3.5.5.2): it was meant for another server, or the service provider is configured with the wrong IdP URL.",
            "Configure the service provider with certgate's SSO and SLO URLs as its metadata publishes them (`/federation/saml/metadata`).",
        ),
        ReasonCode::new(
            "saml-destination-missing",
            "A signed request did not name its Destination, which the SAML bindings require of signed messages (§3.4.5.2, §3.5.5.2).",
            "Configure the service provider to include the Destination attribute in its signed requests.",
        ),
        ReasonCode::new(
            "saml-request-from-future",
            "The request's IssueInstant is later than certgate's clock by more than the allowed clock skew.",
            "Synchronize the clocks of the application's server and certgate's (NTP), then sign in again.",
        ),
        ReasonCode::new(
            "saml-request-stale",
            "The request was issued longer ago than certgate accepts (five minutes plus the clock skew), or a LogoutRequest's NotOnOrAfter has passed.",
            "Go back to the application and sign in (or out) again; if it keeps happening, synchronize the clocks (NTP).",
        ),
        ReasonCode::new(
            "saml-acs-unregistered",
            "The AuthnRequest asks for the response at an AssertionConsumerService URL (or index) that is not registered for the service provider.",
            "Register the address: `certgate rp set NAME --reply URL` (the list of registered addresses is replaced), or correct the service provider's ACS URL.",
        ),
        ReasonCode::new(
            "wsfed-reply-unregistered",
            "The wsignin1.0 request's wreply is not an address registered for the relying party.",
            "Register the address: `certgate rp set NAME --reply URL` (the list of registered addresses is replaced), or correct the application's reply URL.",
        ),
        ReasonCode::new(
            "saml-slo-unregistered",
            "A LogoutRequest arrived from a service provider that has no single-logout address registered, so there is nowhere to send the LogoutResponse.",
            "Register the service provider's SingleLogoutService address: `certgate rp set NAME --logout-url URL`.",
        ),
        ReasonCode::new(
            "saml-binding-unsupported",
            "The AuthnRequest asks for the response by a binding other than HTTP-POST; certgate answers by HTTP-POST only.",
            "Configure the service provider to receive responses by HTTP-POST (its AssertionConsumerService binding).",
        ),
        ReasonCode::new(
            "wsfed-wauth-unsupported",
            "The relying party asked (wauth) for an authentication method certgate does not perform; certgate signs in with certificates, optionally with a second factor.",
            "Configure the application not to send wauth, or to ask for X.509 / TLS client authentication.",
        ),
        ReasonCode::new(
            "saml-password-requested",
            "The service provider's RequestedAuthnContext asks for a password sign-in, and the relying party is set to refuse such requests.",
            "Microsoft 365: set the domain's PromptLoginBehavior to Disabled, or allow a fresh certificate sign-in instead: `certgate rp set NAME --password-requests fresh-certificate`.",
        ),
        ReasonCode::new(
            "wsfed-password-requested",
            "The relying party sent wauth=password, and it is set to refuse such requests (Microsoft 365 sends it when the domain's PromptLoginBehavior is TranslateToFreshPasswordAuth).",
            "Set the domain's PromptLoginBehavior to Disabled (Update-MgDomainFederationConfiguration), or allow a fresh certificate sign-in instead: `certgate rp set NAME --password-requests fresh-certificate`.",
        ),
        ReasonCode::new(
            "saml-request-replayed",
            "A request with the same ID from the same service provider was already accepted; each request is accepted once.",
            "Go back to the application and start again: it sends a new request each time.",
        ),
    ];

    /// The stable reason code: its own (listed in [`Self::CODES`]), certgate-saml's for a
    /// signature, or the store's.
    pub fn code(&self) -> &'static str {
        match self {
            FederationRefusal::SignInUnsigned { .. } | FederationRefusal::LogoutUnsigned { .. } => {
                "saml-request-unsigned"
            }
            FederationRefusal::LogoutUnverifiable { .. } => "saml-logout-unverifiable",
            FederationRefusal::SignatureInvalid { code, .. } => code,
            FederationRefusal::DestinationMismatch { .. }
            | FederationRefusal::LogoutDestinationMismatch { .. } => "saml-destination-mismatch",
            FederationRefusal::DestinationMissing => "saml-destination-missing",
            FederationRefusal::FromFuture { .. } => "saml-request-from-future",
            FederationRefusal::Stale { .. } | FederationRefusal::LogoutExpired => {
                "saml-request-stale"
            }
            FederationRefusal::AcsUnregistered { .. } => "saml-acs-unregistered",
            FederationRefusal::ReplyUnregistered { .. } => "wsfed-reply-unregistered",
            FederationRefusal::SloUnregistered { .. } => "saml-slo-unregistered",
            FederationRefusal::BindingUnsupported { .. } => "saml-binding-unsupported",
            FederationRefusal::WauthUnsupported { .. } => "wsfed-wauth-unsupported",
            FederationRefusal::PasswordRequested { kind, .. } => match kind {
                RequestKind::WsFedSignIn => "wsfed-password-requested",
                RequestKind::SamlSignIn | RequestKind::SamlLogout => "saml-password-requested",
            },
            FederationRefusal::Replayed { .. } => "saml-request-replayed",
            FederationRefusal::Store { error, .. } => error.code(),
        }
    }

    /// How the HTTP layer answers it: 400, 403 or 503.
    pub fn kind(&self) -> RefusalKind {
        match self {
            FederationRefusal::SignInUnsigned { .. }
            | FederationRefusal::LogoutUnsigned { .. }
            | FederationRefusal::LogoutUnverifiable { .. }
            | FederationRefusal::SignatureInvalid { .. }
            | FederationRefusal::AcsUnregistered { .. }
            | FederationRefusal::ReplyUnregistered { .. }
            | FederationRefusal::SloUnregistered { .. }
            | FederationRefusal::WauthUnsupported { .. }
            | FederationRefusal::PasswordRequested { .. } => RefusalKind::Forbidden,
            FederationRefusal::DestinationMismatch { .. }
            | FederationRefusal::LogoutDestinationMismatch { .. }
            | FederationRefusal::DestinationMissing
            | FederationRefusal::FromFuture { .. }
            | FederationRefusal::Stale { .. }
            | FederationRefusal::LogoutExpired
            | FederationRefusal::BindingUnsupported { .. }
            | FederationRefusal::Replayed { .. } => RefusalKind::BadRequest,
            FederationRefusal::Store { .. } => RefusalKind::Unavailable,
        }
    }
}

/// The request's IssueInstant against the clock: not from the future, not older than
/// [`REQUEST_LIFETIME_SECONDS`], each with the skew.
pub fn check_issue_instant(
    issued: UnixTime,
    now: UnixTime,
    skew: i64,
) -> Result<(), FederationRefusal> {
    if issued.0 > now.0 + skew {
        return Err(FederationRefusal::FromFuture {
            seconds: issued.0 - now.0,
            skew,
        });
    }
    if issued.0 + REQUEST_LIFETIME_SECONDS + skew < now.0 {
        return Err(FederationRefusal::Stale {
            seconds: now.0 - issued.0,
            skew,
        });
    }
    Ok(())
}

/// Until when a request ID is remembered: as long as the request could still be accepted.
pub fn replay_window_end(issued: UnixTime, skew: i64) -> UnixTime {
    UnixTime(issued.0 + REQUEST_LIFETIME_SECONDS + 2 * skew)
}

/// Accepts `id` from `issuer` once.
async fn accept_once(
    replay: &impl ReplayCache,
    issuer: &str,
    id: &str,
    issued: UnixTime,
    skew: i64,
    what: &'static str,
) -> Result<(), FederationRefusal> {
    match replay
        .remember_request_id(issuer, id, replay_window_end(issued, skew))
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(FederationRefusal::Replayed {
            what,
            again: if what == "sign-in" {
                " Go back to the application and sign in again."
            } else {
                ""
            },
        }),
        Err(error) => Err(FederationRefusal::Store { what, error }),
    }
}

/// The relying party's answer to a request for a password sign-in: refused, or (as its
/// settings allow) met by a fresh certificate sign-in, which the caller audits.
fn password_request(
    rp: &RelyingParty,
    asked: String,
    kind: RequestKind,
) -> Result<String, FederationRefusal> {
    match rp.password_requests {
        PasswordRequests::Refuse => Err(FederationRefusal::PasswordRequested {
            rp: rp.name.clone(),
            asked,
            kind,
        }),
        PasswordRequests::FreshCertificate => Ok(asked),
    }
}

/// Decides a SAML AuthnRequest from `rp` (found by its issuer and enabled), in the order the
/// checks cost: signature, addressing and time, where the response may go, what the service
/// provider asks that certgate cannot meet (answered to it), then the replay cache (a write)
/// and a password request.
pub async fn accept_authn_request(
    rp: &RelyingParty,
    request: &AuthnRequestFacts<'_>,
    endpoint: Endpoint<'_>,
    now: UnixTime,
    replay: &impl ReplayCache,
) -> Result<AuthnRequestOutcome, FederationRefusal> {
    // Signature: required when the SP says it signs; a signature that is there is checked
    // whenever the SP's certificate is known (a bad signature is never ignored).
    if rp.require_signed_requests && !request.signature.is_signed() {
        return Err(FederationRefusal::SignInUnsigned {
            rp: rp.name.clone(),
        });
    }
    if let SignatureCheck::Invalid { code, detail } = &request.signature {
        return Err(FederationRefusal::SignatureInvalid {
            rp: rp.name.clone(),
            what: "sign-in",
            code,
            detail: detail.clone(),
        });
    }
    match request.destination {
        Some(destination) if destination != endpoint.url => {
            return Err(FederationRefusal::DestinationMismatch {
                destination: destination.to_owned(),
                expected: endpoint.url.to_owned(),
                rp: rp.name.clone(),
            })
        }
        None if request.signature.is_signed() => return Err(FederationRefusal::DestinationMissing),
        _ => {}
    }
    check_issue_instant(request.issue_instant, now, endpoint.clock_skew_seconds)?;
    let reply_url = match (request.acs_url, request.acs_index) {
        (Some(url), _) => rp.reply_url(Some(url)).map(str::to_owned),
        // Indexes are positions in the registered list (0 = the default), as in the order
        // the SP's metadata listed its HTTP-POST endpoints.
        (None, Some(index)) => rp.reply_urls.get(usize::from(index)).cloned(),
        (None, None) => rp.reply_url(None).map(str::to_owned),
    };
    let Some(reply_url) = reply_url else {
        return Err(FederationRefusal::AcsUnregistered {
            rp: rp.name.clone(),
        });
    };
    if let Some(binding) = request.protocol_binding {
        if binding != HTTP_POST_BINDING {
            return Err(FederationRefusal::BindingUnsupported {
                binding: binding.to_owned(),
            });
        }
    }
    let answer = |failure: SpFailure| {
        Ok(AuthnRequestOutcome::AnswerProvider {
            reply_url: reply_url.clone(),
            failure,
        })
    };
    if let Some(format) = request.name_id_policy_format {
        if format != UNSPECIFIED_NAME_ID && NameIdFormat::parse(format) != Some(rp.name_id_format) {
            return answer(SpFailure::NameIdPolicy {
                asked: format.to_owned(),
                registered: rp.name_id_format,
            });
        }
    }
    if request.is_passive {
        return answer(SpFailure::Passive);
    }
    // RequestedAuthnContext is decided from the request alone, before the sign-in: certgate
    // knows which classes it can state, and a second factor is asked for when only
    // multi-factor meets the request.
    let (wants_mfa, keep_requested_context, password_asked) = match &request.requested_authn_context
    {
        None => (false, false, None),
        Some((AuthnContextNeed::Certificate, _)) => (false, true, None),
        Some((AuthnContextNeed::MultiFactor, _)) => (true, true, None),
        // Answered like WS-Fed's wauth=password (after the replay check, since it may be
        // audited): refused, or a fresh certificate sign-in stated as what it is, so the
        // request is not kept for the statement.
        Some((AuthnContextNeed::Password, asked)) => (
            false,
            false,
            Some(format!("SAML RequestedAuthnContext {asked}")),
        ),
        Some((AuthnContextNeed::Unsatisfiable, asked)) => {
            return answer(SpFailure::AuthnContext {
                asked: asked.clone(),
            })
        }
    };
    accept_once(
        replay,
        request.issuer,
        request.id,
        request.issue_instant,
        endpoint.clock_skew_seconds,
        "sign-in",
    )
    .await?;
    let password_request_replaced = password_asked
        .map(|asked| password_request(rp, asked, RequestKind::SamlSignIn))
        .transpose()?;
    Ok(AuthnRequestOutcome::SignIn(AcceptedSignIn {
        reply_url,
        wants_mfa,
        keep_requested_context,
        password_request_replaced,
    }))
}

/// What a LogoutRequest says (SAML core §3.7.1).
#[derive(Clone, Debug)]
pub struct LogoutRequestFacts<'a> {
    /// The request's ID, for the replay cache and InResponseTo.
    pub id: &'a str,
    /// The Issuer: the service provider's entityID.
    pub issuer: &'a str,
    /// IssueInstant.
    pub issue_instant: UnixTime,
    /// Destination; must be this endpoint.
    pub destination: Option<&'a str>,
    /// NotOnOrAfter, when given.
    pub not_on_or_after: Option<UnixTime>,
    /// What the protocol layer found about the signature.
    pub signature: SignatureCheck,
}

/// Decides a SAML LogoutRequest from `rp`: it must be signed with a registered certificate
/// (SAML profiles §4.4.4.1), addressed here, current, not replayed, and the relying party
/// must have a logout address. Returns that address.
pub async fn accept_logout_request(
    rp: &RelyingParty,
    request: &LogoutRequestFacts<'_>,
    endpoint: Endpoint<'_>,
    now: UnixTime,
    replay: &impl ReplayCache,
) -> Result<String, FederationRefusal> {
    match &request.signature {
        _ if rp.request_certificates.is_empty() => {
            return Err(FederationRefusal::LogoutUnverifiable {
                rp: rp.name.clone(),
            })
        }
        SignatureCheck::Unsigned => {
            return Err(FederationRefusal::LogoutUnsigned {
                rp: rp.name.clone(),
            })
        }
        SignatureCheck::Invalid { code, detail } => {
            return Err(FederationRefusal::SignatureInvalid {
                rp: rp.name.clone(),
                what: "logout",
                code,
                detail: detail.clone(),
            })
        }
        SignatureCheck::Unverifiable => {
            return Err(FederationRefusal::LogoutUnverifiable {
                rp: rp.name.clone(),
            })
        }
        SignatureCheck::Verified => {}
    }
    if request.destination != Some(endpoint.url) {
        return Err(FederationRefusal::LogoutDestinationMismatch {
            destination: request.destination.unwrap_or("missing").to_owned(),
            expected: endpoint.url.to_owned(),
        });
    }
    check_issue_instant(request.issue_instant, now, endpoint.clock_skew_seconds)?;
    if request
        .not_on_or_after
        .is_some_and(|limit| now.0 >= limit.0 + endpoint.clock_skew_seconds)
    {
        return Err(FederationRefusal::LogoutExpired);
    }
    let Some(logout_url) = rp.logout_url.clone() else {
        return Err(FederationRefusal::SloUnregistered {
            rp: rp.name.clone(),
        });
    };
    accept_once(
        replay,
        request.issuer,
        request.id,
        request.issue_instant,
        endpoint.clock_skew_seconds,
        "logout",
    )
    .await?;
    Ok(logout_url)
}

/// What a WS-Federation sign-in asks by `wauth`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsFedAuthentication<'a> {
    /// None, or X.509 / TLS client.
    Certificate,
    /// `wauth` is `http://schemas.microsoft.com/claims/multipleauthn`: a second factor is asked
    /// for.
    MultiFactor,
    /// `wauth` asks for a password (WIF, SAML 1.1 or SAML 2.0 password classes): the relying
    /// party's `password_requests` decides.
    Password,
    /// Any other `wauth` URI: refused.
    Other(&'a str),
}

/// Decides a WS-Federation `wsignin1.0` from `rp`: where the token may go, and what `wauth`
/// asks. certgate keeps no sign-in session: every sign-in is a fresh certificate sign-in, so
/// `wfresh` (0 included: "prompt again") is always met.
pub fn accept_wsfed_sign_in(
    rp: &RelyingParty,
    reply: Option<&str>,
    authentication: WsFedAuthentication<'_>,
) -> Result<AcceptedSignIn, FederationRefusal> {
    let Some(reply_url) = rp.reply_url(reply).map(str::to_owned) else {
        return Err(FederationRefusal::ReplyUnregistered {
            reply: reply.unwrap_or_default().to_owned(),
            rp: rp.name.clone(),
        });
    };
    let (wants_mfa, password_request_replaced) = match authentication {
        WsFedAuthentication::Certificate => (false, None),
        WsFedAuthentication::MultiFactor => (true, None),
        WsFedAuthentication::Password => (
            false,
            Some(password_request(
                rp,
                "wauth=password".to_owned(),
                RequestKind::WsFedSignIn,
            )?),
        ),
        WsFedAuthentication::Other(uri) => {
            return Err(FederationRefusal::WauthUnsupported {
                rp: rp.name.clone(),
                uri: uri.to_owned(),
            })
        }
    };
    Ok(AcceptedSignIn {
        reply_url,
        wants_mfa,
        keep_requested_context: false,
        password_request_replaced,
    })
}
