//! The job's Prometheus metrics.
//!
//! One [`JobMetrics`] is shared by every worker. Hot-path counters are
//! resolved to their label set once (a cloned handle) and incremented per
//! batch, never looked up per event.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::checkpointing::CheckpointMetrics;

/// Label pairs of a metric family.
pub type Labels = Vec<(&'static str, String)>;

/// Every metric the dataflow job exports.
#[derive(Debug)]
pub struct JobMetrics {
    registry: Registry,
    /// Events read, by topic and partition.
    pub events_consumed: Family<Labels, Counter>,
    /// Events sent to the dead-letter topic, by reason.
    pub dead_lettered: Family<Labels, Counter>,
    /// Messages between the job's position and the partition's end.
    pub consumer_lag: Family<Labels, Gauge>,
    /// Time to apply and write out one epoch, by operator.
    pub epoch_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    /// Commands per Redis pipeline.
    pub redis_batch_commands: Histogram,
    /// Round-trip time of one Redis pipeline.
    pub redis_write_seconds: Histogram,
    /// From an event's creation (its `timestamp`) to Redis acknowledging
    /// the write of its effect on the user's profile, for a sample of events.
    pub event_latency_seconds: Histogram,
    /// Failed Redis writes (each retried).
    pub redis_errors: Counter,
    /// Keys held in state by every worker of the process, by kind.
    pub state_keys: Family<Labels, Gauge>,
    /// Estimated memory of the state cached by every worker, by table.
    pub state_memory_bytes: Family<Labels, Gauge>,
    /// Last epoch completed by every worker.
    pub epoch: Gauge,
    /// Output messages Kafka refused for good, counted as their delivery
    /// reports arrive.
    pub output_failures: Counter,
    /// Repairs of a Redis that lost the job's writes.
    pub redis_resyncs: Counter,
    /// Start steps tried again because a service did not answer yet.
    pub start_retries: Counter,
    /// Events not counted because their user's profile remembered their id
    /// (`--dedupe-window`).
    pub duplicate_events: Counter,
    /// Offsets a restore found deleted from Kafka before they were read
    /// (`--on-data-loss continue`), by topic and partition.
    pub input_offsets_lost: Family<Labels, Counter>,
    /// Partitions assigned again because the consumer stopped delivering
    /// them while Kafka held more (`kafka_reader/stall_watch.rs`), by topic
    /// and partition.
    pub input_partition_restarts: Family<Labels, Counter>,
    /// Messages dropped because they lay below their partition's position
    /// (delivered again after the consumer moved back), by topic and partition.
    pub input_redelivered: Family<Labels, Counter>,
    /// Seconds the sources read nothing because the dataflow was more than
    /// `--read-ahead-epochs` behind them (back-pressure), summed over the
    /// process's workers.
    pub input_paused_seconds: Counter<f64, AtomicU64>,
    /// Checkpoints and restores.
    pub checkpoint: CheckpointMetrics,
}

/// Moves the gauge of `label` by `now - *reported` and records `now`.
fn add_delta(
    family: &Family<Labels, Gauge>,
    label: (&'static str, &str),
    reported: &mut usize,
    now: usize,
) {
    let delta = i64::try_from(now).unwrap_or(i64::MAX) - i64::try_from(*reported).unwrap_or(0);
    family.get_or_create(&vec![(label.0, label.1.to_owned())]).inc_by(delta);
    *reported = now;
}

/// Buckets of the duration histograms: 0.5 ms doubling up to ~16 s.
fn seconds_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0005, 2.0, 16)
}

fn seconds_histogram() -> Histogram {
    Histogram::new(seconds_buckets())
}

/// Buckets of the end-to-end latency: 1 ms growing by a quarter up to
/// ~12 s, fine enough to read a p99 to within 25 %.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 1.25, 43)
}

impl Default for JobMetrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let metrics = Self {
            events_consumed: Family::default(),
            dead_lettered: Family::default(),
            consumer_lag: Family::default(),
            epoch_seconds: Family::new_with_constructor(seconds_histogram),
            redis_batch_commands: Histogram::new(exponential_buckets(1.0, 4.0, 12)),
            redis_write_seconds: seconds_histogram(),
            event_latency_seconds: Histogram::new(latency_buckets()),
            redis_errors: Counter::default(),
            state_keys: Family::default(),
            state_memory_bytes: Family::default(),
            epoch: Gauge::default(),
            output_failures: Counter::default(),
            redis_resyncs: Counter::default(),
            start_retries: Counter::default(),
            duplicate_events: Counter::default(),
            input_offsets_lost: Family::default(),
            input_partition_restarts: Family::default(),
            input_redelivered: Family::default(),
            input_paused_seconds: Counter::default(),
            checkpoint: CheckpointMetrics::default(),
            registry: Registry::default(),
        };
        registry.register(
            "tagflow_events_consumed",
            "Events read from Kafka",
            metrics.events_consumed.clone(),
        );
        registry.register(
            "tagflow_dead_lettered",
            "Events sent to the dead-letter topic",
            metrics.dead_lettered.clone(),
        );
        registry.register(
            "tagflow_consumer_lag",
            "Messages behind the partition end",
            metrics.consumer_lag.clone(),
        );
        registry.register(
            "tagflow_epoch_seconds",
            "Time to apply and write out one epoch",
            metrics.epoch_seconds.clone(),
        );
        registry.register(
            "tagflow_redis_batch_commands",
            "Commands per Redis pipeline",
            metrics.redis_batch_commands.clone(),
        );
        registry.register(
            "tagflow_redis_write_seconds",
            "Round trip of one Redis pipeline",
            metrics.redis_write_seconds.clone(),
        );
        registry.register(
            "tagflow_event_latency_seconds",
            "From an event's creation time to its profile update acknowledged by Redis (sampled events)",
            metrics.event_latency_seconds.clone(),
        );
        registry.register(
            "tagflow_redis_errors",
            "Failed Redis writes (retried)",
            metrics.redis_errors.clone(),
        );
        registry.register("tagflow_state_keys", "Keys held in state", metrics.state_keys.clone());
        registry.register(
            "tagflow_state_memory_bytes",
            "Estimated memory of the state cached in memory (the rest is in RocksDB only)",
            metrics.state_memory_bytes.clone(),
        );
        registry.register(
            "tagflow_epoch",
            "Last epoch completed by every worker",
            metrics.epoch.clone(),
        );
        registry.register(
            "tagflow_output_failures",
            "Output messages Kafka refused for good (each fails the next checkpoint and stops the job)",
            metrics.output_failures.clone(),
        );
        registry.register(
            "tagflow_redis_resyncs",
            "Repairs of a Redis that lost the job's writes: the dataflow restarted from the newest checkpoint and rewrote every key",
            metrics.redis_resyncs.clone(),
        );
        registry.register(
            "tagflow_start_retries",
            "Start steps tried again because Kafka or Redis did not answer yet (--start-retry-for)",
            metrics.start_retries.clone(),
        );
        registry.register(
            "tagflow_duplicate_events",
            "Events not counted: their user's profile remembered their eventId (--dedupe-window)",
            metrics.duplicate_events.clone(),
        );
        registry.register(
            "tagflow_input_offsets_lost",
            "Offsets deleted from Kafka (retention) before the job read them, skipped with --on-data-loss continue",
            metrics.input_offsets_lost.clone(),
        );
        registry.register(
            "tagflow_input_partition_restarts",
            "Partitions assigned again at their position: the consumer delivered nothing of them for 30 s although Kafka held more",
            metrics.input_partition_restarts.clone(),
        );
        registry.register(
            "tagflow_input_redelivered",
            "Messages dropped because they lay below their partition's position (delivered again after the consumer moved back)",
            metrics.input_redelivered.clone(),
        );
        registry.register(
            "tagflow_input_paused_seconds",
            "Seconds the sources read nothing because the dataflow was more than --read-ahead-epochs behind them (back-pressure), summed over workers",
            metrics.input_paused_seconds.clone(),
        );
        procmetrics::register(&mut registry);
        metrics.checkpoint.register(&mut registry);
        Self { registry, ..metrics }
    }
}

impl JobMetrics {
    /// Records one Redis pipeline.
    pub fn observe_redis_batch(&self, commands: usize, elapsed: Duration) {
        self.redis_batch_commands.observe(commands as f64);
        self.redis_write_seconds.observe(elapsed.as_secs_f64());
    }

    /// Records the end-to-end latency of events created at `created_ms`
    /// (ms since the Unix epoch), now that their effects are in Redis.
    pub fn observe_event_latencies(&self, created_ms: &[i64]) {
        if created_ms.is_empty() {
            return;
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3);
        for &created in created_ms {
            // Clocks of other hosts may run ahead: never a negative latency.
            let latency_ms = (now_ms - created as f64).max(0.0);
            self.event_latency_seconds.observe(latency_ms / 1e3);
        }
    }

    /// Records how long an operator took over one epoch, if it did any work.
    pub fn observe_epoch(&self, operator: &'static str, started: Option<std::time::Instant>) {
        if let Some(started) = started {
            self.epoch_seconds
                .get_or_create(&vec![("operator", operator.to_owned())])
                .observe(started.elapsed().as_secs_f64());
        }
    }

    /// Updates the process-wide number of keys of one kind held in state
    /// with one worker's count: `reported` is what this worker reported
    /// last, and becomes `keys`.
    pub fn set_state_keys(&self, kind: &'static str, reported: &mut usize, keys: usize) {
        add_delta(&self.state_keys, ("kind", kind), reported, keys);
    }

    /// Like [`set_state_keys`](Self::set_state_keys), for the estimated
    /// memory of one table's cache.
    pub fn set_state_memory(&self, state: &'static str, reported: &mut usize, bytes: usize) {
        add_delta(&self.state_memory_bytes, ("state", state), reported, bytes);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The labels of a topic partition.
pub fn partition_labels(topic: &str, partition: i32) -> Labels {
    vec![("topic", topic.to_owned()), ("partition", partition.to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_job_and_process_metrics() {
        let metrics = JobMetrics::default();
        metrics.events_consumed.get_or_create(&partition_labels("view-events", 0)).inc_by(3);
        metrics.dead_lettered.get_or_create(&vec![("reason", "schema".into())]).inc();
        let text = metrics.render();
        assert!(
            text.contains(r#"tagflow_events_consumed_total{topic="view-events",partition="0"} 3"#),
            "{text}"
        );
        assert!(text.contains(r#"tagflow_dead_lettered_total{reason="schema"} 1"#), "{text}");
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
        assert!(text.contains("process_cpu_seconds_total "), "{text}");
    }
}
