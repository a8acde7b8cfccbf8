//! Rebuilding a worker's store from a checkpoint, with the same or a
//! different number of workers.
//!
//! With the worker count of the checkpoint, worker `i` gets a copy of part
//! `i` (SST files hard-linked, the small mutable files copied), which is
//! nearly free. With another count (rescaling), worker `i` owns the key groups
//! [`groups_for_worker`]`(i, workers)`; it reads exactly those groups from
//! every old part that held some of them (a range scan per family, since keys
//! are prefixed by their group) and writes them into a fresh store. Worker-
//! level metadata stays with worker 0. Source offsets are not copied: they
//! come from the manifest, which has every partition's.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use crate::checkpoint::error::CheckpointError;
use crate::checkpoint::manifest::Manifest;
use crate::keygroup::{KEY_GROUPS, groups_for_worker};
use crate::store::StateStore;
use crate::store::batch::StateBatch;
use crate::store::family::Family;
use crate::store::options::StoreOptions;

/// Entries per write batch while re-sharding (bounds memory).
const ENTRIES_PER_BATCH: usize = 100_000;

/// Builds worker `worker`'s store (of `workers`) in `target` (replaced if it
/// exists) from checkpoint `manifest` found in `checkpoint`.
pub fn restore_store(
    checkpoint: &Path,
    manifest: &Manifest,
    worker: usize,
    workers: usize,
    target: &Path,
    options: &StoreOptions,
) -> Result<StateStore, CheckpointError> {
    if target.exists() {
        std::fs::remove_dir_all(target).map_err(CheckpointError::io(target))?;
    }
    if manifest.workers == workers {
        link_or_copy_dir(&checkpoint.join(format!("worker-{worker}")), target)?;
        return Ok(StateStore::open(target, options)?);
    }
    let store = StateStore::open(target, options)?;
    for old in 0..manifest.workers {
        let overlap = overlap(worker, workers, old, manifest.workers);
        let keeps_meta = worker == 0 && old == 0;
        if overlap.is_empty() && !keeps_meta {
            continue;
        }
        let part = StateStore::open_read_only(&checkpoint.join(format!("worker-{old}")))?;
        let mut batch = StateBatch::new();
        for family in Family::ALL {
            let groups = match family {
                Family::Meta if keeps_meta => 0..KEY_GROUPS,
                _ if family.is_keyed() => overlap.clone(),
                _ => continue,
            };
            for entry in part.scan(family, groups) {
                let (group, key, value) = entry?;
                batch.put_in_group(family, group, &key, &value);
                if batch.len() >= ENTRIES_PER_BATCH {
                    store.commit(std::mem::take(&mut batch))?;
                }
            }
        }
        store.commit(batch)?;
    }
    Ok(store)
}

/// The key groups worker `worker` (of `workers`) takes from part `old` of
/// a checkpoint of `old_workers` workers.
fn overlap(worker: usize, workers: usize, old: usize, old_workers: usize) -> Range<u16> {
    let mine = groups_for_worker(worker, workers);
    let theirs = groups_for_worker(old, old_workers);
    mine.start.max(theirs.start)..mine.end.min(theirs.end)
}

/// The parts of `manifest` that workers `workers` (of `peers` in the job)
/// read when they restore it: a process fetches only these.
#[must_use]
pub fn parts_to_restore(
    manifest: &Manifest,
    workers: Range<usize>,
    peers: usize,
) -> BTreeSet<usize> {
    if manifest.workers == peers {
        return workers.collect();
    }
    let mut parts = BTreeSet::new();
    for worker in workers {
        for old in 0..manifest.workers {
            if !overlap(worker, peers, old, manifest.workers).is_empty()
                || (worker == 0 && old == 0)
            {
                parts.insert(old);
            }
        }
    }
    parts
}

/// Copies directory `from` to `to`, hard-linking SST files (immutable in
/// RocksDB) and copying the rest.
fn link_or_copy_dir(from: &Path, to: &Path) -> Result<(), CheckpointError> {
    std::fs::create_dir_all(to).map_err(CheckpointError::io(to))?;
    for entry in std::fs::read_dir(from).map_err(CheckpointError::io(from))? {
        let entry = entry.map_err(CheckpointError::io(from))?;
        let source = entry.path();
        let dest = to.join(entry.file_name());
        let is_sst = source.extension().is_some_and(|e| e == "sst");
        if !(is_sst && std::fs::hard_link(&source, &dest).is_ok()) {
            std::fs::copy(&source, &dest).map_err(CheckpointError::io(&source))?;
        }
    }
    Ok(())
}
