//! Partition discovery and watermark look-ups, off the worker thread.
//!
//! Finding partitions added at runtime and measuring consumer lag take
//! metadata and watermark requests that can block for seconds while a
//! broker is away. A worker thread that blocks stops its share of the
//! dataflow, so each worker's reader gets a [`MetadataWatch`]: a thread
//! with a client of its own that asks every discovery interval and leaves
//! the newest answer for the worker to take without waiting. A partition
//! whose watermarks could not be read is left out of an answer, so the
//! worker never assigns a partition without knowing where it starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;

use crate::assignment::{TopicPartition, owner};

/// How long one metadata or watermark request may take (on the watch's
/// thread).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The event topics' partitions, and the watermarks of the worker's own.
#[derive(Debug, Clone, Default)]
pub struct PartitionMetadata {
    /// Every partition of the event topics.
    pub partitions: Vec<TopicPartition>,
    /// Low and high watermark of each partition this worker owns that
    /// answered.
    pub watermarks: HashMap<TopicPartition, (i64, i64)>,
}

/// What a watch is asked about.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// The event topics.
    pub topics: Vec<String>,
    /// This worker's index.
    pub worker: usize,
    /// Total number of workers.
    pub workers: usize,
    /// How often to ask.
    pub interval: Duration,
}

/// A worker's metadata thread; stopped when dropped.
#[derive(Debug)]
pub struct MetadataWatch {
    latest: Arc<Mutex<Option<PartitionMetadata>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetadataWatch {
    /// Starts the thread.
    ///
    /// # Errors
    /// The client or the thread could not be created.
    pub fn start(config: WatchConfig) -> Result<Self, KafkaError> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", format!("tagflow-metadata-{}", config.worker))
            .create()?;
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (latest_of_thread, stop_of_thread) = (Arc::clone(&latest), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(format!("kafka-metadata-{}", config.worker))
            .spawn(move || {
                while !stop_of_thread.load(Ordering::Acquire) {
                    let asked = Instant::now();
                    match fetch(&consumer, &config) {
                        Ok(metadata) => {
                            *latest_of_thread.lock().unwrap_or_else(PoisonError::into_inner) =
                                Some(metadata);
                        }
                        Err(err) => {
                            tracing::warn!(worker = config.worker, %err, "partition metadata look-up failed; will retry");
                        }
                    }
                    while asked.elapsed() < config.interval && !stop_of_thread.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
            .map_err(|err| KafkaError::ClientCreation(err.to_string()))?;
        Ok(Self { latest, stop, thread: Some(thread) })
    }

    /// The newest answer since the last call, if any; never waits for Kafka.
    pub fn take(&self) -> Option<PartitionMetadata> {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl Drop for MetadataWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One round of questions: the partitions of every event topic, then the
/// watermarks of the worker's own (each that fails is left out).
///
/// # Errors
/// The metadata of a topic could not be read.
pub fn fetch(
    consumer: &BaseConsumer,
    config: &WatchConfig,
) -> Result<PartitionMetadata, KafkaError> {
    let mut partitions = Vec::new();
    for topic in &config.topics {
        let metadata = consumer.fetch_metadata(Some(topic), REQUEST_TIMEOUT)?;
        for t in metadata.topics().iter().filter(|t| t.error().is_none()) {
            let of_topic = t.partitions().iter();
            partitions.extend(
                of_topic.map(|p| TopicPartition { topic: t.name().to_owned(), partition: p.id() }),
            );
        }
    }
    let mut watermarks = HashMap::new();
    for tp in partitions.iter().filter(|tp| owner(tp.partition, config.workers) == config.worker) {
        match consumer.fetch_watermarks(&tp.topic, tp.partition, REQUEST_TIMEOUT) {
            Ok(marks) => {
                watermarks.insert(tp.clone(), marks);
            }
            Err(err) => {
                tracing::debug!(topic = %tp.topic, partition = tp.partition, %err, "watermarks unavailable");
            }
        }
    }
    Ok(PartitionMetadata { partitions, watermarks })
}
