//! Back-pressure for the sources: how far the dataflow's reading may run
//! ahead of its processing, measured in epochs, in-band.
//!
//! Two probes tell it: one on the sources' output (the earliest epoch any
//! source may still emit, over every worker) and one on the stateful
//! operators' outputs (the earliest epoch not finished). A source reads
//! nothing while the second lags the first by more than `epochs`, so a
//! backlog waits in Kafka instead of in the operators' stashes and channels.
//!
//! Both sides are frontiers over all workers, so the comparison holds
//! whatever the skew of the workers' epoch clocks (each worker counts
//! epochs from when it built the dataflow, and after a restore one can
//! start a second later than another: compared with its own clock, a worker
//! ahead would find the dataflow behind for good).

use timely::dataflow::ProbeHandle;

/// The two frontiers and the allowed distance between them.
#[derive(Debug, Clone)]
pub struct ReadAhead {
    read: ProbeHandle<u64>,
    processed: ProbeHandle<u64>,
    epochs: u64,
}

impl ReadAhead {
    /// Sources may read while the processed frontier is at most `epochs`
    /// behind the read frontier. Attach [`read`](Self::read) to the
    /// sources' outputs and [`processed`](Self::processed) to the stateful
    /// operators' outputs.
    #[must_use]
    pub fn new(epochs: u64) -> Self {
        Self { read: ProbeHandle::new(), processed: ProbeHandle::new(), epochs }
    }

    /// The probe for the sources' outputs.
    #[must_use]
    pub fn read(&self) -> &ProbeHandle<u64> {
        &self.read
    }

    /// The probe for the stateful operators' outputs.
    #[must_use]
    pub fn processed(&self) -> &ProbeHandle<u64> {
        &self.processed
    }

    /// Whether the processing lags the reading by more than the allowed
    /// epochs (sources that finished no longer count).
    #[must_use]
    pub fn behind(&self) -> bool {
        let Some(read) = self.read.with_frontier(|frontier| frontier.iter().min().copied()) else {
            return false;
        };
        self.processed.less_than(&read.saturating_sub(self.epochs))
    }
}

#[cfg(test)]
mod tests {
    use timely::container::CapacityContainerBuilder;
    use timely::dataflow::InputHandle;
    use timely::dataflow::operators::{Input, Probe};

    use super::*;

    /// A source input, an operator whose output is only released when the
    /// test says so (it holds its epochs as unfinished work), and the
    /// read-ahead between them.
    #[test]
    fn behind_only_when_processing_lags_reading_by_more_than_the_allowed_epochs() {
        timely::execute_directly(|worker| {
            let read_ahead = ReadAhead::new(2);
            let mut input = InputHandle::<u64, CapacityContainerBuilder<Vec<u64>>>::new();
            let mut processing = InputHandle::<u64, CapacityContainerBuilder<Vec<u64>>>::new();
            worker.dataflow::<u64, _, _>(|scope| {
                let _ = scope.input_from(&mut input).probe_with(read_ahead.read());
                let _ = scope.input_from(&mut processing).probe_with(read_ahead.processed());
            });
            let mut step_to = |read: u64, done: Option<u64>| {
                input.advance_to(read);
                if let Some(done) = done {
                    processing.advance_to(done);
                }
                for _ in 0..10 {
                    worker.step();
                }
                read_ahead.behind()
            };
            assert!(!step_to(3, Some(3)), "level");
            assert!(!step_to(5, Some(3)), "two epochs behind are allowed");
            assert!(step_to(6, Some(3)), "three epochs behind are too many");
            assert!(!step_to(6, Some(4)), "caught up to two");
            input.close();
            for _ in 0..10 {
                worker.step();
            }
            assert!(!read_ahead.behind(), "finished sources hold nothing back");
        });
    }
}
