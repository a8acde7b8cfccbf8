//! [`Coordinator`]: one worker's bookkeeping of checkpoint boundaries, the
//! state of the checkpoint operator (`flow.rs`).
//!
//! Every stateful operator of the worker emits one [`Snapshot`] per
//! boundary on its snapshot stream (see `crate::epochs`); the worker's source
//! emits its offsets whenever its epoch crosses one or more boundaries (see
//! `crate::source`). Once every snapshot stream delivered its changes for a
//! boundary, they go with the offsets for that boundary, as one
//! [`ReadyPart`], to the part writer. The number of snapshot streams is the
//! number of inputs the operator was built with: nothing is counted by hand.
//!
//! An operator may also deliver *spills* for its next boundary: changes it
//! took early to bound its memory (see `Table::memory_pressure`). A spill
//! goes to the part writer, to be committed to the worker's store, as soon
//! as every earlier boundary's part went: the part writer works in order,
//! so the store takes the spill only after those parts' files are written
//! (they must not hold it), and before the part of the spill's own
//! boundary, which holds it. Jobs leave the coordinator in that order
//! ([`Coordinator::take_ready`]).
//!
//! The coordinator is generic over the token it keeps per boundary (in the
//! dataflow, the capability the written part is emitted under), so that its
//! logic is tested without a dataflow.

use std::collections::BTreeMap;
use std::rc::Rc;

use state::{PartitionOffset, StateBatch};

use crate::checkpointing::pause::LongestPauses;
use crate::epochs::Snapshot;

/// The source's offsets, valid for every boundary in `(after, upto]`: its
/// epoch went from `after` to `upto` when it emitted them (`upto` is
/// `u64::MAX` when the source finished: no input follows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePositions {
    /// The epoch the source left.
    pub after: u64,
    /// The epoch the source entered.
    pub upto: u64,
    /// The next offset of each partition the source reads.
    pub offsets: Vec<PartitionOffset>,
}

/// Every operator's changes for one boundary, with the source offsets.
#[derive(Debug)]
pub struct ReadyPart {
    /// The checkpoint boundary.
    pub boundary: u64,
    /// The changes of every snapshot stream, in one batch.
    pub batch: StateBatch,
    /// The source's offsets at the boundary.
    pub offsets: Vec<PartitionOffset>,
    /// When the first operator began its snapshot for the boundary (Unix ms).
    pub started_unix_ms: u64,
    /// The longest pauses of one operator for it.
    pub pauses: LongestPauses,
}

/// What the part writer is given, in this order.
#[derive(Debug)]
pub enum PartWriterJob<C> {
    /// Changes to commit to the store without a part: a spill's, or those
    /// delivered for an abandoned boundary (their writers wait for the
    /// commit, see `Table::memory_pressure`).
    Commit(StateBatch),
    /// A boundary's part, with the boundary's token.
    Part(ReadyPart, C),
}

#[derive(Debug)]
struct Pending<C> {
    delivered: Vec<bool>,
    batch: StateBatch,
    /// Spills for this boundary not yet handed out.
    spills: Vec<StateBatch>,
    /// Some input passed the boundary without delivering it: no part.
    abandoned: bool,
    started_unix_ms: u64,
    pauses: LongestPauses,
    token: C,
}

/// One worker's checkpoint bookkeeping between snapshots and part writing.
#[derive(Debug)]
pub struct Coordinator<C> {
    worker: usize,
    inputs: usize,
    positions: Vec<(u64, u64, Rc<Vec<PartitionOffset>>)>,
    pending: BTreeMap<u64, Pending<C>>,
}

impl<C> Coordinator<C> {
    /// Bookkeeping for `inputs` snapshot streams of `worker`.
    #[must_use]
    pub fn new(worker: usize, inputs: usize) -> Self {
        Self { worker, inputs, positions: Vec::new(), pending: BTreeMap::new() }
    }

    /// The source's offsets for boundaries in `(after, upto]`.
    pub fn add_positions(&mut self, positions: SourcePositions) {
        let SourcePositions { after, upto, offsets } = positions;
        self.positions.push((after, upto, Rc::new(offsets)));
    }

    /// Snapshot stream `input`'s changes for a boundary (or a spill for
    /// it); `token` is kept with the first snapshot of each boundary and
    /// handed back with its part.
    pub fn add_snapshot(&mut self, input: usize, snapshot: Snapshot, token: impl FnOnce() -> C) {
        let Snapshot { boundary, batch, pauses, began_unix_ms, spill, .. } = snapshot;
        tracing::debug!(
            worker = self.worker,
            input,
            boundary,
            spill,
            began_unix_ms,
            took_ms = crate::checkpointing::unix_ms().saturating_sub(began_unix_ms),
            entries = batch.len(),
            "snapshot delivered"
        );
        let inputs = self.inputs;
        let pending = self.pending.entry(boundary).or_insert_with(|| Pending {
            delivered: vec![false; inputs],
            batch: StateBatch::new(),
            spills: Vec::new(),
            abandoned: false,
            started_unix_ms: u64::MAX,
            pauses: LongestPauses::default(),
            token: token(),
        });
        pending.pauses.merge(pauses);
        if spill {
            pending.spills.push(batch);
            return;
        }
        assert!(
            !std::mem::replace(&mut pending.delivered[input], true),
            "worker {}: snapshot stream {input} delivered boundary {boundary} twice",
            self.worker
        );
        pending.started_unix_ms = pending.started_unix_ms.min(began_unix_ms);
        pending.batch.append(batch);
    }

    /// Takes what the part writer can be given, in order: oldest boundary
    /// first, the spills for a boundary, then its part once every snapshot
    /// stream delivered it (abandoned boundaries give their spills only);
    /// a boundary still waiting for a snapshot stops there.
    ///
    /// `positions_settled(b)` tells whether the source's positions stream
    /// can no longer bring offsets for boundary `b` (its frontier reached
    /// `b`): a complete boundary whose offsets have not arrived waits until
    /// then. They always have, as the source emits them before its epoch
    /// passes the boundary, and the operators snapshot only after that.
    pub fn take_ready(&mut self, positions_settled: impl Fn(u64) -> bool) -> Vec<PartWriterJob<C>> {
        let mut ready = Vec::new();
        while let Some(mut first) = self.pending.first_entry() {
            let boundary = *first.key();
            let pending = first.get_mut();
            ready.extend(pending.spills.drain(..).map(PartWriterJob::Commit));
            if pending.abandoned {
                ready.push(PartWriterJob::Commit(first.remove().batch));
                continue;
            }
            if !pending.delivered.iter().all(|&d| d) {
                break;
            }
            let Some(offsets) = self.offsets_for(boundary) else {
                assert!(
                    !positions_settled(boundary),
                    "worker {}: no source offsets for checkpoint boundary {boundary}",
                    self.worker
                );
                break;
            };
            let Some((_, pending)) = self.pending.pop_first() else { break };
            let Pending { batch, started_unix_ms, pauses, token, .. } = pending;
            self.positions.retain(|&(_, upto, _)| upto > boundary);
            let part = ReadyPart { boundary, batch, offsets, started_unix_ms, pauses };
            ready.push(PartWriterJob::Part(part, token));
        }
        ready
    }

    /// Gives up the boundaries that can no longer complete: `passed(input,
    /// b)` tells whether snapshot stream `input` can no longer deliver
    /// boundary `b` (its frontier is beyond it), which happens when an
    /// operator's input ended before the boundary. Their spills and the
    /// changes delivered for them still go to the part writer, to be
    /// committed in order ([`take_ready`](Self::take_ready)). Returns them.
    pub fn abandon(&mut self, passed: impl Fn(usize, u64) -> bool) -> Vec<u64> {
        let mut abandoned = Vec::new();
        for (&boundary, pending) in &mut self.pending {
            let gone =
                pending.delivered.iter().enumerate().any(|(i, &d)| !d && passed(i, boundary));
            if gone && !std::mem::replace(&mut pending.abandoned, true) {
                abandoned.push(boundary);
            }
        }
        abandoned
    }

    /// Whether boundaries wait for snapshots.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    fn offsets_for(&self, boundary: u64) -> Option<Vec<PartitionOffset>> {
        self.positions
            .iter()
            .find(|&&(after, upto, _)| after < boundary && boundary <= upto)
            .map(|(_, _, offsets)| offsets.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn offsets(next: i64) -> Vec<PartitionOffset> {
        vec![PartitionOffset { topic: "t".into(), partition: 0, next_offset: next }]
    }

    /// A snapshot begun at `began` whose longest pause of `pause_ms` was
    /// half work.
    fn snapshot_at(boundary: u64, pause_ms: u64, began_unix_ms: u64) -> Snapshot {
        let mut batch = StateBatch::new();
        batch.put(state::Family::Meta, format!("b{boundary}").as_bytes(), b"v");
        let wall = Duration::from_millis(pause_ms);
        let pauses = LongestPauses { wall, working: wall / 2 };
        let stops = vec![pauses.working];
        Snapshot { boundary, batch, pauses, stops, began_unix_ms, spill: false }
    }

    fn snapshot(boundary: u64, pause_ms: u64) -> Snapshot {
        snapshot_at(boundary, pause_ms, 1_000)
    }

    /// A spill of `entries` changes for `boundary`.
    fn spill(boundary: u64, entries: usize) -> Snapshot {
        let mut batch = StateBatch::new();
        for entry in 0..entries {
            batch.put(state::Family::Meta, format!("s{boundary}.{entry}").as_bytes(), b"v");
        }
        let pauses = LongestPauses::default();
        Snapshot { boundary, batch, pauses, stops: Vec::new(), began_unix_ms: 0, spill: true }
    }

    /// The parts among `jobs`, which must hold nothing else.
    fn parts<C>(jobs: Vec<PartWriterJob<C>>) -> Vec<(ReadyPart, C)> {
        jobs.into_iter()
            .map(|job| match job {
                PartWriterJob::Part(part, token) => (part, token),
                PartWriterJob::Commit(_) => panic!("no commit expected"),
            })
            .collect()
    }

    /// Each job as `part <boundary>` or `commit <entries>`.
    fn kinds<C>(jobs: &[PartWriterJob<C>]) -> Vec<String> {
        jobs.iter()
            .map(|job| match job {
                PartWriterJob::Part(part, _) => format!("part {}", part.boundary),
                PartWriterJob::Commit(batch) => format!("commit {}", batch.len()),
            })
            .collect()
    }

    #[test]
    fn a_boundary_is_ready_once_every_input_delivered_it() {
        let mut coordinator = Coordinator::<u64>::new(0, 2);
        coordinator.add_positions(SourcePositions { after: 2, upto: 4, offsets: offsets(7) });
        coordinator.add_snapshot(0, snapshot_at(3, 1, 1_000), || 3);
        assert!(coordinator.take_ready(|_| true).is_empty());
        let second = snapshot_at(3, 5, 900);
        coordinator.add_snapshot(1, second, || unreachable!("one token per boundary"));
        let ready = parts(coordinator.take_ready(|_| true));
        assert_eq!(ready.len(), 1);
        let (part, token) = &ready[0];
        assert_eq!((part.boundary, *token), (3, 3));
        assert_eq!(part.offsets, offsets(7));
        assert_eq!(part.batch.len(), 2);
        let ms = Duration::from_millis;
        assert_eq!(
            part.pauses,
            LongestPauses { wall: ms(5), working: Duration::from_micros(2_500) }
        );
        // The checkpoint started when the earliest snapshot began, which
        // is not the first one delivered.
        assert_eq!(part.started_unix_ms, 900);
        assert!(coordinator.is_idle());
    }

    #[test]
    fn boundaries_complete_in_order_with_the_offsets_of_their_range() {
        let mut coordinator = Coordinator::<()>::new(0, 1);
        coordinator.add_positions(SourcePositions { after: 0, upto: 3, offsets: offsets(1) });
        coordinator.add_positions(SourcePositions { after: 3, upto: 9, offsets: offsets(2) });
        coordinator.add_positions(SourcePositions {
            after: 9,
            upto: u64::MAX,
            offsets: offsets(3),
        });
        for boundary in [3, 6, 9, 12] {
            coordinator.add_snapshot(0, snapshot(boundary, 0), || ());
        }
        let ready: Vec<_> = parts(coordinator.take_ready(|_| true))
            .into_iter()
            .map(|(part, ())| (part.boundary, part.offsets[0].next_offset))
            .collect();
        assert_eq!(ready, [(3, 1), (6, 2), (9, 2), (12, 3)]);
    }

    #[test]
    fn a_boundary_without_offsets_waits_while_the_source_may_still_send_them() {
        let mut coordinator = Coordinator::<()>::new(0, 1);
        coordinator.add_snapshot(0, snapshot(3, 0), || ());
        assert!(coordinator.take_ready(|_| false).is_empty());
        coordinator.add_positions(SourcePositions { after: 2, upto: 3, offsets: offsets(4) });
        assert_eq!(parts(coordinator.take_ready(|_| false)).len(), 1);
    }

    #[test]
    #[should_panic(expected = "no source offsets for checkpoint boundary 3")]
    fn a_boundary_without_offsets_after_the_source_passed_it_is_a_bug() {
        let mut coordinator = Coordinator::<()>::new(0, 1);
        coordinator.add_snapshot(0, snapshot(3, 0), || ());
        coordinator.take_ready(|_| true);
    }

    #[test]
    fn a_boundary_an_input_passed_without_delivering_is_abandoned() {
        let mut coordinator = Coordinator::<()>::new(0, 2);
        coordinator.add_snapshot(0, snapshot(3, 0), || ());
        coordinator.add_snapshot(0, snapshot(6, 0), || ());
        // Input 1 delivered nothing and finished at 5: 3 waits no longer.
        assert_eq!(coordinator.abandon(|input, b| input == 1 && b < 5), [3]);
        // Input 0's changes for 3 are committed all the same.
        assert_eq!(kinds(&coordinator.take_ready(|_| true)), ["commit 1"]);
        assert!(!coordinator.is_idle());
        assert_eq!(coordinator.abandon(|_, _| true), [6]);
        assert_eq!(kinds(&coordinator.take_ready(|_| true)), ["commit 1"]);
        assert!(coordinator.is_idle());
    }

    #[test]
    fn a_spill_goes_after_the_earlier_parts_and_before_its_own_boundary_part() {
        let mut coordinator = Coordinator::<u64>::new(0, 2);
        coordinator.add_positions(SourcePositions { after: 0, upto: 3, offsets: offsets(1) });
        coordinator.add_positions(SourcePositions { after: 3, upto: 6, offsets: offsets(2) });
        coordinator.add_snapshot(0, snapshot(3, 0), || 3);
        // Input 0 is ahead: it spills for 6 while 3 waits for input 1.
        coordinator.add_snapshot(0, spill(6, 2), || 6);
        assert!(coordinator.take_ready(|_| true).is_empty(), "the spill waits for part 3");
        coordinator.add_snapshot(1, snapshot(3, 0), || unreachable!("3 has its token"));
        coordinator.add_snapshot(1, spill(6, 5), || unreachable!("6 has its token"));
        assert_eq!(kinds(&coordinator.take_ready(|_| true)), ["part 3", "commit 2", "commit 5"]);
        coordinator.add_snapshot(1, snapshot(6, 0), || unreachable!("6 has its token"));
        coordinator.add_snapshot(0, spill(9, 1), || 9);
        coordinator.add_snapshot(0, snapshot(6, 0), || unreachable!("6 has its token"));
        let jobs = coordinator.take_ready(|_| true);
        assert_eq!(kinds(&jobs), ["part 6", "commit 1"]);
        let [PartWriterJob::Part(part, token), _] = &jobs[..] else { unreachable!() };
        assert_eq!((part.batch.len(), *token), (2, 6), "the spills are not in the part");
    }

    #[test]
    fn the_changes_of_an_abandoned_boundary_are_still_committed_in_order() {
        let mut coordinator = Coordinator::<()>::new(0, 2);
        coordinator.add_snapshot(0, spill(3, 2), || ());
        coordinator.add_snapshot(0, spill(6, 4), || ());
        assert_eq!(coordinator.abandon(|input, b| input == 1 && b < 5), [3]);
        // 3's spill, then what was delivered for it (nothing); with 3 gone,
        // nothing is before 6: its spill goes too.
        let jobs = coordinator.take_ready(|_| true);
        assert_eq!(kinds(&jobs), ["commit 2", "commit 0", "commit 4"]);
        assert!(!coordinator.is_idle(), "6 may still complete");
        coordinator.add_snapshot(0, spill(6, 1), || ());
        assert_eq!(coordinator.abandon(|_, _| true), [6]);
        assert_eq!(kinds(&coordinator.take_ready(|_| true)), ["commit 1", "commit 0"]);
        assert!(coordinator.is_idle());
    }
}
