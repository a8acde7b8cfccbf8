//! Keeping a [`Table`] within its memory budget (see the module docs of
//! `table`): clean entries are dropped, those not used since the previous
//! pass first, and read back from RocksDB on a miss.

use super::{SlotState, Table};
use crate::state_key::{StateKey, StateValue};

impl<K, V> Table<K, V>
where
    K: StateKey,
    V: StateValue,
{
    /// Drops clean (and known-absent) entries until at most `max_entries`
    /// remain or only dirty entries are left, if the last snapshot is
    /// committed and none is in progress (see the module docs). Returns how
    /// many were dropped.
    pub fn evict_clean(&mut self, max_entries: usize) -> usize {
        let excess = self.map.len().saturating_sub(max_entries);
        self.evict(|entries, _| entries < excess)
    }

    /// With a memory budget, drops clean entries until the estimated memory
    /// is 7/8 of the budget, if it exceeds the budget (on the conditions of
    /// [`evict_clean`](Self::evict_clean)). Returns how many were dropped.
    pub fn evict_over_budget(&mut self) -> usize {
        let Some(budget) = self.budget.filter(|&budget| self.bytes > budget) else { return 0 };
        let excess = self.bytes - budget / 8 * 7;
        self.evict(|_, bytes| bytes < excess)
    }

    /// Drops clean and known-absent entries while `more(entries, bytes)`
    /// (what was dropped so far) holds: first those not used since the last
    /// pass, then any.
    fn evict(&mut self, mut more: impl FnMut(usize, usize) -> bool) -> usize {
        if self.snapshot.is_some()
            || self.last_flush.as_ref().is_some_and(|ticket| !ticket.is_committed())
        {
            return 0;
        }
        let (mut entries, mut bytes) = (0, 0);
        for second_chance in [true, false] {
            if !more(entries, bytes) {
                break;
            }
            self.map.retain(|_, slot| {
                if !matches!(slot.state, SlotState::Clean | SlotState::Absent)
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
        entries
    }
}
