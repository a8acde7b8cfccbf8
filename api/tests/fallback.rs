//! The read-only fallback against a Redis of the test's own: paused
//! (`CLIENT PAUSE`, slower than --redis-timeout) and killed, the read
//! routes answer their recent answers marked `Warning: 110`, for at most
//! --stale-for; a read nothing fits gets the 503.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use testkit::PrivateRedis;

const PROFILE: &str = r#"{"userId":"u1","tagScores":{"shoes":6},"topTags":["shoes"],"eventCounts":{"view":1,"add_to_cart":0,"purchase":1},"lastEventAt":1795647600000}"#;

/// The reads the fallback covers: (method, uri, body).
fn reads() -> Vec<(&'static str, &'static str, Option<Vec<u8>>)> {
    vec![
        ("GET", "/api/user-profile/u1", None),
        ("POST", "/api/user-profiles", Some(br#"{"userIds":["u1","u9"]}"#.to_vec())),
        ("GET", "/api/recommendations/u1?limit=5", None),
        ("GET", "/api/uv-data?date=2026-11-30", None),
        ("GET", "/api/uv-data/p1?from=2026-11-28&to=2026-11-30", None),
    ]
}

#[tokio::test]
async fn slow_or_dead_redis_gets_stale_answers_then_503() {
    let mut redis = PrivateRedis::start();
    let mut conn = redis.connection().unwrap();
    redis::cmd("HSET").arg("user-profiles").arg("u1").arg(PROFILE).query::<()>(&mut conn).unwrap();
    redis::cmd("HSET")
        .arg("hot:pageview_counts")
        .arg("2026-11-30:p1")
        .arg(7)
        .query::<()>(&mut conn)
        .unwrap();
    let mut cfg = config(&redis.url(), None);
    cfg.redis_timeout = Duration::from_millis(300);
    cfg.stale_for = Duration::from_secs(4);
    let (_state, app) = app(cfg).await;
    let mut fresh = Vec::new();
    for (method, uri, body) in reads() {
        let reply = call(&app, method, uri, body, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text);
        assert!(!reply.headers.contains_key("warning"), "{uri}");
        fresh.push(reply.text);
    }
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&fresh[0]).unwrap()["tagScores"],
        json!({"shoes": 6})
    );

    // Slow: every command waits 3 s, over the 300 ms Redis timeout.
    redis.pause(Duration::from_secs(3));
    let paused_at = Instant::now();
    for ((method, uri, body), fresh) in reads().into_iter().zip(&fresh) {
        let started = Instant::now();
        let reply = call(&app, method, uri, body, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri} while paused: {}", reply.text);
        assert_eq!(reply.headers["warning"], "110 - \"Response is Stale\"", "{uri}");
        assert!(reply.headers.contains_key("age"), "{uri}");
        assert_eq!(&reply.text, fresh, "{uri}");
        assert!(started.elapsed() < Duration::from_secs(1), "{uri} took {:?}", started.elapsed());
    }
    // A read with no recent answer gets the 503, as fast.
    let started = Instant::now();
    let unknown = get(&app, "/api/user-profile/u2").await;
    assert_error(&unknown, StatusCode::SERVICE_UNAVAILABLE, "redis_unavailable");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert!(paused_at.elapsed() < Duration::from_secs(3), "the checks outlasted the pause");

    // Dead: killed, the same answers are served stale.
    redis.kill();
    for (method, uri, body) in reads() {
        let reply = call(&app, method, uri, body, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri} with Redis killed: {}", reply.text);
        assert!(reply.headers.contains_key("warning"), "{uri}");
    }
    let metrics = get(&app, "/metrics").await.text;
    let line = r#"api_stale_answers_total{route="/api/user-profile/{userId}"} 2"#;
    assert!(metrics.contains(line), "{metrics}");

    // Past --stale-for, nothing fits: 503.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let reply = get(&app, "/api/user-profile/u1").await;
    assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "redis_unavailable");
}
