//! Sending generated events to Kafka with `acks=all`, idempotence and
//! checked delivery reports.
//!
//! Events go to the topic of their type, keyed by `userId`. The loop reuses
//! one serialization buffer, polls delivery reports in batches, paces itself
//! to `--rate` against a monotonic clock, and stops on count, duration or a
//! signal. Every delivery report is counted: the run fails unless every
//! event sent was acknowledged.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use model::{MAX_MESSAGE_BYTES, Topics};
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use crate::generator::EventGenerator;
use crate::progress::Progress;

/// How to send: where, how fast, and for how long.
#[derive(Debug, Clone)]
pub struct ProduceConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Topic names (possibly prefixed, for tests).
    pub topics: Topics,
    /// Target events per second; 0 sends as fast as possible.
    pub rate: f64,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Stop after this much wall-clock time.
    pub duration: Option<Duration>,
    /// Compression codec (`none`, `lz4`, `zstd`, …).
    pub compression: String,
    /// How long an event may wait for its acknowledgement before it fails.
    pub delivery_timeout: Duration,
    /// Show a progress bar (terminal) or periodic lines.
    pub progress: bool,
}

/// What a run achieved.
#[derive(Debug, Clone, PartialEq)]
pub struct ProduceReport {
    /// Events handed to the producer.
    pub sent: u64,
    /// Events the brokers acknowledged.
    pub acknowledged: u64,
    /// Events whose delivery failed.
    pub failed: u64,
    /// The first delivery error, if any.
    pub first_error: Option<String>,
    /// Wall-clock time from the first send to the last acknowledgement.
    pub elapsed: Duration,
}

impl ProduceReport {
    /// Acknowledged events per second.
    pub fn rate(&self) -> f64 {
        self.acknowledged as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Whether every event sent was acknowledged.
    pub fn is_complete(&self) -> bool {
        self.failed == 0 && self.acknowledged == self.sent
    }
}

/// A failure that stopped the run before it could finish.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The producer could not be created (bad configuration).
    #[error("cannot create the Kafka producer: {0}")]
    Client(#[source] KafkaError),
    /// A send was refused for a reason other than a full queue.
    #[error("cannot enqueue an event for topic {topic}: {source}")]
    Send {
        /// The topic of the refused event.
        topic: String,
        /// librdkafka's error.
        #[source]
        source: KafkaError,
    },
    /// A generated event exceeded the message size limit (a generator bug).
    #[error("generated event is {0} bytes, over the {MAX_MESSAGE_BYTES}-byte limit")]
    Oversize(usize),
}

/// Counts delivery reports from librdkafka's callback thread.
#[derive(Debug, Default)]
struct DeliveryCounter {
    acknowledged: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for DeliveryCounter {}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Err((err, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
                first.get_or_insert_with(|| err.to_string());
            }
        }
    }
}

/// The client configuration every event producer of tagflow uses.
pub fn producer_config(
    brokers: &str,
    compression: &str,
    delivery_timeout: Duration,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("message.timeout.ms", delivery_timeout.as_millis().max(1).to_string())
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.type", compression)
        .set("linger.ms", "25")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("partitioner", model::kafka::PARTITIONER);
    config
}

/// Sends events from `generator` until the count or duration is reached or
/// `stop` is set, then waits for every acknowledgement.
pub fn produce(
    generator: &mut EventGenerator,
    config: &ProduceConfig,
    stop: &AtomicBool,
) -> Result<ProduceReport, ProduceError> {
    let producer: BaseProducer<DeliveryCounter> =
        producer_config(&config.brokers, &config.compression, config.delivery_timeout)
            .create_with_context(DeliveryCounter::default())
            .map_err(ProduceError::Client)?;
    let mut progress = Progress::new(config.progress, config.count);
    let mut buf = Vec::with_capacity(1024);
    let start = Instant::now();
    let mut sent: u64 = 0;
    // Pace once per millisecond's worth of events, not per event: waking
    // up 100,000 times a second would cost more CPU than producing.
    let per_wake_up =
        if config.rate > 0.0 { (config.rate / 1000.0).ceil().max(1.0) as u64 } else { 256 };
    loop {
        if config.count.is_some_and(|c| sent >= c) || stop.load(Ordering::Relaxed) {
            break;
        }
        // Clock checks cost a few ns; at full speed do them every 256 events.
        if sent.is_multiple_of(per_wake_up) {
            let elapsed = start.elapsed();
            if config.duration.is_some_and(|d| elapsed >= d) {
                break;
            }
            if config.rate > 0.0 {
                pace(&producer, start, elapsed, sent, config.rate);
            }
        }
        let event = generator.next_event();
        event.write_json(&mut buf);
        if buf.len() > MAX_MESSAGE_BYTES {
            return Err(ProduceError::Oversize(buf.len()));
        }
        let topic = config.topics.for_type(event.event_type);
        let mut record = BaseRecord::to(topic).key(event.user_id.as_bytes()).payload(&buf);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
                Err((source, _)) => {
                    return Err(ProduceError::Send { topic: topic.to_owned(), source });
                }
            }
        }
        sent += 1;
        if sent.is_multiple_of(1024) {
            producer.poll(Duration::ZERO);
            progress.update(sent, producer.context().acknowledged.load(Ordering::Relaxed));
        }
    }
    // Every event is acknowledged or failed within the delivery timeout; a
    // flush that still times out leaves events unacknowledged, which the
    // report shows.
    let _ = producer.flush(config.delivery_timeout + Duration::from_secs(5));
    let context = producer.context();
    let report = ProduceReport {
        sent,
        acknowledged: context.acknowledged.load(Ordering::Relaxed),
        failed: context.failed.load(Ordering::Relaxed),
        first_error: context.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        elapsed: start.elapsed(),
    };
    progress.finish(report.sent, report.acknowledged);
    Ok(report)
}

/// Waits (serving delivery reports meanwhile) until event number `sent` is
/// due at `rate` events per second.
fn pace(
    producer: &BaseProducer<DeliveryCounter>,
    start: Instant,
    elapsed: Duration,
    sent: u64,
    rate: f64,
) {
    let due = Duration::from_secs_f64(sent as f64 / rate);
    if due > elapsed {
        // Serve delivery reports without blocking, then sleep: rdkafka's
        // poll with a timeout spins on the clock while its queue is empty.
        producer.poll(Duration::ZERO);
        if let Some(rest) = (start + due).checked_duration_since(Instant::now()) {
            std::thread::sleep(rest);
        }
    }
}
