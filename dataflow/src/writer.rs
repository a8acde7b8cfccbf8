//! Where stateful operators send their per-epoch output.
//!
//! Operators talk to a [`Writer`], not to Redis and Kafka directly; the job
//! uses [`JobWriter`] ([`crate::redis_sink::RedisSink`] and a Kafka producer),
//! and another implementation can stand in where neither is wanted.

use std::cell::RefCell;
use std::rc::Rc;

use crate::kafka_output::KafkaOutput;
use crate::redis_sink::{RedisBatch, RedisSink};

/// Receives an operator's output at the end of each epoch.
pub trait Writer {
    /// Queues a Redis pipeline.
    fn redis(&self, batch: RedisBatch);
    /// Whether the Redis writer is ready for another pipeline; while it is
    /// not, operators keep collecting changes (see `epochs.rs`).
    fn redis_ready(&self) -> bool;
    /// Publishes a user's changed interest tags (key userId, JSON value).
    fn interest_tags(&self, user: &str, json: &[u8]);
}

/// The job's writer: one Redis writer thread and the interest-tags topic.
#[derive(Debug)]
pub struct JobWriter {
    /// This worker's Redis writer.
    pub redis: RefCell<RedisSink>,
    /// Producer of `user-interest-tags-topic`.
    pub interest_tags: Rc<KafkaOutput>,
}

impl Writer for JobWriter {
    fn redis(&self, batch: RedisBatch) {
        self.redis.borrow().send(batch);
    }

    fn redis_ready(&self) -> bool {
        self.redis.borrow().ready()
    }

    fn interest_tags(&self, user: &str, json: &[u8]) {
        self.interest_tags.send(user.as_bytes(), json, None);
    }
}
