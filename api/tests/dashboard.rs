//! The dashboard in headless Chromium (Debian's `chromium`): served by the
//! real server on a free port over a seeded Redis database, it must render
//! a non-empty UV chart, the interest tags, a user lookup with profile
//! and recommendations, and the job-health panel (the job unreachable, and
//! the figures of a stand-in for its `/metrics`).

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod common;

use std::process::Command;

use common::*;
use model::Product;
use serde_json::json;
use testkit::redis_database;

fn chromium() -> &'static str {
    for candidate in ["chromium", "chromium-browser"] {
        if Command::new(candidate).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return candidate;
        }
    }
    panic!("chromium is not installed: run `scripts/install-deps --browser` (scripts/test does)");
}

fn seed(redis: &str) {
    let mut conn = redis_conn(redis);
    let products: Vec<Product> = (0..6)
        .map(|i| Product {
            product_id: format!("p{i}"),
            name: format!("Trail shoe {i}"),
            price: 50.0 + f64::from(i),
            tags: vec!["shoes".into(), if i % 2 == 0 { "nike".into() } else { "adidas".into() }],
        })
        .collect();
    simulator::catalog::load_into_redis(&mut conn, &products).unwrap();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    for i in 0..6 {
        redis::cmd("HSET")
            .arg("hot:pageview_counts")
            .arg(format!("{today}:p{i}"))
            .arg(10 * (i + 1))
            .query::<()>(&mut conn)
            .unwrap();
    }
    let profile = json!({"userId": "u1", "tagScores": {"shoes": 9, "nike": 5}, "topTags": ["shoes", "nike"],
        "eventCounts": {"view": 4, "add_to_cart": 0, "purchase": 1}, "lastEventAt": 1_795_647_600_000_i64});
    redis::cmd("HSET")
        .arg("user-profiles")
        .arg("u1")
        .arg(profile.to_string())
        .query::<()>(&mut conn)
        .unwrap();
    redis::cmd("HSET")
        .arg("user:profile:u1")
        .arg(&["shoes", "9", "nike", "5"])
        .query::<()>(&mut conn)
        .unwrap();
    let e = event("e1", "u1", "p0", "view", 1_795_647_600_000, &["shoes", "nike"]);
    redis::cmd("RPUSH").arg("events").arg(e.to_string()).query::<()>(&mut conn).unwrap();
}

/// The page at `path` as headless Chromium renders it, served by the real
/// server over `state`.
async fn render(state: api::AppState, path: &str) -> String {
    let browser = chromium();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let url = format!("http://{addr}{path}");
    let profile_dir = tempfile::tempdir().unwrap();
    let user_data = format!("--user-data-dir={}", profile_dir.path().display());
    // coreutils `timeout` bounds the browser; the server keeps serving meanwhile.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args([
                "60",
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--lang=en-US",
            ])
            .arg(user_data)
            .args(["--virtual-time-budget=8000", "--dump-dom", &url])
            .output()
    })
    .await
    .unwrap()
    .expect("chromium ran");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    dom
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_a_chart_and_a_user_lookup() {
    let redis = redis_database();
    seed(&redis);
    // No job runs: its metrics are at a closed port.
    let state = api::AppState::connect(config(&redis, None)).await.unwrap();
    let dom = render(state, "/?user=u1").await;

    let bars = dom.matches("class=\"bar\"").count();
    assert_eq!(bars, 6, "UV chart bars in\n{dom}");
    assert!(dom.contains("Trail shoe 5"), "chart labels in\n{dom}");
    assert!(dom.contains("u1: view 4 · add_to_cart 0 · purchase 1"), "profile in\n{dom}");
    let rows = dom.matches("class=\"rec\"").count();
    assert_eq!(rows, 6, "recommendation rows in\n{dom}");
    assert!(dom.contains("shoes, nike"), "matched tags in\n{dom}");
    assert!(
        dom.contains("<li>shoes<span class=\"n\">1 users</span></li>"),
        "interest tags in\n{dom}"
    );
    assert!(dom.contains(">job unreachable<"), "job-health panel in\n{dom}");
}

const JOB_METRICS: &str = r#"# TYPE tagflow_consumer_lag gauge
tagflow_consumer_lag{topic="t-view-events",partition="0"} 1200
tagflow_consumer_lag{topic="t-view-events",partition="1"} 34
tagflow_consumer_lag{topic="t-purchase-events",partition="0"} 0
# TYPE tagflow_state_memory_bytes gauge
tagflow_state_memory_bytes{table="profiles"} 1536
# TYPE tagflow_checkpoint_size_bytes gauge
tagflow_checkpoint_size_bytes 3145728
# TYPE tagflow_checkpoint_last_completed_id gauge
tagflow_checkpoint_last_completed_id 7
"#;

/// The stand-in's text with `dead` dead letters and a checkpoint `age` seconds old.
fn job_metrics(dead: u32, age: f64) -> String {
    let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
    format!(
        "{JOB_METRICS}# TYPE tagflow_dead_lettered_total counter\n\
         tagflow_dead_lettered_total{{reason=\"invalid_json\"}} {dead}\n\
         # TYPE tagflow_checkpoint_last_completed_timestamp_seconds gauge\n\
         tagflow_checkpoint_last_completed_timestamp_seconds {}\n",
        now - age
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_health_panel_shows_the_jobs_figures() {
    let stand_in = MetricsStandIn::start(&job_metrics(3, 600.0)).await;
    let mut cfg = config(&redis_database(), None);
    cfg.dataflow_metrics = stand_in.url.clone();
    let state = api::AppState::connect(cfg).await.unwrap();
    // A first sample with 3 dead letters, then the job reports 12.
    let first = get(&api::app(state.clone()), "/api/job-health").await;
    assert_eq!(first.status, axum::http::StatusCode::OK, "{}", first.text);
    stand_in.set(&job_metrics(12, 600.0));

    let dom = render(state, "/").await;
    let panel = &dom[dom.find("id=\"job-card\"").unwrap()..];
    let panel = &panel[..panel.find("</section>").unwrap()];
    assert!(panel.contains(">running<"), "job status in\n{panel}");
    assert!(panel.contains("t-view-events: 1,234"), "lag in\n{panel}");
    assert!(panel.contains("t-purchase-events: 0"), "lag in\n{panel}");
    assert!(panel.contains("#7, 10 min ago"), "checkpoint in\n{panel}");
    assert!(panel.contains("9 in the last "), "dead letters in\n{panel}");
    assert!(panel.contains("(history &lt; 1 h)"), "dead letters in\n{panel}");
    assert!(panel.contains("3.0 MiB checkpointed · 1.5 KiB cached in memory"), "state in\n{panel}");
}
