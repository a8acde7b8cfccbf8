//! The per-worker thread that makes a worker's part of each checkpoint.
//!
//! Operators only pause to copy their changes into a [`StateBatch`]; this
//! thread then commits the batch together with the source offsets (RocksDB
//! writes of a few megabytes each), then has the checkpoint store write the part (a
//! RocksDB checkpoint: a memtable flush and hard links; checksums; uploads
//! for an object store), while the worker keeps processing.
//! Jobs run in order, so part `B` is always committed before part `B + 1`.
//! A spill (changes an operator took before its next boundary to bound its
//! memory, see `coordinator.rs`) is committed between the parts it comes
//! after and before: the first part's files never hold it, the next one's
//! do.
//! The part is reported only once the worker's outputs queued before the
//! boundary are out: its Redis writer has written them, and Kafka has
//! acknowledged its dead letters and interest-tag messages
//! ([`OutputBarriers`]). A failed commit or a refused output is fatal for
//! the job: the operators' caches already consider those changes persisted
//! (and a refused output cannot be sent again by this process), so
//! continuing could only produce a checkpoint that misses them. The job
//! restarts from the last completed checkpoint instead, and replays
//! (outputs are at least once). A part the store could not write (an
//! object store out of reach) is not: the committed store still holds every
//! change, so the next part has them all. The part is reported as failed,
//! which fails (and counts) its checkpoint, and the job goes on.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use state::{
    CheckpointError, CheckpointStore, FileDigest, PartCache, PartitionOffset, StateBatch,
    StateStore,
};

use crate::checkpointing::coordinator::ReadyPart;
use crate::checkpointing::pause::LongestPauses;
use crate::delivery::{DeliveryBarrier, Undelivered};

/// Points in a worker's output streams, taken when a part is submitted:
/// every output queued before them belongs to events the part covers.
#[derive(Debug)]
pub struct OutputBarriers {
    /// Signals when the Redis writer wrote everything queued before it (see
    /// `RedisSink::barrier`); a stopped writer disconnects instead.
    pub redis: Receiver<()>,
    /// The Kafka outputs' delivery barriers.
    pub kafka: Vec<DeliveryBarrier>,
}

impl OutputBarriers {
    /// Waits until every output before the barriers is out.
    ///
    /// # Errors
    /// Kafka refused some of the messages (now or earlier: a message lost
    /// once is missing from every later checkpoint too).
    pub fn wait(self) -> Result<(), Undelivered> {
        let _ = self.redis.recv();
        let failed: u64 = self.kafka.into_iter().map(DeliveryBarrier::wait).sum();
        if failed == 0 { Ok(()) } else { Err(Undelivered(failed)) }
    }
}

/// Why a worker's part could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    /// Writing it.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Outputs it covers were not delivered.
    #[error(transparent)]
    Undelivered(#[from] Undelivered),
}

/// What a worker reports once its part of a checkpoint is on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerPart {
    /// The checkpoint boundary (epoch).
    pub boundary: u64,
    /// The worker.
    pub worker: usize,
    /// Next offsets of the partitions this worker reads.
    pub offsets: Vec<PartitionOffset>,
    /// The part's files.
    #[serde(with = "exchanged_digests")]
    pub files: Vec<FileDigest>,
    /// Why the store could not write the part (its checkpoint then fails).
    pub failed: Option<String>,
    /// When the first operator of this worker began its snapshot (Unix ms).
    pub started_unix_ms: u64,
    /// The longest pause of one of this worker's operators for it (µs).
    pub longest_pause_us: u64,
    /// The longest working part of such a pause (µs; see `pause.rs`).
    pub longest_working_pause_us: u64,
    /// Where this worker's part spent its time.
    pub phases: PartPhases,
}

/// Where a worker's part spent its time, in ms: the phases follow one
/// another, so a checkpoint's duration is about the slowest worker's sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartPhases {
    /// From the first operator's snapshot start to the part's submission
    /// (the operators' slices, and the source's offsets).
    pub snapshot_ms: u64,
    /// Waiting for the part writer to finish the previous part.
    pub queued_ms: u64,
    /// Committing the changes and offsets to the worker's store.
    pub commit_ms: u64,
    /// Writing the part's files (a RocksDB checkpoint, checksums, uploads).
    pub files_ms: u64,
    /// Waiting for Redis and Kafka to hold the outputs before the boundary.
    pub outputs_ms: u64,
}

impl PartPhases {
    /// The longest of each phase among `parts`.
    #[must_use]
    pub fn slowest<'a>(parts: impl IntoIterator<Item = &'a Self>) -> Self {
        parts.into_iter().fold(Self::default(), |a, b| Self {
            snapshot_ms: a.snapshot_ms.max(b.snapshot_ms),
            queued_ms: a.queued_ms.max(b.queued_ms),
            commit_ms: a.commit_ms.max(b.commit_ms),
            files_ms: a.files_ms.max(b.files_ms),
            outputs_ms: a.outputs_ms.max(b.outputs_ms),
        })
    }
}

/// One part to write.
#[derive(Debug)]
pub struct PartJob {
    /// The checkpoint boundary.
    pub boundary: u64,
    /// Every operator's changes since the previous boundary.
    pub batch: StateBatch,
    /// The source offsets at the boundary.
    pub offsets: Vec<PartitionOffset>,
    /// When the first snapshot of the boundary was begun (Unix ms).
    pub started_unix_ms: u64,
    /// From `started_unix_ms` to the part's submission.
    pub snapshot_ms: u64,
    /// When the part was submitted.
    pub submitted: Instant,
    /// The longest operator pauses for it.
    pub pauses: LongestPauses,
    /// The worker's outputs before the boundary.
    pub outputs: OutputBarriers,
}

impl PartJob {
    /// The part `ready`, to be reported once `outputs` are out.
    #[must_use]
    pub fn new(ready: ReadyPart, outputs: OutputBarriers) -> Self {
        let ReadyPart { boundary, batch, offsets, started_unix_ms, pauses } = ready;
        let snapshot_ms = unix_ms().saturating_sub(started_unix_ms);
        let submitted = Instant::now();
        Self { boundary, batch, offsets, started_unix_ms, snapshot_ms, submitted, pauses, outputs }
    }
}

/// What the thread does next.
#[derive(Debug)]
enum Job {
    Part(PartJob),
    Commit(StateBatch),
}

/// Handle of a worker's part-writing thread.
#[derive(Debug)]
pub struct PartWriter {
    jobs: Option<Sender<Job>>,
    results: Receiver<Result<WorkerPart, PartError>>,
    thread: Option<JoinHandle<()>>,
}

impl PartWriter {
    /// Starts worker `worker`'s thread, writing parts of `store` into `dir`
    /// (remembering files between parts in `cache`) and calling `wake`
    /// after each (so the worker collects it with
    /// [`finished`](Self::finished)).
    pub fn start(
        worker: usize,
        store: Arc<StateStore>,
        (dir, mut cache): (Arc<dyn CheckpointStore>, PartCache),
        wake: Box<dyn Fn() + Send>,
    ) -> std::io::Result<Self> {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (result_tx, results) = mpsc::channel();
        let thread =
            std::thread::Builder::new().name(format!("checkpoint-{worker}")).spawn(move || {
                for job in job_rx {
                    let result = match job {
                        Job::Part(job) => write(&store, dir.as_ref(), worker, job, &mut cache),
                        // A commit without a part reports nothing: its
                        // tickets wake the operators that wait for it.
                        Job::Commit(batch) => match store.commit_and_flush(batch) {
                            Ok(()) => continue,
                            Err(err) => Err(PartError::Checkpoint(err.into())),
                        },
                    };
                    if result_tx.send(result).is_err() {
                        break;
                    }
                    wake();
                }
            })?;
        Ok(Self { jobs: Some(jobs), results, thread: Some(thread) })
    }

    /// Queues a part.
    pub fn submit(&mut self, job: PartJob) {
        self.queue(Job::Part(job));
    }

    /// Queues changes to commit without a part (a spill's, see
    /// `coordinator.rs`), after the parts queued before them.
    pub fn commit(&mut self, batch: StateBatch) {
        self.queue(Job::Commit(batch));
    }

    fn queue(&mut self, job: Job) {
        if let Some(jobs) = &self.jobs {
            // The thread stops only when the handle is dropped.
            let _ = jobs.send(job);
        }
    }

    /// Parts finished since the last call. Panics if one failed (see the
    /// module documentation).
    pub fn finished(&mut self) -> Vec<WorkerPart> {
        let mut parts = Vec::new();
        while let Ok(result) = self.results.try_recv() {
            match result {
                Ok(part) => parts.push(part),
                Err(err) => panic!(
                    "cannot write this worker's part of a checkpoint: {err}; \
                     restart the job to restore the last completed checkpoint"
                ),
            }
        }
        parts
    }
}

impl Drop for PartWriter {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write(
    store: &StateStore,
    dir: &dyn CheckpointStore,
    worker: usize,
    job: PartJob,
    cache: &mut PartCache,
) -> Result<WorkerPart, PartError> {
    let PartJob {
        boundary,
        mut batch,
        offsets,
        started_unix_ms,
        snapshot_ms,
        submitted,
        pauses,
        outputs,
    } = job;
    let queued_ms = millis(submitted.elapsed());
    let mut phases = PartPhases { snapshot_ms, queued_ms, ..PartPhases::default() };
    let mut phase = Instant::now();
    let mut lap = || millis(std::mem::replace(&mut phase, Instant::now()).elapsed());
    for offset in &offsets {
        batch.set_offset(&offset.topic, offset.partition, offset.next_offset);
    }
    store.commit(batch).map_err(CheckpointError::from)?;
    phases.commit_ms = lap();
    let written = dir.write_part(store, boundary, worker, cache);
    phases.files_ms = lap();
    // The checkpoint may only complete once Redis and Kafka hold every
    // output before it.
    outputs.wait()?;
    phases.outputs_ms = lap();
    let (files, failed) = match written {
        Ok(files) => {
            tracing::debug!(worker, boundary, files = files.len(), "checkpoint part written");
            (files, None)
        }
        Err(err) => {
            tracing::warn!(worker, boundary, %err, "cannot write this worker's checkpoint part");
            (Vec::new(), Some(err.to_string()))
        }
    };
    Ok(WorkerPart {
        boundary,
        worker,
        offsets,
        files,
        failed,
        started_unix_ms,
        longest_pause_us: micros(pauses.wall),
        longest_working_pause_us: micros(pauses.working),
        phases,
    })
}

fn millis(span: Duration) -> u64 {
    u64::try_from(span.as_millis()).unwrap_or(u64::MAX)
}

fn micros(span: Duration) -> u64 {
    u64::try_from(span.as_micros()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A part crosses processes in timely's exchange, whose bincode is not
/// self-describing: [`FileDigest`] leaves an absent `object` out of the
/// manifest's JSON, which bincode cannot read back (the next field is read
/// in its place). Parts travel as plain tuples instead.
mod exchanged_digests {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use state::FileDigest;

    pub fn serialize<S: Serializer>(files: &[FileDigest], to: S) -> Result<S::Ok, S::Error> {
        let plain: Vec<(&str, u64, &str, Option<&str>)> = files
            .iter()
            .map(|f| (f.path.as_str(), f.bytes, f.xxh3.as_str(), f.object.as_deref()))
            .collect();
        plain.serialize(to)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Vec<FileDigest>, D::Error> {
        let plain = Vec::<(String, u64, String, Option<String>)>::deserialize(from)?;
        Ok(plain
            .into_iter()
            .map(|(path, bytes, xxh3, object)| FileDigest { path, bytes, xxh3, object })
            .collect())
    }
}

#[cfg(test)]
mod exchange_tests {
    use super::*;

    #[test]
    fn a_part_survives_a_non_self_describing_encoding_with_and_without_objects() {
        let digest = |object: Option<&str>| FileDigest {
            path: "worker-0/000012.sst".to_owned(),
            bytes: 4096,
            xxh3: "00112233445566ff".to_owned(),
            object: object.map(str::to_owned),
        };
        let part = WorkerPart {
            boundary: 20,
            worker: 1,
            offsets: Vec::new(),
            files: vec![digest(None), digest(Some("data/run/worker-1/000012.sst"))],
            failed: None,
            started_unix_ms: 7,
            longest_pause_us: 9,
            longest_working_pause_us: 3,
            phases: PartPhases {
                snapshot_ms: 1,
                queued_ms: 2,
                commit_ms: 3,
                files_ms: 4,
                outputs_ms: 5,
            },
        };
        let config = bincode::config::legacy();
        let bytes = bincode::serde::encode_to_vec(&part, config).unwrap();
        let (back, _): (WorkerPart, usize) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back, part);
    }
}
