//! The manifest: what makes a set of per-worker RocksDB checkpoints one
//! complete, trustworthy checkpoint of the job.
//!
//! Worker 0 writes `MANIFEST.json` only after every worker has committed its
//! state and source offsets and made its RocksDB checkpoint, and writes it
//! atomically (temp file, fsync, rename, fsync of the directory): a
//! checkpoint directory without a manifest is incomplete by definition. The
//! manifest records the next offset of every partition, the worker count
//! (needed to re-shard on restore) and the size and XXH3 checksum of every
//! file, and carries a checksum of itself, so a restore can refuse anything
//! truncated, missing, altered or mismatched, naming what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkpoint::checksum::{FileDigest, digest_bytes, digest_file};
use crate::checkpoint::error::CheckpointError;
use crate::keygroup::KEY_GROUPS;

/// Version of the checkpoint layout written by this code.
///
/// - 1: string-keyed state (profiles with tag names, one entry per unique
///   visitor, a count per day and product).
/// - 2: interned users (`user_names`), profiles of (tag, score) pairs with the
///   user's id, one set of user ids per day and product (`visitor_sets`).
/// - 3: profiles also hold the user's recent event ids (`--dedupe-window`).
pub const FORMAT_VERSION: u32 = 3;

/// What to do with a checkpoint of another format version.
const OTHER_FORMAT_ADVICE: &str = "Its state cannot be converted. Either keep running the \
     build that wrote it (its `dataflow resync-redis` rewrites Redis from it), or move the \
     checkpoint directory aside and start this build with `--restore none`: it re-reads every \
     topic from its earliest offset, which recomputes exact results if the topics still hold \
     every event.";
/// File name of the manifest inside a checkpoint directory.
pub const MANIFEST_FILE: &str = "MANIFEST.json";

/// The next offset to read from one partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionOffset {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Offset of the first message not reflected in the checkpoint.
    pub next_offset: i64,
}

/// The description of one complete checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Checkpoint id, also the directory name; increases over the job's life.
    pub id: u64,
    /// Identifies the job's history: chosen at an empty start, inherited by
    /// every checkpoint taken after restoring one of its checkpoints.
    pub lineage: String,
    /// The epoch boundary it was taken at (epochs count from each start).
    pub epoch: u64,
    /// Number of workers that wrote it (`worker-0` .. `worker-{workers-1}`).
    pub workers: usize,
    /// Key groups the state is sharded into ([`KEY_GROUPS`]).
    pub key_groups: u16,
    /// When it was completed, in milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// Next offset of every partition read so far, sorted.
    pub offsets: Vec<PartitionOffset>,
    /// Every file of every worker's part, sorted by path.
    pub files: Vec<FileDigest>,
    /// The settings that decide the results, by flag name, as the job that
    /// wrote it had them (a restore compares them with its own). Absent
    /// from manifests written before it existed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// XXH3 of this manifest serialized with an empty `checksum`.
    #[serde(default)]
    pub checksum: String,
}

impl Manifest {
    /// Total size of the checkpoint's files in bytes.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// The offsets as a map (`topic`, `partition`) → next offset.
    #[must_use]
    pub fn offsets_map(&self) -> BTreeMap<(String, i32), i64> {
        self.offsets.iter().map(|o| ((o.topic.clone(), o.partition), o.next_offset)).collect()
    }

    fn self_checksum(&self) -> String {
        let unsealed = Manifest { checksum: String::new(), ..self.clone() };
        // Serializing plain data to a vector cannot fail.
        digest_bytes(&serde_json::to_vec(&unsealed).unwrap_or_default())
    }

    /// Seals the manifest: sets its checksum and returns its text.
    pub(crate) fn seal(&mut self) -> Vec<u8> {
        self.checksum = self.self_checksum();
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Seals the manifest and writes it atomically into `dir`.
    pub fn write(&mut self, dir: &Path) -> Result<(), CheckpointError> {
        let text = self.seal();
        let temp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let mut file = File::create(&temp).map_err(CheckpointError::io(&temp))?;
        file.write_all(&text).map_err(CheckpointError::io(&temp))?;
        file.sync_all().map_err(CheckpointError::io(&temp))?;
        let path = dir.join(MANIFEST_FILE);
        std::fs::rename(&temp, &path).map_err(CheckpointError::io(&path))?;
        sync_dir(dir)
    }

    /// Reads the manifest of checkpoint `id` in `dir` and checks that it is
    /// well-formed, sealed and about this checkpoint (not its files: see
    /// [`Manifest::verify_files`]).
    pub fn read(dir: &Path, id: u64) -> Result<Self, CheckpointError> {
        let text = std::fs::read(dir.join(MANIFEST_FILE)).map_err(|e| {
            let reason = format!("cannot read manifest: {e}");
            CheckpointError::Damaged { id, dir: dir.to_owned(), reason }
        })?;
        Self::parse(&text, id, dir)
    }

    /// Parses and checks the manifest text of checkpoint `id`, stored at
    /// `dir` (named in errors).
    pub(crate) fn parse(text: &[u8], id: u64, dir: &Path) -> Result<Self, CheckpointError> {
        let damaged = |reason: String| CheckpointError::Damaged { id, dir: dir.to_owned(), reason };
        let manifest: Manifest = serde_json::from_slice(text)
            .map_err(|e| damaged(format!("manifest is not valid: {e}")))?;
        if manifest.checksum != manifest.self_checksum() {
            return Err(damaged("manifest checksum does not match its contents".into()));
        }
        if manifest.format_version != FORMAT_VERSION {
            return Err(CheckpointError::OtherFormat {
                id,
                dir: dir.to_owned(),
                found: manifest.format_version,
                expected: FORMAT_VERSION,
                advice: OTHER_FORMAT_ADVICE,
            });
        }
        if manifest.id != id {
            return Err(damaged(format!("manifest says id {}", manifest.id)));
        }
        if manifest.key_groups != KEY_GROUPS {
            return Err(damaged(format!(
                "{} key groups (this build uses {KEY_GROUPS})",
                manifest.key_groups
            )));
        }
        if manifest.workers == 0 {
            return Err(damaged("manifest lists no worker".into()));
        }
        Ok(manifest)
    }

    /// Checks every file against the manifest: present, same size, same
    /// checksum, and no unlisted file in a worker's directory.
    pub fn verify_files(&self, dir: &Path) -> Result<(), CheckpointError> {
        let damaged =
            |reason: String| CheckpointError::Damaged { id: self.id, dir: dir.to_owned(), reason };
        let listed: BTreeSet<&str> = self.files.iter().map(|f| f.path.as_str()).collect();
        for worker in 0..self.workers {
            let name = format!("worker-{worker}");
            let entries = std::fs::read_dir(dir.join(&name))
                .map_err(|e| damaged(format!("cannot list {name}: {e}")))?;
            for entry in entries {
                let entry = entry.map_err(|e| damaged(format!("cannot list {name}: {e}")))?;
                let path = format!("{name}/{}", entry.file_name().to_string_lossy());
                if !listed.contains(path.as_str()) {
                    return Err(damaged(format!("{path} is not listed in the manifest")));
                }
            }
        }
        for file in &self.files {
            let (bytes, xxh3) = digest_file(&dir.join(&file.path))
                .map_err(|e| damaged(format!("{}: {e}", file.path)))?;
            if bytes != file.bytes {
                return Err(damaged(format!(
                    "{} has {bytes} bytes, the manifest says {} (truncated or altered)",
                    file.path, file.bytes
                )));
            }
            if xxh3 != file.xxh3 {
                return Err(damaged(format!("{} fails its checksum", file.path)));
            }
        }
        Ok(())
    }
}

/// Makes a rename or file creation in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), CheckpointError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(CheckpointError::io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> Manifest {
        std::fs::create_dir_all(dir.join("worker-0")).unwrap();
        std::fs::write(dir.join("worker-0/000001.sst"), b"state").unwrap();
        let (bytes, xxh3) = digest_file(&dir.join("worker-0/000001.sst")).unwrap();
        Manifest {
            format_version: FORMAT_VERSION,
            id: 7,
            lineage: "test".into(),
            epoch: 150,
            workers: 1,
            key_groups: KEY_GROUPS,
            created_unix_ms: 1,
            offsets: vec![PartitionOffset { topic: "t".into(), partition: 0, next_offset: 42 }],
            files: vec![FileDigest {
                path: "worker-0/000001.sst".into(),
                bytes,
                xxh3,
                object: None,
            }],
            settings: BTreeMap::from([("top-n".to_owned(), "5".to_owned())]),
            checksum: String::new(),
        }
    }

    #[test]
    fn a_manifest_without_settings_reads_as_before_they_existed() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = sample(dir.path());
        manifest.settings.clear();
        manifest.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
        // Written (and checksummed) exactly as by the builds before settings.
        assert!(!text.contains("settings"), "{text}");
        assert_eq!(Manifest::read(dir.path(), 7).unwrap(), manifest);
    }

    #[test]
    fn round_trip_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = sample(dir.path());
        manifest.write(dir.path()).unwrap();
        let read = Manifest::read(dir.path(), 7).unwrap();
        assert_eq!(read, manifest);
        read.verify_files(dir.path()).unwrap();
        assert_eq!(read.offsets_map()[&("t".to_owned(), 0)], 42);
    }

    #[test]
    fn another_format_version_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = sample(dir.path());
        manifest.format_version = 1;
        manifest.write(dir.path()).unwrap();
        let err = Manifest::read(dir.path(), 7).unwrap_err();
        assert!(matches!(err, CheckpointError::OtherFormat { found: 1, .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("format version 1"), "{message}");
        assert!(message.contains("resync-redis") && message.contains("--restore none"));
    }

    #[test]
    fn damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = sample(dir.path());
        manifest.write(dir.path()).unwrap();
        let err = |e: CheckpointError| e.to_string();

        assert!(err(Manifest::read(dir.path(), 8).unwrap_err()).contains("manifest says id 7"));

        std::fs::write(dir.path().join("worker-0/000001.sst"), b"stat").unwrap();
        let message = err(manifest.verify_files(dir.path()).unwrap_err());
        assert!(message.contains("checkpoint 7") && message.contains("truncated"), "{message}");

        std::fs::write(dir.path().join("worker-0/000001.sst"), b"STATE").unwrap();
        let message = err(manifest.verify_files(dir.path()).unwrap_err());
        assert!(message.contains("fails its checksum"), "{message}");

        std::fs::remove_file(dir.path().join("worker-0/000001.sst")).unwrap();
        assert!(err(manifest.verify_files(dir.path()).unwrap_err()).contains("000001.sst"));

        let path = dir.path().join(MANIFEST_FILE);
        let text =
            std::fs::read_to_string(&path).unwrap().replace("\"epoch\": 150", "\"epoch\": 151");
        std::fs::write(&path, text).unwrap();
        let message = err(Manifest::read(dir.path(), 7).unwrap_err());
        assert!(message.contains("manifest checksum"), "{message}");
    }
}
