//! Interned users: small integer ids that stay valid across restores and
//! rescales.
//!
//! Unique visitors are sets of users per (day, product); holding them as
//! sets of 32-bit ids instead of names is what makes them compact. An id is
//! issued by the profile operator, which owns the user (by key group), the
//! first time it meets the user, and kept in the user's profile:
//!
//! ```text
//!   id = sequence << 7 | key group of the user      (sequence ≥ 1 within the group)
//! ```
//!
//! Because the sequence is counted per key group, and key groups move
//! between workers whole, an id never has to be renumbered: a rescaled
//! restore moves each group's profiles, names and counter together. Each
//! new id's name is stored in the `user_names` family of the user's group,
//! keyed by its sequence, so a set of ids can be written out by name
//! ([`UserNames`]) when Redis is rewritten from state.

use std::ops::Range;
use std::path::Path;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use state::{Family, KEY_GROUPS, Manifest, StateBatch, StateError, StateStore, worker_for_group};

/// Bits of an id that hold the key group.
const GROUP_BITS: u32 = 7;
const _: () = assert!(KEY_GROUPS == 1 << GROUP_BITS, "user ids embed the key group in 7 bits");

/// A user's interned id (never 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub u32);

impl UserId {
    /// The id of the `sequence`-th user (from 1) of key group `group`.
    fn new(group: u16, sequence: u32) -> Self {
        Self(sequence << GROUP_BITS | u32::from(group))
    }

    /// The key group of the user.
    pub fn group(self) -> u16 {
        // Masked to 7 bits, so it fits.
        (self.0 & ((1 << GROUP_BITS) - 1)) as u16
    }

    /// The id's number within its group (from 1).
    pub fn sequence(self) -> u32 {
        self.0 >> GROUP_BITS
    }
}

/// Issues ids for the key groups one worker owns, and records each new
/// id's name until the next snapshot.
#[derive(Debug)]
pub struct UserIdIssuer {
    groups: Range<u16>,
    /// Next sequence per owned group.
    next: Vec<u32>,
    /// Ids issued since the last snapshot began, with their names.
    issued: Vec<(UserId, CompactString)>,
    /// Ids of the snapshot in progress not written yet, and how many of them
    /// were.
    owed: Vec<(UserId, CompactString)>,
    written: usize,
}

impl UserIdIssuer {
    /// An issuer for `groups`, continuing after the ids `store` holds.
    pub fn new(store: &StateStore, groups: Range<u16>) -> Result<Self, StateError> {
        let mut next = Vec::with_capacity(groups.len());
        for group in groups.clone() {
            let last = store.last_key_in_group(Family::UserNames, group)?;
            let last = last.and_then(|key| <[u8; 4]>::try_from(key.as_slice()).ok());
            next.push(last.map_or(1, |key| u32::from_be_bytes(key) + 1));
        }
        Ok(Self { groups, next, issued: Vec::new(), owed: Vec::new(), written: 0 })
    }

    /// A new id for `user`, whose key group is `group` (one of this worker's).
    ///
    /// # Panics
    ///
    /// If `group` is not this worker's, or the group has issued 2^25 ids
    /// (33 million users in one of 128 groups: 4 billion users in all).
    pub fn issue(&mut self, group: u16, user: &str) -> UserId {
        let index = usize::from(group - self.groups.start);
        let sequence = self.next[index];
        assert!(sequence < 1 << (32 - GROUP_BITS), "user ids of key group {group} exhausted");
        self.next[index] += 1;
        let id = UserId::new(group, sequence);
        self.issued.push((id, user.into()));
        id
    }

    /// Users this issuer's groups hold (every id ever issued in them).
    pub fn users(&self) -> usize {
        self.next.iter().map(|&next| next as usize - 1).sum()
    }

    /// Writes the names of the ids issued since the last call into `batch`.
    pub fn flush_into(&mut self, batch: &mut StateBatch) {
        self.begin_snapshot();
        while !self.continue_snapshot(batch, usize::MAX) {}
    }

    /// Starts a snapshot of the ids issued since the previous one, in O(1)
    /// (any earlier snapshot must be complete): ids issued from now on
    /// belong to the next.
    pub fn begin_snapshot(&mut self) {
        debug_assert!(self.written == self.owed.len(), "a snapshot of user ids is in progress");
        self.owed = std::mem::take(&mut self.issued);
        self.written = 0;
    }

    /// Writes up to `work` more names of the snapshot in progress into
    /// `batch`; returns whether all are written.
    pub fn continue_snapshot(&mut self, batch: &mut StateBatch, work: usize) -> bool {
        let end = self.owed.len().min(self.written.saturating_add(work));
        for (id, name) in &self.owed[self.written..end] {
            let key = id.sequence().to_be_bytes();
            batch.put_in_group(Family::UserNames, id.group(), &key, name.as_bytes());
        }
        self.written = end;
        if end < self.owed.len() {
            return false;
        }
        self.owed.clear();
        self.written = 0;
        true
    }
}

/// Looks up users' names by id, in a checkpoint or in one store.
pub trait UserNames {
    /// The name of `id`, if it was issued.
    fn name(&self, id: UserId) -> Result<Option<CompactString>, StateError>;
}

impl UserNames for StateStore {
    fn name(&self, id: UserId) -> Result<Option<CompactString>, StateError> {
        let key = id.sequence().to_be_bytes();
        let name = self.get_in_group(Family::UserNames, id.group(), &key, |bytes| {
            CompactString::from_utf8_lossy(bytes)
        })?;
        Ok(name)
    }
}

/// Every worker's part of one checkpoint, opened read-only, to name users
/// of any key group (after a rescale, a worker's unique visitors hold ids of
/// users owned by every worker).
#[derive(Debug)]
pub struct CheckpointUserNames {
    parts: Vec<StateStore>,
}

impl CheckpointUserNames {
    /// Opens the parts of checkpoint `manifest` stored in `checkpoint`.
    pub fn open(checkpoint: &Path, manifest: &Manifest) -> Result<Self, StateError> {
        let parts = (0..manifest.workers)
            .map(|worker| StateStore::open_read_only(&checkpoint.join(format!("worker-{worker}"))))
            .collect::<Result<_, _>>()?;
        Ok(Self { parts })
    }
}

impl UserNames for CheckpointUserNames {
    fn name(&self, id: UserId) -> Result<Option<CompactString>, StateError> {
        match self.parts.get(worker_for_group(id.group(), self.parts.len())) {
            Some(part) => part.name(id),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use state::{StoreOptions, groups_for_worker};

    #[test]
    fn ids_carry_their_group_and_continue_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path(), &StoreOptions::default()).unwrap();
        let groups = groups_for_worker(1, 3);
        let mut issuer = UserIdIssuer::new(&store, groups.clone()).unwrap();
        let g = groups.start + 2;
        let first = issuer.issue(g, "alice");
        let second = issuer.issue(g, "bob");
        let other = issuer.issue(groups.start, "carol");
        assert_eq!((first.group(), first.sequence()), (g, 1));
        assert_eq!((second.group(), second.sequence()), (g, 2));
        assert_eq!((other.group(), other.sequence()), (groups.start, 1));
        assert_ne!(first.0, 0);
        let mut batch = StateBatch::new();
        issuer.flush_into(&mut batch);
        store.commit(batch).unwrap();

        assert_eq!(store.name(second).unwrap().as_deref(), Some("bob"));
        assert_eq!(store.name(UserId::new(g, 3)).unwrap(), None);
        let mut reopened = UserIdIssuer::new(&store, groups).unwrap();
        assert_eq!(reopened.issue(g, "dave"), UserId::new(g, 3));
        assert_eq!(reopened.issue(g + 1, "erin"), UserId::new(g + 1, 1));
    }

    #[test]
    fn the_largest_id_keeps_its_group() {
        let id = UserId::new(127, (1 << 25) - 1);
        assert_eq!((id.group(), id.sequence(), id.0), (127, (1 << 25) - 1, u32::MAX));
    }
}
