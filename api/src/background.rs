//! Background work of a running API: the runtime-lag ticker, the catalog and
//! popularity refresher, the Redis probe, the sampler of the dataflow job's
//! metrics (its dead-letter history), and the Kafka sampler that derives
//! live events/s from the event topics' high watermarks (the sum of every
//! partition's end offset: events acknowledged by Kafka from any producer).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::state::AppState;

/// Period of the runtime-lag ticker.
const LAG_TICK: Duration = Duration::from_millis(100);
/// Period of the Kafka sampler and the Redis probe.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Period of the rate limiter's clean-up of idle client addresses.
const RATE_LIMIT_CLEAN_UP: Duration = Duration::from_secs(60);

/// The running background tasks; dropping it stops them.
#[derive(Debug)]
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts every background task on the current tokio runtime.
pub fn spawn(state: &AppState) -> Background {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = vec![
        tokio::spawn(lag_ticker(state.clone())),
        tokio::spawn(refresher(state.clone())),
        tokio::spawn(redis_probe(state.clone())),
        tokio::spawn(job_sampler(state.clone())),
    ];
    if let Some(limiter) = &state.0.rate_limiter {
        tasks.push(tokio::spawn(crate::rate_limit::clean_up(limiter.clone(), RATE_LIMIT_CLEAN_UP)));
    }
    let sampler_state = state.clone();
    let sampler_stop = stop.clone();
    let spawned = std::thread::Builder::new()
        .name("kafka-sampler".into())
        .spawn(move || kafka_sampler(&sampler_state, &sampler_stop));
    if let Err(err) = spawned {
        tracing::error!(error = %err, "cannot start the Kafka sampler");
    }
    Background { tasks, stop }
}

async fn lag_ticker(state: AppState) {
    let mut ticker = tokio::time::interval(LAG_TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut last = Instant::now();
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let lag = now.duration_since(last).saturating_sub(LAG_TICK);
        state.0.metrics.runtime_lag_seconds.observe(lag.as_secs_f64());
        last = now;
    }
}

async fn refresher(state: AppState) {
    let config = state.config().clone();
    let mut last_catalog = Instant::now();
    loop {
        tokio::time::sleep(config.popularity_refresh).await;
        let catalog = !state.0.catalog_from_file
            && (state.snapshot().catalog.is_empty()
                || last_catalog.elapsed() >= config.catalog_refresh);
        match state.refresh(catalog).await {
            Ok(()) if catalog => last_catalog = Instant::now(),
            Ok(()) => {}
            Err(err) => tracing::debug!(error = %err, "snapshot refresh failed"),
        }
    }
}

async fn redis_probe(state: AppState) {
    loop {
        let up = ping_redis(&state).await.is_ok();
        state.0.metrics.set_dependency("redis", up);
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

async fn job_sampler(state: AppState) {
    let mut ticker = tokio::time::interval(state.config().job_sample_every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        crate::routes::job::sample(&state).await;
    }
}

/// PING, bounded by the Redis timeout.
pub async fn ping_redis(state: &AppState) -> crate::error::AppResult<()> {
    state
        .with_redis(|mut conn| async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await.map(drop)
        })
        .await
}

/// Sum of the high watermarks of every partition of `topics`.
pub fn sum_watermarks(
    client: &BaseConsumer,
    topics: &[&str],
    timeout: Duration,
) -> Result<u64, rdkafka::error::KafkaError> {
    let mut total = 0u64;
    for topic in topics {
        let metadata = client.fetch_metadata(Some(topic), timeout)?;
        for t in metadata.topics() {
            for p in t.partitions() {
                let (_, high) = client.fetch_watermarks(topic, p.id(), timeout)?;
                total += u64::try_from(high).unwrap_or(0);
            }
        }
    }
    Ok(total)
}

fn kafka_sampler(state: &AppState, stop: &AtomicBool) {
    let timeout = state.config().kafka_timeout;
    let client = &state.0.metadata;
    let topics = state.0.topics.event_topics();
    let live = &state.0.live;
    let mut previous: Option<(Instant, u64)> = None;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        match sum_watermarks(client, &topics, timeout) {
            Ok(total) => {
                state.0.metrics.set_dependency("kafka", true);
                if let Some((at, before)) = previous {
                    let seconds = started.duration_since(at).as_secs_f64().max(0.001);
                    let rate = total.saturating_sub(before) as f64 / seconds;
                    live.per_second_milli.store((rate * 1000.0) as u64, Ordering::Relaxed);
                    live.sampled.store(true, Ordering::Relaxed);
                }
                live.total.store(total, Ordering::Relaxed);
                previous = Some((started, total));
            }
            Err(err) => {
                state.0.metrics.set_dependency("kafka", false);
                tracing::debug!(error = %err, "kafka watermark sample failed");
                previous = None;
            }
        }
        let rest = SAMPLE_EVERY.saturating_sub(started.elapsed());
        // Sleep in slices so a stop request is seen quickly.
        let until = Instant::now() + rest;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
    }
}
