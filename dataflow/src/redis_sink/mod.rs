//! Writing to Redis off the worker thread.
//!
//! Each worker hands its per-epoch pipelines to its own writer thread
//! through a small bounded queue, so Kafka reading continues while Redis
//! round trips happen, and a slow Redis slows the job down (back-pressure)
//! instead of growing memory. Writes are absolute values, so a pipeline
//! that is retried is harmless: a pipeline that fails for any reason (a
//! lost connection, a timeout, or Redis refusing it: loading, read-only,
//! out of memory, disk errors) is retried with backoff until Redis takes
//! it, never dropped, and every failure is logged and counted in
//! `tagflow_redis_errors_total`. Every call has a timeout (`--redis-timeout`),
//! after which the connection is dropped and opened again, so a Redis that
//! stops answering stalls the job instead of hanging it. A
//! [`RedisSink::barrier`] tells when everything queued before it is in
//! Redis: checkpoints wait for it, so a completed checkpoint's outputs are
//! never lost with a crashed writer's queue. At each barrier the job's
//! writers also check their sentinel (`redis_loss.rs`), so that a Redis
//! that lost the job's writes is noticed and repaired: besides the sentinel,
//! the writer compares the replication ids of the primaries it writes to
//! with those it first saw, at every barrier and every reconnection, so a
//! failover to a replica that lacked the last writes, or a restart that
//! lost them, is noticed too. The connection comes from `--redis` through
//! [`model::redis_target`] (one server, a Sentinel-named primary, or a
//! Cluster); an error that says the node is gone or is no longer the primary
//! (`READONLY` after a failover) drops it, and the next attempt asks the
//! sentinels or the cluster again. [`SharedHash`] builds the
//! chunked HSET commands of the hashes every user or product shares.
//!
//! Operators ask [`RedisSink::ready`] before rendering: while the writer
//! already has [`READY_BELOW`] pipelines in hand (Redis is the bottleneck,
//! typically while catching up on a backlog), they keep collecting changes
//! and write them later in one pipeline, so a key changed in many epochs
//! is written once instead of once per epoch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use model::redis_target::{BlockingConnection, RedisTarget, Timeouts, needs_reconnect};

use crate::metrics::JobMetrics;
use crate::redis_loss::{RedisLoss, Sentinel};
use crate::resp::RespCommands;

mod shared_hash;

pub use shared_hash::SharedHash;

/// Pipelines queued per worker before the worker waits for Redis.
const QUEUE_DEPTH: usize = 4;
/// Pipelines in hand (queued or being written) below which the writer is
/// ready for more. At 1 operators write only into an idle writer and
/// collect meanwhile, which coalesces the most while Redis is the
/// bottleneck (2 measured slower on a catch-up, see docs/benchmarks.md).
pub const READY_BELOW: usize = 1;
/// Emptied command buffers kept per worker for its next batches.
const SPARE_BUFFERS: usize = 4;
/// Longest wait between attempts to write a pipeline.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A batch of Redis commands: one write-out of an operator.
#[derive(Debug)]
pub struct RedisBatch {
    /// The commands.
    pub commands: RespCommands,
    /// Creation times (ms since the epoch) of a sample of the events whose
    /// effects the batch writes: their end-to-end latency is observed when
    /// Redis acknowledges it.
    pub created_ms: Vec<i64>,
}

impl RedisBatch {
    /// `commands`, with no latency samples.
    pub fn new(commands: RespCommands) -> Self {
        Self { commands, created_ms: Vec::new() }
    }
}

/// What the writer thread is asked to do.
#[derive(Debug)]
enum Job {
    /// Write a batch (retrying transient failures).
    Write(RedisBatch),
    /// Signal once every earlier job is done.
    Barrier(Sender<()>),
}

/// One worker's Redis writer thread.
#[derive(Debug)]
pub struct RedisSink {
    sender: Option<SyncSender<Job>>,
    /// Pipelines sent and not yet written (or dropped) by the thread.
    in_hand: Arc<AtomicUsize>,
    /// Buffers of written batches, handed back by the thread.
    spare: SpareBuffers,
    thread: Option<JoinHandle<()>>,
}

impl RedisSink {
    /// Starts the writer thread for worker `worker`, writing to the Redis
    /// named by `address` (see [`model::redis_target`]); every Redis call
    /// (connecting, sending, each reply) gives up after `timeout`. With
    /// `watch`, the writer sets the sentinel first and checks it at every
    /// barrier, raising the alarm if Redis lost it.
    pub fn start(
        address: &str,
        timeout: Duration,
        worker: usize,
        metrics: Arc<JobMetrics>,
        watch: Option<(Sentinel, RedisLoss)>,
    ) -> Result<Self, redis::RedisError> {
        let target = RedisTarget::parse(address)?;
        let (sender, receiver) = sync_channel(QUEUE_DEPTH);
        let in_hand = Arc::new(AtomicUsize::new(0));
        let in_hand_of_thread = Arc::clone(&in_hand);
        let spare = SpareBuffers::default();
        let writer = WriterThread {
            target,
            timeouts: Timeouts::uniform(timeout),
            worker,
            metrics,
            in_hand: in_hand_of_thread,
            spare: spare.clone(),
            watch,
            primaries: None,
        };
        let thread = std::thread::Builder::new()
            .name(format!("redis-writer-{worker}"))
            .spawn(move || writer.run(&receiver))
            .map_err(|e| redis::RedisError::from(std::io::Error::other(e)))?;
        Ok(Self { sender: Some(sender), in_hand, spare, thread: Some(thread) })
    }

    /// Queues a batch, waiting while the queue is full.
    pub fn send(&self, batch: RedisBatch) {
        if batch.commands.is_empty() {
            return;
        }
        let Some(sender) = &self.sender else { return };
        self.in_hand.fetch_add(1, Ordering::Relaxed);
        if sender.send(Job::Write(batch)).is_err() {
            self.in_hand.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("redis writer thread has stopped; batch dropped");
        }
    }

    /// An empty command buffer with room for at least `bytes`: one of a
    /// written batch if one is that large. A write-out's batch can be tens
    /// of megabytes; a fresh one is faulted in page by page (zeroed by the
    /// kernel) as it fills, and grows by copying.
    pub fn commands_buffer(&self, bytes: usize) -> RespCommands {
        self.spare.take(bytes)
    }

    /// Whether the writer has fewer than [`READY_BELOW`] pipelines in hand,
    /// so a new one would be written without waiting behind others.
    pub fn ready(&self) -> bool {
        self.in_hand.load(Ordering::Relaxed) < READY_BELOW
    }

    /// Receives `()` once every batch queued before this call is written
    /// (or fails with a disconnect if the writer stopped).
    pub fn barrier(&self) -> Receiver<()> {
        let (done, receiver) = channel();
        if let Some(sender) = &self.sender {
            let _ = sender.send(Job::Barrier(done));
        }
        receiver
    }

    /// Writes everything queued, then stops the thread.
    pub fn finish(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("redis writer thread panicked");
        }
    }
}

impl Drop for RedisSink {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Emptied buffers of written batches, shared by a worker and its writer
/// thread: at most [`SPARE_BUFFERS`], the largest kept.
#[derive(Debug, Clone, Default)]
struct SpareBuffers(Arc<Mutex<Vec<RespCommands>>>);

impl SpareBuffers {
    /// A spare buffer with room for `bytes`, or a new one.
    fn take(&self, bytes: usize) -> RespCommands {
        let mut spare = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match spare.iter().position(|buffer| buffer.capacity() >= bytes) {
            Some(at) => spare.swap_remove(at),
            None => RespCommands::with_capacity(bytes),
        }
    }

    /// Keeps `buffer`, emptied, unless the spares are all larger.
    fn give(&self, mut buffer: RespCommands) {
        buffer.clear();
        let mut spare = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < SPARE_BUFFERS {
            spare.push(buffer);
        } else if let Some(smallest) = spare.iter_mut().min_by_key(|b| b.capacity())
            && smallest.capacity() < buffer.capacity()
        {
            *smallest = buffer;
        }
    }
}

/// The writer thread's side.
struct WriterThread {
    target: RedisTarget,
    timeouts: Timeouts,
    worker: usize,
    metrics: Arc<JobMetrics>,
    in_hand: Arc<AtomicUsize>,
    spare: SpareBuffers,
    /// The worker's sentinel and the alarm it raises.
    watch: Option<(Sentinel, RedisLoss)>,
    /// The replication ids of the primaries seen at the first connection
    /// (with `watch`).
    primaries: Option<Vec<String>>,
}

impl WriterThread {
    fn run(mut self, jobs: &Receiver<Job>) {
        let mut connection: Option<BlockingConnection> = None;
        if let Some(set) = self.watch.as_ref().map(|(sentinel, _)| sentinel.set_command()) {
            self.write(&mut connection, &RedisBatch::new(set));
        }
        for job in jobs {
            match job {
                Job::Write(batch) => {
                    self.write(&mut connection, &batch);
                    self.in_hand.fetch_sub(1, Ordering::Relaxed);
                    self.spare.give(batch.commands);
                }
                Job::Barrier(done) => {
                    self.check_sentinel(&mut connection);
                    let _ = done.send(());
                }
            }
        }
    }

    /// Raises the alarm if Redis no longer holds this writer's sentinel
    /// (once: after that, the job restarts its dataflow with new writers).
    fn check_sentinel(&mut self, connection: &mut Option<BlockingConnection>) {
        let Some((sentinel, loss)) = self.watch.clone() else { return };
        if loss.is_raised() {
            return;
        }
        let mut backoff = Duration::from_millis(50);
        let intact = loop {
            let checked = self.connected(connection).and_then(|conn| {
                let same_primaries = conn.primary_replication_ids()?;
                Ok((sentinel.is_intact(conn)?, same_primaries))
            });
            match checked {
                Ok((intact, primaries)) => break intact && self.same_primaries(primaries),
                Err(err) => {
                    self.metrics.redis_errors.inc();
                    if needs_reconnect(&err) {
                        *connection = None;
                    }
                    tracing::warn!(worker = self.worker, %err, retry_in = ?backoff, "redis sentinel check failed");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        if !intact && loss.raise() {
            tracing::error!(
                worker = self.worker,
                sentinel = sentinel.key(),
                "Redis lost the job's writes (its sentinel is gone, or a primary failed over or \
                 restarted): restarting the dataflow from the last complete checkpoint to \
                 rewrite Redis"
            );
        }
    }

    /// Writes `batch`, retrying every failure with backoff until it is in.
    fn write(&mut self, connection: &mut Option<BlockingConnection>, batch: &RedisBatch) {
        let worker = self.worker;
        let mut backoff = Duration::from_millis(50);
        let (bytes, count) = (batch.commands.bytes(), batch.commands.len());
        loop {
            let started = Instant::now();
            let result =
                self.connected(connection).and_then(|conn| send_commands(conn, bytes, count));
            let Err(err) = result else {
                self.metrics.observe_redis_batch(count, started.elapsed());
                self.metrics.observe_event_latencies(&batch.created_ms);
                return;
            };
            self.metrics.redis_errors.inc();
            if needs_reconnect(&err) {
                // The replies may be out of step with the commands, or the
                // node is no longer the primary: start over on a new
                // connection (to the primary the sentinels or the cluster
                // name now).
                *connection = None;
                tracing::warn!(worker, %err, retry_in = ?backoff, "redis write failed");
            } else {
                // Redis refused a command (loading, read-only, out of memory,
                // a wrong type): every reply was read, the connection is in
                // step. The whole pipeline is retried (its writes are
                // absolute), so a fix on the Redis side lets the job go on.
                tracing::error!(
                    worker, %err, retry_in = ?backoff,
                    "redis refused a pipeline; retrying it until it is accepted"
                );
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// The open connection, or a new one with the call timeouts set. With
    /// `watch`, a new connection's primaries are compared with the first
    /// ones: another primary (a failover) or a restarted one may lack
    /// writes this writer had acknowledged.
    fn connected<'c>(
        &mut self,
        connection: &'c mut Option<BlockingConnection>,
    ) -> redis::RedisResult<&'c mut BlockingConnection> {
        if connection.is_none() {
            let mut conn = self.target.connect(self.timeouts)?;
            if let Some(loss) = self.watch.as_ref().map(|(_, loss)| loss.clone())
                && !loss.is_raised()
            {
                let primaries = conn.primary_replication_ids()?;
                if !self.same_primaries(primaries) && loss.raise() {
                    tracing::error!(
                        worker = self.worker,
                        "Redis's primary changed (a failover, or a restart) and may lack \
                         acknowledged writes: restarting the dataflow from the last complete \
                         checkpoint to rewrite Redis"
                    );
                }
            }
            *connection = Some(conn);
        }
        Ok(connection.as_mut().expect("connected above"))
    }

    /// Whether `primaries` are the ones first seen (recording them the
    /// first time).
    fn same_primaries(&mut self, primaries: Vec<String>) -> bool {
        match &self.primaries {
            Some(first) => *first == primaries,
            None => {
                self.primaries = Some(primaries);
                true
            }
        }
    }
}

/// Sends `count` encoded commands and reads their replies; the first reply
/// that is an error becomes the result.
fn send_commands(
    conn: &mut BlockingConnection,
    bytes: &[u8],
    count: usize,
) -> redis::RedisResult<()> {
    use redis::ConnectionLike as _;
    let replies = conn.req_packed_commands(bytes, 0, count)?;
    match replies.into_iter().find_map(|reply| reply.extract_error().err()) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
