//! [`Table`]: a typed, in-memory write-back cache over one state family.
//!
//! The dataflow touches state once per event, millions of times per second,
//! so state lives in a hash map and RocksDB is only read on a cache miss and
//! written once per flush (about every second) through a [`StateBatch`].
//!
//! # Memory model
//!
//! Every entry's memory is estimated (its key and slot, their heap data, see
//! [`StateValue::heap_bytes`]) when it is loaded and each time it is flushed,
//! and the table keeps the total. With a budget
//! ([`Table::set_memory_budget`]), [`Table::evict_over_budget`] drops clean
//! entries once the total exceeds it, entries not used since the previous
//! eviction pass first (CLOCK's second chance), so the hot set stays cached
//! and the rest lives only in RocksDB, read back on a miss. Dirty entries are
//! never evicted (RocksDB does not hold them yet), and clean ones only once
//! the batch of their last flush is committed ([`CommitTicket`]): the memory
//! above the budget is at most what one checkpoint interval dirties. Lookups
//! of keys absent from RocksDB are cached too (as "absent"), so a miss costs
//! at most one RocksDB read per key.
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

use std::hash::Hash;

use hashbrown::hash_map::EntryRef;
use hashbrown::{Equivalent, HashMap};
use serde::de::DeserializeOwned;

use crate::batch::{CommitTicket, StateBatch};
use crate::codec::{self, CodecError};
use crate::error::StateError;
use crate::family::Family;
use crate::keygroup::KEY_GROUPS;
use crate::state_key::{StateKey, StateValue};
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
    /// Used since the last eviction pass.
    referenced: bool,
    /// The entry's estimated memory when last measured.
    bytes: u32,
}

impl<V> Slot<V> {
    fn new(value: V, state: SlotState) -> Self {
        Self { value, state, referenced: true, bytes: 0 }
    }
}

/// A typed write-back cache of one [`Family`], keyed by a [`StateKey`]
/// (which also decides each key's key group).
///
/// Values are encoded with bincode 2 (see `codec.rs`).
#[derive(Debug)]
pub struct Table<K, V> {
    family: Family,
    map: HashMap<K, Slot<V>>,
    /// Scratch buffer for key bytes.
    key_bytes: Vec<u8>,
    /// Entries in state `Dirty` or `Deleted`.
    dirty: usize,
    /// The backing family is known to hold none of this table's keys that are
    /// not in `map`, so misses need no RocksDB read.
    backing_empty: bool,
    /// Estimated memory of the cached entries.
    bytes: usize,
    /// Evict clean entries beyond this many bytes (`None`: never).
    budget: Option<usize>,
    /// Commit of the last flush: until then, clean entries must stay.
    last_flush: Option<CommitTicket>,
}

/// Estimated memory of one entry: key and slot inline, their heap data, and
/// the hash table's control byte.
fn entry_bytes<K: StateKey, V: StateValue>(key: &K, value: &V) -> u32 {
    let bytes = std::mem::size_of::<(K, Slot<V>)>() + 1 + key.heap_bytes() + value.heap_bytes();
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl<K, V> Table<K, V>
where
    K: StateKey,
    V: StateValue,
{
    /// An empty cache over `family`; misses read RocksDB.
    #[must_use]
    pub fn new(family: Family) -> Self {
        Self {
            family,
            map: HashMap::default(),
            key_bytes: Vec::new(),
            dirty: 0,
            backing_empty: false,
            bytes: 0,
            budget: None,
            last_flush: None,
        }
    }

    /// Lets [`evict_over_budget`](Self::evict_over_budget) keep the
    /// estimated memory of the cached entries near `bytes` (`None`: cache
    /// everything).
    pub fn set_memory_budget(&mut self, bytes: Option<usize>) {
        self.budget = bytes;
    }

    /// Estimated memory of the cached entries, in bytes.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.bytes
    }

    /// An empty cache over a family known to be empty in the store (e.g. a
    /// fresh start, see `StateStore::is_empty`): misses never read RocksDB.
    ///
    /// Only valid if this table is the only writer of its keys in the family.
    #[must_use]
    pub fn with_empty_backing(family: Family) -> Self {
        Self { backing_empty: true, ..Self::new(family) }
    }

    /// Loads the entries of the family from `store` into the cache (clean),
    /// as many as the memory budget allows. If they all fit, misses need no
    /// RocksDB read: the whole state is in memory, as after an uninterrupted
    /// run. Call on an empty table, after a restore. Returns how many entries
    /// were loaded.
    pub fn preload(&mut self, store: &StateStore) -> Result<usize, StateError> {
        let family = self.family;
        let mut loaded = 0;
        let mut complete = true;
        for entry in store.scan(family, 0..KEY_GROUPS) {
            if self.budget.is_some_and(|budget| self.bytes >= budget) {
                complete = false;
                break;
            }
            let (_, raw, value) = entry?;
            let key = K::read_key(&raw).ok_or_else(|| StateError::Corrupt {
                family,
                key: crate::error::display_key(&raw),
                path: store.path().to_owned(),
                reason: "key does not decode",
            })?;
            let value = codec::decode::<V>(&value).map_err(|source| StateError::Codec {
                family,
                key: crate::error::display_key(&raw),
                source,
            })?;
            let bytes = entry_bytes(&key, &value);
            let mut slot = Slot::new(value, SlotState::Clean);
            slot.bytes = bytes;
            if self.map.insert(key, slot).is_none() {
                self.bytes += bytes as usize;
                loaded += 1;
            }
        }
        self.backing_empty = complete;
        Ok(loaded)
    }

    /// The family this table caches.
    #[must_use]
    pub fn family(&self) -> Family {
        self.family
    }

    /// The value of `key` for modification, loading it (or `V::default()` if
    /// absent) on a miss. The entry is marked dirty. A hit does not allocate.
    pub fn get_mut<Q>(&mut self, store: &StateStore, key: &Q) -> Result<&mut V, StateError>
    where
        Q: Hash + Equivalent<K> + ?Sized,
        for<'q> &'q Q: Into<K>,
    {
        match self.map.entry_ref(key) {
            EntryRef::Occupied(entry) => {
                let slot = entry.into_mut();
                slot.referenced = true;
                if slot.state != SlotState::Dirty {
                    if !matches!(slot.state, SlotState::Deleted) {
                        self.dirty += 1;
                    }
                    slot.state = SlotState::Dirty;
                }
                Ok(&mut slot.value)
            }
            EntryRef::Vacant(entry) => {
                let key: K = entry.key().into();
                let loaded =
                    load(store, self.family, self.backing_empty, &key, &mut self.key_bytes)?;
                self.dirty += 1;
                let mut slot = Slot::new(loaded.unwrap_or_default(), SlotState::Dirty);
                slot.bytes = entry_bytes(&key, &slot.value);
                self.bytes += slot.bytes as usize;
                Ok(&mut entry.insert_with_key(key, slot).value)
            }
        }
    }

    /// The value of `key` if it exists, loading it into the cache (clean) on
    /// a miss. Does not mark the entry dirty.
    pub fn get<Q>(&mut self, store: &StateStore, key: &Q) -> Result<Option<&V>, StateError>
    where
        Q: Hash + Equivalent<K> + ?Sized,
        for<'q> &'q Q: Into<K>,
    {
        let slot = match self.map.entry_ref(key) {
            EntryRef::Occupied(entry) => {
                let slot = entry.into_mut();
                slot.referenced = true;
                slot
            }
            EntryRef::Vacant(entry) => {
                let key: K = entry.key().into();
                let mut slot = match load(
                    store,
                    self.family,
                    self.backing_empty,
                    &key,
                    &mut self.key_bytes,
                )? {
                    Some(value) => Slot::new(value, SlotState::Clean),
                    None => Slot::new(V::default(), SlotState::Absent),
                };
                slot.bytes = entry_bytes(&key, &slot.value);
                self.bytes += slot.bytes as usize;
                entry.insert_with_key(key, slot)
            }
        };
        Ok(match slot.state {
            SlotState::Clean | SlotState::Dirty => Some(&slot.value),
            SlotState::Absent | SlotState::Deleted => None,
        })
    }

    /// Removes `key`: the next flush deletes it from RocksDB. Never reads
    /// RocksDB.
    pub fn remove<Q>(&mut self, key: &Q)
    where
        Q: Hash + Equivalent<K> + ?Sized,
        for<'q> &'q Q: Into<K>,
    {
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
                let key: K = entry.key().into();
                let mut slot = Slot::new(V::default(), SlotState::Deleted);
                slot.bytes = entry_bytes(&key, &slot.value);
                self.bytes += slot.bytes as usize;
                entry.insert_with_key(key, slot);
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
        let key_bytes = &mut self.key_bytes;
        let mut bytes = self.bytes;
        for (key, slot) in &mut self.map {
            if matches!(slot.state, SlotState::Dirty | SlotState::Deleted) {
                let measured = entry_bytes(key, &slot.value);
                bytes = bytes - slot.bytes as usize + measured as usize;
                slot.bytes = measured;
            }
            match slot.state {
                SlotState::Dirty => {
                    key_bytes.clear();
                    key.write_key(key_bytes);
                    let encoded = batch.put_with(family, key.group(), key_bytes, |out| {
                        codec::encode_into(&slot.value, out).map(drop)
                    });
                    if let Err(source) = encoded {
                        failure = Some((crate::error::display_key(key_bytes), source));
                        break;
                    }
                    slot.state = SlotState::Clean;
                }
                SlotState::Deleted => {
                    key_bytes.clear();
                    key.write_key(key_bytes);
                    batch.delete_in_group(family, key.group(), key_bytes);
                    slot.state = SlotState::Absent;
                }
                SlotState::Clean | SlotState::Absent => continue,
            }
            flushed += 1;
            if flushed == self.dirty {
                break;
            }
        }
        self.bytes = bytes;
        if let Some((key, source)) = failure {
            batch.truncate(mark);
            self.mark_all_dirty();
            return Err(StateError::Codec { family, key, source });
        }
        self.dirty = 0;
        self.last_flush = Some(batch.ticket());
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
    /// remain or only dirty entries are left, if the last flush is committed
    /// (see the module docs). Returns how many were dropped.
    pub fn evict_clean(&mut self, max_entries: usize) -> usize {
        let excess = self.map.len().saturating_sub(max_entries);
        self.evict(|entries, _| entries < excess)
    }

    /// With a memory budget, drops clean entries until the estimated memory
    /// is 7/8 of the budget, if it exceeds the budget and the last flush is
    /// committed (see the module docs). Returns how many were dropped.
    pub fn evict_over_budget(&mut self) -> usize {
        let Some(budget) = self.budget.filter(|&budget| self.bytes > budget) else { return 0 };
        let excess = self.bytes - budget / 8 * 7;
        self.evict(|_, bytes| bytes < excess)
    }

    /// Drops clean and known-absent entries while `more(entries, bytes)`
    /// (what was dropped so far) holds: first those not used since the last
    /// pass, then any. Nothing while the last flush is not committed.
    fn evict(&mut self, mut more: impl FnMut(usize, usize) -> bool) -> usize {
        if self.last_flush.as_ref().is_some_and(|ticket| !ticket.is_committed()) {
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
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.map.iter().filter_map(|(key, slot)| match slot.state {
            SlotState::Clean | SlotState::Dirty => Some((key, &slot.value)),
            SlotState::Absent | SlotState::Deleted => None,
        })
    }
}

/// Reads and decodes `key` from the store, unless the backing is known empty.
/// `scratch` holds the key's bytes.
fn load<K: StateKey, V: DeserializeOwned>(
    store: &StateStore,
    family: Family,
    backing_empty: bool,
    key: &K,
    scratch: &mut Vec<u8>,
) -> Result<Option<V>, StateError> {
    if backing_empty {
        return Ok(None);
    }
    scratch.clear();
    key.write_key(scratch);
    store.get_in_group(family, key.group(), scratch, codec::decode::<V>)?.transpose().map_err(
        |source| StateError::Codec { family, key: crate::error::display_key(scratch), source },
    )
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
