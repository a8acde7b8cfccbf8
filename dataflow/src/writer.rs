//! Where stateful operators send their per-epoch output.
//!
//! Operators talk to a [`Writer`], not to Redis and Kafka directly; the job
//! uses [`JobWriter`] ([`crate::redis_sink::RedisSink`] and a Kafka producer),
//! and another implementation can stand in where neither is wanted.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use crate::kafka_output::KafkaOutput;
use crate::redis_sink::{RedisBatch, RedisSink};
use crate::resp::RespCommands;
use crate::write_pace::WritePace;

/// Receives an operator's output at the end of each epoch.
pub trait Writer {
    /// Queues a Redis pipeline.
    fn redis(&self, batch: RedisBatch);
    /// Whether the Redis writer is ready for another pipeline; while it is
    /// not, operators keep collecting changes (see `epochs.rs`).
    fn redis_ready(&self) -> bool;
    /// The shortest time between two write-outs of one operator: longer
    /// while the input is behind (`write_pace.rs`).
    fn write_interval(&self) -> Duration {
        Duration::ZERO
    }
    /// Publishes a user's changed interest tags (key userId, JSON value).
    fn interest_tags(&self, user: &str, json: &[u8]);
    /// An empty buffer for a pipeline's commands, with room for `bytes`
    /// (a written pipeline's where the writer keeps them).
    fn commands_buffer(&self, bytes: usize) -> RespCommands {
        RespCommands::with_capacity(bytes)
    }
}

/// The job's writer: one Redis writer thread and the interest-tags topic.
#[derive(Debug)]
pub struct JobWriter {
    /// This worker's Redis writer.
    pub redis: RefCell<RedisSink>,
    /// Producer of `user-interest-tags-topic`.
    pub interest_tags: Rc<KafkaOutput>,
    /// How far behind the worker's source is.
    pub pace: WritePace,
}

impl Writer for JobWriter {
    fn redis(&self, batch: RedisBatch) {
        self.redis.borrow().send(batch);
    }

    fn redis_ready(&self) -> bool {
        self.redis.borrow().ready()
    }

    fn write_interval(&self) -> Duration {
        self.pace.interval()
    }

    fn interest_tags(&self, user: &str, json: &[u8]) {
        self.interest_tags.send(user.as_bytes(), json, None);
    }

    fn commands_buffer(&self, bytes: usize) -> RespCommands {
        self.redis.borrow().commands_buffer(bytes)
    }
}
