//! [`StateBatch`]: the unit of atomic state change.
//!
//! A batch collects puts, deletes and source offsets and is applied by
//! `StateStore::commit` as one RocksDB `WriteBatch`, so the state and the
//! offsets it corresponds to land together or not at all. That is what makes
//! recovery exact: a checkpoint taken after a commit holds the state as of
//! that commit *and* the offsets to resume reading from.
//!
//! The batch is a byte arena independent of the store (no borrowed column
//! family handles), so it can be built by several tables before the store is
//! touched. Entries are appended to one buffer; table flushes encode values
//! directly into it, so a flush allocates nothing per entry.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::keygroup::key_group;
use crate::store::family::Family;
use crate::store::keys::{push_offset_key, push_state_key};

/// One recorded operation; its key (and value) live in `StateBatch::data`
/// between the end of the previous operation and `value_end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    pub(crate) family: Family,
    pub(crate) kind: OpKind,
    pub(crate) key_end: usize,
    pub(crate) value_end: usize,
}

/// Kind of a recorded operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Put,
    Delete,
}

/// A set of state changes and source offsets, committed atomically by
/// `StateStore::commit`.
///
/// Keys given to [`put`](Self::put) and [`delete`](Self::delete) are user keys
/// whose key group is their hash ([`key_group`]); [`put_in_group`](Self::put_in_group)
/// and [`delete_in_group`](Self::delete_in_group) take the group from the
/// caller (keyed state whose key type decides its group, see `StateKey`). The
/// key-group prefix is added here. Later operations on the same key win.
#[derive(Debug, Default)]
pub struct StateBatch {
    ops: Vec<Op>,
    data: Vec<u8>,
    /// Tickets of the writers whose changes this batch carries.
    tickets: Vec<CommitTicket>,
}

/// Tells whoever wrote into a [`StateBatch`] when the batch was committed:
/// from then on, the store returns what was written, so a cache may drop
/// its copy (see `Table::evict_clean`).
#[derive(Debug, Clone, Default)]
pub struct CommitTicket(Arc<AtomicBool>);

impl CommitTicket {
    /// Whether the batch holding this ticket has been committed.
    #[must_use]
    pub fn is_committed(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

impl StateBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` in `family`.
    ///
    /// `family` must not be [`Family::Offsets`]; use [`set_offset`](Self::set_offset).
    pub fn put(&mut self, family: Family, key: &[u8], value: &[u8]) {
        self.put_in_group(family, key_group(key), key, value);
    }

    /// Sets `key`, stored in key group `group`, to `value` in `family`.
    pub fn put_in_group(&mut self, family: Family, group: u16, key: &[u8], value: &[u8]) {
        let result: Result<(), std::convert::Infallible> =
            self.put_with(family, group, key, |out| {
                out.extend_from_slice(value);
                Ok(())
            });
        let Ok(()) = result;
    }

    /// Deletes `key` from `family`.
    ///
    /// `family` must not be [`Family::Offsets`].
    pub fn delete(&mut self, family: Family, key: &[u8]) {
        self.delete_in_group(family, key_group(key), key);
    }

    /// Deletes `key`, stored in key group `group`, from `family`.
    pub fn delete_in_group(&mut self, family: Family, group: u16, key: &[u8]) {
        debug_assert_ne!(family, Family::Offsets, "offsets are written with set_offset");
        push_state_key(group, key, &mut self.data);
        let end = self.data.len();
        self.ops.push(Op { family, kind: OpKind::Delete, key_end: end, value_end: end });
    }

    /// Records that `next_offset` is the next offset to read from
    /// (`topic`, `partition`) once this batch is committed.
    pub fn set_offset(&mut self, topic: &str, partition: i32, next_offset: i64) {
        push_offset_key(topic, partition, &mut self.data);
        let key_end = self.data.len();
        self.data.extend_from_slice(&next_offset.to_be_bytes());
        let value_end = self.data.len();
        self.ops.push(Op { family: Family::Offsets, kind: OpKind::Put, key_end, value_end });
    }

    /// Puts `key` with a value written by `write` appended to the arena.
    /// On error, the batch is left exactly as before the call.
    pub(crate) fn put_with<E>(
        &mut self,
        family: Family,
        group: u16,
        key: &[u8],
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        debug_assert_ne!(family, Family::Offsets, "offsets are written with set_offset");
        let start = self.data.len();
        push_state_key(group, key, &mut self.data);
        let key_end = self.data.len();
        if let Err(e) = write(&mut self.data) {
            self.data.truncate(start);
            return Err(e);
        }
        let value_end = self.data.len();
        self.ops.push(Op { family, kind: OpKind::Put, key_end, value_end });
        Ok(())
    }

    /// A ticket that reports when this batch (or the batch it is appended
    /// to) is committed.
    pub fn ticket(&mut self) -> CommitTicket {
        let ticket = CommitTicket::default();
        self.tickets.push(ticket.clone());
        ticket
    }

    /// Marks every ticket of the batch committed (by `StateStore::commit`,
    /// once the write succeeded).
    pub(crate) fn mark_committed(&self) {
        for ticket in &self.tickets {
            ticket.0.store(true, Ordering::Release);
        }
    }

    /// Moves every operation of `other` to the end of this batch, so several
    /// operators' changes can be committed as one atomic write.
    pub fn append(&mut self, mut other: StateBatch) {
        self.tickets.append(&mut other.tickets);
        if self.ops.is_empty() {
            other.tickets = std::mem::take(&mut self.tickets);
            *self = other;
            return;
        }
        let shift = self.data.len();
        self.data.extend_from_slice(&other.data);
        self.ops.extend(other.ops.into_iter().map(|op| Op {
            key_end: op.key_end + shift,
            value_end: op.value_end + shift,
            ..op
        }));
    }

    /// Number of operations (puts, deletes and offsets) in the batch.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch holds no operation.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Total bytes of keys and values held (useful to size flushes).
    #[must_use]
    pub fn data_bytes(&self) -> usize {
        self.data.len()
    }

    /// Iterates over `(op, key, value)`; `value` is empty for deletes.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (Op, &[u8], &[u8])> + '_ {
        let mut start = 0;
        self.ops.iter().map(move |&op| {
            let key = &self.data[start..op.key_end];
            let value = &self.data[op.key_end..op.value_end];
            start = op.value_end;
            (op, key, value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::{parse_offset_key, parse_offset_value, split_state_key};

    #[test]
    fn records_entries_in_order() {
        let mut batch = StateBatch::new();
        assert!(batch.is_empty());
        batch.put(Family::Profiles, b"alice", b"v1");
        batch.delete(Family::VisitorSets, b"bob");
        batch.set_offset("events", 3, 100);
        assert_eq!(batch.len(), 3);

        let entries: Vec<_> = batch.entries().collect();
        let (op, key, value) = entries[0];
        assert_eq!((op.family, op.kind), (Family::Profiles, OpKind::Put));
        assert_eq!(split_state_key(key).map(|(_, k)| k), Some(&b"alice"[..]));
        assert_eq!(value, b"v1");
        let (op, key, value) = entries[1];
        assert_eq!((op.family, op.kind), (Family::VisitorSets, OpKind::Delete));
        assert_eq!(split_state_key(key).map(|(_, k)| k), Some(&b"bob"[..]));
        assert!(value.is_empty());
        let (op, key, value) = entries[2];
        assert_eq!(op.family, Family::Offsets);
        assert_eq!(parse_offset_key(key), Some(("events".to_owned(), 3)));
        assert_eq!(parse_offset_value(value), Some(100));
    }

    #[test]
    fn append_keeps_every_entry_in_order() {
        let mut first = StateBatch::new();
        first.put(Family::Profiles, b"alice", b"1");
        let mut second = StateBatch::new();
        second.delete(Family::VisitorSets, b"bob");
        second.set_offset("t", 2, 7);
        first.append(second);
        first.append(StateBatch::new());
        let mut empty = StateBatch::new();
        empty.append(std::mem::take(&mut first));
        let entries: Vec<(Family, Vec<u8>, Vec<u8>)> =
            empty.entries().map(|(op, k, v)| (op.family, k.to_vec(), v.to_vec())).collect();
        assert_eq!(entries.len(), 3);
        assert_eq!(split_state_key(&entries[0].1).unwrap().1, b"alice");
        assert_eq!(entries[0].2, b"1");
        assert_eq!(split_state_key(&entries[1].1).unwrap().1, b"bob");
        assert_eq!(parse_offset_key(&entries[2].1), Some(("t".to_owned(), 2)));
        assert_eq!(parse_offset_value(&entries[2].2), Some(7));
    }

    #[test]
    fn failed_put_with_leaves_batch_unchanged() {
        let mut batch = StateBatch::new();
        batch.put(Family::Meta, b"k", b"v");
        let bytes = batch.data_bytes();
        let err = batch.put_with(Family::Profiles, 3, b"x", |out| {
            out.extend_from_slice(b"partial");
            Err("boom")
        });
        assert_eq!(err, Err("boom"));
        assert_eq!((batch.len(), batch.data_bytes()), (1, bytes));
    }
}
