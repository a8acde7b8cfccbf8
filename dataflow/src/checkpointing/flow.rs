//! The checkpoint branch of the dataflow: every worker's checkpoint operator
//! gathers its snapshots and offsets in-band and writes its part; the parts
//! travel to worker 0, which seals the checkpoints.
//!
//! ```text
//!   source positions ──┐
//!   Profiles snapshots ─┼─▶ CheckpointParts (every worker) ──exchange(→ worker 0)──▶ Manifests (Sealer)
//!   … snapshots ───────┘         │  ▲
//!                                ▼  │ wakes the operator
//!                            PartWriter thread
//! ```
//!
//! `CheckpointParts` holds, per boundary, the capability of the first
//! snapshot that arrived for it until the part is written, and emits the
//! part under it: so the dataflow ends only after the last part reached
//! worker 0. The part writer's thread wakes the operator when a part is
//! written; nothing is polled. Sealing counts parts (one per worker), since
//! a part is complete news on its own.

use std::sync::Arc;

use state::{CheckpointStore, PartCache, StateStore};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::{Capability, Operator};
use timely::dataflow::{Scope, Stream};

use crate::checkpointing::coordinator::{Coordinator, PartWriterJob, SourcePositions};
use crate::checkpointing::part_writer::{OutputBarriers, PartJob, PartWriter, WorkerPart};
use crate::checkpointing::sealer::Sealer;
use crate::epochs::Snapshot;
use crate::metrics::JobMetrics;

/// Takes barriers in the worker's output streams (its Redis writer's queue
/// and its Kafka producers), to wait on before a part is reported.
pub type TakeOutputBarriers = Box<dyn Fn() -> OutputBarriers>;

/// What one worker's checkpoint operator reads.
#[derive(Debug)]
pub struct CheckpointInputs<'scope> {
    /// The source's offsets at boundaries.
    pub positions: Stream<'scope, u64, Vec<SourcePositions>>,
    /// The snapshot stream of every stateful operator of the worker.
    pub snapshots: Vec<Stream<'scope, u64, Vec<Snapshot>>>,
}

/// Where and how one worker writes its parts.
#[allow(missing_debug_implementations, reason = "holds a closure")]
pub struct PartWriting {
    /// The worker's store, which parts are checkpoints of.
    pub store: Arc<StateStore>,
    /// Where checkpoints are kept.
    pub dir: Arc<dyn CheckpointStore>,
    /// What the worker's part writer knows at start (see [`PartCache`]).
    pub cache: PartCache,
    /// The barriers on the worker's outputs.
    pub output_barriers: TakeOutputBarriers,
    /// The job's metrics.
    pub metrics: Arc<JobMetrics>,
}

/// Builds the checkpoint branch; `sealer` is used on worker 0 only.
///
/// # Errors
/// The part writer's thread could not be started.
pub fn checkpoint_flow(
    scope: Scope<'_, u64>,
    inputs: CheckpointInputs<'_>,
    writing: PartWriting,
    mut sealer: Sealer,
) -> std::io::Result<()> {
    let worker = scope.index();
    let mut builder = OperatorBuilder::new("CheckpointParts".to_owned(), scope);
    let address = builder.operator_info().address;
    let mut positions_input = builder.new_input(inputs.positions, Pipeline);
    let mut snapshot_inputs: Vec<_> =
        inputs.snapshots.into_iter().map(|stream| builder.new_input(stream, Pipeline)).collect();
    let (output, parts) = builder.new_output::<Vec<WorkerPart>>();
    let mut output: OutputBuilder<u64, CapacityContainerBuilder<Vec<WorkerPart>>> =
        OutputBuilder::from(output);
    let activator = scope.worker().sync_activator_for(address.to_vec());
    let PartWriting { store, dir, cache, output_barriers, metrics } = writing;
    let wake = Box::new(move || {
        // The worker is gone only when the job ends.
        let _ = activator.activate();
    });
    let mut writer = PartWriter::start(worker, store, (dir, cache), wake)?;
    let mut coordinator = Coordinator::<Capability<u64>>::new(worker, snapshot_inputs.len());
    let mut in_flight: Vec<Capability<u64>> = Vec::new();

    builder.build(move |capabilities| {
        drop(capabilities);
        move |frontiers| {
            positions_input.for_each(|_, batch| {
                for positions in batch.drain(..) {
                    coordinator.add_positions(positions);
                }
            });
            for (index, input) in snapshot_inputs.iter_mut().enumerate() {
                input.for_each(|capability, batch| {
                    for snapshot in batch.drain(..) {
                        if snapshot.spill {
                            metrics.checkpoint.spills.inc();
                        }
                        metrics.checkpoint.observe_pauses(snapshot.pauses);
                        metrics.checkpoint.observe_stops(&snapshot.stops);
                        coordinator.add_snapshot(index, snapshot, || {
                            capability.retain_least(0).expect("a snapshot has a time")
                        });
                    }
                });
            }
            let (positions_frontier, snapshot_frontiers) = frontiers.split_first().expect("inputs");
            let settled = |boundary| !positions_frontier.less_than(&boundary);
            for boundary in coordinator.abandon(|i, b| !snapshot_frontiers[i].less_equal(&b)) {
                tracing::debug!(worker, boundary, "input ended before the boundary: no part");
            }
            for job in coordinator.take_ready(settled) {
                match job {
                    PartWriterJob::Commit(batch) => writer.commit(batch),
                    PartWriterJob::Part(part, capability) => {
                        writer.submit(PartJob::new(part, output_barriers()));
                        in_flight.push(capability);
                    }
                }
            }
            for part in writer.finished() {
                let index = in_flight.iter().position(|cap| *cap.time() == part.boundary);
                let capability = in_flight.swap_remove(index.expect("a submitted boundary"));
                output.activate().session(&capability).give(part);
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
    Ok(())
}
