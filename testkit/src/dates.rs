//! Calendar arithmetic for the tests' oracles.
//!
//! The oracles recompute expected results from raw events, independently of
//! the code under test, so they must not borrow the dataflow's or the API's
//! day handling: this is a separate implementation of the same calendar.

/// `YYYY-MM-DD` (UTC) of a millisecond timestamp, by Howard Hinnant's
/// days-to-civil algorithm (proleptic Gregorian, any year).
pub fn utc_date(timestamp_ms: i64) -> String {
    let z = timestamp_ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_known_days() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_795_651_199_999), "2026-11-25");
        assert_eq!(utc_date(1_795_651_200_000), "2026-11-26");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(utc_date(-1), "1969-12-31");
    }
}
