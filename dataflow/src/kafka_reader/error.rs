//! The reader's errors: Kafka not answering (transient, retried by the
//! start) and events deleted before the job read them (final).

use rdkafka::error::KafkaError;

use crate::start_retry::Transient;

/// A failure to talk to Kafka that the reader cannot ride out.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The consumer could not be created or assigned.
    #[error("kafka consumer: {0}")]
    Kafka(#[from] KafkaError),
    /// Kafka deleted events the job has not read yet.
    #[error(
        "{topic}/{partition}: offsets {from}..{to} were deleted from Kafka (retention) before the \
         job read them; the checkpoint resumes at {from} but the partition now starts at {to}. \
         Results would silently miss those events: restore an older checkpoint that is still \
         within retention, or accept the loss with --on-data-loss continue"
    )]
    DataLost {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The first offset lost (the restored position).
        from: i64,
        /// The low watermark: the first offset still there.
        to: i64,
    },
}

/// Kafka not answering is transient; deleted events stay deleted.
impl Transient for ReaderError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Kafka(err) => err.is_transient(),
            Self::DataLost { .. } => false,
        }
    }
}
