//! Events Kafka deleted (retention) before the job read them: the
//! `--on-data-loss` policy and the check a restore makes before the workers
//! start. The reader applies the policy to partitions it finds later
//! ([`crate::kafka_reader`]).

use rdkafka::consumer::{BaseConsumer, Consumer};
use state::PartitionOffset;

use super::{METADATA_TIMEOUT, ReaderError, consumer_config};

/// What to do when Kafka deleted events before the job read them
/// (`--on-data-loss`, after Spark's `failOnDataLoss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnDataLoss {
    /// Refuse to start, naming the lost range.
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
