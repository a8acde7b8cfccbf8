//! Applying a stream to state epoch by epoch, and acting when an epoch ends.
//!
//! [`epoch_sink`] is the shape shared by the stateful operators: records of
//! the earliest unfinished epoch are applied as they arrive; records of later
//! epochs (from workers that are ahead) wait in a stash until their epoch is
//! the earliest. So when the frontier passes an epoch, the state holds
//! exactly the effects of that epoch and all before it, and
//! [`EpochState::complete`] writes them out. That invariant is what lets a
//! checkpoint at an epoch boundary pair state with source offsets exactly.

use std::collections::BTreeMap;

use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Operator;

/// State driven by [`epoch_sink`].
pub trait EpochState: 'static {
    /// The records the state consumes.
    type Record: timely::ExchangeData + Clone;

    /// Applies a batch of records of the current epoch (drain it; the
    /// container is reused).
    fn apply(&mut self, records: &mut Vec<Self::Record>);

    /// Every record of `epoch` and before has been applied: write out.
    fn complete(&mut self, epoch: u64);
}

/// Routes `stream` with `route` (the worker index of a record) into `state`.
pub fn epoch_sink<S, R>(stream: Stream<'_, u64, Vec<S::Record>>, name: &str, route: R, mut state: S)
where
    S: EpochState,
    R: Fn(&S::Record) -> u64 + 'static,
{
    let mut stash: BTreeMap<u64, Vec<Vec<S::Record>>> = BTreeMap::new();
    // The epoch whose records were applied but not yet completed.
    let mut open: Option<u64> = None;
    stream.sink(
        Exchange::new(move |record: &S::Record| route(record)),
        name,
        move |(input, frontier)| {
            input.for_each_stamp(|capability, batches| {
                // Sources always send under a capability, so every stamp has a least epoch.
                let Some(&epoch) = capability.least() else { return };
                // Apply now only records of the earliest unfinished epoch, and
                // only if no other epoch is applied but not yet completed.
                let earliest = !frontier.less_than(&epoch) && open.is_none_or(|e| e == epoch);
                if earliest {
                    for batch in batches {
                        state.apply(batch);
                    }
                    open = Some(epoch);
                } else {
                    stash.entry(epoch).or_default().extend(batches.map(std::mem::take));
                }
            });
            loop {
                if let Some(epoch) = open
                    && !frontier.less_equal(&epoch)
                {
                    state.complete(epoch);
                    open = None;
                }
                // Apply the stashed epoch that has become the earliest, if any.
                let Some(mut entry) = stash.first_entry() else { break };
                let epoch = *entry.key();
                if open.is_some() || frontier.less_than(&epoch) {
                    break;
                }
                for mut batch in entry.get_mut().drain(..) {
                    state.apply(&mut batch);
                }
                entry.remove();
                open = Some(epoch);
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use timely::dataflow::InputHandleVec;
    use timely::dataflow::operators::vec::Input;

    use super::*;

    /// Records (epoch, sum of values applied since the last completion).
    struct Summer {
        pending: u64,
        log: Rc<RefCell<Vec<(u64, u64)>>>,
    }

    impl EpochState for Summer {
        type Record = u64;
        fn apply(&mut self, records: &mut Vec<u64>) {
            self.pending += records.drain(..).sum::<u64>();
        }
        fn complete(&mut self, epoch: u64) {
            self.log.borrow_mut().push((epoch, std::mem::take(&mut self.pending)));
        }
    }

    #[test]
    fn each_epoch_completes_once_with_exactly_its_records() {
        let log = timely::execute_directly(move |worker| {
            let log = Rc::new(RefCell::new(Vec::new()));
            let seen = Rc::clone(&log);
            let mut input = InputHandleVec::<u64, u64>::new();
            worker.dataflow(|scope| {
                let stream = scope.input_from(&mut input);
                epoch_sink(stream, "Summer", |_| 0, Summer { pending: 0, log: Rc::clone(&seen) });
            });
            for epoch in 0..4_u64 {
                for v in 0..10 {
                    input.send(epoch * 100 + v);
                }
                input.advance_to(epoch + 1);
                for _ in 0..10 {
                    worker.step();
                }
            }
            drop(input);
            while worker.step() {}
            log.take()
        });
        let expected: Vec<(u64, u64)> =
            (0..4).map(|e| (e, (0..10).map(|v| e * 100 + v).sum())).collect();
        assert_eq!(log, expected);
    }
}
