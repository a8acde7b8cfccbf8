//! tagflow's shared vocabulary.
//!
//! Every tagflow binary agrees on three things, and they live here so that
//! they are written exactly once:
//!
//! * [`event`]: the JSON event schema shoppers' actions arrive in, parsed
//!   without per-event allocation for the dataflow hot path;
//! * [`topics`]: which Kafka topic carries which event type;
//! * [`keys`]: the Redis key scheme inherited from the original system, so
//!   that existing readers keep working;
//! * [`catalog`]: the product catalog the simulator generates and the API
//!   recommends from;
//! * [`kafka`]: the key → partition mapping every producer uses;
//! * [`profile`]: the `user-profiles` document and the top-tag order;
//! * [`shared_hash`]: where a field of the three shared hashes lives (one
//!   key each, or N shard keys for a Redis Cluster);
//! * `redis_target` (feature `redis`): the `--redis` address (one server,
//!   Sentinel or Cluster) and the connections to it.

pub mod catalog;
pub mod error;
pub mod event;
pub mod kafka;
pub mod keys;
pub mod profile;
#[cfg(feature = "redis")]
pub mod redis_target;
pub mod shared_hash;
pub mod tags;
pub mod topics;

pub use catalog::Product;
pub use error::EventError;
pub use event::{Event, EventType, MAX_MESSAGE_BYTES, has_control};
pub use profile::ProfileDocument;
pub use shared_hash::SharedHashLayout;
pub use tags::TagList;
pub use topics::Topics;
