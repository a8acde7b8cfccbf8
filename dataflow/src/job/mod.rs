//! Running the job: timely workers, each with its Kafka partitions, its
//! RocksDB store (restored from a checkpoint or empty), its Redis writer,
//! and the dataflow between them.
//!
//! ```text
//!   KafkaSource ──profiles──▶ exchange(user) ──▶ ProfilesState ──▶ Redis, tags topic
//!        │                  (a duplicate eventId stops here) │
//!        │                 counted views, with the user's id ├──▶ exchange(day, product) ──▶ VisitorsState ──▶ Redis
//!        │           counted events (--leaderboards on)      └──▶ exchange(day, tag) ──▶ TagWeightsState ─┐
//!        │                  unique-visitor count changes ──▶ leaderboards (differential) ──▶ Redis `top:*`
//!        ├──── recent ──▶ exchange(→ worker 0) ──▶ RecentState ──▶ Redis `events`
//!        └──── bad messages ──▶ dead-letter-events
//!   source positions + each state's snapshots ──▶ CheckpointParts ──▶ Manifests (worker 0)
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use state::{PartCache, groups_for_worker};
use timely::communication::Config as CommunicationConfig;
use timely::dataflow::operators::Probe;
use timely::{Config as TimelyConfig, WorkerConfig};

use crate::aggregates::leaderboards::catalog::ProductTags;
use crate::aggregates::leaderboards::{Restored, TagWeightsState, WorkerLeaderboards};
use crate::aggregates::profiles::user_ids::CheckpointUserNames;
use crate::aggregates::visitors::{Retention, ViewRouter};
use crate::aggregates::{AggregateSettings, Aggregates, Rewritten, profiles, recent};
use crate::checkpointing::{
    CheckpointInputs, OutputBarriers, PartWriting, Sealer, SealerConfig, Startup, checkpoint_flow,
    epochs_between, startup, unix_ms,
};
use crate::config::{JobConfig, RestoreFrom};
use crate::day::Calendar;
use crate::dir_lock::DirLock;
use crate::epochs::epoch_sink;
use crate::kafka_output::KafkaOutput;
use crate::kafka_reader::{InputLoss, PartitionReader, ReaderConfig, check_retained};
use crate::metrics::JobMetrics;
use crate::read_ahead::ReadAhead;
use crate::redis_loss::{RedisLoss, Sentinel};
use crate::redis_sink::RedisSink;
use crate::source::{SourceHandles, SourceSettings, kafka_source};
use crate::start_retry::StartRetry;
use crate::write_pace::WritePace;
use crate::writer::{JobWriter, Writer};

mod error;
mod worker_store;

pub use error::JobError;
use worker_store::{MemoryShares, open_store};

/// Partition count of the event topics (the default worker count).
pub fn partition_count(config: &JobConfig) -> Result<usize, JobError> {
    let metadata_error = |source| JobError::Metadata { brokers: config.brokers.clone(), source };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .create()
        .map_err(metadata_error)?;
    let mut most = 0;
    let mut unavailable = None;
    for topic in config.topics.event_topics() {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(metadata_error)?;
        for t in metadata.topics() {
            match t.error().map(RDKafkaErrorCode::from) {
                None => most = most.max(t.partitions().len()),
                Some(RDKafkaErrorCode::UnknownTopicOrPartition) => {}
                Some(code) => unavailable = Some((t.name().to_owned(), code)),
            }
        }
    }
    match unavailable {
        _ if most > 0 => Ok(most),
        Some((topic, code)) => Err(JobError::TopicUnavailable { topic, code }),
        None => Err(JobError::NoTopics(config.topics.event_topics().map(String::from).to_vec())),
    }
}

/// Runs the job until SIGINT/SIGTERM (or, with `until_caught_up`, until
/// every partition is read to its start-time end); returns after every
/// worker flushed its output.
///
/// Until the dataflow runs, errors of a service that may answer later (Kafka
/// or Redis not up yet, a topic whose leader moves) are retried for
/// `--start-retry-for` (`start_retry.rs`).
///
/// When a Redis writer finds that Redis lost the job's writes
/// (`redis_loss.rs`), the dataflow stops and starts again in this process
/// from the newest complete checkpoint, rewriting every key of its state
/// into Redis before replaying the events after it; each such repair counts
/// in `tagflow_redis_resyncs_total`.
pub fn run(
    mut config: JobConfig,
    metrics: Arc<JobMetrics>,
    shutdown: Arc<AtomicBool>,
) -> Result<(), JobError> {
    let mut retry = StartRetry::new(
        config.start_retry_for,
        metrics.start_retries.clone(),
        Arc::clone(&shutdown),
    );
    Calendar::new(&config.timezone)?;
    // Held until every worker finished, before anything touches the
    // directories (startup removes incomplete checkpoints), and taken before
    // any service is asked: a second instance is refused at once, not after
    // it waited out --start-retry-for for a Kafka that is down.
    let process = config.cluster.as_ref().map_or(0, |cluster| cluster.process);
    let _locks = (
        DirLock::acquire(&config.state_dir, process)?,
        config
            .checkpoints
            .location
            .local_dir()
            .map(|dir| DirLock::acquire(dir, process))
            .transpose()?,
    );
    let workers = match config.workers {
        Some(n) => n.max(1),
        None => retry.run("reading the event topics' metadata", || partition_count(&config))?,
    };
    metrics.checkpoint.interval_seconds.set(config.checkpoints.interval.as_secs_f64());
    let mut repair = false;
    loop {
        let stops = Stops {
            shutdown: Arc::clone(&shutdown),
            redis_lost: RedisLoss::default(),
            input_lost: InputLoss::default(),
        };
        let run = run_dataflow(Arc::new(config.clone()), workers, &metrics, &stops, repair);
        if let Err(err) = run {
            // Only a start that failed before the workers read anything
            // comes back transient (workers retry their own steps).
            retry.wait_after("starting the dataflow", err)?;
            continue;
        }
        retry.reset();
        if let Some(lost) = stops.input_lost.take() {
            return Err(lost.into());
        }
        if !stops.redis_lost.is_raised() {
            remove_unsealed(&config);
            return Ok(());
        }
        metrics.redis_resyncs.inc();
        tracing::warn!(
            "Redis lost the job's writes: restoring the newest checkpoint to rewrite it"
        );
        // The newest checkpoint, whatever this run started from.
        config.checkpoints.restore = RestoreFrom::Latest;
        repair = true;
    }
}

/// After a clean end of a single-process job: removes the parts of a
/// checkpoint the end of the input overtook (every part writer has
/// finished; no later run could seal it). With several processes another
/// one may still be writing its part, so the next start cleans up instead.
fn remove_unsealed(config: &JobConfig) {
    if config.cluster.as_ref().is_some_and(|cluster| cluster.processes > 1) {
        return;
    }
    match config.checkpoints.location.open().and_then(|dir| dir.remove_incomplete()) {
        Ok(removed) => {
            for path in removed {
                tracing::info!(path, "removed a checkpoint the end of the input overtook");
            }
        }
        Err(err) => tracing::warn!(%err, "cannot remove unsealed checkpoint parts"),
    }
}

/// What stops a run of the dataflow besides the end of its input, shared
/// by its workers' sources.
#[derive(Debug, Clone)]
struct Stops {
    /// Set on SIGINT/SIGTERM.
    shutdown: Arc<AtomicBool>,
    /// Raised when Redis lost the job's writes: the job runs the dataflow
    /// again from the newest checkpoint.
    redis_lost: RedisLoss,
    /// Raised when Kafka deleted events a worker had not read (under
    /// `--on-data-loss fail`): the job exits with that error.
    input_lost: InputLoss,
}

/// One run of the dataflow: restore, then process until the input ends or
/// one of `stops` is raised. With `repair`, Redis is rewritten from the
/// restored state whatever its marker says.
fn run_dataflow(
    config: Arc<JobConfig>,
    workers: usize,
    metrics: &Arc<JobMetrics>,
    stops: &Stops,
    repair: bool,
) -> Result<(), JobError> {
    let communication = match &config.cluster {
        Some(cluster) if cluster.processes > 1 => CommunicationConfig::Cluster {
            threads: workers,
            process: cluster.process,
            addresses: cluster.addresses.clone(),
            report: false,
            zerocopy: false,
        },
        _ => CommunicationConfig::Process(workers),
    };
    let settings = config.result_settings();
    let mut startup = startup::prepare(&config.checkpoints, &config.redis, &settings)?;
    if let Some(manifest) = &startup.restored {
        check_retained(&config.brokers, &manifest.offsets, config.on_data_loss)?;
        // The marker may have been set after Redis lost the rest.
        startup.rewrite_redis |= repair;
    }
    let (process, processes) = config.cluster.as_ref().map_or((0, 1), |c| (c.process, c.processes));
    startup.fetch(
        &config.state_dir,
        process * workers..(process + 1) * workers,
        workers * processes,
    )?;
    let startup = Arc::new(startup);
    let catalog = match &config.leaderboards {
        Some(settings) => {
            let file = settings.catalog.as_deref();
            let catalog = ProductTags::load(file, &config.redis, config.redis_timeout)?;
            if catalog.is_empty() {
                tracing::warn!(
                    "the catalog has no tagged product: per-tag leaderboards stay empty"
                );
            }
            Arc::new(catalog)
        }
        None => Arc::default(),
    };
    // Until the first checkpoint of this run, "last completed" counts from
    // the start, so a staleness alert does not fire on a fresh start.
    metrics.checkpoint.last_completed_timestamp_seconds.set(unix_ms() as f64 / 1000.0);
    tracing::info!(workers, cluster = ?config.cluster, epoch = ?config.epoch, "starting dataflow");
    let timely_config = TimelyConfig { communication, worker: WorkerConfig::default() };
    let (metrics, stops) = (Arc::clone(metrics), stops.clone());
    let guards = timely::execute(timely_config, move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        if let Err(err) = run_worker(worker, (&config, &catalog), &startup, &metrics, &stops) {
            tracing::error!(worker = index, peers, %err, "worker failed");
            return Err(err);
        }
        Ok(())
    })
    .map_err(JobError::Timely)?;
    let mut failures = Vec::new();
    for result in guards.join() {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(err)) => failures.push(err),
            Err(panic) => failures.push(panic),
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(JobError::Timely(failures.join("; "))) }
}

fn run_worker(
    worker: &mut timely::worker::Worker,
    (config, catalog): (&JobConfig, &ProductTags),
    startup: &Startup,
    metrics: &Arc<JobMetrics>,
    stops: &Stops,
) -> Result<(), String> {
    let index = worker.index();
    let peers = worker.peers();
    let restore_started = Instant::now();
    let processes = config.cluster.as_ref().map_or(1, |cluster| cluster.processes.max(1));
    let memory = MemoryShares::of(config.state_memory / (peers / processes).max(1));
    let store = Arc::new(
        open_store(config, startup, index, peers, &memory.store).map_err(|e| e.to_string())?,
    );
    let dead_letters = Rc::new(
        KafkaOutput::new(
            &config.brokers,
            &config.topics.dead_letter,
            metrics.output_failures.clone(),
        )
        .map_err(|e| e.to_string())?,
    );
    let interest_tags = Rc::new(
        KafkaOutput::new(
            &config.brokers,
            &config.topics.interest_tags,
            metrics.output_failures.clone(),
        )
        .map_err(|e| e.to_string())?,
    );
    let sentinel = Sentinel::new(index);
    let watch = Some((sentinel.clone(), stops.redis_lost.clone()));
    let redis =
        RedisSink::start(&config.redis, config.redis_timeout, index, Arc::clone(metrics), watch)
            .map_err(|e| e.to_string())?;
    let pace = WritePace::new();
    let writer = Rc::new(JobWriter {
        redis: RefCell::new(redis),
        interest_tags: Rc::clone(&interest_tags),
        pace: pace.clone(),
    });
    let reader_config = ReaderConfig {
        brokers: config.brokers.clone(),
        group_id: config.group_id.clone(),
        topics: config.topics.event_topics().map(String::from).to_vec(),
        worker: index,
        workers: peers,
        start_offsets: startup.restored.as_ref().map(|m| m.offsets_map()).unwrap_or_default(),
        until_caught_up: config.until_caught_up,
        on_data_loss: config.on_data_loss,
        lost_offsets: metrics.input_offsets_lost.clone(),
        partition_restarts: metrics.input_partition_restarts.clone(),
        discovery_interval: config.discovery_interval,
    };
    // Every worker must build the dataflow, or its peers wait for it
    // forever: a partition whose metadata does not come is waited for here.
    let mut retry = StartRetry::new(
        config.start_retry_for,
        metrics.start_retries.clone(),
        Arc::clone(&stops.shutdown),
    );
    let reader = retry
        .run("reading the worker's partitions", || PartitionReader::new(reader_config.clone()))
        .map_err(|e| e.to_string())?;
    let settings = SourceSettings {
        epoch: config.epoch,
        max_batch: config.max_batch,
        discovery_interval: config.discovery_interval,
        recent_capacity: config.events_capacity,
        calendar: Calendar::new(&config.timezone).map_err(|e| e.to_string())?,
        checkpoint_every: epochs_between(config.checkpoints.interval, config.epoch),
    };
    let (barrier_writer, barrier_outputs) =
        (Rc::clone(&writer), [Rc::clone(&dead_letters), Rc::clone(&interest_tags)]);
    let cache = match &startup.restored {
        // The store is its own part of the checkpoint: its files are stored.
        Some(manifest) if manifest.workers == peers => PartCache::restored_from(manifest, index),
        _ => PartCache::default(),
    };
    let part_writing = PartWriting {
        store: Arc::clone(&store),
        dir: Arc::clone(&startup.dir),
        cache,
        output_barriers: Box::new(move || OutputBarriers {
            redis: barrier_writer.redis.borrow().barrier(),
            kafka: barrier_outputs.iter().map(|output| output.barrier()).collect(),
        }),
        metrics: Arc::clone(metrics),
    };
    let sealer_config = SealerConfig {
        dir: Arc::clone(&startup.dir),
        workers: peers,
        next_id: startup.next_id,
        lineage: startup.lineage.clone(),
        retained: config.checkpoints.retained,
        settings: config.result_settings(),
        sentinel: Some(sentinel),
    };
    let read_ahead = ReadAhead::new(config.read_ahead_epochs);
    let handles = SourceHandles {
        dead_letters: Rc::clone(&dead_letters),
        metrics: Arc::clone(metrics),
        shutdown: Arc::clone(&stops.shutdown),
        redis_lost: stops.redis_lost.clone(),
        input_lost: stops.input_lost.clone(),
        pace,
        read_ahead: read_ahead.clone(),
    };
    let output: Rc<dyn Writer> = writer.clone();
    let err = |e: state::StateError| e.to_string();
    let calendar = Calendar::new(&config.timezone).map_err(|e| e.to_string())?;
    let bound = Some((memory.profiles, memory.visitors));
    let rewrite = startup.restored.is_some() && startup.rewrite_redis;
    let aggregate_settings = AggregateSettings {
        weights: config.weights,
        top_n: config.top_n,
        dedupe_window: config.dedupe_window,
        events_capacity: config.events_capacity,
        hash_layout: config.hash_layout,
        retention: Retention::new(config.uv_retention_days, calendar),
        // Rewriting Redis walks every key: all of them are loaded for it
        // once, and the bound applies from the first epoch on.
        memory: if rewrite { None } else { bound },
    };
    let groups = groups_for_worker(index, peers);
    let mut aggregates =
        Aggregates::open(&store, groups, &aggregate_settings, &output, metrics).map_err(err)?;
    let sealer = Sealer::new(sealer_config, Rc::clone(&output), Arc::clone(metrics));
    if let (Some(manifest), Some(copy)) = (&startup.restored, &startup.restored_copy) {
        if startup.rewrite_redis {
            // After a rescale this worker's visitors include users owned
            // anywhere: name them from every part of the checkpoint.
            let names = CheckpointUserNames::open(copy.path(), manifest).map_err(err)?;
            let Rewritten { users, pairs, events } = aggregates.rewrite_all(&names).map_err(err)?;
            tracing::info!(worker = index, users, pairs, events, "Redis rewritten from state");
            aggregates.set_memory_budgets(bound);
        }
        copy.release();
        let elapsed = restore_started.elapsed();
        metrics.checkpoint.observe_restore(elapsed);
        tracing::info!(worker = index, ?elapsed, "state restored");
    }
    let mut leaderboards = match &config.leaderboards {
        Some(board_settings) => {
            let retention = aggregate_settings.retention.clone();
            let tag_weights = TagWeightsState::new(
                Arc::clone(&store),
                groups_for_worker(index, peers),
                retention.clone(),
            )
            .map_err(err)?;
            let restored = Restored {
                visitors: aggregates.visitors.report_changes().map_err(err)?,
                tags: tag_weights.totals().map_err(err)?,
            };
            Some(WorkerLeaderboards {
                tag_weights,
                restored,
                catalog: catalog.share(index, peers),
                size: board_settings.size,
                weights: config.weights,
                retention,
            })
        }
        None => None,
    };
    let every = Some(settings.checkpoint_every);
    worker
        .dataflow::<u64, _, _>(|scope| {
            let streams = kafka_source(scope, reader, settings, handles);
            let Aggregates { mut profiles, visitors, recent } = aggregates;
            if leaderboards.is_some() {
                profiles.emit_counted_events();
            }
            let route_profile = move |event: &_| profiles::route(event, peers);
            let (read, processed) = (read_ahead.read(), read_ahead.processed());
            let events = streams.profiles.probe_with(read);
            let profiles = epoch_sink(events, "Profiles", route_profile, profiles, every);
            let (visits, counted) = profiles::split(profiles.output.probe_with(processed));
            let router = ViewRouter::new(peers);
            let route_visit = move |visit: &_| router.route(visit);
            let mut visitors = epoch_sink(visits, "UniqueVisitors", route_visit, visitors, every);
            visitors.output = visitors.output.probe_with(processed);
            let recent = epoch_sink(streams.recent, "RecentEvents", recent::route, recent, every);
            // Nothing reads the recent events' output: it is only probed.
            let _ = recent.output.probe_with(processed);
            let mut snapshots = vec![profiles.snapshots, visitors.snapshots, recent.snapshots];
            if let Some(boards) = leaderboards.take() {
                let writer = Rc::clone(&output);
                snapshots.push(boards.build(counted, visitors.output, peers, writer, every));
            }
            let inputs = CheckpointInputs { positions: streams.positions, snapshots };
            checkpoint_flow(scope, inputs, part_writing, sealer)
        })
        .map_err(|e| format!("cannot start the checkpoint thread: {e}"))?;
    while worker.step_or_park(Some(Duration::from_millis(100))) {}

    let flush = Duration::from_secs(30);
    for output in [&dead_letters, &interest_tags] {
        if let Err(err) = output.flush(flush) {
            tracing::error!(worker = index, %err, "output flush failed");
        }
    }
    writer.redis.borrow_mut().finish();
    tracing::info!(worker = index, "worker finished");
    Ok(())
}
