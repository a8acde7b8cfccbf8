//! Command-line interface: flags, their help text and environment variables.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};

use crate::generator::GeneratorConfig;
use crate::mix::Mix;
use crate::shard::Shard;

/// The standard local cluster's client listeners.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095";

/// tagflow's traffic simulator: realistic, deterministic shopper events.
#[derive(Debug, Parser)]
#[command(name = "simulator", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The simulator's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Produce events into Kafka.
    Produce(ProduceArgs),
    /// Write the product catalog as JSON and load it into Redis.
    Catalog(CatalogArgs),
    /// Print the event sequence as JSON lines on stdout, without Kafka.
    Events(EventsArgs),
}

/// Flags that determine the event sequence.
#[derive(Debug, Clone, Args)]
pub struct GeneratorArgs {
    /// Seed of every random choice: the same seed and flags give the same events.
    #[arg(long, env = "TAGFLOW_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Number of users (across all shards).
    #[arg(long, default_value_t = 10_000)]
    pub users: u64,
    /// Number of products in the catalog.
    #[arg(long, default_value_t = 1_000)]
    pub products: usize,
    /// Event time of the first event: RFC 3339 (2026-11-25T23:00:00Z) or
    /// milliseconds since the epoch. Defaults to now, rounded to the second.
    #[arg(long, value_parser = parse_start_time)]
    pub start_time: Option<i64>,
    /// Events per second of event time. Defaults to --rate, or 1000 when
    /// --rate is 0 or absent.
    #[arg(long)]
    pub event_time_rate: Option<f64>,
    /// Share of view, add_to_cart and purchase events.
    #[arg(long, default_value = "80,15,5")]
    pub mix: Mix,
    /// This simulator's share of the users, i/n (n simulators, disjoint users).
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Zipf exponent of user popularity (0 = uniform).
    #[arg(long, default_value_t = 0.8)]
    pub user_skew: f64,
    /// Zipf exponent of product popularity (0 = uniform).
    #[arg(long, default_value_t = 1.0)]
    pub product_skew: f64,
    /// Mean number of events in a shopping session.
    #[arg(long, default_value_t = 8.0, value_parser = parse_session_events)]
    pub session_events: f64,
}

impl GeneratorArgs {
    /// The generator configuration; `rate` supplies the event-time default.
    pub fn config(&self, rate: f64) -> GeneratorConfig {
        let default_rate = if rate > 0.0 { rate } else { 1_000.0 };
        GeneratorConfig {
            seed: self.seed,
            users: self.users,
            start_time_ms: self.start_time.unwrap_or_else(now_rounded_ms),
            event_time_rate: self.event_time_rate.unwrap_or(default_rate),
            mix: self.mix,
            shard: self.shard,
            user_skew: self.user_skew,
            product_skew: self.product_skew,
            mean_session_events: self.session_events,
        }
    }
}

/// `simulator produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// The event sequence.
    #[command(flatten)]
    pub generator: GeneratorArgs,
    /// Kafka bootstrap servers.
    #[arg(long, env = "TAGFLOW_BROKERS", default_value = DEFAULT_BROKERS)]
    pub brokers: String,
    /// Events per second to send; 0 sends as fast as possible.
    #[arg(long, default_value_t = 1_000.0)]
    pub rate: f64,
    /// Stop after this many events.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this long (e.g. 30s, 5m). Without --count or --duration the
    /// simulator runs until interrupted.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Prefix of every topic name (tests use it to stay apart).
    #[arg(long, env = "TAGFLOW_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
    /// Compression codec of produced batches: none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "lz4")]
    pub compression: String,
    /// How long Kafka may take to acknowledge an event before it counts as
    /// failed (librdkafka's message.timeout.ms).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub delivery_timeout: Duration,
    /// Hide the progress bar and periodic progress lines.
    #[arg(long)]
    pub quiet: bool,
    /// Stamp each event with the wall-clock time it is generated instead of
    /// its generated event time (for end-to-end latency measurements; the
    /// sequence is then reproducible except for the timestamps).
    #[arg(long)]
    pub wall_clock_timestamps: bool,
}

/// `simulator catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// Seed of the catalog (the same as the producer's --seed).
    #[arg(long, env = "TAGFLOW_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Number of products.
    #[arg(long, default_value_t = 1_000)]
    pub products: usize,
    /// Write the catalog as a JSON array to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Redis to load the catalog into (product:<id> hashes, products:tag:<tag> sets).
    #[arg(long, env = "TAGFLOW_REDIS", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// Do not load the catalog into Redis.
    #[arg(long)]
    pub no_redis: bool,
}

/// `simulator events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The event sequence.
    #[command(flatten)]
    pub generator: GeneratorArgs,
    /// How many events to print.
    #[arg(long, default_value_t = 10)]
    pub count: u64,
}

fn now_rounded_ms() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    secs as i64 * 1000
}

fn parse_start_time(value: &str) -> Result<i64, String> {
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(ms);
    }
    let time = humantime::parse_rfc3339_weak(value)
        .map_err(|e| format!("{e}: expected RFC 3339 (2026-11-25T23:00:00Z) or epoch ms"))?;
    let since = time.duration_since(UNIX_EPOCH).map_err(|_| "start time before 1970".to_owned())?;
    i64::try_from(since.as_millis()).map_err(|_| "start time too far in the future".to_owned())
}

fn parse_session_events(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(mean) if mean >= 1.0 && mean.is_finite() => Ok(mean),
        _ => Err("must be a number of at least 1".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_accepts_rfc3339_and_millis() {
        assert_eq!(parse_start_time("2026-11-25T00:00:00Z"), Ok(1_795_564_800_000));
        assert_eq!(parse_start_time("1795564800000"), Ok(1_795_564_800_000));
        assert!(parse_start_time("yesterday").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
