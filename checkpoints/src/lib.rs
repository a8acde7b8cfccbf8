//! Durable, per-worker keyed state for tagflow.
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
//!   the source offsets they correspond to, and is committed as one atomic
//!   RocksDB write. After any crash the store therefore holds some committed
//!   state together with the exact offsets to resume from: recovery is exact,
//!   with no double counting and no gap.
//! - [`Table`]: a typed write-back cache over one family, used on the hot path
//!   (one lookup per event). It reads RocksDB only on a miss and writes dirty
//!   entries into a batch on flush (about once per second).
//!
//! A typical worker loop: `table.get_mut(&store, user)?` per event; at each
//! flush, `table.flush_into(&mut batch)?` for every table, then
//! `batch.set_offset(..)` for every partition read, then
//! `store.commit(batch)?`. Checkpoints (RocksDB checkpoints plus manifests)
//! are built on top of committed stores by a later layer.

mod batch;
pub mod codec;
mod error;
mod family;
pub mod keygroup;
mod keys;
mod options;
mod store;
mod table;

pub use batch::StateBatch;
pub use codec::CodecError;
pub use error::StateError;
pub use family::Family;
pub use keygroup::{KEY_GROUPS, groups_for_worker, key_group, worker_for_group, worker_for_key};
pub use options::StoreOptions;
pub use store::StateStore;
pub use table::Table;
