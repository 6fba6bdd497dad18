//! SAML times: `xs:dateTime` in UTC with a `Z` and no fractional seconds (SAML core §1.3.3).

use certgate_pki::UnixTime;
use time::OffsetDateTime;

use crate::error::SamlError;

/// `YYYY-MM-DDTHH:MM:SSZ`. Years 1 to 9999 only, so the year always has four digits.
pub(crate) fn format(field: &'static str, at: UnixTime) -> Result<String, SamlError> {
    let out_of_range = || SamlError::TimeOutOfRange { field, at: at.0 };
    let t = OffsetDateTime::from_unix_timestamp(at.0).map_err(|_| out_of_range())?;
    if !(1..=9999).contains(&t.year()) {
        return Err(out_of_range());
    }
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// Reads an `xs:dateTime` from a received message (SAML core §1.3.3): `Z` or no zone (both
/// UTC; an explicit offset is applied), fractional seconds dropped. `None` when it is not one.
pub(crate) fn parse(value: &str) -> Option<UnixTime> {
    let bytes = value.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = bytes.get(range)?;
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    if bytes.len() < 19
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || bytes[10] != b'T'
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let year = i32::try_from(number(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(year, month, u8::try_from(number(8..10)?).ok()?).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(number(11..13)?).ok()?,
        u8::try_from(number(14..16)?).ok()?,
        u8::try_from(number(17..19)?).ok()?,
    )
    .ok()?;
    let mut rest = &value[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset_seconds: i64 = match rest.as_bytes() {
        b"" | b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let field = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (hours, minutes) = (field(*h1, *h2)?, field(*m1, *m2)?);
            if hours > 14 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'+' {
                seconds
            } else {
                -seconds
            }
        }
        _ => return None,
    };
    let local = time::PrimitiveDateTime::new(date, clock).assume_utc();
    Some(UnixTime(local.unix_timestamp() - offset_seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_format_writes_and_common_variants() {
        let at = UnixTime(1_767_225_600 + 3_723);
        assert_eq!(parse(&format("t", at).unwrap()), Some(at));
        assert_eq!(parse("2026-01-01T01:02:03.123Z"), Some(at));
        assert_eq!(parse("2026-01-01T01:02:03"), Some(at));
        assert_eq!(parse("2026-01-01T02:02:03+01:00"), Some(at));
        for bad in [
            "",
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T01:02:03.Z",
            "2026-01-01T01:02:03+1:00",
            "2026-01-01T01:02:03ZZ",
            "+026-01-01T01:02:03Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_utc_with_z() {
        assert_eq!(format("t", UnixTime(0)).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(
            format("t", UnixTime(1_767_225_600 + 3_723)).unwrap(),
            "2026-01-01T01:02:03Z"
        );
        assert_eq!(
            format("t", UnixTime(-62_135_596_800)).unwrap(),
            "0001-01-01T00:00:00Z"
        );
    }

    #[test]
    fn years_beyond_four_digits_refused() {
        assert!(matches!(
            format("t", UnixTime(253_402_300_800)),
            Err(SamlError::TimeOutOfRange { field: "t", .. })
        ));
        assert!(format("t", UnixTime(-62_135_596_801)).is_err());
        assert!(format("t", UnixTime(i64::MAX)).is_err());
    }
}
