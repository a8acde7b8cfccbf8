//! File checksums of checkpoints: XXH3-64 over every byte of every file.
//!
//! A manifest lists each file of a checkpoint with its size and checksum, so
//! a restore can tell a truncated, missing or altered file from an intact one
//! before trusting it. RocksDB's SST files are immutable once written and keep
//! their name across checkpoints (checkpoints hard-link them), so
//! [`DigestCache`] hashes each SST once; the small mutable files (`CURRENT`,
//! `MANIFEST-*`, `OPTIONS-*`) are hashed every time.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3Default;

/// Size and checksum of one file of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Path relative to the checkpoint directory, `/`-separated
    /// (`worker-0/000012.sst`).
    pub path: String,
    /// Length in bytes.
    pub bytes: u64,
    /// XXH3-64 of the contents, 16 lowercase hex digits.
    pub xxh3: String,
    /// Key of the object holding the file, relative to the store's prefix,
    /// for checkpoints in an object store (absent in a directory, where the
    /// file is at `path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

/// Reads `path` to the end: (length, XXH3-64 as hex).
pub fn digest_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Xxh3Default::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, format!("{:016x}", hasher.digest())))
}

/// XXH3-64 of `bytes` as hex (for the manifest's own checksum).
#[must_use]
pub fn digest_bytes(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// Remembers the digests of immutable SST files by name and size.
#[derive(Debug, Default)]
pub struct DigestCache {
    sst: HashMap<String, (u64, String)>,
    /// Bytes read to hash files, over the cache's life (for logs).
    hashed_bytes: u64,
}

impl DigestCache {
    /// Remembers the digest of SST file `name`, verified elsewhere.
    pub(crate) fn remember(&mut self, name: &str, bytes: u64, xxh3: &str) {
        self.sst.insert(name.to_owned(), (bytes, xxh3.to_owned()));
    }

    /// Bytes read to hash files so far: what the cache did not spare.
    #[must_use]
    pub fn hashed_bytes(&self) -> u64 {
        self.hashed_bytes
    }

    /// Digests every file directly in `dir`, naming them `prefix/<name>`,
    /// sorted by name.
    pub fn digest_dir(&mut self, dir: &Path, prefix: &str) -> std::io::Result<Vec<FileDigest>> {
        let mut digests = Vec::new();
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let len = entry.metadata()?.len();
            let (bytes, xxh3) = match self.sst.get(&name) {
                Some((bytes, xxh3)) if *bytes == len => (*bytes, xxh3.clone()),
                _ => {
                    let digest = digest_file(&entry.path())?;
                    self.hashed_bytes += digest.0;
                    if name.ends_with(".sst") {
                        self.sst.insert(name.clone(), digest.clone());
                    }
                    digest
                }
            };
            seen.push(name.clone());
            digests.push(FileDigest {
                path: format!("{prefix}/{name}"),
                bytes,
                xxh3,
                object: None,
            });
        }
        // Forget SSTs that compaction deleted, so the cache stays bounded.
        self.sst.retain(|name, _| seen.contains(name));
        digests.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(digests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_and_detect_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("000001.sst"), b"immutable").unwrap();
        std::fs::write(dir.path().join("CURRENT"), b"MANIFEST-1\n").unwrap();
        let mut cache = DigestCache::default();
        let first = cache.digest_dir(dir.path(), "worker-0").unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].path, "worker-0/000001.sst");
        assert_eq!(first[0].bytes, 9);
        assert_eq!(first[0].xxh3, digest_bytes(b"immutable"));
        assert_eq!(digest_file(&dir.path().join("CURRENT")).unwrap().1, first[1].xxh3);

        std::fs::write(dir.path().join("CURRENT"), b"MANIFEST-2\n").unwrap();
        let second = cache.digest_dir(dir.path(), "worker-0").unwrap();
        assert_eq!(second[0], first[0]);
        assert_ne!(second[1].xxh3, first[1].xxh3, "mutable files are re-hashed");
    }
}
