//! tagflow's stream-processing job, on timely-dataflow.
//!
//! Kafka events are read by a source operator per worker ([`source`]),
//! exchanged by user to the profile state ([`profiles_state`]), which
//! interns users ([`user_ids`]) and passes views on, exchanged by day and
//! product, to the daily unique-visitor state ([`visitors_state`]); both
//! write to Redis as epochs progress ([`epochs`]). State lives in the
//! `checkpoints` crate's per-worker RocksDB store. `docs/design.md` explains
//! the whole.

pub mod admin;
pub mod assignment;
pub mod checkpointing;
pub mod cli;
pub mod config;
pub mod day;
pub mod epochs;
pub mod job;
pub mod kafka_output;
pub mod kafka_reader;
pub mod metrics;
pub mod metrics_server;
pub mod profile;
pub mod profile_json;
pub mod profiles_state;
pub mod recent;
pub mod recent_state;
pub mod records;
pub mod redis_sink;
pub mod resp;
pub mod retention;
pub mod run;
pub mod source;
pub mod user_ids;
pub mod visitor_set;
pub mod visitors_state;
pub mod weights;
pub mod writer;
