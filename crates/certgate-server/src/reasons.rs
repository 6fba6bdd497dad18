//! The reason-code reference: every code certgate answers with, gathered from the `CODES` of
//! each crate's error types and the codes this crate's handlers answer with themselves.
//! `docs/reason-codes.md` is generated from [`catalogue`] (the `reason_codes` test checks that
//! it is current, that each code means one thing, and that no code disappears unnoticed).

use certgate_pki::{CodeList, ReasonCode};

/// The codes certgate-server's own layers answer with on every listener (not those of a
/// domain error).
pub const SERVER_CODES: &[ReasonCode] = &[ReasonCode::new(
    "request-body-timeout",
    "The request's body did not arrive within the listener's body read timeout (`[limits] body_read_timeout_seconds`, default 30 seconds); certgate answered 408 and closed the connection. Routes that stream (the front door) have no such timeout.",
    "Check the network connection and send the request again. Administrators: if slow clients legitimately need longer, raise `[limits] body_read_timeout_seconds` (or CERTGATE_LIMITS_BODY_READ_TIMEOUT_SECONDS).",
)];

/// The sign-in flow of the web listener (`/oauth2/authorize`, `/signin/...`) and the
/// certificate sign-in listener's `/certauth?flow=...`.
pub const FLOW_CODES: &[ReasonCode] = &[
    ReasonCode::new(
        "cookie-invalid",
        "certgate could not build the cookie that binds the sign-in to this browser, so the sign-in could not start or continue.",
        "Go back to the application and sign in again. If it keeps happening, give your administrator the correlation ID; the server log has the details.",
    ),
    ReasonCode::new(
        "flow-certificate-missing",
        "A SAML or WS-Federation sign-in reached its end without the certificate it was made with on record (for example one started by an older certgate version), so no token can be written.",
        "Go back to the application and sign in again.",
    ),
    ReasonCode::new(
        "flow-expired",
        "The sign-in took longer than a sign-in may last (10 minutes from its start), so it cannot be continued.",
        "Go back to the application and sign in again, without leaving the pages open in between.",
    ),
    ReasonCode::new(
        "flow-failed",
        "The sign-in had already failed (the certificate was refused, or the person chose Cancel) and cannot be continued.",
        "Go back to the application and start a new sign-in; if the certificate was refused, the earlier page gave the reason code.",
    ),
    ReasonCode::new(
        "flow-finished",
        "The sign-in is already finished: the application got its answer, and a finished sign-in cannot be used again (a reloaded page or the back button).",
        "Go back to the application; if it did not sign you in, start a new sign-in from there.",
    ),
    ReasonCode::new(
        "flow-incomplete",
        "A sign-in page that needs the certificate sign-in was reached before the certificate step of this sign-in was done.",
        "Go back to the application and sign in again, choosing your certificate when the browser asks for one.",
    ),
    ReasonCode::new(
        "flow-missing",
        "A sign-in page was opened without naming a sign-in (no `flow` parameter), for example from a bookmark.",
        "Start the sign-in from the application, not from a bookmark of a certgate page.",
    ),
    ReasonCode::new(
        "flow-not-this-browser",
        "The sign-in was started in another browser, or this browser no longer sends the cookie that binds the sign-in to it (cookies removed or blocked).",
        "Sign in again from the application in one browser, with cookies allowed for certgate's addresses.",
    ),
    ReasonCode::new(
        "flow-step-taken",
        "This step of the sign-in was already taken, by a second tab, a double click or a reloaded page; each step is taken once.",
        "Go back to the application; if it did not sign you in, start a new sign-in from there.",
    ),
    ReasonCode::new(
        "flow-step-wrong",
        "The page submitted belongs to another step than the one the sign-in waits for (an old form, or a page from a second tab).",
        "Go back to the application and sign in again.",
    ),
    ReasonCode::new(
        "flow-unknown",
        "The sign-in the page names is not known: it never existed, or it is finished and removed.",
        "Go back to the application and sign in again.",
    ),
    ReasonCode::new(
        "flow-unreadable",
        "certgate cannot read back the sign-in it stored (the application's request or the signed-in identity), for example because another certgate version wrote it.",
        "Go back to the application and sign in again. Administrators: run the same certgate version on every node, since a sign-in started on one node may continue on another.",
    ),
    ReasonCode::new(
        "flow-unserializable",
        "certgate could not store the application's sign-in request (OpenID Connect, SAML or WS-Federation) in a new sign-in, so the sign-in did not start.",
        "Sign in again from the application. If it happens every time, administrators: the server log has the request under the correlation ID; report it as a certgate bug.",
    ),
    ReasonCode::new(
        "redirect-invalid",
        "The address certgate was to send the browser back to (the application's redirect URI or a single-logout address) cannot be put in an HTTP Location header.",
        "Administrators: register the address with URL-safe characters only (percent-encode spaces and non-ASCII text): `certgate client add CLIENT_ID --redirect-uri URL` for an OpenID Connect application, `certgate rp set RP --logout-url URL` for a single logout address.",
    ),
    ReasonCode::new(
        "second-factor-enrollment-requires-access-pass",
        "The application needs a second factor and the account has no authenticator app yet; setting one up needs a Temporary Access Pass redeemed in this same sign-in, so the certificate alone cannot add a second factor.",
        "Ask your administrator for a Temporary Access Pass (`certgate user access-pass create USER`), type it on the page, then set up the authenticator app.",
    ),
    ReasonCode::new(
        "sign-in-not-fresh",
        "The application asks for a recent sign-in (`prompt=login` or `max_age`), and the certificate sign-in of this flow is older than it accepts.",
        "Go back to the application and sign in again: every sign-in asks for the certificate anew.",
    ),
    ReasonCode::new(
        "user-cancelled",
        "The person chose Cancel on the page that asks whether to continue to the application; the application gets `access_denied` and no code.",
        "Nothing is wrong: to sign in, start again from the application and choose Continue.",
    ),
];

/// The federation service's endpoints: SAML 2.0 single sign-on and logout, WS-Federation.
pub const FEDERATION_CODES: &[ReasonCode] = &[
    ReasonCode::new(
        "federation-disabled",
        "A SAML or WS-Federation request (or a federation sign-in) reached a server where the federation service is not running.",
        "Use the sign-in address your administrator gave you. Administrators: the federation service runs with the web listener: configure `[web]` in certgate.toml and restart `certgate serve`.",
    ),
    ReasonCode::new(
        "rp-disabled",
        "The relying party (SAML service provider or WS-Federation application) that sent the request is registered with certgate but disabled.",
        "Administrators: if it should be used, enable it with `certgate rp set RP --enabled`.",
    ),
    ReasonCode::new(
        "rp-unknown",
        "No relying party is registered with the SAML Issuer (entity ID) or the WS-Federation realm (wtrealm) the request names.",
        "Administrators: register the application with exactly that identifier (`certgate rp add saml`, `certgate rp add wsfed` or `certgate rp add microsoft365`).",
    ),
    ReasonCode::new(
        "saml-parameter-duplicated",
        "A SAML HTTP-POST request carries its SAMLRequest or RelayState field more than once.",
        "Go back to the application and sign in again. Administrators: if it persists, the service provider (or a proxy in front of it) sends a malformed form.",
    ),
    ReasonCode::new(
        "saml-parameter-missing",
        "A SAML HTTP-POST request to the single sign-on endpoint has no SAMLRequest field.",
        "Go back to the application and sign in again. Administrators: check that the service provider posts its AuthnRequest as SAMLRequest.",
    ),
];

/// The mail front door (the Exchange/IIS reverse proxy role); its admission codes are
/// certgate-core's.
pub const FRONT_DOOR_CODES: &[ReasonCode] = &[
    ReasonCode::new(
        "front-door-headers-too-large",
        "The request's line and headers are larger than the virtual directory accepts (`max_request_header_bytes`, default 49,152 bytes, as Exchange's uploadReadAheadSize); answered 413.",
        "Clear the site's cookies and try again. Administrators: raise `max_request_header_bytes` of the `[[front_door.virtual_directory]]`.",
    ),
    ReasonCode::new(
        "front-door-host-invalid",
        "The host the request names cannot be used: it is missing, named more than once, the Host header and the request target disagree, or it is not a plain DNS name or IP address.",
        "Use the address your administrator published (for example mail.contoso.example) without changing the Host header.",
    ),
    ReasonCode::new(
        "front-door-no-route",
        "No virtual directory of the front door covers the requested path, so nothing is published there.",
        "Check the address. Administrators: publish the path with a `[[front_door.virtual_directory]]` (its `prefix`) or a preset in `[front_door] presets`.",
    ),
    ReasonCode::new(
        "front-door-path-refused",
        "The requested path cannot be forwarded safely: it has a backslash, a semicolon, an encoded slash, backslash, percent sign or NUL, a malformed escape, climbs above the root, or would change on the way to the upstream.",
        "Use the application's own links instead of an edited address. Nothing is wrong with the server.",
    ),
    ReasonCode::new(
        "front-door-upstream-timeout",
        "The server behind the virtual directory did not answer in time (10 seconds to connect, then at most 35 minutes between two reads); answered 504.",
        "Try again later. Administrators: check that the virtual directory's upstream is running and reachable from certgate.",
    ),
    ReasonCode::new(
        "front-door-upstream-unavailable",
        "The server behind the virtual directory could not be reached, refused the connection, or failed the TLS handshake; answered 502.",
        "Try again later. Administrators: check the directory's `upstream` address, that the server is running, and that `upstream_ca_file` holds the CA of its TLS certificate; the server log has the error.",
    ),
];

/// The admin API (`/api/v1`), beyond the codes of the domain errors it translates.
pub const ADMIN_API_CODES: &[ReasonCode] = &[
    ReasonCode::new(
        "admin-authorization-scheme-unsupported",
        "The admin API request's Authorization header is not `Bearer <admin token>` (another scheme, or no token after Bearer).",
        "Send the header as `Authorization: Bearer TOKEN`, with a token from `certgate admin token create --name NAME`.",
    ),
    ReasonCode::new(
        "admin-credentials-missing",
        "The admin API request carries neither an admin token nor a client certificate, so no administrator is authenticated.",
        "Send `Authorization: Bearer TOKEN` with a token from `certgate admin token create --name NAME` (the CLI: `certgate --server URL --token TOKEN ...`), or call the API on the certificate sign-in listener with an administrator's certificate.",
    ),
    ReasonCode::new(
        "admin-cross-site-request",
        "A change authenticated by a client certificate came, by its browser's Sec-Fetch-Site or Origin header, from another site's page; it is refused as a possible cross-site request forgery.",
        "Make changes with the CLI, curl or an admin token, not from a web page of another site.",
    ),
    ReasonCode::new(
        "admin-group-missing",
        "The client certificate signed in as a user who is not a member of the admin group (`certgate-admins` by default), whose members administer certgate.",
        "Use an admin token, or ask an administrator to add you to the group: `certgate user set USER --add-group certgate-admins`.",
    ),
    ReasonCode::new(
        "application-id-taken",
        "An OpenID Connect application with the requested appId already exists.",
        "Choose another appId, or leave it out so that certgate makes one.",
    ),
    ReasonCode::new(
        "application-not-found",
        "No OpenID Connect application has the appId the request names.",
        "Check the appId: `GET /api/v1/applications` (or `certgate client list`) lists the applications.",
    ),
    ReasonCode::new(
        "applications-unavailable",
        "The OpenID Connect provider does not run on this server (it needs the web listener), so its applications cannot be managed through this server's admin API.",
        "Use the admin API of a server with `[web]` configured, or the CLI (`certgate client list`, `certgate client add`) on certgate's database.",
    ),
    ReasonCode::new(
        "binding-affinity-invalid",
        "The binding policy's x509CertificateDefaultRequiredAffinityLevel is neither low nor high.",
        "Send low (every binding rule may map a certificate) or high (only the rules on IssuerAndSerialNumber, SubjectKeyIdentifier or SHA1PublicKey may).",
    ),
    ReasonCode::new(
        "binding-attribute-invalid",
        "The new binding rule's userProperty is not one of userPrincipalName, proxyAddresses or certificateUserIds.",
        "Send one of userPrincipalName, proxyAddresses or certificateUserIds.",
    ),
    ReasonCode::new(
        "binding-field-invalid",
        "The new binding rule's x509CertificateField is not one of the certificate fields certgate maps (PrincipalName, RFC822Name, Subject, IssuerAndSubject, IssuerAndSerialNumber, SubjectKeyIdentifier, SHA1PublicKey).",
        "Send one of PrincipalName, RFC822Name, Subject, IssuerAndSubject, IssuerAndSerialNumber, SubjectKeyIdentifier or SHA1PublicKey.",
    ),
    ReasonCode::new(
        "ca-urls-need-one-certificate",
        "A bundle of several CA certificates was sent with CRL URLs, which belong to one CA; nothing was added.",
        "Add the bundle without CRL URLs, then set each CA's URLs (`PATCH /api/v1/certificateAuthorities/ID`, or `certgate ca set ID --crl-url URL`).",
    ),
    ReasonCode::new(
        "client-consent-prompt-invalid",
        "The new application's consentPrompt is neither show nor skip.",
        "Send show (ask the person before continuing to the application) or skip.",
    ),
    ReasonCode::new(
        "client-scope-invalid",
        "The new application's allowedScopes are not valid OAuth scopes (empty, or with spaces, quotes, backslashes or control characters in a scope).",
        "Send a list of scope names such as openid, profile, email and offline_access.",
    ),
    ReasonCode::new(
        "client-type-invalid",
        "The new application's clientType is neither confidential nor public.",
        "Send confidential (a web server that keeps a secret) or public (a native or single-page app, which must use PKCE).",
    ),
    ReasonCode::new(
        "date-invalid",
        "The date sent for StsRefreshTokensValidFrom is not a date (YYYY-MM-DD) or an RFC 3339 time.",
        "Send a date such as 2026-12-01 or a time such as 2026-12-01T08:00:00Z.",
    ),
    ReasonCode::new(
        "federation-keys-unavailable",
        "This server does not hold the key passphrase (CERTGATE_CA_KEY_PASSPHRASE), so it cannot seal a new token-signing key; the keys were not rotated.",
        "Run `certgate federation rotate-keys` where the passphrase is set, or call the API on a server that runs the web listener.",
    ),
    ReasonCode::new(
        "method-not-allowed",
        "The admin API route exists but does not take the request's HTTP method.",
        "Use a method the route takes: `GET /api/v1/openapi.json` lists every route with its methods.",
    ),
    ReasonCode::new(
        "pki-serial-invalid",
        "The serial number in the request's path is not hexadecimal.",
        "Send the serial in hex, as `GET /api/v1/pki/issuedCertificates` (or `certgate pki list`) shows it.",
    ),
    ReasonCode::new(
        "pki-unavailable",
        "This server does not run certgate's CA with its key passphrase (CERTGATE_CA_KEY_PASSPHRASE), so the admin API cannot list, revoke or publish what it issued.",
        "Use `certgate pki` where the passphrase is set, or call the API on a server that runs certgate's CA.",
    ),
    ReasonCode::new(
        "request-body-invalid",
        "The request body is not valid JSON, or not the JSON the route expects (a missing or unknown field, or a value of the wrong type); the message names the problem.",
        "Correct the body as the message says; `GET /api/v1/openapi.json` describes every request body.",
    ),
    ReasonCode::new(
        "request-body-too-large",
        "The request body is larger than the admin API accepts (2 MiB).",
        "Send a smaller body: add large bundles in several requests.",
    ),
    ReasonCode::new(
        "request-content-type",
        "The request has a body but not `Content-Type: application/json`.",
        "Send the body as JSON with `Content-Type: application/json`.",
    ),
    ReasonCode::new(
        "request-headers-too-large",
        "The request's headers are larger than the admin API accepts (8 KiB); answered 431.",
        "Send fewer or smaller headers (clear the cookies of the API's address if a browser sends them).",
    ),
    ReasonCode::new(
        "request-query-invalid",
        "The query string cannot be used: an unknown parameter, `$top` outside 1 to 1000, a result other than success or failure, or a since that is not RFC 3339.",
        "Correct the query as the message says; `GET /api/v1/openapi.json` lists each route's parameters.",
    ),
    ReasonCode::new(
        "route-not-found",
        "No admin API route has this path.",
        "Check the path: `GET /api/v1/openapi.json` lists every route.",
    ),
    ReasonCode::new(
        "strength-mode-invalid",
        "The new strength rule's x509CertificateAuthenticationMode is neither x509CertificateSingleFactor nor x509CertificateMultiFactor.",
        "Send x509CertificateSingleFactor or x509CertificateMultiFactor.",
    ),
];

/// Device provisioning: the self-service page `/my/device` and the admin API's
/// `deviceProfiles`.
pub const DEVICE_CODES: &[ReasonCode] = &[
    ReasonCode::new(
        "device-cross-site-request",
        "The device set-up form was submitted, by the browser's Sec-Fetch-Site or Origin header, from another site's page; it is refused before anything happens, since the browser presents the certificate to any site's request.",
        "Open the device set-up page (/my/device) yourself and submit the form there.",
    ),
    ReasonCode::new(
        "device-form-invalid",
        "The device set-up form that was submitted could not be read.",
        "Open the device set-up page (/my/device) again and submit the form from there.",
    ),
    ReasonCode::new(
        "device-p12-password-mismatch",
        "The two passwords typed for the certificate file differ; nothing was issued.",
        "Type the same password in both fields.",
    ),
    ReasonCode::new(
        "device-platform-invalid",
        "The kind of device asked for is not one certgate makes a profile for (ios, android or pkcs12).",
        "Choose iPhone or iPad (ios), Android (android) or the certificate only (pkcs12).",
    ),
    ReasonCode::new(
        "device-provisioning-unavailable",
        "This server does not run certgate's CA with its key passphrase (CERTGATE_CA_KEY_PASSPHRASE), so it cannot issue device certificates.",
        "Ask your administrator. Administrators: run `certgate device profile` where the passphrase is set, or use a server that runs certgate's CA.",
    ),
    ReasonCode::new(
        "device-second-factor-required",
        "The account has an authenticator app, and the form came without its code: issuing a certificate asks for it as a sign-in does (unless the certificate itself is multi-factor).",
        "Enter the code your authenticator app shows now together with the form.",
    ),
    ReasonCode::new(
        "device-second-factor-unavailable",
        "The account has an authenticator app, and this server cannot check its codes (it does not hold the key passphrase), so it issues no certificate to this person.",
        "Ask your administrator. Administrators: set CERTGATE_CA_KEY_PASSPHRASE for the server, or run `certgate device profile` where it is set.",
    ),
];

/// Enrollment over Secure Transport (RFC 7030), beyond the codes of the enrollment errors.
pub const EST_CODES: &[ReasonCode] = &[
    ReasonCode::new(
        "est-body-not-base64",
        "The EST request body is not base64: RFC 7030 wants the DER PKCS#10 request base64-encoded, not PEM or binary.",
        "Send the DER request encoded in base64 (for example the output of `openssl base64 -in request.der`), not PEM or binary.",
    ),
    ReasonCode::new(
        "est-ca-unavailable",
        "This server does not run certgate's CA, so it cannot issue certificates over EST (only cacerts answers).",
        "Enroll against the server your administrator named. Administrators: run EST on a server that runs certgate's CA (`certgate pki init`, then `certgate serve` with CERTGATE_CA_KEY_PASSPHRASE).",
    ),
    ReasonCode::new(
        "est-content-type-unsupported",
        "The EST request's Content-Type is not application/pkcs10 (RFC 7030 section 4.2.1).",
        "Send the request with `Content-Type: application/pkcs10`.",
    ),
    ReasonCode::new(
        "est-request-too-large",
        "The EST request body is larger than 16 KiB, far more than one base64 PKCS#10 request needs.",
        "Send one base64 DER PKCS#10 request per enrollment.",
    ),
];

/// Every list of this crate, by owner.
pub fn server_codes() -> Vec<CodeList> {
    vec![
        (
            "certgate_server::second_factor::SecondFactorError",
            crate::second_factor::SecondFactorError::CODES,
        ),
        ("certgate_server (every listener)", SERVER_CODES),
        ("certgate_server (sign-in flow)", FLOW_CODES),
        ("certgate_server (federation)", FEDERATION_CODES),
        ("certgate_server (front door)", FRONT_DOOR_CODES),
        ("certgate_server (admin API)", ADMIN_API_CODES),
        ("certgate_server (device provisioning)", DEVICE_CODES),
        ("certgate_server (EST)", EST_CODES),
    ]
}

/// Every reason code, by the type (or layer) that answers with it.
pub fn catalogue() -> Vec<CodeList> {
    let mut all = certgate_pki::reason_codes();
    all.extend(certgate_ca::reason_codes());
    all.extend(certgate_saml::reason_codes());
    all.extend(certgate_oidc::reason_codes());
    all.extend(certgate_core::reason_codes());
    all.extend(server_codes());
    all
}

/// The entry of `code`, if certgate has one.
pub fn find(code: &str) -> Option<&'static ReasonCode> {
    catalogue()
        .into_iter()
        .flat_map(|(_, codes)| codes.iter())
        .find(|entry| entry.code == code)
}

/// `docs/reason-codes.md`.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Reason codes\n\n\
         Every refusal certgate answers with carries one of these codes: in the page, in the JSON\n\
         (`code`), in the sign-in log, the audit log and the server log (with the correlation ID),\n\
         and in `/metrics` (`certgate_refusals_total{code}`). Codes are stable: scripts may key on\n\
         them.\n\n\
         This file is generated from the `CODES` list of each error type; do not edit it by hand.\n\
         `CERTGATE_UPDATE_GOLDEN=1 cargo test -p certgate-server --test reason_codes` rewrites it.\n",
    );
    let mut written = std::collections::BTreeSet::new();
    for (owner, codes) in catalogue() {
        // A code that two types answer with means the same in both: listed once.
        let codes: Vec<_> = codes
            .iter()
            .filter(|entry| written.insert(entry.code))
            .collect();
        if codes.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n## `{owner}`\n\n| Code | What it means | What to do |\n|---|---|---|\n"
        ));
        for entry in codes {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                entry.code,
                table_cell(entry.meaning),
                table_cell(entry.what_to_do)
            ));
        }
    }
    out
}

fn table_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
