//! The federation service's endpoints (the AD FS role) on the web listener: SAML 2.0 IdP
//! metadata, single sign-on (HTTP-Redirect and HTTP-POST bindings) and single logout
//! (HTTP-Redirect), and WS-Federation passive sign-in/sign-out with FederationMetadata.xml.
//!
//! A sign-in request is checked here (relying party registered and enabled, signature when the
//! relying party requires one, clock skew, replay, reply address registered), then kept in a
//! login flow exactly like an OpenID Connect authorization (see `web.rs`): the browser signs in
//! with its certificate on the certificate sign-in listener, enters a one-time code when one is
//! needed, and comes back to [`finish`], which posts the signed token to the registered reply
//! address. certgate keeps no single-sign-on session, so every sign-in is fresh: `ForceAuthn`
//! and `wfresh=0` are always met, and single logout has no session to end on certgate's side.

// The handlers' helpers return the refusal page as their error: an axum Response, larger than
// clippy likes in a Result, and built only on the refusal path.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use certgate_core::audit::AuditEvent;
use certgate_core::directory::{DirectoryStore, UserId};
use certgate_core::federation::claims::{
    authentication_method, issue_claims, source_values, ClaimSource, SignInFacts, UserField,
};
use certgate_core::federation::{
    accept_authn_request, accept_logout_request, accept_wsfed_sign_in, ensure_token_signing_keys,
    rotate_token_signing_keys, AcceptedSignIn, AuthnContextNeed, AuthnRequestFacts,
    AuthnRequestOutcome, Endpoint, FederationError, FederationRefusal, FederationStore,
    LogoutRequestFacts, NameIdFormat, Protocol, PublishedKeys, RefusalKind, RelyingParty,
    SignatureCheck, SpFailure, WsFedAuthentication,
};
use certgate_core::login_flow::FlowIdentity;
use certgate_core::store::Store;
use certgate_pki::{Certificate, UnixTime};
use certgate_saml::{MessageId, SigningKey};
use serde::{Deserialize, Serialize};

use crate::refusal::Refusal;

pub const SAML_METADATA_PATH: &str = "/federation/saml/metadata";
pub const SAML_SSO_PATH: &str = "/federation/saml/sso";
pub const SAML_SLO_PATH: &str = "/federation/saml/slo";
pub const WSFED_PATH: &str = "/federation/wsfed";
/// Where AD FS publishes it, and where Entra ID and WIF look for it.
pub const FEDERATION_METADATA_PATH: &str = "/FederationMetadata/2007-06/FederationMetadata.xml";

/// The federation service's settings.
#[derive(Clone, Debug)]
pub struct FederationSettings {
    /// The IdP's entity ID / issuer URI (Microsoft 365: the federated domain's `issuerUri`),
    /// unless a relying party overrides it.
    pub entity_id: String,
    /// `https://host:port` of the web listener, for the endpoint URLs.
    pub public_origin: String,
    /// Allowed clock difference with relying parties: requests issued up to this far in the
    /// future (or this much older than their lifetime) are accepted, and assertions become
    /// valid this long before their issue.
    pub clock_skew_seconds: i64,
}

/// The signing key in use and the certificates published, loaded from the store.
struct LoadedKeys {
    signing: SigningKey,
    thumbprint: String,
    certificates: Vec<Vec<u8>>,
}

/// The federation service: settings and the token-signing keys.
pub struct FederationService {
    pub settings: FederationSettings,
    keys: ArcSwapOption<LoadedKeys>,
}

impl FederationService {
    /// Opens the service: creates the first token-signing keys when the store has none, and
    /// loads the current one.
    pub async fn open<S: FederationStore>(
        settings: FederationSettings,
        store: &S,
        passphrase: &[u8],
        now: UnixTime,
    ) -> Result<FederationService, FederationError> {
        let service = FederationService {
            settings,
            keys: ArcSwapOption::empty(),
        };
        let published = ensure_token_signing_keys(store, passphrase, now, "server").await?;
        service.load(&published, passphrase)?;
        Ok(service)
    }

    fn load(&self, published: &PublishedKeys, passphrase: &[u8]) -> Result<(), FederationError> {
        let loaded = self.keys.load();
        if loaded
            .as_ref()
            .is_some_and(|k| k.thumbprint == published.current.thumbprint)
            && loaded
                .as_ref()
                .is_some_and(|k| k.certificates == published.certificates())
        {
            return Ok(());
        }
        let pkcs8 = published.current.open(passphrase)?;
        let signing =
            SigningKey::from_pkcs8_and_certificate(&pkcs8, &published.current.certificate_der)
                .map_err(|error| FederationError::KeyCorrupt {
                    thumbprint: published.current.thumbprint.clone(),
                    why: format!("{error} ({})", error.code()),
                })?;
        self.keys.store(Some(Arc::new(LoadedKeys {
            signing,
            thumbprint: published.current.thumbprint.clone(),
            certificates: published.certificates(),
        })));
        Ok(())
    }

    /// Picks up a rotation made by another node, and rotates when the current certificate
    /// nears its end (so that Entra ID, which rolls over from metadata 30 days ahead, has
    /// already seen the next one).
    pub async fn maintain<S: FederationStore>(
        &self,
        store: &S,
        passphrase: &[u8],
        now: UnixTime,
    ) -> Result<(), FederationError> {
        let mut published = ensure_token_signing_keys(store, passphrase, now, "scheduler").await?;
        if published.rotation_due(now) {
            match rotate_token_signing_keys(store, passphrase, now, "scheduler").await {
                Ok(rotated) => {
                    tracing::info!(
                        current = %rotated.current.thumbprint,
                        "rotated the federation token-signing keys"
                    );
                    published = rotated;
                }
                Err(FederationError::RotationRaced) => {
                    published =
                        ensure_token_signing_keys(store, passphrase, now, "scheduler").await?;
                }
                Err(error) => return Err(error),
            }
        }
        if let Err(error) = store.purge_request_ids(now).await {
            tracing::warn!(code = error.code(), %error, "removing expired SAML request IDs failed");
        }
        self.load(&published, passphrase)
    }

    fn keys(&self) -> Option<Arc<LoadedKeys>> {
        self.keys.load_full()
    }

    /// The issuer towards `rp` for the user `upn` (see [`RelyingParty::issuer_for`]).
    pub fn issuer_for(&self, rp: &RelyingParty, upn: Option<&str>) -> String {
        rp.issuer_for(&self.settings.entity_id, upn)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.public_origin)
    }
}

/// A federation sign-in kept in a login flow while the person signs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationRequest {
    /// `saml` or `wsfed`.
    pub protocol: String,
    pub relying_party: String,
    /// The registered reply address the token goes to.
    pub reply_url: String,
    /// SAML: the AuthnRequest's ID (InResponseTo). None for IdP-initiated sign-in and WS-Fed.
    pub request_id: Option<String>,
    /// SAML RelayState or WS-Fed wctx, returned as given.
    pub relay_state: Option<String>,
    /// The relying party asked for multi-factor authentication.
    pub wants_mfa: bool,
    /// The name shown on the pages.
    pub relying_party_name: String,
    /// SAML: the RequestedAuthnContext the assertion's AuthnContextClassRef must meet. None
    /// when the request had none, and when a password class was answered with a fresh
    /// certificate sign-in (the assertion then states how the user really signed in). Absent
    /// in flows started before certgate kept it, hence the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_authn_context: Option<RequestedClasses>,
}

/// A SAML RequestedAuthnContext as kept in a login flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedClasses {
    /// `exact`, `minimum`, `maximum` or `better`.
    pub comparison: String,
    pub class_refs: Vec<String>,
}

impl RequestedClasses {
    fn of(requested: &RequestedAuthnContext) -> RequestedClasses {
        RequestedClasses {
            comparison: requested.comparison.as_str().to_owned(),
            class_refs: requested.class_refs.clone(),
        }
    }

    /// None when the comparison is not one certgate wrote (a flow changed in the store).
    fn requested_authn_context(&self) -> Option<RequestedAuthnContext> {
        Some(RequestedAuthnContext {
            comparison: AuthnContextComparison::parse(&self.comparison)?,
            class_refs: self.class_refs.clone(),
        })
    }
}

/// How a flow's request is stored: OIDC requests are stored as they are; federation requests
/// inside this envelope, so that the two cannot be mistaken for each other.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    federation: FederationRequest,
}

impl FederationRequest {
    pub fn serialize(&self) -> Option<String> {
        serde_json::to_string(&Envelope {
            federation: self.clone(),
        })
        .ok()
    }

    /// The federation request a flow holds, if it holds one.
    pub fn of(serialized: &str) -> Option<FederationRequest> {
        serde_json::from_str::<Envelope>(serialized)
            .ok()
            .map(|e| e.federation)
    }
}

/// A page that refuses a federation request: the reason code, an actionable message and a
/// correlation ID, also in the log.
pub fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    Refusal::new(status, code.to_owned(), message.to_owned())
        .heading("Sign-in refused")
        .into_response()
}

/// The HTML page that posts `fields` to `action` (SAML HTTP-POST binding, WS-Fed's form POST):
/// certgate's static script submits it (no inline script: the page's Content-Security-Policy
/// allows only `script-src 'self'`), and the button stays for browsers without scripts.
pub fn auto_post(action: &str, fields: &[(&str, &str)]) -> Response {
    let mut response = crate::pages::render(&crate::pages::AutoPostPage { action, fields });
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // A constant of visible ASCII, a valid header value.
        HeaderValue::from_static(crate::browser_headers::autopost_policy()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Everything needed to write the token for a finished sign-in.
struct Issuance {
    rp: RelyingParty,
    /// The user's UPN (for an issuer per UPN domain).
    upn: String,
    name_id: String,
    claims: Vec<certgate_core::federation::IssuedClaim>,
    multi_factor: bool,
    authenticated_at: UnixTime,
    certificate_serial: String,
}

async fn prepare_issuance<S>(
    store: &S,
    request: &FederationRequest,
    identity: &FlowIdentity,
) -> Result<Issuance, (StatusCode, &'static str, String)>
where
    S: FederationStore + DirectoryStore,
{
    let unavailable = |code: &'static str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "certgate cannot read its configuration right now. Try again in a minute.".to_owned(),
        )
    };
    let rp = store
        .relying_party(&request.relying_party)
        .await
        .map_err(|e| unavailable(e.code()))?
        .filter(|rp| rp.enabled)
        .ok_or((
            StatusCode::FORBIDDEN,
            "rp-not-found",
            "The application was removed or disabled while you signed in. Ask your administrator."
                .to_owned(),
        ))?;
    // The reply address was checked when the sign-in started; an administrator may have
    // removed it since (a compromised ACS or wreply), and a token must not follow it there.
    if rp.reply_url(Some(&request.reply_url)).is_none() {
        return Err((
            StatusCode::FORBIDDEN,
            "federation-reply-url-not-registered",
            format!(
                "The address this sign-in was to be delivered to ({}) was removed from {} while you signed in, so certgate does not send your token there. Go back to the application and sign in again; if this happens again, ask your administrator to check the addresses registered for it (`certgate rp show \"{}\"`).",
                request.reply_url, rp.name, rp.name
            ),
        ));
    }
    let user_id = UserId::parse(&identity.user_id).ok_or((
        StatusCode::INTERNAL_SERVER_ERROR,
        "flow-unreadable",
        "certgate cannot read this sign-in.".to_owned(),
    ))?;
    let user = store
        .user_by_id(&user_id)
        .await
        .map_err(|e| unavailable(e.code()))?
        .filter(|user| user.enabled)
        .ok_or((
            StatusCode::FORBIDDEN,
            "user-disabled",
            "Your account was removed or disabled while you signed in. Ask your administrator."
                .to_owned(),
        ))?;
    let certificate = identity
        .certificate_der
        .as_deref()
        .and_then(|der| Certificate::from_der(der).ok())
        .ok_or((
            StatusCode::BAD_REQUEST,
            "flow-certificate-missing",
            "This sign-in has no certificate on record. Go back to the application and sign in again.".to_owned(),
        ))?;
    let multi_factor = identity.is_multi_factor();
    let facts = SignInFacts {
        user: &user,
        certificate: &certificate,
        certificate_issuer: &identity.certificate_issuer,
        authenticated_at: identity.auth_time,
        multi_factor,
    };
    let name_id = source_values(&rp.name_id_source, &facts)
        .into_iter()
        .next()
        .ok_or_else(|| {
            (
                StatusCode::FORBIDDEN,
                "federation-name-id-missing",
                format!(
                    "Your account has no value for {}, which this application receives as your name identifier. Ask your administrator.",
                    rp.name_id_source.as_string()
                ),
            )
        })?;
    let claims = issue_claims(&rp.claims, &facts);
    Ok(Issuance {
        upn: user.upn.to_string(),
        rp,
        name_id,
        claims,
        multi_factor,
        authenticated_at: identity.auth_time,
        certificate_serial: identity.certificate_serial.clone(),
    })
}

/// Writes and posts the token for a finished sign-in (the flow is already marked done).
pub async fn finish<S>(
    service: &FederationService,
    store: &S,
    request: &FederationRequest,
    identity: &FlowIdentity,
    now: UnixTime,
) -> Response
where
    S: FederationStore + DirectoryStore + Store,
{
    let issuance = match prepare_issuance(store, request, identity).await {
        Ok(issuance) => issuance,
        Err((status, code, message)) => return refusal(status, code, &message),
    };
    let keys = match loaded_keys(service) {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    let written = match issuance.rp.protocol {
        Protocol::Saml => {
            let stated = match saml_statement(request, issuance.multi_factor) {
                Ok(stated) => stated,
                Err(response) => return response,
            };
            saml_response(service, &keys, request, &issuance, stated, now)
        }
        Protocol::WsFed => wsfed_response(service, &keys, request, &issuance, now),
    };
    let (fields, assertion_id) = match written {
        Ok(written) => written,
        Err(error) => {
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                error.code(),
                &format!("certgate could not write the token for this application: {error}"),
            )
        }
    };
    let audit = AuditEvent::new(
        now,
        &format!("user:{}", identity.upn),
        "federation.issue",
        &issuance.rp.id,
        "ok",
        format!(
            "{} token {assertion_id} for {} to {} ({}), name id {}, certificate {}, {}, signed by {}",
            issuance.rp.protocol.as_str(),
            identity.upn,
            issuance.rp.name,
            request.reply_url,
            issuance.name_id,
            issuance.certificate_serial,
            if issuance.multi_factor { "multi-factor" } else { "single-factor" },
            keys.thumbprint
        ),
    );
    // Fail closed: a token that cannot be recorded is not issued.
    if let Err(error) = store.append_audit(&audit).await {
        return refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code(),
            "certgate cannot record the sign-in right now. Try again in a minute.",
        );
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    auto_post(&request.reply_url, &fields)
}

type Written = (Vec<(&'static str, String)>, String);

/// The AuthnContextClassRef a SAML assertion states: one that meets the SP's
/// RequestedAuthnContext, or without one, how the user signed in (multipleauthn after a
/// multi-factor sign-in, else X509).
fn saml_statement(
    request: &FederationRequest,
    multi_factor: bool,
) -> Result<AuthnContext, Response> {
    let Some(kept) = &request.requested_authn_context else {
        return Ok(if multi_factor {
            AuthnContext::MultipleAuthn
        } else {
            AuthnContext::X509
        });
    };
    let Some(requested) = kept.requested_authn_context() else {
        return Err(refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "flow-unreadable",
            "certgate cannot read this sign-in. Go back to the application and sign in again.",
        ));
    };
    // The request was decided satisfiable before the sign-in, and a sign-in that needed the
    // second factor had it; this refuses rather than state a class the SP did not accept.
    requested.statement_for(multi_factor).ok_or_else(|| {
        refusal(
            StatusCode::FORBIDDEN,
            "saml-authn-context-unsatisfiable",
            &format!(
                "The application asked for a sign-in of the kind {} ({}), which this sign-in does not meet. Go back to the application and sign in again.",
                kept.class_refs.join(", "),
                kept.comparison
            ),
        )
    })
}

fn saml_response(
    service: &FederationService,
    keys: &LoadedKeys,
    request: &FederationRequest,
    issuance: &Issuance,
    stated: AuthnContext,
    now: UnixTime,
) -> Result<Written, certgate_saml::SamlError> {
    use base64::Engine as _;
    use certgate_saml::{
        Assertion, Attribute, Authentication, ImmutableId, NameId, Response, ResponseSigning,
        Validity,
    };
    let rp = &issuance.rp;
    let format = match rp.name_id_format {
        NameIdFormat::Persistent => certgate_saml::NameIdFormat::Persistent,
        NameIdFormat::EmailAddress => certgate_saml::NameIdFormat::EmailAddress,
        NameIdFormat::Unspecified => certgate_saml::NameIdFormat::Unspecified,
    };
    // Entra ID requires the immutable ID encoded (`+` → `.2B`, ...) in the SAML 2.0 NameID.
    let name_id = if rp.name_id_source == ClaimSource::User(UserField::ImmutableId)
        && format == certgate_saml::NameIdFormat::Persistent
    {
        ImmutableId::encode(&issuance.name_id)?.as_str().to_owned()
    } else {
        issuance.name_id.clone()
    };
    let skew = service.settings.clock_skew_seconds;
    let validity = Validity {
        issue_instant: now,
        not_before: UnixTime(now.0 - skew),
        not_on_or_after: UnixTime(now.0 + rp.token_lifetime_seconds),
    };
    let assertion_id = MessageId::random()?;
    let session_index = MessageId::random()?;
    let assertion = Assertion {
        id: assertion_id.clone(),
        issuer: service.issuer_for(rp, Some(&issuance.upn)),
        name_id: NameId {
            format,
            value: name_id,
        },
        audience: rp.identifier.clone(),
        recipient: request.reply_url.clone(),
        in_response_to: request.request_id.clone(),
        validity,
        authentication: Authentication {
            authn_instant: issuance.authenticated_at,
            session_index: session_index.as_str().to_owned(),
            // One value only (Entra reads just this element for MFA).
            context: stated,
        },
        attributes: issuance
            .claims
            .iter()
            .map(|claim| Attribute {
                name: claim.claim.clone(),
                name_format: claim
                    .claim
                    .contains(':')
                    .then(|| "urn:oasis:names:tc:SAML:2.0:attrname-format:uri".to_owned()),
                values: claim.values.clone(),
            })
            .collect(),
    };
    let signed = assertion.sign(&keys.signing)?;
    let response = Response {
        id: MessageId::random()?,
        issuer: service.issuer_for(rp, Some(&issuance.upn)),
        destination: request.reply_url.clone(),
        in_response_to: request.request_id.clone(),
        issue_instant: now,
    };
    let signing = if rp.sign_response {
        ResponseSigning::AssertionAndResponse
    } else {
        ResponseSigning::AssertionOnly
    };
    let xml = response.build(&signed, signing, &keys.signing)?;
    let mut fields = vec![(
        "SAMLResponse",
        base64::engine::general_purpose::STANDARD.encode(xml.as_bytes()),
    )];
    if let Some(relay_state) = &request.relay_state {
        fields.push(("RelayState", relay_state.clone()));
    }
    Ok((fields, assertion_id.as_str().to_owned()))
}

fn wsfed_response(
    service: &FederationService,
    keys: &LoadedKeys,
    request: &FederationRequest,
    issuance: &Issuance,
    now: UnixTime,
) -> Result<Written, certgate_saml::SamlError> {
    use certgate_saml::wsfed::{AuthenticationMethod, Claim, ClaimType, Saml11Assertion};
    use certgate_saml::{NameId, Validity};
    let rp = &issuance.rp;
    let format = match rp.name_id_format {
        NameIdFormat::Persistent => certgate_saml::NameIdFormat::Persistent,
        NameIdFormat::EmailAddress => certgate_saml::NameIdFormat::EmailAddress,
        NameIdFormat::Unspecified => certgate_saml::NameIdFormat::Unspecified,
    };
    let skew = service.settings.clock_skew_seconds;
    let assertion_id = MessageId::random()?;
    let claims = issuance
        .claims
        .iter()
        .map(|claim| {
            Ok(Claim {
                claim_type: ClaimType::parse(&claim.claim)?,
                values: claim.values.clone(),
            })
        })
        .collect::<Result<Vec<_>, certgate_saml::SamlError>>()?;
    let assertion = Saml11Assertion {
        id: assertion_id.clone(),
        issuer: service.issuer_for(rp, Some(&issuance.upn)),
        name_identifier: NameId {
            format,
            value: issuance.name_id.clone(),
        },
        audience: rp.identifier.clone(),
        validity: Validity {
            issue_instant: now,
            not_before: UnixTime(now.0 - skew),
            not_on_or_after: UnixTime(now.0 + rp.token_lifetime_seconds),
        },
        // AD FS states the certificate sign-in as TLS client; multipleauthn when a second
        // factor was used (what Entra ID reads for MFA, anchors §3).
        authentication_method: if issuance.multi_factor {
            AuthenticationMethod::MultipleAuthn
        } else {
            AuthenticationMethod::TlsClient
        },
        authentication_instant: issuance.authenticated_at,
        claims,
    };
    debug_assert_eq!(
        assertion.authentication_method.uri(),
        authentication_method(issuance.multi_factor)
    );
    let signed = assertion.sign(&keys.signing)?;
    let mut fields = vec![
        ("wa", "wsignin1.0".to_owned()),
        ("wresult", signed.request_security_token_response()),
    ];
    if let Some(context) = &request.relay_state {
        fields.push(("wctx", context.clone()));
    }
    Ok((fields, assertion_id.as_str().to_owned()))
}

// ---- Endpoints ---------------------------------------------------------------------------------

use axum::extract::{Form, RawQuery, State};
use certgate_oidc::RefreshPolicy;
use certgate_saml::{
    AuthnContext, AuthnContextComparison, AuthnContextDecision, AuthnRequest, FailureStatus,
    IdpMetadata, RequestedAuthnContext, SamlError,
};

use crate::web::{start_flow, WebContext, WebStore};

/// How long after its IssueInstant a request is accepted (plus the clock skew): long enough
/// for a slow redirect, short enough that a captured request is soon useless.
/// How long published metadata says it is valid; relying parties refetch before then.
const METADATA_VALIDITY_SECONDS: i64 = 7 * 86_400;

fn service<S, P>(context: &WebContext<S, P>) -> Result<&Arc<FederationService>, Response> {
    context.federation.as_ref().ok_or_else(|| {
        refusal(
            StatusCode::NOT_FOUND,
            "federation-disabled",
            "The federation service (SAML, WS-Federation) is not enabled on this server.",
        )
    })
}

fn xml_response(content_type: &'static str, xml: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=3600"),
            ),
        ],
        xml,
    )
        .into_response()
}

/// `GET /federation/saml/metadata`: the IdP's signed SAML 2.0 metadata, with the current and
/// the next token-signing certificate.
pub async fn saml_metadata<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
) -> Response {
    signed_metadata(&context, |service, keys, now| {
        IdpMetadata {
            id: MessageId::random()?,
            entity_id: service.settings.entity_id.clone(),
            signing_certificates: keys.certificates.clone(),
            want_authn_requests_signed: false,
            sso_redirect_url: service.url(SAML_SSO_PATH),
            sso_post_url: service.url(SAML_SSO_PATH),
            slo_redirect_url: service.url(SAML_SLO_PATH),
            name_id_formats: PUBLISHED_NAME_ID_FORMATS.to_vec(),
            valid_until: Some(UnixTime(now.0 + METADATA_VALIDITY_SECONDS)),
        }
        .sign(&keys.signing)
    })
}

/// The NameID formats both metadata documents publish.
const PUBLISHED_NAME_ID_FORMATS: [certgate_saml::NameIdFormat; 3] = [
    certgate_saml::NameIdFormat::Persistent,
    certgate_saml::NameIdFormat::EmailAddress,
    certgate_saml::NameIdFormat::Unspecified,
];

/// A metadata document `write` signs with the current key, or the refusal page.
fn signed_metadata<S, P>(
    context: &WebContext<S, P>,
    write: impl FnOnce(&FederationService, &LoadedKeys, UnixTime) -> Result<String, SamlError>,
) -> Response {
    let service = match service(context) {
        Ok(service) => service,
        Err(response) => return response,
    };
    let keys = match loaded_keys(service) {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    match write(service, &keys, context.clock.now()) {
        Ok(xml) => xml_response("application/samlmetadata+xml", xml),
        Err(error) => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            error.code(),
            &error.to_string(),
        ),
    }
}

/// The signing key in use, or the refusal page when none is loaded.
fn loaded_keys(service: &FederationService) -> Result<Arc<LoadedKeys>, Response> {
    service.keys().ok_or_else(|| {
        refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "federation-no-signing-key",
            "certgate has no token-signing key loaded. Ask your administrator to check the server log.",
        )
    })
}

/// `GET /federation/saml/sso`: an AuthnRequest by the HTTP-Redirect binding.
pub async fn saml_sso_redirect<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    RawQuery(query): RawQuery,
) -> Response {
    let received = AuthnRequest::from_redirect(query.as_deref().unwrap_or_default());
    saml_sso(&context, received).await
}

/// `POST /federation/saml/sso`: an AuthnRequest by the HTTP-POST binding.
pub async fn saml_sso_post<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let (request, relay_state) = match (
        form_value(&form, "SAMLRequest"),
        form_value(&form, "RelayState"),
    ) {
        (Ok(Some(request)), Ok(relay_state)) => (request, relay_state),
        (Ok(None), _) => return refusal(
            StatusCode::BAD_REQUEST,
            "saml-parameter-missing",
            "The sign-in request has no SAMLRequest. Go back to the application and sign in again.",
        ),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let received = AuthnRequest::from_post(request, relay_state);
    saml_sso(&context, received).await
}

/// A form field given at most once.
fn form_value<'a>(
    form: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, Response> {
    let mut values = form
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "saml-parameter-duplicated",
            &format!("The sign-in request carries {name} more than once."),
        ));
    }
    Ok(first)
}

fn request_refused(error: &SamlError) -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        error.code(),
        &format!("The application's sign-in request cannot be used: {error}"),
    )
}

async fn saml_sso<S: WebStore, P: RefreshPolicy>(
    context: &WebContext<S, P>,
    received: Result<certgate_saml::Received<AuthnRequest>, SamlError>,
) -> Response {
    let service = match service(context) {
        Ok(service) => service,
        Err(response) => return response,
    };
    let received = match received {
        Ok(received) => received,
        Err(error) => return request_refused(&error),
    };
    let now = context.clock.now();
    let request = received.message();
    let rp = match checked_relying_party(context, Protocol::Saml, &request.issuer).await {
        Ok(rp) => rp,
        Err(response) => return response,
    };
    let sso_url = service.url(SAML_SSO_PATH);
    let facts = AuthnRequestFacts {
        id: request.id.as_str(),
        issuer: &request.issuer,
        issue_instant: request.issue_instant,
        destination: request.destination.as_deref(),
        acs_url: request.acs_url.as_deref(),
        acs_index: request.acs_index,
        protocol_binding: request.protocol_binding.as_deref(),
        name_id_policy_format: request.name_id_policy_format.as_deref(),
        is_passive: request.is_passive,
        requested_authn_context: request.requested_authn_context.as_ref().map(|requested| {
            let need = match requested.decide() {
                AuthnContextDecision::CertificateSignIn => AuthnContextNeed::Certificate,
                AuthnContextDecision::MultiFactorSignIn => AuthnContextNeed::MultiFactor,
                AuthnContextDecision::PasswordRequested => AuthnContextNeed::Password,
                AuthnContextDecision::Unsatisfiable => AuthnContextNeed::Unsatisfiable,
            };
            (
                need,
                format!(
                    "{} {}",
                    requested.comparison.as_str(),
                    requested.class_refs.join(" ")
                ),
            )
        }),
        signature: signature_check(&received, &rp),
    };
    let endpoint = Endpoint {
        url: &sso_url,
        clock_skew_seconds: service.settings.clock_skew_seconds,
    };
    let accepted = match accept_authn_request(&rp, &facts, endpoint, now, &*context.store).await {
        Ok(AuthnRequestOutcome::SignIn(accepted)) => accepted,
        // What certgate cannot meet is answered to the SP (a signed Response with a
        // failure status), so that the application can tell the user (SAML core §3.4.1.4).
        Ok(AuthnRequestOutcome::AnswerProvider { reply_url, failure }) => {
            let status = match failure {
                SpFailure::NameIdPolicy { .. } => FailureStatus::InvalidNameIdPolicy,
                SpFailure::Passive => FailureStatus::NoPassive,
                SpFailure::AuthnContext { .. } => FailureStatus::NoAuthnContext,
            };
            return saml_failure(
                service,
                &rp,
                request,
                &reply_url,
                received.relay_state(),
                status,
                failure.code(),
                &failure.message(),
                now,
            );
        }
        Err(refused) => return federation_refused(&refused),
    };
    if let Err(response) = audit_password_request(context, &rp, &accepted, now).await {
        return response;
    }
    let pending = FederationRequest {
        protocol: Protocol::Saml.as_str().to_owned(),
        relying_party: rp.id.clone(),
        reply_url: accepted.reply_url,
        request_id: Some(request.id.as_str().to_owned()),
        relay_state: received.relay_state().map(str::to_owned),
        wants_mfa: accepted.wants_mfa,
        relying_party_name: rp.name.clone(),
        requested_authn_context: request
            .requested_authn_context
            .as_ref()
            .filter(|_| accepted.keep_requested_context)
            .map(RequestedClasses::of),
    };
    begin(context, &pending, now).await
}

/// What certgate-saml found about a received message's signature, for `rp`.
fn signature_check<M>(received: &certgate_saml::Received<M>, rp: &RelyingParty) -> SignatureCheck {
    if !received.is_signed() {
        return SignatureCheck::Unsigned;
    }
    if rp.request_certificates.is_empty() {
        return SignatureCheck::Unverifiable;
    }
    match received.verify_signature(&rp.request_certificates) {
        Ok(()) => SignatureCheck::Verified,
        Err(error) => SignatureCheck::Invalid {
            code: error.code(),
            detail: error.to_string(),
        },
    }
}

/// The page of a refused federation request.
fn federation_refused(refused: &FederationRefusal) -> Response {
    let status = match refused.kind() {
        RefusalKind::BadRequest => StatusCode::BAD_REQUEST,
        RefusalKind::Forbidden => StatusCode::FORBIDDEN,
        RefusalKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    refusal(status, refused.code(), &refused.to_string())
}

/// A password request answered with a fresh certificate sign-in (as the relying party's
/// settings allow) is on record before the sign-in starts.
async fn audit_password_request<S: WebStore, P>(
    context: &WebContext<S, P>,
    rp: &RelyingParty,
    accepted: &AcceptedSignIn,
    now: UnixTime,
) -> Result<(), Response> {
    let Some(asked) = &accepted.password_request_replaced else {
        return Ok(());
    };
    let audit = AuditEvent::new(
        now,
        "server",
        "federation.password-request-replaced",
        &rp.id,
        "ok",
        format!(
            "{} asked for password authentication ({asked}); answered with a fresh certificate sign-in as its settings allow",
            rp.name
        ),
    );
    tracing::info!(relying_party = %rp.name, asked, "password request answered with a fresh certificate sign-in");
    context.store.append_audit(&audit).await.map_err(|error| {
        refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code(),
            "certgate cannot record the sign-in right now. Try again in a minute.",
        )
    })
}

async fn begin<S: WebStore, P: RefreshPolicy>(
    context: &WebContext<S, P>,
    pending: &FederationRequest,
    now: UnixTime,
) -> Response {
    let Some(serialized) = pending.serialize() else {
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "flow-unserializable",
            "certgate could not start the sign-in.",
        );
    };
    match start_flow(
        &*context.store,
        &context.certauth_origin,
        serialized,
        &pending.relying_party_name,
        now,
    )
    .await
    {
        Ok(response) => response,
        Err((code, message)) => refusal(StatusCode::SERVICE_UNAVAILABLE, code, message),
    }
}

async fn checked_relying_party<S: WebStore, P>(
    context: &WebContext<S, P>,
    protocol: Protocol,
    identifier: &str,
) -> Result<RelyingParty, Response> {
    let found = context
        .store
        .relying_party_by_identifier(protocol, identifier)
        .await
        .map_err(|error| {
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                "certgate cannot read its relying parties right now. Try again in a minute.",
            )
        })?;
    match found {
        Some(rp) if rp.enabled => Ok(rp),
        Some(rp) => Err(refusal(
            StatusCode::FORBIDDEN,
            "rp-disabled",
            &format!("{} is disabled on certgate. An administrator enables it with `certgate rp set \"{}\" --enabled`.", rp.name, rp.name),
        )),
        None => Err(refusal(
            StatusCode::FORBIDDEN,
            "rp-unknown",
            &format!(
                "The application {identifier} is not registered with certgate. An administrator registers it with `certgate rp add {}`.",
                protocol.as_str()
            ),
        )),
    }
}

/// `GET|POST /federation/wsfed`: the WS-Federation passive endpoint (`wa=wsignin1.0`,
/// `wsignout1.0`, `wsignoutcleanup1.0`), AD FS's `/adfs/ls/`.
pub async fn wsfed_get<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    wsfed(&context, &query).await
}

pub async fn wsfed_post<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    wsfed(&context, &form).await
}

async fn wsfed<S: WebStore, P: RefreshPolicy>(
    context: &WebContext<S, P>,
    query: &[(String, String)],
) -> Response {
    use certgate_saml::wsfed::{RequestedAuthentication, WsFedRequest};
    if let Err(response) = service(context) {
        return response;
    }
    let request = match WsFedRequest::parse(query) {
        Ok(request) => request,
        Err(error) => return request_refused(&error),
    };
    let sign_in = match request {
        WsFedRequest::SignIn(sign_in) => sign_in,
        WsFedRequest::SignOut(sign_out) | WsFedRequest::SignOutCleanup(sign_out) => {
            return wsfed_sign_out(context, sign_out.reply.as_deref()).await
        }
    };
    let now = context.clock.now();
    let rp = match checked_relying_party(context, Protocol::WsFed, &sign_in.realm).await {
        Ok(rp) => rp,
        Err(response) => return response,
    };
    let authentication = match &sign_in.requested_authentication {
        None | Some(RequestedAuthentication::Certificate) => WsFedAuthentication::Certificate,
        Some(RequestedAuthentication::MultiFactor) => WsFedAuthentication::MultiFactor,
        Some(RequestedAuthentication::Password) => WsFedAuthentication::Password,
        Some(RequestedAuthentication::Other(uri)) => WsFedAuthentication::Other(uri),
    };
    let accepted = match accept_wsfed_sign_in(&rp, sign_in.reply.as_deref(), authentication) {
        Ok(accepted) => accepted,
        Err(refused) => return federation_refused(&refused),
    };
    if let Err(response) = audit_password_request(context, &rp, &accepted, now).await {
        return response;
    }
    if let Some(freshness) = sign_in.freshness {
        tracing::debug!(
            minutes = freshness.max_age_minutes(),
            "wfresh met by a fresh sign-in"
        );
    }
    let pending = FederationRequest {
        protocol: Protocol::WsFed.as_str().to_owned(),
        relying_party: rp.id.clone(),
        reply_url: accepted.reply_url,
        request_id: None,
        relay_state: sign_in.context.clone(),
        wants_mfa: accepted.wants_mfa,
        relying_party_name: rp.name.clone(),
        requested_authn_context: None,
    };
    begin(context, &pending, now).await
}

/// `wsignout1.0`: certgate has no session to end; the browser goes to `wreply` when that is
/// an address registered for a WS-Fed relying party, else it sees a signed-out page.
async fn wsfed_sign_out<S: WebStore, P>(
    context: &WebContext<S, P>,
    reply: Option<&str>,
) -> Response {
    if let Some(reply) = reply {
        let registered = context.store.relying_parties().await.is_ok_and(|rps| {
            rps.iter().any(|rp| {
                rp.protocol == Protocol::WsFed
                    && rp.enabled
                    && (rp.reply_url(Some(reply)).is_some()
                        || rp.logout_url.as_deref() == Some(reply))
            })
        });
        if registered {
            if let Ok(location) = HeaderValue::from_str(reply) {
                return (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
            }
        }
    }
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        crate::pages::render(&crate::pages::MessagePage {
            title: "Signed out",
            paragraphs: &["You are signed out. certgate keeps no sign-in session of its own: the next sign-in asks for your certificate again. Close the browser to forget the certificate choice."],
            alert: false,
            link: None,
        }),
    )
        .into_response()
}

/// `GET /FederationMetadata/2007-06/FederationMetadata.xml`: the signed WS-Federation
/// metadata (and the SAML 2.0 IdP role), with the current and next token-signing certificate.
pub async fn federation_metadata<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
) -> Response {
    use certgate_saml::wsfed::{FederationMetadata, OfferedClaimType, Saml2IdpRole};
    let offered = |uri: &str, name: &str| OfferedClaimType {
        uri: uri.to_owned(),
        display_name: name.to_owned(),
        description: None,
    };
    signed_metadata(&context, |service, keys, now| {
        FederationMetadata {
            id: MessageId::random()?,
            entity_id: service.settings.entity_id.clone(),
            signing_certificates: keys.certificates.clone(),
            passive_requestor_url: service.url(WSFED_PATH),
            claim_types_offered: vec![
                offered("http://schemas.xmlsoap.org/claims/UPN", "UPN"),
                offered(
                    "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID",
                    "ImmutableID",
                ),
                offered(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                    "E-Mail Address",
                ),
                offered(
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber",
                    "Certificate serial number",
                ),
                offered(
                    "http://schemas.microsoft.com/2012/12/certificatecontext/field/issuer",
                    "Certificate issuer",
                ),
                offered(
                    "http://schemas.microsoft.com/claims/authnmethodsreferences",
                    "Authentication methods references",
                ),
            ],
            saml2_idp: Some(Saml2IdpRole {
                want_authn_requests_signed: false,
                sso_redirect_url: service.url(SAML_SSO_PATH),
                sso_post_url: service.url(SAML_SSO_PATH),
                slo_redirect_url: service.url(SAML_SLO_PATH),
                name_id_formats: PUBLISHED_NAME_ID_FORMATS.to_vec(),
            }),
            valid_until: Some(UnixTime(now.0 + METADATA_VALIDITY_SECONDS)),
        }
        .sign(&keys.signing)
    })
}

/// `GET /federation/saml/slo`: a LogoutRequest by the HTTP-Redirect binding. certgate keeps no
/// sign-in session, so there is nothing to end on its side: it checks the request (signed by the
/// SP, as SAML profiles §4.4.4.1 requires; not stale, not replayed) and answers the SP's
/// registered SingleLogoutService with a signed LogoutResponse (Success).
pub async fn saml_slo<S: WebStore, P: RefreshPolicy>(
    State(context): State<Arc<WebContext<S, P>>>,
    RawQuery(query): RawQuery,
) -> Response {
    use certgate_saml::{LogoutRequest, LogoutResponse, StatusCode as LogoutStatus};
    let service = match service(&context) {
        Ok(service) => service,
        Err(response) => return response,
    };
    let received = match LogoutRequest::from_redirect(query.as_deref().unwrap_or_default()) {
        Ok(received) => received,
        Err(error) => return request_refused(&error),
    };
    let now = context.clock.now();
    let request = received.message();
    let rp = match checked_relying_party(&context, Protocol::Saml, &request.issuer).await {
        Ok(rp) => rp,
        Err(response) => return response,
    };
    let slo_url = service.url(SAML_SLO_PATH);
    let facts = LogoutRequestFacts {
        id: request.id.as_str(),
        issuer: &request.issuer,
        issue_instant: request.issue_instant,
        destination: request.destination.as_deref(),
        not_on_or_after: request.not_on_or_after,
        signature: signature_check(&received, &rp),
    };
    let endpoint = Endpoint {
        url: &slo_url,
        clock_skew_seconds: service.settings.clock_skew_seconds,
    };
    let logout_url = match accept_logout_request(&rp, &facts, endpoint, now, &*context.store).await
    {
        Ok(logout_url) => logout_url,
        Err(refused) => return federation_refused(&refused),
    };
    let keys = match loaded_keys(service) {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    let written = MessageId::random().and_then(|id| {
        LogoutResponse {
            id,
            in_response_to: request.id.as_str().to_owned(),
            issue_instant: now,
            destination: logout_url.clone(),
            issuer: service.issuer_for(&rp, None),
            status: LogoutStatus::Success,
            second_level_status: None,
        }
        .redirect_query(received.relay_state(), &keys.signing)
    });
    let query = match written {
        Ok(query) => query,
        Err(error) => {
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                error.code(),
                &error.to_string(),
            )
        }
    };
    let separator = if logout_url.contains('?') { '&' } else { '?' };
    tracing::info!(relying_party = %rp.name, name_id = %request.name_id.value, "single logout answered");
    match HeaderValue::from_str(&format!("{logout_url}{separator}{query}")) {
        Ok(location) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        Err(_) => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "redirect-invalid",
            "certgate could not send you back to the application.",
        ),
    }
}

/// Posts a signed failure Response to the SP's (registered) ACS; `code` is the reason code
/// in the log.
#[allow(clippy::too_many_arguments)]
fn saml_failure(
    service: &FederationService,
    rp: &RelyingParty,
    request: &AuthnRequest,
    reply_url: &str,
    relay_state: Option<&str>,
    status: FailureStatus,
    code: &'static str,
    message: &str,
    now: UnixTime,
) -> Response {
    use base64::Engine as _;
    let keys = match loaded_keys(service) {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    tracing::info!(code, relying_party = %rp.name, ?status, message, "SAML request answered with a failure status");
    let written = MessageId::random().and_then(|id| {
        certgate_saml::Response {
            id,
            issuer: service.issuer_for(rp, None),
            destination: reply_url.to_owned(),
            in_response_to: Some(request.id.as_str().to_owned()),
            issue_instant: now,
        }
        .build_failure(status, message, &keys.signing)
    });
    match written {
        Ok(xml) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(xml.as_bytes());
            let mut fields = vec![("SAMLResponse", encoded.as_str())];
            if let Some(relay_state) = relay_state {
                fields.push(("RelayState", relay_state));
            }
            auto_post(reply_url, &fields)
        }
        Err(error) => refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            error.code(),
            &error.to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_kept_before_the_requested_authn_context_still_read() {
        let kept = r#"{"federation":{"protocol":"saml","relying_party":"rp_1","reply_url":"https://sp.test/acs","request_id":"_r1","relay_state":null,"wants_mfa":true,"relying_party_name":"SP"}}"#;
        let request = FederationRequest::of(kept).expect("readable");
        assert!(request.wants_mfa);
        assert_eq!(request.requested_authn_context, None);
        // Such a flow states the class as before: multipleauthn after a multi-factor sign-in.
        assert_eq!(
            saml_statement(&request, true).ok(),
            Some(AuthnContext::MultipleAuthn)
        );
        assert_eq!(
            saml_statement(&request, false).ok(),
            Some(AuthnContext::X509)
        );
    }

    #[test]
    fn the_requested_authn_context_survives_the_flow() {
        let request = FederationRequest {
            protocol: "saml".into(),
            relying_party: "rp_1".into(),
            reply_url: "https://sp.test/acs".into(),
            request_id: Some("_r1".into()),
            relay_state: None,
            wants_mfa: false,
            relying_party_name: "SP".into(),
            requested_authn_context: Some(RequestedClasses::of(&RequestedAuthnContext {
                comparison: AuthnContextComparison::Maximum,
                class_refs: vec!["urn:oasis:names:tc:SAML:2.0:ac:classes:X509".into()],
            })),
        };
        let read =
            FederationRequest::of(&request.serialize().expect("serialized")).expect("readable");
        assert_eq!(read, request);
        // A multi-factor sign-in is stated no stronger than asked.
        assert_eq!(saml_statement(&read, true).ok(), Some(AuthnContext::X509));
    }
}
