//! Unit tests of when a [`Table`](super::Table) over its memory budget makes
//! its writer wait for a commit, with a real store in a temp dir.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::super::Table;
use super::MemoryPressure::{None as Go, Spill, WaitForCommit};
use crate::store::StateStore;
use crate::store::batch::StateBatch;
use crate::store::family::Family;
use crate::store::options::StoreOptions;
use crate::store::ticket::CommitWaker;

/// A table of `users` counters changed once each since its creation, over
/// a store in `dir`, and how many times its commit waker was called.
fn changed_counters(
    dir: &std::path::Path,
    users: usize,
) -> (StateStore, Table<String, u64>, Arc<AtomicUsize>) {
    let store = StateStore::open(dir, &StoreOptions::default()).unwrap();
    let mut table = Table::<String, u64>::with_empty_backing(Family::Profiles);
    let woken = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&woken);
    table.wake_on_commit(CommitWaker::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    for i in 0..users {
        *table.get_mut(&store, &format!("user-{i}")).unwrap() += 1;
    }
    (store, table, woken)
}

fn finish_snapshot(table: &mut Table<String, u64>) -> StateBatch {
    loop {
        if let Some(batch) = table.continue_snapshot(100).unwrap() {
            return batch;
        }
    }
}

#[test]
fn a_table_far_over_its_budget_spills_then_waits_for_the_commit_and_is_woken_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut table, woken) = changed_counters(dir.path(), 2_000);
    let full = table.memory_bytes();
    table.set_memory_budget(Some(full / 4));
    assert_eq!(
        table.memory_pressure(),
        Spill,
        "changes since the last snapshot began: no commit in flight covers them"
    );

    table.begin_snapshot();
    assert_eq!(table.memory_pressure(), WaitForCommit, "owed to the snapshot in progress");
    let batch = finish_snapshot(&mut table);
    assert_eq!(table.memory_pressure(), WaitForCommit, "in the batch, not committed");
    assert_eq!(woken.load(Ordering::SeqCst), 0);

    store.commit(batch).unwrap();
    assert_eq!(woken.load(Ordering::SeqCst), 1, "the commit wakes the writer");
    assert_eq!(table.memory_pressure(), Go, "the commit lets eviction drop them");
    assert!(table.memory_bytes() <= full / 4, "{} > {}", table.memory_bytes(), full / 4);
    for i in 0..2_000 {
        assert_eq!(table.get(&store, &format!("user-{i}")).unwrap(), Some(&1), "user-{i}");
    }
}

#[test]
fn a_table_within_half_again_its_budget_needs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut table, woken) = changed_counters(dir.path(), 2_000);
    let full = table.memory_bytes();
    table.set_memory_budget(Some(full / 3 * 2 + 2));
    assert_eq!(table.memory_pressure(), Go, "at 1.5 × the budget");
    table.begin_snapshot();
    assert_eq!(table.memory_pressure(), Go, "at 1.5 × the budget, a snapshot in progress");
    table.set_memory_budget(None);
    assert_eq!(table.memory_pressure(), Go, "without a budget");
    store.commit(finish_snapshot(&mut table)).unwrap();
    assert_eq!(woken.load(Ordering::SeqCst), 1);
}

/// A value about as large as a user's profile.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Wide {
    fields: [u64; 24],
    name: String,
}

impl crate::state_key::StateValue for Wide {
    fn heap_bytes(&self) -> usize {
        self.name.capacity()
    }
}

#[test]
fn a_boxed_value_keeps_empty_buckets_small_and_is_stored_as_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::open(dir.path(), &StoreOptions::default()).unwrap();
    let mut inline = Table::<String, Wide>::with_empty_backing(Family::Profiles);
    let mut boxed = Table::<String, Box<Wide>>::with_empty_backing(Family::Profiles);
    for i in 0..1_000_u64 {
        let key = format!("user-{i}");
        let value = Wide { fields: [i; 24], name: key.clone() };
        *inline.get_mut(&store, &key).unwrap() = value.clone();
        **boxed.get_mut(&store, &key).unwrap() = value;
    }
    // 1,000 entries in 2,048 buckets: the empty ones cost a whole value
    // inline, a pointer boxed.
    let (inline_bytes, boxed_bytes) = (inline.memory_bytes(), boxed.memory_bytes());
    assert!(inline_bytes > 1_000 * 2 * 200, "empty buckets count: {inline_bytes}");
    assert!(boxed_bytes < inline_bytes / 3 * 2, "{boxed_bytes} against {inline_bytes}");
    assert!(boxed_bytes > 1_000 * 200, "a box's value counts: {boxed_bytes}");

    // The same bytes in the store: a checkpoint written boxed reads back
    // unboxed (and so restores from a checkpoint of either).
    let mut batch = StateBatch::new();
    boxed.flush_into(&mut batch).unwrap();
    store.commit(batch).unwrap();
    let mut reader = Table::<String, Wide>::new(Family::Profiles);
    for i in 0..1_000_u64 {
        let key = format!("user-{i}");
        let expected = Wide { fields: [i; 24], name: key.clone() };
        assert_eq!(reader.get(&store, &key).unwrap(), Some(&expected));
    }
}

#[test]
fn a_table_of_small_values_evicts_what_shrinks_its_map_under_the_budget_and_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let (store, mut table, _) = changed_counters(dir.path(), 20_000);
    table.begin_snapshot();
    store.commit(finish_snapshot(&mut table)).unwrap();
    let full = table.memory_bytes();
    let budget = full / 5 * 4;
    table.set_memory_budget(Some(budget));

    let evicted = table.evict_over_budget();
    // A counter's bucket outweighs its key's heap bytes: evicting entries
    // frees memory only once the map shrinks, which a pass does when it
    // leaves the map under a third of its capacity (`SHRINK_BELOW`).
    assert!(table.memory_bytes() <= budget, "{} > {budget}", table.memory_bytes());
    assert!(evicted < 20_000 - 5_000, "{evicted} of 20,000 evicted: more than the shrink needs");
    assert!(evicted > 0);
    // A sample: each read of an evicted key sorts the vector memtable.
    for i in (0..20_000).step_by(499).chain([19_999]) {
        assert_eq!(table.get(&store, &format!("user-{i}")).unwrap(), Some(&1), "user-{i}");
    }
}

#[test]
fn the_bucket_counts_eviction_predicts_are_hashbrowns() {
    use super::{buckets_for, buckets_of};
    for entries in [1, 3, 4, 7, 8, 14, 15, 100, 1_000, 7_168, 7_169, 100_000] {
        let map = hashbrown::HashMap::<u64, u64>::with_capacity(entries);
        assert_eq!(buckets_of(map.capacity()), buckets_for(entries), "room for {entries}");
        let mut full = hashbrown::HashMap::<u64, u64>::with_capacity(4 * entries + 64);
        full.extend((0..entries as u64 / 2).map(|i| (i, i)));
        full.shrink_to(entries);
        assert_eq!(buckets_of(full.capacity()), buckets_for(entries), "shrunk to {entries}");
    }
}
