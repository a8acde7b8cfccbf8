//! [`VisitorSet`]: the exact set of users who viewed one product on one day.
//!
//! Users are interned ids (`user_ids.rs`), so a set is a set of `u32`. Most
//! (day, product) pairs have tens to hundreds of visitors, spread over the
//! whole id space: a sorted vector holds those in 4 bytes each, where a
//! Roaring bitmap would spend a container (tens of bytes) on nearly every
//! one. Popular products' sets become Roaring bitmaps once they outgrow
//! [`SORTED_MAX`] ids, which bounds the cost of an insertion and compresses
//! dense ranges. Either way the set is exact: its length is the count of
//! unique visitors.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::aggregates::profiles::user_ids::UserId;

/// Most ids held as a sorted vector; larger sets are Roaring bitmaps.
pub const SORTED_MAX: usize = 4096;

/// A set of user ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum VisitorSet {
    /// Up to [`SORTED_MAX`] ids, ascending.
    Sorted(Vec<u32>),
    /// Larger sets.
    Bitmap(RoaringBitmap),
}

impl Default for VisitorSet {
    fn default() -> Self {
        Self::Sorted(Vec::new())
    }
}

/// Heap memory: the vector's capacity, or the bitmap's serialized size (close
/// to its memory).
impl state::StateValue for VisitorSet {
    fn heap_bytes(&self) -> usize {
        match self {
            Self::Sorted(ids) => ids.capacity() * 4,
            Self::Bitmap(bitmap) => bitmap.serialized_size(),
        }
    }
}

impl VisitorSet {
    /// Adds `user`; returns whether it was absent.
    pub fn insert(&mut self, user: UserId) -> bool {
        match self {
            Self::Sorted(ids) => {
                let Err(at) = ids.binary_search(&user.0) else { return false };
                ids.insert(at, user.0);
                if ids.len() > SORTED_MAX {
                    let bitmap = RoaringBitmap::from_sorted_iter(ids.iter().copied());
                    // The ids are sorted and distinct, so this cannot fail.
                    *self = Self::Bitmap(bitmap.unwrap_or_default());
                }
                true
            }
            Self::Bitmap(bitmap) => bitmap.insert(user.0),
        }
    }

    /// Number of users.
    pub fn len(&self) -> u64 {
        match self {
            Self::Sorted(ids) => ids.len() as u64,
            Self::Bitmap(bitmap) => bitmap.len(),
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every user, ascending.
    pub fn iter(&self) -> impl Iterator<Item = UserId> + '_ {
        let (sorted, bitmap) = match self {
            Self::Sorted(ids) => (Some(ids.iter().copied()), None),
            Self::Bitmap(bitmap) => (None, Some(bitmap.iter())),
        };
        sorted.into_iter().flatten().chain(bitmap.into_iter().flatten()).map(UserId)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn equals_a_btree_set_through_the_switch_to_a_bitmap() {
        let mut state = 11_u64;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (state >> 40) as u32
        };
        let mut set = VisitorSet::default();
        let mut reference = BTreeSet::new();
        for _ in 0..3 * SORTED_MAX {
            // Repeats are frequent: ids below 2^16 collide often.
            let id = next() % 20_000 + 1;
            assert_eq!(set.insert(UserId(id)), reference.insert(id));
        }
        assert!(matches!(set, VisitorSet::Bitmap(_)), "large sets become bitmaps");
        assert_eq!(set.len(), reference.len() as u64);
        assert!(set.iter().map(|u| u.0).eq(reference.iter().copied()));
    }

    #[test]
    fn encodes_and_decodes_both_forms() {
        let mut small = VisitorSet::default();
        for id in [9, 3, u32::MAX, 3] {
            small.insert(UserId(id));
        }
        assert_eq!(small, VisitorSet::Sorted(vec![3, 9, u32::MAX]));
        let mut large = VisitorSet::default();
        for id in 0..=SORTED_MAX as u32 {
            large.insert(UserId(id * 7));
        }
        for set in [small, large, VisitorSet::default()] {
            let bytes = state::codec::encode(&set).unwrap();
            assert_eq!(state::codec::decode::<VisitorSet>(&bytes).unwrap(), set);
        }
    }
}
