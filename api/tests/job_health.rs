//! `GET /api/job-health` against the real `dataflow run` on its own
//! prefixed topics and Redis database: the job's lag per topic, its
//! checkpoints, a dead letter it sent and its state size come through the
//! API; once the job is stopped, a fast 503 `job_unreachable`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use testkit::{EventTopics, Stack, free_port, redis_database, unique_name, workspace_binary};

/// The running job, killed when dropped.
struct Job(Child);

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_job(topics: &EventTopics, redis: &str, metrics: &str, dirs: &tempfile::TempDir) -> Job {
    let child = Command::new(workspace_binary("dataflow", "TAGFLOW_DATAFLOW_BIN"))
        .arg("run")
        .args(["--brokers", &Stack::get().brokers, "--redis", redis])
        .args(["--topic-prefix", &topics.prefix, "--group-id", &unique_name("job-health")])
        .args(["--workers", "1", "--epoch-ms", "100", "--metrics-addr", metrics])
        .args(["--checkpoint-interval", "1s", "--discovery-interval", "300ms"])
        .env("TAGFLOW_STATE_DIR", dirs.path().join("state"))
        .env("TAGFLOW_CHECKPOINT_DIR", dirs.path().join("checkpoints"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start dataflow");
    Job(child)
}

/// Polls the job's health until `done` holds for it (or panics after 60 s).
async fn health_until(app: &axum::Router, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = get(app, "/api/job-health").await;
        if reply.status == StatusCode::OK && done(&reply.json) {
            return reply.json;
        }
        assert!(Instant::now() < deadline, "no {what} within 60 s; last: {}", reply.text);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn lags(health: &Value) -> Vec<(String, u64)> {
    health["consumerLag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["topic"].as_str().unwrap().to_owned(), t["lag"].as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_jobs_health_comes_through_the_api() {
    let redis = redis_database();
    let topics = create_topics("api-job-health", 2).await;
    let products = simulator::catalog::generate(5, 20);
    simulator::catalog::load_into_redis(&mut redis_conn(&redis), &products).unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    let dirs = tempfile::tempdir().unwrap();
    let job = start_job(&topics, &redis, &metrics, &dirs);
    let mut cfg = config(&redis, Some(&topics));
    cfg.dataflow_metrics = format!("http://{metrics}/metrics");
    let (_state, app) = app(cfg).await;

    // Started: every event topic assigned (lag 0 on empty topics).
    let started = health_until(&app, "partitions assigned", |h| lags(h).len() == 3).await;
    let mut topic_names: Vec<String> = lags(&started).into_iter().map(|(t, _)| t).collect();
    topic_names.sort();
    let mut expected =
        topics.topics.event_topics().iter().map(|t| t.to_string()).collect::<Vec<_>>();
    expected.sort();
    assert_eq!(topic_names, expected);
    assert!(started["consumerLag"][0]["partitions"] == 2, "{started}");
    assert!(started["lastCheckpointAgeSeconds"].as_f64().unwrap() < 60.0, "{started}");

    // Two events through the API, and one the job must dead-letter.
    let p = &products[0];
    let tags: Vec<&str> = p.tags.iter().map(String::as_str).collect();
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let batch = json!([
        event("jh-1", "jh-user", &p.product_id, "view", now_ms - 1_000, &tags),
        event("jh-2", "jh-user", &p.product_id, "purchase", now_ms, &tags),
    ]);
    let reply = post(&app, "/api/user-behavior", &batch).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", &Stack::get().brokers).create().unwrap();
    producer
        .send(
            FutureRecord::to(&topics.topics.view).key("jh-user").payload("not json"),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)
        .unwrap();

    let health = health_until(&app, "dead letter, checkpoint and caught-up job", |h| {
        h["deadLettersLastHour"].as_u64() == Some(1)
            && lags(h).iter().all(|(_, lag)| *lag == 0)
            && h["lastCheckpointId"].as_u64().is_some()
            && h["stateMemoryBytes"].as_u64().is_some_and(|b| b > 0)
    })
    .await;
    let window = health["deadLettersWindowSeconds"].as_f64().unwrap();
    assert!(window > 0.0 && window < 3600.0, "{health}");
    assert!(health["stateBytes"].as_u64().is_some_and(|b| b > 0), "{health}");
    assert!(health["lastCheckpointAgeSeconds"].as_f64().unwrap() < 30.0, "{health}");

    // The job stopped: a fast 503 in the envelope.
    drop(job);
    let asked = Instant::now();
    let reply = get(&app, "/api/job-health").await;
    assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "job_unreachable");
    assert!(asked.elapsed() < Duration::from_secs(2), "{:?}", asked.elapsed());
}
