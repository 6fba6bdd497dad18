//! The token endpoint end to end on the in-memory store: signatures checked against the
//! published JWKS, PKCE, client authentication, single-use codes, refresh rotation with reuse
//! detection, every refresh refusal, userinfo and end-session.

mod common;

use std::time::Duration;

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use certgate_oidc::*;
use common::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// The JWKS as a relying party gets it: serialized by the provider, parsed by jsonwebtoken.
fn published_jwks(
    provider: &TestProvider,
    now: certgate_pki::UnixTime,
) -> jsonwebtoken::jwk::JwkSet {
    let json = serde_json::to_string(&provider.jwks(now)).expect("serialize the JWKS");
    serde_json::from_str(&json).expect("jsonwebtoken reads the JWKS")
}

/// Verifies `token` as a relying party would: key by `kid` from the JWKS, ES256 only,
/// audience and issuer checked (at the real clock, which is far from the test instants, so
/// expiry is checked separately by the tests).
fn verify_with_jwks(
    token: &str,
    jwks: &jsonwebtoken::jwk::JwkSet,
    audience: &str,
) -> serde_json::Value {
    let header = jsonwebtoken::decode_header(token).expect("header");
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("a kid");
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let key = DecodingKey::from_jwk(jwk).expect("an EC key");
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.validate_exp = false;
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .expect("signature verifies with the published key")
        .claims
}

/// The same check with aws-lc-rs directly from the JWK's x and y (RFC 7518 §3.4: the JWS
/// signature is R || S).
fn verify_with_aws_lc(token: &str, jwks: &JwkSet) {
    let (signed, signature) = token.rsplit_once('.').expect("a JWS");
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(signed.split('.').next().expect("header"))
            .expect("base64url"),
    )
    .expect("json");
    let jwk = jwks
        .find(header["kid"].as_str().expect("kid"))
        .expect("published");
    let mut point = vec![0x04];
    point.extend(URL_SAFE_NO_PAD.decode(&jwk.x).expect("x"));
    point.extend(URL_SAFE_NO_PAD.decode(&jwk.y).expect("y"));
    assert_eq!(point.len(), 65);
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("signature");
    assert_eq!(signature.len(), 64);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(signed.as_bytes(), &signature)
        .expect("aws-lc-rs verifies the signature");
}

#[tokio::test]
async fn id_and_access_tokens_verify_with_the_published_jwks() {
    let fixture = fixture().await;
    let tokens = web_tokens(&fixture, at(10)).await;
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 3600);
    assert_eq!(tokens.scope, "email offline_access openid profile");
    assert!(tokens.refresh_token.as_ref().is_some_and(|t| t.len() == 43));

    let jwks = published_jwks(&fixture.provider, at(10));
    assert_eq!(jwks.keys.len(), 2, "current and next");
    let id = verify_with_jwks(&tokens.id_token, &jwks, "mail-web");
    verify_with_aws_lc(&tokens.id_token, &fixture.provider.jwks(at(10)));
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["sub"], USER);
    assert_eq!(id["oid"], USER);
    assert_eq!(id["aud"], "mail-web");
    assert_eq!(id["iat"], at(10).0);
    assert_eq!(id["exp"], at(10).0 + 3600);
    assert_eq!(id["auth_time"], at(10).0);
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["upn"], "ada@example.test");
    assert_eq!(id["name"], "Ada Lovelace");
    assert_eq!(id["email"], "ada@example.test");
    assert_eq!(id["amr"], serde_json::json!(["swk", "otp", "mfa"]));
    assert_eq!(id["acr"], ACR_MFA);
    assert_eq!(id["x5_serial"], "4f1e0a9b7c");
    assert_eq!(id["x5_issuer"], "CN=Example Issuing CA, O=Example");
    let header = jsonwebtoken::decode_header(&tokens.id_token).expect("header");
    assert_eq!(header.typ.as_deref(), Some("JWT"));

    let access = verify_with_jwks(&tokens.access_token, &jwks, "mail-web");
    verify_with_aws_lc(&tokens.access_token, &fixture.provider.jwks(at(10)));
    let header = jsonwebtoken::decode_header(&tokens.access_token).expect("header");
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(access["sub"], USER);
    assert_eq!(access["client_id"], "mail-web");
    assert_eq!(access["scope"], "email offline_access openid profile");
    assert_eq!(access["exp"], at(10).0 + 3600);
    assert_eq!(access["jti"].as_str().map(str::len), Some(22));
    assert!(access["grant_id"].is_string());
}

#[tokio::test]
async fn claims_follow_the_granted_scopes() {
    let fixture = fixture().await;
    let request = fixture
        .provider
        .authorize(
            &pairs(&[
                ("response_type", "code"),
                ("client_id", "mail-web"),
                ("redirect_uri", WEB_REDIRECT),
                ("scope", "openid"),
            ]),
            at(0),
        )
        .await
        .expect("valid");
    let code = query_of(
        &fixture
            .provider
            .issue_code(&request, &authentication(at(0)), at(0))
            .await
            .expect("code")
            .location(),
    )["code"]
        .clone();
    let tokens = redeem_web_code(&fixture, &code, at(1))
        .await
        .expect("tokens");
    let id = payload(&tokens.id_token);
    assert!(id.get("name").is_none() && id.get("email").is_none());
    assert!(id.get("nonce").is_none());
    assert_eq!(
        tokens.refresh_token, None,
        "no refresh token without offline_access"
    );
}

async fn app_code(fixture: &Fixture, now: certgate_pki::UnixTime) -> String {
    let request = fixture
        .provider
        .authorize(
            &pairs(&[
                ("response_type", "code"),
                ("client_id", "mail-app"),
                ("redirect_uri", APP_REDIRECT),
                ("scope", "openid offline_access"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]),
            now,
        )
        .await
        .expect("valid");
    let location = fixture
        .provider
        .issue_code(&request, &authentication(now), now)
        .await
        .expect("code")
        .location();
    assert!(location.starts_with("com.example.mail:/oauth2redirect?code="));
    query_of(&location)["code"].clone()
}

async fn app_token(
    fixture: &Fixture,
    code: &str,
    verifier: Option<&str>,
    now: certgate_pki::UnixTime,
) -> Result<TokenResponse, TokenError> {
    let mut form = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", APP_REDIRECT),
        ("client_id", "mail-app"),
    ]);
    if let Some(verifier) = verifier {
        form.push(("code_verifier".into(), verifier.into()));
    }
    fixture
        .provider
        .token(&TokenRequest::parse(&form, None).expect("parse"), now)
        .await
}

#[tokio::test]
async fn pkce_verifier_is_checked_with_the_rfc_7636_vector() {
    let fixture = fixture().await;
    let code = app_code(&fixture, at(0)).await;
    let wrong = format!("{}x", &VERIFIER[..VERIFIER.len() - 1]);
    let cases: &[(Option<&str>, &str)] = &[
        (None, "pkce-verifier-missing"),
        (Some(&wrong), "pkce-verifier-mismatch"),
        (Some("short"), "pkce-verifier-malformed"),
    ];
    for (verifier, reason) in cases {
        let error = app_token(&fixture, &code, *verifier, at(1))
            .await
            .expect_err(reason);
        assert_eq!(
            (error.error, error.reason),
            (TokenErrorCode::InvalidGrant, *reason)
        );
    }
    // The failed attempts did not use the code up.
    let tokens = app_token(&fixture, &code, Some(VERIFIER), at(2))
        .await
        .expect("the right verifier");
    assert!(tokens.refresh_token.is_some());

    // A verifier where the request had no challenge is a downgrade attempt.
    let code = web_code(&fixture, at(0), &[]).await;
    let form = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", VERIFIER),
    ]);
    let request =
        TokenRequest::parse(&form, Some(&basic("mail-web", &fixture.web_secret))).expect("parse");
    let error = fixture
        .provider
        .token(&request, at(1))
        .await
        .expect_err("unexpected verifier");
    assert_eq!(error.reason, "pkce-verifier-unexpected");
}

#[tokio::test]
async fn client_authentication_is_enforced() {
    let fixture = fixture().await;
    let code = web_code(&fixture, at(0), &[]).await;
    let form = |extra: &[(&str, &str)]| {
        let mut form = pairs(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", WEB_REDIRECT),
        ]);
        form.extend(pairs(extra));
        form
    };
    let wrong_secret = basic("mail-web", "not-the-secret");
    let cases: Vec<(Params, Option<&str>, &str)> = vec![
        (form(&[]), Some(&wrong_secret), "client-secret-wrong"),
        (
            form(&[("client_id", "mail-web"), ("client_secret", "nope")]),
            None,
            "client-secret-wrong",
        ),
        (
            form(&[("client_id", "mail-web")]),
            None,
            "client-secret-missing",
        ),
        (
            form(&[("client_id", "mail-app"), ("client_secret", "x")]),
            None,
            "client-secret-unexpected",
        ),
        (form(&[("client_id", "nobody")]), None, "client-unknown"),
    ];
    for (form, header, reason) in cases {
        let request = TokenRequest::parse(&form, header).expect("parse");
        let error = fixture
            .provider
            .token(&request, at(1))
            .await
            .expect_err(reason);
        assert_eq!(
            (error.error, error.reason),
            (TokenErrorCode::InvalidClient, reason)
        );
        assert_eq!(error.status(), 401);
    }
    // client_secret_post works as well as basic.
    let request = TokenRequest::parse(
        &form(&[
            ("client_id", "mail-web"),
            ("client_secret", &fixture.web_secret),
        ]),
        None,
    )
    .expect("parse");
    fixture
        .provider
        .token(&request, at(1))
        .await
        .expect("client_secret_post");
}

#[tokio::test]
async fn code_checks_by_table() {
    let fixture = fixture().await;
    let code = web_code(&fixture, at(0), &[]).await;
    let attempt = |code: String, redirect: &'static str, now: i64| {
        let secret = fixture.web_secret.clone();
        let provider = &fixture.provider;
        async move {
            let form = pairs(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
            ]);
            let request =
                TokenRequest::parse(&form, Some(&basic("mail-web", &secret))).expect("parse");
            provider.token(&request, at(now)).await
        }
    };
    let unknown = attempt("x".repeat(43), WEB_REDIRECT, 1)
        .await
        .expect_err("unknown");
    assert_eq!(unknown.reason, "code-unknown");
    let expired = attempt(code.clone(), WEB_REDIRECT, 60)
        .await
        .expect_err("expired");
    assert_eq!(expired.reason, "code-expired");
    let redirect = attempt(code.clone(), "https://mail.example.test/other", 1)
        .await
        .expect_err("redirect");
    assert_eq!(redirect.reason, "code-redirect-uri-mismatch");
    // Another client cannot redeem it (the public app authenticates with its id alone).
    let error = app_token(&fixture, &code, Some(VERIFIER), at(1))
        .await
        .expect_err("other client");
    assert_eq!(error.reason, "code-client-mismatch");
    // None of the refusals used it: 59 s after issue it is still good.
    attempt(code, WEB_REDIRECT, 59)
        .await
        .expect("still redeemable");
}

#[tokio::test]
async fn a_code_is_single_use_and_a_replay_revokes_what_it_gave() {
    let fixture = fixture().await;
    let code = web_code(&fixture, at(0), &[]).await;
    let tokens = redeem_web_code(&fixture, &code, at(1))
        .await
        .expect("first use");
    fixture
        .provider
        .userinfo(&tokens.access_token, at(2))
        .await
        .expect("userinfo before the replay");

    let replay = redeem_web_code(&fixture, &code, at(3))
        .await
        .expect_err("replay");
    assert_eq!(
        (replay.error, replay.reason),
        (TokenErrorCode::InvalidGrant, "code-reused")
    );

    let refresh = tokens.refresh_token.expect("refresh token");
    let error = refresh_web(&fixture, &refresh, at(4))
        .await
        .expect_err("revoked");
    assert_eq!(error.reason, "refresh-token-revoked");
    assert!(error.message.contains("code-reused"));
    let error = fixture
        .provider
        .userinfo(&tokens.access_token, at(4))
        .await
        .expect_err("revoked");
    assert_eq!(error.reason, "grant-revoked");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let fixture = fixture().await;
    let first = web_tokens(&fixture, at(0)).await;
    let r1 = first.refresh_token.expect("r1");
    let second = refresh_web(&fixture, &r1, at(100)).await.expect("r1 → r2");
    let r2 = second.refresh_token.clone().expect("r2");
    assert_ne!(r1, r2);
    let id = payload(&second.id_token);
    assert_eq!(id["auth_time"], at(0).0, "auth_time stays the sign-in's");
    assert_eq!(id["iat"], at(100).0);
    assert!(
        id.get("nonce").is_none(),
        "no nonce in a refreshed ID token"
    );
    assert_eq!(id["amr"], serde_json::json!(["swk", "otp", "mfa"]));
    let third = refresh_web(&fixture, &r2, at(200)).await.expect("r2 → r3");
    let r3 = third.refresh_token.clone().expect("r3");

    // r1 was replaced: presenting it again is reuse, and the whole family goes.
    let reuse = refresh_web(&fixture, &r1, at(300))
        .await
        .expect_err("reuse");
    assert_eq!(
        (reuse.error, reuse.reason),
        (TokenErrorCode::InvalidGrant, "refresh-token-reused")
    );
    let error = refresh_web(&fixture, &r3, at(301))
        .await
        .expect_err("family revoked");
    assert_eq!(error.reason, "refresh-token-revoked");
    assert!(error.message.contains("refresh-token-reused"));
    let error = fixture
        .provider
        .userinfo(&third.access_token, at(302))
        .await
        .expect_err("access tokens of the family too");
    assert_eq!(error.reason, "grant-revoked");
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    let fixture = fixture().await;
    let tokens = web_tokens(&fixture, at(0)).await;
    let refresh = tokens.refresh_token.expect("refresh");
    let request = |scope: &str, token: &str| {
        TokenRequest::parse(
            &pairs(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("scope", scope),
            ]),
            Some(&basic("mail-web", &fixture.web_secret)),
        )
        .expect("parse")
    };
    let wider = fixture
        .provider
        .token(&request("openid admin", &refresh), at(1))
        .await
        .expect_err("wider");
    assert_eq!(
        (wider.error, wider.reason),
        (TokenErrorCode::InvalidScope, "scope-not-granted")
    );
    let narrower = fixture
        .provider
        .token(&request("openid", &refresh), at(2))
        .await
        .expect("narrower");
    assert_eq!(narrower.scope, "openid");
    assert_eq!(payload(&narrower.access_token)["scope"], "openid");
    assert!(payload(&narrower.id_token).get("email").is_none());
    // The grant keeps its scope: the next refresh without `scope` gets all of it back.
    let next = refresh_web(&fixture, &narrower.refresh_token.expect("rotated"), at(3))
        .await
        .expect("full scope");
    assert_eq!(next.scope, "email offline_access openid profile");
}

/// One refusal: what changes in the directory or the CRL, and the reason code.
struct Refusal {
    what: &'static str,
    change: fn(&Fixture),
    undo: Option<fn(&Fixture)>,
    reason: &'static str,
}

fn enabled_with(valid_from: Option<i64>) -> UserStatus {
    UserStatus {
        account: AccountState::Enabled,
        sts_refresh_tokens_valid_from: valid_from.map(at),
    }
}

#[tokio::test]
async fn refresh_refusals_by_table() {
    let refusals = [
        Refusal {
            what: "user disabled",
            change: |f| {
                f.provider.policy().set_user(
                    USER,
                    UserStatus {
                        account: AccountState::Disabled,
                        sts_refresh_tokens_valid_from: None,
                    },
                )
            },
            undo: Some(|f| f.provider.policy().set_user(USER, enabled_with(None))),
            reason: "user-disabled",
        },
        Refusal {
            what: "sessions revoked after the sign-in",
            change: |f| f.provider.policy().set_user(USER, enabled_with(Some(50))),
            undo: None,
            reason: "refresh-token-revoked-by-sts",
        },
        Refusal {
            what: "certificate revoked",
            change: |f| {
                f.provider
                    .policy()
                    .revoke(&authentication(at(0)).certificate, "keyCompromise")
            },
            undo: None,
            reason: "cert-revoked",
        },
        Refusal {
            what: "CRL unavailable",
            change: |f| {
                f.provider
                    .policy()
                    .crl_unavailable(&authentication(at(0)).certificate.issuer)
            },
            undo: None,
            reason: "crl-unavailable",
        },
        Refusal {
            what: "user deleted",
            change: |f| f.provider.policy().remove_user(USER),
            undo: Some(|f| f.provider.policy().set_user(USER, enabled_with(None))),
            reason: "user-not-found",
        },
    ];
    for refusal in refusals {
        let fixture = fixture().await;
        let tokens = web_tokens(&fixture, at(0)).await;
        let refresh = tokens.refresh_token.expect("refresh");
        (refusal.change)(&fixture);
        let error = refresh_web(&fixture, &refresh, at(100))
            .await
            .expect_err(refusal.what);
        assert_eq!(
            (error.error, error.reason),
            (TokenErrorCode::InvalidGrant, refusal.reason),
            "{}",
            refusal.what
        );
        let body = serde_json::to_value(error.body()).expect("json");
        assert_eq!(body["error"], "invalid_grant");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with(&format!("{}: ", refusal.reason))),
            "{}: {body}",
            refusal.what
        );
        // userinfo applies the same rules.
        let error = fixture
            .provider
            .userinfo(&tokens.access_token, at(100))
            .await
            .expect_err(refusal.what);
        assert_eq!(error.reason, refusal.reason, "{}", refusal.what);
        // A refusal does not use the token up: once the directory says yes again, it works.
        if let Some(undo) = refusal.undo {
            undo(&fixture);
            refresh_web(&fixture, &refresh, at(101))
                .await
                .unwrap_or_else(|e| panic!("{} undone: {e:?}", refusal.what));
        }
    }
}

#[tokio::test]
async fn sts_valid_from_before_the_sign_in_does_not_refuse() {
    let fixture = fixture().await;
    // Revoked at 50, signed in again at 60: the new sign-in's tokens are good.
    fixture
        .provider
        .policy()
        .set_user(USER, enabled_with(Some(50)));
    let tokens = web_tokens(&fixture, at(60)).await;
    refresh_web(&fixture, &tokens.refresh_token.expect("refresh"), at(100))
        .await
        .expect("signed in after StsRefreshTokensValidFrom");
}

#[tokio::test]
async fn a_revocation_in_the_same_second_as_the_sign_in_refuses_its_tokens() {
    // Both times are whole seconds: a sign-in at 60 and a revocation at 60 cannot be ordered,
    // so the revocation wins.
    let fixture = fixture().await;
    let tokens = web_tokens(&fixture, at(60)).await;
    fixture
        .provider
        .policy()
        .set_user(USER, enabled_with(Some(60)));
    let error = refresh_web(&fixture, &tokens.refresh_token.expect("refresh"), at(61))
        .await
        .expect_err("revoked in the second of the sign-in");
    assert_eq!(error.reason, "refresh-token-revoked-by-sts");
}

#[tokio::test]
async fn a_code_is_refused_when_the_user_was_disabled_after_signing_in() {
    let fixture = fixture().await;
    let code = web_code(&fixture, at(0), &[]).await;
    fixture.provider.policy().set_user(
        USER,
        UserStatus {
            account: AccountState::Disabled,
            sts_refresh_tokens_valid_from: None,
        },
    );
    let error = redeem_web_code(&fixture, &code, at(1))
        .await
        .expect_err("disabled");
    assert_eq!(error.reason, "user-disabled");
}

#[tokio::test]
async fn refresh_tokens_expire_with_the_grant_and_stay_with_their_client() {
    let fixture = fixture().await;
    let tokens = web_tokens(&fixture, at(0)).await;
    let refresh = tokens.refresh_token.expect("refresh");
    let form = pairs(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh),
        ("client_id", "mail-app"),
    ]);
    let error = fixture
        .provider
        .token(&TokenRequest::parse(&form, None).expect("parse"), at(1))
        .await
        .expect_err("other client");
    assert_eq!(error.reason, "refresh-token-client-mismatch");
    let week = i64::try_from(TokenLifetimes::default().refresh_token.as_secs()).expect("fits");
    let error = refresh_web(&fixture, &refresh, at(week))
        .await
        .expect_err("expired");
    assert_eq!(error.reason, "refresh-token-expired");
    refresh_web(&fixture, &refresh, at(week - 1))
        .await
        .expect("the last second of the grant");
    let error = refresh_web(&fixture, &"r".repeat(43), at(2))
        .await
        .expect_err("unknown");
    assert_eq!(error.reason, "refresh-token-unknown");
}

#[tokio::test]
async fn userinfo_returns_the_claims_of_a_valid_access_token_only() {
    let fixture = fixture().await;
    let tokens = web_tokens(&fixture, at(0)).await;
    let info = fixture
        .provider
        .userinfo(&tokens.access_token, at(1))
        .await
        .expect("userinfo");
    assert_eq!(
        serde_json::to_value(&info).expect("json"),
        serde_json::json!({
            "sub": USER,
            "oid": USER,
            "upn": "ada@example.test",
            "name": "Ada Lovelace",
            "email": "ada@example.test",
        })
    );
    let cases: Vec<(String, i64, &str)> = vec![
        (tokens.id_token.clone(), 1, "token-type-wrong"),
        (tokens.access_token.clone(), 3600, "token-expired"),
        ("garbage".into(), 1, "token-malformed"),
        (
            {
                // Change one character inside the signature. Not the last one: its low bits
                // are padding that a decoder may ignore, which made this case flaky.
                let mut token = tokens.access_token.clone().into_bytes();
                let at = token.len() - 10;
                token[at] = if token[at] == b'A' { b'Q' } else { b'A' };
                String::from_utf8(token).expect("ASCII")
            },
            1,
            "token-signature-invalid",
        ),
    ];
    for (token, now, reason) in cases {
        let error = fixture
            .provider
            .userinfo(&token, at(now))
            .await
            .expect_err(reason);
        assert_eq!(
            (error.error, error.reason),
            (BearerErrorCode::InvalidToken, reason)
        );
        assert_eq!(error.status(), 401);
        assert!(error.www_authenticate().contains("error=\"invalid_token\""));
    }
}

#[tokio::test]
async fn end_session_redirects_only_to_registered_uris() {
    let fixture = fixture().await;
    let tokens = web_tokens(&fixture, at(0)).await;
    // An expired hint is still accepted (RP-Initiated Logout §2).
    let now = at(2 * 3600);
    let done = fixture
        .provider
        .end_session(
            &pairs(&[
                ("id_token_hint", &tokens.id_token),
                ("post_logout_redirect_uri", LOGOUT_REDIRECT),
                ("state", "bye"),
            ]),
            now,
        )
        .await
        .expect("logout");
    assert_eq!(done.user, Some(ObjectId(USER.into())));
    assert_eq!(
        done.client_id.as_ref().map(ClientId::as_str),
        Some("mail-web")
    );
    assert_eq!(
        done.redirect.as_deref(),
        Some("https://mail.example.test/signed-out?state=bye")
    );

    let without_redirect = fixture
        .provider
        .end_session(&pairs(&[]), now)
        .await
        .expect("bare logout");
    assert_eq!(without_redirect.redirect, None);

    let cases: Vec<(Params, &str)> = vec![
        (
            pairs(&[
                ("client_id", "mail-web"),
                ("post_logout_redirect_uri", "https://evil.test/"),
            ]),
            "post-logout-redirect-uri-not-registered",
        ),
        (
            pairs(&[("post_logout_redirect_uri", LOGOUT_REDIRECT)]),
            "client-id-missing",
        ),
        (
            pairs(&[("id_token_hint", "not.a.token")]),
            "id-token-hint-invalid",
        ),
        (
            pairs(&[("id_token_hint", &tokens.access_token)]),
            "id-token-hint-invalid",
        ),
        (
            pairs(&[
                ("id_token_hint", &tokens.id_token),
                ("client_id", "mail-app"),
            ]),
            "client-id-mismatch",
        ),
        (
            pairs(&[
                ("client_id", "nobody"),
                ("post_logout_redirect_uri", LOGOUT_REDIRECT),
            ]),
            "client-unknown",
        ),
    ];
    for (params, reason) in cases {
        let error = fixture
            .provider
            .end_session(&params, now)
            .await
            .expect_err(reason);
        assert_eq!(error.reason, reason, "{params:?}");
    }
}

#[tokio::test]
async fn clients_are_registered_with_an_audit_event_and_unique_ids() {
    let fixture = fixture().await;
    let audit = fixture.provider.store().audit();
    let registrations: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "oidc.client.register")
        .map(|e| (e.actor.as_str(), e.target.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        registrations,
        vec![
            ("cli:admin", "mail-web", "ok"),
            ("cli:admin", "mail-app", "ok")
        ]
    );
    let again = fixture
        .provider
        .register_client(
            NewClient {
                client_id: ClientId::parse("mail-web").expect("id"),
                display_name: "Again".into(),
                kind: ClientKind::Public,
                redirect_uris: vec![WEB_REDIRECT.into()],
                post_logout_redirect_uris: vec![],
                consent: ConsentPrompt::Show,
                allowed_scopes: ScopeSet::of(&[OPENID]),
                lifetimes: TokenLifetimes {
                    access_token: Duration::from_secs(600),
                    ..TokenLifetimes::default()
                },
                require_domain_password: false,
            },
            at(1),
            "cli:admin",
        )
        .await
        .expect_err("taken");
    assert_eq!(again.code(), "store-conflict");
}
