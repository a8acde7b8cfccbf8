//! The job's typed configuration, built from the command line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use model::{SharedHashLayout, Topics};
use state::CheckpointLocation;

use crate::aggregates::leaderboards::LeaderboardSettings;
use crate::kafka_reader::OnDataLoss;
use crate::weights::Weights;

/// The name under which checkpoints record `--shared-hash-shards`.
pub const SHARED_HASH_SHARDS: &str = "shared-hash-shards";

/// Result settings recorded only when not at their default: a checkpoint
/// without one was taken with the default.
pub const OPTIONAL_SETTINGS: [&str; 1] = [SHARED_HASH_SHARDS];

/// How the processes of a multi-process job find each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Number of processes.
    pub processes: usize,
    /// This process's index, `0..processes`.
    pub process: usize,
    /// `host:port` of every process, in index order.
    pub addresses: Vec<String>,
}

/// Everything `dataflow run` needs.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Redis URL (may name a database: `redis://host:6379/3`).
    pub redis: String,
    /// Longest wait for Redis in one call.
    pub redis_timeout: Duration,
    /// Topic names.
    pub topics: Topics,
    /// Consumer group positions are published to (for lag tools only).
    pub group_id: String,
    /// Worker threads in this process; `None` = the event topics' partition count.
    pub workers: Option<usize>,
    /// Multi-process setup; `None` runs in one process.
    pub cluster: Option<Cluster>,
    /// Wall-clock length of an epoch.
    pub epoch: Duration,
    /// Where `/metrics` is served.
    pub metrics_addr: SocketAddr,
    /// Event-type weights.
    pub weights: Weights,
    /// How many interest tags a user has.
    pub top_n: usize,
    /// IANA time zone that days are counted in.
    pub timezone: String,
    /// Length of the `events` list.
    pub events_capacity: usize,
    /// Where fields of the shared hashes go (`--shared-hash-shards`).
    pub hash_layout: SharedHashLayout,
    /// How long event ids are remembered to count duplicates once (`None`:
    /// off; see `aggregates::profiles::seen_ids`).
    pub dedupe_window: Option<Duration>,
    /// Days of unique visitors kept (0: all).
    pub uv_retention_days: u32,
    /// Directory of the per-worker state stores.
    pub state_dir: PathBuf,
    /// Bytes of memory for state in this process (`--state-memory`).
    pub state_memory: usize,
    /// Stop once every partition reached the end it had at start.
    pub until_caught_up: bool,
    /// Most messages a source handles per activation.
    pub max_batch: usize,
    /// Epochs sources may read ahead of the dataflow's slowest operator.
    pub read_ahead_epochs: u64,
    /// How often new partitions are looked for.
    pub discovery_interval: Duration,
    /// What a restored position below the retained events means.
    pub on_data_loss: OnDataLoss,
    /// How long a start that meets a service not answering yet is retried.
    pub start_retry_for: Duration,
    /// Checkpoints.
    pub checkpoints: CheckpointConfig,
    /// The leaderboards (`None`: off).
    pub leaderboards: Option<LeaderboardSettings>,
}

impl JobConfig {
    /// The settings that decide the job's results, by flag name: every
    /// checkpoint records them, and a restore refuses a checkpoint taken
    /// with others unless told to accept the change. `--uv-retention-days`
    /// is not one of them: changing it is how retention is tuned, and its
    /// effect is defined (days beyond the new window leave state and Redis
    /// at the next purge; a longer window keeps days not yet purged).
    /// Neither is `--dedupe-window`: it decides only how late a duplicate
    /// is still recognised. `--shared-hash-shards` is recorded only when
    /// not 0, so checkpoints taken before the flag existed restore under
    /// its default.
    #[must_use]
    pub fn result_settings(&self) -> BTreeMap<String, String> {
        let mut settings = BTreeMap::from([
            ("weights".to_owned(), self.weights.to_string()),
            ("top-n".to_owned(), self.top_n.to_string()),
            ("timezone".to_owned(), self.timezone.clone()),
            ("events-capacity".to_owned(), self.events_capacity.to_string()),
        ]);
        if self.hash_layout != SharedHashLayout::SINGLE {
            settings.insert(SHARED_HASH_SHARDS.to_owned(), self.hash_layout.to_string());
        }
        settings
    }
}

/// Where checkpoints go, how often, and which one a run starts from.
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    /// Where checkpoints go: a directory (shared by every process of the
    /// job) or an S3-compatible bucket.
    pub location: CheckpointLocation,
    /// Time between checkpoints.
    pub interval: Duration,
    /// Complete checkpoints kept (the newest ones).
    pub retained: usize,
    /// Which checkpoint to restore at start.
    pub restore: RestoreFrom,
    /// Whether a checkpoint taken with other result settings may be restored.
    pub accept_config_change: bool,
}

/// The checkpoint a run starts from (`--restore`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreFrom {
    /// The newest intact checkpoint if there is any; falls back past damaged
    /// ones (and says so); an empty start only if there is none at all.
    Latest,
    /// No checkpoint: empty state, earliest offsets.
    None,
    /// Exactly this checkpoint; damaged or missing is an error.
    Id(u64),
}

impl std::str::FromStr for RestoreFrom {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "latest" => Ok(Self::Latest),
            "none" => Ok(Self::None),
            id => id
                .parse()
                .map(Self::Id)
                .map_err(|_| format!("expected latest, none or a checkpoint id, got {id:?}")),
        }
    }
}
