//! Time as a port: validation code never reads the system clock itself, so tests run at fixed
//! instants.

use std::sync::atomic::{AtomicI64, Ordering};

use certgate_pki::UnixTime;

/// Where "now" comes from. The server uses [`SystemClock`]; tests use [`FixedClock`].
pub trait Clock: Send + Sync {
    /// The current time, in whole seconds since the Unix epoch (UTC).
    fn now(&self) -> UnixTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime(time::OffsetDateTime::now_utc().unix_timestamp())
    }
}

/// A clock that stands still until told otherwise.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock standing at `seconds` after the Unix epoch.
    pub fn at(seconds: i64) -> Self {
        FixedClock(AtomicI64::new(seconds))
    }
    /// Moves the clock to `seconds` after the Unix epoch (also backwards).
    pub fn set(&self, seconds: i64) {
        self.0.store(seconds, Ordering::SeqCst);
    }
    /// Moves the clock `seconds` forward (backward when negative).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> UnixTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> UnixTime {
        (**self).now()
    }
}

/// RFC 3339 text of a Unix time (UTC), for people.
pub fn rfc3339(at: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(at.0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{}", at.0))
}

/// A point in time as an administrator types it: RFC 3339 (`2026-12-01T08:00:00Z`) or a date
/// (`2026-12-01`, midnight UTC). The CLI and the admin API read dates alike.
pub fn parse_rfc3339_or_date(text: &str) -> Option<UnixTime> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    if let Ok(at) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(UnixTime(at.unix_timestamp()));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .ok()
        .map(|date| UnixTime(date.midnight().assume_utc().unix_timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_or_a_day_at_midnight_utc() {
        assert_eq!(
            parse_rfc3339_or_date("2026-01-01"),
            Some(UnixTime(1_767_225_600))
        );
        assert_eq!(
            parse_rfc3339_or_date("2026-01-01T01:00:00+01:00"),
            Some(UnixTime(1_767_225_600))
        );
        assert_eq!(parse_rfc3339_or_date("01/01/2026"), None);
        assert_eq!(parse_rfc3339_or_date("2026-1-1"), None);
        assert_eq!(parse_rfc3339_or_date("tomorrow"), None);
    }
}
