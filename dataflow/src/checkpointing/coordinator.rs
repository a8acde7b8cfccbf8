//! [`Coordinator`]: gathers one worker's snapshots and source offsets per
//! checkpoint boundary.
//!
//! Every operator of the worker hands in its changes at each boundary (see
//! `crate::epochs`); the worker's source hands in its offsets whenever its
//! epoch crosses one or more boundaries (see `crate::source`). Once all the
//! operators' changes for a boundary are in, they go with the offsets for
//! that boundary, as one batch, to the [`PartWriter`] thread.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use checkpoints::{PartitionOffset, StateBatch};

use crate::checkpointing::part_writer::{PartJob, PartWriter, WorkerPart, unix_ms};
use crate::metrics::JobMetrics;

/// The source offsets valid for boundaries in `(after, upto]`: the source's
/// epoch went from `after` to `upto` when it reported them.
#[derive(Debug)]
struct Positions {
    after: u64,
    upto: u64,
    offsets: Rc<Vec<PartitionOffset>>,
}

#[derive(Debug)]
struct Pending {
    parts: usize,
    batch: StateBatch,
    started_unix_ms: u64,
    longest_pause: Duration,
}

/// One worker's checkpoint bookkeeping (shared by its operators).
#[derive(Debug)]
pub struct Coordinator {
    worker: usize,
    operators: usize,
    positions: Vec<Positions>,
    final_offsets: Option<Rc<Vec<PartitionOffset>>>,
    pending: BTreeMap<u64, Pending>,
    writer: PartWriter,
    finished_operators: usize,
    metrics: Arc<JobMetrics>,
}

impl Coordinator {
    /// Bookkeeping for `operators` snapshotting operators on `worker`.
    pub fn new(
        worker: usize,
        operators: usize,
        writer: PartWriter,
        metrics: Arc<JobMetrics>,
    ) -> Self {
        Self {
            worker,
            operators,
            positions: Vec::new(),
            final_offsets: None,
            pending: BTreeMap::new(),
            writer,
            finished_operators: 0,
            metrics,
        }
    }

    /// The source's epoch moved from `after` to `upto` with these offsets.
    pub fn positions(&mut self, after: u64, upto: u64, offsets: Vec<PartitionOffset>) {
        self.positions.push(Positions { after, upto, offsets: Rc::new(offsets) });
    }

    /// The source stopped reading at these offsets.
    pub fn source_finished(&mut self, offsets: Vec<PartitionOffset>) {
        self.final_offsets = Some(Rc::new(offsets));
    }

    /// An operator's changes up to `boundary`, after pausing for `pause`.
    pub fn snapshot(&mut self, boundary: u64, batch: StateBatch, pause: Duration) {
        self.metrics.checkpoint.pause_seconds.observe(pause.as_secs_f64());
        let pending = self.pending.entry(boundary).or_insert_with(|| Pending {
            parts: 0,
            batch: StateBatch::new(),
            started_unix_ms: unix_ms(),
            longest_pause: Duration::ZERO,
        });
        pending.parts += 1;
        pending.longest_pause = pending.longest_pause.max(pause);
        pending.batch.append(batch);
        if pending.parts == self.operators
            && let Some(Pending { batch, started_unix_ms, longest_pause, .. }) =
                self.pending.remove(&boundary)
        {
            let offsets = self.offsets_for(boundary);
            self.positions.retain(|p| p.upto >= boundary);
            self.writer.submit(PartJob {
                boundary,
                batch,
                offsets: offsets.to_vec(),
                started_unix_ms,
                longest_pause_us: u64::try_from(longest_pause.as_micros()).unwrap_or(u64::MAX),
            });
        }
    }

    /// The source offsets at `boundary`. The source reports them before its
    /// capability passes the boundary, and operators snapshot only after the
    /// frontier passed it, so they are always known here.
    fn offsets_for(&self, boundary: u64) -> Rc<Vec<PartitionOffset>> {
        let reported = self.positions.iter().find(|p| p.after < boundary && boundary <= p.upto);
        match (reported, &self.final_offsets) {
            (Some(positions), _) => Rc::clone(&positions.offsets),
            (None, Some(offsets)) => Rc::clone(offsets),
            (None, None) => panic!(
                "worker {}: no source offsets for checkpoint boundary {boundary}",
                self.worker
            ),
        }
    }

    /// An operator's input is exhausted: it takes no more snapshots.
    pub fn operator_finished(&mut self) {
        self.finished_operators += 1;
    }

    /// Parts written since the last call.
    pub fn finished_parts(&mut self) -> Vec<WorkerPart> {
        self.writer.finished()
    }

    /// Whether no part can come any more: every operator finished and every
    /// part was written and reported.
    pub fn is_done(&self) -> bool {
        self.finished_operators >= self.operators && self.writer.is_idle()
    }
}
