//! The schemas of the OpenID Connect clients.

use serde_json::{json, Value};

use super::{boolean, integer, nullable, one_of, request, resource, string, strings, time};

/// Registered clients, the body that registers one, and the answer with its secret.
pub(super) fn schemas() -> Value {
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
        "requireDomainPassword": boolean("Every sign-in asks for the user's domain password after the certificate; refused (domain-password-not-configured) on a node without a directory source. The tokens then carry pwd in amr."),
        "createdDateTime": time(""),
    });
    let mut created_application = application.clone();
    created_application["clientSecret"] = nullable(
        "The secret of a confidential client: shown in this answer only, never again (certgate keeps its SHA-256).",
    );
    json!({
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
            "requireDomainPassword": boolean("Default false."),
        })),
    })
}
