//! Where stateful operators send their per-epoch output.
//!
//! Operators talk to a [`Writer`], not to Redis and Kafka directly, so the
//! dataflow logic runs in unit tests with an in-memory writer and in the job
//! with [`crate::redis_sink::RedisSink`] and a Kafka producer.

use std::cell::RefCell;
use std::rc::Rc;

use crate::kafka_output::KafkaOutput;
use crate::redis_sink::{RedisBatch, RedisSink};

/// Receives an operator's output at the end of each epoch.
pub trait Writer {
    /// Queues a Redis pipeline.
    fn redis(&self, batch: RedisBatch);
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

    fn interest_tags(&self, user: &str, json: &[u8]) {
        self.interest_tags.send(user.as_bytes(), json, None);
    }
}

/// Collects output in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryWriter {
    /// Every Redis batch, in order.
    pub batches: RefCell<Vec<RedisBatch>>,
    /// Every interest-tags message, in order.
    pub interest_tags: RefCell<Vec<(String, Vec<u8>)>>,
}

impl Writer for MemoryWriter {
    fn redis(&self, batch: RedisBatch) {
        self.batches.borrow_mut().push(batch);
    }

    fn interest_tags(&self, user: &str, json: &[u8]) {
        self.interest_tags.borrow_mut().push((user.to_owned(), json.to_vec()));
    }
}
