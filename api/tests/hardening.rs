//! Hardening, in-process over the real stack: unknown routes and methods,
//! metric labels a client cannot multiply, the metrics' content types,
//! CORS, readiness, and fast 503s when Kafka or Redis is down or silent.

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

/// The identity of every series in a Prometheus exposition (each sample
/// line without its value).
fn series(metrics: &str) -> std::collections::BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').map_or(l, |(series, _)| series).to_owned())
        .collect()
}

#[tokio::test]
async fn invented_methods_and_paths_cannot_grow_the_metrics() {
    let (_state, app) = app(config(&redis_database(), None)).await;
    // One of each kind first: an invented method on a route and off it,
    // an unknown path, and /metrics itself.
    call(&app, "BREW", "/healthz", None, &[]).await;
    call(&app, "BREW", "/no/such/path", None, &[]).await;
    get(&app, "/no/such/path").await;
    get(&app, "/metrics").await;
    let before = get(&app, "/metrics").await.text;
    for i in 0..10_000 {
        let method = format!("M{i}X");
        let reply = call(&app, &method, &format!("/invented/{i}/path"), None, &[]).await;
        assert!(reply.status.is_client_error(), "{method}: {}", reply.status);
        if i % 2 == 0 {
            call(&app, &method, "/healthz", None, &[]).await;
            get(&app, &format!("/api/x{i}")).await;
        }
    }
    let after = get(&app, "/metrics").await.text;
    assert_eq!(series(&before), series(&after), "new series appeared");
    assert!(
        after.contains(r#"http_requests_total{method="other",route="unmatched",status="404"}"#),
        "{after}"
    );
    assert!(!after.contains("M1X"), "an invented method became a label value");
}

#[tokio::test]
async fn metrics_are_served_in_the_format_the_scraper_accepts() {
    let (_state, app) = app(config(&redis_database(), None)).await;
    get(&app, "/healthz").await;
    // What Prometheus sends: OpenMetrics first.
    let accept =
        "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let open = call(&app, "GET", "/metrics", None, &[("accept", accept)]).await;
    let content_type = open.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    assert!(open.text.ends_with("# EOF\n"), "{}", open.text);
    assert!(open.text.contains("# TYPE http_requests counter"), "{}", open.text);
    // Anything else (curl, an older scraper): the Prometheus text format.
    for accept in [None, Some("text/plain"), Some("*/*")] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let plain = call(&app, "GET", "/metrics", None, &headers).await;
        let content_type = plain.headers["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        assert!(!plain.text.contains("# EOF"), "{}", plain.text);
        assert!(plain.text.contains("# TYPE http_requests_total counter"), "{}", plain.text);
        assert!(
            plain
                .text
                .contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 1"#)
        );
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
async fn cors_accepts_any_origin_and_rejects_bad_lists_at_start() {
    let redis = redis_database();
    let mut cfg = config(&redis, None);
    cfg.cors_origins = vec!["*".into()];
    let (_state, any) = app(cfg).await;
    let reply = call(&any, "GET", "/healthz", None, &[("origin", "https://evil.example")]).await;
    assert_eq!(reply.headers["access-control-allow-origin"], "*");
    assert!(!reply.headers.contains_key("access-control-allow-credentials"));
    let preflight = call(
        &any,
        "OPTIONS",
        "/api/user-behavior",
        None,
        &[
            ("origin", "https://shop.example"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
    )
    .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(preflight.headers["access-control-allow-origin"], "*");
    for bad in [vec!["*", "https://shop.example"], vec!["shop.example"], vec!["https://a.example/"]]
    {
        let mut cfg = config(&redis, None);
        cfg.cors_origins = bad.iter().map(|o| o.to_string()).collect();
        let err = api::AppState::connect(cfg).await.unwrap_err();
        assert!(err.to_string().starts_with("--cors-origin"), "{bad:?}: {err}");
    }
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

#[tokio::test]
async fn redis_stopped_gives_a_fast_503_and_recovers() {
    // A private redis-server, never the shared one; no stale answers here.
    let mut server = testkit::PrivateRedis::start();
    let mut cfg = config(&server.url(), None);
    cfg.stale_for = Duration::ZERO;
    let (_state, app) = app(cfg).await;
    assert_eq!(get(&app, "/api/user-profile/u1").await.status, StatusCode::OK);
    server.kill();
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
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&app, "/api/user-profile/u1").await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "the API did not recover after Redis came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
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
