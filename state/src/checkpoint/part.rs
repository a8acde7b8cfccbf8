//! One worker's part of a checkpoint: a RocksDB checkpoint of its store.
//!
//! RocksDB checkpoints flush the memtables and hard-link the (immutable) SST
//! files, so taking one costs a flush, not a copy of the state. The part is
//! written into the pending directory of its boundary; the worker then
//! reports its files' digests, and worker 0 seals the whole checkpoint with a
//! manifest once every part exists (see `dir.rs`).

use std::path::Path;
use std::time::Instant;

use rocksdb::checkpoint::Checkpoint;

use crate::checkpoint::checksum::{DigestCache, FileDigest};
use crate::checkpoint::error::CheckpointError;
use crate::error::StateError;
use crate::store::StateStore;

/// Writes `store` as part `worker` under `pending` (`pending/worker-<i>/`)
/// and returns the digests of its files.
pub fn write_part(
    store: &StateStore,
    pending: &Path,
    worker: usize,
    digests: &mut DigestCache,
) -> Result<Vec<FileDigest>, CheckpointError> {
    let name = format!("worker-{worker}");
    let dir = pending.join(&name);
    std::fs::create_dir_all(pending).map_err(CheckpointError::io(pending))?;
    if dir.exists() {
        // Left by an earlier attempt at the same boundary: RocksDB needs a
        // fresh directory.
        std::fs::remove_dir_all(&dir).map_err(CheckpointError::io(&dir))?;
    }
    let rocks = |source| StateError::Rocks { op: "checkpoint", path: dir.clone(), source };
    let started = Instant::now();
    Checkpoint::new(store.db()).and_then(|c| c.create_checkpoint(&dir)).map_err(rocks)?;
    let linked = started.elapsed();
    let hashed_before = digests.hashed_bytes();
    let files = digests.digest_dir(&dir, &name).map_err(CheckpointError::io(&dir))?;
    tracing::debug!(
        worker,
        rocksdb_checkpoint_ms = linked.as_millis(),
        digest_ms = (started.elapsed() - linked).as_millis(),
        hashed_bytes = digests.hashed_bytes() - hashed_before,
        files = files.len(),
        "part files written"
    );
    Ok(files)
}
