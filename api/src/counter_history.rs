//! A counter's recent samples, kept by the API to tell a counter's increase
//! over a window (the job's dead letters in the last hour) from an
//! exposition that only gives its total since the job started. The ring is
//! bounded: samples closer together than the spacing are dropped, and only
//! one sample older than the window is kept (the base of the increase).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Samples of one counter over the last window.
#[derive(Debug)]
pub struct CounterHistory {
    samples: VecDeque<(Instant, f64)>,
    window: Duration,
    spacing: Duration,
    capacity: usize,
}

/// A counter's increase over (at most) the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Increase {
    /// How much the counter went up (restarts of the counter counted as
    /// from 0).
    pub count: f64,
    /// The span the increase covers: the window, or less while the history
    /// is shorter.
    pub over: Duration,
}

impl CounterHistory {
    /// An empty history of `window`, keeping samples at least `spacing` apart.
    pub fn new(window: Duration, spacing: Duration) -> Self {
        let spacing = spacing.max(Duration::from_millis(1));
        let per_window = window.as_millis() / spacing.as_millis();
        let capacity = usize::try_from(per_window).unwrap_or(usize::MAX).saturating_add(2);
        Self { samples: VecDeque::new(), window, spacing, capacity }
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no sample is held.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Records `total` seen at `at`, unless the last sample is less than the
    /// spacing before it (or after it); drops what the window no longer needs.
    pub fn record(&mut self, at: Instant, total: f64) {
        if let Some(&(last, _)) = self.samples.back()
            && (at < last || at.duration_since(last) < self.spacing)
        {
            return;
        }
        self.samples.push_back((at, total));
        if let Some(start) = at.checked_sub(self.window) {
            // Keep one sample at or before the window's start: the base.
            while self.samples.get(1).is_some_and(|&(t, _)| t <= start) {
                self.samples.pop_front();
            }
        }
        while self.samples.len() > self.capacity {
            self.samples.pop_front();
        }
    }

    /// The increase from the window's base (the newest sample at or before
    /// `now - window`, else the oldest) to `total` at `now`.
    pub fn increase(&self, now: Instant, total: f64) -> Increase {
        let start = now.checked_sub(self.window);
        let base = start
            .and_then(|start| self.samples.iter().rposition(|&(t, _)| t <= start))
            .unwrap_or(0);
        let mut points = self.samples.iter().skip(base).copied().filter(|&(t, _)| t <= now);
        let Some((from, first)) = points.next() else {
            return Increase { count: 0.0, over: Duration::ZERO };
        };
        let mut count = 0.0;
        let mut previous = first;
        for (_, value) in points.chain(std::iter::once((now, total))) {
            // A lower value: the counter restarted (the job did) from 0.
            count += if value >= previous { value - previous } else { value };
            previous = value;
        }
        let over = now.duration_since(from).min(self.window);
        Increase { count, over }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn without_history_nothing_is_counted() {
        let history = CounterHistory::new(HOUR, Duration::from_secs(10));
        let now = Instant::now();
        assert_eq!(history.increase(now, 40.0), Increase { count: 0.0, over: Duration::ZERO });
    }

    #[test]
    fn a_short_history_says_how_long_it_is() {
        let t0 = Instant::now();
        let mut history = CounterHistory::new(HOUR, Duration::from_secs(10));
        history.record(t0, 5.0);
        history.record(t0 + MINUTE, 7.0);
        let now = t0 + 5 * MINUTE;
        assert_eq!(history.increase(now, 12.0), Increase { count: 7.0, over: 5 * MINUTE });
    }

    #[test]
    fn counts_from_the_sample_at_the_start_of_the_hour() {
        let t0 = Instant::now();
        let mut history = CounterHistory::new(HOUR, MINUTE);
        for minute in 0..=120u32 {
            history.record(t0 + minute * MINUTE, f64::from(minute));
        }
        // 60 minutes of the 120: the ring holds one hour and its base.
        assert_eq!(history.len(), 61);
        let now = t0 + 120 * MINUTE;
        assert_eq!(history.increase(now, 120.0), Increase { count: 60.0, over: HOUR });
        // Thirty seconds on: the base is still the sample an hour before
        // the last one, so at most one spacing more than an hour is counted.
        let later = now + Duration::from_secs(30);
        assert_eq!(history.increase(later, 121.0).count, 61.0);
    }

    #[test]
    fn a_restarted_counter_counts_from_zero() {
        let t0 = Instant::now();
        let mut history = CounterHistory::new(HOUR, Duration::from_secs(10));
        history.record(t0, 100.0);
        history.record(t0 + MINUTE, 110.0);
        history.record(t0 + 2 * MINUTE, 3.0); // the job restarted
        let increase = history.increase(t0 + 3 * MINUTE, 5.0);
        assert_eq!(increase.count, 10.0 + 3.0 + 2.0);
    }

    #[test]
    fn samples_closer_than_the_spacing_are_dropped_and_the_ring_is_bounded() {
        let t0 = Instant::now();
        let mut history = CounterHistory::new(MINUTE, Duration::from_secs(10));
        for second in 0..600u64 {
            history.record(t0 + Duration::from_secs(second), second as f64);
        }
        assert!(history.len() <= 8, "{}", history.len());
        history.record(t0, 0.0); // older than the last: ignored
        assert!(history.len() <= 8);
    }
}
