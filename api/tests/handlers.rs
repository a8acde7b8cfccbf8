//! In-process handler tests over the real Redis (a database of the test's
//! own) and Kafka (topics of the test's own): ingestion, validation,
//! profiles, recommendations, unique visitors, recent events, live rate.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use model::Product;
use serde_json::{Value, json};
use testkit::{read_topic, redis_database};

const TS: i64 = 1_795_647_600_000;

#[tokio::test]
async fn an_ingested_event_reaches_its_topic_keyed_by_user() {
    let topics = create_topics("api-ingest", 3).await;
    let (state, app) = app(config(&redis_database(), Some(&topics))).await;
    let one = event("e1", "u1", "p1", "purchase", TS, &["shoes", "nike"]);
    let reply = post(&app, "/api/user-behavior", &one).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.json["accepted"], 1);
    let batch = json!([
        event("e2", "u2", "p2", "view", TS, &["a"]),
        event("e3", "u2", "p3", "add_to_cart", TS + 1, &["b"])
    ]);
    let reply = post(&app, "/api/user-behavior", &batch).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.json["accepted"], 2);

    let purchases = read_topic(&topics.topics.purchase);
    assert_eq!(purchases.len(), 1);
    assert_eq!(purchases[0].key.as_deref(), Some(&b"u1"[..]));
    let sent: Value = serde_json::from_slice(purchases[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(sent["eventId"], "e1");
    assert_eq!(sent["tags"], json!(["shoes", "nike"]));
    assert_eq!(read_topic(&topics.topics.view).len(), 1);
    assert_eq!(read_topic(&topics.topics.add_to_cart).len(), 1);
    let metrics = get(&app, "/metrics").await.text;
    let line = format!("api_events_ingested_total{{topic=\"{}\"}} 1", topics.topics.purchase);
    assert!(metrics.contains(&line), "{metrics}");
    drop(state);
}

#[tokio::test]
async fn bad_events_get_400_naming_every_field_and_nothing_is_produced() {
    let topics = create_topics("api-bad", 1).await;
    let (_state, app) = app(config(&redis_database(), Some(&topics))).await;
    let good = event("e1", "u1", "p1", "view", TS, &["a"]);
    let bad = json!({"eventId": "e2", "userId": 5, "productId": "", "eventType": "wishlist",
        "timestamp": "soon", "tags": []});
    let reply = post(&app, "/api/user-behavior", &json!([good, bad])).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
    let details = reply.json["error"]["details"].as_array().unwrap();
    let fields: Vec<&str> = details.iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["userId", "productId", "eventType", "timestamp", "tags"]);
    assert!(details.iter().all(|d| d["index"] == 1));
    assert_eq!(details[2]["reason"], "unknown_event_type");

    let malformed =
        call(&app, "POST", "/api/user-behavior", Some(b"{\"eventId\": ".to_vec()), &[]).await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(malformed.json["error"]["details"][0]["reason"], "malformed_json");

    let out_of_range =
        post(&app, "/api/user-behavior", &event("e3", "u", "p", "view", 99, &["a"])).await;
    assert_eq!(out_of_range.json["error"]["details"][0]["reason"], "timestamp_out_of_range");

    let too_many: Vec<Value> =
        (0..1001).map(|i| event(&format!("e{i}"), "u", "p", "view", TS, &["a"])).collect();
    let reply = post(&app, "/api/user-behavior", &json!(too_many)).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(reply.json["error"]["details"][0]["reason"], "batch_too_large");

    assert!(topics.topics.event_topics().iter().all(|t| read_topic(t).is_empty()));
}

#[tokio::test]
async fn huge_bodies_get_413_in_the_envelope() {
    let topics = create_topics("api-huge", 1).await;
    let mut cfg = config(&redis_database(), Some(&topics));
    cfg.body_limit = 64 * 1024;
    let (_state, app) = app(cfg).await;
    let huge = vec![b' '; 200 * 1024];
    let reply = call(&app, "POST", "/api/user-behavior", Some(huge.clone()), &[]).await;
    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let reply = call(&app, "POST", "/api/user-profiles", Some(huge), &[]).await;
    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn the_write_endpoint_requires_the_configured_token() {
    let topics = create_topics("api-auth", 1).await;
    let mut cfg = config(&redis_database(), Some(&topics));
    cfg.auth_token = Some("s3cret".into());
    let (_state, app) = app(cfg).await;
    let body = serde_json::to_vec(&event("e1", "u1", "p1", "view", TS, &["a"])).unwrap();
    let reply = call(&app, "POST", "/api/user-behavior", Some(body.clone()), &[]).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
    let reply = call(
        &app,
        "POST",
        "/api/user-behavior",
        Some(body.clone()),
        &[("authorization", "Bearer wrong!")],
    )
    .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    let reply =
        call(&app, "POST", "/api/user-behavior", Some(body), &[("authorization", "Bearer s3cret")])
            .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    // Reads stay open.
    assert_eq!(get(&app, "/api/user-profile/u1").await.status, StatusCode::OK);
}

#[tokio::test]
async fn profiles_known_unknown_and_batched_in_order() {
    let redis = redis_database();
    let mut conn = redis_conn(&redis);
    let stored = json!({"userId": "u1", "tagScores": {"shoes": 6, "nike": 1}, "topTags": ["shoes", "nike"],
        "eventCounts": {"view": 1, "add_to_cart": 0, "purchase": 1}, "lastEventAt": TS});
    redis::cmd("HSET")
        .arg("user-profiles")
        .arg("u1")
        .arg(stored.to_string())
        .query::<()>(&mut conn)
        .unwrap();
    let (_state, app) = app(config(&redis, None)).await;

    let known = get(&app, "/api/user-profile/u1").await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(known.json, stored);
    let unknown = get(&app, "/api/user-profile/nobody").await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(unknown.json["tagScores"], json!({}));
    assert_eq!(unknown.json["topTags"], json!([]));
    assert_eq!(unknown.json["eventCounts"], json!({"view": 0, "add_to_cart": 0, "purchase": 0}));
    assert_eq!(unknown.json["lastEventAt"], Value::Null);

    let batch =
        post(&app, "/api/user-profiles", &json!({"userIds": ["nobody", "u1", "nobody2"]})).await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.text);
    let users: Vec<&str> = batch.json["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["userId"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["nobody", "u1", "nobody2"]);
    assert_eq!(batch.json["profiles"][1], stored);

    let ids: Vec<String> = (0..501).map(|i| format!("u{i}")).collect();
    let reply = post(&app, "/api/user-profiles", &json!({"userIds": ids})).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(reply.json["error"]["details"][0]["reason"], "too_many_ids");
    let reply = post(&app, "/api/user-profiles", &json!({"userIds": [1, 2]})).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
    let reply = post(&app, "/api/user-profiles", &json!(["u1"])).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
}

fn product(id: &str, tags: &[&str]) -> Product {
    Product {
        product_id: id.into(),
        name: format!("Product {id}"),
        price: 9.99,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
    }
}

#[tokio::test]
async fn recommendations_rank_explain_and_exclude_purchases() {
    let redis = redis_database();
    let mut conn = redis_conn(&redis);
    let catalog = vec![
        product("p1", &["shoes", "nike"]),
        product("p2", &["shoes"]),
        product("p3", &["hats"]),
        product("p4", &["books"]),
    ];
    simulator::catalog::load_into_redis(&mut conn, &catalog).unwrap();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    for (p, uv) in [("p1", 0), ("p2", 50), ("p3", 9), ("p4", 100)] {
        hset(&mut conn, "hot:pageview_counts", &format!("{today}:{p}"), uv);
    }
    let profile = json!({"userId": "u1", "tagScores": {"hats": 2, "nike": 1, "shoes": 5},
        "topTags": ["shoes", "hats", "nike"], "eventCounts": {"view": 2, "add_to_cart": 1, "purchase": 0},
        "lastEventAt": TS});
    redis::cmd("HSET")
        .arg("user-profiles")
        .arg("u1")
        .arg(profile.to_string())
        .query::<()>(&mut conn)
        .unwrap();
    let (_state, app) = app(config(&redis, None)).await;

    let reply = get(&app, "/api/recommendations/u1?limit=3").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["strategy"], "interest");
    assert_eq!(reply.json["popularityDay"], today);
    let ids: Vec<&str> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["productId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p2", "p3", "p1"]);
    let first = &reply.json["items"][0];
    assert_eq!(first["name"], "Product p2");
    assert_eq!(first["price"], 9.99);
    assert_eq!(first["tags"], json!(["shoes"]));
    assert_eq!(first["matchedTags"], json!(["shoes"]));
    assert_eq!(first["uvToday"], 50);
    assert_eq!(reply.json["items"][2]["matchedTags"], json!(["shoes", "nike"]));

    redis::cmd("SADD").arg("user:purchased:u1").arg("p2").query::<()>(&mut conn).unwrap();
    let reply = get(&app, "/api/recommendations/u1?limit=4").await;
    let ids: Vec<&str> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["productId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p3", "p1", "p4"], "p2 was purchased; p4 fills in as popular");

    let cold = get(&app, "/api/recommendations/stranger?limit=2").await;
    assert_eq!(cold.status, StatusCode::OK);
    assert_eq!(cold.json["strategy"], "popular");
    let ids: Vec<&str> = cold.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["productId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p4", "p2"]);

    assert_error(
        &get(&app, "/api/recommendations/u1?limit=0").await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(
        &get(&app, "/api/recommendations/u1?limit=abc").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
}

#[tokio::test]
async fn uv_data_by_day_and_series() {
    let redis = redis_database();
    let mut conn = redis_conn(&redis);
    for (field, uv) in [
        ("2026-11-25:p1", 4),
        ("2026-11-25:p2", 9),
        ("2026-11-25:p3", 4),
        ("2026-11-24:p1", 2),
        ("2026-11-26:p9", 1),
    ] {
        redis::cmd("HSET")
            .arg("hot:pageview_counts")
            .arg(field)
            .arg(uv)
            .query::<()>(&mut conn)
            .unwrap();
    }
    let (_state, app) = app(config(&redis, None)).await;
    let reply = get(&app, "/api/uv-data?date=2026-11-25&limit=2").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json,
        json!({"date": "2026-11-25", "products": [{"productId": "p2", "uv": 9}, {"productId": "p1", "uv": 4}]})
    );
    let series = get(&app, "/api/uv-data/p1?from=2026-11-23&to=2026-11-25").await;
    assert_eq!(
        series.json["series"],
        json!([{"date": "2026-11-23", "uv": 0}, {"date": "2026-11-24", "uv": 2}, {"date": "2026-11-25", "uv": 4}])
    );
    assert_eq!(get(&app, "/api/uv-data/p1").await.json["series"].as_array().unwrap().len(), 7);
    assert_error(
        &get(&app, "/api/uv-data?date=yesterday").await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(
        &get(&app, "/api/uv-data/p1?from=2026-11-25&to=2026-11-01").await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(
        &get(&app, "/api/uv-data/p1?from=2020-01-01&to=2026-11-01").await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
}

#[tokio::test]
async fn recent_events_come_from_the_events_list() {
    let redis = redis_database();
    let mut conn = redis_conn(&redis);
    for i in 0..5 {
        let e = event(&format!("e{i}"), "u1", "p1", "view", TS + i, &["a"]);
        redis::cmd("RPUSH").arg("events").arg(e.to_string()).query::<()>(&mut conn).unwrap();
    }
    let (_state, app) = app(config(&redis, None)).await;
    let reply = get(&app, "/api/user-behavior?limit=3").await;
    let ids: Vec<&str> = reply.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e0", "e1", "e2"]);
    assert_error(
        &get(&app, "/api/user-behavior?limit=5000").await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_rate_follows_the_event_topics_high_watermarks() {
    let topics = create_topics("api-live", 3).await;
    let (state, app) = app(config(&redis_database(), Some(&topics))).await;
    let _background = api::background::spawn(&state);
    let batch: Vec<Value> = (0..40)
        .map(|i| event(&format!("e{i}"), &format!("u{i}"), "p1", "view", TS, &["a"]))
        .collect();
    assert_eq!(post(&app, "/api/user-behavior", &json!(batch)).await.status, StatusCode::ACCEPTED);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = get(&app, "/api/stats").await.json;
        if stats["eventsTotal"] == 40 && stats["eventsPerSecond"].is_number() {
            break;
        }
        assert!(Instant::now() < deadline, "live stats never saw the 40 events: {stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_catalog_file_replaces_the_redis_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.json");
    let products = vec![product("f1", &["shoes"]), product("f2", &["hats"])];
    std::fs::write(&path, serde_json::to_vec(&products).unwrap()).unwrap();
    let mut cfg = config(&redis_database(), None);
    cfg.catalog = Some(path);
    let (_state, app) = app(cfg).await;
    let reply = get(&app, "/api/recommendations/anyone?limit=5").await;
    let ids: Vec<&str> = reply.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["productId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["f1", "f2"]);
    let mut bad = config(&redis_database(), None);
    bad.catalog = Some(dir.path().join("missing.json"));
    assert!(api::AppState::connect(bad).await.is_err());
}
