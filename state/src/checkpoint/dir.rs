//! [`CheckpointDir`]: the directory of a job's checkpoints and its rules.
//!
//! Layout: `<root>/<id>/worker-<i>/` (one RocksDB checkpoint per worker) and
//! `<root>/<id>/MANIFEST.json`; ids are decimal and only grow. Workers write
//! into `<root>/pending-<boundary>/` first; the directory is renamed to its
//! id and sealed with the manifest once every worker is done. Anything else —
//! a pending directory, an id directory without a manifest — is what a crash
//! mid-checkpoint leaves behind: it is never restored, and it is removed at
//! the next start. Files are verified where they are, and restored from
//! in place ([`CheckpointStore::local_copy`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::checkpoint::checksum::FileDigest;
use crate::checkpoint::error::CheckpointError;
use crate::checkpoint::manifest::{MANIFEST_FILE, Manifest, sync_dir};
use crate::checkpoint::part::write_part;
use crate::checkpoint::store::{CheckpointStore, LocalCopy, PartCache};
use crate::store::StateStore;

const PENDING_PREFIX: &str = "pending-";

/// A job's checkpoint directory.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
}

impl CheckpointDir {
    /// The checkpoint directory at `root` (created when first written).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of checkpoint `id`.
    #[must_use]
    pub fn path_of(&self, id: u64) -> PathBuf {
        self.root.join(id.to_string())
    }

    /// Where workers write their parts of the checkpoint at `boundary`.
    #[must_use]
    pub fn pending_path(&self, boundary: u64) -> PathBuf {
        self.root.join(format!("{PENDING_PREFIX}{boundary}"))
    }

    /// Turns the pending directory of `boundary` into checkpoint
    /// `manifest.id` and seals it with the manifest.
    pub fn complete(&self, boundary: u64, manifest: &mut Manifest) -> Result<(), CheckpointError> {
        let pending = self.pending_path(boundary);
        let dir = self.path_of(manifest.id);
        std::fs::rename(&pending, &dir).map_err(CheckpointError::io(&pending))?;
        sync_dir(&self.root)?;
        manifest.write(&dir)
    }

    fn delete_one(&self, id: u64) -> Result<(), CheckpointError> {
        let dir = self.path_of(id);
        if !dir.is_dir() {
            return Err(CheckpointError::NotFound { id, root: self.root.clone() });
        }
        let manifest = dir.join(MANIFEST_FILE);
        if manifest.exists() {
            std::fs::remove_file(&manifest).map_err(CheckpointError::io(&manifest))?;
        }
        std::fs::remove_dir_all(&dir).map_err(CheckpointError::io(&dir))
    }
}

impl CheckpointStore for CheckpointDir {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn ids(&self) -> Result<Vec<u64>, CheckpointError> {
        let mut ids = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
            Err(e) => return Err(CheckpointError::io(&self.root)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(CheckpointError::io(&self.root))?;
            if let Some(id) = entry.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    fn complete_ids(&self) -> Result<Vec<u64>, CheckpointError> {
        let mut ids = self.ids()?;
        ids.retain(|&id| self.path_of(id).join(MANIFEST_FILE).exists());
        Ok(ids)
    }

    fn manifest(&self, id: u64) -> Result<Manifest, CheckpointError> {
        let dir = self.path_of(id);
        if !dir.is_dir() {
            return Err(CheckpointError::NotFound { id, root: self.root.clone() });
        }
        Manifest::read(&dir, id)
    }

    fn verify_files(&self, manifest: &Manifest) -> Result<(), CheckpointError> {
        manifest.verify_files(&self.path_of(manifest.id))
    }

    fn write_part(
        &self,
        store: &StateStore,
        boundary: u64,
        worker: usize,
        cache: &mut PartCache,
    ) -> Result<Vec<FileDigest>, CheckpointError> {
        write_part(store, &self.pending_path(boundary), worker, &mut cache.digests)
    }

    fn seal(&self, boundary: u64, manifest: &mut Manifest) -> Result<(), CheckpointError> {
        self.complete(boundary, manifest)
    }

    fn discard(&self, boundary: u64) -> Result<(), CheckpointError> {
        let pending = self.pending_path(boundary);
        match std::fs::remove_dir_all(&pending) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(CheckpointError::io(&pending)(e))
            }
            _ => Ok(()),
        }
    }

    fn delete(&self, ids: &[u64]) -> Result<(), CheckpointError> {
        ids.iter().try_for_each(|&id| self.delete_one(id))
    }

    fn remove_incomplete(&self) -> Result<Vec<String>, CheckpointError> {
        let mut removed = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(CheckpointError::io(&self.root)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(CheckpointError::io(&self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let incomplete = name.starts_with(PENDING_PREFIX)
                || (name.parse::<u64>().is_ok() && !path.join(MANIFEST_FILE).exists());
            if incomplete && path.is_dir() {
                std::fs::remove_dir_all(&path).map_err(CheckpointError::io(&path))?;
                removed.push(path.display().to_string());
            }
        }
        Ok(removed)
    }

    fn local_copy(
        &self,
        manifest: &Manifest,
        _parts: &BTreeSet<usize>,
        _scratch: &Path,
    ) -> Result<LocalCopy, CheckpointError> {
        Ok(LocalCopy::in_place(self.path_of(manifest.id)))
    }
}

#[cfg(test)]
#[path = "dir_tests.rs"]
mod tests;
