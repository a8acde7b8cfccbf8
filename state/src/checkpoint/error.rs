//! The error type of checkpoints: finding, verifying, writing and restoring
//! them.
//!
//! Every variant names the checkpoint (its id or directory), so an operator
//! can act on a log line alone: which checkpoint is damaged and why.

use std::path::PathBuf;

use crate::error::StateError;

/// An error about a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The checkpoint exists but must not be trusted.
    #[error("checkpoint {id} at {dir} is damaged: {reason}")]
    Damaged {
        /// Its id.
        id: u64,
        /// Its directory.
        dir: PathBuf,
        /// What is wrong (missing or truncated file, checksum, manifest).
        reason: String,
    },
    /// The checkpoint is intact but in a layout this build does not read.
    #[error(
        "checkpoint {id} at {dir} has format version {found}; this build reads version \
         {expected} only. {advice}"
    )]
    OtherFormat {
        /// Its id.
        id: u64,
        /// Its directory.
        dir: PathBuf,
        /// The version its manifest names.
        found: u32,
        /// The version this build writes and reads.
        expected: u32,
        /// What the operator can do about it.
        advice: &'static str,
    },
    /// No checkpoint with this id exists.
    #[error("checkpoint {id} not found in {root}")]
    NotFound {
        /// The id asked for.
        id: u64,
        /// The checkpoint directory searched.
        root: PathBuf,
    },
    /// Checkpoints exist but every one of them is damaged.
    #[error("no intact checkpoint in {root}: {details}")]
    NoneIntact {
        /// The checkpoint directory.
        root: PathBuf,
        /// Why each one was rejected.
        details: String,
    },
    /// A filesystem operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The object store holding the checkpoints failed (after retries).
    #[error("object store {location}: {source}")]
    ObjectStore {
        /// The object (or prefix) involved.
        location: String,
        /// The client's error.
        #[source]
        source: object_store::Error,
    },
    /// The checkpoint location cannot be used as given.
    #[error("checkpoint location {location}: {reason}")]
    Location {
        /// The location.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The state store failed while writing or restoring a checkpoint.
    #[error(transparent)]
    State(#[from] StateError),
}

impl CheckpointError {
    /// An I/O error on `path`, for `map_err`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
