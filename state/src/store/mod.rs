//! [`StateStore`]: one worker's durable state, one RocksDB instance.
//!
//! Each timely worker owns one store in its own directory, with one column
//! family per [`Family`]. Keyed state is stored under key-group-prefixed keys
//! (see `keys.rs`), so any range of key groups can be scanned to restore state
//! into a different number of workers. All writes go through
//! [`StateStore::commit`] of a [`StateBatch`], which carries both state and
//! source offsets.
//!
//! The checkpoint protocol (RocksDB checkpoints plus manifests) is built on
//! top of this type and reaches the database through [`StateStore::db`].
//!
//! Beside the store itself: [`batch`] (the only way to write), [`ticket`]
//! (telling a batch's writers it was committed), [`family`] (the column
//! families), [`keys`] (physical key layouts) and [`options`] (RocksDB
//! tuning within a memory share).

pub(crate) mod batch;
pub(crate) mod family;
pub(crate) mod keys;
pub(crate) mod options;
pub(crate) mod ticket;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rocksdb::{
    Cache, ColumnFamily, ColumnFamilyDescriptor, DB, FlushOptions, IteratorMode, ReadOptions,
    WriteBatch, WriteOptions,
};

use crate::error::{StateError, display_key};
use crate::keygroup::key_group;
use crate::store::batch::{OpKind, StateBatch};
use crate::store::family::Family;
use crate::store::keys::{
    group_bounds, parse_offset_key, parse_offset_value, split_state_key, with_state_key,
};
use crate::store::options::StoreOptions;
use crate::store::ticket::CommitTicket;

/// How long [`StateStore::flush_memtables`] waits before it logs a warning.
const FLUSH_WARNING: std::time::Duration = std::time::Duration::from_secs(10);

/// One entry of [`StateStore::scan`]: (key group, key, value).
pub type ScannedEntry = (u16, Vec<u8>, Vec<u8>);

/// A worker's RocksDB-backed state store.
pub struct StateStore {
    db: DB,
    path: PathBuf,
    read_opts: ReadOptions,
    write_opts: WriteOptions,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl StateStore {
    /// Opens (or creates) the store in `dir`, creating missing families.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| StateError::Io { path: dir.to_owned(), source })?;
        let rocks_err = |op| move |source| StateError::Rocks { op, path: dir.to_owned(), source };

        let db_opts = options.db_options();
        let cache = Cache::new_lru_cache(options.block_cache_bytes);
        // Families present on disk but unknown to this version (e.g. written
        // by a newer one) must be opened too, or RocksDB refuses to open.
        let existing = if dir.join("CURRENT").exists() {
            DB::list_cf(&db_opts, dir).map_err(rocks_err("list column families"))?
        } else {
            Vec::new()
        };
        let mut descriptors: Vec<ColumnFamilyDescriptor> = Family::ALL
            .iter()
            .map(|&f| ColumnFamilyDescriptor::new(f.name(), options.family_options(f, &cache)))
            .collect();
        for name in existing {
            if Family::from_name(&name).is_none() && name != rocksdb::DEFAULT_COLUMN_FAMILY_NAME {
                tracing::warn!(path = %dir.display(), family = %name, "unknown column family");
                descriptors.push(ColumnFamilyDescriptor::new(name, db_opts.clone()));
            }
        }
        let db = DB::open_cf_descriptors(&db_opts, dir, descriptors).map_err(rocks_err("open"))?;

        let mut write_opts = WriteOptions::default();
        write_opts.set_sync(options.sync_writes);
        write_opts.disable_wal(!options.write_ahead_log);
        tracing::debug!(path = %dir.display(), "state store opened");
        Ok(Self { db, path: dir.to_owned(), read_opts: ReadOptions::default(), write_opts })
    }

    /// Opens an existing store (e.g. one worker's part of a checkpoint)
    /// without writing anything to `dir`.
    pub fn open_read_only(dir: &Path) -> Result<Self, StateError> {
        let rocks_err = |op| move |source| StateError::Rocks { op, path: dir.to_owned(), source };
        let opts = rocksdb::Options::default();
        let families = DB::list_cf(&opts, dir).map_err(rocks_err("list column families"))?;
        let db = DB::open_cf_for_read_only(&opts, dir, families, false)
            .map_err(rocks_err("open read-only"))?;
        Ok(Self {
            db,
            path: dir.to_owned(),
            read_opts: ReadOptions::default(),
            write_opts: WriteOptions::default(),
        })
    }

    /// The store directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying database, for the checkpoint protocol.
    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    fn cf(&self, family: Family) -> Result<&ColumnFamily, StateError> {
        self.db
            .cf_handle(family.name())
            .ok_or_else(|| StateError::MissingFamily { family, path: self.path.clone() })
    }

    fn rocks(&self, op: &'static str, source: rocksdb::Error) -> StateError {
        StateError::Rocks { op, path: self.path.clone(), source }
    }

    /// The value of `key` in `family`, copied out.
    pub fn get(&self, family: Family, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.get_with(family, key, <[u8]>::to_vec)
    }

    /// Applies `f` to the value of `key` in `family` without copying it out of
    /// RocksDB (the slice is pinned in the block cache or memtable).
    pub fn get_with<R>(
        &self,
        family: Family,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, StateError> {
        self.get_in_group(family, key_group(key), key, f)
    }

    /// Like [`get_with`](Self::get_with), for a key stored in key group
    /// `group` (see `StateBatch::put_in_group`).
    pub fn get_in_group<R>(
        &self,
        family: Family,
        group: u16,
        key: &[u8],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, StateError> {
        let cf = self.cf(family)?;
        let pinned =
            with_state_key(group, key, |k| self.db.get_pinned_cf_opt(cf, k, &self.read_opts))
                .map_err(|e| self.rocks("get", e))?;
        Ok(pinned.map(|value| f(&value)))
    }

    /// The greatest key of `family` in key group `group` (without the group
    /// prefix), if the group holds any.
    pub fn last_key_in_group(
        &self,
        family: Family,
        group: u16,
    ) -> Result<Option<Vec<u8>>, StateError> {
        let cf = self.cf(family)?;
        let mut iter = self.db.raw_iterator_cf(cf);
        // Every key of this group sorts before the bare prefix of the next
        // group, which is itself a key only if that group has an empty key.
        let next_group = group.saturating_add(1).to_be_bytes();
        iter.seek_for_prev(next_group);
        if iter.key() == Some(&next_group[..]) {
            iter.prev();
        }
        let found = iter.key().and_then(|raw| match split_state_key(raw) {
            Some((g, key)) if g == group => Some(key.to_vec()),
            _ => None,
        });
        iter.status().map_err(|e| self.rocks("seek", e))?;
        Ok(found)
    }

    /// Applies `batch`, then marks its commit tickets.
    ///
    /// The batch is written one segment (a few megabytes) at a time, each
    /// segment freed once written, so a commit never holds the whole batch
    /// twice (as one RocksDB `WriteBatch` copy of it did: tens of megabytes
    /// per worker at a catch-up's checkpoints). The commit needs no single
    /// atomic write: the store is scratch space, never recovered from after
    /// a crash (a restore rebuilds it from a checkpoint's parts, each taken
    /// after a whole commit), and nothing reads a key of a batch being
    /// committed (tables keep such entries cached until the tickets are
    /// marked). A failed commit is fatal for the job.
    pub fn commit(&self, batch: StateBatch) -> Result<(), StateError> {
        let (segments, tickets) = batch.into_segments();
        let mut handles: [Option<&ColumnFamily>; Family::ALL.len()] = [None; Family::ALL.len()];
        for segment in segments {
            let capacity = segment.data_bytes() + 16 * segment.len() + 12;
            let mut write = WriteBatch::with_capacity_bytes(capacity);
            for (op, key, value) in segment.entries() {
                let cf = match handles[op.family.index()] {
                    Some(cf) => cf,
                    None => *handles[op.family.index()].insert(self.cf(op.family)?),
                };
                match op.kind {
                    OpKind::Put => write.put_cf(cf, key, value),
                    OpKind::Delete => write.delete_cf(cf, key),
                }
            }
            self.db.write_opt(write, &self.write_opts).map_err(|e| self.rocks("write", e))?;
        }
        CommitTicket::mark_all(&tickets);
        Ok(())
    }

    /// Writes every memtable out to SST files and returns once the files
    /// are installed in the store's current version, so that a RocksDB
    /// checkpoint (hard links to the live files) holds every commit. Call
    /// it only while nothing commits (the part writer's thread commits
    /// and takes parts in turn).
    ///
    /// RocksDB's own wait is not enough. When a commit fills a memtable,
    /// RocksDB flushes it by itself, in the background; a flush requested
    /// meanwhile (a checkpoint's, with `atomic_flush`) has been seen to
    /// return before that one was installed: the part then lacked every
    /// entry of the families it held (here, profiles and user names of a
    /// commit taken just before, found by comparing parts with the live
    /// store; facebook/rocksdb#10089 reports the same kind of early
    /// return). So the flush is repeated until RocksDB's properties say
    /// that no family holds an entry in memory, in its active memtable or
    /// in one being flushed.
    pub fn flush_memtables(&self) -> Result<(), StateError> {
        let families =
            Family::ALL.iter().map(|&family| self.cf(family)).collect::<Result<Vec<_>, _>>()?;
        let mut options = FlushOptions::default();
        options.set_wait(true);
        let started = std::time::Instant::now();
        let mut warned = false;
        loop {
            self.db.flush_cfs_opt(&families, &options).map_err(|e| self.rocks("flush", e))?;
            if self.all_in_files(&families)? {
                return Ok(());
            }
            if !warned && started.elapsed() > FLUSH_WARNING {
                warned = true;
                tracing::warn!(path = %self.path.display(), "memtables still not flushed after {FLUSH_WARNING:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Whether no family of `families` holds an entry in a memtable.
    fn all_in_files(&self, families: &[&ColumnFamily]) -> Result<bool, StateError> {
        for &family in families {
            for property in
                ["rocksdb.num-entries-active-mem-table", "rocksdb.num-immutable-mem-table"]
            {
                let value = self
                    .db
                    .property_int_value_cf(family, property)
                    .map_err(|e| self.rocks("read a property", e))?;
                if value != Some(0) {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Commits `batch` like [`commit`](Self::commit), then writes every
    /// memtable out to SST files ([`flush_memtables`](Self::flush_memtables)),
    /// and only then tells the batch's tickets. For a batch committed
    /// between checkpoints (a spill, see `Table::memory_pressure`) whose
    /// entries the caches will then evict and read back: the keyed
    /// families' vector memtables sort themselves on every read, which
    /// files do not.
    pub fn commit_and_flush(&self, mut batch: StateBatch) -> Result<(), StateError> {
        let tickets = batch.take_tickets();
        self.commit(batch)?;
        self.flush_memtables()?;
        CommitTicket::mark_all(&tickets);
        Ok(())
    }

    /// Every committed source offset: (`topic`, `partition`) → next offset.
    pub fn offsets(&self) -> Result<BTreeMap<(String, i32), i64>, StateError> {
        let family = Family::Offsets;
        let mut offsets = BTreeMap::new();
        for entry in self.db.iterator_cf(self.cf(family)?, IteratorMode::Start) {
            let (key, value) = entry.map_err(|e| self.rocks("scan offsets", e))?;
            let corrupt = |reason| StateError::Corrupt {
                family,
                key: display_key(&key),
                path: self.path.clone(),
                reason,
            };
            let topic_partition =
                parse_offset_key(&key).ok_or_else(|| corrupt("bad offset key"))?;
            let offset =
                parse_offset_value(&value).ok_or_else(|| corrupt("offset is not 8 bytes"))?;
            offsets.insert(topic_partition, offset);
        }
        Ok(offsets)
    }

    /// Every entry of `family` whose key group is in `groups`, in key order,
    /// as (key group, user key without the group prefix, value).
    pub fn scan(
        &self,
        family: Family,
        groups: Range<u16>,
    ) -> impl Iterator<Item = Result<ScannedEntry, StateError>> + '_ {
        let (lower, upper) = group_bounds(&groups);
        self.scan_between(family, (!groups.is_empty()).then(|| (lower.to_vec(), upper.to_vec())))
    }

    /// Every entry of `family` in key group `group` whose key sorts before
    /// `below`, in key order (see [`scan`](Self::scan)).
    pub fn scan_in_group_below(
        &self,
        family: Family,
        group: u16,
        below: &[u8],
    ) -> impl Iterator<Item = Result<ScannedEntry, StateError>> + '_ {
        let lower = group.to_be_bytes().to_vec();
        let mut upper = lower.clone();
        upper.extend_from_slice(below);
        self.scan_between(family, Some((lower, upper)))
    }

    /// Entries with physical keys in `[lower, upper)` (none if `None`).
    fn scan_between(
        &self,
        family: Family,
        bounds: Option<(Vec<u8>, Vec<u8>)>,
    ) -> impl Iterator<Item = Result<ScannedEntry, StateError>> + '_ {
        let (error, iter) = match (self.cf(family), bounds) {
            (_, None) => (None, None),
            (Err(e), _) => (Some(Err(e)), None),
            (Ok(cf), Some((lower, upper))) => {
                let mut opts = ReadOptions::default();
                opts.set_iterate_lower_bound(lower);
                opts.set_iterate_upper_bound(upper);
                (None, Some(self.db.iterator_cf_opt(cf, opts, IteratorMode::Start)))
            }
        };
        let entries = iter.into_iter().flatten().map(move |entry| {
            let (raw_key, value) = entry.map_err(|e| self.rocks("scan", e))?;
            let (group, key) = split_state_key(&raw_key).ok_or_else(|| StateError::Corrupt {
                family,
                key: display_key(&raw_key),
                path: self.path.clone(),
                reason: "key shorter than the key-group prefix",
            })?;
            Ok((group, key.to_vec(), value.into_vec()))
        });
        error.into_iter().chain(entries)
    }

    /// Whether no family holds any entry (a fresh store): callers can then
    /// skip RocksDB lookups entirely (see `Table::with_empty_backing`).
    pub fn is_empty(&self) -> Result<bool, StateError> {
        for family in Family::ALL {
            let mut iter = self.db.raw_iterator_cf(self.cf(family)?);
            iter.seek_to_first();
            if iter.valid() {
                return Ok(false);
            }
            iter.status().map_err(|e| self.rocks("is_empty", e))?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
