//! The form and text parsers behind certgate's web and admin endpoints, on arbitrary bytes:
//! OpenID Connect authorization parameters, token requests (with and without HTTP Basic client
//! authentication), scopes, PKCE challenges, the directory's CSV import, the federation claim
//! rules an administrator types, and the front door's path canonicalization and host check. Besides "no
//! panic", a parsed scope set and claim rule print back to text that parses to the same value,
//! and a canonical path is a fixed point.
#![no_main]

use certgate_core::directory::parse_users_csv;
use certgate_core::federation::claims::{ClaimRule, ClaimSource};
use certgate_core::front_door::{canonical_path, request_host};
use certgate_oidc::{AuthorizationParameters, CodeChallenge, ScopeSet, TokenRequest};
use libfuzzer_sys::fuzz_target;

/// The bytes as an `application/x-www-form-urlencoded` body, split the way a server's form
/// extractor hands it over (no percent-decoding: the parsers get what the extractor gives).
fn pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_users_csv(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let form = pairs(text);
    let authorization = AuthorizationParameters::from_pairs(&form);
    let _ = authorization.client_id();
    let _ = TokenRequest::parse(&form, None);
    // The first line as an Authorization header, the rest as the body.
    if let Some((header, body)) = text.split_once('\n') {
        let _ = TokenRequest::parse(&pairs(body), Some(header));
    }
    if let Ok(scopes) = ScopeSet::parse(text) {
        let printed = scopes.to_string();
        assert_eq!(
            ScopeSet::parse(&printed).ok().map(|s| s.to_string()),
            Some(printed),
            "a scope set prints back to itself"
        );
    }
    let _ = CodeChallenge::parse(text, Some("S256"));
    let _ = CodeChallenge::parse(text, None);
    if let Ok(rule) = ClaimRule::parse(text) {
        let printed = rule.as_string();
        assert_eq!(ClaimRule::parse(&printed).ok(), Some(rule), "{printed}");
    }
    if let Ok(source) = ClaimSource::parse(text) {
        assert_eq!(ClaimSource::parse(&source.as_string()).ok(), Some(source));
    }
    // The front door's canonical path: a fixed point, with no dot segment or empty segment
    // left for a server behind to resolve differently.
    if let Ok(path) = canonical_path(text) {
        assert_eq!(canonical_path(&path).as_deref(), Ok(path.as_str()), "{text:?}");
        assert!(path.starts_with('/'));
        assert!(!path.contains("//") && !path.contains(['\\', ';']), "{path:?}");
        assert!(path.split('/').all(|segment| segment != "." && segment != ".."), "{path:?}");
    }
    // The front door's request host: a fixed point, and nothing in it that would change what
    // a server behind reads as the host (user information, a path, a second port).
    if let Ok(host) = request_host(text) {
        assert_eq!(request_host(&host).as_deref(), Ok(host.as_str()), "{text:?}");
        assert!(!host.is_empty() && host.len() <= text.len(), "{text:?}");
        assert!(!host.contains(['@', '/', '?', '#', ' ', '%', '\\']), "{host:?}");
        assert_eq!(host, host.to_ascii_lowercase());
    }
});
