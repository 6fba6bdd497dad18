//! The authorization endpoint: every refusal of a request, whether it is shown or redirected,
//! and the decision between a fresh sign-in, the confirmation page and issuing the code.

mod common;

use certgate_oidc::*;
use common::*;

/// A valid request of the web client (confidential) with `changes` applied: `(name, None)`
/// removes a parameter, `(name, Some(v))` replaces it, a name not in the base is added (twice
/// when listed twice).
fn web_request(changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    request(
        &[
            ("response_type", "code"),
            ("client_id", "mail-web"),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", "openid profile"),
            ("state", "xyz"),
            ("nonce", "n"),
        ],
        changes,
    )
}

fn app_request(changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    request(
        &[
            ("response_type", "code"),
            ("client_id", "mail-app"),
            ("redirect_uri", APP_REDIRECT),
            ("scope", "openid offline_access"),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
        changes,
    )
}

fn request(base: &[(&str, &str)], changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = pairs(base);
    for (name, value) in changes {
        let present = items.iter().any(|(n, _)| n == name);
        match value {
            None => items.retain(|(n, _)| n != name),
            Some(value) if present && changes.iter().filter(|(n, _)| n == name).count() == 1 => {
                for item in items.iter_mut().filter(|(n, _)| n == name) {
                    item.1 = (*value).to_owned();
                }
            }
            Some(value) => items.push(((*name).to_owned(), (*value).to_owned())),
        }
    }
    items
}

#[tokio::test]
async fn errors_before_a_trusted_redirect_uri_are_shown_never_redirected() {
    let fixture = fixture().await;
    let cases: Vec<(&str, Params, &str)> = vec![
        (
            "no client_id",
            web_request(&[("client_id", None)]),
            "client-id-missing",
        ),
        (
            "two client_ids",
            web_request(&[
                ("client_id", Some("mail-web")),
                ("client_id", Some("mail-app")),
            ]),
            "parameter-repeated",
        ),
        (
            "unknown client",
            web_request(&[("client_id", Some("nobody"))]),
            "client-unknown",
        ),
        (
            "client_id with a space",
            web_request(&[("client_id", Some("mail web"))]),
            "client-unknown",
        ),
        (
            "no redirect_uri",
            web_request(&[("redirect_uri", None)]),
            "redirect-uri-missing",
        ),
        (
            "two redirect_uris",
            web_request(&[
                ("redirect_uri", Some(WEB_REDIRECT)),
                ("redirect_uri", Some("https://evil.test/cb")),
            ]),
            "parameter-repeated",
        ),
        (
            "another host",
            web_request(&[("redirect_uri", Some("https://evil.test/signin-oidc"))]),
            "redirect-uri-not-registered",
        ),
        (
            "a longer path (no prefix matching)",
            web_request(&[(
                "redirect_uri",
                Some("https://mail.example.test/signin-oidc/x"),
            )]),
            "redirect-uri-not-registered",
        ),
        (
            "an added query",
            web_request(&[(
                "redirect_uri",
                Some("https://mail.example.test/signin-oidc?a=1"),
            )]),
            "redirect-uri-not-registered",
        ),
        (
            "another client's redirect URI",
            web_request(&[("redirect_uri", Some(APP_REDIRECT))]),
            "redirect-uri-not-registered",
        ),
        (
            "bad response_type but unregistered redirect URI",
            web_request(&[
                ("response_type", Some("token")),
                ("redirect_uri", Some("https://evil.test/cb")),
            ]),
            "redirect-uri-not-registered",
        ),
    ];
    for (what, params, reason) in cases {
        match fixture.provider.authorize(&params, at(0)).await {
            Err(AuthorizationError::ShowToUser(page)) => {
                assert_eq!(page.reason, reason, "{what}");
                assert!(!page.message.is_empty(), "{what}");
            }
            other => panic!("{what}: expected an error page, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn errors_after_the_redirect_uri_is_trusted_are_redirected_with_state_and_iss() {
    let fixture = fixture().await;
    use AuthorizationErrorCode as E;
    let long_state = "s".repeat(2049);
    let long_nonce = "n".repeat(513);
    let cases: Vec<(&str, Params, E, &str, Option<&str>)> = vec![
        (
            "scope twice",
            web_request(&[("scope", Some("openid")), ("scope", Some("openid profile"))]),
            E::InvalidRequest,
            "parameter-repeated",
            Some("xyz"),
        ),
        (
            "request object",
            web_request(&[("request", Some("eyJ..."))]),
            E::RequestNotSupported,
            "request-object-unsupported",
            Some("xyz"),
        ),
        (
            "request_uri",
            web_request(&[("request_uri", Some("https://rp/req"))]),
            E::RequestUriNotSupported,
            "request-object-unsupported",
            Some("xyz"),
        ),
        (
            "registration",
            web_request(&[("registration", Some("{}"))]),
            E::RegistrationNotSupported,
            "registration-unsupported",
            Some("xyz"),
        ),
        (
            "no response_type",
            web_request(&[("response_type", None)]),
            E::InvalidRequest,
            "response-type-missing",
            Some("xyz"),
        ),
        (
            "implicit flow",
            web_request(&[("response_type", Some("token"))]),
            E::UnsupportedResponseType,
            "response-type-unsupported",
            Some("xyz"),
        ),
        (
            "hybrid flow",
            web_request(&[("response_type", Some("code id_token"))]),
            E::UnsupportedResponseType,
            "response-type-unsupported",
            Some("xyz"),
        ),
        (
            "fragment response mode",
            web_request(&[("response_mode", Some("fragment"))]),
            E::InvalidRequest,
            "response-mode-unsupported",
            Some("xyz"),
        ),
        (
            "no scope",
            web_request(&[("scope", None)]),
            E::InvalidRequest,
            "scope-missing",
            Some("xyz"),
        ),
        (
            "no openid",
            web_request(&[("scope", Some("profile email"))]),
            E::InvalidScope,
            "scope-openid-missing",
            Some("xyz"),
        ),
        (
            "malformed scope",
            web_request(&[("scope", Some("openid \"x\""))]),
            E::InvalidScope,
            "scope-malformed",
            Some("xyz"),
        ),
        (
            "scope not allowed for the client",
            app_request(&[("scope", Some("openid profile"))]),
            E::InvalidScope,
            "scope-not-allowed",
            Some("xyz"),
        ),
        (
            "plain PKCE",
            web_request(&[
                ("code_challenge", Some(VERIFIER)),
                ("code_challenge_method", Some("plain")),
            ]),
            E::InvalidRequest,
            "pkce-method-unsupported",
            Some("xyz"),
        ),
        (
            "PKCE without a method (means plain)",
            web_request(&[("code_challenge", Some(CHALLENGE))]),
            E::InvalidRequest,
            "pkce-method-unsupported",
            Some("xyz"),
        ),
        (
            "malformed challenge",
            app_request(&[("code_challenge", Some("too-short"))]),
            E::InvalidRequest,
            "pkce-challenge-malformed",
            Some("xyz"),
        ),
        (
            "method without challenge",
            web_request(&[("code_challenge_method", Some("S256"))]),
            E::InvalidRequest,
            "pkce-challenge-missing",
            Some("xyz"),
        ),
        (
            "public client without PKCE",
            app_request(&[("code_challenge", None), ("code_challenge_method", None)]),
            E::InvalidRequest,
            "pkce-required",
            Some("xyz"),
        ),
        (
            "prompt none with login",
            web_request(&[("prompt", Some("none login"))]),
            E::InvalidRequest,
            "prompt-invalid",
            Some("xyz"),
        ),
        (
            "unknown prompt",
            web_request(&[("prompt", Some("create"))]),
            E::InvalidRequest,
            "prompt-invalid",
            Some("xyz"),
        ),
        (
            "negative max_age",
            web_request(&[("max_age", Some("-1"))]),
            E::InvalidRequest,
            "max-age-invalid",
            Some("xyz"),
        ),
        (
            "max_age with a sign",
            web_request(&[("max_age", Some("+5"))]),
            E::InvalidRequest,
            "max-age-invalid",
            Some("xyz"),
        ),
        (
            "max_age not a number",
            web_request(&[("max_age", Some("1h"))]),
            E::InvalidRequest,
            "max-age-invalid",
            Some("xyz"),
        ),
        (
            "state too long (and so not echoed)",
            web_request(&[("state", Some(&long_state))]),
            E::InvalidRequest,
            "parameter-too-long",
            None,
        ),
        (
            "nonce too long",
            web_request(&[("nonce", Some(&long_nonce))]),
            E::InvalidRequest,
            "parameter-too-long",
            Some("xyz"),
        ),
        (
            "repeated state is not echoed",
            web_request(&[("state", Some("a")), ("state", Some("b"))]),
            E::InvalidRequest,
            "parameter-repeated",
            None,
        ),
    ];
    for (what, params, error, reason, state) in cases {
        let redirect = match fixture.provider.authorize(&params, at(0)).await {
            Err(AuthorizationError::Redirect(redirect)) => redirect,
            other => panic!("{what}: expected a redirect, got {other:?}"),
        };
        assert_eq!((redirect.error, redirect.reason), (error, reason), "{what}");
        let location = redirect.location();
        let registered = if params.iter().any(|(_, v)| v == "mail-app") {
            APP_REDIRECT
        } else {
            WEB_REDIRECT
        };
        assert!(
            location.starts_with(&format!("{registered}?")),
            "{what}: {location}"
        );
        let query = query_of(&location);
        assert_eq!(query["error"], error.as_str(), "{what}");
        assert!(query["error_description"].starts_with(reason), "{what}");
        assert_eq!(query.get("state").map(String::as_str), state, "{what}");
        assert_eq!(query["iss"], ISSUER, "{what}");
    }
}

#[tokio::test]
async fn valid_requests_become_typed_requests() {
    let fixture = fixture().await;
    let request = fixture
        .provider
        .authorize(
            &web_request(&[
                ("prompt", Some("login consent")),
                ("max_age", Some("600")),
                ("login_hint", Some("ada@example.test")),
                ("acr_values", Some("urn:certgate:acr:mfa")),
                // An empty parameter counts as absent (RFC 6749 §3.1).
                ("code_challenge", Some("")),
            ]),
            at(5),
        )
        .await
        .expect("valid");
    assert_eq!(request.client_id.as_str(), "mail-web");
    assert_eq!(request.client_name, "Mail (web)");
    assert_eq!(request.redirect_uri, WEB_REDIRECT);
    assert_eq!(request.scopes.to_string(), "openid profile");
    assert_eq!(request.state.as_deref(), Some("xyz"));
    assert_eq!(request.nonce.as_deref(), Some("n"));
    assert_eq!(request.code_challenge, None);
    assert!(request.prompt.requires_fresh_sign_in() && request.prompt.requires_consent());
    assert_eq!(request.max_age, Some(600));
    assert_eq!(request.login_hint.as_deref(), Some("ada@example.test"));
    assert_eq!(request.acr_values, vec!["urn:certgate:acr:mfa".to_owned()]);
    assert_eq!(request.received_at, at(5));
    // The server keeps it across the certificate sign-in.
    let json = serde_json::to_string(&request).expect("serialize");
    let back: AuthorizationRequest = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, request);

    let request = fixture
        .provider
        .authorize(&app_request(&[]), at(0))
        .await
        .expect("public client with PKCE");
    assert_eq!(
        request.code_challenge.as_ref().map(CodeChallenge::as_str),
        Some(CHALLENGE)
    );
}

#[tokio::test]
async fn sign_in_step_by_table() {
    use SignInStep::*;
    let fixture = fixture().await;
    let received = 1000;
    // (request, session auth_time offset from the request, now offset, expected)
    /// (what, request, session auth_time offset, now offset, expected step or reason)
    type Case = (
        &'static str,
        Params,
        Option<i64>,
        i64,
        Result<SignInStep, &'static str>,
    );
    let cases: Vec<Case> = vec![
        ("no session", web_request(&[]), None, 0, Ok(SignIn)),
        (
            "session, consent skipped",
            web_request(&[]),
            Some(-3600),
            0,
            Ok(Issue),
        ),
        (
            "session, client shows consent",
            app_request(&[]),
            Some(-60),
            0,
            Ok(Confirm),
        ),
        (
            "prompt=consent on a skipping client",
            web_request(&[("prompt", Some("consent"))]),
            Some(-60),
            0,
            Ok(Confirm),
        ),
        (
            "prompt=none without session",
            web_request(&[("prompt", Some("none"))]),
            None,
            0,
            Err("login-required"),
        ),
        (
            "prompt=none with session",
            web_request(&[("prompt", Some("none"))]),
            Some(-60),
            0,
            Ok(Issue),
        ),
        (
            "prompt=none, client wants confirmation",
            app_request(&[("prompt", Some("none"))]),
            Some(-60),
            0,
            Err("consent-required"),
        ),
        (
            "prompt=login, older session",
            web_request(&[("prompt", Some("login"))]),
            Some(-1),
            0,
            Ok(SignIn),
        ),
        (
            "prompt=login, signed in after the request",
            web_request(&[("prompt", Some("login"))]),
            Some(3),
            5,
            Ok(Issue),
        ),
        (
            "prompt=select_account is a fresh sign-in",
            web_request(&[("prompt", Some("select_account"))]),
            Some(-1),
            0,
            Ok(SignIn),
        ),
        (
            "max_age exceeded",
            web_request(&[("max_age", Some("300"))]),
            Some(-301),
            0,
            Ok(SignIn),
        ),
        (
            "max_age just met",
            web_request(&[("max_age", Some("300"))]),
            Some(-300),
            0,
            Ok(Issue),
        ),
        (
            "max_age=0 is prompt=login",
            web_request(&[("max_age", Some("0"))]),
            Some(-1),
            0,
            Ok(SignIn),
        ),
        (
            "max_age exceeded with prompt=none",
            web_request(&[("max_age", Some("300")), ("prompt", Some("none"))]),
            Some(-301),
            0,
            Err("login-required"),
        ),
    ];
    for (what, params, session_offset, now_offset, expected) in cases {
        let request = fixture
            .provider
            .authorize(&params, at(received))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let session = session_offset.map(|offset| Session {
            auth_time: at(received + offset),
        });
        let step = request.sign_in_step(session.as_ref(), at(received + now_offset));
        match (step, expected) {
            (Ok(step), Ok(expected)) => assert_eq!(step, expected, "{what}"),
            (Err(AuthorizationError::Redirect(redirect)), Err(reason)) => {
                assert_eq!(redirect.reason, reason, "{what}");
                let query = query_of(&redirect.location());
                assert_eq!(query["state"], "xyz", "{what}");
            }
            (step, expected) => panic!("{what}: got {step:?}, expected {expected:?}"),
        }
    }
}

#[tokio::test]
async fn a_code_is_not_issued_for_a_sign_in_older_than_prompt_login_asks() {
    let fixture = fixture().await;
    let request = fixture
        .provider
        .authorize(&web_request(&[("prompt", Some("login"))]), at(100))
        .await
        .expect("valid");
    let stale = fixture
        .provider
        .issue_code(&request, &authentication(at(99)), at(100))
        .await
        .expect_err("stale sign-in");
    assert_eq!(stale.reason(), "sign-in-not-fresh");
    let fresh = fixture
        .provider
        .issue_code(&request, &authentication(at(100)), at(101))
        .await
        .expect("fresh sign-in");
    let query = query_of(&fresh.location());
    assert_eq!(query["code"].len(), 43);
    assert_eq!(query["state"], "xyz");
    assert_eq!(query["iss"], ISSUER);
}
