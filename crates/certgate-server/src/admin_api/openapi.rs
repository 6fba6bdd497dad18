//! The OpenAPI 3.1 document of the admin API: paths from the route table the router is built
//! from, schemas written out here beside the resources they describe. Checked in as
//! docs/openapi.json; the API tests fail when the two differ (`CERTGATE_UPDATE_GOLDEN=1`
//! rewrites the file) and check every answer against its schema's property names.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};

mod schemas_applications;
mod schemas_federation;
mod schemas_logs;
mod schemas_policy;
mod schemas_trust;
mod schemas_users;

use super::{Access, In, Route, ROUTES};

/// The response "schema" of `POST /users/{idOrUpn}/deviceProfiles`: not a JSON component but
/// a file in one of three media types ([`device_profile_content`]).
pub(super) const DEVICE_PROFILE_FILE: &str = "DeviceProfileFile";

/// The document, as served and checked in (pretty JSON, one trailing newline).
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&build())
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
        text.push('\n');
        text
    })
}

/// `GET /openapi.json`.
pub(super) async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}

fn build() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(route.method.as_str().to_ascii_lowercase(), operation(route));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "certgate admin API",
            "version": "1",
            "description": "Administers certgate: trusted CAs and their CRLs, users, username bindings, authentication-strength rules, OpenID Connect clients, the federation service's relying parties and token-signing keys, the sign-in and audit logs. Field names follow Microsoft Graph where Graph has the field. Authenticate with an admin token (`certgate admin token create --name NAME`, sent as `Authorization: Bearer ...`) or, on the certificate sign-in listener, with the client certificate of an enabled member of the group certgate-admins. Every change is recorded in the audit log under `api:<token name>` or `api:<UPN>`. Errors: `{\"error\": {\"code\": \"<stable certgate code>\", \"message\": \"...\"}}`.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"adminToken": []}, {"adminCertificate": []}],
        "tags": [
            {"name": "certificateAuthorities", "description": "Trusted CAs (Get/New/Set/Remove-AzureADTrustedCertificateAuthority)."},
            {"name": "crl", "description": "The CRL cache of the trusted CAs."},
            {"name": "pki", "description": "certgate's own CA: the certificates it issued, revocation, its CRLs."},
            {"name": "users", "description": "The directory."},
            {"name": "bindings", "description": "Username bindings: which user a certificate signs in as."},
            {"name": "strength", "description": "Authentication strength: single- or multi-factor."},
            {"name": "applications", "description": "OpenID Connect clients."},
            {"name": "federation", "description": "The federation service (SAML 2.0 and WS-Federation): relying parties and token-signing keys."},
            {"name": "logs", "description": "The sign-in log and the audit log."},
            {"name": "meta", "description": "This document."}
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `certgate admin token create --name NAME` (shown once; revoke with `certgate admin token revoke NAME`)."
                },
                "adminCertificate": {
                    "type": "mutualTLS",
                    "description": "On the certificate sign-in listener: a client certificate that validates, maps to one enabled user by the binding rules, and that user is in the group certgate-admins. Recorded in the sign-in log as application admin-api."
                }
            },
            "responses": responses(),
            "schemas": schemas(),
        }
    })
}

fn operation(route: &Route) -> Value {
    let mut operation = Map::new();
    operation.insert("operationId".into(), json!(route.operation_id));
    operation.insert("tags".into(), json!([route.tag]));
    operation.insert("summary".into(), json!(route.summary));
    if route.access == Access::Public {
        operation.insert("security".into(), json!([]));
    }
    if !route.parameters.is_empty() {
        let parameters: Vec<Value> = route
            .parameters
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "in": match p.location { In::Path => "path", In::Query => "query" },
                    "required": p.location == In::Path,
                    "description": p.description,
                    "schema": {"type": p.schema},
                })
            })
            .collect();
        operation.insert("parameters".into(), Value::Array(parameters));
    }
    if let Some(schema) = route.request {
        operation.insert(
            "requestBody".into(),
            json!({
                "required": true,
                "content": {"application/json": {"schema": reference(schema)}}
            }),
        );
    }
    let (status, schema) = route.response;
    let mut responses = Map::new();
    let content = if schema == DEVICE_PROFILE_FILE {
        device_profile_content()
    } else {
        json!({"application/json": {"schema": reference(schema)}})
    };
    let mut response = json!({
        "description": if status == 201 { "Created." } else { "OK." },
        "content": content,
    });
    if schema == DEVICE_PROFILE_FILE {
        response["headers"] = json!({
            "Content-Disposition": {"description": "`attachment; filename=\"<upn>.mobileconfig|.json|.p12\"`.", "schema": {"type": "string"}},
            "X-Certgate-Certificate-Serial": {"description": "The issued certificate's serial number (hex), for `certgate pki revoke --serial`.", "schema": {"type": "string"}},
        });
    }
    responses.insert(status.to_string(), response);
    let mut errors: Vec<u16> = route.errors.to_vec();
    if route.access == Access::Admin {
        errors.extend([401, 403, 503]);
    }
    errors.sort_unstable();
    errors.dedup();
    for status in errors {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/{}", response_name(status))}),
        );
    }
    operation.insert("responses".into(), Value::Object(responses));
    Value::Object(operation)
}

/// The device file, by platform.
fn device_profile_content() -> Value {
    json!({
        "application/x-apple-aspen-config": {"schema": {
            "type": "string",
            "contentMediaType": "application/x-apple-aspen-config",
            "description": "platform ios: an Apple configuration profile (XML plist) with a com.apple.security.pkcs12 payload and a com.apple.eas.account payload that uses it; with `sign`, DER CMS SignedData (RFC 5652) around the plist, signed by certgate's issuing CA."
        }},
        "application/json": {"schema": reference("AndroidDeviceProfile")},
        "application/x-pkcs12": {"schema": {
            "type": "string",
            "contentMediaType": "application/x-pkcs12",
            "description": "platform pkcs12: the PKCS#12 file (3DES and HMAC-SHA1, which devices import)."
        }}
    })
}

fn response_name(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        _ => "Unavailable",
    }
}

fn responses() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": reference("Error")}}
        })
    };
    let mut unauthorized = error("No credentials (`admin-credentials-missing`), a wrong or revoked token (`admin-token-invalid`, `admin-token-revoked`), or a client certificate that does not identify anyone (its sign-in reason code: `cert-revoked`, `binding-not-found`, ...).");
    unauthorized["headers"] = json!({
        "WWW-Authenticate": {
            "description": "`Bearer realm=\"certgate\"` (RFC 6750 §3), with `error=\"invalid_token\"` for a wrong token.",
            "schema": {"type": "string"}
        }
    });
    json!({
        "BadRequest": error("The request is not acceptable; the code says why (`request-body-invalid`, `ca-not-a-ca`, `user-upn-invalid`, ...)."),
        "Unauthorized": unauthorized,
        "Forbidden": error("Authenticated, but not an administrator (`admin-group-missing`, `user-disabled`), or a change made with a client certificate from another site's page (`admin-cross-site-request`)."),
        "NotFound": error("No such resource: `ca-not-found`, `user-not-found`, `binding-rule-not-found`, `strength-rule-not-found`, `application-not-found`, `rp-not-found`."),
        "Conflict": error("A unique value is taken: `ca-duplicate`, `user-upn-taken`, `binding-priority-taken`, `strength-rule-duplicate`, `application-id-taken`, `rp-taken`, ..."),
        "Unavailable": error("The database (`store-unavailable`), the OpenID Connect provider (`applications-unavailable`), the key passphrase (`federation-keys-unavailable`) or certgate's CA (`device-provisioning-unavailable`, `pki-unavailable`, `pki-not-initialised`) is not available."),
    })
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A schema of type `ty`, with a description when there is one.
fn typed(mut schema: Value, description: &str) -> Value {
    if !description.is_empty() {
        schema["description"] = json!(description);
    }
    schema
}

fn string(description: &str) -> Value {
    typed(json!({"type": "string"}), description)
}

fn nullable(description: &str) -> Value {
    typed(json!({"type": ["string", "null"]}), description)
}

fn time(description: &str) -> Value {
    typed(
        json!({"type": "string", "format": "date-time"}),
        description,
    )
}

fn nullable_time(description: &str) -> Value {
    typed(
        json!({"type": ["string", "null"], "format": "date-time"}),
        description,
    )
}

fn integer(description: &str) -> Value {
    typed(json!({"type": "integer"}), description)
}

fn boolean(description: &str) -> Value {
    typed(json!({"type": "boolean"}), description)
}

fn strings(description: &str) -> Value {
    typed(
        json!({"type": "array", "items": {"type": "string"}}),
        description,
    )
}

fn one_of(values: &[&str], description: &str) -> Value {
    typed(json!({"type": "string", "enum": values}), description)
}

/// A resource the server writes: every property is always present (`null` when empty).
fn resource(description: &str, properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    typed(
        json!({
            "type": "object",
            "required": required,
            "properties": properties,
        }),
        description,
    )
}

/// A request body: only `required` must be there; anything unknown is refused.
fn request(description: &str, required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "description": description,
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    })
}

fn collection(item: &str) -> Value {
    json!({
        "type": "object",
        "description": format!("A list of {item} (Graph's collection shape)."),
        "required": ["value"],
        "properties": {"value": {"type": "array", "items": reference(item)}},
    })
}

fn schemas() -> Value {
    let mut schemas = json!({
        "Error": {
            "type": "object",
            "description": "Graph's error shape with certgate's stable reason code.",
            "required": ["error"],
            "properties": {
                "error": resource("", json!({
                    "code": string("Stable reason code, e.g. ca-duplicate, user-not-found, admin-token-invalid."),
                    "message": string("What happened and what to do, for people."),
                }))
            }
        },
        "OpenApiDocument": {"type": "object", "description": "This document."},
    });
    for family in [
        schemas_trust::schemas(),
        schemas_users::schemas(),
        schemas_policy::schemas(),
        schemas_applications::schemas(),
        schemas_logs::schemas(),
        schemas_federation::schemas(),
        schemas_users::second_factor_schemas(),
        schemas_trust::own_ca_schemas(),
    ] {
        if let (Value::Object(all), Value::Object(family)) = (&mut schemas, family) {
            all.extend(family);
        }
    }
    for item in [
        "CertificateAuthority",
        "CrlStatus",
        "CrlRefreshReport",
        "IssuedCertificate",
        "PublishedCrl",
        "User",
        "Application",
        "RelyingParty",
        "TokenSigningKey",
        "SignIn",
        "DirectoryAudit",
    ] {
        schemas[format!("{item}Collection")] = collection(item);
    }
    schemas
}
