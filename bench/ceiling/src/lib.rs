//! The raw consume ceiling: how fast this machine can read the event topics
//! from Kafka when nothing is done with the records.
//!
//! It reads like the dataflow job does (`dataflow/src/kafka_reader/mod.rs`): one
//! `BaseConsumer` per worker thread, manual assignment of partition `p` to
//! worker `p mod W`, the same consumer settings
//! (`dataflow::kafka_reader::consumer_config`), every partition read from its
//! earliest offset to the high watermark it had at start. Each message's
//! payload is touched (its length counted) and dropped, so the figure bounds
//! what any job reading these topics with librdkafka can reach.
//!
//! With [`CeilingConfig::parse`] (the parse ceiling) every payload is also
//! parsed and validated with `model::Event::parse`, as the job does, and
//! dropped: no state, no output. Invalid payloads are counted.

use std::time::{Duration, Instant};

use dataflow::kafka_reader::consumer_config;
use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};

/// How long metadata and watermark requests may block.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// What to read.
#[derive(Debug, Clone)]
pub struct CeilingConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Full topic names to read to their ends.
    pub topics: Vec<String>,
    /// Reader threads, one consumer each (the job's `--workers`).
    pub threads: usize,
    /// Give up when no message arrives for this long while data remains.
    pub stall_timeout: Duration,
    /// Parse every payload with `model::Event::parse` (the parse ceiling).
    pub parse: bool,
}

/// A failure of the measurement.
#[derive(Debug, thiserror::Error)]
pub enum CeilingError {
    /// Kafka refused a request.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// A topic has no partitions (it probably does not exist).
    #[error("topic {0} has no partitions")]
    NoPartitions(String),
    /// Reading stalled before every partition reached its end.
    #[error("reader {thread} stalled with {remaining} messages left to read")]
    Stalled {
        /// The stalled thread.
        thread: usize,
        /// Messages it still expected.
        remaining: i64,
    },
    /// A reader thread panicked.
    #[error("reader thread panicked")]
    Panicked,
}

/// What was read and how fast.
#[derive(Debug, Clone, Copy, Default)]
pub struct CeilingReport {
    /// Messages read.
    pub messages: u64,
    /// Payload bytes read.
    pub bytes: u64,
    /// Payloads `model::Event::parse` rejected (0 unless parsing).
    pub invalid: u64,
    /// From the first consumer's creation to the last partition's end.
    pub elapsed: Duration,
}

impl CeilingReport {
    /// Messages per second over [`Self::elapsed`].
    pub fn messages_per_sec(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"messages":{},"bytes":{},"invalid":{},"seconds":{:.3},"events_per_sec":{:.0}}}"#,
            self.messages,
            self.bytes,
            self.invalid,
            self.elapsed.as_secs_f64(),
            self.messages_per_sec()
        )
    }
}

/// Reads every partition of `config.topics` to its end with
/// `config.threads` consumers in parallel.
pub fn measure(config: &CeilingConfig) -> Result<CeilingReport, CeilingError> {
    let start = Instant::now();
    let threads = config.threads.max(1);
    let results: Vec<Result<CeilingReport, CeilingError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| scope.spawn(move || read_owned(config, thread, threads)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(Err(CeilingError::Panicked))).collect()
    });
    let mut report = CeilingReport { elapsed: start.elapsed(), ..CeilingReport::default() };
    for result in results {
        let read = result?;
        report.messages += read.messages;
        report.bytes += read.bytes;
        report.invalid += read.invalid;
    }
    Ok(report)
}

/// One thread: the consumer of partitions `p` with `p mod threads == thread`
/// (its report's `elapsed` is left zero).
fn read_owned(
    config: &CeilingConfig,
    thread: usize,
    threads: usize,
) -> Result<CeilingReport, CeilingError> {
    let group_id = format!("consume-ceiling-{}", std::process::id());
    let client_id = format!("consume-ceiling-{thread}");
    let consumer: BaseConsumer<DefaultConsumerContext> =
        consumer_config(&config.brokers, &group_id, &client_id).create()?;
    let mut list = TopicPartitionList::new();
    // (topic, partition, end offset) of every owned partition with data.
    let mut ends: Vec<(String, i32, i64)> = Vec::new();
    for topic in &config.topics {
        let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(CeilingError::NoPartitions(topic.clone()));
        }
        for p in partitions {
            if usize::try_from(p).unwrap_or(0) % threads != thread {
                continue;
            }
            let (low, high) = consumer.fetch_watermarks(topic, p, METADATA_TIMEOUT)?;
            if high > low {
                list.add_partition_offset(topic, p, Offset::Beginning)?;
                ends.push((topic.clone(), p, high));
            }
        }
    }
    let mut remaining: i64 = 0;
    for (topic, p, high) in &ends {
        let (low, _) = consumer.fetch_watermarks(topic, *p, METADATA_TIMEOUT)?;
        remaining += high - low;
    }
    let mut read = CeilingReport::default();
    if ends.is_empty() {
        return Ok(read);
    }
    consumer.assign(&list)?;
    let mut last_message = Instant::now();
    while remaining > 0 {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                last_message = Instant::now();
                let Some(slot) = ends
                    .iter()
                    .position(|(t, p, _)| *p == message.partition() && t == message.topic())
                else {
                    continue;
                };
                if message.offset() < ends[slot].2 {
                    let payload = message.payload().unwrap_or_default();
                    read.messages += 1;
                    read.bytes += payload.len() as u64;
                    if config.parse && model::Event::parse(payload).is_err() {
                        read.invalid += 1;
                    }
                    remaining -= 1;
                }
            }
            Some(Err(err)) => return Err(err.into()),
            None if last_message.elapsed() > config.stall_timeout => {
                return Err(CeilingError::Stalled { thread, remaining });
            }
            None => {}
        }
    }
    Ok(read)
}
