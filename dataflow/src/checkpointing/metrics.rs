//! Prometheus metrics of checkpoints and restores.
//!
//! Registered with the job's other metrics (see `crate::metrics`). The age of
//! the last checkpoint is left to Prometheus (`time() -
//! tagflow_checkpoint_last_completed_timestamp_seconds`), next to the
//! configured interval, so an alert can fire on "no checkpoint for 3×
//! the interval" without the job having to be alive to report it.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::checkpointing::pause::LongestPauses;

/// Bucket bounds of [`CheckpointMetrics::stop_working_seconds`]: a
/// millisecond apart up to 10 ms, so its p99 can be read against the 10 ms
/// a stop may last (docs/design.md).
const STOP_BUCKETS: [f64; 20] = [
    0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.010, 0.0125, 0.015,
    0.020, 0.030, 0.050, 0.100, 0.250, 0.500, 1.0,
];

/// Checkpoint and restore metrics.
#[derive(Debug)]
pub struct CheckpointMetrics {
    /// From the first snapshot of a boundary to its sealed manifest.
    pub duration_seconds: Histogram,
    /// Time an operator stops processing to snapshot its state.
    pub pause_seconds: Histogram,
    /// The part of such a stop its thread held a core (not waiting for one).
    pub pause_working_seconds: Histogram,
    /// The CPU time of every stop, not only each boundary's longest: what
    /// the p99 of a pause is taken over.
    pub stop_working_seconds: Histogram,
    /// Bytes of the last completed checkpoint's files.
    pub size_bytes: Gauge,
    /// Id of the last completed checkpoint.
    pub last_completed_id: Gauge,
    /// Completion time of the last checkpoint, in Unix seconds (the job's
    /// start time until its first checkpoint).
    pub last_completed_timestamp_seconds: Gauge<f64, AtomicU64>,
    /// The configured checkpoint interval.
    pub interval_seconds: Gauge<f64, AtomicU64>,
    /// Checkpoints that could not be completed.
    pub failed: Counter,
    /// Spills: snapshots an operator took between boundaries to keep its
    /// state within `--state-memory` (see `Table::memory_pressure`).
    pub spills: Counter,
    /// Time this process took to restore its state at start (0: none).
    pub restore_duration_seconds: Gauge<f64, AtomicU64>,
}

impl Default for CheckpointMetrics {
    fn default() -> Self {
        Self {
            duration_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 18)),
            pause_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            pause_working_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 18)),
            stop_working_seconds: Histogram::new(STOP_BUCKETS.iter().copied()),
            size_bytes: Gauge::default(),
            last_completed_id: Gauge::default(),
            last_completed_timestamp_seconds: Gauge::default(),
            interval_seconds: Gauge::default(),
            failed: Counter::default(),
            spills: Counter::default(),
            restore_duration_seconds: Gauge::default(),
        }
    }
}

impl CheckpointMetrics {
    /// Adds every metric to `registry` under `tagflow_checkpoint*` names.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "tagflow_checkpoint_duration_seconds",
            "Time from a checkpoint boundary's first snapshot to its sealed manifest",
            self.duration_seconds.clone(),
        );
        registry.register(
            "tagflow_checkpoint_pause_seconds",
            "Longest time an operator stopped processing at once to snapshot its state, per boundary",
            self.pause_seconds.clone(),
        );
        registry.register(
            "tagflow_checkpoint_pause_working_seconds",
            "Longest time an operator's thread held a core in one stop for a snapshot, per boundary (the stop's wall time less its wait for a core)",
            self.pause_working_seconds.clone(),
        );
        registry.register(
            "tagflow_checkpoint_stop_working_seconds",
            "Time an operator's thread held a core in each stop for a snapshot (every slice, not only the longest per boundary)",
            self.stop_working_seconds.clone(),
        );
        registry.register(
            "tagflow_checkpoint_size_bytes",
            "Bytes of the files of the last completed checkpoint",
            self.size_bytes.clone(),
        );
        registry.register(
            "tagflow_checkpoint_last_completed_id",
            "Id of the last completed checkpoint",
            self.last_completed_id.clone(),
        );
        registry.register(
            "tagflow_checkpoint_last_completed_timestamp_seconds",
            "Unix time the last checkpoint was completed (the start time until the first one)",
            self.last_completed_timestamp_seconds.clone(),
        );
        registry.register(
            "tagflow_checkpoint_interval_seconds",
            "Configured time between checkpoints",
            self.interval_seconds.clone(),
        );
        registry.register(
            "tagflow_checkpoints_failed",
            "Checkpoints that could not be completed",
            self.failed.clone(),
        );
        registry.register(
            "tagflow_state_spills",
            "Snapshots taken between checkpoint boundaries to keep state within --state-memory",
            self.spills.clone(),
        );
        registry.register(
            "tagflow_restore_duration_seconds",
            "Time taken to restore state from a checkpoint at start (0 if none)",
            self.restore_duration_seconds.clone(),
        );
    }

    /// Records one operator's longest pauses for a snapshot.
    pub fn observe_pauses(&self, pauses: LongestPauses) {
        self.pause_seconds.observe(pauses.wall.as_secs_f64());
        self.pause_working_seconds.observe(pauses.working.as_secs_f64());
    }

    /// Records the working part of each of one operator's stops for a
    /// snapshot.
    pub fn observe_stops(&self, working: &[Duration]) {
        for stop in working {
            self.stop_working_seconds.observe(stop.as_secs_f64());
        }
    }

    /// Records a restore that took `elapsed` (the slowest worker's counts).
    pub fn observe_restore(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if seconds > self.restore_duration_seconds.get() {
            self.restore_duration_seconds.set(seconds);
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    #[test]
    fn every_stop_is_counted_in_millisecond_buckets_up_to_10_ms() {
        let metrics = CheckpointMetrics::default();
        let ms = Duration::from_millis;
        metrics.observe_stops(&[ms(3), ms(9), ms(11)]);
        metrics.observe_stops(&[Duration::from_micros(9_500)]);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let bucket = |le: &str| {
            let line = format!("tagflow_checkpoint_stop_working_seconds_bucket{{le=\"{le}\"}} ");
            let found = text.lines().find_map(|l| l.strip_prefix(line.as_str()));
            found.unwrap_or_else(|| panic!("no bucket {le} in {text}")).to_owned()
        };
        assert_eq!(bucket("0.003"), "1");
        assert_eq!(bucket("0.009"), "2");
        assert_eq!(bucket("0.01"), "3");
        assert_eq!(bucket("0.0125"), "4");
        assert!(text.contains("tagflow_checkpoint_stop_working_seconds_count 4"), "{text}");
    }
}
