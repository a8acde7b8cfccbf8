//! [`CheckpointDir`]: the directory of a job's checkpoints and its rules.
//!
//! Layout: `<root>/<id>/worker-<i>/` (one RocksDB checkpoint per worker) and
//! `<root>/<id>/MANIFEST.json`; ids are decimal and only grow. Workers write
//! into `<root>/pending-<boundary>/` first; the directory is renamed to its
//! id and sealed with the manifest once every worker is done. Anything else —
//! a pending directory, an id directory without a manifest — is what a crash
//! mid-checkpoint leaves behind: it is never restored, and it is removed at
//! the next start.

use std::path::{Path, PathBuf};

use crate::checkpoint::error::CheckpointError;
use crate::checkpoint::manifest::{MANIFEST_FILE, Manifest, sync_dir};

const PENDING_PREFIX: &str = "pending-";

/// A job's checkpoint directory.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
}

/// One checkpoint as found on disk, for listing.
#[derive(Debug)]
pub struct Listed {
    /// Its id.
    pub id: u64,
    /// Its manifest, or why it cannot be read (files are not verified).
    pub manifest: Result<Manifest, CheckpointError>,
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

    /// Ids of the checkpoint directories (complete or not), ascending.
    pub fn ids(&self) -> Result<Vec<u64>, CheckpointError> {
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

    /// Every checkpoint with its manifest (unverified), oldest first.
    pub fn list(&self) -> Result<Vec<Listed>, CheckpointError> {
        let ids = self.ids()?;
        Ok(ids.into_iter().map(|id| Listed { id, manifest: self.manifest(id) }).collect())
    }

    /// The manifest of checkpoint `id`, checked but with files unverified.
    pub fn manifest(&self, id: u64) -> Result<Manifest, CheckpointError> {
        let dir = self.path_of(id);
        if !dir.is_dir() {
            return Err(CheckpointError::NotFound { id, root: self.root.clone() });
        }
        Manifest::read(&dir, id)
    }

    /// Checkpoint `id`, fully verified (manifest and every file).
    pub fn verified(&self, id: u64) -> Result<Manifest, CheckpointError> {
        let manifest = self.manifest(id)?;
        manifest.verify_files(&self.path_of(id))?;
        Ok(manifest)
    }

    /// The newest intact checkpoint and the newer ones rejected on the way;
    /// `None` if there is no complete checkpoint at all, an error if there
    /// are some but none is intact.
    pub fn latest_intact(
        &self,
    ) -> Result<Option<(Manifest, Vec<CheckpointError>)>, CheckpointError> {
        let mut rejected = Vec::new();
        for id in self.ids()?.into_iter().rev() {
            if !self.path_of(id).join(MANIFEST_FILE).exists() {
                continue; // incomplete, not a checkpoint
            }
            match self.verified(id) {
                Ok(manifest) => return Ok(Some((manifest, rejected))),
                // An older checkpoint is no better: refuse with the advice.
                Err(err @ CheckpointError::OtherFormat { .. }) => return Err(err),
                Err(err) => rejected.push(err),
            }
        }
        if rejected.is_empty() {
            return Ok(None);
        }
        let details = rejected.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        Err(CheckpointError::NoneIntact { root: self.root.clone(), details })
    }

    /// The id the next checkpoint gets: above every id ever used here.
    pub fn next_id(&self) -> Result<u64, CheckpointError> {
        Ok(self.ids()?.last().map_or(1, |last| last + 1))
    }

    /// Removes what interrupted checkpoints left (pending directories, id
    /// directories without a manifest); returns the removed paths.
    pub fn remove_incomplete(&self) -> Result<Vec<PathBuf>, CheckpointError> {
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
                removed.push(path);
            }
        }
        Ok(removed)
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

    /// Deletes checkpoint `id`.
    pub fn delete(&self, id: u64) -> Result<(), CheckpointError> {
        let dir = self.path_of(id);
        if !dir.is_dir() {
            return Err(CheckpointError::NotFound { id, root: self.root.clone() });
        }
        // Remove the manifest first: a half-deleted checkpoint is then
        // incomplete, never mistaken for an intact one.
        let manifest = dir.join(MANIFEST_FILE);
        if manifest.exists() {
            std::fs::remove_file(&manifest).map_err(CheckpointError::io(&manifest))?;
        }
        std::fs::remove_dir_all(&dir).map_err(CheckpointError::io(&dir))
    }

    /// Keeps the newest `keep` complete checkpoints (at least one) and
    /// deletes every older one; returns the deleted ids.
    pub fn retain_newest(&self, keep: usize) -> Result<Vec<u64>, CheckpointError> {
        let complete: Vec<u64> = self
            .ids()?
            .into_iter()
            .filter(|&id| self.path_of(id).join(MANIFEST_FILE).exists())
            .collect();
        let excess = complete.len().saturating_sub(keep.max(1));
        let doomed = complete[..excess].to_vec();
        for &id in &doomed {
            self.delete(id)?;
        }
        Ok(doomed)
    }
}

#[cfg(test)]
#[path = "dir_tests.rs"]
mod tests;
