//! The webhook second-factor provider against a real HTTP receiver on 127.0.0.1 (axum): the
//! code certgate POSTs is the one that verifies, once; wrong, replayed, expired and
//! other users' answers fail; a receiver that is down, slow, refusing or redirecting gives a
//! clear error code and leaves nothing answerable behind.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use certgate_core::clock::FixedClock;
use certgate_server::second_factor::{
    ChallengeId, Channel, Recipient, SecondFactorError, SecondFactorProvider, SentChallenge,
    WebhookProvider, WebhookSettings,
};
use serde_json::Value;
use tokio::net::TcpListener;

const START: i64 = 1_700_000_000;
const ALICE: Recipient<'static> = Recipient {
    user_id: "6f2a1c3e-0000-4000-8000-00000000a11c",
    upn: "alice@contoso.com",
};
const BOB: Recipient<'static> = Recipient {
    user_id: "0b0b0b0b-0000-4000-8000-000000000b0b",
    upn: "bob@contoso.com",
};

/// One POST the receiver saw: the JSON body and the Authorization header.
type Delivery = (Value, Option<String>);

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Delivery>>>);

impl Received {
    fn all(&self) -> Vec<Delivery> {
        self.0.lock().expect("received").clone()
    }

    fn last_code(&self) -> String {
        let (body, _) = self.all().pop().expect("a delivered challenge");
        body["code"].as_str().expect("code").to_owned()
    }
}

#[derive(Clone, Copy)]
enum Behaviour {
    Accept,
    Fail,
    Redirect,
    Hang,
}

async fn receive(
    State((received, behaviour)): State<(Received, Behaviour)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    received
        .0
        .lock()
        .expect("received")
        .push((body, authorization));
    match behaviour {
        Behaviour::Accept => StatusCode::ACCEPTED.into_response(),
        Behaviour::Fail => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Behaviour::Redirect => {
            (StatusCode::FOUND, [(header::LOCATION, "/elsewhere")]).into_response()
        }
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
    }
}

/// A webhook receiver on an ephemeral port: its URL and what it receives (at `/send`, and at
/// `/elsewhere` to catch a followed redirect).
async fn receiver(behaviour: Behaviour) -> (String, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/send", post(receive))
        .route("/elsewhere", post(receive))
        .with_state((received.clone(), behaviour));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}/send"), received)
}

fn provider(url: &str, clock: Arc<FixedClock>) -> WebhookProvider<Arc<FixedClock>> {
    let mut settings = WebhookSettings::new(url);
    settings.bearer_token = Some("webhook-token".into());
    settings.timeout = Duration::from_millis(500);
    WebhookProvider::new(settings, clock).expect("provider")
}

async fn send(
    provider: &WebhookProvider<Arc<FixedClock>>,
    recipient: Recipient<'_>,
) -> SentChallenge {
    provider
        .send_challenge(&recipient, Channel::Sms)
        .await
        .expect("send")
}

fn code_of<T: std::fmt::Debug>(result: Result<T, SecondFactorError>) -> &'static str {
    result.expect_err("expected a refusal").code()
}

#[tokio::test]
async fn the_delivered_code_verifies_once() {
    let (url, received) = receiver(Behaviour::Accept).await;
    let clock = Arc::new(FixedClock::at(START));
    let provider = provider(&url, clock.clone());
    let sent = send(&provider, ALICE).await;
    assert_eq!(sent.channel, Channel::Sms);
    assert_eq!(sent.expires_at.0, START + 300);

    let all = received.all();
    assert_eq!(all.len(), 1);
    let (body, authorization) = &all[0];
    assert_eq!(body["challengeId"], sent.id.as_str());
    assert_eq!(body["userId"], ALICE.user_id);
    assert_eq!(body["userPrincipalName"], ALICE.upn);
    assert_eq!(body["channel"], "sms");
    assert_eq!(body["expiresAt"], "2023-11-14T22:18:20Z");
    let code = received.last_code();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(authorization.as_deref(), Some("Bearer webhook-token"));

    let passed = provider
        .check(&sent.id, ALICE.user_id, &code)
        .await
        .expect("the delivered code");
    assert_eq!(passed.user_id, ALICE.user_id);
    assert_eq!(passed.channel, Channel::Sms);
    assert_eq!(
        code_of(provider.check(&sent.id, ALICE.user_id, &code).await),
        "second-factor-used"
    );
}

#[tokio::test]
async fn a_wrong_code_fails_and_the_attempts_are_limited() {
    let (url, received) = receiver(Behaviour::Accept).await;
    let clock = Arc::new(FixedClock::at(START));
    let provider = provider(&url, clock);

    let sent = send(&provider, ALICE).await;
    let code = received.last_code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let error = provider
        .check(&sent.id, ALICE.user_id, wrong)
        .await
        .expect_err("wrong code");
    assert_eq!(error, SecondFactorError::Invalid { attempts_left: 2 });
    assert!(error.to_string().contains("2 attempts left"), "{error}");
    // A wrong attempt does not spend the challenge: the right code still works.
    provider
        .check(&sent.id, ALICE.user_id, &code)
        .await
        .expect("the right code after a wrong one");

    let sent = send(&provider, ALICE).await;
    let code = received.last_code();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(
        code_of(provider.check(&sent.id, ALICE.user_id, wrong).await),
        "second-factor-invalid"
    );
    assert_eq!(
        code_of(provider.check(&sent.id, ALICE.user_id, "12").await),
        "second-factor-invalid"
    );
    assert_eq!(
        code_of(provider.check(&sent.id, ALICE.user_id, wrong).await),
        "second-factor-too-many-attempts"
    );
    assert_eq!(
        code_of(provider.check(&sent.id, ALICE.user_id, &code).await),
        "second-factor-too-many-attempts",
        "after the limit even the right code fails"
    );
}

#[tokio::test]
async fn an_expired_code_fails() {
    let (url, received) = receiver(Behaviour::Accept).await;
    let clock = Arc::new(FixedClock::at(START));
    let provider = provider(&url, clock.clone());
    let sent = send(&provider, ALICE).await;
    let code = received.last_code();
    clock.set(sent.expires_at.0);
    assert_eq!(
        code_of(provider.check(&sent.id, ALICE.user_id, &code).await),
        "second-factor-expired"
    );
}

#[tokio::test]
async fn a_challenge_answers_only_for_its_user_and_only_its_id() {
    let (url, received) = receiver(Behaviour::Accept).await;
    let provider = provider(&url, Arc::new(FixedClock::at(START)));
    let sent = send(&provider, ALICE).await;
    let code = received.last_code();
    assert_eq!(
        code_of(provider.check(&sent.id, BOB.user_id, &code).await),
        "second-factor-unknown-challenge"
    );
    assert_eq!(
        code_of(
            provider
                .check(
                    &ChallengeId::new("00112233445566778899aabbccddeeff"),
                    ALICE.user_id,
                    &code
                )
                .await
        ),
        "second-factor-unknown-challenge"
    );
    provider
        .check(
            &sent.id,
            ALICE.user_id,
            &format!(" {} {} ", &code[..3], &code[3..]),
        )
        .await
        .expect("Alice, spaces and all");
}

#[tokio::test]
async fn outstanding_challenges_per_user_are_limited_until_they_expire() {
    let (url, received) = receiver(Behaviour::Accept).await;
    let clock = Arc::new(FixedClock::at(START));
    let provider = provider(&url, clock.clone());
    for _ in 0..3 {
        send(&provider, ALICE).await;
    }
    assert_eq!(
        code_of(provider.send_challenge(&ALICE, Channel::Voice).await),
        "second-factor-too-many-requests"
    );
    assert_eq!(
        received.all().len(),
        3,
        "the refused request was not delivered"
    );
    send(&provider, BOB).await;
    clock.advance(300);
    let sent = send(&provider, ALICE).await;
    assert!(provider
        .check(&sent.id, ALICE.user_id, &received.last_code())
        .await
        .is_ok());
}

#[tokio::test]
async fn a_webhook_that_is_down_is_a_delivery_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let provider = provider(
        &format!("http://{address}/send"),
        Arc::new(FixedClock::at(START)),
    );
    let error = provider
        .send_challenge(&ALICE, Channel::Voice)
        .await
        .expect_err("nobody listens");
    assert_eq!(error.code(), "second-factor-delivery-failed");
    assert!(
        error
            .to_string()
            .starts_with("the voice call could not be sent"),
        "{error}"
    );
    let SecondFactorError::DeliveryFailed { detail, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(!detail.is_empty());
}

#[tokio::test]
async fn a_slow_webhook_times_out() {
    let (url, received) = receiver(Behaviour::Hang).await;
    let provider = provider(&url, Arc::new(FixedClock::at(START)));
    let started = std::time::Instant::now();
    let error = provider
        .send_challenge(&ALICE, Channel::Push)
        .await
        .expect_err("no answer");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(error.code(), "second-factor-delivery-failed");
    let SecondFactorError::DeliveryFailed { detail, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(detail.contains("no answer"), "{detail}");
    // The code reached the receiver, but certgate will not accept it: delivery failed.
    let (body, _) = received.all().pop().expect("received");
    let id = ChallengeId::new(body["challengeId"].as_str().expect("id"));
    let code = body["code"].as_str().expect("code");
    assert_eq!(
        code_of(provider.check(&id, ALICE.user_id, code).await),
        "second-factor-unknown-challenge"
    );
}

#[tokio::test]
async fn a_refusing_webhook_is_a_rejection_and_nothing_stays_answerable() {
    let (url, received) = receiver(Behaviour::Fail).await;
    let provider = provider(&url, Arc::new(FixedClock::at(START)));
    let error = provider
        .send_challenge(&ALICE, Channel::Sms)
        .await
        .expect_err("refused");
    assert_eq!(
        error,
        SecondFactorError::DeliveryRejected {
            channel: Channel::Sms,
            status: 500
        }
    );
    assert_eq!(error.code(), "second-factor-delivery-rejected");
    let (body, _) = received.all().pop().expect("received");
    let id = ChallengeId::new(body["challengeId"].as_str().expect("id"));
    assert_eq!(
        code_of(
            provider
                .check(&id, ALICE.user_id, body["code"].as_str().expect("code"))
                .await
        ),
        "second-factor-unknown-challenge"
    );
    // Failed deliveries do not use up the user's allowance.
    for _ in 0..5 {
        assert_eq!(
            code_of(provider.send_challenge(&ALICE, Channel::Sms).await),
            "second-factor-delivery-rejected"
        );
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (url, received) = receiver(Behaviour::Redirect).await;
    let provider = provider(&url, Arc::new(FixedClock::at(START)));
    let error = provider
        .send_challenge(&ALICE, Channel::Sms)
        .await
        .expect_err("redirected");
    assert_eq!(
        error,
        SecondFactorError::DeliveryRejected {
            channel: Channel::Sms,
            status: 302
        }
    );
    assert_eq!(
        received.all().len(),
        1,
        "only /send was called, not /elsewhere"
    );
}

#[test]
fn only_http_and_https_urls_with_a_host_are_allowed() {
    let clock = Arc::new(FixedClock::at(START));
    for url in [
        "file:///etc/passwd",
        "ftp://sms.example/send",
        "sms.example/send",
        "http://",
        "",
    ] {
        let error = WebhookProvider::new(WebhookSettings::new(url), clock.clone())
            .err()
            .unwrap_or_else(|| panic!("{url} was accepted"));
        assert_eq!(error.code(), "second-factor-config-invalid", "{url}");
    }
    for url in [
        "http://127.0.0.1:9/send",
        "https://sms.example/send?tenant=1",
    ] {
        assert!(
            WebhookProvider::new(WebhookSettings::new(url), clock.clone()).is_ok(),
            "{url}"
        );
    }
}
