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
use std::time::{Duration, Instant};

use checkpoints::StateBatch;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::{Capability, Operator};

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
}

/// Entries a snapshot step writes before looking at the clock.
const SNAPSHOT_STEP: usize = 512;
/// Time a snapshot may take of an activation; the rest of the snapshot
/// waits for the next one (the operator activates itself).
const SNAPSHOT_SLICE: Duration = Duration::from_millis(2);

/// A stop for a snapshot this long is logged.
const LONG_STOP: Duration = Duration::from_millis(20);

/// A snapshot being taken, a slice per activation.
struct Snapshotting {
    boundary: u64,
    /// The longest time the operator stopped for it in one go.
    longest_pause: Duration,
}

/// When [`EpochState::write_out`] must write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOut {
    /// Only if the writer is ready for more; otherwise keep collecting.
    IfWriterReady,
    /// Unconditionally (before a snapshot, at the end of the input).
    Now,
}

/// Where an operator's checkpoint snapshots go.
#[allow(missing_debug_implementations, reason = "holds closures")]
pub struct Snapshots {
    /// Epochs between checkpoint boundaries (boundaries are its multiples).
    pub every: u64,
    /// Receives (boundary, changes) at each boundary, and how long the
    /// operator was paused taking them.
    pub on_snapshot: Box<dyn FnMut(u64, StateBatch, std::time::Duration)>,
    /// Called once when the input is exhausted.
    pub on_finish: Box<dyn FnMut()>,
}

/// Records of one epoch waiting to be applied, with the capability to emit
/// their outputs in that epoch.
struct Stashed<R> {
    capability: Capability<u64>,
    batches: Vec<Vec<R>>,
}

/// Routes `stream` with `route` (the worker index of a record) into `state`,
/// snapshotting it at checkpoint boundaries if `snapshots` is given. Returns
/// what the state emits, each output in the epoch of the record it came
/// from; an epoch of the output closes when the state completed it.
pub fn epoch_sink<'scope, S, R>(
    stream: Stream<'scope, u64, Vec<S::Record>>,
    name: &str,
    mut route: R,
    mut state: S,
    mut snapshots: Option<Snapshots>,
) -> Stream<'scope, u64, Vec<S::Output>>
where
    S: EpochState,
    R: FnMut(&S::Record) -> u64 + 'static,
{
    let mut stash: BTreeMap<u64, Stashed<S::Record>> = BTreeMap::new();
    // The epoch whose records were applied but not yet completed, with the
    // capability its outputs are emitted under.
    let mut open: Option<(u64, Capability<u64>)> = None;
    let mut next_boundary = snapshots.as_ref().map(|s| s.every.max(1));
    let mut finished = false;
    let mut emitted: Vec<S::Output> = Vec::new();
    let mut snapshotting: Option<Snapshotting> = None;
    let scope = stream.scope();
    let operator = name.to_owned();
    stream.unary_frontier::<CapacityContainerBuilder<Vec<S::Output>>, _, _, _>(
        Exchange::new(move |record: &S::Record| route(record)),
        name,
        move |initial, info| {
            // Outputs are emitted under the capabilities of the inputs.
            drop(initial);
            let activator = scope.activator_for(info.address);
            move |(input, frontier), output| {
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
                    if let Some(boundary) = next_boundary
                        && open.is_none()
                        && !frontier.is_empty()
                        && !frontier.less_than(&boundary)
                        && first_stashed.is_none_or(|epoch| epoch >= boundary)
                        && let Some(snapshots) = snapshots.as_mut()
                    {
                        // The previous snapshot, still in progress, first: the
                        // slices below take it on, and the operator comes back
                        // for this boundary (an operator far behind, catching
                        // up, meets boundaries faster than it drains them).
                        if snapshotting.is_some() {
                            break;
                        }
                        state.write_out(WriteOut::Now);
                        let started = Instant::now();
                        state.begin_snapshot();
                        let stop = started.elapsed();
                        if stop > LONG_STOP {
                            tracing::warn!(%operator, boundary, ?stop, "long snapshot start");
                        }
                        snapshotting = Some(Snapshotting { boundary, longest_pause: stop });
                        next_boundary = Some(boundary + snapshots.every.max(1));
                        continue;
                    }
                    // Apply the earliest stashed epoch if the frontier allows it.
                    let Some(epoch) = first_stashed else { break };
                    if frontier.less_than(&epoch) || open.as_ref().is_some_and(|(o, _)| *o != epoch)
                    {
                        break;
                    }
                    if next_boundary.is_some_and(|b| epoch >= b) {
                        // The input ended before the boundary could be taken:
                        // no more checkpoints from this operator.
                        next_boundary = None;
                    }
                    if let Some(Stashed { capability, batches }) = stash.remove(&epoch) {
                        for mut batch in batches {
                            state.apply(&mut batch, &mut emitted);
                        }
                        if !emitted.is_empty() {
                            output.session(&capability).give_container(&mut emitted);
                            emitted.clear();
                        }
                        // Keep the capability of an epoch already open.
                        open.get_or_insert((epoch, capability));
                    }
                }
                if let Some(taking) = snapshotting.as_mut()
                    && let Some(snapshots) = snapshots.as_mut()
                {
                    let started = Instant::now();
                    let batch = loop {
                        if let Some(batch) = state.continue_snapshot(SNAPSHOT_STEP) {
                            break Some(batch);
                        }
                        if started.elapsed() >= SNAPSHOT_SLICE {
                            break None;
                        }
                    };
                    let stop = started.elapsed();
                    if stop > LONG_STOP {
                        let boundary = taking.boundary;
                        tracing::warn!(%operator, boundary, ?stop, "long snapshot slice");
                    }
                    taking.longest_pause = taking.longest_pause.max(stop);
                    match batch {
                        Some(batch) => {
                            (snapshots.on_snapshot)(taking.boundary, batch, taking.longest_pause);
                            snapshotting = None;
                            if !stash.is_empty() {
                                // Records may wait for it, with no input to wake us.
                                activator.activate();
                            }
                        }
                        None => activator.activate(),
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
                        if let Some(snapshots) = snapshots.as_mut() {
                            (snapshots.on_finish)();
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
#[path = "epochs_tests.rs"]
mod tests;
