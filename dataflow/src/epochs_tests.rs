//! Unit tests of `epoch_sink`, on a single timely worker.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use timely::dataflow::InputHandleVec;
use timely::dataflow::operators::Inspect;
use timely::dataflow::operators::vec::Input;

use super::*;

/// Records (epoch, sum of values applied since the last completion), and
/// keeps the running total of everything applied in `total`. Writes
/// (sums of completed epochs not yet written) go to `written`, only when
/// forced unless `writer_ready`.
struct Summer {
    pending: u64,
    unwritten: u64,
    snapshot: Option<StateBatch>,
    writer_ready: bool,
    total: Rc<Cell<u64>>,
    /// The total when the last snapshot began.
    snapshot_total: Rc<Cell<u64>>,
    log: Rc<RefCell<Vec<(u64, u64)>>>,
    written: Rc<RefCell<Vec<u64>>>,
}

impl EpochState for Summer {
    type Record = u64;
    type Output = u64;
    fn apply(&mut self, records: &mut Vec<u64>, out: &mut Vec<u64>) {
        out.extend(records.iter().map(|r| r * 2));
        let sum = records.drain(..).sum::<u64>();
        self.pending += sum;
        self.total.set(self.total.get() + sum);
    }
    fn complete(&mut self, epoch: u64) {
        self.unwritten += self.pending;
        self.log.borrow_mut().push((epoch, std::mem::take(&mut self.pending)));
    }
    fn write_out(&mut self, when: WriteOut) {
        if self.unwritten > 0 && (when == WriteOut::Now || self.writer_ready) {
            self.written.borrow_mut().push(std::mem::take(&mut self.unwritten));
        }
    }
    fn begin_snapshot(&mut self) {
        assert_eq!(self.unwritten, 0, "a snapshot before its outputs were written");
        let mut batch = StateBatch::new();
        batch.put(state::Family::Meta, b"total", &self.total.get().to_be_bytes());
        self.snapshot = Some(batch);
        self.snapshot_total.set(self.total.get());
    }
    fn continue_snapshot(&mut self, _work: usize) -> Option<StateBatch> {
        self.snapshot.take()
    }
}

/// What a run observed.
struct Observed {
    /// Completions: (epoch, sum of its values).
    log: Vec<(u64, u64)>,
    /// Snapshots: (boundary, running total).
    snaps: Vec<(u64, u64)>,
    /// Whether the operator reported its end.
    finished: bool,
    /// The sums each write carried.
    written: Vec<u64>,
    /// Outputs by the epoch they were emitted in: (epoch, sum).
    emitted: BTreeMap<u64, u64>,
}

/// Sends ten values at each of `epochs` (in order), stepping in between.
fn run(epochs: &'static [u64], every: u64, writer_ready: bool) -> Observed {
    timely::execute_directly(move |worker| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let snaps = Rc::new(RefCell::new(Vec::new()));
        let written = Rc::new(RefCell::new(Vec::new()));
        let finished = Rc::new(Cell::new(false));
        let total = Rc::new(Cell::new(0));
        let emitted = Rc::new(RefCell::new(BTreeMap::new()));
        let mut input = InputHandleVec::<u64, u64>::new();
        worker.dataflow(|scope| {
            let stream = scope.input_from(&mut input);
            let snapshot_total = Rc::new(Cell::new(0));
            let (seen_total, seen_snaps) = (Rc::clone(&snapshot_total), Rc::clone(&snaps));
            let summer = Summer {
                pending: 0,
                unwritten: 0,
                snapshot: None,
                writer_ready,
                total: Rc::clone(&total),
                snapshot_total,
                log: Rc::clone(&log),
                written: Rc::clone(&written),
            };
            let seen_emitted = Rc::clone(&emitted);
            let streams = epoch_sink(stream, "Summer", |_| 0, summer, Some(every));
            streams.output.inspect_core(move |event| {
                if let Ok((stamp, data)) = event {
                    let epoch = *stamp.least().unwrap();
                    *seen_emitted.borrow_mut().entry(epoch).or_default() +=
                        data.iter().sum::<u64>();
                }
            });
            // A snapshot arrives at its boundary's time; its frontier
            // empties once the operator takes no more snapshots.
            let seen_finish = Rc::clone(&finished);
            streams.snapshots.inspect_core(move |event| match event {
                Ok((stamp, snapshots)) => {
                    for snapshot in snapshots {
                        assert_eq!(snapshot.batch.len(), 1);
                        assert_eq!(stamp.least(), Some(&snapshot.boundary));
                        seen_snaps.borrow_mut().push((snapshot.boundary, seen_total.get()));
                    }
                }
                Err(frontier) => seen_finish.set(frontier.is_empty()),
            });
        });
        for &epoch in epochs {
            input.advance_to(epoch);
            for v in 0..10 {
                input.send(epoch * 100 + v);
            }
            for _ in 0..10 {
                worker.step();
            }
        }
        drop(input);
        while worker.step() {}
        Observed {
            log: log.take(),
            snaps: snaps.take(),
            finished: finished.get(),
            written: written.take(),
            emitted: emitted.take(),
        }
    })
}

fn sum_of(epoch: u64) -> u64 {
    (0..10).map(|v| epoch * 100 + v).sum()
}

#[test]
fn each_epoch_completes_once_with_exactly_its_records() {
    let observed = run(&[0, 1, 2, 3], 100, true);
    let expected: Vec<(u64, u64)> = (0..4).map(|e| (e, sum_of(e))).collect();
    assert_eq!(observed.log, expected);
    assert!(observed.finished);
    // A ready writer gets each epoch as soon as it completes.
    assert_eq!(observed.written, expected.iter().map(|&(_, sum)| sum).collect::<Vec<_>>());
    // Each epoch's outputs are emitted in that epoch.
    let doubled: BTreeMap<u64, u64> = (0..4).map(|e| (e, 2 * sum_of(e))).collect();
    assert_eq!(observed.emitted, doubled);
}

#[test]
fn snapshots_hold_exactly_the_epochs_before_their_boundary() {
    let observed = run(&[0, 1, 2, 3, 4, 5, 6, 7], 3, true);
    let upto = |b: u64| (0..b).map(sum_of).sum::<u64>();
    assert_eq!(observed.snaps, [(3, upto(3)), (6, upto(6))]);
}

#[test]
fn a_jump_over_several_boundaries_snapshots_each_of_them() {
    let observed = run(&[1, 8, 9], 3, true);
    assert_eq!(observed.snaps, [(3, sum_of(1)), (6, sum_of(1)), (9, sum_of(1) + sum_of(8))]);
    assert_eq!(observed.log, [(1, sum_of(1)), (8, sum_of(8)), (9, sum_of(9))]);
}

#[test]
fn a_busy_writer_gets_epochs_coalesced_and_everything_before_each_snapshot() {
    let observed = run(&[0, 1, 2, 3, 4, 5, 6, 7], 3, false);
    let sums = |epochs: std::ops::Range<u64>| epochs.map(sum_of).sum::<u64>();
    // Summer::snapshot asserts nothing is unwritten; writes happen only
    // before the snapshots at 3 and 6, and at the end.
    assert_eq!(observed.written, [sums(0..3), sums(3..6), sums(6..8)]);
    assert_eq!(observed.snaps.len(), 2);
    assert!(observed.finished);
}
