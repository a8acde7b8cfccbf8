//! Where the running stack is, and a check that it is really there.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// Addresses of the shared stack.
#[derive(Debug, Clone)]
pub struct Stack {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// Redis URL without a database number.
    pub redis: String,
}

impl Stack {
    /// The stack `scripts/stack up` started (overridable with
    /// `TAGFLOW_BROKERS` and `TAGFLOW_REDIS`), checked once per test
    /// process: three brokers must answer and Redis must PING.
    ///
    /// # Panics
    /// With instructions, when the stack is not running.
    pub fn get() -> &'static Stack {
        static STACK: OnceLock<Stack> = OnceLock::new();
        STACK.get_or_init(|| {
            let stack = Stack {
                brokers: std::env::var("TAGFLOW_BROKERS")
                    .unwrap_or_else(|_| "127.0.0.1:9093,127.0.0.1:9094,127.0.0.1:9095".into()),
                redis: std::env::var("TAGFLOW_REDIS")
                    .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            };
            if let Err(problem) = stack.check() {
                panic!(
                    "the test stack is not running ({problem}); start it with `scripts/stack up`"
                );
            }
            stack
        })
    }

    fn check(&self) -> Result<(), String> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .map_err(|e| format!("kafka client: {e}"))?;
        let metadata = consumer
            .fetch_metadata(None, Duration::from_secs(10))
            .map_err(|e| format!("kafka metadata from {}: {e}", self.brokers))?;
        if metadata.brokers().len() < 3 {
            return Err(format!("{} brokers in metadata, expected 3", metadata.brokers().len()));
        }
        let client = redis::Client::open(self.redis.as_str()).map_err(|e| e.to_string())?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .map_err(|e| format!("redis at {}: {e}", self.redis))?;
        redis::cmd("PING").query::<String>(&mut conn).map_err(|e| format!("redis PING: {e}"))?;
        Ok(())
    }
}

/// A name no other test (in this or another process, now or in an earlier
/// run against the same cluster) uses: `<base>-<pid>-<micros>-<n>`.
pub fn unique_name(base: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{base}-{}-{micros}-{n}", std::process::id())
}
