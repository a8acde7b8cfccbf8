//! The checkpoint branch of the dataflow: each worker's written parts travel
//! to worker 0, which seals the checkpoints.
//!
//! ```text
//!   CheckpointParts (every worker) ──exchange(→ worker 0)──▶ Manifests (Sealer)
//! ```
//!
//! `CheckpointParts` has no input: it polls the worker's [`Coordinator`] for
//! finished parts and holds its capability until the coordinator is done
//! (every operator finished and every part reported), so the dataflow ends
//! only after the last part reached worker 0. Sealing counts parts rather
//! than watching frontiers, because a part is complete news on its own.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use timely::dataflow::Scope;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Operator;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use crate::checkpointing::coordinator::Coordinator;
use crate::checkpointing::part_writer::WorkerPart;
use crate::checkpointing::sealer::Sealer;

/// How often a worker looks for finished parts.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Builds the checkpoint branch; `sealer` is used on worker 0 only.
pub fn checkpoint_flow(
    scope: Scope<'_, u64>,
    coordinator: Rc<RefCell<Coordinator>>,
    mut sealer: Sealer,
) {
    let mut builder = OperatorBuilder::new("CheckpointParts".to_owned(), scope);
    let activator = scope.activator_for(builder.operator_info().address);
    let (output, parts) = builder.new_output::<Vec<WorkerPart>>();
    let mut output: OutputBuilder<
        u64,
        timely::container::CapacityContainerBuilder<Vec<WorkerPart>>,
    > = OutputBuilder::from(output);
    builder.build(move |mut capabilities| {
        let mut capability = capabilities.pop();
        move |_frontiers| {
            let Some(cap) = capability.as_ref() else { return };
            let finished = coordinator.borrow_mut().finished_parts();
            if !finished.is_empty() {
                let mut handle = output.activate();
                let mut session = handle.session(cap);
                for part in finished {
                    session.give(part);
                }
            }
            if coordinator.borrow().is_done() {
                capability = None;
            } else {
                activator.activate_after(POLL_INTERVAL);
            }
        }
    });
    parts.sink(Exchange::new(|_: &WorkerPart| 0), "Manifests", move |(input, _frontier)| {
        input.for_each(|_time, batch| {
            for part in batch.drain(..) {
                sealer.receive(part);
            }
        });
    });
}
