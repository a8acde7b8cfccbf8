//! [`Table`]: a typed, in-memory write-back cache over one state family.
//!
//! The dataflow touches state once per event, millions of times per second,
//! so state lives in a hash map and RocksDB is only read on a cache miss and
//! written once per flush (about every second) through a [`StateBatch`].
//!
//! # Memory model
//!
//! Every key touched stays cached until [`Table::evict_clean`] drops clean
//! entries; dirty entries are never evicted (they are not in RocksDB yet).
//! Lookups of keys absent from RocksDB are cached too (as "absent"), so a miss
//! costs at most one RocksDB read per key. Without eviction, memory grows with
//! the number of distinct keys seen by the worker.
//!
//! # Dirty tracking
//!
//! Each entry carries its state (clean, dirty, absent, deleted) inline; a hit
//! only compares one byte and, on the clean → dirty transition, bumps a
//! counter. A flush walks the map and stops as soon as it has seen every dirty
//! entry. Walking a hashbrown table is a sequential scan (~1-2 ns per entry,
//! i.e. ~2 ms per second for 1M cached keys), cheaper overall than keeping a
//! separate list of dirty keys, which would need key clones or an extra
//! indirection on every hit.
//!
//! # Consistency
//!
//! After [`Table::flush_into`] the flushed entries are clean: the caller must
//! commit the batch, and treat a failed commit as fatal (restart from the last
//! checkpoint), since the cache no longer knows which entries were lost.

use hashbrown::HashMap;
use hashbrown::hash_map::EntryRef;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::batch::StateBatch;
use crate::codec::{self, CodecError};
use crate::error::StateError;
use crate::family::Family;
use crate::keygroup::KEY_GROUPS;
use crate::store::StateStore;

/// Cache state of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Same value as in RocksDB.
    Clean,
    /// Modified since the last flush: must be written.
    Dirty,
    /// Known absent from RocksDB (value is `V::default()`).
    Absent,
    /// Removed since the last flush: must be deleted (value is `V::default()`).
    Deleted,
}

#[derive(Debug)]
struct Slot<V> {
    value: V,
    state: SlotState,
}

/// A typed write-back cache of one [`Family`], keyed by strings.
///
/// Values are encoded with bincode 2 (see `codec.rs`).
#[derive(Debug)]
pub struct Table<V> {
    family: Family,
    map: HashMap<String, Slot<V>>,
    /// Entries in state `Dirty` or `Deleted`.
    dirty: usize,
    /// The backing family is known to hold none of this table's keys that are
    /// not in `map`, so misses need no RocksDB read.
    backing_empty: bool,
}

impl<V> Table<V>
where
    V: Serialize + DeserializeOwned + Default,
{
    /// An empty cache over `family`; misses read RocksDB.
    #[must_use]
    pub fn new(family: Family) -> Self {
        Self { family, map: HashMap::default(), dirty: 0, backing_empty: false }
    }

    /// An empty cache over a family known to be empty in the store (e.g. a
    /// fresh start, see `StateStore::is_empty`): misses never read RocksDB.
    ///
    /// Only valid if this table is the only writer of its keys in the family.
    #[must_use]
    pub fn with_empty_backing(family: Family) -> Self {
        Self { backing_empty: true, ..Self::new(family) }
    }

    /// Loads every entry of the family from `store` into the cache (clean),
    /// after which misses need no RocksDB read: the whole state is in memory,
    /// as after an uninterrupted run. Call on an empty table, after a restore.
    /// Returns how many entries were loaded.
    pub fn preload(&mut self, store: &StateStore) -> Result<usize, StateError> {
        let family = self.family;
        let mut loaded = 0;
        for entry in store.scan(family, 0..KEY_GROUPS) {
            let (key, value) = entry?;
            let key = String::from_utf8(key).map_err(|e| StateError::Corrupt {
                family,
                key: crate::error::display_key(e.as_bytes()),
                path: store.path().to_owned(),
                reason: "key is not UTF-8",
            })?;
            let value = codec::decode::<V>(&value).map_err(|source| StateError::Codec {
                family,
                key: key.clone(),
                source,
            })?;
            self.map.entry(key).or_insert(Slot { value, state: SlotState::Clean });
            loaded += 1;
        }
        self.backing_empty = true;
        Ok(loaded)
    }

    /// The family this table caches.
    #[must_use]
    pub fn family(&self) -> Family {
        self.family
    }

    /// The value of `key` for modification, loading it (or `V::default()` if
    /// absent) on a miss. The entry is marked dirty. A hit does not allocate.
    pub fn get_mut(&mut self, store: &StateStore, key: &str) -> Result<&mut V, StateError> {
        match self.map.entry_ref(key) {
            EntryRef::Occupied(entry) => {
                let slot = entry.into_mut();
                if slot.state != SlotState::Dirty {
                    if !matches!(slot.state, SlotState::Deleted) {
                        self.dirty += 1;
                    }
                    slot.state = SlotState::Dirty;
                }
                Ok(&mut slot.value)
            }
            EntryRef::Vacant(entry) => {
                let value = load(store, self.family, self.backing_empty, key)?.unwrap_or_default();
                self.dirty += 1;
                Ok(&mut entry.insert(Slot { value, state: SlotState::Dirty }).value)
            }
        }
    }

    /// The value of `key` if it exists, loading it into the cache (clean) on
    /// a miss. Does not mark the entry dirty.
    pub fn get(&mut self, store: &StateStore, key: &str) -> Result<Option<&V>, StateError> {
        let slot = match self.map.entry_ref(key) {
            EntryRef::Occupied(entry) => entry.into_mut(),
            EntryRef::Vacant(entry) => {
                let slot = match load(store, self.family, self.backing_empty, key)? {
                    Some(value) => Slot { value, state: SlotState::Clean },
                    None => Slot { value: V::default(), state: SlotState::Absent },
                };
                entry.insert(slot)
            }
        };
        Ok(match slot.state {
            SlotState::Clean | SlotState::Dirty => Some(&slot.value),
            SlotState::Absent | SlotState::Deleted => None,
        })
    }

    /// Removes `key`: the next flush deletes it from RocksDB. Never reads
    /// RocksDB.
    pub fn remove(&mut self, key: &str) {
        match self.map.entry_ref(key) {
            EntryRef::Occupied(entry) => {
                let slot = entry.into_mut();
                match slot.state {
                    SlotState::Clean => self.dirty += 1,
                    SlotState::Dirty => {}
                    SlotState::Absent | SlotState::Deleted => return,
                }
                slot.value = V::default();
                slot.state = SlotState::Deleted;
            }
            EntryRef::Vacant(entry) => {
                self.dirty += 1;
                entry.insert(Slot { value: V::default(), state: SlotState::Deleted });
            }
        }
    }

    /// Writes every dirty entry into `batch` (puts and deletes) and marks it
    /// clean. Returns how many entries were written.
    ///
    /// Values are encoded straight into the batch's buffer. On error the batch
    /// is left as before the call and every cached entry is conservatively
    /// marked dirty again, so no change can be lost.
    pub fn flush_into(&mut self, batch: &mut StateBatch) -> Result<usize, StateError> {
        if self.dirty == 0 {
            return Ok(0);
        }
        let family = self.family;
        let mark = batch.mark();
        let mut flushed = 0;
        let mut failure: Option<(String, CodecError)> = None;
        for (key, slot) in &mut self.map {
            match slot.state {
                SlotState::Dirty => {
                    let encoded = batch.put_with(family, key.as_bytes(), |out| {
                        codec::encode_into(&slot.value, out).map(drop)
                    });
                    if let Err(source) = encoded {
                        failure = Some((key.clone(), source));
                        break;
                    }
                    slot.state = SlotState::Clean;
                }
                SlotState::Deleted => {
                    batch.delete(family, key.as_bytes());
                    slot.state = SlotState::Absent;
                }
                SlotState::Clean | SlotState::Absent => continue,
            }
            flushed += 1;
            if flushed == self.dirty {
                break;
            }
        }
        if let Some((key, source)) = failure {
            batch.truncate(mark);
            self.mark_all_dirty();
            return Err(StateError::Codec { family, key, source });
        }
        self.dirty = 0;
        Ok(flushed)
    }

    /// Marks every entry as needing a write (present) or delete (absent).
    fn mark_all_dirty(&mut self) {
        for slot in self.map.values_mut() {
            slot.state = match slot.state {
                SlotState::Clean | SlotState::Dirty => SlotState::Dirty,
                SlotState::Absent | SlotState::Deleted => SlotState::Deleted,
            };
        }
        self.dirty = self.map.len();
    }

    /// Drops clean (and known-absent) entries until at most `max_entries`
    /// remain or only dirty entries are left. Returns how many were dropped.
    /// Call right after a flush, when most entries are clean.
    pub fn evict_clean(&mut self, max_entries: usize) -> usize {
        let mut excess = self.map.len().saturating_sub(max_entries);
        if excess == 0 {
            return 0;
        }
        let before = self.map.len();
        self.map.retain(|_, slot| {
            let evict = excess > 0 && matches!(slot.state, SlotState::Clean | SlotState::Absent);
            excess -= usize::from(evict);
            !evict
        });
        let dropped = before - self.map.len();
        if dropped > 0 {
            // Evicted keys may be in RocksDB now: misses must read it again.
            self.backing_empty = false;
        }
        dropped
    }

    /// Number of entries waiting for the next flush.
    #[must_use]
    pub fn dirty_len(&self) -> usize {
        self.dirty
    }

    /// Number of cached entries, including cached absences and deletions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Iterates over cached present entries (clean or dirty), in no order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> + '_ {
        self.map.iter().filter_map(|(key, slot)| match slot.state {
            SlotState::Clean | SlotState::Dirty => Some((key.as_str(), &slot.value)),
            SlotState::Absent | SlotState::Deleted => None,
        })
    }
}

/// Reads and decodes `key` from the store, unless the backing is known empty.
fn load<V: DeserializeOwned>(
    store: &StateStore,
    family: Family,
    backing_empty: bool,
    key: &str,
) -> Result<Option<V>, StateError> {
    if backing_empty {
        return Ok(None);
    }
    store
        .get_with(family, key.as_bytes(), codec::decode::<V>)?
        .transpose()
        .map_err(|source| StateError::Codec { family, key: key.to_owned(), source })
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
