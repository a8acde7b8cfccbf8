//! All-or-nothing ingestion with `--kafka-transactions`, on the real
//! cluster: a batch that fails part-way leaves nothing a `read_committed`
//! consumer (the job's isolation level) can see, and a whole batch is seen
//! whole. With the job's `--dedupe-window`, ingestion is idempotent end to
//! end: every batch sent twice, once after the client gave up waiting,
//! leaves Redis exactly as sending each once.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::job::{redis_contents, run_dataflow_until_consumed};
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
    cfg.transactional_id = unique_name("api-txn");
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

/// 12 batches of 25 events over 8 users, 30 s of event time in all.
fn batches() -> Vec<Value> {
    let kinds = ["view", "view", "add_to_cart", "view", "purchase"];
    (0..12)
        .map(|b| {
            let events: Vec<Value> = (0..25)
                .map(|i| {
                    let n = b * 25 + i;
                    let tags = [["shoes", "red"], ["hats", "red"], ["bags", "blue"]][n % 3];
                    let ts = TS + i64::try_from(n).unwrap() * 100;
                    let (user, product) = (format!("dup-u{}", n % 8), format!("dup-p{}", n % 5));
                    event(&format!("dup-{b}-{i}"), &user, &product, kinds[n % 5], ts, &tags)
                })
                .collect();
            Value::Array(events)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_batch_sent_twice_even_after_a_client_timeout_counts_once() {
    let mut runs = Vec::new();
    for (name, twice) in [("api-dedupe-once", false), ("api-dedupe-twice", true)] {
        let topics = create_topics(name, 3).await;
        let redis = redis_database();
        let mut cfg = config(&redis, Some(&topics));
        cfg.kafka_transactions = true;
        // Producers of their own: a transactional id in use by another
        // app fences it.
        cfg.transactional_id = unique_name(name);
        cfg.request_timeout = Duration::from_secs(8);
        let (_state, app) = app(cfg).await;
        for (n, batch) in batches().iter().enumerate() {
            if twice && n % 3 == 0 {
                // The client stops waiting almost at once: the batch may
                // or may not be in Kafka, and the client sends it again.
                let gave_up = tokio::time::timeout(
                    Duration::from_millis(2),
                    post(&app, "/api/user-behavior", batch),
                )
                .await;
                assert!(gave_up.is_err(), "the first send of batch {n} answered within 2 ms");
            } else if twice {
                let reply = post(&app, "/api/user-behavior", batch).await;
                assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
            }
            let reply = post(&app, "/api/user-behavior", batch).await;
            assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
        }
        // A commit's markers reach the partitions just after it returns:
        // until then a read_committed reader stops short of them.
        let least = if twice { 300 + 8 * 25 } else { 300 };
        let mut sent = 0;
        for _ in 0..50 {
            let read = topics.clone();
            sent = tokio::task::spawn_blocking(move || {
                read.topics.event_topics().iter().map(|t| read_topic(t).len()).sum::<usize>()
            })
            .await
            .unwrap();
            if sent >= least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (job_topics, job_redis) = (topics.clone(), redis.clone());
        tokio::task::spawn_blocking(move || {
            run_dataflow_until_consumed(&job_topics, &job_redis, sent);
        })
        .await
        .unwrap();
        runs.push((sent, redis_contents(&redis)));
    }
    let (once, twice) = (&runs[0], &runs[1]);
    assert_eq!(once.0, 300);
    assert!(twice.0 >= 300 + 8 * 25, "only {} events reached Kafka", twice.0);
    assert!(once.1.keys().any(|k| k.contains("user:profile:dup-u7")), "{:?}", once.1.keys());
    let differing: Vec<_> = once
        .1
        .iter()
        .filter(|(key, value)| twice.1.get(*key) != Some(value))
        .map(|(key, value)| format!("{key}: once {value}, twice {:?}", twice.1.get(key)))
        .chain(
            twice.1.keys().filter(|k| !once.1.contains_key(*k)).map(|k| format!("{k} only twice")),
        )
        .collect();
    assert!(differing.is_empty(), "{}", differing.join("\n"));
}
