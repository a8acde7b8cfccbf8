//! The fixed set of column families of a worker's state store.
//!
//! Each family is one RocksDB column family, so each can have its own
//! compaction and be scanned independently. Names are part of the on-disk
//! format and must never change.

use std::fmt;

/// A column family of the state store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Per-user profile: the user's interned id and tag scores (keyed state,
    /// by user).
    Profiles,
    /// Interned user id → user name, in the key group of the user, so a
    /// set of user ids can be written out by name (keyed state).
    UserNames,
    /// Daily unique visitors: one set of interned user ids per (day,
    /// product) (keyed state, by day and product).
    VisitorSets,
    /// Recent events per key, e.g. for de-duplication (keyed state).
    RecentEvents,
    /// Source offsets (`topic`, `partition`) → next offset to read. Written
    /// only through `StateBatch::set_offset`, in the same atomic batch as the
    /// state those offsets correspond to.
    Offsets,
    /// Worker-level metadata (format version, epoch, ...).
    Meta,
    /// Weight of one day's events per tag, the input of the tag
    /// leaderboards (keyed state, by day and tag). Last, so the earlier
    /// families keep their indices.
    TagWeights,
}

impl Family {
    /// Every family, in a fixed order (the order of [`Family::index`]).
    pub const ALL: [Family; 7] = [
        Family::Profiles,
        Family::UserNames,
        Family::VisitorSets,
        Family::RecentEvents,
        Family::Offsets,
        Family::Meta,
        Family::TagWeights,
    ];

    /// The RocksDB column family name. Stable: part of the on-disk format.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Family::Profiles => "profiles",
            Family::UserNames => "user_names",
            Family::VisitorSets => "visitor_sets",
            Family::RecentEvents => "recent_events",
            Family::Offsets => "offsets",
            Family::Meta => "meta",
            Family::TagWeights => "tag_weights",
        }
    }

    /// Whether entries are keyed state, sharded by key group (the others are
    /// worker-level: offsets and metadata).
    #[must_use]
    pub const fn is_keyed(self) -> bool {
        !matches!(self, Family::Offsets | Family::Meta)
    }

    /// The position of this family in [`Family::ALL`].
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The family with the given column family name, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_unique() {
        let names: Vec<_> = Family::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "profiles",
                "user_names",
                "visitor_sets",
                "recent_events",
                "offsets",
                "meta",
                "tag_weights"
            ]
        );
        for (i, family) in Family::ALL.into_iter().enumerate() {
            assert_eq!(family.index(), i);
            assert_eq!(Family::from_name(family.name()), Some(family));
        }
        assert_eq!(Family::from_name("default"), None);
    }
}
