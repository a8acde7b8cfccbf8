//! Hardening, in-process over the real stack: unknown routes and methods,
//! the OpenAPI document against the router, CORS, readiness, and fast 503s
//! when Kafka or Redis is down or silent.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use testkit::redis_database;

const TS: i64 = 1_795_647_600_000;

#[tokio::test]
async fn unknown_routes_and_methods_use_the_envelope_and_metrics_label_routes() {
    let (_state, app) = app(config(&redis_database(), None)).await;
    assert_error(&get(&app, "/api/nothing-here").await, StatusCode::NOT_FOUND, "not_found");
    let reply = call(&app, "DELETE", "/api/user-behavior", None, &[]).await;
    assert_error(&reply, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
    get(&app, "/api/user-profile/someone").await;
    let metrics = get(&app, "/metrics").await.text;
    for needle in [
        r#"http_requests_total{method="GET",route="/api/user-profile/{userId}",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"http_request_duration_ms_bucket{le="+Inf",method="GET",route="/healthz",status="200"} 1"#,
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "api_runtime_lag_seconds",
        "api_dependency_up",
    ] {
        assert!(metrics.contains(needle), "{needle} not in\n{metrics}");
    }
}

#[tokio::test]
async fn openapi_documents_every_route_the_router_serves() {
    let (_state, app) = app(config(&redis_database(), None)).await;
    let doc = get(&app, "/api/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.json["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc.json["components"]["schemas"]["Error"].is_object());
    let paths = doc.json["paths"].as_object().unwrap();
    assert!(paths.len() >= 12);
    for (path, operations) in paths {
        for method in operations.as_object().unwrap().keys() {
            let uri = path.replace("{userId}", "u1").replace("{productId}", "p1");
            let reply =
                call(&app, &method.to_uppercase(), &uri, (method == "post").then(Vec::new), &[])
                    .await;
            assert_ne!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{method} {path} is documented but not routed"
            );
            assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(operations[method]["responses"]["default"].is_object());
        }
    }
}

#[tokio::test]
async fn cors_is_off_by_default_and_follows_the_allow_list() {
    let redis = redis_database();
    let (_state, closed) = app(config(&redis, None)).await;
    let reply = call(&closed, "GET", "/healthz", None, &[("origin", "https://shop.example")]).await;
    assert!(!reply.headers.contains_key("access-control-allow-origin"));
    let mut cfg = config(&redis, None);
    cfg.cors_origins = vec!["https://shop.example".into()];
    let (_state, open) = app(cfg).await;
    let reply = call(&open, "GET", "/healthz", None, &[("origin", "https://shop.example")]).await;
    assert_eq!(reply.headers["access-control-allow-origin"], "https://shop.example");
    let reply = call(&open, "GET", "/healthz", None, &[("origin", "https://evil.example")]).await;
    assert!(!reply.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn readyz_sees_both_dependencies() {
    let topics = create_topics("api-ready", 1).await;
    let (_state, app) = app(config(&redis_database(), Some(&topics))).await;
    let reply = get(&app, "/readyz").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let metrics = get(&app, "/metrics").await.text;
    assert!(metrics.contains(r#"api_dependency_up{dependency="kafka"} 1"#), "{metrics}");
}

#[tokio::test]
async fn kafka_unavailable_gives_a_fast_503() {
    let mut cfg = config(&redis_database(), None);
    cfg.brokers = format!("127.0.0.1:{}", closed_port());
    let (_state, app) = app(cfg).await;
    let started = Instant::now();
    let reply =
        post(&app, "/api/user-behavior", &event("e1", "u1", "p1", "view", TS, &["a"])).await;
    assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "kafka_unavailable");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    let started = Instant::now();
    let ready = get(&app, "/readyz").await;
    assert_error(&ready, StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert!(ready.json["error"]["message"].as_str().unwrap().contains("kafka"));
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    let metrics = get(&app, "/metrics").await.text;
    assert!(
        metrics.contains(
            r#"http_request_errors_total{method="POST",route="/api/user-behavior",status="503"} 1"#
        ),
        "{metrics}"
    );
}

/// Starts `redis-server` on `port` and waits until it answers.
fn private_redis(port: u16, dir: &std::path::Path, url: &str) -> std::process::Child {
    let server = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"])
        .args(["--bind", "127.0.0.1"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server (install redis-server)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis::Client::open(url).unwrap().get_connection().is_err() {
        assert!(Instant::now() < deadline, "private redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

#[tokio::test]
async fn redis_stopped_gives_a_fast_503_and_recovers() {
    // A private redis-server, never the shared one.
    let port = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    let mut server = private_redis(port, dir.path(), &url);
    let (_state, app) = app(config(&url, None)).await;
    assert_eq!(get(&app, "/api/user-profile/u1").await.status, StatusCode::OK);
    server.kill().unwrap();
    server.wait().unwrap();
    for uri in [
        "/api/user-profile/u1",
        "/api/recommendations/u1",
        "/api/uv-data",
        "/api/user-behavior",
        "/readyz",
    ] {
        let started = Instant::now();
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {}", reply.text);
        assert!(
            reply.json["error"]["code"].as_str().unwrap().ends_with("unavailable")
                || uri == "/readyz",
            "{}",
            reply.text
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{uri} took {:?}", started.elapsed());
    }
    // Back again: the API recovers without a restart.
    let mut server = private_redis(port, dir.path(), &url);
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&app, "/api/user-profile/u1").await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "the API did not recover after Redis came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    // An address nothing listens on behaves the same from the start.
    let (_state, app) =
        common::app(config(&format!("redis://127.0.0.1:{}", closed_port()), None)).await;
    let started = Instant::now();
    assert_error(
        &get(&app, "/api/user-profile/u1").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "redis_unavailable",
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_silent_dependency_cannot_hang_a_request() {
    // A listener that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let mut cfg = config(&url, None);
    cfg.redis_timeout = Duration::from_secs(1);
    cfg.request_timeout = Duration::from_millis(300);
    let (_state, app) = app(cfg).await;
    let started = Instant::now();
    let reply = get(&app, "/api/user-profile/u1").await;
    // Either bound may fire first: the request timeout, or the manager's
    // remembered failure to connect.
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text);
    let code = reply.json["error"]["code"].as_str().unwrap();
    assert!(["timeout", "redis_unavailable"].contains(&code), "{}", reply.text);
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}
