//! Each worker's RocksDB store: how `--state-memory` is shared out among
//! its caches and RocksDB, and opening the store restored from the
//! checkpoint or empty.

use state::{CheckpointError, StateStore, StoreOptions, restore_store};

use super::Startup;
use crate::config::JobConfig;

/// How one worker's share of `--state-memory` is spent: 3/8 on cached
/// profiles, 3/8 on cached visitor sets, the rest on RocksDB's block cache
/// and memtables.
#[derive(Debug)]
pub(super) struct MemoryShares {
    pub(super) profiles: usize,
    pub(super) visitors: usize,
    pub(super) store: StoreOptions,
}

impl MemoryShares {
    pub(super) fn of(worker_bytes: usize) -> Self {
        Self {
            profiles: worker_bytes / 8 * 3,
            visitors: worker_bytes / 8 * 3,
            store: StoreOptions::within_memory(worker_bytes / 4),
        }
    }
}

/// This worker's store: rebuilt from the checkpoint being restored, or empty.
/// The state directory is scratch space; checkpoints are the durable copy.
pub(super) fn open_store(
    config: &JobConfig,
    startup: &Startup,
    index: usize,
    peers: usize,
    options: &StoreOptions,
) -> Result<StateStore, CheckpointError> {
    let store_dir = config.state_dir.join(format!("worker-{index}"));
    if let (Some(manifest), Some(copy)) = (&startup.restored, &startup.restored_copy) {
        return restore_store(copy.path(), manifest, index, peers, &store_dir, options);
    }
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir)
            .map_err(|source| CheckpointError::Io { path: store_dir.clone(), source })?;
    }
    Ok(StateStore::open(&store_dir, options)?)
}
