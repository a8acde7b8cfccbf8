//! Unit tests of [`Table`](super::Table), with a real store in a temp dir.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::*;
use crate::codec;
use crate::state_key::StateValue;
use crate::store::batch::StateBatch;
use crate::store::options::StoreOptions;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    scores: BTreeMap<String, f64>,
    events: u64,
}

impl StateValue for Profile {
    fn heap_bytes(&self) -> usize {
        self.scores.keys().map(|k| k.capacity() + 48).sum()
    }
}

fn open(dir: &std::path::Path) -> StateStore {
    StateStore::open(dir, &StoreOptions::default()).unwrap()
}

fn bump(table: &mut Table<String, Profile>, store: &StateStore, user: &str, tag: &str) {
    let profile = table.get_mut(store, user).unwrap();
    *profile.scores.entry(tag.to_owned()).or_default() += 1.0;
    profile.events += 1;
}

/// A table of `users` profiles (`user-0`, ...), each bumped once, whose
/// batch is committed to `store`.
fn committed_profiles(store: &StateStore, users: usize) -> Table<String, Profile> {
    let mut table = Table::<String, Profile>::with_empty_backing(Family::Profiles);
    for i in 0..users {
        bump(&mut table, store, &format!("user-{i}"), "shoes");
    }
    let mut batch = StateBatch::new();
    table.flush_into(&mut batch).unwrap();
    store.commit(batch).unwrap();
    table
}

#[test]
fn write_flush_commit_reopen_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut table = Table::<String, Profile>::with_empty_backing(Family::Profiles);
    let mut visitors = Table::<String, u64>::with_empty_backing(Family::VisitorSets);
    for (user, tag) in [("alice", "sports"), ("bob", "news"), ("alice", "sports"), ("alice", "tv")]
    {
        bump(&mut table, &store, user, tag);
        *visitors.get_mut(&store, "2024-05-01").unwrap() += 1;
    }
    let expected: BTreeMap<String, Profile> =
        table.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
    assert_eq!(expected["alice"].events, 3);

    let mut batch = StateBatch::new();
    assert_eq!(table.flush_into(&mut batch).unwrap(), 2);
    assert_eq!(visitors.flush_into(&mut batch).unwrap(), 1);
    batch.set_offset("events", 0, 4);
    store.commit(batch).unwrap();
    drop(store);

    let store = open(dir.path());
    assert!(!store.is_empty().unwrap());
    assert_eq!(store.offsets().unwrap(), BTreeMap::from([(("events".to_owned(), 0), 4)]));
    let mut table = Table::<String, Profile>::new(Family::Profiles);
    for (user, profile) in &expected {
        assert_eq!(table.get(&store, user).unwrap(), Some(profile));
    }
    assert_eq!(table.get(&store, "carol").unwrap(), None);
    assert_eq!(table.dirty_len(), 0, "reads do not dirty");
    let mut visitors = Table::<String, u64>::new(Family::VisitorSets);
    assert_eq!(*visitors.get_mut(&store, "2024-05-01").unwrap(), 4);
}

#[test]
fn empty_backing_table_never_reads_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut batch = StateBatch::new();
    batch.put(Family::VisitorSets, b"day", &codec::encode(&7u64).unwrap());
    store.commit(batch).unwrap();

    // A normal table sees the stored value...
    assert_eq!(
        Table::<String, u64>::new(Family::VisitorSets).get(&store, "day").unwrap(),
        Some(&7)
    );
    // ...an empty-backing one must not look it up.
    let mut table = Table::<String, u64>::with_empty_backing(Family::VisitorSets);
    assert_eq!(table.get(&store, "day").unwrap(), None);
    assert_eq!(*table.get_mut(&store, "day").unwrap(), 0);
}

#[test]
fn flushed_entries_are_not_flushed_again_until_touched() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut table = Table::<String, u64>::with_empty_backing(Family::VisitorSets);
    for key in ["a", "b", "c"] {
        *table.get_mut(&store, key).unwrap() += 1;
    }
    *table.get_mut(&store, "a").unwrap() += 1;
    assert_eq!((table.len(), table.dirty_len()), (3, 3));

    let mut batch = StateBatch::new();
    assert_eq!(table.flush_into(&mut batch).unwrap(), 3);
    assert_eq!(table.dirty_len(), 0);
    assert_eq!(table.flush_into(&mut batch).unwrap(), 0);
    assert_eq!(batch.len(), 3);
    store.commit(batch).unwrap();

    assert_eq!(table.get(&store, "b").unwrap(), Some(&1));
    assert_eq!(table.dirty_len(), 0);
    *table.get_mut(&store, "b").unwrap() += 1;
    let mut batch = StateBatch::new();
    assert_eq!(table.flush_into(&mut batch).unwrap(), 1);
    store.commit(batch).unwrap();
    assert_eq!(store.get(Family::VisitorSets, b"b").unwrap(), Some(codec::encode(&2u64).unwrap()));
    assert_eq!(store.get(Family::VisitorSets, b"a").unwrap(), Some(codec::encode(&2u64).unwrap()));
}

#[test]
fn remove_deletes_from_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut table = Table::<String, u64>::new(Family::VisitorSets);
    *table.get_mut(&store, "old").unwrap() = 5;
    *table.get_mut(&store, "new").unwrap() = 6;
    let mut batch = StateBatch::new();
    table.flush_into(&mut batch).unwrap();
    store.commit(batch).unwrap();

    table.remove("old").unwrap();
    table.remove("never-seen").unwrap();
    assert_eq!(table.dirty_len(), 2);
    assert_eq!(table.get(&store, "old").unwrap(), None);
    let mut batch = StateBatch::new();
    assert_eq!(table.flush_into(&mut batch).unwrap(), 2);
    store.commit(batch).unwrap();
    assert_eq!(store.get(Family::VisitorSets, b"old").unwrap(), None);
    assert_eq!(table.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(), [("new", 6)]);

    // Touching a removed key starts again from the default.
    assert_eq!(*table.get_mut(&store, "old").unwrap(), 0);
    assert_eq!(table.dirty_len(), 1);
}

#[test]
fn corrupted_value_error_names_family_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut batch = StateBatch::new();
    batch.put(Family::Profiles, b"mallory", &[0xff, 0xff, 0xff]);
    store.commit(batch).unwrap();

    let mut table = Table::<String, Profile>::new(Family::Profiles);
    let err = table.get_mut(&store, "mallory").unwrap_err();
    assert!(
        matches!(err, StateError::Codec { family: Family::Profiles, ref key, .. } if key == "mallory")
    );
    let message = err.to_string();
    assert!(message.contains("profiles") && message.contains("mallory"), "{message}");
    assert!(table.is_empty(), "a failed load caches nothing");
}

/// A value whose encoding fails on demand.
#[derive(Debug, Default, Deserialize)]
struct Fragile(bool);

impl StateValue for Fragile {}

impl Serialize for Fragile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 {
            Err(serde::ser::Error::custom("refusing to encode"))
        } else {
            serializer.serialize_bool(false)
        }
    }
}

#[test]
fn failed_flush_leaves_batch_untouched_and_entries_dirty() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut table = Table::<String, Fragile>::with_empty_backing(Family::Meta);
    for i in 0..50 {
        table.get_mut(&store, &format!("ok-{i}")).unwrap();
    }
    table.get_mut(&store, "bad").unwrap().0 = true;
    let mut batch = StateBatch::new();
    batch.set_offset("events", 0, 1);

    let err = table.flush_into(&mut batch).unwrap_err();
    assert!(matches!(err, StateError::Codec { ref key, .. } if key == "bad"), "{err}");
    assert_eq!(batch.len(), 1, "only the pre-existing offset remains");
    assert_eq!(table.dirty_len(), 51);

    table.get_mut(&store, "bad").unwrap().0 = false;
    assert_eq!(table.flush_into(&mut batch).unwrap(), 51);
}

#[test]
fn eviction_drops_only_clean_entries_and_reloads_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut table = Table::<String, u64>::with_empty_backing(Family::VisitorSets);
    for i in 0..10u64 {
        *table.get_mut(&store, &format!("k{i}")).unwrap() = i;
    }
    assert_eq!(table.evict_clean(0), 0, "dirty entries are never evicted");
    let mut batch = StateBatch::new();
    table.flush_into(&mut batch).unwrap();
    store.commit(batch).unwrap();
    *table.get_mut(&store, "k0").unwrap() += 100;

    assert_eq!(table.evict_clean(4), 6);
    assert_eq!((table.len(), table.dirty_len()), (4, 1));
    assert_eq!(table.evict_clean(0), 3);
    assert_eq!(table.get(&store, "k0").unwrap(), Some(&100));
    for i in 1..10u64 {
        // Reloaded from RocksDB even though the table started empty-backed.
        assert_eq!(table.get(&store, &format!("k{i}")).unwrap(), Some(&i));
    }
}

#[test]
fn preload_caches_everything_the_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    committed_profiles(&store, 500);

    let mut restored = Table::<String, Profile>::new(Family::Profiles);
    assert_eq!(restored.preload(&store).unwrap(), 500);
    assert_eq!(restored.len(), 500);
    assert_eq!(restored.dirty_len(), 0, "preloaded entries are clean");
    assert_eq!(restored.get(&store, "user-7").unwrap().unwrap().events, 1);
    assert!(restored.get(&store, "nobody").unwrap().is_none());
    bump(&mut restored, &store, "user-7", "shoes");
    assert_eq!(restored.dirty_len(), 1);
}

#[test]
fn a_memory_budget_evicts_only_committed_entries_and_keeps_them_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut table = Table::<String, Profile>::with_empty_backing(Family::Profiles);
    for i in 0..2_000 {
        bump(&mut table, &store, &format!("user-{i}"), "shoes");
    }
    let full = table.memory_bytes();
    assert!(full > 2_000 * 48, "every entry is counted: {full}");
    table.set_memory_budget(Some(full / 4));
    assert_eq!(table.evict_over_budget(), 0, "dirty entries stay");

    let mut batch = StateBatch::new();
    table.flush_into(&mut batch).unwrap();
    assert_eq!(table.evict_over_budget(), 0, "flushed but not committed: they stay");
    store.commit(batch).unwrap();
    // Keep one user hot: the second chance spares it.
    table.get(&store, "user-7").unwrap();
    let evicted = table.evict_over_budget();
    assert!(evicted > 1_000, "{evicted}");
    assert!(table.memory_bytes() <= full / 4, "{} > {}", table.memory_bytes(), full / 4);
    assert!(table.len() < 2_000);
    for i in 0..2_000 {
        let profile = table.get(&store, &format!("user-{i}")).unwrap().unwrap();
        assert_eq!(profile.events, 1, "user-{i} read back from RocksDB");
    }
    bump(&mut table, &store, "user-3", "hats");
    assert_eq!(table.get(&store, "user-3").unwrap().unwrap().events, 2);
}

#[test]
fn preload_stops_at_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let full = committed_profiles(&store, 1_000).memory_bytes();

    let mut bounded = Table::<String, Profile>::new(Family::Profiles);
    bounded.set_memory_budget(Some(full / 2));
    let loaded = bounded.preload(&store).unwrap();
    assert!(loaded > 100 && loaded < 1_000, "{loaded}");
    // Not everything is cached, so misses still read RocksDB.
    for i in 0..1_000 {
        assert!(bounded.get(&store, &format!("user-{i}")).unwrap().is_some());
    }
}

/// The (key, value) pairs a batch puts, decoded, after committing it.
fn committed(store: &StateStore, batch: StateBatch, keys: &[&str]) -> Vec<Option<u64>> {
    store.commit(batch).unwrap();
    keys.iter()
        .map(|k| {
            store
                .get(Family::VisitorSets, k.as_bytes())
                .unwrap()
                .map(|v| codec::decode::<u64>(&v).unwrap())
        })
        .collect()
}

#[test]
fn a_snapshot_holds_the_values_of_its_start_whatever_changes_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut table = Table::<String, u64>::with_empty_backing(Family::VisitorSets);
    for (i, key) in ["a", "b", "c", "d"].iter().enumerate() {
        *table.get_mut(&store, *key).unwrap() = i as u64 + 1;
    }
    table.begin_snapshot();
    assert!(table.snapshot_in_progress());
    assert_eq!(table.dirty_len(), 4);
    // Changes after the start: copy-on-write keeps the snapshot's values.
    *table.get_mut(&store, "a").unwrap() = 100;
    table.remove("b").unwrap();
    *table.get_mut(&store, "e").unwrap() = 5;
    assert!(table.continue_snapshot(1).unwrap().is_none(), "one entry per step");
    let mut first = None;
    for _ in 0..4 {
        if let Some(batch) = table.continue_snapshot(1).unwrap() {
            first = Some(batch);
            break;
        }
    }
    let first = first.expect("the snapshot completes");
    assert!(!table.snapshot_in_progress());
    assert_eq!(first.len(), 4, "a, b, c and d, once each");
    let keys = ["a", "b", "c", "d", "e"];
    assert_eq!(committed(&store, first, &keys), [Some(1), Some(2), Some(3), Some(4), None]);

    // The next snapshot has exactly what changed after the first began.
    assert_eq!(table.dirty_len(), 3);
    let mut second = StateBatch::new();
    assert_eq!(table.flush_into(&mut second).unwrap(), 3);
    assert_eq!(committed(&store, second, &keys), [Some(100), None, Some(3), Some(4), Some(5)]);
    assert_eq!(table.dirty_len(), 0);
    let mut empty = StateBatch::new();
    assert_eq!(table.flush_into(&mut empty).unwrap(), 0);
}

#[test]
fn eviction_during_a_snapshot_spares_what_is_not_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut table = Table::<String, u64>::with_empty_backing(Family::VisitorSets);
    for i in 0..100u64 {
        *table.get_mut(&store, &format!("k{i}")).unwrap() = i;
    }
    let mut batch = StateBatch::new();
    table.flush_into(&mut batch).unwrap();
    store.commit(batch).unwrap();
    *table.get_mut(&store, "k0").unwrap() = 7;
    *table.get_mut(&store, "k1").unwrap() = 8;
    table.begin_snapshot();
    assert!(table.continue_snapshot(1).unwrap().is_none(), "one of two written");
    assert_eq!(table.evict_clean(0), 98, "committed entries go while a snapshot is taken");
    *table.get_mut(&store, "k2").unwrap() = 9;
    let batch = table.continue_snapshot(usize::MAX).unwrap().unwrap();
    assert_eq!(table.evict_clean(0), 0, "written, not committed: k0 and k1 stay; k2 is dirty");
    store.commit(batch).unwrap();
    assert_eq!(table.evict_clean(0), 2);
    assert_eq!(table.len(), 1);
    assert_eq!(table.get(&store, "k0").unwrap(), Some(&7));
    assert_eq!(table.get(&store, "k1").unwrap(), Some(&8));
    assert_eq!(table.get(&store, "k2").unwrap(), Some(&9));
    assert_eq!(table.get(&store, "k3").unwrap(), Some(&3));
}

#[test]
fn a_pass_that_cannot_get_under_the_budget_waits_for_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut table = committed_profiles(&store, 1_000);
    for i in 1_000..3_000 {
        bump(&mut table, &store, &format!("user-{i}"), "shoes");
    }
    table.set_memory_budget(Some(table.memory_bytes() / 3));
    let allocated = table.map.allocation_size();
    assert_eq!(table.evict_over_budget(), 1_000, "every committed entry, still over");
    assert_eq!(table.map.allocation_size(), allocated, "two thirds full: the map keeps its room");
    bump(&mut table, &store, "user-0", "hats");
    let mut batch = StateBatch::new();
    table.flush_into(&mut batch).unwrap();
    assert_eq!(table.evict_over_budget(), 0, "nothing committed since: no pass");
    assert!(table.futile_pass.is_some());
    store.commit(batch).unwrap();
    assert!(table.evict_over_budget() > 1_000, "a commit makes the next pass worth it");
    assert!(table.memory_bytes() <= table.budget.unwrap());
    assert!(table.map.allocation_size() < allocated, "under a third full, the map shrank");
    assert_eq!(table.get(&store, "user-0").unwrap().unwrap().events, 2);
}
