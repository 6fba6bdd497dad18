//! `/certificateUserBindings` and `/authenticationModeRules`: which user a certificate signs
//! in as, and whether the sign-in is single- or multi-factor.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use certgate_core::binding::{
    add_binding_rule, binding_policy, remove_binding_rule, set_default_required_affinity,
};
use certgate_core::directory::{Affinity, CertificateField, UserAttribute};
use certgate_core::strength::{
    add_strength_rule, remove_strength_rule, strength_rules, IssuerSelector, Strength,
    StrengthRuleError, StrengthRuleId, StrengthRuleSpec,
};

use super::extract::{body, Body};
use super::resource::{
    AuthenticationModeRule, AuthenticationModeRules, CertificateUserBinding,
    CertificateUserBindings, CertificateUserBindingsPatch, NewAuthenticationModeRule,
    NewCertificateUserBinding,
};
use super::route::{Access, HttpMethod, In, Operation, Parameter, Route};
use super::{Admin, AdminStore, ApiError, Context};

const PRIORITY: Parameter = Parameter {
    name: "priority",
    location: In::Path,
    schema: "integer",
    description: "The binding rule's priority.",
};
const RULE_ID: Parameter = Parameter {
    name: "id",
    location: In::Path,
    schema: "integer",
    description: "The rule's id.",
};

/// The routes of the binding and strength rules, in the OpenAPI document's order.
pub(super) const ROUTES: &[Route] = &[
    Route {
        method: HttpMethod::Get,
        path: "/certificateUserBindings",
        operation: Operation::ListCertificateUserBindings,
        access: Access::Admin,
        operation_id: "listCertificateUserBindings",
        tag: "bindings",
        summary: "The username-binding rules in the order they are tried, and the required affinity.",
        parameters: &[],
        request: None,
        response: (200, "CertificateUserBindings"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/certificateUserBindings",
        operation: Operation::AddCertificateUserBinding,
        access: Access::Admin,
        operation_id: "addCertificateUserBinding",
        tag: "bindings",
        summary: "Add a binding rule; the first configured rule replaces the defaults. Refusals: binding-rule-invalid (400), binding-priority-taken (409).",
        parameters: &[],
        request: Some("NewCertificateUserBinding"),
        response: (201, "CertificateUserBinding"),
        errors: &[400, 409],
    },
    Route {
        method: HttpMethod::Patch,
        path: "/certificateUserBindings",
        operation: Operation::UpdateCertificateUserBindings,
        access: Access::Admin,
        operation_id: "updateCertificateUserBindings",
        tag: "bindings",
        summary: "Set the required affinity (low or high).",
        parameters: &[],
        request: Some("CertificateUserBindingsPatch"),
        response: (200, "CertificateUserBindings"),
        errors: &[400],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/certificateUserBindings/{priority}",
        operation: Operation::RemoveCertificateUserBinding,
        access: Access::Admin,
        operation_id: "removeCertificateUserBinding",
        tag: "bindings",
        summary: "Remove the binding rule with this priority (binding-rule-not-found); answers with the removed rule.",
        parameters: &[PRIORITY],
        request: None,
        response: (200, "CertificateUserBinding"),
        errors: &[404],
    },
    Route {
        method: HttpMethod::Get,
        path: "/authenticationModeRules",
        operation: Operation::ListAuthenticationModeRules,
        access: Access::Admin,
        operation_id: "listAuthenticationModeRules",
        tag: "strength",
        summary: "The authentication-strength rules (single- or multi-factor by issuer and policy OID).",
        parameters: &[],
        request: None,
        response: (200, "AuthenticationModeRules"),
        errors: &[],
    },
    Route {
        method: HttpMethod::Post,
        path: "/authenticationModeRules",
        operation: Operation::AddAuthenticationModeRule,
        access: Access::Admin,
        operation_id: "addAuthenticationModeRule",
        tag: "strength",
        summary: "Add a rule by issuer, policy OID or both. Refusals: strength-rule-empty, strength-issuer-invalid, strength-policy-oid-invalid, strength-mode-invalid (400), strength-rule-duplicate (409).",
        parameters: &[],
        request: Some("NewAuthenticationModeRule"),
        response: (201, "AuthenticationModeRule"),
        errors: &[400, 409],
    },
    Route {
        method: HttpMethod::Delete,
        path: "/authenticationModeRules/{id}",
        operation: Operation::RemoveAuthenticationModeRule,
        access: Access::Admin,
        operation_id: "removeAuthenticationModeRule",
        tag: "strength",
        summary: "Remove a rule (strength-rule-not-found); answers with the removed rule.",
        parameters: &[RULE_ID],
        request: None,
        response: (200, "AuthenticationModeRule"),
        errors: &[404],
    },
];

fn one_of<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> String {
    all.iter().map(|t| name(*t)).collect::<Vec<_>>().join(", ")
}

pub(super) async fn list_bindings<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
) -> Result<Json<CertificateUserBindings>, ApiError> {
    let policy = binding_policy(&*context.store).await?;
    Ok(Json((&policy).into()))
}

pub(super) async fn add_binding<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    new: Body<NewCertificateUserBinding>,
) -> Result<(StatusCode, Json<CertificateUserBinding>), ApiError> {
    let new = body(new)?;
    let field = CertificateField::parse(&new.x509_certificate_field).ok_or_else(|| {
        ApiError::bad_request(
            "binding-field-invalid",
            format!(
                "x509CertificateField \"{}\" is not one of {}",
                new.x509_certificate_field,
                one_of(&CertificateField::ALL, CertificateField::as_str)
            ),
        )
    })?;
    let attribute = UserAttribute::parse(&new.user_property).ok_or_else(|| {
        ApiError::bad_request(
            "binding-attribute-invalid",
            format!(
                "userProperty \"{}\" is not one of {}",
                new.user_property,
                one_of(&UserAttribute::ALL, UserAttribute::as_str)
            ),
        )
    })?;
    let rule = add_binding_rule(
        &*context.store,
        field,
        attribute,
        new.priority,
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    context.changed().await;
    Ok((StatusCode::CREATED, Json((&rule).into())))
}

pub(super) async fn update_bindings<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    patch: Body<CertificateUserBindingsPatch>,
) -> Result<Json<CertificateUserBindings>, ApiError> {
    let patch = body(patch)?;
    let level = &patch.x509_certificate_default_required_affinity_level;
    let affinity = Affinity::parse(level).ok_or_else(|| {
        ApiError::bad_request(
            "binding-affinity-invalid",
            format!("x509CertificateDefaultRequiredAffinityLevel \"{level}\" is not low or high"),
        )
    })?;
    set_default_required_affinity(
        &*context.store,
        affinity,
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    context.changed().await;
    let policy = binding_policy(&*context.store).await?;
    Ok(Json((&policy).into()))
}

pub(super) async fn remove_binding<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(priority): Path<String>,
) -> Result<Json<CertificateUserBinding>, ApiError> {
    let priority = priority.parse::<u32>().map_err(|_| {
        ApiError::not_found(
            "binding-rule-not-found",
            format!("\"{priority}\" is not a binding rule's priority (a positive integer)"),
        )
    })?;
    let rule = remove_binding_rule(
        &*context.store,
        priority,
        context.clock.now(),
        admin.actor(),
    )
    .await?;
    context.changed().await;
    Ok(Json((&rule).into()))
}

pub(super) async fn list_strength<S: AdminStore>(
    State(context): State<Context<S>>,
    _admin: Admin,
) -> Result<Json<AuthenticationModeRules>, ApiError> {
    let rules = strength_rules(&*context.store).await?;
    Ok(Json(AuthenticationModeRules {
        x509_certificate_authentication_default_mode: Strength::SingleFactor
            .graph_name()
            .to_owned(),
        value: rules.iter().map(Into::into).collect(),
    }))
}

pub(super) async fn add_strength<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    new: Body<NewAuthenticationModeRule>,
) -> Result<(StatusCode, Json<AuthenticationModeRule>), ApiError> {
    let new = body(new)?;
    let issuer = match (&new.issuer_subject_identifier, &new.issuer_subject_key_identifier) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "strength-issuer-invalid",
                "give the issuer by issuerSubjectIdentifier (its DN) or by issuerSubjectKeyIdentifier (hex), not both",
            ))
        }
        (Some(dn), None) if !dn.contains('=') => {
            return Err(StrengthRuleError::IssuerInvalid { text: dn.clone() }.into())
        }
        (Some(text), None) | (None, Some(text)) => Some(IssuerSelector::parse(text)?),
        (None, None) => None,
    };
    if let (Some(ski), Some(IssuerSelector::Subject(_))) =
        (&new.issuer_subject_key_identifier, &issuer)
    {
        return Err(StrengthRuleError::IssuerInvalid { text: ski.clone() }.into());
    }
    let strength = Strength::parse(&new.x509_certificate_authentication_mode).ok_or_else(|| {
        ApiError::bad_request(
            "strength-mode-invalid",
            format!(
                "x509CertificateAuthenticationMode \"{}\" is not x509CertificateSingleFactor or x509CertificateMultiFactor",
                new.x509_certificate_authentication_mode
            ),
        )
    })?;
    let spec = StrengthRuleSpec {
        issuer,
        policy_oid: new.policy_oid_identifier.map(|oid| oid.trim().to_owned()),
        strength,
    };
    let rule = add_strength_rule(&*context.store, spec, context.clock.now(), admin.actor()).await?;
    context.changed().await;
    Ok((StatusCode::CREATED, Json((&rule).into())))
}

pub(super) async fn remove_strength<S: AdminStore>(
    State(context): State<Context<S>>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<AuthenticationModeRule>, ApiError> {
    let id = id.parse::<i64>().map(StrengthRuleId).map_err(|_| {
        ApiError::not_found(
            "strength-rule-not-found",
            format!("\"{id}\" is not a strength rule's id (an integer)"),
        )
    })?;
    let rule =
        remove_strength_rule(&*context.store, id, context.clock.now(), admin.actor()).await?;
    context.changed().await;
    Ok(Json((&rule).into()))
}
