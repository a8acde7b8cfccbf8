//! Consistent checkpoints of the running job, and restoring from them.
//!
//! The protocol, in the order things happen:
//!
//! 1. Epoch numbers that are multiples of `every` (checkpoint interval ÷
//!    epoch length) are *boundaries*. A source crossing one emits its next
//!    offsets on its positions stream before downgrading its capabilities
//!    (`crate::source`).
//! 2. Each stateful operator, once its input frontier reaches the boundary
//!    and before applying anything later, begins a snapshot of its changes
//!    since the last boundary (O(1)); it encodes them a slice per
//!    activation while it goes on processing, copying an entry on write if
//!    it changes first, and emits the batch on its snapshot stream at the
//!    boundary's time (`crate::epochs`).
//! 3. The worker's checkpoint operator ([`checkpoint_flow`]) reads the
//!    positions and every snapshot stream. With every stream's changes for
//!    a boundary in ([`Coordinator`]), its [`PartWriter`] thread commits
//!    them and the offsets to the worker's store and takes a RocksDB
//!    checkpoint into `<dir>/pending-<boundary>/worker-<i>/`, then wakes
//!    the operator, which emits the part.
//! 4. Parts travel to worker 0, whose [`Sealer`] renames the directory to
//!    the next id and writes the manifest atomically: the checkpoint exists
//!    from that moment, and old ones are pruned.
//!
//! Everything between the operators travels in-band, as streams whose
//! frontiers say what can still come; no state is shared between them.
//!
//! At start, [`startup::prepare`] picks and verifies the checkpoint to
//! restore; each worker rebuilds its store from it (re-sharding by key group
//! if the worker count changed), rewrites Redis from the restored state, and
//! resumes every partition at the manifest's offset.

mod coordinator;
mod flow;
mod metrics;
mod part_writer;
pub mod pause;
mod sealer;
pub mod startup;

pub use coordinator::{Coordinator, ReadyPart, SourcePositions};
pub use flow::{CheckpointInputs, PartWriting, TakeOutputBarriers, checkpoint_flow};
pub use metrics::CheckpointMetrics;
pub use part_writer::{OutputBarriers, PartError, PartPhases, PartWriter, WorkerPart, unix_ms};
pub use sealer::{Sealer, SealerConfig};
pub use startup::{Startup, StartupError};

use std::time::Duration;

/// Epochs between checkpoint boundaries for an interval and epoch length.
#[must_use]
pub fn epochs_between(interval: Duration, epoch: Duration) -> u64 {
    let epochs = interval.as_millis() / epoch.as_millis().max(1);
    u64::try_from(epochs).unwrap_or(u64::MAX).max(1)
}
