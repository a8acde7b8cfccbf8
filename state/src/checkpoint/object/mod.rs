//! [`ObjectCheckpoints`]: checkpoints in an S3-compatible object store
//! (`--checkpoint-dir s3://bucket/prefix`), so that the processes of a job
//! need no shared file system.
//!
//! Layout under `s3://bucket/prefix/`:
//!
//! - `data/<run>/worker-<i>/<n>.sst`: the SST files of worker `i`'s parts.
//!   SSTs are immutable, so each is uploaded once, by the first part that
//!   has it, and every later part that still has it refers to that object
//!   (the manifest names each file's object);
//! - `data/<run>/worker-<i>/<boundary>/<name>`: the small files RocksDB
//!   rewrites (`CURRENT`, `MANIFEST-*`, `OPTIONS-*`), uploaded with each part;
//! - `manifests/<id>.json`: checkpoint `id`'s manifest, uploaded by worker
//!   0 once every part is: a checkpoint exists from then on. Objects no
//!   manifest refers to are what interrupted checkpoints leave; they are
//!   deleted at the next start.
//!
//! `<run>` is new at every start of a process, so no two stores ever write
//! the same key. Deleting a checkpoint deletes its manifest, then the
//! objects no remaining manifest refers to. That never removes an object a
//! part still being written refers to: an SST the part reuses was in its
//! worker's store at every checkpoint since it was uploaded, including the
//! newest complete one, which is never deleted.
//!
//! A part's files are checked against the manifest when downloaded (size
//! and XXH3); listing a checkpoint as intact checks that each object exists
//! with its size, which every process sees alike.
//!
//! Requests time out after [`ObjectStoreOptions::timeout`] and are retried
//! three times with backoff; an object store that stays unreachable fails
//! the checkpoint (counted), and the job goes on to the next.

mod connect;
mod transfer;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::Deserialize;

pub use self::connect::ObjectStoreOptions;
use self::connect::{Connection, connect};

use crate::checkpoint::checksum::FileDigest;
use crate::checkpoint::error::CheckpointError;
use crate::checkpoint::manifest::Manifest;
use crate::checkpoint::part::write_part;
use crate::checkpoint::store::{CheckpointStore, LocalCopy, PartCache};
use crate::store::StateStore;

/// Files moved at once by one worker.
const CONCURRENT_TRANSFERS: usize = 4;

/// A job's checkpoints in an object store (see the module documentation).
#[derive(Debug)]
pub struct ObjectCheckpoints {
    url: String,
    prefix: String,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    run: String,
}

/// The part of a manifest deletion needs: its files' objects. Read
/// leniently, so that a manifest this build refuses (another format) still
/// protects its files.
#[derive(Deserialize)]
struct ManifestObjects {
    files: Vec<FileDigest>,
}

impl ObjectCheckpoints {
    /// The checkpoints at `url` (`s3://bucket/prefix`).
    ///
    /// # Errors
    /// The URL names no bucket, or the client cannot be built.
    pub fn open(url: &str, options: &ObjectStoreOptions) -> Result<Self, CheckpointError> {
        let Connection { prefix, store, runtime } = connect(url, options)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            prefix,
            store,
            runtime,
            run: format!("{nanos:x}-{:x}", std::process::id()),
        })
    }

    /// The object at `key` (relative to the prefix).
    fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{key}", self.prefix))
        }
    }

    /// The URL of `key`, for messages.
    fn url_of(&self, key: &str) -> String {
        format!("{}/{key}", self.url)
    }

    fn failed(&self, key: &str) -> impl FnOnce(object_store::Error) -> CheckpointError + '_ {
        let location = self.url_of(key);
        move |source| CheckpointError::ObjectStore { location, source }
    }

    /// Every object under `key/`, as (key relative to the prefix, size).
    fn list(&self, key: &str) -> Result<Vec<(String, u64)>, CheckpointError> {
        let under = self.path(key);
        let strip = if self.prefix.is_empty() { 0 } else { self.prefix.len() + 1 };
        let objects = self.runtime.block_on(self.store.list(Some(&under)).try_collect::<Vec<_>>());
        let objects = objects.map_err(self.failed(key))?;
        Ok(objects
            .into_iter()
            .map(|meta| (meta.location.as_ref()[strip..].to_owned(), meta.size))
            .collect())
    }

    fn manifest_key(id: u64) -> String {
        format!("manifests/{id}.json")
    }

    fn read_manifest(&self, id: u64) -> Result<Vec<u8>, CheckpointError> {
        let key = Self::manifest_key(id);
        let read = self.runtime.block_on(async {
            self.store.get_opts(&self.path(&key), Default::default()).await?.bytes().await
        });
        match read {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(object_store::Error::NotFound { .. }) => {
                Err(CheckpointError::NotFound { id, root: PathBuf::from(&self.url) })
            }
            Err(err) => Err(self.failed(&key)(err)),
        }
    }

    /// The objects the files of manifest `id` are in.
    fn objects_of(&self, id: u64) -> Result<Vec<String>, CheckpointError> {
        let text = self.read_manifest(id)?;
        let manifest: ManifestObjects = serde_json::from_slice(&text).map_err(|e| {
            let reason = format!("manifest is not valid: {e}");
            CheckpointError::Damaged {
                id,
                dir: self.url_of(&Self::manifest_key(id)).into(),
                reason,
            }
        })?;
        Ok(manifest.files.into_iter().filter_map(|f| f.object).collect())
    }

    /// Every object some complete checkpoint refers to.
    fn referenced(&self) -> Result<HashSet<String>, CheckpointError> {
        let mut referenced = HashSet::new();
        for id in self.complete_ids()? {
            referenced.extend(self.objects_of(id)?);
        }
        Ok(referenced)
    }

    fn delete_objects(&self, keys: Vec<String>) -> Result<(), CheckpointError> {
        self.runtime.block_on(
            stream::iter(keys)
                .map(|key| async move {
                    match self.store.delete(&self.path(&key)).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                        Err(err) => Err(self.failed(&key)(err)),
                    }
                })
                .buffer_unordered(CONCURRENT_TRANSFERS * 4)
                .try_collect::<()>(),
        )
    }
}

impl CheckpointStore for ObjectCheckpoints {
    fn location(&self) -> String {
        self.url.clone()
    }

    fn ids(&self) -> Result<Vec<u64>, CheckpointError> {
        let mut ids: Vec<u64> = self
            .list("manifests")?
            .into_iter()
            .filter_map(|(key, _)| {
                key.strip_prefix("manifests/")?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    fn complete_ids(&self) -> Result<Vec<u64>, CheckpointError> {
        self.ids()
    }

    fn manifest(&self, id: u64) -> Result<Manifest, CheckpointError> {
        let text = self.read_manifest(id)?;
        Manifest::parse(&text, id, &PathBuf::from(self.url_of(&Self::manifest_key(id))))
    }

    fn verify_files(&self, manifest: &Manifest) -> Result<(), CheckpointError> {
        let stored: HashMap<String, u64> = self.list("data")?.into_iter().collect();
        let damaged = |reason: String| CheckpointError::Damaged {
            id: manifest.id,
            dir: self.url_of(&Self::manifest_key(manifest.id)).into(),
            reason,
        };
        for file in &manifest.files {
            let Some(object) = &file.object else {
                return Err(damaged(format!("{} names no object", file.path)));
            };
            match stored.get(object) {
                None => return Err(damaged(format!("{} is missing ({object})", file.path))),
                Some(&bytes) if bytes != file.bytes => {
                    return Err(damaged(format!(
                        "{} has {bytes} bytes, the manifest says {} (truncated or altered)",
                        file.path, file.bytes
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn write_part(
        &self,
        store: &StateStore,
        boundary: u64,
        worker: usize,
        cache: &mut PartCache,
    ) -> Result<Vec<FileDigest>, CheckpointError> {
        // The RocksDB checkpoint is made beside the store (hard links need
        // the same file system) and removed once uploaded.
        let staging = store.path().parent().unwrap_or(Path::new(".")).join("checkpoint-staging");
        let mut files = write_part(store, &staging, worker, &mut cache.digests)?;
        let part = staging.join(format!("worker-{worker}"));
        let mut uploads = Vec::new();
        for file in &mut files {
            let name = file.path.rsplit('/').next().unwrap_or(&file.path).to_owned();
            let sst = name.ends_with(".sst");
            let stored =
                cache.stored.get(&name).filter(|s| s.bytes == file.bytes && s.xxh3 == file.xxh3);
            let key = match stored.and_then(|s| s.object.clone()) {
                Some(key) if sst => key,
                _ if sst => format!("data/{}/worker-{worker}/{name}", self.run),
                _ => format!("data/{}/worker-{worker}/{boundary}/{name}", self.run),
            };
            if stored.is_none() || !sst {
                uploads.push((part.join(&name), key.clone()));
            }
            file.object = Some(key);
        }
        let uploaded = uploads.len();
        self.runtime.block_on(
            stream::iter(uploads)
                .map(|(from, key)| async move {
                    transfer::upload(&self.store, &from, &self.path(&key), &self.url_of(&key)).await
                })
                .buffer_unordered(CONCURRENT_TRANSFERS)
                .try_collect::<()>(),
        )?;
        let names = |f: &FileDigest| f.path.rsplit('/').next().map(str::to_owned);
        let in_part: HashSet<String> = files.iter().filter_map(names).collect();
        cache.stored.retain(|name, _| in_part.contains(name));
        for file in files.iter().filter(|f| f.path.ends_with(".sst")) {
            if let Some(name) = names(file) {
                cache.stored.insert(name, file.clone());
            }
        }
        std::fs::remove_dir_all(&part).map_err(CheckpointError::io(&part))?;
        tracing::debug!(worker, boundary, files = files.len(), uploaded, "part stored");
        Ok(files)
    }

    fn seal(&self, _boundary: u64, manifest: &mut Manifest) -> Result<(), CheckpointError> {
        let key = Self::manifest_key(manifest.id);
        let text = PutPayload::from(manifest.seal());
        self.runtime.block_on(self.store.put(&self.path(&key), text)).map_err(self.failed(&key))?;
        Ok(())
    }

    fn discard(&self, boundary: u64) -> Result<(), CheckpointError> {
        // Its new objects are unreferenced (deleted at the next start); the
        // others belong to complete checkpoints too.
        tracing::debug!(boundary, "checkpoint given up; its uploads go at the next start");
        Ok(())
    }

    fn delete(&self, ids: &[u64]) -> Result<(), CheckpointError> {
        let mut doomed = Vec::new();
        for &id in ids {
            match self.objects_of(id) {
                Ok(objects) => doomed.extend(objects),
                // Its objects are unreferenced once it is gone: the next
                // start removes them.
                Err(err @ CheckpointError::Damaged { .. }) => tracing::warn!(%err, "deleting"),
                Err(err) => return Err(err),
            }
        }
        self.delete_objects(ids.iter().map(|&id| Self::manifest_key(id)).collect())?;
        let kept = self.referenced()?;
        doomed.retain(|key| !kept.contains(key));
        doomed.sort_unstable();
        doomed.dedup();
        self.delete_objects(doomed)
    }

    fn remove_incomplete(&self) -> Result<Vec<String>, CheckpointError> {
        let referenced = self.referenced()?;
        let orphans: Vec<String> = self
            .list("data")?
            .into_iter()
            .map(|(key, _)| key)
            .filter(|k| !referenced.contains(k))
            .collect();
        // One line per part directory, not per object.
        let mut removed: Vec<String> = orphans
            .iter()
            .map(|key| self.url_of(key.rsplit_once('/').map_or(key.as_str(), |(dir, _)| dir)))
            .collect();
        removed.sort_unstable();
        removed.dedup();
        self.delete_objects(orphans)?;
        Ok(removed)
    }

    fn local_copy(
        &self,
        manifest: &Manifest,
        parts: &BTreeSet<usize>,
        scratch: &Path,
    ) -> Result<LocalCopy, CheckpointError> {
        let dir = scratch.join(format!("checkpoint-{}", manifest.id));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(CheckpointError::io(&dir))?;
        }
        let wanted = |file: &&FileDigest| {
            let worker = file.path.strip_prefix("worker-").and_then(|p| p.split_once('/'));
            worker.and_then(|(w, _)| w.parse().ok()).is_some_and(|w| parts.contains(&w))
        };
        let manifest_url = self.url_of(&Self::manifest_key(manifest.id));
        let files: Vec<&FileDigest> = manifest.files.iter().filter(wanted).collect();
        self.runtime.block_on(
            stream::iter(files)
                .map(|file| {
                    let (dir, manifest_url) = (&dir, &manifest_url);
                    async move {
                        let Some(key) = &file.object else {
                            let reason = format!("{} names no object", file.path);
                            return Err(CheckpointError::Damaged {
                                id: manifest.id,
                                dir: manifest_url.into(),
                                reason,
                            });
                        };
                        let source = (&self.path(key), self.url_of(key));
                        let target = dir.join(&file.path);
                        transfer::download(
                            &self.store,
                            (source.0, source.1.as_str()),
                            &target,
                            (manifest.id, file),
                        )
                        .await
                    }
                })
                .buffer_unordered(CONCURRENT_TRANSFERS)
                .try_collect::<()>(),
        )?;
        Ok(LocalCopy::downloaded(dir))
    }
}
