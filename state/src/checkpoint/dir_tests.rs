//! Tests of the checkpoint life cycle with real RocksDB stores: write parts,
//! seal, find the newest intact one, restore with more or fewer workers.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::checkpoint::checksum::DigestCache;
use crate::checkpoint::manifest::{FORMAT_VERSION, PartitionOffset};
use crate::checkpoint::part::write_part;
use crate::checkpoint::restore::restore_store;
use crate::keygroup::{KEY_GROUPS, groups_for_worker, worker_for_group, worker_for_key};
use crate::store::StateStore;
use crate::store::batch::StateBatch;
use crate::store::family::Family;
use crate::store::options::StoreOptions;

const USERS: usize = 3_000;

fn user(i: usize) -> String {
    format!("user-{i}")
}

/// Takes a checkpoint of `workers` stores holding users `0..USERS` with value
/// `round`, sharded by key, and returns its manifest.
fn take_checkpoint(dir: &CheckpointDir, stores: &[StateStore], boundary: u64, round: u8) -> u64 {
    let workers = stores.len();
    let mut files = Vec::new();
    for (worker, store) in stores.iter().enumerate() {
        let mut batch = StateBatch::new();
        for i in (0..USERS).filter(|&i| worker_for_key(user(i).as_bytes(), workers) == worker) {
            batch.put(Family::Profiles, user(i).as_bytes(), &[round]);
        }
        // Entries stored in a group chosen by their owner, not by their hash.
        for group in groups_for_worker(worker, workers) {
            batch.put_in_group(Family::UserNames, group, &u32::from(group).to_be_bytes(), &[round]);
        }
        if worker == 0 {
            batch.put(Family::Meta, b"recent", &[round]);
        }
        batch.set_offset("events", i32::try_from(worker).unwrap(), i64::from(round));
        store.commit(batch).unwrap();
        let mut cache = DigestCache::default();
        files.extend(write_part(store, &dir.pending_path(boundary), worker, &mut cache).unwrap());
    }
    let id = dir.next_id().unwrap();
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        id,
        lineage: "test".into(),
        epoch: boundary,
        workers,
        key_groups: KEY_GROUPS,
        created_unix_ms: 0,
        offsets: (0..workers)
            .map(|w| PartitionOffset {
                topic: "events".into(),
                partition: i32::try_from(w).unwrap(),
                next_offset: i64::from(round),
            })
            .collect(),
        files,
        settings: std::collections::BTreeMap::new(),
        checksum: String::new(),
    };
    dir.complete(boundary, &mut manifest).unwrap();
    id
}

fn open_stores(root: &Path, workers: usize) -> Vec<StateStore> {
    (0..workers)
        .map(|w| StateStore::open(&root.join(format!("w{w}")), &StoreOptions::default()).unwrap())
        .collect()
}

/// Every (user → value) across `stores`, asserting each user is on its worker.
fn contents(stores: &[StateStore]) -> BTreeMap<String, u8> {
    let mut all = BTreeMap::new();
    for (worker, store) in stores.iter().enumerate() {
        for entry in store.scan(Family::Profiles, 0..KEY_GROUPS) {
            let (_, key, value) = entry.unwrap();
            let key = String::from_utf8(key).unwrap();
            assert_eq!(worker_for_key(key.as_bytes(), stores.len()), worker, "{key} misplaced");
            assert!(all.insert(key, value[0]).is_none(), "duplicate key");
        }
    }
    all
}

#[test]
fn checkpoints_restore_exactly_with_any_worker_count() {
    let temp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(temp.path().join("checkpoints"));
    let stores = open_stores(&temp.path().join("live"), 3);
    assert_eq!(take_checkpoint(&dir, &stores, 50, 1), 1);
    assert_eq!(take_checkpoint(&dir, &stores, 100, 2), 2);

    let (manifest, rejected) = dir.latest_intact().unwrap().unwrap();
    assert_eq!((manifest.id, manifest.epoch, rejected.len()), (2, 100, 0));
    assert_eq!(manifest.offsets_map().len(), 3);

    for workers in [1, 3, 6] {
        let target = temp.path().join(format!("restored-{workers}"));
        let restored: Vec<StateStore> = (0..workers)
            .map(|w| {
                let path = target.join(format!("w{w}"));
                let checkpoint = dir.path_of(manifest.id);
                restore_store(&checkpoint, &manifest, w, workers, &path, &StoreOptions::default())
                    .unwrap()
            })
            .collect();
        let all = contents(&restored);
        assert_eq!(all.len(), USERS, "{workers} workers");
        assert!(all.values().all(|&v| v == 2), "{workers} workers restored an old value");
        assert_eq!(restored[0].get(Family::Meta, b"recent").unwrap(), Some(vec![2]));
        for group in 0..KEY_GROUPS {
            let owner = &restored[worker_for_group(group, workers)];
            let key = u32::from(group).to_be_bytes();
            let value = owner.get_in_group(Family::UserNames, group, &key, <[u8]>::to_vec);
            assert_eq!(value.unwrap(), Some(vec![2]), "group {group}, {workers} workers");
        }
    }
}

#[test]
fn damaged_newest_falls_back_and_incomplete_ones_are_removed() {
    let temp = tempfile::tempdir().unwrap();
    let dir = CheckpointDir::new(temp.path().join("checkpoints"));
    let stores = open_stores(&temp.path().join("live"), 2);
    take_checkpoint(&dir, &stores, 50, 1);
    take_checkpoint(&dir, &stores, 100, 2);

    // Truncate an SST of the newest checkpoint that the older one does not
    // share (SSTs are hard links: damaging a shared one damages both).
    let older = dir.manifest(1).unwrap();
    let newest = dir.manifest(2).unwrap();
    let file =
        newest.files.iter().find(|f| f.path.ends_with(".sst") && !older.files.contains(f)).unwrap();
    let victim = dir.path_of(2).join(&file.path);
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();

    let err = dir.verified(2).unwrap_err().to_string();
    assert!(err.contains("checkpoint 2") && err.contains("truncated"), "{err}");
    let (manifest, rejected) = dir.latest_intact().unwrap().unwrap();
    assert_eq!(manifest.id, 1);
    assert_eq!(rejected.len(), 1);

    // A crash mid-checkpoint leaves a pending part and an unsealed id.
    std::fs::create_dir_all(dir.pending_path(150).join("worker-0")).unwrap();
    std::fs::create_dir_all(dir.path_of(3).join("worker-0")).unwrap();
    let removed = dir.remove_incomplete().unwrap();
    assert_eq!(removed.len(), 2);
    assert_eq!(dir.ids().unwrap(), [1, 2]);
    assert_eq!(dir.next_id().unwrap(), 3);

    // Every checkpoint damaged: an error, never a silent empty start.
    std::fs::remove_file(dir.path_of(1).join(&older.files[0].path)).unwrap();
    let err = dir.latest_intact().unwrap_err().to_string();
    assert!(err.contains("no intact checkpoint"), "{err}");

    assert!(matches!(dir.verified(9), Err(CheckpointError::NotFound { id: 9, .. })));
    assert_eq!(dir.retain_newest(1).unwrap(), [1]);
    assert_eq!(dir.ids().unwrap(), [2]);
    dir.delete(&[2]).unwrap();
    assert!(dir.latest_intact().unwrap().is_none());
}
