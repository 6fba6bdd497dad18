//! The token at the end of a federation sign-in: for which relying party (found again, still
//! enabled, the reply address still registered), about whom (the user found again, still
//! enabled), with which NameID and claims, which authentication statement, issuer, validity
//! and signing key. Decisions only: the HTTP layer hands over what the login flow kept and the
//! token-signing key it has loaded, calls [`prepare_issuance`], has certgate-saml write and sign
//! the [`Issuance`] (a SAML 2.0 Response or a WS-Federation RSTR), records it with
//! [`record_issuance`] and posts it; a refusal is an [`IssuanceRefusal`], with its code and
//! message, answered as its [`RefusalKind`](super::RefusalKind) says.

use crate::DirectoryStore;
use certgate_pki::{Certificate, UnixTime};

use super::claims::{
    issue_claims, source_values, ClaimSource, IssuedClaim, SignInFacts, UserField,
};
use super::refusal::IssuanceRefusal;
use super::{FederationStore, NameIdFormat, Protocol, RelyingParty};
use crate::audit::{AuditEvent, AuditLog};
use crate::directory::{User, UserId};
use crate::login_flow::FlowIdentity;

/// How a token states the way the user signed in: a SAML 2.0 AuthnContextClassRef, or a
/// WS-Federation (SAML 1.1) AuthenticationMethod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthnStatement {
    /// A certificate sign-in, as SAML 2.0's `X509` class (stated in SAML 2.0 only).
    X509,
    /// A certificate sign-in, as SAML 2.0's `TLSClient` class or the WS-Federation (WIF / AD
    /// FS) `tlsclient` authentication method.
    TlsClient,
    /// A multi-factor sign-in: `http://schemas.microsoft.com/claims/multipleauthn`, in either
    /// protocol (what Entra ID reads for MFA).
    MultipleAuthn,
    /// The certificate plus the domain password the directory accepted, as SAML 2.0's
    /// `PasswordProtectedTransport` class (the password went over TLS): stated only after a
    /// password request was met by a real password check.
    PasswordProtectedTransport,
    /// The same in WS-Federation: SAML 1.1's `urn:oasis:names:tc:SAML:1.0:am:password`, the
    /// method Entra ID asks for by `wauth`. The certificate (and multipleauthn) are listed in
    /// the authnmethodsreferences claim.
    Password,
}

/// The SAML RequestedAuthnContext kept with the sign-in, as the protocol layer reads it
/// (certgate-saml's class ordering decides which statement meets it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestedContext {
    /// Nothing was asked (or a password class was answered with a fresh certificate
    /// sign-in): the assertion states how the user signed in.
    None,
    /// The flow holds a request that cannot be read back (changed in the store).
    Unreadable,
    /// A class was asked for.
    Asked {
        /// The first true statement that meets the request after a multi-factor sign-in;
        /// `None` when none does.
        after_multi_factor: Option<AuthnStatement>,
        /// The same after a single-factor sign-in.
        after_single_factor: Option<AuthnStatement>,
        /// The classes asked for, comma-separated, for the message.
        class_refs: String,
        /// The comparison (`exact`, `minimum`, ...), for the message.
        comparison: String,
    },
}

/// What the login flow kept of the sign-in whose token is to be issued.
#[derive(Clone, Copy, Debug)]
pub struct IssuanceRequest<'a> {
    /// The relying party's ID (`rp_...`), looked up again: one removed or disabled meanwhile
    /// gets no token.
    pub relying_party: &'a str,
    /// The reply address chosen when the sign-in started, checked again.
    pub reply_url: &'a str,
    /// SAML: the AuthnRequest's ID (InResponseTo); `None` for WS-Federation.
    pub request_id: Option<&'a str>,
    /// SAML: the RequestedAuthnContext the statement must meet.
    pub requested_authn_context: &'a RequestedContext,
    /// Who signed in, with which certificate and factors.
    pub identity: &'a FlowIdentity,
    /// The request asked for a password sign-in (WS-Fed `wauth` password, a SAML password
    /// class) and the domain password met it: a checked password is then stated as the
    /// password sign-in asked for. A domain password asked by the relying party's own setting
    /// (`require_domain_password`) is a second factor next to the certificate, stated as
    /// multi-factor.
    pub password_requested: bool,
}

/// The issuing side: the service's own settings and the key it signs with.
#[derive(Clone, Copy, Debug)]
pub struct TokenService<'a> {
    /// The service's entity ID: the issuer, unless the relying party has one of its own.
    pub entity_id: &'a str,
    /// Allowed clock difference with relying parties: a token is valid this long before its
    /// issue.
    pub clock_skew_seconds: i64,
    /// The thumbprint of the Current token-signing key loaded to sign with; `None` when none
    /// is loaded.
    pub signing_key: Option<&'a str>,
}

/// The NameID the token carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedNameId {
    /// The value from the relying party's NameID source, as the directory holds it.
    pub value: String,
    /// The relying party's NameID format.
    pub format: NameIdFormat,
    /// Written as Entra ID requires an immutable ID in a SAML 2.0 persistent NameID (`+` →
    /// `.2B`, ...; certgate-saml's `ImmutableId::encode`) rather than as it is.
    pub encode_immutable_id: bool,
}

/// When the token is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenValidity {
    /// IssueInstant: now.
    pub issued_at: UnixTime,
    /// NotBefore: now less the clock skew.
    pub not_before: UnixTime,
    /// NotOnOrAfter: now plus the relying party's token lifetime.
    pub not_on_or_after: UnixTime,
}

/// Everything the token says, decided; certgate-saml writes and signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuance {
    /// The relying party, as found now (its protocol, identifier, `sign_response`, ...).
    pub relying_party: RelyingParty,
    /// The Issuer: the service's entity ID, or the relying party's issuer (per UPN domain).
    pub issuer: String,
    /// Where the token goes, a registered reply address (SAML's Recipient and Destination).
    pub recipient: String,
    /// SAML: InResponseTo.
    pub in_response_to: Option<String>,
    /// Who the token is about.
    pub name_id: IssuedNameId,
    /// The claims (SAML attributes) from the relying party's rules.
    pub claims: Vec<IssuedClaim>,
    /// The sign-in was multi-factor.
    pub multi_factor: bool,
    /// The directory accepted the user's domain password in this sign-in.
    pub domain_password: bool,
    /// How the token states the sign-in.
    pub authn_statement: AuthnStatement,
    /// When the certificate sign-in happened.
    pub authenticated_at: UnixTime,
    /// When the token is valid.
    pub validity: TokenValidity,
    /// The thumbprint of the token-signing key that signs it (the Current one).
    pub signed_by: String,
    /// The UPN the flow signed in as, for the audit.
    pub signed_in_as: String,
    /// The serial of the certificate signed in with, for the audit.
    pub certificate_serial: String,
}

impl Issuance {
    /// The token's audience: the relying party's identifier.
    pub fn audience(&self) -> &str {
        &self.relying_party.identifier
    }

    /// The audit event of the issued token, `token_id` being the assertion's ID.
    pub fn audit_event(&self, token_id: &str, now: UnixTime) -> AuditEvent {
        let rp = &self.relying_party;
        AuditEvent::new(
            now,
            &format!("user:{}", self.signed_in_as),
            "federation.issue",
            &rp.id,
            "ok",
            format!(
                "{} token {token_id} for {} to {} ({}), name id {}, certificate {}{}, {}, signed by {}",
                rp.protocol.as_str(),
                self.signed_in_as,
                rp.name,
                self.recipient,
                self.name_id.value,
                self.certificate_serial,
                if self.domain_password { " + domain password" } else { "" },
                if self.multi_factor { "multi-factor" } else { "single-factor" },
                self.signed_by
            ),
        )
    }
}

/// Decides the token for a finished sign-in at `now`, in this order: the relying party (still
/// there and enabled), the reply address (still registered), the user (still there and
/// enabled), the certificate, the NameID, the signing key, the authentication statement.
pub async fn prepare_issuance<S>(
    store: &S,
    request: &IssuanceRequest<'_>,
    service: &TokenService<'_>,
    now: UnixTime,
) -> Result<Issuance, IssuanceRefusal>
where
    S: FederationStore + DirectoryStore,
{
    let found = store
        .relying_party(request.relying_party)
        .await
        .map_err(|error| IssuanceRefusal::Store { error })?;
    let rp = relying_party_for(found, request.reply_url)?;
    let user_id =
        UserId::parse(&request.identity.user_id).ok_or(IssuanceRefusal::IdentityUnreadable)?;
    let user = store
        .user_by_id(&user_id)
        .await
        .map_err(|error| IssuanceRefusal::Store { error })?;
    decide_issuance(rp, user, request, service, now)
}

/// The relying party as found again (`found`), if it may still get the token: enabled, and
/// `reply_url` still one of its registered addresses.
pub(crate) fn relying_party_for(
    found: Option<RelyingParty>,
    reply_url: &str,
) -> Result<RelyingParty, IssuanceRefusal> {
    let rp = found
        .filter(|rp| rp.enabled)
        .ok_or(IssuanceRefusal::RelyingPartyGone)?;
    if rp.reply_url(Some(reply_url)).is_none() {
        return Err(IssuanceRefusal::ReplyUrlRemoved {
            reply_url: reply_url.to_owned(),
            rp: rp.name.clone(),
        });
    }
    Ok(rp)
}

/// The token `rp` gets for `user` (as found again by the flow's user ID), once the relying
/// party is known to be usable ([`relying_party_for`]).
pub(crate) fn decide_issuance(
    rp: RelyingParty,
    user: Option<User>,
    request: &IssuanceRequest<'_>,
    service: &TokenService<'_>,
    now: UnixTime,
) -> Result<Issuance, IssuanceRefusal> {
    let identity = request.identity;
    let user = user
        .filter(|user| user.enabled)
        .ok_or(IssuanceRefusal::UserGone)?;
    let certificate = identity
        .certificate_der
        .as_deref()
        .and_then(|der| Certificate::from_der(der).ok())
        .ok_or(IssuanceRefusal::CertificateMissing)?;
    let multi_factor = identity.is_multi_factor();
    let facts = SignInFacts {
        user: &user,
        certificate: &certificate,
        certificate_issuer: &identity.certificate_issuer,
        authenticated_at: identity.auth_time,
        multi_factor,
        domain_password: identity.domain_password_verified_at.is_some(),
        password_requested: request.password_requested,
    };
    let name_id = source_values(&rp.name_id_source, &facts)
        .into_iter()
        .next()
        .ok_or_else(|| IssuanceRefusal::NameIdMissing {
            name_id_source: rp.name_id_source.as_string(),
        })?;
    let claims = issue_claims(&rp.claims, &facts);
    let signed_by = service
        .signing_key
        .ok_or(IssuanceRefusal::NoSigningKey)?
        .to_owned();
    let domain_password = identity.domain_password_verified_at.is_some();
    let password_stated = domain_password && request.password_requested;
    let authn_statement = match rp.protocol {
        // A password class was asked (a request for one is not kept for the statement) and
        // the directory checked the password: the class is true.
        Protocol::Saml
            if password_stated && *request.requested_authn_context == RequestedContext::None =>
        {
            AuthnStatement::PasswordProtectedTransport
        }
        Protocol::Saml => saml_statement(request.requested_authn_context, multi_factor)?,
        Protocol::WsFed if password_stated => AuthnStatement::Password,
        // AD FS states the certificate sign-in as TLS client; multipleauthn when a second
        // factor was used (what Entra ID reads for MFA).
        Protocol::WsFed if multi_factor => AuthnStatement::MultipleAuthn,
        Protocol::WsFed => AuthnStatement::TlsClient,
    };
    Ok(Issuance {
        issuer: rp.issuer_for(service.entity_id, Some(user.upn.as_str())),
        recipient: request.reply_url.to_owned(),
        in_response_to: request.request_id.map(str::to_owned),
        name_id: IssuedNameId {
            value: name_id,
            format: rp.name_id_format,
            encode_immutable_id: rp.protocol == Protocol::Saml
                && rp.name_id_source == ClaimSource::User(UserField::ImmutableId)
                && rp.name_id_format == NameIdFormat::Persistent,
        },
        claims,
        multi_factor,
        domain_password,
        authn_statement,
        authenticated_at: identity.auth_time,
        validity: TokenValidity {
            issued_at: now,
            not_before: UnixTime(now.0 - service.clock_skew_seconds),
            not_on_or_after: UnixTime(now.0 + rp.token_lifetime_seconds),
        },
        signed_by,
        signed_in_as: identity.upn.clone(),
        certificate_serial: identity.certificate_serial.clone(),
        relying_party: rp,
    })
}

/// The AuthnContextClassRef a SAML assertion states (one value only: Entra ID reads just this
/// element for MFA): one that meets the SP's RequestedAuthnContext, or without one, how the
/// user signed in (multipleauthn after a multi-factor sign-in, else X509).
pub(crate) fn saml_statement(
    requested: &RequestedContext,
    multi_factor: bool,
) -> Result<AuthnStatement, IssuanceRefusal> {
    match requested {
        RequestedContext::None if multi_factor => Ok(AuthnStatement::MultipleAuthn),
        RequestedContext::None => Ok(AuthnStatement::X509),
        RequestedContext::Unreadable => Err(IssuanceRefusal::RequestUnreadable),
        // The request was decided satisfiable before the sign-in, and a sign-in that needed
        // the second factor had it; this refuses rather than state a class the SP did not
        // accept.
        RequestedContext::Asked {
            after_multi_factor,
            after_single_factor,
            class_refs,
            comparison,
        } => if multi_factor {
            *after_multi_factor
        } else {
            *after_single_factor
        }
        .ok_or_else(|| IssuanceRefusal::AuthnContextUnmet {
            class_refs: class_refs.clone(),
            comparison: comparison.clone(),
        }),
    }
}

/// Records the issued token (`token_id`, the assertion's ID) in the audit log before it is
/// sent: a token that cannot be recorded is not issued.
pub async fn record_issuance<S: AuditLog>(
    store: &S,
    issuance: &Issuance,
    token_id: &str,
    now: UnixTime,
) -> Result<(), IssuanceRefusal> {
    store
        .append_audit(&issuance.audit_event(token_id, now))
        .await
        .map_err(|error| IssuanceRefusal::AuditUnavailable { error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{prepare_user, UserDraft};
    use crate::federation::relying_party::{microsoft365, prepare_relying_party};
    use crate::federation::RefusalKind;
    use crate::federation::RelyingPartyDraft;
    use crate::store::StoreError;

    /// A fixed clock: 2026-03-01T12:00:00Z.
    const NOW: UnixTime = UnixTime(1_772_366_400);
    const SIGNED_IN_AT: UnixTime = UnixTime(1_772_366_340);
    const SKEW: i64 = 120;
    const ACS: &str = "https://sp.test/acs";

    fn rp(draft: RelyingPartyDraft) -> RelyingParty {
        prepare_relying_party(draft, "rp_1".into(), UnixTime(10), UnixTime(20)).expect("rp")
    }

    fn saml_sp() -> RelyingParty {
        rp(RelyingPartyDraft::new(
            "Test SP",
            Protocol::Saml,
            "https://sp.test/sp",
            vec![ACS.into()],
        ))
    }

    fn user(enabled: bool) -> User {
        prepare_user(
            UserDraft {
                immutable_id: Some("AbC+dE/f==".into()),
                mail: Some("alice.smith@corp.example".into()),
                enabled,
                ..UserDraft::new("alice@Corp.Example")
            },
            UserId::generate().expect("id"),
            UnixTime(0),
            None,
        )
        .expect("user")
    }

    fn identity(user: &User, second_factor: Option<&str>) -> FlowIdentity {
        let pki = certgate_testpki::TestPki::three_level(&certgate_testpki::ChainSpec::default())
            .expect("test PKI");
        FlowIdentity {
            user_id: user.id.as_str().to_owned(),
            upn: "alice@corp.example".into(),
            display_name: "Alice".into(),
            certificate_serial: "0a1b".into(),
            certificate_issuer: "CN=Issuing CA, O=certgate Test".into(),
            strength: "single-factor".into(),
            auth_time: SIGNED_IN_AT,
            second_factor: second_factor.map(str::to_owned),
            access_pass_redeemed_at: None,
            certificate_der: Some(pki.leaf.der.clone()),
            domain_password_verified_at: None,
        }
    }

    fn request<'a>(
        identity: &'a FlowIdentity,
        requested: &'a RequestedContext,
    ) -> IssuanceRequest<'a> {
        IssuanceRequest {
            relying_party: "rp_1",
            reply_url: ACS,
            request_id: Some("_r1"),
            requested_authn_context: requested,
            identity,
            password_requested: true,
        }
    }

    const SERVICE: TokenService<'static> = TokenService {
        entity_id: "https://idp.test/federation",
        clock_skew_seconds: SKEW,
        signing_key: Some("0123ABCD"),
    };

    #[test]
    fn a_saml_token_has_its_issuer_times_name_id_claims_and_signing_key_decided() {
        let mut draft = microsoft365(
            Protocol::Saml,
            Some("http://{upn-domain}/adfs/services/trust".into()),
        );
        draft.reply_urls = vec![ACS.into()];
        let user = user(true);
        let identity = identity(&user, None);
        let requested = RequestedContext::None;
        let issuance = decide_issuance(
            rp(draft),
            Some(user.clone()),
            &request(&identity, &requested),
            &SERVICE,
            NOW,
        )
        .expect("issued");
        // The issuer per UPN domain, from the directory's UPN, lower-cased.
        assert_eq!(issuance.issuer, "http://corp.example/adfs/services/trust");
        assert_eq!(issuance.audience(), "urn:federation:MicrosoftOnline");
        assert_eq!(issuance.recipient, ACS);
        assert_eq!(issuance.in_response_to.as_deref(), Some("_r1"));
        assert_eq!(
            issuance.validity,
            TokenValidity {
                issued_at: NOW,
                not_before: UnixTime(NOW.0 - SKEW),
                not_on_or_after: UnixTime(NOW.0 + 3600),
            }
        );
        assert_eq!(issuance.authenticated_at, SIGNED_IN_AT);
        // Entra ID's immutable ID, to be encoded in the SAML 2.0 persistent NameID.
        assert_eq!(
            issuance.name_id,
            IssuedNameId {
                value: "AbC+dE/f==".into(),
                format: NameIdFormat::Persistent,
                encode_immutable_id: true,
            }
        );
        assert_eq!(
            issuance.claims,
            vec![IssuedClaim {
                claim: "IDPEmail".into(),
                values: vec![user.upn.as_str().to_owned()],
            }]
        );
        assert!(!issuance.multi_factor);
        assert_eq!(issuance.authn_statement, AuthnStatement::X509);
        assert_eq!(issuance.signed_by, "0123ABCD");
        let audit = issuance.audit_event("_a1", NOW);
        assert_eq!(
            (
                audit.at,
                audit.actor.as_str(),
                audit.action.as_str(),
                audit.target.as_str()
            ),
            (NOW, "user:alice@corp.example", "federation.issue", "rp_1")
        );
        assert_eq!(
            audit.detail,
            "saml token _a1 for alice@corp.example to Microsoft 365 (https://sp.test/acs), name id AbC+dE/f==, certificate 0a1b, single-factor, signed by 0123ABCD"
        );
    }

    #[test]
    fn without_an_issuer_of_its_own_the_relying_party_gets_the_entity_id() {
        let user = user(true);
        let identity = identity(&user, None);
        let requested = RequestedContext::None;
        let issuance = decide_issuance(
            saml_sp(),
            Some(user),
            &request(&identity, &requested),
            &SERVICE,
            NOW,
        )
        .expect("issued");
        assert_eq!(issuance.issuer, "https://idp.test/federation");
        assert_eq!(issuance.claims.len(), 2);
    }

    #[test]
    fn a_multi_factor_sign_in_is_stated_as_multipleauthn_in_both_protocols() {
        let user = user(true);
        let requested = RequestedContext::None;
        let wsfed = rp(RelyingPartyDraft::new(
            "WS-Fed app",
            Protocol::WsFed,
            "urn:app",
            vec![ACS.into()],
        ));
        for (second_factor, saml, ws) in [
            (
                Some("otp"),
                AuthnStatement::MultipleAuthn,
                AuthnStatement::MultipleAuthn,
            ),
            (
                Some("access-pass"),
                AuthnStatement::MultipleAuthn,
                AuthnStatement::MultipleAuthn,
            ),
            (None, AuthnStatement::X509, AuthnStatement::TlsClient),
        ] {
            let identity = identity(&user, second_factor);
            let issue = |rp: RelyingParty| {
                decide_issuance(
                    rp,
                    Some(user.clone()),
                    &request(&identity, &requested),
                    &SERVICE,
                    NOW,
                )
                .expect("issued")
            };
            let saml_issuance = issue(saml_sp());
            assert_eq!(saml_issuance.authn_statement, saml, "{second_factor:?}");
            assert_eq!(saml_issuance.multi_factor, second_factor.is_some());
            let wsfed_issuance = issue(wsfed.clone());
            assert_eq!(wsfed_issuance.authn_statement, ws, "{second_factor:?}");
            // The immutable ID is encoded in SAML 2.0 only.
            assert!(!wsfed_issuance.name_id.encode_immutable_id);
        }
    }

    #[test]
    fn a_checked_domain_password_is_stated_as_a_password_sign_in_next_to_the_certificate() {
        let user = user(true);
        let requested = RequestedContext::None;
        let wsfed = rp(RelyingPartyDraft::new(
            "WS-Fed app",
            Protocol::WsFed,
            "urn:app",
            vec![ACS.into()],
        ));
        let mut identity = identity(&user, None);
        identity.domain_password_verified_at = Some(SIGNED_IN_AT);
        let issue = |rp: RelyingParty| {
            decide_issuance(
                rp,
                Some(user.clone()),
                &request(&identity, &requested),
                &SERVICE,
                NOW,
            )
            .expect("issued")
        };
        let saml = issue(saml_sp());
        assert_eq!(
            saml.authn_statement,
            AuthnStatement::PasswordProtectedTransport
        );
        assert!(saml.multi_factor, "certificate + password: two factors");
        let ws = issue(wsfed);
        assert_eq!(ws.authn_statement, AuthnStatement::Password);
        assert!(ws
            .audit_event("_a1", NOW)
            .detail
            .contains("certificate 0a1b + domain password, multi-factor"));
        // Without the check, no password is stated, whatever was asked.
        identity.domain_password_verified_at = None;
        let saml = decide_issuance(
            saml_sp(),
            Some(user.clone()),
            &request(&identity, &requested),
            &SERVICE,
            NOW,
        )
        .expect("issued");
        assert_eq!(saml.authn_statement, AuthnStatement::X509);
    }

    #[test]
    fn a_domain_password_the_relying_party_always_asks_is_stated_as_the_second_factor() {
        let user = user(true);
        let requested = RequestedContext::None;
        let wsfed = rp(RelyingPartyDraft::new(
            "WS-Fed app",
            Protocol::WsFed,
            "urn:app",
            vec![ACS.into()],
        ));
        let mut identity = identity(&user, None);
        identity.domain_password_verified_at = Some(SIGNED_IN_AT);
        let unrequested = IssuanceRequest {
            password_requested: false,
            ..request(&identity, &requested)
        };
        let issue = |rp: RelyingParty| {
            decide_issuance(rp, Some(user.clone()), &unrequested, &SERVICE, NOW).expect("issued")
        };
        // Nobody asked for a password: certificate + password are two factors, stated as the
        // multi-factor sign-in they are (what Entra ID reads for MFA).
        let saml = issue(saml_sp());
        assert_eq!(saml.authn_statement, AuthnStatement::MultipleAuthn);
        assert!(saml.domain_password && saml.multi_factor);
        let ws = issue(wsfed);
        assert_eq!(ws.authn_statement, AuthnStatement::MultipleAuthn);
        assert!(ws
            .audit_event("_a1", NOW)
            .detail
            .contains("certificate 0a1b + domain password, multi-factor"));
    }

    #[test]
    fn the_saml_statement_meets_the_requested_context_or_the_token_is_refused() {
        let asked = RequestedContext::Asked {
            after_multi_factor: Some(AuthnStatement::X509),
            after_single_factor: None,
            class_refs: "http://schemas.microsoft.com/claims/multipleauthn, urn:x".into(),
            comparison: "exact".into(),
        };
        assert_eq!(saml_statement(&asked, true), Ok(AuthnStatement::X509));
        let refused = saml_statement(&asked, false).unwrap_err();
        assert_eq!(refused.code(), "saml-authn-context-unsatisfiable");
        assert_eq!(refused.kind(), RefusalKind::Forbidden);
        assert_eq!(
            refused.to_string(),
            "The application asked for a sign-in of the kind http://schemas.microsoft.com/claims/multipleauthn, urn:x (exact), which this sign-in does not meet. Go back to the application and sign in again."
        );
        let unreadable = saml_statement(&RequestedContext::Unreadable, true).unwrap_err();
        assert_eq!(
            (unreadable.code(), unreadable.kind()),
            ("flow-unreadable", RefusalKind::Internal)
        );
        assert_eq!(
            unreadable.to_string(),
            "certgate cannot read this sign-in. Go back to the application and sign in again."
        );
        assert_eq!(
            saml_statement(&RequestedContext::None, true),
            Ok(AuthnStatement::MultipleAuthn)
        );
        // A WS-Federation token never reads it.
        let user = user(true);
        let identity = identity(&user, None);
        let wsfed = rp(RelyingPartyDraft::new(
            "WS-Fed app",
            Protocol::WsFed,
            "urn:app",
            vec![ACS.into()],
        ));
        let unreadable = RequestedContext::Unreadable;
        assert!(decide_issuance(
            wsfed,
            Some(user),
            &request(&identity, &unreadable),
            &SERVICE,
            NOW
        )
        .is_ok());
    }

    #[test]
    fn a_relying_party_removed_disabled_or_without_the_reply_address_gets_no_token() {
        let gone = relying_party_for(None, ACS).unwrap_err();
        assert_eq!(
            (gone.code(), gone.kind()),
            ("rp-not-found", RefusalKind::Forbidden)
        );
        assert_eq!(
            gone.to_string(),
            "The application was removed or disabled while you signed in. Ask your administrator."
        );
        let mut disabled = saml_sp();
        disabled.enabled = false;
        assert_eq!(
            relying_party_for(Some(disabled), ACS).unwrap_err(),
            IssuanceRefusal::RelyingPartyGone
        );
        let removed = relying_party_for(Some(saml_sp()), "https://sp.test/acs2").unwrap_err();
        assert_eq!(
            (removed.code(), removed.kind()),
            (
                "federation-reply-url-not-registered",
                RefusalKind::Forbidden
            )
        );
        assert_eq!(
            removed.to_string(),
            "The address this sign-in was to be delivered to (https://sp.test/acs2) was removed from Test SP while you signed in, so certgate does not send your token there. Go back to the application and sign in again; if this happens again, ask your administrator to check the addresses registered for it (`certgate rp show \"Test SP\"`)."
        );
        assert_eq!(
            relying_party_for(Some(saml_sp()), ACS).expect("usable").id,
            "rp_1"
        );
    }

    #[test]
    fn the_user_the_certificate_the_name_id_and_the_key_are_checked_in_that_order() {
        let enabled = user(true);
        let identity = identity(&enabled, None);
        let requested = RequestedContext::None;
        let no_key = TokenService {
            signing_key: None,
            ..SERVICE
        };
        let refused = |rp: RelyingParty, user: Option<User>, identity: &FlowIdentity, service| {
            decide_issuance(rp, user, &request(identity, &requested), service, NOW).unwrap_err()
        };
        // The user, before anything else.
        for user in [None, Some(user(false))] {
            let error = refused(saml_sp(), user, &identity, &no_key);
            assert_eq!(
                (error.code(), error.kind()),
                ("user-disabled", RefusalKind::Forbidden)
            );
            assert_eq!(
                error.to_string(),
                "Your account was removed or disabled while you signed in. Ask your administrator."
            );
        }
        // The certificate.
        let mut without_certificate = identity.clone();
        without_certificate.certificate_der = None;
        let error = refused(
            saml_sp(),
            Some(enabled.clone()),
            &without_certificate,
            &no_key,
        );
        assert_eq!(
            (error.code(), error.kind()),
            ("flow-certificate-missing", RefusalKind::BadRequest)
        );
        without_certificate.certificate_der = Some(b"not DER".to_vec());
        assert_eq!(
            refused(
                saml_sp(),
                Some(enabled.clone()),
                &without_certificate,
                &no_key
            ),
            IssuanceRefusal::CertificateMissing
        );
        // The NameID.
        let mut by_mail = RelyingPartyDraft::new(
            "Mail SP",
            Protocol::Saml,
            "https://sp.test/sp",
            vec![ACS.into()],
        );
        by_mail.name_id_source = ClaimSource::User(UserField::Mail);
        let mut without_mail = enabled.clone();
        without_mail.mail = None;
        let error = refused(rp(by_mail), Some(without_mail), &identity, &no_key);
        assert_eq!(
            (error.code(), error.kind()),
            ("federation-name-id-missing", RefusalKind::Forbidden)
        );
        assert_eq!(
            error.to_string(),
            "Your account has no value for user.mail, which this application receives as your name identifier. Ask your administrator."
        );
        // The key, before the statement.
        let error = decide_issuance(
            saml_sp(),
            Some(enabled),
            &request(&identity, &RequestedContext::Unreadable),
            &no_key,
            NOW,
        )
        .unwrap_err();
        assert_eq!(
            (error.code(), error.kind()),
            ("federation-no-signing-key", RefusalKind::Unavailable)
        );
        assert_eq!(
            error.to_string(),
            "certgate has no token-signing key loaded. Ask your administrator to check the server log."
        );
    }

    #[test]
    fn store_failures_answer_with_the_store_code() {
        let error = StoreError::Unavailable {
            detail: "down".into(),
        };
        let reading = IssuanceRefusal::Store {
            error: error.clone(),
        };
        assert_eq!(
            (reading.code(), reading.kind()),
            (error.code(), RefusalKind::Unavailable)
        );
        assert_eq!(
            reading.to_string(),
            "certgate cannot read its configuration right now. Try again in a minute."
        );
        let recording = IssuanceRefusal::AuditUnavailable { error };
        assert_eq!(
            recording.to_string(),
            "certgate cannot record the sign-in right now. Try again in a minute."
        );
        assert_eq!(
            IssuanceRefusal::IdentityUnreadable.to_string(),
            "certgate cannot read this sign-in."
        );
    }
}
