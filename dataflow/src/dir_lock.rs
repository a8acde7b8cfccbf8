//! [`DirLock`]: one running job per state and checkpoint directory.
//!
//! A second `dataflow run` on the directories of a running one would delete
//! its pending checkpoints at start, rebuild its worker stores under it and
//! seal checkpoints with the same ids. Each process therefore takes an
//! exclusive advisory lock (`flock`) on `tagflow-process-<i>.lock` in both
//! directories before touching them, and writes its pid into the file. The
//! lock is per process index because the processes of one multi-process job
//! share the checkpoint directory. The kernel releases it when the process
//! dies, kill -9 included, so a stale lock file never blocks a restart.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Why a directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum DirLockError {
    /// Another process holds the lock.
    #[error(
        "{path} is locked by another dataflow process (pid {holder}): one job per state and \
         checkpoint directory; stop that process or give this one other directories"
    )]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, as it wrote it (`unknown` if unreadable).
        holder: String,
    },
    /// The lock file could not be created, locked or written.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// An exclusive lock held until dropped (or the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Locks `dir` (created if missing) for process `process` of the job.
    ///
    /// # Errors
    /// [`DirLockError::Held`] if another live process holds it.
    pub fn acquire(dir: &Path, process: usize) -> Result<Self, DirLockError> {
        let path = dir.join(format!("tagflow-process-{process}.lock"));
        let io = |source| DirLockError::Io { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "unknown" } else { holder }.to_owned();
                return Err(DirLockError::Held { path, holder });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_a_released_one_is_taken_again() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path(), 0).unwrap();
        // flock locks belong to the open file, so a second open in this
        // process conflicts exactly as another process would.
        match DirLock::acquire(dir.path(), 0) {
            Err(DirLockError::Held { holder, .. }) => {
                assert_eq!(holder, std::process::id().to_string());
            }
            other => panic!("expected a held lock, got {other:?}"),
        }
        // Another process index of the same job is independent.
        let other_process = DirLock::acquire(dir.path(), 1).unwrap();
        drop(first);
        DirLock::acquire(dir.path(), 0).unwrap();
        drop(other_process);
    }
}
