//! Applying a stream to state epoch by epoch, acting when an epoch ends, and
//! snapshotting state at checkpoint boundaries.
//!
//! [`epoch_sink`] is the shape shared by the stateful operators: records of
//! the earliest unfinished epoch are applied as they arrive; records of later
//! epochs (from workers that are ahead) wait in a stash until their epoch is
//! the earliest. So when the frontier passes an epoch, the state holds
//! exactly the effects of that epoch and all before it, and
//! [`EpochState::complete`] writes them out.
//!
//! Every `every`-th epoch number is a checkpoint boundary `B`. Once the
//! frontier reaches `B` — every record of the epochs before `B` has arrived
//! and been applied — and before any record of `B` or later is applied, the
//! operator takes a [`EpochState::snapshot`]: its changes since the previous
//! boundary. Every source reports its offsets at the same boundary (see
//! `source.rs`), so the snapshots and offsets of all workers describe one
//! consistent cut of the input, with no record on both sides of it.
//!
//! Writing out is decoupled from completing: after each activation the
//! state writes the changes applied so far (of completed epochs and of the
//! open one) if its writer is ready for more ([`WriteOut::IfWriterReady`]),
//! so an idle Redis sees changes within milliseconds and a busy one makes
//! the state coalesce many epochs' changes into one write. Every write is
//! of absolute values, so writing part of an open epoch early never makes
//! the final result differ. Before every snapshot and at the end of the
//! input the state must write everything ([`WriteOut::Now`]): a
//! checkpoint's Redis barrier then covers every output of the epochs
//! before its boundary.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::rc::Rc;
use std::time::Duration;

use state::{CommitWaker, MemoryPressure, StateBatch};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use crate::checkpointing::pause::{LongestPauses, Stopwatch};
use crate::checkpointing::unix_ms;

/// State driven by [`epoch_sink`].
pub trait EpochState: 'static {
    /// The records the state consumes.
    type Record: timely::ExchangeData + Clone;

    /// What applying records emits downstream, in the records' epoch
    /// (`Infallible` for states that only write to Redis).
    type Output: Clone + 'static;

    /// Applies a batch of records of the current epoch (drain it; the
    /// container is reused), pushing what they emit to `out`.
    fn apply(&mut self, records: &mut Vec<Self::Record>, out: &mut Vec<Self::Output>);

    /// Every record of `epoch` and before has been applied.
    fn complete(&mut self, epoch: u64);

    /// Writes out the changes applied and not yet written (including those
    /// of the open epoch): unconditionally with [`WriteOut::Now`], or only if
    /// the writer is ready for more.
    fn write_out(&mut self, when: WriteOut);

    /// Starts a snapshot of every state change since the previous one. It
    /// must be cheap whatever the state's size (see `Table::begin_snapshot`):
    /// changes applied after it belong to the next snapshot.
    fn begin_snapshot(&mut self);

    /// Does up to `work` entries more of the snapshot in progress; returns
    /// its batch once complete (exactly once per [`begin_snapshot`](Self::begin_snapshot)).
    fn continue_snapshot(&mut self, work: usize) -> Option<StateBatch>;

    /// What the state's memory needs before more records are applied: to
    /// wait for an earlier snapshot's commit, which wakes the operator, or
    /// a snapshot now (a spill), see `Table::memory_pressure`.
    fn memory_pressure(&mut self) -> MemoryPressure {
        MemoryPressure::None
    }

    /// Gives the state the function that wakes its operator, to be called
    /// when one of its snapshots' batches is committed.
    fn wake_on_commit(&mut self, _wake: CommitWaker) {}
}

/// Entries a snapshot step writes before looking at the clock: a slice
/// overruns its time by at most one step. At 512, steps of profiles took up
/// to 16 ms of CPU (`bench/run --steps checkpoints`, 1.26 M users); a
/// reading of the thread's CPU clock is one system call, an entry
/// microseconds.
const SNAPSHOT_STEP: usize = 64;
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
const SNAPSHOT_SLICE: Duration = Duration::from_millis(5);

/// A stop for a snapshot this long is logged.
const LONG_STOP: Duration = Duration::from_millis(20);

/// When [`EpochState::write_out`] must write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOut {
    /// Only if the writer is ready for more; otherwise keep collecting.
    IfWriterReady,
    /// Unconditionally (before a snapshot, at the end of the input).
    Now,
}

/// One operator's changes since the previous checkpoint boundary, emitted
/// on its snapshot stream at time `boundary`.
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
    /// Changes taken before the boundary to bound the state's memory (a
    /// spill): committed to the store as soon as every earlier boundary's
    /// part is, and followed by the operator's snapshot at the boundary.
    pub spill: bool,
}

/// What [`epoch_sink`] hands downstream.
#[derive(Debug)]
pub struct EpochSinkStreams<'scope, O> {
    /// What the state emits, each output in the epoch of the record it came
    /// from; an epoch of it closes when the state completed it.
    pub output: Stream<'scope, u64, Vec<O>>,
    /// One [`Snapshot`] per checkpoint boundary, at the boundary's time.
    /// The operator holds a capability at its next boundary until it emits
    /// that snapshot, and drops it when its input ends: the stream's
    /// frontier says which boundaries can still come (see
    /// `crate::checkpointing`).
    pub snapshots: Stream<'scope, u64, Vec<Snapshot>>,
}

/// A snapshot being taken, a slice per activation.
struct Snapshotting {
    boundary: u64,
    pauses: LongestPauses,
    stops: Vec<Duration>,
    began_unix_ms: u64,
    spill: bool,
}

impl Snapshotting {
    /// Begins a snapshot of `state` for `boundary` (early if `spill`).
    fn begin<S: EpochState>(state: &mut S, boundary: u64, spill: bool, operator: &str) -> Self {
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
}

/// Records of one epoch waiting to be applied, with the capability to emit
/// their outputs in that epoch.
struct Stashed<R> {
    capability: Capability<u64>,
    batches: Vec<Vec<R>>,
}

type OutputOf<D> = OutputBuilder<u64, CapacityContainerBuilder<Vec<D>>>;

/// Routes `stream` with `route` (the worker index of a record) into `state`,
/// snapshotting it at every multiple of `every` (checkpoint boundaries), or
/// never if `every` is `None`.
pub fn epoch_sink<'scope, S, R>(
    stream: Stream<'scope, u64, Vec<S::Record>>,
    name: &str,
    mut route: R,
    mut state: S,
    every: Option<u64>,
) -> EpochSinkStreams<'scope, S::Output>
where
    S: EpochState,
    R: FnMut(&S::Record) -> u64 + 'static,
{
    let scope = stream.scope();
    let mut builder = OperatorBuilder::new(name.to_owned(), scope);
    let address = builder.operator_info().address;
    let activator = scope.activator_for(Rc::clone(&address));
    let commit_activator = scope.worker().sync_activator_for(address.to_vec());
    state.wake_on_commit(CommitWaker::new(move || {
        // The operator is gone only when the job ends.
        let _ = commit_activator.activate();
    }));
    let pact = Exchange::new(move |record: &S::Record| route(record));
    let mut input = builder.new_input(stream, pact);
    let (output, output_stream) = builder.new_output::<Vec<S::Output>>();
    let mut output: OutputOf<S::Output> = OutputBuilder::from(output);
    let (snapshot_output, snapshot_stream) = builder.new_output::<Vec<Snapshot>>();
    let mut snapshot_output: OutputOf<Snapshot> = OutputBuilder::from(snapshot_output);
    let operator = name.to_owned();

    builder.build(move |mut capabilities| {
        // Outputs are emitted under the capabilities of the inputs; the
        // snapshot capability waits at the next boundary.
        let every = every.map(|e| e.max(1));
        let mut next_boundary: Option<Capability<u64>> = match (capabilities.pop(), every) {
            (Some(cap), Some(every)) => Some(cap.delayed(&every)),
            _ => None,
        };
        drop(capabilities);
        let mut stash: BTreeMap<u64, Stashed<S::Record>> = BTreeMap::new();
        // The epoch whose records were applied but not yet completed, with
        // the capability its outputs are emitted under.
        let mut open: Option<(u64, Capability<u64>)> = None;
        let mut finished = false;
        let mut emitted: Vec<S::Output> = Vec::new();
        let mut snapshotting: Option<Snapshotting> = None;
        move |frontiers| {
            let frontier = &frontiers[0];
            input.for_each_stamp(|capability, batches| {
                // Sources always send under a capability, so every stamp
                // has a least epoch.
                let Some(&epoch) = capability.least() else { return };
                let stashed = match stash.entry(epoch) {
                    Entry::Occupied(entry) => entry.into_mut(),
                    Entry::Vacant(entry) => {
                        let Some(capability) = capability.retain_least(0) else { return };
                        entry.insert(Stashed { capability, batches: Vec::new() })
                    }
                };
                stashed.batches.extend(batches.map(std::mem::take));
            });
            loop {
                if let Some((epoch, _)) = &open
                    && !frontier.less_equal(epoch)
                {
                    state.complete(*epoch);
                    open = None;
                }
                let first_stashed = stash.first_key_value().map(|(&epoch, _)| epoch);
                // Snapshot at the next boundary once the frontier reached
                // it, nothing before it is still open, and nothing at or
                // after it has been applied.
                if let Some(boundary) = next_boundary.as_ref().map(|cap| *cap.time())
                    && open.is_none()
                    && !frontier.is_empty()
                    && !frontier.less_than(&boundary)
                    && first_stashed.is_none_or(|epoch| epoch >= boundary)
                    // The previous snapshot, still in progress, first: the
                    // slices below take it on, and the operator comes back
                    // for this boundary (an operator far behind, catching
                    // up, meets boundaries faster than it drains them).
                    && snapshotting.is_none()
                {
                    state.write_out(WriteOut::Now);
                    snapshotting =
                        Some(Snapshotting::begin(&mut state, boundary, false, &operator));
                    continue;
                }
                if let Some(taking) = &snapshotting
                    && next_boundary.as_ref().is_some_and(|cap| {
                        // Records of the next boundary's epochs wait for the
                        // snapshot in progress: for a boundary's own
                        // snapshot, those after its interval; for a spill,
                        // all of them (the boundary's snapshot must begin
                        // before any is applied).
                        let interval = if taking.spill { 0 } else { every.unwrap_or(1) };
                        *cap.time() + interval <= first_stashed.unwrap_or(0)
                    })
                {
                    break;
                }
                // Apply the earliest stashed epoch if the frontier allows it
                // and the state's memory does not need a commit first (the
                // sources stop reading meanwhile, see `read_ahead.rs`).
                let Some(epoch) = first_stashed else { break };
                if frontier.less_than(&epoch) || open.as_ref().is_some_and(|(o, _)| *o != epoch) {
                    break;
                }
                match state.memory_pressure() {
                    MemoryPressure::None => {}
                    MemoryPressure::WaitForCommit => break,
                    MemoryPressure::Spill if snapshotting.is_some() => break,
                    MemoryPressure::Spill => {
                        if let Some(cap) = &next_boundary {
                            // Changed entries are rendered while cached: once
                            // spilled they may be evicted, and rendering
                            // them would read each back from RocksDB.
                            state.write_out(WriteOut::Now);
                            let boundary = *cap.time();
                            snapshotting =
                                Some(Snapshotting::begin(&mut state, boundary, true, &operator));
                            continue;
                        }
                        // Without checkpoints nothing is committed: the
                        // state stays unbounded.
                    }
                }
                if snapshotting.is_none()
                    && next_boundary.as_ref().is_some_and(|b| epoch >= *b.time())
                {
                    // The input ended before the boundary could be taken:
                    // no more checkpoints from this operator.
                    next_boundary = None;
                }
                if let Some(Stashed { capability, batches }) = stash.remove(&epoch) {
                    for mut batch in batches {
                        state.apply(&mut batch, &mut emitted);
                    }
                    if !emitted.is_empty() {
                        output.activate().session(&capability).give_container(&mut emitted);
                        emitted.clear();
                    }
                    // Keep the capability of an epoch already open.
                    open.get_or_insert((epoch, capability));
                }
            }
            if let Some(taking) = snapshotting.as_mut() {
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
                    let boundary = taking.boundary;
                    tracing::warn!(%operator, boundary, ?stop, "long snapshot slice");
                }
                taking.pauses.record(stop);
                taking.stops.push(stop.working);
                match (batch, next_boundary.as_mut()) {
                    (Some(batch), Some(cap)) => {
                        let stops = std::mem::take(&mut taking.stops);
                        let Snapshotting { boundary, pauses, began_unix_ms, spill, .. } = *taking;
                        let snapshot =
                            Snapshot { boundary, batch, pauses, stops, began_unix_ms, spill };
                        snapshot_output.activate().session(&*cap).give(snapshot);
                        if !spill {
                            cap.downgrade(&(boundary + every.unwrap_or(1)));
                        }
                        snapshotting = None;
                        // Records may wait for it, with no input to wake us.
                        activator.activate();
                    }
                    _ => activator.activate(),
                }
            }
            state.write_out(WriteOut::IfWriterReady);
            if frontier.is_empty() && stash.is_empty() && open.is_none() && !finished {
                if snapshotting.is_some() {
                    // The snapshot in progress is finished by the slices
                    // above first, one per activation, as at any time.
                    activator.activate();
                } else {
                    finished = true;
                    state.write_out(WriteOut::Now);
                    next_boundary = None;
                }
            }
        }
    });
    EpochSinkStreams { output: output_stream, snapshots: snapshot_stream }
}

#[cfg(test)]
#[path = "epochs_tests.rs"]
mod tests;
