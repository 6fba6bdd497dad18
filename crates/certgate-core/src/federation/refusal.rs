//! What certgate answers a relying party's request with when it does not take it on:
//! [`FederationRefusal`] (a page with its reason code) or [`SpFailure`] (a signed SAML failure
//! Response to the service provider), each with its codes; and [`IssuanceRefusal`], why a
//! finished sign-in gets no token.

use certgate_pki::ReasonCode;

use super::NameIdFormat;
use crate::store::StoreError;

use super::request::REQUEST_LIFETIME_SECONDS;

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
    /// certgate could not decide (its database, or no token-signing key loaded).
    Unavailable,
    /// certgate cannot read back what it stored itself (a sign-in flow).
    Internal,
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
    /// IssueInstant is older than `REQUEST_LIFETIME_SECONDS` plus the skew.
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
    #[error("{rp} asked for a password sign-in ({asked}). certgate signs in with certificates only. Microsoft 365 sends this when the federated domain's PromptLoginBehavior is TranslateToFreshPasswordAuth (its default): an administrator sets it to Disabled (Update-MgDomainFederationConfiguration -PromptLoginBehavior Disabled), or has certgate ask for the certificate plus the domain password (`certgate rp set \"{rp}\" --password-requests domain-password`, with a directory source), or allows certgate to answer with a fresh certificate sign-in (`--password-requests fresh-certificate`).")]
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
            "Microsoft 365: set the domain's PromptLoginBehavior to Disabled, or meet it with the certificate plus the domain password (needs `[directory.ldap]`): `certgate rp set NAME --password-requests domain-password`, or allow a fresh certificate sign-in instead: `--password-requests fresh-certificate`.",
        ),
        ReasonCode::new(
            "wsfed-password-requested",
            "The relying party sent wauth=password, and it is set to refuse such requests (Microsoft 365 sends it when the domain's PromptLoginBehavior is TranslateToFreshPasswordAuth).",
            "Set the domain's PromptLoginBehavior to Disabled (Update-MgDomainFederationConfiguration), or meet it with the certificate plus the domain password (needs `[directory.ldap]`): `certgate rp set NAME --password-requests domain-password`, or allow a fresh certificate sign-in instead: `--password-requests fresh-certificate`.",
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

/// Why no token is issued at the end of a sign-in. The messages say what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssuanceRefusal {
    /// The relying party or the user could not be read.
    #[error("certgate cannot read its configuration right now. Try again in a minute.")]
    Store {
        /// The store failure; its code is answered.
        error: StoreError,
    },
    /// The relying party was removed or disabled during the sign-in.
    #[error(
        "The application was removed or disabled while you signed in. Ask your administrator."
    )]
    RelyingPartyGone,
    /// The reply address was removed from the relying party during the sign-in (a
    /// compromised ACS or wreply): the token does not follow it there.
    #[error("The address this sign-in was to be delivered to ({reply_url}) was removed from {rp} while you signed in, so certgate does not send your token there. Go back to the application and sign in again; if this happens again, ask your administrator to check the addresses registered for it (`certgate rp show \"{rp}\"`).")]
    ReplyUrlRemoved {
        /// The address the flow kept.
        reply_url: String,
        /// The relying party's name.
        rp: String,
    },
    /// The flow's user ID does not read.
    #[error("certgate cannot read this sign-in.")]
    IdentityUnreadable,
    /// The user was removed or disabled during the sign-in.
    #[error("Your account was removed or disabled while you signed in. Ask your administrator.")]
    UserGone,
    /// The flow has no (readable) certificate.
    #[error(
        "This sign-in has no certificate on record. Go back to the application and sign in again."
    )]
    CertificateMissing,
    /// The user has no value for the relying party's NameID source.
    #[error("Your account has no value for {name_id_source}, which this application receives as your name identifier. Ask your administrator.")]
    NameIdMissing {
        /// The relying party's NameID source (`user.immutableId`, ...).
        name_id_source: String,
    },
    /// No token-signing key is loaded.
    #[error(
        "certgate has no token-signing key loaded. Ask your administrator to check the server log."
    )]
    NoSigningKey,
    /// The RequestedAuthnContext kept with the flow does not read back.
    #[error("certgate cannot read this sign-in. Go back to the application and sign in again.")]
    RequestUnreadable,
    /// No true statement of this sign-in meets the RequestedAuthnContext (it was decided
    /// satisfiable before the sign-in; certgate refuses rather than state a class the SP did
    /// not accept).
    #[error("The application asked for a sign-in of the kind {class_refs} ({comparison}), which this sign-in does not meet. Go back to the application and sign in again.")]
    AuthnContextUnmet {
        /// The classes asked for, comma-separated.
        class_refs: String,
        /// The comparison.
        comparison: String,
    },
    /// The issued token could not be recorded: it is not issued (fail closed).
    #[error("certgate cannot record the sign-in right now. Try again in a minute.")]
    AuditUnavailable {
        /// The store failure; its code is answered.
        error: StoreError,
    },
}

impl IssuanceRefusal {
    /// Every code [`IssuanceRefusal::code`] answers with of its own. The others are listed
    /// where they are also answered: `rp-not-found` and `federation-no-signing-key` by
    /// [`FederationError`](super::FederationError), `saml-authn-context-unsatisfiable` by
    /// [`SpFailure`], `user-disabled` by the directory's errors,
    /// `flow-unreadable` and `flow-certificate-missing` with the sign-in flow's codes
    /// (certgate-server), and the store's by [`StoreError`].
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "federation-name-id-missing",
            "The user has no value for the attribute the relying party's name identifier comes from (its name ID source, such as user.mail or user.immutableId), so no token was issued.",
            "Administrators: give the user that value (`certgate user set USER --mail ...` or `--immutable-id ...`), or change the source with `certgate rp set RP --name-id-source SOURCE`.",
        ),
        ReasonCode::new(
            "federation-reply-url-not-registered",
            "The reply address the sign-in was to deliver its token to was removed from the relying party while the person signed in, so the token was not sent there.",
            "Go back to the application and sign in again. Administrators: check the addresses registered for it (`certgate rp show RP`) and set them with `certgate rp set RP --reply URL`.",
        ),
    ];

    /// The stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            IssuanceRefusal::Store { error } | IssuanceRefusal::AuditUnavailable { error } => {
                error.code()
            }
            IssuanceRefusal::RelyingPartyGone => "rp-not-found",
            IssuanceRefusal::ReplyUrlRemoved { .. } => "federation-reply-url-not-registered",
            IssuanceRefusal::IdentityUnreadable | IssuanceRefusal::RequestUnreadable => {
                "flow-unreadable"
            }
            IssuanceRefusal::UserGone => "user-disabled",
            IssuanceRefusal::CertificateMissing => "flow-certificate-missing",
            IssuanceRefusal::NameIdMissing { .. } => "federation-name-id-missing",
            IssuanceRefusal::NoSigningKey => "federation-no-signing-key",
            IssuanceRefusal::AuthnContextUnmet { .. } => "saml-authn-context-unsatisfiable",
        }
    }

    /// How the HTTP layer answers it: 400, 403, 500 or 503.
    pub fn kind(&self) -> RefusalKind {
        match self {
            IssuanceRefusal::Store { .. }
            | IssuanceRefusal::NoSigningKey
            | IssuanceRefusal::AuditUnavailable { .. } => RefusalKind::Unavailable,
            IssuanceRefusal::RelyingPartyGone
            | IssuanceRefusal::ReplyUrlRemoved { .. }
            | IssuanceRefusal::UserGone
            | IssuanceRefusal::NameIdMissing { .. }
            | IssuanceRefusal::AuthnContextUnmet { .. } => RefusalKind::Forbidden,
            IssuanceRefusal::CertificateMissing => RefusalKind::BadRequest,
            IssuanceRefusal::IdentityUnreadable | IssuanceRefusal::RequestUnreadable => {
                RefusalKind::Internal
            }
        }
    }
}
