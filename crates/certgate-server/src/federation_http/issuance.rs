//! Token issuance at the end of a federation sign-in: `certgate_core::federation::issuance`
//! decides the token; here certgate-saml writes and signs it (a SAML Response or a WS-Fed
//! RSTR), and it is posted to the registered reply address.

use super::*;
use certgate_core::federation::{
    prepare_issuance, record_issuance, AuthnStatement, Issuance, IssuanceRefusal, IssuanceRequest,
    RequestedContext, TokenService,
};

/// The page of a token that is not issued.
fn issuance_refused(refused: &IssuanceRefusal) -> Response {
    refusal(
        status_of(refused.kind()),
        refused.code(),
        &refused.to_string(),
    )
}

/// What the flow kept of the SAML RequestedAuthnContext, as certgate-saml's class ordering
/// reads it for the issuance to decide.
pub(super) fn requested_context(request: &FederationRequest) -> RequestedContext {
    let Some(kept) = &request.requested_authn_context else {
        return RequestedContext::None;
    };
    let Some(requested) = kept.requested_authn_context() else {
        return RequestedContext::Unreadable;
    };
    let statement = |context: AuthnContext| match context {
        AuthnContext::X509 => AuthnStatement::X509,
        AuthnContext::TlsClient => AuthnStatement::TlsClient,
        AuthnContext::MultipleAuthn => AuthnStatement::MultipleAuthn,
        AuthnContext::PasswordProtectedTransport => AuthnStatement::PasswordProtectedTransport,
    };
    RequestedContext::Asked {
        after_multi_factor: requested.statement_for(true).map(statement),
        after_single_factor: requested.statement_for(false).map(statement),
        class_refs: kept.class_refs.join(", "),
        comparison: kept.comparison.clone(),
    }
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
    let keys = service.keys();
    let requested_authn_context = requested_context(request);
    let sign_in = IssuanceRequest {
        relying_party: &request.relying_party,
        reply_url: &request.reply_url,
        request_id: request.request_id.as_deref(),
        requested_authn_context: &requested_authn_context,
        identity,
        password_requested: request.wants_domain_password,
    };
    let token_service = TokenService {
        entity_id: &service.settings.entity_id,
        clock_skew_seconds: service.settings.clock_skew_seconds,
        signing_key: keys.as_deref().map(|keys| keys.thumbprint.as_str()),
    };
    let issuance = match prepare_issuance(store, &sign_in, &token_service, now).await {
        Ok(issuance) => issuance,
        Err(refused) => return issuance_refused(&refused),
    };
    // The issuance was decided with this key: it is loaded.
    let Some(keys) = keys else {
        return issuance_refused(&IssuanceRefusal::NoSigningKey);
    };
    let written = match issuance.relying_party.protocol {
        Protocol::Saml => saml_response(&keys, request, &issuance),
        Protocol::WsFed => wsfed_response(&keys, request, &issuance),
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
    // Fail closed: a token that cannot be recorded is not issued.
    if let Err(refused) = record_issuance(store, &issuance, &assertion_id, now).await {
        return issuance_refused(&refused);
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    auto_post(&issuance.recipient, &fields)
}

type Written = (Vec<(&'static str, String)>, String);

fn name_id_format(format: NameIdFormat) -> certgate_saml::NameIdFormat {
    match format {
        NameIdFormat::Persistent => certgate_saml::NameIdFormat::Persistent,
        NameIdFormat::EmailAddress => certgate_saml::NameIdFormat::EmailAddress,
        NameIdFormat::Unspecified => certgate_saml::NameIdFormat::Unspecified,
    }
}

fn validity(issuance: &Issuance) -> certgate_saml::Validity {
    certgate_saml::Validity {
        issue_instant: issuance.validity.issued_at,
        not_before: issuance.validity.not_before,
        not_on_or_after: issuance.validity.not_on_or_after,
    }
}

pub(super) fn saml_response(
    keys: &LoadedKeys,
    request: &FederationRequest,
    issuance: &Issuance,
) -> Result<Written, certgate_saml::SamlError> {
    use base64::Engine as _;
    use certgate_saml::{
        Assertion, Attribute, Authentication, ImmutableId, NameId, Response, ResponseSigning,
    };
    let name_id = if issuance.name_id.encode_immutable_id {
        ImmutableId::encode(&issuance.name_id.value)?
            .as_str()
            .to_owned()
    } else {
        issuance.name_id.value.clone()
    };
    let assertion_id = MessageId::random()?;
    let session_index = MessageId::random()?;
    let assertion = Assertion {
        id: assertion_id.clone(),
        issuer: issuance.issuer.clone(),
        name_id: NameId {
            format: name_id_format(issuance.name_id.format),
            value: name_id,
        },
        audience: issuance.audience().to_owned(),
        recipient: issuance.recipient.clone(),
        in_response_to: issuance.in_response_to.clone(),
        validity: validity(issuance),
        authentication: Authentication {
            authn_instant: issuance.authenticated_at,
            session_index: session_index.as_str().to_owned(),
            context: match issuance.authn_statement {
                AuthnStatement::X509 => AuthnContext::X509,
                AuthnStatement::TlsClient => AuthnContext::TlsClient,
                AuthnStatement::MultipleAuthn => AuthnContext::MultipleAuthn,
                // The issuance states a password only in these two forms: SAML 2.0 gets the
                // class, and a WS-Federation statement never reaches a SAML 2.0 assertion.
                AuthnStatement::PasswordProtectedTransport | AuthnStatement::Password => {
                    AuthnContext::PasswordProtectedTransport
                }
            },
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
        issuer: issuance.issuer.clone(),
        destination: issuance.recipient.clone(),
        in_response_to: issuance.in_response_to.clone(),
        issue_instant: issuance.validity.issued_at,
    };
    let signing = if issuance.relying_party.sign_response {
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
    keys: &LoadedKeys,
    request: &FederationRequest,
    issuance: &Issuance,
) -> Result<Written, certgate_saml::SamlError> {
    use certgate_saml::wsfed::{AuthenticationMethod, Claim, ClaimType, Saml11Assertion};
    use certgate_saml::NameId;
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
        issuer: issuance.issuer.clone(),
        name_identifier: NameId {
            format: name_id_format(issuance.name_id.format),
            value: issuance.name_id.value.clone(),
        },
        audience: issuance.audience().to_owned(),
        validity: validity(issuance),
        authentication_method: match issuance.authn_statement {
            AuthnStatement::MultipleAuthn => AuthenticationMethod::MultipleAuthn,
            AuthnStatement::Password | AuthnStatement::PasswordProtectedTransport => {
                AuthenticationMethod::Password
            }
            // The issuance states a WS-Federation sign-in as TLS client or multipleauthn only.
            AuthnStatement::TlsClient | AuthnStatement::X509 => AuthenticationMethod::TlsClient,
        },
        authentication_instant: issuance.authenticated_at,
        claims,
    };
    debug_assert_eq!(
        assertion.authentication_method.uri(),
        authentication_method(
            issuance.multi_factor,
            issuance.authn_statement == AuthnStatement::Password
        )
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
        assert_eq!(requested_context(&request), RequestedContext::None);
    }

    #[test]
    fn the_requested_authn_context_survives_the_flow() {
        let mut request = FederationRequest {
            protocol: "saml".into(),
            relying_party: "rp_1".into(),
            reply_url: "https://sp.test/acs".into(),
            request_id: Some("_r1".into()),
            relay_state: None,
            wants_mfa: false,
            relying_party_name: "SP".into(),
            wants_domain_password: false,
            domain_password_always: false,
            requested_authn_context: Some(RequestedClasses::of(&RequestedAuthnContext {
                comparison: AuthnContextComparison::Maximum,
                class_refs: vec!["urn:oasis:names:tc:SAML:2.0:ac:classes:X509".into()],
            })),
        };
        let read =
            FederationRequest::of(&request.serialize().expect("serialized")).expect("readable");
        assert_eq!(read, request);
        // A multi-factor sign-in is stated no stronger than asked.
        assert_eq!(
            requested_context(&read),
            RequestedContext::Asked {
                after_multi_factor: Some(AuthnStatement::X509),
                after_single_factor: Some(AuthnStatement::X509),
                class_refs: "urn:oasis:names:tc:SAML:2.0:ac:classes:X509".into(),
                comparison: "maximum".into(),
            }
        );
        // A comparison certgate did not write (a flow changed in the store) does not read.
        if let Some(kept) = &mut request.requested_authn_context {
            kept.comparison = "sideways".into();
        }
        assert_eq!(requested_context(&request), RequestedContext::Unreadable);
    }
}
