//! Command-line interface of the `api` binary: flags and `TAGFLOW_*`
//! environment variables, turned into a [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use model::SharedHashLayout;

use crate::config::Config;
use crate::rate_limit::RateLimit;

/// tagflow's HTTP API and dashboard.
#[derive(Debug, Parser)]
#[command(name = "api", version, about)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "TAGFLOW_API_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Redis address: redis://host:port[/db] (one server),
    /// redis+sentinel://host:port,host:port/<master>[/<db>] (the primary the
    /// sentinels name, followed through failovers) or
    /// redis+cluster://host:port,host:port (a Redis Cluster).
    #[arg(long, env = "TAGFLOW_REDIS", default_value = "redis://127.0.0.1:6379", value_parser = model::redis_target::check_address)]
    pub redis: String,
    /// Kafka bootstrap servers.
    #[arg(
        long,
        env = "TAGFLOW_BROKERS",
        default_value = "127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095"
    )]
    pub brokers: String,
    /// Prefix of every topic name.
    #[arg(long, env = "TAGFLOW_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
    /// Product catalog as a JSON array (`simulator catalog --out`); without
    /// it, the catalog the simulator loaded into Redis is read (and re-read
    /// every 10 s).
    #[arg(long, env = "TAGFLOW_CATALOG")]
    pub catalog: Option<PathBuf>,
    /// An origin allowed to call the API from a browser (repeatable; none by
    /// default), or `*` alone for any origin (then without credentials).
    #[arg(long = "cors-origin", env = "TAGFLOW_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Bearer token required by POST /api/user-behavior, when set.
    #[arg(long, env = "TAGFLOW_API_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Longest a request may take; slower ones get a 503.
    #[arg(long, env = "TAGFLOW_REQUEST_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Bound on every Redis call.
    #[arg(long, env = "TAGFLOW_REDIS_TIMEOUT", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub redis_timeout: Duration,
    /// Bound on Kafka acknowledgements (acks=all) and metadata calls.
    #[arg(long, env = "TAGFLOW_KAFKA_TIMEOUT", default_value = "1500ms", value_parser = humantime::parse_duration)]
    pub kafka_timeout: Duration,
    /// Largest accepted request body in bytes.
    #[arg(long, env = "TAGFLOW_BODY_LIMIT", default_value_t = 2 * 1024 * 1024)]
    pub body_limit: usize,
    /// IANA time zone in which "today" is counted (as the dataflow job's --timezone).
    #[arg(long, env = "TAGFLOW_TIMEZONE", default_value = "UTC")]
    pub timezone: String,
    /// Longest a client may take to send a request's line and headers; also
    /// how long an idle keep-alive connection is kept. Slower clients are
    /// disconnected.
    #[arg(long, env = "TAGFLOW_HEADER_READ_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// Most client connections open at once; further ones wait in the
    /// listen backlog until one closes.
    #[arg(long, env = "TAGFLOW_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Requests per second one client IP address may sustain; over it, 429
    /// with Retry-After. 0 (the default) sets no limit.
    #[arg(long, env = "TAGFLOW_RATE_LIMIT", default_value_t = 0)]
    pub rate_limit: u32,
    /// Requests one client IP address may send at once before the rate
    /// applies (default: one second's worth).
    #[arg(long, env = "TAGFLOW_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,
    /// Produce each ingested batch in one Kafka transaction: all of it or
    /// none is visible to read_committed consumers. Off by default: the
    /// transaction markers need a job that measures its position past them.
    #[arg(long, env = "TAGFLOW_KAFKA_TRANSACTIONS")]
    pub kafka_transactions: bool,
    /// Prefix of the transactional producers' ids (default
    /// tagflow-api-<host>-<pid>).
    #[arg(long, env = "TAGFLOW_TRANSACTIONAL_ID")]
    pub transactional_id: Option<String>,
    /// Transactional producers, i.e. batches in flight at once (with --kafka-transactions).
    #[arg(long, env = "TAGFLOW_KAFKA_PRODUCERS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub kafka_producers: u32,
    /// Longest a profile, recommendation or UV read may be answered from
    /// the in-process cache of recent answers while Redis is down or slower
    /// than --redis-timeout (marked `Warning: 110`); 0 turns the fallback off.
    #[arg(long, env = "TAGFLOW_STALE_FOR", default_value = "5m", value_parser = humantime::parse_duration)]
    pub stale_for: Duration,
    /// Most bytes of recent answers the fallback cache keeps.
    #[arg(long, env = "TAGFLOW_STALE_CACHE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub stale_cache_bytes: u64,
    /// The dataflow job's metrics (`dataflow run --metrics-addr`), read
    /// for the dashboard's job-health panel (GET /api/job-health); http only.
    #[arg(long, env = "TAGFLOW_DATAFLOW_METRICS", default_value = "http://127.0.0.1:9464/metrics")]
    pub dataflow_metrics: String,
    /// Bound on reading the job's metrics; past it the panel reports the
    /// job unreachable (503).
    #[arg(long, env = "TAGFLOW_DATAFLOW_METRICS_TIMEOUT", default_value = "1s", value_parser = humantime::parse_duration)]
    pub dataflow_metrics_timeout: Duration,
    /// Number of interest tags per user (as the dataflow job's --top-n).
    #[arg(long, default_value_t = 5)]
    pub top_n: usize,
    /// Shard keys per shared hash, as the dataflow job's
    /// --shared-hash-shards (0: `user-profiles` and `hot:pageview_counts`
    /// are one key each; N: field f is in `<hash>:shard:<CRC16(f) mod N>`).
    #[arg(long, env = "TAGFLOW_SHARED_HASH_SHARDS", default_value_t = SharedHashLayout::SINGLE)]
    pub shared_hash_shards: SharedHashLayout,
}

impl Cli {
    /// The typed configuration.
    pub fn config(self) -> Config {
        Config {
            listen: self.listen,
            redis: self.redis,
            brokers: self.brokers,
            topic_prefix: self.topic_prefix,
            catalog: self.catalog,
            cors_origins: self.cors_origins.into_iter().filter(|o| !o.is_empty()).collect(),
            auth_token: self.auth_token.filter(|t| !t.is_empty()),
            request_timeout: self.request_timeout,
            redis_timeout: self.redis_timeout,
            kafka_timeout: self.kafka_timeout,
            body_limit: self.body_limit,
            timezone: self.timezone,
            top_n: self.top_n,
            hash_layout: self.shared_hash_shards,
            header_read_timeout: self.header_read_timeout,
            stale_for: self.stale_for,
            kafka_transactions: self.kafka_transactions,
            transactional_id: self
                .transactional_id
                .unwrap_or_else(crate::config::default_transactional_id),
            kafka_producers: self.kafka_producers as usize,
            stale_cache_bytes: self.stale_cache_bytes,
            dataflow_metrics: self.dataflow_metrics,
            dataflow_metrics_timeout: self.dataflow_metrics_timeout,
            max_connections: self.max_connections as usize,
            rate_limit: RateLimit {
                per_second: self.rate_limit,
                burst: self.rate_limit_burst.unwrap_or(self.rate_limit),
            },
            ..Config::default()
        }
    }
}
