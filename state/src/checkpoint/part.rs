//! One worker's part of a checkpoint: a RocksDB checkpoint of its store.
//!
//! The memtables are flushed first (and waited for, see
//! `StateStore::flush_memtables`), then a RocksDB checkpoint hard-links the
//! (immutable) SST files, so taking one costs a flush, not a copy of the
//! state. The part is written into the pending directory of its boundary;
//! the worker then reports its files' digests, and worker 0 seals the whole
//! checkpoint with a manifest once every part exists (see `dir.rs`).

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
    // RocksDB's checkpoint flushes the memtables too, but may not wait for
    // a flush it began by itself (see `StateStore::flush_memtables`).
    store.flush_memtables()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keygroup::KEY_GROUPS;
    use crate::store::batch::StateBatch;
    use crate::store::family::Family;
    use crate::store::options::StoreOptions;

    /// Entries of every keyed family of `store`.
    fn entries(store: &StateStore) -> Vec<usize> {
        Family::ALL
            .into_iter()
            .filter(|family| family.is_keyed())
            .map(|family| store.scan(family, 0..KEY_GROUPS).count())
            .collect()
    }

    /// Whether RocksDB switched `family`'s memtable since its last flush.
    fn switched(store: &StateStore, family: Family) -> bool {
        let cf = store.db().cf_handle(family.name()).unwrap();
        let immutable = store.db().property_int_value_cf(&cf, "rocksdb.num-immutable-mem-table");
        immutable.unwrap().unwrap_or(0) > 0
    }

    #[test]
    fn a_part_holds_every_commit_even_while_a_filled_memtable_is_being_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions { write_buffer_bytes: 8 << 20, ..StoreOptions::default() };
        let store = StateStore::open(&dir.path().join("store"), &options).unwrap();
        let mut digests = DigestCache::default();
        // Incompressible values, so that flushing them takes a while.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let value: Vec<u8> = (0..1000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed.to_le_bytes()[0]
            })
            .collect();
        let mut key = 0_u32;
        for round in 0..12 {
            // Every memtable empty; then two families filled a few entries
            // at a time, each commit followed by an empty write, until such
            // a write finds their memtables full: RocksDB switches them
            // (their new memtables stay empty) and flushes them in the
            // background, while other families get a commit and the part is
            // taken. That is how a part once lacked a commit's profiles and
            // user names (see `StateStore::flush_memtables`); this test did
            // not make RocksDB lose them here, but holds the part to it.
            store.flush_memtables().unwrap();
            let mut no_log = rocksdb::WriteOptions::default();
            no_log.disable_wal(true);
            while !switched(&store, Family::Profiles) {
                let mut filling = StateBatch::new();
                for _ in 0..3 {
                    key += 1;
                    let mut unique = value.clone();
                    unique[..4].copy_from_slice(&key.to_be_bytes());
                    filling.put(Family::Profiles, &key.to_be_bytes(), &unique);
                    filling.put(Family::UserNames, &key.to_be_bytes(), &unique[..24]);
                }
                store.commit(filling).unwrap();
                // A write switches the memtables found full by an earlier
                // one: an empty one switches only those.
                store.db().write_opt(rocksdb::WriteBatch::default(), &no_log).unwrap();
            }
            let mut others = StateBatch::new();
            for family in [Family::VisitorSets, Family::TagWeights, Family::RecentEvents] {
                others.put(family, &key.to_be_bytes(), b"x");
            }
            store.commit(others).unwrap();
            let pending = dir.path().join(format!("pending-{round}"));
            write_part(&store, &pending, 0, &mut digests).unwrap();
            let part = StateStore::open_read_only(&pending.join("worker-0")).unwrap();
            assert_eq!(entries(&part), entries(&store), "round {round}");
        }
    }
}
