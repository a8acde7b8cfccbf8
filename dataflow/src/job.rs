//! Running the job: timely workers, each with its Kafka partitions, its
//! RocksDB store, its Redis writer, and the dataflow between them.
//!
//! ```text
//!   KafkaSource ──profiles──▶ exchange(user)         ──▶ ProfilesState ──▶ Redis, tags topic
//!        │     ──views─────▶ exchange(product)      ──▶ VisitorsState ──▶ Redis
//!        │     ──recent────▶ exchange(→ worker 0)   ──▶ RecentState   ──▶ Redis `events`
//!        └──── bad messages ──▶ dead-letter-events
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use checkpoints::{StateStore, StoreOptions, worker_for_key};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use timely::communication::Config as CommunicationConfig;
use timely::{Config as TimelyConfig, WorkerConfig};

use crate::config::JobConfig;
use crate::day::Calendar;
use crate::epochs::epoch_sink;
use crate::kafka_output::KafkaOutput;
use crate::kafka_reader::{PartitionReader, ReaderConfig};
use crate::metrics::JobMetrics;
use crate::profiles_state::ProfilesState;
use crate::recent_state::RecentState;
use crate::redis_sink::RedisSink;
use crate::source::{SourceHandles, SourceSettings, kafka_source};
use crate::visitors_state::VisitorsState;
use crate::writer::{JobWriter, Writer};

/// Why the job could not run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Kafka metadata could not be read (to size the job).
    #[error("cannot read Kafka metadata from {brokers}: {source}")]
    Metadata {
        /// The brokers asked.
        brokers: String,
        /// The client error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The event topics do not exist.
    #[error("event topics {0:?} not found in Kafka")]
    NoTopics(Vec<String>),
    /// The time zone is unknown.
    #[error(transparent)]
    TimeZone(#[from] crate::day::UnknownTimeZone),
    /// timely could not start or a worker failed.
    #[error("dataflow failed: {0}")]
    Timely(String),
}

/// Partition count of the event topics (the default worker count).
pub fn partition_count(config: &JobConfig) -> Result<usize, JobError> {
    let metadata_error = |source| JobError::Metadata { brokers: config.brokers.clone(), source };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .create()
        .map_err(metadata_error)?;
    let mut most = 0;
    for topic in config.topics.event_topics() {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(metadata_error)?;
        for t in metadata.topics() {
            if t.error().is_none() {
                most = most.max(t.partitions().len());
            }
        }
    }
    if most == 0 {
        return Err(JobError::NoTopics(config.topics.event_topics().map(String::from).to_vec()));
    }
    Ok(most)
}

/// Runs the job until SIGINT/SIGTERM (or, with `until_caught_up`, until
/// every partition is read to its start-time end); returns after every
/// worker flushed its output.
pub fn run(
    config: JobConfig,
    metrics: Arc<JobMetrics>,
    shutdown: Arc<AtomicBool>,
) -> Result<(), JobError> {
    let workers = match config.workers {
        Some(n) => n.max(1),
        None => partition_count(&config)?,
    };
    Calendar::new(&config.timezone)?;
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
    tracing::info!(workers, cluster = ?config.cluster, epoch = ?config.epoch, "starting dataflow");
    let timely_config = TimelyConfig { communication, worker: WorkerConfig::default() };
    let guards = timely::execute(timely_config, move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        if let Err(err) = run_worker(worker, &config, &metrics, &shutdown) {
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
    config: &JobConfig,
    metrics: &Arc<JobMetrics>,
    shutdown: &Arc<AtomicBool>,
) -> Result<(), String> {
    let index = worker.index();
    let peers = worker.peers();
    let store_dir = config.state_dir.join(format!("worker-{index}"));
    // Until checkpoint restore exists, every run starts from empty state and
    // the earliest offsets, so stale state must not survive.
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir)
            .map_err(|e| format!("cannot clear {}: {e}", store_dir.display()))?;
    }
    let store =
        Rc::new(StateStore::open(&store_dir, &StoreOptions::default()).map_err(|e| e.to_string())?);
    let dead_letters = Rc::new(
        KafkaOutput::new(&config.brokers, &config.topics.dead_letter).map_err(|e| e.to_string())?,
    );
    let interest_tags = Rc::new(
        KafkaOutput::new(&config.brokers, &config.topics.interest_tags)
            .map_err(|e| e.to_string())?,
    );
    let redis =
        RedisSink::start(&config.redis, index, Arc::clone(metrics)).map_err(|e| e.to_string())?;
    let writer =
        Rc::new(JobWriter { redis: RefCell::new(redis), interest_tags: Rc::clone(&interest_tags) });
    let reader = PartitionReader::new(ReaderConfig {
        brokers: config.brokers.clone(),
        group_id: config.group_id.clone(),
        topics: config.topics.event_topics().map(String::from).to_vec(),
        worker: index,
        workers: peers,
        start_offsets: Default::default(),
        until_caught_up: config.until_caught_up,
    })
    .map_err(|e| e.to_string())?;
    let settings = SourceSettings {
        epoch: config.epoch,
        max_batch: config.max_batch,
        discovery_interval: config.discovery_interval,
        recent_capacity: config.events_capacity,
        calendar: Calendar::new(&config.timezone).map_err(|e| e.to_string())?,
    };
    let handles = SourceHandles {
        dead_letters: Rc::clone(&dead_letters),
        metrics: Arc::clone(metrics),
        shutdown: Arc::clone(shutdown),
    };
    let output: Rc<dyn Writer> = writer.clone();
    worker.dataflow::<u64, _, _>(|scope| {
        let streams = kafka_source(scope, reader, settings, handles);
        let profiles = ProfilesState::new(
            Rc::clone(&store),
            true,
            config.weights,
            config.top_n,
            Rc::clone(&output),
            Arc::clone(metrics),
        );
        epoch_sink(
            streams.profiles,
            "Profiles",
            move |e| route(e.user.as_bytes(), peers),
            profiles,
        );
        let visitors =
            VisitorsState::new(Rc::clone(&store), true, Rc::clone(&output), Arc::clone(metrics));
        epoch_sink(
            streams.views,
            "UniqueVisitors",
            move |v| route(v.product.as_bytes(), peers),
            visitors,
        );
        let recent = RecentState::new(config.events_capacity, Rc::clone(&output));
        epoch_sink(streams.recent, "RecentEvents", |_| 0, recent);
    });
    while worker.step_or_park(Some(Duration::from_millis(100))) {}

    let flush = Duration::from_secs(30);
    for output in [&dead_letters, &interest_tags] {
        if let Err(err) = output.flush(flush) {
            tracing::error!(worker = index, %err, "output flush failed");
        }
        metrics.output_failures.inc_by(output.failures());
    }
    writer.redis.borrow_mut().finish();
    tracing::info!(worker = index, "worker finished");
    Ok(())
}

fn route(key: &[u8], peers: usize) -> u64 {
    worker_for_key(key, peers) as u64
}
