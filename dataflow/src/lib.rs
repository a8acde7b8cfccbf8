//! tagflow's stream-processing job, on timely-dataflow.
//!
//! Kafka events are read by a source operator per worker ([`source`]),
//! exchanged by user to the profile aggregate ([`aggregates::profiles`]),
//! which interns users and passes views on, exchanged by day and product,
//! to the daily unique-visitor aggregate ([`aggregates::visitors`]); both
//! write to Redis as epochs progress ([`epochs`]). State lives in the
//! `state` crate's per-worker RocksDB store. `docs/design.md` explains
//! the whole.

pub mod admin;
pub mod aggregates;
pub mod assignment;
pub mod checkpointing;
pub mod cli;
pub mod config;
pub mod day;
pub mod delivery;
pub mod dir_lock;
pub mod epochs;
pub mod job;
pub mod kafka_output;
pub mod kafka_reader;
pub mod metadata_watch;
pub mod metrics;
pub mod metrics_server;
pub mod read_ahead;
pub mod records;
pub mod redis_loss;
pub mod redis_sink;
pub mod resp;
pub mod run;
pub mod source;
pub mod start_retry;
pub mod weights;
pub mod write_pace;
pub mod writer;
