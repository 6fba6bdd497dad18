//! Out-of-band second factors (SMS, voice call, push): certgate makes a one-time code, a
//! provider delivers it, and the person types it back on the sign-in page.
//!
//! [`SecondFactorProvider`] is the interface; [`WebhookProvider`] is the implementation that
//! POSTs each challenge as JSON to a configured URL, where the organisation's own gateway
//! (an SMS or voice service, a push service) delivers it. The code is made and checked here,
//! never by the gateway: it is compared in constant time, used once, expires, and allows a
//! few attempts. The receiver authenticates certgate by the optional bearer token.
//!
//! Challenges live in this process's memory. With several nodes, the sign-in that asked for
//! a code must come back to the same node to check it (sticky sessions), or the check fails
//! as `second-factor-unknown-challenge`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_lc_rs::constant_time;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use certgate_core::clock::{rfc3339, Clock};
use certgate_pki::{ReasonCode, UnixTime};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::{Client, Url};
use serde_json::json;

use crate::outbound_http::{client_builder, error_chain};

/// Digits in a delivered code: what people expect from an SMS code.
const CODE_DIGITS: usize = 6;

/// How the code reaches the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A text message.
    Sms,
    /// A voice call that reads the code out.
    Voice,
    /// A push notification to the person's device.
    Push,
}

impl Channel {
    /// The name in the webhook's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Push => "push",
        }
    }

    /// The channel [`Channel::as_str`] names; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sms" => Some(Channel::Sms),
            "voice" => Some(Channel::Voice),
            "push" => Some(Channel::Push),
            _ => None,
        }
    }

    /// For messages: "text message", "voice call", "push notification".
    fn spoken(self) -> &'static str {
        match self {
            Channel::Sms => "text message",
            Channel::Voice => "voice call",
            Channel::Push => "push notification",
        }
    }
}

/// Who a challenge is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipient<'a> {
    /// The directory object ID.
    pub user_id: &'a str,
    /// The user principal name; the gateway gets it with the object ID (`userPrincipalName`).
    pub upn: &'a str,
}

/// Names one challenge; the sign-in session keeps it between asking for a code and checking
/// it. 128 random bits in hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChallengeId(String);

impl ChallengeId {
    /// Takes back an ID the session kept. Anything else simply matches no challenge.
    pub fn new(text: impl Into<String>) -> Self {
        ChallengeId(text.into())
    }

    /// The ID as text, for the sign-in session to keep.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A challenge that was handed to the provider for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentChallenge {
    /// Names the challenge when the answer is checked.
    pub id: ChallengeId,
    /// How the code was sent.
    pub channel: Channel,
    /// When the code stops working.
    pub expires_at: UnixTime,
}

/// A challenge answered correctly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassedChallenge {
    /// The directory object ID of the user who answered.
    pub user_id: String,
    /// The channel the answered code went by.
    pub channel: Channel,
}

/// Why sending or checking a challenge failed. Messages are for the person signing in;
/// `detail` fields are for the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecondFactorError {
    /// The configured webhook URL is not http(s) with a host (`second-factor-config-invalid`).
    #[error(
        "the second-factor webhook URL \"{url}\" is not an http:// or https:// URL with a host"
    )]
    UrlNotAllowed {
        /// The URL as configured.
        url: String,
    },
    /// The webhook did not answer: no connection, or no answer within the timeout.
    #[error("the {} could not be sent because the delivery service did not answer; try again in a minute, or use another sign-in method", .channel.spoken())]
    DeliveryFailed {
        /// The channel the code was for.
        channel: Channel,
        /// The HTTP client's error, for the log.
        detail: String,
    },
    /// The webhook answered with a status other than 2xx (a redirect included: none is
    /// followed).
    #[error("the {} could not be sent: the delivery service refused it (HTTP {status}); try again later, or tell your administrator", .channel.spoken())]
    DeliveryRejected {
        /// The channel the code was for.
        channel: Channel,
        /// The HTTP status it answered.
        status: u16,
    },
    /// The user already has the most unexpired codes allowed (`max_outstanding_per_user`).
    #[error("too many codes were requested; wait a few minutes and ask for a new code")]
    TooManyRequests,
    /// The answer is not the code sent.
    #[error("that code is not correct; check the code you received and enter it again ({attempts_left} attempts left)")]
    Invalid {
        /// Wrong answers the challenge still allows.
        attempts_left: u32,
    },
    /// The code's lifetime is over.
    #[error("that code has expired; ask for a new code")]
    Expired,
    /// The code already signed in once.
    #[error("that code was already used; ask for a new code")]
    Used,
    /// The challenge allows no more wrong answers (`max_attempts`).
    #[error("too many wrong codes; ask for a new code")]
    TooManyAttempts,
    /// No such challenge in this process's memory, or it is another user's.
    #[error("this code request is not known here (it may have expired or been made on another server); ask for a new code")]
    UnknownChallenge,
    /// The system random number generator failed; no code was made.
    #[error("the system random number generator failed")]
    RandomUnavailable,
    /// The HTTP client for the webhook could not be set up (the TLS configuration, say).
    #[error("codes cannot be sent from this server ({detail}); use another sign-in method, or tell your administrator")]
    ClientUnavailable {
        /// Why, for the log.
        detail: String,
    },
}

impl SecondFactorError {
    /// Every reason code these errors are refused with, with what it means and what to do.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "second-factor-config-invalid",
            "The second-factor webhook URL is not an http:// or https:// URL with a host, so codes cannot be sent by text message, voice call or push.",
            "Administrators: configure the webhook URL (`WebhookSettings::url`) as an http:// or https:// URL with a host name.",
        ),
        ReasonCode::new(
            "second-factor-delivery-failed",
            "The delivery service behind the second-factor webhook did not answer (no connection, or no answer within the timeout), so the code was not sent; the request does not count against the person.",
            "Try again in a minute, or use another sign-in method. Administrators: check that the webhook URL is reachable from certgate and answers within the timeout; the server log has the error.",
        ),
        ReasonCode::new(
            "second-factor-delivery-rejected",
            "The delivery service behind the second-factor webhook refused to send the code (an HTTP status other than 2xx; redirects are not followed); the request does not count against the person.",
            "Try again later, or tell your administrator. Administrators: check the webhook's bearer token and the gateway's own log for the status certgate received.",
        ),
        ReasonCode::new(
            "second-factor-too-many-requests",
            "The person already has as many unexpired codes waiting as allowed (3 by default), so no new code was sent: a bound on what a stolen certificate can make certgate send.",
            "Wait a few minutes for the earlier codes to expire, or enter the last code received, then ask for a new one if needed.",
        ),
        ReasonCode::new(
            "second-factor-invalid",
            "The code entered is not the one sent; the page says how many attempts are left.",
            "Check the code in the latest message you received and enter it again.",
        ),
        ReasonCode::new(
            "second-factor-expired",
            "The code entered was sent too long ago (a code lives 5 minutes by default).",
            "Ask for a new code and enter it soon after it arrives.",
        ),
        ReasonCode::new(
            "second-factor-used",
            "The code entered was already used; each code signs in once.",
            "Ask for a new code and enter that one.",
        ),
        ReasonCode::new(
            "second-factor-too-many-attempts",
            "Too many wrong codes were entered for this code (3 by default), so it no longer signs in.",
            "Ask for a new code, and check it carefully before entering it.",
        ),
        ReasonCode::new(
            "second-factor-unknown-challenge",
            "The code request is not known on this server: it expired and was removed, it belongs to another user, or it was made on another server (codes are kept in each server's memory).",
            "Ask for a new code. Administrators: with several servers, send each sign-in back to the same server (sticky sessions).",
        ),
        ReasonCode::new(
            "second-factor-random-unavailable",
            "The system's random number generator failed, so no code could be made; nothing was sent.",
            "Try again in a minute. Administrators: check the operating system's random number source; the server log has the error.",
        ),
        ReasonCode::new(
            "second-factor-unavailable",
            "Codes cannot be sent from this server: its HTTP client for the second-factor webhook could not be set up.",
            "Use another sign-in method, or tell your administrator. Administrators: the server log says why the HTTP client could not be set up (for example the TLS configuration).",
        ),
    ];

    /// The stable reason code of this error (one of [`SecondFactorError::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            SecondFactorError::UrlNotAllowed { .. } => "second-factor-config-invalid",
            SecondFactorError::DeliveryFailed { .. } => "second-factor-delivery-failed",
            SecondFactorError::DeliveryRejected { .. } => "second-factor-delivery-rejected",
            SecondFactorError::TooManyRequests => "second-factor-too-many-requests",
            SecondFactorError::Invalid { .. } => "second-factor-invalid",
            SecondFactorError::Expired => "second-factor-expired",
            SecondFactorError::Used => "second-factor-used",
            SecondFactorError::TooManyAttempts => "second-factor-too-many-attempts",
            SecondFactorError::UnknownChallenge => "second-factor-unknown-challenge",
            SecondFactorError::RandomUnavailable => "second-factor-random-unavailable",
            SecondFactorError::ClientUnavailable { .. } => "second-factor-unavailable",
        }
    }
}

/// An out-of-band factor: deliver a challenge to the person, then check their answer.
pub trait SecondFactorProvider: Send + Sync {
    /// Makes a code for `recipient` and has it delivered by `channel`; an undelivered code does
    /// not count against the user and cannot be answered.
    fn send_challenge(
        &self,
        recipient: &Recipient<'_>,
        channel: Channel,
    ) -> impl Future<Output = Result<SentChallenge, SecondFactorError>> + Send;

    /// Checks `response` for `challenge`, which must belong to `user_id`. A correct answer
    /// uses the challenge up.
    fn check(
        &self,
        challenge: &ChallengeId,
        user_id: &str,
        response: &str,
    ) -> impl Future<Output = Result<PassedChallenge, SecondFactorError>> + Send;
}

/// How the webhook provider runs.
#[derive(Clone)]
pub struct WebhookSettings {
    /// Where challenges are POSTed; http:// or https:// only.
    pub url: String,
    /// Sent as `Authorization: Bearer …` so that the receiver can tell certgate's requests
    /// from anyone else's.
    pub bearer_token: Option<String>,
    /// For the whole request: connect, send, answer.
    pub timeout: Duration,
    /// How long a code is valid after it is made.
    pub code_lifetime_seconds: u32,
    /// Wrong answers a challenge allows before it is dead.
    pub max_attempts: u32,
    /// Unexpired challenges one user may have at once: a bound on what a stolen certificate
    /// can make certgate send (and pay for).
    pub max_outstanding_per_user: usize,
}

impl WebhookSettings {
    /// Settings for `url` with the defaults: no bearer token, 10 s timeout, codes valid 5
    /// minutes, 3 wrong answers per code, 3 unexpired codes per user.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookSettings {
            url: url.into(),
            bearer_token: None,
            timeout: Duration::from_secs(10),
            code_lifetime_seconds: 5 * 60,
            max_attempts: 3,
            max_outstanding_per_user: 3,
        }
    }
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout", &self.timeout)
            .field("code_lifetime_seconds", &self.code_lifetime_seconds)
            .field("max_attempts", &self.max_attempts)
            .field("max_outstanding_per_user", &self.max_outstanding_per_user)
            .finish()
    }
}

struct Challenge {
    user_id: String,
    channel: Channel,
    code: String,
    expires_at: UnixTime,
    failed_attempts: u32,
    used: bool,
}

/// Delivers challenges through a webhook. Never follows redirects (the URL is configured,
/// so a redirect is a misconfiguration, and following one would send the code elsewhere)
/// and never uses a proxy from the environment.
pub struct WebhookProvider<C> {
    client: Client,
    url: Url,
    settings: WebhookSettings,
    clock: C,
    challenges: Mutex<HashMap<ChallengeId, Challenge>>,
}

impl<C: Clock> WebhookProvider<C> {
    /// A provider that posts to `settings.url`; refused when the URL is not http(s) with a
    /// host, or the HTTP client cannot be set up.
    pub fn new(settings: WebhookSettings, clock: C) -> Result<Self, SecondFactorError> {
        let not_allowed = || SecondFactorError::UrlNotAllowed {
            url: settings.url.clone(),
        };
        let url = Url::parse(&settings.url).map_err(|_| not_allowed())?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(not_allowed());
        }
        let client = client_builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|error| SecondFactorError::ClientUnavailable {
                detail: format!(
                    "the HTTP client could not be set up: {}",
                    error_chain(&error)
                ),
            })?;
        Ok(WebhookProvider {
            client,
            url,
            settings,
            clock,
            challenges: Mutex::new(HashMap::new()),
        })
    }

    /// The challenges, whoever panicked while holding them: every change under the lock is
    /// a single field update or map operation, so the map is never left half-changed.
    fn challenges(&self) -> MutexGuard<'_, HashMap<ChallengeId, Challenge>> {
        self.challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes and records a challenge, within the per-user limit; expired ones are dropped.
    fn reserve(
        &self,
        user_id: &str,
        channel: Channel,
    ) -> Result<(ChallengeId, String, UnixTime), SecondFactorError> {
        let now = self.clock.now();
        let id = ChallengeId(random_hex(16)?);
        let code = random_code()?;
        let expires_at = UnixTime(now.0 + i64::from(self.settings.code_lifetime_seconds));
        let mut challenges = self.challenges();
        challenges.retain(|_, challenge| now < challenge.expires_at);
        let outstanding = challenges
            .values()
            .filter(|c| c.user_id == user_id && !c.used)
            .count();
        if outstanding >= self.settings.max_outstanding_per_user {
            return Err(SecondFactorError::TooManyRequests);
        }
        challenges.insert(
            id.clone(),
            Challenge {
                user_id: user_id.to_owned(),
                channel,
                code: code.clone(),
                expires_at,
                failed_attempts: 0,
                used: false,
            },
        );
        Ok((id, code, expires_at))
    }

    async fn deliver(
        &self,
        recipient: &Recipient<'_>,
        channel: Channel,
        id: &ChallengeId,
        code: &str,
        expires_at: UnixTime,
    ) -> Result<(), SecondFactorError> {
        let body = json!({
            "challengeId": id.as_str(),
            "userId": recipient.user_id,
            "userPrincipalName": recipient.upn,
            "channel": channel.as_str(),
            "code": code,
            "expiresAt": rfc3339(expires_at),
        });
        let mut request = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.to_string());
        if let Some(token) = &self.settings.bearer_token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|error| SecondFactorError::DeliveryFailed {
                channel,
                detail: if error.is_timeout() {
                    format!(
                        "no answer from {} within {:?}",
                        self.url, self.settings.timeout
                    )
                } else {
                    error_chain(&error)
                },
            })?;
        let status = response.status();
        if !status.is_success() {
            // A 3xx lands here too: redirects are never followed.
            return Err(SecondFactorError::DeliveryRejected {
                channel,
                status: status.as_u16(),
            });
        }
        Ok(())
    }
}

impl<C: Clock> SecondFactorProvider for WebhookProvider<C> {
    async fn send_challenge(
        &self,
        recipient: &Recipient<'_>,
        channel: Channel,
    ) -> Result<SentChallenge, SecondFactorError> {
        let (id, code, expires_at) = self.reserve(recipient.user_id, channel)?;
        if let Err(error) = self
            .deliver(recipient, channel, &id, &code, expires_at)
            .await
        {
            // Undelivered: it must not count against the user or be answerable.
            self.challenges().remove(&id);
            return Err(error);
        }
        Ok(SentChallenge {
            id,
            channel,
            expires_at,
        })
    }

    async fn check(
        &self,
        challenge: &ChallengeId,
        user_id: &str,
        response: &str,
    ) -> Result<PassedChallenge, SecondFactorError> {
        let now = self.clock.now();
        let given: String = response.chars().filter(|c| !c.is_whitespace()).collect();
        let mut challenges = self.challenges();
        let entry = challenges
            .get_mut(challenge)
            // Another user's challenge is as good as none.
            .filter(|c| c.user_id == user_id)
            .ok_or(SecondFactorError::UnknownChallenge)?;
        if entry.used {
            return Err(SecondFactorError::Used);
        }
        if now >= entry.expires_at {
            return Err(SecondFactorError::Expired);
        }
        if entry.failed_attempts >= self.settings.max_attempts {
            return Err(SecondFactorError::TooManyAttempts);
        }
        if constant_time::verify_slices_are_equal(entry.code.as_bytes(), given.as_bytes()).is_ok() {
            entry.used = true;
            return Ok(PassedChallenge {
                user_id: entry.user_id.clone(),
                channel: entry.channel,
            });
        }
        entry.failed_attempts += 1;
        match self.settings.max_attempts - entry.failed_attempts {
            0 => Err(SecondFactorError::TooManyAttempts),
            attempts_left => Err(SecondFactorError::Invalid { attempts_left }),
        }
    }
}

fn random_hex(bytes: usize) -> Result<String, SecondFactorError> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .map_err(|_| SecondFactorError::RandomUnavailable)?;
    Ok(certgate_core::hex(&buffer))
}

/// A uniformly random six-digit code: 32-bit draws at or above the largest multiple of
/// 10^6 are redrawn, so no code is likelier than another.
fn random_code() -> Result<String, SecondFactorError> {
    const MODULUS: u32 = 1_000_000;
    const LIMIT: u32 = u32::MAX - u32::MAX % MODULUS;
    let rng = SystemRandom::new();
    loop {
        let mut bytes = [0u8; 4];
        rng.fill(&mut bytes)
            .map_err(|_| SecondFactorError::RandomUnavailable)?;
        let draw = u32::from_be_bytes(bytes);
        if draw < LIMIT {
            return Ok(format!("{:0CODE_DIGITS$}", draw % MODULUS));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| random_code().expect("random")).collect();
        assert!(codes
            .iter()
            .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert!(distinct.len() > 40, "{codes:?}");
    }

    #[test]
    fn channels_round_trip() {
        for channel in [Channel::Sms, Channel::Voice, Channel::Push] {
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(Channel::parse("email"), None);
    }

    #[test]
    fn settings_debug_hides_the_token() {
        let mut settings = WebhookSettings::new("https://sms.example/send");
        settings.bearer_token = Some("s3cret-token".into());
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
