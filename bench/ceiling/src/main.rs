//! The `consume-ceiling` binary: reads the event topics to their end (and,
//! with `--parse`, parses every event) and prints one JSON line with the
//! message count, bytes, invalid events and events/s.

use std::time::Duration;

use clap::Parser;
use consume_ceiling::{CeilingConfig, measure};

/// Measure the raw Kafka consume ceiling of the three event topics: read
/// every partition to its current end, without processing, with one
/// consumer per thread like the dataflow job. Prints one line of JSON.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9093")]
    brokers: String,
    /// Prefix of the event topic names (as `dataflow run --topic-prefix`).
    #[arg(long, env = "TAGFLOW_TOPIC_PREFIX", default_value = "")]
    topic_prefix: String,
    /// Event topic names, without the prefix.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "view-events,add-to-cart-events,purchase-events"
    )]
    topics: Vec<String>,
    /// Reader threads, one consumer each (the job's `--workers`).
    #[arg(long, default_value_t = 3)]
    threads: usize,
    /// Fail when nothing arrives for this many seconds while data remains.
    #[arg(long, default_value_t = 30)]
    stall_timeout_secs: u64,
    /// The parse ceiling: also parse and validate every event with
    /// `model::Event::parse` (keeping no state, writing nothing).
    #[arg(long)]
    parse: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = CeilingConfig {
        brokers: cli.brokers,
        topics: cli.topics.iter().map(|t| format!("{}{t}", cli.topic_prefix)).collect(),
        threads: cli.threads,
        stall_timeout: Duration::from_secs(cli.stall_timeout_secs),
        parse: cli.parse,
    };
    let report = measure(&config)?;
    println!("{}", report.to_json());
    Ok(())
}
