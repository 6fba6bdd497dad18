//! Rate limits for what anyone can trigger without a certificate: a new sign-in flow (OpenID
//! Connect authorize, SAML SSO, WS-Fed sign-in) writes a row, and so does a SAML request ID
//! kept for replay detection. Without a limit one client fills the tables and the disk.
//!
//! The limiter is GCRA (the generic cell rate algorithm, a token bucket kept as one "theoretical
//! arrival time" per key): each admission moves the key's time forward by one emission
//! interval; a request is admitted while that time is at most `burst` intervals ahead of now.
//! It is pure: the caller passes the time (from the injected clock), so tests run at fixed
//! instants. Memory is bounded: at most `max_tracked_addresses` addresses are kept; when full,
//! addresses whose bucket has refilled are forgotten first (they are indistinguishable from new
//! ones), then the address with the oldest state.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use certgate_pki::{ReasonCode, UnixTime};

/// One limit: `per_minute` admissions a minute on average, up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Average admissions a minute (0 counts as 1).
    pub per_minute: u32,
    /// Admissions allowed at once after a quiet spell: the bucket's size (0 counts as 1).
    pub burst: u32,
}

impl Rate {
    /// Milliseconds between two admissions at the average rate.
    fn interval_ms(self) -> i64 {
        60_000 / i64::from(self.per_minute.max(1))
    }

    /// How far ahead of now a key's arrival time may run.
    fn tolerance_ms(self) -> i64 {
        self.interval_ms() * i64::from(self.burst.max(1))
    }
}

/// The limits on anonymous row-writing requests (`[limits]` in certgate.toml).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Per client address (IPv6: per /64, what one subscriber usually gets).
    pub per_address: Rate,
    /// For all clients together: the bound on rows written a minute, whatever the number of
    /// addresses an attacker has.
    pub global: Rate,
    /// How many addresses are remembered at most.
    pub max_tracked_addresses: usize,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            per_address: Rate {
                per_minute: 60,
                burst: 30,
            },
            global: Rate {
                per_minute: 1200,
                burst: 600,
            },
            max_tracked_addresses: 10_000,
        }
    }
}

/// Why a request was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RateLimited {
    /// The client's address (its /64 for IPv6) used up its
    /// [`RateLimitSettings::per_address`] budget.
    #[error("too many sign-in requests from this address; try again in {retry_after_seconds} s")]
    Address {
        /// Whole seconds until this address is admitted again (at least 1).
        retry_after_seconds: u64,
    },
    /// All clients together used up the [`RateLimitSettings::global`] budget.
    #[error(
        "certgate is receiving too many sign-in requests; try again in {retry_after_seconds} s"
    )]
    Global {
        /// Whole seconds until anyone is admitted again (at least 1).
        retry_after_seconds: u64,
    },
}

impl RateLimited {
    /// Every code [`RateLimited::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "rate-limited",
            "Too many sign-in requests came from the client's address (an IPv6 address counts by its /64) in a short time (by default 60 a minute, bursts of 30); the request was not admitted.",
            "Wait the seconds the answer gives (Retry-After) and try again. Administrators: if many people share one address, raise `[limits] signin_starts_per_minute_per_address` and `signin_starts_burst_per_address`.",
        ),
        ReasonCode::new(
            "rate-limited-global",
            "certgate received more sign-in requests from all clients together than its global limit (by default 1200 a minute, bursts of 600); the request was not admitted.",
            "Wait the seconds the answer gives (Retry-After) and try again. Administrators: if the load is legitimate, raise `[limits] signin_starts_per_minute` and `signin_starts_burst`.",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            RateLimited::Address { .. } => "rate-limited",
            RateLimited::Global { .. } => "rate-limited-global",
        }
    }

    /// Whole seconds until an admission is possible again (HTTP `Retry-After`).
    pub fn retry_after_seconds(&self) -> u64 {
        match self {
            RateLimited::Address {
                retry_after_seconds,
            }
            | RateLimited::Global {
                retry_after_seconds,
            } => *retry_after_seconds,
        }
    }
}

#[derive(Debug, Default)]
struct Buckets {
    /// Theoretical arrival time of the next admission, Unix milliseconds.
    global: i64,
    addresses: HashMap<IpAddr, i64>,
}

/// The limiter. Shared by every handler that admits anonymous work.
#[derive(Debug)]
pub struct RateLimiter {
    settings: RateLimitSettings,
    buckets: Mutex<Buckets>,
}

/// The key an address is counted under: IPv4 as is, IPv6 by its /64.
fn key_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// GCRA: the new arrival time when admitted, or the milliseconds to wait.
fn gcra(arrival: i64, now_ms: i64, rate: Rate) -> Result<i64, i64> {
    let next = arrival.max(now_ms) + rate.interval_ms();
    let ahead = next - now_ms;
    if ahead <= rate.tolerance_ms() {
        Ok(next)
    } else {
        Err(ahead - rate.tolerance_ms())
    }
}

fn seconds_from_ms(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

impl RateLimiter {
    /// A limiter with no history: every address starts with a full bucket.
    pub fn new(settings: RateLimitSettings) -> Self {
        RateLimiter {
            settings,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// The limits it was made with.
    pub fn settings(&self) -> &RateLimitSettings {
        &self.settings
    }

    /// Admits one request from `address` at `now`, or says how long to wait. A refused request
    /// consumes nothing, so a client that keeps trying is not locked out longer.
    pub fn admit(&self, address: IpAddr, now: UnixTime) -> Result<(), RateLimited> {
        let now_ms = now.0.saturating_mul(1000);
        let key = key_of(address);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let arrival = buckets.addresses.get(&key).copied().unwrap_or(i64::MIN);
        let address_next = gcra(arrival, now_ms, self.settings.per_address).map_err(|wait| {
            RateLimited::Address {
                retry_after_seconds: seconds_from_ms(wait),
            }
        })?;
        let global_next = gcra(buckets.global, now_ms, self.settings.global).map_err(|wait| {
            RateLimited::Global {
                retry_after_seconds: seconds_from_ms(wait),
            }
        })?;
        buckets.global = global_next;
        if !buckets.addresses.contains_key(&key)
            && buckets.addresses.len() >= self.settings.max_tracked_addresses.max(1)
        {
            // A bucket whose arrival time has passed is full again: forgetting it changes
            // nothing. When none has, the oldest state goes (bounded memory over precision).
            buckets.addresses.retain(|_, arrival| *arrival > now_ms);
            if buckets.addresses.len() >= self.settings.max_tracked_addresses.max(1) {
                if let Some(oldest) = buckets
                    .addresses
                    .iter()
                    .min_by_key(|(_, arrival)| **arrival)
                    .map(|(key, _)| *key)
                {
                    buckets.addresses.remove(&oldest);
                }
            }
        }
        buckets.addresses.insert(key, address_next);
        Ok(())
    }

    /// How many addresses are remembered (for tests and metrics).
    pub fn tracked_addresses(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .addresses
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32, global: u32, tracked: usize) -> RateLimiter {
        RateLimiter::new(RateLimitSettings {
            per_address: Rate { per_minute, burst },
            global: Rate {
                per_minute: global,
                burst: global,
            },
            max_tracked_addresses: tracked,
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_burst_then_waits_for_the_rate() {
        let limiter = limiter(60, 3, 1000, 100);
        let now = UnixTime(1_700_000_000);
        for _ in 0..3 {
            limiter.admit(ip("192.0.2.1"), now).unwrap();
        }
        let refused = limiter.admit(ip("192.0.2.1"), now).unwrap_err();
        assert_eq!(refused.code(), "rate-limited");
        assert_eq!(refused.retry_after_seconds(), 1);
        // Another address is not affected.
        limiter.admit(ip("192.0.2.2"), now).unwrap();
        // One second later (60 a minute) one more is admitted, not two.
        let later = UnixTime(now.0 + 1);
        limiter.admit(ip("192.0.2.1"), later).unwrap();
        assert!(limiter.admit(ip("192.0.2.1"), later).is_err());
    }

    #[test]
    fn the_global_limit_holds_across_addresses() {
        let limiter = limiter(60, 10, 5, 100);
        let now = UnixTime(1_700_000_000);
        for n in 0..5 {
            limiter.admit(ip(&format!("198.51.100.{n}")), now).unwrap();
        }
        let refused = limiter.admit(ip("198.51.100.200"), now).unwrap_err();
        assert_eq!(refused.code(), "rate-limited-global");
        assert_eq!(refused.retry_after_seconds(), 12);
    }

    #[test]
    fn a_refused_request_consumes_nothing() {
        let limiter = limiter(60, 1, 1000, 100);
        let now = UnixTime(1_700_000_000);
        limiter.admit(ip("192.0.2.1"), now).unwrap();
        for _ in 0..100 {
            assert!(limiter.admit(ip("192.0.2.1"), now).is_err());
        }
        limiter.admit(ip("192.0.2.1"), UnixTime(now.0 + 1)).unwrap();
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_bucket() {
        let limiter = limiter(60, 1, 1000, 100);
        let now = UnixTime(1_700_000_000);
        limiter.admit(ip("2001:db8:1:2::1"), now).unwrap();
        assert!(limiter.admit(ip("2001:db8:1:2::ffff"), now).is_err());
        limiter.admit(ip("2001:db8:1:3::1"), now).unwrap();
    }

    #[test]
    fn memory_is_bounded_by_the_tracked_addresses() {
        let limiter = limiter(60, 1, 100_000, 50);
        let now = UnixTime(1_700_000_000);
        for n in 0..1000u32 {
            let address = IpAddr::from(n.to_be_bytes());
            limiter.admit(address, now).unwrap();
            assert!(limiter.tracked_addresses() <= 50);
        }
        // Buckets that refilled are forgotten first.
        limiter
            .admit(ip("192.0.2.9"), UnixTime(now.0 + 120))
            .unwrap();
        assert_eq!(limiter.tracked_addresses(), 1);
    }
}
