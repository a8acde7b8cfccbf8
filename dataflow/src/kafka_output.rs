//! Producing the job's Kafka outputs: dead letters and changed interest tags.
//!
//! Both go through a [`KafkaOutput`]: a background-polled producer with
//! `acks=all` and idempotence whose delivery reports are counted, so a lost
//! output is visible in logs and metrics rather than silent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use model::EventError;
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

/// Counts failed deliveries and logs the first ones.
#[derive(Debug, Default)]
pub struct DeliveryFailures {
    failures: Arc<AtomicU64>,
}

impl ClientContext for DeliveryFailures {}

impl ProducerContext for DeliveryFailures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((err, message)) = result {
            let failures = self.failures.fetch_add(1, Ordering::Relaxed);
            if failures < 10 {
                use rdkafka::Message;
                tracing::error!(%err, topic = message.topic(), "output delivery failed");
            }
        }
    }
}

/// A producer for one of the job's output topics.
pub struct KafkaOutput {
    producer: ThreadedProducer<DeliveryFailures>,
    failures: Arc<AtomicU64>,
    topic: String,
}

impl std::fmt::Debug for KafkaOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaOutput").field("topic", &self.topic).finish()
    }
}

/// Where a rejected message came from, for its dead-letter headers.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// Source topic.
    pub topic: &'a str,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
}

impl KafkaOutput {
    /// A producer writing to `topic`.
    pub fn new(brokers: &str, topic: &str) -> Result<Self, KafkaError> {
        let failures = Arc::new(AtomicU64::new(0));
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "20")
            .set("compression.type", "lz4")
            .set("partitioner", model::kafka::PARTITIONER)
            .create_with_context(DeliveryFailures { failures: Arc::clone(&failures) })?;
        Ok(Self { producer, failures, topic: topic.to_owned() })
    }

    /// Sends `payload` keyed by `key`, waiting briefly while the local queue
    /// is full (back-pressure rather than loss).
    pub fn send(&self, key: &[u8], payload: &[u8], headers: Option<OwnedHeaders>) {
        let mut record = BaseRecord::to(&self.topic).key(key).payload(payload);
        if let Some(headers) = headers {
            record = record.headers(headers);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((err, _)) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(%err, topic = %self.topic, "cannot enqueue output");
                    return;
                }
            }
        }
    }

    /// Forwards a rejected message with its reason and origin as headers.
    pub fn dead_letter(
        &self,
        key: Option<&[u8]>,
        raw: &[u8],
        error: &EventError,
        origin: Origin<'_>,
    ) {
        let partition = origin.partition.to_string();
        let offset = origin.offset.to_string();
        let detail = error.to_string();
        let headers = OwnedHeaders::new_with_capacity(5)
            .insert(Header { key: "reason", value: Some(error.reason()) })
            .insert(Header { key: "error", value: Some(detail.as_str()) })
            .insert(Header { key: "source.topic", value: Some(origin.topic) })
            .insert(Header { key: "source.partition", value: Some(partition.as_str()) })
            .insert(Header { key: "source.offset", value: Some(offset.as_str()) });
        self.send(key.unwrap_or_default(), raw, Some(headers));
    }

    /// Deliveries that failed so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Waits until everything sent is acknowledged (or `timeout` passes).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }
}
