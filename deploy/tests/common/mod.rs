//! The real dataflow job and API, running against the shared stack on
//! private topics and a private Redis database, for the tests that need
//! their `/metrics` (dashboards, Prometheus end to end).

#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use deploy::exposition::Exposition;
use deploy::process::Running;
use deploy::{help, http};
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use testkit::{EventTopics, Stack, free_port, redis_database, workspace_binary};

/// A valid event (docs/events.md).
pub const EVENT: &str = r#"{"eventId":"deploy-1","userId":"u-deploy","productId":"p-1","eventType":"view","timestamp":1795647600000,"tags":["electronics","audio"]}"#;

/// The running job.
#[derive(Debug)]
pub struct Job {
    /// host:port of its /metrics.
    pub addr: String,
    /// The topics it reads.
    pub topics: EventTopics,
    process: Running,
    _dir: tempfile::TempDir,
}

/// The running API.
#[derive(Debug)]
pub struct Api {
    /// host:port it listens on.
    pub addr: String,
    process: Running,
}

/// Starts `dataflow run` on fresh one-partition topics and a private Redis
/// database, feeds it a valid and a malformed event, and waits until both
/// show in its metrics (so labelled families have samples).
pub fn start_job() -> Result<Job> {
    let stack = Stack::get();
    let binary = workspace_binary("dataflow", "TAGFLOW_DATAFLOW_BIN");
    let topics = EventTopics::create("deploy", 1);
    let dir = tempfile::tempdir()?;
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(&binary);
    command
        .arg("run")
        .args(["--brokers", &stack.brokers, "--redis", &redis_database()])
        .args(["--topic-prefix", &topics.prefix, "--metrics-addr", &addr])
        .args(["--epoch-ms", "100", "--discovery-interval", "1s"])
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .env("TAGFLOW_CHECKPOINT_DIR", dir.path().join("checkpoints"))
        .env("RUST_LOG", "warn");
    // Checkpoint often, when this build has checkpoints, so their metrics have samples.
    let run_help = help::all_pages(&binary)?
        .into_iter()
        .find(|p| p.command == ["run"])
        .context("dataflow run --help")?;
    if run_help.long_flags().contains("--checkpoint-interval") {
        command.args(["--checkpoint-interval", "1s"]);
    }
    let mut process = Running::start("dataflow", command, &dir.path().join("dataflow.log"))?;

    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", &stack.brokers).create()?;
    for payload in [EVENT, "{not json"] {
        producer
            .send(BaseRecord::to(&topics.topics.view).key("u-deploy").payload(payload))
            .map_err(|(e, _)| e)?;
    }
    producer.flush(Duration::from_secs(30))?;

    let metrics_addr = addr.clone();
    process.wait_until(Duration::from_secs(60), || {
        http::get(&metrics_addr, "/metrics").is_ok_and(|r| {
            r.status == 200
                && r.body.contains("tagflow_dead_lettered_total{")
                && r.body.contains("tagflow_events_consumed_total{")
                && r.body.contains("tagflow_epoch_seconds_bucket{")
                && r.body.contains("tagflow_consumer_lag{")
        })
    })?;
    Ok(Job { addr, topics, process, _dir: dir })
}

/// Starts `api` on a free port with `redis`, the stack's brokers and the
/// job's topics, and waits until /healthz answers.
fn spawn_api(topics: &EventTopics, redis: &str, log: &std::path::Path) -> Result<Api> {
    let binary = workspace_binary("api", "TAGFLOW_API_BIN");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(&binary);
    command
        .args(["--listen", &addr, "--redis", redis, "--brokers", &Stack::get().brokers])
        .args(["--topic-prefix", &topics.prefix])
        .env("RUST_LOG", "warn");
    let mut process = Running::start("api", command, log)?;
    let health_addr = addr.clone();
    process.wait_until(Duration::from_secs(30), || {
        http::get(&health_addr, "/healthz").is_ok_and(|r| r.status == 200)
    })?;
    Ok(Api { addr, process })
}

/// Starts `api` against the job's topics and a private Redis database, and
/// exercises it (a readiness check, an ingested event, a 404) so its
/// request metrics have samples.
pub fn start_api(topics: &EventTopics, log_dir: &std::path::Path) -> Result<Api> {
    let api = spawn_api(topics, &redis_database(), &log_dir.join("api.log"))?;
    http::get(&api.addr, "/readyz")?;
    let ingested = http::post_json(&api.addr, "/api/user-behavior", EVENT)?;
    anyhow::ensure!(ingested.status < 300, "POST /api/user-behavior: {ingested:?}");
    http::get(&api.addr, "/no-such-route")?;
    Ok(api)
}

/// One scrape of `addr`/metrics.
pub fn scrape(addr: &str) -> Result<Exposition> {
    let response = http::get(addr, "/metrics")?;
    anyhow::ensure!(response.status == 200, "GET {addr}/metrics: {}", response.status);
    Ok(Exposition::parse(&response.body))
}

/// A directory for logs that lives as long as the test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Scrapes an API whose Redis is down (a port nothing listens on): its
/// requests fail with 503, so the error counter has samples to check
/// queries against.
pub fn scrape_api_with_redis_down(
    topics: &EventTopics,
    log_dir: &std::path::Path,
) -> Result<Exposition> {
    let dead_redis = format!("redis://127.0.0.1:{}/0", free_port());
    let api = spawn_api(topics, &dead_redis, &log_dir.join("api-redis-down.log"))?;
    let profile = http::get(&api.addr, "/api/user-profile/u-deploy")?;
    anyhow::ensure!(profile.status == 503, "with Redis down: {profile:?}");
    scrape(&api.addr)
}
