//! Calendar days of event times, in the job's time zone.
//!
//! Unique visitors are counted per calendar day. Resolving a time zone for
//! every view would be slow, so a [`Calendar`] remembers the bounds of the
//! last day it resolved: consecutive events of the same day cost two
//! comparisons.

use std::fmt;
use std::fmt::Write as _;

use arrayvec::ArrayString;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// A calendar date, stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Day(pub i32);

impl Day {
    /// The civil date.
    pub fn date(self) -> Date {
        Date::constant(1970, 1, 1)
            .checked_add(jiff::Span::new().days(i64::from(self.0)))
            .unwrap_or(Date::MAX)
    }
}

impl fmt::Display for Day {
    /// `YYYY-MM-DD`, as in the `pageviews:<day>:<productId>` keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = self.date();
        write!(f, "{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
    }
}

/// A day's `YYYY-MM-DD` text, formatted again only when the day changes:
/// views arrive mostly in day order, and formatting a date costs far more
/// than comparing two days.
#[derive(Debug, Default)]
pub struct DayText {
    cached: Option<(Day, ArrayString<16>)>,
}

impl DayText {
    /// The text of `day`.
    #[inline]
    pub fn of(&mut self, day: Day) -> &str {
        if self.cached.as_ref().is_none_or(|(cached, _)| *cached != day) {
            let mut text = ArrayString::new();
            // Days of valid events have 4-digit years: the text always fits.
            let _ = write!(text, "{day}");
            self.cached = Some((day, text));
        }
        self.cached.as_ref().map_or("", |(_, text)| text.as_str())
    }
}

/// Maps event times to days in one time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    zone: TimeZone,
    cached: Option<(i64, i64, Day)>,
}

/// Why a `--timezone` value was refused.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {name:?}: use an IANA name such as Europe/Paris, or UTC")]
pub struct UnknownTimeZone {
    name: String,
}

impl Calendar {
    /// A calendar for an IANA zone name (`UTC`, `Europe/Paris`, …).
    pub fn new(zone_name: &str) -> Result<Self, UnknownTimeZone> {
        let zone = if zone_name.eq_ignore_ascii_case("utc") {
            TimeZone::UTC
        } else {
            TimeZone::get(zone_name).map_err(|_| UnknownTimeZone { name: zone_name.to_owned() })?
        };
        Ok(Self { zone, cached: None })
    }

    /// The UTC calendar.
    pub fn utc() -> Self {
        Self { zone: TimeZone::UTC, cached: None }
    }

    /// The day of `timestamp_ms`.
    #[inline]
    pub fn day_of(&mut self, timestamp_ms: i64) -> Day {
        if let Some((start, end, day)) = self.cached
            && (start..end).contains(&timestamp_ms)
        {
            return day;
        }
        self.resolve(timestamp_ms)
    }

    /// When `day` starts in this zone (its first instant: midnight, unless a
    /// clock change skips it), in milliseconds since the Unix epoch.
    pub fn start_of(&self, day: Day) -> i64 {
        day.date()
            .to_zoned(self.zone.clone())
            .map_or(i64::from(day.0) * 86_400_000, |start| start.timestamp().as_millisecond())
    }

    #[cold]
    fn resolve(&mut self, timestamp_ms: i64) -> Day {
        // Event times are validated to lie in [2000, 2100), well inside jiff's range.
        let instant = Timestamp::from_millisecond(timestamp_ms).unwrap_or(Timestamp::UNIX_EPOCH);
        let zoned = instant.to_zoned(self.zone.clone());
        let date = zoned.date();
        let bounds = zoned
            .start_of_day()
            .ok()
            .zip(date.tomorrow().ok().and_then(|d| d.to_zoned(self.zone.clone()).ok()));
        let day = Day(date.since(Date::constant(1970, 1, 1)).map_or(0, |span| span.get_days()));
        self.cached = bounds.map(|(start, end)| {
            (start.timestamp().as_millisecond(), end.timestamp().as_millisecond(), day)
        });
        day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_days_and_formatting() {
        let mut calendar = Calendar::new("UTC").unwrap();
        // 2026-11-25T23:59:59.999Z and the next millisecond.
        let before = calendar.day_of(1_795_651_199_999);
        let after = calendar.day_of(1_795_651_200_000);
        assert_eq!(before.to_string(), "2026-11-25");
        assert_eq!(after.to_string(), "2026-11-26");
        assert_eq!(calendar.day_of(0).to_string(), "1970-01-01");
    }

    #[test]
    fn day_text_follows_the_day() {
        let mut text = DayText::default();
        assert_eq!(text.of(Day(20_417)), "2025-11-25");
        assert_eq!(text.of(Day(20_417)), "2025-11-25");
        assert_eq!(text.of(Day(0)), "1970-01-01");
    }

    #[test]
    fn other_zones_shift_midnight() {
        let mut paris = Calendar::new("Europe/Paris").unwrap();
        // 23:30 UTC on 2026-11-25 is 00:30 on the 26th in Paris (UTC+1).
        assert_eq!(paris.day_of(1_795_649_400_000).to_string(), "2026-11-26");
        assert!(Calendar::new("Mars/Olympus").is_err());
    }

    #[test]
    fn a_day_starts_at_its_midnight() {
        let mut utc = Calendar::new("UTC").unwrap();
        let day = utc.day_of(1_795_651_200_000);
        assert_eq!(utc.start_of(day), 1_795_651_200_000);
        let mut paris = Calendar::new("Europe/Paris").unwrap();
        let day = paris.day_of(1_795_649_400_000);
        assert_eq!(paris.start_of(day), 1_795_647_600_000);
        assert_eq!(paris.day_of(paris.start_of(day)), day);
    }

    #[test]
    fn cache_never_changes_answers() {
        let mut cached = Calendar::new("America/New_York").unwrap();
        let start = 1_795_564_800_000_i64;
        for i in 0..2_000 {
            let t = start + i * 97_000;
            let mut fresh = Calendar::new("America/New_York").unwrap();
            assert_eq!(cached.day_of(t), fresh.day_of(t), "at {t}");
        }
    }
}
