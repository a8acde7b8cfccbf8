//! The API over highly available Redis: it reads through the sentinels
//! (`redis+sentinel://`) and from a Redis Cluster (`redis+cluster://`), and
//! answers again after the primary it read from was killed and a replica
//! promoted.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use common::*;
use model::redis_target::{RedisTarget, Timeouts};
use serde_json::json;
use testkit::{PrivateCluster, PrivateSentinel};

const DAY: &str = "2026-11-30";

/// Writes a catalog of two products, a profile of u1 (who bought p2) and
/// UV counts through `url` (any address form).
fn seed(url: &str) {
    let mut conn = RedisTarget::parse(url)
        .unwrap()
        .connect(Timeouts::uniform(Duration::from_secs(5)))
        .unwrap();
    let catalog = vec![
        model::Product {
            product_id: "p1".into(),
            name: "Shoe".into(),
            price: 10.0,
            tags: vec!["shoes".into()],
        },
        model::Product {
            product_id: "p2".into(),
            name: "Hat".into(),
            price: 5.0,
            tags: vec!["hats".into()],
        },
    ];
    simulator::catalog::load_into_redis(&mut conn, &catalog).unwrap();
    let profile = json!({"userId": "u1", "tagScores": {"shoes": 6}, "topTags": ["shoes"],
        "eventCounts": {"view": 1, "add_to_cart": 0, "purchase": 1}, "lastEventAt": 1_795_647_600_000_i64});
    let mut pipe = redis::pipe();
    pipe.hset(model::keys::USER_PROFILES, "u1", profile.to_string())
        .hset(model::keys::user_profile("u1"), "shoes", 6)
        .sadd(model::keys::user_purchased("u1"), "p2")
        .hset(model::keys::HOT_PAGEVIEW_COUNTS, format!("{DAY}:p1"), 7)
        .hset(model::keys::HOT_PAGEVIEW_COUNTS, format!("{DAY}:p2"), 3);
    pipe.query::<()>(&mut conn).unwrap();
}

/// Every read route answers from the seeded data.
async fn assert_reads(app: &Router) {
    let profile = get(app, "/api/user-profile/u1").await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.text);
    assert_eq!(profile.json["tagScores"], json!({"shoes": 6}));
    let batch = post(app, "/api/user-profiles", &json!({"userIds": ["u1", "u9"]})).await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.text);
    let recommended = get(app, "/api/recommendations/u1?limit=5").await;
    assert_eq!(recommended.status, StatusCode::OK, "{}", recommended.text);
    let ids: Vec<&str> = recommended.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["productId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p1"], "p2 was bought: {}", recommended.text);
    let uv = get(app, &format!("/api/uv-data/p1?from={DAY}&to={DAY}")).await;
    assert_eq!(uv.status, StatusCode::OK, "{}", uv.text);
    assert_eq!(uv.json["series"][0]["uv"], 7);
    let day = get(app, &format!("/api/uv-data?date={DAY}")).await;
    assert_eq!(day.status, StatusCode::OK, "{}", day.text);
}

/// Polls the profile route until it answers 200 (at most `limit`); how long.
async fn answers_again(app: &Router, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if get(app, "/api/user-profile/u1").await.status == StatusCode::OK {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// Waits until the replica has every write (so a failover loses none).
fn replicated(url: &str) {
    let mut conn = RedisTarget::parse(url)
        .unwrap()
        .connect(Timeouts::uniform(Duration::from_secs(5)))
        .unwrap();
    let acked: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut conn).unwrap();
    assert_eq!(acked, 1, "the replica acknowledged the writes");
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_through_the_sentinels_and_after_a_failover() {
    let mut sentinel = PrivateSentinel::start();
    let url = sentinel.url(0);
    seed(&url);
    replicated(&url);
    let (_state, app) = app(config(&url, None)).await;
    assert_reads(&app).await;

    let old = sentinel.kill_primary();
    let new =
        tokio::task::block_in_place(|| sentinel.wait_for_failover(old, Duration::from_secs(30)));
    let again = answers_again(&app, Duration::from_secs(30)).await;
    assert!(again.is_some(), "no answer within 30 s of the failover from {old} to {new}");
    assert_reads(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_from_a_cluster_and_after_a_primary_failover() {
    let mut cluster = PrivateCluster::start();
    let url = cluster.url();
    seed(&url);
    // Replication within the host takes well under a second: the replica
    // to be promoted has the seeded keys.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (state, app) = app(config(&url, None)).await;
    state.refresh(true).await.unwrap();
    assert_eq!(state.snapshot().catalog.products.len(), 2, "the catalog, read across slots");
    assert_reads(&app).await;

    let old = tokio::task::block_in_place(|| {
        let old = cluster.kill_primary_of(model::keys::USER_PROFILES);
        cluster.wait_until_ok(Duration::from_secs(30));
        old
    });
    let again = answers_again(&app, Duration::from_secs(30)).await;
    assert!(again.is_some(), "no answer within 30 s of killing primary {old}");
    assert_reads(&app).await;
}
