//! Events Kafka deleted (retention) before the job read them: the
//! `--on-data-loss` policy, the check a restore makes before the workers
//! start, and what a worker does when retention overtakes a position it is
//! reading (a job fallen behind, or stopped for longer than retention).
//!
//! The consumer reports such a position instead of moving it
//! (`auto.offset.reset=error`) and stops fetching the partition. Under
//! [`OnDataLoss::Fail`] the worker raises the job's [`InputLoss`]: every
//! source finishes, the last checkpoint keeps the position before the lost
//! range, and the job exits with [`ReaderError::DataLost`] (a restart then
//! refuses the same way). Under [`OnDataLoss::Continue`] the range is logged
//! and counted, and the partition goes on from its low watermark. Before,
//! librdkafka's "earliest" reset jumped over the deleted events, and the job
//! went on without them and without a word.

use std::sync::{Arc, Mutex, PoisonError};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use state::PartitionOffset;

use super::{METADATA_TIMEOUT, PartitionReader, ReaderError, consumer_config};
use crate::assignment::TopicPartition;
use crate::metrics::partition_labels;

/// What to do when Kafka deleted events before the job read them
/// (`--on-data-loss`, after Spark's `failOnDataLoss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnDataLoss {
    /// Refuse to start (or stop the running job), naming the lost range.
    #[default]
    Fail,
    /// Log and count the lost range, and go on from the oldest event left.
    Continue,
}

/// Checks, before the workers start, that Kafka still has every event
/// after the restored positions `offsets`.
///
/// # Errors
/// [`ReaderError::DataLost`] for the first partition whose low watermark is
/// past its position, under [`OnDataLoss::Fail`]; [`ReaderError::Kafka`]
/// if the watermarks cannot be read.
pub fn check_retained(
    brokers: &str,
    offsets: &[PartitionOffset],
    policy: OnDataLoss,
) -> Result<(), ReaderError> {
    if policy == OnDataLoss::Continue || offsets.is_empty() {
        return Ok(());
    }
    let consumer: BaseConsumer =
        consumer_config(brokers, "tagflow-retention-check", "tagflow-retention-check").create()?;
    for offset in offsets {
        let (topic, partition, from) = (&offset.topic, offset.partition, offset.next_offset);
        let (low, _) = consumer.fetch_watermarks(topic, partition, METADATA_TIMEOUT)?;
        if from < low {
            return Err(ReaderError::DataLost { topic: topic.clone(), partition, from, to: low });
        }
    }
    Ok(())
}

/// The first events lost under [`OnDataLoss::Fail`] while the job ran,
/// shared by its workers: raised, it stops every source, and the job returns
/// it once the workers finished.
#[derive(Debug, Clone, Default)]
pub struct InputLoss(Arc<Mutex<Option<ReaderError>>>);

impl InputLoss {
    /// Whether a worker found events lost.
    pub fn is_raised(&self) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).is_some()
    }

    /// Reports a loss (the first report is the one kept).
    pub fn raise(&self, lost: ReaderError) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(lost);
    }

    /// The loss reported, if any.
    pub fn take(&self) -> Option<ReaderError> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Whether `err` is the consumer saying a position is out of the
/// partition's range (it then stops fetching that partition).
pub fn is_out_of_range(err: &KafkaError) -> bool {
    matches!(err, KafkaError::MessageConsumption(RDKafkaErrorCode::AutoOffsetReset))
}

impl PartitionReader {
    /// After the consumer reported a position out of range
    /// ([`is_out_of_range`]; its report does not say which partition),
    /// asks Kafka for every owned partition's retained range and applies the
    /// policy to each position retention overtook: under
    /// [`OnDataLoss::Continue`] logs and counts the lost offsets and goes on
    /// from the low watermark; under [`OnDataLoss::Fail`] returns the loss
    /// and leaves the position where it is. A position past the partition's
    /// end (its log was truncated) is logged and waits for the log to reach
    /// it again (the stall watch assigns it again then).
    ///
    /// # Errors
    /// [`ReaderError::DataLost`] under [`OnDataLoss::Fail`];
    /// [`ReaderError::Kafka`] if the watermarks cannot be read or the
    /// partition cannot be assigned again (the partition stays stopped until
    /// the consumer reports it again).
    pub fn resolve_out_of_range(&mut self) -> Result<(), ReaderError> {
        let mut overtaken = Vec::new();
        for p in &self.positions {
            let (topic, partition, position) = (&p.tp.topic, p.tp.partition, p.next_offset);
            let (low, high) = self.consumer.fetch_watermarks(topic, partition, METADATA_TIMEOUT)?;
            if position < low {
                overtaken.push((p.tp.clone(), position, low));
            } else if position > high {
                tracing::error!(
                    worker = self.config.worker,
                    topic,
                    partition,
                    position,
                    high,
                    "the partition ends before the job's position (its log was truncated): \
                     waiting for it to reach the position again"
                );
            }
        }
        let mut resumed = Vec::with_capacity(overtaken.len());
        for (tp, from, low) in overtaken {
            if self.config.on_data_loss == OnDataLoss::Fail {
                let (topic, partition) = (tp.topic, tp.partition);
                return Err(ReaderError::DataLost { topic, partition, from, to: low });
            }
            let to = self.data_lost(&tp, from, low);
            if let Some(p) = self.positions.iter_mut().find(|p| p.tp == tp) {
                p.next_offset = to;
            }
            resumed.push(tp);
        }
        if resumed.is_empty() { Ok(()) } else { self.reassign(&resumed) }
    }

    /// Offsets `from..to` of `tp` are gone and the policy accepts it: logs
    /// and counts them, and returns the position to go on from.
    pub(super) fn data_lost(&self, tp: &TopicPartition, from: i64, to: i64) -> i64 {
        let (topic, partition) = (tp.topic.clone(), tp.partition);
        let lost = u64::try_from(to - from).unwrap_or(0);
        self.config.lost_offsets.get_or_create(&partition_labels(&topic, partition)).inc_by(lost);
        tracing::error!(
            worker = self.config.worker,
            topic,
            partition,
            from,
            to,
            lost,
            "events deleted from Kafka before they were read: skipped (--on-data-loss continue)"
        );
        to
    }
}
