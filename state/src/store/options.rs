//! [`StoreOptions`]: RocksDB tuning for one worker's state store.
//!
//! Defaults target the production box: 2 cores, 24 GiB RAM, one store per
//! worker. The workload is one large write batch per checkpoint, scans when
//! restoring, and rare point lookups: so vector memtables for the keyed
//! families (cheap bulk inserts), bloom filters for cheap negative lookups, a
//! small shared LRU block cache with index and filter blocks charged to it
//! (bounded memory), LZ4 everywhere (cheap CPU), and few background jobs.
//!
//! Memory per store is roughly `block_cache_bytes` plus, for each of the four
//! keyed families, up to `max_write_buffers * write_buffer_bytes` of memtables
//! (the small `offsets` and `meta` families use 4 MiB memtables): at most
//! 64 MiB + 4 × 3 × 32 MiB ≈ 450 MiB per worker, usually far less since
//! memtables fill only between checkpoints. The block cache is small because
//! the dataflow keeps its whole state in the in-heap `Table` caches and reads
//! RocksDB only when restoring.

use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, MemtableFactory, Options};

use crate::store::family::Family;

/// Tuning of a [`StateStore`](crate::StateStore).
#[derive(Debug, Clone, PartialEq)]
pub struct StoreOptions {
    /// LRU block cache shared by all families of the store, in bytes.
    pub block_cache_bytes: usize,
    /// Memtable size of each keyed family, in bytes.
    pub write_buffer_bytes: usize,
    /// Maximum number of memtables per family (active + being flushed).
    pub max_write_buffers: i32,
    /// Background compaction jobs per store.
    pub background_compactions: i32,
    /// Background flush jobs per store. Every worker's store flushes at the
    /// same checkpoint boundary, and a checkpoint waits for its store's
    /// flush: with fewer flush threads than workers in the process the
    /// stores queue for them (RocksDB's flush pool is process-wide).
    pub background_flushes: i32,
    /// Compress SST blocks with LZ4.
    pub lz4_compression: bool,
    /// Bloom filter bits per key (0 disables filters). 10 gives ~1% false positives.
    pub bloom_bits_per_key: f64,
    /// `fsync` the WAL on every commit (only meaningful with
    /// `write_ahead_log`). Off by default: durability points are checkpoints.
    pub sync_writes: bool,
    /// Log commits to a write-ahead log. Off by default: a worker's store is
    /// scratch space rebuilt from the last checkpoint after any crash, and
    /// taking a checkpoint flushes the memtables first, so the log would only
    /// cost a second write of every change.
    pub write_ahead_log: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            block_cache_bytes: 64 << 20,
            write_buffer_bytes: 32 << 20,
            max_write_buffers: 3,
            background_compactions: 2,
            background_flushes: 3,
            lz4_compression: true,
            bloom_bits_per_key: 10.0,
            sync_writes: false,
            write_ahead_log: false,
        }
    }
}

/// Keyed families (each has up to `max_write_buffers` memtables).
const KEYED_FAMILIES: usize = 5;

impl StoreOptions {
    /// Options whose block cache and memtables fit in `bytes` (at least
    /// 1 MiB each): half of it for each.
    #[must_use]
    pub fn within_memory(bytes: usize) -> Self {
        let defaults = Self::default();
        let share = bytes / 2;
        let buffers = KEYED_FAMILIES * usize::try_from(defaults.max_write_buffers).unwrap_or(3);
        Self {
            block_cache_bytes: share.max(1 << 20),
            write_buffer_bytes: (share / buffers).clamp(1 << 20, defaults.write_buffer_bytes),
            ..defaults
        }
    }
}

/// Memtable size of the small worker-level families.
const SMALL_WRITE_BUFFER: usize = 4 << 20;

impl StoreOptions {
    /// Database-wide RocksDB options.
    pub(crate) fn db_options(&self) -> Options {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let (compactions, flushes) =
            (self.background_compactions.max(1), self.background_flushes.max(1));
        opts.set_max_background_jobs(compactions + flushes);
        // Left to `max_background_jobs`, RocksDB gives flushes a quarter of
        // the jobs (at least one), and `increase_parallelism` sizes the
        // process-wide flush pool to one thread: the three workers' stores
        // then flushed one after another at every checkpoint, each waiting
        // its turn (`bench/run --steps checkpoints`, 0.5 to 2.2 s of the
        // files phase). The explicit limits also size the pools at open.
        #[allow(deprecated, reason = "still how RocksDB splits flushes from compactions")]
        {
            opts.set_max_background_flushes(flushes);
            opts.set_max_background_compactions(compactions);
        }
        // One flush job (and one MANIFEST write) for all families of a
        // store, instead of one per family, each waited for in turn by the
        // checkpoint.
        opts.set_atomic_flush(true);
        opts.set_bytes_per_sync(1 << 20);
        opts
    }

    /// Options of one column family; `cache` is shared by all families.
    pub(crate) fn family_options(&self, family: Family, cache: &Cache) -> Options {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(cache);
        table.set_cache_index_and_filter_blocks(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        if self.bloom_bits_per_key > 0.0 {
            table.set_bloom_filter(self.bloom_bits_per_key, false);
            table.set_whole_key_filtering(true);
            table.set_optimize_filters_for_memory(true);
        }

        let mut opts = self.db_options();
        opts.set_block_based_table_factory(&table);
        let keyed = family.is_keyed();
        opts.set_write_buffer_size(if keyed {
            self.write_buffer_bytes
        } else {
            SMALL_WRITE_BUFFER
        });
        opts.set_max_write_buffer_number(self.max_write_buffers.max(2));
        if keyed {
            // Keyed state is written in large batches at checkpoints and
            // read back by scans after a restore, never by point lookups on
            // the memtable (the dataflow's cache holds the whole state): an
            // append-only vector memtable, sorted once at flush, makes those
            // writes several times cheaper than a skip list's random inserts.
            opts.set_memtable_factory(MemtableFactory::Vector);
        } else if self.bloom_bits_per_key > 0.0 {
            // Bloom filter on the memtable too, so misses skip it quickly.
            opts.set_memtable_prefix_bloom_ratio(0.02);
            opts.set_memtable_whole_key_filtering(true);
        }
        let compression =
            if self.lz4_compression { DBCompressionType::Lz4 } else { DBCompressionType::None };
        opts.set_compression_type(compression);
        opts.set_bottommost_compression_type(compression);
        opts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_bounded_options_split_the_bound() {
        let keyed = Family::ALL.iter().filter(|f| f.is_keyed()).count();
        assert_eq!(keyed, KEYED_FAMILIES);
        let options = StoreOptions::within_memory(1 << 30);
        assert_eq!(options.block_cache_bytes, 512 << 20);
        let memtables = options.write_buffer_bytes * KEYED_FAMILIES * 3;
        assert!(memtables <= 512 << 20, "{memtables}");
        let tiny = StoreOptions::within_memory(1 << 20);
        assert_eq!((tiny.block_cache_bytes, tiny.write_buffer_bytes), (1 << 20, 1 << 20));
    }
}
