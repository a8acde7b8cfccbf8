//! The operator's commands around checkpoints: `dataflow checkpoints
//! list|inspect|delete` and `dataflow resync-redis`.
//!
//! `resync-redis` rebuilds every Redis key of the job from a checkpoint with
//! the same code the job uses after a restore, so it repairs a Redis that lost
//! data (or fills a new one) without running the job. The leaderboards are
//! ranked by the job's own differential fragment and sink, in a one-worker
//! dataflow whose only input is the checkpoint's counts.

use std::rc::Rc;
use std::sync::Arc;

use model::SharedHashLayout;
use state::{CheckpointError, Manifest, StateStore, groups_for_worker};

use timely::dataflow::operators::vec::ToStream;

use crate::aggregates::leaderboards::catalog::ProductTags;
use crate::aggregates::leaderboards::sink::write_boards;
use crate::aggregates::leaderboards::{Restored, TagWeightsState, leaderboards};
use crate::aggregates::profiles::user_ids::CheckpointUserNames;
use crate::aggregates::visitors::Retention;
use crate::aggregates::{AggregateSettings, Aggregates, Rewritten};
use crate::checkpointing::unix_ms;
use crate::cli::{CheckpointsAction, CheckpointsArgs, ResyncArgs, Switch};
use crate::config::{RestoreFrom, SHARED_HASH_SHARDS};
use crate::day::Calendar;
use crate::metrics::JobMetrics;
use crate::redis_sink::{RedisBatch, RedisSink};
use crate::resp::RespCommands;
use crate::weights::Weights;
use crate::writer::Writer;

/// Why an administrative command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The checkpoint is missing, damaged, or the directory unusable.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Redis could not be written.
    #[error("redis: {0}")]
    Redis(String),
    /// Writing the report failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// Nothing to resync from.
    #[error("no checkpoint in {0}")]
    NoCheckpoint(String),
}

/// Runs `dataflow checkpoints …`, printing to `out`.
pub fn checkpoints(
    args: &CheckpointsArgs,
    out: &mut impl std::io::Write,
) -> Result<(), AdminError> {
    let dir = args.object_store.location(&args.checkpoint_dir).open()?;
    match args.action {
        CheckpointsAction::List => {
            writeln!(
                out,
                "{:>6}  {:<10}  {:>8}  {:>7}  {:>12}  {:>8}",
                "ID", "STATUS", "EPOCH", "WORKERS", "BYTES", "AGE"
            )?;
            let now = unix_ms();
            for listed in dir.list()? {
                match listed.manifest {
                    Ok(m) => writeln!(
                        out,
                        "{:>6}  {:<10}  {:>8}  {:>7}  {:>12}  {:>7}s",
                        m.id,
                        "complete",
                        m.epoch,
                        m.workers,
                        m.total_bytes(),
                        now.saturating_sub(m.created_unix_ms) / 1000
                    )?,
                    Err(err) => writeln!(out, "{:>6}  {:<10}  {err}", listed.id, "unusable")?,
                }
            }
        }
        CheckpointsAction::Inspect { id } => {
            let manifest = dir.verified(id)?;
            serde_json::to_writer_pretty(&mut *out, &manifest)
                .map_err(|e| AdminError::Output(e.into()))?;
            writeln!(out)?;
            writeln!(
                out,
                "checkpoint {id}: every file verified ({} bytes)",
                manifest.total_bytes()
            )?;
        }
        CheckpointsAction::Delete { id } => {
            dir.delete(&[id])?;
            writeln!(out, "checkpoint {id} deleted")?;
        }
    }
    Ok(())
}

/// Redis only: `resync-redis` publishes nothing to Kafka.
struct RedisOnly(std::cell::RefCell<RedisSink>);

impl Writer for RedisOnly {
    fn redis(&self, batch: RedisBatch) {
        self.0.borrow().send(batch);
    }
    fn redis_ready(&self) -> bool {
        self.0.borrow().ready()
    }
    fn interest_tags(&self, _user: &str, _json: &[u8]) {}
    fn commands_buffer(&self, bytes: usize) -> RespCommands {
        self.0.borrow().commands_buffer(bytes)
    }
}

/// Runs `dataflow resync-redis`; returns what it wrote.
pub fn resync_redis(args: &ResyncArgs) -> Result<Rewritten, AdminError> {
    let dir = args.object_store.location(&args.checkpoint_dir).open()?;
    let manifest: Manifest = match args.checkpoint {
        RestoreFrom::Id(id) => dir.verified(id)?,
        RestoreFrom::Latest | RestoreFrom::None => match dir.latest_intact()? {
            Some((manifest, rejected)) => {
                for err in rejected {
                    tracing::error!(%err, "skipping a damaged checkpoint");
                }
                manifest
            }
            None => return Err(AdminError::NoCheckpoint(dir.location())),
        },
    };
    tracing::info!(id = manifest.id, workers = manifest.workers, "rewriting Redis from checkpoint");
    let metrics = Arc::new(JobMetrics::default());
    let sink = RedisSink::start(&args.redis, args.redis_timeout, 0, Arc::clone(&metrics), None)
        .map_err(|e| AdminError::Redis(e.to_string()))?;
    let writer = Rc::new(RedisOnly(std::cell::RefCell::new(sink)));
    let output: Rc<dyn Writer> = writer.clone();
    let state_err = |e: state::StateError| AdminError::Checkpoint(e.into());
    // Every part, local (downloaded from an object store, removed after).
    let scratch = std::env::temp_dir().join(format!("tagflow-resync-{}", std::process::id()));
    let copy = dir.local_copy(&manifest, &(0..manifest.workers).collect(), &scratch)?;
    let names = CheckpointUserNames::open(copy.path(), &manifest).map_err(state_err)?;
    let settings = AggregateSettings {
        weights: Weights::default(),
        top_n: args.top_n,
        // Rewriting Redis applies no event.
        dedupe_window: None,
        events_capacity: args.events_capacity,
        // Every day the checkpoint holds: the job expires old ones itself.
        retention: Retention::new(0, Calendar::utc()),
        memory: None,
        hash_layout: args.shared_hash_shards.unwrap_or_else(|| recorded_layout(&manifest)),
    };
    let boards = args.boards.leaderboards == Switch::On;
    let mut totals = Rewritten::default();
    let mut counts = Restored::default();
    for worker in 0..manifest.workers {
        let part = copy.path().join(format!("worker-{worker}"));
        let store = Arc::new(StateStore::open_read_only(&part).map_err(CheckpointError::from)?);
        let groups = groups_for_worker(worker, manifest.workers);
        let mut aggregates = Aggregates::open(&store, groups.clone(), &settings, &output, &metrics)
            .map_err(state_err)?;
        totals += aggregates.rewrite_all(&names).map_err(state_err)?;
        if boards {
            counts.visitors.append(&mut aggregates.visitors.report_changes().map_err(state_err)?);
            let tags = TagWeightsState::new(store, groups, settings.retention.clone());
            counts.tags.append(&mut tags.and_then(|t| t.totals()).map_err(state_err)?);
        }
    }
    writer.0.borrow_mut().finish();
    drop(names);
    copy.release();
    let _ = std::fs::remove_dir(&scratch);
    if boards {
        rewrite_leaderboards(args, counts, settings.retention)?;
    }
    Ok(totals)
}

/// The shared-hash layout `manifest` was taken with (one key per hash when
/// it records none, as before the flag existed).
fn recorded_layout(manifest: &Manifest) -> SharedHashLayout {
    manifest.settings.get(SHARED_HASH_SHARDS).and_then(|n| n.parse().ok()).unwrap_or_default()
}

/// Ranks `counts` into every leaderboard and writes them (each key whole).
fn rewrite_leaderboards(
    args: &ResyncArgs,
    counts: Restored,
    retention: Retention,
) -> Result<(), AdminError> {
    let catalog =
        ProductTags::load(args.boards.catalog.as_deref(), &args.redis, args.redis_timeout)
            .map_err(|e| AdminError::Redis(e.to_string()))?
            .share(0, 1);
    let (redis, timeout, size) =
        (args.redis.clone(), args.redis_timeout, args.boards.leaderboard_size);
    tracing::info!(
        products = counts.visitors.len(),
        tags = counts.tags.len(),
        catalog_pairs = catalog.len(),
        "rewriting the leaderboards"
    );
    timely::execute_directly(move |worker| {
        let metrics = Arc::new(JobMetrics::default());
        let sink =
            RedisSink::start(&redis, timeout, 0, metrics, None).map_err(|e| e.to_string())?;
        let writer = Rc::new(RedisOnly(std::cell::RefCell::new(sink)));
        let output: Rc<dyn Writer> = writer.clone();
        worker.dataflow::<u64, _, _>(|scope| {
            let (visitors, tags) = (Vec::new().to_stream(scope), Vec::new().to_stream(scope));
            let boards = leaderboards(visitors, tags, counts, catalog, size.max(1));
            write_boards(boards, output, retention);
        });
        while worker.step() {}
        writer.0.borrow_mut().finish();
        Ok(())
    })
    .map_err(AdminError::Redis)
}
