//! Token issuance at the end of a federation sign-in: the claims, the SAML Response or the
//! WS-Fed RSTR, signed, posted to the registered reply address.

use super::*;

/// Everything needed to write the token for a finished sign-in.
pub(super) struct Issuance {
    rp: RelyingParty,
    /// The user's UPN (for an issuer per UPN domain).
    upn: String,
    name_id: String,
    claims: Vec<certgate_core::federation::IssuedClaim>,
    multi_factor: bool,
    authenticated_at: UnixTime,
    certificate_serial: String,
}

pub(super) async fn prepare_issuance<S>(
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
pub(super) fn saml_statement(
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

pub(super) fn saml_response(
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

pub(super) fn wsfed_response(
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

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_saml::{AuthnContextComparison, RequestedAuthnContext};

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
