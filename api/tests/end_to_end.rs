//! End to end: events in through the API and the simulator, the real
//! `dataflow` binary over them, and the API's answers checked against an
//! independent recomputation from the events read back from Kafka.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::http::StatusCode;
use common::job::run_dataflow_with;
use common::oracle::Expected;
use common::*;
use serde_json::{Value, json};
use simulator::catalog;
use simulator::generator::{EventGenerator, GeneratorConfig};
use simulator::mix::Mix;
use simulator::producer::{ProduceConfig, produce};
use simulator::shard::Shard;
use testkit::{EventTopics, Stack, read_topic, redis_database, utc_date};

const PRODUCTS: usize = 300;
const EVENTS: u64 = 20_000;

fn produce_simulated(topics: &EventTopics, start_time_ms: i64) {
    let config = GeneratorConfig {
        seed: 23,
        users: 2_000,
        start_time_ms,
        event_time_rate: 40.0,
        mix: Mix::default(),
        shard: Shard::default(),
        user_skew: 0.8,
        product_skew: 1.0,
        mean_session_events: 8.0,
    };
    let mut generator = EventGenerator::new(config, catalog::generate(23, PRODUCTS));
    let produce_config = ProduceConfig {
        brokers: Stack::get().brokers.clone(),
        topics: topics.topics.clone(),
        rate: 0.0,
        count: Some(EVENTS),
        duration: None,
        compression: "lz4".into(),
        delivery_timeout: Duration::from_secs(30),
        progress: false,
    };
    let report =
        produce(&mut generator, &produce_config, &AtomicBool::new(false)).expect("produce");
    assert!(report.is_complete(), "{report:?}");
}

fn ids(items: &Value) -> Vec<String> {
    items.as_array().unwrap().iter().map(|i| i["productId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_a_recomputation_after_the_job_ran() {
    answers_match_a_recomputation("api-e2e", 0, &[]).await;
}

/// The job writes each shared hash as 7 shard keys, without leaderboards, so
/// that today's popularity too is read from `hot:pageview_counts`: every
/// read of a shared hash (a profile, a batch of them, a day's and a
/// product's unique visitors, popularity) finds its fields in their shards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_a_recomputation_with_sharded_shared_hashes() {
    answers_match_a_recomputation("api-e2e-shards", 7, &["--leaderboards", "off"]).await;
}

/// Events through the API and the simulator, then the job (with
/// `--shared-hash-shards shards` and `job_args`), then every read route of
/// an API given the same shards, against the recomputation.
async fn answers_match_a_recomputation(base: &'static str, shards: u32, job_args: &[&str]) {
    let layout = model::SharedHashLayout::with_shards(shards).unwrap();
    // This test checks answers, not timeouts (tests/contract.rs does): the
    // brokers serve the whole suite at once, and the shared 1.5 s produce
    // timeout once expired under that load (503, 2 of 3 events acknowledged).
    let config = |redis: &str, topics: &EventTopics| api::Config {
        hash_layout: layout,
        kafka_timeout: Duration::from_secs(15),
        request_timeout: Duration::from_secs(20),
        ..common::config(redis, Some(topics))
    };
    let redis = redis_database();
    let topics = create_topics(base, 3).await;
    let products = catalog::generate(23, PRODUCTS);
    simulator::catalog::load_into_redis(&mut redis_conn(&redis), &products).unwrap();
    let now_ms = jiff::Timestamp::now().as_millisecond();

    // Events through the API first: they must reach Kafka and the job.
    let (_state, app) = app(config(&redis, &topics)).await;
    let p = &products[7];
    let tags: Vec<&str> = p.tags.iter().map(String::as_str).collect();
    let batch = json!([
        event("api-1", "api-user", &p.product_id, "view", now_ms - 2_000, &tags),
        event("api-2", "api-user", &p.product_id, "add_to_cart", now_ms - 1_000, &tags),
        event("api-3", "api-user", &p.product_id, "purchase", now_ms, &tags),
    ]);
    let reply = post(&app, "/api/user-behavior", &batch).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);

    let start = (now_ms - 30 * 60 * 1000) / 1000 * 1000;
    let produce_topics = topics.clone();
    tokio::task::spawn_blocking(move || produce_simulated(&produce_topics, start)).await.unwrap();
    let read_topics = topics.clone();
    let raw: Vec<Vec<u8>> = tokio::task::spawn_blocking(move || {
        read_topics
            .topics
            .event_topics()
            .iter()
            .flat_map(|t| read_topic(t))
            .filter_map(|m| m.payload)
            .collect()
    })
    .await
    .unwrap();
    assert_eq!(raw.len() as u64, EVENTS + 3);
    assert!(
        raw.iter().any(|r| r.windows(7).any(|w| w == b"\"api-3\"")),
        "the API's event is in Kafka"
    );
    let expected = Expected::from_raw(&raw);

    let job_topics = topics.clone();
    let job_redis = redis.clone();
    let mut args: Vec<String> = job_args.iter().map(|a| (*a).to_owned()).collect();
    args.extend(["--shared-hash-shards".to_owned(), shards.to_string()]);
    tokio::task::spawn_blocking(move || run_dataflow_with(&job_topics, &job_redis, &args))
        .await
        .unwrap();
    if shards > 0 {
        let mut conn = redis_conn(&redis);
        let unsharded: bool = redis::cmd("EXISTS").arg("user-profiles").query(&mut conn).unwrap();
        assert!(!unsharded, "no unsharded user-profiles");
        let shard_keys: Vec<String> =
            redis::cmd("KEYS").arg("user-profiles:shard:*").query(&mut conn).unwrap();
        assert_eq!(shard_keys.len(), shards as usize, "every shard holds users: {shard_keys:?}");
    }

    // A fresh app loads the catalog and today's popularity at start.
    let (_state, app) = common::app(config(&redis, &topics)).await;

    // Profiles: the most active users, the API's user, and an unknown one.
    let mut users: Vec<(&String, u64)> =
        expected.counts.iter().map(|(u, c)| (u, c.iter().sum())).collect();
    users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut checked: Vec<String> = users.iter().take(15).map(|(u, _)| (*u).clone()).collect();
    checked.push("api-user".into());
    checked.push(users.last().unwrap().0.clone());
    for user in &checked {
        let reply = get(&app, &format!("/api/user-profile/{user}")).await;
        assert_eq!(reply.status, StatusCode::OK);
        let scores: serde_json::Map<String, Value> =
            expected.scores[user].iter().map(|(t, s)| (t.clone(), json!(s))).collect();
        assert_eq!(reply.json["tagScores"], Value::Object(scores), "{user}");
        let top: Vec<String> = expected.top_tags(user, 5).into_iter().map(|(t, _)| t).collect();
        assert_eq!(reply.json["topTags"], json!(top), "{user}");
        let c = expected.counts[user];
        assert_eq!(
            reply.json["eventCounts"],
            json!({"view": c[0], "add_to_cart": c[1], "purchase": c[2]}),
            "{user}"
        );
        assert_eq!(reply.json["lastEventAt"], json!(expected.last[user]), "{user}");
    }
    assert_eq!(get(&app, "/api/user-profile/never-seen").await.json["topTags"], json!([]));
    let batch = post(&app, "/api/user-profiles", &json!({"userIds": checked})).await;
    let order: Vec<&str> = batch.json["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["userId"].as_str().unwrap())
        .collect();
    assert_eq!(order, checked.iter().map(String::as_str).collect::<Vec<_>>());

    // Unique visitors of every day the events cover, and a series.
    for day in expected.visitors.keys() {
        let reply = get(&app, &format!("/api/uv-data?date={day}&limit=1000")).await;
        let got: Vec<(String, u64)> = reply.json["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["productId"].as_str().unwrap().to_owned(), p["uv"].as_u64().unwrap()))
            .collect();
        let want: Vec<(String, u64)> = expected.uv_ranking(day).into_iter().take(1000).collect();
        assert_eq!(got, want, "uv-data of {day}");
        assert!(reply.json["products"][0]["name"].is_string());
    }
    let first_day = expected.visitors.keys().next().unwrap().clone();
    let (top_product, _) = expected.uv_ranking(&first_day)[0].clone();
    let series =
        get(&app, &format!("/api/uv-data/{top_product}?from={first_day}&to={}", utc_date(now_ms)))
            .await;
    for point in series.json["series"].as_array().unwrap() {
        let day = point["date"].as_str().unwrap();
        assert_eq!(
            point["uv"].as_u64().unwrap(),
            expected.uv(day, &top_product),
            "{top_product} on {day}"
        );
    }

    // Recommendations, for active users, the API's user and a cold user.
    let mut recommended: Vec<String> = users.iter().take(10).map(|(u, _)| (*u).clone()).collect();
    recommended.push("api-user".into());
    recommended.push("cold-user".into());
    for user in &recommended {
        let reply = get(&app, &format!("/api/recommendations/{user}?limit=12")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let day = reply.json["popularityDay"].as_str().unwrap().to_owned();
        let want = expected.recommendations(&products, user, &day, 12);
        let want_ids: Vec<String> = want.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(ids(&reply.json["items"]), want_ids, "recommendations of {user} on {day}");
        for (item, (_, matched)) in reply.json["items"].as_array().unwrap().iter().zip(&want) {
            assert_eq!(item["matchedTags"], json!(matched), "{user}");
            let product = products.iter().find(|p| p.product_id == item["productId"]).unwrap();
            assert_eq!(item["name"], product.name.as_str());
            assert_eq!(item["tags"], json!(product.tags));
            assert_eq!(item["uvToday"].as_u64().unwrap(), expected.uv(&day, &product.product_id));
        }
        let strategy = if user == "cold-user" { "popular" } else { "interest" };
        assert_eq!(reply.json["strategy"], strategy, "{user}");
    }

    // The most recent events, newest first.
    let mut times = expected.times.clone();
    times.sort_by(|a, b| b.cmp(a));
    let recent = get(&app, "/api/user-behavior?limit=5").await;
    let got: Vec<&str> = recent.json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = times.iter().take(5).map(|(_, id)| id.as_str()).collect();
    assert_eq!(got, want);
}

/// A user's events must stay in one partition whoever produced them: the
/// API and the simulator (as the job's outputs) share `model::kafka`'s
/// partitioner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_puts_a_user_on_the_partition_the_simulator_does() {
    let redis = redis_database();
    let topics = create_topics("api-partitions", 3).await;
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let start = (now_ms - 30 * 60 * 1000) / 1000 * 1000;
    let produce_topics = topics.clone();
    tokio::task::spawn_blocking(move || produce_simulated(&produce_topics, start)).await.unwrap();
    let view_topic = topics.topics.event_topics()[0].to_owned();
    let read = view_topic.clone();
    let simulated = tokio::task::spawn_blocking(move || read_topic(&read)).await.unwrap();
    let mut partition_of: std::collections::BTreeMap<Vec<u8>, i32> = Default::default();
    for message in &simulated {
        let key = message.key.clone().unwrap();
        let seen = *partition_of.entry(key).or_insert(message.partition);
        assert_eq!(seen, message.partition, "the simulator split a user");
    }
    let users: Vec<String> =
        partition_of.keys().take(40).map(|k| String::from_utf8(k.clone()).unwrap()).collect();
    let partitions: std::collections::BTreeSet<i32> =
        users.iter().map(|u| partition_of[u.as_bytes()]).collect();
    assert_eq!(partitions.len(), 3, "the users span every partition");

    let (_state, app) = app(config(&redis, Some(&topics))).await;
    let batch: Vec<Value> = users
        .iter()
        .enumerate()
        .map(|(i, user)| event(&format!("part-{i}"), user, "p1", "view", now_ms, &["t"]))
        .collect();
    let reply = post(&app, "/api/user-behavior", &Value::Array(batch)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let all = tokio::task::spawn_blocking(move || read_topic(&view_topic)).await.unwrap();
    let from_api: Vec<_> = all
        .iter()
        .filter(|m| m.payload.as_ref().is_some_and(|p| p.windows(6).any(|w| w == b"\"part-")))
        .collect();
    assert_eq!(from_api.len(), users.len());
    for message in from_api {
        let key = message.key.clone().unwrap();
        let user = String::from_utf8_lossy(&key);
        assert_eq!(message.partition, partition_of[&key], "{user} changed partition");
    }
}
