//! The schemas of the sign-in policy: username bindings and authentication-strength rules.

use serde_json::{json, Value};

use super::{boolean, integer, nullable, one_of, reference, request, resource, string, time};

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
const MODES: [&str; 2] = ["x509CertificateSingleFactor", "x509CertificateMultiFactor"];

/// Username bindings and authentication-strength rules.
pub(super) fn schemas() -> Value {
    json!({
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
    })
}
