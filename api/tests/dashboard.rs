//! The dashboard in headless Chromium (Debian's `chromium`): served by the
//! real server on a free port over a seeded Redis database, it must render
//! a non-empty UV chart, the interest tags, and a user lookup with profile
//! and recommendations.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_renders_a_chart_and_a_user_lookup() {
    let browser = chromium();
    let redis = redis_database();
    seed(&redis);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = api::AppState::connect(config(&redis, None)).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let url = format!("http://{addr}/?user=u1");
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
    let dom = String::from_utf8_lossy(&output.stdout);
    let _ = stop.send(());
    server.await.unwrap().unwrap();

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
}
