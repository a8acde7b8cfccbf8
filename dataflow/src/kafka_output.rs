//! Producing the job's Kafka outputs: dead letters and changed interest tags.
//!
//! Both go through a [`KafkaOutput`]: a background-polled producer with
//! `acks=all` and idempotence that retries a message until Kafka takes it
//! (`message.timeout.ms=0`). Every message is tracked in [`Deliveries`], so
//! a checkpoint waits until Kafka acknowledged the outputs of the events it
//! covers ([`KafkaOutput::barrier`]); a message Kafka refuses for good is
//! logged and counted (`tagflow_output_failures_total`) when it happens,
//! and fails the next checkpoint.

use std::sync::Arc;
use std::time::Duration;

use model::EventError;
use prometheus_client::metrics::counter::Counter;
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::delivery::{Deliveries, DeliveryBarrier};

/// Settles each message's sequence number from its delivery report, and
/// counts and logs failures.
#[derive(Debug)]
pub struct DeliveryReports {
    deliveries: Arc<Deliveries>,
    failures: Counter,
}

impl DeliveryReports {
    fn failed(&self, sequence: u64, err: &KafkaError, topic: &str) {
        self.deliveries.settle(sequence, false);
        self.failures.inc();
        if self.deliveries.failed() <= 10 {
            tracing::error!(%err, topic, "output delivery failed; the next checkpoint fails");
        }
    }
}

impl ClientContext for DeliveryReports {}

impl ProducerContext for DeliveryReports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sequence: usize) {
        let sequence = sequence as u64;
        match result {
            Ok(_) => self.deliveries.settle(sequence, true),
            Err((err, message)) => {
                use rdkafka::Message;
                self.failed(sequence, err, message.topic());
            }
        }
    }
}

/// A producer for one of the job's output topics.
pub struct KafkaOutput {
    producer: ThreadedProducer<DeliveryReports>,
    deliveries: Arc<Deliveries>,
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
    /// A producer writing to `topic`; failed deliveries count in `failures`.
    pub fn new(brokers: &str, topic: &str, failures: Counter) -> Result<Self, KafkaError> {
        let deliveries = Arc::new(Deliveries::default());
        let reports = DeliveryReports { deliveries: Arc::clone(&deliveries), failures };
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "20")
            .set("compression.type", "lz4")
            // Retry until Kafka takes it: an outage stalls the job (the
            // queue fills, `send` waits), it does not lose outputs.
            .set("message.timeout.ms", "0")
            .set("partitioner", model::kafka::PARTITIONER)
            .create_with_context(reports)?;
        Ok(Self { producer, deliveries, topic: topic.to_owned() })
    }

    /// Sends `payload` keyed by `key`, waiting briefly while the local queue
    /// is full (back-pressure rather than loss).
    pub fn send(&self, key: &[u8], payload: &[u8], headers: Option<OwnedHeaders>) {
        let sequence = self.deliveries.next();
        let opaque = usize::try_from(sequence).expect("a 64-bit target");
        let mut record = BaseRecord::with_opaque_to(&self.topic, opaque).key(key).payload(payload);
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
                    self.producer.context().failed(sequence, &err, &self.topic);
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

    /// A barrier after every message sent so far: its `wait` returns once
    /// Kafka settled them all.
    pub fn barrier(&self) -> DeliveryBarrier {
        DeliveryBarrier::new(&self.deliveries)
    }

    /// Waits until everything sent is acknowledged (or `timeout` passes).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }
}
