//! All-or-nothing ingestion with `--kafka-transactions`, on the real
//! cluster: a batch that fails part-way leaves nothing a `read_committed`
//! consumer (the job's isolation level) can see, and a whole batch is seen
//! whole.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use model::Topics;
use serde_json::{Value, json};
use testkit::{read_topic, redis_database, unique_name};

const TS: i64 = 1_795_647_600_000;

fn event_ids(topic: &str) -> Vec<String> {
    read_topic(topic)
        .iter()
        .map(|m| {
            let event: Value = serde_json::from_slice(m.payload.as_deref().unwrap()).unwrap();
            event["eventId"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_batch_is_ingested_all_or_nothing() {
    // Every event topic but the purchase one: a batch with a purchase fails
    // after its views were written.
    let prefix = format!("{}.", unique_name("api-txn"));
    let topics = Topics::with_prefix(&prefix);
    let (view, cart) = (topics.view.clone(), topics.add_to_cart.clone());
    tokio::task::spawn_blocking(move || testkit::create_topics(&[&view, &cart], 1)).await.unwrap();
    let mut cfg = config(&redis_database(), None);
    cfg.topic_prefix = prefix;
    cfg.kafka_transactions = true;
    cfg.kafka_timeout = Duration::from_millis(1500);
    cfg.request_timeout = Duration::from_secs(8);
    let (_state, app) = app(cfg).await;

    let failing = json!([
        event("e1", "u1", "p1", "view", TS, &["a"]),
        event("e2", "u1", "p2", "add_to_cart", TS + 1, &["a"]),
        event("e3", "u1", "p3", "purchase", TS + 2, &["a"]),
    ]);
    let reply = post(&app, "/api/user-behavior", &failing).await;
    assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "kafka_unavailable");
    assert!(reply.text.contains("nothing was ingested"), "{}", reply.text);

    let whole = json!([
        event("e4", "u1", "p1", "view", TS + 3, &["a"]),
        event("e5", "u2", "p2", "view", TS + 4, &["b"]),
        event("e6", "u2", "p2", "add_to_cart", TS + 5, &["b"]),
    ]);
    let reply = post(&app, "/api/user-behavior", &whole).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(reply.json["accepted"], 3);
    // The commit's markers reach the partitions just after the commit
    // returns: until then a read_committed reader stops short of them.
    let mut waited = 0;
    let (views, carts) = loop {
        let (view, cart) = (topics.view.clone(), topics.add_to_cart.clone());
        let read = tokio::task::spawn_blocking(move || (event_ids(&view), event_ids(&cart)))
            .await
            .unwrap();
        if (!read.0.is_empty() && !read.1.is_empty()) || waited >= 50 {
            break read;
        }
        waited += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(views, ["e4", "e5"], "the failed batch's view is visible");
    assert_eq!(carts, ["e6"], "the failed batch's add_to_cart is visible");
}
