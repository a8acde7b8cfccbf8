//! Reading a [`Table`]'s entries from its store: all of them after a
//! restore ([`Table::preload`], as many as the memory budget allows), or one
//! on a cache miss ([`load`]).

use serde::de::DeserializeOwned;

use super::{LOADED, Slot, SlotState, Table, entry_bytes};
use crate::codec;
use crate::error::StateError;
use crate::keygroup::KEY_GROUPS;
use crate::state_key::{StateKey, StateValue};
use crate::store::StateStore;
use crate::store::family::Family;

impl<K, V> Table<K, V>
where
    K: StateKey,
    V: StateValue,
{
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
            if self.budget.is_some_and(|budget| self.memory_bytes() >= budget) {
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
            let slot = Slot {
                value,
                state: SlotState::Clean,
                generation: LOADED,
                referenced: true,
                bytes,
            };
            if self.map.insert(key, slot).is_none() {
                self.bytes += bytes as usize;
                loaded += 1;
            }
        }
        self.backing_empty = complete;
        Ok(loaded)
    }

    /// Whether every entry of the family is cached (after a complete
    /// preload, until the first eviction): misses need no RocksDB read.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.backing_empty
    }
}

/// Reads and decodes `key` from the store, unless the backing is known empty.
/// `scratch` holds the key's bytes.
pub(super) fn load<K: StateKey, V: DeserializeOwned>(
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
