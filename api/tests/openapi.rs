//! The generated OpenAPI document against the router and the real stack:
//! every documented operation is routed, every other method or path is
//! not, and every answer (successes and errors alike) validates against the
//! schema the document gives for its status, with a JSON Schema validator.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::Value;
use testkit::redis_database;

const TS: i64 = 1_795_647_600_000;

const JOB_METRICS: &str = "# TYPE tagflow_consumer_lag gauge
tagflow_consumer_lag{topic=\"page-views\",partition=\"0\"} 4
# TYPE tagflow_dead_lettered_total counter
tagflow_dead_lettered_total{reason=\"invalid_json\"} 2
# TYPE tagflow_checkpoint_last_completed_id gauge
tagflow_checkpoint_last_completed_id 0
# TYPE tagflow_checkpoint_last_completed_timestamp_seconds gauge
tagflow_checkpoint_last_completed_timestamp_seconds 1795647600
";

async fn document(app: &axum::Router) -> Value {
    let reply = get(app, "/api/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.json["openapi"].as_str().unwrap().starts_with("3.1"), "{}", reply.text);
    reply.json
}

/// `path` with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{userId}", "u1").replace("{productId}", "p1").replace("{tag}", "shoes")
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_nothing_else() {
    let (_state, app) = app(config(&redis_database(), None)).await;
    let doc = document(&app).await;
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        "/",
        "/api/job-health",
        "/api/leaderboards/products",
        "/api/leaderboards/tags",
        "/api/leaderboards/tags/{tag}/products",
        "/api/openapi.json",
        "/api/recommendations/{userId}",
        "/api/stats",
        "/api/user-behavior",
        "/api/user-profile/{userId}",
        "/api/user-profiles",
        "/api/uv-data",
        "/api/uv-data/{productId}",
        "/assets/dashboard.css",
        "/assets/dashboard.js",
        "/healthz",
        "/metrics",
        "/readyz",
    ];
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort_unstable();
    assert_eq!(documented, expected);
    for (path, operations) in paths {
        let uri = concrete(path);
        for method in ["get", "post", "put", "delete", "patch"] {
            let body = (method == "post").then(|| b"{}".to_vec());
            let reply = call(&app, &method.to_uppercase(), &uri, body, &[]).await;
            if operations.get(method).is_some() {
                assert_ne!(reply.status, StatusCode::NOT_FOUND, "{method} {path} is not routed");
                assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                assert!(operations[method]["responses"]["default"].is_object(), "{method} {path}");
            } else {
                assert_error(&reply, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
            }
        }
    }
    for unrouted in ["/api", "/api/user-profile", "/api/uv-data/p1/extra", "/assets/x.js"] {
        assert_error(&get(&app, unrouted).await, StatusCode::NOT_FOUND, "not_found");
    }
}

/// Validates `reply` against the schema `doc` gives for its method, path
/// and status.
fn check(doc: &Value, method: &str, path: &str, reply: &Reply) {
    let responses = &doc["paths"][path][method]["responses"];
    let status = reply.status.as_str();
    assert!(
        responses.get(status).is_some(),
        "{method} {path}: status {status} is not documented ({})",
        reply.text
    );
    let content = &responses[status]["content"];
    let content_type = reply.headers["content-type"].to_str().unwrap();
    let media = content_type.split(';').next().unwrap();
    let schema = &content[media]["schema"];
    assert!(schema.is_object(), "{method} {path} {status}: no schema for {media} in {content}");
    if media != "application/json" {
        return;
    }
    let mut root = schema.as_object().unwrap().clone();
    root.insert("components".into(), doc["components"].clone());
    let root = Value::Object(root);
    let validator = jsonschema::validator_for(&root).unwrap();
    let errors: Vec<String> = validator.iter_errors(&reply.json).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{method} {path} {status}: {errors:?}\n{}", reply.text);
}

/// One request of the contract check: method, documented path, URI, body,
/// headers.
type Case<'a> = (&'a str, &'a str, &'a str, Option<Vec<u8>>, &'a [(&'a str, &'a str)]);

#[tokio::test]
async fn every_answer_validates_against_its_documented_schema() {
    let topics = create_topics("api-openapi", 1).await;
    let redis = redis_database();
    let mut conn = redis_conn(&redis);
    let profile = r#"{"userId":"u1","tagScores":{"shoes":6},"topTags":["shoes"],"eventCounts":{"view":1,"add_to_cart":0,"purchase":1},"lastEventAt":1795647600000}"#;
    redis::cmd("HSET").arg("user-profiles").arg("u1").arg(profile).query::<()>(&mut conn).unwrap();
    for (id, tags) in [("p1", r#"["shoes","red"]"#), ("p2", r#"["hats"]"#)] {
        redis::cmd("SADD")
            .arg(model::keys::CATALOG_PRODUCTS)
            .arg(id)
            .query::<()>(&mut conn)
            .unwrap();
        redis::cmd("HSET")
            .arg(model::keys::product(id))
            .arg("name")
            .arg(format!("Product {id}"))
            .arg("price")
            .arg("9.5")
            .arg("tags")
            .arg(tags)
            .query::<()>(&mut conn)
            .unwrap();
    }
    let event = event("e1", "u1", "p1", "view", TS, &["shoes"]).to_string();
    redis::cmd("LPUSH").arg("events").arg(&event).query::<()>(&mut conn).unwrap();
    let mut cfg = config(&redis, Some(&topics));
    cfg.auth_token = Some("s3cret".into());
    let (_state, router) = app(cfg).await;
    let doc = document(&router).await;
    let valid = event.clone().into_bytes();
    let again = valid.clone();
    let bearer = [("authorization", "Bearer s3cret")];
    let cases: Vec<Case<'_>> = vec![
        ("post", "/api/user-behavior", "/api/user-behavior", Some(valid.clone()), &bearer),
        ("post", "/api/user-behavior", "/api/user-behavior", Some(b"[]".to_vec()), &bearer),
        ("post", "/api/user-behavior", "/api/user-behavior", Some(valid), &[]),
        ("get", "/api/user-behavior", "/api/user-behavior?limit=5", None, &[]),
        ("get", "/api/user-behavior", "/api/user-behavior?limit=0", None, &[]),
        ("get", "/api/user-profile/{userId}", "/api/user-profile/u1", None, &[]),
        ("get", "/api/user-profile/{userId}", "/api/user-profile/nobody", None, &[]),
        (
            "post",
            "/api/user-profiles",
            "/api/user-profiles",
            Some(br#"{"userIds":["u1","x"]}"#.to_vec()),
            &[],
        ),
        (
            "post",
            "/api/user-profiles",
            "/api/user-profiles",
            Some(br#"{"userIds":[]}"#.to_vec()),
            &[],
        ),
        ("get", "/api/recommendations/{userId}", "/api/recommendations/u1", None, &[]),
        ("get", "/api/recommendations/{userId}", "/api/recommendations/cold", None, &[]),
        ("get", "/api/recommendations/{userId}", "/api/recommendations/u1?limit=101", None, &[]),
        ("get", "/api/uv-data", "/api/uv-data", None, &[]),
        ("get", "/api/uv-data", "/api/uv-data?date=yesterday", None, &[]),
        ("get", "/api/uv-data/{productId}", "/api/uv-data/p1", None, &[]),
        (
            "get",
            "/api/uv-data/{productId}",
            "/api/uv-data/p1?from=2026-01-01&to=2025-01-01",
            None,
            &[],
        ),
        ("get", "/api/stats", "/api/stats", None, &[]),
        ("get", "/api/openapi.json", "/api/openapi.json", None, &[]),
        ("get", "/metrics", "/metrics", None, &[]),
        ("get", "/healthz", "/healthz", None, &[]),
        ("get", "/readyz", "/readyz", None, &[]),
        ("get", "/", "/", None, &[]),
        ("get", "/assets/dashboard.js", "/assets/dashboard.js", None, &[]),
        ("get", "/assets/dashboard.css", "/assets/dashboard.css", None, &[]),
    ];
    let mut statuses = std::collections::BTreeSet::new();
    for (method, path, uri, body, headers) in cases {
        let reply = call(&router, &method.to_uppercase(), uri, body, headers).await;
        check(&doc, method, path, &reply);
        statuses.insert(reply.status.as_u16());
    }
    assert_eq!(statuses.into_iter().collect::<Vec<_>>(), [200, 202, 400, 401]);
    // A 503 from a dependency down validates too.
    let mut cfg = config(&format!("redis://127.0.0.1:{}", closed_port()), None);
    cfg.brokers = format!("127.0.0.1:{}", closed_port());
    let (_state, down) = app(cfg).await;
    let reply = get(&down, "/api/user-profile/u1").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    check(&doc, "get", "/api/user-profile/{userId}", &reply);
    let reply = call(&down, "POST", "/api/user-behavior", Some(again), &[]).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    check(&doc, "post", "/api/user-behavior", &reply);
    // The job's health: unreachable (no job runs here), then read from a
    // stand-in serving the job's series.
    let reply = get(&down, "/api/job-health").await;
    assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "job_unreachable");
    check(&doc, "get", "/api/job-health", &reply);
    let stand_in = MetricsStandIn::start(JOB_METRICS).await;
    let mut cfg = config(&redis, None);
    cfg.dataflow_metrics = stand_in.url.clone();
    let (_state, with_job) = app(cfg).await;
    let reply = get(&with_job, "/api/job-health").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    check(&doc, "get", "/api/job-health", &reply);
}
