//! [`Sealer`]: worker 0's last step of every checkpoint.
//!
//! Every worker reports its written part; when the parts of all workers for
//! a boundary are in, the checkpoint store seals them as checkpoint `<id>`
//! with its manifest (written last: from then on the checkpoint is
//! complete), and checkpoints beyond the retention count are deleted. A
//! part the store could not write fails its checkpoint, counted in
//! `tagflow_checkpoints_failed`; the job goes on to the next.
//! Every part waited for its worker's Redis outputs before the boundary, so
//! the sealer then records in Redis that it holds this checkpoint's outputs
//! (`tagflow:checkpoint`; see `startup.rs`), unless Redis lost the sealing
//! worker's sentinel meanwhile (`redis_loss.rs`).

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use model::keys::CHECKPOINT_MARKER;
use state::{CheckpointError, CheckpointStore, FORMAT_VERSION, KEY_GROUPS, Manifest};

use crate::checkpointing::part_writer::{PartPhases, WorkerPart, unix_ms};
use crate::metrics::JobMetrics;
use crate::redis_loss::Sentinel;
use crate::redis_sink::RedisBatch;
use crate::resp::RespCommands;
use crate::writer::Writer;

/// Seals checkpoints once all their parts are written.
pub struct Sealer {
    dir: Arc<dyn CheckpointStore>,
    workers: usize,
    next_id: u64,
    lineage: String,
    retained: usize,
    settings: BTreeMap<String, String>,
    sentinel: Option<Sentinel>,
    parts: BTreeMap<u64, Vec<WorkerPart>>,
    output: Rc<dyn Writer>,
    metrics: Arc<JobMetrics>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("dir", &self.dir).field("next_id", &self.next_id).finish()
    }
}

/// Where and how the sealer works.
#[derive(Debug, Clone)]
pub struct SealerConfig {
    /// Where checkpoints are kept.
    pub dir: Arc<dyn CheckpointStore>,
    /// Number of workers, hence parts per checkpoint.
    pub workers: usize,
    /// Id of the next checkpoint.
    pub next_id: u64,
    /// The job's lineage, recorded in manifests and the Redis marker.
    pub lineage: String,
    /// Complete checkpoints kept.
    pub retained: usize,
    /// The job's result settings, recorded in every manifest.
    pub settings: BTreeMap<String, String>,
    /// The sentinel of the sealing worker's Redis writer: the marker is set
    /// only while Redis holds it (see `redis_loss.rs`).
    pub sentinel: Option<Sentinel>,
}

impl Sealer {
    /// A sealer writing its Redis marker through `output`.
    pub fn new(config: SealerConfig, output: Rc<dyn Writer>, metrics: Arc<JobMetrics>) -> Self {
        let SealerConfig { dir, workers, next_id, lineage, retained, settings, sentinel } = config;
        let parts = BTreeMap::new();
        Self {
            dir,
            workers,
            next_id,
            lineage,
            retained,
            settings,
            sentinel,
            parts,
            output,
            metrics,
        }
    }

    /// Records a worker's part; seals its checkpoint if it was the last.
    pub fn receive(&mut self, part: WorkerPart) {
        let boundary = part.boundary;
        let parts = self.parts.entry(boundary).or_default();
        parts.push(part);
        if parts.len() < self.workers {
            return;
        }
        let parts = self.parts.remove(&boundary).unwrap_or_default();
        let pauses_us = (
            parts.iter().map(|p| p.longest_pause_us).max().unwrap_or(0),
            parts.iter().map(|p| p.longest_working_pause_us).max().unwrap_or(0),
        );
        let phases = PartPhases::slowest(parts.iter().map(|p| &p.phases));
        let started = parts.iter().map(|p| p.started_unix_ms).min().unwrap_or_else(unix_ms);
        let failed: Vec<String> = parts
            .iter()
            .filter_map(|p| p.failed.as_ref().map(|why| format!("worker {}: {why}", p.worker)))
            .collect();
        let sealed = if failed.is_empty() {
            self.seal(boundary, parts).map_err(|err| err.to_string())
        } else {
            Err(failed.join("; "))
        };
        match sealed {
            Ok(manifest) => {
                let duration_ms = manifest.created_unix_ms.saturating_sub(started);
                self.completed(&manifest, duration_ms, pauses_us, phases);
            }
            Err(err) => {
                self.metrics.checkpoint.failed.inc();
                tracing::error!(boundary, %err, "checkpoint could not be completed");
                if let Err(err) = self.dir.discard(boundary) {
                    tracing::warn!(boundary, %err, "cannot remove a failed checkpoint's parts");
                }
            }
        }
    }

    fn seal(&mut self, boundary: u64, parts: Vec<WorkerPart>) -> Result<Manifest, CheckpointError> {
        let mut offsets: Vec<_> = parts.iter().flat_map(|p| p.offsets.iter().cloned()).collect();
        offsets.sort();
        let mut files: Vec<_> = parts.into_iter().flat_map(|p| p.files).collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut manifest = Manifest {
            format_version: FORMAT_VERSION,
            id: self.next_id,
            lineage: self.lineage.clone(),
            epoch: boundary,
            workers: self.workers,
            key_groups: KEY_GROUPS,
            created_unix_ms: unix_ms(),
            offsets,
            files,
            settings: self.settings.clone(),
            checksum: String::new(),
        };
        self.next_id += 1;
        self.dir.seal(boundary, &mut manifest)?;
        Ok(manifest)
    }

    /// Reports a sealed checkpoint: metrics, the Redis marker, a log line
    /// with its longest pauses (wall and working, µs) and slowest phases.
    fn completed(
        &self,
        manifest: &Manifest,
        duration_ms: u64,
        (longest_pause_us, longest_working_pause_us): (u64, u64),
        phases: PartPhases,
    ) {
        let metrics = &self.metrics.checkpoint;
        metrics.duration_seconds.observe(duration_ms as f64 / 1000.0);
        metrics.last_completed_id.set(i64::try_from(manifest.id).unwrap_or(i64::MAX));
        metrics.size_bytes.set(i64::try_from(manifest.total_bytes()).unwrap_or(i64::MAX));
        metrics.last_completed_timestamp_seconds.set(manifest.created_unix_ms as f64 / 1000.0);
        let marker = format!("{}:{}", manifest.lineage, manifest.id);
        let (key, value) = (CHECKPOINT_MARKER.as_bytes(), marker.as_bytes());
        let out = match &self.sentinel {
            Some(sentinel) => sentinel.guarded_set(key, value),
            None => {
                let mut out = RespCommands::new();
                out.command(3, "SET").arg(key).arg(value);
                out
            }
        };
        self.output.redis(RedisBatch::new(out));
        tracing::info!(
            id = manifest.id,
            epoch = manifest.epoch,
            bytes = manifest.total_bytes(),
            partitions = manifest.offsets.len(),
            duration_ms,
            longest_pause_us,
            longest_working_pause_us,
            snapshot_ms = phases.snapshot_ms,
            queued_ms = phases.queued_ms,
            commit_ms = phases.commit_ms,
            files_ms = phases.files_ms,
            outputs_ms = phases.outputs_ms,
            "checkpoint completed"
        );
        match self.dir.retain_newest(self.retained) {
            Ok(deleted) if !deleted.is_empty() => {
                tracing::debug!(?deleted, "old checkpoints deleted")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "cannot delete old checkpoints"),
        }
    }
}
