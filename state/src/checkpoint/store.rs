//! [`CheckpointStore`]: where a job's checkpoints are kept, behind one
//! protocol whatever the medium.
//!
//! Two implementations: [`CheckpointDir`](crate::CheckpointDir), a local (or
//! shared) directory, and [`ObjectCheckpoints`](crate::ObjectCheckpoints),
//! an S3-compatible bucket. The protocol is the same for both:
//!
//! 1. every worker writes its part ([`CheckpointStore::write_part`]): a
//!    RocksDB checkpoint of its store, whose files are then stored with
//!    their checksums; files an earlier part already stored are referenced,
//!    not stored again;
//! 2. worker 0 seals the checkpoint once every part is written
//!    ([`CheckpointStore::seal`]): the manifest, written last, is what makes
//!    it complete, so parts without a manifest are never restored, and are
//!    removed at the next start ([`CheckpointStore::remove_incomplete`]);
//! 3. at start, each process picks the newest intact checkpoint and gets a
//!    local copy of the parts its workers restore from
//!    ([`CheckpointStore::local_copy`]). The RocksDB stores themselves are
//!    always local.
//!
//! Finding, verifying and pruning checkpoints are written once here, over
//! the primitives each store implements.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::checkpoint::checksum::{DigestCache, FileDigest};
use crate::checkpoint::dir::CheckpointDir;
use crate::checkpoint::error::CheckpointError;
use crate::checkpoint::manifest::Manifest;
use crate::checkpoint::object::{ObjectCheckpoints, ObjectStoreOptions};
use crate::store::StateStore;

/// One checkpoint as found in the store, for listing.
#[derive(Debug)]
pub struct Listed {
    /// Its id.
    pub id: u64,
    /// Its manifest, or why it cannot be read (files are not verified).
    pub manifest: Result<Manifest, CheckpointError>,
}

/// Where a job's checkpoints are kept (see the module documentation).
pub trait CheckpointStore: std::fmt::Debug + Send + Sync {
    /// Where the checkpoints are, as the operator named it.
    fn location(&self) -> String;

    /// Ids of every checkpoint begun here (complete or not), ascending.
    fn ids(&self) -> Result<Vec<u64>, CheckpointError>;

    /// Ids of the complete checkpoints (sealed by a manifest), ascending.
    fn complete_ids(&self) -> Result<Vec<u64>, CheckpointError>;

    /// The manifest of checkpoint `id`, checked but with files unverified.
    fn manifest(&self, id: u64) -> Result<Manifest, CheckpointError>;

    /// Checks that every file of `manifest` is stored intact.
    fn verify_files(&self, manifest: &Manifest) -> Result<(), CheckpointError>;

    /// Writes `store` (committed) as worker `worker`'s part of the
    /// checkpoint at `boundary`; returns its files.
    fn write_part(
        &self,
        store: &StateStore,
        boundary: u64,
        worker: usize,
        cache: &mut PartCache,
    ) -> Result<Vec<FileDigest>, CheckpointError>;

    /// Makes the checkpoint at `boundary`, every part of which is written,
    /// checkpoint `manifest.id`, sealed by `manifest` (written last).
    fn seal(&self, boundary: u64, manifest: &mut Manifest) -> Result<(), CheckpointError>;

    /// Gives up the checkpoint at `boundary` (a part or the seal failed),
    /// removing what can be removed safely now.
    fn discard(&self, boundary: u64) -> Result<(), CheckpointError>;

    /// Deletes checkpoints `ids`: their manifests first (so a half-deleted
    /// checkpoint is incomplete, never mistaken for an intact one), then
    /// the files no remaining checkpoint refers to.
    fn delete(&self, ids: &[u64]) -> Result<(), CheckpointError>;

    /// Removes what interrupted checkpoints left (parts no manifest refers
    /// to); returns a description of each removed thing. Only while no
    /// process of the job writes parts (at start, or after a clean end).
    fn remove_incomplete(&self) -> Result<Vec<String>, CheckpointError>;

    /// A local directory holding parts `parts` of `manifest` (as
    /// `worker-<i>/`), each file verified: the checkpoint itself when it is
    /// on a local file system, a download into `scratch` otherwise.
    fn local_copy(
        &self,
        manifest: &Manifest,
        parts: &BTreeSet<usize>,
        scratch: &Path,
    ) -> Result<LocalCopy, CheckpointError>;

    /// Every checkpoint with its manifest (unverified), oldest first.
    fn list(&self) -> Result<Vec<Listed>, CheckpointError> {
        let ids = self.ids()?;
        Ok(ids.into_iter().map(|id| Listed { id, manifest: self.manifest(id) }).collect())
    }

    /// Checkpoint `id`, fully verified (manifest and every file).
    fn verified(&self, id: u64) -> Result<Manifest, CheckpointError> {
        let manifest = self.manifest(id)?;
        self.verify_files(&manifest)?;
        Ok(manifest)
    }

    /// The newest intact checkpoint and the newer ones rejected on the way;
    /// `None` if there is no complete checkpoint at all, an error if there
    /// are some but none is intact.
    fn latest_intact(&self) -> Result<Option<(Manifest, Vec<CheckpointError>)>, CheckpointError> {
        let mut rejected = Vec::new();
        for id in self.complete_ids()?.into_iter().rev() {
            match self.verified(id) {
                Ok(manifest) => return Ok(Some((manifest, rejected))),
                // An older checkpoint is no better: refuse with the advice.
                Err(err @ CheckpointError::OtherFormat { .. }) => return Err(err),
                // The store cannot be read: nothing is known to be damaged.
                Err(err @ CheckpointError::ObjectStore { .. }) => return Err(err),
                Err(err) => rejected.push(err),
            }
        }
        if rejected.is_empty() {
            return Ok(None);
        }
        let details = rejected.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        Err(CheckpointError::NoneIntact { root: self.location().into(), details })
    }

    /// The id the next checkpoint gets: above every id ever used here.
    fn next_id(&self) -> Result<u64, CheckpointError> {
        Ok(self.ids()?.last().map_or(1, |last| last + 1))
    }

    /// Keeps the newest `keep` complete checkpoints (at least one) and
    /// deletes every older one; returns the deleted ids.
    fn retain_newest(&self, keep: usize) -> Result<Vec<u64>, CheckpointError> {
        let complete = self.complete_ids()?;
        let excess = complete.len().saturating_sub(keep.max(1));
        let doomed = complete[..excess].to_vec();
        if !doomed.is_empty() {
            self.delete(&doomed)?;
        }
        Ok(doomed)
    }
}

/// Where checkpoints go: a directory, or `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointLocation {
    /// A directory (shared by every process of a multi-process job).
    Dir(PathBuf),
    /// An S3-compatible bucket and key prefix.
    Object {
        /// `s3://bucket/prefix`.
        url: String,
        /// How to reach the object store.
        options: ObjectStoreOptions,
    },
}

impl CheckpointLocation {
    /// `s3://…` names an object store (reached with `options`); anything
    /// else is a directory.
    #[must_use]
    pub fn new(text: &Path, options: ObjectStoreOptions) -> Self {
        match text.to_str() {
            Some(url) if url.starts_with("s3://") => {
                Self::Object { url: url.trim_end_matches('/').to_owned(), options }
            }
            _ => Self::Dir(text.to_owned()),
        }
    }

    /// The directory, for a local location.
    #[must_use]
    pub fn local_dir(&self) -> Option<&Path> {
        match self {
            Self::Dir(dir) => Some(dir),
            Self::Object { .. } => None,
        }
    }

    /// The store at this location.
    ///
    /// # Errors
    /// The URL or the object store's settings are invalid.
    pub fn open(&self) -> Result<Arc<dyn CheckpointStore>, CheckpointError> {
        Ok(match self {
            Self::Dir(dir) => Arc::new(CheckpointDir::new(dir)),
            Self::Object { url, options } => Arc::new(ObjectCheckpoints::open(url, options)?),
        })
    }
}

impl std::fmt::Display for CheckpointLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(dir) => write!(f, "{}", dir.display()),
            Self::Object { url, .. } => f.write_str(url),
        }
    }
}

/// What one worker remembers between its parts: file digests (an SST is
/// hashed once), and the SST files already stored by an earlier part, which
/// its next parts refer to instead of storing them again.
#[derive(Debug, Default)]
pub struct PartCache {
    pub(crate) digests: DigestCache,
    /// SST file name → its stored copy (with the object it is in).
    pub(crate) stored: HashMap<String, FileDigest>,
}

impl PartCache {
    /// The cache of worker `worker` whose store was restored, unchanged,
    /// from its own part of `manifest` (same worker count): the part's SST
    /// files are already stored, and were verified by the restore.
    #[must_use]
    pub fn restored_from(manifest: &Manifest, worker: usize) -> Self {
        let prefix = format!("worker-{worker}/");
        let mut cache = Self::default();
        for file in &manifest.files {
            let Some(name) = file.path.strip_prefix(&prefix) else { continue };
            if name.ends_with(".sst") {
                cache.digests.remember(name, file.bytes, &file.xxh3);
                cache.stored.insert(name.to_owned(), file.clone());
            }
        }
        cache
    }
}

/// A local directory holding parts of a checkpoint (`worker-<i>/`), for
/// restoring from; a downloaded copy is removed once every holder released
/// it (the restored stores hard-linked or copied what they needed).
#[derive(Debug)]
pub struct LocalCopy {
    path: PathBuf,
    downloaded: bool,
    holders: AtomicUsize,
}

impl LocalCopy {
    /// The checkpoint directory itself (never removed).
    #[must_use]
    pub fn in_place(path: PathBuf) -> Self {
        Self { path, downloaded: false, holders: AtomicUsize::new(usize::MAX) }
    }

    /// A download at `path`, removed once released by `holders` holders.
    #[must_use]
    pub(crate) fn downloaded(path: PathBuf) -> Self {
        Self { path, downloaded: true, holders: AtomicUsize::new(1) }
    }

    /// Sets how many [`release`](Self::release)s remove a download.
    pub fn set_holders(&self, holders: usize) {
        self.holders.store(holders.max(1), Ordering::SeqCst);
    }

    /// The directory holding `worker-<i>/` of each part.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One holder is done with the copy; the last removes a download.
    pub fn release(&self) {
        if self.downloaded
            && self.holders.fetch_sub(1, Ordering::SeqCst) == 1
            && let Err(err) = std::fs::remove_dir_all(&self.path)
        {
            tracing::warn!(path = %self.path.display(), %err, "cannot remove a downloaded checkpoint");
        }
    }
}
