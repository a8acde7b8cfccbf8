//! Shared helpers of the API's tests: an in-process app over the real
//! Redis and Kafka, and calling it.
#![allow(dead_code)]
// Test helpers: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

pub mod job;
pub mod oracle;

use std::net::TcpListener;
use std::time::Duration;

use api::{AppState, Config};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use testkit::{EventTopics, Stack};
use tower::ServiceExt;

/// A configuration over `redis` and `topics` with short timeouts; the
/// dataflow job's metrics at a closed port (no job runs).
pub fn config(redis: &str, topics: Option<&EventTopics>) -> Config {
    Config {
        redis: redis.to_owned(),
        brokers: Stack::get().brokers.clone(),
        topic_prefix: topics.map(|t| t.prefix.clone()).unwrap_or_default(),
        request_timeout: Duration::from_secs(3),
        redis_timeout: Duration::from_millis(500),
        kafka_timeout: Duration::from_millis(1500),
        dataflow_metrics: format!("http://127.0.0.1:{}/metrics", closed_port()),
        ..Config::default()
    }
}

/// An app over `config`.
pub async fn app(config: Config) -> (AppState, Router) {
    let state = AppState::connect(config).await.expect("state");
    (state.clone(), api::app(state))
}

/// A response: status, JSON body (Null when not JSON), raw text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub json: Value,
    pub text: String,
    pub headers: axum::http::HeaderMap,
}

/// Sends one request through the router.
pub async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Vec<u8>>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(body.map_or_else(Body::empty, Body::from)).expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, json, text, headers }
}

/// GET.
pub async fn get(app: &Router, uri: &str) -> Reply {
    call(app, "GET", uri, None, &[]).await
}

/// POST of a JSON value.
pub async fn post(app: &Router, uri: &str, body: &Value) -> Reply {
    call(app, "POST", uri, Some(serde_json::to_vec(body).expect("json")), &[]).await
}

/// Asserts the error envelope with `status` and `code`.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.json["error"]["code"], code, "{}", reply.text);
    assert!(
        reply.json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        reply.text
    );
    assert!(reply.json["error"]["details"].is_array(), "{}", reply.text);
}

/// A TCP port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A synchronous Redis connection to `url`.
pub fn redis_conn(url: &str) -> redis::Connection {
    redis::Client::open(url).and_then(|c| c.get_connection()).expect("redis")
}

/// Sets `field` of hash `key` to `value` (HSET).
pub fn hset(conn: &mut redis::Connection, key: &str, field: &str, value: impl redis::ToRedisArgs) {
    redis::cmd("HSET").arg(key).arg(field).arg(value).query::<()>(conn).expect("HSET");
}

/// A valid event as JSON.
pub fn event(id: &str, user: &str, product: &str, kind: &str, ts: i64, tags: &[&str]) -> Value {
    serde_json::json!({"eventId": id, "userId": user, "productId": product, "eventType": kind,
        "timestamp": ts, "tags": tags, "price": 10.5})
}

/// [`EventTopics::create`] from async code (it runs its own runtime).
pub async fn create_topics(base: &'static str, partitions: i32) -> EventTopics {
    tokio::task::spawn_blocking(move || EventTopics::create(base, partitions))
        .await
        .expect("create topics")
}

/// A stand-in for the job's `/metrics` serving a text the test sets, where
/// fixed values are needed (tests/job_health.rs reads the real job's).
/// Stops when dropped.
#[derive(Debug)]
pub struct MetricsStandIn {
    /// `http://127.0.0.1:<port>/metrics`.
    pub url: String,
    text: std::sync::Arc<std::sync::Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsStandIn {
    /// Serves `text` as Prometheus text on a free port.
    pub async fn start(text: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let shared = std::sync::Arc::new(std::sync::Mutex::new(text.to_owned()));
        let served = shared.clone();
        let router = Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let body = served.lock().unwrap().clone();
                async move { ([("content-type", "text/plain; version=0.0.4")], body) }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { url, text: shared, task }
    }

    /// Serves `text` from now on.
    pub fn set(&self, text: &str) {
        *self.text.lock().unwrap() = text.to_owned();
    }
}

impl Drop for MetricsStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}
