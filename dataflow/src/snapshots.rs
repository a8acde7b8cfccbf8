//! What a stateful operator emits on its snapshot stream ([`Snapshot`]),
//! and taking a snapshot a slice per activation ([`Snapshotting`]), for
//! [`epoch_sink`](crate::epochs::epoch_sink): each slice takes at most a
//! few milliseconds of the operator's thread, and a snapshot that grows
//! large hands on what it wrote so far, so that neither a stop nor a batch
//! grows with the state.

use std::time::Duration;

use state::StateBatch;

use crate::checkpointing::pause::{LongestPauses, Stopwatch};
use crate::checkpointing::unix_ms;
use crate::epochs::EpochState;

/// Entries a snapshot step writes before looking at the clock: a slice
/// overruns its time by at most one step. At 512, steps of profiles took up
/// to 16 ms of CPU (`bench/run --steps checkpoints`, 1.26 M users); a
/// reading of the thread's CPU clock is one system call, an entry
/// microseconds.
pub(crate) const SNAPSHOT_STEP: usize = 64;
/// CPU time a snapshot may take of an activation; the rest of the
/// snapshot waits for the next one (the operator activates itself). Half
/// the 10 ms a stop may last (issue #14), so that a step of
/// [`SNAPSHOT_STEP`] entries begun just before the mark still ends well
/// within it; longer slices mean fewer activations per snapshot, which is
/// what bounds a snapshot's duration while the worker is busy catching up.
/// It is CPU time, not wall time: on a machine with more busy threads than
/// cores a slice of 5 ms of wall time did 1 to 3 ms of work, the thread
/// being off its core for the rest, so a snapshot took two to five times
/// as many slices, each followed by a wait for the next activation.
pub(crate) const SNAPSHOT_SLICE: Duration = Duration::from_millis(5);

/// A stop for a snapshot this long is logged.
pub(crate) const LONG_STOP: Duration = Duration::from_millis(20);

/// Bytes a snapshot in progress writes before they are handed on
/// ([`SnapshotKind::Segments`]): a snapshot taken during a catch-up holds
/// the changes of about a million users, 180 MB of batch at the heap's peak
/// (heaptrack, docs/benchmarks.md), until it completes; in parts of this
/// size the store takes them meanwhile.
pub(crate) const EARLY_SEGMENTS_BYTES: usize = 8 << 20;

/// What a [`Snapshot`] on an operator's snapshot stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// The operator's changes up to the boundary (those not handed on
    /// earlier): the operator's last word on it.
    Boundary,
    /// Changes taken before the boundary to bound the state's memory (a
    /// spill): committed to the store as soon as every earlier boundary's
    /// part is, and followed by the operator's snapshot at the boundary.
    Spill,
    /// What a snapshot in progress (a spill, or the boundary's) wrote so
    /// far, handed on to be committed like a spill, so that the whole batch
    /// is never held at once (see [`EARLY_SEGMENTS_BYTES`]).
    Segments,
}

impl SnapshotKind {
    /// Whether the changes go to the store before the boundary's part.
    #[must_use]
    pub fn is_early(self) -> bool {
        self != Self::Boundary
    }
}

/// One operator's changes since the previous checkpoint boundary, or part
/// of them ([`SnapshotKind`]), emitted on its snapshot stream at time
/// `boundary`.
#[derive(Debug)]
pub struct Snapshot {
    /// The checkpoint boundary (epoch) the changes lead up to.
    pub boundary: u64,
    /// The changes.
    pub batch: StateBatch,
    /// The longest times the operator stopped for this snapshot in one go.
    pub pauses: LongestPauses,
    /// The working part of each stop, in order.
    pub stops: Vec<Duration>,
    /// When the operator began it (Unix ms).
    pub began_unix_ms: u64,
    /// What the changes are.
    pub kind: SnapshotKind,
}

/// What one slice of a snapshot came to.
pub(crate) enum Slice {
    /// The snapshot is complete.
    Done(Snapshot),
    /// It goes on; what it wrote so far, if handed on now.
    Going(Option<Snapshot>),
}

/// A snapshot being taken, a slice per activation.
pub(crate) struct Snapshotting {
    boundary: u64,
    pauses: LongestPauses,
    stops: Vec<Duration>,
    began_unix_ms: u64,
    spill: bool,
}

impl Snapshotting {
    /// Begins a snapshot of `state` for `boundary` (early if `spill`).
    pub(crate) fn begin<S: EpochState>(
        state: &mut S,
        boundary: u64,
        spill: bool,
        operator: &str,
    ) -> Self {
        let began_unix_ms = unix_ms();
        let watch = Stopwatch::start();
        state.begin_snapshot();
        let stop = watch.stop();
        if stop.wall > LONG_STOP {
            tracing::warn!(%operator, boundary, spill, ?stop, "long snapshot start");
        }
        let mut pauses = LongestPauses::default();
        pauses.record(stop);
        Self { boundary, pauses, stops: vec![stop.working], began_unix_ms, spill }
    }

    /// Whether this is a spill (taken before its boundary).
    pub(crate) fn is_spill(&self) -> bool {
        self.spill
    }

    /// Takes one slice of the snapshot, at most [`SNAPSHOT_SLICE`] of CPU
    /// time: the snapshot once complete, or else what it wrote so far if
    /// that reached [`EARLY_SEGMENTS_BYTES`].
    pub(crate) fn slice<S: EpochState>(&mut self, state: &mut S, operator: &str) -> Slice {
        let watch = Stopwatch::start();
        let batch = loop {
            if let Some(batch) = state.continue_snapshot(SNAPSHOT_STEP) {
                break Some(batch);
            }
            if watch.worked() >= SNAPSHOT_SLICE {
                break None;
            }
        };
        let stop = watch.stop();
        if stop.wall > LONG_STOP {
            tracing::warn!(%operator, boundary = self.boundary, ?stop, "long snapshot slice");
        }
        self.pauses.record(stop);
        self.stops.push(stop.working);
        let Some(batch) = batch else {
            let segments =
                state.take_snapshot_segments(EARLY_SEGMENTS_BYTES).map(|batch| Snapshot {
                    boundary: self.boundary,
                    batch,
                    pauses: LongestPauses::default(),
                    stops: Vec::new(),
                    began_unix_ms: self.began_unix_ms,
                    kind: SnapshotKind::Segments,
                });
            return Slice::Going(segments);
        };
        Slice::Done(Snapshot {
            boundary: self.boundary,
            batch,
            pauses: self.pauses,
            stops: std::mem::take(&mut self.stops),
            began_unix_ms: self.began_unix_ms,
            kind: if self.spill { SnapshotKind::Spill } else { SnapshotKind::Boundary },
        })
    }
}
