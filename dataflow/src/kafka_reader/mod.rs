//! One worker's Kafka consumer: manual assignment, job-owned positions,
//! partition discovery and the "caught up" test. Discovery and lag after
//! the start use the answers of a [`MetadataWatch`], so the worker never
//! waits for Kafka's metadata.
//!
//! The dataflow, not Kafka, owns the read positions: each worker assigns its
//! partitions explicitly (no group rebalancing), starts them at restored
//! offsets or the earliest offset, and records the next offset to read after
//! every message. Positions are committed to the consumer group only so that
//! lag tools can see progress; recovery never reads them back.
//!
//! A restored position below its partition's low watermark means Kafka
//! deleted events (retention) that the job never read. That is refused by
//! default ([`OnDataLoss::Fail`]), naming the topic, the partition and the
//! lost range; with [`OnDataLoss::Continue`] the partition starts at its low
//! watermark and the lost offsets are logged and counted
//! (`tagflow_input_offsets_lost_total`). The same holds for a position
//! retention overtakes while the job runs (a job fallen behind): the
//! consumer never skips ahead on its own (`auto.offset.reset=error`), and
//! [`PartitionReader::resolve_out_of_range`] applies the policy
//! ([`data_loss`]).
//!
//! A partition the consumer stops delivering while Kafka holds more of it
//! is assigned again at its position ([`stall_watch`],
//! `tagflow_input_partition_restarts_total`); a message below a
//! partition's position (delivered again after the consumer moved back) is
//! dropped, since its effect is already in the state.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use state::PartitionOffset;

use crate::assignment::{TopicPartition, newly_owned, owner};
use crate::metadata_watch::{MetadataWatch, PartitionMetadata, WatchConfig, fetch};
use crate::metrics::{Labels, partition_labels};
pub use data_loss::{InputLoss, OnDataLoss, check_retained, is_out_of_range};
pub use error::ReaderError;
use stall_watch::{Observed, STALL_TIMEOUT, StallWatch};

pub mod data_loss;
mod error;
pub mod stall_watch;

/// How long the start's metadata and watermark requests may take.
pub(crate) const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// Where one owned partition stands.
#[derive(Debug, Clone)]
pub struct Position {
    /// The partition.
    pub tp: TopicPartition,
    /// Next offset to read (the offset after the last message processed).
    pub next_offset: i64,
    /// In caught-up mode: the high watermark at start, where reading stops.
    pub end: Option<i64>,
}

/// Settings of one worker's reader.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Consumer group, used only to publish positions for lag tools.
    pub group_id: String,
    /// The event topics.
    pub topics: Vec<String>,
    /// This worker's index and the number of workers.
    pub worker: usize,
    /// Total number of workers.
    pub workers: usize,
    /// Positions to resume from; partitions absent start at the earliest offset.
    pub start_offsets: BTreeMap<(String, i32), i64>,
    /// Stop each partition at the high watermark it had at start.
    pub until_caught_up: bool,
    /// What a restored position below the retained events means.
    pub on_data_loss: OnDataLoss,
    /// Counts offsets skipped under [`OnDataLoss::Continue`].
    pub lost_offsets: Family<Labels, Counter>,
    /// Counts partitions assigned again because they stalled.
    pub partition_restarts: Family<Labels, Counter>,
    /// How often partitions and watermarks are looked up again.
    pub discovery_interval: Duration,
}

/// The settings of the job's consumers: manual positions (no automatic
/// commits or offset store), a bounded prefetch, short fetch waits. Public
/// so that `bench/ceiling` reads Kafka exactly as the job does.
///
/// The prefetch is what librdkafka holds per worker beyond what the job has
/// read: it fetches while its queue has fewer than `queued.min.messages`
/// messages per partition and fewer than `queued.max.messages.kbytes`, and
/// one fetch overshoots that by up to `max.partition.fetch.bytes` per
/// partition (compressed: several times that once decompressed). With
/// fetches of 8 MiB per partition, librdkafka held 350 MB of a 1 M-user
/// catch-up's heap peak even with its queue limited to 8 MiB (heaptrack);
/// with fetches of 1 MiB, 67 MB (docs/benchmarks.md, "Memory of a
/// catch-up").
pub fn consumer_config(brokers: &str, group_id: &str, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        // A position Kafka no longer has is reported, never skipped past
        // (`data_loss.rs`): "earliest" would jump over deleted events
        // silently.
        .set("auto.offset.reset", "error")
        .set("fetch.max.bytes", "4194304")
        .set("max.partition.fetch.bytes", "1048576")
        .set("queued.min.messages", "20000")
        .set("queued.max.messages.kbytes", "16384")
        // Once the queue is over those limits, the next fetch waits this
        // long (librdkafka's default, 1 s, cut the consume ceiling to a
        // fifth at these limits).
        .set("fetch.queue.backoff.ms", "5")
        .set("fetch.wait.max.ms", "10")
        .set("client.id", client_id);
    config
}

/// A worker's consumer and its positions.
pub struct PartitionReader {
    consumer: BaseConsumer,
    config: ReaderConfig,
    positions: Vec<Position>,
    owned: BTreeSet<TopicPartition>,
    /// The newest known watermarks of the owned partitions (for lag).
    watermarks: HashMap<TopicPartition, (i64, i64)>,
    watch: MetadataWatch,
    stalls: StallWatch,
    /// Whether a poll found nothing since the last stall check.
    drained: Cell<bool>,
}

impl std::fmt::Debug for PartitionReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionReader").field("positions", &self.positions).finish()
    }
}

impl PartitionReader {
    /// Creates the consumer, assigns this worker's current partitions
    /// (asking Kafka on this thread, once) and starts its metadata watch.
    ///
    /// # Errors
    /// Kafka could not be asked, or (under [`OnDataLoss::Fail`]) events were
    /// lost.
    pub fn new(config: ReaderConfig) -> Result<Self, ReaderError> {
        let client_id = format!("tagflow-dataflow-{}", config.worker);
        let consumer: BaseConsumer<DefaultConsumerContext> =
            consumer_config(&config.brokers, &config.group_id, &client_id).create()?;
        let watch_config = WatchConfig {
            brokers: config.brokers.clone(),
            topics: config.topics.clone(),
            worker: config.worker,
            workers: config.workers,
            interval: config.discovery_interval,
        };
        let mut metadata = fetch(&consumer, &watch_config)?;
        // At the start every owned partition must be assigned: ask again, on
        // this thread, for watermarks the first round missed.
        for tp in &metadata.partitions {
            if owner(tp.partition, config.workers) == config.worker
                && !metadata.watermarks.contains_key(tp)
            {
                let marks = consumer.fetch_watermarks(&tp.topic, tp.partition, METADATA_TIMEOUT)?;
                metadata.watermarks.insert(tp.clone(), marks);
            }
        }
        let watch = MetadataWatch::start(watch_config)?;
        let mut reader = Self {
            consumer,
            config,
            positions: Vec::new(),
            owned: BTreeSet::new(),
            watermarks: HashMap::new(),
            watch,
            stalls: StallWatch::new(STALL_TIMEOUT),
            drained: Cell::new(false),
        };
        reader.assign_new(metadata)?;
        Ok(reader)
    }

    /// Takes the watch's newest answer, if there is one: remembers its
    /// watermarks (for [`Self::lags`]) and, unless the reader is bounded,
    /// assigns the partitions this worker owns and does not read yet (from
    /// their earliest offset); returns them. Never waits for Kafka.
    ///
    /// # Errors
    /// The assignment failed (nothing was assigned then; the next answer
    /// tries again).
    pub fn refresh(&mut self) -> Result<Vec<TopicPartition>, ReaderError> {
        let Some(metadata) = self.watch.take() else { return Ok(Vec::new()) };
        if self.is_bounded() {
            self.watermarks = metadata.watermarks;
            return Ok(Vec::new());
        }
        self.assign_new(metadata)
    }

    /// Assigns the partitions of `metadata` this worker owns, does not read
    /// yet and knows the watermarks of, all in one step.
    fn assign_new(
        &mut self,
        metadata: PartitionMetadata,
    ) -> Result<Vec<TopicPartition>, ReaderError> {
        let PartitionMetadata { partitions, watermarks } = metadata;
        let mut added =
            newly_owned(&partitions, &self.owned, self.config.worker, self.config.workers);
        added.retain(|tp| watermarks.contains_key(tp));
        if !added.is_empty() {
            let mut list = TopicPartitionList::new();
            let mut positions = Vec::with_capacity(added.len());
            for tp in &added {
                let (low, high) = watermarks[tp];
                let restored = self.config.start_offsets.get(&(tp.topic.clone(), tp.partition));
                let start = match restored.copied() {
                    // check_retained refused the start already under
                    // Fail; a loss found here happened since, and the
                    // workers cannot stop one by one without hanging the
                    // others.
                    Some(from) if from < low => self.data_lost(tp, from, low),
                    Some(from) => from,
                    None => low,
                };
                list.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(start))?;
                let end = self.config.until_caught_up.then_some(high);
                positions.push(Position { tp: tp.clone(), next_offset: start, end });
            }
            // All or nothing: a partition is owned only once it is assigned.
            self.consumer.incremental_assign(&list)?;
            self.owned.extend(added.iter().cloned());
            self.positions.extend(positions);
            tracing::info!(worker = self.config.worker, partitions = ?added, "assigned partitions");
        }
        self.watermarks = watermarks;
        Ok(added)
    }

    /// The next message, if one is ready, without blocking.
    pub fn poll(&self) -> Option<Result<BorrowedMessage<'_>, KafkaError>> {
        let polled = self.consumer.poll(Duration::ZERO);
        if polled.is_none() {
            self.drained.set(true);
        }
        polled
    }

    /// Whether `message` (of `slot`) lies below its partition's position:
    /// delivered again after the consumer moved back (a seek after it
    /// found the log truncated, or a restart), so already in the state.
    #[inline]
    pub fn is_redelivered(&self, slot: usize, message: &BorrowedMessage<'_>) -> bool {
        message.offset() < self.positions[slot].next_offset
    }

    /// Assigns again, at their positions, the partitions the consumer
    /// stopped delivering ([`stall_watch`]).
    ///
    /// # Errors
    /// The consumer refused the new assignment (the watch forgets those
    /// partitions, so a later check restarts them again).
    pub fn restart_stalled(&mut self) -> Result<(), ReaderError> {
        // The consumer's own position passes the transaction markers it
        // never delivers: a partition that ends in one is not behind.
        let delivered = self.consumer.position()?;
        let observed = self.positions.iter().map(|p| {
            let consumer = delivered.find_partition(&p.tp.topic, p.tp.partition);
            let past_markers = consumer.and_then(|e| e.offset().to_raw()).unwrap_or(i64::MIN);
            Observed {
                tp: &p.tp,
                next_offset: p.next_offset.max(past_markers),
                high: self.watermarks.get(&p.tp).map(|&(_, high)| high),
            }
        });
        let stalled = self.stalls.check(Instant::now(), observed, self.drained.replace(false));
        self.restart(&stalled).inspect_err(|_| self.stalls.forget(&stalled))
    }

    /// Assigns `partitions` again at their positions: the consumer forgets
    /// their fetch state and starts them afresh.
    ///
    /// # Errors
    /// The consumer refused to unassign or assign them.
    pub fn restart(&mut self, partitions: &[TopicPartition]) -> Result<(), ReaderError> {
        if partitions.is_empty() {
            return Ok(());
        }
        self.reassign(partitions)?;
        for p in self.positions.iter().filter(|p| partitions.contains(&p.tp)) {
            let (topic, partition) = (p.tp.topic.as_str(), p.tp.partition);
            let high = self.watermarks.get(&p.tp).map(|&(_, high)| high);
            tracing::warn!(
                worker = self.config.worker,
                topic,
                partition,
                next_offset = p.next_offset,
                ?high,
                "assigning the partition again at its position (the consumer delivered nothing \
                 of it for {STALL_TIMEOUT:?} although Kafka holds more)"
            );
            self.config.partition_restarts.get_or_create(&partition_labels(topic, partition)).inc();
        }
        Ok(())
    }

    /// Unassigns `partitions` and assigns them again at their positions.
    fn reassign(&mut self, partitions: &[TopicPartition]) -> Result<(), ReaderError> {
        let (mut gone, mut again) = (TopicPartitionList::new(), TopicPartitionList::new());
        for p in self.positions.iter().filter(|p| partitions.contains(&p.tp)) {
            gone.add_partition(&p.tp.topic, p.tp.partition);
            again.add_partition_offset(
                &p.tp.topic,
                p.tp.partition,
                Offset::Offset(p.next_offset),
            )?;
        }
        self.consumer.incremental_unassign(&gone)?;
        self.consumer.incremental_assign(&again)?;
        Ok(())
    }

    /// The slot (index into [`Self::positions`]) of `message`'s partition.
    #[inline]
    pub fn slot_of(&self, message: &BorrowedMessage<'_>) -> Option<usize> {
        self.positions
            .iter()
            .position(|p| p.tp.partition == message.partition() && p.tp.topic == message.topic())
    }

    /// Records that everything before `next_offset` in `slot` was processed.
    #[inline]
    pub fn set_next_offset(&mut self, slot: usize, next_offset: i64) {
        self.positions[slot].next_offset = next_offset;
    }

    /// Whether the reader stops at the partition ends seen at start.
    pub fn is_bounded(&self) -> bool {
        self.config.until_caught_up
    }

    /// Every owned partition's position.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// The next offset of every partition this worker owns, for a checkpoint:
    /// the partitions it reads, and restored partitions it owns but has not
    /// been able to assign yet (so a checkpoint never forgets a position).
    pub fn checkpoint_offsets(&self) -> Vec<PartitionOffset> {
        let reading = self.positions.iter().map(|p| PartitionOffset {
            topic: p.tp.topic.clone(),
            partition: p.tp.partition,
            next_offset: p.next_offset,
        });
        let waiting =
            self.config.start_offsets.iter().filter_map(|((topic, partition), &offset)| {
                let tp = TopicPartition { topic: topic.clone(), partition: *partition };
                let mine = owner(*partition, self.config.workers) == self.config.worker;
                let waiting = mine && !self.owned.contains(&tp);
                waiting.then_some(PartitionOffset {
                    topic: tp.topic,
                    partition: tp.partition,
                    next_offset: offset,
                })
            });
        reading.chain(waiting).collect()
    }

    /// In caught-up mode: whether every partition reached its start-time end.
    pub fn caught_up(&self) -> bool {
        self.positions.iter().all(|p| p.end.is_some_and(|end| p.next_offset >= end))
    }

    /// Consumer lag of each partition whose high watermark the watch has
    /// reported (as of its newest answer).
    pub fn lags(&self) -> impl Iterator<Item = (&Position, i64)> + '_ {
        self.positions.iter().filter_map(|p| {
            let (_, high) = self.watermarks.get(&p.tp)?;
            Some((p, (high - p.next_offset).max(0)))
        })
    }

    /// Publishes positions to the consumer group for lag tools (asynchronous,
    /// best effort: recovery uses checkpointed offsets, never these).
    pub fn publish_positions(&self) {
        let mut list = TopicPartitionList::new();
        for p in &self.positions {
            let _ = list.add_partition_offset(
                &p.tp.topic,
                p.tp.partition,
                Offset::Offset(p.next_offset),
            );
        }
        if list.count() > 0
            && let Err(err) = self.consumer.commit(&list, CommitMode::Async)
        {
            tracing::debug!(%err, "publishing positions to the consumer group failed");
        }
    }
}
