//! Taking a [`Table`]'s snapshot a slice at a time (see the module docs of
//! `table`): the entries of the generation that ended are owed to the
//! snapshot until written into its batch, by [`Table::continue_snapshot`]
//! or, just before they change, by the table's copy-on-write.

use super::{Slot, SlotState, Table, entry_bytes};
use crate::codec;
use crate::error::StateError;
use crate::state_key::{StateKey, StateValue};
use crate::store::batch::StateBatch;
use crate::store::family::Family;

/// A snapshot in progress.
#[derive(Debug)]
pub(super) struct Snapshot<K> {
    /// Keys changed in the generation the snapshot closed.
    owed: Vec<K>,
    /// How many of `owed` were visited.
    next: usize,
    /// What was written so far.
    pub(super) out: SnapshotBatch,
}

impl<K> Snapshot<K> {
    /// Keys not visited yet (some may have been written by copy-on-write).
    pub(super) fn remaining(&self) -> usize {
        self.owed.len() - self.next
    }
}

/// The batch a snapshot writes its entries into.
#[derive(Debug, Default)]
pub(super) struct SnapshotBatch(StateBatch);

impl SnapshotBatch {
    /// Writes an owed slot (a put, or a delete) and marks it clean (or
    /// absent), measuring its memory again into `table_bytes`.
    pub(super) fn write<K: StateKey, V: StateValue>(
        &mut self,
        family: Family,
        key: &K,
        slot: &mut Slot<V>,
        key_bytes: &mut Vec<u8>,
        table_bytes: &mut usize,
    ) -> Result<(), StateError> {
        key_bytes.clear();
        key.write_key(key_bytes);
        match slot.state {
            SlotState::Dirty => {
                let encoded = self.0.put_with(family, key.group(), key_bytes, |out| {
                    codec::encode_into(&slot.value, out).map(drop)
                });
                encoded.map_err(|source| StateError::Codec {
                    family,
                    key: crate::error::display_key(key_bytes),
                    source,
                })?;
                slot.state = SlotState::Clean;
            }
            SlotState::Deleted => {
                self.0.delete_in_group(family, key.group(), key_bytes);
                slot.state = SlotState::Absent;
            }
            SlotState::Clean | SlotState::Absent => return Ok(()),
        }
        let measured = entry_bytes(key, &slot.value);
        *table_bytes = *table_bytes - slot.bytes as usize + measured as usize;
        slot.bytes = measured;
        Ok(())
    }
}

impl<K, V> Table<K, V>
where
    K: StateKey,
    V: StateValue,
{
    /// Starts a snapshot of every change since the previous one, in O(1):
    /// from now on, changes belong to the next snapshot. Finish it with
    /// [`continue_snapshot`](Self::continue_snapshot).
    ///
    /// # Panics
    ///
    /// If a snapshot is in progress (finish it first).
    pub fn begin_snapshot(&mut self) {
        assert!(self.snapshot.is_none(), "a snapshot of {} is in progress", self.family);
        // At one snapshot per millisecond, 49 days of snapshots; the job
        // takes one per checkpoint interval (seconds).
        self.generation = self.generation.checked_add(1).expect("fewer than 2^32 snapshots");
        let owed = std::mem::take(&mut self.dirty_keys);
        self.snapshot = Some(Snapshot { owed, next: 0, out: SnapshotBatch::default() });
    }

    /// Whether a snapshot is in progress.
    #[must_use]
    pub fn snapshot_in_progress(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Writes up to `max_entries` more owed entries into the snapshot in
    /// progress; returns its batch once every owed entry is written (and
    /// `None` before, or if no snapshot is in progress).
    ///
    /// On error the snapshot is abandoned and its entries are dirty again, so
    /// no change is lost: the next snapshot writes them.
    pub fn continue_snapshot(
        &mut self,
        max_entries: usize,
    ) -> Result<Option<StateBatch>, StateError> {
        let Some(snapshot) = self.snapshot.as_mut() else { return Ok(None) };
        let end = snapshot.owed.len().min(snapshot.next.saturating_add(max_entries));
        for index in snapshot.next..end {
            let key = &snapshot.owed[index];
            // Owed entries are dirty, hence never evicted: always cached.
            let Some(slot) = self.map.get_mut(key) else { continue };
            if !slot.is_owed(self.generation) {
                continue; // written by copy-on-write
            }
            let written =
                snapshot.out.write(self.family, key, slot, &mut self.key_bytes, &mut self.bytes);
            if let Err(err) = written {
                self.abandon_snapshot();
                return Err(err);
            }
        }
        snapshot.next = end;
        if snapshot.next < snapshot.owed.len() {
            return Ok(None);
        }
        let Some(Snapshot { out: SnapshotBatch(mut batch), .. }) = self.snapshot.take() else {
            return Ok(None);
        };
        let ticket = batch.waking_ticket(self.commit_waker.clone());
        self.uncommitted.push_back((ticket, self.generation));
        Ok(Some(batch))
    }

    /// Writes every change since the previous snapshot into `batch` at once
    /// (finishing a snapshot in progress first) and marks the entries clean.
    /// Returns how many entries were written.
    ///
    /// On error `batch` is left as before the call and every change is kept
    /// for the next snapshot, so no change can be lost.
    pub fn flush_into(&mut self, batch: &mut StateBatch) -> Result<usize, StateError> {
        let mut written = StateBatch::new();
        if self.snapshot.is_some()
            && let Some(earlier) = self.continue_snapshot(usize::MAX)?
        {
            written.append(earlier);
        }
        self.begin_snapshot();
        if let Some(snapshot) = self.continue_snapshot(usize::MAX)? {
            written.append(snapshot);
        }
        let entries = written.len();
        batch.append(written);
        Ok(entries)
    }

    /// Gives up the snapshot in progress: every entry it still owed, or
    /// wrote, is dirty again in the current generation.
    fn abandon_snapshot(&mut self) {
        let Some(snapshot) = self.snapshot.take() else { return };
        for key in snapshot.owed {
            let Some(slot) = self.map.get_mut(&key) else { continue };
            let changed_since = matches!(slot.state, SlotState::Dirty | SlotState::Deleted)
                && slot.generation == self.generation;
            if changed_since {
                continue; // listed in this generation already
            }
            slot.state = match slot.state {
                SlotState::Clean | SlotState::Dirty => SlotState::Dirty,
                SlotState::Absent | SlotState::Deleted => SlotState::Deleted,
            };
            slot.generation = self.generation;
            self.dirty_keys.push(key);
        }
    }
}
