//! The API's typed configuration, independent of how it was given (flags,
//! environment, tests).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
            catalog_refresh: Duration::from_secs(10),
            popularity_refresh: Duration::from_secs(1),
        }
    }
}
