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

#[cfg(test)]
mod tests {
    use super::*;

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
