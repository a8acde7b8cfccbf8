//! Latency samples and their nearest-rank percentiles.

use std::time::Duration;

/// Every latency measured, in milliseconds.
#[derive(Debug, Default)]
pub struct Latencies(Vec<f64>);

/// Percentiles of a non-empty sample, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

impl Latencies {
    /// Adds one latency.
    pub fn push(&mut self, latency: Duration) {
        self.0.push(latency.as_secs_f64() * 1e3);
    }

    /// Number of latencies.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Nearest-rank p50 and p99, max and mean, rounded to 0.1 ms; `None`
    /// without samples.
    pub fn summary(&self) -> Option<Summary> {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let max = *sorted.last()?;
        let rank =
            |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        let round = |ms: f64| (ms * 10.0).round() / 10.0;
        Some(Summary {
            p50_ms: round(rank(0.50)),
            p99_ms: round(rank(0.99)),
            max_ms: round(max),
            mean_ms: round(sorted.iter().sum::<f64>() / sorted.len() as f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut latencies = Latencies::default();
        assert_eq!(latencies.summary(), None);
        for ms in (1..=100).rev() {
            latencies.push(Duration::from_millis(ms));
        }
        let summary = latencies.summary().unwrap();
        assert_eq!((summary.p50_ms, summary.p99_ms, summary.max_ms), (50.0, 99.0, 100.0));
        assert_eq!(summary.mean_ms, 50.5);
        assert_eq!(latencies.len(), 100);
    }
}
