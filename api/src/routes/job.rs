//! `GET /api/job-health`: the dataflow job's health for the dashboard's
//! panel, read from the job's own `/metrics` (`--dataflow-metrics`):
//! consumer lag per topic, age of the last checkpoint, dead letters in the
//! last hour and state size. The dead-letter counter is sampled in the
//! background ([`sample`]) into a bounded history, since the job only
//! reports its total since it started.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::counter_history::CounterHistory;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::job_metrics::{self, Endpoint, JobFigures, JobMetricsError};
use crate::state::AppState;

/// The span dead letters are counted over.
pub const DEAD_LETTER_WINDOW: Duration = Duration::from_secs(3600);

/// Where the job's metrics are, and the dead-letter counter's history.
#[derive(Debug)]
pub struct JobWatch {
    endpoint: Endpoint,
    timeout: Duration,
    dead_letters: Mutex<CounterHistory>,
}

impl JobWatch {
    /// A watch over `url`, sampled about every `sample_every`.
    pub fn new(
        url: &str,
        timeout: Duration,
        sample_every: Duration,
    ) -> Result<Self, JobMetricsError> {
        Ok(Self {
            endpoint: Endpoint::parse(url)?,
            timeout,
            dead_letters: Mutex::new(CounterHistory::new(DEAD_LETTER_WINDOW, sample_every / 2)),
        })
    }

    /// Reads the job's figures now and records its dead-letter total.
    pub async fn read(&self) -> Result<(Instant, JobFigures), JobMetricsError> {
        let text = self.endpoint.fetch(self.timeout).await?;
        let figures = job_metrics::figures(&text)?;
        let now = Instant::now();
        self.history().record(now, figures.dead_letters_total);
        Ok((now, figures))
    }

    fn history(&self) -> std::sync::MutexGuard<'_, CounterHistory> {
        self.dead_letters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One background sample of the job's dead-letter counter (failures are
/// only logged: the panel reports them when asked).
pub async fn sample(state: &AppState) {
    if let Err(err) = state.0.job.read().await {
        tracing::debug!(error = %err, "job metrics sample failed");
    }
}

/// Consumer lag of one input topic.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicLag {
    /// The topic (with its prefix).
    pub topic: String,
    /// Messages between the job's position and the partitions' ends, summed
    /// over the topic's partitions (`tagflow_consumer_lag`).
    pub lag: u64,
    /// Partitions the job reported.
    pub partitions: u32,
}

/// The job's health, for the dashboard's panel.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobHealth {
    /// Consumer lag per topic the job reads, by topic name; empty until
    /// the job has been assigned partitions.
    pub consumer_lag: Vec<TopicLag>,
    /// Seconds since the last checkpoint completed
    /// (`tagflow_checkpoint_last_completed_timestamp_seconds`); before the
    /// first one, since the job started.
    pub last_checkpoint_age_seconds: f64,
    /// Id of the last completed checkpoint; null before the first one.
    pub last_checkpoint_id: Option<u64>,
    /// Events the job sent to the dead-letter topic in the last
    /// `deadLettersWindowSeconds` (`tagflow_dead_lettered_total`, every
    /// reason, from the API's samples of it).
    pub dead_letters_last_hour: u64,
    /// The span `deadLettersLastHour` covers: 3600, or less while the API
    /// has sampled the job for less than an hour.
    pub dead_letters_window_seconds: f64,
    /// State size: bytes of the files of the last completed checkpoint
    /// (`tagflow_checkpoint_size_bytes`), i.e. the job's whole keyed state
    /// as written to disk; null before the first checkpoint.
    pub state_bytes: Option<u64>,
    /// Estimated memory of the state the job's workers cache
    /// (`tagflow_state_memory_bytes`, summed over tables); the rest is in
    /// RocksDB only.
    pub state_memory_bytes: u64,
}

fn count(value: f64) -> u64 {
    // Gauges and counters are finite and whole here; saturate otherwise.
    value.max(0.0).round() as u64
}

impl JobHealth {
    /// The health from `figures` read at `now` (and the history).
    fn new(figures: &JobFigures, now: Instant, history: &CounterHistory) -> Self {
        let unix_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let dead = history.increase(now, figures.dead_letters_total);
        let checkpointed = figures.checkpoint_id > 0.0;
        JobHealth {
            consumer_lag: figures
                .lag
                .iter()
                .map(|(topic, lag)| TopicLag {
                    topic: topic.clone(),
                    lag: count(lag.lag),
                    partitions: lag.partitions,
                })
                .collect(),
            last_checkpoint_age_seconds: (unix_now - figures.checkpoint_timestamp_seconds).max(0.0),
            last_checkpoint_id: checkpointed.then(|| count(figures.checkpoint_id)),
            dead_letters_last_hour: count(dead.count),
            dead_letters_window_seconds: dead.over.as_secs_f64(),
            state_bytes: checkpointed.then(|| count(figures.checkpoint_bytes)),
            state_memory_bytes: count(figures.memory_bytes),
        }
    }
}

/// `GET /api/job-health`.
#[utoipa::path(get, path = "/api/job-health", tag = "operations",
    summary = "The dataflow job's health, for the dashboard",
    description = "Read from the job's `/metrics` (`--dataflow-metrics`) within `--dataflow-metrics-timeout`.",
    responses(
        (status = 200, description = "the job's health", body = JobHealth),
        (status = 503, description = "the job's metrics could not be read (`job_unreachable`)", body = ErrorBody<'static>),
    ))]
pub async fn job_health(State(state): State<AppState>) -> AppResult<Json<JobHealth>> {
    let watch = &state.0.job;
    let (now, figures) = watch.read().await.map_err(AppError::job)?;
    let health = JobHealth::new(&figures, now, &watch.history());
    Ok(Json(health))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_metrics::TopicLag as Lag;

    #[test]
    fn before_the_first_checkpoint_there_is_no_state_size() {
        let mut figures = JobFigures { checkpoint_timestamp_seconds: 1.0, ..JobFigures::default() };
        figures.lag.insert("t".into(), Lag { lag: 3.0, partitions: 2 });
        let history = CounterHistory::new(DEAD_LETTER_WINDOW, Duration::from_secs(5));
        let health = JobHealth::new(&figures, Instant::now(), &history);
        assert_eq!((health.last_checkpoint_id, health.state_bytes), (None, None));
        assert_eq!(health.consumer_lag[0].lag, 3);
        assert!(health.last_checkpoint_age_seconds > 1e9);
        assert_eq!(health.dead_letters_window_seconds, 0.0);
    }
}
