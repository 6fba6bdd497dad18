//! Whether certgate takes on a request from a relying party: a SAML 2.0 AuthnRequest or
//! LogoutRequest, or a WS-Federation `wsignin1.0`. Decisions only: the protocol layer
//! (certgate-saml) has parsed the message and checked its signature against the relying
//! party's certificates; the time and the replay cache are given. The HTTP layer extracts the
//! facts, calls one of the `accept_*` functions and answers what they return.

use std::future::Future;

use certgate_pki::UnixTime;

use super::refusal::{FederationRefusal, RequestKind, SpFailure};
use super::{NameIdFormat, PasswordRequests, RelyingParty};
use crate::store::StoreResult;

/// How long after its IssueInstant a request is accepted (plus the clock skew).
pub(crate) const REQUEST_LIFETIME_SECONDS: i64 = 300;

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
    /// The request asked for a password, and the relying party's settings answer it with the
    /// certificate plus the domain password: what was asked, for the audit log. The sign-in
    /// then asks for the password after the certificate.
    pub domain_password_requested: Option<String>,
}

/// How a password request is met, as the relying party's settings say.
enum PasswordAnswer {
    FreshCertificate(String),
    DomainPassword(String),
}

impl PasswordAnswer {
    /// (`password_request_replaced`, `domain_password_requested`) of [`AcceptedSignIn`].
    fn split(answer: Option<PasswordAnswer>) -> (Option<String>, Option<String>) {
        match answer {
            None => (None, None),
            Some(PasswordAnswer::FreshCertificate(asked)) => (Some(asked), None),
            Some(PasswordAnswer::DomainPassword(asked)) => (None, Some(asked)),
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

/// The request's IssueInstant against the clock: not from the future, not older than
/// [`REQUEST_LIFETIME_SECONDS`], each with the skew.
pub(crate) fn check_issue_instant(
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
pub(crate) fn replay_window_end(issued: UnixTime, skew: i64) -> UnixTime {
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
/// settings allow) met by a fresh certificate sign-in or by the certificate plus the domain
/// password, which the caller audits.
fn password_request(
    rp: &RelyingParty,
    asked: String,
    kind: RequestKind,
) -> Result<PasswordAnswer, FederationRefusal> {
    // A relying party that asks every sign-in for the domain password meets a password
    // request truthfully, whatever `password_requests` says.
    if rp.require_domain_password {
        return Ok(PasswordAnswer::DomainPassword(asked));
    }
    match rp.password_requests {
        PasswordRequests::Refuse => Err(FederationRefusal::PasswordRequested {
            rp: rp.name.clone(),
            asked,
            kind,
        }),
        PasswordRequests::FreshCertificate => Ok(PasswordAnswer::FreshCertificate(asked)),
        PasswordRequests::DomainPassword => Ok(PasswordAnswer::DomainPassword(asked)),
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
    let (password_request_replaced, domain_password_requested) = PasswordAnswer::split(
        password_asked
            .map(|asked| password_request(rp, asked, RequestKind::SamlSignIn))
            .transpose()?,
    );
    Ok(AuthnRequestOutcome::SignIn(AcceptedSignIn {
        reply_url,
        wants_mfa,
        keep_requested_context,
        password_request_replaced,
        domain_password_requested,
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
    let (wants_mfa, password_answer) = match authentication {
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
    let (password_request_replaced, domain_password_requested) =
        PasswordAnswer::split(password_answer);
    Ok(AcceptedSignIn {
        reply_url,
        wants_mfa,
        keep_requested_context: false,
        password_request_replaced,
        domain_password_requested,
    })
}
