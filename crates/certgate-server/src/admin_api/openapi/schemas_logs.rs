//! The schemas of the sign-in log and the audit log.

use serde_json::{json, Value};

use super::{nullable, one_of, resource, string, time};

/// Sign-in attempts and audit events.
pub(super) fn schemas() -> Value {
    json!({
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
    })
}
