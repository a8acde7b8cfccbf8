//! Choosing the checkpoint a run starts from.
//!
//! Done once per process before the workers start: interrupted checkpoints
//! are removed, then `--restore` picks a checkpoint and verifies every file
//! of it. `latest` walks back past damaged checkpoints, naming each one, and
//! starts empty only when there is no checkpoint at all; if checkpoints
//! exist and none is intact, or a named one is damaged or missing, the job
//! refuses to start rather than silently dropping its state.

use std::sync::Arc;

use checkpoints::{CheckpointDir, CheckpointError, Manifest};

use crate::config::{CheckpointConfig, RestoreFrom};

/// The outcome of startup checks.
#[derive(Debug)]
pub struct Startup {
    /// The checkpoint directory.
    pub dir: CheckpointDir,
    /// The checkpoint to restore, if any (verified).
    pub restored: Option<Arc<Manifest>>,
    /// The id the next checkpoint gets.
    pub next_id: u64,
}

/// Cleans up `config.dir` and picks the checkpoint to restore.
pub fn prepare(config: &CheckpointConfig) -> Result<Startup, CheckpointError> {
    let dir = CheckpointDir::new(&config.dir);
    for path in dir.remove_incomplete()? {
        tracing::warn!(path = %path.display(), "removed an incomplete checkpoint");
    }
    let restored = match config.restore {
        RestoreFrom::None => {
            tracing::info!("--restore none: starting from empty state and the earliest offsets");
            None
        }
        RestoreFrom::Id(id) => Some(dir.verified(id)?),
        RestoreFrom::Latest => match dir.latest_intact()? {
            Some((manifest, rejected)) => {
                for err in &rejected {
                    tracing::error!(%err, "skipping a damaged checkpoint");
                }
                if !rejected.is_empty() {
                    tracing::warn!(id = manifest.id, "falling back to checkpoint {}", manifest.id);
                }
                Some(manifest)
            }
            None => {
                tracing::info!(
                    dir = %config.dir.display(),
                    "no checkpoint yet: starting from empty state and the earliest offsets"
                );
                None
            }
        },
    };
    if let Some(manifest) = &restored {
        tracing::info!(
            id = manifest.id,
            workers = manifest.workers,
            partitions = manifest.offsets.len(),
            bytes = manifest.total_bytes(),
            "restoring checkpoint {}",
            manifest.id
        );
    }
    let next_id = dir.next_id()?;
    Ok(Startup { dir, restored: restored.map(Arc::new), next_id })
}
