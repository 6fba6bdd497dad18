//! The schemas of the directory: users, their device profiles, the sessions cut-off, the
//! Temporary Access Pass and the second-factor reset.

use serde_json::{json, Value};

use super::{
    boolean, integer, nullable, nullable_time, one_of, reference, request, resource, string,
    strings, time,
};

/// Users, device profiles and the sessions cut-off.
pub(super) fn schemas() -> Value {
    json!({
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
            "groups": strings("Groups assigned in certgate. certgate-admins may use the admin API with a client certificate."),
            "directoryGroups": strings("The groups the directory source says a synchronised user is in, nested groups included; written by the sync only. Federation's user.groups claim sends both lists; the admin group counts only in groups."),
            "createdDateTime": time(""),
            "onPremisesSyncEnabled": boolean("True when the user is synchronised from the directory source: its attributes other than groups are changed in the directory (a change here is refused, user-attribute-from-directory)."),
            "onPremisesDistinguishedName": nullable("The directory entry of a synchronised user."),
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
    })
}

/// The Temporary Access Pass and second-factor reset schemas (Graph's
/// temporaryAccessPassAuthenticationMethod field names).
pub(super) fn second_factor_schemas() -> Value {
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
