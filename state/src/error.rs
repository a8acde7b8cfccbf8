//! The error type of the state layer.
//!
//! Every error carries enough context to act on it from a log line alone: the
//! RocksDB path for storage errors, the family and key for value errors.

use std::path::PathBuf;

use crate::codec::CodecError;
use crate::store::family::Family;

/// An error of the state store or of a typed table.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A filesystem operation around the store failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A RocksDB operation failed.
    #[error("RocksDB {op} failed on {path}: {source}")]
    Rocks {
        /// What was being done (`open`, `get`, `write`, `scan`, ...).
        op: &'static str,
        /// The store directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rocksdb::Error,
    },
    /// A column family is missing from an open database (should not happen:
    /// families are created on open).
    #[error("column family `{family}` missing in RocksDB at {path}")]
    MissingFamily {
        /// The family.
        family: Family,
        /// The store directory.
        path: PathBuf,
    },
    /// A value could not be encoded or decoded.
    #[error("cannot encode/decode value of key {key:?} in family `{family}`: {source}")]
    Codec {
        /// The family holding the value.
        family: Family,
        /// The key, with non-printable bytes escaped.
        key: String,
        /// The underlying error.
        #[source]
        source: CodecError,
    },
    /// A stored key or offset entry does not have the expected layout.
    #[error("malformed entry {key:?} in family `{family}` at {path}: {reason}")]
    Corrupt {
        /// The family holding the entry.
        family: Family,
        /// The raw key, with non-printable bytes escaped.
        key: String,
        /// The store directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Renders a raw key for error messages (printable ASCII kept, rest escaped).
pub(crate) fn display_key(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}
