//! Choosing the checkpoint a run starts from.
//!
//! Done once per process before the workers start: interrupted checkpoints
//! are removed, then `--restore` picks a checkpoint and verifies every file
//! of it. `latest` walks back past damaged checkpoints, naming each one, and
//! starts empty only when there is no checkpoint at all; if checkpoints
//! exist and none is intact, or a named one is damaged or missing, the job
//! refuses to start rather than silently dropping its state.
//!
//! Redis is rewritten from the restored state unless it provably holds that
//! checkpoint's outputs already: the job writes `tagflow:checkpoint =
//! <lineage>:<id>` after each checkpoint whose outputs every worker has
//! flushed to Redis, so the same lineage and an id at least the restored one
//! mean nothing is missing. A flushed or replaced Redis lacks the marker (or
//! has an older one) and is repaired.

use std::sync::Arc;
use std::time::Duration;

use model::keys::CHECKPOINT_MARKER;
use state::{CheckpointDir, CheckpointError, Manifest};

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
    /// The job's history this run continues (or a new one).
    pub lineage: String,
    /// Whether Redis must be rewritten from the restored state.
    pub rewrite_redis: bool,
}

/// Cleans up `config.dir` and picks the checkpoint to restore; `redis` is
/// the URL the job writes to.
pub fn prepare(config: &CheckpointConfig, redis: &str) -> Result<Startup, CheckpointError> {
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
    let (lineage, rewrite_redis) = match &restored {
        Some(manifest) => (manifest.lineage.clone(), !redis_holds(redis, manifest)),
        None => (new_lineage(), false),
    };
    Ok(Startup { dir, restored: restored.map(Arc::new), next_id, lineage, rewrite_redis })
}

/// A fresh lineage token: start time and process id, in hex.
fn new_lineage() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

/// Whether Redis's checkpoint marker shows it holds `manifest`'s outputs.
fn redis_holds(url: &str, manifest: &Manifest) -> bool {
    let marker: Option<String> = redis::Client::open(url)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .and_then(|mut c| redis::cmd("GET").arg(CHECKPOINT_MARKER).query(&mut c))
        .unwrap_or_else(|err| {
            tracing::warn!(%err, "cannot read the checkpoint marker from Redis");
            None
        });
    let holds = marker.as_deref().and_then(|m| m.rsplit_once(':')).is_some_and(|(lineage, id)| {
        lineage == manifest.lineage && id.parse::<u64>().is_ok_and(|id| id >= manifest.id)
    });
    if holds {
        tracing::info!(marker, id = manifest.id, "Redis already holds the checkpoint's outputs");
    } else {
        tracing::info!(marker, id = manifest.id, "Redis will be rewritten from the checkpoint");
    }
    holds
}
