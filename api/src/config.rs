//! The API's typed configuration, independent of how it was given (flags,
//! environment, tests).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use model::SharedHashLayout;

use crate::rate_limit::RateLimit;

/// Everything the API needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Redis URL (a path selects the database).
    pub redis: String,
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Prefix of every topic name.
    pub topic_prefix: String,
    /// Catalog JSON file; `None` reads the catalog the simulator loaded into Redis.
    pub catalog: Option<PathBuf>,
    /// Origins allowed by CORS; empty allows none (no CORS headers).
    pub cors_origins: Vec<String>,
    /// Bearer token required by the write endpoint, when set.
    pub auth_token: Option<String>,
    /// Longest a request may take before it gets a 503.
    pub request_timeout: Duration,
    /// Bound on every Redis call.
    pub redis_timeout: Duration,
    /// Bound on Kafka acknowledgements and metadata calls.
    pub kafka_timeout: Duration,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// IANA time zone in which "today" is counted (the dataflow job's `--timezone`).
    pub timezone: String,
    /// Number of interest tags per user (the dataflow job's `--top-n`).
    pub top_n: usize,
    /// Where fields of the shared hashes are (the job's `--shared-hash-shards`).
    pub hash_layout: SharedHashLayout,
    /// Longest a client may take to send a request head (and longest an
    /// idle keep-alive connection is kept).
    pub header_read_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Requests per second and burst per client address (`per_second` 0: no limit).
    pub rate_limit: RateLimit,
    /// Produce each ingested batch in one Kafka transaction (all or nothing).
    pub kafka_transactions: bool,
    /// Prefix of the transactional producers' `transactional.id`s.
    pub transactional_id: String,
    /// Transactional producers (concurrent transactions).
    pub kafka_producers: usize,
    /// Longest a read may be answered from the fallback cache while Redis
    /// is down or slow.
    pub stale_for: Duration,
    /// Most bytes of answers the fallback cache holds.
    pub stale_cache_bytes: u64,
    /// URL of the dataflow job's `/metrics`, read for the job-health panel.
    pub dataflow_metrics: String,
    /// Bound on one read of the job's metrics.
    pub dataflow_metrics_timeout: Duration,
    /// How often the job's metrics are sampled for the dead-letter history.
    pub job_sample_every: Duration,
    /// How often the catalog is re-read from Redis.
    pub catalog_refresh: Duration,
    /// How often today's product popularity is re-read from Redis.
    pub popularity_refresh: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            redis: "redis://127.0.0.1:6379".into(),
            brokers: "127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095".into(),
            topic_prefix: String::new(),
            catalog: None,
            cors_origins: Vec::new(),
            auth_token: None,
            request_timeout: Duration::from_secs(2),
            redis_timeout: Duration::from_millis(500),
            kafka_timeout: Duration::from_millis(1500),
            body_limit: 2 * 1024 * 1024,
            timezone: "UTC".into(),
            top_n: 5,
            hash_layout: SharedHashLayout::SINGLE,
            header_read_timeout: Duration::from_secs(5),
            max_connections: 1024,
            rate_limit: RateLimit { per_second: 0, burst: 0 },
            kafka_transactions: false,
            transactional_id: default_transactional_id(),
            kafka_producers: 4,
            stale_for: Duration::from_secs(300),
            stale_cache_bytes: 64 * 1024 * 1024,
            dataflow_metrics: "http://127.0.0.1:9464/metrics".into(),
            dataflow_metrics_timeout: Duration::from_secs(1),
            job_sample_every: Duration::from_secs(10),
            catalog_refresh: Duration::from_secs(10),
            popularity_refresh: Duration::from_secs(1),
        }
    }
}

/// `tagflow-api-<host>-<pid>`: unique per running API, so two instances
/// never fence each other's transactions.
pub fn default_transactional_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!("tagflow-api-{host}-{}", std::process::id())
}
