//! [`Table`]: a typed, in-memory write-back cache over one state family.
//!
//! The dataflow touches state once per event, millions of times per second,
//! so state lives in a hash map and RocksDB is only read on a cache miss and
//! written at checkpoints through a [`StateBatch`].
//!
//! # Dirty tracking and snapshots
//!
//! Each entry carries its state (clean, dirty, absent, deleted) and the
//! table *generation* it was last changed in; the first change of an entry
//! in a generation appends its key to the generation's list of dirty keys
//! (a hit on an entry already dirty only compares two fields). A snapshot
//! ([`Table::begin_snapshot`]) costs O(1) whatever the state's size: it
//! starts a new generation and takes the list. The entries it lists are then
//! *owed* to the snapshot: [`Table::continue_snapshot`] encodes them a slice
//! at a time while the operator goes on processing, and an owed entry about
//! to change is encoded first (copy-on-write), so the snapshot holds every
//! entry exactly as it was when the snapshot began. [`Table::flush_into`]
//! does all of it at once.
//!
//! # Memory model
//!
//! Every entry's memory is estimated (its key and slot, their heap data, see
//! [`StateValue::heap_bytes`]) when it is loaded and each time it is written
//! into a snapshot, and the table keeps the total; the hash map's empty
//! buckets count too, since the map holds keys and slots (values included)
//! inline in every bucket: a table of large values boxes them
//! (`Table<K, Box<V>>`), so that empty buckets stay small. With a budget
//! ([`Table::set_memory_budget`]), [`Table::evict_over_budget`] drops clean
//! entries once the total exceeds it, entries not used since the previous
//! eviction pass first (CLOCK's second chance), so the hot set stays cached
//! and the rest lives only in RocksDB, read back on a miss. Dirty entries are
//! never evicted (RocksDB does not hold them yet), and an entry a snapshot
//! wrote only once that snapshot's batch is committed ([`CommitTicket`]):
//! each entry remembers the generation of its last change, and the table
//! the generations whose snapshots are committed. Eviction goes on while a
//! snapshot is taken (a catch-up is nearly always taking one), so the
//! memory above the budget is at most what about two checkpoint intervals
//! dirty, unless the writer follows [`Table::memory_pressure`]: once the
//! entries exceed the budget by half, it waits for a commit in flight, or
//! takes a snapshot early (a spill) and commits it, so that the memory
//! above the budget stays bounded however fast changes come and however
//! long checkpoints take. A pass that could not get under the budget is
//! not repeated until a snapshot commits or the table grows by an eighth
//! of the budget, so a table of mostly dirty entries is not scanned on
//! every call. After a pass that left the hash map under a third full, the
//! map shrinks, so the room of entries evicted does not stay allocated; an
//! evicted entry's bucket stays allocated otherwise, so a pass evicts until
//! the memory it leaves, the map's buckets after it included, is 7/8 of the
//! budget: for small values that means enough entries for the map to
//! shrink, not every entry it may evict.
//! Lookups of keys absent from RocksDB are cached too (as "absent"), so a
//! miss costs at most one RocksDB read per key.
//!
//! # Consistency
//!
//! Once a snapshot's batch is returned its entries are clean: the caller must
//! commit the batch, and treat a failed commit as fatal (restart from the
//! last checkpoint), since the cache no longer knows which entries were lost.

mod eviction;
mod loading;
mod snapshot;

use std::collections::VecDeque;
use std::hash::Hash;

use hashbrown::HashMap;
use hashbrown::hash_map::EntryRef;

use crate::error::StateError;
use crate::state_key::{StateKey, StateValue};
use crate::store::StateStore;
use crate::store::family::Family;
use crate::store::ticket::{CommitTicket, CommitWaker};

pub use hashbrown::Equivalent;

pub use self::eviction::MemoryPressure;

use self::loading::load;
use self::snapshot::Snapshot;

/// Cache state of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Same value as in RocksDB.
    Clean,
    /// Modified since the last snapshot: must be written.
    Dirty,
    /// Known absent from RocksDB (value is `V::default()`).
    Absent,
    /// Removed since the last snapshot: must be deleted (value is
    /// `V::default()`).
    Deleted,
}

#[derive(Debug)]
struct Slot<V> {
    value: V,
    state: SlotState,
    /// The generation of the last change (for `Dirty` and `Deleted`).
    generation: u32,
    /// Used since the last eviction pass.
    referenced: bool,
    /// The entry's estimated memory when last measured.
    bytes: u32,
}

impl<V> Slot<V> {
    /// Whether the slot changed in an earlier generation than `current` and
    /// is not written yet: it belongs to the snapshot in progress.
    fn is_owed(&self, current: u32) -> bool {
        matches!(self.state, SlotState::Dirty | SlotState::Deleted) && self.generation != current
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
    /// The current generation (see the module docs).
    generation: u32,
    /// Keys changed in the current generation, each once.
    dirty_keys: Vec<K>,
    /// The snapshot being taken, if any.
    snapshot: Option<Snapshot<K>>,
    /// The backing family is known to hold none of this table's keys that are
    /// not in `map`, so misses need no RocksDB read.
    backing_empty: bool,
    /// Estimated memory of the cached entries.
    bytes: usize,
    /// Evict clean entries beyond this many bytes (`None`: never).
    budget: Option<usize>,
    /// Snapshots whose batches are not known to be committed yet, oldest
    /// first, each with the generation that began with it.
    uncommitted: VecDeque<(CommitTicket, u32)>,
    /// Every change of a generation before this one is committed to the
    /// store: such clean entries may be evicted.
    committed_before: u32,
    /// The table's memory and `committed_before` after the last eviction
    /// pass, if it could not get under the budget.
    futile_pass: Option<(usize, u32)>,
    /// Called when a snapshot's batch is committed (see
    /// [`memory_pressure`](Self::memory_pressure)).
    commit_waker: Option<CommitWaker>,
}

/// The generation of entries loaded from the store: before any change.
const LOADED: u32 = 0;

/// Memory of one bucket of the hash map: a key and its slot inline, and
/// the bucket's control byte.
const fn bucket_bytes<K, V>() -> usize {
    std::mem::size_of::<(K, Slot<V>)>() + 1
}

/// Estimated memory of one entry: its bucket and the heap data of its key
/// and value.
fn entry_bytes<K: StateKey, V: StateValue>(key: &K, value: &V) -> u32 {
    let bytes = bucket_bytes::<K, V>() + key.heap_bytes() + value.heap_bytes();
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
            generation: LOADED + 1,
            dirty_keys: Vec::new(),
            snapshot: None,
            backing_empty: false,
            bytes: 0,
            budget: None,
            uncommitted: VecDeque::new(),
            committed_before: LOADED + 1,
            futile_pass: None,
            commit_waker: None,
        }
    }

    /// An empty cache over a family known to be empty in the store (e.g. a
    /// fresh start, see `StateStore::is_empty`): misses never read RocksDB.
    ///
    /// Only valid if this table is the only writer of its keys in the family.
    #[must_use]
    pub fn with_empty_backing(family: Family) -> Self {
        Self { backing_empty: true, ..Self::new(family) }
    }

    /// Lets [`evict_over_budget`](Self::evict_over_budget) keep the
    /// estimated memory of the cached entries near `bytes` (`None`: cache
    /// everything).
    pub fn set_memory_budget(&mut self, bytes: Option<usize>) {
        self.budget = bytes;
    }

    /// Estimated memory of the cached entries and of the hash map's empty
    /// buckets (the room it keeps for more entries), in bytes.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        let buckets = eviction::buckets_of(self.map.capacity());
        self.bytes + buckets.saturating_sub(self.map.len()) * bucket_bytes::<K, V>()
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
        let generation = self.generation;
        let vacant = match self.map.entry_ref(key) {
            EntryRef::Occupied(mut entry) => {
                let slot = entry.get_mut();
                slot.referenced = true;
                if slot.state == SlotState::Dirty && slot.generation == generation {
                    return Ok(&mut entry.into_mut().value);
                }
                // First change of the entry in this generation.
                let key = entry.key().clone();
                let slot = entry.into_mut();
                let owed_to = self.snapshot.as_mut().filter(|_| slot.is_owed(generation));
                save_before_change(
                    owed_to,
                    self.family,
                    &key,
                    slot,
                    &mut self.key_bytes,
                    &mut self.bytes,
                )?;
                // A removal in this generation listed the key already.
                if slot.state != SlotState::Deleted {
                    self.dirty_keys.push(key);
                }
                slot.state = SlotState::Dirty;
                slot.generation = generation;
                return Ok(&mut slot.value);
            }
            EntryRef::Vacant(entry) => entry,
        };
        let key: K = vacant.key().into();
        let loaded = load(store, self.family, self.backing_empty, &key, &mut self.key_bytes)?;
        let value = loaded.unwrap_or_default();
        let bytes = entry_bytes(&key, &value);
        self.bytes += bytes as usize;
        self.dirty_keys.push(key.clone());
        let slot = Slot { value, state: SlotState::Dirty, generation, referenced: true, bytes };
        Ok(&mut vacant.insert_with_key(key, slot).value)
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
                let loaded =
                    load(store, self.family, self.backing_empty, &key, &mut self.key_bytes)?;
                let (value, state) = match loaded {
                    Some(value) => (value, SlotState::Clean),
                    None => (V::default(), SlotState::Absent),
                };
                let bytes = entry_bytes(&key, &value);
                self.bytes += bytes as usize;
                let slot = Slot { value, state, generation: LOADED, referenced: true, bytes };
                entry.insert_with_key(key, slot)
            }
        };
        Ok(match slot.state {
            SlotState::Clean | SlotState::Dirty => Some(&slot.value),
            SlotState::Absent | SlotState::Deleted => None,
        })
    }

    /// Removes `key`: the next snapshot deletes it from RocksDB. Never reads
    /// RocksDB.
    pub fn remove<Q>(&mut self, key: &Q) -> Result<(), StateError>
    where
        Q: Hash + Equivalent<K> + ?Sized,
        for<'q> &'q Q: Into<K>,
    {
        let generation = self.generation;
        match self.map.entry_ref(key) {
            EntryRef::Occupied(entry) => {
                let key = entry.key().clone();
                let slot = entry.into_mut();
                let owed_to = self.snapshot.as_mut().filter(|_| slot.is_owed(generation));
                save_before_change(
                    owed_to,
                    self.family,
                    &key,
                    slot,
                    &mut self.key_bytes,
                    &mut self.bytes,
                )?;
                match slot.state {
                    SlotState::Absent => return Ok(()),
                    SlotState::Deleted if slot.generation == generation => return Ok(()),
                    SlotState::Clean => self.dirty_keys.push(key),
                    // Changed in this generation: listed already.
                    SlotState::Dirty | SlotState::Deleted => {}
                }
                slot.value = V::default();
                slot.state = SlotState::Deleted;
                slot.generation = generation;
            }
            EntryRef::Vacant(entry) => {
                let key: K = entry.key().into();
                let value = V::default();
                let bytes = entry_bytes(&key, &value);
                self.bytes += bytes as usize;
                self.dirty_keys.push(key.clone());
                let slot =
                    Slot { value, state: SlotState::Deleted, generation, referenced: true, bytes };
                entry.insert_with_key(key, slot);
            }
        }
        Ok(())
    }

    /// Number of entries waiting to be written: changed in this generation,
    /// or owed to the snapshot in progress.
    #[must_use]
    pub fn dirty_len(&self) -> usize {
        self.dirty_keys.len() + self.snapshot.as_ref().map_or(0, Snapshot::remaining)
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

/// Copy-on-write: writes `slot`, about to change, into the snapshot it is
/// owed to (if any), so the snapshot gets the value it began with.
fn save_before_change<K: StateKey, V: StateValue>(
    owed_to: Option<&mut Snapshot<K>>,
    family: Family,
    key: &K,
    slot: &mut Slot<V>,
    key_bytes: &mut Vec<u8>,
    table_bytes: &mut usize,
) -> Result<(), StateError> {
    match owed_to {
        Some(snapshot) => snapshot.out.write(family, key, slot, key_bytes, table_bytes),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
