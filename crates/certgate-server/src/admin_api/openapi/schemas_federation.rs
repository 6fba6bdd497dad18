//! The schemas of the federation service (SAML 2.0 / WS-Federation): relying parties, their
//! claim rules, and the token-signing keys.

use serde_json::{json, Value};

use super::{
    boolean, integer, nullable, nullable_time, one_of, reference, request, resource, string,
    strings, time,
};

const PROTOCOLS: [&str; 2] = ["saml", "wsfed"];
const NAME_ID_FORMATS: [&str; 3] = ["persistent", "email", "unspecified"];
const PASSWORD_REQUESTS: [&str; 3] = ["refuse", "fresh-certificate", "domain-password"];
const CLAIM_SOURCES: &str = "user.upn, user.mail, user.immutableId, user.objectId, user.displayName, user.groups, user.proxyAddresses, certificate.issuer, certificate.subject, certificate.serialNumber, certificate.notBefore, certificate.notAfter, certificate.rawData, certificate.eku, certificate.san, certificate.subjectKeyIdentifier, certificate.thumbprint, auth.method, auth.methodsReferences, auth.instant, or const:VALUE.";

/// The federation service's schemas (a json! of their own: one macro call for every schema
/// goes past the macro recursion limit).
pub(super) fn schemas() -> Value {
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
            "requireDomainPassword": boolean("Every sign-in asks for the user's domain password after the certificate, whatever the request says; refused (domain-password-not-configured) on a node without a directory source."),
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
            "requireDomainPassword": boolean("Default false."),
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
            "requireDomainPassword": boolean(""),
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
