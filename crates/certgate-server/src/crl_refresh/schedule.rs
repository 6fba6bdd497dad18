//! When the scheduler asks a CRL URL again: pure functions of the settings, the cached CRL's
//! nextUpdate and `now`, so that the rules are tested on a fixed clock.
//!
//! The one promise every rule keeps: while a cached CRL is still current, the next attempt
//! lands before its nextUpdate (less [`EXPIRY_MARGIN_SECONDS`]), so a repaired endpoint is
//! asked again before sign-ins start failing with `crl-stale`. Backoff only spaces out
//! attempts within that bound.

use certgate_pki::UnixTime;

use super::CrlSettings;

/// How long before the cached CRL's nextUpdate the last attempt is planned: room for the
/// download (60 s is the background time limit) and for the scheduler's tick.
pub const EXPIRY_MARGIN_SECONDS: i64 = 90;

/// The random part of a delay, so that many nodes do not ask the CA's server in the same
/// second: a sample spread over ±10 % of the delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Jitter(u16);

impl Jitter {
    /// No spread at all (a delay is used as computed).
    pub const NONE: Jitter = Jitter(u16::MAX / 2);

    /// A sample from the system's random generator; [`Jitter::NONE`] if it fails (the
    /// spread is a courtesy to the CA's server, not a security property).
    pub fn random() -> Jitter {
        let mut bytes = [0u8; 2];
        match aws_lc_rs::rand::fill(&mut bytes) {
            Ok(()) => Jitter(u16::from_le_bytes(bytes)),
            Err(_) => Jitter::NONE,
        }
    }

    /// A given sample, for tests: 0 is the most negative spread, `u16::MAX` the most positive.
    pub fn from_sample(sample: u16) -> Jitter {
        Jitter(sample)
    }

    /// `seconds` ± up to 10 %, never less than one second.
    fn apply(self, seconds: i64) -> i64 {
        let spread = seconds / 10;
        if spread == 0 {
            return seconds.max(1);
        }
        // Maps the sample linearly onto -spread..=spread (the middle sample onto 0).
        let offset = (i64::from(self.0) * (2 * spread + 1)) / 65_536 - spread;
        (seconds + offset).max(1)
    }
}

/// The next scheduled check after a success (a new CRL, the same one, or 304): three
/// quarters into the CRL's validity (well before nextUpdate, as Entra pre-fetches), within
/// the configured interval, and before the CRL's nextUpdate.
pub fn next_after_success(
    settings: &CrlSettings,
    validity: Option<(UnixTime, UnixTime)>,
    now: UnixTime,
    jitter: Jitter,
) -> UnixTime {
    let target = match validity {
        Some((this_update, next_update)) => {
            let period = (next_update.0 - this_update.0).max(0);
            this_update.0 + period * 3 / 4
        }
        None => now.0 + settings.min_interval_seconds,
    };
    let wait = jitter.apply(
        (target - now.0).clamp(settings.min_interval_seconds, settings.max_interval_seconds),
    );
    UnixTime(now.0 + before_expiry(settings, wait, validity.map(|(_, next)| next), now))
}

/// The next scheduled attempt after the scheduler's `failures`-th failure in a row: a delay
/// that doubles per failure from `retry_seconds` up to `max_retry_seconds`, but never past
/// the cached CRL's nextUpdate (less the margin). Once the cached CRL is that close to
/// expiring, or expired, attempts come every `retry_seconds`: sign-ins of its CA fail (or are
/// about to) until a current CRL arrives.
pub fn next_after_failure(
    settings: &CrlSettings,
    failures: i64,
    cached_next_update: Option<UnixTime>,
    now: UnixTime,
    jitter: Jitter,
) -> UnixTime {
    let exponent = u32::try_from(failures.clamp(1, 16) - 1).unwrap_or(0);
    let backoff = settings
        .retry_seconds
        .saturating_mul(1 << exponent)
        .min(settings.max_retry_seconds);
    let wait = jitter.apply(backoff);
    UnixTime(now.0 + before_expiry(settings, wait, cached_next_update, now))
}

/// `wait`, shortened so that the attempt lands [`EXPIRY_MARGIN_SECONDS`] before
/// `next_update`, but never below the floor: `retry_seconds` (at least one second), which
/// keeps a CRL about to expire from being asked for in a tight loop.
fn before_expiry(
    settings: &CrlSettings,
    wait: i64,
    next_update: Option<UnixTime>,
    now: UnixTime,
) -> i64 {
    let floor = settings.retry_seconds.max(1);
    match next_update {
        Some(next_update) => wait
            .min(next_update.0 - EXPIRY_MARGIN_SECONDS - now.0)
            .max(floor.min(wait)),
        None => wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixTime = UnixTime(1_700_000_000);

    fn settings() -> CrlSettings {
        CrlSettings::default()
    }

    fn failure_delays(next_update: Option<UnixTime>) -> Vec<i64> {
        (1..=8)
            .map(|failures| {
                next_after_failure(&settings(), failures, next_update, NOW, Jitter::NONE).0 - NOW.0
            })
            .collect()
    }

    #[test]
    fn failures_back_off_by_doubling_up_to_the_maximum_when_no_crl_is_cached() {
        assert_eq!(failure_delays(None), [30, 60, 120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn a_retry_never_lands_past_the_cached_crls_next_update() {
        // The cached CRL expires in ten minutes: the 15-minute backoff would outlast it.
        let next_update = UnixTime(NOW.0 + 600);
        let delays = failure_delays(Some(next_update));
        assert_eq!(delays, [30, 60, 120, 240, 480, 510, 510, 510]);
        for failures in 1..=16 {
            for sample in [0, u16::MAX / 2, u16::MAX] {
                let at = next_after_failure(
                    &settings(),
                    failures,
                    Some(next_update),
                    NOW,
                    Jitter::from_sample(sample),
                );
                assert!(
                    at.0 <= next_update.0 - EXPIRY_MARGIN_SECONDS,
                    "failure {failures}, jitter {sample}: {} s",
                    at.0 - NOW.0
                );
            }
        }
    }

    #[test]
    fn close_to_or_past_next_update_retries_come_at_the_shortest_delay() {
        for next_update in [NOW.0 + 60, NOW.0, NOW.0 - 3600] {
            assert_eq!(
                failure_delays(Some(UnixTime(next_update))),
                [30; 8],
                "nextUpdate {} s from now",
                next_update - NOW.0
            );
        }
    }

    #[test]
    fn jitter_spreads_a_delay_by_at_most_ten_percent() {
        let delay = |sample| {
            next_after_failure(&settings(), 6, None, NOW, Jitter::from_sample(sample)).0 - NOW.0
        };
        assert_eq!(delay(0), 810);
        assert_eq!(delay(u16::MAX), 990);
        assert!((810..=990).contains(&delay(12_345)));
    }

    #[test]
    fn after_a_success_the_check_comes_three_quarters_into_the_validity() {
        let validity = (UnixTime(NOW.0 - 3600), UnixTime(NOW.0 + 3 * 3600));
        let at = next_after_success(&settings(), Some(validity), NOW, Jitter::NONE);
        // thisUpdate + 3 h of the 4 h period.
        assert_eq!(at.0 - NOW.0, 2 * 3600);
        // Without a CRL (a 304 with nothing cached cannot happen, but the rule is total).
        let at = next_after_success(&settings(), None, NOW, Jitter::NONE);
        assert_eq!(at.0 - NOW.0, settings().min_interval_seconds);
    }

    #[test]
    fn after_a_success_a_short_lived_crl_is_checked_before_it_expires() {
        // The minimum interval (60 s) would land 40 s before a nextUpdate 100 s away, inside
        // the margin: the floor applies instead.
        let validity = (UnixTime(NOW.0 - 600), UnixTime(NOW.0 + 100));
        let at = next_after_success(&settings(), Some(validity), NOW, Jitter::NONE);
        assert_eq!(at.0 - NOW.0, settings().retry_seconds);
        let validity = (UnixTime(NOW.0 - 600), UnixTime(NOW.0 + 400));
        let at = next_after_success(&settings(), Some(validity), NOW, Jitter::NONE);
        assert_eq!(
            at.0 - NOW.0,
            150,
            "three quarters in, before nextUpdate less the margin"
        );
    }
}
