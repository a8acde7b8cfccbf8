//! Checkpoints: consistent, incremental copies of every worker's store, tied
//! to the source offsets they were taken at.
//!
//! - [`part`]: one worker's part, a RocksDB checkpoint of its store (hard
//!   links of the immutable SST files), with every file's [`checksum`];
//! - [`manifest`]: seals the parts of all workers into one checkpoint, with
//!   its offsets, its files' sizes and checksums, and its format version;
//! - [`store`]: where checkpoints are kept, one protocol over two stores:
//!   [`dir`], a directory, and [`object`], an S3-compatible bucket; finds,
//!   verifies, completes and prunes them;
//! - [`restore`]: rebuilds a worker's store from a checkpoint, re-sharding
//!   by key group when the worker count changed;
//! - [`error`]: what can go wrong on the way.

pub mod checksum;
pub(crate) mod dir;
pub(crate) mod error;
pub(crate) mod manifest;
pub(crate) mod object;
pub(crate) mod part;
pub(crate) mod restore;
pub(crate) mod store;
