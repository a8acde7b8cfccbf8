//! Which days of unique visitors are kept (`--uv-retention-days`).
//!
//! With `N > 0` days, unique visitors are kept for today and the `N - 1`
//! days before it, by the wall clock in the job's time zone. An older day
//! leaves state at the first epoch that ends after its last midnight
//! (`VisitorsState` deletes its sets and their `hot:pageview_counts`
//! fields), its `pageviews:*` keys carry an `EXPIREAT` of that midnight, and
//! a view of it that arrives later still counts in its shopper's profile but
//! no longer in unique visitors. `N = 0` keeps every day, as the original
//! system does.
//!
//! The rule depends on the day an answer is read, never on the order events
//! arrive in, so a restored run converges to the same keys as an
//! uninterrupted one.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::day::{Calendar, Day};

/// How often the wall-clock day is read again.
const RECHECK: Duration = Duration::from_secs(1);

/// The unique-visitor retention of one operator.
#[derive(Debug, Clone)]
pub struct Retention {
    days: u32,
    calendar: Calendar,
    /// The oldest day kept, and when it was computed.
    oldest: Option<(Day, Instant)>,
}

impl Retention {
    /// Keeps `days` days (0: every day) in `calendar`'s time zone.
    pub fn new(days: u32, calendar: Calendar) -> Self {
        Self { days, calendar, oldest: None }
    }

    /// The oldest day kept now, if days expire.
    pub fn oldest_kept(&mut self) -> Option<Day> {
        if self.days == 0 {
            return None;
        }
        match self.oldest {
            Some((day, at)) if at.elapsed() < RECHECK => Some(day),
            _ => {
                let today = self.calendar.day_of(Timestamp::now().as_millisecond());
                let day = Day(today.0 - i32::try_from(self.days - 1).unwrap_or(i32::MAX));
                self.oldest = Some((day, Instant::now()));
                Some(day)
            }
        }
    }

    /// When `day`'s keys expire, in Unix seconds: the midnight that starts
    /// the day `days` after it. `None` if days never expire.
    pub fn expires_at(&self, day: Day) -> Option<i64> {
        if self.days == 0 {
            return None;
        }
        let expiry = Day(day.0.saturating_add(i32::try_from(self.days).unwrap_or(i32::MAX)));
        Some(self.calendar.start_of(expiry) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_today_and_the_days_before_it() {
        let calendar = Calendar::new("UTC").unwrap();
        let today = calendar.clone().day_of(Timestamp::now().as_millisecond());
        let mut two = Retention::new(2, calendar.clone());
        assert_eq!(two.oldest_kept(), Some(Day(today.0 - 1)));
        let mut all = Retention::new(0, calendar);
        assert_eq!(all.oldest_kept(), None);
        assert_eq!(all.expires_at(today), None);
    }

    #[test]
    fn a_day_expires_at_the_midnight_after_its_retention() {
        let paris = Calendar::new("Europe/Paris").unwrap();
        let day = paris.clone().day_of(1_795_649_400_000); // 2026-11-26 in Paris
        let three = Retention::new(3, paris);
        // 2026-11-29T00:00 in Paris is 2026-11-28T23:00Z.
        assert_eq!(three.expires_at(day), Some(1_795_906_800));
    }
}
