//! Shared state of every handler: the Redis connection, the Kafka producer,
//! the in-memory catalog snapshot, metrics and configuration.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use jiff::tz::TimeZone;
use model::Topics;
use model::redis_target::{AddressError, AsyncConnection, RedisTarget, Timeouts};
use rdkafka::ClientConfig;
use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::FutureProducer;

use crate::catalog::{Catalog, CatalogError};
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::metrics::ApiMetrics;
use crate::popularity::{Popularity, today};
use crate::transactions::Transactional;

/// The catalog and today's popularity of its products, replaced as a whole.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The catalog.
    pub catalog: Arc<Catalog>,
    /// Today's UV, aligned with `catalog`.
    pub popularity: Popularity,
}

/// Live ingestion rate, sampled from the event topics' high watermarks.
#[derive(Debug, Default)]
pub struct LiveRate {
    /// Sum of the event topics' high watermarks at the last sample.
    pub total: AtomicU64,
    /// Events per second over the last sampling interval, times 1000.
    pub per_second_milli: AtomicU64,
    /// Whether a sample has succeeded yet.
    pub sampled: AtomicBool,
}

/// State shared by every handler (cheap to clone).
#[derive(Clone, Debug)]
pub struct AppState(pub Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The configuration.
    pub config: Config,
    /// Topic names.
    pub topics: Topics,
    /// Multiplexed, reconnecting Redis connection (one server, the
    /// Sentinel-named primary, or a Cluster: `--redis`).
    pub redis: AsyncConnection,
    /// Producer with acks=all.
    pub producer: FutureProducer,
    /// Transactional producers, with `--kafka-transactions`.
    pub transactional: Option<Arc<Transactional>>,
    /// Client for metadata and watermarks (readiness, live rate).
    pub metadata: BaseConsumer,
    /// Metrics.
    pub metrics: ApiMetrics,
    /// Time zone of "today".
    pub tz: TimeZone,
    /// Catalog and popularity.
    pub snapshot: RwLock<Arc<Snapshot>>,
    /// Ingestion rate.
    pub live: LiveRate,
    /// Catalog loaded from a file (never re-read from Redis).
    pub catalog_from_file: bool,
    /// Recent answers of the read routes, for the read-only fallback.
    pub stale: crate::fallback::StaleCache,
    /// The per-client rate limiter, when `--rate-limit` is set.
    pub rate_limiter: Option<crate::rate_limit::Limiter>,
    /// The dataflow job's metrics endpoint and dead-letter history.
    pub job: crate::routes::job::JobWatch,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("config", &self.config).field("topics", &self.topics).finish()
    }
}

/// A configuration the API cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad Redis URL.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A `--redis` address of none of the accepted forms.
    #[error(transparent)]
    RedisAddress(#[from] AddressError),
    /// Bad Kafka settings.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Unreadable catalog file.
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    /// An invalid `--cors-origin` list.
    #[error("--cors-origin: {0}")]
    Cors(String),
    /// An invalid `--dataflow-metrics` URL.
    #[error("--dataflow-metrics: {0}")]
    DataflowMetrics(#[from] crate::job_metrics::JobMetricsError),
    /// Unknown time zone.
    #[error("time zone {0:?}: {1}")]
    TimeZone(String, String),
}

impl AppState {
    /// Creates the clients (lazily connected: the API starts, and reports
    /// 503s, while Redis or Kafka are down) and makes a first, bounded
    /// attempt to load the catalog and today's popularity.
    pub async fn connect(config: Config) -> Result<Self, StartError> {
        crate::server::check_cors_origins(&config.cors_origins).map_err(StartError::Cors)?;
        let redis = RedisTarget::parse(&config.redis)?
            .connect_async(Timeouts::uniform(config.redis_timeout))?;
        let kafka_ms = config.kafka_timeout.as_millis().max(1).to_string();
        // librdkafka's floor for a connection's setup.
        let setup_ms = config.kafka_timeout.as_millis().max(1000).to_string();
        let mut producer_config = ClientConfig::new();
        producer_config
            .set("bootstrap.servers", &config.brokers)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "2")
            .set("compression.type", "lz4")
            .set("message.timeout.ms", &kafka_ms)
            .set("socket.connection.setup.timeout.ms", &setup_ms)
            .set("message.max.bytes", "1000000")
            // One userId, one partition, whoever produced the event.
            .set("partitioner", model::kafka::PARTITIONER);
        let producer: FutureProducer = producer_config.create()?;
        let transactional = config.kafka_transactions.then(|| {
            Arc::new(Transactional::new(
                producer_config,
                config.transactional_id.clone(),
                config.kafka_producers,
                config.kafka_timeout,
            ))
        });
        let metadata: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("socket.timeout.ms", &kafka_ms)
            .set("socket.connection.setup.timeout.ms", &setup_ms)
            .set("allow.auto.create.topics", "false")
            .create()?;
        let tz = if config.timezone == "UTC" {
            TimeZone::UTC
        } else {
            TimeZone::get(&config.timezone)
                .map_err(|e| StartError::TimeZone(config.timezone.clone(), e.to_string()))?
        };
        let (catalog, catalog_from_file) = match &config.catalog {
            Some(path) => (Catalog::from_file(path)?, true),
            None => (Catalog::default(), false),
        };
        let job = crate::routes::job::JobWatch::new(
            &config.dataflow_metrics,
            config.dataflow_metrics_timeout,
            config.job_sample_every,
        )?;
        let config_rate = config.rate_limit;
        let (stale_bytes, stale_for) = (config.stale_cache_bytes, config.stale_for);
        let state = AppState(Arc::new(Inner {
            topics: Topics::with_prefix(&config.topic_prefix),
            config,
            redis,
            producer,
            transactional,
            metadata,
            metrics: ApiMetrics::default(),
            tz,
            snapshot: RwLock::new(Arc::new(Snapshot {
                catalog: Arc::new(catalog),
                popularity: Popularity::default(),
            })),
            live: LiveRate::default(),
            catalog_from_file,
            rate_limiter: crate::rate_limit::limiter(config_rate),
            stale: crate::fallback::StaleCache::new(stale_bytes, stale_for),
            job,
        }));
        if let Err(err) = state.refresh(!catalog_from_file).await {
            tracing::warn!(error = %err, "catalog/popularity not loaded yet; will retry");
        }
        Ok(state)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The current catalog snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.0.snapshot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A Redis connection handle (multiplexed; cloning is cheap).
    pub fn redis(&self) -> AsyncConnection {
        self.0.redis.clone()
    }

    /// Runs a Redis call bounded by the Redis timeout.
    pub async fn with_redis<T, F>(&self, f: impl FnOnce(AsyncConnection) -> F) -> AppResult<T>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let timeout = self.0.config.redis_timeout;
        match tokio::time::timeout(timeout, f(self.redis())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(AppError::redis(err)),
            Err(_) => Err(AppError::redis(format!("no answer within {timeout:?}"))),
        }
    }

    /// Re-reads today's popularity and, when `catalog` is set, the catalog
    /// from Redis; replaces the snapshot.
    pub async fn refresh(&self, catalog: bool) -> AppResult<()> {
        let timeout = self.0.config.redis_timeout * 2;
        let work = async {
            let mut conn = self.redis();
            let catalog = if catalog {
                Arc::new(Catalog::from_redis(&mut conn).await?)
            } else {
                self.snapshot().catalog.clone()
            };
            let popularity =
                Popularity::load(&mut conn, self.0.config.hash_layout, &catalog, today(&self.0.tz))
                    .await?;
            Ok::<_, AppError>(Snapshot { catalog, popularity })
        };
        let snapshot = tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| AppError::redis(format!("catalog refresh took over {timeout:?}")))??;
        *self.0.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
        Ok(())
    }

    /// Events per second, from the last watermark sample (None before one).
    pub fn events_per_second(&self) -> Option<f64> {
        let live = &self.0.live;
        live.sampled
            .load(Ordering::Relaxed)
            .then(|| live.per_second_milli.load(Ordering::Relaxed) as f64 / 1000.0)
    }
}
