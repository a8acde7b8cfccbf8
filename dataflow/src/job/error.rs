//! Why the job could not run, and which of those reasons may go away by
//! themselves: those are retried at start (`start_retry.rs`).

use state::CheckpointError;

use crate::aggregates::leaderboards::catalog::CatalogError;
use crate::checkpointing::StartupError;
use crate::dir_lock::DirLockError;
use crate::kafka_reader::ReaderError;
use crate::start_retry::Transient;

/// Why the job could not run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Kafka metadata could not be read (to size the job).
    #[error("cannot read Kafka metadata from {brokers}: {source}")]
    Metadata {
        /// The brokers asked.
        brokers: String,
        /// The client error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The event topics do not exist.
    #[error("event topics {0:?} not found in Kafka")]
    NoTopics(Vec<String>),
    /// Kafka knows the event topics but cannot serve their metadata now
    /// (a leader election, a broker restarting).
    #[error("event topic {topic} is unavailable: {code}")]
    TopicUnavailable {
        /// The topic.
        topic: String,
        /// Kafka's error.
        code: rdkafka::types::RDKafkaErrorCode,
    },
    /// The time zone is unknown.
    #[error(transparent)]
    TimeZone(#[from] crate::day::UnknownTimeZone),
    /// No usable checkpoint, or the checkpoint directory is unusable.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint to restore cannot be used as it is.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// Kafka no longer has events the restored checkpoint has not read.
    #[error(transparent)]
    Input(#[from] ReaderError),
    /// Another process runs on the same directories.
    #[error(transparent)]
    Locked(#[from] DirLockError),
    /// The catalog of the leaderboards could not be read.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// timely could not start or a worker failed.
    #[error("dataflow failed: {0}")]
    Timely(String),
}

/// Errors of a service that may answer later are retried at start
/// (`start_retry.rs`); the others end the start.
impl Transient for JobError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Metadata { source, .. } => source.is_transient(),
            Self::TopicUnavailable { .. } => true,
            Self::Checkpoint(err) | Self::Startup(StartupError::Checkpoint(err)) => {
                err.is_transient()
            }
            Self::Input(err) => err.is_transient(),
            Self::Catalog(err) => err.is_transient(),
            Self::NoTopics(_)
            | Self::TimeZone(_)
            | Self::Startup(StartupError::SettingsChanged { .. })
            | Self::Locked(_)
            | Self::Timely(_) => false,
        }
    }
}
