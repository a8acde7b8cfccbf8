//! Property-based tests from the contract: requests generated from the
//! OpenAPI document (every operation, its path and query parameters and
//! bodies), with valid, boundary and hostile values (unicode and control
//! characters in ids, out-of-range numbers, malformed JSON). Against the
//! real stack no answer is a 5xx; with Redis and Kafka unreachable the only
//! 5xx is a 503 naming the dependency; every error is in the envelope; no
//! request hangs.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Value, json};
use testkit::redis_database;

/// One operation of the document.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    path: String,
    /// Query parameters: name and schema.
    query: Vec<(String, Value)>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let query = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "query")
                        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["schema"].clone()))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Operation { method: method.clone(), path: path.clone(), query });
        }
    }
    out
}

/// Ids: valid, boundary (256 and 257 bytes, empty) and hostile.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_-]{1,16}",
        Just("u".repeat(256)),
        Just("u".repeat(257)),
        Just(String::new()),
        "\\PC{1,24}",
        "[\\x00-\\x1f\\x7f]{1,6}",
        "[a-z]{1,4}[\\x00-\\x1f/?#%\u{202e}\u{feff}]{1,4}[a-z]{0,4}",
        "\\p{Han}{1,8}|\\p{Emoji}{1,4}",
    ]
}

/// Values of a query parameter, from its schema.
fn query_value(schema: &Value) -> BoxedStrategy<Option<String>> {
    let generic = prop_oneof![Just(String::new()), "\\PC{0,12}", "[\\x00-\\x1f]{1,3}"];
    if schema["type"].as_str() == Some("integer")
        || schema["type"].as_array().is_some_and(|t| t.contains(&json!("integer")))
    {
        let max = schema["maximum"].as_i64().unwrap_or(1000);
        prop_oneof![
            Just(None),
            (-2i64..=max + 2).prop_map(|n| Some(n.to_string())),
            Just(Some(max.to_string())),
            Just(Some("99999999999999999999999".to_owned())),
            Just(Some("1e3".to_owned())),
            generic.prop_map(Some),
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(None),
            Just(Some("2026-11-30".to_owned())),
            Just(Some("2026-02-30".to_owned())),
            Just(Some("1999-12-31".to_owned())),
            Just(Some("+002026-11-30".to_owned())),
            generic.prop_map(Some),
        ]
        .boxed()
    }
}

/// Percent-encodes every byte outside the unreserved set.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Event bodies: valid, with one field broken, or not events at all.
fn event_body() -> impl Strategy<Value = Vec<u8>> {
    let event = (id(), id(), id(), 0usize..4, any::<i64>(), prop::collection::vec(id(), 0..10))
        .prop_map(|(event_id, user, product, kind, ts, tags)| {
            let kind = ["view", "add_to_cart", "purchase", "wishlist"][kind];
            let ts = if ts % 2 == 0 { 1_795_647_600_000 + ts % 1000 } else { ts };
            json!({"eventId": event_id, "userId": user, "productId": product,
                "eventType": kind, "timestamp": ts, "tags": tags, "price": 1.5})
        })
        .boxed();
    prop_oneof![
        event.clone().prop_map(|e| serde_json::to_vec(&e).unwrap()),
        prop::collection::vec(event, 0..5).prop_map(|es| serde_json::to_vec(&es).unwrap()),
        Just(b"{\"eventId\": ".to_vec()),
        Just(b"null".to_vec()),
        Just(b"[[]]".to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
        "\\PC{0,40}".prop_map(String::into_bytes),
    ]
}

fn profiles_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(id(), 0..8)
            .prop_map(|ids| serde_json::to_vec(&json!({"userIds": ids})).unwrap()),
        (0usize..2).prop_map(|extra| {
            let ids: Vec<String> = (0..500 + extra).map(|i| format!("u{i}")).collect();
            serde_json::to_vec(&json!({"userIds": ids})).unwrap()
        }),
        Just(b"{\"userIds\": \"u1\"}".to_vec()),
        Just(b"{\"userIds\": [1, 2]}".to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// A request for one of `ops`: method, URI, body.
fn request(ops: Vec<Operation>) -> impl Strategy<Value = (String, String, Option<Vec<u8>>)> {
    (0..ops.len()).prop_flat_map(move |i| {
        let op = ops[i].clone();
        let query: Vec<BoxedStrategy<Option<String>>> =
            op.query.iter().map(|(_, schema)| query_value(schema)).collect();
        let body: BoxedStrategy<Option<Vec<u8>>> = match (op.method.as_str(), op.path.as_str()) {
            ("post", "/api/user-behavior") => event_body().prop_map(Some).boxed(),
            ("post", _) => profiles_body().prop_map(Some).boxed(),
            _ => Just(None).boxed(),
        };
        (id(), query, body).prop_map(move |(param, values, body)| {
            let mut uri = op.path.replace("{userId}", &encode(&param));
            uri = uri.replace("{productId}", &encode(&param));
            let pairs: Vec<String> = op
                .query
                .iter()
                .zip(values)
                .filter_map(|((name, _), v)| Some(format!("{name}={}", encode(&v?))))
                .collect();
            if !pairs.is_empty() {
                uri = format!("{uri}?{}", pairs.join("&"));
            }
            (op.method.to_uppercase(), uri, body)
        })
    })
}

/// Runs `cases` generated requests against `app`, checking the contract;
/// `down` allows the 503 of an unavailable dependency.
fn check_contract(rt: &tokio::runtime::Runtime, app: &Router, doc: &Value, cases: u32, down: bool) {
    let mut runner = TestRunner::new(RunnerConfig { cases, ..RunnerConfig::default() });
    runner
        .run(&request(operations(doc)), |(method, uri, body)| {
            let started = Instant::now();
            // The timer is made inside the runtime (it needs its context).
            let reply = rt
                .block_on(async {
                    tokio::time::timeout(
                        Duration::from_secs(6),
                        call(app, &method, &uri, body, &[]),
                    )
                    .await
                })
                .map_err(|_| TestCaseError::fail(format!("{method} {uri} hung")))?;
            let status = reply.status.as_u16();
            let code = reply.json["error"]["code"].as_str().unwrap_or("");
            // No dataflow job runs here: its health is always a 503.
            let job_down = uri.starts_with("/api/job-health") && code == "job_unreachable";
            if status >= 500 {
                let allowed = ["redis_unavailable", "kafka_unavailable", "timeout", "not_ready"];
                prop_assert!(
                    status == 503 && (job_down || down && allowed.contains(&code)),
                    "{method} {uri}: {status} {}",
                    reply.text
                );
            }
            if status >= 400 {
                prop_assert!(
                    !code.is_empty(),
                    "{method} {uri}: {status} not in the envelope: {}",
                    reply.text
                );
                prop_assert!(
                    reply.json["error"]["message"].as_str().is_some_and(|m| !m.is_empty())
                );
                prop_assert!(reply.json["error"]["details"].is_array(), "{}", reply.text);
            }
            prop_assert!(
                started.elapsed() < Duration::from_secs(5),
                "{method} {uri} took {:?}",
                started.elapsed()
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn generated_requests_keep_the_contract_on_the_real_stack() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_state, app, doc) = rt.block_on(async {
        let topics = create_topics("api-contract", 1).await;
        let (state, app) = app(config(&redis_database(), Some(&topics))).await;
        let doc = get(&app, "/api/openapi.json").await.json;
        (state, app, doc)
    });
    check_contract(&rt, &app, &doc, 400, false);
}

#[test]
fn generated_requests_get_fast_503s_when_dependencies_are_down() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_state, app, doc) = rt.block_on(async {
        let mut cfg = config(&format!("redis://127.0.0.1:{}", closed_port()), None);
        cfg.brokers = format!("127.0.0.1:{}", closed_port());
        cfg.kafka_timeout = Duration::from_millis(500);
        let (state, app) = app(cfg).await;
        let doc = get(&app, "/api/openapi.json").await.json;
        (state, app, doc)
    });
    check_contract(&rt, &app, &doc, 150, true);
}
