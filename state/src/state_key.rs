//! [`StateKey`]: how a key of keyed state is stored and sharded.
//!
//! A [`Table`](crate::Table) is generic over its key type, so state can be
//! keyed by what the operator naturally holds (a user name, a (day, product)
//! pair) rather than by a string assembled per event. The key type decides
//! three things that are part of the on-disk format: its key group (the unit
//! of sharding and rescaling, which must equal the group the dataflow routes
//! the key by), its bytes in RocksDB, and how those bytes decode.

use std::hash::Hash;

use compact_str::CompactString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::keygroup::key_group;

/// A key of keyed state.
pub trait StateKey: Eq + Hash + Clone {
    /// The key group the key is stored in (see [`crate::keygroup`]): the
    /// group the dataflow routes the key by.
    fn group(&self) -> u16;

    /// Appends the key's bytes (without the group prefix) to `out`.
    fn write_key(&self, out: &mut Vec<u8>);

    /// The key whose [`write_key`](Self::write_key) bytes are `bytes`, if
    /// they are well-formed.
    fn read_key(bytes: &[u8]) -> Option<Self>;

    /// Heap memory the key owns (for the table's memory estimate).
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// A value of keyed state: encoded with the crate's codec, `Default` when
/// absent.
pub trait StateValue: Serialize + DeserializeOwned + Default {
    /// Heap memory the value owns (for the table's memory estimate; an
    /// estimate is enough, it decides when to evict).
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl StateValue for u64 {}
impl StateValue for bool {}

/// A boxed value: the same encoding as the value (serde's `Box` is
/// transparent), held out of line. A table's hash map stores its values
/// inline, in every bucket, occupied or not; boxing a large value keeps the
/// buckets small, for one allocation of the value's size per entry.
impl<V: StateValue> StateValue for Box<V> {
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<V>() + V::heap_bytes(self)
    }
}

/// Names are stored as their UTF-8 bytes, in the group of their hash.
impl StateKey for String {
    fn group(&self) -> u16 {
        key_group(self.as_bytes())
    }

    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    fn read_key(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }

    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

/// As `String`, without a heap allocation for names up to 24 bytes.
impl StateKey for CompactString {
    fn group(&self) -> u16 {
        key_group(self.as_bytes())
    }

    fn write_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    fn read_key(bytes: &[u8]) -> Option<Self> {
        CompactString::from_utf8(bytes).ok()
    }

    fn heap_bytes(&self) -> usize {
        if self.is_heap_allocated() { self.capacity() } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_the_group_of_their_hash() {
        for name in ["", "u1", "ünïcødé 🛒", "a\u{1f}b"] {
            let mut bytes = Vec::new();
            name.to_owned().write_key(&mut bytes);
            assert_eq!(String::read_key(&bytes).as_deref(), Some(name));
            let compact = CompactString::from(name);
            assert_eq!(compact.group(), key_group(name.as_bytes()));
            assert_eq!(name.to_owned().group(), compact.group());
            assert_eq!(CompactString::read_key(&bytes), Some(compact));
        }
        assert_eq!(String::read_key(&[0xff]), None);
    }
}
