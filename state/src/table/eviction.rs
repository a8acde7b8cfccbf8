//! Keeping a [`Table`] within its memory budget (see the module docs of
//! `table`): clean entries whose changes are committed are dropped, those
//! not used since the previous pass first, and read back from RocksDB on a
//! miss.

use super::{SlotState, Table};
use crate::state_key::{StateKey, StateValue};
use crate::store::ticket::CommitWaker;

/// What a [`Table`] over its memory budget needs from its writer (see
/// [`Table::memory_pressure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryPressure {
    /// Nothing: go on.
    None,
    /// Change nothing until an earlier snapshot's batch is committed.
    WaitForCommit,
    /// Take a snapshot now and commit its batch (no checkpoint needed).
    Spill,
}

/// A pass that leaves the hash map with fewer entries than its capacity
/// divided by this shrinks it.
const SHRINK_BELOW: usize = 3;

impl<K, V> Table<K, V>
where
    K: StateKey,
    V: StateValue,
{
    /// Drops clean (and known-absent) entries whose changes are committed
    /// until at most `max_entries` remain or no such entry is left (see the
    /// module docs). Returns how many were dropped.
    pub fn evict_clean(&mut self, max_entries: usize) -> usize {
        let excess = self.map.len().saturating_sub(max_entries);
        self.note_commits();
        self.evict(|entries, _| entries < excess)
    }

    /// With a memory budget, drops clean entries until the estimated memory
    /// is 7/8 of the budget, if it exceeds the budget (on the conditions of
    /// [`evict_clean`](Self::evict_clean)), unless the last pass could not
    /// get under it and neither a commit nor an eighth of the budget in
    /// growth happened since. Returns how many were dropped.
    pub fn evict_over_budget(&mut self) -> usize {
        let memory = self.memory_bytes();
        let Some(budget) = self.budget.filter(|&budget| memory > budget) else { return 0 };
        self.note_commits();
        if let Some((bytes, committed_before)) = self.futile_pass
            && committed_before == self.committed_before
            && memory < bytes.saturating_add(budget / 8)
        {
            return 0;
        }
        // An evicted entry's bucket stays allocated (empty) unless the pass
        // ends with the map shrinking: the pass goes on until the memory it
        // would leave, buckets included, is 7/8 of the budget.
        let target = budget / 8 * 7;
        let (held, len, capacity) = (self.bytes, self.map.len(), self.map.capacity());
        let bucket = super::bucket_bytes::<K, V>();
        let entries = self.evict(|entries, bytes| {
            let left = len - entries;
            let empty = buckets_after_pass(capacity, left).saturating_sub(left);
            held - bytes + empty * bucket > target
        });
        let memory = self.memory_bytes();
        self.futile_pass = (memory > budget).then_some((memory, self.committed_before));
        entries
    }

    /// What the table's writer must do before changing it more, for its
    /// memory: nothing while the entries stay within the budget and half
    /// of it again (after evicting what may be evicted). Beyond that, the
    /// rest is entries not yet committed to the store:
    /// - while a snapshot is in progress or its batch is not committed, the
    ///   writer waits for that commit, which lets eviction drop the entries
    ///   it wrote (the commit calls the waker given to
    ///   [`wake_on_commit`](Self::wake_on_commit));
    /// - otherwise the excess is entries changed since the last snapshot
    ///   began, which no commit in flight covers: the writer takes a
    ///   snapshot now (a *spill*), whose batch it commits to the store
    ///   without waiting for a checkpoint boundary.
    ///
    /// Waiting never depends on the writer's own progress, so it cannot
    /// stall the progress a snapshot needs.
    pub fn memory_pressure(&mut self) -> MemoryPressure {
        let Some(budget) = self.budget else { return MemoryPressure::None };
        let limit = budget.saturating_add(budget / 2);
        if self.memory_bytes() <= limit {
            return MemoryPressure::None;
        }
        self.evict_over_budget();
        if self.memory_bytes() <= limit {
            MemoryPressure::None
        } else if self.snapshot.is_some() || !self.uncommitted.is_empty() {
            MemoryPressure::WaitForCommit
        } else {
            MemoryPressure::Spill
        }
    }

    /// Calls `wake` on the committing thread each time a snapshot's batch is
    /// committed (see [`memory_pressure`](Self::memory_pressure)).
    pub fn wake_on_commit(&mut self, wake: CommitWaker) {
        self.commit_waker = Some(wake);
    }

    /// Advances `committed_before` past the newest snapshot whose batch is
    /// committed (the store commits batches in order).
    fn note_commits(&mut self) {
        let newest = self.uncommitted.iter().rposition(|(ticket, _)| ticket.is_committed());
        if let Some(at) = newest {
            self.committed_before = self.uncommitted[at].1;
            self.uncommitted.drain(..=at);
        }
    }

    /// Drops clean and known-absent entries whose changes are committed (as
    /// of the last [`note_commits`](Self::note_commits)) while
    /// `more(entries, bytes)` (what was dropped so far) holds: first those
    /// not used since the last pass, then any.
    fn evict(&mut self, mut more: impl FnMut(usize, usize) -> bool) -> usize {
        let committed_before = self.committed_before;
        let (mut entries, mut bytes) = (0, 0);
        for second_chance in [true, false] {
            if !more(entries, bytes) {
                break;
            }
            self.map.retain(|_, slot| {
                if !matches!(slot.state, SlotState::Clean | SlotState::Absent)
                    || slot.generation >= committed_before
                    || !more(entries, bytes)
                    || (second_chance && std::mem::take(&mut slot.referenced))
                {
                    return true;
                }
                entries += 1;
                bytes += slot.bytes as usize;
                false
            });
        }
        self.bytes -= bytes;
        if entries > 0 {
            // Evicted keys may be in RocksDB now: misses must read it again.
            self.backing_empty = false;
        }
        if shrinks(self.map.capacity(), self.map.len()) {
            self.map.shrink_to(self.map.len() * 2);
        }
        entries
    }
}

/// Whether a pass that leaves `left` entries in a map of `capacity`
/// shrinks it (to room for twice as many).
fn shrinks(capacity: usize, left: usize) -> bool {
    left < capacity / SHRINK_BELOW
}

/// The buckets a map of `capacity` has after a pass that leaves `left`
/// entries in it (see [`shrinks`]).
fn buckets_after_pass(capacity: usize, left: usize) -> usize {
    if shrinks(capacity, left) { buckets_for(left * 2) } else { buckets_of(capacity) }
}

/// The buckets of a map whose `capacity()` is `capacity`: hashbrown fills
/// at most 7 of every 8 (3 of 4 below 8 buckets).
pub(super) fn buckets_of(capacity: usize) -> usize {
    match capacity {
        0 => 0,
        1..7 => (capacity + 1).next_power_of_two(),
        _ => capacity / 7 * 8,
    }
}

/// The buckets hashbrown allocates for room for `entries` (its
/// `capacity_to_buckets`, pinned by a unit test).
fn buckets_for(entries: usize) -> usize {
    match entries {
        0 => 0,
        1..4 => 4,
        4..8 => 8,
        8..15 => 16,
        _ => (entries * 8 / 7).next_power_of_two(),
    }
}

#[cfg(test)]
#[path = "eviction_tests.rs"]
mod tests;
