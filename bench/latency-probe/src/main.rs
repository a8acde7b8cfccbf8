//! The `latency-probe` binary: measures the dataflow job's end-to-end
//! latency from outside, as a shopper would see it.
//!
//! Every `--interval` it produces one `view` event for its own probe user,
//! with one probe tag and `timestamp` = the time it is sent, onto the view
//! topic the job reads; then it polls Redis (`HGET user:profile:<user>
//! <tag>`, one connection) until the tag's score counts that event. Views
//! weigh `--view-weight` each and Kafka keeps one user's events in order, so
//! a score of `n × weight` means the first `n` probes are visible. Several
//! probes may be in flight, so one slow write does not stop the sampling.
//! Prints one line of JSON: count, p50, p99 and max in milliseconds, and
//! under `kafka_acked` the same probes' times until Kafka acknowledged them
//! (`acks=all`): the share of the latency that is Kafka's, not the job's.

mod probe;
mod stats;

use std::time::Duration;

use clap::Parser;

use crate::probe::{ProbeConfig, run};

/// Measure the dataflow job's end-to-end latency: produce a probe event
/// every --interval and time until its effect is visible in Redis. Start it
/// against a running job (`dataflow run`, not --until-caught-up) whose
/// topics and Redis database it names. Prints one line of JSON.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(
        long,
        env = "TAGFLOW_BROKERS",
        default_value = "127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095"
    )]
    brokers: String,
    /// Prefix of the topic names (as the job's --topic-prefix).
    #[arg(long, env = "TAGFLOW_TOPIC_PREFIX", default_value = "")]
    topic_prefix: String,
    /// The job's Redis; a path selects the database (redis://127.0.0.1:6379/58).
    #[arg(long, env = "TAGFLOW_REDIS", default_value = "redis://127.0.0.1:6379")]
    redis: String,
    /// The probe user: use a new one per run, its score must start at zero.
    #[arg(long, default_value = "latency-probe-0")]
    user: String,
    /// The tag (and product id) of the probe events.
    #[arg(long, default_value = "latency-probe")]
    tag: String,
    /// Score a view adds to its tags (the job's --weights, first value).
    #[arg(long, default_value_t = 1)]
    view_weight: i64,
    /// Time between two probe events.
    #[arg(long, default_value = "20ms", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Time between two Redis polls while probes are in flight.
    #[arg(long, default_value = "1ms", value_parser = humantime::parse_duration)]
    poll: Duration,
    /// Probes sent first and not counted (connections, metadata, first batch).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// How long to send counted probes, after the warm-up.
    #[arg(long, default_value = "45s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Most probes in flight; sending pauses while this many are not visible.
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// A probe not visible after this long counts as timed out.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// librdkafka's linger.ms of the probe's producer (the API ingests with 2).
    #[arg(long, default_value_t = 2)]
    linger_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = ProbeConfig {
        brokers: cli.brokers,
        topic_prefix: cli.topic_prefix,
        redis: cli.redis,
        user: cli.user,
        tag: cli.tag,
        view_weight: cli.view_weight,
        interval: cli.interval,
        poll: cli.poll,
        warmup: cli.warmup,
        duration: cli.duration,
        max_in_flight: cli.max_in_flight.max(1),
        timeout: cli.timeout,
        linger_ms: cli.linger_ms,
    };
    let report = run(&config)?;
    println!("{}", serde_json::to_string(&report)?);
    anyhow::ensure!(report.count > 0, "no probe became visible in Redis");
    Ok(())
}
