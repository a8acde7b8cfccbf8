//! Keeping a [`Table`] within its memory budget (see the module docs of
//! `table`): clean entries whose changes are committed are dropped, those
//! not used since the previous pass first, and read back from RocksDB on a
//! miss.

use super::{SlotState, Table};
use crate::state_key::{StateKey, StateValue};

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
        let Some(budget) = self.budget.filter(|&budget| self.bytes > budget) else { return 0 };
        self.note_commits();
        if let Some((bytes, committed_before)) = self.futile_pass
            && committed_before == self.committed_before
            && self.bytes < bytes.saturating_add(budget / 8)
        {
            return 0;
        }
        let excess = self.bytes - budget / 8 * 7;
        let entries = self.evict(|_, bytes| bytes < excess);
        self.futile_pass = (self.bytes > budget).then_some((self.bytes, self.committed_before));
        entries
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
            if self.map.len() < self.map.capacity() / SHRINK_BELOW {
                self.map.shrink_to(self.map.len() * 2);
            }
        }
        entries
    }
}
