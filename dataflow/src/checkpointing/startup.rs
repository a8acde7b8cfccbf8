//! Choosing the checkpoint a run starts from.
//!
//! Done once per process before the workers start: interrupted checkpoints
//! are removed, then `--restore` picks a checkpoint and verifies every file
//! of it (in an object store: that every object is there with its size; the
//! checksums are checked as [`Startup::fetch`] downloads the parts this
//! process restores from). `latest` walks back past damaged checkpoints, naming each one, and
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
//!
//! Every checkpoint records the settings that decide the results
//! (`JobConfig::result_settings`). A checkpoint taken with other settings
//! is refused, naming each difference, unless `--accept-config-change`
//! says to go on; Redis is then rewritten under the new settings.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use model::keys::CHECKPOINT_MARKER;
use state::{CheckpointError, CheckpointStore, LocalCopy, Manifest, parts_to_restore};

use crate::config::{CheckpointConfig, OPTIONAL_SETTINGS, RestoreFrom};

/// The outcome of startup checks.
#[derive(Debug)]
pub struct Startup {
    /// Where checkpoints are kept.
    pub dir: Arc<dyn CheckpointStore>,
    /// The checkpoint to restore, if any (verified).
    pub restored: Option<Arc<Manifest>>,
    /// A local directory with the parts of it this process restores from
    /// (set by [`Startup::fetch`]).
    pub restored_copy: Option<LocalCopy>,
    /// The id the next checkpoint gets.
    pub next_id: u64,
    /// The job's history this run continues (or a new one).
    pub lineage: String,
    /// Whether Redis must be rewritten from the restored state.
    pub rewrite_redis: bool,
}

/// Why the job cannot start from its checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// No usable checkpoint, or the checkpoint directory is unusable.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint was taken with other result settings.
    #[error(
        "checkpoint {id} was taken with {changes}: restoring it under this run's settings would \
         mix results of both. Run with the checkpoint's settings; or give --accept-config-change \
         to go on with the new ones (scores counted so far keep their old weights, days counted \
         so far keep their old time zone, Redis is rewritten from state); or start afresh with \
         --restore none, which recounts every event still in the topics"
    )]
    SettingsChanged {
        /// The checkpoint.
        id: u64,
        /// Each difference: `--flag old (this run: new)`.
        changes: String,
    },
}

/// Cleans up `config.location` and picks the checkpoint to restore; `redis` is
/// the URL the job writes to, `settings` this run's result settings.
pub fn prepare(
    config: &CheckpointConfig,
    redis: &str,
    settings: &BTreeMap<String, String>,
) -> Result<Startup, StartupError> {
    let dir = config.location.open()?;
    for path in dir.remove_incomplete()? {
        tracing::warn!(path, "removed an incomplete checkpoint");
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
                    dir = %config.location,
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
    let settings_changed = match &restored {
        Some(manifest) => settings_changed(manifest, settings, config.accept_config_change)?,
        None => false,
    };
    let next_id = dir.next_id()?;
    let (lineage, rewrite_redis) = match &restored {
        Some(manifest) => {
            (manifest.lineage.clone(), settings_changed || !redis_holds(redis, manifest))
        }
        None => (new_lineage(), false),
    };
    let restored = restored.map(Arc::new);
    Ok(Startup { dir, restored, restored_copy: None, next_id, lineage, rewrite_redis })
}

impl Startup {
    /// Gets a local copy of the parts of the restored checkpoint that
    /// workers `workers` (of `peers`) restore from, downloading them into
    /// `scratch` from an object store; every part when Redis is rewritten
    /// (users are named from every part).
    ///
    /// # Errors
    /// A part cannot be read, or fails its checksums.
    pub fn fetch(
        &mut self,
        scratch: &Path,
        workers: Range<usize>,
        peers: usize,
    ) -> Result<(), CheckpointError> {
        let Some(manifest) = &self.restored else { return Ok(()) };
        let local = workers.len();
        let parts = if self.rewrite_redis {
            (0..manifest.workers).collect()
        } else {
            parts_to_restore(manifest, workers, peers)
        };
        let copy = self.dir.local_copy(manifest, &parts, scratch)?;
        copy.set_holders(local);
        self.restored_copy = Some(copy);
        Ok(())
    }
}

/// Whether `manifest` was taken with other settings than `settings` (and
/// that is accepted); an error if it is not.
fn settings_changed(
    manifest: &Manifest,
    settings: &BTreeMap<String, String>,
    accept: bool,
) -> Result<bool, StartupError> {
    if manifest.settings.is_empty() {
        tracing::info!(id = manifest.id, "checkpoint records no settings: not compared");
        return Ok(false);
    }
    // A setting recorded only when it differs from its default (as
    // --shared-hash-shards) may be absent from either side. Other flags a
    // checkpoint records and this run does not compare (as
    // --uv-retention-days, recorded for a while) are not changes.
    let optional = OPTIONAL_SETTINGS.iter().filter(|flag| manifest.settings.contains_key(**flag));
    let flags: std::collections::BTreeSet<&str> =
        settings.keys().map(String::as_str).chain(optional.copied()).collect();
    let changes: Vec<String> = flags
        .into_iter()
        .filter_map(|flag| {
            let then = manifest.settings.get(flag).map_or("(not recorded)", String::as_str);
            let now = settings.get(flag).map_or("(default)", String::as_str);
            (then != now).then(|| format!("--{flag} {then} (this run: {now})"))
        })
        .collect();
    if changes.is_empty() {
        return Ok(false);
    }
    let changes = changes.join(", ");
    if !accept {
        return Err(StartupError::SettingsChanged { id: manifest.id, changes });
    }
    tracing::warn!(id = manifest.id, %changes, "--accept-config-change: going on with new settings");
    Ok(true)
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
    let timeouts = model::redis_target::Timeouts::uniform(Duration::from_secs(2));
    let marker: Option<String> = model::redis_target::RedisTarget::parse(url)
        .map_err(redis::RedisError::from)
        .and_then(|target| target.connect(timeouts))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_with(settings: &[(&str, &str)]) -> Manifest {
        Manifest {
            format_version: state::FORMAT_VERSION,
            id: 7,
            lineage: "l".into(),
            epoch: 1,
            workers: 1,
            key_groups: state::KEY_GROUPS,
            created_unix_ms: 0,
            offsets: Vec::new(),
            files: Vec::new(),
            settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            checksum: String::new(),
        }
    }

    fn run_with(settings: &[(&str, &str)]) -> BTreeMap<String, String> {
        settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn an_optional_setting_is_compared_from_either_side() {
        let plain = [("top-n", "5")];
        let sharded = [("top-n", "5"), ("shared-hash-shards", "16")];
        assert!(!settings_changed(&manifest_with(&plain), &run_with(&plain), false).unwrap());
        assert!(!settings_changed(&manifest_with(&sharded), &run_with(&sharded), false).unwrap());
        for (then, now) in [(&plain[..], &sharded[..]), (&sharded[..], &plain[..])] {
            let err = settings_changed(&manifest_with(then), &run_with(now), false).unwrap_err();
            assert!(err.to_string().contains("--shared-hash-shards"), "{err}");
            assert!(settings_changed(&manifest_with(then), &run_with(now), true).unwrap());
        }
    }

    #[test]
    fn a_flag_a_checkpoint_records_and_the_run_does_not_compare_is_no_change() {
        // Checkpoints of fc98366..efdae93 record --uv-retention-days.
        let then = manifest_with(&[("top-n", "5"), ("uv-retention-days", "3")]);
        assert!(!settings_changed(&then, &run_with(&[("top-n", "5")]), false).unwrap());
    }
}
