//! A sign-in in progress across certgate's two listeners: the web listener receives the
//! application's authorization request, the certificate sign-in listener (another host or
//! port, which asks for a client certificate) signs the person in, and the web listener
//! finishes with the second factor, the "continue as" confirmation and the code.
//!
//! The flow is kept in the store so that any node can take any step. Its ID travels in URLs;
//! a second secret lives in a cookie of the browser that started the flow, and both are
//! stored only as SHA-256 hashes: someone who learns the URL cannot finish another person's
//! sign-in, and a copy of the database does not reveal either.

use std::future::Future;

use aws_lc_rs::digest;
use certgate_pki::UnixTime;

use crate::store::StoreResult;

/// How long a sign-in may take from the application's request to the code.
pub const FLOW_LIFETIME_SECONDS: i64 = 600;

/// Where a flow stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowStep {
    /// Waiting for the certificate sign-in listener.
    Certificate,
    /// The certificate signed in; the relying party asked for a password, so the user's
    /// domain password is checked next (see [`crate::domain_password`]).
    DomainPassword,
    /// The certificate signed in; a one-time code (TOTP) is required next.
    SecondFactor,
    /// Waiting for the person to confirm "continue as".
    Confirmation,
    /// The code was issued; the flow cannot be used again.
    Done,
    /// Refused; the flow cannot be used again.
    Failed,
}

impl FlowStep {
    /// The step's name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStep::Certificate => "certificate",
            FlowStep::DomainPassword => "domain-password",
            FlowStep::SecondFactor => "second-factor",
            FlowStep::Confirmation => "confirmation",
            FlowStep::Done => "done",
            FlowStep::Failed => "failed",
        }
    }
    /// Reads the name [`as_str`](Self::as_str) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<FlowStep> {
        Some(match text {
            "certificate" => FlowStep::Certificate,
            "domain-password" => FlowStep::DomainPassword,
            "second-factor" => FlowStep::SecondFactor,
            "confirmation" => FlowStep::Confirmation,
            "done" => FlowStep::Done,
            "failed" => FlowStep::Failed,
            _ => return None,
        })
    }
}

/// Who signed in, filled by the certificate step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowIdentity {
    /// The user's directory object ID.
    pub user_id: String,
    /// The user's UPN as the directory held it at sign-in.
    pub upn: String,
    /// The user's displayName at sign-in.
    pub display_name: String,
    /// Serial of the certificate signed in with, lowercase hex.
    pub certificate_serial: String,
    /// Subject DN (Windows form) of the CA that issued that certificate.
    pub certificate_issuer: String,
    /// `single-factor` or `multi-factor`, from the strength rules.
    pub strength: String,
    /// When the certificate sign-in happened: OpenID Connect's `auth_time`.
    pub auth_time: UnixTime,
    /// The second factor this sign-in passed: `otp` once a one-time code from the enrolled
    /// authenticator was verified, `access-pass` once a Temporary Access Pass was redeemed in
    /// this flow and the authenticator it unlocked was enrolled.
    pub second_factor: Option<String>,
    /// When a Temporary Access Pass was redeemed in this flow: only then may this flow enroll
    /// an authenticator (see [`crate::access_pass`]). Kept on the flow, not in a cookie, so
    /// that a pass redeemed in one sign-in unlocks nothing in another.
    pub access_pass_redeemed_at: Option<UnixTime>,
    /// The DER certificate the user signed in with: federation claim rules read its fields
    /// (AD FS's certificate-context claims).
    pub certificate_der: Option<Vec<u8>>,
    /// When the directory accepted the user's domain password in this flow (a bind as the
    /// user after the certificate): the token then states a password sign-in next to the
    /// certificate.
    pub domain_password_verified_at: Option<UnixTime>,
}

/// `second_factor` when the sign-in passed an enrolled authenticator's code.
pub const SECOND_FACTOR_OTP: &str = "otp";
/// `second_factor` when the sign-in redeemed a Temporary Access Pass and enrolled with it.
pub const SECOND_FACTOR_ACCESS_PASS: &str = "access-pass";

impl FlowIdentity {
    /// Whether this sign-in is multi-factor: a certificate the strength rules call
    /// multi-factor, or a certificate plus a second factor (an enrolled authenticator's code, an
    /// administrator's Temporary Access Pass, or the domain password the directory accepted:
    /// something the user knows next to the certificate they have). Enrolling an
    /// authenticator is not a factor by itself: `second_factor` is set only by those two paths.
    pub fn is_multi_factor(&self) -> bool {
        self.strength == "multi-factor"
            || self.domain_password_verified_at.is_some()
            || matches!(
                self.second_factor.as_deref(),
                Some(SECOND_FACTOR_OTP | SECOND_FACTOR_ACCESS_PASS)
            )
    }
}

/// A sign-in in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginFlow {
    /// SHA-256 of the flow ID (the ID itself travels only in URLs).
    pub id_hash: Vec<u8>,
    /// SHA-256 of the browser secret in the cookie; changes with every authentication step
    /// ([`LoginFlow::authenticated`]).
    pub browser_hash: Vec<u8>,
    /// When the application's request arrived.
    pub created_at: UnixTime,
    /// [`FLOW_LIFETIME_SECONDS`] after `created_at`; an expired flow is refused and purged.
    pub expires_at: UnixTime,
    /// The application's validated authorization request, serialized by the OIDC layer.
    pub request: String,
    /// Where the flow stands.
    pub step: FlowStep,
    /// Who signed in; `None` until the certificate step.
    pub identity: Option<FlowIdentity>,
    /// Correlation ID of the certificate sign-in, for the pages and the log.
    pub correlation_id: Option<String>,
}

impl LoginFlow {
    /// The flow after an authentication step (the certificate, a second factor): at `step`,
    /// bound to a new browser secret, which is returned for the browser's cookie.
    ///
    /// Rotating the binding at each step defeats session fixation (OWASP ASVS V3.2.1, the
    /// reason servers renew the session ID at login): whoever planted a flow's cookie in a
    /// victim's browser before the victim authenticated holds a secret that no longer matches
    /// once the victim has. The store writes the new hash in the same compare-and-set as the
    /// step ([`LoginFlowStore::advance_flow`]), so of two tabs taking the step only the one
    /// whose cookie is set afterwards can go on. `None` when the system's randomness fails.
    pub fn authenticated(self, step: FlowStep) -> Option<(LoginFlow, String)> {
        let browser_secret = new_secret()?;
        let flow = LoginFlow {
            step,
            browser_hash: secret_hash(&browser_secret),
            ..self
        };
        Some((flow, browser_secret))
    }

    /// Seconds left until the flow expires (for the cookie's Max-Age), never negative.
    pub fn seconds_left(&self, now: UnixTime) -> i64 {
        (self.expires_at.0 - now.0).max(0)
    }
}

/// SHA-256 of a flow ID or browser secret as stored.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

/// A new random secret (256 bits, base64url without padding, URL- and cookie-safe).
pub fn new_secret() -> Option<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(43);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    Some(out)
}

/// Where flows are kept.
pub trait LoginFlowStore: Send + Sync + 'static {
    /// Stores a new flow.
    fn insert_flow(&self, flow: &LoginFlow) -> impl Future<Output = StoreResult<()>> + Send;
    /// The flow whose ID hashes to `id_hash`, expired or not.
    fn flow(&self, id_hash: &[u8]) -> impl Future<Output = StoreResult<Option<LoginFlow>>> + Send;
    /// Replaces the flow (its step, identity and browser binding) when its step is still
    /// `expected` (so that no step is taken twice, even by two nodes at once). Returns whether
    /// it was replaced.
    fn advance_flow(
        &self,
        flow: &LoginFlow,
        expected: FlowStep,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Deletes flows that expired before `now`.
    fn purge_flows(&self, now: UnixTime) -> impl Future<Output = StoreResult<u64>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_url_safe_and_differ() {
        let a = new_secret().expect("randomness");
        let b = new_secret().expect("randomness");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(secret_hash(&a).len(), 32);
    }

    #[test]
    fn an_authentication_step_rebinds_the_flow_to_a_new_browser_secret() {
        let flow = LoginFlow {
            id_hash: secret_hash("flow"),
            browser_hash: secret_hash("planted"),
            created_at: UnixTime(1_000),
            expires_at: UnixTime(1_000 + FLOW_LIFETIME_SECONDS),
            request: "{}".into(),
            step: FlowStep::Certificate,
            identity: None,
            correlation_id: None,
        };
        let (advanced, secret) = flow
            .clone()
            .authenticated(FlowStep::SecondFactor)
            .expect("randomness");
        assert_eq!(advanced.step, FlowStep::SecondFactor);
        assert_eq!(advanced.browser_hash, secret_hash(&secret));
        assert_ne!(advanced.browser_hash, flow.browser_hash);
        assert_eq!(advanced.id_hash, flow.id_hash);
        let (again, second) = advanced
            .clone()
            .authenticated(FlowStep::Confirmation)
            .expect("randomness");
        assert_ne!(second, secret);
        assert_ne!(again.browser_hash, advanced.browser_hash);
        assert_eq!(
            flow.seconds_left(UnixTime(1_100)),
            FLOW_LIFETIME_SECONDS - 100
        );
        assert_eq!(flow.seconds_left(UnixTime(10_000)), 0);
    }

    #[test]
    fn steps_round_trip() {
        for step in [
            FlowStep::Certificate,
            FlowStep::DomainPassword,
            FlowStep::SecondFactor,
            FlowStep::Confirmation,
            FlowStep::Done,
            FlowStep::Failed,
        ] {
            assert_eq!(FlowStep::parse(step.as_str()), Some(step));
        }
    }
}
