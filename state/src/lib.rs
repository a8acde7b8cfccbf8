//! Durable, per-worker keyed state for tagflow: the [`store`](StateStore),
//! typed [`Table`]s over it, and [`checkpoint`]s of it.
//!
//! Replaces Flink's RocksDB state backend. The layers, bottom up:
//!
//! - [`StateStore`]: one RocksDB instance per timely worker, one column family
//!   per [`Family`]. Keyed state is sharded into [`KEY_GROUPS`] key groups
//!   ([`keygroup`]) and stored under `[key_group: u16 BE][key]`, so a range of
//!   groups is a contiguous key range: state checkpointed with `W` workers can
//!   be restored with `W'` workers by scanning group ranges
//!   ([`StateStore::scan`], [`groups_for_worker`]).
//! - [`StateBatch`]: the only way to write. It carries state changes *and*
//!   the source offsets they correspond to, and is committed whole before
//!   a checkpoint's part is taken, so a part taken after a commit ([`write_part`])
//!   holds some committed state together with the exact offsets to resume
//!   from: recovery is exact, with no double counting and no gap. (The live
//!   store itself runs without a write-ahead log and is rebuilt from the last
//!   checkpoint after a crash.)
//! - [`Table`]: a typed write-back cache over one family, keyed by a
//!   [`StateKey`] that picks each key's group, used on the hot path (one
//!   lookup per event). It reads RocksDB only on a miss, keeps its memory
//!   within a budget by evicting committed clean entries, and writes the
//!   entries changed since the previous checkpoint into a batch, a slice at a
//!   time while the operator goes on (copy-on-write for those that change
//!   meanwhile).
//! - Checkpoints: [`write_part`] turns a committed store into one worker's
//!   part of a checkpoint (a RocksDB checkpoint: hard links), a [`Manifest`]
//!   seals the parts of all workers into one checkpoint with offsets and file
//!   checksums, a [`CheckpointStore`] (a [`CheckpointDir`] or an S3 bucket,
//!   [`ObjectCheckpoints`]) keeps, finds, verifies, completes and prunes
//!   them, and [`restore_store`] rebuilds a worker's store from one, re-sharding by
//!   key group when the worker count changed.
//!
//! A typical worker: `table.get_mut(&store, user)?` per event; at a
//! checkpoint boundary, `table.begin_snapshot()`, then
//! `table.continue_snapshot(n)?` between events until it returns the batch
//! (or `table.flush_into(&mut batch)?` at once); `batch.set_offset(..)` for
//! every partition read, `store.commit(batch)?`, then [`write_part`].

pub mod checkpoint;
pub mod codec;
mod error;
pub mod keygroup;
mod state_key;
mod store;
mod table;

pub use checkpoint::checksum::{DigestCache, FileDigest};
pub use checkpoint::dir::CheckpointDir;
pub use checkpoint::error::CheckpointError;
pub use checkpoint::manifest::{FORMAT_VERSION, MANIFEST_FILE, Manifest, PartitionOffset};
pub use checkpoint::object::{ObjectCheckpoints, ObjectStoreOptions};
pub use checkpoint::part::write_part;
pub use checkpoint::restore::{parts_to_restore, restore_store};
pub use checkpoint::store::{CheckpointLocation, CheckpointStore, Listed, LocalCopy, PartCache};
pub use codec::CodecError;
pub use error::StateError;
pub use keygroup::{
    KEY_GROUPS, ROUTING_SEPARATOR, groups_for_worker, key_group, key_group_of_parts,
    worker_for_group, worker_for_key,
};
pub use state_key::{StateKey, StateValue};
pub use store::batch::StateBatch;
pub use store::family::Family;
pub use store::options::StoreOptions;
pub use store::ticket::{CommitTicket, CommitWaker};
pub use store::{ScannedEntry, StateStore};
pub use table::{MemoryPressure, Table};
