//! Command-line interface of the `dataflow` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use model::{SharedHashLayout, Topics};

use crate::aggregates::leaderboards::LeaderboardSettings;
use crate::config::{CheckpointConfig, Cluster, JobConfig, RestoreFrom};
use crate::kafka_reader::OnDataLoss;
use crate::weights::Weights;

mod freed_memory;
mod shared;
pub use freed_memory::FreedMemory;
pub use shared::{LeaderboardArgs, ObjectStoreArgs, Switch};

/// tagflow's stream-processing job.
#[derive(Debug, Parser)]
#[command(name = "dataflow", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// What the allocator does with freed memory: `run`'s
    /// `--freed-memory`, and keep for the other subcommands.
    #[must_use]
    pub fn freed_memory(&self) -> FreedMemory {
        match &self.command {
            Command::Run(args) => args.freed_memory,
            Command::Checkpoints(_) | Command::ResyncRedis(_) => FreedMemory::Keep,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the job: Kafka events in, profiles and unique visitors out to Redis.
    Run(Box<RunArgs>),
    /// List, inspect or delete checkpoints.
    Checkpoints(CheckpointsArgs),
    /// Rewrite every Redis key of the job from a checkpoint (repairs a Redis
    /// that lost data without running the job).
    ResyncRedis(ResyncArgs),
}

/// `dataflow checkpoints`.
#[derive(Debug, Args)]
pub struct CheckpointsArgs {
    /// Directory of the checkpoints, or s3://bucket/prefix.
    #[arg(long, env = "TAGFLOW_CHECKPOINT_DIR", default_value_os_t = default_data_dir("checkpoints"))]
    pub checkpoint_dir: PathBuf,
    /// How to reach an object store.
    #[command(flatten)]
    pub object_store: ObjectStoreArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: CheckpointsAction,
}

/// `dataflow checkpoints <action>`.
#[derive(Debug, Subcommand)]
pub enum CheckpointsAction {
    /// One line per checkpoint: id, status, epoch, workers, size, age.
    List,
    /// A checkpoint's manifest, after verifying every file.
    Inspect {
        /// The checkpoint id.
        id: u64,
    },
    /// Delete a checkpoint.
    Delete {
        /// The checkpoint id.
        id: u64,
    },
}

/// `dataflow resync-redis`.
#[derive(Debug, Args)]
pub struct ResyncArgs {
    /// Redis address: redis://host:port[/db] (one server),
    /// redis+sentinel://host:port,host:port/<master>[/<db>] (the primary the
    /// sentinels name, followed through failovers) or
    /// redis+cluster://host:port,host:port (a Redis Cluster).
    #[arg(long, env = "TAGFLOW_REDIS", default_value = "redis://127.0.0.1:6379", value_parser = model::redis_target::check_address)]
    pub redis: String,
    /// Longest wait for Redis in one call, before reconnecting and retrying.
    #[arg(long, env = "TAGFLOW_REDIS_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub redis_timeout: Duration,
    /// Directory of the checkpoints, or s3://bucket/prefix.
    #[arg(long, env = "TAGFLOW_CHECKPOINT_DIR", default_value_os_t = default_data_dir("checkpoints"))]
    pub checkpoint_dir: PathBuf,
    /// How to reach an object store.
    #[command(flatten)]
    pub object_store: ObjectStoreArgs,
    /// Checkpoint to rewrite from: latest (the newest intact one) or an id.
    #[arg(long, default_value = "latest")]
    pub checkpoint: RestoreFrom,
    /// Number of interest tags kept per user (as the job's --top-n).
    #[arg(long, default_value_t = 5)]
    pub top_n: usize,
    /// Length of the Redis `events` list (as the job's --events-capacity).
    #[arg(long, default_value_t = 10_000)]
    pub events_capacity: usize,
    /// Shard keys per shared hash, as the job's --shared-hash-shards
    /// [default: the value the checkpoint was taken with].
    #[arg(long, env = "TAGFLOW_SHARED_HASH_SHARDS")]
    pub shared_hash_shards: Option<SharedHashLayout>,
    /// The leaderboards, rewritten too (ranked from the checkpoint's counts
    /// as the job ranks them) unless `--leaderboards off`.
    #[command(flatten)]
    pub boards: LeaderboardArgs,
}

/// `dataflow run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Kafka bootstrap servers.
    #[arg(
        long,
        env = "TAGFLOW_BROKERS",
        default_value = "127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095"
    )]
    pub brokers: String,
    /// Redis address: redis://host:port[/db] (one server),
    /// redis+sentinel://host:port,host:port/<master>[/<db>] (the primary the
    /// sentinels name, followed through failovers) or
    /// redis+cluster://host:port,host:port (a Redis Cluster).
    #[arg(long, env = "TAGFLOW_REDIS", default_value = "redis://127.0.0.1:6379", value_parser = model::redis_target::check_address)]
    pub redis: String,
    /// Longest wait for Redis in one call (connecting, sending, each
    /// reply); then the writer drops the connection, opens a new one and
    /// retries, so an unresponsive Redis stalls the job instead of hanging it.
    #[arg(long, env = "TAGFLOW_REDIS_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub redis_timeout: Duration,
    /// Prefix of every topic name (tests use it to stay apart).
    #[arg(long, env = "TAGFLOW_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
    /// Consumer group the job publishes its positions to, for lag tools only.
    #[arg(long, env = "TAGFLOW_GROUP_ID", default_value = "tagflow-dataflow")]
    pub group_id: String,
    /// Worker threads in this process [default: partitions of the event topics].
    #[arg(long, short = 'w', env = "TAGFLOW_WORKERS")]
    pub workers: Option<usize>,
    /// Number of processes of a multi-process job.
    #[arg(long, env = "TAGFLOW_PROCESSES", default_value_t = 1)]
    pub processes: usize,
    /// This process's index among --processes (0-based). Kubernetes sets
    /// it from a StatefulSet pod's ordinal (deploy/k8s).
    #[arg(long, env = "TAGFLOW_PROCESS", default_value_t = 0)]
    pub process: usize,
    /// File with one host:port per line, one line per process, in index
    /// order; required with --processes > 1.
    #[arg(long, env = "TAGFLOW_HOSTFILE")]
    pub hostfile: Option<PathBuf>,
    /// Epoch length in milliseconds: the granularity of progress tracking
    /// and checkpoint boundaries; the `events` list is updated once per
    /// epoch (other results as soon as Redis can take them).
    #[arg(long, env = "TAGFLOW_EPOCH_MS", default_value_t = 200)]
    pub epoch_ms: u64,
    /// Address of the Prometheus /metrics endpoint.
    #[arg(long, env = "TAGFLOW_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: SocketAddr,
    /// Weights of view, add_to_cart and purchase events.
    #[arg(long, env = "TAGFLOW_WEIGHTS", default_value = "1,3,5")]
    pub weights: Weights,
    /// Number of interest tags kept per user.
    #[arg(long, default_value_t = 5)]
    pub top_n: usize,
    /// IANA time zone in which days are counted for unique visitors.
    #[arg(long, env = "TAGFLOW_TIMEZONE", default_value = "UTC")]
    pub timezone: String,
    /// Length of the Redis `events` list of recent events.
    #[arg(long, default_value_t = 10_000)]
    pub events_capacity: usize,
    /// Shard keys per shared hash (`UserInterestTag`, `user-profiles`,
    /// `hot:pageview_counts`): 0 keeps each in one key, as the original
    /// system; N > 0 puts field f in `<hash>:shard:<CRC16(f) mod N>`, which
    /// spreads them over a Redis Cluster's primaries. The API must be given
    /// the same value. Recorded in checkpoints: a restore with another value
    /// is refused unless --accept-config-change.
    #[arg(long, env = "TAGFLOW_SHARED_HASH_SHARDS", default_value_t = SharedHashLayout::SINGLE)]
    pub shared_hash_shards: SharedHashLayout,
    /// How long a user's event ids are remembered, in event time behind the
    /// user's newest event of the same type: an event whose user, type and
    /// eventId were seen within it (a client's retried batch, a producer's
    /// resend) is counted once, and in tagflow_duplicate_events_total. Each
    /// remembered id costs about 32 bytes of profile state (more for ids
    /// over 24 bytes). 0 turns it off.
    #[arg(
        long,
        env = "TAGFLOW_DEDUPE_WINDOW",
        default_value = "10m",
        value_parser = humantime::parse_duration
    )]
    pub dedupe_window: Duration,
    /// Days of unique visitors kept: today and the N-1 days before it, by
    /// the wall clock in --timezone; older days leave state and their Redis
    /// keys expire (a view of an expired day still counts in its shopper's
    /// profile). 0 keeps every day.
    #[arg(long, env = "TAGFLOW_UV_RETENTION_DAYS", default_value_t = 0)]
    pub uv_retention_days: u32,
    /// Directory of the per-worker RocksDB state (scratch space, rebuilt
    /// from the restored checkpoint at every start).
    #[arg(long, env = "TAGFLOW_STATE_DIR", default_value_os_t = default_data_dir("state"))]
    pub state_dir: PathBuf,
    /// Where checkpoints go: a directory, which every process of the job
    /// must share, or s3://bucket/prefix in an S3-compatible object store
    /// (see --s3-endpoint), which needs no shared file system.
    #[arg(long, env = "TAGFLOW_CHECKPOINT_DIR", default_value_os_t = default_data_dir("checkpoints"))]
    pub checkpoint_dir: PathBuf,
    /// How to reach an object store.
    #[command(flatten)]
    pub object_store: ObjectStoreArgs,
    /// Memory for state in this process (e.g. 4GiB, 512MiB), shared evenly
    /// by its workers: each keeps its hot keys in memory within 3/4 of its
    /// share and sizes RocksDB's block cache and memtables within the rest;
    /// colder keys live only in RocksDB. Changes dirtied within one
    /// checkpoint interval stay in memory until they are checkpointed.
    #[arg(long, env = "TAGFLOW_STATE_MEMORY", default_value = "4GiB")]
    pub state_memory: bytesize::ByteSize,
    /// What the allocator does with memory the job frees: keep it for reuse
    /// (the fastest catch-up; the RSS stays at its high-water mark) or
    /// return it to the OS after 10 ms (the RSS follows what the job holds:
    /// the choice for a state much larger than --state-memory).
    /// MIMALLOC_PURGE_DELAY, if set, decides instead.
    #[arg(long, env = "TAGFLOW_FREED_MEMORY", value_enum, default_value_t = FreedMemory::Keep)]
    pub freed_memory: FreedMemory,
    /// Time between checkpoints.
    #[arg(
        long,
        env = "TAGFLOW_CHECKPOINT_INTERVAL",
        default_value = "10s",
        value_parser = humantime::parse_duration
    )]
    pub checkpoint_interval: Duration,
    /// Number of complete checkpoints kept (the newest ones).
    #[arg(long, env = "TAGFLOW_CHECKPOINTS_RETAINED", default_value_t = 3)]
    pub checkpoints_retained: usize,
    /// Checkpoint to start from: `latest` (the newest intact one; empty state
    /// if there is none), `none` (empty state), or a checkpoint id.
    #[arg(long, env = "TAGFLOW_RESTORE", default_value = "latest")]
    pub restore: RestoreFrom,
    /// Restore a checkpoint taken with other --weights, --top-n, --timezone,
    /// --events-capacity or --shared-hash-shards than this run's (refused
    /// otherwise). Results then mix both: scores counted before keep their
    /// old weights, days already counted keep their old time zone; Redis is
    /// rewritten from state under the new settings.
    #[arg(long, env = "TAGFLOW_ACCEPT_CONFIG_CHANGE")]
    pub accept_config_change: bool,
    /// Stop once every partition is read up to where it ended at start
    /// (catch-up runs, benchmarks and tests).
    #[arg(long)]
    pub until_caught_up: bool,
    /// Most messages a worker reads per activation.
    #[arg(long, default_value_t = 4096)]
    pub max_batch: usize,
    /// Epochs the sources may read ahead of the slowest operator: while the
    /// dataflow has not finished the epoch this many epochs back, sources
    /// read nothing more, so a backlog waits in Kafka, not in memory.
    #[arg(long, env = "TAGFLOW_READ_AHEAD_EPOCHS", default_value_t = 5)]
    pub read_ahead_epochs: u64,
    /// What to do when a position is below the oldest event Kafka still has
    /// (retention deleted events the job never read), at a restore or while
    /// running: `fail` refuses to start or stops the job, naming the lost
    /// range; `continue` logs and counts it
    /// (tagflow_input_offsets_lost_total) and goes on.
    #[arg(long, env = "TAGFLOW_ON_DATA_LOSS", value_enum, default_value_t = OnDataLoss::Fail)]
    pub on_data_loss: OnDataLoss,
    /// How long to keep retrying a start that meets a service not answering
    /// yet (Kafka metadata that times out, a topic whose leader moves, Redis
    /// refusing connections), waiting 0.5 s doubling to 15 s between
    /// attempts; each retry is logged and counted in
    /// tagflow_start_retries_total. Errors that would only repeat (another
    /// checkpoint's settings, deleted events, a locked directory) end the
    /// start at once. 0 never retries.
    #[arg(
        long,
        env = "TAGFLOW_START_RETRY_FOR",
        default_value = "5m",
        value_parser = humantime::parse_duration
    )]
    pub start_retry_for: Duration,
    /// How often to look for partitions added to the event topics.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub discovery_interval: Duration,
    /// The live leaderboards.
    #[command(flatten)]
    pub boards: LeaderboardArgs,
}

/// `$XDG_DATA_HOME/tagflow/<name>`, else `~/.local/share/tagflow/<name>`.
fn default_data_dir(name: &str) -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("tagflow")
        .join(name)
}

/// A command line that does not describe a runnable job.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The hostfile could not be read.
    #[error("cannot read hostfile {path}: {source}")]
    Hostfile {
        /// Its path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Flags disagree with each other.
    #[error("{0}")]
    Invalid(String),
}

impl RunArgs {
    /// The job configuration these flags describe.
    pub fn into_config(self) -> Result<JobConfig, ConfigError> {
        if self.checkpoint_interval < Duration::from_millis(self.epoch_ms.max(1)) {
            return Err(ConfigError::Invalid(format!(
                "--checkpoint-interval {:?} is shorter than one epoch (--epoch-ms {})",
                self.checkpoint_interval, self.epoch_ms
            )));
        }
        if self.processes <= 1 && self.process > 0 {
            // A StatefulSet scaled past TAGFLOW_PROCESSES: not a second job.
            return Err(ConfigError::Invalid(format!(
                "--process {} needs --processes above it (got {})",
                self.process, self.processes
            )));
        }
        let cluster = if self.processes > 1 {
            let path = self.hostfile.ok_or_else(|| {
                ConfigError::Invalid(
                    "--processes > 1 needs --hostfile with one host:port per process".into(),
                )
            })?;
            let text = std::fs::read_to_string(&path)
                .map_err(|source| ConfigError::Hostfile { path: path.clone(), source })?;
            let addresses: Vec<String> =
                text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
            if addresses.len() != self.processes || self.process >= self.processes {
                return Err(ConfigError::Invalid(format!(
                    "{} has {} addresses for --processes {} (this is --process {})",
                    path.display(),
                    addresses.len(),
                    self.processes,
                    self.process
                )));
            }
            Some(Cluster { processes: self.processes, process: self.process, addresses })
        } else {
            None
        };
        Ok(JobConfig {
            brokers: self.brokers,
            redis: self.redis,
            redis_timeout: self.redis_timeout,
            topics: Topics::with_prefix(&self.topic_prefix),
            group_id: self.group_id,
            workers: self.workers,
            cluster,
            epoch: Duration::from_millis(self.epoch_ms.max(1)),
            metrics_addr: self.metrics_addr,
            weights: self.weights,
            top_n: self.top_n,
            timezone: self.timezone,
            events_capacity: self.events_capacity,
            hash_layout: self.shared_hash_shards,
            dedupe_window: Some(self.dedupe_window).filter(|window| !window.is_zero()),
            uv_retention_days: self.uv_retention_days,
            state_dir: self.state_dir,
            state_memory: usize::try_from(self.state_memory.as_u64()).unwrap_or(usize::MAX),
            until_caught_up: self.until_caught_up,
            max_batch: self.max_batch.max(1),
            read_ahead_epochs: self.read_ahead_epochs.max(1),
            discovery_interval: self.discovery_interval,
            on_data_loss: self.on_data_loss,
            start_retry_for: self.start_retry_for,
            checkpoints: CheckpointConfig {
                location: self.object_store.location(&self.checkpoint_dir),
                interval: self.checkpoint_interval,
                retained: self.checkpoints_retained.max(1),
                restore: self.restore,
                accept_config_change: self.accept_config_change,
            },
            leaderboards: (self.boards.leaderboards == Switch::On).then(|| LeaderboardSettings {
                size: self.boards.leaderboard_size.max(1),
                catalog: self.boards.catalog,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn freed_memory_is_kept_unless_run_is_told_to_return_it() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap().freed_memory();
        assert_eq!(parse(&["dataflow", "run"]), FreedMemory::Keep);
        assert_eq!(parse(&["dataflow", "run", "--freed-memory", "return"]), FreedMemory::Return);
        assert_eq!(parse(&["dataflow", "checkpoints", "list"]), FreedMemory::Keep);
        assert!(Cli::try_parse_from(["dataflow", "run", "--freed-memory", "some"]).is_err());
        assert_eq!(FreedMemory::Return.purge_delay_ms(), 10);
        assert_eq!(FreedMemory::Keep.purge_delay_ms(), -1, "mimalloc's never");
    }

    #[test]
    fn state_memory_takes_binary_units() {
        let parse = |size: &str| {
            let cli = Cli::try_parse_from(["dataflow", "run", "--state-memory", size]).unwrap();
            let Command::Run(args) = cli.command else { panic!("not run") };
            args.into_config().unwrap().state_memory
        };
        assert_eq!(parse("16MiB"), 16 << 20);
        assert_eq!(parse("4GiB"), 4 << 30);
        assert!(Cli::try_parse_from(["dataflow", "run", "--state-memory", "lots"]).is_err());
    }

    #[test]
    fn a_process_index_needs_that_many_processes() {
        let cli = Cli::try_parse_from(["dataflow", "run", "--process", "1"]).unwrap();
        let Command::Run(args) = cli.command else { panic!("not run") };
        assert!(args.into_config().is_err());
    }

    #[test]
    fn several_processes_need_a_matching_hostfile() {
        let cli = Cli::try_parse_from(["dataflow", "run", "--processes", "2"]).unwrap();
        let Command::Run(args) = cli.command else { panic!("not run") };
        assert!(args.into_config().is_err());
    }
}
