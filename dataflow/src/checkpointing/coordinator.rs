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

#[derive(Debug)]
struct Pending<C> {
    delivered: Vec<bool>,
    batch: StateBatch,
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

    /// Snapshot stream `input`'s changes for a boundary; `token` is kept
    /// with the first snapshot of each boundary and handed back with it.
    pub fn add_snapshot(&mut self, input: usize, snapshot: Snapshot, token: impl FnOnce() -> C) {
        let Snapshot { boundary, batch, pauses, began_unix_ms, .. } = snapshot;
        tracing::debug!(
            worker = self.worker,
            input,
            boundary,
            began_unix_ms,
            took_ms = crate::checkpointing::unix_ms().saturating_sub(began_unix_ms),
            entries = batch.len(),
            "snapshot delivered"
        );
        let inputs = self.inputs;
        let pending = self.pending.entry(boundary).or_insert_with(|| Pending {
            delivered: vec![false; inputs],
            batch: StateBatch::new(),
            started_unix_ms: began_unix_ms,
            pauses: LongestPauses::default(),
            token: token(),
        });
        assert!(
            !std::mem::replace(&mut pending.delivered[input], true),
            "worker {}: snapshot stream {input} delivered boundary {boundary} twice",
            self.worker
        );
        pending.started_unix_ms = pending.started_unix_ms.min(began_unix_ms);
        pending.pauses.merge(pauses);
        pending.batch.append(batch);
    }

    /// Takes the boundaries every snapshot stream delivered, oldest first.
    ///
    /// `positions_settled(b)` tells whether the source's positions stream
    /// can no longer bring offsets for boundary `b` (its frontier reached
    /// `b`): a complete boundary whose offsets have not arrived waits until
    /// then. They always have, as the source emits them before its epoch
    /// passes the boundary, and the operators snapshot only after that.
    pub fn take_complete(
        &mut self,
        positions_settled: impl Fn(u64) -> bool,
    ) -> Vec<(ReadyPart, C)> {
        let mut ready = Vec::new();
        while let Some((&boundary, pending)) = self.pending.first_key_value() {
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
            ready.push((part, token));
        }
        ready
    }

    /// Drops the boundaries that can no longer complete: `passed(input,
    /// b)` tells whether snapshot stream `input` can no longer deliver
    /// boundary `b` (its frontier is beyond it), which happens when an
    /// operator's input ended before the boundary. Returns them.
    pub fn abandon(&mut self, passed: impl Fn(usize, u64) -> bool) -> Vec<u64> {
        let abandoned: Vec<u64> = self
            .pending
            .iter()
            .filter(|(b, p)| p.delivered.iter().enumerate().any(|(i, &d)| !d && passed(i, **b)))
            .map(|(b, _)| *b)
            .collect();
        for boundary in &abandoned {
            self.pending.remove(boundary);
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
        Snapshot { boundary, batch, pauses, stops: vec![pauses.working], began_unix_ms }
    }

    fn snapshot(boundary: u64, pause_ms: u64) -> Snapshot {
        snapshot_at(boundary, pause_ms, 1_000)
    }

    #[test]
    fn a_boundary_is_ready_once_every_input_delivered_it() {
        let mut coordinator = Coordinator::<u64>::new(0, 2);
        coordinator.add_positions(SourcePositions { after: 2, upto: 4, offsets: offsets(7) });
        coordinator.add_snapshot(0, snapshot_at(3, 1, 1_000), || 3);
        assert!(coordinator.take_complete(|_| true).is_empty());
        let second = snapshot_at(3, 5, 900);
        coordinator.add_snapshot(1, second, || unreachable!("one token per boundary"));
        let ready = coordinator.take_complete(|_| true);
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
        let ready: Vec<_> = coordinator
            .take_complete(|_| true)
            .into_iter()
            .map(|(part, ())| (part.boundary, part.offsets[0].next_offset))
            .collect();
        assert_eq!(ready, [(3, 1), (6, 2), (9, 2), (12, 3)]);
    }

    #[test]
    fn a_boundary_without_offsets_waits_while_the_source_may_still_send_them() {
        let mut coordinator = Coordinator::<()>::new(0, 1);
        coordinator.add_snapshot(0, snapshot(3, 0), || ());
        assert!(coordinator.take_complete(|_| false).is_empty());
        coordinator.add_positions(SourcePositions { after: 2, upto: 3, offsets: offsets(4) });
        assert_eq!(coordinator.take_complete(|_| false).len(), 1);
    }

    #[test]
    #[should_panic(expected = "no source offsets for checkpoint boundary 3")]
    fn a_boundary_without_offsets_after_the_source_passed_it_is_a_bug() {
        let mut coordinator = Coordinator::<()>::new(0, 1);
        coordinator.add_snapshot(0, snapshot(3, 0), || ());
        coordinator.take_complete(|_| true);
    }

    #[test]
    fn a_boundary_an_input_passed_without_delivering_is_abandoned() {
        let mut coordinator = Coordinator::<()>::new(0, 2);
        coordinator.add_snapshot(0, snapshot(3, 0), || ());
        coordinator.add_snapshot(0, snapshot(6, 0), || ());
        // Input 1 delivered nothing and finished at 5: 3 waits no longer.
        assert!(coordinator.abandon(|input, b| input == 1 && b < 5).contains(&3));
        assert!(!coordinator.is_idle());
        assert_eq!(coordinator.abandon(|_, _| true), [6]);
        assert!(coordinator.is_idle());
    }
}
