//! The OpenAPI 3.1 document of the admin API: paths from the route table the router is built
//! from, schemas written out here beside the resources they describe. Checked in as
//! docs/openapi.json; the API tests fail when the two differ (`CERTGATE_UPDATE_GOLDEN=1`
//! rewrites the file) and check every answer against its schema's property names.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};

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

const FIELDS: [&str; 7] = [
    "PrincipalName",
    "RFC822Name",
    "Subject",
    "IssuerAndSubject",
    "IssuerAndSerialNumber",
    "SubjectKeyIdentifier",
    "SHA1PublicKey",
];
const PROPERTIES: [&str; 3] = ["userPrincipalName", "proxyAddresses", "certificateUserIds"];
const PROTOCOLS: [&str; 2] = ["saml", "wsfed"];
const NAME_ID_FORMATS: [&str; 3] = ["persistent", "email", "unspecified"];
const PASSWORD_REQUESTS: [&str; 2] = ["refuse", "fresh-certificate"];
const CLAIM_SOURCES: &str = "user.upn, user.mail, user.immutableId, user.objectId, user.displayName, user.groups, user.proxyAddresses, certificate.issuer, certificate.subject, certificate.serialNumber, certificate.notBefore, certificate.notAfter, certificate.rawData, certificate.eku, certificate.san, certificate.subjectKeyIdentifier, certificate.thumbprint, auth.method, auth.methodsReferences, auth.instant, or const:VALUE.";
const MODES: [&str; 2] = ["x509CertificateSingleFactor", "x509CertificateMultiFactor"];

fn schemas() -> Value {
    let application = json!({
        "appId": string("The client_id."),
        "displayName": string(""),
        "clientType": one_of(&["confidential", "public"], "confidential: has a secret; public: no secret, PKCE S256 required."),
        "redirectUris": strings("Compared as exact strings."),
        "postLogoutRedirectUris": strings(""),
        "consentPrompt": one_of(&["show", "skip"], "Whether the \"continue as <user>\" page is shown."),
        "allowedScopes": strings(""),
        "idTokenLifetimeSeconds": integer(""),
        "accessTokenLifetimeSeconds": integer(""),
        "refreshTokenLifetimeSeconds": integer("Counted from the sign-in; rotation does not extend it."),
        "createdDateTime": time(""),
    });
    let mut created_application = application.clone();
    created_application["clientSecret"] = nullable(
        "The secret of a confidential client: shown in this answer only, never again (certgate keeps its SHA-256).",
    );
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
        "CertificateAuthority": resource("A trusted CA: Graph's certificateAuthority plus certgate's fields.", json!({
            "id": integer(""),
            "displayName": string(""),
            "isRootAuthority": boolean("A trust anchor (true) or an intermediate used to build paths (false)."),
            "certificate": {"type": "string", "contentEncoding": "base64", "description": "The DER certificate."},
            "certificateRevocationListUrl": nullable("http(s) URL of the base CRL."),
            "deltaCertificateRevocationListUrl": nullable("http(s) URL of the delta CRL."),
            "issuer": string("The CA's subject DN (Windows form)."),
            "issuerSki": nullable("The CA's subjectKeyIdentifier, lowercase hex."),
            "isExemptFromCrlValidation": boolean("Certificates from this CA may have an unknown revocation status."),
            "isIssuerHintEnabled": boolean("Named in the TLS CertificateRequest."),
            "sha256Thumbprint": string(""),
            "notBefore": time(""),
            "notAfter": time(""),
            "createdDateTime": time(""),
        })),
        "NewCertificateAuthority": request("A CA to trust.", &["certificate"], json!({
            "certificate": {"type": "string", "contentEncoding": "base64", "description": "A DER or PEM certificate, or a PKCS#7 (.p7b) bundle whose CAs are added together or not at all."},
            "isRootAuthority": boolean("Default: true for a self-signed certificate."),
            "certificateRevocationListUrl": string("Only for a single certificate."),
            "deltaCertificateRevocationListUrl": string("Needs certificateRevocationListUrl."),
            "displayName": string("Default: the CA's subject."),
            "isExemptFromCrlValidation": boolean("Default false. Weakens revocation: only for CAs that publish no CRL."),
            "isIssuerHintEnabled": boolean("Default true."),
        })),
        "CertificateAuthorityPatch": request("Changes to a trusted CA; absent fields stay.", &[], json!({
            "displayName": string(""),
            "isRootAuthority": boolean(""),
            "certificateRevocationListUrl": nullable("null removes it."),
            "deltaCertificateRevocationListUrl": nullable("null removes it."),
            "isExemptFromCrlValidation": boolean(""),
            "isIssuerHintEnabled": boolean(""),
        })),
        "CachedCrl": resource("The CRL in the cache.", json!({
            "crlNumber": string("Hex."),
            "thisUpdate": time(""),
            "nextUpdate": time(""),
            "entries": integer(""),
            "bytes": integer(""),
            "fetchedAt": time(""),
            "etag": nullable(""),
            "lastModified": nullable(""),
        })),
        "CrlStatus": resource("One CA's base or delta CRL.", json!({
            "caId": integer(""),
            "ca": string("The CA's display name."),
            "kind": one_of(&["base", "delta"], ""),
            "url": string(""),
            "cached": {"oneOf": [reference("CachedCrl"), {"type": "null"}], "description": "null: nothing cached, certificates from this CA fail with crl-unavailable."},
            "lastAttempt": nullable_time(""),
            "lastSuccess": nullable_time(""),
            "lastErrorCode": nullable("e.g. crl-fetch-timeout, crl-signature-invalid."),
            "lastError": nullable(""),
            "consecutiveFailures": integer(""),
            "nextAttempt": nullable_time(""),
        })),
        "CrlRefreshReport": resource("What one download did.", json!({
            "caId": integer(""),
            "kind": one_of(&["base", "delta"], ""),
            "url": string(""),
            "outcome": one_of(&["updated", "not-modified", "unchanged", "failed"], ""),
            "code": nullable("The refusal code when it failed."),
            "detail": string(""),
        })),
        "AuthorizationInfo": {
            "type": "object",
            "required": ["certificateUserIds"],
            "additionalProperties": false,
            "properties": {"certificateUserIds": strings("Up to 10 X509:<...> values, unique across users.")}
        },
        "User": resource("A user: Graph's user plus certgate's groups.", json!({
            "id": string("Object ID (UUID)."),
            "userPrincipalName": string(""),
            "onPremisesImmutableId": string(""),
            "displayName": string(""),
            "mail": nullable(""),
            "proxyAddresses": strings("SMTP:primary@domain, smtp:alias@domain, ..."),
            "authorizationInfo": reference("AuthorizationInfo"),
            "accountEnabled": boolean(""),
            "signInSessionsValidFromDateTime": nullable_time("StsRefreshTokensValidFrom: refresh tokens and sessions from before are refused."),
            "groups": strings("certgate-admins may use the admin API with a client certificate."),
            "createdDateTime": time(""),
        })),
        "NewUser": request("A user to add.", &["userPrincipalName"], json!({
            "userPrincipalName": string(""),
            "displayName": string("Default: the UPN."),
            "mail": string(""),
            "onPremisesImmutableId": string("Default: the object ID."),
            "proxyAddresses": strings(""),
            "authorizationInfo": reference("AuthorizationInfo"),
            "accountEnabled": boolean("Default true."),
            "groups": strings(""),
        })),
        "UserPatch": request("Changes to a user; absent fields stay, lists are replaced whole.", &[], json!({
            "userPrincipalName": string(""),
            "displayName": string(""),
            "mail": nullable("null removes it."),
            "onPremisesImmutableId": string(""),
            "proxyAddresses": strings(""),
            "authorizationInfo": reference("AuthorizationInfo"),
            "accountEnabled": boolean(""),
            "groups": strings(""),
        })),
        "NewDeviceProfile": request("A new certificate for the user, packed for a device.", &["platform", "pkcs12Password"], json!({
            "platform": one_of(&["ios", "android", "pkcs12"], "ios: Apple configuration profile; android: certgate's JSON profile for Android / MDM import; pkcs12: the PKCS#12 alone."),
            "easHost": string("The Exchange ActiveSync host name the device connects to (required for ios and android; no scheme or path)."),
            "pkcs12Password": string("Protects the PKCS#12 in the file; at least 8 characters."),
            "embedPassword": boolean("Write the password into the profile (default false: the device asks for it). The file then protects the key no better than the channel it travels over."),
            "sign": boolean("Sign the iOS profile with certgate's issuing CA (default false)."),
        })),
        "AndroidDeviceProfile": {
            "type": "object",
            "description": "certgate's Exchange ActiveSync profile for Android and MDM import.",
            "required": ["type", "version", "displayName", "organization", "host", "ssl", "user", "email", "authentication", "mailDaysToSync", "certificate"],
            "properties": {
                "type": one_of(&["exchange-activesync"], ""),
                "version": integer("1."),
                "displayName": string(""),
                "organization": string(""),
                "host": string("The Exchange ActiveSync host name."),
                "ssl": boolean("Always true."),
                "user": string("The user name: the UPN."),
                "email": string("The user's mail, or the UPN when there is none."),
                "authentication": one_of(&["client-certificate"], ""),
                "mailDaysToSync": integer("Days of mail synchronised at first."),
                "certificate": {
                    "type": "object",
                    "required": ["alias", "format", "pkcs12", "serialNumber", "notAfter"],
                    "properties": {
                        "alias": string("The key-chain alias the account uses."),
                        "format": one_of(&["pkcs12"], ""),
                        "pkcs12": string("The PKCS#12, base64 (RFC 4648 §4)."),
                        "password": string("Present only when embedPassword was set."),
                        "serialNumber": string("Hex."),
                        "notAfter": time(""),
                    }
                }
            }
        },
        "StsRefreshTokensValidFrom": request("Set-MsolUser -StsRefreshTokensValidFrom.", &["date"], json!({
            "date": string("RFC 3339 or YYYY-MM-DD; must be in the future, and then the current time is stored."),
        })),
        "CertificateUserBinding": resource("A username-binding rule (Graph's x509CertificateUserBinding with its priority).", json!({
            "priority": integer("1 is tried first."),
            "x509CertificateField": one_of(&FIELDS, ""),
            "userProperty": one_of(&PROPERTIES, ""),
            "trustAffinityLevel": one_of(&["low", "high"], "Fixed by the field."),
        })),
        "CertificateUserBindings": resource("The rules in force (the defaults while none is configured).", json!({
            "certificateUserBindings": {"type": "array", "items": reference("CertificateUserBinding")},
            "usesDefaultBindings": boolean(""),
            "x509CertificateDefaultRequiredAffinityLevel": one_of(&["low", "high"], "high: low-affinity rules are skipped."),
        })),
        "NewCertificateUserBinding": request("A binding rule to add.", &["x509CertificateField", "userProperty"], json!({
            "x509CertificateField": one_of(&FIELDS, ""),
            "userProperty": one_of(&PROPERTIES, ""),
            "priority": integer("Default: after the last configured rule."),
        })),
        "CertificateUserBindingsPatch": request("The required affinity.", &["x509CertificateDefaultRequiredAffinityLevel"], json!({
            "x509CertificateDefaultRequiredAffinityLevel": one_of(&["low", "high"], ""),
        })),
        "AuthenticationModeRule": resource("An authentication-strength rule (Graph's x509CertificateRule).", json!({
            "id": integer(""),
            "x509CertificateRuleType": one_of(&["issuerSubjectAndPolicyOID", "policyOID", "issuerSubject"], "Precedence, most specific first."),
            "identifier": nullable(""),
            "issuerSubjectIdentifier": nullable("Issuer DN."),
            "issuerSubjectKeyIdentifier": nullable("Issuer subject key identifier, hex."),
            "policyOidIdentifier": nullable(""),
            "x509CertificateAuthenticationMode": one_of(&MODES, ""),
            "createdDateTime": time(""),
        })),
        "AuthenticationModeRules": resource("Graph's authenticationModeConfiguration.", json!({
            "x509CertificateAuthenticationDefaultMode": one_of(&MODES[..1], "No matching rule, or rules that disagree: single-factor."),
            "value": {"type": "array", "items": reference("AuthenticationModeRule")},
        })),
        "NewAuthenticationModeRule": request("A strength rule: an issuer (by DN or key identifier), a policy OID, or both.", &["x509CertificateAuthenticationMode"], json!({
            "issuerSubjectIdentifier": string("Issuer DN as certificateAuthorities[].issuer shows it."),
            "issuerSubjectKeyIdentifier": string("Hex."),
            "policyOidIdentifier": string("Dotted OID."),
            "x509CertificateAuthenticationMode": one_of(&["x509CertificateSingleFactor", "x509CertificateMultiFactor", "single-factor", "multi-factor"], ""),
        })),
        "Application": resource("A registered OpenID Connect client.", application),
        "CreatedApplication": resource("A client just registered, with its secret.", created_application),
        "NewApplication": request("A client to register.", &["displayName", "redirectUris"], json!({
            "appId": string("Default: a random UUID. 1 to 128 of A-Z a-z 0-9 - . _ ~ :"),
            "displayName": string(""),
            "clientType": one_of(&["confidential", "public"], "Default confidential."),
            "redirectUris": strings("https, or http on a loopback host; private-use schemes for public clients."),
            "postLogoutRedirectUris": strings(""),
            "consentPrompt": one_of(&["show", "skip"], "Default show."),
            "allowedScopes": strings("Must include openid. Default: openid profile email offline_access."),
            "idTokenLifetimeSeconds": integer("Default 3600."),
            "accessTokenLifetimeSeconds": integer("Default 3600."),
            "refreshTokenLifetimeSeconds": integer("Default 604800."),
        })),
        "SignIn": resource("One sign-in attempt.", json!({
            "createdDateTime": time(""),
            "correlationId": string(""),
            "ipAddress": string(""),
            "appDisplayName": string("certauth, an OIDC client, admin-api, ..."),
            "userPrincipalName": nullable(""),
            "result": one_of(&["success", "failure"], ""),
            "reasonCode": string("ok or the stable reason code."),
            "detail": string(""),
            "certificateSubject": nullable(""),
            "certificateIssuer": nullable(""),
            "certificateSerialNumber": nullable("Hex."),
            "certificateThumbprint": nullable("SHA-256, hex."),
            "bindingRule": nullable("e.g. PrincipalName->userPrincipalName."),
            "authenticationStrength": nullable("single-factor or multi-factor."),
        })),
        "DirectoryAudit": resource("One audit event (Graph's directoryAudit names).", json!({
            "activityDateTime": time(""),
            "initiatedBy": string("cli:<user>, api:<token name>, api:<UPN>, server, scheduler, ..."),
            "activityDisplayName": string("ca.add, user.set, binding.remove, ..."),
            "target": string(""),
            "result": one_of(&["success", "failure"], ""),
            "resultReason": string("ok or the reason code."),
            "detail": string(""),
        })),
    });
    if let (Value::Object(all), Value::Object(federation)) = (&mut schemas, federation_schemas()) {
        all.extend(federation);
    }
    if let (Value::Object(all), Value::Object(second_factor)) =
        (&mut schemas, second_factor_schemas())
    {
        all.extend(second_factor);
    }
    if let (Value::Object(all), Value::Object(own_ca)) = (&mut schemas, own_ca_schemas()) {
        all.extend(own_ca);
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

/// certgate's own CA: issued certificates, revocation, published CRLs.
fn own_ca_schemas() -> Value {
    json!({
        "IssuedCertificate": resource("A certificate certgate's own CA issued, with its status now.", json!({
            "serial": string("Hex."),
            "upn": string(""),
            "email": nullable(""),
            "subject": string(""),
            "notBefore": time(""),
            "notAfter": time(""),
            "status": one_of(&["valid", "expired", "revoked"], ""),
            "revokedAt": nullable_time(""),
            "revocationReason": nullable("RFC 5280 reason name, e.g. keyCompromise."),
            "parentSerial": nullable("The certificate it was issued on the strength of (EST re-enrollment, /my/device); revoking that one revokes this one."),
            "parentIssuer": nullable(""),
        })),
        "RevocationRequest": request("Why the certificate is revoked.", &["reason"], json!({
            "reason": one_of(&["keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "privilegeWithdrawn", "unspecified"], "RFC 5280 reason name."),
        })),
        "CertificateRevocation": resource("What a revocation did.", json!({
            "certificate": reference("IssuedCertificate"),
            "revokedNow": boolean("false: the certificate was revoked before (its first revocation stands) and only descendants were revoked now."),
            "descendants": {"type": "array", "items": reference("IssuedCertificate"), "description": "Certificates issued on its strength, and theirs, revoked now; parents before children."},
        })),
        "PublishedCrl": resource("A CRL certgate's own CA published.", json!({
            "ca": one_of(&["root", "issuing"], "Which of certgate's CAs signed it."),
            "kind": one_of(&["base", "delta"], ""),
            "crlNumber": integer(""),
            "baseCrlNumber": {"type": ["integer", "null"], "description": "For a delta CRL, the base it applies to."},
            "thisUpdate": time(""),
            "nextUpdate": time(""),
            "entries": integer(""),
            "url": string("Where relying parties fetch it."),
        })),
    })
}

/// The Temporary Access Pass and second-factor reset schemas (Graph's
/// temporaryAccessPassAuthenticationMethod field names).
fn second_factor_schemas() -> Value {
    json!({
        "NewAccessPass": request("A Temporary Access Pass to issue; it replaces any earlier one.", &[], json!({
            "lifetimeInMinutes": integer("10 to 480; default 60."),
        })),
        "AccessPass": resource("A Temporary Access Pass, shown only in this answer: certgate keeps its hash. One use; it unlocks the user's first authenticator enrollment.", json!({
            "temporaryAccessPass": string("The pass, to hand to the user."),
            "createdDateTime": time(""),
            "expiresDateTime": time(""),
            "lifetimeInMinutes": integer(""),
            "isUsableOnce": boolean("Always true."),
        })),
        "SecondFactorReset": resource("What a second-factor reset removed.", json!({
            "authenticatorRemoved": boolean("The authenticator app (confirmed or pending)."),
            "accessPassRemoved": boolean("A Temporary Access Pass not yet used."),
        })),
    })
}

/// The federation service's schemas (a json! of their own: one macro call for every schema
/// goes past the macro recursion limit).
fn federation_schemas() -> Value {
    let relying_party_claim = json!({
        "type": "object",
        "description": "A claim rule: the claim type and where its values come from.",
        "required": ["claimType", "source"],
        "additionalProperties": false,
        "properties": {
            "claimType": string("A URI (WS-Federation: ending in the claim's name), or an attribute name such as IDPEmail (SAML 2.0)."),
            "source": string(CLAIM_SOURCES),
        }
    });
    let relying_party = resource(
        "A relying party of the federation service (AD FS's relying party trust).",
        json!({
            "id": string("rp_ + 32 hex digits."),
            "displayName": string("Unique, case-insensitively."),
            "protocol": one_of(&PROTOCOLS, ""),
            "identifier": string("The SAML entityID or WS-Fed realm: the Audience. Unique per protocol."),
            "replyUrls": strings("SAML AssertionConsumerService (HTTP-POST) URLs or WS-Fed reply addresses, compared exactly; the first is the default."),
            "logoutUrl": nullable("SAML SingleLogoutService (HTTP-Redirect) or the WS-Fed sign-out return address."),
            "nameIdFormat": one_of(&NAME_ID_FORMATS, ""),
            "nameIdSource": string(CLAIM_SOURCES),
            "claims": {"type": "array", "items": reference("RelyingPartyClaim"), "description": "Issued in this order."},
            "signResponse": boolean("SAML: also sign the Response (the Assertion is always signed)."),
            "requireSignedRequests": boolean("SAML: AuthnRequests and LogoutRequests must be signed by one of requestCertificates."),
            "requestCertificates": {"type": "array", "items": {"type": "string", "contentEncoding": "base64"}, "description": "The DER certificates that sign the service provider's requests."},
            "passwordRequests": one_of(&PASSWORD_REQUESTS, "What a WS-Fed request for password authentication gets."),
            "issuer": nullable("The Issuer towards this relying party; null: the service's entity ID."),
            "tokenLifetimeSeconds": integer(""),
            "enabled": boolean(""),
            "createdDateTime": time(""),
            "lastModifiedDateTime": time(""),
        }),
    );
    let new_relying_party = request(
        "A relying party to register; absent settings take certgate's defaults.",
        &["displayName", "protocol", "identifier", "replyUrls"],
        json!({
            "displayName": string(""),
            "protocol": one_of(&PROTOCOLS, ""),
            "identifier": string("A URI: the SAML entityID or WS-Fed realm."),
            "replyUrls": strings("https, or http on a loopback host; 1 to 20."),
            "logoutUrl": string(""),
            "nameIdFormat": one_of(&NAME_ID_FORMATS, "Default persistent (the SAML URIs are accepted too)."),
            "nameIdSource": string("Default user.immutableId."),
            "claims": {"type": "array", "items": reference("RelyingPartyClaim"), "description": "Default: the UPN and mail claims."},
            "signResponse": boolean("SAML: also sign the Response. Default true for a SAML relying party (the Microsoft 365 preset: false)."),
            "requireSignedRequests": boolean("Default false; needs requestCertificates."),
            "requestCertificates": {"type": "array", "items": {"type": "string", "contentEncoding": "base64"}, "description": "DER certificates, at most 4."},
            "passwordRequests": one_of(&PASSWORD_REQUESTS, "Default refuse."),
            "issuer": string("Default: the service's entity ID."),
            "tokenLifetimeSeconds": integer("60 to 86400, default 3600."),
            "enabled": boolean("Default true."),
        }),
    );
    let relying_party_patch = request(
        "Changes to a relying party; absent fields stay, lists are replaced whole.",
        &[],
        json!({
            "displayName": string(""),
            "identifier": string(""),
            "replyUrls": strings(""),
            "logoutUrl": nullable("null removes it."),
            "nameIdFormat": one_of(&NAME_ID_FORMATS, ""),
            "nameIdSource": string(""),
            "claims": {"type": "array", "items": reference("RelyingPartyClaim")},
            "signResponse": boolean(""),
            "requireSignedRequests": boolean(""),
            "requestCertificates": {"type": "array", "items": {"type": "string", "contentEncoding": "base64"}},
            "passwordRequests": one_of(&PASSWORD_REQUESTS, ""),
            "issuer": nullable("null: the service's entity ID."),
            "tokenLifetimeSeconds": integer(""),
            "enabled": boolean(""),
        }),
    );
    let token_signing_key = resource("A token-signing key of the federation service (its certificate; the private key never leaves the store).", json!({
        "thumbprint": string("SHA-1 of the certificate, upper-case hex."),
        "state": one_of(&["next", "current", "retired"], "current signs; next is published ahead of the rollover; retired is no longer published."),
        "certificate": {"type": "string", "contentEncoding": "base64", "description": "The DER certificate."},
        "notAfter": time(""),
        "createdDateTime": time(""),
        "activatedDateTime": nullable_time("When it became current."),
        "retiredDateTime": nullable_time(""),
    }));
    json!({
        "RelyingPartyClaim": relying_party_claim,
        "RelyingParty": relying_party,
        "NewRelyingParty": new_relying_party,
        "RelyingPartyPatch": relying_party_patch,
        "TokenSigningKey": token_signing_key,
    })
}
