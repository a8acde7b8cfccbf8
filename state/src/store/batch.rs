//! [`StateBatch`]: the unit of state change between two checkpoints.
//!
//! A batch collects puts, deletes and source offsets and is applied by
//! `StateStore::commit` before the worker's part of a checkpoint is taken,
//! so the part holds the state as of that commit *and* the offsets to resume
//! reading from. That is what makes recovery exact. (The commit writes the
//! batch a segment at a time, see `StateStore::commit`.)
//!
//! The batch is a byte arena independent of the store (no borrowed column
//! family handles), so it can be built by several tables before the store is
//! touched. Entries are appended to the current segment's buffer; table
//! flushes encode values directly into it, so a flush allocates nothing per
//! entry.
//!
//! The arena is a list of segments of about [`SEGMENT_BYTES`] each, not one
//! buffer: a snapshot encodes its entries a slice at a time into a batch
//! that reaches hundreds of megabytes, and one growing buffer would be
//! copied whole at each doubling (a 64 MiB copy, and page faults on a
//! fresh 128 MiB, in a single slice: the longest snapshot stops measured
//! in `bench/run`). With segments, a slice only ever fills or starts one,
//! and [`StateBatch::append`] moves segments instead of copying bytes.

use crate::keygroup::key_group;
use crate::store::family::Family;
use crate::store::keys::{push_offset_key, push_state_key};
use crate::store::ticket::{CommitTicket, CommitWaker};

/// Bytes the largest segments are filled to before the next one starts.
/// Segments start small and double up to this, so a small batch stays
/// small; each is allocated with a quarter more than it is filled to, so
/// an entry begun below the mark rarely grows its buffer.
pub const SEGMENT_BYTES: usize = 4 << 20;

/// Bytes the first segment is filled to.
const FIRST_SEGMENT_BYTES: usize = 4 << 10;

/// One recorded operation; its key (and value) live in its segment's
/// `data` between the end of the previous operation and `value_end`.
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

/// A set of state changes and source offsets, committed together by
/// `StateStore::commit` before a checkpoint's part is taken.
///
/// Keys given to [`put`](Self::put) and [`delete`](Self::delete) are user keys
/// whose key group is their hash ([`key_group`]); [`put_in_group`](Self::put_in_group)
/// and [`delete_in_group`](Self::delete_in_group) take the group from the
/// caller (keyed state whose key type decides its group, see `StateKey`). The
/// key-group prefix is added here. Later operations on the same key win.
#[derive(Debug, Default)]
pub struct StateBatch {
    /// The operations, in order, segment by segment; only the last one is
    /// written to.
    segments: Vec<Segment>,
    /// Operations in all segments.
    len: usize,
    /// Bytes of keys and values in all segments.
    bytes: usize,
    /// Tickets of the writers whose changes this batch carries.
    tickets: Vec<CommitTicket>,
}

/// A run of operations and the bytes of their keys and values.
#[derive(Debug, Default)]
pub(crate) struct Segment {
    ops: Vec<Op>,
    data: Vec<u8>,
    /// Once `data` holds this many bytes, the next operation starts a new
    /// segment.
    fill_to: usize,
}

impl Segment {
    /// The segment after `bytes` of earlier ones: as large as all of them
    /// together, within the bounds above.
    fn after(bytes: usize) -> Self {
        let fill_to = bytes.clamp(FIRST_SEGMENT_BYTES, SEGMENT_BYTES);
        Self {
            ops: Vec::with_capacity(fill_to / 128),
            data: Vec::with_capacity(fill_to + fill_to / 4),
            fill_to,
        }
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
        let segment = self.writable();
        let start = segment.data.len();
        push_state_key(group, key, &mut segment.data);
        let end = segment.data.len();
        segment.ops.push(Op { family, kind: OpKind::Delete, key_end: end, value_end: end });
        self.recorded(end - start);
    }

    /// Records that `next_offset` is the next offset to read from
    /// (`topic`, `partition`) once this batch is committed.
    pub fn set_offset(&mut self, topic: &str, partition: i32, next_offset: i64) {
        let segment = self.writable();
        let start = segment.data.len();
        push_offset_key(topic, partition, &mut segment.data);
        let key_end = segment.data.len();
        segment.data.extend_from_slice(&next_offset.to_be_bytes());
        let value_end = segment.data.len();
        segment.ops.push(Op { family: Family::Offsets, kind: OpKind::Put, key_end, value_end });
        self.recorded(value_end - start);
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
        let segment = self.writable();
        let start = segment.data.len();
        push_state_key(group, key, &mut segment.data);
        let key_end = segment.data.len();
        if let Err(e) = write(&mut segment.data) {
            segment.data.truncate(start);
            return Err(e);
        }
        let value_end = segment.data.len();
        segment.ops.push(Op { family, kind: OpKind::Put, key_end, value_end });
        self.recorded(value_end - start);
        Ok(())
    }

    /// The segment to write the next operation into: the last one, or a
    /// new one once the last is full.
    fn writable(&mut self) -> &mut Segment {
        if self.segments.last().is_none_or(|last| last.data.len() >= last.fill_to) {
            self.segments.push(Segment::after(self.bytes));
        }
        self.segments.last_mut().expect("a segment was just ensured")
    }

    /// Counts an operation of `bytes` just written.
    fn recorded(&mut self, bytes: usize) {
        self.len += 1;
        self.bytes += bytes;
    }

    /// A ticket that reports when this batch (or the batch it is appended
    /// to) is committed.
    pub fn ticket(&mut self) -> CommitTicket {
        self.waking_ticket(None)
    }

    /// A ticket like [`ticket`](Self::ticket) that also calls `wake` (if
    /// any) on the committing thread once the batch is committed.
    pub fn waking_ticket(&mut self, wake: Option<CommitWaker>) -> CommitTicket {
        let ticket = CommitTicket::new(wake);
        self.tickets.push(ticket.clone());
        ticket
    }

    /// Takes the batch's tickets: committing it no longer tells them.
    pub(crate) fn take_tickets(&mut self) -> Vec<CommitTicket> {
        std::mem::take(&mut self.tickets)
    }

    /// Moves every operation of `other` to the end of this batch, so several
    /// operators' changes can be committed together. Whole
    /// segments move: no key or value is copied.
    pub fn append(&mut self, mut other: StateBatch) {
        self.tickets.append(&mut other.tickets);
        self.len += other.len;
        self.bytes += other.bytes;
        // Later writes go to the last segment (or a new one): after all of
        // `other`'s operations, as they must.
        self.segments.extend(other.segments.into_iter().filter(|s| !s.ops.is_empty()));
    }

    /// Number of operations (puts, deletes and offsets) in the batch.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no operation.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total bytes of keys and values held (useful to size flushes).
    #[must_use]
    pub fn data_bytes(&self) -> usize {
        self.bytes
    }

    /// Iterates over `(op, key, value)`; `value` is empty for deletes.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> impl Iterator<Item = (Op, &[u8], &[u8])> + '_ {
        self.segments.iter().flat_map(Segment::entries)
    }

    /// Takes the batch apart for a commit: its segments in order, to be
    /// written and freed one at a time, and the tickets to mark once all
    /// are written.
    pub(crate) fn into_segments(self) -> (Vec<Segment>, Vec<CommitTicket>) {
        (self.segments, self.tickets)
    }
}

impl Segment {
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

    /// Bytes of keys and values held.
    pub(crate) fn data_bytes(&self) -> usize {
        self.data.len()
    }

    /// Number of operations.
    pub(crate) fn len(&self) -> usize {
        self.ops.len()
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
    fn a_large_batch_spans_segments_in_order_and_append_moves_them() {
        let value = [7_u8; 1000];
        let mut first = StateBatch::new();
        for i in 0..20_000_u32 {
            first.put(Family::Profiles, &i.to_be_bytes(), &value[..(i % 1000) as usize]);
        }
        assert!(first.segments.len() > 4, "{} segments", first.segments.len());
        assert!(first.segments.iter().all(|s| s.data.len() < s.fill_to + 1100));
        let largest = first.segments.iter().map(|s| s.data.capacity()).max().unwrap_or(0);
        assert!(largest <= SEGMENT_BYTES + SEGMENT_BYTES / 4, "{largest}");
        let mut second = StateBatch::new();
        second.delete(Family::VisitorSets, b"last");
        let (len, bytes) = (first.len(), first.data_bytes());
        first.append(second);
        first.set_offset("t", 0, 1);
        assert_eq!(first.len(), len + 2);
        let entries: Vec<_> = first.entries().collect();
        assert_eq!(entries.len(), first.len());
        for (i, (op, key, value)) in entries[..20_000].iter().enumerate() {
            assert_eq!(op.family, Family::Profiles);
            assert_eq!(split_state_key(key).unwrap().1, (i as u32).to_be_bytes());
            assert_eq!(value.len(), i % 1000);
        }
        assert_eq!(split_state_key(entries[20_000].1).unwrap().1, b"last");
        assert_eq!(parse_offset_key(entries[20_001].1), Some(("t".to_owned(), 0)));
        let total: usize = entries.iter().map(|(_, k, v)| k.len() + v.len()).sum();
        assert_eq!(total, first.data_bytes());
        assert!(first.data_bytes() > bytes);
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
